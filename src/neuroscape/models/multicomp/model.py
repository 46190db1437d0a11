"""A multi-compartment cell as a model that every stage takes.

The cell's description (``neuroscape.models.multicomp.description``) is the declaration: its
``parameters:`` (addresses such as ``soma.hh.gnabar`` or ``dend.L``, with bounds) become the
model's parameters, each with the unit its address has and the description's value as its
default; the outputs are a single neuron's (the firing rate and the CV of the intervals at
``soma(0.5)``). Its batch options are the injected current (``stimulus``, in nA) and where it
goes in (``stim_at``: ``(SECTION, x)``, default the root section's middle, NEURON's
``soma(0.5)``). The cable engine (``neuroscape.sim.cable_engine``) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from neuroscape.core.spec import DefaultSettings, ModelSpec, Parameter
from neuroscape.models.contract import Model, ModelError, ModelSource
from neuroscape.models.multicomp.description import (
    CellDescription,
    CellError,
    load_cell,
)
from neuroscape.models.neuron import NEURON_OUTPUTS

# NEURON's fixed step at the dt of its hh benchmarks; Crank-Nicolson is second order at the
# cost of backward Euler (Hines 1984), so it is the default here, as in the bars
CELL_SETTINGS = DefaultSettings(
    1000.0, 0.025, None, "crank_nicolson", "Crank-Nicolson (NEURON's secondorder = 2)"
)
CELL_SCHEMES = ("crank_nicolson", "backward_euler")


def _default(value: float, low: float, high: float) -> float:
    """The description's value as the parameter's default, clipped into its declared box so
    that a box that leaves the written value out is still a declaration (the run then uses
    the box's nearest value unless the row says otherwise)."""
    return float(min(max(value, low), high))


@dataclass(frozen=True, repr=False)
class CellModel(Model):
    """A multi-compartment cell: its description and the declaration read from it."""

    kind = "cell"
    run_options = ("stimulus", "stim_at")
    current_unit = "nA"  # the unit of an injected current (NEURON's IClamp)
    v_unit = "mV"
    # what fits read of a single neuron: V at soma(0.5) is the recorded state; spikes are its
    # upward 0-mV crossings (no threshold-reset); no named parameter sets
    states = ("v",)
    state_units = ("mV",)
    has_reset = False
    spike_level = 0.0
    equations = None
    presets = MappingProxyType({})  # read-only: a cell has no named parameter sets

    spec: ModelSpec
    cell: CellDescription
    schemes: tuple[str, ...] = field(default=CELL_SCHEMES)

    @property
    def default_dt_ms(self) -> float:
        return self.spec.settings.dt_ms

    def values(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """The per-row values of the declared addresses: (B, n_params) -> address -> (B,)."""
        params = np.atleast_2d(np.asarray(params, dtype=float))
        return {name: params[:, k] for k, name in enumerate(self.spec.parameter_names)}

    def with_values(self, values: dict[str, float]) -> CellModel:
        """The same model with other written values (``--set`` of an address that is not a
        declared parameter: a section's length, a density anywhere on the cell)."""
        cell = self.cell.with_values(values)
        m = cell_model(cell)
        object.__setattr__(m, "_ref", self._ref)
        object.__setattr__(m, "_source", self._source)
        return m


def check_scheme(integrator: str) -> None:
    """Refuse, in one line, a scheme the cable engine does not have."""
    from neuroscape.core.settings import SettingsError

    if integrator not in CELL_SCHEMES:
        raise SettingsError(
            f"integrator={integrator!r}; allowed for a multi-compartment cell: "
            f"{', '.join(CELL_SCHEMES)}"
        )


def check_location(cell: CellDescription, section: str, x: float) -> None:
    """Refuse, in one line, a location ``SECTION(x)`` that is not on ``cell``."""
    if section not in cell.sections:
        names = list(cell.sections)
        shown = ", ".join(names[:12]) + (f" ... ({len(names)} sections)" if len(names) > 12 else "")
        raise CellError(f"unknown section {section!r}; allowed: {shown}")
    if not (isinstance(x, int | float) and 0.0 <= x <= 1.0):
        raise CellError(f"location {section}({x}): x={x!r}; allowed: 0 <= x <= 1")


def cell_model(cell: CellDescription, version: str = "1") -> CellModel:
    """The model of ``cell``: one parameter per address in its ``parameters:``."""
    params = []
    for address, (low, high) in cell.parameters.items():
        try:
            value = cell.value(address)
        except CellError as exc:
            raise ModelError(f"{cell.name}: parameters: {exc}") from None
        params.append(
            Parameter(
                address,
                _default(value, low, high),
                float(low),
                float(high),
                cell.unit_of(address),  # the cell's channels' units included
                f"{address} of the cell (written: {value:g})",
            )
        )
    spec = ModelSpec(
        cell.name,
        version,
        f"multi-compartment cell {cell.name} ({len(cell.sections)} sections)",
        tuple(params),
        NEURON_OUTPUTS,
        settings=CELL_SETTINGS,
    )
    return CellModel(spec, cell)


def load_cell_model(path: str | Path) -> CellModel:
    """The model of the cell description in the YAML file ``path``."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelError(f"cell file {str(p)!r} does not exist")
    try:
        cell = load_cell(p)
    except CellError as exc:
        raise ModelError(f"{p}: {exc}") from None
    model = cell_model(cell)
    return ModelSource.of(p).stamp(model)


__all__ = [
    "CELL_SETTINGS",
    "CellModel",
    "cell_model",
    "check_location",
    "check_scheme",
    "load_cell_model",
]
