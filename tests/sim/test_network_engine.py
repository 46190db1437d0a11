"""The network engine (issue 18) against closed forms it did not produce: synaptic delays on the
step grid, Tsodyks-Markram release (Tsodyks, Pawelzik & Markram 1998), pair-based STDP
(Song, Miller & Abbott 2000), Poisson counts and shot noise (Campbell's theorem); and the batch
invariants (a row's result does not depend on its batch, chunk or position; identical rows draw
different noise; a seed reproduces bitwise).

Each network compiles once (module fixtures); voltage traces are recorded as float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import neuroscape as ns
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.network import FILES, network, network_model
from neuroscape.sim.engine import batch_for, run_batch
from neuroscape.sim.network_engine import NetworkBatch
from neuroscape.testing import HOLD_CELL as HOLD

DT = 0.1  # ms

TAU_SHOT = 10.0  # ms
SHOT = {  # passive, leaky, never fires: shot noise
    "name": "shot",
    "equations": f"dv/dt = (I - v)/({TAU_SHOT}*ms) : mV\n",
    "current": {"name": "I", "unit": "mV"},
    "threshold": "v > 1000*mV",
    "reset": "v = 0*mV",
    "spike_timing": "grid",
    "initial": {"v": "0 mV"},
}
MIX = {  # a leaky integrate-and-fire cell that does fire
    "name": "mixcell",
    "equations": "dv/dt = (I - v)/(10*ms) : mV (unless refractory)\n",
    "current": {"name": "I", "unit": "mV"},
    "threshold": "v > 4*mV",
    "reset": "v = 0*mV",
    "refractory": "2 ms",
    "spike_timing": "grid",
    "initial": {"v": "0 mV"},
}

T_SPIKE = 10.0  # ms: the generator's spike, on step 100
C_DELAY, LO, HI = 1.5, 0.5, 2.5  # ms: constant delay; rand() delays in [LO, HI]
N_R, N_SRC, N_SHOT, N_MIX, N_INPUT = 60, 200, 40, 20, 10
FILE_EDGES = np.array([[2, 0, 1], [0, 1, 2]])  # 2->0, 0->1, 1->2: not sorted by pre
FILE_SPIKES = (20.0, 30.0, 40.0)  # ms: fsrc neuron i fires at FILE_SPIKES[i]


def _closed_net(graph_file: Path):
    return network_model({
        "name": "closed_forms",
        "parameters": {
            "d_par": {"default": "1 ms", "low": "0 ms", "high": "5 ms"},
            "F": {"default": "20 Hz", "low": "1 Hz", "high": "100 Hz"},
            "nu": {"default": "500 Hz", "low": "10 Hz", "high": "1000 Hz"},
            "J": {"default": "0.1 mV", "low": "0 mV", "high": "1 mV"},
        },
        "populations": {
            "src": {"kind": "spikes", "size": 1, "spikes": [[f"{T_SPIKE} ms", 0]]},
            "c": {"size": 1, "model": HOLD},
            "p": {"size": 1, "model": HOLD},
            "r": {"size": N_R, "model": HOLD},
            "srcp": {"kind": "poisson", "size": N_SRC, "rate": "F"},
            "shot": {"size": N_SHOT, "model": SHOT, "integrator": "exponential_euler",
                     "initial": {"v": "rand()*1*mV"}},
            "mix": {"size": N_MIX, "model": MIX, "initial": {"v": "rand()*4*mV"}},
            "fsrc": {"kind": "spikes", "size": 3,
                     "spikes": [[f"{t} ms", i] for i, t in enumerate(FILE_SPIKES)]},
            "fpost": {"size": 3, "model": HOLD},
        },
        "projections": {
            "src_to_c": {"pre": "src", "post": "c", "connect": "all_to_all",
                         "on_pre": "v += 2*mV", "delay": f"{C_DELAY} ms"},
            "src_to_p": {"pre": "src", "post": "p", "connect": "all_to_all",
                         "on_pre": "v += 3*mV", "delay": "d_par"},
            "src_to_r": {"pre": "src", "post": "r", "connect": "all_to_all",
                         "on_pre": "v += 1*mV", "delay": f"{LO}*ms + rand()*{HI - LO}*ms"},
            "srcp_to_mix": {"pre": "srcp", "post": "mix", "connect": {"p": 0.3},
                            "model": "w : 1", "initial": {"w": "rand()"},
                            "on_pre": "v += w*rand()*1.5*mV", "delay": "rand()*1*ms"},
            "fsrc_to_fpost": {"pre": "fsrc", "post": "fpost",
                              "connect": {"file": str(graph_file)}, "on_pre": "v += 1*mV"},
        },
        "inputs": {"drive": {"target": "shot", "rate": "nu", "n": N_INPUT,
                             "on_spike": "v += J"}},
        "outputs": {
            "r_srcp": {"rate": "srcp"},
            "r_mix": {"rate": "mix"},
            "cv_mix": {"cv": "mix"},
            "fano_mix": {"fano": "mix", "bin": "50 ms"},
            "w_mix": {"weights": "srcp_to_mix.w", "stat": "mean"},
        },
        "settings": {"duration": "2000 ms", "dt": f"{DT} ms", "window": "1800 ms"},
    })


def _offsets(model) -> dict[str, int]:
    """Global neuron index of each population's first neuron (declaration order)."""
    out, off = {}, 0
    for p in model.populations:
        out[p.name] = off
        off += p.size
    return out


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    f = tmp_path_factory.mktemp("graph") / "fgraph.npz"
    np.savez(f, N_fsrc=np.int64(3), N_fpost=np.int64(3), fsrc_to_fpost=FILE_EDGES)
    return _closed_net(f)


