"""Sweeps: run the batched engine over a sample of a parameter space into the model database.

Local by default (the engine uses every core); on an existing Dask cluster when a scheduler
address is given. Either way results are written chunk by chunk, in the order they complete, by
this process alone; rerunning the same command resumes a killed sweep without redoing or
duplicating any finished point, and each point's noise comes from the stream (seed, row index) so
a resumed or distributed sweep gives exactly the numbers of an uninterrupted local one.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroscape.core.settings import SettingsError, SimSettings
from neuroscape.explore.space import ParameterSpace, SpaceError
from neuroscape.explore.store import ModelStore, StoreError, SweepLock, model_info_of
from neuroscape.models import Model, ModelError, resolve
from neuroscape.sim.engine import batch_for, chunk_rows, given_options, run_batch


class SchedulerError(ValueError):
    """The Dask scheduler cannot be reached or used."""


# Chunks: each one is simulated by one engine call and stored in one transaction, so a killed
# sweep loses at most the chunk in flight. With no chunk size given, a local sweep starts with
# CHUNK_UNIT rows (the engine's own chunk on up to 8 threads; this chunk runs before the
# database is touched) and then sizes every chunk to about CHUNK_TARGET_S of wall time from the
# rate measured so far, in whole units: a 1-s LIF run costs about 0.15 ms on 2 cores, so
# 64-row chunks paid a commit, an engine call and a progress update every 10 ms.
CHUNK_UNIT = 64
CHUNK_TARGET_S = 1.0
CHUNK_MAX = 64 * CHUNK_UNIT  # bounds a chunk's memory and the work a kill can lose


@dataclass
class SweepReport:
    db: Path
    sweep_id: int
    n_points: int
    n_done_before: int
    n_run: int
    n_failed: int
    wall_time_s: float
    # error message -> number of runs of this call that failed with it (most common first)
    errors: dict[str, int] = field(default_factory=dict)
    # where the wall time went (s): inside the engine (a local sweep: its calls of run_batch; on
    # a cluster: the workers' chunk times, summed), and writing to the database (a local sweep
    # writes a chunk while it simulates the next: the two overlap)
    simulation_s: float = 0.0
    storage_s: float = 0.0

    @property
    def all_failed(self) -> bool:
        """Every point run by this call failed (each is stored with status 'failed')."""
        return self.n_run > 0 and self.n_failed == self.n_run

    @property
    def runs_per_s(self) -> float:
        return self.n_run / self.wall_time_s if self.wall_time_s > 0 else float("nan")


def next_chunk(seconds_per_row: float) -> int:
    """Rows of the next chunk of a local sweep whose rows took ``seconds_per_row`` (s, wall
    time per row of the chunks so far, simulation and storage): about ``CHUNK_TARGET_S`` of
    work in whole ``CHUNK_UNIT``s, between one unit and ``CHUNK_MAX``."""
    return chunk_rows(seconds_per_row, CHUNK_UNIT, CHUNK_TARGET_S, CHUNK_MAX)


# --- the remote side: what runs in a Dask worker ----------------------------------------------

# models built in this worker process, per (handle, thread): a function model keeps its worker
# processes (and its simulator, loaded once per process) from one chunk to the next
_worker_models: dict[tuple, Model] = {}
_worker_lock = threading.Lock()


def _close_worker_models() -> None:
    for m in list(_worker_models.values()):
        close = getattr(m, "close", None)
        if close is not None:
            close()
    _worker_models.clear()


def _model_handle(model: Model) -> tuple:
    """How a worker finds ``model`` again: by its reference when another process can resolve
    it (a file, checked by its sha256, or an entry point), else the pickled object."""
    if model.source is not None:
        return ("ref", model.source.ref, model.source.sha256)
    from importlib.metadata import entry_points

    from neuroscape.models.registry import ENTRY_POINT_GROUP

    if model.ref in {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}:
        try:
            if resolve(model.ref) is model:
                return ("ref", model.ref, None)
        except ModelError:
            pass
    return ("object", model)


def _worker_model(handle: tuple) -> Model:
    # a file's model by its reference AND hash (an edited file is loaded again); a shipped
    # object by its pickled bytes (each task unpickles a new object: by id() every chunk would
    # start a new pool of worker processes)
    if handle[0] == "ref":
        ident = handle[:3]
    else:
        ident = ("object", hashlib.sha256(pickle.dumps(handle[1])).hexdigest())
    key = (ident, threading.get_ident())
    with _worker_lock:
        m = _worker_models.get(key)
    if m is not None:
        return m
    if handle[0] == "ref":
        m = resolve(handle[1])
        sha = handle[2]
        if sha is not None and (m.source is None or m.source.sha256 != sha):
            raise ModelError(
                f"the model file {handle[1]} differs on this worker from the one the sweep "
                f"started with (sha256 {sha[:12]})"
            )
    else:
        m = handle[1]
    with _worker_lock:
        _worker_models[key] = m
    return m


def _trust_structure(batch) -> None:
    """The function's returned structure has been checked already (at the first row of this
    sweep, or by the stored ok rows of a resumed one): from here on a wrong structure is a
    failed row, as it would have been in one uninterrupted local sweep, not an error."""
    trust = getattr(batch, "trust_structure", None)
    if trust is not None:
        trust()


def _remote_chunk(handle, options, params, rows, seed, settings, allow_outside, workers, trusted):
    """Runs on a Dask worker: find the model there, simulate one chunk, return plain arrays.

    trusted: the sweep has checked the function's returned structure at its first row already,
    so here a wrong structure is a failed row, not an error of the whole sweep."""
    model = _worker_model(handle)
    batch = batch_for(model, **options)
    if hasattr(batch, "set_workers"):  # rows in worker processes (closed at this one's exit)
        if trusted:
            _trust_structure(batch)
    else:
        workers = None  # numba threads: every core of the Dask worker, as on this machine
    t0 = time.perf_counter()
    res = run_batch(
        batch,
        params,
        seed=seed,
        settings=settings,
        rows=rows,
        allow_outside=allow_outside,
        workers=workers,
    )
    return rows, res.outputs, res.ok, res.errors, time.perf_counter() - t0, res.labels


def connect_scheduler(address: str, timeout_s: float = 10.0):
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerError(
            "--scheduler needs Dask's distributed package: pip install 'neuroscape[dask]'"
        ) from None
    try:
        return Client(address, timeout=f"{timeout_s}s")
    except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address
        raise SchedulerError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None


def _check_workers(batch, workers) -> None:
    if workers is None:
        return
    if hasattr(batch, "set_workers"):  # a function model: processes, any number
        if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
            raise SettingsError(f"workers={workers!r}; allowed: an integer >= 1 (processes)")
        return
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or not (
        1 <= workers <= limit
    ):
        raise SettingsError(f"workers={workers!r}; allowed: 1..{limit} (this machine's threads)")


def run_sweep(
    model: Model | str,
    n: int,
    db: str | Path,
    *,
    sampler: str = "sobol",
    space: ParameterSpace | None = None,
    sample_seed: int = 0,
    seed: int = 0,
    conn_seed: int | None = None,
    connectivity: str | Path | None = None,
    settings: SimSettings | None = None,
    chunk: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress: bool = True,
    stimulus=None,
) -> SweepReport:
    """Simulate ``n`` sampled points of ``model`` into the database ``db`` (resumable).

    model: a model object, a registered name or ``path/to/file.py:NAME``. conn_seed,
    connectivity, stimulus: batch options, given only to models that take them
    (``model.run_options``); None leaves the model's default. workers: threads of the numba
    engines (1..cores), or worker processes of a function model (>= 1). chunk: rows per engine
    call and per database transaction (a kill loses at most one chunk); None: on this machine
    ``CHUNK_UNIT`` rows first, then chunks of about ``CHUNK_TARGET_S`` seconds (``next_chunk``);
    on a Dask cluster ``CHUNK_UNIT`` rows each.

    Everything is validated, and the first chunk is run, before the database is touched: a bad
    request, or a function that returns the wrong structure at its first row, leaves it
    unchanged (or not created). A point whose simulation fails is stored with status 'failed'
    and its error; the report counts them (``n_failed``, ``errors``, ``all_failed``). Ctrl-C
    keeps every stored chunk. The database stores the model's declaration; resuming with a
    model file that has changed since is refused.
    """
    m = resolve(model)
    m.spec.check_storable()  # as the store will, but before the first chunk is simulated
    for name, value in (("sample_seed", sample_seed), ("seed", seed), ("conn_seed", conn_seed)):
        if value is None and name == "conn_seed":
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise SettingsError(f"{name}={value!r}; allowed: an integer >= 0")
    given = given_options(m, conn_seed=conn_seed, connectivity=connectivity, stimulus=stimulus)
    if m.source is not None and m.source.changed():
        raise ModelError(
            f"the model file {m.source.file} has changed since {m.ref} was loaded; load it again"
        )
    spec = m.spec
    space = space or ParameterSpace(spec)
    if space.spec.name != spec.name:
        raise SpaceError(f"the space is over {space.spec.name!r} parameters, not {spec.name!r}")
    settings = settings or SimSettings.for_model(spec)
    points = space.sample(n, sampler, sample_seed)
    # the space checked its fixed values and sub-boxes against the declaration; outside the
    # declared box now means allowed there (allow_outside) or asked for (scale)
    allow_outside = space.outside_declared_domain()
    spec.validate(points, allow_outside=allow_outside)
    batch = batch_for(m, **given)
    _check_workers(batch, workers)
    batch.check_settings(settings)
    if chunk is not None and (isinstance(chunk, bool) or chunk < 1):
        raise SettingsError(f"chunk={chunk}; allowed: >= 1")
    db = Path(db)
    if db.is_dir():
        raise StoreError(f"database {str(db)!r} is a folder; expected a file")
    desc = batch.describe()
    identity = {
        "model": spec.name,
        "model_version": spec.version,
        "space": space.to_json(),
        "sampler": sampler,
        "n": int(len(points)),
        "sample_seed": int(sample_seed),
    }
    details = {
        "seed": int(seed),
        "conn_seed": desc.get("conn_seed"),
        "connectivity_sha256": desc.get("connectivity_sha256"),
        "duration_ms": settings.duration_ms,
        "dt_ms": settings.dt_ms,
        "window_ms": settings.window_ms,
        "integrator": settings.integrator,
        # the drive of single neurons, so that a later reader (a fit) can check it
        "extra": None if stimulus is None else {"stimulus": stimulus.describe()},
    }
    info = model_info_of(m)
    if db.exists():  # refuse another model, a changed model file or other settings, read-only
        ModelStore(db, spec, readonly=True, model_info=info).close()
    own_client = False
    if scheduler is not None and client is None:
        client = connect_scheduler(scheduler)
        own_client = True
    options = dict(given)
    if client is not None and "connectivity" in m.run_options:
        # ship the graph itself, so that every worker runs exactly this one
        options = {"connectivity": batch.connectivity}
    t_start = time.perf_counter()
    lock = store = bar = writer = pending = None
    handle = None if client is None else _model_handle(m)
    try:
        lock = SweepLock(db)
        done = np.zeros(0, dtype=np.int64)
        checked = False  # the function's returned structure was checked by an earlier run
        if db.exists():  # again, now that no other sweep can write: where a resumed one stands
            with ModelStore(db, spec, readonly=True, model_info=info) as peek:
                found = peek.find_sweep(identity, details)
                if found is not None:
                    done = peek.done_rows(found)
                # the same model (a changed file is refused) returned good rows here before
                _, ok_rows = peek.query("SELECT COUNT(*) FROM runs WHERE status = 'ok'")
                checked = ok_rows[0][0] > 0
        if checked:
            _trust_structure(batch)
        todo = np.setdiff1d(np.arange(len(points)), done)
        adaptive = chunk is None and client is None
        first_size = chunk or CHUNK_UNIT
        n_failed = 0
        error_counts: Counter[str] = Counter()
        spent = {"simulation": 0.0, "storage": 0.0}

        def run_local(rows):
            t0 = time.perf_counter()
            res = run_batch(
                batch,
                points[rows],
                seed=seed,
                settings=settings,
                rows=rows,
                workers=workers,
                allow_outside=allow_outside,
            )
            spent["simulation"] += time.perf_counter() - t0
            return rows, res.outputs, res.ok, res.errors, res.wall_time_s, res.labels

        def submit(rows, trusted):
            return client.submit(
                _remote_chunk,
                handle,
                options,
                points[rows],
                rows,
                seed,
                settings,
                allow_outside,
                workers,
                trusted,
                pure=False,
            )

        def store_chunk(rows, outputs, ok, errors, wall, labels=None):
            nonlocal n_failed
            if labels is None:
                labels = [None] * len(rows)
            if client is not None:
                spent["simulation"] += wall
            t0 = time.perf_counter()
            store.write_chunk(
                sweep_id, rows, points[rows], outputs, ok, errors, labels, wall / len(rows)
            )
            spent["storage"] += time.perf_counter() - t0
            failed = np.flatnonzero(~np.asarray(ok, dtype=bool))
            n_failed += len(failed)
            error_counts.update(errors[k] or "unknown error" for k in failed)
            if bar is not None:  # once per chunk: a refresh per row costs as much as a run
                bar.update(len(rows))

        # the first chunk runs before the database is created or changed: a function that
        # returns the wrong structure at its first row is refused with nothing written
        first = None
        if len(todo):
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=len(points),
                    initial=len(done),
                    unit="run",
                    desc=f"sweep {spec.name}",
                    smoothing=0.1,
                )
            t_first = time.perf_counter()
            if client is None:
                first = run_local(todo[:first_size])
            else:
                first = submit(todo[:first_size], checked).result()
        store = ModelStore(db, spec, model_info=info, lock=lock)
        sweep_id = store.open_sweep(identity, details)
        pos = 0
        if first is not None:
            store_chunk(*first)
            pos = len(first[0])
            # the first chunk's rate, compilation included: it only ever errs on the small side
            per_row = (time.perf_counter() - t_first) / pos
        if client is None and pos < len(todo):
            # a chunk is stored by a writer thread while the next one is simulated (the numba
            # kernels run without the GIL): its transaction then costs no wall time as long as
            # a core has a moment free. One chunk is written at a time, in order, each as soon
            # as it is simulated, as without the thread; the next waits for the previous.
            writer = ThreadPoolExecutor(1, thread_name_prefix="neuroscape-sweep-writer")
            while pos < len(todo):
                size = next_chunk(per_row) if adaptive else chunk
                rows = todo[pos : pos + size]
                t0 = time.perf_counter()
                result = run_local(rows)
                if pending is not None:
                    pending.result()  # a failed write raises here
                pending = writer.submit(store_chunk, *result)
                per_row = (time.perf_counter() - t0) / len(rows)
                pos += len(rows)
            pending.result()
        elif pos < len(todo):
            from distributed import as_completed

            size = chunk or CHUNK_UNIT
            rest = [todo[i : i + size] for i in range(pos, len(todo), size)]
            for fut in as_completed([submit(rows, True) for rows in rest]):
                store_chunk(*fut.result())
    finally:
        if writer is not None:
            # an interrupted sweep still stores the chunk it has simulated (a failed write
            # has raised above already, unless another error is on its way)
            writer.shutdown(wait=True)
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
        if lock is not None:
            lock.release()
        if own_client:
            client.close()
    return SweepReport(
        db,
        sweep_id,
        len(points),
        len(done),
        len(todo),
        n_failed,
        time.perf_counter() - t_start,
        dict(error_counts.most_common()),
        spent["simulation"],
        spent["storage"],
    )
