"""Sweep overhead: ``run_sweep`` (crash-safe, into SQLite, progress bar on) against the bare
engine (``run_batch``) on the same points with the same seed, in one run.

    python benchmarks/sweep_throughput.py [--lif-n 100000] [--circuit-n 2048] [--rounds 3]
                                          [--chunk N] [--json FILE]

Two cases: ``lif`` (Lapicque's leaky integrate-and-fire neuron, 1 s at 0.1 ms under a 2-nA step,
0.1-0.25 ms of engine time per run on 2 cores: the per-run cost of the database, the
scheduling and the progress bar shows there) and the cortical circuit of Zhang, Young & Lai
(2020) (3 s per run, its declared settings: the 20,000-run training set is projected from the
timed sweep). Each round times the engine and the sweep one after the other, alternating which
goes first; both build their batch from the model's name (the sweep does, so the engine does
too: on a fresh batch the kernel is loaded from numba's cache in both). Reported: medians over
the rounds of wall time, of CPU time (every thread of this process) and of the per-round ratios
sweep / engine; and the sweep's own work (its wall time less the time inside its engine calls,
``SweepReport.simulation_s``) over that engine time, which a busy machine cannot skew: both are
timed in the same seconds. The sweep's database is checked to hold exactly the engine's
outputs, row by row (NaN where a run failed).

Profile (cProfile, 16,384 LIF runs on a 2-core machine shared with other jobs; py-spy was not
installed), before the sweep was reworked:
- per 64-row chunk the sweep made one engine call, one transaction and one progress refresh;
  storing cost 15-24 us per row (per-element ``float()`` and ``np.isfinite`` on NumPy scalars
  in ``ModelStore.write_chunk``), 10-15% of a 1-s LIF run.
- now: ``write_chunk`` builds its rows column-wise (``tolist`` and one ``zip``: 1.7 us per row)
  and SQLite's insert into the indexed ``runs`` table costs 3-6 us per row (``executemany`` in
  one transaction per chunk, WAL, synchronous=NORMAL; the unique (sweep, row) index that makes a
  point impossible to store twice costs about 1.2 us of it); a local sweep sizes its chunks to
  about 1 s of work (``neuroscape.explore.sweep.next_chunk``), so commits, engine calls and
  progress refreshes come a few times a second whatever a run costs; and a writer thread stores
  each chunk while the next one is simulated (numba's parallel kernels run without the GIL:
  checked, a Python thread kept counting during one).
- with the first two changes the sweep's own work was 3.3-3.6% of its engine time at 100,000
  LIF runs (storing 0.3-1.6 s against 6-56 s in the engine, 4.4% in the quietest round) and
  0.2-0.7% at 2,048 circuit runs; with the writer thread 0.3% at 100,000 LIF runs (storing
  0.8-1.1 s, overlapped).
- not helpful: a larger SQLite page cache (2.93 against 3.08 us per row, within noise).

Measured with this script on that machine (busy: wall times of one pass varied 2-4x between
rounds, so the "own work" figure is the one to read), outputs identical in every case. CPU time
of the sweep's own work before the writer thread, 30,000 LIF runs: storing 0.19-0.21 s and the
rest 0.03-0.06 s against 6.9-8.2 s in the engine.

Where the engine itself loses (not the sweep's work): ``run_batch``'s default CPU chunk of 64
rows makes 16,384 LIF runs take 3.96 s against 1.85 s in chunks of 1,024 rows (identical outputs;
the kernel alone 2.5x slower per row when launched on 64 rows). A sweep leaves the engine its
default chunks, so that both sides of this comparison run the same engine calls.

On a 2-core AMD EPYC Zen 4 (LIF 8,300 engine runs/s, 1.8x the older host's), the behaviour
classes were the engine's largest Python cost: ``classify_spikes`` per row, about 60 us of
NumPy calls in the main thread under the GIL, against which the writer thread's inserts
contended (overhead +11.8% wall on the benchmark page). Now one compiled pass per chunk
(``classify_spike_trains``): the engine 15.5 -> 13.5 s per 100,000 runs, and the overhead
+3.2% to +8.9% wall over 6 runs of this script (3-6 rounds each; medians +6.5%, +3.2%,
+8.9%, +3.7%, and +3.3%, +4.9% with the writer thread at nice 10, which did not help and was not
kept), the sweep's own work 0.4%. What is left is SQLite's insert, about 4 us of CPU per row (16
columns, the unique (sweep, row) index about 1 us of it; a WITHOUT ROWID table keyed by
(sweep, row) 3.7 against 4.2 us, not worth a schema change), i.e. 3-4% of a 1-s LIF run's
100-130 us: the 5% bar holds only where the writer finds a free core.

Later, on a faster minute of the same host (LIF 9,500-11,700 engine runs/s), the per-round ratio
varied more than the overhead itself: 3 rounds of the benchmark page gave +17.6% (1.176, 1.241,
1.064), this script's 5 rounds right after it -4.5% (0.94-1.12), and a sweep whose writer stored
nothing at all (``write_chunk`` replaced by a no-op after the first chunk; 30,000 runs, 5 rounds)
+5.6% and +11.0% in two runs against +2.2% and +3.1% for the real sweep in the runs between them.
The same 30,000 runs of the bare engine, whole or in the sweep's slices of 8,192 or 10,240 rows,
took 2.6-3.6 s from one round to the next (medians 3.28, 2.99, 3.02 s). So the benchmark page
takes the median of 7 rounds (``sweep_rounds``); the sweep's own work (0.3-0.4% of its engine
time) is the figure that the host's noise does not move.

With more rounds the overhead is not only noise. 15 rounds of this script (100,000 LIF runs)
gave +6.1% wall and +5.5% CPU (per-round ratios 0.90-1.19, 11 of 15 above 1), and two pages of
7 rounds +5.6% and -0.0%; so the LIF case now takes 15 rounds (``sweep_lif_rounds``). Where it
comes from, measured by parts (50,000 LIF runs in the sweep's 4,096-row engine calls, 9
interleaved rounds, medians): storing each chunk after simulating it +3.9% wall (+1.6% CPU),
on the writer thread +3.0% (+3.1% CPU), against the same engine calls storing nothing. The
engine calls themselves cost what one call on every row costs (ratio 1.004, with or without
row indices), and an engine launch about 0.4 ms. ``write_chunk`` alone takes 3.1 us of CPU per
row (0.5 us building the rows, 2.7 us in ``executemany``); with the per-chunk constants as SQL
literals 2.8 us; without the unique (sweep, row) index 2.3-2.9 us; an in-memory table without
it 2.2 us (the sqlite3 module's binding and SQLite's insert, the floor of this path); the whole
chunk as one JSON text read by ``json_each`` 14 us (slower). Against a 1-s LIF run of 60-80 us
on 2 cores that is 3-5%: the bar's margin on the cheapest model is SQLite's insert, and it
grows with the engine's speed (single-neuron batches in 1,024-row chunks, as ``run_batch``
meant them to run, made the LIF engine 20% faster: 81 -> 64 us per run).

Then ``write_chunk`` bound many rows per INSERT statement (as many as SQLite's variable limit
allows, 2,047 rows of 16 columns) instead of ``executemany``'s one statement step per row:
2.44 against 3.08 us of CPU per row (100,000 LIF rows in 4,096-row chunks, 5 interleaved rounds,
random data included), the same transaction per chunk. This script, 15 rounds right after:
+4.6% wall, +3.3% CPU (per-round ratios 0.93-1.22, median 1.046), the writer storing 0.37-0.51 s
per 100,000 runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from neuroscape.core.settings import SimSettings
from neuroscape.core.stimuli import make_stimulus
from neuroscape.explore import ParameterSpace, run_sweep
from neuroscape.models import resolve
from neuroscape.sim.engine import batch_for, run_batch

TRAINING_SET_RUNS = 20_000  # the training set of Zhang, Young & Lai (2020)


def _timed(fn):
    """(result, wall seconds, CPU seconds of every thread of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def _stored_outputs(db: Path, names: list[str]) -> np.ndarray:
    con = sqlite3.connect(db)
    try:
        cols = ", ".join(f'"{n}"' for n in names)
        rows = con.execute(f"SELECT {cols} FROM runs ORDER BY row_index").fetchall()
    finally:
        con.close()
    return np.array(rows, dtype=float).reshape(len(rows), len(names))  # NULL -> NaN


def sweep_vs_engine(
    model: str,
    n: int,
    *,
    rounds: int = 3,
    settings: SimSettings | None = None,
    stimulus=None,
    chunk: int | None = None,
    show_progress: bool = False,
    log=print,
) -> dict:
    """Time ``run_sweep`` against ``run_batch`` on the same ``n`` Sobol points of ``model``
    (seed 0), ``rounds`` times; see the module docstring. Times in s, rates in runs/s."""
    m = resolve(model)
    spec = m.spec
    settings = settings or SimSettings.for_model(spec)
    opts = {"stimulus": stimulus} if stimulus is not None else {}
    with warnings.catch_warnings():  # Sobol's balance warning for n not a power of 2
        warnings.simplefilter("ignore", UserWarning)
        points = ParameterSpace(spec).sample(n, "sobol", 0)
    # compile (or load) the kernel for these settings once, outside every timing
    run_batch(batch_for(m, **opts), points[:2], settings=settings)

    def engine():
        return run_batch(batch_for(m, **opts), points, settings=settings, seed=0)

    def sweep(db):
        # the progress bar is drawn (its cost counts) but into /dev/null unless asked for
        sink = contextlib.nullcontext()
        if not show_progress:
            sink = contextlib.redirect_stderr(open(os.devnull, "w"))  # noqa: SIM115
        with sink as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                return run_sweep(
                    m, n, db, settings=settings, seed=0, chunk=chunk, progress=True, **opts
                )
            finally:
                if fh is not None:
                    fh.close()

    out_rounds = []
    identical = None
    with tempfile.TemporaryDirectory() as d:
        for k in range(rounds):
            db = Path(d) / f"sweep{k}.db"
            order = ("engine", "sweep") if k % 2 == 0 else ("sweep", "engine")
            row = {}
            for what in order:
                if what == "engine":
                    res, row["engine_s"], row["engine_cpu_s"] = _timed(engine)
                else:
                    rep, row["sweep_s"], row["sweep_cpu_s"] = _timed(lambda db=db: sweep(db))
            if rep.n_run != n:
                raise RuntimeError(f"the sweep ran {rep.n_run} of {n} points")
            if identical is None:  # same points, same seed: the same numbers, row by row
                stored = _stored_outputs(db, spec.output_names)
                identical = bool(np.array_equal(stored, res.outputs, equal_nan=True))
            row["ratio"] = row["sweep_s"] / row["engine_s"]
            row["cpu_ratio"] = row["sweep_cpu_s"] / row["engine_cpu_s"]
            # the sweep's own work against its own engine calls, timed within the same seconds:
            # a busy minute of a shared machine slows both alike
            row["in_engine_s"], row["storage_s"] = rep.simulation_s, rep.storage_s
            row["own_ratio"] = (row["sweep_s"] - rep.simulation_s) / rep.simulation_s
            out_rounds.append(row)
            log(
                f"{model} n={n} round {k + 1}: engine {row['engine_s']:.2f} s "
                f"(CPU {row['engine_cpu_s']:.2f} s), sweep {row['sweep_s']:.2f} s "
                f"(CPU {row['sweep_cpu_s']:.2f} s; in the engine {rep.simulation_s:.2f} s, "
                f"storing {rep.storage_s:.2f} s), sweep/engine {row['ratio']:.3f}"
            )
            db.unlink()

    def med(key):
        return float(np.median([r[key] for r in out_rounds]))

    out = {
        "model": model,
        "n": n,
        "duration_ms": settings.duration_ms,
        "dt_ms": settings.dt_ms,
        "stimulus": None if stimulus is None else stimulus.describe(),
        "chunk": chunk,
        "rounds": out_rounds,
        "engine_s": med("engine_s"),
        "sweep_s": med("sweep_s"),
        "engine_runs_per_s": n / med("engine_s"),
        "sweep_runs_per_s": n / med("sweep_s"),
        "overhead": med("ratio") - 1.0,
        "cpu_overhead": med("cpu_ratio") - 1.0,
        "own_overhead": med("own_ratio"),
        "storage_s": med("storage_s"),
        "identical_outputs": identical,
    }
    out["projected_training_set_min"] = TRAINING_SET_RUNS / out["sweep_runs_per_s"] / 60
    return out


def lif_case(n: int, rounds: int, chunk: int | None = None, log=print) -> dict:
    """The cheap single-neuron case: LIF, 1 s, a 2-nA step from t = 0."""
    stim = make_stimulus("step", amp=2.0)
    return sweep_vs_engine("lif", n, rounds=rounds, stimulus=stim, chunk=chunk, log=log)


def circuit_case(
    n: int, rounds: int, chunk: int | None = None, settings: SimSettings | None = None, log=print
) -> dict:
    """The cortical circuit, by default at its declared settings (3 s, rates over the last
    2 s)."""
    return sweep_vs_engine("cortical", n, rounds=rounds, settings=settings, chunk=chunk, log=log)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lif-n", type=int, default=100_000, help="LIF runs (0: skip)")
    ap.add_argument("--circuit-n", type=int, default=2048, help="circuit runs (0: skip)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=None, help="sweep chunk (default: adaptive)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = {}
    if args.lif_n:
        out["lif"] = lif_case(args.lif_n, args.rounds, args.chunk)
    if args.circuit_n:
        out["cortical"] = circuit_case(args.circuit_n, args.rounds, args.chunk)
    for name, r in out.items():
        print(
            f"{name:9s} n={r['n']}: engine {r['engine_runs_per_s']:.1f} runs/s, sweep "
            f"{r['sweep_runs_per_s']:.1f} runs/s, overhead {100 * r['overhead']:+.1f}% wall "
            f"({100 * r['cpu_overhead']:+.1f}% CPU); its own work {100 * r['own_overhead']:.1f}% "
            f"of its engine time; outputs identical: {r['identical_outputs']}"
        )
    if "cortical" in out:
        print(
            f"20,000 circuit runs into the database, projected from the timed "
            f"{out['cortical']['n']}-run sweep: {out['cortical']['projected_training_set_min']:.2f}"
            " min"
        )
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
