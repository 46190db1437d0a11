"""Fitting methods on known truths (noisy synthetic Hodgkin-Huxley traces)."""

import numpy as np
import pytest

from conftest import HH_BOX, STEP, hh_target
from neuroscape.fit import FitError, fit
from neuroscape.fit.targets import Target

KW = dict(stimulus=STEP, dt_ms=0.025)


@pytest.mark.slow  # a CMA-ES fit of HH: 10 s
def test_cmaes_recovers_hh_conductances():
    """g_Na, g_K, g_L free within +-50% of their defaults, a neuroscape-made trace with 1 mV
    noise: CMA-ES recovers each within 2% with at most 3,000 simulations (one seed; the bar
    itself, from a trace made by NEURON, is tests/reference/test_neuron_fit.py)."""
    tg = hh_target(0)
    res = fit("hh", tg, free=HH_BOX, measures=["rms"], method="cmaes", budget=3000, seed=0, **KW)
    assert res.n_sims <= 3000
    rel = {k: abs(res.best[k] - v) / v for k, v in tg.truth.items()}
    assert max(rel.values()) < 0.02, rel


def test_result_contract(hh_noisy):
    res = fit("hh", hh_noisy, free=HH_BOX, measures=["rms"], method="ga", budget=300, seed=0, **KW)
    assert res.n_sims == 300 and res.history.shape == (300, 2)
    assert np.all(np.diff(res.history[:, 1]) <= 0)  # best-so-far never rises
    assert set(res.best) == set(HH_BOX)
    assert len(res.solutions) >= 1 and np.all(res.solution_errors <= res.threshold)
    assert res.best_error == pytest.approx(res.solution_errors[0])
    assert res.wall_time_s > 0
    d = res.to_dict()
    assert d["simulations"] == 300 and "relative_errors" in d


def test_seeded_fit_is_reproducible(hh_noisy):
    a = fit("hh", hh_noisy, free=HH_BOX, method="cmaes", budget=200, seed=3, **KW)
    b = fit("hh", hh_noisy, free=HH_BOX, method="cmaes", budget=200, seed=3, **KW)
    assert a.best == b.best


def test_gradient_converges_near_truth(hh_noisy):
    res = fit(
        "hh",
        hh_noisy,
        free=HH_BOX,
        method="gradient",
        budget=400,
        start={"g_Na": 125.0, "g_K": 40.0, "g_L": 0.25},
        **KW,
    )
    assert max(res.relative_errors().values()) < 0.05, res.relative_errors()


def test_nsga2_pareto_front_bar(hh_noisy):
    """The bar: NSGA-II on two measures returns at least 10 non-dominated points."""
    res = fit(
        "hh",
        hh_noisy,
        free=HH_BOX,
        measures=["rms", "features"],
        method="nsga2",
        budget=1200,
        seed=0,
        **KW,
    )
    f = res.pareto_f
    assert len(f) >= 10, len(f)
    for i in range(len(f)):  # no point of the front dominates another
        dom = np.all(f <= f[i], axis=1) & np.any(f < f[i], axis=1)
        assert not dom.any()


def test_hybrid_scans_segments(hh_noisy):
    res = fit("hh", hh_noisy, free=HH_BOX, method="hybrid", budget=900, seed=0, **KW)
    assert res.n_sims <= 900
    assert len(res.extra["segment_errors"]) == 3  # 3 runs -> 3 segments
    assert max(res.relative_errors().values()) < 0.05


