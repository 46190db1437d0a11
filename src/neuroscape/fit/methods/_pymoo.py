"""The bridge to ``pymoo``: a batched problem in unit coordinates that stops at the budget."""

from __future__ import annotations

import numpy as np

from neuroscape.fit.problem import FitProblem


def pymoo_problem(problem: FitProblem, multi: bool):
    from pymoo.core.problem import Problem

    n_obj = len(problem.measures) if multi else 1

    class _Batched(Problem):
        def __init__(self):
            super().__init__(n_var=problem.n_free, n_obj=n_obj, xl=0.0, xu=1.0)

        def _evaluate(self, u, out, *args, **kwargs):
            f = np.full((len(u), len(problem.measures)), np.inf)
            if problem.remaining > 0:  # past the budget: inf, and the loop stops on n_eval
                got = problem.evaluate(problem.from_unit(u))
                f[: len(got)] = got
            f = np.where(np.isfinite(f), f, 1e30)
            out["F"] = f if multi else problem.scalar(f)[:, None]

    return _Batched()
