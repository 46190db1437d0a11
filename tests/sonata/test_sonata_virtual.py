"""Virtual nodes driven by a SONATA spike file (written by bmtk's SpikeTrains; the circuit by bmtk's
NetworkBuilder: tests/data/sonata/build_virtual_with_bmtk.py), named in a simulation config's
``inputs``: the integrators they drive sum each arriving weight, so their v is a closed form of
the spike file, the edges' own weights and delays, all read here with plain h5py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.network.sonata import SonataError, load_sonata
from neuroscape.sim.engine import batch_for

CIRCUIT = Path(__file__).resolve().parents[1] / "data" / "sonata" / "circuit_virtual"
SIM = CIRCUIT / "simulation_config.json"
DT = 0.1  # ms, the simulation config's


def _truth(t: np.ndarray) -> np.ndarray:
    """(3, len(t)) v of the three integrators (mV): the sum over edges s -> k and spikes of s
    of syn_weight x [t >= spike + delay]."""
    with h5py.File(CIRCUIT / "inputs" / "ext_spikes.h5", "r") as f:
        ids, ts = f["spikes/ext/node_ids"][()], f["spikes/ext/timestamps"][()]
    with h5py.File(CIRCUIT / "network" / "ext_cells_edges.h5", "r") as f:
        g = f["edges/ext_to_cells"]
        src, tgt = g["source_node_id"][()], g["target_node_id"][()]
        gidx = g["edge_group_index"][()]
        w, d = g["0/syn_weight"][()][gidx], g["0/delay"][()][gidx]
    v = np.zeros((3, t.size))
    arrivals = []
    for s, k, wk, dk in zip(src, tgt, w, d, strict=True):
        for tk in ts[ids == s]:
            v[k] += wk * (t >= tk + dk)
            arrivals.append(tk + dk)
    return v, np.asarray(arrivals)


def test_virtual_nodes_fire_their_spike_file():
    net = load_sonata(SIM)
    assert net.sizes == {"ext": 5, "cells": 3}
    b = batch_for(net, conn_seed=0)
    s = SimSettings.for_model(net.spec, duration_ms=50.0, window_ms=50.0, dt_ms=DT)
    res = b.run_chunk(net.spec.params_array([{}]), row_keys(0, np.arange(1)), s, "cpu",
                      Recording(v_neurons=(5, 6, 7)))
    t = (np.arange(res.voltages.shape[2]) + 1) * DT
    want, arrivals = _truth(t)
    assert arrivals.size >= 8 and want[:, -1].min() > 0  # every cell gets input
    far = np.all(np.abs(t[None, :] - arrivals[:, None]) > 1.5 * DT, axis=0)
    np.testing.assert_allclose(res.voltages[0][:, far], want[:, far], rtol=0, atol=1e-5)


@pytest.fixture
def copy(tmp_path):
    dst = tmp_path / "c"
    shutil.copytree(CIRCUIT, dst)
    return dst


@pytest.mark.parametrize("key, value, message", [
    ("input_type", "current_clamp", r"input_type 'current_clamp' is not supported; allowed: "
                                    r"spikes"),
    ("module", "nwb", r"module 'nwb'; allowed: sonata, h5, hdf5, csv"),
    ("input_file", "$INPUT_DIR/none.h5", r"none.h5: no such spike file"),
])
def test_bad_inputs_are_refused_in_one_line(copy, key, value, message):
    cfg = json.loads((copy / "simulation_config.json").read_text())
    cfg["inputs"]["ext_spikes"][key] = value
    (copy / "simulation_config.json").write_text(json.dumps(cfg))
    with pytest.raises(SonataError, match=message) as info:
        load_sonata(copy / "simulation_config.json")
    assert "\n" not in str(info.value)


def test_a_csv_spike_file_gives_the_same_trains(copy, tmp_path):
    with h5py.File(CIRCUIT / "inputs" / "ext_spikes.h5", "r") as f:
        ids, ts = f["spikes/ext/node_ids"][()], f["spikes/ext/timestamps"][()]
    rows = [f"{float(t)!r} ext {int(i)}" for t, i in zip(ts, ids, strict=True)]
    lines = ["timestamps population node_ids", *rows]
    (copy / "inputs" / "ext.csv").write_text("\n".join(lines) + "\n")
    cfg = json.loads((copy / "simulation_config.json").read_text())
    cfg["inputs"]["ext_spikes"].update(module="csv", input_file="$INPUT_DIR/ext.csv")
    (copy / "simulation_config.json").write_text(json.dumps(cfg))
    a, b = load_sonata(SIM), load_sonata(copy / "simulation_config.json")
    pa, pb = a.population("ext"), b.population("ext")
    assert pa.spike_times.size == ids.size
    np.testing.assert_array_equal(pa.spike_times, pb.spike_times)
    np.testing.assert_array_equal(pa.spike_indices, pb.spike_indices)
