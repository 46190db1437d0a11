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


def test_unknown_extension(tmp_path):
    with pytest.raises(TargetError, match="allowed: .csv, .nwb, .json"):
        read_target(tmp_path / "x.txt")
