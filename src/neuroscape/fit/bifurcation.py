"""Bifurcation maps of single-neuron models: behaviour class over one or two parameters from
batched simulations, and the stability of the equilibrium from its Jacobian's eigenvalues, to
locate Hopf (a complex pair crosses the imaginary axis) and saddle-node (a real eigenvalue
crosses zero) boundaries.

The bifurcation parameter is a model parameter or ``I``, the amplitude of a constant injected
current. Equilibria are followed by natural continuation (``scipy.optimize.fsolve`` from the
previous grid point) along the branch that holds the resting state at the grid's first value;
folds of that branch show as a real eigenvalue crossing zero or as the branch ending.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, fsolve

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import Model, get_neuron_model
from neuroscape.models.neuron import classify_spikes
from neuroscape.sim.neuron_engine import simulate_neurons

CURRENT = "I"


class BifurcationError(ValueError):
    pass


@dataclass
class Boundary:
    param: str
    value: float
    kind: str  # "hopf", "saddle-node", "branch end", or "class a->b" (from simulations)
    at: dict = field(default_factory=dict)  # the other parameter's value on 2D maps


def _rhs_vec(m, params_row: np.ndarray, current: float):
    f = getattr(m.functions(), m.function_name("rhs"))
    pr = [float(x) for x in params_row]

    def rhs(y):
        return np.array(f(*map(float, y), float(current), *pr))

    return rhs


def jacobian(m, y: np.ndarray, params_row: np.ndarray, current: float, h: float = 1e-6):
    """Central-difference Jacobian of the model's right-hand side at state y."""
    rhs = _rhs_vec(m, params_row, current)
    n = len(y)
    jac = np.empty((n, n))
    for j in range(n):
        d = np.zeros(n)
        d[j] = h * max(1.0, abs(y[j]))
        jac[:, j] = (rhs(y + d) - rhs(y - d)) / (2 * d[j])
    return jac


def equilibrium(m, params_row, current, guess) -> np.ndarray | None:
    rhs = _rhs_vec(m, params_row, current)
    y, info, ier, _ = fsolve(rhs, np.asarray(guess, float), full_output=True, xtol=1e-12)
    if ier != 1 or np.max(np.abs(rhs(y))) > 1e-8:
        return None
    return y


class _Family:
    """Parameter rows and currents along one bifurcation parameter."""

    def __init__(self, model: Model | str, param: str, fixed: dict[str, float], current: float):
        self.m = get_neuron_model(model)
        self.spec = self.m.spec
        names = self.spec.parameter_names
        if param != CURRENT and param not in names:
            raise BifurcationError(
                f"unknown parameter {param!r} for {model!r}; allowed: {CURRENT}, {', '.join(names)}"
            )
        for k in fixed:
            if k not in names:
                raise BifurcationError(f"unknown parameter {k!r}; allowed: {', '.join(names)}")
        self.param, self.base, self.current = param, self.spec.params_array(dict(fixed))[0], current

    def row(self, value: float) -> tuple[np.ndarray, float]:
        if self.param == CURRENT:
            return self.base, float(value)
        p = self.base.copy()
        p[self.spec.parameter_names.index(self.param)] = value
        return p, self.current


def rest_state(model: Model | str, params_row: np.ndarray, current: float, t_ms: float = 2000.0):
    """The state after a long run, a start for the equilibrium search."""
    m = get_neuron_model(model)
    r = simulate_neurons(
        model,
        params_row[None],
        make_stimulus("step", amp=current),
        duration_ms=t_ms,
        dt_ms=m.default_dt_ms,
        record_v=True,
        integrator=m.spec.settings.integrator,
        record_every=max(1, int(t_ms / m.default_dt_ms / 2000)),
    )
    return r.states[0].mean(axis=1)  # the time average: the rest state, or near it


