"""Networks of current-based integrate-and-fire neurons -> NeuroML2 (PyNN.xml's ``IF_curr_exp``
cells and ``expCurrSynapse`` synapses, explicit ``connectionWD`` lists) and a LEMS simulation.

What a population becomes is read from its model's equations, never from a name: a neuron model
is exported when it has the form (states v, x_1..x_n; Brette et al. 2007's CUBA benchmark, as
in Brian2's CUBA example)

    dv/dt = (v_rest - v)/tau_m + sum_k b_k x_k + c I        (unless refractory)
    dx_k/dt = -x_k/tau_k
    v > v_thresh: v = v_reset (x_k unchanged), refractory tau_refrac

with numbers (after the parameters are substituted) and every x_k seen by v; a projection when
its ``on_pre`` is one statement ``x_k += w`` onto such a state, with w constant per parameter
row, no synaptic variables, no ``on_post`` and no delay. The mapping (PyNN's units: mV, ms, nF,
nA): ``IF_curr_exp`` with tau_m, v_rest, v_thresh, v_reset, tau_refrac and cm = tau_m (in nF,
so that 1 nA of synaptic current is 1 mV of x: R = 1 MOhm); synapse k an ``expCurrSynapse``
with tau_syn = tau_k and each connection's weight cm b_k w (nA), so that I = cm b_k x_k;
a constant input I -> ``i_offset`` = cm c I.

The initial state: NeuroML2 has no per-neuron initial value (``IF_curr_exp``'s ``v_init`` is a
parameter of the cell type, one per population). Each neuron whose drawn initial v0 differs from
``v_init`` gets a current pulse during the first step (``pulseGenerator`` ``v0_pulse`` of
1 nA from dt/2 to 3 dt/2, which jLEMS applies in the first step only, through an ``inputW``
with weight cm (v0 - v_init)(1/dt - 1/tau_m)): forward Euler then takes v from v_init to
v0 + dt (v_rest - v0)/tau_m, the state after one step from v0. The exported run is the run from
the drawn initial state (to rounding), the synaptic states starting at 0 (they must be 0 in
the network).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import sympy

from neuroscape.models.neuroml.export import (
    ExportError,
    _Ctx,
    _num,
    _q,
    _refract_ms,
    _reset_of,
    _threshold_of,
)

__all__ = ["NetworkExport", "export_network", "resized"]

CELL_FORM = ("dv/dt = (v_rest - v)/tau_m + sum_k b_k x_k + c I (unless refractory), "
             "dx_k/dt = -x_k/tau_k, v > v_thresh: v = v_reset")
PULSE_ID = "v0_pulse"


@dataclass
class NetworkExport:
    """An exported network: ``doc`` (neuroml.NeuroMLDocument), ``lems`` (XML text), file names,
    ``cells`` {population: (cell id, its IF_curr_exp attributes)}, ``n_connections``,
    ``n_pulses`` (neurons with an initial-state pulse), notes."""

    doc: object
    lems: str
    nml_file: str
    lems_file: str
    cells: dict = field(default_factory=dict)
    n_connections: int = 0
    n_pulses: int = 0
    notes: list = field(default_factory=list)


def resized(net, sizes: dict[str, int]):
    """``net`` with populations of other sizes (a reduced network: the same description, its
    connection rules drawn anew over the new sizes)."""
    names = [p.name for p in net.populations]
    for k, n in sizes.items():
        if k not in names:
            raise ExportError(f"{net.name}: no population {k!r}; allowed: {', '.join(names)}")
        if int(n) < 1:
            raise ExportError(f"population {k} size {n}; allowed: an integer >= 1")
    pops = tuple(dataclasses.replace(p, size=int(sizes.get(p.name, p.size)))
                 for p in net.populations)  # fmt: skip
    return dataclasses.replace(net, populations=pops)


def _n(x: float) -> float:
    """A dimensionless attribute (PyNN's units) to 12 significant digits."""
    return float(f"{float(x):.12g}")


def _cell(net, pop, row: np.ndarray) -> dict:
    """The IF_curr_exp form of population ``pop``'s model at parameter row ``row``: its
    attributes (numbers in mV, ms, nF, nA) and, per synaptic state, (tau_k, nA per unit)."""
    m = pop.model
    if pop.kind != "neuron":
        raise ExportError(f"{net.name}: population {pop.name}: a {pop.kind} population has no "
                          f"NeuroML2 form here; allowed: neuron populations of the form "
                          f"{CELL_FORM}")
    name = f"{net.name}: population {pop.name} (model {m.name})"
    values = {n: float(net.evaluate(e, row)[0])
              for n, e in zip(m.spec.parameter_names, pop.params, strict=True)}  # fmt: skip
    ctx = _Ctx(m, values)
    y, cur = list(ctx.y), ctx.cur

    def refuse(why: str) -> ExportError:
        return ExportError(f"{name}: {why}; allowed: {CELL_FORM}")

    rv = sympy.expand(ctx.rhs[0])
    label = {**dict(zip(y, m.states, strict=True)), cur: "the input current"}
    coef = {}
    for s in [*y, cur]:
        d = sympy.diff(rv, s)
        if d.free_symbols:
            raise refuse(f"d{m.states[0]}/dt is not linear in {label[s]} with a constant "
                         "coefficient (a conductance-based synapse?)")
        coef[s] = _num(d)
    a0 = rv.subs({s: 0 for s in [*y, cur]})
    if a0.free_symbols or sympy.expand(rv - a0 - sum(coef[s] * s for s in coef)) != 0:
        raise refuse(f"d{m.states[0]}/dt is not affine in the states")
    a_v = coef[y[0]]
    if not a_v < 0:
        raise refuse(f"d{m.states[0]}/dt has no leak")
    syn = {}
    for k, (x, r) in enumerate(zip(y[1:], ctx.rhs[1:], strict=True), start=1):
        r = sympy.expand(r)
        d = sympy.diff(r, x)
        if r.free_symbols - {x} or d.free_symbols or sympy.expand(r - d * x) != 0 or _num(d) >= 0:
            raise refuse(f"d{m.states[k]}/dt is not -{m.states[k]}/tau")
        if coef[x] == 0:
            raise refuse(f"{m.states[k]} does not act on {m.states[0]}")
        syn[m.states[k]] = (-1.0 / _num(d), coef[x])
    thr, rst = _threshold_of(ctx), _reset_of(ctx)
    if thr is None or thr[1] != "StrictGreaterThan" or rst is None:
        raise refuse("no threshold 'v > number' with a reset 'v = number'")
    if any(j != 0 for j in rst[1]):
        raise refuse("the reset changes a synaptic state")
    refract = _refract_ms(ctx)
    if refract > 0 and not m.hold_refractory:
        raise refuse("a refractory period that does not hold v")
    f_v = ctx.f_v * 1e3  # mV per unit of v
    tau_m = -1.0 / a_v  # ms
    cm = tau_m  # nF: R = tau_m / cm = 1 MOhm
    i_cur = float(net.evaluate(pop.current, row)[0])
    y0 = np.asarray(m.initial_state(np.array([[values[n] for n in m.spec.parameter_names]])),
                    dtype=float).ravel()  # fmt: skip
    attrs = {"tau_m": tau_m, "cm": cm, "v_rest": -_num(a0) / a_v * f_v,
             "v_thresh": thr[0] * f_v, "v_reset": rst[0] * f_v, "tau_refrac": refract,
             "i_offset": cm * coef[cur] * i_cur * f_v, "v_init": y0[0] * f_v}
    # each synaptic state: (tau, nA of expCurrSynapse's I per unit of the state)
    per_unit = {s: (tau, cm * b * f_v) for s, (tau, b) in syn.items()}
    return {"attrs": attrs, "syn": per_unit, "y0": y0, "f_v": f_v}


def _projection_weight(net, j, row: np.ndarray, cells: dict) -> tuple[str, float]:
    """(the post state, the weight of each connection in nA) of projection ``j``."""
    name = f"{net.name}: projection {j.name}"
    allowed = ("allowed: on_pre one statement 'x += w' onto a synaptic state x of the post "
               "neuron, w constant per row, no synaptic variables, no on_post, no delay")
    if j.synvars or j.on_post or len(j.on_pre) != 1:
        raise ExportError(f"{name}: synaptic variables, on_post or several statements; {allowed}")
    st = j.on_pre[0]
    if st.where != "post" or st.op != "+=" or st.target not in cells[j.post]["syn"]:
        raise ExportError(f"{name}: '{st.target} {st.op} ...' ({st.where}); {allowed}")
    if sympy.sympify(j.delay) != 0:
        raise ExportError(f"{name}: delay {j.delay} ms; {allowed}")
    try:
        w = float(net.evaluate(st.expr, row)[0])
    except Exception as exc:  # noqa: BLE001 - the network's own one-line error
        raise ExportError(f"{name}: the weight {st.expr} is not constant per row ({exc}); "
                          f"{allowed}") from None
    # the statement's value is in the state's declared unit, as the per-unit factor
    return st.target, w * cells[j.post]["syn"][st.target][1]


def export_network(net, graph, initial: dict[str, np.ndarray], *, params: dict | None = None,
                   duration_ms: float | None = None, dt_ms: float | None = None,
                   record_v: int = 3) -> NetworkExport:
    """The NeuroML2 document and LEMS simulation of network ``net`` on ``graph`` (its
    connections, e.g. ``net.graph(conn_seed)``), from ``initial`` {population: (size,) initial
    v in the model's unit of v} (the network's own draw for a seed). ``params``: network
    parameter values (default the declared ones). ``record_v``: the first neurons of each
    population whose v is written (OutputFile ``NAME.v.dat``); every neuron's spikes go to
    ``NAME.spikes.dat`` (TIME_ID, ids numbered through the populations in order)."""
    import neuroml

    if getattr(net, "kind", None) != "network":
        raise ExportError(f"{net.name}: not a network")
    for what in ("inputs", "modulators"):
        if getattr(net, what, ()):
            names = ", ".join(x.name for x in getattr(net, what))
            raise ExportError(f"{net.name}: {what} ({names}) have no NeuroML2 form here; allowed: "
                              "populations and projections only")
    spec = net.spec
    vals = {p.name: p.default for p in spec.parameters}
    for k, v in (params or {}).items():
        if k not in vals:
            raise ExportError(f"{net.name}: no parameter {k!r}; allowed: {', '.join(vals)}")
        vals[k] = float(v)
    row = np.array([[vals[n] for n in spec.parameter_names]], dtype=float)
    dur = float(spec.settings.duration_ms if duration_ms is None else duration_ms)
    dt = float(spec.settings.dt_ms if dt_ms is None else dt_ms)
    if not (dt > 0 and dur > dt):
        raise ExportError(f"dt {dt:g} ms, duration {dur:g} ms; allowed: 0 < dt < duration")
    cells = {p.name: _cell(net, p, row) for p in net.populations}
    weights = {j.name: _projection_weight(net, j, row, cells) for j in net.projections}
    name = net.name
    doc = neuroml.NeuroMLDocument(id=f"{name}_doc")
    out = NetworkExport(doc=doc, lems="", nml_file=f"{name}.net.nml", lems_file=f"LEMS_{name}.xml")
    nml_net = neuroml.Network(id="net")
    for p in net.populations:
        a = cells[p.name]["attrs"]
        taus = sorted({t for t, _ in cells[p.name]["syn"].values()})
        cid = f"{p.name}_cell"
        doc.IF_curr_exp.append(neuroml.IF_curr_exp(
            id=cid, cm=_n(a["cm"]), i_offset=_n(a["i_offset"]),
            tau_syn_E=_n(taus[0]), tau_syn_I=_n(taus[-1]),
            v_init=_n(a["v_init"]), tau_m=_n(a["tau_m"]), tau_refrac=_n(a["tau_refrac"]),
            v_reset=_n(a["v_reset"]), v_rest=_n(a["v_rest"]),
            v_thresh=_n(a["v_thresh"])))  # fmt: skip
        out.cells[p.name] = (cid, a)
        nml_net.populations.append(neuroml.Population(id=p.name, component=cid, size=p.size))
    for j in net.projections:
        target, w = weights[j.name]
        tau = cells[j.post]["syn"][target][0]
        sid = f"syn_{j.name}"
        doc.exp_curr_synapses.append(neuroml.ExpCurrSynapse(id=sid, tau_syn=_n(tau)))
        proj = neuroml.Projection(id=j.name, presynaptic_population=j.pre,
                                  postsynaptic_population=j.post, synapse=sid)
        pre, post = graph.edges[j.name][:2]
        for k, (a, b) in enumerate(zip(pre.tolist(), post.tolist(), strict=True)):
            proj.connection_wds.append(neuroml.ConnectionWD(
                id=k, pre_cell_id=f"../{j.pre}[{a}]", post_cell_id=f"../{j.post}[{b}]",
                weight=_n(w), delay="0ms"))  # fmt: skip
        out.n_connections += len(pre)
        nml_net.projections.append(proj)
    # the drawn initial v: a pulse in the first step (module docstring)
    doc.pulse_generators.append(neuroml.PulseGenerator(
        id=PULSE_ID, delay=_q(dt / 2, "ms"), duration=_q(dt, "ms"), amplitude="1nA"))
    for p in net.populations:
        a, f_v = cells[p.name]["attrs"], cells[p.name]["f_v"]
        v0 = np.asarray(initial[p.name], dtype=float).ravel() * f_v
        if v0.shape != (p.size,):
            raise ExportError(f"initial v of {p.name}: {v0.shape[0]} values for {p.size} neurons")
        amp = a["cm"] * (v0 - a["v_init"]) * (1.0 / dt - 1.0 / a["tau_m"])
        il = neuroml.InputList(id=f"init_{p.name}", populations=p.name, component=PULSE_ID)
        for i in np.flatnonzero(amp != 0.0).tolist():
            il.input_ws.append(neuroml.InputW(id=len(il.input_ws), target=f"../{p.name}[{i}]",
                                              destination="synapses", weight=_n(amp[i])))
        if il.input_ws:
            nml_net.input_lists.append(il)
            out.n_pulses += len(il.input_ws)
    doc.networks.append(nml_net)
    out.lems = _lems_xml(net, out.nml_file, dur, dt, record_v)
    out.notes.append(f"{len(net.populations)} IF_curr_exp populations "
                     f"({', '.join(f'{p.name} {p.size}' for p in net.populations)}), "
                     f"{out.n_connections} connections (expCurrSynapse), {out.n_pulses} "
                     "initial-state pulses in the first step")
    if not math.isclose(dt, float(spec.settings.dt_ms)):
        out.notes.append(f"step {dt:g} ms (the network's: {spec.settings.dt_ms:g} ms)")
    return out


def _lems_xml(net, nml_file: str, duration_ms: float, dt_ms: float, record_v: int) -> str:
    from neuroscape.models.neuroml.core_types import root_logger_kept

    with root_logger_kept():
        from pyneuroml.lems import LEMSSimulation

    name = net.name
    sim = LEMSSimulation(f"sim_{name}", duration_ms, dt_ms, target="net")
    sim.include_neuroml2_file(nml_file, include_included=False)
    sim.create_output_file("v", f"{name}.v.dat")
    for p in net.populations:
        for i in range(min(record_v, p.size)):
            sim.add_column_to_output_file("v", f"{p.name}_{i}_v", f"{p.name}[{i}]/v")
    sim.create_event_output_file("spikes", f"{name}.spikes.dat", format="TIME_ID")
    k = 0
    for p in net.populations:
        for i in range(p.size):
            sim.add_selection_to_event_output_file("spikes", k, f"{p.name}[{i}]", "spike")
            k += 1
    xml = sim.to_xml()
    core = '<Include file="Cells.xml"/>'
    assert core in xml
    return xml.replace(core, f'{core}\n    <Include file="PyNN.xml"/>', 1)  # IF_curr_exp
