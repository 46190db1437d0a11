"""Membrane mechanisms of multi-compartment cells, declared as data (as NEURON's NMODL files do).

A mechanism is an HH-type density mechanism: parameters (per section, with units and NEURON's
defaults), the ions whose reversal potentials it reads, a ``rates`` block of ordered assignments
(NEURON's ``PROCEDURE rates``: expressions of v in mV, celsius in degC, the parameters and the
reversal potentials), gates relaxing to ``inf`` with time constant ``tau`` (ms) by NEURON's
``cnexp`` update, x += (1 - exp(-dt/tau)) (inf - x), and currents i = g (v - e) in mA/cm2 (g in
S/cm2). The cable engine generates its kernel from these declarations
(``neuroscape.sim.cable_engine``); nothing in it names a mechanism. Expressions are Python
arithmetic with the functions in ``FUNCTIONS`` and the mechanism's own ``functions`` (numba
source), so more channels (e.g. from the equation models) can be declared the same way.

``hh`` is NEURON's ``hh.mod`` (Hodgkin & Huxley 1952 in the modern sign convention, rest near
-65 mV) with its exact rate functions (``usetable_hh = 0``), its ``vtrap`` and
q10 = 3^((celsius - 6.3)/10); ``pas`` is NEURON's passive leak.

Channels written as equations (``channel(name, declaration)``, a cell's ``channels:``) become
the same data, in the spirit of an NMODL file and with the expression syntax and units of
neuroscape's equation models (``neuroscape.models.equations``: Brian2-style arithmetic, every
quantity with its unit, dimensions checked)::

    kdr:                                   # Hodgkin & Huxley (1952)'s potassium current
      description: delayed-rectifier K+
      parameters:                          # NAME: QUANTITY, or {default, low, description}
        gbar: 0.036 S/cm2                  # conductance densities in S/cm2 (NEURON's)
      rates:                               # optional, in order (NMODL's PROCEDURE rates)
        q10: 3**((celsius - 6.3)/10)
      gates:                               # {alpha, beta} or {inf, tau}
        n:                                 # (or alpha, beta with inf and/or tau)
          alpha: q10*0.1/exprel(-(v + 55*mV)/(10*mV))/ms
          beta: q10*0.125*exp(-(v + 65*mV)/(80*mV))/ms
      current: gbar*n**4*(v - ek)          # NMODL's BREAKPOINT: i = g (v - e), mA/cm2

Expressions read ``v`` (mV), ``celsius`` (degC, a plain number as NEURON's), the section's
reversal potentials ``ena`` and ``ek`` (mV; reading one is NMODL's USEION ... READ), the
channel's parameters and the rates above them; the current also reads the gates, with their
exponents written in it (``m**3*h``). A gate relaxes to inf with time constant tau (NEURON's
cnexp step); alpha/beta give inf = alpha/(alpha + beta), tau = 1/(alpha + beta), as hh.mod,
unless inf or tau is written too (they may read the gate's own ``m_alpha``, ``m_beta``).
``exprel(x) = (exp(x) - 1)/x`` (Brian2's, 1 at x = 0) writes the rates with a removable
singularity (NEURON's vtrap). The current must be ohmic, i = g (v - e) with g and e free of v
(HH-type): g = di/dv and e are found by sympy; a sum of such currents (hh's sodium, potassium
and leak in one channel) is split by the products of gates it reads. A conductance that reads
v through a rate (an instantaneous gate) is refused. Each number is stored in NEURON's units:
S/cm2, mV, ms, 1/ms, mA/cm2 (others in the unit written).

``{model: hh}`` (a shipped equation model's name, or an equation file) takes the membrane
currents of an HH-type equation model as one channel (``equation_model_declaration``): its
currents must be per area (hh's uA/cm^2, connor_stevens' nA/mm^2), its other states gates.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from neuroscape.models.contract import ModelError

# functions an expression may call, as math.*; fabs is abs; BUILTINS are Python's (numba's)
FUNCTIONS = ("exp", "log", "sqrt", "fabs", "pow", "tanh", "sinh", "cosh", "sin", "cos")
BUILTINS = ("abs", "min", "max")


@dataclass(frozen=True)
class MechParameter:
    """One parameter of a mechanism: its NEURON default, its unit and the lowest allowed value
    (None: any finite number)."""

    name: str
    default: float
    unit: str
    low: float | None = None
    description: str = ""


@dataclass(frozen=True)
class Ion:
    """An ion whose reversal potential ``reversal`` (mV) the mechanism reads; ``default`` is
    NEURON's (e.g. ena = 50 mV, ek = -77 mV)."""

    name: str
    reversal: str
    default: float


