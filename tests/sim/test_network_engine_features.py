"""Network description elements of the distal-reward network, each against what it must give
by construction: out-degree graphs (exact degrees, the in-degree's binomial moments), a rule
that names one synapse, delays drawn anew per spike (uniform over their range, chunk-free),
bounds on synaptic variables, spike counts and pooled rates, weights of single synapses and
pools, and records of weights over the run (equal to the closed form of reward-modulated STDP
at every sample, without changing the run)."""

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.core.connectivity import ConnectivityError
from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SettingsError, SimSettings
from neuroscape.models.network import NetworkError, network_model
from neuroscape.sim.engine import batch_for

# one spike per kick: v jumps by 1 mV, the threshold is crossed at the next step, reset to 0
RELAY = {"name": "relay", "equations": "dv/dt = I/(1*ms) : mV",
         "current": {"name": "I", "unit": "mV"}, "threshold": "v > 0.5*mV",
         "reset": "v = 0*mV", "spike_timing": "grid", "initial": {"v": "0 mV"}}
DT = 0.1  # ms


def _settings(net, duration_ms):
    return SimSettings.for_model(net.spec, duration_ms=duration_ms, window_ms=duration_ms)


# --------------------------------------------------------------------------- graphs
def _degree_net(n: int, k: int, autapses: bool = False):
    return network_model({
        "name": "deg", "populations": {"A": {"size": n, "model": RELAY},
                                       "B": {"size": 30, "model": RELAY}},
        "projections": {
            "A_to_A": {"pre": "A", "post": "A", "connect": {"out_degree": k,
                                                            "autapses": autapses},
                       "on_pre": "v_post += 0*mV"},
            "A_to_B": {"pre": "A", "post": "B", "connect": {"out_degree": 30},
                       "on_pre": "v_post += 0*mV"}},
        "outputs": {"r": {"rate": "A"}}})


def test_out_degree_gives_each_neuron_k_distinct_targets_and_binomial_in_degrees():
    n, k = 400, 20
    g = _degree_net(n, k).graph(3)
    pre, post = g.edges["A_to_A"]
    assert np.array_equal(np.bincount(pre, minlength=n), np.full(n, k))
    assert not np.any(pre == post)  # no autapses
    assert len(set(zip(pre.tolist(), post.tolist(), strict=True))) == n * k  # distinct
    # each of the other n - 1 neurons is a target with p = k/(n - 1), independently per pre
    # neuron: in-degrees have mean k and variance (n - 1) p (1 - p) ... over n neurons
    indeg = np.bincount(post, minlength=n)
    p = k / (n - 1)
    var = (n - 1) * p * (1 - p)
    assert indeg.mean() == k
    assert abs(indeg.var(ddof=1) - var) < 5 * var * np.sqrt(2 / (n - 1))
    # onto another population: all 30 of 30 (k = size is allowed there: no autapse to avoid)
    pre_b, post_b = g.edges["A_to_B"]
    assert np.array_equal(np.bincount(pre_b, minlength=n), np.full(n, 30))


def test_out_degree_with_autapses_may_target_itself_and_refuses_too_many():
    g = _degree_net(50, 50, autapses=True).graph(0)
    pre, post = g.edges["A_to_A"]
    assert np.sum(pre == post) == 50  # all 50 targets of 50: itself included
    with pytest.raises(NetworkError, match="out_degree 50 > 49") as exc:
        _degree_net(50, 50).graph(0)
    assert "\n" not in str(exc.value)


def _watch_net(index: int = 3):
    return network_model({
        "name": "watch", "populations": {"A": {"size": 20, "model": RELAY},
                                         "C": {"size": 2, "model": RELAY}},
        "projections": {
            "A_to_A": {"pre": "A", "post": "A", "connect": {"out_degree": 4},
                       "on_pre": "v_post += 0*mV"},
            "see_pre": {"pre": "A", "post": "C", "on_pre": "v_post += 1*mV",
                        "connect": {"synapse": f"A_to_A[{index}]", "end": "pre"}},
            "see_post": {"pre": "A", "post": "C", "on_pre": "v_post += 1*mV",
                         "connect": {"synapse": f"A_to_A[{index}]", "end": "post"}}},
        "outputs": {"r": {"rate": "C"}}})


