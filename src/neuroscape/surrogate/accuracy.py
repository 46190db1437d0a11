"""Surrogate accuracy against training-set size (Zhang, Young & Lai 2020, Figs. 1b and 8) and the
noise floor.

The noise floor is the error no surrogate can beat: the MAE between two simulations of the same
test points that differ only in their noise seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from neuroscape.surrogate.core import SurrogateConfig, SurrogateError, train_surrogate


def noise_floor(
    model,
    params: np.ndarray,
    seeds: tuple[int, int] = (1000, 2000),
    parameter_names: list[str] | None = None,
    output_names: list[str] | None = None,
    **simulate_kwargs,
) -> np.ndarray:
    """MAE per output (in the outputs' units) between two simulations of ``params`` that differ
    only in their noise seeds: the error no surrogate can beat. ``model``: any model object, a
    name or ``FILE.py:NAME``; ``params`` in its parameter order, or in ``parameter_names``
    order; the floor in its output order, or in ``output_names`` order. Rows failed in either
    run are left out. A deterministic model's floor is 0."""
    from neuroscape.models import resolve
    from neuroscape.surrogate.simulator import simulate_named

    try:
        m = resolve(model)
    except ValueError as exc:
        raise SurrogateError(str(exc)) from None
    names = list(parameter_names or m.spec.parameter_names)
    outs = list(output_names or m.spec.output_names)
    a, b = (
        simulate_named(m, names, outs, params, seed=s, **simulate_kwargs) for s in seeds
    )
    ok = np.all(np.isfinite(a) & np.isfinite(b), axis=1)
    if not ok.any():
        raise SurrogateError(f"noise floor: all {len(a)} rows failed in one of the two runs")
    return np.abs(a[ok] - b[ok]).mean(0)


@dataclass
class LearningCurve:
    n: np.ndarray  # training-set sizes
    mae: np.ndarray  # (len(n), n_out) test MAE
    rmse: np.ndarray  # (len(n), n_out) test RMSE
    output_names: list[str]
    surrogate: object = None  # the one trained at the largest n

    def power_law(self) -> np.ndarray:
        """Fitted exponent k of MAE ~ n^k per output (a log-log least-squares slope)."""
        return np.array(
            [
                np.polyfit(np.log(self.n), np.log(self.mae[:, j]), 1)[0]
                for j in range(self.mae.shape[1])
            ]
        )


def learning_curve(
    train_p: np.ndarray,
    train_o: np.ndarray,
    test_p: np.ndarray,
    test_o: np.ndarray,
    domain: np.ndarray,
    sizes: Sequence[int],
    *,
    parameter_names: list[str],
    output_names: list[str],
    config: SurrogateConfig | None = None,
    model: str = "model",
    seed: int = 0,
    lr_decay_from_n: int | None = None,
    lr_decay_patience: int = 20,
    progress: bool = False,
) -> LearningCurve:
    """Train on nested random subsets of the training pairs of each size; test on the test set.

    ``lr_decay_from_n``: from this training-set size on, halve the learning rate on validation
    plateaus (``lr_decay_patience`` epochs). Measured on the circuit: it takes the test MAE at
    n = 20,000 from (1.54, 1.94) to (1.14, 1.20) x the noise floor, and at n = 500 it hurts.
    ``progress``: a bar over the sizes, and one over the epochs of each, on stderr."""
    cfg = config or SurrogateConfig()
    cfg.check()
    if len(sizes) == 0:
        raise SurrogateError("no training sizes; give one or more, e.g. [200, 500, 1000]")
    sizes = np.array(sorted(int(s) for s in sizes))
    if sizes.min() < 10 or sizes.max() > len(train_p):
        raise SurrogateError(
            f"training sizes must lie in [10, {len(train_p)}] (the training pairs); got "
            f"{sizes.min()}..{sizes.max()}"
        )
    if lr_decay_from_n is not None and lr_decay_from_n < 1:
        raise SurrogateError(f"lr_decay_from_n={lr_decay_from_n}; allowed: >= 1 or None")
    order = np.random.default_rng(seed).permutation(len(train_p))
    ok = np.all(np.isfinite(test_o), axis=1)
    if not ok.any():
        raise SurrogateError("no test pair has finite outputs; nothing to measure the error on")
    maes, rmses = [], []
    bar = None
    if progress:
        import sys

        from tqdm.auto import tqdm

        bar = tqdm(total=len(sizes), unit="size", desc="learning curve", file=sys.stderr)
    try:
        for n in sizes:
            if bar is not None:
                bar.set_postfix(n=int(n))
            sur, mae, rmse = _train_and_test(
                train_p[order[:n]],
                train_o[order[:n]],
                test_p[ok],
                test_o[ok],
                domain,
                model=model,
                parameter_names=parameter_names,
                output_names=output_names,
                config=replace(cfg, lr_decay_patience=lr_decay_patience)
                if lr_decay_from_n is not None and n >= lr_decay_from_n
                else replace(cfg),
                progress=progress,
            )
            maes.append(mae)
            rmses.append(rmse)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return LearningCurve(sizes, np.array(maes), np.array(rmses), list(output_names), sur)


def _train_and_test(tp, to, sp, so, domain, *, config, progress, **names):
    """A surrogate on (tp, to) and its test MAE and RMSE per output on (sp, so)."""
    sur = train_surrogate(
        tp,
        to,
        domain,
        model_version="",
        config=config,
        progress=progress,
        warn_large_error=False,  # the learning curve reports the test error itself
        **names,
    )
    err = sur.predict(sp, allow_outside=True) - so
    return sur, np.abs(err).mean(0), np.sqrt((err**2).mean(0))


def evaluation_speed(
    sur, n: int = 100_000, repeats: int = 5, seed: int = 0, precision: str = "float32"
) -> float:
    """Median seconds per sample of ``sur.predict`` on n uniform points of its domain."""
    import time

    lo, hi = sur.domain[:, 0], sur.domain[:, 1]
    p = lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))
    sur.predict(p[:1000], precision=precision)  # warm-up: thread pools, allocator
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sur.predict(p, precision=precision)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / n
