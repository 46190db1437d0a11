"""`neuroscape export-neuroml` without Java: export then re-import (``FILE.nml:CELL_ID``) gives
the declared values of Brette and Gerstner (2005, Table 1) for adex and of Hodgkin and Huxley
(1952) over the exported 1000 um2 segment for hh; the reduced `cuba` network's file holds the
connections neuroscape draws and the CUBA benchmark's numbers (Brette et al. 2007: tau_m 20 ms,
E_l -49 mV, threshold -50 mV, reset -60 mV, 5 ms refractory, tau_e 5 ms, tau_i 10 ms, w_e
1.62 mV, w_i -9 mV); networks and models of no NeuroML2 form, and bad sizes, are refused in one
line with exit status 2."""

from __future__ import annotations

import pytest

from neuroscape.cli.main import main


def _reimport(tmp_path, name: str, cell: str) -> dict[str, tuple[float, str]]:
    from neuroscape.models.neuroml import load_cell

    assert main(["export-neuroml", name, "--out", str(tmp_path), "--amp", "1"]) == 0
    m = load_cell(f"{tmp_path}/{name}.cell.nml:{cell}")
    return {p.name: (p.default, p.unit) for p in m.spec.parameters}


def test_adex_round_trip(tmp_path):
    got = _reimport(tmp_path, "adex", "adex_cell")
    want = {"C": (281, "pF"), "gL": (30, "nS"), "EL": (-70.6, "mV"), "VT": (-50.4, "mV"),
            "delT": (2, "mV"), "tauw": (144, "ms"), "a": (4, "nS"), "b": (80.5, "pA"),
            "reset": (-70.6, "mV"), "thresh": (-40.4, "mV"), "refract": (0, "ms")}
    assert set(got) == set(want)
    for k, (v, u) in want.items():
        assert got[k][1] == u and got[k][0] == pytest.approx(v, rel=1e-12, abs=1e-12), k


def test_hh_round_trip(tmp_path):
    got = _reimport(tmp_path, "hh", "hh_cell")
    area_cm2 = 1000e-8  # 1000 um2
    want = {"C": (1.0 * area_cm2 * 1e6, "pF"),  # 1 uF/cm2
            "V0": (-65, "mV"),
            "g_chan_m3h_all": (120 * area_cm2 * 1e6, "nS"), "E_chan_m3h_all": (50, "mV"),
            "g_chan_n4_all": (36 * area_cm2 * 1e6, "nS"), "E_chan_n4_all": (-77, "mV"),
            "g_leak_all": (0.3 * area_cm2 * 1e6, "nS"), "E_leak_all": (-54.3, "mV")}
    assert set(got) == set(want)
    for k, (v, u) in want.items():
        assert got[k][1] == u and got[k][0] == pytest.approx(v, rel=1e-7), k


@pytest.mark.parametrize(("model", "words"), [
    ("coba_stp", "coba_stp: population E (model coba_cell): dv/dt is not linear in v"),
    ("song2000", "song2000: population input: a poisson population has no NeuroML2 form"),
    ("brunel", "brunel: inputs (ext_E, ext_I) have no NeuroML2 form"),
    ("fhn", "fhn: equations of no NeuroML2 core form"),
    ("wilson_cowan", "wilson_cowan: a theory model"),
])
def test_refused_in_one_line(tmp_path, capsys, model, words):
    assert main(["export-neuroml", model, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not any(tmp_path.iterdir())


def test_cuba_network_file(tmp_path):
    """The exported reduced cuba: each cell and synapse with the benchmark's values (PyNN's
    units; cm = tau_m in nF, so 1 nA of synaptic current is 1 mV of ge), every connection of
    neuroscape's graph for conn-seed 3 (and no other) with weight w_e or w_i in nA."""
    from lxml import etree

    from neuroscape.models import resolve
    from neuroscape.models.neuroml.export_network import resized

    assert main(["export-neuroml", "cuba", "--out", str(tmp_path), "--size", "E=80", "--size",
                 "I=20", "--conn-seed", "3", "--set", "w_e=2"]) == 0
    root = etree.parse(str(tmp_path / "cuba.net.nml")).getroot()
    ns = {"n": root.nsmap[None]}
    cells = {c.get("id"): c for c in root.findall("n:IF_curr_exp", ns)}
    assert set(cells) == {"E_cell", "I_cell"}
    for c in cells.values():
        got = {k: float(c.get(k)) for k in ("tau_m", "cm", "v_rest", "v_thresh", "v_reset",
                                             "tau_refrac", "v_init", "i_offset")}
        assert got == pytest.approx({"tau_m": 20, "cm": 20, "v_rest": -49, "v_thresh": -50,
                                     "v_reset": -60, "tau_refrac": 5, "v_init": -60,
                                     "i_offset": 0}, abs=1e-9)
    taus = {s.get("id"): float(s.get("tau_syn")) for s in root.findall("n:expCurrSynapse", ns)}
    assert taus == {"syn_E_to_E": 5, "syn_E_to_I": 5, "syn_I_to_E": 10, "syn_I_to_I": 10}
    graph = resized(resolve("cuba"), {"E": 80, "I": 20}).graph(3)
    for proj in root.iter(f"{{{ns['n']}}}projection"):
        pre, post = proj.get("presynapticPopulation"), proj.get("postsynapticPopulation")
        pairs = set()
        for c in proj.findall("n:connectionWD", ns):
            a = int(c.get("preCellId").split("[")[1][:-1])
            b = int(c.get("postCellId").split("[")[1][:-1])
            pairs.add((a, b))
            assert float(c.get("weight")) == pytest.approx(2.0 if pre == "E" else -9.0)
        want = set(zip(*graph.edges[proj.get("id")][:2].tolist(), strict=True))
        assert pairs == want and len(want) > 0, (pre, post)


@pytest.mark.parametrize(("argv", "words"), [
    (["cuba", "--size", "E=0"], "--size 'E=0'; allowed: POP=N"),
    (["cuba", "--size", "X=3"], "cuba: no population 'X'"),
    (["cuba", "--amp", "3"], "--amp: for single-cell models only"),
    (["adex", "--size", "E=3"], "--size: for networks only"),
])
def test_bad_network_options(tmp_path, capsys, argv, words):
    assert main(["export-neuroml", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
