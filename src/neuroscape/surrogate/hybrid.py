"""Hybrid networks: a surrogate of a detailed population stands in for it in a network of cells.

A population of a network of cells (``neuroscape.models.multicomp.network``) may be declared
``surrogate: FOLDER`` (a saved surrogate, relative to the network file) instead of ``model:
CELL.yaml``. The surrogate was trained on a network of one population of cells driven by
Poisson inputs whose rates (and perhaps other values) are its parameters, with that
population's rate as output (a sweep of that network, then ``neuroscape surrogate train``, or
``run_batch`` and ``train_surrogate``). In the hybrid its cells are Poisson sources at the rate
the surrogate predicts from the population's inputs, mapped onto its parameters (``map``):

- an input (``inputs:``) onto the population gives its rate directly;
- a projection gives its presynaptic spikes' rate per cell, estimated online: the exponential
  running average (time constant ``rate_tau``) of the weights it delivers, updated every
  window of the shortest delay;
- both count by mean conductance against the training input of ``n`` sources of weight
  ``w_ref``: a source delivering E events/s per cell at weight w adds E w / (n w_ref) to the
  parameter (Hz per source).

The rate a surrogate gives is its prediction held over each window; the mechanics (spike
draws from the row's stream, the running averages) are ``neuroscape.sim.cell_network``'s, which
takes the rate functions as callables: this module loads the surrogates, fills ``map`` from
the training network, and runs the network. This is a rate-in/rate-out map: it keeps the mean
rates of a population's inputs and outputs and drops their correlations, their spike-time
structure (a detailed cell fires more regularly than a Poisson source) and transients faster
than the surrogate's training windows and the running average.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numba import njit

from neuroscape.core.rows import run_on_threads
from neuroscape.models.multicomp.network import (
    CellNetwork,
    CellNetworkError,
    SurrogateBinding,
    build_cell_network,
    cell_network_model,
    load_cell_network,
)
from neuroscape.sim.cell_network import CellNetworkBatch, CellNetworkResult, run_cell_network
from neuroscape.surrogate.core import Surrogate, SurrogateError, load_surrogate

ACT_CODES = {"identity": 0, "sigmoid": 1, "relu": 2, "tanh": 3, "gelu": 4}


def _flatten(sur: Surrogate) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The members' Linear layers as one float64 array of weights (out, in, row-major) and
    biases, with per layer (offset, n_in, n_out, activation code); and the widest layer."""
    import torch.nn as nn

    act = ACT_CODES[sur.config.activation]
    flat, meta, width = [], [], 0
    off = 0
    for m in sur.members:
        layers = [layer for layer in m if isinstance(layer, nn.Linear)]
        for k, layer in enumerate(layers):
            w = layer.weight.detach().cpu().double().numpy()
            b = layer.bias.detach().cpu().double().numpy()
            n_out, n_in = w.shape
            meta.append((off, n_in, n_out, act if k < len(layers) - 1 else 0))
            flat += [w.reshape(-1), b]
            off += w.size + b.size
            width = max(width, n_in, n_out)
    return (np.concatenate(flat), np.array(meta, dtype=np.int64),
            np.array([len(meta) // len(sur.members)], dtype=np.int64), width)  # fmt: skip


@njit(nogil=True, cache=True)
def _forward(x, params, meta, n_layers, width, y_mean, y_std, j_out, out, r_lo, r_hi):
    """The ensemble mean of output ``j_out`` for each row of ``x`` (scaled to the unit box),
    each row computed alone in float64 with loops in a fixed order (numba)."""
    n_mem = meta.shape[0] // n_layers
    for r in range(r_lo, r_hi):
        a = np.zeros(width)
        h = np.zeros(width)
        acc = 0.0
        for mem in range(n_mem):
            for i in range(x.shape[1]):
                a[i] = x[r, i]
            for li in range(mem * n_layers, (mem + 1) * n_layers):
                off, n_in, n_out, act = meta[li, 0], meta[li, 1], meta[li, 2], meta[li, 3]
                boff = off + n_in * n_out
                for o in range(n_out):
                    s = params[boff + o]
                    for i in range(n_in):
                        s += params[off + o * n_in + i] * a[i]
                    if act == 1:
                        s = 1.0 / (1.0 + math.exp(-s))
                    elif act == 2:
                        s = max(s, 0.0)
                    elif act == 3:
                        s = math.tanh(s)
                    elif act == 4:
                        s = 0.5 * s * (1.0 + math.erf(s / math.sqrt(2.0)))
                    h[o] = s
                for o in range(n_out):
                    a[o] = h[o]
            acc += a[j_out]
        out[r] = acc / n_mem * y_std + y_mean


class RateFunction:
    """A surrogate's output ``output`` (Hz) as a rate function of its parameters, for
    ``run_cell_network(rate_fns=...)``: (M, n_params) -> (M,) rates.

    The surrogate's layers are evaluated here row by row in float64 (``_forward``, numba),
    not by torch: a matrix product's rounding may depend on how many rows it multiplies, and
    a hybrid run, like every run, must not depend on the batch size or the thread count
    (bitwise). It agrees with ``Surrogate.predict`` (float32) to float32 rounding. Parameters
    outside the training box are clipped to it (counted in ``clipped``): a surrogate does not
    extrapolate, and the running average of a projection starts at 0 Hz, often below the box.
    Negative predictions are clipped to 0 by the engine."""

    def __init__(self, sur: Surrogate, output: str | None = None) -> None:
        rates = [n for n, u in zip(sur.output_names, sur.output_units, strict=True)
                 if u == "Hz"]  # fmt: skip
        if output is None:
            if len(sur.output_names) == 1:
                output = sur.output_names[0]
            elif len(rates) == 1:
                output = rates[0]
            else:
                raise SurrogateError(f"surrogate of {sur.model} has outputs "
                                     f"{', '.join(sur.output_names)}; allowed: one rate (Hz)")
        if output not in sur.output_names:
            raise SurrogateError(f"output {output!r}; allowed: {', '.join(sur.output_names)}")
        if sur.unit(output) not in ("Hz", ""):
            raise SurrogateError(f"output {output} of the surrogate of {sur.model} is in "
                                 f"{sur.unit(output)!r}; allowed: a rate in Hz")
        if sur.config.activation not in ACT_CODES:
            raise SurrogateError(f"activation {sur.config.activation!r}; allowed in a hybrid: "
                                 f"{', '.join(a for a in ACT_CODES if a != 'identity')}")
        self.surrogate = sur
        self.output = output
        self._j = sur.output_names.index(output)
        self._lo, self._hi = sur.domain[:, 0], sur.domain[:, 1]
        self._params, self._meta, n_layers, self._width = _flatten(sur)
        self._n_layers = int(n_layers[0])
        self.calls = self.rows = self.clipped = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if x.shape[1] != len(self._lo):
            raise SurrogateError(f"{x.shape[1]} parameters per row; the surrogate of "
                                 f"{self.surrogate.model} takes {len(self._lo)} "
                                 f"({', '.join(self.surrogate.parameter_names)})")
        xc = np.clip(x, self._lo, self._hi)
        self.calls += 1
        self.rows += len(x)
        self.clipped += int(np.count_nonzero(np.any(xc != x, axis=1)))
        xs = np.ascontiguousarray((xc - self._lo) / (self._hi - self._lo))
        out = np.empty(len(xs))
        run_on_threads(_forward, (xs, self._params, self._meta, self._n_layers, self._width,
                            float(self.surrogate.y_mean[self._j]),
                            float(self.surrogate.y_std[self._j]), self._j, out), len(xs))
        return out


@dataclass
class HybridNetwork:
    """A network of cells with surrogate populations, ready to run: the network with every
    ``map`` resolved, and each surrogate population's surrogate and rate function."""

    network: CellNetwork
    surrogates: dict[str, Surrogate] = field(default_factory=dict)
    rate_fns: dict[str, RateFunction] = field(default_factory=dict)

    def run(self, params=None, **kw) -> CellNetworkResult:
        """``run_cell_network`` of the hybrid (same arguments)."""
        return run_cell_network(self.network, params, rate_fns=self.rate_fns, **kw)

    def batch(self, conn_seed: int = 0) -> CellNetworkBatch:
        """A batch for ``run_batch`` and sweeps (outputs: the populations' rates)."""
        return CellNetworkBatch(cell_network_model(self.network), conn_seed, self.rate_fns)


def _training_network(sur: Surrogate) -> tuple[CellNetwork | None, str]:
    """The network of cells the surrogate was trained on, read from the file its provenance
    names when that file is still there unchanged; else None and why."""
    src = (sur.model_info or {}).get("source") or {}
    f = src.get("file")
    if not f:
        return None, "the surrogate records no model file"
    from neuroscape.models.contract import ModelSource

    if not Path(f).is_file():
        return None, f"its training network {f} is gone"
    if ModelSource(f, src.get("sha256", "")).changed():
        return None, f"its training network {f} has changed since"
    try:
        return load_cell_network(f), ""
    except CellNetworkError as exc:
        return None, f"its model file is not a network of cells ({exc})"


def resolve_bindings(net: CellNetwork, surrogates: Mapping[str, Surrogate]) -> CellNetwork:
    """``net`` with each surrogate population's ``map`` complete and in its surrogate's
    parameter order. Left out of ``map``: a parameter that is the rate of the training
    network's inputs takes every source onto the population not mapped elsewhere (when it is
    the only such parameter); ``n`` and ``weight`` come from that training input."""
    pops = []
    for pop in net.populations:
        if not pop.is_surrogate:
            pops.append(pop)
            continue
        sur = surrogates[pop.name]
        where = f"{net.origin or 'network'}: populations.{pop.name}"
        given = {b.param: b for b in pop.bindings}
        bad = [p for p in given if p not in sur.parameter_names]
        if bad:
            raise SurrogateError(f"{where}: map: {bad[0]!r} is not a parameter of the surrogate; "
                                 f"allowed: {', '.join(sur.parameter_names)}")
        train, why = _training_network(sur)
        # the training network's inputs by the parameter that is their rate
        rate_of: dict[str, list] = {}
        if train is not None:
            for i in train.inputs:
                if isinstance(i.rate, str):
                    rate_of.setdefault(i.rate, []).append(i)
        onto = [j.name for j in net.projections if j.post == pop.name] + [
            i.name for i in net.inputs if i.target == pop.name]  # fmt: skip
        used = {s for b in given.values() for s in b.sources}
        free = [s for s in onto if s not in used]
        rate_params = [p for p in sur.parameter_names if p in rate_of and p not in given]
        out = []
        for p in sur.parameter_names:
            b = given.get(p)
            if b is None:
                if p in rate_of and len(rate_params) == 1 and free:
                    b = SurrogateBinding(p, tuple(free))
                    free = []
                else:
                    hint = f" ({why})" if train is None else ""
                    raise SurrogateError(
                        f"{where}: map: the surrogate's parameter {p!r} is not mapped{hint}; "
                        f"allowed: map: {{{p}: {{from: [SOURCE, ...], n, weight}}}} or "
                        f"{{{p}: VALUE}}")
            if b.value is None and (b.n is None or b.weight is None):
                ins = rate_of.get(p, [])
                if len(ins) != 1 or isinstance(ins[0].weight, str):
                    reason = why if train is None else (
                        f"{len(ins)} training inputs have rate {p}" if len(ins) != 1
                        else f"the training input's weight is the parameter {ins[0].weight}")
                    raise SurrogateError(f"{where}: map: {p}: give n and weight (the training "
                                         f"input's); they cannot be read: {reason}")
                b = replace(b, n=b.n if b.n is not None else ins[0].n,
                            weight=b.weight if b.weight is not None else float(ins[0].weight))
            out.append(b)
        if free:
            raise SurrogateError(f"{where}: {free[0]} feeds the population but no parameter of "
                                 f"its surrogate; allowed: name it in map: PARAM: {{from: ...}}")
        pops.append(replace(pop, bindings=tuple(out)))
    return replace(net, populations=tuple(pops))


def hybrid_network(net: CellNetwork, device: str = "cpu") -> HybridNetwork:
    """The hybrid of ``net`` (a network of cells with surrogate populations): its surrogates
    loaded, its maps resolved (``resolve_bindings``), their rate functions."""
    surs: dict[str, Surrogate] = {}
    for pop in net.populations:
        if pop.is_surrogate:
            sur = load_surrogate(pop.surrogate, device=device)
            surs[pop.name] = sur
    resolved = resolve_bindings(net, surs)
    fns = {pn: RateFunction(s) for pn, s in surs.items()}
    hyb = HybridNetwork(resolved, surs, fns)
    for pn, s in surs.items():
        units = dict(zip(s.parameter_names, s.parameter_units, strict=True))
        for b in resolved.population(pn).bindings:
            if b.value is None and units.get(b.param) not in ("Hz", ""):
                warnings.warn(f"population {pn}: the surrogate's parameter {b.param} is in "
                              f"{units[b.param]!r}, fed a rate (Hz) from {', '.join(b.sources)}",
                              stacklevel=2)
    return hyb


def load_hybrid_network(path: str | Path, device: str = "cpu") -> HybridNetwork:
    """The hybrid network of the network file ``path`` (``hybrid_network``)."""
    return hybrid_network(load_cell_network(path), device=device)


def build_hybrid_network(data: Mapping, folder: str | Path = ".", origin: str = "",
                         device: str = "cpu") -> HybridNetwork:  # fmt: skip
    """The hybrid network of a description mapping (surrogates relative to ``folder``)."""
    return hybrid_network(build_cell_network(data, folder, origin), device=device)


def run_hybrid_network(net: HybridNetwork | CellNetwork | str | Path, params=None,
                       **kw) -> CellNetworkResult:  # fmt: skip
    """Run a hybrid network (an object, or a network file) as ``run_cell_network`` runs a
    network of cells (same keyword arguments)."""
    if isinstance(net, str | Path):
        net = load_hybrid_network(net)
    elif isinstance(net, CellNetwork):
        net = hybrid_network(net)
    return net.run(params, **kw)


def rate_functions(net: HybridNetwork) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The rate functions of a hybrid, by population (for ``run_cell_network``)."""
    return dict(net.rate_fns)


__all__ = [
    "HybridNetwork",
    "RateFunction",
    "build_hybrid_network",
    "hybrid_network",
    "load_hybrid_network",
    "rate_functions",
    "resolve_bindings",
    "run_hybrid_network",
]