def continue_equilibria(
    model: Model | str, param: str, values: np.ndarray, fixed=None, current: float = 0.0
):
    """Follow the equilibrium over ``values``: states (N, n), NaN where lost, and eigenvalues."""
    fam = _Family(model, param, dict(fixed or {}), current)
    n = len(fam.m.states)
    ys, eigs = np.full((len(values), n), np.nan), np.full((len(values), n), np.nan + 0j)
    p, c = fam.row(values[0])
    guess = rest_state(model, p, c)
    for k, val in enumerate(values):
        p, c = fam.row(val)
        # guesses: the previous point, its linear extrapolation, then the run's time average
        tries = [guess]
        if k >= 2:
            tries.append(2 * ys[k - 1] - ys[k - 2])
        y = None
        for g in tries:
            y = equilibrium(fam.m, p, c, g)
            if y is not None:
                break
        if y is None:
            y = equilibrium(fam.m, p, c, rest_state(model, p, c))
        if y is None:
            break
        ys[k], eigs[k] = y, np.linalg.eigvals(jacobian(fam.m, y, p, c))
        guess = y
    return ys, eigs


def _max_re(fam, val, guess):
    p, c = fam.row(val)
    y = equilibrium(fam.m, p, c, guess)
    if y is None:
        return np.nan, None
    ev = np.linalg.eigvals(jacobian(fam.m, y, p, c))
    return float(np.max(ev.real)), ev


def stability_boundaries(model, param, values, ys, eigs, fixed=None, current=0.0):
    """Hopf and saddle-node points between grid values where the largest real part of the
    eigenvalues changes sign, refined by ``brentq``."""
    fam = _Family(model, param, dict(fixed or {}), current)
    out = []
    mr = np.max(eigs.real, axis=1)
    for k in range(len(values) - 1):
        if np.isnan(mr[k]):
            break
        if np.isnan(mr[k + 1]):
            out.append(Boundary(param, float(values[k]), "branch end"))
            break
        if np.sign(mr[k]) == np.sign(mr[k + 1]):
            continue
        guess = ys[k]

        def g(v, guess=guess):
            return _max_re(fam, v, guess)[0]

        try:
            v = brentq(g, values[k], values[k + 1], xtol=1e-10 * max(1, abs(values[k])))
        except ValueError:  # the continued fixed point is lost inside the interval (NaN)
            out.append(Boundary(param, float(values[k]), "branch end"))
            break
        _, ev = _max_re(fam, v, guess)
        crossing = ev[np.argmax(ev.real)]
        kind = "hopf" if abs(crossing.imag) > 1e-6 else "saddle-node"
        out.append(Boundary(param, float(v), kind))
    return out


def _warn_silent_but_unstable(labels, max_re, duration_ms: float) -> None:
    """The simulated class and the eigenvalues disagree where a point with an unstable fixed
    point (and no other attractor found) was simulated as silent: the run was likely too short
    to leave the fixed point. Say so instead of returning the labels as if settled."""
    bad = [
        i
        for i, (lab, m) in enumerate(zip(labels, max_re, strict=True))
        if lab == "silent" and np.isfinite(m) and m > 0
    ]
    if bad:
        warnings.warn(
            f"{len(bad)} of {len(labels)} points were simulated as silent although their fixed "
            f"point is unstable (largest real eigenvalue > 0): the run of {duration_ms:g} ms may "
            "be too short to show their activity; increase duration_ms",
            stacklevel=3,
        )


def simulate_map(model, param, values, fixed=None, current=0.0, duration_ms=2000.0, dt_ms=None):
    """Batched simulations over values: (labels, rates (Hz), V amplitude over the 2nd half)."""
    fam = _Family(model, param, dict(fixed or {}), current)
    rows, amps = zip(*(fam.row(v) for v in values), strict=True)
    dt = dt_ms or fam.m.default_dt_ms
    rec = max(1, int(round(duration_ms / dt / 4000)))
    r = simulate_neurons(
        model,
        np.array(rows),
        make_stimulus("step", amp=np.array(amps)),
        duration_ms=duration_ms,
        dt_ms=dt,
        window_ms=duration_ms / 2,
        record_v=True,
        record_every=rec,
        integrator=fam.m.spec.settings.integrator,
    )
    half = r.states.shape[2] // 2
    amp = np.ptp(r.states[:, 0, half:], axis=1)
    labels = [classify_spikes(s, duration_ms / 2, duration_ms)[0] for s in r.spike_times]
    return labels, r.rates, amp


