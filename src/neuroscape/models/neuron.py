"""Single-neuron models as data: parameters, state variables and a few jitted functions.

A model module defines, at module level, numba-jitted scalar functions that the generated kernel
imports by name (so their machine code is cached with the kernel):

- ``rhs(y0, ..., I, p0, ...)`` -> tuple of the states' derivatives (I: injected current);
- optionally ``linear(y0, ..., I, p0, ...)`` -> (A0, B0, A1, B1, ...) with dy_i/dt = A_i y_i + B_i,
  A_i and B_i free of y_i (conditionally linear), which enables the exponential Euler scheme;
- for integrate-and-fire models, ``threshold(y..., p...)`` -> bool and
  ``reset(y..., p...)`` -> tuple of the states after the spike.

Models without a reset (Hodgkin-Huxley, FitzHugh-Nagumo) report spikes as upward crossings of
``spike_level`` by the first state, with the time interpolated linearly inside the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from neuroscape.core.spec import ModelSpec, Output
from neuroscape.models.contract import Model

# What a single-neuron run reports, for every model (the behaviour class goes into the label)
NEURON_OUTPUTS = (
    Output("rate", "Hz", "firing rate over the recording window"),
    Output("cv_isi", "1", "coefficient of variation of the interspike intervals (NaN: < 3 spikes)"),
)
BEHAVIOURS = ("silent", "tonic", "bursting", "irregular")
# the label of a failed row whose spikes follow each other within a couple of time steps: after
# the reset the model is at once above threshold again, so the rate is set by dt, not the model
RUNAWAY = "runaway"


def classify_spikes(times_ms: np.ndarray, t_start: float, t_end: float) -> tuple[str, float]:
    """Behaviour class of a spike train in [t_start, t_end) (ms) and the CV of its intervals.

    silent: fewer than 3 spikes; bursting: the sorted intervals split, at a jump of more than
    3x, into short intra-burst intervals (>= 25% of them) and at least 2 long inter-burst
    intervals; tonic: CV < 0.3; irregular: anything else.
    """
    labels, cvs = classify_spike_trains([times_ms], t_start, t_end)
    return labels[0], float(cvs[0])


def classify_spike_trains(
    trains: list[np.ndarray], t_start: float, t_end: float
) -> tuple[list[str], np.ndarray]:
    """``classify_spikes`` of every train (spike times in ms) in one compiled pass: (labels,
    CVs). Per-train NumPy calls cost about 60 us of interpreter time per row, more than a 1-s
    LIF run; a batch of 10^5 rows then spent a third of its time here, holding the GIL."""
    lens = np.fromiter((len(t) for t in trains), dtype=np.int64, count=len(trains))
    off = np.zeros(len(trains) + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    flat = (np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in trains])
            if len(trains) else np.empty(0))  # fmt: skip
    code, cv = _classify_flat(flat, off, float(t_start), float(t_end))
    return [BEHAVIOURS[c] for c in code.tolist()], cv


@njit(cache=True, error_model="numpy")
def _classify_flat(t, off, t_start, t_end):
    """Codes (indices into BEHAVIOURS) and CVs of the trains t[off[r]:off[r + 1]]."""
    b = len(off) - 1
    code = np.zeros(b, dtype=np.int64)
    cv = np.full(b, np.nan)
    w = np.empty(np.max(np.diff(off)) if b else 0)  # one buffer for every train's window
    for r in range(b):
        n = 0
        for k in range(off[r], off[r + 1]):
            if t[k] >= t_start and t[k] < t_end:
                w[n] = t[k]
                n += 1
        if n < 3:
            continue  # silent
        isi = w[1:n] - w[: n - 1]
        c = isi.std() / isi.mean()
        s = np.sort(isi)
        ratios = s[1:] / np.maximum(s[:-1], 1e-12)
        k = np.argmax(ratios)
        n_short, n_long = k + 1, len(s) - k - 1
        if ratios[k] > 3.0 and n_short >= 0.25 * len(s) and n_long >= 2:
            code[r] = 2  # bursting
        else:
            code[r] = 1 if c < 0.3 else 3  # tonic, irregular
        cv[r] = c
    return code, cv


@dataclass(frozen=True)
class EquationSystem:
    """A neuron model's equations as sympy expressions over the positional symbols of the
    generated functions: states ``y0, y1, ...`` (each a number in its declared unit), the
    injected current ``cur`` and parameters ``p0, p1, ...``; time in ms.

    rhs: d(y_i)/dt as integrated (with the membrane potential held at the threshold inside the
    crossing step where ``clamped``); rhs_free: the same without that hold; linear:
    (A0, B0, A1, B1, ...) with dy_i/dt = A_i y_i + B_i, or None when not conditionally linear;
    threshold: a relational (None without reset); reset: the states' new values (None without
    reset); initial: the initial states as expressions of the parameters."""

    states: tuple  # sympy Symbols y0..
    params: tuple  # sympy Symbols p0..
    current: object  # sympy Symbol cur
    rhs: tuple
    rhs_free: tuple
    linear: tuple | None
    threshold: object | None
    reset: tuple | None
    initial: tuple


@dataclass(frozen=True, repr=False)
class NeuronModel(Model):
    """A single-neuron model: its declaration and the jitted pieces the neuron engine
    (``neuroscape.sim.neuron_engine``) generates its kernels from. Its batch option is the
    injected current (``stimulus``)."""

    kind = "neuron"
    run_options = ("stimulus",)

    spec: ModelSpec
    module: str  # import path of the module holding the jitted functions
    states: tuple[str, ...]  # states[0] is the membrane potential (or its analogue)
    initial_state: Callable[[np.ndarray], np.ndarray]  # (B, n_params) -> (B, n_states)
    current_unit: str
    state_units: tuple[str, ...] = ()  # one per state ("1": dimensionless); required
    has_reset: bool = False  # threshold/reset (integrate-and-fire type)
    refractory_param: str | None = None  # name of a parameter holding t_ref (ms)
    refractory_ms: float = 0.0  # a fixed t_ref (ms) when no parameter holds it
    # precise_reset: the threshold crossing is interpolated inside the step, the reset and the
    # refractory period start then, and the membrane is released off the step grid (so spike
    # timing is not biased by dt/2 per interval); threshold_level, the V at which ``threshold``
    # turns true (a parameter's name or a number), is what is interpolated. Without it a spike
    # is registered at the end of the crossing step and V is held for round(t_ref/dt) - 1
    # steps (Brian2's semantics)
    precise_reset: bool = False
    # Brian2's '(unless refractory)' on the membrane potential: V held at its reset value during
    # the refractory period (True); False: V integrates through it, only the threshold waits
    hold_refractory: bool = True
    threshold_level: str | float | None = None
    spike_level: float = 0.0  # for models without reset: upward crossing of this level
    conditionally_linear: bool = False  # provides ``linear`` for exponential Euler
    max_dt_ms: float = 1.0  # coarsest step the explicit schemes are accepted at
    presets: dict[str, dict[str, float]] = field(default_factory=dict)
    # gating variables (states[1:]) with tabulated exponential-Euler updates: the module then
    # defines ``voltage_linear(y..., I, p...) -> (A, B)`` for dV/dt = A V + B (where V is not
    # linear in itself, the linearisation at the present state) and ``gate_tables(v_grid,
    # params_row, dt) -> (n_grid, 2 n_gates)`` of (exp(A_x dt), x_inf = -B_x/A_x) per gate for
    # dx/dt = A_x x + B_x, the grid in V's declared unit; ``table_params`` names the parameters
    # the tables depend on.
    gate_tables: bool = False
    table_params: tuple[str, ...] = ()
    # names of the module's functions when they differ from rhs/linear/threshold/reset
    function_names: dict[str, str] = field(default_factory=dict)
    # the sympy form of the model, for models built from equations (other code generators,
    # e.g. torch, and other schemes read it); None for hand-written modules
    equations: EquationSystem | None = None

    def __post_init__(self) -> None:
        if len(self.state_units) != len(self.states):
            raise ValueError(
                f"model {self.spec.name}: state_units {self.state_units} must give one unit per "
                f"state {self.states}"
            )

    @property
    def v_unit(self) -> str:
        """The unit of the membrane potential (the first state)."""
        return self.state_units[0]

    def function_name(self, role: str) -> str:
        return self.function_names.get(role, role)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def default_dt_ms(self) -> float:
        """The declared time step (ms): ``spec.settings.dt_ms``."""
        return self.spec.settings.dt_ms

    def functions(self):
        import importlib

        return importlib.import_module(self.module)
