"""Hopfield associative memory (Gerstner, Sprekeler & Deco 2012): binary neurons s_i = +-1, Hebbian
storage of P random
patterns, W = (1/N) sum_mu xi^mu xi^mu^T with zero diagonal, and asynchronous updates
s_i <- sign(sum_j W_ij s_j) in random order until a full sweep flips nothing.

Retrieval from a cue (a stored pattern with a fraction of its bits flipped) is judged by the
overlap m = (1/N) sum_i xi_i s_i with the cued pattern; the load is alpha = P / N (critical load
about 0.138 for large N, Amit, Gutfreund and Sompolinsky 1985).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.settings import SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
from neuroscape.models.theory.mean_field import by_presynaptic, lif_delta_step
from neuroscape.models.theory.model import TheoryModel, TheoryRun

SPEC = ModelSpec(
    name="hopfield",
    version="1",
    description="Hopfield network with Hebbian storage of random patterns",
    parameters=(
        Parameter("N", 1000.0, 10.0, 10_000.0, "neurons", "network size"),
        Parameter("alpha", 0.05, 0.0, 1.0, "1", "load P / N"),
        Parameter("cue_flip", 0.1, 0.0, 0.5, "1", "fraction of the cue's bits flipped"),
    ),
    outputs=(
        Output("overlap", "1", "final overlap with the cued pattern"),
        Output("sweeps", "1", "asynchronous sweeps until no neuron flipped"),
    ),
    settings=DefaultSettings(
        duration_ms=1.0,
        dt_ms=1.0,
        window_ms=1.0,
        integrator="none",
        note="time does not enter: asynchronous updates run until a sweep flips no neuron",
    ),
)


@njit(cache=True)
def _relax(w, s, order_seed, max_sweeps, xi0, trace):
    """Asynchronous updates with incremental local fields; trace[k] = overlap after sweep k."""
    n = s.size
    h = w @ s
    np.random.seed(order_seed)  # noqa: NPY002 (numba's generator, seeded per trial)
    trace[0] = (xi0 * s).sum() / n
    for sweep in range(max_sweeps):
        flips = 0
        for i in np.random.permutation(n):  # noqa: NPY002
            new = 1.0 if h[i] >= 0 else -1.0
            if new != s[i]:
                h += (new - s[i]) * w[:, i]
                s[i] = new
                flips += 1
        trace[sweep + 1] = (xi0 * s).sum() / n
        if flips == 0:
            trace[sweep + 2 :] = trace[sweep + 1]
            return sweep + 1
    return max_sweeps


def store(patterns: np.ndarray) -> np.ndarray:
    """Hebbian weights (N, N) of patterns (P, N) of +-1, zero diagonal (a BLAS product)."""
    xi = patterns.astype(np.float64)
    w = xi.T @ xi / xi.shape[1]
    np.fill_diagonal(w, 0.0)
    return w


def retrieve(
    n: int, alpha: float, cue_flip: float = 0.1, seed: int = 0, max_sweeps: int = 50
) -> tuple[float, int, np.ndarray]:
    """One trial: store round(alpha n) random patterns, cue pattern 0 with ``cue_flip`` of its
    bits flipped, relax. Returns (final overlap, sweeps, overlap after each sweep)."""
    rng = np.random.default_rng(seed)
    p = max(1, int(round(alpha * n)))
    xi = rng.choice(np.array([-1.0, 1.0]), size=(p, n))
    w = store(xi)
    s = xi[0].copy()
    flip = rng.random(n) < cue_flip
    s[flip] *= -1
    trace = np.zeros(max_sweeps + 1)
    sweeps = _relax(w, s, int(rng.integers(2**31)), max_sweeps, xi[0], trace)
    return float(trace[sweeps]), int(sweeps), trace


def simulate(params: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(B, 2) final overlap and sweeps for rows (N, alpha, cue_flip), one trial per row."""
    out = np.empty((len(params), 2))
    for r, (n, a, c) in enumerate(np.atleast_2d(params)):
        m, k, _ = retrieve(int(n), float(a), float(c), int(seeds[r]))
        out[r] = m, k
    return out


def capacity_curve(
    sizes, alphas, trials: int = 10, cue_flip: float = 0.1, seed: int = 0
) -> np.ndarray:
    """(len(sizes), len(alphas), trials) final overlaps."""
    out = np.empty((len(sizes), len(alphas), trials))
    for i, n in enumerate(sizes):
        for j, a in enumerate(alphas):
            for t in range(trials):
                ss = np.random.SeedSequence([seed, int(n), j, t])
                out[i, j, t] = retrieve(
                    int(n), float(a), cue_flip, seed=int(ss.generate_state(1)[0])
                )[0]
    return out


def critical_load(alphas: np.ndarray, mean_overlap: np.ndarray, level: float = 0.9) -> float:
    """The load where the mean final overlap first falls below ``level`` (linear
    interpolation between the grid points around the crossing)."""
    below = np.flatnonzero(mean_overlap < level)
    if len(below) == 0:
        return float("nan")
    k = below[0]
    if k == 0:
        return float(alphas[0])
    a0, a1, m0, m1 = alphas[k - 1], alphas[k], mean_overlap[k - 1], mean_overlap[k]
    return float(a0 + (m0 - level) * (a1 - a0) / (m0 - m1))


# ---------------------------------------------------------------------------------- spiking
CUE_MS = (500.0, 600.0)  # the default cue to assembly 0 (ms)