@dataclass(frozen=True)
class Gate:
    """A gating state relaxing to ``inf`` with time constant ``tau`` (ms): names assigned in the
    mechanism's ``rates``."""

    name: str
    inf: str
    tau: str


@dataclass(frozen=True)
class Current:
    """A current i = g (v - e) in mA/cm2: ``g`` (S/cm2) an expression of the gates, parameters
    and rates, ``e`` (mV) one of the parameters or reversal potentials."""

    name: str
    g: str
    e: str


@dataclass(frozen=True)
class Mechanism:
    """A density mechanism as data (see the module docstring)."""

    name: str
    description: str
    parameters: tuple[MechParameter, ...]
    currents: tuple[Current, ...]
    ions: tuple[Ion, ...] = ()
    rates: tuple[tuple[str, str], ...] = ()  # ordered (name, expression) assignments
    gates: tuple[Gate, ...] = ()
    functions: str = ""  # numba-compilable helper functions used by the expressions

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.parameters}

    @property
    def reversals(self) -> tuple[str, ...]:
        """The reversal potentials read (NEURON's ion variables, e.g. ena, ek)."""
        return tuple(i.reversal for i in self.ions)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The per-instance values the kernel reads: the parameters, then the reversals."""
        return self.parameter_names + self.reversals

    @property
    def current_expr(self) -> str:
        """The total membrane current (mA/cm2) as one expression."""
        return " + ".join(f"({c.g}) * (v - {c.e})" for c in self.currents)

    @property
    def conductance_expr(self) -> str:
        """d(current)/dv (S/cm2), which NEURON finds numerically and is exact here."""
        return " + ".join(f"({c.g})" for c in self.currents)

    def unit(self, param: str) -> str:
        for p in self.parameters:
            if p.name == param:
                return p.unit
        raise KeyError(param)

    def v_dependent_rates(self) -> tuple[set[str], set[str]]:
        """(names assigned in ``rates`` that depend on v, those that do not): the latter are
        computed once per run (e.g. q10), not per step."""
        dep: set[str] = set()
        const: set[str] = set()
        for name, expr in self.rates:
            used = names_in(expr)
            if "v" in used or used & dep:
                dep.add(name)
            else:
                const.add(name)
        return dep, const


def names_in(expr: str) -> set[str]:
    """The variable names an expression reads (function names and ``math.`` excluded)."""
    tree = ast.parse(expr, mode="eval")
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}  # fmt: skip
    modules = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute)
               and isinstance(n.value, ast.Name)}  # fmt: skip
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - modules


# NEURON's hh.mod, FUNCTION vtrap: x/(exp(x/y) - 1) with its own guard near the removable
# singularity (the same branches and arithmetic, so the rates match NEURON's to rounding)
_VTRAP = '''
@njit(inline="always", cache=True)
def vtrap(x, y):
    if math.fabs(x / y) < 1e-6:
        return y * (1.0 - x / y / 2.0)
    return x / (math.exp(x / y) - 1.0)
'''

HH = Mechanism(
    name="hh",
    description="NEURON's hh.mod: squid Na, K and leak channels (Hodgkin & Huxley 1952), exact "
    "rates (usetable_hh = 0), q10 = 3^((celsius - 6.3)/10)",
    parameters=(
        MechParameter("gnabar", 0.12, "S/cm2", 0.0, "sodium conductance density"),
        MechParameter("gkbar", 0.036, "S/cm2", 0.0, "potassium conductance density"),
        MechParameter("gl", 0.0003, "S/cm2", 0.0, "leak conductance density"),
        MechParameter("el", -54.3, "mV", None, "leak reversal potential"),
    ),
    ions=(Ion("na", "ena", 50.0), Ion("k", "ek", -77.0)),
    rates=(
        ("q10", "3.0 ** ((celsius - 6.3) / 10.0)"),
        ("alpha_m", "0.1 * vtrap(-(v + 40.0), 10.0)"),
        ("beta_m", "4.0 * exp(-(v + 65.0) / 18.0)"),
        ("sum_m", "alpha_m + beta_m"),
        ("mtau", "1.0 / (q10 * sum_m)"),
        ("minf", "alpha_m / sum_m"),
        ("alpha_h", "0.07 * exp(-(v + 65.0) / 20.0)"),
        ("beta_h", "1.0 / (exp(-(v + 35.0) / 10.0) + 1.0)"),
        ("sum_h", "alpha_h + beta_h"),
        ("htau", "1.0 / (q10 * sum_h)"),
        ("hinf", "alpha_h / sum_h"),
        ("alpha_n", "0.01 * vtrap(-(v + 55.0), 10.0)"),
        ("beta_n", "0.125 * exp(-(v + 65.0) / 80.0)"),
        ("sum_n", "alpha_n + beta_n"),
        ("ntau", "1.0 / (q10 * sum_n)"),
        ("ninf", "alpha_n / sum_n"),
    ),
    gates=(Gate("m", "minf", "mtau"), Gate("h", "hinf", "htau"), Gate("n", "ninf", "ntau")),
    currents=(
        Current("ina", "gnabar * m * m * m * h", "ena"),
        Current("ik", "gkbar * n * n * n * n", "ek"),
        Current("il", "gl", "el"),
    ),
    functions=_VTRAP,
)

PAS = Mechanism(
    name="pas",
    description="NEURON's pas: a passive leak i = g (v - e)",
    parameters=(
        MechParameter("g", 0.001, "S/cm2", 0.0, "leak conductance density"),
        MechParameter("e", -70.0, "mV", None, "leak reversal potential"),
    ),
    currents=(Current("i", "g", "e"),),
)

MECHANISMS: dict[str, Mechanism] = {m.name: m for m in (HH, PAS)}


def get_mechanism(name: str) -> Mechanism:
    """The mechanism called ``name`` (KeyError when there is none)."""
    return MECHANISMS[name]


# ---------------------------------------------------------------------- channels as equations


class CellError(ModelError):
    """A cell description that cannot be used (one line: the bad value and what is allowed)."""


CHANNEL_KEYS = ("name", "description", "parameters", "rates", "gates", "current", "model")
PARAMETER_KEYS = ("default", "low", "description")
# the forms of a gate: alpha/beta (inf = alpha/(alpha + beta), tau = 1/(alpha + beta)), inf/tau,
# and alpha/beta with either given explicitly (NeuroML's gateHHratesInf and gateHHratesTau)
GATE_FORMS = (("alpha", "beta"), ("inf", "tau"), ("alpha", "beta", "inf"),
              ("alpha", "beta", "tau"), ("alpha", "beta", "inf", "tau"))  # fmt: skip
# what each gate expression must be: (dimension's unit, description)
_GATE_DIMS = {"alpha": ("1/ms", "a rate (1/ms)"), "beta": ("1/ms", "a rate (1/ms)"),
              "inf": ("1", "dimensionless"), "tau": ("ms", "a time (ms)")}  # fmt: skip
# the reversal potentials a channel may read (NEURON's na_ion and k_ion, their defaults)
CHANNEL_IONS = {i.reversal: i for i in HH.ions}
SPECIALS = ("v", "celsius", *CHANNEL_IONS)
RESERVED = (*SPECIALS, "t", "dt", "e_current", *FUNCTIONS, *BUILTINS, "exprel", "clip", "math")
# NEURON's units (an expression or parameter of another dimension keeps the unit it was written
# in): the unit as parsed, as shown
_CANONICAL = (("1", "1"), ("mV", "mV"), ("ms", "ms"), ("1/ms", "1/ms"), ("S/cm^2", "S/cm2"),
              ("mA/cm^2", "mA/cm2"), ("uF/cm^2", "uF/cm2"), ("mM", "mM"), ("um", "um"),
              ("1/mV", "1/mV"))  # fmt: skip

# the equation models' exprel (neuroscape.models.equations.codegen.HEADER), which the printed
# expressions call: (exp(x) - 1)/x by expm1, its series near 0
_EXPREL = '''
@njit(inline="always", cache=True)
def _exprel(x):
    if abs(x) < 1e-6:
        return 1.0 + x * (0.5 + x / 6.0)
    return math.expm1(x) / x
'''


_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _neuron_units(raw):
    """A quantity's text with NEURON's spelling of powers read as such: S/cm2 -> S/cm^2."""
    if not isinstance(raw, str):
        return raw
    m = _NUMBER.match(raw)
    head, rest = (raw[: m.end()], raw[m.end():]) if m else ("", raw)
    return head + re.sub(r"([A-Za-z])(\d+)", r"\1^\2", rest)


@functools.cache
def _canonical() -> tuple:
    from neuroscape.models.equations.expressions import parse_unit

    return tuple((parse_unit(u), shown) for u, shown in _CANONICAL)


def _unit_for(dim, written: str):
    """(the Dim numbers are stored in, its name): NEURON's unit of the dimension, else the unit
    as written."""
    for d, shown in _canonical():
        if d.same(dim):
            return d, shown
    return dim, written


class _StripMath(ast.NodeTransformer):
    """math.f(x) -> f(x) (the cable engine maps FUNCTIONS back to math.*)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "math":
            node.func = ast.Name(f.attr, ast.Load())
        return node


