"""read_swc against NEURON's own Import3d on every SWC test file (Import3d_SWC_read +
Import3d_GUI.instantiate, run in NEURON, not our reading fed back): sections, names, types,
parents, 3-D points, L; then the cable built on them (models.multicomp.geometry) against
NEURON's segments (areas, axial resistances) and the input resistance at the root's middle
against NEURON's Impedance (0 Hz), with all sections passive."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

pytest.importorskip("neuron")

from neuroscape.models.multicomp import discretize, load_cell  # noqa: E402
from neuroscape.models.multicomp.swc import read_swc  # noqa: E402
from neuroscape.reference.neuron_cell import NeuronCell, neuron_import_swc  # noqa: E402

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "swc"
GOOD = sorted(p.name for p in DATA.glob("*.swc") if not p.name.startswith("bad_"))
RA, G_PAS, E_PAS, NSEG_PER_UM = 120.0, 1e-4, -65.0, 0.07  # ohm cm, S/cm2, mV, 1/um


def _passive(path: Path):
    return load_cell(
        {
            "name": path.stem,
            "Ra": RA,
            "morphology": str(path),
            "nseg_per_um": NSEG_PER_UM,
            "mechanisms": {"all": {"pas": {"g": G_PAS, "e": E_PAS}}},
        }
    )


@pytest.fixture(scope="module")
def imported():
    """Per file: our sections, our passive description, and NEURON's Import3d cell made
    passive with the same nseg, Ra and pas (NEURON's geometry and Rin read once)."""
    out = {}
    for name in GOOD:
        ours = read_swc(DATA / name)
        cell = _passive(DATA / name)
        ref = neuron_import_swc(DATA / name)
        raw = ref.geometry()  # before nseg is changed: Import3d's own sections
        for k, sec in ref.sections.items():
            sec.nseg = cell.sections[k].nseg if k in cell.sections else 1
            sec.Ra = RA
            sec.insert("pas")
            sec.g_pas, sec.e_pas = G_PAS, E_PAS
        root = next(k for k, s in ref.sections.items() if s.parentseg() is None)
        from neuron import h

        h.finitialize(E_PAS)
        imp = h.Impedance()
        imp.loc(0.5, sec=ref.sections[root])
        imp.compute(0)
        rin = imp.input(0.5, sec=ref.sections[root])
        out[name] = dict(ours=ours, cell=cell, ref=ref, raw=raw, geom=ref.geometry(), rin=rin)
    return out


@pytest.mark.parametrize("name", GOOD)
def test_sections_names_types_parents_points_as_neuron(imported, name):
    ours, raw = imported[name]["ours"], imported[name]["raw"]
    assert sorted(ours) == sorted(raw) and len(ours) == len(raw)
    for k, s in ours.items():
        r = raw[k]
        assert s.swc_type == k.split("[")[0], k
        assert (s.parent, s.parent_x if s.parent else None) == (r["parent"], r["parent_x"]), k
        np.testing.assert_array_equal(s.pt3d, r["pt3d"], err_msg=k)
        assert s.L == pytest.approx(r["L"], rel=1e-13, abs=0), k
        assert r["nseg"] == 1


@pytest.mark.parametrize("name", GOOD)
def test_segment_areas_and_axial_resistances_as_neuron(imported, name):
    cell, geom = imported[name]["cell"], imported[name]["geom"]
    d = discretize(cell)
    worst_area = worst_ri = 0.0
    for k, sec in enumerate(d.section_names):
        nodes = d.first_node[k] + np.arange(d.nseg[k])
        ref = geom[sec]
        assert ref["nseg"] == d.nseg[k]
        seg_areas = np.array([seg.area() for seg in imported[name]["ref"].sections[sec]])
        worst_area = max(worst_area, np.abs(d.area_um2[0, nodes] / seg_areas - 1).max())
        assert d.area_um2[0, nodes].sum() == pytest.approx(ref["area"], rel=1e-12)
        ri = ref["ri"]
        ok = ri < 1e20  # NEURON's root first segment: no parent resistance
        worst_ri = max(worst_ri, np.abs(d.g_axial_uS[0, nodes][ok] * ri[ok] - 1).max(initial=0))
        end = d.first_node[k] + d.nseg[k]  # the 1-end node: the last half segment
        r1 = imported[name]["ref"].sections[sec](1).ri()
        assert d.g_axial_uS[0, end] * r1 == pytest.approx(1.0, rel=1e-10)
    assert worst_area < 1e-12, worst_area
    assert worst_ri < 1e-10, worst_ri


@pytest.mark.parametrize("name", GOOD)
def test_our_neuron_builder_matches_neurons_import(imported, name):
    """NeuronCell (the reference the spike tests use) puts our sections into NEURON by
    pt3dadd; NEURON then computes the same L and areas as from its own import."""
    cell, geom = imported[name]["cell"], imported[name]["geom"]
    built = NeuronCell(cell).geometry()
    for k, r in geom.items():
        assert built[k]["L"] == r["L"] and built[k]["area"] == pytest.approx(r["area"], rel=1e-14)
        assert built[k]["parent"] == r["parent"] and built[k]["parent_x"] == r["parent_x"]


def _rin_from_geometry(cell) -> float:
    """Input resistance (Mohm) at the root's middle from the discretised cable: the nodes'
    conductance matrix (axial conductances between nodes, pas on the membrane) solved for a
    unit current; independent of any time stepping."""
    d = discretize(cell)
    n = d.n_nodes
    g_m = d.area_um2[0] * 1e-8 * G_PAS * 1e6  # um2 -> cm2, S -> uS
    i = np.arange(1, n)
    p = d.parent[1:]
    ga = d.g_axial_uS[0, 1:]
    rows = np.concatenate([i, p, i, p])
    cols = np.concatenate([i, p, p, i])
    vals = np.concatenate([ga, ga, -ga, -ga])
    g = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsc() + sp.diags(g_m)
    root = d.section_names[0]
    k = d.node(root, 0.5)
    e = np.zeros(n)
    e[k] = 1.0
    return float(spla.spsolve(g.tocsc(), e)[k])


@pytest.mark.parametrize("name", GOOD)
def test_input_resistance_from_geometry_as_neuron(imported, name):
    rin = _rin_from_geometry(imported[name]["cell"])
    assert rin == pytest.approx(imported[name]["rin"], rel=1e-9)


def test_length_and_diameter_overrides_on_3d_sections_as_neuron(imported):
    """Sweeps set L or diam of SWC sections: NEURON rescales a 3-D section's arcs to a new L
    and gives every point a new diam; the discretisation of the overridden rows follows."""
    cell = imported["synthetic_branched.swc"]["cell"]
    values = {
        "apic[0].L": np.array([cell.sections["apic[0]"].L, 150.0, 60.0]),
        "dend[2].diam": np.array([cell.sections["dend[2]"].diam, 1.7, 0.9]),
    }
    d = discretize(cell, values)
    built = NeuronCell(cell)
    for row in range(3):
        built.update(cell.with_values({k: float(v[row]) for k, v in values.items()}))
        # a diam given for a row is assigned, as `sec.diam = x` in NEURON sets every 3-D point
        # even when x is the section's present mean (row 0)
        built.sections["dend[2]"].diam = float(values["dend[2].diam"][row])
        geom = built.geometry()
        for k, sec in enumerate(d.section_names):
            nodes = d.first_node[k] + np.arange(d.nseg[k])
            assert d.area_um2[row, nodes].sum() == pytest.approx(geom[sec]["area"], rel=1e-12)
            np.testing.assert_allclose(d.g_axial_uS[row, nodes] * geom[sec]["ri"], 1.0, rtol=1e-10)
    assert geom["apic[0]"]["L"] == pytest.approx(60.0, rel=1e-12)


@pytest.mark.parametrize("name", ["synthetic_branched.swc", "c91662.swc"])
def test_input_resistance_from_a_long_small_step_as_neuron(imported, name):
    """run_cell (Crank-Nicolson): the root's steady deflection under 0.01 nA after 200 ms
    (20 membrane time constants of 10 ms) over the current, against NEURON's Impedance."""
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.sim.cable_engine import run_cell

    amp = 0.01  # nA
    res = run_cell(
        imported[name]["cell"],
        None,
        stimulus=make_stimulus("step", amp=amp, t_on=0.0),
        dt_ms=0.025,
        duration_ms=200.0,
    )
    rin = (res.v[0, 0, -1] - E_PAS) / amp  # mV / nA = Mohm
    assert rin == pytest.approx(imported[name]["rin"], rel=1e-6)


def _random_swc(rng: np.random.Generator, path: Path) -> None:
    """A random valid SWC tree: runs of soma points, type changes, branches anywhere, repeated
    points (zero-length pieces), shared radii, so that Import3d's special cases all occur."""
    n = int(rng.integers(1, 60))
    soma_run = int(rng.integers(0, 7))
    p_contig, p_dup, p_type = rng.uniform(0.3, 0.9), rng.uniform(0, 0.2), rng.uniform(0, 0.3)
    rows: list[tuple] = []
    for i in range(n):
        p = -1 if i == 0 else i - 1 if rng.random() < p_contig else int(rng.integers(0, i))
        if i < soma_run and (p < 0 or rows[p][1] == 1):
            t = 1
        elif p < 0 or rows[p][1] == 1 or rng.random() < p_type:
            t = int(rng.choice([1, 2, 3, 4]))
        else:
            t = rows[p][1]
        if p >= 0 and rng.random() < p_dup:
            xyz = rows[p][2:5]
        else:
            base = np.zeros(3) if p < 0 else np.array(rows[p][2:5])
            xyz = tuple(float(v) for v in np.round(base + rng.normal(0, 8, 3), 3))
        r = round(float(rng.uniform(0.2, 6 if t == 1 else 2)), 4)
        if p >= 0 and rng.random() < 0.3:
            r = rows[p][5]
        rows.append((i + 1, t, *xyz, r, p + 1 if p >= 0 else -1))
    path.write_text("".join(" ".join(str(v) for v in r) + "\n" for r in rows))


def test_random_trees_as_neurons_import3d(tmp_path):
    """200 random trees: read_swc gives NEURON's sections, parents, points and L exactly, and
    the discretisation NEURON's areas and axial resistances (3,000 such trees agreed when
    this was written)."""
    for seed in range(200):
        path = tmp_path / f"random_{seed}.swc"
        _random_swc(np.random.default_rng(seed), path)
        ref = neuron_import_swc(path).geometry()
        ours = read_swc(path)
        assert sorted(ours) == sorted(ref), seed
        for k, s in ours.items():
            r = ref[k]
            assert s.parent == r["parent"], (seed, k)
            assert s.parent is None or s.parent_x == r["parent_x"], (seed, k)
            np.testing.assert_array_equal(s.pt3d, r["pt3d"], err_msg=f"{seed} {k}")
            assert s.L == r["L"], (seed, k)
        d = discretize(load_cell({"name": "random", "morphology": str(path)}))
        for k, sec in enumerate(d.section_names):
            node = d.first_node[k]  # nseg 1: one segment node per section
            assert d.area_um2[0, node] == pytest.approx(ref[sec]["area"], rel=1e-12, abs=1e-300)
            assert d.g_axial_uS[0, node] * ref[sec]["ri"][0] == pytest.approx(1.0, rel=1e-9)
