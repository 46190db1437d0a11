"""The fused numba.cuda network kernel (``network_cuda``, issue 19) against the CPU kernel: the
same rows and keys give identical spike trains (steps and neuron indices: the counter-based
generator is integer-exact) and states, outputs and records equal to rounding.

The CUDA kernel runs in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, which must be set before
numba.cuda is imported: a subprocess runs this file as a script), so these tests need no GPU and
run in CI. Networks are small and short (the simulator runs each thread's Python): the cortical
circuit (float32, dense projections, Poisson inputs) for 30 steps, and a float64 network with
every description element the generator writes for (spike and Poisson sources, constant,
per-row, per-synapse and per-spike delays, Tsodyks-Markram release, pair STDP with bounds, a
reward-modulated rule, Poisson inputs with a time window, every output kind, records) for 50
steps. ``test_kernel_compiles_to_ptx`` compiles both kernels for a GPU with NVVM (skipped
without a CUDA toolkit); ``test_on_a_gpu`` runs only where numba.cuda finds a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DT = 0.1  # ms
ROWS = 2

CELL = {"name": "lif_hold", "equations": "dv/dt = (I - v)/(10*ms) : mV (unless refractory)\n",
        "current": {"name": "I", "unit": "mV"}, "threshold": "v > 4*mV", "reset": "v = 0*mV",
        "refractory": "0.5 ms", "spike_timing": "grid", "initial": {"v": "0 mV"}}
STDP = ("w : 1\ndApre/dt = -Apre/(2*ms) : 1 (event-driven)\n"
        "dApost/dt = -Apost/(2*ms) : 1 (event-driven)")


def features_net():
    """Every element the kernel generator writes for, in a network small enough for the
    simulator (64 neurons, 50 steps of 0.1 ms)."""
    from neuroscape.models.network import network_model

    return network_model({
        "name": "cuda_features",
        "parameters": {
            "F": {"default": "1000 Hz", "low": "10 Hz", "high": "2000 Hz"},
            "nu": {"default": "1000 Hz", "low": "10 Hz", "high": "2000 Hz"},
            "J": {"default": "0.5 mV", "low": "0 mV", "high": "2 mV"},
            "d_par": {"default": "0.3 ms", "low": "0 ms", "high": "1 ms"},
            "eta": {"default": "0.5 1/ms", "low": "0 1/ms", "high": "1 1/ms"},
        },
        "populations": {
            "gen": {"kind": "spikes", "size": 3, "spikes": [
                ["0.5 ms", 0], ["1 ms", 1], ["1.5 ms", 2], ["2 ms", 0], ["3 ms", 1]]},
            "reward": {"kind": "spikes", "size": 1, "spikes": [["2.5 ms", 0]]},
            "src": {"kind": "poisson", "size": 30, "rate": "F"},
            "a": {"size": 20, "model": CELL, "integrator": "exponential_euler",
                  "initial": {"v": "rand()*4*mV"}},
            "b": {"size": 10, "model": CELL, "integrator": "rk4",
                  "initial": {"v": "rand()*4*mV"}},
        },
        "modulators": {"DA": {"tau": "5 ms", "source": "reward", "on_spike": "DA += 0.5"}},
        "projections": {
            "gen_to_a": {"pre": "gen", "post": "a", "connect": "all_to_all",
                         "on_pre": "v_post += 3*mV", "delay": "0.3 ms"},
            "src_to_a": {"pre": "src", "post": "a", "connect": {"p": 0.3},
                         "model": "w : 1", "initial": {"w": "rand()"},
                         "on_pre": "v_post += w*rand()*1.5*mV", "delay": "rand()*1*ms"},
            "src_to_b": {"pre": "src", "post": "b", "connect": {"p": 0.2},
                         "on_pre": "v_post += J", "delay": "d_par"},
            "a_to_b": {"pre": "a", "post": "b", "connect": {"p": 0.5}, "model": STDP,
                       "initial": {"w": "rand()"}, "bounds": {"w": [0, 1]},
                       "on_pre": "v_post += w*mV\nApre += 0.1\nw = w + Apost",
                       "on_post": "Apost += -0.12\nw = w + Apre"},
            "a_to_a": {"pre": "a", "post": "a", "connect": {"p": 0.2},  # Tsodyks-Markram
                       "model": "du_S/dt = -u_S/(3*ms) : 1 (event-driven)\n"
                                "dx_S/dt = (1 - x_S)/(5*ms) : 1 (event-driven)",
                       "initial": {"x_S": 1},
                       "on_pre": "u_S += 0.3*(1 - u_S)\nr_S = u_S*x_S\nx_S -= r_S\n"
                                 "v_post += 2*r_S*mV"},
            "b_to_a": {"pre": "b", "post": "a", "connect": "all_to_all",
                       "on_pre": "v_post -= 0.5*mV", "delay": "0.2*ms + rand()*0.5*ms",
                       "delay_draw": "spike"},
            "gen_to_b": {"pre": "gen", "post": "b", "connect": "all_to_all",
                         "model": STDP + "\ndc/dt = -c/(20*ms) : 1 (event-driven)\n"
                                         "dw/dt = eta*c*DA : 1 (event-driven)",
                         "on_pre": "v_post += 2*mV\nApre += 1.0\nc += Apost",
                         "on_post": "Apost += -1.5\nc += Apre"},
        },
        # drive: about 10 kicks per step, so the rare-count pass (poisson_from_table) runs too
        "inputs": {"drive": {"target": "a", "rate": "nu", "n": 100, "on_spike": "v += 0.05*mV"},
                   "late": {"target": "b", "rate": "nu", "n": 20, "on_spike": "v += 0.2*mV",
                            "start": "1 ms", "stop": "4 ms"}},
        "outputs": {
            "r_a": {"rate": "a"},
            "n_b": {"count": "b", "start": "1 ms"},
            "r_ab": {"rate": ["a", "b"]},
            "cv_a": {"cv": "a"},
            "fano_a": {"fano": "a", "bin": "0.5 ms"},
            "sync_b": {"sync": "b", "bin": "0.5 ms"},
            "w_sa": {"weights": "src_to_a.w", "stat": "mean"},
            "w_ab0": {"weights": "a_to_b.w[0]"},
            "w_pool": {"weights": ["a_to_b.w", "gen_to_b.w"], "stat": "mean",
                       "exclude": ["a_to_b[1]"]},
            "w_hi": {"weights": "a_to_b.w", "stat": "fraction_above", "value": "0.5"},
            "w_da": {"weights": "gen_to_b.w", "stat": "std"},
        },
        "records": {"every": "1 ms", "outputs": ["w_pool", "w_da"]},
        "settings": {"duration": "5 ms", "dt": f"{DT} ms", "window": "4 ms"},
    })


def _cases():
    """name -> (model, params (B, n), settings, recording) of each compared network."""
    from neuroscape.core.settings import Recording, SimSettings
    from neuroscape.models import resolve

    cort = resolve("cortical")
    pc = cort.spec.params_array([{}, {}])
    pc[1] *= 1.1  # another parameter set in the second row
    sc = SimSettings.for_model(cort.spec, duration_ms=3.0, window_ms=1.5)  # 30 steps
    feat = features_net()
    pf = feat.spec.params_array([{}, {"F": 1500.0, "J": 1.0, "d_par": 0.0, "eta": 0.2}])
    return {
        "cortical": (cort, pc, sc, Recording(spikes=True, v_neurons=(0, 7, 230, 299))),
        "features": (feat, pf, SimSettings.for_model(feat.spec),
                     Recording(spikes=True, v_neurons=(34, 40, 54, 63))),
    }


def _child(out: str) -> None:
    """In the simulator: every case on the CPU kernel and on the CUDA kernel (direct and
    through run_batch with device='cuda'), and the routing, saved to ``out`` (.npz + .json)."""
    import warnings

    from neuroscape.core.rng import row_keys
    from neuroscape.sim import network_cuda
    from neuroscape.sim.engine import batch_for, run_batch

    assert network_cuda.simulator()
    arrays, meta = {}, {"routes": {d: network_cuda.routes(d)
                                   for d in ("cuda", "cuda:0", "torch-cpu", "cpu")}}
    for name, (model, params, settings, rec) in _cases().items():
        b = batch_for(model)
        keys = row_keys(11, np.arange(ROWS))
        for dev in ("cpu", "cuda"):
            r = b.run_chunk(params, keys, settings, dev, rec)
            arrays[f"{name}/{dev}/outputs"] = r.outputs
            arrays[f"{name}/{dev}/ok"] = r.ok
            arrays[f"{name}/{dev}/v"] = r.voltages
            for row, (t, i) in enumerate(r.spikes):
                arrays[f"{name}/{dev}/steps{row}"] = np.round(t / settings.dt_ms).astype(int)
                arrays[f"{name}/{dev}/idx{row}"] = i
            for k, v in getattr(r, "records", {}).items():
                arrays[f"{name}/{dev}/rec_{k}"] = v
        if name == "features":  # the whole path: run_batch's chunks and SimulationResult
            # check_device takes "cuda" where numba.cuda runs (its simulator is on here)
            for dev in ("cpu", "cuda"):
                res = run_batch(model, params, seed=11, settings=settings, device=dev)
                arrays[f"{name}/{dev}/run_batch"] = res.outputs
    # a description the fused kernel does not take: a warning naming why, then torch
    model, params, settings, rec = _cases()["features"]
    b = batch_for(model)
    saved = network_cuda.unsupported
    network_cuda.unsupported = lambda batch, st: "a reason under test"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                b.run_chunk(params, row_keys(0, np.arange(ROWS)), settings, "cuda", rec)
                meta["fallback_error"] = None
            except Exception as exc:  # noqa: BLE001 - torch without a GPU refuses "cuda"
                meta["fallback_error"] = type(exc).__name__
        meta["fallback_warnings"] = [(w.category.__name__, str(w.message)) for w in caught]
    finally:
        network_cuda.unsupported = saved
    np.savez(out + ".npz", **{k: v for k, v in arrays.items() if v is not None})
    Path(out + ".json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cudasim") / "res")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    p = subprocess.run([sys.executable, __file__, out], env=env, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr[-4000:]
    data = dict(np.load(out + ".npz"))
    return data, json.loads(Path(out + ".json").read_text())


@pytest.mark.slow  # the CUDA simulator runs both networks' kernels in Python: a minute
@pytest.mark.parametrize("name", ["cortical", "features"])
def test_spike_trains_are_identical(sim, name):
    d, _ = sim
    n_spikes = 0
    for row in range(ROWS):
        cpu_s, gpu_s = d[f"{name}/cpu/steps{row}"], d[f"{name}/cuda/steps{row}"]
        assert np.array_equal(cpu_s, gpu_s), (name, row)
        assert np.array_equal(d[f"{name}/cpu/idx{row}"], d[f"{name}/cuda/idx{row}"]), (name, row)
        n_spikes += cpu_s.size
    assert n_spikes > 40  # the comparison has spikes to compare


@pytest.mark.slow  # the CUDA simulator runs both networks' kernels in Python: a minute
@pytest.mark.parametrize("name", ["cortical", "features"])
def test_states_outputs_and_records_agree(sim, name):
    d, _ = sim
    assert d[f"{name}/cpu/ok"].all() and d[f"{name}/cuda/ok"].all()
    np.testing.assert_allclose(d[f"{name}/cuda/v"], d[f"{name}/cpu/v"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d[f"{name}/cuda/outputs"], d[f"{name}/cpu/outputs"],
                               rtol=1e-9, atol=1e-12)
    recs = [k for k in d if k.startswith(f"{name}/cpu/rec_")]
    assert (name == "features") == bool(recs)
    for k in recs:
        assert np.isfinite(d[k]).all()
        np.testing.assert_allclose(d[k.replace("/cpu/", "/cuda/")], d[k], rtol=1e-9, atol=1e-12)


@pytest.mark.slow  # the CUDA simulator runs both networks' kernels in Python: a minute
def test_rows_differ_and_plasticity_acts(sim):
    """The comparison is not vacuous: the two rows differ, and the weights moved."""
    d, _ = sim
    out = d["features/cpu/outputs"]
    assert not np.array_equal(out[0], out[1])
    assert np.all(out[:, 10] > 0)  # w_da: the reward-modulated weights spread out


@pytest.mark.slow  # the CUDA simulator runs both networks' kernels in Python: a minute
def test_run_batch_on_cuda_gives_the_cpu_results(sim):
    d, _ = sim
    np.testing.assert_allclose(d["features/cuda/run_batch"], d["features/cpu/run_batch"],
                               rtol=1e-9, atol=1e-12)


@pytest.mark.slow  # the CUDA simulator runs both networks' kernels in Python: a minute
def test_routing_and_a_stated_fallback(sim):
    _, meta = sim
    assert meta["routes"] == {"cuda": True, "cuda:0": True, "torch-cpu": False, "cpu": False}
    msgs = [m for c, m in meta["fallback_warnings"] if c == "FusedKernelFallback"]
    assert len(msgs) == 1 and "a reason under test" in msgs[0] and "torch" in msgs[0]


def test_unsupported_names_a_hand_written_population():
    from types import SimpleNamespace

    from neuroscape.core.settings import SimSettings
    from neuroscape.sim.network_cuda import unsupported

    pop = SimpleNamespace(name="exc", model=SimpleNamespace(name="handmade", equations=None))
    why = unsupported(SimpleNamespace(model=SimpleNamespace(populations=[pop])), SimSettings())
    assert "population exc" in why and "handmade" in why and "hand-written" in why


def _nvvm() -> bool:
    try:
        from numba.cuda.cudadrv import nvvm

        nvvm.NVVM()
        return True
    except Exception:  # noqa: BLE001 - no CUDA toolkit: nothing to compile with
        return False


@pytest.mark.slow  # NVVM's compile of whole kernels: seconds each
def test_kernel_compiles_to_ptx():
    """Both kernels compile for a GPU (compute capability 9.0) with NVVM: what the simulator
    does not check (device-code typing, the helpers' device twins, the @njit functions
    compiled for the CUDA target)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not _nvvm():
        pytest.skip("needs NVVM (a CUDA toolkit) and numba's real CUDA target")
    from neuroscape.sim import network_cuda
    from neuroscape.sim.engine import batch_for

    for name, (model, params, settings, rec) in _cases().items():
        code = network_cuda.ptx(batch_for(model), params, settings=settings, recording=rec)
        assert ".visible .entry" in code and "sm_90" in code, name


