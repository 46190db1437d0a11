"""Reduced two-variable decision model of Wong and Wang (2006), batched over trials:

    dS_i/dt = -S_i / tau_S + (1 - S_i) gamma H(x_i)
    x_1 = J_S S_1 - J_C S_2 + I_0 + J_ext mu0 (1 + c/100) + I_noise,1       (x_2: 1 <-> 2, -c)
    H(x) = (a x - b) / (1 - exp(-d (a x - b)))
    tau_AMPA dI_noise/dt = -I_noise + sqrt(tau_AMPA) sigma xi(t)

S_i are NMDA gating variables, H the population rate (Hz), c the motion coherence (%). A trial
ends with choice i when H(x_i) first reaches the threshold (15 Hz). Fixed points come from root
finding along S_1 (S_2 from S_1's nullcline), their stability from the Jacobian; the stimulus
edges of the bistable range are refined with ``brentq`` (continuation of the fixed points).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.optimize import brentq

from neuroscape.core.rng import normal
from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
from neuroscape.models.theory.model import TheoryModel, TheoryRun, decision_labels

# the label of a trial still without a decision at the end of the run
UNDECIDED = "undecided"

SPEC = ModelSpec(
    name="wong_wang",
    version="1",
    description="Wong-Wang (2006) reduced two-population decision model",
    parameters=(
        Parameter("coherence", 0.0, -100.0, 100.0, "%", "motion coherence (> 0 favours 1)"),
        Parameter("mu0", 30.0, 0.0, 100.0, "Hz", "stimulus strength"),
        Parameter("J_S", 0.2609, 0.1, 0.4, "nA", "self excitation J_N,11 = J_N,22"),
        Parameter("J_C", 0.0497, 0.0, 0.2, "nA", "cross inhibition J_N,12 = J_N,21"),
        Parameter("I_0", 0.3255, 0.2, 0.45, "nA", "background current"),
        Parameter("J_ext", 5.2e-4, 0.0, 2e-3, "nA/Hz", "stimulus coupling"),
        Parameter("sigma", 0.02, 0.0, 0.1, "nA", "noise amplitude", 0.0),
        Parameter("threshold", 15.0, 1.0, 60.0, "Hz", "decision threshold on H(x_i)"),
    ),
    outputs=(
        Output(
            "choice",
            "1",
            "1: population 1 reached threshold first, 0: population 2, NaN: no decision "
            "within the run",
        ),
        Output("rt", "ms", "decision time (NaN without a decision)"),
    ),
    settings=DefaultSettings(
        duration_ms=3000.0,
        dt_ms=0.5,
        window_ms=3000.0,
        integrator="euler",
        note="Euler for the NMDA gating, the exact update for the noise; trials without a "
        f"decision by the end of the run are labelled {UNDECIDED!r} (with a warning)",
    ),
)
A, B, D = 270.0, 108.0, 0.154  # Hz/nA, Hz, s
GAMMA, TAU_S, TAU_AMPA = 0.641, 0.1, 0.002  # 1, s, s
S_START = 0.1


@njit(inline="always", cache=True)
def _h(x):
    y = A * x - B
    if abs(y) < 1e-9:
        return 1.0 / D
    return y / (1.0 - np.exp(-D * y))


# The model's equations, written once for both kernels (noisy trials and noise-free relaxation)
@njit(inline="always", cache=True)
def _stimuli(c, mu0, jext):
    """The two populations' stimulus currents (nA) at coherence c (%)."""
    return jext * mu0 * (1 + c / 100.0), jext * mu0 * (1 - c / 100.0)


@njit(inline="always", cache=True)
def _rate(s_self, s_other, js, jc, i0, i_stim, noise):
    """A population's rate (Hz) from its gating, the other's, and its currents (nA)."""
    return _h(js * s_self - jc * s_other + i0 + i_stim + noise)


@njit(inline="always", cache=True)
def _gate(s, h, dt):
    """One Euler step (dt in s) of NMDA gating driven at rate h (Hz)."""
    return s + dt * (-s / TAU_S + (1 - s) * GAMMA * h)


