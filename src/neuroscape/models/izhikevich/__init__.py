"""Izhikevich (2003) simple model with its named presets.

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I,    du/dt = a (b v - u)
    if v >= 30 mV: v <- c, u <- u + d

Time in ms, v in mV, I in the paper's dimensionless current units.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.spec import DefaultSettings, ModelSpec, Parameter
from neuroscape.models.neuron import NEURON_OUTPUTS, NeuronModel

SPEC = ModelSpec(
    name="izhikevich",
    version="1",
    description="Izhikevich 2003 simple spiking model",
    parameters=(
        Parameter("a", 0.02, 0.0, 0.2, "1/ms", "recovery rate"),
        Parameter("b", 0.2, -0.5, 0.5, "1", "recovery sensitivity"),
        Parameter("c", -65.0, -80.0, -40.0, "mV", "reset potential"),
        Parameter(
            "d",
            8.0,
            0.0,
            20.0,
            "1",
            "recovery jump at spike; d < 0 lowers u at every spike, so with a >= 0 firing "
            "accelerates until the rate is set by dt (runaway), hence d >= 0",
        ),
    ),
    outputs=NEURON_OUTPUTS,
    settings=DefaultSettings(
        duration_ms=1000.0,
        dt_ms=0.1,
        integrator="rk4",
        note="rk4 at 0.1 ms with the crossing interpolated: the presets' spike counts over 1 s "
        "equal rk4 at 0.001 ms, their first 10 spikes within 0.12 ms (midpoint misses spikes)",
    ),
)

# Izhikevich (2003), Fig. 2: regular spiking, intrinsically bursting, chattering, fast spiking,
# low-threshold spiking, thalamo-cortical, resonator.
PRESETS = {
    "RS": {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},
    "IB": {"a": 0.02, "b": 0.2, "c": -55.0, "d": 4.0},
    "CH": {"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0},
    "FS": {"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0},
    "LTS": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 2.0},
    "TC": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 0.05},
    "RZ": {"a": 0.1, "b": 0.26, "c": -65.0, "d": 2.0},
}

V_PEAK = 30.0


@njit(inline="always", cache=True)
def rhs(v, u, i_inj, a, b, c, d):
    return 0.04 * v * v + 5.0 * v + 140.0 - u + i_inj, a * (b * v - u)


@njit(inline="always", cache=True)
def threshold(v, u, a, b, c, d):
    return v >= V_PEAK


@njit(inline="always", cache=True)
def reset(v, u, a, b, c, d):
    return c, u + d


def _init(p: np.ndarray) -> np.ndarray:
    v0 = np.full(len(p), -70.0)
    return np.column_stack([v0, p[:, 1] * v0])


MODEL = NeuronModel(
    spec=SPEC,
    module=__name__,
    states=("v", "u"),
    initial_state=_init,
    current_unit="1",
    state_units=("mV", "1"),  # u in the current's units (the paper's dimensionless units)
    has_reset=True,
    precise_reset=True,
    threshold_level=V_PEAK,
    max_dt_ms=0.25,
    presets=PRESETS,
)
