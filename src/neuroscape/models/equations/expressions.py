"""Brian2-style expressions -> sympy, with their dimensions checked on the way.

The text is parsed with Python's ``ast`` (never evaluated), and only arithmetic, numbers, names
and the functions in ``FUNCTIONS`` are accepted. Each node gives its sympy expression *in SI*
(a symbol ``x`` declared in unit u stands for ``factor(u) * x``) and its dimension, so a sum of a
voltage and a current is refused before anything is compiled.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping

import sympy

from neuroscape.models.equations.units import ONE, Dim, describe_dims, unit_dim, unit_names


class ExpressionError(Exception):
    """A problem in one expression (the caller adds the file and line)."""


class exprel(sympy.Function):  # noqa: N801 - Brian2's name
    """(exp(x) - 1) / x, 1 at x = 0."""

    nargs = 1

    def fdiff(self, argindex=1):
        return exprel_d(self.args[0], self)


class exprel_d(sympy.Function):  # noqa: N801
    """exprel_d(x, exprel(x)) = d exprel(x)/dx = (exp(x) - exprel(x))/x, 1/2 at x = 0 (the
    gate-table code's Jacobians of rate functions written with exprel; ``gates`` prints it).
    The second argument, exprel(x) itself, lets the code share it with the rate function
    (exp(x) = 1 + x exprel(x)): no exponential of its own."""

    nargs = 2


# name -> (number of arguments, sympy builder); the dimension rules are in _call
FUNCTIONS: dict[str, tuple[int, Callable]] = {
    "exp": (1, sympy.exp),
    "log": (1, sympy.log),
    "sqrt": (1, sympy.sqrt),
    "tanh": (1, sympy.tanh),
    "cosh": (1, sympy.cosh),
    "sinh": (1, sympy.sinh),
    "sin": (1, sympy.sin),
    "cos": (1, sympy.cos),
    "abs": (1, sympy.Abs),
    "exprel": (1, exprel),
    "clip": (3, lambda x, lo, hi: sympy.Min(sympy.Max(x, lo), hi)),
}
_SAME_DIM = ("abs", "clip")
_GROWING = {"exp": math.exp, "exprel": math.exp, "sinh": math.sinh, "cosh": math.cosh}

# a resolved name: its SI expression and its dimension (pint UnitsContainer)
Lookup = Callable[[str], tuple[sympy.Expr, object] | None]


def parse(text: str, mode: str = "eval") -> ast.AST:
    try:
        return ast.parse(text.strip(), mode=mode)
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in {text.strip()!r}: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ExpressionError(f"cannot parse {text.strip()!r}: {exc}") from None


def to_sympy(node: ast.AST, lookup: Lookup) -> tuple[sympy.Expr, object]:
    """(SI sympy expression, dimension) of an arithmetic expression node."""
    try:
        return _walk(node, lookup)
    except RecursionError:
        raise ExpressionError("expression nested too deeply") from None


def _dimless(d) -> bool:
    return not d


def _walk(node: ast.AST, lookup: Lookup):
    if isinstance(node, ast.Expression):
        return _walk(node.body, lookup)
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ExpressionError(f"{v!r} is not a number")
        if v != v or v in (float("inf"), float("-inf")):
            raise ExpressionError(f"{v!r} is not a finite number")
        # the empty container: pint keeps zero exponents in dims**0, which then compares
        # unequal to a ratio that cancels (mV/mV)
        return sympy.Rational(repr(v)), ONE.dims
    if isinstance(node, ast.Name):
        found = lookup(node.id)
        if found is None:
            raise ExpressionError(f"unknown symbol {node.id!r}")
        return found
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        e, d = _walk(node.operand, lookup)
        return (-e if isinstance(node.op, ast.USub) else e), d
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            return _pow(node, lookup)
        a, da = _walk(node.left, lookup)
        b, db = _walk(node.right, lookup)
        if isinstance(node.op, ast.Add | ast.Sub):
            if da != db:
                op = "+" if isinstance(node.op, ast.Add) else "-"
                raise ExpressionError(
                    f"dimension mismatch in {ast.unparse(node)!r}: {ast.unparse(node.left)!r} is "
                    f"in {describe_dims(da)}, {ast.unparse(node.right)!r} is in "
                    f"{describe_dims(db)} ({op} needs the same dimension)"
                )
            return (a + b if isinstance(node.op, ast.Add) else a - b), da
        if isinstance(node.op, ast.Mult):
            return a * b, da * db
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise ExpressionError(f"division by zero in {ast.unparse(node)!r}")
            return a / b, da / db
    if isinstance(node, ast.Call):
        return _call(node, lookup)
    raise ExpressionError(
        f"{ast.unparse(node)!r} is not allowed; allowed: numbers, names, + - * / **, "
        f"and the functions {', '.join(FUNCTIONS)}"
    )


def _number(node: ast.AST) -> float | None:
    """The value of a literal number (possibly negated), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _number(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if not isinstance(node.value, bool):
            return node.value
    return None


def _pow(node: ast.BinOp, lookup: Lookup):
    base, db = _walk(node.left, lookup)
    k = _number(node.right)
    if k is not None:
        if abs(k) > 64:
            raise ExpressionError(f"exponent {k!r} in {ast.unparse(node)!r}; allowed: |k| <= 64")
        kr = sympy.Rational(repr(k))
        return base**kr, (db**k if db and k != 0 else ONE.dims)
    e, de = _walk(node.right, lookup)
    if e.is_Number and abs(e) > 64:  # a computed exponent (10**10**10) would not end either
        raise ExpressionError(f"exponent {e} in {ast.unparse(node)!r}; allowed: |k| <= 64")
    if de or db:
        raise ExpressionError(
            f"{ast.unparse(node)!r}: a non-numeric exponent needs a dimensionless base and "
            f"exponent (base in {describe_dims(db)}, exponent in {describe_dims(de)})"
        )
    return base**e, db


def _call(node: ast.Call, lookup: Lookup):
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
        name = ast.unparse(node.func)
        raise ExpressionError(f"unknown function {name!r}; allowed: {', '.join(FUNCTIONS)}")
    name = node.func.id
    n, build = FUNCTIONS[name]
    if len(node.args) != n:
        raise ExpressionError(f"{name}() takes {n} argument(s), got {len(node.args)}")
    args = [_walk(a, lookup) for a in node.args]
    dims = [d for _, d in args]
    a0 = args[0][0]
    if name in _GROWING and a0.is_number and not dims[0]:
        # a constant argument: a value beyond float range is refused here, before sympy tries
        # to evaluate exp(exp(100)) to full precision (which does not end)
        try:
            _GROWING[name](float(a0))
        except (OverflowError, TypeError, ValueError):
            raise ExpressionError(f"{ast.unparse(node)!r} is beyond the range of a float "
                                  "(about 1.8e308)") from None
    if name in _SAME_DIM:
        if any(d != dims[0] for d in dims):
            raise ExpressionError(
                f"{ast.unparse(node)!r}: the arguments of {name} must share one dimension "
                f"(got {', '.join(describe_dims(d) for d in dims)})"
            )
        return build(*[e for e, _ in args]), dims[0]
    if name == "sqrt":
        return build(args[0][0]), dims[0] ** 0.5
    if dims[0]:
        raise ExpressionError(
            f"{ast.unparse(node)!r}: the argument of {name} must be dimensionless, it is in "
            f"{describe_dims(dims[0])}"
        )
    return build(args[0][0]), dims[0]


def unit_lookup(name: str):
    """Lookup of unit names only (for ': unit' and quantities like '281 pF')."""
    if name in unit_names():
        d = unit_dim(name)
        return sympy.Integer(1) * d.factor, d.dims
    return None


def parse_unit(text: str) -> Dim:
    """The dimension and SI factor of a unit expression ('mV', 'uA/cm**2', 'mS/cm^2', '1/ms',
    '1', 'degC'); ``^`` is a power here (see ``units``), as ``**``."""
    text = str(text).strip()
    if not text:
        raise ExpressionError("empty unit")
    # in a unit, '^' can only be a power (Python would read it as exclusive or)
    try:
        tree = parse(text.replace("^", "**"))
    except ExpressionError:
        raise ExpressionError(f"syntax error in the unit {text!r}") from None
    bad = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in unit_names()]
    if bad:
        raise ExpressionError(f"unknown unit {bad[0]!r} in {text!r}")
    if any(isinstance(n, ast.Call) for n in ast.walk(tree)):
        raise ExpressionError(f"a unit cannot call a function: {text!r}")
    e, d = to_sympy(tree, unit_lookup)
    if not e.is_Number or e <= 0:
        raise ExpressionError(f"{text!r} is not a unit")
    return Dim(d, sympy.Rational(e))


def parse_quantity(value, where: str = "") -> tuple[float, Dim, str]:
    """A number with an optional unit ('281 pF', '-5 nS', '0.02 1/ms', 0.2, '2*ms') ->
    (number in that unit, its unit, the unit's text; '1' when dimensionless)."""
    if isinstance(value, bool):
        raise ExpressionError(f"{where}{value!r} is not a quantity")
    if isinstance(value, int | float):
        if value != value or abs(value) == float("inf"):
            raise ExpressionError(f"{where}{value!r} is not a finite number")
        return float(value), ONE, "1"
    if not isinstance(value, str):
        raise ExpressionError(f"{where}{value!r} is not a quantity like '281 pF'")
    import re

    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*(.*?)\s*", value)
    if m is None:
        raise ExpressionError(f"{where}{value!r} is not a quantity like '281 pF'")
    num = float(m.group(1))
    unit_text = m.group(2) or "1"
    if unit_text.startswith("/"):
        unit_text = "1" + unit_text
    if num != num or abs(num) == float("inf"):
        raise ExpressionError(f"{where}{value!r} is not a finite number")
    return num, parse_unit(unit_text), unit_text


def convert(value: float, frm: Dim, to: Dim) -> float:
    """value in unit ``frm`` expressed in unit ``to`` (same dimension: the caller checks)."""
    ratio = frm.factor / to.factor
    return float(value) if ratio == 1 else float(sympy.Rational(repr(float(value))) * ratio)


def lookup_chain(*maps: Mapping[str, tuple]) -> Lookup:
    def look(name: str):
        for m in maps:
            if name in m:
                return m[name]
        return unit_lookup(name)

    return look
