"""Networks as data (populations, projections, inputs, outputs) and the shipped networks.

``network(name)`` loads a shipped description; ``load_network_file(path)`` a user's;
``network_graph(model, conn_seed)`` draws (or ``model.load_graph(path)`` reads) the graph that a
batch of parameter sets shares. The network engine (``neuroscape.sim.network_engine``) compiles
and runs them.
"""

from __future__ import annotations

from pathlib import Path

from neuroscape.core.connectivity import Graph
from neuroscape.models.network.description import (
    NetworkError,
    NetworkModel,
    load_network_file,
    network_model,
)

_HERE = Path(__file__).resolve().parent / "library"
FILES: dict[str, Path] = {p.stem: p for p in sorted(_HERE.glob("*.yaml"))}
_CACHE: dict[str, NetworkModel] = {}


def network(name: str) -> NetworkModel:
    """The shipped network ``name`` (a key of ``FILES``), loaded once per process."""
    if name not in FILES:
        raise NetworkError(f"no shipped network {name!r}; allowed: {', '.join(FILES)}")
    if name not in _CACHE:
        m = load_network_file(FILES[name])
        object.__setattr__(m, "_ref", name)  # databases record the name, not a package path
        object.__setattr__(m, "_source", None)
        _CACHE[name] = m
    return _CACHE[name]


def network_graph(model: NetworkModel | str, conn_seed: int = 0) -> Graph:
    """The graph of ``model`` (an object or a shipped or registered name) for ``conn_seed``."""
    if isinstance(model, str):
        from neuroscape.models.registry import resolve

        model = resolve(model)
    if not isinstance(model, NetworkModel):
        raise NetworkError(f"{model.name!r} is not a network model")
    return model.graph(conn_seed)


def cuba():
    """CUBA benchmark network (Brette et al. 2007, benchmark 2; Brian2's example)."""
    return network("cuba")


def coba_stp():
    """COBA network with Tsodyks-Markram synapses (Stimberg et al. 2018, Fig. 1)."""
    return network("coba_stp")


def song2000():
    """STDP onto one neuron from 1000 Poisson inputs (Song, Miller and Abbott 2000)."""
    return network("song2000")


def brunel():
    """Sparse E-I network of LIF neurons with delays (Brunel 2000)."""
    return network("brunel")


def pavlov():
    """Classical conditioning by STDP: a bell, food and a salivation neuron."""
    return network("pavlov")


def assembly():
    """Spiking E-I network with Hebbian assemblies (Amit and Brunel 1997)."""
    return network("assembly")


def distal_reward():
    """Dopamine-modulated STDP solving the distal reward problem (Izhikevich 2007)."""
    return network("distal_reward")


def cortical():
    """The local cortical circuit of Zhang, Young and Lai (2020)."""
    return network("cortical")


__all__ = ["FILES", "Graph", "NetworkError", "NetworkModel", "load_network_file", "network",
           "network_graph", "network_model"]