@njit(nogil=True, cache=True)
def _trials(params, keys, dt, n_steps, out, r_lo, r_hi):
    for r in range(r_lo, r_hi):
        c, mu0, js, jc, i0, jext, sig, thr = params[r]
        i1, i2 = _stimuli(c, mu0, jext)
        s1, s2, n1, n2 = S_START, S_START, 0.0, 0.0
        ou = np.exp(-dt / TAU_AMPA)
        ou_sd = sig * np.sqrt(0.5 * (1 - ou * ou))  # exact OU update, stationary SD sigma/sqrt(2)
        out[r, 0] = np.nan
        out[r, 1] = np.nan
        for k in range(n_steps):
            h1 = _rate(s1, s2, js, jc, i0, i1, n1)
            h2 = _rate(s2, s1, js, jc, i0, i2, n2)
            if h1 >= thr or h2 >= thr:
                out[r, 0] = 1.0 if h1 >= h2 else 0.0
                out[r, 1] = k * dt * 1e3
                break
            s1, s2 = _gate(s1, h1, dt), _gate(s2, h2, dt)
            n1 = n1 * ou + ou_sd * normal(keys[r], np.uint64(2 * k))
            n2 = n2 * ou + ou_sd * normal(keys[r], np.uint64(2 * k + 1))


def simulate_trials(
    params: np.ndarray,
    keys: np.ndarray,
    dt_ms: float = SPEC.settings.dt_ms,
    duration_ms: float = SPEC.settings.duration_ms,
) -> np.ndarray:
    """(B, 2) choices and decision times (ms) for parameter rows (B, 8), one trial per row."""
    p = np.ascontiguousarray(np.atleast_2d(params), dtype=float)
    out = np.empty((len(p), 2))
    args = (p, np.asarray(keys, np.uint64), dt_ms * 1e-3, int(round(duration_ms / dt_ms)), out)
    run_on_threads(_trials, args, len(p))
    return out


# ------------------------------------------------------------------------------ fixed points
def _hv(x):
    y = A * np.asarray(x, float) - B
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return np.where(np.abs(y) < 1e-9, 1 / D, y / -np.expm1(-D * y))


def _currents(q: dict):
    return (
        q["J_ext"] * q["mu0"] * (1 + q["coherence"] / 100),
        q["J_ext"] * q["mu0"] * (1 - q["coherence"] / 100),
    )


def rhs(s1, s2, q: dict):
    i1, i2 = _currents(q)
    x1 = q["J_S"] * s1 - q["J_C"] * s2 + q["I_0"] + i1
    x2 = q["J_S"] * s2 - q["J_C"] * s1 + q["I_0"] + i2
    return (-s1 / TAU_S + (1 - s1) * GAMMA * _hv(x1), -s2 / TAU_S + (1 - s2) * GAMMA * _hv(x2))


_X_TAB = np.linspace(-1.0, 20.0, 420_001)
_H_TAB = _hv(_X_TAB)  # H is increasing: its inverse by interpolation for scans


def _h_inverse(rate: float) -> float:
    return brentq(lambda x: float(_hv(x)) - rate, -1.0, 20.0, xtol=1e-15)


def fixed_points(p: dict | None = None, n_grid: int = 4000) -> list[tuple[float, float]]:
    """All fixed points (S_1, S_2) in the unit square: along S_1, dS_1/dt = 0 fixes x_1 (H is
    monotone), hence S_2; the sign changes of dS_2/dt along that curve are refined (``brentq``)."""
    q = SPEC.defaults | dict(p or {})
    i1, _ = _currents(q)

    def s2_of(s1, x1=None):
        x1 = _h_inverse(s1 / (TAU_S * GAMMA * (1 - s1))) if x1 is None else x1
        return (q["J_S"] * s1 + q["I_0"] + i1 - x1) / q["J_C"]

    def resid(s1):
        return rhs(s1, s2_of(s1), q)[1]

    s1s = np.linspace(1e-4, 0.99, n_grid)
    x1s = np.interp(s1s / (TAU_S * GAMMA * (1 - s1s)), _H_TAB, _X_TAB)
    s2s = s2_of(s1s, x1s)
    res = rhs(s1s, s2s, q)[1]
    out = []
    for k in np.flatnonzero(
        (np.sign(res[:-1]) != np.sign(res[1:])) & (s2s[:-1] > -0.01) & (s2s[:-1] < 1.01)
    ):
        try:
            s1 = brentq(resid, s1s[k], s1s[k + 1], xtol=1e-14)
        except ValueError:  # interpolation placed a near-tangent root pair in one cell
            continue
        s2 = s2_of(s1)
        if 0 <= s2 <= 1:
            out.append((float(s1), float(s2)))
    return out


def jacobian(s1: float, s2: float, p: dict, h: float = 1e-7) -> np.ndarray:
    q = SPEC.defaults | dict(p)
    f0 = np.array(rhs(s1, s2, q), float)
    j = np.empty((2, 2))
    j[:, 0] = (np.array(rhs(s1 + h, s2, q), float) - f0) / h
    j[:, 1] = (np.array(rhs(s1, s2 + h, q), float) - f0) / h
    return j


