"""NeuroML2 abstract cells -> the fields of an equation model (``equation_model(**fields)``).

The equations are not written by hand per cell: they are translated from the Dynamics of the
cell's core ComponentType (Cells.xml of NeuroML2, read from jNeuroML's copy): TimeDerivative ->
``dx/dt = ... : unit``, DerivedVariable -> a sub-expression, the DerivedVariable that sums
``synapses[*]/i`` (or ``/I``) -> the model's current (the stimulus), OnStart -> initial, the
OnCondition that emits ``spike`` -> threshold and reset. The refractory pattern of
iafTauRefCell, iafRefCell and adExIaFCell (Regime ``refractory`` whose OnEntry resets and whose
only exit is ``t > lastSpikeTime + X``; the states without a TimeDerivative there are held) ->
``refractory: X`` and ``(unless refractory)`` on V. Anything else in a Dynamics is refused by
name. Parameters are SI in NeuroML; each is declared in a physiological unit (mV, ms, pF, nS,
pA...) with the default bounds of ``default_bounds``.
"""

from __future__ import annotations

import re

from neuroscape.models.neuroml.core_types import NeuroMLError, type_info
from neuroscape.models.neuroml.document import attr_si, describe, error, tag, where

# the unit each NeuroML dimension is declared in (numbers in the equations' own units)
DISPLAY_UNITS = {
    "voltage": "mV", "time": "ms", "capacitance": "pF", "conductance": "nS",
    "current": "pA", "per_time": "1/ms", "none": "1", "conductance_per_voltage": "nS/mV",
    "per_voltage": "1/mV", "length": "um", "area": "um**2",
}  # fmt: skip
# the abstract cells translated from their Dynamics (the conductance-based ones: conductance.py)
# PyNN's standard current-based cells (NeuroML2 PyNN.xml) too: their parameters are plain
# numbers in PyNN's units (mV, ms, nF, nA); the refractory exit 't .gt. lastSpikeTime +
# (tau_refrac*MSEC)' makes tau_refrac a time in ms
ABSTRACT_CELLS = ("iafCell", "iafRefCell", "iafTauCell", "iafTauRefCell", "izhikevichCell",
                  "izhikevich2007Cell", "adExIaFCell", "fitzHughNagumoCell", "IF_curr_exp",
                  "IF_curr_alpha")  # fmt: skip
LEMS_NOTE = ("jLEMS's semantics (jNeuroML): forward Euler at the simulation's step, then the "
             "spike conditions, spikes and resets on the step grid")
# the stimulus of cells with no synaptic attachment (in the first state's unit per ms)
DRIVE = "I_drive"
LEMS_DT = "lems_dt"  # the step, as a parameter, where jLEMS's order needs it
_OPS = ((".gt.", ">"), (".lt.", "<"), (".geq.", ">="), (".leq.", "<="), (".eq.", "=="),
        (".neq.", "!="), (".and.", " and "), (".or.", " or "))  # fmt: skip
_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")


def si_to_display(value_si: float, dimension: str) -> tuple[float, str]:
    """(the number in the dimension's display unit, that unit)."""
    from neuroscape.models.equations.expressions import parse_unit

    unit = DISPLAY_UNITS.get(dimension)
    if unit is None:
        raise ValueError(f"dimension {dimension!r} has no neuroscape unit; allowed: "
                         f"{', '.join(DISPLAY_UNITS)}")
    return float(value_si / float(parse_unit(unit).factor)), unit


# strictly positive quantities whatever their dimension, by the core type (or a type it extends)
# that has them: times and capacitances are positive by their dimension; these are the slope
# factors, conductances, rates and PyNN's plain-number time constants and capacitances that
# the cells' equations need positive (a negative one is not the cell the paper describes)
POSITIVE_DIMENSIONS = ("time", "capacitance")
POSITIVE_PARAMETERS = {
    "iafCell": ("leakConductance",),
    # Brette & Gerstner (2005): the slope factor Delta_T in exp((V - V_T) / Delta_T); the
    # adaptation coupling a may be negative (Naud et al. 2008), so it is not here
    "adExIaFCell": ("gL", "delT"),
    # Izhikevich (2007): k (nS/mV) and the recovery rate a; b may be negative
    "izhikevich2007Cell": ("k", "a"),
    "izhikevichCell": ("a",),  # Izhikevich (2003): the time scale of the recovery variable
    "basePyNNCell": ("cm", "tau_syn_E", "tau_syn_I", "tau_refrac"),
    "basePyNNIaFCell": ("tau_m",),
    "baseConductanceBasedSynapse": ("gbase",),
    "basePynnSynapse": ("tau_syn",),
}  # fmt: skip


