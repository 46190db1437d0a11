"""The cell description: YAML and dict give the same cell, addresses, values, and every bad
input of issue 22 as one line naming the value and what is allowed."""

from __future__ import annotations

import importlib.util
import textwrap

import numpy as np
import pytest

from neuroscape.models.multicomp import CellDescription, CellError, Section, load_cell, unit_of

BALL_STICK = textwrap.dedent("""
    name: ball_stick
    Ra: 150          # ohm cm
    cm: 1            # uF/cm2
    v_init: -65      # mV
    celsius: 6.3
    sections:
      soma: {L: 20, diam: 20, nseg: 1}
      dend: {L: 400, diam: 2, nseg: 41, parent: soma, parent_x: 1}
    mechanisms:
      soma: {hh: {gnabar: 0.12, gkbar: 0.036, gl: 0.0003, el: -54.3}}
      dend: {pas: {g: 0.0005, e: -65}}
    parameters:
      soma.hh.gnabar: {low: 0.06, high: 0.18}
      dend.L: {low: 200, high: 800}
""")


def ball_stick_dict() -> dict:
    return {
        "name": "ball_stick", "Ra": 150, "cm": 1, "v_init": -65, "celsius": 6.3,
        "sections": {"soma": {"L": 20, "diam": 20, "nseg": 1},
                     "dend": {"L": 400, "diam": 2, "nseg": 41, "parent": "soma", "parent_x": 1}},
        "mechanisms": {"soma": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003,
                                       "el": -54.3}},
                       "dend": {"pas": {"g": 0.0005, "e": -65}}},
        "parameters": {"soma.hh.gnabar": {"low": 0.06, "high": 0.18},
                       "dend.L": {"low": 200, "high": 800}},
    }  # fmt: skip


def test_yaml_text_file_and_dict_give_the_same_cell(tmp_path):
    path = tmp_path / "bs.yaml"
    path.write_text(BALL_STICK)
    a, b, c = load_cell(BALL_STICK), load_cell(path), load_cell(ball_stick_dict())
    assert a == b == c
    assert a.digest() == c.digest()
    assert list(a.sections) == ["soma", "dend"]
    assert a.sections["dend"].parent == "soma" and a.sections["dend"].nseg == 41
    assert a.mechanisms == {
        "soma": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003, "el": -54.3}},
        "dend": {"pas": {"g": 0.0005, "e": -65.0}},
    }
    assert a.ions == {"soma": {"ek": -77.0, "ena": 50.0}}  # NEURON's defaults with hh
    assert a.parameters == {"soma.hh.gnabar": (0.06, 0.18), "dend.L": (200.0, 800.0)}
    assert (a.Ra, a.cm, a.v_init, a.celsius) == (150.0, 1.0, -65.0, 6.3)


def test_defaults_are_neurons():
    cell = load_cell({"sections": {"s": {"L": 10, "diam": 10}},
                      "mechanisms": {"s": {"hh": {}, "pas": None}}})  # fmt: skip
    assert (cell.Ra, cell.cm, cell.v_init, cell.celsius) == (35.4, 1.0, -65.0, 6.3)
    assert cell.mechanisms["s"]["hh"] == {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003,
                                          "el": -54.3}  # fmt: skip
    assert cell.mechanisms["s"]["pas"] == {"g": 0.001, "e": -70.0}
    assert cell.sections["s"].nseg == 1 and cell.sections["s"].parent_x == 1.0


def test_children_listed_first_are_ordered_parent_first():
    cell = load_cell({"sections": {
        "b": {"L": 5, "diam": 1, "parent": "a"}, "a": {"L": 5, "diam": 1, "parent": "root"},
        "root": {"L": 5, "diam": 5}}})  # fmt: skip
    assert list(cell.sections) == ["root", "a", "b"]
    assert cell.root == "root"


