"""Mean-field theory of leaky integrate-and-fire neurons (Gerstner, Sprekeler & Deco 2012,
bottom-up): the Siegert
formula for the stationary rate of a current-based LIF neuron under Poisson input in the
diffusion approximation, the self-consistent rates of a sparse random E-I network (Brunel 2000,
model A), and the batched spiking simulation of both to check the theory against.

Units: mV, ms; rates in Hz at the interface. The membrane obeys tau dV/dt = -V + RI(t) with the
resting potential at 0, threshold theta and reset V_r (Brunel's convention); every presynaptic
spike makes V jump by J (excitatory) or -g J (inhibitory) after the delay D.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import erfcx

from neuroscape.core.rng import unit_float, word
from neuroscape.core.settings import SettingsError, SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
from neuroscape.models.theory.model import TheoryModel, TheoryRun

SPEC = ModelSpec(
    name="brunel",
    version="1",
    description="sparse random E-I network of LIF neurons with delta synapses (Brunel 2000, A)",
    parameters=(
        Parameter("g", 5.0, 0.0, 10.0, "1", "relative strength of inhibition J_I = -g J"),
        Parameter("eta", 2.0, 0.0, 6.0, "1", "external rate / threshold rate nu_ext/nu_thr", 0.0),
        Parameter("J", 0.1, 0.01, 1.0, "mV", "excitatory PSP amplitude", 0.0),
        Parameter("D", 1.5, 0.1, 5.0, "ms", "transmission delay", 0.1),
        Parameter("epsilon", 0.1, 0.01, 0.5, "1", "connection probability (fixed in-degree)"),
        Parameter("tau", 20.0, 1.0, 100.0, "ms", "membrane time constant", 1e-9),
        Parameter("theta", 20.0, 5.0, 50.0, "mV", "threshold above rest"),
        Parameter("V_r", 10.0, 0.0, 30.0, "mV", "reset above rest"),
        Parameter("t_ref", 2.0, 0.0, 10.0, "ms", "refractory period", 0.0),
    ),
    outputs=(
        Output("rate_E", "Hz", "mean rate of the excitatory neurons over the window"),
        Output("rate_I", "Hz", "mean rate of the inhibitory neurons over the window"),
        Output("cv_isi", "1", "mean CV of the interspike intervals (neurons with >= 5 of them)"),
        Output("rate_theory", "Hz", "the self-consistent mean-field rate (Siegert)"),
        Output(
            "sync",
            "1",
            "mean pairwise correlation of 1-ms spike counts, from the population "
            "count's Fano factor F: (F - 1) / (N - 1); 0 for independent neurons",
        ),
    ),
    settings=DefaultSettings(
        duration_ms=1000.0,
        dt_ms=0.1,
        window_ms=800.0,
        integrator="exponential_euler",
        note="the membrane decays exactly between the delta kicks; the first 200 ms "
        "(the transient from V_r) are left out of the rates",
    ),
)


def siegert(
    mu: float,
    sigma: float,
    tau: float = 20.0,
    theta: float = 20.0,
    v_r: float = 10.0,
    t_ref: float = 2.0,
) -> float:
    """Stationary rate (Hz) of an LIF neuron with mean input mu and SD sigma (mV):
    1/nu = t_ref + tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma} e^{u^2}(1 + erf u) du,
    with e^{u^2}(1 + erf u) = erfcx(-u) for stability (ms inside, Hz out)."""
    if sigma <= 0:
        if mu <= theta:
            return 0.0
        return 1e3 / (t_ref + tau * np.log((mu - v_r) / (mu - theta)))
    lo, hi = (v_r - mu) / sigma, (theta - mu) / sigma
    integral, _ = quad(lambda u: erfcx(-u), lo, hi, limit=200)
    return 1e3 / (t_ref + tau * np.sqrt(np.pi) * integral)


def input_moments(nu_hz: float, p: dict) -> tuple[float, float]:
    """(mu, sigma) in mV of the Brunel network at rate nu: recurrent plus external drive."""
    ce = p["epsilon"] * N_E
    gamma = N_I / N_E
    nu = nu_hz * 1e-3
    nu_thr = p["theta"] / (p["J"] * ce * p["tau"])
    nu_ext = p["eta"] * nu_thr
    mu = ce * p["J"] * p["tau"] * (nu_ext + nu * (1 - gamma * p["g"]))
    var = ce * p["J"] ** 2 * p["tau"] * (nu_ext + nu * (1 + gamma * p["g"] ** 2))
    return mu, np.sqrt(var)


def brunel_rate(p: dict | None = None, nu_max: float = 500.0) -> float:
    """The self-consistent stationary rate (Hz): nu = siegert(mu(nu), sigma(nu)) (``brentq``)."""
    q = SPEC.defaults | dict(p or {})

    def f(nu):
        mu, sig = input_moments(nu, q)
        return siegert(mu, sig, q["tau"], q["theta"], q["V_r"], q["t_ref"]) - nu

    return brentq(f, 1e-6, nu_max, xtol=1e-9)


N_E, N_I = 10_000, 2_500  # Brunel's network size


@njit(inline="always", cache=True)
def _poisson(key, counter, lam):
    """Poisson(lam) by inversion of one uniform (lam <= a few)."""
    u = unit_float(word(key, counter))
    k = 0
    p = np.exp(-lam)
    c = p
    while u > c and k < 200:
        k += 1
        p *= lam / k
        c += p
    return k


@njit(inline="always", cache=True)
def lif_delta_step(v, held, decay, a, b, theta, v_r, n_ref):
    """One time step of a delta-synapse LIF neuron, shared by the spiking kernels: a refractory
    neuron ignores its input; otherwise V <- V e^(-dt/tau) + a + b (mV), and V >= theta resets to
    V_r for n_ref steps. Returns (V, steps still refractory, spiked)."""
    if held > 0:
        return v, held - 1, False
    v = v * decay + a + b
    if v >= theta:
        return v_r, n_ref, True
    return v, held, False


@njit(cache=True)
def by_presynaptic(pre, n, k):
    """CSR by presynaptic neuron of a fixed in-degree graph: pre[i * k + m] is the m-th input of
    neuron i. Returns (start, post): neuron s projects to post[start[s]:start[s + 1]]."""
    start = np.zeros(n + 1, np.int64)
    for x in range(pre.size):
        start[pre[x] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:-1].copy()
    post = np.empty(pre.size, np.int32)
    for i in range(n):
        for m in range(k):
            s = pre[i * k + m]
            post[fill[s]] = i
            fill[s] += 1
    return start, post


@njit(parallel=True, cache=True)
def _network(params, keys, n_e, n_i, dt, n_steps, n_window, counts, isi_stats, pop):
    """One network per row: fixed in-degree C_E, C_I (multapses allowed), delta synapses, one
    delay, external Poisson drive per neuron. counts: (B, N) spikes in the window; isi_stats:
    (B, N, 3) count, sum and sum of squares of the intervals in the window (ms)."""
    n = n_e + n_i
    for r in prange(params.shape[0]):
        g, eta, j, d, eps = params[r, 0], params[r, 1], params[r, 2], params[r, 3], params[r, 4]
        tau, theta, v_r, t_ref = params[r, 5], params[r, 6], params[r, 7], params[r, 8]
        key = keys[r]
        ce, ci = int(round(eps * n_e)), int(round(eps * n_i))
        # connectivity, stored by presynaptic neuron (CSR) for spike propagation
        pre = np.empty(n * (ce + ci), np.int32)
        ctr = np.uint64(0)
        for i in range(n):
            for k in range(ce + ci):
                u = unit_float(word(key ^ np.uint64(0x9E37), ctr))
                ctr += np.uint64(1)
                pre[i * (ce + ci) + k] = int(u * n_e) if k < ce else n_e + int(u * n_i)
        start, post = by_presynaptic(pre, n, ce + ci)
        n_delay = max(1, int(round(d / dt)))
        ring = np.zeros((n_delay + 1, n))
        v = np.zeros(n)
        for i in range(n):  # spread start: uniform below threshold
            v[i] = unit_float(word(key ^ np.uint64(0x51ED), np.uint64(i))) * theta
        held = np.zeros(n, np.int64)
        last = np.full(n, -1.0)
        decay = np.exp(-dt / tau)
        nu_thr = theta / (j * ce * tau)
        lam = eta * nu_thr * ce * dt
        n_ref = int(round(t_ref / dt))
        t0 = n_steps - n_window
        ctr = np.uint64(0)
        for step in range(n_steps):
            slot = step % (n_delay + 1)
            for i in range(n):
                ext = _poisson(key, ctr, lam)
                ctr += np.uint64(1)
                v[i], held[i], spiked = lif_delta_step(
                    v[i], held[i], decay, j * ext, ring[slot, i], theta, v_r, n_ref
                )
                ring[slot, i] = 0.0
                if spiked:
                    arrive = (step + n_delay) % (n_delay + 1)
                    w = j if i < n_e else -g * j
                    for x in range(start[i], start[i + 1]):
                        ring[arrive, post[x]] += w
                    if step >= t0:
                        pop[r, step - t0] += 1
                        counts[r, i] += 1
                        t = step * dt
                        if last[i] >= 0:
                            isi = t - last[i]
                            isi_stats[r, i, 0] += 1
                            isi_stats[r, i, 1] += isi
                            isi_stats[r, i, 2] += isi * isi
                        last[i] = t


def simulate_network(
    params: np.ndarray,
    keys: np.ndarray,
    duration_ms: float = SPEC.settings.duration_ms,
    window_ms: float = SPEC.settings.window_ms,
    dt_ms: float = SPEC.settings.dt_ms,
    n_e: int = N_E,
    n_i: int = N_I,
) -> np.ndarray:
    """(B, 5) outputs (rate_E, rate_I, cv_isi, rate_theory, sync) for parameter rows (B, 9)."""
    p = np.ascontiguousarray(params, dtype=float)
    n = n_e + n_i
    counts = np.zeros((len(p), n))
    isi = np.zeros((len(p), n, 3))
    n_steps = int(round(duration_ms / dt_ms))
    n_window = int(round(window_ms / dt_ms))
    pop = np.zeros((len(p), n_window))
    _network(p, np.asarray(keys, np.uint64), n_e, n_i, dt_ms, n_steps, n_window, counts, isi, pop)
    out = np.empty((len(p), 5))
    per_ms = max(1, int(round(1.0 / dt_ms)))
    binned = pop[:, : n_window // per_ms * per_ms].reshape(len(p), -1, per_ms).sum(2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 4] = (binned.var(1) / binned.mean(1) - 1) / (n - 1)
    w = window_ms * 1e-3
    out[:, 0] = counts[:, :n_e].mean(1) / w
    out[:, 1] = counts[:, n_e:].mean(1) / w
    c, s, s2 = isi[..., 0], isi[..., 1], isi[..., 2]
    ok = c >= 5  # fewer intervals bias the CV estimate down
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / c
        cv = np.sqrt(np.maximum(s2 / c - m * m, 0)) / m
    out[:, 2] = [np.nanmean(cv[r][ok[r]]) if ok[r].any() else np.nan for r in range(len(p))]
    names = SPEC.parameter_names
    for r in range(len(p)):
        try:
            out[r, 3] = brunel_rate(dict(zip(names, p[r], strict=True)))
        except ValueError:
            out[r, 3] = np.nan
    return out


@njit(parallel=True, cache=True)
def _lif_poisson(params, seeds, dt, n_steps, counts):
    """Rows: (lam_E, lam_I (1/ms), J_E, J_I (mV, J_I < 0), tau, theta, V_r, t_ref) -> spikes.
    Input counts per step come from numba's Poisson sampler (PTRS for large means), seeded per
    row at the row's start: a row runs on one thread, so its draws depend only on its seed."""
    for r in prange(params.shape[0]):
        np.random.seed(seeds[r])  # noqa: NPY002 (numba: per-thread state, seeded per row)
        le, li, je, ji = params[r, 0] * dt, params[r, 1] * dt, params[r, 2], params[r, 3]
        tau, theta, v_r, t_ref = params[r, 4], params[r, 5], params[r, 6], params[r, 7]
        decay = np.exp(-dt / tau)
        n_ref = int(round(t_ref / dt))
        v, held, c = v_r, 0, 0
        for _ in range(n_steps):
            ne = np.random.poisson(le)  # noqa: NPY002
            ni = np.random.poisson(li)  # noqa: NPY002
            v, held, spiked = lif_delta_step(v, held, decay, je * ne, ji * ni, theta, v_r, n_ref)
            c += spiked
        counts[r] = c


