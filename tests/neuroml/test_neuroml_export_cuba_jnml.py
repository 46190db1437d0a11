"""Issue 21's export bar for the `cuba` network (Brette et al. 2007, benchmark 2, as Brian2's CUBA
example), reduced to 320 E + 80 I neurons: `neuroscape export-neuroml cuba --size E=320 --size
I=80` (IF_curr_exp cells, expCurrSynapse synapses, the connections neuroscape draws for
conn-seed 0, the initial v it draws for seed 0), then `pynml -validate`, then jNeuroML (the
reference) running the exported LEMS file, compared with (a) `neuroscape simulate` of the same
file (jLEMS's scheme and order: the spike trains must be identical) and (b) neuroscape's own runs
of the reduced network (exact integration, Brian2's order): the population rates must agree
within the spread of those runs over initial states plus the scheme's first-order error.
One jNeuroML run (module fixture)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from neuroml_jnml import jnml_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not jnml_available(), reason="needs pyNeuroML (jNeuroML) and java"),
]

SIZES = {"E": 320, "I": 80}
DUR_MS = 400.0
DT_MS = 0.1  # the network's own step, exported as jLEMS's forward Euler step
N_OWN = 16  # neuroscape's own runs: one graph (conn-seed 0), 16 initial states
PYNML = Path(sys.executable).parent / "pynml"


def _spikes(path: Path) -> np.ndarray:
    """(n, 2) rows (time s, id) sorted by time then id."""
    ev = np.loadtxt(path, ndmin=2)
    return ev[np.lexsort((ev[:, 1], ev[:, 0]))]


def _rates(ids: np.ndarray) -> dict[str, float]:
    """Population rates (Hz) over the run from cell ids numbered through E then I."""
    n_e = SIZES["E"]
    return {"E": np.sum(ids < n_e) / n_e / (DUR_MS * 1e-3),
            "I": np.sum(ids >= n_e) / SIZES["I"] / (DUR_MS * 1e-3)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from neuroscape.cli.main import main
    from neuroscape.core.settings import Recording, SimSettings
    from neuroscape.models import resolve
    from neuroscape.models.neuroml.export_network import resized
    from neuroscape.sim.network_engine import NetworkBatch, initial_states

    out = tmp_path_factory.mktemp("export_cuba")
    assert main(["export-neuroml", "cuba", "--out", str(out), "--size", "E=320", "--size",
                 "I=80", "--duration-ms", str(DUR_MS)]) == 0
    val = subprocess.run([str(PYNML), "cuba.net.nml", "-validate"], cwd=out,
                         capture_output=True, text=True, timeout=300)
    ns_dir = out / "ns"
    ns_dir.mkdir()
    for f in ("cuba.net.nml", "LEMS_cuba.xml"):
        shutil.copy(out / f, ns_dir / f)
    r = subprocess.run([str(PYNML), "LEMS_cuba.xml", "-nogui"], cwd=out, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert main(["simulate", str(ns_dir / "LEMS_cuba.xml")]) == 0
    net = resized(resolve("cuba"), SIZES)
    batch = NetworkBatch(net, conn_seed=0)
    rows = np.tile([[p.default for p in net.spec.parameters]], (N_OWN, 1))
    own = batch.run(rows, seed=0, recording=Recording(spikes=True),
                    settings=SimSettings.for_model(net.spec, duration_ms=DUR_MS,
                                                   window_ms=DUR_MS))
    own_rates = [_rates(np.asarray(i)) for _, i in own.spikes]
    return {
        "validate": val, "net": net,
        "jnml": (_spikes(out / "cuba.spikes.dat"), np.loadtxt(out / "cuba.v.dat")),
        "lems": (_spikes(ns_dir / "cuba.spikes.dat"), np.loadtxt(ns_dir / "cuba.v.dat")),
        "own": {k: np.array([x[k] for x in own_rates]) for k in SIZES},
        "initial": initial_states(net, {}, 0),
    }


def test_exported_file_validates(run):
    assert run["validate"].returncode == 0, run["validate"].stderr[-2000:]
    text = run["validate"].stdout + run["validate"].stderr
    assert "All valid" in text


def test_jnml_starts_from_the_drawn_initial_state(run):
    """NeuroML2 has no per-neuron initial value: v_init (-60 mV) and a pulse in the first step.
    jNeuroML's v after that step must be forward Euler's step from the drawn v0:
    v0 + dt (E_l - v0)/tau_m (E_l = -49 mV, tau_m = 20 ms; closed form)."""
    v = run["jnml"][1]
    cols = [("E", 0), ("E", 1), ("E", 2), ("I", 0), ("I", 1), ("I", 2)]
    for c, (pop, i) in enumerate(cols, start=1):
        v0 = run["initial"][pop][i, 0] * 1e3  # mV
        want = v0 + DT_MS * (-49.0 - v0) / 20.0
        # IF_curr_exp has Regimes: jNeuroML's row k holds the state after k - 1 steps
        assert v[0, c] * 1e3 == pytest.approx(-60.0, abs=1e-9)
        assert v[2, c] * 1e3 == pytest.approx(want, abs=1e-5), (pop, i)
        assert -60.0 <= v0 <= -50.0


def test_simulate_reproduces_jnml_spike_trains(run):
    """The same LEMS file: identical spike trains (every spike, the same step), V within the 8
    digits jNeuroML writes."""
    (sj, vj), (sn, vn) = run["jnml"], run["lems"]
    assert len(sj) > 1000
    assert sj.shape == sn.shape
    assert np.array_equal(sj[:, 1], sn[:, 1])
    assert np.max(np.abs(sj[:, 0] - sn[:, 0])) < 1e-9  # s; the grid is 1e-4 s
    assert vj.shape == vn.shape
    assert np.max(np.abs(vj - vn)) < 1e-8  # V


def test_rates_agree_with_neuroscape_own_run(run):
    """jNeuroML's population rates against neuroscape's own runs of the reduced network (the
    same graph, 16 initial states; exact integration, spikes delivered in the next step). The
    bound: 4 standard deviations of those runs (one jNeuroML run is one more draw) plus the
    forward Euler error jLEMS makes at 0.1 ms (first order: dt / (2 tau_e) = 1% of the rate for
    the fastest synaptic decay, tau_e = 5 ms)."""
    sj = run["jnml"][0]
    got = _rates(sj[:, 1])
    for pop in SIZES:
        own = run["own"][pop]
        mean, sd = own.mean(), own.std(ddof=1)
        bound = 4 * sd * np.sqrt(1 + 1 / len(own)) + 0.01 * mean
        print(f"{pop}: jNeuroML {got[pop]:.3f} Hz, neuroscape {mean:.3f} +- {sd:.3f} Hz "
              f"(n={len(own)}), bound {bound:.3f} Hz")
        assert mean > 5.0  # the network fires
        assert abs(got[pop] - mean) <= bound