def _code(e) -> str:
    """A sympy expression (in NEURON's units) as the Python source the cable engine reads."""
    from neuroscape.models.equations.codegen import Printer

    text = Printer({}, "math")(e)
    tree = _StripMath().visit(ast.parse(text, mode="eval"))
    return ast.unparse(ast.fix_missing_locations(tree))


def _ident(name, what: str, err) -> str:
    if not (isinstance(name, str) and name.isidentifier() and not name.startswith("_")):
        raise err(f"{what} name {name!r}; allowed: a Python identifier not starting with _")
    if name in RESERVED or name.startswith("e_current"):
        raise err(f"{what} name {name!r} is reserved; allowed: a name other than "
                  f"{', '.join(RESERVED)}")  # fmt: skip
    return name


def channel(name: str, decl: Mapping, origin: str = "", base_dir: Path | None = None
            ) -> Mechanism:  # fmt: skip
    """The Mechanism of an HH-type channel declared as equations (see the module docstring),
    or of the currents of an equation model (``{model: hh}``: a shipped model's name or an
    equation file, relative to ``base_dir``); ``origin`` (a file) is named in errors. One-line
    CellError for anything it cannot use."""
    import sympy

    from neuroscape.models.equations.expressions import (
        ExpressionError,
        convert,
        parse,
        parse_quantity,
        parse_unit,
        to_sympy,
        unit_lookup,
    )
    from neuroscape.models.equations.units import Dim, describe_dims

    w = f"channel {name!r}" + (f" ({origin})" if origin else "")

    def err(msg: str, *path) -> CellError:
        at = ".".join(str(p) for p in path)
        return CellError(" ".join(f"{w}: {at + ': ' if at else ''}{msg}".split()))

    _ident(name, "channel", err)
    if not isinstance(decl, Mapping):
        raise err(f"{decl!r}; allowed: a mapping of {', '.join(CHANNEL_KEYS)}")
    if "model" in decl:  # the currents of an HH-type equation model
        extra = [k for k in decl if k != "model"]
        if extra:
            raise err(f"model: with {extra[0]!r}; allowed: model: alone (an equation model's "
                      "currents)")  # fmt: skip
        try:
            decl = equation_model_declaration(decl["model"], base_dir)
        except CellError as exc:
            raise err(str(exc)) from None
    bad = [k for k in decl if k not in CHANNEL_KEYS]
    if bad:
        raise err(f"unknown key {bad[0]!r}; allowed: {', '.join(CHANNEL_KEYS)}")
    description = decl.get("description") or ""
    if not isinstance(description, str):
        raise err(f"description {description!r}; allowed: text")

    volt = parse_unit("mV")
    syms: dict[str, tuple] = {
        "v": (sympy.Symbol("v") * volt.factor, volt.dims),
        "celsius": (sympy.Symbol("celsius"), parse_unit("1").dims),
        **{r: (sympy.Symbol(r) * volt.factor, volt.dims) for r in CHANNEL_IONS},
    }
    taken: dict[str, str] = {}

    def claim(n: str, what: str, *path) -> None:
        if n in taken:
            raise err(f"{what} {n!r} is also a {taken[n]}; allowed: one meaning per name", *path)
        taken[n] = what

    # --- parameters: numbers in NEURON's units --------------------------------------------
    params_in = decl.get("parameters") or {}
    if not isinstance(params_in, Mapping):
        raise err(f"{params_in!r}; allowed: a mapping NAME: QUANTITY or NAME: {{default, low}}",
                  "parameters")  # fmt: skip
    params: list[MechParameter] = []
    for pname, pdecl in params_in.items():
        at = ("parameters", pname)
        _ident(pname, "parameter", lambda m, at=at: err(m, *at))
        claim(pname, "parameter", *at)
        if isinstance(pdecl, Mapping):
            bad = [k for k in pdecl if k not in PARAMETER_KEYS]
            if bad:
                raise err(f"unknown key {bad[0]!r}; allowed: {', '.join(PARAMETER_KEYS)}", *at)
            if "default" not in pdecl:
                raise err("no default; allowed: {default: QUANTITY, low: QUANTITY}", *at)
            raw, raw_low, pdesc = pdecl["default"], pdecl.get("low"), pdecl.get("description", "")
        else:
            raw, raw_low, pdesc = pdecl, None, ""
        try:
            x, dim, written = parse_quantity(_neuron_units(raw))
        except ExpressionError as exc:
            raise err(f"{exc}; allowed: a quantity such as 0.12 S/cm2 or -65 mV", *at) from None
        cdim, unit = _unit_for(dim, written)
        value = convert(x, dim, cdim)
        low = 0.0 if unit == "S/cm2" else None  # densities cannot be negative
        if raw_low is not None:
            try:
                lx, ldim, _ = parse_quantity(_neuron_units(raw_low))
            except ExpressionError as exc:
                raise err(f"low: {exc}; allowed: a quantity in {unit}", *at) from None
            if not ldim.same(dim):
                raise err(f"low={raw_low!r} is in {ldim.describe()}, the default in "
                          f"{dim.describe()}; allowed: a quantity in {unit}", *at)  # fmt: skip
            low = convert(lx, ldim, cdim)
        if low is not None and value < low:
            raise err(f"default={raw!r} is below its low ({low:g} {unit}); allowed: >= low", *at)
        if not isinstance(pdesc, str):
            raise err(f"description {pdesc!r}; allowed: text", *at)
        params.append(MechParameter(pname, value, unit, low, pdesc))
        syms[pname] = (sympy.Symbol(pname) * cdim.factor, cdim.dims)

    gates_in = decl.get("gates") or {}
    if not isinstance(gates_in, Mapping):
        raise err(f"{gates_in!r}; allowed: a mapping GATE: {{alpha, beta}} or {{inf, tau}}",
                  "gates")  # fmt: skip
    gate_names = [_ident(g, "gate", err) for g in gates_in]
    for g in gate_names:
        claim(g, "gate", "gates", g)

    def look(allow_gates: bool):
        def lookup(n: str):
            if n in syms:
                return syms[n]
            if n in gate_names:
                if allow_gates:
                    return sympy.Symbol(n), parse_unit("1").dims
                raise ExpressionError(f"the gate {n!r} is read only by the current")
            return unit_lookup(n)

        return lookup

    def expression(text, want: str | None, what: str, *path, gates: bool = False):
        """(sympy expression in the unit numbers are kept in, that unit's Dim and name)."""
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise err(f"{text!r}; allowed: an expression of "
                      f"{', '.join(s for s in syms)}", *path)  # fmt: skip
        try:
            e, d = to_sympy(parse(str(text)), look(gates))
        except ExpressionError as exc:
            msg = str(exc)
            names = ", ".join([*syms, *(gate_names if gates else ())])
            if msg.startswith("unknown symbol"):
                msg += f"; allowed: {names}, units (mV, ms...) and functions"
            elif "allowed" not in msg:
                msg += (f"; allowed: arithmetic of {names} with units, e.g. "
                        "4*exp(-(v + 65*mV)/(18*mV))/ms")  # fmt: skip
            raise err(msg, *path) from None
        if want is not None and parse_unit(want).dims != d:
            raise err(f"{text!r} is in {describe_dims(d)}; allowed: {what}", *path)
        cdim, unit = _unit_for(Dim(d, sympy.Integer(1)), "SI")
        return e / cdim.factor, cdim, unit

    # --- rates, then the gates' own rates --------------------------------------------------
    rates: list[tuple[str, str]] = []
    rates_in = decl.get("rates") or {}
    if not isinstance(rates_in, Mapping):
        raise err(f"{rates_in!r}; allowed: a mapping NAME: EXPRESSION (in order)", "rates")
    for rname, text in rates_in.items():
        _ident(rname, "rate", lambda m, r=rname: err(m, "rates", r))
        claim(rname, "rate", "rates", rname)
        e, cdim, _ = expression(text, None, "", "rates", rname)
        rates.append((rname, _code(e)))
        syms[rname] = (sympy.Symbol(rname) * cdim.factor, cdim.dims)
    gates: list[Gate] = []
    for g, gdecl in gates_in.items():
        at = ("gates", g)
        if not isinstance(gdecl, Mapping):
            raise err(f"{gdecl!r}; allowed: {{alpha, beta}} or {{inf, tau}} (expressions)", *at)
        keys = tuple(k for k in ("alpha", "beta", "inf", "tau") if k in gdecl)
        bad = [k for k in gdecl if k not in _GATE_DIMS]
        if bad:
            raise err(f"unknown key {bad[0]!r}; allowed: alpha, beta, inf, tau", *at)
        if keys not in GATE_FORMS:
            miss = "beta" if "alpha" in keys and "beta" not in keys else (
                "alpha" if "beta" in keys and "alpha" not in keys else (
                    "tau" if "inf" in keys else "inf"))
            raise err(f"gives {', '.join(keys) or 'nothing'} (missing {miss}); allowed: "
                      "alpha and beta, or inf and tau", *at)  # fmt: skip
        for k in keys:
            rn = f"{g}_{k}"
            claim(rn, f"rate of gate {g}", *at, k)
            unit, what = _GATE_DIMS[k]
            e, cdim, _ = expression(gdecl[k], unit, what, *at, k)
            rates.append((rn, _code(e)))
            syms[rn] = (sympy.Symbol(rn) * cdim.factor, cdim.dims)
        if "inf" not in keys:
            claim(f"{g}_inf", f"rate of gate {g}", *at)
            rates.append((f"{g}_inf", f"{g}_alpha / ({g}_alpha + {g}_beta)"))
        if "tau" not in keys:
            claim(f"{g}_tau", f"rate of gate {g}", *at)
            rates.append((f"{g}_tau", f"1.0 / ({g}_alpha + {g}_beta)"))
        gates.append(Gate(g, f"{g}_inf", f"{g}_tau"))

    # --- the current: i = g (v - e) ----------------------------------------------------------
    if "current" not in decl:
        raise err("no current:; allowed: an expression such as gbar*m**3*h*(v - ena)")
    units = ", ".join(f"{p.name} in {p.unit}" for p in params)
    i_e, _, _ = expression(decl["current"], "mA/cm^2", "a current density (mA/cm2)"
                           + (f"; the parameters: {units}" if units else ""), "current",
                           gates=True)  # fmt: skip
    v = sympy.Symbol("v")
    unread = [g for g in gate_names if sympy.Symbol(g) not in i_e.free_symbols]
    if unread:
        raise err(f"{decl['current']!r} does not read the gate {unread[0]!r}; allowed: a "
                  f"current of the gates {', '.join(gate_names)}", "current")
    gate_syms = {sympy.Symbol(g) for g in gate_names}
    # i = sum over currents of g_k (v - e_k): the terms grouped by their product of gates (hh:
    # m^3 h, n^4, 1), each group ohmic with a reversal free of v and of the gates
    groups: dict = {}
    for term in sympy.Add.make_args(i_e):
        key = sympy.Mul(*[f for f in sympy.Mul.make_args(term)
                          if f.free_symbols and f.free_symbols <= gate_syms])  # fmt: skip
        groups[key] = groups.get(key, 0) + term
    inputs = {p.name for p in params} | set(CHANNEL_IONS)
    # rates of v (directly or through other rates): a conductance reading one is an
    # instantaneous gate, whose di/dv the cable engine does not take (NEURON's numerical one)
    of_v = {v}
    for rname, text in rates:
        if {sympy.Symbol(n) for n in names_in(text)} & of_v:
            of_v.add(sympy.Symbol(rname))
    currents = []
    for k, part in enumerate(groups.values()):
        shown = decl["current"] if len(groups) == 1 else str(part)
        g_e = sympy.diff(part, v)
        if g_e == 0:
            raise err(f"{shown!r} does not depend on v; allowed: g*(v - e)", "current")
        if g_e.free_symbols & of_v:
            raise err(f"{shown!r} is not ohmic (its conductance depends on v: an instantaneous "
                      "gate?); allowed: g*(v - e) with g and e free of v, gates with a time "
                      "constant (an HH-type current)", "current")  # fmt: skip
        e_e = sympy.simplify(v - sympy.cancel(part / g_e))
        if e_e.free_symbols & (of_v | gate_syms):
            raise err(f"{shown!r}: its reversal potential depends on v or the gates; allowed: "
                      "g*(v - e) with e a constant, a parameter, ena or ek", "current")
        suffix = f"_{k}" if len(groups) > 1 else ""
        if isinstance(e_e, sympy.Symbol) and e_e.name in inputs:
            e_name = e_e.name
        else:
            e_name = f"e_current{suffix}"
            rates.append((e_name, _code(e_e)))
        currents.append(Current(f"i_{name}{suffix}", _code(g_e), e_name))

    # which reversal potentials it reads, which helpers it calls
    used: set[str] = set()
    for c in currents:
        used |= names_in(c.g) | {c.e}
    for _, text in rates:
        used |= names_in(text)
    ions = tuple(CHANNEL_IONS[r] for r in CHANNEL_IONS if r in used)
    every = " ".join([*(c.g for c in currents), *(t for _, t in rates)])
    return Mechanism(
        name=name,
        description=description or f"channel {name} (written as equations)",
        parameters=tuple(params),
        currents=tuple(currents),
        ions=ions,
        rates=tuple(rates),
        gates=tuple(gates),
        functions=_EXPREL if "_exprel(" in every else "",
    )


