"""Every model declares its own run settings, once; the engines take them from there."""

import numpy as np
import pytest

from neuroscape.core.settings import SettingsError, SimSettings, default_window_ms
from neuroscape.core.spec import GENERIC_SETTINGS, DefaultSettings
from neuroscape.models import available, get_model, get_spec, names
from neuroscape.sim.engine import batch_for


@pytest.mark.parametrize("name", available())
def test_every_registered_model_declares_its_settings(name):
    spec = get_spec(name)
    s = spec.settings
    assert s is not GENERIC_SETTINGS and s.note
    assert spec.to_dict()["settings"] == {
        "duration_ms": s.duration_ms,
        "dt_ms": s.dt_ms,
        "window_ms": s.window_ms,
        "integrator": s.integrator,
        "note": s.note,
    }
    # the declared settings are accepted by the model they belong to
    batch_for(name).check_settings(SimSettings.for_model(spec))


def test_neuron_models_declare_a_scheme_they_can_run():
    from neuroscape.models import get_neuron_model
    from neuroscape.sim.neuron_engine import check_neuron_settings

    for name in names("neuron"):
        s = get_spec(name).settings
        assert check_neuron_settings(get_neuron_model(name), s.integrator, s.dt_ms)


def test_declared_settings_are_validated():
    with pytest.raises(ValueError, match="dt_ms=0.0 must be a positive number of ms"):
        DefaultSettings(1000.0, 0.0)
    with pytest.raises(ValueError, match=r"window_ms=2000.0 must be in \(0, duration_ms=1000.0\]"):
        DefaultSettings(1000.0, 0.1, window_ms=2000.0)
    with pytest.raises(ValueError, match="duration_ms=nan"):
        DefaultSettings(float("nan"), 0.1)


def test_for_model_fills_what_is_not_given():
    cortical = get_spec("cortical")
    s = SimSettings.for_model(cortical)
    assert (s.duration_ms, s.dt_ms, s.window_ms, s.integrator) == (3000.0, 0.1, 2000.0, "midpoint")
    # the declared window belongs to the declared duration; another run gets the engine's rule
    s = SimSettings.for_model(cortical, duration_ms=600.0)
    assert s.window_ms == default_window_ms(600.0) == 400.0
    s = SimSettings.for_model(cortical, duration_ms=600.0, window_ms=100.0, integrator="rk4")
    assert (s.window_ms, s.integrator, s.dt_ms) == (100.0, "rk4", 0.1)
    ddm = SimSettings.for_model(get_spec("ddm"))
    assert ddm.duration_ms == 10_000.0 and ddm.dt_ms == 1.0


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(window_ms=float("nan")), "window_ms=nan must be in"),
        (dict(window_ms=float("inf")), "window_ms=inf must be in"),
        (dict(window_ms=-5.0), "window_ms=-5.0 must be in"),
        (dict(dt_ms=float("nan")), "dt_ms=nan must be a positive number of ms"),
        (dict(duration_ms=float("inf")), "duration_ms=inf must be a positive number of ms"),
        (dict(duration_ms="long"), "duration_ms='long' must be a number of ms"),
        (dict(dt_ms=2000.0), "dt_ms=2000 must be <= duration_ms=1000"),
        (dict(window_ms=0.01), r"window_ms=0.01 is shorter than one step \(dt_ms=0.1\)"),
        (dict(integrator=""), "integrator='' must be a scheme's name"),
    ],
)
def test_bad_settings_are_refused_with_one_line(kw, match):
    base = dict(duration_ms=1000.0, dt_ms=0.1, window_ms=500.0, integrator="midpoint")
    with pytest.raises(SettingsError, match=match) as exc:
        SimSettings(**(base | kw))
    assert "\n" not in str(exc.value)


def test_theory_models_refuse_settings_they_cannot_run():
    wc = get_model("wilson_cowan").batch()
    # the oscillation test compares the window with the one before it: the run used to be
    # lengthened silently to two windows
    with pytest.raises(SettingsError, match=r"window_ms=1500 must be <= duration_ms/2 = 1000"):
        wc.check_settings(SimSettings(2000.0, 0.05, 1500.0, "rk4"))
    with pytest.raises(ValueError, match="window_ms=1500 must be in"):
        from neuroscape.models.theory import wilson_cowan

        wilson_cowan.simulate(wilson_cowan.SPEC.params_array({}), 2000.0, 1500.0)


def test_run_batch_without_settings_runs_the_declared_ones():
    from neuroscape.sim.engine import run_batch

    res = run_batch(get_model("hopfield"), {"N": 100.0})
    assert res.settings == SimSettings.for_model(get_spec("hopfield"))
    assert np.isfinite(res.outputs).all()


def test_neuron_models_declare_the_unit_of_every_state():
    from neuroscape.models import get_neuron_model

    units = {
        "lif": ("mV",),
        "cond_if": ("1",),
        "hh": ("mV", "1", "1", "1"),
        "fhn": ("1", "1"),
        "izhikevich": ("mV", "1"),
    }
    for name in names("neuron"):
        m = get_neuron_model(name)
        if name in units:
            assert m.state_units == units[name] and m.v_unit == units[name][0]
        else:  # an equation file: the unit written after each equation
            assert len(m.state_units) == len(m.states) and all(m.state_units)
