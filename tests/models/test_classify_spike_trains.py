"""The batched behaviour classifier against the definition written out in NumPy, train by train."""

import numpy as np
import pytest

from neuroscape.models.neuron import BEHAVIOURS, classify_spike_trains, classify_spikes


def _definition(t, t_start, t_end):
    t = np.asarray(t, dtype=float)
    t = t[(t >= t_start) & (t < t_end)]
    if len(t) < 3:
        return "silent", float("nan")
    isi = np.diff(t)
    cv = float(isi.std() / isi.mean())
    s = np.sort(isi)
    ratios = s[1:] / np.maximum(s[:-1], 1e-12)
    k = int(np.argmax(ratios))
    if ratios[k] > 3.0 and k + 1 >= 0.25 * len(s) and len(s) - k - 1 >= 2:
        return "bursting", cv
    return ("tonic" if cv < 0.3 else "irregular"), cv


def _trains(rng, n):
    out = []
    for r in range(n):
        kind = r % 5
        if kind == 0:  # regular with jitter
            out.append(np.cumsum(rng.normal(20.0, rng.uniform(0.1, 8.0), rng.integers(0, 60))))
        elif kind == 1:  # bursts of 3-5 spikes
            bursts = [b + np.arange(rng.integers(3, 6)) * rng.uniform(2, 5)
                      for b in np.arange(rng.integers(1, 8)) * rng.uniform(60, 150)]
            out.append(np.concatenate(bursts) if bursts else np.empty(0))
        elif kind == 2:  # Poisson
            out.append(np.cumsum(rng.exponential(25.0, rng.integers(0, 50))))
        elif kind == 3:  # few spikes, some outside the window
            out.append(np.sort(rng.uniform(-50, 1100, rng.integers(0, 5))))
        else:  # float32 times, as some back ends record them
            out.append(np.cumsum(rng.gamma(4.0, 5.0, rng.integers(0, 40))).astype(np.float32))
    return out


def test_batched_classes_and_cvs_equal_the_definition_train_by_train():
    rng = np.random.default_rng(7)
    trains = _trains(rng, 500)
    labels, cvs = classify_spike_trains(trains, 100.0, 1000.0)
    want = [_definition(t, 100.0, 1000.0) for t in trains]
    assert labels == [w[0] for w in want]
    np.testing.assert_allclose(cvs, [w[1] for w in want], rtol=1e-12, equal_nan=True)
    assert set(labels) == set(BEHAVIOURS)  # every class occurs, so each branch is checked
    # one train at a time, and no train at all
    assert classify_spikes(trains[1], 100.0, 1000.0)[0] == want[1][0]
    lab, cv = classify_spike_trains([], 0.0, 1.0)
    assert lab == [] and cv.shape == (0,)


def test_identical_spike_times_give_a_nan_cv_not_an_error():
    label, cv = classify_spikes(np.array([5.0, 5.0, 5.0, 5.0]), 0.0, 10.0)
    assert np.isnan(cv) and label == "irregular"
    with np.errstate(invalid="ignore"):
        assert _definition([5.0, 5.0, 5.0, 5.0], 0.0, 10.0)[0] == label


@pytest.mark.parametrize("t_start", [0.0, 250.0])
def test_window_edges_follow_the_half_open_interval(t_start):
    t = np.array([t_start, t_start + 10.0, t_start + 20.0, 1000.0])
    assert classify_spike_trains([t], t_start, 1000.0)[0] == [_definition(t, t_start, 1000.0)[0]]
