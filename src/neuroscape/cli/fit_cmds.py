"""``neuroscape fit``, ``neuroscape target`` and ``neuroscape bifurcation``.

Every number printed carries its declared unit (``format_value``); ``--json`` prints one strict
JSON object (no NaN or Infinity: null) whose units sit in named ``*_units`` fields."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import (
    CLIError,
    add_stimulus_args,
    check_output_dir,
    check_output_file,
    dumps_strict,
    finite_float,
    format_value,
    neuron_values,
    nonneg_float,
    nonneg_int,
    parse_number,
    parse_pairs,
    parse_range,
    parse_set,
    positive_float,
    positive_int,
    print_json,
    stimulus_from_args,
    sweep_list,
)


class FitCLIError(CLIError):
    """A fit/target/bifurcation option the CLI refuses (kept for callers of the old name)."""


# the options that only some methods use: a given one that the method ignores is refused
_METHOD_OPTIONS = {
    "start": ("--start", ("cmaes", "gradient")),
    "sweep_db": ("--sweep-db", ("explore",)),
    "surrogate": ("--surrogate", ("gradient",)),
    "noise_sd": ("--noise-sd", ("sbi",)),
}


def _once(items: list[str] | None, option: str) -> None:
    """Refuse a parameter named twice (the second would silently replace the first)."""
    seen = set()
    for item in items or []:
        name = item.partition("=")[0].strip()
        if name in seen:
            raise FitCLIError(f"{option} {name} given twice; allowed: once per parameter")
        seen.add(name)


def _free(items: list[str] | None, spec) -> dict[str, tuple[float, float]]:
    """--free NAME (its declared domain) or NAME=LO:HI (in its declared unit)."""
    _once(items, "--free")
    out = {}
    for item in items or []:
        name, _, rng = item.partition("=")
        p = spec.parameter(name.strip())  # raises with the allowed names
        if rng:
            lo, sep, hi = rng.partition(":")
            if not sep or ":" in hi:
                raise FitCLIError(f"--free {item!r}: expected NAME=LO:HI")
            out[p.name] = (
                parse_number(lo, f"--free {p.name} low"),
                parse_number(hi, f"--free {p.name} high"),
            )
        else:
            out[p.name] = (p.low, p.high)
    return out


def _stimulus_json(stim, current_unit: str) -> dict | None:
    if stim is None:
        return None
    return {"kind": stim.kind, **stim.named(), "current_unit": current_unit}


# ------------------------------------------------------------------------------------------ fit
def cmd_fit(args) -> int:
    from neuroscape.fit import FitProblem, read_target, run_method
    from neuroscape.fit.measures import DEFAULT_MEASURE
    from neuroscape.models import resolve
    from neuroscape.models.neuron import NeuronModel

    if _is_recording(args):
        return cmd_fit_recording(args)
    model = resolve(args.model)  # a name, an entry point or FILE.py:NAME
    spec = model.spec
    check_output_dir(args.out)
    for key in _RECORDING_ONLY:
        if getattr(args, key, None) is not None:
            flag = "--" + key.replace("_", "-")
            raise FitCLIError(
                f"{flag} is for recording targets (.abf, .txt, or .nwb/.csv with --sweeps); "
                f"{args.target!r} is fitted as one trace or target"
            )
    ext = Path(args.target).suffix.lower()
    if ext not in (".csv", ".nwb", ".json") and not Path(args.target).is_dir():
        raise FitCLIError(
            f"target file {args.target!r}: extension {ext!r}; allowed: .csv, .nwb, .json (a "
            f"trace or target), or a recording: {', '.join(RECORDING_SUFFIXES)} (.nwb and .csv "
            "with --sweeps)"
        )
    if args.db is not None:
        check_output_file(args.db, (".db", ".sqlite", ".sqlite3"), "--db")
    for key, (flag, methods) in _METHOD_OPTIONS.items():
        if getattr(args, key) and args.method not in methods:
            raise FitCLIError(
                f"{flag} is not used by {args.method}; allowed with: {', '.join(methods)}"
            )
    _once(args.set, "--set")
    _once(args.start, "--start")
    fixed = parse_set(args.set, spec)
    free = _free(args.free, spec)
    start = parse_pairs(args.start, "--start")
    stimulus = stimulus_from_args(args)
    if stimulus is not None and not (isinstance(model, NeuronModel) or model.kind == "cell"):
        raise FitCLIError(
            f"--current/--stimulus are for single-neuron models, not {model.name!r} "
            f"({model.kind})"
        )
    target = read_target(args.target, args.series)
    problem = FitProblem(
        model,
        target,
        tuple(args.measure or [DEFAULT_MEASURE[target.kind]]),
        free,
        fixed=fixed,
        stimulus=stimulus,
        duration_ms=args.duration_ms,
        dt_ms=args.dt_ms,
        seed=args.seed,
        budget=args.budget,
        db=args.db,
        workers=args.workers,
    )
    options = {"threshold": args.threshold}
    if start:
        options["start"] = start
        problem.check_start(start)  # bounds that do not contain the start: an error, any method
    if args.sweep_db:
        options["sweep_db"] = args.sweep_db
    if args.surrogate:
        from neuroscape.surrogate import load_surrogate

        options["surrogate"] = load_surrogate(args.surrogate)
    if args.noise_sd is not None:
        options["noise_sd"] = args.noise_sd
    res = run_method(problem, args.method, seed=args.seed, **options)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"result": str(res.save(out / "result.json"))}
    files.update(_fit_figures(problem, res, out))
    _print_fit(args, problem, res, files)
    return 0


def _print_fit(args, problem, res, files: dict[str, str]) -> None:
    cu = problem.model.current_unit if problem.neuron else None
    eu = res.error_unit
    if args.json:
        print_json(
            {
                "model": res.model,
                "method": res.method,
                "stimulus": _stimulus_json(problem.stimulus, cu),
                "best": res.best,
                "parameter_units": res.parameter_units,
                "errors": dict(zip(res.measures, res.best_errors, strict=True)),
                "error_units": res.measure_units,
                "error": res.best_error,
                "error_unit": eu,  # of error and threshold; null when the measures differ
                "threshold": res.threshold,
                "simulations": res.n_sims,
                "failed_simulations": res.n_failed,  # scored inf, the worst error
                "first_failure": res.first_failure,
                "budget": problem.budget,
                "solutions": len(res.solutions),
                "truth": res.truth,
                "wall_time_s": res.wall_time_s,
                "files": files,
            }
        )
        return
    pu = res.parameter_units
    print(
        f"{res.model} fitted by {res.method}: {res.n_sims} of {problem.budget} simulations "
        f"in {format_value(res.wall_time_s, 's', '.3g')}"
    )
    if problem.stimulus is not None:
        print(f"stimulus: {problem.stimulus_description()}")
    print("best: " + ", ".join(f"{k} = {format_value(v, pu[k])}" for k, v in res.best.items()))
    if res.truth:
        print(
            "truth: " + ", ".join(f"{k} = {format_value(v, pu[k])}" for k, v in res.truth.items())
        )
    errs = ", ".join(
        f"{m} {format_value(e, res.measure_units[m])}"
        for m, e in zip(res.measures, res.best_errors, strict=True)
    )
    print(f"error: {errs}")
    if res.n_failed:
        print(
            f"failed: {res.n_failed} of {res.n_sims} simulations, scored as the worst error "
            f"(inf); the first: {res.first_failure}"
        )
    if eu is not None:
        within = f"within {format_value(res.threshold, eu)}"
    else:  # measures in different units: the threshold bounds their plain sum
        within = f"whose summed measures are within {res.threshold:.4g} (mixed units)"
    n = len(res.solutions)
    print(f"solution set: {n} point{'s' if n != 1 else ''} {within}")
    print("files: " + ", ".join(files.values()))


def _fit_figures(problem, res, out: Path) -> dict[str, str]:
    from neuroscape.plot import fit as pf

    files = {"convergence": str(out / "convergence.png")}
    pf.convergence_figure(res, files["convergence"])
    if problem.target.kind == "trace":
        x = np.array([[res.best[n] for n in problem.free_names]])
        sim = problem.simulate(x)  # for the figure only: not counted
        files["traces"] = str(out / "traces.png")
        pf.traces_figure(problem.target.t_ms, problem.target.v_mV, sim.v[0], files["traces"])
    if res.pareto_f is not None and res.pareto_f.shape[1] >= 2:
        files["pareto"] = str(out / "pareto.png")
        pf.pareto_figure(res, files["pareto"])
    if res.posterior is not None:
        files["posterior"] = str(out / "posterior.png")
        pf.posterior_figure(
            res, files["posterior"], param_units=[res.parameter_units[n] for n in res.free_names]
        )
    return files


# ----------------------------------------------------------------------------- recordings
RECORDING_SUFFIXES = (".abf", ".txt", ".dat")  # always a recording; .nwb/.csv with --sweeps
_RECORDING_OPTIONS = ("sweeps", "validate_sweeps", "v_offset", "window_ms")
# options of a recording fit that a one-trace fit would ignore: refused there
_RECORDING_ONLY = ("objective", "rms_window", "settle_ms", "spike_threshold_mv", "current_per_na")


def _is_recording(args) -> bool:
    """A recording target (sweeps scored by features): an ABF or t/I/V text file, or any file
    with --sweeps, --validate-sweeps, --v-offset or --window-ms."""
    if Path(args.target).suffix.lower() in RECORDING_SUFFIXES:
        return True
    return any(getattr(args, k, None) is not None for k in _RECORDING_OPTIONS)


def _window(text: str | None, option: str) -> tuple[float, float] | None:
    if text is None:
        return None
    a, sep, b = text.partition(":")
    if not sep:
        raise FitCLIError(f"{option} {text!r}: expected START:STOP (ms)")
    lo, hi = parse_number(a, f"{option} start"), parse_number(b, f"{option} stop")
    if not 0 <= lo < hi:
        raise FitCLIError(f"{option} {text!r}: allowed: 0 <= START < STOP (ms)")
    return (lo, hi)


def cmd_fit_recording(args) -> int:
    """``neuroscape fit MODEL --target FILE.abf --sweeps ... --validate-sweeps ...``: a
    multi-sweep feature fit (``neuroscape.fit.protocols``) and the held-out prediction."""
    from neuroscape.fit import run_method
    from neuroscape.fit.problem import FitError
    from neuroscape.fit.protocols import SweepFitProblem
    from neuroscape.fit.recordings import RecordingError, read_sweeps

    check_output_dir(args.out)
    model = _neuron_model(args.model, "recordings")
    refused = {
        "--measure": args.measure,
        "--series": args.series,
        "--duration-ms": args.duration_ms,
        "--db": args.db,
    }
    for flag, v in refused.items():
        if v is not None:
            why = {
                "--measure": "the sweeps are scored by --objective (features per sweep)",
                "--series": "the file's current-clamp sweeps are read (--sweeps selects)",
                "--duration-ms": "each sweep sets its own length (--window-ms cuts them)",
                "--db": "a sweep fit writes no model database",
            }[flag]
            raise FitCLIError(f"{flag} is not used with a recording target: {why}")
    for key, (flag, methods) in _METHOD_OPTIONS.items():
        if getattr(args, key) and args.method not in methods:
            raise FitCLIError(
                f"{flag} is not used by {args.method}; allowed with: {', '.join(methods)}"
            )
    fit_idx = sweep_list(args.sweeps, "--sweeps")
    held_idx = sweep_list(args.validate_sweeps, "--validate-sweeps") or []
    both = sorted(set(fit_idx or []) & set(held_idx))
    if both:
        raise FitCLIError(
            f"sweep {both[0]} is in --sweeps and --validate-sweeps; allowed: fitted or held out"
        )
    current = None
    if args.current is not None or args.stimulus is not None:
        if args.stimulus is None and args.t_on is None:
            raise FitCLIError(
                "--current with a recording: give the step's onset --t-on MS (and --t-off MS); "
                "the file does not say when it was injected"
            )
        current = stimulus_from_args(args)  # in nA: the recording's unit
    rs = [_window(w, "--rms-window") for w in args.rms_window or []]
    sweeps = read_sweeps(
        args.target,
        v_offset_mV=0.0 if args.v_offset is None else args.v_offset,
        current_nA=current,
        window_ms=_window(args.window_ms, "--window-ms"),
        # only the chosen sweeps are read and checked (a cell's file holds other protocols)
        sweeps=None if fit_idx is None else [*fit_idx, *held_idx],
    )
    if fit_idx is None:
        fit_idx = [k for k in sweeps.indices() if k not in held_idx]
        if not fit_idx:
            raise FitCLIError("every sweep is held out; allowed: at least one to fit (--sweeps)")
    fitted = sweeps.select(fit_idx)
    held = sweeps.select(held_idx) if held_idx else None
    _once(args.set, "--set")
    _once(args.start, "--start")
    fixed = parse_set(args.set, model.spec)
    free = _free(args.free, model.spec)
    start = parse_pairs(args.start, "--start")
    if args.objective and "window_rms" in args.objective and not rs:
        raise FitCLIError("--objective window_rms needs --rms-window T0:T1 (ms)")
    try:
        problem = SweepFitProblem(
            model,
            fitted,
            free,
            objectives=args.objective,
            fixed=fixed,
            rms_windows=rs,
            settle_ms=200.0 if args.settle_ms is None else args.settle_ms,
            spike_threshold_mV=(
                -20.0 if args.spike_threshold_mv is None else args.spike_threshold_mv
            ),
            dt_ms=args.dt_ms,
            seed=args.seed,
            budget=args.budget,
            workers=args.workers,
            current_per_nA=args.current_per_na,
        )
    except (RecordingError, FitError) as e:  # the CLI's options where the API's names stand
        text = re.sub(r"window\(t_start_ms, t_stop_ms\)", "--window-ms START:STOP", str(e))
        text = re.sub(r"window\(([-\d.e+]+), ([-\d.e+]+)\)", r"--window-ms \1:\2", text)
        text = text.replace("give current_per_nA", "give --current-per-na")
        raise FitCLIError(text) from None
    if problem.insensitive():  # 2 n_free + 1 probe candidates, not counted
        print(
            f"neuroscape: warning: no free parameter ({', '.join(problem.free_names)}) changes "
            f"any objective of {model.name} on these sweeps: the fit cannot move",
            file=sys.stderr,
        )
    options = {"threshold": args.threshold}
    if start:
        options["start"] = start
        problem.check_start(start)
    if args.noise_sd is not None:
        options["noise_sd"] = args.noise_sd
    res = run_method(problem, args.method, seed=args.seed, **options)
    x = [res.best[n] for n in problem.free_names]
    fit_entries, fit_out = problem.predict(x, fitted)
    held_entries, held_out = problem.predict(x, held) if held is not None else ([], None)
    res.extra["validation"] = held_entries
    res.extra["fitted_sweeps"] = fit_entries
    res.extra["recording"] = sweeps.describe()
    res.extra["sweep_fit"] = problem.describe()
    res.extra["feature_units"] = _feature_units()
    res.extra["simulations_per_candidate"] = len(problem.sweep_data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"result": str(res.save(out / "result.json"))}
    files.update(sweep_fit_figures(problem, res, fit_out, held_out, out))
    _print_recording_fit(args, problem, res, sweeps, fit_entries, held_entries, files)
    return 0


def _feature_units() -> dict[str, str]:
    from neuroscape.fit.protocols import FEATURE_UNITS

    return dict(FEATURE_UNITS)


def sweep_fit_figures(problem, res, fit_out, held_out, out: Path) -> dict[str, str]:
    """convergence.png, sweeps.png (recorded and fitted V per sweep) and fi.png (the f-I
    curves) of a sweep fit; pareto.png for a multi-objective one."""
    from neuroscape.fit.protocols import spike_features
    from neuroscape.plot import fit as pf
    from neuroscape.plot.sweeps import fi_figure, sweeps_figure

    files = {"convergence": str(out / "convergence.png")}
    pf.convergence_figure(res, files["convergence"])
    if res.pareto_f is not None and res.pareto_f.shape[1] >= 2:
        files["pareto"] = str(out / "pareto.png")
        pf.pareto_figure(res, files["pareto"])
    runs = [(o, False) for o in [fit_out] if o is not None]
    runs += [(o, True) for o in [held_out] if o is not None]
    items = sorted(
        (
            (d, o.v[0, j, : len(d.t_ms)] if o.ok[0] else None, o.spikes[0][j] if o.ok[0] else None,
             held)
            for o, held in runs
            for j, d in enumerate(o.sweeps)
        ),
        key=lambda it: it[0].protocol.index,
    )  # fmt: skip
    cu = "nA"
    titles = [
        f"sweep {d.protocol.index}, {format_value(d.protocol.amp_nA, cu, 'g')}"
        + ("" if d.protocol.ramp_end_nA is None else
           f" to {format_value(d.protocol.ramp_end_nA, cu, 'g')} (ramp)")  # fmt: skip
        + ": "
        f"{int(d.features['spike_count'])} / {'-' if s is None else len(s)} spikes"
        for d, _, s, _ in items
    ]
    files["sweeps"] = str(out / "sweeps.png")
    sweeps_figure(
        [d.t_ms for d, *_ in items],
        [d.v_mV for d, *_ in items],
        [v for _, v, _, _ in items],
        titles,
        files["sweeps"],
        held_out=[h for *_, h in items],
        model_label=f"{problem.model.name} (recorded / model spikes in titles)",
    )
    steps = [it for it in items if it[0].protocol.ramp_end_nA is None]  # ramps: no f-I point
    if steps:
        files["fi"] = str(out / "fi.png")
        fi_figure(
            [d.protocol.amp_nA for d, *_ in steps],
            [d.features["fI_rate"] for d, *_ in steps],
            [None if s is None else spike_features(s, d.protocol)["fI_rate"]
             for d, _, s, _ in steps],
            files["fi"],
            held_out=[h for *_, h in steps],
            current_unit=cu,
        )  # fmt: skip
    return files


def _print_recording_fit(args, problem, res, sweeps, fit_entries, held_entries, files) -> None:
    from neuroscape.fit.protocols import spike_count_within

    spiking = [e for e in held_entries if e["spikes_recorded"] > 0]
    within = [e for e in spiking if spike_count_within(e["spikes_recorded"], e["spikes_model"])]
    if args.json:
        print_json(
            {
                "model": res.model,
                "method": res.method,
                "recording": sweeps.describe(),
                "fitted_sweeps": [e["sweep"] for e in fit_entries],
                "held_out_sweeps": [e["sweep"] for e in held_entries],
                "best": res.best,
                "parameter_units": res.parameter_units,
                "errors": dict(zip(res.measures, res.best_errors, strict=True)),
                "error_units": res.measure_units,
                "error": res.best_error,
                "error_unit": res.error_unit,
                "candidates": res.n_sims,
                "simulations_per_candidate": len(problem.sweep_data),
                "failed_candidates": res.n_failed,
                "first_failure": res.first_failure,
                "budget": problem.budget,
                "wall_time_s": res.wall_time_s,
                "validation": held_entries,
                "held_out_spiking_within_max_1_or_15pct": [len(within), len(spiking)],
                "files": files,
            }
        )
        return
    pu = res.parameter_units
    d = problem.describe()
    print(
        f"{res.model} fitted by {res.method} to {len(fit_entries)} sweeps of {sweeps.source} "
        f"(recorded every {format_value(d['recording_dt_ms'], 'ms', 'g')}, compared every "
        f"{format_value(d['sample_ms'], 'ms', 'g')}, simulated at "
        f"{format_value(d['dt_ms'], 'ms', 'g')}; V offset "
        f"{format_value(sweeps.v_offset_mV, 'mV', 'g')}): {res.n_sims} of {problem.budget} "
        f"candidates, each on {len(problem.sweep_data)} sweeps, in "
        f"{format_value(res.wall_time_s, 's', '.3g')}"
    )
    print("best: " + ", ".join(f"{k} = {format_value(v, pu[k])}" for k, v in res.best.items()))
    errs = ", ".join(
        f"{m} {format_value(e, 'sd')}" for m, e in zip(res.measures, res.best_errors, strict=True)
    )
    print(f"error (feature sds): {errs}")
    if res.n_failed:
        print(
            f"failed: {res.n_failed} of {res.n_sims} candidates, scored as the worst error "
            f"(inf); the first: {res.first_failure}"
        )
    for title, entries in (("fitted", fit_entries), ("held out", held_entries)):
        if not entries:
            continue
        print(f"{title} sweeps (recorded vs model spikes in the sweep):")
        for e in entries:
            model = "failed" if e["spikes_model"] is None else str(e["spikes_model"])
            cur = format_value(e["amp_nA"], "nA", "g")
            if e["ramp_end_nA"] is not None:
                cur = f"a ramp {cur} to {format_value(e['ramp_end_nA'], 'nA', 'g')}"
            print(
                f"  sweep {e['sweep']}, {cur}: "
                f"{e['spikes_recorded']} vs {model} spikes, feature error "
                f"{format_value(e['error'], 'sd', '.3g')}"
            )
    if held_entries:
        print(
            f"held-out spiking sweeps with the spike count within max(1 spike, 15%): "
            f"{len(within)} of {len(spiking)}"
        )
    print("files: " + ", ".join(files.values()))


# --------------------------------------------------------------------------------------- target
def cmd_target(args) -> int:
    """A synthetic trace target from known parameters (CSV or NWB by extension)."""
    from neuroscape.fit.measures import voltage_unit
    from neuroscape.fit.problem import describe_stimulus
    from neuroscape.fit.targets import (
        first_spike_ms,
        synthetic_trace,
        write_nwb,
        write_trace_csv,
    )
    m = _neuron_model(args.model, "traces")
    check_output_file(args.out, (".csv", ".nwb"), "--out")
    values = neuron_values(args, m)
    for k, v in values.items():  # refused before running, in the declared unit
        p = m.spec.parameter(k)
        if not p.low <= v <= p.high:
            raise FitCLIError(
                f"{k}={v:g} {p.unit} lies outside the declared domain "
                f"[{p.low:g}, {p.high:g}] {p.unit}"
            )
    stimulus = stimulus_from_args(args)
    if stimulus is None:
        raise FitCLIError(
            "give the stimulus the trace is recorded under: --current AMP (0 for none) "
            "or --stimulus KIND with --stim NAME=VALUE"
        )
    dt = args.dt_ms or m.default_dt_ms
    rec = round(args.sample_ms / dt)
    if rec < 1 or abs(rec * dt - args.sample_ms) > 1e-6 * args.sample_ms:
        raise FitCLIError(
            f"--sample-ms {args.sample_ms:g} is not a whole multiple of the time step "
            f"{dt:g} ms; allowed: {dt:g}, {2 * dt:g}, ... ms"
        )
    tg = synthetic_trace(
        m,
        values,
        stimulus,
        duration_ms=args.duration_ms,
        dt_ms=dt,
        record_every=rec,
        noise_mV=args.noise_mv,
        seed=args.seed,
    )
    out = Path(args.out)
    if out.suffix.lower() == ".nwb":
        write_nwb(out, tg.t_ms, tg.v_mV, stimulus=stimulus, current_unit=m.current_unit)
    else:
        write_trace_csv(out, tg.t_ms, tg.v_mV, tg.current, m.current_unit)
    params = dict(zip(m.spec.parameter_names, m.spec.params_array(values)[0], strict=True))
    units = {p.name: p.unit for p in m.spec.parameters}
    first = first_spike_ms(m, tg)
    if args.json:
        print_json(
            {
                "model": args.model,
                "parameters": params,
                "parameter_units": units,
                "stimulus": _stimulus_json(stimulus, m.current_unit),
                "samples": len(tg.t_ms),
                "sample_ms": tg.dt_ms,
                "duration_ms": tg.duration_ms,
                "noise_mV": args.noise_mv,
                "v_unit": voltage_unit(m),
                "first_spike_ms": first,
                "current_recorded": tg.current is not None or out.suffix.lower() == ".nwb",
                "path": str(out),
            }
        )
        return 0
    print(
        f"{args.model} trace: {len(tg.t_ms)} samples every {format_value(tg.dt_ms, 'ms', 'g')} "
        f"over {format_value(tg.duration_ms, 'ms', 'g')}, noise SD "
        f"{format_value(args.noise_mv, 'mV', 'g')}; first spike: "
        f"{'none' if first is None else format_value(first, 'ms', 'g')}"
    )
    print(
        "parameters: "
        + ", ".join(f"{k} = {format_value(v, units[k], 'g')}" for k, v in params.items())
    )
    print(f"stimulus: {describe_stimulus(stimulus, m.current_unit, voltage_unit(m))}")
    if tg.current is None and out.suffix.lower() == ".csv":
        print(
            f"neuroscape: note: a {stimulus.kind} stimulus is drawn, not written to the CSV; "
            "a fit needs it given again (or write .nwb, which records it)",
            file=sys.stderr,
        )
    print(f"file: {out}")
    return 0


# ---------------------------------------------------------------------------------- bifurcation
def cmd_bifurcation(args) -> int:
    from neuroscape.fit.bifurcation import CURRENT, bifurcation_map, parameter_unit
    from neuroscape.plot.fit import bifurcation_figure

    # the equilibrium's Jacobian needs the right-hand side of a single neuron's equations
    m = _neuron_model(args.model, "bifurcation maps")
    check_output_dir(args.out)
    params, ranges = list(args.param), list(args.range or [])
    if len(params) not in (1, 2) or len(ranges) != len(params):
        raise FitCLIError(
            f"{len(params)} --param and {len(ranges)} --range given; allowed: one or two "
            "--param, each with its --range START:STOP:STEP or a,b,c"
        )
    allowed = [CURRENT, *m.spec.parameter_names]
    for p in params:
        if p not in allowed:
            raise FitCLIError(f"--param {p!r}: unknown; allowed: {', '.join(allowed)}")
    if CURRENT in params and args.current is not None:
        raise FitCLIError(f"--current: the current is swept (--param {CURRENT}); drop --current")
    _once(args.set, "--set")
    fixed = parse_set(args.set, m.spec)
    values = [parse_range(r, f"--range {p}") for p, r in zip(params, ranges, strict=True)]
    bm = bifurcation_map(
        m,
        params,
        values,
        fixed=fixed,
        current=0.0 if args.current is None else args.current,
        duration_ms=args.duration_ms,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    units = {p: parameter_unit(m, p) for p in params}
    bounds = [
        {"param": b.param, "value": b.value, "kind": b.kind, "at": dict(b.at)}
        for b in bm.boundaries
    ]
    doc = {"model": args.model, "params": params, "parameter_units": units, "boundaries": bounds}

    files = {"map": str(out / "map.csv"), "figure": str(out / "map.png")}
    bm.to_csv(files["map"])
    bifurcation_figure(bm, files["figure"], model=m)
    files["boundaries"] = str(out / "boundaries.json")
    Path(files["boundaries"]).write_text(dumps_strict(doc, indent=1))
    if args.json:
        print_json({**doc, "files": files})
        return 0
    grid = ", ".join(
        f"{p} from {format_value(v[0], units[p], 'g')} to {format_value(v[-1], units[p], 'g')} "
        f"({len(v)} values)"
        for p, v in zip(params, values, strict=True)
    )
    print(f"{args.model} map over {grid}")
    for b in bounds:
        at = "".join(f" ({k} = {format_value(v, units[k], 'g')})" for k, v in b["at"].items())
        print(f"{b['kind']} at {b['param']} = {format_value(b['value'], units[b['param']])}{at}")
    if not bounds:
        print("no boundary in the range")
    print("files: " + ", ".join(files.values()))
    return 0


def _neuron_model(ref: str, what: str):
    """The single-neuron model ``ref`` names; any other model (or an unknown name) is refused
    with the single-neuron models the registry holds."""
    from neuroscape.models import UnknownModelError, names, resolve
    from neuroscape.models.neuron import NeuronModel

    try:
        m = resolve(ref)
    except UnknownModelError:
        m = None
    if not (isinstance(m, NeuronModel) or (m is not None and m.kind == "cell")):
        what_is = "unknown" if m is None else f"a {m.kind} model"
        raise FitCLIError(
            f"model {ref!r} is {what_is}: {what} are for single-neuron models: "
            f"{', '.join(names('neuron'))}"
        )
    return m


# -------------------------------------------------------------------------------------- parsers
def _objective_names() -> list[str]:
    from neuroscape.fit.protocols import OBJECTIVES

    return list(OBJECTIVES)


def add_parsers(sub) -> None:
    from neuroscape.fit import MEASURES, METHODS, OUTPUTS_FORMAT

    f = sub.add_parser(
        "fit",
        help="fit free parameters to a trace, features, class, rates or output values",
        description="Fit free parameters of any model (a name, or FILE.py:NAME, e.g. a "
        "neuroscape.FunctionModel) to a target. Traces, features and classes are for "
        "single-neuron models; every model fits the values of its declared outputs: "
        + OUTPUTS_FORMAT
        + " (--measure outputs: the root of the sum of the squared scaled errors, "
        "dimensionless; in SDs where sd is given). A simulation that fails scores the worst "
        "error (inf) and is counted in the result.",
    )
    f.add_argument("model", help="a model name or FILE.py:NAME")
    f.add_argument(
        "--target",
        required=True,
        metavar="FILE",
        help="a recording (.abf, .txt t/I/V, or .nwb/.csv with --sweeps: see 'recordings' "
        "below), a t_ms,V_mV[,I_<unit>] CSV (the optional current column gives the stimulus), "
        "NWB current clamp, or JSON: rates {\"rates\": {\"r_E\": 25}} (Hz), outputs "
        "{\"outputs\": {\"rate\": 60, \"v_mean\": {\"value\": -65, \"sd\": 2}}} (declared "
        "units; without sd the error is relative), features, behaviour, ranges",
    )
    f.add_argument("--series", help="NWB: the acquisition series (default: the first)")
    f.add_argument(
        "--measure",
        action="append",
        choices=list(MEASURES),
        help="repeat for several (summed; objectives of nsga2); default by target: rms "
        "(trace), rates, outputs, features, class. outputs: sqrt(sum ((model - value) / "
        "(sd, else |value|))^2), dimensionless, any model; rates: sum of |model - value| "
        "in Hz; gamma: 1 - the coincidence factor of the spike trains (Kistler et al. 1997; "
        "precision 4 ms), dimensionless",
    )
    f.add_argument("--method", default="cmaes", choices=list(METHODS))
    f.add_argument(
        "--free",
        action="append",
        required=True,
        metavar="NAME[=LO:HI]",
        help="a free parameter and its bounds in its declared unit (default: its domain)",
    )
    f.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="fixed parameter (default: the declared defaults)",
    )
    f.add_argument(
        "--start",
        action="append",
        metavar="NAME=VALUE",
        help="start point of cmaes or gradient (default: the declared defaults, clipped to "
        "the box)",
    )
    f.add_argument("--budget", type=positive_int, default=1000, help="most simulations to spend")
    f.add_argument("--seed", type=nonneg_int, default=0, help="seed of the method (and noise)")
    f.add_argument(
        "--threshold",
        type=positive_float,
        default=None,
        help="error bound of the solution set, in the error's unit (default: twice the best)",
    )
    f.add_argument(
        "--db", help="model database (.db) receiving every evaluated point (default: none)"
    )
    f.add_argument(
        "--sweep-db", help="explore: score this sweep database's runs (default: simulate)"
    )
    f.add_argument(
        "--surrogate",
        metavar="DIR",
        help="gradient: descend through this surrogate (default: simulate)",
    )
    f.add_argument(
        "--noise-sd",
        type=nonneg_float,
        default=None,
        help="sbi: the trace's noise SD in mV (default 0)",
    )
    f.add_argument(
        "--duration-ms",
        type=positive_float,
        default=None,
        help="simulated ms (default: the trace's length, else the model's declared run)",
    )
    f.add_argument("--dt-ms", type=positive_float, default=None, help="default: the model's")
    f.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes of a function model (default 1); CPU threads of the others "
        "(default: all cores)",
    )
    add_stimulus_args(f)
    r = f.add_argument_group(
        "recordings",
        "a family of current-clamp sweeps (ABF, NWB icephys, t/I/V text): every candidate runs "
        "on all fitted sweeps in one batch, scored by eFEL features per sweep in units of "
        "per-feature sds (BluePyOpt's way); --budget counts candidates. With a recording, "
        "--current/--t-on/--t-off (or --stimulus) give the injected current in nA for a file "
        "that records none",
    )
    r.add_argument("--sweeps", metavar="LIST", default=None,
                   help="sweeps to fit: file indices from 0, 1,3,5 or START:STOP:STEP (default: "
                   "all but the held-out ones)")  # fmt: skip
    r.add_argument("--validate-sweeps", metavar="LIST", default=None,
                   help="held-out sweeps to predict (result.json: validation; default: none)")
    r.add_argument("--v-offset", type=finite_float, default=None, metavar="MV",
                   help="liquid-junction offset subtracted from the recorded V (mV; default 0)")
    r.add_argument("--window-ms", metavar="START:STOP", default=None,
                   help="keep this part of every sweep (ms), e.g. to cut a protocol of several "
                   "steps down to one (default: whole sweeps)")  # fmt: skip
    r.add_argument("--objective", action="append", default=None, choices=_objective_names(),
                   help="repeat for several (summed; objectives of nsga2; default: "
                   "spike_count, fI, spike_timing, subthreshold, and ap_shape for models with "
                   "action potentials, window_rms with --rms-window)")  # fmt: skip
    r.add_argument("--rms-window", action="append", metavar="T0:T1", default=None,
                   help="window (ms, every sweep) of the window_rms objective; repeatable "
                   "(default: none)")  # fmt: skip
    r.add_argument("--settle-ms", type=nonneg_float, default=None,
                   help="the model runs this long without input before each sweep (ms; "
                   "default 200)")  # fmt: skip
    r.add_argument("--current-per-na", type=positive_float, default=None, metavar="X",
                   help="the model's current units per nA of recorded current, for a model "
                   "whose current is a density or dimensionless (uA/cm^2: 1e5 / the membrane "
                   "area in um^2; default: none, pA/nA models convert by prefix)")  # fmt: skip
    r.add_argument("--spike-threshold-mv", type=finite_float, default=None,
                   help="the recording's spike detection level (mV; default -20, eFEL's)")
    f.add_argument(
        "--out", required=True, metavar="DIR", help="result.json and the figures of the fit"
    )
    f.add_argument("--json", action="store_true", help="print the summary as strict JSON")
    f.set_defaults(func=cmd_fit)

    t = sub.add_parser("target", help="a synthetic trace target (CSV or NWB) from known parameters")
    t.add_argument("model")
    t.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a parameter's value (default: the declared defaults)",
    )
    t.add_argument("--preset", help="a named parameter set of the model (default: none)")
    t.add_argument("--duration-ms", type=positive_float, default=200.0, help="trace length (ms)")
    t.add_argument("--dt-ms", type=positive_float, default=None, help="default: the model's")
    t.add_argument(
        "--sample-ms", type=positive_float, default=0.1, help="sampling interval of the trace"
    )
    t.add_argument("--noise-mv", type=nonneg_float, default=0.0, help="Gaussian noise SD (mV)")
    t.add_argument("--seed", type=nonneg_int, default=0, help="seed of the noise")
    add_stimulus_args(t)
    t.add_argument(
        "--out",
        required=True,
        metavar="FILE.csv|FILE.nwb",
        help="a CSV holds t_ms,V_mV and, for a step or ramp, the current; an NWB file the stimulus",
    )
    t.add_argument("--json", action="store_true", help="print the summary as strict JSON")
    t.set_defaults(func=cmd_target)

    b = sub.add_parser("bifurcation", help="behaviour map over 1-2 parameters, Hopf/saddle-node")
    b.add_argument("model")
    b.add_argument(
        "--param",
        action="append",
        required=True,
        help="a model parameter, or I (constant injected current)",
    )
    b.add_argument(
        "--range",
        action="append",
        metavar="START:STOP:STEP|a,b,c",
        help="the values of each --param, increasing, in its declared unit (no default: one "
        "per --param)",
    )
    b.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="fixed parameter (default: the declared defaults)",
    )
    b.add_argument(
        "--current",
        type=finite_float,
        default=None,
        help="injected current when I is not swept (default 0)",
    )
    b.add_argument(
        "--duration-ms", type=positive_float, default=2000.0, help="simulated ms per grid point"
    )
    b.add_argument(
        "--out", required=True, metavar="DIR", help="map.csv, map.png and boundaries.json"
    )
    b.add_argument("--json", action="store_true", help="print the boundaries as strict JSON")
    b.set_defaults(func=cmd_bifurcation)
