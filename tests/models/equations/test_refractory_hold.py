"""Brian2's '(unless refractory)': with the flag V is held at its reset during the refractory
period; without it V integrates through it and only the threshold waits (Stimberg, Brette and
Goodman 2019). Checked against the LIF's closed form, V(t) = V_inf + (V_0 - V_inf) e^(-t/tau)."""

import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.equations import equation_model
from neuroscape.sim.neuron_engine import simulate_neurons

FIELDS = dict(
    current={"name": "I", "unit": "nA"},
    threshold="v > V_th",
    reset="v = V_r",
    refractory="5 ms",
    initial={"v": "V_r"},
    parameters={
        "V_th": {"default": "-50 mV", "low": "-60 mV", "high": "0 mV"},
        "V_r": {"default": "-70 mV", "low": "-90 mV", "high": "-50 mV"},
        "tau": {"default": "10 ms", "low": "1 ms", "high": "100 ms"},
    },
)
EQ = "dv/dt = (-70*mV - v + 100*MOhm*I)/tau : mV"  # V_inf = -70 mV + 100 MOhm * I


def _isi(v_inf, v0, v_th=-50.0, tau=10.0):
    return tau * np.log((v_inf - v0) / (v_inf - v_th))


@pytest.mark.parametrize("grid", [False, True])
# torch launches every step from Python: 60,000 steps take tens of seconds
@pytest.mark.parametrize("device", ["cpu", pytest.param("torch-cpu", marks=pytest.mark.slow)])
def test_unless_refractory_holds_v_and_its_absence_does_not(grid, device):
    timing = {"spike_timing": "grid"} if grid else {}
    held = equation_model(name="lif_held", equations=EQ + " (unless refractory)", **FIELDS,
                          **timing)  # fmt: skip
    free = equation_model(name="lif_free", equations=EQ, **FIELDS, **timing)
    assert held.hold_refractory and not free.hold_refractory
    amp = 0.3  # nA: V_inf = -40 mV
    dt = 0.001
    # spikes (closed form): held at 10.99, 26.98, 42.97, 58.96 ms, free every 10.99 ms. The
    # torch back end pays per step (Python launches), so it runs 45 ms (75% of the cost): still
    # two held intervals and three free ones, each checked against the closed form
    duration = 60.0 if device == "cpu" else 45.0
    res = [simulate_neurons(m, {}, make_stimulus("step", amp=amp, t_on=0.0),
                            duration_ms=duration,
                            dt_ms=dt,
                            device=device).spike_times[0]
           for m in (held, free)]  # fmt: skip
    t_held, t_free = res
    # held: every interval is t_ref plus the free run from V_r to threshold
    want = 5.0 + _isi(-40.0, -70.0)
    tol = 2 * dt if grid else 1e-6
    assert len(t_held) >= 3 and len(t_free) >= 4, (t_held, t_free)
    np.testing.assert_allclose(np.diff(t_held), want, atol=tol)
    # not held: V runs on from V_r during the 5 ms; the closed form from V_r over 5 ms is below
    # threshold (-40 + (-30) e^-0.5 = -58.2 mV), so the next crossing comes after the release,
    # from that V: interval = _isi from V_r, shorter than t_ref + the held run
    want_free = _isi(-40.0, -70.0)
    assert want_free > 5.0  # the crossing comes after the refractory period ends
    np.testing.assert_allclose(np.diff(t_free), want_free, atol=tol)
    assert np.diff(t_free)[0] < np.diff(t_held)[0] - 4.0
