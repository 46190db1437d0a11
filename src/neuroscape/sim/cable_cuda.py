"""CUDA back end of the cable engine: the batched Hines solve of multi-compartment cells on a GPU,
one thread per row (a parameter set on the batch's shared morphology), the whole time loop in
the thread (Hines 1984; NEURON's fixed step as in ``cable_engine``).

The kernel is generated from the cell's mechanisms by the CPU kernel's own code
(``cable_engine._MechCode``: the same renamed expressions of hh, pas and the cell's channels
written as equations, the same constant folding, the same statement order), so CPU and GPU share
the model's declaration and its arithmetic, operation by operation: the initial state, the
currents at V(t) with the staggered gates, the stimulus at t + dt/2
(``core.stimuli.stimulus_current``, the @njit function the CPU kernels call, with row r's noise
from the stream (seed, r)), the elimination from the leaves and the back substitution, NEURON's
``cnexp`` gate step, the interpolated 0-mV crossings at soma(0.5) and the recorded samples.
Only the layout differs: every per-row array lives in global memory as [node, row] (or
[instance, column, row]), so the 32 threads of a warp, on 32 neighbouring rows, read and write
32 neighbouring float64 at each statement; the recorded V and the spike buffer are [.., row] on
the device too and transposed to the CPU kernel's (row, ..) layout on the way back.

Why numba.cuda (as for ``neuron_cuda``): the CPU kernel is generated numba source that calls
@njit helpers (hh's vtrap, a channel's exprel, the stimulus and its counter-based generator);
the same text compiles for the GPU, where the numpy functions the helpers call lower to
libdevice (``neuron_cuda.register_numpy_math``). A batched tridiagonal solver of a library
(cuSPARSE's gtsv2StridedBatch) solves a chain, not a tree, and would leave the channels and the
time loop outside, one launch per step; here the whole step is one thread's work.

Agreement with the CPU: in numba's CUDA simulator (Python arithmetic, libm's exp) the tests find
V and spike times equal to the CPU kernel's to the bit. On a GPU, libdevice's exp/pow may differ
from libm's in the last bit and NVVM contracts a*b + c into fused multiply-adds, so rows agree
to round-off, amplified near a spike's upstroke; this has not yet been measured on a GPU.

Where it has run: in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) and through ``ptx``
(compiled to PTX by NVVM, without a GPU); no timing on a GPU exists yet.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from neuroscape.core import rng as rng_mod
from neuroscape.core import stimuli as stimuli_mod
from neuroscape.core.settings import SettingsError
from neuroscape.models.multicomp.mechanisms import Mechanism
from neuroscape.sim import cable_engine
from neuroscape.sim.cable_engine import SPIKE_LEVEL_MV, _as_mechanisms, _MechCode, module_head
from neuroscape.sim.neuron_cuda import available, register_numpy_math, simulator

THREADS = 128  # threads (rows) per block


class _CudaMechCode(_MechCode):
    """``_MechCode``'s statements for one row per thread: the row ``r`` in place of the CPU
    block's lane loop; per-instance arrays [instance, column, row], node arrays [node, row]."""

    LANE = "r"
    DEPTH = 4

    def _lane_head(self, ind: str) -> list[str]:
        return [f"{ind}    vv = v[i, r]"]  # cel_l: the thread's, set once

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Columns of its per-instance work arrays: inputs, gates, constant rates (>= 1)."""
        return len(self.m.inputs), max(len(self.m.gates), 1), max(len(self.const_order), 1)


def _codes(mechs: list[str | Mechanism]) -> list[_CudaMechCode]:
    return [_CudaMechCode(m, f"m{j}_{m.name}") for j, m in enumerate(_as_mechanisms(mechs))]


# the work arrays the launch allocates on the device, [node, row]
_NODE_WORK = ("af", "G", "v", "d", "rhs", "gc", "ie", "dbase")


def generate_source(mechs: list[str | Mechanism]) -> str:
    """The CUDA kernel module's source for a cell with the mechanisms ``mechs`` (as
    ``cable_engine.generate_source``): ``run(...)``, row r = cuda.grid(1); the CPU kernel's
    inputs, its outputs in [.., row] layout (vrec (n_rec, n_samples, B), spk_t (cap, B)), then
    the work arrays (``_NODE_WORK`` [node, row]; per mechanism par_b, st, cst [instance, column,
    row])."""
    codes = _codes(mechs)
    margs = "".join(f"idx_{c.prefix}, par_{c.prefix}, " for c in codes)
    work = [*_NODE_WORK, *[f"{a}_{c.prefix}" for c in codes for a in ("par_b", "st", "cst")]]
    names = ", ".join(c.m.name for c in codes) or "(none)"
    lvl = repr(SPIKE_LEVEL_MV)
    body = module_head(f"cable kernel for CUDA, mechanisms {names}",
                       ["from numba import cuda, njit", "",
                        "from neuroscape.core.stimuli import stimulus_current"], codes)  # fmt: skip
    body += [
        "",
        "@cuda.jit(cache=True)",
        f"def run(parent, area_f, cap, gax, celsius, v_init, {margs}row_of,",
        "        stim_node, kind, stim, keys, n_steps, dt, second, rec_nodes, rec_every, vrec,",
        f"        spike_node, spk_t, spk_n, {', '.join(work)}):",
        "    r = cuda.grid(1)",
        "    n_rows = keys.shape[0]",
        "    if r < n_rows:",
        "        N = parent.shape[0]",
        "        cj = (2.0 if second else 1.0) / dt",
        "        fac = 2.0 if second else 1.0",
        "        max_spk = spk_t.shape[0]",
        "        n_rec = rec_nodes.shape[0]",
        "        bg = row_of[0, r]",
        "        cel_l = celsius[row_of[1, r]]",
        "        v0 = v_init[row_of[2, r]]",
        "        for i in range(N):",
        "            af[i, r] = area_f[bg, i]",
        "            G[i, r] = gax[bg, i]",
        "            v[i, r] = v0",
        "            gc[i, r] = 0.0",
        "            ie[i, r] = 0.0",
    ]
    for j, c in enumerate(codes):
        p = c.prefix
        body += [
            f"        bp = row_of[{3 + j}, r]",
            f"        for k in range(idx_{p}.shape[0]):",
            f"            for q in range({c.sizes[0]}):",
            f"                par_b_{p}[k, q, r] = par_{p}[bp, k, q]",
        ]
        body += c.init_lines("        ")
    body += [
        "        for i in range(N):",
        "            dbase[i, r] = cj * cap[bg, i] + gc[i, r] + G[i, r]",
        "        for i in range(1, N):",
        "            dbase[parent[i], r] += G[i, r]",
        "        s0, s1, s2, s3 = stim[r, 0], stim[r, 1], stim[r, 2], stim[r, 3]",
        "        key = keys[r]",
        "        isyn = 0.0",
        "        nsp = 0",
        "        for q in range(n_rec):",
        "            vrec[q, 0, r] = v[rec_nodes[q], r]",
        "        for s in range(n_steps):",
        "            t = s * dt",
        "            for i in range(N):",
        "                d[i, r] = dbase[i, r]",
        "                rhs[i, r] = ie[i, r] - gc[i, r] * v[i, r]",
    ]
    for c in codes:
        body += c.current_lines("            ")
    body += [
        "            if stim_node >= 0:",
        "                cur, isyn = stimulus_current(kind, s0, s1, s2, s3, t + 0.5 * dt, dt, s,",
        "                                             key, isyn, v[stim_node, r])",
        "                rhs[stim_node, r] += cur",
        # Hines (1984), as the CPU kernel: eliminate from the leaves, d[i] then holds 1/d[i]
        "            for i in range(N - 1, 0, -1):",
        "                p = parent[i]",
        "                g = G[i, r]",
        "                ia = g * (v[p, r] - v[i, r])",
        "                ri = rhs[i, r] + ia",
        "                inv = 1.0 / d[i, r]",
        "                f = g * inv",
        "                d[i, r] = inv",
        "                rhs[i, r] = ri",
        "                d[p, r] -= f * g",
        "                rhs[p, r] += f * ri - ia",
        "            v_old = v[spike_node, r]",
        "            x = rhs[0, r] / d[0, r]",
        "            rhs[0, r] = x",
        "            v[0, r] += fac * x",
        "            for i in range(1, N):",
        "                p = parent[i]",
        "                x = (rhs[i, r] + G[i, r] * rhs[p, r]) * d[i, r]",
        "                rhs[i, r] = x",
        "                v[i, r] += fac * x",
    ]
    for c in codes:
        body += c.state_lines("            ")
    body += [
        "            v_new = v[spike_node, r]",
        f"            if v_old < {lvl} and v_new >= {lvl}:",
        "                if nsp < max_spk:",
        f"                    spk_t[nsp, r] = t + dt * ({lvl} - v_old) / (v_new - v_old)",
        "                nsp += 1",
        "            if (s + 1) % rec_every == 0:",
        "                for q in range(n_rec):",
        "                    vrec[q, (s + 1) // rec_every, r] = v[rec_nodes[q], r]",
        "        spk_n[r] = nsp",
        "",
    ]
    return "\n".join(body)


def _module(mechs: list[str | Mechanism]):
    """The generated module, cached by its source's content (and the files it depends on)."""
    deps = [Path(__file__), cable_engine.__file__, stimuli_mod.__file__, rng_mod.__file__]
    return cable_engine.load_kernel_module("cable_cuda_", generate_source(mechs), mechs, deps)


