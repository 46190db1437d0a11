"""A constant bias current in a sweep fit (``SweepFitProblem``'s ``I_bias``: added to every
sweep's command at all times, the settle, the baseline, the step and after), against truths
the fit's code does not produce: the closed form of a LIF family (a bias b is the LIF at rest
V_rest + R b), and, for AdEx (Brette and Gerstner 2005), the identity that a bias b is the leak
reversal moved to E_L + b / (g_L + a), simulated by the plain step path without any bias."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_protocols import LIF_FIXED, LIF_TRUTH, lif_family, lif_ramp_closed_form

from neuroscape.fit import run_method
from neuroscape.fit.problem import FitError
from neuroscape.fit.protocols import BIAS, SweepFitProblem, family_step_window
from neuroscape.fit.recordings import Sweep, SweepSet, read_sweeps

ABF = Path(__file__).resolve().parents[1] / "data" / "recordings" / "171116sh_0018.abf"


def test_bias_recovered_from_a_closed_form_lif_family():
    """Steps and a ramp made by the LIF's closed form at rest V_rest + R b (the LIF with a
    constant b on every command, before, during and after the step); fitted with V_rest fixed
    at the rest without the bias, CMA-ES recovers b and V_th, tau, R within 2%."""
    b = 0.4  # nA (lif's current unit): rest 4.8 mV above V_rest, below V_th
    shifted = dict(LIF_TRUTH, V_rest=LIF_TRUTH["V_rest"] + LIF_TRUTH["R"] * b)
    steps, _ = lif_family(amps=(-1.0, 0.5, 1.6, 2.5), truth=shifted)
    t = steps.sweeps[0].t_ms
    v, ramp_spikes = lif_ramp_closed_form(t, 0.0, 3.0, 100.0, 500.0, **shifted, **LIF_FIXED)
    i = np.where((t >= 100.0) & (t < 500.0), 3.0 * (t - 100.0) / 400.0, 0.0)
    fam = SweepSet((*steps.sweeps, Sweep(4, t, v, i)), "closed-form LIF, biased", steps.dt_ms)
    free = {"V_th": (-60.0, -40.0), "tau": (5.0, 40.0), "R": (5.0, 30.0), BIAS: (-1.0, 1.0)}
    p = SweepFitProblem("lif", fam, free, fixed={**LIF_FIXED, "V_rest": LIF_TRUTH["V_rest"]},
                        budget=800)  # fmt: skip
    assert p.sweep_data[4].protocol.ramp_end_nA is not None and len(ramp_spikes) > 5
    assert p.spec.parameter(BIAS).unit == p.model.current_unit
    res = run_method(p, "cmaes", seed=0)
    assert res.parameter_units[BIAS] == p.model.current_unit
    assert res.best[BIAS] == pytest.approx(b, rel=0.02), res.best
    for k in ("V_th", "tau", "R"):
        assert res.best[k] == pytest.approx(LIF_TRUTH[k], rel=0.02), res.best


@pytest.fixture(scope="module")
def family():
    sw = read_sweeps(ABF)
    t0, t1 = family_step_window(sw)
    return sw.window(t0, t1).select([1, 9, 13, 16])  # silent, 3, 6 and 9 spikes recorded


# AdEx with a short tau_w, so that w's offset a b / (g_L + a) at the start (the same initial
# w in both runs) decays within the 200-ms settle (e^-10)
ADEX = dict(C=200.0, g_L=10.0, V_T=-50.0, Delta_T=2.0, a=3.0, tau_w=20.0, b=30.0, V_r=-58.0,
            t_ref=2.0, V_cut=-30.0)  # fmt: skip


def test_adex_bias_is_its_leak_reversal_moved(family):
    """On the shipped recording's protocol: AdEx with I_bias = 60 pA gives the trace of AdEx
    without a bias at E_L + 60 / (g_L + a) (the plain step stimulus, one batched call), within
    1e-3 mV and 1e-4 ms per spike; and I_bias = 0 gives the plain path's trace."""
    bias, e_l = 60.0, -70.0
    free = {"E_L": (-80.0, -55.0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        biased = SweepFitProblem("adex", family, free, fixed={**ADEX, BIAS: bias}, budget=10)
        plain = SweepFitProblem("adex", family, free, fixed=ADEX, budget=10)
        zero = SweepFitProblem("adex", family, free, fixed={**ADEX, BIAS: 0.0}, budget=10)
    ob = biased.simulate(np.array([[e_l]]))
    oe = plain.simulate(np.array([[e_l + bias / (ADEX["g_L"] + ADEX["a"])]]))
    counts = []
    for j in range(len(family)):
        fin = np.isfinite(oe.v[0, j])
        assert np.abs(ob.v[0, j][fin] - oe.v[0, j][fin]).max() < 1e-3
        assert len(ob.spikes[0][j]) == len(oe.spikes[0][j])
        np.testing.assert_allclose(ob.spikes[0][j], oe.spikes[0][j], atol=1e-4)
        counts.append(len(ob.spikes[0][j]))
    assert counts[0] == 0 and counts[-1] > counts[-2] > 0, counts  # silent and firing sweeps
    oz, o0 = zero.simulate(np.array([[-60.0]])), plain.simulate(np.array([[-60.0]]))
    fin = np.isfinite(o0.v)
    assert np.abs(oz.v[fin] - o0.v[fin]).max() < 1e-8
    # the bias moves the model: without the shift the biased trace differs
    assert np.nanmax(np.abs(ob.v - plain.simulate(np.array([[e_l]])).v)) > 1.0


def test_bias_refused_in_one_line(family):
    for bounds, needle in (((-np.inf, 1.0), "finite"), ("big", "expected (low, high)")):
        with pytest.raises(FitError, match=re.escape(needle)) as e:
            SweepFitProblem("adex", family, {BIAS: bounds}, fixed=ADEX, budget=10)
        assert "\n" not in str(e.value)
