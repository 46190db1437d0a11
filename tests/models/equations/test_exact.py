"""The exact integrator of equations linear with constant coefficients (issue 17, item 2), against
truths the code did not produce: the closed forms of LIF with an exponential synaptic current and
of a damped oscillator, scipy's matrix exponential, mpmath's divided differences, and the flow
property; uncoupled equations give exponential Euler's numbers; other equations give None."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
import sympy
from scipy.linalg import expm
from scipy.optimize import brentq

from neuroscape.core.codegen import load_generated
from neuroscape.core.integrators import IntegratorError, canonical_name
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models.equations import equation_model
from neuroscape.models.equations.codegen import HEADER
from neuroscape.models.equations.exact import (
    exact_capable,
    exact_step_source,
    exact_update,
)
from neuroscape.sim.neuron_engine import has_exact_step, simulate_neurons

# LIF with an exponential synaptic current driven by the injected current I
LIF_SYN = dict(
    equations="""
dv/dt = (E_L - v + R*I_s)/tau_m : mV (unless refractory)
dI_s/dt = (I - I_s)/tau_s : nA
""",
    current={"name": "I", "unit": "nA"},
    threshold="v > V_th",
    reset="v = V_r",
    refractory="t_ref",
    initial={"v": "E_L", "I_s": "0 nA"},
    parameters={
        "E_L": {"default": "-70 mV", "low": "-90 mV", "high": "-50 mV"},
        "R": {"default": "100 MOhm", "low": "1 MOhm", "high": "1000 MOhm"},
        "tau_m": {"default": "10 ms", "low": "1 ms", "high": "100 ms"},
        "tau_s": {"default": "5 ms", "low": "0.1 ms", "high": "100 ms"},
        "V_th": {"default": "-50 mV", "low": "-60 mV", "high": "10 mV"},
        "V_r": {"default": "-65 mV", "low": "-90 mV", "high": "-50 mV"},
        "t_ref": {"default": "2 ms", "low": "0 ms", "high": "10 ms"},
    },
)
# a damped harmonic oscillator x'' + 2 zeta w0 x' + w0^2 (x - x0) = w0^2 k I, as two states
OSCILLATOR = dict(
    equations="""
