"""Batched single-neuron simulation: B parameter sets (and stimuli) of one model at once.

The kernel is generated per (model, integrator) from the model's jitted functions and the scheme's
stage code, written to the kernel cache and compiled by numba with ``cache=True``. Rows run in
parallel; row r's noise (noisy or Poisson stimuli) comes from the stream (seed, r). The same
generated row body compiles for a CUDA GPU, one thread per row (``neuron_cuda``).

``dopri5``, the default of HH-type models, is the adaptive Dormand-Prince 5(4) scheme of the lane
kernel (``generate_lane_source``): generated from the model's sympy equations, one row per SIMD
lane with its own time and step size, float32.
"""

from __future__ import annotations

import importlib
import math
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy
from llvmlite import ir as llvm_ir
from numba import njit
from numba import types as nb_types
from numba.extending import intrinsic

from neuroscape.core import integrators as integrators_mod
from neuroscape.core import rng as rng_mod
from neuroscape.core import stimuli as stimuli_mod
from neuroscape.core.integrators import (
    EXACT,
    EXPONENTIAL_EULER,
    EXPONENTIAL_EULER_TABLES,
    EXPONENTIAL_STAGGERED_TABLES,
    TABLE_SCHEMES,
    IntegratorError,
    exponential_euler_source,
    get_tableau,
    step_source,
)
from neuroscape.core.rng import row_keys
from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import SettingsError, SimSettings
from neuroscape.core.stimuli import Stimulus
from neuroscape.models import get_neuron_model
from neuroscape.models.equations.codegen import Printer, jit_function
from neuroscape.models.equations.expressions import exprel
from neuroscape.models.equations.gates import DOPRI5, scheme_name
from neuroscape.models.neuron import RUNAWAY, NeuronModel, classify_spike_trains

ROW_KERNEL_ARGS = (
    "params, y_init, kind, stim, keys, n_steps, dt, rec_start, n_held, level,\n"
    "        counts, spk_t, spk_n, vtrace, rec_every, ok, tab, v_min, inv_h, fast, t_ref"
)
TARGETS = ("cpu", "cuda")


# CPython (3.11+) compiles a call with more than 30 arguments as CALL_FUNCTION_EX (f(*args));
# numba cannot inline such a call ("Calling a closure with *args is unsupported"), but it calls
# a compiled (not inlined) function that way. A row kernel whose step, rhs, threshold or reset
# take more arguments calls them un-inlined (same arithmetic; a call's cost per step).
MAX_INLINE_ARGS = 30


def _model_imports(model: NeuronModel, imports: list[str], wide: bool) -> list[str]:
    """The kernel module's import of the model's @njit functions, re-compiled without
    ``inline="always"`` where ``wide`` (more arguments than MAX_INLINE_ARGS)."""
    names = [(model.function_name(r), r) for r in imports]
    if not wide:
        return [f"from {model.module} import " + ", ".join(f"{f} as {r}" for f, r in names)]
    lines = [f"from {model.module} import " + ", ".join(f"{f} as _inl_{r}" for f, r in names)]
    lines += [f"{r} = njit(cache=True)(_inl_{r}.py_func)" for _, r in names]
    return lines


def generate_source(model: NeuronModel, integrator: str, target: str = "cpu") -> str:
    """The kernel module's source for ``model`` under ``integrator``: ``run(ROW_KERNEL_ARGS)``,
    one row b per iteration (``target`` "cpu": ``@njit(nogil=True)`` over rows
    ``row_lo..row_hi-1``, two more arguments; ``core.rows.run_on_threads`` runs slices on threads)
    or per thread (``target`` "cuda": ``@cuda.jit``, b = ``cuda.grid(1)``; see
    ``neuron_cuda``). The row's body is the same text for both targets: it calls the model's
    @njit functions, the scheme's step and ``core.stimuli.stimulus_current``, allocates
    nothing, and reads no numpy function but through those (whose scalar ``np.*`` calls
    ``neuron_cuda`` lowers for the GPU)."""
    if target not in TARGETS:
        raise SettingsError(f"target={target!r}; allowed: {', '.join(TARGETS)}")
    scheme = scheme_name(integrator)
    if scheme == DOPRI5:
        raise IntegratorError("dopri5 has no row-by-row kernel: see generate_lane_source")
    n_s = len(model.states)
    n_p = len(model.spec.parameters)
    ys = [f"y{i}" for i in range(n_s)]
    ps = [f"p{j}" for j in range(n_p)]
    yl, pl = ", ".join(ys), ", ".join(ps)
    imports = ["rhs"]
    targs = ""  # extra arguments of the tabulated step
    staggered = scheme == EXPONENTIAL_STAGGERED_TABLES
    if staggered and model.has_reset:
        raise IntegratorError(
            f"integrator {scheme!r} needs a model without a reset; {model.name} has one"
        )
    if scheme == EXPONENTIAL_EULER:
        imports.append("linear")
        step = exponential_euler_source(n_s, n_p + 1)
    elif scheme == EXPONENTIAL_EULER_TABLES:
        imports.append("voltage_linear")
        step = _tabulated_step_source(n_s, n_p + 1)
        targs = ", tab, v_min, inv_h"
    elif staggered:
        imports.append("voltage_linear")
        step = _staggered_step_source(n_s, n_p + 1)
        targs = ", tab, v_min, inv_h, s == 0"
    elif scheme == EXACT:
        # the model's exact solution over a step of any length (equations linear with constant
        # coefficients; the current held over the step)
        imports.append("exact_step")
        a = ", ".join(f"a{j}" for j in range(n_p + 1))
        step = f"def step({yl}, dt, {a}):\n    return exact_step({yl}, dt, {a})\n"
    else:
        step = step_source(get_tableau(scheme), n_s, n_p + 1)
    if model.has_reset:
        imports += ["threshold", "reset"]
    one = "," if n_s == 1 else ""
    precise = model.has_reset and model.precise_reset
    # Brian2's '(unless refractory)': V held during the refractory period; without it V
    # integrates through it and only the threshold waits for its end
    hold = model.hold_refractory
    saved = ", ".join(f"o{i}" for i in range(n_s))  # the state at the start of the step
    gates = ", ".join(f"x{i}" for i in range(1, n_s)) + ("," if n_s == 2 else "")
    # every scheme holds one current over the step: the stimulus at the step's midpoint (for a
    # ramp the midpoint rule, second order; the value at the start would lag the input by
    # dt/2); a step's edge on the grid switches at the same step as at its start, an edge off
    # the grid at the grid point nearest to it (``core.stimuli``)
    t_cur = "t + 0.5 * dt"
    cpu = target == "cpu"
    wide = n_s + n_p + 1 + targs.count(",") > MAX_INLINE_ARGS
    body = [
        f"# generated by neuroscape: model {model.name}, scheme {scheme}, target {target}; "
        "do not edit",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit" if cpu else "from numba import cuda, njit\n"
        "from neuroscape.sim.neuron_cuda import table_arg",
        *_model_imports(model, imports, wide),
        "from neuroscape.core.integrators import phi1",
        "from neuroscape.core.stimuli import stimulus_current",
        "",
        "",
        "@njit(cache=True)" if wide else '@njit(inline="always", cache=True)',
        step,
        "",
        # the only lines that differ: a slice of the rows (core.rows.run_on_threads spreads the
        # slices over threads), or one thread per row (the launch: neuron_cuda)
        "@njit(nogil=True, cache=True)" if cpu else "@cuda.jit(cache=True)",
        f"def run({ROW_KERNEL_ARGS}, row_lo, row_hi):" if cpu else f"def run({ROW_KERNEL_ARGS}):",
        *(["    for b in range(row_lo, row_hi):"] if cpu else [
            "    tab = table_arg(tab)  # (the simulator's kernel arrays: a numpy array for step)",
            "    b = cuda.grid(1)",
            "    if b < params.shape[0]:",
        ]),
        # the row's body, the same text on both targets
        *[f"        p{j} = params[b, {j}]" for j in range(n_p)],
        *[f"        y{i} = y_init[b, {i}]" for i in range(n_s)],
        "        s0, s1, s2, s3 = stim[b, 0], stim[b, 1], stim[b, 2], stim[b, 3]",
        "        key = keys[b]",
        "        isyn = 0.0",
        "        held = 0",
        "        cnt = 0",
        "        nrec = 0",
        "        nfast = 0",
        "        last = -(1 << 40)",
        "        last_t = -1e300",
        "        t_free = -1e300",
        "        max_rec = spk_t.shape[1]",
        "        for s in range(n_steps):",
        "            t = s * dt",
        f"            t_c = {t_cur}",
        "            cur, isyn = stimulus_current(kind, s0, s1, s2, s3, t_c, dt, s, key, isyn, y0)",
        "            v_old = y0",
        *([f"            {saved}{one} = {yl}{one}"] if precise else []),
        f"            {yl}{one} = step({yl}, dt, cur, {pl}{targs})",
        "            spiked = False",
        "            t_spk = 0.0",
    ]
    if precise:
        lv = model.threshold_level
        lvl = f"p{model.spec.parameter_names.index(lv)}" if isinstance(lv, str) else repr(float(lv))
        others = [f"y{i} = o{i} + g * (y{i} - o{i})" for i in range(1, n_s)]
        body += [
            *([
                "            if t_free >= t + dt:",
                "                y0 = v_old  # refractory for the whole step: V stays at its reset",
                "            elif t_free > t:",
                "                # released inside the step: V integrates from its reset value for",
                "                # the rest of it (the other states have taken the whole step)",
                f"                r = step({saved}, t + dt - t_free, cur, {pl}{targs})",
                "                y0 = r[0]",
            ] if hold else []),  # without hold: V integrates, only the threshold waits
            f"            if t_free < t + dt and threshold({yl}, {pl}):",
            # the crossing time, interpolated inside the part of the step that was integrated;
            # the other states are interpolated to it, the reset happens then, and the rest of
            # the step runs from the reset state (V held until the refractory period ends)
            "                t_a = max(t, t_free)",
            f"                f = ({lvl} - v_old) / (y0 - v_old) if y0 != v_old else 1.0",
            "                t_spk = t_a + min(max(f, 0.0), 1.0) * (t + dt - t_a)",
            "                g = (t_spk - t) / dt",
            *[f"                {x}" for x in others],
            # a crossing inside a step integrated whole: found again on the step itself, by
            # partial steps from the step's start (regula falsi, Illinois variant; at most 4
            # steps, spikes only), so its time has the scheme's accuracy, not the straight
            # line's (which is first order where the upstroke is steep: EIF, Izhikevich)
            "                if t_free <= t and f > 0.0 and f < 1.0:",
            "                    lo, hi = 0.0, dt",
            f"                    glo, ghi = v_old - {lvl}, y0 - {lvl}",
            "                    side = 0",
            "                    h = f * dt",
            f"                    r = step({saved}, h, cur, {pl}{targs})",
            "                    for _it in range(3):",
            f"                        gm = r[0] - {lvl}",
            f"                        if abs(gm) <= 1e-12 * (1.0 + abs({lvl})):",
            "                            break",
            "                        if gm > 0.0:",
            "                            hi, ghi = h, gm",
            "                            if side == 1:",
            "                                glo *= 0.5",
            "                            side = 1",
            "                        else:",
            "                            lo, glo = h, gm",
            "                            if side == -1:",
            "                                ghi *= 0.5",
            "                            side = -1",
            "                        h = lo + (hi - lo) * (-glo) / (ghi - glo)",
            f"                        r = step({saved}, h, cur, {pl}{targs})",
            "                    t_spk = t + h",
            *[f"                    y{i} = r[{i}]" for i in range(1, n_s)],
            f"                {yl}{one} = reset({yl}, {pl})",
            "                spiked = True",
            "                if t_spk - last_t <= 2.0 * dt:",
            "                    nfast += 1",
            "                last_t = t_spk",
            "                t_free = t_spk + t_ref[b]",
            "                if t_spk < t + dt:",
            f"                    {saved}{one} = {yl}{one}",
            f"                    {yl}{one} = step({yl}, t + dt - t_spk, cur, {pl}{targs})",
            *([
                "                    if t_free >= t + dt:",
                "                        y0 = o0",
                "                    elif t_free > t_spk:",
                f"                        r = step({saved}, t + dt - t_free, cur, {pl}{targs})",
                "                        y0 = r[0]",
            ] if hold else []),
        ]
    elif model.has_reset:
        body += [
            "            if held > 0:",
            *(["                y0 = v_old  # refractory: V held at its reset"] if hold else []),
            "                held -= 1",
            f"            elif threshold({yl}, {pl}):",
            f"                {yl}{one} = reset({yl}, {pl})",
            "                spiked = True",
            "                t_spk = t + dt",
            "                held = n_held[b]",
            # a spike within 2 steps of the previous one: the reset did not end the upstroke
            "                if s - last <= 2:",
            "                    nfast += 1",
            "                last = s",
        ]
    else:
        body += [
            "            if v_old < level and y0 >= level:",
            "                spiked = True",
            "                t_spk = t + dt * (level - v_old) / (y0 - v_old)",
        ]
    body += [
        "            if spiked:",
        "                if s >= rec_start:",
        "                    cnt += 1",
        # every spike is counted; its time is stored while the buffer has room (the caller
        # re-runs the rows that overflowed, with a buffer of their size)
        "                if nrec < max_rec:",
        "                    spk_t[b, nrec] = t_spk",
        "                nrec += 1",
        "            if rec_every > 0 and (s + 1) % rec_every == 0:",
        # staggered gates are recorded at V's time: half a step on from where they are
        *([f"                {gates} = half_step({yl}, tab, v_min, inv_h)"] if staggered else []),
        *[f"                vtrace[b, {i}, (s + 1) // rec_every - 1] = "
          f"{'x' if staggered and i else 'y'}{i}" for i in range(n_s)],
        "        counts[b] = cnt",
        "        spk_n[b] = nrec",
        "        fast[b] = nfast",
        "        ok[b] = " + " and ".join(f"math.isfinite(y{i})" for i in range(n_s)),
        "",
    ]
    return "\n".join(body)


