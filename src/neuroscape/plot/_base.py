"""Shared figure set-up: a headless matplotlib, one way to save, axis labels with units, and
thinning of long time series before they are drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A line is drawn from at most this many points: a screen or a 120-dpi PNG cannot show more,
# and matplotlib's memory grows with the points it is given (a 200-s HH trace at dt = 0.01 ms
# is 2e7 points).
MAX_LINE_POINTS = 20_000


class PlotError(ValueError):
    """Figure inputs that do not fit together (lengths, units)."""


def pyplot():
    """matplotlib.pyplot on the Agg back end (figures are files, never windows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path | None, dpi: int = 120):
    """Lay out ``fig``, write it to ``path`` (if given) and release it from pyplot; returns the
    Figure, whose axes, labels and lines stay inspectable after saving."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
        pyplot().close(fig)
    return fig


def unit_text(unit: str | None) -> str | None:
    """How a declared unit reads in parentheses: "1" (or "") is "dimensionless"; None: none
    declared."""
    if unit is None:
        return None
    unit = unit.strip()
    return "dimensionless" if unit in ("", "1") else unit


def axis_label(quantity: str, unit: str | None, note: str | None = None) -> str:
    """``quantity (unit[, note])``; unit "1" reads "dimensionless"; without a unit (None) the
    quantity stands alone (callers that declare none), with the note in parentheses if given."""
    parts = [p for p in (unit_text(unit), note) if p]
    return f"{quantity} ({', '.join(parts)})" if parts else quantity


def units_for(names: list[str], units: list[str] | None, what: str) -> list[str | None]:
    """One unit per name (None each when ``units`` is None); a list of another length is an
    error, not padded."""
    if units is None:
        return [None] * len(names)
    units = list(units)
    if len(units) != len(names):
        raise PlotError(
            f"{what}: {len(units)} units for {len(names)} names ({', '.join(names)}); "
            "allowed: one unit per name"
        )
    return units


def thin_indices(n: int, *series: np.ndarray, max_points: int = MAX_LINE_POINTS) -> np.ndarray:
    """Indices (ascending) of at most ``max_points`` of ``n`` samples that keep, in every one of
    ``max_points // (2 k)`` consecutive buckets, the minimum and the maximum of each of the
    ``k`` series, plus the first and last sample: spikes and troughs stay visible and the
    global extrema are kept. A bucket holding a NaN keeps the NaN (a gap in the line). With
    ``n <= max_points`` all indices."""
    if max_points < 4 * max(1, len(series)):
        raise PlotError(
            f"max_points={max_points}: allowed at least 4 per series ({len(series)} series)"
        )
    for s in series:
        if len(s) != n:
            raise PlotError(f"a series of {len(s)} samples thinned with {n}; allowed: equal")
    if n <= max_points:
        return np.arange(n)
    per_bucket = 2 * max(1, len(series))
    n_buckets = (max_points - 2) // per_bucket
    size = -(-n // n_buckets)  # ceil: at most n_buckets buckets
    full = n // size
    keep = [np.array([0, n - 1])]
    for s in series:
        s = np.asarray(s)
        body = s[: full * size].reshape(full, size)  # a view: no copy of a long trace
        offs = np.arange(full) * size
        keep += [offs + body.argmin(axis=1), offs + body.argmax(axis=1)]
        if full * size < n:
            tail = s[full * size :]
            keep += [full * size + np.array([tail.argmin(), tail.argmax()])]
    return np.unique(np.concatenate(keep))


def thin(x: np.ndarray, *ys: np.ndarray, max_points: int = MAX_LINE_POINTS) -> tuple:
    """``(x, *ys)`` reduced to at most ``max_points`` samples by :func:`thin_indices` over the
    ``ys`` (min and max of each per bucket); unchanged when short enough."""
    x = np.asarray(x)
    ys = tuple(np.asarray(y) for y in ys)
    idx = thin_indices(len(x), *ys, max_points=max_points)
    if len(idx) == len(x):
        return (x, *ys)
    return (x[idx], *(y[idx] for y in ys))