CLOSED_ROWS = [
    {"d_par": 0.0, "F": 20.0, "nu": 500.0, "J": 0.1},
    {"d_par": 0.73, "F": 40.0, "nu": 800.0, "J": 0.2},
    {"d_par": 2.04, "F": 10.0, "nu": 300.0, "J": 0.05},
    {"d_par": 4.96, "F": 30.0, "nu": 1000.0, "J": 0.15},
]


@pytest.fixture(scope="module")
def closed_run(closed):
    off = _offsets(closed)
    rec = [off["c"], off["p"], *range(off["r"], off["r"] + N_R),
           *range(off["shot"], off["shot"] + N_SHOT), *range(off["fpost"], off["fpost"] + 3)]
    res = ns.simulate(closed, CLOSED_ROWS, seed=5, record_v=rec, record_spikes=True)
    assert res.ok.all(), res.errors
    return res, rec


def _jumps(trace: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps where a held voltage changes, and by how much (mV); trace[s] is the end of step s."""
    d = np.diff(np.concatenate([[0.0], trace.astype(float)]))
    idx = np.nonzero(d)[0]
    return idx, d[idx]


# --------------------------------------------------------------------------- delays
def test_the_generator_spikes_on_its_step(closed_run, closed):
    res, _ = closed_run
    off = _offsets(closed)["src"]
    for t, i in zip(*res.spikes[0], strict=True):
        if i == off:
            assert t == pytest.approx(T_SPIKE)


def test_constant_delay_lands_round_d_over_dt_steps_after_the_spike(closed_run):
    res, _ = closed_run
    s_spike = round(T_SPIKE / DT)
    for b in range(len(CLOSED_ROWS)):
        idx, dv = _jumps(res.voltages[b, 0])
        assert idx.tolist() == [s_spike + round(C_DELAY / DT)], idx
        assert dv.tolist() == [2.0]


def test_parameter_delay_per_row(closed_run):
    res, _ = closed_run
    s_spike = round(T_SPIKE / DT)
    for b, row in enumerate(CLOSED_ROWS):
        idx, dv = _jumps(res.voltages[b, 1])
        assert idx.tolist() == [s_spike + int(np.round(row["d_par"] / DT))], (row, idx)
        assert dv.tolist() == [3.0]


def test_random_delays_per_synapse_lie_in_their_range(closed_run):
    res, _ = closed_run
    s_spike = round(T_SPIKE / DT)
    lo, hi = round(LO / DT), round(HI / DT)
    for b in range(len(CLOSED_ROWS)):
        lags = []
        for n in range(2, 2 + N_R):
            idx, dv = _jumps(res.voltages[b, n])
            assert dv.tolist() == [1.0], (n, idx, dv)
            lags.append(idx[0] - s_spike)
        lags = np.array(lags)
        assert lags.min() >= lo and lags.max() <= hi, lags
        # uniform in [LO, HI]: mean (LO + HI)/2 within 5 SE, and more than a few distinct values
        se = (hi - lo) / np.sqrt(12 * N_R)
        assert abs(lags.mean() - (lo + hi) / 2) < 5 * se, lags.mean()
        assert np.unique(lags).size >= 10


def test_a_graph_file_in_any_order_delivers_to_the_right_targets(closed_run):
    res, rec = closed_run
    base = len(rec) - 3
    for pre, post in FILE_EDGES.T:
        idx, _ = _jumps(res.voltages[0, base + post])
        assert idx.tolist() == [round(FILE_SPIKES[pre] / DT)], (pre, post, idx)


# --------------------------------------------------------------------------- Poisson
def test_poisson_source_counts_within_4_se(closed_run):
    res, _ = closed_run
    window_s = res.settings.window_ms * 1e-3
    steps = round(res.settings.window_ms / DT)
    for b, row in enumerate(CLOSED_ROWS):
        count = res["r_srcp"][b] * N_SRC * window_s
        assert count == pytest.approx(round(count), abs=1e-6)
        p = row["F"] * DT * 1e-3  # a Bernoulli draw per neuron and step
        mean, se = N_SRC * steps * p, np.sqrt(N_SRC * steps * p * (1 - p))
        assert abs(count - mean) < 4 * se, (row, count, mean, se)
        assert abs(count - row["F"] * window_s * N_SRC) < 4 * se


def test_shot_noise_mean_and_variance_follow_campbell(closed_run):
    """v' = -v/tau + J sum delta(t - t_k), rate nu*n: E[v] = J nu n tau, Var[v] = J^2 nu n tau/2
    (Campbell). On the step grid (exact decay a = exp(-dt/tau), then Poisson(lam) kicks, lam =
    nu n dt): E[v] = J lam/(1 - a), Var[v] = J^2 lam/(1 - a^2)."""
    res, _ = closed_run
    skip = round(200.0 / DT)  # 20 tau: the initial state is forgotten
    block = round(100.0 / DT)  # 10 tau per block: block means nearly independent
    a = np.exp(-DT / TAU_SHOT)
    for b, row in enumerate(CLOSED_ROWS):
        v = res.voltages[b, 2 + N_R:2 + N_R + N_SHOT, skip:].astype(float)
        n_blocks = v.shape[1] // block
        blocks = v[:, : n_blocks * block].reshape(N_SHOT, n_blocks, block)
        lam = row["nu"] * N_INPUT * DT * 1e-3
        mean_grid = row["J"] * lam / (1 - a)
        var_grid = row["J"] ** 2 * lam / (1 - a * a)
        m_b = blocks.mean(axis=2).ravel()
        assert abs(m_b.mean() - mean_grid) < 4 * m_b.std(ddof=1) / np.sqrt(m_b.size), (
            row, m_b.mean(), mean_grid)
        s_b = ((blocks - mean_grid) ** 2).mean(axis=2).ravel()
        assert abs(s_b.mean() - var_grid) < 4 * s_b.std(ddof=1) / np.sqrt(s_b.size), (
            row, s_b.mean(), var_grid)
        # the continuous-time forms: within 4 SE plus the grid's O(dt/tau) offset from them
        campbell = row["J"] * row["nu"] * N_INPUT * TAU_SHOT * 1e-3
        assert abs(m_b.mean() - campbell) < 4 * m_b.std(ddof=1) / np.sqrt(m_b.size) + abs(
            mean_grid - campbell)
        assert abs(mean_grid - campbell) < 0.006 * campbell  # dt/(2 tau) = 0.5 %
        var_c = row["J"] * campbell / 2
        assert abs(s_b.mean() - var_c) < 4 * s_b.std(ddof=1) / np.sqrt(s_b.size) + abs(
            var_grid - var_c)
        assert abs(var_grid - var_c) < 0.011 * var_c  # dt/tau = 1 %


# --------------------------------------------------------------------------- batch invariants
INV_ROWS = np.array([
    [0.5, 20.0, 500.0, 0.1], [1.2, 40.0, 800.0, 0.2], [2.0, 10.0, 300.0, 0.05],
    [3.3, 60.0, 1000.0, 0.15], [0.0, 30.0, 100.0, 0.3], [4.0, 15.0, 50.0, 0.02],
])


@pytest.fixture(scope="module")
def inv(closed):
    off = _offsets(closed)
    rec = Recording(spikes=True, v_neurons=(off["r"], off["r"] + 7, off["shot"], off["mix"] + 3))
    bm = batch_for(closed)
    short = SimSettings.for_model(closed.spec, duration_ms=500.0, window_ms=400.0)

    def run(params, **kw):
        kw.setdefault("seed", 11)
        res = run_batch(bm, params, settings=short, recording=rec, **kw)
        assert res.ok.all(), res.errors
        return res

    return run, run(INV_ROWS, chunk_size=len(INV_ROWS), workers=2)


def _same_row(a, ra: int, b, rb: int) -> None:
    assert np.array_equal(a.outputs[ra], b.outputs[rb], equal_nan=True)
    assert np.array_equal(a.voltages[ra], b.voltages[rb])
    for x, y in zip(a.spikes[ra], b.spikes[rb], strict=True):
        assert np.array_equal(x, y)


def test_the_whole_batch_draws_noise(inv):
    _, ref = inv
    assert np.all(ref["r_srcp"] > 0) and np.all(ref["r_mix"] > 0), ref.outputs
    assert np.all(np.isfinite(ref["cv_mix"])), ref.outputs


def test_a_row_does_not_depend_on_chunk_size_or_threads(inv):
    run, ref = inv
    res = run(INV_ROWS, chunk_size=2, workers=1)
    for r in range(len(INV_ROWS)):
        _same_row(ref, r, res, r)


def test_a_row_does_not_depend_on_its_batch_or_position(inv):
    run, ref = inv
    alone = run(INV_ROWS[3:4], rows=np.array([3]))
    _same_row(ref, 3, alone, 0)
    order = np.array([5, 2, 0, 4, 1, 3])
    shuffled = run(INV_ROWS[order], rows=order, chunk_size=4)
    for k, r in enumerate(order):
        _same_row(ref, r, shuffled, k)
    bigger = run(np.vstack([INV_ROWS, INV_ROWS[:3]]), chunk_size=9)
    for r in range(len(INV_ROWS)):
        _same_row(ref, r, bigger, r)


def test_identical_rows_draw_different_noise(inv):
    run, _ = inv
    res = run(np.repeat(INV_ROWS[1:2], 3, axis=0))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert res["r_srcp"][a] != res["r_srcp"][b] or res["r_mix"][a] != res["r_mix"][b]
        assert res["w_mix"][a] != res["w_mix"][b]  # rand() initial weights
        assert not np.array_equal(res.voltages[a, 2], res.voltages[b, 2])  # shot noise
        assert not np.array_equal(res.voltages[a, 3], res.voltages[b, 3])  # rand() on_pre


def test_a_seed_reproduces_bitwise_and_another_seed_differs(inv):
    run, ref = inv
    again = run(INV_ROWS, chunk_size=3)
    for r in range(len(INV_ROWS)):
        _same_row(ref, r, again, r)
    other = run(INV_ROWS, seed=12)
    assert not np.array_equal(other.voltages, ref.voltages)
    assert not np.array_equal(other.outputs, ref.outputs)


def test_one_kernel_serves_every_graph_of_a_network():
    m = network("cortical")
    s = SimSettings.for_model(m.spec)
    a, b = NetworkBatch(m, conn_seed=0), NetworkBatch(m, conn_seed=1)
    assert a.connectivity_hash != b.connectivity_hash
    assert a.kernel_source(s) == b.kernel_source(s)


# --------------------------------------------------------------------------- Tsodyks-Markram
T_TM, N_TM, T0_TM = 40.0, 40, 5.0  # ms period, spike count, first spike (ms)
COND = {  # g_e only accumulates what the synapse adds; v is a bystander that never fires
    "name": "gcount",
    "equations": "dg_e/dt = I/(1*ms) : siemens\ndv/dt = -v/(10*ms) : volt\n",
    "current": {"name": "I", "unit": "nS"},
    "threshold": "v > 1*volt",
    "reset": "v = 0*volt",
    "spike_timing": "grid",
    "initial": {"g_e": "0 nS", "v": "0 mV"},
}
TM_ROWS = [
    {"w_e": 0.1, "U_0": 0.6, "Omega_d": 2.0, "Omega_f": 3.33},  # coba_stp's defaults
    {"w_e": 0.1, "U_0": 0.2, "Omega_d": 5.0, "Omega_f": 5.0},  # u facilitates
    {"w_e": 0.2, "U_0": 0.3, "Omega_d": 20.0, "Omega_f": 10.0},
    {"w_e": 0.05, "U_0": 0.9, "Omega_d": 0.5, "Omega_f": 20.0},  # depressing
]


@pytest.fixture(scope="module")
def tm_run():
    lib = yaml.safe_load(FILES["coba_stp"].read_text())
    syn = lib["projections"]["E_to_E"]  # the shipped synapse: its model, initial and on_pre
    m = network_model({
        "name": "tm_train",
        "parameters": {k: lib["parameters"][k] for k in ("w_e", "U_0", "Omega_d", "Omega_f")},
        "populations": {
            "src": {"kind": "spikes", "size": 1, "spikes": [
                {"start": f"{T0_TM} ms", "period": f"{T_TM} ms", "count": N_TM, "indices": [0]}]},
            "post": {"size": 1, "model": COND},
        },
        "projections": {"src_to_post": {"pre": "src", "post": "post", "connect": "all_to_all",
                                        "model": syn["model"], "initial": syn["initial"],
                                        "on_pre": syn["on_pre"]}},
        "settings": {"duration": f"{T0_TM + T_TM * N_TM + 5} ms", "dt": f"{DT} ms",
                     "window": "100 ms"},
    })
    res = ns.simulate(m, TM_ROWS, record_v=[1])
    assert res.ok.all(), res.errors
    return res


def test_tsodyks_markram_release_follows_the_recursion_and_its_steady_state(tm_run):
    """Between spikes u decays (du/dt = -Omega_f u) and x recovers (dx/dt = Omega_d (1 - x));
    at a spike u += U (1 - u), then r = u x is released and x -= r (Tsodyks, Pawelzik & Markram
    1998). For a regular train of period T the release settles at u+ x- with
    u+ = U / (1 - (1 - U) e^(-Omega_f T)) and
    x- = (1 - e^(-Omega_d T)) / (1 - (1 - u+) e^(-Omega_d T))."""
    T = T_TM * 1e-3
    for b, row in enumerate(TM_ROWS):
        idx, dg = _jumps(tm_run.voltages[b, 0])
        assert idx.tolist() == [round((T0_TM + k * T_TM) / DT) for k in range(N_TM)]
        release = dg / (row["w_e"] * 1e-9)  # jumps of g_e (S) over w_e
        U, od, of = row["U_0"], row["Omega_d"], row["Omega_f"]
        u, x, want = 0.0, 1.0, []
        for k in range(N_TM):
            if k:
                u *= np.exp(-of * T)
                x = 1 - (1 - x) * np.exp(-od * T)
            u += U * (1 - u)
            want.append(u * x)
            x -= u * x
        np.testing.assert_allclose(release, want, rtol=2e-4, atol=2e-6)
        # the train is long enough for the steady state: per spike, u's distance to it shrinks
        # by (1 - U) e^(-Omega_f T), x's by (1 - u+) e^(-Omega_d T) <= (1 - U) e^(-Omega_d T)
        assert ((1 - U) * np.exp(-min(of, od) * T)) ** (N_TM - 1) < 1e-6
        u_ss = U / (1 - (1 - U) * np.exp(-of * T))
        x_ss = (1 - np.exp(-od * T)) / (1 - (1 - u_ss) * np.exp(-od * T))
        assert release[-1] == pytest.approx(u_ss * x_ss, rel=2e-4), (row, release[-1])


def test_tsodyks_markram_release_over_gaps_longer_than_the_exp_table(tm_run):
    """The kernel reads exp(b n dt) from a table for gaps of n < EXP_TABLE steps and calls exp
    beyond: spikes 1,000 ms apart (10,000 steps), then 40 ms, then 1,000 ms again release what
    the recursion gives (float32 records: relative 2e-4)."""
    from neuroscape.sim.network_engine import EXP_TABLE

    times = [5.0, 1005.0, 1045.0, 2045.0]  # ms
    assert (times[1] - times[0]) / DT > EXP_TABLE > (times[2] - times[1]) / DT
    lib = yaml.safe_load(FILES["coba_stp"].read_text())
    syn = lib["projections"]["E_to_E"]
    m = network_model({
        "name": "tm_gaps",
        "parameters": {k: lib["parameters"][k] for k in ("w_e", "U_0", "Omega_d", "Omega_f")},
        "populations": {
            "src": {"kind": "spikes", "size": 1, "spikes": [[f"{t} ms", 0] for t in times]},
            "post": {"size": 1, "model": COND},
        },
        "projections": {"src_to_post": {"pre": "src", "post": "post", "connect": "all_to_all",
                                        "model": syn["model"], "initial": syn["initial"],
                                        "on_pre": syn["on_pre"]}},
        "settings": {"duration": "2060 ms", "dt": f"{DT} ms", "window": "100 ms"},
    })
    rows = [{"w_e": 0.1, "U_0": 0.3, "Omega_d": 0.5, "Omega_f": 1.0},  # slow: the gaps matter
            {"w_e": 0.1, "U_0": 0.6, "Omega_d": 2.0, "Omega_f": 3.33}]
    res = ns.simulate(m, rows, record_v=[1])
    for b, row in enumerate(rows):
        idx, dg = _jumps(res.voltages[b, 0])
        assert idx.tolist() == [round(t / DT) for t in times]
        U, od, of = row["U_0"], row["Omega_d"], row["Omega_f"]
        u, x, want, last = 0.0, 1.0, [], 0.0
        for t in times:
            gap = (t - last) * 1e-3
            u *= np.exp(-of * gap)
            x = 1 - (1 - x) * np.exp(-od * gap)
            u += U * (1 - u)
            want.append(u * x)
            x -= u * x
            last = t
        np.testing.assert_allclose(dg / (row["w_e"] * 1e-9), want, rtol=2e-4, atol=2e-6)


# --------------------------------------------------------------------------- pair-based STDP
LAGS = (-15.0, -3.0, 0.0, 3.0, 15.0)  # t_post - t_pre (ms)
KICK = 100.0  # ms: a strong input at this step makes the post neuron fire on the next one
TAU_STDP = 20.0  # ms: song2000's taupre = taupost


@pytest.fixture(scope="module")
def stdp():
    lib = yaml.safe_load(FILES["song2000"].read_text())
    syn = lib["projections"]["input_to_post"]  # the shipped rule: model, on_pre, on_post
    params = {k: lib["parameters"][k] for k in ("gmax", "A_pre", "B")}
    params["w0"] = {"default": 0.005, "low": 0, "high": 0.05}
    t_post = KICK + DT
    pops = {"kick": {"kind": "spikes", "size": 1, "spikes": [[f"{KICK} ms", 0]]},
            "post": lib["populations"]["post"]}
    projs = {"kick_to_post": {"pre": "kick", "post": "post", "connect": "all_to_all",
                              "on_pre": "v += 40*mV"}}
    outs = {}
    for k, lag in enumerate(LAGS):
        pops[f"pre{k}"] = {"kind": "spikes", "size": 1,
                           "spikes": [[f"{t_post - lag:.4f} ms", 0]]}
        projs[f"pre{k}_to_post"] = {"pre": f"pre{k}", "post": "post", "connect": "all_to_all",
                                    "model": syn["model"], "initial": {"w": "w0"},
                                    "on_pre": syn["on_pre"], "on_post": syn["on_post"]}
        outs[f"wf{k}"] = {"weights": f"pre{k}_to_post.w", "stat": "mean"}
    return network_model({
        "name": "stdp_pairs", "parameters": params, "constants": lib["constants"],
        "populations": pops, "projections": projs, "outputs": outs,
        "settings": {"duration": "200 ms", "dt": f"{DT} ms", "window": "200 ms"},
    })


def _stdp_rows():
    rows = [{"gmax": 0.01, "A_pre": 0.01, "B": 1.05, "w0": 0.005},
            {"gmax": 0.02, "A_pre": 0.05, "B": 1.5, "w0": 0.01}]
    g, a = 0.01, 0.03
    rows.append({"gmax": g, "A_pre": a, "B": 1.05, "w0": g - 0.3 * a * g})  # potentiation clips
    rows.append({"gmax": g, "A_pre": a, "B": 1.05, "w0": 0.2 * a * g})  # depression clips
    return rows


@pytest.mark.slow  # compiles and runs a plastic network per case
def test_stdp_weight_change_is_the_pair_rule_and_clips(stdp):
    rows = _stdp_rows()
    res = ns.simulate(stdp, rows, record_spikes=True)
    assert res.ok.all(), res.errors
    names = [p.name for p in stdp.populations]
    step = {}
    for t, i in zip(*res.spikes[0], strict=True):
        step.setdefault(names[i], []).append(round(t / DT))
    # the kick lands after the threshold test of its step: the post neuron fires on the next one
    assert step["post"] == [round(KICK / DT) + 1], step
    clipped_high = clipped_low = 0
    for b, row in enumerate(rows):
        d_a = row["A_pre"] * row["gmax"]
        for k in range(len(LAGS)):
            lag = (step["post"][0] - step[f"pre{k}"][0]) * DT  # the lag the engine saw (ms)
            assert lag == pytest.approx(LAGS[k])
            if lag >= 0:  # pre before post: potentiation by Apre(t_post)
                dw = d_a * np.exp(-lag / TAU_STDP)
            else:  # post before pre: depression by Apost(t_pre)
                dw = -d_a * row["B"] * np.exp(lag / TAU_STDP)
            want = min(max(row["w0"] + dw, 0.0), row["gmax"])
            got = res[f"wf{k}"][b]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-15), (row, LAGS[k], got, want)
            clipped_high += want == row["gmax"]
            clipped_low += want == 0.0
    assert clipped_high >= 3 and clipped_low >= 2


def _two_state_net(stimulus: bool):
    """A population of passive cells with a decaying synaptic input g on V (two coupled linear
    states: the exact step has an off-diagonal entry), tau_m a row parameter; the current I is
    a constant of the row or, with ``stimulus``, a pulse of 5 mV on [1.05, 5.05) ms that each
    step reads at its start (edges inside steps)."""
    model = {"name": "vg_cell",
             "equations": "dv/dt = (g - v + I)/tau_m : mV\ndg/dt = -g/(3*ms) : mV\n",
             "current": {"name": "I", "unit": "mV"},
             "threshold": "v > 1000*mV", "reset": "v = 0*mV", "spike_timing": "grid",
             "initial": {"v": "-1 mV", "g": "4 mV"},
             "parameters": {"tau_m": {"default": "10 ms", "low": "1 ms", "high": "50 ms"}}}
    pop = {"size": 2, "model": model, "integrator": "exact", "params": {"tau_m": "tau_m"}}
    if stimulus:
        pop["stimulus"] = [{"kind": "pulse", "amplitude": "5 mV", "delay": "1.05 ms",
                            "duration": "4 ms"}]
    else:
        pop["current"] = "I_0"
    return network_model({
        "name": "vg_stim" if stimulus else "vg_const",
        "parameters": {"tau_m": {"default": "10 ms", "low": "1 ms", "high": "50 ms"},
                       "I_0": {"default": "2 mV", "low": "0 mV", "high": "10 mV"}},
        "populations": {"x": pop},
        "settings": {"duration": "8 ms", "dt": f"{DT} ms"}})


def _vg_closed_form(tau_m: float, current: np.ndarray) -> np.ndarray:
    """V after each step of the solution with the input held over each step: over h, from
    (v, g) with input u, v(h) = v e^(-h/tau_m) + u (1 - e^(-h/tau_m)) + g tau_g / (tau_g -
    tau_m) (e^(-h/tau_g) - e^(-h/tau_m)), g(h) = g e^(-h/tau_g)."""
    tg, h = 3.0, DT
    em, eg = np.exp(-h / tau_m), np.exp(-h / tg)
    v, g, out = -1.0, 4.0, []
    for u in current:
        v = v * em + u * (1 - em) + g * tg / (tg - tau_m) * (eg - em)
        g = g * eg
        out.append(v)
    return np.array(out)


@pytest.mark.parametrize("stimulus", [False, True])
def test_the_exact_scheme_in_a_network_is_the_closed_form_of_a_coupled_linear_cell(stimulus):
    """The network kernel runs the 'exact' step as y' = A y + c (A per row, c per row or, with
    a stimulus, per step): V equals the hand-derived solution on every step, for rows with
    their own tau_m and current."""
    net = _two_state_net(stimulus)
    rows = [{"tau_m": 10.0}, {"tau_m": 2.5, "I_0": 7.0}, {"tau_m": 40.0, "I_0": 0.0}]
    s = SimSettings.for_model(net.spec)
    res = run_batch(batch_for(net, conn_seed=0), rows, settings=s,
                    recording=Recording(v_neurons=(0, 1)))  # fmt: skip
    n = s.n_steps
    for r, row in enumerate(rows):
        if stimulus:
            t = np.arange(n) * DT
            cur = np.where((t >= 1.05 - 1e-12) & (t < 5.05), 5.0, 0.0)
        else:
            cur = np.full(n, row.get("I_0", 2.0))
        want = _vg_closed_form(row["tau_m"], cur)
        for k in range(2):
            np.testing.assert_allclose(res.voltages[r, k], want, rtol=1e-5, atol=1e-6)
