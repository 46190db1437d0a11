"""The default of HH-type models, dopri5 (neuroscape.sim.neuron_engine's lane kernel), against
solutions it did not produce: spike times within 0.01 ms over 1 s (the bar of issue 19; on the
benchmark's 10,000 neurons all but 3 whose firing stops during the run, see
test_default_on_300_neurons_of_the_benchmark).

Truths: Hodgkin and Huxley's equations written out in the test module of the kernel
(tests/sim/test_neuron_engine_dopri5.py, rates as NEURON's hh.mod) integrated by RK4 at 2 us
(converged: 0.5 us moves spike times by less than 3e-8 ms, see HH_TRUTH_DT); for the other HH-type
models their own derivative functions (the model's definition) integrated by an RK4 written here
at 0.5 us. The population is benchmarks/hh_vs_brian2.py's: g_Na, g_K uniform +-20%, a step of
0-20 uA/cm^2 from t = 0, 6.3 degC.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import resolve
from neuroscape.models.equations import equation_model
from neuroscape.sim import neuron_engine as ne
from neuroscape.sim.neuron_engine import simulate_neurons


def _truth_module():
    """The module of the kernel's tests (its truth), under its own name (numba's cache of its
    jitted functions refers to it by that name)."""
    name = "test_neuron_engine_dopri5"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "sim" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


_T = _truth_module()
TRUTH_DT, hh_truth = _T.TRUTH_DT, _T.hh_truth
# HH's truths over 1 s at 2 us, 4 TRUTH_DT (at 0.5 us each took 4-8 s under load, 128 of them):
# against 0.5 us, spike times at 2 us moved by at most 3.9e-9 ms on 14 neurons of the
# benchmark's population (5 of the 24 below, 9 of the 100) and by 2.7e-8 ms at 16.3 degC, 30 uA:
# 1/10^4 of the smallest bar below (the median's 3e-4 ms)
HH_TRUTH_DT = 4 * TRUTH_DT

BAR_MS = 0.01  # spike times over 1 s, at equal spike counts


def _population(n: int, pick: np.ndarray):
    """Rows ``pick`` of benchmarks/hh_vs_brian2.py's population of ``n`` (its draws, in order)."""
    rng = np.random.default_rng(0)
    g_na = 120.0 * rng.uniform(0.8, 1.2, n)
    g_k = 36.0 * rng.uniform(0.8, 1.2, n)
    amps = rng.uniform(0.0, 20.0, n)
    return g_na[pick], g_k[pick], amps[pick]


def _errors(got, truths) -> np.ndarray:
    out = []
    for a, b in zip(got, truths, strict=True):
        assert len(a) == len(b), (len(a), len(b))
        out.append(float(np.abs(a - b).max()) if len(a) else 0.0)
    return np.array(out)


@pytest.fixture(scope="module")
def sample():
    """24 neurons of the benchmark's 10,000, their truths, and dopri5's default run of them."""
    pick = np.random.default_rng(7).choice(10_000, 24, replace=False)
    g_na, g_k, amps = _population(10_000, pick)
    truths = [hh_truth(a, b, 6.3, c, 0.0, 0.0, 1e9, False, 1000.0, HH_TRUTH_DT, 0.0)[0]
              for a, b, c in zip(g_na, g_k, amps, strict=True)]  # fmt: skip
    params = [{"g_Na": a, "g_K": b} for a, b in zip(g_na, g_k, strict=True)]
    return params, amps, truths


def test_the_default_is_dopri5():
    s = resolve("hh").spec.settings
    assert (s.integrator, s.dt_ms, s.duration_ms) == ("dopri5", 0.01, 1000.0)
    assert "Dormand & Prince" in s.note


