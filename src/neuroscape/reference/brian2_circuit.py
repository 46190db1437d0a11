"""The circuit of Zhang, Young & Lai (2020) written in Brian2, as an independent reference (tests
and benchmarks).

Needs the ``dev`` extra (brian2). Poisson drive uses ``poisson(rate*dt)`` counts per step in a
``run_regularly`` operation, not ``PoissonInput(N=1)``, which would cap each train at one kick per
step (10 kHz at dt = 0.1 ms) while the domain reaches 18 kHz (see the spec's "trap").
"""

from __future__ import annotations

import time

import numpy as np

from neuroscape.core.connectivity import Connectivity

# The paper's constants, written here again (not read from the network file), so that this
# reference shares nothing with the model it checks but the parameter order.
CONSTANTS: dict[str, float] = {
    "tau_leak": 20.0,  # ms
    "V_E": 14.0 / 3.0,
    "V_I": -2.0 / 3.0,
    "V_T": 1.0,
    "V_R": 0.0,
    "t_ref": 2.5,  # ms
    "tau_E": 2.0,  # ms
    "tau_I": 3.0,  # ms
    "S_dr": 0.005,  # ambient kick strength
    "eta_0": 1200.0,  # Hz, normalizes eta_amb
    "beta_low": 0.8,  # E->E synaptic failure factor ~ U[beta_low, 1]
}


def derived_quantities(params: np.ndarray) -> dict[str, np.ndarray]:
    """Absolute strengths and rates (Hz) from the relative parameterization P, row-wise."""
    p = np.atleast_2d(params)
    s_ee, s_ei = p[:, 0], p[:, 1] * p[:, 0]
    return {
        "S_EE": s_ee, "S_EI": s_ei, "S_IE": p[:, 2] * s_ee, "S_II": p[:, 3] * s_ei,
        "eta_amb": p[:, 4] * CONSTANTS["eta_0"], "eta_ext_E": p[:, 5],
        "eta_ext_I": p[:, 6] * p[:, 5],
    }  # fmt: skip


def first_copy(out: dict) -> dict:
    """The first copy's values of a ``*_copies`` result (one per copy) with the shared ones
    (wall time, target): a single run's result."""
    return {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in out.items()}


def simulate_brian2(
    params: np.ndarray,
    connectivity: Connectivity,
    seed: int = 0,
    duration_ms: float = 3000.0,
    dt_ms: float = 0.1,
    window_ms: float = 2000.0,
    target: str | None = None,
) -> dict:
    """One run of the circuit in Brian2. Returns r_E, r_I (Hz) and the wall time (s).

    ``target`` is Brian2's code-generation target (None: its default, Cython if available).
    (One copy of :func:`simulate_brian2_copies`.)
    """
    out = simulate_brian2_copies(np.atleast_2d(params)[:1], connectivity, seed, duration_ms,
                                 dt_ms, window_ms, target)
    return first_copy(out)


