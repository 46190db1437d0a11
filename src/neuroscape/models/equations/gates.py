"""Hodgkin-Huxley-type structure in equation models, and the gate-table code it allows.

A model is HH-type when
1. its first state is a membrane potential (declared in a unit of voltage), and it has no
   threshold/reset (spikes are upward crossings of ``spike_level``);
2. every other state x is a gate of first-order kinetics driven by V alone:
   dx/dt = A_x(V) x + B_x(V), with A_x, B_x functions of V and the parameters only (no other
   state, no current; the alpha/beta form alpha (1 - x) - beta x and the x_inf/tau form
   (x_inf - x)/tau are both of it).

With V frozen over a step, each gate then relaxes exactly to x_inf = -B_x/A_x by the factor
exp(A_x dt) (Rush and Larsen 1978), and both depend on V alone, so they can be tabulated once per
parameter set on a fine grid of V (the classic speed-up of NEURON and GENESIS; Hines 1984). The
generated module gets ``voltage_linear`` and ``gate_tables``, what the neuron engine's gate-table
kernels (``exponential_euler_tables``, ``exponential_staggered_tables`` and the vectorised block
kernel) read.

``voltage_linear(y..., I, p...) -> (A, B)``: dV/dt = A V + B. Where V enters its equation
linearly (dV/dt = (I - sum g_k(gates) (V - E_k))/C: Hodgkin-Huxley, Connor-Stevens), A and B are
free of V and the update V + (A V + B) dt phi1(A dt) is exact for gates and current frozen over
the step. Where it does not (an instantaneous activation m_inf(V) inside a conductance:
Wang-Buzsaki, Morris-Lecar), A = df/dV and B = f - A V at the present state: the same update is
then the exponential Rosenbrock-Euler step (Hochbruck, Ostermann and Schweitzer 2009, SIAM J
Numer Anal 47:786), still of second order, and exact where f is linear in V.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from neuroscape.models.equations.codegen import Printer, jit_function
from neuroscape.models.equations.expressions import exprel_d, parse_unit

# The adaptive scheme for models without reset: the Dormand & Prince (1980) 5(4) pair with step
# size control, integrated by the neuron engine's lane kernel (neuroscape.sim.neuron_engine,
# generated from the equations). Named here, below the engine, because the loader validates
# declared settings too; ``scheme_name`` accepts it beside neuroscape.core.integrators' schemes.
DOPRI5 = "dopri5"


def scheme_name(name: str) -> str:
    """The canonical name of an integrator: ``dopri5``, or what
    ``neuroscape.core.integrators.canonical_name`` makes of ``name`` (an IntegratorError, one
    line listing every scheme, for an unknown one)."""
    from neuroscape.core.integrators import SCHEMES, IntegratorError, canonical_name

    if name == DOPRI5:
        return DOPRI5
    try:
        return canonical_name(name)
    except IntegratorError:
        raise IntegratorError(
            f"unknown integrator {name!r}; allowed: {', '.join((*SCHEMES, DOPRI5))}"
        ) from None


# The default of HH-type models: dopri5 (measured in benchmarks/hh_vs_brian2.py and
# tests/models/test_hh_dopri5.py against independent solutions; the staggered gate-table
# scheme, second order, stays selectable). dt is then the grid of recorded states and of noisy
# stimuli, not a step.
HH_DT_MS = 0.005
HH_NOTE = (
    "dopri5: Dormand & Prince's 5(4) pair (1980) with step size control (relative tolerance "
    "3e-6, steps of at most 0.3 ms), generated from the equations and run in float32 SIMD "
    "lanes, one row per lane; spike times from the steps' continuous extension; dt is the grid "
    "of recorded states (and of noisy stimuli), not a step"
)

# Gates at a removable singularity (e.g. (V + 40 mV)/(1 - exp(-(V + 40 mV)/10 mV)) written
# without exprel, 0/0 at exactly -40 mV) are evaluated this far (mV) on both sides and averaged:
# the limit of a removable singularity, to about 1e-9 relative for such rate functions.
SINGULAR_STEP_MV = 1e-6


@dataclass(frozen=True)
class GateCode:
    """The gate-table code of an HH-type model: ``source`` defines ``voltage_linear`` and
    ``gate_tables`` (appended to the model's generated module); ``table_params`` names the
    parameters the gates' coefficients depend on (one table per distinct set of their values);
    ``gates``: the gate states' names."""

    source: str
    table_params: tuple[str, ...]
    gates: tuple[str, ...]


def gate_structure(states, params, current, rhs, has_reset: bool) -> tuple[GateCode | None, str]:
    """(the gate-table code, or None; why: what makes the model HH-type, or what does not).

    states, params: name -> symbol record (``.dim``: Dim, ``.code``: the positional sympy symbol,
    y0.. / p0..), in order; current: the current's symbol record; rhs: d(state)/dt as sympy
    expressions (unclamped); has_reset: threshold/reset models are not HH-type (the table
    kernels report upward crossings and have no reset)."""
    names = list(states)
    s0 = states[names[0]]
    if has_reset:
        return None, "has a threshold and reset"
    if not s0.dim.same(parse_unit("V")):
        return None, f"its first state {names[0]} is not a membrane potential (a voltage)"
    if len(names) < 2:
        return None, "no gating variable"
    v = s0.code
    allowed = {v, *(p.code for p in params.values())}
    by = {s.code: n for n, s in states.items()}
    by[current.code] = current.name
    coefs = []
    for x, f in zip(names[1:], rhs[1:], strict=True):
        y = states[x].code
        a = sympy.diff(f, y)
        if a.has(y):
            return None, f"d{x}/dt is not linear in {x}"
        b = f.subs(y, 0)
        others = (a.free_symbols | b.free_symbols) - allowed
        if others:
            what = ", ".join(sorted(by.get(s, str(s)) for s in others))
            return None, f"d{x}/dt depends on {what}, not on {names[0]} and parameters alone"
        if a == 0:
            return None, f"d{x}/dt does not depend on {x} (no relaxation to a steady state)"
        if b.has(sympy.zoo, sympy.nan, sympy.oo):
            return None, f"d{x}/dt is not finite at {x} = 0"
        coefs += [a, b]
    # V's coefficients: exact where V enters linearly, else the linearisation at the state
    a0 = sympy.diff(rhs[0], v)
    linear_v = not a0.has(v)
    b0 = rhs[0].subs(v, 0) if linear_v else rhs[0] - a0 * v
    if b0.has(sympy.zoo, sympy.nan, sympy.oo):  # not finite at V = 0: B from f itself
        b0 = rhs[0] - a0 * v
    gates = tuple(names[1:])
    used = set().union(*(c.free_symbols for c in coefs))
    table_params = tuple(n for n, p in params.items() if p.code in used)
    how = (f"dV/dt linear in {names[0]}" if linear_v else
           f"dV/dt linearised in {names[0]} at each step")  # fmt: skip
    try:
        source = _source(states, params, [a0, b0, *coefs], s0)
    except ValueError as exc:  # e.g. the derivative of clip or abs in dV/dt
        return None, f"no code for its gate tables: {exc}"
    return GateCode(source, table_params, gates), (
        f"HH-type ({how}; the gates {', '.join(gates)} each relax to a steady state at rates "
        f"of {names[0]} alone)"
    )


class _Printer(Printer):
    """The loader's printer, and exprel's derivative (in V's linearisation)."""

    def p(self, e) -> str:
        if isinstance(e, exprel_d):
            return f"_exprel_d({self.p(e.args[0])}, {self.p(e.args[1])})"
        if e.is_Pow and e.exp.is_Integer and -4 <= e.exp < -1:  # products, not pow()
            return f"(1.0 / {self.p(e.base ** -e.exp)})"
        return super().p(e)


_EXPREL_D = '''

@njit(inline="always", cache=True)
def _exprel_d(x, e):
    # d exprel(x)/dx = (exp(x) - exprel(x))/x with e = exprel(x), exp(x) = 1 + x e; its Taylor
    # series near 0 (error below 1e-14; the difference loses at most 1e-12 relative above)
    if abs(x) < 1e-3:
        return 0.5 + x * (1.0 / 3.0 + x * (0.125 + x / 30.0))
    return (1.0 + (x - 1.0) * e) / x
'''


def _source(states, params, linear, s0) -> str:
    n_s, n_p = len(states), len(params)
    n_g = n_s - 1
    ys = [f"y{i}" for i in range(n_s)]
    ps = [f"p{j}" for j in range(n_p)]
    pr = _Printer({})
    out = [_EXPREL_D, jit_function("voltage_linear", [*ys, "cur", *ps], list(linear[:2]), pr)]
    # the gates' coefficients as functions of y0 (V) and the parameters
    # numpy's error model: 0/0 at a removable singularity is NaN (then mended), not an error
    coefficients = jit_function("gate_coefficients", ["y0", *ps], list(linear[2:]), pr)
    out.append(coefficients.replace("cache=True)", 'cache=True, error_model="numpy")'))
    p_args = ", ".join(f"p[{j}]" for j in range(n_p))
    coefs = ", ".join(f"A{g}, B{g}" for g in range(n_g))
    fill = [
        "",
        "",
        '@njit(inline="always", cache=True, error_model="numpy")',
        "def _gate_row(v, p, dt, out, k):",
        f"    {coefs}, = gate_coefficients(v{', ' if n_p else ''}{p_args})",
    ]
    for g in range(n_g):
        fill.append(f"    out[k, {2 * g}] = math.exp(A{g} * dt)")
        fill.append(f"    out[k, {2 * g + 1}] = -B{g} / A{g}")
    # one mV in V's declared unit: the step of the two-sided evaluation at a singular point
    mv = float(sympy.Rational(1, 1000) / s0.dim.factor)
    delta = SINGULAR_STEP_MV * mv
    rows = [
        "",
        "",
        '@njit(cache=True, error_model="numpy")',
        "def _gate_rows(v, p, dt, out):",
        f"    side = np.empty((2, {2 * n_g}))",
        "    for k in range(v.shape[0]):",
        "        _gate_row(v[k], p, dt, out, k)",
        "        bad = False",
        f"        for c in range({2 * n_g}):",
        "            bad = bad or not math.isfinite(out[k, c])",
        "        if bad:  # a removable singularity at v[k] (0/0): the mean of both sides",
        f"            _gate_row(v[k] - {delta!r}, p, dt, side, 0)",
        f"            _gate_row(v[k] + {delta!r}, p, dt, side, 1)",
        f"            for c in range({2 * n_g}):",
        "                out[k, c] = 0.5 * (side[0, c] + side[1, c])",
        "",
        "",
        "def gate_tables(v_grid, p, dt):",
        f'    """(n_grid, {2 * n_g}): exp(A_x dt) and x_inf = -B_x/A_x of the gates '
        f'{", ".join(list(states)[1:])} at each voltage of v_grid (in V\'s declared unit), for '
        'the parameter row p and the step dt (ms)."""',
        "    v = np.ascontiguousarray(v_grid, dtype=np.float64)",
        f"    out = np.empty((v.shape[0], {2 * n_g}))",
        "    _gate_rows(v, np.ascontiguousarray(p, dtype=np.float64), float(dt), out)",
        "    return out",
    ]
    return "".join(out) + "\n".join(fill) + "\n" + "\n".join(rows) + "\n"
