"""The surrogate accuracy figure (seed 004, Fig. 1b)."""

from __future__ import annotations

from pathlib import Path


def learning_curve_figure(lc, floor, path: str | Path, title: str = ""):
    """Test MAE (and RMSE) against n on log-log axes; dashed: the noise floor (or None)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for j, o in enumerate(lc.output_names):
        line = ax.loglog(lc.n, lc.mae[:, j], "o-", label=f"MAE {o}")
        ax.loglog(lc.n, lc.rmse[:, j], "s:", color=line[0].get_color(), label=f"RMSE {o}")
        if floor is not None:
            ax.axhline(floor[j], ls="--", color=line[0].get_color(), lw=0.8)
    ax.set_xlabel("training runs n")
    ax.set_ylabel("test error (Hz); dashed: noise floor")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
