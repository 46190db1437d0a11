"""Surrogate evaluation against the batched circuit simulator, per sample on the CPU, in
alternating rounds (the speed claim of Zhang, Young & Lai 2020).

    python benchmarks/surrogate_speed.py SURROGATE_DIR [--rounds 5] [--batch 256] [--test-db DB]

The simulator runs B parameter sets of 3 s each in one batch (all cores); the surrogate predicts
100,000 points of its domain (``evaluation_speed``) in float32 and with its hidden layers in
bfloat16. Prints each round's ratios and their medians, then what bfloat16 costs in accuracy:
its mean absolute difference from float32 on those points and, with ``--test-db``, the test MAE
of both precisions against simulations.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neuroscape.api import simulate
from neuroscape.surrogate import load_surrogate, training_data
from neuroscape.surrogate.accuracy import evaluation_speed

PRECISIONS = ("float32", "bfloat16")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("surrogate")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--test-db", help="a database of independent simulations for the test MAE")
    a = ap.parse_args()
    sur = load_surrogate(a.surrogate)
    lo, hi = sur.domain[:, 0], sur.domain[:, 1]
    p = lo + (hi - lo) * np.random.default_rng(0).random((a.batch, len(lo)))
    simulate("cortical", p[:4], seed=1)  # compile and warm up
    ratios: dict[str, list[float]] = {k: [] for k in PRECISIONS}
    for r in range(a.rounds):
        t0 = time.perf_counter()
        simulate("cortical", p, seed=r)
        sim = (time.perf_counter() - t0) / a.batch
        line = f"round {r + 1}: simulator {sim * 1e3:.1f} ms"
        for prec in PRECISIONS:
            s = evaluation_speed(sur, repeats=3, precision=prec)
            ratios[prec].append(sim / s)
            line += f", {prec} {s * 1e6:.2f} us ({sim / s:,.0f}x)"
        print(line, flush=True)
    for prec in PRECISIONS:
        print(f"median ratio {prec}: {np.median(ratios[prec]):,.0f}x")

    q = lo + (hi - lo) * np.random.default_rng(1).random((100_000, len(lo)))
    d = np.abs(sur.predict(q, precision="bfloat16") - sur.predict(q)).mean(0)
    print(f"bfloat16 - float32, mean |difference| on 100,000 points: {np.round(d, 4)} Hz")
    if a.test_db:
        _, tp, to, _, _ = training_data(a.test_db)
        ok = np.isfinite(to).all(1)
        for prec in PRECISIONS:
            mae = np.abs(sur.predict(tp[ok], precision=prec) - to[ok]).mean(0)
            print(f"test MAE {prec} ({ok.sum()} points): {np.round(mae, 4)} Hz")


if __name__ == "__main__":
    main()
