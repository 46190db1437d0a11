"""read_swc against Import3d's rules worked out by hand on small files (fast; NEURON's own
import of every file is compared in test_vs_neuron_swc.py), and the refusals of bad files."""

from pathlib import Path

import numpy as np
import pytest

from neuroscape.models.multicomp.description import CellError, Section
from neuroscape.models.multicomp.swc import read_swc

DATA = Path(__file__).resolve().parents[1] / "data" / "swc"
GOOD = sorted(p.name for p in DATA.glob("*.swc") if not p.name.startswith("bad_"))


def _counts(secs: dict[str, Section]) -> dict[str, int]:
    return {
        t: sum(s.swc_type == t for s in secs.values()) for t in ("soma", "axon", "dend", "apic")
    }


def _path_length(xyz: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(xyz, axis=0), axis=1).sum())


@pytest.mark.parametrize("name", GOOD)
def test_sections_parent_first_with_path_length_and_float32_points(name):
    secs = read_swc(DATA / name)
    names = list(secs)
    assert all(isinstance(s, Section) for s in secs.values())
    assert secs[names[0]].parent is None
    for i, (k, s) in enumerate(secs.items()):
        assert s.name == k and s.nseg == 1
        if i:
            assert s.parent in names[:i], (k, s.parent)  # parents come first
            assert 0.0 <= s.parent_x <= 1.0
        assert s.swc_type in ("soma", "axon", "dend", "apic", "dend_5", "dend_6", "dend_7")
        pts = s.pt3d
        assert pts.shape[1] == 4 and len(pts) >= 2
        # NEURON keeps 3-D points in single precision: the values are float32 numbers
        assert np.array_equal(pts, pts.astype(np.float32).astype(np.float64))
        assert s.L == pytest.approx(_path_length(pts[:, :3]), rel=1e-6)
        assert s.L > 0 and (pts[:, 3] > 0).all()


def test_single_point_soma_is_a_sphere_and_children_attach_at_its_middle():
    secs = read_swc(DATA / "single_point_soma.swc")
    assert list(secs) == ["soma", "dend[0]", "dend[1]", "dend[2]", "axon[0]", "apic[0]", "dend[3]"]
    soma = secs["soma"]
    # one point of radius 8 -> a cylinder of L = diam = 16 along x (area pi d^2, the sphere's)
    assert soma.L == 16.0
    np.testing.assert_array_equal(soma.pt3d, [[-8, 0, 0, 16], [0, 0, 0, 16], [8, 0, 0, 16]])
    for k in ("dend[0]", "axon[0]", "apic[0]", "dend[3]"):
        assert (secs[k].parent, secs[k].parent_x) == ("soma", 0.5)
    # dend[0] has three points of its own: a wire, its 3-D points start at its own first point
    np.testing.assert_array_equal(secs["dend[0]"].pt3d[0], [10, 0, 0, 2.0])
    assert secs["dend[0]"].L == pytest.approx(np.hypot(10, 1) + np.sqrt(100 + 1 + 1), rel=1e-7)
    # apic[0] has one point of its own: no wire; the soma point is copied with the apic's diameter
    np.testing.assert_array_equal(secs["apic[0]"].pt3d, [[0, 0, 0, 3.0], [0, 12, 0, 3.0]])
    assert secs["apic[0]"].L == 12.0
    # branches of dend[0] start at its last point, with that point's diameter
    for k in ("dend[1]", "dend[2]"):
        assert (secs[k].parent, secs[k].parent_x) == ("dend[0]", 1.0)
        np.testing.assert_array_equal(secs[k].pt3d[0], [30, 2, 1, np.float32(1.6)])