def _table_index(indent: str, n_c: int, v: str = "y0", v_min: str | None = None,
                 inv_h: str | None = None, kmax: str = "tab.shape[0] - 1.000001") -> list[str]:
    """Lines setting k (the row below V in the gate table) and f (V's fraction of the way to
    row k + 1); V beyond the grid reads its end rows. The grid's start and inverse spacing in V's
    unit are the table's columns n_c and n_c + 1 (``_gate_table``) unless given."""
    v_min = v_min or f"tab[0, {n_c}]"
    inv_h = inv_h or f"tab[0, {n_c + 1}]"
    return [
        f"{indent}x = min(max(({v} - {v_min}) * {inv_h}, 0.0), {kmax})",
        f"{indent}k = int(x)",
        f"{indent}f = x - k",
    ]


def _tabulated_step_source(n_state: int, n_args: int) -> str:
    """Exponential Euler with V's coefficients computed and the gates' update factors
    interpolated linearly from ``tab`` (``_gate_table``: rows at the voltages v_min + k / inv_h,
    which its last two columns give in V's unit; the arguments v_min, inv_h are not read)."""
    ys = [f"y{i}" for i in range(n_state)]
    args = [f"a{i}" for i in range(n_args)]
    lines = [
        f"def step({', '.join(ys)}, dt, {', '.join(args)}, tab, v_min, inv_h):",
        f"    A, B = voltage_linear({', '.join(ys)}, {', '.join(args)})",
        *_table_index("    ", 2 * (n_state - 1)),
    ]
    outs = ["y0 + (A * y0 + B) * dt * phi1(A * dt)"]
    for g in range(1, n_state):
        e, inf = 2 * (g - 1), 2 * (g - 1) + 1
        lines.append(f"    e{g} = tab[k, {e}] + f * (tab[k + 1, {e}] - tab[k, {e}])")
        lines.append(f"    i{g} = tab[k, {inf}] + f * (tab[k + 1, {inf}] - tab[k, {inf}])")
        outs.append(f"i{g} + (y{g} - i{g}) * e{g}")
    lines.append(f"    return {', '.join(outs)}")
    return "\n".join(lines) + "\n"


def _staggered_step_source(n_state: int, n_args: int) -> str:
    """The staggered exponential step (see ``integrators.EXPONENTIAL_STAGGERED_TABLES``): the
    gates, held at t - dt/2, go to t + dt/2 with the factors of V(t) from ``tab``; then V goes
    from t to t + dt with the conductances of those gates. In the ``first`` step the gates start
    at t = 0 and take half a step (the factor for dt/2 is the square root of the one for dt).
    ``half_step``: the gates half a step on at the present V (for recording them at V's time)."""
    ys = [f"y{i}" for i in range(n_state)]
    args = [f"a{i}" for i in range(n_args)]
    look = _table_index("    ", 2 * (n_state - 1))
    lines = [f"def step({', '.join(ys)}, dt, {', '.join(args)}, tab, v_min, inv_h, first):", *look]
    half = [f"def half_step({', '.join(ys)}, tab, v_min, inv_h):", *look]
    new, new_half = [], []
    for g in range(1, n_state):
        e, inf = 2 * (g - 1), 2 * (g - 1) + 1
        read = [
            f"    e{g} = tab[k, {e}] + f * (tab[k + 1, {e}] - tab[k, {e}])",
            f"    i{g} = tab[k, {inf}] + f * (tab[k + 1, {inf}] - tab[k, {inf}])",
        ]
        lines += [*read, "    if first:", f"        e{g} = np.sqrt(e{g})"]
        half += read
        new.append(f"z{g}")
        lines.append(f"    z{g} = i{g} + (y{g} - i{g}) * e{g}")
        new_half.append(f"i{g} + (y{g} - i{g}) * np.sqrt(e{g})")
    lines.append(f"    A, B = voltage_linear(y0, {', '.join(new)}, {', '.join(args)})")
    lines.append(f"    return y0 + (A * y0 + B) * dt * phi1(A * dt), {', '.join(new)}")
    half.append(f"    return {', '.join(new_half)}" + ("," if n_state == 2 else ""))
    decorator = '\n\n\n@njit(inline="always", cache=True)\n'
    return "\n".join(lines) + decorator + "\n".join(half) + "\n"


BLOCK = 64  # neurons per block of the vectorized kernel: the block's state stays in L1


def generate_block_source(model: NeuronModel, staggered: bool = False) -> str:
    """A kernel for gate-table models under a deterministic stimulus (step or ramp): rows are
    taken in blocks of BLOCK neurons stored as structure-of-arrays, time outer, neurons inner,
    so that the inner loop is straight-line arithmetic and table reads:
    cheap scalar code (LLVM does not vectorize the table gathers on AVX2, but the block's
    state stays in L1 and V's exponential is a polynomial). Same signature and results as
    ``generate_source``'s ``run`` (to 1e-8 mV); spikes are rare, so they are handled in a
    scalar pass only in steps where one occurred. ``staggered``: the scheme
    ``exponential_staggered_tables`` (the gates on the half steps), else
    ``exponential_euler_tables``."""
    n_s = len(model.states)
    n_p = len(model.spec.parameters)
    n_c = 2 * (n_s - 1)  # table columns: (factor, x_inf) per gate
    yi = [f"y{i}[i]" for i in range(n_s)]
    pi = [f"p{j}[i]" for j in range(n_p)]
    t_cur = "t + 0.5 * dt"  # the current at the step's midpoint (as ``generate_source``)

    def read(indent: str) -> list[str]:
        return [
            *_table_index(indent, n_c, "y0[i]", "t_min", "t_inv", "kmax"),
            *[
                f"{indent}g{c}[i] = tab[k, {c}] + f * (tab[k + 1, {c}] - tab[k, {c}])"
                for c in range(n_c)
            ],
        ]

    def gate_updates(indent: str) -> list[str]:
        out = []
        for g in range(1, n_s):
            e, inf = 2 * (g - 1), 2 * (g - 1) + 1
            out.append(f"{indent}y{g}[i] = g{inf}[i] + (y{g}[i] - g{inf}[i]) * g{e}[i]")
        return out

    body = [
        f"# generated by neuroscape: model {model.name}, block kernel, gate tables"
        f"{', staggered' if staggered else ''}; do not edit",
        "import numpy as np",
        "from numba import njit",
        f"from {model.module} import {model.function_name('voltage_linear')} as voltage_linear",
        "from neuroscape.core.integrators import exp_nonpos",
        "from neuroscape.core.stimuli import deterministic_current",
        "",
        f"BLOCK = {BLOCK}",
        "",
        "",
        "@njit(nogil=True, cache=True, fastmath=True)",
        "def run(params, y_init, kind, stim, keys, n_steps, dt, rec_start, n_held, level,",
        "        counts, spk_t, spk_n, vtrace, rec_every, ok, tab, v_min, inv_h, fast, t_ref,",
        "        row_lo, row_hi):",
        "    kmax = tab.shape[0] - 1.000001",
        # the grid in V's unit (the table's last two columns; the arguments are not read)
        f"    t_min, t_inv = tab[0, {n_c}], tab[0, {n_c + 1}]",
        "    max_rec = spk_t.shape[1]",
        "    for lo in range(row_lo, row_hi, BLOCK):",
        "        hi = min(lo + BLOCK, row_hi)",
        "        n = hi - lo",
        "        P = np.ascontiguousarray(params[lo:hi].T)",
        "        Y = np.ascontiguousarray(y_init[lo:hi].T)",
        "        S = np.ascontiguousarray(stim[lo:hi].T)",
        *[f"        p{j} = P[{j}]" for j in range(n_p)],
        *[f"        y{i} = Y[{i}]" for i in range(n_s)],
        "        s0, s1, s2, s3 = S[0], S[1], S[2], S[3]",
        "        v_old = np.empty(n)",
        *[f"        g{c} = np.empty(n)" for c in range(n_c)],
        "        cnt = np.zeros(n, np.int64)",
        "        nrec = np.zeros(n, np.int64)",
        "        for s in range(n_steps):",
        "            t = s * dt",
        "            crossed = 0",
        # pass 1, scalar: the table reads (LLVM does not vectorize gathers on AVX2)
        "            for i in range(n):",
        *read("                "),
        # staggered: in the first step the gates go from t = 0 to dt/2 (the factor for dt/2
        # is the square root of the one for dt)
        *(
            [
                "            if s == 0:",
                "                for i in range(n):",
                *[f"                    g{c}[i] = np.sqrt(g{c}[i])" for c in range(0, n_c, 2)],
            ]
            if staggered
            else []
        ),
        # pass 2, SIMD: the arithmetic
        "            for i in range(n):",
        f"                cur = deterministic_current(kind, s0[i], s1[i], s2[i], s3[i], {t_cur})",
        "                v = y0[i]",
    ]
    if staggered:  # gates first (to t + dt/2), then V with their conductances
        body += gate_updates("                ")
    body += [
        f"                A, B = voltage_linear({', '.join(yi)}, cur, {', '.join(pi)})",
        # exact for frozen A, B: V relaxes to -B/A (A < 0), or moves away from it (A > 0,
        # where dV/dt is linearised at an upstroke of an instantaneous activation; exp_nonpos's
        # polynomial holds to 1e-14 there too for A dt up to 20, tests/models/library/
        # test_gate_tables.py)
        "                if abs(A) > 1e-12:",
        "                    vn = -B / A + (v + B / A) * exp_nonpos(A * dt)",
        "                else:  # no conductance at all",
        "                    vn = v + (A * v + B) * dt",
    ]
    if not staggered:
        body += gate_updates("                ")
    body += [
        "                y0[i] = vn",
        "                v_old[i] = v",
        "                crossed += (v < level) & (vn >= level)",
        "            if crossed > 0:",
        "                for i in range(n):",
        "                    if v_old[i] < level and y0[i] >= level:",
        "                        if s >= rec_start:",
        "                            cnt[i] += 1",
        "                        if nrec[i] < max_rec:",
        "                            spk_t[lo + i, nrec[i]] = t + dt * (level - v_old[i]) / (",
        "                                y0[i] - v_old[i])",
        "                        nrec[i] += 1",
        "            if rec_every > 0 and (s + 1) % rec_every == 0:",
        "                for i in range(n):",
        "                    vtrace[lo + i, 0, (s + 1) // rec_every - 1] = y0[i]",
    ]
    if staggered:  # the gates are recorded at V's time: half a step on, at the present V
        body += read("                    ")
        for g in range(1, n_s):
            e, inf = 2 * (g - 1), 2 * (g - 1) + 1
            body.append(
                f"                    vtrace[lo + i, {g}, (s + 1) // rec_every - 1] = g{inf}[i] + "
                f"(y{g}[i] - g{inf}[i]) * np.sqrt(g{e}[i])"
            )
    else:
        body += [f"                    vtrace[lo + i, {g}, (s + 1) // rec_every - 1] = y{g}[i]"
                 for g in range(1, n_s)]
    body += [
        "        for i in range(n):",
        "            counts[lo + i] = cnt[i]",
        "            spk_n[lo + i] = nrec[i]",
        # the final state goes back into y_init (the caller's copy); ``ok`` is computed from
        # it outside, because under fastmath LLVM may fold an isfinite test to True
        *[f"            y_init[lo + i, {g}] = y{g}[i]" for g in range(n_s)],
        "",
    ]
    return "\n".join(body)


