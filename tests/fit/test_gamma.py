"""The coincidence factor Gamma (Kistler, Gerstner and van Hemmen 1997; Jolivet et al. 2008)
against values computed by hand from its definition, and chance levels of Poisson trains."""

import numpy as np
import pytest

from conftest import HH_BOX, STEP, hh_target
from neuroscape.fit import FitError, FitProblem
from neuroscape.fit.measures import (
    MEASURES,
    MeasureError,
    coincidence_factor,
    intrinsic_reliability,
    normalized_coincidence_factor,
    trace_spike_times,
)
from neuroscape.fit.targets import Target


def _poisson(rng, rate_hz, duration_ms):
    n = rng.poisson(rate_hz * duration_ms / 1000.0)
    return np.sort(rng.uniform(0.0, duration_ms, n))


def test_identical_trains_give_one():
    rng = np.random.default_rng(0)
    for rate in (5.0, 20.0, 60.0):
        s = _poisson(rng, rate, 5000.0)
        assert coincidence_factor(s, s, 5000.0) == pytest.approx(1.0, abs=1e-12)
    # a one-spike train, and spikes jittered by less than delta
    assert coincidence_factor([50.0], [50.0], 100.0) == pytest.approx(1.0)
    assert coincidence_factor([10.0, 60.0], [13.9, 56.1], 100.0) == pytest.approx(1.0)


def test_small_examples_by_hand():
    # data 10, 50, 90 ms; model 12, 70 ms; T = 100 ms, delta = 4 ms: one coincidence (12-10);
    # nu = 2/100 per ms, <N_coinc> = 2 * 0.02 * 4 * 3 = 0.48, N = 1 - 2 * 0.02 * 4 = 0.84;
    # Gamma = (1 - 0.48) / (0.5 * 5) / 0.84 = 26/105
    assert coincidence_factor([12.0, 70.0], [10.0, 50.0, 90.0], 100.0) == pytest.approx(26 / 105)
    # one model spike within delta of two data spikes counts once: N_coinc = 1;
    # nu = 0.01, <N_coinc> = 2 * 0.01 * 4 * 2 = 0.16, N = 0.92: (1 - 0.16) / 1.5 / 0.92 = 14/23
    assert coincidence_factor([11.5], [10.0, 13.0], 100.0) == pytest.approx(14 / 23)
    # delta = 1 ms: 12-10 is no longer a coincidence; <N_coinc> = 2 * 0.02 * 1 * 3 = 0.12,
    # N = 0.96: (0 - 0.12) / 2.5 / 0.96 = -0.05
    assert coincidence_factor([12.0, 70.0], [10.0, 50.0, 90.0], 100.0, delta_ms=1.0) == (
        pytest.approx(-0.05)
    )
    # the rate is the model's: swapping the trains changes <N_coinc> and N
    # nu = 0.03, <N_coinc> = 2 * 0.03 * 4 * 2 = 0.48, N = 0.76: (1 - 0.48) / 2.5 / 0.76 = 52/190
    assert coincidence_factor([10.0, 50.0, 90.0], [12.0, 70.0], 100.0) == pytest.approx(52 / 190)


def test_train_shifted_beyond_delta():
    """A regular train against itself shifted by 10 ms > delta: no coincidence, so Gamma =
    -2 nu delta / (1 - 2 nu delta) (the chance level subtracted, nothing gained): below 0."""
    data = np.arange(20.0, 1000.0, 50.0)  # 20 spikes, every 50 ms
    for shift in (5.0, 10.0, 25.0):
        model = data + shift
        x = 2 * (len(model) / 1000.0) * 4.0
        g = coincidence_factor(model, data, 1000.0)
        assert g == pytest.approx(-x / (1 - x))
        assert g < 0


def test_independent_poisson_trains_give_zero():
    """Independent Poisson trains at 2 Hz over 50 s: the mean Gamma over 300 pairs is 0 within
    3 standard errors. (<N_coinc> = 2 nu delta N_data is the chance level to first order in
    2 nu delta = 0.016; the second-order shortfall, about -3e-4 here, is a quarter of the SE.)"""
    rng = np.random.default_rng(7)
    g = np.array(
        [coincidence_factor(_poisson(rng, 2.0, 5e4), _poisson(rng, 2.0, 5e4), 5e4)
         for _ in range(300)]
    )
    se = g.std(ddof=1) / np.sqrt(len(g))
    assert abs(g.mean()) < 3 * se, (g.mean(), se)
    assert se < 0.002  # the test resolves a chance level off by a hundredth


