"""Per-edge values of an explicit edge list (``connect: {pairs: ..., values: ...}``): each
synapse's initial weight and delay read from arrays given in the pairs' own order (SONATA's
per-edge syn_weight and delay), against the closed form of an integrator that sums its inputs."""

import numpy as np
import pytest

from neuroscape.core.connectivity import ConnectivityError, Graph
from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.network import NetworkError, network_model
from neuroscape.sim.engine import batch_for

# a perfect integrator that never fires: v is the sum of the weights that have arrived
ACC = {"name": "acc", "equations": "dv/dt = I/(1*ms) : mV", "current": {"name": "I", "unit": "mV"},
       "threshold": "v > 1000*mV", "reset": "v = 0*mV", "spike_timing": "grid",
       "initial": {"v": "0 mV"}}
SPIKE_MS = (10.0, 20.0, 30.0)  # source k fires once, at SPIKE_MS[k]
# the pairs in an order of their own (not the graph's canonical one)
PRE = [2, 0, 1, 0, 2]
POST = [1, 0, 1, 1, 0]
W_MV = [0.7, 0.11, 0.23, 0.5, 1.3]
D_MS = [1.0, 2.5, 0.3, 4.0, 7.2]
DT = 0.1  # ms


def _desc(**proj):
    return {
        "name": "edge_values",
        "populations": {
            "gen": {"kind": "spikes", "size": 3,
                    "spikes": [[f"{t} ms", k] for k, t in enumerate(SPIKE_MS)]},
            "post": {"size": 2, "model": ACC}},
        "projections": {"P": {
            "pre": "gen", "post": "post",
            "connect": {"pairs": [PRE, POST],
                        "values": {"weight": {"values": W_MV, "unit": "mV"},
                                   "lag": {"values": D_MS, "unit": "ms"}}},
            "model": "w : mV", "initial": {"w": "weight"}, "delay": "lag",
            "on_pre": "v_post += w", **proj}},
        "outputs": {f"w{k}": {"weights": f"P.w[{k}]"} for k in range(len(PRE))},
        "settings": {"duration": "50 ms", "dt": f"{DT} ms", "window": "50 ms"}}


def _run(net, device="cpu"):
    b = batch_for(net, conn_seed=0)
    s = SimSettings.for_model(net.spec, duration_ms=50.0, window_ms=50.0)
    return b.run_chunk(net.spec.params_array([{}]), row_keys(0, np.arange(1)), s, device,
                       Recording(v_neurons=(3, 4)))


def test_weights_and_delays_per_edge_against_the_closed_form():
    res = _run(network_model(_desc()))
    # the weights, in the graph's canonical order (by pre, then post)
    order = np.lexsort((POST, PRE))
    np.testing.assert_allclose(res.outputs[0], np.asarray(W_MV)[order], rtol=0, atol=1e-12)
    # each post neuron's v: the sum of the weights whose spike + delay has arrived; sampled
    # away (> 1.5 steps) from every arrival, so the step convention of the trace does not matter
    t = (np.arange(res.voltages.shape[2]) + 1) * DT
    arrivals = [(POST[k], SPIKE_MS[PRE[k]] + D_MS[k], W_MV[k]) for k in range(len(PRE))]
    for n in (0, 1):
        want = sum(w * (t >= ta) for post, ta, w in arrivals if post == n)
        far = np.all([np.abs(t - ta) > 1.5 * DT for _, ta, _ in arrivals], axis=0)
        # float32 state (the engine's default for this network): within a few ulps of 1 mV
        np.testing.assert_allclose(res.voltages[0, n][far], want[far], rtol=0, atol=1e-6)
        assert want[-1] > 0


def test_torch_back_end_reads_the_same_edge_values():
    d = _desc()  # single-synapse outputs are CPU-only: the mean weight instead
    d["outputs"] = {"w_mean": {"weights": "P.w", "stat": "mean"}}
    net = network_model(d)
    a, b = _run(net), _run(net, "torch-cpu")
    np.testing.assert_allclose(b.outputs, a.outputs, rtol=0, atol=1e-12)
    assert a.outputs[0, 0] == pytest.approx(np.mean(W_MV))
    np.testing.assert_allclose(b.voltages, a.voltages, rtol=0, atol=1e-6)


def test_values_of_the_wrong_length_are_refused_in_one_line():
    d = _desc()
    d["projections"]["P"]["connect"]["values"]["weight"]["values"] = W_MV[:-1]
    with pytest.raises(NetworkError) as info:
        network_model(d)
    msg = str(info.value)
    assert "\n" not in msg and "weight" in msg and "5 finite numbers" in msg, msg


def test_a_delay_drawn_per_spike_cannot_read_edge_values():
    with pytest.raises(NetworkError, match="per-edge values"):
        network_model(_desc(delay_draw="spike"))


def test_a_graph_with_other_pairs_is_refused():
    net = network_model(_desc())
    other = Graph({"gen": 3, "post": 2}, {"P": np.array([[0, 1], [0, 0]])},
                  {"P": ("gen", "post")})
    with pytest.raises(ConnectivityError, match="per-edge values"):
        batch_for(net, connectivity=other)
