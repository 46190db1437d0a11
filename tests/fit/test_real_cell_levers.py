"""What fitting AdEx to real cells leans on: adex's absolute refractory period t_ref (a dead time
that bounds the rate, so the f-I curve saturates), against the closed form of its leaky
integrate-and-fire limit; a spike-count scale relative to the count (the max(1, 15%) criterion),
on a hand-computed case; CMA-ES restarts with a growing population (IPOP)."""

from __future__ import annotations

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.fit import run_method
from neuroscape.fit.problem import FitError
from neuroscape.fit.protocols import SweepFitProblem, feature_sd
from neuroscape.fit.recordings import Sweep, SweepSet

# AdEx with the exponential switched off: V_cut 10 Delta_T below V_T leaves g_L Delta_T
# exp(-10) = 7e-4 pA at the cut; with a = b = 0 it is a leaky integrate-and-fire neuron
LIF_LIMIT = {"C": 281.0, "g_L": 30.0, "E_L": -70.6, "V_r": -70.6, "V_T": -40.0,
             "Delta_T": 0.5, "V_cut": -45.0, "a": 0.0, "b": 0.0}  # fmt: skip


def lif_isi_ms(i_pA: float, t_ref_ms: float, p=LIF_LIMIT) -> float:
    """The closed form: t_ref + tau ln((V_r - V_inf) / (V_cut - V_inf)), tau = C / g_L,
    V_inf = E_L + I / g_L."""
    tau, v_inf = p["C"] / p["g_L"], p["E_L"] + i_pA / p["g_L"]
    return t_ref_ms + tau * np.log((p["V_r"] - v_inf) / (p["V_cut"] - v_inf))


def test_adex_t_ref_default_is_the_2005_model_and_declared():
    t_ref = ns.models.resolve("adex").spec.parameter("t_ref")
    assert (t_ref.default, t_ref.low, t_ref.unit) == (0.0, 0.0, "ms") and t_ref.high >= 10.0


@pytest.mark.parametrize("t_ref", [0.0, 2.0, 10.0])
def test_adex_refractory_isi_is_the_closed_form(t_ref):
    amps = np.array([1000.0, 3000.0, 20000.0])  # pA; the last: ISI0 = 0.37 ms, all dead time
    stim = ns.make_stimulus("step", amp=amps, t_on=0.0)
    r = ns.simulate_neurons("adex", {**LIF_LIMIT, "t_ref": t_ref}, stim, duration_ms=300.0)
    assert r.ok.all()
    for k, a in enumerate(amps):
        isi = np.diff(r.spike_times[k])
        assert len(isi) >= 10
        np.testing.assert_allclose(isi, lif_isi_ms(a, t_ref), atol=0.02)


def test_adex_refractory_f_i_curve_saturates_at_one_over_t_ref():
    """With adaptation the rate still cannot pass 1 / t_ref: the f-I curve bends over to it
    (1 / (t_ref + ISI) with the ISI shrinking), where without a dead time it keeps rising."""
    amps = np.array([2e3, 5e3, 2e4, 5e4])  # pA
    p = {**LIF_LIMIT, "a": 2.0, "b": 50.0, "tau_w": 100.0}
    stim = ns.make_stimulus("step", amp=amps, t_on=0.0)
    with_ref = ns.simulate_neurons("adex", {**p, "t_ref": 5.0}, stim, duration_ms=1000.0)
    without = ns.simulate_neurons("adex", p, stim, duration_ms=1000.0)
    n_ref = np.array([len(s) for s in with_ref.spike_times])
    n_0 = np.array([len(s) for s in without.spike_times])
    assert (np.diff(n_ref) >= 0).all() and (n_ref <= 1000.0 / 5.0 + 1).all()
    assert n_ref[-1] > 0.9 * 1000.0 / 5.0  # close to the bound at 50 nA
    assert n_0[-1] > 2 * 1000.0 / 5.0  # no dead time: far past it


# ------------------------------------------------------------ a spike-count scale relative to n
LIF_BOX = {"V_rest": (-80.0, -55.0), "tau": (5.0, 40.0)}
LIF_TRUTH = {"V_rest": -68.0, "V_th": -52.0, "tau": 15.0, "R": 12.0, "V_reset": -70.0,
             "t_ref": 2.0}  # fmt: skip


