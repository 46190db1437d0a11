"""The shipped networks `cuba` (Brette et al. 2007, benchmark 2) and `coba_stp` (Stimberg et al.
2019, Fig. 1) in Brian2 (cython) and in neuroscape on the same exported graph, in one run.

Prints seconds of wall time per simulated second of one network: Brian2 (median of runs after a
compiling warm-up), neuroscape at B = 1 and B = 16 (the batch's wall time over B x the simulated
time), and the ratios Brian2 / neuroscape.

    python benchmarks/networks_vs_brian2.py [--n-brian2 3] [--duration-ms 1000] [--json FILE]

Where the time went (issue 19; 2-core AMD EPYC Zen 4, medians of 5 runs of 1 s at B = 1):
- cuba spent 0.29 s per run, the same with its synaptic weights at zero (its cells fire on their
  own, E_l above threshold): the neuron loop, not the delivery. The generated kernel called the
  'exact' step per neuron and step, whose exponentials and divided differences (constants of
  the row) LLVM did not hoist. Now the kernel reads the step once per row as y' = A y + c
  (``network_engine._Gen._affine_lines``): 0.036 s per run at B = 1 and 0.016 at B = 16, the same
  rates; this script then gave cuba 21.5x Brian2 at B = 1 and 44x at B = 16.
- coba_stp (forward Euler, Tsodyks-Markram synapses) spends its time in the synaptic events:
  about 5.8 million per simulated second at its defaults, each bringing u and x over the gap
  since the synapse's last event with two exponentials. Read from per-row tables of exp(b n
  dt) for gaps under 8,192 steps (``EXP_TABLE``; bitwise the same values): 0.118 -> 0.084 s per
  run at B = 1; 8.5x -> about 10.6x Brian2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import neuroscape as ns
from neuroscape.models.network import network_graph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-brian2", type=int, default=3, help="Brian2 runs (after a warm-up)")
    ap.add_argument("--duration-ms", type=float, default=1000.0, help="simulated time per run")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()

    from neuroscape.reference.brian2_networks import coba_stp_brian2, cuba_brian2

    sim_s = args.duration_ms * 1e-3
    rows = []
    for name, ref in (("cuba", cuba_brian2), ("coba_stp", coba_stp_brian2)):
        graph = network_graph(name, conn_seed=0)
        kw = dict(duration_ms=args.duration_ms, window_ms=args.duration_ms / 2)
        ref(graph, None, seed=0, **kw)  # code generation and compilation
        b2 = []
        for k in range(args.n_brian2):
            t0 = time.perf_counter()
            r = ref(graph, None, seed=k + 1, **kw)
            b2.append((time.perf_counter() - t0) / sim_s)
            print(f"{name} brian2 run {k}: {b2[-1]:.2f} s/s  r_E={r['r_E']:.2f} Hz", flush=True)
        ns.simulate(name, {}, connectivity=graph, duration_ms=10.0, window_ms=5.0)  # JIT
        per = {}
        for b in (1, 16):
            times = []
            for rep in range(3 if b == 1 else 1):
                res = ns.simulate(name, [{}] * b, seed=rep, connectivity=graph, **kw)
                times.append(res.wall_time_s / (b * sim_s))
            per[b] = float(np.median(times))
            print(f"{name} neuroscape B={b}: {per[b]:.3f} s/s per network  "
                  f"r_E={np.mean(res['r_E']):.2f} Hz", flush=True)
        med = float(np.median(b2))
        rows.append({"network": name, "brian2_s_per_s": med, "neuroscape_B1_s_per_s": per[1],
                     "neuroscape_B16_s_per_s": per[16], "ratio_B1": med / per[1],
                     "ratio_B16": med / per[16]})

    print(f"\n{'network':10s} {'Brian2':>10s} {'ns B=1':>10s} {'ns B=16':>10s} "
          f"{'x B=1':>7s} {'x B=16':>7s}   (wall seconds per simulated second)")
    for r in rows:
        print(f"{r['network']:10s} {r['brian2_s_per_s']:10.3f} {r['neuroscape_B1_s_per_s']:10.3f}"
              f" {r['neuroscape_B16_s_per_s']:10.3f} {r['ratio_B1']:7.2f} {r['ratio_B16']:7.2f}")
    if args.json:
        meta = {"cpus": os.cpu_count(), "machine": platform.processor() or platform.machine()}
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "meta": meta}, fh, indent=2)


if __name__ == "__main__":
    main()
