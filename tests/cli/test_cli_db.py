"""db summary|query|plot|export through the CLI: read-only, sweeps of different settings kept
apart, numbers with their units, strict JSON, and every bad input refused with one line, exit
status 2, and nothing written."""

import csv
import hashlib
import io
import json
import re
import sqlite3

import pytest

from neuroscape.cli.main import main
from neuroscape.testing import assert_refused, snapshot
from neuroscape.testing import run_cli as run

SHORT = ["--duration-ms", "300", "--window-ms", "200", "--quiet"]


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    """A circuit database; an Izhikevich one with two sweeps at step currents 10 and 5; one
    whose runs all failed; junk and foreign files."""
    d = tmp_path_factory.mktemp("dbs")
    assert main(["sweep", "cortical", "--n", "8", "--db", str(d / "c.db"), *SHORT]) == 0
    iz = ["sweep", "izhikevich", "--db", str(d / "iz.db"), "--duration-ms", "400", "--quiet"]
    assert main([*iz, "--n", "16", "--current", "10"]) == 0
    assert main([*iz, "--n", "8", "--current", "5"]) == 0
    bad = ["sweep", "cortical", "--n", "4", "--db", str(d / "failed.db"), "--fix", "S_EE=5"]
    assert main([*bad, "--allow-outside", *SHORT]) == 1
    (d / "junk.db").write_text("not sqlite\n")
    con = sqlite3.connect(d / "plain.db")
    con.execute("CREATE TABLE t (x)")
    con.close()
    (d / "folder.db").mkdir()
    (d / "afile").write_text("x")
    return d


def test_db_query_cannot_delete_runs(dbs, capsys):
    before = _digest(dbs / "c.db")
    rc, out, err = run(["db", "query", str(dbs / "c.db"), "DELETE FROM runs"], capsys)
    assert_refused(rc, err, "is opened read-only: DELETE on runs is refused")
    assert out == "" and _digest(dbs / "c.db") == before
    rc, out, _ = run(["db", "query", str(dbs / "c.db"), "SELECT COUNT(*) FROM runs"], capsys)
    assert rc == 0 and out.split() == ["COUNT(*)", "8"]


def test_summary_keeps_sweeps_of_different_stimuli_apart_with_units(dbs, capsys):
    rc, out, _ = run(["db", "summary", str(dbs / "iz.db")], capsys)
    assert rc == 0
    assert "2 sweep(s) in 2 group(s) of settings" in out
    for group, amp in ((1, 10), (2, 5)):
        assert f"group {group} (sweep {group}): duration 400 ms, dt 0.1 ms" in out
        assert f"stimulus step amp={amp}, t_on=100 ms, t_off=inf ms" in out
    rates = [line for line in out.splitlines() if line.strip().startswith("rate:")]
    assert len(rates) == 2 and all(line.count(" Hz") == 3 for line in rates)
    # cv_isi is dimensionless ("1"): printed bare
    number = r"[-+0-9.e]+"
    bare = re.compile(rf"  cv_isi: min {number}, mean {number}, max {number} \(")
    assert sum(bool(bare.match(line)) for line in out.splitlines()) == 2


def test_summary_json_is_strict_even_with_no_ok_run(dbs, capsys):
    rc, out, _ = run(["db", "summary", str(dbs / "failed.db"), "--json"], capsys)
    assert rc == 0
    s = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert s["failed"] == 4 and s["groups"][0]["outputs"]["r_E"] == {
        "min": None,
        "max": None,
        "mean": None,
        "n": 0,
    }
    rc, out, _ = run(["db", "summary", str(dbs / "iz.db"), "--json"], capsys)
    s = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert s["groups"][0]["stimulus"]["t_off"] is None  # inf, written as null


def test_export_has_the_stimulus_of_every_run(dbs, tmp_path, capsys):
    out = tmp_path / "e.csv"
    rc, _, err = run(["db", "export", str(dbs / "iz.db"), "--out", str(out)], capsys)
    assert rc == 0 and "units: a 1/ms, c mV, rate Hz" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {(r["sweep_id"], r["stimulus_amp"]) for r in rows} == {("1", "10.0"), ("2", "5.0")}


def test_plot_refuses_to_pool_groups_and_plots_one(dbs, tmp_path, capsys):
    out = tmp_path / "fig"
    rc, _, err = run(["db", "plot", str(dbs / "iz.db"), "--out", str(out)], capsys)
    assert_refused(rc, err, "holds 2 groups of sweeps with different settings")
    assert not out.exists()
    rc, _, err = run(["db", "plot", str(dbs / "iz.db"), "--out", str(out), "--group", "2"], capsys)
    assert rc == 0 and "figures of 8 ok runs" in err and (out / "slices.png").stat().st_size > 5000


