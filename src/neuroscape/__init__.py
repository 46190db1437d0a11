"""neuroscape: batched simulation, exploration, fitting and surrogates of neuron models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from neuroscape.api import simulate
from neuroscape.models import get_model, get_spec

try:
    __version__ = version("neuroscape")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["simulate", "get_model", "get_spec", "__version__"]
