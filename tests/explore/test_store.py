"""The model database as a file on disk: read-only readers, the sweep lock, settings kept apart
in summaries and exports, and the files it writes (modes, atomic renames, encodings)."""

import csv
import fcntl
import hashlib
import os
import sqlite3

import numpy as np
import pytest

from neuroscape.core.settings import SimSettings
from neuroscape.core.stimuli import make_stimulus
from neuroscape.explore import ModelStore, StoreError, open_for_reading, run_sweep
from neuroscape.io import (
    InputFileError,
    atomic_folder,
    read_params_csv,
    write_csv_atomic,
)
from neuroscape.models import get_spec

SHORT = SimSettings(duration_ms=300.0, window_ms=200.0)
IZ = SimSettings(duration_ms=400.0, dt_ms=0.1, window_ms=300.0, integrator="midpoint")


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


@pytest.fixture(scope="module")
def cortical_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("c") / "runs.db"
    run_sweep("cortical", 8, db, settings=SHORT, progress=False)
    return db


@pytest.fixture(scope="module")
def two_currents(tmp_path_factory):
    """Two Izhikevich sweeps into one database, at step currents 10 and 5 (different n, so
    that they are two sweeps rather than a refused resume)."""
    db = tmp_path_factory.mktemp("iz") / "iz.db"
    for n, amp in ((16, 10.0), (8, 5.0)):
        stim = make_stimulus("step", amp=amp, t_on=100.0)
        run_sweep("izhikevich", n, db, settings=IZ, progress=False, stimulus=stim)
    return db


# --- read-only readers -------------------------------------------------------------------------

WRITES = [
    ("DELETE FROM runs", "DELETE on runs"),
    ("UPDATE runs SET r_E = 0", "UPDATE on runs"),
    ("INSERT INTO meta VALUES ('a', 'b')", "INSERT on meta"),
    ("REPLACE INTO meta VALUES ('model', 'hh')", "INSERT on meta"),
    ("DROP TABLE runs", "DROP TABLE (a change of the schema)"),
    ("DROP VIEW results", "DROP VIEW (a change"),
    ("CREATE TABLE x (a)", "CREATE TABLE (a change"),
    ("CREATE TEMP TABLE x (a)", "CREATE TEMP (a change"),
    ("CREATE INDEX i ON runs (r_E)", "CREATE INDEX (a change"),
    ("ALTER TABLE runs ADD COLUMN z", "ALTER TABLE"),
    ("ATTACH 'other.db' AS o", "ATTACH 'other.db'"),
    ("VACUUM", "VACUUM"),
    ("REINDEX", "REINDEX"),
    ("ANALYZE", "ANALYZE"),
    ("BEGIN", "BEGIN (a transaction)"),
    ("SAVEPOINT s", "a transaction"),
    ("PRAGMA query_only = OFF", "PRAGMA query_only=OFF"),
    ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode=DELETE"),
    ("PRAGMA user_version = 7", "PRAGMA user_version=7"),
    ("PRAGMA wal_checkpoint", "PRAGMA wal_checkpoint"),
]


@pytest.mark.parametrize("sql,what", WRITES, ids=[w[0] for w in WRITES])
def test_a_reader_refuses_every_write_and_leaves_the_file_as_it_was(
    cortical_db, tmp_path, monkeypatch, sql, what
):
    monkeypatch.chdir(tmp_path)  # ATTACH would create other.db here
    before = _digest(cortical_db)
    store = open_for_reading(cortical_db)
    try:
        with pytest.raises(StoreError, match="is opened read-only: ") as e:
            store.query(sql)
        assert what in str(e.value) and "\n" not in str(e.value)
        assert store.query("SELECT COUNT(*) FROM runs")[1] == [(8,)]  # still usable
    finally:
        store.close()
    assert _digest(cortical_db) == before
    assert list(tmp_path.iterdir()) == []
    # nothing is left beside the database (a mode=ro reader would leave -wal and -shm)
    assert sorted(p.name for p in cortical_db.parent.iterdir()) == ["runs.db"]


def test_a_reader_answers_reading_statements(cortical_db):
    store = open_for_reading(cortical_db)
    try:
        assert store.query("WITH x AS (SELECT r_E FROM runs) SELECT COUNT(*) FROM x")[1] == [(8,)]
        cols, rows = store.query("PRAGMA table_info(runs)")
        assert "S_EE" in [r[1] for r in rows]
        with pytest.raises(StoreError, match="only execute one statement"):
            store.query("SELECT 1; DELETE FROM runs")
        with pytest.raises(StoreError, match="empty SQL"):
            store.query("   ")
        with pytest.raises(StoreError, match="SQL error: no such table: nope"):
            store.query("SELECT * FROM nope")
    finally:
        store.close()


