"""Single-compartment conductance-based NeuroML2 cells -> the fields of an equation model.

``pointCellCondBased`` (capacitance C, channelPopulation children) and ``cell`` with a
one-segment morphology (specificCapacitance and channelDensity/channelPopulation over the
segment's surface, computed as NeuroML2's Cells.xml ``segment`` does: 2 pi r L for a cylinder of
the distal radius r, 4 pi r^2 for L = 0, pi as 3.14159265). Channels: ``ionChannelHH`` (and
``ionChannel``) with gates ``gateHHrates``, ``gateHHratesInf``, ``gateHHtauInf`` of the rate
forms below, and ``ionChannelPassive``. A gate relaxes as in Channels.xml's gateHHrates:
dq/dt = (inf - q)/tau, inf = alpha/(alpha + beta), tau = 1/(alpha + beta), q = inf at the start;
the channel's conductance is g * prod(q^instances); its current g fopen (erev - v).

The rate forms, each the DerivedVariable of its ComponentType in NeuroML2's Channels.xml:
HHExpRate r = rate exp((v - midpoint)/scale); HHSigmoidRate r = rate / (1 + exp(-(v -
midpoint)/scale)); HHExpLinearRate r = rate x / (1 - exp(-x)), x = (v - midpoint)/scale (written
rate / exprel(-x), finite at x = 0 as the Case x = 0 of the definition); the *Variable forms
(steady states) the same with a dimensionless rate.
"""

from __future__ import annotations

import math
import re

from neuroscape.models.neuroml.cells import (
    LEMS_DT,
    LEMS_NOTE,
    default_bounds,
    parameter_entry,
    quantity_text,
)
from neuroscape.models.neuroml.core_types import NeuroMLError, quantity_si
from neuroscape.models.neuroml.document import Document, attr_si, error, tag, where

COND_CELLS = ("pointCellCondBased", "cell")
RATE_FORMS = {
    "HHExpRate": "{rate} * exp(({v} - {mid}) / {scale})",
    "HHSigmoidRate": "{rate} / (1 + exp(-({v} - {mid}) / {scale}))",
    "HHExpLinearRate": "{rate} / exprel(-({v} - {mid}) / {scale})",
}
VARIABLE_FORMS = {
    "HHExpVariable": RATE_FORMS["HHExpRate"],
    "HHSigmoidVariable": RATE_FORMS["HHSigmoidRate"],
    "HHExpLinearVariable": RATE_FORMS["HHExpLinearRate"],
}
GATES = ("gateHHrates", "gateHHratesInf", "gateHHtauInf")
# jLEMS's view of V inside a gate's rates (see conductance_cell_fields): V of two steps before
V_LAGGED = ("v_jlems_1", "v_jlems_2")
PI = 3.14159265  # NeuroML2's Cells.xml segment surfaceArea


def _kids(el, *names) -> list:
    return [c for c in el if tag(c) in names]


def _ident(text: str) -> str:
    return re.sub(r"\W", "_", text)


