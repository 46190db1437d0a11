"""A LEMS ``<Simulation>`` of single cells (populations of unconnected cells with current
inputs) mapped onto neuroscape's neuron runs: what to run (one batch per population and
stimulus kind), and what the file asks to be written (OutputFile, EventOutputFile). Running and
writing are the command line's (``neuroscape.cli.neuroml_cmds``); a network with connections
keeps them in ``LemsSimulation.connections`` and runs through ``lems_network.run_network``.

jLEMS's order within a step (jNeuroML's reference simulator, Cannon et al. 2014): inputs first,
then a forward Euler step of every state, then the conditions (threshold: reset on the grid).
The mapped models reproduce it: forward Euler at the file's step, spikes and resets on the step
grid, V held in a refractory regime for floor(refract/dt) + 1 steps (jLEMS leaves its refractory
regime at the first step start after lastSpikeTime + refract, and V is not integrated in the
step that tests it) -- so refract is run as (floor(refract/dt) + 2) dt, neuroscape's engine
counting the reset step as the first refractory one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from neuroscape.models.neuroml.cells import ABSTRACT_CELLS, LEMS_DT
from neuroscape.models.neuroml.core_types import NeuroMLError, quantity_si, type_info
from neuroscape.models.neuroml.document import (
    Document,
    attr_si,
    error,
    read_document,
    tag,
    where,
)

INPUTS = ("pulseGenerator", "pulseGeneratorDL", "rampGenerator", "rampGeneratorDL")
# inputs the LEMS network runner evaluates itself (integrate-and-fire type cells: lems_iaf.py)
RUNNER_INPUTS = ("sineGenerator", "poissonFiringSynapse")
# populations of spike sources (no cell; lems_iaf.py): spikeGenerator (Inputs.xml)
SPIKE_SOURCES = ("spikeGenerator",)
REFUSED_INPUTS = ("sineGeneratorDL", "spikeGenerator", "voltageClamp", "compoundInput",
                  "timedSynapticInput", "spikeArray", "transientPoissonFiringSynapse",
                  "spikeGeneratorPoisson")  # fmt: skip
NETWORK_REFUSED = ("continuousProjection", "electricalProjection")
# synapses a connection may name: conductance-based, i = g (erev - v) (lems_network.py), and
# current-based (i = I; PyNN.xml's expCurrSynapse and alphaCurrSynapse, Synapses.xml's
# alphaCurrentSynapse: onto integrate-and-fire cells, lems_iaf.py)
COND_SYNAPSES = ("expOneSynapse", "expTwoSynapse", "alphaSynapse", "blockingPlasticSynapse")
CURRENT_SYNAPSES = ("expCurrSynapse", "alphaCurrSynapse", "alphaCurrentSynapse")
SYNAPSES = COND_SYNAPSES + CURRENT_SYNAPSES
EVENT_FORMATS = ("TIME_ID", "ID_TIME")


@dataclass
class PopulationRun:
    """One batch: rows ``indices`` of population ``population`` (cells of ``component``), the
    model, each row's parameter values, and the stimulus (kind, per-row field values)."""

    population: str
    component: str
    model: object
    indices: list[int]
    params: list[dict]
    stim_kind: str
    stim_rows: list[dict]
    refract_ms: float | None = None  # the file's refractory period (a cell with Regimes)
    refract_s: float = 0.0  # the same, the double jLEMS compares (SI)


@dataclass
class Column:
    id: str
    population: str
    index: int
    state: str
    si_factor: float  # one unit of the state's declared unit, in SI


@dataclass
class OutputFile:
    id: str
    file_name: str
    columns: list[Column]


@dataclass
class EventOutputFile:
    id: str
    file_name: str
    format: str
    selections: list[tuple[str, str, int]]  # (id, population, index)


@dataclass
class Connection:
    """One synaptic connection: a spike of pre_pop[pre] reaches a new instance of synapse
    element ``synapse`` on post_pop[post] after ``delay_ms``, scaled by ``weight``."""

    pre_pop: str
    pre: int
    post_pop: str
    post: int
    synapse: object
    weight: float
    delay_ms: float
    el: object