def is_positive(ctype: str, pname: str, dimension: str) -> bool:
    """Whether parameter ``pname`` of core type ``ctype`` is a strictly positive quantity."""
    if dimension in POSITIVE_DIMENSIONS:
        return True
    try:
        chain = type_info(ctype).chain
    except NeuroMLError:  # not a core type (a gate's rate element): by its dimension only
        return False
    return any(pname in POSITIVE_PARAMETERS.get(t, ()) for t in chain)


def default_bounds(value: float, dimension: str,
                   positive: bool = False) -> tuple[float, float, float | None]:
    """The default box around a file's value (in its display unit): a strictly positive
    quantity (``positive``, or a time or a capacitance) a factor of 2 either way (x/2 to 2x)
    whatever its unit, never below 0 (a zero value 0 to 1); other voltages +-20 mV (0 too);
    other quantities x/2 to 2x (for a negative x 2x to x/2), a zero value -1 to 1. Returns (low,
    high, hard_low): 0 for the strictly positive quantities, else None."""
    positive = positive or dimension in POSITIVE_DIMENSIONS
    hard = 0.0 if positive else None
    if dimension == "voltage" and not positive:
        return value - 20.0, value + 20.0, hard
    if value == 0:
        return (0.0 if positive else -1.0), 1.0, hard
    lo, hi = sorted((value / 2.0, value * 2.0))
    return lo, hi, hard


def quantity_text(value: float, unit: str) -> str | float:
    return float(value) if unit == "1" else f"{float(value)!r} {unit}"


def lems_to_brian(text: str, rename: dict[str, str]) -> str:
    """A LEMS expression in Brian2 syntax: .gt. -> >, ^ -> **, names through ``rename``."""
    s = str(text)
    for a, b in _OPS:
        s = s.replace(a, f" {b} ")
    s = s.replace("^", "**")
    return _NAME.sub(lambda m: rename.get(m.group(1), m.group(1)), s).strip()


def names_in(text: str) -> set[str]:
    return set(_NAME.findall(text))


def parameter_entry(el, pname: str, dimension: str, doc_where: str,
                    factor_box: bool = False) -> tuple[dict, float, str]:
    """The declared parameter of attribute ``pname`` of element ``el`` (SI value converted to
    the display unit), with the default box (factor_box: a factor of 2 even for a voltage, for
    the scale of a rate, which must not cross 0; a strictly positive quantity, ``is_positive``:
    a factor of 2 and never below 0). A negative value of a strictly positive quantity is
    refused in one line."""
    si = attr_si(el, pname, dimension)
    value, unit = si_to_display(si, dimension)
    positive = not factor_box and is_positive(tag(el), pname, dimension)
    if positive and value < 0:
        raise error(el, f"{pname}={el.get(pname)!r} is negative; allowed: > 0 (a strictly "
                    "positive quantity)")
    lo, hi, hard = default_bounds(value, "scale" if factor_box else dimension, positive)
    entry = {"default": quantity_text(value, unit), "low": quantity_text(lo, unit),
             "high": quantity_text(hi, unit), "description": f"{pname} of {doc_where}"}  # fmt: skip
    if hard is not None:
        entry["hard_low"] = quantity_text(hard, unit)
    return entry, value, unit


def _children(el, name: str) -> list:
    return [c for c in el if tag(c) == name]