def test_a_synapse_rule_connects_that_synapses_neurons_and_graph_files_must_agree(tmp_path):
    net = _watch_net()
    g = net.graph(5)
    pre, post = g.edges["A_to_A"]
    order = np.lexsort((post, pre))  # the canonical order: by pre, then post
    i, j = int(pre[order][3]), int(post[order][3])
    assert g.edges["see_pre"].tolist() == [[i, i], [0, 1]]  # onto every neuron of C
    assert g.edges["see_post"].tolist() == [[j, j], [0, 1]]
    path = g.save(tmp_path / "g.npz")
    assert net.load_graph(path).content_hash() == g.content_hash()
    bad = dict(np.load(path))
    bad["see_post"] = np.array([[(j + 1) % 20, (j + 1) % 20], [0, 1]])
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ConnectivityError, match="see_post must connect the post neuron of "
                                                r"synapse A_to_A\[3\]") as exc:
        net.load_graph(tmp_path / "bad.npz")
    assert "\n" not in str(exc.value)
    with pytest.raises(NetworkError, match=r"synapse A_to_A\[80\] does not exist \(A_to_A has "
                                           r"80 synapses\); allowed: 0..79"):
        _watch_net(80).graph(0)


# --------------------------------------------------------------------------- delays per spike
def _delay_net(draw: str):
    period = 50  # ms between spikes: longer than the largest delay, so arrivals stay in order
    return network_model({
        "name": f"spike_delays_{draw}",
        "constants": {"d_lo": "5 ms", "d_hi": "15 ms"},
        "populations": {
            "gen": {"kind": "spikes", "size": 1,
                    "spikes": [{"start": "10 ms", "period": f"{period} ms", "count": 200}]},
            "out": {"size": 1, "model": RELAY}},
        "projections": {"gen_to_out": {
            "pre": "gen", "post": "out", "connect": "all_to_all",
            "delay": "d_lo + (d_hi - d_lo)*rand()", "delay_draw": draw,
            "on_pre": "v_post += 1*mV"}},
        "outputs": {"n_out": {"count": "out", "start": "0 ms"}},
        "settings": {"duration": "10020 ms", "dt": f"{DT} ms", "window": "10020 ms"}})


def _delays(net, rows, seed=4):
    res = ns.simulate(net, [{}] * rows, seed=seed, record_spikes=True)
    sent = 10.0 + 50.0 * np.arange(200)
    # the kick lands d after the spike step; the relay fires at the next step
    return [t[i == 1] - sent - DT for t, i in res.spikes], res  # neuron 1: out


def test_delays_drawn_per_spike_are_uniform_over_their_range_and_free_of_the_chunk():
    (d0, d1, d2), res = _delays(_delay_net("spike"), 3)
    assert np.all(res["n_out"] == 200)  # every spike arrives once: the count output
    d = d0
    steps = d / DT
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)  # on the step grid
    assert d.min() >= 5.0 - 1e-9 and d.max() <= 15.0 + 1e-9
    # uniform on [5, 15] ms: mean 10 ms (SE 10/sqrt(12*200) = 0.2 ms), Kolmogorov-Smirnov
    assert abs(d.mean() - 10.0) < 4 * 10 / np.sqrt(12 * 200)
    u = np.sort((d - 5.0) / 10.0)
    ks = np.max(np.abs(u - (np.arange(1, 201) - 0.5) / 200))
    assert ks < 1.63 / np.sqrt(200)  # 1% level (plus the 0.1-ms grid: 0.005)
    assert len(np.unique(d)) > 50  # drawn anew per spike
    assert not np.array_equal(d0, d1) and not np.array_equal(d1, d2)
    # row 2 alone (a batch of one, its own stream (seed, 2)) gives what it gave in the batch
    b = batch_for(_delay_net("spike"), conn_seed=0)
    net = b.model
    alone = b.run_chunk(net.spec.params_array([{}]), row_keys(4, np.array([2])),
                        _settings(net, 10020.0), "cpu", Recording(spikes=True))
    assert np.array_equal(alone.spikes[0][0], res.spikes[2][0])


