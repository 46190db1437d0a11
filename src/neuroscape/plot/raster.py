"""Spike raster with the population rates under it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neuroscape.plot._base import MAX_LINE_POINTS, PlotError, pyplot, save, thin

_COLORS = {"E": "tab:red", "I": "tab:blue"}
_CYCLE = ("tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
          "tab:cyan", "tab:gray")


def _colors(names) -> list[str]:
    """E red and I blue (the circuit's convention), the other populations from a cycle."""
    out, k = [], 0
    for n in names:
        if n in _COLORS:
            out.append(_COLORS[n])
        else:
            out.append(_CYCLE[k % len(_CYCLE)])
            k += 1
    return out


def population_rates(
    times_ms: np.ndarray, neurons: np.ndarray, sizes: Mapping[str, int], t_max_ms: float,
    bin_ms: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Bin centres (ms) and each population's rate (Hz) in bins of ``bin_ms``; neuron indices
    run over the populations in the order of ``sizes``."""
    edges = np.arange(0.0, t_max_ms + bin_ms, bin_ms)
    scale = 1000.0 / bin_ms
    rates, off = {}, 0
    for name, n in sizes.items():
        sel = (neurons >= off) & (neurons < off + n)
        h, _ = np.histogram(times_ms[sel], edges)
        rates[name] = h / n * scale
        off += n
    return 0.5 * (edges[1:] + edges[:-1]), rates


def raster_figure(
    times_ms: np.ndarray,
    neurons: np.ndarray,
    sizes: Mapping[str, int],
    t_max_ms: float,
    title: str = "",
    window_ms: float | None = None,
    bin_ms: float = 5.0,
    path: str | Path | None = None,
    *,
    max_points: int = MAX_LINE_POINTS,
):
    """Raster (one colour per population; E red, I blue) over the population rates (Hz in
    ``bin_ms`` bins), time in ms; grey: the last ``window_ms`` ms, where the reported rates are
    measured. ``sizes``: population -> size, in the order of the neuron indices. The legend,
    right of the axes, names the populations and the window. Saved to ``path`` if given (then
    released from pyplot); returns the Figure."""
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
    colors = _colors(sizes)
    t, rates = population_rates(times_ms, neurons, sizes, t_max_ms, bin_ms)
    handles, ranges, off = [], [], 0
    for (name, n), col in zip(sizes.items(), colors, strict=True):
        sel = (neurons >= off) & (neurons < off + n)
        ax1.scatter(times_ms[sel], neurons[sel], s=1.0, c=col, marker="|")
        ax2.plot(*thin(t, rates[name], max_points=max_points), color=col, lw=1)
        # marker-sized spikes are invisible in a legend: proxies in the same colours
        handles.append(Line2D([], [], color=col, marker="|", ls="-", lw=1, ms=8,
                              label=f"{name} ({n} neurons)"))
        ranges.append(f"{name}: {off}-{off + n - 1}")
        off += n
    ax1.set_ylabel("neuron index\n(" + ", ".join(ranges) + ")" if len(ranges) <= 3
                   else "neuron index")
    ax1.set_ylim(-1, off)
    ax1.set_title(title, fontsize=9)
    ax2.set_ylabel(f"population rate\n(Hz, {bin_ms:g} ms bins)")
    ax2.set_xlabel("time (ms)")
    ax2.set_xlim(0, t_max_ms)
    if window_ms is not None:
        for ax in (ax1, ax2):
            ax.axvspan(t_max_ms - window_ms, t_max_ms, color="0.92", zorder=-1)
        handles.append(
            Patch(
                facecolor="0.92",
                edgecolor="0.6",
                label=f"rate window: last {window_ms:g} ms\n(reported rates measured here)",
            )
        )
    # outside the axes, right of the raster: never over the spikes
    ax1.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
    return save(fig, path)
