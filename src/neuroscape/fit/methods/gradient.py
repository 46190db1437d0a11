"""Gradient methods: L-BFGS-B (``scipy.optimize``) with forward-difference gradients evaluated as
one batch of n_free + 1 simulations, in unit-box coordinates (any model: only its errors are
read; a model whose rows draw noise gets noisy differences); or, for rates and outputs targets,
projected Adam through a trained surrogate followed by verification of its answer by
simulation."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from neuroscape.fit.problem import BudgetExhausted, FitError, FitProblem
from neuroscape.fit.result import make_result

WALL = 1e3  # height of the wall at a failed point, in the error's unit (errors are O(1-100))


def lbfgsb(problem: FitProblem, u0: np.ndarray, h: float = 1e-3, maxiter: int | None = None):
    """Minimize from u0 (unit coordinates) until converged or out of budget; returns best u."""
    k = problem.n_free
    best = {"f": np.inf, "u": np.asarray(u0, float)}

    def fg(u):
        # forward differences stepping inwards at the upper bound
        steps = np.where(u + h <= 1.0, h, -h)
        pts = np.vstack([u, u + np.diag(steps)])
        f = problem.scalar(problem.evaluate(problem.from_unit(pts)))
        if len(f) < k + 1:
            raise BudgetExhausted
        if f[0] < best["f"]:
            best.update(f=f[0], u=u.copy())
        if not np.isfinite(f[0]) and np.isfinite(best["f"]):
            # a failed simulation: a smooth wall rising away from the best point so far, so
            # that the line search retreats (a flat 1e30 with no slope ended the search)
            d = u - best["u"]
            return best["f"] + WALL * (1.0 + d @ d), 2.0 * WALL * d
        with np.errstate(invalid="ignore"):
            g = (f[1:] - f[0]) / steps
        if not np.all(np.isfinite(f)):
            g = np.where(np.isfinite(g), g, 0.0)
        return (f[0] if np.isfinite(f[0]) else 1e30), g

    try:
        minimize(
            fg,
            u0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * k,
            options={"maxiter": maxiter or 10_000, "maxfun": 10**9},
        )
    except BudgetExhausted:
        pass
    return best["u"]


def min_budget(problem: FitProblem, surrogate=None, **_) -> int:
    """One forward-difference gradient (n_free + 1), or one verifying simulation."""
    return 1 if surrogate is not None else problem.n_free + 1


def run(
    problem: FitProblem,
    start: dict | None = None,
    seed: int = 0,
    surrogate=None,
    threshold: float | None = None,
    **_,
):
    x0 = problem.check_start(start)
    if surrogate is not None:
        return _through_surrogate(problem, surrogate, x0, seed, threshold)
    lbfgsb(problem, problem.to_unit(x0))
    return make_result(problem, "gradient", threshold)


def _through_surrogate(problem, sur, x0, seed, threshold, steps: int = 2000, starts: int = 32):
    """Projected Adam on the free parameters through the surrogate (the fixed ones held), from
    the start and random points; the best few predicted points are then simulated."""
    import torch

    if problem.target.kind not in ("rates", "outputs") or sur.model != problem.name:
        raise FitError(
            "a surrogate gradient fit needs a rates target (or an outputs target) and a "
            f"surrogate of {problem.name!r} (got one of {sur.model!r})"
        )
    names = sur.parameter_names
    idx = [names.index(n) for n in problem.free_names]
    base = torch.as_tensor(problem._base, dtype=torch.float32)
    lo = torch.as_tensor(np.maximum(problem.lo, sur.domain[idx, 0]), dtype=torch.float32)
    hi = torch.as_tensor(np.minimum(problem.hi, sur.domain[idx, 1]), dtype=torch.float32)
    values = problem.target.output_values
    missing = [k for k in values if k not in sur.output_names]
    if missing:
        raise FitError(
            f"the surrogate does not predict {missing[0]!r}; it predicts "
            f"{', '.join(sur.output_names)}"
        )
    outs = [sur.output_names.index(k) for k in values]
    goal = torch.tensor(list(values.values()), dtype=torch.float32)
    # the error the fit itself scores: rates in Hz, outputs divided by their scales
    sc = problem.target.output_scales() if "outputs" in problem.measures else {}
    scale = torch.tensor([sc.get(k, 1.0) for k in values], dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(starts, len(idx), generator=gen)
    u[0] = torch.as_tensor(problem.to_unit(x0), dtype=torch.float32).clamp(0, 1)
    u.requires_grad_(True)
    opt = torch.optim.Adam([u], lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        p = base.repeat(starts, 1)
        p[:, idx] = lo + u * (hi - lo)
        loss = ((sur.forward(p)[:, outs] - goal).abs() / scale).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            u.clamp_(0, 1)
    with torch.no_grad():
        p = base.repeat(starts, 1)
        p[:, idx] = lo + u * (hi - lo)
        gap = ((sur.forward(p)[:, outs] - goal).abs() / scale).sum(1).numpy()
    x = (lo + u * (hi - lo)).detach().numpy().astype(float)
    order = np.argsort(gap)[: max(1, min(problem.budget, 8))]
    problem.evaluate(x[order])
    res = make_result(problem, "gradient", threshold)
    # the predicted error of the simulated points: Hz under rates, dimensionless under outputs
    key = "surrogate_gap" if "outputs" in problem.measures else "surrogate_gap_hz"
    res.extra[key] = [float(g) for g in gap[order]]
    return res