@dataclass
class LemsSimulation:
    path: str
    id: str
    length_ms: float
    step_ms: float
    runs: list[PopulationRun] = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    event_outputs: list[EventOutputFile] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    sizes: dict = field(default_factory=dict)  # population -> size, in declaration order
    step_s: float = 0.0  # the step as jLEMS reads it (SI double)
    seed: int = 0  # the Simulation's seed (neuroscape's own draws of Poisson inputs)
    sources: dict = field(default_factory=dict)  # population -> (spikeGenerator, period in s)

    @property
    def runner_inputs(self) -> bool:
        """Inputs only the LEMS network runner evaluates (sine, Poisson synapses, spike
        sources)."""
        return bool(self.sources) or any(r.stim_kind in ("sine", "poisson_synapse")
                                         for r in self.runs)  # fmt: skip


def _time_ms(el, attr: str) -> float:
    return attr_si(el, attr, "time") * 1e3


_TARGET = re.compile(r"^(?:\.\./)?(\w+)(?:\[(\d+)\]|/(\d+)(?:/\w+)?)$")


def _target(el, text: str | None) -> tuple[str, int]:
    m = _TARGET.match(text or "")
    if m is None:
        raise error(el, f"target {text!r}; allowed: 'pop[i]' or '../pop/i/cell'")
    return m.group(1), int(m.group(2) if m.group(2) is not None else m.group(3))


def cell_type(el, doc: Document) -> str:
    t = tag(el)
    if t == "Component":
        t = el.get("type")
    if t in doc.custom_types:
        ct = doc.custom_types[t]
        raise error(el, f"ComponentType {t!r} is a custom LEMS definition "
                    f"({where(ct)}): its Dynamics cannot be mapped; allowed: "
                    f"{', '.join(ABSTRACT_CELLS)}, pointCellCondBased, cell")
    if tag(el) == "Component":
        raise error(el, f"write it as <{t} .../> (NeuroML syntax) to import it")
    return t


def cell_fields(el, doc: Document, *, lems_semantics: bool = False, bias: bool = False) -> dict:
    """The ``equation_model`` fields of any supported NeuroML2 cell element."""
    from neuroscape.models.neuroml.cells import abstract_cell_fields
    from neuroscape.models.neuroml.conductance import COND_CELLS, conductance_cell_fields

    t = cell_type(el, doc)
    if t in ABSTRACT_CELLS:
        return abstract_cell_fields(el, lems_semantics=lems_semantics, bias=bias)
    if t in COND_CELLS:
        return conductance_cell_fields(el, doc, lems_semantics=lems_semantics, bias=bias)
    if t in ("ionChannelKS",) or t.startswith("gateKS"):
        raise error(el, "a KineticScheme channel cannot be mapped")
    raise error(el, f"{t!r} is not a cell neuroscape can map; allowed: "
                f"{', '.join((*ABSTRACT_CELLS, 'pointCellCondBased', 'cell'))}")


def _step_index(t_ms: float, step_ms: float, n_steps: int) -> int:
    """The first step k (0-based) whose jLEMS time, the end of the step accumulated in seconds
    as ``t += dt`` (jLEMS's Sim.run), is >= ``t_ms``; n_steps + 1 if none."""
    import numpy as np

    t = np.add.accumulate(np.full(n_steps + 2, step_ms * 1e-3))
    return int(np.searchsorted(t, t_ms * 1e-3, side="left"))


