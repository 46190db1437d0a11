"""Figures of the theory case studies: the Siegert rate and the Brunel network, the drift-
diffusion model, the Wong & Wang (2006) decision circuit, Hopfield capacity and assembly
retrieval, the Wilson & Cowan (1972) Hopf bifurcation and Izhikevich's (2007) distal reward.
Every function saves to ``path`` (if given) and returns the Figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import axis_label, pyplot, save, thin

_LEGEND = {"frameon": False, "fontsize": 8}


def siegert_figure(study: dict, path: str | Path | None):
    plt = pyplot()
    s, n = study["single"], study["network"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(s["mu_mV"], s["rate_theory_hz"], "-", label="Siegert (diffusion approximation)")
    a.errorbar(
        s["mu_mV"],
        s["rate_sim_hz"],
        yerr=2 * s["sem_hz"],
        fmt="o",
        ms=4,
        label="LIF under Poisson drive (±2 SEM)",
    )
    a.axvline(20.0, color="0.7", lw=0.8, ls="--", label="threshold (20 mV)")
    a.set_xlabel(axis_label("mean input μ", "mV"))
    a.set_ylabel(axis_label("firing rate", "Hz"))
    a.legend(**_LEGEND)
    x = np.arange(len(n["g"]))
    b.bar(x - 0.2, n["rate_theory_hz"], 0.4, label="mean field")
    b.bar(x + 0.2, n["rate_E_sim_hz"], 0.4, label="spiking network (E)")
    b.set_xticks(x, [f"g={g:g}\nη={e:g}" for g, e in zip(n["g"], n["eta"], strict=True)])
    b.set_xlabel(axis_label("network parameters g, η", "1"))
    b.set_ylabel(axis_label("firing rate", "Hz"))
    b.set_title("Brunel network", fontsize=9)
    b.legend(**_LEGEND)
    return save(fig, path)


def ddm_figure(study: dict, path: str | Path | None):
    plt = pyplot()
    t = study["table"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
    a.errorbar(
        t["drift"], t["p_upper_sim"], yerr=3 * t["p_upper_se"], fmt="o", label="simulated (±3 SE)"
    )
    a.plot(t["drift"], t["p_upper_theory"], "k_", ms=12, label="closed form")
    a.set_xlabel(axis_label("drift v", "1/s"))
    a.set_ylabel(axis_label("P(upper bound)", "1"))
    a.legend(**_LEGEND)
    b.errorbar(t["drift"], t["rt_sim_s"], yerr=3 * t["rt_se_s"], fmt="o", label="simulated (±3 SE)")
    b.plot(t["drift"], t["rt_theory_s"], "k_", ms=12, label="closed form")
    b.set_xlabel(axis_label("drift v", "1/s"))
    b.set_ylabel(axis_label("mean decision time", "s"))
    b.legend(**_LEGEND)
    return save(fig, path)


def wong_wang_figure(study: dict, path: str | Path | None):
    from matplotlib.colors import ListedColormap

    plt = pyplot()
    fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
    p = study["psychometric"]
    coh = np.maximum(p["coherence_pct"], 1.0)  # log axis: coherence 0 drawn at 1 %
    ax[0, 0].semilogx(coh, p["p_correct"], "o-", label="simulated trials")
    ax[0, 0].set_xlabel(axis_label("coherence", "%", "0 drawn at 1"))
    ax[0, 0].set_ylabel(axis_label("P(choice 1)", "1"))
    ax[0, 0].legend(**_LEGEND)
    ax[0, 1].semilogx(coh, p["mean_rt_ms"], "o-", label="simulated trials")
    ax[0, 1].set_xlabel(axis_label("coherence", "%", "0 drawn at 1"))
    ax[0, 1].set_ylabel(axis_label("mean decision time", "ms"))
    ax[0, 1].legend(**_LEGEND)
    rm = study["regime_map"]
    names = sorted({r for row in rm["regimes"] for r in row})
    img = np.array([[names.index(r) for r in row] for row in rm["regimes"]])
    cmap = ListedColormap([f"C{k}" for k in range(len(names))])
    pc = ax[1, 0].pcolormesh(
        rm["mu0"], rm["J_S"], img, shading="nearest", cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5
    )
    cb = fig.colorbar(pc, ax=ax[1, 0], ticks=range(len(names)))
    cb.ax.set_yticklabels(names, fontsize=8)
    cb.set_label("regime (stable fixed points)", fontsize=8)
    for k, e in enumerate(study["edges_continuation"]):
        ax[1, 0].axvline(
            e[0],
            color="k",
            lw=0.8,
            ls="--",
            label="regime edges at the default J_S (continuation)" if k == 0 else None,
        )
    ax[1, 0].set_xlabel(axis_label("stimulus μ0", "Hz"))
    ax[1, 0].set_ylabel(axis_label("self excitation J_S", "nA"))
    if study["edges_continuation"]:
        ax[1, 0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, frameon=False)
    for label, (x, u) in study["landscapes"].items():
        ax[1, 1].plot(x, u, label=f"{label} Hz")
    ax[1, 1].set_xlabel(axis_label("S_1 - S_2", "1"))
    ax[1, 1].set_ylabel(axis_label("energy U", "1/s"))
    ax[1, 1].legend(**_LEGEND)
    return save(fig, path)


def hopfield_figure(study: dict, path: str | Path | None):
    from matplotlib.patches import Patch

    plt = pyplot()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4.2))
    t, r = study["assembly"]
    for k in range(r.shape[1] - 2):
        c.plot(
            t,
            r[:, k],
            lw=1.2 if k == 0 else 0.7,
            label="cued assembly" if k == 0 else ("other assemblies" if k == 1 else None),
        )
    c.plot(t, r[:, -2], "k--", lw=0.8, label="background E")
    c.axvspan(*study["assembly_cue_ms"], color="0.9")
    c.set_xlabel(axis_label("time", "ms"))
    c.set_ylabel(axis_label("population rate", "Hz"))
    c.set_title("spiking E-I network with assemblies", fontsize=9)
    handles, _ = c.get_legend_handles_labels()
    lo, hi = study["assembly_cue_ms"]
    handles.append(Patch(color="0.9", label=f"cue to assembly 0 ({lo:g}-{hi:g} ms)"))
    c.legend(handles=handles, **_LEGEND)
    for i, n in enumerate(study["sizes"]):
        a.plot(study["alphas"], study["overlaps"][i].mean(1), "o-", label=f"N = {n}")
    a.axvline(0.138, color="0.6", ls="--", lw=0.8, label="α_c = 0.138 (large-N theory)")
    a.axhline(0.9, color="0.8", lw=0.8, label="retrieval level 0.9")
    a.set_xlabel(axis_label("load α = P/N", "1"))
    a.set_ylabel(axis_label("mean final overlap", "1"))
    a.legend(**_LEGEND)
    for al, tr in study["traces"].items():
        b.plot(tr, label=f"α = {al:g}")
    b.set_xlabel(axis_label("time", "asynchronous sweeps of all N neurons"))
    b.set_ylabel(axis_label("overlap with the cued pattern", "1"))
    b.set_title("N = 1000", fontsize=9)
    b.legend(**_LEGEND)
    return save(fig, path)


def wilson_cowan_figure(study: dict, path: str | Path | None):
    plt = pyplot()
    t = study["table"]
    fig, a = plt.subplots(figsize=(6, 4))
    a.plot(t["P"], t["amplitude"], ".-", label="simulated")
    for h in study["hopf"]:
        a.axvline(
            h,
            color="C3",
            ls="--",
            lw=0.8,
            label=f"Hopf point P = {h:.4f}",
        )
    a.set_xlabel(axis_label("drive P", "1"))
    a.set_ylabel(axis_label("E oscillation amplitude", "1", "peak to peak"))
    a.legend(**_LEGEND)
    return save(fig, path)


def distal_reward_figure(res, path: str | Path | None):
    """The weight of the rewarded synapse and the mean of the other excitatory synapses (mV)
    at each second of the run (``res``: ``DistalRewardResult``: ``w_history``,
    ``others_history``, ``rewards``)."""
    plt = pyplot()
    fig, a = plt.subplots(figsize=(6.5, 4))
    t = np.arange(1, len(res.w_history) + 1) / 60.0
    a.plot(*thin(t, res.w_history), label="rewarded synapse")
    a.plot(*thin(t, res.others_history), label="mean of the other excitatory synapses")
    a.set_xlabel(axis_label("time", "min"))
    a.set_ylabel(axis_label("synaptic weight", "mV"))
    a.set_title(f"{res.rewards} rewards", fontsize=9)
    a.legend(**_LEGEND)
    return save(fig, path)
