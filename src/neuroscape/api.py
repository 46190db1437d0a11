"""The user-facing calls; the CLI only wraps these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models import Model
from neuroscape.sim.engine import SimulationResult, batch_for, run_batch


def simulate(
    model: Model | str = "cortical",
    params: np.ndarray | Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
    *,
    seed: int = 0,
    conn_seed: int | None = None,
    connectivity: str | Path | object | None = None,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    window_ms: float | None = None,
    integrator: str | None = None,
    stimulus: object | None = None,
    device: str = "cpu",
    workers: int | None = None,
    chunk_size: int | None = None,
    allow_outside: bool = False,
    record_spikes: bool = False,
    record_v: Sequence[int] = (),
    progress: bool | Callable[[int], None] = False,
) -> SimulationResult:
    """Simulate a batch of parameter sets of ``model`` (a model object, a registered name, or
    ``path/to/file.py:NAME``).

    params: a ``{name: value}`` dict (missing names take defaults), a list of such dicts, or a
        (B, n_params) array in the model's parameter order; None runs the defaults.
    seed: noise seed; row r uses the stream (seed, r). conn_seed: network models: seed of the
        random graph (None: 0), or ``connectivity``: a graph file (NPZ) or Connectivity.
    duration_ms, dt_ms, integrator: run length and time step (ms) and the scheme; None takes the
        model's declared defaults (``get_spec(model).settings``; ``neuroscape params MODEL``).
    window_ms: the final window over which rates are measured (ms); None: the model's default,
        else the last 2000 ms, or the last 2/3 of a shorter run.
    stimulus: single-neuron models: the injected current (``make_stimulus``), one for all rows;
        None: no current.
    device: "cpu" (numba, ``workers`` threads, default all; function models: ``workers``
        processes, default 1) or "cuda" (torch).
    record_spikes / record_v: also return spike trains / voltage traces of the given neurons.
    """
    from neuroscape.core.stimuli import Stimulus, StimulusError

    if stimulus is not None and not isinstance(stimulus, Stimulus):
        raise StimulusError(
            f"stimulus={stimulus!r}; allowed: a Stimulus from neuroscape.make_stimulus(kind, ...)"
        )
    m = batch_for(model, conn_seed=conn_seed, connectivity=connectivity, stimulus=stimulus)
    if hasattr(m, "integrator_for"):  # a CPU-only declared scheme gives way on a torch device
        integrator = m.integrator_for(device, integrator)
    settings = SimSettings.for_model(
        m.spec,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        window_ms=window_ms,
        integrator=integrator,
    )
    return run_batch(
        m,
        params,
        seed=seed,
        settings=settings,
        device=device,
        workers=workers,
        chunk_size=chunk_size,
        allow_outside=allow_outside,
        recording=Recording(spikes=record_spikes, v_neurons=tuple(int(i) for i in record_v)),
        progress=progress,
    )
