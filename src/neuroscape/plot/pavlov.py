"""The figure of the Pavlovian conditioning study (``neuroscape.analysis.pavlov``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
