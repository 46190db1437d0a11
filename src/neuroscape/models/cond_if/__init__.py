"""Conductance-based integrate-and-fire neuron (the neuron of the circuit of Zhang, Young & Lai
2020).

    dV/dt = -V/tau_leak - (V - V_E) g_E - (V - V_I) g_I         (dimensionless V, t in ms)

Threshold V_T, reset V_R, absolute refractory period t_ref with Brian2's step semantics: a neuron
spikes in the step whose update takes V to V_T or above, V is held at V_R for the next
``n_ref - 1`` steps and integrated again in step ``n_ref`` (n_ref = round(t_ref / dt)).

This module holds the circuit's neuron constants and the closed-form interspike interval under
*constant* conductances (a truth for tests). The stand-alone single-neuron
model ``cond_if`` is the equation file ``neuroscape/models/library/cond_if.yaml``.
"""

from __future__ import annotations

import numpy as np

CONSTANTS = {
    "tau_leak": 20.0,  # ms
    "V_E": 14.0 / 3.0,
    "V_I": -2.0 / 3.0,
    "V_T": 1.0,
    "V_R": 0.0,
    "t_ref": 2.5,  # ms
}


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
