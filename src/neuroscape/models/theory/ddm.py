"""Drift-diffusion model of two-choice decisions (Gerstner, Sprekeler & Deco 2012): dx = v dt +
sigma dW from x0 = z a
between absorbing bounds -a (choice 0) and +a (choice 1); decision time = first passage + t_nd.

Trials are batch rows, each with its own noise stream (seed, row). Crossings between steps are
caught with the Brownian-bridge crossing probability exp(-2 (a - x0)(a - x1) / (sigma^2 dt)),
so the first-passage statistics carry no O(sqrt(dt)) bias from discrete monitoring; the crossing
time is put at mid-step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.rng import normal, unit_float, word
from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
from neuroscape.models.theory.model import TheoryModel, TheoryRun, decision_labels

# the label of a trial still without a decision at the end of the run
UNDECIDED = "undecided"

SPEC = ModelSpec(
    name="ddm",
    version="1",
    description="drift-diffusion model: first passage between two absorbing bounds",
    parameters=(
        Parameter("v", 1.0, -10.0, 10.0, "1/s", "drift rate"),
        Parameter("a", 1.0, 0.05, 5.0, "1", "bound (+a and -a)", 1e-9),
        Parameter("sigma", 1.0, 0.05, 5.0, "1/sqrt(s)", "noise amplitude", 1e-9),
        Parameter("z", 0.0, -0.95, 0.95, "1", "start point as a fraction of a"),
        Parameter("t_nd", 0.0, 0.0, 1.0, "s", "non-decision time", 0.0),
    ),
    outputs=(
        Output("choice", "1", "1: upper bound, 0: lower, NaN: no decision within the run"),
        Output(
            "rt",
            "ms",
            "decision time (first passage + t_nd) in ms, as for every decision model; NaN "
            "without a decision",
        ),
    ),
    settings=DefaultSettings(
        duration_ms=10_000.0,
        dt_ms=1.0,
        window_ms=10_000.0,
        integrator="euler",
        note="Euler-Maruyama (exact for constant drift) with Brownian-bridge crossings; at the "
        "default parameters a trial outlasts 10 s with probability < 1e-6; trials without a "
        f"decision by the end of the run are labelled {UNDECIDED!r} (with a warning)",
    ),
)


@njit(nogil=True, cache=True)
def _first_passage(params, keys, dt, n_steps, out, r_lo, r_hi):
    for r in range(r_lo, r_hi):
        v, a, sig, z, tnd = params[r, 0], params[r, 1], params[r, 2], params[r, 3], params[r, 4]
        x = z * a
        s2dt = sig * sig * dt
        sq = sig * np.sqrt(dt)
        out[r, 0] = np.nan
        out[r, 1] = np.nan
        for k in range(n_steps):
            c = np.uint64(k)
            x1 = x + v * dt + sq * normal(keys[r], c)
            hit = 0
            if x1 >= a:
                hit = 1
            elif x1 <= -a:
                hit = -1
            else:  # the path may have crossed between the samples (Brownian bridge)
                u = unit_float(word(keys[r] ^ np.uint64(0xA5A5A5A5A5A5A5A5), c))
                p_up = np.exp(-2.0 * (a - x) * (a - x1) / s2dt)
                p_lo = np.exp(-2.0 * (x + a) * (x1 + a) / s2dt)
                if u < p_up:
                    hit = 1
                elif u < p_up + p_lo:
                    hit = -1
            if hit != 0:
                out[r, 0] = 1.0 if hit == 1 else 0.0
                out[r, 1] = (k + 0.5) * dt + tnd
                break
            x = x1


def simulate_trials(
    params: np.ndarray,
    keys: np.ndarray,
    dt_ms: float = SPEC.settings.dt_ms,
    duration_ms: float = SPEC.settings.duration_ms,
) -> np.ndarray:
    """(B, 2) choices and decision times (ms) for parameter rows (B, 5) and stream keys (B,)."""
    p = np.ascontiguousarray(params, dtype=float)
    out = np.empty((len(p), 2))
    args = (p, np.asarray(keys, np.uint64), dt_ms * 1e-3, int(round(duration_ms / dt_ms)), out)
    run_on_threads(_first_passage, args, len(p))
    out[:, 1] *= 1e3  # the kernel works in s, the drift's unit; decision times are reported in ms
    return out


def choice_probability(v: float, a: float, sigma: float, z: float = 0.0) -> float:
    """P(upper bound): (1 - exp(-2 v (x0 + a)/sigma^2)) / (1 - exp(-4 v a/sigma^2))."""
    if v == 0:
        return (z + 1) / 2
    k = 2 * v / sigma**2
    return float(-np.expm1(-k * (z * a + a)) / -np.expm1(-k * 2 * a))


def mean_decision_time(v: float, a: float, sigma: float, z: float = 0.0) -> float:
    """Mean first-passage time (s) from x0 = z a, for either bound."""
    x0 = z * a
    if v == 0:
        return float((a * a - x0 * x0) / sigma**2)
    p = choice_probability(v, a, sigma, z)
    return float((a * (2 * p - 1) - x0) / v)


def run_rows(params: np.ndarray, keys: np.ndarray, settings: SimSettings) -> TheoryRun:
    """One trial per row; a trial without a decision by the end of the run is unfinished."""
    out = simulate_trials(params, keys, settings.dt_ms, settings.duration_ms)
    return TheoryRun(out, decision_labels(out[:, 0]), unfinished=np.isnan(out[:, 0]))


MODEL = TheoryModel(SPEC, run=run_rows, unfinished_label=UNDECIDED)