def stable_states(p: dict | None = None) -> list[tuple[float, float]]:
    return [
        fp for fp in fixed_points(p) if np.all(np.linalg.eigvals(jacobian(*fp, p or {})).real < 0)
    ]


def regime(p: dict | None = None) -> str:
    """spontaneous (one symmetric low state), bistable (two decision states only), multistable
    (spontaneous and both decision states) or other."""
    st = stable_states(p)
    sym = [s for s in st if abs(s[0] - s[1]) < 1e-6]
    asym = [s for s in st if abs(s[0] - s[1]) >= 1e-6]
    if len(st) == 1 and sym:
        return "spontaneous" if sym[0][0] < 0.3 else "symmetric-high"
    if len(asym) == 2 and not sym:
        return "bistable"
    if len(asym) == 2 and len(sym) == 1:
        return "multistable"
    return f"other ({len(st)} stable)"


def regime_edges(
    param: str, lo: float, hi: float, p: dict | None = None, n: int = 81, xtol: float = 1e-6
) -> list[tuple[float, str, str]]:
    """Values of ``param`` where the regime changes, from the fixed points (scan, then bisection
    on the regime to ``xtol`` relative): [(value, regime below, regime above)]."""
    base = dict(p or {})
    vs = np.linspace(lo, hi, n)
    regs = [regime(base | {param: v}) for v in vs]
    out = []
    for k in range(n - 1):
        if regs[k] != regs[k + 1]:
            a, b = vs[k], vs[k + 1]
            while b - a > xtol * max(1.0, abs(a)):
                m = 0.5 * (a + b)
                if regime(base | {param: m}) == regs[k]:
                    a = m
                else:
                    b = m
            out.append((0.5 * (a + b), regs[k], regs[k + 1]))
    return out


# --------------------------------------------------------------- attractors from simulation
@njit(nogil=True, cache=True)
def _relax(q, y0, dt, n_steps, out, r_lo, r_hi):
    for r in range(r_lo, r_hi):
        c, mu0, js, jc, i0, jext = q[r, 0], q[r, 1], q[r, 2], q[r, 3], q[r, 4], q[r, 5]
        i1, i2 = _stimuli(c, mu0, jext)
        s1, s2 = y0[r, 0], y0[r, 1]
        for _ in range(n_steps):
            h1 = _rate(s1, s2, js, jc, i0, i1, 0.0)
            h2 = _rate(s2, s1, js, jc, i0, i2, 0.0)
            s1, s2 = _gate(s1, h1, dt), _gate(s2, h2, dt)
        out[r, 0], out[r, 1] = s1, s2


def simulated_attractors(
    param: str,
    values: np.ndarray,
    p: dict | None = None,
    n_starts: int = 9,
    duration_ms: float = 20_000.0,
    dt_ms: float = 0.5,
    kick: float = 1e-4,
) -> list[list[tuple[float, float]]]:
    """The attractors noise-free simulations find, per value (batched runs). End states of runs
    from a grid of starts (and from the diagonal, which holds the symmetric states) are
    candidates; each candidate is run on unkicked and kicked by +-kick along S_1 and S_2, and is
    an attractor when the unkicked copy stays within the kick of where it started (converged) and
    every kicked copy ends closer to it than the kick (the separation shrank). Runs that stalled
    near a saddle or on a slow manifold fail that test."""
    base = SPEC.params_array(dict(p or {}))[0]
    j = SPEC.parameter_names.index(param)
    g = np.linspace(0.02, 0.9, n_starts)
    # diagonal starts first: their end states (exact symmetric states) represent their keys
    starts = np.vstack(
        [[(x, x) for x in np.linspace(0.02, 0.9, 5)], [(a, b + 0.0123) for a in g for b in g]]
    )
    qrows = np.array([np.r_[base[:j], v, base[j + 1 :]] for v in values])
    end = _relax_rows(
        np.repeat(qrows, len(starts), axis=0), np.tile(starts, (len(values), 1)), duration_ms, dt_ms
    ).reshape(len(values), len(starts), 2)
    kicks = np.array([(0, 0), (kick, 0), (-kick, 0), (0, kick), (0, -kick)])
    cand_rows, cand_y0, owner = [], [], []
    for k in range(len(values)):
        seen = {}
        for e in end[k]:
            seen.setdefault((round(e[0], 3), round(e[1], 3)), e)
        for key, e in seen.items():
            for kk in kicks:
                cand_rows.append(qrows[k])
                cand_y0.append(e + kk)
            owner.append((k, key))
    kend = _relax_rows(np.array(cand_rows), np.array(cand_y0), duration_ms, dt_ms)
    kend = kend.reshape(-1, len(kicks), 2)
    k_start = np.array(cand_y0).reshape(-1, len(kicks), 2)
    res = [[] for _ in values]
    for (k, key), e, st in zip(owner, kend, k_start, strict=True):
        moved = np.abs(e[0] - st[0]).max()  # a converged state stays put
        if moved < kick and np.abs(e[1:] - e[0]).max() < kick:
            res[k].append((moved, key))
    out = []
    for r in res:  # states within 5e-3 of a better-converged one are the same attractor
        kept = []
        for _, key in sorted(r):
            if all(max(abs(key[0] - q[0]), abs(key[1] - q[1])) > 5e-3 for q in kept):
                kept.append(key)
        out.append(sorted(kept))
    return out


