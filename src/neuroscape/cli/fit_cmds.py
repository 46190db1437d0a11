"""``neuroscape fit``, ``neuroscape target`` and ``neuroscape bifurcation``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


class FitCLIError(ValueError):
    pass


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise FitCLIError(f"{what}: {text!r} is not a number") from None
    if not np.isfinite(v):
        raise FitCLIError(f"{what}: {text!r} is not a finite number")
    return v


def _free(items, spec) -> dict[str, tuple[float, float]]:
    """--free NAME (the declared domain) or NAME=LO:HI."""
    out = {}
    for item in items or []:
        name, _, rng = item.partition("=")
        p = spec.parameter(name.strip())  # raises with the allowed names
        if rng:
            lo, sep, hi = rng.partition(":")
            if not sep:
                raise FitCLIError(f"--free {item!r}: expected NAME=LO:HI")
            lo_v = _number(lo, f"--free {p.name} low")
            out[p.name] = (lo_v, _number(hi, f"--free {p.name} high"))
        else:
            out[p.name] = (p.low, p.high)
    return out


def _pairs(items, what) -> dict[str, float]:
    out = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        if not sep:
            raise FitCLIError(f"{what} {item!r}: expected NAME=VALUE")
        out[name.strip()] = _number(raw, f"{what} {name.strip()}")
    return out


def _stimulus_or_none(args, model_name):
    from neuroscape.cli.main import _stimulus
    from neuroscape.models import NEURON_MODELS

    if model_name not in NEURON_MODELS:
        return None
    return _stimulus(args)


def cmd_fit(args) -> int:
    from neuroscape.fit import FitProblem, read_target, run_method
    from neuroscape.models import get_spec

    spec = get_spec(args.model)
    target = read_target(args.target, args.series)
    fixed = _pairs(args.set, "--set")
    for k in fixed:
        spec.parameter(k)
    free = _free(args.free, spec)
    start = _pairs(args.start, "--start")
    problem = FitProblem(
        args.model,
        target,
        tuple(args.measure or ["rms"]),
        free,
        fixed=fixed,
        stimulus=_stimulus_or_none(args, args.model),
        duration_ms=args.duration_ms,
        dt_ms=args.dt_ms,
        seed=args.seed,
        budget=args.budget,
        db=args.db,
    )
    options = {"start": start or None, "threshold": args.threshold}
    if args.method == "explore" and args.sweep_db:
        options["sweep_db"] = args.sweep_db
    if args.method == "gradient" and args.surrogate:
        from neuroscape.surrogate import load_surrogate

        options["surrogate"] = load_surrogate(args.surrogate)
    if args.method == "sbi":
        options["noise_sd"] = args.noise_sd
    if start and args.method not in ("gradient", "cmaes"):
        print(f"neuroscape: note: --start is not used by {args.method}", file=sys.stderr)
    if start:
        problem.check_start(start)  # bounds that do not contain the start: an error, any method
    res = run_method(problem, args.method, seed=args.seed, **options)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result.json")
    _fit_figures(problem, res, out)
    summary = {
        "best": res.best,
        "error": res.best_error,
        "simulations": res.n_sims,
        "solutions": len(res.solutions),
        "wall_time_s": round(res.wall_time_s, 2),
    }
    print(json.dumps(summary))
    return 0


def _fit_figures(problem, res, out: Path) -> None:
    from neuroscape.plot import fit as pf

    pf.convergence_figure(res, out / "convergence.png")
    if problem.target.kind == "trace":
        x = np.array([[res.best[n] for n in problem.free_names]])
        sim = problem.simulate(x)  # for the figure only: not counted
        pf.traces_figure(problem.target.t_ms, problem.target.v_mV, sim.v[0], out / "traces.png")
    if res.pareto_f is not None and res.pareto_f.shape[1] >= 2:
        pf.pareto_figure(res, out / "pareto.png")
    if res.posterior is not None:
        pf.posterior_figure(res, out / "posterior.png")


def cmd_target(args) -> int:
    """A synthetic trace target from known parameters (CSV or NWB by extension)."""
    from neuroscape.cli.main import _neuron_values, _stimulus
    from neuroscape.fit.targets import synthetic_trace, write_nwb, write_trace_csv
    from neuroscape.models import NEURON_MODELS, get_neuron_model

    if args.model not in NEURON_MODELS:
        raise FitCLIError(f"traces are for single-neuron models: {', '.join(NEURON_MODELS)}")
    m = get_neuron_model(args.model)
    values = _neuron_values(args, m.spec, m)
    dt = args.dt_ms or m.default_dt_ms
    rec = max(1, int(round(args.sample_ms / dt)))
    tg = synthetic_trace(
        args.model,
        values,
        _stimulus(args),
        duration_ms=args.duration_ms,
        dt_ms=dt,
        record_every=rec,
        noise_mV=args.noise_mv,
        seed=args.seed,
    )
    out = Path(args.out)
    if out.suffix.lower() == ".nwb":
        write_nwb(out, tg.t_ms, tg.v_mV)
    elif out.suffix.lower() == ".csv":
        write_trace_csv(out, tg.t_ms, tg.v_mV)
    else:
        raise FitCLIError(f"--out {str(out)!r}: extension {out.suffix!r}; allowed: .csv, .nwb")
    print(f"{len(tg.t_ms)} samples every {tg.dt_ms:g} ms -> {out}", file=sys.stderr)
    return 0


def _range(text: str, name: str) -> np.ndarray:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise FitCLIError(f"--range {text!r} for {name}: expected LO:HI or LO:HI:N")
    lo, hi = _number(parts[0], f"--range {name} low"), _number(parts[1], f"--range {name} high")
    n = 41 if len(parts) == 2 else int(_number(parts[2], f"--range {name} N"))
    if not lo < hi or n < 2:
        raise FitCLIError(f"--range {text!r} for {name}: need LO < HI and N >= 2")
    return np.linspace(lo, hi, n)


def cmd_bifurcation(args) -> int:
    from neuroscape.fit.bifurcation import bifurcation_map
    from neuroscape.plot.fit import bifurcation_figure

    if len(args.param) not in (1, 2) or len(args.range or []) != len(args.param):
        raise FitCLIError("give one or two --param, each with its --range LO:HI[:N]")
    values = [_range(r, p) for p, r in zip(args.param, args.range, strict=True)]
    bm = bifurcation_map(
        args.model,
        list(args.param),
        values,
        fixed=_pairs(args.set, "--set"),
        current=args.current or 0.0,
        duration_ms=args.duration_ms,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bm.to_csv(out / "map.csv")
    bifurcation_figure(bm, out / "map.png")
    bounds = [{"param": b.param, "value": b.value, "kind": b.kind, **b.at} for b in bm.boundaries]
    (out / "boundaries.json").write_text(json.dumps(bounds, indent=1))
    for b in bounds:
        print(json.dumps(b))
    return 0


def add_parsers(sub) -> None:
    from neuroscape.fit import MEASURES, METHODS

    f = sub.add_parser("fit", help="fit free parameters to a trace, features, class or rates")
    f.add_argument("model")
    f.add_argument(
        "--target",
        required=True,
        metavar="FILE",
        help="t_ms,V_mV CSV, NWB current clamp, or JSON (rates/features/behaviour/ranges)",
    )
    f.add_argument("--series", help="NWB: the acquisition series (default: the first)")
    f.add_argument(
        "--measure",
        action="append",
        choices=list(MEASURES),
        help="repeat for several (summed; objectives of nsga2); default rms",
    )
    f.add_argument("--method", default="cmaes", choices=list(METHODS))
    f.add_argument("--free", action="append", required=True, metavar="NAME[=LO:HI]")
    f.add_argument("--set", action="append", metavar="NAME=VALUE", help="fixed parameter")
    f.add_argument("--start", action="append", metavar="NAME=VALUE", help="start point")
    f.add_argument("--budget", type=int, default=1000, help="most simulations to spend")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="error bound of the solution set (default: twice the best error)",
    )
    f.add_argument("--db", help="model database receiving every evaluated point")
    f.add_argument("--sweep-db", help="explore: score the runs of this sweep database")
    f.add_argument("--surrogate", metavar="DIR", help="gradient: descend through this surrogate")
    f.add_argument("--noise-sd", type=float, default=0.0, help="sbi: the trace's noise SD (mV)")
    f.add_argument("--duration-ms", type=float, default=None)
    f.add_argument("--dt-ms", type=float, default=None)
    _stimulus_args(f)
    f.add_argument("--out", required=True, metavar="DIR")
    f.set_defaults(func=cmd_fit)

    t = sub.add_parser("target", help="a synthetic trace target (CSV or NWB) from known parameters")
    t.add_argument("model")
    t.add_argument("--set", action="append", metavar="NAME=VALUE")
    t.add_argument("--preset")
    t.add_argument("--duration-ms", type=float, default=200.0)
    t.add_argument("--dt-ms", type=float, default=None)
    t.add_argument("--sample-ms", type=float, default=0.1, help="sampling interval of the trace")
    t.add_argument("--noise-mv", type=float, default=0.0, help="Gaussian noise SD (mV)")
    t.add_argument("--seed", type=int, default=0)
    _stimulus_args(t)
    t.add_argument("--out", required=True, metavar="FILE.csv|FILE.nwb")
    t.set_defaults(func=cmd_target)

    b = sub.add_parser("bifurcation", help="behaviour map over 1-2 parameters, Hopf/saddle-node")
    b.add_argument("model")
    b.add_argument(
        "--param",
        action="append",
        required=True,
        help="a model parameter, or I (constant injected current)",
    )
    b.add_argument("--range", action="append", metavar="LO:HI[:N]")
    b.add_argument("--set", action="append", metavar="NAME=VALUE")
    b.add_argument("--current", type=float, default=0.0, help="injected current when not swept")
    b.add_argument("--duration-ms", type=float, default=2000.0)
    b.add_argument("--out", required=True, metavar="DIR")
    b.set_defaults(func=cmd_bifurcation)


def _stimulus_args(p) -> None:
    p.add_argument("--current", type=float, help="step current amplitude")
    p.add_argument("--t-on", type=float, default=0.0, help="step onset (ms)")
    p.add_argument("--t-off", type=float, default=float("inf"), help="step offset (ms)")
    p.add_argument("--stimulus", choices=["step", "ramp", "noisy", "poisson"])
    p.add_argument("--stim", action="append", metavar="NAME=VALUE")
