"""``core.rows``: the slices cover every row once, aligned to a block kernel's block; a GIL-free
kernel on threads writes each row once; a forked child (a sweep's worker process) runs its own
pool instead of waiting for its parent's threads, which do not exist in it."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
from numba import njit

from neuroscape.core.rows import row_slices, run_on_threads


@pytest.mark.parametrize("n_rows, workers, min_rows, align",
                         [(1, 2, 1, 1), (7, 2, 1, 1), (1000, 2, 1, 64), (1000, 3, 64, 1),
                          (130, 4, 1, 8), (5, 8, 1, 1)])  # fmt: skip
def test_slices_cover_every_row_once(n_rows, workers, min_rows, align):
    e = row_slices(n_rows, workers, min_rows, align)
    assert e[0] == 0 and e[-1] == n_rows and np.all(np.diff(e) > 0)
    assert len(e) - 1 <= 4 * workers
    assert np.all(e[1:-1] % align == 0)
    if len(e) > 2:
        assert np.diff(e)[:-1].min() >= min(min_rows, n_rows)


@njit(nogil=True, cache=True)
def _count(x, out, lo, hi):
    for b in range(lo, hi):
        out[b] += x[b] * 2.0


def _in_child(q) -> None:
    x = np.arange(50.0)
    out = np.zeros(50)
    run_on_threads(_count, (x, out), 50, workers=2)
    q.put(out.tolist())


def test_threads_write_each_row_once_and_a_forked_child_has_its_own_pool():
    x = np.arange(1001.0)
    out = np.zeros(1001)
    run_on_threads(_count, (x, out), 1001, workers=2)  # the parent's pool now exists
    np.testing.assert_array_equal(out, 2 * x)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_in_child, args=(q,))
    p.start()
    got = q.get(timeout=120)  # a child that waited on its parent's threads would hang here
    p.join(30)
    assert got == (2 * np.arange(50.0)).tolist() and p.exitcode == 0
