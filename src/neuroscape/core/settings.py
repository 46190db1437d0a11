"""The contract between the engine and a batched model, and the simulation settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from neuroscape.core.spec import GENERIC_SETTINGS, ModelSpec


def default_window_ms(duration_ms: float) -> float:
    """The rate window (ms) when none is given: the run's last 2 s, or its last two thirds if
    the run is shorter than 3 s."""
    return min(2000.0, duration_ms * 2.0 / 3.0)


class SettingsError(ValueError):
    """Simulator settings (dt, duration, window, integrator, device) that cannot be used."""


class UnfinishedWarning(UserWarning):
    """Some rows of a batch did not reach their outcome (e.g. a decision) within the run."""


def _as_ms(name: str, value) -> float:
    """``value`` as a float number of ms, or a one-line SettingsError."""
    if isinstance(value, bool):
        raise SettingsError(f"{name}={value!r} must be a number of ms")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}={value!r} must be a number of ms") from None


@dataclass(frozen=True)
class SimSettings:
    """Simulator settings. Times in ms; rates are measured over the last ``window_ms``.

    ``SimSettings.for_model(spec, ...)`` fills what is not given from the model's declaration;
    a bare ``SimSettings()`` has the generic defaults of a declaration that states none.
    """

    duration_ms: float = GENERIC_SETTINGS.duration_ms
    dt_ms: float = GENERIC_SETTINGS.dt_ms
    window_ms: float = min(2000.0, GENERIC_SETTINGS.duration_ms * 2.0 / 3.0)  # default_window_ms
    integrator: str = GENERIC_SETTINGS.integrator

    def __post_init__(self) -> None:
        for name in ("duration_ms", "dt_ms", "window_ms"):
            object.__setattr__(self, name, _as_ms(name, getattr(self, name)))
        if not (np.isfinite(self.dt_ms) and self.dt_ms > 0):
            raise SettingsError(f"dt_ms={self.dt_ms} must be a positive number of ms")
        if not (np.isfinite(self.duration_ms) and self.duration_ms > 0):
            raise SettingsError(f"duration_ms={self.duration_ms} must be a positive number of ms")
        if self.dt_ms > self.duration_ms:
            raise SettingsError(f"dt_ms={self.dt_ms:g} must be <= duration_ms={self.duration_ms:g}")
        if not (np.isfinite(self.window_ms) and 0 < self.window_ms <= self.duration_ms):
            raise SettingsError(
                f"window_ms={self.window_ms} must be in (0, duration_ms={self.duration_ms:g}]"
            )
        if self.window_ms < self.dt_ms:
            raise SettingsError(
                f"window_ms={self.window_ms:g} is shorter than one step (dt_ms={self.dt_ms:g})"
            )
        if self.duration_ms / self.dt_ms > 2**31:
            raise SettingsError(
                f"duration_ms/dt_ms = {self.duration_ms / self.dt_ms:g} steps; allowed: <= 2^31"
            )
        if not (isinstance(self.integrator, str) and self.integrator):
            raise SettingsError(f"integrator={self.integrator!r} must be a scheme's name")

    @classmethod
    def for_model(
        cls,
        spec: ModelSpec,
        *,
        duration_ms: float | None = None,
        dt_ms: float | None = None,
        window_ms: float | None = None,
        integrator: str | None = None,
    ) -> SimSettings:
        """The settings of a run of ``spec``: what is given, the model's declared defaults
        (``spec.settings``) for what is None. The declared window belongs to the declared
        duration; a run of another duration without a window gets ``default_window_ms``."""
        d = spec.settings
        duration = d.duration_ms if duration_ms is None else _as_ms("duration_ms", duration_ms)
        if window_ms is None:
            same_run = d.window_ms is not None and duration == d.duration_ms
            window_ms = d.window_ms if same_run else default_window_ms(duration)
        return cls(
            duration,
            d.dt_ms if dt_ms is None else dt_ms,
            window_ms,
            d.integrator if integrator is None else integrator,
        )

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
    # (b,) bool: rows whose outcome the run was too short to reach (the engine warns once per
    # batch), and the label those rows carry
    unfinished: np.ndarray | None = None
    unfinished_label: str | None = None


class BatchModel(Protocol):
    """What the engine needs from a model: its declaration, its kind (neuron, network, cell,
    cell_network, function, theory: the engine sizes its chunks by it) and a batched run of a
    chunk."""

    spec: ModelSpec
    kind: str

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
