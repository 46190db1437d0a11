"""`neuroscape export-neuroml` without Java: export then re-import (``FILE.nml:CELL_ID``) gives
the declared values of Brette and Gerstner (2005, Table 1) for adex and of Hodgkin and Huxley
(1952) over the exported 1000 um2 segment for hh; networks and models of no NeuroML2 form are
refused in one line with exit status 2."""

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
    ("cuba", "cuba: a network"),
    ("fhn", "fhn: equations of no NeuroML2 core form"),
    ("wilson_cowan", "wilson_cowan: a theory model"),
])
def test_refused_in_one_line(tmp_path, capsys, model, words):
    assert main(["export-neuroml", model, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not any(tmp_path.iterdir())