def test_readers_refuse_what_is_not_a_neuroscape_database(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_for_reading(tmp_path / "none.db")
    (tmp_path / "d.db").mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        open_for_reading(tmp_path / "d.db")
    con = sqlite3.connect(tmp_path / "plain.db")
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(StoreError, match="not a neuroscape database"):
        open_for_reading(tmp_path / "plain.db")
    con = sqlite3.connect(tmp_path / "alien.db")
    con.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('model', 'martian')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="'martian', which this neuroscape does not know"):
        open_for_reading(tmp_path / "alien.db")


# --- the sweep lock ----------------------------------------------------------------------------


def test_the_lock_file_is_removed_when_the_store_closes(tmp_path):
    db = tmp_path / "l.db"
    spec = get_spec("cortical")
    store = ModelStore(db, spec, writer=True)
    assert (tmp_path / "l.db.lock").read_text() == str(os.getpid())
    with pytest.raises(StoreError, match="another sweep is writing"):
        ModelStore(db, spec, writer=True)
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.db"]


def test_a_stale_lock_file_of_a_killed_sweep_is_taken_and_removed(tmp_path):
    db = tmp_path / "k.db"
    (tmp_path / "k.db.lock").write_text("12345")  # left by a SIGKILLed sweep: nobody holds it
    run_sweep("cortical", 2, db, settings=SHORT, progress=False)
    assert not (tmp_path / "k.db.lock").exists()


def test_a_lock_file_replaced_while_waiting_is_not_trusted(tmp_path):
    """The order close uses (unlink, then unlock) leaves a writer that opened the old file
    holding a lock on a file no longer in place; the next writer locks the new file. Here the
    old holder still holds its unlinked file: a new writer must not be blocked by it, and must
    itself be refused by a holder of the file in place."""
    db = tmp_path / "r.db"
    lock = tmp_path / "r.db.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    spec = get_spec("cortical")
    with pytest.raises(StoreError, match="another sweep is writing"):
        ModelStore(db, spec, writer=True)
    os.unlink(lock)  # the holder is closing: its file is gone, its lock not yet released
    store = ModelStore(db, spec, writer=True)  # a new file, a new lock
    assert os.stat(lock).st_ino != os.fstat(fd).st_ino
    store.close()
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    assert not lock.exists()


# --- sweeps of different settings are kept apart ------------------------------------------------


def test_summary_groups_sweeps_by_stimulus_with_their_own_output_ranges(two_currents):
    store = open_for_reading(two_currents)
    try:
        s = store.summary()
        con = sqlite3.connect(two_currents)
        truth = {
            sid: con.execute(
                "SELECT MIN(rate), MAX(rate), AVG(rate), COUNT(*) FROM runs "
                "WHERE sweep_id = ? AND status = 'ok'",
                (sid,),
            ).fetchone()
            for sid in (1, 2)
        }
        con.close()
    finally:
        store.close()
    assert [g["sweeps"] for g in s["groups"]] == [[1], [2]]
    amps = [g["stimulus"]["amp"] for g in s["groups"]]
    assert amps == [10.0, 5.0]
    assert s["groups"][0]["stimulus_text"] == "step amp=10, t_on=100 ms, t_off=inf ms"
    assert s["groups"][0]["stimulus_units"] == {"amp": "1", "t_on": "ms", "t_off": "ms"}
    for g in s["groups"]:
        r = g["outputs"]["rate"]
        lo, hi, mean, n = truth[g["sweeps"][0]]
        assert (r["min"], r["max"], r["n"]) == (lo, hi, n) and r["mean"] == pytest.approx(mean)
    # a stronger step drives the Izhikevich neurons faster (a monotone f-I curve)
    assert s["groups"][0]["outputs"]["rate"]["mean"] > s["groups"][1]["outputs"]["rate"]["mean"]
    assert s["units"] == {"a": "1/ms", "b": "1", "c": "mV", "d": "1", "rate": "Hz", "cv_isi": "1"}


def test_the_export_carries_every_run_s_settings_and_stimulus(two_currents, tmp_path):
    store = open_for_reading(two_currents)
    try:
        path = store.export(tmp_path / "e.csv")
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(store.export(tmp_path / "e.parquet"))
    finally:
        store.close()
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 24 and table.num_rows == 24
    by_sweep = {(r["sweep_id"], r["stimulus"], r["stimulus_amp"]) for r in rows}
    assert by_sweep == {("1", "step", "10.0"), ("2", "step", "5.0")}
    assert {r["stimulus_t_on_ms"] for r in rows} == {"100.0"}
    assert {r["duration_ms"] for r in rows} == {"400.0"} and "sweep_extra" not in rows[0]
    assert sorted(set(table.column("stimulus_amp").to_pylist())) == [5.0, 10.0]