# ---------------------------------------------------------------- an equation model's channels

_EQ_KEYS_REFUSED = ("threshold", "reset", "refractory")


def _sympy_of(text: str, where: str):
    """An equation model's expression as sympy, every name a Symbol and every function an
    undefined Function (structure only: which states it reads, and how); parsed by ``ast``,
    never evaluated; numbers exact."""
    import sympy

    from neuroscape.models.equations.expressions import ExpressionError, parse

    try:
        tree = parse(str(text))
    except ExpressionError as exc:
        raise CellError(f"{where}: {exc}; allowed: an equation model's expression") from None

    def walk(n):
        if isinstance(n, ast.Expression):
            return walk(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(
                n.value, bool):  # fmt: skip
            return sympy.Rational(repr(n.value))
        if isinstance(n, ast.Name):
            return sympy.Symbol(n.id)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub | ast.UAdd):
            return -walk(n.operand) if isinstance(n.op, ast.USub) else walk(n.operand)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub | ast.Mult | ast.Div
                                                   | ast.Pow):  # fmt: skip
            a, b = walk(n.left), walk(n.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b,
                    ast.Div: a / b if b != 0 else sympy.nan,
                    ast.Pow: a**b}[type(n.op)]  # fmt: skip
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and not n.keywords:
            return sympy.Function(n.func.id)(*[walk(a) for a in n.args])
        raise CellError(f"{where}: {ast.unparse(n)!r} cannot be read; allowed: arithmetic, names "
                        "and functions")  # fmt: skip

    return walk(tree)