def test_delays_drawn_per_synapse_stay_fixed():
    (d0, d1), _ = _delays(_delay_net("synapse"), 2)
    assert len(np.unique(np.round(d0, 6))) == 1 and len(np.unique(np.round(d1, 6))) == 1


# --------------------------------------------------------------------------- bounds, weights
def _weights_net(records: bool = False, bounds=("0 mV", "2.2 mV")):
    d = {
        "name": "weights",
        "populations": {
            "gen": {"kind": "spikes", "size": 3,
                    "spikes": [["10 ms", 0], ["20 ms", 0], ["30 ms", 0], ["25 ms", 2]]},
            "post": {"size": 2, "model": RELAY}},
        "projections": {
            "P": {"pre": "gen", "post": "post", "connect": "all_to_all",
                  "model": "w : mV", "initial": {"w": "0.5 mV"},
                  "bounds": {"w": list(bounds)}, "on_pre": "w += 1*mV"},
            "Q": {"pre": "gen", "post": "post", "connect": "all_to_all",
                  "model": "w : mV", "initial": {"w": "0.25 mV"}, "on_pre": "v_post += 0*mV"}},
        "outputs": {
            "w0": {"weights": "P.w[0]"},
            "w4": {"weights": "P.w[4]"},
            "rest": {"weights": "P.w", "stat": "mean", "exclude": "P[0]"},
            "pool": {"weights": ["P.w", "Q.w"], "stat": "mean", "exclude": ["P[0]", "P[1]"]},
            "above": {"weights": ["P.w", "Q.w"], "stat": "fraction_above", "value": "1 mV"}},
        "settings": {"duration": "40 ms", "dt": f"{DT} ms", "window": "40 ms"}}
    if records:
        d["records"] = {"every": "10 ms", "outputs": ["w0", "pool"]}
    return network_model(d)


def test_bounds_single_synapses_pools_and_exclusions():
    # canonical order of P: (0,0) (0,1) (1,0) (1,1) (2,0) (2,1); neuron 0 spikes 3 times
    # (0.5 + 3 mV clipped to 2.2), neuron 2 once (1.5), neuron 1 never (0.5); Q stays 0.25
    r = ns.simulate(_weights_net(), [{}])
    assert r["w0"][0] == pytest.approx(2.2)
    assert r["w4"][0] == pytest.approx(1.5)
    assert r["rest"][0] == pytest.approx((2.2 + 0.5 + 0.5 + 1.5 + 1.5) / 5)
    assert r["pool"][0] == pytest.approx((0.5 + 0.5 + 1.5 + 1.5 + 6 * 0.25) / 10)
    assert r["above"][0] == pytest.approx(4 / 12)


def _weights_desc_minus():
    return {
        "name": "weights_minus",
        "populations": {"gen": {"kind": "spikes", "size": 1,
                                "spikes": [["10 ms", 0], ["20 ms", 0]]},
                        "post": {"size": 1, "model": RELAY}},
        "projections": {"P": {"pre": "gen", "post": "post", "connect": "all_to_all",
                              "model": "w : mV", "initial": {"w": "0.5 mV"},
                              "bounds": {"w": ["-0.7 mV", "5 mV"]}, "on_pre": "w -= 1*mV"}},
        "outputs": {"w0": {"weights": "P.w[0]"}},
        "settings": {"duration": "40 ms", "dt": f"{DT} ms", "window": "40 ms"}}


def test_records_sample_weights_before_the_steps_at_their_times():
    b = batch_for(_weights_net(records=True), conn_seed=0)
    net = b.model
    res = b.run_chunk(net.spec.params_array([{}]), row_keys(0, np.arange(1)),
                      _settings(net, 40.0), "cpu", Recording())
    np.testing.assert_allclose(res.record_times_ms, [10.0, 20.0, 30.0, 40.0])
    # the spike at 10 ms acts in the step at 10 ms, after the sample at 10 ms
    np.testing.assert_allclose(res.records["w0"][0], [0.5, 1.5, 2.2, 2.2])
    np.testing.assert_allclose(res.records["pool"][0, -1], res.outputs[0, 3])


