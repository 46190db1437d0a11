"""A channel NEURON does not ship, against an independent solution: the currents of the
Connor-Stevens model (neuroscape's equation model connor_stevens, Connor & Stevens 1971 in
Dayan & Abbott's form, with the A-current) as the one channel of a single compartment
(a cylinder of 1000 um2, L = diam: NEURON's one-segment section), against the same
equations written out by hand here and solved by scipy's DOP853 at rtol = atol = 1e-12 with
its event location for the 0-mV crossings. The cable engine's Crank-Nicolson error is of
second order in dt (measured: 2.2e-3, 5.6e-4, 1.4e-4 ms at dt 0.005, 0.0025, 0.00125 ms)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import load_cell
from neuroscape.sim.cable_engine import run_cell

pytestmark = pytest.mark.slow

AREA_CM2 = 1000e-8  # 1000 um2
T_ON, TSTOP, V0 = 5.0, 200.0, -68.0
AMPS = [0.2, 0.4]  # nA: 25 and 45 spikes in 200 ms


def _exprel(x: float) -> float:
    return math.expm1(x) / x if x else 1.0


def _gates(v: float) -> list[tuple[float, float]]:
    """(inf, tau ms) of m, h, n, a, b (Dayan & Abbott 2001, eq. 6.4-6.5 and exercise 6.2)."""
    am, bm = 3.8 / _exprel(-(v + 29.7) / 10), 15.2 * math.exp(-0.0556 * (v + 54.7))
    ah, bh = 0.266 * math.exp(-0.05 * (v + 48)), 3.8 / (1 + math.exp(-0.1 * (v + 18)))
    an, bn = 0.2 / _exprel(-(v + 45.7) / 10), 0.25 * math.exp(-0.0125 * (v + 55.7))
    a_inf = (0.0761 * math.exp(0.0314 * (v + 94.22)) / (1 + math.exp(0.0346 * (v + 1.17)))) ** (
        1 / 3)  # fmt: skip
    tau_a = 0.3632 + 1.158 / (1 + math.exp(0.0497 * (v + 55.96)))
    b_inf = (1 / (1 + math.exp(0.0688 * (v + 53.3)))) ** 4
    tau_b = 1.24 + 2.678 / (1 + math.exp(0.0624 * (v + 50)))
    return [(am / (am + bm), 1 / (am + bm)), (ah / (ah + bh), 1 / (ah + bh)),
            (an / (an + bn), 1 / (an + bn)), (a_inf, tau_a), (b_inf, tau_b)]  # fmt: skip


def _rhs(t, y, i_ua_cm2):
    v, m, h, n, a, b = y  # mS/cm2 and mV: Dayan & Abbott's per-mm2 values x 100; cm 1 uF/cm2
    i = (0.3 * (v + 17) + 120 * m**3 * h * (v - 55) + 20 * n**4 * (v + 72)
         + 47.7 * a**3 * b * (v + 75))  # fmt: skip
    return [i_ua_cm2 - i] + [(inf - x) / tau for x, (inf, tau) in zip((m, h, n, a, b),
                                                                       _gates(v), strict=True)]


def _reference(amp_nA: float) -> np.ndarray:
    y0 = [V0] + [inf for inf, _ in _gates(V0)]
    tol = dict(method="DOP853", rtol=1e-12, atol=1e-12)
    rest = solve_ivp(_rhs, (0.0, T_ON), y0, args=(0.0,), **tol)

    def up(t, y, i):
        return y[0]

    up.direction = 1
    run = solve_ivp(_rhs, (T_ON, TSTOP), rest.y[:, -1], args=(amp_nA * 1e-3 / AREA_CM2,),
                    events=up, **tol)  # fmt: skip
    return run.t_events[0]


@pytest.fixture(scope="module")
def runs():
    d = math.sqrt(1000.0 / math.pi)
    cell = load_cell({"name": "cs", "v_init": V0, "sections": {"soma": {"L": d, "diam": d}},
                      "channels": {"cs": {"model": "connor_stevens"}},
                      "mechanisms": {"soma": {"cs": {}}}})  # fmt: skip
    stim = make_stimulus("step", amp=AMPS, t_on=T_ON)
    ours = {dt: run_cell(cell, None, stimulus=stim, dt_ms=dt, duration_ms=TSTOP).spikes
            for dt in (0.005, 0.0025)}  # fmt: skip
    return ours, [_reference(a) for a in AMPS]


def test_connor_stevens_channel_against_scipy(runs):
    ours, ref = runs
    err = {}
    for dt, spikes in ours.items():
        for r in range(len(AMPS)):
            assert len(spikes[r]) == len(ref[r]) >= 20
        err[dt] = max(float(np.abs(spikes[r] - ref[r]).max()) for r in range(len(AMPS)))
    assert err[0.0025] < 2e-3, err  # ms, every spike (measured 5.6e-4)
    assert 3.0 < err[0.005] / err[0.0025] < 5.0, err  # Crank-Nicolson: second order