def _stimulus(inp, cur_unit: str, weight: float, step_ms: float = 0.0,
              n_steps: int = 0) -> tuple[str, dict, float]:
    """(kind, fields in the model's units, constant bias current) of an input element. With
    ``step_ms`` > 0 (a LEMS Simulation), the times are those of jLEMS's order: step k -> k+1
    reads the input at the step's END time (Sim.run advances with t already incremented,
    accumulated as t += dt in seconds), so an input is on in the steps whose end time is in
    [delay, delay + duration), with its value at that time; neuroscape reads a stimulus at
    the step's midpoint, so the edges are put at those steps' starts and a ramp's ends are
    the values at the first and last-plus-one steps' ends."""
    t = tag(inp)
    allowed = ", ".join((*INPUTS, *RUNNER_INPUTS))
    if t in REFUSED_INPUTS:
        raise error(inp, f"input {t!r} cannot be mapped to neuroscape's stimuli yet; allowed: "
                    f"{allowed}")
    if t not in INPUTS + RUNNER_INPUTS:
        raise error(inp, f"input type {t!r} cannot be mapped; allowed: {allowed}")
    if t == "sineGenerator":  # jLEMS's value at each step's end time: lems_iaf.input_values
        if cur_unit == "1":
            raise error(inp, f"{t} drives a current in amperes; the cell's current is "
                        "dimensionless")
        return "sine", {"delay_s": attr_si(inp, "delay", "time"),
                        "duration_s": attr_si(inp, "duration", "time"),
                        "period_s": attr_si(inp, "period", "time"),
                        "amp_pA": weight * attr_si(inp, "amplitude", "current") * 1e12,
                        "phase": attr_si(inp, "phase", "none")}, 0.0
    if t == "poissonFiringSynapse":  # its own synapse, driven by Poisson events (lems_iaf)
        if cur_unit == "1":
            raise error(inp, f"{t} drives a current in amperes; the cell's current is "
                        "dimensionless")
        rate = attr_si(inp, "averageRate", "per_time")
        if not rate > 0:
            raise error(inp, f"averageRate {inp.get('averageRate')!r}; allowed: > 0 per_s")
        return "poisson_synapse", {"rate_hz": rate, "synapse": inp.get("synapse"),
                                   "weight": weight, "el": inp}, 0.0
    dl = t.endswith("DL")
    if dl != (cur_unit == "1"):
        raise error(inp, f"{t} drives a current in {'no unit' if dl else 'amperes'}; the cell's "
                    f"current is in {cur_unit!r} (use the {'non-' if dl else ''}DL input)")

    def amp(attr):
        raw = inp.get(attr)
        try:
            v, dim = quantity_si(raw)
        except (TypeError, ValueError):
            raise error(inp, f"{attr}={raw!r}; allowed: a current like '0.1nA'") from None
        if dim != ("none" if dl else "current"):
            raise error(inp, f"{attr}={raw!r} is a {dim} quantity")
        return weight * (v if dl else v * 1e12)  # pA

    on = _time_ms(inp, "delay")
    off = on + _time_ms(inp, "duration")
    pulse = t.startswith("pulse")
    base = 0.0 if pulse else amp("baselineAmplitude")
    a0 = amp("amplitude") if pulse else amp("startAmplitude") - base
    a1 = a0 if pulse else amp("finishAmplitude") - base
    if step_ms > 0:
        # jLEMS reads the input at the step's end, t accumulated; neuroscape at its midpoint:
        # steps k_on..k_off-1 are on, each with the value at its end time
        k_on = _step_index(on, step_ms, n_steps)
        k_off = _step_index(off, step_ms, n_steps)
        if k_on >= k_off:  # on in no step: a zero input keeps the row's kind
            return "step", {"amp": 0.0, "t_on": 0.0, "t_off": math.inf}, base
        slope = (a1 - a0) / (off - on)
        # neuroscape's line at t' (a step's midpoint) = jLEMS's at t' + dt / 2 (its end)
        a0, a1 = (a0 + slope * ((k + 0.5) * step_ms - on) for k in (k_on, k_off))
        on, off = k_on * step_ms, k_off * step_ms
    if pulse:
        return "step", {"amp": a0, "t_on": on, "t_off": off}, 0.0
    return "ramp", {"amp0": a0, "amp1": a1, "t_on": on, "t_off": off}, base  # fmt: skip


