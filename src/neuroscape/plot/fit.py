"""Figures of a fit: convergence, target against fit, phase planes, Pareto front, posterior;
and bifurcation maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import pyplot, save


def convergence_figure(result, path: str | Path):
    """Best error so far against simulations used."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    h = result.history
    ax.plot(h[:, 0], h[:, 1])
    if np.all(h[:, 1] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("simulations")
    ax.set_ylabel(f"best error ({' + '.join(result.measures)})")
    ax.set_title(f"{result.model}: {result.method}", fontsize=9)
    return save(fig, path)


def traces_figure(t_ms, v_target, v_fit, path: str | Path):
    """Target and best-fit traces, and their (V, dV/dt) phase planes."""
    from neuroscape.fit.measures import _smooth

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5), gridspec_kw={"width_ratios": [2, 1]})
    a.plot(t_ms, v_target, lw=0.7, color="0.4", label="target")
    a.plot(t_ms, v_fit, lw=0.9, color="C3", label="fit")
    a.set_xlabel("t (ms)")
    a.set_ylabel("V (mV)")
    a.legend(frameon=False, fontsize=8)
    for v, c, lab in ((v_target, "0.4", "target"), (v_fit, "C3", "fit")):
        vs = _smooth(t_ms, np.asarray(v))
        b.plot(vs, np.gradient(vs, t_ms), lw=0.6, color=c, label=lab)
    b.set_xlabel("V (mV)")
    b.set_ylabel("dV/dt (mV/ms)")
    b.set_title("phase plane (smoothed)", fontsize=9)
    return save(fig, path)


def pareto_figure(result, path: str | Path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    f = result.pareto_f
    o = np.argsort(f[:, 0])
    ax.plot(f[o, 0], f[o, 1], "o-", ms=4)
    ax.set_xlabel(result.measures[0])
    ax.set_ylabel(result.measures[1])
    ax.set_title(f"Pareto front: {len(f)} non-dominated points", fontsize=9)
    return save(fig, path)


def posterior_figure(result, path: str | Path):
    """Pair plot of posterior samples; red: the truth of a synthetic target."""
    plt = pyplot()
    s, names = result.posterior, result.free_names
    k = len(names)
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if i == j:
                ax.hist(s[:, i], bins=40, color="C0")
            elif i > j:
                ax.plot(s[:, j], s[:, i], ".", ms=1, alpha=0.3)
            else:
                ax.axis("off")
                continue
            if result.truth:
                tx = result.truth.get(names[j])
                if tx is not None:
                    ax.axvline(tx, color="C3", lw=0.8)
                if i > j and result.truth.get(names[i]) is not None:
                    ax.axhline(result.truth[names[i]], color="C3", lw=0.8)
            if i == k - 1:
                ax.set_xlabel(names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
    return save(fig, path)


def bifurcation_figure(bmap, path: str | Path):
    """1D: oscillation amplitude and the equilibrium's largest real eigenvalue part against the
    parameter, boundaries marked; 2D: behaviour classes with the Hopf/saddle-node points."""
    plt = pyplot()
    if len(bmap.params) == 1:
        x = bmap.values[0]
        fig, (a, b) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
        classes = sorted(set(bmap.labels))
        for k, c in enumerate(classes):
            m = bmap.labels == c
            a.plot(x[m], bmap.amplitude[m], "o", ms=3, color=f"C{k}", label=c)
        a.set_ylabel("V amplitude (2nd half)")
        a.legend(frameon=False, fontsize=8)
        b.plot(x, bmap.max_re, "-", color="0.3")
        b.axhline(0, color="0.7", lw=0.8)
        b.set_ylabel("max Re(eigenvalue)")
        b.set_xlabel(bmap.params[0])
        for bd in bmap.boundaries:
            for ax in (a, b):
                ax.axvline(
                    bd.value,
                    ls="--",
                    lw=0.8,
                    color="C3" if bd.kind in ("hopf", "saddle-node") else "0.5",
                )
        return save(fig, path)
    x, y = bmap.values
    classes = sorted(set(bmap.labels.ravel()))
    img = np.vectorize(classes.index)(bmap.labels)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    pc = ax.pcolormesh(x, y, img, shading="nearest", cmap="tab10", vmin=0, vmax=9)
    cb = fig.colorbar(pc, ax=ax, ticks=range(len(classes)))
    cb.ax.set_yticklabels(classes)
    for kind, mk in (("hopf", "x"), ("saddle-node", "+")):
        pts = [(bd.value, next(iter(bd.at.values()))) for bd in bmap.boundaries if bd.kind == kind]
        if pts:
            ax.plot(*np.array(pts).T, mk, color="k", ms=5, label=kind)
    ax.set_xlabel(bmap.params[0])
    ax.set_ylabel(bmap.params[1])
    ax.legend(frameon=False, fontsize=8)
    return save(fig, path)
