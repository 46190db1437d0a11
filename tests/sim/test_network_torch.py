"""The torch back end of the network engine (device "torch-cpu", float64) against the numba
kernel on the same rows, keys and graph: the cortical circuit (midpoint), a CUBA network (exact
integration) and a COBA network with Tsodyks-Markram synapses (exponential Euler, synaptic
state per synapse, event-driven in closed form).

Tolerance. Both back ends draw the same random words (integer comparisons for the Poisson
drive, the same 53-bit uniforms per delivery) and add a step's synaptic effects in the same
order, so their states differ only where the arithmetic differs: nowhere for the circuit (its
step is polynomial: the same operations in the same order, bit for bit), and by the last bit
of exp/expm1 (torch's against libm's) or of the exact step's affine map (summed in another
order) elsewhere: about 1e-16 relative. A spike train changes only if such a difference puts a
neuron on the other side of its threshold in some step. With the membrane moving by about
1e-4 of its range per step near threshold, that takes a state within ~1e-12 of the
threshold: about 1e-12 per threshold crossing, below 1e-8 for the few thousand crossings here.
So the spike trains must be identical, spike for spike, and the rates (counts over a window)
equal; synaptic state read out at the end agrees to 1e-12 relative.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

import neuroscape.models.network as network_pkg
from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SettingsError, SimSettings
from neuroscape.models.network import network, network_model
from neuroscape.sim.network_engine import NetworkBatch

torch = pytest.importorskip("torch")
from neuroscape.sim.network_torch import run_chunk_torch  # noqa: E402

LIB = Path(network_pkg.__file__).parent / "library"


def _rows(net, fractions):
    """The defaults, then rows at the given fractions of each parameter's [low, high]."""
    ps = net.spec.parameters
    lo, hi = np.array([p.low for p in ps]), np.array([p.high for p in ps])
    rows = [[p.default for p in ps]] + [lo + f * (hi - lo) for f in fractions]
    return np.array(rows, dtype=float)


def _run_both(batch, params, settings, recording, seed=7):
    keys = row_keys(seed, np.arange(len(params)))
    a = batch.run_chunk(params, keys, settings, "cpu", recording)
    b = run_chunk_torch(batch, params, keys, settings, "torch-cpu", recording)
    return a, b, keys


def _same_spikes(a, b):
    for r, ((ta, ia), (tb, ib)) in enumerate(zip(a.spikes, b.spikes, strict=True)):
        assert len(ta) == len(tb), f"row {r}: {len(ta)} spikes (numba) vs {len(tb)} (torch)"
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ia, ib)


def _library(name, sizes, p):
    """A shipped network file with other population sizes and connection probabilities."""
    d = yaml.safe_load((LIB / f"{name}.yaml").read_text())
    for pop, n in sizes.items():
        d["populations"][pop] = {**d["populations"][pop], "size": n}
    for proj, prob in p.items():
        j = d["projections"][proj]
        d["projections"][proj] = {**j, "connect": {**j["connect"], "p": prob}}
    return d


@pytest.fixture(scope="module")
def cuba():
    d = _library("cuba", {"E": 400, "I": 100},
                 dict.fromkeys(("E_to_E", "E_to_I", "I_to_E", "I_to_I"), 0.16))
    net = network_model(d, folder=LIB)
    batch = NetworkBatch(net, conn_seed=3)
    params = _rows(net, [0.7])  # stronger excitation, weaker inhibition, a higher leak target
    settings = SimSettings(200.0, 0.1, 100.0, "auto")
    rec = Recording(spikes=True, v_neurons=(0, 450))
    a, b, keys = _run_both(batch, params, settings, rec)
    return batch, params, settings, rec, keys, a, b


