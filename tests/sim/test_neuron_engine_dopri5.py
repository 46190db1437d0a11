"""The dopri5 lane kernel's machinery (neuroscape.sim.neuron_engine): its vectorizable
functions against numpy, its SIMD code, its breaks (stimulus edges off the grid, ramps, record
times, noisy stimuli redrawn on the dt grid), rows independent of their lane company, threads
and buffers, failures and refusals. Accuracy over 1 s: tests/models/test_hh_dopri5.py.

Truths: numpy's functions, and a fourth-order Runge-Kutta integration of Hodgkin and Huxley's
equations written out here (rates as in NEURON's hh.mod) at a step 100 times below the
scheme's typical one, whose convergence is checked (step halved: spike times within 1e-7 ms).
"""

import math
import platform
import re

import numpy as np
import pytest
from numba import njit

from neuroscape.core.integrators import IntegratorError
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import resolve
from neuroscape.models.equations import equation_model
from neuroscape.sim import neuron_engine as ne
from neuroscape.sim.neuron_engine import simulate_neurons

F32 = np.float32


# --- the vectorizable functions --------------------------------------------------------------


@njit(fastmath={"nsz", "arcp", "contract", "afn"}, error_model="numpy")
def _apply(which, x, out):
    for i in range(x.shape[0]):
        if which == 0:
            out[i] = ne._vexp(x[i])
        elif which == 1:
            out[i] = ne._vlog(x[i])
        elif which == 2:
            out[i] = ne._vexprel(x[i], ne._vexp(x[i]))
        else:
            out[i] = ne._vexprel_inv(x[i], ne._vexp(x[i]))


@njit(fastmath={"nsz", "arcp", "contract", "afn"}, error_model="numpy")
def _apply32(which, x, out):
    for i in range(x.shape[0]):
        if which == 0:
            out[i] = ne._vexp32(x[i])
        elif which == 1:
            out[i] = ne._vlog32(x[i])
        elif which == 2:
            out[i] = ne._vexprel32(x[i], ne._vexp32(x[i]))
        else:
            out[i] = ne._vexprel_inv32(x[i], ne._vexp32(x[i]))


def _exprel(x):
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, np.expm1(safe) / safe)


def _run(fn, which, x):
    out = np.empty_like(x)
    fn(which, x, out)
    return out


def test_exp_and_log_against_numpy():
    x = np.linspace(-700.0, 700.0, 200_001)
    np.testing.assert_allclose(_run(_apply, 0, x), np.exp(x), rtol=1e-13)
    y = np.exp(np.linspace(-700.0, 700.0, 200_001))
    np.testing.assert_allclose(_run(_apply, 1, y), np.log(y), rtol=0, atol=2e-16 * 700 + 1e-16)
    x32 = np.linspace(-87.0, 88.0, 200_001).astype(F32)
    np.testing.assert_allclose(_run(_apply32, 0, x32), np.exp(x32.astype(float)), rtol=4e-7)
    y32 = np.exp(np.linspace(-80.0, 80.0, 200_001)).astype(F32)
    np.testing.assert_allclose(_run(_apply32, 1, y32), np.log(y32.astype(float)), rtol=0,
                               atol=1e-7 * 80 + 1e-7)  # fmt: skip
    # beyond the type's range: exp is inf or 0, as numpy's; log of 0 and below: -inf, nan
    big = np.array([710.0, 1e5, -710.0, -1e5, np.inf, -np.inf])
    np.testing.assert_array_equal(_run(_apply, 0, big), [np.inf, np.inf, 0, 0, np.inf, 0])
    big32 = np.array([89.0, 1e5, -88.0, -1e5], dtype=F32)
    np.testing.assert_array_equal(_run(_apply32, 0, big32), [np.inf, np.inf, 0, 0])
    low = _run(_apply, 1, np.array([0.0, -1.0]))
    assert low[0] == -np.inf and np.isnan(low[1])


