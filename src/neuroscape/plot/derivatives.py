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
