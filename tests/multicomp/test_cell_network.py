"""Networks of multi-compartment cells (neuroscape.sim.cell_network): a synapse's PSP on a
single compartment against the closed form, NEURON's event delivery rule, the delay of a
recurrent spike, bitwise independence of batch and threads, one-line refusals. NEURON itself:
test_cell_network_vs_neuron.py (slow)."""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np
import pytest
from scipy import stats

from neuroscape.models.multicomp.network import CellNetworkError, build_cell_network
from neuroscape.sim.cell_network import input_trains, run_cell_network

CELLS = Path(__file__).resolve().parents[1] / "data" / "cells"

# one compartment without a leak: C dV/dt = -g(t) (V - e), so V - e = (V0 - e) exp(-G(t)/C)
# with G the integral of the synaptic conductance (a closed form for ExpSyn and Exp2Syn)
BALL = {"name": "ball", "cm": 1.0, "v_init": -65.0,
        "sections": {"soma": {"L": 20.0, "diam": 20.0, "nseg": 1}},
        # hh with no conductance beside pas: the ball-and-stick's kernel (one compile for the
        # file), no membrane current
        "mechanisms": {"soma": {"hh": {"gnabar": 0.0, "gkbar": 0.0, "gl": 0.0},
                                "pas": {"g": 0.0, "e": -65.0}}}}  # fmt: skip
C_NF = 1.0 * math.pi * 20.0 * 20.0 * 1e-5  # uF/cm2 x um2 -> nF


def _ball_net(synapse: dict, dt: float, duration: float, weight: float = 0.001) -> object:
    return build_cell_network({
        "name": "psp",
        "populations": {"C": {"size": 1, "model": BALL}},
        "inputs": {"one": {"target": "C", "rate": 0, "n": 1, "weight": weight,
                           "synapse": synapse}},
        "settings": {"duration": duration, "dt": dt},
    })  # fmt: skip


def _psp(synapse: dict, t_ev: float, dt: float, duration: float = 20.0):
    net = _ball_net(synapse, dt, duration)
    res = run_cell_network(net, trains=[[[np.array([t_ev])]]], record={"C": [("soma", 0.5)]})
    return res.t_ms, res.v["C"][0, 0, 0]


def _exp2syn_closed_form(t, onset, w=0.001, tau1=0.5, tau2=5.0, e=0.0, v0=-65.0):
    tp = tau1 * tau2 / (tau2 - tau1) * math.log(tau2 / tau1)
    f = 1.0 / (math.exp(-tp / tau2) - math.exp(-tp / tau1))  # exp2syn.mod's factor
    s = np.maximum(t - onset, 0.0)
    big_g = w * f * (tau2 * -np.expm1(-s / tau2) - tau1 * -np.expm1(-s / tau1))  # uS ms
    return e + (v0 - e) * np.exp(-big_g / C_NF)


EXP2 = {"model": "exp2syn", "tau1": "0.5 ms", "tau2": "5 ms", "e": "0 mV", "at": "soma(0.5)"}


def test_exp2syn_psp_against_the_closed_form_second_order():
    """An event at t_ev is delivered before the first step from t_m with t_ev <= t_m + dt/2
    and the conductance enters the midpoint of that step, so Crank-Nicolson converges at
    second order to the closed form whose onset is t_m + dt/2; against an onset at t_m or at
    t_ev itself the error would be of first order."""
    t_ev = 1.0 + 0.3 * 0.1  # between grid points of both dt
    errs, errs_grid = [], []
    for dt in (0.1, 0.05):
        t, v = _psp(EXP2, t_ev, dt)
        m = math.ceil(t_ev / dt - 0.5)
        assert t_ev <= m * dt + dt / 2 and t_ev > (m - 1) * dt + dt / 2
        errs.append(np.abs(v - _exp2syn_closed_form(t, m * dt + dt / 2)).max())
        errs_grid.append(np.abs(v - _exp2syn_closed_form(t, m * dt)).max())
    assert v[-1] - v[0] > 5.0  # a real PSP (mV)
    assert errs[1] < 6e-3, errs  # mV, of a PSP of 25 mV (4.1e-3 seen)
    assert 3.5 < errs[0] / errs[1] < 4.5, errs  # second order
    assert errs_grid[1] > 10 * errs[1], (errs, errs_grid)  # first order there (0.12 mV)


