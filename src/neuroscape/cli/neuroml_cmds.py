"""`neuroscape simulate LEMS_FILE.xml`: run a LEMS file's <Simulation> of single cells and write
its OutputFile and EventOutputFile as jNeuroML does (tab-separated; time in s, then each
column in SI units; events as 'time<TAB>id' (TIME_ID) or 'id<TAB>time' (ID_TIME), time in s).
File names are relative to the LEMS file's folder, as in jNeuroML."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import CLIError

# options of `simulate` that a LEMS file's Simulation decides itself
_LEMS_FIXED = ("set", "params", "preset", "duration_ms", "dt_ms", "window_ms", "integrator",
               "current", "stimulus", "stim", "t_on", "t_off", "out", "save_spikes", "plot",
               "phase_plane", "sample_ms", "conn_seed", "connectivity")  # fmt: skip


def is_lems_file(model) -> bool:
    """A LEMS simulation file (``FILE.xml``, not ``FILE.xml:CELL_ID``)."""
    return isinstance(model, str) and model.endswith(".xml")


def run_lems(path: str, *, workers: int | None = None) -> dict:
    """Run the Simulation of LEMS file ``path``: {population: {"t_ms", "states" (n, n_states,
    n_samples+1; the initial state first), "spikes" [per cell: times in ms]}}, and the
    simulation read (``LemsSimulation``)."""
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.models.neuroml import read_lems_simulation
    from neuroscape.sim.neuron_engine import simulate_neurons

    sim = read_lems_simulation(path)
    if sim.connections or sim.runner_inputs:  # coupled cells, or inputs the runner evaluates:
        # every cell stepped in jLEMS's order
        from neuroscape.models.neuroml.lems_network import run_network

        return {"simulation": sim, "populations": run_network(sim)}
    recorded = {c.population for o in sim.outputs for c in o.columns}
    n_steps = int(round(sim.length_ms / sim.step_ms))
    results: dict = {}
    for run in sim.runs:
        model = run.model
        names = model.spec.parameter_names
        rows = np.array([[p[n] for n in names] for p in run.params], dtype=float)
        stim = make_stimulus(run.stim_kind, **{k: [r[k] for r in run.stim_rows]
                                               for k in run.stim_rows[0]})  # fmt: skip
        record = run.population in recorded
        res = simulate_neurons(
            model, rows, stim, duration_ms=n_steps * sim.step_ms, dt_ms=sim.step_ms,
            integrator="euler", record_v=record, record_every=1, allow_outside=True,
            workers=workers,
        )  # fmt: skip
        bad = [i for i, ok in zip(run.indices, res.ok, strict=True) if not ok]
        if bad:
            err = res.errors[run.indices.index(bad[0])]
            raise CLIError(f"{path}: {run.population}[{bad[0]}] ({run.component}) failed: {err}")
        pop = results.setdefault(run.population, {"spikes": {}, "states": {}, "t_ms": None})
        y0 = np.asarray(model.initial_state(rows), dtype=float)
        for j, i in enumerate(run.indices):
            pop["spikes"][i] = np.asarray(res.spike_times[j], dtype=float)
            if record:
                # jNeuroML's row at t = k dt holds the state after k steps (Sim.run writes
                # after each advance), except for a cell with Regimes (a refractory one): its
                # exposed states are synchronised before the regime's own rates advance
                # (StateInstance.advance), so its row k holds the state after k - 1 steps
                # and the first row is repeated. The same rows here, so the files diff.
                first = [y0[j][:, None]] * (2 if model.refractory_param is not None else 1)
                body = res.states[j] if len(first) == 1 else res.states[j][:, :-1]
                pop["states"][i] = np.concatenate([*first, body], axis=1)
        if record:
            pop["t_ms"] = np.arange(n_steps + 1) * sim.step_ms
    return {"simulation": sim, "populations": results}


def write_text_atomic(path: Path, text: str) -> None:
    from neuroscape.io import atomic_file

    with atomic_file(path) as tmp, open(tmp, "x") as fh:
        fh.write(text)


def _fmt(x: float) -> str:
    return f"{x:.9g}"


def write_outputs(path: str, out: dict) -> list[str]:
    """Write the Simulation's OutputFiles and EventOutputFiles (relative to the LEMS file's
    folder); returns the paths written."""
    sim = out["simulation"]
    pops = out["populations"]
    base = Path(path).resolve().parent
    written = []
    for of in sim.outputs:
        target = base / of.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        t = None
        cols = []
        for c in of.columns:
            p = pops[c.population]
            t = p["t_ms"]
            names = next(r.model.states for r in sim.runs if r.population == c.population
                         and c.index in r.indices)  # fmt: skip
            cols.append(p["states"][c.index][list(names).index(c.state)] * c.si_factor)
        if t is None:
            t = np.arange(int(round(sim.length_ms / sim.step_ms)) + 1) * sim.step_ms
        lines = []
        for k in range(len(t)):
            vals = "".join(f"{_fmt(col[k])}\t" for col in cols)
            lines.append(f"{_fmt(t[k] * 1e-3)}\t{vals}\n")
        write_text_atomic(target, "".join(lines))
        written.append(str(target))
    for ef in sim.event_outputs:
        target = base / ef.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        events = []
        for sid, pop, i in ef.selections:
            for ts in pops.get(pop, {"spikes": {}})["spikes"].get(i, []):
                events.append((float(ts) * 1e-3, sid))
        events.sort(key=lambda e: (e[0], e[1]))
        if ef.format == "TIME_ID":
            text = "".join(f"{_fmt(ts)}\t{sid}\n" for ts, sid in events)
        else:
            text = "".join(f"{sid}\t{_fmt(ts)}\n" for ts, sid in events)
        write_text_atomic(target, text)
        written.append(str(target))
    return written


def simulate_lems(args) -> int:
    """`neuroscape simulate LEMS_FILE.xml`."""
    for flag in _LEMS_FIXED:
        v = getattr(args, flag, None)
        if v not in (None, False, []):
            raise CLIError(f"--{flag.replace('_', '-')}: a LEMS file's <Simulation> sets the run "
                           "(length, step, inputs, outputs); allowed with a LEMS file: --workers")
    out = run_lems(args.model, workers=getattr(args, "workers", None))
    written = write_outputs(args.model, out)
    sim = out["simulation"]
    n_cells = sum(len(r.indices) for r in sim.runs)
    n_src = sum(sim.sizes[p] for p in sim.sources)
    n_src = f", {n_src} spike sources" if n_src else ""
    n_conn = f", {len(sim.connections)} connections" if sim.connections else ""
    n_spk = sum(len(s) for p in out["populations"].values() for s in p["spikes"].values())
    print(f"{args.model}: Simulation {sim.id}: {n_cells} cells{n_src}{n_conn}, "
          f"{sim.length_ms:g} ms at {sim.step_ms:g} ms (forward Euler, jLEMS's order), "
          f"{n_spk} spikes", file=sys.stderr)
    for w in written:
        print(f"-> {w}", file=sys.stderr)
    return 0
