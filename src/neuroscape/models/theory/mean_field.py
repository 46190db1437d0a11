"""Mean-field theory of leaky integrate-and-fire neurons (Gerstner, Sprekeler & Deco 2012,
bottom-up): the Siegert formula for the stationary rate of a current-based LIF neuron under Poisson
input in the diffusion approximation, the self-consistent rates of a sparse random E-I network
(Brunel 2000, model A), and single LIF neurons under Poisson drive to check the formula against.

The network itself is a description file run by the network engine (the model ``brunel``,
``neuroscape/models/network/library/brunel.yaml``); ``brunel_rate`` gives its mean-field rate
from the same parameters.

Units: mV, ms; rates in Hz at the interface. The membrane obeys tau dV/dt = -V + RI(t) with the
resting potential at 0, threshold theta and reset V_r (Brunel's convention); every presynaptic
spike makes V jump by J (excitatory) or -g J (inhibitory) after the delay D.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import erfcx

from neuroscape.core.rows import run_on_threads

N_E, N_I = 10_000, 2_500  # Brunel's network size

# Brunel's (2000) values, the defaults of the network file: g, eta, epsilon, N_E, N_I (1);
# J, theta, V_r (mV); tau, t_ref (ms)
DEFAULTS: dict[str, float] = {
    "g": 5.0,
    "eta": 2.0,
    "J": 0.1,
    "epsilon": 0.1,
    "tau": 20.0,
    "theta": 20.0,
    "V_r": 10.0,
    "t_ref": 2.0,
    "N_E": float(N_E),
    "N_I": float(N_I),
}


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
    """(mu, sigma) in mV of the Brunel network at rate nu (Hz): recurrent plus external drive.
    ``p`` holds the keys of ``DEFAULTS``; C_E = epsilon N_E inputs from E, gamma C_E from I."""
    ce = p["epsilon"] * p["N_E"]
    gamma = p["N_I"] / p["N_E"]
    nu = nu_hz * 1e-3
    nu_thr = p["theta"] / (p["J"] * ce * p["tau"])
    nu_ext = p["eta"] * nu_thr
    mu = ce * p["J"] * p["tau"] * (nu_ext + nu * (1 - gamma * p["g"]))
    var = ce * p["J"] ** 2 * p["tau"] * (nu_ext + nu * (1 + gamma * p["g"] ** 2))
    return mu, np.sqrt(var)


def brunel_rate(p: dict | None = None, nu_max: float = 500.0) -> float:
    """The self-consistent stationary rate (Hz): nu = siegert(mu(nu), sigma(nu)) (``brentq``).
    ``p``: any keys of ``DEFAULTS`` (the others take Brunel's values)."""
    unknown = sorted(set(p or {}) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"brunel_rate: unknown parameter {unknown[0]!r}; allowed: "
                         f"{', '.join(DEFAULTS)}")
    q = DEFAULTS | dict(p or {})

    def f(nu):
        mu, sig = input_moments(nu, q)
        return siegert(mu, sig, q["tau"], q["theta"], q["V_r"], q["t_ref"]) - nu

    return brentq(f, 1e-6, nu_max, xtol=1e-9)


# what the theory takes from a network's row, in the units it computes in
THEORY_PARAMETERS = {"g": "1", "eta": "1", "J": "mV", "tau": "ms", "theta": "mV", "V_r": "mV",
                     "t_ref": "ms"}  # fmt: skip


def network_parameters(net, params: dict | None = None) -> dict:
    """The mean-field parameters (the keys of ``DEFAULTS``) of a Brunel network description
    ``net`` (a ``NetworkModel`` such as ``network("brunel")``) at its parameters ``params``
    (declared units; missing ones take the file's defaults): g, eta, J, tau, theta, V_r, t_ref
    from the row, N_E and N_I from the population sizes, epsilon = C_E / N_E from the in-degree
    of E_to_E. Refuses a description that is not Brunel's sparse E-I network (ValueError)."""
    row = dict(net.spec.defaults) | dict(params or {})
    units = {p.name: p.unit for p in net.spec.parameters}
    for k, unit in THEORY_PARAMETERS.items():
        if units.get(k) != unit:
            has = f"has {k!r} in {units[k]}" if k in units else f"has no parameter {k!r}"
            raise ValueError(f"network {net.name!r} {has}; the mean-field theory needs "
                             + ", ".join(f"{n} ({u})" for n, u in THEORY_PARAMETERS.items()))
    sizes = net.sizes
    rules = {j.name: j.rule for j in net.projections}
    need = ("E_to_E", "E_to_I", "I_to_E", "I_to_I")
    if set(sizes) != {"E", "I"} or set(rules) != set(need) or any(
        rules[k]["kind"] != "in_degree" for k in need
    ):
        raise ValueError(f"network {net.name!r} is not a sparse E-I network of fixed in-degree "
                         "(populations E, I; projections E_to_E, E_to_I, I_to_E, I_to_I)")
    c_e, c_i = rules["E_to_E"]["k"], rules["I_to_E"]["k"]
    if rules["E_to_I"]["k"] != c_e or rules["I_to_I"]["k"] != c_i:
        raise ValueError(f"network {net.name!r}: E and I neurons must have the same in-degrees "
                         "for the mean-field theory of Brunel (2000)")
    eps = c_e / sizes["E"]
    if abs(c_i - eps * sizes["I"]) > 0.5:
        raise ValueError(f"network {net.name!r}: C_I = {c_i} is not epsilon N_I = "
                         f"{eps * sizes['I']:g} (epsilon = C_E / N_E)")
    out = {k: float(row[k]) for k in THEORY_PARAMETERS}
    out.update(epsilon=eps, N_E=float(sizes["E"]), N_I=float(sizes["I"]))
    return out


@njit(inline="always", cache=True)
def lif_delta_step(v, held, decay, a, b, theta, v_r, n_ref):
    """One time step of a delta-synapse LIF neuron: a refractory neuron ignores its input;
    otherwise V <- V e^(-dt/tau) + a + b (mV), and V >= theta resets to V_r for n_ref steps.
    Returns (V, steps still refractory, spiked)."""
    if held > 0:
        return v, held - 1, False
    v = v * decay + a + b
    if v >= theta:
        return v_r, n_ref, True
    return v, held, False


@njit(nogil=True, cache=True)
def _lif_poisson(params, seeds, dt, n_steps, counts, r_lo, r_hi):
    """Rows: (lam_E, lam_I (1/ms), J_E, J_I (mV, J_I < 0), tau, theta, V_r, t_ref) -> spikes.
    Input counts per step come from numba's Poisson sampler (PTRS for large means), seeded per
    row at the row's start: a row runs on one thread, so its draws depend only on its seed."""
    for r in range(r_lo, r_hi):
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
    args = (rows, seeds, dt_ms, int(round(duration_ms / dt_ms)), counts)
    run_on_threads(_lif_poisson, args, len(rows))
    return counts / (duration_ms * 1e-3)
