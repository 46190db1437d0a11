"""Batch rows on CPU threads: a GIL-free numba kernel called on slices ``[lo, hi)`` of the rows.

Every CPU kernel of neuroscape takes its rows' range as its last two arguments and loops
``for b in range(lo, hi)``; ``run_on_threads`` spreads the slices over a thread pool. numba's own
``parallel=True``/``prange`` would do the same at run time, but its parfor passes made each cold
compile about 3x slower (the circuit's kernel: ~70 s against ~20 s on a 2-core Zen 1), and
every new model, scheme or settings compiles a new kernel. A row's arithmetic never depends on
the slice it runs in, so results are bitwise those of one thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per worker count for the process (a pool per call would start threads for
    kernels called once per network window)."""
    with _LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="neuroscape-rows")
        return _POOLS[workers]


def _forget_pools() -> None:
    """A forked child has none of its parent's threads: its pools start afresh."""
    global _LOCK
    _POOLS.clear()
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def row_slices(n_rows: int, workers: int, min_rows: int = 1, align: int = 1) -> np.ndarray:
    """Edges of the slices: up to 4 tasks per worker (rows differ in cost: a spiking row takes
    longer), each at least ``min_rows`` rows, inner edges on multiples of ``align`` (a block
    kernel's block)."""
    n_tasks = max(1, min(4 * workers, n_rows // max(min_rows, 1)))
    edges = np.linspace(0, n_rows, n_tasks + 1)
    edges = np.minimum(np.round(edges / align) * align, n_rows).astype(np.int64)
    edges[-1] = n_rows
    return np.unique(edges)


def run_on_threads(
    kernel: Callable,
    args: Sequence,
    n_rows: int,
    workers: int | None = None,
    min_rows: int = 1,
    align: int = 1,
) -> None:
    """``kernel(*args, lo, hi)`` on rows ``0..n_rows-1`` over ``workers`` threads (default:
    numba's thread count, as ``numba.set_num_threads`` left it; the kernel must be compiled
    with ``nogil=True``; its outputs are written in place)."""
    if workers is None:
        workers = numba.get_num_threads()
    if n_rows <= 0:
        return
    if workers <= 1 or n_rows < 2 * max(min_rows, 1):
        kernel(*args, 0, int(n_rows))
        return
    edges = row_slices(n_rows, workers, min_rows, align)
    pool = _pool(workers)
    futures = [
        pool.submit(kernel, *args, int(lo), int(hi))
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    for f in futures:  # every slice finishes before the outputs are read; errors re-raised
        f.result()