def test_exprel_and_its_inverse_against_numpy_also_at_zero():
    x = np.concatenate([np.linspace(-30.0, 30.0, 120_001), [0.0, 1e-12, -1e-9, 5e-3, -0.0099]])
    ref = _exprel(x)
    np.testing.assert_allclose(_run(_apply, 2, x), ref, rtol=1e-13)
    np.testing.assert_allclose(_run(_apply, 3, x), 1.0 / ref, rtol=1e-13)
    x32 = x.astype(F32)
    ref32 = _exprel(x32.astype(float))
    np.testing.assert_allclose(_run(_apply32, 2, x32), ref32, rtol=2e-6)
    np.testing.assert_allclose(_run(_apply32, 3, x32), 1.0 / ref32, rtol=2e-6)


# --- a truth written out here ------------------------------------------------------------------


@njit(cache=True)
def _hh_f(v, m, h, n, cur, g_na, g_k, phi):
    am = phi * 0.1 * (v + 40.0) / (1.0 - math.exp(-(v + 40.0) / 10.0))
    bm = phi * 4.0 * math.exp(-(v + 65.0) / 18.0)
    ah = phi * 0.07 * math.exp(-(v + 65.0) / 20.0)
    bh = phi / (math.exp(-(v + 35.0) / 10.0) + 1.0)
    an = phi * 0.01 * (v + 55.0) / (1.0 - math.exp(-(v + 55.0) / 10.0))
    bn = phi * 0.125 * math.exp(-(v + 65.0) / 80.0)
    dv = cur - g_na * m**3 * h * (v - 50.0) - g_k * n**4 * (v + 77.0) - 0.3 * (v + 54.3)
    return dv, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n