def test_a_network_export_has_no_stimulus_columns_and_every_table_exports(cortical_db, tmp_path):
    store = open_for_reading(cortical_db)
    try:
        header = open(store.export(tmp_path / "r.csv")).readline().strip().split(",")
        assert "r_E" in header and "duration_ms" in header
        assert not [c for c in header if c.startswith("stimulus")]
        for table in ("runs", "sweeps", "meta"):
            lines = open(store.export(tmp_path / f"{table}.csv", table=table)).read().splitlines()
            assert len(lines) == {"runs": 9, "sweeps": 2, "meta": 6}[table]  # meta: + model_info
    finally:
        store.close()


@pytest.mark.parametrize(
    "out,table,match",
    [
        ("e.xlsx", "results", "allowed suffixes .csv, .parquet"),
        ("e", "results", "allowed suffixes .csv, .parquet"),
        ("e.csv", "nope", "unknown table 'nope'; allowed: meta, results, runs, sweeps"),
        ("e.csv", 'runs"; DROP TABLE runs; --', "unknown table"),
    ],
)
def test_bad_exports_are_refused_and_write_nothing(cortical_db, tmp_path, out, table, match):
    store = open_for_reading(cortical_db)
    try:
        with pytest.raises(StoreError, match=match):
            store.export(tmp_path / out, table=table)
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


def test_the_store_can_still_resume_a_sweep_stored_before_allow_outside_existed(tmp_path):
    # the identity of a sweep is its space's JSON: unchanged for spaces without allow_outside
    db = tmp_path / "o.db"
    run_sweep("cortical", 2, db, settings=SHORT, progress=False)
    con = sqlite3.connect(db)
    space = con.execute("SELECT space FROM sweeps").fetchone()[0]
    con.close()
    assert space == '{"bounds": {}, "fixed": {}, "log": [], "scale": 1.0}'
    assert run_sweep("cortical", 2, db, settings=SHORT, progress=False).n_done_before == 2


# --- files: modes, atomic writes, encodings ------------------------------------------------------


def test_written_files_get_the_umask_mode_not_0600(cortical_db, tmp_path):
    expected = 0o666 & ~_umask()
    p = write_csv_atomic(tmp_path / "a.csv", ["x"], [[1.0]])
    assert p.stat().st_mode & 0o777 == expected
    store = open_for_reading(cortical_db)
    try:
        for name in ("e.csv", "e.parquet"):
            if name.endswith("parquet"):
                pytest.importorskip("pyarrow")
            assert store.export(tmp_path / name).stat().st_mode & 0o777 == expected
    finally:
        store.close()
    db = tmp_path / "new.db"
    run_sweep("cortical", 2, db, settings=SHORT, progress=False)
    assert db.stat().st_mode & 0o777 == expected
    with atomic_folder(tmp_path / "f") as tmp:
        (tmp / "x").write_text("1")
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o777 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_interrupted_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    class Boom:
        def __iter__(self):
            yield [1.0]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_csv_atomic(tmp_path / "a.csv", ["x"], Boom())
    assert list(tmp_path.iterdir()) == []


def test_atomic_folders_replace_only_their_own_kind(tmp_path):
    out = tmp_path / "sur"
    with atomic_folder(out, replaceable=("a.json",)) as tmp:
        (tmp / "a.json").write_text("1")
    with atomic_folder(out, replaceable=("a.json",)) as tmp:  # an earlier result: replaced
        (tmp / "a.json").write_text("2")
    assert (out / "a.json").read_text() == "2"
    with pytest.raises(KeyboardInterrupt), atomic_folder(out, replaceable=("a.json",)) as tmp:
        (tmp / "a.json").write_text("3")
        raise KeyboardInterrupt
    assert (out / "a.json").read_text() == "2"  # the old one stays whole
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputFileError, match="holds other files \\(notes.txt\\)"):
        with atomic_folder(out, replaceable=("a.json",)):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sur"]


def test_parameter_tables_from_spreadsheets(tmp_path):
    spec = get_spec("cortical")
    header = ",".join(spec.parameter_names)
    row = "0.025,2,0.3,0.7,0.5,1500,4"
    # Excel writes UTF-8 CSV with a byte-order mark
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + f"{header}\r\n{row}\r\n".encode())
    np.testing.assert_array_equal(
        read_params_csv(tmp_path / "bom.csv", spec), [[0.025, 2, 0.3, 0.7, 0.5, 1500, 4]]
    )
    (tmp_path / "latin1.csv").write_bytes(f"{header}\n{row}\n".encode() + b"\xe9\n")
    with pytest.raises(InputFileError, match="not a UTF-8 text file"):
        read_params_csv(tmp_path / "latin1.csv", spec)
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(InputFileError, match="is a folder"):
        read_params_csv(tmp_path / "folder.csv", spec)
