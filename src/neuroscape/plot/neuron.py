"""Figures of single-neuron runs: voltage traces, phase planes, f-I curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def trace_figure(t_ms, v, spikes, title: str, ylabel: str, path: str | Path):
    """Membrane potential against time, spike times marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(t_ms, v, lw=0.8, color="k")
    if len(spikes):
        ax.plot(spikes, np.full(len(spikes), np.nanmax(v)), "|", color="tab:red", ms=8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def phase_plane_figure(
    v: np.ndarray,
    dt_ms: float,
    title: str,
    path: str | Path,
    w: np.ndarray | None = None,
    nullclines=None,
):
    """V against dV/dt; with ``w`` (FitzHugh-Nagumo) also the (v, w) plane and its nullclines,
    ``nullclines(v_grid) -> (w_on_v_nullcline, w_on_w_nullcline)``."""
    plt = _plt()
    n = 2 if w is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 4))
    axes = np.atleast_1d(axes)
    dv = np.gradient(v, dt_ms)
    axes[0].plot(v, dv, lw=0.6, color="k")
    axes[0].set_xlabel("V")
    axes[0].set_ylabel("dV/dt (per ms)")
    axes[0].set_title(title, fontsize=9)
    if w is not None:
        ax = axes[1]
        ax.plot(v, w, lw=0.8, color="k", label="trajectory")
        if nullclines is not None:
            grid = np.linspace(min(v.min(), -2.5), max(v.max(), 2.5), 400)
            wv, ww = nullclines(grid)
            ax.plot(grid, wv, "--", color="tab:red", label="v-nullcline")
            ax.plot(grid, ww, "--", color="tab:blue", label="w-nullcline")
            ax.set_ylim(w.min() - 1, w.max() + 1)
        ax.set_xlabel("v")
        ax.set_ylabel("w")
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fi_figure(currents, rates, title: str, xlabel: str, path: str | Path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    ax.plot(currents, rates, "o-", ms=3, color="k")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
