"""The ``neuroscape`` command line: a thin wrapper over the Python API.

Every user error (bad name, value, file or setting) ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_USAGE = 2


class CLIError(Exception):
    pass


def _user_errors():
    from neuroscape.io import InputFileError
    from neuroscape.models import UnknownModelError
    from neuroscape.models.base import ParameterError
    from neuroscape.sim.batch import SettingsError
    from neuroscape.sim.connectivity import ConnectivityError
    from neuroscape.sim.integrators import IntegratorError

    return (
        CLIError,
        InputFileError,
        UnknownModelError,
        ParameterError,
        SettingsError,
        ConnectivityError,
        IntegratorError,
    )


def _parse_set(items: list[str], spec) -> dict[str, float]:
    values = {}
    for item in items:
        if "=" not in item:
            raise CLIError(f"--set {item!r}: expected NAME=VALUE")
        name, raw = item.split("=", 1)
        name = name.strip()
        spec.parameter(name)  # raises with the allowed names
        try:
            values[name] = float(raw)
        except ValueError:
            raise CLIError(f"--set {name}={raw!r}: the value is not a number") from None
    return values


def cmd_params(args) -> int:
    from neuroscape.models import get_spec

    spec = get_spec(args.model)
    if args.json:
        print(json.dumps(spec.to_dict(), indent=2))
    else:
        print(f"{spec.name} (v{spec.version}): {spec.description}")
        for i, p in enumerate(spec.parameters, 1):
            print(
                f"{i:2d} {p.name:14s} [{p.low:g}, {p.high:g}] {p.unit:4s} default {p.default:g}"
                f"  {p.description}"
            )
    return 0


def _simulate_kwargs(args) -> dict:
    return dict(
        seed=args.seed,
        conn_seed=args.conn_seed,
        connectivity=args.connectivity,
        duration_ms=args.duration_ms,
        dt_ms=args.dt_ms,
        window_ms=args.window_ms,
        integrator=args.integrator,
        device=args.device,
        workers=args.workers,
        allow_outside=args.allow_outside,
    )


def cmd_simulate(args) -> int:
    from neuroscape.api import simulate
    from neuroscape.io import read_params_csv, write_csv_atomic
    from neuroscape.models import get_spec

    spec = get_spec(args.model)
    if args.params is not None:
        if args.set:
            raise CLIError("--set and --params are exclusive: give one parameter set or a table")
        if args.out is None:
            raise CLIError("--params IN.csv needs --out OUT.csv")
        table = read_params_csv(args.params, spec)
        res = simulate(args.model, table, progress=not args.quiet, **_simulate_kwargs(args))
        header = spec.parameter_names + spec.output_names + ["ok", "error"]
        rows = [
            [*res.params[r].tolist(), *res.outputs[r].tolist(), int(res.ok[r]), res.errors[r] or ""]
            for r in range(len(res))
        ]
        write_csv_atomic(args.out, header, rows)
        n_bad = int((~res.ok).sum())
        print(
            f"{len(res)} simulations in {res.wall_time_s:.2f} s "
            f"({res.wall_time_s / len(res) * 1e3:.1f} ms each) -> {args.out}"
            + (f"; {n_bad} FAILED (see the error column)" if n_bad else ""),
            file=sys.stderr,
        )
        return 0 if n_bad == 0 else 1
    if args.out is not None:
        raise CLIError("--out needs --params IN.csv (a table of parameter sets)")
    values = _parse_set(args.set or [], spec)
    res = simulate(
        args.model, values, record_spikes=args.plot is not None, **_simulate_kwargs(args)
    )
    row = res.row(0)
    if args.json:
        out = {
            "model": spec.name,
            "parameters": {k: row[k] for k in spec.parameter_names},
            "outputs": {k: row[k] for k in spec.output_names},
            "ok": bool(res.ok[0]),
            "error": res.errors[0],
            "seed": res.seed,
            "settings": res.settings.as_dict(),
            **res.provenance,
            "wall_time_s": res.wall_time_s,
        }
        if args.model == "cortical":
            from neuroscape.models.cortical import in_output_domain

            out["in_output_domain"] = bool(in_output_domain(row["r_E"], row["r_I"]))
        print(json.dumps(out, indent=2))
    else:
        print("  ".join(f"{k}={row[k]:.4g} Hz" for k in spec.output_names))
    if args.plot is not None:
        from neuroscape.plot.raster import raster_figure

        t, idx = res.spikes[0]
        m = res.provenance
        title = ", ".join(f"{k}={row[k]:.4g}" for k in spec.parameter_names)
        title += "\n" + "  ".join(f"{k}={row[k]:.2f} Hz" for k in spec.output_names)
        title += f"  (seed {res.seed}, graph {m['connectivity_sha256'][:10]})"
        from neuroscape.models.cortical import CONSTANTS

        raster_figure(
            t,
            idx,
            int(CONSTANTS["N_E"]),
            int(CONSTANTS["N_I"]),
            res.settings.duration_ms,
            title=title,
            window_ms=res.settings.window_ms,
            path=args.plot,
        )
        print(f"figure -> {args.plot}", file=sys.stderr)
    return 0 if res.ok[0] else 1


def cmd_connectivity(args) -> int:
    from neuroscape.models import get_model

    model = get_model(args.model, conn_seed=args.conn_seed)
    path = model.connectivity.save(args.out)
    n = model.connectivity.n_synapses
    print(
        f"graph of conn-seed {args.conn_seed} -> {path} ("
        + ", ".join(f"{k}: {v}" for k, v in n.items())
        + f"; sha256 {model.connectivity_hash[:16]})",
        file=sys.stderr,
    )
    return 0


def cmd_demo(args) -> int:
    """Main job: simulate the circuit at its defaults and write the raster figure."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ns = argparse.Namespace(
        model="cortical",
        set=[],
        params=None,
        out=None,
        seed=0,
        conn_seed=0,
        connectivity=None,
        duration_ms=3000.0,
        dt_ms=0.1,
        window_ms=None,
        integrator="midpoint",
        device="cpu",
        workers=None,
        allow_outside=False,
        json=False,
        plot=str(out / "cortical_raster.png"),
        quiet=False,
    )
    return cmd_simulate(ns)