def test_undefined_cases_are_nan():
    assert np.isnan(coincidence_factor([], [], 100.0))
    # a model at 1/(2 delta) = 125 Hz: N = 1 - 2 nu delta = 0
    assert np.isnan(coincidence_factor(np.arange(0.0, 100.0, 8.0)[:12] + 2, [50.0], 96.0))
    # a silent model against a firing cell: no coincidence, no chance level: 0
    assert coincidence_factor([], [10.0, 50.0], 100.0) == 0.0


def test_intrinsic_reliability_normalisation_by_hand():
    # repeats r1 = 10, 50 and r2 = 12, 70 ms (T = 100, delta = 4): one coincidence each way,
    # nu = 0.02, <N_coinc> = 2 * 0.02 * 4 * 2 = 0.32, N = 0.84: Gamma = 0.68 / 2 / 0.84 = 17/42
    r1, r2 = [10.0, 50.0], [12.0, 70.0]
    assert intrinsic_reliability([r1, r2], 100.0) == pytest.approx(17 / 42)
    # a model with r1's spikes: Gamma 1 with r1, 17/42 with r2; mean 59/84, over R: 59/34
    assert normalized_coincidence_factor(r1, [r1, r2], 100.0) == pytest.approx(59 / 34)
    # identical repeats: R = 1, the normalised Gamma is the plain one
    m = [12.0, 70.0]
    assert normalized_coincidence_factor(m, [r1, r1, r1], 100.0) == pytest.approx(
        coincidence_factor(m, r1, 100.0)
    )


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: coincidence_factor([1.0], [1.0], 100.0, delta_ms=0.0), "delta_ms=0.0"),
        (lambda: coincidence_factor([1.0], [1.0], -5.0), "duration_ms=-5.0"),
        (lambda: coincidence_factor([1.0, np.nan], [1.0], 100.0), "NaN or inf"),
        (lambda: coincidence_factor([150.0], [1.0], 100.0), "150 ms lies outside"),
        (lambda: intrinsic_reliability([[1.0]], 100.0), "at least 2"),
    ],
)
def test_bad_input_is_one_line(call, fragment):
    with pytest.raises(MeasureError) as e:
        call()
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_trace_spike_times_level_and_resets():
    t = np.arange(0.0, 100.0, 0.1)
    # a "spike" crossing -20 mV upward between 30.0 (-40) and 30.1 (0): at 30.05 ms
    v = np.full_like(t, -65.0)
    v[300], v[301], v[302] = -40.0, 0.0, 20.0
    assert trace_spike_times(t, v) == pytest.approx([30.05])
    # an integrate-and-fire trace that never reaches -20 mV: ramps to -50, reset to -70
    v = -70.0 + 20.0 * ((t % 25.0) / 25.0)
    got = trace_spike_times(t, v)
    assert got == pytest.approx([24.9, 49.9, 74.9], abs=1e-9)


def test_gamma_is_a_fit_measure():
    """In a fit: 1 - Gamma is 0 at the truth of a synthetic HH trace, and near 1 or above for
    conductances that move the spikes by more than delta; a target without spikes, or not a
    trace, is refused in one line."""
    tg = hh_target(0, noise_mV=0.0)
    problem = FitProblem("hh", tg, ("gamma",), HH_BOX, stimulus=STEP, dt_ms=0.025)
    x_true = np.array([tg.truth[k] for k in problem.free_names])
    far = x_true * np.where(np.array(problem.free_names) == "g_K", 1.4, 1.0)
    out = problem.simulate(np.vstack([x_true, far]))
    err = problem.errors_of(out)[:, 0]
    assert err[0] < 0.05, err
    assert err[1] > 0.5, err
    assert "gamma" in MEASURES
    quiet = Target("trace", tg.t_ms, np.full_like(tg.t_ms, -65.0))
    with pytest.raises(MeasureError, match="has no spike"):
        MEASURES["gamma"](out, quiet)
    with pytest.raises(FitError, match="compare traces"):
        FitProblem("hh", Target("rates", rates={"rate": 10.0}), ("gamma",), HH_BOX, stimulus=STEP)