def abstract_cell_fields(el, *, lems_semantics: bool = False, bias: bool = False) -> dict:
    """The ``equation_model`` fields of an abstract NeuroML2 cell element (one of
    ``ABSTRACT_CELLS``). lems_semantics: spikes and resets on the step grid (jLEMS's order: a
    forward Euler step, then the conditions), the model a LEMS simulation runs; else
    neuroscape's defaults (crossings interpolated inside the step). bias: a constant current
    ``I_bias`` (parameter, default 0) added to the stimulus (a ramp's baseline)."""
    ctype = tag(el)
    if ctype not in ABSTRACT_CELLS:
        raise error(el, f"not an abstract cell; allowed: {', '.join(ABSTRACT_CELLS)}")
    info = type_info(ctype)
    dyn = info.dynamics
    origin = f"{ctype} {el.get('id')} ({where(el)})"
    cells_xml = f"NeuroML2 Cells.xml ComponentType {ctype}"

    def refuse(msg: str) -> NeuroMLError:
        return error(el, f"cannot map {ctype}'s Dynamics ({cells_xml}): {msg}")

    # --- the Dynamics' parts ----------------------------------------------------------------
    state_dims = {s.get("name"): s.get("dimension") for s in _children(dyn, "StateVariable")}
    derived = {}
    current_name = None
    current_dim = None
    for d in _children(dyn, "DerivedVariable"):
        if d.get("select") is not None:
            if re.fullmatch(r"synapses\[\*\]/[iI]", d.get("select")) and d.get("reduce") == "add":
                current_name, current_dim = d.get("name"), d.get("dimension")
                continue
            raise refuse(f"DerivedVariable {d.get('name')} selects {d.get('select')!r}")
        derived[d.get("name")] = (d.get("value"), d.get("dimension"))
    for bad in ("ConditionalDerivedVariable", "KineticScheme", "OnEvent"):
        if _children(dyn, bad):
            raise refuse(f"<{bad}> is not supported")
    regimes = _children(dyn, "Regime")
    tds = {t.get("variable"): t.get("value") for t in _children(dyn, "TimeDerivative")}
    conds = _children(dyn, "OnCondition")
    refractory = None
    refractory_ms = None  # (a dimensionless parameter, ms per unit of it): PyNN's tau_refrac
    held: set[str] = set()
    entry_assign: list[tuple[str, str]] = []
    if regimes:
        init = [r for r in regimes if r.get("initial") == "true"]
        if len(regimes) != 2 or len(init) != 1:
            raise refuse("regimes other than one initial 'integrating' and one 'refractory'")
        integ = init[0]
        refr = next(r for r in regimes if r is not integ)
        tds.update({t.get("variable"): t.get("value") for t in _children(integ, "TimeDerivative")})
        conds = conds + _children(integ, "OnCondition")
        r_tds = {t.get("variable"): t.get("value") for t in _children(refr, "TimeDerivative")}
        for x, v in r_tds.items():
            if tds.get(x) != v:
                raise refuse(f"d{x}/dt differs between regimes {integ.get('name')} and "
                             f"{refr.get('name')}")
        held = set(tds) - set(r_tds)
        for oe in _children(refr, "OnEntry"):
            for a in _children(oe, "StateAssignment"):
                if a.get("variable") == "lastSpikeTime" and a.get("value").strip() == "t":
                    continue
                entry_assign.append((a.get("variable"), a.get("value")))
        exits = _children(refr, "OnCondition")
        m = (re.fullmatch(r"\s*t\s*\.gt\.\s*lastSpikeTime\s*\+\s*(?:(\w+)|\(\s*(\w+)\s*\*\s*(\w+)"
                          r"\s*\))\s*", exits[0].get("test"))
             if len(exits) == 1 else None)  # fmt: skip
        if m is not None and m.group(2) is not None:  # (P*C): a number P times a time constant C
            const = info.constants.get(m.group(3))
            if const is None or const[1] != "time" or info.parameters.get(m.group(2)) != "none":
                m = None
            else:
                refractory_ms = (m.group(2), const[0] * 1e3)
        if m is None:
            raise refuse(f"regime {refr.get('name')} ends otherwise than 't .gt. lastSpikeTime "
                         "+ PARAMETER'")
        refractory = m.group(1) or m.group(2)
    states = [x for x in state_dims if x in tds]
    for x in state_dims:
        if x not in tds and x != "lastSpikeTime":
            raise refuse(f"state variable {x} has no TimeDerivative")
    first = next((x for x in states if x.lower() == "v"), states[0])
    states.remove(first)
    states.insert(0, first)
    if held - {first}:
        raise refuse(f"the refractory regime holds {', '.join(sorted(held - {first}))}")

    # --- the spike condition ----------------------------------------------------------------
    threshold = None
    reset_assign: list[tuple[str, str]] = []
    for c in conds:
        emits = [e for e in _children(c, "EventOut") if e.get("port") == "spike"]
        if not emits:
            raise refuse(f"OnCondition {c.get('test')!r} emits no spike")
        if threshold is not None:
            raise refuse("more than one spike condition")
        # 'v .gt. thresh', or PyNN's 'v .gt. v_thresh * MVOLT' (a parameter times a constant)
        m = re.fullmatch(rf"\s*{first}\s*\.gt\.\s*(\w+(?:\s*\*\s*\w+)?)\s*", c.get("test"))
        if m is None:
            raise refuse(f"spike condition {c.get('test')!r}; allowed: '{first} .gt. PARAMETER'")
        threshold = m.group(1)  # written with the constants' values below
        reset_assign += [(a.get("variable"), a.get("value"))
                         for a in _children(c, "StateAssignment")]  # fmt: skip
        if _children(c, "Transition"):
            if refractory is None:
                raise refuse("a transition without the refractory pattern")
            reset_assign += entry_assign
    if refractory is not None and threshold is None:
        raise refuse("a refractory regime without a spike condition")

    # --- names, units, text -----------------------------------------------------------------
    rename: dict[str, str] = {}
    for cname, (si, dim) in info.constants.items():
        val, unit = si_to_display(si, dim)
        rename[cname] = f"({val!r}*{unit})" if unit != "1" else repr(val)
    unit_of = {}
    for x in states:
        unit_of[x] = DISPLAY_UNITS[state_dims[x]]
    cur = current_name or DRIVE
    if current_name is not None:
        cur_unit = DISPLAY_UNITS[current_dim]
    else:  # no synaptic attachment: a drive in the first state's unit per ms
        cur_unit = f"{unit_of[first]}/ms" if unit_of[first] != "1" else "1/ms"
    texts = []
    eq_lines = []
    rhs_of = {}
    for x in states:
        rhs = lems_to_brian(tds[x], rename)
        if x == first and current_name is None:
            rhs = f"({rhs}) + {DRIVE}"
        rhs_of[x] = rhs
    if lems_semantics and regimes:
        # jLEMS updates the rates of a regime one after the other, in the order of their
        # TimeDerivatives (ComponentRegime.advance): a later one reads the earlier states
        # already advanced by their Euler step. Reproduced with the step as a parameter
        # (LEMS_DT, the Simulation's step): x_i -> x_i + LEMS_DT * dx_i/dt in later rates.
        order = [t.get("variable") for t in _children(integ, "TimeDerivative")]
        done: list[str] = []
        for x in order:
            for y in done:
                rhs_of[x] = re.sub(rf"(?<![\w.]){y}(?!\w)",
                                   f"({y} + {LEMS_DT} * d_{y})", rhs_of[x])
            done.append(x)
        for y in order[:-1]:
            derived[f"d_{y}"] = (None, None)
    for x in states:
        rhs = rhs_of[x]
        flag = " (unless refractory)" if x in held else ""
        eq_lines.append(f"d{x}/dt = {rhs} : {unit_of[x]}{flag}")
    for name, (value, dim) in derived.items():
        if value is None:  # d_x: the rate of state x (jLEMS's sequential update, above)
            x = name[2:]
            eq_lines.append(f"{name} = {rhs_of[x]} : {unit_of[x]}/ms" if unit_of[x] != "1"
                            else f"{name} = {rhs_of[x]} : 1/ms")
            continue
        eq_lines.append(f"{name} = {lems_to_brian(value, rename)} : {DISPLAY_UNITS[dim]}")
    equations = "\n".join(eq_lines)
    if bias:
        equations = re.sub(rf"(?<![\w.]){cur}(?!\w)", f"({cur} + I_bias)", equations)
    texts.append(equations)
    initial = {}
    for os_ in _children(dyn, "OnStart"):
        for a in _children(os_, "StateAssignment"):
            x = a.get("variable")
            if x not in unit_of:
                raise refuse(f"OnStart assigns {x}, not an integrated state")
            v = a.get("value").strip()
            try:
                num = float(v)
                initial[x] = quantity_text(num, unit_of[x])
            except ValueError:
                initial[x] = lems_to_brian(v, rename)
                texts.append(initial[x])
    for x in states:
        if x not in initial:  # LEMS starts a state without an OnStart value at 0
            initial[x] = quantity_text(0.0, unit_of[x])
    reset_lines = []
    for x, v in reset_assign:
        if x not in unit_of:
            raise refuse(f"the spike condition assigns {x}, not an integrated state")
        reset_lines.append(f"{x} = {lems_to_brian(v, rename)}")
    texts += reset_lines
    if threshold:
        threshold = f"{first} > {lems_to_brian(threshold, rename)}"
        texts.append(threshold)
    if refractory is not None:
        texts.append(refractory)
    used = set().union(*(names_in(t) for t in texts))
    params: dict[str, dict] = {}
    values: dict[str, float] = {}
    for pname, dim in info.parameters.items():
        if pname in used:
            params[pname], values[pname], _ = parameter_entry(el, pname, dim, origin)
    if refractory_ms is not None:  # a number times 1 ms: declared as a time in ms
        pname, ms = refractory_ms
        if any(pname in names_in(t) for t in texts if t != refractory):
            raise refuse(f"{pname} is used beside the refractory period")
        value = attr_si(el, pname, "none") * ms
        lo, hi, hard = default_bounds(value, "time")
        params[pname] = {"default": quantity_text(value, "ms"), "low": quantity_text(lo, "ms"),
                         "high": quantity_text(hi, "ms"), "hard_low": quantity_text(hard, "ms"),
                         "description": f"{pname} of {origin} (ms)"}  # fmt: skip
    for attr in el.attrib:
        if attr not in info.parameters and attr not in ("id", "metaid", "neuroLexId"):
            raise error(el, f"unknown attribute {attr!r}; {ctype} has "
                        f"{', '.join(info.parameters)}")
    if LEMS_DT in used:
        params[LEMS_DT] = {"default": "0.01 ms", "low": "0.0001 ms", "high": "1.0 ms",
                           "hard_low": "0 ms", "description": "the LEMS Simulation's step "
                           "(jLEMS's sequential update within a regime)"}  # fmt: skip
    if bias:
        params["I_bias"] = {"default": quantity_text(0.0, cur_unit),
                            "low": quantity_text(-1.0, cur_unit),
                            "high": quantity_text(1.0, cur_unit),
                            "description": "constant current added to the stimulus"}  # fmt: skip
    fields = {
        "name": _model_name(el),
        "description": f"NeuroML2 {ctype} {el.get('id')!r} from {where(el)} (equations from "
                       f"{cells_xml})",
        "equations": equations,
        "current": {"name": cur, "unit": cur_unit},
        "initial": initial,
        "parameters": params,
    }  # fmt: skip
    if threshold:
        fields["threshold"] = threshold
        fields["reset"] = "\n".join(reset_lines)
        if refractory is not None:
            fields["refractory"] = refractory
        if lems_semantics:
            fields["spike_timing"] = "grid"
    else:
        # no spike condition in NeuroML (fitzHughNagumoCell): spikes are upward crossings of 0
        fields["spike_level"] = quantity_text(0.0, unit_of[first])
    if lems_semantics:
        fields["settings"] = {"integrator": "euler", "note": LEMS_NOTE}
    return fields


def _model_name(el) -> str:
    name = re.sub(r"\W", "_", el.get("id") or tag(el))
    return name if name.isidentifier() else f"nml_{name}"


__all__ = ["ABSTRACT_CELLS", "DISPLAY_UNITS", "POSITIVE_PARAMETERS", "abstract_cell_fields",
           "default_bounds", "describe", "is_positive", "lems_to_brian", "parameter_entry",
           "si_to_display"]  # fmt: skip
