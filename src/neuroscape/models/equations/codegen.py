"""Sympy expressions -> the Python source of numba-jitted scalar functions (and a numpy one),
or of plain functions over torch tensors (one element per batch row) for the torch back end."""

from __future__ import annotations

import math

import sympy

from neuroscape.models.equations.expressions import exprel

_MATH = {
    sympy.exp: "exp", sympy.log: "log", sympy.tanh: "tanh", sympy.cosh: "cosh",
    sympy.sinh: "sinh", sympy.sin: "sin", sympy.cos: "cos",
}  # fmt: skip


def _exprel_py(x: float) -> float:
    """The numba ``_exprel`` of ``HEADER`` in plain Python (for constants)."""
    if abs(x) < 1e-6:
        return 1.0 + x * (0.5 + x / 6.0)
    return math.expm1(x) / x


class Printer:
    """Prints an expression as Python: ``lib`` is 'math' (scalar, numba), 'np' (arrays) or
    'torch' (tensors; the helpers of ``TORCH_HEADER`` must be in scope)."""

    def __init__(self, names: dict[sympy.Symbol, str], lib: str = "math") -> None:
        if lib not in ("math", "np", "torch"):
            raise ValueError(f"lib={lib!r}; allowed: math, np, torch")
        self.names = names
        self.lib = lib

    def __call__(self, e) -> str:
        return self.p(e)

    def p(self, e) -> str:
        if self.lib == "torch":
            t = self._torch(e)
            if t is not None:
                return t
        if e.is_Symbol:
            return self.names.get(e, e.name)
        if e is sympy.true or e is sympy.false:
            return "True" if e is sympy.true else "False"
        if e.is_Number:
            if e.is_infinite or e is sympy.nan:
                raise ValueError(f"the expression evaluates to {e}")
            v = repr(float(e))
            return f"({v})" if v.startswith("-") else v
        if e.is_Add:
            return "(" + " + ".join(self.p(a) for a in e.args) + ")"
        if e.is_Mul:
            num, den = [], []
            for a in e.args:
                if a.is_Pow and a.exp.is_Number and a.exp < 0:
                    den.append(a.base if a.exp == -1 else a.base ** (-a.exp))
                elif a.is_Rational and not a.is_Integer and a.p in (1, -1):
                    # x/q as x * (1/q): a multiplication costs a fraction of a division in the
                    # kernels' inner loop (the last bit may differ from the division)
                    if a.p == -1:
                        num.append(sympy.Integer(-1))
                    num.append(sympy.Float(1.0 / a.q))
                else:
                    num.append(a)
            if num and num[0] == -1:  # a leading minus, not a multiplication by -1.0
                rest = " * ".join(self.p(a) for a in num[1:]) if len(num) > 1 else "1.0"
                top = f"-{rest}"
            else:
                top = " * ".join(self.p(a) for a in num) if num else "1.0"
            if not den:
                return f"({top})"
            return f"({top} / ({' * '.join(self.p(a) for a in den)}))"
        if e.is_Pow:
            b, k = e.base, e.exp
            if k == sympy.Rational(1, 2):
                return f"{self.lib}.sqrt({self.p(b)})"
            if k == -1:
                return f"(1.0 / {self.p(b)})"
            if k.is_Integer and 0 < k <= 4:
                b_s = self.p(b)
                return "(" + " * ".join([b_s] * int(k)) + ")"
            return f"({self.p(b)} ** {self.p(k)})"
        if isinstance(e, sympy.Abs):
            return f"{'abs' if self.lib == 'math' else 'np.abs'}({self.p(e.args[0])})"
        if isinstance(e, sympy.Min | sympy.Max):
            f = ("min" if isinstance(e, sympy.Min) else "max") if self.lib == "math" else (
                "np.minimum" if isinstance(e, sympy.Min) else "np.maximum")
            args = [self.p(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = f"{f}({out}, {a})"
            return out
        if isinstance(e, exprel):
            return f"{'_exprel' if self.lib == 'math' else '_exprel_np'}({self.p(e.args[0])})"
        if e.func in _MATH:
            return f"{self.lib}.{_MATH[e.func]}({self.p(e.args[0])})"
        if isinstance(e, sympy.core.relational.Relational):
            return f"({self.p(e.lhs)} {e.rel_op} {self.p(e.rhs)})"
        if isinstance(e, sympy.And | sympy.Or):
            op = " and " if isinstance(e, sympy.And) else " or "
            return "(" + op.join(self.p(a) for a in e.args) + ")"
        if isinstance(e, sympy.Not):
            return f"(not {self.p(e.args[0])})"
        raise ValueError(f"cannot generate code for {e}")

    def _torch(self, e) -> str | None:
        """The torch spelling where it differs from the numpy one (None: the shared rules)."""
        if isinstance(e, sympy.core.relational.Relational | sympy.And | sympy.Or | sympy.Not):
            pass
        elif e.is_number and (e.is_Function or e.is_Pow):
            # a function of constants (exp(-1/2)), which torch's functions do not take as a
            # float: its value, computed as the numba code computes it (Python's math is the
            # same libm)
            try:
                v = eval(Printer({}, "math").p(e), {"math": math, "_exprel": _exprel_py})  # noqa: S307
            except (ArithmeticError, ValueError) as exc:
                raise ValueError(f"the expression {e} cannot be evaluated: {exc}") from None
            if not isinstance(v, float | int) or not math.isfinite(v):
                raise ValueError(f"the expression {e} is not a finite real number")
            r = repr(float(v))
            return f"({r})" if r.startswith("-") else r
        if isinstance(e, sympy.Abs):
            return f"torch.abs({self.p(e.args[0])})"
        if isinstance(e, sympy.Min | sympy.Max):
            f = "_minimum" if isinstance(e, sympy.Min) else "_maximum"
            args = [self.p(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = f"{f}({out}, {a})"
            return out
        if isinstance(e, exprel):
            return f"_exprel_t({self.p(e.args[0])})"
        if isinstance(e, sympy.And | sympy.Or):
            op = " & " if isinstance(e, sympy.And) else " | "
            return "(" + op.join(self.p(a) for a in e.args) + ")"
        if isinstance(e, sympy.Not):
            return f"(~{self.p(e.args[0])})"
        if isinstance(e, sympy.Piecewise):
            out = None
            for val, cond in reversed(e.args):
                if cond is sympy.true:
                    out = self.p(val)
                elif out is None:
                    raise ValueError(f"{e} has no value where no condition holds")
                else:
                    out = f"_where({self.p(cond)}, {self.p(val)}, {out})"
            return out
        return None


HEADER = '''\
# generated by neuroscape.models.equations from {origin}; do not edit
import math

import numpy as np
from numba import njit


@njit(inline="always", cache=True)
def _exprel(x):
    if abs(x) < 1e-6:
        return 1.0 + x * (0.5 + x / 6.0)
    return math.expm1(x) / x


def _exprel_np(x):
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-6
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 + x * (0.5 + x / 6.0), np.expm1(safe) / safe)
'''


def jit_function(name: str, args: list[str], exprs: list, printer: Printer, tuple_out=True,
                 cse: bool = True) -> str:
    """A numba function returning ``exprs`` (a tuple unless ``tuple_out`` is False)."""
    head = ["", "", '@njit(inline="always", cache=True)', f"def {name}({', '.join(args)}):"]
    return _function(head, exprs, printer, tuple_out, cse)


def torch_function(name: str, args: list[str], exprs: list, printer: Printer, tuple_out=True,
                   cse: bool = True) -> str:
    """A plain Python function of torch tensors returning ``exprs`` (``printer``: lib 'torch');
    the same common subexpressions and operation order as ``jit_function``."""
    return _function(["", "", f"def {name}({', '.join(args)}):"], exprs, printer, tuple_out, cse)


def _function(lines: list[str], exprs: list, printer: Printer, tuple_out: bool,
              cse: bool) -> str:
    if cse:
        temps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_t"), optimizations=None)
    else:
        temps, reduced = [], list(exprs)
    for sym, val in temps:
        lines.append(f"    {sym.name} = {printer(val)}")
    outs = [printer(e) for e in reduced]
    if tuple_out:
        lines.append("    return " + ", ".join(outs) + ("," if len(outs) == 1 else ""))
    else:
        lines.append(f"    return {outs[0]}")
    return "\n".join(lines) + "\n"


TORCH_HEADER = '''\
# generated by neuroscape (torch back end) from {origin}; do not edit
import math

import torch


def _where(c, a, b):
    if not isinstance(c, torch.Tensor):
        return a if c else b
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        a = torch.tensor(float(a), dtype=torch.float64, device=c.device)
    return torch.where(c, a, b)


def _minimum(a, b):
    if isinstance(a, torch.Tensor):
        return torch.minimum(a, b) if isinstance(b, torch.Tensor) else torch.clamp(a, max=b)
    return torch.clamp(b, max=a) if isinstance(b, torch.Tensor) else min(a, b)


def _maximum(a, b):
    if isinstance(a, torch.Tensor):
        return torch.maximum(a, b) if isinstance(b, torch.Tensor) else torch.clamp(a, min=b)
    return torch.clamp(b, min=a) if isinstance(b, torch.Tensor) else max(a, b)


def _exprel_t(x):
    # the numba _exprel: its series below |x| < 1e-6, expm1(x)/x above
    if not isinstance(x, torch.Tensor):
        return 1.0 + x * (0.5 + x / 6.0) if abs(x) < 1e-6 else math.expm1(x) / x
    small = torch.abs(x) < 1e-6
    safe = torch.where(small, 1.0, x)
    return torch.where(small, 1.0 + x * (0.5 + x / 6.0), torch.expm1(safe) / safe)


def _exprel_d_t(x):
    # d exprel(x)/dx as the gate-table code computes it (models.equations.gates): its Taylor
    # series below |x| < 1e-3, (exp(x) - expm1(x)/x)/x above
    if not isinstance(x, torch.Tensor):
        if abs(x) < 1e-3:
            return 0.5 + x * (1.0 / 3.0 + x * (0.125 + x / 30.0))
        return (math.exp(x) - math.expm1(x) / x) / x
    small = torch.abs(x) < 1e-3
    safe = torch.where(small, 1.0, x)
    series = 0.5 + x * (1.0 / 3.0 + x * (0.125 + x / 30.0))
    return torch.where(small, series, (torch.exp(safe) - torch.expm1(safe) / safe) / safe)


def phi1(z):
    # neuroscape.core.integrators.phi1, (exp(z) - 1)/z: 1 + z/2 below |z| < 1e-8
    if not isinstance(z, torch.Tensor):
        return 1.0 + 0.5 * z if abs(z) < 1e-8 else math.expm1(z) / z
    small = torch.abs(z) < 1e-8
    safe = torch.where(small, 1.0, z)
    return torch.where(small, 1.0 + 0.5 * z, torch.expm1(safe) / safe)
'''
