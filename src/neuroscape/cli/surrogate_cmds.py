"""`neuroscape surrogate|tune|reproduce`: DNN surrogates of a model database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from neuroscape.cli.common import CLIError


def _surrogate_accuracy(args) -> int:
    from neuroscape.io import write_csv_atomic
    from neuroscape.surrogate import SurrogateConfig, training_data
    from neuroscape.surrogate.accuracy import learning_curve, noise_floor

    try:
        sizes = [int(x) for x in args.sizes.split(",")]
    except ValueError:
        raise CLIError(f"--sizes {args.sizes!r}: expected integers like 200,500,1000") from None
    spec, tp, to, domain, _ = training_data(args.db)
    spec_t, sp, so, _, _ = training_data(args.test_db)
    if spec_t.name != spec.name:
        raise CLIError(f"test database holds {spec_t.name!r} runs, training {spec.name!r}")
    cfg = SurrogateConfig(
        hidden=tuple(int(h) for h in args.hidden.split(",")),
        activation=args.activation,
        max_epochs=args.epochs,
        seed=args.seed,
    )
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
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = (
        ["n"] + [f"mae_{o}" for o in spec.output_names] + [f"rmse_{o}" for o in spec.output_names]
    )
    write_csv_atomic(out / "learning_curve.csv", header, np.column_stack([lc.n, lc.mae, lc.rmse]))
    floor = None
    if args.noise_floor and spec.name == "cortical":
        sel = sp[: args.noise_floor]
        floor = noise_floor(spec.name, sel)
    from neuroscape.plot.accuracy import learning_curve_figure

    learning_curve_figure(
        lc, floor, out / "learning_curve.png", title=f"{args.activation} {args.hidden}"
    )
    for k, n in enumerate(lc.n):
        print(
            f"n={n}: MAE "
            + ", ".join(f"{o} {lc.mae[k, j]:.3g}" for j, o in enumerate(spec.output_names))
        )
    print(
        "power-law exponents: "
        + ", ".join(f"{o} {e:.2f}" for o, e in zip(spec.output_names, lc.power_law(), strict=True))
    )
    if floor is not None:
        print(
            "noise floor (MAE between two noise seeds): "
            + ", ".join(f"{o} {f:.3g}" for o, f in zip(spec.output_names, floor, strict=True))
        )
    return 0


def cmd_surrogate(args) -> int:
    from neuroscape.surrogate import SurrogateConfig, load_surrogate, train_from_db

    if args.sur_command == "train":
        try:
            hidden = tuple(int(h) for h in args.hidden.split(","))
        except ValueError:
            raise CLIError(f"--hidden {args.hidden!r}: expected widths like 800,200,200") from None
        cfg = SurrogateConfig(
            hidden=hidden,
            activation=args.activation,
            max_epochs=args.epochs,
            patience=args.patience,
            ensemble=args.ensemble,
            seed=args.seed,
            device=args.device,
            lr=args.lr,
            batch_size=args.batch_size,
            lr_decay_patience=args.lr_decay_patience,
        )
        sur = train_from_db(args.db, args.out, n=args.n, config=cfg, verbose=args.verbose)
        mae = ", ".join(
            f"{k} {v:.3g}" for k, v in zip(sur.output_names, sur.metrics["val_mae"], strict=True)
        )
        print(
            f"surrogate of {sur.model} on {sur.provenance['n_runs_used']} runs -> {args.out} "
            f"(validation MAE: {mae}; {sur.metrics['train_time_s']:.1f} s)",
            file=sys.stderr,
        )
        return 0
    if args.sur_command == "accuracy":
        return _surrogate_accuracy(args)
    if args.sur_command == "analyze":
        from neuroscape.analysis.derivatives import derivative_report
        from neuroscape.plot.derivatives import partials_histograms

        sur = load_surrogate(args.surrogate)
        try:
            report, d1, d2 = derivative_report(sur, n=args.n, seed=args.seed)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "derivatives.json").write_text(json.dumps(report, indent=2))
        partials_histograms(
            d1,
            sur.parameter_names,
            sur.output_names,
            "first partials x domain length (Hz), predicted output in O",
            out / "first_partials.png",
        )
        partials_histograms(
            d2,
            sur.parameter_names,
            sur.output_names,
            "1/2 second partials x domain length^2 (Hz)",
            out / "second_partials.png",
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
        print(f"{report['n_in_O']} of {report['n_sampled']} samples in O{acc} -> {out}/")
        return 0
    from neuroscape.io import read_params_csv, write_csv_atomic
    from neuroscape.models import get_spec

    sur = load_surrogate(args.surrogate, device=args.device)
    table = read_params_csv(args.params, get_spec(sur.model))
    mean, std = sur.predict(
        table, return_std=True, allow_outside=args.allow_outside, precision=args.precision
    )
    header = sur.parameter_names + sur.output_names
    rows = np.column_stack([table, mean])
    if sur.config.ensemble > 1:
        header += [f"{o}_std" for o in sur.output_names]
        rows = np.column_stack([rows, std])
    write_csv_atomic(args.out, header, rows)
    print(f"{len(table)} predictions -> {args.out}", file=sys.stderr)
    return 0


def cmd_tune(args) -> int:
    from neuroscape.surrogate import load_surrogate
    from neuroscape.surrogate.tune import tune, verify

    sur = load_surrogate(args.surrogate)
    target = {}
    for item in args.target:
        name, _, raw = item.partition("=")
        try:
            target[name.strip()] = float(raw)
        except ValueError:
            raise CLIError(f"--target {item!r}: expected NAME=NUMBER") from None
    res = tune(
        sur, target, starts=args.starts, steps=args.steps, lr=args.lr, tol=args.tol, seed=args.seed
    )
    n_c = int(res.candidate.sum())
    print(
        f"{n_c}/{len(res.candidate)} starts reached an L1 gap < {args.tol:g} "
        f"({100 * res.success_fraction:.0f}%) in {res.wall_time_s:.1f} s"
    )
    if n_c == 0:
        best = float(res.gap_l1.min())
        print(
            f"neuroscape: warning: no candidate; the closest start is {best:.3g} away: the "
            "target may lie outside what the surrogate can reach",
            file=sys.stderr,
        )
    if args.verify and n_c:
        verify(res, sur, seed=args.seed)
        err = res.simulated_errors(sur.output_names)
        med = ", ".join(f"{k} {v:.3g}" for k, v in zip(target, np.median(err, 0), strict=True))
        print(f"simulated: median |error| {med} Hz over {n_c} candidates")
    cand = res.params[res.candidate]
    if len(cand):
        spread = ", ".join(
            f"{n} [{cand[:, j].min():.3g}, {cand[:, j].max():.3g}]"
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
    from neuroscape.analysis.reproduce import reproduce

    if args.paper != "zhang-young-2020":
        raise CLIError(f"unknown paper {args.paper!r}; allowed: zhang-young-2020")
    report = reproduce(
        args.out, quick=args.quick, workers=args.workers, log=lambda m: print(m, file=sys.stderr)
    )
    print(f"report -> {report}")
    return 0



def add_parsers(sub) -> None:
    su = sub.add_parser("surrogate", help="train a DNN surrogate on a database, or predict")
    susub = su.add_subparsers(dest="sur_command", required=True)
    st = susub.add_parser("train")
    st.add_argument("--db", required=True)
    st.add_argument("--out", required=True, metavar="DIR")
    st.add_argument("--n", type=int, default=None, help="train on a random subset of n runs")
    st.add_argument("--hidden", default="800,200,200")
    st.add_argument("--activation", default="sigmoid")
    from neuroscape.surrogate.core import SurrogateConfig

    dflt = SurrogateConfig()  # the CLI's defaults are the API's (one place)
    st.add_argument("--epochs", type=int, default=dflt.max_epochs, help="maximum epochs")
    st.add_argument("--patience", type=int, default=dflt.patience, help="early-stopping patience")
    st.add_argument("--ensemble", type=int, default=1, help="members of a deep ensemble")
    st.add_argument("--lr", type=float, default=dflt.lr)
    st.add_argument("--batch-size", type=int, default=dflt.batch_size)
    st.add_argument(
        "--lr-decay-patience",
        type=int,
        default=dflt.lr_decay_patience,
        help="halve the learning rate after this many epochs without improvement (0: never)",
    )
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--device", default="cpu")
    st.add_argument("--verbose", action="store_true")
    sp2 = susub.add_parser("predict")
    sp2.add_argument("surrogate", metavar="DIR")
    sp2.add_argument("--params", required=True, metavar="IN.csv")
    sp2.add_argument("--out", required=True, metavar="OUT.csv")
    sp2.add_argument("--device", default="cpu")
    sp2.add_argument(
        "--precision",
        default="float32",
        choices=["float32", "bfloat16"],
        help="bfloat16: hidden layers in bfloat16, faster on CPUs with AMX/AVX512-BF16",
    )
    sp2.add_argument(
        "--allow-outside",
        action="store_true",
        help="predict outside the training domain (with a warning)",
    )
    sac = susub.add_parser("accuracy", help="test error against training-set size")
    sac.add_argument("--db", required=True, help="training database")
    sac.add_argument("--test-db", required=True, help="test database (independent points)")
    sac.add_argument("--sizes", default="200,500,1000,2000")
    sac.add_argument("--hidden", default="800,200,200")
    sac.add_argument("--activation", default="sigmoid")
    sac.add_argument("--epochs", type=int, default=2000)
    sac.add_argument("--seed", type=int, default=0)
    sac.add_argument(
        "--lr-decay-from-n",
        type=int,
        default=None,
        metavar="N",
        help="halve the learning rate on 20-epoch plateaus for training sets of N runs or more "
        "(helps at 20,000, hurts at 500)",
    )
    sac.add_argument(
        "--noise-floor",
        type=int,
        default=0,
        metavar="K",
        help="also simulate K test points twice to measure the noise floor",
    )
    sac.add_argument("--out", required=True, metavar="DIR")
    sa = susub.add_parser("analyze", help="derivative statistics (seed 004, Figs. 3-6)")
    sa.add_argument("surrogate", metavar="DIR")
    sa.add_argument("--n", type=int, default=500_000, help="uniform samples of the domain")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--out", required=True, metavar="DIR")
    su.set_defaults(func=cmd_surrogate)

    tu = sub.add_parser("tune", help="find parameters for target outputs through a surrogate")
    tu.add_argument("--surrogate", required=True, metavar="DIR")
    tu.add_argument("--target", required=True, nargs="+", metavar="NAME=VALUE")
    tu.add_argument("--starts", type=int, default=100)
    tu.add_argument("--steps", type=int, default=10000)
    tu.add_argument("--lr", type=float, default=0.03, help="Adam step in the unit box")
    tu.add_argument("--tol", type=float, default=0.2, help="L1 gap of a candidate (Hz)")
    tu.add_argument("--seed", type=int, default=0)
    tu.add_argument("--verify", action="store_true", help="simulate every candidate")
    tu.add_argument("--out", metavar="CANDIDATES.csv")
    tu.set_defaults(func=cmd_tune)

    sr = sub.add_parser("reproduce", help="reproduce a paper's analyses and figures")
    sr.add_argument("paper", help="zhang-young-2020")
    sr.add_argument("--quick", action="store_true", help="10x fewer simulations (~10 min)")
    sr.add_argument("--workers", type=int, default=None)
    sr.add_argument("--out", required=True, metavar="DIR")
    sr.set_defaults(func=cmd_reproduce)
