"""A NeuroML2 network through a fit and a surrogate like any other model: a pulsed iafCell
population (``FILE.nml:NETWORK_ID``) fitted through the command line to a target rate taken
from the closed form of jLEMS's forward Euler, and a surrogate trained on a sweep database of
the same network, scored on held-out rows of a second sweep."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from neuroscape.cli.main import main
from neuroscape.models.registry import resolve

# iafCell: C dV/dt = gL (EL - V) + I, a pulse of I from the first step to past the run's end
C, GL, EL, THRESH, RESET = 100.0, 10.0, -65.0, -55.0, -70.0  # pF, nS, mV
DT = 0.01  # ms: the step of a NeuroML network without a LEMS Simulation (jLEMS's default)
DURATION = 1500.0  # ms; the rate window is the run's last two thirds, (500, 1500] ms
WINDOW = (500.0, 1500.0)
TRUE_AMP = 250.0  # pA

NET = """<?xml version="1.0" encoding="UTF-8"?>
<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="fitnet">
    <iafCell id="lif" C="100pF" thresh="{thresh}mV" reset="-70mV" leakConductance="10nS"
             leakReversal="-65mV"/>
    <pulseGenerator id="pg" delay="0.005ms" duration="5000ms" amplitude="0.2nA"/>
    <network id="net">
        <population id="cells" component="lif" size="1"/>
        <explicitInput target="cells[0]" input="pg" destination="synapses"/>
    </network>
</neuroml>
"""


def euler_spikes(amp_pa: float, length_ms: float, thresh: float = THRESH) -> np.ndarray:
    """jLEMS's spike times (ms) of the pulsed iafCell from the closed form of forward Euler
    (as in test_neuroml_network_engine.py): V_k = V_inf + (V_0 - V_inf) a^k, a = 1 - dt gL / C,
    V_inf = EL + I / gL; the pulse is on from step 0 (its onset 0.005 ms, read at the step's
    end); a spike in the first step whose new V exceeds thresh, n = floor(log(r) / log a) + 1
    steps after the last reset, r = (V_inf - thresh) / (V_inf - V_0), at that step's end."""
    a = 1.0 - DT * GL / C
    v_inf = EL + amp_pa / GL
    if v_inf <= thresh:
        return np.zeros(0)
    out, k, v0 = [], 0, EL
    while True:
        k += math.floor(math.log((v_inf - thresh) / (v_inf - v0)) / math.log(a)) + 1
        if k * DT > length_ms:
            break
        out.append(k * DT)
        v0 = RESET
    return np.asarray(out)


def window_rate(amp_pa: float, thresh: float = THRESH) -> float:
    """Hz over the rate window (one cell)."""
    t = euler_spikes(amp_pa, DURATION, thresh)
    return float(np.sum((t > WINDOW[0]) & (t <= WINDOW[1]))) / ((WINDOW[1] - WINDOW[0]) / 1e3)


def _net(tmp_path: Path, thresh: float = THRESH) -> str:
    p = tmp_path / "fitnet.nml"
    p.write_text(NET.format(thresh=thresh))
    return f"{p}:net"


