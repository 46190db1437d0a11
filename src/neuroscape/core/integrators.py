"""Explicit Runge-Kutta integrators as data (Butcher tableaux) and a step-function generator.

A model supplies a jitted right-hand side ``rhs(y0, ..., y{n-1}, *args) -> (dy0, ...)``; this module
writes the straight-line stage code for a tableau and compiles it with numba, so adding a scheme is
adding a tableau, and no model hand-codes its own integration loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class Tableau:
    name: str
    order: int
    a: tuple[tuple[float, ...], ...]  # strictly lower-triangular stage coefficients
    b: tuple[float, ...]


TABLEAUX: dict[str, Tableau] = {
    "euler": Tableau("euler", 1, ((),), (1.0,)),
    "midpoint": Tableau("midpoint", 2, ((), (0.5,)), (0.0, 1.0)),
    "rk4": Tableau(
        "rk4", 4, ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)
    ),
}
ALIASES = {
    "rk2": "midpoint",
    "forward_euler": "euler",
    "exp_euler": "exponential_euler",
    "exp_euler_tables": "exponential_euler_tables",
    "exp_staggered_tables": "exponential_staggered_tables",
}
# Exponential Euler is not a Runge-Kutta tableau: it needs a conditionally linear model
# (dy_i/dt = A_i y_i + B_i) and integrates each state exactly for frozen A_i, B_i.
EXPONENTIAL_EULER = "exponential_euler"
# The same scheme with the gating variables' update factors interpolated from tables of V
# (NEURON's and GENESIS's classic speed-up, here on a 0.01 mV grid): only for models with gates.
EXPONENTIAL_EULER_TABLES = "exponential_euler_tables"
# Second order at the cost of the first-order one (one table read and one V update per step):
# the gates live on the half steps and go from t - dt/2 to t + dt/2 by the exponential update of
# Rush & Larsen (1978) with V frozen at V(t), the midpoint; V goes from t to t + dt exactly for
# the conductances of the gates at t + dt/2, the midpoint, and the current at t + dt/2. The
# staggered grid is Hines' (1984), as in NEURON; only for models with gates.
EXPONENTIAL_STAGGERED_TABLES = "exponential_staggered_tables"
TABLE_SCHEMES = (EXPONENTIAL_EULER_TABLES, EXPONENTIAL_STAGGERED_TABLES)
# The exact solution over a step for equations that are linear with constant coefficients (the
# input held constant over the step), Brian2's 'exact': only for models whose module defines
# ``exact_step`` (``neuroscape.models.equations.exact`` writes it from the equations).
EXACT = "exact"
SCHEMES = (*TABLEAUX, EXPONENTIAL_EULER, *TABLE_SCHEMES, EXACT)


class IntegratorError(ValueError):
    """An unknown integrator name or a time step the scheme cannot take."""


def canonical_name(name: str) -> str:
    key = ALIASES.get(name, name)
    if key not in SCHEMES:
        raise IntegratorError(f"unknown integrator {name!r}; allowed: {', '.join(SCHEMES)}")
    return key


def get_tableau(name: str) -> Tableau:
    key = canonical_name(name)
    if key not in TABLEAUX:
        raise IntegratorError(
            f"integrator {name!r} is not available here; allowed: {', '.join(TABLEAUX)}"
        )
    return TABLEAUX[key]


@njit(inline="always", cache=True)
def phi1(z):
    """(exp(z) - 1)/z, continuous at z = 0."""
    if abs(z) < 1e-8:
        return 1.0 + 0.5 * z
    return np.expm1(z) / z


@njit(inline="always", cache=True)
def exp_nonpos(z):
    """exp(z) for z <= 0 in straight-line arithmetic: p(z/128)^128, p the degree-10 Taylor
    polynomial. Written by hand because numba's exp is a libm call that blocks SIMD and costs
    about as much as the rest of an HH step in the block kernel; the relative error is below
    1e-10 on [-40, 0] (tested against np.exp); z is clamped at -40, where exp(z) < 5e-18."""
    x = max(z, -40.0) * (1.0 / 128.0)
    c = (1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5)
    e = c[0]
    for ck in c[1:]:  # Horner; numba unrolls the loop over the constant tuple
        e = e * x + ck
    e = (e * x + 1.0) * x + 1.0
    for _ in range(7):  # 2^7 = 128
        e = e * e
    return e


def exponential_euler_source(
    n_state: int, n_args: int, name: str = "step", linear: str = "linear"
) -> str:
    """Source of one exponential-Euler step: y_i += (A_i y_i + B_i) dt phi1(A_i dt)."""
    ys = [f"y{i}" for i in range(n_state)]
    args = [f"a{i}" for i in range(n_args)]
    ab = ", ".join(f"A{i}, B{i}" for i in range(n_state))
    lines = [
        f"def {name}({', '.join(ys)}, dt, {', '.join(args)}):",
        f"    {ab}, = {linear}({', '.join(ys)}, {', '.join(args)})",
        "    return "
        + ", ".join(f"y{i} + (A{i} * y{i} + B{i}) * dt * phi1(A{i} * dt)" for i in range(n_state))
        + ("," if n_state == 1 else ""),
    ]
    return "\n".join(lines) + "\n"


def step_source(
    tableau: Tableau, n_state: int, n_args: int, name: str = "step", rhs: str = "rhs",
    lit=repr,
) -> str:
    """Python source of one step of ``tableau``: straight-line stage code calling ``rhs``;
    ``lit`` spells a coefficient (e.g. as a float32 literal)."""
    ys = [f"y{i}" for i in range(n_state)]
    args = [f"a{i}" for i in range(n_args)]
    lines = [f"def {name}({', '.join(ys)}, dt, {', '.join(args)}):"]
    for s, row in enumerate(tableau.a):
        stage_in = []
        for i in range(n_state):
            terms = [f"{lit(c)} * k{j}_{i}" for j, c in enumerate(row) if c != 0.0]
            stage_in.append(f"{ys[i]} + dt * ({' + '.join(terms)})" if terms else ys[i])
        ks = ", ".join(f"k{s}_{i}" for i in range(n_state)) + ("," if n_state == 1 else "")
        lines.append(f"    {ks} = {rhs}({', '.join(stage_in)}, {', '.join(args)})")
    outs = []
    for i in range(n_state):
        terms = [f"{lit(c)} * k{j}_{i}" for j, c in enumerate(tableau.b) if c != 0.0]
        outs.append(f"{ys[i]} + dt * ({' + '.join(terms)})")
    lines.append(f"    return {', '.join(outs)}" + ("," if n_state == 1 else ""))
    return "\n".join(lines) + "\n"


_STEP_CACHE: dict[tuple[int, str, int, int, bool], object] = {}


def make_step(rhs, tableau: Tableau, n_state: int, n_args: int, jit: bool = True):
    """``step(y0..y{n-1}, dt, *args) -> (y0', ...)`` for ``rhs`` under ``tableau``.

    With ``jit`` the step is compiled by numba (``rhs`` a jitted function); without, it is plain
    Python over whatever ``rhs`` accepts (torch tensors for the CUDA back end), so both back ends
    run the very same stage arithmetic.
    """
    key = (id(rhs), tableau.name, n_state, n_args, jit)
    if key in _STEP_CACHE:
        return _STEP_CACHE[key]
    source = step_source(tableau, n_state, n_args)
    namespace = {"rhs": rhs}
    exec(source, namespace)  # noqa: S102 - source generated from the tableau's numbers only
    step = njit(inline="always")(namespace["step"]) if jit else namespace["step"]
    _STEP_CACHE[key] = step
    return step