def network_elements(doc: Document, net) -> tuple[dict, dict, list[Connection], dict]:
    """(cells per population, component per population, connections, inputs per cell
    (pop, i) -> [(input element, weight, element)]) of a <network>: populations,
    explicitInput and inputList, synapticConnection(WD) and the connection(WD) elements of
    projections (weights, delays in ms), every connected cell checked against its
    population. Shared by the LEMS runners and the network engine's mapping
    (``network_map``); each refuses the rest in its own terms."""
    sizes: dict[str, int] = {}
    comps: dict[str, object] = {}
    inputs: dict[tuple[str, int], list] = {}
    connections: list[Connection] = []
    for el in net:
        t = tag(el)
        if t in ("population", "populationList"):
            comp = doc.component(el.get("component"), el)
            if t == "population" and el.get("size") is not None:
                n = int(el.get("size"))
            else:
                n = len([c for c in el if tag(c) == "instance"])
            sizes[el.get("id")] = n
            comps[el.get("id")] = comp
        elif t == "explicitInput":
            pop, i = _target(el, el.get("target"))
            inputs.setdefault((pop, i), []).append((doc.component(el.get("input"), el), 1.0, el))
        elif t == "inputList":
            comp = doc.component(el.get("component"), el)
            for c in el:
                if tag(c) in ("input", "inputW"):
                    pop, i = _target(c, c.get("target"))
                    if pop != el.get("population"):
                        raise error(c, f"target population {pop!r} is not the inputList's "
                                    f"{el.get('population')!r}")
                    w = float(c.get("weight", "1"))
                    inputs.setdefault((pop, i), []).append((comp, w, c))
        elif t in ("synapticConnection", "synapticConnectionWD"):
            pre, i = _cell_id(el, el.get("from"))
            post, j = _cell_id(el, el.get("to"))
            wd = t.endswith("WD")
            w = float(el.get("weight", "1")) if wd else 1.0
            d = _time_ms(el, "delay") if wd else 0.0
            connections.append(Connection(pre, i, post, j, _synapse(el, doc), w, d, el))
        elif t == "projection":
            syn = _synapse(el, doc)
            for c in el:
                ct = tag(c)
                if ct in ("notes", "annotation", "property"):
                    continue
                if ct not in ("connection", "connectionWD"):
                    raise error(c, f"<{ct}> in a projection cannot be mapped; allowed: "
                                "connection, connectionWD")
                pre, i = _cell_id(c, c.get("preCellId"))
                post, j = _cell_id(c, c.get("postCellId"))
                for end, pop, want in (("pre", pre, "presynapticPopulation"),
                                       ("post", post, "postsynapticPopulation")):
                    if pop != el.get(want):
                        raise error(c, f"{end} cell in {pop!r}, not the projection's {want} "
                                    f"{el.get(want)!r}")
                for a in ("preSegmentId", "postSegmentId"):
                    if c.get(a, "0") != "0":
                        raise error(c, f"{a}={c.get(a)!r}; allowed: 0 (single-compartment "
                                    "cells)")
                w = float(c.get("weight", "1")) if ct == "connectionWD" else 1.0
                d = _time_ms(c, "delay") if ct == "connectionWD" else 0.0
                connections.append(Connection(pre, i, post, j, syn, w, d, c))
        elif t in NETWORK_REFUSED or t.endswith("Projection"):
            raise error(el, f"<{t}> cannot be mapped (gap junctions and continuous connections "
                        "are not in neuroscape's networks); allowed: projection, "
                        "synapticConnection")
        elif t in ("notes", "annotation", "property", "region"):
            continue
        else:
            raise error(el, f"<{t}> in a network cannot be mapped")
    for c in connections:
        for pop, i in ((c.pre_pop, c.pre), (c.post_pop, c.post)):
            if pop not in sizes or not 0 <= i < sizes[pop]:
                raise error(c.el, f"cell {pop}[{i}] is not in network {net.get('id')!r}")
    return sizes, comps, connections, inputs


