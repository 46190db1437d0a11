"""Hopfield associative memory (Gerstner, Sprekeler & Deco 2012): binary neurons s_i = +-1, Hebbian
storage of P random
patterns, W = (1/N) sum_mu xi^mu xi^mu^T with zero diagonal, and asynchronous updates
s_i <- sign(sum_j W_ij s_j) in random order until a full sweep flips nothing.

Retrieval from a cue (a stored pattern with a fraction of its bits flipped) is judged by the
overlap m = (1/N) sum_i xi_i s_i with the cued pattern; the load is alpha = P / N (critical load
about 0.138 for large N, Amit, Gutfreund and Sompolinsky 1985).

The spiking form (assemblies of LIF neurons retrieved by a cue) is the network file
``assembly`` (``neuroscape/models/network/library/assembly.yaml``), run by the network engine;
``neuroscape.analysis.theory.assembly_retrieval`` gives its population rates over time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.settings import SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
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


RETRIEVED = 0.9  # final overlap (1) above which the cued pattern counts as retrieved


def run_rows(params: np.ndarray, keys: np.ndarray, settings: SimSettings) -> TheoryRun:
    """One trial per row; its patterns, cue and update order are drawn from a seed taken from
    the row's stream key. Time does not enter, so the settings are not used."""
    seeds = np.asarray(keys, np.uint64)  # the whole 64-bit key: distinct rows, distinct trials
    out = simulate(params, seeds)
    return TheoryRun(out, ["retrieved" if m > RETRIEVED else "not retrieved" for m in out[:, 0]])


MODEL = TheoryModel(SPEC, run=run_rows)
