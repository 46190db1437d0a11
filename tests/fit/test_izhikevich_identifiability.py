"""Izhikevich (2003) identifiability on benchmarks/fitting.py's sweep families: a step family and
a ramp made by another path than the fit's (scipy's DOP853 with event location, against rk4 at
0.1 ms) pin a, b, c and d, where one step did not (every method 0 of 10 on every preset).

The truths are the presets of Izhikevich (2003), Fig. 2, never an output of the fit."""


import numpy as np
import pytest

from neuroscape.fit import run_method
from neuroscape.fit.problem import FitError
from neuroscape.testing import load_benchmark

fb = load_benchmark("fitting")


def _spike_lags(preset: str, ramp: bool) -> list[np.ndarray]:
    """Per sweep (the steps, or the ramp), the engine's crossing times minus the recording's
    peak samples at the preset; refuses unequal spike counts."""
    pr, _ = fb.izh_problem(preset, workers=1)(0, 100)
    truth = np.array([fb.PRESETS[preset][n] for n in pr.free_names])
    out = pr.simulate(truth[None])
    lags = []
    for j, d in enumerate(pr.sweep_data):
        if (d.protocol.ramp_end_nA is not None) != ramp:
            continue
        model, recorded = out.spikes[0][j], d.spikes
        assert len(model) == len(recorded), d.protocol.index
        lags.append(model - recorded)
    return lags


def _within_a_sample(lags: list[np.ndarray]) -> bool:
    """The peak sample (the last before the reset) precedes the crossing by less than one
    0.1-ms sample; the engine's crossing is within 0.002 ms of an exact solution (the model
    file's note on rk4 at 0.1 ms)."""
    x = np.concatenate(lags)
    return bool(x.min() >= -0.002 and x.max() <= fb.IZ_SAMPLE_MS + 0.002)


@pytest.mark.parametrize("preset", ["RS", "CH"])
def test_reference_and_fit_agree_on_the_step_family_at_the_truth(preset):
    """The target's path (DOP853, event location) and the fit's (rk4 at 0.1 ms) give the same
    spikes at the preset in every step sweep -- a discretisation defect of the fit's path
    would show here before it moved the fit."""
    lags = _spike_lags(preset, ramp=False)
    assert sum(len(x) for x in lags) > 30  # four steps fire
    assert _within_a_sample(lags)


def test_reference_and_fit_agree_on_the_ramp_at_the_truth():
    """As the step family, on the ramp: the engine holds each step's current at the step's
    midpoint (a current held at the step's start lagged the input by dt/2, and every spike
    on the ramp came 0.05 ms late at dt = 0.1 ms)."""
    lags = _spike_lags("RS", ramp=True)
    assert sum(len(x) for x in lags) > 10
    assert _within_a_sample(lags)


def test_reference_settles_to_the_closed_form_rest():
    """DOP853's trace of a low-threshold spiking cell (b = 0.25: its declared initial state is
    not its rest) settles to the rest, the lower root of 0.04 v^2 + (5 - b) v + 140 + I = 0
    (u = b v), without input and under a hyperpolarising step of I = -2."""
    p = fb.PRESETS["LTS"]
    b = p["b"]

    def rest(i):
        return (-(5 - b) - np.sqrt((5 - b) ** 2 - 0.16 * (140 + i))) / 0.08

    v, spikes = fb.izh_reference(p, -2.0, -2.0, 500.0, 2500.0, duration_ms=2600.0)
    assert not (spikes < 2500.0).any()  # (a rebound spike may follow the step)
    assert v[4990] == pytest.approx(rest(0.0), abs=0.02)  # 499 ms
    assert v[24990] == pytest.approx(rest(-2.0), abs=0.02)  # 2 s into the step
    assert abs(rest(-2.0) - rest(0.0)) > 1.0  # the step moves it: the check can fail


def test_unknown_objective_is_refused_in_one_line():
    sweeps = fb.izh_sweeps("RS", 0)
    with pytest.raises(FitError, match="unknown objective 'spikes'; allowed: .*intervals") as e:
        fb.IzhSweepProblem("izhikevich", sweeps, {"a": (0.0, 0.07)}, objectives=["spikes"],
                           current_per_nA=1.0)  # fmt: skip
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_cmaes_recovers_a_b_c_d_within_2_percent_of_the_box():
    """Regular spiking, two seeds: CMA-ES (64 candidates a generation, 1,500 candidates) from a
    random start recovers every parameter within 2% of its box width."""
    for seed in (0, 1):
        pr, ok = fb.izh_problem("RS")(seed, 1500)
        start = pr.as_dict(pr.from_unit(np.random.default_rng(1000 + seed).random(pr.n_free)))
        res = run_method(pr, "cmaes", seed=seed, start=start, popsize=fb.IZ_CMAES_POPSIZE)
        x = np.array([res.best[n] for n in pr.free_names])
        truth = np.array([fb.PRESETS["RS"][n] for n in pr.free_names])
        err = np.abs(x - truth) / (pr.hi - pr.lo)
        assert np.all(err <= 0.02), (seed, dict(zip(pr.free_names, err, strict=True)))
        assert ok(x)
