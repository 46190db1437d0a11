"""Surrogate populations in networks of cells (hybrid networks), their mechanics with known rate
functions in place of surrogates: Poisson counts at the function's rate, the map from inputs
to surrogate parameters, the running average of projected spikes against its closed form,
bitwise independence of batch and threads, one-line refusals. The comparison with the network
of detailed cells, with a trained surrogate: test_hybrid_vs_detailed.py (slow)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from neuroscape.models.multicomp.network import CellNetworkError, build_cell_network
from neuroscape.sim.cell_network import delay_steps, run_cell_network, running_average

CELL = str(Path(__file__).resolve().parents[1] / "data" / "cells" / "ball_stick.yaml")
SYN = {"model": "expsyn", "tau": "2 ms", "e": "0 mV", "at": "dend(0.8)"}


@pytest.fixture
def sur_dir(tmp_path: Path) -> Path:
    """A folder the description accepts as a saved surrogate (the tests give the rate
    functions themselves, so nothing in it is read)."""
    d = tmp_path / "sur"
    d.mkdir()
    (d / "surrogate.json").write_text("{}")
    return d


def _alone(sur_dir, size=200, duration="1000 ms", n=40, weight="0.01 uS", ref_n=20,
           ref_w="0.005 uS"):  # fmt: skip
    return build_cell_network({
        "name": "alone",
        "populations": {"S": {"size": size, "surrogate": str(sur_dir),
                              "map": {"r": {"from": "drive", "n": ref_n, "weight": ref_w}}}},
        "inputs": {"drive": {"target": "S", "rate": "rate", "n": n, "weight": weight}},
        "parameters": {"rate": {"default": "10 Hz", "low": 0, "high": 50}},
        "settings": {"duration": duration, "dt": "0.025 ms"},
    })  # fmt: skip


def test_poisson_counts_at_the_functions_rate(sur_dir):
    """f(r) = 2 r with the input's parameter equal to its rate (same n and weight as the
    training input): each cell fires as a Poisson process at 2 r. Pooled counts within 4 SD
    of 2 r N T, per-cell counts not over- or underdispersed (chi-square index of dispersion),
    the times uniform and the first spikes exponential (Kolmogorov-Smirnov)."""
    net = _alone(sur_dir, n=20, weight="0.005 uS")
    seen = []

    def f(x):
        seen.append(x.copy())
        return 2.0 * x[:, 0]

    rates = np.array([5.0, 20.0])
    res = run_cell_network(net, {"rate": rates}, rate_fns={"S": f}, seed=7)
    assert len(seen) == 1  # inputs only: the parameters never change, one call
    np.testing.assert_array_equal(seen[0][:, 0], np.repeat(rates, 200))
    for p, r in enumerate(rates):
        counts = np.array([len(t) for t in res.spikes["S"][p]])
        mu = 2 * r * 1.0  # per cell, T = 1 s
        assert abs(counts.sum() - mu * 200) < 4 * math.sqrt(mu * 200), (r, counts.sum())
        disp = ((counts - counts.mean()) ** 2).sum() / counts.mean()  # ~ chi2(N - 1)
        assert stats.chi2(199).ppf(0.0005) < disp < stats.chi2(199).ppf(0.9995), disp
        t_all = np.concatenate(res.spikes["S"][p])  # given the counts, uniform on [0, T)
        assert stats.kstest(t_all, "uniform", args=(0, 1000.0)).pvalue > 1e-3
        first = np.array([t[0] for t in res.spikes["S"][p] if len(t)])  # Exp(2 r)
        assert len(first) >= 199  # P(no spike in 1 s) = exp(-2 r T) < 1e-4
        assert stats.kstest(first, "expon", args=(0, 1000.0 / (2 * r))).pvalue > 1e-3
        assert res.rates["S"][p] == pytest.approx(counts.sum() / 200.0)


def test_an_input_maps_by_mean_conductance(sur_dir):
    """An input of n = 40 sources at r and weight 0.01 uS onto a surrogate trained with 20
    sources of 0.005 uS: the parameter is n r w / (n_ref w_ref) = 4 r."""
    net = _alone(sur_dir, size=3, duration="10 ms")
    seen = []
    run_cell_network(net, {"rate": np.array([2.5, 10.0])},
                     rate_fns={"S": lambda x: seen.append(x.copy()) or 0 * x[:, 0]})  # fmt: skip
    np.testing.assert_allclose(seen[0][:, 0], np.repeat([10.0, 40.0], 3), rtol=1e-12)


def test_running_average_against_the_closed_form():
    """x after step m is (1/tau) sum_{m' <= m} W_{m'} exp(-(m - m') dt / tau), the ring's slots
    cleared as they are read, whatever the split of the steps into calls."""
    rng = np.random.default_rng(3)
    ring, n_steps, dt, tau = 17, 40, 0.1, 2.0
    deliveries = rng.random((2, 1, n_steps)) * (rng.random((2, 1, n_steps)) < 0.3)
    pend = np.zeros((2, 1, ring))
    x = np.zeros((2, 1))
    got = []
    for m0, m1 in ((0, 5), (5, 6), (6, 23), (23, 40)):
        for m in range(m0, m1):
            pend[:, :, m % ring] += deliveries[:, :, m]
        running_average(pend, x, m0, m1, ring, math.exp(-dt / tau), 1.0 / tau)
        got.append((m1 - 1, x.copy()))
    assert not pend.any()
    for m, xm in got:
        want = (deliveries[:, :, : m + 1] * np.exp(-(m - np.arange(m + 1)) * dt / tau)).sum(2)
        np.testing.assert_allclose(xm, want / tau, rtol=1e-12, atol=1e-15)


def _fed(sur_dir, rate_tau="5 ms", delay="1.5 ms", recurrent=False):
    d = {
        "name": "fed",
        "populations": {"P": {"size": 3, "model": CELL},
                        "S": {"size": 4, "surrogate": str(sur_dir), "rate_tau": rate_tau,
                              "map": {"r": {"from": ["PS"], "n": 10, "weight": "0.004 uS"}}}},
        "projections": {"PS": {"pre": "P", "post": "S", "connect": "all_to_all",
                               "weight": "w", "delay": delay}},
        "inputs": {"drive": {"target": "P", "rate": "rate", "n": 20, "weight": "0.01 uS",
                             "synapse": SYN}},
        "parameters": {"rate": {"default": "30 Hz", "low": 0, "high": 50},
                       "w": {"default": "0.002 uS", "low": 0, "high": 0.01}},
        "settings": {"duration": "120 ms", "dt": "0.025 ms"},
    }  # fmt: skip
    if recurrent:
        d["projections"]["SP"] = {"pre": "S", "post": "P", "connect": {"p": 0.5},
                                  "weight": "0.004 uS", "delay": "2 ms",
                                  "synapse": {**SYN, "at": "soma(0.5)"}}  # fmt: skip
    return build_cell_network(d)


def test_projected_rates_against_the_closed_form(sur_dir):
    """The parameter a projection gives a surrogate cell at the start of each window (the
    shortest delay) is 1000 / (n_ref w_ref) x (1/tau) sum over the delivered events up to that
    step of w exp(-(t_a - t_m)/tau): the presynaptic spikes, detected at the time point after
    their crossing, delivered delay later (NEURON's rule), with the weight w of each row."""
    net = _fed(sur_dir)
    seen = []

    def f(x):
        seen.append(x.copy())
        return np.full(len(x), 5.0)

    w = np.array([0.002, 0.004])
    res = run_cell_network(net, {"rate": np.array([30.0, 40.0]), "w": w}, rate_fns={"S": f})
    dt, tau, kd = 0.025, 5.0, delay_steps(1.5, 0.025)
    assert len(seen) == math.ceil(4800 / kd)
    n_spikes = 0
    for p in range(2):
        t = np.concatenate(res.spikes["P"][p])
        n_spikes += len(t)
        m = np.ceil(t / dt - 1e-9).astype(int) + kd  # delivery steps
        for call, a in enumerate(range(0, 4800, kd)):
            mm = m[m <= a]
            want = 1000.0 / (10 * 0.004) * w[p] / tau * np.exp(-(a - mm) * dt / tau).sum()
            got = seen[call][p * 4 : (p + 1) * 4, 0]
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert n_spikes > 10  # the presynaptic cells fire


def test_rows_do_not_depend_on_batch_or_threads(sur_dir):
    """A recurrent hybrid (P -> S -> P) with a known rate function: each row's spikes, of
    the surrogate's Poisson cells and of the cells, are the same bitwise run alone (as its
    global row), in a batch, and on one or two threads."""
    net = _fed(sur_dir, recurrent=True)

    def f(x):
        return 2.0 * x[:, 0] + 1.0

    params = {"rate": np.array([20.0, 35.0, 45.0]), "w": np.array([0.002, 0.006, 0.004])}
    full = run_cell_network(net, params, rate_fns={"S": f}, seed=5, workers=2)
    one = run_cell_network(net, params, rate_fns={"S": f}, seed=5, workers=1)
    assert sum(len(t) for t in full.spikes["S"][1]) > 5
    for pop in ("P", "S"):
        for p in range(3):
            alone = run_cell_network(net, {k: v[p : p + 1] for k, v in params.items()},
                                     rate_fns={"S": f}, seed=5, rows=np.array([p]))  # fmt: skip
            for a, b, c in zip(full.spikes[pop][p], one.spikes[pop][p], alone.spikes[pop][0],
                               strict=True):  # fmt: skip
                assert np.array_equal(a, b) and np.array_equal(a, c), (pop, p)


def test_a_recurrent_surrogate_settles_at_the_fixed_point(sur_dir):
    """A surrogate population feeding itself (all-to-all, N = 100) with f = c + g r_in, r_in
    its own mean rate (map: n = N, weight = the projection's): the stationary rate is the
    fixed point r* = c / (1 - g) (20 Hz for c = 10 Hz, g = 0.5), reached with the time
    constant rate_tau / (1 - g) = 20 ms. Over the last 600 ms of 1 s, within 4 SD of the
    Poisson count, amplified by the loop's gain 1 / (1 - g) (as the fluctuations of a linear
    loop are)."""
    n, c, g = 100, 10.0, 0.5
    net = build_cell_network({
        "name": "loop",
        "populations": {"S": {"size": n, "surrogate": str(sur_dir), "rate_tau": "10 ms",
                              "map": {"r": {"from": "SS", "n": n, "weight": "0.001 uS"}}}},
        "projections": {"SS": {"pre": "S", "post": "S", "connect": {"p": 1, "autapses": True},
                               "weight": "0.001 uS", "delay": "1 ms"}},
        "settings": {"duration": "1000 ms", "dt": "0.025 ms"},
    })  # fmt: skip
    res = run_cell_network(net, np.zeros((4, 0)), rate_fns={"S": lambda x: c + g * x[:, 0]},
                           seed=11)  # fmt: skip
    counts = np.array([sum(np.count_nonzero(t >= 400.0) for t in res.spikes["S"][p])
                       for p in range(4)])  # fmt: skip
    want = c / (1 - g) * n * 0.6 * 4
    assert abs(counts.sum() - want) < 4 * math.sqrt(want) / (1 - g), (counts, want)
    # the first 20 ms are near c, well below the fixed point: the loop builds up
    early = sum(np.count_nonzero(t < 20.0) for p in range(4) for t in res.spikes["S"][p])
    assert early < 0.8 * c / (1 - g) * n * 0.02 * 4, early


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["populations"]["S"].update(model=CELL), "model and surrogate both"),
        (lambda d: d["populations"]["S"].update(surrogate="nowhere"), "no saved surrogate"),
        (lambda d: d["populations"]["S"].pop("rate_tau"), "no rate_tau"),
        (lambda d: d["populations"]["S"].update(rate_tau="-1 ms"), "rate_tau=-1 ms"),
        (lambda d: d["populations"]["S"]["map"]["r"].update(**{"from": ["XX"]}), "from 'XX'"),
        (lambda d: d["populations"]["S"]["map"]["r"].update(n=0), "n 0"),
        (lambda d: d["populations"]["P"].update(map={}), "allowed only with surrogate"),
        (lambda d: d["parameters"].update({"S.soma.hh.gnabar": {"low": 0, "high": 1}}),
         "is a surrogate"),
    ],
)
def test_refusals_are_one_line(sur_dir, change, message):
    d = {
        "name": "bad",
        "populations": {"P": {"size": 2, "model": CELL},
                        "S": {"size": 2, "surrogate": str(sur_dir), "rate_tau": "5 ms",
                              "map": {"r": {"from": ["PS"], "n": 10, "weight": 0.004}}}},
        "projections": {"PS": {"pre": "P", "post": "S", "connect": "all_to_all",
                               "weight": 0.002, "delay": 1}},
        "parameters": {},
        "settings": {"duration": 10, "dt": 0.025},
    }  # fmt: skip
    change(d)
    with pytest.raises(CellNetworkError, match=message) as e:
        build_cell_network(d)
    assert "\n" not in str(e.value)