def test_addresses_values_and_units():
    cell = load_cell(BALL_STICK)
    addrs = cell.addresses()
    for a in ("Ra", "celsius", "soma.L", "dend.diam", "soma.ena", "soma.hh.gnabar", "dend.pas.e"):
        assert a in addrs
    assert "dend.ena" not in addrs  # pas reads no ion
    assert cell.value("soma.hh.gnabar") == 0.12
    assert cell.value("dend.Ra") == 150.0  # the cell's Ra: the section has none of its own
    new = cell.with_values({"soma.hh.gnabar": 0.2, "dend.L": 600, "Ra": 100, "soma.ek": -80})
    assert new.value("soma.hh.gnabar") == 0.2 and new.value("dend.L") == 600
    assert new.value("dend.Ra") == 100.0 and new.value("soma.ek") == -80
    assert cell.value("soma.hh.gnabar") == 0.12  # unchanged
    assert new != cell and new.digest() != cell.digest()
    units = {"Ra": "ohm cm", "cm": "uF/cm2", "v_init": "mV", "celsius": "degC", "soma.L": "um",
             "dend.diam": "um", "soma.cm": "uF/cm2", "soma.hh.gnabar": "S/cm2",
             "soma.hh.el": "mV", "dend.pas.g": "S/cm2", "soma.ena": "mV"}  # fmt: skip
    for a, u in units.items():
        assert unit_of(a) == u, a


def test_type_addresses_mean_every_section_of_the_type():
    secs = {
        "soma": Section("soma", 10, 10, 1, None, swc_type="soma"),
        "dend[0]": Section("dend[0]", 50, 1, 3, "soma", swc_type="dend"),
        "dend[1]": Section("dend[1]", 60, 1, 3, "soma", swc_type="dend"),
    }
    cell = CellDescription(
        "swcish", sections=secs, mechanisms={"dend[0]": {"pas": {}}, "dend[1]": {"pas": {}}}
    )
    new = cell.with_values({"dend.pas.g": 2e-4})
    assert new.value("dend[0].pas.g") == new.value("dend[1].pas.g") == 2e-4
    assert new.value("dend.pas.g") == 2e-4
    mixed = cell.with_values({"dend[0].pas.g": 3e-4})
    with pytest.raises(CellError, match="different values"):
        mixed.value("dend.pas.g")


def test_mechanisms_by_type_all_and_section(tmp_path):
    """'all' < SWC type < single section, each later one overriding the earlier."""
    secs = {
        "soma": Section("soma", 10, 10, 1, None, swc_type="soma"),
        "dend[0]": Section("dend[0]", 50, 1, 3, "soma", swc_type="dend"),
        "dend[1]": Section("dend[1]", 60, 1, 3, "soma", swc_type="dend"),
    }
    from neuroscape.models.multicomp.description import _by_section, _merge_mechs

    probe = CellDescription("p", sections=secs)
    raw = {"dend[1]": {"pas": {"g": 3e-4}}, "all": {"pas": {"g": 1e-4, "e": -60}},
           "dend": {"pas": {"g": 2e-4}}}  # fmt: skip
    got = _by_section(probe, raw, "mechanisms", _merge_mechs)
    assert got["soma"]["pas"] == {"g": 1e-4, "e": -60}
    assert got["dend[0]"]["pas"] == {"g": 2e-4, "e": -60}
    assert got["dend[1]"]["pas"] == {"g": 3e-4, "e": -60}


def _bad(mutate) -> str:
    d = ball_stick_dict()
    mutate(d)
    with pytest.raises(CellError) as info:
        load_cell(d)
    msg = str(info.value)
    assert "\n" not in msg and "allowed" in msg, msg
    return msg


def test_bad_input_each_one_line_naming_value_and_allowed():
    def sec(name, **kw):
        return lambda d: d["sections"][name].update(kw)

    assert "'somma'" in _bad(sec("dend", parent="somma"))  # missing parent
    msg = _bad(
        lambda d: d["sections"].update(
            {"a": {"L": 1, "diam": 1, "parent": "b"}, "b": {"L": 1, "diam": 1, "parent": "a"}}
        )
    )
    assert "cycle" in msg and "a -> b -> a" in msg
    assert "L=0" in _bad(sec("dend", L=0))
    assert "L=-5" in _bad(sec("dend", L=-5))
    assert "diam=-1" in _bad(sec("soma", diam=-1))
    assert "diam=0" in _bad(sec("soma", diam=0))
    assert "'hhh'" in _bad(lambda d: d["mechanisms"]["soma"].update({"hhh": {}}))
    msg = _bad(lambda d: d["mechanisms"]["soma"]["hh"].update({"gnabr": 0.1}))
    assert "'gnabr'" in msg and "gnabar" in msg
    assert "nseg=0" in _bad(sec("dend", nseg=0))
    assert "nseg=2.5" in _bad(sec("dend", nseg=2.5))
    assert "parent_x=1.5" in _bad(sec("dend", parent_x=1.5))
    assert "parent_x=-0.1" in _bad(sec("dend", parent_x=-0.1))
    msg = _bad(lambda d: d["sections"].update({"axon": {"L": 1, "diam": 1}}))
    assert "roots" in msg and "soma" in msg and "axon" in msg  # two roots
    assert "'soma.foo'" in _bad(lambda d: d["parameters"].update({"soma.foo": [0, 1]}))
    assert "nseg" in _bad(lambda d: d["parameters"].update({"dend.nseg": [1, 3]}))
    assert "low < high" in _bad(lambda d: d["parameters"].update({"dend.diam": [3, 1]}))
    assert "no L" in _bad(lambda d: d["sections"]["soma"].pop("L"))
    assert "'colour'" in _bad(sec("soma", colour=1))
    assert "'nseg_per_um'" not in _bad(lambda d: d.update({"nseg_per_um": 0.1}))
    assert "'bogus'" in _bad(lambda d: d.update({"bogus": 1}))
    assert "gnabar=-0.1" in _bad(lambda d: d["mechanisms"]["soma"]["hh"].update({"gnabar": -0.1}))
    assert "'x'" in _bad(lambda d: d["mechanisms"].update({"x": {"pas": {}}}))
    assert "Ra='high'" in _bad(lambda d: d.update({"Ra": "high"}))
    assert "ena" in _bad(lambda d: d["sections"]["dend"].update({"ena": 40}))  # pas reads none


