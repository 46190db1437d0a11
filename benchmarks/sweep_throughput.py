"""Sweep throughput against the engine's own batched throughput, on the same points, in one run.

    python benchmarks/sweep_throughput.py [--n 256] [--chunk 64]

Prints runs/s for both, their ratio (the cost of the database and the scheduling) and the
projected time for the 20,000-run training set of Zhang, Young & Lai (2020) on this machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from neuroscape.core.settings import SimSettings
from neuroscape.explore import ParameterSpace, run_sweep
from neuroscape.models import get_model, get_spec
from neuroscape.sim.engine import run_batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=64)
    args = ap.parse_args()
    spec = get_spec("cortical")
    points = ParameterSpace(spec).sample(args.n, "sobol", 0)
    model = get_model("cortical")
    settings = SimSettings.for_model(spec)
    run_batch(model, points[:2], settings=SimSettings(duration_ms=10.0, window_ms=5.0))
    t0 = time.perf_counter()
    run_batch(model, points, settings=settings, chunk_size=args.chunk)
    t_engine = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run_sweep(
            "cortical",
            args.n,
            Path(d) / "runs.db",
            sampler="sobol",
            chunk=args.chunk,
            settings=settings,
            progress=False,
        )
        t_sweep = time.perf_counter() - t0
    out = {
        "n": args.n,
        "engine_runs_per_s": args.n / t_engine,
        "sweep_runs_per_s": args.n / t_sweep,
        "sweep_over_engine_time": t_sweep / t_engine,
        "projected_20000_runs_min": 20000 / (args.n / t_sweep) / 60,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
