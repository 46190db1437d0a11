"""The ``neuroscape`` command line: a thin wrapper over the Python API.

Every user error (bad name, value, file or setting) ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

EXIT_USAGE = 2


class CLIError(Exception):
    pass


def _user_errors():
    from neuroscape.cli.fit_cmds import FitCLIError
    from neuroscape.explore import SchedulerError, SpaceError, StoreError
    from neuroscape.fit.bifurcation import BifurcationError
    from neuroscape.fit.problem import FitError
    from neuroscape.fit.targets import TargetError
    from neuroscape.io import InputFileError
    from neuroscape.models import UnknownModelError
    from neuroscape.models.base import ParameterError
    from neuroscape.sim.batch import SettingsError
    from neuroscape.sim.connectivity import ConnectivityError
    from neuroscape.sim.integrators import IntegratorError
    from neuroscape.sim.stimuli import StimulusError
    from neuroscape.surrogate.core import SurrogateError

    return (
        FitCLIError,
        BifurcationError,
        FitError,
        TargetError,
        SurrogateError,
        StimulusError,
        SchedulerError,
        SpaceError,
        StoreError,
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


def _neuron_values(args, spec, model) -> dict[str, float]:
    values = {}
    if getattr(args, "preset", None):
        if args.preset not in model.presets:
            allowed = ", ".join(model.presets) or "none for this model"
            raise CLIError(f"unknown preset {args.preset!r} for {model.name}; allowed: {allowed}")
        values.update(model.presets[args.preset])
    values.update(_parse_set(args.set or [], spec))
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
        fixed=_parse_set(args.fix or [], spec),
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
        stimulus = _stimulus(args)
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


def _surrogate_accuracy(args) -> int:
    from neuroscape.io import write_csv_atomic
    from neuroscape.surrogate import SurrogateConfig, training_data
    from neuroscape.surrogate.accuracy import learning_curve, noise_floor

    try:
        sizes = [int(x) for x in args.sizes.split(",")]
    except ValueError:
        raise CLIError(f"--sizes {args.sizes!r}: expected integers like 200,500,1000") from None
    spec, tp, to, domain, _ = training_data(args.db)
    spec_t, sp, so, _, _ = training_data(args.test_db)
    if spec_t.name != spec.name:
        raise CLIError(f"test database holds {spec_t.name!r} runs, training {spec.name!r}")
    cfg = SurrogateConfig(
        hidden=tuple(int(h) for h in args.hidden.split(",")),
        activation=args.activation,
        max_epochs=args.epochs,
        seed=args.seed,
    )
    lc = learning_curve(
        tp,
        to,
        sp,
        so,
        domain,
        sizes,
        parameter_names=spec.parameter_names,
        output_names=spec.output_names,
        config=cfg,
        model=spec.name,
        lr_decay_from_n=args.lr_decay_from_n,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = (
        ["n"] + [f"mae_{o}" for o in spec.output_names] + [f"rmse_{o}" for o in spec.output_names]
    )
    write_csv_atomic(out / "learning_curve.csv", header, np.column_stack([lc.n, lc.mae, lc.rmse]))
    floor = None
    if args.noise_floor and spec.name == "cortical":
        sel = sp[: args.noise_floor]
        floor = noise_floor(spec.name, sel)
    from neuroscape.plot.accuracy import learning_curve_figure

    learning_curve_figure(
        lc, floor, out / "learning_curve.png", title=f"{args.activation} {args.hidden}"
    )
    for k, n in enumerate(lc.n):
        print(
            f"n={n}: MAE "
            + ", ".join(f"{o} {lc.mae[k, j]:.3g}" for j, o in enumerate(spec.output_names))
        )
    print(
        "power-law exponents: "
        + ", ".join(f"{o} {e:.2f}" for o, e in zip(spec.output_names, lc.power_law(), strict=True))
    )
    if floor is not None:
        print(
            "noise floor (MAE between two noise seeds): "
            + ", ".join(f"{o} {f:.3g}" for o, f in zip(spec.output_names, floor, strict=True))
        )
    return 0


def cmd_surrogate(args) -> int:
    from neuroscape.surrogate import SurrogateConfig, load_surrogate, train_from_db

    if args.sur_command == "train":
        try:
            hidden = tuple(int(h) for h in args.hidden.split(","))
        except ValueError:
            raise CLIError(f"--hidden {args.hidden!r}: expected widths like 800,200,200") from None
        cfg = SurrogateConfig(
            hidden=hidden,
            activation=args.activation,
            max_epochs=args.epochs,
            patience=args.patience,
            ensemble=args.ensemble,
            seed=args.seed,
            device=args.device,
            lr=args.lr,
            batch_size=args.batch_size,
            lr_decay_patience=args.lr_decay_patience,
        )
        sur = train_from_db(args.db, args.out, n=args.n, config=cfg, verbose=args.verbose)
        mae = ", ".join(
            f"{k} {v:.3g}" for k, v in zip(sur.output_names, sur.metrics["val_mae"], strict=True)
        )
        print(
            f"surrogate of {sur.model} on {sur.provenance['n_runs_used']} runs -> {args.out} "
            f"(validation MAE: {mae}; {sur.metrics['train_time_s']:.1f} s)",
            file=sys.stderr,
        )
        return 0
    if args.sur_command == "accuracy":
        return _surrogate_accuracy(args)
    if args.sur_command == "analyze":
        from neuroscape.analysis.derivatives import derivative_report
        from neuroscape.plot.derivatives import partials_histograms

        sur = load_surrogate(args.surrogate)
        try:
            report, d1, d2 = derivative_report(sur, n=args.n, seed=args.seed)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "derivatives.json").write_text(json.dumps(report, indent=2))
        partials_histograms(
            d1,
            sur.parameter_names,
            sur.output_names,
            "first partials x domain length (Hz), predicted output in O",
            out / "first_partials.png",
        )
        partials_histograms(
            d2,
            sur.parameter_names,
            sur.output_names,
            "1/2 second partials x domain length^2 (Hz)",
            out / "second_partials.png",
        )
        lg = report.get("logistic", {})
        acc = (
            (
                f"; logistic accuracy on P {lg['on_P']['accuracy']:.3f}, on P and O "
                f"{lg['on_P_and_O']['accuracy']:.3f}"
            )
            if lg
            else ""
        )
        print(f"{report['n_in_O']} of {report['n_sampled']} samples in O{acc} -> {out}/")
        return 0
    from neuroscape.io import read_params_csv, write_csv_atomic
    from neuroscape.models import get_spec

    sur = load_surrogate(args.surrogate, device=args.device)
    table = read_params_csv(args.params, get_spec(sur.model))
    mean, std = sur.predict(
        table, return_std=True, allow_outside=args.allow_outside, precision=args.precision
    )
    header = sur.parameter_names + sur.output_names
    rows = np.column_stack([table, mean])
    if sur.config.ensemble > 1:
        header += [f"{o}_std" for o in sur.output_names]
        rows = np.column_stack([rows, std])
    write_csv_atomic(args.out, header, rows)
    print(f"{len(table)} predictions -> {args.out}", file=sys.stderr)
    return 0


def cmd_tune(args) -> int:
    from neuroscape.surrogate import load_surrogate
    from neuroscape.surrogate.tune import tune, verify

    sur = load_surrogate(args.surrogate)
    target = {}
    for item in args.target:
        name, _, raw = item.partition("=")
        try:
            target[name.strip()] = float(raw)
        except ValueError:
            raise CLIError(f"--target {item!r}: expected NAME=NUMBER") from None
    res = tune(
        sur, target, starts=args.starts, steps=args.steps, lr=args.lr, tol=args.tol, seed=args.seed
    )
    n_c = int(res.candidate.sum())
    print(
        f"{n_c}/{len(res.candidate)} starts reached an L1 gap < {args.tol:g} "
        f"({100 * res.success_fraction:.0f}%) in {res.wall_time_s:.1f} s"
    )
    if n_c == 0:
        best = float(res.gap_l1.min())
        print(
            f"neuroscape: warning: no candidate; the closest start is {best:.3g} away: the "
            "target may lie outside what the surrogate can reach",
            file=sys.stderr,
        )
    if args.verify and n_c:
        verify(res, sur, seed=args.seed)
        err = res.simulated_errors(sur.output_names)
        med = ", ".join(f"{k} {v:.3g}" for k, v in zip(target, np.median(err, 0), strict=True))
        print(f"simulated: median |error| {med} Hz over {n_c} candidates")
    cand = res.params[res.candidate]
    if len(cand):
        spread = ", ".join(
            f"{n} [{cand[:, j].min():.3g}, {cand[:, j].max():.3g}]"
            for j, n in enumerate(sur.parameter_names)
        )
        print(f"candidate ranges: {spread}")
    if args.out:
        from neuroscape.io import write_csv_atomic

        header = sur.parameter_names + [f"{o}_pred" for o in sur.output_names] + ["gap_l1"]
        rows = np.column_stack([res.params, res.predicted, res.gap_l1])[res.candidate]
        if res.simulated is not None and len(rows):
            header += [f"{o}_sim" for o in sur.output_names]
            rows = np.column_stack([rows, res.simulated])
        write_csv_atomic(args.out, header, rows)
        print(f"candidates -> {args.out}", file=sys.stderr)
    return 0 if n_c else 1


def cmd_reproduce(args) -> int:
    from neuroscape.analysis.reproduce import reproduce

    if args.paper != "zhang-young-2020":
        raise CLIError(f"unknown paper {args.paper!r}; allowed: zhang-young-2020")
    report = reproduce(
        args.out, quick=args.quick, workers=args.workers, log=lambda m: print(m, file=sys.stderr)
    )
    print(f"report -> {report}")
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

    su = sub.add_parser("surrogate", help="train a DNN surrogate on a database, or predict")
    susub = su.add_subparsers(dest="sur_command", required=True)
    st = susub.add_parser("train")
    st.add_argument("--db", required=True)
    st.add_argument("--out", required=True, metavar="DIR")
    st.add_argument("--n", type=int, default=None, help="train on a random subset of n runs")
    st.add_argument("--hidden", default="800,200,200")
    st.add_argument("--activation", default="sigmoid")
    from neuroscape.surrogate.core import SurrogateConfig

    dflt = SurrogateConfig()  # the CLI's defaults are the API's (one place)
    st.add_argument("--epochs", type=int, default=dflt.max_epochs, help="maximum epochs")
    st.add_argument("--patience", type=int, default=dflt.patience, help="early-stopping patience")
    st.add_argument("--ensemble", type=int, default=1, help="members of a deep ensemble")
    st.add_argument("--lr", type=float, default=dflt.lr)
    st.add_argument("--batch-size", type=int, default=dflt.batch_size)
    st.add_argument(
        "--lr-decay-patience",
        type=int,
        default=dflt.lr_decay_patience,
        help="halve the learning rate after this many epochs without improvement (0: never)",
    )
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--device", default="cpu")
    st.add_argument("--verbose", action="store_true")
    sp2 = susub.add_parser("predict")
    sp2.add_argument("surrogate", metavar="DIR")
    sp2.add_argument("--params", required=True, metavar="IN.csv")
    sp2.add_argument("--out", required=True, metavar="OUT.csv")
    sp2.add_argument("--device", default="cpu")
    sp2.add_argument(
        "--precision",
        default="float32",
        choices=["float32", "bfloat16"],
        help="bfloat16: hidden layers in bfloat16, faster on CPUs with AMX/AVX512-BF16",
    )
    sp2.add_argument(
        "--allow-outside",
        action="store_true",
        help="predict outside the training domain (with a warning)",
    )
    sac = susub.add_parser("accuracy", help="test error against training-set size")
    sac.add_argument("--db", required=True, help="training database")
    sac.add_argument("--test-db", required=True, help="test database (independent points)")
    sac.add_argument("--sizes", default="200,500,1000,2000")
    sac.add_argument("--hidden", default="800,200,200")
    sac.add_argument("--activation", default="sigmoid")
    sac.add_argument("--epochs", type=int, default=2000)
    sac.add_argument("--seed", type=int, default=0)
    sac.add_argument(
        "--lr-decay-from-n",
        type=int,
        default=None,
        metavar="N",
        help="halve the learning rate on 20-epoch plateaus for training sets of N runs or more "
        "(helps at 20,000, hurts at 500)",
    )
    sac.add_argument(
        "--noise-floor",
        type=int,
        default=0,
        metavar="K",
        help="also simulate K test points twice to measure the noise floor",
    )
    sac.add_argument("--out", required=True, metavar="DIR")
    sa = susub.add_parser("analyze", help="derivative statistics (seed 004, Figs. 3-6)")
    sa.add_argument("surrogate", metavar="DIR")
    sa.add_argument("--n", type=int, default=500_000, help="uniform samples of the domain")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--out", required=True, metavar="DIR")
    su.set_defaults(func=cmd_surrogate)

    tu = sub.add_parser("tune", help="find parameters for target outputs through a surrogate")
    tu.add_argument("--surrogate", required=True, metavar="DIR")
    tu.add_argument("--target", required=True, nargs="+", metavar="NAME=VALUE")
    tu.add_argument("--starts", type=int, default=100)
    tu.add_argument("--steps", type=int, default=10000)
    tu.add_argument("--lr", type=float, default=0.03, help="Adam step in the unit box")
    tu.add_argument("--tol", type=float, default=0.2, help="L1 gap of a candidate (Hz)")
    tu.add_argument("--seed", type=int, default=0)
    tu.add_argument("--verify", action="store_true", help="simulate every candidate")
    tu.add_argument("--out", metavar="CANDIDATES.csv")
    tu.set_defaults(func=cmd_tune)

    sr = sub.add_parser("reproduce", help="reproduce a paper's analyses and figures")
    sr.add_argument("paper", help="zhang-young-2020")
    sr.add_argument("--quick", action="store_true", help="10x fewer simulations (~10 min)")
    sr.add_argument("--workers", type=int, default=None)
    sr.add_argument("--out", required=True, metavar="DIR")
    sr.set_defaults(func=cmd_reproduce)

    sd = sub.add_parser("demo", help="simulate the circuit and write its figure")
    sd.add_argument("--out", default="out", help="output folder (default: out/)")
    sd.set_defaults(func=cmd_demo)
    from neuroscape.cli.fit_cmds import add_parsers as add_fit_parsers

    add_fit_parsers(sub)
    from neuroscape.cli.theory_cmds import add_parsers as add_theory_parsers

    add_theory_parsers(sub)
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
