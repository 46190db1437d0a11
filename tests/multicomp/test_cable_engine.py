"""The cable engine's batch contract: a row's result does not depend on the batch it runs in,
the number of threads, or its neighbours' values (bitwise), and bad settings get one line."""

from __future__ import annotations

import numpy as np
import pytest

from neuroscape.core.settings import SettingsError
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.multicomp import CellError, load_cell
from neuroscape.sim.cable_engine import ROOT, generate_source, run_cell

BALL_STICK = {
    "name": "ball_stick", "Ra": 150, "cm": 1, "v_init": -65, "celsius": 6.3,
    "sections": {"soma": {"L": 20, "diam": 20, "nseg": 1},
                 "dend": {"L": 400, "diam": 2, "nseg": 41, "parent": "soma", "parent_x": 1}},
    "mechanisms": {"soma": {"hh": {}}, "dend": {"pas": {"g": 0.0005, "e": -65}}},
}  # fmt: skip


@pytest.fixture(scope="module")
def cell():
    return load_cell(BALL_STICK)


# 11 rows: two blocks of the kernel's lanes, the second padded
VALUES = {
    "soma.hh.gnabar": np.array([0.12, 0.08, 0.16, 0.10, 0.14, 0.12, 0.13, 0.11, 0.15, 0.12, 0.1]),
    "dend.L": np.array([400.0, 250.0, 700.0, 300.0, 550.0, 420, 380, 610, 290, 505, 333]),
    "celsius": np.array([6.3, 10.0, 6.3, 15.0, 8.0, 6.3, 7.0, 6.3, 9.0, 6.3, 11.0]),
}
N_ROWS = 11


def _run(cell, values, stim, rows=None, workers=1, integrator="crank_nicolson"):
    return run_cell(cell, values, stimulus=stim, dt_ms=0.025, duration_ms=40.0,
                    integrator=integrator, record=[(ROOT, 0.5), ("dend", 1.0), ("dend", 0.3)],
                    workers=workers, seed=7, rows=rows)  # fmt: skip


@pytest.mark.parametrize("kind", ["step", "noisy"])
def test_rows_are_bitwise_independent_of_batch_and_workers(cell, kind):
    if kind == "step":
        stim = make_stimulus("step", amp=0.4, t_on=2.0)
    else:
        stim = make_stimulus("noisy", mean=0.4, sigma=0.05, t_on=2.0)
    whole = _run(cell, VALUES, stim, workers=1)
    assert sum(len(s) for s in whole.spikes) > 5  # the rows fire
    two = _run(cell, VALUES, stim, workers=2)
    np.testing.assert_array_equal(whole.v, two.v)
    for r in (0, 3, 7, 8, 10):
        alone = _run(cell, {k: v[r : r + 1] for k, v in VALUES.items()}, stim, rows=[r])
        np.testing.assert_array_equal(alone.v[0], whole.v[r])
        np.testing.assert_array_equal(alone.spikes[0], whole.spikes[r])
    part = _run(cell, {k: v[3:10] for k, v in VALUES.items()}, stim, rows=np.arange(3, 10),
                workers=2)  # fmt: skip
    np.testing.assert_array_equal(part.v, whole.v[3:10])
    for r in range(N_ROWS):
        np.testing.assert_array_equal(part.spikes[r - 3] if 3 <= r < 10 else whole.spikes[r],
                                      whole.spikes[r])  # fmt: skip
    if kind == "noisy":  # a row's noise is its own: another row number draws another stream
        other = _run(cell, {k: v[:1] for k, v in VALUES.items()}, stim, rows=[9])
        assert not np.array_equal(other.v[0], whole.v[0])


def test_stimulus_rows_and_broadcast(cell):
    amps = np.array([0.0, 0.3, 0.6])
    res = run_cell(cell, None, stimulus=make_stimulus("step", amp=amps, t_on=1.0),
                   dt_ms=0.025, duration_ms=30.0, workers=1)  # fmt: skip
    assert res.v.shape == (3, 1, 1201) and res.t_ms[-1] == pytest.approx(30.0)
    assert len(res.spikes[0]) == 0 and len(res.spikes[2]) >= 1
    one = run_cell(cell, None, stimulus=make_stimulus("step", amp=0.6, t_on=1.0),
                   dt_ms=0.025, duration_ms=30.0, workers=1)  # fmt: skip
    np.testing.assert_array_equal(one.v[0], res.v[2])


def test_record_every_keeps_every_kth_sample(cell):
    stim = make_stimulus("step", amp=0.5, t_on=1.0)
    full = run_cell(cell, None, stimulus=stim, duration_ms=10.0, workers=1)
    sparse = run_cell(cell, None, stimulus=stim, duration_ms=10.0, workers=1, record_every=4)
    np.testing.assert_array_equal(sparse.v[0, 0], full.v[0, 0, ::4])
    np.testing.assert_array_equal(sparse.t_ms, full.t_ms[::4])


def test_kernel_source_comes_from_the_mechanisms():
    src = generate_source(["hh", "pas"])
    assert "hh__vtrap" in src and "math.exp" in src and "pas" in src
    assert generate_source(["pas"]) != src  # one kernel per mechanism set
    assert "hh" not in generate_source(["pas"]).split("def run")[1]


def test_bad_settings_get_one_line(cell):
    stim = make_stimulus("step", amp=0.5)
    cases = [
        (dict(integrator="rk4"), SettingsError, "crank_nicolson"),
        (dict(dt_ms=0.03, duration_ms=10.0), SettingsError, "divide"),
        (dict(dt_ms=-1.0), SettingsError, "dt_ms"),
        (dict(stim_at=("dend", 1.5)), CellError, "outside"),
        (dict(stim_at=("axon", 0.5)), CellError, "axon"),
        (dict(record=[("soma", -0.1)]), CellError, "outside"),
        (dict(record_every=3, duration_ms=10.0), SettingsError, "record_every"),
    ]
    for kw, exc, pattern in cases:
        kw = {"duration_ms": 10.0, **kw}
        with pytest.raises(exc, match=pattern) as info:
            run_cell(cell, None, stimulus=stim, workers=1, **kw)
        assert "\n" not in str(info.value) and "allowed" in str(info.value)
    with pytest.raises(CellError, match="rows"):
        run_cell(cell, {"dend.L": [100.0, 200.0], "soma.hh.gl": [1e-4, 2e-4, 3e-4]},
                 stimulus=stim, duration_ms=10.0)  # fmt: skip
    with pytest.raises(CellError, match="L=-3"):
        run_cell(cell, {"dend.L": [100.0, -3.0]}, stimulus=stim, duration_ms=10.0)


def test_rows_with_more_spikes_than_the_buffer_run_again(cell, monkeypatch):
    import neuroscape.sim.cable_engine as engine

    stim = make_stimulus("step", amp=np.array([0.0, 0.5, 0.6]), t_on=1.0)
    full = run_cell(cell, None, stimulus=stim, duration_ms=80.0, workers=1)
    assert [len(s) for s in full.spikes][0] == 0 and min(len(s) for s in full.spikes[1:]) > 2
    monkeypatch.setattr(engine, "_spike_capacity", lambda duration_ms: 2)
    again = run_cell(cell, None, stimulus=stim, duration_ms=80.0, workers=1)
    for a, b in zip(full.spikes, again.spikes, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.v, again.v)
