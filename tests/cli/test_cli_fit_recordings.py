"""neuroscape fit on a recording (ABF, NWB icephys, t/I/V text): fitted and held-out sweeps,
result.json's validation list, figures, printed units, and one-line refusals (exit 2) of bad
recordings and options."""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from neuroscape.testing import refused_cli, run_cli, strict_json

ABF = Path(__file__).resolve().parents[1] / "data" / "recordings" / "171116sh_0018.abf"
FIRST_STEP = ["--window-ms", "0:1146.85"]  # the protocol's first step and the rest after it
CHEAP = ["--free", "g_L=5:30", "--free", "V_T=-58:-42", "--budget", "32", "--seed", "1"]


def run(args, capsys):
    return run_cli([str(a) for a in args], capsys)


def refused(args, capsys, needle, *folders):
    return refused_cli(args, capsys, needle, *folders)


@pytest.fixture(scope="module")
def abf_fit(tmp_path_factory):
    """adex on sweeps 9 and 11 (125 and 175 pA), sweep 10 (150 pA) held out."""
    from neuroscape.cli.main import main

    out = tmp_path_factory.mktemp("fit")
    args = ["fit", "adex", "--target", ABF, *FIRST_STEP, "--sweeps", "9,11",
            "--validate-sweeps", "10", *CHEAP, "--out", out]  # fmt: skip
    assert main([str(a) for a in args]) == 0
    return out


def test_result_has_a_validation_entry_per_held_out_sweep(abf_fit):
    d = strict_json((abf_fit / "result.json").read_text())
    assert [e["sweep"] for e in d["validation"]] == [10]
    v = d["validation"][0]
    # the file's sweep 10: a 150-pA step, 5 spikes (its README and protocol)
    assert v["amp_nA"] == pytest.approx(0.15)
    assert v["spikes_recorded"] == 5
    assert isinstance(v["spikes_model"], int)
    assert v["feature_errors"]["spike_count"] == abs(v["spikes_model"] - 5)
    assert {"time_to_first_spike", "voltage_base"} <= set(v["feature_errors"])
    assert [e["sweep"] for e in d["fitted_sweeps"]] == [9, 11]
    assert [e["spikes_recorded"] for e in d["fitted_sweeps"]] == [4, 6]
    assert d["simulations"] == 32 and d["simulations_per_candidate"] == 2
    assert d["measure_units"] == dict.fromkeys(d["measures"], "1")
    assert d["feature_units"]["time_to_first_spike"] == "ms"
    assert d["recording"]["v_offset_mV"] == 0.0 and d["recording"]["dt_ms"] == 0.05
    assert d["sweep_fit"]["sweeps"][0]["t_on_ms"] == pytest.approx(146.85)
    for f in ("sweeps.png", "fi.png", "convergence.png"):
        assert (abf_fit / f).stat().st_size > 1000


def test_printed_numbers_carry_units(tmp_path, capsys):
    args = ["fit", "adex", "--target", ABF, *FIRST_STEP, "--sweeps", "9",
            "--validate-sweeps", "8", "--v-offset", "-2.5", *CHEAP, "--out", tmp_path]  # fmt: skip
    rc, out, err = run(args, capsys)
    assert rc == 0, err
    assert "recorded every 0.05 ms, compared every 0.1 ms" in out
    assert "V offset -2.5 mV" in out
    assert "sweep 8, 0.1 nA: 3 vs" in out  # 3 recorded spikes (the file's README)
    assert "candidates, each on 1 sweeps" in out
    assert "error (feature sds): spike_count" in out and " sd" in out
    assert "held-out spiking sweeps with the spike count within max(1 spike, 15%)" in out
    d = strict_json((tmp_path / "result.json").read_text())
    assert d["recording"]["v_offset_mV"] == -2.5
    # V_cell = V_recorded - offset: the recorded rest near -61 mV reads 2.5 mV higher
    base = d["validation"][0]["features_recorded"]["voltage_base"]
    assert -59.5 < base < -57.0


def test_json_summary_is_strict(tmp_path, capsys):
    args = ["fit", "adex", "--target", ABF, *FIRST_STEP, "--sweeps", "9", "--validate-sweeps",
            "6", *CHEAP, "--out", tmp_path, "--json"]  # fmt: skip
    rc, out, err = run(args, capsys)
    assert rc == 0, err
    d = strict_json(out)
    assert d["validation"][0]["sweep"] == 6 and d["validation"][0]["spikes_recorded"] == 1
    assert d["simulations_per_candidate"] == 1
    assert len(d["held_out_spiking_within_max_1_or_15pct"]) == 2


def test_insensitive_free_parameters_warn(tmp_path, capsys):
    """Subthreshold sweeps only: the spike-triggered adaptation b moves no feature."""
    args = ["fit", "adex", "--target", ABF, *FIRST_STEP, "--sweeps", "0,1",
            "--free", "b=0:100", "--budget", "16", "--out", tmp_path]  # fmt: skip
    rc, _, err = run(args, capsys)
    assert rc == 0
    assert "neuroscape: warning: no free parameter (b) changes any objective" in err