def lif_sweep(amp_nA: float, drop_last: int) -> tuple[SweepSet, int]:
    """A closed-form LIF sweep (step 100-500 ms, peaks marked at 20 mV) with its last
    ``drop_last`` spikes left unmarked, and the closed form's own spike count."""
    p = LIF_TRUTH
    dt, t_on, t_off = 0.1, 100.0, 500.0
    t = np.arange(6000) * dt
    v_inf = p["V_rest"] + p["R"] * amp_nA
    first = t_on + p["tau"] * np.log((p["V_rest"] - v_inf) / (p["V_th"] - v_inf))
    isi = p["t_ref"] + p["tau"] * np.log((p["V_reset"] - v_inf) / (p["V_th"] - v_inf))
    spikes = first + isi * np.arange(int((t_off - first) // isi) + 1)
    spikes = spikes[spikes < t_off]
    v = np.full_like(t, p["V_rest"])  # the subthreshold trace does not enter this objective
    for ts in spikes[: len(spikes) - drop_last]:
        v[int(np.ceil(ts / dt - 1e-9))] = 20.0
    i = np.where((t >= t_on) & (t < t_off), amp_nA, 0.0)
    return SweepSet((Sweep(0, t, v, i),), "closed-form LIF", dt), len(spikes)


def test_relative_spike_count_scale_on_a_hand_computed_case():
    assert feature_sd("spike_count", 40.0, {"spike_count": (1.0, 0.15)}) == 6.0
    assert feature_sd("spike_count", 3.0, {"spike_count": (1.0, 0.15)}) == 1.0
    assert feature_sd("spike_count", 40.0, {"spike_count": 2.0}) == 2.0
    assert feature_sd("spike_count", 40.0) == 1.0  # FEATURE_SD: 1 spike
    # 4 nA: V_inf = -20 mV, ISI 2 + 15 ln(50/32) = 8.69 ms, first spike 6.08 ms after onset:
    # 46 spikes in the 400-ms step; the recording keeps 40 of them
    sweeps, n = lif_sweep(4.0, drop_last=6)
    assert n == 46
    x = np.array([[LIF_TRUTH[k] for k in LIF_BOX]])
    fixed = {k: v for k, v in LIF_TRUTH.items() if k not in LIF_BOX}
    for tol, want in (({}, 6.0), ({"spike_count": (1.0, 0.15)}, 6.0 / 6.0),
                      ({"spike_count": [2, 0.05]}, 6.0 / 2.0)):  # fmt: skip
        p = SweepFitProblem("lif", sweeps, dict(LIF_BOX), fixed=fixed, objectives=["spike_count"],
                            tolerances=tol, budget=16)  # fmt: skip
        assert p.evaluate(x)[0, 0] == pytest.approx(want, abs=1e-9)
    assert p.describe()["tolerances"] == {"spike_count": [2.0, 0.05]}


@pytest.mark.parametrize("bad", [0.0, -1.0, (1.0,), (0.0, 0.1), (1.0, -0.1), (1.0, np.inf),
                                 "1", True, (True, 0.1)])  # fmt: skip
def test_bad_tolerance_refused(bad):
    sweeps, _ = lif_sweep(4.0, 0)
    with pytest.raises(FitError, match=r"tolerance spike_count=.*allowed: an absolute sd > 0"):
        SweepFitProblem("lif", sweeps, dict(LIF_BOX), objectives=["spike_count"],
                        tolerances={"spike_count": bad}, budget=16)  # fmt: skip


# ------------------------------------------------------------------------- CMA-ES with IPOP
def test_ipop_restarts_grow_the_population(monkeypatch):
    """first_share 0.25: the first run stops at a quarter of the budget; the restarts'
    populations double (16, 32, 64, ...) while four generations of them fit the rest (a
    step size below cma's tolx ends each run after a generation or two)."""
    import neuroscape.fit.methods.cmaes as cm

    sweeps, _ = lif_sweep(2.0, 0)
    fixed = {k: v for k, v in LIF_TRUTH.items() if k not in LIF_BOX}
    seen = []
    real = cm.search

    def spy(problem, u0, seed, budget, sigma0=0.25, popsize=None):
        n0 = problem.n_sims
        out = real(problem, u0, seed, budget, sigma0, popsize)
        seen.append((popsize, problem.n_sims - n0))
        return out

    monkeypatch.setattr(cm, "search", spy)
    p = SweepFitProblem("lif", sweeps, dict(LIF_BOX), fixed=fixed, objectives=["spike_count"],
                        budget=400)  # fmt: skip
    run_method(p, "cmaes", popsize_growth=2.0, first_share=0.25, sigma0=1e-8)
    pops = [s[0] for s in seen]
    assert pops == [16, 32, 64] and seen[0][1] <= 100, seen
    assert p.n_sims <= 400 and p.remaining < 4 * 128
    for opts in ({"popsize_growth": 0.5}, {"first_share": 0.0}, {"first_share": 1.5}):
        with pytest.raises(FitError, match=next(iter(opts))):
            run_method(p, "cmaes", **opts)


def test_best_of_k_runs_share_the_budget_from_the_start(monkeypatch):
    """runs=3: three CMA-ES runs of a third of the budget each, every one from the given start
    with its own seed; the result is the best candidate of all of them."""
    import neuroscape.fit.methods.cmaes as cm

    sweeps, _ = lif_sweep(2.0, 0)
    fixed = {k: v for k, v in LIF_TRUTH.items() if k not in LIF_BOX}
    seen = []
    real = cm.search

    def spy(problem, u0, seed, budget, sigma0=0.25, popsize=None):
        n0 = problem.n_sims
        out = real(problem, u0, seed, budget, sigma0, popsize)
        seen.append((tuple(np.round(u0, 12)), seed, budget, problem.n_sims - n0, out[1]))
        return out

    monkeypatch.setattr(cm, "search", spy)
    p = SweepFitProblem("lif", sweeps, dict(LIF_BOX), fixed=fixed, objectives=["spike_count"],
                        budget=400)  # fmt: skip
    start = {"V_rest": -75.0, "tau": 30.0}
    res = run_method(p, "cmaes", start=start, runs=3, seed=5)
    u0 = tuple(np.round(p.to_unit(p.check_start(start)), 12))
    assert [s[0] for s in seen] == [u0] * 3
    assert [s[1] for s in seen] == [5, 1005, 2005] and [s[2] for s in seen] == [133] * 3
    assert all(s[3] <= 133 for s in seen) and p.n_sims <= 400
    assert res.best_error == pytest.approx(min(s[4] for s in seen))
    for opts in ({"runs": 0}, {"runs": 1.5}, {"runs": True}, {"runs": 2, "first_share": 0.5},
                 {"runs": 30}):  # fmt: skip
        with pytest.raises(FitError, match="runs"):
            run_method(p, "cmaes", **opts)