def read_lems_simulation(path: str) -> LemsSimulation:
    """The runs and outputs of a LEMS file's ``<Simulation>`` (its <Target>, or its only one)."""
    from neuroscape.models.equations import equation_model
    from neuroscape.models.equations.expressions import parse_unit

    doc = read_document(path)
    if not doc.simulations:
        raise NeuroMLError(f"{path}: no <Simulation> element (neuroscape simulate runs a LEMS "
                           "file's Simulation)")
    sim = None
    for tgt in doc.targets:
        sim = doc.simulations.get(tgt.get("component"))
        if sim is None:
            raise error(tgt, f"<Target component={tgt.get('component')!r}> names no Simulation")
    if sim is None:
        if len(doc.simulations) > 1:
            raise NeuroMLError(f"{path}: {len(doc.simulations)} Simulations and no <Target>")
        sim = next(iter(doc.simulations.values()))
    length, step = _time_ms(sim, "length"), _time_ms(sim, "step")
    if not (step > 0 and length > step):
        raise error(sim, f"step {step:g} ms and length {length:g} ms; allowed: 0 < step < length")
    try:
        seed = int(sim.get("seed", "0"))
    except ValueError:
        raise error(sim, f"seed={sim.get('seed')!r}; allowed: an integer") from None
    out = LemsSimulation(doc.path, sim.get("id"), length, step,
                         step_s=attr_si(sim, "step", "time"), seed=abs(seed))
    net = doc.component(sim.get("target"), sim)
    if tag(net) != "network":
        raise error(net, "the Simulation's target must be a <network>")

    sizes, comps, out.connections, inputs = network_elements(doc, net)
    for c in out.connections:
        t = tag(comps[c.post_pop])
        if t in SPIKE_SOURCES:
            raise error(c.el, f"a connection onto {t} {comps[c.post_pop].get('id')!r}: a spike "
                        "source has no synapses")
        if t in ABSTRACT_CELLS and "synapses" not in type_info(t).attachments:
            raise error(c.el, f"{t} {comps[c.post_pop].get('id')!r} has no synaptic attachment: "
                        "a synapse cannot drive it (as in NeuroML2)")
    out.sizes = dict(sizes)
    for (pop, i), lst in inputs.items():
        if pop not in sizes:
            raise error(lst[0][2], f"target population {pop!r} is not in network "
                        f"{net.get('id')!r}")
        if not 0 <= i < sizes[pop]:
            raise error(lst[0][2], f"target {pop}[{i}]: population {pop} has {sizes[pop]} cells")
        if len(lst) > 1:
            raise error(lst[1][2], f"a second input on {pop}[{i}]: neuroscape's stimulus is one "
                        "input per cell")

    models: dict[tuple[str, bool], object] = {}
    for pop, comp in comps.items():
        if tag(comp) in SPIKE_SOURCES:  # no cell: its spikes (lems_iaf)
            if any(p == pop for p, _ in inputs):
                raise error(next(x[0][2] for k, x in inputs.items() if k[0] == pop),
                            f"an input to {tag(comp)} {comp.get('id')!r}: a spike source "
                            "takes no input")
            per = attr_si(comp, "period", "time")
            if not per > 0:
                raise error(comp, f"period {comp.get('period')!r}; allowed: > 0 s")
            out.sources[pop] = (comp, per)
            continue
        rows = []
        for i in range(sizes[pop]):
            got = inputs.get((pop, i))
            rows.append(got[0] if got else None)
        fields = cell_fields(comp, doc, lems_semantics=True)
        cur_unit = fields["current"]["unit"]
        has_syn = not fields["current"]["name"].startswith("I_drive")
        stims = []
        for r in rows:
            if r is None:
                stims.append(("step", {"amp": 0.0, "t_on": 0.0, "t_off": math.inf}, 0.0))
                continue
            if not has_syn:
                raise error(r[2], f"{tag(comp)} {comp.get('id')!r} has no synaptic attachment: "
                            "inputs cannot drive it (as in NeuroML2)")
            stims.append(_stimulus(r[0], cur_unit, r[1], step, int(round(length / step))))
            if stims[-1][0] == "poisson_synapse":  # the synapse element it drives
                f = stims[-1][1]
                f["synapse"] = _synapse_element(r[0], doc.component(f["synapse"], r[0]))
                if any(tag(c) == "plasticityMechanism" for c in f["synapse"]):
                    raise error(r[0], f"poissonFiringSynapse with synapse "
                                f"{f['synapse'].get('id')!r}: short-term plasticity in an "
                                "input's synapse cannot be mapped yet; allowed: in connections")
        bias = any(s[2] != 0.0 for s in stims)
        key = (comp.get("id"), bias)
        if key not in models:
            f = cell_fields(comp, doc, lems_semantics=True, bias=bias)
            f["settings"] = {**f["settings"], "dt": f"{step!r} ms",
                             "duration": f"{length!r} ms", "max_dt": f"{max(step, 1.0)!r} ms"}
            models[key] = equation_model(**f)
        model = models[key]
        defaults = {p.name: p.default for p in model.spec.parameters}
        if LEMS_DT in defaults:
            defaults[LEMS_DT] = step
        ref = model.refractory_param
        refract = None if ref is None else defaults[ref]
        refract_s = 0.0
        if ref is not None:  # the double jLEMS compares: SI, or PyNN's number times 1 ms
            dim = type_info(tag(comp)).parameters.get(ref)
            refract_s = (attr_si(comp, ref, "time") if dim == "time"
                         else attr_si(comp, ref, "none") * quantity_si("1ms")[0])
        if ref is not None:  # jLEMS's regime timing (module docstring)
            defaults[ref] = (_held_steps(defaults[ref], step, length) + 1) * step
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(stims):
            groups.setdefault(s[0], []).append(i)
        for kind, idx in groups.items():
            params = []
            for i in idx:
                p = dict(defaults)
                if bias:
                    p["I_bias"] = stims[i][2]
                params.append(p)
            out.runs.append(PopulationRun(pop, comp.get("id"), model, idx, params, kind,
                                          [stims[i][1] for i in idx], refract, refract_s))

    factors = {}
    for run in out.runs:
        m = run.model
        factors[run.population] = {
            s: float(parse_unit(u).factor) if u != "1" else 1.0
            for s, u in zip(m.states, m.state_units, strict=True)
        }
    for el in sim:
        t = tag(el)
        if t == "OutputFile":
            cols = []
            for c in el:
                if tag(c) != "OutputColumn":
                    continue
                pop, i, state = _quantity(c, c.get("quantity"), sizes, factors)
                cols.append(Column(c.get("id"), pop, i, state, factors[pop][state]))
            out.outputs.append(OutputFile(el.get("id"), el.get("fileName"), cols))
        elif t == "EventOutputFile":
            fmt = el.get("format", "TIME_ID")
            if fmt not in EVENT_FORMATS:
                raise error(el, f"format {fmt!r}; allowed: {', '.join(EVENT_FORMATS)}")
            sels = []
            for c in el:
                if tag(c) != "EventSelection":
                    continue
                if c.get("eventPort", "spike") != "spike":
                    raise error(c, f"eventPort {c.get('eventPort')!r}; allowed: spike")
                pop, i = _cell_ref(c, c.get("select"), sizes)
                sels.append((c.get("id"), pop, i))
            out.event_outputs.append(EventOutputFile(el.get("id"), el.get("fileName"), fmt, sels))
        elif t in ("Display", "Record", "Meta", "DataWriter", "notes"):
            continue  # figures are jNeuroML's GUI; -nogui ignores them as well
        else:
            raise error(el, f"<{t}> in a Simulation cannot be mapped; allowed: OutputFile, "
                        "EventOutputFile, Display (ignored)")
    return out


