"""Row kernels of equation models with more arguments than CPython passes on the stack (a call
with more than 30 arguments compiles as f(*args), which numba cannot inline): they compile and
run, checked against the closed form of a linear cell."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.equations import equation_model
from neuroscape.sim.neuron_engine import simulate_neurons


def _leaky(n_pairs: int):
    """dv/dt = (sum_i k_i (E_i - v) + I) / C: 2 n_pairs + 1 parameters."""
    terms = " + ".join(f"k{i} * (E{i} - v)" for i in range(n_pairs))
    params = {"C": {"default": "10 pF", "low": "5 pF", "high": "20 pF"}}
    for i in range(n_pairs):
        params[f"k{i}"] = {"default": f"{0.05 + 0.01 * i!r} nS", "low": "0.01 nS", "high": "1 nS"}
        params[f"E{i}"] = {"default": f"{-80.0 + i!r} mV", "low": "-90 mV", "high": "0 mV"}
    return equation_model(
        name=f"leaky_{n_pairs}", description="a linear cell of many conductances (test)",
        equations=f"dv/dt = (I_ch + I) / C : mV\nI_ch = {terms} : pA",
        current={"name": "I", "unit": "pA"}, initial={"v": "-70 mV"}, parameters=params,
        spike_level="0 mV",
    )  # fmt: skip


@pytest.mark.parametrize("n_pairs", [15, 20])  # 31 and 41 parameters
def test_many_parameters_compile_and_match_closed_form(n_pairs):
    m = _leaky(n_pairs)
    names = m.spec.parameter_names
    assert len(names) == 2 * n_pairs + 1
    rows = np.array([[p.default for p in m.spec.parameters]])
    amp, dur, dt = 12.0, 20.0, 0.01  # pA, ms, ms
    res = simulate_neurons(m, rows, make_stimulus("step", amp=[amp]), duration_ms=dur,
                           dt_ms=dt, integrator="euler", record_v=True, record_every=1)  # fmt: skip
    assert bool(res.ok[0]), res.errors[0]
    p = dict(zip(names, rows[0], strict=True))
    k = np.array([p[f"k{i}"] for i in range(n_pairs)])
    e = np.array([p[f"E{i}"] for i in range(n_pairs)])
    g = k.sum()
    v_inf, tau = (k @ e + amp) / g, p["C"] / g  # mV, ms
    t = np.arange(1, res.states[0].shape[1] + 1) * dt
    exact = v_inf + (-70.0 - v_inf) * np.exp(-t / tau)
    # forward Euler's error on a relaxation of tau >= 5 ms at 0.01 ms: < 0.1 % of the swing
    assert np.max(np.abs(res.states[0][0] - exact)) < 1e-3 * abs(v_inf + 70.0) + 1e-9
    assert abs(res.states[0][0][-1] - exact[-1]) < 0.05


def test_many_parameters_on_cuda_match_the_cpu_in_numba_s_simulator():
    # the fused CUDA kernel calls the same un-inlined functions: in numba's CUDA simulator
    # (set before numba.cuda is imported, so in a subprocess) it gives the CPU kernel's trace
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, json; import numpy as np\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_neuron_kernel_many_params import _leaky\n"
        "from neuroscape.core.stimuli import make_stimulus\n"
        "from neuroscape.sim.neuron_engine import simulate_neurons\n"
        "m = _leaky(15)\n"
        "rows = np.array([[p.default for p in m.spec.parameters]] * 2)\n"
        "v = [simulate_neurons(m, rows, make_stimulus('step', amp=[12.0, 20.0]), duration_ms=2.0,\n"
        "     dt_ms=0.01, integrator='euler', record_v=True, device=d).states[:, 0] for d in\n"
        "     ('cpu', 'cuda')]\n"
        "print(json.dumps([float(np.ptp(v[0])), float(np.max(np.abs(v[0] - v[1])))]))\n"
    )
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    swing, diff = json.loads(p.stdout.strip().splitlines()[-1])
    assert swing > 0.1 and diff < 1e-12


@pytest.mark.slow  # NVVM's compile of whole kernels: seconds each
def test_many_parameters_compile_for_the_gpu():
    # NVVM's compile of the same kernel (no GPU needed; skipped without a CUDA toolkit)
    from test_neuron_cuda import _cuda_home

    from neuroscape.sim import neuron_cuda

    if _cuda_home() is None:
        pytest.skip("no CUDA toolkit with libnvvm (CUDA_HOME)")
    assert ".entry" in neuron_cuda.ptx(_leaky(15), "euler")