# ----------------------------------------------------------------------------------- refusals
def _write_nwb(path: Path, rates, nan_at=None) -> Path:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb = NWBFile("cli test", "id0", datetime(2024, 1, 1, tzinfo=UTC))
    dev = nwb.create_device("amplifier")
    elec = nwb.create_icephys_electrode(name="e0", description="patch", device=dev)
    for k, rate in enumerate(rates):
        i = np.zeros(400, np.float32)
        i[100:300] = 50.0 * (k + 1)
        v = np.full(400, -65.0, np.float32)
        if nan_at is not None and k == 1:
            v[nan_at] = np.nan
        kw = {"electrode": elec, "rate": rate, "gain": 1.0, "sweep_number": np.uint32(k)}
        nwb.add_stimulus(CurrentClampStimulusSeries(name=f"s{k}", data=i, conversion=1e-12, **kw))
        nwb.add_acquisition(CurrentClampSeries(name=f"r{k}", data=v, conversion=1e-3, **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)
    return path


def test_bad_recordings_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["fit", "adex", "--free", "g_L", "--budget", "16", "--out", out]
    junk = tmp_path / "junk.abf"
    junk.write_bytes(b"\x00not an abf file" * 50)
    refused([*base, "--target", junk], capsys, "junk.abf", tmp_path)
    refused([*base, "--target", ABF, *FIRST_STEP, "--sweeps", "3,40"], capsys, "sweep 40",
            tmp_path)  # fmt: skip
    # the whole sweeps hold several steps: the refusal says how to cut them
    refused([*base, "--target", ABF, "--sweeps", "3"], capsys, "--window-ms 0:1146.85", tmp_path)
    nocur = tmp_path / "nocur.csv"
    t = np.arange(2000) * 0.1
    nocur.write_text("t_ms,V_mV\n" + "".join(f"{a:g},{-65.0:g}\n" for a in t))
    refused([*base, "--target", nocur, "--sweeps", "0"], capsys, "no command waveform",
            tmp_path)  # fmt: skip
    refused([*base, "--target", nocur, "--sweeps", "0", "--current", "0.1"], capsys, "--t-on",
            tmp_path)  # fmt: skip
    rates = _write_nwb(tmp_path / "rates.nwb", [10000.0, 20000.0])
    refused([*base, "--target", rates, "--sweeps", "0,1"], capsys, "sampled every", tmp_path)
    nan = _write_nwb(tmp_path / "nan.nwb", [10000.0, 10000.0], nan_at=123)
    refused([*base, "--target", nan, "--sweeps", "0,1"], capsys, "NaN", tmp_path)
    assert not out.exists()


def test_bad_options_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["fit", "adex", "--target", ABF, *FIRST_STEP, "--free", "g_L", "--budget", "16",
            "--out", out]  # fmt: skip
    refused([*base, "--sweeps", "1,3", "--validate-sweeps", "3,5"], capsys,
            "sweep 3 is in --sweeps and --validate-sweeps", tmp_path)  # fmt: skip
    refused([*base, "--sweeps", "1", "--measure", "rms"], capsys, "--measure", tmp_path)
    refused([*base, "--sweeps", "1.5"], capsys, "--sweeps", tmp_path)
    refused([*base, "--sweeps", "1", "--objective", "ap_shape"], capsys, "integrate-and-fire",
            tmp_path)  # fmt: skip
    refused([*base, "--sweeps", "1", "--objective", "window_rms"], capsys, "--rms-window",
            tmp_path)  # fmt: skip
    refused([*base, "--sweeps", "1", "--db", tmp_path / "x.db"], capsys, "--db", tmp_path)
    refused(["fit", "hh", "--target", ABF, *FIRST_STEP, "--sweeps", "1", "--free", "g_L",
             "--out", out], capsys, "uA/cm^2", tmp_path)  # fmt: skip
    assert not out.exists()


def test_recording_options_refused_for_one_trace(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    t = [0.1 * k for k in range(200)]
    csv.write_text("t_ms,V_mV,I_nA\n" + "".join(f"{a:g},-65,0\n" for a in t))
    for opt in (["--objective", "fI"], ["--settle-ms", "50"], ["--current-per-na", "2"]):
        refused(["fit", "lif", "--target", csv, "--free", "R", *opt, "--out", tmp_path / "o"],
                capsys, "is for recording targets", tmp_path)  # fmt: skip


def test_text_recording_with_a_wrong_window(tmp_path, capsys):
    """eFEL's t/I/V trace is a recording too (suffix .txt); a window past its end is refused."""
    txt = Path(__file__).resolve().parents[1] / "data" / "recordings" / "efel_current.txt"
    copy = tmp_path / "cell.txt"
    shutil.copy(txt, copy)
    refused(["fit", "adex", "--target", copy, "--window-ms", "0:99999", "--free", "g_L",
             "--out", tmp_path / "o"], capsys, "window", tmp_path)  # fmt: skip