def _held_steps(refract_ms: float, step_ms: float, length_ms: float) -> int:
    """The number of steps jLEMS holds V after a spike: it leaves the refractory regime at the
    first step whose time t exceeds lastSpikeTime + refract, its t accumulated as t += dt
    (jLEMS's Sim.run). Where refract is a whole number of steps that comparison depends on the
    rounding of t, spike by spike (refract/dt or refract/dt + 1 steps): the count most steps
    of the run give is taken (the engine holds one count per cell)."""
    import numpy as np

    n = int(round(length_ms / step_ms)) + 2
    t = np.add.accumulate(np.full(n + int(refract_ms / step_ms) + 4, step_ms))
    k = np.searchsorted(t, t[:n] + refract_ms, side="right") - np.arange(n)
    vals, counts = np.unique(k, return_counts=True)
    return int(vals[np.argmax(counts)])


_CELL_ID = re.compile(r"^(?:\.\./)?(\w+)(?:\[(\d+)\]|/(\d+)(?:/\w+)?)$")


def _cell_id(el, text: str | None) -> tuple[str, int]:
    """(population, index) of a connection's cell ('pop[i]', '../pop[i]', '../pop/i/cell')."""
    m = _CELL_ID.match(text or "")
    if m is None:
        raise error(el, f"cell {text!r}; allowed: 'pop[i]', '../pop[i]' or '../pop/i/cell'")
    return m.group(1), int(m.group(2) if m.group(2) is not None else m.group(3))


