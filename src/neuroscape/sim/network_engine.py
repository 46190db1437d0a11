"""The network engine: one generated numba kernel per network description, B parameter sets on
one shared graph, one thread per row.

Per step, in Brian2's order (Stimberg, Brette and Goodman 2019): every population integrates
with its own scheme (the neuron engine's step code), the thresholds are tested, the synapses act
(delayed effects due now, then on_pre of this step's spikes, then on_post), the Poisson inputs
kick, and the spiking neurons reset and start their refractory period (Brian2's rule: held for
int(t_ref/dt + 0.001) steps counted from the spike step; a variable declared (unless refractory)
keeps its value meanwhile, whatever synapses and inputs write to it). Spikes are on the step
grid.

Random numbers come from the counter-based generator of ``neuroscape.core.rng`` at positions fixed
by (row, step, neuron or synapse), so a row's result never depends on the batch it runs in.
Counters: state i of neuron gid starts from ``INIT | ((gid n_states + i) R + r)``; Poisson
sources draw ``(s N + gid) << SUB``; Poisson inputs onto the population at offset off draw one
word per step and pair of inputs, ``(s N + off) << SUB | pair``, whose halves seed each neuron's
32-bit uniform (``core.rng.mix32``: 8 lanes wide on AVX2); the draws of a synaptic statement block
``SYN | ((((s S + k) 2 + side) M) + slot)`` (``draw_slots``; a delay drawn per spike takes the
on_pre block's slots after its statements' own, ``delay_draw_slots``); synaptic variable vi of
synapse k starts from ``SYN_INIT | ((k V + vi) R + r)``. No two draws of a row share a counter.

A delay drawn per spike (``delay_draw: spike``) puts the effect of each transmission into a
queue of per-target sums as long as the delay's largest value (its corner of the draws' box);
a bounded synaptic variable is clipped after every statement block and closed-form update;
records (``records``) sample weights outputs every T from closed forms that leave the
synapses' state as it is, so recording never changes a run.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import sympy

from neuroscape.core import integrators as integrators_mod
from neuroscape.core import rng as rng_mod
from neuroscape.core.connectivity import Graph
from neuroscape.core.integrators import (
    EXACT,
    EXPONENTIAL_EULER,
    TABLE_SCHEMES,
    IntegratorError,
    canonical_name,
    exponential_euler_source,
    get_tableau,
    step_source,
)
from neuroscape.core.rng import (
    SUB_BITS,
    lane_offsets,
    poisson_thresholds,
    unit_float_np,
    word_np,
)
from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import ChunkResult, Recording, SettingsError, SimSettings
from neuroscape.models.equations.codegen import Printer
from neuroscape.models.network.description import (
    NetworkError,
    NetworkModel,
    Population,
    _lambdified,
    edge_arrays,
    lems_delay_steps,
    lems_refractory_steps,
    stimulus_trace,
)

INIT = 1 << 63
SYN = 1 << 62
SYN_INIT = 3 << 61
DENSE_MAX = 1 << 22  # largest dense projection mask (entries; 32 MiB)
TARGETS = ("cpu", "cuda")  # the kernels _Gen writes: numba CPU (rows on threads) and numba.cuda
M32_LIT = "np.uint64(4294967295)"
K_FAST = 6  # branch-free Poisson comparisons per draw (the rare larger counts: a second pass)
# CPU: a population's state arrays are padded to a whole number of vectors (16 float32 or 8
# float64 lanes) when that adds at most this fraction of neurons, so that the fused integration
# loop has no scalar remainder (75 neurons ran as 9 ymm vectors + 3 scalar steps, 80 as 5 zmm)
PAD_MAX_FRAC = 0.125
# CPU float32: each input's branch-free pass compares with only as many table entries as its
# rate needs (one of K_VARIANTS, chosen per row): the fewest K with an expected number of draws
# of K or more kicks (the second pass) below K_OVF per step in the target population
K_VARIANTS = (2, 3, 4, K_FAST)
K_OVF = 0.05


def _rand_values(expr, keys: np.ndarray, base: int, ids: np.ndarray, rows: dict,
                 edge: dict | None = None) -> np.ndarray:
    """(B, n) values of ``expr``: its k-th draw at counter ``base | (id R + slot_k)``, where a
    rand() takes one slot and a randn() two (Box-Muller), R the expression's slots; a per-edge
    symbol ``edge_NAME`` reads ``edge[NAME]`` (n values, one per synapse)."""
    syms = sorted(expr.free_symbols, key=str)
    draws = sorted({s.name for s in syms if s.name.startswith(("rand_", "randn_"))},
                   key=lambda n: int(n.split("_")[1]))
    widths = [2 if n.startswith("randn_") else 1 for n in draws]
    r_n = max(sum(widths), 1)
    vals, o = {}, 0
    for name, w in zip(draws, widths, strict=True):
        c = np.uint64(base) | (ids.astype(np.uint64) * np.uint64(r_n) + np.uint64(o))
        u = [unit_float_np(word_np(keys, c + np.uint64(m))) for m in range(w)]
        vals[name] = (np.sqrt(-2.0 * np.log(1.0 - u[0])) * np.cos(2.0 * np.pi * u[1])
                      if w == 2 else u[0])
        o += w
    args = []
    for s in syms:
        if s.name in vals:
            args.append(vals[s.name])
        elif edge is not None and s.name in edge:
            args.append(edge[s.name][None, :])
        elif s.name in rows:
            args.append(rows[s.name][:, None])
        else:
            raise NetworkError(f"{expr}: unknown symbol {s.name}")
    _, f = _lambdified(expr)  # the same sorted symbols
    out = np.asarray(f(*args), dtype=float)
    return np.broadcast_to(out, (len(keys), len(ids))).copy()


def syn_initial(j, v, keys: np.ndarray, rows: dict, koff: int, nsyn: int) -> np.ndarray:
    """(B, nsyn) initial values of synaptic variable ``v`` of projection ``j``: variable vi of
    synapse k draws at its own counters ``SYN_INIT | (((koff + k) V + vi) R + r)``."""
    n_v = len(j.synvars)
    vi = [x.name for x in j.synvars].index(v.name)
    ids = (np.arange(nsyn, dtype=np.int64) + koff) * n_v + vi
    return _rand_values(v.initial, keys, SYN_INIT, ids, rows, edge_arrays(j))


# ------------------------------------------------------------------ code generation
def pop_scheme(pop: Population, settings: SimSettings) -> str:
    """The scheme population ``pop`` integrates with: the run's integrator unless 'auto', then
    the population's, then its model's declared one."""
    m = pop.model
    scheme = settings.integrator
    if scheme in ("auto", "", None):
        scheme = pop.integrator or m.spec.settings.integrator
    from neuroscape.sim.neuron_engine import check_neuron_settings

    scheme = check_neuron_settings(m, scheme, settings.dt_ms)
    if scheme in TABLE_SCHEMES:
        raise IntegratorError(
            f"population {pop.name}: integrator {scheme!r} is not available in networks yet; "
            "allowed: exponential_euler, exact or a Runge-Kutta scheme (rk4)"
        )
    return scheme


class _F32Printer(Printer):
    """Numbers as float32 literals: numba computes float32 * (a float64 literal) in float64,
    which would undo the narrower type."""

    def p(self, e) -> str:
        if getattr(e, "is_Number", False) and e.is_finite:
            return f"np.float32({float(e)!r})"
        return super().p(e)


def _f32(c: float) -> str:
    return f"np.float32({c!r})"


def _step_def32(q: int, pop: Population, scheme: str) -> str:
    """The population's step, threshold and reset in float32, generated from its equations."""
    from neuroscape.models.equations.codegen import jit_function

    m, eq = pop.model, pop.model.equations
    if not m.has_reset:
        raise NetworkError(
            f"population {pop.name}: precision float32 needs a model with threshold and reset; "
            f"{m.name} spikes at upward crossings (allowed: precision float64)")
    if eq is None:
        raise NetworkError(
            f"population {pop.name}: precision float32 needs a model written as equations; "
            f"{m.name} is a hand-written module (allowed: precision float64)")
    if scheme in (EXPONENTIAL_EULER, EXACT):
        raise NetworkError(
            f"population {pop.name}: precision float32 runs the Runge-Kutta schemes; allowed "
            f"integrators: midpoint, rk4, ... (the population's is {scheme})")
    n_s, n_p = len(m.states), len(m.spec.parameters)
    ys, ps = [f"y{i}" for i in range(n_s)], [f"p{j}" for j in range(n_p)]
    pr = _F32Printer({})
    src = [jit_function(f"rhs_{q}", [*ys, "cur", *ps], list(eq.rhs), pr),
           jit_function(f"threshold_{q}", [*ys, *ps], [eq.threshold], pr, tuple_out=False,
                        cse=False),
           jit_function(f"reset_{q}", [*ys, *ps], list(eq.reset), pr), "", "",
           '@njit(inline="always", cache=True)',
           rk_step_source32(get_tableau(scheme), list(eq.rhs), n_s, n_p, f"step_{q}", pr)]
    return "\n".join(src)


def _power_of_two(c: float) -> bool:
    return c > 0 and math.frexp(c)[0] == 0.5


def rk_step_source32(tab, rhs: list, n_s: int, n_p: int, name: str, pr) -> str:
    """One explicit Runge-Kutta step of ``tab`` for the float32 kernels, written from the
    equations' right-hand sides ``rhs`` (sympy, in y0.., cur, p0..), with the signature of
    ``core.integrators.step_source`` (y0.., dt, cur, p0..). The same scheme with fewer
    operations, because the network kernels are bound by float multiplies (on AVX2 one 8-lane
    multiply per cycle):
    - a state that decays linearly on its own, dy/dt = c y with c a row constant (a synaptic
      conductance), has stage values y R_j(c dt) and the result y R(c dt), with R_j and R the
      scheme's stability polynomials (computed once per row: loop-invariant): one multiply per
      stage instead of three to five;
    - a polynomial right-hand side is collected in the states (V's cur - V g_E - V g_I + ...
      becomes cur + ... + V (... - g_E - g_I)), a product fewer per state factored out;
    - a coefficient dt a that is a power of two times dt is one product per row (exact: the
      same bits as dt * (a * k)).
    Exact arithmetic gives the same step; float32 rounding differs by an ulp or so (the rates
    of the float32 circuit are tested against float64 and Brian2)."""
    ysym = sympy.symbols(f"y0:{n_s}")
    cur = sympy.Symbol("cur")
    lin: dict[int, object] = {}
    for i, f in enumerate(rhs):
        c = sympy.diff(f, ysym[i])
        if not (c.free_symbols & {*ysym, cur}) and sympy.expand(f - c * ysym[i]) == 0:
            lin[i] = c
    z = sympy.Symbol("z")
    R = []  # noqa: N806 - stage j's value of a linear state is y R[j](c dt)
    for row in tab.a:
        R.append(sympy.expand(1 + z * sum(sympy.nsimplify(a) * R[k]
                                          for k, a in enumerate(row) if a != 0.0)))
    r_fin = sympy.expand(1 + z * sum(sympy.nsimplify(b) * R[k]
                                     for k, b in enumerate(tab.b) if b != 0.0))

    def form(e):  # collected in the states where it is a polynomial of them
        if e.is_polynomial(*ysym, cur):
            return sympy.collect(sympy.expand(e), list(ysym), evaluate=True)
        return e

    def poly(e, zi: str) -> str:  # a polynomial of z at the row constant zi (Horner)
        return pr(sympy.horner(e, z).subs(z, sympy.Symbol(zi)))

    args = [*(f"y{i}" for i in range(n_s)), "dt", "cur", *(f"p{j}" for j in range(n_p))]
    lines = [f"def {name}({', '.join(args)}):"]
    for i, c in lin.items():
        lines.append(f"    z{i} = dt * {pr(c)}")
    hs: dict[float, str] = {}

    def term(a: float, k: str) -> str:  # dt a k, with dt a one row constant where exact
        if not _power_of_two(a):
            return f"dt * ({_f32(a)} * {k})"
        if a not in hs:
            hs[a] = f"h{len(hs)}"
            lines.append(f"    {hs[a]} = {_f32(a)} * dt")
        return f"{hs[a]} * {k}"

    def combo(i: int, coeffs) -> str:  # y_i + dt sum_k a_k k_k,i
        terms = [term(a, f"k{k}_{i}") for k, a in enumerate(coeffs) if a != 0.0]
        return " + ".join([f"y{i}", *terms])

    forms = [form(f) for f in rhs]
    for j, row in enumerate(tab.a):
        sub = {}
        for i in range(n_s):
            if i in lin:
                if R[j] == 1:
                    continue
                lines.append(f"    Y{j}_{i} = y{i} * ({poly(R[j], f'z{i}')})")
            else:
                lines.append(f"    Y{j}_{i} = {combo(i, row)}")
            sub[ysym[i]] = sympy.Symbol(f"Y{j}_{i}")
        for i in range(n_s):
            if i not in lin:
                lines.append(f"    k{j}_{i} = {pr(forms[i].xreplace(sub))}")
    outs = []
    for i in range(n_s):
        if i in lin:
            outs.append(f"y{i} * ({poly(r_fin, f'z{i}')})")
        else:
            outs.append(combo(i, tab.b))
    lines.append(f"    return {', '.join(outs)}" + ("," if n_s == 1 else ""))
    return "\n".join(lines) + "\n"


