"""How a sweep cuts its work into chunks (one engine call and one transaction each) and stores
them: the chunk plan, what a stored chunk holds, and crash safety with chunks of its own size."""

import math
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import neuroscape.explore.sweep as sw
from neuroscape.core.settings import SimSettings
from neuroscape.core.stimuli import make_stimulus
from neuroscape.explore import ModelStore, ParameterSpace, StoreError, run_sweep
from neuroscape.explore.store import model_info_of
from neuroscape.models import get_spec, resolve
from neuroscape.sim.engine import batch_for
from neuroscape.testing import kill_after_runs

LIF = SimSettings(duration_ms=200.0, dt_ms=0.1, window_ms=100.0)
STEP = make_stimulus("step", amp=2.0)


# --- the chunk plan ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds_per_row, rows",
    [
        (1.0 / 640, 640),  # 1 s of work is 640 rows: ten units
        (1.0 / 700, 640),  # whole units, rounded down: 10.9 units -> 10
        (0.5, 64),  # slower than one unit per second: one unit
        (1e-7, 4096),  # ten million rows a second: capped
        (0.0, 4096),  # too fast to time
        (math.nan, 4096),
    ],
)
def test_the_next_chunk_holds_about_one_second_of_work_in_whole_units(seconds_per_row, rows):
    assert (sw.CHUNK_UNIT, sw.CHUNK_TARGET_S, sw.CHUNK_MAX) == (64, 1.0, 4096)
    assert sw.next_chunk(seconds_per_row) == rows


def test_an_adaptive_sweep_grows_its_chunks_and_stores_the_engine_s_numbers(
    tmp_path, monkeypatch
):
    """Chunk sizes as the rate measured so far asks (whole units after a first unit), every
    point once, each row's numbers those of one engine call over all points."""
    sizes = []
    real = sw.run_batch

    def counting(batch, params, **kw):
        sizes.append(len(params))
        return real(batch, params, **kw)

    monkeypatch.setattr(sw, "run_batch", counting)
    monkeypatch.setattr(sw, "CHUNK_TARGET_S", 0.05)
    n = 1000
    db = tmp_path / "a.db"
    rep = run_sweep("lif", n, db, settings=LIF, stimulus=STEP, progress=False, sampler="uniform")
    assert rep.n_run == n and sum(sizes) == n and len(sizes) >= 2
    assert sizes[0] == sw.CHUNK_UNIT
    assert all(s % sw.CHUNK_UNIT == 0 for s in sizes[:-1])
    con = sqlite3.connect(db)
    got = con.execute("SELECT row_index, rate FROM runs ORDER BY row_index").fetchall()
    con.close()
    assert [r[0] for r in got] == list(range(n))
    points = ParameterSpace(get_spec("lif")).sample(n, "uniform", 0)
    ref = real(batch_for("lif", stimulus=STEP), points, settings=LIF, seed=0)
    assert np.array_equal(np.array([r[1] for r in got], dtype=float), ref["rate"], equal_nan=True)


def test_the_report_splits_its_time_between_the_engine_and_the_database(tmp_path, monkeypatch):
    """simulation_s: the wall time of the engine calls (here each made to last 20 ms more);
    storage_s: the time of the chunks' transactions (written while the next chunk runs);
    neither outlasts the sweep."""
    real = sw.run_batch

    def slow(b, p, **kw):
        time.sleep(0.02)
        return real(b, p, **kw)

    monkeypatch.setattr(sw, "run_batch", slow)
    rep = run_sweep("lif", 40, tmp_path / "t.db", settings=LIF, stimulus=STEP, chunk=8,
                    progress=False, sampler="uniform")  # fmt: skip
    assert rep.simulation_s >= 5 * 0.02  # five chunks
    assert 0 < rep.storage_s <= rep.wall_time_s and rep.simulation_s <= rep.wall_time_s


