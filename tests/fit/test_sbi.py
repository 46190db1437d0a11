"""Neural posterior estimation (sbi) on synthetic Hodgkin-Huxley traces: calibration."""

import numpy as np
import pytest

from conftest import HH_BOX, HH_DEFAULTS, STEP
from neuroscape.fit import FitProblem, synthetic_trace
from neuroscape.fit.methods import sbi as npe


@pytest.mark.slow
def test_sbi_posterior_coverage_bar():
    """The bar: over 40 synthetic HH targets drawn from the prior, for each free parameter the
    truth lies inside its 90% posterior interval in at least 32 of the 40 (a calibrated
    posterior: 36 expected; 40 targets rather than 20, where 16 of 20 failed a calibrated
    posterior about once in 25 per parameter and a change of torch's thread count changed
    the draw from 16 to 15). One amortized posterior, 1,000 training simulations.

    1,000 (was 2,000): NPE's training (early-stopped) is the test's cost, about proportional to
    the training set (measured alone: 57 s against 109 s). The bar's power rests on the 40
    targets, which are unchanged. Measured, inside per parameter: 2,000 sims [35 34 34] (median
    widths <= 0.16), 1,000 sims [35 33 33] (seed 0, widths <= 0.19) and [35 35 35] (seed 1,
    widths <= 0.35). Mutation (posterior samples mapped with the box's width x 0.93, a 7% scale
    error of the unit-to-physical map): 2,000 sims [32 26 29], 1,000 sims [34 27 29]: both
    fail the bar of 32 alike."""
    kw = dict(duration_ms=150.0, dt_ms=0.025, record_every=4, noise_mV=1.0)
    tg0 = synthetic_trace("hh", HH_DEFAULTS, STEP, seed=0, **kw)
    problem = FitProblem("hh", tg0, ("rms",), HH_BOX, stimulus=STEP, dt_ms=0.025, budget=1000)
    post = npe.train(problem, seed=0, noise_sd=1.0)
    assert problem.n_sims == 1000
    rng = np.random.default_rng(123)
    inside = np.zeros(3, int)
    widths = []
    for k in range(40):
        truth = {n: rng.uniform(*HH_BOX[n]) for n in HH_BOX}
        tg = synthetic_trace("hh", truth, STEP, seed=100 + k, **kw)
        s = npe.posterior_samples(post, problem, npe.summary_stats(tg.t_ms, tg.v_mV), 1000, k)
        lo, hi = np.quantile(s, [0.05, 0.95], axis=0)
        t = np.array([truth[n] for n in problem.free_names])
        inside += (lo <= t) & (t <= hi)
        widths.append((hi - lo) / (problem.hi - problem.lo))
    assert np.all(inside >= 32), dict(zip(problem.free_names, inside, strict=True))
    # and informative: the intervals are much narrower than the prior
    assert np.median(widths, axis=0).max() < 0.5


@pytest.mark.slow
def test_sbi_fit_returns_posterior(hh_noisy):
    from neuroscape.fit import fit

    res = fit(
        "hh",
        hh_noisy,
        free=HH_BOX,
        method="sbi",
        budget=300,
        noise_sd=1.0,
        stimulus=STEP,
        dt_ms=0.025,
        n_samples=500,
    )
    assert res.posterior.shape == (500, 3)
    assert res.n_sims == 300
    assert set(res.to_dict()["posterior"]) == set(HH_BOX)
