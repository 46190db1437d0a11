"""`neuroscape sweep|db`: parameter sweeps into a model database, and reading it back."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import (
    DEFAULT_T_ON_MS,
    CLIError,
    add_stimulus_args,
    check_output_dir,
    check_output_file,
    format_value,
    nonneg_int,
    parse_number,
    parse_set,
    positive_float,
    positive_int,
    print_json,
    stimulus_from_args,
)

# neuroscape.explore.space.SAMPLERS, written out so that building the parser imports no scipy
SAMPLERS = ("uniform", "sobol", "lhs", "grid")
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
EXPORT_SUFFIXES = (".csv", ".parquet")  # neuroscape.explore.store.EXPORT_SUFFIXES


def _parse_bounds(items: list[str] | None, spec) -> dict[str, tuple[float, float]]:
    out = {}
    for item in items or []:
        name, sep, rng = item.partition("=")
        lo, sep2, hi = rng.partition(":")
        if not sep or not sep2 or not name.strip():
            raise CLIError(f"--bounds {item!r}: expected NAME=LOW:HIGH")
        p = spec.parameter(name.strip())  # raises with the allowed names
        out[p.name] = (
            parse_number(lo, f"--bounds {p.name} LOW"),
            parse_number(hi, f"--bounds {p.name} HIGH"),
        )
    return out


def _sweep_settings(args, spec):
    """SimSettings from the options given, else the model's declared defaults
    (``spec.settings``), resolved as ``neuroscape.simulate`` resolves them: a declared window
    belongs to the declared duration; otherwise the last 2 s of the run, or its last 2/3."""
    from neuroscape.core.settings import SimSettings

    return SimSettings.for_model(
        spec,
        duration_ms=args.duration_ms,
        dt_ms=args.dt_ms,
        window_ms=args.window_ms,
        integrator=args.integrator,
    )


def _stimulus(args, model):
    if "stimulus" in model.run_options:
        return stimulus_from_args(args)
    given = [
        o
        for o, v in (
            ("--current", args.current),
            ("--t-on", None if args.t_on == DEFAULT_T_ON_MS else args.t_on),
            ("--t-off", args.t_off),
            ("--stimulus", args.stimulus),
            ("--stim", args.stim),
        )
        if v is not None
    ]
    if given:
        raise CLIError(
            f"{'/'.join(given)}: a stimulus is for single-neuron models; {model.name!r} is not one"
        )
    return None


def cmd_sweep(args) -> int:
    from neuroscape.explore import ParameterSpace, run_sweep
    from neuroscape.models import resolve

    model = resolve(args.model)  # a name or FILE.py:NAME; unknown ones are one line
    spec = model.spec
    check_output_file(args.db, DB_SUFFIXES, "--db")
    if args.connectivity is not None:
        if "connectivity" not in model.run_options:
            raise CLIError(
                f"--connectivity is for network models; {model.name!r} takes no graph"
            )
        if not Path(args.connectivity).is_file():
            raise CLIError(f"--connectivity {args.connectivity!r}: no such file")
    if args.conn_seed is not None and "conn_seed" not in model.run_options:
        raise CLIError(f"--conn-seed is for network models; {model.name!r} takes no graph")
    space = ParameterSpace(
        spec,
        bounds=_parse_bounds(args.bounds, spec),
        fixed=parse_set(args.fix, spec, "--fix"),
        log=tuple(spec.parameter(n).name for n in args.log or ()),
        scale=args.scale,
        allow_outside=args.allow_outside,
    )
    stimulus = _stimulus(args, model)
    settings = _sweep_settings(args, spec)
    rep = run_sweep(
        model,
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
    if rep.n_failed:
        error, count = next(iter(rep.errors.items()))
        first = (error.strip().splitlines() or ["unknown error"])[0]
        what = (
            f"all {rep.n_run} runs failed"
            if rep.all_failed
            else f"{rep.n_failed} of {rep.n_run} runs failed"
        )
        print(
            f"neuroscape: {'error' if rep.all_failed else 'warning'}: {what} (stored with "
            f"status 'failed', see the error column of {rep.db}); most common error "
            f"({count} runs): {first}",
            file=sys.stderr,
        )
        if rep.all_failed:
            return 1
    return 0


# --- db ------------------------------------------------------------------------------------------


def _print_summary(s: dict) -> None:
    from neuroscape.explore.store import ModelStore

    units = s["units"]
    print(
        f"model {s['model']}: {s['runs']} runs, {s['failed']} failed, {len(s['sweeps'])} "
        f"sweep(s) in {len(s['groups'])} group(s) of settings"
    )
    sweeps = {sw["id"]: sw for sw in s["sweeps"]}
    for g in s["groups"]:
        print(ModelStore.describe_group(g))
        for sid in g["sweeps"]:
            sw = sweeps[sid]
            print(
                f"  sweep {sid}: {sw['sampler']} n={sw['n']} (sample seed {sw['sample_seed']}, "
                f"noise seed {sw['seed']}), {sw['done']} stored, {sw['failed']} failed; "
                f"space: {sw['space'] or 'the declared box'}"
            )
        for name, r in g["outputs"].items():
            if r["n"]:
                u = units[name]
                print(
                    f"  {name}: min {format_value(r['min'], u)}, mean "
                    f"{format_value(r['mean'], u)}, max {format_value(r['max'], u)} "
                    f"({r['n']} ok runs with a value)"
                )
            else:
                print(f"  {name}: no ok run with a value")
        if set(g["labels"]) != {"(none)"}:
            print("  labels: " + ", ".join(f"{k} {v}" for k, v in g["labels"].items()))


def _units_line(cols: list[str], units: dict[str, str]) -> str | None:
    known = [f"{c} {units[c]}" for c in dict.fromkeys(cols) if units.get(c, "1") not in ("1", "")]
    return "units: " + ", ".join(known) if known else None


def _domain_pair(spec) -> tuple[str, str] | None:
    """The two outputs of a declared output domain drawn by ``output_heatmap``: one output
    bounded, and the ratio of another to it, both in Hz (the circuit's O: r_E, and r_I/r_E);
    None for any other declaration (then only the slices are drawn)."""
    dom = spec.output_domain
    if dom is None or len(dom.bounds) != 1 or len(dom.ratios) != 1:
        return None
    x = dom.bounds[0][0]
    y, den = dom.ratios[0][:2]
    units = {o.name: o.unit for o in spec.outputs}
    if den != x or units.get(x) != "Hz" or units.get(y) != "Hz":
        return None
    return x, y


def _plot(store, args) -> None:
    from neuroscape.plot.explore import output_heatmap, parameter_slices

    spec = store.spec
    groups = store.summary()["groups"]
    if args.group is not None:
        chosen = [g for g in groups if g["group"] == args.group]
        if not chosen:
            raise CLIError(
                f"--group {args.group}: allowed "
                + ", ".join(str(g["group"]) for g in groups)
                + " (see `neuroscape db summary`)"
            )
    elif len(groups) > 1:
        raise CLIError(
            f"{args.db} holds {len(groups)} groups of sweeps with different settings (see "
            f"`neuroscape db summary`); plot one: --group "
            + "|".join(str(g["group"]) for g in groups)
        )
    else:
        chosen = groups
    ids = [i for g in chosen for i in g["sweeps"]]
    cols = spec.parameter_names + spec.output_names
    _, rows = store.query(
        "SELECT "
        + ", ".join(f'"{spec.columns[c]}"' for c in cols)
        + f" FROM runs WHERE status = 'ok' AND sweep_id IN ({', '.join(map(str, ids)) or 'NULL'})"
    )
    if not rows:
        raise CLIError(f"{args.db} has no successful runs to plot")
    data = np.array(rows, dtype=float)
    p, o = data[:, : len(spec.parameter_names)], data[:, len(spec.parameter_names) :]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    o_units = [x.unit for x in spec.outputs]
    pair = _domain_pair(spec)
    if pair is not None:
        i, j = (spec.output_names.index(k) for k in pair)
        output_heatmap(
            o[:, i],
            o[:, j],
            out / "rates_heatmap.png",
            domain=spec.output_domain,
            names=pair,
            output_units=[o_units[i], o_units[j]],
        )
    parameter_slices(
        p,
        spec.parameter_names,
        o,
        spec.output_names,
        out / "slices.png",
        parameter_units=[x.unit for x in spec.parameters],
        output_units=o_units,
    )
    print(f"figures of {len(rows)} ok runs -> {out}/", file=sys.stderr)


def cmd_db(args) -> int:
    from neuroscape.explore import open_for_reading

    # refuse a bad output before reading anything
    if args.db_command == "export":
        check_output_file(args.out, EXPORT_SUFFIXES, "--out")
    elif args.db_command == "plot":
        check_output_dir(args.out, "--out")
    store = open_for_reading(args.db)
    try:
        if args.db_command == "summary":
            s = store.summary()
            if args.json:
                print_json(s)
            else:
                _print_summary(s)
        elif args.db_command == "query":
            cols, rows = store.query(args.sql)
            w = csv.writer(sys.stdout)
            w.writerow(cols)
            w.writerows(rows)
            line = _units_line(cols, store.units())
            if line:
                print(line, file=sys.stderr)
        elif args.db_command == "plot":
            _plot(store, args)
        elif args.db_command == "export":
            path = store.export(args.out, table=args.table)
            cols, _ = store.query(f'SELECT * FROM "{args.table}" LIMIT 0')
            line = _units_line(cols, store.units())
            print(f"{args.table} -> {path}" + (f" ({line})" if line else ""), file=sys.stderr)
    finally:
        store.close()
    return 0


def add_parsers(sub) -> None:
    sw = sub.add_parser(
        "sweep",
        help="simulate a sample of the parameter space into a database",
        description="Simulate a sample of a model's parameter space into an SQLite database; "
        "rerunning the same command resumes it. Fixed values and sub-boxes must lie in the "
        "declared ranges (`neuroscape params MODEL`) unless --allow-outside.",
    )
    sw.add_argument(
        "model",
        metavar="MODEL",
        help="a model name (`neuroscape params` lists them) or path/to/file.py:NAME, a model "
        "object (e.g. a neuroscape.FunctionModel) in a Python file",
    )
    sw.add_argument(
        "--n", type=positive_int, required=True, help="points (grid: per free dimension)"
    )
    sw.add_argument(
        "--sampler",
        default="sobol",
        choices=SAMPLERS,
        help="uniform random, Sobol, Latin hypercube or a regular grid",
    )
    sw.add_argument(
        "--db", required=True, metavar="RUNS.db", help=f"database ({', '.join(DB_SUFFIXES)})"
    )
    sw.add_argument(
        "--fix",
        action="append",
        metavar="NAME=VALUE",
        help="hold a parameter at a value (repeatable; default: every parameter sampled)",
    )
    sw.add_argument(
        "--bounds",
        action="append",
        metavar="NAME=LOW:HIGH",
        help="sample NAME in a sub-box (repeatable; default: the declared range)",
    )
    sw.add_argument(
        "--log",
        action="append",
        metavar="NAME",
        help="sample NAME uniformly in log (repeatable; default: linear)",
    )
    sw.add_argument(
        "--scale",
        type=positive_float,
        default=1.0,
        help="scale the box about its centre (> 1 leaves the declared box, up to hard limits)",
    )
    sw.add_argument(
        "--allow-outside",
        action="store_true",
        help="accept --fix/--bounds values outside the declared ranges (up to hard limits)",
    )
    sw.add_argument("--sample-seed", type=nonneg_int, default=0, help="seed of the sampler")
    sw.add_argument("--seed", type=nonneg_int, default=0, help="noise seed (point r: (seed, r))")
    sw.add_argument(
        "--conn-seed",
        type=nonneg_int,
        help="seed of the network graph, for network models (default: the model's, 0 for the "
        "cortical circuit)",
    )
    sw.add_argument(
        "--connectivity",
        metavar="GRAPH.npz",
        help="network graph file (default: the graph drawn from --conn-seed)",
    )
    sw.add_argument(
        "--duration-ms",
        type=positive_float,
        help="simulated time in ms (default: the model's declared duration; "
        "`neuroscape params MODEL`)",
    )
    sw.add_argument(
        "--dt-ms", type=positive_float, help="time step in ms (default: the model's declared step)"
    )
    sw.add_argument(
        "--window-ms",
        type=positive_float,
        help="rates over the final window, in ms (default: the model's declared window; for "
        "another duration its last 2 s, or its last 2/3 if shorter than 3 s)",
    )
    sw.add_argument(
        "--integrator", help="integration scheme (default: the model's declared scheme)"
    )
    add_stimulus_args(sw)
    sw.add_argument(
        "--chunk", type=positive_int, default=None,
        help="points per chunk: one engine call and one database transaction (default: 64, then "
        "chunks of about 1 s of work)",
    )
    sw.add_argument(
        "--workers",
        type=positive_int,
        help="threads of the built-in engines (default: every core of this machine); worker "
        "processes of a function model (default: 1)",
    )
    sw.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler (default: on this machine)",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)

    sb = sub.add_parser("db", help="inspect a model database (read-only)")
    dbsub = sb.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    d1 = dbsub.add_parser(
        "summary", help="counts, failures, output ranges per group of sweeps with one setting"
    )
    d1.add_argument("db", metavar="RUNS.db")
    d1.add_argument("--json", action="store_true", help="strict JSON on stdout")
    d2 = dbsub.add_parser("query", help="run a read-only SQL query (SELECT/WITH), CSV to stdout")
    d2.add_argument("db", metavar="RUNS.db")
    d2.add_argument("sql", help="one SELECT or WITH statement; writes are refused")
    d4 = dbsub.add_parser(
        "plot",
        help="one-parameter slices of every output (a model that declares an output domain of a "
        "rate and a ratio of rates, such as the circuit's O, also gets its heat map)",
    )
    d4.add_argument("db", metavar="RUNS.db")
    d4.add_argument("--out", required=True, metavar="DIR", help="folder for the figures")
    d4.add_argument(
        "--group",
        type=positive_int,
        help="the group of sweeps (one setting, see db summary) to plot (default: the only one)",
    )
    d3 = dbsub.add_parser("export", help="a table or view to CSV or Parquet")
    d3.add_argument("db", metavar="RUNS.db")
    d3.add_argument(
        "--out", required=True, metavar="FILE.csv|FILE.parquet", help="the file to write"
    )
    d3.add_argument(
        "--table",
        default="results",
        help="results (every run with its sweep's settings and stimulus), runs, sweeps or meta",
    )
    sb.set_defaults(func=cmd_db)
