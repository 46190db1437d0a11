"""Figures carry every axis's quantity and unit, legends name their lines, and long traces are
thinned without losing their extrema. Inputs are small synthetic data; the assertions read the
returned matplotlib Figure, not only the file."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neuroscape.plot import _base  # noqa: E402
from neuroscape.plot._base import PlotError, axis_label, thin, thin_indices  # noqa: E402


def _axes(fig):
    """The figure's data axes (colour bars left out)."""
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


def _colorbars(fig):
    return [a for a in fig.axes if a.get_label() == "<colorbar>"]


def _legend_texts(ax_or_fig) -> list[str]:
    legends = (
        ax_or_fig.legends if hasattr(ax_or_fig, "legends") and ax_or_fig.legends else []
    ) or ([ax_or_fig.get_legend()] if hasattr(ax_or_fig, "get_legend") else [])
    return [t.get_text() for lg in legends if lg is not None for t in lg.get_texts()]


def _inside_figure(fig, artist) -> bool:
    """The artist's drawn box lies within the figure (nothing cut off in the PNG)."""
    fig.canvas.draw()
    bb, fb = artist.get_window_extent(), fig.bbox
    return bb.x0 >= fb.x0 - 1 and bb.y0 >= fb.y0 - 1 and bb.x1 <= fb.x1 + 1 and bb.y1 <= fb.y1 + 1


def _overlaps(fig, a, b) -> bool:
    fig.canvas.draw()
    return a.get_window_extent().overlaps(b.get_window_extent())


# ------------------------------------------------------------------------------ labels, thinning
def test_axis_label_writes_units_and_dimensionless():
    assert axis_label("V", "mV") == "V (mV)"
    assert axis_label("V", "1") == "V (dimensionless)"
    assert axis_label("V", "1", "1 = threshold") == "V (dimensionless, 1 = threshold)"
    assert axis_label("V", None) == "V"


def test_thinning_keeps_global_extrema_and_bounds_points():
    rng = np.random.default_rng(0)
    n = 1_000_003  # not a multiple of any bucket size: the tail bucket counts too
    t = np.arange(n) * 0.01
    v = rng.normal(size=n)
    # one-sample spikes and a trough, and extremes in the very last samples
    v[[12_345, 500_000]] = [40.0, 35.0]
    v[777_777] = -90.0
    v[-1] = 41.0
    tt, vv = thin(t, v, max_points=20_000)
    assert len(tt) == len(vv) <= 20_000
    assert vv.max() == v.max() == 41.0
    assert vv.min() == v.min() == -90.0
    assert 35.0 in vv and 40.0 in vv  # every narrow spike stays, not only the largest
    assert np.all(np.diff(tt) > 0)  # time order kept
    assert tt[0] == t[0] and tt[-1] == t[-1]
    # the kept samples are the original (t, v) pairs
    idx = np.rint(tt / 0.01).astype(int)
    np.testing.assert_array_equal(v[idx], vv)


def test_thinning_short_series_unchanged_and_several_series():
    t = np.arange(100.0)
    y = np.sin(t)
    tt, yy = thin(t, y, max_points=200)
    assert tt is t or np.array_equal(tt, t)
    np.testing.assert_array_equal(yy, y)
    # two series sharing indices: the extremes of both are kept
    n = 200_000
    a = np.zeros(n)
    b = np.zeros(n)
    a[1234], b[98765] = 5.0, -7.0
    idx = thin_indices(n, a, b, max_points=1000)
    assert len(idx) <= 1000 and 1234 in idx and 98765 in idx


def test_thinning_refuses_inconsistent_input():
    with pytest.raises(PlotError, match="max_points=2"):
        thin_indices(10, np.zeros(10), max_points=2)
    with pytest.raises(PlotError, match="9 samples"):
        thin_indices(10, np.zeros(9))


