"""Model declarations, the one model contract (``Model``) and the one registry.

Every stage takes a model object or a name; ``resolve`` turns a name (registered, an entry point
of the group ``neuroscape.models``, or ``path/to/file.py:NAME``) into the object.
"""

from __future__ import annotations

from neuroscape.core.spec import (
    DefaultSettings,
    ModelSpec,
    Output,
    OutputDomain,
    Parameter,
    ParameterError,
)
from neuroscape.models.contract import Model, ModelError, ModelSource
from neuroscape.models.function import FunctionModel
from neuroscape.models.registry import (
    UnknownModelError,
    available,
    is_file_ref,
    load_file,
    register,
    resolve,
    unregister,
)

__all__ = [
    "DefaultSettings",
    "FunctionModel",
    "Model",
    "ModelError",
    "ModelSource",
    "ModelSpec",
    "Output",
    "OutputDomain",
    "Parameter",
    "ParameterError",
    "UnknownModelError",
    "available",
    "get_model",
    "get_neuron_model",
    "get_spec",
    "is_file_ref",
    "load_file",
    "names",
    "register",
    "resolve",
    "unregister",
]


def get_model(model: Model | str) -> Model:
    """The model object of a name, an entry point or ``path/to/file.py:NAME`` (see ``resolve``)."""
    return resolve(model)


def get_spec(model: Model | str) -> ModelSpec:
    """The declaration of any model (object or name)."""
    return resolve(model).spec


def names(kind: str | None = None) -> list[str]:
    """Every resolvable model name, or those of one ``kind`` ("network", "neuron", "theory",
    "function")."""
    if kind is None:
        return available()
    return [n for n in available() if resolve(n).kind == kind]


def get_single_neuron(model: Model | str):
    """A model of one neuron whose membrane potential can be fitted to a recording: a
    single-neuron model (``neuroscape.models.neuron``) or a multi-compartment cell
    (``neuroscape.models.multicomp``, recorded at soma(0.5))."""
    m = resolve(model)
    if m.kind == "cell":
        return m
    return get_neuron_model(m)


def get_neuron_model(model: Model | str):
    """The declaration of a single-neuron model (see ``neuroscape.models.neuron``)."""
    from neuroscape.models.neuron import NeuronModel

    m = resolve(model)
    if not isinstance(m, NeuronModel):
        raise UnknownModelError(
            f"model {m.name!r} is not a single-neuron model; allowed: {', '.join(names('neuron'))}"
        )
    return m