def _count(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def test_an_interrupt_keeps_the_chunk_still_being_written(tmp_path, monkeypatch):
    """Ctrl-C while chunk 3 runs: chunk 2, simulated but still in the writer's hands (its
    write made slow here), is stored before the interrupt leaves run_sweep."""
    real_run, real_write = sw.run_batch, ModelStore.write_chunk
    calls = []

    def run(b, p, **kw):
        calls.append(len(p))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run(b, p, **kw)

    def slow_write(self, *a, **kw):
        time.sleep(0.3)
        return real_write(self, *a, **kw)

    monkeypatch.setattr(sw, "run_batch", run)
    monkeypatch.setattr(ModelStore, "write_chunk", slow_write)
    db = tmp_path / "i.db"
    with pytest.raises(KeyboardInterrupt):
        run_sweep("lif", 40, db, settings=LIF, stimulus=STEP, chunk=8, progress=False,
                  sampler="uniform")  # fmt: skip
    assert _count(db) == 16
    assert not (tmp_path / "i.db.lock").exists()


def test_a_failed_write_stops_the_sweep_with_its_error(tmp_path, monkeypatch):
    real_write = ModelStore.write_chunk
    writes = []

    def failing(self, *a, **kw):
        writes.append(1)
        if len(writes) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real_write(self, *a, **kw)

    monkeypatch.setattr(ModelStore, "write_chunk", failing)
    db = tmp_path / "e.db"
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        run_sweep("lif", 40, db, settings=LIF, stimulus=STEP, chunk=8, progress=False,
                  sampler="uniform")  # fmt: skip
    assert _count(db) == 8  # the first chunk; nothing after the failed one


def test_a_given_chunk_size_is_kept(tmp_path, monkeypatch):
    sizes = []
    real = sw.run_batch
    monkeypatch.setattr(
        sw, "run_batch", lambda b, p, **kw: sizes.append(len(p)) or real(b, p, **kw)
    )
    run_sweep(
        "lif", 50, tmp_path / "c.db", settings=LIF, stimulus=STEP, chunk=16, progress=False,
        sampler="uniform",
    )
    assert sizes == [16, 16, 16, 2]


# --- what a chunk stores --------------------------------------------------------------------


def _store(tmp_path):
    m = resolve("lif")
    st = ModelStore(tmp_path / "w.db", m.spec, writer=True, model_info=model_info_of(m))
    sid = st.open_sweep(
        {"model": "lif", "model_version": "1", "space": "{}", "sampler": "grid", "n": 3,
         "sample_seed": 0},
        {"seed": 0, "duration_ms": 10.0, "dt_ms": 0.1, "window_ms": 5.0,
         "integrator": "exponential_euler", "extra": None},
    )  # fmt: skip
    return st, sid


def test_a_chunk_is_stored_value_for_value_with_non_finite_outputs_as_null(tmp_path):
    st, sid = _store(tmp_path)
    params = np.array([[-65.0, -40.0, -70.0, 10.0, 10.0, 2.0]] * 3) + np.arange(3)[:, None] / 7
    outputs = np.array([[12.5, 0.25], [np.inf, np.nan], [np.nan, -np.inf]])
    ok = np.array([True, True, False])
    st.write_chunk(sid, np.array([5, 9, 11]), params, outputs, ok,
                   [None, None, "boom"], ["tonic", None, None], 0.125)  # fmt: skip
    rows = st.query(
        "SELECT row_index, V_rest, t_ref, rate, cv_isi, status, error, label, wall_time_s "
        "FROM runs ORDER BY row_index"
    )[1]
    st.close()
    assert rows == [
        (5, -65.0, 2.0, 12.5, 0.25, "ok", None, "tonic", 0.125),
        (9, -65.0 + 1 / 7, 2.0 + 1 / 7, None, None, "ok", None, None, 0.125),
        (11, -65.0 + 2 / 7, 2.0 + 2 / 7, None, None, "failed", "boom", None, 0.125),
    ]


def test_a_chunk_whose_columns_disagree_in_length_is_refused_whole(tmp_path):
    st, sid = _store(tmp_path)
    p = np.zeros((2, 6))
    with pytest.raises(StoreError, match="write_chunk: 1 labels for 2 rows"):
        st.write_chunk(sid, np.array([0, 1]), p, np.zeros((2, 2)), np.ones(2, bool),
                       [None, None], ["x"], 0.1)  # fmt: skip
    with pytest.raises(StoreError, match="write_chunk: 3 outputs for 2 rows"):
        st.write_chunk(sid, np.array([0, 1]), p, np.zeros((3, 2)), np.ones(2, bool),
                       [None, None], [None, None], 0.1)  # fmt: skip
    assert st.query("SELECT COUNT(*) FROM runs")[1] == [(0,)]
    st.close()


def test_a_row_stored_twice_rolls_back_its_whole_chunk(tmp_path):
    st, sid = _store(tmp_path)
    p, o, okk = np.zeros((2, 6)), np.zeros((2, 2)), np.ones(2, bool)
    st.write_chunk(sid, np.array([0, 1]), p, o, okk, [None] * 2, [None] * 2, 0.1)
    with pytest.raises(sqlite3.IntegrityError):
        st.write_chunk(sid, np.array([2, 1]), p, o, okk, [None] * 2, [None] * 2, 0.1)
    assert st.query("SELECT row_index FROM runs ORDER BY row_index")[1] == [(0,), (1,)]
    st.close()


def test_a_chunk_longer_than_one_insert_statement_is_stored_whole_or_not_at_all(tmp_path):
    """write_chunk binds as many rows per INSERT as SQLite allows; with the limit at two rows
    a 5-row chunk takes three statements: every row lands once, in order, and a duplicate in the
    last statement rolls back the first two."""
    st, sid = _store(tmp_path)
    n_cols = len(st.query("SELECT * FROM runs LIMIT 0")[0]) - 1  # less the id
    st.con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 2 * n_cols + 1)
    p = np.arange(30, dtype=float).reshape(5, 6)
    o = np.array([[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0], [6.0, np.inf], [7.0, 8.0]])
    okk = np.array([True, True, False, True, True])
    labels = ["a", None, "c", None, "e"]
    st.write_chunk(sid, np.arange(5), p, o, okk, [None, None, "x", None, None], labels, 0.5)
    got = st.query("SELECT row_index, V_rest, t_ref, rate, cv_isi, status, error, label "
                   "FROM runs ORDER BY id")[1]  # fmt: skip
    assert got == [
        (0, 0.0, 5.0, 1.0, 2.0, "ok", None, "a"),
        (1, 6.0, 11.0, None, 3.0, "ok", None, None),
        (2, 12.0, 17.0, 4.0, 5.0, "failed", "x", "c"),
        (3, 18.0, 23.0, 6.0, None, "ok", None, None),
        (4, 24.0, 29.0, 7.0, 8.0, "ok", None, "e"),
    ]
    with pytest.raises(sqlite3.IntegrityError):
        st.write_chunk(sid, np.array([5, 6, 7, 8, 0]), p, o, okk, [None] * 5, [None] * 5, 0.5)
    assert st.query("SELECT COUNT(*) FROM runs")[1] == [(5,)]
    st.close()


