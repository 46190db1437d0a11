"""Equation models (issue 17): loading, unit checks, compilation, and numbers against truths
the code did not produce (the LIF closed form; AdEx's rheobase behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.models.equations import EquationError, equation_model, load_model_file

ADEX = Path(ns.__file__).parent / "models" / "equations" / "models" / "adex.yaml"

LIF = """\
name: lif_eq
description: Leaky integrate-and-fire
equations: |
  dV/dt = (-(V - V_rest) + R*I)/tau : mV (unless refractory)
current: {name: I, unit: nA}
threshold: V >= V_th
reset: V = V_reset
refractory: t_ref
initial: {V: V_rest}
parameters:
  V_rest: {default: -65 mV, low: -90 mV, high: -40 mV}
  V_th: {default: -40 mV, low: -70 mV, high: 0 mV}
  V_reset: {default: -70 mV, low: -90 mV, high: -40 mV}
  tau: {default: 10 ms, low: 1 ms, high: 100 ms}
  R: {default: 10 MOhm, low: 0.1 MOhm, high: 1000 MOhm}
  t_ref: {default: 2 ms, low: 0 ms, high: 20 ms}
"""


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_lif_equations_give_the_closed_form_isi(tmp_path):
    m = load_model_file(write(tmp_path, LIF))
    assert m.conditionally_linear and m.spec.settings.integrator == "exponential_euler"
    amps = np.array([3.0, 5.0])  # nA: V_inf = -35 and -15 mV
    r = ns.simulate_neurons(m, {}, ns.make_stimulus("step", amp=amps, t_on=0.0),
                            duration_ms=500.0)
    for amp, t in zip(amps, r.spike_times, strict=True):
        v_inf = -65.0 + 10.0 * amp
        isi = 2.0 + 10.0 * np.log((-70.0 - v_inf) / (-40.0 - v_inf))
        assert len(t) > 5
        np.testing.assert_allclose(np.diff(t)[1:], isi, atol=1e-3)


def test_units_are_converted_to_the_declared_ones(tmp_path):
    # the same LIF written in volts, seconds and ohms: spikes at the same times (ms)
    text = LIF.replace("10 ms, low: 1 ms, high: 100 ms", "0.01 second, low: 1 ms, high: 0.1 s")
    text = text.replace("R: {default: 10 MOhm", "R: {default: 10000000 ohm")
    text = text.replace("low: 0.1 MOhm, high: 1000 MOhm", "low: 100 kOhm, high: 1 GOhm")
    m = load_model_file(write(tmp_path, text))
    assert m.spec.parameter("tau").unit == "second" and m.spec.parameter("tau").high == 0.1
    r = ns.simulate_neurons(m, {}, ns.make_stimulus("step", amp=3.0, t_on=0.0),
                            duration_ms=200.0)
    isi = 2.0 + 10.0 * np.log((-70.0 + 35.0) / (-40.0 + 35.0))
    np.testing.assert_allclose(np.diff(r.spike_times[0])[1:], isi, atol=1e-3)


def test_adex_fires_under_a_step_and_is_silent_without_current():
    m = ns.models.resolve(str(ADEX))
    assert m.states == ("v", "w") and m.current_unit == "pA"
    assert not m.conditionally_linear and m.spec.settings.integrator == "rk4"
    r = ns.simulate_neurons(m, {}, ns.make_stimulus("step", amp=np.array([0.0, 1000.0])),
                            duration_ms=500.0)
    assert r.ok.all()
    assert len(r.spike_times[0]) == 0
    t = r.spike_times[1]
    assert len(t) >= 5
    # spike-triggered adaptation (b > 0): the intervals lengthen
    assert np.diff(t)[-1] > 1.5 * np.diff(t)[0]
    # below rheobase (g_L (V_T - E_L - Delta_T) = 546 pA for a = 0) no repetitive firing
    r = ns.simulate_neurons(m, {"a": 0.0}, ns.make_stimulus("step", amp=400.0), duration_ms=500.0)
    assert len(r.spike_times[0]) == 0


def test_equation_model_from_python_matches_the_file():
    m = equation_model(
        name="adex_py",
        equations="dv/dt = (g_L*(E_L - v) + g_L*Delta_T*exp((v - V_T)/Delta_T) - w + I)/C : mV\n"
        "dw/dt = (a*(v - E_L) - w)/tau_w : pA",
        current={"name": "I", "unit": "nA"},  # nA here: --current 1 = 1000 pA
        threshold="v > -40.4*mV",
        reset="v = V_r\nw += b",
        initial={"v": "E_L", "w": "0 pA"},
        parameters={
            "C": {"default": "0.281 nF", "low": "100 pF", "high": "500 pF"},
            "g_L": {"default": "30 nS", "low": "5 nS", "high": "60 nS"},
            "E_L": {"default": "-70.6 mV", "low": "-80 mV", "high": "-55 mV"},
            "V_T": {"default": "-50.4 mV", "low": "-60 mV", "high": "-40 mV"},
            "Delta_T": {"default": "2 mV", "low": "0.5 mV", "high": "5 mV"},
            "a": {"default": "4 nS", "low": "-5 nS", "high": "20 nS"},
            "tau_w": {"default": "144 ms", "low": "10 ms", "high": "500 ms"},
            "b": {"default": "0.0805 nA", "low": "0 pA", "high": "200 pA"},
            "V_r": {"default": "-70.6 mV", "low": "-80 mV", "high": "-40 mV"},
        },
    )
    assert m.threshold_level == -40.4
    a = ns.simulate_neurons(m, {}, ns.make_stimulus("step", amp=1.0), duration_ms=300.0)
    b = ns.simulate_neurons(str(ADEX), {}, ns.make_stimulus("step", amp=1000.0),
                            duration_ms=300.0)
    np.testing.assert_allclose(a.spike_times[0], b.spike_times[0], atol=1e-9)


BAD = [
    # (edit of the LIF file, line the message must name, words it must contain)
    (("dV/dt = (-(V - V_rest) + R*I)/tau", "dV/dt = (-(V - V_rest) + R*I)/tau)"), 4, "syntax"),
    (("+ R*I)/tau", "+ R*I)/tau_m"), 4, "unknown symbol 'tau_m'"),
    (("+ R*I)/tau", "+ I)/tau"), 4, "dimension mismatch"),
    (("current: {name: I, unit: nA}\n", ""), 1, "missing key 'current'"),
    (("threshold: V >= V_th", "threshold: U >= V_th"), 6, "unknown symbol 'U'"),
    (("unit: nA}", "unit: nAmp}"), 5, "unit"),
    (("V_th: {default: -40 mV", "V_th: {default: -80 mV"), 12, "outside its bounds"),
    (("reset: V = V_reset", "reset: V_th = V_reset"), 7, "parameter 'V_th'"),
    (("tau: {default: 10 ms, low: 1 ms", "tau: {default: 10 ms, low: 1 mV"), 14, "convert"),
    (("reset: V = V_reset", "reset: V = t_ref"), 7, "dimension mismatch"),
    (("threshold: V >= V_th", "threshold: V >= tau"), 6, "dimension mismatch"),
    (("+ R*I)/tau", "+ R*I)/tau + exp(V)"), 4, "dimensionless"),
    (("initial: {V: V_rest}", "initial: {}"), 9, "missing initial value"),
]


@pytest.mark.parametrize(("edit", "line", "words"), BAD)
def test_bad_input_gives_one_line_with_file_and_line(tmp_path, edit, line, words):
    old, new = edit
    assert old in LIF
    p = write(tmp_path, LIF.replace(old, new))
    with pytest.raises(EquationError) as info:
        load_model_file(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p.resolve()}:{line}: "), msg
    assert words in msg, msg
    assert isinstance(info.value, ValueError)


def test_a_redefined_model_gets_new_code(tmp_path):
    p = write(tmp_path, LIF)
    a = load_model_file(p)
    p.write_text(LIF.replace("R*I", "2*R*I"))
    b = load_model_file(p)
    assert a.module != b.module
    r = ns.simulate_neurons(b, {}, ns.make_stimulus("step", amp=1.5, t_on=0.0),
                            duration_ms=200.0)
    isi = 2.0 + 10.0 * np.log((-70.0 + 35.0) / (-40.0 + 35.0))  # 2 R I = 30 mV as before
    np.testing.assert_allclose(np.diff(r.spike_times[0])[1:], isi, atol=1e-3)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "neuroscape.cli.main", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow  # CLI processes that compile a model: 10 s
def test_cli_params_and_simulate(tmp_path):
    r = cli("params", str(ADEX))
    assert r.returncode == 0, r.stderr
    assert "Delta_T" in r.stdout and "pF" in r.stdout
    r = cli("simulate", str(ADEX), "--current", "800", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["current_unit"] == "pA" and len(out["spike_times_ms"]) >= 5
    bad = write(tmp_path, LIF.replace("+ R*I)/tau", "+ I)/tau"))
    r = cli("params", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and f"{bad}:4:" in r.stderr


def test_hard_limits_in_a_file_are_in_the_declared_unit_and_must_contain_the_bounds(tmp_path):
    text = """name: lif_hard
