import json

import numpy as np
import pytest

from neuroscape.fit.targets import (
    Target,
    TargetError,
    read_target,
    read_trace_csv,
    write_nwb,
    write_trace_csv,
)


def test_csv_round_trip(tmp_path):
    t = np.arange(100) * 0.1
    v = -65 + np.sin(t)
    p = write_trace_csv(tmp_path / "t.csv", t, v)
    tg = read_target(p)
    assert tg.kind == "trace"
    np.testing.assert_allclose(tg.v_mV, v, atol=1e-5)
    assert tg.dt_ms == pytest.approx(0.1)


def test_nwb_round_trip_converts_volts_to_mV(tmp_path):
    t = np.arange(200) * 0.05
    v = -70 + 10 * np.cos(t)
    p = write_nwb(tmp_path / "t.nwb", t, v)
    tg = read_target(p)
    np.testing.assert_allclose(tg.v_mV, v, rtol=1e-6)
    np.testing.assert_allclose(tg.t_ms, t, atol=1e-9)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("t_ms,V\n0,1\n", "missing column 'V_mV'"),
        ("t_ms,V_mV\n0,abc\n", "line 2"),
        ("", "empty file"),
    ],
)
def test_bad_csv(tmp_path, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(TargetError, match=needle):
        read_trace_csv(p)


def test_nan_in_trace_is_named(tmp_path):
    t = np.arange(20) * 0.1
    v = np.zeros(20)
    v[7] = np.nan
    with pytest.raises(TargetError, match="sample 7"):
        Target("trace", t, v)


def test_uneven_sampling_rejected():
    t = np.r_[np.arange(10) * 0.1, 1.5]
    with pytest.raises(TargetError, match="equal steps"):
        Target("trace", t, np.zeros(11))


def test_json_targets(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"rates": {"r_E": 25, "r_I": 100}}))
    assert read_target(p).rates == {"r_E": 25.0, "r_I": 100.0}
    p.write_text(json.dumps({"behaviour": "bursting", "ranges": {"burst_period_ms": [50, 80]}}))
    tg = read_target(p)
    assert tg.behaviour == "bursting" and tg.ranges["burst_period_ms"] == (50.0, 80.0)
    p.write_text(json.dumps({"behaviour": "chaotic"}))
    with pytest.raises(TargetError, match="allowed: silent, tonic"):
        read_target(p)
    p.write_text(json.dumps({"rates": {"r_E": "fast"}}))
    with pytest.raises(TargetError, match="not a finite number"):
        read_target(p)


def test_json_outputs_target(tmp_path):
    p = tmp_path / "o.json"
    p.write_text(json.dumps({"outputs": {"rate": 60, "v_mean": {"value": -65, "sd": 2}}}))
    tg = read_target(p)
    assert tg.kind == "outputs" and tg.outputs == {"rate": 60.0, "v_mean": -65.0}
    assert tg.output_sd == {"v_mean": 2.0}
    assert tg.output_scales() == {"rate": 60.0, "v_mean": 2.0}
    for bad, needle in [
        ({"outputs": {"rate": 60}, "rates": {"r_E": 1}}, "mix target kinds"),
        ({"outputs": {"rate": {"value": 60, "sd": 0}}}, "outputs.rate.sd=0; allowed"),
        ({"outputs": {"rate": {"value": 60, "sd": "inf"}}}, "outputs.rate.sd='inf'"),
        ({"outputs": {"rate": {"value": None}}}, "outputs.rate=None is not a finite number"),
        ({"outputs": {"rate": True}}, "outputs.rate=True is not a finite number"),
        ({"outputs": [60]}, "outputs must be a non-empty object"),
    ]:
        p.write_text(json.dumps(bad))
        with pytest.raises(TargetError, match=needle):
            read_target(p)
    with pytest.raises(TargetError, match="sd of 'x', which is not a targeted output"):
        Target("outputs", outputs={"rate": 1.0}, output_sd={"x": 1.0})


def test_unknown_extension(tmp_path):
    with pytest.raises(TargetError, match="allowed: .csv, .nwb, .json"):
        read_target(tmp_path / "x.txt")