@pytest.mark.parametrize(
    ("t_ev", "m"),
    [(10.125, 40), (10.126, 41), (9.876, 40), (10.0, 40), (9.875, 39), (0.1, 0)],
)
def test_events_are_delivered_at_neurons_step(t_ev, m):
    """NEURON's deliver_net_events: before the step from t it delivers the events with
    t_ev <= t + dt/2 (dt 0.25 ms: binary-exact ties). With ExpSyn the conductance acts in
    the delivery step, so V first moves at the step's end t_{m+1}."""
    syn = {"model": "expsyn", "tau": "2 ms", "e": "0 mV", "at": "soma(0.5)"}
    t, v = _psp(syn, t_ev, 0.25, duration=15.0)
    moved = np.flatnonzero(v != v[0])
    assert moved[0] == m + 1, (t_ev, moved[:3])


def _pair_net(delay: float) -> object:
    ball_stick = str(CELLS / "ball_stick.yaml")
    return build_cell_network({
        "name": "pair",
        "populations": {"A": {"size": 1, "model": ball_stick},
                        "B": {"size": 1, "model": ball_stick}},
        "projections": {"AB": {"pre": "A", "post": "B", "connect": "all_to_all",
                               "synapse": {"model": "expsyn", "tau": 2, "e": 0,
                                           "at": "dend(0.5)"},
                               "weight": "w", "delay": f"{delay} ms"}},
        "inputs": {"kick": {"target": "A", "rate": "0 Hz", "n": 1, "weight": 0.05,
                            "synapse": {"model": "expsyn", "tau": 1, "e": 0,
                                        "at": "soma(0.5)"}}},
        "parameters": {"w": {"default": "0 uS", "low": 0, "high": 1}},
        "settings": {"duration": "12 ms", "dt": "0.025 ms"},
    })  # fmt: skip


@pytest.mark.parametrize(("delay", "kd"), [(1.0, 40), (1.0126, 41)])
def test_a_spike_reaches_its_target_after_neurons_delay(delay, kd):
    """NEURON sends a spike at the first time point t_j with V > 0 mV (plus 1e-10 ms), and
    its event arrives delay later: delivered before the step from t_{j + kd}, kd the first
    whole number with 1e-10 + delay <= (kd + 1/2) dt. Two parameter sets, weights 0 and
    0.01 uS: B's V is the same up to t_{j + kd} and differs from the next time point."""
    net = _pair_net(delay)
    res = run_cell_network(net, {"w": np.array([0.0, 0.01])}, trains=[[[np.array([1.0])]] * 2],
                           record={"A": [("soma", 0.5)], "B": [("soma", 0.5)]})
    va = res.v["A"][0, 0, 0]
    j = int(np.flatnonzero(va > 0.0)[0])
    vb = res.v["B"][:, 0, 0]
    differ = np.flatnonzero(vb[0] != vb[1])
    assert len(res.spikes["A"][0][0]) == 1
    assert differ[0] == j + kd + 1, (j, kd, differ[:3])


RING = {
    "name": "ring",
    "populations": {"E": {"size": 9, "model": "ball_stick.yaml"}},
    "projections": {"EE": {"pre": "E", "post": "E", "connect": {"p": 0.3},
                           "synapse": {"model": "exp2syn", "tau1": 0.5, "tau2": 5, "e": 0,
                                       "at": "dend(0.5)"},
                           "weight": "w_EE", "delay": "1.5 ms"}},
    "inputs": {"drive": {"target": "E", "rate": "rate", "n": 50, "weight": "0.003 uS",
                         "synapse": {"model": "expsyn", "tau": 2, "e": 0, "at": "dend(0.8)"}}},
    "parameters": {"w_EE": {"default": "0.004 uS", "low": 0, "high": 0.02},
                   "rate": {"default": "20 Hz", "low": 0, "high": 50},
                   "E.soma.hh.gnabar": {"low": 0.06, "high": 0.18}},
    "settings": {"duration": "60 ms", "dt": "0.025 ms"},
}  # fmt: skip