description: LIF with floors on R and tau
equations: |
  dv/dt = (E_L - v + R*I)/tau : mV
current: {name: I, unit: nA}
threshold: v > V_th
reset: v = V_r
initial: {v: -65 mV}
parameters:
  E_L: {default: -65 mV, low: -80 mV, high: -50 mV}
  R: {default: 10 MOhm, low: 1 MOhm, high: 100 MOhm, hard_low: 0 MOhm}
  tau: {default: 10 ms, low: 1 ms, high: 100 ms, hard_low: 1 us}
  V_th: {default: -50 mV, low: -60 mV, high: -40 mV}
  V_r: {default: -70 mV, low: -80 mV, high: -60 mV}
"""
    f = tmp_path / "lif_hard.yaml"
    f.write_text(text)
    m = load_model_file(str(f))
    assert m.spec.parameter("tau").hard_low == pytest.approx(1e-3)  # 1 us in ms
    assert m.spec.parameter("R").hard_low == 0.0 and m.spec.parameter("E_L").hard_low == -np.inf
    f.write_text(text.replace("hard_low: 1 us", "hard_low: 2 ms"))
    with pytest.raises(ValueError, match=r"lif_hard.yaml:\d+: parameter tau: hard limits \[2,"):
        load_model_file(str(f))
