"""A fit problem: which parameters are free (and their box), the target, the error measures,
and how a batch of candidates is simulated. Every method of ``neuroscape.fit`` evaluates
candidates only through ``FitProblem.evaluate``, which counts simulations against the budget,
keeps the whole history and, with ``db``, writes every evaluated point to the model database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from neuroscape.fit.measures import MEASURES, SimOutput, needs_trace
from neuroscape.fit.targets import Target
from neuroscape.models import NETWORK_MODELS, get_spec
from neuroscape.models.base import ParameterError
from neuroscape.sim.stimuli import Stimulus


class FitError(ValueError):
    """A fit request that cannot be honoured (unknown name, bad bounds, budget...)."""


class BudgetExhausted(RuntimeError):
    pass


def simulate_traces(
    model: str,
    params,
    stimulus: Stimulus | None,
    *,
    duration_ms: float,
    dt_ms: float,
    record_every: int = 1,
    integrator: str | None = None,
):
    """(t_ms (T,), V (B, T), NeuronResult) of a single-neuron model; samples at t = k dt_rec."""
    from neuroscape.models import get_neuron_model
    from neuroscape.sim.neuron_engine import simulate_neurons

    m = get_neuron_model(model)
    integ = integrator or ("exponential_euler_tables" if m.gate_tables else "rk4")
    res = simulate_neurons(
        model,
        params,
        stimulus,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        integrator=integ,
        record_v=True,
        record_every=record_every,
    )
    # the kernel records after each ``record_every`` steps; prepend the initial state so that
    # sample k lies at t = k * dt * record_every, from t = 0
    v0 = res.states[:, 0, :]
    y0 = m.initial_state(res.params)[:, 0]
    v = np.concatenate([y0[:, None], v0[:, :-1]], axis=1) if record_every == 1 else v0
    t = np.arange(v.shape[1]) * dt_ms * record_every
    return t, v, res


def _interp_rows(t_src: np.ndarray, v: np.ndarray, t_dst: np.ndarray) -> np.ndarray:
    """Linear interpolation of each row of v (on the uniform grid t_src) onto t_dst."""
    if len(t_src) == len(t_dst) and np.allclose(t_src, t_dst):
        return v
    h = t_src[1] - t_src[0]
    x = np.clip((t_dst - t_src[0]) / h, 0, len(t_src) - 1)
    i0 = np.minimum(np.floor(x).astype(int), len(t_src) - 2)
    w = x - i0
    return v[:, i0] * (1 - w) + v[:, i0 + 1] * w


@dataclass
class FitProblem:
    """Fit ``free`` parameters ({name: (low, high)}) of ``model`` to ``target`` under
    ``measures`` (names in ``neuroscape.fit.measures.MEASURES``); the others stay at their
    defaults or ``fixed``. Single-neuron models run under ``stimulus`` for ``duration_ms``
    (default: the target trace's length); networks run with noise seed ``seed``."""

    model: str
    target: Target
    measures: tuple[str, ...]
    free: dict[str, tuple[float, float]]
    fixed: dict[str, float] = field(default_factory=dict)
    stimulus: Stimulus | None = None
    duration_ms: float | None = None
    dt_ms: float | None = None
    integrator: str | None = None
    window_ms: float | None = None
    seed: int = 0
    budget: int = 1000
    db: str | None = None
    feature_tolerances: dict[str, float] | None = None
    # history, filled by evaluate
    X: list = field(default_factory=list, repr=False)
    F: list = field(default_factory=list, repr=False)
    n_sims: int = 0
    t_start: float = field(default_factory=time.perf_counter, repr=False)

    def __post_init__(self) -> None:
        self.spec = get_spec(self.model)
        names = self.spec.parameter_names
        self.measures = tuple(self.measures)
        if not self.measures:
            raise FitError(f"no measure given; allowed: {', '.join(MEASURES)}")
        for m in self.measures:
            if m not in MEASURES:
                raise FitError(f"unknown measure {m!r}; allowed: {', '.join(MEASURES)}")
        if not self.free:
            raise FitError("no free parameter: give at least one --free NAME")
        for name in [*self.free, *self.fixed]:
            if name not in names:
                raise ParameterError(
                    f"unknown parameter {name!r} for model {self.model!r}; "
                    f"allowed: {', '.join(names)}"
                )
        both = set(self.free) & set(self.fixed)
        if both:
            raise FitError(f"parameter {sorted(both)[0]!r} is both free and fixed")
        for name, (lo, hi) in self.free.items():
            p = self.spec.parameters[names.index(name)]
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise FitError(f"bounds for {name}: low={lo:g} must be < high={hi:g}")
            if lo < p.low or hi > p.high:
                raise FitError(
                    f"bounds for {name}: [{lo:g}, {hi:g}] leave the declared domain "
                    f"[{p.low:g}, {p.high:g}] {p.unit}"
                )
        if not (isinstance(self.budget, int | np.integer) and self.budget > 0):
            raise FitError(f"budget={self.budget!r}; allowed: a positive number of simulations")
        network = self.model in NETWORK_MODELS
        if network and set(self.measures) - {"rates"}:
            raise FitError(f"model {self.model!r} is a network: allowed measure: rates")
        need = needs_trace(self.measures)
        if need and self.target.kind != "trace":
            raise FitError(
                f"measures {', '.join(self.measures)} compare traces; "
                f"the target is {self.target.kind}"
            )
        if self.target.kind == "trace":
            self.duration_ms = self.duration_ms or self.target.duration_ms
        elif self.duration_ms is None:
            self.duration_ms = 3000.0 if network else 1000.0
        self.free_names = list(self.free)
        self.lo = np.array([self.free[n][0] for n in self.free_names])
        self.hi = np.array([self.free[n][1] for n in self.free_names])
        self._idx = [names.index(n) for n in self.free_names]
        self._base = self.spec.params_array(dict(self.fixed))[0]
        self._store = None

    # ------------------------------------------------------------------ coordinates
    @property
    def n_free(self) -> int:
        return len(self.free_names)

    @property
    def remaining(self) -> int:
        return self.budget - self.n_sims

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, float) - self.lo) / (self.hi - self.lo)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return self.lo + np.asarray(u, float) * (self.hi - self.lo)

    def full_params(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, float))
        p = np.tile(self._base, (len(x), 1))
        p[:, self._idx] = x
        return p

    def as_dict(self, x: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.free_names, np.ravel(x), strict=True)}

    def check_start(self, x0: dict[str, float] | None) -> np.ndarray:
        """The start point (free-parameter vector); default the defaults clipped to the box."""
        names = self.spec.parameter_names
        if x0 is None:
            d = np.array([self.spec.parameters[names.index(n)].default for n in self.free_names])
            return np.clip(d, self.lo, self.hi)
        unknown = [k for k in x0 if k not in self.free]
        if unknown:
            raise FitError(f"start: {unknown[0]!r} is not free; free: {', '.join(self.free_names)}")
        x = self.check_start(None)
        for k, v in x0.items():
            lo, hi = self.free[k]
            if not lo <= v <= hi:
                raise FitError(f"start {k}={v:g} lies outside its bounds [{lo:g}, {hi:g}]")
            x[self.free_names.index(k)] = v
        return x

    # ------------------------------------------------------------------ simulation
    def simulate(self, x: np.ndarray) -> SimOutput:
        """Simulate the candidates x (n, n_free), without counting them."""
        p = self.full_params(x)
        if self.model in NETWORK_MODELS:
            from neuroscape.api import simulate

            res = simulate(
                self.model,
                p,
                seed=self.seed,
                duration_ms=self.duration_ms,
                window_ms=self.window_ms,
            )
            return SimOutput(
                outputs=res.outputs,
                output_names=res.output_names,
                ok=res.ok,
                errors=list(res.errors),
            )
        from neuroscape.models import get_neuron_model

        m = get_neuron_model(self.model)
        if self.target.kind == "trace":
            tdt = self.target.dt_ms
            dt = self.dt_ms or m.default_dt_ms
            rec = max(1, int(round(tdt / dt)))
            dt = tdt / rec  # the simulation grid lands on the target's samples
        else:
            dt, rec = self.dt_ms or m.default_dt_ms, 1
        t, v, res = simulate_traces(
            self.model,
            p,
            self.stimulus,
            duration_ms=self.duration_ms,
            dt_ms=dt,
            record_every=rec,
            integrator=self.integrator,
        )
        if self.target.kind == "trace":
            v = _interp_rows(t, v, self.target.t_ms)
            t = self.target.t_ms
        window = (self.duration_ms - (self.window_ms or self.duration_ms), self.duration_ms)
        return SimOutput(
            outputs=np.column_stack([res.rates, _cv(res.spike_times, window)]),
            output_names=["rate", "cv_isi"],
            ok=res.ok & np.isfinite(v).all(1),
            errors=list(res.errors),
            t_ms=t,
            v=v,
            spike_times=res.spike_times,
            window=window,
            stimulus=self.stimulus,
        )

    def errors_of(self, out: SimOutput) -> np.ndarray:
        """(n, n_measures) errors; failed simulations get inf."""
        cols = [
            MEASURES[m](out, self.target, tolerances=self.feature_tolerances)
            if m == "features"
            else MEASURES[m](out, self.target)
            for m in self.measures
        ]
        f = np.column_stack(cols).astype(float)
        f[~np.asarray(out.ok, bool)] = np.inf
        return np.where(np.isnan(f), np.inf, f)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Errors (n, n_measures) of the candidates x (n, n_free), counted against the budget;
        candidates beyond the budget raise BudgetExhausted (those before it are kept)."""
        x = np.atleast_2d(np.asarray(x, float))
        if self.remaining <= 0:
            raise BudgetExhausted(f"budget of {self.budget} simulations used")
        x = x[: self.remaining]
        out = self.simulate(x)
        self.last_output = out  # methods that need more than errors (sbi) read it
        f = self.errors_of(out)
        self.n_sims += len(x)
        self.X.append(x.copy())
        self.F.append(f.copy())
        if self.db is not None:
            self._write_db(x, out)
        return f

    def scalar(self, f: np.ndarray) -> np.ndarray:
        """One error per candidate: the sum of the measures."""
        return np.asarray(f).sum(axis=-1)

    # ------------------------------------------------------------------ history
    @property
    def all_x(self) -> np.ndarray:
        return np.concatenate(self.X) if self.X else np.zeros((0, self.n_free))

    @property
    def all_f(self) -> np.ndarray:
        return np.concatenate(self.F) if self.F else np.zeros((0, len(self.measures)))

    def describe(self) -> dict:
        return {
            "model": self.model,
            "free": {k: list(v) for k, v in self.free.items()},
            "fixed": self.fixed,
            "measures": list(self.measures),
            "target": self.target.source,
            "duration_ms": self.duration_ms,
            "seed": self.seed,
            "stimulus": None if self.stimulus is None else self.stimulus.describe(),
        }

    def _write_db(self, x: np.ndarray, out: SimOutput) -> None:
        from neuroscape.explore.store import ModelStore
        from neuroscape.models.neuron import classify_spikes

        if self._store is None:
            self._store = ModelStore(self.db, self.spec, writer=True)
            ident = {
                "space": json.dumps(self.describe(), sort_keys=True),
                "sampler": "fit",
                "n": self.budget,
                "sample_seed": self.seed,
            }
            self._sweep = self._store.open_sweep(
                ident,
                {
                    "seed": self.seed,
                    "duration_ms": self.duration_ms,
                    "dt_ms": self.dt_ms or 0.0,
                    "window_ms": self.window_ms or self.duration_ms,
                    "integrator": self.integrator or "default",
                },
            )
        rows = np.arange(self.n_sims - len(x), self.n_sims)
        if out.spike_times is not None:
            labels = [
                classify_spikes(s, *out.window)[0] if ok else None
                for s, ok in zip(out.spike_times, out.ok, strict=True)
            ]
        else:
            labels = [None] * len(x)
        self._store.write_chunk(
            self._sweep,
            rows,
            self.full_params(x),
            out.outputs,
            np.asarray(out.ok),
            out.errors,
            labels,
            0.0,
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _cv(spike_times, window) -> np.ndarray:
    out = np.full(len(spike_times), np.nan)
    for i, s in enumerate(spike_times):
        s = s[(s >= window[0]) & (s < window[1])]
        if len(s) >= 3:
            isi = np.diff(s)
            out[i] = isi.std() / isi.mean()
    return out