# ------------------------------------------------------------------------------ neuron figures
def test_trace_figure_units_stimulus_panel_and_thinning(tmp_path):
    from neuroscape.plot.neuron import trace_figure

    n = 400_000
    t = np.arange(n) * 0.01
    v = -65.0 + np.zeros(n)
    v[np.arange(1000, n, 5000)] = 30.0  # one-sample spikes
    current = np.where((t >= 100) & (t < 3000), 10.0, 0.0)
    spikes = t[np.arange(1000, n, 5000)]
    fig = trace_figure(
        t,
        v,
        spikes,
        "hh",
        "V",
        tmp_path / "trace.png",
        v_unit="mV",
        stim_current=current,
        current_unit="uA/cm^2",
    )
    assert (tmp_path / "trace.png").stat().st_size > 0
    ax_v, ax_i = _axes(fig)
    assert ax_v.get_ylabel() == "V (mV)"
    assert ax_i.get_ylabel() == "I (uA/cm^2)"
    assert ax_i.get_xlabel() == "time (ms)"
    line_v = ax_v.lines[0]
    assert len(line_v.get_xdata()) <= _base.MAX_LINE_POINTS
    assert line_v.get_ydata().max() == 30.0 and line_v.get_ydata().min() == -65.0
    assert np.sum(line_v.get_ydata() == 30.0) == len(spikes)  # every spike drawn
    line_i = ax_i.lines[0]
    assert len(line_i.get_xdata()) <= _base.MAX_LINE_POINTS
    assert line_i.get_ydata().max() == 10.0
    assert "spike times" in _legend_texts(ax_v)
    assert _inside_figure(fig, ax_v.get_legend())


def test_trace_figure_dimensionless_v_and_legacy_call(tmp_path):
    from neuroscape.plot.neuron import trace_figure

    t = np.arange(1000) * 0.1
    v = np.clip(t / 50.0, 0, 1)
    fig = trace_figure(
        t, v, [], "cond_if", "V", tmp_path / "c.png", v_unit="1", v_note="1 = threshold"
    )
    assert _axes(fig)[0].get_ylabel() == "V (dimensionless, 1 = threshold)"
    # the old positional call still works: one panel, the caller's label
    fig = trace_figure(t, v, [5.0], "lif", "V (mV)", tmp_path / "l.png")
    assert len(_axes(fig)) == 1 and _axes(fig)[0].get_ylabel() == "V (mV)"
    assert _axes(fig)[0].get_xlabel() == "time (ms)"


def test_trace_figure_refuses_current_without_unit(tmp_path):
    from neuroscape.plot.neuron import trace_figure

    t = np.arange(10.0)
    with pytest.raises(PlotError, match="current_unit"):
        trace_figure(t, t, [], "", "V", tmp_path / "x.png", v_unit="mV", stim_current=t)
    with pytest.raises(PlotError, match="5 times for 10 currents"):
        trace_figure(
            t, t, [], "", "V", None, v_unit="mV", stim_t_ms=t[:5], stim_current=t,
            current_unit="nA",
        )  # fmt: skip


def test_phase_plane_and_fi_figures(tmp_path):
    from neuroscape.plot.neuron import fi_figure, phase_plane_figure

    t = np.arange(0, 200, 0.1)
    v, w = 2 * np.sin(t / 10), np.cos(t / 10)
    fig = phase_plane_figure(
        v, 0.1, "fhn", tmp_path / "pp.png", w=w, v_unit="1", w_unit="1", v_name="v"
    )
    a, b = _axes(fig)
    assert a.get_xlabel() == "v (dimensionless)"
    assert a.get_ylabel() == "dv/dt (1/ms)"
    assert b.get_ylabel() == "w (dimensionless)"
    fig = phase_plane_figure(-65 + 10 * np.sin(t), 0.1, "hh", tmp_path / "pp2.png", v_unit="mV")
    assert _axes(fig)[0].get_ylabel() == "dV/dt (mV/ms)"
    fig = fi_figure([0, 1, 2], [0, 5, 9], "lif", "current (nA)", tmp_path / "fi.png")
    assert _axes(fig)[0].get_ylabel() == "firing rate (Hz)"