BAD = [
    # (arguments with {d} for the databases' folder, part of the one-line message)
    (["db", "summary", "{d}/none.db"], "does not exist"),
    (["db", "summary", "{d}/folder.db"], "is a folder"),
    (["db", "summary", "{d}/junk.db"], "not a neuroscape database"),
    (["db", "summary", "{d}/plain.db"], "not a neuroscape database"),
    (["db", "summary"], "the following arguments are required: RUNS.db"),
    (["db", "nope", "{d}/c.db"], "invalid choice: 'nope'"),
    (["db", "query", "{d}/none.db", "SELECT 1"], "does not exist"),
    (["db", "query", "{d}/junk.db", "SELECT 1"], "not a neuroscape database"),
    (["db", "query", "{d}/c.db", "SELECT nope FROM runs"], "SQL error: no such column: nope"),
    (["db", "query", "{d}/c.db", ""], "empty SQL"),
    (["db", "query", "{d}/c.db", "SELECT 1; SELECT 2"], "one statement at a time"),
    (["db", "query", "{d}/c.db", "UPDATE runs SET r_E = 0"], "UPDATE on runs is refused"),
    (["db", "query", "{d}/c.db", "INSERT INTO meta VALUES ('a', 'b')"], "INSERT on meta"),
    (["db", "query", "{d}/c.db", "DROP TABLE runs"], "DROP TABLE (a change of the schema)"),
    (["db", "query", "{d}/c.db", "ATTACH 'x.db' AS x"], "ATTACH 'x.db' is refused"),
    (["db", "query", "{d}/c.db", "VACUUM"], "VACUUM (or ATTACH) is refused"),
    (["db", "query", "{d}/c.db", "PRAGMA query_only = OFF"], "PRAGMA query_only=OFF"),
    (["db", "query", "{d}/c.db", "BEGIN"], "BEGIN (a transaction)"),
    (["db", "plot", "{d}/none.db", "--out", "fig"], "does not exist"),
    (["db", "plot", "{d}/c.db", "--out", "{d}/afile"], "is a file; expected a folder"),
    (["db", "plot", "{d}/c.db", "--out", "/proc/fig"], "/proc/fig"),
    (["db", "plot", "{d}/c.db", "--out", "fig", "--group", "3"], "--group 3: allowed 1"),
    (["db", "plot", "{d}/c.db", "--out", "fig", "--group", "0"], "'0': allowed an integer > 0"),
    (["db", "plot", "{d}/c.db", "--out", "fig", "--group", "x"], "'x' is not an integer > 0"),
    (["db", "plot", "{d}/failed.db", "--out", "fig"], "has no successful runs to plot"),
    (["db", "plot", "{d}/c.db"], "the following arguments are required: --out"),
    (["db", "export", "{d}/c.db", "--out", "e.xlsx"], "allowed suffixes .csv, .parquet"),
    (["db", "export", "{d}/c.db", "--out", "e"], "allowed suffixes .csv, .parquet"),
    (["db", "export", "{d}/c.db", "--out", "missing/e.csv"], "does not exist"),
    (["db", "export", "{d}/c.db", "--out", "/proc/e.csv"], "/proc/"),
    (["db", "export", "{d}/c.db", "--out", "dir.csv"], "is a folder; expected a file"),
    (["db", "export", "{d}/c.db", "--out", "e.csv", "--table", "nope"], "unknown table 'nope'"),
    (
        ["db", "export", "{d}/c.db", "--out", "e.csv", "--table", "runs; DROP TABLE runs"],
        "allowed: meta, results, runs, sweeps",
    ),
    (["db", "export", "{d}/none.db", "--out", "e.csv"], "does not exist"),
    (["db", "export", "{d}/junk.db", "--out", "e.csv"], "not a neuroscape database"),
]


@pytest.mark.parametrize("argv,match", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_db_commands_exit_2_with_one_line_and_write_nothing(
    dbs, tmp_path, capsys, monkeypatch, argv, match
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.csv").mkdir()
    before = snapshot(tmp_path, dbs)
    rc, out, err = run([a.format(d=dbs) for a in argv], capsys)
    assert_refused(rc, err, match)
    assert out == ""
    assert snapshot(tmp_path, dbs) == before
