"""CUDA back end of the single-neuron engine: one fused kernel per (model, scheme), one GPU
thread per batch row (a parameter set and its stimulus row), the whole time loop in the thread.

Why numba.cuda (not Triton or a CuPy raw kernel): the CPU kernels are already generated numba
source (``neuron_engine.generate_source``) that calls the model's @njit functions, the scheme's
generated step and ``core.stimuli.stimulus_current`` with the counter-based generator of
``core.rng``. The same generated row body compiles for the GPU: ``generate_source(model,
scheme, target="cuda")`` wraps it in ``@cuda.jit`` with b = ``cuda.grid(1)`` instead of
``@njit(nogil=True)`` with ``for b in range(row_lo, row_hi)``, and nothing else differs. CPU and GPU
thus share the model's declaration, the integrator's stage code, the spike and reset logic and
the random streams: row r draws from the stream (seed, r) with the same 64-bit integer hash, bit
for bit. Triton works on blocks of tensors (a per-row time loop with data-dependent branches,
resets and Poisson searches does not fit it), and a CuPy raw kernel would be a second copy of
every model and scheme in CUDA C.

What differs on the GPU: the scalar ``np.exp``/``np.log``/``np.sqrt``/``np.cos``/``np.expm1``
... that the shared @njit helpers call are lowered to libdevice (registered here, for float64
scalars, by ``register_numpy_math``); libdevice's exp/log/cos may differ from libm's in the last
bit, so states and spike times agree with the CPU to rounding (a noisy stimulus's Gaussian
draws too), while the random integers are identical. Arithmetic is float64 throughout. The
kernel allocates nothing: spike times go to a buffer of fixed width per row; rows whose spikes
overflow it are run again with a buffer of their size (the CPU engine's rule, shared code in
``neuron_engine.simulate_neurons``).

Schemes: the row-by-row ones (explicit Runge-Kutta, exponential Euler, exact, the gate-table
schemes). dopri5's lane kernel runs on the CPU only: chosen on a CUDA device it is refused in
one line (as on the torch back end); as a model's declared default it gives way to the
staggered gate tables, else rk4 (``neuron_engine.device_integrator``). The vectorized block
kernel of the CPU (gate tables under a step or ramp, agreeing with the row kernel to 1e-8 mV)
is not used here: every row runs the row kernel.

Where it has run: on this project's development machines only in numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``: the kernel's Python source run thread by thread on the CPU) and
through ``ptx`` (the kernel compiled to PTX by NVVM, without a GPU); no timing on a GPU exists
yet.
"""

from __future__ import annotations

import importlib
import math
import operator
import re
import warnings
from pathlib import Path

import numpy as np

from neuroscape.core import integrators as integrators_mod
from neuroscape.core import rng as rng_mod
from neuroscape.core import stimuli as stimuli_mod
from neuroscape.core.settings import SettingsError
from neuroscape.models.equations.gates import DOPRI5, scheme_name
from neuroscape.models.neuron import NeuronModel

THREADS = 128  # threads (rows) per block
# numpy functions on float64 scalars that the shared @njit helpers call (core.stimuli,
# core.integrators, the staggered step): numba.cuda has math.* but not these
NUMPY_MATH = ("exp", "log", "sqrt", "cos", "sin", "expm1", "log1p", "tanh")
_REGISTERED = False
_KERNELS: dict[tuple[str, str], object] = {}


