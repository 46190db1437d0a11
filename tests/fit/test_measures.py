import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.fit import synthetic_trace
from neuroscape.fit.measures import (
    SimOutput,
    burst_period,
    class_,
    outputs,
    phase_plane,
    rates,
    rms,
)
from neuroscape.fit.targets import Target


def _out(t, *rows):
    return SimOutput(outputs=None, output_names=[], ok=None, errors=None, t_ms=t, v=np.vstack(rows))


def test_phase_plane_ignores_time_shift_rms_does_not():
    """The bar: against its own time-shifted copy the phase-plane distance is below 5% of its
    distance to a trace of another behaviour class; RMS does not separate the two."""
    hh = {"g_Na": 120.0, "g_K": 36.0, "g_L": 0.3}
    kw = dict(duration_ms=300.0, dt_ms=0.025, record_every=4)
    tonic = synthetic_trace("hh", hh, make_stimulus("step", amp=10.0), **kw)
    silent = synthetic_trace("hh", hh, make_stimulus("step", amp=2.0), **kw)
    k = 57  # a 5.7-ms shift, about half an interspike interval
    base = Target("trace", tonic.t_ms[:-k], tonic.v_mV[:-k])
    out = _out(base.t_ms, tonic.v_mV[k:], silent.v_mV[:-k])
    pp, r = phase_plane(out, base), rms(out, base)
    assert pp[0] < 0.05 * pp[1], pp
    assert r[0] > 0.5 * r[1], r  # RMS: the shifted copy looks as bad as another class
    assert phase_plane(_out(base.t_ms, base.v_mV), base)[0] == 0.0


def test_rms_closed_form():
    t = np.arange(1000) * 0.1
    tg = Target("trace", t, np.zeros_like(t))
    np.testing.assert_allclose(rms(_out(t, np.full_like(t, 3.0)), tg), [3.0])


def test_burst_period():
    bursts = np.concatenate([s + np.array([0, 3, 6]) for s in (0, 50, 100, 150)])
    assert burst_period(bursts) == pytest.approx(50.0)
    assert np.isnan(burst_period(np.arange(10) * 10.0))  # tonic: no bursts


def test_class_and_ranges():
    t = np.arange(10) * 0.1
    tonic = np.arange(0, 1000, 20.0)
    out = SimOutput(
        outputs=np.array([[50.0, 0.0]]),
        output_names=["rate", "cv_isi"],
        ok=np.array([True]),
        errors=[None],
        t_ms=t,
        v=np.zeros((1, 10)),
        spike_times=[tonic],
        window=(0.0, 1000.0),
    )
    assert class_(out, Target("class", behaviour="tonic"))[0] == 0
    assert class_(out, Target("class", behaviour="bursting"))[0] == 1
    assert class_(out, Target("class", ranges={"rate": (40.0, 60.0)}))[0] == 0
    assert class_(out, Target("class", ranges={"rate": (60.0, 70.0)}))[0] == pytest.approx(1.0)


def test_rates_measure_names_unknown_outputs():
    out = SimOutput(
        outputs=np.array([[10.0, 40.0]]),
        output_names=["r_E", "r_I"],
        ok=np.array([True]),
        errors=[None],
    )
    assert rates(out, Target("rates", rates={"r_E": 12, "r_I": 37}))[0] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="allowed: r_E, r_I"):
        rates(out, Target("rates", rates={"r_X": 1}))


def test_outputs_measure_closed_form():
    """sqrt(sum z^2), z = (model - value) / (sd, else |value|), per row; failed rows are the
    problem's business (inf), not the measure's."""
    out = SimOutput(
        outputs=np.array([[10.0, 40.0], [12.0, 37.0]]),
        output_names=["r_E", "r_I"],
        ok=np.array([True, True]),
        errors=[None, None],
    )
    tg = Target("outputs", outputs={"r_E": 12, "r_I": 37}, output_sd={"r_E": 0.5})
    z0 = np.hypot((10 - 12) / 0.5, (40 - 37) / 37)
    np.testing.assert_allclose(outputs(out, tg), [z0, 0.0], rtol=1e-12)
    # a rates target under the outputs measure: relative errors
    np.testing.assert_allclose(
        outputs(out, Target("rates", rates={"r_I": 37})), [3 / 37, 0.0], rtol=1e-12
    )
    # the rates measure of an outputs target's values: |model - value| in Hz, summed
    np.testing.assert_allclose(rates(out, tg), [5.0, 0.0], rtol=1e-12)
    with pytest.raises(ValueError, match="names output 'r_X'; allowed: r_E, r_I"):
        outputs(out, Target("outputs", outputs={"r_X": 1}))