@njit(cache=True)
def hh_truth(g_na, g_k, celsius, amp0, amp1, t_on, t_off, ramp, t_end, dt, record_dt):
    """RK4 at ``dt`` from rest (C = 1 uF/cm^2), the current amp0 (step) or amp0 -> amp1 (ramp)
    from t_on to t_off at the stages' times (the step's own value for a step, which must lie on
    the dt grid); spike times (upward crossings of 0 mV) by cubic Hermite interpolation; states
    every record_dt (a multiple of dt; 0: none)."""
    phi = 3.0 ** ((celsius - 6.3) / 10.0)
    v = -65.0
    a = 2.5 / (math.exp(2.5) - 1.0)  # the rates' steady states at -65 mV
    m = a / (a + 4.0)
    h = 0.07 / (0.07 + 1.0 / (math.exp(3.0) + 1.0))
    a = 0.1 / (math.exp(1.0) - 1.0)
    n = a / (a + 0.125)
    n_steps = int(round(t_end / dt))
    every = int(round(record_dt / dt)) if record_dt > 0 else 0
    rec = np.zeros((n_steps // every if every else 0, 4))
    spikes = np.zeros(5000)
    k = 0
    for s in range(n_steps):
        t = s * dt
        cs = np.zeros(3)
        for j, c in enumerate((0.0, 0.5, 1.0)):
            tc = t + c * dt
            if ramp:
                inside = tc >= t_on and tc < t_off
                cs[j] = amp0 + (amp1 - amp0) * (tc - t_on) / (t_off - t_on) if inside else 0.0
            else:  # the step's value over the whole step
                tm = t + 0.5 * dt
                cs[j] = amp0 if (tm >= t_on and tm < t_off) else 0.0
        k1 = _hh_f(v, m, h, n, cs[0], g_na, g_k, phi)
        k2 = _hh_f(v + 0.5 * dt * k1[0], m + 0.5 * dt * k1[1], h + 0.5 * dt * k1[2],
                   n + 0.5 * dt * k1[3], cs[1], g_na, g_k, phi)  # fmt: skip
        k3 = _hh_f(v + 0.5 * dt * k2[0], m + 0.5 * dt * k2[1], h + 0.5 * dt * k2[2],
                   n + 0.5 * dt * k2[3], cs[1], g_na, g_k, phi)  # fmt: skip
        k4 = _hh_f(v + dt * k3[0], m + dt * k3[1], h + dt * k3[2], n + dt * k3[3], cs[2],
                   g_na, g_k, phi)  # fmt: skip
        v1 = v + dt / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0])
        m += dt / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1])
        h += dt / 6.0 * (k1[2] + 2.0 * k2[2] + 2.0 * k3[2] + k4[2])
        n += dt / 6.0 * (k1[3] + 2.0 * k2[3] + 2.0 * k3[3] + k4[3])
        if v < 0.0 <= v1:
            d1 = _hh_f(v1, m, h, n, cs[2], g_na, g_k, phi)[0]
            lo, hi = 0.0, 1.0
            for _ in range(60):
                th = 0.5 * (lo + hi)
                hv = ((2 * th**3 - 3 * th**2 + 1) * v + (th**3 - 2 * th**2 + th) * dt * k1[0]
                      + (-2 * th**3 + 3 * th**2) * v1 + (th**3 - th**2) * dt * d1)  # fmt: skip
                if hv >= 0.0:
                    hi = th
                else:
                    lo = th
            spikes[k] = t + 0.5 * (lo + hi) * dt
            k += 1
        v = v1
        if every and (s + 1) % every == 0:
            rec[(s + 1) // every - 1] = (v, m, h, n)
    return spikes[:k], rec


TRUTH_DT = 0.0005  # ms


def _params(g_na=120.0, g_k=36.0, celsius=6.3):
    return {"g_Na": g_na, "g_K": g_k, "celsius": celsius}


def _err(got, truth):
    assert len(got) == len(truth), (len(got), len(truth))
    return float(np.abs(got - truth).max()) if len(got) else 0.0


def test_the_truth_has_converged():
    a, _ = hh_truth(120.0, 36.0, 6.3, 10.0, 0.0, 5.0, 1e9, False, 100.0, TRUTH_DT, 0.0)
    b, _ = hh_truth(120.0, 36.0, 6.3, 10.0, 0.0, 5.0, 1e9, False, 100.0, TRUTH_DT / 2, 0.0)
    assert len(a) == len(b) > 5
    assert np.abs(a - b).max() < 1e-7


# --- the kernel ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_lane_kernel_is_simd_code():
    # the loops over the lanes are vectorized: packed float32 arithmetic (...ps on ymm or zmm
    # registers, 8 or 16 lanes) in the machine code
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("checks x86 vector registers")
    m = resolve("hh")
    # compiled here (a kernel loaded from numba's cache keeps no machine code to read)
    src = ne.generate_lane_source(m, f32=True).replace("cache=True", "cache=False")
    space: dict = {}
    exec(compile(src, "<dopri5 kernel>", "exec"), space)  # noqa: S102 - generated above
    run = space["run"]
    p = m.spec.params_array({})
    run(p, m.initial_state(p), 0, np.array([[10.0, 0.0, 1e9, 0.0]]), np.zeros(1, np.uint64),
        1.0, 0.01, 0.0, 0.0, np.zeros(1, np.int64), np.zeros((1, 4)), np.zeros(1, np.int64),
        np.zeros((1, 4, 0)), 0, np.zeros(1, bool), np.full(4, 1e-6), 1e-6, 0.3, 0.01, 0, 1)
    asm = "\n".join(run.inspect_asm().values())
    packed = re.findall(r"\bv(?:fmadd|fmsub|fnmadd|mul|add|sub|div)\w*ps\b[^\n]*%[yz]mm", asm)
    assert len(packed) > 200


def test_step_edges_off_the_grid_and_the_default_are_dopri5():
    # a step from 5.013 to 180.0007 ms (off the 0.01 ms grid): the lanes land on the edges
    r = simulate_neurons("hh", [_params(), _params(110.0, 40.0)],
                         make_stimulus("step", amp=[12.0, 16.0], t_on=5.0135, t_off=180.0005),
                         duration_ms=200.0)  # fmt: skip
    assert r.integrator == "dopri5" and r.dt_ms == 0.01 and r.ok.all()
    for k, (g_na, g_k, amp) in enumerate([(120.0, 36.0, 12.0), (110.0, 40.0, 16.0)]):
        truth, _ = hh_truth(g_na, g_k, 6.3, amp, 0.0, 5.0135, 180.0005, False, 200.0,
                            TRUTH_DT / 10, 0.0)  # fmt: skip
        assert len(truth) > 10
        assert _err(r.spike_times[k], truth) < 2e-4


def test_ramps_are_integrated_with_the_current_of_each_stage():
    stim = make_stimulus("ramp", amp0=[0.0, 5.0], amp1=[40.0, 25.0], t_on=10.0, t_off=250.0)
    r = simulate_neurons("hh", {}, stim, duration_ms=300.0)
    for k, (a0, a1) in enumerate([(0.0, 40.0), (5.0, 25.0)]):
        truth, _ = hh_truth(120.0, 36.0, 6.3, a0, a1, 10.0, 250.0, True, 300.0, TRUTH_DT, 0.0)
        assert len(truth) > 10
        assert _err(r.spike_times[k], truth) < 5e-4


def test_recorded_states_are_at_the_grid_times():
    r = simulate_neurons("hh", {}, make_stimulus("step", amp=10.0), duration_ms=40.0,
                         record_v=True, record_every=10)  # fmt: skip
    # the trace is at (j + 1)*10*dt = 0.1, 0.2, ... ms: the truth every 0.01 ms, every 10th
    _, rec2 = hh_truth(120.0, 36.0, 6.3, 10.0, 0.0, 0.0, 1e9, False, 40.0, TRUTH_DT, 0.01)
    want = rec2[9::10]  # at 0.1, 0.2, ... ms
    np.testing.assert_allclose(r.t_v, 0.1 * (1 + np.arange(len(r.t_v))), atol=1e-12)
    got = r.states[0].T
    n = min(len(got), len(want))
    assert n >= 399
    assert np.abs(got[:n, 0] - want[:n, 0]).max() < 0.02  # mV, through 3 spikes
    assert np.abs(got[:n, 1:] - want[:n, 1:]).max() < 2e-4


@pytest.mark.slow
def test_a_row_does_not_depend_on_its_lane_company_nor_on_threads():
    rng = np.random.default_rng(3)
    n = 150  # two lane loads and a half
    params = [_params(a, b) for a, b in zip(rng.uniform(96, 144, n), rng.uniform(29, 43, n),
                                            strict=True)]  # fmt: skip
    amps = rng.uniform(0.0, 20.0, n)
    stim = make_stimulus("step", amp=amps)
    both = simulate_neurons("hh", params, stim, duration_ms=150.0, workers=1)
    two = simulate_neurons("hh", params, stim, duration_ms=150.0, workers=2)
    alone = simulate_neurons("hh", params[97], make_stimulus("step", amp=amps[97]),
                             duration_ms=150.0)  # fmt: skip
    one_lane = simulate_neurons("hh", params[:5], make_stimulus("step", amp=amps[:5]),
                                duration_ms=150.0, vectorize=False)  # fmt: skip
    assert sum(len(t) for t in both.spike_times) > 300
    for a, b in zip(both.spike_times, two.spike_times, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(alone.spike_times[0], both.spike_times[97])
    # one lane is scalar code: other roundings (float32), other steps, the same accuracy
    for a, b in zip(one_lane.spike_times, both.spike_times[:5], strict=True):
        assert len(a) == len(b) and (len(a) == 0 or np.abs(a - b).max() < 1e-4)


def test_spike_times_past_the_first_buffer_are_all_returned(monkeypatch):
    stim = make_stimulus("step", amp=[20.0, 0.0, 15.0])
    full = simulate_neurons("hh", {}, stim, duration_ms=100.0)
    monkeypatch.setattr(ne, "SPIKE_BUFFER", 3)
    cut = simulate_neurons("hh", {}, stim, duration_ms=100.0)
    assert full.total_counts[0] > 3 and full.total_counts[1] == 0
    for a, b in zip(full.spike_times, cut.spike_times, strict=True):
        np.testing.assert_array_equal(a, b)


def test_counts_are_over_the_window():
    r = simulate_neurons("hh", {}, make_stimulus("step", amp=15.0), duration_ms=300.0,
                         window_ms=100.0)  # fmt: skip
    t = r.spike_times[0]
    assert r.counts[0] == np.count_nonzero(t >= 200.0) > 3 and r.total_counts[0] == len(t)
    assert r.rates[0] == pytest.approx(r.counts[0] / 0.1)


@pytest.mark.parametrize("kind", ["noisy", "poisson", "poisson_conductance"])
def test_noisy_stimuli_redraw_on_the_dt_grid_as_rk4_does(kind):
    # the current is drawn per dt step from the row's stream and held over it, as in the
    # fixed-step kernels: dopri5 and rk4 at a fine step integrate the same current
    kw = {
        "noisy": dict(mean=8.0, sigma=2.0),
        "poisson": dict(rate_hz=800.0, weight=3.0, tau_syn=2.0),
        "poisson_conductance": dict(rate_hz=800.0, weight=0.05, tau_syn=2.0, E_rev=0.0),
    }[kind]
    stim = make_stimulus(kind, **kw)
    got = simulate_neurons("hh", {}, stim, duration_ms=150.0, dt_ms=0.01, seed=4)
    ref = simulate_neurons("hh", {}, stim, duration_ms=150.0, dt_ms=0.01, seed=4,
                           integrator="rk4")  # fmt: skip
    assert got.integrator == "dopri5" and ref.total_counts[0] > 3
    assert _err(got.spike_times[0], ref.spike_times[0]) < 2e-3


def _blowup_model():
    # dv/dt = v^2 (mV/ms per mV^2) from v = 1 mV blows up at t = 1 ms; w = 0 stays
    return equation_model(
        name="blowup_dopri5", equations="dv/dt = (v**2/mV + a*I*mV/uA)/ms : mV\n"
        "dw/dt = -w/ms : 1", current={"name": "I", "unit": "uA"},
        initial={"v": "1 mV", "w": "0"}, spike_level="1000 mV",
        parameters={"a": {"default": "1", "low": "0", "high": "2"}},
    )  # fmt: skip


def test_a_state_that_blows_up_fails_its_row_only():
    m = _blowup_model()
    assert ne.model_schemes(m)[-1] == "dopri5"
    y0 = np.array([[1.0, 0.0], [-1.0, 0.0]])  # the second row decays as 1/(1 + t)
    r = simulate_neurons(m, [{}, {}], make_stimulus("step", amp=0.0), duration_ms=5.0, y0=y0,
                         integrator="dopri5")  # fmt: skip
    assert list(r.ok) == [False, True]
    assert r.errors[0].startswith("the dopri5 step fell below 1e-09 ms") and "\n" not in r.errors[0]
    assert r.errors[1] is None and np.isnan(r.rates[0])


def test_refusals_are_one_line():
    stim = make_stimulus("step", amp=10.0)
    with pytest.raises(IntegratorError, match="needs a model from equations without reset; "
                       "lif has a threshold and reset; allowed for lif: ") as e:  # fmt: skip
        simulate_neurons("lif", {}, stim, duration_ms=10.0, integrator="dopri5")
    assert "\n" not in str(e.value)
    with pytest.raises(IntegratorError, match="unknown integrator 'dopri6'; allowed: .*dopri5$"):
        simulate_neurons("hh", {}, stim, duration_ms=10.0, integrator="dopri6")


def test_on_torch_dopri5_is_refused_and_the_default_is_the_staggered_tables():
    pytest.importorskip("torch")
    stim = make_stimulus("step", amp=10.0)
    with pytest.raises(IntegratorError, match="'dopri5' runs on the CPU only; on "
                       "device='torch-cpu' choose one of euler, midpoint, rk4, "):  # fmt: skip
        simulate_neurons("hh", {}, stim, duration_ms=10.0, device="torch-cpu",
                         integrator="dopri5")  # fmt: skip
    r = simulate_neurons("hh", {}, stim, duration_ms=10.0, device="torch-cpu")
    assert r.integrator == "exponential_staggered_tables"


def test_without_a_chosen_scheme_a_torch_device_takes_the_staggered_tables_everywhere():
    from neuroscape.models import get_neuron_model
    from neuroscape.sim.neuron_engine import NeuronBatch, device_integrator

    m = get_neuron_model("hh")
    assert device_integrator(m, "cuda", None) == "exponential_staggered_tables"
    assert device_integrator(m, "cuda:1", "auto") == "exponential_staggered_tables"
    assert device_integrator(m, "cuda", "dopri5") == "dopri5"  # chosen: kept, then refused
    assert device_integrator(m, "cpu", None) is None
    assert NeuronBatch(m).integrator_for("cuda", None) == "exponential_staggered_tables"
