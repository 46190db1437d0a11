"""Injected-current stimuli for single-neuron simulations, one per batch row.

Kinds and their four parameters (currents in the model's current unit, times in ms):
  step:    amp, t_on, t_off, -            I = amp for t_on <= t < t_off
  ramp:    amp0, amp1, t_on, t_off        linear from amp0 at t_on to amp1 at t_off, 0 outside
  noisy:   mean, sigma, t_on, t_off       I = mean + sigma xi / sqrt(dt), xi ~ N(0, 1) per step
                                          (white noise; sigma in current x sqrt(ms))
  poisson: rate_hz, weight, tau_syn, -    exponential current synapse driven by a Poisson train:
                                          tau_syn dI/dt = -I, and I jumps by ``weight`` per spike
  poisson_conductance: rate_hz, weight, tau_syn, E_rev
                                          exponential conductance synapse: g jumps by ``weight``
                                          per spike, decays with tau_syn; I = g (E_rev - V)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from neuroscape.sim.rng import hi32, lo32, unit_float, word

KINDS = {"step": 0, "ramp": 1, "noisy": 2, "poisson": 3, "poisson_conductance": 4}
_FIELDS = {
    "step": ("amp", "t_on", "t_off"),
    "ramp": ("amp0", "amp1", "t_on", "t_off"),
    "noisy": ("mean", "sigma", "t_on", "t_off"),
    "poisson": ("rate_hz", "weight", "tau_syn"),
    "poisson_conductance": ("rate_hz", "weight", "tau_syn", "E_rev"),
}
_DEFAULTS = {"t_on": 0.0, "t_off": np.inf}


class StimulusError(ValueError):
    pass


@dataclass(frozen=True)
class Stimulus:
    """A stimulus kind with per-row parameters ``values`` of shape (B or 1, 4)."""

    kind: str
    values: np.ndarray

    @property
    def code(self) -> int:
        return KINDS[self.kind]

    def describe(self) -> dict:
        """JSON-ready: the kind and its rows of parameters (what a database records)."""
        return {"kind": self.kind, "values": np.asarray(self.values, dtype=float).tolist()}

    def rows(self, b: int) -> np.ndarray:
        v = np.asarray(self.values, dtype=float)
        if v.shape[0] not in (1, b):
            raise StimulusError(f"stimulus has {v.shape[0]} rows; allowed: 1 or the batch size {b}")
        return np.ascontiguousarray(np.broadcast_to(v, (b, 4)))


def make_stimulus(kind: str, **kw) -> Stimulus:
    """E.g. ``make_stimulus("step", amp=[5, 10, 15], t_on=10)``; arrays give one row each."""
    if kind not in KINDS:
        raise StimulusError(f"unknown stimulus {kind!r}; allowed: {', '.join(KINDS)}")
    fields = _FIELDS[kind]
    unknown = set(kw) - set(fields)
    if unknown:
        raise StimulusError(
            f"{kind} stimulus has no parameter {sorted(unknown)[0]!r}; allowed: {', '.join(fields)}"
        )
    cols = []
    for f in fields:
        if f not in kw and f not in _DEFAULTS:
            raise StimulusError(f"{kind} stimulus needs {f}")
        cols.append(np.atleast_1d(np.asarray(kw.get(f, _DEFAULTS.get(f)), dtype=float)))
    n = max(len(c) for c in cols)
    cols = [np.broadcast_to(c, (n,)) for c in cols]
    while len(cols) < 4:
        cols.append(np.zeros(n))
    values = np.column_stack(cols)
    if kind.startswith("poisson") and (np.any(values[:, 0] < 0) or np.any(values[:, 2] <= 0)):
        raise StimulusError(f"{kind} stimulus needs rate_hz >= 0 and tau_syn > 0 ms")
    if kind == "noisy" and np.any(values[:, 1] < 0):
        raise StimulusError("noisy stimulus needs sigma >= 0")
    return Stimulus(kind, values)


_TWO_PI = 2.0 * np.pi
_STIM_STREAM = np.uint64(0x5717 << 48)


@njit(inline="always", cache=True)
def deterministic_current(kind, s0, s1, s2, s3, t):
    """The current of a ``step`` (kind 0) or ``ramp`` (kind 1) at time t, branch-free in the
    neuron index so that the block kernel's inner loop vectorizes."""
    if kind == 0:
        return s0 if (t >= s1 and t < s2) else 0.0
    inside = t >= s2 and t < s3
    return (s0 + (s1 - s0) * (t - s2) / (s3 - s2)) if inside else 0.0


@njit(inline="always", cache=True)
def stimulus_current(kind, s0, s1, s2, s3, t, dt, step, key, isyn, v):
    """Current during the step starting at t (membrane potential v then); returns
    (I, new synaptic state: a current for ``poisson``, a conductance for
    ``poisson_conductance``)."""
    if kind == 0:
        return (s0 if (t >= s1 and t < s2) else 0.0), isyn
    if kind == 1:
        if t < s2 or t >= s3:
            return 0.0, isyn
        return s0 + (s1 - s0) * (t - s2) / (s3 - s2), isyn
    if kind == 2:
        if t < s2 or t >= s3:
            return 0.0, isyn
        x = word(key, _STIM_STREAM | np.uint64(step))
        u1 = (np.float64(lo32(x)) + 1.0) / 4294967297.0  # (0, 1): log is finite
        u2 = np.float64(hi32(x)) / 4294967296.0
        xi = np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)  # Box-Muller
        return s0 + s1 * xi / np.sqrt(dt), isyn
    # poisson-driven exponential synapse (current or conductance): decay, then the step's kicks
    lam = s0 * dt * 1e-3
    u = unit_float(word(key, _STIM_STREAM | np.uint64(step)))
    k = 0
    p = np.exp(-lam)
    c = p
    while u > c and k < 10000:  # inverse-CDF search; lam is small per step
        k += 1
        p *= lam / k
        c += p
    isyn = isyn * np.exp(-dt / s2) + s1 * k
    if kind == 4:
        return isyn * (s3 - v), isyn
    return isyn, isyn