# ------------------------------------------------------------------ the adaptive lane kernel
# Elementary functions in straight-line arithmetic, so that LLVM vectorizes the loops that call
# them (numba's math.exp is a libm call per element, which blocks SIMD). exp: Cody-Waite range
# reduction to |r| <= ln2/2, a Taylor polynomial (float64: degree 11, relative error below 1e-13;
# float32: degree 7, below 4e-7) and 2^k written into the exponent bits; beyond the range of the
# type it returns inf (or 0), as exp does. log: exponent and mantissa from the bits, the atanh
# series of the mantissa. exprel: its Taylor series near 0, (exp(x) - 1)/x elsewhere.


@intrinsic
def _pow2_f64(typingctx, k):
    """2**k for a float64 k holding an integer in [-1022, 1023] (integer arithmetic on bits)."""

    def codegen(context, builder, signature, args):
        i = builder.fptosi(args[0], llvm_ir.IntType(64))
        i = builder.shl(builder.add(i, llvm_ir.Constant(llvm_ir.IntType(64), 1023)),
                        llvm_ir.Constant(llvm_ir.IntType(64), 52))  # fmt: skip
        return builder.bitcast(i, llvm_ir.DoubleType())

    return nb_types.float64(nb_types.float64), codegen


def _frexp_codegen(width: int, bias: int, mant: int, ftype):
    def codegen(context, builder, signature, args):
        it = llvm_ir.IntType(width)
        b = builder.bitcast(args[0], it)
        e = builder.sub(builder.lshr(b, llvm_ir.Constant(it, mant)), llvm_ir.Constant(it, bias))
        m = builder.or_(builder.and_(b, llvm_ir.Constant(it, (1 << mant) - 1)),
                        llvm_ir.Constant(it, bias << mant))  # fmt: skip
        parts = (builder.sitofp(e, ftype), builder.bitcast(m, ftype))
        return context.make_tuple(builder, signature.return_type, parts)

    return codegen


@intrinsic
def _frexp_f64(typingctx, x):
    """(e, m) with x = m 2**e, m in [1, 2), for a positive normal float64 (from its bits)."""
    sig = nb_types.UniTuple(nb_types.float64, 2)(nb_types.float64)
    return sig, _frexp_codegen(64, 1023, 52, llvm_ir.DoubleType())


@intrinsic
def _frexp_f32(typingctx, x):
    """(e, m) with x = m 2**e, m in [1, 2), for a positive normal float32."""
    sig = nb_types.UniTuple(nb_types.float32, 2)(nb_types.float32)
    return sig, _frexp_codegen(32, 127, 23, llvm_ir.FloatType())


_F32 = np.float32


@njit(inline="always", cache=True)
def _vexp(x):
    """exp(x), float64, vectorizable (relative error below 1e-13)."""
    xc = min(max(x, -708.0), 708.0)
    k = np.floor(xc * 1.4426950408889634 + 0.5)
    r = (xc - k * 0.6931471803691238) - k * 1.9082149292705877e-10
    p = 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    e = p * _pow2_f64(k)
    return np.inf if x > 708.0 else (0.0 if x < -708.0 else e)


@intrinsic
def _pow2_rounded_f32(typingctx, u):
    """2**k from u = t + 1.5*2^23 + 127, whose low mantissa bits hold round(t) + 127."""

    def codegen(context, builder, signature, args):
        i32 = llvm_ir.IntType(32)
        b = builder.shl(builder.bitcast(args[0], i32), llvm_ir.Constant(i32, 23))
        return builder.bitcast(b, llvm_ir.FloatType())

    return nb_types.float32(nb_types.float32), codegen


@njit(inline="always", cache=True)
def _vexp32(x):
    """exp(x), float32, vectorizable (relative error below 4e-7). k = round(x/ln2) by adding
    1.5*2^23 (the addition rounds; its bits then give 2^k): cheaper than floor and convert."""
    xc = min(max(x, _F32(-87.0)), _F32(88.0))
    u = xc * _F32(1.4426950408889634) + _F32(12583039.0)  # 1.5*2^23 + 127
    k = u - _F32(12583039.0)
    r = (xc - k * _F32(0.693359375)) - k * _F32(-2.12194440e-4)
    p = _F32(1 / 5040)
    p = p * r + _F32(1 / 720)
    p = p * r + _F32(1 / 120)
    p = p * r + _F32(1 / 24)
    p = p * r + _F32(1 / 6)
    p = p * r + _F32(0.5)
    p = p * r + _F32(1.0)
    p = p * r + _F32(1.0)
    e = p * _pow2_rounded_f32(u)
    return _F32(np.inf) if x > _F32(88.0) else (_F32(0.0) if x < _F32(-87.0) else e)


@njit(inline="always", cache=True)
def _vlog(x):
    """log(x), float64, vectorizable, for positive normal x (absolute error below 2e-16 |log x|
    + 1e-16); 0 and negative x give -inf and nan."""
    e, m = _frexp_f64(x)
    big = m > 1.4142135623730951
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    q = 2.0 / 19.0
    q = q * s2 + 2.0 / 17.0
    q = q * s2 + 2.0 / 15.0
    q = q * s2 + 2.0 / 13.0
    q = q * s2 + 2.0 / 11.0
    q = q * s2 + 2.0 / 9.0
    q = q * s2 + 2.0 / 7.0
    q = q * s2 + 2.0 / 5.0
    q = q * s2 + 2.0 / 3.0
    q = q * s2 + 2.0
    out = e * 0.6931471805599453 + s * q
    return out if x > 0.0 else (-np.inf if x == 0.0 else np.nan)


@njit(inline="always", cache=True)
def _vlog32(x):
    """log(x), float32, vectorizable (absolute error below 1e-7 |log x| + 1e-7)."""
    e, m = _frexp_f32(x)
    big = m > _F32(1.4142135)
    m = m * _F32(0.5) if big else m
    e = e + _F32(1.0) if big else e
    s = (m - _F32(1.0)) / (m + _F32(1.0))
    s2 = s * s
    q = _F32(2 / 9)
    q = q * s2 + _F32(2 / 7)
    q = q * s2 + _F32(2 / 5)
    q = q * s2 + _F32(2 / 3)
    q = q * s2 + _F32(2.0)
    out = e * _F32(0.6931471805599453) + s * q
    return out if x > _F32(0.0) else (_F32(-np.inf) if x == _F32(0.0) else _F32(np.nan))


@njit(inline="always", cache=True)
def _vexprel(x, ex):
    """exprel(x) = (exp(x) - 1)/x given ex = exp(x), float64: the Taylor series below |x| <
    0.01 (error below 1e-16), else the quotient (relative error below 1e-13)."""
    s = 1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x / 720.0))))
    return s if abs(x) < 0.01 else (ex - 1.0) / x


@njit(inline="always", cache=True)
def _vexprel32(x, ex):
    """exprel(x) given ex = exp(x), float32: the Taylor series below |x| < 0.5, else the
    quotient (relative error below 1e-6)."""
    s = _F32(1 / 362880)
    s = s * x + _F32(1 / 40320)
    s = s * x + _F32(1 / 5040)
    s = s * x + _F32(1 / 720)
    s = s * x + _F32(1 / 120)
    s = s * x + _F32(1 / 24)
    s = s * x + _F32(1 / 6)
    s = s * x + _F32(0.5)
    s = s * x + _F32(1.0)
    return s if abs(x) < _F32(0.5) else (ex - _F32(1.0)) / x


@njit(inline="always", cache=True)
def _vexprel_inv(x, ex):
    """1/exprel(x) = x/(exp(x) - 1) given ex = exp(x), float64 (one division): its series
    (Bernoulli numbers) below |x| < 0.01, else the quotient."""
    x2 = x * x
    s = 1.0 - 0.5 * x + x2 * (1.0 / 12.0 - x2 * (1.0 / 720.0))
    return s if abs(x) < 0.01 else x / (ex - 1.0)


@njit(inline="always", cache=True)
def _vexprel_inv32(x, ex):
    """1/exprel(x) given ex = exp(x), float32: its series below |x| < 0.05 (error below 1e-12),
    else the quotient (relative error below 2e-6, where ex - 1 cancels near |x| = 0.05)."""
    x2 = x * x
    s = _F32(1.0) - _F32(0.5) * x + x2 * (_F32(1 / 12) - x2 * _F32(1 / 720))
    return s if abs(x) < _F32(0.05) else x / (ex - _F32(1.0))


class _ExprelOf(sympy.Function):
    """exprel(x) printed with exp(x) as its second argument, so that exp(x) is a common
    subexpression shared with other exponentials of the same argument."""

    nargs = 2


class _ExprelInvOf(sympy.Function):
    """1/exprel(x), with exp(x) as its second argument: one division instead of two."""

    nargs = 2


def _factor_exp(e, states):
    """exp(a + r) -> exp(a) exp(r) for r a number with |r| <= 20 (and exprel likewise), so that
    exponentials of the same state expression share one exp: HH's six rate exponentials are
    four. A bounded r keeps exp(a) within the range of exp(a + r) up to a factor e^20."""

    def split(arg):
        arg = sympy.expand(arg)
        if not arg.is_Add:
            return arg, None
        r = sum((t for t in arg.args if t.is_number), sympy.Integer(0))
        if r == 0 or abs(float(r)) > 20.0:
            return arg, None
        return arg - r, r

    def exp_of(arg):
        a, r = split(arg)
        return sympy.exp(a) if r is None else sympy.exp(a) * sympy.Float(math.exp(float(r)))

    def walk(x):
        if x.is_Atom:
            return x
        args = [walk(a) for a in x.args]
        if x.func == sympy.exp and args[0].has(*states):
            return exp_of(args[0])
        if isinstance(x, exprel) and args[0].has(*states):
            return _ExprelOf(args[0], exp_of(args[0]))
        if x.is_Pow and isinstance(args[0], _ExprelOf) and args[1].is_Integer and args[1] < 0:
            return _ExprelInvOf(*args[0].args) ** (-args[1])
        return x.func(*args)

    return walk(e)


def _hoist(exprs: list, params: tuple) -> tuple[list, list]:
    """Maximal subexpressions of the parameters alone (not a bare symbol or number) replaced by
    symbols c0, c1...: computed once per row when it is loaded, not in every stage (HH's
    temperature factor 3**((celsius - 6.3)/10), 1/C). Returns (expressions, [(symbol, value)])."""
    pset = set(params)
    found: dict = {}

    def walk(x):
        if x.is_Atom:
            return x
        free = x.free_symbols
        if not free:
            return sympy.Float(float(x)) if x.is_real is not False else x
        if free <= pset:
            if x not in found:
                found[x] = sympy.Symbol(f"c{len(found)}")
            return found[x]
        return x.func(*[walk(a) for a in x.args])

    out = [walk(e) for e in exprs]
    return out, [(s, x) for x, s in found.items()]


class _LanePrinter(Printer):
    """The loader's printer with the vectorizable functions above (float32: their 32-bit
    forms; every literal is then made float32 by ``_f32_literals``)."""

    def __init__(self, f32: bool) -> None:
        super().__init__({})
        self.sfx = "32" if f32 else ""

    def p(self, e) -> str:
        s = self.sfx
        if isinstance(e, _ExprelInvOf):
            return f"_vexprel_inv{s}({self.p(e.args[0])}, {self.p(e.args[1])})"
        if isinstance(e, _ExprelOf):
            return f"_vexprel{s}({self.p(e.args[0])}, {self.p(e.args[1])})"
        if isinstance(e, exprel):
            a = self.p(e.args[0])
            return f"_vexprel{s}({a}, _vexp{s}({a}))"
        if e.func == sympy.exp:
            return f"_vexp{s}({self.p(e.args[0])})"
        if e.func == sympy.log:
            return f"_vlog{s}({self.p(e.args[0])})"
        if e.func in (sympy.tanh, sympy.cosh, sympy.sinh):
            a = self.p(e.args[0])
            if e.func == sympy.tanh:  # 1 - 2/(e^2x + 1): no overflow for large |x|
                return f"(1.0 - 2.0 / (_vexp{s}(2.0 * {a}) + 1.0))"
            sign = "+" if e.func == sympy.cosh else "-"
            return f"(0.5 * (_vexp{s}({a}) {sign} _vexp{s}(-({a}))))"
        if e.is_Pow:
            b, k = e.base, e.exp
            if k.is_Integer and 2 <= abs(k) <= 8 and not (0 < k <= 4):
                prod = "(" + " * ".join([self.p(b)] * int(abs(k))) + ")"
                return prod if k > 0 else f"(1.0 / {prod})"
            if not k.is_Integer and k != sympy.Rational(1, 2):
                return f"_vexp{s}({self.p(k)} * _vlog{s}({self.p(b)}))"
        return super().p(e)


