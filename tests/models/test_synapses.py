"""Plasticity rules against their analytic predictions."""

import numpy as np
import pytest

from neuroscape.core.spec import ParameterError
from neuroscape.models.synapses import (
    RSTDP_SPEC,
    STDP_SPEC,
    STP_SPEC,
    reward_stdp,
    stdp,
    stp_steady_state,
    tsodyks_markram,
)


@pytest.mark.parametrize("rate", [2.0, 10.0, 40.0])
@pytest.mark.parametrize(
    "p", [{"U": 0.5, "tau_d": 300.0, "tau_f": 0.0}, {"U": 0.1, "tau_d": 100.0, "tau_f": 500.0}]
)
def test_stp_reaches_the_analytic_steady_state(rate, p):
    spikes = np.arange(200) * 1000.0 / rate
    eff = tsodyks_markram(STP_SPEC.params_from_mapping(p), spikes)[0]
    assert eff[-1] == pytest.approx(stp_steady_state(rate, p)[2], rel=1e-9)
    if p["tau_f"] == 0:  # depression only: the first spike releases U, later ones less
        assert eff[0] == pytest.approx(p["U"]) and eff[-1] < eff[0]
    else:  # facilitating synapse at low U: release grows at first
        assert eff[1] > eff[0]


def test_stp_depression_deepens_with_rate():
    p = {"U": 0.5, "tau_d": 300.0, "tau_f": 0.0}
    ss = [stp_steady_state(r, p)[1] for r in (1.0, 10.0, 50.0)]
    assert ss[0] > ss[1] > ss[2] > 0


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_stdp_window_is_the_exponential_its_parameters_imply(rule):
    p = STDP_SPEC.params_from_mapping(
        {
            "A_plus": 0.01,
            "A_minus": 0.012,
            "tau_plus": 17.0,
            "tau_minus": 34.0,
            "w0": 1.0,
            "w_max": 2.0,
        }
    )
    lags = np.array([-80, -40, -20, -10, -5, -2, 2, 5, 10, 20, 40, 80], dtype=float)
    # additive: 60 pairs 1 s apart (the traces decay in between: exp(-1000/34) ~ 1e-13);
    # weight-dependent: one pair, since each change depends on the weight reached
    n_pairs = 60 if rule == "additive" else 1
    dw = []
    for lag in lags:
        base = 100.0 + 1000.0 * np.arange(n_pairs)
        pre, post = (base, base + lag)
        w = stdp(p, pre, post, rule)[0]
        dw.append((w - 1.0) / n_pairs)
    dw = np.array(dw)
    pos, neg = lags > 0, lags < 0
    scale_p, scale_m = (1.0, 1.0) if rule == "additive" else (2.0 - 1.0, 1.0)  # w_max-w, w
    np.testing.assert_allclose(dw[pos], scale_p * 0.01 * np.exp(-lags[pos] / 17.0), rtol=1e-9)
    np.testing.assert_allclose(dw[neg], -scale_m * 0.012 * np.exp(lags[neg] / 34.0), rtol=1e-9)
    # both rules: the fitted time constants of the window are its parameters
    tau_p = -1.0 / np.polyfit(lags[pos], np.log(dw[pos]), 1)[0]
    tau_m = 1.0 / np.polyfit(lags[neg], np.log(-dw[neg]), 1)[0]
    assert tau_p == pytest.approx(17.0, rel=0.05)
    assert tau_m == pytest.approx(34.0, rel=0.05)


def test_weight_dependent_stdp_scales_with_the_weight():
    lo, hi = (STDP_SPEC.params_from_mapping({"w0": w}) for w in (0.2, 0.8))
    pot = [stdp(p, [100.0], [110.0], "multiplicative")[0] - w for p, w in ((lo, 0.2), (hi, 0.8))]
    dep = [stdp(p, [110.0], [100.0], "multiplicative")[0] - w for p, w in ((lo, 0.2), (hi, 0.8))]
    assert pot[0] / pot[1] == pytest.approx((1 - 0.2) / (1 - 0.8))
    assert dep[0] / dep[1] == pytest.approx(0.2 / 0.8)


def test_reward_modulated_stdp_solves_the_distal_reward_problem():
    # one pre-post pairing (10 ms) at t = 100 ms, a reward `delay` ms after the post spike
    pr = {"A_plus": 0.01, "tau_plus": 20.0, "tau_c": 1000.0, "tau_da": 200.0, "w0": 0.5}
    p = RSTDP_SPEC.params_from_mapping(pr)
    c0 = 0.01 * np.exp(-10.0 / 20.0)
    for delay in (0.0, 1000.0, 3000.0):
        w = reward_stdp(p, [100.0], [110.0], [110.0 + delay], 0.05)[0]
        expected = 0.05 * c0 * np.exp(-delay / 1000.0) * (1000.0 * 200.0 / 1200.0)
        assert w - 0.5 == pytest.approx(expected, rel=1e-9)
    assert reward_stdp(p, [100.0], [110.0], [], 1.0)[0] == 0.5  # no reward, no change


def test_plasticity_bad_input():
    with pytest.raises(ParameterError, match="tau_d=-1"):
        tsodyks_markram(STP_SPEC.params_from_mapping({"tau_d": -1.0}), [0.0])
    with pytest.raises(ValueError, match="unknown STDP rule 'hebb'"):
        stdp(STDP_SPEC.params_from_mapping({}), [1.0], [2.0], "hebb")
    with pytest.raises(ValueError, match="pre_ms must be sorted"):
        stdp(STDP_SPEC.params_from_mapping({}), [5.0, 1.0], [2.0])