class CableKernel:
    """The CUDA kernel of one mechanism set behind the CPU kernel's call
    (``cable_engine.get_kernel(mechs)(...)``, the same arguments): host arrays in, results
    written into the host output arrays ``vrec``, ``spk_t`` and ``spk_n``. ``gpu``: the device
    number; ``threads``: rows per block (a row's result does not depend on it)."""

    # the CPU kernel's arguments after the mechanisms' (idx, par) pairs
    TAIL = ("row_of", "stim_node", "kind", "stim", "keys", "n_steps", "dt", "second",
            "rec_nodes", "rec_every", "vrec", "spike_node", "spk_t", "spk_n")  # fmt: skip

    def __init__(self, module, codes: list[_CudaMechCode], gpu: int = 0,
                 threads: int = THREADS) -> None:  # fmt: skip
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
            raise SettingsError(f"threads={threads!r}; allowed: a whole number in 1..1024")
        self.kernel = module.run
        self.codes = codes
        self.gpu = gpu
        self.threads = threads

    def _split(self, args: tuple):
        n_m = 2 * len(self.codes)
        if len(args) != 6 + n_m + len(self.TAIL):
            raise TypeError(f"the cable kernel takes {6 + n_m + len(self.TAIL)} arguments, "
                            f"got {len(args)}")  # fmt: skip
        return args[:6], args[6:6 + n_m], dict(zip(self.TAIL, args[6 + n_m:], strict=True))

    def _arguments(self, args: tuple, put, zeros, empty) -> tuple[list, dict]:
        """The kernel's arguments: inputs through ``put`` (to the device), the outputs from
        ``zeros(shape, dtype)``, the work arrays from ``empty(shape, dtype)``."""
        head, margs, a = self._split(args)
        b = a["keys"].shape[0]
        n = head[0].shape[0]
        vrec, spk_t = a["vrec"], a["spk_t"]
        out = {"vrec": zeros((vrec.shape[1], vrec.shape[2], b), np.float64),
               "spk_t": zeros((spk_t.shape[1], b), np.float64),
               "spk_n": zeros((b,), np.int64)}  # fmt: skip
        work = [empty((n, b), np.float64) for _ in _NODE_WORK]
        for c, idx in zip(self.codes, margs[0::2], strict=True):
            k = max(idx.shape[0], 1)
            work += [empty((k, s, b), np.float64) for s in c.sizes]
        call = [put(x) for x in (*head, *margs)]
        call += [put(a["row_of"]), int(a["stim_node"]), int(a["kind"]), put(a["stim"]),
                 put(a["keys"]), int(a["n_steps"]), float(a["dt"]), bool(a["second"]),
                 put(a["rec_nodes"]), int(a["rec_every"]), out["vrec"], int(a["spike_node"]),
                 out["spk_t"], out["spk_n"], *work]  # fmt: skip
        return call, out

    def __call__(self, *args) -> None:
        from numba import cuda

        _, _, a = self._split(args)
        b = a["keys"].shape[0]
        if b == 0:
            return
        with cuda.gpus[self.gpu]:
            def put(x):
                return cuda.to_device(np.ascontiguousarray(x))

            def zeros(shape, dtype):
                return cuda.to_device(np.zeros(shape, dtype))

            call, out = self._arguments(args, put, zeros, cuda.device_array)
            self.kernel[math.ceil(b / self.threads), self.threads](*call)
            a["vrec"][...] = out["vrec"].copy_to_host().transpose(2, 0, 1)
            a["spk_t"][...] = out["spk_t"].copy_to_host().T
            out["spk_n"].copy_to_host(a["spk_n"])

    def ptx(self, *args, cc: tuple[int, int] = (9, 0)) -> str:
        """The kernel compiled to PTX for compute capability ``cc`` by NVVM for these (host)
        arguments, without a GPU (a check that it compiles for one; needs libnvvm from a CUDA
        toolkit, found by numba through CUDA_HOME; not in the simulator). Launches nothing."""
        from numba import cuda, typeof

        if simulator():
            raise SettingsError("ptx needs numba's real CUDA target; NUMBA_ENABLE_CUDASIM is set")
        register_numpy_math()
        call, _ = self._arguments(args, np.ascontiguousarray, np.zeros, np.empty)
        sig = tuple(typeof(x) for x in call)
        if cuda.is_available():
            return cuda.compile_ptx(self.kernel.py_func, sig, cc=cc)[0]
        from numba.cuda import dispatcher  # without a GPU: numba asks the device's cc

        class _Device:
            compute_capability = cc

        saved = dispatcher.get_current_device
        dispatcher.get_current_device = _Device
        try:
            return cuda.compile_ptx(self.kernel.py_func, sig, cc=cc)[0]
        finally:
            dispatcher.get_current_device = saved


