"""A step family's cell properties read off the recording (fit.protocols): passive properties
against the closed-form RC response, depolarisation block on f-I sequences (one of them a real
cell's), the family's step found behind a test pulse, log-scaled search coordinates, and the
current scaling of AdEx that the fit-real-cell example relies on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroscape.fit.problem import FitError
from neuroscape.fit.protocols import (
    SweepFitProblem,
    depolarisation_block,
    family_step_window,
    passive_properties,
)
from neuroscape.fit.recordings import Sweep, SweepSet, read_sweeps

ABF = Path(__file__).resolve().parents[1] / "data" / "recordings" / "171116sh_0018.abf"
DT = 0.05  # ms


def rc_family(amps_nA, r_MOhm=150.0, tau_ms=20.0, rest=-65.0, t_on=100.0, t_off=600.0,
              t_end=800.0, pulse=None, noise_mV=0.2, seed=0):  # fmt: skip
    """Sweeps of a one-compartment RC cell, V from the closed form: a step I from t_on to t_off
    gives rest + R I (1 - exp(-(t - t_on) / tau)), then the decay back; ``pulse`` (amp_nA,
    t0, t1) comes first in every sweep (a test pulse), the cell back at rest by t_on."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, t_end, DT)
    out = []

    def response(t, a, t0, t1):
        on = np.where(t >= t0, 1 - np.exp(-np.clip(t - t0, 0, None) / tau_ms), 0.0)
        off = np.where(t >= t1, 1 - np.exp(-np.clip(t - t1, 0, None) / tau_ms), 0.0)
        return r_MOhm * a * (on - off)

    for k, a in enumerate(amps_nA):
        i = np.where((t >= t_on) & (t < t_off), a, 0.0)
        v = rest + response(t, a, t_on, t_off)
        if pulse is not None:
            pa, p0, p1 = pulse
            i = i + np.where((t >= p0) & (t < p1), pa, 0.0)
            v = v + response(t, pa, p0, p1)
        out.append(Sweep(k, t, v + noise_mV * rng.standard_normal(len(t)), i))
    return SweepSet(tuple(out), "rc", DT)


def test_passive_properties_of_an_rc_cell():
    """R_in, tau and the rest of the closed form come back; C = tau / R, g = 1 / R."""
    ss = rc_family([-0.1, -0.05, 0.05, 0.1], r_MOhm=150.0, tau_ms=20.0, rest=-65.0)
    p = passive_properties(ss)
    assert p.rest_mV == pytest.approx(-65.0, abs=0.05)
    assert p.r_in_MOhm == pytest.approx(150.0, rel=0.02)
    assert p.tau_ms == pytest.approx(20.0, rel=0.05)
    assert p.c_pF == pytest.approx(1e3 * 20.0 / 150.0, rel=0.06)
    assert p.g_nS == pytest.approx(1e3 / 150.0, rel=0.02)
    assert p.sweeps == (0, 1)  # only the hyperpolarising steps
    # a small, leaky cell (an interneuron's scale): 600 MOhm, 15 ms
    q = passive_properties(rc_family([-0.03, -0.02], r_MOhm=600.0, tau_ms=15.0, rest=-60.0))
    assert q.r_in_MOhm == pytest.approx(600.0, rel=0.02) and q.tau_ms == pytest.approx(15, 0.05)


def test_passive_properties_without_hyperpolarising_steps():
    p = passive_properties(rc_family([0.05, 0.1]))
    assert p.r_in_MOhm is None and p.tau_ms is None and p.c_pF is None and p.g_nS is None
    assert p.rest_mV == pytest.approx(-65.0, abs=0.05)


