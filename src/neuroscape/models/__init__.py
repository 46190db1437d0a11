"""Model declarations and the registry: network models and single-neuron models."""

from __future__ import annotations

import importlib

from neuroscape.models.base import DefaultSettings, ModelSpec, Output, Parameter, ParameterError

__all__ = [
    "DefaultSettings",
    "ModelSpec",
    "Output",
    "Parameter",
    "ParameterError",
    "MODELS",
    "get_spec",
    "get_model",
]

NETWORK_MODELS = ("cortical",)
NEURON_MODELS = ("lif", "cond_if", "hh", "fhn", "izhikevich")
THEORY_MODELS = ("wilson_cowan", "wong_wang", "ddm", "brunel", "hopfield")
MODELS = NETWORK_MODELS + NEURON_MODELS + THEORY_MODELS


class UnknownModelError(ValueError):
    pass


def _check(name: str, allowed: tuple[str, ...]) -> None:
    if name not in allowed:
        raise UnknownModelError(f"unknown model {name!r}; allowed: {', '.join(allowed)}")


def get_spec(name: str) -> ModelSpec:
    """The declaration of any registered model."""
    _check(name, MODELS)
    if name in NETWORK_MODELS:
        return get_model_class(name).spec
    if name in THEORY_MODELS:
        from neuroscape.models.theory import module

        return module(name).SPEC
    return importlib.import_module(f"neuroscape.models.{name}").SPEC


def get_model_class(name: str):
    _check(name, NETWORK_MODELS)
    from neuroscape.models.cortical import CorticalCircuit

    return CorticalCircuit


def get_model(name: str, **kwargs):
    """A model of the batched engine: a network (kwargs: conn_seed, connectivity) or a single
    neuron under one stimulus (kwargs: stimulus)."""
    _check(name, MODELS)  # before the per-kind registries, so the error lists every model
    if name in NEURON_MODELS:
        from neuroscape.sim.neuron_engine import NeuronBatch

        return NeuronBatch(name, kwargs.get("stimulus"))
    if name in THEORY_MODELS:
        from neuroscape.models.theory import TheoryBatch

        return TheoryBatch(name)
    return get_model_class(name)(**kwargs)


def get_neuron_model(name: str):
    """The declaration of a single-neuron model (see ``neuroscape.models.neuron``)."""
    _check(name, NEURON_MODELS)
    return importlib.import_module(f"neuroscape.models.{name}").MODEL
