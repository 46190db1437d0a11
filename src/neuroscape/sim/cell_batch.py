"""A multi-compartment cell under one stimulus as a batch of the engine (``run_batch``), so
that sweeps, the model database, surrogates and fits take cells as they take point neurons.

Rows are parameter sets of one cell on one morphology; the cable engine
(``neuroscape.sim.cable_engine.run_cell``) runs them together. The outputs are a single
neuron's: the rate of the upward 0-mV crossings at ``soma(0.5)`` over the window, and the CV of
their intervals, with the behaviour class as the label.
"""

from __future__ import annotations

import numpy as np

from neuroscape.core.settings import ChunkResult, SettingsError, SimSettings
from neuroscape.core.stimuli import Stimulus, make_stimulus
from neuroscape.models.multicomp.model import CELL_SCHEMES, CellModel, check_location
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
        if settings.integrator not in CELL_SCHEMES:
            raise SettingsError(
                f"integrator={settings.integrator!r}; allowed for a multi-compartment cell: "
                f"{', '.join(CELL_SCHEMES)}"
            )
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

        if device != "cpu":
            raise SettingsError(f"device={device!r}: multi-compartment cells run on: cpu")
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
