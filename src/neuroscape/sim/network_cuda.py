"""CUDA back end of the network engine: one fused kernel per network description, one GPU thread
per batch row (a parameter set), the whole time loop in the thread, the graph shared by all rows.

Why numba.cuda (not Triton or a CuPy raw kernel): the CPU kernel is already generated numba source
(``network_engine._Gen``) that calls the populations' @njit step, threshold and reset functions, the
helpers of ``network_kernels`` and the counter-based generator of ``core.rng``. The same generator
writes the CUDA kernel from the same row body (``_Gen(..., target="cuda")``): ``@cuda.jit`` with
``b = cuda.grid(1)`` instead of ``@njit(nogil=True)`` with ``for b in range(row_lo, row_hi)``.
CPU and GPU thus share the declaration (Brian2's order of a step, delays, STP, STDP, modulators,
inputs, outputs and records) and the random streams: row r draws from the stream (seed, r) at the
same counters with the same 64-bit integer hash, so its random integers are identical, bit for bit.
Triton works on blocks of tensors (a per-row time loop over spike lists, queues and data-dependent
branches does not fit it), and a CuPy raw kernel would be a second copy of every network feature in
CUDA C. The torch back end (``network_torch``) runs the same step as many small tensor operations
per step, one launch each.

What differs on the GPU (the generator's ``cuda`` flag; the CPU source is unchanged): device
code allocates nothing, so a row's arrays (states, spike lists, refractory counters, synaptic
variables, delay queues and buffers) are slices of scratch arrays this launcher allocates with
the rows last (neighbouring threads read neighbouring words); ``np.all(np.isfinite(...))`` is a
loop of ``math.isfinite``; the helpers that take arrays (``add_dense``, ``add_spikes``,
``push_spikes``, ``core.rng.poisson_from_table``) are the same Python functions compiled as
device functions; the scalar @njit functions (the generator, the populations' steps) compile
for the GPU as they are. On a GPU, libdevice's exp/log and NVVM's contraction of a*b + c into
one fused multiply-add may round differently from the CPU in the last bit, so states agree to
rounding and a spike near threshold may move; the random integers do not change.

Routing (``NetworkBatch.run_chunk``): "cuda"/"cuda:N" come here where numba.cuda runs (a GPU
with its driver, or the simulator); "torch-cpu", and "cuda" where numba.cuda finds no GPU, stay
on the torch back end. Not supported here (the run goes to the torch back end, with a
``FusedKernelFallback`` warning naming the reason): populations of hand-written models (their
@njit functions are not checked for the CUDA target).

Parallelism is over rows only: a chunk of B rows is B threads, so a GPU is busy from some
thousands of rows on, and rows whose spikes differ take different branches within a warp. A
network of many neurons run for few rows would want threads over neurons too (not written).

Where it has run: on this project's development machines only in numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``: the kernel's Python source run thread by thread on the CPU; the
tests compare it with the CPU kernel row by row) and through ``ptx`` (the kernel compiled to PTX
by NVVM, without a GPU). It has never run on a GPU; no timing on one exists.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from neuroscape.core.settings import Recording, SettingsError, SimSettings
from neuroscape.sim.neuron_cuda import available, simulator  # one check for both engines

THREADS = 64  # threads (rows) per block
# arrays the kernel writes (copied back to the host after the launch)
OUTPUTS = ("cnt", "ok", "spk_step", "spk_idx", "spk_n", "vtrace")
_OUTPUT_RE = re.compile(r"O\d+_(cnt|isi|bins)|W_.*|R_.*")


class FusedKernelFallback(UserWarning):
    """A network on a CUDA device runs on the torch back end: the fused kernel lacks something
    the description uses (the message names it)."""


def device_index(device: str) -> int:
    """The GPU number of "cuda" (0) or "cuda:N" (one line for anything else)."""
    m = re.fullmatch(r"cuda(?::(\d+))?", device or "")
    if m is None:
        raise SettingsError(f"unknown device {device!r}; allowed: cpu, torch-cpu, cuda, cuda:N")
    return int(m.group(1) or 0)


def routes(device: str) -> bool:
    """Whether a network on ``device`` goes to the fused kernel: "cuda"/"cuda:N" where numba.cuda
    runs (a GPU or its simulator); "torch-cpu" and machines without either stay on torch."""
    return re.fullmatch(r"cuda(?::\d+)?", device or "") is not None and available()


def unsupported(batch, settings: SimSettings) -> str | None:
    """Why the fused kernel cannot run ``batch`` (a ``NetworkBatch``) under ``settings``, in a
    few words; None when it can."""
    for p in batch.model.populations:
        if p.model is not None and p.model.equations is None:
            return (f"population {p.name}: model {p.model.name} is hand-written (its @njit "
                    "functions are not checked for the CUDA target)")
    return None


def warn_fallback(model, device: str, why: str) -> None:
    """Say that a network on ``device`` runs on the torch back end, and why."""
    warnings.warn(
        f"{getattr(model, 'origin', model.name)}: device={device!r}: the fused CUDA kernel "
        f"does not run this network ({why}); running it on the torch back end",
        FusedKernelFallback, stacklevel=3)


def device_word():
    """``core.rng.word`` for the generated CUDA kernel: the @njit function itself, which
    numba.cuda compiles for the GPU. Under the simulator the kernel is Python calling it, which
    boxes its uint64 result as a Python int that the next @njit call would type as int64 (an
    overflow for half the words); there it is wrapped to return a np.uint64 (the same bits)."""
    from neuroscape.core.rng import word

    if not simulator():
        return word

    def word_sim(key, counter):
        return np.uint64(word(key, counter))

    return word_sim


def _dim(expr: str, vals: dict) -> int:
    """One dimension of a scratch array from the generator's shape expression: a number,
    ``NAME.shape[0]`` or ``NAME + 1`` of a kernel argument."""
    if expr.isdigit():
        return int(expr)
    m = re.fullmatch(r"(\w+)\.shape\[0\]", expr)
    if m:
        return int(np.shape(vals[m.group(1)])[0])
    m = re.fullmatch(r"(\w+) \+ 1", expr)
    if m:
        return int(vals[m.group(1)]) + 1
    raise ValueError(f"scratch dimension {expr!r} not understood")  # a generator bug


def scratch_shapes(gen, vals: dict, b: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of every scratch argument of ``gen``'s CUDA kernel for ``b`` rows: the
    row's array's shape with the rows last."""
    out = {}
    for name, (shape, dtype) in gen.scratch.items():
        out[name] = ((*(_dim(x, vals) for x in shape), b), np.dtype(dtype.removeprefix("np.")))
    return out