# ------------------------------------------------------------------------------ raster
def test_raster_legend_names_e_i_and_window_outside_the_data(tmp_path):
    from neuroscape.plot.raster import raster_figure

    rng = np.random.default_rng(1)
    times = rng.uniform(0, 1000, 5000)
    neurons = rng.integers(0, 300, 5000)
    fig = raster_figure(
        times, neurons, {"E": 240, "I": 60}, 1000.0, title="t", window_ms=500.0,
        path=tmp_path / "r.png",
    )
    ax1, ax2 = _axes(fig)
    texts = _legend_texts(ax1)
    assert any(s.startswith("E") for s in texts) and any(s.startswith("I") for s in texts)
    assert any("rate window" in s and "500 ms" in s for s in texts)
    legend = ax1.get_legend()
    assert not _overlaps(fig, legend, ax1) and not _overlaps(fig, legend, ax2)
    assert _inside_figure(fig, legend)
    assert ax2.get_xlabel() == "time (ms)"
    assert "(Hz, 5 ms bins)" in ax2.get_ylabel()
    assert "neuron index" in ax1.get_ylabel()
    with pytest.raises(PlotError, match="window_ms=2000"):
        raster_figure(times, neurons, {"E": 240, "I": 60}, 1000.0, window_ms=2000.0)


# ------------------------------------------------------------------------------ db plot
def test_parameter_slices_carry_units(tmp_path):
    from neuroscape.plot.explore import parameter_slices

    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, (300, 2)) * [2000, 3]
    o = np.column_stack([p[:, 0] / 100, p[:, 1] * 4])
    fig = parameter_slices(
        p,
        ["eta_ext_E", "S_EI_rel"],
        o,
        ["r_E", "r_I"],
        tmp_path / "s.png",
        parameter_units=["Hz", "1"],
        output_units=["Hz", "Hz"],
    )
    axes = np.array(_axes(fig)).reshape(2, 2)
    assert [a.get_xlabel() for a in axes[-1]] == ["eta_ext_E (Hz)", "S_EI_rel (dimensionless)"]
    assert [a.get_ylabel() for a in axes[:, 0]] == ["r_E (Hz)", "r_I (Hz)"]
    assert {"mean over the bin's runs", "10th-90th percentile"} <= set(_legend_texts(fig))
    # without units (legacy call) the names stand alone
    fig = parameter_slices(p, ["a", "b"], o, ["x", "y"], tmp_path / "s2.png")
    assert _axes(fig)[-1].get_xlabel() == "b"
    with pytest.raises(PlotError, match="1 units for 2 names"):
        parameter_slices(p, ["a", "b"], o, ["x", "y"], None, parameter_units=["Hz"])


def test_output_heatmap_colour_bar_readable(tmp_path):
    from neuroscape.plot.explore import output_heatmap

    rng = np.random.default_rng(3)
    r_e = rng.uniform(0, 40, 3000)
    r_i = r_e * rng.uniform(1, 6, 3000)
    from neuroscape.models import get_spec

    o = get_spec("cortical").output_domain
    fig = output_heatmap(r_e, r_i, tmp_path / "h.png", domain=o, output_units=["Hz", "Hz"])
    (ax,) = _axes(fig)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("r_E (Hz)", "r_I (Hz)")
    (cb,) = _colorbars(fig)
    assert cb.get_ylabel() == "runs per bin (count, log scale)"
    fig.canvas.draw()
    lo, hi = cb.get_ylim()
    shown = [
        t
        for t in cb.yaxis.get_majorticklabels()
        if t.get_text() and lo <= t.get_position()[1] <= hi
    ]
    assert 2 <= len(shown) <= 12
    assert all(t.get_text().isdigit() for t in shown)  # plain counts, no 10^k mathtext
    assert all(t.get_fontsize() >= 7 for t in shown)
    assert any("output domain: r_E 5-30 Hz, r_I/r_E 2.5-5.5" in s for s in _legend_texts(ax))
    # the title's fraction is the paper's O: 5 <= r_E <= 30 Hz, 2.5 <= r_I/r_E <= 5.5
    want = ((r_e >= 5) & (r_e <= 30) & (r_i >= 2.5 * r_e) & (r_i <= 5.5 * r_e)).mean()
    assert f"{100 * want:.1f}% in the domain" in ax.get_title()
    assert not _overlaps(fig, ax.get_legend(), ax)
    with pytest.raises(PlotError, match="allowed: one unit"):
        output_heatmap(r_e, r_i, None, domain=o, output_units=["kHz", "Hz"])


