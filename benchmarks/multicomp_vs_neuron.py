"""Multi-compartment cells: neuroscape's cable engine (rows batched in one call) against NEURON
simulating the same cells one after another, in the same run, with the ratio (issue 22, item 6).

    python benchmarks/multicomp_vs_neuron.py [--n 1000] [--neuron-n N] [--swc-n 200]
        [--swc-neuron-n N] [--duration-ms 1000] [--dt-ms 0.025] [--rounds 3] [--quick]
        [--profile] [--json FILE]

Two cases, each under a step current into soma(0.5) from 5 ms to the end, 1 s per cell, with
the defaults a user gets (Crank-Nicolson, dt 0.025 ms; NEURON: secondorder 2, the same dt,
exact hh rates, usetable_hh = 0):

- ``ball_stick``: the issue's cell (examples/cells/ball_stick.yaml: an hh soma, a passive
  dendrite of 41 segments; 45 nodes with NEURON's zero-area ends), 1,000 cells that differ in
  soma.hh.gnabar, soma.hh.gkbar, dend.pas.g, dend.L, dend.diam and the step's amplitude (a
  scrambled Sobol sample, seed 0, in the boxes of BALL_STICK_BOX: about 90% fire repetitively);
- ``branched_swc``: tests/data/cells/branched_swc.yaml (26 sections from SWC, 215 nodes, hh in
  the soma and the axon: 42 hh segments), 200 cells over the parameters the file declares
  (soma.hh.gnabar, axon.hh.gnabar, dend.pas.g) and the amplitude.

neuroscape: ``run_cell`` with all the rows in one call, on all threads and on one thread (the
per-thread figure), V kept at the soma every 1 ms (``record_every``), spike times at every step.
NEURON: ``neuroscape.reference.neuron_cell.neuron_run_rows``: one built cell, per row the new
values put on its sections (``update``) and NEURON's own fixed-step loop (``psolve``), V at the
soma recorded at every step for its spike times. ``--neuron-n`` times NEURON on the first N
cells only and scales its time per cell to all of them (said in the output). Both are warm
(the kernel compiled or loaded from numba's cache, NEURON's hoc files loaded, in short runs
before the timing). Each round times the three in turn, rotating which goes first; reported
are medians over rounds of wall time, of the process's CPU time, and of the per-round ratios
(NEURON's time per cell over ours: above 1, ours is faster). Agreement, in the same run: every
cell NEURON ran (first round) against the same row of ours: spike counts equal and spike times
within 0.1 ms (the issue's bar), and V at the soma at the 1-ms samples.

Measured (AMD EPYC Zen 5, 2 cores shared with another helper's jobs, so "all threads" is 2
threads that do not always find 2 free cores; numba 0.68.1, NEURON 9.0.2):

    python benchmarks/multicomp_vs_neuron.py --json out/multicomp_vs_neuron.json

Result (one run of this script with --profile, numba 2 threads; the other helper's test
workers kept the load average at 2-5 on the 2 cores throughout, so ours "on all threads" got
0.7-1.0 cores: CPU 16.0 s against 22.5 s of wall for the ball-and-stick. The 2-thread figure
here is a 1-core figure; on free cores the rows split across threads with no shared work):

- ball_stick, 1,000 cells x 1 s (40,000 steps each; 80,611 spikes), NEURON on all 1,000 (not
  scaled): ours 14.9 / 24.2 / 22.5 s per round on 2 threads, 15.0 / 23.0 / 25.4 s on 1; NEURON
  179 / 218 / 233 s. Medians: ours 44.5 runs/s (2 threads), 43.5 runs/s (1 thread); NEURON
  4.58 runs/s; ratio 10.4x (rounds 12.0x, 9.0x, 10.4x), per thread 9.5x. The quietest round
  (load 2.0): 12.0x. About 0.37 us of one core per cell and step for ours, 4.5 us for NEURON.
- branched_swc, 200 cells x 1 s (15,474 spikes): ours 98 / 67 / 84 s on 2 threads, 84 / 64 /
  74 s on 1; NEURON 203 / 232 / 208 s. Medians: ours 2.37 runs/s (2 threads), 2.71 runs/s (1
  thread); NEURON 0.96 runs/s; ratio 2.5x, per thread 2.8x.
- Agreement (every cell NEURON ran, first round): spike counts equal in 1000/1000 and 200/200;
  max |spike time difference| 5.4e-11 ms and 7.8e-12 ms (bar 0.1 ms); max |V difference| at
  the 1-ms samples 5.3e-9 mV and 8.3e-10 mV. Ours bitwise the same on 1 and 2 threads.

Profile (``--profile``: cProfile around each call, and the ball-and-stick's cost split by
mechanism from variants of the same cell; py-spy is not installed):

- cProfile: the kernel (numba, one call) is all of ours: 1.50 s of 1.53 s for 64 cells; the
  rest is generating and compiling nothing new (the kernel's source is regenerated and found in
  the cache: 10-20 ms of ast work), discretize 5 ms. NEURON's time is all in ``psolve``: per
  row ``update`` (putting the values on the sections) costs 0.3 ms of 290 ms.
- Split by mechanism (ns of one core per cell and step, ball-and-stick topology, 45 nodes;
  two runs under load 2-4, so +-40%): passive everywhere ours 390, NEURON 4,700 (8.7 against
  105 ns per node: the Hines solve, pas and bookkeeping; 12x); hh on all 42 segments ours
  6,100-10,700, NEURON 14,000: hh adds 136-244 ns per segment and step to ours, 220 to NEURON
  (0.9-1.6x). So the ratio is about 10-12x on cells that are mostly passive (the
  ball-and-stick: one hh segment, 10-40% of ours' time in the two runs) and falls towards
  1-1.6x as hh segments dominate: the branched cell's 42 hh segments of 215 nodes are 75-85% of
  ours' time (2.5x).
- Why hh costs ours this much: each hh segment and lane does, every step, 9 exponentials (4 in the
  rates, 2 in vtrap, 3 in cnexp's 1 - exp(-dt/tau)) and about 20 divisions (those by constants too:
  no fast-math). numba's math.exp is a libm call per element (no SVML in this install: ``numba
  -s``), about 10 ns each here (timed in a numba loop), and the calls (and vtrap's branch) keep the
  8-lane loop from vectorizing, so the state update runs scalar. NEURON's hh with usetable_hh = 0
  does the same exponentials, so per hh segment the two are close; the batch wins on the Hines
  solve and the passive nodes, whose 8-lane loops have no calls (free to vectorize) and touch no
  per-node object.
- Levers (not taken here: the engine is another file): a vectorizable exp (the exponent's bits set
  directly, as the point-neuron lane kernel does, benchmarks/hh_vs_brian2.py: 2 ns per HH derivative
  evaluation in float64) and vtrap's branch as a select would let the gate update vectorize;
  exp(-dt/tau) written as exp(-dt q10 (alpha + beta)) saves two divisions per gate, and multiplying
  by 1/18 etc. instead of dividing saves more. Results would then differ from NEURON's at rounding
  level (1e-16 relative per exp), far inside the bars.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import time
import warnings
from pathlib import Path

import numpy as np

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import load_cell
from neuroscape.models.multicomp.geometry import discretize
from neuroscape.reference.neuron_cell import neuron_run_rows
from neuroscape.sim.cable_engine import run_cell

REPO = Path(__file__).resolve().parents[1]
BALL_STICK = REPO / "examples" / "cells" / "ball_stick.yaml"
BRANCHED = REPO / "tests" / "data" / "cells" / "branched_swc.yaml"
# (low, high) per address. gnabar from 0.10 (not the 0.06): below it, with a dendrite
# of up to 800 x 2.5 um as a load, most cells fire once and stop; the other boxes keep hh's
# and pas's usual values inside
BALL_STICK_BOX = {
    "soma.hh.gnabar": (0.10, 0.20),  # S/cm2
    "soma.hh.gkbar": (0.025, 0.045),  # S/cm2
    "dend.pas.g": (5e-5, 5e-4),  # S/cm2
    "dend.L": (200.0, 800.0),  # um (the bounds)
    "dend.diam": (0.5, 2.5),  # um
}
BALL_STICK_AMP = (0.1, 0.6)  # nA
BRANCHED_AMP = (0.2, 1.0)  # nA; the addresses: the ones the cell file declares
T_ON_MS = 5.0  # the step's onset; it stays on to the end
SPIKE_TOL_MS = 0.1  # the bar on spike times against NEURON
REC_MS = 1.0  # ours keeps V at the soma every REC_MS (the spikes are found at every step)


def sample(box: dict[str, tuple[float, float]], amp: tuple[float, float], n: int, seed: int = 0):
    """``n`` cells: (values address -> (n,) array, amplitudes (n,) nA) from a scrambled Sobol
    sample of the boxes (the first n points of the next power of 2)."""
    from scipy.stats import qmc

    dims = [*box.values(), amp]
    m = max(int(np.ceil(np.log2(max(n, 2)))), 1)
    u = qmc.Sobol(len(dims), scramble=True, seed=seed).random_base2(m)[:n]
    lo, hi = np.array(dims).T
    x = lo + (hi - lo) * u
    return {a: x[:, j].copy() for j, a in enumerate(box)}, x[:, -1].copy()


def _rows(values: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    return {a: v[:k] for a, v in values.items()}


def _every(duration_ms: float, dt_ms: float) -> int:
    """Steps between kept V samples: about REC_MS, dividing the run's steps."""
    every = max(round(REC_MS / dt_ms), 1)
    while round(duration_ms / dt_ms) % every:
        every -= 1
    return every


