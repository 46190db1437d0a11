"""Neuron models written as Brian2-style equations (YAML files or ``equation_model(...)``).

Internal unit system: time is in ms; every state, parameter and the injected current are
numbers in the unit *declared* for them (the state's ``: unit`` in its equation, the unit of the
parameter's ``default``, the current's ``unit``). The equations are parsed in SI (a symbol
declared in mV stands for 1e-3 * its number, exactly, as a sympy Rational), checked for
dimensions, and rescaled so that each generated ``rhs`` returns d(state)/dt in the state's
declared unit per ms. So ``--set C=281`` means 281 pF when C was declared in pF.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import sympy

from neuroscape.core.spec import DefaultSettings, ModelSpec, Parameter, ParameterError
from neuroscape.models.contract import ModelError, ModelSource
from neuroscape.models.equations.codegen import HEADER, Printer, jit_function
from neuroscape.models.equations.exact import exact_step_source
from neuroscape.models.equations.expressions import (
    ExpressionError,
    convert,
    lookup_chain,
    parse,
    parse_quantity,
    parse_unit,
    to_sympy,
)
from neuroscape.models.equations.gates import (
    DOPRI5,
    HH_DT_MS,
    HH_NOTE,
    gate_structure,
    scheme_name,
)
from neuroscape.models.equations.units import Dim
from neuroscape.models.neuron import NEURON_OUTPUTS, EquationSystem, NeuronModel

log = logging.getLogger("neuroscape")

KEYS = ("name", "description", "equations", "current", "threshold", "reset", "refractory",
        "spike_level", "initial", "parameters", "presets", "settings",
        "spike_timing")  # fmt: skip
SETTINGS_KEYS = ("duration", "dt", "integrator", "note", "max_dt")
SPIKE_TIMINGS = ("interpolated", "grid")
REQUIRED = ("name", "equations", "current", "initial")
MS = sympy.Rational(1, 1000)  # one ms in s


class EquationError(ModelError):
    """An equation file or ``equation_model`` call that cannot be loaded (one line, with the file
    and line)."""


class _Where:
    """Locations for messages: 'FILE:LINE: ' for a YAML file, 'equation_model(NAME) KEY: ' from
    Python."""

    def __init__(self, origin: str, lines: Mapping[tuple, int] | None = None,
                 block: Mapping[str, int] | None = None) -> None:  # fmt: skip
        self.origin = origin
        self.lines = lines or {}
        self.block = block or {}  # key -> line of the first line of its text

    def __call__(self, *path, offset: int | None = None) -> str:
        key = tuple(path)
        if offset is not None and path and path[0] in self.block:
            return f"{self.origin}:{self.block[path[0]] + offset}: "
        while key:
            if key in self.lines:
                return f"{self.origin}:{self.lines[key]}: "
            key = key[:-1]
        if () in self.lines:  # a missing key: the mapping it belongs in
            return f"{self.origin}:{self.lines[()]}: "
        if offset is not None:
            return f"{self.origin}: {path[0]} line {offset + 1}: "
        return f"{self.origin}: {'.'.join(str(p) for p in path)}: " if path else f"{self.origin}: "

    def error(self, msg: str, *path, offset: int | None = None) -> EquationError:
        return EquationError(self(*path, offset=offset) + " ".join(str(msg).split()))


@dataclass
class _Sym:
    name: str
    dim: Dim
    unit: str
    code: sympy.Symbol  # the positional symbol of the generated functions (y0, p3, cur)

    @property
    def si(self):
        return self.dim.factor * self.code


# ---------------------------------------------------------------------------------------------
# the YAML file


def _yaml_with_lines(path: Path) -> tuple[dict, _Where]:
    import yaml

    origin = str(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise EquationError(f"{origin}: cannot read: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        problem = " ".join(problem.split())
        raise EquationError(f"{origin}{line}: YAML syntax error: {problem}") from None
    except RecursionError:
        raise EquationError(f"{origin}: YAML nested too deeply") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise EquationError(f"{origin}:1: the file must be a mapping of keys ({', '.join(KEYS)})")
    lines: dict[tuple, int] = {}
    block: dict[str, int] = {}

    def walk(node, path):
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    lines[(*path, k.value)] = k.start_mark.line + 1
                    walk(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))
        elif len(path) == 1:
            # the text of a block scalar ('|') starts on the line after the '|'
            block[path[0]] = node.start_mark.line + (2 if node.style in ("|", ">") else 1)

    try:
        walk(root, ())
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise EquationError(f"{origin}: YAML error: {' '.join(str(exc).split())}") from None
    return data, _Where(origin, lines, block)


_FILES: dict[tuple[str, str], NeuronModel] = {}


def load_model_file(path: str | Path) -> NeuronModel:
    """The neuron model of an equation file (YAML; keys: see ``equation_model``). Loading the same
    unchanged file again returns the same object (keyed by path and content hash)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise EquationError(f"{path}: no such equation file")
    source = ModelSource.of(p)
    key = (source.file, source.sha256)
    if key in _FILES:
        return _FILES[key]
    data, where = _yaml_with_lines(p)
    model = _guarded_build(data, where, origin=source.file)
    source.stamp(model)
    _FILES[key] = model
    return model


