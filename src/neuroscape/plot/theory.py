"""Figures of the seed-000 case studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import pyplot, save


def siegert_figure(study: dict, path: str | Path):
    plt = pyplot()
    s, n = study["single"], study["network"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
    a.plot(s["mu_mV"], s["rate_theory_hz"], "-", label="Siegert (diffusion approximation)")
    a.errorbar(
        s["mu_mV"],
        s["rate_sim_hz"],
        yerr=2 * s["sem_hz"],
        fmt="o",
        ms=4,
        label="LIF under Poisson drive",
    )
    a.axvline(20.0, color="0.7", lw=0.8, ls="--")
    a.set_xlabel("mean input mu (mV); dashed: threshold")
    a.set_ylabel("rate (Hz)")
    a.legend(frameon=False, fontsize=8)
    x = np.arange(len(n["g"]))
    b.bar(x - 0.2, n["rate_theory_hz"], 0.4, label="mean field")
    b.bar(x + 0.2, n["rate_E_sim_hz"], 0.4, label="spiking network (E)")
    b.set_xticks(x, [f"g={g:g}\neta={e:g}" for g, e in zip(n["g"], n["eta"], strict=True)])
    b.set_ylabel("rate (Hz)")
    b.set_title("Brunel network", fontsize=9)
    b.legend(frameon=False, fontsize=8)
    return save(fig, path)


def ddm_figure(study: dict, path: str | Path):
    plt = pyplot()
    t = study["table"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.5))
    a.errorbar(t["drift"], t["p_upper_sim"], yerr=3 * t["p_upper_se"], fmt="o", label="simulated")
    a.plot(t["drift"], t["p_upper_theory"], "k_", ms=12, label="closed form")
    a.set_xlabel("drift v")
    a.set_ylabel("P(upper bound)")
    a.legend(frameon=False, fontsize=8)
    b.errorbar(t["drift"], t["rt_sim_s"], yerr=3 * t["rt_se_s"], fmt="o")
    b.plot(t["drift"], t["rt_theory_s"], "k_", ms=12)
    b.set_xlabel("drift v")
    b.set_ylabel("mean decision time (s)")
    return save(fig, path)


def wong_wang_figure(study: dict, path: str | Path):
    plt = pyplot()
    fig, ax = plt.subplots(2, 2, figsize=(9, 7))
    p = study["psychometric"]
    ax[0, 0].semilogx(np.maximum(p["coherence_pct"], 1.0), p["p_correct"], "o-")
    ax[0, 0].set_xlabel("coherence (%) (0 plotted at 1)")
    ax[0, 0].set_ylabel("P(choice 1)")
    ax[0, 1].semilogx(np.maximum(p["coherence_pct"], 1.0), p["mean_rt_ms"], "o-")
    ax[0, 1].set_xlabel("coherence (%)")
    ax[0, 1].set_ylabel("mean decision time (ms)")
    rm = study["regime_map"]
    names = sorted({r for row in rm["regimes"] for r in row})
    img = np.array([[names.index(r) for r in row] for row in rm["regimes"]])
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap([f"C{k}" for k in range(len(names))])
    pc = ax[1, 0].pcolormesh(
        rm["mu0"], rm["J_S"], img, shading="nearest", cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5
    )
    cb = fig.colorbar(pc, ax=ax[1, 0], ticks=range(len(names)))
    cb.ax.set_yticklabels(names, fontsize=7)
    for e in study["edges_continuation"]:
        ax[1, 0].axvline(e[0], color="k", lw=0.6, ls="--")
    ax[1, 0].set_xlabel("stimulus mu0 (Hz); dashed: edges at the default J_S")
    ax[1, 0].set_ylabel("J_S (nA)")
    for label, (x, u) in study["landscapes"].items():
        ax[1, 1].plot(x, u, label=label)
    ax[1, 1].set_xlabel("S_1 - S_2")
    ax[1, 1].set_ylabel("energy U (1/s)")
    ax[1, 1].legend(frameon=False, fontsize=8)
    return save(fig, path)


def hopfield_figure(study: dict, path: str | Path):
    plt = pyplot()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    t, r = study["assembly"]
    for k in range(r.shape[1] - 2):
        c.plot(t, r[:, k], lw=1.2 if k == 0 else 0.7, label="cued assembly" if k == 0 else None)
    c.plot(t, r[:, -2], "k--", lw=0.8, label="background E")
    c.axvspan(*study["assembly_cue_ms"], color="0.9")
    c.set_xlabel("time (ms); grey: cue")
    c.set_ylabel("rate (Hz)")
    c.set_title("spiking E-I network with assemblies", fontsize=9)
    c.legend(frameon=False, fontsize=8)
    for i, n in enumerate(study["sizes"]):
        a.plot(study["alphas"], study["overlaps"][i].mean(1), "o-", label=f"N = {n}")
    a.axvline(0.138, color="0.6", ls="--", lw=0.8)
    a.axhline(0.9, color="0.8", lw=0.8)
    a.set_xlabel("load alpha = P/N (dashed: 0.138)")
    a.set_ylabel("mean final overlap")
    a.legend(frameon=False, fontsize=8)
    for al, tr in study["traces"].items():
        b.plot(tr, label=f"alpha = {al:g}")
    b.set_xlabel("asynchronous sweeps")
    b.set_ylabel("overlap with the cued pattern (N = 1000)")
    b.legend(frameon=False, fontsize=8)
    return save(fig, path)


def wilson_cowan_figure(study: dict, path: str | Path):
    plt = pyplot()
    t = study["table"]
    fig, a = plt.subplots(figsize=(5.5, 3.8))
    a.plot(t["P"], t["amplitude"], ".-")
    for h in study["hopf"]:
        a.axvline(h, color="C3", ls="--", lw=0.8, label=f"Hopf P = {h:.4f}")
    a.set_xlabel("drive P")
    a.set_ylabel("E oscillation amplitude")
    a.legend(frameon=False, fontsize=8)
    return save(fig, path)


def distal_reward_figure(res, path: str | Path):
    plt = pyplot()
    fig, a = plt.subplots(figsize=(6, 3.8))
    t = np.arange(1, len(res.w_history) + 1) / 60.0
    a.plot(t, res.w_history, label="rewarded synapse")
    a.plot(t, res.others_history, label="mean of the others (sample)")
    a.set_xlabel("time (min)")
    a.set_ylabel("weight (mV)")
    a.set_title(f"{res.rewards} rewards", fontsize=9)
    a.legend(frameon=False, fontsize=8)
    return save(fig, path)
