"""A NeuroML2 network of integrate-and-fire type cells onto neuroscape's network description
(``neuroscape.models.network``), so that it runs batched on the network engine and goes through
sweeps, fits and surrogates like any other network; ``FILE.nml:NETWORK_ID``, ``LEMS.xml`` (its
Simulation's network) and ``LEMS.xml:NETWORK_ID`` resolve to it.

What maps (the route ``sonata.py`` takes: a description mapping built here, with declared row
parameters):

- a ``population`` of an abstract cell with a spike condition (iafCell, iafRefCell, iafTauCell,
  iafTauRefCell, izhikevichCell, izhikevich2007Cell, adExIaFCell, PyNN's IF_curr_exp and
  IF_curr_alpha) or of a conductance-based cell (pointCellCondBased, one-segment cell: a spike
  where V crosses thresh upward, the engine's populations without reset) -> neuron populations
  whose model is the cell's equations (``cells.py``, ``conductance.py``, jLEMS's semantics:
  forward Euler, spikes and resets on the step grid) plus the states of every
  synapse element the population receives (Synapses.xml, PyNN.xml): expOneSynapse (g),
  expTwoSynapse (A, B), alphaSynapse and alphaCurrentSynapse (x, y), expCurrSynapse (I) and
  alphaCurrSynapse (x, y), each state dimensionless (the event adds the connection's weight),
  the synapse's current in the cell's current;
- the cells of a population that receive the same time-dependent inputs (``explicitInput``,
  ``inputList``: pulseGenerator, rampGenerator, sineGenerator, with their weights) form one
  sub-population ``POP`` (or ``POP_gK`` when there are several), the inputs its ``stimulus``;
- ``spikeGenerator`` populations -> ``kind: spikes`` populations (their trains written up to
  10 s, or the declared length if longer); ``poissonFiringSynapse`` inputs -> a ``kind:
  poisson`` population per input element (one source per target cell) and projections onto
  the synapse's states;
- connections (``projection`` with ``connection``/``connectionWD``, ``synapticConnection``)
  grouped by (pre sub-population, post sub-population, synapse element) -> projections with
  their explicit pairs and each edge's weight and delay (``connect: {pairs, values}``).

jLEMS's order (jNeuroML's simulator, Cannon et al. 2014) is kept where the engine allows it
(docs/neuroml.md, "NeuroML networks on the network engine"): a spike in step k is jLEMS's time
t = (k + 1) dt; inputs are read at the step's end (``read: end``); a delayed event acts in the
step jLEMS delivers it and a refractory regime holds V for jLEMS's count of steps, spike by
spike, from its t accumulated in seconds (``delay_clock`` and ``refractory_clock: lems``); an
undelayed event onto a cell after its source acts in the spike's step (``early``); a conductance
synapse on a cell with Regimes reads the V one step old (a state that forward Euler sets to
it). What differs: an undelayed event onto a later cell of the same engine population acts in
the next step; adExIaFCell's w in the refractory regime reads V advanced by a step; Poisson
inputs draw neuroscape's own numbers.

Parameters: each referenced component's numeric attributes, as ``COMPONENT_ATTRIBUTE``, with
the file's value as default and the default box of ``cells.default_bounds`` (strictly positive
quantities x/2 to 2x, never below 0; other voltages +-20 mV; other quantities x/2 to 2x), a
Poisson rate as ``COMPONENT_averageRate`` in Hz.

Refused, one line naming the element, the file and the line: fitzHughNagumoCell (no spike
condition), short-term plasticity, inputs other than the above, a dimensionless (DL) cell with
synapses, and what ``simulation.py`` refuses.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from neuroscape.models.neuroml.cells import (
    LEMS_DT,
    default_bounds,
    parameter_entry,
)
from neuroscape.models.neuroml.core_types import NeuroMLError
from neuroscape.models.neuroml.document import attr_si, error, read_document, tag, where
from neuroscape.models.neuroml.simulation import (
    COND_SYNAPSES,
    SYNAPSES,
    _synapse_element,
    cell_fields,
    network_elements,
)

E_ALPHA = 2.7182818284590451  # Synapses.xml's alphaSynapse and alphaCurrentSynapse
PYNN_E = 2.7182818  # PyNN.xml's alphaCurrSynapse
STIM_INPUTS = {"pulseGenerator": "pulse", "rampGenerator": "ramp", "sineGenerator": "sine",
               "pulseGeneratorDL": "pulse", "rampGeneratorDL": "ramp",
               "sineGeneratorDL": "sine"}  # fmt: skip
INPUTS = (*STIM_INPUTS, "poissonFiringSynapse")
ENGINE_SYNAPSES = tuple(s for s in SYNAPSES if s != "blockingPlasticSynapse")
DEFAULT_DT_MS = 0.01  # FILE.nml:NETWORK_ID (no Simulation): jNeuroML's examples' step
DEFAULT_LENGTH_MS = 1000.0
GENERATOR_HORIZON_MS = 10_000.0  # spikeGenerator trains written up to this time at least
MAX_DELAY_GROUPS = 16  # distinct delays of one (pre, post, synapse) group kept apart
_ID = re.compile(r"\W")
V_LAG, LAG_DT = "v_lems", "lems_lag_dt"  # the V a conductance synapse reads (one step old)
I_IN = "I_in"  # the stimulus symbol of a mapped cell (inputs and the constant current)


def _ident(text: str) -> str:
    s = _ID.sub("_", text)
    return s if s.isidentifier() else f"n_{s}"


# ------------------------------------------------------------------------------- synapses
def _syn_parts(syn, v: str) -> tuple[list[str], dict, dict, str, list[str]]:
    """(equation lines, parameters {name: entry}, initial {state: 0}, current text (in the
    cell's current unit), states an event adds the weight to) of synapse element ``syn`` on a
    cell of membrane potential ``v``."""
    sid = _ident(syn.get("id"))
    kind = tag(syn)
    at = f"{kind} {syn.get('id')} ({where(syn)})"
    params: dict = {}

    def par(attr: str, dim: str) -> str:
        name = f"{sid}_{attr}"
        params[name], _, _ = parameter_entry(syn, attr, dim, at)
        return name

    if kind == "blockingPlasticSynapse":
        raise error(syn, "short-term plasticity runs in neuroscape simulate LEMS.xml only; on "
                    f"the network engine allowed: {', '.join(ENGINE_SYNAPSES)}")
    if kind == "expOneSynapse":
        g, tau, gb, er = f"g_{sid}", par("tauDecay", "time"), par("gbase", "conductance"), \
            par("erev", "voltage")
        lines = [f"d{g}/dt = -{g}/{tau} : 1"]
        return lines, params, {g: 0.0}, f"{gb}*{g}*({er} - {v})", [g]
    if kind == "expTwoSynapse":
        a, b = f"A_{sid}", f"B_{sid}"
        tr, td = par("tauRise", "time"), par("tauDecay", "time")
        gb, er = par("gbase", "conductance"), par("erev", "voltage")
        if not attr_si(syn, "tauRise", "time") < attr_si(syn, "tauDecay", "time"):
            raise error(syn, "tauRise and tauDecay; allowed: 0 < tauRise < tauDecay")
        lines = [f"d{a}/dt = -{a}/{tr} : 1", f"d{b}/dt = -{b}/{td} : 1",
                 f"tpeak_{sid} = log({td}/{tr})*{tr}*{td}/({td} - {tr}) : ms",
                 f"norm_{sid} = 1/(-exp(-tpeak_{sid}/{tr}) + exp(-tpeak_{sid}/{td})) : 1"]
        return (lines, params, {a: 0.0, b: 0.0},
                f"{gb}*norm_{sid}*({b} - {a})*({er} - {v})", [a, b])
    if kind in ("alphaSynapse", "alphaCurrentSynapse", "alphaCurrSynapse"):
        x, y = f"x_{sid}", f"y_{sid}"
        if kind == "alphaCurrSynapse":  # PyNN.xml: tau_syn a number of ms, currents in nA
            tau, e, cur = f"({par('tau_syn', 'none')}*ms)", PYNN_E, f"{x}*nA"
        elif kind == "alphaCurrentSynapse":
            tau, e, cur = par("tau", "time"), E_ALPHA, f"{par('ibase', 'current')}*{x}"
        else:
            tau, e = par("tau", "time"), E_ALPHA
            cur = f"{par('gbase', 'conductance')}*{x}*({par('erev', 'voltage')} - {v})"
        lines = [f"d{x}/dt = ({e!r}*{y} - {x})/{tau} : 1", f"d{y}/dt = -{y}/{tau} : 1"]
        return lines, params, {x: 0.0, y: 0.0}, cur, [y]
    if kind == "expCurrSynapse":
        i = f"I_{sid}"
        tau = f"({par('tau_syn', 'none')}*ms)"
        return [f"d{i}/dt = -{i}/{tau} : 1"], params, {i: 0.0}, f"{i}*nA", [i]
    raise error(syn, f"synapse type {kind!r} cannot be mapped onto the network engine; "
                f"allowed: {', '.join(ENGINE_SYNAPSES)}")


# ------------------------------------------------------------------------------- cells
def _cell_model(comp, doc, syns: dict, dt_ms: float, length_ms: float):
    """(model fields, the cell's own parameter names) of cell element ``comp`` with the states
    of the synapse elements ``syns`` (id -> element)."""
    t = tag(comp)
    f = cell_fields(comp, doc, lems_semantics=True)  # refuses what maps onto no model
    if t == "fitzHughNagumoCell":
        raise error(comp, f"{t} has no spike condition (NeuroML2 emits no spike from it); a "
                    "network population needs one (allowed: integrate-and-fire and "
                    "conductance-based cells)")
    cur, unit = f["current"]["name"], f["current"]["unit"]
    eqs = f["equations"]
    v = re.match(r"\s*d(\w+)/dt", eqs).group(1)
    own = [p for p in f["parameters"] if p not in (LEMS_DT, LAG_DT)]
    if syns and (cur.startswith("I_drive") or unit == "1"):
        raise error(comp, f"{t} {comp.get('id')!r} has no synaptic attachment in amperes: a "
                    "synapse cannot drive it (as in NeuroML2)")
    lines, currents = [], []
    params = dict(f["parameters"])
    initial = dict(f["initial"])
    v_syn = v
    if "refractory" in f and any(tag(s) in COND_SYNAPSES for s in syns.values()):
        # jLEMS synchronises the exposed V of a cell with Regimes before the regime's step: a
        # conductance synapse reads the V one step old. A state that forward Euler at the
        # step LAG_DT (the Simulation's step) sets to the old V in every step reproduces it
        v_syn = V_LAG
        u = next(x for x in re.findall(rf"d{v}/dt = .*: (\S+)", eqs))
        lines.append(f"d{V_LAG}/dt = ({v} - {V_LAG})/{LAG_DT} : {u}")
        initial[V_LAG] = initial[v]
        params[LAG_DT] = {"default": f"{dt_ms!r} ms", "low": f"{dt_ms / 2!r} ms",
                          "high": f"{dt_ms * 2!r} ms", "hard_low": "0 ms",
                          "description": "the LEMS Simulation's step (the V a conductance "
                          "synapse reads, one step old in jLEMS)"}
    for syn in syns.values():
        ln, ps, init, c, _ = _syn_parts(syn, v_syn)
        lines += ln
        params.update(ps)
        initial.update({k: float(x) for k, x in init.items()})
        currents.append(c)
    if currents:
        total = f"{I_IN} + " + " + ".join(f"({c})" for c in currents)
        eqs = re.sub(rf"(?<![\w.]){cur}(?!\w)", f"({total})", eqs)
        f["current"] = {"name": I_IN, "unit": unit}
    f["equations"] = "\n".join([eqs, *lines])
    f["parameters"] = params
    f["initial"] = initial
    f["settings"] = {**f["settings"], "dt": f"{dt_ms!r} ms", "duration": f"{length_ms!r} ms",
                     "max_dt": f"{max(dt_ms, 1.0)!r} ms"}
    return f, own


def _increment_states(syn) -> list[str]:
    return _syn_parts(syn, "v")[4]


# ------------------------------------------------------------------------------- reading
class _Net:
    """The elements of a <network>: populations, connections, inputs per cell."""

    def __init__(self, doc, net) -> None:
        self.doc, self.net = doc, net
        self.sizes, self.comps, conns, self.inputs = network_elements(doc, net)
        # (pre pop, i, post pop, j, synapse, weight, delay ms, el)
        self.conns: list[tuple] = [(c.pre_pop, c.pre, c.post_pop, c.post, c.synapse, c.weight,
                                    c.delay_ms, c.el) for c in conns]
        for c in self.conns:
            if tag(self.comps[c[2]]) == "spikeGenerator":
                raise error(c[7], f"a connection onto spikeGenerator "
                            f"{self.comps[c[2]].get('id')!r}: a spike source has no synapses")
            if c[6] < 0:
                raise error(c[7], f"delay {c[6]:g} ms; allowed: >= 0 ms")
        for (pop, i), lst in self.inputs.items():
            if pop not in self.sizes or not 0 <= i < self.sizes[pop]:
                raise error(lst[0][2], f"target {pop}[{i}] is not a cell of network "
                            f"{net.get('id')!r}")
            for inp, _, el in lst:
                if tag(inp) not in INPUTS:
                    raise error(inp, f"input type {tag(inp)!r} cannot be mapped onto the "
                                f"network engine; allowed: {', '.join(INPUTS)}")
                if tag(self.comps[pop]) == "spikeGenerator":
                    raise error(el, "an input to a spikeGenerator: a spike source takes no "
                                "input")


# ------------------------------------------------------------------------------- the mapping
def network_description(path: str | Path, network_id: str | None = None, *,
                        dt_ms: float | None = None, length_ms: float | None = None,
                        ) -> tuple[dict, dict]:
    """(network description mapping, cell map {NeuroML population: [(population, local index)
    per cell]}) of network ``network_id`` of a NeuroML2 or LEMS file (a LEMS file's Simulation
    target when None), run at ``dt_ms`` for ``length_ms`` (the Simulation's, else 0.01 ms and
    1000 ms)."""
    doc = read_document(path)
    sim = None
    if network_id is None:
        sims = [doc.simulations.get(t.get("component")) for t in doc.targets] or list(
            doc.simulations.values())
        sims = [s for s in sims if s is not None]
        if len(sims) != 1:
            raise NeuroMLError(f"{path}: {len(sims)} Simulations; allowed: a LEMS file with one "
                               "(or its <Target>), or FILE:NETWORK_ID")
        sim = sims[0]
        net = doc.component(sim.get("target"), sim)
    else:
        net = doc.components.get(network_id)
        if net is None:
            raise NeuroMLError(f"{path}: no element with id {network_id!r}")
        sim = next((s for s in doc.simulations.values() if s.get("target") == network_id), None)
    if tag(net) != "network":
        raise error(net, "not a <network>; allowed: a network's id")
    if sim is not None:
        dt_ms = dt_ms or attr_si(sim, "step", "time") * 1e3
        length_ms = length_ms or attr_si(sim, "length", "time") * 1e3
    dt_ms = dt_ms or DEFAULT_DT_MS
    length_ms = length_ms or DEFAULT_LENGTH_MS
    n = _Net(doc, net)
    params: dict[str, dict] = {}
    pops: dict[str, dict] = {}
    projs: dict[str, dict] = {}
    cell_map: dict[str, list] = {}
    outputs: dict[str, dict] = {}

    def declare(name: str, entry: dict, el) -> str:
        if name in params and params[name]["default"] != entry["default"]:
            raise error(el, f"parameter name {name} is taken twice (ids and attributes joined "
                        "by '_'); allowed: ids that keep them apart")
        params[name] = entry
        return name

    # synapse elements per post population (connections and Poisson inputs)
    syns_of: dict[str, dict] = {}
    for c in n.conns:
        syns_of.setdefault(c[2], {})[c[4].get("id")] = c[4]
    for (pop, _), lst in n.inputs.items():
        for inp, _, _el in lst:
            if tag(inp) == "poissonFiringSynapse":
                syn = _synapse_element(inp, n.doc.component(inp.get("synapse"), inp))
                syns_of.setdefault(pop, {})[syn.get("id")] = syn
    for sid_map in syns_of.values():
        for syn in sid_map.values():
            _, ps, _, _, _ = _syn_parts(syn, "v")
            for k, e in ps.items():
                declare(k, e, syn)

    locate: dict[tuple[str, int], tuple[str, int]] = {}
    for pop, comp in n.comps.items():
        size = n.sizes[pop]
        if tag(comp) == "spikeGenerator":  # jLEMS: a spike at the first step whose end time
            # is within SMALL_TIME of n period (Inputs.xml), felt by the cells in the next step
            per = attr_si(comp, "period", "time") * 1e3
            if not per >= dt_ms:
                raise error(comp, f"period {comp.get('period')!r}; allowed: >= the step "
                            f"({dt_ms:g} ms)")
            # the train up to 10 s (or the declared length, if longer or if that would be
            # more than 5 million spikes), so that longer runs than declared keep it
            horizon = max(length_ms, GENERATOR_HORIZON_MS)
            if size * horizon / per > 5e6:
                horizon = length_ms
            k = np.arange(1, int(horizon / per) + 2)
            steps = np.ceil(k * per / dt_ms - 1e-9) - 1  # jLEMS's step of spike k
            t = steps[steps < int(round(horizon / dt_ms))] * dt_ms  # step k: jLEMS's (k + 1) dt
            name = _ident(pop)
            pops[name] = {"kind": "spikes", "size": size,
                          "spikes": [{"times": np.repeat(t, size),
                                      "indices": np.tile(np.arange(size), t.size),
                                      "unit": "ms"}]}
            cell_map[pop] = [(name, i) for i in range(size)]
            for i in range(size):
                locate[(pop, i)] = (name, i)
            continue
        syns = syns_of.get(pop, {})
        fields, own = _cell_model(comp, doc, syns, dt_ms, length_ms)
        cur_unit = fields["current"]["unit"]
        for i in range(size):
            for inp, _, el in n.inputs.get((pop, i), []):
                if fields["current"]["name"].startswith("I_drive"):
                    raise error(el, f"{tag(comp)} {comp.get('id')!r} has no synaptic "
                                "attachment: inputs cannot drive it (as in NeuroML2)")
                dl = tag(inp).endswith("DL")
                if tag(inp) in STIM_INPUTS and dl != (cur_unit == "1"):
                    raise error(inp, f"{tag(inp)} drives a current in "
                                f"{'no unit' if dl else 'amperes'}; the cell's current is in "
                                f"{cur_unit!r} (use the {'non-' if dl else ''}DL input)")
        from neuroscape.models.equations import equation_model

        model = equation_model(**fields)
        cid = _ident(comp.get("id"))
        pparams: dict = {}
        for p in own:
            entry = dict(fields["parameters"][p])
            entry["description"] = f"{p} of {tag(comp)} {comp.get('id')} ({where(comp)})"
            pparams[p] = declare(f"{cid}_{p}", entry, comp)
        for syn in syns.values():
            for k in _syn_parts(syn, "v")[1]:
                pparams[k] = k
        for k in (LEMS_DT, LAG_DT):
            if k in fields["parameters"]:
                pparams[k] = f"{dt_ms!r}*ms"
        # a cell with Regimes holds V for jLEMS's count of steps, spike by spike (its t
        # accumulated in seconds): the engine's refractory_clock lems
        clock = {"refractory_clock": "lems"} if model.refractory_param is not None else {}
        # sub-populations: cells with the same time-dependent inputs
        groups: dict[tuple, list[int]] = {}
        for i in range(size):
            sig = tuple(sorted((inp.get("id"), w) for inp, w, _ in n.inputs.get((pop, i), [])
                               if tag(inp) in STIM_INPUTS))
            groups.setdefault(sig, []).append(i)
        names = []
        for g, (sig, cells) in enumerate(groups.items()):
            name = _ident(pop if len(groups) == 1 else f"{pop}_g{g}")
            entry = {"size": len(cells), "model": model, "params": pparams,
                     "integrator": "euler", **clock}
            stim = []
            for iid, w in sig:
                inp = doc.components[iid]
                stim.append(_stimulus_block(inp, w, declare))
            if stim:
                entry["stimulus"] = stim
            pops[name] = entry
            names.append(name)
            for k, i in enumerate(cells):
                locate[(pop, i)] = (name, k)
        cell_map[pop] = [locate[(pop, i)] for i in range(size)]
        outputs[f"r_{_ident(pop)}"] = {"rate": names if len(names) > 1 else names[0]}

    # connections: one projection per (pre, post, synapse element), repeated pairs apart
    # an undelayed event onto a cell after its source in jLEMS's order (population
    # declaration, then index) acts in the spike's step: an early projection, where the
    # engine steps the source's population before the target's (not within one population)
    groups_c: dict[tuple, list] = {}
    nml_order = {pop: k for k, pop in enumerate(n.sizes)}
    eng_order = {name: k for k, name in enumerate(pops)}
    for pre, i, post, j, syn, w, d, _el in n.conns:
        a, b = locate[(pre, i)], locate[(post, j)]
        early = (d == 0 and (nml_order[pre], i) < (nml_order[post], j)
                 and eng_order[a[0]] < eng_order[b[0]])
        groups_c.setdefault((a[0], b[0], syn.get("id"), early), []).append(
            (a[1], b[1], w, d, syn))
    for (a, b, sid, early), all_edges in groups_c.items():
        # one projection per delay value (jLEMS's clock counts each delay's steps spike by
        # spike), unless there are many: then per-edge delays at the count most steps give
        delays = sorted({e[3] for e in all_edges})
        by_delay = ([[e for e in all_edges if e[3] == x] for x in delays]
                    if len(delays) <= MAX_DELAY_GROUPS else [all_edges])
        for g, edges in enumerate(by_delay):
            ranks: dict = {}
            split: list[list] = []
            for e in edges:
                r = ranks.get(e[:2], 0)
                ranks[e[:2]] = r + 1
                while len(split) <= r:
                    split.append([])
                split[r].append(e)
            for r, es in enumerate(split):
                name = _ident(f"{a}_to_{b}_{sid}" + ("_early" if early else "")
                              + (f"_d{g}" if len(by_delay) > 1 else "")
                              + (f"_m{r}" if r else ""))
                projs[name] = _projection(a, b, es, dt_ms, length_ms,
                                          lems_clock=len(delays) <= MAX_DELAY_GROUPS)
                if early:
                    projs[name]["early"] = True
    # Poisson inputs: a source per target cell, one population per input element
    targets: dict[str, list] = {}
    for (pop, i), lst in n.inputs.items():
        for inp, w, _el in lst:
            if tag(inp) == "poissonFiringSynapse":
                targets.setdefault(inp.get("id"), []).append((pop, i, w))
    for iid, tl in targets.items():
        inp = doc.components[iid]
        rate = attr_si(inp, "averageRate", "per_time")
        if not rate > 0:
            raise error(inp, f"averageRate {inp.get('averageRate')!r}; allowed: > 0 per_s")
        lo, hi, _ = default_bounds(rate, "rate")
        rname = declare(f"{_ident(iid)}_averageRate",
                        {"default": f"{rate!r} Hz", "low": f"{lo!r} Hz", "high": f"{hi!r} Hz",
                         "hard_low": "0 Hz", "description": f"averageRate of "
                         f"poissonFiringSynapse {iid} ({where(inp)})"}, inp)
        src = _ident(f"{iid}_sources")
        pops[src] = {"kind": "poisson", "size": len(tl), "rate": rname}
        syn = _synapse_element(inp, doc.component(inp.get("synapse"), inp))
        by_post: dict[str, list] = {}
        for k, (pop, i, w) in enumerate(tl):
            name, loc = locate[(pop, i)]
            # jLEMS: an input's event acts after its synapse's step (felt in the next step):
            # as the engine's event, so no delay
            by_post.setdefault(name, []).append((k, loc, w, dt_ms, syn))
        for post, es in by_post.items():
            projs[_ident(f"{iid}_to_{post}")] = _projection(src, post, es, dt_ms, length_ms)
    desc = {"name": _ident(net.get("id")),
            "description": f"NeuroML2 network {net.get('id')} of {where(net)}",
            "parameters": params, "populations": pops, "projections": projs,
            "outputs": outputs or None,
            "settings": {"duration": f"{length_ms!r} ms", "dt": f"{dt_ms!r} ms",
                         "note": "NeuroML2 network in jLEMS's order where the engine allows "
                                 "it (docs/neuroml.md)"}}
    if not outputs:
        raise error(net, "no population of cells (only spike sources); allowed: a network "
                    "with integrate-and-fire cells")
    return desc, cell_map


def _stimulus_block(inp, w: float, declare) -> dict:
    """A population's stimulus entry for input element ``inp`` with weight ``w``."""
    kind = STIM_INPUTS[tag(inp)]
    iid = _ident(inp.get("id"))
    at = f"{tag(inp)} {inp.get('id')} ({where(inp)})"

    def par(attr: str, dim: str, scaled: bool = False) -> str:
        if dim == "current" and tag(inp).endswith("DL"):
            dim = "none"
        entry, _, _ = parameter_entry(inp, attr, dim, at)
        name = declare(f"{iid}_{attr}", entry, inp)
        return f"{w!r}*{name}" if scaled and w != 1.0 else name

    blk = {"kind": kind, "read": "end", "delay": par("delay", "time"),
           "duration": par("duration", "time")}
    if kind == "pulse":
        blk["amplitude"] = par("amplitude", "current", True)
    elif kind == "ramp":
        blk["start_amplitude"] = par("startAmplitude", "current", True)
        blk["finish_amplitude"] = par("finishAmplitude", "current", True)
        blk["baseline"] = par("baselineAmplitude", "current", True)
    else:
        blk["amplitude"] = par("amplitude", "current", True)
        blk["period"] = par("period", "time")
        blk["phase"] = par("phase", "none")
    return blk


def jlems_steps(span_ms: float, dt_ms: float, length_ms: float, what: str) -> int:
    """The steps jLEMS takes to pass ``span_ms`` after an event, the count most steps of a run
    of ``length_ms`` give: its t is accumulated as t += dt in seconds (Sim.run), so where the
    span is a whole number of steps the count is that number or one more, event by event.
    ``held``: the steps a refractory regime holds V (it leaves at the first step whose t
    exceeds lastSpikeTime + refract); ``deliver``: the steps after which a delayed event is
    delivered (the first step with send time + delay <= t)."""
    dt_s, span_s = dt_ms * 1e-3, span_ms * 1e-3
    n = int(round(length_ms / dt_ms)) + 1
    t = np.add.accumulate(np.full(n + int(span_ms / dt_ms) + 4, dt_s))
    side = "right" if what == "held" else "left"
    k = np.searchsorted(t, t[:n] + span_s, side=side) - np.arange(n)
    vals, counts = np.unique(k, return_counts=True)
    return int(vals[np.argmax(counts)])


def _projection(pre: str, post: str, edges: list, dt_ms: float, length_ms: float,
                lems_clock: bool = False) -> dict:
    """A projection of explicit pairs (pre, post, weight, delay ms, synapse element): the
    weight added to the synapse's states at each event; the delay one step shorter than the
    file's (jLEMS delivers a delayed event before the cells step, the engine after)."""
    syn = edges[0][4]
    pre_i = np.array([e[0] for e in edges], dtype=np.int64)
    post_i = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges], dtype=float)
    d = np.array([e[3] for e in edges], dtype=float)
    if lems_clock and np.all(d == d[0]) and d[0] > 0:  # the engine's jLEMS clock
        d_lems = float(d[0])
    else:
        d_lems = None
    # jLEMS delivers an event D steps after its spike (jlems_steps), before the cells step;
    # the engine's event of delay m steps acts after them: m = D - 1 steps, written as m dt
    steps = {x: max(jlems_steps(x, dt_ms, length_ms, "deliver") - 1, 0) if x > 0 else 0
             for x in set(d.tolist())}
    d = np.array([steps[x] for x in d.tolist()], dtype=float) * dt_ms
    proj = {"pre": pre, "post": post,
            "connect": {"pairs": np.vstack([pre_i, post_i]), "autapses": pre == post}}
    values = {}
    if np.all(w == w[0]):
        wt = repr(float(w[0]))
    else:
        values["weight"] = w
        proj["model"] = "w : 1"
        proj["initial"] = {"w": "weight"}
        wt = "w"
    proj["on_pre"] = "\n".join(f"{s}_post += {wt}" for s in _increment_states(syn))
    if d_lems is not None:
        proj["delay"] = f"{d_lems!r} ms"
        proj["delay_clock"] = "lems"
    elif np.all(d == d[0]):
        proj["delay"] = f"{float(d[0])!r} ms"
    else:
        values["delay_ms"] = {"values": d, "unit": "ms"}
        proj["delay"] = "delay_ms"
    if values:
        proj["connect"]["values"] = values
    return proj


_NETWORKS: dict = {}


def load_network(path: str | Path, network_id: str | None = None):
    """The NetworkModel of a NeuroML2 network (``network_description``), with
    ``.neuroml_cells`` = {NeuroML population: [(population, local index) per cell]} and
    ``.lems_step_ms`` (a spike in engine step k is jLEMS's time (k + 1) dt)."""
    from neuroscape.models.contract import ModelSource
    from neuroscape.models.network.description import network_model

    p = Path(path).expanduser()
    if not p.is_file():
        raise NeuroMLError(f"{path}: no such NeuroML file")
    source = ModelSource.of(p, network_id or "")
    key = (source.file, source.sha256, network_id)
    if key in _NETWORKS:
        return _NETWORKS[key]
    desc, cell_map = network_description(p, network_id)
    model = network_model(desc, folder=p.parent)
    object.__setattr__(model, "neuroml_cells", cell_map)
    source.stamp(model)
    _NETWORKS[key] = model
    return model


def spike_times(model, result_spikes, dt_ms: float) -> dict:
    """{NeuroML population: {index: spike times in ms, jLEMS's time (k + 1) dt}} of one row's
    spikes (times ms, global neuron index) from the engine."""
    times, idx = result_spikes
    offsets, off = {}, 0
    for p in model.populations:
        offsets[p.name] = off
        off += p.size
    out: dict = {}
    for pop, cells in model.neuroml_cells.items():
        out[pop] = {}
        for i, (name, k) in enumerate(cells):
            g = offsets[name] + k
            out[pop][i] = np.sort(times[idx == g]) + dt_ms
    return out


__all__ = ["load_network", "network_description", "spike_times"]
