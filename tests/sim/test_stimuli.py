"""One validation layer for stimuli: every path (make_stimulus, simulate_neurons, the batched
engine and sweeps through NeuronBatch) refuses what no run can use, with one line."""

import numpy as np
import pytest

from neuroscape.core.settings import SimSettings
from neuroscape.core.stimuli import Stimulus, StimulusError, make_stimulus
from neuroscape.sim.engine import run_batch
from neuroscape.sim.neuron_engine import NeuronBatch, simulate_neurons


@pytest.mark.parametrize(
    "kind,kw,match",
    [
        (
            "step",
            dict(amp=1.0, t_on=50.0, t_off=20.0),
            "t_on=50 ms, t_off=20 ms; allowed: t_on < t_off",
        ),
        (
            "step",
            dict(amp=1.0, t_on=20.0, t_off=20.0),
            "t_on=20 ms, t_off=20 ms; allowed: t_on < t_off",
        ),
        ("step", dict(amp=np.nan), "amp=nan; allowed: a finite number"),
        ("step", dict(amp=[1.0, np.inf]), "row 1: amp=inf; allowed: a finite number"),
        ("step", dict(amp=1.0, t_on=-5.0), "t_on=-5 ms; allowed: t_on >= 0 ms"),
        ("step", dict(amp=1.0, t_off=np.nan), "t_off=nan ms; allowed: a time in ms, or inf"),
        ("ramp", dict(amp0=0.0, amp1=5.0), "t_off=inf ms; allowed: a finite end time for a ramp"),
        ("ramp", dict(amp0=0.0, amp1=5.0, t_on=100.0, t_off=50.0), "allowed: t_on < t_off"),
        ("noisy", dict(mean=1.0, sigma=-1.0), "sigma=-1; allowed: sigma >= 0"),
        ("noisy", dict(mean=np.nan, sigma=1.0), "mean=nan; allowed: a finite number"),
        ("poisson", dict(rate_hz=-5.0, weight=1.0, tau_syn=5.0), "rate_hz=-5; allowed"),
        (
            "poisson",
            dict(rate_hz=5.0, weight=1.0, tau_syn=0.0),
            "tau_syn=0 ms; allowed: tau_syn > 0",
        ),
        (
            "poisson_conductance",
            dict(rate_hz=5.0, weight=-0.1, tau_syn=5.0, E_rev=0.0),
            "weight=-0.1; allowed: weight >= 0",
        ),
        ("step", dict(amp=[1.0, 2.0, 3.0], t_on=[0.0, 1.0]), "t_on has 2 values; allowed: 1 or 3"),
        ("step", dict(amp="big"), "amp='big'; allowed: numbers"),
    ],
)
def test_make_stimulus_refuses_values_no_run_can_use(kind, kw, match):
    with pytest.raises(StimulusError, match=match) as exc:
        make_stimulus(kind, **kw)
    assert "\n" not in str(exc.value)


def test_a_stimulus_that_never_acts_within_the_run_is_refused():
    late = make_stimulus("step", amp=3.0, t_on=1500.0)
    with pytest.raises(StimulusError, match=r"t_on=1500 ms is not before the end of the run"):
        simulate_neurons("lif", {}, late, duration_ms=1000.0)
    # the same stimulus in a longer run is fine
    assert simulate_neurons("lif", {}, late, duration_ms=2000.0).total_counts[0] > 0
    # through the batched engine (the API and sweeps) the check comes before any simulation
    with pytest.raises(StimulusError, match="never acts; allowed: t_on < 1000 ms"):
        run_batch(NeuronBatch("lif", late), {}, settings=SimSettings(1000.0, 0.1, 500.0, "rk4"))


def test_a_stimulus_built_by_hand_is_checked_too():
    bad = Stimulus("step", np.array([[1.0, 30.0, 10.0, 0.0]]))
    with pytest.raises(StimulusError, match="t_on=30 ms, t_off=10 ms; allowed: t_on < t_off"):
        simulate_neurons("lif", {}, bad)
    with pytest.raises(StimulusError, match="t_on=30 ms, t_off=10 ms"):
        NeuronBatch("lif", bad)
    with pytest.raises(StimulusError, match="unknown stimulus 'sine'"):
        simulate_neurons("lif", {}, Stimulus("sine", np.zeros((1, 4))))


def test_valid_stimuli_pass():
    for stim in (
        make_stimulus("step", amp=[0.0, 5.0], t_on=10.0),
        make_stimulus("ramp", amp0=0.0, amp1=5.0, t_on=10.0, t_off=500.0),
        make_stimulus("noisy", mean=2.0, sigma=0.0),
        make_stimulus("poisson", rate_hz=0.0, weight=-0.5, tau_syn=5.0),  # inhibitory current
    ):
        stim.check(1000.0)
