"""Single-neuron models against truths: closed forms, solve_ivp convergence orders, known
firing patterns, and clear errors."""

import numpy as np
import pytest

from neuroscape.core.integrators import IntegratorError
from neuroscape.core.settings import SettingsError
from neuroscape.core.spec import ParameterError
from neuroscape.core.stimuli import StimulusError, make_stimulus
from neuroscape.models import get_neuron_model
from neuroscape.models.hh import MODEL as HH
from neuroscape.sim.neuron_engine import simulate_neurons
from neuroscape.sim.reference import solve_reference

LIF = get_neuron_model("lif")
PRESETS = get_neuron_model("izhikevich").presets
LIF_DEFAULTS = LIF.spec.defaults


def closed_form_rate(i_inj: float, p: dict) -> float:
    """LIF firing rate (Hz) under a constant current i_inj (nA): the interspike interval is
    t_ref + tau ln((V_reset - V_inf)/(V_th - V_inf)), V_inf = V_rest + R I."""
    v_inf = p["V_rest"] + p["R"] * i_inj
    if v_inf <= p["V_th"]:
        return 0.0
    return 1000.0 / (p["t_ref"] + p["tau"] * np.log((p["V_reset"] - v_inf) / (p["V_th"] - v_inf)))


@pytest.mark.parametrize("integrator", ["rk4", "exponential_euler"])
def test_lif_rate_matches_the_closed_form(integrator):
    amps = np.array([2.6, 3.0, 5.0, 10.0])
    r = simulate_neurons(
        "lif",
        {},
        make_stimulus("step", amp=amps),
        duration_ms=4000.0,
        dt_ms=0.005,
        integrator=integrator,
    )
    truth = np.array([closed_form_rate(a, LIF_DEFAULTS) for a in amps])
    assert np.all(truth > 10)
    np.testing.assert_allclose(r.rates, truth, rtol=0.005)
    # below rheobase (R I <= V_th - V_rest = 25 mV) it stays silent
    silent = simulate_neurons(
        "lif", {}, make_stimulus("step", amp=2.4), duration_ms=500.0, dt_ms=0.01
    )
    assert silent.counts[0] == 0


def _final_v(model, params, amp, t_end, dt, integrator):
    r = simulate_neurons(
        model,
        params,
        make_stimulus("step", amp=amp),
        duration_ms=t_end,
        dt_ms=dt,
        integrator=integrator,
        record_v=True,
    )
    return r.v[0, -1]


@pytest.mark.parametrize(
    "integrator,order", [("euler", 1), ("midpoint", 2), ("rk4", 4), ("exponential_euler", 1)]
)
def test_order_on_the_test_equation(integrator, order):
    # subthreshold LIF = the linear test equation dV/dt = -(V - V_inf)/tau
    p = {"V_th": 0.0}
    truth = solve_reference(LIF, p, 2.0, 20.0)[0]
    dts = np.array([0.4, 0.2, 0.1, 0.05])
    errs = [abs(_final_v("lif", p, 2.0, 20.0, dt, integrator) - truth) for dt in dts]
    if integrator == "exponential_euler":  # exact for a linear equation with constant input
        assert max(errs) < 1e-10
        return
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert slope == pytest.approx(order, abs=0.15)


@pytest.mark.parametrize(
    "integrator,order", [("euler", 1), ("midpoint", 2), ("rk4", 4), ("exponential_euler", 1)]
)
def test_order_on_hodgkin_huxley(integrator, order):
    # the first 4 ms of the upstroke under 10 uA/cm^2: smooth, fast, nonlinear
    truth = solve_reference(HH, {}, 10.0, 4.0)[0]
    dts = np.array([0.04, 0.02, 0.01, 0.005]) if order < 4 else np.array([0.05, 0.04, 0.025, 0.02])
    errs = [abs(_final_v("hh", {}, 10.0, 4.0, dt, integrator) - truth) for dt in dts]
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert slope == pytest.approx(order, abs=0.25), errs


def test_hh_rheobase_and_type_ii_jump():
    amps = np.round(np.arange(5.0, 8.01, 0.1), 2)
    r = simulate_neurons(
        "hh", {}, make_stimulus("step", amp=amps), duration_ms=600.0, window_ms=400.0, dt_ms=0.01
    )
    firing = r.rates > 0
    rheobase = amps[np.argmax(firing)]
    assert firing[-1] and not firing[0] and np.all(firing[np.argmax(firing) :])
    assert 6.0 <= rheobase <= 7.0
    # type II: the f-I curve starts at a finite rate, not at zero
    assert r.rates[np.argmax(firing)] > 40.0