def test_rows_do_not_depend_on_batch_or_threads():
    net = build_cell_network(RING, folder=CELLS)
    params = np.array([[0.004, 20.0, 0.12], [0.012, 30.0, 0.10], [0.0, 20.0, 0.15]])
    full = run_cell_network(net, params, seed=7)
    assert all(sum(len(s) for s in full.spikes["E"][p]) > 3 for p in range(3))
    threads = [1, min(2, numba.config.NUMBA_NUM_THREADS)]
    for p in (2, 0):
        alone = run_cell_network(net, params[p : p + 1], seed=7, rows=[p],
                                 workers=threads[p % 2])
        for a, b in zip(alone.spikes["E"][0], full.spikes["E"][p], strict=True):
            assert np.array_equal(a, b)
        assert alone.rates["E"][0] == full.rates["E"][p]


def test_poisson_trains_rate_and_intervals():
    """Input trains: n sources at rate merge into one Poisson train of rate n * rate (counts
    and exponential intervals), and they depend on the global cell-row only."""
    net = build_cell_network(RING, folder=CELLS)
    vals = net.values(np.array([[0.004, 20.0, 0.12], [0.004, 20.0, 0.12]]))
    tr = input_trains(net, vals, seed=3, rows=np.array([5, 6]), duration_ms=1000.0)
    lam = 50 * 20.0 * 1e-3  # per ms
    counts = np.array([len(x) for p in tr[0] for x in p])
    assert abs(counts.mean() - lam * 1000) < 4 * math.sqrt(lam * 1000 / len(counts))
    isi = np.concatenate([np.diff(np.r_[0.0, x]) for p in tr[0] for x in p])
    assert stats.kstest(isi, "expon", args=(0, 1 / lam)).pvalue > 1e-3
    again = input_trains(net, {k: v[1:] for k, v in vals.items()}, seed=3, rows=np.array([6]),
                         duration_ms=1000.0)
    assert all(np.array_equal(a, b) for a, b in zip(again[0][0], tr[0][1], strict=True))
    assert not np.array_equal(tr[0][0][0], tr[0][1][0])


def _with(path: tuple, value) -> dict:
    import copy

    d = copy.deepcopy(RING)
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("projections", "EE", "synapse", "at"), "axon(0.5)", "unknown section 'axon'"),
        (("projections", "EE", "synapse", "at"), "dend(1.5)", "x=1.5; allowed: 0 <= x <= 1"),
        (("projections", "EE", "synapse", "at"), "dend", "allowed: SECTION(x)"),
        (("projections", "EE", "synapse", "model"), "alpha", "synapse model 'alpha'"),
        (("projections", "EE", "synapse", "tau2"), -1, "tau2=-1 ms; allowed: > 0"),
        (("projections", "EE", "delay"), "-1 ms", "delay -1 ms"),
        (("projections", "EE", "delay"), "0.01 ms", "shorter than dt"),
        (("projections", "EE", "delay"), "1 mV", "allowed: a value in ms"),
        (("projections", "EE", "delay"), KeyError, "no delay"),
        (("projections", "EE", "pre"), "I", "pre 'I'; allowed: E"),
        (("projections", "EE", "weight"), "w_XX", "allowed: a number in uS"),
        (("projections", "EE", "weight"), -0.1, "-0.1 uS; allowed: a number >= 0"),
        (("projections", "EE", "weight"), "rate", "is in Hz; allowed: a value in uS"),
        (("projections", "EE", "connect"), {"in_degree": 20}, "in_degree 20 > 8"),
        (("projections", "EE", "connect"), "some", "connect 'some'"),
        (("projections", "EE", "gain"), 2, "unknown key 'gain'"),
        (("inputs", "drive", "target"), "I", "target 'I'"),
        (("inputs", "drive", "n"), 0, "n 0; allowed: a positive integer"),
        (("populations", "E", "model"), "nope.yaml", "no such cell file"),
        (("populations", "E", "size"), 0, "size 0"),
        (("parameters", "I.soma.hh.gnabar"), {"low": 0, "high": 1}, "no population 'I'"),
        (("parameters", "E.soma.kv.gbar"), {"low": 0, "high": 1}, "kv"),
        (("settings", "dt"), "0.035 ms", "does not divide duration"),
        (("settings", "integrator"), "rk4", "integrator 'rk4'; allowed: crank_nicolson"),
        (("outputs",), {"r": {"rate": "I"}}, "rate of 'I'; allowed: E"),
        (("outputs",), {"r": {"cv": "E"}}, "allowed: {rate: POP or [POP, ...]}"),
        (("populations", "E", "model"), "cell.swc", "an SWC file has no mechanisms"),
    ],
)
def test_bad_descriptions_are_refused_in_one_line(path, value, words):
    with pytest.raises(CellNetworkError) as exc:
        build_cell_network(_with(path, value), folder=CELLS)
    msg = str(exc.value)
    assert "\n" not in msg and words in msg, msg


