"""float32 state in the network engine: the circuit (declared float32) against itself at float64.

Single trajectories part within a few hundred ms (the rounding differs in the last float32 bit,
and a chaotic network amplifies it), so the truth here is statistical: on the same rows and
noise keys, the paired differences of the rates must be consistent with zero (3 SE) and small in
absolute terms. Against Brian2 the float32 circuit is held to the same bars as before
(tests/reference/test_brian2_circuit.py).
"""

import dataclasses

import numpy as np
import pytest

from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.network import NetworkError, network, network_model
from neuroscape.sim.network_engine import NetworkBatch


@pytest.fixture(scope="module")
def pair():
    n32 = network("cortical")
    assert n32.precision == "float32"
    n64 = dataclasses.replace(n32, precision="float64")
    rng = np.random.default_rng(4)
    lo, hi = n32.spec.bounds.T
    params = lo + (hi - lo) * rng.random((96, len(lo)))
    keys = row_keys(11, np.arange(len(params)))
    st = SimSettings(1500.0, 0.1, 1000.0, "auto")
    out = {}
    for name, net in (("f32", n32), ("f64", n64)):
        res = NetworkBatch(net, conn_seed=0).run_chunk(params, keys, st, "cpu", Recording())
        assert res.ok.all()
        out[name] = res.outputs
    return out


@pytest.mark.slow  # the circuit in both precisions over seeds: 15 s
def test_float32_rates_agree_with_float64(pair):
    a, b = pair["f32"], pair["f64"]
    active = b[:, 1] > 1.0
    assert active.sum() > 40  # most of the domain fires, so the test compares something
    d = (a - b)[active]
    se = d.std(0, ddof=1) / np.sqrt(len(d))
    assert np.all(np.abs(d.mean(0)) <= 3 * se + 1e-12), (d.mean(0), se)
    # and small: well under the seed-to-seed noise of a 1-s rate (about 1-3% here)
    assert np.all(np.abs(d.mean(0)) <= 0.005 * b[active].mean(0))
    # not identical: the float32 kernel really runs in float32
    assert np.any(a != b)


def test_float32_is_declared_and_checked_in_one_line():
    base = {
        "name": "p32", "populations": {"A": {"size": 2, "model": "lif"}},
        "outputs": {"r": {"rate": "A"}}, "settings": {"precision": "float16"},
    }
    with pytest.raises(NetworkError, match=r"precision 'float16'; allowed: float64, float32") as e:
        network_model(base)
    assert "\n" not in str(e.value)
