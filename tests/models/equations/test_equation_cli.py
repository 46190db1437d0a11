"""Equation files through every command (params, simulate, fi-curve, sweep, db summary, surrogate
train, fit, bifurcation), against truths the code did not produce.

AdEx rheobase with a = 0 (Brette and Gerstner 2005; Touboul 2008): the fixed point of
C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T)/Delta_T) + I disappears in a saddle-node
where d/dv of the right side vanishes, at v* = V_T, giving
I_rh = g_L (V_T - E_L - Delta_T). Defaults: 30 nS * (-50.4 + 70.6 - 2) mV = 546 pA.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.testing import assert_refused, run_cli

ADEX = Path(ns.__file__).parent / "models" / "equations" / "models" / "adex.yaml"
A = str(ADEX)


def rheobase_pa(g_l_ns=30.0, v_t=-50.4, e_l=-70.6, delta_t=2.0) -> float:
    return g_l_ns * (v_t - e_l - delta_t)  # nS * mV = pA


LIF = """\
name: lif_cli
description: Leaky integrate-and-fire (Lapicque 1907)
equations: |
  dV/dt = (-(V - V_rest) + R*I)/tau : mV (unless refractory)
current: {name: I, unit: nA}
threshold: V >= V_th
reset: V = V_reset
refractory: 2 ms
initial: {V: V_rest}
parameters:
  V_rest: {default: -65 mV, low: -90 mV, high: -40 mV}
  V_th: {default: -40 mV, low: -70 mV, high: 0 mV}
  V_reset: {default: -70 mV, low: -90 mV, high: -40 mV}
  tau: {default: 10 ms, low: 1 ms, high: 100 ms}
  R: {default: 10 MOhm, low: 0.1 MOhm, high: 1000 MOhm}
