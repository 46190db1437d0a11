"""A surrogate of a multi-compartment cell through the command line: `sweep` a ball-and-stick
over its declared parameters (hh sodium density in the soma, dendrite length), `surrogate
train` on the database, `surrogate predict` held-out points, checked against the cable engine's
own rates at those points (the detailed model the surrogate replaces). Half the box fires a
single spike (its ISI CV is undefined): the rate is learned there too."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from neuroscape.core.settings import SimSettings
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import resolve
from neuroscape.sim.engine import batch_for, run_batch
from neuroscape.testing import run_cli

BALL_STICK = str(Path(__file__).resolve().parents[2] / "examples" / "cells" / "ball_stick.yaml")
AMP_NA, DURATION_MS = 0.3, 300.0


def test_a_surrogate_of_a_cell_predicts_held_out_rates(capsys, tmp_path):
    db, sur = tmp_path / "cells.db", tmp_path / "sur"
    rc, _, err = run_cli(
        ["sweep", BALL_STICK, "--n", "128", "--db", str(db), "--current", str(AMP_NA),
         "--duration-ms", str(DURATION_MS), "--quiet"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    rc, out, err = run_cli(
        ["surrogate", "train", "--db", str(db), "--out", str(sur), "--hidden", "32,32",
         "--epochs", "1000", "--patience", "100", "--lr", "0.01", "--quiet"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    # held-out points (not Sobol's: uniform draws of another seed), simulated directly
    m = resolve(BALL_STICK)
    lo, hi = m.spec.bounds.T
    pts = np.random.default_rng(5).uniform(lo, hi, size=(32, len(lo)))
    truth = run_batch(
        batch_for(m, stimulus=make_stimulus("step", amp=AMP_NA, t_on=100.0)),
        pts,
        settings=SimSettings.for_model(m.spec, duration_ms=DURATION_MS),
    ).outputs[:, list(m.spec.output_names).index("rate")]
    names = list(m.spec.parameter_names)
    table = tmp_path / "points.csv"
    with table.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        w.writerows(pts.tolist())
    pred_csv = tmp_path / "pred.csv"
    rc, _, err = run_cli(
        ["surrogate", "predict", str(sur), "--params", str(table), "--out", str(pred_csv)], capsys
    )
    assert rc == 0, err
    with pred_csv.open() as fh:
        pred = np.array([float(r["rate"]) for r in csv.DictReader(fh)])
    # the box holds both regimes (a single spike, and repetitive firing): a constant fails
    assert np.ptp(truth) > 50.0
    mae, sd = np.abs(pred - truth).mean(), truth.std()
    # the surrogate explains most of the variation: its error is well below predicting the mean
    assert mae < 0.3 * sd, (mae, sd)
