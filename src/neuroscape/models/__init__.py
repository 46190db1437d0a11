"""Model declarations and the registry of batched models."""

from __future__ import annotations

from neuroscape.models.base import ModelSpec, Output, Parameter, ParameterError

__all__ = ["ModelSpec", "Output", "Parameter", "ParameterError", "MODELS", "get_spec", "get_model"]

MODELS = ("cortical",)


class UnknownModelError(ValueError):
    pass


def get_spec(name: str) -> ModelSpec:
    """The declaration of a registered model."""
    return get_model_class(name).spec


def get_model_class(name: str):
    if name == "cortical":
        from neuroscape.models.cortical import CorticalCircuit

        return CorticalCircuit
    raise UnknownModelError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")


def get_model(name: str, **kwargs):
    """An instance of a registered batched model (kwargs go to its constructor)."""
    return get_model_class(name)(**kwargs)
