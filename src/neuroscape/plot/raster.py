"""Spike raster with the population rates under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import MAX_LINE_POINTS, PlotError, pyplot, save, thin


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
    *,
    max_points: int = MAX_LINE_POINTS,
):
    """Raster (E red, I blue) over the population rates (Hz in ``bin_ms`` bins), time in ms;
    grey: the last ``window_ms`` ms, where the reported rates are measured. The legend, right
    of the axes, names E, I and the window. Saved to ``path`` if given (then released from
    pyplot); returns the Figure."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = pyplot()
    times_ms, neurons = np.asarray(times_ms), np.asarray(neurons)
    if len(times_ms) != len(neurons):
        raise PlotError(
            f"raster: {len(times_ms)} spike times for {len(neurons)} neuron indices; "
            "allowed: equal lengths"
        )
    if window_ms is not None and not 0 < window_ms <= t_max_ms:
        raise PlotError(f"window_ms={window_ms:g}: allowed 0 < window_ms <= {t_max_ms:g} ms")
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    is_e = neurons < n_e
    ax1.scatter(times_ms[is_e], neurons[is_e], s=1.0, c="tab:red", marker="|")
    ax1.scatter(times_ms[~is_e], neurons[~is_e], s=1.0, c="tab:blue", marker="|")
    ax1.set_ylabel(f"neuron index\n(E: 0-{n_e - 1}, I: {n_e}-{n_e + n_i - 1})")
    ax1.set_ylim(-1, n_e + n_i)
    ax1.set_title(title, fontsize=9)
    t, r_e, r_i = population_rates(times_ms, neurons, n_e, n_i, t_max_ms, bin_ms)
    ax2.plot(*thin(t, r_e, max_points=max_points), color="tab:red", lw=1)
    ax2.plot(*thin(t, r_i, max_points=max_points), color="tab:blue", lw=1)
    ax2.set_ylabel(f"population rate\n(Hz, {bin_ms:g} ms bins)")
    ax2.set_xlabel("time (ms)")
    ax2.set_xlim(0, t_max_ms)
    # marker-sized spikes are invisible in a legend: proxies in the same colours
    handles = [
        Line2D([], [], color="tab:red", marker="|", ls="-", lw=1, ms=8, label=f"E ({n_e} neurons)"),
        Line2D(
            [], [], color="tab:blue", marker="|", ls="-", lw=1, ms=8, label=f"I ({n_i} neurons)"
        ),
    ]
    if window_ms is not None:
        for ax in (ax1, ax2):
            ax.axvspan(t_max_ms - window_ms, t_max_ms, color="0.92", zorder=-1)
        handles.append(
            Patch(
                facecolor="0.92",
                edgecolor="0.6",
                label=f"rate window: last {window_ms:g} ms\n(reported r_E, r_I measured here)",
            )
        )
    # outside the axes, right of the raster: never over the spikes
    ax1.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
    return save(fig, path)