class _Builder:
    def __init__(self, cell, origin: str, lems: bool = False) -> None:
        self.lems = lems
        self.cell = cell
        self.origin = origin
        self.params: dict[str, dict] = {}
        self.values: dict[str, float] = {}
        self.eqs: list[str] = []
        self.states: list[str] = []
        self.initial: dict[str, str] = {}
        self.currents: list[str] = []

    def param(self, el, attr: str, dim: str, name: str) -> str:
        name = _ident(name)
        if name in self.params:
            raise error(el, f"two parameters named {name}")
        self.params[name], self.values[name], _ = parameter_entry(
            el, attr, dim, self.origin, factor_box=attr == "scale")
        return name

    def derived_param(self, name: str, value: float, unit: str, dim: str, what: str) -> str:
        lo, hi, hard = default_bounds(value, dim)
        self.params[name] = {"default": quantity_text(value, unit), "low": quantity_text(lo, unit),
                             "high": quantity_text(hi, unit), "description": what}  # fmt: skip
        if hard is not None:
            self.params[name]["hard_low"] = quantity_text(hard, unit)
        self.values[name] = value
        return name

    def rate(self, el, prefix: str, forms: dict) -> str:
        """A rate (or steady-state) child element -> its expression template in {v}."""
        kind = el.get("type")
        if kind not in forms:
            raise error(el, f"rate type {kind!r} cannot be mapped; allowed: {', '.join(forms)}")
        rdim = "per_time" if forms is RATE_FORMS else "none"
        r = self.constant(el, "rate", rdim)
        m = self.constant(el, "midpoint", "voltage")
        s = self.constant(el, "scale", "voltage")
        return forms[kind].format(rate=r, mid=m, scale=s, v="{v}")

    def constant(self, el, attr: str, dim: str) -> str:
        """A gate's kinetic constant, written into the equations as a quantity: the declared
        parameters are the capacitance, conductances and reversal potentials (a kernel's
        arguments stay few; every rate constant of a model as a parameter overflows numba's
        inlined calls)."""
        from neuroscape.models.neuroml.cells import si_to_display

        v, unit = si_to_display(attr_si(el, attr, dim), dim)
        return f"({v!r}*{unit})" if unit != "1" else f"({v!r})"

    def channel(self, chan, pop_id: str, g_name: str, e_name: str, doc_where: str) -> None:
        ctype = tag(chan)
        if ctype in ("ionChannel", "ionChannelHH") and chan.get("type") == "ionChannelPassive":
            ctype = "ionChannelPassive"
        if ctype in ("ionChannelKS",) or _kids(chan, "gateKS"):
            raise error(chan, "a KineticScheme channel cannot be mapped; allowed: ionChannelHH "
                        f"with {', '.join(GATES)} gates, ionChannelPassive")
        if ctype not in ("ionChannel", "ionChannelHH", "ionChannelPassive"):
            raise error(chan, f"channel type {ctype!r} cannot be mapped; allowed: ionChannelHH, "
                        "ionChannel, ionChannelPassive")
        factors = []
        for gate in chan:
            gt = tag(gate)
            if gt in ("notes", "annotation"):
                continue
            if gt == "gate" and gate.get("type") in GATES:
                gt = gate.get("type")
            if gt not in GATES:
                raise error(gate, f"gate type {gt!r} cannot be mapped; allowed: {', '.join(GATES)}")
            if ctype == "ionChannelPassive":
                raise error(gate, "a passive channel has no gates")
            for sub in gate:
                if tag(sub) == "q10Settings":
                    raise error(sub, "q10Settings (temperature scaling) cannot be mapped yet")
            q = _ident(f"{pop_id}_{gate.get('id')}")
            kids = {tag(c): c for c in gate}
            need = {"gateHHrates": ("forwardRate", "reverseRate"),
                    "gateHHratesInf": ("forwardRate", "reverseRate", "steadyState"),
                    "gateHHtauInf": ("timeCourse", "steadyState")}[gt]  # fmt: skip
            for k in need:
                if k not in kids:
                    raise error(gate, f"{gt} needs a <{k}>")
            if gt == "gateHHtauInf":
                raise error(kids["timeCourse"], "timeCourse (gateHHtauInf) cannot be mapped yet; "
                            "allowed gates: gateHHrates, gateHHratesInf")
            a = self.rate(kids["forwardRate"], f"{q}_fwd", RATE_FORMS)
            b = self.rate(kids["reverseRate"], f"{q}_rev", RATE_FORMS)
            inf = f"{q}_alpha / ({q}_alpha + {q}_beta)"
            if gt == "gateHHratesInf":
                inf = self.rate(kids["steadyState"], f"{q}_inf", VARIABLE_FORMS)
            # jLEMS (a LEMS Simulation): the rates read V two steps old (module docstring)
            vv = V_LAGGED[-1] if self.lems else "v"
            self.eqs += [f"{q}_alpha = {a.format(v=vv)} : 1/ms",
                         f"{q}_beta = {b.format(v=vv)} : 1/ms",
                         f"{q}_inf = {inf.format(v=vv)} : 1",
                         f"{q}_tau = 1 / ({q}_alpha + {q}_beta) : ms"]  # fmt: skip
            self.states.append((q, f"d{q}/dt = ({q}_inf - {q}) / {q}_tau : 1"))
            # q = inf at the initial potential (OnStart of gateHHrates)
            a0 = a.format(v="V0")
            b0 = b.format(v="V0")
            self.initial[q] = (inf.format(v="V0") if gt == "gateHHratesInf"
                               else f"({a0}) / (({a0}) + ({b0}))")  # fmt: skip
            n = int(gate.get("instances", "1"))
            factors.append(f"{q}**{n}" if n != 1 else q)
        fopen = " * ".join(factors) or "1"
        self.currents.append(f"{g_name} * {fopen} * ({e_name} - v)")


