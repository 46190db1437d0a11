import numpy as np
import pytest

from neuroscape.models.theory import hopfield as hp


def test_stored_pattern_is_a_fixed_point_at_low_load():
    m, sweeps, trace = hp.retrieve(400, 0.02, cue_flip=0.2, seed=1)
    assert m == 1.0 and trace[0] == pytest.approx(0.6, abs=0.06)


@pytest.mark.slow
def test_capacity_near_0138_and_linear_in_n():
    """The truth: retrieval (mean final overlap over 10 trials > 0.9) succeeds below a load of
    0.12 and fails above 0.16 for N = 500, 1000 and 2000; the critical load is therefore the
    same for every N, and the capacity (patterns) grows linearly with N."""
    sizes = (500, 1000, 2000)
    alphas = np.array([0.05, 0.10, 0.12, 0.16, 0.20])
    m = hp.capacity_curve(sizes, alphas, trials=10, cue_flip=0.1, seed=0).mean(2)
    assert np.all(m[:, alphas <= 0.12] > 0.9), np.round(m, 3)
    assert np.all(m[:, alphas >= 0.16] < 0.9), np.round(m, 3)
    crit = np.array([hp.critical_load(alphas, row) for row in m])
    assert np.all((crit > 0.12) & (crit < 0.16))
    cap = crit * np.array(sizes)
    np.testing.assert_allclose(cap / np.array(sizes), crit.mean(), rtol=0.15)