def test_default_spike_times_over_one_second_within_the_bar(sample):
    params, amps, truths = sample
    # the settings a user gets by default
    got = simulate_neurons("hh", params, make_stimulus("step", amp=amps))
    assert got.integrator == "dopri5" and got.duration_ms == 1000.0
    assert sum(len(t) for t in truths) > 800
    err = _errors(got.spike_times, truths)
    assert err.max() < BAR_MS
    assert err.max() < 4e-3 and np.median(err) < 5e-4  # measured 2.4e-3 and 1.2e-4 on 300


@pytest.mark.slow
def test_default_on_100_neurons_of_the_benchmark():
    # on all 10,000 (an independent Dormand-Prince solution at a relative tolerance of 1e-12,
    # 8 min): every neuron that fires through the run within the bar (0.007 ms at most, median
    # 1.5e-4 ms); 3 whose firing stops in the run beyond it (up to 0.05 ms, one train a spike
    # short), where the spike times are ill-conditioned
    pick = np.random.default_rng(7).choice(10_000, 100, replace=False)
    g_na, g_k, amps = _population(10_000, pick)
    got = simulate_neurons("hh", [{"g_Na": a, "g_K": b} for a, b in zip(g_na, g_k, strict=True)],
                           make_stimulus("step", amp=amps))  # fmt: skip
    truths = [hh_truth(a, b, 6.3, c, 0.0, 0.0, 1e9, False, 1000.0, HH_TRUTH_DT, 0.0)[0]
              for a, b, c in zip(g_na, g_k, amps, strict=True)]  # fmt: skip
    err = _errors(got.spike_times, truths)
    assert err.max() < BAR_MS and np.median(err) < 3e-4


@pytest.mark.slow
def test_float32_lanes_against_float64(sample, monkeypatch):
    # the same scheme in float64: both within the bar; float32's rounding adds ~1e-3 ms
    params, amps, truths = sample
    stim = make_stimulus("step", amp=amps)
    f32 = simulate_neurons("hh", params, stim)
    monkeypatch.setattr(ne, "DOPRI5_FLOAT32", False)
    f64 = simulate_neurons("hh", params, stim)
    e32, e64 = _errors(f32.spike_times, truths), _errors(f64.spike_times, truths)
    assert e64.max() < 2e-3 and e32.max() < BAR_MS
    assert _errors(f32.spike_times, f64.spike_times).max() < 3e-3


def test_warmer_and_other_conductances():
    cases = [(120.0, 36.0, 16.3, 10.0), (120.0, 36.0, 16.3, 30.0), (90.0, 30.0, 6.3, 10.0),
             (150.0, 45.0, 10.0, 40.0)]  # fmt: skip
    got = simulate_neurons("hh", [{"g_Na": a, "g_K": b, "celsius": c} for a, b, c, _ in cases],
                           make_stimulus("step", amp=[x[3] for x in cases]))  # fmt: skip
    truths = [hh_truth(a, b, c, i, 0.0, 0.0, 1e9, False, 1000.0, HH_TRUTH_DT, 0.0)[0]
              for a, b, c, i in cases]  # fmt: skip
    assert min(len(t) for t in truths) > 50
    assert _errors(got.spike_times, truths).max() < BAR_MS


def test_brian2s_scheme_at_its_step_misses_the_bar_by_far(sample):
    # why the default is not exponential Euler at 0.025 ms (same equations, first order)
    params, amps, truths = sample
    ee = simulate_neurons("hh", params[:6], make_stimulus("step", amp=amps[:6]), dt_ms=0.025,
                          integrator="exponential_euler")  # fmt: skip
    drift = [float(np.abs(a[: min(len(a), len(b))] - b[: min(len(a), len(b))]).max())
             for a, b in zip(ee.spike_times, truths[:6], strict=True) if len(b)]  # fmt: skip
    assert max(drift) > 1.0


# --- other HH-type models: the kernel is generated from any of them ------------------------------


