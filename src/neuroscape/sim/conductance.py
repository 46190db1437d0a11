"""The conductance-based I&F neuron under constant conductances: the neuron engine's check against
the closed-form interspike interval (``neuroscape.models.cond_if.closed_form_isi``)."""

from __future__ import annotations

import numpy as np

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import get_neuron_model
from neuroscape.models.cond_if import CONSTANTS
from neuroscape.sim.neuron_engine import simulate_neurons


def simulate_constant(
    g_e: np.ndarray,
    g_i: np.ndarray,
    duration_ms: float,
    dt_ms: float,
    integrator: str = "midpoint",
    record_from_ms: float = 0.0,
    v0: float | np.ndarray = 0.0,
    record_v: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rates (Hz) of B neurons with constant conductances; optionally the V traces (B, n_steps).

    A thin wrapper over the neuron engine with no injected current.
    """
    g_e, g_i = np.broadcast_arrays(np.atleast_1d(g_e), np.atleast_1d(g_i))
    p = np.column_stack([g_e, g_i, np.full(len(g_e), CONSTANTS["t_ref"])])
    res = simulate_neurons(
        get_neuron_model("cond_if"),
        p,
        make_stimulus("step", amp=0.0),
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        window_ms=duration_ms - record_from_ms,
        integrator=integrator,
        record_v=record_v,
        allow_outside=True,
        y0=np.broadcast_to(np.asarray(v0, float), (len(p),))[:, None],
    )
    return res.rates, (res.v if record_v else None)