def get_cuda_kernel(mechs: list[str | Mechanism], device: str = "cuda",
                    threads: int = THREADS) -> CableKernel:  # fmt: skip
    """The CUDA kernel for the mechanism set ``mechs`` on ``device`` ("cuda" or "cuda:N"),
    called like ``cable_engine.get_kernel(mechs)`` (cached by the source's content); one line
    where that GPU is not there (numba.cuda finds no driver, or fewer GPUs)."""
    m = re.fullmatch(r"cuda(?::(\d+))?", device) if isinstance(device, str) else None
    if m is None:
        raise SettingsError(f"unknown device {device!r} for a cell; allowed: cpu, cuda, cuda:N")
    gpu = int(m.group(1) or 0)
    if simulator():
        n = 1
    else:
        from numba import cuda

        n = len(cuda.gpus) if available() else 0
    if gpu >= n:
        raise SettingsError(
            f"device={device!r} asked for, but {n} CUDA GPU(s) are available; allowed here: "
            + ", ".join(["cpu", *(["cuda"] if n else []), *(f"cuda:{k}" for k in range(n))]))
    register_numpy_math()
    return CableKernel(_module(mechs), _codes(mechs), gpu, threads)


def ptx(mechs: list[str | Mechanism], args: tuple, cc: tuple[int, int] = (9, 0)) -> str:
    """The kernel for ``mechs`` compiled to PTX for compute capability ``cc`` for the CPU
    kernel's (host) arguments ``args`` (``CableKernel.ptx``; no GPU needed)."""
    return CableKernel(_module(mechs), _codes(mechs)).ptx(*args, cc=cc)