def test_on_a_gpu():
    """On a GPU: the Poisson source's spikes (integers only) are identical to the CPU's; the
    rest agrees to libdevice's and fused multiply-adds' rounding, so only loosely."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator is tested above")
    from neuroscape.sim import network_cuda

    if not network_cuda.available():
        pytest.skip("no CUDA GPU")
    from neuroscape.core.rng import row_keys
    from neuroscape.sim.engine import batch_for

    model, params, settings, rec = _cases()["features"]
    b = batch_for(model)
    keys = row_keys(11, np.arange(ROWS))
    cpu = b.run_chunk(params, keys, settings, "cpu", rec)
    gpu = b.run_chunk(params, keys, settings, "cuda", rec)
    assert gpu.ok.all()
    src = (4, 34)  # global indices of the Poisson source src
    for (tc, ic), (tg, ig) in zip(cpu.spikes, gpu.spikes, strict=True):
        keep_c, keep_g = (ic >= src[0]) & (ic < src[1]), (ig >= src[0]) & (ig < src[1])
        assert np.array_equal(tc[keep_c], tg[keep_g]) and np.array_equal(ic[keep_c],
                                                                          ig[keep_g])
    np.testing.assert_allclose(gpu.outputs[:, 0], cpu.outputs[:, 0], rtol=0.1)


if __name__ == "__main__":
    _child(sys.argv[1])