def _f32_literals(src: str) -> str:
    """Every float literal of ``src`` as a float32 (a float64 literal would promote the
    arithmetic around it to float64)."""
    return re.sub(r"(?<![\w.])(\d+\.\d*(?:e[-+]?\d+)?|\d+e[-+]?\d+)", r"_F32(\1)", src)


def _lane_rhs_source(m: NeuronModel, f32: bool) -> tuple[str, int]:
    """``_rhs(y..., cur, p..., c...)`` (the derivatives, in the lane kernel's arithmetic) and
    ``_consts(p...)`` (the row constants c, in float64); returns (source, number of c)."""
    eq = m.equations
    exprs = [_factor_exp(e, eq.states) for e in eq.rhs_free]
    exprs, consts = _hoist(exprs, eq.params)
    ys = [f"y{i}" for i in range(len(eq.states))]
    ps = [f"p{j}" for j in range(len(eq.params))]
    cs = [f"c{k}" for k in range(len(consts))]
    rhs = jit_function("_rhs", [*ys, "cur", *ps, *cs], exprs, _LanePrinter(f32))
    if f32:
        rhs = _f32_literals(rhs)
    out = rhs
    if consts:
        out += jit_function("_consts", ps, [x for _, x in consts], Printer({}))
    return out, len(consts)


# Dormand & Prince (1980) 5(4): nodes, stages (the last row is the 5th-order solution, so the
# 7th stage is the derivative at the new state and starts the next step), the coefficients of
# the error estimate (5th minus 4th order) and of the 4th-order continuous extension
# (Hairer, Norsett & Wanner 1993, II.6; its coefficients as in their dopri5.f).
DP5_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
DP5_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
DP5_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
DP5_D = (
    -12715105075 / 11282082432, 0.0, 87487479700 / 32700410799, -10690763975 / 1880347072,
    701980252875 / 199316789632, -1453857185 / 822651844, 69997945 / 29380423,
)  # fmt: skip

LANES = 64  # rows integrated side by side per thread (one SIMD loop over them)
# breaks closer than this (ms) are one: a record time and a stimulus edge computed apart
BREAK_EPS_MS = 1e-9