# ------------------------------------------------------------------------------ theory figures
def _has_unit(label: str) -> bool:
    return label.endswith(")") and "(" in label


def _all_labelled(fig, shared_x_ok: bool = False):
    for ax in _axes(fig):
        if not ax.axison:
            continue
        assert _has_unit(ax.get_ylabel()), ax.get_ylabel()
        if ax.get_xlabel() or not shared_x_ok:
            assert _has_unit(ax.get_xlabel()), ax.get_xlabel()


def test_theory_figures_label_every_axis(tmp_path):
    from neuroscape.plot import theory as pt

    mu = np.arange(15.0, 26.0)
    fig = pt.siegert_figure(
        {
            "single": {
                "mu_mV": mu,
                "rate_theory_hz": mu - 14,
                "rate_sim_hz": mu - 14.2,
                "sem_hz": np.full(len(mu), 0.1),
            },
            "network": {
                "g": np.array([6.0, 5.0]),
                "eta": np.array([2.0, 2.0]),
                "rate_theory_hz": np.array([30.0, 60.0]),
                "rate_E_sim_hz": np.array([31.0, 58.0]),
            },
        },
        tmp_path / "siegert.png",
    )
    _all_labelled(fig)
    assert _axes(fig)[0].get_xlabel() == "mean input μ (mV)"
    assert "threshold (20 mV)" in _legend_texts(_axes(fig)[0])

    d = np.array([-1.0, 0.0, 1.0])
    fig = pt.ddm_figure(
        {
            "table": {
                "drift": d,
                "p_upper_sim": [0.1, 0.5, 0.9],
                "p_upper_se": np.full(3, 0.01),
                "p_upper_theory": [0.12, 0.5, 0.88],
                "rt_sim_s": [0.7, 1.0, 0.7],
                "rt_se_s": np.full(3, 0.01),
                "rt_theory_s": [0.76, 1.0, 0.76],
            }
        },
        tmp_path / "ddm.png",
    )
    _all_labelled(fig)
    assert _axes(fig)[0].get_xlabel() == "drift v (1/s)"
    assert _axes(fig)[0].get_ylabel() == "P(upper bound) (dimensionless)"

    fig = pt.wong_wang_figure(
        {
            "psychometric": {
                "coherence_pct": np.array([0.0, 6.4, 51.2]),
                "p_correct": np.array([0.5, 0.7, 1.0]),
                "mean_rt_ms": np.array([800.0, 700, 400]),
            },
            "regime_map": {
                "mu0": np.array([0.0, 40, 80]),
                "J_S": np.array([0.22, 0.3]),
                "regimes": [["spontaneous", "bistable", "bistable"], ["multistable"] * 3],
            },
            "edges_continuation": [(15.0, "spontaneous", "multistable")],
            "landscapes": {"mu0=0.0": (np.linspace(-0.8, 0.8, 9), np.linspace(0, 1, 9) ** 2)},
        },
        tmp_path / "ww.png",
    )
    _all_labelled(fig)
    (cb,) = _colorbars(fig)
    assert cb.get_ylabel().startswith("regime")
    assert "mu0=0.0 Hz" in _legend_texts(_axes(fig)[3])

    fig = pt.hopfield_figure(
        {
            "assembly": (
                np.arange(0, 1500, 50.0),
                np.abs(np.random.default_rng(4).normal(size=(30, 7))),
            ),
            "assembly_cue_ms": (500.0, 600.0),
            "sizes": np.array([500, 1000]),
            "alphas": np.array([0.05, 0.14, 0.2]),
            "overlaps": np.ones((2, 3, 4)),
            "traces": {0.05: np.linspace(0.8, 1, 5), 0.2: np.linspace(0.8, 0.3, 5)},
        },
        tmp_path / "hop.png",
    )
    _all_labelled(fig)
    a, b, c = _axes(fig)
    assert a.get_xlabel() == "load α = P/N (dimensionless)"
    assert {"cued assembly", "other assemblies", "background E"} <= set(_legend_texts(c))
    assert any(s.startswith("cue to assembly 0") for s in _legend_texts(c))
    assert any("0.138" in s for s in _legend_texts(a))
    assert {"α = 0.05", "α = 0.2"} <= set(_legend_texts(b))

    fig = pt.wilson_cowan_figure(
        {"table": {"P": np.linspace(-1, 4, 11), "amplitude": np.zeros(11)}, "hopf": [2.11]},
        tmp_path / "wc.png",
    )
    _all_labelled(fig)
    assert _axes(fig)[0].get_xlabel() == "drive P (dimensionless)"
    assert any(s.startswith("Hopf point P = 2.11") for s in _legend_texts(_axes(fig)[0]))

    res = SimpleNamespace(w_history=np.linspace(1, 4, 120), others_history=np.ones(120), rewards=40)
    fig = pt.distal_reward_figure(res, tmp_path / "dr.png")
    _all_labelled(fig)
    assert _axes(fig)[0].get_ylabel() == "synaptic weight (mV)"


