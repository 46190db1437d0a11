"""A network of multi-compartment cells built in NEURON (Hines & Carnevale), as an independent
reference for ``neuroscape.sim.cell_network``.

``neuron_cell_network(net, ...)`` builds one parameter set of a ``CellNetwork``: every cell by
``neuron_cell.NeuronCell`` (the cell description with the population's cell addresses set),
NEURON's own ``ExpSyn``/``Exp2Syn`` at the synapses' locations (one per projection or input and
cell, as neuroscape has them), a ``NetCon`` from each presynaptic cell's ``soma(0.5)`` V
(threshold 0 mV, the projection's delay and weight) per edge of the graph, and the Poisson
inputs as ``NetCon.event`` calls at the spike times of the trains neuroscape drew
(``cell_network.input_trains``), so both simulators see the same input. It runs NEURON's fixed
step (``secondorder`` 2: Crank-Nicolson, 0: backward Euler; exact ``hh`` rates) by
``ParallelContext.psolve`` and returns every cell's upward 0-mV crossings at its root middle,
linearly interpolated from V recorded at every step, and the NetCons' event times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from neuroscape.reference.neuron_cell import NeuronCell, _Globals, upward_crossings

if TYPE_CHECKING:
    from neuroscape.core.connectivity import Graph
    from neuroscape.models.multicomp.network import CellNetwork

__all__ = ["NeuronNetworkRun", "neuron_cell_network"]


@dataclass
class NeuronNetworkRun:
    """Per population, per cell: ``spikes`` (interpolated upward 0-mV crossings, ms) and
    ``events`` (the times NEURON's threshold detector sent, ms); ``v`` (size, n+1) at the
    root middles."""

    t_ms: np.ndarray
    spikes: dict[str, list[np.ndarray]]
    events: dict[str, list[np.ndarray]]
    v: dict[str, np.ndarray]


def neuron_cell_network(
    net: CellNetwork,
    values: dict[str, float] | None,
    graph: Graph,
    trains: list[list[np.ndarray]],
    *,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    secondorder: int = 2,
) -> NeuronNetworkRun:
    """One parameter set of ``net`` in NEURON. ``values``: parameter name -> value (default:
    the defaults); ``graph``: the edges; ``trains``: per input, per cell of its target, the
    spike times (ms) that reach its synapse (``input_trains(...)[k][p]``)."""
    hybrid = [p.name for p in net.populations if p.cell is None]
    if hybrid:
        raise ValueError(f"population {hybrid[0]} is a surrogate (a hybrid network); allowed in "
                         "NEURON: populations of cells only")
    vals = {q.name: q.default for q in net.parameters}
    vals.update({k: float(v) for k, v in (values or {}).items()})
    dt = float(net.dt_ms if dt_ms is None else dt_ms)
    tstop = float(net.duration_ms if duration_ms is None else duration_ms)
    n_steps = round(tstop / dt)
    temps = {p.cell.celsius for p in net.populations} | {
        vals[q.name] for q in net.parameters if q.address == "celsius"}  # fmt: skip
    v_inits = {p.cell.v_init for p in net.populations} | {
        vals[q.name] for q in net.parameters if q.address == "v_init"}  # fmt: skip
    if len(temps) > 1 or len(v_inits) > 1:
        raise ValueError("NEURON's celsius and finitialize(v) are global; allowed: populations "
                         "with one celsius and one v_init")

    def num(x) -> float:
        return float(vals[x]) if isinstance(x, str) else float(x)

    with _Globals() as h:
        cells: dict[str, list[NeuronCell]] = {}
        for pop in net.populations:
            over = {q.address: vals[q.name] for q in net.parameters if q.pop == pop.name}
            cell = pop.cell.with_values(over) if over else pop.cell
            cells[pop.name] = [NeuronCell(cell) for _ in range(pop.size)]

        def synapse(s, nc: NeuronCell):
            seg = nc.sections[s.section](s.x)
            if s.kind == "expsyn":
                syn = h.ExpSyn(seg)
                syn.tau = s.tau2
            else:
                syn = h.Exp2Syn(seg)
                syn.tau1, syn.tau2 = s.tau1, s.tau2
            syn.e = s.e
            return syn

        keep = []  # NEURON objects that must outlive the run
        for j in net.projections:
            syns = [synapse(j.synapse, c) for c in cells[j.post]]
            keep += syns
            edges = np.asarray(graph.edges[j.name])
            for pre, post in zip(edges[0], edges[1], strict=True):
                src = cells[j.pre][int(pre)]
                soma = src.sections[src.root]
                nc = h.NetCon(soma(0.5)._ref_v, syns[int(post)], sec=soma)
                nc.threshold = 0.0
                nc.delay = j.delay
                nc.weight[0] = num(j.weight)
                keep.append(nc)
        feeds = []
        for k, inp in enumerate(net.inputs):
            for i, c in enumerate(cells[inp.target]):
                syn = synapse(inp.synapse, c)
                nc = h.NetCon(None, syn)
                nc.weight[0] = num(inp.weight)
                keep += [syn, nc]
                feeds.append((nc, np.asarray(trains[k][i], float)))
        vecs, detectors = {}, {}
        for pn, cs in cells.items():
            vecs[pn], detectors[pn] = [], []
            for c in cs:
                soma = c.sections[c.root]
                vec = h.Vector(n_steps + 1)
                vec.record(soma(0.5)._ref_v)
                vecs[pn].append(vec)
                det = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
                det.threshold = 0.0
                tv = h.Vector()
                det.record(tv)
                detectors[pn].append((det, tv))
        h.cvode_active(0)
        h.usetable_hh = 0
        h.secondorder = secondorder
        h.celsius = temps.pop()
        h.dt = dt
        h.steps_per_ms = 1.0 / dt
        h.finitialize(v_inits.pop())
        for nc, times in feeds:  # after finitialize, which clears the event queue
            for t in times:
                nc.event(float(t))
        pc = h.ParallelContext()
        pc.set_maxstep(10)
        pc.psolve(n_steps * dt)
        t = np.arange(n_steps + 1) * dt
        v = {pn: np.array([vec.as_numpy().copy() for vec in vs]) for pn, vs in vecs.items()}
        spikes = {pn: [upward_crossings(t, x) for x in v[pn]] for pn in v}
        events = {pn: [tv.as_numpy().copy() for _, tv in ds] for pn, ds in detectors.items()}
        for vs in vecs.values():
            for vec in vs:
                vec.play_remove()
        del keep, feeds, detectors, cells
    return NeuronNetworkRun(t, spikes, events, v)
