"""Figures of single-neuron runs: voltage traces (with the stimulus current), phase planes,
f-I curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.plot._base import MAX_LINE_POINTS, PlotError, axis_label, pyplot, save, thin


def trace_figure(
    t_ms,
    v,
    spikes,
    title: str,
    ylabel: str,
    path: str | Path | None,
    *,
    v_unit: str | None = None,
    v_note: str | None = None,
    stim_t_ms=None,
    stim_current=None,
    current_unit: str | None = None,
    max_points: int = MAX_LINE_POINTS,
):
    """Membrane potential (or its analogue, named ``ylabel``) against time (ms), spike times
    marked; with ``stim_current`` (in ``current_unit``, sampled at ``stim_t_ms``, default
    ``t_ms``) the injected current in a panel under it. ``v_unit``: the state's unit ("1":
    dimensionless), ``v_note`` its scale, e.g. "1 = threshold". Lines are thinned to
    ``max_points`` per line keeping each bucket's min and max. Returns the Figure."""
    plt = pyplot()
    t_ms, v = np.asarray(t_ms), np.asarray(v)
    if len(t_ms) != len(v):
        raise PlotError(f"trace: {len(t_ms)} times for {len(v)} values; allowed: equal lengths")
    with_stim = stim_current is not None
    if with_stim:
        if current_unit is None:
            raise PlotError("stim_current given without current_unit; allowed: a unit, '1'")
        stim_current = np.asarray(stim_current)
        stim_t = t_ms if stim_t_ms is None else np.asarray(stim_t_ms)
        if len(stim_t) != len(stim_current):
            raise PlotError(
                f"stimulus: {len(stim_t)} times for {len(stim_current)} currents; "
                "allowed: equal lengths"
            )
        fig, (ax, ax_i) = plt.subplots(
            2, 1, figsize=(8, 4.4), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
        )
    else:
        fig, ax = plt.subplots(figsize=(8, 3.2))
    tt, vv = thin(t_ms, v, max_points=max_points)
    ax.plot(tt, vv, lw=0.8, color="k")
    spikes = np.asarray(spikes)
    if len(spikes) and np.any(np.isfinite(v)):
        ax.plot(
            spikes,
            np.full(len(spikes), np.nanmax(v)),
            "|",
            color="tab:red",
            ms=8,
            label="spike times",
        )
        # outside the axes, right of the trace: a legend inside would cover spikes
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_ylabel(axis_label(ylabel, v_unit, v_note) if v_unit is not None else ylabel)
    ax.set_title(title, fontsize=9)
    bottom = ax
    if with_stim:
        ts, cs = thin(stim_t, stim_current, max_points=max_points)
        ax_i.plot(ts, cs, lw=0.8, color="tab:blue")
        ax_i.set_ylabel(axis_label("I", current_unit))
        bottom = ax_i
    bottom.set_xlabel("time (ms)")
    return save(fig, path)


def phase_plane_figure(
    v: np.ndarray,
    dt_ms: float,
    title: str,
    path: str | Path | None,
    w: np.ndarray | None = None,
    nullclines=None,
    *,
    v_unit: str | None = None,
    w_unit: str | None = None,
    v_name: str = "V",
    w_name: str = "w",
    max_points: int = MAX_LINE_POINTS,
):
    """V against dV/dt (per ms); with ``w`` (FitzHugh-Nagumo) also the (v, w) plane and its
    nullclines, ``nullclines(v_grid) -> (w_on_v_nullcline, w_on_w_nullcline)``. ``v_unit`` and
    ``w_unit``: the states' units ("1": dimensionless). Returns the Figure."""
    plt = pyplot()

    v = np.asarray(v)
    n = 2 if w is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 4))
    axes = np.atleast_1d(axes)
    dv = np.gradient(v, dt_ms)
    # a parametric curve: keep each bucket's extremes of both coordinates
    _, pv, pdv = thin(np.arange(len(v)), v, dv, max_points=max_points)
    axes[0].plot(pv, pdv, lw=0.6, color="k")
    axes[0].set_xlabel(axis_label(v_name, v_unit) if v_unit is not None else v_name)
    if v_unit is None:
        axes[0].set_ylabel(f"d{v_name}/dt (per ms)")
    else:
        rate_unit = "1/ms" if v_unit.strip() in ("", "1") else f"{v_unit}/ms"
        axes[0].set_ylabel(axis_label(f"d{v_name}/dt", rate_unit))
    axes[0].set_title(title, fontsize=9)
    if w is not None:
        w = np.asarray(w)
        ax = axes[1]
        _, tv, tw = thin(np.arange(len(v)), v, w, max_points=max_points)
        ax.plot(tv, tw, lw=0.8, color="k", label="trajectory")
        if nullclines is not None:
            grid = np.linspace(min(v.min(), -2.5), max(v.max(), 2.5), 400)
            wv, ww = nullclines(grid)
            ax.plot(grid, wv, "--", color="tab:red", label=f"{v_name}-nullcline")
            ax.plot(grid, ww, "--", color="tab:blue", label=f"{w_name}-nullcline")
            ax.set_ylim(w.min() - 1, w.max() + 1)
        ax.set_xlabel(axis_label(v_name, v_unit) if v_unit is not None else v_name)
        ax.set_ylabel(axis_label(w_name, w_unit) if w_unit is not None else w_name)
        ax.legend(fontsize=7, frameon=False)
    return save(fig, path)


def fi_figure(currents, rates, title: str, xlabel: str, path: str | Path | None):
    """Firing rate (Hz) against injected current; ``xlabel`` names the current with its unit.
    Returns the Figure."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    ax.plot(currents, rates, "o-", ms=3, color="k")
    ax.set_ylim(bottom=0)  # a rate is never negative
    ax.set_xlabel(xlabel)
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(title, fontsize=9)
    return save(fig, path)
