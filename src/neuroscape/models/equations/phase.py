"""Nullclines of two-state equation models, solved from their equations with sympy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy

from neuroscape.models.neuron import NeuronModel

Nullclines = Callable[[np.ndarray, float, dict[str, float]], tuple[np.ndarray, np.ndarray]]


def nullclines(model: NeuronModel) -> Nullclines | None:
    """``f(v_grid, current, params) -> (w on dv/dt = 0, w on dw/dt = 0)`` for a model with two
    states (v, w) whose derivatives each vanish on one curve w(v); None otherwise (other state
    counts, hand-written models, or an equation without a unique solution for w). Values are in
    the states' declared units."""
    eqs = model.equations
    if eqs is None or len(eqs.states) != 2:
        return None
    v, w = eqs.states
    curves = []
    for f in eqs.rhs_free:
        try:
            sol = sympy.solve(sympy.Eq(f, 0), w, dict=False)
        except (NotImplementedError, ValueError, TypeError):
            return None
        if len(sol) != 1:
            return None
        curves.append(sol[0])
    args = [v, eqs.current, *eqs.params]
    modules = [{"exprel": lambda x: np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1, x))},
               "numpy"]  # fmt: skip
    fns = [sympy.lambdify(args, c, modules=modules) for c in curves]
    names = model.spec.parameter_names

    def evaluate(grid: np.ndarray, current: float, params: dict[str, float]):
        g = np.asarray(grid, dtype=float)
        p = [params[n] for n in names]
        with np.errstate(all="ignore"):
            return tuple(np.broadcast_to(fn(g, current, *p), g.shape).astype(float) for fn in fns)

    return evaluate
