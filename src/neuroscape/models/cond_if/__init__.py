"""Conductance-based integrate-and-fire neuron (the neuron of the circuit of Zhang, Young & Lai
2020).

    dV/dt = -V/tau_leak - (V - V_E) g_E - (V - V_I) g_I         (dimensionless V, t in ms)

Threshold V_T, reset V_R, absolute refractory period t_ref with Brian2's step semantics: a neuron
spikes in the step whose update takes V to V_T or above, V is held at V_R for the next
``n_ref - 1`` steps and integrated again in step ``n_ref`` (n_ref = round(t_ref / dt)).

This module holds the circuit's neuron pieces (right-hand side, one-step update) and the
closed-form interspike interval under *constant* conductances. The stand-alone single-neuron
model ``cond_if`` is the equation file ``neuroscape/models/library/cond_if.yaml``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.integrators import get_tableau, make_step

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
