"""A hybrid network: a surrogate of a population of ball-and-stick cells stands in for it.

1. A population A of 16 ball-and-stick cells (examples/cells/ball_stick.yaml), each driven by
   20 Poisson sources at ``rate`` (5-40 Hz), is run for a few hundred rates (300 ms each, the
   rate over the last 200 ms) and a surrogate of A's rate against ``rate`` is trained on them.
2. The feed-forward network drive -> A -> B (B: 16 detailed cells, all-to-all from A) is run
   with A detailed and with A the surrogate (Poisson cells at the predicted rate), at input
   rates not in the training set, and the rates of A and B are compared with the Poisson
   counting error of the difference.

    .venv/bin/python examples/hybrid_network.py              # ~1 min on 2 cores
    .venv/bin/python examples/hybrid_network.py --runs 400 --reps 16

Writes the network files and the surrogate under --out (default out/hybrid_network).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import yaml

CELL = str(Path(__file__).resolve().parent / "cells" / "ball_stick.yaml")
SYN = {"model": "expsyn", "tau": "2 ms", "e": "0 mV", "at": "dend(0.8)"}
SIZE = 16
SETTINGS = {"duration": "300 ms", "dt": "0.025 ms", "window": "200 ms"}
DRIVE = {"target": "A", "rate": "rate", "n": 20, "weight": "0.005 uS", "synapse": SYN}
# B's own background, which makes its cells differ (all-to-all from A, they would be copies)
DRIVE_B = {"target": "B", "rate": "5 Hz", "n": 20, "weight": "0.005 uS", "synapse": SYN}
RATE = {"default": "20 Hz", "low": 5, "high": 40}


def write_networks(out: Path) -> dict[str, Path]:
    """The training network (A alone), the detailed network and the hybrid (A a surrogate)."""
    out.mkdir(parents=True, exist_ok=True)
    ab = {"pre": "A", "post": "B", "connect": "all_to_all", "weight": "0.008 uS",
          "delay": "1.5 ms", "synapse": SYN}  # fmt: skip
    nets = {
        "train": {"name": "train_A", "populations": {"A": {"size": SIZE, "model": CELL}},
                  "inputs": {"drive": DRIVE}, "parameters": {"rate": RATE},
                  "settings": SETTINGS},
        "detailed": {"name": "ff_detailed",
                     "populations": {"A": {"size": SIZE, "model": CELL},
                                     "B": {"size": SIZE, "model": CELL}},
                     "projections": {"AB": ab}, "inputs": {"drive": DRIVE, "drive_B": DRIVE_B},
                     "parameters": {"rate": RATE}, "settings": SETTINGS},
        "hybrid": {"name": "ff_hybrid",
                   "populations": {"A": {"size": SIZE, "surrogate": "surrogate_A"},
                                   "B": {"size": SIZE, "model": CELL}},
                   "projections": {"AB": ab}, "inputs": {"drive": DRIVE, "drive_B": DRIVE_B},
                   "parameters": {"rate": RATE}, "settings": SETTINGS},
    }  # fmt: skip
    paths = {}
    for k, d in nets.items():
        paths[k] = out / f"{k}.yaml"
        paths[k].write_text(yaml.safe_dump(d, sort_keys=False))
    return paths


def train(paths: dict[str, Path], runs: int, seed: int = 0):
    """Run the training network at ``runs`` rates (a Latin-hypercube-like grid, jittered) and
    train the surrogate of A's rate; returns (surrogate, sweep seconds, training seconds)."""
    from neuroscape.models.multicomp.network import load_cell_network_model
    from neuroscape.sim.engine import run_batch
    from neuroscape.surrogate import SurrogateConfig, train_surrogate

    model = load_cell_network_model(paths["train"])
    rng = np.random.default_rng(seed)
    rates = 5.0 + 35.0 * (np.arange(runs) + rng.random(runs)) / runs
    t0 = time.perf_counter()
    res = run_batch(model, rates[:, None], seed=seed)
    t_sweep = time.perf_counter() - t0
    cfg = SurrogateConfig(hidden=(32, 32), activation="tanh", lr=3e-3, max_epochs=800,
                          patience=80, seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    sur = train_surrogate(rates[:, None], res.outputs, np.array([[5.0, 40.0]]), model=model,
                          parameter_names=["rate"], output_names=["rate_A"], config=cfg,
                          provenance={"runs": runs, "seed": seed})  # fmt: skip
    t_train = time.perf_counter() - t0
    sur.save(paths["train"].parent / "surrogate_A")
    return sur, t_sweep, t_train


def compare(paths: dict[str, Path], test_rates, reps: int, seed: int = 1) -> dict:
    """Rates of A and B (Hz, over the window) in the detailed and the hybrid network, ``reps``
    rows per input rate, and the wall time of each."""
    from neuroscape.models.multicomp.network import load_cell_network_model
    from neuroscape.sim.engine import run_batch
    from neuroscape.surrogate.hybrid import load_hybrid_network

    params = np.repeat(np.asarray(test_rates, float), reps)[:, None]
    out = {}
    t0 = time.perf_counter()
    out["detailed"] = run_batch(load_cell_network_model(paths["detailed"]), params,
                                seed=seed).outputs  # fmt: skip
    out["t_detailed"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hyb = load_hybrid_network(paths["hybrid"])
    out["hybrid"] = run_batch(hyb.batch(), params, seed=seed).outputs
    out["t_hybrid"] = time.perf_counter() - t0
    out["predicted"] = hyb.rate_fns["A"](np.asarray(test_rates, float)[:, None])
    return out


def table(test_rates, reps: int, res: dict, window_s: float = 0.2, z: float = 4.0) -> list:
    """Per input rate: the mean rates (Hz) of A and B, detailed and hybrid, and the tolerance
    z x the counting SD of the difference of the means: sqrt(F_d n_d + F_h n_h) / (N T reps),
    n the spike counts over the reps (Poisson: variance n), F >= 1 the Fano factor of the
    rows' population counts where it exceeds 1 (cells sharing inputs fire together)."""
    rows = []
    exposure = SIZE * window_s  # cell-seconds per row
    for k, r in enumerate(test_rates):
        d = res["detailed"][k * reps : (k + 1) * reps] * exposure  # counts per row
        h = res["hybrid"][k * reps : (k + 1) * reps] * exposure
        tol = []
        for j in range(2):
            var = sum(max(1.0, c[:, j].var(ddof=1) / max(c[:, j].mean(), 1e-12)) * c[:, j].sum()
                      for c in (d, h))  # fmt: skip
            tol.append(z * math.sqrt(var) / (exposure * reps))
        rows.append((r, d.mean(0) / exposure, h.mean(0) / exposure, tol))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/hybrid_network")
    ap.add_argument("--runs", type=int, default=240, help="training runs (rates)")
    ap.add_argument("--reps", type=int, default=12, help="rows per test input rate")
    a = ap.parse_args()
    paths = write_networks(Path(a.out))
    sur, t_sweep, t_train = train(paths, a.runs)
    print(f"training: {a.runs} runs of {SIZE} cells x 300 ms in {t_sweep:.1f} s, surrogate "
          f"trained in {t_train:.1f} s (validation MAE {sur.metrics['val_mae'][0]:.2f} Hz)")
    test_rates = [8.75, 16.25, 23.75, 31.25]
    res = compare(paths, test_rates, a.reps)
    print(f"\nrates over the last 200 ms, mean of {a.reps} runs per input rate; tolerance: 4 x "
          "the counting SD of the difference (Poisson variance x the Fano factor of the rows' "
          "counts where above 1); A surrogate: the surrogate's prediction")
    print(f"{'input':>8} | {'A detailed':>10} {'A hybrid':>9} {'A tol':>6} {'A surrogate':>11} | "
          f"{'B detailed':>10} {'B hybrid':>9} {'B tol':>6}")
    for k, (r, d, h, tol) in enumerate(table(test_rates, a.reps, res)):
        print(f"{r:6.2f}Hz | {d[0]:8.2f}Hz {h[0]:7.2f}Hz {tol[0]:4.1f}Hz "
              f"{res['predicted'][k]:9.2f}Hz | {d[1]:8.2f}Hz {h[1]:7.2f}Hz {tol[1]:4.1f}Hz")
    n = len(test_rates) * a.reps
    print(f"\nwall time for {n} runs: detailed {res['t_detailed']:.1f} s, hybrid "
          f"{res['t_hybrid']:.1f} s (including loading the surrogate)")


if __name__ == "__main__":
    main()
