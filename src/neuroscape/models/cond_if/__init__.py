"""Conductance-based integrate-and-fire neuron (the neuron of the circuit of Zhang, Young & Lai
2020).

    dV/dt = -V/tau_leak - (V - V_E) g_E - (V - V_I) g_I         (dimensionless V, t in ms)

Threshold V_T, reset V_R, absolute refractory period t_ref with Brian2's step semantics: a neuron
spikes in the step whose update takes V to V_T or above, V is held at V_R for the next
``n_ref - 1`` steps and integrated again in step ``n_ref`` (n_ref = round(t_ref / dt)).

This module holds the shared neuron pieces (right-hand side, one-step update) and a stand-alone
single-neuron model with *constant* conductances, whose firing rate has a closed form.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.integrators import get_tableau, make_step
from neuroscape.core.spec import DefaultSettings, ModelSpec, Parameter
from neuroscape.models.neuron import NEURON_OUTPUTS

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
        Parameter("t_ref", CONSTANTS["t_ref"], 0.0, 20.0, "ms", "absolute refractory period", 0.0),
    ),
    outputs=NEURON_OUTPUTS,
    constants=CONSTANTS,
    settings=DefaultSettings(
        duration_ms=1000.0,
        dt_ms=0.1,
        integrator="exponential_euler",
        note="exponential Euler is exact between spikes; the spike and reset on the step grid "
        "as in the circuit (Brian2's semantics), so each interval is a whole number of steps",
    ),
)


# ------------------------------------------------ as a single-neuron model of the neuron engine
# (an injected current I, in 1/ms like the conductances, adds to dV/dt)
_TAU_L, _V_E, _V_I = CONSTANTS["tau_leak"], CONSTANTS["V_E"], CONSTANTS["V_I"]
_V_T, _V_R = CONSTANTS["V_T"], CONSTANTS["V_R"]


@njit(inline="always", cache=True)
def neuron_rhs(v, i_inj, g_e, g_i, t_ref):
    return (-v / _TAU_L - (v - _V_E) * g_e - (v - _V_I) * g_i + i_inj,)


@njit(inline="always", cache=True)
def neuron_linear(v, i_inj, g_e, g_i, t_ref):
    return (
        -(1.0 / _TAU_L + g_e + g_i),
        _V_E * g_e + _V_I * g_i + i_inj,
    )


@njit(inline="always", cache=True)
def neuron_threshold(v, g_e, g_i, t_ref):
    return v >= _V_T


@njit(inline="always", cache=True)
def neuron_reset(v, g_e, g_i, t_ref):
    return (_V_R,)


def _neuron_model():
    from neuroscape.models.neuron import NeuronModel

    return NeuronModel(
        spec=SPEC,
        module=__name__,
        states=("V",),
        initial_state=lambda p: np.full((len(p), 1), CONSTANTS["V_R"]),
        current_unit="1/ms",
        state_units=("1",),  # V in units of the threshold distance (V_T = 1, V_R = 0)
        has_reset=True,
        refractory_param="t_ref",
        conditionally_linear=True,
        max_dt_ms=0.5,
        function_names={
            "rhs": "neuron_rhs",
            "linear": "neuron_linear",
            "threshold": "neuron_threshold",
            "reset": "neuron_reset",
        },
    )


MODEL = _neuron_model()
