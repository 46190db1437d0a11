"""The numba.cuda back end of the single-neuron engine (``neuroscape.sim.neuron_cuda``) against the
CPU row kernel it shares its generated row body with.

These are not GPU tests: the kernels run in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set
in a subprocess before numba.cuda is imported), which executes the kernel thread by thread on
the CPU with the CPU's arithmetic, so the bar is the same results: identical spike counts and
failures, spike times and traces within 1e-12 (ms, the states' units). They cover a noisy
stimulus (the random streams), a Poisson stimulus (the inverse-CDF search), a
precise reset with its refined crossing, HH under rk4 and under the staggered gate tables (the
default on a CUDA device), and the spike buffer's overflow (rows re-run with room for every
spike). ``test_kernels_compile_to_ptx`` compiles the real CUDA kernels to PTX with NVVM (no GPU
needed; skipped without a CUDA toolkit); ``test_gpu_matches_cpu`` runs only on a CUDA GPU.
"""

import json
import os
import subprocess
import sys
from glob import glob

import numpy as np
import pytest

TOL = 1e-12

# name: (model, parameter rows, stimulus (kind, fields), settings). Small: the simulator runs
# the kernel as Python, one thread at a time
CASES = {
    "lif_noisy": ("lif", [{}, {"tau": 15.0}, {"R": 12.0}, {}, {"t_ref": 4.0}, {}],
                  ("noisy", {"mean": [2.4, 2.8, 3.0, 3.5, 4.0, 5.0], "sigma": 1.5}),
                  {"duration_ms": 40.0, "dt_ms": 0.1, "seed": 7, "record_v": True}),
    "adex_step_rk4": ("adex", [{}, {"a": 10.0, "b": 40.0}, {"tau_w": 50.0}, {}],
                      ("step", {"amp": [300.0, 500.0, 800.0, 1000.0], "t_on": 5.0}),
                      {"duration_ms": 50.0, "dt_ms": 0.1, "integrator": "rk4",
                       "record_v": True}),
    "izhikevich_poisson": ("izhikevich", [{}, {"d": 2.0}, {"a": 0.1}, {}],
                           ("poisson", {"rate_hz": [2000.0, 3000.0, 4000.0, 6000.0],
                                        "weight": 1.5, "tau_syn": 5.0}),
                           {"duration_ms": 50.0, "dt_ms": 0.1, "seed": 2, "record_v": True}),
    "hh_rk4": ("hh", [{}, {"g_K": 30.0}, {"celsius": 16.3}, {}],
               ("step", {"amp": [8.0, 15.0, 25.0, 0.0], "t_on": 1.0}),
               {"duration_ms": 20.0, "dt_ms": 0.025, "integrator": "rk4", "record_v": True}),
    "hh_staggered_default": ("hh", [{}, {"celsius": 16.3}],
                             ("noisy", {"mean": [10.0, 20.0], "sigma": 3.0}),
                             {"duration_ms": 20.0, "dt_ms": 0.025, "record_v": True}),
}

