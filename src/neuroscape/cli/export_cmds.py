"""`neuroscape export-neuroml MODEL --out DIR`: a single-cell equation model as NeuroML2 (the cell
and a one-cell network with a pulseGenerator), or a network of current-based integrate-and-fire
neurons (IF_curr_exp cells, expCurrSynapse synapses, its connections drawn for --conn-seed, its
initial state for --seed), plus a LEMS simulation file that jNeuroML runs
(`pynml LEMS_MODEL.xml -nogui`) and `neuroscape simulate DIR/LEMS_MODEL.xml` reproduces.
The elements are recognised from the model's equations (neuroscape.models.neuroml.export,
export_network)."""

from __future__ import annotations

import sys
from pathlib import Path

from neuroscape.cli.common import (
    DEFAULT_T_ON_MS,
    CLIError,
    finite_float,
    neuron_values,
    nonneg_float,
    nonneg_int,
    parse_set,
    positive_float,
)

DEFAULT_DT_MS = 0.005  # jLEMS's forward Euler step: small enough to agree with neuroscape's own


def cmd_export_neuroml(args) -> int:

    from neuroscape.models import resolve
    from neuroscape.models.neuroml.export import export_cell

    model = resolve(args.model)
    if model.kind == "network":
        return _export_network(args, model)
    for flag in ("size", "conn_seed", "seed"):
        if getattr(args, flag, None) not in (None, []):
            raise CLIError(f"--{flag.replace('_', '-')}: for networks only ({model.name} is a "
                           f"{model.kind} model)")
    values = neuron_values(args, model) if model.kind == "neuron" else {}
    ex = export_cell(model, values=values, amp=args.amp, t_on_ms=args.t_on, t_off_ms=args.t_off,
                     duration_ms=args.duration_ms,
                     dt_ms=DEFAULT_DT_MS if args.dt_ms is None else args.dt_ms)
    _write(ex, Path(args.out), f"{model.name}: {ex.element} {ex.cell_id}")
    return 0


def _write(ex, out: Path, what: str) -> None:
    """The export's NeuroML2 document and LEMS file into ``out`` (each written whole, then
    moved into place), and one line of what was written."""
    from neuroml.writers import NeuroMLWriter

    from neuroscape.cli.neuroml_cmds import write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    nml_path = out / ex.nml_file
    tmp = out / f".{ex.nml_file}.tmp"
    NeuroMLWriter.write(ex.doc, str(tmp))
    tmp.replace(nml_path)
    lems_path = out / ex.lems_file
    write_text_atomic(lems_path, ex.lems)
    print(f"{what}; " + "; ".join(ex.notes), file=sys.stderr)
    print(f"-> {nml_path}\n-> {lems_path}", file=sys.stderr)


def _sizes(items) -> dict[str, int]:
    out = {}
    for it in items or []:
        name, sep, n = it.partition("=")
        try:
            out[name.strip()] = int(n)
        except ValueError:
            n = None
        if not sep or n is None or out[name.strip()] < 1:
            raise CLIError(f"--size {it!r}; allowed: POP=N with N an integer >= 1")
    return out


def _export_network(args, net) -> int:

    from neuroscape.models.neuroml.export_network import export_network, resized
    from neuroscape.sim.network_engine import initial_states

    for flag in ("amp", "t_on", "t_off", "preset"):
        v = getattr(args, flag, None)
        if v not in (None, 0.0) and not (flag == "t_on" and v == DEFAULT_T_ON_MS):
            raise CLIError(f"--{flag.replace('_', '-')}: for single-cell models only; a network "
                           "is exported without inputs")
    net = resized(net, _sizes(args.size))
    params = parse_set(args.set, net.spec)
    conn_seed = 0 if args.conn_seed is None else args.conn_seed
    seed = 0 if args.seed is None else args.seed
    init = initial_states(net, params, seed)
    dt = None if args.dt_ms is None else args.dt_ms
    ex = export_network(net, net.graph(conn_seed), {k: v[:, 0] for k, v in init.items()},
                        params=params, duration_ms=args.duration_ms, dt_ms=dt)
    _write(ex, Path(args.out), f"{net.name} (conn-seed {conn_seed}, seed {seed})")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("export-neuroml", help="write a single-cell equation model or a "
                       "current-based integrate-and-fire network as NeuroML2 and a LEMS "
                       "simulation file")
    p.add_argument("model", help="a single-cell equation model or a network (name or FILE.yaml)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the .nml and LEMS files")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="a parameter's value (default: the declared defaults)")
    p.add_argument("--preset", help="named parameter set (default: none)")
    p.add_argument("--amp", type=finite_float, default=0.0,
                   help="pulse amplitude in the model's current unit (default 0: no input)")
    p.add_argument("--t-on", type=nonneg_float, default=DEFAULT_T_ON_MS,
                   help=f"pulse onset in ms (default {DEFAULT_T_ON_MS:g})")
    p.add_argument("--t-off", type=positive_float, help="pulse end in ms (default: the end)")
    p.add_argument("--duration-ms", type=positive_float,
                   help="simulation length in ms (default: the model's declared duration)")
    p.add_argument("--dt-ms", type=positive_float,
                   help=f"jLEMS's forward Euler step in ms (default {DEFAULT_DT_MS:g}; a "
                   "network: its own step)")
    p.add_argument("--size", action="append", metavar="POP=N",
                   help="network: a population's size, repeatable (a reduced network; the "
                   "connection rules drawn over the new sizes; default: the declared sizes)")
    p.add_argument("--conn-seed", type=nonneg_int,
                   help="network: the seed of its connections (default 0)")
    p.add_argument("--seed", type=nonneg_int,
                   help="network: the seed of its random initial state (row 0; default 0)")
    p.set_defaults(func=cmd_export_neuroml)