def build_parser() -> argparse.ArgumentParser:
    from neuroscape import __version__

    p = argparse.ArgumentParser(prog="neuroscape", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"neuroscape {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("params", help="list a model's parameters, bounds and units")
    sp.add_argument("model")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_params)

    ss = sub.add_parser("simulate", help="simulate one parameter set or a CSV table of them")
    ss.add_argument("model")
    ss.add_argument("--set", action="append", metavar="NAME=VALUE", help="repeatable")
    ss.add_argument("--params", metavar="IN.csv", help="table of parameter sets, one per row")
    ss.add_argument("--out", metavar="OUT.csv", help="results table (with --params)")
    ss.add_argument("--seed", type=int, default=0, help="noise seed (row r uses (seed, r))")
    ss.add_argument("--conn-seed", type=int, default=0, help="seed of the random graph")
    ss.add_argument("--connectivity", metavar="GRAPH.npz", help="use this graph file instead")
    ss.add_argument("--duration-ms", type=float, default=3000.0)
    ss.add_argument("--dt-ms", type=float, default=0.1)
    ss.add_argument(
        "--window-ms", type=float, default=None, help="rates over the last WINDOW ms (default 2000)"
    )
    ss.add_argument("--integrator", default="midpoint", help="euler, midpoint or rk4")
    ss.add_argument("--device", default="cpu", help="cpu or cuda")
    ss.add_argument("--workers", type=int, default=None, help="CPU threads (default: all)")
    ss.add_argument(
        "--allow-outside",
        action="store_true",
        help="accept parameter values outside the model's declared domain",
    )
    ss.add_argument("--plot", metavar="FILE.png", help="spike raster with population rates")
    ss.add_argument("--json", action="store_true", help="print the result as JSON")
    ss.add_argument("--quiet", action="store_true", help="no progress bar")
    ss.set_defaults(func=cmd_simulate)

    sc = sub.add_parser("connectivity", help="export a model's random graph to an NPZ file")
    sc.add_argument("model")
    sc.add_argument("--conn-seed", type=int, default=0)
    sc.add_argument("--out", required=True, metavar="GRAPH.npz")
    sc.set_defaults(func=cmd_connectivity)

    sd = sub.add_parser("demo", help="simulate the circuit and write its figure")
    sd.add_argument("--out", default="out", help="output folder (default: out/)")
    sd.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _user_errors() as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"neuroscape: error: {msg}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