def simulate_brian2_copies(
    params: np.ndarray,
    connectivity: Connectivity,
    seed: int = 0,
    duration_ms: float = 3000.0,
    dt_ms: float = 0.1,
    window_ms: float = 2000.0,
    target: str | None = "numpy",
) -> dict:
    """Independent copies of the circuit, one per row of ``params`` (each on the same graph,
    with its own noise), run together as one Brian2 network. Returns r_E, r_I (Hz, one per
    row), the wall time (s) and the target.

    The copies share no neuron or synapse, so each is one run of the circuit; running them together
    pays Brian2's cost per step and per code object once (with the numpy target, which compiles
    nothing, 20 copies take about the time of two single runs).
    """
    import brian2 as b2

    c = CONSTANTS
    rows = np.atleast_2d(np.asarray(params, dtype=float))
    k = rows.shape[0]
    d = derived_quantities(rows)
    b2.start_scope()
    if target is not None:
        b2.prefs.codegen.target = target
    b2.defaultclock.dt = dt_ms * b2.ms
    b2.seed(seed)
    n_e, n_i = connectivity.n_e, connectivity.n_i
    n = n_e + n_i
    ms, hz = b2.ms, b2.Hz
    # (names unlike the namespace's, which Brian2 would otherwise warn about)
    te_ms, ti_ms = c["tau_E"], c["tau_I"]
    eqs = """
    dv/dt = -v/tau_l - (v - V_E)*gE - (v - V_I)*gI : 1 (unless refractory)
    dgE/dt = -gE/tau_e : Hz
    dgI/dt = -gI/tau_i : Hz
    lam_ext : 1 (constant)
    jump_ext : Hz (constant)
    lam_amb : 1 (constant)
    """
    namespace = {
        "tau_l": c["tau_leak"] * ms,
        "tau_e": te_ms * ms,
        "tau_i": ti_ms * ms,
        "V_E": c["V_E"],
        "V_I": c["V_I"],
        "jump_amb": c["S_dr"] / (te_ms * ms),
        "beta_low": c["beta_low"],
    }
    g = b2.NeuronGroup(
        k * n,
        eqs,
        threshold="v >= 1",
        reset="v = 0",
        refractory=c["t_ref"] * ms,
        method="rk2",
        namespace=namespace,
    )
    g.v = "rand()"
    is_e = np.tile(np.arange(n) < n_e, k)
    copy = np.repeat(np.arange(k), n)
    step_s = dt_ms * 1e-3
    g.lam_ext = np.where(is_e, d["eta_ext_E"][copy], d["eta_ext_I"][copy]) * step_s
    g.jump_ext = np.where(is_e, d["S_EE"][copy] / te_ms, d["S_IE"][copy] / te_ms) * 1e3 * hz
    g.lam_amb = d["eta_amb"][copy] * step_s
    # Poisson counts per step, applied after resets like neuroscape's kicks
    g.run_regularly("gE += poisson(lam_ext)*jump_ext + poisson(lam_amb)*jump_amb", when="end")
    syn = []
    # (the loop variable is not called w: Brian2 would warn that it shadows the synapses' w)
    for name, (pre0, post0), on_pre, jump in (
        ("E_to_E", (0, 0), "gE_post += (beta_low + (1 - beta_low)*rand())*w", d["S_EE"] / te_ms),
        ("E_to_I", (0, n_e), "gE_post += w", d["S_IE"] / te_ms),
        ("I_to_E", (n_e, 0), "gI_post += w", d["S_EI"] / ti_ms),
        ("I_to_I", (n_e, n_e), "gI_post += w", d["S_II"] / ti_ms),
    ):
        s = b2.Synapses(g, g, model="w : Hz (constant)", on_pre=on_pre, namespace=namespace,
                        name=f"syn_{name}")
        i, j = (np.asarray(x, dtype=np.int64) for x in connectivity.edges[name])
        off = np.repeat(np.arange(k, dtype=np.int64) * n, i.size)
        s.connect(i=np.tile(i + pre0, k) + off, j=np.tile(j + post0, k) + off)
        s.w = np.repeat(jump, i.size) * 1e3 * hz  # 1/ms -> Hz
        syn.append(s)
    mon = b2.SpikeMonitor(g)
    net = b2.Network(g, *syn, mon)
    t0 = time.perf_counter()
    net.run(duration_ms * ms)
    wall = time.perf_counter() - t0
    t = np.asarray(mon.t / ms)
    idx = np.asarray(mon.i, dtype=np.int64)
    sel = t >= duration_ms - window_ms
    which, local = idx[sel] // n, idx[sel] % n
    win_s = window_ms * 1e-3
    return {
        "r_E": np.bincount(which[local < n_e], minlength=k) / n_e / win_s,
        "r_I": np.bincount(which[local >= n_e], minlength=k) / n_i / win_s,
        "wall_time_s": wall,
        "target": b2.prefs.codegen.target,
    }
