"""The same 3-s circuit simulation in Brian2 (its default target) and in neuroscape, in one run.

Prints seconds per simulation for each, neuroscape's batched throughput at B = 1, 64 and 1024,
and the ratios against Brian2 measured here. Parameter sets are uniform over the domain (seeded),
so both simulators see the same mix of quiet and busy networks.

    python benchmarks/cortical_vs_brian2.py [--n-brian2 5] [--batches 1 64 1024] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import neuroscape as ns
from neuroscape.models.cortical import SPEC
from neuroscape.sim.engine import batch_for


def sample(n: int, seed: int) -> np.ndarray:
    lo, hi = SPEC.bounds.T
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-brian2", type=int, default=5, help="Brian2 runs (after a warm-up)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()

    from neuroscape.reference.brian2_circuit import simulate_brian2

    model = batch_for("cortical", conn_seed=0)
    p_b2 = sample(args.n_brian2, seed=1)
    simulate_brian2(p_b2[0], model.connectivity, seed=0)  # code generation + compilation
    b2 = []
    for k, p in enumerate(p_b2):
        t0 = time.perf_counter()
        r = simulate_brian2(p, model.connectivity, seed=k)
        b2.append(time.perf_counter() - t0)
        print(f"brian2 run {k}: {b2[-1]:.2f} s  r_E={r['r_E']:.2f} r_I={r['r_I']:.2f}", flush=True)
    b2_med = float(np.median(b2))

    ns.simulate("cortical", p_b2[:1], duration_ms=10.0, device=args.device)  # JIT warm-up
    rows = []
    for b in args.batches:
        p = sample(b, seed=2)
        reps = 3 if b == 1 else 1
        per = []
        for _ in range(reps):
            r = ns.simulate("cortical", p, seed=0, device=args.device)
            per.append(r.wall_time_s / b)
        per_sim = float(np.median(per))
        rows.append(
            {
                "B": b,
                "s_per_sim": per_sim,
                "sims_per_s": 1 / per_sim,
                "speedup_vs_brian2": b2_med / per_sim,
            }
        )
        print(
            f"neuroscape B={b:5d}: {per_sim * 1e3:8.2f} ms/sim  {1 / per_sim:8.1f} sims/s  "
            f"{b2_med / per_sim:7.1f}x Brian2",
            flush=True,
        )
    out = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor(),
            "device": args.device,
        },
        "brian2_s_per_sim_median": b2_med,
        "brian2_runs_s": b2,
        "neuroscape": rows,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