def _ours(cell, values, amps, duration_ms, dt_ms, workers):
    stim = make_stimulus("step", amp=amps, t_on=T_ON_MS)
    every = _every(duration_ms, dt_ms)
    return run_cell(
        cell,
        values,
        stimulus=stim,
        dt_ms=dt_ms,
        duration_ms=duration_ms,
        workers=workers,
        record_every=every,
    )


def _neuron(cell, values, amps, duration_ms, dt_ms, every, chunk: int = 25):
    """NEURON's runs of the rows, one after another: (spike times per row, V at the soma every
    ``every`` steps (rows, samples)). In chunks of ``chunk`` rows (one built cell per chunk), so
    that only ``chunk`` full-resolution traces are held at a time."""
    spikes, v = [], []
    n = len(amps)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        runs = neuron_run_rows(
            cell,
            {k: x[a:b] for k, x in values.items()},
            amp_nA=amps[a:b],
            delay_ms=T_ON_MS,
            dur_ms=1e9,
            tstop_ms=duration_ms,
            dt_ms=dt_ms,
            secondorder=2,
        )
        for r in runs:
            spikes.append(r.spikes)
            v.append(r.v[0, ::every].copy())
    return spikes, np.array(v)


def _timed(fn):
    """(result, wall s, CPU s of every thread of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def agreement(ours, neuron_spikes, neuron_v) -> dict:
    """Every row NEURON ran against the same row of ours: spike counts, spike times, V."""
    k = len(neuron_spikes)
    counts_equal, worst_dt, n_spikes = 0, 0.0, 0
    for r in range(k):
        a, b = np.asarray(ours.spikes[r]), np.asarray(neuron_spikes[r])
        if len(a) == len(b):
            counts_equal += 1
            if len(a):
                worst_dt = max(worst_dt, float(np.abs(a - b).max()))
        n_spikes += len(b)
    dv = float(np.abs(ours.v[:k, 0, :] - neuron_v).max())
    return {
        "cells": k,
        "neuron_spikes": n_spikes,
        "counts_equal": counts_equal,
        "max_spike_time_diff_ms": worst_dt,
        "max_v_diff_mV": dv,
        "pass": counts_equal == k and worst_dt < SPIKE_TOL_MS,
    }


def compare(
    cell_path: Path,
    box: dict[str, tuple[float, float]] | None,
    amp: tuple[float, float],
    n: int,
    neuron_n: int,
    *,
    rounds: int = 3,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.025,
    log=print,
) -> dict:
    """Time ``n`` cells of ``cell_path`` (``box``: address -> (low, high); None: the cell's
    declared parameters) in neuroscape (all threads, one thread) and the first ``neuron_n`` in
    NEURON, ``rounds`` times; check agreement on NEURON's cells. Times in s, rates in runs/s."""
    import numba

    cell = load_cell(cell_path)
    box = dict(cell.parameters) if box is None else box
    values, amps = sample(box, amp, n)
    neuron_n = min(neuron_n or n, n)
    threads = numba.config.NUMBA_NUM_THREADS
    # warm: the kernel compiled (or loaded from numba's cache), NEURON's hoc files loaded
    _ours(cell, _rows(values, 2), amps[:2], 10.0, dt_ms, None)
    _neuron(cell, _rows(values, 1), amps[:1], 10.0, dt_ms, 1)
    every = _every(duration_ms, dt_ms)

    jobs = {
        "ours": lambda: _ours(cell, values, amps, duration_ms, dt_ms, None),
        "ours_1": lambda: _ours(cell, values, amps, duration_ms, dt_ms, 1),
        "neuron": lambda: _neuron(
            cell, _rows(values, neuron_n), amps[:neuron_n], duration_ms, dt_ms, every
        ),
    }
    names = list(jobs)
    out_rounds, agree, spikes_ours = [], None, None
    for k in range(rounds):
        row = {"load_avg_1min": os.getloadavg()[0]}
        order = names[k % 3 :] + names[: k % 3]
        res = {}
        for name in order:
            res[name], row[f"{name}_s"], row[f"{name}_cpu_s"] = _timed(jobs[name])
        # NEURON's time per cell, scaled to the n cells
        row["neuron_all_s"] = row["neuron_s"] * n / neuron_n
        row["ratio"] = row["neuron_all_s"] / row["ours_s"]
        row["ratio_1_thread"] = row["neuron_all_s"] / row["ours_1_s"]
        if agree is None:
            agree = agreement(res["ours"], *res["neuron"])
            spikes_ours = int(sum(len(s) for s in res["ours"].spikes))
            bitwise = all(
                np.array_equal(a, b)
                for a, b in zip(res["ours"].spikes, res["ours_1"].spikes, strict=True)
            ) and np.array_equal(res["ours"].v, res["ours_1"].v)
        out_rounds.append(row)
        log(
            f"{cell.name} round {k + 1} (load {row['load_avg_1min']:.2f}): ours {n} cells "
            f"{row['ours_s']:.2f} s (CPU {row['ours_cpu_s']:.2f} s), on 1 thread "
            f"{row['ours_1_s']:.2f} s; NEURON {neuron_n} cells {row['neuron_s']:.2f} s "
            f"(x{n / neuron_n:g}: {row['neuron_all_s']:.1f} s); ratio {row['ratio']:.1f}x, "
            f"1 thread {row['ratio_1_thread']:.1f}x"
        )
        del res

    def med(key):
        return float(np.median([r[key] for r in out_rounds]))

    o = {
        "cell": cell.name,
        "file": str(cell_path.relative_to(REPO)),
        "n": n,
        "neuron_n": neuron_n,
        "neuron_scaled": neuron_n < n,
        "duration_ms": duration_ms,
        "dt_ms": dt_ms,
        "integrator": "crank_nicolson (NEURON secondorder 2)",
        "box": {a: list(b) for a, b in box.items()},
        "amp_nA": list(amp),
        "threads": threads,
        "rounds": out_rounds,
        "ours_s": med("ours_s"),
        "ours_cpu_s": med("ours_cpu_s"),
        "ours_1_thread_s": med("ours_1_s"),
        "neuron_s": med("neuron_s"),
        "neuron_all_s": med("neuron_all_s"),
        "ratio": med("ratio"),
        "ratio_1_thread": med("ratio_1_thread"),
        "spikes_ours": spikes_ours,
        "bitwise_1_vs_all_threads": bool(bitwise),
        "agreement": agree,
    }
    o["ours_runs_per_s"] = n / o["ours_s"]
    o["ours_runs_per_s_1_thread"] = n / o["ours_1_thread_s"]
    o["neuron_runs_per_s"] = neuron_n / o["neuron_s"]
    return o


