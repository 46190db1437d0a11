"""The local cortical circuit of Zhang, Young & Lai (2020), a network file on the network engine
(``neuroscape/models/network/library/cortical.yaml``; contract: docs/cortical_circuit.md).

225 E and 75 I conductance-based I&F neurons, random connectivity, Poisson external and ambient
drive. Seven parameters P (the paper's order and physiological domain) map to two outputs
O = (r_E, r_I), the population-mean rates over the last 2 s of a 3 s run.
"""

from __future__ import annotations

import numpy as np

from neuroscape.core.connectivity import Graph

__all__ = ["MODEL", "SPEC", "circuit_connectivity", "in_output_domain"]


def __getattr__(name: str):
    # loaded on first use: compiling the description needs sympy, which `neuroscape --help`
    # should not wait for
    if name in ("MODEL", "SPEC"):
        from neuroscape.models.network import network

        m = network("cortical")
        return m if name == "MODEL" else m.spec
    raise AttributeError(name)


def circuit_connectivity(conn_seed: int = 0) -> Graph:
    """The seeded random graph of the circuit (the file's connection rules)."""
    from neuroscape.models.network import network

    return network("cortical").graph(conn_seed)


def in_output_domain(r_e: np.ndarray, r_i: np.ndarray) -> np.ndarray:
    """The physiological output domain O (declared once, in the file's ``output_domain``)."""
    from neuroscape.models.network import network

    spec = network("cortical").spec
    r_e = np.atleast_1d(np.asarray(r_e, dtype=float))
    r_i = np.atleast_1d(np.asarray(r_i, dtype=float))
    return spec.output_domain.contains(np.stack([r_e, r_i], axis=-1), ["r_E", "r_I"])