dx/dt = u : mV
du/dt = -2*zeta*w0*u - w0**2*(x - x0) + w0**2*k*I : mV/ms
""",
    current={"name": "I", "unit": "nA"},
    spike_level="1000 mV",
    initial={"x": "x0", "u": "0 mV/ms"},
    parameters={
        "zeta": {"default": 0.2, "low": 0.0, "high": 5.0},
        "w0": {"default": "0.5 1/ms", "low": "0.01 1/ms", "high": "10 1/ms"},
        "x0": {"default": "-60 mV", "low": "-90 mV", "high": "0 mV"},
        "k": {"default": "10 MOhm", "low": "0 MOhm", "high": "100 MOhm"},
    },
)

# exponential integrate-and-fire: not linear
EIF = dict(
    equations="dv/dt = (g_L*(E_L - v) + g_L*D*exp((v - V_T)/D) + I)/C : mV",
    current={"name": "I", "unit": "pA"},
    threshold="v > 0*mV",
    reset="v = E_L",
    initial={"v": "E_L"},
    parameters={
        "g_L": {"default": "30 nS", "low": "1 nS", "high": "100 nS"},
        "E_L": {"default": "-70 mV", "low": "-90 mV", "high": "-50 mV"},
        "D": {"default": "2 mV", "low": "0.5 mV", "high": "5 mV"},
        "V_T": {"default": "-50 mV", "low": "-60 mV", "high": "-40 mV"},
        "C": {"default": "281 pF", "low": "100 pF", "high": "500 pF"},
    },
)


@pytest.fixture(scope="module")
def lif_syn():
    m = exact_capable(equation_model(name="lif_syn_exact", **LIF_SYN))
    assert m is not None
    return m


def lif_syn_closed_form(t, i_amp, tau_m, tau_s, r=100.0, e_l=-70.0):
    """v (mV) and I_s (nA) from v = E_L, I_s = 0 under a step I from t = 0 (textbook solution of
    the two linear equations; the equal-time-constant limit where tau_s == tau_m)."""
    i_s = i_amp * (1.0 - np.exp(-t / tau_s))
    if tau_s == tau_m:
        u = 1.0 - np.exp(-t / tau_m) * (1.0 + t / tau_m)
    else:
        u = 1.0 - (tau_s * np.exp(-t / tau_s) - tau_m * np.exp(-t / tau_m)) / (tau_s - tau_m)
    return e_l + r * i_amp * u, i_s


def test_scheme_name():
    assert canonical_name("exact") == "exact"
    with pytest.raises(IntegratorError, match="allowed: .*exact"):
        canonical_name("exakt")


@pytest.mark.parametrize("tau_s", [5.0, 10.0, 10.0 * (1 + 1e-9)])
def test_lif_synaptic_trace_is_the_closed_form(lif_syn, tau_s):
    # tau_s == tau_m (10 ms) is where Brian2's closed form is 0/0; 1e-9 off it, where it loses
    # half its digits: the truth is then the closed form in 40-digit arithmetic
    i_amp = 0.3  # nA: v_inf = -40 mV; V_th raised so that the neuron does not fire
    r = simulate_neurons(
        lif_syn, {"tau_s": tau_s, "V_th": 10.0}, make_stimulus("step", amp=i_amp, t_on=0.0),
        duration_ms=100.0, dt_ms=0.1, integrator="exact", record_v=True,
    )  # fmt: skip
    t = r.t_v
    assert np.allclose(t[:2], [0.1, 0.2])
    if tau_s == 10.0 or abs(tau_s - 10.0) > 1e-3:
        v, i_s = lif_syn_closed_form(t, i_amp, 10.0, tau_s)
    else:
        mpmath.mp.dps = 40
        ts, tm, a = mpmath.mpf(tau_s), mpmath.mpf(10), mpmath.mpf(i_amp)
        v = np.array([float(-70 + 100 * a * (1 - (ts * mpmath.exp(-mpmath.mpf(x) / ts)
                      - tm * mpmath.exp(-mpmath.mpf(x) / tm)) / (ts - tm))) for x in t])
        i_s = i_amp * (1.0 - np.exp(-t / tau_s))
    assert np.abs(r.states[0, 0] - v).max() < 1e-9  # mV
    assert np.abs(r.states[0, 1] - i_s).max() < 1e-12  # nA


def _spike_times_by_root_finding(t_end, i_amp, tau_m=10.0, tau_s=5.0, r=100.0, e_l=-70.0,
                                 v_th=-50.0, v_r=-65.0, t_ref=2.0):
    """Spike times (ms) of LIF + exponential synapse under a step current, from the closed form
    with any initial state, each crossing found by brentq; V held at V_r for t_ref, I_s free."""

    def flow(t, u0, s0):  # u = v - E_L
        s = i_amp + (s0 - i_amp) * np.exp(-t / tau_s)
        both = tau_s / (tau_s - tau_m) * (np.exp(-t / tau_s) - np.exp(-t / tau_m))
        u = r * i_amp + (u0 - r * i_amp) * np.exp(-t / tau_m) + r * (s0 - i_amp) * both
        return u, s

    t, u, s, out = 0.0, 0.0, 0.0, []
    while True:
        grid = np.linspace(0.0, t_end - t, 100001)
        above = np.nonzero(flow(grid, u, s)[0] >= v_th - e_l)[0]
        if len(above) == 0:
            return np.array(out), flow
        k = above[0]
        tc = brentq(lambda x, u=u, s=s: flow(x, u, s)[0] - (v_th - e_l), grid[k - 1], grid[k],
                    xtol=1e-13)
        out.append(t + tc)
        s = flow(t_ref, 0.0, flow(tc, u, s)[1])[1]
        t, u = t + tc + t_ref, v_r - e_l


def test_lif_synaptic_spike_times_match_the_closed_form(lif_syn):
    i_amp, t_end = 0.3, 200.0
    truth, flow = _spike_times_by_root_finding(t_end, i_amp)
    assert len(truth) > 10
    errors = {}
    for dt in (0.1, 0.01):
        r = simulate_neurons(lif_syn, {}, make_stimulus("step", amp=i_amp, t_on=0.0),
                             duration_ms=t_end, dt_ms=dt, integrator="exact")
        got = r.spike_times[0]
        assert len(got) == len(truth)
        errors[dt] = np.abs(got - truth)
    # the states are exact at the step ends and the engine finds the crossing on the step
    # itself (partial exact steps from the step's start, regula falsi): the first spike is
    # exact (the straight line through the step's ends was off by dt^2 |v''| / (8 |v'|),
    # 1.5e-3 ms at dt 0.1 ms); later ones carry the release inside a step, where V restarts
    # with I_s of the step's start (1.4e-5 ms at dt 0.1 ms), shrinking with dt
    assert errors[0.1][0] < 1e-9 and errors[0.01][0] < 1e-9
    assert errors[0.1].max() < 3e-5
    assert errors[0.01].max() < errors[0.1].max() / 5


@pytest.mark.parametrize("zeta", [0.2, 1.0, 2.0])  # under-, critically (Q = 0) and overdamped
def test_damped_oscillator_is_the_closed_form(zeta):
    m = exact_capable(equation_model(name="osc_exact", **OSCILLATOR))
    w0, x0, k, i_amp = 0.5, -60.0, 10.0, 2.0
    r = simulate_neurons(m, {"zeta": zeta}, make_stimulus("step", amp=i_amp, t_on=0.0),
                         duration_ms=50.0, dt_ms=0.1, integrator="exact", record_v=True)
    t, a = r.t_v, k * i_amp  # the step moves the rest point by k I = 20 mV
    if zeta < 1:
        wd = w0 * math.sqrt(1 - zeta**2)
        x = x0 + a - a * np.exp(-zeta * w0 * t) * (np.cos(wd * t) + zeta * w0 / wd * np.sin(wd * t))
        u = a * np.exp(-zeta * w0 * t) * w0**2 / wd * np.sin(wd * t)
    elif zeta == 1:
        x = x0 + a - a * np.exp(-w0 * t) * (1 + w0 * t)
        u = a * w0**2 * t * np.exp(-w0 * t)
    else:
        s1, s2 = -w0 * (zeta - math.sqrt(zeta**2 - 1)), -w0 * (zeta + math.sqrt(zeta**2 - 1))
        x = x0 + a + a * (s2 * np.exp(s1 * t) - s1 * np.exp(s2 * t)) / (s1 - s2)
        u = a * s1 * s2 * (np.exp(s1 * t) - np.exp(s2 * t)) / (s1 - s2)
    assert np.abs(r.states[0, 0] - x).max() < 1e-9  # mV
    assert np.abs(r.states[0, 1] - u).max() < 1e-11  # mV/ms


# --- the generated step against scipy's matrix exponential ------------------------------------


def _system(n, entries, consts):
    """A linear system over symbols: entries {(i, j)}: M[i, j] is a parameter; consts {i}: c_i
    = a parameter times cur. Returns the eqs object and the parameter layout."""
    ys = sympy.symbols(f"y0:{n}")
    cur = sympy.Symbol("cur")
    names = [("M", i, j) for i, j in sorted(entries)] + [("c", i) for i in sorted(consts)]
    ps = sympy.symbols(f"p0:{len(names)}")
    rhs = [sympy.Integer(0)] * n
    for p, key in zip(ps, names, strict=True):
        if key[0] == "M":
            rhs[key[1]] += p * ys[key[2]]
        else:
            rhs[key[1]] += p * cur
    eqs = SimpleNamespace(states=ys, params=ps, current=cur, rhs_free=tuple(rhs))
    return eqs, names


def _step_function(eqs, stem):
    src = exact_step_source(eqs)
    assert src is not None
    mod = load_generated(stem, HEADER.format(origin="test") + src, [])
    return mod


def _check_against_expm(n, entries, consts, draw, rng, n_draws=60, compiled=True):
    """``compiled`` False: the generated step's source run by Python (the same text; numba's
    helpers it calls still compiled), where numba's compile of the whole step would take
    minutes (the helpers are inlined into it)."""
    eqs, names = _system(n, entries, consts)
    mod = _step_function(eqs, f"test_exact_{n}_{len(entries)}_{len(consts)}")
    step = mod.exact_step if compiled else mod.exact_step.py_func
    worst = 0.0
    for _ in range(n_draws):
        mat, c, *close = draw(rng)
        p = [mat[k[1], k[2]] if k[0] == "M" else c[k[1]] for k in names]
        y = rng.normal(size=n) * 10
        cur = rng.normal()
        h = float(rng.choice([0.0, 1e-3, 0.05, 0.1, 0.37, 1.0]))
        got = np.array(step(*y, h, cur, *p))
        t_aug = np.zeros((n + 1, n + 1))
        t_aug[:n, :n] = mat
        t_aug[:n, n] = c * cur
        e = expm(h * t_aug)
        if close and close[0]:
            # diagonal entries within 1e-4 of each other: scipy's expm loses up to 8 digits
            # there (1e-8 against 40-digit mpmath, which agrees with the step to 1e-18)
            mpmath.mp.dps = 40
            e = np.array(mpmath.expm(mpmath.matrix((h * t_aug).tolist())).tolist(), dtype=float)
        want = (e @ np.append(y, 1.0))[:n]
        scale = np.abs(e).max() * np.abs(np.append(y, 1.0)).max()
        worst = max(worst, np.abs(got - want).max() / scale)
    assert worst < 1e-13, worst
    return mod


def test_full_pair_matches_expm():
    # two mutually coupled states: stable random matrices with real, complex and (near-)repeated
    # eigenvalues, and singular ones (a state that integrates without leak)
    def draw(rng):
        kind = rng.integers(4)
        if kind == 0:
            while True:
                m = rng.normal(size=(2, 2)) * rng.choice([0.1, 1.0, 5.0])
                if np.linalg.eigvals(m).real.max() < 0:
                    break
        elif kind == 1:  # a repeated eigenvalue -a with a Jordan block (critical damping)
            a, b = rng.uniform(0.1, 3.0), rng.uniform(0.5, 2.0)
            m = np.array([[-a + b, b], [-b, -a - b]])
        elif kind == 2:  # a lightly damped resonator
            w, g = rng.uniform(0.1, 5.0), rng.uniform(0.0, 0.2)
            m = np.array([[-g, w], [-w, -g]])
        else:  # singular: det = 0
            a, b = rng.uniform(-2, 0), rng.uniform(0.1, 2)
            m = np.array([[a, b], [a * 0.5, b * 0.5]])
        return m, rng.normal(size=2)

    _check_against_expm(2, {(0, 0), (0, 1), (1, 0), (1, 1)}, {0, 1}, draw,
                        np.random.default_rng(1), n_draws=200)  # fmt: skip


def test_triangular_chain_matches_expm_with_equal_time_constants():
    # y0 <- y1 <- y2 <- y3 (every upper entry coupled), current into y3 and y1: divided
    # differences up to order 4, at distinct, equal and nearly equal diagonal entries. The
    # step's formulas are the truth's subject: run from its source (numba's compile of this
    # 4-state step took 95 s cold, 446 s under load 15; no network or neuron here uses it; the
    # compiled steps are checked against expm and the closed forms in the other tests)
    n = 4
    entries = {(i, j) for i in range(n) for j in range(i, n)}

    def draw(rng):
        d = -rng.uniform(0.01, 20.0, size=n)
        kind = rng.integers(4)
        if kind == 1:
            d[:] = d[0]  # all time constants equal (an alpha-function chain)
        elif kind == 2:
            d[1:] = d[0] * (1 + rng.choice([1e-12, 1e-8, 1e-4], size=n - 1))
        elif kind == 3:
            d[rng.integers(n)] = 0.0  # a perfect integrator
        m = np.triu(rng.normal(size=(n, n)), 1) + np.diag(d)
        return m, rng.normal(size=n) * np.array([0.0, 1.0, 0.0, 1.0]), kind == 2

    _check_against_expm(n, entries, {1, 3}, draw, np.random.default_rng(2), n_draws=300,
                        compiled=False)


def test_pair_beside_a_chain_matches_expm():
    # a resonator (y0, y1) and, unconnected to it, a synapse y3 driving y2
    entries = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 3)}

    def draw(rng):
        m = np.zeros((4, 4))
        m[:2, :2] = np.array([[-0.1, 2.0], [-2.0, -0.3]]) * rng.uniform(0.2, 3.0)
        m[2, 2], m[2, 3], m[3, 3] = -rng.uniform(0.1, 2), rng.normal(), -rng.uniform(0.1, 2)
        return m, rng.normal(size=4)

    _check_against_expm(4, entries, {0, 1, 2, 3}, draw, np.random.default_rng(3))


def test_step_is_a_flow():
    # exact for any step: two half steps are one step (the engine takes partial steps). On the
    # triangular chain's step (divided differences up to order 4; a 3-state chain here before),
    # from its source as there: no other module to generate and compile
    n = 4
    eqs, names = _system(n, {(i, j) for i in range(n) for j in range(i, n)}, {1, 3})
    step = _step_function(eqs, "test_exact_4_10_2").exact_step.py_func
    rng = np.random.default_rng(4)
    for _ in range(50):
        p = list(-rng.uniform(0.05, 5, size=len(names)))
        y, cur, h = rng.normal(size=n), rng.normal(), rng.uniform(0, 1)
        one = np.array(step(*y, h, cur, *p))
        mid = step(*y, h / 2, cur, *p)
        two = np.array(step(*mid, h / 2, cur, *p))
        np.testing.assert_allclose(two, one, rtol=1e-13, atol=1e-13)


def _dd_truth(nodes):
    """exp[x0..xm] as entry (0, m) of exp of the bidiagonal matrix (nodes, ones above), in
    50-digit arithmetic (exact for repeated nodes too)."""
    mpmath.mp.dps = 50
    k = len(nodes)
    z = mpmath.matrix(k, k)
    for i, x in enumerate(nodes):
        z[i, i] = mpmath.mpmathify(x)
        if i + 1 < k:
            z[i, i + 1] = 1
    return mpmath.expm(z)[0, k - 1]


def test_divided_differences_against_mpmath():
    eqs, _ = _system(5, {(i, j) for i in range(5) for j in range(i, 5)}, {4})
    mod = _step_function(eqs, "test_exact_dd")
    rng = np.random.default_rng(5)
    cases = []
    for k in range(1, 6):
        for _ in range(40):
            base = rng.uniform(-40, 5)
            spread = rng.choice([0.0, 1e-12, 1e-7, 1e-3, 0.5, 1.9, 2.1, 10.0, 40.0])
            cases.append(tuple(base + spread * rng.uniform(-1, 1, size=k + 1)))
        cases.append((0.0,) * (k + 1))
    # each order's own lines run by Python, the lower orders it calls compiled: numba inlines
    # the lower orders twice per order (_ex_dd5 holds 16 copies of _ex_dd1), so compiling the
    # top order alone cost as much as all below it
    for nodes in cases:
        got = getattr(mod, f"_ex_dd{len(nodes) - 1}").py_func(*nodes)
        want = float(_dd_truth(nodes))
        assert abs(got - want) <= 1e-13 * abs(want), (nodes, got, want)


def test_pair_helpers_against_mpmath():
    eqs, _ = _system(2, {(0, 0), (0, 1), (1, 0), (1, 1)}, {0})
    mod = _step_function(eqs, "test_exact_pair")
    mpmath.mp.dps = 50
    rng = np.random.default_rng(6)
    for _ in range(300):
        mu = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-8, 1.5))
        q = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-14, 2.5))
        r = mpmath.sqrt(mpmath.mpf(q) + 0j)
        z1, z2 = mpmath.mpf(mu) + r, mpmath.mpf(mu) - r
        es = (mpmath.exp(z1) - mpmath.exp(z2)) / (z1 - z2)
        ec = mpmath.exp(mu) * mpmath.cosh(r)
        # exp[0, z1, z2] with distinct nodes at 50 digits
        dd = (es - (mpmath.exp(z2) - 1) / z2) / z1
        for got, want in ((mod._ex_es(mu, q), es), (mod._ex_ec(mu, q), ec),
                          (mod._ex_ddpair0(mu, q), dd)):  # fmt: skip
            want = float(mpmath.re(want))
            assert abs(got - want) <= 1e-12 * abs(want), (mu, q, got, want)


# --- the same numbers as exponential Euler where the states are uncoupled ----------------------


def test_uncoupled_equals_exponential_euler():
    m = exact_capable(equation_model(
        name="lif_trace_exact",
        equations="dv/dt = (E_L - v + R*I)/tau_m : mV\ndx/dt = (1 - x)/tau_x : 1",
        current={"name": "I", "unit": "nA"}, threshold="v > V_th", reset="v = V_r\nx = 0",
        refractory="2 ms", initial={"v": "E_L", "x": 0.0},
        parameters={"E_L": {"default": "-70 mV", "low": "-90 mV", "high": "-50 mV"},
                    "R": {"default": "100 MOhm", "low": "1 MOhm", "high": "1000 MOhm"},
                    "tau_m": {"default": "10 ms", "low": "1 ms", "high": "100 ms"},
                    "tau_x": {"default": "30 ms", "low": "1 ms", "high": "100 ms"},
                    "V_th": {"default": "-50 mV", "low": "-60 mV", "high": "0 mV"},
                    "V_r": {"default": "-65 mV", "low": "-90 mV", "high": "-50 mV"}},
    ))  # fmt: skip
    stim = make_stimulus("step", amp=[0.1, 0.25, 0.5], t_on=5.0)
    runs = [simulate_neurons(m, {}, stim, duration_ms=300.0, dt_ms=0.1, integrator=s,
                             record_v=True) for s in ("exact", "exponential_euler")]  # fmt: skip
    a, b = runs
    # the step itself: the same numbers to 1e-12 relative, at random states and step lengths
    f = m.functions()
    rng = np.random.default_rng(7)
    p = [row.default for row in m.spec.parameters]
    for _ in range(200):
        y = (rng.uniform(-80, -40), rng.uniform(0, 1))
        h, cur = rng.uniform(0, 0.1), rng.uniform(-1, 1)
        lin = f.linear(*y, cur, *p)
        want = [y[i] + (lin[2 * i] * y[i] + lin[2 * i + 1]) * h * np.expm1(lin[2 * i] * h)
                / (lin[2 * i] * h) for i in range(2)]  # fmt: skip
        np.testing.assert_allclose(f.exact_step(*y, h, cur, *p), want, rtol=1e-12, atol=0)
    # whole runs: the same to rounding; after a reset, x = (t + dt - t_spike)/tau_x over a
    # partial step, so a spike time that differs in its last bit moves x by ~1e-14 absolute
    np.testing.assert_allclose(a.states, b.states, rtol=1e-12, atol=1e-12)
    assert [len(t) for t in a.spike_times] == [len(t) for t in b.spike_times]
    assert sum(len(t) for t in a.spike_times) > 20
    for ta, tb in zip(a.spike_times, b.spike_times, strict=True):
        np.testing.assert_allclose(ta, tb, rtol=1e-12, atol=0)


# --- what is not solved --------------------------------------------------------------------


def test_nonlinear_or_state_dependent_coefficients_give_none():
    adex = equation_model(name="eif_exact", **EIF)
    assert exact_update(adex.equations) is None
    assert exact_step_source(adex.equations) is None
    assert exact_capable(adex) is None
    # conditionally linear, but the coefficient of v is a state (a conductance): not constant
    cond = equation_model(
        name="cond_exact",
        equations="dv/dt = (E_L - v + g*(E_e - v)*R)/tau : mV\ndg/dt = -g/tau_g + I/tau_g : uS",
        current={"name": "I", "unit": "uS"}, spike_level="0 mV", initial={"v": "E_L", "g": "0 uS"},
        parameters={"E_L": {"default": "-70 mV", "low": "-90 mV", "high": "-50 mV"},
                    "E_e": {"default": "0 mV", "low": "-10 mV", "high": "10 mV"},
                    "R": {"default": "100 MOhm", "low": "1 MOhm", "high": "1000 MOhm"},
                    "tau": {"default": "10 ms", "low": "1 ms", "high": "100 ms"},
                    "tau_g": {"default": "5 ms", "low": "1 ms", "high": "100 ms"}},
    )  # fmt: skip
    assert cond.conditionally_linear
    assert exact_update(cond.equations) is None


def test_input_in_the_coefficients_gives_none():
    eqs = SimpleNamespace(states=(sympy.Symbol("y0"),), params=(sympy.Symbol("p0"),),
                          current=sympy.Symbol("cur"),
                          rhs_free=(-sympy.Symbol("cur") * sympy.Symbol("y0"),))  # fmt: skip
    assert exact_update(eqs) is None


def test_loops_of_three_states_and_the_time_limit_fall_back_with_a_log_line(caplog):
    eqs, _ = _system(3, {(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 0)}, {0})
    with caplog.at_level(logging.INFO, logger="neuroscape"):
        assert exact_update(eqs) is None
    assert "coupled in a loop of more than two states" in caplog.text
    caplog.clear()
    eqs, _ = _system(2, {(0, 0), (0, 1), (1, 1)}, {1})
    assert exact_update(eqs) is not None
    with caplog.at_level(logging.INFO, logger="neuroscape"):
        assert exact_update(eqs, time_limit_s=0.0) is None
    assert "time limit" in caplog.text


def test_a_model_without_exact_step_refuses_the_scheme():
    m = equation_model(name="eif_plain_exact", **EIF)  # not linear: no exact_step
    with pytest.raises(IntegratorError) as info:
        simulate_neurons(m, {}, make_stimulus("step", amp=100.0), duration_ms=10.0,
                         integrator="exact")
    msg = str(info.value)
    assert "\n" not in msg and "'exact'" in msg and "eif_plain_exact" in msg


def test_a_coupled_linear_file_defaults_to_exact_and_gives_the_closed_form():
    # the loader itself picks the scheme (no exact_capable): LIF + synapse is linear, coupled.
    # The fixture's name: the loader writes the module exact_capable wrote (the same text, so
    # the same kernel, compiled once for the file), and the scheme is the loader's own choice
    m = equation_model(name="lif_syn_exact", **LIF_SYN)
    assert m.spec.settings.integrator == "exact"
    assert "exact" in m.spec.settings.note
    r = simulate_neurons(m, {"V_th": 10.0}, make_stimulus("step", amp=0.3, t_on=0.0),
                         duration_ms=50.0, record_v=True)  # fmt: skip
    assert r.integrator == "exact"
    v, _ = lif_syn_closed_form(r.t_v, 0.3, 10.0, 5.0)
    assert np.abs(r.states[0, 0] - v).max() < 1e-9
    # an uncoupled linear model keeps exponential Euler (same numbers) but can run exact
    eif_like = equation_model(name="lif_plain", **{**LIF_SYN, "equations": (
        "dv/dt = (E_L - v + R*I)/tau_m : mV"), "initial": {"v": "E_L"}})
    assert eif_like.spec.settings.integrator == "exponential_euler"
    assert has_exact_step(eif_like)
