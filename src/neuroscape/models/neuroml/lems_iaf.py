"""A LEMS network of integrate-and-fire type cells (the abstract cells with a spike condition and
a reset: iafCell, iafRefCell, izhikevich2007Cell, adExIaFCell, PyNN's IF_curr_exp...) and
spikeGenerator populations, connected by current or conductance synapses, with pulse, ramp,
sine and Poisson-synapse inputs, stepped in jLEMS's order (jNeuroML's reference simulator;
Cannon et al. 2014, Front. Neuroinform. 8:79), with the cells of a population as arrays.

jLEMS's order (Sim.run, StateInstance.advance, StateType.eulerAdvance, ComponentRegime.advance,
EventManager), as ``lems_network`` for conductance-based cells:
- step k runs with t already incremented (``t += dt`` in seconds); the delayed events due
  (send time + delay <= t) are delivered first, then every cell advances in the order of its
  population's declaration and its index;
- a cell's synapses (and inputs) advance first: each exposes its current from its states before
  their Euler step and the cell's exposed v, then takes that step (the exposed v of a cell with
  Regimes is synchronised before its regime's step: a conductance synapse reads v one step
  old there, the state after k - 1 steps in step k);
- a cell without Regimes (iafCell, izhikevich2007Cell): an Euler step of every state from the
  same old values, then its spike condition (``v > thresh``: reset on the grid); its row k is the
  state after k steps;
- a cell with Regimes (iafRefCell, adExIaFCell, IF_curr_exp): its exposed states are
  synchronised before the regime advances (row k holds the state after k - 1 steps); in the
  integrating regime the rates update one after the other (a later rate reads the states already
  advanced: the mapped equations' ``lems_dt``), then ``v > thresh`` emits the spike and enters
  the refractory regime (``lastSpikeTime = t``, the resets); in the refractory regime the held
  state (v) has no rate, the others update from the old values (``lems_dt`` = 0), then
  ``t > lastSpikeTime + refract`` returns to integrating (v is not integrated in that step);
  t, lastSpikeTime and refract are the same doubles jLEMS compares (SI, t accumulated);
- a spike is sent at once: an undelayed event reaches a synapse of a cell later in the order
  before that synapse's step (felt in the same step), of an earlier cell (or the spiking cell
  itself) after it (felt in the next step).

A step is computed for all cells at once, then corrected: from the first cell (in jLEMS's order)
that spikes, its events are delivered and the cells after it are computed again, until no later
cell spikes. Synapse instances of one synapse element on one cell are summed into one state
(the synapses are linear in their states: the sum of their Euler steps is the Euler step of the
sum, to rounding).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import sympy

from neuroscape.models.neuroml.cells import LEMS_DT
from neuroscape.models.neuroml.document import attr_si, error, tag
from neuroscape.models.neuroml.lems_network import E_ALPHA, _input_values
from neuroscape.models.neuroml.plasticity import Plasticity, has_plasticity

PYNN_E = 2.7182818  # the constant written in PyNN.xml's alpha synapses


class _SynType:
    """A synapse element, summed over its instances on each cell: states (n_states, n_cells),
    the rates, the current (pA) at v (mV), the increments of an event (per unit weight)."""

    def __init__(self, el) -> None:
        kind = tag(el)
        # blockingPlasticSynapse: expTwoSynapse's Dynamics, an event scaled by its plasticity
        # factor (the runner's); no blockMechanism (refused), so blockFactor is 1
        self.kind = kind = "expTwoSynapse" if kind == "blockingPlasticSynapse" else kind
        self.id = el.get("id")

        def q(attr, dim, scale):
            return attr_si(el, attr, dim) * scale

        if kind in ("expCurrSynapse", "alphaCurrSynapse"):  # PyNN.xml: numbers in ms, nA
            self.tau = (q("tau_syn", "none", 1.0),)
        elif kind == "alphaCurrentSynapse":
            self.tau = (q("tau", "time", 1e3),)
            self.ibase = q("ibase", "current", 1e12)  # pA
        elif kind == "expTwoSynapse":
            self.tau = (q("tauRise", "time", 1e3), q("tauDecay", "time", 1e3))
        elif kind == "expOneSynapse":
            self.tau = (q("tauDecay", "time", 1e3),)
        else:  # alphaSynapse
            self.tau = (q("tau", "time", 1e3),)
        if min(self.tau) <= 0:
            raise error(el, "time constants must be > 0")
        if kind in ("expOneSynapse", "expTwoSynapse", "alphaSynapse"):
            self.gbase = q("gbase", "conductance", 1e9)  # nS
            self.erev = q("erev", "voltage", 1e3)  # mV
        if kind == "expTwoSynapse":
            tr, td = self.tau
            if not tr < td:
                raise error(el, f"tauRise {tr:g} ms and tauDecay {td:g} ms; allowed: "
                            "0 < tauRise < tauDecay")
            tp = math.log(td / tr) * (tr * td) / (td - tr)
            self.factor = 1.0 / (-math.exp(-tp / tr) + math.exp(-tp / td))
        self.n = 1 if kind in ("expCurrSynapse", "expOneSynapse") else 2

    def current(self, s: np.ndarray, v: np.ndarray) -> np.ndarray:
        k = self.kind
        if k in ("expCurrSynapse", "alphaCurrSynapse"):
            return s[0] * 1e3  # nA -> pA
        if k == "alphaCurrentSynapse":
            return s[0].copy()
        g = self.gbase * (s[1] - s[0]) if k == "expTwoSynapse" else s[0]
        return g * (self.erev - v)

    def step(self, s: np.ndarray, dt: float) -> np.ndarray:
        k, tau = self.kind, self.tau
        out = np.empty_like(s)
        if self.n == 1:
            out[0] = s[0] + dt * (-s[0] / tau[0])
        elif k == "expTwoSynapse":
            out[0] = s[0] + dt * (-s[0] / tau[0])
            out[1] = s[1] + dt * (-s[1] / tau[1])
        else:  # alpha forms: (x, y) with dx = (e y - x)/tau, dy = -y/tau
            e = PYNN_E if k == "alphaCurrSynapse" else E_ALPHA
            out[0] = s[0] + dt * ((e * s[1] - s[0]) / tau[0])
            out[1] = s[1] + dt * (-s[1] / tau[0])
        return out

    def increment(self, w: float) -> np.ndarray:
        """The change of the states (n,) at an event of weight ``w``."""
        k = self.kind
        if k in ("expCurrSynapse",):
            return np.array([w])
        if k == "alphaCurrSynapse":
            return np.array([0.0, w])
        if k == "alphaCurrentSynapse":
            return np.array([0.0, w * self.ibase])
        if k == "expOneSynapse":
            return np.array([w * self.gbase])
        if k == "expTwoSynapse":
            return np.array([w * self.factor, w * self.factor])
        return np.array([0.0, w * self.gbase])  # alphaSynapse: A += gbase w


def sine_values(f: dict, t_s: np.ndarray) -> np.ndarray:
    """A sineGenerator's current (pA) in each step, as jLEMS reads it at the step's end time t
    (Inputs.xml: weight amplitude sin(phase + 2 3.14159265 (t - delay)/period) for delay <= t <
    duration + delay, else 0)."""
    d, dur, per = f["delay_s"], f["duration_s"], f["period_s"]
    on = (t_s >= d) & (t_s < dur + d)
    return np.where(on, f["amp_pA"] * np.sin(f["phase"] + (2 * 3.14159265 * (t_s - d) / per)), 0.0)


def poisson_steps(rate_hz: float, t_s: np.ndarray, rng) -> np.ndarray:
    """The steps at which a poissonFiringSynapse emits (Inputs.xml): ideal times T_j, the
    cumulative sums of exponential intervals (mean 1/averageRate); spike j in the first step
    whose time t exceeds T_j, and at most one spike per step (a spike due while another is
    emitted waits for the next step: tnextUsed = t + SMALL_TIME). jLEMS draws with Java's
    generator: the same process, other numbers."""
    t_end = float(t_s[-1]) if len(t_s) else 0.0
    n_exp = int(rate_hz * t_end + 10 * math.sqrt(rate_hz * t_end + 1) + 10)
    ideal = np.cumsum(rng.exponential(1.0 / rate_hz, n_exp))
    while ideal[-1] <= t_end:  # pragma: no cover - more than ten SD above the mean
        ideal = np.concatenate([ideal, ideal[-1] + np.cumsum(rng.exponential(1.0 / rate_hz,
                                                                             n_exp))])
    k = np.searchsorted(t_s, ideal, side="right")  # first step with t > T_j
    j = np.arange(len(k))
    k = j + np.maximum.accumulate(k - j)  # one spike per step at most
    return k[k < len(t_s)]


class _Group:
    """The cells of one mapped model in a population (one PopulationRun)."""

    def __init__(self, run, offset: int, n_steps: int, dt_ms: float, t_s: np.ndarray) -> None:
        m = run.model
        eq = m.equations
        self.run = run
        self.model = m
        self.gidx = offset + np.asarray(run.indices, dtype=np.int64)
        names = m.spec.parameter_names
        self.p = np.array([[row[n] for n in names] for row in run.params], dtype=float)
        self.y = np.asarray(m.initial_state(self.p), dtype=float).T.copy()  # (n_states, n)
        args = [*eq.states, eq.current, *eq.params]
        self.rhs = [sympy.lambdify(args, r, "numpy") for r in eq.rhs_free]
        self.thr = sympy.lambdify([*eq.states, *eq.params], eq.threshold, "numpy")
        self.reset = [sympy.lambdify([*eq.states, *eq.params], r, "numpy") for r in eq.reset]
        self.regimes = run.refract_ms is not None
        self.refract_s = run.refract_s if self.regimes else 0.0
        self.lems_dt = names.index(LEMS_DT) if LEMS_DT in names else None
        self.held = 0 if (self.regimes and m.hold_refractory) else None
        n = len(run.indices)
        self.refr = np.zeros(n, dtype=bool)
        self.lst = np.zeros(n)
        self.stim = np.zeros((n, n_steps))
        if run.stim_kind == "sine":
            self.stim = np.array([sine_values(f, t_s) for f in run.stim_rows]).reshape(n, -1)
        elif run.stim_kind != "poisson_synapse":  # step, ramp; Poisson synapses: the runner's
            # a ramp's baseline is I_bias, a parameter the equations add
            self.stim = np.array([_input_values(run.stim_kind, f, 0.0, n_steps, dt_ms)
                                  for f in run.stim_rows]).reshape(n, -1)
        self.rec = np.empty((self.y.shape[0], n, n_steps + 1))
        self.rec[:, :, 0] = self.y
        # a cell with Regimes exposes its states before the regime's step: a synapse reading v
        # in step k sees the state after k - 1 steps (the initial one in the first step)
        self.v_lag = self.y[0].copy()
        self.v_pre = self.y[0].copy()
        self.spikes: list[list[float]] = [[] for _ in range(n)]

    def advance(self, sel: np.ndarray, isyn: np.ndarray, k: int, t_s: float, dt: float):
        """(new states (n_states, |sel|), spiked (|sel|,), refractory, lastSpikeTime) of the
        cells ``sel`` (local indices) for step k, from their present states."""
        y = self.y[:, sel]
        p = self.p[sel]
        cur = self.stim[sel, k] + isyn
        refr = self.refr[sel].copy()
        lst = self.lst[sel].copy()
        if self.lems_dt is not None and refr.any():
            p = p.copy()
            p[refr, self.lems_dt] = 0.0  # the refractory regime: rates from the old values
        cols = [p[:, j] for j in range(p.shape[1])]
        ynew = np.empty_like(y)
        for q, f in enumerate(self.rhs):
            ynew[q] = y[q] + dt * np.broadcast_to(f(*y, cur, *cols), (y.shape[1],))
        if self.held is not None:
            ynew[self.held, refr] = y[self.held, refr]
        spk = np.asarray(self.thr(*ynew, *cols), dtype=bool) & ~refr
        if self.regimes:
            leave = refr & (t_s > lst + self.refract_s)
            refr = refr & ~leave
        if spk.any():
            sub = [ynew[q, spk] for q in range(len(ynew))]
            pc = [c[spk] for c in cols]
            for q, f in enumerate(self.reset):
                ynew[q, spk] = np.broadcast_to(f(*sub, *pc), (int(spk.sum()),))
            if self.regimes:
                refr = refr | spk
                lst = np.where(spk, t_s, lst)
        return ynew, spk, refr, lst


SMALL_TIME_S = 1e-12  # Inputs.xml's SMALL_TIME, 1e-9 ms


class _Source:
    """A population of spikeGenerators (Inputs.xml): spike at the first step whose time t has
    tnext - t < SMALL_TIME, then tnext += period (tnext starts at period; one spike per step).
    Kept in the slots of a cell group: ``lst`` holds tnext, ``y`` is empty."""

    def __init__(self, pop: str, comp, period_s: float, offset: int, size: int,
                 n_steps: int) -> None:
        from types import SimpleNamespace

        self.run = SimpleNamespace(population=pop, indices=list(range(size)), stim_kind="none",
                                   component=comp.get("id"))
        self.gidx = offset + np.arange(size, dtype=np.int64)
        self.period = period_s
        self.regimes = False
        self.y = np.zeros((1, size))
        self.refr = np.zeros(size, dtype=bool)
        self.lst = np.full(size, period_s)  # tnext
        self.v_lag = self.v_pre = self.y[0]
        self.rec = np.zeros((1, size, n_steps + 1))
        self.spikes: list[list[float]] = [[] for _ in range(size)]

    def advance(self, sel: np.ndarray, isyn: np.ndarray, k: int, t_s: float, dt: float):
        tnext = self.lst[sel]
        spk = (tnext - t_s) < SMALL_TIME_S
        return (self.y[:, sel], spk, self.refr[sel], np.where(spk, tnext + self.period, tnext))


def run_iaf_network(sim) -> dict:
    """Run a LemsSimulation of integrate-and-fire type cells with connections in jLEMS's order
    (module docstring): {population: {"t_ms", "states" {i: (n_states, n_steps + 1)}, "spikes"
    {i: times in ms}}} (rows as jNeuroML writes them)."""
    dt_s = sim.step_s
    dt = sim.step_ms
    n = int(round(sim.length_ms / dt))
    t_s = np.add.accumulate(np.full(n, dt_s))  # jLEMS's t at the end of each step (s)
    offsets, off = {}, 0
    for pop, size in sim.sizes.items():
        offsets[pop] = off
        off += size
    n_total = off
    groups = [_Group(r, offsets[r.population], n, dt, t_s) for r in sim.runs]
    groups += [_Source(pop, comp, per, offsets[pop], sim.sizes[pop], n)
               for pop, (comp, per) in sim.sources.items()]  # fmt: skip
    groups.sort(key=lambda g: int(g.gidx[0]) if len(g.gidx) else 0)
    owner = np.empty(n_total, dtype=np.int64)  # global index -> group, local index
    local = np.empty(n_total, dtype=np.int64)
    for gi, g in enumerate(groups):
        owner[g.gidx] = gi
        local[g.gidx] = np.arange(len(g.gidx))
    for g in groups:
        if isinstance(g, _Source):
            continue
        if g.model.current_unit == "1" and any(
                offsets[c.post_pop] + c.post in set(g.gidx.tolist()) for c in sim.connections):
            raise error(sim.connections[0].el, f"cells of {g.run.component} take a "
                        "dimensionless current (a DL cell): synapses cannot drive them")
    syn_types: dict[str, _SynType] = {}
    # per pre cell: (type id, post, increment, delay, plasticity instance or -1)
    outs: list[list] = [[] for _ in range(n_total)]
    n_plastic: dict[str, int] = {}  # synapse id -> instances (connections) with plasticity
    for c in sim.connections:
        sid = c.synapse.get("id")
        if sid not in syn_types:
            syn_types[sid] = _SynType(c.synapse)
        if c.delay_ms < 0:
            raise error(c.el, f"delay {c.delay_ms:g} ms; allowed: >= 0 ms")
        delay_s = attr_si(c.el, "delay", "time") if c.delay_ms > 0 else 0.0
        pj = -1
        if has_plasticity(c.synapse):
            pj = n_plastic.get(sid, 0)
            n_plastic[sid] = pj + 1
        outs[offsets[c.pre_pop] + c.pre].append(
            (sid, offsets[c.post_pop] + c.post, syn_types[sid].increment(c.weight), delay_s, pj))
    # short-term plasticity: one instance per connection (plasticity.py); an event uses the
    # factor its synapse last evaluated, then acts on the mechanism's states
    plastic = {sid: Plasticity(syn_types_el, n_plastic[sid]) for sid, syn_types_el in
               {c.synapse.get("id"): c.synapse for c in sim.connections}.items()
               if sid in n_plastic}
    deferred: list = []  # events after their synapse's step: (type id, post, incr, instance)

    def scaled(sid, inc, pj):
        if pj < 0:
            return inc
        out = inc * plastic[sid].factor[pj]
        plastic[sid].event(pj)
        return out
    s_pre = {sid: np.zeros((st.n, n_total)) for sid, st in syn_types.items()}
    # poissonFiringSynapse inputs: a synapse of each cell driven by its own Poisson events, its
    # current times the input's weight; an event comes after that synapse's step (next step)
    rng = np.random.default_rng(sim.seed)
    in_types: dict[str, _SynType] = {}
    in_w: dict[str, np.ndarray] = {}
    in_events: dict[int, list] = {}  # step -> [(type id, cell, increment)]
    for g in groups:
        if g.run.stim_kind != "poisson_synapse":
            continue
        for j, f in enumerate(g.run.stim_rows):
            sid = f["synapse"].get("id")
            if sid not in in_types:
                in_types[sid] = _SynType(f["synapse"])
                in_w[sid] = np.zeros(n_total)
            cell = int(g.gidx[j])
            in_w[sid][cell] = f["weight"]
            inc = in_types[sid].increment(1.0)
            for k in poisson_steps(f["rate_hz"], t_s, rng).tolist():
                in_events.setdefault(k, []).append((sid, cell, inc))
    in_s = {sid: np.zeros((st.n, n_total)) for sid, st in in_types.items()}
    queue: list = []
    order = 0
    for k in range(n):
        t = t_s[k]
        while queue and queue[0][0] <= t:  # EventManager: due events before the cells
            _, _, sid, post, inc, pj = heapq.heappop(queue)
            s_pre[sid][:, post] += scaled(sid, inc, pj)
        v_all = np.empty(n_total)  # the v a synapse reads: its cell's exposed v
        for g in groups:
            v_all[g.gidx] = g.v_lag if g.regimes else g.y[0]
            g.v_pre = g.y[0].copy()
        s_post = {sid: np.empty_like(a) for sid, a in s_pre.items()}
        iin = np.zeros(n_total)
        for sid, st in in_types.items():
            iin += in_w[sid] * st.current(in_s[sid], v_all)
            in_s[sid] = st.step(in_s[sid], dt)
        for sid, cell, inc in in_events.get(k, ()):
            in_s[sid][:, cell] += inc
        pos = 0
        while True:
            isyn = iin[pos:].copy()
            for sid, st in syn_types.items():
                s = s_pre[sid][:, pos:]
                isyn += st.current(s, v_all[pos:])
                s_post[sid][:, pos:] = st.step(s, dt)
            first = None
            results = []
            for g in groups:
                sel = np.flatnonzero(g.gidx >= pos)
                if sel.size == 0:
                    results.append(None)
                    continue
                res = g.advance(sel, isyn[g.gidx[sel] - pos], k, t, dt)
                results.append((sel, res))
                if res[1].any():
                    c = int(g.gidx[sel][np.argmax(res[1])])
                    first = c if first is None else min(first, c)
            stop = n_total if first is None else first + 1
            for g, r in zip(groups, results, strict=True):  # commit the cells before `stop`
                if r is None:
                    continue
                sel, (ynew, spk, refr, lst) = r
                keep = g.gidx[sel] < stop
                if not keep.any():
                    continue
                li = sel[keep]
                g.y[:, li] = ynew[:, keep]
                g.refr[li] = refr[keep]
                g.lst[li] = lst[keep]
                for i in li[spk[keep]]:
                    g.spikes[int(i)].append(t * 1e3)
            if first is None:
                break
            for sid, post, inc, delay_s, pj in outs[first]:
                if delay_s > 0:
                    order += 1
                    heapq.heappush(queue, (t + delay_s, order, sid, post, inc, pj))
                elif post > first:  # before that synapse's step: felt in this step
                    s_pre[sid][:, post] += scaled(sid, inc, pj)
                elif pj < 0:  # after it: felt in the next step
                    s_post[sid][:, post] += inc
                else:  # after it, with the factor of its step (below)
                    deferred.append((sid, post, inc, pj))
            pos = first + 1
            if pos >= n_total:
                break
        for p in plastic.values():  # the mechanisms' step (each synapse's, in this step)
            p.advance(dt_s)
        for sid, post, inc, pj in deferred:
            s_post[sid][:, post] += scaled(sid, inc, pj)
        deferred.clear()
        s_pre = s_post
        for g in groups:
            g.rec[:, :, k + 1] = g.y
            g.v_lag = g.v_pre
    out: dict = {}
    t_ms = np.arange(n + 1) * dt
    for g in groups:
        pop = out.setdefault(g.run.population, {"t_ms": t_ms, "states": {}, "spikes": {}})
        rec = g.rec
        if g.regimes:  # the exposed state before the regime's step: row k after k - 1 steps
            rec = np.concatenate([rec[:, :, :1], rec[:, :, :-1]], axis=2)
        for j, i in enumerate(g.run.indices):
            pop["states"][i] = rec[:, j, :]
            pop["spikes"][i] = np.asarray(g.spikes[j], dtype=float)
    return out