def is_output(name: str) -> bool:
    """Whether the kernel writes argument ``name`` (it is copied back after the launch)."""
    return name in OUTPUTS or _OUTPUT_RE.fullmatch(name) is not None


def launch(kern, gen, vals: dict, b: int, device: str) -> None:
    """Run ``gen``'s CUDA kernel ``kern`` on ``b`` rows on ``device`` with the arguments
    ``vals`` (host arrays and scalars, as the CPU kernel takes them); the outputs are written
    back into their host arrays."""
    from numba import cuda

    gpu = device_index(device)
    n = 1 if simulator() else len(cuda.gpus)
    if gpu >= n:
        raise SettingsError(
            f"device={device!r} asked for, but {n} CUDA GPU(s) are available; allowed here: "
            "cpu, torch-cpu, cuda" + "".join(f", cuda:{k}" for k in range(n)))
    if b == 0:
        return
    if not simulator():
        _register_math()
    shapes = scratch_shapes(gen, vals, b)
    with cuda.gpus[gpu]:
        dev = {}
        for a in gen.args:
            if a in shapes:
                dev[a] = cuda.device_array(*shapes[a])
            elif isinstance(vals[a], np.ndarray):
                dev[a] = cuda.to_device(np.ascontiguousarray(vals[a]))
            else:
                dev[a] = vals[a]
        kern[math.ceil(b / THREADS), THREADS](*[dev[a] for a in gen.args])
        for a in gen.args:
            if is_output(a):
                dev[a].copy_to_host(vals[a])


def _register_math() -> None:
    """numpy's scalar math (np.exp ...) and the builtin min/max of two float64 for numba's CUDA
    target: the neuron engine's CUDA back end registers them (``neuron_cuda``)."""
    from neuroscape.sim.neuron_cuda import register_numpy_math

    register_numpy_math()


def ptx(batch, params=None, *, settings: SimSettings | None = None,
        recording: Recording | None = None, cc: tuple[int, int] = (9, 0)) -> str:
    """The fused kernel of ``batch`` (a ``NetworkBatch``) for the rows ``params`` compiled to PTX
    for compute capability ``cc`` by NVVM, without a GPU: a check that it compiles for one
    (needs libnvvm from a CUDA toolkit, found by numba through CUDA_HOME; not in the
    simulator). The argument types are those ``launch`` passes."""
    from numba import typeof
    from numba.core import types

    from neuroscape.core.rng import row_keys

    if simulator():
        raise SettingsError("ptx needs numba's real CUDA target; NUMBA_ENABLE_CUDASIM is set")
    arr = batch.spec.params_array(params)
    settings = settings if settings is not None else SimSettings.for_model(batch.spec)
    out: dict = {}

    def capture(kern, gen, vals, b, device):
        shapes = scratch_shapes(gen, vals, b)
        sig = []
        for a in gen.args:
            if a in shapes:
                shape, dt = shapes[a]
                sig.append(types.Array(typeof(dt.type(0)), len(shape), "C"))
            else:
                v = vals[a]
                sig.append(typeof(np.ascontiguousarray(v)) if isinstance(v, np.ndarray)
                           else typeof(v))
        out["ptx"] = _compile_ptx(kern.py_func, tuple(sig), cc)

    batch._run(arr, row_keys(0, np.arange(len(arr))), settings, recording or Recording(),
               "cuda", launcher=capture)
    return out["ptx"]


def _compile_ptx(pyfunc, sig, cc):
    from numba import cuda

    _register_math()
    if available():
        return cuda.compile_ptx(pyfunc, sig, cc=cc)[0]
    # without a GPU: numba compiles the device functions of its overloads (the builtin min and
    # max) for the current device's compute capability; give it ``cc`` for this compile
    from numba.cuda import dispatcher

    class _Device:
        compute_capability = cc

    saved = dispatcher.get_current_device
    dispatcher.get_current_device = _Device
    try:
        return cuda.compile_ptx(pyfunc, sig, cc=cc)[0]
    finally:
        dispatcher.get_current_device = saved