def _text(e) -> str:
    """A sympy expression back as an equation model's text (exact rationals, ** powers)."""
    return str(e)


def equation_model_declaration(source, base_dir: Path | None = None) -> dict:
    """The channel declaration of the membrane currents of an HH-type equation model (a
    neuroscape equation file or a shipped model's name, e.g. ``hh``, ``connor_stevens``):
    the current is what the model's dV/dt subtracts from its injected current times its
    capacitance, so its currents must be densities (a current per area); each other state
    must be a gate dx/dt = A(v) x + B(v) (inf = -B/A, tau = -1/A); its sub-expressions become
    rates, its parameters the channel's (a parameter ``celsius`` is the cell's temperature;
    the capacitance is the section's cm, not the channel's)."""
    import sympy
    import yaml

    from neuroscape.models.library import FILES

    if isinstance(source, str) and source in FILES:
        path = FILES[source]
    else:
        path = Path(source).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise CellError(f"model: {source}: no such equation file or shipped model; allowed: "
                            f"a YAML equation file or one of {', '.join(FILES)}")  # fmt: skip
    w = f"model {path.name}"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CellError(f"{w}: cannot read: {' '.join(str(exc).split())}; allowed: an equation "
                        "file") from None  # fmt: skip
    if not isinstance(data, Mapping) or "equations" not in data or "current" not in data:
        raise CellError(f"{w}: not an equation model; allowed: a file with equations: and "
                        "current:")  # fmt: skip
    bad = [k for k in _EQ_KEYS_REFUSED if data.get(k)]
    if bad:
        raise CellError(f"{w}: has {bad[0]}: (an integrate-and-fire model); allowed: an HH-type "
                        "model (gates of V, no reset)")  # fmt: skip
    states: dict[str, str] = {}  # name -> rhs
    subs: dict[str, str] = {}
    first_unit = None
    for raw in str(data["equations"]).split("\n"):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if ":" not in line or "=" not in line:
            raise CellError(f"{w}: {line!r}; allowed: 'dx/dt = expr : unit' or 'y = expr : unit'")
        body, unit = line.rsplit(":", 1)
        lhs, rhs = body.split("=", 1)
        m = re.fullmatch(r"\s*d\s*([A-Za-z_]\w*)\s*/\s*dt\s*", lhs)
        if "(" in unit:
            raise CellError(f"{w}: {line!r} has flags; allowed: an HH-type model without them")
        if m:
            states[m.group(1)] = rhs
            first_unit = first_unit or unit.strip()
        else:
            subs[lhs.strip()] = rhs
    if not states:
        raise CellError(f"{w}: no dx/dt line; allowed: an HH-type model")
    from neuroscape.models.equations.expressions import parse_unit

    vname = next(iter(states))
    if parse_unit(first_unit).dims != parse_unit("mV").dims:
        raise CellError(f"{w}: its first state {vname} is in {first_unit}; allowed: a membrane "
                        "potential (a voltage) first")  # fmt: skip
    cur = str(data["current"].get("name", "I")) if isinstance(data["current"], Mapping) else "I"
    v, i_sym = sympy.Symbol("v"), sympy.Symbol(cur)
    params = dict(data.get("parameters") or {})
    for n in ("v", *(k for k in subs if k == "v")):
        if n != vname and (n in params or n in subs):
            raise CellError(f"{w}: a name v besides the membrane potential {vname}; allowed: v "
                            "only for the membrane potential")  # fmt: skip
    rename = {sympy.Symbol(vname): v}
    f = _sympy_of(states[vname], f"{w}: d{vname}/dt").subs(rename)
    didi = sympy.diff(f, i_sym)
    if didi == 0:
        raise CellError(f"{w}: d{vname}/dt does not read the current {cur}; allowed: a model "
                        f"driven by {cur}")  # fmt: skip
    cap = sympy.simplify(1 / didi)
    # the membrane current (outward): I - C dV/dt, by sympy's own flattening (terms kept as
    # written: g*m**3*h*(V - E) stays one term)
    i_m = -(cap * f.subs(i_sym, 0))
    if i_sym in i_m.free_symbols or v in cap.free_symbols:
        raise CellError(f"{w}: d{vname}/dt is not (I - currents)/C; allowed: an HH-type model")
    gates: dict[str, dict] = {}
    gate_syms = {sympy.Symbol(x) for x in list(states)[1:]}
    taken_generated = {f"{x}_{k}" for x in list(states)[1:] for k in ("alpha", "beta", "inf",
                                                                        "tau")}  # fmt: skip
    sub_rename = {sympy.Symbol(n): sympy.Symbol(f"{n}_eq") for n in subs if n in taken_generated}
    for x in list(states)[1:]:
        r = _sympy_of(states[x], f"{w}: d{x}/dt").subs(rename).subs(sub_rename)
        xs = sympy.Symbol(x)
        a = sympy.diff(r, xs)
        b = r.subs(xs, 0)
        if sympy.diff(a, xs) != 0 or (a.free_symbols | b.free_symbols) & (gate_syms | {i_sym}):
            raise CellError(f"{w}: d{x}/dt = {states[x].strip()!r} is not a gate of v (dx/dt = "
                            "A(v) x + B(v)); allowed: an HH-type model")  # fmt: skip
        gates[x] = {"inf": _text(sympy.simplify(-b / a)), "tau": _text(sympy.simplify(-1 / a))}
    rates_in = {}
    for n, text in subs.items():
        e = _sympy_of(text, f"{w}: {n}").subs(rename).subs(sub_rename)
        if e.free_symbols & (gate_syms | {i_sym}):
            continue  # a sub-expression of the gates or the current (e.g. a named current)
        rates_in[str(sub_rename.get(sympy.Symbol(n), n))] = e
    # the sub-expressions the current reads through other ones are inlined (they read gates)
    inline = {sympy.Symbol(n): _sympy_of(t, f"{w}: {n}").subs(rename)
              for n, t in subs.items() if str(sub_rename.get(sympy.Symbol(n), n)) not in rates_in}
    for _ in range(len(inline) + 1):
        i_m = i_m.subs(inline)
    # rates in an order that defines each before its use
    order: list[str] = []
    todo = dict(rates_in)
    while todo:
        ready = [n for n, e in todo.items()
                 if not ({s.name for s in e.free_symbols} & (set(todo) - {n}))]  # fmt: skip
        if not ready:
            raise CellError(f"{w}: sub-expressions {', '.join(todo)} define each other; allowed: "
                            "no cycle")  # fmt: skip
        for n in ready:
            order.append(n)
            del todo[n]
    used: set[str] = {s.name for s in i_m.free_symbols}
    for g in gates.values():
        used |= {s.name for t in g.values() for s in _sympy_of(t, w).free_symbols}
    for n in order:
        used |= {s.name for s in rates_in[n].free_symbols}
    decl_params = {}
    for pname, pdef in params.items():
        if pname in (cur, "celsius", vname) or pname not in used:
            continue  # the drive, the cell's temperature, the capacitance (the section's cm)
        default = pdef.get("default") if isinstance(pdef, Mapping) else pdef
        entry = {"default": default}
        if isinstance(pdef, Mapping) and pdef.get("description"):
            entry["description"] = str(pdef["description"])
        decl_params[pname] = entry
    return {
        "description": f"the currents of {data.get('name', path.stem)}: "
                       f"{str(data.get('description', '')).strip()}"[:300],
        "parameters": decl_params,
        "rates": {n: _text(rates_in[n]) for n in order},
        "gates": gates,
        "current": _text(i_m),
    }  # fmt: skip


def load_channel(name: str, source, base_dir: Path | None = None) -> Mechanism:
    """The channel ``name`` from a declaration (a mapping) or a YAML file of one (a path,
    relative to ``base_dir``); a Mechanism is returned as it is (renamed check only)."""
    if isinstance(source, Mechanism):
        if source.name != name:
            raise CellError(f"channel {name!r} is a Mechanism named {source.name!r}; allowed: "
                            "the same name")  # fmt: skip
        return source
    if isinstance(source, Mapping):
        return channel(name, source, base_dir=base_dir)
    if isinstance(source, str | Path):
        import yaml

        path = Path(source).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise CellError(f"channel {name!r}: {source}: no such file ({path}); allowed: a YAML "
                            "channel file or an inline declaration")  # fmt: skip
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise CellError(f"channel {name!r}: {path}: YAML error: "
                            f"{' '.join(str(exc).split())}") from None  # fmt: skip
        return channel(name, data, str(path), path.parent)
    raise CellError(f"channel {name!r}: {source!r}; allowed: a mapping (the declaration) or the "
                    "path of a YAML channel file")  # fmt: skip
