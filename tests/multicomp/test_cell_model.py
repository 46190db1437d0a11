"""A multi-compartment cell where a model works: `simulate` (CLI), the batched engine and
`sweep`, checked against NEURON (slow) and for refusals (fast)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from neuroscape.core.settings import SimSettings
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import resolve
from neuroscape.sim.engine import batch_for, run_batch
from neuroscape.testing import assert_refused, run_cli, snapshot

ROOT = Path(__file__).resolve().parents[2]
BALL_STICK = str(ROOT / "examples" / "cells" / "ball_stick.yaml")
BRANCHED = str(ROOT / "tests" / "data" / "cells" / "branched_swc.yaml")


def test_cell_yaml_resolves_to_a_cell_model():
    m = resolve(BALL_STICK)
    assert m.kind == "cell"
    assert m.spec.parameter_names == ["soma.hh.gnabar", "dend.L"]
    assert [p.unit for p in m.spec.parameters] == ["S/cm2", "um"]
    assert m.spec.settings.integrator == "crank_nicolson"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--at", "dend(1.5)"], "dend(1.5)"),
        (["--at", "axon(0.5)"], "'axon'"),
        (["--at", "dend("], "SECTION(x)"),
        (["--record", "soma(-0.1)"], "soma(-0.1)"),
        (["--set", "dend.foo=1"], "dend.foo"),
        (["--set", "dend.L=-5"], "dend.L"),
        (["--integrator", "rk4"], "rk4"),
        (["--preset", "RS"], "--preset"),
        (["--device", "cuda"], "cuda"),
    ],
)
def test_bad_cell_options_are_refused_in_one_line(argv, match, capsys, tmp_path):
    before = snapshot(tmp_path)
    rc, _, err = run_cli(
        ["simulate", BALL_STICK, "--current", "0.3", "--duration-ms", "150",
         "--out", str(tmp_path / "t.csv"), *argv],
        capsys,
    )  # fmt: skip
    assert_refused(rc, err, match)
    assert snapshot(tmp_path) == before


def test_at_and_record_are_for_cells_only(capsys):
    rc, _, err = run_cli(["simulate", "lif", "--current", "1", "--at", "soma(0.5)"], capsys)
    assert_refused(rc, err, "--at")


def test_batch_is_bitwise_the_same_in_chunks_and_threads():
    """Rows do not depend on how the engine cuts the batch or on its threads."""
    m = resolve(BALL_STICK)
    batch = batch_for(m, stimulus=make_stimulus("noisy", mean=0.25, sigma=0.05, t_on=20.0))
    settings = SimSettings.for_model(m.spec, duration_ms=80.0)
    pts = np.column_stack([np.linspace(0.08, 0.16, 6), np.linspace(250, 700, 6)])
    whole = run_batch(batch, pts, settings=settings, seed=3, chunk_size=6, workers=2)
    parts = run_batch(batch, pts, settings=settings, seed=3, chunk_size=2, workers=1)
    assert np.array_equal(whole.outputs, parts.outputs, equal_nan=True)
    assert whole.ok.all()
    # and a subset of rows draws what the whole batch drew for them
    sub = run_batch(batch, pts[3:], settings=settings, seed=3, rows=np.arange(3, 6))
    assert np.array_equal(sub.outputs, whole.outputs[3:], equal_nan=True)
    # the noise matters: another seed changes the result
    other = run_batch(batch, pts, settings=settings, seed=4)
    assert not np.array_equal(other.outputs, whole.outputs, equal_nan=True)


def test_sweep_stores_every_cell_run(capsys, tmp_path):
    db = tmp_path / "cells.db"
    rc, _, err = run_cli(
        ["sweep", BALL_STICK, "--n", "8", "--db", str(db), "--current", "0.3",
         "--duration-ms", "200", "--quiet"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    con = sqlite3.connect(db)
    rows = con.execute(
        'SELECT "soma.hh.gnabar", "dend.L", rate, status FROM runs ORDER BY row_index'
    ).fetchall()
    con.close()
    assert len(rows) == 8 and all(r[3] == "ok" for r in rows)
    # the stored rates are the engine's for the same points
    m = resolve(BALL_STICK)
    pts = np.array([r[:2] for r in rows])
    res = run_batch(
        batch_for(m, stimulus=make_stimulus("step", amp=0.3, t_on=100.0)),
        pts,
        settings=SimSettings.for_model(m.spec, duration_ms=200.0),
    )
    assert np.allclose([r[2] for r in rows], res.outputs[:, 0])
    assert np.ptp(res.outputs[:, 0]) > 0  # the points differ in their rates


# --- against NEURON ------------------------------------------------------------------------------


def _neuron_spikes(cell_file: str, values: dict, amp: float, at, tstop: float, dt: float):
    from neuroscape.models.multicomp.description import load_cell
    from neuroscape.reference.neuron_cell import NeuronCell

    cell = load_cell(cell_file).with_values(values)
    nrn = NeuronCell(cell)
    run = nrn.run(amp_nA=amp, delay_ms=100.0, dur_ms=1e9, tstop_ms=tstop, at=at, dt_ms=dt)
    return np.asarray(run.spikes)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cell_file", "argv", "values", "at"),
    [
        (BALL_STICK, ["--set", "soma.hh.gnabar=0.15", "--set", "dend.pas.g=0.0002"],
         {"soma.hh.gnabar": 0.15, "dend.pas.g": 0.0002}, None),
        (BALL_STICK, ["--at", "dend(0.3)", "--set", "dend.L=250"], {"dend.L": 250.0},
         ("dend", 0.3)),
        (BRANCHED, [], {}, None),
    ],
)  # fmt: skip
def test_cli_spike_times_match_neuron(cell_file, argv, values, at, capsys):
    """`neuroscape simulate CELL.yaml --current ... --json`: the spike times NEURON gives for
    the same cell, current, location and step (its defaults: Crank-Nicolson, dt 0.025 ms)."""
    amp = 0.6 if at else 0.4
    rc, out, err = run_cli(
        ["simulate", cell_file, "--current", str(amp), "--duration-ms", "300", "--json", *argv],
        capsys,
    )
    assert rc == 0, err
    got = json.loads(out)
    ours = np.asarray(got["spike_times_ms"])
    ref = _neuron_spikes(cell_file, values, amp, at, 300.0, 0.025)
    assert len(ref) >= 3
    assert len(ours) == len(ref)
    assert np.max(np.abs(ours - ref)) < 0.01
    assert got["settings"]["integrator"] == "crank_nicolson" and got["current_unit"] == "nA"


def test_fi_curve_of_a_cell(capsys, tmp_path):
    rc, out, err = run_cli(
        ["fi-curve", BALL_STICK, "--currents", "0:0.5:0.1", "--duration-ms", "400",
         "--out", str(tmp_path)],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    table = np.loadtxt(tmp_path / "fi_curve.csv", delimiter=",", skiprows=1)
    assert table.shape == (6, 3)
    assert table[0, 1] == 0 and table[-1, 1] > 0  # silent at 0 nA, firing at 0.5 nA
    assert np.all(np.diff(table[:, 2]) >= 0)  # more current, no fewer spikes
    assert "nA" in out


# --- against NEURON ------------------------------------------------------------------------------


def _neuron_trace(cell_file: str, values: dict, amp: float, path: Path, tstop: float = 150.0):
    """A NEURON trace of ``cell_file`` under a step of ``amp`` nA from 20 ms (CN, 0.025 ms),
    written as a t_ms,V_mV target CSV."""
    from neuroscape.models.multicomp.description import load_cell
    from neuroscape.reference.neuron_cell import NeuronCell

    cell = load_cell(cell_file).with_values(values)
    run = NeuronCell(cell).run(amp_nA=amp, delay_ms=20.0, dur_ms=1e9, tstop_ms=tstop, dt_ms=0.025)
    t, v = np.asarray(run.t_ms), np.asarray(run.v).reshape(-1, len(run.t_ms))[0]
    keep = t < tstop - 1e-9
    np.savetxt(path, np.column_stack([t[keep], v[keep]]), delimiter=",", header="t_ms,V_mV",
               comments="")  # fmt: skip
    return run


@pytest.mark.slow
@pytest.mark.parametrize(
    ("amp", "argv", "name", "truth", "tol"),
    [
        (-0.2, ["--set", "soma.hh.gnabar=0.15", "--free", "dend.L"], "dend.L", 550.0, 0.01),
        (0.3, ["--set", "dend.L=550", "--free", "soma.hh.gnabar"], "soma.hh.gnabar", 0.15, 0.01),
    ],
)
def test_fit_recovers_a_cell_from_a_neuron_trace(amp, argv, name, truth, tol, capsys, tmp_path):
    """`neuroscape fit CELL.yaml` on a trace NEURON made (not neuroscape): a hyperpolarising
    step pins the dendrite's length, a spiking one the sodium density."""
    target = tmp_path / "trace.csv"
    _neuron_trace(BALL_STICK, {"soma.hh.gnabar": 0.15, "dend.L": 550.0}, amp, target)
    rc, _, err = run_cli(
        ["fit", BALL_STICK, "--target", str(target), "--current", str(amp), "--t-on", "20",
         *argv, "--measure", "rms", "--method", "cmaes", "--budget", "150", "--seed", "0",
         "--out", str(tmp_path / "fit")],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    best = json.loads((tmp_path / "fit" / "result.json").read_text())["best"]
    assert abs(best[name] - truth) < tol * truth, best
