"""Figures of a sweep database: the (r_E, r_I) heat map with the output domain O (seed 004,
Fig. 1a) and one-parameter slices of every output."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def output_heatmap(r_e: np.ndarray, r_i: np.ndarray, path: str | Path, bins: int = 60):
    """2-D histogram of (r_E, r_I) on log counts, with the trapezoid O drawn."""
    from matplotlib.colors import LogNorm

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    h = ax.hist2d(r_e, r_i, bins=bins, cmap="viridis", norm=LogNorm(), cmin=1)
    fig.colorbar(h[3], ax=ax, label="runs")
    # O: 5 <= r_E <= 30 Hz, 2.5 <= r_I/r_E <= 5.5
    xs = np.array([5.0, 30.0, 30.0, 5.0, 5.0])
    ys = np.array([2.5 * 5, 2.5 * 30, 5.5 * 30, 5.5 * 5, 2.5 * 5])
    ax.plot(xs, ys, "--", color="tab:red", lw=1.5, label="output domain O")
    inside = ((r_e >= 5) & (r_e <= 30) & (r_i >= 2.5 * r_e) & (r_i <= 5.5 * r_e)).mean()
    ax.set_xlabel("r_E (Hz)")
    ax.set_ylabel("r_I (Hz)")
    ax.set_title(f"{len(r_e)} runs, {100 * inside:.1f}% in O", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parameter_slices(
    params: np.ndarray,
    names: list[str],
    outputs: np.ndarray,
    out_names: list[str],
    path: str | Path,
    bins: int = 12,
):
    """For each parameter: each output's mean (and 10-90% band) in bins of that parameter."""
    plt = _plt()
    k = len(names)
    fig, axes = plt.subplots(
        len(out_names), k, figsize=(2.2 * k, 2.2 * len(out_names)), squeeze=False, sharey="row"
    )
    for j, name in enumerate(names):
        x = params[:, j]
        edges = np.linspace(x.min(), x.max(), bins + 1)
        mid = 0.5 * (edges[1:] + edges[:-1])
        idx = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
        for i, out in enumerate(out_names):
            y = outputs[:, i]
            stats = np.array(
                [
                    (np.nanmean(y[idx == b]), *np.nanpercentile(y[idx == b], [10, 90]))
                    if np.any(idx == b)
                    else (np.nan, np.nan, np.nan)
                    for b in range(bins)
                ]
            )
            ax = axes[i, j]
            ax.fill_between(mid, stats[:, 1], stats[:, 2], color="0.85")
            ax.plot(mid, stats[:, 0], color="k", lw=1)
            if i == len(out_names) - 1:
                ax.set_xlabel(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(out, fontsize=8)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