def test_a_surrogate_population_needs_its_rate_function(sur_dir):
    net = _fed(sur_dir)
    with pytest.raises(CellNetworkError, match="population S is a surrogate: give its rate"):
        run_cell_network(net)
    with pytest.raises(CellNetworkError, match="'P' is not a surrogate population"):
        run_cell_network(net, rate_fns={"S": np.sqrt, "P": np.sqrt})
    with pytest.raises(CellNetworkError, match="gave shape"):
        run_cell_network(net, rate_fns={"S": lambda x: np.zeros(1)})
    unbound = build_cell_network({
        "name": "unbound",
        "populations": {"S": {"size": 2, "surrogate": str(sur_dir),
                              "map": {"r": {"from": "a", "n": 1, "weight": 0.001}}}},
        "inputs": {"a": {"target": "S", "rate": 1, "weight": 0.001},
                   "b": {"target": "S", "rate": 1, "weight": 0.001}},
        "settings": {"duration": 10, "dt": 0.025}})  # fmt: skip
    with pytest.raises(CellNetworkError, match="b feeds it but no parameter"):
        run_cell_network(unbound, rate_fns={"S": np.sqrt})
    with pytest.raises(CellNetworkError, match="which has no membrane potential"):
        run_cell_network(net, rate_fns={"S": np.sqrt}, record={"S": [("soma", 0.5)]})


def test_neuron_refuses_a_hybrid_network_in_one_line(sur_dir):
    """The NEURON reference runs cells only: a surrogate population is named, not skipped."""
    from neuroscape.reference.neuron_network import neuron_cell_network

    with pytest.raises(ValueError, match=r"^population S is a surrogate .*cells only$"):
        neuron_cell_network(_alone(sur_dir), None, None, [])
