"""The torch back end of the single-neuron engine (``neuroscape.sim.neuron_torch``) against the
numba kernels: the same models, parameters and stimuli (noise included) give the same spike
counts, the same failures, and spike times within 1e-9 ms. The torch code runs on the CPU here
("torch-cpu", float64); the same comparisons run on a CUDA device where one is present.

Tolerance: both back ends do the same float64 operations in the same order; only the last bit
of torch's exp/log/cos/expm1 may differ from libm's (numba), so spike times are compared to
1e-9 ms rather than bitwise (on the CPU they agree bitwise for every case below today)."""

import dataclasses

import numpy as np
import pytest

from neuroscape.core.integrators import IntegratorError
from neuroscape.core.rng import row_keys
from neuroscape.core.settings import Recording, SettingsError, SimSettings
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import resolve
from neuroscape.sim.neuron_engine import NeuronBatch, simulate_neurons

torch = pytest.importorskip("torch")

DEV = "torch-cpu"
TOL_MS = 1e-9


def assert_same(a, b, tol=TOL_MS):
    """Same failures (and reasons), labels, counts; spike times within ``tol`` ms."""
    np.testing.assert_array_equal(b.ok, a.ok)
    assert b.errors == a.errors
    assert b.labels == a.labels
    np.testing.assert_array_equal(b.total_counts, a.total_counts)
    np.testing.assert_array_equal(b.counts, a.counts)
    np.testing.assert_array_equal(np.isnan(b.rates), np.isnan(a.rates))
    np.testing.assert_allclose(b.rates[a.ok], a.rates[a.ok], rtol=0, atol=0)
    assert len(b.spike_times) == len(a.spike_times)
    for r, (x, y) in enumerate(zip(a.spike_times, b.spike_times, strict=True)):
        assert len(y) == len(x), f"row {r}: {len(y)} spikes against {len(x)}"
        np.testing.assert_allclose(y, x, rtol=0, atol=tol, err_msg=f"row {r}")
    assert (b.integrator, b.dt_ms, b.duration_ms, b.window_ms) == (
        a.integrator, a.dt_ms, a.duration_ms, a.window_ms,
    )  # fmt: skip


def both(name, params, stim, device=DEV, **kw):
    m = resolve(name)
    return simulate_neurons(m, params, stim, **kw), simulate_neurons(
        m, params, stim, device=device, **kw
    )