def test_hh_temperature_speeds_up_firing():
    r = simulate_neurons(
        "hh",
        [{"celsius": 6.3}, {"celsius": 16.3}],
        make_stimulus("step", amp=20.0),
        duration_ms=300.0,
        dt_ms=0.01,
    )
    assert r.rates[1] > 1.5 * r.rates[0] > 0


def _isis(name):
    r = simulate_neurons(
        "izhikevich",
        PRESETS[name],
        make_stimulus("step", amp=10.0, t_on=0.0),
        duration_ms=1000.0,
        dt_ms=0.05,
    )
    return np.diff(r.spike_times[0]), r.counts[0]


def test_izhikevich_regular_spiking_adapts():
    isi, n = _isis("RS")
    assert 5 <= n <= 40 and isi[-1] > 1.8 * isi[0] and np.all(isi > 10)


def test_izhikevich_intrinsic_bursting_then_tonic():
    isi, _ = _isis("IB")
    assert np.all(isi[:2] < 5) and np.all(isi[3:] > 15)


def test_izhikevich_chattering_fires_repeated_bursts():
    isi, _ = _isis("CH")
    short, long_ = np.sum(isi < 5), np.sum(isi > 15)
    assert short > 2 * long_ and long_ >= 5


def test_izhikevich_fast_spiking_does_not_adapt():
    isi, n = _isis("FS")
    assert n > 80 and isi[-1] < 2.5 * isi[0]


def test_izhikevich_presets_differ_in_rate():
    counts = {k: _isis(k)[1] for k in ("RS", "FS", "LTS")}
    assert counts["FS"] > counts["LTS"] > counts["RS"]


def test_fitzhugh_nagumo_oscillates_only_above_its_hopf_point():
    amps = np.array([0.0, 0.5, 1.0, 2.0])
    r = simulate_neurons(
        "fhn", {}, make_stimulus("step", amp=amps), duration_ms=2000.0, window_ms=1000.0, dt_ms=0.05
    )
    assert r.counts[0] == 0 and r.counts[1] > 0 and r.counts[2] > 0 and r.counts[3] == 0


def test_noisy_and_poisson_stimuli_are_reproducible_and_have_the_right_mean():
    s = make_stimulus("poisson", rate_hz=2000.0, weight=0.5, tau_syn=5.0)
    a = simulate_neurons(
        "lif", {"V_th": 100.0}, s, duration_ms=2000.0, dt_ms=0.05, record_v=True, allow_outside=True
    )
    b = simulate_neurons(
        "lif", {"V_th": 100.0}, s, duration_ms=2000.0, dt_ms=0.05, record_v=True, allow_outside=True
    )
    np.testing.assert_array_equal(a.v, b.v)
    # mean synaptic current = rate * weight * tau_syn = 5 nA -> mean V = V_rest + R I = -15 mV
    assert np.mean(a.v[0, 4000:]) == pytest.approx(-15.0, abs=1.0)
    n = make_stimulus("noisy", mean=1.0, sigma=0.5)
    c = simulate_neurons(
        "lif",
        {"V_th": 100.0},
        n,
        duration_ms=4000.0,
        dt_ms=0.05,
        record_v=True,
        allow_outside=True,
        seed=3,
    )
    assert np.mean(c.v[0, 2000:]) == pytest.approx(-55.0, abs=0.5)
    # OU variance of V: sigma^2 R^2 / (2 tau) = 0.25 * 100 / 20 = 1.25 mV^2
    assert np.var(c.v[0, 2000:]) == pytest.approx(1.25, rel=0.2)


def test_bad_input_gets_clear_errors():
    from neuroscape.models import UnknownModelError

    with pytest.raises(UnknownModelError, match="unknown model .gif.; allowed: .*hh.*lif"):
        simulate_neurons("gif")
    with pytest.raises(IntegratorError, match="unknown integrator 'rk45'; allowed: euler"):
        simulate_neurons("hh", integrator="rk45")
    with pytest.raises(IntegratorError, match="needs a conditionally linear model; fhn"):
        simulate_neurons("fhn", integrator="exponential_euler")
    with pytest.raises(SettingsError, match=r"dt_ms=0.2 is too coarse .* allowed dt_ms <= 0.05"):
        simulate_neurons("hh", dt_ms=0.2)
    with pytest.raises(ParameterError, match="tau=-5"):
        simulate_neurons("lif", {"tau": -5.0}, allow_outside=True)
    with pytest.raises(StimulusError, match="unknown stimulus 'sine'"):
        make_stimulus("sine", amp=1)
    with pytest.raises(StimulusError, match="no parameter 'freq'"):
        make_stimulus("step", amp=1, freq=3)


