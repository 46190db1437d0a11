"""A LEMS network of single-compartment cells connected by conductance synapses, stepped in
jLEMS's order (jNeuroML's reference simulator; Cannon et al. 2014, Front. Neuroinform. 8:79).

jLEMS (Sim.run, StateInstance.advance, StateType.eulerAdvance, OutPort.send, EventManager):
- step k advances with t already incremented (t accumulated as ``t += dt`` in seconds); first
  the EventManager delivers the delayed events due (time + delay <= t), then every cell in the
  order of its population's declaration and its index;
- a cell advances its children first: each synapse attached to it (one instance per
  connection) computes its current i = g (erev - v) from its states before their Euler step
  and the cell's present v, then takes its own Euler step; then the cell sums the synapses' i
  and its input (read at t), takes its Euler step and tests its conditions;
- a spike (``v > thresh`` while armed; re-armed when ``v < thresh``) is sent at once: a
  connection without delay runs the synapse's OnEvent immediately (a post cell later in the
  order feels it in the same step, an earlier one in the next), a delayed one is queued.

Synapses (NeuroML2 Synapses.xml): expOneSynapse dg/dt = -g/tauDecay, g += w gbase;
expTwoSynapse g = gbase (B - A), dA/dt = -A/tauRise, dB/dt = -B/tauDecay, A, B += w factor
(factor = 1/(exp(-tp/tauDecay) - exp(-tp/tauRise)), tp the peak time); alphaSynapse
dg/dt = (e A - g)/tau, dA/dt = -A/tau, A += w gbase. Units inside: nS, mV, ms, pA.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from neuroscape.models.neuroml.document import attr_si, error, tag

E_ALPHA = 2.7182818284590451  # the constant written in Synapses.xml's alphaSynapse


def _q(el, attr: str, dim: str, scale: float) -> float:
    return attr_si(el, attr, dim) * scale


class Synapse:
    """One synapse instance: states, current (pA) at V (mV), Euler step (ms), event."""

    def __init__(self, el, weight: float, dt_s: float = 0.0) -> None:
        kind = tag(el)
        # blockingPlasticSynapse: expTwoSynapse's Dynamics, each event scaled by the
        # plasticityFactor it last evaluated (plasticity.py); no blockMechanism (refused)
        self.kind = "expTwoSynapse" if kind == "blockingPlasticSynapse" else kind
        self.plastic = None
        self.dt_s = dt_s
        if kind == "blockingPlasticSynapse":
            from neuroscape.models.neuroml.plasticity import Plasticity, has_plasticity

            if has_plasticity(el):
                self.plastic = Plasticity(el, 1)
        self.w = weight
        self.gbase = _q(el, "gbase", "conductance", 1e9)  # nS
        self.erev = _q(el, "erev", "voltage", 1e3)  # mV
        if self.kind == "expOneSynapse":
            self.tau = (_q(el, "tauDecay", "time", 1e3),)
        elif self.kind == "expTwoSynapse":
            tr, td = _q(el, "tauRise", "time", 1e3), _q(el, "tauDecay", "time", 1e3)
            if not 0 < tr < td:
                raise error(el, f"tauRise {tr:g} ms and tauDecay {td:g} ms; allowed: "
                            "0 < tauRise < tauDecay")
            tp = math.log(td / tr) * (tr * td) / (td - tr)
            self.factor = 1.0 / (-math.exp(-tp / tr) + math.exp(-tp / td))
            self.tau = (tr, td)
        else:  # alphaSynapse
            self.tau = (_q(el, "tau", "time", 1e3),)
        if min(self.tau) <= 0:
            raise error(el, "time constants must be > 0")
        self.s = [0.0, 0.0]  # expOne: g; expTwo: A, B; alpha: g, A

    def g(self) -> float:
        if self.kind == "expTwoSynapse":
            return self.gbase * (self.s[1] - self.s[0])
        return self.s[0]

    def advance(self, v: float, dt: float) -> float:
        """The current (pA) from the present states and V, then the states' Euler step (the
        plasticity mechanisms, its children, first)."""
        if self.plastic is not None:
            self.plastic.advance(self.dt_s)
        i = self.g() * (self.erev - v)
        s = self.s
        if self.kind == "expOneSynapse":
            s[0] = s[0] + dt * (-s[0] / self.tau[0])
        elif self.kind == "expTwoSynapse":
            da, db = -s[0] / self.tau[0], -s[1] / self.tau[1]
            s[0], s[1] = s[0] + dt * da, s[1] + dt * db
        else:
            dg, da = (E_ALPHA * s[1] - s[0]) / self.tau[0], -s[1] / self.tau[0]
            s[0], s[1] = s[0] + dt * dg, s[1] + dt * da
        return i

    def event(self) -> None:
        if self.plastic is not None:  # A, B += weight plasticityFactor waveformFactor
            f = float(self.plastic.factor[0])
            self.s[0] += self.w * f * self.factor
            self.s[1] += self.w * f * self.factor
            self.plastic.event(0)
            return
        if self.kind == "expOneSynapse":
            self.s[0] += self.w * self.gbase
        elif self.kind == "expTwoSynapse":
            self.s[0] += self.w * self.factor
            self.s[1] += self.w * self.factor
        else:
            self.s[1] += self.gbase * self.w


def _input_values(kind: str, f: dict, bias: float, n: int, dt: float) -> np.ndarray:
    """(n,) input current per step (the stimulus read at each step's midpoint, as the neuron
    engine reads it; simulation.py places the edges so that this is jLEMS's value)."""
    tm = (np.arange(n) + 0.5) * dt
    if kind == "step":
        on = (tm >= f["t_on"]) & (tm < f["t_off"])
        return np.where(on, f["amp"], 0.0) + bias
    on = (tm >= f["t_on"]) & (tm < f["t_off"])
    span = f["t_off"] - f["t_on"]
    val = f["amp0"] + (f["amp1"] - f["amp0"]) * (tm - f["t_on"]) / span
    return np.where(on, val, 0.0) + bias


def run_network(sim) -> dict:
    """Run a LemsSimulation with connections in jLEMS's order: {population: {"t_ms",
    "states" {i: (n_states, n_steps + 1)}, "spikes" {i: times in ms}}} (states recorded for
    every cell; row k holds the state after k steps, as jNeuroML writes a cell without
    Regimes)."""
    iaf = [r for r in sim.runs if r.model.has_reset or r.model.refractory_param is not None]
    if len(iaf) == len(sim.runs) and (iaf or sim.sources):
        from neuroscape.models.neuroml.lems_iaf import run_iaf_network

        return run_iaf_network(sim)
    if sim.sources or any(r.stim_kind == "poisson_synapse" for r in sim.runs):
        run = next(r for r in sim.runs if not (r.model.has_reset
                                               or r.model.refractory_param is not None))
        # the element to name: a Poisson input's, else a spike source's
        el = next((f["el"] for r in sim.runs if r.stim_kind == "poisson_synapse"
                   for f in r.stim_rows), None)  # fmt: skip
        el = el if el is not None else next(iter(sim.sources.values()))[0]
        raise error(el, f"poissonFiringSynapse inputs and spikeGenerator populations run with "
                    "integrate-and-fire type cells only (yet), not with "
                    f"{run.component!r} of population {run.population}; allowed with it: "
                    "pulse, ramp and sine generators")
    dt = sim.step_ms
    n = int(round(sim.length_ms / dt))
    t_s = np.add.accumulate(np.full(n, sim.step_s))  # jLEMS's t at the end of each step (s)
    cells = []  # in jLEMS's order: populations as declared, then index
    index = {}
    for pop, size in sim.sizes.items():
        for i in range(size):
            run = next(r for r in sim.runs if r.population == pop and i in r.indices)
            m = run.model
            if m.has_reset or m.refractory_param is not None:
                raise error(next(c.el for c in sim.connections),
                            f"cell {pop}[{i}] ({run.component}) is an integrate-and-fire "
                            "type in a network with conductance-based cells; allowed: "
                            "networks of one kind (integrate-and-fire types, or "
                            "pointCellCondBased and one-segment cells)")
            j = run.indices.index(i)
            p = np.array([run.params[j][nm] for nm in m.spec.parameter_names], dtype=float)
            y = np.asarray(m.initial_state(p[None, :]), dtype=float)[0].copy()
            if run.stim_kind == "sine":  # at each step's end time, as jLEMS reads it
                from neuroscape.models.neuroml.lems_iaf import sine_values

                stim = sine_values(run.stim_rows[j], t_s)
            else:  # a ramp's baseline is I_bias, in the equations
                stim = _input_values(run.stim_kind, run.stim_rows[j], 0.0, n, dt)
            index[(pop, i)] = len(cells)
            cells.append({"pop": pop, "i": i, "model": m, "rhs": m.functions().rhs,
                          "p": tuple(p), "y": y, "stim": stim, "syn": [], "out": [],
                          "level": float(m.spike_level), "armed": True,
                          "rec": np.empty((len(y), n + 1)), "spikes": []})  # fmt: skip
            cells[-1]["rec"][:, 0] = y
    for c in sim.connections:
        post = cells[index[(c.post_pop, c.post)]]
        s = Synapse(c.synapse, c.weight, sim.step_s)
        post["syn"].append(s)
        if c.delay_ms < 0:
            raise error(c.el, f"delay {c.delay_ms:g} ms; allowed: >= 0 ms")
        cells[index[(c.pre_pop, c.pre)]]["out"].append((s, c.delay_ms * 1e-3))
    queue: list = []  # (due time in s, order, synapse)
    order = 0
    for k in range(n):
        t = t_s[k]
        while queue and queue[0][0] <= t:  # EventManager.advance(t): due events first
            heapq.heappop(queue)[2].event()
        for c in cells:
            y = c["y"]
            v = y[0]
            cur = c["stim"][k]
            for s in c["syn"]:
                cur += s.advance(v, dt)
            d = c["rhs"](*y, cur, *c["p"])
            for q in range(len(y)):
                y[q] += dt * d[q]
            c["rec"][:, k + 1] = y
            if y[0] > c["level"] and c["armed"]:
                c["armed"] = False
                c["spikes"].append(t * 1e3)
                for s, delay in c["out"]:
                    if delay <= 0:
                        s.event()
                    else:
                        order += 1
                        heapq.heappush(queue, (t + delay, order, s))
            elif y[0] < c["level"]:
                c["armed"] = True
    out: dict = {}
    t_ms = np.arange(n + 1) * dt
    for c in cells:
        pop = out.setdefault(c["pop"], {"t_ms": t_ms, "states": {}, "spikes": {}})
        pop["states"][c["i"]] = c["rec"]
        pop["spikes"][c["i"]] = np.asarray(c["spikes"], dtype=float)
    return out