# --- crash safety with adaptive chunks --------------------------------------------------------

_SWEEP = textwrap.dedent(
    """
    import sys
    import neuroscape.explore.sweep as sw
    from neuroscape.core.settings import SimSettings
    from neuroscape.core.stimuli import make_stimulus
    sw.CHUNK_TARGET_S = 0.1  # many chunks, so that a kill lands between two of them
    sw.run_sweep("lif", 3000, sys.argv[1], settings=SimSettings(duration_ms=1000.0, dt_ms=0.1,
                 window_ms=500.0), stimulus=make_stimulus("step", amp=2.0), progress=False)
    """
)


@pytest.mark.slow
def test_a_killed_adaptive_sweep_keeps_whole_chunks_and_resumes_to_the_same_numbers(tmp_path):
    db, ref = tmp_path / "k.db", tmp_path / "ref.db"
    cmd = [sys.executable, "-c", _SWEEP]
    proc = subprocess.Popen([*cmd, str(db)])
    rc = kill_after_runs(proc, db, 2 * sw.CHUNK_UNIT, timeout_s=300)
    assert rc == -signal.SIGKILL, "the sweep finished before it could be killed"

    def rows(path):
        con = sqlite3.connect(path)
        out = con.execute(
            "SELECT row_index, rate, cv_isi, status FROM runs ORDER BY row_index"
        ).fetchall()
        con.close()
        return out

    partial = rows(db)
    # chunks of whole units, stored in order: a prefix of the rows, a multiple of the unit
    assert [r[0] for r in partial] == list(range(len(partial)))
    assert len(partial) % sw.CHUNK_UNIT == 0 and 0 < len(partial) < 3000
    subprocess.run([*cmd, str(db)], check=True)
    subprocess.run([*cmd, str(ref)], check=True)
    resumed = rows(db)
    assert resumed[: len(partial)] == partial  # the stored rows were kept as they were
    assert resumed == rows(ref)  # every point once, bit for bit an uninterrupted sweep