def simulator() -> bool:
    """Whether numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1 before numba.cuda was
    imported): kernels then run as Python on the CPU."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def available() -> bool:
    """Whether numba.cuda can run a kernel here: a CUDA GPU with its driver, or the simulator."""
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken driver install means: not available
        return False


def unsupported() -> str | None:
    """Why the fused kernel cannot compile here although numba.cuda sees a GPU (None: it can):
    numba needs libNVVM from a CUDA toolkit, which a GPU driver (or PyTorch's wheels) alone
    does not bring."""
    if simulator():
        return None
    from numba.cuda.cudadrv import nvvm

    if not nvvm.is_available():
        return "numba.cuda finds no libNVVM: install a CUDA toolkit or set CUDA_HOME to one"
    return None


def warn_fallback(model: NeuronModel, device: str, why: str) -> None:
    """Say that neurons on ``device`` run on the torch back end, and why."""
    from neuroscape.sim.network_cuda import FusedKernelFallback

    warnings.warn(
        f"{model.name}: device={device!r}: the fused CUDA kernel cannot run here ({why}); "
        "running on the torch back end", FusedKernelFallback, stacklevel=3)


def device_index(device: str) -> int:
    """The GPU number of "cuda" (0) or "cuda:N" (one line for anything else)."""
    m = re.fullmatch(r"cuda(?::(\d+))?", device or "")
    if m is None:
        raise SettingsError(f"unknown device {device!r}; allowed: cpu, torch-cpu, cuda, cuda:N")
    return int(m.group(1) or 0)


def _table_arg():
    """``table_arg(tab)``: on the GPU the array itself (an inlined identity); in the simulator
    the numpy array behind its kernel-side wrapper, which numba's @njit step (taking the gate
    table) cannot type."""
    if simulator():
        def unwrap(a):
            return a._item._ary

        return unwrap
    from numba import njit

    @njit(inline="always")
    def same(a):
        return a

    return same


table_arg = _table_arg()


def register_numpy_math() -> None:
    """Type and lower ``np.<f>`` (f in NUMPY_MATH) and ``np.isfinite`` on float64 scalars for
    the CUDA target, as libdevice's functions (those of ``math.<f>``), and the builtin min and
    max of two float64, so that the @njit helpers the kernel shares with the CPU compile for
    the GPU unchanged. Once per process; not needed (and skipped) in the simulator."""
    global _REGISTERED
    if _REGISTERED or simulator():
        return
    from numba.core import types
    from numba.core.typing.templates import ConcreteTemplate, signature
    from numba.cuda import cudamath, libdevice, mathimpl

    def typing(fn, ret):
        cls = type(f"_Np_{fn.__name__}", (ConcreteTemplate,), {
            "key": fn, "cases": [signature(ret, types.float64)]})  # fmt: skip
        cudamath.registry.register_global(fn)(cls)

    for name in NUMPY_MATH:
        fn = getattr(np, name)
        typing(fn, types.float64)
        mathimpl.impl_unary(fn, types.float64, getattr(libdevice, name))
    typing(np.isfinite, types.boolean)
    mathimpl.impl_boolean(np.isfinite, types.float64, libdevice.isfinited)
    # the builtin min and max of two float64 (the models' min(V_th, V), the kernel's clamps):
    # numba 0.68 types them by an overload with *args, which its CUDA target fails to compile
    # ("Signature mismatch"); here the CPU target's own lowering (numba's do_minmax)
    from numba.cpython.builtins import do_minmax

    for fn, op in ((min, operator.lt), (max, operator.gt)):
        two = signature(types.float64, types.float64, types.float64)
        cls = type(f"_F64_{fn.__name__}", (ConcreteTemplate,), {"key": fn, "cases": [two]})
        cudamath.registry.register_global(fn)(cls)

        def lower(context, builder, sig, args, op=op):
            return do_minmax(context, builder, list(sig.args), list(args), op)

        mathimpl.registry.lower(fn, types.float64, types.float64)(lower)
    _REGISTERED = True


def _module(model: NeuronModel, scheme: str):
    """The generated CUDA kernel module, cached by content like the CPU kernels
    (``core.codegen.load_generated``: its file name hashes the source and what it imports)."""
    from neuroscape.core.codegen import load_generated
    from neuroscape.sim.neuron_engine import generate_source

    src = generate_source(model, scheme, target="cuda")
    key = (model.module, src)
    if key not in _KERNELS:
        deps = [Path(__file__), Path(__file__).with_name("neuron_engine.py"),
                importlib.import_module(model.module).__file__, stimuli_mod.__file__,
                rng_mod.__file__, integrators_mod.__file__]  # fmt: skip
        _KERNELS[key] = load_generated(f"{model.name}_{scheme}_cuda", src, deps)
    return _KERNELS[key]


class RowKernel:
    """The CUDA kernel of one (model, scheme) behind the CPU row kernel's call
    (``neuron_engine.ROW_KERNEL_ARGS``): host arrays in, results written into the host output
    arrays. ``gpu``: the device number."""

    INPUTS = ("params", "y_init", "stim", "keys", "n_held", "tab", "t_ref")
    OUTPUTS = ("counts", "spk_t", "spk_n", "vtrace", "ok", "fast")

    def __init__(self, kernel, gpu: int = 0) -> None:
        self.kernel = kernel
        self.gpu = gpu

    def __call__(self, params, y_init, kind, stim, keys, n_steps, dt, rec_start, n_held, level,
                 counts, spk_t, spk_n, vtrace, rec_every, ok, tab, v_min, inv_h, fast, t_ref):
        from numba import cuda

        host = dict(params=params, y_init=y_init, stim=stim, keys=keys, n_held=n_held, tab=tab,
                    t_ref=t_ref, counts=counts, spk_t=spk_t, spk_n=spk_n, vtrace=vtrace, ok=ok,
                    fast=fast)  # fmt: skip
        n = params.shape[0]
        if n == 0:
            return
        with cuda.gpus[self.gpu]:
            # outputs go over too: the spike buffer starts as NaN, the rest as the caller set it
            d = {k: cuda.to_device(np.ascontiguousarray(v)) for k, v in host.items()}
            blocks = math.ceil(n / THREADS)
            self.kernel[blocks, THREADS](
                d["params"], d["y_init"], int(kind), d["stim"], d["keys"], int(n_steps),
                float(dt), int(rec_start), d["n_held"], float(level), d["counts"], d["spk_t"],
                d["spk_n"], d["vtrace"], int(rec_every), d["ok"], d["tab"], float(v_min),
                float(inv_h), d["fast"], d["t_ref"],
            )  # fmt: skip
            for k in self.OUTPUTS:
                d[k].copy_to_host(host[k])


def get_cuda_kernel(model: NeuronModel, integrator: str, device: str = "cuda") -> RowKernel:
    """The fused kernel of ``model`` under ``integrator`` (a row-by-row scheme) on ``device``
    ("cuda" or "cuda:N"), called like the CPU row kernel."""
    from numba import cuda

    scheme = scheme_name(integrator)
    if scheme == DOPRI5:  # simulate_neurons refuses it before; a direct caller is told why
        raise SettingsError("integrator 'dopri5' runs on the CPU only (its lane kernel)")
    gpu = device_index(device)
    n = 1 if simulator() else len(cuda.gpus)
    if gpu >= n:
        raise SettingsError(
            f"device={device!r} asked for, but {n} CUDA GPU(s) are available; allowed here: "
            "cpu, torch-cpu, cuda" + "".join(f", cuda:{k}" for k in range(n))
        )
    register_numpy_math()
    return RowKernel(_module(model, scheme).run, gpu)


def ptx(model: NeuronModel, integrator: str, cc: tuple[int, int] = (9, 0)) -> str:
    """The kernel of ``model`` under ``integrator`` compiled to PTX for compute capability
    ``cc`` by NVVM, without a GPU (a check that it compiles for one; needs libnvvm from a CUDA
    toolkit, found by numba through CUDA_HOME; not in the simulator)."""
    from numba import cuda
    from numba.core import types

    if simulator():
        raise SettingsError("ptx needs numba's real CUDA target; NUMBA_ENABLE_CUDASIM is set")
    register_numpy_math()
    f64, i64 = types.float64, types.int64
    arr = types.Array
    sig = (
        arr(f64, 2, "C"), arr(f64, 2, "C"), i64, arr(f64, 2, "C"), arr(types.uint64, 1, "C"),
        i64, f64, i64, arr(i64, 1, "C"), f64, arr(i64, 1, "C"), arr(f64, 2, "C"),
        arr(i64, 1, "C"), arr(f64, 3, "C"), i64, arr(types.boolean, 1, "C"), arr(f64, 2, "C"),
        f64, f64, arr(i64, 1, "C"), arr(f64, 1, "C"),
    )  # fmt: skip
    kernel = _module(model, scheme_name(integrator)).run
    if available():
        return cuda.compile_ptx(kernel.py_func, sig, cc=cc)[0]
    # without a GPU: numba compiles the device functions of its overloads (the builtin min and
    # max) for the current device's compute capability; give it ``cc`` for this compile
    from numba.cuda import dispatcher

    class _Device:
        compute_capability = cc

    saved = dispatcher.get_current_device
    dispatcher.get_current_device = _Device
    try:
        return cuda.compile_ptx(kernel.py_func, sig, cc=cc)[0]
    finally:
        dispatcher.get_current_device = saved
