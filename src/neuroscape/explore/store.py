"""The model database: one SQLite file, plain tables that any SQL client can query.

Tables
  meta(key, value)        schema_version, model, model_version, model_info (the declaration of
                          the model as ``Model.describe()`` gives it, JSON: ref, kind, spec,
                          source file with its sha256, units of the stimulus)
  sweeps(id, ...)         one row per sweep: its identity (space, sampler, n, sample seed), noise
                          seed, simulator settings, graph, stimulus (``extra``), the model's
                          declaration when it ran (``model_info``), versions, time
  runs(sweep_id, row_index, <parameters>, <outputs>, status, error, label, wall_time_s, ...)
                          one row per simulated point, parameters and outputs as named columns
                          (names that differ only in case, e.g. Izhikevich 2007's C and c, get
                          columns that spell their case: ``C__U`` and ``c``; ``ModelSpec.columns``)
  results (view)          runs joined with their sweep's settings: everything about a run

Every chunk of runs is written in one transaction (WAL journal), so a killed sweep loses at most
the chunk in flight and never leaves a partial chunk. ``UNIQUE(sweep_id, row_index)`` makes a
point impossible to store twice. A sweep holds an exclusive lock on ``<db>.lock`` while it
writes, and removes that file when it closes; a second sweep into the same file is refused,
readers are never blocked. Readers (``open_for_reading``) get a connection that refuses every
write (``PRAGMA query_only`` and an authorizer that allows only reading statements).

A reader builds the model's declaration from ``model_info``, so reading a database back needs
neither the registry nor the model's file; a writer refuses a model whose source file differs
(sha256) from the one the database was swept with. Databases of schema version 1 (no stored
declaration) still open: readers fall back to the registry by the stored model name, and the
first writer adds the column and the declaration.

Runs of sweeps with different settings (duration, step, window, integrator, graph, stimulus)
measure different maps: summaries group them by settings and exports carry the settings and the
stimulus of every run, so they are never pooled silently.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from neuroscape.core.spec import ModelSpec

SCHEMA_VERSION = 2  # 2: the model's declaration in meta and per sweep (model_info)
EXPORT_SUFFIXES = (".csv", ".parquet")
# the settings that change what a run measures: runs differing in one of them are not pooled
SETTINGS = ("duration_ms", "dt_ms", "window_ms", "integrator", "connectivity_sha256", "extra")
_SETTING_UNITS = {"duration_ms": "ms", "dt_ms": "ms", "window_ms": "ms"}
# the scheme of models that run their own protocol (``neuroscape.models.function.OWN_PROTOCOL``)
OWN_PROTOCOL_SCHEME = "own"


class StoreError(ValueError):
    """A database that cannot be used for this request (other model, newer schema, busy...)."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _uri(path: Path, mode: str) -> str:
    # quoted: a path with '?', '#' or '%' would otherwise be read as URI syntax
    return f"file:{quote(str(path.resolve()))}?mode={mode}"


def _connect_readonly(path: Path, authorizer=None) -> sqlite3.Connection:
    """A connection that cannot change the file. Not ``mode=ro``: a read-only connection to a
    WAL database creates ``-wal``/``-shm`` files that it cannot remove, leaving them behind."""
    con = sqlite3.connect(_uri(path, "rw"), uri=True, timeout=30.0, isolation_level=None)
    con.execute("PRAGMA query_only = ON")
    if authorizer is not None:
        con.set_authorizer(authorizer)
    return con


# --- what a read-only connection allows -------------------------------------------------------

