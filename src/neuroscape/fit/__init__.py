"""Parameter fitting (seed 002): targets, error measures, and one ``fit`` for every method.

>>> from neuroscape.fit import fit, synthetic_trace
>>> res = fit("hh", target, measures=["rms"], free={"g_Na": (60, 180)}, method="cmaes",
...           budget=1000, stimulus=make_stimulus("step", amp=10, t_on=10))
>>> res.best, res.n_sims, res.solutions
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence

from neuroscape.fit.measures import MEASURES
from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.result import FitResult
from neuroscape.fit.targets import Target, TargetError, read_target, synthetic_trace
from neuroscape.sim.stimuli import Stimulus

METHODS = ("explore", "gradient", "cmaes", "ga", "nsga2", "sbi", "hybrid")

__all__ = [
    "fit",
    "FitProblem",
    "FitResult",
    "FitError",
    "Target",
    "TargetError",
    "read_target",
    "synthetic_trace",
    "run_method",
    "METHODS",
    "MEASURES",
]


def fit(
    model: str,
    target: Target,
    *,
    free: Mapping[str, tuple[float, float]],
    measures: Sequence[str] = ("rms",),
    method: str = "cmaes",
    budget: int = 1000,
    seed: int = 0,
    fixed: Mapping[str, float] | None = None,
    stimulus: Stimulus | None = None,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    db: str | None = None,
    **options,
) -> FitResult:
    """Fit the ``free`` parameters ({name: (low, high)}) of ``model`` to ``target``.

    measures: names from ``MEASURES`` (several: their sum, or the objectives of nsga2);
    method: one of ``METHODS``; budget: the most simulations to spend; db: a model database that
    receives every evaluated point. options go to the method: start={name: value}, threshold
    (solution-set error bound), surrogate (gradient), sweep_db (explore), noise_sd (sbi).
    """
    if method not in METHODS:
        raise FitError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
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
    )
    return run_method(problem, method, seed=seed, **options)


def run_method(problem: FitProblem, method: str, seed: int = 0, **options) -> FitResult:
    """Run one method on a prepared problem (its history and budget are the problem's)."""
    if method not in METHODS:
        raise FitError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    mod = importlib.import_module(f"neuroscape.fit.methods.{method}")
    try:
        return mod.run(problem, seed=seed, **options)
    finally:
        problem.close()
