"""Theory models as models of the batched engine (simulate, sweep, database): each row of a
batch is one parameter set (and, for stochastic models, one trial with its own noise stream
(seed, row)). Each model's run settings are declared with it (``SPEC.settings``)."""

from __future__ import annotations

import importlib

import numpy as np

from neuroscape.models.contract import Model

# model name -> module in this package
MODULES = {
    "wilson_cowan": "wilson_cowan",
    "wong_wang": "wong_wang",
    "ddm": "ddm",
    "brunel": "mean_field",
    "hopfield": "hopfield",
}
THEORY_MODELS = tuple(MODULES)
# models whose trials end with an outcome (a decision) that a run may be too short to reach
DECISION_MODELS = ("wong_wang", "ddm")


def module(name: str):
    return importlib.import_module(f"neuroscape.models.theory.{MODULES[name]}")


class TheoryBatch:
    """Adapter from a theory module to the engine's BatchModel protocol."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mod = module(name)
        self.spec = self.mod.SPEC

    def check_settings(self, settings) -> None:
        """Refuse settings this model cannot run (SimSettings has checked the generic ones)."""
        from neuroscape.core.settings import SettingsError

        s = settings
        for name in ("duration_ms", "dt_ms", "window_ms"):
            v = getattr(s, name)
            if not (np.isfinite(v) and v > 0):
                raise SettingsError(f"{name}={v} must be a positive number of ms")
        fixed = self.spec.settings.integrator
        if s.integrator != fixed:
            raise SettingsError(
                f"integrator={s.integrator!r}: {self.name} is integrated by its own kernel; "
                f"allowed: {fixed}"
            )
        if s.dt_ms > s.duration_ms:
            raise SettingsError(f"dt_ms={s.dt_ms:g} must be <= duration_ms={s.duration_ms:g}")
        if self.name == "wilson_cowan" and s.window_ms > s.duration_ms / 2:
            raise SettingsError(
                f"window_ms={s.window_ms:g} must be <= duration_ms/2 = {s.duration_ms / 2:g} "
                "for wilson_cowan (the window is compared with the one before it)"
            )
        if self.name == "brunel" and s.window_ms < 2.0:
            raise SettingsError(
                f"window_ms={s.window_ms:g} must be >= 2 ms for brunel (sync is measured on "
                "1-ms bins)"
            )

    def describe(self) -> dict:
        return {"model": self.spec.name, "model_version": self.spec.version}

    def run_chunk(self, params, keys, settings, device, recording):
        from neuroscape.core.settings import ChunkResult, SettingsError

        if device != "cpu":
            raise SettingsError(f"device={device!r}: theory models run on the CPU")
        p = np.ascontiguousarray(params, dtype=float)
        s = settings
        unfinished = None
        if self.name == "wilson_cowan":
            out = self.mod.simulate(p, s.duration_ms, s.window_ms, s.dt_ms)
            labels = ["oscillating" if a > 1e-4 else "steady" for a in out[:, 2]]
        elif self.name in DECISION_MODELS:
            out = self.mod.simulate_trials(p, keys, s.dt_ms, s.duration_ms)
            unfinished = np.isnan(out[:, 0])
            labels = [
                "undecided" if u else f"choice {int(c)}"
                for u, c in zip(unfinished, out[:, 0], strict=True)
            ]
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
        return ChunkResult(
            out,
            ok,
            errors,
            labels=labels,
            unfinished=unfinished,
            unfinished_label="undecided" if unfinished is not None else None,
        )


class TheoryModel(Model):
    """A theory model as a model object (its batch takes no options)."""

    kind = "theory"

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def spec(self):
        return module(self._name).SPEC

    def batch(self) -> TheoryBatch:
        return TheoryBatch(self._name)