def _synapse(el, doc: Document):
    """The synapse element a connection or projection names (refused unless mappable)."""
    if el.get("destination", "synapses") != "synapses":
        raise error(el, f"destination={el.get('destination')!r}; allowed: synapses")
    return _synapse_element(el, doc.component(el.get("synapse"), el))


def _synapse_element(el, syn):
    t = tag(syn)
    if t not in SYNAPSES:
        raise error(syn, f"synapse type {t!r} cannot be mapped in a network yet; allowed: "
                    f"{', '.join(SYNAPSES)}")
    for c in syn:
        if tag(c) in ("notes", "annotation", "property"):
            continue
        if t == "blockingPlasticSynapse" and tag(c) == "plasticityMechanism":
            from neuroscape.models.neuroml.plasticity import MECHANISMS

            if c.get("type") not in MECHANISMS:
                raise error(c, f"plasticityMechanism type {c.get('type')!r}; allowed: "
                            f"{', '.join(MECHANISMS)}")
            continue
        if t == "blockingPlasticSynapse" and tag(c) == "blockMechanism":
            raise error(c, f"<blockMechanism> of synapse {syn.get('id')!r} (a voltage-"
                        "dependent block) cannot be mapped yet; allowed: plasticityMechanism")
        raise error(c, f"<{tag(c)}> of synapse {syn.get('id')!r} cannot be mapped (NeuroML2 "
                    "defines plasticityMechanism children only for blockingPlasticSynapse); "
                    f"allowed: plain {', '.join(SYNAPSES)}")
    return syn


def _cell_ref(el, text: str | None, sizes: dict) -> tuple[str, int]:
    m = re.match(r"^(\w+)\[(\d+)\]$", text or "") or re.match(r"^(\w+)/(\d+)/\w+$", text or "")
    if m is None:
        raise error(el, f"select {text!r}; allowed: 'pop[i]' or 'pop/i/cell'")
    pop, i = m.group(1), int(m.group(2))
    if pop not in sizes or not 0 <= i < sizes[pop]:
        raise error(el, f"{text!r}: no such cell in the network")
    return pop, i


def _quantity(el, text: str | None, sizes: dict, factors: dict) -> tuple[str, int, str]:
    """(population, index, state) of an OutputColumn quantity ('pop[0]/v', 'pop/0/cell/v',
    'pop[0]/naChans/na/m/q')."""
    text = text or ""
    m = re.match(r"^(\w+)\[(\d+)\]/(.+)$", text) or re.match(r"^(\w+)/(\d+)/\w+/(.+)$", text)
    if m is None:
        raise error(el, f"quantity {text!r}; allowed: 'pop[i]/VARIABLE'")
    pop, i, rest = m.group(1), int(m.group(2)), m.group(3)
    if pop not in sizes or not 0 <= i < sizes[pop]:
        raise error(el, f"quantity {text!r}: no such cell in the network")
    parts = rest.split("/")
    if len(parts) == 1:
        state = parts[0]
    elif len(parts) == 4 and parts[3] == "q":  # channel population / channel / gate / q
        state = f"{parts[0]}_{parts[2]}"
    else:
        state = None
    if state not in factors.get(pop, {}):
        have = ", ".join(factors.get(pop, {}))
        raise error(el, f"quantity {text!r} is not a state of the mapped cell; allowed: {have}")
    return pop, i, state
