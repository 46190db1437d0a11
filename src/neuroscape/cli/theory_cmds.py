"""``neuroscape theory siegert|ddm|wong-wang|hopfield-capacity|wilson-cowan|distal-reward``: each
study writes CSV tables and a figure into --out DIR and prints a JSON summary."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import numpy as np

from neuroscape.cli.common import (
    CLIError,
    check_output_dir,
    nonneg_int,
    positive_float,
    positive_int,
    print_json,
)


def _table(path: Path, cols: dict) -> None:
    names = list(cols)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*(np.asarray(cols[n]).tolist() for n in names), strict=True):
            w.writerow(row)


def cmd_theory(args) -> int:
    from neuroscape.analysis import theory as th
    from neuroscape.plot import theory as pt

    check_output_dir(args.out)
    study = args.study
    if args.trials is not None and study not in _TRIAL_STUDIES:
        raise CLIError(f"--trials is for {', '.join(_TRIAL_STUDIES)}, not {study}")
    if args.trials is None and study in _TRIAL_STUDIES:
        args.trials = _default_trials(study)
    for option, owner in (("reps", "siegert"), ("duration_s", "distal-reward")):
        if getattr(args, option) is not None and study != owner:
            raise CLIError(f"--{option.replace('_', '-')} is for {owner}, not {study}")
    args.reps = _default_reps() if args.reps is None else args.reps
    args.duration_s = _default_duration_s() if args.duration_s is None else args.duration_s
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if study == "siegert":
        r = th.siegert_study(reps=args.reps, seed=args.seed)
        _table(out / "siegert_single.csv", r["single"])
        _table(out / "siegert_network.csv", r["network"])
        pt.siegert_figure(r, out / "siegert.png")
        s = r["single"]
        summary = {
            "max_rel_error_single": float(
                np.max(np.abs(s["rate_sim_hz"] / s["rate_theory_hz"] - 1))
            ),
            "network": {k: np.asarray(v).tolist() for k, v in r["network"].items()},
        }
    elif study == "ddm":
        r = th.ddm_study(trials=args.trials, seed=args.seed, progress=True)
        _table(out / "ddm.csv", r["table"])
        pt.ddm_figure(r, out / "ddm.png")
        t = r["table"]
        summary = {
            # the binomial SE of the closed form's probability: the simulated one is 0 when
            # every trial chose the same bound, which made the ratio meaningless
            "max_p_error_in_se": float(
                np.max(
                    np.abs(t["p_upper_sim"] - t["p_upper_theory"])
                    / np.maximum(
                        np.sqrt(t["p_upper_theory"] * (1 - t["p_upper_theory"]) / args.trials),
                        1.0 / args.trials,
                    )
                )
            ),
            "max_rt_error_in_se": float(
                np.max(np.abs(t["rt_sim_s"] - t["rt_theory_s"]) / t["rt_se_s"])
            ),
        }
    elif study == "wong-wang":
        r = th.wong_wang_study(trials=args.trials, seed=args.seed, progress=True)
        _table(out / "psychometric.csv", r["psychometric"])
        edges = r["edges_continuation"] + r["edges_simulation"]
        _table(
            out / "regime_edges.csv",
            {
                "mu0": [e[0] for e in edges],
                "below": [e[1] for e in edges],
                "above": [e[2] for e in edges],
                "method": ["continuation"] * len(r["edges_continuation"])
                + ["simulation"] * len(r["edges_simulation"]),
            },
        )
        pt.wong_wang_figure(r, out / "wong_wang.png")
        summary = {
            "edges_continuation": r["edges_continuation"],
            "edges_simulation": r["edges_simulation"],
            "p_correct": r["psychometric"]["p_correct"].tolist(),
        }
    elif study == "hopfield-capacity":
        r = th.hopfield_study(trials=args.trials, seed=args.seed, progress=True)
        cols = {
            "N": np.repeat(r["sizes"], len(r["alphas"])),
            "alpha": np.tile(r["alphas"], len(r["sizes"])),
            "mean_overlap": r["overlaps"].mean(2).ravel(),
            "min_overlap": r["overlaps"].min(2).ravel(),
        }
        _table(out / "hopfield_capacity.csv", cols)
        pt.hopfield_figure(r, out / "hopfield.png")
        summary = {
            "critical_load": r["critical_load"].tolist(),
            "capacity_patterns": r["capacity"].tolist(),
        }
    elif study == "wilson-cowan":
        r = th.wilson_cowan_study()
        _table(out / "wilson_cowan.csv", r["table"])
        pt.wilson_cowan_figure(r, out / "wilson_cowan.png")
        summary = {"hopf": r["hopf"], "onset_simulated": r["onset_simulated"]}
    else:  # distal-reward
        res = _distal_reward(args.seed, args.duration_s)
        _table(
            out / "distal_reward.csv",
            {
                "t_s": np.arange(1, len(res.w_history) + 1),
                "w_rewarded_mV": res.w_history,
                "w_others_mean_mV": res.others_history,
            },
        )
        pt.distal_reward_figure(res, out / "distal_reward.png")
        summary = {
            "w_rewarded_mV": res.w_rewarded,
            "w_others_mV": res.w_others,
            "rewards": res.rewards,
            "rate_hz": res.rate_hz,
            "wall_time_s": round(res.wall_time_s, 1),
        }
    print_json(summary)
    return 0


_TRIAL_STUDIES = {
    "ddm": "ddm_study",
    "wong-wang": "wong_wang_study",
    "hopfield-capacity": "hopfield_study",
}


def _default(fn, name: str):
    """A study function's own default for ``name``: the CLI and Python agree (one place)."""
    return inspect.signature(fn).parameters[name].default