def lif_poisson_rates(
    mu: np.ndarray,
    sigma: float,
    keys: np.ndarray,
    j_e: float = 0.02,
    g: float = 1.0,
    duration_ms: float = 20_000.0,
    dt_ms: float = 0.05,
    tau: float = 20.0,
    theta: float = 20.0,
    v_r: float = 10.0,
    t_ref: float = 2.0,
) -> np.ndarray:
    """Rates (Hz) of single LIF neurons driven by excitatory (J) and inhibitory (-g J) Poisson
    trains whose rates give input moments mu (per row) and sigma (mV):
    mu = tau J (l_E - g l_I), sigma^2 = tau J^2 (l_E + g^2 l_I)."""
    mu = np.atleast_1d(np.asarray(mu, float))
    s = sigma**2 / (tau * j_e**2)  # l_E + g^2 l_I
    m = mu / (tau * j_e)  # l_E - g l_I
    l_i = (s - m) / (g * g + g)
    l_e = m + g * l_i
    if np.any(l_i < 0) or np.any(l_e < 0):
        raise ValueError("sigma too small for these means: Poisson rates would be negative")
    rows = np.column_stack(
        [
            l_e,
            l_i,
            np.full_like(mu, j_e),
            np.full_like(mu, -g * j_e),
            np.full_like(mu, tau),
            np.full_like(mu, theta),
            np.full_like(mu, v_r),
            np.full_like(mu, t_ref),
        ]
    )
    counts = np.zeros(len(rows))
    seeds = (np.asarray(keys, np.uint64) >> np.uint64(33)).astype(np.int64)  # 31-bit seeds
    _lif_poisson(rows, seeds, dt_ms, int(round(duration_ms / dt_ms)), counts)
    return counts / (duration_ms * 1e-3)


def run_rows(params: np.ndarray, keys: np.ndarray, settings: SimSettings) -> TheoryRun:
    """One network per row, its noise (external Poisson input) from the row's stream."""
    s = settings
    return TheoryRun(simulate_network(params, keys, s.duration_ms, s.window_ms, s.dt_ms))


def check_settings(settings: SimSettings) -> None:
    """This model's rule on the settings beyond the shared ones (one-line SettingsError)."""
    if settings.window_ms < 2.0:
        raise SettingsError(
            f"window_ms={settings.window_ms:g} must be >= 2 ms for {SPEC.name} (sync is "
            "measured on 1-ms bins)"
        )


MODEL = TheoryModel(SPEC, run=run_rows, check=check_settings, required=("rate_E", "rate_I"))
