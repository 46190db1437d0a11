"""Exact integration of equations that are linear with constant coefficients (Brian2's 'exact').

For dy/dt = M y + c, with M free of the states and of the current, and c free of the states (it
holds the current, which the engine keeps constant over a step), the solution after a step h is

    y(h) = exp(hM) y(0) + int_0^h exp(sM) ds c,

the top rows of exp(hT) applied to (y(0), 1) with the augmented matrix T = [[M, c], [0, 0]].
Brian2 (Stimberg, Brette and Goodman 2019, eLife 8:e47314) obtains this expression with sympy's
matrix exponential; its closed form divides by differences of eigenvalues, so it is 0/0 where
two time constants are equal (an alpha synapse, or tau_s == tau_m). Here the update is written
with functions that are continuous there, evaluated at run time by numerically safe helpers:

- When the coupling is triangular (a state depends on others that do not depend back on it,
  e.g. a membrane driven by synaptic currents), entry (i, j) of exp(hT) is the sum over the
  chains i -> k1 -> ... -> j of the couplings' product times the divided difference of exp at
  h times the chain's diagonal entries (the eigenvalues; Higham 2008, Functions of Matrices,
  Thm 4.11). The divided differences are computed by the recurrence on sorted nodes where they
  are spread apart and by a Taylor series where they are close or equal (as McCurdy, Ng and
  Parlett 1984 advise), so equal time constants need no special case.
- Two states that depend on each other (a linear resonator, linear adaptation) form a 2x2 block
  whose exponential is exp(mu)(C(Q) I + S(Q)(hM - mu I)), mu = h tr(M)/2, Q = h^2((M00 -
  M11)^2/4 + M01 M10), C = cosh(sqrt Q), S = sinh(sqrt Q)/sqrt Q: entire functions of Q, so real,
  complex and repeated eigenvalues take the same expression; the constant term adds the second
  divided difference of exp at (0, mu + sqrt Q, mu - sqrt Q).

Larger mutually coupled blocks, and a 2x2 block coupled to further states, are not handled
(``exact_update`` returns None and says so in a log line): the model then keeps its
conditionally-linear or Runge-Kutta scheme. Uncoupled states (dx/dt = a x + b) get
exp(a h) x + b h exprel(a h), what exponential Euler computes for them.

The update is a function of the step h (the symbol ``dt``), because the engine also takes
partial steps (the precise reset integrates from the crossing time to the end of the step).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import sympy

from neuroscape.models.equations.codegen import Printer, jit_function

log = logging.getLogger("neuroscape")

DT = sympy.Symbol("dt")  # the step, in ms
# limits on the symbolic work (beyond them the model keeps its other scheme, logged)
MAX_STATES = 8
MAX_CHAINS = 256  # chains summed over in the triangular formula
MAX_OPS = 20000  # operations in the update's expressions
TIME_LIMIT_S = 10.0  # wall-clock budget of the symbolic work, checked between its steps


class ddexp(sympy.Function):  # noqa: N801 - a mathematical function, lower case like exp
    """The divided difference exp[x0, ..., xm] of exp at its arguments (symmetric in them;
    exp(x)/m! where all m+1 coincide). ``rewrite(sympy.exp)`` gives the closed form for
    distinct arguments, which is 0/0 where two of them coincide."""

    @classmethod
    def eval(cls, *args):
        if len(args) == 0:
            raise TypeError("ddexp takes at least one argument")
        if len(args) == 1:
            return sympy.exp(args[0])
        return None

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        if len(args) == 1:
            return sympy.exp(args[0])
        lo = ddexp(*args[:-1]).rewrite(sympy.exp)
        hi = ddexp(*args[1:]).rewrite(sympy.exp)
        return (hi - lo) / (args[-1] - args[0])


class expcosh(sympy.Function):  # noqa: N801
    """exp(mu) cosh(sqrt(q)) (exp(mu) cos(sqrt(-q)) for q < 0)."""

    nargs = 2

    def _eval_rewrite_as_exp(self, mu, q, **kwargs):
        return sympy.exp(mu) * sympy.cosh(sympy.sqrt(q))


class expsinhc(sympy.Function):  # noqa: N801
    """exp(mu) sinh(sqrt(q))/sqrt(q) (exp(mu) at q = 0, exp(mu) sin(sqrt(-q))/sqrt(-q) for
    q < 0): exp[mu + sqrt q, mu - sqrt q]."""

    nargs = 2

    def _eval_rewrite_as_exp(self, mu, q, **kwargs):
        return sympy.exp(mu) * sympy.sinh(sympy.sqrt(q)) / sympy.sqrt(q)


class ddexp_pair0(sympy.Function):  # noqa: N801
    """exp[0, mu + sqrt q, mu - sqrt q], real for every real mu and q."""

    nargs = 2

    def _eval_rewrite_as_exp(self, mu, q, **kwargs):
        r = sympy.sqrt(q)
        return (1 + sympy.exp(mu) * (mu * sympy.sinh(r) / r - sympy.cosh(r))) / (mu**2 - q)


class _Skip(Exception):
    """The system is linear with constant coefficients but the exact update is not built (the
    message says why); the model keeps its other scheme."""


def _dd(*nodes) -> sympy.Expr:
    # the divided difference is symmetric: a canonical order lets cse share equal ones
    return ddexp(*sorted(nodes, key=sympy.default_sort_key))


def linear_system(eqs) -> tuple[sympy.Matrix, list] | None:
    """(M, c) with d(states)/dt = M states + c, M free of the states and the current, c free
    of the states; None when the equations are not of that form. ``eqs``: a
    ``neuron.EquationSystem`` (or any object with ``states``, ``params``, ``current`` and
    ``rhs_free``); time in ms."""
    ys = list(eqs.states)
    allowed = {*ys, *eqs.params, eqs.current}
    rhs = list(eqs.rhs_free)
    bad = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan)
    n = len(ys)
    m = sympy.zeros(n, n)
    c = []
    zero = {y: sympy.Integer(0) for y in ys}
    for i, f in enumerate(rhs):
        f = sympy.sympify(f)
        if not f.free_symbols <= allowed:  # e.g. an explicit time dependence
            return None
        for j, y in enumerate(ys):
            d = sympy.diff(f, y)
            if d.has(*ys) or d.has(eqs.current) or d.has(sympy.Derivative) or d.has(*bad):
                return None
            m[i, j] = d
        ci = f.xreplace(zero)
        if ci.has(*bad) or ci.has(*ys):
            return None
        c.append(ci)
    return m, c


def exact_update(
    eqs, time_limit_s: float = TIME_LIMIT_S, name: str = ""
) -> list[sympy.Expr] | None:
    """The states after a step ``dt`` (ms, the sympy Symbol 'dt'), as expressions of the
    states ``y0..``, the current ``cur`` (held over the step) and parameters ``p0..``, when the
    equations (``eqs.rhs_free``) are linear with constant coefficients and the coupling is
    triangular or a pair of mutually dependent states; None otherwise (logged when the
    equations are linear but the update is not built). The expressions use ``ddexp``,
    ``expcosh``, ``expsinhc`` and ``ddexp_pair0`` (continuous where eigenvalues coincide);
    ``exact_step_source`` prints them with numerically safe helpers."""
    system = linear_system(eqs)
    if system is None:
        return None
    try:
        return _update(*system, deadline=time.monotonic() + time_limit_s)
    except _Skip as why:
        log.info("equation model %s: exact integrator not built (the model keeps its other "
                 "scheme): %s", name or "?", why)
        return None


def _update(m: sympy.Matrix, c: list, deadline: float) -> list[sympy.Expr]:
    n = m.shape[0]
    if n > MAX_STATES:
        raise _Skip(f"{n} states, more than the {MAX_STATES} handled")

    def check_time():
        if time.monotonic() > deadline:
            raise _Skip("the symbolic solution took longer than its time limit")

    dep = [[j for j in range(n) if j != i and m[i, j] != 0] for i in range(n)]
    reach = [set(d) for d in dep]  # transitive closure (n is small)
    for _ in range(n):
        for i in range(n):
            for j in list(reach[i]):
                reach[i] |= reach[j]
    # weakly connected groups of states: each is solved on its own
    group = list(range(n))
    for i in range(n):
        for j in dep[i]:
            gi, gj = group[i], group[j]
            if gi != gj:
                group = [gi if g == gj else g for g in group]
    new = [None] * n
    for g in sorted(set(group)):
        idx = [i for i in range(n) if group[i] == g]
        cyclic = [i for i in idx if i in reach[i]]
        if not cyclic:
            for i in idx:
                new[i] = _triangular_row(i, m, c, dep, check_time)
        elif len(idx) == 2:
            a, b = idx
            new[a], new[b] = _pair(m, c, a, b)
        else:
            names = ", ".join(f"#{i + 1}" for i in idx)
            raise _Skip(
                f"the states {names} (in the order of the equations) are coupled in a loop of "
                "more than two states "
                "(only triangular coupling and a pair of mutually coupled states are solved)"
            )
        check_time()
    ops = sum(sympy.count_ops(e) for e in new)
    if ops > MAX_OPS:
        raise _Skip(f"the solution has {ops} operations, more than the {MAX_OPS} allowed")
    return new


def _triangular_row(i, m, c, dep, check_time) -> sympy.Expr:
    """New y_i: sum over the chains i -> k1 -> ... of the couplings' product times h^len times
    the divided difference of exp at h times the chain's diagonal entries; a chain ends at a
    state j (times y_j) or at the constant (times c, the node's eigenvalue 0)."""
    h = DT
    terms = []
    count = 0

    def walk(chain: list[int], coef):
        nonlocal count
        count += 1
        if count > MAX_CHAINS:
            raise _Skip(f"more than {MAX_CHAINS} coupling chains")
        if count % 16 == 0:
            check_time()
        nodes = [h * m[k, k] for k in chain]
        last = chain[-1]
        power = len(chain) - 1
        terms.append(coef * h**power * _dd(*nodes) * sympy.Symbol(f"y{last}"))
        if c[last] != 0:
            terms.append(coef * c[last] * h ** (power + 1) * _dd(*nodes, sympy.Integer(0)))
        for j in dep[last]:
            walk([*chain, j], coef * m[last, j])

    walk([i], sympy.Integer(1))
    return sympy.Add(*terms)


def _pair(m, c, a, b) -> tuple[sympy.Expr, sympy.Expr]:
    """The two states a, b of a mutually coupled 2x2 block (nothing else coupled to them):
    exp(hM) = B I + A hM and int_0^h exp(sM) ds c = h (A I + D (hM - 2 mu I)) c, with
    A = exp(mu) S(Q), B = exp(mu) (C(Q) - mu S(Q)), D = exp[0, mu + sqrt Q, mu - sqrt Q]
    (the real Newton form of exp on the eigenvalues of the augmented matrix)."""
    h = DT
    m2 = sympy.Matrix([[m[a, a], m[a, b]], [m[b, a], m[b, b]]])
    mu = h * (m2[0, 0] + m2[1, 1]) / 2
    q = h**2 * ((m2[0, 0] - m2[1, 1]) ** 2 / 4 + m2[0, 1] * m2[1, 0])
    big_a = expsinhc(mu, q)
    big_b = expcosh(mu, q) - mu * big_a
    d = ddexp_pair0(mu, q)
    y = sympy.Matrix([sympy.Symbol(f"y{a}"), sympy.Symbol(f"y{b}")])
    cc = sympy.Matrix([c[a], c[b]])
    hm = h * m2
    out = big_b * y + big_a * (hm * y)
    if any(x != 0 for x in cc):
        out += h * (big_a * cc + d * ((hm - 2 * mu * sympy.eye(2)) * cc))
    return out[0], out[1]


# ---------------------------------------------------------------------------------------------
# code


class _ExactPrinter(Printer):
    """The codegen printer, plus the functions of the exact update (numerically safe helpers,
    whose sources ``helpers_source`` writes)."""

    def __init__(self, names=None) -> None:
        super().__init__(names or {}, lib="math")
        self.orders: set[int] = set()
        self.pair = False
        self.phi1 = False

    def p(self, e) -> str:
        if isinstance(e, ddexp):
            k = len(e.args) - 1
            if k == 1 and 0 in e.args:  # exp[0, x] = (exp(x) - 1)/x: one expm1, no sorting
                self.phi1 = True
                x = e.args[1] if e.args[0] == 0 else e.args[0]
                return f"_ex_phi1({self.p(x)})"
            self.orders.add(k)
            return f"_ex_dd{k}({', '.join(self.p(a) for a in e.args)})"
        if isinstance(e, expcosh | expsinhc | ddexp_pair0):
            self.pair = True
            name = {expcosh: "_ex_ec", expsinhc: "_ex_es", ddexp_pair0: "_ex_ddpair0"}[e.func]
            return f"{name}({self.p(e.args[0])}, {self.p(e.args[1])})"
        return super().p(e)

    def helpers_source(self) -> str:
        orders = set(self.orders)
        if self.pair:
            orders.add(2)  # _ex_ddpair0 calls _ex_dd2 for real eigenvalues
        top = max(orders, default=0)
        src = [INV_FACT] if top >= 2 else []
        src += [PHI1] if self.phi1 else []
        src += [_dd_source(k) for k in range(1, top + 1)]
        if self.pair:
            src.append(PAIR_HELPERS)
        return "".join(src)


TAYLOR_SPREAD = 2.0  # nodes closer than this (after sorting): Taylor series about their middle
TAYLOR_TERMS = 24  # enough for |node - middle| <= 1: the terms fall below 1/24! ~ 1.6e-24


def _dd_source(k: int) -> str:
    """A numba function ``_ex_dd{k}(x0, ..., xk)``: exp[x0, ..., xk], accurate where nodes
    coincide. Nodes are sorted; spread apart, the recurrence (exp[x1..xk] - exp[x0..xk-1]) /
    (xk - x0) (no cancellation beyond a small factor: the differences of sorted, separated
    nodes); close together, exp(mid) sum_j h_j(x - mid) / (k + j)!, h_j the complete symmetric
    polynomials."""
    xs = [f"x{i}" for i in range(k + 1)]
    lines = ["", "", '@njit(inline="always", cache=True)', f"def _ex_dd{k}({', '.join(xs)}):"]
    for a in range(k):  # bubble sort, straight-line
        for b in range(k - a):
            lines += [f"    if x{b} > x{b + 1}:", f"        x{b}, x{b + 1} = x{b + 1}, x{b}"]
    if k == 1:
        lines += [
            "    d = x1 - x0",
            # close nodes: exp(mid) sinh(r)/r, r = d/2, by its series (terms r^2j/(2j+1)!,
            # stopped below 1e-17); apart: the difference, without cancellation for d >= 1
            "    if d < 1.0:",
            "        r2 = 0.25 * d * d",
            "        s = 1.0",
            "        t = 1.0",
            "        for j in range(1, 12):",
            "            t = t * r2 / ((2 * j) * (2 * j + 1))",
            "            s += t",
            "            if t < 1e-17:",
            "                break",
            "        return math.exp(0.5 * (x0 + x1)) * s",
            "    return (math.exp(x1) - math.exp(x0)) / d",
        ]
        return "\n".join(lines) + "\n"
    lines += [
        f"    if x{k} - x0 < {TAYLOR_SPREAD!r}:",
        f"        mid = 0.5 * (x0 + x{k})",
        *[f"        d{i} = x{i} - mid" for i in range(k + 1)],
        "        " + " = ".join(f"g{i}" for i in range(k + 1)) + " = 1.0",
        f"        s = {1.0 / math.factorial(k)!r}",
        # |term j| <= r^j / (j! k!), r = max |d_i|, and the sum is >= exp(-r) / k!: stop once
        # r^j / j! < 1e-17 (a relative error below 1e-16 for r <= 1; at once for equal nodes)
        f"        r = 0.5 * (x{k} - x0)",
        "        rj = 1.0",
        f"        for j in range(1, {TAYLOR_TERMS + 1}):",
        "            g0 = d0 * g0",
        *[f"            g{i} = g{i - 1} + d{i} * g{i}" for i in range(1, k + 1)],
        f"            s += g{k} * _EX_INV_FACT[{k} + j]",
        "            rj = rj * r",
        "            if rj * _EX_INV_FACT[j] < 1e-17:",
        "                break",
        "        return math.exp(mid) * s",
        f"    return (_ex_dd{k - 1}({', '.join(xs[1:])}) - _ex_dd{k - 1}({', '.join(xs[:-1])}))"
        f" / (x{k} - x0)",
    ]
    return "\n".join(lines) + "\n"


# 1/n! for n < 40 (numba reads a global tuple as a constant)
INV_FACT = "\n\n_EX_INV_FACT = ({})\n".format(
    ", ".join(repr(1.0 / math.factorial(n)) for n in range(40))
)

PHI1 = '''

@njit(inline="always", cache=True)
def _ex_phi1(x):
    """exp[0, x] = (exp(x) - 1)/x, 1 at x = 0."""
    if abs(x) < 1e-6:
        return 1.0 + x * (0.5 + x / 6.0)
    return math.expm1(x) / x
'''

PAIR_HELPERS = '''

@njit(cache=True)
def _ex_ec(mu, q):
    """exp(mu) cosh(sqrt q), exp(mu) cos(sqrt -q) for q < 0 (no overflow of cosh)."""
    if q >= 0.0:
        r = math.sqrt(q)
        return 0.5 * (math.exp(mu + r) + math.exp(mu - r))
    return math.exp(mu) * math.cos(math.sqrt(-q))


@njit(cache=True)
def _ex_es(mu, q):
    """exp(mu) sinh(sqrt q)/sqrt q, continued through q = 0 to exp(mu) sin(sqrt -q)/sqrt -q."""
    if abs(q) < 1e-4:
        return math.exp(mu) * (1.0 + q * (1.0 / 6.0 + q * (1.0 / 120.0 + q / 5040.0)))
    if q > 0.0:
        r = math.sqrt(q)
        if r < 1.0:
            return math.exp(mu) * (math.sinh(r) / r)
        return (math.exp(mu + r) - math.exp(mu - r)) / (2.0 * r)
    r = math.sqrt(-q)
    return math.exp(mu) * (math.sin(r) / r)


@njit(cache=True)
def _ex_ddpair0(mu, q):
    """exp[0, mu + sqrt q, mu - sqrt q]: real nodes by _ex_dd2; a complex pair z, conj(z) by
    (1 + exp(mu) (mu S - C)) / |z|^2 where |z| > 1, else by the series sum_j h_j / (j + 2)!
    with h_j = 2 mu h_{j-1} - |z|^2 h_{j-2} (the complete symmetric polynomials of z, conj z)."""
    if q >= 0.0:
        r = math.sqrt(q)
        return _ex_dd2(0.0, mu + r, mu - r)
    det = mu * mu - q
    if det > 1.0:
        r = math.sqrt(-q)
        e = math.exp(mu)
        return (1.0 + e * (mu * (math.sin(r) / r) - math.cos(r))) / det
    hm = 1.0
    hj = 2.0 * mu
    w = 1.0 / 6.0
    s = 0.5 + hj * w
    for j in range(2, 32):
        hm, hj = hj, 2.0 * mu * hj - det * hm
        w = w / (j + 2)
        s += hj * w
    return s
'''


def exact_step_source(eqs, name: str = "") -> str | None:
    """Python source of ``exact_step(y0, ..., dt, cur, p0, ...)`` -> the new states tuple (a
    numba function, with its helpers), to append to the model module's source (it needs
    ``math`` and ``njit`` there, as ``codegen.HEADER`` imports them); None when
    ``exact_update`` gives None; ``name``: the model's, for the log line."""
    new = exact_update(eqs, name=name)
    if new is None:
        return None
    return _step_source(new, len(eqs.states), len(eqs.params))


def _step_source(new: Sequence[sympy.Expr], n_states: int, n_params: int) -> str:
    pr = _ExactPrinter()
    args = [*(f"y{i}" for i in range(n_states)), "dt", "cur", *(f"p{j}" for j in range(n_params))]
    body = jit_function("exact_step", args, list(new), pr)
    head = "\n# the exact integrator (neuroscape.models.equations.exact)\n"
    return head + pr.helpers_source() + body


def exact_capable(model):
    """``model`` (a ``NeuronModel`` built from equations) with a module that also defines
    ``exact_step``, so that it runs with ``integrator='exact'``; None when its equations have no
    exact update here. (The loader appends the same source to the modules it generates.)"""
    import dataclasses
    import importlib
    from pathlib import Path

    from neuroscape.core.codegen import load_generated

    if model.equations is None:
        return None
    src = exact_step_source(model.equations, model.name)
    if src is None:
        return None
    old = importlib.import_module(model.module)
    text = Path(old.__file__).read_text()
    if "def exact_step(" in text:
        return model
    module = load_generated(f"eq_{model.name}_exact", text + src, [])
    return dataclasses.replace(model, module=module.__name__, initial_state=module.initial)
