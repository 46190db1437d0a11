"""Fitting a function model (``FILE.py:NAME``) to output values, from the API and the CLI.

The model (``passive_cell.py``) has closed-form outputs of two parameters; the target is made
by calling its function directly (not through neuroscape), and the fitted parameters are
checked by calling it again, and against the known truth.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from neuroscape.cli.main import main
from neuroscape.core.stimuli import make_stimulus
from neuroscape.fit import FitError, FitProblem, Target, fit, run_method
from neuroscape.testing import assert_refused

FILE = Path(__file__).with_name("passive_cell.py")
REF = f"{FILE}:MODEL"
TRUTH = {"g": 4.0, "E": -55.0}  # nS, mV
SD_V = 2.0  # mV: the sd given for v_ss in the CLI test; tau is compared relatively


def _direct():
    """The user's module, imported here by path: its ``run`` is called without neuroscape."""
    spec = importlib.util.spec_from_file_location("passive_cell_direct", FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CELL = _direct()
GOAL = CELL.run(TRUTH, 0)


def _reproduces(best: dict[str, float]) -> None:
    got = CELL.run(best, 0)  # a direct call of the user's function
    assert abs(got["v_ss"] - GOAL["v_ss"]) < 0.05 * SD_V, (got, GOAL)
    assert got["tau"] == pytest.approx(GOAL["tau"], rel=0.005), (got, GOAL)
    assert best["g"] == pytest.approx(TRUTH["g"], rel=0.01), best
    assert best["E"] == pytest.approx(TRUTH["E"], rel=0.01), best


def _target_json(path: Path, outputs: dict) -> Path:
    path.write_text(json.dumps({"outputs": outputs}))
    return path


def test_closed_form_truth():
    """The model file's closed forms at the truth (independent arithmetic)."""
    assert GOAL["tau"] == pytest.approx(100.0 / 9.0)
    assert GOAL["v_ss"] == pytest.approx((4 * -55 + 5 * -70) / 9.0)


def test_api_fit_recovers_the_truth():
    target = Target("outputs", outputs=dict(GOAL))  # both relative
    res = fit(
        REF,
        target,
        free={"g": (1.0, 10.0), "E": (-80.0, -40.0)},
        measures=["outputs"],
        method="cmaes",
        budget=480,
        seed=0,
    )
    assert res.model == "passive_cell" and res.model_ref == REF
    assert res.measure_units == {"outputs": "1"}
    assert 0 < res.n_sims <= 480
    _reproduces(res.best)


def test_gradient_backs_off_failed_points():
    """L-BFGS-B by finite differences works on a function model; a line search that lands
    where the function raises (g > 9 nS) retreats instead of ending the fit."""
    target = Target("outputs", outputs=dict(GOAL))
    box = {"g": (1.0, 10.0), "E": (-80.0, -40.0)}
    res = fit(REF, target, free=box, method="gradient", budget=200, seed=0)
    assert res.n_failed >= 1  # it did step into the failing region
    _reproduces(res.best)


def test_failed_rows_score_the_worst_error_and_are_counted(tmp_path):
    """Rows where the function raises (g > 9 nS) are inf in the history and counted in the
    result; the others score sqrt(sum over outputs of ((y - goal) / goal)^2) (relative).
    The evaluated points go to a database, which a second fit explores without simulating."""
    target = Target("outputs", outputs=dict(GOAL))
    box = {"g": (1.0, 10.0), "E": (-80.0, -40.0)}
    db = tmp_path / "fit.db"
    problem = FitProblem(REF, target, ("outputs",), box, budget=40, db=str(db))
    res = run_method(problem, "explore", seed=3)
    x, f = problem.all_x, problem.all_f[:, 0]
    bad = x[:, 0] > CELL.G_FAIL
    assert bad.any() and (~bad).any()
    assert np.all(np.isinf(f[bad]))
    assert res.n_failed == int(bad.sum()) == problem.n_failed
    assert "no steady state in this simulator" in res.first_failure
    want = [
        np.sqrt(sum(((CELL.run({"g": g, "E": e}, 0)[k] - GOAL[k]) / GOAL[k]) ** 2 for k in GOAL))
        for g, e in x[~bad]
    ]
    np.testing.assert_allclose(f[~bad], want, rtol=1e-9)
    assert res.to_dict()["failed_simulations"] == int(bad.sum())
    again = fit(REF, target, free=box, method="explore", budget=1, sweep_db=str(db))
    assert again.n_sims == 0 and again.extra["database_failed_runs"] == int(bad.sum())
    assert again.best == pytest.approx(res.best) and len(again.history) == int((~bad).sum())


def test_cli_fit_function_model(tmp_path, capsys):
    tgt = _target_json(
        tmp_path / "t.json", {"v_ss": {"value": GOAL["v_ss"], "sd": SD_V}, "tau": GOAL["tau"]}
    )
    out = tmp_path / "fit"
    argv = [REF, "--target", tgt, "--measure", "outputs", "--method", "cmaes", "--free", "g"]
    argv += ["--free", "E", "--budget", "480", "--workers", "2", "--out", out, "--json"]
    rc = main(["fit", *map(str, argv)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "passive_cell" and doc["error_units"] == {"outputs": "1"}
    assert doc["parameter_units"] == {"g": "nS", "E": "mV"}
    _reproduces(doc["best"])
    saved = json.loads((out / "result.json").read_text())
    assert saved["best"] == doc["best"] and saved["model_ref"] == REF


def _refused(capsys, argv, needle, tmp_path):
    rc = main([str(a) for a in argv])
    assert_refused(rc, capsys.readouterr().err, needle)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "outputs, needle",
    [
        ({"rate": 60}, "outputs target names 'rate'; allowed for passive_cell: v_ss, tau"),
        ({"v_ss": {"value": -60, "tol": 1}}, "outputs.v_ss has key 'tol'; allowed keys: value"),
        ({"v_ss": {"sd": 1}}, "outputs.v_ss has no value"),
        ({"v_ss": {"value": -60, "sd": -1}}, "outputs.v_ss.sd=-1; allowed: a finite number > 0"),
        ({"v_ss": 0}, "outputs.v_ss=0 needs an sd"),
        ({"v_ss": "low"}, "outputs.v_ss='low' is not a finite number"),
        ({}, "outputs must be a non-empty object"),
    ],
)
def test_cli_bad_output_targets(tmp_path, capsys, outputs, needle):
    tgt = _target_json(tmp_path / "t.json", outputs)
    argv = ["fit", REF, "--target", tgt, "--free", "g", "--budget", "20", "--out", tmp_path / "o"]
    _refused(capsys, argv, needle, tmp_path)


def test_cli_function_model_refusals(tmp_path, capsys):
    tgt = _target_json(tmp_path / "t.json", dict(GOAL))
    base = ["fit", REF, "--target", tgt, "--free", "g", "--budget", "20", "--out", tmp_path / "o"]
    _refused(capsys, [*base, "--duration-ms", "100"], "sets its own duration", tmp_path)
    _refused(capsys, [*base, "--measure", "rms"], "measure rms reads a single neuron", tmp_path)
    _refused(capsys, [*base, "--current", "1"], "are for single-neuron models", tmp_path)
    _refused(
        capsys,
        [*base, "--method", "nsga2", "--budget", "40"],
        "nsga2 needs at least two measures; model 'passive_cell' (function) and the outputs "
        "target: use a single-objective method; allowed methods: explore, gradient, cmaes",
        tmp_path,
    )
    csv = tmp_path / "trace.csv"
    csv.write_text("t_ms,V_mV\n" + "".join(f"{0.1 * i},-65\n" for i in range(20)))
    argv = ["fit", REF, "--target", csv, "--free", "g", "--out", tmp_path / "o"]
    _refused(capsys, argv, "cannot be fitted to a trace", tmp_path)


def test_cli_bifurcation_refuses_a_function_model(tmp_path, capsys):
    argv = ["bifurcation", REF, "--param", "g", "--range", "1:2:0.5", "--out", tmp_path / "o"]
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert_refused(rc, err, "is a function model: bifurcation maps are for single-neuron models")
    assert "hh" in err and "lif" in err and "cortical" not in err
    assert not (tmp_path / "o").exists()


def test_api_refusals():
    target = Target("outputs", outputs=dict(GOAL))
    with pytest.raises(FitError, match="sets its own duration"):
        FitProblem(REF, target, ("outputs",), {"g": (1.0, 9.0)}, dt_ms=0.1)
    step = make_stimulus("step", amp=1.0)
    with pytest.raises(FitError, match="is a function model: it takes no stimulus"):
        FitProblem(REF, target, ("outputs",), {"g": (1.0, 9.0)}, stimulus=step)
    # the rates measure sums differences in Hz: outputs in other units need the outputs measure
    rates = Target("rates", rates=dict(GOAL))
    with pytest.raises(FitError, match=r"measure rates compares rates in Hz; .* is in 'm?s|mV'"):
        FitProblem(REF, rates, ("rates",), {"g": (1.0, 9.0)})
