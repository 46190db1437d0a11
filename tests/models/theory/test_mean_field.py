import numpy as np
import pytest

from neuroscape.core.rng import row_keys
from neuroscape.models.theory import mean_field as mf


def test_siegert_limits():
    # noise-free supra-threshold: the deterministic LIF interval tau ln((mu - V_r)/(mu - theta))
    det = 1e3 / (2.0 + 20.0 * np.log((30.0 - 10.0) / (30.0 - 20.0)))
    assert mf.siegert(30.0, 1e-3) == pytest.approx(det, rel=1e-3)
    assert mf.siegert(30.0, 0.0) == pytest.approx(det, rel=1e-12)
    assert mf.siegert(10.0, 0.5) < 1e-6  # far below threshold, little noise: silent
    # refractory ceiling
    assert mf.siegert(1e4, 1.0) < 1e3 / 2.0


@pytest.mark.slow
def test_siegert_against_lif_under_poisson_drive():
    """The truth: within 5% of long simulations (32 neurons x 10 s per point, delta synapses of
    0.02 mV) over mean inputs from sub- (17 mV) to supra-threshold (25 mV), threshold 20 mV.
    (At 17 mV the rate is 8 Hz; the standard error of the mean rate is about 1.3%.)"""
    mus = np.array([17.0, 18.5, 20.0, 22.0, 25.0])
    reps = 32
    r = mf.lif_poisson_rates(
        np.repeat(mus, reps),
        3.0,
        row_keys(0, np.arange(len(mus) * reps)),
        duration_ms=10_000.0,
        dt_ms=0.01,
    ).reshape(len(mus), reps)
    theory = np.array([mf.siegert(m, 3.0) for m in mus])
    rel = r.mean(1) / theory - 1
    assert np.all(np.abs(rel) < 0.05), np.round(rel, 4)
    assert theory[0] < 10 and theory[-1] > 40  # the range crosses from sub- to supra-threshold