def test_neuromorpho_three_point_soma_is_a_sphere():
    secs = read_swc(DATA / "synthetic_branched.swc")
    soma = secs["soma"]
    # points (0,0,0), (0,-8.5,0), (0,8.5,0), radius 8.5 each: the sphere of diameter 17
    np.testing.assert_array_equal(soma.pt3d, [[-8.5, 0, 0, 17], [0, 0, 0, 17], [8.5, 0, 0, 17]])
    assert soma.L == 17.0
    counts = _counts(secs)
    # basal: 3 stems + 6 forks + 4 second forks; apical: the trunk (3 sections, split where the
    # 2 obliques leave), 2 tuft branches and 2 forks of one of them;
    # axon: split by its collateral into 2 + the collateral
    assert counts == {"soma": 1, "axon": 3, "dend": 13, "apic": 9}
    for s in secs.values():
        if s.parent == "soma":  # a wire from the sphere's middle; starts at its own first point
            assert s.parent_x == 0.5
            assert not np.allclose(s.pt3d[0, :3], 0.0)


def test_three_points_that_fail_the_sphere_test_make_two_soma_sections():
    secs = read_swc(DATA / "three_point_soma_cylinder.swc")
    assert list(secs) == ["soma[0]", "soma[1]", "dend[0]", "dend[1]", "apic[0]"]
    assert (secs["soma[1]"].parent, secs["soma[1]"].parent_x) == ("soma[0]", 0.0)
    assert secs["soma[0]"].L == 6.0 and secs["soma[1]"].L == 6.0
    # dendrites on the root point: at soma[0](0), by a wire (two soma children there)
    for k in ("dend[0]", "dend[1]"):
        assert (secs[k].parent, secs[k].parent_x) == ("soma[0]", 0.0)
    np.testing.assert_array_equal(secs["dend[0]"].pt3d[0], [7, 1, 0, np.float32(2.4)])
    assert (secs["apic[0]"].parent, secs["apic[0]"].parent_x) == ("soma[1]", 1.0)


def test_multipoint_soma_attachments_prox_branches_and_zero_length_removal():
    secs = read_swc(DATA / "multipoint_soma.swc")
    assert list(secs) == [
        "soma", "apic[0]", "dend[0]", "dend[1]", "axon[0]",
        "dend[2]", "dend[3]", "dend[4]", "dend[5]",
    ]  # fmt: skip
    assert secs["soma"].L == 20.0 and len(secs["soma"].pt3d) == 5
    assert (secs["apic[0]"].parent, secs["apic[0]"].parent_x) == ("soma", 1.0)  # last point
    assert (secs["axon[0]"].parent, secs["axon[0]"].parent_x) == ("soma", 0.0)  # first point
    # interior soma point: soma(0.5); with more than one point of its own, by a wire
    assert (secs["dend[0]"].parent, secs["dend[0]"].parent_x) == ("soma", 0.5)
    np.testing.assert_array_equal(secs["dend[0]"].pt3d[0], [8, 0, 0, 2.0])
    # the branch off dend[0]'s first point hangs on dend[0]'s 0-end
    assert (secs["dend[1]"].parent, secs["dend[1]"].parent_x) == ("dend[0]", 0.0)
    # the zero-length section [18 -> 19] is removed; its children hang on dend[2](1)
    for k in ("dend[3]", "dend[4]", "dend[5]"):
        assert (secs[k].parent, secs[k].parent_x) == ("dend[2]", 1.0)
    # a child of a dendrite starts at its parent's last point with that point's diameter
    np.testing.assert_array_equal(secs["dend[3]"].pt3d[0], [-20, -3, 0, np.float32(1.4)])


def test_branched_soma_and_no_soma():
    secs = read_swc(DATA / "branched_soma.swc")
    assert [k for k in secs if k.startswith("soma")] == ["soma[0]", "soma[1]", "soma[2]"]
    assert secs["soma[1]"].parent == secs["soma[2]"].parent == "soma[0]"
    secs = read_swc(DATA / "no_soma.swc")
    assert list(secs) == ["dend[0]", "dend[1]", "dend[2]", "dend[3]"]
    assert (secs["dend[3]"].parent, secs["dend[3]"].parent_x) == ("dend[0]", 0.0)


