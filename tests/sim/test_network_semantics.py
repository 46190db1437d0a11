"""Network engine semantics against closed forms and Brian2's rules: spike statistics of
Bernoulli sources, independent initial draws, and the conditional write of (unless refractory)
variables during the refractory period."""

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.core.rng import row_keys
from neuroscape.models.network import network, network_model
from neuroscape.sim.engine import batch_for

RATE, DT = 200.0, 0.1  # Hz, ms: p = rate x dt = 0.02 per step


@pytest.fixture(scope="module")
def poisson_stats():
    net = network_model({
        "name": "bernoulli",
        "populations": {
            "src": {"kind": "poisson", "size": 400, "rate": f"{RATE} Hz"},
            # a target so the sources are part of a network; it never fires
            "n": {"size": 1, "model": {
                "name": "quiet", "equations": "dv/dt = (-v + I)/(10*ms) : volt",
                "current": {"name": "I", "unit": "mV"}, "threshold": "v > 1000*mV",
                "reset": "v = 0*mV", "initial": {"v": "0 mV"}, "spike_timing": "grid"}}},
        "projections": {"src_to_n": {"pre": "src", "post": "n", "connect": "all_to_all",
                                     "on_pre": "v += 0*mV"}},
        "outputs": {"r": {"rate": "src"}, "cv": {"cv": "src"},
                    "ff": {"fano": "src", "bin": "50 ms"}, "sync": {"sync": "src", "bin": "1 ms"}},
        "settings": {"duration": "4000 ms", "dt": f"{DT} ms", "window": "4000 ms"}})
    return ns.simulate(net, [{}] * 3, seed=2)


def test_bernoulli_sources_have_the_closed_form_cv_fano_and_synchrony(poisson_stats):
    """A source spiking with probability p per step: geometric intervals, CV = sqrt(1 - p);
    binomial counts, Fano factor 1 - p per neuron and for the summed (independent) population."""
    p = RATE * DT * 1e-3
    r = poisson_stats
    np.testing.assert_allclose(r["r"], RATE, rtol=0.02)
    np.testing.assert_allclose(r["cv"], np.sqrt(1 - p), atol=0.01)
    np.testing.assert_allclose(r["ff"], 1 - p, atol=0.03)
    # 4000 bins of the population count: the estimator's SD is about sqrt(2/4000)
    np.testing.assert_allclose(r["sync"], 1 - p, atol=0.07)


def test_initial_draws_of_different_states_are_independent():
    # coba_stp: v0 = E_l + rand()*(V_th - E_l), g_e0 = rand()*w_e, g_i0 = rand()*w_i per neuron
    b = batch_for("coba_stp", conn_seed=0)
    m = network("coba_stp")
    pop = m.populations[0]
    params = m.spec.params_array(None)
    arr = b._pop_arrays("P0", pop, params, row_keys(0, np.arange(1)),
                        m.row_values(params), 0, 0.1)["P0_y"][0]
    v, ge, gi = arr[:, 0], arr[:, 1], arr[:, 2]
    for a, c in ((v, ge), (v, gi), (ge, gi)):
        assert abs(np.corrcoef(a, c)[0, 1]) < 4 / np.sqrt(len(v))  # 4 SD of r under independence
    # each uniform over its declared range
    assert -0.0601 < v.min() and v.max() < -0.0499 and abs(v.mean() + 0.055) < 0.0005


def _kicked(kick_ms: float, hold: bool):
    flag = " (unless refractory)" if hold else ""
    net = network_model({
        "name": "refr",
        "populations": {
            "fire": {"kind": "spikes", "size": 1, "spikes": [["10 ms", 0]]},
            "kick": {"kind": "spikes", "size": 1, "spikes": [[f"{kick_ms} ms", 0]]},
            "n": {"size": 1, "model": {
                "name": "cell", "equations": f"dv/dt = (-v + I)/(1000*ms) : volt{flag}",
                "current": {"name": "I", "unit": "mV"}, "threshold": "v > 50*mV",
                "reset": "v = 0*mV", "refractory": "5 ms", "initial": {"v": "0 mV"},
                "spike_timing": "grid"}}},
        "projections": {
            "fire_to_n": {"pre": "fire", "post": "n", "connect": "all_to_all",
                          "on_pre": "v += 100*mV"},
            "kick_to_n": {"pre": "kick", "post": "n", "connect": "all_to_all",
                          "on_pre": "v += 1*mV"}},
        "outputs": {"r": {"rate": "n"}},
        "settings": {"duration": "30 ms", "dt": "0.1 ms", "window": "30 ms"}})
    r = ns.simulate(net, [{}], record_v=[2], record_spikes=True)
    return r.voltages[0, 0], r.spikes[0]


@pytest.mark.parametrize("kick_ms", [12.0, 15.0])
def test_input_during_the_refractory_period_is_lost_under_unless_refractory(kick_ms):
    """Brian2 (conditional write): the cell fires at 10.1 ms (the step after the kick of
    100 mV arrives) and is refractory for int(5 ms / 0.1 ms + 0.001) = 50 steps, through
    15.0 ms; a kick then does not move v. Without the flag it does."""
    v, (times, idx) = _kicked(kick_ms, hold=True)
    assert times[idx == 2].tolist() == [pytest.approx(10.1)]
    assert v[-1] == 0.0
    v_free, _ = _kicked(kick_ms, hold=False)
    assert v_free[-1] > 0.0009


def test_input_after_the_refractory_period_counts():
    v, _ = _kicked(15.1, hold=True)  # step 151 = 101 + 50: free again
    assert 0.0009 < v[-1] < 0.001