def refine_class_boundary(
    model,
    param,
    lo,
    hi,
    fixed=None,
    current=0.0,
    rounds=3,
    points=16,
    duration_ms=2000.0,
    oscillating=None,
):
    """Bisection-like refinement of a class change between lo and hi with batched simulations:
    each round simulates ``points`` values inside the bracket and keeps the sub-bracket where the
    class changes first. Returns the bracket's midpoint."""
    osc = oscillating or (lambda lab: lab != "silent")
    for _ in range(rounds):
        v = np.linspace(lo, hi, points + 2)
        labs, _, _ = simulate_map(model, param, v, fixed, current, duration_ms)
        flags = np.array([osc(x) for x in labs])
        ch = np.flatnonzero(flags[1:] != flags[:-1])
        if len(ch) == 0:
            break
        lo, hi = v[ch[0]], v[ch[0] + 1]
    return 0.5 * (lo + hi)


def parameter_unit(model: Model | str, param: str) -> str:
    """The declared unit of a bifurcation parameter (``I``: the model's current unit)."""
    m = get_neuron_model(model)
    return m.current_unit if param == CURRENT else m.spec.parameter(param).unit


def _column(name: str, unit: str) -> str:
    return name if unit in ("1", "") else f"{name}_{unit}"


@dataclass
class BifurcationMap:
    params: list[str]
    values: list[np.ndarray]
    labels: np.ndarray  # (N1,) or (N2, N1) behaviour classes
    rates: np.ndarray  # Hz over the second half of each run
    amplitude: np.ndarray  # peak-to-peak V over the second half (the model's voltage unit)
    max_re: np.ndarray  # largest real part of the equilibrium's eigenvalues, 1/ms (NaN: lost)
    boundaries: list[Boundary]
    model: Model | str | None = None  # names the units of the CSV columns

    def units(self) -> dict[str, str]:
        """Declared units of the map's parameters and quantities ("1": dimensionless)."""
        from neuroscape.fit.measures import voltage_unit

        if self.model is None:
            return {}
        out = {p: parameter_unit(self.model, p) for p in self.params}
        out.update(rate="Hz", amplitude=voltage_unit(self.model), max_re_eig="1/ms")
        return out

    def to_csv(self, path) -> None:
        """One row per grid point; column names carry the units (``I_uA/cm^2``, ``rate_Hz``)."""
        import csv

        u = self.units()

        def col(name: str) -> str:
            return _column(name, u[name]) if name in u else name

        quantities = [col("rate"), col("amplitude"), col("max_re_eig")]
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            if len(self.params) == 1:
                w.writerow([col(self.params[0]), "label", *quantities])
                for i, v in enumerate(self.values[0]):
                    w.writerow(
                        [v, self.labels[i], self.rates[i], self.amplitude[i], self.max_re[i]]
                    )
            else:
                w.writerow([*(col(p) for p in self.params), "label", *quantities])
                for j, v2 in enumerate(self.values[1]):
                    for i, v1 in enumerate(self.values[0]):
                        w.writerow(
                            [
                                v1,
                                v2,
                                self.labels[j, i],
                                self.rates[j, i],
                                self.amplitude[j, i],
                                self.max_re[j, i],
                            ]
                        )


