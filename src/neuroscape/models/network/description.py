"""Networks as data: populations, projections, inputs and outputs, read from a YAML file (or the
same mapping in Python) and checked once, so that the network engine can compile them.

The statements of synapses (``on_pre``, ``on_post``) and the synaptic equations are Brian2's
(Stimberg, Brette and Goodman 2019, eLife 8:e47314): ``g_e_post += w_e*r_S``, ``dx_S/dt =
Omega_d*(1 - x_S) : 1 (event-driven)``. Every expression is parsed into sympy in SI with its
dimension checked (``neuroscape.models.equations.expressions``); a value assigned to a variable is
converted to that variable's declared unit.

Symbols of the compiled form (what the engine prints):
``rp_<name>``: a row parameter, in SI; ``post_<var>``/``pre_<var>``: a neuron's state in its
declared unit; ``syn_<var>``: a synaptic variable in its declared unit; ``tmp_<var>``: a
temporary of a statement block, in SI; ``rand_<k>``: a uniform draw in [0, 1).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy

from neuroscape.core.connectivity import (
    ConnectivityError,
    Graph,
    bernoulli_edges,
    graph_rng,
    load_connectivity,
)
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, OutputDomain
from neuroscape.models.contract import Model, ModelError, ModelSource
from neuroscape.models.equations.expressions import (
    ExpressionError,
    parse,
    parse_quantity,
    parse_unit,
    to_sympy,
    unit_lookup,
)
from neuroscape.models.equations.model import (
    _guarded_build,
    _Where,
    _yaml_with_lines,
    declared_parameters,
)
from neuroscape.models.equations.units import ONE, Dim
from neuroscape.models.neuron import NeuronModel

KEYS = ("name", "version", "description", "parameters", "constants", "derived", "populations",
        "modulators", "projections", "inputs", "outputs", "settings",
        "output_domain")  # fmt: skip
POP_KEYS = ("size", "model", "params", "initial", "current", "kind", "rate", "spikes",
            "integrator")  # fmt: skip
PROJ_KEYS = ("pre", "post", "connect", "model", "initial", "on_pre", "on_post", "delay")
INPUT_KEYS = ("target", "rate", "n", "on_spike", "start", "stop")
MS = sympy.Rational(1, 1000)


class NetworkError(ModelError):
    """A network description that cannot be compiled (one line: file, element, what is
    allowed)."""


@dataclass(frozen=True)
class Stmt:
    """One statement of a synaptic block: ``target op expr``; ``where`` is post, pre, syn or
    tmp; ``expr`` is in the target's declared unit (SI for a temporary)."""

    target: str
    where: str
    op: str
    expr: sympy.Expr


@dataclass(frozen=True)
class SynVar:
    """A per-synapse variable: its unit, its initial value (an expression, may draw rand()),
    and for an event-driven one dX/dt = a + b X with a (unit/ms) and b (1/ms) row scalars."""

    name: str
    unit: str
    initial: sympy.Expr
    a: sympy.Expr | None = None
    b: sympy.Expr | None = None
    # a reward-modulated variable: dX/dt = T (k0 + k1 M), T an event-driven trace that decays
    # (an eligibility trace), M a modulator (dopamine): (trace, modulator, k0, k1)
    mod: tuple | None = None


@dataclass(frozen=True)
class Modulator:
    """A per-row signal (dopamine) that decays with ``tau`` (ms) and jumps by ``value`` at each
    spike of ``source`` (Izhikevich 2007's reward signal)."""

    name: str
    tau: sympy.Expr
    source: str
    value: sympy.Expr


@dataclass(frozen=True)
class Population:
    name: str
    size: int
    kind: str  # neuron | poisson | spikes
    model: NeuronModel | None = None
    params: tuple = ()  # per model parameter: its value (model's unit) from row symbols
    current: sympy.Expr = sympy.Integer(0)  # the model's current input (its unit)
    initial: tuple = ()  # per state: value in the state's unit (may draw rand())
    rate: sympy.Expr | None = None  # Hz, poisson sources
    spike_times: np.ndarray | None = None  # ms, spike generators
    spike_indices: np.ndarray | None = None
    integrator: str | None = None


@dataclass(frozen=True)
class Projection:
    name: str
    pre: str
    post: str
    rule: dict
    synvars: tuple[SynVar, ...] = ()
    on_pre: tuple[Stmt, ...] = ()
    on_post: tuple[Stmt, ...] = ()
    delay: sympy.Expr = sympy.Integer(0)  # ms; may draw rand() (per synapse and row)


@dataclass(frozen=True)
class PoissonInput:
    """``n`` independent Poisson sources at ``rate`` (Hz) onto every neuron of ``target``,
    each spike adding ``value`` (the variable's unit) to ``var``."""

    name: str
    target: str
    rate: sympy.Expr
    n: int
    var: str
    value: sympy.Expr
    start: sympy.Expr | None = None  # ms: active in [start, stop) (parameters allowed)
    stop: sympy.Expr | None = None


@dataclass(frozen=True)
class OutputDef:
    name: str
    kind: str  # rate | cv | fano | sync | weights
    of: str  # population, or projection.variable
    unit: str
    stat: str = ""
    value: sympy.Expr | None = None  # threshold of a fraction (the variable's unit)
    start_ms: float | None = None
    stop_ms: float | None = None
    bin_ms: float = 0.0
    description: str = ""


PRECISIONS = ("float64", "float32")
OUTPUT_KINDS = ("rate", "cv", "fano", "sync", "weights")
STATS = ("mean", "std", "fraction_above", "fraction_below")