# -------------------------------------------------------------------- accuracy, derivatives
def test_learning_curve_units_from_the_model_and_given(tmp_path):
    from neuroscape.plot.accuracy import learning_curve_figure

    lc = SimpleNamespace(
        n=np.array([100, 200, 400]),
        mae=np.array([[3.0, 6.0], [2.0, 4.0], [1.4, 2.8]]),
        rmse=np.array([[4.0, 8.0], [3.0, 5.0], [2.0, 4.0]]),
        output_names=["r_E", "r_I"],
        surrogate=SimpleNamespace(model="cortical"),
    )
    fig = learning_curve_figure(lc, [0.5, 1.0], tmp_path / "lc.png")
    (ax,) = _axes(fig)
    assert ax.get_ylabel() == "test error (Hz)"  # the circuit declares its rates in Hz
    assert ax.get_xlabel() == "training runs n (count)"
    assert {"MAE r_E", "RMSE r_I", "noise floor r_E"} <= set(_legend_texts(ax))
    assert not _overlaps(fig, ax.get_legend(), ax) and _inside_figure(fig, ax.get_legend())
    # log-axis ticks are plain numbers (0.6, 200), not 6e-01 or mathtext 2x10^2
    shown = [t.get_text() for t in ax.yaxis.get_ticklabels(which="both") if t.get_text()]
    shown += [t.get_text() for t in ax.xaxis.get_ticklabels(which="both") if t.get_text()]
    assert len(shown) >= 4 and all(float(s) > 0 and "e" not in s for s in shown), shown
    fig = learning_curve_figure(lc, None, None, output_units=["Hz", "1"])
    (ax,) = _axes(fig)
    assert "see legend" in ax.get_ylabel()
    assert {"MAE r_E (Hz)", "MAE r_I (dimensionless)"} <= set(_legend_texts(ax))


def test_partials_histograms_and_gain_curves(tmp_path):
    from neuroscape.plot.derivatives import gain_curve_figure, partials_histograms

    d = np.random.default_rng(5).normal(size=(500, 2, 3))
    fig = partials_histograms(
        d, ["a", "b", "c"], ["r_E", "r_I"], "first partials", tmp_path / "p.png",
        output_units=["Hz", "Hz"],
    )  # fmt: skip
    axes = _axes(fig)
    assert all(a.get_xlabel() == "scaled partial (Hz)" for a in axes)
    assert axes[0].get_ylabel() == "samples (count)"
    gc = SimpleNamespace(
        m1=np.array([1.0, -1.0]), m2=np.array([-1.0, 1.0]), sigmoidal=np.array([True, False]),
        n_sampled=10,
    )  # fmt: skip
    eta = np.linspace(0, 2000, 5)
    fig = gain_curve_figure(gc, [(eta, eta / 100, eta, eta / 90, "set 1")], tmp_path / "g.png")
    _all_labelled(fig)
    a = _axes(fig)[0]
    assert a.get_xlabel().startswith("m1 (Hz")
    assert "sigmoidal (m1 > 0 > m2)" in _legend_texts(a)