def test_cortical_circuit_spike_for_spike_and_bit_for_bit():
    # the torch back end computes in float64; the circuit declares float32 for the numba engine,
    # so the bit-for-bit comparison runs numba at float64 too
    net = dataclasses.replace(network("cortical"), precision="float64")
    batch = NetworkBatch(net, conn_seed=0)
    params = _rows(net, [0.2, 0.8])
    rec = Recording(spikes=True, v_neurons=(0, 100, 230))
    a, b, _ = _run_both(batch, params, SimSettings(200.0, 0.1, 100.0, "auto"), rec)
    assert all(len(t) > 50 for t, _ in a.spikes)  # every row is active
    _same_spikes(a, b)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    # the midpoint step of a polynomial right-hand side: the same operations, bit for bit
    np.testing.assert_array_equal(a.voltages, b.voltages)
    assert a.ok.all() and b.ok.all()


def test_cuba_exact_integration_spike_for_spike(cuba):
    *_, a, b = cuba
    assert all(len(t) > 100 for t, _ in a.spikes)
    _same_spikes(a, b)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    # the exact step as an affine map: V (volt) within one float32 step of the recording
    va, vb = a.voltages.astype(float), b.voltages.astype(float)
    assert np.all(np.abs(va - vb) <= np.spacing(np.abs(a.voltages)).astype(float))


def test_matrix_propagation_gives_the_same_spikes(cuba):
    # ge += w_e as spike counts times the count matrix (a GPU's default), on the CPU
    batch, params, settings, rec, keys, a, _ = cuba
    m = run_chunk_torch(batch, params, keys, settings, "torch-cpu", rec, propagation="matrix")
    _same_spikes(a, m)
    np.testing.assert_array_equal(a.outputs, m.outputs)


def test_tsodyks_markram_network_spike_for_spike_and_synaptic_state():
    d = _library("coba_stp", {"E": 400, "I": 100},
                 {"E_to_E": 0.4, "E_to_I": 0.4, "I_to_E": 0.8, "I_to_I": 0.8})
    # the synaptic state at the end of the run, as outputs
    d["outputs"] = {"r_E": {"rate": "E"}, "r_I": {"rate": "I"},
                    "x_EE": {"weights": "E_to_E.x_S", "stat": "mean"},
                    "u_IE": {"weights": "I_to_E.u_S", "stat": "std"},
                    "x_low": {"weights": "E_to_I.x_S", "stat": "fraction_below",
                              "value": "0.9"}}
    net = network_model(d, folder=LIB)
    batch = NetworkBatch(net, conn_seed=1)
    params = _rows(net, [0.5])
    # exponential Euler (the file's own scheme is forward Euler): torch's expm1 against libm's
    a, b, _ = _run_both(batch, params, SimSettings(200.0, 0.1, 100.0, "exponential_euler"),
                        Recording(spikes=True))
    assert all(len(t) > 100 for t, _ in a.spikes)
    _same_spikes(a, b)
    np.testing.assert_array_equal(a.outputs[:, [0, 1, 4]], b.outputs[:, [0, 1, 4]])
    assert np.all(a.outputs[:, 2] < 0.999)  # the synapses did depress
    np.testing.assert_allclose(b.outputs[:, 2:4], a.outputs[:, 2:4], rtol=1e-12, atol=0)


