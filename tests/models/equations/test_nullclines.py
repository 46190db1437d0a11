"""Nullclines solved from the equations against the published closed forms."""

import numpy as np

from neuroscape.models import resolve
from neuroscape.models.equations.phase import nullclines


def test_fhn_nullclines_are_the_cubic_and_the_line():
    # FitzHugh (1961): w = v - v^3/3 + I and w = (v + a)/b
    v = np.linspace(-2.5, 2.5, 11)
    p = {"a": 0.7, "b": 0.8, "tau": 12.5}
    wv, ww = nullclines(resolve("fhn"))(v, 0.5, p)
    np.testing.assert_allclose(wv, v - v**3 / 3 + 0.5, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ww, (v + 0.7) / 0.8, rtol=1e-12)


def test_izhikevich_nullclines_are_the_parabola_and_the_line():
    # Izhikevich (2003): u = 0.04 v^2 + 5 v + 140 + I and u = b v
    v = np.linspace(-80, 30, 12)
    p = {"a": 0.02, "b": 0.25, "c": -65.0, "d": 2.0}
    uv, uu = nullclines(resolve("izhikevich"))(v, 4.0, p)
    np.testing.assert_allclose(uv, 0.04 * v**2 + 5 * v + 144.0, rtol=1e-12)
    np.testing.assert_allclose(uu, 0.25 * v, rtol=1e-12)


def test_models_without_two_states_have_none():
    assert nullclines(resolve("lif")) is None
    assert nullclines(resolve("hindmarsh_rose")) is None