_ACTIONS = {
    getattr(sqlite3, n): n[len("SQLITE_") :].replace("_", " ")
    for n in (
        "SQLITE_CREATE_INDEX SQLITE_CREATE_TABLE SQLITE_CREATE_TEMP_INDEX "
        "SQLITE_CREATE_TEMP_TABLE SQLITE_CREATE_TEMP_TRIGGER SQLITE_CREATE_TEMP_VIEW "
        "SQLITE_CREATE_TRIGGER SQLITE_CREATE_VIEW SQLITE_DELETE SQLITE_DROP_INDEX "
        "SQLITE_DROP_TABLE SQLITE_DROP_TEMP_INDEX SQLITE_DROP_TEMP_TABLE "
        "SQLITE_DROP_TEMP_TRIGGER SQLITE_DROP_TEMP_VIEW SQLITE_DROP_TRIGGER SQLITE_DROP_VIEW "
        "SQLITE_INSERT SQLITE_PRAGMA SQLITE_TRANSACTION SQLITE_UPDATE SQLITE_ATTACH "
        "SQLITE_DETACH SQLITE_ALTER_TABLE SQLITE_REINDEX SQLITE_ANALYZE "
        "SQLITE_CREATE_VTABLE SQLITE_DROP_VTABLE SQLITE_SAVEPOINT"
    ).split()
}
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
_READ_ACTIONS.add(getattr(sqlite3, "SQLITE_RECURSIVE", 33))
# pragmas that only describe the schema
_READ_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo"}


# --- the stimulus of single-neuron sweeps, in readable form -------------------------------------


def current_unit(model) -> str | None:
    """The current unit of a model's stimulus (a model object or name); None for models that
    take no stimulus."""
    from neuroscape.models import resolve

    m = resolve(model)
    return getattr(m, "current_unit", None) if "stimulus" in m.run_options else None


def stimulus_units(kind: str, current: str, v_unit: str = "mV") -> dict[str, str]:
    """The unit of each field of a stimulus kind, given the model's current unit and membrane
    potential unit (``neuroscape.core.stimuli.field_units``)."""
    from neuroscape.core.stimuli import field_units

    return field_units(kind, current, v_unit)


def stimulus_info(model) -> dict | None:
    """{"current": unit, "v": unit} of a model that takes a stimulus (stored with its
    declaration so that a reader can print the stimulus without the model); else None."""
    if "stimulus" not in model.run_options:
        return None
    cu = getattr(model, "current_unit", None)
    vu = getattr(model, "v_unit", None)
    return None if cu is None else {"current": str(cu), "v": str(vu or "mV")}


def model_info_of(model) -> dict:
    """What a database stores about ``model`` (a model object): ``model.describe()`` (ref, kind,
    spec, source) plus the units of its stimulus (``stimulus_info``)."""
    return {**model.describe(), "stimulus_units": stimulus_info(model)}


def stimulus_values(stim: dict | None) -> dict[str, float] | None:
    """{field: value} of a stored stimulus ({"kind", "values": rows}), first row."""
    if not stim:
        return None
    from neuroscape.core.stimuli import _FIELDS

    row = np.asarray(stim["values"], dtype=float).reshape(-1, 4)[0]
    return dict(zip(_FIELDS[stim["kind"]], map(float, row), strict=False))


def describe_stimulus(stim: dict | None, units: tuple[str, str] | None) -> str:
    """"step amp=10 nA, t_on=100 ms, t_off=inf ms" (a dimensionless current prints bare);
    ``units``: (current unit, membrane potential unit) of the model."""
    if not stim:
        return "none (no injected current)"
    if units is None:
        raise StoreError(f"a {stim['kind']} stimulus is stored, but the model declares no current")
    fields = stimulus_units(stim["kind"], *units)
    vals = stimulus_values(stim)
    text = ", ".join(
        f"{k}={v:g}" + ("" if fields[k] in ("1", "") else f" {fields[k]}") for k, v in vals.items()
    )
    rows = np.asarray(stim["values"]).reshape(-1, 4).shape[0]
    return f"{stim['kind']} {text}" + (f" (first of {rows} rows)" if rows > 1 else "")


def _canonical(value):
    """A stored JSON value and a fresh one compare equal when they say the same (tuples and
    lists, inf written by json)."""
    return json.loads(json.dumps(value, sort_keys=True)) if value is not None else None


def _describe_setting(name: str, value, units: tuple[str, str] | None) -> str:
    if name == "extra":
        stim = (value or {}).get("stimulus")
        return "stimulus " + describe_stimulus(stim, units)
    if name == "connectivity_sha256":
        return f"graph sha256 {str(value)[:12]}" if value else "no graph"
    if name == "seed":
        return f"noise seed {value}"
    if isinstance(value, float | int) and name in _SETTING_UNITS:
        return f"{name}={value:g} {_SETTING_UNITS[name]}"
    return f"{name}={value}"


