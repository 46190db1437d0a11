"""The statistics of the Poisson inputs' 32-bit uniforms (``core.rng.input_uniforms_np``, the
definition the kernels are held to in test_network_poisson_counts.py): uniform, independent
between neurons, inputs, steps and rows, and Poisson counts with the inverse-CDF tables.

The uniforms are mix32(seed + LANE[j]) with one seed per (row, step, population, input): within
a step every neuron's value is a fixed offset of the same seed before the hash, so the hash is
what makes neurons independent; the same statistics on the unhashed values fail (checked here,
so the tests can fail).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from neuroscape.core.rng import (
    M32,
    SUB_BITS,
    input_uniforms_np,
    lane_offsets,
    mix32_np,
    poisson_thresholds,
    row_keys,
    word_np,
)

N_TOTAL, OFF, N = 400, 100, 300  # a population of 300 neurons at offset 100
STEPS = 1000


def _draws(mixed: bool = True) -> np.ndarray:
    """(rows, inputs, steps, neurons) uniforms in [0, 1) of two rows and a pair of inputs."""
    keys = row_keys(7, np.arange(2))
    out = np.empty((2, 2, STEPS, N))
    lane = lane_offsets(OFF + N)[OFF:]
    for s in range(STEPS):
        for half in range(2):
            if mixed:
                u = input_uniforms_np(keys, s, N_TOTAL, OFF, 0, half, N)
            else:  # the seeds plus the offsets, without the hash
                w = word_np(keys, np.array([(s * N_TOTAL + OFF) << SUB_BITS], np.uint64))[:, 0]
                seed = ((w >> np.uint64(32 * half)) & np.uint64(M32)).astype(np.uint32)
                u = seed[:, None] + lane[None, :]
            out[:, half, s] = u / 2.0**32
    return out


def _max_abs_corr(u: np.ndarray) -> float:
    """The largest |Pearson r| over neighbouring neurons, the two inputs, consecutive steps and
    the two rows (each over every other index)."""
    pairs = [
        (u[..., :-1].ravel(), u[..., 1:].ravel()),  # neuron j and j + 1 in the same step
        (u[..., :-7].ravel(), u[..., 7:].ravel()),  # j and j + 7
        (u[:, 0].ravel(), u[:, 1].ravel()),  # the pair's two inputs
        (u[:, :, :-1].ravel(), u[:, :, 1:].ravel()),  # steps s and s + 1
        (u[0].ravel(), u[1].ravel()),  # the two rows
    ]
    return max(abs(np.corrcoef(a, b)[0, 1]) for a, b in pairs)


def test_uniforms_are_uniform_and_independent():
    u = _draws()
    n = u[..., 1:].size
    # uniform: 256 bins, chi-square against equal counts
    hist = np.bincount((u * 256).astype(int).ravel(), minlength=256)
    assert stats.chisquare(hist).pvalue > 1e-4
    # every correlation within 5 standard errors of 0 (1 / sqrt(n) each)
    assert _max_abs_corr(u) < 5 / np.sqrt(n)
    # the same-step differences of neighbours are uniform too (a weak hash leaves structure)
    d = (u[..., 1:] - u[..., :-1]) % 1.0
    hist = np.bincount((d * 256).astype(int).ravel(), minlength=256)
    assert stats.chisquare(hist).pvalue > 1e-4


def test_without_the_hash_the_same_checks_fail():
    u = _draws(mixed=False)
    assert _max_abs_corr(u) > 20 / np.sqrt(u[..., 1:].size)
    d = (u[..., 1:] - u[..., :-1]) % 1.0
    hist = np.bincount((d * 256).astype(int).ravel(), minlength=256)
    assert stats.chisquare(hist).pvalue < 1e-10


def test_counts_are_poisson():
    u = _draws()
    u32 = (u * 2.0**32).astype(np.int64)
    for lam in (0.05, 0.6, 1.8):  # the circuit's inputs per 0.1-ms step span about these
        tab = poisson_thresholds(np.array([lam]))[0]
        k = np.searchsorted(tab, u32.ravel(), side="right")
        kmax = 6
        obs = np.bincount(np.minimum(k, kmax), minlength=kmax + 1)
        pmf = stats.poisson.pmf(np.arange(kmax), lam)
        exp = np.append(pmf, 1 - pmf.sum()) * k.size
        last = int(np.flatnonzero(exp > 20)[-1])  # the sparse tail pooled into one bin
        obs = np.append(obs[:last], obs[last:].sum())
        exp = np.append(exp[:last], exp[last:].sum())
        assert stats.chisquare(obs, exp).pvalue > 1e-4, lam
        # the counts of one neuron across steps: no excess variance (Fano factor 1)
        per_neuron = k.reshape(-1, N).sum(axis=0)
        fano = per_neuron.var() / per_neuron.mean()
        assert 0.8 < fano < 1.2, (lam, fano)


def test_mix32_is_lowbias32():
    # Wellons' lowbias32 (hash-prospector), improved constants: a few values by hand
    def ref(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x21F0AAAD) & M32
        x ^= x >> 15
        x = (x * 0x735A2D97) & M32
        return x ^ (x >> 15)

    xs = [0, 1, 2, 0xDEADBEEF, M32]
    assert mix32_np(np.array(xs, np.uint32)).tolist() == [ref(x) for x in xs]