def test_a_network_of_cells_is_a_batch_of_the_engine():
    """run_batch over chunks gives each row what it gets alone (rates over the rate window);
    the recorded spikes are the cells' own."""
    from neuroscape.core.settings import Recording, SimSettings
    from neuroscape.models.multicomp.network import cell_network_model
    from neuroscape.sim.cell_network import CellNetworkBatch
    from neuroscape.sim.engine import run_batch

    model = cell_network_model(build_cell_network(RING, folder=CELLS))
    assert [o.name for o in model.spec.outputs] == ["rate_E"]
    assert model.spec.parameters[2].unit == "S/cm2"
    batch = CellNetworkBatch(model, conn_seed=1)
    s = SimSettings.for_model(model.spec, window_ms=40.0)
    params = np.array([[0.004, 20.0, 0.12], [0.012, 30.0, 0.10], [0.0, 20.0, 0.15]])
    full = run_batch(batch, params, seed=5, settings=s, chunk_size=2,
                     recording=Recording(spikes=True))
    one = run_batch(batch, params[2:3], seed=5, settings=s, rows=np.array([2]))
    assert full.outputs[2, 0] == one.outputs[0, 0] and full.outputs[2, 0] > 0
    direct = run_cell_network(batch.net, params, graph=batch.graph, seed=5)
    times, cells = full.spikes[0]
    assert np.array_equal(np.sort(np.concatenate(direct.spikes["E"][0])), np.sort(times))
    n_late = sum(int(np.count_nonzero(t >= 20.0)) for t in direct.spikes["E"][0])
    assert full.outputs[0, 0] == n_late / (9 * 0.040)


def test_a_loader_can_tell_a_network_of_cells(tmp_path):
    """is_cell_network: the hook a network loader uses to hand such a file over."""
    import yaml

    from neuroscape.models.multicomp.network import is_cell_network, load_cell_network

    f = tmp_path / "net.yaml"
    d = dict(RING, populations={"E": {"size": 3, "model": str(CELLS / "ball_stick.yaml")}})
    f.write_text(yaml.safe_dump(d))
    assert is_cell_network(yaml.safe_load(f.read_text()), tmp_path)
    assert load_cell_network(f).sizes == {"E": 3}
    assert not is_cell_network({"populations": {"E": {"size": 3, "model": "lif"}}}, tmp_path)


def test_a_run_with_dt_above_the_shortest_delay_is_refused():
    from neuroscape.core.settings import SettingsError

    net = build_cell_network(RING, folder=CELLS)
    with pytest.raises(SettingsError, match="delay 1.5 ms < dt 2 ms"):
        run_cell_network(net, dt_ms=2.0)
