"""The shipped network ``pavlov`` (library/pavlov.yaml) and its example (examples/pavlov/).

The reference is a step-by-step replay written here from the protocol and the rule, not from the
engine: one salivation LIF neuron (rest and reset -70 mV, threshold -55 mV, tau 10 ms, 2 ms
refractory) kicked by 20 synchronous bell synapses (weight w each) and 20 food synapses; additive
STDP with all-to-all traces, clipped to [0, wmax], in Brian2's order (Song, Miller and Abbott
2000; Brian2's STDP example): on a bell spike ``v += w; Apre += A_pre*wmax; w = clip(w + Apost)``,
on a salivation spike ``Apost -= B*A_pre*wmax; w = clip(w + Apre)``, traces decaying with 20 ms.
Sixteen 200-ms trials, the bell 100 ms into each, food in trials 3-12 ``offset`` after the bell.
The network draws no random numbers, so the engine's weights must equal the replay's to rounding.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import neuroscape as ns

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pavlov" / "pavlov.py"

DT = 0.1  # ms
N_TRIALS, PERIOD, BELL_AT = 16, 200.0, 100.0  # trials, ms, ms into a trial
PAIRED = range(3, 13)  # trials with food
N_BELL = N_FOOD = 20
E_L, V_T, V_R, TAU_M, T_REF = -70.0, -55.0, -70.0, 10.0, 2.0  # mV, mV, mV, ms, ms
TAU_STDP = 20.0  # ms, pre and post traces
DEFAULTS = {"offset": 7.0, "w0": 0.4, "wmax": 1.5, "w_food": 1.0, "A_pre": 0.05, "B": 1.05}


def replay(offset: float, w0: float, wmax: float, w_food: float, A_pre: float,  # noqa: N803
           B: float) -> dict:  # noqa: N803
    """Salivation spike times (ms) and the bell weight (mV) after each trial (index 0: w0)."""
    n_steps = int(round(N_TRIALS * PERIOD / DT))
    bell = {int(round((BELL_AT + k * PERIOD) / DT)) for k in range(N_TRIALS)}
    food = {int(round((BELL_AT + k * PERIOD + offset) / DT)) for k in PAIRED}
    decay_v = math.exp(-DT / TAU_M)
    n_ref = int(round(T_REF / DT))
    v, ref_left = E_L, 0
    w, apre, apost, last = w0, 0.0, 0.0, 0
    spikes, w_after = [], [w0]

    def traces_to(s):
        nonlocal apre, apost, last
        f = math.exp(-(s - last) * DT / TAU_STDP)
        apre, apost, last = apre * f, apost * f, s

    for s in range(n_steps):
        if ref_left > 0:  # (unless refractory): v is held, no threshold
            ref_left -= 1
            fired = False
        else:
            v = E_L + (v - E_L) * decay_v
            fired = v > V_T
        if s in bell:  # on_pre
            traces_to(s)
            v += N_BELL * w
            apre += A_pre * wmax
            w = min(max(w + apost, 0.0), wmax)
        if fired:  # on_post
            traces_to(s)
            apost += -A_pre * wmax * B
            w = min(max(w + apre, 0.0), wmax)
            spikes.append(s * DT)
        if s in food:
            v += N_FOOD * w_food
        if fired:
            v, ref_left = V_R, n_ref - 1
        if (s + 1) % int(round(PERIOD / DT)) == 0:
            w_after.append(w)
    return {"spikes": np.array(spikes), "w_after": np.array(w_after)}


def _rate(spikes: np.ndarray, start: float, stop: float) -> float:
    return float(np.sum((spikes >= start) & (spikes < stop)) / ((stop - start) * 1e-3))


CASES = [
    DEFAULTS,
    DEFAULTS | {"offset": -7.0},
    DEFAULTS | {"offset": 3.0, "w0": 0.3, "A_pre": 0.08, "B": 1.2},
    DEFAULTS | {"offset": -12.0, "w0": 0.7, "wmax": 2.0},
    DEFAULTS | {"offset": 15.0, "w_food": 0.9, "A_pre": 0.1},
    DEFAULTS | {"offset": 0.0},
]


def test_pavlov_both_orders_against_replay():
    res = ns.simulate("pavlov", CASES)
    assert {o.name: o.unit for o in res.spec.outputs} == {
        "r_before": "Hz", "r_after": "Hz", "w_mean": "mV"}
    for r, case in enumerate(CASES):
        ref = replay(**case)
        assert res["w_mean"][r] == pytest.approx(ref["w_after"][-1], abs=1e-9), case
        assert res["r_before"][r] == _rate(ref["spikes"], 0.0, 600.0), case
        assert res["r_after"][r] == _rate(ref["spikes"], 2600.0, 3200.0), case

    paired, reversed_ = 0, 1
    # the bar: the bell alone is silent at first in both orders (20 x 0.4 mV < 15 mV) ...
    assert res["r_before"][paired] == res["r_before"][reversed_] == 0.0
    # ... bell before food: the bell weight grows past threshold, the bell alone then fires the
    # neuron once per bell (3 bells in 0.6 s)
    assert res["w_mean"][paired] > DEFAULTS["w0"]
    assert N_BELL * res["w_mean"][paired] > V_T - E_L
    assert res["r_after"][paired] == pytest.approx(3 / 0.6)
    # ... food before bell: the weight falls (here to the clip at 0) and the bell stays silent
    assert res["w_mean"][reversed_] < DEFAULTS["w0"]
    assert res["w_mean"][reversed_] == 0.0
    assert res["r_after"][reversed_] == 0.0
    # closed form of the first pairing: the salivation spike one step after the food's arrival,
    # dw = +-A_pre wmax exp(-|t_post - t_bell|/tau); the traces of the three earlier bells,
    # decayed by exp(-193/20) and less, add under 1e-5 mV
    first = np.array([replay(**c)["w_after"][4] for c in CASES[:2]])
    dw = DEFAULTS["A_pre"] * DEFAULTS["wmax"] * np.exp(-np.array([7.1, 6.9]) / TAU_STDP)
    assert first == pytest.approx([0.4 + dw[0], 0.4 - DEFAULTS["B"] * dw[1]], abs=1e-5)


def test_offset_bounds_are_declared():
    p = ns.models.get_spec("pavlov").parameter("offset")
    assert (p.low, p.high, p.unit) == (-20.0, 20.0, "ms")
    with pytest.raises(ValueError, match="offset"):
        ns.simulate("pavlov", {"offset": -30.0}, allow_outside=True)


def _example():
    spec = importlib.util.spec_from_file_location("pavlov_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_writes_figure_and_learns(tmp_path):
    ex = _example()
    summary = ex.run(tmp_path, offset_ms=7.0)
    assert (tmp_path / "pavlov.png").stat().st_size > 10_000
    after = summary["offset_+7ms"], summary["offset_-7ms"]
    assert after[0]["spikes_per_bell_before"] == 0 and after[0]["spikes_per_bell_after"] == 1
    assert after[1]["spikes_per_bell_after"] == 0
    assert after[0]["w_final_mV"] > after[0]["w_initial_mV"] > after[1]["w_final_mV"]
    with open(tmp_path / "pavlov_trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N_TRIALS + 1
    for col, offset in (("w_mean_mV_offset_+7ms", 7.0), ("w_mean_mV_offset_-7ms", -7.0)):
        got = np.array([float(r[col]) for r in rows])
        # the weight after each trial, from runs that end with it, against the replay
        np.testing.assert_allclose(got, replay(**DEFAULTS | {"offset": offset})["w_after"],
                                   atol=1e-9)
    with open(tmp_path / "pavlov_window.csv") as fh:
        win = {float(r["offset_ms"]): float(r["w_mean_mV"]) for r in csv.DictReader(fh)}
    # the learning window: potentiation for bell first, depression for food first
    assert all(w > DEFAULTS["w0"] for o, w in win.items() if o >= 0)
    assert all(w < DEFAULTS["w0"] for o, w in win.items() if o < 0)


def test_example_refuses_a_non_positive_offset(tmp_path):
    with pytest.raises(ValueError, match="offset_ms=-3.0"):
        _example().run(tmp_path, offset_ms=-3.0)
