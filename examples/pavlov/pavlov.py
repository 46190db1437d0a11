"""Pavlovian conditioning by STDP: the shipped network ``pavlov`` (library/pavlov.yaml).

A bell and food (20 spike generators each, one volley per 200-ms trial) drive one salivation
integrate-and-fire neuron. Food fires it; the bell alone starts too weak. The bell synapses learn
by additive STDP with all-to-all traces clipped to [0, wmax] (Song, Miller and Abbott 2000):
bell-alone tests (trials 0-2), ten pairings (trials 3-12), bell-alone tests again (13-15).
With the food ``offset`` ms after the bell (pre before post) the bell weight grows until the bell
alone fires the neuron; with the order reversed (``-offset``: food first) it shrinks to 0.
Once the bell alone fires the neuron (pre 0.1 ms before post), every bell strengthens it further,
so the weight keeps growing in the test trials after learning.

This script runs both orders and writes into ``--out DIR``:
- ``pavlov.png``: (a) the bell weight after each trial, (b) the responses to the bell alone
  before and after, (c) the salivation spikes per trial relative to the bell, (d) the final
  weight against the offset (the learning window);
- ``pavlov_trials.csv`` (weight after each trial) and ``pavlov_window.csv`` (final weight and
  responses per offset), and prints a JSON summary.

    python examples/pavlov/pavlov.py --out out/pavlov

The weight after trial k comes from a run that ends with trial k (the network draws no random
numbers, so every run repeats the same trials; each is a few ms). Those runs use the same
description with its rate windows moved into the first trial, which every run holds.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

import neuroscape as ns
from neuroscape.models.network import network

NAME = "pavlov"
BELL, FOOD, POST = "bell", "food", "salivation"
PROJ = "bell_to_salivation"


class PavlovExampleError(ValueError):
    """A bad argument of the example (one line: the value and what is allowed)."""


def _trials_model():
    """``pavlov`` for runs that end early: its rate windows moved into the first trial, which
    every such run holds (their rates are not used). A window is an argument of the compiled
    kernel, not code, so these runs reuse the kernel of ``pavlov``."""
    model = network(NAME)
    bells = np.unique(model.population(BELL).spike_times)
    first = float(bells[1] - bells[0])  # the end of trial 0, ms
    outs = tuple(dataclasses.replace(o, start_ms=0.0, stop_ms=first)
                 if o.start_ms is not None or o.stop_ms is not None else o
                 for o in model.outputs)
    return dataclasses.replace(model, outputs=outs)


def _bells_in(model, start_ms: float, stop_ms: float) -> int:
    """Number of bell volleys (distinct spike times of the bell) in [start, stop) ms."""
    t = np.unique(model.population(BELL).spike_times)
    return int(np.sum((t >= start_ms) & (t < stop_ms)))


def pavlov_study(offset_ms: float = 7.0,
                 window_offsets_ms: np.ndarray | None = None) -> dict:
    """Run ``pavlov`` with the food ``offset_ms`` (ms) after the bell and ``-offset_ms`` (food
    first); weights in mV, rates in Hz, times in ms.

    Returns ``offsets_ms`` (the two orders), ``r_before_hz``, ``r_after_hz``, ``w_mean_mv``
    (the file's outputs per order), ``spikes_per_bell_before``/``_after`` (the rates times the
    window over the number of bell volleys in it), ``trial_end_ms`` and ``w_trials_mv`` (order x
    trial, column 0 the initial weight), ``post_spikes_ms`` (salivation spike times per order),
    ``bell_ms`` (bell volley times), and the learning window ``window_offsets_ms`` /
    ``window_w_mv`` / ``window_r_after_hz``.
    """
    model = network(NAME)
    if not offset_ms > 0:
        raise PavlovExampleError(
            f"offset_ms={offset_ms!r}; allowed: > 0 ms (its reverse, food first, is run too)")
    offsets = np.array([offset_ms, -offset_ms])
    rows = [{"offset": float(o)} for o in offsets]
    full = ns.simulate(NAME, rows, record_spikes=True)
    units = {o.name: o.unit for o in full.spec.outputs}
    if units != {"r_before": "Hz", "r_after": "Hz", "w_mean": "mV"}:
        raise PavlovExampleError(f"{NAME} declares {units}; this example reads r_before, "
                                 "r_after (Hz) and w_mean (mV)")

    # spikes per bell volley in each test window: rate (Hz) x window (s) / volleys in it
    per_bell = {}
    for o in model.outputs:
        if o.kind == "rate" and o.start_ms is not None:
            n_bells = _bells_in(model, o.start_ms, o.stop_ms)
            per_bell[o.name] = full[o.name] * (o.stop_ms - o.start_ms) * 1e-3 / n_bells

    # recorded spikes carry one index over all populations, in the file's order
    names = [q.name for q in model.populations]
    post_off = sum(q.size for q in model.populations[: names.index(POST)])
    post_spikes = [t[i == post_off] for t, i in full.spikes]

    # the weight after each trial: runs that end with trial k
    bell_ms = np.unique(model.population(BELL).spike_times)
    period = float(np.diff(bell_ms)[0])
    n_trials = len(bell_ms)
    trial_end = period * np.arange(1, n_trials + 1)
    traj = _trials_model()
    w_trials = np.empty((2, n_trials + 1))
    w_trials[:, 0] = full["w0"]
    for k, end in enumerate(trial_end, start=1):
        r = ns.simulate(traj, rows, duration_ms=float(end), window_ms=float(end))
        w_trials[:, k] = r["w_mean"]

    # the learning window: the final weight against the offset (one batch)
    if window_offsets_ms is None:
        p = model.spec.parameter("offset")
        window_offsets_ms = np.linspace(p.low, p.high, 41)
    win = ns.simulate(NAME, [{"offset": float(o)} for o in window_offsets_ms])
    return {
        "offsets_ms": offsets,
        "r_before_hz": full["r_before"], "r_after_hz": full["r_after"],
        "w_mean_mv": full["w_mean"],
        "spikes_per_bell_before": per_bell["r_before"],
        "spikes_per_bell_after": per_bell["r_after"],
        "trial_end_ms": trial_end, "w_trials_mv": w_trials,
        "post_spikes_ms": post_spikes, "bell_ms": bell_ms, "period_ms": period,
        "food_ms": np.unique(model.population(FOOD).spike_times),
        "window_offsets_ms": np.asarray(window_offsets_ms, dtype=float),
        "window_w_mv": win["w_mean"], "window_r_after_hz": win["r_after"],
        "wmax_mv": float(full["wmax"][0]),
    }


def pavlov_figure(study: dict, path: str | Path | None):
    """Four panels of ``pavlov_study``'s result; saved to ``path`` (if given); returns the
    Figure."""
    from neuroscape.plot._base import axis_label, pyplot, save

    plt = pyplot()
    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(10, 7.5))
    labels = [f"bell {o:g} ms before food" if o > 0 else f"food {-o:g} ms before bell"
              for o in study["offsets_ms"]]
    colors = ["tab:blue", "tab:red"]
    bell, food, period = study["bell_ms"], study["food_ms"], study["period_ms"]
    paired = np.flatnonzero(np.isin(np.floor(bell / period), np.floor(food / period)))

    # (a) weight over trials
    k = np.arange(study["w_trials_mv"].shape[1])
    a.axvspan(paired[0], paired[-1] + 1, color="0.92", label="pairing trials")
    for w, lab, col in zip(study["w_trials_mv"], labels, colors, strict=True):
        a.plot(k, w, "o-", ms=3, color=col, label=lab)
    a.axhline(study["wmax_mv"], color="0.5", lw=0.8, ls="--", label="wmax")
    a.set_xlabel(axis_label("trials completed", "1"))
    a.set_ylabel(axis_label("mean bell weight", "mV"))
    a.set_title("(a) bell weight after each trial", fontsize=9)
    a.legend(frameon=False, fontsize=8)

    # (b) responses to the bell alone, before and after
    x = np.arange(2)
    for j, (lab, col) in enumerate(zip(labels, colors, strict=True)):
        v = [study["spikes_per_bell_before"][j], study["spikes_per_bell_after"][j]]
        bars = b.bar(x + (j - 0.5) * 0.38, v, 0.38, color=col, label=lab)
        b.bar_label(bars, fmt="%.2g", fontsize=8)  # a zero response is a visible "0"
    b.set_xticks(x, ["bell alone, before\n(trials 0-2)", "bell alone, after\n(trials 13-15)"])
    b.set_ylabel(axis_label("salivation spikes per bell", "1"))
    b.set_title("(b) response to the bell alone", fontsize=9)
    b.legend(frameon=False, fontsize=8)

    # (c) salivation spikes per trial, relative to the bell
    for j, (sp, lab, col) in enumerate(zip(study["post_spikes_ms"], labels, colors,
                                           strict=True)):
        trial = np.floor(sp / period)
        rel = sp - bell[trial.astype(int)]
        c.plot(rel, trial + (j - 0.5) * 0.3, "|", ms=8, mew=2, color=col, label=lab)
    c.axvline(0, color="0.5", lw=0.8)
    c.set_xlabel(axis_label("salivation spike time after the bell", "ms"))
    c.set_ylabel(axis_label("trial", "1"))
    c.invert_yaxis()
    c.set_title("(c) salivation spikes per trial", fontsize=9)
    c.legend(frameon=False, fontsize=8, loc="lower right")

    # (d) learning window
    d.axhline(study["w_trials_mv"][0, 0], color="0.5", lw=0.8, ls=":", label="initial weight")
    d.plot(study["window_offsets_ms"], study["window_w_mv"], "k.-",
           label="end of the run (16 trials)")
    d.set_title("(d) learning window", fontsize=9)
    d.set_xlabel(axis_label("food arrival after the bell's", "ms"))
    d.set_ylabel(axis_label("final mean bell weight", "mV"))
    d.legend(frameon=False, fontsize=8)
    return save(fig, path)


def _table(path: Path, cols: dict) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(cols))
        for row in zip(*(np.asarray(v).tolist() for v in cols.values()), strict=True):
            w.writerow(row)


def run(out: str | Path, offset_ms: float = 7.0) -> dict:
    """Run the study, write the figure and tables into ``out`` (created), return the summary
    (units in the keys)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PavlovExampleError(f"--out {str(out)!r} is a file; allowed: a folder")
    out.mkdir(parents=True, exist_ok=True)
    s = pavlov_study(offset_ms)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, metavar="DIR", help="folder for the figure and tables")
    ap.add_argument("--offset-ms", type=float, default=7.0,
                    help="food arrival after the bell's, ms (its reverse is run too; default 7)")
    args = ap.parse_args(argv)
    try:
        summary = run(args.out, args.offset_ms)
    except ValueError as exc:
        if not type(exc).__module__.startswith(("neuroscape", "__main__", "pavlov")):
            raise
        print(f"pavlov: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
