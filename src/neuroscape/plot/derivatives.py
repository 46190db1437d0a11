"""Histograms of scaled partial derivatives (seed 004, Figs. 3 and 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def partials_histograms(d: np.ndarray, param_names, output_names, title: str, path: str | Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(param_names)
    fig, axes = plt.subplots(
        len(output_names), k, figsize=(2.2 * k, 2.2 * len(output_names)), squeeze=False
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
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def gain_curve_figure(gc, examples, path: str | Path):
    """(a) m1 against m2 with the sigmoidal quadrant; (b-d) surrogate (dashed) and simulated
    (solid) gain curves r_E(eta_ext_E) of a few parameter sets. ``examples``: a list of
    (eta_grid, r_surrogate, eta_sim, r_sim, label)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(examples), figsize=(4 * (1 + len(examples)), 3.6))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    ax.scatter(gc.m1, gc.m2, s=6, c=np.where(gc.sigmoidal, "tab:red", "0.3"))
    ax.axvline(0, color="k", lw=0.8)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("m1 (r_E in 5-15 Hz)")
    ax.set_ylabel("m2 (r_E in 20-30 Hz)")
    ax.set_title(
        f"{len(gc.m1)} plausible of {gc.n_sampled}; sigmoidal (red, m1 > 0 > m2): "
        f"{100 * gc.sigmoidal.mean():.0f}%",
        fontsize=8,
    )
    for ax, (eta, r_s, eta_sim, r_sim, label) in zip(axes[1:], examples, strict=True):
        ax.plot(eta, r_s, "--", color="tab:blue", label="surrogate")
        ax.plot(eta_sim, r_sim, "o-", color="k", ms=3, label="simulated")
        ax.set_xlabel("eta_ext_E (Hz)")
        ax.set_ylabel("r_E (Hz)")
        ax.set_title(label, fontsize=8)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
