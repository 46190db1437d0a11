"""`neuroscape example NAME`: worked examples that write a figure and tables."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from neuroscape.cli.common import check_output_dir, positive_float, print_json


def _table(path: Path, cols: dict) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(cols))
        for row in zip(*(np.asarray(v).tolist() for v in cols.values()), strict=True):
            w.writerow(row)


def run_pavlov(out: str | Path, offset_ms: float = 7.0) -> dict:
    """Run the study, write the figure and tables into ``out`` (created), return the summary
    (units in the keys)."""
    out = Path(out)
    from neuroscape.analysis.pavlov import PavlovExampleError, pavlov_study
    from neuroscape.plot.pavlov import pavlov_figure

    if out.exists() and not out.is_dir():
        raise PavlovExampleError(f"--out {str(out)!r} is a file; allowed: a folder")
    s = pavlov_study(offset_ms)  # refuses a bad offset before anything is written
    out.mkdir(parents=True, exist_ok=True)
    pavlov_figure(s, out / "pavlov.png")
    cols = {"trials_completed": np.arange(s["w_trials_mv"].shape[1])}
    for o, w in zip(s["offsets_ms"], s["w_trials_mv"], strict=True):
        cols[f"w_mean_mV_offset_{o:+g}ms"] = w
    _table(out / "pavlov_trials.csv", cols)
    _table(out / "pavlov_window.csv", {"offset_ms": s["window_offsets_ms"],
                                       "w_mean_mV": s["window_w_mv"],
                                       "r_after_Hz": s["window_r_after_hz"]})
    return {
        f"offset_{o:+g}ms": {
            "r_before_Hz": float(s["r_before_hz"][j]),
            "r_after_Hz": float(s["r_after_hz"][j]),
            "spikes_per_bell_before": float(s["spikes_per_bell_before"][j]),
            "spikes_per_bell_after": float(s["spikes_per_bell_after"][j]),
            "w_initial_mV": float(s["w_trials_mv"][j, 0]),
            "w_final_mV": float(s["w_mean_mv"][j]),
        }
        for j, o in enumerate(s["offsets_ms"])
    } | {"figure": str(out / "pavlov.png")}




def cmd_example(args) -> int:
    check_output_dir(args.out)
    print_json(run_pavlov(args.out, offset_ms=args.offset_ms))
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "example",
        help="worked examples (pavlov: conditioning by STDP): a figure and tables into --out DIR",
        description="pavlov: the shipped network pavlov run with the bell before the food and "
        "reversed; writes pavlov.png (the bell weight over trials, responses to the bell alone "
        "before and after, the learning window) and CSV tables.",
    )
    p.add_argument("name", choices=("pavlov",), help="the example")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the figure and tables")
    p.add_argument("--offset-ms", type=positive_float, default=7.0,
                   help="food arrival after the bell's (ms); its reverse is run too "
                   "(default: 7.0)")
    p.set_defaults(func=cmd_example)
