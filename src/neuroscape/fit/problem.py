"""A fit problem: which parameters are free (and their box), the target, the error measures,
and how a batch of candidates is simulated. Every method of ``neuroscape.fit`` evaluates
candidates only through ``FitProblem.evaluate``, which counts simulations against the budget,
keeps the whole history and, with ``db``, writes every evaluated point to the model database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroscape.core.settings import SimSettings
from neuroscape.core.spec import ParameterError
from neuroscape.core.stimuli import Stimulus
from neuroscape.fit.measures import MEASURES, NEURON_MEASURES, SimOutput, needs_trace
from neuroscape.fit.targets import (
    Target,
    TargetError,
    convert_current,
    first_spike_ms,
    read_target,
    target_fires,
)
from neuroscape.models import FunctionModel, Model, resolve
from neuroscape.models.neuron import NeuronModel

# the target kinds each measure compares against (the trace measures: see needs_trace)
MEASURE_TARGETS = {
    "rates": ("rates",),
    "outputs": ("outputs", "rates"),
    "class": ("class",),
    "features": ("features", "trace"),
}


class FitError(ValueError):
    """A fit request that cannot be honoured (unknown name, bad bounds, budget...)."""


class BudgetExhausted(RuntimeError):
    pass


def simulate_traces(
    model: Model | str,
    params,
    stimulus: Stimulus | None,
    *,
    duration_ms: float,
    dt_ms: float,
    record_every: int = 1,
    integrator: str | None = None,
    window_ms: float | None = None,
    workers: int | None = None,
):
    """(t_ms (T,), V (B, T), NeuronResult) of a single-neuron model; samples at t = k dt_rec.
    Rates are over the last ``window_ms`` (default: the whole run); ``workers``: threads
    (default all)."""
    from neuroscape.models import get_single_neuron
    from neuroscape.sim.neuron_engine import simulate_neurons

    m = get_single_neuron(model)
    if m.kind == "cell":  # a multi-compartment cell: V at soma(0.5), by the cable engine
        from neuroscape.sim.cell_batch import cell_traces

        return cell_traces(
            m, params, stimulus, duration_ms=duration_ms, dt_ms=dt_ms,
            record_every=record_every, integrator=integrator, window_ms=window_ms,
            workers=workers,
        )  # fmt: skip
    # the model's declared scheme (hh: dopri5): the first-order gate tables put the fit's optimum
    # off a trace made by another simulator (NEURON's hh: 8.6-10.2 mV RMS at the truth, g_L
    # 5-15% off; tests/reference/test_neuron_fit.py)
    integ = integrator or m.spec.settings.integrator
    res = simulate_neurons(
        m,
        params,
        stimulus,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        window_ms=duration_ms if window_ms is None else window_ms,
        integrator=integ,
        record_v=True,
        record_every=record_every,
        workers=workers,
    )
    # the kernel's sample k is the state after step (k + 1) * record_every, at t_v[k] =
    # (k + 1) * record_every * dt; prepend the initial state so that sample k lies at
    # t = k * record_every * dt from t = 0 through the end (on the target's grid when the step
    # divides it)
    v0 = res.states[:, 0, :]
    y0 = m.initial_state(res.params)[:, 0]
    v = np.concatenate([y0[:, None], v0], axis=1)
    t = np.arange(v.shape[1]) * dt_ms * record_every
    return t, v, res


def describe_stimulus(stimulus: Stimulus, current_unit: str, v_unit: str = "mV") -> str:
    """E.g. "step amp=10 uA/cm^2, t_on=20 ms, t_off=inf ms" (row 0), each value with its unit."""
    cu = "" if current_unit in ("1", "") else f" {current_unit}"
    units = {
        "amp": cu,
        "amp0": cu,
        "amp1": cu,
        "mean": cu,
        "sigma": f" {current_unit} ms^0.5" if cu else " ms^0.5",
        "t_on": " ms",
        "t_off": " ms",
        "tau_syn": " ms",
        "rate_hz": " Hz",
        "weight": cu if stimulus.kind == "poisson" else f" ({current_unit})/{v_unit}",
        "E_rev": f" {v_unit}",
    }
    vals = np.asarray(stimulus.values, float)[0]
    fields = stimulus.fields
    return f"{stimulus.kind} " + ", ".join(
        f"{f}={v:g}{units[f]}" for f, v in zip(fields, vals, strict=False)
    )


def stimulus_silent_until(stimulus: Stimulus) -> float:
    """The time (ms) before which ``stimulus`` (row 0) injects nothing; inf if it never does."""
    s = np.asarray(stimulus.values, float)[0]
    kind = stimulus.kind
    if kind in ("poisson", "poisson_conductance"):
        return np.inf if s[0] == 0 or s[1] == 0 else 0.0
    if kind == "step":
        none, t_on, t_off = s[0] == 0, s[1], s[2]
    elif kind == "ramp":
        none, t_on, t_off = s[0] == 0 and s[1] == 0, s[2], s[3]
    else:  # noisy
        none, t_on, t_off = s[0] == 0 and s[1] == 0, s[2], s[3]
    return np.inf if none or t_off <= t_on else float(t_on)


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
    """Fit ``free`` parameters ({name: (low, high)}) of ``model`` (any model object, or a name
    or ``path/to/file.py:NAME`` that ``neuroscape.models.resolve`` finds) to ``target`` under
    ``measures`` (names in ``neuroscape.fit.measures.MEASURES``); the others stay at their
    defaults or ``fixed``. Single-neuron models run under ``stimulus`` for ``duration_ms``
    (default: the target trace's length); other models run their batch with noise seed
    ``seed`` (row r of each evaluated batch: the stream (seed, r)), function models under
    their own protocol (no duration_ms, dt_ms, window_ms or integrator) in ``workers`` worker
    processes (default 1; other models: threads, default all). Every simulation that fails
    scores the worst error (inf) and is counted in ``n_failed``.

    ``target``: a Target or the path of a target file (``read_target``). The stimulus of a
    single neuron is required: given, or recorded in the target file (a current column or an
    NWB series written by neuroscape); a given one must agree with a recorded one. A target that
    fires before the stimulus injects anything is refused unless the model fires without input
    somewhere in the free box (16 probe simulations, not counted against the budget).

    ``log_scale``: free parameters (positive bounds) that the methods search in log space: the
    unit box maps to log(low)..log(high), so that a scale parameter (a capacitance, a
    conductance, a time constant spanning a decade or more) is searched by ratios, as
    BluePyOpt and Druckmann et al. 2007 do for conductances."""

    model: Model | str
    target: Target | str | Path
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
    workers: int | None = None
    log_scale: tuple[str, ...] = ()
    # history, filled by evaluate
    X: list = field(default_factory=list, repr=False)
    F: list = field(default_factory=list, repr=False)
    n_sims: int = 0
    n_failed: int = 0  # evaluated simulations that failed (scored inf)
    first_failure: str | None = None  # the error text of the first of them
    t_start: float = field(default_factory=time.perf_counter, repr=False)

    def __post_init__(self) -> None:
        m = self.model = resolve(self.model)  # unknown: the registry's one-line error
        self.spec = m.spec
        self.neuron = isinstance(m, NeuronModel) or m.kind == "cell"  # fitted to V traces
        names = self.spec.parameter_names
        if isinstance(self.target, str | Path):
            self.target = read_target(self.target)
        elif not isinstance(self.target, Target):
            raise FitError(
                f"target: got {type(self.target).__name__}; allowed: a Target or the path of a "
                ".csv/.nwb trace or .json target file"
            )
        self.free = dict(self.free)
        self.fixed = {k: float(v) for k, v in dict(self.fixed).items()}
        self.measures = tuple(self.measures)
        if not self.measures:
            raise FitError(f"no measure given; allowed: {', '.join(MEASURES)}")
        for ms in self.measures:
            if ms not in MEASURES:
                raise FitError(f"unknown measure {ms!r}; allowed: {', '.join(MEASURES)}")
        if not self.free:
            raise FitError("no free parameter: give at least one --free NAME")
        for name in [*self.free, *self.fixed]:
            if name not in names:
                raise ParameterError(
                    f"unknown parameter {name!r} for model {m.name!r}; "
                    f"allowed: {', '.join(names)}"
                )
        both = set(self.free) & set(self.fixed)
        if both:
            raise FitError(f"parameter {sorted(both)[0]!r} is both free and fixed")
        for name, v in self.fixed.items():
            p = self.spec.parameters[names.index(name)]
            if not (np.isfinite(v) and p.low <= v <= p.high):
                raise FitError(
                    f"fixed {name}={v:g} lies outside the declared domain "
                    f"[{p.low:g}, {p.high:g}] {p.unit}"
                )
        for name, bounds in self.free.items():
            p = self.spec.parameters[names.index(name)]
            try:
                lo, hi = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise FitError(f"bounds for {name}: {bounds!r}; expected (low, high)") from None
            self.free[name] = (lo, hi)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                u = "" if p.unit in ("1", "") else f" {p.unit}"
                raise FitError(f"bounds for {name}: low={lo:g}{u} must be < high={hi:g}{u}")
            if lo < p.low or hi > p.high:
                raise FitError(
                    f"bounds for {name}: [{lo:g}, {hi:g}] leave the declared domain "
                    f"[{p.low:g}, {p.high:g}] {p.unit}"
                )
        if isinstance(self.budget, bool) or not (
            isinstance(self.budget, int | np.integer) and self.budget > 0
        ):
            raise FitError(f"budget={self.budget!r}; allowed: a positive number of simulations")
        if isinstance(self.seed, bool) or not (
            isinstance(self.seed, int | np.integer) and self.seed >= 0
        ):
            raise FitError(f"seed={self.seed!r}; allowed: an integer >= 0")
        for what in ("duration_ms", "dt_ms", "window_ms"):
            v = getattr(self, what)
            if v is not None and not (np.isfinite(v) and v > 0):
                raise FitError(f"{what}={v!r}; allowed: a finite number > 0 (ms)")
        if not self.neuron:
            if self.target.kind == "trace":
                raise FitError(
                    f"model {m.name!r} ({m.kind}) cannot be fitted to a trace: voltage traces "
                    "are for single-neuron models; fit its declared outputs "
                    f"({', '.join(self.spec.output_names)}) with a JSON target "
                    '{"outputs": {NAME: VALUE}} and the measure outputs'
                )
            bad = [x for x in self.measures if x in NEURON_MEASURES]
            if bad:
                raise FitError(
                    f"measure {bad[0]} reads a single neuron's voltage or spikes; model "
                    f"{m.name!r} ({m.kind}): allowed measures: outputs, rates"
                )
        need = needs_trace(self.measures)
        if need and self.target.kind != "trace":
            raise FitError(
                f"measures {', '.join(self.measures)} compare traces; "
                f"the target is {self.target.kind}"
            )
        for ms in self.measures:
            kinds = MEASURE_TARGETS.get(ms)
            if kinds is not None and self.target.kind not in kinds:
                raise FitError(
                    f"measure {ms} compares {' or '.join(kinds)} targets; "
                    f"the target is {self.target.kind}"
                )
        if self.target.kind in ("rates", "outputs"):
            outputs = self.spec.output_names
            unknown = [k for k in self.target.output_values if k not in outputs]
            if unknown:
                raise FitError(
                    f"{self.target.kind} target names {unknown[0]!r}; allowed for {m.name}: "
                    f"{', '.join(outputs)}"
                )
        if "rates" in self.measures:  # its error is a sum of differences in Hz
            units = {o.name: o.unit for o in self.spec.outputs}
            not_hz = [k for k in self.target.output_values if units.get(k) != "Hz"]
            if not_hz:
                raise FitError(
                    f"measure rates compares rates in Hz; {not_hz[0]} is in "
                    f"{units.get(not_hz[0])!r}: use --measure outputs"
                )
        self._owns_protocol = isinstance(m, FunctionModel)
        if self._owns_protocol:
            given = [
                k for k in ("duration_ms", "dt_ms", "window_ms", "integrator")
                if getattr(self, k) is not None
            ]
            if given:
                raise FitError(
                    f"{given[0]}={getattr(self, given[0])!r}: {m.name} is a function model, "
                    "its function sets its own duration, step and scheme; leave it unset"
                )
        if self.target.kind == "trace":
            tdur, tdt = self.target.duration_ms, self.target.dt_ms
            if self.duration_ms is None:
                self.duration_ms = tdur
            elif self.duration_ms < tdur - 1e-9 * tdur:
                raise FitError(
                    f"duration_ms={self.duration_ms:g} ms is shorter than the target trace "
                    f"({tdur:g} ms); allowed: at least its length, or leave it unset"
                )
            if self.dt_ms is not None:
                k = round(tdt / self.dt_ms)
                if k < 1 or abs(k * self.dt_ms - tdt) > 1e-6 * tdt:
                    raise FitError(
                        f"dt_ms={self.dt_ms:g} ms does not divide the target's sampling "
                        f"interval {tdt:g} ms; allowed: {tdt:g}/k ms for a whole k"
                    )
        elif self.duration_ms is None and not self._owns_protocol:
            self.duration_ms = self.spec.settings.duration_ms  # the model's declared run
        self.free_names = list(self.free)
        self.lo = np.array([self.free[n][0] for n in self.free_names])
        self.hi = np.array([self.free[n][1] for n in self.free_names])
        self._idx = [names.index(n) for n in self.free_names]
        self._base = self.spec.params_array(dict(self.fixed))[0]
        self._set_log_scale()
        self._store = None
        self._batch = None
        if not self.neuron:
            if self.stimulus is not None:
                opts = ", ".join(m.run_options) or "none"
                what = "function model" if m.kind == "function" else m.kind
                raise FitError(
                    f"model {m.name!r} is a {what}: it takes no stimulus; its run options: {opts}"
                )
            # the settings of every run: what is given, else the model's declared defaults
            try:
                self.settings = SimSettings.for_model(
                    self.spec,
                    duration_ms=None if self._owns_protocol else self.duration_ms,
                    dt_ms=self.dt_ms,
                    window_ms=self.window_ms,
                    integrator=self.integrator,
                )
            except ValueError as e:
                raise FitError(str(e)) from None
        else:
            self.stimulus = self._resolve_stimulus()
            self._check_target_explained()

    # ------------------------------------------------------------------ stimulus
    def _resolve_stimulus(self) -> Stimulus:
        """The given stimulus (checked against what the target records) or the recorded one."""
        from dataclasses import replace

        cu = self._cu
        tg, given = self.target, self.stimulus
        src = tg.source or "the target"
        if tg.current_unit is not None and tg.current_unit != cu:
            if tg.current is None:  # an exact description in another unit: not comparable
                raise FitError(
                    f"{src} records its stimulus in {tg.current_unit!r}; model {self.name!r} "
                    f"takes {cu!r}"
                )
            try:
                current = convert_current(tg.current, tg.current_unit, cu, src)
            except TargetError as e:
                raise FitError(str(e)) from None
            # the recorded stimulus is re-read from the converted current
            tg = self.target = replace(tg, current=current, current_unit=cu, stimulus=None)
        if given is None:
            recorded = tg.recorded_stimulus() if tg.kind == "trace" else None
            if recorded is None:
                raise FitError(
                    f"model {self.name!r} is a single neuron: give the stimulus the target was "
                    f"recorded under (stimulus=make_stimulus(...); CLI: --current or --stimulus); "
                    f"{src} records none"
                )
            return recorded
        if not isinstance(given, Stimulus):
            raise FitError(f"stimulus: got {type(given).__name__}; allowed: a Stimulus")
        rows = np.asarray(given.values).shape[0]
        if rows != 1:
            raise FitError(f"the stimulus has {rows} rows; a fit takes one")
        given.check(self.duration_ms)  # values no run can use, or a t_on after the run's end
        if tg.stimulus is not None:
            same = tg.stimulus.kind == given.kind and np.allclose(
                np.asarray(tg.stimulus.values, float)[0],
                np.asarray(given.values, float)[0],
                rtol=1e-9,
                atol=1e-12,
            )
            if not same:
                raise FitError(
                    f"the stimulus given ({self.stimulus_description(given)}) differs from the one "
                    f"{src} records ({self.stimulus_description(tg.stimulus)})"
                )
        elif tg.current is not None:
            mine = given.current_at(tg.t_ms)
            if mine is not None:  # a stochastic stimulus cannot be compared sample by sample
                gap = np.abs(mine - tg.current)
                i = int(np.argmax(gap))
                if gap[i] > 1e-6 * max(1.0, float(np.abs(tg.current).max())):
                    unit = "" if cu in ("1", "") else f" {cu}"
                    raise FitError(
                        f"the stimulus given injects {mine[i]:g}{unit} at {tg.t_ms[i]:g} ms "
                        f"where {src} records {tg.current[i]:g}{unit}"
                    )
        return given

    def stimulus_description(self, stimulus: Stimulus | None = None) -> str:
        """``stimulus`` (default: the fit's) in words, each value with its unit."""
        from neuroscape.fit.measures import voltage_unit

        stim = self.stimulus if stimulus is None else stimulus
        return describe_stimulus(stim, self._cu, voltage_unit(self.model))

    def _check_target_explained(self, n_probe: int = 16) -> None:
        """Refuse a target that fires before the stimulus injects anything, unless the model
        fires without input at some of ``n_probe`` points of the free box (the defaults and a
        Latin-hypercube sample): then spontaneous firing may explain it."""
        from scipy.stats import qmc

        silent = stimulus_silent_until(self.stimulus)
        if self.target.kind == "trace":
            t1 = first_spike_ms(self.model, self.target)
            if t1 is None or t1 >= silent:
                return
            what = f"the target's first spike at {t1:g} ms"
        else:
            if not (target_fires(self.target) and np.isinf(silent)):
                return
            what = f"the {self.target.kind} target asks for spikes"
        x = np.vstack(
            [
                self.check_start(None),
                self.from_unit(qmc.LatinHypercube(self.n_free, seed=0).random(n_probe - 1)),
            ]
        )
        out = self.simulate(x)  # probes: not counted, not stored
        horizon = min(silent, self.duration_ms)
        if any(np.any(np.asarray(s) < horizon) for s in out.spike_times):
            return
        when = "at all" if np.isinf(silent) else f"before {silent:g} ms"
        raise FitError(
            f"{what} is not explained: the stimulus ({self.stimulus_description(self.stimulus)}) "
            f"injects nothing {when}, and {self.name} fires without input at none of {n_probe} "
            "points of the free box; give the stimulus the target was recorded under"
        )

    @property
    def _cu(self) -> str:
        from neuroscape.models import get_single_neuron

        return get_single_neuron(self.model).current_unit

    @property
    def name(self) -> str:
        """The model's name (for messages)."""
        return self.model.name

    # ------------------------------------------------------------------ coordinates
    @property
    def n_free(self) -> int:
        return len(self.free_names)

    @property
    def remaining(self) -> int:
        return self.budget - self.n_sims

    def _set_log_scale(self) -> None:
        """Check ``log_scale`` (free names with positive bounds) and set the mask ``_log``."""
        names = self.log_scale
        if isinstance(names, str):
            names = (names,)
        self.log_scale = tuple(names)
        for n in self.log_scale:
            if n not in self.free:
                raise FitError(
                    f"log_scale names {n!r}, which is not free; free: {', '.join(self.free)}"
                )
            lo = self.free[n][0]
            if not lo > 0:
                unit = self.spec.parameter(n).unit
                raise FitError(
                    f"log_scale {n}: its low bound {lo:g} {unit} is not > 0; allowed: "
                    "parameters whose bounds are both positive"
                )
        self._log = np.array([n in self.log_scale for n in self.free_names], bool)

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Free-parameter vectors to the unit box (log-scaled parameters by their logs)."""
        x = np.asarray(x, float)
        lin = (x - self.lo) / (self.hi - self.lo)
        if not getattr(self, "_log", np.zeros(0, bool)).any():
            return lin
        lo, ratio = np.ones(len(self._log)), np.full(len(self._log), np.e)
        lo[self._log] = self.lo[self._log]
        ratio[self._log] = self.hi[self._log] / self.lo[self._log]
        with np.errstate(divide="ignore", invalid="ignore"):  # x <= 0 of a log parameter: nan
            lg = np.log(np.where(self._log, x, 1.0) / lo) / np.log(ratio)
        return np.where(self._log, lg, lin)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """The unit box back to free-parameter vectors (the inverse of ``to_unit``)."""
        u = np.asarray(u, float)
        lin = self.lo + u * (self.hi - self.lo)
        if not getattr(self, "_log", np.zeros(0, bool)).any():
            return lin
        lo, ratio = np.ones(len(self._log)), np.ones(len(self._log))
        lo[self._log] = self.lo[self._log]
        ratio[self._log] = self.hi[self._log] / self.lo[self._log]
        return np.where(self._log, lo * ratio**u, lin)

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
                unit = self.spec.parameter(k).unit
                u = "" if unit in ("1", "") else f" {unit}"
                raise FitError(f"start {k}={v:g}{u} lies outside its bounds [{lo:g}, {hi:g}]{u}")
            x[self.free_names.index(k)] = v
        return x

    # ------------------------------------------------------------------ simulation
    def simulate(self, x: np.ndarray) -> SimOutput:
        """Simulate the candidates x (n, n_free), without counting them."""
        p = self.full_params(x)
        if not self.neuron:
            from neuroscape.sim.engine import batch_for, run_batch

            if self._batch is None:  # built once: a function model keeps its worker processes
                self._batch = batch_for(self.model)
            res = run_batch(
                self._batch, p, seed=self.seed, settings=self.settings, workers=self.workers
            )
            return SimOutput(
                outputs=res.outputs,
                output_names=list(res.output_names),
                ok=np.asarray(res.ok, bool),
                errors=list(res.errors),
                labels=res.labels,
            )
        m = self.model
        if self.target.kind == "trace":
            tdt = self.target.dt_ms
            dt = self.dt_ms or m.default_dt_ms
            rec = max(1, int(round(tdt / dt)))
            dt = tdt / rec  # the simulation grid lands on the target's samples
        else:
            dt, rec = self.dt_ms or m.default_dt_ms, 1
        t, v, res = simulate_traces(
            m,
            p,
            self.stimulus,
            duration_ms=self.duration_ms,
            dt_ms=dt,
            record_every=rec,
            integrator=self.integrator,
            window_ms=self.window_ms,
            workers=self.workers,
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
        failed = np.flatnonzero(~np.asarray(out.ok, bool))
        if len(failed):  # scored inf (the worst error), counted and kept, never dropped
            self.n_failed += len(failed)
            if self.first_failure is None:
                self.first_failure = out.errors[failed[0]] or "failed (no error text)"
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
            "model": self.model.ref,
            "free": {k: list(v) for k, v in self.free.items()},
            "fixed": self.fixed,
            "log_scale": list(self.log_scale),
            "measures": list(self.measures),
            "target": self.target.source,
            "duration_ms": self.duration_ms,
            "seed": self.seed,
            "stimulus": None if self.stimulus is None else self.stimulus.describe(),
        }

    def _write_db(self, x: np.ndarray, out: SimOutput) -> None:
        from neuroscape.explore.store import ModelStore, model_info_of
        from neuroscape.models.neuron import classify_spikes

        if self._store is None:
            # the declaration and source hash go with the runs: a reader needs no registry
            self._store = ModelStore(
                self.db, self.spec, writer=True, model_info=model_info_of(self.model)
            )
            ident = {
                "space": json.dumps(self.describe(), sort_keys=True),
                "sampler": "fit",
                "n": self.budget,
                "sample_seed": self.seed,
            }
            if self.neuron:
                run = {
                    "duration_ms": self.duration_ms,
                    "dt_ms": self.dt_ms or 0.0,
                    "window_ms": self.window_ms or self.duration_ms,
                    "integrator": self.integrator or "default",
                }
            else:  # the settings every run used
                run = self.settings.as_dict()
            self._sweep = self._store.open_sweep(ident, {"seed": self.seed, **run})
        rows = np.arange(self.n_sims - len(x), self.n_sims)
        if out.spike_times is not None:
            labels = [
                classify_spikes(s, *out.window)[0] if ok else None
                for s, ok in zip(out.spike_times, out.ok, strict=True)
            ]
        elif out.labels is not None:  # the model's own labels (its output domain)
            labels = list(out.labels)
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
        """Close the database and end the worker processes of a function model (a later
        simulation starts them again)."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._batch is not None and hasattr(self._batch, "close"):
            self._batch.close()


def _cv(spike_times, window) -> np.ndarray:
    out = np.full(len(spike_times), np.nan)
    for i, s in enumerate(spike_times):
        s = s[(s >= window[0]) & (s < window[1])]
        if len(s) >= 3:
            isi = np.diff(s)
            out[i] = isi.std() / isi.mean()
    return out