def _relax_rows(rows: np.ndarray, y0: np.ndarray, duration_ms: float, dt_ms: float):
    out = np.empty_like(y0, dtype=float)
    args = (np.ascontiguousarray(rows, dtype=float), np.ascontiguousarray(y0, dtype=float),
            dt_ms * 1e-3, int(round(duration_ms / dt_ms)), out)
    run_on_threads(_relax, args, len(out))
    return out


def simulated_regime(attractors: list[tuple[float, float]]) -> str:
    sym = [a for a in attractors if abs(a[0] - a[1]) < 2e-3]
    asym = [a for a in attractors if abs(a[0] - a[1]) >= 2e-3]
    if len(attractors) == 1 and sym:
        return "spontaneous" if sym[0][0] < 0.3 else "symmetric-high"
    if len(asym) == 2 and not sym:
        return "bistable"
    if len(asym) == 2 and len(sym) == 1:
        return "multistable"
    return f"other ({len(attractors)} attractors)"


def energy_landscape(p: dict | None = None, n: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """A one-dimensional energy U(delta) along delta = S_1 - S_2: for each delta the sum
    S_1 + S_2 relaxes to its own nullcline (the fast direction), then U = -int d(delta)/dt."""
    q = SPEC.defaults | dict(p or {})
    deltas = np.linspace(-0.8, 0.8, n)
    force = np.full(n, np.nan)
    for k, dl in enumerate(deltas):

        def fsum(sig, dl=dl):
            f1, f2 = rhs((sig + dl) / 2, (sig - dl) / 2, q)
            return float(f1 + f2)

        lo, hi = abs(dl) + 1e-9, 2 - abs(dl) - 1e-9
        sig = np.linspace(lo, hi, 400)
        fs = np.array([fsum(s) for s in sig])
        ch = np.flatnonzero(np.sign(fs[:-1]) != np.sign(fs[1:]))
        if len(ch):
            s = brentq(fsum, sig[ch[0]], sig[ch[0] + 1])  # the lowest: the slow valley
            f1, f2 = rhs((s + dl) / 2, (s - dl) / 2, q)
            force[k] = float(f1 - f2)
    ok = np.isfinite(force)
    u = np.full(n, np.nan)
    x, f = deltas[ok], force[ok]
    u[ok] = -np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(x))])
    return deltas, u - np.nanmin(u)


def simulated_edges(
    param: str,
    lo: float,
    hi: float,
    p: dict | None = None,
    n: int = 21,
    rounds: int = 3,
    points: int = 8,
    **kw,
) -> list[tuple[float, str, str]]:
    """Regime changes seen by the simulations alone: a scan of ``n`` values, then for each
    change ``rounds`` of batched refinement over ``points`` values inside its bracket."""
    vs = np.linspace(lo, hi, n)
    regs = [simulated_regime(a) for a in simulated_attractors(param, vs, p, **kw)]
    out = []
    for k in range(n - 1):
        if regs[k] == regs[k + 1]:
            continue
        a, b = vs[k], vs[k + 1]
        for _ in range(rounds):
            inner = np.linspace(a, b, points + 2)
            rg = [simulated_regime(x) for x in simulated_attractors(param, inner, p, **kw)]
            same = [r == regs[k] for r in rg]
            j = next((i for i, sm in enumerate(same) if not sm), len(same) - 1)
            a, b = inner[max(j - 1, 0)], inner[j]
        out.append((0.5 * (a + b), regs[k], regs[k + 1]))
    return out


def run_rows(params: np.ndarray, keys: np.ndarray, settings: SimSettings) -> TheoryRun:
    """One trial per row; a trial without a decision by the end of the run is unfinished."""
    out = simulate_trials(params, keys, settings.dt_ms, settings.duration_ms)
    return TheoryRun(out, decision_labels(out[:, 0]), unfinished=np.isnan(out[:, 0]))


MODEL = TheoryModel(SPEC, run=run_rows, unfinished_label=UNDECIDED)
