"""Exploration: the solution space out of a sweep database (no new simulation; the rates measure,
from the stored outputs), or a Latin-hypercube sample of the box spending the budget."""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.result import make_result


def run(
    problem: FitProblem,
    seed: int = 0,
    sweep_db: str | None = None,
    chunk: int = 256,
    threshold: float | None = None,
    **_,
):
    if sweep_db is not None:
        return _from_db(problem, sweep_db, threshold)
    n = problem.budget
    u = qmc.LatinHypercube(problem.n_free, seed=seed).random(n)
    for s in range(0, n, chunk):
        problem.evaluate(problem.from_unit(u[s : s + chunk]))
    return make_result(problem, "explore", threshold)


def _from_db(problem: FitProblem, path: str, threshold: float | None):
    """Score the stored runs of the model inside the free box (fixed parameters matching)."""
    from neuroscape.explore.store import open_for_reading
    from neuroscape.fit.measures import SimOutput

    if set(problem.measures) - {"rates"}:
        raise FitError("exploring a database works with the rates measure (its stored outputs)")
    store = open_for_reading(path)
    try:
        spec = problem.spec
        cols, rows = store.query(
            "SELECT "
            + ", ".join(f'"{c}"' for c in [*spec.parameter_names, *spec.output_names])
            + " FROM results WHERE status = 'ok'"
        )
    finally:
        store.close()
    if not rows:
        raise FitError(f"{path}: no successful run of {problem.model!r} to explore")
    a = np.array(rows, dtype=float)
    p, y = a[:, : len(spec.parameter_names)], a[:, len(spec.parameter_names) :]
    x = p[:, problem._idx]
    inside = np.all((x >= problem.lo) & (x <= problem.hi), axis=1)
    fixed_cols = [j for j in range(p.shape[1]) if j not in problem._idx]
    inside &= np.all(np.isclose(p[:, fixed_cols], problem._base[fixed_cols]), axis=1) | (
        len(fixed_cols) == 0
    )
    if not inside.any():
        raise FitError(f"{path}: no stored run lies in the free box with the fixed values")
    out = SimOutput(
        outputs=y[inside],
        output_names=list(spec.output_names),
        ok=np.isfinite(y[inside]).all(1),
        errors=[None] * int(inside.sum()),
    )
    problem.X.append(x[inside])
    problem.F.append(problem.errors_of(out))  # stored runs: no simulation spent
    res = make_result(problem, "explore", threshold)
    res.extra["database"] = str(path)
    return res
