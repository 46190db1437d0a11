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

The fixed-step kernels hold one current over each step from t to t + dt: the stimulus at the
step's midpoint t + dt/2 (for a ramp the midpoint rule, second order in dt). A step's edge on
the time grid therefore switches at the step it starts; an edge off the grid switches at the
grid point nearest to it (the first step whose midpoint is at or after the edge). Noise and
Poisson kicks are drawn by the step's counter (the noisy window is read at the midpoint too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from neuroscape.core.rng import hi32, lo32, unit_float, word

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
    """A stimulus that cannot be used: unknown kind or field, or values outside what is
    allowed (the message names the row, the value and what is allowed)."""


def field_units(kind: str, current_unit: str, v_unit: str = "mV") -> dict[str, str]:
    """The unit of each of ``kind``'s fields, for a model whose current is in
    ``current_unit`` and whose membrane potential is in ``v_unit``."""
    units = {
        "amp": current_unit,
        "amp0": current_unit,
        "amp1": current_unit,
        "mean": current_unit,
        "sigma": f"{current_unit} ms^0.5",
        "t_on": "ms",
        "t_off": "ms",
        "rate_hz": "Hz",
        "weight": current_unit if kind == "poisson" else f"{current_unit}/{v_unit}",
        "tau_syn": "ms",
        "E_rev": v_unit,
    }
    return {f: units[f] for f in _FIELDS[kind]}


_TIMES = ("t_on", "t_off", "tau_syn")


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

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the kind's parameters (the first columns of ``values``)."""
        return _FIELDS[self.kind]

    def named(self, row: int = 0) -> dict[str, float]:
        """Row ``row``'s parameters by name (e.g. {"amp": 10, "t_on": 100, "t_off": inf})."""
        v = np.asarray(self.values, dtype=float)[min(row, len(self.values) - 1)]
        return dict(zip(self.fields, v.tolist(), strict=False))

    def current_at(self, t_ms: np.ndarray, row: int = 0) -> np.ndarray | None:
        """The injected current of row ``row`` at the times ``t_ms`` (``deterministic_current``;
        the kernels hold the value at t + dt/2 over the step from t); None for noisy and Poisson
        stimuli, whose current is drawn during the run."""
        if self.kind not in ("step", "ramp"):
            return None
        s = np.asarray(self.values, dtype=float)[min(row, len(self.values) - 1)]
        t = np.asarray(t_ms, dtype=float)
        if self.kind == "step":
            return np.where((t >= s[1]) & (t < s[2]), s[0], 0.0)
        inside = (t >= s[2]) & (t < s[3])
        with np.errstate(divide="ignore", invalid="ignore"):  # validate() refuses t_off <= t_on
            return np.where(inside, s[0] + (s[1] - s[0]) * (t - s[2]) / (s[3] - s[2]), 0.0)

    def validate(self) -> None:
        """Refuse values no run can use (non-finite amplitudes, t_on >= t_off, ...), with one
        line naming the row, the value and what is allowed."""
        if self.kind not in KINDS:
            raise StimulusError(f"unknown stimulus {self.kind!r}; allowed: {', '.join(KINDS)}")
        v = np.asarray(self.values, dtype=float)
        if v.ndim != 2 or v.shape[1] != 4 or v.shape[0] < 1:
            raise StimulusError(
                f"{self.kind} stimulus values have shape {v.shape}; allowed: (rows, 4)"
            )
        fields = _FIELDS[self.kind]

        def refuse(mask, what: str, allowed: str) -> None:
            if np.any(mask):
                r = int(np.argmax(mask))
                vals = ", ".join(
                    f"{f}={v[r, fields.index(f)]:g}" + (" ms" if f in _TIMES else "")
                    for f in what.split(",")
                )
                where = f"row {r}: " if len(v) > 1 else ""
                raise StimulusError(f"{self.kind} stimulus {where}{vals}; allowed: {allowed}")

        for j, f in enumerate(fields):
            if f != "t_off":  # t_off = inf: on until the end of the run
                refuse(~np.isfinite(v[:, j]), f, "a finite number")
        if "t_on" in fields:
            on, off = v[:, fields.index("t_on")], v[:, fields.index("t_off")]
            refuse(np.isnan(off), "t_off", "a time in ms, or inf (on until the end)")
            refuse(on < 0, "t_on", "t_on >= 0 ms")
            refuse(~(on < off), "t_on,t_off", "t_on < t_off")
            if self.kind == "ramp":
                refuse(~np.isfinite(off), "t_off", "a finite end time for a ramp")
        if self.kind == "noisy":
            refuse(v[:, 1] < 0, "sigma", "sigma >= 0")
        if self.kind.startswith("poisson"):
            refuse(v[:, 0] < 0, "rate_hz", "rate_hz >= 0")
            refuse(~(v[:, 2] > 0), "tau_syn", "tau_syn > 0 ms")
        if self.kind == "poisson_conductance":
            refuse(v[:, 1] < 0, "weight", "weight >= 0 (a conductance)")

    def check(self, duration_ms: float) -> None:
        """``validate``, and refuse a stimulus that never acts within a run of ``duration_ms``
        (t_on at or after the end of the run)."""
        self.validate()
        if "t_on" in self.fields:
            v = np.asarray(self.values, dtype=float)
            on = v[:, self.fields.index("t_on")]
            late = on >= duration_ms
            if late.any():
                r = int(np.argmax(late))
                where = f"row {r}: " if len(v) > 1 else ""
                raise StimulusError(
                    f"{self.kind} stimulus {where}t_on={on[r]:g} ms is not before the end of the "
                    f"run (duration_ms={duration_ms:g}): it never acts; allowed: "
                    f"t_on < {duration_ms:g} ms"
                )

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
        try:
            col = np.atleast_1d(np.asarray(kw.get(f, _DEFAULTS.get(f)), dtype=float))
        except (TypeError, ValueError):
            raise StimulusError(f"{kind} stimulus {f}={kw.get(f)!r}; allowed: numbers") from None
        if col.ndim != 1:
            raise StimulusError(f"{kind} stimulus {f} has shape {col.shape}; allowed: 1-D")
        cols.append(col)
    n = max(len(c) for c in cols)
    for f, c in zip(fields, cols, strict=True):
        if len(c) not in (1, n):
            raise StimulusError(
                f"{kind} stimulus {f} has {len(c)} values; allowed: 1 or {n} (one per row)"
            )
    cols = [np.broadcast_to(c, (n,)) for c in cols]
    while len(cols) < 4:
        cols.append(np.zeros(n))
    values = np.column_stack(cols)
    stim = Stimulus(kind, values)
    stim.validate()
    return stim


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
    """Current held over the step number ``step`` (t: the time the kernels read a step or ramp
    at, the step's midpoint; membrane potential v at the step's start); returns (I, new synaptic
    state: a current for ``poisson``, a conductance for ``poisson_conductance``)."""
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
