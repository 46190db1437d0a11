"""neuroscape theory ... and theory models through simulate/sweep."""

import csv
import json

from neuroscape.cli.main import main


def test_theory_ddm_writes_table_and_figure(tmp_path, capsys):
    out = tmp_path / "th"
    assert main(["theory", "ddm", "--trials", "3000", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["max_p_error_in_se"] < 4 and summary["max_rt_error_in_se"] < 4
    rows = list(csv.DictReader(open(out / "ddm.csv")))
    assert len(rows) == 5 and (out / "ddm.png").stat().st_size > 1000


def test_theory_models_simulate_and_sweep(tmp_path, capsys):
    assert main(["simulate", "wong_wang", "--set", "coherence=51.2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["outputs"]["choice"] in (0.0, 1.0) and d["outputs"]["rt"] > 0
    assert main(["simulate", "wilson_cowan", "--set", "P=3.5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["outputs"]["amplitude"] < 1e-4  # past the Hopf point: a stable fixed point
    db = str(tmp_path / "w.db")
    assert main(["sweep", "wilson_cowan", "--n", "16", "--db", db, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["db", "summary", db]) == 0
    assert "16 runs, 0 failed" in capsys.readouterr().out


def test_unknown_study_exits_2(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["theory", "ising", "--out", str(tmp_path)])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
