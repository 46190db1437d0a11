import numpy as np
import pytest

from neuroscape.models.theory import wilson_cowan as wc


def test_fixed_point_is_a_root_and_jacobian_matches_differences():
    p = {"P": 1.0}
    ((e, i),) = wc.fixed_points(p)
    q = wc.SPEC.defaults | p
    f = np.array(
        [
            -e + 1 / (1 + np.exp(-q["a_E"] * (10 * e - 10 * i + 1.0 - 4.0))),
            -i + 1 / (1 + np.exp(-q["a_I"] * (10 * e - 3 * i - 3.7))),
        ]
    )
    assert np.abs(f).max() < 1e-10
    h = 1e-6
    num = np.empty((2, 2))
    for k in range(2):
        d = np.zeros(2)
        d[k] = h
        fp = np.array(wc._rhs(e + d[0], i + d[1], wc.SPEC.params_array(p)[0]))
        fm = np.array(wc._rhs(e - d[0], i - d[1], wc.SPEC.params_array(p)[0]))
        num[:, k] = (fp - fm) / (2 * h)
    np.testing.assert_allclose(wc.jacobian(e, i, p), num, rtol=1e-5, atol=1e-8)


@pytest.mark.slow  # long simulations on both sides of the bifurcation
def test_limit_cycle_appears_at_the_hopf_point():
    """The truth: simulations start to oscillate where the linearization's complex pair crosses
    the imaginary axis, within 1% in the swept drive P."""
    (hopf,) = wc.hopf_points("P", -2.0, 6.0)
    ((e, i),) = wc.fixed_points({"P": hopf})
    ev = np.linalg.eigvals(wc.jacobian(e, i, {"P": hopf}))
    assert abs(ev.real).max() < 1e-6 and abs(ev.imag).min() > 0.01  # a Hopf: complex pair
    onset = wc.oscillation_onset("P", 1.7, 2.6)  # a bracket not centred on the answer
    assert onset == pytest.approx(hopf, rel=0.01)
    below, above = wc.oscillates(
        np.vstack([wc.SPEC.params_array({"P": hopf * s})[0] for s in (0.95, 1.05)])
    )
    assert below and not above