def _rk4_driver(n_states: int):
    """An RK4 loop over ``rhs(y0.., cur, p..)`` (a model's own jitted derivatives) at dt from
    y0 under a step current from t = 0; spike times: upward crossings of ``level`` in the first
    state, interpolated linearly (at 0.5 us, below 1e-9 ms of error)."""
    ys = ", ".join(f"y{i}" for i in range(n_states))
    lines = [
        "def drive(rhs, y, p, cur, level, t_end, dt):",
        f"    {ys}, = y",
        "    n = int(round(t_end / dt))",
        "    out = np.zeros(100000)",
        "    k = 0",
        "    for s in range(n):",
        f"        a = rhs({ys}, cur, *p)",
        "        b = rhs(" + ", ".join(f"y{i} + 0.5 * dt * a[{i}]" for i in range(n_states))
        + ", cur, *p)",
        "        c = rhs(" + ", ".join(f"y{i} + 0.5 * dt * b[{i}]" for i in range(n_states))
        + ", cur, *p)",
        "        d = rhs(" + ", ".join(f"y{i} + dt * c[{i}]" for i in range(n_states))
        + ", cur, *p)",
        "        v_old = y0",
        *[f"        y{i} = y{i} + dt / 6.0 * (a[{i}] + 2.0 * b[{i}] + 2.0 * c[{i}] + d[{i}])"
          for i in range(n_states)],
        "        if v_old < level <= y0:",
        "            out[k] = s * dt + dt * (level - v_old) / (y0 - v_old)",
        "            k += 1",
        "    return out[:k]",
    ]
    space = {"np": np}
    exec("\n".join(lines), space)  # noqa: S102 - the loop above, per number of states
    return njit(space["drive"])


def _model_truth(m, params: dict, amp: float, t_end: float) -> np.ndarray:
    p = m.spec.params_from_mapping(params)
    y = m.initial_state(p[None, :])[0]
    drive = _rk4_driver(len(m.states))
    return drive(m.functions().rhs, tuple(y), tuple(p), amp, m.spike_level, t_end, TRUTH_DT)


@pytest.mark.parametrize(
    "name,params,amp",
    [
        ("wang_buzsaki", {}, 1.0),
        ("wang_buzsaki", {"phi": 3.0}, 10.0),
        ("connor_stevens", {}, 250.0),
        ("morris_lecar", {}, 100.0),
    ],
)
@pytest.mark.slow
def test_other_hh_type_models_default_within_the_bar(name, params, amp):
    m = resolve(name)
    assert m.spec.settings.integrator == "dopri5"
    t_end = 500.0
    truth = _model_truth(m, params, amp, t_end)
    got = simulate_neurons(name, params, make_stimulus("step", amp=amp), duration_ms=t_end)
    assert len(truth) > 3
    assert _errors(got.spike_times, [truth]).max() < BAR_MS / 2


@pytest.mark.slow
def test_a_new_hh_type_model_gets_its_own_generated_kernel():
    # HH with other rate constants, declared here: no code for it exists anywhere else
    import yaml

    from neuroscape.models.library import __file__ as library

    d = yaml.safe_load((Path(library).parent / "hh.yaml").read_text())
    d.pop("settings")
    d["name"] = "hh_other_rates"
    for old, new in [("phi/exprel(-(V + 40*mV)/(10*mV))", "1.3*phi/exprel(-(V + 38*mV)/(9*mV))"),
                     ("phi*4*exp(-(V + 65*mV)/(18*mV))", "phi*3.5*exp(-(V + 63*mV)/(17*mV))"),
                     ("phi*0.125*exp(-(V + 65*mV)/(80*mV))", "phi*0.15*exp(-(V + 62*mV)/(70*mV))")]:
        assert old in d["equations"]
        d["equations"] = d["equations"].replace(old, new)
    m = equation_model(**d)
    assert m.gate_tables and m.spec.settings.integrator == "dopri5"
    truth = _model_truth(m, {}, 15.0, 400.0)
    got = simulate_neurons(m, {}, make_stimulus("step", amp=15.0), duration_ms=400.0)
    assert len(truth) > 5
    assert _errors(got.spike_times, [truth]).max() < BAR_MS / 2