def test_explore_from_sweep_database(tmp_path):
    """Exploring a stored sweep scores its runs without new simulations, and its best run
    matches the closed-form LIF rate at the target."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.explore import ParameterSpace, run_sweep
    from neuroscape.models import get_spec

    spec = get_spec("lif")
    fixed = {p.name: p.default for p in spec.parameters if p.name != "tau"}
    step = make_stimulus("step", amp=3.0)  # 30 mV drive against a 25 mV threshold gap
    db = tmp_path / "s.db"
    run_sweep(
        "lif",
        128,
        db,
        space=ParameterSpace(spec, bounds={"tau": (2.0, 50.0)}, fixed=fixed),
        stimulus=step,
        settings=SimSettings(1000.0, 0.1, 1000.0, "rk4"),
        progress=False,
    )
    res = fit(
        "lif",
        Target("rates", rates={"rate": 40.0}),
        free={"tau": (2.0, 50.0)},
        measures=["rates"],
        method="explore",
        budget=10,
        sweep_db=str(db),
        stimulus=step,
    )
    assert res.n_sims == 0 and len(res.history) == 128
    # closed form: 1/rate = t_ref + tau ln((V_inf - V_reset) / (V_inf - V_th)), V_inf = -35 mV
    tau = (25.0 - 2.0) / np.log(35.0 / 5.0)
    assert res.best["tau"] == pytest.approx(tau, rel=0.1)
    # stored rates answer to their own run length and drive: other settings are refused
    kw = dict(free={"tau": (2.0, 50.0)}, measures=["rates"], method="explore", budget=10)
    target = Target("rates", rates={"rate": 40.0})
    with pytest.raises(FitError, match="simulated as .*'lif', 1000.0, 1000.0, 0.1.*this fit"):
        fit("lif", target, sweep_db=str(db), stimulus=step, duration_ms=500.0, **kw)
    with pytest.raises(FitError, match="driven by .*step.*this fit by"):
        fit("lif", target, sweep_db=str(db), stimulus=make_stimulus("step", amp=4.0), **kw)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(method="annealing"), "unknown method 'annealing'; allowed: explore"),
        (dict(measures=["mse"]), "unknown measure 'mse'; allowed: rms"),
        (dict(free={"g_X": (1, 2)}), "unknown parameter 'g_X'"),
        (dict(budget=0), "budget=0; allowed: a positive number"),
        (dict(free={"g_Na": (100.0, 50.0)}), "low=100 mS/cm\\^2 must be < high=50 mS/cm\\^2"),
        (
            dict(start={"g_Na": 300.0}),
            "start g_Na=300 mS/cm\\^2 lies outside its bounds \\[60, 180\\] mS/cm",
        ),
    ],
)
def test_bad_requests_are_named(hh_noisy, kwargs, needle):
    args = dict(free=HH_BOX, measures=["rms"], method="cmaes", budget=50)
    args.update(kwargs)
    with pytest.raises((FitError, ValueError), match=needle):
        fit("hh", hh_noisy, **args, **KW)


@pytest.mark.slow
def test_gradient_through_a_surrogate(tmp_path):
    """Rates target for the circuit: Adam through a (small) surrogate, then the best predicted
    points are simulated; the budget counts only those simulations."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.explore import run_sweep
    from neuroscape.surrogate import SurrogateConfig, train_from_db

    db = tmp_path / "c.db"
    run_sweep(
        "cortical", 64, db, settings=SimSettings(300.0, 0.1, 200.0, "midpoint"), progress=False
    )
    sur = train_from_db(
        db, tmp_path / "sur", config=SurrogateConfig(hidden=(32, 32), max_epochs=50)
    )
    target = Target("rates", rates={"r_E": 10.0, "r_I": 30.0})
    res = fit(
        "cortical",
        target,
        free={"eta_ext_E": (500.0, 2500.0), "S_EI_rel": (1.5, 3.0)},
        measures=["rates"],
        method="gradient",
        budget=4,
        surrogate=sur,
        duration_ms=300.0,
    )
    assert res.n_sims == 4
    assert len(res.extra["surrogate_gap_hz"]) == 4
    assert np.isfinite(res.best_error)
    with pytest.raises(FitError, match="rates target"):
        fit(
            "hh",
            Target("rates", rates={"rate": 5.0}),
            free={"g_Na": (60.0, 180.0)},
            measures=["rates"],
            method="gradient",
            budget=4,
            surrogate=sur,
            stimulus=STEP,
        )


def test_explore_a_circuit_sweep_database_checks_its_settings(tmp_path):
    from neuroscape.explore import run_sweep
    from neuroscape.models import get_spec

    db = tmp_path / "c.db"
    run_sweep("cortical", 16, db, progress=False)
    box = {p.name: (p.low, p.high) for p in get_spec("cortical").parameters}
    kw = dict(free=box, measures=["rates"], method="explore", budget=10)
    target = Target("rates", rates={"r_E": 10.0, "r_I": 40.0})
    res = fit("cortical", target, sweep_db=str(db), **kw)
    assert res.n_sims == 0 and len(res.history) == 16
    with pytest.raises(FitError, match=r"simulated as .*'cortical', 3000.0, 2000.0, 0.1"):
        fit("cortical", target, sweep_db=str(db), duration_ms=1500.0, **kw)
