"""neuroscape: batched simulation, exploration, fitting and surrogates of neuron models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from neuroscape.api import simulate
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import (
    DefaultSettings,
    FunctionModel,
    Model,
    Output,
    OutputDomain,
    Parameter,
    get_model,
    get_neuron_model,
    get_spec,
    register,
)
from neuroscape.sim.neuron_engine import simulate_neurons

try:
    __version__ = version("neuroscape")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

def equation_model(*args, **kwargs):
    """A neuron model from Brian2-style equations (``neuroscape.models.equations.equation_model``;
    imported on first use: sympy and pint are not needed otherwise)."""
    from neuroscape.models.equations import equation_model as make

    return make(*args, **kwargs)


__all__ = [
    "DefaultSettings",
    "equation_model",
    "FunctionModel",
    "Model",
    "Output",
    "OutputDomain",
    "Parameter",
    "register",
    "simulate",
    "simulate_neurons",
    "make_stimulus",
    "get_model",
    "get_neuron_model",
    "get_spec",
    "__version__",
]
