"""Networks as data: populations, projections, inputs and outputs, read from a YAML file (or the
same mapping in Python) and checked once, so that the network engine can compile them.

The statements of synapses (``on_pre``, ``on_post``) and the synaptic equations are Brian2's
(Stimberg, Brette and Goodman 2019, eLife 8:e47314): ``g_e_post += w_e*r_S``, ``dx_S/dt =
Omega_d*(1 - x_S) : 1 (event-driven)``. Every expression is parsed into sympy in SI with its
dimension checked (``neuroscape.models.equations.expressions``); a value assigned to a variable is
converted to that variable's declared unit.

Elements of a file (beside Brian2's statements), among them:

- ``connect``: ``all_to_all``, ``one_to_one``, ``{p: P}``, ``{in_degree: K}`` (K distinct
  presynaptic neurons per postsynaptic one), ``{out_degree: K}`` (K distinct postsynaptic
  neurons per presynaptic one; Izhikevich 2006's random targets), ``{file: PATH}``,
  ``{pairs: [[pre, ...], [post, ...]]}`` (an explicit edge list, e.g. a (2, n) array in a
  Python description; SONATA's edges, ``neuroscape.models.network.sonata``) with optional
  per-edge ``values: {NAME: [x, ...] or {values: [...], unit: U}}``, one per pair, read as the
  symbol NAME in the projection's ``initial`` and ``delay`` (each synapse its own), all with
  ``autapses`` (default false), and ``{synapse: PROJ[k], end: pre|post}``: one edge from the pre
  (or post) neuron of synapse k of an earlier projection PROJ onto every neuron of this
  projection's post population (a detector that watches one synapse; k counts in the graph's
  canonical order, by presynaptic then postsynaptic index). A graph file must hold those edges.
- ``delay`` with ``delay_draw: spike``: the rand() of the delay are drawn anew at every spike
  of every synapse (from the row's counters at the synapse's on_pre slots after the block's own
  draws), not once per synapse (``synapse``, the default); the delay must be affine in each
  rand() (no randn()), so that its largest value, the length of the queue, is known.
- populations: ``refractory_clock: lems`` (jLEMS's count of refractory steps, spike by
  spike, from its t accumulated in seconds; NeuroML networks), ``stimulus`` (pulse, ramp, sine
  inputs: ``StimulusBlock``).
- ``delay_clock: lems``: a projection's delay counted in steps as jLEMS counts it, spike by
  spike (``lems_delay_steps``; NeuroML networks).
- ``early: true`` (delay 0, on_pre only, the pre population declared before the post one): a
  spike's on_pre acts in its own step before the post population steps, as in jLEMS, where
  the cells step one after another (NeuroML networks); else, Brian2's order, after every
  population has stepped (felt in the next step).
- ``bounds: {VAR: [low, high]}``: a synaptic variable clipped into [low, high] (row constants)
  after every statement block and every closed-form update between events (the initial value
  is as declared). For a modulated weight dW/dt = T (k0 + k1 M) with T and M of one sign
  between events (W moves monotonically there), clipping the end of each gap equals clipping
  the path.
- outputs ``{rate: POP or [POP, ...]}`` and ``{count: POP or [POP, ...]}`` (spikes, pooled over
  the populations; both over the recording window, or ``start``/``stop``);
  ``{weights: PROJ.VAR | PROJ.VAR[k] | [..., ...], stat, exclude: PROJ[k] | [...]}`` (one
  synapse, or the pooled synapses of several projections, some left out).
- ``records: {every: T, outputs: [NAME, ...]}``: weights outputs sampled every T (the values
  at T, 2T, ... up to the end of the run, as the output would be if the run ended there),
  returned by the engine beside the outputs.

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
        "modulators", "projections", "inputs", "outputs", "records", "settings",
        "output_domain")  # fmt: skip
POP_KEYS = ("size", "model", "params", "initial", "current", "kind", "rate", "spikes",
            "integrator", "stimulus", "refractory_clock")  # fmt: skip
# how a refractory period becomes a number of steps: round(t_ref/dt) from the spike step
# (Brian2's rule), or jLEMS's: V held until the first step whose t, accumulated as t += dt in
# seconds, exceeds the spike's t + t_ref (spike by spike: n or n + 1 where t_ref is n steps)
REFRACTORY_CLOCKS = ("steps", "lems")
# time-dependent inputs of a neuron population (every neuron the same, added to its current):
# the fields of each kind, and their dimension (the current's unit, a time, none)
STIMULI = {
    "pulse": {"amplitude": "current", "delay": "time", "duration": "time"},
    "ramp": {"start_amplitude": "current", "finish_amplitude": "current",
             "baseline": "current", "delay": "time", "duration": "time"},
    "sine": {"amplitude": "current", "delay": "time", "duration": "time", "period": "time",
             "phase": "none"},
}  # fmt: skip
STIMULUS_READ = ("start", "end")
PROJ_KEYS = ("pre", "post", "connect", "model", "initial", "on_pre", "on_post", "delay",
             "delay_draw", "bounds", "early", "delay_clock")  # fmt: skip
DELAY_DRAWS = ("synapse", "spike")
# a synapse of a projection: PROJ[k], the k-th in the graph's canonical order (by pre, then post)
_SYN_REF = re.compile(r"^\s*([A-Za-z_]\w*)\s*\[\s*(\d+)\s*\]\s*$")
# a synaptic variable of a projection (PROJ.VAR), or of one of its synapses (PROJ.VAR[k])
_VAR_REF = re.compile(r"^\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*\])?\s*$")
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
    stimulus: tuple = ()  # StimulusBlock, added to ``current`` step by step
    refractory_clock: str = "steps"  # REFRACTORY_CLOCKS


@dataclass(frozen=True)
class StimulusBlock:
    """A time-dependent input of a neuron population (NeuroML's pulseGenerator, rampGenerator
    and sineGenerator; Inputs.xml): ``fields`` name -> row expression (amplitudes in the
    model's current unit, times in ms, phase in radians), read at each step's start time t_s
    (``read: start``), or at its end t_s + dt (``read: end``: jLEMS's order, forward Euler from
    t to t + dt with the input at t + dt, t accumulated as t += dt in seconds)."""

    kind: str
    fields: tuple  # ((name, expr), ...)
    read: str = "start"

    def values(self, net, params, n_steps: int, dt_ms: float) -> np.ndarray:
        """(B, n_steps) values of the input in each step."""
        f = {k: net.evaluate(e, params)[:, None] for k, e in self.fields}
        if self.read == "end":  # jLEMS's t: the step's end, accumulated in seconds
            t = np.add.accumulate(np.full(n_steps, dt_ms * 1e-3))[None, :] * 1e3
        else:
            t = (np.arange(n_steps) * dt_ms)[None, :]
        # compared in seconds, as jLEMS compares its SI doubles
        ts, d_s, dur_s = t * 1e-3, f["delay"] * 1e-3, f["duration"] * 1e-3
        on = (ts >= d_s) & (ts < dur_s + d_s)
        if self.kind == "pulse":
            return np.where(on, f["amplitude"], 0.0)
        if self.kind == "ramp":
            with np.errstate(divide="ignore", invalid="ignore"):
                val = f["start_amplitude"] + (f["finish_amplitude"] - f["start_amplitude"]) \
                    * (ts - d_s) / dur_s
            return np.where(on, val, f["baseline"])
        with np.errstate(divide="ignore", invalid="ignore"):  # sine (Inputs.xml's 3.14159265)
            val = f["amplitude"] * np.sin(f["phase"] + 2 * 3.14159265 * (ts - d_s)
                                          / (f["period"] * 1e-3))
        return np.where(on, val, 0.0)


def stimulus_trace(net, p: Population, params, n_steps: int, dt_ms: float,
                   cur: np.ndarray) -> np.ndarray:
    """(B, n_steps) current of neuron population ``p`` in each step: its constant current
    ``cur`` (B,) plus its stimulus blocks."""
    out = np.repeat(np.asarray(cur, dtype=float).reshape(-1, 1), n_steps, axis=1)
    for blk in p.stimulus:
        out += blk.values(net, params, n_steps, dt_ms)
    return np.ascontiguousarray(out)


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
    delay_draw: str = "synapse"  # when rand() of the delay is drawn: per synapse, or per spike
    bounds: tuple = ()  # (variable, low, high): values in the variable's unit, row constants
    # early: on_pre acts in its spike's step, before the populations declared after the pre
    # population step (jLEMS's order, cells stepped one after another); else after every
    # population has stepped (Brian2's order)
    early: bool = False
    # how a delay becomes steps: round(delay/dt) (steps), or jLEMS's clock (lems): the event
    # acts in the step before the first one whose t, accumulated as t += dt in seconds,
    # reaches the spike's t + delay (jLEMS delivers then, before the cells step), spike by spike
    delay_clock: str = "steps"


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
    pops: tuple[str, ...] = ()  # rate, count, cv, fano, sync: the population(s), pooled
    refs: tuple = ()  # weights: (projection, variable, synapse index or None), pooled
    exclude: tuple = ()  # weights: (projection, synapse index) left out of the pool


PRECISIONS = ("float64", "float32")
OUTPUT_KINDS = ("rate", "count", "cv", "fano", "sync", "weights")
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
    records: tuple[str, ...] = ()  # weights outputs sampled every record_every_ms
    record_every_ms: float = 0.0
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
            edges[j.name] = _draw(j, rng, sizes[j.pre], sizes[j.post], self.origin, edges)
        return Graph(sizes, edges, self.ends, self.autapses)

    def load_graph(self, path: str | Path) -> Graph:
        """A graph file checked against this network's populations and projections."""
        return self._check_derived(load_connectivity(path, self.ends, self.sizes, self.autapses),
                                   str(path))

    def check_graph(self, g: Graph) -> Graph:
        if dict(g.sizes) != self.sizes or set(g.edges) != set(self.ends):
            raise ConnectivityError(
                f"graph has populations {dict(g.sizes)} and projections {sorted(g.edges)}; "
                f"{self.name} needs {self.sizes} and {sorted(self.ends)}"
            )
        from neuroscape.core.connectivity import _canonical

        return self._check_derived(
            Graph(self.sizes, {k: _canonical(g.edges[k]) for k in self.ends}, self.ends,
                  self.autapses), "graph")

    def _check_derived(self, g: Graph, what: str) -> Graph:
        """A projection whose rule names a synapse of another (``{synapse: P[k]}``) must hold
        the edges that synapse implies in the given graph too."""
        for j in self.projections:
            if j.rule.get("values") is not None:  # per-edge values belong to these pairs
                want = j.rule["edges"].array
                got = g.edges[j.name]
                if got.shape != want.shape or not np.array_equal(got, want):
                    raise ConnectivityError(
                        f"{what}: projection {j.name} has per-edge values for its {want.shape[1]}"
                        f" pairs; the graph's {got.shape[1]} edges differ (allowed: the same "
                        "pairs)")
                continue
            if j.rule["kind"] != "synapse":
                continue
            try:
                want = _draw(j, None, self.sizes[j.pre], self.sizes[j.post], self.origin,
                             g.edges)
            except NetworkError as exc:
                raise ConnectivityError(f"{what}: {exc}") from None
            got = g.edges[j.name]
            if got.shape != want.shape or not np.array_equal(got, want):
                ref = f"{j.rule['proj']}[{j.rule['index']}]"
                raise ConnectivityError(
                    f"{what}: projection {j.name} must connect the {j.rule['end']} neuron of "
                    f"synapse {ref} (neuron {int(want[0, 0]) if want.size else '?'}) to every "
                    f"neuron of {j.post}; the graph's {got.shape[1]} edges differ")
        return g

    def batch(self, conn_seed: int = 0, connectivity=None):  # pragma: no cover - see sim
        raise ModelError("network models run through neuroscape.sim.engine.batch_for")


@functools.lru_cache(maxsize=4096)
def _lambdified(expr) -> tuple:
    """(symbols, numpy function) of an expression, compiled once per expression."""
    syms = tuple(sorted(getattr(expr, "free_symbols", ()), key=str))
    return syms, sympy.lambdify(syms, expr, "numpy")


def _draw(j: Projection, rng, n_pre: int, n_post: int, origin: str,
          edges: Mapping[str, np.ndarray]) -> np.ndarray:
    """The edges (2, n) of projection ``j``; ``edges``: those of the projections before it."""
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
    if kind == "out_degree":  # k distinct targets per presynaptic neuron (without replacement)
        k = r["k"]
        avail = n_post - (0 if aut else 1)
        if k > avail:
            raise NetworkError(f"{origin}: projection {j.name}: out_degree {k} > {avail} "
                               "possible postsynaptic neurons")
        post_l = []
        for pre in range(n_pre):
            if aut:
                post = rng.choice(n_post, size=k, replace=False)
            else:
                post = rng.choice(n_post - 1, size=k, replace=False)
                post = post + (post >= pre)
            post_l.append(np.sort(post))
        pre_a = np.repeat(np.arange(n_pre, dtype=np.int64), k)
        post_a = np.concatenate(post_l) if post_l else np.zeros(0)
        return np.vstack([pre_a, post_a]).astype(np.int64)
    if kind == "synapse":  # the pre or post neuron of one synapse of an earlier projection
        ref = edges[r["proj"]]
        if r["index"] >= ref.shape[1]:
            raise NetworkError(f"{origin}: projection {j.name}: synapse {r['proj']}"
                               f"[{r['index']}] does not exist ({r['proj']} has {ref.shape[1]} "
                               f"synapses); allowed: 0..{ref.shape[1] - 1}")
        from neuroscape.core.connectivity import _canonical

        i = int(_canonical(ref)[0 if r["end"] == "pre" else 1, r["index"]])
        return np.vstack([np.full(n_post, i), np.arange(n_post)]).astype(np.int64)
    if kind == "pairs":  # an explicit edge list (a Python description, or SONATA's edges)
        from neuroscape.core.connectivity import validate_graph

        e = r["edges"].array
        try:
            validate_graph({j.pre: n_pre, j.post: n_post}, {j.name: e},
                           {j.name: (j.pre, j.post)}, {j.name: aut})
        except ConnectivityError as exc:
            raise NetworkError(f"{origin}: projection {j.name}: pairs: {exc}") from None
        return e.copy()
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
    source.stamp(model)
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
        projs.append(_projection(ctx, jn, jd, by_name, folder, tuple(projs)))

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
    rec_in = _mapping(ctx, data.get("records"), "records", "records")
    records: tuple[str, ...] = ()
    every = 0.0
    if rec_in:
        _keys(ctx, rec_in, ("every", "outputs"), "records")
        every = _quantity_ms(ctx, rec_in.get("every", "0 ms"), "records", "every")
        if every <= 0:
            raise ctx.err("every must be > 0 ms", "records", "every")
        names = rec_in.get("outputs")
        weights = [o.name for o in outs if o.kind == "weights"]
        if not isinstance(names, list) or not names or any(n not in weights for n in names):
            raise ctx.err(f"outputs {names!r}; allowed: a list of weights outputs "
                          f"({', '.join(weights) or 'none declared'})", "records", "outputs")
        records = tuple(dict.fromkeys(names))
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
                        tuple(psyms), derived, origin, tuple(mods), records, every, precision)


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
    pops = " and ".join(o.pops) if o.pops else o.of
    return {
        "rate": f"mean firing rate of {pops}{window}",
        "count": f"spikes of {pops}{window}",
        "cv": f"mean CV of the interspike intervals of {o.of} (neurons with 2 or more "
              "intervals in the window; NaN if none)",
        "fano": f"mean Fano factor of spike counts of {o.of} in {o.bin_ms:g} ms bins (neurons "
                "that spike; NaN if none)",
        "sync": f"synchrony of {o.of}: variance over mean of its spike count in "
                f"{o.bin_ms:g} ms bins",
        "weights": (f"{o.stat} of {o.of}"
                    + (f" without {', '.join(f'{p}[{k}]' for p, k in o.exclude)}"
                       if o.exclude else "") + " at the end of the run"),
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
    # a model without threshold and reset (a conductance-based cell) spikes where its first
    # state crosses its spike_level upward on the step grid
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
    stim = _stimulus(ctx, pd.get("stimulus"), model, *at, "stimulus")
    clock = pd.get("refractory_clock", "steps")
    if clock not in REFRACTORY_CLOCKS:
        raise ctx.err(f"refractory_clock {clock!r}; allowed: {', '.join(REFRACTORY_CLOCKS)}",
                      *at, "refractory_clock")
    return Population(pn, size, kind, model, tuple(values), cur, tuple(initial),
                      integrator=str(integ) if integ else None, stimulus=stim,
                      refractory_clock=clock)


def lems_refractory_steps(t_ref_ms: np.ndarray, n_steps: int, dt_ms: float) -> np.ndarray:
    """(B, n_steps) refractory steps of a spike in each step under jLEMS's clock: its t is
    accumulated as t += dt in seconds; a spike in step k (t_k, the step's end) holds V until the
    first step j with t_j > t_k + t_ref, V not integrated in steps k + 1..j; the engine counts
    the spike step too: j - k + 1."""
    t_ref_s = np.asarray(t_ref_ms, dtype=float) * 1e-3
    extra = int(np.ceil(float(np.max(t_ref_ms, initial=0.0)) / dt_ms)) + 4
    t = np.add.accumulate(np.full(n_steps + extra, dt_ms * 1e-3))
    k = np.arange(n_steps)
    out = np.empty((t_ref_s.size, n_steps), dtype=np.int64)
    for r, tr in enumerate(t_ref_s):
        out[r] = np.searchsorted(t, t[:n_steps] + tr, side="right") - k + 1
    return np.maximum(out, 1)


def _stimulus(ctx: _Ctx, spec, model: NeuronModel, *at) -> tuple:
    """A neuron population's time-dependent inputs: a list of ``{kind: pulse|ramp|sine, read:
    start|end, FIELD: value, ...}`` (``STIMULI``), the values expressions of parameters."""
    if spec is None:
        return ()
    if not isinstance(spec, list):
        raise ctx.err("stimulus must be a list of {kind: pulse|ramp|sine, ...}", *at)
    dims = {"current": parse_unit(model.current_unit), "time": parse_unit("ms"),
            "none": parse_unit("1")}
    out = []
    for k, blk in enumerate(spec):
        blk = _mapping(ctx, blk, "a stimulus", *at, k)
        kind = blk.get("kind")
        if kind not in STIMULI:
            raise ctx.err(f"kind {kind!r}; allowed: {', '.join(STIMULI)}", *at, k, "kind")
        _keys(ctx, blk, ("kind", "read", *STIMULI[kind]), *at, k)
        read = blk.get("read", "start")
        if read not in STIMULUS_READ:
            raise ctx.err(f"read {read!r}; allowed: {', '.join(STIMULUS_READ)}", *at, k, "read")
        fields = []
        for name, dim in STIMULI[kind].items():
            if name not in blk:
                raise ctx.err(f"missing key {name!r} (a {kind} needs "
                              f"{', '.join(STIMULI[kind])})", *at, k)
            e, d = ctx.expr(blk[name], None, *at, k, name)
            u = dims[dim]
            if d != u.dims:
                unit = {"current": model.current_unit, "time": "ms", "none": "1"}[dim]
                raise ctx.err(f"{name} must be in {unit}", *at, k, name)
            fields.append((name, e / u.factor))
        out.append(StimulusBlock(kind, tuple(fields), read))
    return tuple(out)


def _spike_list(ctx: _Ctx, spec, size: int, *at):
    """Spike generator: a list of [time, index] pairs, of blocks {start, period, count,
    indices}, or of arrays {times, indices, unit} (a spike file's contents)."""
    if not isinstance(spec, list) or not spec:
        raise ctx.err("spikes must be a list of [time, index] or {start, period, count}", *at)
    times, idx = [], []
    for k, item in enumerate(spec):
        if isinstance(item, dict) and "times" in item:  # arrays: a spike file's contents
            _keys(ctx, item, ("times", "indices", "unit"), *at, k)
            try:
                f = parse_unit(str(item.get("unit", "ms")))
                ta = np.asarray(item["times"], dtype=float) * float(f.factor / MS)
                ia = np.asarray(item.get("indices"))
            except (ExpressionError, ValueError, TypeError):
                ta, ia = np.zeros(1), np.zeros(0)
            if ta.ndim != 1 or ia.shape != ta.shape or not np.all(np.isfinite(ta)) \
                    or not f.dims == parse_unit("ms").dims:
                raise ctx.err("times and indices must be two equal-length lists (times in "
                              "'unit', a time unit, default ms)", *at, k)
            times.extend(ta.tolist())
            idx.extend(ia.tolist())
        elif isinstance(item, dict):
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
    if not idx:  # a source that never fires (e.g. an input file without its spikes)
        return np.zeros(0), np.zeros(0, dtype=np.int64)
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


def _projection(ctx: _Ctx, jn, jd, pops: dict, folder: Path, earlier: tuple = ()) -> Projection:
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
    rule = _rule(ctx, jd.get("connect"), folder, *at, "connect", pre=pre.name,
                 earlier=earlier)

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
    # per-edge values of explicit pairs: symbols of the initial values and the delay
    edge_look = rule["values"].look() if rule.get("values") is not None else {}
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
            e, d = ctx.expr(init_in[v], ctx.rand_symbols(edge_look), *at, "initial", v,
                            rand=True)
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
        e, d = ctx.expr(jd["delay"], ctx.rand_symbols(edge_look), *at, "delay", rand=True)
        if d != parse_unit("ms").dims:
            raise ctx.err("delay must be a time (e.g. '1.5 ms')", *at, "delay")
        delay = sympy.nsimplify(e / MS) if e.is_Number else e / MS
        if delay.is_Number and delay < 0:
            raise ctx.err(f"negative delay {float(delay):g} ms; allowed: >= 0 ms", *at, "delay")
        if any(s.name.startswith(("syn_", "post_", "pre_")) for s in delay.free_symbols):
            raise ctx.err("delay may use parameters, constants and rand() only", *at, "delay")
    draw = jd.get("delay_draw", "synapse")
    if draw not in DELAY_DRAWS:
        raise ctx.err(f"delay_draw {draw!r}; allowed: {', '.join(DELAY_DRAWS)}", *at,
                      "delay_draw")
    if draw == "spike":
        if any(s.name.startswith("edge_") for s in sympy.sympify(delay).free_symbols):
            raise ctx.err("a delay drawn per spike cannot read per-edge values; allowed: "
                          "delay_draw: synapse", *at, "delay_draw")
        _spike_delay_check(ctx, delay, *at, "delay_draw")
    bounds = []
    for v, lim in _mapping(ctx, jd.get("bounds"), "bounds", *at, "bounds").items():
        if v not in syn:
            raise ctx.err(f"{v!r} is not a synaptic variable; declared: "
                          f"{', '.join(syn) or 'none'}", *at, "bounds", v)
        if not isinstance(lim, list) or len(lim) != 2:
            raise ctx.err(f"bounds of {v}: {lim!r}; allowed: [low, high]", *at, "bounds", v)
        u, unit = syn[v]
        ends = []
        for e_text in lim:
            e, d = ctx.expr(e_text, None, *at, "bounds", v)
            if d != u.dims:
                raise ctx.err(f"bounds of {v} must be in {unit}", *at, "bounds", v)
            ends.append(e / u.factor)
        bounds.append((v, *ends))
    early = jd.get("early", False)
    if not isinstance(early, bool):
        raise ctx.err(f"early {early!r}; allowed: true or false", *at, "early")
    if early:
        order = list(pops)
        if order.index(pre.name) >= order.index(post.name):
            raise ctx.err(f"early: the pre population {pre.name} must be declared before the "
                          f"post population {post.name} (its events act before that one steps)",
                          *at, "early")
        if not (delay.is_Number and delay == 0) or on_post:
            raise ctx.err("early: allowed with delay 0 and on_pre only", *at, "early")
        if any(st.where == "pre" for st in on_pre):
            raise ctx.err("early: on_pre may write the post population and the synapses only",
                          *at, "early")
    clock = jd.get("delay_clock", "steps")
    if clock not in ("steps", "lems"):
        raise ctx.err(f"delay_clock {clock!r}; allowed: steps, lems", *at, "delay_clock")
    if clock == "lems" and (any(s.name.startswith(("rand", "edge_"))
                                for s in sympy.sympify(delay).free_symbols)):
        raise ctx.err("delay_clock lems needs one delay for the projection (a constant or a "
                      "parameter)", *at, "delay_clock")
    return Projection(jn, pre.name, post.name, rule, tuple(synvars), on_pre, on_post, delay,
                      draw, tuple(bounds), early, clock)


def lems_delay_steps(delay_ms: np.ndarray, n_steps: int, dt_ms: float) -> np.ndarray:
    """(B, n_steps) engine delays (steps) of a spike in each step under jLEMS's clock: jLEMS
    delivers the event at the first step j whose t (accumulated as t += dt in seconds) is >=
    the spike's t + delay, before the cells step; the engine's event acts after them, so in
    step j - 1 (a delay of 0 stays 0)."""
    d_s = np.asarray(delay_ms, dtype=float) * 1e-3
    extra = int(np.ceil(float(np.max(delay_ms, initial=0.0)) / dt_ms)) + 4
    t = np.add.accumulate(np.full(n_steps + extra, dt_ms * 1e-3))
    k = np.arange(n_steps)
    out = np.zeros((d_s.size, n_steps), dtype=np.int64)
    for r, d in enumerate(d_s):
        if d > 0:
            out[r] = np.maximum(np.searchsorted(t, t[:n_steps] + d, side="left") - k - 1, 0)
    return out


def _spike_delay_check(ctx: _Ctx, delay, *at) -> None:
    """A delay drawn per spike: rand() only (no randn()), affine in each draw, so its largest
    value (the length of the queue) is that of a corner of the draws' box [0, 1]^n."""
    draws = [s for s in delay.free_symbols if s.name.startswith(("rand_", "randn_"))]
    if not draws:
        raise ctx.err("delay_draw: spike needs a delay that draws rand() (e.g. '1 s + 2 s*rand()')",
                      *at)
    if any(s.name.startswith("randn_") for s in draws) or any(
            sympy.simplify(sympy.diff(delay, s, 2)) != 0 for s in draws):
        raise ctx.err("a delay drawn per spike must be affine in each rand() (no randn()), so "
                      "that its largest value is known", *at)


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


def _rule(ctx: _Ctx, c, folder: Path, *at, pre: str = "", earlier: tuple = ()) -> dict:
    if c == "all_to_all":
        return {"kind": c}
    if c == "one_to_one":
        return {"kind": c, "autapses": True}
    if not isinstance(c, dict):
        raise ctx.err(f"connect {c!r}; allowed: all_to_all, one_to_one, {{p: ...}}, "
                      "{in_degree: ...}, {out_degree: ...}, {synapse: ...}, {file: ...}, "
                      "{pairs: ...}", *at)
    if "synapse" in c:
        _keys(ctx, c, ("synapse", "end"), *at)
        m = _SYN_REF.match(str(c["synapse"]))
        names = [j.name for j in earlier]
        if not m or m.group(1) not in names:
            raise ctx.err(f"synapse {c['synapse']!r}; allowed: PROJECTION[k] with PROJECTION "
                          f"declared before ({', '.join(names) or 'none'}) and k >= 0",
                          *at, "synapse")
        end = c.get("end")
        if end not in ("pre", "post"):
            raise ctx.err(f"end {end!r}; allowed: pre, post", *at, "end")
        ref = earlier[names.index(m.group(1))]
        pop = ref.pre if end == "pre" else ref.post
        if pop != pre:
            raise ctx.err(f"the {end} neuron of {m.group(1)} is in {pop}, but this projection's "
                          f"pre is {pre}; allowed: pre: {pop}", *at, "synapse")
        return {"kind": "synapse", "proj": m.group(1), "index": int(m.group(2)), "end": end,
                "autapses": True}
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
    if "out_degree" in c:
        _keys(ctx, c, ("out_degree", "autapses"), *at)
        k = c["out_degree"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ctx.err(f"out_degree {k!r}; allowed: a non-negative integer", *at,
                          "out_degree")
        return {"kind": "out_degree", "k": k, "autapses": aut}
    if "file" in c:
        _keys(ctx, c, ("file", "autapses"), *at)
        f = Path(str(c["file"]))
        f = f if f.is_absolute() else folder / f
        if not f.is_file():
            raise ctx.err(f"no such graph file {str(f)!r}", *at, "file")
        return {"kind": "file", "file": str(f), "autapses": aut}
    if "pairs" in c:
        _keys(ctx, c, ("pairs", "autapses", "values"), *at)
        try:
            e = np.asarray(c["pairs"])
        except (ValueError, TypeError):
            e = np.zeros(0)
        if e.ndim != 2 or e.shape[0] != 2 or (e.size and not np.issubdtype(e.dtype, np.integer)):
            raise ctx.err("pairs must be two equal-length lists of integer indices [[pre, ...], "
                          "[post, ...]] (a (2, n) integer array)", *at, "pairs")
        e = e.astype(np.int64).reshape(2, -1)
        order = np.lexsort((e[1], e[0]))  # the graph's canonical order (connectivity._canonical)
        rule = {"kind": "pairs", "edges": _Pairs(np.ascontiguousarray(e[:, order])),
                "autapses": aut}
        if c.get("values") is not None:
            rule["values"] = _edge_values(ctx, c["values"], e.shape[1], order, *at, "values")
        return rule
    raise ctx.err(f"connect {c!r}; allowed keys: p, in_degree, out_degree, synapse, file, pairs "
                  "(and autapses)", *at)


def _edge_values(ctx: _Ctx, v, n: int, order: np.ndarray, *at) -> EdgeValues:
    """Per-edge values of an explicit edge list: ``{NAME: [x, ...]}`` (dimensionless) or
    ``{NAME: {values: [x, ...], unit: U}}``, one value per pair in the order given; held in the
    graph's canonical order."""
    v = _mapping(ctx, v, "values", *at)
    out = {}
    for name, d in v.items():
        if not (isinstance(name, str) and name.isidentifier()):
            raise ctx.err(f"edge value name {name!r}; allowed: a Python identifier", *at, name)
        unit = "1"
        if isinstance(d, Mapping):
            _keys(ctx, d, ("values", "unit"), *at, name)
            unit, d = str(d.get("unit", "1")), d.get("values")
        try:
            u = parse_unit(unit)
        except ExpressionError as exc:
            raise ctx.err(str(exc), *at, name, "unit") from None
        try:
            a = np.asarray(d, dtype=float)
        except (ValueError, TypeError):
            a = np.zeros((0, 0))
        if a.shape != (n,) or not np.all(np.isfinite(a)):
            raise ctx.err(f"values of {name}: {n} finite numbers are needed, one per pair "
                          f"(got shape {a.shape})", *at, name)
        out[name] = (np.ascontiguousarray(a[order]), unit, u)
    return EdgeValues(out)


class EdgeValues:
    """Per-edge values of a projection given as explicit pairs, by name: (values in the graph's
    canonical order, unit text, unit); usable as symbols ``edge_NAME`` in the projection's
    ``initial`` and ``delay``. Equal by content."""

    __slots__ = ("data",)

    def __init__(self, data: dict) -> None:
        self.data = data
        for a, _, _ in data.values():
            a.setflags(write=False)

    def look(self) -> dict:
        """Expression lookup: NAME -> (SI sympy expression, dims)."""
        return {k: (u.factor * sympy.Symbol(f"edge_{k}"), u.dims)
                for k, (_, _, u) in self.data.items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """``edge_NAME`` -> values (the declared unit), one per synapse in graph order."""
        return {f"edge_{k}": a for k, (a, _, _) in self.data.items()}

    def __eq__(self, other) -> bool:
        return isinstance(other, EdgeValues) and self.data.keys() == other.data.keys() and all(
            np.array_equal(self.data[k][0], other.data[k][0])
            and self.data[k][1] == other.data[k][1] for k in self.data)

    def __hash__(self) -> int:
        return hash(tuple((k, a.tobytes(), u) for k, (a, u, _) in self.data.items()))

    def __repr__(self) -> str:
        return f"<edge values {', '.join(self.data)}>"


def edge_arrays(j) -> dict[str, np.ndarray]:
    """The per-edge value arrays of projection ``j`` (``edge_NAME`` -> values), or {}."""
    ev = j.rule.get("values")
    return ev.arrays() if ev is not None else {}


class _Pairs:
    """An explicit (2, n) edge list held in a rule: equal by content, short in a repr."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.array.setflags(write=False)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Pairs) and np.array_equal(self.array, other.array)

    def __hash__(self) -> int:
        return hash(self.array.tobytes())

    def __repr__(self) -> str:
        return f"<{self.array.shape[1]} pairs>"


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
    extra = {"rate": ("start", "stop"), "count": ("start", "stop"), "fano": ("bin",),
             "sync": ("bin",), "weights": ("stat", "value", "exclude")}.get(kind, ())
    _keys(ctx, od, (kind, *extra, "description"), *at)
    desc = od.get("description", "")
    if not isinstance(desc, str):
        raise ctx.err("description must be text", *at, "description")
    of = od[kind]
    start = _quantity_ms(ctx, od["start"], *at, "start") if "start" in od else None
    stop = _quantity_ms(ctx, od["stop"], *at, "stop") if "stop" in od else None
    if kind != "weights":
        names = of if isinstance(of, list) and kind in ("rate", "count") else [of]
        for name in names:
            if not isinstance(name, str) or name not in pops or pops[name].kind == "spikes":
                allowed = ", ".join(p for p, v in pops.items() if v.kind != "spikes")
                pooled = " (or a list of them)" if kind in ("rate", "count") else ""
                raise ctx.err(f"unknown population {name!r}; allowed: {allowed}{pooled}", *at,
                              kind)
        if len(set(names)) != len(names) or not names:
            raise ctx.err(f"populations {of!r}: each at most once", *at, kind)
        default_bin = {"fano": "100 ms", "sync": "1 ms"}.get(kind, "0 ms")
        bin_ms = _quantity_ms(ctx, od.get("bin", default_bin), *at, "bin")
        if kind in ("fano", "sync") and bin_ms <= 0:
            raise ctx.err("bin must be > 0 ms", *at, "bin")
        unit = {"rate": "Hz", "count": "1"}.get(kind, "1")
        return OutputDef(on, kind, "+".join(names), unit, start_ms=start, stop_ms=stop,
                         bin_ms=bin_ms, description=desc, pops=tuple(names))
    texts = of if isinstance(of, list) and of else [of]
    refs, units = [], []
    for text in texts:
        m = _VAR_REF.match(str(text))
        j = next((p for p in projs if m and p.name == m.group(1)), None)
        if j is None or m.group(2) not in [v.name for v in j.synvars]:
            raise ctx.err(f"weights {text!r}; allowed: PROJECTION.VARIABLE of a declared "
                          "synaptic variable, PROJECTION.VARIABLE[k] (its k-th synapse), or a "
                          "list of them (pooled)", *at, "weights")
        refs.append((m.group(1), m.group(2), None if m.group(3) is None else int(m.group(3))))
        units.append(next(v for v in j.synvars if v.name == m.group(2)).unit)
    if len({parse_unit(u).dims for u in units}) != 1 or len({parse_unit(u).factor
                                                                 for u in units}) != 1:
        raise ctx.err(f"pooled weights {texts} must share one unit (got {', '.join(units)})",
                      *at, "weights")
    exclude = []
    ex_in = od.get("exclude", [])
    for text in ex_in if isinstance(ex_in, list) else [ex_in]:
        m = _SYN_REF.match(str(text))
        if not m or m.group(1) not in [r[0] for r in refs if r[2] is None]:
            raise ctx.err(f"exclude {text!r}; allowed: PROJECTION[k] of a projection pooled "
                          "whole in this output", *at, "exclude")
        exclude.append((m.group(1), int(m.group(2))))
    stat = od.get("stat", "mean")
    if stat not in STATS:
        raise ctx.err(f"stat {stat!r}; allowed: {', '.join(STATS)}", *at, "stat")
    value = None
    unit = units[0]
    if stat.startswith("fraction"):
        if "value" not in od:
            raise ctx.err(f"stat {stat} needs a value", *at)
        e, d = ctx.expr(od["value"], None, *at, "value")
        u = parse_unit(unit)
        if d != u.dims:
            raise ctx.err(f"value must be in {unit}", *at, "value")
        value = e / u.factor
        unit = "1"
    of_text = ", ".join(str(t).strip() for t in texts)
    return OutputDef(on, "weights", of_text, unit, stat=stat, value=value, description=desc,
                     refs=tuple(refs), exclude=tuple(exclude))
