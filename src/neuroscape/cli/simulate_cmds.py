"""`neuroscape params|models|simulate|fi-curve|connectivity|demo`: one model, one run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import CLIError, parse_set


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


def _neuron_values(args, spec, model) -> dict[str, float]:
    values = {}
    if getattr(args, "preset", None):
        if args.preset not in model.presets:
            allowed = ", ".join(model.presets) or "none for this model"
            raise CLIError(f"unknown preset {args.preset!r} for {model.name}; allowed: {allowed}")
        values.update(model.presets[args.preset])
    values.update(parse_set(args.set, spec))
    return values


def _stimulus(args):
    from neuroscape.sim.stimuli import make_stimulus

    if args.stimulus is None:
        return make_stimulus("step", amp=args.current or 0.0, t_on=args.t_on, t_off=args.t_off)
    kw = {}
    for item in args.stim or []:
        name, _, raw = item.partition("=")
        try:
            kw[name.strip()] = float(raw)
        except ValueError:
            raise CLIError(f"--stim {item!r}: expected NAME=NUMBER") from None
    return make_stimulus(args.stimulus, **kw)


def cmd_simulate_neuron(args) -> int:
    from neuroscape.models import get_neuron_model
    from neuroscape.sim.neuron_engine import simulate_neurons

    model = get_neuron_model(args.model)
    spec = model.spec
    if args.params is not None or args.out is not None:
        raise CLIError("--params/--out tables are for network models; use fi-curve or the API")
    values = _neuron_values(args, spec, model)
    res = simulate_neurons(
        model,
        values,
        _stimulus(args),
        duration_ms=args.duration_ms or 1000.0,
        dt_ms=args.dt_ms or model.default_dt_ms,
        window_ms=args.window_ms,
        integrator=args.integrator or "rk4",
        seed=args.seed,
        record_v=True,
        allow_outside=args.allow_outside,
    )
    spikes = res.spike_times[0]
    if args.json:
        print(
            json.dumps(
                {
                    "model": spec.name,
                    "parameters": dict(
                        zip(spec.parameter_names, res.params[0].tolist(), strict=True)
                    ),
                    "stimulus": {
                        "kind": res.stimulus.kind,
                        "values": res.stimulus.values[0].tolist(),
                    },
                    "rate_hz": float(res.rates[0]),
                    "spike_count": int(res.counts[0]),
                    "spike_times_ms": spikes[:100].tolist(),
                    "ok": bool(res.ok[0]),
                    "integrator": res.integrator,
                    "dt_ms": res.dt_ms,
                    "wall_time_s": res.wall_time_s,
                },
                indent=2,
            )
        )
    else:
        first = ", ".join(f"{t:.2f}" for t in spikes[:5])
        print(
            f"rate={res.rates[0]:.4g} Hz  spikes={res.counts[0]}  first spike times (ms): "
            f"{first or 'none'}"
        )
    title = f"{spec.name} " + ", ".join(f"{k}={v:g}" for k, v in values.items())
    if args.plot:
        from neuroscape.plot.neuron import trace_figure

        trace_figure(res.t_v, res.v[0], spikes, title, f"{model.states[0]}", args.plot)
        print(f"figure -> {args.plot}", file=sys.stderr)
    if args.phase_plane:
        from neuroscape.plot.neuron import phase_plane_figure

        w = nc = None
        if spec.name == "fhn":
            from neuroscape.models.fhn import nullclines

            w = res.states[0, 1]
            amp = float(res.stimulus.values[0, 0])
            p_row = dict(zip(spec.parameter_names, res.params[0], strict=True))

            def nc(g):
                return nullclines(g, amp, p_row)

        phase_plane_figure(res.v[0], res.dt_ms, title, args.phase_plane, w=w, nullclines=nc)
        print(f"figure -> {args.phase_plane}", file=sys.stderr)
    return 0 if res.ok[0] else 1


def _parse_currents(text: str) -> np.ndarray:
    try:
        if ":" in text:
            a, b, c = (float(x) for x in text.split(":"))
            if c <= 0 or b < a:
                raise ValueError
            return np.round(np.arange(a, b + c / 2, c), 10)
        return np.array([float(x) for x in text.split(",")])
    except ValueError:
        raise CLIError(
            f"--currents {text!r}: expected START:STOP:STEP (STEP > 0) or a comma list"
        ) from None


def cmd_fi_curve(args) -> int:
    from neuroscape.io import write_csv_atomic
    from neuroscape.models import get_neuron_model
    from neuroscape.plot.neuron import fi_figure
    from neuroscape.sim.neuron_engine import simulate_neurons
    from neuroscape.sim.stimuli import make_stimulus

    model = get_neuron_model(args.model)
    values = _neuron_values(args, model.spec, model)
    currents = _parse_currents(args.currents)
    res = simulate_neurons(
        model,
        values,
        make_stimulus("step", amp=currents),
        duration_ms=args.duration_ms,
        window_ms=args.window_ms,
        dt_ms=args.dt_ms or model.default_dt_ms,
        integrator=args.integrator,
        allow_outside=args.allow_outside,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(
        out / "fi_curve.csv",
        [f"current_{model.current_unit}", "rate_hz"],
        np.column_stack([currents, res.rates]),
    )
    title = f"f-I curve of {model.name} " + ", ".join(f"{k}={v:g}" for k, v in values.items())
    fi_figure(currents, res.rates, title, f"current ({model.current_unit})", out / "fi_curve.png")
    firing = res.rates > 0
    rheo = f"{currents[np.argmax(firing)]:g}" if firing.any() else "none in range"
    print(
        f"{len(currents)} currents, rheobase {rheo} {model.current_unit} -> "
        f"{out / 'fi_curve.csv'}, {out / 'fi_curve.png'}"
    )
    return 0


def cmd_simulate(args) -> int:
    from neuroscape.api import simulate
    from neuroscape.io import read_params_csv, write_csv_atomic
    from neuroscape.models import NEURON_MODELS, get_spec

    spec = get_spec(args.model)
    if args.model in NEURON_MODELS:
        return cmd_simulate_neuron(args)
    for flag in ("current", "stimulus", "preset", "phase_plane"):
        if getattr(args, flag, None) is not None:
            raise CLIError(f"--{flag.replace('_', '-')} is for single-neuron models")
    from neuroscape.models.theory import DEFAULTS as THEORY_DEFAULTS

    dur, dt, win = THEORY_DEFAULTS.get(args.model, (3000.0, 0.1, None))
    args.duration_ms = args.duration_ms or dur
    args.dt_ms = args.dt_ms or dt
    if args.window_ms is None and win is not None:
        args.window_ms = win
    args.integrator = args.integrator or "midpoint"
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
    values = parse_set(args.set, spec)
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



def add_parsers(sub) -> None:
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
    ss.add_argument(
        "--duration-ms",
        type=float,
        default=None,
        help="default 3000 (cortical) or 1000 (single neurons)",
    )
    ss.add_argument("--dt-ms", type=float, default=None, help="default: the model's")
    ss.add_argument(
        "--window-ms", type=float, default=None, help="rates over the last WINDOW ms (default 2000)"
    )
    ss.add_argument(
        "--integrator",
        default=None,
        help="euler, midpoint, rk4, exponential_euler (default: midpoint for the "
        "circuit, rk4 for neurons)",
    )
    ss.add_argument("--current", type=float, help="single neurons: step current amplitude")
    ss.add_argument("--t-on", type=float, default=0.0, help="step onset (ms)")
    ss.add_argument("--t-off", type=float, default=float("inf"), help="step offset (ms)")
    ss.add_argument(
        "--stimulus",
        choices=["step", "ramp", "noisy", "poisson"],
        help="single neurons: stimulus kind, with --stim NAME=VALUE",
    )
    ss.add_argument("--stim", action="append", metavar="NAME=VALUE")
    ss.add_argument("--preset", help="named parameter set (e.g. Izhikevich RS, IB, CH, FS)")
    ss.add_argument("--phase-plane", metavar="FILE.png", help="V vs dV/dt (FHN: with nullclines)")
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

    sf = sub.add_parser("fi-curve", help="firing rate against step current: CSV and figure")
    sf.add_argument("model")
    sf.add_argument("--currents", required=True, help="START:STOP:STEP or a,b,c")
    sf.add_argument("--set", action="append", metavar="NAME=VALUE")
    sf.add_argument("--preset")
    sf.add_argument("--duration-ms", type=float, default=1000.0)
    sf.add_argument("--window-ms", type=float, default=None, help="default: the whole run")
    sf.add_argument("--dt-ms", type=float, default=None)
    sf.add_argument("--integrator", default="rk4")
    sf.add_argument("--allow-outside", action="store_true")
    sf.add_argument("--out", required=True, metavar="DIR")
    sf.set_defaults(func=cmd_fi_curve)
    sd = sub.add_parser("demo", help="simulate the circuit and write its figure")
    sd.add_argument("--out", default="out", help="output folder (default: out/)")
    sd.set_defaults(func=cmd_demo)
