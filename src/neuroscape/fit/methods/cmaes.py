"""CMA-ES (``cma``) in unit-box coordinates; each generation is one batched simulation."""

from __future__ import annotations

import numpy as np

from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.result import make_result


def population(n_free: int, popsize: int | None = None) -> int:
    """Candidates per generation: ``popsize``, else at least 16. On HH (3 conductances, random
    starts, 10 seeds) cma's default of 7 ended in spike-misaligned local minima in 2 seeds that
    16 avoided (7/10 -> 9/10)."""
    return int(popsize) if popsize else max(16, 4 + int(3 * np.log(max(2, n_free))))


def min_budget(problem: FitProblem, popsize: int | None = None, **_) -> int:
    """One generation."""
    return population(problem.n_free, popsize)


def search(
    problem: FitProblem,
    u0: np.ndarray,
    seed: int,
    budget: int,
    sigma0: float = 0.25,
    popsize: int | None = None,
) -> tuple[np.ndarray, float]:
    """One CMA-ES run of at most ``budget`` simulations; returns (best u, its error). A run that
    cannot afford one generation returns (u0, inf) without simulating."""
    import cma

    u0 = np.asarray(u0, float)
    n = len(u0)
    # cma refuses 1-D problems; its author's workaround (N. Hansen, pycma issue #86) is a 2-D
    # search whose objective ignores the second coordinate, a dummy that drifts harmlessly
    x0 = np.r_[u0, 0.5] if n == 1 else u0
    opts = {
        "bounds": [0.0, 1.0],
        "seed": int(seed) + 1,
        "verbose": -9,
        "tolx": 1e-6,
        "tolfun": 1e-9,
        "popsize": population(n, popsize),
    }
    es = cma.CMAEvolutionStrategy(x0, sigma0, opts)
    used, best_u, best_f = 0, u0, np.inf
    while not es.stop():
        lam = es.popsize
        if used + lam > budget or problem.remaining < lam:
            break
        x = np.array(es.ask())
        u = x[:, :n]
        f = problem.scalar(problem.evaluate(problem.from_unit(u)))
        used += lam
        i = int(np.argmin(f))
        if f[i] < best_f:
            best_u, best_f = u[i].copy(), float(f[i])
        es.tell(list(x), [float(v) if np.isfinite(v) else 1e30 for v in f])
    return best_u, best_f


def run(
    problem: FitProblem,
    start: dict | None = None,
    seed: int = 0,
    sigma0: float = 0.25,
    popsize: int | None = None,
    threshold: float | None = None,
    popsize_growth: float = 1.0,
    first_share: float = 1.0,
    runs: int = 1,
    **_,
):
    """CMA-ES from ``start``, then restarts from random points while budget remains.
    popsize_growth: each restart's population is this many times the previous one (2: IPOP,
    Auger and Hansen 2005; 1: the same population). first_share: the fraction of the budget
    the first run may spend (1: all; less leaves the restarts a share). runs: best-of-k, the
    budget split into ``runs`` equal CMA-ES runs, every one from ``start`` with its own seed
    (as BluePyOpt's users run several seeds and keep the lowest training error; the result
    is the best candidate of all of them either way); with runs > 1 first_share must be 1."""
    if not (isinstance(popsize_growth, int | float) and 1.0 <= popsize_growth <= 10.0):
        raise FitError(f"popsize_growth={popsize_growth!r}; allowed: 1 to 10")
    if not (isinstance(first_share, int | float) and 0.0 < first_share <= 1.0):
        raise FitError(f"first_share={first_share!r}; allowed: > 0 and <= 1")
    if isinstance(runs, bool) or not (isinstance(runs, int | np.integer) and runs >= 1):
        raise FitError(f"runs={runs!r}; allowed: a whole number >= 1")
    if runs > 1 and first_share != 1.0:
        raise FitError(f"first_share={first_share!r} with runs={runs}; allowed: first_share 1")
    pop = population(problem.n_free, popsize)
    u0 = problem.to_unit(problem.check_start(start))
    if runs > 1:
        share = problem.budget // runs
        if share < pop:
            raise FitError(
                f"runs={runs}: {share} candidates a run, under one generation of {pop}; "
                f"allowed: at most {problem.budget // pop} runs for budget {problem.budget}"
            )
        for j in range(runs):
            search(problem, u0, seed + 1000 * j, share, sigma0, pop)
        return make_result(problem, "cmaes", threshold)
    search(problem, u0, seed, max(pop, int(first_share * problem.budget)), sigma0, pop)
    # restarts (from random points) while budget remains: more of the solution space
    rng = np.random.default_rng(seed)
    k = 1
    while True:
        pop_k = int(round(pop * popsize_growth**k))
        if problem.remaining < 4 * pop_k:
            break
        search(problem, rng.random(problem.n_free), seed + 1000 * k, problem.remaining, sigma0,
               pop_k)  # fmt: skip
        k += 1
    return make_result(problem, "cmaes", threshold)
