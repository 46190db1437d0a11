"""neuroscape: batched simulation, exploration, fitting and surrogates of neuron models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from neuroscape.api import simulate
from neuroscape.models import get_model, get_neuron_model, get_spec
from neuroscape.sim.neuron_engine import simulate_neurons
from neuroscape.sim.stimuli import make_stimulus

try:
    __version__ = version("neuroscape")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "simulate",
    "simulate_neurons",
    "make_stimulus",
    "get_model",
    "get_neuron_model",
    "get_spec",
    "__version__",
]