def test_a_lower_bound_holds():
    r = ns.simulate(network_model(_weights_desc_minus()), [{}])
    assert r["w0"][0] == pytest.approx(-0.7)


def test_pooled_rate_and_count():
    net = network_model({
        "name": "pooled",
        "populations": {
            "g1": {"kind": "spikes", "size": 2, "spikes": [["1 ms", 0], ["2 ms", 1], ["3 ms", 0]]},
            "g2": {"kind": "spikes", "size": 1, "spikes": [["5 ms", 0]]},
            "a": {"size": 2, "model": RELAY}, "b": {"size": 1, "model": RELAY}},
        "projections": {
            "g1_to_a": {"pre": "g1", "post": "a", "connect": "one_to_one",
                        "on_pre": "v_post += 1*mV"},
            "g2_to_b": {"pre": "g2", "post": "b", "connect": "one_to_one",
                        "on_pre": "v_post += 1*mV"}},
        "outputs": {"n": {"count": ["a", "b"]}, "n_a": {"count": "a", "start": "2 ms"},
                    "r": {"rate": ["a", "b"], "start": "0 ms"}},
        "settings": {"duration": "100 ms", "dt": f"{DT} ms", "window": "100 ms"}})
    r = ns.simulate(net, [{}])
    assert r["n"][0] == 4 and r["n_a"][0] == 2  # a's spikes at 1.1, 2.1, 3.1 ms
    assert r["r"][0] == pytest.approx(4 / 3 / 0.1)  # 4 spikes of 3 neurons in 0.1 s


# --------------------------------------------------------------------------- modulated records
CELL = {"name": "pas", "equations": "dv/dt = (-v + I)/(10*ms) : volt",
        "current": {"name": "I", "unit": "mV"}, "threshold": "v > 10*mV",
        "reset": "v = 0*mV", "initial": {"v": "0 mV"}, "spike_timing": "grid"}


def _da_pair(records: bool):
    """One pre-before-post pairing (pre at 10 ms, post at 15.1 ms), a reward at 500 ms: the
    eligibility trace c jumps by exp(-5.1/20) and dw/dt = eta c DA (Izhikevich 2007)."""
    d = {
        "name": "da_pair_rec",
        "parameters": {"eta": {"default": "0.01 1/ms", "low": "0 1/ms", "high": "1 1/ms"}},
        "constants": {"tau_c": "1000 ms", "tau_p": "20 ms"},
        "populations": {
            "pre": {"kind": "spikes", "size": 1, "spikes": [["10 ms", 0]]},
            "kick": {"kind": "spikes", "size": 1, "spikes": [["15 ms", 0]]},
            "reward": {"kind": "spikes", "size": 1, "spikes": [["500 ms", 0]]},
            "post": {"size": 1, "model": CELL}},
        "modulators": {"DA": {"tau": "200 ms", "source": "reward", "on_spike": "DA += 0.5"}},
        "projections": {
            "kick_to_post": {"pre": "kick", "post": "post", "connect": "all_to_all",
                             "on_pre": "v += 20*mV"},
            "pre_to_post": {
                "pre": "pre", "post": "post", "connect": "all_to_all",
                "model": "w : 1\ndApre/dt = -Apre/tau_p : 1 (event-driven)\n"
                         "dApost/dt = -Apost/tau_p : 1 (event-driven)\n"
                         "dc/dt = -c/tau_c : 1 (event-driven)\ndw/dt = eta*c*DA : 1 "
                         "(event-driven)",
                "on_pre": "Apre += 1.0\nc += Apost", "on_post": "Apost += -1.5\nc += Apre"}},
        "outputs": {"w": {"weights": "pre_to_post.w", "stat": "mean"}},
        "settings": {"duration": "1500 ms", "dt": "0.1 ms", "window": "1500 ms"}}
    if records:
        d["records"] = {"every": "100 ms", "outputs": ["w"]}
    return network_model(d)


