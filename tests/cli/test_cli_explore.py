"""sweep and db commands."""

import csv
import io
import json

import pytest

from neuroscape.cli.main import main

SHORT = ["--duration-ms", "300", "--window-ms", "200", "--quiet"]


def run(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_sweep_summary_query_plot_export(tmp_path, capsys):
    db = str(tmp_path / "runs.db")
    rc, _, err = run(
        ["sweep", "cortical", "--n", "16", "--sampler", "lhs", "--db", db, *SHORT], capsys
    )
    assert rc == 0 and "16 run now" in err
    rc, out, _ = run(["db", "summary", db, "--json"], capsys)
    s = json.loads(out)
    assert rc == 0 and s["runs"] == 16 and s["failed"] == 0 and s["sweeps"][0]["sampler"] == "lhs"
    rc, out, _ = run(
        ["db", "query", db, "SELECT row_index, r_E FROM runs ORDER BY row_index"], capsys
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["row_index", "r_E"] and len(rows) == 17
    rc, _, _ = run(["db", "plot", db, "--out", str(tmp_path / "fig")], capsys)
    assert rc == 0 and (tmp_path / "fig" / "rates_heatmap.png").stat().st_size > 5000
    assert (tmp_path / "fig" / "slices.png").stat().st_size > 5000
    rc, _, _ = run(["db", "export", db, "--out", str(tmp_path / "r.csv")], capsys)
    assert rc == 0 and len(open(tmp_path / "r.csv").read().splitlines()) == 17


@pytest.mark.parametrize(
    "args,match",
    [
        (["--n", "0"], "n=0; allowed: a positive integer"),
        (["--n", "4", "--sampler", "halton"], "unknown sampler 'halton'"),
        (["--n", "4", "--bounds", "S_EE=0.03:0.02"], "low=0.03 must be < high=0.02"),
        (["--n", "4", "--fix", "S_XX=1"], "unknown parameter 'S_XX'"),
        (["--n", "4", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    ],
)
def test_bad_sweeps_exit_2_and_create_nothing(tmp_path, capsys, args, match):
    db = tmp_path / "x.db"
    rc, _, err = run(["sweep", "cortical", "--db", str(db), *args, *SHORT], capsys)
    assert rc == 2 and match in err and err.count("\n") == 1
    assert not db.exists()


def test_db_errors(tmp_path, capsys):
    rc, _, err = run(["db", "summary", str(tmp_path / "none.db")], capsys)
    assert rc == 2 and "does not exist" in err
    (tmp_path / "junk.db").write_text("not sqlite")
    rc, _, err = run(["db", "summary", str(tmp_path / "junk.db")], capsys)
    assert rc == 2 and "not a neuroscape database" in err
    db = str(tmp_path / "runs.db")
    run(["sweep", "cortical", "--n", "2", "--db", db, *SHORT], capsys)
    rc, _, err = run(["db", "query", db, "SELECT nope FROM runs"], capsys)
    assert rc == 2 and "SQL error: no such column: nope" in err


def test_izhikevich_sweep_over_its_parameters_with_behaviour_labels(tmp_path, capsys):
    db = str(tmp_path / "iz.db")
    rc, _, err = run(
        [
            "sweep",
            "izhikevich",
            "--n",
            "64",
            "--db",
            db,
            "--current",
            "10",
            "--duration-ms",
            "600",
            "--window-ms",
            "400",
            "--quiet",
        ],
        capsys,
    )
    assert rc == 0, err
    rc, out, _ = run(["db", "query", db, "SELECT DISTINCT label FROM runs"], capsys)
    labels = set(out.split()[1:])
    assert labels <= {"silent", "tonic", "bursting", "irregular"} and len(labels) >= 2
    rc, out, _ = run(["db", "summary", db, "--json"], capsys)
    assert json.loads(out)["outputs"]["rate"]["max"] > 0
