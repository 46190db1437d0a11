"""`neuroscape simulate CELL.yaml`: one run of a multi-compartment cell.

NEURON's vocabulary: ``--current`` is an IClamp's amplitude in nA, into ``soma(0.5)`` (the root
section's middle) unless ``--at SECTION(x)`` says otherwise; ``--record SECTION(x)`` adds a
recorded location to the trace (``--out``); ``--set`` takes a declared parameter or any
address of the cell (``dend.L``, ``soma.hh.gnabar``).
"""

from __future__ import annotations

import re
import sys

import numpy as np

from neuroscape.cli.common import (
    CLIError,
    column_name,
    format_value,
    parse_number,
    print_json,
    spike_list,
)

_LOCATION = re.compile(r"\s*([A-Za-z_]\w*(?:\[\d+\])?)\s*(?:\(\s*([^)]*)\s*\))?\s*")
# options of other model kinds that a cell does not take (refused, never ignored)
_NOT_FOR_CELLS = ("preset", "phase_plane", "conn_seed", "connectivity", "sonata_spikes")


def parse_location(text: str, cell, option: str = "--at") -> tuple[str, float]:
    """``SECTION(x)`` (or ``SECTION``: its middle) checked against ``cell``: a known section
    and 0 <= x <= 1."""
    from neuroscape.models.multicomp.description import CellError
    from neuroscape.models.multicomp.model import check_location

    m = _LOCATION.fullmatch(text or "")
    if m is None:
        raise CLIError(f"{option} {text!r}; allowed: SECTION(x), e.g. soma(0.5) or dend[2](1)")
    section = m.group(1)
    x = 0.5 if m.group(2) is None else parse_number(m.group(2), f"{option} {text}")
    if not 0.0 <= x <= 1.0:
        raise CLIError(f"{option} {text}: x = {x:g} is outside the section; allowed: 0 <= x <= 1")
    try:
        check_location(cell, section, x)
    except CellError as exc:
        raise CLIError(f"{option} {text}: {exc}") from None
    return section, float(x)


def cell_values(items: list[str] | None, model):
    """``--set`` of a cell: (the model with every undeclared address set, the declared
    parameters' values). Declared parameters stay row values; other addresses are written
    into the description (one run, one value)."""
    from neuroscape.models.multicomp.description import CellError

    declared, written = {}, {}
    names = set(model.spec.parameter_names)
    for item in items or []:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CLIError(f"--set {item!r}: expected NAME=VALUE")
        if name in declared or name in written:
            raise CLIError(f"--set {name} is given twice; allowed: once")
        value = parse_number(raw, f"--set {name}")
        (declared if name in names else written)[name] = value
    if written:
        try:
            model = model.with_values(written)
        except CellError as exc:
            raise CLIError(f"--set: {exc}") from None
    spec = model.spec
    spec.params_from_mapping(declared)  # bounds checked by the engine with --allow-outside
    return model, declared


def simulate_cell(args, resolve_settings, stimulus) -> int:
    """One run of ``args.model`` (a CellModel); ``resolve_settings(args, spec)`` gives
    (duration, dt, window, integrator)."""
    from neuroscape.models.multicomp.model import CELL_SCHEMES
    from neuroscape.sim.cable_engine import run_cell

    for flag in _NOT_FOR_CELLS:
        if getattr(args, flag, None):
            flag = flag.replace("_", "-")
            raise CLIError(f"--{flag} is not an option of multi-compartment cells")
    if args.params is not None:
        raise CLIError("--params: a table of cell parameter sets runs with `neuroscape sweep`")
    model, declared = cell_values(args.set, args.model)
    cell, spec = model.cell, model.spec
    duration, dt, window, integrator = resolve_settings(args, spec)
    if integrator not in CELL_SCHEMES:
        raise CLIError(
            f"--integrator {integrator}; allowed for a multi-compartment cell: "
            f"{', '.join(CELL_SCHEMES)}"
        )
    stim_at = parse_location(args.at, cell) if args.at else (cell.root, 0.5)
    record = [(cell.root, 0.5)] + [parse_location(r, cell, "--record") for r in args.record or []]
    params = spec.params_array(declared or None, allow_outside=args.allow_outside)
    stimulus.check(duration)
    res = run_cell(
        cell,
        model.values(params),
        stimulus=stimulus,
        stim_at=stim_at,
        dt_ms=dt,
        duration_ms=duration,
        integrator=integrator,
        record=record,
        seed=args.seed,
        workers=args.workers,
        device=args.device,
    )
    spikes = np.asarray(res.spikes[0])
    ok = bool(np.all(np.isfinite(res.v[0])))
    t_start = duration - window
    n_window = int(np.count_nonzero(spikes >= t_start))
    rate = n_window / (window * 1e-3)
    where = f"{stim_at[0]}({stim_at[1]:g})"
    if args.json:
        print_json(
            {
                "model": spec.name,
                "kind": "cell",
                "parameters": dict(zip(spec.parameter_names, params[0].tolist(), strict=True)),
                "parameter_units": {p.name: p.unit for p in spec.parameters},
                "stimulus": {"kind": stimulus.kind, **stimulus.named(), "at": where},
                "current_unit": model.current_unit,
                "spike_location": f"{cell.root}(0.5)",
                "rate_hz": rate,
                "spike_count": len(spikes),
                "spike_count_in_window": n_window,
                "spike_times_ms": spikes.tolist(),
                "ok": ok,
                "error": None if ok else "the membrane potential became NaN or infinite",
                "settings": {
                    "duration_ms": duration,
                    "dt_ms": dt,
                    "window_ms": window,
                    "integrator": integrator,
                },
                "seed": args.seed,
            }
        )
    else:
        print(
            f"rate={format_value(rate, 'Hz')} at {cell.root}(0.5)  spikes={len(spikes)} in the "
            f"run, {n_window} in the {window:g} ms window  spike times: {spike_list(spikes)} ms"
        )
        if not ok:
            print("neuroscape: simulation failed: V became NaN or infinite", file=sys.stderr)
    current = stimulus.current_at(res.t_ms - 0.5 * dt)
    if args.out:
        from neuroscape.io import write_csv_atomic

        header = ["t_ms"] + [column_name(f"V_{s}({x:g})", "mV") for s, x in record]
        cols = [np.round(res.t_ms, 9), *res.v[0]]
        if current is not None:
            header.append(column_name(f"I_{where}", model.current_unit))
            cols.append(current)
        write_csv_atomic(args.out, header, np.column_stack(cols))
        print(f"trace ({len(res.t_ms)} samples) -> {args.out}", file=sys.stderr)
    if args.save_spikes:
        from neuroscape.io import write_csv_atomic

        write_csv_atomic(args.save_spikes, ["time_ms"], [[float(t)] for t in spikes])
        print(f"{len(spikes)} spike times -> {args.save_spikes}", file=sys.stderr)
    if args.plot:
        from neuroscape.plot.neuron import trace_figure

        title = f"{spec.name} " + ", ".join(
            f"{k}={format_value(v, spec.parameter(k).unit, 'g')}" for k, v in declared.items()
        )
        trace_figure(
            res.t_ms,
            res.v[0, 0],
            spikes,
            title,
            f"V {cell.root}(0.5)",
            args.plot,
            v_unit="mV",
            stim_current=current,
            current_unit=model.current_unit if current is not None else None,
        )
        print(f"figure -> {args.plot}", file=sys.stderr)
    return 0 if ok else 1