def generate_lane_source(model: NeuronModel, lanes: int = LANES, f32: bool = False) -> str:
    """The adaptive kernel (scheme ``dopri5``) of a model without reset, from its equations.

    ``run(rows...)`` integrates the rows from ``r_lo`` to ``r_hi`` ``lanes`` at a time, side by
    side, each lane with its own time and step size: every round tries one Dormand-Prince step
    in every lane, in loops over the lanes that LLVM turns into SIMD code (one loop per stage,
    over one copy of the derivatives, which use the vectorizable functions above; what depends
    on the parameters alone is computed once per row). A lane whose step is accepted moves on;
    one whose step is rejected retries with a smaller one. Rare events leave the SIMD loops
    through a flag and are handled in a scalar pass over the flagged lanes: an upward crossing
    of the spike level (its time from the step's continuous extension), a landing on a break
    (the end of the run, a record time, a stimulus edge, or for noisy stimuli each point of
    the dt grid, where the current is redrawn as in the fixed-step kernels), a failure (the
    step fell below 1e-9 ms: a non-finite state, or equations too stiff for an explicit
    step). A finished lane takes the next row, so lanes stay busy whatever each row's number
    of steps. ``f32``: states and arithmetic in float32 (time, spike times and the stimulus
    stay float64, in loops of their own so that the SIMD loops hold one type). The kernel
    releases the GIL: the caller runs shares of the rows in threads."""
    eq = model.equations
    n_s, n_p = len(eq.states), len(eq.params)
    rhs_src, n_c = _lane_rhs_source(model, f32)
    L = lanes
    one = "," if n_s == 1 else ""
    # lane fields: W in the working precision, WD in float64; each a run of L numbers
    wf = [f"Y{s}" for s in range(n_s)] + [f"N{s}" for s in range(n_s)]
    wf += [f"K{j}_{s}" for j in range(1, 8) for s in range(n_s)]
    wf += [f"P{j}" for j in range(n_p)] + [f"C{k}" for k in range(n_c)]
    wf += ["H", "HS", "LAND", "U", "CA", "CB", "HT", "FLAG", "DV0", "DK1", "DK7", "DR5", "ELOG",
           "REJ"]
    wd = ["T", "TB", "TSEG", "DT0", "S0", "S1", "S2", "S3", "ISYN"]

    def w(name: str, lane: str = "i") -> str:
        if name in wd:
            return f"WD[{wd.index(name) * L} + {lane}]"
        return f"W[{wf.index(name) * L} + {lane}]"

    def lit(lines: list[str]) -> list[str]:
        return [_f32_literals(x) for x in lines] if f32 else lines

    pcs = [w(f"P{j}") for j in range(n_p)] + [w(f"C{k}") for k in range(n_c)]
    sfx = "32" if f32 else ""
    head = [
        f"# generated by neuroscape: model {model.name}, scheme dopri5, {L} lanes"
        f"{', float32' if f32 else ''}; do not edit",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        "from neuroscape.core.stimuli import stimulus_current",
        f"from {model.module} import _exprel  # noqa: F401 (row constants may call it)",
        "from neuroscape.sim.neuron_engine import (  # noqa: F401",
        "    _F32, _vexp, _vexp32, _vexprel, _vexprel32, _vexprel_inv, _vexprel_inv32, _vlog,",
        "    _vlog32,",
        ")",
        "",
        "# fast-math without nnan/ninf (the NaN tests must stay) and without reassoc",
        "FLAGS = {'nsz', 'arcp', 'contract', 'afn'}",
        f"F = {'np.float32' if f32 else 'np.float64'}",
        # the stage matrix, padded with zeros to 6 columns, and the nodes
        "A = np.array([",
        *[f"    [{', '.join(repr(x) for x in (*row, *([0.0] * (6 - len(row)))))}],"
          for row in DP5_A[1:]],
        "], dtype=F)",
        f"CN = np.array([{', '.join(repr(x) for x in DP5_C[1:])}], dtype=F)",
        rhs_src,
    ]
    # a lane's segment from its time T: the current CA + CB (t - TSEG) up to the next break TB,
    # the derivative there (the first stage of the next step), the next step's length
    enter = [
        "",
        "",
        # rare and scalar: called, not inlined (each inlined copy would be compiled again)
        '@njit(cache=True, fastmath=FLAGS, error_model="numpy")',
        "def _enter(i, W, WD, GRID, REC, kind, key, dt, rec_every, n_rec, t_end):",
        f"    tl = {w('T')}",
        f"    s0, s1, s2, s3 = {w('S0')}, {w('S1')}, {w('S2')}, {w('S3')}",
        "    tb = t_end",
        "    ca, cb, tseg = 0.0, 0.0, tl",
        "    if kind == 0:  # step: s0 from s1 to s2",
        "        ca = s0 if (tl >= s1 and tl < s2) else 0.0",
        f"        if s1 > tl + {BREAK_EPS_MS!r}:",
        "            tb = min(tb, s1)",
        f"        if s2 > tl + {BREAK_EPS_MS!r}:",
        "            tb = min(tb, s2)",
        "    elif kind == 1:  # ramp: s0 to s1 from s2 to s3",
        "        if tl >= s2 and tl < s3:",
        "            ca, cb, tseg = s0, (s1 - s0) / (s3 - s2), s2",
        f"        if s2 > tl + {BREAK_EPS_MS!r}:",
        "            tb = min(tb, s2)",
        f"        if s3 > tl + {BREAK_EPS_MS!r}:",
        "            tb = min(tb, s3)",
        # noisy: the current of grid step g, held over it, its on/off window taken at the
        # step's midpoint (as the fixed-step kernels)
        "    else:",
        "        g = GRID[i]",
        "        ca, isyn = stimulus_current(kind, s0, s1, s2, s3, (g + 0.5) * dt, dt, g, key,",
        f"                                    {w('ISYN')}, float({w('Y0')}))",
        f"        {w('ISYN')} = isyn",
        "        tb = min(tb, (g + 1) * dt)",
        "    if rec_every > 0 and REC[i] < n_rec:",
        "        tb = min(tb, (REC[i] + 1) * rec_every * dt)",
        f"    {w('TB')} = tb",
        f"    {w('TSEG')} = tseg",
        f"    {w('CA')} = ca",
        f"    {w('CB')} = cb",
        f"    {', '.join(w(f'K1_{s}') for s in range(n_s))}{one} = _rhs(",
        f"        {', '.join(w(f'Y{s}') for s in range(n_s))}, F(ca + cb * (tl - tseg)),",
        f"        {', '.join(pcs)})",
        "    _prepare(i, W, WD)",
        "",
        "",
        '@njit(inline="always", cache=True)',
        "def _prepare(i, W, WD):",
        "    # the next attempt's step: the proposal, or what is left to the break",
        f"    gap = {w('TB')} - {w('T')}",
        f"    land = {w('H')} >= gap",
        f"    {w('LAND')} = 1.0 if land else 0.0",
        f"    {w('HS')} = F(gap) if land else {w('H')}",
        f"    {w('U')} = F({w('T')} - {w('TSEG')})",
    ]
    load = [
        "",
        "",
        '@njit(cache=True, fastmath=FLAGS, error_model="numpy")',
        "def _load(i, r, W, WD, GRID, REC, ROW, NSP, CNT, params, y_init, stim, h0, ok):",
        "    ROW[i] = r",
        "    NSP[i] = 0",
        "    CNT[i] = 0",
        "    REC[i] = 0",
        "    GRID[i] = 0",
        "    ok[r] = True",
        *[f"    {w(f'P{j}')} = params[r, {j}]" for j in range(n_p)],
        *([f"    {', '.join(w(f'C{k}') for k in range(n_c))}{',' if n_c == 1 else ''} = "
           f"_consts({', '.join(f'params[r, {j}]' for j in range(n_p))})"] if n_c else []),
        *[f"    {w(f'S{j}')} = stim[r, {j}]" for j in range(4)],
        *[f"    {w(f'Y{s}')} = y_init[r, {s}]" for s in range(n_s)],
        f"    {w('T')} = 0.0",
        f"    {w('H')} = h0",
        f"    {w('ELOG')} = {math.log(1e-4)!r}",
        f"    {w('REJ')} = 0.0",
        f"    {w('ISYN')} = 0.0",
    ]
    S = "                "
    # one loop per stage (2 to 7): the stage's state from the stages before it, then the
    # derivatives there; the 6th stage's state is the new state (5th order)
    # one loop per stage (2 to 7), in two: the stage's state from the stages before it (the 6th
    # stage's state is the new state, of 5th order), then the derivatives there (two simple
    # loops spill fewer registers than one)
    stage = [
        f"{S}h = {w('HS')}",
        *[f"{S}{w(f'N{s}')} = {w(f'Y{s}')} + h * ("
          + " + ".join(f"a{j} * {w(f'K{j + 1}_{s}')}" for j in range(6)) + ")"
          for s in range(n_s)],
        f"{S}KN[{n_s * L} + i] = {w('CA')} + {w('CB')} * ({w('U')} + cs * h)",
        f"            for i in range({L}):",
        f"{S}kk = _rhs({', '.join(w(f'N{s}') for s in range(n_s))}, KN[{n_s * L} + i], "
        f"{', '.join(pcs)})",
        *[f"{S}KN[{s * L} + i] = kk[{s}]" for s in range(n_s)],
    ]
    # the rest of the attempt: error (RMS over the states of (5th - 4th order)/(atol + rtol |y|),
    # a NaN propagates), step control (0.9 err^(-1/5) within [0.2, 5], not above 1 after a
    # rejection, 0.2 for a NaN; after an accepted step cut short by a break the proposal
    # before the cut stands), the continuous extension of V, the flags
    e, d = DP5_E, DP5_D
    fin = [f"{S}h = {w('HS')}", f"{S}hp = {w('H')}", f"{S}land = {w('LAND')} > 0.5",
           f"{S}err = 0.0"]
    for s in range(n_s):
        ks = [w(f"K{j + 1}_{s}") for j in range(7)]
        terms = " + ".join(f"{e[j]!r} * {ks[j]}" for j in range(7) if e[j])
        fin += [
            f"{S}z = h * ({terms}) / (tol{s} + rtol * max(abs({w(f'Y{s}')}), abs({w(f'N{s}')})))",
            f"{S}err += z * z",
        ]
    k0 = [w(f"K{j + 1}_0") for j in range(7)]
    fin += [
        f"{S}err = np.sqrt(err * {1.0 / n_s!r})",
        f"{S}acc = err <= 1.0",
        # Hairer's step control with memory (dopri5, beta 0.04): accepted, the step goes by
        # 0.9 err^-0.17 errold^0.04 within [0.2, 10] (not above 1 right after a rejection);
        # rejected, by 0.9 err^-0.17, at least 0.2; a NaN error takes 0.2
        f"{S}le = _vlog{sfx}(max(err, 1e-4))",
        f"{S}elog = {w('ELOG')}",
        f"{S}fac = 0.9 * _vexp{sfx}(-0.17 * le + (0.04 * elog if acc else 0.0))",
        f"{S}fac = min(max(fac, 0.2), (1.0 if {w('REJ')} > 0.5 else 10.0) if acc else 1.0)",
        f"{S}fac = fac if err == err else 0.2",
        f"{S}{w('ELOG')} = le if acc else elog",
        f"{S}{w('REJ')} = 0.0 if acc else 1.0",
        f"{S}hn = min(h * fac, hmax)",
        f"{S}hn = max(hn, hp) if (acc and land) else hn",
        f"{S}{w('H')} = hn",
        f"{S}y0 = {w('Y0')}",
        f"{S}n0 = {w('N0')}",
        f"{S}{w('DV0')} = y0",
        f"{S}{w('DK1')} = h * {k0[0]}",
        f"{S}{w('DK7')} = h * {k0[6]}",
        f"{S}{w('DR5')} = h * ("
        + " + ".join(f"{d[j]!r} * {k0[j]}" for j in range(7) if d[j]) + ")",
        *[f"{S}{w(f'Y{s}')} = {w(f'N{s}')} if acc else {w(f'Y{s}')}" for s in range(n_s)],
        *[f"{S}{w(f'K1_{s}')} = {w(f'K7_{s}')} if acc else {w(f'K1_{s}')}"
          for s in range(n_s)],
        # the step taken: negative when it ended on the break
        f"{S}{w('HT')} = (-h if land else h) if acc else 0.0",
        f"{S}{w('FLAG')} = ((1.0 if (acc and y0 < level and n0 >= level) else 0.0) + "
        f"(2.0 if (acc and land) else 0.0) + (4.0 if (hn < {DOPRI5_MIN_STEP_MS!r} and hp > 0.0) "
        "else 0.0))",
    ]
    E = "                "
    finish = [
        f"{E}    counts[r] = CNT[i]",
        f"{E}    spk_n[r] = NSP[i]",
        *[f"{E}    y_init[r, {s}] = {w(f'Y{s}')}" for s in range(n_s)],
        f"{E}    if q < r_hi:",
        f"{E}        _load(i, q, W, WD, GRID, REC, ROW, NSP, CNT, params, y_init, stim, h0, ok)",
        f"{E}        _enter(i, W, WD, GRID, REC, kind, keys[q], dt, rec_every, n_rec, t_end)",
        f"{E}        q += 1",
        f"{E}    else:  # no row left: the lane idles (a zero step) with its last row's numbers",
        f"{E}        ROW[i] = -1",
        f"{E}        {w('H')} = 0.0",
        f"{E}        {w('TB')} = 1e300",
        f"{E}        _prepare(i, W, WD)",
        f"{E}        active -= 1",
    ]
    events = [
        f"{E}fl = int({w('FLAG')})",
        f"{E}if fl == 0:",
        f"{E}    continue",
        f"{E}r = ROW[i]",
        f"{E}if fl & 1:  # V crossed the level: where, on the continuous extension",
        f"{E}    v0 = float({w('DV0')})",
        f"{E}    r2 = float({w('Y0')}) - v0",
        f"{E}    r3 = float({w('DK1')}) - r2",
        f"{E}    r4 = r2 - float({w('DK7')}) - r3",
        f"{E}    r5 = float({w('DR5')})",
        f"{E}    lo, hi = 0.0, 1.0",
        f"{E}    for _it in range(48):",
        f"{E}        th = 0.5 * (lo + hi)",
        f"{E}        vv = v0 + th * (r2 + (1.0 - th) * (r3 + th * (r4 + (1.0 - th) * r5)))",
        f"{E}        if vv >= level:",
        f"{E}            hi = th",
        f"{E}        else:",
        f"{E}            lo = th",
        f"{E}    t_spk = {w('DT0')} + 0.5 * (lo + hi) * abs(float({w('HT')}))",
        f"{E}    if t_spk >= t_start:",
        f"{E}        CNT[i] += 1",
        f"{E}    if NSP[i] < max_rec:",
        f"{E}        spk_t[r, NSP[i]] = t_spk",
        f"{E}    NSP[i] += 1",
        f"{E}done = False",
        f"{E}if fl & 4:  # the step size collapsed: the row fails",
        f"{E}    ok[r] = False",
        f"{E}    done = True",
        f"{E}elif fl & 2:  # landed on a break",
        f"{E}    tl = {w('T')}",
        f"{E}    if rec_every > 0 and REC[i] < n_rec and tl >= (REC[i] + 1) * rec_every * dt - "
        f"{BREAK_EPS_MS!r}:",
        *[f"{E}        vtrace[r, {s}, REC[i]] = {w(f'Y{s}')}" for s in range(n_s)],
        f"{E}        REC[i] += 1",
        f"{E}    if kind >= 2 and tl >= (GRID[i] + 1) * dt - {BREAK_EPS_MS!r}:",
        f"{E}        GRID[i] += 1",
        f"{E}    if tl >= t_end - {BREAK_EPS_MS!r}:",
        f"{E}        done = True",
        f"{E}    else:",
        f"{E}        _enter(i, W, WD, GRID, REC, kind, keys[r], dt, rec_every, n_rec, t_end)",
        f"{E}if done:",
        *finish,
    ]
    kernel = [
        "",
        "",
        '@njit(nogil=True, cache=True, fastmath=FLAGS, error_model="numpy")',
        "def run(params, y_init, kind, stim, keys, t_end, dt, t_start, level, counts, spk_t,",
        "        spk_n, vtrace, rec_every, ok, atol, rtol, hmax, h0, r_lo, r_hi):",
        "    max_rec = spk_t.shape[1]",
        "    n_rec = vtrace.shape[2]",
        "    flevel = F(level)",
        "    rtol = F(rtol)",
        "    hmax = F(hmax)",
        *[f"    tol{s} = F(atol[{s}])" for s in range(n_s)],
        f"    W = np.zeros({len(wf) * L}, F)",
        f"    WD = np.zeros({len(wd) * L})",
        f"    KN = np.zeros({(n_s + 1) * L}, F)",
        *[f"    {x} = np.zeros({L}, np.int64)" for x in ("ROW", "NSP", "CNT", "REC", "GRID")],
        "    q = r_lo",
        "    active = 0",
        f"    for i in range({L}):",
        "        if q < r_hi:",
        "            _load(i, q, W, WD, GRID, REC, ROW, NSP, CNT, params, y_init, stim, h0, ok)",
        "            _enter(i, W, WD, GRID, REC, kind, keys[q], dt, rec_every, n_rec, t_end)",
        "            q += 1",
        "            active += 1",
        "        else:  # more lanes than rows: idle (a zero step) with the first row's numbers",
        "            _load(i, r_lo, W, WD, GRID, REC, ROW, NSP, CNT, params, y_init, stim, h0, ok)",
        "            _enter(i, W, WD, GRID, REC, kind, keys[r_lo], dt, rec_every, n_rec, t_end)",
        "            ROW[i] = -1",
        f"            {w('H')} = 0.0",
        f"            {w('TB')} = 1e300",
        "            _prepare(i, W, WD)",
        "    while active > 0:",
        *([
        "        for st in range(6):  # stages 2 to 7",
        *[f"            a{j} = A[st, {j}]" for j in range(6)],
        "            cs = CN[st]",
        f"            _o = (st + 1) * {n_s * L}",
        f"            for i in range({L}):",
        *lit(stage),
        # the stage's derivatives into their place (a separate array in the loop above, whose
        # stores LLVM could not otherwise tell apart from its loads)
        f"            for i in range({n_s * L}):",
        f"                W[{2 * n_s * L} + _o + i] = KN[i]"]),
        f"        for i in range({L}):",
        *lit([x.replace("level", "flevel") for x in fin]),
        f"        for i in range({L}):  # time, in float64",
        f"            ht = {w('HT')}",
        f"            {w('DT0')} = {w('T')}",
        f"            {w('T')} = {w('TB')} if ht < 0.0 else {w('T')} + ht",
        "            _prepare(i, W, WD)",
        f"        for i in range({L}):",
        *[x[4:] for x in events],
        "",
    ]
    return "\n".join(head) + "\n".join(enter) + "\n" + "\n".join(load) + "\n" + "\n".join(kernel)


TABLE_V_MIN, TABLE_V_MAX, TABLE_DV = -200.0, 150.0, 0.01  # mV
# a gate that is non-finite or does not decay at a grid voltage is refused inside this range
# (mV); beyond it such rows read the nearest good row, as V beyond the grid reads its end rows
TABLE_CHECKED = (-150.0, 100.0)
TABLE_CACHE = 16  # tables kept (the most recent; each is 35,001 rows by 2 per gate + 2)
_TABLES: dict[tuple, np.ndarray] = {}


def _mv_in_v_unit(m: NeuronModel) -> float:
    """One mV in the unit of the model's membrane potential (1.0 for mV)."""
    if m.v_unit == "mV":
        return 1.0
    from neuroscape.models.equations.expressions import ExpressionError, parse_unit

    try:
        d = parse_unit(m.v_unit)
        if not d.same(parse_unit("mV")):
            raise ExpressionError("not a voltage")
    except ExpressionError:
        raise IntegratorError(
            f"gate tables need a membrane potential in a unit of voltage; {m.name}'s "
            f"{m.states[0]} is in {m.v_unit!r}"
        ) from None
    return float(parse_unit("mV").factor / d.factor)


def _gate_table(m: NeuronModel, p_row: np.ndarray, dt: float) -> np.ndarray:
    """(n_grid, 2 n_gates + 2): the model's ``gate_tables`` on the voltages TABLE_V_MIN to
    TABLE_V_MAX mV in steps of TABLE_DV, taken in the unit of its V, then two columns holding
    the grid's start and inverse spacing in that unit (the kernels index the table with them,
    so a V declared in volts reads the same grid; for mV they are -200 and 100 exactly)."""
    idx = [m.spec.parameter_names.index(n) for n in m.table_params]
    # by module too: a model redefined under the same name has its own tables
    key = (m.module, m.name, dt, *(float(p_row[i]) for i in idx))
    if key not in _TABLES:
        mv = _mv_in_v_unit(m)
        grid = np.arange(TABLE_V_MIN, TABLE_V_MAX + TABLE_DV / 2, TABLE_DV)
        tab = np.asarray(m.functions().gate_tables(grid * mv, p_row, dt), dtype=float)
        tab = _checked_table(m, tab, grid, p_row, dt)
        out = np.empty((len(grid), tab.shape[1] + 2))
        out[:, :-2] = tab
        out[:, -2] = TABLE_V_MIN * mv
        out[:, -1] = 1.0 / (TABLE_DV * mv)
        while len(_TABLES) >= TABLE_CACHE:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = out
    return _TABLES[key]


