import numpy as np
import pytest
from numba import njit
from scipy import stats

from neuroscape.core.rng import (
    _mix64_py,
    as_signed64,
    mix64,
    poisson_from_table,
    poisson_thresholds,
    row_keys,
    torch_word,
    unit_float,
    word,
)


@njit
def _words(key, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = word(key, np.uint64(i))
    return out


@njit
def _floats(key, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = unit_float(word(key, np.uint64(i)))
    return out


def test_numba_mix64_matches_reference_splitmix64():
    # SplitMix64 from state 0: the first output of the published generator
    assert _mix64_py(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF
    assert int(mix64(np.uint64(0x9E3779B97F4A7C15))) == 0xE220A8397B1DCDAF


def test_torch_twin_draws_the_same_words():
    torch = pytest.importorskip("torch")
    key = row_keys(7, np.array([3]))[0]
    expected = _words(key, 1000)
    got = torch_word(
        torch.tensor(as_signed64(np.array([key])), dtype=torch.int64),
        torch.arange(1000, dtype=torch.int64),
    ).numpy()
    np.testing.assert_array_equal(as_signed64(expected), got)


def test_row_keys_depend_on_seed_and_row_only():
    k = row_keys(5, np.arange(10))
    np.testing.assert_array_equal(k[4:6], row_keys(5, np.array([4, 5])))
    assert len(set(k.tolist())) == 10
    assert not np.array_equal(k, row_keys(6, np.arange(10)))


def test_uniforms_pass_a_ks_test():
    u = _floats(row_keys(1, np.array([0]))[0], 200_000)
    assert stats.kstest(u, "uniform").pvalue > 0.001


@njit
def _poisson_samples(key, table, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = poisson_from_table(
            np.int64(word(key, np.uint64(i)) & np.uint64(0xFFFFFFFF)), table
        )
    return out


@pytest.mark.parametrize("lam", [0.0025, 0.08, 0.6, 1.8, 9.0])
def test_poisson_tables_sample_the_poisson_distribution(lam):
    table = poisson_thresholds(np.array([lam]))[0]
    x = _poisson_samples(row_keys(2, np.array([0]))[0], table, 400_000)
    assert abs(x.mean() - lam) < 5 * np.sqrt(lam / len(x))
    kmax = max(int(lam + 5 * np.sqrt(lam)) + 1, 2)
    obs = np.bincount(np.minimum(x, kmax), minlength=kmax + 1)
    p = stats.poisson.pmf(np.arange(kmax + 1), lam)
    p[-1] = stats.poisson.sf(kmax - 1, lam)
    keep = p * len(x) > 5
    exp = p[keep] * len(x)
    chi2 = ((obs[keep] - exp) ** 2 / exp).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 0.001


def test_poisson_thresholds_reject_bad_means():
    with pytest.raises(ValueError, match="finite and >= 0"):
        poisson_thresholds(np.array([-1.0]))
