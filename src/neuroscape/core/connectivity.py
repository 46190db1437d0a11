"""Graphs of networks as data: populations' sizes and one edge list per projection.

File format (NPZ): one integer array per projection, named by the projection (``PRE_to_POST`` in
the shipped networks: ``E_to_E``, ``E_to_I``, ...), of shape (2, n_synapses): row 0 the
presynaptic and row 1 the postsynaptic index, 0-based within their population; and an integer
scalar ``N_<POP>`` per population with its size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# the circuit's projections (Zhang, Young & Lai 2020), in the order its graphs are drawn
PATHWAYS = ("E_to_E", "E_to_I", "I_to_E", "I_to_I")


class ConnectivityError(ValueError):
    """A connectivity file or array that does not describe a valid graph."""


def _ends_from_names(names) -> dict[str, tuple[str, str]]:
    ends = {}
    for name in names:
        pre, sep, post = name.partition("_to_")
        if not sep or not pre or not post:
            raise ConnectivityError(
                f"array {name!r} names no projection; allowed: PRE_to_POST or a layout"
            )
        ends[name] = (pre, post)
    return ends


@dataclass(frozen=True)
class Graph:
    """A fixed graph. ``edges[proj]`` is a (2, n) int64 array (pre, post), sorted by pre;
    ``ends[proj]`` its (pre, post) populations; ``sizes[pop]`` the population sizes."""

    sizes: dict[str, int]
    edges: dict[str, np.ndarray]
    ends: dict[str, tuple[str, str]] = field(default_factory=dict)
    autapses: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.ends:
            object.__setattr__(self, "ends", _ends_from_names(self.edges))
        validate_graph(self.sizes, self.edges, self.ends, self.autapses)

    # the circuit's names (two populations E and I)
    @property
    def n_e(self) -> int:
        return self.sizes["E"]

    @property
    def n_i(self) -> int:
        return self.sizes["I"]

    @property
    def n_synapses(self) -> dict[str, int]:
        return {k: int(v.shape[1]) for k, v in self.edges.items()}

    def sizes_of(self, proj: str) -> tuple[int, int]:
        """(n_pre, n_post) of a projection."""
        pre, post = self.ends[proj]
        return self.sizes[pre], self.sizes[post]

    def csr(self, proj: str) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, post indices) by presynaptic neuron, for fast spike delivery (made once)."""
        memo = self.__dict__.setdefault("_memo", {})
        if ("csr", proj) not in memo:
            memo[("csr", proj)] = self._csr(proj)
        return memo[("csr", proj)]

    def _csr(self, proj: str) -> tuple[np.ndarray, np.ndarray]:
        n_pre, _ = self.sizes_of(proj)
        pre, post = self.edges[proj]
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
        return indptr, post.astype(np.int64)

    def csc(self, proj: str) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, synapse indices) by postsynaptic neuron (for on_post effects; made once)."""
        memo = self.__dict__.setdefault("_memo", {})
        if ("csc", proj) not in memo:
            memo[("csc", proj)] = self._csc(proj)
        return memo[("csc", proj)]

    def _csc(self, proj: str) -> tuple[np.ndarray, np.ndarray]:
        _, n_post = self.sizes_of(proj)
        post = self.edges[proj][1]
        order = np.argsort(post, kind="stable").astype(np.int64)
        indptr = np.zeros(n_post + 1, dtype=np.int64)
        np.cumsum(np.bincount(post, minlength=n_post), out=indptr[1:])
        return indptr, order

    def dense(self, proj: str) -> np.ndarray:
        """(n_pre, n_post) 0/1 matrix (float64), for the vectorized torch back end."""
        m = np.zeros(self.sizes_of(proj))
        pre, post = self.edges[proj]
        np.add.at(m, (pre, post), 1.0)
        return m

    def content_hash(self) -> str:
        """SHA-256 over sizes and canonical (sorted) edge lists: equal graphs, equal hashes."""
        h = hashlib.sha256()
        h.update(np.array(list(self.sizes.values()), dtype=np.int64).tobytes())
        for name, e in self.edges.items():
            h.update(name.encode())
            h.update(np.ascontiguousarray(e, dtype=np.int64).tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        sizes = {f"N_{k}": np.int64(v) for k, v in self.sizes.items()}
        with open(path, "wb") as fh:  # np.savez would append .npz to a name without it
            np.savez(fh, **sizes, **self.edges)
        return path


Connectivity = Graph  # the circuit's graphs are Graphs of populations E and I


def _canonical(edges: np.ndarray) -> np.ndarray:
    order = np.lexsort((edges[1], edges[0]))
    return np.ascontiguousarray(edges[:, order], dtype=np.int64)


def validate_graph(sizes, edges, ends, autapses=None) -> None:
    """Raise ConnectivityError (one line) for anything that is not a valid graph."""
    autapses = autapses or {}
    for name, (pre_pop, post_pop) in ends.items():
        for pop in (pre_pop, post_pop):
            if pop not in sizes:
                raise ConnectivityError(f"missing population size 'N_{pop}' (for {name})")
        if name not in edges:
            raise ConnectivityError(f"missing array {name!r}; a graph needs {', '.join(ends)}")
        a = edges[name]
        if not np.issubdtype(a.dtype, np.integer):
            raise ConnectivityError(f"{name} has dtype {a.dtype}; allowed: an integer dtype")
        if a.ndim != 2 or a.shape[0] != 2:
            raise ConnectivityError(f"{name} has shape {a.shape}; allowed: (2, n_synapses)")
        n = {pre_pop: sizes[pre_pop], post_pop: sizes[post_pop]}
        for row, pop, what in ((0, pre_pop, "presynaptic"), (1, post_pop, "postsynaptic")):
            if a.shape[1] and (a[row].min() < 0 or a[row].max() >= n[pop]):
                bad = a[row][(a[row] < 0) | (a[row] >= n[pop])][0]
                raise ConnectivityError(
                    f"{name}: {what} index {bad} out of range; allowed 0..{n[pop] - 1} "
                    f"(N_{pop} = {n[pop]})"
                )
        if pre_pop == post_pop and not autapses.get(name, False) and a.shape[1]:
            if np.any(a[0] == a[1]):
                k = int(np.argmax(a[0] == a[1]))
                raise ConnectivityError(
                    f"{name}: self-connection of neuron {a[0, k]}; the model forbids "
                    "self-connections"
                )
        if a.shape[1]:
            # a repeated pair: equal neighbours once sorted (a canonical graph is sorted by
            # (pre, post) already: one pass; np.unique hashed 12.5M keys in 15 s)
            key = a[0].astype(np.int64) * (n[post_pop] + 1) + a[1]
            step = np.diff(key)
            if not np.all(step > 0):
                step = np.diff(np.sort(key))
            if np.any(step == 0):
                raise ConnectivityError(f"{name}: duplicate synapses; allowed: each pair once")
    extra = [k for k in edges if k not in ends]
    if extra:
        raise ConnectivityError(
            f"array {extra[0]!r} is not a projection; allowed: {', '.join(ends)}"
        )


def bernoulli_edges(rng: np.random.Generator, n_pre: int, n_post: int, p: float,
                    autapses: bool) -> np.ndarray:
    """Each (pre, post) pair connected with probability p (one uniform per pair, drawn row by
    row: the same numbers as one (n_pre, n_post) draw, in bounded memory)."""
    pre_l, post_l = [], []
    block = max(1, 2_000_000 // max(n_post, 1))
    for start in range(0, n_pre, block):
        stop = min(start + block, n_pre)
        mask = rng.random((stop - start, n_post)) < p
        if not autapses and n_pre == n_post:
            idx = np.arange(start, stop)
            mask[idx - start, idx] = False
        pre, post = np.nonzero(mask)
        pre_l.append(pre + start)
        post_l.append(post)
    pre = np.concatenate(pre_l) if pre_l else np.zeros(0, np.int64)
    post = np.concatenate(post_l) if post_l else np.zeros(0, np.int64)
    return _canonical(np.vstack([pre, post]))


def graph_rng(conn_seed: int) -> np.random.Generator:
    """The generator a graph of ``conn_seed`` is drawn from."""
    if not isinstance(conn_seed, int | np.integer) or conn_seed < 0:
        raise ConnectivityError(f"conn_seed={conn_seed!r} must be a non-negative integer")
    return np.random.default_rng(np.random.SeedSequence([int(conn_seed), 0xC0FFEE]))


def random_connectivity(conn_seed: int, n_e: int, n_i: int, p: dict[str, float]) -> Graph:
    """Erdos-Renyi graph per pathway with probabilities ``p`` (keys as PATHWAYS), no autapses."""
    rng = graph_rng(conn_seed)
    n = {"E": n_e, "I": n_i}
    edges = {}
    for name in PATHWAYS:
        pre_pop, post_pop = name.split("_to_")
        edges[name] = bernoulli_edges(rng, n[pre_pop], n[post_pop], p[name], False)
    return Graph({"E": n_e, "I": n_i}, edges)


def read_graph(path: str | Path) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """The sizes and edge arrays of an NPZ graph file, unchecked."""
    path = Path(path)
    if not path.is_file():
        raise ConnectivityError(f"connectivity file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile/ValueError: not an NPZ
        raise ConnectivityError(f"{path}: not a readable NPZ file ({exc})") from None
    sizes, edges = {}, {}
    for k, v in data.items():
        if k.startswith("N_"):
            if v.shape != () or not np.issubdtype(v.dtype, np.integer):
                raise ConnectivityError(f"{path}: {k} must be an integer scalar")
            sizes[k[2:]] = int(v)
        else:
            edges[k] = v
    return sizes, edges


def load_connectivity(path: str | Path, ends: dict[str, tuple[str, str]] | None = None,
                      sizes: dict[str, int] | None = None,
                      autapses: dict[str, bool] | None = None) -> Graph:
    """Read and validate an NPZ graph file against a network's layout: its projections' ends,
    its population sizes (default: the circuit's E-I layout, sizes from the file)."""
    path = Path(path)
    got_sizes, got = read_graph(path)
    ends = ends or {name: tuple(name.split("_to_")) for name in PATHWAYS}
    need = sizes or {pop: None for pe in ends.values() for pop in pe}
    for pop, n in need.items():
        if pop not in got_sizes:
            raise ConnectivityError(f"{path}: missing population size 'N_{pop}'")
        if n is not None and got_sizes[pop] != n:
            raise ConnectivityError(
                f"{path}: N_{pop} = {got_sizes[pop]}, but the network's population {pop} has "
                f"{n} neurons"
            )
    extra = [k for k in got_sizes if k not in need]
    if extra:
        raise ConnectivityError(
            f"{path}: population N_{extra[0]} is not in the network; allowed: "
            + ", ".join(f"N_{k}" for k in need)
        )
    try:
        validate_graph(got_sizes, got, ends, autapses)
    except ConnectivityError as exc:
        raise ConnectivityError(f"{path}: {exc}") from None
    sizes_out = {pop: got_sizes[pop] for pop in need}
    return Graph(sizes_out, {k: _canonical(got[k]) for k in ends}, dict(ends), autapses or {})