def equation_model(
    name: str,
    equations: str,
    current: Mapping[str, str],
    initial: Mapping[str, str | float],
    parameters: Mapping[str, Mapping] | None = None,
    *,
    description: str = "",
    threshold: str | None = None,
    reset: str | None = None,
    refractory: str | float | None = None,
    spike_level: str | float | None = None,
    presets: Mapping[str, Mapping[str, str | float]] | None = None,
    settings: Mapping[str, str | float] | None = None,
    spike_timing: str | None = None,
) -> NeuronModel:
    """A neuron model from Brian2-style equations (Stimberg, Brette and Goodman 2019, eLife
    8:e47314), the fields of an equation file.

    equations: lines ``dx/dt = expr : unit`` (the first is the membrane potential) and
    ``y = expr : unit`` (sub-expressions); current: ``{name: I, unit: pA}``, the symbol the
    stimulus drives; threshold/reset (``v > V_cut``; ``v = V_r`` lines, ``w += b``) for
    integrate-and-fire models, or spike_level (``0 mV``) for models without reset;
    refractory: a time (``2 ms``) or a parameter's name (in ms); initial: ``{state: '-70 mV'}``
    (a quantity or an expression of parameters); parameters: ``{name: {default: '281 pF',
    low: ..., high: ..., description: ...}}``; presets: ``{preset: {param: value}}``;
    settings: ``{duration: '1000 ms', dt: '0.1 ms', integrator: rk4, note: ...}``, the declared
    defaults (else chosen from the equations); spike_timing: 'interpolated' (default: the
    crossing is found inside the step, the reset happens then) or 'grid' (Brian2's semantics:
    the spike and reset at the end of the crossing step).
    """
    fields = {
        "name": name, "description": description, "equations": equations, "current": current,
        "threshold": threshold, "reset": reset, "refractory": refractory,
        "spike_level": spike_level, "initial": initial, "parameters": parameters or {},
        "presets": presets or {}, "settings": settings, "spike_timing": spike_timing,
    }  # fmt: skip
    fields = {k: v for k, v in fields.items() if v is not None}
    where = _Where(f"equation_model({name!r})")
    return _guarded_build(fields, where, origin=f"equation_model({name!r})")


def _guarded_build(data: dict, where: _Where, origin: str) -> NeuronModel:
    """``_build``, with the arithmetic limits of sympy and Python (a constant like
    exp(exp(exp(100))) has too many digits to print) turned into the one-line error."""
    try:
        return _build(data, where, origin)
    except EquationError:
        raise
    except ValueError as exc:  # code generation met a value it cannot print (sqrt(-2) = I)
        raise where.error(f"cannot compile the equations: {exc} (a constant that is not a "
                          "real number?)") from None
    except (OverflowError, RecursionError, MemoryError, ZeroDivisionError) as exc:
        what = " ".join(str(exc).split()) or type(exc).__name__
        raise where.error(f"cannot compile the equations: {what} (a constant too large or "
                          "an expression nested too deeply)") from None


# ---------------------------------------------------------------------------------------------
# building


def _text(data: dict, key: str, where: _Where) -> str:
    v = data[key]
    if not isinstance(v, str):
        raise where.error(f"{key} must be text, got {v!r}", key)
    return v


def _unit_of(text, where: _Where, *path) -> tuple[Dim, str]:
    try:
        return parse_unit(text), str(text).strip()
    except ExpressionError as exc:
        raise where.error(f"unit does not parse: {exc}", *path) from None


def _quantity(value, where: _Where, *path) -> tuple[float, Dim, str]:
    try:
        return parse_quantity(value)
    except ExpressionError as exc:
        raise where.error(f"{'.'.join(map(str, path))}: {exc}", *path) from None


_EQ_FLAGS = re.compile(r"\(\s*([A-Za-z_ ,]+?)\s*\)\s*$")
_DIFF = re.compile(r"^\s*d\s*([A-Za-z_]\w*)\s*/\s*dt\s*$")


