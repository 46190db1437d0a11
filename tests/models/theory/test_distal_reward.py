"""The distal reward problem (Izhikevich 2007) on the network engine: without dopamine nothing
changes, and with it the rewarded synapse (one of 80,000) is found within the hour."""

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.core.settings import SimSettings
from neuroscape.models.network import network
from neuroscape.models.theory import distal_reward as dr
from neuroscape.sim.engine import batch_for


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
    """The truth (Izhikevich 2007, Fig. 1): within the hour of network time the rewarded
    synapse reaches its maximum while the mean of all other excitatory synapses stays within
    10% of its start, in both of two runs (one batched call: a row per core, independent noise
    per row).

    Read from the weights recorded every second over 45 min of the hour: the first second at
    which the rewarded weight is at 0.99 w_max or above, and the others' mean at every second.
    Not its value at one instant: once found, the rewarded weight still falls back at times
    (with these streams row 0 first reaches w_max at 1600 s, stays 763 s and is at 3.59 mV at
    2700 s; row 1 first reaches it at 2443 s; with the streams before the Poisson inputs' 32-bit
    draws, at 1896 s and 2060 s, row 0 at 3.82 mV over 2100-2368 s). The others' mean stays
    within 5.3% of its start throughout."""
    net = network(dr.NETWORK)
    st = SimSettings.for_model(net.spec, duration_ms=2700e3, window_ms=2700e3)
    res = batch_for(net, conn_seed=0).run([{}] * 2, seed=0, settings=st)
    assert np.all(res.ok)
    w, others = res.records["w_rewarded"], res.records["w_others"]
    t_s = res.record_times_ms / 1e3
    assert t_s[-1] == pytest.approx(2700.0) and w.shape == (2, t_s.size)
    w_max = 4.0  # mV, the description's bound of E_to_E.w
    first = [t_s[np.argmax(row >= 0.99 * w_max)] if np.any(row >= 0.99 * w_max) else None
             for row in w]
    drift = np.abs(others - 1.0).max(axis=1)
    assert all(f is not None and f <= 3600.0 for f in first), (first, w[:, -1])
    assert np.all(drift < 0.10), drift
    # the rewarded synapse is singled out: no other synapse's mean moves like it
    assert np.all(w.max(axis=1) > 3.0 * others.max(axis=1))