def _read_meta(path: Path) -> dict[str, str]:
    """The meta table of an existing database, read without changing the file."""
    try:
        con = _connect_readonly(path)
        try:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a neuroscape database ({exc})") from None


def _stored_info(meta: dict[str, str]) -> dict | None:
    raw = meta.get("model_info")
    return json.loads(raw) if raw else None


class SweepLock:
    """The exclusive lock of a sweep on ``<db>.lock`` (flock), removed by ``release``. A sweep
    takes it before anything else, so that it can run its first chunk before the database is
    created or changed and still be the only writer."""

    def __init__(self, db: str | Path) -> None:
        path = Path(db)
        self.path = path.with_name(path.name + ".lock")
        self.db = path
        self._fd: int | None = None
        self._take()

    def _take(self) -> None:
        """The file is removed before it is unlocked, so a writer that opened it just before may
        lock a file no longer in place: it checks that the path still names the file it locked,
        and otherwise tries again."""
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StoreError(
                    f"another sweep is writing to {self.db}; wait for it to finish or use "
                    "another database file"
                ) from None
            try:
                in_place = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                in_place = False
            if in_place:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self._fd = fd
                return
            os.close(fd)
        raise StoreError(f"cannot take the lock {self.path}: it keeps being replaced")

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _chunk_rows(sweep_id, rows, params, outputs, ok, errors, labels, wall_per_run, version):
    """The INSERT tuples of one chunk, built column-wise: per-row Python work over 10^5 rows
    costs as much as the cheapest models' simulations (element-wise float() and isfinite()
    took about 15 us per row, half the run time of a 1-s LIF run on 2 cores)."""
    outputs = np.asarray(outputs, dtype=float)
    out_cols = outputs.T.astype(object)
    out_cols[~np.isfinite(outputs.T)] = None  # NaN and inf: NULL, as before
    ok = np.asarray(ok, dtype=bool)
    status = np.where(ok, "ok", "failed").tolist()
    n = len(ok)
    const = itertools.repeat
    return zip(
        const(int(sweep_id), n),
        np.asarray(rows, dtype=np.int64).tolist(),
        *np.asarray(params, dtype=float).T.tolist(),
        *out_cols.tolist(),
        status,
        errors,
        labels,
        const(float(wall_per_run), n),
        const(version, n),
        const(time.time(), n),
        strict=True,
    )


