"""The surrogate accuracy figure (Zhang, Young & Lai 2020, Fig. 1b): test error against the
number of training runs."""

from __future__ import annotations

from pathlib import Path

from neuroscape.plot._base import axis_label, pyplot, save, unit_text, units_for


def _output_units(lc) -> list[str | None]:
    """The outputs' declared units, from the model of the surrogate ``lc`` holds (None: not
    known)."""
    model = getattr(lc.surrogate, "model", None)
    if model is None:
        return [None] * len(lc.output_names)
    from neuroscape.models import UnknownModelError, get_spec

    try:
        declared = {o.name: o.unit for o in get_spec(model).outputs}
    except UnknownModelError:
        return [None] * len(lc.output_names)
    return [declared.get(o) for o in lc.output_names]


def _plain_log_formatter():
    from matplotlib.ticker import LogFormatter

    class PlainLog(LogFormatter):
        """matplotlib's choice of which log ticks to label, written as plain numbers (0.6,
        200) rather than 6e-01 or 2x10^2."""

        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLog


def learning_curve_figure(
    lc, floor, path: str | Path | None, title: str = "", *, output_units: list[str] | None = None
):
    """Test MAE (and RMSE) against n on log-log axes; dashed: the noise floor (or None). Errors
    are in each output's unit: ``output_units`` (one per output) or the surrogate model's
    declared ones. Returns the Figure."""
    units = (
        units_for(list(lc.output_names), output_units, "learning_curve_figure output_units")
        if output_units is not None
        else _output_units(lc)
    )
    plain_log = _plain_log_formatter()
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    shared = len(set(units)) == 1 and units[0] is not None
    for j, o in enumerate(lc.output_names):
        # one unit for all: on the axis; several: each output's in its legend entry
        u = "" if shared or units[j] is None else f" ({unit_text(units[j])})"
        line = ax.loglog(lc.n, lc.mae[:, j], "o-", label=f"MAE {o}{u}")
        ax.loglog(lc.n, lc.rmse[:, j], "s:", color=line[0].get_color(), label=f"RMSE {o}{u}")
        if floor is not None:
            ax.axhline(
                floor[j],
                ls="--",
                color=line[0].get_color(),
                lw=0.8,
                label=f"noise floor {o}{u}",
            )
    ax.set_xlabel(axis_label("training runs n", "count"))
    if shared:
        ax.set_ylabel(axis_label("test error", units[0]))
    elif any(u is not None for u in units):
        ax.set_ylabel(axis_label("test error", None, "each output's unit, see legend"))
    else:
        ax.set_ylabel("test error")
    ax.set_title(title, fontsize=9)
    # plain numbers (600, 2) rather than 6x10^2: read at a glance on a log axis
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plain_log(labelOnlyBase=False))
        axis.set_minor_formatter(plain_log(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.tick_params(which="both", labelsize=8)
    # right of the axes: the curves span the whole panel
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save(fig, path)