def conductance_cell_fields(el, doc: Document, *, lems_semantics: bool = False,
                            bias: bool = False) -> dict:
    """The ``equation_model`` fields of a ``pointCellCondBased`` or one-segment ``cell``."""
    ctype = tag(el)
    origin = f"{ctype} {el.get('id')} ({where(el)})"
    b = _Builder(el, origin, lems_semantics)
    if ctype == "pointCellCondBased":
        c_name = b.param(el, "C", "capacitance", "C")
        v0 = b.param(el, "v0", "voltage", "V0")
        try:
            thresh = quantity_si(el.get("thresh"))[0] * 1e3
        except (TypeError, ValueError):
            raise error(el, f"thresh={el.get('thresh')!r}; allowed: a voltage like '0mV'") from None
        pops = [(p, None) for p in _kids(el, "channelPopulation")]
        for c in el:
            if tag(c) not in ("channelPopulation", "notes", "annotation", "property"):
                raise error(c, f"<{tag(c)}> in a pointCellCondBased cannot be mapped")
    elif ctype == "cell":
        area = _one_segment_area(el, doc)
        bio = _part(el, doc, "biophysicalProperties")
        mem = _kids(bio, "membraneProperties")
        if len(mem) != 1:
            raise error(bio, "needs one <membraneProperties>")
        mem = mem[0]
        for ip in _kids(bio, "intracellularProperties"):
            for c in ip:
                if tag(c) != "resistivity":
                    raise error(c, f"<{tag(c)}> (ion concentrations) cannot be mapped yet")
        values = {}
        pops = []
        for c in mem:
            t = tag(c)
            if t in ("specificCapacitance", "initMembPotential", "spikeThresh"):
                if c.get("segmentGroup", "all") != "all" and c.get("segment") is None:
                    pass
                values[t] = c
            elif t == "channelDensity":
                pops.append((c, area))
            elif t == "channelPopulation":
                pops.append((c, None))
            else:
                raise error(c, f"<{t}> cannot be mapped; allowed: channelDensity, "
                            "channelPopulation, specificCapacitance, initMembPotential, "
                            "spikeThresh")
        for k in ("specificCapacitance", "initMembPotential", "spikeThresh"):
            if k not in values:
                raise error(mem, f"needs <{k}>")
        cm, _ = quantity_si(values["specificCapacitance"].get("value"))
        c_name = b.derived_param("C", cm * area * 1e12, "pF", "capacitance",
                                 f"membrane capacitance (specificCapacitance x area {area:.6g} m2) "
                                 f"of {origin}")
        v0 = b.derived_param("V0", quantity_si(values["initMembPotential"].get("value"))[0] * 1e3,
                             "mV", "voltage", f"initial potential of {origin}")
        thresh = quantity_si(values["spikeThresh"].get("value"))[0] * 1e3
    else:
        raise error(el, f"not a conductance-based cell; allowed: {', '.join(COND_CELLS)}")
    for pop, area in pops:
        pid = _ident(pop.get("id"))
        chan = doc.component(pop.get("ionChannel"), pop)
        cond = chan.get("conductance")
        if area is None:  # channelPopulation: number x the channel's conductance
            try:
                number = float(pop.get("number"))
                g1 = quantity_si(cond)[0] if cond is not None else None
            except (TypeError, ValueError):
                raise error(pop, "needs number= and a channel with conductance=") from None
            if g1 is None:
                raise error(chan, "needs conductance= for a channelPopulation")
            g = number * g1
        else:
            g = quantity_si(pop.get("condDensity"))[0] * area
        g_name = b.derived_param(f"g_{pid}", g * 1e9, "nS", "conductance",
                                 f"conductance of {pop.get('id')} in {origin}")
        e_name = b.param(pop, "erev", "voltage", f"E_{pid}")
        b.channel(chan, pid, g_name, e_name, origin)
    cur = "iSyn"
    drive = f"({cur} + I_bias)" if bias else cur
    i_ch = " + ".join(b.currents) or "0 * v / Mohm"
    lines = [f"dv/dt = (I_channels + {drive}) / {c_name} : mV"]
    lines += [s[1] for s in b.states]
    lines.append(f"I_channels = {i_ch} : pA")
    lines += b.eqs
    params = dict(b.params)
    if bias:
        params["I_bias"] = {"default": "0.0 pA", "low": "-1.0 pA", "high": "1.0 pA",
                            "description": "constant current added to the stimulus"}  # fmt: skip
    if lems_semantics and b.states:
        # jLEMS advances a component's children before its own rates and copies a required
        # variable (v) from the parent when the component evaluates, after its children have
        # advanced (StateInstance.advance, StateType.eulerAdvance/evalDerived): the rate
        # components of a gate, two levels below the cell's channelPopulation, read V of two
        # steps before (measured against jNeuroML on Ex1: the V rows agree to 1e-5 mV until
        # the pulse; lags 1 and 3 do not). Two exact one-step delays reproduce it:
        # x_{k+1} = x_k + dt (u_k - x_k)/dt = u_k.
        src = "v"
        for lag in V_LAGGED:
            lines.append(f"d{lag}/dt = ({src} - {lag}) / {LEMS_DT} : mV")
            src = lag
        params[LEMS_DT] = {"default": "0.01 ms", "low": "0.0001 ms", "high": "1.0 ms",
                           "hard_low": "0 ms", "description": "the LEMS Simulation's step "
                           "(jLEMS's delayed view of V in the gates' rates)"}  # fmt: skip
    initial = {"v": v0, **b.initial}
    if lems_semantics and b.states:
        initial.update({lag: v0 for lag in V_LAGGED})
    fields = {
        "name": re.sub(r"\W", "_", el.get("id")),
        "description": f"NeuroML2 {ctype} {el.get('id')!r} from {where(el)} (Hodgkin-Huxley "
                       "gates as NeuroML2's Channels.xml defines them)",
        "equations": "\n".join(lines),
        "current": {"name": cur, "unit": "pA"},
        "initial": initial,
        "parameters": params,
        "spike_level": f"{thresh!r} mV",
    }  # fmt: skip
    if lems_semantics:
        fields["settings"] = {"integrator": "euler", "note": LEMS_NOTE}
    return fields