def _checked_table(m: NeuronModel, tab, grid, p_row, dt: float) -> np.ndarray:
    """``tab`` with every factor in [0, 1) and every steady state finite inside TABLE_CHECKED
    (else an IntegratorError naming the gate and the voltage); rows beyond it that are not take
    the nearest good row's values."""
    fac, inf = tab[:, 0::2], tab[:, 1::2]
    good = (np.isfinite(fac) & (fac >= 0.0) & (fac < 1.0) & np.isfinite(inf)).all(axis=1)
    if good.all():
        return tab
    half = TABLE_DV / 2  # the grid's voltages are sums of steps: -150 is -149.99999999999997
    inside = (grid >= TABLE_CHECKED[0] - half) & (grid <= TABLE_CHECKED[1] + half)
    bad = np.flatnonzero(~good & inside)
    if len(bad) or not good.any():
        k = bad[0] if len(bad) else 0
        row = (np.isfinite(fac[k]) & (fac[k] >= 0.0) & (fac[k] < 1.0) & np.isfinite(inf[k]))
        gate = m.states[1 + int(np.argmin(row))]
        p = ", ".join(f"{n}={p_row[m.spec.parameter_names.index(n)]:g}" for n in m.table_params)
        raise IntegratorError(
            f"gate tables of {m.name}: the gate {gate} does not relax to a finite steady state "
            f"at V={grid[k]:g} mV (dt={dt:g} ms{', ' + p if p else ''}): its update factor is "
            f"{fac[k, np.argmin(row)]:g}, its steady state {inf[k, np.argmin(row)]:g}; use "
            f"integrator {'exponential_euler or ' if m.conditionally_linear else ''}rk4"
        )
    ok, rows = np.flatnonzero(good), np.arange(len(grid))
    above = ok[np.minimum(np.searchsorted(ok, rows), len(ok) - 1)]  # nearest good at or above
    below = ok[np.maximum(np.searchsorted(ok, rows, side="right") - 1, 0)]  # at or below
    pick = np.where(np.abs(rows - below) <= np.abs(above - rows), below, above)
    return np.ascontiguousarray(tab[pick])


_KERNELS: dict[tuple[str, str, bool], object] = {}


def get_kernel(model: NeuronModel, integrator: str, block: bool = False):
    """The compiled kernel; ``block``: the vectorized one (gate tables, deterministic input)."""
    from neuroscape.core.codegen import load_generated

    scheme = scheme_name(integrator)
    if scheme == DOPRI5:
        return get_lane_kernel(model, LANES if block else 1, DOPRI5_FLOAT32)
    # keyed by the module that holds the model's functions (a generated module is named by the hash
    # of its content), not by the model's name alone: a model redefined under the same name gets
    # its own kernel
    if block:
        staggered = scheme == EXPONENTIAL_STAGGERED_TABLES
        src, name = generate_block_source(model, staggered), f"{model.name}_{scheme}_block"
    else:
        src, name = generate_source(model, scheme), f"{model.name}_{scheme}"
    # keyed by the kernel's source, which names the module of the model's functions (named by
    # the hash of its content) and every declared choice the kernel depends on (reset timing,
    # refractory hold...): a model redefined under the same name gets its own kernel
    key = (model.module, src)
    if key not in _KERNELS:
        here = Path(__file__)
        deps = [
            here,
            importlib.import_module(model.module).__file__,
            stimuli_mod.__file__,
            rng_mod.__file__,
            integrators_mod.__file__,
        ]
        mod = load_generated(name, src, deps)
        _KERNELS[key] = mod.run
    return _KERNELS[key]


def get_lane_kernel(model: NeuronModel, lanes: int = LANES, f32: bool = True):
    """The compiled dopri5 kernel (``generate_lane_source``), cached like ``get_kernel``'s."""
    from neuroscape.core.codegen import load_generated

    src = generate_lane_source(model, lanes, f32)
    key = (model.module, src)
    if key not in _KERNELS:
        deps = [Path(__file__), importlib.import_module(model.module).__file__,
                stimuli_mod.__file__, rng_mod.__file__]  # fmt: skip
        mod = load_generated(f"{model.name}_{DOPRI5}_{lanes}", src, deps)
        _KERNELS[key] = mod.run
    return _KERNELS[key]


# dopri5's error control. A step is accepted when the RMS over the states of (5th - 4th order
# result)/(atol + rtol |y|) is at most 1. atol: DOPRI5_ATOL_MV for a membrane potential (in its
# unit), DOPRI5_ATOL for a dimensionless state (a gate), DOPRI5_ATOL times the largest initial
# magnitude for another state. Steps of at most DOPRI5_MAX_STEP_MS: in the slow phase between
# spikes the local error estimate stays small while the spike's timing is most sensitive to the
# state there (caps of 1 ms let the phase drift by 0.06 ms over 1 s). Chosen on the 10,000
# neurons of benchmarks/hh_vs_brian2.py over 1 s against independent solutions: spike times
# within 0.01 ms for every neuron firing through the run (at most 0.007 ms, median 1.5e-4 ms);
# 3 of those whose firing stops in the run are beyond (up to 0.05 ms, one train a spike short),
# where the times are ill-conditioned (tighter tolerances do not fix them in float32, whose
# rounding then dominates: which of them miss changes with the last bit of an exp).
DOPRI5_RTOL = 3e-6
DOPRI5_ATOL = 3e-6
DOPRI5_ATOL_MV = 3e-3
DOPRI5_MAX_STEP_MS = 0.3
DOPRI5_FIRST_STEP_MS = 0.01
DOPRI5_MIN_STEP_MS = 1e-9  # a smaller step fails the row
# float32 lanes: twice the float64 speed; the tolerances are 50 float32 roundings of V, and the
# rounding adds about 1e-3 ms to the spike times' error over 1 s (tests against float64)
DOPRI5_FLOAT32 = True
CHUNK_ROWS = 8 * LANES  # rows per thread task at least (a task's lanes idle at its end)


def dopri5_atol(m: NeuronModel, y0: np.ndarray) -> np.ndarray:
    """The absolute tolerance of each state (see DOPRI5_ATOL)."""
    out = np.empty(len(m.states))
    for i, unit in enumerate(m.state_units):
        if i == 0 and unit != "1":
            try:
                out[i] = DOPRI5_ATOL_MV * _mv_in_v_unit(m)
                continue
            except IntegratorError:  # not a voltage: the rule of other states
                pass
        big = float(np.abs(y0[:, i]).max()) if len(y0) else 0.0
        out[i] = DOPRI5_ATOL * (1.0 if unit == "1" or not big > 0 else big)
    return out


def run_lanes(kernel, n_rows: int, workers: int, **kw) -> None:
    """``kernel`` (a dopri5 lane kernel) on rows 0..n_rows-1, in tasks of at least CHUNK_ROWS
    rows spread over ``workers`` threads (the kernel releases the GIL)."""
    args = [kw[k] for k in ("params", "y_init", "kind", "stim", "keys", "t_end", "dt", "t_start",
                            "level", "counts", "spk_t", "spk_n", "vtrace", "rec_every", "ok",
                            "atol", "rtol", "hmax", "h0")]  # fmt: skip
    run_on_threads(kernel, args, n_rows, workers, min_rows=CHUNK_ROWS)


# spikes within 2 steps of the previous one, at least this many in a run: runaway firing
RUNAWAY_MIN_FAST = 3
SPIKE_BUFFER = 1024  # spike times stored per row in the first pass (rows with more: re-run)


@dataclass
class NeuronResult:
    """Per row: spike count and rate in the window, every spike time (ms), the behaviour
    label, and optionally the state trace. Rows with ``ok`` False (see ``errors``) have NaN
    rates."""

    model: str
    parameter_names: list[str]
    params: np.ndarray
    stimulus: Stimulus
    counts: np.ndarray  # spikes in the window
    rates: np.ndarray  # Hz over the window
    spike_times: list[np.ndarray] | None  # every spike of the run (None: not recorded)
    ok: np.ndarray
    errors: list[str | None]
    states: np.ndarray | None  # (B, n_states, n_samples) when recorded
    state_names: tuple[str, ...]
    t_v: np.ndarray | None
    dt_ms: float
    duration_ms: float
    window_ms: float
    integrator: str
    seed: int
    wall_time_s: float
    labels: list[str | None] | None = None  # behaviour class in the window, or "runaway"
    cv_isi: np.ndarray | None = None  # CV of the interspike intervals in the window
    total_counts: np.ndarray | None = None  # spikes in the whole run

    @property
    def v(self) -> np.ndarray | None:
        """(B, n_samples) membrane potential (the first state), when recorded."""
        return None if self.states is None else self.states[:, 0]

    def to_pandas(self):
        """A pandas DataFrame: one row per batch row, the parameter columns, the stimulus
        columns (``stim_<field>``), the outputs ``rate`` and ``cv_isi``, ``spike_count`` (in
        the window), then ok, error and label; units in ``df.attrs["units"]``."""
        from neuroscape.core.stimuli import field_units
        from neuroscape.sim.engine import _frame

        m = get_neuron_model(self.model)
        b = len(self.params)
        stim = self.stimulus.rows(b)
        s_fields = self.stimulus.fields
        s_names = [f"stim_{f}" for f in s_fields]
        cv = self.cv_isi if self.cv_isi is not None else np.full(b, np.nan)
        units = {p.name: p.unit for p in m.spec.parameters}
        units.update({o.name: o.unit for o in m.spec.outputs})
        s_units = field_units(self.stimulus.kind, m.current_unit, m.v_unit)
        units.update({f"stim_{f}": u for f, u in s_units.items()})
        units["spike_count"] = "1"
        return _frame(
            [*self.parameter_names, *s_names],
            np.column_stack([self.params, stim[:, : len(s_fields)]]),
            [*m.spec.output_names, "spike_count"],
            np.column_stack([self.rates, cv, self.counts]),
            self.ok,
            self.errors,
            self.labels,
            units,
            {
                "model": self.model,
                "stimulus": self.stimulus.kind,
                "seed": self.seed,
                "settings": {
                    "duration_ms": self.duration_ms,
                    "dt_ms": self.dt_ms,
                    "window_ms": self.window_ms,
                    "integrator": self.integrator,
                },
            },
        )


def has_exact_step(m: NeuronModel) -> bool:
    """Whether the model's module defines ``exact_step`` (the 'exact' scheme's update)."""
    return hasattr(m.functions(), m.function_name("exact_step"))


def model_schemes(m: NeuronModel) -> list[str]:
    """The integrators ``m`` can run: the explicit Runge-Kutta schemes, and exponential Euler,
    exact, the gate-table schemes and dopri5 where its equations allow them."""
    from neuroscape.core.integrators import TABLEAUX

    out = list(TABLEAUX)
    if m.conditionally_linear:
        out.append(EXPONENTIAL_EULER)
    if has_exact_step(m):
        out.append(EXACT)
    if m.gate_tables:
        out += [EXPONENTIAL_EULER_TABLES] + ([] if m.has_reset else [EXPONENTIAL_STAGGERED_TABLES])
    if has_lane_kernel(m):
        out.append(DOPRI5)
    return out


def has_lane_kernel(m: NeuronModel) -> bool:
    """Whether ``m`` can run dopri5: a model from equations (its sympy form generates the
    kernel) without threshold and reset."""
    return m.equations is not None and not m.has_reset


def device_integrator(m: NeuronModel, device: str, integrator: str | None) -> str | None:
    """The scheme of a run on ``device`` when none is chosen (None or 'auto'): the declared one,
    except that dopri5 (CPU only) gives way on a torch device to the scheme that was the default
    before it (gates on staggered half steps; rk4 without gates). A chosen scheme is kept."""
    if device == "cpu" or integrator not in (None, "auto") or \
            scheme_name(m.spec.settings.integrator) != DOPRI5:
        return integrator
    return EXPONENTIAL_STAGGERED_TABLES if EXPONENTIAL_STAGGERED_TABLES in model_schemes(m) \
        else "rk4"


