"""Single-cell equation models -> NeuroML2 documents (libNeuroML objects) and a LEMS simulation.

Which NeuroML2 element a model becomes is read from its equations, never from its name: each
form below is recognised structurally from the model's right-hand sides (its quantities
identified by derivatives and the exp/exprel terms, then the rebuilt NeuroML equations checked
against the model's at many points, in SI units):

- ``adExIaFCell`` (Brette and Gerstner 2005): C dv/dt = -gL (v - EL) + gL delT exp((v - VT)/delT)
  - w + I, tauw dw/dt = a (v - EL) - w; at v > thresh: v = reset, w += b; refract;
- ``izhikevich2007Cell`` (Izhikevich 2007): C dv/dt = k (v - vr)(v - vt) - u + I,
  du/dt = a (b (v - vr) - u); at v >= vpeak: v = c, u += d;
- a ``cell`` of one segment with ``ionChannelHH`` channels (Hodgkin and Huxley 1952):
  C dV/dt = I - sum g prod(q^n)(V - E) with densities per area, every gate
  dq/dt = alpha(V)(1 - q) - beta(V) q of the forms HHExpRate, HHSigmoidRate, HHExpLinearRate
  (a temperature factor is folded into the rates at the parameters' values), a term with no
  gate a passive channel.

Anything else is refused (ExportError, one line). Building the objects is here; writing the
files is the CLI's (``neuroscape.cli.export_cmds``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy

from neuroscape.models.neuroml.core_types import NeuroMLError

__all__ = ["ExportError", "NeuroMLExport", "export_cell", "FORMS"]

FORMS = ("adExIaFCell", "izhikevich2007Cell", "cell (one segment, ionChannelHH)")
PI = 3.14159265  # NeuroML2's Cells.xml segment surfaceArea uses this pi
# one-segment cell: a cylinder with L = diameter, surface pi d^2 = 1000 um^2 (as NEURON's
# 1000 um2 HH examples); only the input's amplitude depends on it
_DIAM_UM = math.sqrt(1000.0 / PI)
_TOL = 1e-9  # relative agreement of the rebuilt equations with the model's


class ExportError(NeuroMLError):
    """A model that has no NeuroML2 equivalent (or an export setting that is not allowed)."""


@dataclass
class NeuroMLExport:
    """An exported cell: ``doc`` (neuroml.NeuroMLDocument with the cell, its channels, the
    pulse input and a one-cell network), ``lems`` (the LEMS simulation's XML text),
    ``mapping`` {model parameter: NeuroML attribute it went into}, and the file names."""

    element: str
    cell_id: str
    doc: object
    lems: str
    nml_file: str
    lems_file: str
    mapping: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _si(unit: str) -> float:
    """SI value of one ``unit`` (the model's unit text, e.g. 'uA/cm^2')."""
    from neuroscape.models.equations.units import _registry

    if unit in ("1", ""):
        return 1.0
    return float(_registry().Quantity(1, unit.replace("^", "**")).to_base_units().magnitude)


def _q(x: float, unit: str) -> str:
    return f"{float(x):.12g}{unit}"


def _num(e) -> float:
    return float(sympy.N(e, 17))


def _affine(e, x) -> tuple[float, float] | None:
    """(slope, intercept) when ``e`` is affine in ``x`` with numeric coefficients."""
    e = sympy.expand(e)
    if sympy.diff(e, x, 2) != 0:
        return None
    s, c = sympy.diff(e, x), e.subs(x, 0)
    if s.free_symbols or c.free_symbols:
        return None
    return _num(s), _num(c)


class _Ctx:
    """The model's equations with its parameters at their values, and the SI factors."""

    def __init__(self, model, values: dict[str, float]) -> None:
        eq = model.equations
        if eq is None:
            raise ExportError(f"{model.name}: no equations to translate (a compiled model); "
                              "allowed: equation models")
        self.model = model
        names = model.spec.parameter_names
        self.subs = {p: values[n] for p, n in zip(eq.params, names, strict=True)}
        self.pname = {p: n for p, n in zip(eq.params, names, strict=True)}
        self.y = eq.states
        self.cur = eq.current
        self.rhs = [sympy.sympify(r).subs(self.subs) for r in eq.rhs_free]
        self.eq = eq
        self.f_v = _si(model.v_unit)
        self.f_i = _si(model.current_unit)
        self.f_y = [_si(u) for u in model.state_units]
        self.values = values

    def num(self, e) -> float:
        return _num(sympy.sympify(e).subs(self.subs))

    def param_of(self, e) -> str | None:
        """The declared parameter that ``e`` (a threshold, reset...) is, if it is one."""
        return self.pname.get(e)

    def check(self, rebuilt, points: np.ndarray, what: str) -> bool:
        """Every right-hand side in SI (per s) equals ``rebuilt(state_si, I_si)`` at ``points``
        (rows of model-unit states and the current)."""
        fs = [sympy.lambdify([*self.y, self.cur], r, modules=[{"exprel": _exprel}, "numpy"])
              for r in self.rhs]
        for row in points:
            *ys, i = row
            want = [f(*ys, i) * fy * 1e3 for f, fy in zip(fs, self.f_y, strict=True)]
            got = rebuilt([y * fy for y, fy in zip(ys, self.f_y, strict=True)], i * self.f_i)
            for w, g in zip(want, got, strict=True):
                if not np.isfinite(w) or abs(w - g) > _TOL * max(1.0, abs(w), abs(g)):
                    return False
        return True


def _lam(args, e):
    """A numpy function of sympy expression ``e`` (exprel included)."""
    return sympy.lambdify(args, e, modules=[{"exprel": _exprel}, "numpy"])


def _exprel(x):
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(x) < 1e-9, 1 + x / 2, np.expm1(x) / np.where(x == 0, 1, x))


def _points(ctx: _Ctx, n: int = 25) -> np.ndarray:
    rng = np.random.default_rng(1)
    cols = []
    for k, unit in enumerate(ctx.model.state_units):
        if k == 0:  # the potential, in a physiological range
            cols.append(rng.uniform(-90e-3, 30e-3, n) / ctx.f_v)
        elif unit == "1":
            cols.append(rng.uniform(0, 1, n))
        else:
            cols.append(rng.uniform(-200, 200, n) * 1e-12 / ctx.f_y[k])
    cols.append(rng.uniform(-500, 500, n) * 1e-12 / ctx.f_i)
    return np.array(cols).T


def _reset_of(ctx: _Ctx):
    """(v reset value in model units, [jump of each other state]) or None."""
    if ctx.eq.reset is None or ctx.eq.threshold is None:
        return None
    resets = [sympy.sympify(r).subs(ctx.subs) for r in ctx.eq.reset]
    if resets[0].free_symbols:
        return None
    jumps = []
    for y, r in zip(ctx.y[1:], resets[1:], strict=True):
        d = sympy.expand(r - y)
        if d.free_symbols:
            return None
        jumps.append(_num(d))
    return _num(resets[0]), jumps


def _threshold_of(ctx: _Ctx) -> tuple[float, str] | None:
    th = ctx.eq.threshold
    if not isinstance(th, sympy.core.relational.Relational) or th.lhs != ctx.y[0]:
        return None
    val = sympy.sympify(th.rhs).subs(ctx.subs)
    if val.free_symbols:
        return None
    return _num(val), type(th).__name__


def _refract_ms(ctx: _Ctx) -> float:
    m = ctx.model
    if m.refractory_param is not None:
        return float(ctx.values[m.refractory_param])
    return float(m.refractory_ms or 0.0)


def _v_nocur(ctx: _Ctx):
    """(C in SI, F = C dv/dt - I in model current units as an expression) or None."""
    rv = ctx.rhs[0]
    dci = sympy.diff(rv, ctx.cur)
    if dci.free_symbols or dci == 0:
        return None
    c_model = 1 / _num(dci)  # model current unit * ms / v unit
    F = sympy.expand(rv * c_model - ctx.cur)
    if ctx.cur in F.free_symbols:
        return None
    return c_model * ctx.f_i * 1e-3 / ctx.f_v, F


def _adex(ctx: _Ctx):
    if len(ctx.y) != 2 or ctx.model.state_units[1] == "1":
        return None
    v, w = ctx.y
    got = _v_nocur(ctx)
    thr, rst = _threshold_of(ctx), _reset_of(ctx)
    if got is None or thr is None or rst is None or thr[1] not in ("StrictGreaterThan",):
        return None
    C, F = got
    exps = [a for a in F.atoms(sympy.exp) if v in a.free_symbols]
    if len(exps) != 1:
        return None
    aff = _affine(exps[0].args[0], v)
    if aff is None or aff[0] == 0:
        return None
    delT = 1 / aff[0]
    K = F.coeff(exps[0])
    L = sympy.expand(F - K * exps[0])
    if L.has(sympy.exp) or K.free_symbols:
        return None
    gv, gw = sympy.diff(L, v), sympy.diff(L, w)
    if gv.free_symbols or gw.free_symbols or _num(gv) >= 0 or _num(K) <= 0:
        return None
    # K exp(v/delT + c) = gL delT exp((v - VT)/delT): sympy may have moved exp's constant to K
    VT = -delT * (aff[1] + math.log(_num(K) / (-_num(gv) * delT)))
    gL = -_num(gv) * ctx.f_i / ctx.f_v
    EL = _num(L.subs({v: 0, w: 0})) / -_num(gv) * ctx.f_v
    rw = sympy.expand(ctx.rhs[1])
    dww, dwv = sympy.diff(rw, w), sympy.diff(rw, v)
    if dww.free_symbols or dwv.free_symbols or _num(dww) >= 0:
        return None
    tauw = -1e-3 / _num(dww)
    a = _num(dwv) * (-1 / _num(dww)) * ctx.f_y[1] / ctx.f_v
    C_, gL_, EL_, VT_, dT, tw, a_ = C, gL, EL, VT * ctx.f_v, delT * ctx.f_v, tauw, a

    def rebuilt(s, i):
        vv, ww = s
        dv = (-gL_ * (vv - EL_) + gL_ * dT * math.exp((vv - VT_) / dT) - ww + i) / C_
        return dv, (a_ * (vv - EL_) - ww) / tw

    if not ctx.check(rebuilt, _points(ctx), "adExIaFCell"):
        return None
    v_reset, (b,) = rst
    vals = {"C": _q(C * 1e12, "pF"), "g_l": _q(gL * 1e9, "nS"), "EL": _q(EL * 1e3, "mV"),
            "VT": _q(VT_ * 1e3, "mV"), "del_t": _q(dT * 1e3, "mV"),
            "tauw": _q(tauw * 1e3, "ms"), "a": _q(a * 1e9, "nS"),
            "b": _q(b * ctx.f_y[1] * 1e12, "pA"), "thresh": _q(thr[0] * ctx.f_v * 1e3, "mV"),
            "reset": _q(v_reset * ctx.f_v * 1e3, "mV"), "refract": _q(_refract_ms(ctx), "ms")}
    return "adExIaFCell", vals


def _izh2007(ctx: _Ctx):
    if len(ctx.y) != 2 or ctx.model.state_units[1] == "1":
        return None
    v, u = ctx.y
    got = _v_nocur(ctx)
    thr, rst = _threshold_of(ctx), _reset_of(ctx)
    if got is None or thr is None or rst is None:
        return None
    C, F = got
    if F.has(sympy.exp) or sympy.diff(F, v, 3) != 0 or sympy.diff(F, v, 2) == 0:
        return None
    k = _num(sympy.diff(F, v, 2)) / 2
    du = _num(sympy.diff(F, u)) if not sympy.diff(F, u).free_symbols else None
    ru = sympy.expand(ctx.rhs[1])
    a_ = -_num(sympy.diff(ru, u)) if not sympy.diff(ru, u).free_symbols else None
    if du is None or a_ is None or a_ == 0 or k == 0:
        return None
    ab = sympy.diff(ru, v)
    if ab.free_symbols:
        return None
    b_ = _num(ab) / a_  # u-unit per v-unit
    roots = sympy.Poly(F.subs(u, 0), v).nroots()
    if len(roots) != 2 or any(abs(sympy.im(r)) > 0 for r in roots):
        return None
    r1, r2 = (float(sympy.re(r)) for r in roots)
    if b_ != 0:
        vr = -_num(ru.subs({v: 0, u: 0})) / (a_ * b_)
        vt = r2 if abs(vr - r1) < abs(vr - r2) else r1
    else:
        vr, vt = r1, r2
    fv, fu = ctx.f_v, ctx.f_y[1]
    kS, vrS, vtS, CS = k * ctx.f_i / fv**2, vr * fv, vt * fv, C
    aS, bS = a_ * 1e3, b_ * fu / fv

    def rebuilt(s, i):
        vv, uu = s
        return ((kS * (vv - vrS) * (vv - vtS) - uu + i) / CS, aS * (bS * (vv - vrS) - uu))

    if not ctx.check(rebuilt, _points(ctx), "izhikevich2007Cell"):
        return None
    v_reset, (d,) = rst
    y0 = np.asarray(ctx.model.initial_state(np.array([[ctx.values[n] for n in
                                                        ctx.model.spec.parameter_names]])))
    vals = {"C": _q(C * 1e12, "pF"), "v0": _q(float(y0.ravel()[0]) * fv * 1e3, "mV"),
            "k": _q(kS * 1e9 / 1e3, "nS_per_mV"), "vr": _q(vrS * 1e3, "mV"),
            "vt": _q(vtS * 1e3, "mV"), "vpeak": _q(thr[0] * fv * 1e3, "mV"),
            "a": _q(aS * 1e-3, "per_ms"), "b": _q(bS * 1e9, "nS"),
            "c": _q(v_reset * fv * 1e3, "mV"), "d": _q(d * fu * 1e12, "pA")}
    return "izhikevich2007Cell", vals


def _rate_form(f, V) -> tuple[str, float, float, float] | None:
    """(NeuroML rate type, rate per ms, midpoint, scale in V's unit) of a rate f(V) per ms."""
    f = sympy.sympify(f)
    from neuroscape.models.equations.expressions import exprel

    ex = list(f.atoms(exprel))
    ep = [a for a in f.atoms(sympy.exp) if V in a.free_symbols]
    cands = []
    if len(ex) == 1 and not ep:
        aff = _affine(ex[0].args[0], V)  # f = rate / exprel(-x), x = (V - mid)/scale
        if aff and aff[0]:
            scale = -1 / aff[0]
            cands.append(("HHExpLinearRate", sympy.simplify(f * ex[0]), aff[1] * scale, scale))
    if len(ep) == 1 and not ex:
        aff = _affine(ep[0].args[0], V)
        if aff and aff[0]:
            scale = 1 / aff[0]
            cands.append(("HHExpRate", sympy.simplify(f / ep[0]), -aff[1] * scale, scale))
            # rate / (1 + exp(-(V - mid)/scale)): 1/f = d0 + d1 exp(z), z's constant maybe in d1
            den = sympy.expand(1 / f)
            de = [a for a in den.atoms(sympy.exp) if V in a.free_symbols]
            da = _affine(de[0].args[0], V) if len(de) == 1 else None
            d1 = den.coeff(de[0]) if da else sympy.Symbol("none")
            d0 = sympy.expand(den - d1 * de[0]) if da else d1
            if not (d0.free_symbols or d1.free_symbols) and _num(d0) > 0 and _num(d1) > 0:
                scale = -1 / da[0]
                c = da[1] + math.log(_num(d1) / _num(d0))
                cands.append(("HHSigmoidRate", 1 / d0, c * scale, scale))
    for kind, r, mid, scale in cands:
        if r.free_symbols:
            continue
        rate = _num(r)
        xs = np.linspace(-100.3, 60.7, 41)
        z = (xs - mid) / scale
        want = {"HHExpRate": rate * np.exp(z), "HHSigmoidRate": rate / (1 + np.exp(-z)),
                "HHExpLinearRate": rate / _exprel(-z)}[kind]
        fl = sympy.lambdify(V, f, modules=[{"exprel": _exprel}, "numpy"])
        got = np.array([float(fl(x)) for x in xs])
        if np.all(np.abs(got - want) <= _TOL * np.maximum(1.0, np.abs(want))):
            return kind, rate, mid, scale
    return None


def _hh(ctx: _Ctx):
    """A one-segment cell of HH channels (densities per area), or None."""
    if len(ctx.y) < 2 or any(u != "1" for u in ctx.model.state_units[1:]):
        return None
    V, gates = ctx.y[0], list(ctx.y[1:])
    got = _v_nocur(ctx)
    if got is None or ctx.eq.threshold is not None or ctx.model.spike_level is None:
        return None
    C, F = got
    # densities: the current unit must be a current per area
    if abs(math.log10(ctx.f_i / _si("uA/cm^2")) % 1) > 1e-9 and "/" not in ctx.model.current_unit:
        return None
    groups: dict = {}
    for term in sympy.Add.make_args(F):
        coef, mono = term.as_independent(*gates, as_Add=False)
        groups[mono] = groups.get(mono, 0) + coef
    chans = []
    used: set = set()
    for mono, G in groups.items():
        aff = _affine(G, V)
        if aff is None or aff[0] >= 0:
            return None
        powers = sympy.Poly(mono, *gates).monoms()[0] if mono != 1 else (0,) * len(gates)
        g = -aff[0]
        chans.append((powers, g, aff[1] / g))
        for q, n in zip(gates, powers, strict=True):
            if n:
                if q in used:
                    return None
                used.add(q)
    if used != set(gates):
        return None
    rates = {}
    for q, r in zip(gates, ctx.rhs[1:], strict=True):
        # not expanded: expand would split exp(-(V + 65)/18) and lose the midpoint
        if sympy.diff(sympy.expand(r), q, 2) != 0 or (r.free_symbols - {V, q}):
            return None
        alpha, beta = r.subs(q, 0), -r.subs(q, 1)
        fa, fb = _rate_form(alpha, V), _rate_form(beta, V)
        if fa is None or fb is None:
            return None
        rates[q] = (fa, fb)
    # NeuroML starts a gate at its steady state at v0: the model must too
    p_row = np.array([[ctx.values[n] for n in ctx.model.spec.parameter_names]])
    y0 = np.asarray(ctx.model.initial_state(p_row), dtype=float).ravel()
    for k, q in enumerate(gates, start=1):
        a = float(_lam(V, ctx.rhs[k].subs(q, 0))(y0[0]))
        b = -float(_lam(V, ctx.rhs[k].subs(q, 1))(y0[0]))
        if abs(y0[k] - a / (a + b)) > 1e-9:
            raise ExportError(f"{ctx.model.name}: gate {ctx.model.states[k]} starts at "
                              f"{y0[k]:.6g}, not its steady state {a / (a + b):.6g} at V0; "
                              "NeuroML starts gates at steady state")
    fv = ctx.f_v
    spike = float(ctx.model.spike_level)
    return "cell", {"C": C, "chans": chans, "rates": rates, "gates": gates, "v0": y0[0] * fv,
                    "spike": spike * fv, "fv": fv}


_RECOGNISERS = (_adex, _izh2007, _hh)


def _build_hh_cell(cid: str, info: dict, ctx: _Ctx, notes: list):
    import neuroml

    fv = info["fv"]
    names = ctx.model.states
    seg = neuroml.Segment(id=0, name="soma",
                          proximal=neuroml.Point3DWithDiam(x=0, y=0, z=0, diameter=_DIAM_UM),
                          distal=neuroml.Point3DWithDiam(x=_DIAM_UM, y=0, z=0,
                                                         diameter=_DIAM_UM))
    mp = neuroml.MembraneProperties()
    channels = []
    for powers, g, E in info["chans"]:
        gate_ix = [k for k, n in enumerate(powers) if n]
        label = "".join(f"{names[k + 1]}{powers[k] if powers[k] > 1 else ''}" for k in gate_ix)
        chan_id = f"chan_{label}" if label else "leak"
        g_mS_cm2 = g * ctx.f_i / fv / 10.0  # S/m2 -> mS_per_cm2
        if gate_ix:
            ch = neuroml.IonChannelHH(id=chan_id, conductance="10pS")
            for k in gate_ix:
                q = info["gates"][k]
                gate = neuroml.GateHHRates(id=names[k + 1], instances=powers[k])
                for attr, (kind, rate, mid, scale) in zip(("forward_rate", "reverse_rate"),
                                                           info["rates"][q], strict=True):
                    setattr(gate, attr, neuroml.HHRate(
                        type=kind, rate=_q(rate, "per_ms"), midpoint=_q(mid * fv * 1e3, "mV"),
                        scale=_q(scale * fv * 1e3, "mV")))
                ch.gate_hh_rates.append(gate)
        else:
            ch = neuroml.IonChannel(id=chan_id, conductance="10pS", type="ionChannelPassive")
        channels.append(ch)
        mp.channel_densities.append(neuroml.ChannelDensity(
            id=f"{chan_id}_all", ion_channel=chan_id, cond_density=_q(g_mS_cm2, "mS_per_cm2"),
            erev=_q(E * fv * 1e3, "mV"), ion="non_specific", segment_groups="all"))
    mp.spike_threshes.append(neuroml.SpikeThresh(value=_q(info["spike"] * 1e3, "mV")))
    c_uF_cm2 = info["C"] / 1e-2  # C per area in SI (F/m2) -> uF_per_cm2
    mp.specific_capacitances.append(neuroml.SpecificCapacitance(value=_q(c_uF_cm2, "uF_per_cm2")))
    mp.init_memb_potentials.append(neuroml.InitMembPotential(value=_q(info["v0"] * 1e3, "mV")))
    ip = neuroml.IntracellularProperties(
        resistivities=[neuroml.Resistivity(value="0.1 kohm_cm")])
    morph = neuroml.Morphology(id=f"{cid}_morphology", segments=[seg],
                               segment_groups=[neuroml.SegmentGroup(
                                   id="all", members=[neuroml.Member(segments=0)])])
    bio = neuroml.BiophysicalProperties(id=f"{cid}_biophys", membrane_properties=mp,
                                        intracellular_properties=ip)
    cell = neuroml.Cell(id=cid, morphology=morph, biophysical_properties=bio)
    notes.append(f"one segment of {PI * _DIAM_UM**2:.6g} um2 (pi d L, d = L = {_DIAM_UM:.6g} um); "
                 "densities per area as declared")
    return cell, channels


def area_m2() -> float:
    """Surface of the exported one-segment cell (m2), as jNeuroML computes it."""
    return PI * (_DIAM_UM * 1e-6) ** 2


def export_cell(model, *, values: dict[str, float] | None = None, amp: float = 0.0,
                t_on_ms: float = 100.0, t_off_ms: float | None = None,
                duration_ms: float | None = None, dt_ms: float = 0.005,
                cell_id: str | None = None) -> NeuroMLExport:
    """The NeuroML2 document and LEMS simulation of single-cell equation model ``model``:
    ``amp`` in the model's current unit from ``t_on_ms`` to ``t_off_ms`` (default: the end),
    ``duration_ms`` (default: the model's declared duration), jLEMS's forward Euler step
    ``dt_ms``. ``values``: parameter values (default: the declared defaults)."""
    import neuroml

    kind = getattr(model, "kind", None)
    name = getattr(model, "name", str(model))
    if kind == "network":
        raise ExportError(f"{name}: a network; export-neuroml writes single-cell equation models "
                          "(networks are not exported yet: they run through a different runner)")
    if kind != "neuron":
        raise ExportError(f"{name}: a {kind} model; allowed: single-cell equation models "
                          f"of the forms {', '.join(FORMS)}")
    spec = model.spec
    vals = {p.name: p.default for p in spec.parameters}
    for k, v in (values or {}).items():
        if k not in vals:
            raise ExportError(f"{name}: no parameter {k!r}; allowed: {', '.join(vals)}")
        vals[k] = float(v)
    duration = float(spec.settings.duration_ms if duration_ms is None else duration_ms)
    if not (dt_ms > 0 and duration > 0 and duration / dt_ms >= 1):
        raise ExportError(f"dt {dt_ms:g} ms, duration {duration:g} ms; allowed: 0 < dt <= duration")
    t_off = duration if t_off_ms is None else float(t_off_ms)
    if not 0 <= t_on_ms <= t_off:
        raise ExportError(f"t_on {t_on_ms:g} ms, t_off {t_off:g} ms; allowed: 0 <= t_on <= t_off")
    ctx = _Ctx(model, vals)
    found = None
    for rec in _RECOGNISERS:
        found = rec(ctx)
        if found is not None:
            break
    if found is None:
        raise ExportError(f"{name}: equations of no NeuroML2 core form; allowed: "
                          f"{', '.join(FORMS)}")
    element, info = found
    cid = cell_id or f"{name}_cell"
    doc = neuroml.NeuroMLDocument(id=f"{name}_doc")
    notes: list = []
    if element == "adExIaFCell":
        cell = neuroml.AdExIaFCell(id=cid, **info)
        doc.ad_ex_ia_f_cells.append(cell)
        amp_nA = amp * ctx.f_i * 1e9
    elif element == "izhikevich2007Cell":
        cell = neuroml.Izhikevich2007Cell(id=cid, **info)
        doc.izhikevich2007_cells.append(cell)
        amp_nA = amp * ctx.f_i * 1e9
    else:
        cell, channels = _build_hh_cell(cid, info, ctx, notes)
        for ch in channels:
            if isinstance(ch, neuroml.IonChannelHH):
                doc.ion_channel_hhs.append(ch)
            else:
                doc.ion_channel.append(ch)
        doc.cells.append(cell)
        amp_nA = amp * ctx.f_i * area_m2() * 1e9
    stim = neuroml.PulseGenerator(id="stim", delay=_q(t_on_ms, "ms"),
                                  duration=_q(t_off - t_on_ms, "ms"), amplitude=_q(amp_nA, "nA"))
    doc.pulse_generators.append(stim)
    net = neuroml.Network(id="net")
    net.populations.append(neuroml.Population(id="pop", component=cid, size=1))
    net.explicit_inputs.append(neuroml.ExplicitInput(target="pop[0]", input="stim"))
    doc.networks.append(net)
    nml_file = f"{name}.cell.nml"
    lems_file = f"LEMS_{name}.xml"
    lems = _lems_xml(name, nml_file, duration, dt_ms)
    return NeuroMLExport(element=element, cell_id=cid, doc=doc, lems=lems, nml_file=nml_file,
                         lems_file=lems_file, notes=notes)


def _lems_xml(name: str, nml_file: str, duration_ms: float, dt_ms: float) -> str:
    from neuroscape.models.neuroml.core_types import root_logger_kept

    with root_logger_kept():
        from pyneuroml.lems import LEMSSimulation

    sim = LEMSSimulation(f"sim_{name}", duration_ms, dt_ms, target="net")
    sim.include_neuroml2_file(nml_file, include_included=False)
    sim.create_output_file("v", f"{name}.v.dat")
    sim.add_column_to_output_file("v", "v", "pop[0]/v")
    sim.create_event_output_file("spikes", f"{name}.spikes.dat", format="TIME_ID")
    sim.add_selection_to_event_output_file("spikes", 0, "pop[0]", "spike")
    return sim.to_xml()