@dataclass(frozen=True, repr=False)
class NetworkModel(Model):
    """A network compiled from its description; its batch is the network on one graph
    (``conn_seed``, or a ``connectivity`` graph or file), run by ``neuroscape.sim``'s network
    engine."""

    kind = "network"
    run_options = ("conn_seed", "connectivity")

    spec: ModelSpec
    populations: tuple[Population, ...]
    projections: tuple[Projection, ...]
    inputs: tuple[PoissonInput, ...]
    outputs: tuple[OutputDef, ...]
    row_names: tuple[str, ...]  # row symbols: the parameters (SI), in spec order
    derived: dict = field(default_factory=dict)  # name -> SI expression of row symbols
    origin: str = ""
    modulators: tuple[Modulator, ...] = ()
    # the state's floating-point type in the network engine: float64, or float32 (twice the
    # SIMD lanes; for networks whose statistics, not single trajectories, are the result)
    precision: str = "float64"

    @property
    def name(self) -> str:
        return self.spec.name

    def population(self, name: str) -> Population:
        return next(p for p in self.populations if p.name == name)

    @property
    def sizes(self) -> dict[str, int]:
        return {p.name: p.size for p in self.populations}

    @property
    def ends(self) -> dict[str, tuple[str, str]]:
        return {j.name: (j.pre, j.post) for j in self.projections}

    @property
    def autapses(self) -> dict[str, bool]:
        return {j.name: bool(j.rule.get("autapses", False)) for j in self.projections}

    @functools.cached_property
    def _row_factors(self) -> tuple[float, ...]:
        return tuple(float(parse_unit(par.unit).factor) for par in self.spec.parameters)

    def row_values(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Row symbol -> (B,) SI values for parameter rows ``params`` (B, n_params)."""
        p = np.atleast_2d(np.asarray(params, dtype=float))
        return {f"rp_{par.name}": p[:, j] * f
                for j, (par, f) in enumerate(zip(self.spec.parameters, self._row_factors,
                                                 strict=True))}

    def evaluate(self, expr, params: np.ndarray) -> np.ndarray:
        """(B,) values of a row-scalar expression."""
        rows = self.row_values(params)
        b = len(np.atleast_2d(params))
        syms, f = _lambdified(expr)
        bad = [s for s in syms if s.name not in rows]
        if bad:
            raise NetworkError(f"{self.origin}: {expr} is not constant per row ({bad[0]})")
        v = f(*[rows[s.name] for s in syms])
        return np.broadcast_to(np.asarray(v, dtype=float), (b,)).copy()

    def graph(self, conn_seed: int = 0) -> Graph:
        """The graph of ``conn_seed``: the projections' rules in declaration order, drawn from
        one generator (so one projection's rule never changes another's graph before it)."""
        rng = graph_rng(conn_seed)
        sizes = self.sizes
        edges = {}
        for j in self.projections:
            edges[j.name] = _draw(j, rng, sizes[j.pre], sizes[j.post], self.origin)
        return Graph(sizes, edges, self.ends, self.autapses)

    def load_graph(self, path: str | Path) -> Graph:
        """A graph file checked against this network's populations and projections."""
        return load_connectivity(path, self.ends, self.sizes, self.autapses)

    def check_graph(self, g: Graph) -> Graph:
        if dict(g.sizes) != self.sizes or set(g.edges) != set(self.ends):
            raise ConnectivityError(
                f"graph has populations {dict(g.sizes)} and projections {sorted(g.edges)}; "
                f"{self.name} needs {self.sizes} and {sorted(self.ends)}"
            )
        from neuroscape.core.connectivity import _canonical

        return Graph(self.sizes, {k: _canonical(g.edges[k]) for k in self.ends}, self.ends,
                     self.autapses)

    def batch(self, conn_seed: int = 0, connectivity=None):  # pragma: no cover - see sim
        raise ModelError("network models run through neuroscape.sim.engine.batch_for")


@functools.lru_cache(maxsize=4096)
def _lambdified(expr) -> tuple:
    """(symbols, numpy function) of an expression, compiled once per expression."""
    syms = tuple(sorted(getattr(expr, "free_symbols", ()), key=str))
    return syms, sympy.lambdify(syms, expr, "numpy")


def _draw(j: Projection, rng, n_pre: int, n_post: int, origin: str) -> np.ndarray:
    r = j.rule
    kind = r["kind"]
    aut = bool(r.get("autapses", False)) or j.pre != j.post
    if kind == "p":
        return bernoulli_edges(rng, n_pre, n_post, r["p"], not (j.pre == j.post) or aut)
    if kind == "all_to_all":
        pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
        keep = np.ones_like(pre, dtype=bool) if aut else pre != post
        return np.vstack([pre[keep], post[keep]]).astype(np.int64)
    if kind == "one_to_one":  # within a population: each neuron onto itself (Brian2's j='i')
        if n_pre != n_post:
            raise NetworkError(f"{origin}: projection {j.name}: one_to_one needs equal sizes "
                               f"(pre {n_pre}, post {n_post})")
        i = np.arange(n_pre, dtype=np.int64)
        return np.vstack([i, i])
    if kind == "in_degree":
        k = r["k"]
        avail = n_pre - (0 if aut else 1)
        if k > avail:
            raise NetworkError(f"{origin}: projection {j.name}: in_degree {k} > {avail} "
                               "possible presynaptic neurons")
        pre_l, post_l = [], []
        for post in range(n_post):
            if aut:
                pre = rng.choice(n_pre, size=k, replace=False)
            else:
                pre = rng.choice(n_pre - 1, size=k, replace=False)
                pre = pre + (pre >= post)
            pre_l.append(pre)
            post_l.append(np.full(k, post))
        e = np.vstack([np.concatenate(pre_l), np.concatenate(post_l)]).astype(np.int64)
        return e[:, np.lexsort((e[1], e[0]))]
    if kind == "file":
        from neuroscape.core.connectivity import _canonical, read_graph, validate_graph

        f = r["file"]
        try:
            sizes, arrays = read_graph(f)
            if j.name not in arrays:
                raise ConnectivityError(f"no array {j.name!r}")
            for pop, n in ((j.pre, n_pre), (j.post, n_post)):
                if sizes.get(pop, n) != n:
                    raise ConnectivityError(
                        f"N_{pop} = {sizes[pop]}, but population {pop} has {n} neurons")
            validate_graph({j.pre: n_pre, j.post: n_post}, {j.name: arrays[j.name]},
                           {j.name: (j.pre, j.post)}, {j.name: aut})
        except ConnectivityError as exc:
            raise NetworkError(f"{origin}: projection {j.name}: {f}: {exc}") from None
        return _canonical(arrays[j.name])
    raise AssertionError(kind)


# ---------------------------------------------------------------------------------------------
# loading


def load_network_file(path: str | Path) -> NetworkModel:
    """The network of a YAML description file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise NetworkError(f"{path}: no such network file")
    data, where = _yaml_with_lines(p)
    source = ModelSource.of(p)
    model = build_network(data, where=where, folder=p.parent)
    object.__setattr__(model, "_ref", source.file)
    object.__setattr__(model, "_source", source)
    return model


def network_model(description: Mapping, folder: str | Path = ".") -> NetworkModel:
    """The network of a description given as a Python mapping (the keys of a network file)."""
    name = description.get("name", "network") if isinstance(description, Mapping) else "?"
    return build_network(dict(description), where=_Where(f"network_model({name!r})"),
                         folder=Path(folder))


class _Ctx:
    """What an expression of the file may name, and where errors point."""

    def __init__(self, where: _Where, origin: str) -> None:
        self.where = where
        self.origin = origin
        self.row: dict[str, tuple] = {}  # name -> (SI expr, dims)
        self.mods: dict[str, tuple] = {}  # modulators: name -> (symbol, dims)
        self.n_rand = 0

    def err(self, msg: str, *path) -> NetworkError:
        loc = self.where(*path)
        element = ".".join(str(x) for x in path)
        text = f"{loc}{element}: {msg}" if element and self.where.lines else f"{loc}{msg}"
        return NetworkError(" ".join(text.split()))

    def expr(self, text, extra: Mapping[str, tuple] | None, *path, rand: bool = False):
        """(SI sympy expression, dims) of an expression text (or number/quantity)."""
        if isinstance(text, bool) or text is None:
            raise self.err(f"{text!r} is not an expression", *path)
        if isinstance(text, int | float):
            text = repr(float(text))
        if not isinstance(text, str):
            raise self.err(f"{text!r} is not an expression", *path)
        text = text.split("#")[0]
        if re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s+[A-Za-z_(1/].*", text):
            try:  # a quantity such as '2 ms' or '0.05 nS'
                v, dim, _ = parse_quantity(text)
                return sympy.Rational(repr(v)) * dim.factor, dim.dims
            except ExpressionError:
                pass
        if rand:
            text = self._rand(text)
        elif re.search(r"\brandn?\s*\(", text):
            raise self.err(f"{text.strip()!r}: rand() is not allowed here", *path)
        extra = extra or {}

        def look(name):
            if name in extra:
                return extra[name]
            if name in self.row:
                return self.row[name]
            return unit_lookup(name)

        try:
            return to_sympy(parse(text), look)
        except ExpressionError as exc:
            raise self.err(str(exc), *path) from None

    def _rand(self, text: str) -> str:
        def sub(m):
            k = self.n_rand
            self.n_rand += 1
            return f" rand_{k} " if m.group(1) == "rand" else f" randn_{k} "

        return re.sub(r"\b(randn?)\s*\(\s*\)", sub, text)

    def rand_symbols(self, extra: dict) -> dict:
        out = dict(extra)
        for k in range(self.n_rand + 64):
            out[f"rand_{k}"] = (sympy.Symbol(f"rand_{k}"), ONE.dims)
            out[f"randn_{k}"] = (sympy.Symbol(f"randn_{k}"), ONE.dims)
        return out


def _quantity_ms(ctx: _Ctx, value, *path) -> float:
    try:
        v, dim, _ = parse_quantity(value)
    except ExpressionError as exc:
        raise ctx.err(str(exc), *path) from None
    if not dim.same(parse_unit("ms")):
        raise ctx.err(f"{value!r} must be a time (e.g. '100 ms')", *path)
    return float(v * dim.factor / MS)


def _mapping(ctx: _Ctx, v, what: str, *path) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ctx.err(f"{what} must be a mapping", *path)
    return v


def _keys(ctx: _Ctx, d: dict, allowed, *path) -> None:
    bad = [k for k in d if k not in allowed]
    if bad:
        raise ctx.err(f"unknown key {bad[0]!r}; allowed: {', '.join(allowed)}", *path, bad[0])


def build_network(data: dict, where: _Where, folder: Path) -> NetworkModel:
    origin = where.origin
    ctx = _Ctx(where, origin)
    if not isinstance(data, dict):
        raise NetworkError(f"{origin}: a network description must be a mapping of keys")
    _keys(ctx, data, KEYS)
    for k in ("name", "populations"):
        if not data.get(k):
            raise ctx.err(f"missing key {k!r}")
    name = data["name"]
    if not (isinstance(name, str) and name.isidentifier()):
        raise ctx.err(f"name {name!r}; allowed: a Python identifier", "name")

    # --- parameters (row symbols, SI) and constants ------------------------------------------
    try:
        psyms, declared = declared_parameters(data.get("parameters") or {}, where)
    except ModelError as exc:
        raise NetworkError(str(exc)) from None
    for pname, s in psyms.items():
        ctx.row[pname] = (sympy.Symbol(f"rp_{pname}"), s.dim.dims)
    for cname, cval in _mapping(ctx, data.get("constants"), "constants", "constants").items():
        if cname in ctx.row:
            raise ctx.err(f"{cname!r} is both a parameter and a constant", "constants", cname)
        ctx.row[cname] = ctx.expr(cval, None, "constants", cname)
    derived = {}
    for dname, dtext in _mapping(ctx, data.get("derived"), "derived", "derived").items():
        if dname in ctx.row:
            raise ctx.err(f"{dname!r} is declared twice", "derived", dname)
        ctx.row[dname] = ctx.expr(dtext, None, "derived", dname)
        derived[dname] = ctx.row[dname][0]

    # --- populations --------------------------------------------------------------------------
    pops_in = _mapping(ctx, data["populations"], "populations", "populations")
    pops = tuple(_population(ctx, pn, pd, folder) for pn, pd in pops_in.items())
    by_name = {p.name: p for p in pops}

    # --- modulators (reward signals) ----------------------------------------------------------
    mods = []
    ctx.mods = {}
    for mn, md in _mapping(ctx, data.get("modulators"), "modulators", "modulators").items():
        mods.append(_modulator(ctx, mn, md, by_name))
        ctx.mods[mn] = (sympy.Symbol(f"mod_{mn}"), ONE.dims)

    # --- projections --------------------------------------------------------------------------
    projs = []
    for jn, jd in _mapping(ctx, data.get("projections"), "projections", "projections").items():
        projs.append(_projection(ctx, jn, jd, by_name, folder))

    # --- inputs --------------------------------------------------------------------------------
    inputs = []
    for iname, idef in _mapping(ctx, data.get("inputs"), "inputs", "inputs").items():
        inputs.append(_input(ctx, iname, idef, by_name))

    # --- settings ------------------------------------------------------------------------------
    st = _mapping(ctx, data.get("settings"), "settings", "settings")
    _keys(ctx, st, ("duration", "dt", "window", "integrator", "precision", "note"), "settings")
    precision = str(st.get("precision", "float64"))
    if precision not in PRECISIONS:
        raise ctx.err(f"precision {precision!r}; allowed: {', '.join(PRECISIONS)}", "settings",
                      "precision")
    duration = _quantity_ms(ctx, st.get("duration", "1000 ms"), "settings", "duration")
    dt = _quantity_ms(ctx, st.get("dt", "0.1 ms"), "settings", "dt")
    window = (_quantity_ms(ctx, st["window"], "settings", "window") if "window" in st
              else None)
    try:
        settings = DefaultSettings(duration, dt, window, str(st.get("integrator", "auto")),
                                   str(st.get("note", "each population's declared scheme; "
                                                      "spikes on the step grid (Brian2)")))
    except ValueError as exc:
        raise ctx.err(str(exc), "settings") from None

    # --- outputs -------------------------------------------------------------------------------
    outs_in = data.get("outputs")
    if outs_in is None:
        outs_in = {f"r_{p.name}": {"rate": p.name} for p in pops if p.kind == "neuron"}
    outs = tuple(_output(ctx, on, od, by_name, projs)
                 for on, od in _mapping(ctx, outs_in, "outputs", "outputs").items())
    if not outs:
        raise ctx.err("the network declares no outputs", "outputs")
    dom = data.get("output_domain")
    try:
        spec = ModelSpec(
            name=name,
            version=str(data.get("version", "1")),
            description=str(data.get("description", "")),
            parameters=tuple(declared),
            outputs=tuple(Output(o.name, o.unit, _describe_output(o)) for o in outs),
            constants={},
            settings=settings,
            output_domain=OutputDomain.from_dict(dom) if dom else None,
        )
    except (ValueError, TypeError) as exc:
        raise NetworkError(f"{origin}: {exc}") from None
    return NetworkModel(spec, pops, tuple(projs), tuple(inputs), outs,
                        tuple(psyms), derived, origin, tuple(mods), precision)


def _modulator(ctx: _Ctx, mn, md, pops) -> Modulator:
    at = ("modulators", mn)
    if not (isinstance(mn, str) and mn.isidentifier()) or mn in ctx.row:
        raise ctx.err(f"modulator name {mn!r}; allowed: a new Python identifier", *at)
    md = _mapping(ctx, md, f"modulator {mn}", *at)
    _keys(ctx, md, ("tau", "source", "on_spike"), *at)
    tau, d = ctx.expr(md.get("tau"), None, *at, "tau")
    if d != parse_unit("ms").dims:
        raise ctx.err("tau must be a time (e.g. '200 ms')", *at, "tau")
    if md.get("source") not in pops:
        raise ctx.err(f"unknown population {md.get('source')!r}; allowed: {', '.join(pops)}",
                      *at, "source")
    m = re.fullmatch(rf"\s*{mn}\s*\+=\s*(.+)", str(md.get("on_spike", "")))
    if not m:
        raise ctx.err(f"on_spike must be '{mn} += value'", *at, "on_spike")
    val, d = ctx.expr(m.group(1), None, *at, "on_spike")
    if d:
        raise ctx.err("a modulator is dimensionless; its jump must be too", *at, "on_spike")
    return Modulator(mn, tau / MS, md["source"], val)


def _describe_output(o: OutputDef) -> str:
    if o.description:
        return o.description
    window = ""
    if o.start_ms is not None or o.stop_ms is not None:
        a = "the start" if o.start_ms is None else f"{o.start_ms:g} ms"
        z = "the end" if o.stop_ms is None else f"{o.stop_ms:g} ms"
        window = f" from {a} to {z}"
    return {
        "rate": f"mean firing rate of {o.of}{window}",
        "cv": f"mean CV of the interspike intervals of {o.of} (neurons with 2 or more "
              "intervals in the window; NaN if none)",
        "fano": f"mean Fano factor of spike counts of {o.of} in {o.bin_ms:g} ms bins (neurons "
                "that spike; NaN if none)",
        "sync": f"synchrony of {o.of}: variance over mean of its spike count in "
                f"{o.bin_ms:g} ms bins",
        "weights": f"{o.stat} of {o.of} at the end of the run",
    }[o.kind]


def _resolve_model(ctx: _Ctx, m, folder: Path, *path) -> NeuronModel:
    if isinstance(m, dict):
        try:
            return _guarded_build(m, _Where(ctx.origin), origin=ctx.origin)
        except ModelError as exc:
            inner = str(exc).removeprefix(f"{ctx.origin}: ").removeprefix(f"{ctx.origin}:")
            raise ctx.err(inner.strip(), *path) from None
    if isinstance(m, NeuronModel):
        return m
    if not isinstance(m, str):
        raise ctx.err(f"model {m!r}; allowed: a neuron model's name, an equation file or an "
                      "inline mapping of one", *path)
    from neuroscape.models.registry import resolve

    ref = m
    if m.endswith((".yaml", ".yml")) and not Path(m).is_absolute():
        ref = str((folder / m).resolve())
    try:
        model = resolve(ref)
    except ModelError as exc:
        raise ctx.err(str(exc), *path) from None
    if not isinstance(model, NeuronModel):
        raise ctx.err(f"model {m!r} is a {model.kind} model; allowed: a neuron model", *path)
    return model


def _population(ctx: _Ctx, pn, pd, folder: Path) -> Population:
    at = ("populations", pn)
    if not (isinstance(pn, str) and pn.isidentifier()):
        raise ctx.err(f"population name {pn!r}; allowed: a Python identifier", *at)
    pd = _mapping(ctx, pd, f"population {pn}", *at)
    _keys(ctx, pd, POP_KEYS, *at)
    kind = pd.get("kind", "neuron")
    if kind not in ("neuron", "poisson", "spikes"):
        raise ctx.err(f"kind {kind!r}; allowed: neuron, poisson, spikes", *at, "kind")
    size = pd.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ctx.err(f"size {size!r}; allowed: a positive integer", *at, "size")
    if kind == "poisson":
        rate, dims = ctx.expr(pd.get("rate"), None, *at, "rate")
        if dims != parse_unit("Hz").dims:
            raise ctx.err("rate must be in Hz", *at, "rate")
        return Population(pn, size, kind, rate=rate)
    if kind == "spikes":
        times, idx = _spike_list(ctx, pd.get("spikes"), size, *at, "spikes")
        return Population(pn, size, kind, spike_times=times, spike_indices=idx)
    if "model" not in pd:
        raise ctx.err("missing key 'model'", *at)
    model = _resolve_model(ctx, pd["model"], folder, *at, "model")
    if model.precise_reset:
        import warnings

        warnings.warn(f"{ctx.origin}: population {pn}: model {model.name} finds its spike times "
                      "inside the step; in a network spikes fall on the step grid (Brian2's "
                      "semantics)", stacklevel=2)
    if not model.has_reset:
        raise ctx.err(f"model {model.name!r} has no threshold and reset; a network population "
                      "needs a spiking model with threshold/reset", *at, "model")
    names = model.spec.parameter_names
    given = _mapping(ctx, pd.get("params"), "params", *at, "params")
    for k in given:
        if k not in names:
            raise ctx.err(f"{k!r} is not a parameter of {model.name}; allowed: "
                          f"{', '.join(names)}", *at, "params", k)
    values = []
    for par in model.spec.parameters:
        unit = parse_unit(par.unit)
        if par.name in given:
            e, d = ctx.expr(given[par.name], None, *at, "params", par.name)
            if d != unit.dims:
                raise ctx.err(f"{par.name} must be in {par.unit}", *at, "params", par.name)
            values.append(sympy.nsimplify(e / unit.factor) if e.is_Number else e / unit.factor)
        else:
            values.append(sympy.Float(par.default))
    cur = sympy.Integer(0)
    if pd.get("current") is not None:
        e, d = ctx.expr(pd["current"], None, *at, "current")
        cu = parse_unit(model.current_unit)
        if d != cu.dims:
            raise ctx.err(f"current must be in {model.current_unit}", *at, "current")
        cur = e / cu.factor
    init_in = _mapping(ctx, pd.get("initial"), "initial", *at, "initial")
    bad = [k for k in init_in if k not in model.states]
    if bad:
        raise ctx.err(f"{bad[0]!r} is not a state of {model.name}; allowed: "
                      f"{', '.join(model.states)}", *at, "initial", bad[0])
    pars = {par.name: (parse_unit(par.unit).factor * values[j], parse_unit(par.unit).dims)
            for j, par in enumerate(model.spec.parameters)}
    initial = []
    for s, unit in zip(model.states, model.state_units, strict=True):
        if s in init_in:
            e, d = ctx.expr(init_in[s], ctx.rand_symbols(pars), *at, "initial", s, rand=True)
            u = parse_unit(unit)
            if d != u.dims:
                raise ctx.err(f"initial {s} must be in {unit}", *at, "initial", s)
            initial.append(e / u.factor)
        else:
            initial.append(None)  # the model's own initial value
    integ = pd.get("integrator")
    return Population(pn, size, kind, model, tuple(values), cur, tuple(initial),
                      integrator=str(integ) if integ else None)


def _spike_list(ctx: _Ctx, spec, size: int, *at):
    """Spike generator: a list of [time, index] pairs, or of blocks {start, period, count,
    indices}."""
    if not isinstance(spec, list) or not spec:
        raise ctx.err("spikes must be a list of [time, index] or {start, period, count}", *at)
    times, idx = [], []
    for k, item in enumerate(spec):
        if isinstance(item, dict):
            _keys(ctx, item, ("start", "period", "count", "indices"), *at, k)
            t0 = _quantity_ms(ctx, item.get("start", "0 ms"), *at, k, "start")
            per = _quantity_ms(ctx, item.get("period", "0 ms"), *at, k, "period")
            n = item.get("count", 1)
            ind = item.get("indices", list(range(size)))
            if not isinstance(n, int) or n < 1:
                raise ctx.err(f"count {n!r}; allowed: a positive integer", *at, k, "count")
            for c in range(n):
                for i in ind:
                    times.append(t0 + c * per)
                    idx.append(i)
        elif isinstance(item, list) and len(item) == 2:
            times.append(_quantity_ms(ctx, item[0], *at, k))
            idx.append(item[1])
        else:
            raise ctx.err(f"{item!r}; allowed: [time, index] or {{start, period, count}}", *at, k)
    idx_a = np.asarray(idx)
    if not np.issubdtype(idx_a.dtype, np.integer) or idx_a.min() < 0 or idx_a.max() >= size:
        raise ctx.err(f"spike indices must be integers in 0..{size - 1}", *at)
    t = np.asarray(times, dtype=float)
    if t.min() < 0:
        raise ctx.err("spike times must be >= 0 ms", *at)
    order = np.argsort(t, kind="stable")
    return t[order], idx_a[order].astype(np.int64)


_EQ = re.compile(r"^\s*d\s*([A-Za-z_]\w*)\s*/\s*dt\s*=\s*(.+?)\s*:\s*([^()]+?)\s*"
                 r"(\(\s*event-driven\s*\))?\s*$")
_DECL = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*([^()]+?)\s*$")


def _projection(ctx: _Ctx, jn, jd, pops: dict, folder: Path) -> Projection:
    at = ("projections", jn)
    if not (isinstance(jn, str) and jn.isidentifier()):
        raise ctx.err(f"projection name {jn!r}; allowed: a Python identifier", *at)
    jd = _mapping(ctx, jd, f"projection {jn}", *at)
    _keys(ctx, jd, PROJ_KEYS, *at)
    for end in ("pre", "post"):
        if jd.get(end) not in pops:
            raise ctx.err(f"unknown population {jd.get(end)!r}; allowed: {', '.join(pops)}",
                          *at, end)
    pre, post = pops[jd["pre"]], pops[jd["post"]]
    if post.kind != "neuron":
        raise ctx.err(f"population {post.name} is a {post.kind} source; a projection needs a "
                      "neuron population as its target", *at, "post")
    rule = _rule(ctx, jd.get("connect"), folder, *at, "connect")

    # synaptic variables: 'w : nS' lines and event-driven equations
    syn: dict[str, tuple[Dim, str]] = {}
    eqs: dict[str, str] = {}
    for _ln, line in enumerate(str(jd.get("model") or "").splitlines()):
        line = line.split("#")[0]
        if not line.strip():
            continue
        m = _EQ.match(line)
        if m:
            if not m.group(4):
                raise ctx.err(f"{line.strip()!r}: synaptic equations must be (event-driven)",
                              *at, "model")
            var, rhs, unit = m.group(1), m.group(2), m.group(3)
            eqs[var] = rhs
        else:
            m = _DECL.match(line)
            if not m:
                raise ctx.err(f"{line.strip()!r}; allowed: 'name : unit' or "
                              "'dX/dt = expr : unit (event-driven)'", *at, "model")
            var, unit = m.group(1), m.group(2)
        try:
            syn[var] = (parse_unit(unit), unit.strip())
        except ExpressionError as exc:
            raise ctx.err(str(exc), *at, "model") from None
    post_m, pre_m = post.model, pre.model
    look: dict[str, tuple] = {}
    for prefix, m, tag in ((("", "_post"), post_m, "post"), (("_pre",), pre_m, "pre")):
        if m is None:
            continue
        for s, unit in zip(m.states, m.state_units, strict=True):
            u = parse_unit(unit)
            for suf in prefix:
                look[s + suf] = (u.factor * sympy.Symbol(f"{tag}_{s}"), u.dims)
    for v, (u, _) in syn.items():
        look[v] = (u.factor * sympy.Symbol(f"syn_{v}"), u.dims)
    eq_look = {**look, **ctx.mods}

    synvars = []
    init_in = _mapping(ctx, jd.get("initial"), "initial", *at, "initial")
    bad = [k for k in init_in if k not in syn]
    if bad:
        raise ctx.err(f"{bad[0]!r} is not a synaptic variable; declared: "
                      f"{', '.join(syn) or 'none'}", *at, "initial", bad[0])
    mod_names = ctx.mods

    def modulated_last(item):  # a modulated variable after the traces it reads
        return any(re.search(rf"\b{m}\b", eqs.get(item[0], "")) for m in mod_names)

    for v, (u, unit) in sorted(syn.items(), key=modulated_last):
        init = sympy.Integer(0)
        if v in init_in:
            e, d = ctx.expr(init_in[v], ctx.rand_symbols({}), *at, "initial", v, rand=True)
            if d != u.dims:
                raise ctx.err(f"initial {v} must be in {unit}", *at, "initial", v)
            init = e / u.factor
        a = b = mod = None
        if v in eqs:
            e, d = ctx.expr(eqs[v], eq_look, *at, "model")
            if d != (u / parse_unit("s")).dims:
                raise ctx.err(f"d{v}/dt must be in {unit}/s", *at, "model")
            x = sympy.Symbol(f"syn_{v}")
            f = sympy.expand(e / u.factor * MS)  # unit/ms, in terms of syn_v (declared unit)
            if any(s.name.startswith("mod_") for s in f.free_symbols):
                mod = _modulated(ctx, v, eqs[v], f, synvars, *at)
            else:
                b = sympy.diff(f, x)
                a = sympy.simplify(f - b * x)
                others = {s for s in (a.free_symbols | b.free_symbols)
                          if not s.name.startswith("rp_")}
                if others:
                    raise ctx.err(f"d{v}/dt = {eqs[v].strip()}: event-driven equations must be "
                                  "linear in their variable with constant coefficients, or a "
                                  "trace times a modulator "
                                  f"(found {sorted(map(str, others))[0]})", *at, "model")
        synvars.append(SynVar(v, unit, init, a, b, mod))
    on_pre = _statements(ctx, jd.get("on_pre"), look, syn, post_m, pre_m, *at, "on_pre")
    on_post = _statements(ctx, jd.get("on_post"), look, syn, post_m, pre_m, *at, "on_post")
    if not on_pre and not on_post:
        raise ctx.err("a projection needs on_pre (or on_post) statements", *at)
    delay = sympy.Integer(0)
    if jd.get("delay") is not None:
        e, d = ctx.expr(jd["delay"], ctx.rand_symbols({}), *at, "delay", rand=True)
        if d != parse_unit("ms").dims:
            raise ctx.err("delay must be a time (e.g. '1.5 ms')", *at, "delay")
        delay = sympy.nsimplify(e / MS) if e.is_Number else e / MS
        if delay.is_Number and delay < 0:
            raise ctx.err(f"negative delay {float(delay):g} ms; allowed: >= 0 ms", *at, "delay")
        if any(s.name.startswith(("syn_", "post_", "pre_")) for s in delay.free_symbols):
            raise ctx.err("delay may use parameters, constants and rand() only", *at, "delay")
    return Projection(jn, pre.name, post.name, rule, tuple(synvars), on_pre, on_post, delay)


def _modulated(ctx: _Ctx, v: str, text: str, f, synvars, *at) -> tuple:
    """dv/dt = T (k0 + k1 M): T an earlier declared trace that decays (dT/dt = b T, b < 0),
    M a modulator, k0 and k1 constant per row (Izhikevich 2007: dw/dt = c (d + base))."""
    mods = sorted({s for s in f.free_symbols if s.name.startswith("mod_")}, key=str)
    traces = [sv for sv in synvars if sv.b is not None and sympy.Symbol(f"syn_{sv.name}")
              in f.free_symbols]
    bad = ctx.err(f"d{v}/dt = {text.strip()}: a modulated equation must be a decaying trace "
                  "(an earlier event-driven variable dT/dt = -T/tau) times (k0 + k1 M) with M a "
                  "modulator and k0, k1 constant", *at, "model")
    if len(mods) != 1 or len(traces) != 1 or sympy.simplify(traces[0].a) != 0:
        raise bad
    t_sym = sympy.Symbol(f"syn_{traces[0].name}")
    g = sympy.expand(sympy.simplify(f / t_sym))
    k1 = sympy.diff(g, mods[0])
    k0 = sympy.simplify(g - k1 * mods[0])
    if any(not s.name.startswith("rp_") for s in (k0.free_symbols | k1.free_symbols)):
        raise bad
    return (traces[0].name, mods[0].name[4:], k0, k1)


def _rule(ctx: _Ctx, c, folder: Path, *at) -> dict:
    if c == "all_to_all":
        return {"kind": c}
    if c == "one_to_one":
        return {"kind": c, "autapses": True}
    if not isinstance(c, dict):
        raise ctx.err(f"connect {c!r}; allowed: all_to_all, one_to_one, {{p: ...}}, "
                      "{in_degree: ...}, {file: ...}", *at)
    aut = c.get("autapses", False)
    if not isinstance(aut, bool):
        raise ctx.err(f"autapses {aut!r}; allowed: true or false", *at, "autapses")
    if "p" in c:
        _keys(ctx, c, ("p", "autapses"), *at)
        p = c["p"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ctx.err(f"connection probability {p!r}; allowed: a number in [0, 1]", *at, "p")
        return {"kind": "p", "p": float(p), "autapses": aut}
    if "in_degree" in c:
        _keys(ctx, c, ("in_degree", "autapses"), *at)
        k = c["in_degree"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ctx.err(f"in_degree {k!r}; allowed: a non-negative integer", *at, "in_degree")
        return {"kind": "in_degree", "k": k, "autapses": aut}
    if "file" in c:
        _keys(ctx, c, ("file", "autapses"), *at)
        f = Path(str(c["file"]))
        f = f if f.is_absolute() else folder / f
        if not f.is_file():
            raise ctx.err(f"no such graph file {str(f)!r}", *at, "file")
        return {"kind": "file", "file": str(f), "autapses": aut}
    raise ctx.err(f"connect {c!r}; allowed keys: p, in_degree, file (and autapses)", *at)


def _statements(ctx: _Ctx, text, look, syn, post_m, pre_m, *at) -> tuple[Stmt, ...]:
    if text is None:
        return ()
    if not isinstance(text, str):
        raise ctx.err("statements must be text, one per line", *at)
    lines = [ln.split("#")[0].strip() for ln in re.split(r"[\n;]", text)]
    lines = [ln for ln in lines if ln]
    local = dict(look)
    out: list[Stmt] = []
    tmp_read: dict[str, bool] = {}
    for line in lines:
        try:
            tree = ast.parse(line, mode="exec").body
        except SyntaxError as exc:
            raise ctx.err(f"syntax error in {line!r}: {exc.msg}", *at) from None
        if len(tree) != 1 or not isinstance(tree[0], ast.Assign | ast.AugAssign):
            raise ctx.err(f"{line!r}; allowed: 'x = expr', 'x += expr', 'x -= expr', "
                          "'x *= expr'", *at)
        node = tree[0]
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                raise ctx.err(f"{line!r}: assign to one variable", *at)
            target, op = node.targets[0].id, "="
        else:
            if not isinstance(node.target, ast.Name):
                raise ctx.err(f"{line!r}: assign to one variable", *at)
            ops = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*="}
            if type(node.op) not in ops:
                raise ctx.err(f"{line!r}: allowed operators =, +=, -=, *=", *at)
            target, op = node.target.id, ops[type(node.op)]
        rhs_text = ast.unparse(node.value)
        for t in tmp_read:
            if re.search(rf"\b{t}\b", rhs_text):
                tmp_read[t] = True
        e, d = ctx.expr(rhs_text, ctx.rand_symbols(local), *at, rand=True)
        where_t, name_t = _target(target, syn, post_m, pre_m)
        if where_t is None:
            if op != "=" or target in ctx.row:
                raise ctx.err(
                    f"{line!r} assigns to an undefined variable {target!r}; allowed: the "
                    f"synapse's variables ({', '.join(syn) or 'none'}) and the target's states "
                    f"({', '.join(post_m.states) if post_m else 'none'})", *at)
            local[target] = (sympy.Symbol(f"tmp_{target}"), d)
            tmp_read[target] = False
            out.append(Stmt(target, "tmp", "=", e))
            continue
        tdim, tfac = local[target][1], _factor(local[target][0])
        if op == "*=":
            if d:
                raise ctx.err(f"{line!r}: a factor must be dimensionless", *at)
            out.append(Stmt(name_t, where_t, op, e))
            continue
        if d != tdim:
            from neuroscape.models.equations.units import describe_dims

            raise ctx.err(f"{line!r}: units do not match: {target} is in {describe_dims(tdim)}, "
                          f"the value in {describe_dims(d)}", *at)
        out.append(Stmt(name_t, where_t, op, sympy.expand(e / tfac) if e.is_Add else e / tfac))
    unread = [t for t, r in tmp_read.items() if not r]
    if unread:
        raise ctx.err(f"assigns to an undefined variable {unread[0]!r} (not a variable of the "
                      "synapse or of the target population, and not read later)", *at)
    return tuple(out)


def _factor(si_expr) -> sympy.Expr:
    """The unit factor of a lookup entry ``factor * Symbol``."""
    c, _ = si_expr.as_coeff_Mul()
    return c


def _target(name: str, syn, post_m, pre_m) -> tuple[str | None, str]:
    if name in syn:
        return "syn", name
    if post_m is not None:
        base = name[:-5] if name.endswith("_post") else name
        if base in post_m.states:
            return "post", base
    if pre_m is not None and name.endswith("_pre") and name[:-4] in pre_m.states:
        return "pre", name[:-4]
    return None, name


def _input(ctx: _Ctx, iname, idef, pops) -> PoissonInput:
    at = ("inputs", iname)
    idef = _mapping(ctx, idef, f"input {iname}", *at)
    _keys(ctx, idef, INPUT_KEYS, *at)
    tgt = idef.get("target")
    if tgt not in pops or pops[tgt].kind != "neuron":
        allowed = ", ".join(p for p, v in pops.items() if v.kind == "neuron")
        raise ctx.err(f"unknown population {tgt!r}; allowed: {allowed}", *at, "target")
    rate, d = ctx.expr(idef.get("rate"), None, *at, "rate")
    if d != parse_unit("Hz").dims:
        raise ctx.err("rate must be in Hz", *at, "rate")
    n = idef.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ctx.err(f"n {n!r}; allowed: a positive integer", *at, "n")
    m = pops[tgt].model
    look = {}
    for s, unit in zip(m.states, m.state_units, strict=True):
        u = parse_unit(unit)
        look[s] = (u.factor * sympy.Symbol(f"post_{s}"), u.dims)
    stmts = _statements(ctx, idef.get("on_spike"), look, {}, m, None, *at, "on_spike")
    if len(stmts) != 1 or stmts[0].op != "+=" or stmts[0].where != "post" or any(
            s.name.startswith(("post_", "rand", "tmp_")) for s in stmts[0].expr.free_symbols):
        raise ctx.err("on_spike must be one 'state += value' with a value constant per run",
                      *at, "on_spike")
    window = []
    for key in ("start", "stop"):
        if idef.get(key) is None:
            window.append(None)
            continue
        e, d = ctx.expr(idef[key], None, *at, key)
        if d != parse_unit("ms").dims:
            raise ctx.err(f"{key} must be a time (e.g. '500 ms')", *at, key)
        window.append(e / MS)
    return PoissonInput(iname, tgt, rate, n, stmts[0].target, stmts[0].expr, *window)


def _output(ctx: _Ctx, on, od, pops, projs) -> OutputDef:
    at = ("outputs", on)
    od = _mapping(ctx, od, f"output {on}", *at)
    kinds = [k for k in OUTPUT_KINDS if k in od]
    if len(kinds) != 1:
        raise ctx.err(f"give one of {', '.join(OUTPUT_KINDS)}", *at)
    kind = kinds[0]
    extra = {"rate": ("start", "stop"), "fano": ("bin",), "sync": ("bin",),
             "weights": ("stat", "value")}.get(kind, ())
    _keys(ctx, od, (kind, *extra, "description"), *at)
    desc = od.get("description", "")
    if not isinstance(desc, str):
        raise ctx.err("description must be text", *at, "description")
    of = od[kind]
    start = _quantity_ms(ctx, od["start"], *at, "start") if "start" in od else None
    stop = _quantity_ms(ctx, od["stop"], *at, "stop") if "stop" in od else None
    if kind != "weights":
        if of not in pops or pops[of].kind == "spikes":
            raise ctx.err(f"unknown population {of!r}; allowed: {', '.join(pops)}", *at, kind)
        default_bin = {"fano": "100 ms", "sync": "1 ms"}.get(kind, "0 ms")
        bin_ms = _quantity_ms(ctx, od.get("bin", default_bin), *at, "bin")
        if kind in ("fano", "sync") and bin_ms <= 0:
            raise ctx.err("bin must be > 0 ms", *at, "bin")
        unit = "Hz" if kind == "rate" else "1"
        return OutputDef(on, kind, of, unit, start_ms=start, stop_ms=stop, bin_ms=bin_ms,
                         description=desc)
    proj, _, var = str(of).partition(".")
    j = next((p for p in projs if p.name == proj), None)
    if j is None or var not in [v.name for v in j.synvars]:
        raise ctx.err(f"weights {of!r}; allowed: PROJECTION.VARIABLE of a declared synaptic "
                      "variable", *at, "weights")
    sv = next(v for v in j.synvars if v.name == var)
    stat = od.get("stat", "mean")
    if stat not in STATS:
        raise ctx.err(f"stat {stat!r}; allowed: {', '.join(STATS)}", *at, "stat")
    value = None
    unit = sv.unit
    if stat.startswith("fraction"):
        if "value" not in od:
            raise ctx.err(f"stat {stat} needs a value", *at)
        e, d = ctx.expr(od["value"], None, *at, "value")
        u = parse_unit(sv.unit)
        if d != u.dims:
            raise ctx.err(f"value must be in {sv.unit}", *at, "value")
        value = e / u.factor
        unit = "1"
    return OutputDef(on, "weights", of, unit, stat=stat, value=value, description=desc)