def check_neuron_settings(m: NeuronModel, integrator: str, dt_ms: float) -> str:
    """The canonical scheme name, after checking that it and dt suit the model."""
    scheme = scheme_name(integrator)
    # the refusals name what this model can run (listing other models would load every one)
    ok = ", ".join(model_schemes(m))
    if scheme == EXPONENTIAL_EULER and not m.conditionally_linear:
        raise IntegratorError(
            f"integrator 'exponential_euler' needs a conditionally linear model; {m.name} is not; "
            f"allowed for {m.name}: {ok}"
        )
    if scheme == EXACT and not has_exact_step(m):
        raise IntegratorError(
            f"integrator 'exact' needs equations that are linear with constant coefficients; "
            f"{m.name} has no exact solution; allowed for {m.name}: {ok}"
        )
    if scheme in TABLE_SCHEMES and not m.gate_tables:
        raise IntegratorError(
            f"integrator {scheme!r} needs a model with gating variables; {m.name} has none; "
            f"allowed for {m.name}: {ok}"
        )
    if scheme == DOPRI5 and not has_lane_kernel(m):
        why = "has a threshold and reset" if m.has_reset else "is hand-written (no equations)"
        raise IntegratorError(
            f"integrator 'dopri5' needs a model from equations without reset; {m.name} {why}; "
            f"allowed for {m.name}: {ok}"
        )
    if not (np.isfinite(dt_ms) and dt_ms > 0):
        raise SettingsError(f"dt_ms={dt_ms} must be a positive number of ms")
    if dt_ms > m.max_dt_ms:
        what = (f"a grid of {m.name}'s records and noise (dopri5 chooses its own steps)"
                if scheme == DOPRI5 else f"a stable {scheme} step of {m.name}")  # fmt: skip
        raise SettingsError(
            f"dt_ms={dt_ms:g} is too coarse for {what}: allowed dt_ms <= {m.max_dt_ms:g}"
        )
    return scheme


def neuron_settings(
    m: NeuronModel,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    window_ms: float | None = None,
    integrator: str | None = None,
) -> tuple[SimSettings, str]:
    """The run's settings (None: the model's declared defaults, ``m.spec.settings``) and the
    canonical scheme name, checked against the model."""
    s = SimSettings.for_model(
        m.spec, duration_ms=duration_ms, dt_ms=dt_ms, window_ms=window_ms, integrator=integrator
    )
    return s, check_neuron_settings(m, s.integrator, s.dt_ms)


