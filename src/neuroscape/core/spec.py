"""Declarative model descriptions: a model is its parameters (names, units, defaults, bounds).

Everything else (the engine, the CLI, later the samplers and the database) reads these
declarations, so a parameter is named and bounded in exactly one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

# a parameter's name: an identifier, or a multi-compartment cell's address of one (NEURON's
# vocabulary: soma.hh.gnabar, dend[3].L), which sweeps, fits and the database take as it is
_ADDRESS = re.compile(r"[A-Za-z_]\w*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*")


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
        if not (isinstance(self.name, str) and _ADDRESS.fullmatch(self.name)):
            raise ParameterError(
                f"parameter name {self.name!r}; allowed: a Python identifier, or a dotted "
                "address of identifiers (a cell's SECTION.MECH.PARAM, e.g. dend[3].pas.g)"
            )
        for what in ("default", "low", "high", "hard_low", "hard_high"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise ParameterError(f"parameter {self.name}: {what}={v!r} must be a number")
            if not np.isfinite(v) and not (what.startswith("hard") and not np.isnan(v)):
                raise ParameterError(f"parameter {self.name}: {what}={v!r} must be finite")
        if not self.low < self.high:
            raise ParameterError(
                f"parameter {self.name}: low={self.low:g} must be < high={self.high:g}"
            )
        if not (self.hard_low <= self.low and self.high <= self.hard_high):
            raise ParameterError(
                f"parameter {self.name}: hard limits [{self.hard_low:g}, {self.hard_high:g}] must "
                f"contain the bounds [{self.low:g}, {self.high:g}]"
            )
        if not self.low <= self.default <= self.high:
            raise ParameterError(
                f"parameter {self.name}: default {self.default:g} is outside its bounds "
                f"[{self.low:g}, {self.high:g}] {self.unit}"
            )

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "unit": self.unit,
            "description": self.description,
            # strict JSON has no infinity: an absent hard limit is None
            "hard_low": float(self.hard_low) if np.isfinite(self.hard_low) else None,
            "hard_high": float(self.hard_high) if np.isfinite(self.hard_high) else None,
        }


@dataclass(frozen=True)
class Output:
    """One scalar output of a model (e.g. a population firing rate)."""

    name: str
    unit: str = "1"
    description: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ParameterError(f"output name {self.name!r}; allowed: a Python identifier")


@dataclass(frozen=True)
class OutputDomain:
    """A region of output space that a model declares as its plausible one (the circuit's O of
    Zhang, Young & Lai 2020): every ``bounds`` output within [low, high] and every ratio
    ``numerator / denominator`` within [low, high]. Rows inside are labelled ``inside``, ok rows
    outside ``outside``; stages that need the region (sweep labels, derivative statistics,
    surrogate analysis) read it from here, never from the model's name.
    """

    bounds: tuple[tuple[str, float, float], ...] = ()  # (output, low, high)
    ratios: tuple[tuple[str, str, float, float], ...] = ()  # (numerator, denominator, low, high)
    inside: str = "in_O"
    outside: str = "outside_O"
    description: str = ""

    def names(self) -> list[str]:
        """Every output the domain is stated in."""
        out = [b[0] for b in self.bounds]
        for num, den, *_ in self.ratios:
            out += [num, den]
        return list(dict.fromkeys(out))

    def contains(self, outputs: np.ndarray, output_names: Sequence[str]) -> np.ndarray:
        """(n,) bool: which rows of ``outputs`` (n, len(output_names)) lie in the domain."""
        o = np.atleast_2d(np.asarray(outputs, dtype=float))
        names = list(output_names)
        missing = [n for n in self.names() if n not in names]
        if missing:
            raise ParameterError(
                f"the output domain is stated in {', '.join(missing)}; outputs here: "
                f"{', '.join(names)}"
            )
        col = {n: o[:, names.index(n)] for n in self.names()}
        keep = np.ones(len(o), dtype=bool)
        for name, lo, hi in self.bounds:
            keep &= (col[name] >= lo) & (col[name] <= hi)
        for num, den, lo, hi in self.ratios:
            d = col[den]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(d > 0, col[num] / np.where(d > 0, d, 1.0), np.inf)
            keep &= (ratio >= lo) & (ratio <= hi)
        return keep

    def labels(self, outputs: np.ndarray, ok: np.ndarray, output_names) -> list[str | None]:
        """``inside``/``outside`` per ok row, None for failed rows."""
        ino = self.contains(outputs, output_names)
        return [
            (self.inside if i else self.outside) if o else None
            for i, o in zip(ino, np.asarray(ok, bool), strict=True)
        ]

    def as_dict(self) -> dict:
        return {
            "bounds": [list(b) for b in self.bounds],
            "ratios": [list(r) for r in self.ratios],
            "inside": self.inside,
            "outside": self.outside,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> OutputDomain:
        return cls(
            tuple((str(n), float(lo), float(hi)) for n, lo, hi in d.get("bounds", ())),
            tuple(
                (str(a), str(b), float(lo), float(hi)) for a, b, lo, hi in d.get("ratios", ())
            ),
            d.get("inside", "in_O"),
            d.get("outside", "outside_O"),
            d.get("description", ""),
        )


@dataclass(frozen=True)
class DefaultSettings:
    """A model's own run settings, declared once with the model (times in ms).

    Every caller (the API, the CLI, sweeps, the neuron engine) takes a setting it is not given
    from here, so a model runs the same way whichever way it is run.
    window_ms: the final window over which rates are measured; None: the engine's rule
    (``neuroscape.core.settings.default_window_ms``). A declared window applies to a run of the
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