def declared_parameters(params_in, where: _Where) -> tuple[dict[str, _Sym], list[Parameter]]:
    """The ``parameters`` block of a file: each as a symbol (``p0``, ``p1``... in its unit) and
    as a declared Parameter (default, bounds, hard limits, description)."""
    if not isinstance(params_in, dict):
        raise where.error("parameters must map names to {default, low, high}", "parameters")
    params: dict[str, _Sym] = {}
    declared: list[Parameter] = []
    for j, (pname, pdef) in enumerate(params_in.items()):
        at = ("parameters", pname)
        if not (isinstance(pname, str) and pname.isidentifier()):
            raise where.error(f"parameter name {pname!r}; allowed: a Python identifier", *at)
        if not isinstance(pdef, dict):
            raise where.error(f"parameter {pname}: give {{default, low, high}}", *at)
        fields = ("default", "low", "high", "hard_low", "hard_high", "description")
        bad = [k for k in pdef if k not in fields]
        if bad:
            raise where.error(
                f"parameter {pname}: unknown field {bad[0]!r}; allowed: {', '.join(fields)}",
                *at, bad[0])
        for k in ("default", "low", "high"):
            if k not in pdef or pdef[k] is None:
                raise where.error(f"parameter {pname}: missing key {k!r}", *at)
        d_val, d_dim, d_unit = _quantity(pdef["default"], where, *at, "default")
        vals = {"default": d_val}
        # hard_low/hard_high: limits no run may cross even with allow_outside (e.g. tau > 0)
        hard = {"hard_low": -float("inf"), "hard_high": float("inf")}
        for k in [k for k in ("low", "high", "hard_low", "hard_high") if pdef.get(k) is not None]:
            v, dim, _ = _quantity(pdef[k], where, *at, k)
            if not dim.same(d_dim):
                raise where.error(
                    f"parameter {pname}: {k} is in {dim.describe()}, default in "
                    f"{d_dim.describe()}; they must convert to one unit", *at, k)
            (hard if k.startswith("hard") else vals)[k] = convert(v, dim, d_dim)
        desc = pdef.get("description", "")
        if not isinstance(desc, str):
            raise where.error(f"parameter {pname}: description must be text", *at)
        try:
            declared.append(Parameter(pname, vals["default"], vals["low"], vals["high"], d_unit,
                                      desc, hard["hard_low"], hard["hard_high"]))
        except ParameterError as exc:
            raise where.error(str(exc), *at) from None
        params[pname] = _Sym(pname, d_dim, d_unit, sympy.Symbol(f"p{j}"))

    return params, declared


