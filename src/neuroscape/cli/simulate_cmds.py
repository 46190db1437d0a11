"""`neuroscape models|params|simulate|fi-curve|connectivity|demo`: one model, one run."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import (
    FIGURE_SUFFIXES,
    CLIError,
    add_stimulus_args,
    check_output_dir,
    check_output_file,
    column_name,
    compile_notice,
    format_value,
    neuron_values,
    nonneg_int,
    parse_range,
    parse_set,
    positive_float,
    positive_int,
    print_json,
    spike_list,
    stimulus_from_args,
)
from neuroscape.core.integrators import SCHEMES

# a plotted or saved trace keeps at most this many samples unless --sample-ms asks for more
_MAX_TRACE_SAMPLES = 200_000


MODEL_HELP = (
    "a model name (see neuroscape models), path/to/file.py:NAME, an equation file MODEL.yaml, "
    "a NeuroML2 cell CELLS.nml:CELL_ID, a multi-compartment cell CELL.yaml; simulate also "
    "takes a LEMS file SIM.xml (runs its "
    "<Simulation> and writes its output files, as jNeuroML)"
)


def _is_neuron(model) -> bool:
    """A single-neuron model (run by the neuron engine, with a stimulus)."""
    from neuroscape.models import resolve
    from neuroscape.models.neuron import NeuronModel

    return isinstance(resolve(model), NeuronModel)


def _resolve_settings(args, spec) -> tuple[float, float, float, str]:
    """Options given by the user, else the model's declared defaults (one rule, the engine's:
    ``SimSettings.for_model``, which also refuses impossible combinations)."""
    from neuroscape.core.settings import SimSettings

    s = SimSettings.for_model(
        spec,
        duration_ms=args.duration_ms,
        dt_ms=args.dt_ms,
        window_ms=args.window_ms,
        integrator=args.integrator,
    )
    return s.duration_ms, s.dt_ms, s.window_ms, s.integrator


# --- models and params ----------------------------------------------------------------------


def cmd_models(args) -> int:
    from neuroscape.models import available, resolve

    kinds = {"neuron": "single neuron", "network": "network", "theory": "population or theory"}
    rows = []
    for name in available():
        m = resolve(name)
        spec = m.spec
        rows.append(
            {
                "name": name,
                "kind": kinds.get(m.kind, m.kind),
                "description": spec.description,
                "parameters": len(spec.parameters),
                "outputs": [{"name": o.name, "unit": o.unit} for o in spec.outputs],
            }
        )
    if args.json:
        print_json(rows)
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:{width}s}  {r['description']}")
    print("details: neuroscape params MODEL", file=sys.stderr)
    return 0


def cmd_params(args) -> int:
    from neuroscape.models import resolve

    m = resolve(args.model)
    spec = m.spec
    if args.json:
        print_json(
            {
                **spec.to_dict(),
                "ref": m.ref,
                "kind": m.kind,
                "run_options": m.run_options,
                "source": None if m.source is None else m.source.as_dict(),
            }
        )
        return 0
    print(f"{spec.name} (v{spec.version}): {spec.description}")
    if m.source is not None:
        print(f"source: {m.source.file} (sha256 {m.source.sha256[:12]})")
    print("parameters:")
    for i, p in enumerate(spec.parameters, 1):
        unit = "" if p.unit in ("1", "") else p.unit
        print(
            f"{i:3d} {p.name:14s} [{p.low:g}, {p.high:g}] {unit:8s} default {p.default:g}"
            f"  {p.description}"
        )
    print("outputs:")
    for o in spec.outputs:
        unit = "(dimensionless)" if o.unit in ("1", "") else o.unit
        print(f"    {o.name:14s} {unit:15s} {o.description}")
    if spec.output_domain is not None:
        print(f"output domain: {spec.output_domain.description or spec.output_domain.as_dict()}")
    d = spec.settings
    if d.integrator == "own":  # a function model runs its own protocol
        print("default settings: the model's function sets its own protocol")
        return 0
    window = "the engine's rule" if d.window_ms is None else f"last {d.window_ms:g} ms"
    print(
        f"default settings: duration {d.duration_ms:g} ms, dt {d.dt_ms:g} ms, window {window}, "
        f"integrator {d.integrator}" + (f" ({d.note})" if d.note else "")
    )
    return 0


# --- simulate -------------------------------------------------------------------------------


def _check_flags(args, allowed_for: str, flags: tuple[str, ...]) -> None:
    """Refuse options that the model kind ignores (never drop a user's option silently)."""
    for flag in flags:
        v = getattr(args, flag, None)
        if v not in (None, False, []):
            raise CLIError(f"--{flag.replace('_', '-')} is for {allowed_for}")


_NEURON_ONLY = (
    "current",
    "stimulus",
    "stim",
    "preset",
    "phase_plane",
    "t_on",
    "t_off",
    "sample_ms",
)
_NETWORK_ONLY = ("conn_seed", "connectivity", "sonata_spikes")


def cmd_simulate(args) -> int:
    from neuroscape.cli.neuroml_cmds import is_lems_file, simulate_lems
    from neuroscape.models import resolve

    if is_lems_file(args.model):  # a LEMS file: run its <Simulation> (neuroml_cmds)
        return simulate_lems(args)
    model = resolve(args.model)
    spec = model.spec
    check_output_file(args.plot, FIGURE_SUFFIXES, "--plot")
    check_output_file(getattr(args, "phase_plane", None), FIGURE_SUFFIXES, "--phase-plane")
    check_output_file(args.out, (".csv",), "--out")
    check_output_file(args.save_spikes, (".csv",), "--save-spikes")
    check_output_file(getattr(args, "sonata_spikes", None), (".h5",), "--sonata-spikes")
    args.model = model  # resolved once (a file model is imported once)
    if model.kind == "cell":  # a multi-compartment cell (cell_cmds)
        from neuroscape.cli.cell_cmds import simulate_cell
        from neuroscape.core.stimuli import make_stimulus

        stimulus = stimulus_from_args(args) or make_stimulus("step", amp=0.0)
        return simulate_cell(args, _resolve_settings, stimulus)
    for flag in ("at", "record"):
        if getattr(args, flag, None):
            raise CLIError(f"--{flag} is an option of multi-compartment cells only")
    if _is_neuron(model):
        _check_flags(args, "network models", _NETWORK_ONLY)
        return _simulate_neuron(args, spec)
    _check_flags(args, "single-neuron models", _NEURON_ONLY)
    if "conn_seed" not in model.run_options:
        _check_flags(args, "network models with a graph", _NETWORK_ONLY)
    return _simulate_network(args, spec)


def _run_kwargs(args, spec) -> dict:
    """The keyword arguments of ``neuroscape.simulate`` that every model kind takes."""
    duration, dt, window, integrator = _resolve_settings(args, spec)
    return dict(
        seed=args.seed,
        duration_ms=duration,
        dt_ms=dt,
        window_ms=window,
        # none chosen: the engine picks the device's default (see neuroscape.simulate)
        integrator=integrator if args.integrator is not None else None,
        workers=args.workers,
        allow_outside=args.allow_outside,
    )


def _simulate_table(args, spec, **model_kwargs) -> int:
    """--params IN.csv --out OUT.csv: one row per parameter set, any model."""
    from neuroscape.api import simulate
    from neuroscape.io import read_params_csv

    if args.set or getattr(args, "preset", None):
        raise CLIError("--set/--preset and --params are exclusive: give one set or a table")
    if args.out is None:
        raise CLIError("--params IN.csv needs --out OUT.csv")
    if Path(args.out).resolve() == Path(args.params).resolve():
        raise CLIError(f"--out {args.out} is the --params table itself; allowed: another file")
    table = read_params_csv(args.params, spec)
    res = simulate(
        args.model, table, progress=not args.quiet, **_run_kwargs(args, spec), **model_kwargs
    )
    return _write_table(args, spec, res)


def _write_table(args, spec, res) -> int:
    from neuroscape.io import write_csv_atomic

    header = spec.parameter_names + spec.output_names + ["label", "ok", "error"]
    labels = res.labels if res.labels is not None else [""] * len(res)
    rows = [
        [
            *res.params[r].tolist(),
            *res.outputs[r].tolist(),
            labels[r] or "",
            int(res.ok[r]),
            res.errors[r] or "",
        ]
        for r in range(len(res))
    ]
    write_csv_atomic(args.out, header, rows)
    n_bad = int((~res.ok).sum())
    units = ", ".join(f"{o.name} ({o.unit})" for o in spec.outputs if o.unit not in ("1", ""))
    print(
        f"{len(res)} simulations in {res.wall_time_s:.2f} s "
        f"({res.wall_time_s / len(res) * 1e3:.1f} ms each) -> {args.out}"
        + (f" [units: {units}]" if units else "")
        + (f"; {n_bad} FAILED (see the error column)" if n_bad else ""),
        file=sys.stderr,
    )
    return 0 if n_bad == 0 else 1


def _simulate_neuron(args, spec) -> int:
    from neuroscape.models import get_neuron_model
    from neuroscape.sim.neuron_engine import (
        check_neuron_settings,
        device_integrator,
        simulate_neurons,
    )

    model = get_neuron_model(args.model)
    stimulus = stimulus_from_args(args)
    if stimulus is None:
        from neuroscape.core.stimuli import make_stimulus

        stimulus = make_stimulus("step", amp=0.0)
    if args.device != "cpu" and model.equations is None:
        raise CLIError(
            f"--device {args.device}: {model.name} has no equations to generate a torch kernel "
            "from; allowed: cpu"
        )
    if args.params is not None:
        return _simulate_table(args, spec, stimulus=stimulus, device=args.device)
    values = neuron_values(args, model)
    duration, dt, window, integrator = _resolve_settings(args, spec)
    want_trace = bool(args.plot or args.out or args.phase_plane)
    n_steps = int(round(duration / dt))
    if args.sample_ms is not None:
        if not want_trace:
            raise CLIError("--sample-ms samples a trace: it needs --out, --plot or --phase-plane")
        every = int(round(args.sample_ms / dt))
        if every < 1 or abs(every * dt - args.sample_ms) > 1e-9 * max(1.0, args.sample_ms):
            raise CLIError(
                f"--sample-ms {args.sample_ms:g}: allowed a whole multiple of the time step "
                f"{dt:g} ms"
            )
    else:
        every = max(1, math.ceil(n_steps / _MAX_TRACE_SAMPLES))
    if args.integrator is None:  # a CPU-only declared scheme gives way on a torch device
        integrator = device_integrator(model, args.device, None) or integrator
    check_neuron_settings(model, integrator, dt)  # refused before the compile notice
    with compile_notice(f"{model.name}-{integrator}"):
        res = simulate_neurons(
            model,
            values,
            stimulus,
            duration_ms=duration,
            dt_ms=dt,
            window_ms=window,
            integrator=integrator,
            seed=args.seed,
            record_v=want_trace,
            record_every=every,
            allow_outside=args.allow_outside,
            workers=args.workers,
            device=args.device,
        )
    spikes = np.asarray(res.spike_times[0])
    _warn_empty_window(len(spikes), int(res.counts[0]), res.window_ms)
    v_unit = _state_units(model)[0]
    out_units = {o.name: o.unit for o in spec.outputs}
    if args.json:
        print_json(
            {
                "model": spec.name,
                "parameters": dict(zip(spec.parameter_names, res.params[0].tolist(), strict=True)),
                "parameter_units": {p.name: p.unit for p in spec.parameters},
                "stimulus": {"kind": res.stimulus.kind, **res.stimulus.named()},
                "current_unit": model.current_unit,
                "rate_hz": float(res.rates[0]),
                "spike_count": len(spikes),
                "spike_count_in_window": int(res.counts[0]),
                "spike_times_ms": spikes.tolist(),
                "ok": bool(res.ok[0]),
                "error": res.errors[0],
                "settings": {
                    "duration_ms": res.duration_ms,
                    "dt_ms": res.dt_ms,
                    "window_ms": res.window_ms,
                    "integrator": res.integrator,
                },
                "seed": res.seed,
                "wall_time_s": res.wall_time_s,
            }
        )
    else:
        print(
            f"rate={format_value(res.rates[0], out_units.get('rate', 'Hz'))}  "
            f"spikes={len(spikes)} in the run, {int(res.counts[0])} in the "
            f"{res.window_ms:g} ms window  spike times: {spike_list(spikes)} ms"
        )
        if not res.ok[0]:
            print(f"neuroscape: simulation failed: {res.errors[0]}", file=sys.stderr)
    if args.out:
        _save_trace(args.out, res, model, v_unit)
    if args.save_spikes:
        from neuroscape.io import write_csv_atomic

        write_csv_atomic(args.save_spikes, ["time_ms"], [[float(t)] for t in spikes])
        print(f"{len(spikes)} spike times -> {args.save_spikes}", file=sys.stderr)
    title = f"{spec.name} " + ", ".join(
        f"{k}={format_value(v, spec.parameter(k).unit, 'g')}" for k, v in values.items()
    )
    if args.plot:
        from neuroscape.plot.neuron import trace_figure

        # t_v: the end of each step; the engine held the current at its midpoint
        current = res.stimulus.current_at(res.t_v - 0.5 * res.dt_ms)
        trace_figure(
            res.t_v,
            res.v[0],
            spikes,
            title,
            model.states[0],
            args.plot,
            v_unit=v_unit,
            stim_current=current,
            current_unit=model.current_unit if current is not None else None,
        )
        print(f"figure -> {args.plot}", file=sys.stderr)
    if args.phase_plane:
        _phase_plane(args, spec, model, res, title)
    return 0 if res.ok[0] else 1


def _warn_empty_window(n_run: int, n_window: int, window_ms: float) -> None:
    """A rate of 0 Hz from a window that caught none of the run's spikes is the window's, not
    the neuron's: say so rather than print a silently wrong rate."""
    if n_run >= 2 and n_window == 0:
        print(
            f"neuroscape: warning: the {window_ms:g} ms rate window holds none of the run's "
            f"{n_run} spikes: the rate 0 Hz says nothing about the firing; use a window longer "
            "than an interspike interval (--window-ms)",
            file=sys.stderr,
        )


def _state_units(model) -> tuple[str, ...]:
    """The declared unit of each state variable ("1": dimensionless)."""
    return tuple(model.state_units)


def _save_trace(path: str, res, model, v_unit: str) -> None:
    """t, every state and the stimulus current of row 0, one sample per row."""
    from neuroscape.io import write_csv_atomic

    units = _state_units(model)
    header = ["t_ms"] + [column_name(s, u) for s, u in zip(model.states, units, strict=True)]
    cols = [np.round(res.t_v, 9), *res.states[0]]  # t = k dt without float residue
    current = res.stimulus.current_at(res.t_v - 0.5 * res.dt_ms)  # held at mid-step
    if current is not None:
        header.append(column_name("I_stim", model.current_unit))
        cols.append(current)
    write_csv_atomic(path, header, np.column_stack(cols))
    print(f"trace ({len(res.t_v)} samples) -> {path}", file=sys.stderr)


def _phase_plane(args, spec, model, res, title: str) -> None:
    from neuroscape.models.equations.phase import nullclines
    from neuroscape.plot.neuron import phase_plane_figure

    w = nc = None
    curves = nullclines(model)  # solved from the equations (two states, one w per v)
    if curves is not None:  # the (v, w) plane with its nullclines; else V against dV/dt
        w = res.states[0, 1]
        amp = float(res.stimulus.values[0, 0])
        p_row = dict(zip(spec.parameter_names, res.params[0], strict=True))

        def nc(g):
            return curves(g, amp, p_row)

    units = _state_units(model)
    phase_plane_figure(
        res.v[0],
        res.dt_ms,
        title,
        args.phase_plane,
        w=w,
        nullclines=nc,
        v_unit=units[0],
        w_unit=units[1] if len(units) > 1 else None,
        v_name=model.states[0],
        w_name=model.states[1] if len(model.states) > 1 else "w",
    )
    print(f"figure -> {args.phase_plane}", file=sys.stderr)


def _simulate_network(args, spec) -> int:
    from neuroscape.api import simulate

    network = dict(
        conn_seed=args.conn_seed,
        connectivity=args.connectivity,
        device=args.device,
    )
    if args.params is not None and getattr(args, "sonata_spikes", None):
        raise CLIError("--sonata-spikes is for one parameter set; allowed without --params")
    if args.params is not None:
        return _simulate_table(args, spec, **network)
    if args.out is not None:
        raise CLIError("--out needs --params IN.csv (a table of parameter sets)")
    from neuroscape.sim.engine import batch_for

    wants_spikes = bool(args.plot or args.save_spikes or getattr(args, "sonata_spikes", None))
    graph = getattr(batch_for(args.model), "connectivity", None) if wants_spikes else None
    if wants_spikes and graph is None:
        raise CLIError(
            f"--plot/--save-spikes/--sonata-spikes need spike trains, which {spec.name} does not "
            "record; allowed for spiking networks with a graph (see neuroscape models)"
        )
    kw = _run_kwargs(args, spec)
    with compile_notice(f"{spec.name}-{kw['integrator'] or spec.settings.integrator}"):
        res = simulate(
            args.model, parse_set(args.set, spec), record_spikes=wants_spikes, **kw, **network
        )
    row = res.row(0)
    units = {o.name: o.unit for o in spec.outputs}
    label = res.labels[0] if res.labels is not None else None
    if args.json:
        out = {
            "model": spec.name,
            "parameters": {k: row[k] for k in spec.parameter_names},
            "parameter_units": {p.name: p.unit for p in spec.parameters},
            "outputs": {k: row[k] for k in spec.output_names},
            "output_units": units,
            "label": label,
            "ok": bool(res.ok[0]),
            "error": res.errors[0],
            "seed": res.seed,
            "settings": res.settings.as_dict(),
            **res.provenance,
            "wall_time_s": res.wall_time_s,
        }
        domain = spec.output_domain
        if domain is not None and res.ok[0]:
            out["in_output_domain"] = bool(domain.contains(res.outputs[:1], spec.output_names)[0])
        print_json(out)
    else:
        print(
            "  ".join(f"{k}={format_value(row[k], units[k])}" for k in spec.output_names)
            + (f"  ({label})" if label else "")
        )
        if not res.ok[0]:
            print(f"neuroscape: simulation failed: {res.errors[0]}", file=sys.stderr)
    if args.save_spikes:
        from neuroscape.io import write_csv_atomic

        t, idx = res.spikes[0]
        write_csv_atomic(args.save_spikes, ["time_ms", "neuron"], np.column_stack([t, idx]))
        print(f"{len(t)} spikes -> {args.save_spikes}", file=sys.stderr)
    if getattr(args, "sonata_spikes", None):
        from neuroscape.cli.sonata_io import write_sonata_spikes

        t, idx = res.spikes[0]
        write_sonata_spikes(args.sonata_spikes, t, idx, graph.sizes,
                            getattr(args.model, "sonata_nodes", None))
        print(f"{len(t)} spikes (times in ms, SONATA layout) -> {args.sonata_spikes}",
              file=sys.stderr)
    if args.plot is not None:
        _raster(args, spec, res, row, units, graph.sizes)
    return 0 if res.ok[0] else 1


def _raster(args, spec, res, row, units, sizes: dict[str, int]) -> None:
    from neuroscape.plot.raster import raster_figure

    t, idx = res.spikes[0]
    m = res.provenance
    title = ", ".join(
        f"{k}={format_value(row[k], spec.parameter(k).unit)}" for k in spec.parameter_names
    )
    title += "\n" + "  ".join(f"{k}={format_value(row[k], units[k])}" for k in spec.output_names)
    title += f"  (seed {res.seed}, graph {m['connectivity_sha256'][:10]})"
    raster_figure(
        t,
        idx,
        sizes,
        res.settings.duration_ms,
        title=title,
        window_ms=res.settings.window_ms,
        path=args.plot,
    )
    print(f"figure -> {args.plot}", file=sys.stderr)


# --- f-I curves -----------------------------------------------------------------------------


def cmd_fi_curve(args) -> int:
    from neuroscape.models import get_neuron_model, resolve
    from neuroscape.sim.neuron_engine import fi_curve

    if resolve(args.model).kind == "cell":
        return _fi_curve_cell(args)
    if args.at:
        raise CLIError("--at is an option of multi-compartment cells only")
    if not _is_neuron(args.model):
        from neuroscape.models import names

        raise CLIError(
            f"fi-curve takes a single-neuron model, not {args.model!r}; "
            f"allowed: {', '.join(names('neuron'))}"
        )
    check_output_dir(args.out)
    model = get_neuron_model(args.model)
    values = neuron_values(args, model)
    currents = parse_range(args.currents, "--currents")
    duration, dt, window, integrator = _resolve_settings(args, model.spec)
    with compile_notice(f"{model.name}-{integrator}"):
        fi = fi_curve(
            model,
            values,
            currents,
            duration_ms=duration,
            window_ms=window,
            dt_ms=dt,
            integrator=integrator,
            t_on_ms=args.t_on,
            allow_outside=args.allow_outside,
        )
    return _write_fi(args, fi, model.name, model.spec, values)


def _write_fi(args, fi, name: str, spec, values: dict) -> int:
    """fi_curve.csv and .png in --out, and the thresholds on one line."""
    from neuroscape.io import write_csv_atomic
    from neuroscape.plot._base import axis_label
    from neuroscape.plot.neuron import fi_figure

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cu = fi.current_unit
    write_csv_atomic(
        out / "fi_curve.csv",
        [column_name("current", cu), "rate_Hz", "spike_count"],
        np.column_stack([fi.currents, fi.rates, fi.counts]),
    )
    title = f"f-I curve of {name} " + ", ".join(
        f"{k}={format_value(v, spec.parameter(k).unit, 'g')}" for k, v in values.items()
    )
    fi_figure(fi.currents, fi.rates, title, axis_label("current", cu), out / "fi_curve.png")
    silent_window = (fi.counts >= 2) & (fi.rates == 0)
    if silent_window.any():
        _warn_empty_window(int(fi.counts[np.argmax(silent_window)]), 0, fi.window_ms)
    print(
        f"{len(fi.currents)} currents; rheobase (onset of repetitive firing) "
        f"{_bracket(fi.currents, fi.rheobase, cu)}; single-spike threshold "
        f"{_bracket(fi.currents, fi.single_spike_threshold, cu)} -> "
        f"{out / 'fi_curve.csv'}, {out / 'fi_curve.png'}"
    )
    return 0


def _fi_curve_cell(args) -> int:
    """fi-curve of a multi-compartment cell: steps into soma(0.5) (or --at), one batched run."""
    from neuroscape.cli.cell_cmds import cell_values, parse_location
    from neuroscape.models import resolve
    from neuroscape.sim.cell_batch import cell_fi_curve

    check_output_dir(args.out)
    if args.preset:
        raise CLIError("--preset is not an option of multi-compartment cells")
    model, values = cell_values(args.set, resolve(args.model))
    currents = parse_range(args.currents, "--currents")
    at = parse_location(args.at, model.cell) if args.at else None
    duration, dt, window, integrator = _resolve_settings(args, model.spec)
    with compile_notice(f"{model.name}-{integrator}"):
        fi = cell_fi_curve(
            model, values, currents, t_on_ms=args.t_on, duration_ms=duration, dt_ms=dt,
            window_ms=window, integrator=integrator, stim_at=at,
            allow_outside=args.allow_outside,
        )  # fmt: skip
    return _write_fi(args, fi, model.name, model.spec, values)


def _bracket(currents: np.ndarray, found: float | None, unit: str) -> str:
    """A threshold found on a grid lies between the grid point below it and the one it was
    found at: say so, instead of stating the grid point as the value."""
    if found is None:
        return f"above {format_value(currents.max(), unit, 'g')} (none in range)"
    c = np.sort(currents)
    below = c[c < found]
    if len(below) == 0:
        return f"at most {format_value(found, unit, 'g')} (the lowest current tested)"
    text = f"in ({below[-1]:g}, {found:g}]"
    return text if unit in ("1", "") else f"{text} {unit}"


# --- connectivity and demo -------------------------------------------------------------------


def cmd_connectivity(args) -> int:
    from neuroscape.sim.engine import batch_for

    check_output_file(args.out, (".npz",), "--out")
    model = batch_for(args.model, conn_seed=args.conn_seed)
    if not hasattr(model, "connectivity"):
        raise CLIError(
            f"model {args.model!r} has no random graph to export; allowed: network models "
            "with connectivity (see neuroscape models)"
        )
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
    check_output_dir(args.out)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    ns = parser.parse_args(["simulate", "cortical", "--plot", str(out / "cortical_raster.png")])
    return cmd_simulate(ns)


# --- parsers --------------------------------------------------------------------------------


def _settings_args(p, what: str) -> None:
    p.add_argument("--duration-ms", type=positive_float, help=f"run length in ms (default: {what})")
    p.add_argument("--dt-ms", type=positive_float, help=f"time step in ms (default: {what})")
    p.add_argument(
        "--window-ms",
        type=positive_float,
        help=f"rates over the last WINDOW ms of the run (default: {what})",
    )
    p.add_argument(
        "--integrator",
        help=f"{', '.join(SCHEMES)} (default: {what}; `neuroscape params MODEL` shows it and why)",
    )


def add_parsers(sub) -> None:
    sm = sub.add_parser("models", help="list the models with their descriptions")
    sm.add_argument("--json", action="store_true", help="strict JSON")
    sm.set_defaults(func=cmd_models)

    sp = sub.add_parser(
        "params", help="a model's parameters (bounds, units), outputs and default settings"
    )
    sp.add_argument("model", help=MODEL_HELP)
    sp.add_argument("--json", action="store_true", help="strict JSON")
    sp.set_defaults(func=cmd_params)

    ss = sub.add_parser("simulate", help="simulate one parameter set or a CSV table of them")
    ss.add_argument("model", help=MODEL_HELP)
    ss.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a parameter's value, once per name (default: the declared defaults)",
    )
    ss.add_argument(
        "--params", metavar="IN.csv", help="table of parameter sets, one per row (default: one set)"
    )
    ss.add_argument(
        "--out",
        metavar="OUT.csv",
        help="with --params: the results table; single neurons without --params: the trace "
        "(t, states, stimulus current) (default: not written)",
    )
    ss.add_argument(
        "--save-spikes",
        metavar="SPIKES.csv",
        help="spike times (and neuron indices) of the run (default: not written)",
    )
    ss.add_argument(
        "--sonata-spikes",
        metavar="SPIKES.h5",
        help="networks: the run's spikes in SONATA's HDF5 layout (/spikes/<population>/"
        "timestamps in ms, node_ids; sorted by time) (default: not written)",
    )
    ss.add_argument("--seed", type=nonneg_int, default=0, help="noise seed (row r uses (seed, r))")
    ss.add_argument(
        "--conn-seed", type=nonneg_int, help="networks: seed of the random graph (default 0)"
    )
    ss.add_argument(
        "--connectivity",
        metavar="GRAPH.npz",
        help="networks: use this graph file instead (default: the --conn-seed graph)",
    )
    _settings_args(ss, "the model's")
    add_stimulus_args(ss)
    ss.add_argument(
        "--preset",
        help="named parameter set, e.g. Izhikevich RS, IB, CH, FS (default: none)",
    )
    ss.add_argument(
        "--sample-ms",
        type=positive_float,
        help="single neurons: trace sampling interval in ms (default: dt, thinned to at most "
        f"{_MAX_TRACE_SAMPLES:,} samples)",
    )
    ss.add_argument(
        "--phase-plane",
        metavar="FILE.png",
        help="the (v, w) plane with its nullclines for two-state models whose nullclines solve "
        "for w (FitzHugh-Nagumo, Izhikevich, Morris-Lecar...), else V against dV/dt "
        "(default: not drawn)",
    )
    ss.add_argument(
        "--at",
        metavar="SECTION(x)",
        help="multi-compartment cells: where --current goes in (default: soma(0.5), the root "
        "section's middle)",
    )
    ss.add_argument(
        "--record",
        action="append",
        metavar="SECTION(x)",
        help="multi-compartment cells: another location whose V goes into --out, repeatable "
        "(default: soma(0.5) only)",
    )
    ss.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ss.add_argument("--workers", type=positive_int, help="CPU threads (default: all cores)")
    ss.add_argument(
        "--allow-outside",
        action="store_true",
        help="accept parameter values outside the model's declared domain",
    )
    ss.add_argument(
        "--plot",
        metavar="FILE.png",
        help="single neurons: V(t) over the stimulus; spiking networks: raster and rates "
        "(default: no figure)",
    )
    ss.add_argument("--json", action="store_true", help="print the result as strict JSON")
    ss.add_argument("--quiet", action="store_true", help="no progress bar")
    ss.set_defaults(func=cmd_simulate)

    sc = sub.add_parser("connectivity", help="export a network's random graph to an NPZ file")
    sc.add_argument("model")
    sc.add_argument("--conn-seed", type=nonneg_int, default=0)
    sc.add_argument("--out", required=True, metavar="GRAPH.npz", help="the graph file to write")
    sc.set_defaults(func=cmd_connectivity)

    sf = sub.add_parser("fi-curve", help="firing rate against step current: CSV and figure")
    sf.add_argument("model")
    sf.add_argument(
        "--currents", required=True, help="START:STOP:STEP or a,b,c (the model's current unit)"
    )
    sf.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a parameter's value (default: the declared defaults)",
    )
    sf.add_argument("--preset", help="named parameter set (default: none)")
    _settings_args(sf, "the model's")
    from neuroscape.cli.common import DEFAULT_T_ON_MS, nonneg_float

    sf.add_argument("--t-on", type=nonneg_float, default=DEFAULT_T_ON_MS, help="step onset in ms")
    sf.add_argument(
        "--allow-outside", action="store_true", help="accept values outside the declared domain"
    )
    sf.add_argument(
        "--at",
        metavar="SECTION(x)",
        help="multi-compartment cells: where the steps go in (default: soma(0.5))",
    )
    sf.add_argument("--out", required=True, metavar="DIR", help="folder for fi_curve.csv/.png")
    sf.set_defaults(func=cmd_fi_curve)

    sd = sub.add_parser("demo", help="simulate the circuit and write its figure")
    sd.add_argument("--out", default="out", help="output folder")
    sd.set_defaults(func=cmd_demo)
