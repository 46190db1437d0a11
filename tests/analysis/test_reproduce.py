"""The reproduce pipeline end to end on a tiny plan: every stage runs, the claims table is
complete, and a rerun reuses the databases."""

import json

import pytest

pytest.importorskip("torch")

from neuroscape.reproduce import Plan, reproduce  # noqa: E402

TINY = Plan(
    n_train=160,
    n_test=40,
    sizes=(80, 160),
    hidden=(16,),
    epochs=10,
    tune_steps=50,
    n_derivative=20_000,
    n_noise=8,
    n_wide=40,
)


@pytest.mark.slow  # the whole reproduction end to end (./dev demo runs it too)
def test_reproduce_tiny(tmp_path):
    report = reproduce(tmp_path, plan=TINY, log=lambda m: None)
    text = report.read_text()
    table = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert len(table) == 17  # one row per claim of the paper
    assert all(line.count("|") == 5 for line in table)
    for fig in (
        "fig1a_rates_heatmap.png",
        "fig1b_accuracy.png",
        "fig3_first_partials.png",
        "fig6_second_partials.png",
        "fig7_gain_curves.png",
    ):
        assert (tmp_path / fig).stat().st_size > 5000
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["learning_curve"]["n"] == [80, 160] and len(s["tuning"]) == 2
    assert "n_plausible" in s["gain_curves"]
    assert s["wide_domain"]["n"] == 40 and min(s["wide_domain"]["width_factors"]) > 1.5
    assert all(0 < m < 100 for m in s["activation"]["relu_mae"] + s["activation"]["sigmoid_mae"])
    assert s["speed"]["ratio"] > 10  # a network of 16 units beats a 3-s circuit run
    assert s["speed"]["ratio_bfloat16"] > 10 and len(s["speed"]["test_mae_bfloat16"]) == 2
    assert (tmp_path / "surrogate" / "surrogate.json").exists()
    assert "| None |" not in text
    # a rerun reuses the databases: the sweeps have nothing left to do
    import sqlite3

    con = sqlite3.connect(tmp_path / "train.db")
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 160