DRIVER = r"""
import json, sys
import numpy as np
from neuroscape.core.stimuli import make_stimulus
from neuroscape.core.integrators import IntegratorError
from neuroscape.core.settings import SettingsError
from neuroscape.core.rng import row_keys
from neuroscape.sim import neuron_engine as ne
from neuroscape.sim.neuron_engine import device_integrator, simulate_neurons
from neuroscape.models import resolve

cases, out = json.loads(sys.argv[1]), sys.argv[2]
res = {}

def keep(tag, r):
    res[tag + "/total"] = r.total_counts
    res[tag + "/counts"] = r.counts
    res[tag + "/ok"] = r.ok
    res[tag + "/nspk"] = np.array([len(t) for t in r.spike_times])
    res[tag + "/spk"] = np.concatenate([np.zeros(0), *r.spike_times])
    res[tag + "/states"] = r.states
    res[tag + "/integrator"] = np.array(r.integrator)

for name, (model, params, (kind, fields), kw) in cases.items():
    stim = make_stimulus(kind, **fields)
    gpu = simulate_neurons(model, params, stim, device="cuda", **kw)
    # the CPU row kernel under the scheme the device chose (the block kernel agrees to 1e-8)
    scheme = device_integrator(resolve(model), "cuda", kw.get("integrator"))
    cpu_kw = dict(kw, integrator=scheme or kw.get("integrator"))
    keep(name + "/cpu", simulate_neurons(model, params, stim, vectorize=False, **cpu_kw))
    keep(name + "/gpu", gpu)

# the spike buffer overflows (2 per row): the rows that fire more are run again
ne.SPIKE_BUFFER = 2
model, params, (kind, fields), kw = cases["lif_noisy"]
keep("overflow/gpu", simulate_neurons(model, params, make_stimulus(kind, **fields),
                                      device="cuda", **kw))
ne.SPIKE_BUFFER = 1024
# rows 2..4 alone, with their streams: the same as in the whole batch
sub = dict(fields, mean=fields["mean"][2:5])
kw_sub = {k: v for k, v in kw.items() if k != "seed"}
keep("rows/gpu", simulate_neurons(model, params[2:5], make_stimulus(kind, **sub), device="cuda",
                                  keys=row_keys(kw["seed"], np.arange(2, 5)), **kw_sub))

errors = []
for call in (
    lambda: simulate_neurons("hh", {}, make_stimulus("step", amp=10.0), duration_ms=5.0,
                             integrator="dopri5", device="cuda"),
    lambda: simulate_neurons("lif", {}, make_stimulus("step", amp=3.0), duration_ms=5.0,
                             device="cuda:3"),
):
    try:
        call()
        errors.append(None)
    except (IntegratorError, SettingsError) as e:
        errors.append(str(e))
res["errors"] = np.array(json.dumps(errors))
np.savez(out, **res)
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """Every case run on the CPU and in the CUDA simulator, in one subprocess."""
    out = tmp_path_factory.mktemp("cudasim") / "res.npz"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    p = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(CASES), str(out)], env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def assert_same(sim, a, b):
    np.testing.assert_array_equal(sim[b + "/ok"], sim[a + "/ok"])
    np.testing.assert_array_equal(sim[b + "/total"], sim[a + "/total"])
    np.testing.assert_array_equal(sim[b + "/counts"], sim[a + "/counts"])
    np.testing.assert_array_equal(sim[b + "/nspk"], sim[a + "/nspk"])
    np.testing.assert_allclose(sim[b + "/spk"], sim[a + "/spk"], rtol=0, atol=TOL)
    np.testing.assert_allclose(sim[b + "/states"], sim[a + "/states"], rtol=0, atol=TOL)


@pytest.mark.parametrize("case", list(CASES))
def test_simulated_kernel_matches_the_cpu(sim, case):
    assert_same(sim, f"{case}/cpu", f"{case}/gpu")
    assert sim[f"{case}/gpu/total"].sum() >= 2  # the cases fire: the spike paths ran


def test_the_device_default_of_hh_is_the_staggered_tables(sim):
    assert str(sim["hh_staggered_default/gpu/integrator"]) == "exponential_staggered_tables"


def test_overflowing_rows_are_run_again(sim):
    assert sim["lif_noisy/gpu/nspk"].max() > 2  # the 2-spike buffer overflows
    assert_same(sim, "lif_noisy/gpu", "overflow/gpu")


def test_rows_do_not_depend_on_the_batch(sim):
    whole = sim["lif_noisy/gpu/states"][2:5]
    np.testing.assert_array_equal(sim["rows/gpu/states"], whole)
    assert sim["rows/gpu/total"].tolist() == sim["lif_noisy/gpu/total"][2:5].tolist()


def test_refusals_are_one_line(sim):
    dopri5, gpu3 = json.loads(str(sim["errors"]))
    assert dopri5.startswith("integrator 'dopri5' runs on the CPU only; on device='cuda'")
    assert gpu3 == ("device='cuda:3' asked for, but 1 CUDA GPU(s) are available; allowed here: "
                    "cpu, torch-cpu, cuda, cuda:0")
    assert "\n" not in dopri5 + gpu3


def _cuda_home() -> str | None:
    """A CUDA toolkit with libnvvm: $CUDA_HOME, else /usr/local/cuda*."""
    for home in [os.environ.get("CUDA_HOME"), *sorted(glob("/usr/local/cuda*"))]:
        if home and (glob(f"{home}/nvvm/lib*/libnvvm.so*") or glob(f"{home}/lib*/libnvvm.so*")):
            return home
    return None


@pytest.mark.slow  # NVVM's compile of whole kernels: seconds each
def test_kernels_compile_to_ptx():
    """The real CUDA kernels (not the simulator's Python) compile with NVVM for sm_90: the
    shared helpers' numpy calls and min/max lower on the GPU target."""
    home = _cuda_home()
    if home is None:
        pytest.skip("no CUDA toolkit with libnvvm (CUDA_HOME)")
    code = (
        "from neuroscape.models import resolve\n"
        "from neuroscape.sim.neuron_cuda import ptx\n"
        "for m, s in [('lif', 'exponential_euler'), ('adex', 'rk4'),\n"
        "             ('hh', 'exponential_staggered_tables')]:\n"
        "    p = ptx(resolve(m), s)\n"
        "    assert '.visible .entry' in p and '.target sm_90' in p, (m, s)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["CUDA_HOME"] = home
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]


def _gpu() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu(), reason="no CUDA GPU")
@pytest.mark.parametrize("case", list(CASES))
def test_gpu_matches_cpu(case):
    """On a GPU: libdevice's exp/log/cos may differ from libm's in the last bit, so spike
    times within 1e-9 ms and the same counts (regular firing, no chaos over these runs)."""
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.models import resolve
    from neuroscape.sim.neuron_engine import device_integrator, simulate_neurons

    model, params, (kind, fields), kw = CASES[case]
    stim = make_stimulus(kind, **fields)
    gpu = simulate_neurons(model, params, stim, device="cuda", **kw)
    scheme = device_integrator(resolve(model), "cuda", kw.get("integrator"))
    cpu = simulate_neurons(model, params, stim, vectorize=False,
                           **dict(kw, integrator=scheme or kw.get("integrator")))  # fmt: skip
    np.testing.assert_array_equal(gpu.total_counts, cpu.total_counts)
    np.testing.assert_array_equal(gpu.ok, cpu.ok)
    for x, y in zip(cpu.spike_times, gpu.spike_times, strict=True):
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-9)



def test_a_gpu_without_nvvm_falls_back_to_torch_with_a_warning(monkeypatch):
    """numba.cuda sees a GPU but has no libNVVM to compile for it: the run goes to the torch
    back end (here without CUDA: its one-line refusal), after a warning naming why."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator needs no NVVM")
    from numba.cuda.cudadrv import nvvm

    from neuroscape.core.settings import SettingsError
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.sim import neuron_cuda
    from neuroscape.sim.network_cuda import FusedKernelFallback
    from neuroscape.sim.neuron_engine import simulate_neurons

    monkeypatch.setattr(neuron_cuda, "available", lambda: True)
    monkeypatch.setattr(nvvm, "is_available", lambda: False)
    torch = pytest.importorskip("torch")
    with pytest.warns(FusedKernelFallback, match=r"lif: device='cuda': .*no libNVVM"):
        if torch.cuda.is_available():
            simulate_neurons("lif", {}, make_stimulus("step", amp=3.0), duration_ms=5.0,
                             device="cuda")
        else:
            with pytest.raises(SettingsError, match="0 CUDA GPU"):
                simulate_neurons("lif", {}, make_stimulus("step", amp=3.0), duration_ms=5.0,
                                 device="cuda")
