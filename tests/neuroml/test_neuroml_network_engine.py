"""NeuroML2 networks on the network engine (``neuroscape.models.neuroml.network_map``): a network
of ``FILE.nml:NETWORK_ID`` resolves to a network model whose spikes equal the closed form of
jLEMS's forward Euler (an iafCell driven by a pulse), whose parameters a sweep varies through
the command line, and whose unmappable elements are refused in one line."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest

from neuroscape.cli.main import main
from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.neuroml import NeuroMLError
from neuroscape.models.neuroml.network_map import spike_times
from neuroscape.models.registry import resolve
from neuroscape.sim.engine import batch_for

DATA = Path(__file__).resolve().parents[1] / "data" / "neuroml"
NML = DATA / "engine_pulse.nml"
# the file's values: iafCell C dV/dt = gL (EL - V) + I, a pulse of I on [delay, delay + dur)
C, GL, EL, THRESH, RESET = 100.0, 10.0, -65.0, -55.0, -70.0  # pF, nS, mV
DELAY, DUR, DT = 10.005, 150.0, 0.01  # ms


def euler_spikes(amp_pa: float, length_ms: float) -> np.ndarray:
    """jLEMS's spike times (ms) of the pulsed cell, from the closed form of forward Euler:
    V_k = V_inf + (V_0 - V_inf) a^k with a = 1 - dt gL / C while the pulse is on (jLEMS reads
    it at the step's end: on in steps k with (k + 1) dt in [delay, delay + dur)); a spike in
    the first step whose new V exceeds thresh, after n = floor(log(r) / log a) + 1 steps with
    r = (V_inf - thresh) / (V_inf - V_0); its time is that step's end."""
    a = 1.0 - DT * GL / C
    v_inf = EL + amp_pa / GL
    if v_inf <= THRESH:
        return np.zeros(0)
    k_on = math.ceil(DELAY / DT) - 1  # the first step with the pulse on
    k_off = math.ceil((DELAY + DUR) / DT) - 1  # the first step with it off again
    out, k, v0 = [], k_on, EL
    while True:
        n = math.floor(math.log((v_inf - THRESH) / (v_inf - v0)) / math.log(a)) + 1
        k += n  # the spike in step k - 1, at its end k dt
        if k - 1 >= min(k_off, round(length_ms / DT)):
            break
        out.append(k * DT)
        v0 = RESET
    return np.asarray(out)


def run(model, length_ms: float, params: dict | None = None):
    b = batch_for(model, conn_seed=0)
    s = SimSettings.for_model(model.spec, duration_ms=length_ms, window_ms=length_ms)
    res = b.run_chunk(model.spec.params_array([params or {}]), row_keys(0, np.arange(1)), s,
                      "cpu", Recording(spikes=True))
    return spike_times(model, res.spikes[0], s.dt_ms), res


def test_a_pulsed_iafcell_fires_at_the_closed_form_of_forward_euler():
    model = resolve(f"{NML}:net")
    assert model.kind == "network"
    # the pulsed cell and the silent one: two sub-populations of one NeuroML population
    assert model.sizes == {"cells_g0": 1, "cells_g1": 1}
    assert {"lif_thresh", "pg_amplitude", "pg_delay", "pg_duration"} <= set(
        model.spec.parameter_names)
    got, _ = run(model, 200.0)
    want = euler_spikes(200.0, 200.0)
    assert want.size == 16
    np.testing.assert_allclose(got["cells"][0], want, rtol=0, atol=1e-9)
    assert got["cells"][1].size == 0
    # and the continuous solution (first spike delay + tau ln((V_inf - EL)/(V_inf - thresh)),
    # the ISI tau ln((V_inf - reset)/(V_inf - thresh))) within forward Euler's error
    tau = C / GL
    assert abs(got["cells"][0][0] - (DELAY + tau * math.log(20.0 / 10.0))) < 0.05
    assert abs(np.diff(got["cells"][0]).mean() - tau * math.log(25.0 / 10.0)) < 0.05


def test_a_parameter_of_the_file_moves_the_spikes_as_the_closed_form_says():
    model = resolve(f"{NML}:net")
    got, _ = run(model, 200.0, {"pg_amplitude": 300.0})  # pA, the declared unit
    np.testing.assert_allclose(got["cells"][0], euler_spikes(300.0, 200.0), rtol=0, atol=1e-9)


def test_sweep_over_the_input_amplitude_gives_the_closed_form_rates(tmp_path, capsys):
    model = resolve(f"{NML}:net")
    db = str(tmp_path / "nml.db")
    fix = [a for p in model.spec.parameters if p.name != "pg_amplitude"
           for a in ("--fix", f"{p.name}={p.default}")]
    rc = main(["sweep", f"{NML}:net", "--sampler", "grid", "--n", "2", "--bounds",
               "pg_amplitude=150:300", *fix, "--db", db, "--duration-ms", "200",
               "--window-ms", "200", "--quiet"])
    assert rc == 0
    capsys.readouterr()
    assert main(["db", "query", db, "SELECT pg_amplitude, r_cells FROM runs ORDER BY "
                 "pg_amplitude"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    assert [float(r[0]) for r in rows] == [150.0, 300.0]
    for amp, rate in rows:  # two cells, one pulsed, over 0.2 s
        want = euler_spikes(float(amp), 200.0).size / 2 / 0.2
        assert float(rate) == pytest.approx(want, abs=1e-9)
    assert float(rows[1][1]) > float(rows[0][1]) > 0


def _nml(tmp_path, extra: str, before: str) -> Path:
    p = tmp_path / "net.nml"
    p.write_text(NML.read_text().replace(before, extra + before))
    return p


@pytest.mark.parametrize("extra, before, edit, message", [
    ('<fitzHughNagumoCell id="fhn" I="0.8"/>', "<pulseGenerator",
     ('component="lif"', 'component="fhn"'),
     r"<fitzHughNagumoCell id='fhn'>: fitzHughNagumoCell has no spike condition"),
    ('<voltageClamp id="vc" delay="1ms" duration="1ms" targetVoltage="-60mV" '
     'simpleSeriesResistance="1e6ohm"/>', "<network", ('input="pg"', 'input="vc"'),
     r"input type 'voltageClamp' cannot be mapped onto the network engine; allowed: "
     r"pulseGenerator"),
])
def test_what_does_not_map_is_refused_in_one_line(tmp_path, capsys, extra, before, edit,
                                                  message):
    p = _nml(tmp_path, extra, before)
    p.write_text(p.read_text().replace(*edit))
    with pytest.raises(NeuroMLError, match=message) as info:
        resolve(f"{p}:net")
    assert "\n" not in str(info.value) and "net.nml:" in str(info.value)
    rc = main(["sweep", f"{p}:net", "--n", "2", "--db", str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert rc == 2 and "net.nml:" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ the engine's extensions
def _integrator_net(read: str):
    """An integrator without reset, C dv/dt = I (a spike at each upward crossing of 10.5 mV, as
    conductance-based NeuroML cells spike), driven by three pulses of the population's
    stimulus: +A on [1.05, 3.05) ms, -A on [4.05, 6.05) ms, +A on [7.05, 9.05) ms, A/C = 10
    mV/ms (the edges inside steps of 0.1 ms: no step is on or off by rounding)."""
    from neuroscape.models.network.description import network_model

    model = {"name": "integrator", "equations": "dv/dt = I/C : mV",
             "current": {"name": "I", "unit": "pA"}, "initial": {"v": "0 mV"},
             "parameters": {"C": {"default": "100 pF", "low": "50 pF", "high": "200 pF"}},
             "spike_level": "10.5 mV"}
    pulses = [{"kind": "pulse", "read": read, "amplitude": a, "delay": d, "duration": "2 ms"}
              for a, d in (("A", "1.05 ms"), ("-A", "4.05 ms"), ("A", "7.05 ms"))]
    return network_model({
        "name": "integrators",
        "parameters": {"A": {"default": "1000 pA", "low": "500 pA", "high": "2000 pA"}},
        "populations": {"x": {"size": 2, "model": model, "integrator": "euler",
                              "stimulus": pulses}},
        "settings": {"duration": "12 ms", "dt": "0.1 ms"}})


@pytest.mark.parametrize("read, first", [("start", 21), ("end", 20)])
def test_stimulus_and_upward_crossings_against_the_closed_form(read, first):
    """Forward Euler of C dv/dt = I is the running sum v_s = (dt/C) sum_{j <= s} I_j: each
    step of a pulse adds 1 mV; read at the step's start (t = j dt), step j sees the pulse from
    j = 11, v exceeds 10.5 mV after step 21 (11 mV); read at its end ((j + 1) dt), from j = 10,
    after step 20. Down to 0 mV during the negative pulse (re-armed), up again 60 steps
    later."""
    net = _integrator_net(read)
    b = batch_for(net, conn_seed=0)
    s = SimSettings.for_model(net.spec)
    keys = row_keys(0, np.arange(3))
    params = net.spec.params_array([{}, {"A": 2000.0}, {}])  # rows 0 and 2 share a trace
    res = b.run_chunk(params, keys, s, "cpu", Recording(spikes=True, v_neurons=(0,)))
    t, i = res.spikes[0]
    np.testing.assert_allclose(np.sort(t[i == 0]), [first * 0.1, (first + 60) * 0.1],
                               atol=1e-9)
    assert np.sum(i == 1) == 2
    v = res.voltages[0][0]  # after each step: the running sum
    assert v[first] == pytest.approx(11.0) and v[60] == pytest.approx(0.0, abs=1e-5)
    # row 2: A doubled, 2 mV a step: above 10.5 mV after 6 steps (12 mV)
    t2, i2 = res.spikes[1]
    np.testing.assert_allclose(np.sort(t2[i2 == 0]),
                               [(first - 10 + 5) * 0.1, (first + 50 + 5) * 0.1], atol=1e-9)
    np.testing.assert_array_equal(res.spikes[2][0], t)
    torch = pytest.importorskip("torch")  # noqa: F841 - the torch back end: the same spikes
    from neuroscape.sim.network_torch import run_chunk_torch

    rt = run_chunk_torch(b, params, keys, s, "torch-cpu", Recording(spikes=True))
    for (ta, ia), (tb, ib) in zip(res.spikes, rt.spikes, strict=True):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ia, ib)


def _leak_net(early: bool, order=("src", "x"), delay="0 ms"):
    """A spike source firing at 1 ms (step 10 of 0.1 ms) onto a leak dv/dt = -v/tau (10 ms)
    with v += 1 mV, early or not."""
    from neuroscape.models.network.description import network_model

    model = {"name": "leak", "equations": "dv/dt = -v/tau + I/nF : mV",
             "current": {"name": "I", "unit": "pA"}, "initial": {"v": "0 mV"},
             "parameters": {"tau": {"default": "10 ms", "low": "5 ms", "high": "20 ms"}},
             "threshold": "v > 100*mV", "reset": "v = 0*mV", "spike_timing": "grid"}
    pops = {"src": {"kind": "spikes", "size": 1, "spikes": [["1 ms", 0]]},
            "x": {"size": 1, "model": model, "integrator": "euler"}}
    return network_model({
        "name": "leak_net", "populations": {k: pops[k] for k in order},
        "projections": {"j": {"pre": "src", "post": "x", "connect": "all_to_all",
                              "on_pre": "v_post += 1*mV", "delay": delay, "early": early}},
        "outputs": {"r": {"rate": "x"}},
        "settings": {"duration": "2 ms", "dt": "0.1 ms"}})


@pytest.mark.parametrize("early, after_step_10", [(True, 1.0 - 0.1 / 10.0), (False, 1.0)])
def test_early_events_act_before_the_later_population_steps(early, after_step_10):
    """Early (jLEMS's order): the jump acts before x's Euler step of step 10, which then decays
    it by (1 - dt/tau); else (Brian2's order) after it: 1 mV at the end of step 10; the decay
    of forward Euler after that, (1 - dt/tau)^n, in both."""
    net = _leak_net(early)
    b = batch_for(net, conn_seed=0)
    s = SimSettings.for_model(net.spec)
    res = b.run_chunk(net.spec.params_array([{}]), row_keys(0, np.arange(1)), s, "cpu",
                      Recording(v_neurons=(1,)))
    v = res.voltages[0][0].astype(float)
    assert np.all(v[:10] == 0.0)
    want = after_step_10 * (1 - 0.1 / 10.0) ** np.arange(10)
    np.testing.assert_allclose(v[10:], want, rtol=1e-6)


@pytest.mark.parametrize("kw, message", [
    ({"order": ("x", "src")}, r"early: the pre population src must be declared before the "
                              r"post population x"),
    ({"delay": "1 ms"}, r"early: allowed with delay 0 and on_pre only"),
])
def test_early_events_refused_where_they_cannot_act_early(kw, message):
    from neuroscape.models.network.description import NetworkError

    with pytest.raises(NetworkError, match=message):
        _leak_net(True, **kw)


def test_jlems_clocks_off_the_grid_are_the_plain_counts():
    """Where a refractory period or delay is not a whole number of steps, the rounding of
    jLEMS's accumulated t cannot change its count: V held floor(r/dt) + 1 steps after the spike
    step (the engine counts that step too: + 1), an event delivered ceil(d/dt) steps after its
    spike, acting one step before (the engine's events act after the cells step)."""
    from neuroscape.models.network.description import lems_delay_steps, lems_refractory_steps

    dt, n = 0.01, 20000
    r = lems_refractory_steps(np.array([3.005, 0.505]), n, dt)
    assert np.all(r[0] == 302) and np.all(r[1] == 52)
    d = lems_delay_steps(np.array([1.505, 0.005, 0.0]), n, dt)
    assert np.all(d[0] == 150) and np.all(d[1] == 0) and np.all(d[2] == 0)
    # a whole number of steps: n or n + 1, spike by spike, with both in a run of 200 ms
    w = lems_refractory_steps(np.array([3.0]), n, dt)[0] - 1
    assert set(np.unique(w)) == {300, 301}


_CUDASIM = r'''
import os, sys
os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba.cuda is imported
sys.path.insert(0, sys.argv[1])
import numpy as np
from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.neuroml.network_map import load_network
from neuroscape.sim.engine import batch_for
import test_neuroml_network_engine as T

nets = [(load_network(sys.argv[2]), 10.0, {"p1_amplitude": 400.0}),
        (T._integrator_net("end"), 12.0, {"A": 2000.0}), (T._leak_net(True), 2.0, {})]
for m, dur, other in nets:
    b = batch_for(m, conn_seed=0)
    s = SimSettings.for_model(m.spec, duration_ms=dur, window_ms=dur)
    p, k = m.spec.params_array([{}, other]), row_keys(0, np.arange(2))
    a = b.run_chunk(p, k, s, "cpu", Recording(spikes=True))
    c = b.run_chunk(p, k, s, "cuda", Recording(spikes=True))
    assert sum(len(x[0]) for x in a.spikes) > 0, m.name
    for (ta, ia), (tc, ic) in zip(a.spikes, c.spikes):
        assert np.array_equal(ta, tc) and np.array_equal(ia, ic), m.name
    assert np.allclose(a.outputs, c.outputs, rtol=1e-12, equal_nan=True), m.name
print("same")
'''


@pytest.mark.slow  # the CUDA simulator runs each thread's Python (about 15 s)
def test_the_fused_cuda_kernel_gives_the_cpu_spikes(tmp_path):
    """The generated kernel on numba's CUDA target (its simulator: no GPU needed) with the
    stimulus and jLEMS's clocks (the IaF network for 10 ms), upward crossings without reset and
    early events: the CPU kernel's spikes, step for step."""
    import subprocess
    import sys

    pytest.importorskip("numba.cuda")
    script = tmp_path / "cudasim.py"
    script.write_text(_CUDASIM)
    r = subprocess.run([sys.executable, str(script), str(Path(__file__).parent),
                        str(DATA / "LEMS_iaf_network.xml")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and "same" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]
