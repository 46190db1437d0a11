"""Networks of multi-compartment cells as data: populations of cells (a cell YAML, SWC-based or
written out), projections onto synapses at locations, Poisson inputs onto synapses, read from a
YAML file or the same mapping in Python and checked once::

    name: ring
    populations:
      E: {size: 20, model: cells/ball_stick.yaml}   # a cell file, relative to this file
    projections:
      EE:
        pre: E
        post: E
        connect: {p: 0.2}                            # the network descriptions' rules
        synapse: {model: exp2syn, tau1: 0.5 ms, tau2: 5 ms, e: 0 mV, at: dend(0.5)}
        weight: w_EE                                 # uS, or a parameter's name
        delay: 2 ms
    inputs:
      drive: {target: E, rate: 10 Hz, n: 50, weight: 0.002 uS,
              synapse: {model: expsyn, tau: 2 ms, e: 0 mV, at: dend(0.8)}}
    parameters:                                      # what sweeps and fits vary
      w_EE: {default: 0.004 uS, low: 0, high: 0.01}
      E.soma.hh.gnabar: {low: 0.06, high: 0.18}      # a cell address of population E
    outputs:                                         # optional; default rate_POP per population
      rate_E: {rate: E}                              # pooled rate (Hz) of one or more populations
    settings: {duration: 200 ms, dt: 0.025 ms}       # + window (rates), integrator

Synapses are NEURON's point processes ``ExpSyn`` (tau, e) and ``Exp2Syn`` (tau1, tau2, e; its
peak-normalising factor), at ``SECTION(x)`` of every cell of the post population; each
projection and each input has its own synapse per cell, which all its connections (or
sources) drive. A presynaptic cell's spikes are the crossings of 0 mV upward at its root
section's middle (NEURON's ``NetCon`` at ``soma(0.5)`` with threshold 0), each reaching its
targets ``delay`` later; an input is ``n`` independent Poisson sources at ``rate`` per cell
(one merged train of rate ``n * rate``). The run is ``neuroscape.sim.cell_network``'s.

A population may instead be a surrogate of a detailed one (a hybrid network)::

    A: {size: 16, surrogate: surrogate_A, rate_tau: 20 ms,   # a saved surrogate's folder
        map: {rate: {from: [drive, XA], n: 20, weight: 0.005 uS}}}

Its cells are Poisson sources at the rate the surrogate predicts from its inputs: ``map``
says which inputs and projections onto it feed which of the surrogate's parameters, and the
source count ``n`` and weight of the training input whose rate the parameter is (mean-
conductance matching; ``SurrogateBinding``); ``rate_tau`` is the time constant of the running
average of the projected spikes. ``neuroscape.surrogate.hybrid`` loads the surrogate and
fills what ``map`` leaves out from the surrogate's training network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroscape.core.connectivity import Graph, graph_rng
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, Parameter
from neuroscape.models.contract import Model, ModelError, ModelSource
from neuroscape.models.equations.expressions import ExpressionError, parse_quantity, parse_unit
from neuroscape.models.multicomp.description import CellDescription, CellError, load_cell

TOP_KEYS = ("name", "description", "populations", "projections", "inputs", "parameters",
            "outputs", "settings")  # fmt: skip
POP_KEYS = ("size", "model", "surrogate", "rate_tau", "map")
MAP_KEYS = ("from", "n", "weight")
PROJ_KEYS = ("pre", "post", "connect", "synapse", "weight", "delay")
INPUT_KEYS = ("target", "rate", "n", "synapse", "weight")
PARAM_KEYS = ("default", "low", "high", "unit")
SETTING_KEYS = ("duration", "dt", "window", "integrator", "note")
INTEGRATORS = ("crank_nicolson", "backward_euler")
# NEURON's point processes and their parameters (expsyn.mod, exp2syn.mod), with the units
SYNAPSES = {"expsyn": ("tau", "e"), "exp2syn": ("tau1", "tau2", "e")}
SYN_UNITS = {"tau": "ms", "tau1": "ms", "tau2": "ms", "e": "mV"}
_LOC = re.compile(r"^\s*([^\s()]+)\s*\(\s*([^()]*?)\s*\)\s*$")


class CellNetworkError(ModelError):
    """A network of cells that cannot be built (one line: the element, what is allowed)."""


@dataclass(frozen=True)
class Synapse:
    """A synapse model at SECTION(x): ``kind`` expsyn or exp2syn; tau1/tau2 in ms (ExpSyn:
    tau2 is its tau, tau1 unused), e in mV."""

    kind: str
    tau1: float
    tau2: float
    e: float
    section: str
    x: float

    @property
    def location(self) -> str:
        return f"{self.section}({self.x:g})"


@dataclass(frozen=True)
class SurrogateBinding:
    """How one parameter of a surrogate population's surrogate is computed from the network:
    ``value`` fixed (in the parameter's unit), or the rate per source (Hz) of a training input
    of ``n`` sources of weight ``weight`` (uS) that gives the same mean conductance as the
    ``sources`` (inputs and projections onto the population): sum over sources of
    (events/s per cell) x w_s / (n x weight). ``n``/``weight`` None: not resolved yet (the
    surrogate's training network supplies them, ``neuroscape.surrogate.hybrid``)."""

    param: str
    sources: tuple[str, ...] = ()
    n: int | None = None
    weight: float | None = None
    value: float | None = None


@dataclass(frozen=True)
class CellPopulation:
    name: str
    size: int
    cell: CellDescription | None  # None: a surrogate population
    source: str = ""  # the cell file ('' for a cell given as a mapping)
    surrogate: str = ""  # a surrogate population: its saved surrogate's folder (absolute)
    rate_tau_ms: float | None = None  # time constant of its projected rates' running average
    bindings: tuple[SurrogateBinding, ...] = ()  # as written (``map``), or resolved

    @property
    def is_surrogate(self) -> bool:
        return bool(self.surrogate)


@dataclass(frozen=True)
class CellProjection:
    name: str
    pre: str
    post: str
    rule: dict  # as the network descriptions' rules (models.network.description._draw)
    synapse: Synapse | None  # None onto a surrogate population
    weight: float | str  # uS, or a parameter's name
    delay: float  # ms


@dataclass(frozen=True)
class CellInput:
    name: str
    target: str
    rate: float | str  # Hz per source, or a parameter's name
    n: int
    synapse: Synapse | None  # None onto a surrogate population
    weight: float | str  # uS, or a parameter's name


@dataclass(frozen=True)
class NetParameter:
    """A value sweeps vary: a network value (``pop`` None: a weight in uS or a rate in Hz) or
    the cell address ``address`` of population ``pop``."""

    name: str
    default: float
    low: float
    high: float
    unit: str
    pop: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class CellNetwork:
    """A network of multi-compartment cells (see the module's docstring)."""

    name: str
    populations: tuple[CellPopulation, ...]
    projections: tuple[CellProjection, ...]
    inputs: tuple[CellInput, ...]
    parameters: tuple[NetParameter, ...] = ()
    duration_ms: float = 1000.0
    dt_ms: float = 0.025
    origin: str = ""
    description: str = ""
    window_ms: float | None = None  # rates over the last window_ms (None: the engine's rule)
    integrator: str = "crank_nicolson"
    # NAME -> the populations whose pooled rate (Hz) it is; default rate_POP for each
    outputs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def sizes(self) -> dict[str, int]:
        return {p.name: p.size for p in self.populations}

    @property
    def n_cells(self) -> int:
        return sum(p.size for p in self.populations)

    def population(self, name: str) -> CellPopulation:
        return next(p for p in self.populations if p.name == name)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.outputs)

    @property
    def min_delay_ms(self) -> float:
        return min((j.delay for j in self.projections), default=math.inf)

    def graph(self, conn_seed: int = 0) -> Graph:
        """The projections' edges (2, n) for ``conn_seed``, drawn in declaration order from one
        generator, as the point-neuron networks draw theirs."""
        from neuroscape.models.network.description import _draw

        rng = graph_rng(conn_seed)
        sizes = self.sizes
        edges: dict[str, np.ndarray] = {}
        for j in self.projections:
            edges[j.name] = _draw(j, rng, sizes[j.pre], sizes[j.post], self.origin, edges)
        ends = {j.name: (j.pre, j.post) for j in self.projections}
        aut = {j.name: bool(j.rule.get("autapses", False)) for j in self.projections}
        return Graph(sizes, edges, ends, aut)

    def values(self, params: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Parameter name -> (B,) values for parameter rows ``params`` (B, n_params) in the
        parameters' units (default: one row of the defaults)."""
        if params is None:
            params = np.array([[p.default for p in self.parameters]])
        params = np.atleast_2d(np.asarray(params, dtype=float))
        if params.shape[1] != len(self.parameters):
            raise CellNetworkError(f"parameter rows have {params.shape[1]} columns; allowed: "
                                   f"{len(self.parameters)} ({', '.join(self.parameter_names)})")
        return {p.name: params[:, k] for k, p in enumerate(self.parameters)}


# ---------------------------------------------------------------------------------------------
# loading


def load_cell_network(path: str | Path) -> CellNetwork:
    """The network of cells described in the YAML file ``path``."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise CellNetworkError(f"{path}: no such network file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise CellNetworkError(f"{p}: not YAML ({str(exc).splitlines()[0]})") from None
    return build_cell_network(data, folder=p.parent, origin=str(p))


def is_cell_network(data: Mapping, folder: str | Path = ".") -> bool:
    """Whether a network description's populations are cells (a ``model`` that is a cell file
    or a cell mapping with ``sections`` or ``morphology``): the hook a network loader can use
    to hand the description to ``build_cell_network``."""
    pops = data.get("populations") if isinstance(data, Mapping) else None
    if not isinstance(pops, Mapping) or not pops:
        return False
    for pd in pops.values():
        if isinstance(pd, Mapping) and "surrogate" in pd:
            return True
        m = pd.get("model") if isinstance(pd, Mapping) else None
        if isinstance(m, Mapping) and ("sections" in m or "morphology" in m):
            return True
        if isinstance(m, str) and m.endswith((".yaml", ".yml")):
            f = Path(m) if Path(m).is_absolute() else Path(folder) / m
            if f.is_file():
                try:
                    import yaml

                    d = yaml.safe_load(f.read_text())
                except Exception:  # noqa: BLE001 - not a cell file then
                    continue
                if isinstance(d, Mapping) and ("sections" in d or "morphology" in d):
                    return True
    return False


def build_cell_network(data: Mapping, folder: str | Path = ".", origin: str = "") -> CellNetwork:
    """The network of cells of a description mapping (the keys of a network file); cell files
    are resolved relative to ``folder``."""
    where = origin or "network"

    def err(msg: str, *at) -> CellNetworkError:
        path = ".".join(str(a) for a in at)
        return CellNetworkError(f"{where}: {path + ': ' if path else ''}{msg}")

    if not isinstance(data, Mapping):
        raise err(f"a network description must be a mapping, not {type(data).__name__}")
    _keys(err, data, TOP_KEYS)
    folder = Path(folder)
    name = str(data.get("name", "cell_network"))

    # settings
    st = data.get("settings") or {}
    if not isinstance(st, Mapping):
        raise err("settings must be a mapping", "settings")
    _keys(err, st, SETTING_KEYS, "settings")
    duration = _quantity(err, st.get("duration", 1000.0), "ms", "settings", "duration")
    dt = _quantity(err, st.get("dt", 0.025), "ms", "settings", "dt")
    window = _quantity(err, st["window"], "ms", "settings", "window") if "window" in st else None
    for what, v in (("duration", duration), ("dt", dt), ("window", window)):
        if v is not None and not v > 0:
            raise err(f"{what}={v:g} ms; allowed: > 0 ms", "settings", what)
    if window is not None and window > duration:
        raise err(f"window={window:g} ms > duration {duration:g} ms; allowed: 0 < window <= "
                  "duration", "settings", "window")
    integrator = st.get("integrator", "crank_nicolson")
    if integrator not in INTEGRATORS:
        raise err(f"integrator {integrator!r}; allowed: {', '.join(INTEGRATORS)}", "settings",
                  "integrator")

    # populations
    pops_d = data.get("populations")
    if not isinstance(pops_d, Mapping) or not pops_d:
        raise err("populations: allowed: a mapping NAME: {size, model: CELL.yaml} or {size, "
                  "surrogate: FOLDER}", "populations")
    pops: dict[str, CellPopulation] = {}
    for pn, pd in pops_d.items():
        at = ("populations", pn)
        if not (isinstance(pn, str) and pn.isidentifier()):
            raise err(f"population name {pn!r}; allowed: an identifier", *at)
        if not isinstance(pd, Mapping):
            raise err("allowed: a mapping {size, model}", *at)
        _keys(err, pd, POP_KEYS, *at)
        size = pd.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise err(f"size {size!r}; allowed: a positive integer", *at, "size")
        if "surrogate" in pd:
            pops[pn] = _surrogate_population(err, pn, size, pd, folder)
            continue
        for k in ("rate_tau", "map"):
            if k in pd:
                raise err(f"{k}: allowed only with surrogate: FOLDER (a surrogate population)",
                          *at, k)
        m = pd.get("model")
        src = ""
        if isinstance(m, str) and m.lower().endswith(".swc"):
            raise err(f"model {m!r}: an SWC file has no mechanisms; allowed: a cell YAML file "
                      "with morphology: FILE.swc and its mechanisms", *at, "model")
        try:
            if isinstance(m, str):
                f = Path(m).expanduser()
                f = f if f.is_absolute() else folder / f
                if not f.is_file():
                    raise err(f"model {m!r}: no such cell file; allowed: a cell YAML file "
                              "(relative to the network file) or a cell mapping", *at, "model")
                cell = load_cell(f)
                src = str(f)
            elif isinstance(m, Mapping):
                cell = load_cell(m, base_dir=folder)
            else:
                raise err(f"model {m!r}; allowed: a cell YAML file or a cell mapping", *at,
                          "model")
        except CellError as exc:
            raise err(f"model: {exc}", *at) from None
        pops[pn] = CellPopulation(pn, size, cell, src)

    # parameters
    params_d = data.get("parameters") or {}
    if not isinstance(params_d, Mapping):
        raise err("parameters must be a mapping NAME: {default, low, high, unit}", "parameters")
    params: dict[str, NetParameter] = {}
    for qn, qd in params_d.items():
        params[qn] = _parameter(err, str(qn), qd, pops)

    def value(v, unit: str, *at, positive: bool = False):
        """A number in ``unit``, or a parameter's name (of that unit)."""
        if isinstance(v, str) and v.strip() in params:
            q = params[v.strip()]
            if q.pop is not None:
                raise err(f"{v!r} is a cell address; allowed: a network parameter", *at)
            if parse_unit(q.unit).dims != parse_unit(unit).dims:
                raise err(f"parameter {v!r} is in {q.unit}; allowed: a value in {unit}", *at)
            return v.strip()
        x = _quantity(err, v, unit, *at, names=list(params))
        if x < 0 or (positive and x == 0):
            raise err(f"{x:g} {unit}; allowed: a number {'>' if positive else '>='} 0 {unit}",
                      *at)
        return x

    # projections
    projs: list[CellProjection] = []
    proj_d = data.get("projections") or {}
    if not isinstance(proj_d, Mapping):
        raise err("projections must be a mapping NAME: {pre, post, ...}", "projections")
    for jn, jd in proj_d.items():
        at = ("projections", jn)
        if not isinstance(jd, Mapping):
            raise err("allowed: a mapping {pre, post, connect, synapse, weight, delay}", *at)
        _keys(err, jd, PROJ_KEYS, *at)
        for end in ("pre", "post"):
            if jd.get(end) not in pops:
                raise err(f"{end} {jd.get(end)!r}; allowed: {', '.join(pops)}", *at, end)
        pre, post = jd["pre"], jd["post"]
        rule = _connect(err, jd.get("connect"), folder, *at, "connect")
        syn = _synapse(err, jd.get("synapse"), pops[post].cell, *at, "synapse")
        weight = value(jd.get("weight"), "uS", *at, "weight")
        if "delay" not in jd:
            raise err(f"no delay; allowed: a time >= dt ({dt:g} ms)", *at, "delay")
        delay = _quantity(err, jd["delay"], "ms", *at, "delay")
        if delay < 0:
            raise err(f"delay {delay:g} ms; allowed: a time >= dt ({dt:g} ms)", *at, "delay")
        if delay < dt:
            raise err(f"delay {delay:g} ms is shorter than dt {dt:g} ms; allowed: >= dt (a "
                      "spike reaches its targets in a later step)", *at, "delay")
        projs.append(CellProjection(str(jn), pre, post, rule, syn, weight, delay))

    # inputs
    inputs: list[CellInput] = []
    in_d = data.get("inputs") or {}
    if not isinstance(in_d, Mapping):
        raise err("inputs must be a mapping NAME: {target, rate, n, synapse, weight}", "inputs")
    for iname, idef in in_d.items():
        at = ("inputs", iname)
        if not isinstance(idef, Mapping):
            raise err("allowed: a mapping {target, rate, n, synapse, weight}", *at)
        _keys(err, idef, INPUT_KEYS, *at)
        tgt = idef.get("target")
        if tgt not in pops:
            raise err(f"target {tgt!r}; allowed: {', '.join(pops)}", *at, "target")
        n = idef.get("n", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise err(f"n {n!r}; allowed: a positive integer", *at, "n")
        rate = value(idef.get("rate"), "Hz", *at, "rate")
        syn = _synapse(err, idef.get("synapse"), pops[tgt].cell, *at, "synapse")
        weight = value(idef.get("weight"), "uS", *at, "weight")
        inputs.append(CellInput(str(iname), tgt, rate, n, syn, weight))

    # surrogate populations: what feeds each surrogate parameter
    for pn, pop in list(pops.items()):
        if pop.is_surrogate:
            pops[pn] = _bindings(err, pop, pops_d[pn].get("map"), projs, inputs)

    # outputs: pooled rates of populations
    out_d = data.get("outputs")
    outputs = []
    if out_d is None:
        outputs = [(f"rate_{pn}", (pn,)) for pn in pops]
    elif not isinstance(out_d, Mapping) or not out_d:
        raise err("outputs must be a mapping NAME: {rate: POP or [POP, ...]}", "outputs")
    else:
        for on, od in out_d.items():
            at = ("outputs", on)
            if not (isinstance(on, str) and on.isidentifier()):
                raise err(f"output name {on!r}; allowed: an identifier", *at)
            if not isinstance(od, Mapping) or list(od) != ["rate"]:
                raise err(f"{od!r}; allowed: {{rate: POP or [POP, ...]}} (the pooled rate, Hz)",
                          *at)
            which = od["rate"] if isinstance(od["rate"], list) else [od["rate"]]
            bad = [w for w in which if w not in pops]
            if bad or not which:
                raise err(f"rate of {bad[0] if bad else '[]'!r}; allowed: {', '.join(pops)}",
                          *at, "rate")
            outputs.append((on, tuple(which)))

    n_steps = round(duration / dt)
    if abs(n_steps * dt - duration) > 1e-9 * duration:
        raise err(f"dt {dt:g} ms does not divide duration {duration:g} ms; allowed: "
                  f"{duration:g}/k ms for a whole k", "settings", "dt")
    net = CellNetwork(name, tuple(pops.values()), tuple(projs), tuple(inputs),
                      tuple(params.values()), float(duration), float(dt), where,
                      str(data.get("description", "")), window, integrator,
                      tuple(outputs))  # fmt: skip
    for j in projs:  # rules that cannot be drawn (in_degree > size...) refused here
        if j.rule["kind"] in ("in_degree", "out_degree", "one_to_one"):
            try:
                net.graph(0)
            except ModelError as exc:
                raise CellNetworkError(str(exc)) from None
            break
    return net


def _keys(err, d: Mapping, allowed, *at) -> None:
    bad = [k for k in d if k not in allowed]
    if bad:
        raise err(f"unknown key {bad[0]!r}; allowed: {', '.join(allowed)}", *at)


def _quantity(err, v, unit: str, *at, names: list[str] | None = None) -> float:
    """A number in ``unit`` (a bare number is taken in ``unit``) or a string with a unit of
    the same dimension ('2 nS'), converted to ``unit``."""
    try:
        want = parse_unit(re.sub(r"([A-Za-z])(\d+)", r"\1**\2", unit).replace(" ", "*"))
    except ExpressionError:  # a cell unit the unit parser does not read: numbers only
        want = None
    try:
        x, dim, utext = parse_quantity(v)
    except ExpressionError:
        extra = f", or a parameter ({', '.join(names)})" if names else ""
        raise err(f"{v!r}; allowed: a number in {unit} or a quantity like '1 {unit}'{extra}",
                  *at) from None
    if utext == "1":
        return float(x)
    if want is None or dim.dims != want.dims:
        raise err(f"{v!r}; allowed: a value in {unit}", *at)
    return float(x * float(dim.factor / want.factor))


def _location(err, text, cell: CellDescription, *at) -> tuple[str, float]:
    m = _LOC.match(str(text)) if isinstance(text, str) else None
    if m is None:
        raise err(f"at {text!r}; allowed: SECTION(x), e.g. dend(0.5)", *at)
    sec, xs = m.group(1), m.group(2)
    try:
        x = float(xs)
    except ValueError:
        raise err(f"at {text!r}: x={xs!r}; allowed: a number in [0, 1]", *at) from None
    if sec not in cell.sections:
        names = list(cell.sections)
        shown = ", ".join(names[:8]) + (f" ... ({len(names)} sections)" if len(names) > 8 else "")
        raise err(f"at {text!r}: unknown section {sec!r} of cell {cell.name}; allowed: {shown}",
                  *at)
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise err(f"at {text!r}: x={x:g}; allowed: 0 <= x <= 1", *at)
    return sec, x


def _synapse(err, sd, cell: CellDescription | None, *at) -> Synapse | None:
    if cell is None:  # onto a surrogate population: its training input's synapse stands in
        if sd is not None and not isinstance(sd, Mapping):
            raise err(f"synapse {sd!r}; allowed: a mapping (unused: a surrogate population's "
                      "synapse is its training input's)", *at)
        return None
    if not isinstance(sd, Mapping):
        raise err(f"synapse {sd!r}; allowed: {{model: expsyn|exp2syn, ..., at: SECTION(x)}}",
                  *at)
    kind = str(sd.get("model", "")).lower()
    if kind not in SYNAPSES:
        raise err(f"synapse model {sd.get('model')!r}; allowed: ExpSyn (tau, e) or Exp2Syn "
                  "(tau1, tau2, e), NEURON's", *at, "model")
    _keys(err, sd, ("model", "at", *SYNAPSES[kind]), *at)
    if "at" not in sd:
        raise err("no location; allowed: at: SECTION(x)", *at)
    sec, x = _location(err, sd["at"], cell, *at, "at")
    # NEURON's defaults (expsyn.mod: tau 0.1 ms; exp2syn.mod: tau1 0.1 ms, tau2 10 ms; e 0 mV)
    vals = {"tau": 0.1, "tau1": 0.1, "tau2": 10.0, "e": 0.0}
    for k in SYNAPSES[kind]:
        if k in sd:
            vals[k] = _quantity(err, sd[k], SYN_UNITS[k], *at, k)
        if k != "e" and not vals[k] > 0:
            raise err(f"{k}={vals[k]:g} ms; allowed: > 0 ms", *at, k)
    if kind == "expsyn":
        return Synapse(kind, vals["tau"], vals["tau"], vals["e"], sec, x)
    return Synapse(kind, vals["tau1"], vals["tau2"], vals["e"], sec, x)


def _connect(err, c, folder: Path, *at) -> dict:
    """A connect rule, in the dict form the network descriptions' ``_draw`` takes."""
    if c in ("all_to_all", "one_to_one"):
        return {"kind": c, "autapses": c == "one_to_one"}
    allowed = ("all_to_all, one_to_one, {p: P}, {in_degree: K}, {out_degree: K}, "
               "{pairs: [[pre...], [post...]]}, {file: PATH} (with autapses: true|false)")
    if not isinstance(c, Mapping):
        raise err(f"connect {c!r}; allowed: {allowed}", *at)
    kinds = [k for k in ("p", "in_degree", "out_degree", "pairs", "file") if k in c]
    if len(kinds) != 1:
        raise err(f"connect {dict(c)!r}; allowed: {allowed}", *at)
    kind = kinds[0]
    _keys(err, c, (kind, "autapses"), *at)
    aut = c.get("autapses", False)
    if not isinstance(aut, bool):
        raise err(f"autapses {aut!r}; allowed: true or false", *at, "autapses")
    v = c[kind]
    if kind == "p":
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise err(f"p {v!r}; allowed: a number in [0, 1]", *at, "p")
        return {"kind": "p", "p": float(v), "autapses": aut}
    if kind in ("in_degree", "out_degree"):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise err(f"{kind} {v!r}; allowed: a non-negative integer", *at, kind)
        return {"kind": kind, "k": v, "autapses": aut}
    if kind == "file":
        f = Path(str(v))
        f = f if f.is_absolute() else folder / f
        if not f.is_file():
            raise err(f"no such graph file {str(f)!r}", *at, "file")
        return {"kind": "file", "file": str(f), "autapses": aut}
    from neuroscape.core.connectivity import _canonical
    from neuroscape.models.network.description import _Pairs

    try:
        e = np.asarray(v)
    except (ValueError, TypeError):
        e = np.zeros(0)
    if e.ndim != 2 or e.shape[0] != 2 or (e.size and not np.issubdtype(e.dtype, np.integer)):
        raise err("pairs must be two equal-length lists of integer indices [[pre, ...], "
                  "[post, ...]]", *at, "pairs")
    return {"kind": "pairs", "edges": _Pairs(_canonical(e.astype(np.int64).reshape(2, -1))),
            "autapses": aut}


def _surrogate_population(err, pn: str, size: int, pd: Mapping, folder: Path) -> CellPopulation:
    """A population of Poisson cells whose rate a surrogate gives (its folder checked here; the
    surrogate itself is read by ``neuroscape.surrogate.hybrid``, a layer above)."""
    at = ("populations", pn)
    if "model" in pd:
        raise err("model and surrogate both given; allowed: one of them", *at)
    s = pd["surrogate"]
    if not isinstance(s, str) or not s.strip():
        raise err(f"surrogate {s!r}; allowed: the folder of a saved surrogate (relative to the "
                  "network file)", *at, "surrogate")
    f = Path(s).expanduser()
    f = f if f.is_absolute() else folder / f
    if not (f / "surrogate.json").is_file():
        raise err(f"surrogate {s!r}: no saved surrogate there (surrogate.json); allowed: a "
                  "folder written by neuroscape surrogate train or Surrogate.save", *at,
                  "surrogate")
    tau = None
    if "rate_tau" in pd:
        tau = _quantity(err, pd["rate_tau"], "ms", *at, "rate_tau")
        if not (math.isfinite(tau) and tau > 0):
            raise err(f"rate_tau={tau:g} ms; allowed: > 0 ms", *at, "rate_tau")
    m = pd.get("map")
    if m is not None and not isinstance(m, Mapping):
        raise err(f"map {m!r}; allowed: a mapping PARAM: {{from: [SOURCE, ...], n, weight}} or "
                  "PARAM: VALUE", *at, "map")
    return CellPopulation(pn, size, None, "", str(f.resolve()), tau)


def _bindings(err, pop: CellPopulation, m, projs, inputs) -> CellPopulation:
    """``map`` of a surrogate population: PARAM: VALUE (fixed) or PARAM: {from: SOURCES, n,
    weight} (SOURCES: inputs and projections onto the population; n, weight: the training
    input's, filled from the training network when left out)."""
    from dataclasses import replace

    at = ("populations", pop.name, "map")
    onto = [j.name for j in projs if j.post == pop.name] + [
        i.name for i in inputs if i.target == pop.name]  # fmt: skip
    if any(j.post == pop.name for j in projs) and pop.rate_tau_ms is None:
        raise err("a projection feeds this surrogate population but no rate_tau is given; "
                  "allowed: rate_tau: TIME (the running average of the incoming rates, e.g. "
                  "20 ms)", "populations", pop.name)
    out, used = [], {}
    for param, b in (m or {}).items():
        here = (*at, param)
        if isinstance(b, bool):
            raise err(f"{b!r}; allowed: a number or {{from, n, weight}}", *here)
        if isinstance(b, int | float):
            if not math.isfinite(b):
                raise err(f"{b!r}; allowed: a finite number (in the parameter's unit)", *here)
            out.append(SurrogateBinding(str(param), value=float(b)))
            continue
        if not isinstance(b, Mapping):
            raise err(f"{b!r}; allowed: a number or {{from, n, weight}}", *here)
        _keys(err, b, MAP_KEYS, *here)
        src = b.get("from")
        src = [src] if isinstance(src, str) else src
        if not isinstance(src, list) or not src:
            raise err(f"from {b.get('from')!r}; allowed: an input or projection onto "
                      f"{pop.name} or a list of them ({', '.join(onto) or 'none declared'})",
                      *here, "from")
        for s_ in src:
            if s_ not in onto:
                raise err(f"from {s_!r}; allowed: inputs and projections onto {pop.name} "
                          f"({', '.join(onto) or 'none declared'})", *here, "from")
            if s_ in used:
                raise err(f"from {s_!r}: already feeds {used[s_]}; allowed: each source feeds "
                          "one parameter", *here, "from")
            used[s_] = param
        n = b.get("n")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise err(f"n {n!r}; allowed: a positive integer (the training input's sources)",
                      *here, "n")
        w = None
        if b.get("weight") is not None:
            w = _quantity(err, b["weight"], "uS", *here, "weight")
            if not (math.isfinite(w) and w > 0):
                raise err(f"weight {w:g} uS; allowed: > 0 uS (the training input's weight)",
                          *here, "weight")
        out.append(SurrogateBinding(str(param), tuple(src), n, w))
    return replace(pop, bindings=tuple(out))


def _parameter(err, qn: str, qd, pops: dict[str, CellPopulation]) -> NetParameter:
    at = ("parameters", qn)
    if not isinstance(qd, Mapping):
        raise err("allowed: a mapping {default, low, high, unit}", *at)
    _keys(err, qd, PARAM_KEYS, *at)
    head, _, rest = qn.partition(".")
    if rest:  # a cell address of a population
        if head not in pops:
            raise err(f"{qn!r}: no population {head!r}; allowed: POP.ADDRESS with POP one of "
                      f"{', '.join(pops)}", *at)
        cell = pops[head].cell
        if cell is None:
            raise err(f"{qn!r}: population {head} is a surrogate, which has no cell values; "
                      "allowed: POP.ADDRESS of a population of cells", *at)
        try:
            written = cell.value(rest)
            unit = cell.unit_of(rest)
        except CellError as exc:
            raise err(f"{exc}", *at) from None
        conv = {k: _quantity(err, qd[k], unit, *at, k) for k in ("default", "low", "high")
                if k in qd}  # fmt: skip
        default = conv.get("default", written)
        pop, address = head, rest
    else:
        if not qn.isidentifier():
            raise err(f"parameter name {qn!r}; allowed: an identifier or POP.ADDRESS", *at)
        unit = str(qd.get("unit", ""))
        if not unit:  # the unit of the default ('0.004 uS')
            try:
                _, _, unit = parse_quantity(qd.get("default"))
            except ExpressionError:
                unit = "1"
        if unit not in ("uS", "Hz"):
            try:
                d = parse_unit(unit).dims
            except ExpressionError:
                d = None
            unit = "uS" if d == parse_unit("uS").dims else "Hz" if d == parse_unit(
                "Hz").dims else unit  # fmt: skip
        if unit not in ("uS", "Hz"):
            raise err(f"unit {unit!r}; allowed: a weight (uS) or a rate (Hz), given by unit: "
                      "or the default's unit", *at)
        conv = {k: _quantity(err, qd[k], unit, *at, k) for k in ("default", "low", "high")
                if k in qd}  # fmt: skip
        if "default" not in conv:
            raise err("no default; allowed: default: VALUE", *at)
        default = conv["default"]
        pop = address = None
    low, high = conv.get("low", default), conv.get("high", default)
    if not low <= default <= high:
        raise err(f"default {default:g} is outside [{low:g}, {high:g}]", *at)
    return NetParameter(qn, float(default), float(low), float(high), unit, pop, address)


# ---------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True, repr=False)
class CellNetworkModel(Model):
    """A network of cells as a model: its parameters (network values and cell addresses
    ``POP.ADDRESS``), one output per population (its rate over the rate window, Hz) and its
    settings (the description's duration and dt, Crank-Nicolson). Its batch is
    ``neuroscape.sim.cell_network.CellNetworkBatch`` (one graph, ``conn_seed``)."""

    kind = "cell_network"
    run_options = ("conn_seed",)

    spec: ModelSpec
    network: CellNetwork

    def batch(self, conn_seed: int = 0):  # pragma: no cover - the engine builds it (sim)
        raise ModelError("networks of cells run through neuroscape.sim.cell_network."
                         "CellNetworkBatch")


def cell_network_model(net: CellNetwork, version: str = "1") -> CellNetworkModel:
    """The model of ``net``."""
    params = tuple(
        Parameter(q.name, q.default, q.low, q.high, q.unit,
                  f"{q.address} of population {q.pop}'s cells" if q.pop else
                  f"network value ({q.unit})")
        for q in net.parameters)  # fmt: skip
    outputs = tuple(
        Output(on, "Hz", "mean rate of " + " + ".join(
            f"{pn} ({net.population(pn).size} {_kind_of(net.population(pn))})"
            for pn in pops))
        for on, pops in net.outputs)  # fmt: skip
    scheme = ("Crank-Nicolson (NEURON's secondorder = 2)" if net.integrator == "crank_nicolson"
              else "backward Euler (NEURON's secondorder = 0)")
    settings = DefaultSettings(net.duration_ms, net.dt_ms, net.window_ms, net.integrator,
                               f"{scheme}, the description's duration and dt")
    name = net.name if net.name.isidentifier() else "cell_network"
    spec = ModelSpec(name, version, net.description or f"network of cells ({net.n_cells} cells, "
                     f"populations {', '.join(net.sizes)})", params, outputs, settings=settings)
    return CellNetworkModel(spec, net)


def _kind_of(pop: CellPopulation) -> str:
    if pop.is_surrogate:
        return f"Poisson cells at the rate of the surrogate {Path(pop.surrogate).name}"
    return f"cells of {pop.cell.name}"


def load_cell_network_model(path: str | Path) -> CellNetworkModel:
    """The model of the network-of-cells file ``path``."""
    p = Path(path).expanduser()
    model = cell_network_model(load_cell_network(p))
    return ModelSource.of(p).stamp(model)


__all__ = [
    "CellInput",
    "CellNetworkModel",
    "CellNetwork",
    "CellNetworkError",
    "CellPopulation",
    "CellProjection",
    "NetParameter",
    "SurrogateBinding",
    "Synapse",
    "build_cell_network",
    "cell_network_model",
    "is_cell_network",
    "load_cell_network",
    "load_cell_network_model",
]