def test_conductance_synapse_drives_v_toward_its_reversal():
    # g: mean rate*weight*tau = 2000 Hz * 0.01 * 5 ms = 0.1 (in units of 1/R); with R = 10 the
    # synaptic current g (E - V) and the leak balance at V = (V_rest + R g E)/(1 + R g)
    s = make_stimulus("poisson_conductance", rate_hz=2000.0, weight=0.01, tau_syn=5.0, E_rev=0.0)
    r = simulate_neurons(
        "lif", {"V_th": 100.0}, s, duration_ms=3000.0, dt_ms=0.05, record_v=True, allow_outside=True
    )
    g, rr = 0.1, 10.0
    assert np.mean(r.v[0, 4000:]) == pytest.approx((-65.0 + rr * g * 0.0) / (1 + rr * g), abs=1.0)


def test_izhikevich_thalamocortical_rebound_burst():
    # TC fires a rebound burst on release from hyperpolarization; RS does not
    stim = make_stimulus("step", amp=-10.0, t_on=0.0, t_off=200.0)
    tc = simulate_neurons("izhikevich", PRESETS["TC"], stim, duration_ms=400.0, dt_ms=0.05)
    rs = simulate_neurons("izhikevich", PRESETS["RS"], stim, duration_ms=400.0, dt_ms=0.05)
    t = tc.spike_times[0]
    assert len(t) >= 3 and np.all(t > 200.0) and t[0] < 215.0 and np.diff(t)[0] < 10.0
    assert rs.counts[0] == 0


@pytest.mark.parametrize(
    "preset,current,label",
    [("CH", 10.0, "bursting"), ("RS", 10.0, "tonic"), ("FS", 10.0, "tonic"), ("RS", 0.0, "silent")],
)
def test_behaviour_classes_of_the_izhikevich_presets(preset, current, label):
    from neuroscape.models.neuron import classify_spikes

    r = simulate_neurons(
        "izhikevich",
        PRESETS[preset],
        make_stimulus("step", amp=current),
        duration_ms=1000.0,
        dt_ms=0.05,
    )
    assert classify_spikes(r.spike_times[0], 300.0, 1000.0)[0] == label


def _lif_white_noise_theory(mu, sigma, tau, theta, v_r, t_ref):
    """Rate (Hz) and ISI CV of an LIF neuron driven by white noise (rest at 0, V in mV):
    the Siegert rate and Brunel's (2000) CV^2 = 2 pi (nu tau)^2 int_{y_r}^{y_th} e^{x^2}
    int_{-inf}^{x} e^{y^2} (1 + erf y)^2 dy dx, y = (V - mu) / sigma."""
    from scipy.integrate import quad
    from scipy.special import erfcx

    from neuroscape.models.theory.mean_field import siegert

    nu = siegert(mu, sigma, tau, theta, v_r, t_ref)

    def inner(x):  # e^{y^2} (1 + erf y)^2 = erfcx(-y)^2 e^{-y^2}
        return quad(lambda y: erfcx(-y) ** 2 * np.exp(-y * y), -np.inf, x, limit=200)[0]

    lo, hi = (v_r - mu) / sigma, (theta - mu) / sigma
    integral = quad(lambda x: np.exp(x * x) * inner(x), lo, hi, limit=200)[0]
    return nu, float(np.sqrt(2 * np.pi * (nu * 1e-3 * tau) ** 2 * integral))


def test_noise_driven_firing_is_irregular_with_the_theorys_rate_and_cv():
    # I = 2.3 nA + 3 nA ms^0.5 white noise: mean V 2 mV below threshold, fluctuation driven.
    # In Brunel's form tau dV = (-V + mu) dt + sigma sqrt(tau) dW (rest at 0): mu = R I = 23,
    # sigma = R * 3 / sqrt(tau) = 9.49 mV, theta = 25, V_r = -5 mV
    from neuroscape.models.neuron import classify_spikes

    nu, cv_theory = _lif_white_noise_theory(23.0, 30.0 / np.sqrt(10.0), 10.0, 25.0, -5.0, 2.0)
    s = make_stimulus("noisy", mean=2.3, sigma=3.0)
    r = simulate_neurons("lif", {}, s, duration_ms=20_000.0, window_ms=20_000.0, dt_ms=0.01, seed=1)
    label, cv = classify_spikes(r.spike_times[0], 0.0, 20_000.0)
    assert label == "irregular"
    # about 730 intervals: SE of the CV about 0.013, of the rate about 2%; white noise sampled
    # per step misses crossings between steps (rate low by O(sqrt(dt)))
    assert cv == pytest.approx(cv_theory, abs=0.04), (cv, cv_theory)
    assert r.rates[0] == pytest.approx(nu, rel=0.05), (r.rates[0], nu)


