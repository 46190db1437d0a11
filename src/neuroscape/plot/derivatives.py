"""Histograms of scaled partial derivatives and the gain-curve figure (Zhang, Young & Lai 2020,
Figs. 3, 6 and 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import axis_label, pyplot, save, units_for


def partials_histograms(
    d: np.ndarray,
    param_names,
    output_names,
    title: str,
    path: str | Path | None,
    *,
    output_units: list[str] | None = None,
):
    """One histogram per (output, parameter) of ``d`` (N, n_out, n_params): scaled partials,
    in the output's unit (``output_units``, one per output). Returns the Figure."""
    units = units_for(list(output_names), output_units, "partials_histograms output_units")
    plt = pyplot()
    k = len(param_names)
    fig, axes = plt.subplots(
        len(output_names), k, figsize=(2.4 * k, 2.4 * len(output_names) + 0.4), squeeze=False
    )
    for i, o in enumerate(output_names):
        for j, p in enumerate(param_names):
            ax = axes[i, j]
            x = d[:, i, j]
            lim = np.percentile(np.abs(x), 99) or 1.0
            ax.hist(x, bins=60, range=(-lim, lim), color="0.3")
            ax.axvline(0, color="tab:red", lw=0.8)
            ax.set_title(f"{o} / {p}", fontsize=7)
            ax.tick_params(labelsize=6)
            # every row is in its own output's unit
            ax.set_xlabel(axis_label("scaled partial", units[i]), fontsize=6)
            if j == 0:
                ax.set_ylabel(axis_label("samples", "count"), fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save(fig, path, dpi=110)


def gain_curve_figure(gc, examples, path: str | Path | None):
    """(a) m1 against m2 (Hz) with the sigmoidal quadrant; (b-d) surrogate (dashed) and
    simulated (solid) gain curves r_E(eta_ext_E) of a few parameter sets. ``examples``: a list
    of (eta_grid, r_surrogate, eta_sim, r_sim, label). Returns the Figure."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    fig, axes = plt.subplots(1, 1 + len(examples), figsize=(4.2 * (1 + len(examples)), 4))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    ax.scatter(gc.m1, gc.m2, s=6, c=np.where(gc.sigmoidal, "tab:red", "0.3"))
    ax.axvline(0, color="k", lw=0.8)
    ax.axhline(0, color="k", lw=0.8)
    # m = 1/2 r_E'' eta30^2: Hz, as r_E
    ax.set_xlabel(axis_label("m1", "Hz", "curvature where r_E is 5-15 Hz"), fontsize=8)
    ax.set_ylabel(axis_label("m2", "Hz", "curvature where r_E is 20-30 Hz"), fontsize=8)
    ax.set_title(f"{len(gc.m1)} plausible of {gc.n_sampled} parameter sets", fontsize=8)
    ax.legend(
        handles=[
            Line2D(
                [], [], ls="", marker="o", ms=3, color="tab:red", label="sigmoidal (m1 > 0 > m2)"
            ),
            Line2D([], [], ls="", marker="o", ms=3, color="0.3", label="other"),
        ],
        fontsize=7,
        frameon=False,
        title=f"sigmoidal: {100 * np.mean(gc.sigmoidal):.0f}%" if len(gc.m1) else "no sets",
        title_fontsize=7,
    )
    for ax, (eta, r_s, eta_sim, r_sim, label) in zip(axes[1:], examples, strict=True):
        ax.plot(eta, r_s, "--", color="tab:blue", label="surrogate")
        ax.plot(eta_sim, r_sim, "o-", color="k", ms=3, label="simulated")
        ax.set_xlabel(axis_label("eta_ext_E", "Hz"))
        ax.set_ylabel(axis_label("r_E", "Hz"))
        ax.set_title(label, fontsize=8)
        ax.legend(fontsize=7, frameon=False)
    return save(fig, path, dpi=110)
