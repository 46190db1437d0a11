"""The CUDA cable kernel (``neuroscape.sim.cable_cuda``) against the CPU cable kernel it is
generated alongside: the same rows give the same V traces and soma spike times.

These are not GPU tests: the kernel runs in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set
in a subprocess before numba.cuda is imported), which runs each thread's Python with the CPU's
float64 arithmetic and libm, so the bar is equality to TOL = 1e-12 (mV, ms); what is observed is
equality to the bit. ``run_cell`` is routed to the CUDA kernel by replacing
``cable_engine.get_kernel`` (the CUDA kernel takes the CPU kernel's arguments). Cells are tiny
and runs short (the simulator is slow): a ball-and-stick (hh soma, pas dendrite, nseg 3) under
Crank-Nicolson with a step current and under backward Euler with a noisy one (row r's noise is
the stream (seed, r)), and the same cell with an A-current written as equations in its soma;
rows differ in densities, length, temperature and stimulus. Then: rows do not depend on the
launch's block size nor on the batch they run in (bitwise), rows whose spikes overflow the
buffer are run again, and refusals are one line. ``test_kernel_compiles_to_ptx`` compiles the
real CUDA kernel with NVVM (slow; skipped without a CUDA toolkit); ``test_gpu_matches_cpu``
runs only on a GPU.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from glob import glob
from pathlib import Path

import numpy as np
import pytest

from neuroscape.sim.neuron_cuda import available, simulator

TOL = 1e-12  # mV and ms, in the simulator
DATA = Path(__file__).resolve().parents[1] / "data" / "channels"

BALL_STICK = {
    "name": "ball_stick3", "Ra": 150, "cm": 1, "v_init": -65, "celsius": 6.3,
    "sections": {"soma": {"L": 20, "diam": 20, "nseg": 1},
                 "dend": {"L": 400, "diam": 2, "nseg": 3, "parent": "soma", "parent_x": 1}},
    "mechanisms": {"soma": {"hh": {}}, "dend": {"pas": {"g": 0.0005, "e": -65}}},
}  # fmt: skip
# the A-current of Connor & Stevens (1971) written as equations (inf/tau gates, a reversal of
# its own) in the hh soma: one channel, so the CPU kernel the comparison needs (compiled once,
# ~30 s on 2 cores with an empty kernel cache) stays small
WITH_KA = {
    **BALL_STICK, "name": "ball_stick3_ka",
    "channels": {"ka": str(DATA / "ka_connor_stevens.yaml")},
    "mechanisms": {"soma": {"hh": {}, "ka": {"gbar": 0.01}},
                   "dend": {"pas": {"g": 0.0001, "e": -65}}},
}  # fmt: skip

# name: (cell ("ball_stick" or "channels"), per-row values, (stimulus kind, fields),
# run_cell settings). 10 ms at 0.025 ms: 400 steps, every row fires
CASES = {
    "hh_pas_cn_step": (
        "ball_stick",
        {"soma.hh.gnabar": [0.12, 0.08, 0.16, 0.14], "dend.L": [400.0, 250.0, 700.0, 300.0],
         "celsius": [6.3, 10.0, 15.0, 6.3]},
        ("step", {"amp": [0.3, 0.5, 0.8, 0.6], "t_on": 1.0}),
        {"integrator": "crank_nicolson"}),
    "hh_pas_be_noisy": (
        "ball_stick",
        {"soma.hh.gkbar": [0.036, 0.02, 0.05], "dend.diam": [2.0, 1.0, 3.0]},
        ("noisy", {"mean": [0.4, 0.6, 0.9], "sigma": 0.05, "t_on": 1.0}),
        {"integrator": "backward_euler"}),
    "channels_cn_step": (
        "channels",
        {"soma.ka.gbar": [0.0, 0.01, 0.04], "dend.pas.g": [0.0001, 0.0003, 0.00005]},
        ("step", {"amp": [0.3, 0.5, 0.8], "t_on": 1.0}),
        {"integrator": "crank_nicolson"}),
}  # fmt: skip
COMMON = {"dt_ms": 0.025, "duration_ms": 10.0, "seed": 7, "workers": 1}
RECORD = [["<root>", 0.5], ["dend", 1.0], ["dend", 0.3]]

DRIVER = r"""
import json, sys
import numpy as np
from neuroscape.core.settings import SettingsError
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import load_cell
from neuroscape.sim import cable_cuda, cable_engine

cases, ball_stick, with_ka, common, record = [json.loads(a) for a in sys.argv[1:6]]
out = sys.argv[6]
cells = {"ball_stick": load_cell(ball_stick), "channels": load_cell(with_ka)}
record = [tuple(r) for r in record]
cpu_kernel = cable_engine.get_kernel
res = {}

