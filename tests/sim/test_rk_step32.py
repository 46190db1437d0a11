"""The float32 network kernels' Runge-Kutta step (``network_engine.rk_step_source32``) is the
scheme's step, written with fewer multiplies: against the plain stage code of
``core.integrators.step_source`` on the same right-hand sides. In float64 arithmetic the two
agree to rounding (the rewriting is exact algebra: stability polynomials for the linearly
decaying states, collected polynomials, dt a as one product); in float32 to a few ulps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from neuroscape.core.integrators import TABLEAUX, get_tableau, step_source
from neuroscape.sim.network_engine import _F32Printer, rk_step_source32

y0, y1, y2, y3, cur, p0, p1 = sympy.symbols("y0 y1 y2 y3 cur p0 p1")
# V of a conductance-based cell, two conductances decaying at row constants (one a parameter),
# and an adaptation current with an exponential of V (neither linear nor polynomial)
RHS = [
    cur - y0 * y1 - y0 * y2 - y0 / 20 + sympy.Rational(14, 3) * y1 - y3,
    -y1 / p0,
    -y2 / 3,
    (sympy.exp(y0 / 4) - y3) / p1,
]
SCHEMES = sorted(k for k, v in TABLEAUX.items() if not isinstance(v, str))


def _steps(scheme: str, dtype):
    tab = get_tableau(scheme)
    pr = _F32Printer({})
    fast = rk_step_source32(tab, RHS, 4, 2, "step", pr)
    rhs = f"def rhs(y0, y1, y2, y3, cur, p0, p1):\n    return {', '.join(map(str, RHS))}\n"
    plain = step_source(tab, 4, 3, name="step", rhs="rhs", lit=lambda c: f"np.float32({c!r})")
    cast = "np.float32" if dtype == np.float32 else "np.float64"
    spaces = []
    for src in (fast, rhs + plain):
        ns = {"np": np, "exp": np.exp, "math": math}
        exec(src.replace("np.float32", cast), ns)  # noqa: S102 - generated from the test's data
        spaces.append(ns["step"])
    return spaces


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_fewer_multiplies_step_is_the_schemes_step(scheme):
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float64, 1e-13), (np.float32, 2e-6)):
        fast, plain = _steps(scheme, dtype)
        for _ in range(50):
            y = [dtype(v) for v in rng.uniform(-1, 1, 4)]
            args = [dtype(v) for v in (0.1, rng.uniform(-1, 1), rng.uniform(1, 5),
                                       rng.uniform(1, 5))]
            a, b = np.array(fast(*y, *args)), np.array(plain(*y, *args))
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_the_linear_states_take_their_stability_polynomial():
    src = rk_step_source32(get_tableau("midpoint"), RHS, 4, 2, "step", _F32Printer({}))
    # y1 and y2 decay linearly (y1 at a parameter's rate): their result is y times R(z),
    # R(z) = 1 + z (1 + z / 2) for the midpoint scheme; y0 and y3 take the stage code
    ret = src.splitlines()[-1]
    assert "y1 * (" in ret and "y2 * (" in ret and "z1 = dt * " in src and "z2 = dt * " in src
    assert "y0 + " in ret and "y3 + " in ret and "z0" not in src and "z3" not in src


@pytest.mark.parametrize(("scheme", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_converges_to_the_closed_form_at_the_schemes_order(scheme, order):
    """A truth the code did not produce: dV/dt = -V/tau + g, dg/dt = -g/tau_s has V(t) =
    V0 e^(-t/tau) + g0 (e^(-t/tau_s) - e^(-t/tau)) / (1/tau - 1/tau_s); the step's error at
    t = 10 falls by 2**order when dt halves, and g (a linear decay, taken through the stability
    polynomial) converges alike."""
    v, g = sympy.symbols("y0 y1")
    tau, tau_s = 4.0, 1.5
    src = rk_step_source32(get_tableau(scheme), [-v / tau + g, -g / tau_s], 2, 0, "step",
                           _F32Printer({}))
    assert "y1 * (" in src.splitlines()[-1]
    ns = {"np": np, "math": math}
    exec(src.replace("np.float32", "np.float64"), ns)  # noqa: S102 - generated from the test's data
    step = ns["step"]
    t_end, v0, g0 = 10.0, 1.0, 2.0
    exact_g = g0 * math.exp(-t_end / tau_s)
    exact_v = (v0 * math.exp(-t_end / tau) + g0 * (math.exp(-t_end / tau_s)
               - math.exp(-t_end / tau)) / (1 / tau - 1 / tau_s))
    errs = []
    for n in (200, 400):
        dt, y = t_end / n, (v0, g0)
        for _ in range(n):
            y = step(*y, dt, 0.0)
        errs.append((abs(y[0] - exact_v), abs(y[1] - exact_g)))
    for k in range(2):
        ratio = errs[0][k] / errs[1][k]
        assert 2**order * 0.8 < ratio < 2**order * 1.25, (k, errs)
