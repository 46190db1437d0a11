"""A genetic algorithm (``pymoo``'s GA: tournament selection, SBX crossover, polynomial
mutation), whole generations simulated as one batch."""

from __future__ import annotations

from neuroscape.fit.methods._pymoo import pymoo_problem
from neuroscape.fit.problem import FitProblem
from neuroscape.fit.result import make_result


def min_budget(problem: FitProblem, pop_size: int = 32, **_) -> int:
    """One generation."""
    return int(pop_size)


def run(
    problem: FitProblem, seed: int = 0, pop_size: int = 32, threshold: float | None = None, **_
):
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.optimize import minimize

    minimize(
        pymoo_problem(problem, multi=False),
        GA(pop_size=pop_size, eliminate_duplicates=True),
        ("n_eval", problem.budget),
        seed=seed,
        verbose=False,
    )
    return make_result(problem, "ga", threshold)
