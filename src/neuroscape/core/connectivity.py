"""Random E-I connectivity as data: generation from a seed, NPZ export/import, validation, hash.

File format (NPZ): integer arrays ``E_to_E``, ``E_to_I``, ``I_to_E``, ``I_to_I``, each of shape
(2, n_synapses) with row 0 the presynaptic and row 1 the postsynaptic index, 0-based within
their population; scalars ``N_E`` and ``N_I`` hold the population sizes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PATHWAYS = ("E_to_E", "E_to_I", "I_to_E", "I_to_I")


class ConnectivityError(ValueError):
    """A connectivity file or array that does not describe a valid graph."""


@dataclass(frozen=True)
class Connectivity:
    """A fixed E-I graph. ``edges[name]`` is a (2, n) int64 array (pre, post), sorted by pre."""

    n_e: int
    n_i: int
    edges: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        validate_edges(self.n_e, self.n_i, self.edges)

    @property
    def n_synapses(self) -> dict[str, int]:
        return {k: int(v.shape[1]) for k, v in self.edges.items()}

    def sizes(self, pathway: str) -> tuple[int, int]:
        """(n_pre, n_post) of a pathway."""
        pre, post = pathway.split("_to_")
        n = {"E": self.n_e, "I": self.n_i}
        return n[pre], n[post]

    def csr(self, pathway: str) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, post indices) by presynaptic neuron, for fast spike delivery."""
        n_pre, _ = self.sizes(pathway)
        pre, post = self.edges[pathway]
        counts = np.bincount(pre, minlength=n_pre)
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, post.astype(np.int64)

    def dense(self, pathway: str) -> np.ndarray:
        """(n_pre, n_post) 0/1 matrix (float64), for the vectorized torch back end."""
        n_pre, n_post = self.sizes(pathway)
        m = np.zeros((n_pre, n_post))
        pre, post = self.edges[pathway]
        np.add.at(m, (pre, post), 1.0)
        return m

    def content_hash(self) -> str:
        """SHA-256 over sizes and canonical (sorted) edge lists: equal graphs, equal hashes."""
        h = hashlib.sha256()
        h.update(np.array([self.n_e, self.n_i], dtype=np.int64).tobytes())
        for name in PATHWAYS:
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.edges[name], dtype=np.int64).tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "wb") as fh:  # np.savez would append .npz to a name without it
            np.savez(fh, N_E=np.int64(self.n_e), N_I=np.int64(self.n_i), **self.edges)
        return path


def _canonical(edges: np.ndarray) -> np.ndarray:
    order = np.lexsort((edges[1], edges[0]))
    return np.ascontiguousarray(edges[:, order], dtype=np.int64)


def validate_edges(n_e: int, n_i: int, edges: dict[str, np.ndarray]) -> None:
    """Raise ConnectivityError (one line) for anything that is not a valid E-I graph."""
    n = {"E": n_e, "I": n_i}
    for name in PATHWAYS:
        if name not in edges:
            raise ConnectivityError(f"missing array {name!r}; a graph needs {', '.join(PATHWAYS)}")
        a = edges[name]
        if not np.issubdtype(a.dtype, np.integer):
            raise ConnectivityError(f"{name} has dtype {a.dtype}; allowed: an integer dtype")
        if a.ndim != 2 or a.shape[0] != 2:
            raise ConnectivityError(f"{name} has shape {a.shape}; allowed: (2, n_synapses)")
        pre_pop, post_pop = name.split("_to_")
        for row, pop, what in ((0, pre_pop, "presynaptic"), (1, post_pop, "postsynaptic")):
            if a.shape[1] and (a[row].min() < 0 or a[row].max() >= n[pop]):
                bad = a[row][(a[row] < 0) | (a[row] >= n[pop])][0]
                raise ConnectivityError(
                    f"{name}: {what} index {bad} out of range; allowed 0..{n[pop] - 1}"
                )
        if pre_pop == post_pop and a.shape[1] and np.any(a[0] == a[1]):
            k = int(np.argmax(a[0] == a[1]))
            raise ConnectivityError(
                f"{name}: self-connection of neuron {a[0, k]}; the model forbids self-connections"
            )
        if a.shape[1]:
            key = a[0].astype(np.int64) * (n[post_pop] + 1) + a[1]
            if np.unique(key).size != key.size:
                raise ConnectivityError(f"{name}: duplicate synapses; allowed: each pair once")


def random_connectivity(conn_seed: int, n_e: int, n_i: int, p: dict[str, float]) -> Connectivity:
    """Erdos-Renyi graph per pathway with probabilities ``p`` (keys as PATHWAYS), no autapses."""
    if conn_seed < 0:
        raise ConnectivityError(f"conn_seed={conn_seed} must be a non-negative integer")
    rng = np.random.default_rng(np.random.SeedSequence([int(conn_seed), 0xC0FFEE]))
    n = {"E": n_e, "I": n_i}
    edges = {}
    for name in PATHWAYS:
        pre_pop, post_pop = name.split("_to_")
        mask = rng.random((n[pre_pop], n[post_pop])) < p[name]
        if pre_pop == post_pop:
            np.fill_diagonal(mask, False)
        pre, post = np.nonzero(mask)
        edges[name] = _canonical(np.vstack([pre, post]))
    return Connectivity(n_e, n_i, edges)


def load_connectivity(path: str | Path) -> Connectivity:
    """Read and validate an NPZ graph file (see module docstring for the format)."""
    path = Path(path)
    if not path.is_file():
        raise ConnectivityError(f"connectivity file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile/ValueError: not an NPZ
        raise ConnectivityError(f"{path}: not a readable NPZ file ({exc})") from None
    for k in ("N_E", "N_I"):
        if k not in data:
            raise ConnectivityError(f"{path}: missing population size {k!r}")
        if data[k].shape != () or not np.issubdtype(data[k].dtype, np.integer):
            raise ConnectivityError(f"{path}: {k} must be an integer scalar")
    n_e, n_i = int(data["N_E"]), int(data["N_I"])
    edges = {}
    for name in PATHWAYS:
        if name not in data:
            raise ConnectivityError(
                f"{path}: missing array {name!r}; a graph needs {', '.join(PATHWAYS)}"
            )
        edges[name] = data[name]
    validate_edges(n_e, n_i, edges)
    return Connectivity(n_e, n_i, {k: _canonical(v) for k, v in edges.items()})