def bifurcation_map(
    model: Model | str,
    params: list[str],
    values: list[np.ndarray],
    *,
    fixed=None,
    current: float = 0.0,
    duration_ms: float = 2000.0,
    refine: bool = True,
) -> BifurcationMap:
    """A 1D or 2D map of a single-neuron model (an object or a name; any other model is
    refused). Boundaries: from the eigenvalues (hopf, saddle-node) and, in 1D, the class
    changes of the simulations refined by batched bisection."""
    if len(params) not in (1, 2) or len(values) != len(params):
        raise BifurcationError("give one or two parameters, each with its values")
    if len(set(params)) != len(params):
        raise BifurcationError(f"parameter {params[0]!r} given twice; allowed: two different")
    fixed = dict(fixed or {})
    # a single neuron's equations (the Jacobian needs them); other models are refused, naming
    # the single-neuron models of the registry
    m = model = get_neuron_model(model)
    for k, v in fixed.items():
        par = m.spec.parameter(k)
        if not (np.isfinite(v) and par.low <= v <= par.high):
            raise BifurcationError(
                f"{k}={v:g} lies outside the declared domain [{par.low:g}, {par.high:g}] "
                f"{par.unit}"
            )
    for p in params:
        _Family(model, p, fixed, 0.0)  # unknown names: one error with the allowed ones
        if p in fixed:
            raise BifurcationError(f"{p} is both swept and fixed; allowed: one of the two")
    if CURRENT in params and current != 0.0:
        raise BifurcationError(f"the current is swept ({CURRENT}); give no fixed current")
    if not (np.isfinite(current) and np.isfinite(duration_ms) and duration_ms > 0):
        raise BifurcationError(
            f"current={current!r}, duration_ms={duration_ms!r}; allowed: finite, duration > 0 ms"
        )
    for p, v in zip(params, values, strict=True):
        v = np.asarray(v, float)
        unit = parameter_unit(model, p)
        if v.ndim != 1 or len(v) < 2:
            raise BifurcationError(f"{p}: at least 2 values are needed, got {v.size}")
        if not np.isfinite(v).all() or np.any(np.diff(v) <= 0):
            raise BifurcationError(f"{p}: values must be finite and increase (continuation)")
        if p != CURRENT:
            par = m.spec.parameter(p)
            if v[0] < par.low or v[-1] > par.high:
                raise BifurcationError(
                    f"{p} from {v[0]:g} to {v[-1]:g} {unit} leaves the declared domain "
                    f"[{par.low:g}, {par.high:g}] {unit}"
                )
    v1 = np.asarray(values[0], float)
    if len(params) == 1:
        labs, rates, amp = simulate_map(model, params[0], v1, fixed, current, duration_ms)
        ys, eigs = continue_equilibria(model, params[0], v1, fixed, current)
        bounds = stability_boundaries(model, params[0], v1, ys, eigs, fixed, current)
        _warn_silent_but_unstable(labs, np.max(eigs.real, axis=1), duration_ms)
        osc = np.array([lab != "silent" for lab in labs])
        for k in np.flatnonzero(osc[1:] != osc[:-1]):
            v = (
                refine_class_boundary(
                    model, params[0], v1[k], v1[k + 1], fixed, current, duration_ms=duration_ms
                )
                if refine
                else 0.5 * (v1[k] + v1[k + 1])
            )
            bounds.append(Boundary(params[0], float(v), f"class {labs[k]}->{labs[k + 1]}"))
        return BifurcationMap(
            params, [v1], np.array(labs), rates, amp, np.max(eigs.real, axis=1), bounds, model
        )
    v2 = np.asarray(values[1], float)
    labs, rates, amp, mre, bounds = [], [], [], [], []
    for b in v2:
        fx = dict(fixed)
        cur = current
        if params[1] == CURRENT:
            cur = float(b)
        else:
            fx[params[1]] = float(b)
        lab, rate, a = simulate_map(model, params[0], v1, fx, cur, duration_ms)
        ys, eigs = continue_equilibria(model, params[0], v1, fx, cur)
        _warn_silent_but_unstable(lab, np.max(eigs.real, axis=1), duration_ms)
        for bd in stability_boundaries(model, params[0], v1, ys, eigs, fx, cur):
            bd.at = {params[1]: float(b)}
            bounds.append(bd)
        labs.append(lab)
        rates.append(rate)
        amp.append(a)
        mre.append(np.max(eigs.real, axis=1))
    return BifurcationMap(
        params,
        [v1, v2],
        np.array(labs),
        np.array(rates),
        np.array(amp),
        np.array(mre),
        bounds,
        model,
    )