def _closed_form(t_rew: float, T: float, eta=0.01, tau_c=1000.0, tau_d=200.0) -> float:
    """w(T) = int_{t_rew}^{T} eta c(t) d(t) dt, c = exp(-5.1/20) exp(-(t - 15.1)/tau_c),
    d = 0.5 exp(-(t - t_rew)/tau_d)."""
    c0 = np.exp(-5.1 / 20.0)
    tp = 1 / (1 / tau_c + 1 / tau_d)
    return eta * c0 * np.exp(-(t_rew - 15.1) / tau_c) * 0.5 * tp * (1 - np.exp(-(T - t_rew) / tp))


@pytest.mark.slow  # seconds of network time, twice
def test_records_of_a_modulated_weight_follow_its_closed_form_and_leave_the_run_alone():
    out_plain = ns.simulate(_da_pair(False), [{}]).outputs
    rec = _da_pair(True)
    b = batch_for(rec, conn_seed=0)
    res = b.run_chunk(rec.spec.params_array([{}]), row_keys(0, np.arange(1)),
                      SimSettings.for_model(rec.spec), "cpu", Recording())
    assert np.array_equal(res.outputs, out_plain)  # a record does not change the run
    t = res.record_times_ms
    np.testing.assert_allclose(t, np.arange(1, 16) * 100.0)
    w = res.records["w"][0]
    after = t > 500.0  # the reward acts in the step at 500 ms
    np.testing.assert_allclose(w[after], [_closed_form(500.0, x) for x in t[after]], rtol=1e-6)
    assert np.all(w[~after] == 0.0)
    assert w[-1] == pytest.approx(res.outputs[0, 0], rel=1e-12)


# --------------------------------------------------------------------------- refusals
def test_the_torch_back_end_refuses_the_new_elements_by_name():
    pytest.importorskip("torch")
    from neuroscape.sim.network_torch import run_chunk_torch

    for net, what in ((_delay_net("spike"), "delay_draw: spike"), (_weights_net(), "bounds"),
                      (_da_pair(True), "records")):
        b = batch_for(net, conn_seed=0)
        with pytest.raises(SettingsError, match=f"{what} is not available on the torch back "
                                                "end yet; allowed: device 'cpu'") as exc:
            run_chunk_torch(b, net.spec.params_array([{}]), row_keys(0, [0]),
                            _settings(net, 40.0), "torch-cpu", Recording())
        assert "\n" not in str(exc.value)


def test_records_every_must_be_whole_steps():
    net = _weights_net(records=True)
    with pytest.raises(SettingsError, match="records every 10 ms is not a whole number of "
                                            "steps of 0.3 ms"):
        ns.simulate(net, [{}], dt_ms=0.3, duration_ms=39.9)


def test_run_time_refusals_are_one_line():
    # a synapse beyond the graph, bounds that cross for a row, a delay that can be negative
    d = _weights_desc_minus()
    d["outputs"] = {"w9": {"weights": "P.w[1]"}}  # P has one synapse (1 x 1)
    with pytest.raises(NetworkError, match=r"output w9: synapse P\[1\] does not exist \(P has 1 "
                                           r"synapses\); allowed: 0..0") as exc:
        ns.simulate(network_model(d), [{}])
    assert "\n" not in str(exc.value)
    d = _weights_desc_minus()
    d["parameters"] = {"hi": {"default": "5 mV", "low": "-5 mV", "high": "10 mV"}}
    d["projections"]["P"]["bounds"] = {"w": ["0 mV", "hi"]}
    with pytest.raises(SettingsError, match=r"bounds of w: low 0 mV > high -1 mV \(row 1\); "
                                            "allowed: low <= high"):
        ns.simulate(network_model(d), [{}, {"hi": -1.0}])
    d = _weights_desc_minus()
    d["projections"]["P"].update(model=None, initial=None, bounds=None, on_pre="v_post += 1*mV",
                                 delay="-1*ms + 2*ms*rand()", delay_draw="spike")
    d["projections"]["P"] = {k: v for k, v in d["projections"]["P"].items() if v is not None}
    d["outputs"] = {"n": {"count": "post"}}
    with pytest.raises(NetworkError, match="a drawn delay can be negative"):
        ns.simulate(network_model(d), [{}])