"""


def sim_json(capsys, *args) -> dict:
    rc, out, err = run_cli(["simulate", *args, "--json"], capsys)
    assert rc == 0, err
    return json.loads(out)


def test_params_names_the_source_and_units(capsys):
    rc, out, err = run_cli(["params", A], capsys)
    assert rc == 0, err
    assert hashlib.sha256(ADEX.read_bytes()).hexdigest()[:12] in out
    assert "pF" in out and "not conditionally linear" in out and "rk4" in out


def test_set_and_current_are_in_the_declared_units(capsys):
    # --set g_L=20 is 20 nS: the rheobase moves to 20 nS * 18.2 mV = 364 pA; --current in pA
    i_rh = rheobase_pa(g_l_ns=20.0)
    assert abs(i_rh - 364.0) < 1e-9
    below = sim_json(capsys, A, "--set", "g_L=20", "--set", "a=0", "--current", f"{i_rh - 14}")
    above = sim_json(capsys, A, "--set", "g_L=20", "--set", "a=0", "--current", f"{i_rh + 36}")
    assert below["parameters"]["g_L"] == 20.0 and below["parameter_units"]["g_L"] == "nS"
    assert below["current_unit"] == "pA" and below["stimulus"]["amp"] == i_rh - 14
    assert below["ok"] and below["spike_times_ms"] == []
    assert above["ok"] and len(above["spike_times_ms"]) >= 2
    # --set C=200 is 200 pF: echoed as given, and a smaller C fires sooner at the same current
    c200 = sim_json(capsys, A, "--set", "C=200", "--current", "800")
    c281 = sim_json(capsys, A, "--current", "800")
    assert c200["parameters"]["C"] == 200.0 and c200["parameter_units"]["C"] == "pF"
    assert c200["spike_times_ms"][0] < c281["spike_times_ms"][0]


def test_fi_curve_is_zero_below_the_analytic_rheobase_and_increases_above(capsys, tmp_path):
    i_rh = rheobase_pa()  # 546 pA
    currents = [0.0, 300.0, 530.0, 600.0, 800.0, 1000.0]
    rc, out, err = run_cli(["fi-curve", A, "--set", "a=0", "--currents",
                            ",".join(map(str, currents)), "--out", str(tmp_path)], capsys)
    assert rc == 0, err
    rows = np.genfromtxt(tmp_path / "fi_curve.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(rows["current_pA"], currents)
    rate = rows["rate_Hz"]
    below = rows["current_pA"] < i_rh
    assert (rate[below] == 0).all()
    assert (rate[~below] > 0).all() and (np.diff(rate[~below]) > 0).all()


def test_bifurcation_finds_the_saddle_node_at_the_analytic_rheobase(capsys, tmp_path):
    rc, out, err = run_cli(["bifurcation", A, "--param", "I", "--range", "500:600:10",
                            "--set", "a=0", "--duration-ms", "300", "--out", str(tmp_path),
                            "--json"], capsys)  # fmt: skip
    assert rc == 0, err
    b = json.loads((tmp_path / "boundaries.json").read_text())
    assert b["parameter_units"] == {"I": "pA"}
    ends = [x["value"] for x in b["boundaries"] if x["kind"] == "branch end"]
    assert len(ends) == 1
    # the last grid value with a fixed point: 540 pA <= I_rh = 546 pA < 550 pA
    assert ends[0] <= rheobase_pa() < ends[0] + 10.0


def test_sweep_db_summary_and_surrogate(capsys, tmp_path):
    db = tmp_path / "runs.db"
    argv = ["sweep", A, "--n", "16", "--db", str(db), "--current", "1500", "--duration-ms", "300",
            "--fix", "V_r=-70.6", "--fix", "V_cut=-40", "--quiet"]  # fmt: skip
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    rc, out, err = run_cli(argv, capsys)  # rerun: resumes, nothing stored twice
    assert rc == 0, err
    assert "16 already done" in out + err, out + err
    with sqlite3.connect(db) as con:
        rows = con.execute("select row_index, status, V_r, V_cut, C from runs").fetchall()
        (info,) = con.execute("select model_info from sweeps").fetchone()
    assert sorted(r[0] for r in rows) == list(range(16))
    assert all(r[1] == "ok" for r in rows)
    assert all(r[2] == -70.6 and r[3] == -40.0 for r in rows)
    assert all(10.0 <= r[4] <= 500.0 for r in rows)  # C sampled in its declared pF box
    info = json.loads(info)
    assert info["source"]["sha256"] == hashlib.sha256(ADEX.read_bytes()).hexdigest()
    assert info["source"]["file"] == str(ADEX.resolve())
    rc, out, err = run_cli(["db", "summary", str(db)], capsys)
    assert rc == 0, err
    assert "model adex: 16 runs, 0 failed" in out
    rc, out, err = run_cli(["surrogate", "train", "--db", str(db), "--out", str(tmp_path / "s"),
                            "--epochs", "5", "--hidden", "8", "--quiet"], capsys)  # fmt: skip
    assert rc == 0, err
    assert any((tmp_path / "s").iterdir())


def test_fit_reaches_its_target_rate(capsys, tmp_path):
    target = tmp_path / "t.json"
    target.write_text(json.dumps({"outputs": {"rate": {"value": 20.0, "sd": 1.0}}}))
    rc, out, err = run_cli(["fit", A, "--target", str(target), "--free", "b", "--current", "800",
                            "--budget", "30", "--duration-ms", "500", "--out",
                            str(tmp_path / "fit")], capsys)  # fmt: skip
    assert rc == 0, err
    res = json.loads((tmp_path / "fit" / "result.json").read_text())
    b = res["best"]["b"]
    assert res["parameter_units"]["b"] == "pA" and 0.0 <= b <= 200.0
    # checked by a separate simulation of the fitted value
    r = sim_json(capsys, A, "--set", f"b={b!r}", "--current", "800", "--duration-ms", "500")
    assert abs(r["rate_hz"] - 20.0) <= 3.0


@pytest.mark.slow  # compiles the model under several schemes: 12 s
def test_integrator_override_and_refusal(capsys, tmp_path):
    lif = tmp_path / "lif.yaml"
    lif.write_text(LIF)
    rc, out, err = run_cli(["params", str(lif)], capsys)
    assert rc == 0, err
    assert "linear with constant coefficients" in out and "exponential_euler" in out
    # closed form ISI at 3 nA: V_inf = -35 mV; t_ref + tau ln((V_reset - V_inf)/(V_th - V_inf))
    isi = 2.0 + 10.0 * np.log((-70.0 + 35.0) / (-40.0 + 35.0))
    times = {}
    for scheme, tol in (("exponential_euler", 1e-3), ("rk4", 1e-3), ("midpoint", 2e-2)):
        r = sim_json(capsys, str(lif), "--current", "3", "--integrator", scheme,
                     "--duration-ms", "300")
        assert r["settings"]["integrator"] == scheme
        t = np.array(r["spike_times_ms"])
        np.testing.assert_allclose(np.diff(t)[1:], isi, atol=tol)
        times[scheme] = t
    assert not np.array_equal(times["rk4"], times["midpoint"])  # the override took effect
    rc, out, err = run_cli(["simulate", A, "--current", "800", "--integrator",
                            "exponential_euler"], capsys)  # fmt: skip
    assert_refused(rc, err, "conditionally linear")
