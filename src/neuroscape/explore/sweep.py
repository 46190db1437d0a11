"""Sweeps: run the batched engine over a sample of a parameter space into the model database.

Local by default (the engine uses every core); on an existing Dask cluster when a scheduler
address is given. Either way results are written chunk by chunk, in the order they complete, by
this process alone; rerunning the same command resumes a killed sweep without redoing or
duplicating any finished point, and each point's noise comes from the stream (seed, row index) so
a resumed or distributed sweep gives exactly the numbers of an uninterrupted local one.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroscape.core.settings import SettingsError, SimSettings
from neuroscape.explore.space import ParameterSpace, SpaceError
from neuroscape.explore.store import ModelStore
from neuroscape.models import MODELS, NETWORK_MODELS, get_spec
from neuroscape.sim.engine import batch_for, run_batch


class SchedulerError(ValueError):
    """The Dask scheduler cannot be reached or used."""


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

    @property
    def all_failed(self) -> bool:
        """Every point run by this call failed (each is stored with status 'failed')."""
        return self.n_run > 0 and self.n_failed == self.n_run

    @property
    def runs_per_s(self) -> float:
        return self.n_run / self.wall_time_s if self.wall_time_s > 0 else float("nan")


def labels_for(model_name: str, outputs: np.ndarray, ok: np.ndarray) -> list[str | None]:
    """Derived labels per run (the circuit: inside or outside the output domain O)."""
    if model_name == "cortical":
        from neuroscape.models.cortical import in_output_domain

        ino = in_output_domain(outputs[:, 0], outputs[:, 1])
        return [("in_O" if i else "outside_O") if o else None for i, o in zip(ino, ok, strict=True)]
    return [None] * len(outputs)


def _remote_chunk(model_name, model_kwargs, params, rows, seed, settings):
    """Runs on a Dask worker: build the model there, simulate one chunk, return plain arrays."""
    model = batch_for(model_name, **model_kwargs)
    t0 = time.perf_counter()
    res = run_batch(model, params, seed=seed, settings=settings, rows=rows, allow_outside=True)
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


def run_sweep(
    model_name: str,
    n: int,
    db: str | Path,
    *,
    sampler: str = "sobol",
    space: ParameterSpace | None = None,
    sample_seed: int = 0,
    seed: int = 0,
    conn_seed: int = 0,
    connectivity: str | Path | None = None,
    settings: SimSettings | None = None,
    chunk: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress: bool = True,
    stimulus=None,
) -> SweepReport:
    """Simulate ``n`` sampled points of ``model_name`` into the database ``db`` (resumable).

    Everything is validated before the database is touched: a bad request leaves it unchanged.
    A point whose simulation fails is stored with status 'failed' and its error; the report
    counts them (``n_failed``, ``errors``, ``all_failed``). Ctrl-C keeps every stored chunk.
    """
    if model_name not in MODELS:
        raise SpaceError(f"unknown model {model_name!r}; allowed: {', '.join(MODELS)}")
    for name, value in (("sample_seed", sample_seed), ("seed", seed), ("conn_seed", conn_seed)):
        if not isinstance(value, int | np.integer) or value < 0:
            raise SettingsError(f"{name}={value!r}; allowed: an integer >= 0")
    if workers is not None:
        import numba

        limit = numba.config.NUMBA_NUM_THREADS
        if not isinstance(workers, int | np.integer) or not 1 <= workers <= limit:
            raise SettingsError(
                f"workers={workers!r}; allowed: 1..{limit} (this machine's threads)"
            )
    spec = get_spec(model_name)
    space = space or ParameterSpace(spec)
    if space.spec.name != spec.name:
        raise SpaceError(f"the space is over {space.spec.name!r} parameters, not {model_name!r}")
    settings = settings or SimSettings.for_model(spec)
    points = space.sample(n, sampler, sample_seed)
    # the space checked its fixed values and sub-boxes against the declaration; outside the
    # declared box now means allowed there (allow_outside) or asked for (scale)
    allow_outside = space.outside_declared_domain()
    spec.validate(points, allow_outside=allow_outside)
    if model_name in NETWORK_MODELS:
        model_kwargs = {"conn_seed": conn_seed, "connectivity": connectivity}
    else:
        model_kwargs = {"stimulus": stimulus}
    model = batch_for(model_name, **model_kwargs)
    model.check_settings(settings)
    if chunk is not None and chunk < 1:
        raise SettingsError(f"chunk={chunk}; allowed: >= 1")
    own_client = False
    if scheduler is not None and client is None:
        client = connect_scheduler(scheduler)
        own_client = True
    if client is not None and model_name in NETWORK_MODELS:
        # ship the graph itself, so that every worker runs exactly this one
        model_kwargs = {"connectivity": model.connectivity}
    desc = model.describe()
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
    t_start = time.perf_counter()
    store = ModelStore(db, spec, writer=True)
    try:
        sweep_id = store.open_sweep(identity, details)
        done = store.done_rows(sweep_id)
        todo = np.setdiff1d(np.arange(len(points)), done)
        chunk = chunk or 64
        chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
        bar = None
        if progress and len(todo):
            from tqdm.auto import tqdm

            bar = tqdm(
                total=len(points),
                initial=len(done),
                unit="run",
                desc=f"sweep {spec.name}",
                smoothing=0.1,
            )
        n_failed = 0
        error_counts: Counter[str] = Counter()

        def store_chunk(rows, outputs, ok, errors, wall, labels=None):
            nonlocal n_failed
            if labels is None:
                labels = labels_for(model_name, outputs, ok)
            store.write_chunk(
                sweep_id, rows, points[rows], outputs, ok, errors, labels, wall / len(rows)
            )
            n_failed += int((~ok).sum())
            error_counts.update(
                e or "unknown error" for e, o in zip(errors, ok, strict=True) if not o
            )
            if bar is not None:
                bar.update(len(rows))

        try:
            if client is None:
                for rows in chunks:
                    res = run_batch(
                        model,
                        points[rows],
                        seed=seed,
                        settings=settings,
                        rows=rows,
                        workers=workers,
                        allow_outside=allow_outside,
                    )
                    store_chunk(rows, res.outputs, res.ok, res.errors, res.wall_time_s, res.labels)
            else:
                from distributed import as_completed

                futures = [
                    client.submit(
                        _remote_chunk,
                        model_name,
                        model_kwargs,
                        points[rows],
                        rows,
                        seed,
                        settings,
                        pure=False,
                    )
                    for rows in chunks
                ]
                for fut in as_completed(futures):
                    store_chunk(*fut.result())
        finally:
            if bar is not None:
                bar.close()
    finally:
        store.close()
        if own_client:
            client.close()
    return SweepReport(
        Path(db),
        sweep_id,
        len(points),
        len(done),
        len(todo),
        n_failed,
        time.perf_counter() - t_start,
        dict(error_counts.most_common()),
    )
