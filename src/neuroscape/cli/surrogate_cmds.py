"""`neuroscape surrogate|tune|reproduce`: DNN surrogates of a model database."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import (
    CLIError,
    check_output_dir,
    check_output_file,
    column_name,
    dumps_strict,
    format_value,
    nonneg_int,
    parse_pairs,
    positive_float,
    positive_int,
)

# neuroscape.surrogate.core.ACTIVATIONS and PRECISIONS, written out so that building the parser
# imports nothing heavy (the tests check that they agree)
ACTIVATIONS = ("sigmoid", "relu", "tanh", "gelu")
PRECISIONS = ("float32", "bfloat16")
PAPERS = ("zhang-young-2020",)
CSV = (".csv",)


def _widths(text: str, option: str) -> tuple[int, ...]:
    """Comma-separated positive integers, e.g. "800,200,200"."""
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise CLIError(f"{option} {text!r}: expected positive integers like 800,200,200")
    return values


def _errors(names, values, units) -> str:
    """ "r_E 0.52 Hz, r_I 0.61 Hz": one number per output with its declared unit."""
    return ", ".join(
        f"{n} {format_value(v, u, '.3g')}" for n, v, u in zip(names, values, units, strict=True)
    )


def _config(args, hidden):
    from neuroscape.surrogate import SurrogateConfig

    return SurrogateConfig(
        hidden=hidden,
        activation=args.activation,
        max_epochs=args.epochs,
        seed=args.seed,
        **{
            k: getattr(args, k)
            for k in ("patience", "ensemble", "device", "lr", "batch_size", "lr_decay_patience")
            if hasattr(args, k)
        },
    )


def _surrogate_accuracy(args) -> int:
    from neuroscape.io import write_csv_atomic
    from neuroscape.surrogate import training_data
    from neuroscape.surrogate.accuracy import learning_curve, noise_floor

    sizes = _widths(args.sizes, "--sizes")
    cfg = _config(args, _widths(args.hidden, "--hidden"))
    cfg.check()
    check_output_dir(args.out, "--out")
    spec, tp, to, domain, prov = training_data(args.db, group=args.group)
    spec_t, sp, so, _, prov_t = training_data(args.test_db, group=args.test_group)
    if (spec_t.name, spec_t.parameter_names, spec_t.output_names) != (
        spec.name,
        spec.parameter_names,
        spec.output_names,
    ):
        raise CLIError(
            f"test database holds runs of {spec_t.name!r} ({', '.join(spec_t.parameter_names)}"
            f" -> {', '.join(spec_t.output_names)}), training of {spec.name!r} "
            f"({', '.join(spec.parameter_names)} -> {', '.join(spec.output_names)})"
        )
    if args.model and not args.noise_floor:
        raise CLIError("--model: only used with --noise-floor K (K > 0)")
    sim_model = None
    if args.noise_floor:
        from neuroscape.surrogate import recorded_model

        # found before training: a missing or changed model file wastes no time
        sim_model = recorded_model(
            prov_t.get("model_info") or {},
            spec_t,
            spec_t.parameter_names,
            spec_t.output_names,
            model=args.model,
        )
    units = [o.unit for o in spec.outputs]
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
        progress=not args.quiet,
    )
    floor = None
    if args.noise_floor:
        from neuroscape.surrogate import simulation_settings
        from neuroscape.surrogate.simulator import run_kwargs

        # with the test runs' own settings: the floor of the map the test set measures
        floor = noise_floor(
            sim_model,
            sp[: args.noise_floor],
            parameter_names=spec_t.parameter_names,
            output_names=spec_t.output_names,
            **run_kwargs(sim_model, simulation_settings(prov_t)),
        )
    from neuroscape.plot.accuracy import learning_curve_figure

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    named = list(zip(spec.output_names, units, strict=True))
    header = (
        ["n"]
        + [column_name(f"mae_{o}", u) for o, u in named]
        + [column_name(f"rmse_{o}", u) for o, u in named]
    )
    write_csv_atomic(out / "learning_curve.csv", header, np.column_stack([lc.n, lc.mae, lc.rmse]))
    learning_curve_figure(
        lc,
        floor,
        out / "learning_curve.png",
        title=f"{args.activation} {args.hidden}",
        output_units=units,
    )
    for k, n in enumerate(lc.n):
        print(f"n={n}: test MAE {_errors(spec.output_names, lc.mae[k], units)}")
    print(
        "power-law exponents of the MAE against n: "
        + ", ".join(f"{o} {e:.2f}" for o, e in zip(spec.output_names, lc.power_law(), strict=True))
    )
    if floor is not None:
        print(
            "noise floor (MAE between two noise seeds): " + _errors(spec.output_names, floor, units)
        )
    print(f"learning curve -> {out}/", file=sys.stderr)
    return 0


def _train(args) -> int:
    from neuroscape.surrogate import train_from_db
    from neuroscape.surrogate.core import check_output_folder

    cfg = _config(args, _widths(args.hidden, "--hidden"))
    cfg.check()
    check_output_dir(args.out, "--out")
    check_output_folder(args.out)
    sur = train_from_db(
        args.db,
        args.out,
        n=args.n,
        config=cfg,
        verbose=args.verbose,
        progress=not args.quiet,
        group=args.group,
    )
    m = sur.metrics
    print(
        f"surrogate of {sur.model} on {sur.provenance['n_runs_used']} ok runs -> {args.out} "
        f"(validation MAE: {_errors(sur.output_names, m['val_mae'], sur.output_units)}; SD in "
        f"the training data: {_errors(sur.output_names, m['train_sd'], sur.output_units)}; "
        f"{m['train_time_s']:.1f} s)",
        file=sys.stderr,
    )
    return 0


def _analyze(args) -> int:
    from neuroscape.analysis.derivatives import derivative_report
    from neuroscape.plot.derivatives import partials_histograms
    from neuroscape.surrogate import load_surrogate

    check_output_dir(args.out, "--out")
    sur = load_surrogate(args.surrogate)
    try:
        report, d1, d2 = derivative_report(
            sur, n=args.n, seed=args.seed, paper=True if args.paper else None
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from neuroscape.io import atomic_file

    with atomic_file(out / "derivatives.json") as tmp:
        tmp.write_text(dumps_strict(report))
    units = sorted(set(sur.output_units))
    shown = units[0] if len(units) == 1 else "each output's unit"
    dom = sur.spec.output_domain
    where = f", predicted output in {dom.inside}" if dom is not None else ""
    partials_histograms(
        d1,
        sur.parameter_names,
        sur.output_names,
        f"first partials x domain length ({shown}){where}",
        out / "first_partials.png",
        output_units=sur.output_units,
    )
    partials_histograms(
        d2,
        sur.parameter_names,
        sur.output_names,
        f"1/2 second partials x domain length^2 ({shown})",
        out / "second_partials.png",
        output_units=sur.output_units,
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
    kept = (
        f"{report['n_kept']} of {report['n_sampled']} samples predicted in the declared "
        f"output domain ({dom.inside})"
        if dom is not None
        else f"{report['n_sampled']} samples (the model declares no output domain)"
    )
    print(f"{kept}{acc} -> {out}/")
    return 0


def _predict(args) -> int:
    from neuroscape.io import read_params_csv, write_csv_atomic
    from neuroscape.surrogate import load_surrogate

    check_output_file(args.out, CSV, "--out")
    sur = load_surrogate(args.surrogate, device=args.device)
    # the surrogate's own declaration: no registry, no model file needed; a parameter held
    # fixed in every training sweep may be left out (it takes its training value)
    fixed = (sur.provenance or {}).get("fixed") or {}
    filled: list[str] = []
    table = read_params_csv(args.params, sur.spec, fill=fixed, filled=filled)

    def unit(n: str) -> str:  # " mV", or "" for a dimensionless parameter
        u = sur.unit(n)
        return f" {u}" if u not in ("1", "") else ""

    for n, v in fixed.items():  # a value it never saw is outside its training data
        col = table[:, sur.spec.parameter_names.index(n)]
        bad = col[~np.isclose(col, v, rtol=1e-9, atol=0.0)]
        if bad.size and not args.allow_outside:
            raise CLIError(
                f"{args.params}: {n}={bad[0]:g}{unit(n)}, but the surrogate was trained with {n} "
                f"held at {v:g}{unit(n)}; allowed: {v:g} (or leave the column out), or "
                "--allow-outside"
            )
    table = table[:, [sur.spec.parameter_names.index(n) for n in sur.parameter_names]]
    mean, std = sur.predict(
        table, return_std=True, allow_outside=args.allow_outside, precision=args.precision
    )
    header = sur.parameter_names + sur.output_names
    rows = np.column_stack([table, mean])
    if sur.config.ensemble > 1:
        header += [f"{o}_std" for o in sur.output_names]
        rows = np.column_stack([rows, std])
    write_csv_atomic(args.out, header, rows)
    units = [
        f"{n} {u}"
        for n, u in zip(
            sur.parameter_names + sur.output_names,
            sur.parameter_units + sur.output_units,
            strict=True,
        )
        if u not in ("1", "")
    ]
    shown = f" (units: {', '.join(units)})" if units else ""
    if filled:
        held = ", ".join(f"{n}={fixed[n]:g}{unit(n)}" for n in filled)
        shown += f"; not in {args.params}, held at their training value: {held}"
    print(f"{len(table)} predictions -> {args.out}{shown}", file=sys.stderr)
    return 0


def cmd_surrogate(args) -> int:
    if args.sur_command == "train":
        return _train(args)
    if args.sur_command == "accuracy":
        return _surrogate_accuracy(args)
    if args.sur_command == "analyze":
        return _analyze(args)
    return _predict(args)


def cmd_tune(args) -> int:
    from neuroscape.surrogate import load_surrogate, simulation_settings
    from neuroscape.surrogate.tune import tune, verify

    check_output_file(args.out, CSV, "--out")
    sur = load_surrogate(args.surrogate)
    if args.model and not args.verify:
        raise CLIError("--model: only used with --verify")
    sim_model = None
    if args.verify:
        from neuroscape.surrogate import recorded_model

        # found before tuning: a missing or changed model file wastes no time
        sim_model = recorded_model(
            sur.model_info, sur.spec, sur.parameter_names, sur.output_names, model=args.model
        )
    target = parse_pairs(args.target, "--target")
    res = tune(
        sur,
        target,
        starts=args.starts,
        steps=args.steps,
        lr=args.lr,
        tol=args.tol,
        seed=args.seed,
        progress=not args.quiet,
    )
    # the L1 gap sums |error| over the targets: in their unit when they share one
    t_units = sorted({sur.unit(k) for k in target})
    gap_unit = t_units[0] if len(t_units) == 1 else None

    def gap(v: float) -> str:
        if gap_unit is not None:
            return format_value(v, gap_unit, "g")
        return f"{v:g} (summed over targets in {', '.join(t_units)})"

    n_c = int(res.candidate.sum())
    print(
        f"{n_c}/{len(res.candidate)} starts reached an L1 gap < {gap(args.tol)} "
        f"({100 * res.success_fraction:.0f}%) in {res.wall_time_s:.1f} s"
    )
    if n_c == 0:
        print(
            "neuroscape: warning: no candidate; the closest start is "
            f"{gap(float(res.gap_l1.min()))} away: the target may lie outside what the "
            "surrogate can reach",
            file=sys.stderr,
        )
    if args.verify and n_c:
        if not simulation_settings(sur.provenance):
            print(
                "neuroscape: warning: the surrogate does not record the settings of its "
                "training runs; verifying with the model's default settings",
                file=sys.stderr,
            )
        verify(res, sur, seed=args.seed, model=sim_model)
        err = res.simulated_errors(sur.output_names)
        med = _errors(list(target), np.median(err, 0), [sur.unit(k) for k in target])
        print(f"simulated: median |error| {med} over {n_c} candidates")
    cand = res.params[res.candidate]
    if len(cand):
        spread = ", ".join(
            f"{n} [{cand[:, j].min():.3g}, {format_value(cand[:, j].max(), sur.unit(n), '.3g')}]"
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
    from neuroscape.reproduce import reproduce

    check_output_dir(args.out, "--out")
    report = reproduce(
        args.out, quick=args.quick, workers=args.workers, log=lambda m: print(m, file=sys.stderr)
    )
    print(f"report -> {report}")
    return 0


def add_parsers(sub) -> None:
    from neuroscape.surrogate.core import SurrogateConfig

    dflt = SurrogateConfig()  # the CLI's defaults are the API's (one place)
    hidden = ",".join(map(str, dflt.hidden))

    su = sub.add_parser("surrogate", help="train a DNN surrogate on a database, or predict")
    susub = su.add_subparsers(dest="sur_command", required=True, metavar="COMMAND")
    st = susub.add_parser("train", help="train a surrogate on the ok runs of a database")
    st.add_argument("--db", required=True, metavar="RUNS.db", help="the sweep database")
    st.add_argument(
        "--out", required=True, metavar="DIR", help="a new or empty folder, or a surrogate's"
    )
    st.add_argument(
        "--n",
        type=positive_int,
        help="train on a random subset of n ok runs (default: every ok run)",
    )
    st.add_argument(
        "--group",
        type=positive_int,
        help="the group of sweeps with one setting to train on (see db summary; default: the "
        "only one)",
    )
    st.add_argument("--hidden", default=hidden, help="widths of the hidden layers")
    st.add_argument(
        "--activation", default=dflt.activation, choices=ACTIVATIONS, help="of the hidden layers"
    )
    st.add_argument("--epochs", type=positive_int, default=dflt.max_epochs, help="maximum epochs")
    st.add_argument(
        "--patience", type=positive_int, default=dflt.patience, help="early-stopping patience"
    )
    st.add_argument(
        "--ensemble", type=positive_int, default=dflt.ensemble, help="members of a deep ensemble"
    )
    st.add_argument("--lr", type=positive_float, default=dflt.lr, help="Adam learning rate")
    st.add_argument(
        "--batch-size", type=positive_int, default=dflt.batch_size, help="runs per Adam step"
    )
    st.add_argument(
        "--lr-decay-patience",
        type=nonneg_int,
        default=dflt.lr_decay_patience,
        help="halve the learning rate after this many epochs without improvement (0: never)",
    )
    st.add_argument(
        "--seed", type=nonneg_int, default=dflt.seed, help="seed of the split and the weights"
    )
    st.add_argument("--device", default=dflt.device, help="cpu, cuda or cuda:N")
    st.add_argument("--verbose", action="store_true", help="a line every 50 epochs")
    st.add_argument("--quiet", action="store_true", help="no progress bar")
    sp2 = susub.add_parser("predict", help="outputs of a parameter table through a surrogate")
    sp2.add_argument("surrogate", metavar="DIR")
    sp2.add_argument(
        "--params", required=True, metavar="IN.csv", help="a table with a column per parameter"
    )
    sp2.add_argument(
        "--out", required=True, metavar="OUT.csv", help="the parameters and predicted outputs"
    )
    sp2.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    sp2.add_argument(
        "--precision",
        default="float32",
        choices=PRECISIONS,
        help="bfloat16: hidden layers in bfloat16, faster on CPUs with AMX/AVX512-BF16",
    )
    sp2.add_argument(
        "--allow-outside",
        action="store_true",
        help="predict outside the training domain (with a warning)",
    )
    sac = susub.add_parser("accuracy", help="test error against training-set size")
    sac.add_argument("--db", required=True, metavar="TRAIN.db", help="training database")
    sac.add_argument(
        "--test-db", required=True, metavar="TEST.db", help="test database (independent points)"
    )
    sac.add_argument(
        "--group",
        type=positive_int,
        help="the group of sweeps of --db to train on (db summary; default: the only one)",
    )
    sac.add_argument(
        "--test-group",
        type=positive_int,
        help="the group of sweeps of --test-db to test on (default: the only one)",
    )
    sac.add_argument("--sizes", default="200,500,1000,2000", help="training-set sizes")
    sac.add_argument("--hidden", default=hidden, help="widths of the hidden layers")
    sac.add_argument(
        "--activation", default=dflt.activation, choices=ACTIVATIONS, help="of the hidden layers"
    )
    sac.add_argument("--epochs", type=positive_int, default=dflt.max_epochs, help="maximum epochs")
    sac.add_argument(
        "--seed", type=nonneg_int, default=dflt.seed, help="seed of the splits and weights"
    )
    sac.add_argument(
        "--lr-decay-from-n",
        type=positive_int,
        metavar="N",
        help="halve the learning rate on 20-epoch plateaus for training sets of N runs or more "
        "(helps at 20,000, hurts at 500; default: never)",
    )
    sac.add_argument(
        "--noise-floor",
        type=nonneg_int,
        default=0,
        metavar="K",
        help="also simulate K test points twice, with two noise seeds, to measure the noise "
        "floor (0: not measured)",
    )
    sac.add_argument(
        "--model",
        metavar="MODEL",
        help="the model to simulate for --noise-floor: a name or FILE.py:NAME whose declaration "
        "matches the databases' (default: the model the test database records)",
    )
    sac.add_argument("--out", required=True, metavar="DIR", help="folder for the table and figure")
    sac.add_argument("--quiet", action="store_true", help="no progress bars")
    sa = susub.add_parser("analyze", help="derivative statistics (Zhang and Young 2020, Figs. 3-6)")
    sa.add_argument("surrogate", metavar="DIR")
    sa.add_argument("--n", type=positive_int, default=500_000, help="uniform samples of the domain")
    sa.add_argument("--seed", type=nonneg_int, default=0, help="seed of the samples")
    sa.add_argument(
        "--paper",
        action="store_true",
        help="require the statistics of Zhang, Young & Lai 2020 that need the circuit's "
        "parameter and output names (sign correlations and logistic regressions of "
        "d r_I / d eta_ext_I_rel); default: included when the surrogate has those names",
    )
    sa.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    su.set_defaults(func=cmd_surrogate)

    tu = sub.add_parser("tune", help="find parameters for target outputs through a surrogate")
    tu.add_argument("--surrogate", required=True, metavar="DIR", help="a saved surrogate")
    tu.add_argument(
        "--target",
        required=True,
        nargs="+",
        metavar="NAME=VALUE",
        help="target outputs, in their declared units",
    )
    tu.add_argument("--starts", type=positive_int, default=100, help="random starts")
    tu.add_argument("--steps", type=positive_int, default=10000, help="Adam steps")
    tu.add_argument("--lr", type=positive_float, default=0.03, help="Adam step in the unit box")
    tu.add_argument(
        "--tol",
        type=positive_float,
        default=0.2,
        help="L1 gap of a candidate, in the targets' unit (e.g. Hz for the circuit's rates)",
    )
    tu.add_argument("--seed", type=nonneg_int, default=0, help="seed of the starts and runs")
    tu.add_argument(
        "--verify",
        action="store_true",
        help="simulate every candidate with the real model (with the settings of the "
        "surrogate's training runs)",
    )
    tu.add_argument(
        "--model",
        metavar="MODEL",
        help="the model --verify simulates: a name or FILE.py:NAME whose declaration matches "
        "the surrogate's (default: the model the surrogate records; a changed model file is "
        "refused)",
    )
    tu.add_argument(
        "--out", metavar="CANDIDATES.csv", help="write the candidates (default: print only)"
    )
    tu.add_argument("--quiet", action="store_true", help="no progress bar")
    tu.set_defaults(func=cmd_tune)

    sr = sub.add_parser("reproduce", help="reproduce a paper's analyses and figures")
    sr.add_argument("paper", choices=PAPERS, help="Zhang and Young 2020: zhang-young-2020")
    sr.add_argument("--quick", action="store_true", help="10x fewer simulations (~10 min)")
    sr.add_argument("--workers", type=positive_int, help="threads (default: every core)")
    sr.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    sr.set_defaults(func=cmd_reproduce)


__all__ = ["add_parsers", "cmd_reproduce", "cmd_surrogate", "cmd_tune"]
