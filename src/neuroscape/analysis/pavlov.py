"""Pavlovian conditioning by STDP: the study of the shipped network ``pavlov``
(library/pavlov.yaml), run by ``neuroscape example pavlov``.

A bell and food (20 spike generators each, one volley per 200-ms trial) drive one salivation
integrate-and-fire neuron. Food fires it; the bell alone starts too weak. The bell synapses learn
by additive STDP with all-to-all traces clipped to [0, wmax] (Song, Miller and Abbott 2000):
bell-alone tests (trials 0-2), ten pairings (trials 3-12), bell-alone tests again (13-15).
With the food ``offset`` ms after the bell (pre before post) the bell weight grows until the bell
alone fires the neuron; with the order reversed (``-offset``: food first) it shrinks to 0.

The weight after trial k comes from a run that ends with trial k (the network draws no random
numbers, so every run repeats the same trials; each is a few ms). Those runs use the same
description with its rate windows moved into the first trial, which every run holds.
"""

from __future__ import annotations

import dataclasses

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
