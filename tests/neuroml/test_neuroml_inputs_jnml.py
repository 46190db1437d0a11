"""sineGenerator and poissonFiringSynapse inputs to integrate-and-fire cells (issue 21, part 1's
inputs) in `neuroscape simulate FILE.xml` against jNeuroML (the reference), on
tests/data/neuroml/LEMS_iaf_inputs.xml (written for the tests; 1 s at 0.05 ms):
- three iafRefCells driven by sine generators (explicitInput, inputW weights): identical spike
  times and V within the 8 digits jNeuroML writes;
- Poisson inputs are drawn by each simulator's own generator (jLEMS: Java's), so they agree
  in distribution only: 20 cells that cannot fire, each with a poissonFiringSynapse of an
  alphaCurrentSynapse (1000 Hz, 20 pA, tau 2 ms), must have the mean V of Campbell's theorem,
  E_L + rate ibase e tau / g_L (forward Euler keeps a linear system's stationary mean), in
  both simulators within 4 standard errors (from the spread of the 20 cells' time averages);
  20 cells that fire under a poissonFiringSynapse of an expOneSynapse (400 Hz) must have the
  same mean spike count in both within 4 standard errors of the difference (Welch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from neuroml_jnml import (
    DATA,
    VOLTS,
    compare,
    instrument,
    jnml_available,
    read_events,
    run_jnml,
    run_neuroscape,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not jnml_available(), reason="needs pyNeuroML (jNeuroML) and java"),
]

FILE = "LEMS_iaf_inputs.xml"
QUIET = range(3, 23)  # cell numbers in the instrumented files (populations in order)
FIRING = range(23, 43)
T_SKIP_S = 0.05  # the first 5 membrane time constants (10 ms) from the initial V


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("inputs")
    ref = instrument(DATA / FILE, base / "jnml")
    ours = instrument(DATA / FILE, base / "neuroscape")
    run_jnml(ref)
    run_neuroscape(ours)
    out = {"sine": compare(ref.parent, ours.parent, 3)}
    for name, d in (("jnml", ref.parent), ("ours", ours.parent)):
        ev = read_events(d)
        v = np.loadtxt(d / VOLTS)
        keep = v[:, 0] >= T_SKIP_S
        out[name] = {"quiet_v": v[keep][:, [k + 1 for k in QUIET]].mean(axis=0) * 1e3,
                     "counts": np.array([len(ev.get(k, [])) for k in FIRING], dtype=float)}
    return out


def test_sine_inputs_identical(runs):
    for k, r in runs["sine"].items():
        assert r["n_ref"] > 0 and r["n_ref"] == r["n_ours"], (k, r)
        assert r["spike_ms"] == 0.0 and r["all_ms"] == 0.0 and r["v_mV"] <= 1e-5, (k, r)


def test_poisson_mean_voltage_is_campbells(runs):
    rate, ibase, tau, g_l, e_l = 1000.0, 20e-12, 2e-3, 10e-9, -65e-3
    want = (e_l + rate * ibase * math.e * tau / g_l) * 1e3  # mV
    se = {}
    for name in ("jnml", "ours"):
        m = runs[name]["quiet_v"]
        se[name] = m.std(ddof=1) / math.sqrt(len(m))
        print(f"{name}: mean V {m.mean():.4f} +- {se[name]:.4f} mV; Campbell {want:.4f} mV")
        assert 0 < se[name] < 0.5
        assert abs(m.mean() - want) <= 4 * se[name]
    d = runs["jnml"]["quiet_v"].mean() - runs["ours"]["quiet_v"].mean()
    assert abs(d) <= 4 * math.hypot(se["jnml"], se["ours"])


def test_poisson_driven_firing_agrees(runs):
    a, b = runs["jnml"]["counts"], runs["ours"]["counts"]
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    print(f"spike counts over 1 s: jNeuroML {a.mean():.2f} (SD {a.std(ddof=1):.2f}), "
          f"neuroscape {b.mean():.2f} (SD {b.std(ddof=1):.2f}); SE of the difference {se:.2f}")
    assert a.mean() > 10 and b.mean() > 10
    assert abs(a.mean() - b.mean()) <= 4 * se
