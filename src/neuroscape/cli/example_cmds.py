"""`neuroscape example NAME`: worked examples that write a figure and tables."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from neuroscape.cli.common import (
    CLIError,
    check_output_dir,
    finite_float,
    nonneg_int,
    positive_float,
    positive_int,
    print_json,
)


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




# ------------------------------------------------------------------------ fit-real-cell
# the shipped recording: pyABF's sample step family (Scott W. Harden, MIT licence)
SHIPPED_RECORDING = Path(__file__).resolve().parents[3] / "tests" / "data" / "recordings" / (
    "171116sh_0018.abf"
)
# AdEx (Brette and Gerstner 2005): these parameters are free within adex's declared domains (E_L
# around the recorded rest); V_cut fixed at -30 mV: above the take-off of every V_T, Delta_T in
# the box short of the largest (the spike is its crossing, within a fraction of a ms of the
# recorded peak), and low enough that the exponential stays finite in a step
ADEX_FREE = ("C", "g_L", "V_T", "Delta_T", "a", "tau_w", "b", "V_r")
ADEX_FIXED = {"V_cut": -30.0}  # mV
E_L_BELOW_REST_MV, E_L_ABOVE_REST_MV = 10.0, 5.0
FIT_REAL_CELL_BUDGET = 2000  # candidates (each simulated on every fitted sweep)


def fit_real_cell(
    out: str | Path,
    recording: str | Path | None = None,
    *,
    budget: int = FIT_REAL_CELL_BUDGET,
    seed: int = 0,
    v_offset_mV: float = 0.0,
    workers: int | None = None,
) -> dict:
    """Fit the shipped ``adex`` model by CMA-ES to the odd sweeps of a step-family recording
    (default: the shipped pyABF sample) and predict the even ones; the sweeps are cut to their
    first step (``fit.protocols.single_step_window``). Writes result.json, sweeps.png, fi.png,
    convergence.png and spike_counts.md (per sweep: current, recorded and model spike counts)
    into ``out``; returns the summary (units in the keys)."""
    import time

    from neuroscape.cli.fit_cmds import sweep_fit_figures
    from neuroscape.fit import run_method
    from neuroscape.fit.problem import FitError
    from neuroscape.fit.protocols import (
        SweepFitProblem,
        single_step_window,
        spike_count_within,
        step_protocol,
    )
    from neuroscape.fit.recordings import read_sweeps
    from neuroscape.models import resolve

    t0 = time.perf_counter()
    out = Path(out)
    path = Path(recording) if recording is not None else SHIPPED_RECORDING
    if recording is None and not path.is_file():
        raise FitError(
            f"the example's recording {str(path)!r} ships with the source repository "
            "(tests/data/recordings); run from a checkout, or give --recording FILE"
        )
    sweeps = read_sweeps(path, v_offset_mV=v_offset_mV)
    t_stop = single_step_window(sweeps)
    if t_stop < sweeps.duration_ms - 1e-9:
        sweeps = sweeps.window(0.0, t_stop)
    odd = [k for k in sweeps.indices() if k % 2 == 1]
    even = [k for k in sweeps.indices() if k % 2 == 0]
    if not odd or not even:
        raise FitError(
            f"{path}: {len(sweeps)} sweep(s); the example fits the odd sweeps and predicts the "
            "even ones: allowed: at least 2 sweeps"
        )
    fitted, held = sweeps.select(odd), sweeps.select(even)
    # the recorded rest: the median V before the steps of the fitted sweeps (mV)
    pre = [s.v_mV[s.t_ms < step_protocol(fitted, s.index).t_on_ms] for s in fitted.sweeps]
    pre = [v for v in pre if len(v)]
    if not pre:
        raise FitError(f"{path}: no sweep has a baseline before its step (the recorded rest)")
    rest = float(np.median(np.concatenate(pre)))
    # E_L around the rest, within adex's declared domain (a cell that rests above it, e.g.
    # firing spontaneously, gets the domain's top 15 mV)
    spec = resolve("adex").spec
    dom = spec.parameter("E_L")
    centre = min(max(rest, dom.low + E_L_BELOW_REST_MV), dom.high - E_L_ABOVE_REST_MV)
    lo, hi = centre - E_L_BELOW_REST_MV, centre + E_L_ABOVE_REST_MV
    free = {**{k: (spec.parameter(k).low, spec.parameter(k).high) for k in ADEX_FREE},
            "E_L": (lo, hi)}
    problem = SweepFitProblem(
        "adex", fitted, free, fixed=dict(ADEX_FIXED), budget=budget, seed=seed, workers=workers
    )
    res = run_method(problem, "cmaes", seed=seed)
    x = [res.best[n] for n in problem.free_names]
    fit_entries, fit_out = problem.predict(x, fitted)
    held_entries, held_out = problem.predict(x, held)
    wall = time.perf_counter() - t0
    res.extra.update(
        validation=held_entries,
        fitted_sweeps=fit_entries,
        recording=sweeps.describe(),
        sweep_fit=problem.describe(),
        example_wall_time_s=wall,
    )
    out.mkdir(parents=True, exist_ok=True)
    files = {"result": str(res.save(out / "result.json"))}
    files.update(sweep_fit_figures(problem, res, fit_out, held_out, out))
    rows = sorted(
        [(e, "fitted") for e in fit_entries] + [(e, "held out") for e in held_entries],
        key=lambda r: r[0]["sweep"],
    )
    spiking = [e for e in held_entries if e["spikes_recorded"] > 0]
    ok = [e for e in spiking if spike_count_within(e["spikes_recorded"], e["spikes_model"])]
    lines = [
        f"# adex fitted to {path.name}: recorded against model spike counts",
        "",
        f"Fitted on sweeps {', '.join(map(str, odd))} by CMA-ES ({res.n_sims} candidates, each "
        f"on {len(odd)} sweeps, {wall:.1f} s); sweeps {', '.join(map(str, even))} held out. "
        f"Sweeps cut to 0-{t_stop:g} ms (their first step). Held-out spiking sweeps within "
        f"max(1 spike, 15%): {len(ok)} of {len(spiking)}.",
        "",
        "| sweep | current (pA) | role | recorded spikes | model spikes | within max(1, 15%) |",
        "|---:|---:|---|---:|---:|---|",
    ]
    for e, role in rows:
        m = "failed" if e["spikes_model"] is None else str(e["spikes_model"])
        within = "yes" if spike_count_within(e["spikes_recorded"], e["spikes_model"]) else "no"
        lines.append(
            f"| {e['sweep']} | {1e3 * e['amp_nA']:g} | {role} | {e['spikes_recorded']} | {m} | "
            f"{within} |"
        )
    lines += ["", "Parameters (CMA-ES best):", ""]
    lines += [f"- {k} = {v:.4g} {res.parameter_units[k]}" for k, v in res.best.items()]
    lines += [f"- {k} = {v:g} mV (fixed)" for k, v in ADEX_FIXED.items()]
    (out / "spike_counts.md").write_text("\n".join(lines) + "\n")
    files["table"] = str(out / "spike_counts.md")
    return {
        "recording": str(path),
        "fitted_sweeps": odd,
        "held_out_sweeps": even,
        "window_ms": [0.0, t_stop],
        "candidates": res.n_sims,
        "simulations_per_candidate": len(odd),
        "best": res.best,
        "parameter_units": res.parameter_units,
        "error_sd": res.best_error,
        "held_out": [
            {"sweep": e["sweep"], "current_pA": 1e3 * e["amp_nA"],
             "spikes_recorded": e["spikes_recorded"], "spikes_model": e["spikes_model"]}
            for e in held_entries
        ],  # fmt: skip
        "held_out_spiking_within": len(ok),
        "held_out_spiking": len(spiking),
        "wall_time_s": wall,
        "files": files,
    }


def _pavlov(args) -> int:
    for flag, v in (("--budget", args.budget), ("--seed", args.seed),
                    ("--recording", args.recording), ("--v-offset", args.v_offset)):
        if v is not None:
            raise CLIError(f"{flag} is for fit-real-cell, not pavlov")  # fmt: skip
    offset = 7.0 if args.offset_ms is None else args.offset_ms
    print_json(run_pavlov(args.out, offset_ms=offset))
    return 0


def _fit_real_cell(args) -> int:
    if args.offset_ms is not None:
        raise CLIError("--offset-ms is for pavlov, not fit-real-cell")
    print_json(
        fit_real_cell(
            args.out,
            args.recording,
            budget=FIT_REAL_CELL_BUDGET if args.budget is None else args.budget,
            seed=0 if args.seed is None else args.seed,
            v_offset_mV=0.0 if args.v_offset is None else args.v_offset,
        )
    )
    return 0


# the worked examples by name, each refusing the options of the others
EXAMPLES = {"pavlov": _pavlov, "fit-real-cell": _fit_real_cell}


def cmd_example(args) -> int:
    check_output_dir(args.out)
    return EXAMPLES[args.name](args)


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "example",
        help="worked examples (pavlov: conditioning by STDP; fit-real-cell: AdEx fitted to a "
        "recorded step family): figures and tables into --out DIR",
        description="pavlov: the shipped network pavlov run with the bell before the food and "
        "reversed; writes pavlov.png (the bell weight over trials, responses to the bell alone "
        "before and after, the learning window) and CSV tables. fit-real-cell: the shipped "
        "adex model (Brette and Gerstner 2005) fitted by CMA-ES to the odd sweeps of a "
        "current-clamp step family (default: pyABF's sample recording 171116sh_0018.abf, "
        "Scott W. Harden, MIT licence) on eFEL features per sweep, predicting the even ones; "
        "writes result.json, sweeps.png, fi.png, convergence.png and spike_counts.md (about a "
        "minute on 2 cores at the default budget).",
    )
    p.add_argument("name", choices=tuple(EXAMPLES), help="the example")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the figure and tables")
    p.add_argument("--offset-ms", type=positive_float, default=None,
                   help="pavlov: food arrival after the bell's (ms); its reverse is run too "
                   "(default: 7.0)")
    p.add_argument("--recording", metavar="FILE", default=None,
                   help="fit-real-cell: the step family (.abf, .nwb, .txt; default: the "
                   "shipped one)")  # fmt: skip
    p.add_argument("--budget", type=positive_int, default=None,
                   help=f"fit-real-cell: candidates to simulate (default "
                   f"{FIT_REAL_CELL_BUDGET})")  # fmt: skip
    p.add_argument("--seed", type=nonneg_int, default=None,
                   help="fit-real-cell: seed of CMA-ES (default 0)")
    p.add_argument("--v-offset", type=finite_float, default=None, metavar="MV",
                   help="fit-real-cell: liquid-junction offset subtracted from V (mV; default "
                   "0)")  # fmt: skip
    p.set_defaults(func=cmd_example)