# Columns the model database (neuroscape.explore.store: runs, sweeps, the results view) has of
# its own; a parameter or output may not take one of these names (SQL ignores case).
RESERVED_NAMES = frozenset(
    "id sweep_id row_index status error label wall_time_s neuroscape_version finished model "
    "model_version seed conn_seed connectivity_sha256 duration_ms dt_ms window_ms integrator "
    "sampler sample_seed sweep_extra".split()
)


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
    output_domain: OutputDomain | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ParameterError(f"model name {self.name!r}; allowed: a Python identifier")
        if not self.parameters and not self.outputs:
            raise ParameterError(f"model {self.name!r} declares no parameters and no outputs")
        for what, items in (("parameter", self.parameters), ("output", self.outputs)):
            kind = Parameter if what == "parameter" else Output
            for item in items:
                if not isinstance(item, kind):
                    raise ParameterError(
                        f"model {self.name!r}: {item!r} is not a neuroscape.{kind.__name__}"
                    )
            names = [i.name for i in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ParameterError(
                    f"model {self.name!r}: duplicate {what} name {dup[0]!r}; names must be unique"
                )
        both = set(self.parameter_names) & set(self.output_names)
        if both:
            raise ParameterError(
                f"model {self.name!r}: {sorted(both)[0]!r} is both a parameter and an output"
            )
        if self.output_domain is not None:
            missing = [n for n in self.output_domain.names() if n not in self.output_names]
            if missing:
                raise ParameterError(
                    f"model {self.name!r}: the output domain names {missing[0]!r}, which is not "
                    f"an output; outputs: {', '.join(self.output_names)}"
                )

    @property
    def columns(self) -> dict[str, str]:
        """Declared name (parameters, then outputs) -> its column in the model database. SQL
        ignores the case of column names, so of names that differ only in case (Izhikevich
        2007's capacitance C and reset c) each one with a capital letter gets a suffix that
        spells the case of its letters (``C`` -> ``C__U``, ``izh_C`` -> ``izh_C__lllU``); every
        other name is its own column."""
        names = [*self.parameter_names, *self.output_names]
        folded: dict[str, int] = {}
        for n in names:
            folded[n.lower()] = folded.get(n.lower(), 0) + 1
        return {n: n if folded[n.lower()] == 1 or n.islower() else
                n + "__" + "".join("U" if c.isupper() else "l" for c in n if c.isalpha())
                for n in names}  # fmt: skip

    def check_storable(self) -> None:
        """Refuse names the model database cannot hold as its columns: its own columns'
        (``RESERVED_NAMES``), and names whose columns (``columns``) would still coincide. Sweeps
        call this before anything is written; simulating and fitting need no such check."""
        seen: dict[str, str] = {}
        for n, col in self.columns.items():
            if col.lower() in RESERVED_NAMES:
                raise ParameterError(
                    f"model {self.name!r}: {n!r} is a column of the model database's own; "
                    f"reserved: {', '.join(sorted(RESERVED_NAMES))}"
                )
            if col.lower() in seen:
                other = seen[col.lower()]
                raise ParameterError(
                    f"model {self.name!r}: the model database cannot hold both {other!r} and "
                    f"{n!r} (their columns {col!r} coincide: SQL column names ignore case)"
                )
            seen[col.lower()] = n

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
            "outputs": [
                {"name": o.name, "unit": o.unit, "description": o.description}
                for o in self.outputs
            ],
            "settings": self.settings.as_dict(),
            "description": self.description,
            "output_domain": None if self.output_domain is None else self.output_domain.as_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelSpec:
        """The declaration back from ``to_dict`` (a database or a surrogate file holds it, so a
        reader needs neither the registry nor the model's source)."""
        params = tuple(
            Parameter(
                p["name"],
                float(p["default"]),
                float(p["low"]),
                float(p["high"]),
                p.get("unit", "1"),
                p.get("description", ""),
                -np.inf if p.get("hard_low") is None else float(p["hard_low"]),
                np.inf if p.get("hard_high") is None else float(p["hard_high"]),
            )
            for p in d["parameters"]
        )
        outputs = tuple(
            Output(o["name"], o.get("unit", "1"), o.get("description", "")) for o in d["outputs"]
        )
        st = d.get("settings")
        dom = d.get("output_domain")
        return cls(
            d["model"],
            str(d.get("version", "1")),
            d.get("description", ""),
            params,
            outputs,
            settings=DefaultSettings(**st) if st else GENERIC_SETTINGS,
            output_domain=OutputDomain.from_dict(dom) if dom else None,
        )
