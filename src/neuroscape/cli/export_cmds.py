"""`neuroscape export-neuroml MODEL --out DIR`: a single-cell equation model as NeuroML2 (the cell
and a one-cell network with a pulseGenerator) plus a LEMS simulation file that jNeuroML runs
(`pynml LEMS_MODEL.xml -nogui`) and `neuroscape simulate DIR/LEMS_MODEL.xml` reproduces.
The element is recognised from the model's equations (neuroscape.models.neuroml.export)."""

from __future__ import annotations

import sys
from pathlib import Path

from neuroscape.cli.common import (
    DEFAULT_T_ON_MS,
    finite_float,
    neuron_values,
    nonneg_float,
    positive_float,
)

DEFAULT_DT_MS = 0.005  # jLEMS's forward Euler step: small enough to agree with neuroscape's own


def cmd_export_neuroml(args) -> int:
    from neuroml.writers import NeuroMLWriter

    from neuroscape.cli.neuroml_cmds import write_text_atomic
    from neuroscape.models import resolve
    from neuroscape.models.neuroml.export import export_cell

    model = resolve(args.model)
    values = neuron_values(args, model) if model.kind == "neuron" else {}
    ex = export_cell(model, values=values, amp=args.amp, t_on_ms=args.t_on, t_off_ms=args.t_off,
                     duration_ms=args.duration_ms, dt_ms=args.dt_ms)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nml_path = out / ex.nml_file
    tmp = out / f".{ex.nml_file}.tmp"
    NeuroMLWriter.write(ex.doc, str(tmp))
    tmp.replace(nml_path)
    lems_path = out / ex.lems_file
    write_text_atomic(lems_path, ex.lems)
    print(f"{model.name}: {ex.element} {ex.cell_id}; " + "; ".join(ex.notes), file=sys.stderr)
    print(f"-> {nml_path}\n-> {lems_path}", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("export-neuroml", help="write a single-cell equation model as NeuroML2 "
                       "and a LEMS simulation file")
    p.add_argument("model", help="a single-cell equation model (name or FILE.yaml)")
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
    p.add_argument("--dt-ms", type=positive_float, default=DEFAULT_DT_MS,
                   help=f"jLEMS's forward Euler step in ms (default {DEFAULT_DT_MS:g})")
    p.set_defaults(func=cmd_export_neuroml)