def _build(data: dict, where: _Where, origin: str) -> NeuronModel:
    if not isinstance(data, dict):
        raise where.error("the model must be a mapping of keys")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise where.error(f"unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}", unknown[0])
    for k in REQUIRED:
        if k not in data or data[k] is None:
            raise where.error(f"missing key {k!r}")
    name = data["name"]
    if not (isinstance(name, str) and name.isidentifier()):
        raise where.error(f"name {name!r}; allowed: a Python identifier", "name")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise where.error("description must be text", "description")

    # --- parameters -------------------------------------------------------------------------
    params, declared = declared_parameters(data.get("parameters") or {}, where)

    # --- current ----------------------------------------------------------------------------
    cur_in = data["current"]
    if not (isinstance(cur_in, dict) and "name" in cur_in and "unit" in cur_in):
        raise where.error("current must be {name: I, unit: pA}: missing key 'name' or 'unit'",
                          "current")
    cur_name = cur_in["name"]
    if not (isinstance(cur_name, str) and cur_name.isidentifier()):
        raise where.error(f"current name {cur_name!r}; allowed: a Python identifier", "current")
    if set(cur_in) - {"name", "unit"}:
        raise where.error("current takes only name and unit", "current")
    cur_dim, cur_unit = _unit_of(cur_in["unit"], where, "current", "unit")
    if cur_name in params:
        raise where.error(f"the current {cur_name!r} is also a parameter", "current")
    current = _Sym(cur_name, cur_dim, cur_unit, sympy.Symbol("cur"))

    # --- equation lines ---------------------------------------------------------------------
    eq_text = _text(data, "equations", where)
    states: dict[str, _Sym] = {}
    diff_lines: list[tuple[str, str, int, set[str]]] = []  # (state, expr text, offset, flags)
    subs_text: dict[str, tuple[str, Dim, int]] = {}
    for off, raw in enumerate(eq_text.split("\n")):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue

        def err(msg, _off=off):
            return where.error(msg, "equations", offset=_off)

        if ":" not in line:
            raise err(f"syntax error in {line!r}: an equation ends with ': unit'")
        body, unit_part = line.rsplit(":", 1)
        flags: set[str] = set()
        m = _EQ_FLAGS.search(unit_part)
        if m:
            flags = {f.strip() for f in m.group(1).split(",") if f.strip()}
            unit_part = unit_part[: m.start()]
        try:
            dim = parse_unit(unit_part)
        except ExpressionError as exc:
            raise err(f"unit does not parse: {exc}") from None
        unit_s = unit_part.strip()
        if "=" not in body:
            pname = body.strip()
            if pname in params:  # a Brian2 parameter line: the declared unit must agree
                if not params[pname].dim.same(dim):
                    raise err(f"parameter {pname} is declared in {params[pname].dim.describe()}, "
                              f"the equation line says {dim.describe()}")
                continue
            raise err(f"syntax error in {line!r}: expected 'dx/dt = expr : unit' or "
                      "'y = expr : unit'")
        lhs, rhs = body.split("=", 1)
        if not rhs.strip():
            raise err(f"syntax error in {line!r}: nothing after '='")
        md = _DIFF.match(lhs)
        if md:
            x = md.group(1)
            bad_flags = flags - {"unless refractory"}
            if bad_flags:
                raise err(f"flag {sorted(bad_flags)[0]!r}; allowed: (unless refractory)")
            if x in states:
                raise err(f"{x} has two differential equations")
            states[x] = _Sym(x, dim, unit_s, sympy.Symbol(f"y{len(states)}"))
            diff_lines.append((x, rhs, off, flags))
        else:
            y = lhs.strip()
            if not y.isidentifier():
                raise err(f"syntax error in {line!r}: the left side must be dx/dt or a name")
            if flags:
                raise err(f"flags {sorted(flags)} are only allowed on differential equations")
            if y in subs_text:
                raise err(f"sub-expression {y} is defined twice")
            subs_text[y] = (rhs, dim, off)
    if not states:
        raise where.error("no differential equation 'dx/dt = expr : unit' in equations",
                          "equations")
    taken: dict[str, str] = {}
    for kind, names_ in (("parameter", params), ("state", states), ("sub-expression", subs_text),
                         ("current", {cur_name: 0})):  # fmt: skip
        for n in names_:
            if n in taken:
                raise where.error(f"{n!r} is both a {taken[n]} and a {kind}", "equations")
            taken[n] = kind
    for x, *_ in diff_lines:
        if x in ("t", "dt") or x in ("xi",):
            raise where.error(f"state name {x!r} is reserved", "equations")
    for i, (x, *_rest) in enumerate(diff_lines):
        if "unless refractory" in _rest[2] and i != 0:
            raise where.error(
                f"(unless refractory) on {x}: only the first state (the membrane potential) is "
                "held during the refractory period", "equations", offset=_rest[1])

    # sub-expressions: SI expressions, resolved on demand (any order, cycles refused)
    sub_si: dict[str, tuple] = {}
    resolving: list[str] = []

    def base_map(state_values: Mapping[str, sympy.Expr] | None = None) -> dict[str, tuple]:
        out = {n: (s.si, s.dim.dims) for n, s in params.items()}
        for n, s in states.items():
            si = s.si if state_values is None else s.dim.factor * state_values[n]
            out[n] = (si, s.dim.dims)
        out[cur_name] = (current.si, current.dim.dims)
        return out

    base = base_map()

    class _Subs(dict):
        def __contains__(self, key):
            return key in subs_text

        def __getitem__(self, key):
            if key not in sub_si:
                if key in resolving:
                    cycle = " -> ".join([*resolving[resolving.index(key):], key])
                    raise where.error(f"sub-expressions refer to each other in a cycle: {cycle}",
                                      "equations", offset=subs_text[key][2])
                resolving.append(key)
                text, dim, off = subs_text[key]
                e, d = _expr(text, lookup_chain(base, self), where, "equations", off)
                if d != dim.dims:
                    raise where.error(
                        f"dimension mismatch in sub-expression {key}: the right side is in "
                        f"{_dname(d)}, declared {dim.describe()}", "equations", offset=off)
                resolving.pop()
                sub_si[key] = (e, d)
            return sub_si[key]

    subs = _Subs()
    for y in subs_text:
        subs[y]
    look = lookup_chain(base, subs)

    time_dim = parse_unit("ms")
    rhs_num: list[sympy.Expr] = []
    for x, text, off, _flags in diff_lines:
        e, d = _expr(text, look, where, "equations", off)
        want = states[x].dim / time_dim
        if d != want.dims:
            raise where.error(
                f"dimension mismatch in d{x}/dt: the right side is in {_dname(d)}, "
                f"d{x}/dt is in {want.describe()} ({states[x].unit}/time)", "equations",
                offset=off)
        # expanded so the unit factors meet and cancel exactly (nS*mV/pF is 1 mV/ms), then
        # common factors pulled out again (fewer operations)
        rhs_num.append(_tidy(e * MS / states[x].dim.factor))
    if not any(r.has(current.code) for r in rhs_num):
        raise where.error(
            f"the current {cur_name!r} does not appear in any differential equation; the "
            "stimulus drives it", "current")

    # --- threshold, reset, refractory, spike level ------------------------------------------
    s0 = next(iter(states.values()))
    has_reset = "threshold" in data and data["threshold"] is not None
    if has_reset and not data.get("reset"):
        raise where.error(
            "missing key 'reset': a model with a threshold needs a reset", "threshold"
        )
    if data.get("reset") and not has_reset:
        raise where.error("missing key 'threshold': a reset needs a threshold", "reset")
    if not has_reset and data.get("spike_level") is None:
        raise where.error("missing key: 'threshold' and 'reset' (integrate-and-fire) or "
                          "'spike_level' (models without reset)")
    if has_reset and data.get("spike_level") is not None:
        raise where.error("give either threshold/reset or spike_level, not both", "spike_level")
    no_cur = lookup_chain({k: v for k, v in base.items() if k != cur_name})

    def look_nocur(name, key):
        if name == cur_name:
            raise ExpressionError(f"the current {cur_name!r} cannot appear in the {key}")
        if name in subs_text:
            e, d = subs[name]
            if e.has(current.code):
                raise ExpressionError(
                    f"sub-expression {name} depends on the current {cur_name!r}, which cannot "
                    f"appear in the {key}")
            return e, d
        return no_cur(name)

    threshold_expr = reset_exprs = None
    grid_reason = None  # why a threshold model's spikes fall on the step grid by default
    threshold_level: str | float | None = None
    precise = False
    spike_level = 0.0
    if has_reset:
        threshold_expr, threshold_level = _threshold(
            _text(data, "threshold", where), lambda n: look_nocur(n, "threshold"), where, s0,
            params, states)
        timing = data.get("spike_timing", "interpolated")
        if timing not in SPIKE_TIMINGS:
            raise where.error(f"spike_timing {timing!r}; allowed: {', '.join(SPIKE_TIMINGS)}",
                              "spike_timing")
        # interpolated: the crossing time is found inside the step and the reset happens then
        # (needs a threshold 'v > level'); grid: the spike is registered at the end of the
        # crossing step and the reset happens there (Brian2's semantics, NEST's grid models)
        precise = threshold_level is not None and timing == "interpolated"
        if timing == "interpolated" and threshold_level is None:
            form = (f"the threshold {data['threshold'].strip()!r} is not 'state > level' with the "
                    "level a number or a parameter in the state's unit")
            if "spike_timing" in data and data["spike_timing"] is not None:
                raise where.error(f"spike_timing interpolated: {form}; allowed: such a threshold, "
                                  "or spike_timing grid", "spike_timing")
            grid_reason = f"spikes on the step grid: {form}"
            log.info("equation model %s: %s", name, grid_reason)
        reset_exprs = _reset(_text(data, "reset", where), states, params, subs_text, base,
                             lambda n: look_nocur(n, "reset"), where, cur_name)
    else:
        lv, dim, _ = _quantity(data["spike_level"], where, "spike_level")
        if not dim.same(s0.dim):
            raise where.error(f"spike_level is in {dim.describe()}, {s0.name} in "
                              f"{s0.dim.describe()}", "spike_level")
        spike_level = convert(lv, dim, s0.dim)
    refractory_param = None
    t_ref_ms = 0.0
    if data.get("refractory") is not None:
        if not has_reset:
            raise where.error("refractory needs a threshold and reset", "refractory")
        r = data["refractory"]
        if isinstance(r, str) and r.strip() in params:
            p = params[r.strip()]
            if not (p.dim.same(time_dim) and p.dim.factor == time_dim.factor):
                raise where.error(f"refractory parameter {p.name} must be declared in ms "
                                  f"(it is in {p.unit})", "refractory")
            refractory_param = p.name
        else:
            v, dim, _ = _quantity(r, where, "refractory")
            if not dim.same(time_dim):
                raise where.error(f"refractory is in {dim.describe()}; allowed: a time like "
                                  "'2 ms' or a parameter's name", "refractory")
            t_ref_ms = convert(v, dim, time_dim)
            if t_ref_ms < 0:
                raise where.error(f"refractory {r!r} is negative", "refractory")
    if t_ref_ms > 0:
        # a fixed refractory period is declared as a parameter (the engine reads t_ref from one)
        rp = "t_ref" if "t_ref" not in taken else "t_ref_fixed"
        declared.append(Parameter(rp, t_ref_ms, 0.0, max(2.0 * t_ref_ms, 1.0), "ms",
                                  "refractory period (fixed in the equation file)", 0.0))
        params[rp] = _Sym(rp, time_dim, "ms", sympy.Symbol(f"p{len(params)}"))
        refractory_param = rp

    # --- initial state ----------------------------------------------------------------------
    init_in = data["initial"]
    if not isinstance(init_in, dict):
        raise where.error("initial must map every state to a value", "initial")
    for k in init_in:
        if k not in states:
            raise where.error(f"initial value for {k!r}, which is not a state; states: "
                              f"{', '.join(states)}", "initial", k)
    init_exprs = []
    for x, s in states.items():
        if x not in init_in or init_in[x] is None:
            raise where.error(f"missing initial value for state {x!r}", "initial")
        v = init_in[x]
        try:
            val, dim, _ = parse_quantity(v)
            e, d = sympy.Rational(repr(float(val))) * dim.factor, dim.dims
        except ExpressionError:
            if not isinstance(v, str):
                raise where.error(f"initial {x}: {v!r} is not a quantity", "initial", x) from None
            e, d = _expr(v, lookup_chain({n: (p.si, p.dim.dims) for n, p in params.items()}),
                         where, "initial", None, x)
        if d != s.dim.dims:
            raise where.error(f"dimension mismatch: initial {x} is in {_dname(d)}, {x} in "
                              f"{s.dim.describe()}", "initial", x)
        init_exprs.append(_tidy(e / s.dim.factor))

    # --- presets ----------------------------------------------------------------------------
    presets: dict[str, dict[str, float]] = {}
    pre_in = data.get("presets") or {}
    if not isinstance(pre_in, dict):
        raise where.error("presets must map names to {parameter: value}", "presets")
    for pre, vals in pre_in.items():
        if not isinstance(vals, dict):
            raise where.error(f"preset {pre!r} must map parameters to values", "presets", pre)
        out = {}
        for k, v in vals.items():
            if k not in params:
                raise where.error(f"preset {pre}: unknown parameter {k!r}", "presets", pre, k)
            val, dim, _ = _quantity(v, where, "presets", pre, k)
            if not dim.same(params[k].dim):
                raise where.error(f"preset {pre}: {k} is in {dim.describe()}, declared in "
                                  f"{params[k].unit}", "presets", pre, k)
            out[k] = convert(val, dim, params[k].dim)
            spec_p = next(p for p in declared if p.name == k)
            if not spec_p.low <= out[k] <= spec_p.high:
                raise where.error(f"preset {pre}: {k}={out[k]:g} {params[k].unit} is outside its "
                                  f"bounds [{spec_p.low:g}, {spec_p.high:g}]", "presets", pre, k)
        presets[str(pre)] = out

    # --- linearity, integrator, code --------------------------------------------------------
    ys = [s.code for s in states.values()]
    linear = []
    for y, f in zip(ys, rhs_num, strict=True):
        a = sympy.diff(f, y)
        if a.has(y):
            linear = None
            break
        b = f.subs(y, 0)
        if b.has(sympy.zoo, sympy.nan, sympy.oo):
            linear = None
            break
        linear += [a, b]
    cond_linear = linear is not None
    # linear with constant coefficients and uncoupled (dx_i/dt = a_i x_i + b_i, a_i and b_i free
    # of every state): exponential Euler is then the exact solution over a step whose input is
    # constant (a step current), as Brian2's 'exact' method would give for these equations
    exact = cond_linear and all(
        not linear[2 * i].has(*ys) and not linear[2 * i + 1].has(*ys) for i in range(len(ys))
    )
    # linear with constant coefficients, coupled or not: the exact update (exact.py, Brian2's
    # 'exact'); the default for coupled systems (uncoupled ones keep exponential Euler: the same
    # numbers, and it runs on torch too)
    exact_src = exact_step_source(SimpleNamespace(
        states=tuple(ys), params=tuple(p.code for p in params.values()),
        current=current.code, rhs_free=tuple(rhs_num)), name)  # fmt: skip
    coupled_exact = exact_src is not None and not exact
    scheme = "exact" if coupled_exact else "exponential_euler" if cond_linear else "rk4"
    # HH-type (every gate driven by V alone): tabulated gates on staggered half steps (gates.py)
    gates, gate_why = gate_structure(states, params, current, rhs_num, has_reset)
    if gates is not None:
        scheme, why = DOPRI5, f"{gate_why}: {HH_NOTE}"
    elif exact:
        why = ("linear with constant coefficients: exponential Euler is exact between spikes "
               "for an input constant over the step")
    elif coupled_exact:
        why = ("linear with constant coefficients, coupled: the exact solution over a step for "
               "an input constant over it (Brian2's 'exact')")
    elif cond_linear:
        why = "conditionally linear (each derivative is linear in its own state)"
    else:
        why = "not conditionally linear"
    log.info("equation model %s: %s, integrated with %s", name, why, scheme)
    if gates is None:
        log.debug("equation model %s: no gate tables: %s", name, gate_why)
    dt = 0.1 if has_reset else (HH_DT_MS if gates is not None else 0.01)
    settings = DefaultSettings(
        duration_ms=1000.0, dt_ms=dt, integrator=scheme,
        note=f"chosen from the equations: {why}; dt {dt} ms "
        f"({'integrate-and-fire' if has_reset else 'no reset: spikes are resolved upstrokes'})",
    )  # fmt: skip
    settings, max_dt = _declared_settings(data, where, settings, time_dim)
    if grid_reason is not None:
        import dataclasses

        settings = dataclasses.replace(settings, note=f"{settings.note}; {grid_reason}")
    rhs_code, linear_code = rhs_num, linear
    if precise and threshold_level is not None:
        # Inside the step, the membrane potential the derivatives see is held at the threshold
        # (as NEST's aeif models hold V at V_peak): a runaway term (exp, v**2) evaluated beyond
        # it would overflow in an RK4 stage before the crossing is detected at the end of the
        # step. Below the threshold nothing changes; the crossing step still ends above it.
        lvl = (sympy.Float(threshold_level) if isinstance(threshold_level, float)
               else params[threshold_level].code)
        clamp = {ys[0]: sympy.Min(ys[0], lvl)}
        rhs_code = [e.xreplace(clamp) for e in rhs_num]
        if linear is not None:
            linear_code = [e.xreplace(clamp) for e in linear]
    n_p = len(params)
    ps = [f"p{j}" for j in range(n_p)]
    yl = [f"y{i}" for i in range(len(ys))]
    pr = Printer({})
    src = [HEADER.format(origin=origin)]
    try:
        src.append(jit_function("rhs", [*yl, "cur", *ps], rhs_code, pr))
        if cond_linear:
            src.append(jit_function("linear", [*yl, "cur", *ps], linear_code, pr))
        if has_reset:
            src.append(jit_function("threshold", [*yl, *ps], [threshold_expr], pr,
                                    tuple_out=False, cse=False))
            src.append(jit_function("reset", [*yl, *ps], reset_exprs, pr))
        if gates is not None:
            src.append(gates.source)
        if exact_src is not None:
            src.append(exact_src)
        pn = Printer({sympy.Symbol(f"p{j}"): f"p[:, {j}]" for j in range(n_p)}, lib="np")
        init = ["", "", "def initial(p):", "    p = np.asarray(p, dtype=float)",
                f"    out = np.empty((p.shape[0], {len(ys)}))"]  # fmt: skip
        for i, e in enumerate(init_exprs):
            init.append(f"    out[:, {i}] = {pn(e)}")
        init.append("    return out")
        src.append("\n".join(init) + "\n")
    except ValueError as exc:
        raise where.error(f"cannot compile: {exc}", "equations") from None
    source = "\n".join(src)
    module = _load(name, source)
    try:
        spec = ModelSpec(
            name=name, version="1", description=description, parameters=tuple(declared),
            outputs=NEURON_OUTPUTS, settings=settings,
        )  # fmt: skip
    except ParameterError as exc:  # e.g. names that differ only in case (a database column)
        raise where.error(str(exc), "parameters") from None
    return NeuronModel(
        spec=spec, module=module.__name__, states=tuple(states),
        initial_state=module.initial, current_unit=cur_unit,
        state_units=tuple(s.unit for s in states.values()), has_reset=has_reset,
        refractory_param=refractory_param, precise_reset=precise,
        threshold_level=threshold_level, spike_level=spike_level,
        hold_refractory="unless refractory" in diff_lines[0][3],
        conditionally_linear=cond_linear, max_dt_ms=max_dt, presets=presets,
        gate_tables=gates is not None, table_params=gates.table_params if gates else (),
        equations=EquationSystem(
            states=tuple(ys), params=tuple(p.code for p in params.values()),
            current=current.code, rhs=tuple(rhs_code), rhs_free=tuple(rhs_num),
            linear=tuple(linear_code) if cond_linear else None, threshold=threshold_expr,
            reset=tuple(reset_exprs) if has_reset else None, initial=tuple(init_exprs)),
    )  # fmt: skip