# (model, parameter rows, stimulus, settings): several currents and parameter rows each, with
# spikes in most rows; durations short enough for the torch loop on a CPU
CASES = {
    "adex": (
        "adex",
        [{}, {"a": 10.0, "b": 40.0}, {"a": 0.0, "b": 60.0}, {"tau_w": 50.0}],
        make_stimulus("step", amp=[300.0, 500.0, 800.0, 1000.0], t_on=5.0),
        {"duration_ms": 150.0},
    ),
    "eif": (
        "eif", [{}, {"Delta_T": 1.0}, {"V_r": -55.0}],
        make_stimulus("step", amp=[150.0, 250.0, 400.0]), {"duration_ms": 200.0},
    ),
    "qif": (
        "qif", {}, make_stimulus("ramp", amp0=0.0, amp1=400.0, t_on=10.0, t_off=190.0),
        {"duration_ms": 200.0},
    ),
    "izhikevich2007": (
        "izhikevich2007", [{}, {}, {"d": 50.0}],
        make_stimulus("step", amp=[100.0, 300.0, 300.0]), {"duration_ms": 200.0},
    ),
    "wang_buzsaki": (
        "wang_buzsaki", [{}, {"g_Na": 50.0}],
        make_stimulus("step", amp=[3.0, 8.0]),
        {"duration_ms": 25.0, "dt_ms": 0.025, "integrator": "rk4"},
    ),
    "hindmarsh_rose": (
        "hindmarsh_rose", [{}, {"r": 0.02}],
        make_stimulus("step", amp=[3.0, 3.5]), {"duration_ms": 60.0, "dt_ms": 0.02},
    ),
    # the built-in models as equation files: the LIF (off-grid refractory release, noise),
    # the Izhikevich model, the conductance IF with its reset on the step grid
    "lif_noisy": (
        "lif", [{"t_ref": 2.0}, {"t_ref": 0.05}, {"t_ref": 0.13}, {"t_ref": 5.0}],
        make_stimulus("noisy", mean=[2.5, 3.0, 3.5, 4.0], sigma=0.5, t_on=3.0),
        {"duration_ms": 200.0, "integrator": "exponential_euler"},
    ),
    "izhikevich": (
        "izhikevich", [{}, {"c": -50.0, "d": 2.0}],
        make_stimulus("step", amp=[10.0, 10.0]), {"duration_ms": 200.0, "integrator": "rk4"},
    ),
    "cond_if_grid": (
        "cond_if", [{"t_ref": 2.5}, {"t_ref": 0.0}, {"g_I": 0.1, "t_ref": 1.0}],
        make_stimulus("ramp", amp0=0.0, amp1=0.3, t_on=10.0, t_off=150.0),
        {"duration_ms": 150.0, "integrator": "exponential_euler"},
    ),
    "adex_poisson": (
        "adex", [{}, {"a": 10.0}],
        make_stimulus("poisson", rate_hz=[2000.0, 4000.0], weight=80.0, tau_syn=5.0),
        {"duration_ms": 200.0},
    ),
    "adex_poisson_conductance": (
        "adex", [{}, {"a": 10.0}],
        make_stimulus("poisson_conductance", rate_hz=[3000.0], weight=1.0, tau_syn=5.0, E_rev=0.0),
        {"duration_ms": 200.0},
    ),
    "eif_noisy_euler": (
        "eif", [{}, {}], make_stimulus("noisy", mean=[200.0, 300.0], sigma=[100.0, 30.0]),
        {"duration_ms": 200.0, "integrator": "euler"},
    ),
    "adex_midpoint": (
        "adex", {}, make_stimulus("step", amp=[600.0, 900.0]),
        {"duration_ms": 200.0, "integrator": "rk2"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_torch_matches_numba(case):
    name, params, stim, kw = CASES[case]
    a, b = both(name, params, stim, **kw)
    assert a.total_counts.sum() > 0  # the case exercises spikes
    assert_same(a, b)


def test_failures_are_flagged_alike():
    # runaway firing (izhikevich with d < 0: firing accelerates until dt sets the rate), and a
    # state that becomes non-finite (Hindmarsh-Rose with tau 0.1 ms under Euler at dt 0.5 ms)
    a, b = both(
        "izhikevich", [{"d": -5.0}, {}], make_stimulus("step", amp=[10.0, 10.0]),
        duration_ms=200.0, integrator="rk4", allow_outside=True,
    )  # fmt: skip
    assert list(a.ok) == [False, True] and a.labels[0] == "runaway"
    assert_same(a, b)
    a, b = both(
        "hindmarsh_rose", [{"tau": 100.0}, {"tau": 0.1}], make_stimulus("step", amp=[2.0, 2.0]),
        duration_ms=50.0, dt_ms=0.5, integrator="euler",
    )  # fmt: skip
    assert list(a.ok) == [True, False] and "non-finite" in a.errors[1]
    assert_same(a, b)
    # the reset on the step grid: a spike every 3 steps is firing, every 2 steps runaway
    a, b = both(
        "cond_if", {"t_ref": 0.0}, make_stimulus("step", amp=[3.0, 5.0]), duration_ms=20.0,
        integrator="exponential_euler",
    )  # fmt: skip
    assert list(a.ok) == [True, False] and a.labels[1] == "runaway"
    assert_same(a, b)


def test_state_traces_match():
    a, b = both(
        "adex", {}, make_stimulus("step", amp=[700.0]), duration_ms=100.0, record_v=True,
        record_every=7,
    )  # fmt: skip
    # samples after steps 7, 14, ...: 1000 // 7 of them
    assert b.states.shape == a.states.shape and b.states.shape[2] == 1000 // 7
    np.testing.assert_allclose(b.states, a.states, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(b.t_v, a.t_v)


def test_rows_do_not_depend_on_the_batch():
    # row r's noise is the stream (seed, r): rows run alone (with their keys) or in another
    # order give the spike trains of the batch
    stim = make_stimulus("noisy", mean=[900.0, 1000.0, 1100.0, 1200.0, 1300.0], sigma=200.0)
    p = [{"a": a} for a in (0.0, 2.0, 4.0, 8.0, 12.0)]
    kw = {"duration_ms": 60.0, "seed": 7, "device": DEV}
    whole = simulate_neurons("adex", p, stim, **kw)
    assert whole.total_counts.min() > 0
    keys = row_keys(7, np.arange(5))
    for r in (4, 1):
        one = simulate_neurons(
            "adex", p[r], make_stimulus("noisy", mean=stim.values[r, 0], sigma=200.0),
            keys=keys[r : r + 1], **kw,
        )  # fmt: skip
        np.testing.assert_allclose(one.spike_times[0], whole.spike_times[r], rtol=0, atol=TOL_MS)
    perm = [3, 0, 4, 2, 1]
    shuffled = simulate_neurons(
        "adex", [p[r] for r in perm],
        make_stimulus("noisy", mean=stim.values[perm, 0], sigma=200.0), rows=perm, **kw,
    )  # fmt: skip
    for k, r in enumerate(perm):
        np.testing.assert_allclose(
            shuffled.spike_times[k], whole.spike_times[r], rtol=0, atol=TOL_MS
        )


def test_run_chunk_on_a_torch_device_matches_the_cpu():
    batch = NeuronBatch(resolve("eif"), make_stimulus("noisy", mean=250.0, sigma=60.0))
    settings = SimSettings.for_model(batch.spec, duration_ms=200.0)
    params = batch.spec.params_array([{}, {"Delta_T": 1.5}, {"g_L": 20.0}])
    keys = row_keys(3, np.arange(3))
    rec = Recording(spikes=True)
    a = batch.run_chunk(params, keys, settings, "cpu", rec)
    b = batch.run_chunk(params, keys, settings, DEV, rec)
    np.testing.assert_array_equal(b.ok, a.ok)
    np.testing.assert_allclose(b.outputs, a.outputs, rtol=1e-12, equal_nan=True)
    for (ta, _), (tb, nb) in zip(a.spikes, b.spikes, strict=True):
        np.testing.assert_allclose(tb, ta, rtol=0, atol=TOL_MS)
        assert not nb.any()


def test_refusals_are_one_line(monkeypatch):
    from neuroscape.sim import neuron_torch

    stim = make_stimulus("step", amp=[300.0])
    # a scheme the torch back end lacks (today: 'exact') is refused, naming those it has
    monkeypatch.setattr(neuron_torch, "TORCH_SCHEMES", ("euler", "midpoint"))
    with pytest.raises(IntegratorError, match=r"^integrator 'rk4' is not available on device "
                       r"'torch-cpu'; allowed: euler, midpoint$"):
        simulate_neurons("adex", {}, stim, duration_ms=10.0, integrator="rk4", device=DEV)
    monkeypatch.undo()
    with pytest.raises(SettingsError, match=r"unknown device 'gpu'; allowed: cpu, torch-cpu"):
        simulate_neurons("adex", {}, stim, duration_ms=10.0, device="gpu")
    # a model without its sympy form (a hand-written numba module) stays on the CPU
    hand = dataclasses.replace(resolve("adex"), equations=None)
    with pytest.raises(SettingsError, match="hand-written model"):
        simulate_neurons(hand, {}, stim, duration_ms=10.0, device=DEV)
    with pytest.raises(SettingsError, match="hand-written model"):
        NeuronBatch(hand, stim).run_chunk(
            hand.spec.params_array({}), row_keys(0, [0]),
            SimSettings.for_model(hand.spec, duration_ms=10.0), DEV, Recording(),
        )  # fmt: skip
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="no CUDA|0 CUDA"):
            simulate_neurons("adex", {}, stim, duration_ms=10.0, device="cuda")


# HH-type models under their gate-table schemes (gates on the staggered half steps: the default
# on a torch device; the CPU's default, dopri5, is CPU-only); hh with two temperatures: two tables
ST = "exponential_staggered_tables"
TABLE_CASES = {
    "hh": ("hh", [{}, {"celsius": 16.3}, {}], [8.0, 15.0, 30.0], ST),
    "hh_euler_tables": ("hh", {}, [10.0, 30.0], "exponential_euler_tables"),
    "wang_buzsaki": ("wang_buzsaki", [{}, {"g_K": 12.0}], [3.0, 6.0], ST),
    "connor_stevens": ("connor_stevens", {}, [10000.0, 40000.0], ST),  # nA/mm**2
}


@pytest.mark.parametrize("case", list(TABLE_CASES))
def test_gate_table_schemes_match_numba(case):
    name, params, amps, integrator = TABLE_CASES[case]
    kw = {"duration_ms": 12.0, "integrator": integrator, "record_v": True, "record_every": 50}
    stim = make_stimulus("step", amp=amps, t_on=1.0)
    a, b = both(name, params, stim, vectorize=False, **kw)  # the numba row-by-row kernel
    assert a.integrator in ("exponential_staggered_tables", "exponential_euler_tables")
    assert a.total_counts.sum() > 0
    assert_same(a, b)
    np.testing.assert_allclose(b.states, a.states, rtol=0, atol=1e-9)
    # numba's default for a step: the vectorised block kernel (the same to 1e-8 mV)
    block = simulate_neurons(name, params, stim, **kw)
    assert_same(block, b, tol=1e-6)


def test_gate_tables_taken_in_turns_give_the_same_rows(monkeypatch):
    # rows of more tables than the device holds at once run in turns, each with its own table
    from neuroscape.sim import neuron_torch

    params = [{"celsius": 6.3}, {"celsius": 16.3}, {"celsius": 6.3}, {"celsius": 20.0}]
    stim = make_stimulus("step", amp=[20.0, 20.0, 30.0, 30.0], t_on=1.0)
    # no integrator named: on a torch device the default is the staggered tables scheme
    at_once = simulate_neurons("hh", params, stim, duration_ms=8.0, device=DEV)
    assert at_once.integrator == ST
    monkeypatch.setattr(neuron_torch, "TABLE_BYTES", 1)  # one table at a time
    in_turns = simulate_neurons("hh", params, stim, duration_ms=8.0, device=DEV)
    assert at_once.total_counts.min() > 0
    assert_same(at_once, in_turns)


def test_voltage_linear_is_the_gate_code_s():
    # the torch back end derives V's coefficients (A, B) by the rule of the gate-table code
    # generator; the numba module's voltage_linear is that code's: they must agree
    from neuroscape.sim.neuron_torch import torch_functions

    rng = np.random.default_rng(1)
    for name in ("hh", "wang_buzsaki", "morris_lecar", "connor_stevens"):
        m = resolve(name)
        nb = m.functions().voltage_linear
        tf = torch_functions(m, "exponential_euler_tables").voltage_linear
        p = m.spec.params_array({})[0]
        for _ in range(5):
            y = [rng.uniform(-90.0, 40.0)] + list(rng.uniform(0.0, 1.0, len(m.states) - 1))
            cur = rng.uniform(0.0, 20.0)
            want = nb(*y, cur, *p)
            got = tf(*(torch.tensor([v], dtype=torch.float64) for v in (*y, cur, *p)))
            np.testing.assert_allclose([float(g) for g in got], want, rtol=1e-13, atol=1e-13)


def test_generated_functions_are_cached_by_content():
    from neuroscape.sim.neuron_torch import torch_functions

    m = resolve("eif")
    f1 = torch_functions(m, "rk4")
    assert torch_functions(m, "rk4") is f1
    # the same name with other equations: another module, other numbers
    from neuroscape.models.equations import equation_model

    def eif(slope):
        return equation_model(
            name="eif_cache_test",
            equations=f"dv/dt = (-(v + 65*mV) + {slope}*mV*exp((v + 50*mV)/({slope}*mV)) "
            "+ R*I)/(10*ms) : mV",
            current={"name": "I", "unit": "nA"}, threshold="v > -30*mV", reset="v = -65*mV",
            initial={"v": "-65 mV"},
            parameters={"R": {"default": "100 MOhm", "low": "1 MOhm", "high": "1000 MOhm"}},
        )  # fmt: skip

    a, b = eif(2), eif(4)
    fa, fb = torch_functions(a, "rk4"), torch_functions(b, "rk4")
    assert fa is not fb
    v = torch.tensor([-52.0], dtype=torch.float64)
    cur, r = torch.tensor([0.0], dtype=torch.float64), torch.tensor([100.0], dtype=torch.float64)
    # dv/dt at v = -52 mV, I = 0: (-(13) + s exp(-2/s))/10 mV/ms
    for f, s in ((fa, 2.0), (fb, 4.0)):
        (dv,) = f.rhs(v, cur, r)
        assert float(dv) == pytest.approx((-13.0 + s * np.exp(-2.0 / s)) / 10.0, rel=1e-14)


# --------------------------------------------------------------------------- on a CUDA device

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("case", list(CASES))
def test_cuda_matches_numba(case):
    # CUDA's exp/log/cos differ from libm's in the last bit: the same 1e-9 ms bar, which the
    # dynamics here (regular firing, no chaos) keep
    name, params, stim, kw = CASES[case]
    a, b = both(name, params, stim, device="cuda", **kw)
    assert_same(a, b)


@pytest.mark.gpu
@cuda
def test_cuda_rows_do_not_depend_on_the_batch():
    stim = make_stimulus("noisy", mean=np.linspace(200.0, 800.0, 64), sigma=80.0)
    whole = simulate_neurons("adex", {}, stim, duration_ms=200.0, seed=3, device="cuda")
    part = simulate_neurons(
        "adex", {}, make_stimulus("noisy", mean=stim.values[40:48, 0], sigma=80.0),
        duration_ms=200.0, keys=row_keys(3, np.arange(40, 48)), device="cuda",
    )  # fmt: skip
    for k in range(8):
        np.testing.assert_allclose(
            part.spike_times[k], whole.spike_times[40 + k], rtol=0, atol=TOL_MS
        )
