"""neuroscape's CUDA throughput on the circuit against its CPU throughput, in one run.

python benchmarks/cuda_throughput.py [--batches 1024 8192] [--cpu-batch 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import neuroscape as ns
from neuroscape.models.cortical import SPEC


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[1024, 8192])
    ap.add_argument("--cpu-batch", type=int, default=64)
    ap.add_argument("--duration-ms", type=float, default=3000.0)
    args = ap.parse_args()
    lo, hi = SPEC.bounds.T
    rng = np.random.default_rng(0)
    ns.simulate("cortical", {}, duration_ms=10.0)
    ns.simulate("cortical", {}, duration_ms=10.0, device="cuda")
    p = lo + (hi - lo) * rng.random((args.cpu_batch, 7))
    r = ns.simulate("cortical", p, duration_ms=args.duration_ms)
    cpu = r.wall_time_s / len(p)
    print(f"cpu  B={len(p):6d}: {cpu * 1e3:8.3f} ms/sim", flush=True)
    for b in args.batches:
        p = lo + (hi - lo) * rng.random((b, 7))
        t0 = time.perf_counter()
        r = ns.simulate("cortical", p, duration_ms=args.duration_ms, device="cuda", chunk_size=b)
        per = (time.perf_counter() - t0) / b
        print(
            f"cuda B={b:6d}: {per * 1e3:8.3f} ms/sim  ({cpu / per:.1f}x this machine's CPU)",
            flush=True,
        )


if __name__ == "__main__":
    main()