def _part(cell, doc: Document, name: str):
    """A cell's inline <name> child, or the element its attribute name= refers to."""
    kids = _kids(cell, name)
    if kids:
        return kids[0]
    ref = cell.get(name)
    if ref is None:
        raise error(cell, f"has no <{name}>")
    return doc.component(ref, cell)


def _one_segment_area(cell, doc: Document) -> float:
    """The surface (m2) of a one-segment morphology; more segments are refused."""
    morph = _part(cell, doc, "morphology")
    segs = _kids(morph, "segment")
    if len(segs) != 1:
        raise error(morph, f"a multi-compartment morphology ({len(segs)} segments) cannot be "
                    "mapped into an equation model (a LEMS Simulation runs single-compartment "
                    "cells); allowed: one segment, or FILE.nml:CELL_ID, which imports it as a "
                    "multi-compartment cell")
    seg = segs[0]
    prox = _kids(seg, "proximal")
    dist = _kids(seg, "distal")
    if not prox or not dist:
        raise error(seg, "needs <proximal> and <distal> points")
    p, d = prox[0], dist[0]
    try:
        xyz = [[float(pt.get(k)) for k in ("x", "y", "z")] for pt in (p, d)]
        r = float(d.get("diameter")) / 2.0
    except (TypeError, ValueError):
        raise error(seg, "points need numeric x, y, z and diameter (um)") from None
    length = math.dist(*xyz)
    um2 = 4 * r * r * PI if length == 0 else 2 * r * PI * length
    if um2 <= 0:
        raise NeuroMLError(f"{where(seg)}: <segment>: surface area 0; allowed: a diameter > 0")
    return um2 * 1e-12
