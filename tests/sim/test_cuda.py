"""CUDA back end against the CPU back end (runs only where a GPU is present; never in CI)."""

import numpy as np
import pytest

import neuroscape as ns

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def test_cuda_matches_cpu_statistically(domain_sample):
    p = np.repeat(domain_sample[:4], 16, axis=0)  # 4 parameter sets x 16 noise seeds
    cpu = ns.simulate("cortical", p, seed=0, device="cpu")
    gpu = ns.simulate("cortical", p, seed=0, device="cuda")
    a = cpu.outputs.reshape(4, 16, 2)
    b = gpu.outputs.reshape(4, 16, 2)
    se = np.sqrt(a.var(1, ddof=1) / 16 + b.var(1, ddof=1) / 16)
    diff = np.abs(a.mean(1) - b.mean(1))
    print("\ncpu means", a.mean(1), "\ngpu means", b.mean(1), "\nse", se)
    assert np.all(diff <= 3 * se + 1e-9)
    # same random numbers: most rows agree closely, row by row
    assert np.median(np.abs(cpu.outputs - gpu.outputs)) < 0.2


def test_cuda_is_reproducible_and_chunk_independent(domain_sample):
    a = ns.simulate("cortical", domain_sample, seed=5, device="cuda", duration_ms=500.0)
    b = ns.simulate(
        "cortical", domain_sample, seed=5, device="cuda", duration_ms=500.0, chunk_size=3
    )
    np.testing.assert_array_equal(a.outputs, b.outputs)
