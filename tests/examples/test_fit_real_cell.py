"""`neuroscape example fit-real-cell`: AdEx fitted to the odd sweeps of a real recording (the
shipped pyABF sample, 171116sh_0018.abf) predicts the held-out even sweeps' spike counts within
max(1 spike, 15%) in at least 80% of the held-out spiking sweeps (issue 20's bar). Slow: about
half a minute to a minute on 2 cores at the default budget of 2,000 candidates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuroscape.testing import assert_refused, run_cli

ABF = Path(__file__).resolve().parents[1] / "data" / "recordings" / "171116sh_0018.abf"
# the first step of each sweep: 0,0,0,0,0,0,1,1,3,4,5,6,6,7,8,8,9 spikes (the file's README,
# counted on the recording, not by the code under test)
RECORDED = [0, 0, 0, 0, 0, 0, 1, 1, 3, 4, 5, 6, 6, 7, 8, 8, 9]


@pytest.mark.slow
def test_held_out_spike_counts_within_bar(tmp_path, capsys):
    rc, out, err = run_cli(["example", "fit-real-cell", "--out", str(tmp_path)], capsys)
    assert rc == 0, err
    d = json.loads(out)
    assert d["fitted_sweeps"] == list(range(1, 17, 2))
    assert d["held_out_sweeps"] == list(range(0, 17, 2))
    held = d["held_out"]
    assert [e["spikes_recorded"] for e in held] == RECORDED[0::2]
    spiking = [e for e in held if e["spikes_recorded"] > 0]
    within = [
        e
        for e in spiking
        if e["spikes_model"] is not None
        and abs(e["spikes_model"] - e["spikes_recorded"]) <= max(1, 0.15 * e["spikes_recorded"])
    ]
    assert len(spiking) == 6
    # no sweep of this cell is in depolarisation block: every odd sweep is fitted
    assert d["depolarisation_block_sweeps"] == [] and d["excluded_from_fit"] == []
    assert d["held_out_spiking_outside_block"] == d["held_out_spiking"] == 6
    # its passive g and C (about 9 nS, 320 pF) lie inside adex's boxes, the search's start
    assert 80 < d["passive"]["r_in_MOhm"] < 140 and "current_scale" not in d
    assert 0.0 <= d["best"]["t_ref"] <= 20.0 and d["parameter_units"]["t_ref"] == "ms"
    assert len(within) >= 0.8 * len(spiking), held
    # silent held-out sweeps stay silent
    assert all(e["spikes_model"] == 0 for e in held if e["spikes_recorded"] == 0), held
    res = json.loads((tmp_path / "result.json").read_text())
    assert [e["sweep"] for e in res["validation"]] == d["held_out_sweeps"]
    table = (tmp_path / "spike_counts.md").read_text()
    assert "| 10 | 150 | held out | 5 |" in table
    for f in ("sweeps.png", "fi.png", "convergence.png"):
        assert (tmp_path / f).stat().st_size > 1000


@pytest.mark.slow
def test_bias_current_lever_on_the_shipped_cell(tmp_path, monkeypatch):
    """With the bias lever on (FIT_REAL_CELL_BIAS), I_bias is fitted within +-20 mV / R_in of
    0 pA, reported in pA, and the held-out spike counts still meet the bar on the shipped cell
    (measured 6 of 6 at seeds 0-2)."""
    import neuroscape.cli.example_cmds as ex

    monkeypatch.setattr(ex, "FIT_REAL_CELL_BIAS", True)
    d = ex.fit_real_cell(tmp_path)
    box = 1e3 * ex.BIAS_SPAN_MV / d["passive"]["r_in_MOhm"]  # pA
    assert 100 < box < 250 and abs(d["best"]["I_bias"]) <= box
    assert d["parameter_units"]["I_bias"] == "pA"
    assert d["held_out_spiking_within"] >= 0.8 * d["held_out_spiking"] == 0.8 * 6
    assert "I_bias = " in (tmp_path / "spike_counts.md").read_text()


def test_example_options_refused(tmp_path, capsys):
    for argv, needle in (
        (["example", "pavlov", "--budget", "10"], "--budget is for fit-real-cell"),
        (["example", "pavlov", "--method", "hybrid"], "--method is for fit-real-cell"),
        (["example", "fit-real-cell", "--method", "nsga2"], "invalid choice"),
        (["example", "fit-real-cell", "--offset-ms", "5"], "--offset-ms is for pavlov"),
        (["example", "fit-real-cell", "--recording", str(tmp_path / "no.abf")], "does not exist"),
        (["example", "pavlov", "--sweeps", "1,2"], "--sweeps is for fit-real-cell"),
        (["example", "fit-real-cell", "--sweeps", "3,40"], "sweep 40; allowed: 0-16"),
        (["example", "fit-real-cell", "--sweeps", "3,3"], "names a sweep twice"),
    ):
        rc, _, err = run_cli([*argv, "--out", str(tmp_path / "o")], capsys)
        assert_refused(rc, err, needle)
    assert not (tmp_path / "o").exists()


def test_a_chosen_family_alternates_in_file_order(tmp_path, capsys):
    """--sweeps picks the family out of a file: its 2nd, 4th, ... sweeps in file order are
    fitted and the others held out, whatever the order given."""
    rc, out, err = run_cli(["example", "fit-real-cell", "--out", str(tmp_path), "--budget", "24",
                            "--sweeps", "16,9,10,11,12"], capsys)  # fmt: skip
    assert rc == 0, err
    d = json.loads(out)
    assert d["fitted_sweeps"] == [10, 12] and d["held_out_sweeps"] == [9, 11, 16]
    assert [e["spikes_recorded"] for e in d["held_out"]] == [RECORDED[k] for k in (9, 11, 16)]