def _declared_settings(data: dict, where: _Where, auto: DefaultSettings,
                       time_dim: Dim) -> tuple[DefaultSettings, float]:
    """The file's ``settings`` (duration, dt, integrator, note) over the automatic choice, and
    the coarsest step accepted (``max_dt``, default 1 ms)."""
    given = data.get("settings")
    if given is None:
        return auto, 1.0
    if not isinstance(given, dict):
        raise where.error(f"settings must map {', '.join(SETTINGS_KEYS)} to values", "settings")
    bad = [k for k in given if k not in SETTINGS_KEYS]
    if bad:
        raise where.error(f"settings: unknown key {bad[0]!r}; allowed: "
                          f"{', '.join(SETTINGS_KEYS)}", "settings", bad[0])
    out = {"duration_ms": auto.duration_ms, "dt_ms": auto.dt_ms,
           "integrator": auto.integrator, "note": auto.note}  # fmt: skip
    out["max_dt_ms"] = 1.0
    for k, field in (("duration", "duration_ms"), ("dt", "dt_ms"), ("max_dt", "max_dt_ms")):
        if given.get(k) is not None:
            v, dim, _ = _quantity(given[k], where, "settings", k)
            if not dim.same(time_dim):
                raise where.error(f"settings {k} is in {dim.describe()}; allowed: a time like "
                                  "'0.1 ms'", "settings", k)
            out[field] = convert(v, dim, time_dim)
            if not out[field] > 0:
                raise where.error(f"settings {k} {given[k]!r} must be positive", "settings", k)
    if given.get("integrator") is not None:
        from neuroscape.core.integrators import IntegratorError

        try:
            out["integrator"] = scheme_name(str(given["integrator"]))
        except IntegratorError as exc:
            raise where.error(str(exc), "settings", "integrator") from None
    if given.get("note") is not None:
        if not isinstance(given["note"], str):
            raise where.error("settings note must be text", "settings", "note")
        out["note"] = " ".join(given["note"].split())
    elif given.get("integrator") is not None or given.get("dt") is not None:
        # the automatic note would describe the scheme the file replaced
        out["note"] = (f"declared in the file: {out['integrator']} at dt {out['dt_ms']:g} ms "
                       f"(the equations alone would give {auto.integrator} at {auto.dt_ms:g} ms)")
    if out["dt_ms"] >= out["duration_ms"]:
        raise where.error(f"settings: dt {out['dt_ms']:g} ms must be below the duration "
                          f"{out['duration_ms']:g} ms", "settings")
    max_dt = out.pop("max_dt_ms")
    if out["dt_ms"] > max_dt:
        raise where.error(f"settings: dt {out['dt_ms']:g} ms is above max_dt {max_dt:g} ms",
                          "settings")
    return DefaultSettings(**out), max_dt