def on(device, threads=128):
    # the CPU path appends the rows' block range (run_on_threads; one call: workers=1): dropped
    cable_engine.get_kernel = cpu_kernel if device == "cpu" else (
        lambda m: lambda *a: cable_cuda.get_cuda_kernel(m, threads=threads)(*a[:-2]))

def run(name, **kw):
    cell, values, (kind, fields), settings = cases[name]
    return cable_engine.run_cell(cells[cell], {k: np.array(v) for k, v in values.items()},
                                 stimulus=make_stimulus(kind, **fields), record=record,
                                 **common, **settings, **kw)

def keep(tag, r):
    res[tag + "/v"] = r.v
    res[tag + "/nspk"] = np.array([len(s) for s in r.spikes])
    res[tag + "/spk"] = np.concatenate([np.zeros(0), *r.spikes])

for name in cases:
    on("cpu")
    keep(name + "/cpu", run(name))
    on("cuda")
    keep(name + "/gpu", run(name))
# block sizes: one row per block, blocks of 3 (the last one partial)
for threads in (1, 3):
    on("cuda", threads)
    keep(f"threads{threads}/gpu", run("hh_pas_cn_step"))
# rows 1 and 2 of the noisy case alone, with their global row numbers: their streams
on("cuda")
cell, values, (kind, fields), settings = cases["hh_pas_be_noisy"]
sub = {k: np.array(v[1:3]) for k, v in values.items()}
sf = dict(fields, mean=fields["mean"][1:3])
keep("rows/gpu", cable_engine.run_cell(cells[cell], sub, stimulus=make_stimulus(kind, **sf),
                                       record=record, rows=np.arange(1, 3), **common, **settings))
# a spike buffer of one per row: the rows that fire more are run again
cable_engine._spike_capacity = lambda duration_ms: 1
keep("overflow/gpu", run("hh_pas_cn_step"))
# cached by content: the same mechanisms give the same compiled kernel
res["cached"] = np.array(cable_cuda.get_cuda_kernel(["hh", "pas"]).kernel
                         is cable_cuda.get_cuda_kernel(["hh", "pas"]).kernel)
errors = []
for call in (lambda: cable_cuda.get_cuda_kernel(["pas"], device="cuda:3"),
             lambda: cable_cuda.get_cuda_kernel(["pas"], threads=0)):
    try:
        call()
        errors.append(None)
    except SettingsError as e:
        errors.append(str(e))
