"""Spike raster with the population rates under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def population_rates(
    times_ms: np.ndarray, neurons: np.ndarray, n_e: int, n_i: int, t_max_ms: float, bin_ms: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin centres (ms) and the E and I population rates (Hz) in bins of ``bin_ms``."""
    edges = np.arange(0.0, t_max_ms + bin_ms, bin_ms)
    is_e = neurons < n_e
    h_e, _ = np.histogram(times_ms[is_e], edges)
    h_i, _ = np.histogram(times_ms[~is_e], edges)
    scale = 1000.0 / bin_ms
    return 0.5 * (edges[1:] + edges[:-1]), h_e / n_e * scale, h_i / n_i * scale


def raster_figure(
    times_ms: np.ndarray,
    neurons: np.ndarray,
    n_e: int,
    n_i: int,
    t_max_ms: float,
    title: str = "",
    window_ms: float | None = None,
    bin_ms: float = 5.0,
    path: str | Path | None = None,
):
    """Raster (E red, I blue) over the population rates; saved to ``path`` if given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    is_e = neurons < n_e
    ax1.scatter(times_ms[is_e], neurons[is_e], s=1.0, c="tab:red", marker="|", label="E")
    ax1.scatter(times_ms[~is_e], neurons[~is_e], s=1.0, c="tab:blue", marker="|", label="I")
    ax1.set_ylabel(f"neuron (E: 0..{n_e - 1}, I: above)")
    ax1.set_ylim(-1, n_e + n_i)
    ax1.set_title(title, fontsize=9)
    t, r_e, r_i = population_rates(times_ms, neurons, n_e, n_i, t_max_ms, bin_ms)
    ax2.plot(t, r_e, color="tab:red", lw=1, label="E")
    ax2.plot(t, r_i, color="tab:blue", lw=1, label="I")
    ax2.set_ylabel(f"rate (Hz, {bin_ms:g} ms bins)")
    ax2.set_xlabel("time (ms)")
    ax2.set_xlim(0, t_max_ms)
    if window_ms is not None:
        for ax in (ax1, ax2):
            ax.axvspan(t_max_ms - window_ms, t_max_ms, color="0.92", zorder=-1)
    ax2.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
