"""Conductance-based integrate-and-fire neuron (the neuron of the seed-004 circuit).

    dV/dt = -V/tau_leak - (V - V_E) g_E - (V - V_I) g_I         (dimensionless V, t in ms)

Threshold V_T, reset V_R, absolute refractory period t_ref with Brian2's step semantics: a neuron
spikes in the step whose update takes V to V_T or above, V is held at V_R for the next
``n_ref - 1`` steps and integrated again in step ``n_ref`` (n_ref = round(t_ref / dt)).

This module holds the shared neuron pieces (right-hand side, one-step update) and a stand-alone
single-neuron model with *constant* conductances, whose firing rate has a closed form.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neuroscape.models.base import ModelSpec, Output, Parameter
from neuroscape.sim.integrators import get_tableau, make_step

CONSTANTS = {
    "tau_leak": 20.0,  # ms
    "V_E": 14.0 / 3.0,
    "V_I": -2.0 / 3.0,
    "V_T": 1.0,
    "V_R": 0.0,
    "t_ref": 2.5,  # ms
}


@njit(inline="always", cache=True)
def rhs(v, ge, gi, active, inv_tau_leak, inv_tau_e, inv_tau_i, v_e, v_i):
    """Time derivatives of (V, g_E, g_I); ``active`` = 0 holds V (refractory), as Brian2 does."""
    dv = active * (-v * inv_tau_leak - (v - v_e) * ge - (v - v_i) * gi)
    return dv, -ge * inv_tau_e, -gi * inv_tau_i


def step_function(integrator: str, jit: bool = True):
    """One-step update of (V, g_E, g_I) under the named integrator (numba, or plain Python
    over torch tensors with ``jit=False``)."""
    return make_step(rhs if jit else rhs.py_func, get_tableau(integrator), 3, 6, jit=jit)


def n_refractory_steps(t_ref: float, dt: float) -> int:
    """Brian2's rule: refractory for round(t_ref/dt) steps counted from the spike step."""
    return max(int(round(t_ref / dt)), 1)


def closed_form_isi(g_e: float, g_i: float, c: dict | None = None) -> float:
    """Interspike interval (ms) under constant conductances, from V_R to V_T plus t_ref.

    With constant g the equation is linear: dV/dt = -(V - V_inf)/tau_eff with
    1/tau_eff = 1/tau_leak + g_E + g_I and V_inf = tau_eff (V_E g_E + V_I g_I), so
    V(t) = V_inf + (V_R - V_inf) exp(-t/tau_eff) reaches V_T after
    T = tau_eff ln((V_inf - V_R)/(V_inf - V_T)); infinite when V_inf <= V_T.
    """
    c = {**CONSTANTS, **(c or {})}
    inv_tau = 1.0 / c["tau_leak"] + g_e + g_i
    tau_eff = 1.0 / inv_tau
    v_inf = tau_eff * (c["V_E"] * g_e + c["V_I"] * g_i)
    if v_inf <= c["V_T"]:
        return np.inf
    return tau_eff * np.log((v_inf - c["V_R"]) / (v_inf - c["V_T"])) + c["t_ref"]


SPEC = ModelSpec(
    name="cond_if",
    version="1",
    description="Conductance-based integrate-and-fire neuron under constant conductances",
    parameters=(
        Parameter("g_E", 0.1, 0.0, 2.0, "1/ms", "constant excitatory conductance", 0.0),
        Parameter("g_I", 0.0, 0.0, 2.0, "1/ms", "constant inhibitory conductance", 0.0),
    ),
    outputs=(Output("rate", "Hz", "firing rate over the recording window"),),
    constants=CONSTANTS,
)


_KERNELS: dict[str, object] = {}


def kernel(integrator: str):
    """Batched single-neuron kernel: rows are parameter sets, run in parallel."""
    if integrator in _KERNELS:
        return _KERNELS[integrator]
    step = step_function(integrator)

    @njit(parallel=True)
    def run(params, v0, n_steps, rec_start, n_ref, dt, consts, counts, vtrace):
        inv_tau_leak = 1.0 / consts[0]
        v_e, v_i, v_t, v_r = consts[1], consts[2], consts[3], consts[4]
        record = vtrace.shape[1] > 0
        for b in prange(params.shape[0]):
            ge, gi = params[b, 0], params[b, 1]
            v = v0[b]
            ref = 0
            n = 0
            for s in range(n_steps):
                active = 1.0
                if ref > 0:
                    ref -= 1
                    active = 0.0
                v, ge, gi = step(v, ge, gi, dt, active, inv_tau_leak, 0.0, 0.0, v_e, v_i)
                if active == 1.0 and v >= v_t:
                    v = v_r
                    ref = n_ref - 1
                    if s >= rec_start:
                        n += 1
                if record:
                    vtrace[b, s] = v
            counts[b] = n

    _KERNELS[integrator] = run
    return run


def simulate_constant(
    g_e: np.ndarray,
    g_i: np.ndarray,
    duration_ms: float,
    dt_ms: float,
    integrator: str = "midpoint",
    record_from_ms: float = 0.0,
    v0: float | np.ndarray = 0.0,
    record_v: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rates (Hz) of B neurons with constant conductances; optionally the V traces (B, n_steps)."""
    g_e, g_i = np.broadcast_arrays(np.atleast_1d(g_e), np.atleast_1d(g_i))
    params = SPEC.validate(np.column_stack([g_e, g_i]), allow_outside=True)
    n_steps = int(round(duration_ms / dt_ms))
    rec_start = int(round(record_from_ms / dt_ms))
    c = CONSTANTS
    consts = np.array([c["tau_leak"], c["V_E"], c["V_I"], c["V_T"], c["V_R"]])
    counts = np.zeros(len(params), dtype=np.int64)
    vtrace = np.zeros((len(params), n_steps if record_v else 0))
    v0 = np.broadcast_to(np.asarray(v0, dtype=float), (len(params),)).copy()
    n_ref = n_refractory_steps(c["t_ref"], dt_ms)
    kernel(integrator)(params, v0, n_steps, rec_start, n_ref, dt_ms, consts, counts, vtrace)
    window_s = (n_steps - rec_start) * dt_ms / 1000.0
    return counts / window_s, (vtrace if record_v else None)
