"""sweep (and its database) through the CLI: results, failures, Ctrl-C, and every bad input
refused with one line, exit status 2, and nothing written."""

import argparse
import csv
import io
import json
import sqlite3

import pytest

from neuroscape.cli.main import build_parser, main
from neuroscape.testing import assert_refused, options_without_a_stated_default, snapshot
from neuroscape.testing import run_cli as run

SHORT = ["--duration-ms", "300", "--window-ms", "200", "--quiet"]


def test_sweep_summary_query_plot_export(tmp_path, capsys):
    db = str(tmp_path / "runs.db")
    rc, _, err = run(
        ["sweep", "cortical", "--n", "16", "--sampler", "lhs", "--db", db, *SHORT], capsys
    )
    assert rc == 0 and "16 run now" in err
    assert not list(tmp_path.glob("*.lock")), "the sweep left its lock file behind"
    rc, out, _ = run(["db", "summary", db, "--json"], capsys)
    s = json.loads(out)
    assert rc == 0 and s["runs"] == 16 and s["failed"] == 0 and s["sweeps"][0]["sampler"] == "lhs"
    assert s["units"]["r_E"] == "Hz" and s["groups"][0]["settings"]["duration_ms"] == 300
    rc, out, err = run(
        ["db", "query", db, "SELECT row_index, r_E FROM runs ORDER BY row_index"], capsys
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["row_index", "r_E"] and len(rows) == 17 and "units: r_E Hz" in err
    rc, _, _ = run(["db", "plot", db, "--out", str(tmp_path / "fig")], capsys)
    assert rc == 0 and (tmp_path / "fig" / "rates_heatmap.png").stat().st_size > 5000
    assert (tmp_path / "fig" / "slices.png").stat().st_size > 5000
    rc, _, _ = run(["db", "export", db, "--out", str(tmp_path / "r.csv")], capsys)
    assert rc == 0 and len(open(tmp_path / "r.csv").read().splitlines()) == 17


def test_the_sweep_shows_progress_unless_quiet(tmp_path, capsys):
    db = str(tmp_path / "p.db")
    rc, _, err = run(["sweep", "cortical", "--n", "4", "--db", db, *SHORT[:4]], capsys)
    assert rc == 0 and "sweep cortical" in err and "4/4" in err  # the tqdm bar
    rc, _, err = run(["sweep", "cortical", "--n", "8", "--db", db, *SHORT], capsys)
    assert rc == 0 and "sweep cortical:" not in err and err.count("\n") == 1


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
    assert json.loads(out)["groups"][0]["outputs"]["rate"]["max"] > 0


def test_a_fixed_value_past_the_declared_range_is_refused_before_anything_is_written(
    tmp_path, capsys
):
    # S_EE = 5 is 170x the declared upper bound 0.03: simulate refuses it, and so does sweep
    db = tmp_path / "x.db"
    rc, _, err = run(["sweep", "cortical", "--n", "8", "--db", str(db), "--fix", "S_EE=5"], capsys)
    assert_refused(rc, err, "S_EE=5 is outside the declared range of 'cortical': [0.02, 0.03]")
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_whose_runs_all_fail_stores_them_and_exits_1(tmp_path, capsys):
    db = tmp_path / "f.db"
    argv = ["sweep", "cortical", "--n", "8", "--db", str(db), "--fix", "S_EE=5"]
    rc, _, err = run([*argv, "--allow-outside", *SHORT], capsys)
    assert rc == 1 and "error: all 8 runs failed (stored with status 'failed'" in err
    con = sqlite3.connect(db)
    rows = con.execute("SELECT status, error, S_EE FROM runs").fetchall()
    con.close()
    assert len(rows) == 8 and {r[0] for r in rows} == {"failed"} and {r[2] for r in rows} == {5.0}
    assert all(r[1] for r in rows)  # each with its error


def test_a_sweep_with_some_failures_warns_and_exits_0(tmp_path, capsys, monkeypatch):
    from neuroscape.sim.network_engine import NetworkBatch

    real, calls = NetworkBatch.run_chunk, []

    def flaky(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise FloatingPointError("simulated blow-up")
        return real(self, *a, **k)

    monkeypatch.setattr(NetworkBatch, "run_chunk", flaky)
    db = str(tmp_path / "w.db")
    rc, _, err = run(["sweep", "cortical", "--n", "8", "--chunk", "2", "--db", db, *SHORT], capsys)
    assert rc == 0 and "warning: 2 of 8 runs failed" in err
    assert "(2 runs): FloatingPointError: simulated blow-up" in err


def test_ctrl_c_keeps_finished_chunks_releases_the_lock_and_resumes(tmp_path, capsys, monkeypatch):
    import neuroscape.explore.sweep as sweep_mod

    ref = tmp_path / "ref.db"
    assert run(["sweep", "cortical", "--n", "8", "--db", str(ref), *SHORT], capsys)[0] == 0
    real, calls = sweep_mod.run_batch, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sweep_mod, "run_batch", interrupted)
    db = tmp_path / "i.db"
    argv = ["sweep", "cortical", "--n", "8", "--chunk", "2", "--db", str(db), *SHORT]
    rc, _, err = run(argv, capsys)
    assert rc == 130 and err.count("\n") == 1 and "interrupted" in err
    assert not (tmp_path / "i.db.lock").exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4  # two whole chunks
    con.close()
    monkeypatch.setattr(sweep_mod, "run_batch", real)
    rc, _, err = run(argv, capsys)
    assert rc == 0 and "4 already done, 4 run now" in err

    def outputs(path):
        c = sqlite3.connect(path)
        r = c.execute("SELECT row_index, r_E, r_I FROM runs ORDER BY row_index").fetchall()
        c.close()
        return r

    assert outputs(db) == outputs(ref)  # as if never interrupted


def test_the_sweep_uses_the_declared_settings_of_the_model(tmp_path, capsys):
    from neuroscape.models import get_spec

    db = tmp_path / "d.db"
    rc, _, err = run(["sweep", "wilson_cowan", "--n", "2", "--db", str(db), "--quiet"], capsys)
    assert rc == 0, err
    d = get_spec("wilson_cowan").settings
    con = sqlite3.connect(db)
    row = con.execute("SELECT duration_ms, dt_ms, window_ms, integrator FROM sweeps").fetchone()
    con.close()
    assert row == (d.duration_ms, d.dt_ms, d.window_ms, d.integrator)


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_help_states_every_default():
    commands = _subparsers(build_parser())
    parsers = [commands["sweep"], *_subparsers(commands["db"]).values()]
    assert options_without_a_stated_default(parsers) == []
    assert "(default: 64, then chunks of about 1 s of work)" in " ".join(
        commands["sweep"].format_help().split())  # --chunk: the adaptive default, stated


def test_samplers_written_out_in_the_cli_are_the_spaces():
    from neuroscape.cli.explore_cmds import SAMPLERS
    from neuroscape.explore.space import SAMPLERS as SPACE_SAMPLERS

    assert SAMPLERS == SPACE_SAMPLERS


# --- every bad input of sweep: one line, exit 2, nothing written ------------------------------

BAD_SWEEPS = [
    # (model, extra arguments, part of the one-line message)
    ("nope", [], "unknown model 'nope'"),
    ("cortical", ["--n", "0"], "'0': allowed an integer > 0"),
    ("cortical", ["--n", "-3"], "'-3': allowed an integer > 0"),
    ("cortical", ["--n", "nan"], "'nan' is not an integer > 0"),
    ("cortical", ["--n", "1.5"], "'1.5' is not an integer > 0"),
    ("cortical", ["--sampler", "halton"], "invalid choice: 'halton'"),
    ("cortical", ["--sampler", "grid", "--n", "1000"], "grid of 1000^7"),
    ("cortical", ["--fix", "S_EE=5"], "S_EE=5 is outside the declared range"),
    ("cortical", ["--fix", "S_EE=nan"], "allowed a finite number"),
    ("cortical", ["--fix", "S_EE=inf"], "allowed a finite number"),
    ("cortical", ["--fix", "S_EE=-inf"], "allowed a finite number"),
    ("cortical", ["--fix", "S_EE=abc"], "the value is not a number"),
    ("cortical", ["--fix", "S_EE"], "expected NAME=VALUE"),
    ("cortical", ["--fix", "S_XX=1"], "unknown parameter 'S_XX'"),
    (
        "cortical",
        ["--fix", "eta_ext_E=-5", "--allow-outside"],
        "eta_ext_E=-5 Hz is outside the hard limits",
    ),
    ("cortical", ["--bounds", "S_EE=0.03:0.02"], "low=0.03 must be < high=0.02"),
    ("cortical", ["--bounds", "S_EE=0.025:0.025"], "low=0.025 must be < high=0.025"),
    ("cortical", ["--bounds", "S_EE=0.01:0.03"], "is outside the declared range"),
    ("cortical", ["--bounds", "eta_ext_E=10:100"], "[25, 3000] Hz"),
    ("cortical", ["--bounds", "S_EE=0.02"], "expected NAME=LOW:HIGH"),
    ("cortical", ["--bounds", "S_EE=nan:0.03"], "allowed a finite number"),
    ("cortical", ["--bounds", "S_EE=0.02:inf"], "allowed a finite number"),
    ("cortical", ["--bounds", "S_XX=0:1"], "unknown parameter 'S_XX'"),
    ("cortical", ["--log", "S_XX"], "unknown parameter 'S_XX'"),
    ("izhikevich", ["--log", "a"], "log scale for a needs low > 0"),
    ("cortical", ["--scale", "0"], "'0': allowed a finite number > 0"),
    ("cortical", ["--scale", "-2"], "'-2': allowed a finite number > 0"),
    ("cortical", ["--scale", "nan"], "'nan': allowed a finite number > 0"),
    ("cortical", ["--scale", "inf"], "'inf': allowed a finite number > 0"),
    ("cortical", ["--sample-seed", "-1"], "'-1': allowed an integer >= 0"),
    ("cortical", ["--seed", "-1"], "'-1': allowed an integer >= 0"),
    ("cortical", ["--seed", "1.5"], "'1.5' is not an integer >= 0"),
    ("cortical", ["--conn-seed", "-1"], "'-1': allowed an integer >= 0"),
    ("cortical", ["--connectivity", "missing.npz"], "no such file"),
    ("cortical", ["--connectivity", "JUNK"], "not a readable NPZ file"),
    ("izhikevich", ["--connectivity", "JUNK"], "--connectivity is for network models"),
    ("cortical", ["--duration-ms", "0"], "'0': allowed a finite number > 0"),
    ("cortical", ["--duration-ms", "-100"], "'-100': allowed a finite number > 0"),
    ("cortical", ["--duration-ms", "nan"], "'nan': allowed a finite number > 0"),
    ("cortical", ["--duration-ms", "inf"], "'inf': allowed a finite number > 0"),
    ("cortical", ["--dt-ms", "0"], "'0': allowed a finite number > 0"),
    ("cortical", ["--dt-ms", "-0.1"], "'-0.1': allowed a finite number > 0"),
    ("cortical", ["--dt-ms", "nan"], "'nan': allowed a finite number > 0"),
    ("cortical", ["--window-ms", "0"], "'0': allowed a finite number > 0"),
    ("cortical", ["--duration-ms", "300", "--window-ms", "500"], "window_ms=500.0 must be in"),
    ("cortical", ["--integrator", "bogus"], "unknown integrator 'bogus'"),
    ("izhikevich", ["--integrator", "bogus"], "unknown integrator 'bogus'"),
    ("izhikevich", ["--dt-ms", "5"], "dt_ms=5 is too coarse"),
    ("cortical", ["--current", "10"], "a stimulus is for single-neuron models"),
    ("cortical", ["--stimulus", "step"], "a stimulus is for single-neuron models"),
    ("izhikevich", ["--current", "nan"], "'nan': allowed a finite number"),
    ("izhikevich", ["--current", "inf"], "'inf': allowed a finite number"),
    ("izhikevich", ["--current", "5", "--t-on", "-1"], "'-1': allowed a finite number >= 0"),
    ("izhikevich", ["--current", "5", "--t-off", "0"], "'0': allowed a finite number > 0"),
    ("izhikevich", ["--stimulus", "bogus"], "invalid choice: 'bogus'"),
    ("izhikevich", ["--stim", "amp=1"], "--stim needs --stimulus KIND"),
    ("izhikevich", ["--stimulus", "poisson", "--stim", "rate_hz=5"], "poisson stimulus needs"),
    ("izhikevich", ["--stimulus", "step", "--stim", "foo=1"], "no parameter 'foo'"),
    ("izhikevich", ["--stimulus", "step", "--stim", "amp=nan"], "allowed a finite number"),
    (
        "izhikevich",
        ["--stimulus", "poisson", *"--stim rate_hz=-1 --stim tau_syn=5 --stim weight=1".split()],
        "rate_hz=-1",
    ),
    ("cortical", ["--chunk", "0"], "'0': allowed an integer > 0"),
    ("cortical", ["--chunk", "-4"], "'-4': allowed an integer > 0"),
    ("cortical", ["--workers", "0"], "'0': allowed an integer > 0"),
    ("cortical", ["--workers", "100000"], "workers=100000; allowed: 1.."),
    ("cortical", ["--db", "sub/missing/x.db"], "does not exist"),
    ("cortical", ["--db", "x.csv"], "allowed suffixes .db, .sqlite, .sqlite3"),
    ("cortical", ["--db", "FOLDER.db"], "is a folder"),
    ("cortical", ["--db", "JUNK.db"], "not a neuroscape database"),
    ("cortical", ["--db", "IZ.db"], "holds runs of model 'izhikevich', not 'cortical'"),
    ("cortical", ["--db", "/proc/x.db"], "/proc/x.db"),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A folder with a junk file, a folder named like a database, and an izhikevich database."""
    d = tmp_path_factory.mktemp("bad")
    (d / "JUNK").write_text("not a graph\n")
    (d / "JUNK.db").write_text("not sqlite\n")
    (d / "FOLDER.db").mkdir()
    assert main(["sweep", "izhikevich", "--n", "2", "--db", str(d / "IZ.db"), *SHORT]) == 0
    return d


@pytest.mark.parametrize(
    "model,extra,match", BAD_SWEEPS, ids=[f"{c[0]} {' '.join(c[1])}" for c in BAD_SWEEPS]
)
def test_bad_sweeps_exit_2_with_one_line_and_write_nothing(
    prepared, tmp_path, capsys, monkeypatch, model, extra, match
):
    monkeypatch.chdir(tmp_path)
    for name in ("JUNK", "JUNK.db", "FOLDER.db", "IZ.db"):
        (tmp_path / name).symlink_to(prepared / name)
    before = snapshot(tmp_path, prepared)
    db = ["--db", "new.db"] if "--db" not in extra else []
    n = ["--n", "4"] if "--n" not in extra else []
    rc, out, err = run(["sweep", model, *n, *db, *extra, "--quiet"], capsys)
    assert_refused(rc, err, match)
    assert out == ""
    assert snapshot(tmp_path, prepared) == before  # no database, lock or temporary file


def test_an_unreachable_scheduler_is_refused_before_the_database(tmp_path, capsys, monkeypatch):
    import neuroscape.explore.sweep as sweep_module

    # Dask retries a refused connection until its timeout (10 s by default); its length is not
    # what is tested here
    monkeypatch.setattr(sweep_module.connect_scheduler, "__defaults__", (1.0,))
    db = tmp_path / "s.db"
    argv = ["sweep", "cortical", "--n", "4", "--db", str(db), "--scheduler", "tcp://127.0.0.1:9"]
    rc, _, err = run([*argv, *SHORT], capsys)
    assert_refused(rc, err, "cannot reach the Dask scheduler")
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_sweep_under_another_stimulus_names_both_in_readable_form(tmp_path, capsys):
    db = str(tmp_path / "lif.db")
    argv = ["sweep", "lif", "--n", "4", "--db", db, "--duration-ms", "200", "--quiet"]
    assert run([*argv, "--current", "10"], capsys)[0] == 0
    rc, _, err = run([*argv, "--current", "5"], capsys)
    assert_refused(
        rc,
        err,
        "ran with stimulus step amp=10 nA, t_on=100 ms, t_off=inf ms; this command gives "
        "stimulus step amp=5 nA, t_on=100 ms, t_off=inf ms",
    )
    assert "{" not in err  # no raw Python dict
