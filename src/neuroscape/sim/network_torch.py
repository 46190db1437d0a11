"""torch back end of the network engine: the same network description, the same per-step order
and the same random words as the numba kernel of ``network_engine``, vectorised over the rows of
a batch (on a CUDA GPU, or for testing on the CPU: device "torch-cpu").

It computes in float64 whatever the description's ``precision``: a network declared float32 (the
circuit) runs float32 in the numba kernel and float64 here, so the two agree in their statistics,
and spike for spike only against the numba kernel run at float64.

Every population state is a (B, n) tensor. Per step, in Brian2's order (Stimberg, Brette and
Goodman 2019) as the numba kernel takes it: the populations integrate (the neuron engine's torch
step for Runge-Kutta and exponential Euler; for 'exact', the affine map of one step, read per
row from the model's numba ``exact_step``), the refractory ones are held, the thresholds are
tested, the modulators jump, every projection's on_pre pathway acts in declaration order (the
spikes due now: this step's, or with a delay per projection or row those queued d steps ago;
then the effects of per-synapse delays due now), the Poisson inputs kick, every projection's
on_post pathway acts, the refractory neurons of a model with '(unless refractory)' get their
held value back (Brian2's conditional write: what synapses and inputs wrote to it is undone),
the spiking neurons reset and start their refractory period, and the counts and outputs are
taken.

Synapses act in one of two ways:

- events: the synapses of the spikes due are listed (CSR rows of the spiking presynaptic
  neurons, CSC columns of the spiking postsynaptic ones) in the numba kernel's order; their
  statements run on those lists at once (synaptic state: (B, n_syn) tensors read and written at
  the listed positions) and their effects on neurons are added with ``index_add``, which on the
  CPU adds value after value in list order: the sums of the numba loop, bit for bit. On a GPU
  they are added by ``index_put`` with accumulate (the indices sorted, no atomics): a fixed
  order per neuron and row, so results are reproducible and independent of the chunk, and
  equal to the numba sums up to the order of additions.
- matrix: for a projection without synaptic variables whose on_pre only adds row constants to
  postsynaptic states (``ge += w_e``), the effect is the spike counts ``spikes @ W`` (W the
  sparse or dense count matrix; exact integers) times the constant: no list and no host
  synchronisation; a GPU's default. k spikes onto a neuron then add k*w, not w + w + ..., so
  the last bit may differ from the numba kernel's.

Statements run at once are Brian2's sequential statements only when no synapse reads a neuron
state that the block changes, and neuron states only take += and -=; other blocks are refused
with one line (they run on device "cpu").

Random numbers are ``core.rng``'s words at the numba kernel's counters: Poisson sources at
``(s N + gid) << SUB_BITS``, inputs from one word per step and pair at ``((s N + off) <<
SUB_BITS) | pair`` whose halves seed ``mix32(seed + LANE[gid])`` (the same inverse-CDF tables,
compared as integers), rand() and randn() (Box-Muller on two words) of a statement block at
``SYN | (((s S + k) 2 + side) M + slot)`` (``draw_slots``); initial values are drawn by the numba
path's own numpy code (``syn_initial``, ``_pop_arrays``), row constants by the same printed
arithmetic on Python floats. What differs from the numba kernel is the last bit of
transcendental functions (torch's exp, expm1, log and cos against libm's) and of the 'exact'
step (the same affine map, summed in another order): states agree to rounding, and spike trains
agree exactly unless a rounding difference lands a neuron on the other side of its threshold,
which the tests bound.
"""

from __future__ import annotations

import hashlib
import math
from types import ModuleType

import numpy as np
import sympy

from neuroscape.core.integrators import EXACT, EXPONENTIAL_EULER, TABLEAUX
from neuroscape.core.rng import (
    GAMMA,
    MASK64,
    SUB_BITS,
    as_signed64,
    lane_offsets,
    poisson_thresholds,
    torch_mix32,
    torch_mix64,
)
from neuroscape.core.settings import ChunkResult, Recording, SettingsError, SimSettings
from neuroscape.models.equations.codegen import TORCH_HEADER, Printer, _exprel_py
from neuroscape.models.network.description import NetworkError, edge_arrays, stimulus_trace
from neuroscape.sim.network_engine import (
    K_FAST,
    SYN,
    SYN_INIT,
    NetworkBatch,
    _Gen,
    _per_synapse,
    _rand_values,
    draw_slots,
    pop_scheme,
    syn_initial,
)
from neuroscape.sim.neuron_torch import TORCH_CPU, torch_device, torch_functions

TORCH_NETWORK_SCHEMES = (*TABLEAUX, EXPONENTIAL_EULER, EXACT)
PROPAGATION = ("auto", "events", "matrix")
DENSE_MAX = 1 << 22  # a matrix projection of at most this many pre x post entries is dense
_TWO_M53 = 1.0 / 9007199254740992.0


def _signed(v: int) -> int:
    """A uint64 value (mod 2**64) as the int64 with the same bits."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def _goff(counter: int) -> int:
    """counter * GAMMA (mod 2**64) as an int64: what a counter adds to a key before mixing."""
    return _signed(counter * GAMMA)


def _srl(x, s: int):
    """Logical right shift of int64 tensors."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def _row_scalars(expr, rows: dict[str, np.ndarray], b: int) -> np.ndarray:
    """(B,) values of a row-constant expression, evaluated per row as the numba kernel does
    (the 'math' printer's code on Python floats: the same libm)."""
    e = sympy.sympify(expr)
    code = compile(Printer({}, "math")(e), "<row scalar>", "eval")
    env = {"math": math, "_exprel": _exprel_py, "min": min, "max": max, "abs": abs}
    names = sorted({s.name for s in e.free_symbols})
    bad = [n for n in names if n not in rows]
    if bad:
        raise NetworkError(f"{expr}: not constant per row ({bad[0]})")
    out = np.empty(b)
    for r in range(b):
        out[r] = float(eval(code, env, {n: float(rows[n][r]) for n in names}))  # noqa: S307
    return out


# ------------------------------------------------------------------------- statement blocks