def _top(prof: cProfile.Profile, k: int = 6) -> str:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(k)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    return "\n".join(lines[start : start + k + 1])


def profile(duration_ms: float, dt_ms: float, n: int = 64, log=print) -> dict:
    """Where the time goes: cProfile around one call each (ours on one thread, NEURON on a few
    rows), and the ball-and-stick's cost per node and step split by mechanism, from variants of
    the same cell: as it is, passive everywhere (no hh), hh on every node (1 thread)."""
    cell = load_cell(BALL_STICK)
    values, amps = sample(BALL_STICK_BOX, BALL_STICK_AMP, n)
    _ours(cell, _rows(values, 2), amps[:2], 10.0, dt_ms, 1)
    out = {}
    prof = cProfile.Profile()
    prof.enable()
    _ours(cell, values, amps, duration_ms, dt_ms, 1)
    prof.disable()
    out["ours_cprofile"] = _top(prof)
    log(f"cProfile, ours, {n} ball-and-stick cells on 1 thread:\n{out['ours_cprofile']}")
    every = _every(duration_ms, dt_ms)
    _neuron(cell, _rows(values, 1), amps[:1], 10.0, dt_ms, 1)
    prof = cProfile.Profile()
    prof.enable()
    _neuron(cell, _rows(values, 4), amps[:4], duration_ms, dt_ms, every)
    prof.disable()
    out["neuron_cprofile"] = _top(prof)
    log(f"cProfile, NEURON, 4 ball-and-stick cells:\n{out['neuron_cprofile']}")

    import yaml

    base = yaml.safe_load(BALL_STICK.read_text())
    hh = base["mechanisms"]["soma"]["hh"]
    variants = {
        "as_is": base,
        "passive": {
            **base,
            "mechanisms": {
                "soma": {"pas": {"g": 3e-4, "e": -65.0}},
                "dend": base["mechanisms"]["dend"],
            },
        },
        "hh_everywhere": {**base, "mechanisms": {"soma": {"hh": hh}, "dend": {"hh": hh}}},
    }
    geo = {a: v for a, v in values.items() if a in ("dend.L", "dend.diam")}
    n_steps = round(duration_ms / dt_ms)
    n_nrn = 4
    costs, costs_nrn = {}, {}
    for name, desc in variants.items():
        c = load_cell({**desc, "parameters": {}})
        _ours(c, _rows(geo, 2), amps[:2], 10.0, dt_ms, 1)
        ts = [_timed(lambda c=c: _ours(c, geo, amps, duration_ms, dt_ms, 1))[1] for _ in range(3)]
        costs[name] = float(np.median(ts)) / (n * n_steps) * 1e9  # ns per cell-step
        t = _timed(
            lambda c=c: _neuron(c, _rows(geo, n_nrn), amps[:n_nrn], duration_ms, dt_ms, every)
        )[1]
        costs_nrn[name] = t / (n_nrn * n_steps) * 1e9
    disc = discretize(cell)
    nodes, hh_segments = len(disc.parent), int(sum(disc.nseg))  # hh_everywhere: every segment
    for who, c in (("ours", costs), ("neuron", costs_nrn)):
        out[who] = {
            "ns_per_cell_step": c,
            "ns_per_node_step_passive": c["passive"] / nodes,
            "ns_per_hh_segment_step": (c["hh_everywhere"] - c["passive"]) / hh_segments,
        }
        log(
            f"{who}{' (1 thread)' if who == 'ours' else f' ({n_nrn} cells)'}, ns per cell and "
            f"step: " + ", ".join(f"{k} {v:.0f}" for k, v in c.items()) + f"; passive "
            f"{out[who]['ns_per_node_step_passive']:.1f} ns per node and step ({nodes} nodes), "
            f"hh adds {out[who]['ns_per_hh_segment_step']:.1f} ns per hh segment and step"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="ball-and-stick cells (0: skip)")
    ap.add_argument(
        "--neuron-n",
        type=int,
        default=None,
        help="time NEURON on the first N ball-and-stick cells and scale (default: all)",
    )
    ap.add_argument("--swc-n", type=int, default=200, help="branched SWC cells (0: skip)")
    ap.add_argument(
        "--swc-neuron-n",
        type=int,
        default=None,
        help="time NEURON on the first N SWC cells and scale (default: all)",
    )
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--dt-ms", type=float, default=0.025)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 16 + 8 cells, 100 ms, NEURON on 4 + 2, one round",
    )
    ap.add_argument("--profile", action="store_true", help="also profile (see the docstring)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    if args.quick:
        args.n, args.swc_n = min(args.n, 16), min(args.swc_n, 8)
        args.neuron_n, args.swc_neuron_n = 4, 2
        args.duration_ms, args.rounds = 100.0, 1
    for name in ("n", "swc_n", "rounds"):
        if getattr(args, name) < 0 or (name == "rounds" and args.rounds < 1):
            ap.error(
                f"--{name.replace('_', '-')}={getattr(args, name)}; allowed: >= "
                f"{1 if name == 'rounds' else 0}"
            )
    for name in ("neuron_n", "swc_neuron_n"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}={getattr(args, name)}; allowed: >= 1")
    import numba

    t0 = time.perf_counter()
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
    }
    try:
        import neuron

        out["neuron"] = neuron.__version__
    except ImportError:
        ap.error("NEURON is not installed; allowed: run with neuron installed (pip install neuron)")
    out["numba"] = numba.__version__
    cases = []
    if args.n:
        cases.append(
            (
                "ball_stick",
                BALL_STICK,
                BALL_STICK_BOX,
                BALL_STICK_AMP,
                args.n,
                args.neuron_n or args.n,
            )
        )
    if args.swc_n:
        cases.append(
            (
                "branched_swc",
                BRANCHED,
                None,
                BRANCHED_AMP,
                args.swc_n,
                args.swc_neuron_n or args.swc_n,
            )
        )
    with warnings.catch_warnings():  # Sobol's balance warning does not apply: first n of 2^m
        warnings.simplefilter("ignore", UserWarning)
        for name, path, box, amp, n, nn in cases:
            out[name] = compare(
                path,
                box,
                amp,
                n,
                nn,
                rounds=args.rounds,
                duration_ms=args.duration_ms,
                dt_ms=args.dt_ms,
            )
        if args.profile:
            out["profile"] = profile(args.duration_ms, args.dt_ms)
    for name, *_ in cases:
        r = out[name]
        a = r["agreement"]
        scaled = (
            f" (timed on the first {r['neuron_n']} cells, scaled to {r['n']})"
            if r["neuron_scaled"]
            else ""
        )
        print(
            f"{name}: {r['n']} cells x {r['duration_ms']:g} ms, CN dt {r['dt_ms']} ms, medians of "
            f"{args.rounds}: ours {r['ours_runs_per_s']:.1f} runs/s on {r['threads']} threads "
            f"({r['ours_s']:.2f} s), {r['ours_runs_per_s_1_thread']:.1f} runs/s on 1 thread; "
            f"NEURON {r['neuron_runs_per_s']:.2f} runs/s{scaled}; ratio {r['ratio']:.1f}x "
            f"({r['ratio_1_thread']:.1f}x per thread); ours bitwise the same on 1 and "
            f"{r['threads']} threads: {r['bitwise_1_vs_all_threads']}"
        )
        print(
            f"  agreement on the {a['cells']} cells NEURON ran ({a['neuron_spikes']} spikes): "
            f"spike counts equal in {a['counts_equal']}/{a['cells']}, max |spike time "
            f"difference| {a['max_spike_time_diff_ms']:.2e} ms (bar {SPIKE_TOL_MS} ms), max |V "
            f"difference| at 1-ms samples {a['max_v_diff_mV']:.2e} mV: "
            f"{'PASS' if a['pass'] else 'FAIL'}"
        )
    out["total_s"] = time.perf_counter() - t0
    print(f"total {out['total_s']:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
