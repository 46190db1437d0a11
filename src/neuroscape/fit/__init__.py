"""Parameter fitting: targets, error measures, and one ``fit`` for every method.

>>> from neuroscape.fit import fit
>>> res = fit("hh", "trace.csv", measures=["rms"], free={"g_Na": (60, 180)}, method="cmaes",
...           budget=1000, stimulus=make_stimulus("step", amp=10, t_on=10))
>>> res.best, res.n_sims, res.solutions

Any model fits: a built-in name, a model object, or ``path/to/file.py:NAME`` (e.g. a
``neuroscape.FunctionModel``), to the values of its declared outputs:

>>> res = fit("cell.py:MODEL", Target("outputs", outputs={"rate": 60.0}), measures=["outputs"],
...           free={"gnabar": (0.08, 0.16)}, method="cmaes", budget=200, workers=4)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neuroscape.core.stimuli import Stimulus
from neuroscape.fit.measures import (
    DEFAULT_MEASURE,
    MEASURE_UNITS,
    MEASURES,
    coincidence_factor,
    measure_unit,
)
from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.protocols import SweepFitProblem
from neuroscape.fit.recordings import RecordingError, SweepSet, read_sweeps
from neuroscape.fit.result import FitResult
from neuroscape.fit.targets import (
    OUTPUTS_FORMAT,
    Target,
    TargetError,
    read_target,
    synthetic_trace,
)
from neuroscape.models import Model

METHODS = ("explore", "gradient", "cmaes", "ga", "nsga2", "sbi", "hybrid")

__all__ = [
    "fit",
    "FitProblem",
    "SweepFitProblem",
    "read_sweeps",
    "SweepSet",
    "RecordingError",
    "coincidence_factor",
    "FitResult",
    "FitError",
    "Target",
    "TargetError",
    "read_target",
    "synthetic_trace",
    "run_method",
    "METHODS",
    "MEASURES",
    "MEASURE_UNITS",
    "DEFAULT_MEASURE",
    "measure_unit",
    "method_options",
    "OUTPUTS_FORMAT",
]


def fit(
    model: Model | str,
    target: Target | str | Path,
    *,
    free: Mapping[str, tuple[float, float]],
    measures: Sequence[str] | None = None,
    method: str = "cmaes",
    budget: int = 1000,
    seed: int = 0,
    fixed: Mapping[str, float] | None = None,
    stimulus: Stimulus | None = None,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    db: str | None = None,
    series: str | None = None,
    workers: int | None = None,
    **options,
) -> FitResult:
    """Fit the ``free`` parameters ({name: (low, high)}, in their declared units) of ``model``
    (a model object, a registered name, or ``path/to/file.py:NAME``) to ``target``: a Target,
    or the path of a target file (.csv/.nwb trace, .json rates, outputs, features or class;
    ``series``: the NWB series, default the first).

    stimulus: what a single neuron is driven by (required unless the target file records it);
    measures: names from ``MEASURES`` (several: their sum, or the objectives of nsga2; default:
    the target kind's, ``DEFAULT_MEASURE``: rms for a trace, outputs for output values...);
    method: one of ``METHODS``; budget: the most simulations to spend; duration_ms, dt_ms:
    the simulations' length and step (ms; default the trace's length and the model's step;
    function models set their own: leave them unset); workers: worker processes of a function
    model (default 1), threads of the others (default all); db: a model database that receives
    every evaluated point. A simulation that fails scores the worst error (inf) and is counted
    in the result's ``n_failed``. options go to the method:
    start={name: value} (cmaes, gradient), threshold (solution-set error bound, in the error's
    unit), surrogate (gradient), sweep_db (explore), noise_sd (sbi, mV), and the method's own.
    """
    if method not in METHODS:
        raise FitError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if series is not None:
        if not isinstance(target, str | Path):
            raise FitError("series names an NWB series: give the target as a path")
        target = read_target(target, series)
    if isinstance(target, str | Path):
        target = read_target(target)
    if measures is None:  # FitProblem names a target of the wrong type
        measures = (DEFAULT_MEASURE[target.kind],) if isinstance(target, Target) else ("rms",)
    problem = FitProblem(
        model,
        target,
        tuple(measures),
        dict(free),
        fixed=dict(fixed or {}),
        stimulus=stimulus,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        seed=seed,
        budget=budget,
        db=db,
        workers=workers,
    )
    return run_method(problem, method, seed=seed, **options)


def method_options(method: str) -> list[str]:
    """The options ``method`` takes (beyond the problem and the seed)."""
    if method not in METHODS:
        raise FitError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    mod = importlib.import_module(f"neuroscape.fit.methods.{method}")
    skip = ("problem", "seed")
    return [
        n
        for n, p in inspect.signature(mod.run).parameters.items()
        if n not in skip and p.kind is p.POSITIONAL_OR_KEYWORD
    ]


def run_method(problem: FitProblem, method: str, seed: int = 0, **options) -> FitResult:
    """Run one method on a prepared problem (its history and budget are the problem's).
    Options the method does not take, a threshold that is not a positive number, or a budget
    below the method's least (e.g. one CMA-ES generation) are refused before any simulation."""
    allowed = method_options(method)
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in allowed]
    if unknown:
        raise FitError(
            f"option {unknown[0]!r} is not used by {method}; allowed: {', '.join(allowed)}"
        )
    thr = given.get("threshold")
    if thr is not None and not (isinstance(thr, int | float) and np.isfinite(thr) and thr > 0):
        raise FitError(f"threshold={thr!r}; allowed: a finite number > 0 (the error's unit)")
    mod = importlib.import_module(f"neuroscape.fit.methods.{method}")
    least = mod.min_budget(problem, **given)
    if problem.budget < least:
        raise FitError(
            f"budget={problem.budget} is below what {method} needs with {problem.n_free} free "
            f"parameter(s): at least {least} simulations"
        )
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise FitError(f"seed={seed!r}; allowed: an integer >= 0")
    try:
        return mod.run(problem, seed=seed, **options)
    finally:
        problem.close()
