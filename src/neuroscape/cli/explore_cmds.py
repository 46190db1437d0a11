"""`neuroscape sweep|db`: parameter sweeps into a model database, and reading it back."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import CLIError, parse_set, stimulus_from_args


def _parse_bounds(items: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items or []:
        name, _, rng = item.partition("=")
        lo, _, hi = rng.partition(":")
        try:
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise CLIError(f"--bounds {item!r}: expected NAME=LOW:HIGH") from None
    return out


def cmd_sweep(args) -> int:
    from neuroscape.explore import ParameterSpace, run_sweep
    from neuroscape.models import get_spec
    from neuroscape.sim.batch import SimSettings, default_window_ms

    spec = get_spec(args.model)
    space = ParameterSpace(
        spec,
        bounds=_parse_bounds(args.bounds),
        fixed=parse_set(args.fix, spec),
        log=tuple(args.log or ()),
        scale=args.scale,
    )
    from neuroscape.models import NEURON_MODELS, get_neuron_model

    stimulus = None
    if args.model in NEURON_MODELS:
        nm = get_neuron_model(args.model)
        duration = args.duration_ms or 1000.0
        dt = args.dt_ms or nm.default_dt_ms
        integrator = args.integrator or "rk4"
        window = args.window_ms if args.window_ms is not None else duration
        stimulus = stimulus_from_args(args)
    else:
        from neuroscape.models.theory import DEFAULTS as THEORY_DEFAULTS

        if args.current is not None or args.stimulus is not None:
            raise CLIError("--current/--stimulus are for single-neuron models")
        dur, dt0, win = THEORY_DEFAULTS.get(args.model, (3000.0, 0.1, None))
        duration = args.duration_ms or dur
        dt = args.dt_ms or dt0
        integrator = args.integrator or "midpoint"
        if args.window_ms is not None:
            window = args.window_ms
        else:
            window = win if win is not None else default_window_ms(duration)
    settings = SimSettings(duration, dt, window, integrator)
    rep = run_sweep(
        args.model,
        args.n,
        args.db,
        sampler=args.sampler,
        space=space,
        sample_seed=args.sample_seed,
        seed=args.seed,
        conn_seed=args.conn_seed,
        connectivity=args.connectivity,
        settings=settings,
        chunk=args.chunk,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
        stimulus=stimulus,
    )
    print(
        f"sweep {rep.sweep_id} in {rep.db}: {rep.n_points} points, {rep.n_done_before} already "
        f"done, {rep.n_run} run now ({rep.n_failed} failed) in {rep.wall_time_s:.1f} s"
        + (f" = {rep.runs_per_s:.1f} runs/s" if rep.n_run else ""),
        file=sys.stderr,
    )
    return 0


def cmd_db(args) -> int:
    from neuroscape.explore import open_for_reading

    store = open_for_reading(args.db)
    try:
        if args.db_command == "summary":
            s = store.summary()
            if args.json:
                print(json.dumps(s, indent=2))
                return 0
            print(
                f"model {s['model']}: {s['runs']} runs, {s['failed']} failed, "
                f"{len(s['sweeps'])} sweep(s)"
            )
            for sw in s["sweeps"]:
                print(f"  sweep {sw['id']}: {sw['sampler']} n={sw['n']}, {sw['done']} stored")
            for name, r in s["outputs"].items():
                if r["min"] is not None:
                    print(f"  {name}: min {r['min']:.4g}, mean {r['mean']:.4g}, max {r['max']:.4g}")
            for label, count in s["labels"].items():
                print(f"  label {label}: {count}")
        elif args.db_command == "query":
            import sqlite3

            try:
                cols, rows = store.query(args.sql)
            except sqlite3.Error as exc:
                raise CLIError(f"SQL error: {exc}") from None
            w = csv.writer(sys.stdout)
            w.writerow(cols)
            w.writerows(rows)
        elif args.db_command == "plot":
            from neuroscape.plot.explore import output_heatmap, parameter_slices

            spec = store.spec
            cols = spec.parameter_names + spec.output_names
            _, rows = store.query(
                "SELECT " + ", ".join(f'"{c}"' for c in cols) + " FROM runs WHERE status = 'ok'"
            )
            if not rows:
                raise CLIError(f"{args.db} has no successful runs to plot")
            data = np.array(rows, dtype=float)
            p, o = data[:, : len(spec.parameter_names)], data[:, len(spec.parameter_names) :]
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            if spec.output_names[:2] == ["r_E", "r_I"]:
                output_heatmap(o[:, 0], o[:, 1], out / "rates_heatmap.png")
            parameter_slices(p, spec.parameter_names, o, spec.output_names, out / "slices.png")
            print(f"figures -> {out}/", file=sys.stderr)
        elif args.db_command == "export":
            path = store.export(args.out, table=args.table)
            print(f"{args.table} -> {path}", file=sys.stderr)
    finally:
        store.close()
    return 0



def add_parsers(sub) -> None:
    sw = sub.add_parser("sweep", help="simulate a sample of the parameter space into a database")
    sw.add_argument("model")
    sw.add_argument("--n", type=int, required=True, help="points (grid: per free dimension)")
    sw.add_argument("--sampler", default="sobol", help="uniform, sobol, lhs or grid")
    sw.add_argument("--db", required=True, metavar="RUNS.db")
    sw.add_argument("--fix", action="append", metavar="NAME=VALUE", help="hold a parameter")
    sw.add_argument("--bounds", action="append", metavar="NAME=LOW:HIGH", help="sub-box")
    sw.add_argument("--log", action="append", metavar="NAME", help="sample NAME in log")
    sw.add_argument("--scale", type=float, default=1.0, help="scale the box about its centre")
    sw.add_argument("--sample-seed", type=int, default=0)
    sw.add_argument("--seed", type=int, default=0, help="noise seed (point r: (seed, r))")
    sw.add_argument("--conn-seed", type=int, default=0)
    sw.add_argument("--connectivity", metavar="GRAPH.npz")
    sw.add_argument(
        "--duration-ms",
        type=float,
        default=None,
        help="default 3000 (cortical) or 1000 (single neurons)",
    )
    sw.add_argument("--dt-ms", type=float, default=None, help="default: the model's")
    sw.add_argument("--window-ms", type=float, default=None)
    sw.add_argument("--integrator", default=None)
    sw.add_argument("--current", type=float, help="single neurons: step current")
    sw.add_argument("--t-on", type=float, default=0.0)
    sw.add_argument("--t-off", type=float, default=float("inf"))
    sw.add_argument(
        "--stimulus", choices=["step", "ramp", "noisy", "poisson", "poisson_conductance"]
    )
    sw.add_argument("--stim", action="append", metavar="NAME=VALUE")
    sw.add_argument("--chunk", type=int, default=None, help="points per chunk (default 64)")
    sw.add_argument("--workers", type=int, default=None)
    sw.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler")
    sw.add_argument("--quiet", action="store_true")
    sw.set_defaults(func=cmd_sweep)

    sb = sub.add_parser("db", help="inspect a model database")
    dbsub = sb.add_subparsers(dest="db_command", required=True)
    d1 = dbsub.add_parser("summary", help="counts, failures, output ranges")
    d1.add_argument("db")
    d1.add_argument("--json", action="store_true")
    d2 = dbsub.add_parser("query", help="run an SQL query, CSV to stdout")
    d2.add_argument("db")
    d2.add_argument("sql")
    d4 = dbsub.add_parser("plot", help="heat map of the outputs and one-parameter slices")
    d4.add_argument("db")
    d4.add_argument("--out", required=True, metavar="DIR")
    d3 = dbsub.add_parser("export", help="a table or view to CSV or Parquet")
    d3.add_argument("db")
    d3.add_argument("--out", required=True, metavar="FILE.csv|FILE.parquet")
    d3.add_argument("--table", default="results")
    sb.set_defaults(func=cmd_db)
