"""Sweeps into the model database: crash safety, resume, Dask, failures, refusals."""

import hashlib
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from neuroscape.core.settings import SimSettings
from neuroscape.explore import ModelStore, StoreError, run_sweep
from neuroscape.explore.sweep import SchedulerError
from neuroscape.models import get_spec
from neuroscape.sim.engine import batch_for
from neuroscape.sim.network_engine import NetworkBatch
from neuroscape.testing import kill_after_runs

SHORT = SimSettings(duration_ms=300.0, window_ms=200.0)


def _outputs(db, sweep_id=1):
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT row_index, r_E, r_I, status FROM runs WHERE sweep_id = ? ORDER BY row_index",
        (sweep_id,),
    ).fetchall()
    con.close()
    return rows


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.slow
def test_sigkill_midway_then_resume_gives_every_point_once_and_the_same_outputs(tmp_path):
    n, args = 64, ["--duration-ms", "1000", "--chunk", "2", "--seed", "5", "--quiet"]
    ref_db, db = tmp_path / "ref.db", tmp_path / "runs.db"
    run_sweep(
        "cortical",
        n,
        ref_db,
        chunk=64,
        seed=5,
        progress=False,
        settings=SimSettings(duration_ms=1000.0, window_ms=2000.0 / 3),
    )
    cmd = [
        sys.executable,
        "-m",
        "neuroscape.cli.main",
        "sweep",
        "cortical",
        "--n",
        str(n),
        "--db",
        str(db),
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
    )
    kill_after_runs(proc, db, 6, timeout_s=120)
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    partial = _outputs(db)
    assert 6 <= len(partial) < n and len(partial) % 2 == 0  # whole chunks only
    rep = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
    )
    assert rep.returncode == 0, rep.stderr
    assert f"{len(partial)} already done" in rep.stderr
    resumed, ref = _outputs(db), _outputs(ref_db)
    assert [r[0] for r in resumed] == list(range(n))  # every point exactly once
    assert resumed == ref  # outputs bitwise equal to the uninterrupted sweep


def test_rerun_is_a_no_op_and_a_new_n_is_a_new_sweep(tmp_path):
    db = tmp_path / "r.db"
    a = run_sweep("cortical", 8, db, settings=SHORT, progress=False)
    b = run_sweep("cortical", 8, db, settings=SHORT, progress=False)
    assert a.n_run == 8 and b.n_run == 0 and b.n_done_before == 8
    c = run_sweep("cortical", 4, db, settings=SHORT, progress=False)
    assert c.sweep_id == 2 and c.n_run == 4
    store = ModelStore(db, get_spec("cortical"))
    assert store.summary()["runs"] == 12
    cols, rows = store.query("SELECT COUNT(*) FROM results WHERE dt_ms = 0.1 AND seed = 0")
    assert rows[0][0] == 12
    store.close()


def test_failed_simulations_are_stored_with_their_error(tmp_path, monkeypatch):
    real = NetworkBatch.run_chunk
    calls = []

    def flaky(self, params, keys, settings, device, recording):
        calls.append(1)
        if len(calls) == 2:
            raise FloatingPointError("simulated blow-up")
        return real(self, params, keys, settings, device, recording)

    monkeypatch.setattr(NetworkBatch, "run_chunk", flaky)
    db = tmp_path / "f.db"
    rep = run_sweep("cortical", 8, db, chunk=2, settings=SHORT, progress=False)
    assert rep.n_failed == 2
    rows = _outputs(db)
    assert [r[3] for r in rows] == ["ok", "ok", "failed", "failed", "ok", "ok", "ok", "ok"]
    con = sqlite3.connect(db)
    assert con.execute("SELECT error FROM runs WHERE row_index = 2").fetchone()[0] == (
        "FloatingPointError: simulated blow-up"
    )


def test_dask_local_cluster_gives_the_local_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = tmp_path / "local.db"
    run_sweep("cortical", 12, local, chunk=3, settings=SHORT, seed=2, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = tmp_path / "dask.db"
        run_sweep(
            "cortical",
            12,
            remote,
            chunk=3,
            settings=SHORT,
            seed=2,
            progress=False,
            scheduler=cluster.scheduler_address,
        )
    assert _outputs(remote) == _outputs(local)


def test_unreachable_scheduler_leaves_no_database(tmp_path, monkeypatch):
    import neuroscape.explore.sweep as sweep_module

    # Dask retries a refused connection until its timeout (10 s by default); its length is not
    # what is tested here
    monkeypatch.setattr(sweep_module.connect_scheduler, "__defaults__", (1.0,))
    db = tmp_path / "x.db"
    with pytest.raises(SchedulerError, match="cannot reach the Dask scheduler"):
        run_sweep("cortical", 4, db, scheduler="tcp://127.0.0.1:9", settings=SHORT, progress=False)
    assert not db.exists()


def test_a_second_writer_is_refused(tmp_path):
    db = tmp_path / "l.db"
    holder = ModelStore(db, get_spec("cortical"), writer=True)
    try:
        with pytest.raises(StoreError, match="another sweep is writing"):
            run_sweep("cortical", 4, db, settings=SHORT, progress=False)
    finally:
        holder.close()
    assert run_sweep("cortical", 4, db, settings=SHORT, progress=False).n_run == 4


def test_resume_refuses_another_graph_or_settings(tmp_path):
    db = tmp_path / "g.db"
    run_sweep("cortical", 4, db, settings=SHORT, conn_seed=0, progress=False)
    with pytest.raises(StoreError, match="ran with graph sha256 [0-9a-f]{12}; this command gives "):
        run_sweep("cortical", 4, db, settings=SHORT, conn_seed=1, progress=False)
    # the same graph given as a file is the same graph: resuming is fine
    graph = batch_for("cortical", conn_seed=0).connectivity.save(tmp_path / "g0.npz")
    assert (
        run_sweep(
            "cortical", 4, db, settings=SHORT, connectivity=graph, progress=False
        ).n_done_before
        == 4
    )
    with pytest.raises(StoreError, match="ran with dt_ms=0.1 ms; this command gives dt_ms=0.05 ms"):
        run_sweep("cortical", 4, db, settings=SimSettings(300.0, 0.05, 200.0), progress=False)
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 1


def test_other_model_or_newer_schema_is_refused_unchanged(tmp_path):
    db = tmp_path / "s.db"
    run_sweep("cortical", 2, db, settings=SHORT, progress=False)
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    before = _digest(db)
    with pytest.raises(StoreError, match="schema version 99, newer"):
        run_sweep("cortical", 2, db, settings=SHORT, progress=False)
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = 'hh' WHERE key = 'model'")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    before = _digest(db)
    with pytest.raises(StoreError, match="holds runs of model 'hh', not 'cortical'"):
        run_sweep("cortical", 2, db, settings=SHORT, progress=False)
    assert _digest(db) == before


def test_exports_csv_and_parquet(tmp_path):
    db = tmp_path / "e.db"
    run_sweep("cortical", 4, db, settings=SHORT, progress=False)
    store = ModelStore(db, get_spec("cortical"))
    csv_path = store.export(tmp_path / "r.csv")
    lines = open(csv_path).read().splitlines()
    assert len(lines) == 5 and "r_E" in lines[0] and "connectivity_sha256" in lines[0]
    pq = pytest.importorskip("pyarrow.parquet")
    t = pq.read_table(store.export(tmp_path / "r.parquet"))
    assert t.num_rows == 4 and np.allclose(sorted(t.column("row_index").to_pylist()), range(4))
    store.close()
