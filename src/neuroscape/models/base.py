"""Declarative model descriptions: a model is its parameters (names, units, defaults, bounds).

Everything else (the engine, the CLI, later the samplers and the database) reads these
declarations, so a parameter is named and bounded in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np


class ParameterError(ValueError):
    """A parameter name or value that the model does not accept."""


@dataclass(frozen=True)
class Parameter:
    """One free parameter of a model.

    ``low``/``high`` are the model's declared domain (for the circuit, the paper's physiological
    box); values outside it are refused unless the caller explicitly allows them.
    """

    name: str
    default: float
    low: float
    high: float
    unit: str = "1"
    description: str = ""
    # Hard limits that no simulation may cross even when "outside" values are allowed
    # (e.g. a rate cannot be negative).
    hard_low: float = -np.inf
    hard_high: float = np.inf

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"parameter {self.name}: low={self.low} must be < high={self.high}")
        if not self.low <= self.default <= self.high:
            raise ValueError(f"parameter {self.name}: default {self.default} outside bounds")

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "unit": self.unit,
            "description": self.description,
        }


@dataclass(frozen=True)
class Output:
    """One scalar output of a model (e.g. a population firing rate)."""

    name: str
    unit: str
    description: str = ""


@dataclass(frozen=True)
class DefaultSettings:
    """A model's own run settings, declared once with the model (times in ms).

    Every caller (the API, the CLI, sweeps, the neuron engine) takes a setting it is not given
    from here, so a model runs the same way whichever way it is run.
    window_ms: the final window over which rates are measured; None: the engine's rule
    (``neuroscape.sim.batch.default_window_ms``). A declared window applies to a run of the
    declared duration; a run of another duration gets the engine's rule unless given a window.
    integrator: the scheme the model is integrated with (for models with a fixed scheme: the
    scheme their kernel implements). note: one line on why (shown by ``params``).
    """

    duration_ms: float
    dt_ms: float
    window_ms: float | None = None
    integrator: str = "midpoint"
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("duration_ms", "dt_ms"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"DefaultSettings: {name}={v} must be a positive number of ms")
        w = self.window_ms
        if w is not None and not (np.isfinite(w) and 0 < w <= self.duration_ms):
            raise ValueError(
                f"DefaultSettings: window_ms={w} must be in (0, duration_ms={self.duration_ms}]"
            )

    def as_dict(self) -> dict:
        return asdict(self)


# What a declaration that does not state its settings gets (the engine's historic defaults);
# every registered model states its own.
GENERIC_SETTINGS = DefaultSettings(3000.0, 0.1, None, "midpoint", "generic defaults")


@dataclass(frozen=True)
class ModelSpec:
    """The declaration of a model: its parameters in order, its outputs and fixed constants."""

    name: str
    version: str
    description: str
    parameters: tuple[Parameter, ...]
    outputs: tuple[Output, ...]
    constants: Mapping[str, float] = field(default_factory=dict)
    settings: DefaultSettings = GENERIC_SETTINGS

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    @property
    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.parameters}

    @property
    def bounds(self) -> np.ndarray:
        """(n_params, 2) array of [low, high] in declaration order."""
        return np.array([[p.low, p.high] for p in self.parameters], dtype=float)

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise ParameterError(
            f"unknown parameter {name!r} for model {self.name!r}; "
            f"allowed: {', '.join(self.parameter_names)}"
        )

    def params_from_mapping(self, values: Mapping[str, float]) -> np.ndarray:
        """A full parameter vector from a partial ``{name: value}``; missing names take defaults."""
        vec = np.array([p.default for p in self.parameters], dtype=float)
        for name, value in values.items():
            p = self.parameter(name)
            vec[self.parameter_names.index(p.name)] = float(value)
        return vec

    def params_array(self, params=None, allow_outside: bool = False) -> np.ndarray:
        """A validated (B, n_params) array from None (the defaults), a ``{name: value}`` dict
        (missing names take defaults), a list of such dicts, or an array in declared order."""
        if params is None:
            params = self.defaults
        if isinstance(params, Mapping):
            arr = self.params_from_mapping(params)[None, :]
        elif isinstance(params, Sequence) and params and isinstance(params[0], Mapping):
            arr = np.stack([self.params_from_mapping(p) for p in params])
        else:
            arr = np.asarray(params, dtype=float)
        return self.validate(arr, allow_outside=allow_outside)

    def validate(self, params: np.ndarray, allow_outside: bool = False) -> np.ndarray:
        """Check a (B, n_params) array; raise ParameterError naming the first bad value."""
        arr = np.asarray(params, dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != len(self.parameters):
            raise ParameterError(
                f"model {self.name!r} takes {len(self.parameters)} parameters "
                f"({', '.join(self.parameter_names)}); got an array of shape {arr.shape}"
            )
        for j, p in enumerate(self.parameters):
            col = arr[:, j]
            bad = ~np.isfinite(col)
            if bad.any():
                i = int(np.argmax(bad))
                raise ParameterError(f"row {i}: {p.name}={col[i]} is not a finite number")
            lo, hi = (p.hard_low, p.hard_high) if allow_outside else (p.low, p.high)
            out = (col < lo) | (col > hi)
            if out.any():
                i = int(np.argmax(out))
                hint = "" if allow_outside else " (use allow_outside / --allow-outside to override)"
                raise ParameterError(
                    f"row {i}: {p.name}={col[i]:g} is outside the allowed range "
                    f"[{lo:g}, {hi:g}] {p.unit}{hint}"
                )
        return arr

    def to_dict(self) -> dict:
        return {
            "model": self.name,
            "version": self.version,
            "parameters": [p.as_dict() for p in self.parameters],
            "outputs": [{"name": o.name, "unit": o.unit} for o in self.outputs],
            "settings": self.settings.as_dict(),
        }
