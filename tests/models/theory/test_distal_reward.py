"""The distal reward problem (Izhikevich 2007) on the network engine: without dopamine nothing
changes, and with it the rewarded synapse (one of 80,000) is found within the hour."""

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.models.network import network
from neuroscape.models.theory import distal_reward as dr


def test_the_studys_default_run_is_the_networks_declared_duration():
    net = network(dr.NETWORK)
    assert net.spec.settings.duration_ms == dr.DEFAULT_DURATION_S * 1e3
    assert net.records == ("w_rewarded", "w_others") and net.record_every_ms == 1000.0


def test_no_reward_no_change():
    # dw/dt = eta c (DA + da_base) with DA = 0 and da_base = 0: no weight moves, whatever c does.
    # 5 s (was 30 s) still holds thousands of STDP pairings, so any DA leak moves w by >> 1e-12.
    res = ns.simulate(network(dr.NETWORK), [{"da_jump": 0.0}], seed=3, conn_seed=3,
                      duration_ms=5_000.0, window_ms=5_000.0)
    assert res["w_rewarded"][0] == 1.0 and res["w_others"][0] == pytest.approx(1.0, abs=1e-12)
    assert 0.5 < res["rate"][0] < 2.0  # driven at 1 Hz per neuron


@pytest.mark.slow
def test_distal_reward_problem_solved_in_one_hour():
    """The truth: within the hour of network time the rewarded synapse reaches its maximum
    while the mean of all other excitatory synapses stays within 10% of its start, in both of
    two runs (one batched call: a row per core, independent noise per row).

    Run for 45 min of the hour: in the full hour (the weights recorded every second) the two
    rows first reached 0.99 w_max at 1896 s and 2060 s; the rewarded weight falls back at times
    (row 0: 3.82 mV over 2100-2368 s and again near 3120 s; the bar is its value at the end of
    the run), and at 2700 s both rows had been at w_max for 332 s and 641 s (at 3600 s: 429 s
    and 1541 s). The others' mean was 1.04 mV at 2700 s, 1.067-1.083 mV at 3600 s."""
    res = ns.simulate(network(dr.NETWORK), [{}] * 2, seed=0, conn_seed=0,
                      duration_ms=2700e3, window_ms=2700e3)
    seen = [(round(w, 3), round(others, 4), int(n)) for w, others, n in
            zip(res["w_rewarded"], res["w_others"], res["rewards"], strict=True)]
    good = sum(w >= 0.99 * 4.0 and abs(others - 1.0) < 0.10 for w, others, _ in seen)
    assert good == 2, seen
    assert np.all(res.ok)