def _tidy(e):
    return sympy.factor_terms(sympy.expand_mul(e))


def _load(name: str, source: str):
    from neuroscape.core.codegen import load_generated

    # named by the hash of its content (load_generated): a redefined model gets a new module
    return load_generated(f"eq_{name}", source, [])


def _dname(d) -> str:
    from neuroscape.models.equations.units import describe_dims

    return describe_dims(d)


def _expr(text: str, look: Callable, where: _Where, key: str, offset: int | None, *path):
    try:
        return to_sympy(parse(text), look)
    except ExpressionError as exc:
        raise where.error(str(exc), key, *path, offset=offset) from None


def _threshold(text, look, where, s0: _Sym, params, states):
    """(relational in the first state's unit, threshold level for interpolation or None)."""
    try:
        tree = parse(text)
        node = tree.body
        if not isinstance(node, ast.Compare) or len(node.ops) != 1:
            raise ExpressionError(f"threshold {text.strip()!r} must be one comparison like "
                                  "'v > V_th'")
        a, da = to_sympy(node.left, look)
        b, db = to_sympy(node.comparators[0], look)
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if not used & set(states):
            raise ExpressionError(f"threshold {text.strip()!r} is on an undefined variable: it "
                                  f"names no state variable ({', '.join(states)})")
    except ExpressionError as exc:
        raise where.error(str(exc), "threshold", offset=0) from None
    if da != db:
        raise where.error(f"dimension mismatch in threshold {text.strip()!r}: "
                          f"{_dname(da)} against {_dname(db)}", "threshold", offset=0)
    scale = s0.dim.factor if da == s0.dim.dims else sympy.Integer(1)
    a, b = a / scale, b / scale
    ops = {ast.Gt: sympy.StrictGreaterThan, ast.GtE: sympy.GreaterThan,
           ast.Lt: sympy.StrictLessThan, ast.LtE: sympy.LessThan}  # fmt: skip
    op = type(node.ops[0])
    if op not in ops:
        raise where.error(f"threshold {text.strip()!r}: allowed comparisons > >= < <=",
                          "threshold", offset=0)
    rel = ops[op](a, b, evaluate=False)
    level = None
    if op in (ast.Gt, ast.GtE) and a == s0.code:
        if b.is_Number:
            level = float(b)
        elif b.is_Symbol:
            level = next((p.name for p in params.values() if p.code == b), None)
    return rel, level


