"""Counter-based random numbers shared by the CPU (numba) and CUDA (torch) back ends.

Why hand-written: every batch row needs its own noise stream derived from (seed, row), so that a
row's result never depends on chunking, worker count, batch size or device. numba's generator is
per thread and torch's Philox is per generator, so neither gives that. A counter-based generator
does: the random word for (row, counter) is ``mix64(key(seed, row) + counter * GAMMA)``, the
SplitMix64 output function (Steele, Lea & Flood 2014) evaluated at an arbitrary position of its
Weyl sequence. Both back ends implement the same integer arithmetic, so they draw *identical*
random numbers.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB

_U_GAMMA = np.uint64(GAMMA)
_U_M1 = np.uint64(M1)
_U_M2 = np.uint64(M2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_LO32 = np.uint64(0xFFFFFFFF)
_TWO_M53 = 1.0 / 9007199254740992.0

# Sub-streams of one row. A counter is (stream, step, neuron, sub) packed into 64 bits.
SUB_BITS = 8  # room for 255 sub-draws per (step, neuron): 0 = Poisson word, 1.. = failure draws
STREAM_INIT = 1  # initial conditions
STREAM_STEP = 0  # per-step noise


def _mix64_py(z: int) -> int:
    z &= MASK64
    z = ((z ^ (z >> 30)) * M1) & MASK64
    z = ((z ^ (z >> 27)) * M2) & MASK64
    return z ^ (z >> 31)


def row_keys(seed: int, rows: np.ndarray) -> np.ndarray:
    """64-bit stream keys for global row indices ``rows`` under ``seed`` (uint64 array)."""
    if seed < 0:
        raise ValueError(f"seed={seed} must be a non-negative integer")
    base = _mix64_py(_mix64_py(int(seed)) ^ 0x5BD1E9955BD1E995)
    return np.array(
        [_mix64_py(base + _mix64_py(int(r) * GAMMA + 1)) for r in np.asarray(rows).ravel()],
        dtype=np.uint64,
    )


@njit(inline="always", cache=True)
def mix64(z):
    z = (z ^ (z >> _S30)) * _U_M1
    z = (z ^ (z >> _S27)) * _U_M2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True)
def word(key, counter):
    """The 64-bit random word at position ``counter`` of the stream ``key``."""
    return mix64(key + counter * _U_GAMMA)


@njit(inline="always", cache=True)
def lo32(x):
    return x & _LO32


@njit(inline="always", cache=True)
def hi32(x):
    return x >> _S32


@njit(inline="always", cache=True)
def unit_float(x):
    """A float64 uniform in [0, 1) from the top 53 bits of a word."""
    return np.float64(x >> _S11) * _TWO_M53


def word_np(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """NumPy twin of ``word``: (B, n) words at ``counters`` of the streams ``keys`` (uint64
    arithmetic wraps as in numba, so the bits are the same)."""
    z = np.asarray(keys, np.uint64)[:, None] + np.asarray(counters, np.uint64)[None, :] * _U_GAMMA
    z = (z ^ (z >> _S30)) * _U_M1
    z = (z ^ (z >> _S27)) * _U_M2
    return z ^ (z >> _S31)


def unit_float_np(x: np.ndarray) -> np.ndarray:
    """NumPy twin of ``unit_float``."""
    return (x >> _S11).astype(np.float64) * _TWO_M53


def poisson_thresholds(lam: np.ndarray, size: int | None = None) -> np.ndarray:
    """Inverse-CDF tables for Poisson(lam) from a 32-bit uniform integer u.

    Row r holds T[r, k] = round(P(N <= k) * 2**32); the sample is the smallest k with u < T[r, k].
    The last entry is forced to 2**32 so the search always ends; the probability mass cut off there
    is below 2**-40 by the choice of ``size``.
    """
    # scipy.special's pdtr is what scipy.stats.poisson.cdf evaluates, without the second it
    # takes to import scipy.stats (a CLI run pays it on every call)
    from scipy.special import pdtr

    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    if np.any(lam < 0) or not np.all(np.isfinite(lam)):
        raise ValueError(f"Poisson means must be finite and >= 0, got {lam}")
    if size is None:
        lmax = float(lam.max(initial=0.0))
        size = int(np.ceil(lmax + 12.0 * np.sqrt(lmax) + 16))
    size = max(size, 8)
    k = np.arange(size)
    cdf = pdtr(k[None, :], lam[:, None])
    # int64, not uint64: signed 64-bit comparisons vectorize on x86 (values fit in 33 bits)
    table = np.minimum(np.round(cdf * 2.0**32), 2.0**32).astype(np.int64)
    table[:, -1] = 1 << 32
    return table


@njit(inline="always", cache=True)
def poisson_from_table(u, table):
    """Smallest k with u < table[k] (u a 32-bit uniform integer held in an int64)."""
    k = 0
    while u >= table[k]:
        k += 1
    return k


# ------------------------------------------- 32-bit uniforms of the Poisson inputs, 8 lanes wide
#
# A Poisson input onto a neuron population draws one 32-bit uniform per neuron and step. Drawing
# each from its own SplitMix64 word costs two 64-bit multiplies per neuron, which AVX2 lacks (it
# emulates each with three 32-bit ones, 4 lanes wide): on the cortical circuit that was a third of
# the kernel's time. Instead one word is drawn per (row, step, population, pair of inputs): its
# low and high halves are the step's seeds a and b of the pair's two inputs, and neuron j's
# uniforms are ``mix32(a + LANE[j])`` and ``mix32(b + LANE[j])`` (mod 2**32), where LANE is a
# fixed table of random 32-bit offsets (``lane_offsets``) and ``mix32`` is Wellons' "lowbias32"
# integer hash (hash-prospector, 2018-2020; constants of its improved version): two 32-bit
# multiplies, 8 lanes per AVX2 instruction. Every (row, step) still has its own seeds, so a row's
# draws depend only on its key; the random offsets (not a counter) keep two steps whose seeds
# happen to be close from sharing runs of values. numba types every integer operation at 64 bits
# or more, which keeps LLVM from using 32-bit vector multiplies, so the CPU hash is written as
# LLVM instructions (``numba.extending.intrinsic``); ``mix32_u64`` is the same function in plain
# integer arithmetic (for numba.cuda and its simulator), ``mix32_np``/``torch_mix32`` its twins.
# The statistics of the counts are tested in tests/sim/test_network_input_stream.py.

LB_M1 = 0x21F0AAAD
LB_M2 = 0x735A2D97
LANE_KEY = 0x6A09E667F3BCC909  # the table's stream (the first 64 bits of frac(sqrt(2)))
M32 = 0xFFFFFFFF


def lane_offsets(n: int) -> np.ndarray:
    """The fixed random offsets LANE[0..n) of the input uniforms (uint32)."""
    return (word_np(np.array([LANE_KEY], np.uint64), np.arange(n, dtype=np.uint64))[0]
            & np.uint64(M32)).astype(np.uint32)


@intrinsic
def _xsr32(typingctx, x, s):  # noqa: ARG001
    def cg(context, builder, sig, args):  # noqa: ARG001
        return builder.xor(args[0], builder.lshr(args[0], args[1]))

    return types.uint32(types.uint32, types.uint32), cg


@intrinsic
def _mul32(typingctx, a, b):  # noqa: ARG001
    def cg(context, builder, sig, args):  # noqa: ARG001
        return builder.mul(args[0], args[1])

    return types.uint32(types.uint32, types.uint32), cg


@intrinsic
def add32(typingctx, a, b):  # noqa: ARG001
    """a + b mod 2**32 on uint32 values, kept at 32 bits."""

    def cg(context, builder, sig, args):  # noqa: ARG001
        return builder.add(args[0], args[1])

    return types.uint32(types.uint32, types.uint32), cg


@intrinsic
def flip32(typingctx, x):  # noqa: ARG001
    """u - 2**31 as an int32 (u a uint32): the order of u is the order of the result."""

    def cg(context, builder, sig, args):  # noqa: ARG001
        return builder.xor(args[0], ir.Constant(ir.IntType(32), 0x80000000))

    return types.int32(types.uint32), cg


_U16 = np.uint32(16)
_U15 = np.uint32(15)
_UM1 = np.uint32(LB_M1)
_UM2 = np.uint32(LB_M2)


@njit(inline="always", cache=True)
def mix32(x):
    """lowbias32 of a uint32 (CPU kernels)."""
    x = _mul32(_xsr32(x, _U16), _UM1)
    x = _mul32(_xsr32(x, _U15), _UM2)
    return _xsr32(x, _U15)


@njit(inline="always", cache=True)
def mix32_u64(x):
    """``mix32`` in 64-bit integer arithmetic on a value below 2**32 (numba.cuda); the same
    bits, as a uint64."""
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(LB_M1)) & np.uint64(M32)
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(LB_M2)) & np.uint64(M32)
    return x ^ (x >> np.uint64(15))


def mix32_np(x: np.ndarray) -> np.ndarray:
    """NumPy twin of ``mix32`` (uint32 arrays wrap as the CPU kernel does)."""
    x = np.asarray(x, np.uint32)
    x = (x ^ (x >> np.uint32(16))) * np.uint32(LB_M1)
    x = (x ^ (x >> np.uint32(15))) * np.uint32(LB_M2)
    return x ^ (x >> np.uint32(15))


def input_uniforms_np(keys: np.ndarray, step: int, n_total: int, off: int, pair: int,
                      half: int, n: int) -> np.ndarray:
    """(B, n) 32-bit uniforms of input ``2 * pair + half`` onto the population at ``off`` (size
    n) in ``step`` of a network of ``n_total`` neurons: the definition the kernels implement."""
    w = word_np(keys, np.array([((step * n_total + off) << SUB_BITS) | pair], np.uint64))[:, 0]
    seed = (w >> np.uint64(32 * half)) & np.uint64(M32)
    lane = lane_offsets(off + n)[off:]
    return mix32_np(seed.astype(np.uint32)[:, None] + lane[None, :])


# ---------------------------------------------------------------- torch twin (for device="cuda")


_M1_SIGNED, _M2_SIGNED, _GAMMA_SIGNED = M1 - (1 << 64), M2 - (1 << 64), GAMMA - (1 << 64)


def torch_mix64(z):
    """``mix64`` on int64 torch tensors (two's-complement wrap-around = uint64 arithmetic)."""

    def srl(x, s):  # logical right shift on int64
        return (x >> s) & ((1 << (64 - s)) - 1)

    # the multipliers as Python ints in int64 range: a scalar operand, no host-to-GPU copy
    z = (z ^ srl(z, 30)) * _M1_SIGNED
    z = (z ^ srl(z, 27)) * _M2_SIGNED
    return z ^ srl(z, 31)


def torch_word(key, counter):
    """``word`` on int64 tensors; ``key`` and ``counter`` broadcast."""
    return torch_mix64(key + counter * _GAMMA_SIGNED)


def as_signed64(u: np.ndarray) -> np.ndarray:
    """View uint64 values as int64 (same bits) for torch, which lacks full uint64 arithmetic."""
    return np.asarray(u, dtype=np.uint64).view(np.int64)


@njit(inline="always", cache=True)
def normal(key, counter):
    """A standard normal deviate at position ``counter`` of the stream ``key`` (Box-Muller on
    two words, at counters 2c and 2c + 1; the cosine branch only, so draws are independent)."""
    u1 = unit_float(word(key, np.uint64(2) * counter))
    u2 = unit_float(word(key, np.uint64(2) * counter + np.uint64(1)))
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


def torch_mix32(x):
    """``mix32`` on int64 tensors holding values below 2**32 (the same bits)."""
    x = x ^ (x >> 16)
    x = (x * LB_M1) & M32
    x = x ^ (x >> 15)
    x = (x * LB_M2) & M32
    return x ^ (x >> 15)