class ModelStore:
    """Open (or create) the database at ``path`` for runs of the model ``spec``.

    ``writer=True`` takes the sweep lock (see the module docstring), or adopts ``lock`` when
    given (a held ``SweepLock``, released by ``close``); ``readonly=True`` opens an existing
    database with a connection that refuses every write. ``model_info``: the declaration of the
    model (``Model.describe()``, plus ``stimulus_units``) that a writer stores, and that is
    checked against the stored one (a changed source file is refused); ``spec`` defaults to the
    declaration in it.
    """

    def __init__(
        self,
        path: str | Path,
        spec: ModelSpec | None = None,
        writer: bool = False,
        readonly: bool = False,
        *,
        model_info: dict | None = None,
        lock: SweepLock | None = None,
    ) -> None:
        self.path = Path(path)
        if spec is None:
            if model_info is None:
                raise StoreError("ModelStore needs the model's spec or its model_info")
            spec = ModelSpec.from_dict(model_info["spec"])
        self.spec = spec
        self.readonly = readonly
        self._new_info = model_info
        self._info_cache: dict | None = None
        self._lock: SweepLock | None = None
        self._refused: str | None = None
        self._refused_internal = False
        writer = writer or lock is not None
        if writer and readonly:
            raise StoreError("a store is either the sweep's writer or read-only, not both")
        if writer:  # every writer (a sweep, a fit's --db): names its tables can hold
            spec.check_storable()
        if self.path.is_dir():
            raise StoreError(f"database {str(self.path)!r} is a folder; expected a file")
        existed = self.path.exists()
        meta: dict[str, str] = {}
        if existed:
            meta = self._check_existing()
        elif readonly:
            raise StoreError(f"database {str(self.path)!r} does not exist")
        if writer:
            self._lock = lock if lock is not None else SweepLock(self.path)
        try:
            if readonly:
                self.con = _connect_readonly(self.path, self._authorize)
                return
            # a sweep writes its chunks from a writer thread (one at a time, never while this
            # thread uses the connection): SQLite's own serialized mode makes that safe
            self.con = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            if not existed or not self._has_tables():
                self._create()
            elif int(meta.get("schema_version", "1")) < SCHEMA_VERSION:
                self._upgrade()
        except BaseException:
            self._unlock()
            raise

    # ------------------------------------------------------------------ checks and schema
    def _authorize(self, action, arg1, arg2, dbname, source):
        """SQLite authorizer of read-only stores: reading statements only."""
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and arg1 in _READ_PRAGMAS:
            return sqlite3.SQLITE_OK
        what = _ACTIONS.get(action, f"action {action}")
        if action == sqlite3.SQLITE_PRAGMA:
            what += f" {arg1}" + (f"={arg2}" if arg2 is not None else "")
        elif action == sqlite3.SQLITE_ATTACH:
            what = f"ATTACH {arg1!r}" if arg1 else "VACUUM (or ATTACH)"
        elif action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            what = f"{arg1} (a transaction)"
        elif arg1:
            what += f" on {arg1}"
        # name the statement's own action (DROP TABLE on runs), not the schema edit behind it
        internal = arg1 in ("sqlite_master", "sqlite_temp_master", "sqlite_schema")
        if self._refused is None or (self._refused_internal and not internal):
            self._refused, self._refused_internal = what, internal
        return sqlite3.SQLITE_DENY

    def _check_existing(self) -> dict[str, str]:
        """Refuse a database of a newer schema, of another model, or (for a model loaded from a
        file) swept with another version of that file; the meta table otherwise."""
        meta = _read_meta(self.path)
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
        stored = _stored_info(meta)
        new = self._new_info
        if stored is not None and new is not None:
            old_src, new_src = stored.get("source"), new.get("source")
            if old_src and (not new_src or new_src.get("sha256") != old_src.get("sha256")):
                now = (
                    f"{new_src['file']} now has sha256 {new_src['sha256'][:12]}"
                    if new_src
                    else "this model is not loaded from a file"
                )
                raise StoreError(
                    f"the model file {old_src['file']} has changed since {self.path} was swept "
                    f"(sha256 {old_src['sha256'][:12]} then; {now}); restore the file or use "
                    "another database file"
                )
            old_spec = ModelSpec.from_dict(stored["spec"])
            for what, a, b in (
                ("parameters", old_spec.parameter_names, self.spec.parameter_names),
                ("outputs", old_spec.output_names, self.spec.output_names),
            ):
                if a != b:
                    raise StoreError(
                        f"{self.path} holds runs of {self.spec.name!r} with {what} "
                        f"{', '.join(a)}; this model declares {', '.join(b)}; use another "
                        "database file"
                    )
        return meta

    def _has_tables(self) -> bool:
        r = self.con.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone()
        return r is not None

    def _create(self) -> None:
        from neuroscape import __version__

        col = self.spec.columns
        pcols = ", ".join(f"{_q(col[n])} REAL NOT NULL" for n in self.spec.parameter_names)
        ocols = ", ".join(f"{_q(col[n])} REAL" for n in self.spec.output_names)
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
                neuroscape_version TEXT NOT NULL, created REAL NOT NULL,
                model_info TEXT
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
                       s.sampler, s.sample_seed, s.extra AS sweep_extra
                FROM runs r JOIN sweeps s ON s.id = r.sweep_id;
            INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
            INSERT INTO meta VALUES ('model', '{self.spec.name}');
            INSERT INTO meta VALUES ('created_by', 'neuroscape {__version__}');
            """
        )
        try:
            # bound, never pasted: a version is free text
            self.con.execute(
                "INSERT INTO meta VALUES ('model_version', ?)", (str(self.spec.version),)
            )
            self._store_info()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _store_info(self) -> None:
        """The declaration of the model in meta (inside the caller's transaction)."""
        if self._new_info is not None:
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('model_info', ?)",
                (json.dumps(self._new_info, sort_keys=True),),
            )
            self._info_cache = None

    def _upgrade(self) -> None:
        """Schema 1 -> 2: the model_info column of sweeps and the declaration in meta."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            cols = [r[1] for r in self.con.execute("PRAGMA table_info(sweeps)").fetchall()]
            if "model_info" not in cols:
                self.con.execute("ALTER TABLE sweeps ADD COLUMN model_info TEXT")
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._store_info()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        try:
            if getattr(self, "con", None) is not None:
                self.con.close()
                self.con = None
        finally:
            self._unlock()

    def __enter__(self) -> ModelStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ sweeps and runs
    def find_sweep(self, identity: dict, details: dict) -> int | None:
        """The id of the stored sweep with this identity (None if there is none), after checking
        that it ran with the same details (noise seed, settings, graph, stimulus). Only reads."""
        key = json.dumps(identity, sort_keys=True)
        row = self.con.execute(
            "SELECT id, seed, conn_seed, connectivity_sha256, duration_ms, dt_ms, window_ms, "
            "integrator, extra FROM sweeps WHERE identity = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
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
        checked = ("seed", *SETTINGS)
        differ = []
        for name in checked:
            new = details.get(name)
            if isinstance(new, float | int) and isinstance(stored[name], float | int):
                same = np.isclose(float(new), float(stored[name]), rtol=0, atol=1e-12)
            else:
                same = _canonical(new) == _canonical(stored[name])
            if not same:
                differ.append(name)
        if differ:
            units = self.stimulus_current_units()
            was = ", ".join(_describe_setting(n, stored[n], units) for n in differ)
            now = ", ".join(_describe_setting(n, details.get(n), units) for n in differ)
            raise StoreError(
                f"sweep {row[0]} in {self.path} ran with {was}; this command gives {now}. "
                "Resume with the same settings or use another database file"
            )
        return int(row[0])

    def open_sweep(self, identity: dict, details: dict) -> int:
        """The id of the sweep with this identity; creates it, or checks that a resumed one
        ran with the same details (see ``find_sweep``)."""
        from neuroscape import __version__

        found = self.find_sweep(identity, details)
        if found is not None:
            return found
        info = None if self._new_info is None else json.dumps(self._new_info, sort_keys=True)
        self.con.execute("BEGIN IMMEDIATE")
        try:
            cur = self.con.execute(
                "INSERT INTO sweeps (identity, model, model_version, space, sampler, n, "
                "sample_seed, seed, conn_seed, connectivity_sha256, duration_ms, dt_ms, "
                "window_ms, integrator, extra, neuroscape_version, created, model_info) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    json.dumps(identity, sort_keys=True),
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
                    info,
                ),
            )
            self._store_info()  # meta holds the declaration of the latest sweep
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)

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
        """Store one chunk of results in a single transaction (all of it or, if anything fails,
        none of it). Non-finite outputs are stored as NULL."""
        from neuroscape import __version__

        n = len(rows)
        for what, value in (
            ("params", len(params)), ("outputs", len(outputs)), ("ok", len(ok)),
            ("errors", len(errors)), ("labels", len(labels)),
        ):  # fmt: skip
            if value != n:  # zip would drop the surplus silently
                raise StoreError(f"write_chunk: {value} {what} for {n} rows")
        cols = [
            "sweep_id",
            "row_index",
            *self.spec.columns.values(),
            "status",
            "error",
            "label",
            "wall_time_s",
            "neuroscape_version",
            "finished",
        ]
        m = len(cols)
        head = f"INSERT INTO runs ({', '.join(_q(c) for c in cols)}) VALUES "
        one = f"({', '.join('?' * m)})"
        # many rows per INSERT statement, as many as SQLite binds in one: 2.2 against 3.1 us of
        # CPU per row for executemany's one statement step per row (16 columns, 10^5 rows,
        # benchmarks/sweep_throughput.py), which is 3-5% of a 1-s LIF run on 2 cores
        per = max(1, self.con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // m)
        flat = list(itertools.chain.from_iterable(_chunk_rows(
            sweep_id, rows, params, outputs, ok, errors, labels, wall_per_run, __version__
        )))  # fmt: skip
        self.con.execute("BEGIN IMMEDIATE")
        try:
            for lo in range(0, n, per):
                k = min(per, n - lo)
                self.con.execute(head + ", ".join(itertools.repeat(one, k)),
                                 flat[lo * m:(lo + k) * m])  # fmt: skip
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        """(column names, rows) of one SQL statement. A read-only store refuses writes."""
        if not sql.strip():
            raise StoreError("empty SQL; allowed: one SELECT or WITH statement")
        self._refused, self._refused_internal = None, False
        try:
            cur = self.con.execute(sql, params)
            rows = cur.fetchall()
        except sqlite3.Error as exc:
            if self._refused is not None:
                what = self._refused
                if self._refused_internal:  # SQLite asks for the schema edit first
                    what = " ".join(sql.split()[:2]).upper() + " (a change of the schema)"
                raise StoreError(
                    f"{self.path} is opened read-only: {what} is refused; allowed: "
                    "SELECT and WITH queries, PRAGMA table_info(TABLE)"
                ) from None
            raise StoreError(f"SQL error: {exc}") from None
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, rows

    def tables(self) -> list[str]:
        """The tables and views of the database (what ``export`` accepts)."""
        _, rows = self.query(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [r[0] for r in rows]

    def units(self) -> dict[str, str]:
        """The declared unit of every parameter and output column, by column name."""
        col = self.spec.columns
        return {
            **{col[p.name]: p.unit for p in self.spec.parameters},
            **{col[o.name]: o.unit for o in self.spec.outputs},
        }

    @property
    def model_info(self) -> dict | None:
        """The stored declaration of the model (``Model.describe()``: ref, kind, spec as
        ``ModelSpec.to_dict``, source {file, sha256, name}; plus ``stimulus_units``), or None for
        a database made before declarations were stored (or a new one not yet created)."""
        if self._info_cache is None:
            if getattr(self, "con", None) is None:
                return self._new_info
            try:
                row = self.con.execute(
                    "SELECT value FROM meta WHERE key = 'model_info'"
                ).fetchone()
            except sqlite3.Error:
                row = None
            self._info_cache = json.loads(row[0]) if row else {}
        return self._info_cache or None

    def stimulus_current_units(self) -> tuple[str, str] | None:
        """(current unit, membrane potential unit) of the model's stimulus; None when it takes
        none. From the stored declaration; a database made before that asks the registry for the
        model of its stored name."""
        info = self.model_info if self.model_info is not None else self._new_info
        if info is not None:
            su = info.get("stimulus_units")
            return None if not su else (su["current"], su.get("v", "mV"))
        from neuroscape.models import ModelError, resolve

        try:
            m = resolve(self.spec.name)
        except ModelError:
            return None
        if "stimulus" not in m.run_options or getattr(m, "current_unit", None) is None:
            return None
        return m.current_unit, getattr(m, "v_unit", "mV")

    def sweeps(self) -> list[dict]:
        """Every sweep with its settings, space, stimulus and run counts, in id order."""
        cols, rows = self.query(
            "SELECT s.id, s.model_version, s.space, s.sampler, s.n, s.sample_seed, s.seed, "
            "s.conn_seed, s.connectivity_sha256, s.duration_ms, s.dt_ms, s.window_ms, "
            "s.integrator, s.extra, COUNT(r.id) AS done, "
            "COALESCE(SUM(r.status = 'failed'), 0) AS failed "
            "FROM sweeps s LEFT JOIN runs r ON r.sweep_id = s.id GROUP BY s.id ORDER BY s.id"
        )
        from neuroscape.explore.space import ParameterSpace

        units = self.stimulus_current_units()
        out = []
        for row in rows:
            d = dict(zip(cols, row, strict=True))
            d["extra"] = json.loads(d["extra"]) if d["extra"] else None
            stim = (d["extra"] or {}).get("stimulus")
            d["stimulus"], d["stimulus_units"] = None, None
            if stim is not None:
                d["stimulus"] = {"kind": stim["kind"], **stimulus_values(stim)}
                d["stimulus_units"] = stimulus_units(stim["kind"], *(units or ("1", "1")))
            # models without a stimulus (networks, theory, function models) show none
            d["stimulus_text"] = describe_stimulus(stim, units) if units or stim else None
            try:
                d["space"] = ParameterSpace.from_json(self.spec, d["space"]).describe()
            except (ValueError, KeyError, TypeError):
                pass  # a space this version cannot read: shown as stored
            out.append(d)
        return out

    def groups(self, sweeps: list[dict] | None = None) -> list[dict]:
        """The sweeps grouped by the settings that change what a run measures (model version,
        duration, step, window, integrator, graph, stimulus), numbered from 1 in the order of
        their first sweep; run counts per group."""
        groups: dict[str, dict] = {}
        for sw in sweeps if sweeps is not None else self.sweeps():
            key = json.dumps([sw["model_version"], *(sw[k] for k in SETTINGS)], sort_keys=True)
            g = groups.setdefault(
                key,
                {
                    "group": len(groups) + 1,
                    "sweeps": [],
                    "settings": {
                        "model_version": sw["model_version"],
                        **{k: sw[k] for k in SETTINGS if k != "extra"},
                    },
                    "stimulus": sw["stimulus"],
                    "stimulus_units": sw["stimulus_units"],
                    "stimulus_text": sw["stimulus_text"],
                    "runs": 0,
                    "failed": 0,
                },
            )
            g["sweeps"].append(sw["id"])
            g["runs"] += sw["done"]
            g["failed"] += sw["failed"]
            sw["group"] = g["group"]
        return list(groups.values())

    @staticmethod
    def describe_group(g: dict) -> str:
        """One line: "group 2 (sweeps 3, 4): duration 600 ms, dt 0.1 ms, ..., stimulus ..."."""
        st = g["settings"]
        graph = st.get("connectivity_sha256")
        if st["integrator"] == OWN_PROTOCOL_SCHEME:
            # a function model: the stored times are placeholders, the function sets its own
            run = "the model's own protocol (its function sets duration and step)"
        else:
            run = (
                f"duration {st['duration_ms']:g} ms, dt {st['dt_ms']:g} ms, window "
                f"{st['window_ms']:g} ms, {st['integrator']}"
            )
        return (
            f"group {g['group']} (sweep{'s' if len(g['sweeps']) > 1 else ''} "
            f"{', '.join(map(str, g['sweeps']))}): {run}"
            + (f", graph sha256 {graph[:12]}" if graph else "")
            + (f", stimulus {g['stimulus_text']}" if g["stimulus_text"] else "")
        )

    def summary(self) -> dict:
        """Counts, and per group of sweeps with the same settings (see ``groups``): the sweeps,
        output ranges of the ok runs and labels. Runs of different settings measure different
        maps and are never pooled."""
        sweeps = self.sweeps()
        groups = {g["group"]: g for g in self.groups(sweeps)}
        for g in groups.values():
            where = f"sweep_id IN ({', '.join(str(int(i)) for i in g['sweeps'])})"
            g["outputs"] = {}
            for name in self.spec.output_names:
                lo, hi, mean, n = self.query(
                    f"SELECT MIN({_q(name)}), MAX({_q(name)}), AVG({_q(name)}), "
                    f"COUNT({_q(name)}) FROM runs WHERE status = 'ok' AND {where}"
                )[1][0]
                g["outputs"][name] = {"min": lo, "max": hi, "mean": mean, "n": n}
            g["labels"] = dict(
                self.query(
                    f"SELECT COALESCE(label, '(none)'), COUNT(*) FROM runs WHERE {where} "
                    "GROUP BY label ORDER BY COUNT(*) DESC"
                )[1]
            )
        keep = ("id", "group", "sampler", "n", "sample_seed", "seed", "conn_seed", "space")
        info = self.model_info or {}
        return {
            "model": self.spec.name,
            "kind": info.get("kind"),
            "source": info.get("source"),
            "units": self.units(),
            "runs": sum(sw["done"] for sw in sweeps),
            "failed": sum(sw["failed"] for sw in sweeps),
            "sweeps": [
                {**{k: sw[k] for k in keep}, "done": sw["done"], "failed": sw["failed"]}
                for sw in sweeps
            ],
            "groups": list(groups.values()),
        }

    def _results(self) -> tuple[list[str], list[tuple]]:
        """Every run with its sweep's settings and, for single neurons, its stimulus as
        columns (kind, then each parameter with its unit); built here rather than read from
        the ``results`` view so that databases made before the view had ``extra`` get them."""
        cols, rows = self.query(
            "SELECT r.*, s.model, s.model_version, s.seed, s.conn_seed, s.connectivity_sha256, "
            "s.duration_ms, s.dt_ms, s.window_ms, s.integrator, s.sampler, s.sample_seed, "
            "s.extra AS sweep_extra FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
            "ORDER BY r.sweep_id, r.row_index"
        )
        k = cols.index("sweep_extra")
        stims = {}
        for raw in {r[k] for r in rows}:
            extra = json.loads(raw) if raw else None
            stims[raw] = (extra or {}).get("stimulus")
        fields: dict[str, str] = {}
        units = self.stimulus_current_units() or ("1", "1")
        for stim in stims.values():
            if stim is not None:
                fields.update(stimulus_units(stim["kind"], *units))
        cols = cols[:k] + cols[k + 1 :]
        if not fields:
            return cols, [r[:k] + r[k + 1 :] for r in rows]
        cols += ["stimulus"] + [
            f"stimulus_{f}" if u in ("1", "") else f"stimulus_{f}_{u}" for f, u in fields.items()
        ]
        extra_cells = {}
        for raw, stim in stims.items():
            vals = stimulus_values(stim) or {}
            extra_cells[raw] = (stim["kind"] if stim else None, *(vals.get(f) for f in fields))
        return cols, [r[:k] + r[k + 1 :] + extra_cells[r[k]] for r in rows]

    def export(self, out: str | Path, table: str = "results") -> Path:
        """Write a table or view to CSV, or to Parquet when ``out`` ends in .parquet. The file
        appears whole or not at all (written beside it, then renamed). "results": every run with
        its sweep's settings and stimulus (see ``_results``)."""
        from neuroscape.io import atomic_file, write_csv_atomic

        out = Path(out)
        if out.suffix.lower() not in EXPORT_SUFFIXES:
            raise StoreError(
                f"export to {str(out)!r}: allowed suffixes {', '.join(EXPORT_SUFFIXES)}"
            )
        tables = self.tables()
        if table not in tables:
            raise StoreError(f"unknown table {table!r}; allowed: {', '.join(tables)}")
        if table == "results":
            cols, rows = self._results()
        else:
            cols, _ = self.query(f"SELECT * FROM {_q(table)} LIMIT 0")
            order = "sweep_id, row_index" if {"sweep_id", "row_index"} <= set(cols) else "1"
            cols, rows = self.query(f"SELECT * FROM {_q(table)} ORDER BY {order}")
        if out.suffix.lower() == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise StoreError(
                    "Parquet export needs pyarrow (pip install pyarrow); or export to .csv"
                ) from None
            columns = {c: [r[k] for r in rows] for k, c in enumerate(cols)}
            with atomic_file(out) as tmp:
                pq.write_table(pa.table(columns), tmp)
            return out
        return write_csv_atomic(out, cols, rows)


def open_for_reading(path: str | Path) -> ModelStore:
    """Open an existing database, whatever model it holds, with a connection that refuses
    every write (see ``ModelStore``). The model's declaration comes from the database itself
    (``ModelStore.model_info``); a database made before declarations were stored falls back to
    the registry by the stored model name."""
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"database {str(path)!r} is a folder; expected a file")
    if not path.is_file():
        raise StoreError(f"database {str(path)!r} does not exist")
    meta = _read_meta(path)
    if "model" not in meta:
        raise StoreError(f"{path}: not a neuroscape database (no model in its meta table)")
    info = _stored_info(meta)
    if info is not None:
        try:
            spec = ModelSpec.from_dict(info["spec"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{path}: its stored model declaration is unreadable ({exc})"
            ) from None
        return ModelStore(path, spec, readonly=True)
    from neuroscape.models import ModelError, get_spec

    try:
        spec = get_spec(meta["model"])
    except ModelError:
        raise StoreError(
            f"{path} holds runs of model {meta['model']!r}, which this neuroscape does not know "
            "(the database predates stored declarations: register the model first)"
        ) from None
    return ModelStore(path, spec, readonly=True)
