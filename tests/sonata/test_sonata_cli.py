"""`neuroscape simulate circuit_config.json`: a SONATA circuit (written by bmtk) wherever a model
name is accepted, its spikes written in SONATA's layout; a circuit that cannot be read exits 2
with one line and writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py

from neuroscape.testing import assert_refused, run_cli, snapshot

CIRCUIT = Path(__file__).resolve().parents[1] / "data" / "sonata" / "circuit"


def test_params_lists_the_circuit_s_populations(capsys):
    rc, out, err = run_cli(["params", str(CIRCUIT / "circuit_config.json")], capsys)
    assert rc == 0, err
    assert "net_100" in out or "net_101" in out


def test_simulate_writes_sonata_spikes(tmp_path, capsys):
    out_h5 = tmp_path / "spikes.h5"
    rc, out, err = run_cli(["simulate", str(CIRCUIT / "circuit_config.json"), "--duration-ms",
                            "50", "--sonata-spikes", str(out_h5)], capsys)  # fmt: skip
    assert rc == 0, err
    with h5py.File(out_h5) as f:
        assert set(f["spikes"]) == {"net"}  # the circuit's node population, not neuroscape's
        assert f["spikes/net/timestamps"].attrs["units"] in ("ms", b"ms")


def test_an_unreadable_circuit_exits_2_and_writes_nothing(tmp_path, capsys):
    dst = tmp_path / "circuit"
    shutil.copytree(CIRCUIT, dst)
    types = dst / "network" / "net_node_types.csv"
    types.write_text(types.read_text().replace("101 neuroscape:lif", "101 nest:iaf_psc_alpha"))
    before = snapshot(tmp_path)
    rc, out, err = run_cli(["simulate", str(dst / "circuit_config.json"), "--sonata-spikes",
                            str(tmp_path / "s.h5")], capsys)  # fmt: skip
    assert_refused(rc, err, "model_template 'nest:iaf_psc_alpha'")
    assert out == "" and snapshot(tmp_path) == before