def _step_def(q: int, pop: Population, scheme: str) -> tuple[list[str], str]:
    m = pop.model
    n_s, n_p = len(m.states), len(m.spec.parameters)
    name = f"step_{q}"
    imports = []
    if scheme == EXPONENTIAL_EULER:
        imports.append(("linear", f"linear_{q}"))
        src = exponential_euler_source(n_s, n_p + 1, name=name, linear=f"linear_{q}")
    elif scheme == EXACT:
        imports.append(("exact_step", f"exact_{q}"))
        ys = ", ".join(f"y{i}" for i in range(n_s))
        a = ", ".join(f"a{j}" for j in range(n_p + 1))
        src = f"def {name}({ys}, dt, {a}):\n    return exact_{q}({ys}, dt, {a})\n"
    else:
        imports.append(("rhs", f"rhs_{q}"))
        src = step_source(get_tableau(scheme), n_s, n_p + 1, name=name, rhs=f"rhs_{q}")
    if m.has_reset:  # a model without reset spikes at upward crossings (written inline)
        imports += [("threshold", f"threshold_{q}"), ("reset", f"reset_{q}")]
    lines = [f"from {m.module} import "
             + ", ".join(f"{m.function_name(r)} as {a}" for r, a in imports)]
    return lines, src


# steps of the tables of exp(b n dt) for event-driven synaptic variables (per row and variable,
# 64 KiB each): Tsodyks-Markram synapses evaluate two per synaptic event, and a table read costs
# less than libm's exp. coba_stp (1 s, 2-core Zen 4, medians of 5, the same bits): 0.118 ->
# 0.084 s per run at B = 1, 0.053 -> 0.038 at B = 16; tables of 2,048 steps 0.101 s at B = 1
# (its gaps between a synapse's events, about 2,000 steps on average, often exceed them),
# 32,768 no faster than 8,192.
EXP_TABLE = 8192


def exact_pattern(model) -> list[list[bool]]:
    """Which entries A[i][j] of the 'exact' step y' = A y + c can be nonzero: state j reaches
    state i through the equations' coupling (exp(M dt) is nonzero only along paths of M's
    graph); every entry for a model without equations (a hand-written exact step)."""
    from neuroscape.models.equations.exact import linear_system

    n = len(model.states)
    system = linear_system(model.equations) if model.equations is not None else None
    if system is None:
        return [[True] * n for _ in range(n)]
    # paths of any length: the nonzeros of (I + |M|)^n
    step = np.eye(n, dtype=np.int64) + np.array(
        [[int(system[0][i, j] != 0) for j in range(n)] for i in range(n)], dtype=np.int64)
    return (np.linalg.matrix_power(step, n) > 0).tolist()


def draw_slots(stmts) -> list[tuple[str, int]]:
    """The rand()/randn() draws of a statement block and their first counter slot (a randn
    takes two: Box-Muller). A draw's counter is ``SYN | ((((s S + k) 2 + side) M) + slot)``
    with S the network's synapses, k the synapse, side 0 for on_pre and 1 for on_post, and M
    the most slots of any block of the network: no two draws of a row share a counter."""
    names = sorted({s.name for st in stmts for s in st.expr.free_symbols
                    if s.name.startswith(("rand_", "randn_"))})
    out, o = [], 0
    for d in names:
        out.append((d, o))
        o += 2 if d.startswith("randn") else 1
    return out


def max_slots(net: NetworkModel) -> int:
    """M of ``draw_slots``: the most counter slots of any statement block (at least 1)."""
    m = 1
    for j in net.projections:
        for stmts in (j.on_pre, j.on_post):
            ds = draw_slots(stmts)
            if ds:
                d, o = ds[-1]
                m = max(m, o + (2 if d.startswith("randn") else 1))
        dd = delay_draw_slots(j)
        if dd:
            m = max(m, dd[-1][1] + 1)
    return m


def delay_draw_slots(j) -> list[tuple[str, int]]:
    """The rand() draws of a delay drawn per spike (``delay_draw: spike``) and their counter
    slots: those of the on_pre block after its statements' own draws (one slot each), so a
    spike's delay of synapse k at step s is drawn at ``SYN | ((((s S + k) 2) M) + slot)``."""
    if getattr(j, "delay_draw", "synapse") != "spike":
        return []
    ds = draw_slots(j.on_pre)
    o = ds[-1][1] + (2 if ds[-1][0].startswith("randn") else 1) if ds else 0
    names = sorted({s.name for s in sympy.sympify(j.delay).free_symbols
                    if s.name.startswith("rand_")})
    return [(n, o + i) for i, n in enumerate(names)]


