"""A multi-compartment cell under one stimulus as a batch of the engine (``run_batch``), so
that sweeps, the model database, surrogates and fits take cells as they take point neurons.

Rows are parameter sets of one cell on one morphology; the cable engine
(``neuroscape.sim.cable_engine.run_cell``) runs them together. The outputs are a single
neuron's: the rate of the upward 0-mV crossings at ``soma(0.5)`` over the window, and the CV of
their intervals, with the behaviour class as the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroscape.core.settings import ChunkResult, SettingsError, SimSettings
from neuroscape.core.stimuli import Stimulus, make_stimulus
from neuroscape.models.multicomp.model import CellModel, check_location, check_scheme
from neuroscape.models.neuron import classify_spikes


class CellBatch:
    """``model`` under ``stimulus`` (nA; one row for every point) injected at ``stim_at``."""

    kind = "cell"

    def __init__(
        self,
        model: CellModel,
        stimulus: Stimulus | None = None,
        stim_at: tuple[str, float] | None = None,
    ) -> None:
        self.model = model
        self.spec = model.spec
        self.stimulus = stimulus if stimulus is not None else make_stimulus("step", amp=0.0)
        self.stimulus.validate()
        if np.asarray(self.stimulus.values).shape[0] != 1:
            raise SettingsError("a batch of a cell takes one stimulus for every row")
        self.stim_at = stim_at if stim_at is not None else (model.cell.root, 0.5)
        check_location(model.cell, *self.stim_at)

    def integrator_for(self, device: str, integrator: str | None) -> str | None:
        return integrator or self.spec.settings.integrator

    def check_settings(self, settings: SimSettings) -> None:
        check_scheme(settings.integrator)
        self.stimulus.check(settings.duration_ms)

    def describe(self) -> dict:
        return {
            "model": self.spec.name,
            "model_version": self.spec.version,
            "stimulus": {
                "kind": self.stimulus.kind,
                "values": np.asarray(self.stimulus.values)[0].tolist(),
                "at": [self.stim_at[0], float(self.stim_at[1])],
            },
        }

    def run_chunk(self, params, keys, settings, device, recording) -> ChunkResult:
        import numba

        from neuroscape.sim.cable_engine import run_cell

        if recording.v_neurons and tuple(recording.v_neurons) != (0,):
            raise SettingsError(
                f"record_v={list(recording.v_neurons)}: a cell records soma(0.5) as neuron 0"
            )
        res = run_cell(
            self.model.cell,
            self.model.values(params),
            stimulus=self.stimulus,
            stim_at=self.stim_at,
            dt_ms=settings.dt_ms,
            duration_ms=settings.duration_ms,
            integrator=settings.integrator,
            keys=keys,
            device=device,
            workers=numba.get_num_threads(),  # what the engine set
            # without a recording, V at the start and the end only: NaN persists, so the last
            # sample tells a failed row
            record_every=1 if recording.v_neurons else settings.n_steps,
        )
        b = len(params)
        t_start = settings.duration_ms - settings.window_ms
        rates, cvs = np.empty(b), np.full(b, np.nan)
        labels: list[str | None] = [None] * b
        ok = np.all(np.isfinite(res.v[:, 0, :]), axis=1)
        errors: list[str | None] = [
            None if ok[r] else "the membrane potential became NaN or infinite" for r in range(b)
        ]
        for r, times in enumerate(res.spikes):
            n = int(np.count_nonzero(times >= t_start))
            rates[r] = n / (settings.window_ms * 1e-3)
            labels[r], cvs[r] = classify_spikes(times, t_start, settings.duration_ms)
        outputs = np.column_stack([rates, cvs])
        outputs[~ok] = np.nan
        spikes = None
        if recording.spikes:
            spikes = [(np.asarray(t, float), np.zeros(len(t), dtype=np.int64)) for t in res.spikes]
        voltages = res.v[:, :1, :] if recording.v_neurons else None
        return ChunkResult(outputs, ok, errors, labels=labels, spikes=spikes, voltages=voltages)


def cell_fi_curve(
    model: CellModel,
    values: dict[str, float] | None = None,
    currents=(),
    *,
    t_on_ms: float = 0.0,
    duration_ms: float | None = None,
    dt_ms: float | None = None,
    window_ms: float | None = None,
    integrator: str | None = None,
    stim_at: tuple[str, float] | None = None,
    min_late_spikes: int = 2,
    allow_outside: bool = False,
    workers: int | None = None,
):
    """The f-I curve of one parameter set of a cell: steps of ``currents`` (nA) into
    ``stim_at`` (default soma(0.5)) from ``t_on_ms``, all currents in one batched run; spikes at
    soma(0.5). Settings as in ``SimSettings.for_model`` (None: the cell's defaults)."""
    from neuroscape.sim.cable_engine import run_cell
    from neuroscape.sim.neuron_engine import check_fi_currents, fi_curve_from

    cur = check_fi_currents(currents, min_late_spikes)
    s = SimSettings.for_model(
        model.spec, duration_ms=duration_ms, dt_ms=dt_ms, window_ms=window_ms,
        integrator=integrator,
    )  # fmt: skip
    batch = CellBatch(model, make_stimulus("step", amp=float(cur[0]), t_on=t_on_ms), stim_at)
    batch.check_settings(s)
    params = model.spec.params_array(values or None, allow_outside=allow_outside)
    res = run_cell(
        model.cell,
        {k: np.repeat(v, len(cur)) for k, v in model.values(params).items()},
        stimulus=make_stimulus("step", amp=cur, t_on=t_on_ms),
        stim_at=batch.stim_at,
        dt_ms=s.dt_ms,
        duration_ms=s.duration_ms,
        integrator=s.integrator,
        workers=workers,
        record_every=s.n_steps,
    )
    ok = np.all(np.isfinite(res.v[:, 0, :]), axis=1)
    t_start = s.duration_ms - s.window_ms
    rates = np.array([np.count_nonzero(t >= t_start) for t in res.spikes]) / (s.window_ms * 1e-3)
    rates = np.where(ok, rates, np.nan)
    errors = [None if k else "the membrane potential became NaN or infinite" for k in ok]
    labels = [classify_spikes(t, t_start, s.duration_ms)[0] for t in res.spikes]
    return fi_curve_from(
        model.ref, model.current_unit, cur, res.spikes, rates, ok, errors, labels,
        t_on_ms=t_on_ms, duration_ms=s.duration_ms, window_ms=s.window_ms, dt_ms=s.dt_ms,
        integrator=s.integrator, min_late_spikes=min_late_spikes,
    )  # fmt: skip


@dataclass
class CellTraces:
    """What a fit reads of a batch of cell runs besides V (one row per parameter set)."""

    params: np.ndarray
    rates: np.ndarray  # Hz over the window
    spike_times: list[np.ndarray]  # ms, upward 0-mV crossings at soma(0.5)
    ok: np.ndarray
    errors: list[str | None]


def cell_traces(
    model: CellModel,
    params: np.ndarray,
    stimulus: Stimulus,
    *,
    duration_ms: float,
    dt_ms: float,
    record_every: int = 1,
    integrator: str | None = None,
    window_ms: float | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, CellTraces]:
    """V at soma(0.5) of B parameter sets (``params``: (B, n_params) or a mapping) under
    ``stimulus`` (nA, one row or B): (t (n,), V (B, n) mV from t = 0 every ``record_every``
    steps, what else the fit reads)."""
    from neuroscape.sim.cable_engine import run_cell

    p = model.spec.params_array(params, allow_outside=True)
    integ = integrator or model.spec.settings.integrator
    check_scheme(integ)
    res = run_cell(
        model.cell, model.values(p), stimulus=stimulus, dt_ms=dt_ms, duration_ms=duration_ms,
        integrator=integ, workers=workers, record_every=record_every,
    )  # fmt: skip
    v = res.v[:, 0, :]
    ok = np.all(np.isfinite(v), axis=1)
    window = duration_ms if window_ms is None else window_ms
    t_start = duration_ms - window
    rates = np.array([np.count_nonzero(t >= t_start) for t in res.spikes]) / (window * 1e-3)
    errors = [None if k else "the membrane potential became NaN or infinite" for k in ok]
    t = np.arange(v.shape[1]) * dt_ms * record_every
    return t, v, CellTraces(p, np.where(ok, rates, np.nan), list(res.spikes), ok, errors)
