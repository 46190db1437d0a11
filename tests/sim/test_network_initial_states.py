"""``initial_states``: a network's drawn initial states for one parameter set and seed, as the run
with that seed starts from them (checked through the closed form of one leaky step)."""

import numpy as np

from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.network import network_model
from neuroscape.sim.engine import batch_for
from neuroscape.sim.network_engine import initial_states

LEAK = {"name": "leak", "equations": "dv/dt = (-70*mV - v + I)/(10*ms) : mV",
        "current": {"name": "I", "unit": "mV"}, "threshold": "v > 0*mV", "reset": "v = -70*mV",
        "spike_timing": "grid",
        "initial": {"v": "-70 mV"}}
DT = 0.1  # ms


def _net():
    return network_model({
        "name": "drawn_v",
        "populations": {"A": {"size": 5, "model": LEAK,
                              "initial": {"v": "-60*mV + rand()*10*mV"}},
                        "B": {"size": 3, "model": LEAK}},
        "settings": {"duration": "1 ms", "dt": f"{DT} ms", "window": "1 ms"}})


def test_initial_states_are_the_run_s():
    net = _net()
    y0 = initial_states(net, seed=4)
    assert y0["A"].shape == (5, 1) and y0["B"].shape == (3, 1)
    v0 = y0["A"][:, 0]
    assert np.all((v0 >= -60) & (v0 < -50)) and len(np.unique(v0)) == 5
    np.testing.assert_array_equal(y0["B"][:, 0], -70.0)
    assert not np.array_equal(initial_states(net, seed=5)["A"], y0["A"])
    b = batch_for(net, conn_seed=0)
    s = SimSettings.for_model(net.spec, duration_ms=1.0, window_ms=1.0)
    res = b.run_chunk(net.spec.params_array([{}]), row_keys(4, np.arange(1)), s, "cpu",
                      Recording(v_neurons=tuple(range(5))))
    # the first recorded sample is after one step of the exact leak from v0
    v1 = -70.0 + (v0 + 70.0) * np.exp(-DT / 10.0)
    np.testing.assert_allclose(res.voltages[0, :, 0], v1, rtol=0, atol=1e-4)
