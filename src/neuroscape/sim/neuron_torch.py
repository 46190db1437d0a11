"""torch back end of the single-neuron engine: B parameter sets of an equation model at once on a
CUDA GPU (or, for testing, on the CPU: device "torch-cpu").

The model's functions are generated from its sympy form (``NeuronModel.equations``) by the same
printer as the numba ones, with torch tensors (one element per row) for scalars, and the
scheme's step is the same generated stage code (``core.integrators``). The time loop is the
numba kernel's (``neuron_engine.generate_source``) with its branches turned into masks: the
precise reset (crossing interpolated inside the step, reset then, refractory period released
off the grid), the reset on the grid, upward crossings of ``spike_level``, runaway firing and
non-finite rows. The rare branches (a spike, a release inside the step) run on the rows that
take them only. HH-type models also run under their gate-table schemes, with the numba engine's
tables (one per distinct value of the parameters they depend on) read on the device. Noisy and
Poisson stimuli draw the counter-based random numbers of ``core.rng`` at the same positions as
the numba kernel (row r: stream (seed, r)).

The arithmetic is the numba kernel's, operation for operation, in float64; what differs is the
last bit of transcendental functions (torch's exp, log, cos, expm1 against libm's), so spike
times agree to rounding, not bitwise.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from types import ModuleType

import numpy as np

from neuroscape.core import stimuli as stimuli_mod
from neuroscape.core.integrators import (
    EXPONENTIAL_EULER,
    EXPONENTIAL_STAGGERED_TABLES,
    TABLE_SCHEMES,
    TABLEAUX,
    IntegratorError,
    exponential_euler_source,
    get_tableau,
    step_source,
)
from neuroscape.core.rng import GAMMA, MASK64, as_signed64, row_keys, torch_mix64
from neuroscape.core.settings import SettingsError
from neuroscape.core.stimuli import Stimulus
from neuroscape.models import get_neuron_model
from neuroscape.models.neuron import NeuronModel
from neuroscape.sim.neuron_engine import (
    NeuronResult,
    neuron_result,
    neuron_settings,
)

TORCH_CPU = "torch-cpu"  # the torch back end on the CPU (tests, machines without a GPU)
TORCH_SCHEMES = (*TABLEAUX, EXPONENTIAL_EULER, *TABLE_SCHEMES)
TABLE_BYTES = 1 << 30  # gate tables held on the device at once (rows of more groups: in turns)


def torch_device(device: str):
    """The torch device for ``device``: "torch-cpu", "cuda" or "cuda:N" (one line otherwise)."""
    try:
        import torch
    except ImportError:
        raise SettingsError(
            f"device={device!r} needs PyTorch; install torch (pip install torch)"
        ) from None
    if device == TORCH_CPU:
        return torch.device("cpu")
    if device == "cuda" or re.fullmatch(r"cuda:\d+", device or ""):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0 or (":" in device and int(device.split(":")[1]) >= n):
            raise SettingsError(
                f"device={device!r} asked for, but {n} CUDA GPU(s) are available; allowed here: "
                f"cpu, {TORCH_CPU}" + (", cuda" if n else "")
            )
        return torch.device(device)
    raise SettingsError(f"unknown device {device!r}; allowed: cpu, {TORCH_CPU}, cuda, cuda:N")


# ------------------------------------------------------------------------- generated functions


def torch_source(model: NeuronModel, scheme: str) -> str:
    """The torch module of ``model`` under ``scheme`` (canonical name): rhs, linear (exponential
    Euler), voltage_linear (gate tables), threshold and reset over tensors, and the scheme's
    ``step`` (the gate-table steps are ``_table_step``)."""
    from neuroscape.models.equations.codegen import TORCH_HEADER, Printer, torch_function

    eq = model.equations
    n_s, n_p = len(eq.states), len(eq.params)
    ys = [f"y{i}" for i in range(n_s)]
    ps = [f"p{j}" for j in range(n_p)]
    pr = Printer({}, lib="torch")
    src = [TORCH_HEADER.format(origin=f"model {model.name}, scheme {scheme}")]
    src.append(torch_function("rhs", [*ys, "cur", *ps], list(eq.rhs), pr))
    if scheme == EXPONENTIAL_EULER:
        src.append(torch_function("linear", [*ys, "cur", *ps], list(eq.linear), pr))
        step = exponential_euler_source(n_s, n_p + 1)
    elif scheme in TABLE_SCHEMES:
        src.append(
            torch_function("voltage_linear", [*ys, "cur", *ps], _voltage_linear(eq), _VPrinter())
        )
        step = ""
    else:
        step = step_source(get_tableau(scheme), n_s, n_p + 1)
    if model.has_reset:
        src.append(
            torch_function("threshold", [*ys, *ps], [eq.threshold], pr, tuple_out=False, cse=False)
        )
        src.append(torch_function("reset", [*ys, *ps], list(eq.reset), pr))
    src.append("\n\n" + step)
    return "\n".join(src)


def _voltage_linear(eq) -> list:
    """(A, B) with dV/dt = A V + B, by the rule of ``models.equations.gates.gate_structure``
    (which writes the numba ``voltage_linear``; a test compares the two): exact where V enters
    linearly, else the linearisation at the present state."""
    import sympy

    v, f = eq.states[0], eq.rhs_free[0]
    a0 = sympy.diff(f, v)
    b0 = f.subs(v, 0) if not a0.has(v) else f - a0 * v
    if b0.has(sympy.zoo, sympy.nan, sympy.oo):
        b0 = f - a0 * v
    return [a0, b0]


def _VPrinter():
    """The torch printer with the gate-table code's rules (``gates._Printer``): exprel's
    derivative, and negative integer powers as products."""
    from neuroscape.models.equations.codegen import Printer
    from neuroscape.models.equations.expressions import exprel_d

    class VPrinter(Printer):
        def p(self, e) -> str:
            if isinstance(e, exprel_d):
                return f"_exprel_d_t({self.p(e.args[0])})"
            if e.is_Pow and e.exp.is_Integer and -4 <= e.exp < -1:
                return f"(1.0 / {self.p(e.base ** -e.exp)})"
            return super().p(e)

    return VPrinter({}, lib="torch")


_MODULES: dict[str, ModuleType] = {}


def torch_functions(model: NeuronModel, scheme: str) -> ModuleType:
    """The generated torch module (cached by the hash of its source, not by the model's name:
    a model redefined under the same name gets its own)."""
    src = torch_source(model, scheme)
    h = hashlib.sha256(src.encode()).hexdigest()[:16]
    if h not in _MODULES:
        mod = ModuleType(f"_neuroscape_torch_{model.name}_{h}")
        mod.__file__ = f"<neuroscape torch {model.name} {scheme} {h}>"
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 - generated source
        _MODULES[h] = mod
    return _MODULES[h]


# ------------------------------------------------------------------------------------ stimuli


def _srl(x, s: int):
    """Logical right shift of int64 tensors (uint64 arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def _word(key, counter: int):
    """``core.rng.word(key, counter)`` for int64 key tensors and one counter."""
    off = (counter * GAMMA) & MASK64
    return torch_mix64(key + (off - (1 << 64) if off >> 63 else off))


_STIM_STREAM = int(stimuli_mod._STIM_STREAM)
_TWO_PI = float(stimuli_mod._TWO_PI)


def _current(kind: int, s0, s1, s2, s3, t: float, dt: float, step: int, key, isyn, v):
    """``core.stimuli.stimulus_current`` for all rows: (current, synaptic state)."""
    import torch

    if kind == 0:
        return torch.where((t >= s1) & (t < s2), s0, 0.0), isyn
    if kind == 1:
        inside = (t >= s2) & (t < s3)
        return torch.where(inside, s0 + (s1 - s0) * (t - s2) / (s3 - s2), 0.0), isyn
    x = _word(key, _STIM_STREAM | step)
    if kind == 2:
        u1 = ((x & 0xFFFFFFFF).to(torch.float64) + 1.0) / 4294967297.0
        u2 = _srl(x, 32).to(torch.float64) / 4294967296.0
        xi = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(_TWO_PI * u2)
        inside = (t >= s2) & (t < s3)
        return torch.where(inside, s0 + s1 * xi / math.sqrt(dt), 0.0), isyn
    # Poisson kicks: the inverse-CDF search of the numba code, on the rows still searching
    lam = s0 * dt * 1e-3
    u = _srl(x, 11).to(torch.float64) * (1.0 / 9007199254740992.0)
    p = torch.exp(-lam)
    c = p
    k = torch.zeros_like(key)
    more = u > c
    while bool(more.any()):
        k = k + more
        p = torch.where(more, p * (lam / k.to(torch.float64)), p)
        c = torch.where(more, c + p, c)
        more = more & (u > c) & (k < 10000)
    isyn = isyn * torch.exp(-dt / s2) + s1 * k.to(torch.float64)
    if kind == 4:
        return isyn * (s3 - v), isyn
    return isyn, isyn


# -------------------------------------------------------------------------------------- engine


def _refine_crossing(step, o, cur, p, v_old, v_end, level, f, dt, rows, rows_of):
    """Partial steps from the step's start state ``o`` to the threshold crossing, for the
    ``rows`` mask: at most 3 regula-falsi updates (Illinois variant) after the straight-line
    guess ``f * dt``, the same arithmetic as the numba kernel's. Returns (h, states at h)."""
    import torch

    tol = 1e-12 * (1.0 + torch.abs(torch.as_tensor(level, dtype=v_old.dtype)))
    lo = torch.zeros_like(v_old)
    hi = torch.full_like(v_old, dt)
    glo, ghi = v_old - level, v_end - level
    side = torch.zeros_like(v_old)
    h = f * dt
    r = [rows_of(x, v_old) for x in step(*o, h, cur, *p)]
    act = rows.clone()
    for _ in range(3):
        gm = r[0] - level
        act = act & ~(torch.abs(gm) <= tol)
        if not bool(act.any()):
            break
        up, dn = act & (gm > 0.0), act & ~(gm > 0.0)
        glo = torch.where(up & (side == 1), glo * 0.5, glo)
        hi, ghi = torch.where(up, h, hi), torch.where(up, gm, ghi)
        ghi = torch.where(dn & (side == -1), ghi * 0.5, ghi)
        lo, glo = torch.where(dn, h, lo), torch.where(dn, gm, glo)
        side = torch.where(up, 1.0, torch.where(dn, -1.0, side))
        h = torch.where(act, lo + (hi - lo) * (-glo) / (ghi - glo), h)
        rn = [rows_of(x, v_old) for x in step(*o, h, cur, *p)]
        r = [torch.where(act, a, b) for a, b in zip(rn, r, strict=True)]
    return h, r


def simulate_neurons_torch(
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
    allow_outside: bool = False,
    y0: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    device: str = "cuda",
) -> NeuronResult:
    """``neuron_engine.simulate_neurons`` on a torch device ("cuda", "cuda:N", or "torch-cpu"),
    for equation models (``model.equations``) under euler, midpoint (rk2), rk4,
    exponential_euler or the gate-table schemes: the same arguments (times in ms, currents in
    the model's unit), the same semantics and the same ``NeuronResult``. Gate-table rows follow
    the numba row-by-row kernel (numba's block kernel for steps and ramps agrees with it to
    1e-8 mV)."""
    from neuroscape.core.stimuli import make_stimulus

    m = model if isinstance(model, NeuronModel) else get_neuron_model(model)
    dev = torch_device(device)
    if m.equations is None:
        raise SettingsError(
            f"device={device!r}: {m.name} is a hand-written model (numba only); allowed: "
            "device='cpu', or an equation model"
        )
    settings, scheme = neuron_settings(m, duration_ms, dt_ms, window_ms, integrator)
    if scheme not in TORCH_SCHEMES:
        raise IntegratorError(
            f"integrator {scheme!r} is not available on device {device!r}; allowed: "
            f"{', '.join(TORCH_SCHEMES)}"
        )
    duration_ms, dt, window_ms = settings.duration_ms, settings.dt_ms, settings.window_ms
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
    n_s = len(m.states)
    if y0 is None:
        y0 = m.initial_state(p)
    y0 = np.asarray(y0, dtype=float)
    if y0.ndim != 2 or y0.shape[0] not in (1, b) or y0.shape[1] != n_s:
        raise SettingsError(
            f"y0 has shape {y0.shape}; allowed: (1 or {b}, {n_s}) for states {m.states}"
        )
    y0 = np.broadcast_to(y0, (b, n_s))
    keys = keys if keys is not None else row_keys(seed, np.arange(b) if rows is None else rows)
    keys = np.asarray(keys, dtype=np.uint64)
    if m.refractory_param is not None:
        t_ref = p[:, m.spec.parameter_names.index(m.refractory_param)].copy()
        n_held = np.maximum(np.round(t_ref / dt).astype(np.int64) - 1, 0)
    else:
        t_ref = np.full(b, float(m.refractory_ms))
        n_held = np.full(b, max(int(round(m.refractory_ms / dt)) - 1, 0), dtype=np.int64)
    rec_every = int(record_every) if record_v else 0
    n_steps, rec_start = settings.n_steps, settings.rec_start
    n_rec = n_steps // rec_every if rec_every else 0
    fns = torch_functions(m, scheme)

    counts, spk_n, fast = (np.zeros(b, dtype=np.int64) for _ in range(3))
    ok = np.zeros(b, dtype=bool)
    vtrace = np.zeros((b, n_s, n_rec))
    spike_times: list[np.ndarray | None] = [None] * b
    wall = 0.0
    for sel, tables in _table_chunks(m, scheme, p, float(dt)):
        t0 = time.perf_counter()
        out = _run(
            fns, m, dev, p[sel], y0[sel], stimulus.code, stim[sel], keys[sel], n_steps,
            float(dt), rec_start, t_ref[sel], n_held[sel], rec_every, n_rec, record_spikes,
            tables, scheme == EXPONENTIAL_STAGGERED_TABLES,
        )  # fmt: skip
        wall += time.perf_counter() - t0
        counts[sel], spk_n[sel], fast[sel], ok[sel], vtrace[sel], times = out
        for k, r in enumerate(sel):
            spike_times[r] = times[k]

    return neuron_result(
        m, p, stimulus, counts, spk_n, fast, ok, spike_times, vtrace, rec_every, n_rec,
        dt_ms=dt, duration_ms=duration_ms, window_ms=window_ms, scheme=scheme, seed=seed,
        wall=wall, record_spikes=record_spikes,
    )  # fmt: skip


def _table_chunks(m: NeuronModel, scheme: str, p: np.ndarray, dt: float):
    """(rows, gate tables or None) to run together: all rows at once without gate tables; with
    them, one table per distinct value of the parameters it depends on (``_gate_table``, as the
    numba engine builds it), and the rows of as many tables as TABLE_BYTES holds at a time."""
    if scheme not in TABLE_SCHEMES:
        yield np.arange(len(p)), None
        return
    from neuroscape.sim.neuron_engine import _gate_table

    idx = [m.spec.parameter_names.index(n) for n in m.table_params]
    groups = np.unique(p[:, idx], axis=0, return_inverse=True)[1].ravel()
    firsts = [int(np.flatnonzero(groups == g)[0]) for g in range(groups.max() + 1)]
    size = _gate_table(m, p[firsts[0]], dt).nbytes
    per = max(1, TABLE_BYTES // size)
    for lo in range(0, len(firsts), per):
        tabs = np.stack([_gate_table(m, p[r], dt) for r in firsts[lo : lo + per]])
        sel = np.flatnonzero((groups >= lo) & (groups < lo + per))
        yield sel, (tabs, groups[sel] - lo)


def _table_step(fns, read, n_s: int, staggered: bool):
    """The gate-table steps of ``neuron_engine._tabulated_step_source`` and
    ``_staggered_step_source`` over tensors: ``step(y..., dt, cur, p..., first=False)`` and
    ``half_step(y...)`` (the staggered gates half a step on, for recording)."""
    import torch

    vl, phi1 = fns.voltage_linear, fns.phi1

    def step(*a, first=False):
        y, h, rest = a[:n_s], a[n_s], a[n_s + 1 :]
        g = read(y[0])
        if staggered:  # the gates to t + dt/2 (from t = 0 in the first step), then V
            e = [torch.sqrt(g[2 * k]) if first else g[2 * k] for k in range(n_s - 1)]
            z = [g[2 * k + 1] + (y[k + 1] - g[2 * k + 1]) * e[k] for k in range(n_s - 1)]
            big_a, big_b = vl(y[0], *z, *rest)
            return (y[0] + (big_a * y[0] + big_b) * h * phi1(big_a * h), *z)
        big_a, big_b = vl(*y, *rest)
        out = [y[0] + (big_a * y[0] + big_b) * h * phi1(big_a * h)]
        for k in range(n_s - 1):
            e, inf = g[2 * k], g[2 * k + 1]
            out.append(inf + (y[k + 1] - inf) * e)
        return tuple(out)

    def half_step(*y):
        g = read(y[0])
        return [g[2 * k + 1] + (y[k + 1] - g[2 * k + 1]) * torch.sqrt(g[2 * k])
                for k in range(n_s - 1)]  # fmt: skip

    return step, half_step


def _run(fns, m: NeuronModel, dev, p, y0, kind, stim, keys, n_steps, dt, rec_start, t_ref,
         n_held, rec_every, n_rec, record_spikes, tables=None,
         staggered=False):  # fmt: skip
    """The time loop (see ``neuron_engine.generate_source``); numpy results. tables: (stacked
    gate tables (G, n_grid, 2 n_gates [+ 2]), each row's table) for the gate-table schemes."""
    import torch

    f64, i64 = torch.float64, torch.int64
    b, n_s = y0.shape
    threshold, reset = getattr(fns, "threshold", None), getattr(fns, "reset", None)
    half_step = None
    if tables is None:
        step = fns.step
    else:
        from neuroscape.sim.neuron_engine import TABLE_DV, TABLE_V_MIN

        tabs, grp = tables
        n_grid, n_cols = tabs.shape[1], tabs.shape[2]
        n_c = 2 * (n_s - 1)
        if n_cols == n_c + 2:  # the grid's start and inverse spacing in V's unit: last columns
            v_min, inv_h = tabs[grp, 0, n_c], tabs[grp, 0, n_c + 1]
        else:
            v_min, inv_h = np.full(b, TABLE_V_MIN), np.full(b, 1.0 / TABLE_DV)
        flat = torch.as_tensor(np.ascontiguousarray(tabs).ravel(), dtype=f64, device=dev)
        v_min_t = torch.as_tensor(v_min, dtype=f64, device=dev)
        inv_h_t = torch.as_tensor(inv_h, dtype=f64, device=dev)
        base = torch.as_tensor(grp.astype(np.int64) * (n_grid * n_cols), device=dev)
        kmax = n_grid - 1.000001

        def read(v):
            """The table's columns at V, interpolated linearly (V beyond the grid: its end)."""
            x = torch.nan_to_num(torch.clamp((v - v_min_t) * inv_h_t, 0.0, kmax), nan=0.0)
            k = x.to(i64)
            f = x - k.to(f64)
            at = base + k * n_cols
            lo = [flat[at + c] for c in range(n_c)]
            return [lo[c] + f * (flat[at + n_cols + c] - lo[c]) for c in range(n_c)]

        step, half_step = _table_step(fns, read, n_s, staggered)

    def col(a, dtype=f64):
        return torch.as_tensor(np.array(a, copy=True), dtype=dtype, device=dev)

    def rows_of(x, like):
        """A (rows,) tensor of x (a generated function may return a constant or a parameter)."""
        if not isinstance(x, torch.Tensor):
            return torch.full_like(like, float(x), dtype=like.dtype)
        return x.expand_as(like)

    pc = [col(p[:, j]) for j in range(p.shape[1])]
    y = [col(y0[:, i]) for i in range(n_s)]
    s0, s1, s2, s3 = (col(stim[:, k]) for k in range(4))
    key = col(as_signed64(keys), i64)
    isyn = torch.zeros(b, dtype=f64, device=dev)
    cnt = torch.zeros(b, dtype=i64, device=dev)
    nrec = torch.zeros(b, dtype=i64, device=dev)
    nfast = torch.zeros(b, dtype=i64, device=dev)
    vtrace = torch.zeros((b, n_s, n_rec), dtype=f64, device=dev)
    spk_rows: list = []
    spk_times: list = []
    precise = m.has_reset and m.precise_reset
    if precise:
        lv = m.threshold_level
        lvl = pc[m.spec.parameter_names.index(lv)] if isinstance(lv, str) else float(lv)
        t_ref_t = col(t_ref)
        last_t = torch.full((b,), -1e300, dtype=f64, device=dev)
        t_free = torch.full((b,), -1e300, dtype=f64, device=dev)
    elif m.has_reset:
        n_held_t = col(n_held, i64)
        held = torch.zeros(b, dtype=i64, device=dev)
        last = torch.full((b,), -(1 << 40), dtype=i64, device=dev)
    level = float(m.spike_level)

    keep_v = m.hold_refractory  # '(unless refractory)': else V integrates, the threshold waits

    def sub(xs, i):
        return [x[i] if isinstance(x, torch.Tensor) and x.dim() else x for x in xs]

    for s in range(n_steps):
        t = s * dt
        te = t + dt
        # the current at the step's midpoint, as the numba kernels hold it
        t_c = t + 0.5 * dt
        cur, isyn = _current(kind, s0, s1, s2, s3, t_c, dt, s, key, isyn, y[0])
        v_old = y[0]
        o = y
        extra = {"first": s == 0} if staggered else {}
        y = [rows_of(x, v_old) for x in step(*y, dt, cur, *pc, **extra)]
        spiked = None  # rows that spiked in this step (all rows: a mask; else indices)
        if precise:
            hold = t_free >= te
            rel = ~hold & (t_free > t)
            if keep_v:
                y[0] = torch.where(hold, v_old, y[0])
            if keep_v and bool(rel.any()):
                # released inside the step: V integrates from its reset value for the rest of it
                i = rel.nonzero()[:, 0]
                r = step(*sub(o, i), te - t_free[i], cur[i], *sub(pc, i))
                y[0] = y[0].index_copy(0, i, r[0])
            cand = (t_free < te) & rows_of(threshold(*y, *pc), hold)
            if bool(cand.any()):
                i = cand.nonzero()[:, 0]
                yy, oo, pp, cc = sub(y, i), sub(o, i), sub(pc, i), cur[i]
                vo, tf = v_old[i], t_free[i]
                lv_i = lvl[i] if isinstance(lvl, torch.Tensor) else lvl
                # the crossing, interpolated inside the part of the step that was integrated;
                # the other states are interpolated to it, the reset happens then
                t_a = torch.clamp(tf, min=t)
                dv = yy[0] - vo
                f = torch.where(dv != 0, (lv_i - vo) / torch.where(dv != 0, dv, 1.0), 1.0)
                t_spk = t_a + torch.clamp(f, 0.0, 1.0) * (te - t_a)
                g = (t_spk - t) / dt
                yy = [yy[0]] + [oo[k] + g * (yy[k] - oo[k]) for k in range(1, n_s)]
                ref = (tf <= t) & (f > 0.0) & (f < 1.0)
                if bool(ref.any()):
                    # the crossing found again on the step itself (as the numba kernel does:
                    # regula falsi, Illinois variant, from the step's start state)
                    h, r = _refine_crossing(step, oo, cc, pp, vo, yy[0],
                                            lv_i, f, dt, ref, rows_of)
                    t_spk = torch.where(ref, t + h, t_spk)
                    yy = [yy[0]] + [torch.where(ref, r[k], yy[k]) for k in range(1, n_s)]
                yy = [rows_of(x, vo) for x in reset(*yy, *pp)]
                nfast = nfast.index_add(0, i, (t_spk - last_t[i] <= 2.0 * dt).to(i64))
                last_t = last_t.index_copy(0, i, t_spk)
                tf2 = t_spk + t_ref_t[i]
                t_free = t_free.index_copy(0, i, tf2)
                # the rest of the step from the reset state (V held until the release)
                inner = t_spk < te
                z = [rows_of(x, vo) for x in step(*yy, te - t_spk, cc, *pp)]
                z = [torch.where(inner, a, a0) for a, a0 in zip(z, yy, strict=True)]
                hold2 = inner & (tf2 >= te)
                rel2 = inner & ~hold2 & (tf2 > t_spk)
                if keep_v:
                    z[0] = torch.where(hold2, yy[0], z[0])
                if keep_v and bool(rel2.any()):
                    r = step(*yy, te - tf2, cc, *pp)
                    z[0] = torch.where(rel2, rows_of(r[0], vo), z[0])
                y = [yk.index_copy(0, i, zk) for yk, zk in zip(y, z, strict=True)]
                spiked = (i, t_spk)
        elif m.has_reset:
            h = held > 0
            if keep_v:  # refractory: V held at its reset value
                y[0] = torch.where(h, v_old, y[0])
            held = held - h.to(i64)
            th = ~h & rows_of(threshold(*y, *pc), h)
            if bool(th.any()):
                y = [torch.where(th, rows_of(r, v_old), yk) for r, yk in zip(reset(*y, *pc), y,
                                                                               strict=True)]
                held = torch.where(th, n_held_t, held)
                # a spike within 2 steps of the previous one: the reset did not end the upstroke
                nfast = nfast + (th & (s - last <= 2)).to(i64)
                last = torch.where(th, s, last)
                i = th.nonzero()[:, 0]
                spiked = (i, torch.full((len(i),), te, dtype=f64, device=dev))
        else:
            up = (v_old < level) & (y[0] >= level)
            if bool(up.any()):
                i = up.nonzero()[:, 0]
                vo, vn = v_old[i], y[0][i]
                spiked = (i, t + dt * (level - vo) / (vn - vo))
        if spiked is not None:
            i, t_spk = spiked
            if s >= rec_start:
                cnt = cnt.index_add(0, i, torch.ones_like(i))
            nrec = nrec.index_add(0, i, torch.ones_like(i))
            if record_spikes:
                spk_rows.append(i)
                spk_times.append(t_spk)
        if rec_every and (s + 1) % rec_every == 0:
            # staggered gates are recorded at V's time: half a step on from where they are
            rec = [y[0], *half_step(*y)] if staggered else y
            for k in range(n_s):
                vtrace[:, k, (s + 1) // rec_every - 1] = rec[k]

    ok = torch.stack([torch.isfinite(x) for x in y]).all(0)
    spike_times: list[np.ndarray | None] = [None] * b
    if record_spikes:
        if spk_rows:
            r_all = torch.cat(spk_rows).cpu().numpy()
            t_all = torch.cat(spk_times).cpu().numpy()
        else:
            r_all, t_all = np.zeros(0, np.int64), np.zeros(0)
        order = np.argsort(r_all, kind="stable")  # each row's spikes stay in time order
        bounds = np.searchsorted(r_all[order], np.arange(b + 1))
        t_sorted = t_all[order]
        spike_times = [t_sorted[bounds[r] : bounds[r + 1]].copy() for r in range(b)]
    return (
        cnt.cpu().numpy(),
        nrec.cpu().numpy(),
        nfast.cpu().numpy(),
        ok.cpu().numpy(),
        vtrace.cpu().numpy(),
        spike_times,
    )
