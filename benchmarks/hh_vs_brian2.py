"""N Hodgkin-Huxley neurons with different parameters for T ms: neuroscape against Brian2 (its
default target), in one run, with the ratios.

Brian2 runs exponential Euler at --dt-ms (default 0.025 ms, first order). neuroscape runs (1) its
declared default for HH, what a user gets without choosing (``neuroscape params hh``: dopri5,
the adaptive Dormand-Prince 5(4) scheme of the neuron engine's lane kernel), (2) exponential
Euler at Brian2's dt with tabulated gates and (3) once with exact rates. Same rate functions;
each neuron gets its own g_Na, g_K (uniform +-20%) and a step current, so no neuron is like
another. neuroscape's ``hh`` is its equation file (neuroscape/models/library/hh.yaml): every
kernel, the lane kernel included, is generated from the equations. Both are warm: Brian2's code
generation and compilation happen in a 1-ms run before the timing, neuroscape's kernels are
compiled (or loaded from numba's cache) in a 1-ms run. Times are whole calls (wall clock, with
the CPU time of the process beside them); medians over rounds, the ratio the median of the
per-round ratios. The machine is shared: load from other work slows the 2-thread runs most.

    python benchmarks/hh_vs_brian2.py [--n 10000] [--duration-ms 1000] [--dt-ms 0.025]
        [--repeats 3]

Profile and levers (issue 19, item 3; AMD EPYC Zen 5 with AVX-512, 2 cores shared with other
work, so timings are thread CPU times, medians of 3-7 runs of kernel variants; py-spy is not
installed, and perf cannot name numba's JIT code, so kernel variants were timed instead):

- Before: the default was exponential_staggered_tables at 0.01 ms (2.5 s for 10,000 x 1 s,
  6.1x Brian2), tables at 0.025 ms 1.04 s (14.8x). Its accuracy is second order: 0.07 ms over
  1 s at 0.01 ms; 0.01 ms would need dt 0.004 ms, 6x Brian2's steps. The 0.01-ms bar needs a
  higher order, and the tables then cost more than computing the rates:
- Gate tables: LLVM does not vectorize the table reads (gathers) on this CPU; a lookup of 6
  interpolated values costs 3.8 ns scalar, and AVX-512 gathers written by hand in C are slower
  still (4.0 ns per 16-lane gather). Nearest-point reads on a finer grid: 3.2 ns; float32
  tables: no gain. Rates computed directly with a vectorizable exp (bits of the exponent set by
  a numba intrinsic; numba's own exp is a libm call per element): 1.0-1.1 ns per evaluation of
  HH's derivatives in float32 (16 lanes), 2x that in float64. So the new kernel computes rates.
- One exp for every exponential of the same state expression (exp(a + r) = exp(a) e^r):
  HH's 6 rate exponentials are 4; with the row constants hoisted out of the stages (the
  temperature factor, 1/C): float64 kernel 295 -> 200 ns per neuron-ms.
- Schemes (spike times over 1 s against a converged solution, 10 neurons): RK4 at 0.05 ms
  1.4e-3 ms but 80 derivative evaluations per ms (169-199 ns per neuron-ms in float32 SIMD:
  about 20x Brian2 at most) and unstable above dt 0.06 ms (V's conductance reaches 45/ms) and
  at warm temperatures; Richardson-extrapolated staggered steps (4th order) 9e-4 ms at 0.025 ms
  for 4 table reads per step; exponential Adams-Bashforth (Rush-Larsen of order 4) 0.01 ms at
  0.025 ms; Lawson RK4 0.58 ms at 0.05 ms. Adaptive Dormand-Prince 5(4) reaches 1e-3 ms with
  27-36 evaluations per ms (small steps only in the spikes), so each lane (one neuron) keeps its
  own time and step: 6.1 attempts (36 evaluations) per neuron-ms at the chosen tolerances.
- Lane kernel: 16-17 ns per lane-attempt in float32 (33 in float64), the derivatives about 60%
  of it: their exps about half of the attempt (stubbing them: 18 -> 9.4 ns), their 3 divisions a
  quarter (18 -> 13 ns). Float32: 2x, adds about 1e-3 ms to the spike times' error (tests).
  Kept: each stage split in two loops (the stage's state, then the derivatives): -7% (fewer
  spilled registers); exp's k = round(x/ln2) by adding 1.5*2^23 (no floor, no conversion):
  -2-4%; 1/exprel's series only below |x| < 0.05: -4-6%; Hairer's step control with memory: 2%
  fewer attempts. Did not help: all stages fused in one loop with the derivatives in registers
  (no gain, 2x the compile time); the stages unrolled with the exact tableau terms (no gain);
  two lanes per loop iteration for more independent work (no gain: the loops are throughput-
  bound, not latency-bound); reciprocals by Newton steps instead of divisions (+15% time); a
  degree-6 exp (no gain; without its overflow tests about 5% less, not taken: exp must stay inf
  beyond float32's range); flushing denormals to zero (no gain); 32, 64 or 128 lanes (same); a
  tolerance loosened where the state moves fast (no fewer attempts); relative tolerance 1e-5
  (10% fewer attempts, 6 neurons firing through the run beyond 0.01 ms); caps of 0.4 ms (one
  beyond). numba's prange doubles the compile time (140 s against 17 s): threads run shares of
  the rows through the kernel, which releases the GIL; the row loading and segment entry are
  called, not inlined: a cold compile of hh's kernel 21 s -> 7.5 s (the staggered tables' block
  kernel: 6.3 s).
- Tolerances: steps capped at 0.3 ms, relative tolerance 3e-6. In the slow phase between
  spikes the local error estimate stays small while the next spike's time is most sensitive:
  caps of 1 ms give 0.058 ms errors over 1 s, 0.5 ms 6e-3 ms, 0.3 ms 2.4e-3 ms (float32, 300
  neurons; float64 1.4e-3 ms). On all 10,000 neurons against an independent solution
  (tolerance 1e-12): every neuron firing through the run within 0.007 ms, median 1.5e-4 ms; 3 of
  the 2,557 whose firing stops during the run beyond 0.01 ms (up to 0.05 ms; one dying train a
  spike short), where the times are ill-conditioned. Spike detection is off the hot loop: a
  crossing sets a flag, a scalar pass over the flagged lanes finds its time on the step's
  continuous extension.
- Result (this script, 10,000 x 1 s): with both cores free (load average 1.1-1.2), 5 rounds:
  dopri5 0.54-0.60 s (1.04-1.16 s of CPU on its 2 threads), Brian2 17.1-25.2 s on one core:
  31.3x, 33.2x, 33.5x, 30.6x, 41.9x, median 33.2x (an earlier run of 3 rounds: 32.6x); the
  tables at 0.025 ms 14.5x, exact exponential Euler 1.3x. Spikes: Brian2 465,165, dopri5 471,558
  (the independent solution 471,559), the tables 464,689. While another job kept both cores busy
  (load average 3.1-3.5) the second thread found no free core: 17.9x, 20.1x, 18.1x. neuroscape
  needs about 105 ns of CPU per neuron-ms, Brian2 1.8-2.0 us.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.hh import SPEC
from neuroscape.sim.neuron_engine import simulate_neurons


def brian2_run(g_na, g_k, amps, duration_ms, dt_ms, target=None):
    """Brian2's warm run of the same neurons: (seconds, spikes)."""
    return brian2_timed(g_na, g_k, amps, duration_ms, dt_ms, target)[::2]


