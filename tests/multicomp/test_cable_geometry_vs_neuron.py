"""NEURON's discretisation reproduced: segment areas (h.area) and axial resistances
(seg.ri()) of cylinders and of sections with tapering 3-D points, children attached at 0, at
1 and inside their parent, and per-row L and diam changes of 3-D sections (NEURON scales the
points' arc lengths, and sets every point's diameter); then passive V traces of that cell
against NEURON's (Crank-Nicolson and backward Euler)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import CellDescription, Section, discretize
from neuroscape.sim.cable_engine import run_cell

pytestmark = pytest.mark.slow


def _pts(rng, start, n, step, dmin, dmax):
    xyz = np.vstack([start, start + np.cumsum(rng.normal(size=(n - 1, 3)) * step, axis=0)])
    return np.column_stack([xyz, rng.uniform(dmin, dmax, size=n)])


def _length(p):
    return float(np.sum(np.linalg.norm(np.diff(p[:, :3], axis=0), axis=1)))


@pytest.fixture(scope="module")
def cell():
    rng = np.random.default_rng(1)
    soma = np.array([[0, 0, 0, 10.0], [5, 0, 0, 12.0], [10, 0, 0, 8.5]])
    dend = _pts(rng, np.array([10.0, 0, 0]), 10, 5.0, 0.5, 3.0)
    kid = _pts(rng, np.array([0.0, 0, 0]), 6, 4.0, 0.3, 2.0)
    secs = {
        "soma": Section("soma", _length(soma), 10, 3, None, pt3d=soma, swc_type="soma"),
        "dend": Section("dend", _length(dend), 2, 7, "soma", 1.0, pt3d=dend, swc_type="dend"),
        "cyl": Section("cyl", 123.4, 1.7, 5, "dend", 0.3, Ra=80.0),
        "kid": Section("kid", _length(kid), 1, 4, "cyl", 0.0, pt3d=kid, swc_type="dend"),
        "mid": Section("mid", 55.0, 0.9, 2, "soma", 0.5, cm=2.0),
    }
    mechs = {n: {"pas": {"g": 3e-4, "e": -70.0}} for n in secs}
    return CellDescription("shapes", Ra=123.0, v_init=-65.0, sections=secs, mechanisms=mechs)


def build_neuron(cell: CellDescription, overrides: dict[str, float] | None = None):
    """The cell in NEURON (no define_shape: cylinders stay cylinders), with section values
    set as a user would (sec.L, sec.diam after the 3-D points)."""
    from neuron import h

    secs = {}
    for name, s in cell.sections.items():
        sec = h.Section(name=f"h1_{name}")
        if s.pt3d is not None:
            for x, y, z, d in s.pt3d:
                h.pt3dadd(x, y, z, d, sec=sec)
        else:
            sec.L, sec.diam = s.L, s.diam
        sec.nseg = s.nseg
        sec.Ra = cell.Ra if s.Ra is None else s.Ra
        sec.cm = cell.cm if s.cm is None else s.cm
        sec.insert("pas")
        for seg in sec:
            seg.pas.g = cell.mechanisms[name]["pas"]["g"]
            seg.pas.e = cell.mechanisms[name]["pas"]["e"]
        if s.parent is not None:
            sec.connect(secs[s.parent](s.parent_x), 0)
        secs[name] = sec
    for address, value in (overrides or {}).items():
        name, attr = address.split(".")
        setattr(secs[name], attr, value)
    return secs


OVERRIDES = [{}, {"dend.L": 80.0}, {"dend.diam": 1.3, "kid.L": 30.0}, {"soma.diam": 14.0}]


def test_areas_and_axial_resistances_match_neuron(cell):
    for over in OVERRIDES:
        disc = discretize(cell, {k: np.array([v]) for k, v in over.items()} or None)
        secs = build_neuron(cell, over)
        for name, sec in secs.items():
            for seg in sec:
                i = disc.node(name, seg.x)
                assert disc.area_um2[0, i] == pytest.approx(seg.area(), rel=1e-12, abs=0)
                assert 1.0 / disc.g_axial_uS[0, i] == pytest.approx(seg.ri(), rel=1e-12)
            i = disc.node(name, 1.0)
            assert 1.0 / disc.g_axial_uS[0, i] == pytest.approx(sec(1.0).ri(), rel=1e-12)
            assert disc.area_um2[0, i] == 0.0
        del secs


def test_rows_of_a_batch_match_neuron_one_by_one(cell):
    values = {"dend.L": np.array([80.0, 40.0, 120.0]), "kid.diam": np.array([0.5, 1.0, 2.5]),
              "cyl.Ra": np.array([50.0, 80.0, 300.0]), "Ra": np.array([35.4, 100.0, 200.0])}
    disc = discretize(cell, values)
    for row in range(3):
        secs = build_neuron(cell, {k: v[row] for k, v in values.items() if k != "Ra"})
        for name, sec in secs.items():
            if cell.sections[name].Ra is None:
                sec.Ra = values["Ra"][row]
            for seg in sec:
                i = disc.node(name, seg.x)
                assert disc.area_um2[row, i] == pytest.approx(seg.area(), rel=1e-12, abs=0)
                assert 1.0 / disc.g_axial_uS[row, i] == pytest.approx(seg.ri(), rel=1e-12)
        del secs


@pytest.mark.parametrize("integrator,secondorder", [("crank_nicolson", 2),
                                                    ("backward_euler", 0)])
def test_passive_traces_match_neuron(cell, integrator, secondorder):
    from neuron import h

    h.load_file("stdrun.hoc")
    saved = (h.secondorder, h.dt)
    locs = [("soma", 0.5), ("dend", 1.0), ("kid", 0.9), ("mid", 0.25), ("cyl", 0.0)]
    dt, dur = 0.025, 30.0
    try:
        secs = build_neuron(cell)
        clamp = h.IClamp(secs["kid"](0.6))
        clamp.delay, clamp.dur, clamp.amp = 2.0, 15.0, 0.2
        vecs = [h.Vector().record(secs[n](x)._ref_v) for n, x in locs]
        h.secondorder, h.dt = secondorder, dt
        h.finitialize(-65.0)
        h.continuerun(dur)
        ref = np.array([np.array(v) for v in vecs])
    finally:
        h.secondorder, h.dt = saved
    res = run_cell(cell, None, stimulus=make_stimulus("step", amp=0.2, t_on=2.0, t_off=17.0),
                   stim_at=("kid", 0.6), dt_ms=dt, duration_ms=dur, integrator=integrator,
                   record=locs, workers=1)  # fmt: skip
    assert np.ptp(ref[0]) > 1.0  # the current moves the soma
    np.testing.assert_allclose(res.v[0], ref, rtol=0, atol=1e-9)