@pytest.mark.parametrize(
    "content, needle",
    [
        ("[1, 2]", "expected an object with one of rates"),
        ("{}", "expected an object with one of rates"),
        ('{"rates": {"rate": 5}, "features": {"spike_count": 3}}', "mix target kinds"),
        ('{"rates": [5]}', "rates must be an object"),
        ('{"rates": {"rate": true}}', "not a finite number"),
        ('{"ranges": {"rate": [5]}}', "expected \\[low, high\\]"),
        ('{"ranges": {"rate": [5, "x"]}}', "expected \\[low, high\\]"),
        ('{"behaviour": 3}', "behaviour=3; allowed: silent"),
        ('{"ranges": {"rate": [9, 5]}}', "low=9 must be <= high=5"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_json_targets_are_one_line(tmp_path, content, needle):
    p = tmp_path / "t.json"
    p.write_text(content)
    with pytest.raises(TargetError, match=needle) as e:
        read_target(p)
    assert "\n" not in str(e.value)


def test_unreadable_files_are_named(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TargetError, match="not a text CSV file"):
        read_target(binary)
    fake = tmp_path / "f.nwb"
    fake.write_text("not hdf5")
    with pytest.raises(TargetError, match="not a readable NWB file"):
        read_target(fake)
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(TargetError, match="is a folder"):
        read_target(tmp_path / "d.csv")
    with pytest.raises(TargetError, match="only an .nwb target has series"):
        read_target(binary, series="sweep0")


def test_current_column_round_trip_and_recorded_step(tmp_path):
    """A step of 2 nA from 1.5 ms to 3 ms, sampled every 0.1 ms, is read back as that step."""
    t = np.arange(50) * 0.1
    cur = np.where((t >= 1.5) & (t < 3.0), 2.0, 0.0)
    p = write_trace_csv(tmp_path / "t.csv", t, np.full(50, -65.0), cur, "nA")
    tg = read_target(p)
    assert tg.current_unit == "nA"
    np.testing.assert_allclose(tg.current, cur)
    stim = tg.recorded_stimulus()
    assert stim.kind == "step"
    np.testing.assert_allclose(stim.values[0, :3], [2.0, 1.5, 3.0])
    # dimensionless currents: a bare I column
    p = write_trace_csv(tmp_path / "u.csv", t, np.zeros(50), np.full(50, 0.5), "1")
    tg = read_target(p)
    assert p.read_text().splitlines()[0] == "t_ms,V_mV,I" and tg.current_unit == "1"
    assert tg.recorded_stimulus().values[0, 1] == 0.0  # on from the first sample
    assert np.isinf(tg.recorded_stimulus().values[0, 2])  # to the end


def test_first_spike_of_each_kind_of_model(tmp_path):
    """HH: the upward crossing of 0 mV; LIF: the reset, a drop far above the noise."""
    from neuroscape.fit.targets import first_spike_ms

    t = np.arange(300) * 0.1
    v = np.full(300, -65.0)
    v[100:105] = [-40.0, 0.5, 30.0, 10.0, -60.0]  # an action potential crossing 0 at 10.1 ms
    assert first_spike_ms("hh", Target("trace", t, v)) == pytest.approx(10.1)
    lif = -65.0 + 0.1 * np.random.default_rng(0).standard_normal(300)
    lif[150:200] = np.linspace(-65.0, -40.0, 50)
    lif[200:] = -70.0  # reset after the sample at 19.9 ms
    assert first_spike_ms("lif", Target("trace", t, lif)) == pytest.approx(19.9)
    assert first_spike_ms("lif", Target("trace", t, lif[:199].tolist() + [-40.0] * 101)) is None


@pytest.mark.parametrize("record_every", [1, 2, 5])
def test_fit_traces_lie_on_their_times_closed_form(record_every):
    # LIF below threshold under a step from t = 0: V(t) = V_rest + R I (1 - exp(-t/tau)) exactly
    # (exponential Euler is exact here); a trace labelled one step off would miss by up to
    # R I dt / tau = 0.5 mV at dt 0.05 ms
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.fit.problem import simulate_traces

    dt = 0.05
    t, v, _ = simulate_traces(
        "lif", {}, make_stimulus("step", amp=2.0, t_on=0.0), duration_ms=20.0, dt_ms=dt,
        record_every=record_every,
    )  # fmt: skip
    np.testing.assert_allclose(t, np.arange(len(t)) * dt * record_every, atol=1e-12)
    assert len(t) == 400 // record_every + 1  # t = 0 through the end
    truth = -65.0 + 10.0 * 2.0 * (1 - np.exp(-t / 10.0))
    assert np.abs(v[0] - truth).max() < 1e-6
