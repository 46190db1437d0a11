"""Sweeps of a function model loaded from a file (``tests/explore/flaky_model.py:MODEL``): every
row stored exactly once, failures stored with their error text, ok rows equal to direct calls of
the user's function; SIGKILL and resume, a changed model file, a bad first row, reading the
database back without the file, and a Dask cluster of worker processes losing one."""

import hashlib
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from neuroscape.core.rng import row_keys
from neuroscape.testing import assert_refused, kill_after_runs, snapshot
from neuroscape.testing import run_cli as run

HERE = Path(__file__).parent
MODEL_FILE = HERE / "flaky_model.py"
# sobol, sample seed 0, n=16: rows of every kind (checked by _check_against_direct_calls)
N = 16


def _module(path: Path):
    """The user's module imported by the test itself, to call its function directly."""
    spec = importlib.util.spec_from_file_location(f"flaky_direct_{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FLAKY = _module(MODEL_FILE)


def _rows(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(
            "SELECT row_index, a, b, y, z, status, error FROM runs ORDER BY row_index"
        ).fetchall()
    finally:
        con.close()


def _check_against_direct_calls(db, n=N, seed=0) -> Counter:
    """Every row 0..n-1 stored once; each as a direct call of the function gives it: ok rows
    with exactly its outputs, the others failed with the error the call shows. The kinds seen."""
    rows = _rows(db)
    assert [r[0] for r in rows] == list(range(n))  # every row exactly once
    kinds: Counter[str] = Counter()
    for (r, a, b, y, z, status, error), key in zip(rows, row_keys(seed, np.arange(n)), strict=True):
        if 0.8 < a <= 0.9:  # the function hangs here: not called directly
            assert status == "failed" and "timed out" in error, (r, a, status, error)
            kinds["hang"] += 1
            continue
        try:
            out = FLAKY.simulate({"a": a, "b": b}, int(key))
        except RuntimeError as exc:
            assert status == "failed" and f"RuntimeError: {exc}" in error, (r, status, error)
            kinds["raise"] += 1
            continue
        if set(out) != {"y", "z"}:
            assert status == "failed" and "missing output 'z'" in error, (r, status, error)
            kinds["missing"] += 1
        elif not all(np.isfinite(list(out.values()))):
            assert status == "failed" and "non-finite output y=nan" in error, (r, status, error)
            kinds["nan"] += 1
        else:
            assert status == "ok" and error is None, (r, status, error)
            assert (y, z) == (out["y"], out["z"]), (r, y, z, out)  # bitwise equal
            kinds["ok"] += 1
    return kinds


def _copy_model(tmp_path) -> Path:
    dst = tmp_path / "my_flaky.py"
    shutil.copy(MODEL_FILE, dst)
    return dst


def _sweep_argv(model_file, db, *extra):
    return ["sweep", f"{model_file}:MODEL", "--n", str(N), "--db", str(db), "--quiet", *extra]


def test_cli_sweep_of_a_model_file_stores_every_row_once_as_direct_calls_give_it(
    tmp_path, capsys
):
    db = tmp_path / "f.db"
    rc, _, err = run(_sweep_argv(MODEL_FILE, db, "--workers", "2", "--chunk", "8"), capsys)
    assert rc == 0, err
    kinds = _check_against_direct_calls(db)
    # the sample holds rows of every kind, so that each is checked
    assert set(kinds) == {"ok", "hang", "raise", "nan", "missing"}, kinds
    failed = N - kinds["ok"]
    assert f"{N} run now ({failed} failed)" in err and f"warning: {failed} of {N} runs" in err
    assert not list(tmp_path.glob("*.lock"))
    # a rerun is a no-op resume
    rc, _, err = run(_sweep_argv(MODEL_FILE, db, "--workers", "2"), capsys)
    assert rc == 0 and f"{N} already done, 0 run now" in err
    assert _check_against_direct_calls(db) == kinds


@pytest.mark.slow  # kills a sweep process and resumes it
def test_sigkill_midway_then_resume_stores_every_row_once(tmp_path):
    db = tmp_path / "k.db"
    argv = _sweep_argv(MODEL_FILE, db, "--chunk", "2", "--workers", "1")
    cmd = [sys.executable, "-m", "neuroscape.cli.main", *argv]
    env = {**os.environ, "FLAKY_SLEEP_S": "0.1"}  # 0.2 s per chunk at least: killable midway
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    rc = kill_after_runs(proc, db, 4, timeout_s=60)
    assert rc == -signal.SIGKILL, "the sweep finished before it could be killed"
    partial = _rows(db)
    assert 4 <= len(partial) < N and len(partial) % 2 == 0  # whole chunks only
    rep = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert rep.returncode == 0, rep.stderr
    assert f"{len(partial)} already done, {N - len(partial)} run now" in rep.stderr
    assert set(_check_against_direct_calls(db)) == {"ok", "hang", "raise", "nan", "missing"}
    assert _rows(db)[: len(partial)] == partial  # the stored rows were kept as they were


def test_a_changed_model_file_is_refused_on_resume_and_the_database_is_unchanged(
    tmp_path, capsys
):
    model = _copy_model(tmp_path)
    db = tmp_path / "c.db"
    argv = _sweep_argv(model, db, "--fix", "a=0.3", "--chunk", "4")
    assert run(argv, capsys)[0] == 0
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with open(model, "a") as f:
        f.write("\n# an edit\n")
    files = snapshot(tmp_path)
    rc, out, err = run(argv, capsys)
    assert_refused(rc, err, f"the model file {model.resolve()} has changed")
    assert out == "" and snapshot(tmp_path) == files
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # byte-identical


def test_a_wrong_structure_at_the_first_row_exits_2_and_writes_nothing(tmp_path, capsys):
    # an undeclared key or a value that is not a number: the function and its declaration
    # disagree (a row merely missing an output is a failed row; see the flaky model)
    db = tmp_path / "w.db"
    for body, message in (
        ("{'rate': p['a']}", "simulate returned the keys rate; declared outputs: y"),
        ("{'y': 'fast'}", "simulate returned y='fast', which is not a number"),
        ("{'y': [p['a'], 1.0]}", "simulate returned y of shape (2,), not a single number"),
    ):
        bad = tmp_path / "bad.py"
        bad.write_text(
            "from neuroscape import FunctionModel, Output, Parameter\n"
            "MODEL = FunctionModel('bad', [Parameter('a', 0.5, 0.0, 1.0)], [Output('y', 'Hz')],\n"
            f"                      lambda p, seed: {body})\n"
        )
        argv = ["sweep", f"{bad}:MODEL", "--n", "4", "--db", str(db), "--quiet"]
        rc, out, err = run(argv, capsys)
        assert_refused(rc, err, message)
        assert not db.exists() and not (tmp_path / "w.db.lock").exists()


@pytest.mark.parametrize(
    "ref,match",
    [
        ("missing_file.py:MODEL", "does not exist"),
        ("{model}:NOPE", "has no 'NOPE'; models in it: MODEL"),
        ("{model}:math", "is a module, not a neuroscape model"),
        ("no_such_model", "unknown model 'no_such_model'"),
    ],
)
def test_bad_model_references_exit_2_with_one_line(tmp_path, capsys, ref, match):
    db = tmp_path / "r.db"
    rc, out, err = run(["sweep", ref.format(model=MODEL_FILE), "--n", "4", "--db", str(db)], capsys)
    assert_refused(rc, err, match)
    assert list(tmp_path.iterdir()) == []


def test_options_the_model_does_not_take_are_refused_before_anything_is_written(tmp_path):
    from neuroscape.core.settings import SettingsError
    from neuroscape.explore import run_sweep
    from neuroscape.models import load_file

    model = load_file(f"{MODEL_FILE}:MODEL")
    db = tmp_path / "o.db"
    with pytest.raises(SettingsError, match="conn_seed= is not an option of model 'flaky'"):
        run_sweep(model, 4, db, conn_seed=1, progress=False)
    with pytest.raises(SettingsError, match=r"workers=0; allowed: an integer >= 1 \(processes"):
        run_sweep(model, 4, db, workers=0, progress=False)
    with pytest.raises(SettingsError, match="its function sets its own duration"):
        from neuroscape.core.settings import SimSettings

        run_sweep(model, 4, db, settings=SimSettings(100.0, 0.1, 50.0), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_the_database_reads_back_without_the_model_file_or_the_registry(tmp_path, capsys):
    from neuroscape.explore import open_for_reading
    from neuroscape.models import available

    model = _copy_model(tmp_path)
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    db = tmp_path / "d.db"
    assert run(_sweep_argv(model, db, "--workers", "2", "--chunk", "8"), capsys)[0] == 0
    kinds = _check_against_direct_calls(db)
    model.unlink()
    assert "flaky" not in available()
    store = open_for_reading(db)
    try:
        info = store.model_info
        assert info["kind"] == "function" and info["ref"] == f"{model.resolve()}:MODEL"
        assert info["source"] == {"file": str(model.resolve()), "sha256": sha, "name": "MODEL"}
        assert store.spec.to_dict() == FLAKY.MODEL.spec.to_dict()
    finally:
        store.close()
    rc, out, err = run(["db", "summary", str(db), "--json"], capsys)
    s = json.loads(out)
    assert rc == 0 and s["runs"] == N and s["failed"] == N - kinds["ok"], err
    assert s["units"] == {"a": "1", "b": "mV", "y": "mV", "z": "Hz"}
    assert s["source"]["sha256"] == sha
    rc, out, err = run(["db", "summary", str(db)], capsys)
    assert rc == 0 and "own protocol" in out and " mV" in out and " Hz" in out, out
    rc, out, err = run(["db", "query", str(db), "SELECT COUNT(*) AS n FROM runs"], capsys)
    assert rc == 0 and out.split() == ["n", str(N)]
    rc, out, err = run(["db", "query", str(db), "SELECT b, y, z FROM runs"], capsys)
    assert rc == 0 and "units: b mV, y mV, z Hz" in err
    csv_path = tmp_path / "r.csv"
    rc, _, err = run(["db", "export", str(db), "--out", str(csv_path)], capsys)
    assert rc == 0 and len(csv_path.read_text().splitlines()) == N + 1
    rc, _, err = run(["db", "plot", str(db), "--out", str(tmp_path / "fig")], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == ["slices.png"]


def test_a_database_without_a_stored_declaration_still_opens_and_is_upgraded(tmp_path):
    from neuroscape.core.settings import SimSettings
    from neuroscape.explore import open_for_reading, run_sweep
    from neuroscape.explore.store import SCHEMA_VERSION

    short = SimSettings(duration_ms=300.0, window_ms=200.0)
    db = tmp_path / "v1.db"
    run_sweep("cortical", 2, db, settings=short, progress=False)
    con = sqlite3.connect(db)  # as schema version 1 wrote it
    con.execute("DELETE FROM meta WHERE key = 'model_info'")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.execute("ALTER TABLE sweeps DROP COLUMN model_info")
    con.commit()
    con.close()
    store = open_for_reading(db)
    assert store.model_info is None and store.spec.name == "cortical"
    assert store.summary()["runs"] == 2
    store.close()
    assert run_sweep("cortical", 4, db, settings=short, progress=False).n_run == 4
    store = open_for_reading(db)
    assert store.model_info["ref"] == "cortical" and store.summary()["runs"] == 6
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'")[1] == [
        (str(SCHEMA_VERSION),)
    ]
    store.close()


@pytest.mark.slow  # starts a Dask cluster and kills a worker
def test_dask_worker_processes_sweep_a_model_file_and_losing_one_loses_nothing(tmp_path):
    """A LocalCluster of worker processes (daemons, as Dask starts them); one is SIGKILLed
    while it runs a chunk: Dask redoes that chunk, and every row is stored exactly once."""
    distributed = pytest.importorskip("distributed")
    from neuroscape.explore import run_sweep

    db = tmp_path / "dask.db"
    os.environ["FLAKY_SLEEP_S"] = "0.1"  # the workers inherit it: chunks stay in flight a while
    killed = []
    try:
        with (
            distributed.LocalCluster(
                n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            done = threading.Event()
            result = {}

            def sweep():
                try:
                    result["rep"] = run_sweep(
                        f"{MODEL_FILE}:MODEL", N, db, chunk=2, client=client, progress=False
                    )
                except BaseException as exc:  # reported by the test thread
                    result["exc"] = exc
                finally:
                    done.set()

            t = threading.Thread(target=sweep)
            t.start()
            deadline = time.time() + 60
            while not killed and time.time() < deadline and not done.is_set():
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                    stored = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                    con.close()
                except sqlite3.Error:
                    stored = 0
                if stored >= 2:
                    busy = [w for w, tasks in client.processing().items() if tasks]
                    if busy:
                        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                time.sleep(0.02)
            t.join(120)
            assert not t.is_alive(), "the sweep did not finish"
            if "exc" in result:
                raise result["exc"]
    finally:
        os.environ.pop("FLAKY_SLEEP_S", None)
    assert killed, "no worker was killed while busy"
    rep = result["rep"]
    assert rep.n_run == N
    kinds = _check_against_direct_calls(db)
    assert set(kinds) == {"ok", "hang", "raise", "nan", "missing"}, kinds
    assert rep.n_failed == N - kinds["ok"]



def doubled(p, seed):
    return {"y": 2.0 * p["x"]}


def test_a_dask_worker_keeps_one_model_per_identity_and_reloads_an_edited_file(tmp_path):
    """What a Dask worker runs (_remote_chunk): a shipped object is one model however many
    chunks unpickle it (one pool of row processes, not one per chunk), and a model file edited
    between sweeps is loaded again (the hash is part of its identity)."""
    import pickle

    from neuroscape import FunctionModel, Output, Parameter
    from neuroscape.core.settings import SimSettings
    from neuroscape.explore import sweep as sw
    from neuroscape.models import load_file

    m = FunctionModel("dbl", [Parameter("x", 0.5, 0.0, 1.0)], [Output("y")], doubled)
    settings = SimSettings.for_model(m.spec)
    p = np.array([[0.25]])
    before = len(sw._worker_models)
    for _ in range(3):
        handle = pickle.loads(pickle.dumps(sw._model_handle(m)))
        out = sw._remote_chunk(handle, {}, p, np.array([0]), 0, settings, False, 1, True)
        assert out[1][0, 0] == 0.5
    assert len(sw._worker_models) == before + 1

    f = tmp_path / "edited.py"
    text = (
        "from neuroscape import FunctionModel, Output, Parameter\n"
        "MODEL = FunctionModel('ed', [Parameter('x', .5, 0, 1)], [Output('y')],"
        " lambda p, s: {{'y': {k} * p['x']}})\n"
    )
    results = []
    for k in (1.0, 3.0):
        f.write_text(text.format(k=k))
        model = load_file(f"{f}:MODEL")
        handle = sw._model_handle(model)
        out = sw._remote_chunk(handle, {}, p, np.array([0]), 0, settings, False, 1, True)
        results.append(out[1][0, 0])
    assert results == [0.25, 0.75]
    sw._close_worker_models()


def test_a_model_file_edited_while_rows_run_fails_the_run_not_its_rows(tmp_path):
    from neuroscape import simulate
    from neuroscape.models import load_file

    f = tmp_path / "moving.py"
    f.write_text(
        "import time\n"
        "from neuroscape import FunctionModel, Output, Parameter\n"
        "def run(p, s):\n"
        "    if p['x'] > 0.8:\n"
        "        time.sleep(30)\n"
        "    return {'y': p['x']}\n"
        "MODEL = FunctionModel('mv', [Parameter('x', .5, 0, 1)], [Output('y')], run,"
        " timeout_s=1)\n"
    )
    m = load_file(f"{f}:MODEL")
    assert simulate(m, {"x": 0.1}).ok.all()
    f.write_text(f.read_text() + "# edited\n")
    # the hung row's worker is replaced; the new worker finds the file changed
    with pytest.raises(ValueError, match="worker processes cannot load the model"):
        simulate(m, [{"x": 0.85}, {"x": 0.1}, {"x": 0.2}])