def _default_trials(study: str) -> int:
    from neuroscape.analysis import theory as th

    return int(_default(getattr(th, _TRIAL_STUDIES[study]), "trials"))


def _default_reps() -> int:
    from neuroscape.analysis.theory import siegert_study

    return int(_default(siegert_study, "reps"))


def _default_duration_s() -> float:
    from neuroscape.models.theory.distal_reward import DEFAULT_DURATION_S

    return DEFAULT_DURATION_S


def _distal_reward(seed: int, duration_s: float):
    """One run of the network ``distal_reward`` (Izhikevich 2007) on the graph of ``seed`` with
    the noise of (seed, row 0): its outputs and its records of the weights every second."""
    import time

    from neuroscape.core.settings import SimSettings
    from neuroscape.models.network import network
    from neuroscape.models.theory.distal_reward import NETWORK, result_from_run
    from neuroscape.sim.engine import batch_for

    net = network(NETWORK)
    ms = duration_s * 1e3
    if ms < net.record_every_ms:
        raise CLIError(f"--duration-s {duration_s:g}; allowed: >= "
                       f"{net.record_every_ms * 1e-3:g} (the weights are recorded every "
                       f"{net.record_every_ms * 1e-3:g} s)")
    settings = SimSettings.for_model(net.spec, duration_ms=ms, window_ms=ms)
    t0 = time.perf_counter()
    r = batch_for(net, conn_seed=seed).run(None, seed=seed, settings=settings)
    wall = time.perf_counter() - t0
    if not r.ok[0]:
        raise CLIError(f"the distal-reward network failed: {r.errors[0]}")
    outputs = dict(zip(net.spec.output_names, r.outputs[0], strict=True))
    return result_from_run(outputs, {k: v[0] for k, v in r.records.items()}, wall)


STUDIES = ("siegert", "ddm", "wong-wang", "hopfield-capacity", "wilson-cowan", "distal-reward")


def add_parsers(sub) -> None:
    t = sub.add_parser(
        "theory",
        help="case studies of Gerstner, Sprekeler & Deco 2012: CSV tables and a figure",
    )
    t.add_argument("study", choices=STUDIES)
    t.add_argument("--out", required=True, metavar="DIR", help="folder for the tables and figure")
    t.add_argument("--seed", type=nonneg_int, default=0)
    t.add_argument(
        "--trials",
        type=positive_int,
        help="trials per condition (default: "
        + ", ".join(f"{k} {_default_trials(k)}" for k in _TRIAL_STUDIES)
        + "; hopfield-capacity: per load and size)",
    )
    t.add_argument(
        "--reps",
        type=positive_int,
        help=f"siegert: neurons per mean input (default: {_default_reps()})",
    )
    t.add_argument(
        "--duration-s",
        type=positive_float,
        help=f"distal-reward: run length in s (default: {_default_duration_s():g})",
    )
    t.set_defaults(func=cmd_theory)