class _Block:
    """One statement block (on_pre or on_post) of a projection, compiled to a torch function
    of the gathered values of the listed synapses."""

    def __init__(self, name: str, j, stmts, where: str, delayed: bool, net) -> None:
        self.name, self.stmts = name, stmts
        post, pre = net.population(j.post), net.population(j.pre)
        reads: set[str] = set()
        for st in stmts:
            reads |= {s.name for s in st.expr.free_symbols}
        self.side = 0 if where == "on_pre" else 1  # the counter's pathway bit
        self.draws = draw_slots(stmts)  # (name, first counter slot): the numba kernel's
        synv = [v.name for v in j.synvars]
        written_syn = [st.target for st in stmts if st.where == "syn"]
        self.syn_in = [v for v in synv if f"syn_{v}" in reads or v in written_syn]
        self.syn_out = list(dict.fromkeys(written_syn))
        self.rp = sorted(n[3:] for n in reads if n.startswith("rp_"))
        self.post_in = sorted(n[5:] for n in reads if n.startswith("post_"))
        self.pre_in = sorted(n[4:] for n in reads if n.startswith("pre_"))
        other = [n for n in reads if not n.startswith(
            ("rp_", "post_", "pre_", "syn_", "tmp_", "rand_", "randn_"))]
        if other:
            raise NetworkError(f"projection {j.name}: {where}: symbol {other[0]!r} is not "
                               "supported on the torch back end")
        # the effects on neurons: (side 'post' or 'pre', state, delayed?) per statement
        self.effects: list[tuple[str, str, bool]] = []
        shared_w: dict[tuple[str, str], str] = {}
        for st in stmts:
            if st.where == "post":
                d = delayed and where == "on_pre"
                if d and st.op not in ("+=", "-="):
                    raise NetworkError(
                        f"projection {j.name}: with a delay, on_pre may only add to (+=, -=) a "
                        f"postsynaptic variable; {st.target} {st.op} ... cannot wait")
                self.effects.append(("post", st.target, d))
                if not d:
                    shared_w[(post.name, st.target)] = st.op
            elif st.where == "pre":
                self.effects.append(("pre", st.target, False))
                shared_w[(pre.name, st.target)] = st.op
        for (pop, var), op in shared_w.items():
            if op not in ("+=", "-="):
                raise SettingsError(
                    f"projection {j.name}: {where} sets {var} of {pop} with '{op}'; the torch "
                    "back end runs a step's synapses together and allows only += and -= on "
                    "neuron states; allowed: device='cpu'")
        shared_r = {(post.name, v) for v in self.post_in} | {(pre.name, v) for v in self.pre_in}
        clash = sorted(set(shared_w) & shared_r)
        if clash:
            pop, var = clash[0]
            raise SettingsError(
                f"projection {j.name}: {where} reads {var} of {pop}, which it also changes; "
                "the torch back end runs a step's synapses together and needs blocks whose "
                "reads do not depend on the other synapses; allowed: device='cpu'")
        self.args = ([f"syn_{v}" for v in self.syn_in] + [f"rp_{n}" for n in self.rp]
                     + [f"post_{n}" for n in self.post_in] + [f"pre_{n}" for n in self.pre_in]
                     + [d for d, _ in self.draws])

    def source(self) -> str:
        pr = Printer({}, lib="torch")
        lines = [f"def {self.name}({', '.join(self.args)}):"]
        n_eff = 0
        for st in self.stmts:
            rhs = pr(st.expr)
            if st.where == "tmp":
                lines.append(f"    tmp_{st.target} = {rhs}")
            elif st.where == "syn":
                x = f"syn_{st.target}"
                if st.op == "=":
                    lines.append(f"    {x} = {rhs}")
                else:
                    lines.append(f"    {x} = {x} {st.op[0]} {rhs}")
            else:  # y -= e is y + (-e), exactly
                sign = "-" if st.op == "-=" else ""
                lines.append(f"    _e{n_eff} = {sign}{rhs}")
                n_eff += 1
        outs = [f"syn_{v}" for v in self.syn_out]
        effs = [f"_e{i}" for i in range(n_eff)]
        lines.append(f"    return ({', '.join(outs)}{',' if outs else ''}), "
                     f"({', '.join(effs)}{',' if effs else ''})")
        return "\n".join(lines) + "\n"


_MODULES: dict[str, ModuleType] = {}


def _compile(src: str, name: str) -> ModuleType:
    h = hashlib.sha256(src.encode()).hexdigest()[:16]
    if h not in _MODULES:
        mod = ModuleType(f"_neuroscape_torch_network_{name}_{h}")
        mod.__file__ = f"<neuroscape torch network {name} {h}>"
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 - generated source
        _MODULES[h] = mod
    return _MODULES[h]


# --------------------------------------------------------------------------------- the engine


def torch_scheme(pop, settings: SimSettings) -> str:
    """The scheme population ``pop`` integrates with on the torch back end (the numba engine's
    choice, ``pop_scheme``), refusing those the torch back end lacks."""
    m = pop.model
    if m.equations is None:
        raise SettingsError(
            f"population {pop.name}: model {m.name} is hand-written (numba only); allowed on "
            "a torch device: equation models, or device='cpu'")
    scheme = pop_scheme(pop, settings)
    if scheme not in TORCH_NETWORK_SCHEMES:
        raise SettingsError(
            f"population {pop.name}: integrator {scheme!r} is not available on the torch back "
            f"end; allowed: {', '.join(TORCH_NETWORK_SCHEMES)}")
    return scheme


def run_chunk_torch(batch: NetworkBatch, params: np.ndarray, keys: np.ndarray,
                    settings: SimSettings, device: str, recording: Recording | None = None,
                    propagation: str = "auto") -> ChunkResult:
    """``NetworkBatch.run_chunk`` on a torch device ("cuda", "cuda:N" or "torch-cpu"): the same
    rows (``params`` (B, n_params) in the declared units, ``keys`` (B,) uint64 stream keys),
    settings (ms) and recording, and the same ``ChunkResult`` (outputs in their declared
    units, spike times in ms). ``propagation``: 'events' (synapse lists; the CPU's default),
    'matrix' (spike-count matrix products where a projection allows them; a GPU's default) or
    'auto'."""
    if propagation not in PROPAGATION:
        raise SettingsError(f"propagation={propagation!r}; allowed: {', '.join(PROPAGATION)}")
    dev = torch_device(device)
    run = _TorchRun(batch, np.atleast_2d(np.asarray(params, dtype=float)),
                    np.asarray(keys, dtype=np.uint64), settings, dev,
                    recording or Recording(), propagation)
    return run.run()


def _cpu_only(net) -> str | None:
    """The first description element that only the numba kernel runs, by name (None: none)."""
    for j in net.projections:
        if getattr(j, "delay_draw", "synapse") == "spike":
            return f"projection {j.name}: delay_draw: spike"
        if getattr(j, "bounds", ()):
            return f"projection {j.name}: bounds"
    for o in net.outputs:
        if o.kind == "count":
            return f"output {o.name}: count"
        if o.kind == "rate" and len(o.pops) > 1:
            return f"output {o.name}: a rate pooled over {len(o.pops)} populations"
        if o.kind == "weights" and (len(o.refs) > 1 or o.exclude
                                    or any(k is not None for _, _, k in o.refs)):
            return f"output {o.name}: weights of single synapses, pools or exclusions"
    if getattr(net, "records", ()):
        return "records"
    return None


def _refuse_cpu_only(net) -> None:
    what = _cpu_only(net)
    if what is not None:
        raise SettingsError(f"{net.origin}: {what} is not available on the torch back end yet; "
                            "allowed: device 'cpu'")


