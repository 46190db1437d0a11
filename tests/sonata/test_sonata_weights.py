"""A SONATA circuit with continuous per-edge weights and delays (written by bmtk's NetworkBuilder:
tests/data/sonata/build_weights_with_bmtk.py): every edge keeps its own syn_weight and delay, read
back here against the HDF5 datasets and the edge types CSV read with plain h5py and csv."""

from __future__ import annotations

import csv
import re
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuroscape.api import simulate
from neuroscape.models.network.sonata import SonataError, load_sonata, sonata_description

CIRCUIT = Path(__file__).resolve().parents[1] / "data" / "sonata" / "circuit_weights"
DRIVE = {"cw_100": {"current": "3 nA", "initial": {"V": "-65*mV + rand()*20*mV"}},
         "cw_101": {"current": "2.8 nA", "initial": {"V": "-65*mV + rand()*20*mV"}}}


def _edges_by_hand() -> dict[tuple[int, int, int], tuple[float, float]]:
    """(source node, target node, edge type) -> (syn_weight, delay ms), per edge: the edge
    group's dataset where it has one, else the edge type's column."""
    net = CIRCUIT / "network"
    with open(net / "cw_cw_edge_types.csv") as fh:
        types = {int(r["edge_type_id"]): r for r in csv.DictReader(fh, delimiter=" ")}
    with h5py.File(net / "cw_cw_edges.h5", "r") as f:
        g = f["edges/cw_to_cw"]
        src, tgt, et = g["source_node_id"][()], g["target_node_id"][()], g["edge_type_id"][()]
        gid, gidx = g["edge_group_id"][()], g["edge_group_index"][()]
        out = {}
        for k in range(src.size):
            grp = g[str(int(gid[k]))]
            row = types[int(et[k])]
            vals = []
            for col in ("syn_weight", "delay"):
                vals.append(float(grp[col][gidx[k]]) if col in grp else float(row[col]))
            out[(int(src[k]), int(tgt[k]), int(et[k]))] = tuple(vals)
    return out


@pytest.fixture(scope="module")
def net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lif's in-step spike times fall on the grid here
        return load_sonata(CIRCUIT / "circuit_config.json", populations=DRIVE)


def _value(v) -> float:
    """A number, or a quantity text such as '0.7 ms'."""
    return float(str(v).split()[0])


def test_every_edge_keeps_its_own_weight_and_delay():
    want = _edges_by_hand()
    assert len({w for w, _ in want.values()}) > 20  # continuous weights: one value per edge
    desc, node_map = sonata_description(CIRCUIT / "circuit_config.json", populations=DRIVE)
    first = {p: int(ids[0]) for p, (_, ids) in node_map.items()}
    got = {}
    for name, j in desc["projections"].items():
        (pre, post), n = j["connect"]["pairs"], j["connect"]["pairs"].shape[1]
        t = int(name.rsplit("_t", 1)[1].split("_")[0])
        vals = j["connect"].get("values", {})
        if "syn_weight" in vals:  # per edge: w is a synaptic variable initialised from them
            assert j["initial"] == {"w": "syn_weight"} and j["on_pre"] == "V += w*mV"
            w = np.asarray(vals["syn_weight"], dtype=float)
        else:  # one weight for the projection, written into its statement
            m = re.fullmatch(r"V \+= \((.+)\)\*mV", j["on_pre"])
            assert m, j["on_pre"]
            w = np.full(n, float(m.group(1)))
        if "delay_ms" in vals:
            assert j["delay"] == "delay_ms" and vals["delay_ms"]["unit"] == "ms"
            d = np.asarray(vals["delay_ms"]["values"], dtype=float)
        else:
            d = np.full(n, _value(j["delay"]))
        for k in range(n):
            got[(first[j["pre"]] + int(pre[k]), first[j["post"]] + int(post[k]), t)] = (
                w[k], d[k])
    assert got.keys() == want.keys()
    for key, wd in want.items():
        assert got[key] == pytest.approx(wd, abs=1e-12), key


def test_the_model_holds_the_values_in_graph_order(net):
    # the engine's arrays: the pairs sorted by (pre, post), each value moved with its pair
    want = _edges_by_hand()
    first = {p: int(ids[0]) for p, (_, ids) in net.sonata_nodes.items()}
    n_checked = 0
    for j in net.projections:
        ev = j.rule.get("values")
        if ev is None:
            continue
        pre, post = j.rule["edges"].array
        assert np.all(np.diff(pre * 100 + post) > 0)  # canonical order
        t = int(j.name.rsplit("_t", 1)[1].split("_")[0])
        arr = ev.arrays()
        for k in range(pre.size):
            w, d = want[(first[j.pre] + int(pre[k]), first[j.post] + int(post[k]), t)]
            if "edge_syn_weight" in arr:
                assert arr["edge_syn_weight"][k] == w
            if "edge_delay_ms" in arr:
                assert arr["edge_delay_ms"][k] == d
            n_checked += 1
    assert n_checked > 20


def test_the_circuit_runs(net):
    r = simulate(net, duration_ms=100.0, dt_ms=0.1, window_ms=100.0, record_spikes=True, seed=1)
    t, ids = r.spikes[0]
    assert t.size > 10
    assert set(np.unique(ids)) <= set(range(9))


def _with_nsyns(tmp_path, value) -> Path:
    dst = tmp_path / "c"
    shutil.copytree(CIRCUIT, dst)
    with h5py.File(dst / "network" / "cw_cw_edges.h5", "r+") as f:
        g = f["edges/cw_to_cw"]
        for k, grp in g.items():
            if isinstance(grp, h5py.Group) and k.isdigit():
                n = int(np.sum(g["edge_group_id"][()] == int(k)))
                grp.create_dataset("nsyns", data=np.full(n, value))
    return dst / "circuit_config.json"


def _weights(config) -> dict:
    desc, _ = sonata_description(config, populations=DRIVE)
    out = {}
    for name, j in desc["projections"].items():
        vals = j["connect"].get("values", {})
        if "syn_weight" in vals:
            out[name] = np.asarray(vals["syn_weight"], dtype=float)
        else:
            out[name] = float(re.fullmatch(r"V \+= \((.+)\)\*mV", j["on_pre"]).group(1))
    return out


def test_nsyns_multiplies_the_weight_as_bmtk_pointnet_does(tmp_path):
    # bmtk's PointNet (pointnet/property_map.py) gives an edge syn_weight * nsyns
    plain, tripled = _weights(CIRCUIT / "circuit_config.json"), _weights(_with_nsyns(tmp_path, 3))
    assert plain.keys() == tripled.keys()
    for k in plain:
        np.testing.assert_allclose(tripled[k], 3 * np.asarray(plain[k]), rtol=1e-15)


def test_a_negative_nsyns_is_refused(tmp_path):
    with pytest.raises(SonataError, match=r"nsyns -1; allowed: a whole number >= 0"):
        sonata_description(_with_nsyns(tmp_path, -1))