res["errors"] = np.array(json.dumps(errors))
np.savez(out, **res)
"""


def _argv() -> list[str]:
    return [json.dumps(x) for x in (CASES, BALL_STICK, WITH_KA, COMMON, RECORD)]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """Every case on the CPU and in the CUDA simulator, in one subprocess (~15 s)."""
    out = tmp_path_factory.mktemp("cablesim") / "res.npz"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    p = subprocess.run([sys.executable, "-c", DRIVER, *_argv(), str(out)], env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def assert_same(sim, a, b, tol=TOL):
    np.testing.assert_array_equal(sim[b + "/nspk"], sim[a + "/nspk"])
    np.testing.assert_allclose(sim[b + "/spk"], sim[a + "/spk"], rtol=0, atol=tol)
    np.testing.assert_allclose(sim[b + "/v"], sim[a + "/v"], rtol=0, atol=tol)


@pytest.mark.parametrize("case", list(CASES))
def test_simulated_kernel_matches_the_cpu(sim, case):
    assert_same(sim, f"{case}/cpu", f"{case}/gpu")
    assert sim[f"{case}/cpu/nspk"].min() >= 1  # every row fires: the spike path ran
    v = sim[f"{case}/cpu/v"]
    assert v.shape[1:] == (3, 401) and np.ptp(v[:, 1]) > 10.0  # the dendrite's end moved
    # rows differ (else a kernel that ran row 0 everywhere would pass)
    assert len({tuple(np.round(v[r, 0, ::50], 6)) for r in range(v.shape[0])}) == v.shape[0]


def test_rows_do_not_depend_on_the_block_size(sim):
    for threads in (1, 3):
        for what in ("v", "nspk", "spk"):
            np.testing.assert_array_equal(sim[f"threads{threads}/gpu/{what}"],
                                          sim[f"hh_pas_cn_step/gpu/{what}"])  # fmt: skip


def test_rows_do_not_depend_on_the_batch(sim):
    np.testing.assert_array_equal(sim["rows/gpu/v"], sim["hh_pas_be_noisy/gpu/v"][1:3])


def test_overflowing_rows_are_run_again(sim):
    assert sim["hh_pas_cn_step/gpu/nspk"].max() > 1  # the 1-spike buffer overflows
    for what in ("v", "nspk", "spk"):
        np.testing.assert_array_equal(sim[f"overflow/gpu/{what}"],
                                      sim[f"hh_pas_cn_step/gpu/{what}"])  # fmt: skip


def test_kernels_are_cached_and_refusals_are_one_line(sim):
    assert bool(sim["cached"])
    gpu3, threads0 = json.loads(str(sim["errors"]))
    assert gpu3 == ("device='cuda:3' asked for, but 1 CUDA GPU(s) are available; allowed here: "
                    "cpu, cuda, cuda:0")
    assert threads0 == "threads=0; allowed: a whole number in 1..1024"


def _assignments(src: str) -> set[tuple[str, str]]:
    """The mechanisms' named assignments (``m0_hh_minf = ...``) of a kernel's source."""
    return set(re.findall(r"^\s*(m\d+_\w+) = (.+)$", src, flags=re.M))


def test_the_kernel_is_generated_from_the_mechanisms_as_the_cpu_kernel():
    from neuroscape.models.multicomp.mechanisms import load_channel
    from neuroscape.sim import cable_cuda, cable_engine

    mechs = ["hh", "pas", load_channel("ka", DATA / "ka_connor_stevens.yaml"),
             load_channel("ih", DATA / "ih_huguenard.yaml")]  # fmt: skip
    gpu, cpu = cable_cuda.generate_source(mechs), cable_engine.generate_source(mechs)
    # the same rate expressions, statement for statement (the CPU's lane index l is the row r)
    ours = _assignments(gpu)
    assert len(ours) > 30
    assert ours == {(n, e.replace(", l]", ", r]")) for n, e in _assignments(cpu)}
    assert "m2_ka_a_inf" in gpu and "m3_ih_qt" in gpu and "@cuda.jit" in gpu
    assert "hh" not in cable_cuda.generate_source(["pas"]).split("def run")[1]


def _cuda_home() -> str | None:
    """A CUDA toolkit with libnvvm: $CUDA_HOME, else /usr/local/cuda*."""
    for home in [os.environ.get("CUDA_HOME"), *sorted(glob("/usr/local/cuda*"))]:
        if home and (glob(f"{home}/nvvm/lib*/libnvvm.so*") or glob(f"{home}/lib*/libnvvm.so*")):
            return home
    return None


PTX = r"""
import json, sys
import numpy as np
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import load_cell
from neuroscape.sim import cable_cuda, cable_engine

out = {}
def grab(mechs):
    def kernel(*args):  # the CPU path's call: the rows' block range appended (dropped)
        out["ptx"] = cable_cuda.ptx(mechs, args[:-2])
    return kernel

cable_engine.get_kernel = grab
cable_engine.run_cell(load_cell(json.loads(sys.argv[1])), {"soma.hh.gnabar": [0.1, 0.12]},
                      stimulus=make_stimulus("noisy", mean=0.3, sigma=0.1), duration_ms=1.0)
assert ".visible .entry" in out["ptx"] and ".target sm_90" in out["ptx"]
"""


@pytest.mark.slow  # NVVM's compile of the whole kernel: seconds
def test_kernel_compiles_to_ptx():
    """The real CUDA kernel (not the simulator's Python) compiles with NVVM for sm_90, with
    the stimulus's generator and hh's vtrap inlined."""
    home = _cuda_home()
    if home is None:
        pytest.skip("no CUDA toolkit with libnvvm (CUDA_HOME)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["CUDA_HOME"] = home
    p = subprocess.run([sys.executable, "-c", PTX, json.dumps(BALL_STICK)], env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]


@pytest.mark.gpu
@pytest.mark.skipif(simulator() or not available(), reason="no CUDA GPU")
def test_gpu_matches_cpu(tmp_path):
    """On a GPU, libdevice's exp and pow and NVVM's fused multiply-adds differ from the CPU in
    the last bits: the same spike counts, spike times and V within 1e-6 (ms, mV)."""
    out = tmp_path / "res.npz"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    p = subprocess.run([sys.executable, "-c", DRIVER, *_argv(), str(out)], env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    with np.load(out) as f:
        res = {k: f[k] for k in f.files}
    for case in CASES:
        assert_same(res, f"{case}/cpu", f"{case}/gpu", tol=1e-6)


def test_an_unknown_device_is_refused_in_one_line():
    from neuroscape.core.settings import SettingsError
    from neuroscape.sim.cable_cuda import get_cuda_kernel

    with pytest.raises(SettingsError, match=r"^unknown device 'gpu' for a cell; allowed: cpu, "
                                            r"cuda, cuda:N$"):  # fmt: skip
        get_cuda_kernel(["pas"], device="gpu")