def test_rest_is_the_median_of_the_sweeps_baselines():
    """A spontaneously firing cell whose baseline drifts down in its last sweeps: four sweeps
    sit at -50 mV with a spontaneous spike (+20 mV for 1 ms) before the step, two at -60 mV
    without one. The rest read in the lab is the median over sweeps of each baseline, -50 mV
    (the sweeps without a spontaneous spike alone, ``quiet_rest_mV``, give the drift's -60)."""
    rests = [-50.0, -50.0, -50.0, -50.0, -60.0, -60.0]
    out = []
    for k, rest in enumerate(rests):
        sw = rc_family([0.05], rest=rest, seed=k).sweeps[0]
        v = np.array(sw.v_mV)
        if rest == -50.0:
            v[(sw.t_ms >= 40.0) & (sw.t_ms < 41.0)] = 20.0
        out.append(Sweep(k, sw.t_ms, v, sw.i_nA))
    p = passive_properties(SweepSet(tuple(out), "drift", DT))
    assert p.rest_mV == pytest.approx(-50.0, abs=0.05)
    assert p.quiet_rest_mV == pytest.approx(-60.0, abs=0.05)
    assert p.as_dict()["quiet_rest_mV"] == p.quiet_rest_mV
    # every sweep fires before its step: no quiet rest
    assert passive_properties(SweepSet(tuple(out[:4]), "firing", DT)).quiet_rest_mV is None


def test_passive_properties_of_the_recording():
    """The shipped cell (pyABF's 171116sh_0018): its hyperpolarising steps of -100 to -25 pA
    deflect it by about 11 mV at -100 pA (R_in near 110 MOhm; pyABF's memtest of the same
    cell series reads 100-130 MOhm) with tau of a few tens of ms."""
    ss = read_sweeps(ABF, window_ms=(0, 1146.85))
    p = passive_properties(ss)
    assert p.sweeps == (0, 1, 2, 3)
    assert 80 < p.r_in_MOhm < 140 and 10 < p.tau_ms < 60
    assert -70 < p.rest_mV < -55


def test_a_rest_no_living_neuron_has_is_flagged():
    """The shipped cell read with 60 mV added (a monitor offset left in, or a dead cell near
    0 mV, as pyABF's sample 2020_03_02_0000 rests at -3.4 mV): one warning naming the value and
    the range; the true reading gives none."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none at -62 mV
        passive_properties(read_sweeps(ABF, window_ms=(0, 1146.85)))
    off = read_sweeps(ABF, window_ms=(0, 1146.85), v_offset_mV=-60.0)
    with pytest.warns(UserWarning, match=r"rest is -[0-9]\.[0-9] mV, outside -100\.\.-30 mV"):
        p = passive_properties(off)
    assert -5.0 < p.rest_mV < 0.0


def test_depolarisation_block_on_f_i_sequences():
    amps = np.arange(9) * 0.1
    flags = depolarisation_block(amps, [0, 3, 6, 9, 12, 15, 2, 1, 1])
    assert flags.tolist() == [False] * 6 + [True] * 3
    # saturating, even falling a little: no block
    assert not depolarisation_block(amps[:6], [0, 5, 10, 12, 12, 11]).any()
    # too few spikes at the peak to read a fall
    assert not depolarisation_block(amps[:4], [0, 3, 1, 0]).any()
    # order given is kept
    order = [8, 0, 5, 6, 1, 2, 3, 4, 7]
    got = depolarisation_block(amps[order], np.array([0, 3, 6, 9, 12, 15, 2, 1, 1])[order])
    assert got.tolist() == [o >= 6 for o in order]
    with pytest.raises(FitError, match="equal"):
        depolarisation_block([0.1, 0.2], [1])


def test_depolarisation_block_of_a_real_cell():
    """pyABF's sample 171116sh_0019.abf (Scott W. Harden): steps of -100 to 2000 pA by 100 pA;
    spikes in each step (``detect_peaks``, read from the file): the cell fires at most 16 (at
    1000 pA), 14 and 12 at 1100 and 1200 pA, and 1-2 from 1300 pA on, in depolarisation block
    (eFEL's rule, which also counts noise crossing -20 mV on the block's plateau, reads 22, 48
    and 47 at 1000-1200 pA; the block sweeps are the same)."""
    counts = [0, 0, 3, 6, 9, 11, 13, 14, 15, 15, 15, 16, 14, 12, 2, 2, 1, 1, 1, 1, 1, 1]
    amps = -0.1 + 0.1 * np.arange(len(counts))
    flags = depolarisation_block(amps, counts)
    assert np.flatnonzero(flags).tolist() == list(range(14, 22))


def test_family_step_window_behind_a_test_pulse():
    """A -100 pA test pulse from 20 to 300 ms, then the family's steps from 800 to 1300 ms:
    the window starts where the pulse ends and runs to the sweeps' end."""
    ss = rc_family([0.0, 0.05, 0.1, 0.2], t_on=800.0, t_off=1300.0, t_end=1500.0,
                   pulse=(-0.1, 20.0, 300.0))  # fmt: skip
    t0, t1 = family_step_window(ss)
    assert t0 == pytest.approx(300.0) and t1 == pytest.approx(1500.0)
    # the family first: as single_step_window
    ss2 = rc_family([-0.05, 0.05, 0.1])
    assert family_step_window(ss2) == (0.0, pytest.approx(800.0))
    whole = read_sweeps(ABF)
    assert family_step_window(whole) == (0.0, pytest.approx(1146.85))