class _TorchRun:
    """One chunk of rows on one device: the tensors and the time loop."""

    def __init__(self, batch, params, keys, settings, dev, recording, propagation) -> None:
        import torch

        self.torch = torch
        self.batch, self.net, self.g = batch, batch.model, batch.connectivity
        self.params, self.keys, self.st, self.dev, self.rec = (params, keys, settings, dev,
                                                                recording)
        self.gen = _Gen(self.net, self.g, settings, recording)  # offsets and synapse offsets
        # the numba kernel's source is written (not compiled) for its refusals (e.g. per-synapse
        # rand() delays on a plastic projection): the torch back end refuses what it refuses
        self.gen.source()
        _refuse_cpu_only(self.net)
        if propagation == "auto":
            propagation = "events" if dev.type == "cpu" else "matrix"
        self.matrix_ok = propagation == "matrix"
        self.b = len(params)
        self.dt = settings.dt_ms
        self.n_steps = settings.n_steps
        self.rows = self.net.row_values(params)
        self.key = torch.as_tensor(as_signed64(keys), dtype=torch.int64, device=dev)
        self.rv = {k[3:]: self._t(v) for k, v in self.rows.items()}
        self._setup_pops()
        self._setup_mods()
        self._setup_projs()
        self._setup_inputs()
        self._setup_outputs()

    # ------------------------------------------------------------------------- helpers
    def _t(self, a, dtype=None):
        t = self.torch
        return t.as_tensor(np.ascontiguousarray(a), dtype=dtype or t.float64, device=self.dev)

    def _full(self, x, shape, dtype=None):
        """A contiguous tensor of ``shape`` from a generated function's output (a constant, a
        (B, 1) row value or a full tensor)."""
        t = self.torch
        if isinstance(x, t.Tensor):
            return x if tuple(x.shape) == tuple(shape) else x.expand(shape).contiguous()
        return t.full(shape, x, dtype=dtype or t.float64, device=self.dev)

    def _add_at(self, flat, idx, vals, inplace: bool = False):
        """flat[idx] += vals. On the CPU index_add adds in list order (the numba loop's sums);
        on a GPU index_put with accumulate sorts the indices and sums each one's values in a
        fixed order (reproducible; index_add's atomics would not be)."""
        if self.dev.type == "cpu":
            return flat.index_add_(0, idx, vals) if inplace else flat.index_add(0, idx, vals)
        if inplace:
            return flat.index_put_((idx,), vals, accumulate=True)
        return flat.index_put((idx,), vals, accumulate=True)

    def _unit(self, w):
        return _srl(w, 11).to(self.torch.float64) * _TWO_M53

    # ------------------------------------------------------------------------- setup
    def _setup_pops(self) -> None:
        torch, net, b, dt = self.torch, self.net, self.b, self.dt
        early = [j.name for j in net.projections if j.early]
        if early:
            raise SettingsError(f"projection {early[0]}: early events (jLEMS's order) run on "
                                "the numba engine; allowed: device cpu (or cuda)")
        lems = [p.name for p in net.populations if p.kind == "neuron"
                and p.refractory_clock == "lems"]
        lems += [j.name for j in net.projections if j.delay_clock == "lems"]
        if lems:
            raise SettingsError(f"{lems[0]}: jLEMS's clock (refractory_clock, delay_clock lems) "
                                "runs on the numba engine; allowed: device cpu (or cuda)")
        self.pops = []
        n_total = self.gen.n_total
        for qi, p in enumerate(net.populations):
            off = self.gen.offsets[p.name]
            P = {"q": qi, "pop": p, "kind": p.kind, "n": p.size, "off": off}  # noqa: N806
            if p.kind == "neuron":
                m = p.model
                scheme = torch_scheme(p, self.st)
                arr = self.batch._pop_arrays(f"P{qi}", p, self.params, self.keys, self.rows,
                                             off, dt)
                y = arr[f"P{qi}_y"]
                par, cur, nref = arr[f"P{qi}_par"], arr[f"P{qi}_cur"], arr[f"P{qi}_nref"]
                P["y"] = [self._t(y[:, :, i]) for i in range(y.shape[2])]
                P["p"] = [self._t(par[:, j : j + 1]) for j in range(par.shape[1])]
                P["cur"] = self._t(np.asarray(cur, dtype=float).reshape(b, 1))
                P["curt"] = None
                if p.stimulus:  # time-dependent inputs: the current of every step (B, n)
                    if scheme == EXACT:
                        raise SettingsError(
                            f"population {p.name}: a stimulus with the exact scheme on the "
                            "torch back end; allowed: another integrator, or device cpu")
                    P["curt"] = self._t(stimulus_trace(net, p, self.params, self.n_steps, dt,
                                                       np.asarray(cur, dtype=float)))
                P["nref"] = self._t(nref.reshape(b, 1), torch.int64)
                P["ref"] = torch.zeros((b, p.size), dtype=torch.int64, device=self.dev)
                P["hold"] = m.hold_refractory
                P["hv"] = torch.zeros((b, p.size), dtype=torch.float64, device=self.dev)
                P["scheme"] = scheme
                P["fns"] = torch_functions(m, "euler" if scheme == EXACT else scheme)
                if scheme == EXACT:
                    P["affine"] = self._affine(m, par, np.asarray(cur, dtype=float))
            elif p.kind == "poisson":
                lam = net.evaluate(p.rate, self.params) * dt * 1e-3
                if np.any(lam >= 1) or np.any(lam < 0):
                    raise SettingsError(
                        f"population {p.name}: rate x dt = {lam.max():g} per step; allowed: "
                        "< 1 (a smaller dt_ms)")
                P["thr"] = self._t(np.round(lam * 2.0**32).astype(np.int64).reshape(b, 1),
                                   torch.int64)
                ctr = [_goff((off + i) << SUB_BITS) for i in range(p.size)]
                P["kb"] = self.key[:, None] + torch.as_tensor(ctr, dtype=torch.int64,
                                                               device=self.dev)[None, :]
            else:
                steps = np.floor(p.spike_times / dt + 1e-9).astype(np.int64)
                pair = steps * p.size + p.spike_indices
                uniq, n_of = np.unique(pair, return_counts=True)
                if np.any(n_of > 1):  # the numba engine's refusal, word for word
                    raise SettingsError(
                        f"{net.origin}: population {p.name}: neuron "
                        f"{int(uniq[np.argmax(n_of > 1)] % p.size)} spikes twice in one step "
                        f"of {dt:g} ms; allowed: at most one spike per neuron and step")
                keep = steps < self.n_steps
                lists = {}
                for s_ in np.unique(steps[keep]):
                    idx = p.spike_indices[keep][steps[keep] == s_]
                    lists[int(s_)] = self._t(idx, torch.int64)
                P["lists"] = lists
            self.pops.append(P)
        self.by_name = {P["pop"].name: P for P in self.pops}
        self.n_total = n_total

    def _affine(self, m, par: np.ndarray, cur: np.ndarray):
        """The 'exact' step as y' = A y + c per row ((B, n_s, n_s), (B, n_s)): read from the
        model's numba ``exact_step`` at the origin and the unit vectors (the step is affine in
        the states for fixed parameters, current and dt)."""
        fn = getattr(m.functions(), m.function_name("exact_step"))
        n_s = len(m.states)
        b = len(par)
        big_a = np.zeros((b, n_s, n_s))
        c = np.zeros((b, n_s))
        for r in range(b):
            args = (self.dt, float(cur[r]), *map(float, par[r]))
            c[r] = fn(*([0.0] * n_s), *args)
            for i in range(n_s):
                e = [0.0] * n_s
                e[i] = 1.0
                big_a[r, :, i] = np.asarray(fn(*e, *args)) - c[r]
        cols = [[j for j in range(n_s) if np.any(big_a[:, i, j] != 0.0)] for i in range(n_s)]
        return ([[self._t(big_a[:, i, j : j + 1]) for j in range(n_s)] for i in range(n_s)],
                [self._t(c[:, i : i + 1]) for i in range(n_s)], cols)

    def _setup_mods(self) -> None:
        torch, b = self.torch, self.b
        self.mods = {}
        for m in getattr(self.net, "modulators", ()):
            self.mods[m.name] = {
                "src": m.source,
                "j": torch.zeros(b, dtype=torch.float64, device=self.dev),
                "t": torch.zeros(b, dtype=torch.int64, device=self.dev),
                "tau": self._t(_row_scalars(m.tau, self.rows, b)),
                "v": self._t(_row_scalars(m.value, self.rows, b)),
            }

    def _setup_projs(self) -> None:
        torch, net, g, b = self.torch, self.net, self.g, self.b
        self.projs = []
        src = [TORCH_HEADER.format(origin=f"network {net.name}")]
        for ji, j in enumerate(net.projections):
            pre, post = self.by_name[j.pre], self.by_name[j.post]
            nsyn = g.n_synapses[j.name]
            J = {"ji": ji, "j": j, "pre": pre, "post": post, "nsyn": nsyn,  # noqa: N806
                 "koff": self.gen.syn_off[j.name]}
            ptr, post_idx = self.batch._csr[j.name]
            J["ptr"], J["post_idx"] = self._t(ptr, torch.int64), self._t(post_idx, torch.int64)
            J["pre_idx"] = self._t(g.edges[j.name][0].astype(np.int64), torch.int64)
            if j.on_post:
                cptr, csyn = self.batch._csc[j.name]
                J["cptr"], J["csyn"] = self._t(cptr, torch.int64), self._t(csyn, torch.int64)
            ids = np.arange(nsyn, dtype=np.int64) + J["koff"]
            J["syn"] = {}
            for v in j.synvars:
                if _per_synapse(v.initial):
                    a = syn_initial(j, v, self.keys, self.rows, J["koff"], nsyn)
                else:
                    a = np.repeat(_row_scalars(v.initial, self.rows, b)[:, None], nsyn, axis=1)
                J["syn"][v.name] = self._t(a)
            J["evd"] = [v for v in j.synvars if v.b is not None]
            J["mod"] = [v for v in j.synvars if getattr(v, "mod", None) is not None]
            J["eb"] = {v.name: self._t(_row_scalars(v.b, self.rows, b)) for v in J["evd"]}
            J["ea"] = {v.name: self._t(_row_scalars(v.a, self.rows, b)) for v in J["evd"]}
            J["k0"] = {v.name: self._t(_row_scalars(v.mod[2], self.rows, b)) for v in J["mod"]}
            J["k1"] = {v.name: self._t(_row_scalars(v.mod[3], self.rows, b)) for v in J["mod"]}
            J["last"] = (torch.zeros((b, nsyn), dtype=torch.int64, device=self.dev)
                         if J["evd"] or J["mod"] else None)
            J["stateful"] = bool(j.synvars)
            # the numba kernel adds such an on_pre statement by statement (add_spikes)
            J["const_adds"] = self.gen._constant_adds(j) and not _per_synapse(j.delay)
            self._setup_delay(J, j, ids)
            if J["delay"] == "array":
                self.gen._buffered(j)  # the numba engine's refusal of what cannot wait
            delayed = J["delay"] == "array"  # effects wait in buffers; other delays: spikes wait
            J["blocks"] = {}
            for where, stmts in (("on_pre", j.on_pre), ("on_post", j.on_post)):
                if stmts:
                    blk = _Block(f"J{ji}_{where}", j, stmts, where, delayed, net)
                    J["blocks"][where] = blk
                    src.append("\n\n" + blk.source())
            J["buf"] = {}
            if delayed and "on_pre" in J["blocks"]:
                for _, var, d in J["blocks"]["on_pre"].effects:
                    if d and var not in J["buf"]:
                        J["buf"][var] = torch.zeros((b, J["D"], post["n"]), dtype=torch.float64,
                                                    device=self.dev)
            J["matrix"] = self._matrix(J) if self.matrix_ok else None
            self.projs.append(J)
        mod = _compile("\n".join(src), net.name)
        for J in self.projs:
            J["fn"] = {w: getattr(mod, blk.name) for w, blk in J["blocks"].items()}

    def _setup_delay(self, J, j, ids) -> None:  # noqa: N803
        torch, net, dt = self.torch, self.net, self.dt
        if _per_synapse(j.delay):
            d = _rand_values(j.delay, self.keys, SYN_INIT | (1 << 60), ids, self.rows,
                             edge_arrays(j))
            if np.any(d < 0):
                raise NetworkError(
                    f"projection {j.name}: a drawn delay is negative ({d.min():g} ms); "
                    "allowed: >= 0 ms")
            ds = np.round(d / dt).astype(np.int64)
            J["delay"], J["dly"] = "array", self._t(ds, torch.int64)
            J["D"] = int(ds.max(initial=0)) + 1
        elif sympy.sympify(j.delay).free_symbols:
            d = net.evaluate(j.delay, self.params)
            if np.any(d < 0):
                raise SettingsError(
                    f"projection {j.name}: delay {d.min():g} ms; allowed: >= 0 ms")
            ds = np.round(d / dt).astype(np.int64)
            J["delay"], J["dr"] = "row", self._t(ds, torch.int64)
            J["dr_values"] = sorted({int(x) for x in ds})
            J["D"] = int(ds.max(initial=0)) + 1
        else:
            steps = int(round(float(j.delay) / dt))
            J["delay"], J["D"] = steps, steps + 1
        if J["delay"] not in (0, "array") and J["pre"]["kind"] != "spikes":
            # one delay per row: the spikes wait (Brian2's queue), on_pre runs when they arrive
            J["queue"] = torch.zeros((J["D"], self.b, J["pre"]["n"]), dtype=torch.bool,
                                     device=self.dev)

    def _matrix(self, J):  # noqa: N803
        """The spike-count matrix (W^T, sparse or dense) and the per-row values of a projection
        whose on_pre only adds row constants to postsynaptic states; None otherwise."""
        torch, j = self.torch, J["j"]
        blk = J["blocks"].get("on_pre")
        if blk is None or J["stateful"] or J["delay"] == "array":
            return None
        if any(st.where != "post" or any(not s.name.startswith("rp_")
                                         for s in st.expr.free_symbols) for st in j.on_pre):
            return None
        n_pre, n_post = J["pre"]["n"], J["post"]["n"]
        pre, post = self.g.edges[j.name]
        if n_pre * n_post <= DENSE_MAX:
            wt = torch.zeros((n_post, n_pre), dtype=torch.float64, device=self.dev)
            wt.index_put_((self._t(post, torch.int64), self._t(pre, torch.int64)),
                          torch.ones(len(pre), dtype=torch.float64, device=self.dev),
                          accumulate=True)
        else:
            coo = torch.sparse_coo_tensor(np.vstack([post, pre]), np.ones(len(pre)),
                                          (n_post, n_pre), dtype=torch.float64).coalesce()
            wt = coo.to_sparse_csr().to(self.dev)
        vals = []
        for st in j.on_pre:
            v = _row_scalars(st.expr, self.rows, self.b)
            vals.append((st.target, self._t(-v if st.op == "-=" else v)[:, None]))
        return wt, vals

    def _setup_inputs(self) -> None:
        torch, net, b, dt = self.torch, self.net, self.b, self.dt
        groups: dict[str, list[int]] = {}
        for k, inp in enumerate(net.inputs):
            groups.setdefault(inp.target, []).append(k)
        self.inputs = []
        for tgt, ks in groups.items():
            P = self.by_name[tgt]  # noqa: N806
            off, n = P["off"], P["n"]
            # the pair's step word is at counter ((s N + off) << SUB_BITS) | h2 (``_inputs``)
            kb = [self.key[:, None] + _goff((off << SUB_BITS) | h2)
                  for h2 in range((len(ks) + 1) // 2)]
            lane = self._t(lane_offsets(off + n)[off:].astype(np.int64), torch.int64)[None, :]
            items = []
            for k in ks:
                inp = net.inputs[k]
                lam = net.evaluate(inp.rate, self.params) * inp.n * dt * 1e-3
                if np.any(lam < 0):
                    raise SettingsError(f"input {inp.name}: negative rate")
                tab = self._t(poisson_thresholds(lam), torch.int64)
                val = self._t(net.evaluate(inp.value, self.params).reshape(b, 1))
                # the time window [start, stop) in steps, per row (the numba engine's)
                on = np.empty((b, 2), dtype=np.int64)
                on[:, 0] = (0 if inp.start is None
                            else np.round(net.evaluate(inp.start, self.params) / dt))
                on[:, 1] = (self.n_steps if inp.stop is None
                            else np.round(net.evaluate(inp.stop, self.params) / dt))
                if np.any(on[:, 0] < 0) or np.any(on[:, 1] <= on[:, 0]):
                    r = int(np.flatnonzero((on[:, 0] < 0) | (on[:, 1] <= on[:, 0]))[0])
                    raise SettingsError(
                        f"{net.origin}: input {inp.name}: window [{on[r, 0] * dt:g}, "
                        f"{on[r, 1] * dt:g}) ms; allowed: 0 <= start < stop")
                win = (self._t(on[:, :1], torch.int64), self._t(on[:, 1:], torch.int64))
                items.append((P["pop"].model.states.index(inp.var), tab, val, win))
            self.inputs.append((P, kb, lane, items))

    def _setup_outputs(self) -> None:
        torch, b, st, dt = self.torch, self.b, self.st, self.dt
        z = {"dtype": torch.int64, "device": self.dev}
        self.cnt = torch.zeros((b, self.n_total), **z)
        self.outs = []
        window_steps = self.n_steps - st.rec_start
        for oi, o in enumerate(self.net.outputs):
            d = {"oi": oi, "o": o, "kind": o.kind}
            if o.kind == "rate" and (o.start_ms is not None or o.stop_ms is not None):
                a = int(round((o.start_ms or 0.0) / dt))
                zz = int(round((o.stop_ms if o.stop_ms is not None else st.duration_ms) / dt))
                if not 0 <= a < zz <= self.n_steps:
                    raise SettingsError(
                        f"output {o.name}: window [{o.start_ms}, {o.stop_ms}] ms is not inside "
                        f"the run of {st.duration_ms:g} ms")
                d.update(kind="wrate", a=a, z=zz, cnt=torch.zeros(b, **z))
            elif o.kind == "cv":
                n = self.g.sizes[o.of]
                d.update(isi=torch.zeros((3, b, n), dtype=torch.float64, device=self.dev),
                         last=torch.full((b, n), -1, **z))
            elif o.kind in ("fano", "sync"):
                n = self.g.sizes[o.of]
                bw = max(1, int(round(o.bin_ms / dt)))
                nb = window_steps // bw  # whole bins only: a partial last bin is left out
                if nb < 2:
                    raise SettingsError(
                        f"output {o.name}: the window of {st.window_ms:g} ms holds "
                        f"{nb} bin of {o.bin_ms:g} ms; allowed: a window of at least 2 bins")
                d.update(bw=bw, nb=nb, bins=torch.zeros((b, n, nb) if o.kind == "fano" else (b, nb),
                                                 **z))
            elif o.kind == "rate":
                continue
            self.outs.append(d)
        vidx = np.asarray(self.rec.v_neurons, dtype=np.int64)
        if vidx.size and (vidx.min() < 0 or vidx.max() >= self.n_total):
            raise ValueError(
                f"recorded neuron indices must be in 0..{self.n_total - 1}, got {vidx.tolist()}")
        for P in self.pops:  # the numba engine's refusal, word for word
            inside = vidx[(vidx >= P["off"]) & (vidx < P["off"] + P["n"])]
            if P["kind"] != "neuron" and inside.size:
                raise ValueError(
                    f"recorded neuron {int(inside[0])} is in {P['pop'].name}, a {P['kind']} "
                    "source without a membrane potential; allowed: neurons of a neuron "
                    "population")
        self.vidx = vidx
        self.vtrace = torch.zeros((b, vidx.size, self.n_steps if vidx.size else 0),
                                  dtype=torch.float32, device=self.dev)
        self.vsel = []
        for P in self.pops:
            if P["kind"] != "neuron":
                continue
            r = np.flatnonzero((vidx >= P["off"]) & (vidx < P["off"] + P["n"]))
            if r.size:
                self.vsel.append((P, self._t(r, torch.int64),
                                  self._t(vidx[r] - P["off"], torch.int64)))
        self.spk = []

    # ------------------------------------------------------------------------- the time loop
    def run(self) -> ChunkResult:
        n_words = self.n_total
        for s in range(self.n_steps):
            self._s = s
            soff = _goff((s * n_words) << SUB_BITS)
            self._integrate(s)
            self._thresholds(s, soff)
            self._modulators(s)
            # Brian2's order: every on_pre pathway, the Poisson inputs, every on_post pathway
            for J in self.projs:
                self._pre(J, s)
            self._inputs(s, soff)
            for J in self.projs:
                self._post(J, s)
            self._hold(s)
            self._resets(s)
        return self._finish()

    def _integrate(self, s: int) -> None:
        dt = self.dt
        for P in self.pops:
            if P["kind"] != "neuron":
                continue
            y, shape = P["y"], (self.b, P["n"])
            if P["scheme"] == EXACT:
                big_a, c, cols = P["affine"]
                new = []
                for i in range(len(y)):
                    acc = None
                    for jj in cols[i]:
                        t = big_a[i][jj] * y[jj]
                        acc = t if acc is None else acc + t
                    new.append(self._full(c[i] if acc is None else acc + c[i], shape))
            else:
                cur = P["cur"] if P["curt"] is None else P["curt"][:, s:s + 1]
                out = P["fns"].step(*y, dt, cur, *P["p"])
                new = [self._full(x, shape) for x in out]
            if P["hold"] and P["pop"].model.has_reset:
                new[0] = self.torch.where(P["ref"] > s, P["hv"], new[0])
            P["yo"] = P["y"][0]  # the V before the step (upward crossings)
            P["y"] = new

    def _thresholds(self, s: int, soff: int) -> None:
        torch = self.torch
        for P in self.pops:
            P["ev"] = None
            if P["kind"] == "neuron" and not P["pop"].model.has_reset:
                lv = float(P["pop"].model.spike_level)  # an upward crossing on the grid
                shape = (self.b, P["n"])
                P["mask"] = (self._full(P["yo"], shape) <= lv) & (self._full(P["y"][0], shape)
                                                                  > lv)
            elif P["kind"] == "neuron":
                th = P["fns"].threshold(*P["y"], *P["p"])
                P["mask"] = (P["ref"] <= s) & self._full(th, (self.b, P["n"]), torch.bool)
            elif P["kind"] == "poisson":
                x = torch_mix64(P["kb"] + soff)
                P["mask"] = (x & 0xFFFFFFFF) < P["thr"]
            else:
                P["mask"] = None
                P["list"] = P["lists"].get(s)

    def _events(self, P):  # noqa: N803
        """This step's spikes of a population as [(rows, neurons)], in the numba kernel's order
        (row, then neuron; a spike list in its order)."""
        torch = self.torch
        if P["ev"] is None:
            if P["kind"] == "spikes":
                P["ev"] = self._list_events(P, self._s, torch.arange(self.b, device=self.dev))
            else:
                b_e, i_e = P["mask"].nonzero(as_tuple=True)
                P["ev"] = [(b_e, i_e)] if len(b_e) else []
        return P["ev"]

    def _list_events(self, P, t: int, rows) -> list:  # noqa: N803
        """The spikes of generator P's list of step t on ``rows``."""
        lst = P["lists"].get(t)
        if lst is None or len(rows) == 0:
            return []
        return [(rows.repeat_interleave(len(lst)), lst.repeat(len(rows)))]

    def _due(self, J, s: int) -> list:  # noqa: N803
        """The presynaptic spikes whose on_pre acts in step s: this step's, or with a delay of
        d steps (per projection or per row) those of step s - d (the numba kernel's queue)."""
        torch, P = self.torch, J["pre"]  # noqa: N806
        mode = J["delay"]
        if mode in (0, "array"):
            return self._events(P)
        if "queue" in J:
            b_e, i_e = self._queued(J, s).nonzero(as_tuple=True)
            return [(b_e, i_e)] if len(b_e) else []
        if mode == "row":
            out = []
            for d in J["dr_values"]:
                rows = torch.nonzero(J["dr"] == d).flatten()
                if s - d >= 0:
                    out += self._list_events(P, s - d, rows)
            return out
        return self._list_events(P, s - mode, torch.arange(self.b, device=self.dev))

    def _nsp(self, P):  # noqa: N803
        """(B,) spikes of a population in this step."""
        torch = self.torch
        if P["kind"] == "spikes":
            n = 0 if P["list"] is None else len(P["list"])
            return torch.full((self.b,), n, dtype=torch.int64, device=self.dev)
        return P["mask"].sum(1)

    # ------------------------------------------------------------------------- synapses
    def _bring(self, J, s: int, last, vals: dict, rowg) -> None:  # noqa: N803
        """Event-driven variables (``vals``: gathered) from their last update to step s (the
        numba kernel's ``_evd_lines``: modulated weights first, then the linear ones)."""
        torch, dt = self.torch, self.dt
        el = (s - last).to(torch.float64) * dt
        for v in J["mod"]:
            tr, m, _, _ = v.mod
            M = self.mods[m]  # noqa: N806
            m0 = rowg(M["j"]) * torch.exp((-(last - rowg(M["t"]))).to(torch.float64) * dt
                                          / rowg(M["tau"]))
            tx = -1.0 / rowg(J["eb"][tr])
            tp = 1.0 / (1.0 / tx + 1.0 / rowg(M["tau"]))
            vals[v.name] = vals[v.name] + vals[tr] * (
                rowg(J["k0"][v.name]) * tx * (1.0 - torch.exp(-el / tx))
                + rowg(J["k1"][v.name]) * m0 * tp * (1.0 - torch.exp(-el / tp)))
        for v in J["evd"]:
            x, eb, ea = vals[v.name], rowg(J["eb"][v.name]), rowg(J["ea"][v.name])
            ee = torch.exp(eb * el)
            vals[v.name] = torch.where(eb != 0.0, x * ee + ea / eb * (ee - 1.0), x + ea * el)

    def _modulators(self, s: int) -> None:
        """A modulator's source spiked: its synapses are brought to now, then it jumps."""
        torch, dt = self.torch, self.dt
        for name, M in self.mods.items():  # noqa: N806
            nsp = self._nsp(self.by_name[M["src"]])
            hit = nsp > 0
            if not bool(hit.any()):
                continue
            for J in self.projs:
                if any(v.mod[1] == name for v in J["mod"]):
                    self._bring_all(J, s, hit)
            decayed = M["j"] * torch.exp((-(s - M["t"])).to(torch.float64) * dt / M["tau"])
            M["j"] = torch.where(hit, decayed + nsp * M["v"], M["j"])
            M["t"] = torch.where(hit, s, M["t"])

    def _bring_all(self, J, s: int, rows) -> None:  # noqa: N803
        """All synapses of a projection brought to step s, on the rows ``rows`` (a mask)."""
        torch = self.torch
        names = [v.name for v in (*J["mod"], *J["evd"])]
        vals = {n: J["syn"][n] for n in names}
        for v in J["mod"]:
            vals.setdefault(v.mod[0], J["syn"][v.mod[0]])
        self._bring(J, s, J["last"], vals, lambda x: x[:, None])
        keep = rows[:, None]
        for n in names:
            J["syn"][n] = torch.where(keep, vals[n], J["syn"][n])
        J["last"] = torch.where(keep, s, J["last"])

    def _pre(self, J, s: int) -> None:  # noqa: N803
        """The on_pre pathway of a projection: the spikes due now, then the effects of
        per-synapse delays due now."""
        post = J["post"]
        if "on_pre" in J["blocks"]:
            if J["matrix"] is not None:
                self._matrix_pre(J, s)
            else:
                for b_e, i_e in self._due(J, s):
                    lst = self._expand(J["ptr"], b_e, i_e)
                    if lst is not None:
                        b_k, pos, owner = lst
                        self._block(J, "on_pre", s, b_k, pos, owner, J["post_idx"][pos])
        if J["delay"] == "array":  # after on_pre: an effect of delay 0 lands in this step's slot
            slot = s % J["D"]
            states = post["pop"].model.states
            for var, buf in J["buf"].items():
                i = states.index(var)
                post["y"][i] = post["y"][i] + buf[:, slot, :]
                buf[:, slot, :] = 0.0

    def _post(self, J, s: int) -> None:  # noqa: N803
        """The on_post pathway of a projection: the synapses of this step's postsynaptic
        spikes (CSC order)."""
        if "on_post" not in J["blocks"]:
            return
        for b_e, j_e in self._events(J["post"]):
            lst = self._expand(J["cptr"], b_e, j_e)
            if lst is not None:
                b_k, pos, owner = lst
                k = J["csyn"][pos]
                self._block(J, "on_post", s, b_k, k, J["pre_idx"][k], owner)

    def _hold(self, s: int) -> None:
        """Brian2's conditional write: a state declared '(unless refractory)' keeps its held
        value while the neuron is refractory, whatever the synapses and inputs wrote to it."""
        for P in self.pops:
            if P["kind"] == "neuron" and P["hold"]:
                P["y"][0] = self.torch.where(P["ref"] > s, P["hv"], P["y"][0])

    def _queued(self, J, s: int):  # noqa: N803
        """The queue of a delayed projection: this step's spikes in, those due now out (B, n)."""
        torch, D = self.torch, J["D"]  # noqa: N806
        q = J["queue"]
        if J["delay"] == "row":
            q[(s + J["dr"]) % D, torch.arange(self.b, device=self.dev)] = J["pre"]["mask"]
        else:
            q[(s + J["delay"]) % D] = J["pre"]["mask"]
        due = q[s % D].clone()
        q[s % D] = False
        return due

    def _expand(self, ptr, b_e, i_e):
        """The synapses of spiking neurons (rows ``b_e``, neurons ``i_e``) by a CSR/CSC index
        pointer: (row, position, neuron) per synapse, in the numba loop's order."""
        torch = self.torch
        start = ptr[i_e]
        deg = ptr[i_e + 1] - start
        n = int(deg.sum())
        if n == 0:
            return None
        b_k = torch.repeat_interleave(b_e, deg, output_size=n)
        first = torch.repeat_interleave(start - (torch.cumsum(deg, 0) - deg), deg, output_size=n)
        pos = first + torch.arange(n, device=self.dev)
        return b_k, pos, torch.repeat_interleave(i_e, deg, output_size=n)

    def _block(self, J, where: str, s: int, b_k, k, ii, jj) -> None:  # noqa: N803
        """Run a statement block on the listed synapses (rows b_k, synapses k, presynaptic ii,
        postsynaptic jj) and apply its effects."""
        torch = self.torch
        blk, nsyn = J["blocks"][where], J["nsyn"]
        pre, post = J["pre"], J["post"]
        fk = b_k * nsyn + k
        vals = {}
        need = set(blk.syn_in) | {v.name for v in (*J["evd"], *J["mod"])}
        need |= {v.mod[0] for v in J["mod"]}
        for n in need:
            vals[n] = J["syn"][n].view(-1)[fk]
        if J["last"] is not None:
            lastf = J["last"].view(-1)
            self._bring(J, s, lastf[fk], vals, lambda x: x[b_k])
            lastf[fk] = s
        args = [vals[v] for v in blk.syn_in]
        args += [self.rv[n][b_k] for n in blk.rp]
        states = post["pop"].model.states
        args += [post["y"][states.index(n)].view(-1)[b_k * post["n"] + jj] for n in blk.post_in]
        if blk.pre_in:
            pst = pre["pop"].model.states
            args += [pre["y"][pst.index(n)].view(-1)[b_k * pre["n"] + ii] for n in blk.pre_in]
        if blk.draws:
            # counter of a draw: SYN | (((s S + koff + k) 2 + side) M + slot), mod 2**64 (the
            # int64 products wrap as the numba kernel's uint64 ones do)
            c0 = ((s * self.gen.n_syn + J["koff"] + k) * 2 + blk.side) * self.gen.slots
            key = self.key[b_k]

            def unit(o):
                return self._unit(torch_mix64(key + ((c0 + o) | SYN) * _signed(GAMMA)))

            for d, o in blk.draws:
                if d.startswith("randn"):  # Box-Muller on the draw's two slots
                    u1, u2 = unit(o), unit(o + 1)
                    args.append(torch.sqrt(-2.0 * torch.log(1.0 - u1))
                                * torch.cos(2.0 * math.pi * u2))
                else:
                    args.append(unit(o))
        syn_new, effs = J["fn"][where](*args)
        n_act = len(k)
        for v, x in zip(blk.syn_out, syn_new, strict=True):
            vals[v] = self._full(x, (n_act,))
        for n in set(vals) & ({v.name for v in (*J["evd"], *J["mod"])} | set(blk.syn_out)):
            J["syn"][n].view(-1)[fk] = vals[n]
        # effects on neurons, per target in the numba kernel's order of additions: interleaved
        # in statement order (its loop adds synapse by synapse), or statement by statement
        # where it adds row constants with one add_spikes call per statement
        by_stmt = where == "on_pre" and J["const_adds"]
        groups: dict[tuple[str, str, bool], list] = {}
        for key_, e in zip(blk.effects, effs, strict=True):
            groups.setdefault(key_, []).append(self._full(e, (n_act,)))
        for (side, var, d), es in groups.items():
            if len(es) == 1:
                vals_e = es[0]
            else:
                vals_e = torch.cat(es) if by_stmt else torch.stack(es, 1).reshape(-1)
            if d:
                self._to_buffer(J, var, s, b_k, k, jj, vals_e, len(es))
                continue
            P, nrn = (post, jj) if side == "post" else (pre, ii)  # noqa: N806
            idx = b_k * P["n"] + nrn
            if len(es) > 1:
                idx = idx.repeat(len(es)) if by_stmt else idx.repeat_interleave(len(es))
            i = P["pop"].model.states.index(var)
            P["y"][i] = self._add_at(P["y"][i].reshape(-1), idx, vals_e).view(self.b, P["n"])

    def _to_buffer(self, J, var, s, b_k, k, jj, vals_e, reps) -> None:  # noqa: N803
        """Effects of synapses with their own delays into the ring buffer slot (s + delay) % D."""
        D, n_post = J["D"], J["post"]["n"]  # noqa: N806
        slot = (s + J["dly"].view(-1)[b_k * J["nsyn"] + k]) % D
        idx = (b_k * D + slot) * n_post + jj
        if reps > 1:
            idx = idx.repeat_interleave(reps)
        self._add_at(J["buf"][var].view(-1), idx, vals_e, inplace=True)

    def _matrix_pre(self, J, s: int) -> None:  # noqa: N803
        """on_pre as spike counts times the count matrix (exact: integers in float64)."""
        torch = self.torch
        pre, post = J["pre"], J["post"]
        if pre["kind"] != "spikes":
            x = (self._queued(J, s) if "queue" in J else pre["mask"]).to(torch.float64)
        else:
            due = self._due(J, s)
            if not due:
                return
            x = torch.zeros((self.b, pre["n"]), dtype=torch.float64, device=self.dev)
            for b_e, i_e in due:
                x.view(-1).index_add_(0, b_e * pre["n"] + i_e,
                                      torch.ones(len(b_e), dtype=torch.float64, device=self.dev))
        wt, vals = J["matrix"]
        cnt = (wt @ x.T).T if wt.layout != torch.strided else x @ wt.T
        states = post["pop"].model.states
        for var, v in vals:
            i = states.index(var)
            post["y"][i] = post["y"][i] + cnt * v

    # ------------------------------------------------------------------------- inputs, resets
    def _inputs(self, s: int, soff: int) -> None:
        torch = self.torch
        for P, kb, lane, items in self.inputs:
            us = []
            for h2 in range(len(kb)):
                x = torch_mix64(kb[h2] + soff)  # (B, 1): the step's seeds of the pair
                us += [torch_mix32(((x & 0xFFFFFFFF) + lane) & 0xFFFFFFFF),
                       torch_mix32((_srl(x, 32) + lane) & 0xFFFFFFFF)]
            counts, kicks = [], []
            for h, (vi, tab, val, (a, z)) in enumerate(items):
                # outside its window an input kicks by 0 (its words are drawn all the same)
                w = torch.where((a <= s) & (s < z), val, 0.0)
                n = torch.searchsorted(tab, us[h].contiguous(), right=True)
                counts.append(n)
                kicks.append(w)
                P["y"][vi] = P["y"][vi] + n.clamp(max=K_FAST).to(torch.float64) * w
            for n, w, (vi, *_) in zip(counts, kicks, items, strict=True):  # rare larger counts
                y = P["y"][vi]
                P["y"][vi] = torch.where(n > K_FAST, y + (n - K_FAST).to(torch.float64) * w, y)

    def _resets(self, s: int) -> None:
        torch, st = self.torch, self.st
        counted = s >= st.rec_start
        for P in self.pops:
            mask = P["mask"]
            if P["kind"] == "neuron" and P["pop"].model.has_reset:
                new = P["fns"].reset(*P["y"], *P["p"])
                shape = (self.b, P["n"])
                P["y"] = [torch.where(mask, self._full(x, shape), y)
                          for x, y in zip(new, P["y"], strict=True)]
                P["ref"] = torch.where(mask, s + P["nref"], P["ref"])
                if P["hold"]:
                    P["hv"] = torch.where(mask, P["y"][0], P["hv"])
            if P["kind"] == "spikes":
                if P["list"] is None:
                    continue
                one = torch.bincount(P["list"], minlength=P["n"])
                inc = one[None, :].expand(self.b, P["n"])
            else:
                inc = mask.to(torch.int64)
            off, n = P["off"], P["n"]
            if counted:
                self.cnt[:, off : off + n] += inc
            if self.rec.spikes:
                for b_e, i_e in self._events(P):
                    self.spk.append((b_e, s, i_e + off))
            self._outputs_step(P, s, inc)
        for P, r, loc in self.vsel:
            self.vtrace[:, r, s] = P["y"][0][:, loc].to(torch.float32)

    def _outputs_step(self, P, s: int, inc) -> None:  # noqa: N803
        torch, st, dt = self.torch, self.st, self.dt
        name = P["pop"].name
        for d in self.outs:
            o = d["o"]
            if o.of != name:
                continue
            if d["kind"] == "wrate":
                if d["a"] <= s < d["z"]:
                    d["cnt"] += inc.sum(1)
            elif s < st.rec_start:
                continue
            elif d["kind"] == "cv":
                m = inc > 0
                has = m & (d["last"] >= 0)
                dd = (s - d["last"]).to(torch.float64) * dt
                isi = d["isi"]
                isi[0] = torch.where(has, isi[0] + dd, isi[0])
                isi[1] = torch.where(has, isi[1] + dd * dd, isi[1])
                isi[2] = torch.where(has, isi[2] + 1.0, isi[2])
                d["last"] = torch.where(m, s, d["last"])
            elif (s - st.rec_start) // d["bw"] >= d["nb"]:
                continue  # fano, sync: the partial last bin is left out
            elif d["kind"] == "fano":
                d["bins"][:, :, (s - st.rec_start) // d["bw"]] += inc
            elif d["kind"] == "sync":
                d["bins"][:, (s - st.rec_start) // d["bw"]] += inc.sum(1)

    # ------------------------------------------------------------------------- the end
    def _finish(self) -> ChunkResult:
        torch, b, dt = self.torch, self.b, self.dt
        # modulated weights are brought to the end of the run (they change between events)
        for J in self.projs:
            if J["mod"]:
                self._bring_all(J, self.n_steps, torch.ones(b, dtype=torch.bool,
                                                            device=self.dev))
        ok_t = torch.ones(b, dtype=torch.bool, device=self.dev)
        for P in self.pops:
            if P["kind"] == "neuron":
                for y in P["y"]:
                    ok_t &= torch.isfinite(y).all(1)
        ok = ok_t.cpu().numpy()
        vals = {"cnt": self.cnt.cpu().numpy()}
        for d in self.outs:
            oi = d["oi"]
            if d["kind"] == "wrate":
                vals[f"O{oi}_cnt"] = d["cnt"].cpu().numpy()
                vals[f"O{oi}_a"], vals[f"O{oi}_z"] = d["a"], d["z"]
            elif d["kind"] == "cv":
                vals[f"O{oi}_isi"] = np.moveaxis(d["isi"].cpu().numpy(), 0, -1)
            elif d["kind"] in ("fano", "sync"):
                vals[f"O{oi}_bins"] = d["bins"].cpu().numpy()
                vals[f"O{oi}_bw"] = d["bw"]
        for o in self.net.outputs:
            if o.kind == "weights":
                proj, _, var = o.of.partition(".")
                J = next(J for J in self.projs if J["j"].name == proj)  # noqa: N806
                vals[f"W_{proj}_{var}"] = J["syn"][var].cpu().numpy()
        outputs = self.batch._outputs(vals, self.gen, self.st, self.params)
        outputs[~ok] = np.nan
        spikes = None
        if self.rec.spikes:
            if self.spk:
                r_all = torch.cat([e[0] for e in self.spk]).cpu().numpy()
                s_all = np.concatenate([np.full(len(e[0]), e[1]) for e in self.spk])
                i_all = torch.cat([e[2] for e in self.spk]).cpu().numpy()
            else:
                r_all = s_all = i_all = np.zeros(0, dtype=np.int64)
            order = np.argsort(r_all, kind="stable")  # each row's spikes stay in step order
            bounds = np.searchsorted(r_all[order], np.arange(b + 1))
            s_o, i_o = s_all[order], i_all[order]
            spikes = [(s_o[bounds[r]:bounds[r + 1]] * dt,
                       i_o[bounds[r]:bounds[r + 1]].astype(np.int32)) for r in range(b)]
        errors = [None if o else "non-finite state (NaN/inf) during the run" for o in ok]
        vtrace = self.vtrace.cpu().numpy() if self.vidx.size else None
        return ChunkResult(outputs, ok, errors, spikes, vtrace)


__all__ = ["PROPAGATION", "TORCH_CPU", "TORCH_NETWORK_SCHEMES", "run_chunk_torch",
           "torch_scheme"]
