"""A network of cells through the registry and the command line: a network file whose
populations are cell files runs on the cell-network engine (not the point-neuron one), its
parameters take --set with their units, and a sweep stores every row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neuroscape.models import resolve
from neuroscape.models.multicomp.network import CellNetworkModel, load_cell_network
from neuroscape.sim.cell_network import run_cell_network
from neuroscape.testing import assert_refused, run_cli, snapshot

NET = str(Path(__file__).resolve().parents[2] / "examples" / "cells" / "ball_stick_network.yaml")


def test_a_network_of_cells_resolves_and_runs_from_the_command_line(capsys, tmp_path):
    assert isinstance(resolve(NET), CellNetworkModel)
    rc, out, _ = run_cli(["simulate", NET, "--duration-ms", "100", "--window-ms", "100",
                          "--set", "rate=30", "--json"], capsys)  # fmt: skip
    assert rc == 0
    res = json.loads(out)
    assert res["parameter_units"]["rate"] == "Hz" and res["output_units"]["rate_E"] == "Hz"
    # the same run called directly: spikes of population E in [0, 100) ms over 16 cells
    net = load_cell_network(NET)
    direct = run_cell_network(net, {"rate": np.array([30.0])}, duration_ms=100.0)
    n_e = sum(len(t) for t in direct.spikes["E"][0])
    assert n_e > 0
    assert res["outputs"]["rate_E"] == n_e / 16 / 0.1
    # the spike file holds every cell's spikes, cells numbered over E then I
    rc, _, _ = run_cli(["simulate", NET, "--duration-ms", "100", "--window-ms", "100",
                        "--set", "rate=30", "--save-spikes", str(tmp_path / "s.csv")], capsys)
    assert rc == 0
    saved = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1, ndmin=2)
    assert np.count_nonzero(saved[:, 1] < 16) == n_e
    first = np.sort(np.concatenate(direct.spikes["E"][0]))[:5]
    np.testing.assert_allclose(np.sort(saved[saved[:, 1] < 16, 0])[:5], first, rtol=1e-9)


def test_a_bad_value_of_a_network_of_cells_is_refused(capsys, tmp_path):
    before = snapshot(tmp_path)
    rc, _, err = run_cli(["simulate", NET, "--set", "w_EE=-1", "--save-spikes",
                          str(tmp_path / "s.csv")], capsys)  # fmt: skip
    assert_refused(rc, err, "w_EE=-1")
    assert snapshot(tmp_path) == before