def _features():
    """One network that uses every element of the description the engine runs: Poisson sources,
    spike generators (neurons in consecutive steps), per-synapse rand() delays and randn(), a
    delay per projection on a plastic pathway and one per row (a parameter), rand() and randn()
    in on_pre and on_post of plastic synapses (their own counters per pathway), on_post reading
    the postsynaptic v after the inputs kicked (Brian2's order), on_post writing the
    presynaptic state, a modulated event-driven weight, Poisson inputs sharing words (three
    onto A: low and high halves; one in a time window), a refractory period under which
    synapses and inputs write to v (Brian2's conditional write puts the held v back), windowed
    rates, CV, Fano factor and synchrony (bins that leave a partial last bin out), weight
    statistics."""
    cell = {"name": "pas2", "equations": "dv/dt = (-v + I)/(10*ms) : volt (unless refractory)\n"
            "dg/dt = -g/(5*ms) : volt", "current": {"name": "I", "unit": "mV"},
            "threshold": "v > 10*mV", "reset": "v = 0*mV", "refractory": "2 ms",
            "initial": {"v": "0 mV", "g": "0 mV"}, "spike_timing": "grid",
            "settings": {"integrator": "rk4"}}
    gen = [["5 ms", 0], ["5.1 ms", 0], ["5 ms", 2], ["20 ms", 1], ["40 ms", 2], ["41 ms", 0]]
    return network_model({
        "name": "features",
        "parameters": {"w": {"default": "2 mV", "low": "1 mV", "high": "3 mV"},
                       "dl": {"default": "1.2 ms", "low": "0.5 ms", "high": "3 ms"}},
        "populations": {
            "src": {"kind": "poisson", "size": 50, "rate": "40 Hz"},
            "gen": {"kind": "spikes", "size": 3, "spikes": gen},
            "A": {"size": 60, "model": cell, "initial": {"v": "rand()*10*mV"}},
            "Bp": {"size": 40, "model": cell, "initial": {"v": "rand()*10*mV"}}},
        "modulators": {"DA": {"tau": "50 ms", "source": "gen", "on_spike": "DA += 0.3"}},
        "projections": {
            "src_to_A": {"pre": "src", "post": "A", "connect": {"p": 0.3},
                         "on_pre": "v += w*(0.5 + randn()*0.1)", "delay": "rand()*2*ms"},
            "gen_to_A": {"pre": "gen", "post": "A", "connect": "all_to_all",
                         "model": "x : 1\ndu/dt = -u/(30*ms) : 1 (event-driven)\n"
                                  "dm/dt = u*(0.1 + 2*DA)/(100*ms) : 1 (event-driven)",
                         "initial": {"x": "rand()"},
                         "on_pre": "u += 0.5\nx = x*0.9 + u*(1 + 0.1*randn())\ng += x*mV\n"
                                   "m += 0.01",
                         "on_post": "x -= 0.001*rand()*v_post/mV", "delay": "2 ms"},
            "A_to_Bp": {"pre": "A", "post": "Bp", "connect": {"p": 0.2},
                        "on_pre": "g += w\ng -= 0.1*w", "delay": "dl"},
            "Bp_to_A": {"pre": "Bp", "post": "A", "connect": {"p": 0.2}, "model": "z : 1",
                        "on_pre": "z += 1\ng_post += -0.5*w*z",
                        "on_post": "v_pre += -0.2*mV*rand()\nz -= 0.5*rand() + 0.1*randn()",
                        "delay": "dl"}},
        "inputs": {"i1": {"target": "A", "rate": "100 Hz", "n": 3, "on_spike": "v += 1*mV"},
                   "i2": {"target": "A", "rate": "200 Hz", "on_spike": "g += 0.5*mV",
                          "start": "50 ms", "stop": "250 ms"},
                   "i3": {"target": "A", "rate": "50 Hz", "n": 10, "on_spike": "v += 0.3*mV"},
                   "i4": {"target": "Bp", "rate": "300 Hz", "on_spike": "v += 1.5*mV"}},
        "outputs": {"r_A": {"rate": "A"}, "r_B": {"rate": "Bp", "start": "10 ms", "stop": "150 ms"},
                    "cv_A": {"cv": "A"}, "ff": {"fano": "A", "bin": "30 ms"},
                    "sy": {"sync": "Bp", "bin": "3 ms"},
                    "xs": {"weights": "gen_to_A.x", "stat": "std"},
                    "xf": {"weights": "gen_to_A.x", "stat": "fraction_above", "value": "0.5"},
                    "zm": {"weights": "Bp_to_A.z", "stat": "mean"},
                    "mm": {"weights": "gen_to_A.m", "stat": "mean"}},
        "settings": {"duration": "300 ms", "dt": "0.1 ms", "window": "200 ms"}})


