"""The contract between the engine and a batched model, and the simulation settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from neuroscape.models.base import ModelSpec


def default_window_ms(duration_ms: float) -> float:
    """The rate window (ms) when none is given: the run's last 2 s, or its last two thirds if
    the run is shorter than 3 s."""
    return min(2000.0, duration_ms * 2.0 / 3.0)


class SettingsError(ValueError):
    """Simulator settings (dt, duration, window, integrator, device) that cannot be used."""


@dataclass(frozen=True)
class SimSettings:
    """Simulator settings. Times in ms; rates are measured over the last ``window_ms``."""

    duration_ms: float = 3000.0
    dt_ms: float = 0.1
    window_ms: float = 2000.0
    integrator: str = "midpoint"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.dt_ms) and self.dt_ms > 0):
            raise SettingsError(f"dt_ms={self.dt_ms} must be a positive number of ms")
        if not (np.isfinite(self.duration_ms) and self.duration_ms > 0):
            raise SettingsError(f"duration_ms={self.duration_ms} must be a positive number of ms")
        if not (0 < self.window_ms <= self.duration_ms):
            raise SettingsError(
                f"window_ms={self.window_ms} must be in (0, duration_ms={self.duration_ms}]"
            )
        if self.duration_ms / self.dt_ms > 2**31:
            raise SettingsError(f"duration_ms/dt_ms = {self.duration_ms / self.dt_ms:g} steps")

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_ms / self.dt_ms))

    @property
    def rec_start(self) -> int:
        """First step counted in the rate window."""
        return self.n_steps - int(round(self.window_ms / self.dt_ms))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Recording:
    """What to record beyond the scalar outputs (keep B small when recording)."""

    spikes: bool = False
    v_neurons: tuple[int, ...] = ()


@dataclass
class ChunkResult:
    outputs: np.ndarray  # (b, n_outputs)
    ok: np.ndarray  # (b,) bool
    errors: list[str | None] = field(default_factory=list)
    spikes: list[tuple[np.ndarray, np.ndarray]] | None = None  # per row: (times_ms, neuron)
    voltages: np.ndarray | None = None  # (b, n_rec, n_steps)
    labels: list[str | None] | None = None  # derived class per row (e.g. behaviour), if any


class BatchModel(Protocol):
    """What the engine needs from a model: its declaration and a batched run of a chunk."""

    spec: ModelSpec

    def check_settings(self, settings: SimSettings) -> None: ...

    def describe(self) -> dict: ...

    def run_chunk(
        self,
        params: np.ndarray,
        keys: np.ndarray,
        settings: SimSettings,
        device: str,
        recording: Recording,
    ) -> ChunkResult: ...