class _Gen:
    """Writes the kernel of one network (its source is also the cache key)."""

    def __init__(self, net: NetworkModel, graph: Graph, settings: SimSettings,
                 recording: Recording, target: str = "cpu") -> None:
        if target not in TARGETS:
            raise NetworkError(f"target={target!r}; allowed: {', '.join(TARGETS)}")
        self.net, self.graph, self.settings, self.rec = net, graph, settings, recording
        # "cuda": the same row body as a numba.cuda kernel (one thread per row), which may not
        # allocate: a row's arrays are slices of scratch arrays the launcher allocates
        self.cuda = target == "cuda"
        self.scratch: dict[str, tuple[tuple[str, ...], str]] = {}  # arg -> (shape, dtype)
        self.pops = net.populations
        self.offsets = {}
        off = 0
        for p in self.pops:
            self.offsets[p.name] = off
            off += p.size
        self.n_total = off
        self.syn_off = {}
        so = 0
        for j in net.projections:
            self.syn_off[j.name] = so
            so += graph.n_synapses[j.name]
        self.n_syn = max(so, 1)
        self.slots = max_slots(net)
        self.args: list[str] = []
        self.lines: list[str] = []
        self.f32 = net.precision == "float32"
        self.ft = "np.float32" if self.f32 else ""  # a cast to the state's type ("" for float64)
        self.it = "np.int32" if self.f32 else "np.int64"  # refractory steps and spike flags
        # padded length of each neuron population's state arrays (the padding lanes are
        # refractory for ever, never spike, and nothing but the integration loop reads them)
        lanes = 16 if self.f32 else 8
        self.padn = {}
        for p in self.pops:
            n = p.size
            m = -(-n // lanes) * lanes
            self.padn[p.name] = (m if p.kind == "neuron" and not self.cuda and n >= lanes
                                 and m - n <= PAD_MAX_FRAC * n else n)

    def q(self, name: str) -> int:
        return [p.name for p in self.pops].index(name)

    def arg(self, name: str) -> str:
        self.args.append(name)
        return name

    def emit(self, indent: int, *lines: str) -> None:
        self.lines += [" " * (4 * indent) + ln for ln in lines]

    def local(self, name: str, shape: tuple, dtype: str, cpu: str, fill: str | None = None,
              indent: int = 2) -> None:
        """A row's own array ``name``: on the CPU the line ``cpu`` allocates it in the kernel;
        on CUDA (no allocation in device code) it is the row's slice of the scratch argument
        ``X_name`` that the launcher allocates with ``shape`` (expressions of the kernel's
        arguments) and the rows last, so that neighbouring threads touch neighbouring words,
        then filled with ``fill`` (an expression of the index ``i_``; None: left as is)."""
        if not self.cuda:
            self.emit(indent, cpu)
            return
        shape = tuple(str(x) for x in shape)
        self.arg(f"X_{name}")
        self.scratch[f"X_{name}"] = (shape, dtype)
        self.emit(indent, f"{name} = X_{name}[{', '.join(':' for _ in shape)}, b]")
        if fill is None:
            return
        if len(shape) == 1:
            self.emit(indent, f"for i_ in range({name}.shape[0]):", f"    {name}[i_] = {fill}")
        else:
            self.emit(indent, f"for i_ in range({name}.shape[0]):",
                      f"    for j_ in range({name}.shape[1]):", f"        {name}[i_, j_] = {fill}")

    def source(self) -> str:
        net, st = self.net, self.settings
        header = [
            f"# generated by neuroscape: network {net.name}; do not edit",
            "import math",
            "import numpy as np",
            "from numba import njit",
            "from neuroscape.core.integrators import phi1",
            "from neuroscape.core.rng import add32, flip32, hi32, lo32, mix32, mix32_u64, mix64, "
            "poisson_from_table, unit_float, word",
            "from neuroscape.sim.network_kernels import add_dense, add_spikes, push_spikes",
        ]
        if self.cuda:
            # the scalar @njit functions compile for the GPU as they are (numba compiles a CPU
            # dispatcher called from device code for the CUDA target); the helpers that take
            # arrays are the same Python functions compiled as device functions
            header += [
                "from numba import cuda",
                "from neuroscape.core import rng as _rng",
                "from neuroscape.sim import network_kernels as _nk",
                "",
                "_dev = cuda.jit(device=True, inline=True)",
                "add_dense = _dev(_nk.add_dense.py_func)",
                "add_spikes = _dev(_nk.add_spikes.py_func)",
                "push_spikes = _dev(_nk.push_spikes.py_func)",
                "poisson_from_table = _dev(_rng.poisson_from_table.py_func)",
                "mix32_u64 = _dev(_rng.mix32_u64.py_func)",
                "from neuroscape.sim.network_cuda import device_word",
                "",
                "word = device_word()",
            ]
        steps = []
        self.schemes, self.patterns = {}, {}
        for qi, p in enumerate(self.pops):
            if p.kind != "neuron":
                continue
            scheme = pop_scheme(p, st)
            self.schemes[p.name] = scheme
            if scheme == EXACT:
                self.patterns[p.name] = exact_pattern(p.model)
            if self.f32:
                steps += ["", "", _step_def32(qi, p, scheme)]
                continue
            imp, src = _step_def(qi, p, scheme)
            header += imp
            steps += ["", "", '@njit(inline="always", cache=True)', src]
        self._body()
        # a slice of the rows (core.rows.run_on_threads spreads the slices over threads)
        # contract: LLVM fuses a multiply and the add after it into one FMA (one rounding
        # instead of two; no reassociation, NaN and inf kept), as the neuron engine and every
        # CUDA compiler do; the populations' inlined steps and the Poisson counts compile with
        # it. Measured on the circuit (Zen 4, 1 thread, 7 interleaved rounds): 10.8 -> 9.9
        # core-ms per run, faster in every round
        head = ["", "", '@njit(nogil=True, cache=True, fastmath={"contract"})',
                "def run(" + ", ".join(self.args) + ", row_lo, row_hi):",
                "    for b in range(row_lo, row_hi):"]
        if self.cuda:  # one thread per row
            head = ["", "", "@cuda.jit(cache=True)",
                    "def run(" + ", ".join(self.args) + "):",
                    "    b = cuda.grid(1)",
                    "    if b < keys.shape[0]:"]
        return "\n".join(header + steps + head + self.lines) + "\n"

    # -------------------------------------------------------------- the row's body
    def _body(self) -> None:
        net, _g = self.net, self.graph
        for a in ("keys", "rv", "n_steps", "rec_start", "dt", "cnt", "ok", "spk_step",
                  "spk_idx", "spk_n", "vidx", "vtrace", "n_syn_all"):
            self.arg(a)
        E = self.emit  # noqa: N806
        E(2, "key = keys[b]")
        for k, name in enumerate(net.row_names):
            E(2, f"rp_{name} = rv[b, {k}]")
        E(2, "n_sp = 0", "max_spk = spk_step.shape[1]", "n_rec = vidx.shape[0]")
        N = self.n_total  # noqa: N806
        self.printer_names: dict = {}
        # populations: state arrays, parameters, refractory
        for qi, p in enumerate(self.pops):
            P = f"P{qi}"  # noqa: N806
            self.local(f"{P}_sp", (p.size,), "np.int64",
                       f"{P}_sp = np.empty({p.size}, dtype=np.int64)")
            E(2, f"{P}_nsp = 0")
            n, npad = p.size, self.padn[p.name]
            self.local(f"{P}_fl", (p.size,), self.it,
                       f"{P}_fl = np.zeros({npad}, dtype={self.it})", "0")
            if p.kind == "neuron":
                m = p.model
                n_s, n_p = len(m.states), len(m.spec.parameters)
                self.arg(f"{P}_y")
                self.arg(f"{P}_par")
                self.arg(f"{P}_cur")
                self.arg(f"{P}_nref")
                ft = self.ft
                dt_ = "np.float32" if self.f32 else "np.float64"
                for i in range(n_s):
                    if npad > n:
                        E(2, f"{P}_y{i} = np.zeros({npad}, dtype={dt_})",
                          f"{P}_y{i}[:{n}] = {P}_y[b, :, {i}]")
                        continue
                    self.local(f"{P}_y{i}", (p.size,), dt_,
                               f"{P}_y{i} = {P}_y[b, :, {i}].astype(np.float32)" if self.f32
                               else f"{P}_y{i} = {P}_y[b, :, {i}].copy()",
                               f"{ft}({P}_y[b, i_, {i}])")
                for j in range(n_p):
                    E(2, f"{P}_p{j} = {ft}({P}_par[b, {j}])")
                # float32: the refractory steps in int32 as well, so that the fused loop's
                # lanes are all 32 bits wide (16 per vector instead of 8)
                # a stimulus: the current of each step, (B, n_steps); else one per row
                # tables of the steps (B' distinct rows x n_steps, a row index per row): the
                # current with a stimulus, jLEMS's refractory counts
                if p.stimulus:
                    self.arg(f"{P}_cti")
                    E(2, f"{P}_cr = {P}_cti[b]")
                if p.refractory_clock == "lems":
                    self.arg(f"{P}_nri")
                    E(2, f"{P}_rr = {P}_nri[b]")
                E(2, f"{P}_c = {ft}({P}_cur[{f'{P}_cr, 0' if p.stimulus else 'b'}])",
                  f"{P}_nr = {P}_nref[{f'{P}_rr, 0' if p.refractory_clock == 'lems' else 'b'}]")
                self.local(f"{P}_ref", (p.size,), self.it,
                           f"{P}_ref = np.zeros({npad}, dtype={self.it})", "0")
                if npad > n:  # the padding lanes: refractory for ever
                    E(2, f"{P}_ref[{n}:] = {2**31 - 1 if self.f32 else 2**62}")
                if m.hold_refractory:
                    self.local(f"{P}_hv", (p.size,), "np.float32" if self.f32 else "np.float64",
                               f"{P}_hv = np.zeros({npad}"
                               f"{', dtype=np.float32' if self.f32 else ''})", "0.0")
            elif p.kind == "poisson":
                self.arg(f"{P}_thr")
                E(2, f"{P}_t = {P}_thr[b]")
            else:
                self.arg(f"{P}_sptr")
                self.arg(f"{P}_sidx")
        for m in net.modulators:
            E(2, f"Mj_{m.name} = 0.0", f"Mt_{m.name} = 0", f"Mtau_{m.name} = {self._p(m.tau, {})}",
              f"Mv_{m.name} = {self._p(m.value, {})}")
        self._outputs_setup()
        self._projections_setup()
        self._inputs_setup()

        E(2, f"dts = {self.ft}(dt)")
        for qi, p in enumerate(self.pops):
            if p.kind == "neuron" and not p.stimulus and self.schemes[p.name] == EXACT:
                E(2, *self._affine_lines(qi, p))
        E(2, "for s in range(n_steps):", f"    si = {self.it}(s)")
        E(3, f"base_s = np.uint64(s) * np.uint64({N})",
          "base_syn = np.uint64(s) * np.uint64(n_syn_all)")
        # 1-2. integrate, hold the refractory ones and test the threshold in one vectorizable
        # pass per population that also finds the first and last neuron that crossed, then
        # gather the spiking neurons between those two only: the gather's store index depends
        # on the data, which keeps its loop scalar, and a step rarely has more than one spike
        for qi, p in enumerate(self.pops):
            P = f"P{qi}"  # noqa: N806
            off = self.offsets[p.name]
            E(3, f"{P}_nsp = 0")
            if p.kind == "neuron":
                m = p.model
                n_s = len(m.states)
                ys = ", ".join(f"{P}_y{i}[i]" for i in range(n_s))
                ts = ", ".join(f"a{i}" for i in range(n_s))
                ps = ", ".join(f"{P}_p{j}" for j in range(len(m.spec.parameters)))
                one = "," if n_s == 1 else ""
                exact = self.schemes[p.name] == EXACT
                if p.stimulus:
                    E(3, f"{P}_c = {self.ft}({P}_cur[{P}_cr, s])")
                    if exact:
                        E(3, *self._affine_lines(qi, p))
                E(3, "anyf = False", f"for i in range({self.padn[p.name]}):")
                if exact:
                    pat = self.patterns[p.name]
                    E(4, *(f"a{i} = {P}_xc{i} + " + " + ".join(
                        f"{P}_xa{i}_{j} * {P}_y{j}[i]" for j in range(n_s) if pat[i][j])
                        for i in range(n_s)))  # fmt: skip
                else:
                    E(4, f"{ts}{one} = step_{qi}({ys}, dts, {P}_c{', ' + ps if ps else ''})")
                E(4, f"free = {P}_ref[i] <= si")
                if not m.has_reset:  # the V before the step: an upward crossing
                    E(4, f"yo = {P}_y0[i]")
                if m.hold_refractory and m.has_reset:
                    E(4, f"a0 = a0 if free else {P}_hv[i]")
                for i in range(n_s):
                    E(4, f"{P}_y{i}[i] = a{i}")
                if m.has_reset:
                    E(4, f"f = free and threshold_{qi}({ts}{', ' + ps if ps else ''})")
                else:  # a spike where V crosses spike_level upward on the step grid
                    lv = repr(float(m.spike_level))
                    E(4, f"f = yo <= {lv} and a0 > {lv}")
                E(4, f"{P}_fl[i] = f", "anyf |= f")
                E(3, "if anyf:", f"    for i in range({p.size}):",
                  f"        if {P}_fl[i]:",
                  f"            {P}_sp[{P}_nsp] = i", f"            {P}_nsp += 1")
            elif p.kind == "poisson":
                E(3, f"for i in range({p.size}):",
                  f"    x = word(key, (base_s + np.uint64({off} + i)) << np.uint64({SUB_BITS}))",
                  f"    if np.int64(lo32(x)) < {P}_t:",
                  f"        {P}_sp[{P}_nsp] = i", f"        {P}_nsp += 1")
            else:
                E(3, f"for c in range({P}_sptr[s], {P}_sptr[s + 1]):",
                  f"    {P}_sp[{P}_nsp] = {P}_sidx[c]", f"    {P}_nsp += 1")
            self._early(p)  # jLEMS's order: its events before later populations step
        # 3. reward signals, then the synapses in Brian2's order: every on_pre pathway, the
        # Poisson inputs, every on_post pathway
        self._modulators_step()
        for ji, j in enumerate(self.net.projections):
            if not j.early:  # early ones acted after their pre population stepped (above)
                self._pre_step(ji, j)
        self._inputs_step()
        for ji, j in enumerate(self.net.projections):
            self._post_step(ji, j)
        # 4. Brian2's conditional write: a variable declared (unless refractory) keeps its
        # value while the neuron is refractory, whatever the synapses and inputs wrote to it
        # (only where a statement writes the held variable: otherwise it is unchanged since 1)
        for qi, p in enumerate(self.pops):
            if p.kind == "neuron" and p.model.hold_refractory \
                    and p.model.states[0] in self._written(p.name):
                E(3, f"for i in range({p.size}):", f"    if P{qi}_ref[i] > s:",
                  f"        P{qi}_y0[i] = P{qi}_hv[i]")
        # 5. resets, refractory, counts, records
        for qi, p in enumerate(self.pops):
            P = f"P{qi}"  # noqa: N806
            off = self.offsets[p.name]
            E(3, f"for c in range({P}_nsp):", f"    i = {P}_sp[c]")
            if p.kind == "neuron":
                m = p.model
                ys = ", ".join(f"{P}_y{i}[i]" for i in range(len(m.states)))
                ps = ", ".join(f"{P}_p{j}" for j in range(len(m.spec.parameters)))
                one = "," if len(m.states) == 1 else ""
                if m.has_reset:
                    E(4, f"{ys}{one} = reset_{qi}({ys}{', ' + ps if ps else ''})")
                nr = f"{P}_nref[{P}_rr, s]" if p.refractory_clock == "lems" else f"{P}_nr"
                E(4, f"{P}_ref[i] = s + {nr}")
                if m.hold_refractory and m.has_reset:
                    E(4, f"{P}_hv[i] = {P}_y0[i]")
            E(4, "if s >= rec_start:", f"    cnt[b, {off} + i] += 1")
            E(4, "if n_sp < max_spk:", "    spk_step[b, n_sp] = s",
              f"    spk_idx[b, n_sp] = {off} + i", "n_sp += 1")
            self._outputs_step(qi, p)
        self._vtrace()
        self._records_step()
        # the end of the row
        E(2, "spk_n[b] = n_sp")
        self._outputs_final()
        fin = []
        for qi, p in enumerate(self.pops):
            if p.kind == "neuron":
                cut = f"[:{p.size}]" if self.padn[p.name] > p.size else ""
                for i in range(len(p.model.states)):
                    fin.append(f"P{qi}_y{i}{cut}")
        if self.cuda:  # no np.all/np.isfinite on arrays in device code
            E(2, "fin = True")
            for y in fin:
                E(2, f"for i in range({y}.shape[0]):",
                  f"    fin = fin and math.isfinite({y}[i])")
            E(2, "ok[b] = fin")
        else:
            E(2, "ok[b] = " + (" and ".join(f"np.all(np.isfinite({y}))" for y in fin)
                               if fin else "True"))

    def _early(self, p) -> None:
        """The on_pre of the early projections from population ``p``: in its spike's step,
        before the populations declared after ``p`` step (jLEMS's order)."""
        for ji, j in enumerate(self.net.projections):
            if j.early and j.pre == p.name:
                self._pre_step(ji, j)

    def _written(self, pop: str) -> set[str]:
        """Variables of population ``pop`` that synaptic statements or inputs write."""
        out = set()
        for j in self.net.projections:
            for st in (*j.on_pre, *j.on_post):
                side = j.post if st.where == "post" else j.pre if st.where == "pre" else None
                if side == pop:
                    out.add(st.target)
        out.update(inp.var for inp in self.net.inputs if inp.target == pop)
        return out

    def _vtrace(self) -> None:
        # recorded neurons: global index -> population state 0
        E = self.emit  # noqa: N806
        E(3, "for r in range(n_rec):", "    gi = vidx[r]")
        for qi, p in enumerate(self.pops):
            if p.kind != "neuron":
                continue
            off = self.offsets[p.name]
            E(4, f"if gi >= {off} and gi < {off + p.size}:",
              f"    vtrace[b, r, s] = P{qi}_y0[gi - {off}]")

    # -------------------------------------------------------------- projections
    def _projections_setup(self) -> None:
        E = self.emit  # noqa: N806
        self.delays = {}
        for ji, j in enumerate(self.net.projections):
            J = f"J{ji}"  # noqa: N806
            self.arg(f"{J}_ptr")
            self.arg(f"{J}_post")
            self.arg(f"{J}_pre")
            if j.on_post:
                self.arg(f"{J}_cptr")
                self.arg(f"{J}_csyn")
            self.arg(f"{J}_koff")
            if self._constant_adds(j):
                for m, st in enumerate(j.on_pre):
                    sign = "-" if st.op == "-=" else ""
                    E(2, f"{J}_c{m} = {self.ft}({sign}({self._p(st.expr, {})}))")
            nsyn = f"{J}_pre.shape[0]"  # an argument, not a literal: one kernel for every graph
            for v in j.synvars:
                if _per_synapse(v.initial):
                    self.arg(f"{J}_i_{v.name}")
                    self.local(f"{J}_{v.name}", (nsyn,), "np.float64",
                               f"{J}_{v.name} = {J}_i_{v.name}[b].copy()",
                               f"{J}_i_{v.name}[b, i_]")
                else:
                    x0 = self._p(v.initial, {})
                    self.local(f"{J}_{v.name}", (nsyn,), "np.float64",
                               f"{J}_{v.name} = np.full({nsyn}, {x0})", x0)
                if v.b is not None:
                    E(2, f"{J}_eb_{v.name} = {self._p(v.b, {})}",
                      f"{J}_ea_{v.name} = {self._p(v.a, {})}")
                    if not self.cuda and v.mod is None:
                        # exp(b el) over a gap of n < EXP_TABLE steps, read from a table of
                        # the row (the same product b (n dt), so the same bits)
                        E(2, f"{J}_te_{v.name} = np.empty(min(n_steps + 1, {EXP_TABLE}))",
                          f"for n_ in range({J}_te_{v.name}.shape[0]):",
                          f"    {J}_te_{v.name}[n_] = math.exp({J}_eb_{v.name} * (n_ * dt))")
                if v.mod is not None:
                    E(2, f"{J}_k0_{v.name} = {self._p(v.mod[2], {})}",
                      f"{J}_k1_{v.name} = {self._p(v.mod[3], {})}")
            for v, lo, hi in getattr(j, "bounds", ()):
                E(2, f"{J}_lo_{v} = {self._p(lo, {})}", f"{J}_hi_{v} = {self._p(hi, {})}")
            if any(v.b is not None or v.mod is not None for v in j.synvars):
                self.local(f"{J}_last", (nsyn,), "np.int64",
                           f"{J}_last = np.zeros({nsyn}, dtype=np.int64)", "0")
            # delays (steps): a constant, one per row (a parameter), or one per synapse (rand())
            if _per_synapse(j.delay):
                reads = {s.name for st in j.on_pre for s in st.expr.free_symbols}
                if j.on_post or any(v.b is not None or v.mod is not None for v in j.synvars) \
                        or any(n.startswith("post_") for n in reads) \
                        or any(st.where in ("syn", "pre") for st in j.on_pre):
                    raise NetworkError(
                        f"{self.net.origin}: projection {j.name}: delays drawn per "
                        f"{getattr(j, 'delay_draw', 'synapse')} (rand()) are for effects that "
                        "only add to the target (g += w); plastic synapses, on_post and reads "
                        "of the target need one delay for the projection (a constant or a "
                        "parameter)")
                if getattr(j, "delay_draw", "synapse") == "spike":
                    self.delays[j.name] = "spike"  # drawn at every spike: no per-synapse array
                else:
                    self.arg(f"{J}_dly")
                    self.delays[j.name] = "array"
                self.arg(f"{J}_dmax")
                E(2, f"{J}_D = {J}_dmax + 1")
                n_d = f"{J}_dmax + 1"
            elif sympy.sympify(j.delay).free_symbols or j.delay_clock == "lems":
                self.arg(f"{J}_dr")
                self.arg(f"{J}_dmax")
                self.delays[j.name] = "row"  # lems: (B, n_steps), read at every spike's step
                lems = j.delay_clock == "lems"
                if lems:
                    self.arg(f"{J}_dri")
                    E(2, f"{J}_dq = {J}_dri[b]")
                E(2, f"{J}_d = {J}_dr[{f'{J}_dq, 0' if lems else 'b'}]", f"{J}_D = {J}_dmax + 1")
                n_d = f"{J}_dmax + 1"
            else:
                steps = int(round(float(j.delay) / self.settings.dt_ms))
                self.delays[j.name] = steps
                E(2, f"{J}_D = {steps + 1}")
                n_d = str(steps + 1)
            if self._dense(j):
                self.arg(f"{J}_mask")
            if self.delays[j.name] in ("array", "spike"):
                post = self.net.population(j.post)
                for var in self._buffered(j):
                    self.local(f"{J}_buf_{var}", (n_d, post.size), "np.float64",
                               f"{J}_buf_{var} = np.zeros(({J}_D, {post.size}))", "0.0")
            elif self.delays[j.name] != 0:
                # one delay for the projection: the spikes wait in a queue and on_pre runs whole
                # when they arrive, as in Brian2
                n_pre = self.net.population(j.pre).size
                self.local(f"{J}_q", (n_d, n_pre), "np.int64",
                           f"{J}_q = np.empty(({J}_D, {n_pre}), dtype=np.int64)")
                self.local(f"{J}_qn", (n_d,), "np.int64",
                           f"{J}_qn = np.zeros({J}_D, dtype=np.int64)", "0")

    def _buffered(self, j) -> list[str]:
        out = []
        for st in j.on_pre:
            if st.where == "post":
                if st.op not in ("+=", "-="):
                    raise NetworkError(
                        f"projection {j.name}: with delays drawn per synapse, on_pre may only add "
                        f"to (+=, -=) a postsynaptic variable; {st.target} {st.op} ... cannot "
                        "wait (a delay constant over the projection can)"
                    )
                if st.target not in out:
                    out.append(st.target)
        return out

    def _p(self, expr, names: dict) -> str:
        return Printer(names, "math")(sympy.sympify(expr))

    def _names(self, ji: int, j) -> dict:
        J = f"J{ji}"  # noqa: N806
        post, pre = self.net.population(j.post), self.net.population(j.pre)
        qpost, qpre = self.q(j.post), self.q(j.pre)
        names = {}
        for i, s in enumerate(post.model.states):
            names[sympy.Symbol(f"post_{s}")] = f"P{qpost}_y{i}[jj]"
        if pre.model is not None:
            for i, s in enumerate(pre.model.states):
                names[sympy.Symbol(f"pre_{s}")] = f"P{qpre}_y{i}[ii]"
        for v in j.synvars:
            names[sympy.Symbol(f"syn_{v.name}")] = f"{J}_{v.name}[k]"
        return names

    def _block(self, ji: int, j, stmts, indent: int, delayed: bool, side: int,
               spike_delay: bool = False) -> None:
        E = self.emit  # noqa: N806
        J = f"J{ji}"  # noqa: N806
        names = self._names(ji, j)
        post = self.net.population(j.post)
        qpost = self.q(j.post)
        # event-driven variables brought to now
        for ln in self._evd_lines(ji, j):
            E(indent, ln)
        koff = f"J{ji}_koff"
        c0 = (f"(((base_syn + np.uint64({koff} + k)) * np.uint64(2) + np.uint64({side})) "
              f"* np.uint64({self.slots}))")
        for d, o in draw_slots(stmts):
            w = [f"unit_float(word(key, np.uint64({SYN}) | ({c0} + np.uint64({o + m}))))"
                 for m in range(2 if d.startswith("randn") else 1)]
            if d.startswith("randn"):  # Box-Muller on the draw's two slots
                E(indent, f"{d} = math.sqrt(-2.0 * math.log(1.0 - {w[0]})) * "
                          f"math.cos(2.0 * math.pi * {w[1]})")
            else:
                E(indent, f"{d} = {w[0]}")
        if spike_delay:  # this spike's delay on synapse k: its own draws, then steps
            for d, o in delay_draw_slots(j):
                E(indent, f"{d} = unit_float(word(key, np.uint64({SYN}) | ({c0} + "
                          f"np.uint64({o}))))")
            E(indent, f"dly = np.int64(math.floor(({self._p(j.delay, names)}) / dt + 0.5))")
        for st in stmts:
            rhs = self._p(st.expr, names)
            if st.where == "tmp":
                E(indent, f"tmp_{st.target} = {rhs}")
                continue
            if st.where == "syn":
                lhs = f"{J}_{st.target}[k]"
            elif st.where == "post":
                i = post.model.states.index(st.target)
                if delayed:
                    # per-synapse delays, or this spike's
                    slot = f"(s + dly) % {J}_D" if spike_delay else f"(s + {J}_dly[b, k]) % {J}_D"
                    sign = "" if st.op == "+=" else "-"
                    E(indent, f"{J}_buf_{st.target}[{slot}, jj] += {sign}{rhs}")
                    continue
                lhs = f"P{qpost}_y{i}[jj]"
            else:
                qpre = self.q(j.pre)
                i = self.net.population(j.pre).model.states.index(st.target)
                lhs = f"P{qpre}_y{i}[ii]"
            E(indent, f"{lhs} {st.op} {rhs}")
        for ln in self._clip_lines(ji, j, {st.target for st in stmts if st.where == "syn"}):
            E(indent, ln)

    def _clip_lines(self, ji: int, j, changed) -> list[str]:
        """A bounded synaptic variable (``bounds``) of synapse k clipped into [low, high]."""
        J = f"J{ji}"  # noqa: N806
        return [f"{J}_{v}[k] = min(max({J}_{v}[k], {J}_lo_{v}), {J}_hi_{v})"
                for v, _, _ in getattr(j, "bounds", ()) if v in changed]

    def _evd_lines(self, ji: int, j) -> list[str]:
        """Synapse k's event-driven variables brought from its last update to step s: closed
        forms of dX/dt = a + b X, and of a modulated dW/dt = T (k0 + k1 M) over a gap in which
        the trace T and the modulator M decay exponentially (every jump of M updates all its
        synapses first, so M has not jumped since the synapse's last update)."""
        J = f"J{ji}"  # noqa: N806
        evd = [v for v in j.synvars if v.b is not None]
        mod = [v for v in j.synvars if v.mod is not None]
        if not evd and not mod:
            return []
        out = [f"n_ = s - {J}_last[k]", "el = n_ * dt"]
        for v in mod:
            tr, m, _, _ = v.mod
            out += [f"m0 = Mj_{m} * math.exp(-({J}_last[k] - Mt_{m}) * dt / Mtau_{m})",
                    f"tx = -1.0 / {J}_eb_{tr}",
                    f"tp = 1.0 / (1.0 / tx + 1.0 / Mtau_{m})",
                    f"{J}_{v.name}[k] += {J}_{tr}[k] * ({J}_k0_{v.name} * tx * "
                    f"(1.0 - math.exp(-el / tx)) + {J}_k1_{v.name} * m0 * tp * "
                    "(1.0 - math.exp(-el / tp)))"]
        for v in evd:
            x = f"{J}_{v.name}[k]"
            te = f"{J}_te_{v.name}"
            ee = f"math.exp({J}_eb_{v.name} * el)"
            if not self.cuda and v.mod is None:
                ee = f"{te}[n_] if n_ < {te}.shape[0] else {ee}"
            out += [f"if {J}_eb_{v.name} != 0.0:",
                    f"    ee = {ee}",
                    f"    {x} = {x} * ee + {J}_ea_{v.name} / {J}_eb_{v.name} * (ee - 1.0)",
                    "else:", f"    {x} = {x} + {J}_ea_{v.name} * el"]
        out += self._clip_lines(ji, j, {v.name for v in evd + mod})
        out.append(f"{J}_last[k] = s")
        return out

    def _peek_lines(self, ji: int, j, var: str, target: str) -> list[str]:
        """``target`` = synaptic variable ``var`` of synapse k at step ``s_now`` (the closed
        forms of ``_evd_lines`` and the bounds), leaving the synapse's state as it is: a record
        does not change the run."""
        J = f"J{ji}"  # noqa: N806
        v = next(x for x in j.synvars if x.name == var)
        x = f"{J}_{var}[k]"
        if v.mod is None and v.b is None:
            return [f"{target} = {x}"]
        out = [f"el = (s_now - {J}_last[k]) * dt"]
        if v.mod is not None:
            tr, m, _, _ = v.mod
            out += [f"m0 = Mj_{m} * math.exp(-({J}_last[k] - Mt_{m}) * dt / Mtau_{m})",
                    f"tx = -1.0 / {J}_eb_{tr}",
                    f"tp = 1.0 / (1.0 / tx + 1.0 / Mtau_{m})",
                    f"{target} = {x} + {J}_{tr}[k] * ({J}_k0_{var} * tx * "
                    f"(1.0 - math.exp(-el / tx)) + {J}_k1_{var} * m0 * tp * "
                    "(1.0 - math.exp(-el / tp)))"]
        else:
            out += [f"if {J}_eb_{var} != 0.0:",
                    f"    ee = math.exp({J}_eb_{var} * el)",
                    f"    {target} = {x} * ee + {J}_ea_{var} / {J}_eb_{var} * (ee - 1.0)",
                    "else:", f"    {target} = {x} + {J}_ea_{var} * el"]
        if var in {b[0] for b in getattr(j, "bounds", ())}:
            out.append(f"{target} = min(max({target}, {J}_lo_{var}), {J}_hi_{var})")
        return out

    def _modulators_step(self) -> None:
        """A modulator's source spiked: every synapse it modulates is brought to now first, then
        it jumps."""
        E = self.emit  # noqa: N806
        for m in self.net.modulators:
            q = self.q(m.source)
            E(3, f"if P{q}_nsp > 0:")
            for ji, j in enumerate(self.net.projections):
                if any(v.mod is not None and v.mod[1] == m.name for v in j.synvars):
                    E(4, f"for k in range(J{ji}_pre.shape[0]):")
                    for ln in self._evd_lines(ji, j):
                        E(5, ln)
            E(4, f"Mj_{m.name} = Mj_{m.name} * math.exp(-(s - Mt_{m.name}) * dt / "
                 f"Mtau_{m.name}) + P{q}_nsp * Mv_{m.name}",
              f"Mt_{m.name} = s")

    def _constant_adds(self, j) -> bool:
        """Whether on_pre only adds constants per row to target states (``g_e += w_e``)."""
        return (bool(j.on_pre) and not j.on_post and not j.synvars
                and all(st.where == "post" and st.op in ("+=", "-=")
                        and all(s.name.startswith("rp_") for s in st.expr.free_symbols)
                        for st in j.on_pre))

    def _dense(self, j) -> bool:
        """Whether the constant adds of ``j`` go through a dense 0/1 mask row per spike.

        A dense row is one vectorized pass over the targets; a synapse list is one scattered
        add per synapse. On the circuit (p = 0.5 between E and I) the dense pass costs a tenth
        of the scattered adds; below a density of about 1/16 the list wins. Only without
        multapses: a pair joined twice adds the value twice, which the 0/1 mask cannot say
        bit for bit."""
        if not self._constant_adds(j) or self.delays[j.name] in ("array", "spike"):
            return False
        n_pre, n_post = self.graph.sizes[j.pre], self.graph.sizes[j.post]
        nsyn = self.graph.n_synapses[j.name]
        if n_pre * n_post > DENSE_MAX or nsyn * 16 < n_pre * n_post:
            return False
        pre, post = self.graph.edges[j.name][:2]
        pair = pre.astype(np.int64) * n_post + post
        return np.unique(pair).size == pair.size

    def _pre_step(self, ji: int, j) -> None:
        E = self.emit  # noqa: N806
        J = f"J{ji}"  # noqa: N806
        qpre, qpost = self.q(j.pre), self.q(j.post)
        post = self.net.population(j.post)
        mode = self.delays[j.name]
        if j.delay_clock == "lems":  # jLEMS's count for a spike in this step
            E(3, f"{J}_d = {J}_dr[{J}_dq, s]")
        if self._constant_adds(j) and mode not in ("array", "spike"):
            if mode == 0:
                sp, n = f"P{qpre}_sp", f"P{qpre}_nsp"
            else:
                d = f"{J}_d" if mode == "row" else str(mode)
                E(3, f"push_spikes({J}_q, {J}_qn, (s + {d}) % {J}_D, P{qpre}_sp, P{qpre}_nsp)",
                  f"slot = s % {J}_D")
                sp, n = f"{J}_q[slot]", f"{J}_qn[slot]"
            for m, st in enumerate(j.on_pre):
                i = post.model.states.index(st.target)
                if self._dense(j):
                    E(3, f"add_dense({J}_mask, {sp}, {n}, P{qpost}_y{i}, {J}_c{m})")
                else:
                    E(3, f"add_spikes({J}_ptr, {J}_post, {sp}, {n}, P{qpost}_y{i}, {J}_c{m})")
            if mode != 0:
                E(3, f"{J}_qn[slot] = 0")
            return
        if j.on_pre and mode not in (0, "array", "spike"):
            d = f"{J}_d" if mode == "row" else str(mode)
            E(3, f"slot = (s + {d}) % {J}_D",
              f"for c in range(P{qpre}_nsp):",
              f"    {J}_q[slot, {J}_qn[slot]] = P{qpre}_sp[c]",
              f"    {J}_qn[slot] += 1",
              f"slot = s % {J}_D",
              f"for c in range({J}_qn[slot]):", f"    ii = {J}_q[slot, c]",
              f"    for k in range({J}_ptr[ii], {J}_ptr[ii + 1]):", f"        jj = {J}_post[k]")
            self._block(ji, j, j.on_pre, 5, False, 0)
            E(3, f"{J}_qn[slot] = 0")
        elif j.on_pre:
            E(3, f"for c in range(P{qpre}_nsp):", f"    ii = P{qpre}_sp[c]",
              f"    for k in range({J}_ptr[ii], {J}_ptr[ii + 1]):", f"        jj = {J}_post[k]")
            self._block(ji, j, j.on_pre, 5, mode in ("array", "spike"), 0, mode == "spike")
        if mode in ("array", "spike"):  # after on_pre: an effect of delay 0 lands in this slot
            E(3, f"slot = s % {J}_D")
            for var in self._buffered(j):
                i = post.model.states.index(var)
                E(3, f"for jj in range({post.size}):",
                  f"    P{qpost}_y{i}[jj] += {J}_buf_{var}[slot, jj]",
                  f"    {J}_buf_{var}[slot, jj] = 0.0")

    def _post_step(self, ji: int, j) -> None:
        if not j.on_post:
            return
        J = f"J{ji}"  # noqa: N806
        qpost = self.q(j.post)
        self.emit(3, f"for c in range(P{qpost}_nsp):", f"    jj = P{qpost}_sp[c]",
                  f"    for m in range({J}_cptr[jj], {J}_cptr[jj + 1]):",
                  f"        k = {J}_csyn[m]", f"        ii = {J}_pre[k]")
        self._block(ji, j, j.on_post, 5, False, 1)

    # -------------------------------------------------------------- Poisson inputs
    def _inputs_setup(self) -> None:
        E = self.emit  # noqa: N806
        self.input_groups: dict[str, list[int]] = {}
        if self.net.inputs:
            self.arg("LANE")  # core.rng.lane_offsets, one per neuron and padding lane
        for k, inp in enumerate(self.net.inputs):
            self.input_groups.setdefault(inp.target, []).append(k)
            self.arg(f"I{k}_tab")
            self.arg(f"I{k}_val")
            self.arg(f"I{k}_on")
            E(2, f"I{k}_v = {self.ft}(I{k}_val[b])", f"I{k}_T = I{k}_tab[b]",
              f"I{k}_a = I{k}_on[b, 0]", f"I{k}_z = I{k}_on[b, 1]")
            for m in range(K_FAST):
                if self.f32:
                    # the table shifted by 2**31 into int32 (u >= T holds as u - 2**31 >= T -
                    # 2**31); T = 2**32 (never reached) becomes 2**31 - 1, which only the
                    # largest u reaches: it counts as an overflow, and the exact second pass
                    # takes its count back from the int64 table
                    E(2, f"I{k}_t{m} = np.int32(I{k}_T[{m}] - 2147483648 - (I{k}_T[{m}] >> 32))")
                else:
                    E(2, f"I{k}_t{m} = I{k}_T[{m}]")
        # K{k}: the row's number of fast comparisons for input k (CPU float32), and tk{k} the
        # last of them: P(N >= K) = 1 - T[K - 1] / 2**32, kept below K_OVF / n
        self.kvar = self.f32 and not self.cuda
        if self.kvar:
            for k, inp in enumerate(self.net.inputs):
                n = self.net.population(inp.target).size
                lim = int(K_OVF * 2**32 / n)
                for v, kk in enumerate(K_VARIANTS):
                    cond = ("else" if kk == K_VARIANTS[-1] else
                            f"{'if' if v == 0 else 'elif'} 4294967296 - I{k}_T[{kk - 1}] <= {lim}")
                    E(2, f"{cond}:", f"    I{k}_K = {kk}", f"    I{k}_tk = I{k}_t{kk - 1}")
        ut = "np.int32" if self.f32 else "np.int64"
        for tgt, ks in self.input_groups.items():
            n = self.net.population(tgt).size
            npad = self.padn[tgt]
            for h in range(len(ks)):
                u = f"U{self.q(tgt)}_{h}"
                self.local(u, (n,), ut, f"{u} = np.empty({npad}, dtype={ut})")

    def _inputs_step(self) -> None:
        E = self.emit  # noqa: N806
        for tgt, ks in self.input_groups.items():
            pop = self.net.population(tgt)
            qi, off, n = self.q(tgt), self.offsets[tgt], pop.size
            U = f"U{qi}"  # noqa: N806
            # the kick of an input outside its time window is 0 (its words are drawn all
            # the same, so a window never moves another input's noise)
            for k in ks:
                E(3, f"I{k}_w = I{k}_v if s >= I{k}_a and s < I{k}_z else {self.ft}(0.0)")
            # one 64-bit word per step and pair of inputs; its low and high 32 bits seed the
            # pair's uniforms, mix32(seed + LANE[j]) for neuron j (core.rng explains why; float32
            # state: each shifted by -2**31 into an int32, so that the comparisons run 16 lanes
            # wide, as the state does; the counts are the same)
            # padded populations (CPU): the draw and comparison loops run over the padding
            # lanes too (whole vectors); their words are never used, and the exact second pass
            # below looks at the population's own neurons only
            npad = self.padn[tgt]
            pairs = range(0, len(ks), 2)
            for h in pairs:
                E(3, f"w{h // 2} = word(key, ((base_s + np.uint64({off})) << "
                     f"np.uint64({SUB_BITS})) | np.uint64({h // 2}))")
            if self.cuda:  # 64-bit integer arithmetic (numba.cuda and its simulator)
                E(3, f"for i in range({n}):",
                  f"    lane = np.uint64(LANE[{off} + i])")
                for h in pairs:
                    for hh, half in ((h, "lo32"), (h + 1, "hi32")):
                        if hh < len(ks):
                            x = f"mix32_u64((np.uint64({half}(w{h // 2})) + lane) & {M32_LIT})"
                            E(4, f"{U}_{hh}[i] = np.int32(np.int64({x}) - 2147483648)"
                              if self.f32 else f"{U}_{hh}[i] = np.int64({x})")
            else:
                for h in pairs:
                    E(3, f"sa{h // 2} = np.uint32(lo32(w{h // 2}))",
                      f"sb{h // 2} = np.uint32(hi32(w{h // 2}))")
                E(3, f"for i in range({npad}):", f"    lane = LANE[{off} + i]")
                for h in pairs:
                    for hh, sd in ((h, "sa"), (h + 1, "sb")):
                        if hh < len(ks):
                            x = f"mix32(add32({sd}{h // 2}, lane))"
                            E(4, f"{U}_{hh}[i] = flip32({x})" if self.f32
                              else f"{U}_{hh}[i] = np.int64({x})")
            if self.kvar:
                self._inputs_kvar(ks, qi, n, npad, pop)
                continue
            E(3, "ovf = False" if self.f32 else "ovf = 0", f"for i in range({npad}):")
            for h, k in enumerate(ks):
                inp = self.net.inputs[k]
                vi = pop.model.states.index(inp.var)
                if self.f32:  # a masked add per comparison (an int sum would widen to int64)
                    cmp = " + ".join(f"(np.float32(1.0) if {U}_{h}[i] >= I{k}_t{m} "
                                     "else np.float32(0.0))" for m in range(K_FAST))
                    E(4, f"P{qi}_y{vi}[i] += ({cmp}) * I{k}_w",
                      f"ovf |= {U}_{h}[i] >= I{k}_t{K_FAST - 1}")
                    continue
                if self.cuda:  # integers: the simulator's numpy bools add as a logical or
                    cmp = " + ".join(f"np.int64({U}_{h}[i] >= I{k}_t{m})" for m in range(K_FAST))
                else:
                    cmp = " + ".join(f"({U}_{h}[i] >= I{k}_t{m})" for m in range(K_FAST))
                E(4, f"P{qi}_y{vi}[i] += {self.ft}({cmp}) * I{k}_w",
                  f"ovf += {U}_{h}[i] >= I{k}_t{K_FAST - 1}")
            E(3, "if ovf:" if self.f32 else "if ovf > 0:")
            for h, k in enumerate(ks):
                inp = self.net.inputs[k]
                vi = pop.model.states.index(inp.var)
                u = f"np.int64({U}_{h}[i]) + 2147483648" if self.f32 else f"{U}_{h}[i]"
                E(4, f"for i in range({n}):",
                  f"    if {U}_{h}[i] >= I{k}_t{K_FAST - 1}:",
                  f"        P{qi}_y{vi}[i] += {self.ft}(poisson_from_table({u}, I{k}_T) - "
                  f"{K_FAST}) * I{k}_w")

    def _inputs_kvar(self, ks: list[int], qi: int, n: int, npad: int, pop) -> None:
        """CPU float32: one pass per input with the row's K comparisons (a loop per variant),
        then the exact second pass for the draws at or past the K-th entry; the kicks add in
        the order of the single pass (every input's fast count, then the rare remainders)."""
        E = self.emit  # noqa: N806
        U = f"U{qi}"  # noqa: N806
        for h, k in enumerate(ks):
            vi = pop.model.states.index(self.net.inputs[k].var)
            E(3, f"ovf{h} = False")
            for v, kk in enumerate(K_VARIANTS):
                cond = "else" if kk == K_VARIANTS[-1] else \
                    f"{'if' if v == 0 else 'elif'} I{k}_K == {kk}"
                cmp = " + ".join(f"(np.float32(1.0) if {U}_{h}[i] >= I{k}_t{m} "
                                 "else np.float32(0.0))" for m in range(kk))
                E(3, f"{cond}:", f"    for i in range({npad}):",
                  f"        P{qi}_y{vi}[i] += ({cmp}) * I{k}_w",
                  f"        ovf{h} |= {U}_{h}[i] >= I{k}_t{kk - 1}")
        for h, k in enumerate(ks):
            vi = pop.model.states.index(self.net.inputs[k].var)
            E(3, f"if ovf{h}:", f"    for i in range({n}):",
              f"        if {U}_{h}[i] >= I{k}_tk:",
              f"            P{qi}_y{vi}[i] += np.float32(poisson_from_table("
              f"np.int64({U}_{h}[i]) + 2147483648, I{k}_T) - I{k}_K) * I{k}_w")

    def _affine_lines(self, qi: int, p: Population) -> list[str]:
        """The 'exact' step of population ``qi`` as y' = A y + c: c from the model's step at the
        origin, A's columns at the unit vectors less c (the step is affine in the states; A
        holds for the row, c for the step's current). The neuron loop then costs a few
        multiply-adds per neuron instead of the step's exponentials and divided differences,
        which LLVM does not hoist out of it: cuba (4,000 neurons, 1 s) 0.292 -> 0.036 s per run
        at B = 1 and 0.146 -> 0.016 at B = 16 (2-core Zen 4, medians of 5; the same rates)."""
        P = f"P{qi}"  # noqa: N806
        m = p.model
        n_s = len(m.states)
        ps = ", ".join(f"{P}_p{j}" for j in range(len(m.spec.parameters)))
        args = f"dts, {P}_c{', ' + ps if ps else ''}"
        one = "," if n_s == 1 else ""
        pat = self.patterns[p.name]
        us = ", ".join(f"{P}_xu{i}" for i in range(n_s))
        lines = [f"{', '.join(f'{P}_xc{i}' for i in range(n_s))}{one} = "
                 f"step_{qi}({', '.join(['0.0'] * n_s)}, {args})"]
        for j in range(n_s):
            unit = ", ".join("1.0" if k == j else "0.0" for k in range(n_s))
            lines.append(f"{us}{one} = step_{qi}({unit}, {args})")
            lines += [f"{P}_xa{i}_{j} = {P}_xu{i} - {P}_xc{i}" for i in range(n_s) if pat[i][j]]
        return lines

    # -------------------------------------------------------------- outputs
    def _outputs_setup(self) -> None:
        for oi, o in enumerate(self.net.outputs):
            if _windowed(o):
                self.arg(f"O{oi}_cnt")
                self.arg(f"O{oi}_a")
                self.arg(f"O{oi}_z")
            elif o.kind == "cv":
                self.arg(f"O{oi}_isi")
                n = self.net.population(o.of).size
                self.local(f"O{oi}_last", (n,), "np.int64",
                           f"O{oi}_last = np.full({n}, -1, np.int64)", "-1")
            elif o.kind in ("fano", "sync"):
                self.arg(f"O{oi}_bins")
                self.arg(f"O{oi}_bw")
            elif o.kind == "weights":
                for proj, var in _weight_arrays(o):
                    if f"W_{proj}_{var}" not in self.args:
                        self.arg(f"W_{proj}_{var}")
        if self.net.records:
            self.arg("rec_every")
            for r in self.net.records:
                self.arg(f"R_{r}")

    def _outputs_step(self, qi: int, p: Population) -> None:
        E = self.emit  # noqa: N806
        for oi, o in enumerate(self.net.outputs):
            if o.kind == "weights" or p.name not in (o.pops or (o.of,)):
                continue
            if _windowed(o):
                E(4, f"if s >= O{oi}_a and s < O{oi}_z:", f"    O{oi}_cnt[b] += 1")
            elif o.kind == "cv":
                E(4, "if s >= rec_start:", f"    if O{oi}_last[i] >= 0:",
                  f"        d = (s - O{oi}_last[i]) * dt",
                  f"        O{oi}_isi[b, i, 0] += d", f"        O{oi}_isi[b, i, 1] += d * d",
                  f"        O{oi}_isi[b, i, 2] += 1.0", f"    O{oi}_last[i] = s")
            elif o.kind == "fano":  # whole bins only: a partial last bin is left out
                E(4, f"if s >= rec_start and (s - rec_start) // O{oi}_bw < O{oi}_bins.shape[2]:",
                  f"    O{oi}_bins[b, i, (s - rec_start) // O{oi}_bw] += 1")
            elif o.kind == "sync":
                E(4, f"if s >= rec_start and (s - rec_start) // O{oi}_bw < O{oi}_bins.shape[1]:",
                  f"    O{oi}_bins[b, (s - rec_start) // O{oi}_bw] += 1")

    def _outputs_final(self) -> None:
        E = self.emit  # noqa: N806
        # modulated weights are brought to the end of the run (they change between events)
        E(2, "s = n_steps")
        for ji, j in enumerate(self.net.projections):
            if any(v.mod is not None for v in j.synvars):
                E(2, f"for k in range(J{ji}_pre.shape[0]):")
                for ln in self._evd_lines(ji, j):
                    E(3, ln)
        done = set()
        for o in self.net.outputs:
            if o.kind != "weights":
                continue
            for proj, var in _weight_arrays(o):
                if (proj, var) in done:
                    continue
                done.add((proj, var))
                ji = [j.name for j in self.net.projections].index(proj)
                if self.cuda:
                    E(2, f"for k in range(J{ji}_{var}.shape[0]):",
                      f"    W_{proj}_{var}[b, k] = J{ji}_{var}[k]")
                else:
                    E(2, f"W_{proj}_{var}[b, :] = J{ji}_{var}")

    def _records_step(self) -> None:
        """Every rec_every steps, each recorded weights output as it would be if the run ended
        now (its synapses brought to now by ``_peek_lines``, their state untouched)."""
        if not self.net.records:
            return
        E = self.emit  # noqa: N806
        names = [j.name for j in self.net.projections]
        E(3, "if (s + 1) % rec_every == 0:", "    s_now = s + 1",
          "    ridx = (s + 1) // rec_every - 1")
        for r in self.net.records:
            o = next(x for x in self.net.outputs if x.name == r)
            E(4, "acc_n = 0.0", "acc_s = 0.0", "acc_q = 0.0")
            thr = None
            if o.stat.startswith("fraction"):
                thr = self._p(o.value, {})
            for proj, var, idx in o.refs:
                ji = names.index(proj)
                j = self.net.projections[ji]
                excl = [k for p, k in o.exclude if p == proj]
                if idx is None:
                    E(4, f"for k in range(J{ji}_pre.shape[0]):")
                    ind = 5
                    if excl:
                        E(5, "if " + " or ".join(f"k == {k}" for k in excl) + ":",
                          "    continue")
                else:
                    E(4, f"k = {idx}")
                    ind = 4
                for ln in self._peek_lines(ji, j, var, "wv"):
                    E(ind, ln)
                if o.stat == "fraction_above":
                    E(ind, f"acc_s += 1.0 if wv > {thr} else 0.0")
                elif o.stat == "fraction_below":
                    E(ind, f"acc_s += 1.0 if wv < {thr} else 0.0")
                else:
                    E(ind, "acc_s += wv", "acc_q += wv * wv")
                E(ind, "acc_n += 1.0")
            if o.stat == "std":
                E(4, f"R_{r}[b, ridx] = math.sqrt(max(acc_q / acc_n - (acc_s / acc_n) ** 2, "
                     "0.0))")
            else:
                E(4, f"R_{r}[b, ridx] = acc_s / acc_n")


def _windowed(o) -> bool:
    """A rate or count output over its own window (start/stop) rather than the recording one."""
    return o.kind in ("rate", "count") and (o.start_ms is not None or o.stop_ms is not None)


def _weight_arrays(o) -> list[tuple[str, str]]:
    """(projection, variable) of every synaptic variable a weights output reads."""
    if o.refs:
        return list(dict.fromkeys((p, v) for p, v, _ in o.refs))
    proj, _, var = o.of.partition(".")
    return [(proj, var)]


def _per_synapse(expr) -> bool:
    """Whether ``expr`` takes one value per synapse: it draws rand() or reads per-edge values."""
    return any(s.name.startswith(("rand_", "randn_", "edge_"))
               for s in getattr(sympy.sympify(expr), "free_symbols", ()))


_KERNELS: dict[str, object] = {}


def _kernel(source: str, net: NetworkModel, target: str = "cpu"):
    """The compiled ``run`` of a generated kernel, cached by its source (and, on disk, by the
    source and the files it imports: ``core.codegen.load_generated``)."""
    if source not in _KERNELS:
        from neuroscape.core.codegen import load_generated

        deps = [Path(__file__), rng_mod.__file__, integrators_mod.__file__,
                Path(__file__).with_name("network_kernels.py")]
        if target == "cuda":
            deps.append(Path(__file__).with_name("network_cuda.py"))
        for p in net.populations:
            if p.model is not None:
                deps.append(importlib.import_module(p.model.module).__file__)
        stem = f"network_{net.name}" + ("" if target == "cpu" else f"_{target}")
        _KERNELS[source] = load_generated(stem, source, deps).run
    return _KERNELS[source]


_GRAPHS: dict = {}  # (id(model), conn_seed) -> (model, graph): the last few drawn


def _seeded_graph(model: NetworkModel, conn_seed: int) -> Graph:
    """The graph of ``conn_seed``, drawn once per process for the last few (a big graph takes
    seconds to draw: Brunel's 15.6 million synapses)."""
    key = (id(model), int(conn_seed))
    if key not in _GRAPHS or _GRAPHS[key][0] is not model:
        if len(_GRAPHS) >= 4:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[key] = (model, model.graph(conn_seed))
    return _GRAPHS[key][1]


def _selects(o) -> bool:
    """Whether a weights output pools several projections, single synapses or exclusions
    (rather than one whole projection's variable)."""
    return len(o.refs) > 1 or bool(o.exclude) or any(k is not None for _, _, k in o.refs)


def _pooled(o, vals) -> np.ndarray:
    """(B, n) values a weights output pools: whole projections (less its exclusions) and
    single synapses, in the order declared."""
    if not _selects(o):
        proj, var = _weight_arrays(o)[0]
        return vals[f"W_{proj}_{var}"]
    parts = []
    for proj, var, k in o.refs:
        w = vals[f"W_{proj}_{var}"]
        if k is not None:
            parts.append(w[:, k:k + 1])
            continue
        keep = np.ones(w.shape[1], dtype=bool)
        keep[[x for p, x in o.exclude if p == proj]] = False
        parts.append(w[:, keep])
    return np.concatenate(parts, axis=1)


def spike_delay_range(j, rows: dict) -> tuple[np.ndarray, np.ndarray]:
    """(B,) smallest and largest delay (ms) of a delay drawn per spike: its values at the
    corners of the draws' box [0, 1]^n (it is affine in each draw)."""
    import itertools

    names = [n for n, _ in delay_draw_slots(j)]
    b = len(next(iter(rows.values()))) if rows else 1
    vals = []
    for corner in itertools.product((0.0, 1.0), repeat=len(names)):
        e = sympy.sympify(j.delay).subs({sympy.Symbol(n): c for n, c in zip(names, corner,
                                                                             strict=True)})
        syms, f = _lambdified(e)
        v = f(*[rows[s.name] for s in syms])
        vals.append(np.broadcast_to(np.asarray(v, dtype=float), (b,)))
    return np.min(vals, axis=0), np.max(vals, axis=0)


@dataclass
class NetworkChunkResult(ChunkResult):
    """A chunk's results and its records (``records`` of the description): name -> (B, n)
    values at ``record_times_ms`` (n,); NaN for failed rows."""

    records: dict = field(default_factory=dict)
    record_times_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))


