"""Hybrid search (Achard and De Schutter 2006): several CMA-ES runs from random starts find
distinct good solutions; the straight segments between them are scanned in one batch (a connected
solution space shows low error along them); L-BFGS-B then refines the best point."""

from __future__ import annotations

import itertools

import numpy as np

from neuroscape.fit.methods.cmaes import population, search
from neuroscape.fit.methods.gradient import lbfgsb
from neuroscape.fit.problem import FitProblem
from neuroscape.fit.result import make_result

EVOLUTION_SHARE = 0.6  # of the budget, spent in the CMA-ES runs


def min_budget(problem: FitProblem, runs: int = 3, **_) -> int:
    """Each CMA-ES run affords one generation."""
    b = int(np.ceil(runs * population(problem.n_free) / EVOLUTION_SHARE))
    while int(EVOLUTION_SHARE * b / runs) < population(problem.n_free):  # float rounding
        b += 1
    return b


def run(
    problem: FitProblem,
    seed: int = 0,
    runs: int = 3,
    points_per_segment: int = 8,
    threshold: float | None = None,
    **_,
):
    rng = np.random.default_rng(seed)
    budget = problem.budget
    ends = []
    for k in range(runs):
        share = int(EVOLUTION_SHARE * budget / runs)
        u, _ = search(problem, rng.random(problem.n_free), seed + 17 * k, share)
        ends.append(u)
    pairs = list(itertools.combinations(range(len(ends)), 2))
    s = np.linspace(0, 1, points_per_segment + 2)[1:-1]
    seg = [ends[a] + t * (ends[b] - ends[a]) for a, b in pairs for t in s]
    scan = None
    if seg and problem.remaining > problem.n_free + 1:
        seg = np.array(seg)[: max(0, problem.remaining - (problem.n_free + 1))]
        scan = problem.scalar(problem.evaluate(problem.from_unit(seg)))
    x, f = problem.all_x, problem.scalar(problem.all_f)
    if problem.remaining >= problem.n_free + 1:
        lbfgsb(problem, problem.to_unit(x[int(np.argmin(f))]))
    res = make_result(problem, "hybrid", threshold)
    if scan is not None:
        res.extra["segment_errors"] = {
            f"{a}-{b}": [float(v) for v in scan[i * len(s) : (i + 1) * len(s)]]
            for i, (a, b) in enumerate(pairs)
            if (i + 1) * len(s) <= len(scan)
        }
    res.extra["run_ends"] = [problem.as_dict(problem.from_unit(u)) for u in ends]
    return res