def test_tabulated_gates_match_exact_exponential_euler():
    # 0.01-mV tables of the gate factors: spike times within 1e-4 ms of the exact scheme over
    # 10 spikes; rows at different temperatures get their own tables
    stim = make_stimulus("step", amp=[10.0, 20.0, 10.0])
    params = [{"celsius": 6.3}, {"celsius": 6.3}, {"celsius": 16.3}]
    exact = simulate_neurons(
        "hh", params, stim, duration_ms=200.0, dt_ms=0.025, integrator="exponential_euler"
    )
    tab = simulate_neurons(
        "hh", params, stim, duration_ms=200.0, dt_ms=0.025, integrator="exponential_euler_tables"
    )
    for a, b in zip(exact.spike_times, tab.spike_times, strict=True):
        assert len(a) == len(b) >= 10 and np.abs(a - b).max() < 1e-4
    with pytest.raises(IntegratorError, match="needs a model with gating variables"):
        simulate_neurons("lif", integrator="exponential_euler_tables")


@pytest.mark.parametrize("kind", ["step", "ramp"])
def test_block_kernel_matches_row_kernel(kind):
    # the vectorized block kernel (gate tables, deterministic input) against the row-by-row
    # kernel: 70 rows (one full block of 64 and a partial one), each with its own g_Na, g_K and
    # current, spike times within 1e-6 ms and V traces within 1e-6 mV
    rng = np.random.default_rng(3)
    n = 70
    g_na, g_k = rng.uniform(90, 150, n), rng.uniform(25, 45, n)
    params = [{"g_Na": a, "g_K": b} for a, b in zip(g_na, g_k, strict=True)]
    if kind == "step":
        stim = make_stimulus("step", amp=rng.uniform(0.0, 20.0, n), t_on=5.0, t_off=120.0)
    else:
        stim = make_stimulus(
            "ramp", amp0=0.0, amp1=rng.uniform(5.0, 25.0, n), t_on=10.0, t_off=150.0
        )
    kw = dict(
        duration_ms=150.0,
        dt_ms=0.025,
        integrator="exponential_euler_tables",
        record_v=True,
        record_every=4,
    )
    fast = simulate_neurons("hh", params, stim, **kw)
    slow = simulate_neurons("hh", params, stim, vectorize=False, **kw)
    assert np.abs(fast.states - slow.states).max() < 1e-6
    n_spk = 0
    for a, b in zip(fast.spike_times, slow.spike_times, strict=True):
        assert len(a) == len(b)
        n_spk += len(a)
        if len(a):
            assert np.abs(a - b).max() < 1e-6
    assert n_spk > 100 and (fast.counts == slow.counts).all() and fast.ok.all()


def test_block_kernel_reports_a_blow_up():
    # the block kernel is compiled with fastmath; a NaN must still be reported
    # (exponential Euler itself does not blow up, so the NaN comes in through y0)
    y0 = np.array([[-65.0, 0.05, 0.6, 0.32], [np.nan, 0.05, 0.6, 0.32]])
    for vec in (True, False):
        r = simulate_neurons(
            "hh",
            {},
            make_stimulus("step", amp=[10.0, 10.0]),
            duration_ms=5.0,
            dt_ms=0.025,
            integrator="exponential_euler_tables",
            y0=y0,
            vectorize=vec,
        )
        assert r.ok.tolist() == [True, False] and np.isnan(r.rates[1])


def test_polynomial_exp_against_numpy():
    from neuroscape.core.integrators import exp_nonpos

    z = -np.concatenate([[0.0], np.logspace(-12, 2.5, 3000)])
    got = np.array([exp_nonpos(float(x)) for x in z])
    assert np.abs(got - np.exp(z)).max() < 1e-13
    assert np.abs(got / np.exp(z) - 1)[z >= -40].max() < 1e-10
