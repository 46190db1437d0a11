"""The model database: one SQLite file, plain tables that any SQL client can query.

Tables
  meta(key, value)        schema_version, model, model_version
  sweeps(id, ...)         one row per sweep: its identity (space, sampler, n, sample seed), noise
                          seed, simulator settings, graph, versions, creation time
  runs(sweep_id, row_index, <parameters>, <outputs>, status, error, label, wall_time_s, ...)
                          one row per simulated point, parameters and outputs as named columns
  results (view)          runs joined with their sweep's settings: everything about a run

Every chunk of runs is written in one transaction (WAL journal), so a killed sweep loses at most
the chunk in flight and never leaves a partial chunk. ``UNIQUE(sweep_id, row_index)`` makes a
point impossible to store twice. A sweep holds an exclusive lock file next to the database while it
writes; a second sweep into the same file is refused, readers are never blocked.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from neuroscape.models.base import ModelSpec

SCHEMA_VERSION = 1


class StoreError(ValueError):
    """A database that cannot be used for this request (other model, newer schema, busy...)."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ModelStore:
    """Open (or create) the database at ``path`` for runs of the model ``spec``.

    ``writer=True`` takes the sweep lock (see the module docstring).
    """

    def __init__(self, path: str | Path, spec: ModelSpec, writer: bool = False) -> None:
        self.path = Path(path)
        self.spec = spec
        self._lock_fh = None
        existed = self.path.exists()
        if existed:
            self._check_existing()
        if writer:
            self._lock()
        self.con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        if not existed or not self._has_tables():
            self._create()

    # ------------------------------------------------------------------ checks and schema
    def _check_existing(self) -> None:
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
            try:
                meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a neuroscape database ({exc})") from None
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this neuroscape's "
                f"{SCHEMA_VERSION}; upgrade neuroscape to write to it"
            )
        if meta.get("model") != self.spec.name:
            raise StoreError(
                f"{self.path} holds runs of model {meta.get('model')!r}, not {self.spec.name!r}; "
                "use another database file"
            )

    def _has_tables(self) -> bool:
        r = self.con.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone()
        return r is not None

    def _create(self) -> None:
        from neuroscape import __version__

        pcols = ", ".join(f"{_q(n)} REAL NOT NULL" for n in self.spec.parameter_names)
        ocols = ", ".join(f"{_q(n)} REAL" for n in self.spec.output_names)
        self.con.executescript(
            f"""
            BEGIN;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE sweeps (
                id INTEGER PRIMARY KEY,
                identity TEXT NOT NULL UNIQUE,
                model TEXT NOT NULL, model_version TEXT NOT NULL,
                space TEXT NOT NULL, sampler TEXT NOT NULL, n INTEGER NOT NULL,
                sample_seed INTEGER NOT NULL, seed INTEGER NOT NULL,
                conn_seed INTEGER, connectivity_sha256 TEXT,
                duration_ms REAL NOT NULL, dt_ms REAL NOT NULL, window_ms REAL NOT NULL,
                integrator TEXT NOT NULL, extra TEXT,
                neuroscape_version TEXT NOT NULL, created REAL NOT NULL
            );
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY,
                sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
                row_index INTEGER NOT NULL,
                {pcols},
                {ocols},
                status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
                error TEXT,
                label TEXT,
                wall_time_s REAL NOT NULL,
                neuroscape_version TEXT NOT NULL,
                finished REAL NOT NULL,
                UNIQUE (sweep_id, row_index)
            );
            CREATE VIEW results AS
                SELECT r.*, s.model, s.model_version, s.seed, s.conn_seed,
                       s.connectivity_sha256, s.duration_ms, s.dt_ms, s.window_ms, s.integrator,
                       s.sampler, s.sample_seed
                FROM runs r JOIN sweeps s ON s.id = r.sweep_id;
            INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
            INSERT INTO meta VALUES ('model', '{self.spec.name}');
            INSERT INTO meta VALUES ('model_version', '{self.spec.version}');
            INSERT INTO meta VALUES ('created_by', 'neuroscape {__version__}');
            COMMIT;
            """
        )

    def _lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the life of the store
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise StoreError(
                f"another sweep is writing to {self.path}; wait for it to finish or use "
                "another database file"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh

    def close(self) -> None:
        self.con.close()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> ModelStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ sweeps and runs
    def open_sweep(self, identity: dict, details: dict) -> int:
        """The id of the sweep with this identity; creates it, or checks that a resumed one
        ran with the same details (noise seed, settings, graph)."""
        from neuroscape import __version__

        key = json.dumps(identity, sort_keys=True)
        row = self.con.execute(
            "SELECT id, seed, conn_seed, connectivity_sha256, duration_ms, dt_ms, window_ms, "
            "integrator, extra FROM sweeps WHERE identity = ?",
            (key,),
        ).fetchone()
        if row is None:
            cur = self.con.execute(
                "INSERT INTO sweeps (identity, model, model_version, space, sampler, n, "
                "sample_seed, seed, conn_seed, connectivity_sha256, duration_ms, dt_ms, "
                "window_ms, integrator, extra, neuroscape_version, created) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    self.spec.name,
                    self.spec.version,
                    identity["space"],
                    identity["sampler"],
                    identity["n"],
                    identity["sample_seed"],
                    details["seed"],
                    details.get("conn_seed"),
                    details.get("connectivity_sha256"),
                    details["duration_ms"],
                    details["dt_ms"],
                    details["window_ms"],
                    details["integrator"],
                    json.dumps(details.get("extra"), sort_keys=True),
                    __version__,
                    time.time(),
                ),
            )
            return int(cur.lastrowid)
        names = (
            "seed",
            "conn_seed",
            "connectivity_sha256",
            "duration_ms",
            "dt_ms",
            "window_ms",
            "integrator",
            "extra",
        )
        stored = dict(zip(names, row[1:], strict=True))
        stored["extra"] = json.loads(stored["extra"]) if stored["extra"] else None
        # the graph is compared by content; how it was given (seed or file) does not matter
        checked = (
            "connectivity_sha256",
            "seed",
            "duration_ms",
            "dt_ms",
            "window_ms",
            "integrator",
            "extra",
        )
        for name in checked:
            new = details.get(name)
            if isinstance(new, float | int) and isinstance(stored[name], float | int):
                same = np.isclose(float(new), float(stored[name]), rtol=0, atol=1e-12)
            else:
                same = new == stored[name]
            if not same:
                what = "graph" if name == "connectivity_sha256" else name
                raise StoreError(
                    f"sweep {row[0]} in {self.path} ran with {what}={stored[name]!r}; this "
                    f"command gives {new!r}. Resume with the same settings or use another "
                    "database file"
                )
        return int(row[0])

    def done_rows(self, sweep_id: int) -> np.ndarray:
        r = self.con.execute("SELECT row_index FROM runs WHERE sweep_id = ?", (sweep_id,))
        return np.array([x[0] for x in r.fetchall()], dtype=np.int64)

    def write_chunk(
        self,
        sweep_id: int,
        rows: np.ndarray,
        params: np.ndarray,
        outputs: np.ndarray,
        ok: np.ndarray,
        errors: list[str | None],
        labels: list[str | None],
        wall_per_run: float,
    ) -> None:
        """Store one chunk of results in a single transaction."""
        from neuroscape import __version__

        cols = [
            "sweep_id",
            "row_index",
            *self.spec.parameter_names,
            *self.spec.output_names,
            "status",
            "error",
            "label",
            "wall_time_s",
            "neuroscape_version",
            "finished",
        ]
        sql = (
            f"INSERT INTO runs ({', '.join(_q(c) for c in cols)}) VALUES "
            f"({', '.join('?' * len(cols))})"
        )
        now = time.time()
        data = []
        for k, r in enumerate(rows):
            out = [None if not np.isfinite(x) else float(x) for x in outputs[k]]
            data.append(
                (
                    sweep_id,
                    int(r),
                    *map(float, params[k]),
                    *out,
                    "ok" if ok[k] else "failed",
                    errors[k],
                    labels[k],
                    wall_per_run,
                    __version__,
                    now,
                )
            )
        self.con.execute("BEGIN IMMEDIATE")
        try:
            self.con.executemany(sql, data)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, params)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()

    def summary(self) -> dict:
        total, failed = self.con.execute(
            "SELECT COUNT(*), SUM(status = 'failed') FROM runs"
        ).fetchone()
        ranges = {}
        for name in self.spec.output_names:
            lo, hi, mean = self.con.execute(
                f"SELECT MIN({_q(name)}), MAX({_q(name)}), AVG({_q(name)}) FROM runs "
                "WHERE status = 'ok'"
            ).fetchone()
            ranges[name] = {"min": lo, "max": hi, "mean": mean}
        labels = dict(
            self.con.execute(
                "SELECT COALESCE(label, '(none)'), COUNT(*) FROM runs GROUP BY label"
            ).fetchall()
        )
        sweeps = [
            dict(zip(("id", "sampler", "n", "done"), r, strict=True))
            for r in self.con.execute(
                "SELECT s.id, s.sampler, s.n, COUNT(r.id) FROM sweeps s LEFT JOIN runs r "
                "ON r.sweep_id = s.id GROUP BY s.id"
            ).fetchall()
        ]
        return {
            "model": self.spec.name,
            "sweeps": sweeps,
            "runs": total,
            "failed": int(failed or 0),
            "labels": labels,
            "outputs": ranges,
        }

    def export(self, out: str | Path, table: str = "results") -> Path:
        """Write a table or view to CSV, or to Parquet when ``out`` ends in .parquet."""
        out = Path(out)
        cols, rows = self.query(f"SELECT * FROM {_q(table)} ORDER BY sweep_id, row_index")
        if out.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            columns = {c: [r[k] for r in rows] for k, c in enumerate(cols)}
            pq.write_table(pa.table(columns), out)
            return out
        tmp = out.with_name(f".{out.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            w.writerows(rows)
        os.replace(tmp, out)
        return out


def open_for_reading(path: str | Path) -> ModelStore:
    """Open an existing database, whatever model it holds."""
    from neuroscape.models import get_spec

    path = Path(path)
    if not path.is_file():
        raise StoreError(f"database {str(path)!r} does not exist")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            model = dict(con.execute("SELECT key, value FROM meta").fetchall())["model"]
        finally:
            con.close()
    except (sqlite3.DatabaseError, KeyError) as exc:
        raise StoreError(f"{path}: not a neuroscape database ({exc})") from None
    return ModelStore(path, get_spec(model))