def test_custom_type_codes_become_import3d_sections():
    """SWC codes 5-7 (custom structures) are named as NEURON's Import3d names them."""
    secs = read_swc(DATA / "custom_type.swc")
    assert list(secs) == ["soma", "dend[0]", "dend_5[0]"]
    assert secs["dend_5[0]"].swc_type == "dend_5" and secs["dend_5[0]"].parent == "dend[0]"


def test_real_reconstruction_counts():
    secs = read_swc(DATA / "c91662.swc")
    counts = _counts(secs)
    assert counts == {"soma": 1, "axon": 1, "dend": 58, "apic": 134}  # as in NEURON
    assert secs["soma"].L == pytest.approx(17.7354, abs=1e-4)  # 2 x radius 8.8677


BAD = {
    "bad_missing_parent.swc": ("line 5", "parent id 9"),
    "bad_type.swc": ("line 4", "type 9"),
    "bad_type_zero.swc": ("line 3", "type 0"),
    "bad_type_fraction.swc": ("line 3", "type 3.5"),
    "bad_duplicate_id.swc": ("lines 3 and 4", "duplicate id 2"),
    "bad_malformed.swc": ("line 3", "'abc'"),
    "bad_short_line.swc": ("line 3", "6 values"),
    "bad_two_roots.swc": ("lines 2 and 4", "more than one root"),
    "bad_order.swc": ("line 4", "id 2 after id 3"),
    "bad_parent_later.swc": ("line 3", "parent id 3"),
    "bad_radius.swc": ("line 3", "radius 0"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_refused_in_one_line(name):
    with pytest.raises(CellError) as e:
        read_swc(DATA / name)
    msg = str(e.value)
    assert "\n" not in msg and name in msg and "allowed" in msg
    for part in BAD[name]:
        assert part in msg, msg


def test_bad_files_are_all_listed():
    assert sorted(p.name for p in DATA.glob("bad_*.swc")) == sorted(BAD)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(CellError, match="not found"):
        read_swc(tmp_path / "nope.swc")
    (tmp_path / "empty.swc").write_text("# nothing\n\n")
    with pytest.raises(CellError, match="no points"):
        read_swc(tmp_path / "empty.swc")


def test_comments_blank_lines_extra_columns_and_gaps_in_ids(tmp_path):
    f = tmp_path / "ok.swc"
    f.write_text(
        "# header\n\n  # indented comment\n"
        "10 1 0 0 0 4 -1\n"
        "12 3 0 10 0 1 10 extra columns ignored\n"
        "20 3 0 30 0 1 12\n"
    )
    secs = read_swc(f)
    assert list(secs) == ["soma", "dend[0]"]
    assert secs["dend[0]"].L == pytest.approx(20.0)  # a wire from the one-point soma


def test_numbers_read_in_single_precision_as_import3d(tmp_path):
    """Import3d reads with hoc's sscanf("%f") (float32) and computes in double from those: the
    sphere's end x = float32(-0.69) + float32(2.158), then stored as float32 by pt3dadd."""
    f = tmp_path / "p.swc"
    f.write_text("1 1 -0.69 0 0 2.158 -1\n2 3 -0.69 10 0 0.5 1\n3 3 -0.69 20 0 0.5 2\n")
    x_end = np.float64(np.float32(-0.69)) + np.float64(np.float32(2.158))
    assert np.float32(x_end) != np.float32(-0.69 + 2.158)  # the case where the two differ
    assert read_swc(f)["soma"].pt3d[2, 0] == np.float32(x_end)


def test_a_section_whose_points_coincide_keeps_neurons_shortest_length(tmp_path):
    f = tmp_path / "z.swc"
    f.write_text("1 1 0 0 0 3 -1\n2 3 5 0 0 1 1\n3 3 5 0 0 1 2\n4 3 5 0 0 1 3\n5 3 9 0 0 1 4\n"
                 "6 3 5 0 0 1 4\n")  # fmt: skip
    secs = read_swc(f)
    # 2-3-4 form one section of coincident points (a wire from the soma): L = 1e-9 um
    assert secs["dend[0]"].L == 1e-9 and (secs["dend[0]"].pt3d[:, 0] == 5).all()
    assert secs["dend[1]"].L == 4.0