def _reset(text, states, params, subs_text, base, look_nocur, where, cur_name):
    """New values of the states (their units) after the reset statements, in order."""
    values = {n: s.code for n, s in states.items()}  # numbers in the state's unit
    for off, raw in enumerate(text.split("\n")):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            tree = parse(line, mode="exec")
            if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign | ast.AugAssign):
                raise ExpressionError(f"{line!r} must be one assignment like 'v = V_r' or "
                                      "'w += b'")
            st = tree.body[0]
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            if len(targets) != 1 or not isinstance(targets[0], ast.Name):
                raise ExpressionError(f"{line!r}: assign to one state variable")
            x = targets[0].id
            if x in params:
                raise ExpressionError(f"the reset assigns to the parameter {x!r}; only state "
                                      f"variables ({', '.join(states)}) can be reset")
            if x not in states:
                what = ("the current" if x == cur_name else
                        "a sub-expression" if x in subs_text else "unknown symbol")
                raise ExpressionError(f"the reset assigns to {what} {x!r}; only state "
                                      f"variables ({', '.join(states)}) can be reset")

            def look(n, _v=dict(values)):  # noqa: B006 - the values before this line
                if n in states:
                    return states[n].dim.factor * _v[n], states[n].dim.dims
                found = look_nocur(n)
                if found is not None and n in subs_text:
                    e, d = found
                    return e.xreplace({states[k].code: _v[k] for k in states}), d
                return found

            e, d = to_sympy(st.value, look)
            s = states[x]
            cur_si = s.dim.factor * values[x]
            if isinstance(st, ast.Assign) or isinstance(st.op, ast.Add | ast.Sub):
                if d != s.dim.dims:
                    raise ExpressionError(f"dimension mismatch in {line!r}: {x} is in "
                                          f"{s.dim.describe()}, the right side in {_dname(d)}")
                if isinstance(st, ast.Assign):
                    new = e
                else:
                    new = cur_si + e if isinstance(st.op, ast.Add) else cur_si - e
            elif isinstance(st.op, ast.Mult | ast.Div):
                if d:
                    raise ExpressionError(f"dimension mismatch in {line!r}: *= and /= need a "
                                          f"dimensionless right side, it is in {_dname(d)}")
                new = cur_si * e if isinstance(st.op, ast.Mult) else cur_si / e
            else:
                raise ExpressionError(f"{line!r}: allowed =, +=, -=, *=, /=")
            values[x] = sympy.expand_mul(new / s.dim.factor)
        except ExpressionError as exc:
            raise where.error(str(exc), "reset", offset=off) from None
    return [values[n] for n in states]