def simulate_neurons(
    model: str | NeuronModel,
    params=None,
    stimulus: Stimulus | None = None,
    *,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    window_ms: float | None = None,
    integrator: str | None = None,
    seed: int = 0,
    record_v: bool = False,
    record_every: int = 1,
    record_spikes: bool = True,
    max_spikes: int | None = None,
    allow_outside: bool = False,
    workers: int | None = None,
    y0: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    vectorize: bool = True,
    device: str = "cpu",
) -> NeuronResult:
    """Simulate B neurons of one model, each with its own parameters and stimulus row.

    params: {name: value}, a list of them, or (B, n_params); a (1, .) row broadcasts against a
    multi-row stimulus (e.g. an f-I curve). The fixed-step schemes hold the stimulus's value at
    each step's midpoint over the step (``core.stimuli``: a ramp to second order; a step's edge
    off the grid switches at the nearest grid point).
    duration_ms, dt_ms, window_ms, integrator: None takes the model's declared defaults
    (``spec.settings``; the window: the declared rule,
    ``neuroscape.core.settings.default_window_ms``). Rates are over the last ``window_ms``.
    record_spikes: return every spike time of every row (the buffer grows as needed: rows
    that overflow the first pass's buffer are run again with one of their size); False
    returns none (``spike_times`` None). max_spikes: deprecated; only 0 (= record_spikes
    False) is accepted.
    y0: initial states (B or 1, n_states); default the model's own initial state.
    rows: global row indices for the noise streams (seed, row); default 0..B-1.
    keys: the streams' keys themselves (the batched engine passes them), instead of seed/rows.
    vectorize: with gate tables and a step or ramp, run the block kernel (same results to 1e-8
    mV, about 2x faster); False forces the row-by-row kernel. dopri5 (the default of HH-type
    models, ``generate_lane_source``) always runs its lane kernel; False gives it one lane
    (scalar code: other roundings, the same accuracy).
    A row fails (``ok`` False, the reason in ``errors``, NaN rate) when its state becomes
    non-finite or when it fires runaway spikes (label "runaway").
    device: "cpu" (the numba kernels); "cuda", "cuda:N": the same row kernel compiled by
    numba.cuda, one GPU thread per row (``neuron_cuda``; where numba.cuda has a GPU or its
    simulator is on; else the torch back end, with a warning where numba.cuda sees a GPU but
    cannot compile for it); "torch-cpu": the torch back end
    (``neuron_torch.simulate_neurons_torch``). Off the CPU: equation models only; workers and
    vectorize unused.
    dopri5 runs on the CPU only: chosen on another device, it is refused (one line naming the
    schemes there); as a declared default it gives way to the staggered gate tables (else rk4).
    """
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.sim.engine import _set_threads

    if max_spikes is not None:
        if max_spikes != 0:
            raise SettingsError(
                f"max_spikes={max_spikes}: spike times are no longer cut; every spike time is "
                "returned (record_spikes=False keeps none)"
            )
        warnings.warn("max_spikes=0 is deprecated: use record_spikes=False", DeprecationWarning, 2)
        record_spikes = False
    gpu = False  # numba.cuda: the same row kernel on the GPU (neuron_cuda)
    if device != "cpu":
        from neuroscape.sim import neuron_cuda
        from neuroscape.sim.neuron_torch import TORCH_CPU, simulate_neurons_torch

        m = model if isinstance(model, NeuronModel) else get_neuron_model(model)
        integrator = device_integrator(m, device, integrator)
        if neuron_settings(m, duration_ms, dt_ms, window_ms, integrator)[1] == DOPRI5:
            raise IntegratorError(
                f"integrator 'dopri5' runs on the CPU only; on device={device!r} choose one of "
                f"{', '.join(x for x in model_schemes(m) if x != DOPRI5)}"
            )
        # "cuda"/"cuda:N": numba.cuda where it can run (a GPU, or its simulator), else torch
        # (whose CUDA device, or its refusal in one line)
        gpu = device != TORCH_CPU and device.startswith("cuda") and neuron_cuda.available()
        why = neuron_cuda.unsupported() if gpu else None
        if why is not None:  # a stated fallback: a FusedKernelFallback warning naming why
            neuron_cuda.warn_fallback(m, device, why)
            gpu = False
        if gpu and m.equations is None:
            raise SettingsError(
                f"device={device!r}: {m.name} is a hand-written model (numba CPU only); "
                "allowed: device='cpu' (equation models also run on cuda)"
            )
    if device != "cpu" and not gpu:
        return simulate_neurons_torch(
            model, params, stimulus, duration_ms=duration_ms, dt_ms=dt_ms, window_ms=window_ms,
            integrator=integrator, seed=seed, record_v=record_v, record_every=record_every,
            record_spikes=record_spikes, allow_outside=allow_outside, y0=y0, rows=rows,
            keys=keys, device=device,
        )  # fmt: skip
    m = model if isinstance(model, NeuronModel) else get_neuron_model(model)
    settings, scheme = neuron_settings(m, duration_ms, dt_ms, window_ms, integrator)
    duration_ms, dt_ms, window_ms = settings.duration_ms, settings.dt_ms, settings.window_ms
    p = m.spec.params_array(params, allow_outside=allow_outside)
    stimulus = stimulus if stimulus is not None else make_stimulus("step", amp=0.0)
    stimulus.check(duration_ms)
    b = max(len(p), np.asarray(stimulus.values).shape[0])
    if len(p) not in (1, b):
        raise SettingsError(f"{len(p)} parameter rows against {b} stimulus rows")
    p = np.ascontiguousarray(np.broadcast_to(p, (b, p.shape[1])))
    stim = stimulus.rows(b)
    if record_v and not (isinstance(record_every, int | np.integer) and record_every >= 1):
        raise SettingsError(f"record_every={record_every!r}; allowed: an integer >= 1")
    n_workers = _set_threads(workers)
    n_steps = settings.n_steps
    rec_start = settings.rec_start
    if m.refractory_param is not None:
        t_ref = np.ascontiguousarray(p[:, m.spec.parameter_names.index(m.refractory_param)])
        n_held = np.maximum(np.round(t_ref / dt_ms).astype(np.int64) - 1, 0)
    else:  # a fixed refractory period of the declaration (0: none)
        t_ref = np.full(b, float(m.refractory_ms))
        n_held = np.full(b, max(int(round(m.refractory_ms / dt_ms)) - 1, 0), dtype=np.int64)
    if m.has_reset and m.precise_reset:  # off-grid refractory: t_ref itself, not n_held
        n_held = np.zeros(b, dtype=np.int64)
    rec_every = int(record_every) if record_v else 0
    n_rec = n_steps // rec_every if rec_every else 0
    # gate tables under a step or ramp: the vectorized block kernel (no noise streams needed)
    # (dopri5: its lane kernel, whatever the stimulus; one lane when not vectorized)
    block = vectorize and (scheme == DOPRI5 or (scheme in TABLE_SCHEMES and stimulus.code < 2))
    if gpu:  # the row kernel on the GPU (no block kernel there)
        block = False
        kernel = neuron_cuda.get_cuda_kernel(m, scheme, device)
    else:
        kernel = get_kernel(m, scheme, block)
    if y0 is None:
        y0 = m.initial_state(p)
    y0 = np.asarray(y0, dtype=float)
    if y0.ndim != 2 or y0.shape[0] not in (1, b) or y0.shape[1] != len(m.states):
        raise SettingsError(
            f"y0 has shape {y0.shape}; allowed: (1 or {b}, {len(m.states)}) for states {m.states}"
        )
    y0 = np.ascontiguousarray(np.broadcast_to(y0, (b, len(m.states))))
    keys = keys if keys is not None else row_keys(seed, np.arange(b) if rows is None else rows)
    keys = np.asarray(keys, dtype=np.uint64)
    atol = dopri5_atol(m, y0) if scheme == DOPRI5 else None
    # at most one spike per step (precise reset), per (refractory + 1) steps (a reset on the
    # grid), per 2 steps (an upward crossing)
    min_gap = int(n_held.min()) + 1 if m.has_reset else 2
    cap0 = min(n_steps // min_gap + 1, SPIKE_BUFFER) if record_spikes else 0

    counts = np.zeros(b, dtype=np.int64)
    spk_n = np.zeros(b, dtype=np.int64)
    fast = np.zeros(b, dtype=np.int64)
    ok = np.zeros(b, dtype=np.bool_)
    vtrace = np.zeros((b, len(m.states), n_rec))
    spike_times: list[np.ndarray | None] = [None] * b

    def launch(sel: np.ndarray, cap: int, trace: bool, tab, v_min: float, inv_h: float):
        """Run the rows ``sel`` with a spike buffer of ``cap``; store their outputs."""
        n = len(sel)
        o_counts, o_n, o_fast = (np.zeros(n, np.int64) for _ in range(3))
        o_ok = np.zeros(n, np.bool_)
        o_t = np.full((n, cap), np.nan)
        o_v = np.zeros((n, len(m.states), n_rec if trace else 0))
        y_start = np.ascontiguousarray(y0[sel])  # a copy: the block kernel writes into it
        if scheme == DOPRI5:
            run_lanes(
                kernel, n, n_workers, params=np.ascontiguousarray(p[sel]), y_init=y_start,
                kind=stimulus.code, stim=np.ascontiguousarray(stim[sel]),
                keys=np.ascontiguousarray(keys[sel]), t_end=float(duration_ms), dt=float(dt_ms),
                t_start=float(rec_start * dt_ms), level=float(m.spike_level), counts=o_counts,
                spk_t=o_t, spk_n=o_n, vtrace=o_v, rec_every=rec_every if trace else 0, ok=o_ok,
                atol=atol, rtol=DOPRI5_RTOL, hmax=DOPRI5_MAX_STEP_MS, h0=DOPRI5_FIRST_STEP_MS,
            )  # fmt: skip
            o_ok &= np.isfinite(y_start).all(axis=1)
        else:
            args = (
                np.ascontiguousarray(p[sel]),
                y_start,
                stimulus.code,
                np.ascontiguousarray(stim[sel]),
                np.ascontiguousarray(keys[sel]),
                n_steps,
                float(dt_ms),
                rec_start,
                np.ascontiguousarray(n_held[sel]),
                float(m.spike_level),
                o_counts,
                o_t,
                o_n,
                o_v,
                rec_every if trace else 0,
                o_ok,
                tab,
                v_min,
                inv_h,
                o_fast,
                np.ascontiguousarray(t_ref[sel]),
            )
            if gpu:  # one thread per row: neuron_cuda's launch
                kernel(*args)
            else:  # slices of rows on threads (a block kernel's slices: whole blocks)
                run_on_threads(kernel, args, n, n_workers, align=BLOCK if block else 1)
        if block and scheme != DOPRI5:  # under fastmath an isfinite test may fold to True
            o_ok = np.isfinite(y_start).all(axis=1)
        counts[sel], spk_n[sel], fast[sel], ok[sel] = o_counts, o_n, o_fast, o_ok
        if trace:
            vtrace[sel] = o_v
        if record_spikes:
            for k, r in enumerate(sel):
                if o_n[k] <= cap:
                    spike_times[r] = o_t[k, : o_n[k]].copy()

    def run_selection(sel: np.ndarray, tab, v_min: float, inv_h: float) -> None:
        launch(sel, cap0, bool(rec_every), tab, v_min, inv_h)
        over = sel[spk_n[sel] > cap0] if record_spikes else sel[:0]
        if len(over):  # the same rows again (same streams), with room for every spike
            launch(over, int(spk_n[over].max()), False, tab, v_min, inv_h)

    t0 = time.perf_counter()
    if scheme in TABLE_SCHEMES:
        # one table per distinct value of the parameters it depends on (HH: temperature)
        idx = [m.spec.parameter_names.index(n) for n in m.table_params]
        groups = np.unique(p[:, idx], axis=0, return_inverse=True)[1].ravel()
        for g in np.unique(groups):
            sel = np.flatnonzero(groups == g)
            tab = _gate_table(m, p[sel[0]], float(dt_ms))
            run_selection(sel, tab, TABLE_V_MIN, 1.0 / TABLE_DV)
    else:
        run_selection(np.arange(b), np.zeros((2, 1)), 0.0, 1.0)
    wall = time.perf_counter() - t0

    return neuron_result(
        m, p, stimulus, counts, spk_n, fast, ok, spike_times, vtrace, rec_every, n_rec,
        dt_ms=dt_ms, duration_ms=duration_ms, window_ms=window_ms, scheme=scheme, seed=seed,
        wall=wall, record_spikes=record_spikes,
    )  # fmt: skip


def neuron_result(
    m: NeuronModel, p, stimulus, counts, spk_n, fast, ok, spike_times, vtrace, rec_every: int,
    n_rec: int, *, dt_ms: float, duration_ms: float, window_ms: float, scheme: str, seed: int,
    wall: float, record_spikes: bool,
) -> NeuronResult:  # fmt: skip
    """A batch's outputs as a ``NeuronResult`` (every back end: numba here, torch in
    ``neuron_torch``): failed rows (non-finite state, runaway firing) get their error text and
    NaN rates, the others their rate over the window and behaviour label."""
    b = len(p)
    runaway = ok & (fast >= RUNAWAY_MIN_FAST) if m.has_reset else np.zeros(b, dtype=bool)
    errors: list[str | None] = [None] * b
    for r in np.flatnonzero(~ok):
        errors[r] = (
            f"the dopri5 step fell below {DOPRI5_MIN_STEP_MS:g} ms: a non-finite state, or "
            "equations too stiff for an explicit step (try rk4 at a small dt_ms)"
            if scheme == DOPRI5 else
            f"non-finite state: the {scheme} step is unstable at dt={dt_ms:g} ms "
            "(try a smaller dt_ms)"
        )  # fmt: skip
    for r in np.flatnonzero(runaway):
        errors[r] = (
            f"runaway firing: {fast[r]} of {spk_n[r]} spikes came within 2 steps "
            f"(dt={dt_ms:g} ms) of the previous one: after the reset the model is at once "
            "above threshold again, so the rate is set by dt, not by the model"
        )
    ok = ok & ~runaway
    rates = np.where(ok, counts / (window_ms * 1e-3), np.nan)
    labels: list[str | None] = [None] * b
    cvs = np.full(b, np.nan)
    t_start = duration_ms - window_ms
    for r in np.flatnonzero(runaway):
        labels[r] = RUNAWAY
    if record_spikes:
        done = np.flatnonzero(ok)
        found, cvs[done] = classify_spike_trains([spike_times[r] for r in done], t_start,
                                                 duration_ms)  # fmt: skip
        for r, label in zip(done.tolist(), found, strict=True):
            labels[r] = label
    return NeuronResult(
        model=m.ref,  # the name, or the file of a model loaded from one
        parameter_names=m.spec.parameter_names,
        params=p,
        stimulus=stimulus,
        counts=counts,
        rates=rates,
        spike_times=spike_times if record_spikes else None,
        ok=ok,
        errors=errors,
        states=vtrace if rec_every else None,
        state_names=m.states,
        t_v=(np.arange(n_rec) + 1) * rec_every * dt_ms if rec_every else None,
        dt_ms=dt_ms,
        duration_ms=duration_ms,
        window_ms=window_ms,
        integrator=scheme,
        seed=seed,
        wall_time_s=wall,
        labels=labels,
        cv_isi=cvs,
        total_counts=spk_n,
    )


@dataclass
class FICurve:
    """Firing against injected current (a step from ``t_on`` to the end of the run).

    rates: Hz over the rate window; counts: spikes during the step; late_counts: spikes in the
    second half of the step. single_spike_threshold: the lowest current with at least one
    spike during the step; rheobase: the lowest current with sustained repetitive firing
    (at least ``min_late_spikes`` spikes in the second half of the step). Both None when no
    current in the list reaches them; currents in ``current_unit``.
    """

    model: str
    currents: np.ndarray
    current_unit: str
    rates: np.ndarray
    counts: np.ndarray
    late_counts: np.ndarray
    single_spike_threshold: float | None
    rheobase: float | None
    ok: np.ndarray
    errors: list[str | None]
    labels: list[str | None]
    t_on_ms: float
    duration_ms: float
    window_ms: float
    dt_ms: float
    integrator: str
    min_late_spikes: int


def fi_curve(
    model: str | NeuronModel,
    values: dict[str, float] | None = None,
    currents=(),
    *,
    t_on_ms: float = 0.0,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    window_ms: float | None = None,
    integrator: str | None = None,
    min_late_spikes: int = 2,
    allow_outside: bool = False,
    workers: int | None = None,
) -> FICurve:
    """The f-I curve of one parameter set under steps of ``currents`` (the model's current
    unit) from ``t_on_ms`` to the end of the run; settings as in ``simulate_neurons`` (None:
    the model's declared defaults). Rows that fail (non-finite state, runaway firing) have
    NaN rates and do not count for either threshold."""
    from neuroscape.core.stimuli import make_stimulus

    m = model if isinstance(model, NeuronModel) else get_neuron_model(model)
    cur = check_fi_currents(currents, min_late_spikes)
    res = simulate_neurons(
        m,
        values or {},
        make_stimulus("step", amp=cur, t_on=t_on_ms),
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        window_ms=window_ms,
        integrator=integrator,
        allow_outside=allow_outside,
        workers=workers,
    )
    return fi_curve_from(
        m.ref, m.current_unit, cur, res.spike_times, res.rates, res.ok, res.errors, res.labels,
        t_on_ms=t_on_ms, duration_ms=res.duration_ms, window_ms=res.window_ms, dt_ms=res.dt_ms,
        integrator=res.integrator, min_late_spikes=min_late_spikes,
    )  # fmt: skip


def check_fi_currents(currents, min_late_spikes: int = 2) -> np.ndarray:
    """The currents of an f-I curve as an increasing 1-D array, or a one-line error."""
    from neuroscape.core.stimuli import StimulusError

    cur = np.atleast_1d(np.asarray(currents, dtype=float))
    if cur.ndim != 1 or len(cur) == 0 or not np.isfinite(cur).all():
        raise StimulusError(f"currents={currents!r}; allowed: one or more finite numbers")
    if not np.all(np.diff(cur) > 0):
        raise StimulusError("currents must be strictly increasing (the thresholds are the lowest)")
    if not (isinstance(min_late_spikes, int | np.integer) and min_late_spikes >= 2):
        raise SettingsError(f"min_late_spikes={min_late_spikes!r}; allowed: an integer >= 2")
    return cur


def fi_curve_from(
    ref: str, current_unit: str, cur: np.ndarray, spike_times, rates, ok, errors, labels, *,
    t_on_ms: float, duration_ms: float, window_ms: float, dt_ms: float, integrator: str,
    min_late_spikes: int = 2,
) -> FICurve:  # fmt: skip
    """An ``FICurve`` from one run per current (a step from ``t_on_ms``): spike times per row,
    rates over the window; the thresholds from the counts during the step and in its second
    half. Any engine's runs (point neurons, multi-compartment cells) go through here."""
    t_mid = t_on_ms + (duration_ms - t_on_ms) / 2
    counts = np.array([np.count_nonzero(np.asarray(t) >= t_on_ms) for t in spike_times])
    late = np.array([np.count_nonzero(np.asarray(t) >= t_mid) for t in spike_times])
    ok = np.asarray(ok, dtype=bool)

    def lowest(mask: np.ndarray) -> float | None:
        mask = mask & ok
        return float(cur[np.argmax(mask)]) if mask.any() else None

    return FICurve(
        model=ref,
        currents=cur,
        current_unit=current_unit,
        rates=np.asarray(rates, dtype=float),
        counts=counts,
        late_counts=late,
        single_spike_threshold=lowest(counts >= 1),
        rheobase=lowest(late >= min_late_spikes),
        ok=ok,
        errors=list(errors),
        labels=list(labels) if labels is not None else [None] * len(cur),
        t_on_ms=float(t_on_ms),
        duration_ms=float(duration_ms),
        window_ms=float(window_ms),
        dt_ms=float(dt_ms),
        integrator=integrator,
        min_late_spikes=int(min_late_spikes),
    )


class NeuronBatch:
    """A single-neuron model under one fixed stimulus, as a model of the batched engine
    (so that sweeps and the model database take single neurons like networks)."""

    # run_batch's default CPU chunk reads it (1,024 rows for single neurons: 64 cost 25% more)
    kind = "neuron"

    def __init__(self, model: NeuronModel | str, stimulus: Stimulus | None = None) -> None:
        from neuroscape.core.stimuli import make_stimulus

        self.model = get_neuron_model(model)
        self.spec = self.model.spec
        self.stimulus = stimulus if stimulus is not None else make_stimulus("step", amp=0.0)
        self.stimulus.validate()
        if np.asarray(self.stimulus.values).shape[0] != 1:
            raise SettingsError("a sweep takes one stimulus for every point (one row)")

    def integrator_for(self, device: str, integrator: str | None) -> str | None:
        """The scheme on ``device`` when ``integrator`` is None (``device_integrator``)."""
        return device_integrator(self.model, device, integrator)

    def check_settings(self, settings) -> None:
        check_neuron_settings(self.model, settings.integrator, settings.dt_ms)
        self.stimulus.check(settings.duration_ms)

    def describe(self) -> dict:
        return {
            "model": self.spec.name,
            "model_version": self.spec.version,
            "stimulus": {
                "kind": self.stimulus.kind,
                "values": np.asarray(self.stimulus.values)[0].tolist(),
            },
        }

    def run_chunk(self, params, keys, settings, device, recording):
        import numba

        from neuroscape.core.settings import ChunkResult

        if device != "cpu" and self.model.equations is None:
            raise SettingsError(
                f"device={device!r}: {self.model.name} is a hand-written model (numba only); "
                "allowed: device='cpu' (equation models also run on cuda)"
            )
        if recording.v_neurons and tuple(recording.v_neurons) != (0,):
            raise SettingsError(
                f"record_v={list(recording.v_neurons)}: a single-neuron model has neuron 0 only"
            )
        res = simulate_neurons(
            self.model,
            params,
            self.stimulus,
            duration_ms=settings.duration_ms,
            dt_ms=settings.dt_ms,
            window_ms=settings.window_ms,
            integrator=settings.integrator,
            allow_outside=True,
            keys=keys,
            workers=numba.get_num_threads(),  # what the engine set
            record_v=bool(recording.v_neurons),
            device=device,
        )
        outputs = np.column_stack([res.rates, res.cv_isi])
        outputs[~res.ok] = np.nan
        spikes = None
        if recording.spikes:  # one neuron per row: its spike times, neuron index 0
            spikes = [
                (np.asarray(t, float), np.zeros(len(t), dtype=np.int64)) for t in res.spike_times
            ]
        voltages = res.v[:, None, :] if recording.v_neurons else None
        return ChunkResult(
            outputs, res.ok, res.errors, labels=res.labels, spikes=spikes, voltages=voltages
        )
