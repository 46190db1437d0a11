"""The result object every fitting method returns."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroscape.fit.measures import measure_unit
from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.io import to_strict_json


@dataclass
class FitResult:
    """best: the best parameters by name; solutions: every evaluated point whose error is at most
    ``threshold`` (the solution set; rows follow ``free_names``); history: (k, 2) array of
    (simulations used, best error so far); pareto_x/pareto_f: the non-dominated points of a
    multi-objective fit; posterior: samples of a Bayesian fit."""

    method: str
    model: str
    free_names: list[str]
    measures: list[str]
    best: dict[str, float]
    best_error: float
    best_errors: list[float]
    threshold: float
    solutions: np.ndarray
    solution_errors: np.ndarray
    history: np.ndarray
    n_sims: int
    wall_time_s: float
    pareto_x: np.ndarray | None = None
    pareto_f: np.ndarray | None = None
    posterior: np.ndarray | None = None
    truth: dict[str, float] | None = None
    extra: dict = field(default_factory=dict)
    # declared units: of each free parameter, and of each measure's error ("1": dimensionless)
    parameter_units: dict[str, str] = field(default_factory=dict)
    measure_units: dict[str, str] = field(default_factory=dict)
    # how another process finds the model again (its name, or FILE.py:NAME); "" when unknown
    model_ref: str = ""
    # simulations that failed: scored the worst error (inf), kept in the history
    n_failed: int = 0
    first_failure: str | None = None

    @property
    def error_unit(self) -> str | None:
        """The unit of ``best_error`` (the sum of the measures): None when they differ."""
        units = {self.measure_units.get(m) for m in self.measures}
        return units.pop() if len(units) == 1 and None not in units else None

    def relative_errors(self) -> dict[str, float] | None:
        """|best - truth| / |truth| per free parameter, for synthetic targets."""
        if not self.truth:
            return None
        return {
            k: abs(self.best[k] - self.truth[k]) / abs(self.truth[k])
            for k in self.best
            if k in self.truth and self.truth[k] != 0
        }

    def to_dict(self) -> dict:
        """Everything, JSON-ready and strict: a missing or infinite value is None."""
        d = {
            "method": self.method,
            "model": self.model,
            "model_ref": self.model_ref or self.model,
            "free": self.free_names,
            "parameter_units": self.parameter_units,
            "measures": self.measures,
            "measure_units": self.measure_units,
            "best": self.best,
            "best_error": self.best_error,
            "error_unit": self.error_unit,  # of best_error, threshold and solution_errors
            "best_errors": dict(zip(self.measures, self.best_errors, strict=True)),
            "threshold": self.threshold,
            "simulations": self.n_sims,
            "failed_simulations": self.n_failed,  # scored inf, the worst error
            "first_failure": self.first_failure,
            "wall_time_s": self.wall_time_s,
            "solution_set": [
                dict(zip(self.free_names, map(float, x), strict=True)) for x in self.solutions
            ],
            "solution_errors": [float(e) for e in self.solution_errors],
            "history": {  # the best error after each simulation
                "simulations": self.history[:, 0].astype(int).tolist(),
                "best_error": self.history[:, 1].tolist(),
            },
        }
        if self.truth:
            d["truth"] = self.truth
            d["relative_errors"] = self.relative_errors()
        if self.pareto_f is not None:
            d["pareto"] = [
                {
                    "params": dict(zip(self.free_names, map(float, x), strict=True)),
                    "errors": dict(zip(self.measures, map(float, f), strict=True)),
                }
                for x, f in zip(self.pareto_x, self.pareto_f, strict=True)
            ]
        if self.posterior is not None:
            q = np.quantile(self.posterior, [0.05, 0.5, 0.95], axis=0)
            d["posterior"] = {
                n: {"q05": float(q[0, j]), "median": float(q[1, j]), "q95": float(q[2, j])}
                for j, n in enumerate(self.free_names)
            }
        d.update(self.extra)
        return to_strict_json(d)

    def save(self, path: str | Path) -> Path:
        """The result as strict JSON (RFC 8259: no NaN or Infinity)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path


def pareto_mask(f: np.ndarray) -> np.ndarray:
    """Non-dominated rows of f (minimization), duplicates kept once."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    ok = np.isfinite(f).all(1)
    mask = np.zeros(len(f), bool)
    if ok.any():
        idx = np.flatnonzero(ok)
        front = NonDominatedSorting().do(f[idx], only_non_dominated_front=True)
        mask[idx[front]] = True
    return mask


def make_result(
    problem: FitProblem,
    method: str,
    threshold: float | None = None,
    best_x: np.ndarray | None = None,
    **kw,
) -> FitResult:
    """Summarize the problem's history: best point (``best_x`` when the method names one),
    the solution set under ``threshold`` (default: twice the best error) and convergence."""
    x, f = problem.all_x, problem.all_f
    s = problem.scalar(f) if len(f) else np.zeros(0)
    if len(s) == 0:
        raise FitError(f"budget={problem.budget}: no simulation was run; {method} needs more")
    if problem.n_sims and problem.n_failed == problem.n_sims:
        problem.close()
        raise FitError(
            f"all {problem.n_sims} simulations of {problem.name} failed; the first: "
            f"{problem.first_failure}"
        )
    if best_x is None:
        i = int(np.argmin(s))
        best_x, best_f = x[i], f[i]
    else:  # a point the method chose (e.g. a posterior median): it must have been evaluated
        hit = np.flatnonzero(np.all(np.isclose(x, best_x, rtol=0, atol=1e-12), axis=1))
        if len(hit) == 0:
            raise RuntimeError("the method's best point was never simulated")
        best_f = f[hit[-1]]
    best_s = float(np.sum(best_f))
    thr = float(threshold) if threshold is not None else 2.0 * min(best_s, float(s.min()))
    sel = s <= thr
    order = np.argsort(s[sel])
    hist = np.column_stack([np.arange(1, len(s) + 1), np.minimum.accumulate(s)])
    problem.close()
    return FitResult(
        method=method,
        model=problem.name,
        model_ref=problem.model.ref,
        free_names=problem.free_names,
        measures=list(problem.measures),
        best=problem.as_dict(best_x),
        best_error=best_s,
        best_errors=[float(v) for v in best_f],
        threshold=thr,
        solutions=x[sel][order],
        solution_errors=s[sel][order],
        history=hist,
        n_sims=problem.n_sims,
        wall_time_s=time.perf_counter() - problem.t_start,
        truth=problem.target.truth
        and {k: v for k, v in problem.target.truth.items() if k in problem.free},
        parameter_units={n: problem.spec.parameter(n).unit for n in problem.free_names},
        # a problem with objectives of its own (a sweep fit) states their units itself
        measure_units=getattr(problem, "measure_units", None)
        or {m: measure_unit(m, problem.model) for m in problem.measures},
        n_failed=problem.n_failed,
        first_failure=problem.first_failure,
        **kw,
    )
