"""Figure for docs: spread of (r_E, r_I) across graph seeds vs across noise seeds on one graph.

python benchmarks/graph_vs_noise.py --out docs/figures/graph_vs_noise.png
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from neuroscape.analysis.graph_variation import graph_vs_noise

PARAM_SETS = [
    {},
    {"eta_ext_E": 2500.0, "eta_ext_I_rel": 3.0, "S_EI_rel": 2.0},
    {"eta_ext_E": 1000.0},
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/figures/graph_vs_noise.png")
    ap.add_argument("--n", type=int, default=12)
    args = ap.parse_args()
    res = graph_vs_noise(PARAM_SETS, n_graphs=args.n, n_noise=args.n)
    summary = [
        {
            "params": p,
            "sd_graphs_Hz": np.round(g, 3).tolist(),
            "sd_noise_Hz": np.round(n, 3).tolist(),
            "mean_Hz": np.round(res["across_noise"][k].mean(0), 2).tolist(),
        }
        for k, (p, g, n) in enumerate(
            zip(PARAM_SETS, res["sd_graphs"], res["sd_noise"], strict=True)
        )
    ]
    print(json.dumps(summary, indent=1))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PARAM_SETS), figsize=(12, 3.8))
    for k, ax in enumerate(axes):
        g, n = res["across_graphs"][k], res["across_noise"][k]
        ax.scatter(g[:, 0], g[:, 1], c="tab:orange", s=18, label=f"{args.n} graphs")
        ax.scatter(
            n[:, 0], n[:, 1], c="k", s=10, marker="x", label=f"{args.n} noise seeds, 1 graph"
        )
        ax.set_xlabel("r_E (Hz)")
        ax.set_ylabel("r_I (Hz)")
        title = ", ".join(f"{a}={b:g}" for a, b in PARAM_SETS[k].items()) or "defaults"
        sg, sn = res["sd_graphs"][k], res["sd_noise"][k]
        ax.set_title(
            f"{title}\nSD graphs ({sg[0]:.2f}, {sg[1]:.2f}) vs noise ({sn[0]:.2f}, {sn[1]:.2f}) Hz",
            fontsize=8,
        )
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"figure -> {args.out}")


if __name__ == "__main__":
    main()
