"""Surrogate evaluation against the batched circuit simulator, per sample on the CPU, in
alternating rounds (seed 004's speed claim; issue bar: at least 10,000x).

    python benchmarks/surrogate_speed.py SURROGATE_DIR [--rounds 5] [--batch 256]

The simulator runs B parameter sets of 3 s each in one batch (all cores); the surrogate predicts
100,000 points of its domain (``evaluation_speed``). Prints each round's ratio and the median.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neuroscape.api import simulate
from neuroscape.surrogate import load_surrogate
from neuroscape.surrogate.accuracy import evaluation_speed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("surrogate")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    sur = load_surrogate(a.surrogate)
    lo, hi = sur.domain[:, 0], sur.domain[:, 1]
    p = lo + (hi - lo) * np.random.default_rng(0).random((a.batch, len(lo)))
    simulate("cortical", p[:4], seed=1)  # compile and warm up
    ratios = []
    for r in range(a.rounds):
        t0 = time.perf_counter()
        simulate("cortical", p, seed=r)
        sim = (time.perf_counter() - t0) / a.batch
        sur_s = evaluation_speed(sur, repeats=3)
        ratios.append(sim / sur_s)
        print(
            f"round {r + 1}: simulator {sim * 1e3:.1f} ms, surrogate {sur_s * 1e6:.2f} us, "
            f"ratio {sim / sur_s:,.0f}x",
            flush=True,
        )
    print(f"median ratio {np.median(ratios):,.0f}x")


if __name__ == "__main__":
    main()
