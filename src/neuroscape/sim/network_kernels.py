"""Compiled pieces shared by the generated network kernels.

Why separate functions: a projection that only adds a constant per row to its targets
(``g_e += w_e``) is one call of ``add_spikes`` instead of its own loop in the generated kernel;
the function is compiled once for every network, which keeps the compile time of a network with
many projections (an assembly network has 50) from growing with their number.

The CUDA kernel (``network_cuda``) compiles these same Python functions as device functions
(``cuda.jit(device=True)(f.py_func)``), so they must stay device-compatible: loops and indexing
only, no allocation and no numpy array functions.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def add_spikes(ptr, post, spikes, n_spikes, target, value):
    """target[j] += value for every synapse (i, j) of every spiking presynaptic neuron i."""
    for c in range(n_spikes):
        i = spikes[c]
        for k in range(ptr[i], ptr[i + 1]):
            target[post[k]] += value


@njit(cache=True)
def add_dense(mask, spikes, n_spikes, target, value):
    """target[j] += value * mask[i, j] for every spiking presynaptic neuron i: one contiguous,
    vectorized pass per spike for dense projections (adding 0.0 leaves a target unchanged).
    The mask's columns are the targets (``target`` may be longer: padding lanes)."""
    for c in range(n_spikes):
        row = mask[spikes[c]]
        for j in range(row.size):
            target[j] += value * row[j]


@njit(cache=True)
def push_spikes(queue, counts, slot, spikes, n_spikes):
    """Append this step's spikes to the delay queue's ``slot`` (they act when it is due)."""
    for c in range(n_spikes):
        queue[slot, counts[slot]] = spikes[c]
        counts[slot] += 1
