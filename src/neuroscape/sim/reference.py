"""Tight adaptive-step reference solutions through ``scipy.integrate.solve_ivp``.

For smooth stretches of a single-neuron model under a constant current (no threshold/reset):
the truth that the fixed-step schemes' convergence orders are measured against.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from neuroscape.models.neuron import NeuronModel


def solve_reference(
    model: NeuronModel,
    params: dict[str, float],
    current: float,
    t_end_ms: float,
    y0: np.ndarray | None = None,
    rtol: float = 1e-12,
    atol: float = 1e-12,
    method: str = "DOP853",
) -> np.ndarray:
    """State at ``t_end_ms`` from ``y0`` (default: the model's initial state) under a constant
    current, integrated by ``solve_ivp`` with tight tolerances."""
    p = model.spec.params_from_mapping(params)
    rhs = model.functions().rhs.py_func
    if y0 is None:
        y0 = model.initial_state(p[None, :])[0]

    def f(_t, y):
        return rhs(*y, current, *p)

    sol = solve_ivp(f, (0.0, t_end_ms), np.asarray(y0, float), method=method, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y[:, -1]
