"""Theory models of seed 000 as models of the batched engine (simulate, sweep, database):
each row of a batch is one parameter set (and, for stochastic models, one trial with its own
noise stream (seed, row))."""

from __future__ import annotations

import importlib

import numpy as np

# model name -> module in this package
MODULES = {
    "wilson_cowan": "wilson_cowan",
    "wong_wang": "wong_wang",
    "ddm": "ddm",
    "brunel": "mean_field",
    "hopfield": "hopfield",
}
THEORY_MODELS = tuple(MODULES)
# default (duration_ms, dt_ms, window_ms) per model
DEFAULTS = {
    "wilson_cowan": (2000.0, 0.05, 1000.0),
    "wong_wang": (3000.0, 0.5, 3000.0),
    "ddm": (10_000.0, 1.0, 10_000.0),
    "brunel": (1000.0, 0.1, 800.0),
    "hopfield": (1.0, 1.0, 1.0),  # time does not enter: runs until no neuron flips
}


def module(name: str):
    return importlib.import_module(f"neuroscape.models.theory.{MODULES[name]}")


class TheoryBatch:
    """Adapter from a theory module to the engine's BatchModel protocol."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mod = module(name)
        self.spec = self.mod.SPEC

    def check_settings(self, settings) -> None:
        from neuroscape.sim.batch import SettingsError

        if settings.dt_ms <= 0 or settings.duration_ms <= 0:
            raise SettingsError("duration_ms and dt_ms must be positive")

    def describe(self) -> dict:
        return {"model": self.spec.name, "model_version": self.spec.version}

    def run_chunk(self, params, keys, settings, device, recording):
        from neuroscape.sim.batch import ChunkResult, SettingsError

        if device != "cpu":
            raise SettingsError(f"device={device!r}: theory models run on the CPU")
        p = np.ascontiguousarray(params, dtype=float)
        s = settings
        if self.name == "wilson_cowan":
            out = self.mod.simulate(p, s.duration_ms, s.window_ms, s.dt_ms)
            labels = ["oscillating" if a > 1e-4 else "steady" for a in out[:, 2]]
        elif self.name in ("wong_wang", "ddm"):
            out = self.mod.simulate_trials(p, keys, s.dt_ms, s.duration_ms)
            labels = ["undecided" if np.isnan(c) else f"choice {int(c)}" for c in out[:, 0]]
        elif self.name == "brunel":
            out = self.mod.simulate_network(p, keys, s.duration_ms, s.window_ms, s.dt_ms)
            labels = [None] * len(p)
        else:
            out = self.mod.simulate(
                p, (np.asarray(keys, np.uint64) >> np.uint64(32)).astype(np.int64)
            )
            labels = ["retrieved" if m > 0.9 else "not retrieved" for m in out[:, 0]]
        ok = np.ones(len(p), bool)
        if self.name in ("wilson_cowan", "brunel"):
            ok = np.isfinite(out[:, :2]).all(1)
        errors = [None if o else "non-finite output" for o in ok]
        return ChunkResult(out, ok, errors, labels=labels)
