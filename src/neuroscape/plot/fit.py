"""Figures of a fit: convergence, target against fit, phase planes, Pareto front, posterior;
and bifurcation maps. Every function saves to ``path`` (if given) and returns the Figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import axis_label, pyplot, save, thin, units_for


def _measure_label(measure: str, result) -> str:
    """``measure``'s axis label, in the unit the result records (else the model's)."""
    from neuroscape.fit.measures import measure_unit

    units = getattr(result, "measure_units", None) or {}
    unit = units.get(measure) or measure_unit(measure, result.model)
    return axis_label(f"{measure} error", unit)


def parameter_units(model, names: list[str]) -> list[str | None]:
    """The declared unit of each named parameter of ``model`` (an object or a name; ``I``: a
    single neuron's injected current), None where the model or the name is not known."""
    if model is None:
        return [None] * len(names)
    from neuroscape.models import ModelError, resolve
    from neuroscape.models.neuron import NeuronModel

    try:
        m = resolve(model)
    except ModelError:  # unknown, or a model file that is gone
        return [None] * len(names)
    units = {p.name: p.unit for p in m.spec.parameters}
    if isinstance(m, NeuronModel):
        units.setdefault("I", m.current_unit)
    return [units.get(n) for n in names]


def _result_parameter_units(result, names: list[str]) -> list[str | None]:
    """The units the result records (a fit of any model), else the model's declarations."""
    recorded = getattr(result, "parameter_units", None) or {}
    if all(n in recorded for n in names):
        return [recorded[n] for n in names]
    return parameter_units(result.model, names)


def convergence_figure(result, path: str | Path | None):
    """Best error so far against simulations used."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    h = result.history
    ax.plot(h[:, 0], h[:, 1], label="best so far")
    if np.all(h[:, 1] > 0):
        ax.set_yscale("log")
    ax.set_xlabel(axis_label("simulations used", "count"))
    # the scalar error is the sum of the measures, each in its own unit
    ax.set_ylabel(
        "best error: " + " + ".join(_measure_label(m, result) for m in result.measures),
        fontsize=8,
    )
    ax.set_title(f"{result.model}: {result.method}", fontsize=9)
    return save(fig, path)


def traces_figure(t_ms, v_target, v_fit, path: str | Path | None):
    """Target and best-fit traces (mV against ms), and their (V, dV/dt) phase planes."""
    from neuroscape.fit.measures import _smooth

    plt = pyplot()
    t_ms = np.asarray(t_ms)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    a.plot(*thin(t_ms, np.asarray(v_target)), lw=0.7, color="0.4", label="target")
    a.plot(*thin(t_ms, np.asarray(v_fit)), lw=0.9, color="C3", label="fit")
    a.set_xlabel(axis_label("time", "ms"))
    a.set_ylabel(axis_label("V", "mV"))
    a.legend(frameon=False, fontsize=8)
    for v, c, lab in ((v_target, "0.4", "target"), (v_fit, "C3", "fit")):
        vs = _smooth(t_ms, np.asarray(v))
        _, pv, pdv = thin(t_ms, vs, np.gradient(vs, t_ms))
        b.plot(pv, pdv, lw=0.6, color=c, label=lab)
    b.set_xlabel(axis_label("V", "mV"))
    b.set_ylabel(axis_label("dV/dt", "mV/ms"))
    b.set_title("phase plane (smoothed)", fontsize=9)
    b.legend(frameon=False, fontsize=8)
    return save(fig, path)


def pareto_figure(result, path: str | Path | None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    f = result.pareto_f
    o = np.argsort(f[:, 0])
    ax.plot(f[o, 0], f[o, 1], "o-", ms=4, label="non-dominated points")
    ax.set_xlabel(_measure_label(result.measures[0], result))
    ax.set_ylabel(_measure_label(result.measures[1], result))
    ax.set_title(f"Pareto front: {len(f)} non-dominated points", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    return save(fig, path)


def posterior_figure(result, path: str | Path | None, *, param_units: list[str] | None = None):
    """Pair plot of posterior samples; red: the truth of a synthetic target. Axis units:
    ``param_units`` (one per free parameter), else the result's ``parameter_units``, else the
    model's declarations."""
    plt = pyplot()
    s, names = result.posterior, result.free_names
    units = (
        units_for(names, param_units, "posterior_figure param_units")
        if param_units is not None
        else _result_parameter_units(result, names)
    )
    k = len(names)
    fig, axes = plt.subplots(k, k, figsize=(2.4 * k, 2.4 * k), squeeze=False)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if i == j:
                ax.hist(s[:, i], bins=40, color="C0")
                if j == 0:
                    ax.set_ylabel(axis_label("samples", "count"), fontsize=8)
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
                ax.set_xlabel(axis_label(names[j], units[j]), fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(axis_label(names[i], units[i]), fontsize=8)
            ax.tick_params(labelsize=7)
    if result.truth:
        from matplotlib.lines import Line2D

        fig.legend(
            handles=[Line2D([], [], color="C3", lw=0.8, label="truth (synthetic target)")],
            loc="upper right",
            fontsize=8,
            frameon=False,
        )
    return save(fig, path)


def bifurcation_figure(
    bmap,
    path: str | Path | None,
    *,
    param_units: list[str] | None = None,
    v_unit: str | None = None,
    model: str | None = None,
):
    """1D: oscillation amplitude and the equilibrium's largest real eigenvalue part (1/ms)
    against the parameter, boundaries marked; 2D: behaviour classes with the Hopf/saddle-node
    points. Units: ``param_units`` (one per map parameter) or, with ``model``, its declared
    ones; ``v_unit`` the membrane potential's ("1": dimensionless)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    plt = pyplot()
    units = (
        units_for(list(bmap.params), param_units, "bifurcation_figure param_units")
        if param_units is not None
        else parameter_units(model, list(bmap.params))
    )
    if len(bmap.params) == 1:
        x = bmap.values[0]
        fig, (a, b) = plt.subplots(2, 1, figsize=(7.5, 5.5), sharex=True)
        classes = sorted(set(bmap.labels))
        for k, c in enumerate(classes):
            m = bmap.labels == c
            a.plot(x[m], bmap.amplitude[m], "o", ms=3, color=f"C{k}", label=f"simulated: {c}")
        a.set_ylabel(axis_label("V amplitude", v_unit, "2nd half of the run"), fontsize=9)
        b.plot(x, bmap.max_re, "-", color="0.3", label="equilibrium (continuation)")
        b.axhline(0, color="0.7", lw=0.8)
        b.set_ylabel(axis_label("max Re(eigenvalue)", "1/ms"), fontsize=9)
        b.set_xlabel(axis_label(bmap.params[0], units[0]))
        kinds = set()
        for bd in bmap.boundaries:
            eig = bd.kind in ("hopf", "saddle-node")
            kinds.add(eig)
            for ax in (a, b):
                ax.axvline(bd.value, ls="--", lw=0.8, color="C3" if eig else "0.5")
        handles, _ = a.get_legend_handles_labels()
        if True in kinds:
            handles.append(
                Line2D(
                    [], [], ls="--", lw=0.8, color="C3", label="Hopf / saddle-node (eigenvalues)"
                )
            )
        if False in kinds:
            handles.append(
                Line2D([], [], ls="--", lw=0.8, color="0.5", label="class change or branch end")
            )
        # right of the axes: the classes' points fill the panel
        a.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )
        b.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        return save(fig, path)
    x, y = bmap.values
    classes = sorted(set(bmap.labels.ravel()))
    img = np.vectorize(classes.index)(bmap.labels)
    fig, ax = plt.subplots(figsize=(7, 4.8))
    # one colour per class, each centred on its tick
    cmap = ListedColormap([f"C{k}" for k in range(len(classes))])
    pc = ax.pcolormesh(x, y, img, shading="nearest", cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5)
    cb = fig.colorbar(pc, ax=ax, ticks=range(len(classes)))
    cb.ax.set_yticklabels(classes, fontsize=8)
    cb.set_label("behaviour class (simulated)", fontsize=9)
    for kind, mk in (("hopf", "x"), ("saddle-node", "+")):
        pts = [(bd.value, next(iter(bd.at.values()))) for bd in bmap.boundaries if bd.kind == kind]
        if pts:
            ax.plot(*np.array(pts).T, mk, color="k", ms=5, label=f"{kind} (eigenvalues)")
    ax.set_xlabel(axis_label(bmap.params[0], units[0]))
    ax.set_ylabel(axis_label(bmap.params[1], units[1]))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize=8, frameon=False
        )
    return save(fig, path)
