"""SONATA point-neuron circuits: a circuit written by bmtk's NetworkBuilder (the format's own
tool; tests/data/sonata/build_with_bmtk.py) read, run and compared with the same network built
directly as a neuroscape description (the edges read here with plain h5py, the weights and
delays as the builder script declares them); spikes written in SONATA's layout; bad circuits
refused with one line naming the element and the file."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuroscape.api import simulate
from neuroscape.cli.sonata_io import write_sonata_spikes
from neuroscape.models.network import network_model
from neuroscape.models.network.sonata import SonataError, load_sonata

CIRCUIT = Path(__file__).resolve().parents[1] / "data" / "sonata" / "circuit"
CONFIG = CIRCUIT / "circuit_config.json"
DRIVE = {"net_100": {"current": "3 nA", "initial": {"V": "-65*mV + rand()*20*mV"}},
         "net_101": {"current": "2.8 nA", "initial": {"V": "-65*mV + rand()*20*mV"}}}
RUN = dict(duration_ms=200.0, dt_ms=0.1, window_ms=100.0, record_spikes=True, seed=3)


def _edges_by_hand():
    """(pre node, post node, weight) of every edge, from the HDF5 datasets directly."""
    with h5py.File(CIRCUIT / "network" / "net_net_edges.h5", "r") as f:
        g = f["edges/net_to_net"]
        src, tgt = g["source_node_id"][()], g["target_node_id"][()]
        et, gid, gidx = g["edge_type_id"][()], g["edge_group_id"][()], g["edge_group_index"][()]
        per_edge = g["1/syn_weight"][()]
    w = np.array([{100: 3.0, 101: 4.0, 103: -5.0}.get(int(t), np.nan) for t in et])
    w[gid == 1] = per_edge[gidx[gid == 1]]
    return src.astype(int), tgt.astype(int), et.astype(int), w


def _direct():
    """The same circuit written as a neuroscape description: node ids 0-7 are E, 8-11 I."""
    src, tgt, et, w = _edges_by_hand()
    lif = {"model": "lif", "current": None}
    pops = {"E": {**lif, "size": 8, "params": {"tau": "20 ms", "t_ref": "2 ms"},
                  **DRIVE["net_100"]},
            "I": {**lif, "size": 4, "params": {"tau": "10 ms", "R": "10 MOhm"},
                  **DRIVE["net_101"]}}
    projs = {}
    for name, t, wv, delay in (("EE", 100, 3.0, "1.5 ms"), ("EI", 101, 4.0, "1.5 ms"),
                               ("IE9", 102, -9.0, "0.8 ms"), ("IE6", 102, -6.0, "0.8 ms"),
                               ("II", 103, -5.0, "0.8 ms")):
        sel = (et == t) & (w == wv)
        pre, post = src[sel], tgt[sel]
        pre_pop, post_pop = ("E" if pre.max() < 8 else "I"), ("E" if post.max() < 8 else "I")
        projs[name] = {"pre": pre_pop, "post": post_pop, "on_pre": f"V += {wv}*mV",
                       "delay": delay,
                       "connect": {"pairs": np.vstack([pre - 8 * (pre_pop == "I"),
                                                       post - 8 * (post_pop == "I")]),
                                   "autapses": pre_pop == post_pop}}
    return network_model({"name": "direct", "populations": pops, "projections": projs})


@pytest.fixture(scope="module")
def sonata_net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lif's in-step spike times fall on the grid here
        return load_sonata(CONFIG, populations=DRIVE)


def test_reads_the_bmtk_circuit(sonata_net):
    src, tgt, et, w = _edges_by_hand()
    assert sonata_net.sizes == {"net_100": 8, "net_101": 4}
    g = sonata_net.graph(0)
    assert sum(g.n_synapses.values()) == src.size  # every edge, once
    pairs = {(int(a) + 8 * (sonata_net.ends[k][0] == "net_101"),
              int(b) + 8 * (sonata_net.ends[k][1] == "net_101"))
             for k, e in g.edges.items() for a, b in e.T}
    assert pairs == set(zip(src.tolist(), tgt.tolist(), strict=True))
    assert sonata_net.sonata_nodes["net_101"][0] == "net"
    assert sonata_net.sonata_nodes["net_101"][1].tolist() == [8, 9, 10, 11]


@pytest.mark.slow  # two network kernels compiled by numba: about 20 s on a shared core
def test_same_spikes_as_the_direct_description(sonata_net, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = _direct()
    a = simulate(sonata_net, **RUN).spikes[0]
    b = simulate(direct, **RUN).spikes[0]
    assert a[0].size > 20  # the network fires
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])

    out = write_sonata_spikes(tmp_path / "spikes.h5", a[0], a[1], sonata_net.sizes,
                              sonata_net.sonata_nodes)
    with h5py.File(out, "r") as f:
        assert int(f.attrs["magic"]) == 0x0A7A
        g = f["spikes/net"]
        assert h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype) == {
            "none": 0, "by_id": 1, "by_time": 2}
        assert int(g.attrs["sorting"]) == 2
        assert g["timestamps"].attrs["units"] == "ms"
        assert g["node_ids"].dtype == np.uint64
        t, ids = g["timestamps"][()], g["node_ids"][()]
    assert np.all(np.diff(t) >= 0)
    # node ids are SONATA's: the global index of the run (E first, then I) is the node id here
    order = np.lexsort((a[1], a[0]))
    np.testing.assert_array_equal(t, a[0][order])
    np.testing.assert_array_equal(ids, a[1][order])


# ------------------------------------------------------------------------------- refusals
@pytest.fixture
def copy(tmp_path):
    dst = tmp_path / "circuit"
    shutil.copytree(CIRCUIT, dst)
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_missing_node_type(copy):
    _edit(copy / "network" / "net_node_types.csv", "101 neuroscape:lif", "102 neuroscape:lif")
    with pytest.raises(SonataError, match=r"net_nodes.h5: /nodes/net: node 8 has node_type_id "
                                          r"101, which .*net_node_types.csv does not declare"):
        load_sonata(copy / "circuit_config.json", populations=DRIVE)


def test_unmapped_model_template(copy):
    _edit(copy / "network" / "net_node_types.csv", "101 neuroscape:lif", "101 nest:iaf_psc_alpha")
    with pytest.raises(SonataError, match=r"net_node_types.csv: node type 101: model_template "
                                          r"'nest:iaf_psc_alpha': schema 'nest'"):
        load_sonata(copy / "circuit_config.json")


def test_biophysical_node(copy):
    _edit(copy / "network" / "net_node_types.csv", "lif_I.json point_neuron",
          "lif_I.json biophysical")
    with pytest.raises(SonataError, match=r"node type 101: model_type biophysical \(a "
                                          r"multi-compartment cell\) is not supported"):
        load_sonata(copy / "circuit_config.json")


def test_edge_to_unknown_node(copy):
    with h5py.File(copy / "network" / "net_net_edges.h5", "r+") as f:
        ds = f["edges/net_to_net/target_node_id"]
        ds[3] = 99
    with pytest.raises(SonataError, match=r"net_net_edges.h5: /edges/net_to_net: target node 99 "
                                          r"is not a node of population net"):
        load_sonata(copy / "circuit_config.json")


def test_missing_on_pre_and_too_many_projections(copy):
    with pytest.raises(SonataError, match=r"more than 3 \(populations, edge type\) groups"):
        load_sonata(copy / "circuit_config.json", max_projections=3)
    _edit(copy / "network" / "net_net_edge_types.csv", '"V += w*mV"', "NULL")
    with pytest.raises(SonataError, match=r"edge type 100: no on_pre statement"):
        load_sonata(copy / "circuit_config.json")