@pytest.mark.slow  # two more numba kernels to compile (about 30 s on a busy machine)
def test_every_description_element_and_song2000_spike_for_spike():
    net = _features()
    batch = NetworkBatch(net, conn_seed=2)
    params = _rows(net, [0.3, 0.9])
    rec = Recording(spikes=True, v_neurons=(110, 120, 150))
    a, b, _ = _run_both(batch, params, SimSettings(300.0, 0.1, 200.0, "auto"), rec)
    assert all(len(t) > 500 for t, _ in a.spikes)
    _same_spikes(a, b)
    np.testing.assert_allclose(b.outputs, a.outputs, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(a.voltages, b.voltages)
    # STDP onto one neuron from 1000 Poisson inputs (exact integration, on_post, clipping); 1 s
    # (was 3 s, 30,000 steps of torch's Python loop): 88 and 1400 Hz out over the 0.5 s window
    # (measured) from 15,000 and 20,500 presynaptic spikes, each a clipped weight update
    song = NetworkBatch(network("song2000"), conn_seed=0)
    a, b, _ = _run_both(song, _rows(song.model, [0.5]), SimSettings(1000.0, 0.1, 500.0,
                                                                    "auto"), Recording())
    assert np.all(a.outputs[:, 0] > 5)  # Hz: the post neuron fires through the window
    np.testing.assert_array_equal(a.outputs[:, [0, 2, 3]], b.outputs[:, [0, 2, 3]])
    np.testing.assert_allclose(b.outputs[:, 1], a.outputs[:, 1], rtol=1e-12, atol=0)


CELL = {"name": "pas", "equations": "dv/dt = (-v + I)/(10*ms) : volt",
        "current": {"name": "I", "unit": "mV"}, "threshold": "v > 10*mV",
        "reset": "v = 0*mV", "initial": {"v": "0 mV"}, "spike_timing": "grid"}


def test_several_constant_adds_onto_one_state_in_the_numba_order():
    # on_pre of row constants: the numba kernel adds statement by statement over all synapses
    # (add_spikes), not synapse by synapse. With +X and -X of 1e9 V onto v of a few mV, v
    # keeps only the bits above the ulp of X (interleaved) or of 2X (statement by statement):
    # different voltages, visible in the float32 recording.
    gen = [[f"{t} ms", i] for t in (1, 2, 3, 4, 6) for i in (0, 1)]
    net = network_model({
        "name": "adds",
        "populations": {"gen": {"kind": "spikes", "size": 2, "spikes": gen},
                        "A": {"size": 3, "model": CELL, "initial": {"v": "rand()*5*mV"}}},
        "projections": {"gen_to_A": {"pre": "gen", "post": "A", "connect": "all_to_all",
                                     "on_pre": "v_post += 1e12*mV\nv_post -= 1e12*mV",
                                     "delay": "0.5 ms"}},
        "settings": {"duration": "10 ms", "dt": "0.1 ms", "window": "5 ms"}})
    a, b, _ = _run_both(NetworkBatch(net), np.zeros((2, 0)), SimSettings(10.0, 0.1, 5.0, "auto"),
                        Recording(v_neurons=(2, 3, 4)))
    np.testing.assert_array_equal(a.voltages, b.voltages)


def _tiny(on_pre):
    return NetworkBatch(network_model({
        "name": "tiny", "populations": {"A": {"size": 5, "model": CELL}},
        "projections": {"A_to_A": {"pre": "A", "post": "A", "connect": "all_to_all",
                                   "on_pre": on_pre}},
        "settings": {"duration": "10 ms", "dt": "0.1 ms", "window": "5 ms"}}))


@pytest.mark.parametrize(("on_pre", "what"), [
    ("v_post += 0.1*v_post", "reads v of A, which it also changes"),
    ("v_post = 1*mV", "sets v of A with '='"),
])
def test_blocks_that_need_synapse_order_are_refused_in_one_line(on_pre, what):
    with pytest.raises(SettingsError, match=what) as exc:
        run_chunk_torch(_tiny(on_pre), np.zeros((1, 0)), row_keys(0, [0]),
                        SimSettings(10.0, 0.1, 5.0, "auto"), "torch-cpu", Recording())
    assert "\n" not in str(exc.value) and "device='cpu'" in str(exc.value)


def _small(**extra):
    """A spike generator onto five cells, with the given extra description keys."""
    d = {"name": "small",
         "populations": {"gen": {"kind": "spikes", "size": 2, "spikes": [["1 ms", 0]]},
                         "A": {"size": 5, "model": CELL}},
         "projections": {"gen_to_A": {"pre": "gen", "post": "A", "connect": "all_to_all",
                                      "on_pre": "v_post += 1*mV"}},
         "settings": {"duration": "10 ms", "dt": "0.1 ms", "window": "5 ms"}}
    for k, v in extra.items():
        d[k] = {**d.get(k, {}), **v}
    return NetworkBatch(network_model(d))


@pytest.mark.parametrize(("extra", "rec", "err", "what"), [
    ({"populations": {"gen": {"kind": "spikes", "size": 2,
                              "spikes": [["1 ms", 1], ["1.05 ms", 1]]}}},
     Recording(), SettingsError, "neuron 1 spikes twice in one step of 0.1 ms; allowed: at most"),
    ({"projections": {"gen_to_A": {"pre": "gen", "post": "A", "connect": "all_to_all",
                                   "model": "z : 1", "on_pre": "z += 1\nv_post += 1*mV",
                                   "delay": "rand()*2*ms"}}},
     Recording(), ValueError, "delays drawn per synapse .* plastic synapses"),
    ({}, Recording(v_neurons=(3, 1)), ValueError,
     "recorded neuron 1 is in gen, a spikes source without a membrane potential"),
    ({"inputs": {"i1": {"target": "A", "rate": "100 Hz", "on_spike": "v += 1*mV",
                        "start": "5 ms", "stop": "2 ms"}}},
     Recording(), SettingsError, r"input i1: window \[5, 2\) ms; allowed: 0 <= start < stop"),
    ({"outputs": {"ff": {"fano": "A", "bin": "3 ms"}}},
     Recording(), SettingsError, "holds 1 bin of 3 ms; allowed: a window of at least 2 bins"),
])
def test_what_the_numba_engine_refuses_is_refused_in_one_line(extra, rec, err, what):
    # the numba engine's refusals before its kernel runs, on the torch path (which does not
    # go through NetworkBatch.run_chunk's checks)
    with pytest.raises(err, match=what) as exc:
        run_chunk_torch(_small(**extra), np.zeros((1, 0)), row_keys(0, [0]),
                        SimSettings(10.0, 0.1, 5.0, "auto"), "torch-cpu", rec)
    assert "\n" not in str(exc.value)


def test_bad_device_and_propagation_are_refused_in_one_line():
    batch = _tiny("v_post += 1*mV")
    args = (np.zeros((1, 0)), row_keys(0, [0]), SimSettings(10.0, 0.1, 5.0, "auto"))
    with pytest.raises(SettingsError, match="unknown device 'gpu'"):
        run_chunk_torch(batch, *args, "gpu", Recording())
    with pytest.raises(SettingsError, match="propagation='dense'; allowed: auto, events"):
        run_chunk_torch(batch, *args, "torch-cpu", Recording(), propagation="dense")
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="0 CUDA GPU"):
            run_chunk_torch(batch, *args, "cuda", Recording())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("propagation", ["events", "auto"])
def test_cuda_matches_numba_on_the_circuit(propagation):
    net = network("cortical")
    batch = NetworkBatch(net, conn_seed=0)
    params = _rows(net, [0.2, 0.8])
    keys = row_keys(7, np.arange(len(params)))
    settings, rec = SimSettings(200.0, 0.1, 100.0, "auto"), Recording(spikes=True)
    a = batch.run_chunk(params, keys, settings, "cpu", rec)
    g = run_chunk_torch(batch, params, keys, settings, "cuda", rec, propagation=propagation)
    _same_spikes(a, g)
    np.testing.assert_array_equal(a.outputs, g.outputs)
