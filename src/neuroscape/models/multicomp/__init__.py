"""Multi-compartment cells: a description in NEURON's vocabulary (``description``), the
membrane mechanisms as data (``mechanisms``), and NEURON's discretisation (``geometry``).
The cable equation is solved by ``neuroscape.sim.cable_engine``."""

from __future__ import annotations

from neuroscape.models.multicomp.description import (
    CellDescription,
    CellError,
    Section,
    load_cell,
    unit_of,
)
from neuroscape.models.multicomp.geometry import Discretization, discretize
from neuroscape.models.multicomp.mechanisms import MECHANISMS, Mechanism

__all__ = [
    "MECHANISMS",
    "CellDescription",
    "CellError",
    "Discretization",
    "Mechanism",
    "Section",
    "discretize",
    "load_cell",
    "unit_of",
]
