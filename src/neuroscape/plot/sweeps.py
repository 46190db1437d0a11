"""Figures of a fit to a family of recorded sweeps: recorded and fitted traces overlaid per
sweep, and the recorded and model f-I curves. Every function saves to ``path`` (if given) and
returns the Figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuroscape.plot._base import PlotError, axis_label, pyplot, save, thin


def _rows(v, what: str) -> list[np.ndarray]:
    rows = [np.asarray(r, float) for r in v]
    if not rows:
        raise PlotError(f"{what}: no sweep to draw")
    return rows


def sweeps_figure(
    t_ms: Sequence[np.ndarray],
    v_recorded: Sequence[np.ndarray],
    v_model: Sequence[np.ndarray | None],
    titles: Sequence[str],
    path: str | Path | None,
    *,
    held_out: Sequence[bool] | None = None,
    ncols: int = 3,
    model_label: str = "model",
):
    """One panel per sweep: the recorded V (grey) and the model's (red; None: the simulation
    failed), mV against ms, on each sweep's times ``t_ms``; held-out sweeps' panels are titled
    so and framed in blue."""
    plt = pyplot()
    rec = _rows(v_recorded, "sweeps_figure")
    n = len(rec)
    model = list(v_model)
    titles = list(titles)
    held = [False] * n if held_out is None else list(held_out)
    if not (len(model) == len(titles) == len(held) == n):
        raise PlotError(
            f"sweeps_figure: {n} recorded sweeps, {len(model)} model traces, {len(titles)} "
            f"titles, {len(held)} held-out flags; allowed: one of each per sweep"
        )
    times = [np.asarray(t, float) for t in t_ms]
    if len(times) != n:
        raise PlotError(f"sweeps_figure: {len(times)} time axes for {n} sweeps; allowed: one each")
    for k in range(n):
        if len(times[k]) != len(rec[k]) or (model[k] is not None and len(model[k]) != len(rec[k])):
            raise PlotError(
                f"sweeps_figure: sweep {k}: {len(times[k])} times, {len(rec[k])} recorded and "
                f"{'no' if model[k] is None else len(model[k])} model samples; allowed: equal"
            )
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.4 * nrows), squeeze=False, sharex=True, sharey=True
    )
    for k in range(nrows * ncols):
        ax = axes[k // ncols, k % ncols]
        if k >= n:
            ax.axis("off")
            continue
        ax.plot(*thin(times[k], rec[k]), lw=0.6, color="0.45", label="recorded")
        if model[k] is not None:
            ax.plot(*thin(times[k], np.asarray(model[k], float)), lw=0.7, color="C3",
                    label=model_label)  # fmt: skip
        else:
            ax.text(0.5, 0.5, "simulation failed", transform=ax.transAxes, ha="center")
        ax.set_title(titles[k] + (" (held out)" if held[k] else ""), fontsize=8)
        if held[k]:
            for s in ax.spines.values():
                s.set_edgecolor("C0")
        if k % ncols == 0:
            ax.set_ylabel(axis_label("V", "mV"), fontsize=8)
        if k // ncols == nrows - 1 or k + ncols >= n:
            ax.set_xlabel(axis_label("time", "ms"), fontsize=8)
            ax.tick_params(labelbottom=True)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(frameon=False, fontsize=7, loc="upper right")
    return save(fig, path)


def fi_figure(
    current: Sequence[float],
    recorded: Sequence[float],
    model: Sequence[float | None],
    path: str | Path | None,
    *,
    held_out: Sequence[bool] | None = None,
    current_unit: str = "nA",
    quantity: str = "rate in the step",
    unit: str = "Hz",
):
    """The f-I curves: ``recorded`` and ``model`` (None: failed) against the injected
    ``current``; filled markers: fitted sweeps, open: held-out ones."""
    plt = pyplot()
    i = np.asarray(current, float)
    r = np.asarray(recorded, float)
    m = np.array([np.nan if x is None else x for x in model], float)
    held = np.zeros(len(i), bool) if held_out is None else np.asarray(held_out, bool)
    if not (len(i) == len(r) == len(m) == len(held)):
        raise PlotError(
            f"fi_figure: {len(i)} currents, {len(r)} recorded, {len(m)} model values, "
            f"{len(held)} held-out flags; allowed: one of each per sweep"
        )
    o = np.argsort(i)
    fig, ax = plt.subplots(figsize=(5, 3.8))
    ax.plot(i[o], r[o], "-", color="0.3", lw=0.8)
    ax.plot(i[o], m[o], "-", color="C3", lw=0.8)
    for mask, fill, what in ((~held, True, "fitted"), (held, False, "held out")):
        if not mask.any():
            continue
        ax.plot(i[mask], r[mask], "o", color="0.3", mfc="0.3" if fill else "none",
                label=f"recorded ({what})")  # fmt: skip
        ax.plot(i[mask], m[mask], "s", color="C3", mfc="C3" if fill else "none",
                label=f"model ({what})")  # fmt: skip
    ax.set_xlabel(axis_label("injected current", current_unit))
    ax.set_ylabel(axis_label(quantity, unit))
    ax.set_title("f-I curve", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    return save(fig, path)
