"""Wilson-Cowan E-I rate model (Gerstner, Sprekeler & Deco 2012, population level):

    tau_E dE/dt = -E + S_E(w_EE E - w_EI I + P)
    tau_I dI/dt = -I + S_I(w_IE E - w_II I + Q),     S(x) = 1 / (1 + exp(-a (x - theta)))

E and I are the active fractions of the populations. The gain functions are Wilson and Cowan's
(1972); the couplings (10, 10, 10, 3) give a unique fixed point that loses stability through a
Hopf bifurcation as the drive P falls below about 2.11 (oscillations at P = 1.5). Fixed points
come from root finding along the E axis (I solved on its nullcline), their stability from the
analytic Jacobian; rows of a batch integrate with RK4 (numba, parallel over rows).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.optimize import brentq

from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import SettingsError, SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
from neuroscape.models.theory.model import TheoryModel, TheoryRun

SPEC = ModelSpec(
    name="wilson_cowan",
    version="1",
    description="Wilson-Cowan excitatory-inhibitory rate model",
    parameters=(
        Parameter("w_EE", 10.0, 0.0, 40.0, "1", "E -> E coupling"),
        Parameter("w_EI", 10.0, 0.0, 40.0, "1", "I -> E coupling"),
        Parameter("w_IE", 10.0, 0.0, 40.0, "1", "E -> I coupling"),
        Parameter("w_II", 3.0, 0.0, 40.0, "1", "I -> I coupling"),
        Parameter("a_E", 1.3, 0.1, 10.0, "1", "E gain slope", 1e-9),
        Parameter("theta_E", 4.0, -10.0, 20.0, "1", "E gain threshold"),
        Parameter("a_I", 2.0, 0.1, 10.0, "1", "I gain slope", 1e-9),
        Parameter("theta_I", 3.7, -10.0, 20.0, "1", "I gain threshold"),
        Parameter("P", 1.5, -5.0, 10.0, "1", "external drive to E"),
        Parameter("Q", 0.0, -5.0, 10.0, "1", "external drive to I"),
        Parameter("tau_E", 10.0, 0.1, 100.0, "ms", "E time constant", 1e-9),
        Parameter("tau_I", 10.0, 0.1, 100.0, "ms", "I time constant", 1e-9),
    ),
    outputs=(
        Output("E_mean", "1", "mean E activity over the window"),
        Output("I_mean", "1", "mean I activity over the window"),
        Output("amplitude", "1", "peak-to-peak E over the window (0 at a fixed point)"),
        Output("frequency", "Hz", "oscillation frequency from upward mean crossings (0: none)"),
    ),
    settings=DefaultSettings(
        duration_ms=2000.0,
        dt_ms=0.05,
        window_ms=1000.0,
        integrator="rk4",
        note="RK4; the window is compared with the one before it to tell an oscillation from "
        "a transient, so window_ms <= duration_ms / 2",
    ),
)


def _sig(x, a, th):
    return 1.0 / (1.0 + np.exp(-a * (x - th)))


# peak-to-peak E activity (1) above which a run counts as oscillating (else: a fixed point)
AMPLITUDE_TOL = 1e-4


@njit(inline="always", cache=True)
def _rhs(e, i, p):
    se = 1.0 / (1.0 + np.exp(-p[4] * (p[0] * e - p[1] * i + p[8] - p[5])))
    si = 1.0 / (1.0 + np.exp(-p[6] * (p[2] * e - p[3] * i + p[9] - p[7])))
    return (-e + se) / p[10], (-i + si) / p[11]


@njit(nogil=True, cache=True)
def _integrate(params, y0, dt, n_steps, n_window, out, r_lo, r_hi):
    """RK4 per row; out[r] = (mean E, mean I over the last window, E peak-to-peak over the
    last window, over the window before it, upward crossings of the previous window's mean)."""
    for r in range(r_lo, r_hi):
        p = params[r]
        e, i = y0[r, 0], y0[r, 1]
        lo0, hi0, lo1, hi1, se, si = 1e9, -1e9, 1e9, -1e9, 0.0, 0.0
        prev_mean, s_prev, cross = 0.0, 0.0, 0
        for k in range(n_steps):
            k1e, k1i = _rhs(e, i, p)
            k2e, k2i = _rhs(e + 0.5 * dt * k1e, i + 0.5 * dt * k1i, p)
            k3e, k3i = _rhs(e + 0.5 * dt * k2e, i + 0.5 * dt * k2i, p)
            k4e, k4i = _rhs(e + dt * k3e, i + dt * k3i, p)
            e_new = e + dt / 6.0 * (k1e + 2 * k2e + 2 * k3e + k4e)
            i = i + dt / 6.0 * (k1i + 2 * k2i + 2 * k3i + k4i)
            if n_steps - 2 * n_window <= k < n_steps - n_window:
                lo0, hi0 = min(lo0, e_new), max(hi0, e_new)
                s_prev += e_new
                if k == n_steps - n_window - 1:
                    prev_mean = s_prev / n_window
            elif k >= n_steps - n_window:
                lo1, hi1 = min(lo1, e_new), max(hi1, e_new)
                se += e_new
                si += i
                if e < prev_mean <= e_new:
                    cross += 1
            e = e_new
        out[r, 0] = se / n_window
        out[r, 1] = si / n_window
        out[r, 2] = hi1 - lo1
        out[r, 3] = hi0 - lo0
        out[r, 4] = cross


def _run(p, y0, duration_ms, window_ms, dt_ms):
    p = np.ascontiguousarray(np.atleast_2d(p), dtype=float)
    y = np.ascontiguousarray(np.broadcast_to(np.asarray(y0, float), (len(p), 2)))
    n_window = int(round(window_ms / dt_ms))
    n_steps = int(round(duration_ms / dt_ms))
    if not 1 <= n_window <= n_steps // 2:  # the window is compared with the one before it
        raise ValueError(
            f"window_ms={window_ms:g} must be in [dt_ms, duration_ms/2 = {duration_ms / 2:g}]: "
            "the oscillation test compares the window with the one before it"
        )
    out = np.zeros((len(p), 5))
    run_on_threads(_integrate, (p, y, dt_ms, n_steps, n_window, out), len(p))
    return out


def simulate(
    params: np.ndarray,
    duration_ms: float = SPEC.settings.duration_ms,
    window_ms: float = SPEC.settings.window_ms,
    dt_ms: float = SPEC.settings.dt_ms,
    y0=(0.1, 0.05),
    amp_tol: float = AMPLITUDE_TOL,
) -> np.ndarray:
    """(B, 4) outputs for parameter rows (B, 12): window means, E amplitude and frequency."""
    raw = _run(params, y0, duration_ms, window_ms, dt_ms)
    freq = np.where(raw[:, 2] > amp_tol, raw[:, 4] / (window_ms * 1e-3), 0.0)
    return np.column_stack([raw[:, 0], raw[:, 1], raw[:, 2], freq])


def trajectories(
    params: np.ndarray,
    duration_ms: float = 500.0,
    dt_ms: float = SPEC.settings.dt_ms,
    y0=(0.1, 0.05),
) -> np.ndarray:
    """(B, 2, T) E and I time courses (RK4 in numpy, vectorized over rows)."""
    p = np.atleast_2d(np.asarray(params, float))
    n = int(round(duration_ms / dt_ms))
    y = np.tile(np.asarray(y0, float), (len(p), 1))
    out = np.empty((len(p), 2, n))

    def f(y):
        se = _sig(p[:, 0] * y[:, 0] - p[:, 1] * y[:, 1] + p[:, 8], p[:, 4], p[:, 5])
        si = _sig(p[:, 2] * y[:, 0] - p[:, 3] * y[:, 1] + p[:, 9], p[:, 6], p[:, 7])
        return np.column_stack([(-y[:, 0] + se) / p[:, 10], (-y[:, 1] + si) / p[:, 11]])

    for k in range(n):
        k1 = f(y)
        k2 = f(y + 0.5 * dt_ms * k1)
        k3 = f(y + 0.5 * dt_ms * k2)
        k4 = f(y + dt_ms * k3)
        y = y + dt_ms / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[:, :, k] = y
    return out


def fixed_points(p: dict, n_grid: int = 2000) -> list[tuple[float, float]]:
    """All fixed points (E*, I*): for each E, I solves its own nullcline (monotone, unique);
    the E equation's sign changes along E are refined with ``brentq``."""
    q = SPEC.defaults | dict(p)

    def i_of_e(e):
        return brentq(
            lambda i: -i + _sig(q["w_IE"] * e - q["w_II"] * i + q["Q"], q["a_I"], q["theta_I"]),
            -1e-9,
            1 + 1e-9,
            xtol=1e-14,
        )

    def g(e):
        i = i_of_e(e)
        return -e + _sig(q["w_EE"] * e - q["w_EI"] * i + q["P"], q["a_E"], q["theta_E"])

    es = np.linspace(0.0, 1.0, n_grid)
    gs = np.array([g(e) for e in es])
    out = []
    for k in np.flatnonzero(np.sign(gs[:-1]) != np.sign(gs[1:])):
        e = brentq(g, es[k], es[k + 1], xtol=1e-14)
        out.append((e, i_of_e(e)))
    return out


def jacobian(e: float, i: float, p: dict) -> np.ndarray:
    q = SPEC.defaults | dict(p)
    xe = q["w_EE"] * e - q["w_EI"] * i + q["P"]
    xi = q["w_IE"] * e - q["w_II"] * i + q["Q"]
    se, si = _sig(xe, q["a_E"], q["theta_E"]), _sig(xi, q["a_I"], q["theta_I"])
    de, di = q["a_E"] * se * (1 - se), q["a_I"] * si * (1 - si)
    return np.array(
        [
            [(-1 + de * q["w_EE"]) / q["tau_E"], -de * q["w_EI"] / q["tau_E"]],
            [di * q["w_IE"] / q["tau_I"], (-1 - di * q["w_II"]) / q["tau_I"]],
        ]
    )


def hopf_points(param: str, lo: float, hi: float, p: dict | None = None, n: int = 200):
    """Values of ``param`` in [lo, hi] where a fixed point's complex eigenvalue pair crosses the
    imaginary axis (trace = 0 with det > 0), for a unique fixed point along the sweep."""
    base = SPEC.defaults | dict(p or {})

    def trace(v):
        q = base | {param: v}
        fps = fixed_points(q)
        if len(fps) != 1:
            return np.nan
        jac = jacobian(*fps[0], q)
        return np.trace(jac) if np.linalg.det(jac) > 0 else np.nan

    vs = np.linspace(lo, hi, n)
    tr = np.array([trace(v) for v in vs])
    out = []
    for k in range(n - 1):
        if np.isfinite(tr[k]) and np.isfinite(tr[k + 1]) and np.sign(tr[k]) != np.sign(tr[k + 1]):
            try:
                out.append(brentq(trace, vs[k], vs[k + 1], xtol=1e-12))
            except ValueError:  # the fixed point stops being unique inside the bracket
                continue
    return out


def oscillates(
    params: np.ndarray,
    duration_ms: float = 3000.0,
    dt_ms: float = SPEC.settings.dt_ms,
    kick: float = 1e-4,
) -> np.ndarray:
    """True where a small kick off the (unique) fixed point grows into a sustained oscillation:
    the E amplitude over the last third of the run exceeds that over the second third (a
    stable focus decays; past a supercritical Hopf the kick grows to the limit cycle)."""
    p = np.atleast_2d(np.asarray(params, float))
    names = SPEC.parameter_names
    y0 = []
    for row in p:
        fps = fixed_points(dict(zip(names, row, strict=True)))
        e, i = fps[0] if len(fps) == 1 else (0.1, 0.05)
        y0.append((e + kick, i))
    raw = _run(p, np.array(y0), duration_ms, duration_ms / 3, dt_ms)
    return raw[:, 2] > raw[:, 3]


def oscillation_onset(
    param: str,
    lo: float,
    hi: float,
    p: dict | None = None,
    rounds: int = 4,
    points: int = 8,
    duration_ms: float = 3000.0,
) -> float:
    """The value of ``param`` in [lo, hi] where simulations start to oscillate (batched
    bisection: each round simulates ``points`` values and keeps the bracket of the change)."""
    base = SPEC.params_array(dict(p or {}))[0]
    j = SPEC.parameter_names.index(param)
    for _ in range(rounds):
        vs = np.linspace(lo, hi, points + 2)
        rows = np.tile(base, (len(vs), 1))
        rows[:, j] = vs
        osc = oscillates(rows, duration_ms)
        ch = np.flatnonzero(osc[1:] != osc[:-1])
        if len(ch) == 0:
            raise ValueError(f"no change of behaviour for {param} in [{lo:g}, {hi:g}]")
        lo, hi = vs[ch[0]], vs[ch[0] + 1]
    return 0.5 * (lo + hi)


def run_rows(params: np.ndarray, keys: np.ndarray, settings: SimSettings) -> TheoryRun:
    """Deterministic: the keys are not used."""
    s = settings
    out = simulate(params, s.duration_ms, s.window_ms, s.dt_ms, amp_tol=AMPLITUDE_TOL)
    labels = ["oscillating" if a > AMPLITUDE_TOL else "steady" for a in out[:, 2]]
    return TheoryRun(out, labels)


def check_settings(settings: SimSettings) -> None:
    """This model's rule on the settings beyond the shared ones (one-line SettingsError)."""
    s = settings
    if s.window_ms > s.duration_ms / 2:
        raise SettingsError(
            f"window_ms={s.window_ms:g} must be <= duration_ms/2 = {s.duration_ms / 2:g} "
            f"for {SPEC.name} (the window is compared with the one before it)"
        )


MODEL = TheoryModel(SPEC, run=run_rows, check=check_settings, required=("E_mean", "I_mean"))