# ------------------------------------------------------------------------------ fit figures
def test_fit_figures_label_measures_and_parameters(tmp_path):
    from neuroscape.plot import fit as pf

    res = SimpleNamespace(
        history=np.array([[10, 5.0], [20, 2.0], [30, 1.0]]),
        measures=["rms", "features"],
        model="hh",
        method="cmaes",
        pareto_f=np.array([[1.0, 3.0], [2.0, 1.0]]),
        posterior=np.random.default_rng(6).normal(size=(200, 2)) + [120, 36],
        free_names=["g_Na", "g_K"],
        truth={"g_Na": 120.0, "g_K": 36.0},
    )
    fig = pf.convergence_figure(res, tmp_path / "c.png")
    (ax,) = _axes(fig)
    assert ax.get_xlabel() == "simulations used (count)"
    assert ax.get_ylabel() == "best error: rms error (mV) + features error (dimensionless)"
    fig = pf.pareto_figure(res, tmp_path / "p.png")
    (ax,) = _axes(fig)
    assert (ax.get_xlabel(), ax.get_ylabel()) == (
        "rms error (mV)",
        "features error (dimensionless)",
    )
    fig = pf.posterior_figure(res, tmp_path / "post.png")
    from neuroscape.models import get_spec

    declared = {p.name: p.unit for p in get_spec("hh").parameters}
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[1, 0].get_xlabel() == f"g_Na ({declared['g_Na']})"
    assert axes[1, 0].get_ylabel() == f"g_K ({declared['g_K']})"
    assert "truth (synthetic target)" in _legend_texts(fig)

    t = np.arange(0, 100, 0.05)
    fig = pf.traces_figure(t, -65 + 5 * np.sin(t), -65 + 5 * np.sin(t + 0.1), tmp_path / "t.png")
    a, b = _axes(fig)
    assert (a.get_xlabel(), a.get_ylabel()) == ("time (ms)", "V (mV)")
    assert (b.get_xlabel(), b.get_ylabel()) == ("V (mV)", "dV/dt (mV/ms)")


def test_bifurcation_figures_legend_and_units(tmp_path):
    from neuroscape.plot.fit import bifurcation_figure

    b1 = SimpleNamespace(kind="hopf", value=6.2, at={})
    b2 = SimpleNamespace(kind="class silent->tonic", value=6.5, at={})
    x = np.linspace(0, 10, 11)
    bm = SimpleNamespace(
        params=["I"],
        values=[x],
        labels=np.array(["silent"] * 6 + ["tonic"] * 5),
        amplitude=np.r_[np.zeros(6), np.full(5, 100.0)],
        max_re=np.linspace(-0.1, 0.05, 11),
        boundaries=[b1, b2],
    )
    fig = bifurcation_figure(bm, tmp_path / "b1.png", model="hh", v_unit="mV")
    a, b = _axes(fig)
    assert b.get_xlabel() == "I (uA/cm^2)"  # the HH model's declared current unit
    assert a.get_ylabel() == "V amplitude (mV, 2nd half of the run)"
    assert b.get_ylabel() == "max Re(eigenvalue) (1/ms)"
    texts = _legend_texts(a)
    assert {"simulated: silent", "simulated: tonic"} <= set(texts)
    assert "Hopf / saddle-node (eigenvalues)" in texts and "class change or branch end" in texts
    assert "equilibrium (continuation)" in _legend_texts(b)
    assert _inside_figure(fig, a.get_legend())

    y = np.array([0.0, 1.0, 2.0])
    bm2 = SimpleNamespace(
        params=["g_Na", "I"],
        values=[x, y],
        labels=np.array([["silent"] * 11, ["silent"] * 5 + ["tonic"] * 6, ["tonic"] * 11]),
        boundaries=[SimpleNamespace(kind="hopf", value=5.0, at={"I": 1.0})],
    )
    fig = bifurcation_figure(bm2, tmp_path / "b2.png", param_units=["mS/cm^2", "uA/cm^2"])
    (ax,) = _axes(fig)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("g_Na (mS/cm^2)", "I (uA/cm^2)")
    (cb,) = _colorbars(fig)
    assert cb.get_ylabel() == "behaviour class (simulated)"
    assert [t.get_text() for t in cb.get_yticklabels()] == ["silent", "tonic"]
    assert "hopf (eigenvalues)" in _legend_texts(ax)
    # the old call (no units) still draws
    fig = bifurcation_figure(bm, tmp_path / "b3.png")
    assert _axes(fig)[1].get_xlabel() == "I"