def brian2_timed(g_na, g_k, amps, duration_ms, dt_ms, target=None):
    """(wall s, CPU s of the process, spikes) of Brian2's warm run of the neurons; ``target``:
    Brian2's code generation target (None: its default, "auto")."""
    import brian2 as b2

    b2.prefs.codegen.target = target or "auto"
    b2.start_scope()
    b2.defaultclock.dt = dt_ms * b2.ms
    eqs = """
    dv/dt = (I - gNa*m**3*h*(v - ENa) - gK*n**4*(v - EK) - gL*(v - EL))/C : volt
    dm/dt = am*(1 - m) - bm*m : 1
    dh/dt = ah*(1 - h) - bh*h : 1
    dn/dt = an*(1 - n) - bn*n : 1
    am = 0.1/mV*(v + 40*mV)/(1 - exp(-(v + 40*mV)/(10*mV)))/ms : Hz
    bm = 4*exp(-(v + 65*mV)/(18*mV))/ms : Hz
    ah = 0.07*exp(-(v + 65*mV)/(20*mV))/ms : Hz
    bh = 1/(exp(-(v + 35*mV)/(10*mV)) + 1)/ms : Hz
    an = 0.01/mV*(v + 55*mV)/(1 - exp(-(v + 55*mV)/(10*mV)))/ms : Hz
    bn = 0.125*exp(-(v + 65*mV)/(80*mV))/ms : Hz
    gNa : siemens/meter**2 (constant)
    gK : siemens/meter**2 (constant)
    I : amp/meter**2 (constant)
    """
    ns = {
        "ENa": 50 * b2.mV,
        "EK": -77 * b2.mV,
        "EL": -54.3 * b2.mV,
        "gL": 0.3 * b2.msiemens / b2.cm**2,
        "C": 1 * b2.ufarad / b2.cm**2,
    }
    g = b2.NeuronGroup(
        len(g_na),
        eqs,
        method="exponential_euler",
        threshold="v > 0*mV",
        refractory="v > 0*mV",
        namespace=ns,
    )
    g.v = -65 * b2.mV
    g.m, g.h, g.n = 0.0529, 0.5961, 0.3177
    g.gNa = g_na * b2.msiemens / b2.cm**2
    g.gK = g_k * b2.msiemens / b2.cm**2
    g.I = amps * b2.uamp / b2.cm**2
    mon = b2.SpikeMonitor(g)
    net = b2.Network(g, mon)
    net.run(1 * b2.ms)  # code generation and compilation, outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(duration_ms * b2.ms)
    return time.perf_counter() - t0, time.process_time() - c0, mon.num_spikes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--dt-ms", type=float, default=0.025)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    g_na = 120.0 * rng.uniform(0.8, 1.2, args.n)
    g_k = 36.0 * rng.uniform(0.8, 1.2, args.n)
    amps = rng.uniform(0.0, 20.0, args.n)
    p = np.tile(SPEC.params_from_mapping({}), (args.n, 1))
    p[:, 0], p[:, 1] = g_na, g_k
    stim = make_stimulus("step", amp=amps)

    default = SPEC.settings  # what a user gets without choosing
    out = {
        "n_neurons": args.n,
        "duration_ms": args.duration_ms,
        "dt_ms": args.dt_ms,
        "default": {"integrator": default.integrator, "dt_ms": default.dt_ms},
        "repeats": args.repeats,
    }
    runs = {  # name: (integrator, dt_ms); None: the declared default
        "default": (None, None),
        "tables": ("exponential_euler_tables", args.dt_ms),
        "exact": ("exponential_euler", args.dt_ms),
    }
    for scheme, dt in runs.values():  # JIT / cache load
        simulate_neurons(
            "hh", p[:2], make_stimulus("step", amp=amps[:2]), duration_ms=1.0, dt_ms=dt,
            integrator=scheme
        )

    def ours(name):
        scheme, dt = runs[name]
        t0, c0 = time.perf_counter(), time.process_time()
        r = simulate_neurons(
            "hh",
            p,
            stim,
            duration_ms=args.duration_ms,
            dt_ms=dt,
            integrator=scheme,
            record_spikes=False,
        )
        # the whole call, as Brian2's
        return time.perf_counter() - t0, time.process_time() - c0, int(r.total_counts.sum())

    # this machine's speed swings by 2-4x from minute to minute: alternate the two simulators
    # and report the median of the per-round ratios, each from timings seconds apart
    rounds = []
    for k in range(args.repeats):
        t_b2, c_b2, n_b2 = brian2_timed(g_na, g_k, amps, args.duration_ms, args.dt_ms)
        t_def, c_def, n_def = ours("default")
        t_tab, c_tab, n_tab = ours("tables")
        row = {
            "brian2_s": t_b2,
            "default_s": t_def,
            "tables_s": t_tab,
            "brian2_cpu_s": c_b2,
            "default_cpu_s": c_def,
            "tables_cpu_s": c_tab,
            "ratio_default": t_b2 / t_def,
            "ratio_tables": t_b2 / t_tab,
        }
        if k == 0:  # the exact scheme once: it is the slow one
            t_ex, _, n_ex = ours("exact")
            row.update(exact_s=t_ex, ratio_exact=t_b2 / t_ex)
            out["spikes"] = {"brian2": int(n_b2), "default": n_def, "tables": n_tab, "exact": n_ex}
        rounds.append(row)
        print(json.dumps(row), flush=True)
    out["rounds"] = rounds
    for key in ("brian2", "default", "tables"):
        out[f"median_{key}_s"] = float(np.median([r[f"{key}_s"] for r in rounds]))
        out[f"median_{key}_cpu_s"] = float(np.median([r[f"{key}_cpu_s"] for r in rounds]))
    # ratios: Brian2's time over ours (above 1: ours is faster)
    out["median_ratio_default_vs_brian2"] = float(np.median([r["ratio_default"] for r in rounds]))
    out["median_ratio_tables_vs_brian2"] = float(np.median([r["ratio_tables"] for r in rounds]))
    out["ratio_exact_vs_brian2"] = rounds[0]["ratio_exact"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
