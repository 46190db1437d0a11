"""NSGA-II (``pymoo``) on the vector of measures; the result's Pareto front is the
non-dominated set of every evaluated point."""

from __future__ import annotations

from neuroscape.fit.methods._pymoo import pymoo_problem
from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.result import make_result, pareto_mask


def min_budget(problem: FitProblem, pop_size: int = 40, **_) -> int:
    """One generation."""
    return int(pop_size)


def run(
    problem: FitProblem, seed: int = 0, pop_size: int = 40, threshold: float | None = None, **_
):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    if len(problem.measures) < 2:
        if problem.neuron:
            raise FitError(
                "nsga2 needs at least two measures, e.g. --measure rms --measure features"
            )
        from neuroscape.fit import METHODS

        # a model without traces has the outputs measure (and rates, for a rates target)
        rates = problem.target.kind == "rates"
        hint = "--measure outputs --measure rates" if rates else "a single-objective method"
        others = ", ".join(m for m in METHODS if m != "nsga2")
        raise FitError(
            f"nsga2 needs at least two measures; model {problem.name!r} ({problem.model.kind}) "
            f"and the {problem.target.kind} target: use {hint}; allowed methods: {others}"
        )
    minimize(
        pymoo_problem(problem, multi=True),
        NSGA2(pop_size=pop_size),
        ("n_eval", problem.budget),
        seed=seed,
        verbose=False,
    )
    x, f = problem.all_x, problem.all_f
    m = pareto_mask(f)
    return make_result(problem, "nsga2", threshold, pareto_x=x[m], pareto_f=f[m])
