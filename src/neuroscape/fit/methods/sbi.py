"""Bayesian fitting by neural posterior estimation (``sbi``'s NPE): simulate the budget from a
uniform prior over the free box, reduce each output to summary statistics, train a conditional
density estimator, and sample the posterior at the target's statistics. The posterior is
amortized: ``train`` once, then ``posterior_samples`` for many targets."""

from __future__ import annotations

import contextlib
import io
import sys
import warnings

import numpy as np

from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.result import make_result


def summary_stats(t_ms: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, 14) statistics of traces v (n, T) that are finite for every trace: quantiles of V,
    its mean and SD, the count of upward crossings of 0 mV, dV/dt extremes (robust ones), and
    the mean V over the first and last tenth."""
    v = np.atleast_2d(v)
    q = np.quantile(v, [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99], axis=1).T
    dv = np.diff(v, axis=1) / (t_ms[1] - t_ms[0])
    dq = np.quantile(dv, [0.005, 0.995], axis=1).T
    cross = ((v[:, :-1] < 0) & (v[:, 1:] >= 0)).sum(1)
    tenth = max(1, v.shape[1] // 10)  # before and after a stimulus: the resting potential
    ends = np.column_stack([v[:, :tenth].mean(1), v[:, -tenth:].mean(1)])
    return np.column_stack([q, v.mean(1), v.std(1), cross, dq, ends])


def _stats(problem: FitProblem, out, noise_sd: float, rng) -> np.ndarray:
    if problem.target.kind in ("rates", "outputs"):
        idx = [out.output_names.index(k) for k in problem.target.output_values]
        return out.outputs[:, idx]
    v = out.v + noise_sd * rng.standard_normal(out.v.shape)  # the target's measurement noise
    return summary_stats(out.t_ms, v)


def target_stats(problem: FitProblem) -> np.ndarray:
    if problem.target.kind in ("rates", "outputs"):
        return np.array(list(problem.target.output_values.values()))[None]
    return summary_stats(problem.target.t_ms, problem.target.v_mV)


class _NoTracker:
    """sbi's tracker protocol, logging nothing: its default writes TensorBoard files into the
    current directory."""

    log_dir = None

    def log_metric(self, name, value, step=None) -> None:
        pass

    def log_metrics(self, metrics, step=None) -> None:
        pass

    def log_params(self, params) -> None:
        pass

    def add_figure(self, name, figure, step=None) -> None:
        pass

    def flush(self) -> None:
        pass


def train(
    problem: FitProblem, seed: int = 0, noise_sd: float = 0.0, chunk: int = 500, ensemble: int = 1
):
    """Simulate the whole budget from the prior and train NPE; returns the posterior (over unit
    coordinates; ``ensemble`` > 1 mixes several independently trained estimators)."""
    import torch
    from sbi.inference import NPE
    from sbi.utils import BoxUniform

    if problem.target.kind not in ("trace", "rates", "outputs"):
        raise FitError("sbi needs a trace, rates or outputs target (its summary statistics)")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    prior = BoxUniform(torch.zeros(problem.n_free), torch.ones(problem.n_free))
    u = prior.sample((problem.budget,)).numpy().astype(float)
    xs, us = [], []
    for s in range(0, len(u), chunk):
        uc = u[s : s + chunk]
        problem.evaluate(problem.from_unit(uc))  # counted, kept in the history
        out = problem.last_output
        keep = np.asarray(out.ok, bool)
        xs.append(_stats(problem, out, noise_sd, rng)[keep])
        us.append(uc[keep])
    theta = torch.as_tensor(np.concatenate(us), dtype=torch.float32)
    x = torch.as_tensor(np.concatenate(xs), dtype=torch.float32)
    posts = []
    for k in range(ensemble):
        torch.manual_seed(seed + k)
        inf = NPE(prior=prior, show_progress_bars=False, tracker=_NoTracker())
        note = io.StringIO()
        with contextlib.redirect_stdout(note), warnings.catch_warnings():
            # sbi prints its convergence note (to stdout, without a newline); and it warns of
            # constant statistics, which ours are by design in some regimes (no spike: no 0 mV
            # crossing), harmless after z-scoring
            warnings.filterwarnings("ignore", message="Data has constant values")
            inf.append_simulations(theta, x)
            est = inf.train(show_train_summary=False)
        if note.getvalue().strip():
            print(f"neuroscape: sbi: {note.getvalue().strip()}", file=sys.stderr)
        posts.append(inf.build_posterior(est))
    if ensemble == 1:
        return posts[0]
    from sbi.inference import EnsemblePosterior

    return EnsemblePosterior(posts)


def posterior_samples(
    posterior, problem: FitProblem, x_o: np.ndarray, n: int = 2000, seed: int = 0
) -> np.ndarray:
    """(n, n_free) posterior samples in physical units at summary statistics x_o."""
    import torch

    torch.manual_seed(seed)
    s = posterior.sample(
        (n,), x=torch.as_tensor(x_o, dtype=torch.float32), show_progress_bars=False
    )
    return problem.from_unit(s.numpy().astype(float))


MIN_TRAINING = 19  # NPE standardizes by the SD over a training split: a few dozen at the least


def min_budget(problem: FitProblem, **_) -> int:
    """The training simulations and one for the posterior median."""
    return MIN_TRAINING + 1


def run(
    problem: FitProblem,
    seed: int = 0,
    noise_sd: float = 0.0,
    n_samples: int = 2000,
    threshold: float | None = None,
    **_,
):
    budget = problem.budget
    problem.budget = budget - 1  # keep one simulation to score the posterior median
    post = train(problem, seed, noise_sd)
    problem.budget = budget
    samples = posterior_samples(post, problem, target_stats(problem), n_samples, seed)
    med = np.median(samples, axis=0)
    problem.evaluate(med[None])
    return make_result(problem, "sbi", threshold, best_x=med, posterior=samples)
