"""The same 3-s circuit simulation in Brian2 (its default target) and in neuroscape, in one run.

Prints seconds per simulation for each, neuroscape's batched throughput at B = 1, 64 and 1024,
and the ratios against Brian2 measured here. Parameter sets are uniform over the domain (seeded),
so both simulators see the same mix of quiet and busy networks.

    python benchmarks/cortical_vs_brian2.py [--n-brian2 5] [--batches 1 64 1024] [--device cpu]

Where the CPU kernel's time goes (issue 19; 2-core AMD EPYC (Zen 4, AVX-512) shared with other
jobs, so process CPU time, kernel variants interleaved over 15 rounds, B = 64 rows on 1 thread,
paired medians). perf cannot name numba's JIT code, so the profile is ``perf record`` (cpu-clock,
4 kHz) with the kernel's executable anonymous mapping dumped from /proc/self/maps and
disassembled with objdump; samples are summed per loop (backward-jump ranges):

- before (commit f0c1f8a, 12.2-13.7 cpu-ms per run): E integration 19 %, I integration 11 %
  (75 neurons ran as 9 ymm vectors and 3 scalar steps), Poisson words (SplitMix64, a 64-bit
  multiply for the counter and two in the mix per word) 11 %, the Poisson comparisons 20-24 %
  (six int64 comparisons per draw: 8 lanes), spike gathers 5 %, spike delivery about 10 %.
- int32 comparisons (the 32-bit uniform and the table shifted by 2**31; counts added as masked
  float adds, since numba widens an int32 sum to int64): x 0.91-0.95.
- float32 populations padded to whole 16-lane vectors (225 -> 240, 75 -> 80; the padding lanes
  are refractory for ever): x 0.85 together.
- the word's argument as an induction variable (key + c * GAMMA grows by GAMMA << 8 per neuron;
  one 64-bit multiply per word less, the same bits): x 0.76.
- per row and input only as many comparisons as its rate needs (2, 3, 4 or 6: the fewest with
  fewer than 0.05 draws per step past them, which the exact second pass counts): x 0.69, about
  8.6 cpu-ms per run against 12.5 for the kernel before, with bit-identical spike trains.
- after: E integration 28 %, Poisson words 14 %, comparisons about 15 %, spike gathers and the
  exact second pass about 10 %, dense delivery (0/1 mask rows from L2) 5 %, E->E delivery with
  its per-synapse failure draws 4 %.

On the 2-core AMD EPYC Zen 1 (family 23 model 1, AVX2 only) of a later session, shared with
other jobs, so 1 numba thread, B = 32 (the circuit's box, seeded), median core-ms per run over 5
rounds, variants of the generated source interleaved in one session:
- the kernel as above: 53.7 core-ms per run; its integration loop alone (a copy with the same
  arithmetic) 28.3, of which the refractory hold 7; the Poisson words 19.7 (SplitMix64 has two
  64-bit multiplies per word, which AVX2 emulates with three 32-bit ones each, 4 lanes wide);
  the comparisons past the first about 5.
- one SplitMix64 word per step and pair of inputs, each neuron's uniform its half plus a
  random per-neuron offset through Wellons' 32-bit lowbias32 hash (two 32-bit multiplies, 8
  lanes; written as LLVM integer instructions, since numba widens integer arithmetic to 64
  bits and LLVM then keeps the 64-bit vector multiplies): the words' share falls from 19.7 to
  about 8.8 core-ms; whole kernel x 0.85 (62.6 -> 53.4 ms per run at B = 128, 2 threads, loaded).
- the float32 Runge-Kutta step with fewer multiplies (the conductances' stability polynomials,
  V's right-hand side collected in V): the loop, bound by the float multiply port (one 8-lane
  multiply per cycle on Zen 1), from 28.3 to 21.4 core-ms; whole kernel 53.7 -> 47.9.
- not kept: '&' instead of 'and' for the refractory flag (no change in the kernel); FMA
  contraction (fastmath 'contract'; no gain, within the noise).

Tried and dropped: event-driven (geometric) Poisson arrivals: the circuit's inputs have 0.2-0.7
arrivals per neuron and step, a scalar draw of the next arrival (hash, logarithm, branch) costs
more than the whole vectorized count of all 600 draws of a step (about 500 cycles); SIMD across
rows: the neuron loops already run 16 lanes wide and delivery would turn into per-lane
scatters; a cheaper mix than SplitMix64 on the Zen 4 (AVX-512 multiplies 64 bits natively): no
measurable gain there (on AVX2, above, it is the larger part of the words' cost).

Back on a Zen 4 (family 25 model 17, AVX-512, 2 cores) with the kernel of both changes above,
1 numba thread, B = 32-64, medians over 5-7 interleaved rounds (the host's noise was +-10%):
the kernel 12.2-13.5 core-ms per run; without the lowbias32 hash (the seed plus the lane
offset used as it is: timing only) or without the E->E failure draws, no measurable change;
without the Poisson comparisons and their exact second pass 8.4 (so about 4-5 core-ms is
theirs: 105 comparison levels over the E population's 15 vectors and 45 over the I
population's 5, per step, about 3 cycles each as a compare, a masked move and an add); with a
stand-in integration step of a few multiplies 10.5 (the midpoint step about 2). Tried, not
kept: the counts accumulated as masked adds into one float (bit-identical, 9% faster in a
micro-benchmark, no gain in the kernel); int32 counts (numba widens their sum to int64: 23%
slower); fewer comparisons per row (K = 2 for the ambient inputs, or for all four, with the
exact second pass run by 16-lane blocks): 9% and 85% slower, the second pass runs on a third
of the steps or more. Measured whole (bench_page.network_runner, 2 threads): 6.3-6.9 ms per run
at B = 256 and 1,024 in a quiet hour, 7.7-7.9 on the benchmark page's run.

A later session on a Zen 4 host (1 numba thread, B = 64, 7 interleaved rounds, core-ms per run):
- FMA contraction on the whole kernel (fastmath {"contract"}, as the neuron engine has; the
  populations' inlined steps and the Poisson counts' multiply-adds fuse, one rounding instead
  of two): 10.80 -> 9.86 (10.8 -> 9.9 with the flag on the steps as well), faster in each of
  the 7 rounds, in a second run 11.59 -> 10.92; kept. A hand-written step in the form
  B - V A (the conductances' sum and drive computed once per stage): 10.76, no more than the
  flag alone.
- not kept: the two inputs' comparison loops fused into one (16 variants for the K pairs;
  bit-identical): 12.41 against 11.53, slower; "nsz" and "arcp" with "contract": 12.24
  against 12.56 (bit-identical, within the noise).
- not kept (a later session, same host, 1 thread, B = 64, 11 interleaved rounds): the spiking
  neurons gathered by 16-lane vectors (an OR over each vector's flags, the scalar scan only
  where one is set; E fires in about a quarter of the steps, I in about two fifths):
  11.67 against 11.64 core-ms per run, bit-identical, no gain (a first 9-round run read 3%).
  The same session's two benchmark pages read 5.30 and 6.11 ms per run at B = 256 for this
  kernel, an hour apart; the floor on them 3.35 and 3.82 ms.
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
