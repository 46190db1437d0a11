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
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

FUNCTIONS = ("exp", "log", "sqrt", "fabs", "pow")  # as math.*; fabs is abs


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
    """The variable names an expression reads (function names excluded)."""
    tree = ast.parse(expr, mode="eval")
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}  # fmt: skip
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


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