def test_bad_addresses_and_values():
    cell = load_cell(BALL_STICK)
    for address, pattern in [
        ("soma.hh.gnabr", "'gnabr'"), ("soma.hhh.g", "'hhh'"), ("axon.L", "SWC type axon"),
        ("axn.L", "'axn'"),
        ("dend.hh.gnabar", "no hh"), ("soma.nseg", "topology"), ("bogus", "'bogus'"),
        ("dend.ena", "ena"), ("soma.pas.g", "no pas"),
    ]:  # fmt: skip
        with pytest.raises(CellError, match=pattern) as info:
            cell.value(address)
        assert "\n" not in str(info.value) and "allowed" in str(info.value)
    with pytest.raises(CellError, match="L=-1"):
        cell.with_values({"dend.L": -1})
    with pytest.raises(CellError, match="unknown parameter"):
        unit_of("soma.hh.nope")
    with pytest.raises(CellError, match="allowed"):
        load_cell("/no/such/file.yaml")
    with pytest.raises(CellError, match="YAML error"):
        load_cell("name: [\n")


def test_numbers_written_as_yaml_text_are_read():
    cell = load_cell(BALL_STICK.replace("g: 0.0005", "g: 5e-4"))  # YAML 1.1: '5e-4' is text
    assert cell.mechanisms["dend"]["pas"]["g"] == 5e-4


def test_pt3d_section_diam_sets_every_point():
    pts = np.array([[0, 0, 0, 2.0], [10, 0, 0, 1.0], [20, 0, 0, 0.5]])
    s = Section("a", 20.0, 1.2, 3, None, pt3d=pts)
    cell = CellDescription("p", sections={"a": s})
    new = cell.with_values({"a.diam": 3.0, "a.L": 40.0})
    assert np.all(new.sections["a"].pt3d[:, 3] == 3.0)
    assert new.sections["a"].L == 40.0
    assert np.array_equal(cell.sections["a"].pt3d, pts)  # the original is untouched


def test_morphology_is_read_by_read_swc(tmp_path):
    if importlib.util.find_spec("neuroscape.models.multicomp.swc") is None:
        pytest.skip("models/multicomp/swc.py (read_swc) is not written yet")
    swc = tmp_path / "cell.swc"
    swc.write_text(
        "1 1 0 0 0 5 -1\n2 1 0 -5 0 5 1\n3 1 0 5 0 5 1\n"
        "4 3 0 5 0 1 1\n5 3 0 55 0 1 4\n6 3 0 105 0 1 5\n"
    )
    cfg = tmp_path / "cell.yaml"
    cfg.write_text("name: c\nmorphology: cell.swc\nnseg_per_um: 0.1\n"
                   "mechanisms:\n  soma: {hh: {}}\n  dend: {pas: {g: 1e-4}}\n")  # fmt: skip
    cell = load_cell(cfg)
    assert cell.root == "soma"
    dends = cell.sections_of("dend")
    assert dends and all(cell.mechanisms[d]["pas"]["g"] == 1e-4 for d in dends)
    assert all(cell.sections[d].nseg % 2 == 1 for d in dends)
    with pytest.raises(CellError, match="no such file"):
        load_cell({"morphology": "missing.swc"}, base_dir=tmp_path)
