"""Networks of multi-compartment cells (``neuroscape.models.multicomp.network``), run batched
over parameter sets as NEURON's fixed step runs them.

Every cell of every parameter set is a row of its population's cable kernel
(``cable_engine.generate_network_source``): B parameter sets of a population of N cells are
B*N rows (row p*N + i: cell i of parameter set p), and rows of different parameter sets never
interact. The run proceeds in windows of the shortest synaptic delay, as NEURON's
ParallelContext exchanges spikes (Hines & Carnevale 2008, "Translating network models to
parallel hardware in NEURON", J Neurosci Methods 169:425): each population's kernel advances
its rows by one window, keeping V, the gates and the synapses in arrays between calls; then the
spikes of the window become events in the targets' rings of pending weights
(``_exchange``, numba, parallel over parameter sets), which later windows deliver. The ring
(one slot per step) holds the sum of the weights due at a step; an event whose time is t_ev is
delivered at the first step whose start t has t_ev <= t + dt/2 (NEURON's
``deliver_net_events``); a spike detected at time point t_j (NEURON's threshold check: V above
0 mV at t_j and not at t_{j-1}) is sent at t_j + 1e-10 ms (``ConditionEvent::check``'s teps),
so it arrives at t_j + 1e-10 + delay.

Poisson inputs are drawn before the run (``input_trains``): a parameter set's inputs come from
its row's counter-based stream (seed, g) of ``neuroscape.core.rng`` (g: the set's global row,
as every engine numbers rows), split into disjoint counter ranges, one per input k and cell c
(the cell's index over all populations in declaration order): input k onto cell c is one train
of rate n * rate whose exponential intervals -ln(1 - u)/(n rate) take u from counters
k 2^44 + c 2^24 + j, j = 0, 1, 2, ... So a row's input, and with it its whole run, does not
depend on the batch size, on which rows share a chunk, or on the thread count (bitwise). The
NEURON reference (``neuroscape.reference.neuron_network``) plays the same trains.

A surrogate population (a hybrid network) has no kernel: its cells are Poisson sources whose
rate, held over each window, is what its rate function (``rate_fns``, a callable; the
surrogates themselves are loaded a layer above, by ``neuroscape.surrogate.hybrid``) gives for
its surrogate parameters at the window's start (``surrogate_inputs``: inputs onto it by their
declared rates; projections by the exponential running average of the weights they deliver,
``running_average``). Its spikes are drawn by time rescaling from its row's stream at
counters SURROGATE_K 2^44 + c 2^24 + j (``_poisson_window``) and reach their targets as a
cell's spike detected at the next time point would.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from neuroscape.core.rng import row_keys, unit_float, unit_float_np, word, word_np
from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import SettingsError
from neuroscape.models.multicomp.network import CellNetwork, CellNetworkError, Synapse
from neuroscape.sim.cable_engine import (
    INTEGRATORS,
    LANES,
    ROOT,
    _location,
    _mechanism_arrays,
    get_network_kernel,
)

SEND_EPS_MS = 1e-10  # NEURON's teps: a threshold event is sent at t + 1e-10 ms
# input k onto cell c draws at counters k 2^44 + c 2^24 + j (module docstring)
INPUT_SHIFT, CELL_SHIFT, MAX_DRAWS = 44, 24, 1 << 24
# a surrogate population's cell c draws its spikes at counters SURROGATE_K 2^44 + c 2^24 + j:
# the last input index, which inputs may not take
SURROGATE_K = (1 << (64 - INPUT_SHIFT)) - 1


@dataclass
class CellNetworkResult:
    """Spike times (ms, interpolated upward 0-mV crossings at each cell's root middle) per
    population, per parameter set, per cell; rates (Hz) per population (B,); V records."""

    spikes: dict[str, list[list[np.ndarray]]]
    rates: dict[str, np.ndarray]
    duration_ms: float
    t_ms: np.ndarray | None = None
    v: dict[str, np.ndarray] = field(default_factory=dict)  # pop -> (B, size, n_rec, T)
    graph: object = None

    def outputs(self) -> np.ndarray:
        """(B, n_pops): the populations' rates in declaration order."""
        return np.stack([self.rates[p] for p in self.rates], axis=1)


# ---------------------------------------------------------------------------------------------
# timing rules (NEURON's fixed step)


def delivery_step(t_ev: np.ndarray | float, dt: float) -> np.ndarray:
    """The step whose start t = m dt is the first with t_ev <= t + dt/2 (NEURON's
    deliver_net_events delivers the events up to t + dt/2 before the step from t)."""
    t = np.asarray(t_ev, dtype=float)
    m = np.maximum(np.ceil(t / dt - 0.5), 0).astype(np.int64)
    # the float condition itself decides at the boundary
    lo = (m > 0) & (t <= (m - 1) * dt + 0.5 * dt)
    m = np.where(lo, m - 1, m)
    hi = t > m * dt + 0.5 * dt
    return np.where(hi, m + 1, m)


def delay_steps(delay_ms: float, dt: float) -> int:
    """Steps from the time point of a spike to the step its events are delivered at."""
    return int(delivery_step(SEND_EPS_MS + delay_ms, dt))


def synapse_columns(syn: Synapse) -> tuple[float, float, float, float, float]:
    """(tau1, tau2, e, fA, fB) of the kernel's synapse, as NEURON's INITIAL leaves them:
    Exp2Syn's tau1 moved to 0.9999 tau2 when tau1/tau2 > 0.9999 (or up to 1e-9 tau2), and
    its factor 1/(exp(-tp/tau2) - exp(-tp/tau1)) at the peak time tp (exp2syn.mod)."""
    if syn.kind == "expsyn":
        return (syn.tau2, syn.tau2, syn.e, 0.0, 1.0)
    tau1, tau2 = syn.tau1, syn.tau2
    if tau1 / tau2 > 0.9999:
        tau1 = 0.9999 * tau2
    if tau1 / tau2 < 1e-9:
        tau1 = tau2 * 1e-9
    tp = (tau1 * tau2) / (tau2 - tau1) * math.log(tau2 / tau1)
    factor = -math.exp(-tp / tau1) + math.exp(-tp / tau2)
    factor = 1.0 / factor
    return (tau1, tau2, syn.e, factor, factor)


# ---------------------------------------------------------------------------------------------
# inputs


def _offsets(net: CellNetwork) -> dict[str, int]:
    off, n = {}, 0
    for p in net.populations:
        off[p.name] = n
        n += p.size
    return off


def input_trains(net: CellNetwork, values: dict[str, np.ndarray], *, seed: int = 0,
                 rows: np.ndarray | None = None, keys: np.ndarray | None = None,
                 duration_ms: float | None = None) -> list[list[list[np.ndarray]]]:  # fmt: skip
    """The Poisson trains (ms, sorted) of every input: [input][param set][cell of the target]
    (none for an input onto a surrogate population, whose rate the surrogate takes). Input k
    onto cell c of the set with stream key K (``keys``, default ``row_keys(seed,
    rows)``, rows default 0..B-1): intervals -ln(1 - u)/(n rate), u from word(K, k 2^44 +
    c 2^24 + j) (module docstring)."""
    if values:
        b = len(next(iter(values.values())))
    else:  # no parameters: the rows are the keys' (or rows')
        b = len(keys) if keys is not None else (1 if rows is None else len(rows))
    if keys is None:
        keys = row_keys(seed, np.arange(b) if rows is None else np.asarray(rows, np.int64))
    keys = np.asarray(keys, dtype=np.uint64)
    if keys.shape != (b,):
        raise SettingsError(f"keys has shape {keys.shape}; allowed: ({b},)")
    t_end = net.duration_ms if duration_ms is None else float(duration_ms)
    off = _offsets(net)
    if len(net.inputs) >= SURROGATE_K or net.n_cells >= 1 << (INPUT_SHIFT - CELL_SHIFT):
        raise CellNetworkError(f"{len(net.inputs)} inputs and {net.n_cells} cells; allowed: fewer "
                               f"than 2^20 - 1 inputs, 2^20 cells (the streams' counter ranges)")
    out = []
    for k, inp in enumerate(net.inputs):
        if net.population(inp.target).is_surrogate:  # its rate enters the surrogate directly
            out.append([[np.zeros(0)] * net.population(inp.target).size for _ in range(b)])
            continue
        rate = (np.asarray(values[inp.rate], float) if isinstance(inp.rate, str)
                else np.full(b, float(inp.rate)))  # fmt: skip
        size = net.population(inp.target).size
        per_p = []
        for p in range(b):
            lam = inp.n * float(rate[p]) * 1e-3  # events per ms
            cells = []
            for i in range(size):
                if not lam > 0:
                    cells.append(np.zeros(0))
                    continue
                start = (np.uint64(k) << np.uint64(INPUT_SHIFT)) + (
                    np.uint64(off[inp.target] + i) << np.uint64(CELL_SHIFT))
                n = int(lam * t_end + 10 * math.sqrt(lam * t_end) + 20)
                while True:
                    if n > MAX_DRAWS:
                        raise CellNetworkError(
                            f"input {inp.name}: {lam * t_end:.3g} spikes per cell; allowed: "
                            f"fewer than {MAX_DRAWS} (the stream's counter range)")
                    u = unit_float_np(word_np(keys[p : p + 1], start + np.arange(
                        n, dtype=np.uint64)))[0]  # fmt: skip
                    t = np.cumsum(-np.log1p(-u)) / lam
                    if t[-1] >= t_end:
                        break
                    n = min(2 * n, MAX_DRAWS + 1)
                cells.append(t[t < t_end])
            per_p.append(cells)
        out.append(per_p)
    return out


# ---------------------------------------------------------------------------------------------
# numba helpers between windows


@njit(cache=True)
def _exchange(ev_step, ev_n, size, n_sets, indptr, e_base, e_pstride, e_wcol, e_kd, weights,
              ring, n_total, pend):  # fmt: skip
    """The events of one population's spikes of a window into the targets' rings, in a fixed
    order (parameter set, cell, spike, target); serial: a window's events are few, and a
    parallel region costs more to start than they take."""
    for p in range(n_sets):
        for i in range(size):
            r = p * size + i
            for q in range(ev_n[r]):
                j = ev_step[r, q]
                for e in range(indptr[i], indptr[i + 1]):
                    m = j + e_kd[e]
                    if m < n_total:
                        pend[e_base[e] + p * e_pstride[e] + m % ring] += weights[p, e_wcol[e]]


@njit(cache=True)
def _add_inputs(ptr, steps, idx, w, stop, ring, pend):
    """Input events whose delivery step is before ``stop`` into the rings (in their order)."""
    n = steps.shape[0]
    while ptr < n and steps[ptr] < stop:
        pend[idx[ptr] + steps[ptr] % ring] += w[ptr]
        ptr += 1
    return ptr


@njit(cache=True)
def running_average(pend, x, m0, m1, ring, decay, inv_tau):
    """Exponential running average of the weights delivered at steps m0..m1-1 (in order):
    x <- x exp(-dt/tau) + W_m / tau, W_m the summed weights (uS) in ring slot m % ring (which
    is cleared). So x at step m is (1/tau) sum over events delivered at steps m' <= m of
    w exp(-(m - m') dt / tau): for a train of weight w at rate r its mean is w r (1 -
    exp(-t/tau)) (uS/ms for r per ms). ``pend`` (rows, slots, ring), ``x`` (rows, slots)."""
    for m in range(m0, m1):
        s = m % ring
        for r in range(x.shape[0]):
            for k in range(x.shape[1]):
                x[r, k] = x[r, k] * decay + pend[r, k, s] * inv_tau
                pend[r, k, s] = 0.0


@njit(cache=True)
def _poisson_window(keys, size, c0, r0, lam, t0, t1, dt, a, w, acc, thr, cnt, ev_step, ev_n,
                    spk_t):  # fmt: skip
    """Poisson spikes of rate lam[r] (per ms, constant over [t0, t1)) of the surrogate cells
    r >= r0, by time rescaling: unit exponential intervals -ln(1 - u) (u from word(key of the
    row's set, SURROGATE_K 2^44 + (c0 + r % size) 2^24 + j), j the cell's draw counter
    ``cnt``) spaced on the integrated rate ``acc``; ``thr``: the next spike's integrated rate.
    A spike at t counts as detected at the time point after it (step floor(t/dt) + 1, within
    (a, a + w]). Returns -1 when done, the row to restart from when ``ev_step`` is full (its
    state untouched), or -2 - r when row r has used up its counter range."""
    cap = ev_step.shape[1]
    base = np.uint64(SURROGATE_K) << np.uint64(INPUT_SHIFT)
    for r in range(r0, lam.shape[0]):
        key = keys[r // size]
        cbase = base + (np.uint64(c0 + r % size) << np.uint64(CELL_SHIFT))
        j = cnt[r]
        th = thr[r]
        if j == 0:
            th = -math.log1p(-unit_float(word(key, cbase)))
            j = 1
        end = acc[r] + lam[r] * (t1 - t0)
        n = 0
        while th < end:
            if n == cap:
                return r
            if j >= MAX_DRAWS:
                return -2 - r
            t = t0 + (th - acc[r]) / lam[r]
            m = int(math.floor(t / dt)) + 1
            m = min(max(m, a + 1), a + w)
            ev_step[r, n] = m
            spk_t[r, n] = t
            n += 1
            th += -math.log1p(-unit_float(word(key, cbase + np.uint64(j))))
            j += 1
        ev_n[r] = n
        acc[r] = end
        thr[r] = th
        cnt[r] = j
    return -1


# ---------------------------------------------------------------------------------------------
# the run


def _param_values(net: CellNetwork, params) -> dict[str, np.ndarray]:
    if isinstance(params, dict):
        b = {len(np.atleast_1d(v)) for v in params.values()} - {1}
        if len(b) > 1:
            raise SettingsError("parameter values have different numbers of rows; allowed: 1 "
                                "or one common count")
        bn = b.pop() if b else 1
        vals = {q.name: np.full(bn, q.default) for q in net.parameters}
        for k, v in params.items():
            if k not in vals:
                raise CellNetworkError(f"unknown parameter {k!r}; allowed: "
                                       f"{', '.join(vals) or '(none declared)'}")
            vals[k] = np.broadcast_to(np.asarray(v, dtype=float), (bn,)).copy()
        return vals
    return net.values(params)


def _check_rate_fns(net: CellNetwork, rate_fns) -> dict:
    rate_fns = dict(rate_fns or {})
    sur = [p.name for p in net.populations if p.is_surrogate]
    for pn in rate_fns:
        if pn not in sur:
            raise CellNetworkError(f"rate_fns: {pn!r} is not a surrogate population; allowed: "
                                   f"{', '.join(sur) or '(none in this network)'}")
    for pn in sur:
        if pn not in rate_fns:
            raise CellNetworkError(
                f"population {pn} is a surrogate: give its rate function (rate_fns={{'{pn}': "
                "f}), or run the network with neuroscape.surrogate.hybrid")
        bound = {src for bd in net.population(pn).bindings for src in bd.sources}
        onto = [j.name for j in net.projections if j.post == pn] + [
            i.name for i in net.inputs if i.target == pn]  # fmt: skip
        free = [src for src in onto if src not in bound]
        if free:
            raise CellNetworkError(
                f"population {pn}: {free[0]} feeds it but no parameter of its surrogate; "
                "allowed: map: {PARAM: {from: [SOURCE, ...], n, weight}} naming every input "
                "and projection onto it")
        for bd in net.population(pn).bindings:
            if bd.value is None and (bd.n is None or bd.weight is None):
                raise CellNetworkError(
                    f"population {pn}: map: {bd.param}: the training input's n and weight are "
                    "not given; allowed: map: {PARAM: {from, n, weight}} (or resolve them with "
                    "neuroscape.surrogate.hybrid)")
    return rate_fns


def surrogate_inputs(
    net: CellNetwork, pop, vals: dict[str, np.ndarray], weights: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """The surrogate parameters of population ``pop``'s cells: (B, n_params) from fixed
    values and inputs (an input of n sources at rate r and weight w gives n r w / (n_ref
    w_ref): the rate per source of the training input of n_ref sources of weight w_ref with the
    same mean conductance), and the projections' terms (slot, parameter, 1000 / (n_ref w_ref)),
    which multiply the running average of their delivered weights (uS/ms)."""
    n_proj = len(net.projections)
    x0 = np.zeros((len(weights), len(pop.bindings)))
    terms = []
    slots = [k for k, j in enumerate(net.projections) if j.post == pop.name]
    for pi, bd in enumerate(pop.bindings):
        if bd.value is not None:
            x0[:, pi] = bd.value
            continue
        ref = bd.n * bd.weight
        for src in bd.sources:
            for k, j in enumerate(net.projections):
                if j.name == src:
                    terms.append((slots.index(k), pi, 1000.0 / ref))
            for k, inp in enumerate(net.inputs):
                if inp.name == src:
                    rate = (np.asarray(vals[inp.rate], float) if isinstance(inp.rate, str)
                            else np.full(len(weights), float(inp.rate)))  # fmt: skip
                    x0[:, pi] += inp.n * rate * weights[:, n_proj + k] / ref
    return x0, terms


def _surrogate_state(net, pop, vals, weights, b, ring, win, fn) -> dict:
    """A surrogate population's arrays: ring slots for the projections onto it (their
    delivered weights feed the running averages), the parameters' fixed part and the Poisson
    generators' state (integrated rate, next threshold, draw counter per cell)."""
    slots = [k for k, j in enumerate(net.projections) if j.post == pop.name]
    n_rows = b * pop.size
    x0, terms = surrogate_inputs(net, pop, vals, weights)
    tau = pop.rate_tau_ms or 1.0  # unused without projections onto the population
    return dict(
        pop=pop, surrogate=True, fn=fn, n_syn=len(slots), slot_of={k: s for s, k in
                                                                    enumerate(slots)},
        x0=np.repeat(x0, pop.size, axis=0), terms=terms, tau=tau,
        x=np.zeros((n_rows, len(slots))), done=-1, acc=np.zeros(n_rows), thr=np.zeros(n_rows),
        cnt=np.zeros(n_rows, dtype=np.int64), ev_step=np.zeros((n_rows, win + 2), np.int64),
        ev_n=np.zeros(n_rows, dtype=np.int64), spk_t=np.zeros((n_rows, win + 2)),
        out_r=[], out_t=[], rate_calls=0)  # fmt: skip


def _surrogate_window(q: dict, keys: np.ndarray, a: int, w: int, dt: float, ring: int) -> None:
    """One window [a dt, (a + w) dt) of a surrogate population: the running averages up to
    step a, the rates the surrogate gives for them (held over the window), their spikes."""
    n_rows = len(q["acc"])
    if q["n_syn"]:
        running_average(q["pend"], q["x"], q["done"] + 1, a + 1, ring,
                        math.exp(-dt / q["tau"]), 1.0 / q["tau"])  # fmt: skip
        q["done"] = a
    x = q["x0"].copy()
    for slot, pi, coef in q["terms"]:
        x[:, pi] += coef * q["x"][:, slot]
    if not q["terms"] and "lam" in q:  # inputs only: the parameters never change
        lam = q["lam"]
    else:
        lam = np.asarray(q["fn"](x), dtype=float).reshape(-1)
        q["rate_calls"] += 1
        if lam.shape != (n_rows,) or not np.all(np.isfinite(lam)):
            raise CellNetworkError(
                f"population {q['pop'].name}: its rate function gave "
                f"{'shape ' + str(lam.shape) if lam.shape != (n_rows,) else 'a non-finite rate'}"
                f"; allowed: {n_rows} finite rates (Hz), one per cell")
        lam = np.maximum(lam, 0.0) * 1e-3  # Hz -> per ms; a negative prediction is no spikes
        q["lam"] = lam
    r0 = -1 if n_rows == 0 else 0
    while r0 >= 0:
        r0 = _poisson_window(keys, q["pop"].size, q["c0"], r0, lam, a * dt, (a + w) * dt, dt, a,
                             w, q["acc"], q["thr"], q["cnt"], q["ev_step"], q["ev_n"],
                             q["spk_t"])  # fmt: skip
        if r0 <= -2:
            raise CellNetworkError(f"population {q['pop'].name}: more than {MAX_DRAWS} spikes "
                                   "in a cell; allowed: fewer (the stream's counter range)")
        if r0 >= 0:  # more spikes in a window than room: grow the arrays, go on from row r0
            cap = 2 * q["ev_step"].shape[1]
            for k in ("ev_step", "spk_t"):
                old = q[k]
                q[k] = np.zeros((n_rows, cap), dtype=old.dtype)
                q[k][:, : old.shape[1]] = old
    q["spk_n"] = q["ev_n"]


def run_cell_network(
    net: CellNetwork,
    params: np.ndarray | dict | None = None,
    *,
    conn_seed: int = 0,
    graph=None,
    seed: int = 0,
    rows: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    integrator: str | None = None,
    record: dict[str, list[tuple[str, float]]] | None = None,
    record_every: int = 1,
    workers: int | None = None,
    trains: list | None = None,
    rate_fns: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> CellNetworkResult:
    """Simulate B parameter sets of ``net`` (``params``: rows (B, n_params) in the declared
    order, or name -> values; default: the defaults) from NEURON's finitialize state (V =
    v_init, gates at their steady state, synapses at 0) for ``duration_ms`` (default: the
    description's) at ``dt_ms``. ``graph``: the edges (a Graph, default ``net.graph(conn_seed)``,
    one for all sets). ``rows``: the sets' global row numbers, or ``keys`` their streams'
    keys (``row_keys(seed, rows)``; module docstring). ``record``: pop -> [(SECTION, x), ...]
    V recorded every ``record_every`` steps. ``trains``: the inputs' spike times as
    ``input_trains`` gives them (default: drawn from the rows' streams). ``rate_fns``: for
    each surrogate population, its rate function: (M, n_params) surrogate parameters per cell
    (Hz for rates) -> (M,) rates (Hz), applied row by row (see ``surrogate_inputs``; loaded
    from the surrogates by ``neuroscape.surrogate.hybrid``)."""
    from neuroscape.models.multicomp.geometry import _row_values, discretize
    from neuroscape.sim.engine import _set_threads

    integrator = net.integrator if integrator is None else integrator
    if integrator not in INTEGRATORS:
        raise SettingsError(f"integrator={integrator!r}; allowed: {', '.join(INTEGRATORS)}")
    dt = float(net.dt_ms if dt_ms is None else dt_ms)
    dur = float(net.duration_ms if duration_ms is None else duration_ms)
    if not (math.isfinite(dt) and dt > 0):
        raise SettingsError(f"dt_ms={dt!r}; allowed: a number > 0 (ms)")
    if not (math.isfinite(dur) and dur > 0):
        raise SettingsError(f"duration_ms={dur!r}; allowed: a number > 0 (ms)")
    n_total = round(dur / dt)
    if n_total < 1 or abs(n_total * dt - dur) > 1e-9 * dur:
        raise SettingsError(f"dt_ms={dt:g} does not divide duration_ms={dur:g}; allowed: "
                            f"{dur:g}/k ms for a whole k")  # fmt: skip
    for j in net.projections:
        if j.delay < dt:
            raise SettingsError(f"projection {j.name}: delay {j.delay:g} ms < dt {dt:g} ms; "
                                "allowed: dt_ms <= the shortest delay")
    if isinstance(record_every, bool) or not isinstance(record_every, int | np.integer) or (
            record_every < 1 or n_total % record_every):  # fmt: skip
        raise SettingsError(f"record_every={record_every!r}; allowed: a whole number >= 1 that "
                            f"divides the {n_total} steps")
    vals = _param_values(net, params)
    b = len(next(iter(vals.values()))) if vals else (
        1 if params is None else len(np.atleast_2d(params)))  # fmt: skip
    rows = np.arange(b) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.shape != (b,) or np.any(rows < 0):
        raise SettingsError(f"rows has shape {rows.shape}; allowed: {b} non-negative integers")
    if keys is not None and np.asarray(keys).shape != (b,):
        raise SettingsError(f"keys has shape {np.asarray(keys).shape}; allowed: ({b},)")
    g = net.graph(conn_seed) if graph is None else graph
    record = dict(record or {})
    for pn in record:
        if pn not in net.sizes:
            raise CellNetworkError(f"record: unknown population {pn!r}; allowed: "
                                   f"{', '.join(net.sizes)}")
        if net.population(pn).is_surrogate:
            raise CellNetworkError(f"record: population {pn} is a surrogate, which has no "
                                   "membrane potential; allowed: populations of cells")
    rate_fns = _check_rate_fns(net, rate_fns)
    if keys is None:
        keys = row_keys(seed, rows)
    keys = np.asarray(keys, dtype=np.uint64)

    # weights (uS) per parameter set: one column per projection, then per input
    wcols = []
    for item in (*net.projections, *net.inputs):
        w = item.weight
        wcols.append(np.asarray(vals[w], float) if isinstance(w, str) else np.full(b, float(w)))
    weights = np.ascontiguousarray(np.stack(wcols, axis=1)) if wcols else np.zeros((b, 1))

    # the populations: their kernels' arrays, synapse slots and state
    kds = [delay_steps(j.delay, dt) for j in net.projections]
    win = max(1, min(kds)) if kds else n_total
    ring = (max(kds) if kds else 0) + win + 1
    pops = []
    base = 0
    off = _offsets(net)
    for pop in net.populations:
        if pop.is_surrogate:
            q = _surrogate_state(net, pop, vals, weights, b, ring, win, rate_fns[pop.name])
            q.update(base=base, c0=off[pop.name])
            pops.append(q)
            base += b * pop.size * q["n_syn"] * ring
            continue
        cell = pop.cell
        cv = {q.address: vals[q.name] for q in net.parameters if q.pop == pop.name}
        try:
            _, cv = _row_values(cell, cv or None)
            cv = {a: np.broadcast_to(v, (b,)) for a, v in cv.items()}
            disc = discretize(cell, cv or None)
        except ValueError as exc:
            raise CellNetworkError(f"population {pop.name}: {exc}") from None
        mechs = _mechanism_arrays(cell, disc, cv, b)
        syns = [(k, j.synapse) for k, j in enumerate(net.projections) if j.post == pop.name]
        syns += [(len(net.projections) + k, i.synapse) for k, i in enumerate(net.inputs)
                 if i.target == pop.name]  # fmt: skip
        slot_of = {k: s for s, (k, _) in enumerate(syns)}
        syn_node = np.array([disc.node(s.section, s.x) for _, s in syns], dtype=np.int64)
        syn_par = np.array([[synapse_columns(s) for _, s in syns]], dtype=float).reshape(
            1, len(syns), 5)
        cell_v = {a: np.asarray(cv[a], float) if a in cv else np.array([getattr(cell, a)])
                  for a in ("celsius", "v_init")}  # fmt: skip
        area_f = np.ascontiguousarray(disc.area_um2 * 1e-2)
        cap = np.ascontiguousarray(disc.cm * disc.area_um2 * 1e-5)
        gax = np.ascontiguousarray(disc.g_axial_uS)
        n_rows = b * pop.size
        sel = np.arange(n_rows) // pop.size  # the parameter set of each row
        per_row = [area_f, cell_v["celsius"], cell_v["v_init"], *[p for _, _, p in mechs],
                   syn_par]  # fmt: skip
        row_of = np.array([sel if a.shape[0] > 1 else np.zeros_like(sel) for a in per_row],
                          dtype=np.int64).reshape(len(per_row), n_rows)  # fmt: skip
        n_syn = len(syns)
        locs = record.get(pop.name, [])
        rec_nodes = np.array([_location(cell, disc, loc, "record location") for loc in locs],
                             dtype=np.int64)  # fmt: skip
        st = [np.zeros((n_rows, len(idx), max(len(m.gates), 1))) for m, idx, _ in mechs]
        pops.append(dict(
            pop=pop, kernel=get_network_kernel([m for m, _, _ in mechs]),
            fixed=(disc.parent, area_f, cap, gax, cell_v["celsius"], cell_v["v_init"],
                   *[a for _, idx, par in mechs for a in (idx, par)], row_of, syn_node,
                   syn_par),
            V=np.zeros((n_rows, disc.n_nodes)), ST=st, SA=np.zeros((n_rows, n_syn, 2)),
            flag=np.zeros(n_rows, dtype=np.int64), base=base, n_syn=n_syn, slot_of=slot_of,
            rec_nodes=rec_nodes,
            vrec=np.zeros((n_rows, len(rec_nodes), n_total // record_every + 1) if len(locs)
                          else (n_rows, 0, 1)),
            spike_node=disc.node(cell.root, 0.5),
            ev_step=np.zeros((n_rows, win + 2), dtype=np.int64),
            ev_n=np.zeros(n_rows, dtype=np.int64),
            spk_t=np.zeros((n_rows, win + 2)), spk_n=np.zeros(n_rows, dtype=np.int64),
            out_r=[], out_t=[], surrogate=False))  # fmt: skip
        base += n_rows * n_syn * ring
    pend = np.zeros(max(base, 1))
    by_name = {q["pop"].name: q for q in pops}
    for q in pops:
        q["pend"] = pend[q["base"] : q["base"] + b * q["pop"].size * q["n_syn"] * ring].reshape(
            b * q["pop"].size, q["n_syn"], ring)

    # the recurrent connections of each source population (CSR over its cells)
    for q in pops:
        src = q["pop"].name
        ent = []  # (pre cell, base, pstride, wcol, kd)
        for k, j in enumerate(net.projections):
            if j.pre != src:
                continue
            t = by_name[j.post]
            n_t, ns = t["pop"].size, t["n_syn"]
            slot = t["slot_of"][k]
            e = np.asarray(g.edges[j.name], dtype=np.int64)
            for pre, post in zip(e[0], e[1], strict=True):
                ent.append((int(pre), t["base"] + (int(post) * ns + slot) * ring,
                            n_t * ns * ring, k, kds[k]))  # fmt: skip
        ent.sort(key=lambda x: x[0])  # stable: projections in order within a cell
        arr = np.array(ent, dtype=np.int64).reshape(-1, 5)
        q["indptr"] = np.searchsorted(arr[:, 0], np.arange(q["pop"].size + 1)).astype(np.int64)
        q["edges"] = [np.ascontiguousarray(arr[:, c]) for c in range(1, 5)]

    # the inputs' events, in delivery order
    if trains is None:
        trains = input_trains(net, vals, seed=seed, rows=rows, keys=keys, duration_ms=dur)
    st_l, ix_l, w_l = [], [], []
    for k, inp in enumerate(net.inputs):
        t = by_name[inp.target]
        if t["surrogate"]:
            continue
        n_t, ns = t["pop"].size, t["n_syn"]
        slot = t["slot_of"][len(net.projections) + k]
        for p in range(b):
            for i in range(n_t):
                m = delivery_step(np.asarray(trains[k][p][i], float), dt)
                m = m[m < n_total]
                st_l.append(m)
                ix_l.append(np.full(len(m), t["base"] + (((p * n_t + i) * ns) + slot) * ring))
                w_l.append(np.full(len(m), weights[p, len(net.projections) + k]))
    if st_l:
        steps = np.concatenate(st_l)
        order = np.argsort(steps, kind="stable")
        in_steps = np.ascontiguousarray(steps[order])
        in_idx = np.ascontiguousarray(np.concatenate(ix_l)[order])
        in_w = np.ascontiguousarray(np.concatenate(w_l)[order])
    else:
        in_steps, in_idx, in_w = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)

    n_workers = _set_threads(workers)
    second = INTEGRATORS[integrator] == 2
    ptr = 0
    a = 0
    while a < n_total:
        w = min(win, n_total - a)
        ptr = _add_inputs(ptr, in_steps, in_idx, in_w, a + w, ring, pend)
        for q in pops:
            if q["surrogate"]:
                _surrogate_window(q, keys, a, w, dt, ring)
            else:
                args = (*q["fixed"], q["V"], *q["ST"], q["SA"], q["pend"], q["flag"], a == 0, a,
                        w, dt, second, q["rec_nodes"], record_every, q["vrec"], q["spike_node"],
                        q["ev_step"], q["ev_n"], q["spk_t"], q["spk_n"])
                run_on_threads(q["kernel"], args, -(-q["V"].shape[0] // LANES), n_workers)
            n = q["spk_n"]
            if n.any():
                r, c = np.nonzero(np.arange(q["spk_t"].shape[1])[None, :] < n[:, None])
                q["out_r"].append(r)
                q["out_t"].append(q["spk_t"][r, c])
        for q in pops:
            if q["ev_n"].any() and len(q["edges"][0]):
                _exchange(q["ev_step"], q["ev_n"], q["pop"].size, b, q["indptr"], *q["edges"],
                          weights, ring, n_total, pend)
        a += w

    spikes, rates, vout = {}, {}, {}
    for q in pops:
        size = q["pop"].size
        r = np.concatenate(q["out_r"]) if q["out_r"] else np.zeros(0, np.int64)
        t = np.concatenate(q["out_t"]) if q["out_t"] else np.zeros(0)
        order = np.argsort(r, kind="stable")  # windows in time order: times stay sorted
        r, t = r[order], t[order]
        cuts = np.searchsorted(r, np.arange(b * size + 1))
        per = [t[cuts[k] : cuts[k + 1]].copy() for k in range(b * size)]
        name = q["pop"].name
        spikes[name] = [per[p * size : (p + 1) * size] for p in range(b)]
        rates[name] = np.bincount(r // size, minlength=b)[:b] / (size * dur * 1e-3)
        if not q["surrogate"] and len(q["rec_nodes"]):
            vout[name] = q["vrec"].reshape(b, size, len(q["rec_nodes"]), -1)
    t_ms = np.arange(n_total // record_every + 1) * (dt * record_every) if vout else None
    return CellNetworkResult(spikes, rates, dur, t_ms, vout, g)


# ---------------------------------------------------------------------------------------------
# a batch of the engine (run_batch, sweeps, fits, surrogates)


class CellNetworkBatch:
    """``model`` (a ``CellNetworkModel``) on the graph of ``conn_seed`` as a batch of the
    engine: rows are parameter sets, outputs the populations' rates over the rate window
    (Hz); the recorded spikes are every cell's (neuron index: the cell's index over all
    populations in declaration order)."""

    kind = "cell_network"

    def __init__(self, model, conn_seed: int = 0, rate_fns: dict | None = None) -> None:
        self.model = model
        self.spec = model.spec
        self.net: CellNetwork = model.network
        self.conn_seed = conn_seed
        self.rate_fns = rate_fns  # the surrogate populations' rate functions (hybrid networks)
        self.graph = self.net.graph(conn_seed)
        self.connectivity = self.graph  # what the CLI reads for rasters and spike files

    def integrator_for(self, device: str, integrator: str | None) -> str | None:
        return integrator or self.spec.settings.integrator

    def check_settings(self, settings) -> None:
        if settings.integrator not in INTEGRATORS:
            raise SettingsError(f"integrator={settings.integrator!r}; allowed for a network of "
                                f"cells: {', '.join(INTEGRATORS)}")
        for j in self.net.projections:
            if j.delay < settings.dt_ms:
                raise SettingsError(f"dt_ms={settings.dt_ms:g} > the delay {j.delay:g} ms of "
                                    f"projection {j.name}; allowed: dt_ms <= the shortest delay")

    def describe(self) -> dict:
        return {"model": self.spec.name, "model_version": self.spec.version,
                "conn_seed": self.conn_seed}

    def run_chunk(self, params, keys, settings, device, recording):
        import numba

        from neuroscape.core.settings import ChunkResult

        if device != "cpu":
            raise SettingsError(f"device={device!r}: networks of cells run on: cpu")
        if recording.v_neurons:
            raise SettingsError("record_v: networks of cells record spikes only (or use "
                                "run_cell_network(record=...))")
        res = run_cell_network(self.net, np.asarray(params, float), graph=self.graph,
                               keys=keys, duration_ms=settings.duration_ms,
                               dt_ms=settings.dt_ms, integrator=settings.integrator,
                               workers=numba.get_num_threads(),
                               rate_fns=self.rate_fns)  # fmt: skip
        b = len(params)
        t0 = settings.duration_ms - settings.window_ms
        out = np.empty((b, len(self.net.outputs)))
        for k, (_, pops) in enumerate(self.net.outputs):
            size = sum(self.net.population(pn).size for pn in pops)
            for p in range(b):
                n = sum(int(np.count_nonzero(t >= t0)) for pn in pops
                        for t in res.spikes[pn][p])  # fmt: skip
                out[p, k] = n / (size * settings.window_ms * 1e-3)
        ok = np.all(np.isfinite(out), axis=1)
        spikes = None
        if recording.spikes:
            spikes = []
            for p in range(b):
                ts, ns, c = [], [], 0
                for pop in self.net.populations:
                    for t in res.spikes[pop.name][p]:
                        ts.append(t)
                        ns.append(np.full(len(t), c, dtype=np.int64))
                        c += 1
                t, n = np.concatenate(ts), np.concatenate(ns)
                order = np.argsort(t, kind="stable")
                spikes.append((t[order], n[order]))
        return ChunkResult(out, ok, [None] * b, spikes=spikes)


__all__ = [
    "CellNetworkBatch",
    "CellNetworkResult",
    "ROOT",
    "delay_steps",
    "delivery_step",
    "input_trains",
    "run_cell_network",
    "running_average",
    "surrogate_inputs",
    "synapse_columns",
]
