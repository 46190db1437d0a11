"""The fixed-step kernels hold each step's current at the step's midpoint, against closed forms
of the leaky integrator tau dV/dt = -(V - V_rest) + R I (the LIF below its threshold):

- under a ramp I = k t the error is second order in dt (halving dt quarters it); holding the
  value at the step's start lags the input by dt/2 and is first order (halving dt halves it);
- a step's edge on the grid switches at the step it starts, an edge off the grid at the grid
  point nearest to it (``core.stimuli``'s module text).

The truths are the closed forms, not outputs of the engine."""

import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.sim.neuron_engine import simulate_neurons

LIF = {"V_rest": -65.0, "V_th": 0.0, "tau": 10.0, "R": 10.0}  # mV, ms, MOhm: no spike below
T_END = 40.0  # ms
K = 0.05  # nA/ms: the ramp I = K t from 0 to 2 nA over 40 ms (R I up to 20 mV)


def ramp_truth(t):
    """V (mV) under I = K t from V_rest at t = 0: R K (t - tau (1 - exp(-t/tau))) above rest."""
    tau, r = LIF["tau"], LIF["R"]
    return LIF["V_rest"] + r * K * (t - tau * (1.0 - np.exp(-t / tau)))


def ramp_error(integrator: str, dt: float, device: str = "cpu") -> float:
    stim = make_stimulus("ramp", amp0=0.0, amp1=K * T_END, t_on=0.0, t_off=T_END)
    res = simulate_neurons("lif", LIF, stim, duration_ms=T_END, dt_ms=dt, integrator=integrator,
                           record_v=True, device=device)  # fmt: skip
    assert res.ok[0] and len(res.spike_times[0]) == 0
    return float(np.abs(res.v[0] - ramp_truth(res.t_v)).max())


@pytest.mark.parametrize("integrator", ["exponential_euler", "exact", "rk4"])
def test_a_ramp_is_integrated_to_second_order(integrator):
    e1, e2, e4 = (ramp_error(integrator, dt) for dt in (0.2, 0.1, 0.05))
    # the midpoint rule's global error for this input: R K dt^2 / (12 tau) (1 - exp(-t/tau))
    # at most, 1.6e-4 mV at 0.2 ms; the start value's would be R K dt / 2, 0.05 mV
    assert e1 < 3e-4
    assert 3.6 < e1 / e2 < 4.4 and 3.6 < e2 / e4 < 4.4, (e1, e2, e4)


def test_torch_holds_the_same_midpoint_current():
    pytest.importorskip("torch")
    e1, e2 = (ramp_error("exponential_euler", dt, "torch-cpu") for dt in (0.2, 0.1))
    assert e1 < 3e-4 and 3.6 < e1 / e2 < 4.4, (e1, e2)


def step_truth(t, t_on, amp):
    """V (mV) under a step of ``amp`` nA switched on at ``t_on`` ms."""
    tau, r = LIF["tau"], LIF["R"]
    u = np.where(t >= t_on, r * amp * (1.0 - np.exp(-np.maximum(t - t_on, 0.0) / tau)), 0.0)
    return LIF["V_rest"] + u


@pytest.mark.parametrize("t_on,switch", [(1.0, 1.0), (1.03, 1.0), (1.07, 1.1), (0.3, 0.3)])
def test_step_edges_switch_at_the_nearest_grid_point(t_on, switch):
    # exponential Euler is exact for a current held over a step: the trace is the closed form
    # with the edge at ``switch`` to rounding (an edge 0.02 ms away would differ by 0.02 mV)
    dt, amp = 0.1, 1.0
    stim = make_stimulus("step", amp=amp, t_on=t_on)
    res = simulate_neurons("lif", LIF, stim, duration_ms=5.0, dt_ms=dt,
                           integrator="exponential_euler", record_v=True)  # fmt: skip
    np.testing.assert_allclose(res.v[0], step_truth(res.t_v, switch, amp), rtol=0, atol=1e-10)
