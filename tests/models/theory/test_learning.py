import numpy as np
import pytest

from neuroscape.models.theory.learning import rescorla_wagner, td0


def test_rescorla_wagner_closed_form_and_blocking():
    a = 0.2
    w, d = rescorla_wagner(np.ones((30, 1)), np.ones(30), alpha=a)
    n = np.arange(1, 31)
    np.testing.assert_allclose(w[:, 0], 1 - (1 - a) ** n, rtol=1e-12)
    assert d[0] == 1.0
    # blocking: A alone predicts the reward; then A+B together: B learns (almost) nothing
    pre, _ = rescorla_wagner(np.tile([1, 0], (100, 1)), np.ones(100), alpha=a)
    w2, _ = rescorla_wagner(np.ones((100, 2)), np.ones(100), alpha=a, w0=pre[-1])
    assert w2[-1, 1] < 0.01 and w2[-1, 0] > 0.99


def test_td0_values_and_the_shift_of_the_prediction_error():
    v, d = td0(5, 2000, alpha=0.1, gamma=0.9, reward=1.0)
    np.testing.assert_allclose(v[-1], 0.9 ** np.arange(4, -1, -1), rtol=1e-6)
    assert d[0, -1] == pytest.approx(1.0)  # first episode: the error sits at the reward
    assert abs(d[-1, -1]) < 1e-6  # after learning it is gone from the reward...
    assert d[-1, 0] == pytest.approx(0.9**5, rel=1e-6)  # ...and appears at the chain's onset