class NetworkBatch:
    """A network on one graph: B parameter sets per call, each row its own noise stream."""

    kind = "network"

    def __init__(self, model: NetworkModel, conn_seed: int = 0, connectivity=None) -> None:
        self.model = model
        self.spec = model.spec
        if connectivity is None:
            self.connectivity = _seeded_graph(model, conn_seed)
            self.conn_seed: int | None = int(conn_seed)
        else:
            if isinstance(connectivity, Graph):
                self.connectivity = model.check_graph(connectivity)
            else:
                self.connectivity = model.load_graph(connectivity)
            self.conn_seed = None
        g = self.connectivity
        self._csr = {j.name: g.csr(j.name) for j in model.projections}
        self._csc = {j.name: g.csc(j.name) for j in model.projections if j.on_post}
        self._gens: dict = {}
        self._masks: dict = {}

    @property
    def connectivity_hash(self) -> str:
        return self.connectivity.content_hash()

    def describe(self) -> dict:
        return {
            "model": self.spec.name,
            "model_version": self.spec.version,
            "conn_seed": self.conn_seed,
            "connectivity_sha256": self.connectivity_hash,
        }

    def check_settings(self, settings: SimSettings) -> None:
        for p in self.model.populations:
            if p.kind == "neuron":
                pop_scheme(p, settings)
        if settings.integrator not in ("auto",):
            canonical_name(settings.integrator)

    def chunk_rows(self, device: str) -> int:
        """Rows per chunk on ``device`` that keep the per-synapse state of a chunk within about
        4 GiB (the torch back end holds every row's synaptic variables at once)."""
        if device == "cpu":
            return 1 << 30
        per_row = 64 * sum(p.size for p in self.model.populations)
        for j in self.model.projections:
            per_row += 8 * self.connectivity.n_synapses[j.name] * (len(j.synvars) + 1)
        return max(1, int(4 * 2**30 // per_row))

    def run(self, params=None, *, seed: int = 0, settings: SimSettings | None = None,
            rows: np.ndarray | None = None,
            recording: Recording | None = None) -> NetworkChunkResult:
        """Every row of ``params`` (a mapping, a list of them or an array; None: the defaults)
        in one chunk on the CPU (a thread per row), row r drawing from the stream (seed,
        rows[r]) as in ``run_batch``; the result holds the description's records beside the
        outputs (``records``: name -> (B, n) at ``record_times_ms``). Settings: the network's
        declared ones unless given."""
        from neuroscape.core.rng import row_keys

        arr = self.spec.params_array(params)
        settings = settings if settings is not None else SimSettings.for_model(self.spec)
        self.check_settings(settings)
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise SettingsError(f"seed={seed!r} must be a non-negative integer")
        rows = np.arange(len(arr)) if rows is None else np.asarray(rows, dtype=np.int64)
        if rows.shape != (len(arr),) or (rows.size and rows.min() < 0):
            raise SettingsError(f"rows must be {len(arr)} non-negative row indices, got shape "
                                f"{rows.shape}")
        return self.run_chunk(arr, row_keys(int(seed), rows), settings, "cpu",
                              recording or Recording())

    def kernel_source(self, settings: SimSettings, recording: Recording | None = None) -> str:
        return self._compiled(settings, recording or Recording())[0].src

    def _compiled(self, settings: SimSettings, recording: Recording, target: str = "cpu"):
        """(generator, kernel) for these settings and target ("cpu": numba's CPU kernel;
        "cuda": numba.cuda's), written and compiled once per batch."""
        key = (settings, bool(recording.spikes), bool(len(recording.v_neurons)), target)
        if key not in self._gens:
            gen = _Gen(self.model, self.connectivity, settings, recording, target)
            gen.src = gen.source()
            self._gens[key] = (gen, _kernel(gen.src, self.model, target))
        return self._gens[key]

    def run_chunk(self, params: np.ndarray, keys: np.ndarray, settings: SimSettings,
                  device: str, recording: Recording) -> ChunkResult:
        """The rows ``params`` (B, n_params) with stream keys ``keys`` (B,) on ``device``:
        "cpu" (the numba kernel, a thread per row); "cuda"/"cuda:N": the same generated kernel
        compiled by numba.cuda (``network_cuda``) where numba.cuda runs (a GPU, or its
        simulator) and it supports the description, else the torch back end (with a warning
        that names why); "torch-cpu": the torch back end."""
        if device != "cpu":
            from neuroscape.sim import network_cuda
            from neuroscape.sim.network_torch import run_chunk_torch  # lazy: it imports this module

            if network_cuda.routes(device):
                why = network_cuda.unsupported(self, settings)
                if why is None:
                    return self._run(params, keys, settings, recording, device)
                network_cuda.warn_fallback(self.model, device, why)
            return run_chunk_torch(self, params, keys, settings, device, recording)
        return self._run(params, keys, settings, recording, "cpu")

    def _run(self, params: np.ndarray, keys: np.ndarray, settings: SimSettings,
             recording: Recording, device: str, launcher=None) -> ChunkResult:
        """One chunk through the generated kernel: numba's CPU kernel ("cpu") or its numba.cuda
        twin ("cuda", "cuda:N"; ``launcher``: ``network_cuda.launch`` unless given); the same
        arguments, the same results."""
        net, g = self.model, self.connectivity
        target = "cpu" if device == "cpu" else "cuda"
        gen, kern = self._compiled(settings, recording, target)
        b = len(params)
        dt = settings.dt_ms
        n_steps = settings.n_steps
        rows = net.row_values(params)
        rv = np.column_stack([rows[f"rp_{n}"] for n in net.row_names]) if net.row_names \
            else np.zeros((b, 0))
        keys = np.asarray(keys, dtype=np.uint64)
        n_total = gen.n_total
        cnt = np.zeros((b, n_total), dtype=np.int64)
        ok = np.zeros(b, dtype=np.bool_)
        max_spk = 0
        if recording.spikes:
            max_spk = max(1024, int(n_total * settings.duration_ms * 1e-3 * 50))
            for p in net.populations:  # Poisson sources: their mean count and 10 SD more
                if p.kind == "poisson":
                    mu = p.size * float(net.evaluate(p.rate, params).max()) \
                        * settings.duration_ms * 1e-3
                    max_spk += int(mu + 10 * math.sqrt(mu) + 100)
        spk_step = np.zeros((b, max_spk), dtype=np.int32)
        spk_idx = np.zeros((b, max_spk), dtype=np.int32)
        spk_n = np.zeros(b, dtype=np.int64)
        vidx = np.asarray(recording.v_neurons, dtype=np.int64)
        if vidx.size and (vidx.min() < 0 or vidx.max() >= n_total):
            raise ValueError(
                f"recorded neuron indices must be in 0..{n_total - 1}, got {vidx.tolist()}")
        for p in net.populations:
            o = gen.offsets[p.name]
            inside = vidx[(vidx >= o) & (vidx < o + p.size)]
            if p.kind != "neuron" and inside.size:
                raise ValueError(
                    f"recorded neuron {int(inside[0])} is in {p.name}, a {p.kind} source "
                    "without a membrane potential; allowed: neurons of a neuron population")
        vtrace = np.zeros((b, vidx.size, n_steps if vidx.size else 0), dtype=np.float32)
        vals = {"keys": keys, "rv": rv, "n_steps": n_steps, "rec_start": settings.rec_start,
                "LANE": lane_offsets(n_total + 64),
                "dt": dt, "cnt": cnt, "ok": ok, "spk_step": spk_step, "spk_idx": spk_idx,
                "spk_n": spk_n, "vidx": vidx, "vtrace": vtrace, "n_syn_all": gen.n_syn}
        for qi, p in enumerate(net.populations):
            P = f"P{qi}"  # noqa: N806
            off = gen.offsets[p.name]
            if p.kind == "neuron":
                vals.update(self._pop_arrays(P, p, params, keys, rows, off, dt))
                if p.stimulus:  # time-dependent inputs: the current of every step, once per
                    # distinct (current, stimulus fields) of the rows
                    cur = np.asarray(vals[f"{P}_cur"], dtype=float).reshape(-1)
                    key = np.column_stack([cur] + [net.evaluate(e, params) for blk in p.stimulus
                                                   for _, e in blk.fields])
                    _, first, inv = np.unique(key, axis=0, return_index=True,
                                              return_inverse=True)
                    vals[f"{P}_cur"] = stimulus_trace(net, p, params[first], n_steps, dt,
                                                      cur[first])
                    vals[f"{P}_cti"] = inv.reshape(-1).astype(np.int64)
                if p.refractory_clock == "lems":  # jLEMS's count, spike by spike
                    m = p.model
                    t_ref = _refractory_ms(m, vals[f"{P}_par"])
                    u, inv = np.unique(t_ref, return_inverse=True)
                    vals[f"{P}_nref"] = lems_refractory_steps(u, n_steps, dt).astype(np.int32)
                    vals[f"{P}_nri"] = inv.reshape(-1).astype(np.int64)
            elif p.kind == "poisson":
                lam = net.evaluate(p.rate, params) * dt * 1e-3
                if np.any(lam >= 1) or np.any(lam < 0):
                    raise SettingsError(
                        f"population {p.name}: rate x dt = {lam.max():g} per step; allowed: "
                        "< 1 (a smaller dt_ms)")
                vals[f"{P}_thr"] = np.round(lam * 2.0**32).astype(np.int64)
            else:
                steps = np.floor(p.spike_times / dt + 1e-9).astype(np.int64)
                pair = steps * p.size + p.spike_indices
                if np.unique(pair).size != pair.size:
                    k = int(np.flatnonzero(np.bincount(np.searchsorted(np.unique(pair), pair))
                                           > 1)[0])
                    raise SettingsError(
                        f"{net.origin}: population {p.name}: neuron "
                        f"{int(np.unique(pair)[k] % p.size)} spikes twice in one step of "
                        f"{dt:g} ms; allowed: at most one spike per neuron and step")
                keep = steps < n_steps
                ptr = np.zeros(n_steps + 1, dtype=np.int64)
                np.cumsum(np.bincount(steps[keep], minlength=n_steps)[:n_steps], out=ptr[1:])
                vals[f"{P}_sptr"] = ptr
                vals[f"{P}_sidx"] = p.spike_indices[keep]
        for ji, j in enumerate(net.projections):
            J = f"J{ji}"  # noqa: N806
            ptr, post = self._csr[j.name]
            vals[f"{J}_ptr"], vals[f"{J}_post"] = ptr, post
            vals[f"{J}_pre"] = g.edges[j.name][0].astype(np.int64)
            vals[f"{J}_koff"] = gen.syn_off[j.name]
            if gen._dense(j):
                vals[f"{J}_mask"] = self._mask(j, np.float32 if gen.f32 else np.float64)
            if j.on_post:
                vals[f"{J}_cptr"], vals[f"{J}_csyn"] = self._csc[j.name]
            nsyn = g.n_synapses[j.name]
            ids = np.arange(nsyn, dtype=np.int64) + gen.syn_off[j.name]
            for v in j.synvars:
                if _per_synapse(v.initial):
                    vals[f"{J}_i_{v.name}"] = syn_initial(j, v, keys, rows, gen.syn_off[j.name],
                                                          nsyn)
            if gen.delays[j.name] == "row":
                d = net.evaluate(j.delay, params)
                if np.any(d < 0):
                    raise SettingsError(
                        f"{net.origin}: projection {j.name}: delay {d.min():g} ms; allowed: "
                        ">= 0 ms")
                if j.delay_clock == "lems":  # jLEMS's count, once per distinct delay
                    u, inv = np.unique(d, return_inverse=True)
                    ds = lems_delay_steps(u, n_steps, dt).astype(np.int32)
                    vals[f"{J}_dri"] = inv.reshape(-1).astype(np.int64)
                else:
                    ds = np.round(d / dt).astype(np.int64)
                vals[f"{J}_dr"], vals[f"{J}_dmax"] = ds, int(ds.max(initial=0))
            if gen.delays[j.name] == "spike":
                lo, hi = spike_delay_range(j, rows)
                if np.any(lo < 0):
                    raise NetworkError(
                        f"{net.origin}: projection {j.name}: a drawn delay can be negative "
                        f"({lo.min():g} ms); allowed: >= 0 ms")
                # the kernel rounds each drawn delay to floor(d/dt + 0.5) steps; one slot more
                # keeps a delay that rounding puts at the largest value off the current slot
                vals[f"{J}_dmax"] = int(np.floor(hi.max(initial=0.0) / dt + 0.5)) + 1
            for v, blo, bhi in j.bounds:
                lo_v, hi_v = net.evaluate(blo, params), net.evaluate(bhi, params)
                if np.any(lo_v > hi_v):
                    r = int(np.flatnonzero(lo_v > hi_v)[0])
                    u = next(x.unit for x in j.synvars if x.name == v)
                    raise SettingsError(
                        f"{net.origin}: projection {j.name}: bounds of {v}: low {lo_v[r]:g} {u} "
                        f"> high {hi_v[r]:g} {u} (row {r}); allowed: low <= high")
            if gen.delays[j.name] == "array":
                d = _rand_values(j.delay, keys, SYN_INIT | (1 << 60), ids, rows, edge_arrays(j))
                if np.any(d < 0):
                    raise NetworkError(
                        f"{net.origin}: projection {j.name}: a drawn delay is negative "
                        f"({d.min():g} ms); allowed: >= 0 ms")
                ds = np.round(d / dt).astype(np.int64)
                vals[f"{J}_dly"] = ds
                vals[f"{J}_dmax"] = int(ds.max(initial=0))
        for k, inp in enumerate(net.inputs):
            lam = net.evaluate(inp.rate, params) * inp.n * dt * 1e-3
            if np.any(lam < 0):
                raise SettingsError(f"input {inp.name}: negative rate")
            tab = poisson_thresholds(lam)
            if tab.shape[1] < K_FAST:
                tab = np.hstack([tab, np.full((b, K_FAST - tab.shape[1]), 1 << 32)])
            vals[f"I{k}_tab"] = tab
            vals[f"I{k}_val"] = net.evaluate(inp.value, params)
            on = np.empty((b, 2), dtype=np.int64)
            on[:, 0] = 0 if inp.start is None else np.round(net.evaluate(inp.start, params) / dt)
            on[:, 1] = (n_steps if inp.stop is None
                        else np.round(net.evaluate(inp.stop, params) / dt))
            if np.any(on[:, 0] < 0) or np.any(on[:, 1] <= on[:, 0]):
                r = int(np.flatnonzero((on[:, 0] < 0) | (on[:, 1] <= on[:, 0]))[0])
                raise SettingsError(
                    f"{net.origin}: input {inp.name}: window [{on[r, 0] * dt:g}, "
                    f"{on[r, 1] * dt:g}) ms; allowed: 0 <= start < stop")
            vals[f"I{k}_on"] = on
        window_steps = n_steps - settings.rec_start
        for oi, o in enumerate(net.outputs):
            n_of = g.sizes.get(o.of, 0) if o.kind != "weights" else 0
            if _windowed(o):
                a = int(round((o.start_ms or 0.0) / dt))
                z = int(round((o.stop_ms if o.stop_ms is not None else settings.duration_ms)
                              / dt))
                if not 0 <= a < z <= n_steps:
                    raise SettingsError(
                        f"output {o.name}: window [{o.start_ms}, {o.stop_ms}] ms is not inside "
                        f"the run of {settings.duration_ms:g} ms")
                vals[f"O{oi}_cnt"] = np.zeros(b, dtype=np.int64)
                vals[f"O{oi}_a"], vals[f"O{oi}_z"] = a, z
            elif o.kind == "cv":
                vals[f"O{oi}_isi"] = np.zeros((b, n_of, 3))
            elif o.kind in ("fano", "sync"):
                bw = max(1, int(round(o.bin_ms / dt)))
                nb = window_steps // bw
                if nb < 2:
                    raise SettingsError(
                        f"output {o.name}: the window of {settings.window_ms:g} ms holds "
                        f"{nb} bin of {o.bin_ms:g} ms; allowed: a window of at least 2 bins")
                shape = (b, n_of, nb) if o.kind == "fano" else (b, nb)
                vals[f"O{oi}_bins"] = np.zeros(shape, dtype=np.int64)
                vals[f"O{oi}_bw"] = bw
            elif o.kind == "weights":
                for proj, k in [(p, k) for p, _, k in o.refs if k is not None] + list(o.exclude):
                    if k >= g.n_synapses[proj]:
                        raise NetworkError(
                            f"{net.origin}: output {o.name}: synapse {proj}[{k}] does not exist "
                            f"({proj} has {g.n_synapses[proj]} synapses); allowed: "
                            f"0..{g.n_synapses[proj] - 1}")
                for proj, var in _weight_arrays(o):
                    vals[f"W_{proj}_{var}"] = np.zeros((b, g.n_synapses[proj]))
        times = np.zeros(0)
        if net.records:
            every = net.record_every_ms / dt
            if abs(every - round(every)) > 1e-6 * max(every, 1.0) or round(every) < 1:
                raise SettingsError(
                    f"{net.origin}: records every {net.record_every_ms:g} ms is not a whole "
                    f"number of steps of {dt:g} ms; allowed: a multiple of dt")
            vals["rec_every"] = int(round(every))
            n_rec = n_steps // vals["rec_every"]
            times = (np.arange(n_rec) + 1) * vals["rec_every"] * dt
            for r in net.records:
                vals[f"R_{r}"] = np.full((b, n_rec), np.nan)
        if target == "cpu":
            run_on_threads(kern, [vals[a] for a in gen.args], b, numba.get_num_threads())
        else:
            if launcher is None:
                from neuroscape.sim.network_cuda import launch as launcher
            launcher(kern, gen, vals, b, device)
        outputs = self._outputs(vals, gen, settings, params)
        outputs[~ok] = np.nan
        spikes = None
        if recording.spikes:
            over = spk_n > max_spk
            if np.any(over):
                raise SettingsError(
                    f"spike recording overflowed ({int(spk_n.max())} spikes > {max_spk}); "
                    "record fewer rows or a shorter run")
            spikes = [(spk_step[r, : spk_n[r]] * dt, spk_idx[r, : spk_n[r]].copy())
                      for r in range(b)]
        errors = [None if o else "non-finite state (NaN/inf) during the run" for o in ok]
        records = {r: np.where(ok[:, None], vals[f"R_{r}"], np.nan) for r in net.records}
        return NetworkChunkResult(outputs, ok, errors, spikes, vtrace if vidx.size else None,
                                  records=records, record_times_ms=times)

    def _mask(self, j, dtype) -> np.ndarray:
        """(n_pre, n_post) 0/1 mask of projection ``j`` in the state's type (kept per batch)."""
        key = (j.name, dtype)
        if key not in self._masks:
            g = self.connectivity
            m = np.zeros((g.sizes[j.pre], g.sizes[j.post]), dtype=dtype)
            pre, post = g.edges[j.name][:2]
            m[pre, post] = 1.0
            self._masks[key] = m
        return self._masks[key]

    def _pop_arrays(self, P, p, params, keys, rows, off, dt) -> dict:  # noqa: N803
        return population_arrays(self.model, P, p, params, keys, rows, off, dt)

    def _outputs(self, vals, gen: _Gen, settings: SimSettings, params: np.ndarray) -> np.ndarray:
        net, g = self.model, self.connectivity
        b = len(params)
        out = np.full((b, len(net.outputs)), np.nan)
        window_s = (settings.n_steps - settings.rec_start) * settings.dt_ms * 1e-3
        cnt = vals["cnt"]
        for oi, o in enumerate(net.outputs):
            if o.kind in ("rate", "count"):
                pops = o.pops or (o.of,)
                n = sum(g.sizes[p] for p in pops)
                if f"O{oi}_cnt" in vals:
                    total = vals[f"O{oi}_cnt"]
                    span = (vals[f"O{oi}_z"] - vals[f"O{oi}_a"]) * settings.dt_ms * 1e-3
                else:
                    total = sum(cnt[:, gen.offsets[p]:gen.offsets[p] + g.sizes[p]].sum(axis=1)
                                for p in pops)
                    span = window_s
                out[:, oi] = total if o.kind == "count" else total / n / span
            elif o.kind == "cv":
                s = vals[f"O{oi}_isi"]
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = s[..., 0] / s[..., 2]
                    var = s[..., 1] / s[..., 2] - mean**2
                    cv = np.sqrt(np.maximum(var, 0.0)) / mean
                cv[s[..., 2] < 2] = np.nan
                with np.errstate(all="ignore"):
                    out[:, oi] = np.array([np.nanmean(r) if np.any(np.isfinite(r)) else np.nan
                                           for r in cv])
            elif o.kind == "fano":
                x = vals[f"O{oi}_bins"].astype(float)
                m, v = x.mean(axis=2), x.var(axis=2, ddof=1)  # unbiased
                with np.errstate(invalid="ignore", divide="ignore"):
                    ff = np.where(m > 0, v / np.where(m > 0, m, 1.0), np.nan)
                    out[:, oi] = np.array([np.nanmean(r) if np.any(np.isfinite(r)) else np.nan
                                           for r in ff])
            elif o.kind == "sync":
                x = vals[f"O{oi}_bins"].astype(float)
                m, v = x.mean(axis=1), x.var(axis=1, ddof=1)  # unbiased
                out[:, oi] = np.where(m > 0, v / np.where(m > 0, m, 1.0), np.nan)
            elif _selects(o):  # exactly rounded per row: a row's value never depends on B
                w = _pooled(o, vals)
                if o.stat in ("mean", "std"):
                    m = np.array([math.fsum(r) / r.size for r in w])
                    out[:, oi] = m if o.stat == "mean" else np.sqrt(
                        [math.fsum((r - mr) ** 2) / r.size for r, mr in zip(w, m, strict=True)])
                else:
                    thr = net.evaluate(o.value, params)
                    cmp = w > thr[:, None] if o.stat == "fraction_above" else w < thr[:, None]
                    out[:, oi] = cmp.sum(axis=1) / w.shape[1]
            else:
                w = _pooled(o, vals)
                if o.stat == "mean":
                    out[:, oi] = w.mean(axis=1)
                elif o.stat == "std":
                    out[:, oi] = w.std(axis=1)
                else:
                    thr = net.evaluate(o.value, params)
                    cmp = w > thr[:, None] if o.stat == "fraction_above" else w < thr[:, None]
                    out[:, oi] = cmp.mean(axis=1)
        return out


def initial_states(net: NetworkModel, params: dict | None = None, seed: int = 0) -> dict:
    """{population: (size, n_states) initial states, each state in its declared unit} of
    ``net`` as a run with ``seed`` draws them for one parameter set ``params`` (row 0: each
    neuron's own counters, so the values of that run)."""
    from neuroscape.core.rng import row_keys

    arr = net.spec.params_array(params or None)[:1]
    keys = row_keys(int(seed), np.arange(1))
    rows = net.row_values(arr)
    out, off = {}, 0
    for qi, p in enumerate(net.populations):
        if p.kind == "neuron":
            a = population_arrays(net, f"P{qi}", p, arr, keys, rows, off,
                                  net.spec.settings.dt_ms)
            out[p.name] = a[f"P{qi}_y"][0]
        off += p.size
    return out


def _refractory_ms(m, par: np.ndarray) -> np.ndarray:
    """(B,) refractory period of each row (ms): its parameter's value, else the model's."""
    if m.refractory_param is not None:
        return par[:, m.spec.parameter_names.index(m.refractory_param)]
    return np.full(len(par), m.refractory_ms)


def population_arrays(net, P, p, params, keys, rows, off, dt) -> dict:  # noqa: N803
    """The kernel's arrays of neuron population ``p`` (argument prefix ``P``, first global
    index ``off``) for the rows ``params``: initial states (B, size, n_states), parameters,
    current, refractory steps."""
    m = p.model
    b = len(params)
    par = np.column_stack([net.evaluate(e, params) for e in p.params]) if p.params \
        else np.zeros((b, 0))
    try:
        from neuroscape.core.spec import ParameterError

        m.spec.validate(par, allow_outside=True)
    except ParameterError as exc:
        raise SettingsError(f"population {p.name}: {exc}") from None
    base = np.asarray(m.initial_state(par), dtype=float)  # (B, n_s)
    y = np.repeat(base[:, None, :], p.size, axis=1)
    n_s = len(m.states)
    for i, e in enumerate(p.initial):
        if e is not None:  # state i of neuron gid: its own counters (independent draws)
            ids = (np.arange(p.size, dtype=np.int64) + off) * n_s + i
            y[:, :, i] = _rand_values(e, keys, INIT, ids, rows)
    t_ref = _refractory_ms(m, par)
    # Brian2's rule (its timestep(t_ref, dt)): refractory for int(t_ref/dt + 0.001) steps
    # counted from the spike step
    nref = np.maximum(np.floor(t_ref / dt + 1e-3), 1).astype(np.int64)
    cur = net.evaluate(p.current, params)
    return {f"{P}_y": np.ascontiguousarray(y), f"{P}_par": np.ascontiguousarray(par),
            f"{P}_cur": cur, f"{P}_nref": nref}
