"""Figures of a sweep database: a heat map of two outputs with the model's declared output domain
(for the circuit, Fig. 1a of Zhang, Young & Lai 2020) and one-parameter slices of every
output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.core.spec import OutputDomain
from neuroscape.plot._base import PlotError, axis_label, pyplot, save, units_for


def output_heatmap(
    x: np.ndarray,
    y: np.ndarray,
    path: str | Path | None,
    bins: int = 60,
    *,
    domain: OutputDomain,
    names: tuple[str, str] = ("r_E", "r_I"),
    output_units: list[str],
):
    """2-D histogram of two outputs on log counts, with the model's declared output ``domain``
    drawn: a bound on ``names[0]`` and a bound on the ratio ``names[1] / names[0]`` (the circuit's
    O of Zhang, Young & Lai 2020, Fig. 1a). ``output_units``: the declared unit of each; both
    must be the same. Returns the Figure."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import LogLocator, StrMethodFormatter

    nx, ny = names
    units = units_for([nx, ny], output_units, "output_heatmap output_units")
    if units[0] != units[1]:
        raise PlotError(
            f"output_heatmap: {nx}, {ny} in {units[0]!r}, {units[1]!r}; allowed: one unit "
            "(the domain bounds their ratio)"
        )
    bounds = [b for b in domain.bounds if b[0] == nx]
    ratios = [r for r in domain.ratios if r[:2] == (ny, nx)]
    if len(bounds) != 1 or len(ratios) != 1:
        raise PlotError(
            f"output_heatmap draws a domain with one bound on {nx} and one on {ny}/{nx}; "
            f"got {domain.as_dict()}"
        )
    _, lo, hi = bounds[0]
    _, _, a, b = ratios[0]
    x, y = np.asarray(x, float), np.asarray(y, float)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    h = ax.hist2d(x, y, bins=bins, cmap="viridis", norm=LogNorm(), cmin=1)
    cb = fig.colorbar(h[3], ax=ax)
    cb.set_label("runs per bin (count, log scale)", fontsize=9)
    # 1-2-5 ticks written as plain integers: readable over one decade or several
    cb.ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    cb.ax.yaxis.set_major_formatter(StrMethodFormatter("{x:.0f}"))
    cb.ax.yaxis.set_minor_formatter(StrMethodFormatter(""))
    cb.ax.tick_params(labelsize=8)
    xs = np.array([lo, hi, hi, lo, lo])
    ys = np.array([a * lo, a * hi, b * hi, b * lo, a * lo])
    unit = "" if units[0] in ("1", "") else f" {units[0]}"
    ax.plot(
        xs,
        ys,
        "--",
        color="tab:red",
        lw=1.5,
        label=f"output domain: {nx} {lo:g}-{hi:g}{unit}, {ny}/{nx} {a:g}-{b:g}",
    )
    inside = domain.contains(np.column_stack([x, y]), [nx, ny]).mean()
    ax.set_xlabel(axis_label(nx, units[0]))
    ax.set_ylabel(axis_label(ny, units[1]))
    ax.set_title(f"{len(x)} runs, {100 * inside:.1f}% in the domain", fontsize=9)
    # under the axes: never over the data
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    return save(fig, path)


def parameter_slices(
    params: np.ndarray,
    names: list[str],
    outputs: np.ndarray,
    out_names: list[str],
    path: str | Path | None,
    bins: int = 12,
    *,
    parameter_units: list[str] | None = None,
    output_units: list[str] | None = None,
):
    """For each parameter: each output's mean (and 10-90% band) in bins of that parameter.
    ``parameter_units`` and ``output_units`` (one per name, "1": dimensionless) label the axes.
    Returns the Figure."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    params, outputs = np.atleast_2d(params), np.atleast_2d(outputs)
    if params.shape[1] != len(names) or outputs.shape[1] != len(out_names):
        raise PlotError(
            f"parameter_slices: {params.shape[1]} parameter columns for {len(names)} names, "
            f"{outputs.shape[1]} output columns for {len(out_names)} names; allowed: equal"
        )
    p_units = units_for(names, parameter_units, "parameter_units")
    o_units = units_for(out_names, output_units, "output_units")
    plt = pyplot()
    k = len(names)
    fig, axes = plt.subplots(
        len(out_names),
        k,
        figsize=(2.4 * k, 2.3 * len(out_names) + 0.5),
        squeeze=False,
        sharex="col",  # every row shows the same parameter range as the labelled bottom row
        sharey="row",
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
                    (np.mean(yb), *np.percentile(yb, [10, 90]))
                    if len(yb := y[(idx == b) & np.isfinite(y)])  # e.g. cv_isi of silent cells
                    else (np.nan, np.nan, np.nan)
                    for b in range(bins)
                ]
            )
            ax = axes[i, j]
            if edges[-1] > edges[0]:
                ax.set_xlim(edges[0], edges[-1])
            if not np.isfinite(stats[:, 0]).any():
                ax.text(
                    0.5,
                    0.5,
                    "no finite values",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=7,
                    color="0.4",
                )
            ax.fill_between(mid, stats[:, 1], stats[:, 2], color="0.85")
            ax.plot(mid, stats[:, 0], color="k", lw=1)
            if i == len(out_names) - 1:
                ax.set_xlabel(axis_label(name, p_units[j]), fontsize=8)
            if j == 0:
                ax.set_ylabel(axis_label(out, o_units[i]), fontsize=8)
            ax.tick_params(labelsize=7)
    fig.legend(
        handles=[
            Line2D([], [], color="k", lw=1, label="mean over the bin's runs"),
            Patch(color="0.85", label="10th-90th percentile"),
        ],
        loc="upper center",
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
