"""The reset's timing is never changed silently: a threshold the crossing cannot be interpolated
for puts the spikes on the step grid and says so; asking for interpolation then is refused."""

import pytest

from neuroscape.models.equations import EquationError, equation_model

FIELDS = dict(
    equations="dv/dt = (-70*mV - v + 100*MOhm*I)/(10*ms) : mV",
    current={"name": "I", "unit": "nA"},
    reset="v = V_r",
    initial={"v": "V_r"},
    parameters={
        "V_th": {"default": "-50 mV", "low": "-60 mV", "high": "0 mV"},
        "V_r": {"default": "-70 mV", "low": "-90 mV", "high": "-50 mV"},
    },
)


def test_a_level_threshold_is_interpolated():
    m = equation_model(name="lvl", threshold="v > V_th", **FIELDS)
    assert m.precise_reset and m.threshold_level == "V_th"


def test_an_expression_threshold_falls_on_the_grid_and_says_so():
    m = equation_model(name="expr", threshold="v > V_th + 2*mV", **FIELDS)
    assert not m.precise_reset
    assert "spikes on the step grid" in m.spec.settings.note


def test_interpolation_asked_for_an_expression_threshold_is_refused():
    with pytest.raises(EquationError, match="spike_timing interpolated") as err:
        equation_model(name="expr", threshold="v > V_th + 2*mV", spike_timing="interpolated",
                       **FIELDS)  # fmt: skip
    assert "\n" not in str(err.value)