def test_a_fit_recovers_the_pulse_amplitude_of_the_closed_form_rate(tmp_path, capsys):
    """The target: the closed-form rate at 250 pA (144 Hz). The rate is a spike count, flat
    between the amplitudes where a spike enters or leaves the window (and not monotone within a
    pA: a spike leaving at the start and one entering at the end): every amplitude of the
    closed form's level set of 144 Hz fits exactly; that set lies within 3 pA of 250 pA (a scan
    of +-10 pA in steps of 0.01 pA, and of the whole box in steps of 1 pA), and the fit (cmaes
    from the file's 200 pA in a 150-350 pA box) must land in it (+-0.05 pA for a spike on the
    window's edge)."""
    target = window_rate(TRUE_AMP)
    assert target == 144.0
    grid = np.round(np.arange(TRUE_AMP - 10.0, TRUE_AMP + 10.0 + 1e-9, 0.01), 2)
    hits = grid[[window_rate(a) == target for a in grid]]
    assert grid[0] < hits.min() and hits.max() < grid[-1]
    coarse = np.arange(150.0, 351.0, 1.0)
    far = coarse[np.abs(coarse - TRUE_AMP) > 10.0]
    assert not any(window_rate(a) == target for a in far)
    a_lo, a_hi = hits.min() - 0.05, hits.max() + 0.05
    assert a_hi - a_lo < 3.0 and a_lo <= TRUE_AMP <= a_hi
    tgt = tmp_path / "target.json"
    tgt.write_text(json.dumps({"outputs": {"r_cells": target}}))
    out = tmp_path / "fit"
    rc = main(["fit", _net(tmp_path), "--measure", "outputs", "--target", str(tgt),
               "--free", "pg_amplitude=150:350", "--method", "cmaes", "--budget", "100",
               "--seed", "0", "--duration-ms", str(DURATION), "--out", str(out)])
    capsys.readouterr()
    assert rc == 0
    res = json.loads((out / "result.json").read_text())
    assert res["parameter_units"] == {"pg_amplitude": "pA"}
    assert res["failed_simulations"] == 0
    assert res["best_error"] == pytest.approx(0.0, abs=1e-9)
    print(f"fitted {res['best']['pg_amplitude']:.3f} pA in {res['simulations']} simulations; "
          f"the level set of {target:g} Hz: {a_lo:.2f} to {a_hi:.2f} pA")
    assert a_lo <= res["best"]["pg_amplitude"] <= a_hi
    assert abs(res["best"]["pg_amplitude"] - TRUE_AMP) < 3.0


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_surrogate_of_a_neuroml_network_predicts_held_out_rows(tmp_path, capsys):
    """A surrogate trained on 256 rows of a sweep of the network (amplitude 150-350 pA,
    threshold -60 to -50 mV, Sobol points; 300 ms runs, the rate over the last 200 ms) predicts
    the rates of 64 held-out rows of a second sweep (uniform random points, none of the
    training's) with a mean squared error under a twentieth of that of the training rows' mean
    (measured: 34 against 2763 Hz^2; the rates are counts in steps of 5 Hz); the held-out rates
    themselves are the closed form's. About 25 s."""
    net = _net(tmp_path)
    free = ("pg_amplitude", "lif_thresh")
    fix = [a for p in resolve(net).spec.parameters if p.name not in free
           for a in ("--fix", f"{p.name}={p.default}")]
    common = ["--bounds", "pg_amplitude=150:350", "--bounds", "lif_thresh=-60:-50", *fix,
              "--duration-ms", "300", "--quiet"]
    train_db, test_db = str(tmp_path / "train.db"), str(tmp_path / "test.db")
    assert main(["sweep", net, "--n", "256", "--sample-seed", "1", "--db", train_db,
                 *common]) == 0
    assert main(["sweep", net, "--n", "64", "--sampler", "uniform", "--sample-seed", "2",
                 "--db", test_db, *common]) == 0
    capsys.readouterr()
    surr = tmp_path / "surr"
    assert main(["surrogate", "train", "--db", train_db, "--out", str(surr), "--hidden",
                 "64,64", "--epochs", "400", "--patience", "50", "--seed", "0",
                 "--quiet"]) == 0
    capsys.readouterr()

    def table(db: str, name: str) -> list[dict[str, str]]:
        out = tmp_path / name
        assert main(["db", "export", db, "--out", str(out)]) == 0
        capsys.readouterr()
        return _read_csv(out)

    train = table(train_db, "train.csv")
    test = table(test_db, "test.csv")
    assert len(train) == 256 and len(test) == 64
    seen = {(r["pg_amplitude"], r["lif_thresh"]) for r in train}
    assert not any((r["pg_amplitude"], r["lif_thresh"]) in seen for r in test)
    # the held-out rates are the closed form's (the window (100, 300] ms)
    for r in test[:10]:
        t = euler_spikes(float(r["pg_amplitude"]), 300.0, float(r["lif_thresh"]))
        want = np.sum((t > 100.0) & (t <= 300.0)) / 0.2
        assert float(r["r_cells"]) == pytest.approx(want, abs=1e-9)
    params = tmp_path / "params.csv"
    with open(params, "w", newline="") as f:
        w = csv.writer(f)
        names = resolve(net).spec.parameter_names  # the fixed ones too, at their values
        w.writerow(names)
        for r in test:
            w.writerow([r[n] for n in names])
    pred_csv = tmp_path / "pred.csv"
    assert main(["surrogate", "predict", str(surr), "--params", str(params), "--out",
                 str(pred_csv)]) == 0
    pred = np.array([float(r["r_cells"]) for r in _read_csv(pred_csv)])
    truth = np.array([float(r["r_cells"]) for r in test])
    mean = np.mean([float(r["r_cells"]) for r in train])
    mse, mse_mean = np.mean((pred - truth) ** 2), np.mean((mean - truth) ** 2)
    print(f"held-out MSE {mse:.3f} Hz^2, of the training mean {mse_mean:.3f} Hz^2")
    assert mse < 0.05 * mse_mean, (mse, mse_mean)