@njit(cache=True)
def _assembly_net(
    seed,
    n_e,
    n_i,
    n_asm,
    size,
    ce,
    ci,
    j,
    g,
    eta,
    w_plus,
    cue_amp,
    cue_on,
    cue_off,
    dt,
    n_steps,
    bin_steps,
    rates,
):
    """LIF network (tau 20 ms, theta 20 mV, reset 10 mV, t_ref 2 ms, delay 1.5 ms) with
    assemblies: E->E synapses inside an assembly are w_plus times stronger (Hebbian storage of
    binary patterns). External Poisson drive eta x threshold rate; during [cue_on, cue_off)
    assembly 0 gets cue_amp x more. rates[b, k]: rate (Hz) of group k in time bin b, groups =
    assemblies 0..n_asm-1, background E, I."""
    np.random.seed(seed)  # noqa: NPY002 (numba's generator, one network per call)
    n = n_e + n_i
    f = size / n_e
    w_minus = 1.0 - f * (w_plus - 1.0) / (n_asm * f - f)
    tau, theta, v_r, n_ref = 20.0, 20.0, 10.0, int(round(2.0 / dt))
    pre = np.empty(n * (ce + ci), np.int32)
    for i in range(n):
        for k in range(ce + ci):
            pre[i * (ce + ci) + k] = (
                np.random.randint(0, n_e) if k < ce else n_e + np.random.randint(0, n_i)
            )
    start, post = by_presynaptic(pre, n, ce + ci)
    wgt = np.empty(pre.size)
    for s in range(n):
        for x in range(start[s], start[s + 1]):
            i = post[x]
            w = j if s < n_e else -g * j
            if s < n_e and i < n_e and s // size < n_asm and i // size < n_asm:
                # potentiated inside an assembly, depressed between assemblies so that an
                # assembly neuron's mean input is unchanged (Amit and Brunel 1997)
                w *= w_plus if s // size == i // size else w_minus
            wgt[x] = w
    n_delay = int(round(1.5 / dt))
    ring = np.zeros((n_delay + 1, n))
    v = np.random.random(n) * 0.5 * theta  # noqa: NPY002 (a quiet start: no initial burst)
    held = np.zeros(n, np.int64)
    decay = np.exp(-dt / tau)  # once, not per neuron and step
    lam = eta * theta / (j * ce * tau) * ce * dt  # external spikes per step
    group = np.empty(n, np.int64)
    counts = np.zeros(n_asm + 2)
    for i in range(n):
        group[i] = n_asm + 1 if i >= n_e else (i // size if i // size < n_asm else n_asm)
        counts[group[i]] += 1
    for step in range(n_steps):
        slot = step % (n_delay + 1)
        cue = cue_on <= step * dt < cue_off
        for i in range(n):
            mean = lam * (cue_amp if cue and group[i] == 0 else 1.0)
            ext = np.random.poisson(mean)  # noqa: NPY002
            v[i], held[i], spiked = lif_delta_step(
                v[i], held[i], decay, j * ext, ring[slot, i], theta, v_r, n_ref
            )
            ring[slot, i] = 0.0
            if spiked:
                arrive = (step + n_delay) % (n_delay + 1)
                for x in range(start[i], start[i + 1]):
                    ring[arrive, post[x]] += wgt[x]
                rates[step // bin_steps, group[i]] += 1.0
    for b in range(rates.shape[0]):
        for k in range(n_asm + 2):
            rates[b, k] /= counts[k] * bin_steps * dt * 1e-3


def assembly_retrieval(
    w_plus: float = 2.5,
    eta: float = 1.0,
    g: float = 5.0,
    j: float = 0.1,
    n_e: int = 8000,
    n_i: int = 2000,
    n_asm: int = 5,
    cue_amp: float = 1.5,
    cue_ms=CUE_MS,
    duration_ms: float = 1500.0,
    bin_ms: float = 50.0,
    dt_ms: float = 0.1,
    seed: int = 0,
):
    """A spiking E-I network with Hebbian assemblies (each n_e / (2 n_asm) neurons, half the E
    cells in none): (bin centres (ms), rates (bins, groups)), groups = assemblies, background
    E, I. A 100-ms cue to assembly 0 (external drive x cue_amp) leaves it active, far above
    the background, while the other assemblies fall silent.

    Measured (defaults, seeds 0-1): before the cue the network already holds one assembly
    active at random (an all-quiet spontaneous state was not stable for any w_plus in 2.2-3.5
    with eta 0.8-1.1); the cue switches it to assembly 0."""
    size = n_e // (2 * n_asm)
    n_steps = int(round(duration_ms / dt_ms))
    bin_steps = int(round(bin_ms / dt_ms))
    rates = np.zeros((n_steps // bin_steps + 1, n_asm + 2))
    _assembly_net(
        seed,
        n_e,
        n_i,
        n_asm,
        size,
        int(0.1 * n_e),
        int(0.1 * n_i),
        j,
        g,
        eta,
        w_plus,
        cue_amp,
        cue_ms[0],
        cue_ms[1],
        dt_ms,
        n_steps,
        bin_steps,
        rates,
    )
    rates = rates[: n_steps // bin_steps]
    return (np.arange(len(rates)) + 0.5) * bin_ms, rates


RETRIEVED = 0.9  # final overlap (1) above which the cued pattern counts as retrieved


def run_rows(params: np.ndarray, keys: np.ndarray, settings: SimSettings) -> TheoryRun:
    """One trial per row; its patterns, cue and update order are drawn from a seed taken from
    the row's stream key. Time does not enter, so the settings are not used."""
    seeds = np.asarray(keys, np.uint64)  # the whole 64-bit key: distinct rows, distinct trials
    out = simulate(params, seeds)
    return TheoryRun(out, ["retrieved" if m > RETRIEVED else "not retrieved" for m in out[:, 0]])


MODEL = TheoryModel(SPEC, run=run_rows)