def test_log_scale_coordinates():
    ss = read_sweeps(ABF, window_ms=(0, 1146.85)).select([10])
    p = SweepFitProblem("adex", ss, {"C": (100, 400), "a": (-5, 20)}, log_scale=["C"])
    x = p.from_unit(np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))
    np.testing.assert_allclose(x[:, 0], [100.0, 200.0, 400.0])  # geometric middle
    np.testing.assert_allclose(x[:, 1], [-5.0, 7.5, 20.0])
    np.testing.assert_allclose(p.to_unit(np.array([200.0, 7.5])), [0.5, 0.5])
    assert p.describe()["log_scale"] == ["C"]
    with pytest.raises(FitError, match="not free"):
        SweepFitProblem("adex", ss, {"C": (100, 400)}, log_scale=["g_L"])
    with pytest.raises(FitError, match="not > 0"):
        SweepFitProblem("adex", ss, {"a": (-5, 20)}, log_scale=["a"])


def test_adex_is_homogeneous_in_its_currents():
    """AdEx's equations are homogeneous of degree one in C, g_L, a, b, w and I: the model cell
    k times larger under k times the current has the same V(t), spike for spike (so C and
    g_L's boxes, not the current, set the sizes of cell the fit can reach)."""
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.fit.problem import simulate_traces
    from neuroscape.models import resolve

    m = resolve("adex")
    base = {"C": 120.0, "g_L": 6.0, "a": 0.5, "b": 10.0, "tau_w": 100.0, "E_L": -65.0}
    k = 3.5
    big = {**base, "C": 120.0 * k, "g_L": 6.0 * k, "a": 0.5 * k, "b": 10.0 * k}
    p = np.vstack([m.spec.params_array(base)[0], m.spec.params_array(big)[0]])
    stim = make_stimulus("step", amp=np.array([200.0, 200.0 * k]), t_on=50.0, t_off=450.0)
    t, v, res = simulate_traces(m, p, stim, duration_ms=500.0, dt_ms=0.05)
    assert len(res.spike_times[0]) >= 5
    np.testing.assert_allclose(res.spike_times[0], res.spike_times[1], atol=1e-6)
    np.testing.assert_allclose(v[0], v[1], atol=1e-6)


def test_adex_boxes_hold_small_and_large_cortical_cells():
    """adex's declared C and g_L boxes hold the passive C and g of cells measured on real
    recordings (R_in and tau from their hyperpolarising steps or test pulses): a fast-spiking
    interneuron (582 MOhm, 26.5 ms), a 1.2-GOhm cell (1239 MOhm, 55 ms), a pyramidal cell
    (111 MOhm, 36 ms), and 209 MOhm, 18 ms; so the example fits them without a current scale."""
    from neuroscape.models import resolve

    spec = resolve("adex").spec
    g, c = spec.parameter("g_L"), spec.parameter("C")
    for r_MOhm, tau_ms in ((582.0, 26.5), (1239.0, 55.0), (111.0, 36.0), (209.0, 18.0)):
        g_nS, c_pF = 1e3 / r_MOhm, 1e3 * tau_ms / r_MOhm
        assert g.low <= g_nS <= g.high and c.low <= c_pF <= c.high, (r_MOhm, tau_ms)
