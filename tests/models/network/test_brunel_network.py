"""The network ``brunel`` (Brunel 2000, model A) as a description file on the network engine:
its structure against the paper's definitions, and its rates against the mean-field theory
(the Siegert formula solved self-consistently, ``mean_field.brunel_rate``)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroscape.models.network import network
from neuroscape.models.theory import mean_field as mf


@pytest.fixture(scope="module")
def net():
    return network("brunel")


def test_brunel_declares_the_papers_network(net):
    spec = net.spec
    assert list(spec.parameter_names) == ["g", "eta", "J", "tau", "theta", "V_r", "t_ref"]
    units = {p.name: p.unit for p in spec.parameters}
    assert units == {"g": "1", "eta": "1", "J": "mV", "tau": "ms", "theta": "mV", "V_r": "mV",
                     "t_ref": "ms"}  # fmt: skip
    assert {o.name: o.unit for o in spec.outputs} == {"r_E": "Hz", "r_I": "Hz", "cv_E": "1",
                                                     "sync_E": "1"}  # fmt: skip
    # Brunel's defaults: tau 20 ms, theta 20 mV, V_r 10 mV, t_ref 2 ms, J 0.1 mV
    assert spec.defaults == {"g": 5.0, "eta": 2.0, "J": 0.1, "tau": 20.0, "theta": 20.0,
                             "V_r": 10.0, "t_ref": 2.0}  # fmt: skip
    assert net.sizes == {"E": 10_000, "I": 2_500}
    rules = {j.name: j.rule for j in net.projections}
    # fixed in-degree C_E = eps N_E = 1000 from E, C_I = eps N_I = 250 from I (eps = 0.1)
    assert {k: (r["kind"], r["k"]) for k, r in rules.items()} == {
        "E_to_E": ("in_degree", 1000), "E_to_I": ("in_degree", 1000),
        "I_to_E": ("in_degree", 250), "I_to_I": ("in_degree", 250)}  # fmt: skip
    assert all(float(j.delay) == 1.5 for j in net.projections)  # D = 1.5 ms
    p = mf.network_parameters(net)
    assert (p["epsilon"], p["N_E"], p["N_I"]) == (0.1, 10_000.0, 2_500.0)


@pytest.mark.parametrize("g, eta, j", [(5.0, 2.0, 0.1), (8.0, 1.0, 0.2)])
def test_brunel_synapses_and_external_drive(net, g, eta, j):
    """PSPs J and -g J; external drive C_E x eta nu_thr with nu_thr = theta / (J C_E tau), the
    rate that brings the mean input to threshold (Brunel 2000, eq. 5): eta theta / (J tau)."""
    row = net.spec.params_array({"g": g, "eta": eta, "J": j})
    effect = {jp.name: float(net.evaluate(jp.on_pre[0].expr, row)[0]) for jp in net.projections}
    assert effect == pytest.approx({"E_to_E": j, "E_to_I": j, "I_to_E": -g * j,
                                    "I_to_I": -g * j})  # fmt: skip
    assert {i.target for i in net.inputs} == {"E", "I"}
    for inp in net.inputs:
        total_hz = float(net.evaluate(inp.rate, row)[0]) * inp.n
        assert total_hz == pytest.approx(eta * 20.0 / (j * 20.0) * 1e3)
        assert float(net.evaluate(inp.value, row)[0]) == pytest.approx(j)  # v += J (mV)


def test_mean_field_refuses_a_network_that_is_not_brunels():
    with pytest.raises(ValueError, match="'cuba' has no parameter 'g'"):
        mf.network_parameters(network("cuba"))
    with pytest.raises(ValueError, match="brunel_rate: unknown parameter 'N'"):
        mf.brunel_rate({"N": 100})


@pytest.mark.slow
def test_brunel_network_against_mean_field(net):
    """The truth: Brunel's self-consistent rate (Siegert formula, diffusion approximation) for
    g = 5, 6 and 8 at eta = 2, the asynchronous irregular branch of Brunel's (2000) Fig. 2 for
    D = 1.5 ms (g = 5, eta = 2 is his Fig. 8C): the simulated E and I rates within 10% of the
    theory (measured: within 2%); irregular firing (CV of the ISIs > 0.3; the diffusion theory's
    CV is 0.68-0.87 here, the simulated one 0.4-0.7 and rising with g like it); weak synchrony
    (variance over mean of the E population's 1-ms count < 200, i.e. a mean pairwise count
    correlation below 0.02 among 10,000 neurons)."""
    from neuroscape.api import simulate

    rows = [{"g": g, "eta": 2.0} for g in (5.0, 6.0, 8.0)]
    res = simulate(net, rows, seed=1, conn_seed=0)
    assert res.settings.duration_ms == 1000.0 and res.settings.window_ms == 800.0
    theory = np.array([mf.brunel_rate(mf.network_parameters(net, r)) for r in rows])
    assert np.all(np.abs(res["r_E"] / theory - 1) < 0.10), (res["r_E"], theory)
    assert np.all(np.abs(res["r_I"] / theory - 1) < 0.10), (res["r_I"], theory)
    cv = res["cv_E"]
    assert np.all((cv > 0.3) & (cv < 1.2)) and np.all(np.diff(cv) > 0), cv
    assert np.all(res["sync_E"] < 200.0), res["sync_E"]
