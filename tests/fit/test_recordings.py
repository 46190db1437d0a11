"""Recordings as fit targets (fit.recordings), against facts that this code did not make: the
documented protocols and spike counts of two real recordings (pyABF's sample step family, eFEL's
test trace), arrays written with pynwb's own API, and waveforms built here by hand."""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.fit.recordings import RecordingError, Step, Sweep, SweepSet, read_sweeps
from neuroscape.fit.targets import TargetError, write_nwb, write_trace_csv

DATA = Path(__file__).resolve().parents[1] / "data" / "recordings"
ABF = DATA / "171116sh_0018.abf"
TIV = DATA / "efel_current.txt"
ABF1 = DATA / "190619B_0003.abf"

# tests/data/recordings/README.md and the pyABF sample's description: 17 sweeps at 20 kHz,
# 500-ms steps from -100 to +300 pA by 25 pA, onset near 147 ms, rest near -62 mV
ABF_AMPS_PA = -100.0 + 25.0 * np.arange(17)
ABF_SPIKES = [0, 0, 0, 0, 0, 0, 1, 1, 3, 4, 5, 6, 6, 7, 8, 8, 9]
# eFEL's test trace: a 118.7 pA step from 700 to 2700 ms, 26 spikes, rest near -69.4 mV
EFEL_STEP = (118.7, 700.0, 2700.0)


def crossings(v: np.ndarray, t: np.ndarray, t0: float, t1: float, level: float = 0.0) -> int:
    """Upward crossings of ``level`` (mV) with t0 <= t < t1: spikes."""
    m = (t >= t0) & (t < t1)
    x = v[m]
    return int(np.sum((x[:-1] < level) & (x[1:] >= level)))


def one_line_error(fn, *args, match: str, **kw) -> str:
    with pytest.raises(RecordingError, match=match) as ei:
        fn(*args, **kw)
    msg = str(ei.value)
    assert "\n" not in msg and len(msg) < 400, msg
    assert isinstance(ei.value, TargetError)
    return msg


@pytest.fixture(scope="module")
def abf() -> SweepSet:
    return read_sweeps(ABF)


# --------------------------------------------------------------------------- ABF


def test_abf_sweeps_sampling_and_units(abf):
    assert len(abf) == 17 and abf.indices() == list(range(17))
    assert abf.rate_hz == pytest.approx(20000.0) and abf.dt_ms == pytest.approx(0.05)
    assert abf.format == "abf" and "protocol" in abf.current_source
    for s in abf.sweeps:
        assert s.t_ms[0] == 0.0 and np.allclose(np.diff(s.t_ms), 0.05)
        assert len(s.v_mV) == len(s.i_nA) == len(s.t_ms)
    d = abf.describe()
    assert d["units"] == {"t": "ms", "V": "mV", "I": "nA"} and d["rate_hz"] == 20000.0
    # rest near -62 mV before the step (the cell's membrane potential in mV, not volts or 10x)
    rest = [np.median(s.v_mV[s.t_ms < 140.0]) for s in abf.sweeps]
    assert np.all(np.abs(np.array(rest) - (-62.0)) < 1.5), rest


def test_abf_first_step_of_each_sweep_is_the_documented_one(abf):
    first = abf.window(0.0, 1146.85)  # the first step and the 500 ms after it
    assert first.t_start_ms == 0.0 and first.duration_ms == pytest.approx(1146.85)
    for k, amp_pA in zip(first.indices(), ABF_AMPS_PA, strict=True):
        step = first.step_of(k)
        assert isinstance(step, Step)
        amp, t_on, t_off = step  # unpacks as (amp_nA, t_on_ms, t_off_ms)
        assert amp == pytest.approx(amp_pA * 1e-3, abs=1e-12)
        assert abs(t_on - 147.0) < 0.5, t_on  # "onset near 147 ms"
        assert t_off - t_on == pytest.approx(500.0)  # 500-ms steps
        assert first.holding_of(k) == 0.0
    stim = first.as_step_stimulus("pA")
    assert stim.kind == "step" and stim.values.shape[0] == 17
    assert np.allclose(stim.values[:, 0], ABF_AMPS_PA)
    assert np.allclose(first.as_step_stimulus().values[:, 0], ABF_AMPS_PA * 1e-3)  # nA


def test_abf_spike_counts_and_responses_match_the_command(abf):
    counts = [crossings(s.v_mV, s.t_ms, 147.0, 647.0) for s in abf.sweeps]
    assert counts == ABF_SPIKES
    # the command read from the protocol is what the cell responded to: V moves with I's sign
    for s, amp in zip(abf.sweeps, ABF_AMPS_PA, strict=True):
        rest = np.median(s.v_mV[s.t_ms < 140.0])
        during = np.median(s.v_mV[(s.t_ms >= 400.0) & (s.t_ms < 640.0)])
        in_step = s.i_nA[(s.t_ms >= 150.0) & (s.t_ms < 640.0)]
        assert np.all(in_step == pytest.approx(amp * 1e-3))
        if abs(amp) >= 50:
            assert np.sign(during - rest) == np.sign(amp), (s.index, rest, during)
        # the protocol's third epoch: -100 pA for 500 ms from 1146.85 ms hyperpolarizes every sweep
        late = np.median(s.v_mV[(s.t_ms >= 1400.0) & (s.t_ms < 1640.0)])
        assert late < rest - 5.0


def test_abf_whole_sweeps_are_not_one_step_and_the_refusal_says_how_to_cut(abf):
    msg = one_line_error(abf.step_of, 8, match="changes level")
    assert "window(0, 1146.85)" in msg
    one_line_error(abf.as_step_stimulus, match="one step on a constant holding level")


def test_abf_select_offset_and_window_from_read(abf):
    odd = read_sweeps(ABF, sweeps=[1, 3, 5], v_offset_mV=10.0, window_ms=(0, 1146.85))
    assert odd.indices() == [1, 3, 5] and odd.v_offset_mV == 10.0
    for s in odd.sweeps:
        ref = abf.sweep(s.index)
        # V_cell = V_recorded - offset, on the same samples
        assert np.array_equal(s.v_mV, ref.v_mV[: len(s.v_mV)] - 10.0)
    assert abf.select([5, 1]).indices() == [5, 1]
    late = abf.window(1146.85, 2146.85)
    assert late.t_start_ms == pytest.approx(1146.85) and late.sweeps[0].t_ms[0] == 0.0
    assert late.step_of(16) == pytest.approx((0.4, 500.0, np.inf))  # -100 -> +300 pA
    assert late.holding_of(16) == pytest.approx(-0.1)


def test_abf_bad_sweep_indices(abf):
    msg = one_line_error(abf.select, [1, 17], match="sweep 17")
    assert "0-16" in msg
    one_line_error(read_sweeps, ABF, sweeps=[-1], match="sweep -1; allowed: 0-16")
    one_line_error(abf.select, [2, 2], match="repeat")
    one_line_error(abf.step_of, 40, match="sweep 40")
    one_line_error(abf.select([1, 3]).step_of, 2, match="allowed: 1, 3")


def test_corrupt_abf_files(tmp_path):
    junk = tmp_path / "junk.abf"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    one_line_error(read_sweeps, junk, match="not a readable ABF file")
    cut = tmp_path / "cut.abf"
    cut.write_bytes(ABF.read_bytes()[:3000])  # the header without its data
    one_line_error(read_sweeps, cut, match="not a readable ABF file")


def _patched_abf(tmp_path: Path, name: str, offset: int, data: bytes) -> Path:
    raw = bytearray(ABF.read_bytes())
    raw[offset : offset + len(data)] = data
    out = tmp_path / name
    out.write_bytes(bytes(raw))
    return out


def _ramp_abf(tmp_path: Path) -> Path:
    """The shipped file with epoch B of DAC 0 turned into a ramp (nEpochType = 2 at byte 4 of its
    48-byte entry, per neo's section table): neo would still draw a step there."""
    from neo.io import AxonIO

    sec = AxonIO(str(ABF))._axon_info["sections"]["EpochPerDACSection"]
    at = sec["uBlockIndex"] * 512 + 1 * sec["uBytes"] + 4
    return _patched_abf(tmp_path, "ramp.abf", at, np.int16(2).tobytes())


def test_abf_without_a_faithful_command_needs_current_nA(tmp_path, monkeypatch):
    import sys

    ramp = _ramp_abf(tmp_path)
    monkeypatch.setitem(sys.modules, "pyabf", None)  # no pyabf: no one rebuilds the ramp
    msg = one_line_error(read_sweeps, ramp, match="no command waveform.*current_nA")
    assert "ramp" in msg and "pyabf" in msg
    given = np.zeros((2, 60000))
    ss = read_sweeps(ramp, current_nA=given, sweeps=[0, 1])  # rows: the chosen sweeps
    assert ss.current_source == "given (current_nA)" and ss.step_of(1).amp_nA == 0.0


def test_a_ramp_epoch_is_rebuilt_by_pyabf(tmp_path, abf):
    ramp = read_sweeps(_ramp_abf(tmp_path))
    assert "pyabf" in ramp.current_source
    for k in (0, 8, 16):  # -100, 100 and 300 pA at epoch B's end
        t, i, i_step = ramp.sweep(k).t_ms, ramp.sweep(k).i_nA, abf.sweep(k).i_nA
        b = (t >= 146.85) & (t < 646.85)  # epoch B: a line from the holding 0 pA to the level
        slope, icpt = np.polyfit(t[b] - 146.85, i[b], 1)
        assert slope * 500.0 == pytest.approx(ABF_AMPS_PA[k] * 1e-3, rel=1e-3)
        assert abs(icpt) < 1e-4 and np.ptp(i[b] - (icpt + slope * (t[b] - 146.85))) < 1e-6
        assert np.array_equal(i[~b], i_step[~b])  # the other epochs: the steps neo rebuilds


def test_pyabf_rebuilds_the_step_protocol_that_neo_does(abf):
    from neuroscape.fit.recordings import _pyabf_command

    # two independent readers of the epoch table (neo's read_raw_protocol, Harden's pyabf)
    w, how = _pyabf_command(str(ABF), 0, 17, len(abf.sweep(0).t_ms), "test")
    assert "pyabf" in how
    assert np.array_equal(w, np.array([s.i_nA for s in abf.sweeps]))


def test_abf1_step_family_through_pyabf():
    """An ABF1 file (pCLAMP 8-era; neo reads its samples but not its protocol): its I-V/f-I
    family (protocol "IV_FI_IN0_saray", 10 sweeps of 3,064 ms at 10 kHz, a 1-s step from
    -120 pA by 60 pA) is rebuilt by pyabf, and the cell's own trace confirms the timing: the
    electrode's instantaneous drop lands on the command's edge, not a sample or 1/64 of a
    sweep (48 ms) away."""
    ss = read_sweeps(ABF1)
    assert len(ss) == 10 and ss.dt_ms == pytest.approx(0.1) and "pyabf" in ss.current_source
    for k in ss.indices():  # sweep 2 (0 pA) takes the family's times
        amp, t_on, t_off = ss.step_of(k)
        assert amp == pytest.approx((-120 + 60 * k) * 1e-3, abs=1e-12)
        assert t_on == pytest.approx(1047.8) and t_off - t_on == pytest.approx(1000.0)
    s = ss.sweep(0)  # -120 pA
    e = int(np.searchsorted(s.t_ms, 1047.8))
    assert s.i_nA[e - 1] == 0.0 and s.i_nA[e] == pytest.approx(-0.12)
    base = np.median(s.v_mV[e - 200 : e - 20])
    assert abs(np.median(s.v_mV[e - 20 : e]) - base) < 0.3  # nothing before the edge
    assert np.median(s.v_mV[e + 1 : e + 10]) < base - 1.5  # the drop right after it
    # spikes: eFEL's rule (upward crossings of -20 mV) in the step, rising with the current
    counts = [crossings(ss.sweep(k).v_mV, ss.sweep(k).t_ms, 1047.8, 2047.8, -20.0)
              for k in ss.indices()]
    assert counts[:6] == [0, 0, 0, 0, 3, 6], counts


def test_voltage_clamp_abf_is_refused(tmp_path):
    raw = ABF.read_bytes()
    at = raw.index(b"Cmd 0\x00pA") + len(b"Cmd 0\x00")  # the DAC's unit in the strings section
    vc = _patched_abf(tmp_path, "vc.abf", at, b"mV")
    one_line_error(read_sweeps, vc, match="Cmd 0 is in 'mV'.*voltage-clamp")


# --------------------------------------------------------------------------- t/I/V text


def test_efel_text_trace():
    ss = read_sweeps(TIV)
    assert len(ss) == 1 and ss.format == "tiv"
    assert ss.rate_hz == pytest.approx(4000.0)
    amp, t_on, t_off = ss.step_of(0)
    assert amp * 1e3 == pytest.approx(EFEL_STEP[0], abs=0.5)  # pA
    # the recorded current reaches the step one 0.25-ms sample after the stated times
    assert abs(t_on - EFEL_STEP[1]) <= 0.25 and abs(t_off - EFEL_STEP[2]) <= 0.25
    s = ss.sweeps[0]
    assert crossings(s.v_mV, s.t_ms, 700.0, 2700.0) == 26
    assert np.median(s.v_mV[s.t_ms < 700.0]) == pytest.approx(-69.4, abs=0.3)
    assert ss.holding_of(0) < 0  # a recorded -12.5 pA offset, outside the step


def test_efel_spike_count_with_efel():
    import efel

    s = read_sweeps(TIV).sweeps[0]
    trace = {"T": s.t_ms, "V": s.v_mV, "stim_start": [700.0], "stim_end": [2700.0]}
    (res,) = efel.get_feature_values([trace], ["Spikecount"])
    assert int(res["Spikecount"][0]) == 26


def write_tiv(path: Path, t_s, i_pA, v_mV) -> Path:
    np.savetxt(path, np.column_stack([t_s, i_pA, v_mV]), fmt="%.6f")
    return path


def test_noisy_step_found_and_other_waveforms_refused(tmp_path):
    rng = np.random.default_rng(3)
    t = np.arange(8000) * 1e-4  # 10 kHz, 0.8 s
    step = np.where((t >= 0.2) & (t < 0.6), 40.0, 0.0) + 7.0  # 40 pA on a 7 pA holding
    i = step + 5.0 * rng.standard_normal(len(t))
    v = -65.0 + rng.standard_normal(len(t))
    ss = read_sweeps(write_tiv(tmp_path / "noisy.txt", t, i, v))
    amp, t_on, t_off = ss.step_of(0)
    assert amp == pytest.approx(0.040, abs=0.002)
    assert t_on == pytest.approx(200.0, abs=0.2) and t_off == pytest.approx(600.0, abs=0.2)
    assert ss.holding_of(0) == pytest.approx(0.007, abs=0.002)
    # a step that lasts to the end
    end = read_sweeps(write_tiv(tmp_path / "end.txt", t, np.where(t >= 0.3, 25.0, 0.0), v))
    assert end.step_of(0) == pytest.approx((0.025, 300.0, np.inf))
    # two steps of different size, a ramp, a step that does not come back
    two = np.where((t >= 0.1) & (t < 0.3), 20.0, 0.0) + np.where((t >= 0.5) & (t < 0.7), 60, 0)
    ramp = np.where(t >= 0.2, 100.0 * (t - 0.2), 0.0)
    stair = np.where(t >= 0.2, 20.0, 0.0) + np.where(t >= 0.5, 20.0, 0.0)
    # a 1-ms test pulse before the step, exact (a command) and under noise
    pulse = step - 7.0 + np.where((t >= 0.05) & (t < 0.051), -30.0, 0.0)
    noisy_pulse = i + np.where((t >= 0.05) & (t < 0.051), -60.0, 0.0)
    for name, cur, what in (
        ("two", two, "changes level 4 times"),
        ("ramp", ramp, "not constant|departs from"),
        ("stair", stair, "changes level 2 times"),
        ("pulse", pulse, "departs from its 0-nA level between 50 and 51 ms.*-0.03 nA"),
        ("noisy_pulse", noisy_pulse, "departs from its 0.007.*-nA level between 50"),
    ):
        one_line_error(read_sweeps(write_tiv(tmp_path / f"{name}.txt", t, cur, v)).step_of, 0,
                       match=what)  # fmt: skip


def test_zero_sweep_takes_the_family_times():
    t = np.arange(4000) * 0.1
    amps = np.array([0.0, 0.05, 0.1])
    cur = np.where((t >= 100) & (t < 300), 1.0, 0.0)[None, :] * amps[:, None]
    fam = SweepSet(tuple(Sweep(k, t, 0 * t - 65, cur[k]) for k in range(3)), "hand-made", 0.1)
    assert fam.step_of(0) == (0.0, 100.0, 300.0)
    assert fam.step_of(2) == pytest.approx((0.1, 100.0, 300.0))
    assert fam.select([0]).step_of(0) == (0.0, 0.0, np.inf)  # alone: no shared times


# --------------------------------------------------------------------------- NWB


def _nwbfile():
    from pynwb import NWBFile

    nwb = NWBFile("recordings test", "id0", datetime(2024, 1, 1, tzinfo=UTC))
    dev = nwb.create_device("amplifier")
    elec = nwb.create_icephys_electrode(name="e0", description="patch", device=dev)
    return nwb, elec


def _write(nwb, path: Path) -> Path:
    from pynwb import NWBHDF5IO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hdmf's dtype notes on sweep_number
        with NWBHDF5IO(str(path), "w") as io:
            io.write(nwb)
    return path


# three sweeps of 300 samples at 10 kHz: V in mV stored with conversion 1e-3 (volts), I in pA
# stored with conversion 1e-12 (amperes); a step of 50 k pA from sample 50 to 250
N, RATE = 300, 10000.0
AMPS_PA = [-50.0, 50.0, 100.0]


def _arrays(k: int):
    i_pA = np.zeros(N, np.float32)
    i_pA[50:250] = AMPS_PA[k]
    v_mV = (-70.0 + 0.01 * k * np.arange(N)).astype(np.float32)
    return v_mV, i_pA


def test_nwb_icephys_with_the_recordings_table(tmp_path):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb, elec = _nwbfile()
    for k in range(3):
        v, i = _arrays(k)
        kw = {"electrode": elec, "rate": RATE, "starting_time": 2.0 * k, "gain": 1.0}
        stim = CurrentClampStimulusSeries(
            name=f"stim{k}", data=i, conversion=1e-12, sweep_number=np.uint32(10 + k), **kw
        )
        resp = CurrentClampSeries(
            name=f"resp{k}", data=v, conversion=1e-3, sweep_number=np.uint32(10 + k), **kw
        )
        nwb.add_intracellular_recording(electrode=elec, stimulus=stim, response=resp)
    path = _write(nwb, tmp_path / "table.nwb")
    ss = read_sweeps(path, v_offset_mV=-2.0)
    assert ss.indices() == [10, 11, 12] and ss.dt_ms == pytest.approx(0.1)
    assert "intracellular recordings table" in ss.current_source
    for k, s in enumerate(ss.sweeps):
        v, i = _arrays(k)
        assert np.allclose(s.v_mV, v.astype(float) + 2.0, atol=1e-4)  # V - (-2 mV)
        assert np.allclose(s.i_nA, i.astype(float) * 1e-3, atol=1e-9)
        assert s.t_ms[0] == 0.0 and s.t_ms[-1] == pytest.approx(29.9)
        assert ss.step_of(10 + k) == pytest.approx((AMPS_PA[k] * 1e-3, 5.0, 25.0))
    one_line_error(ss.select, [0], match="sweep 0; allowed: 10-12")


def test_nwb_paired_by_sweep_number_with_offset_bias_and_timestamps(tmp_path):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb, elec = _nwbfile()
    t_s = 5.0 + np.arange(N) / RATE
    for k in (1, 0):  # written out of order: sweep numbers give the order
        v, i = _arrays(k)
        nwb.add_stimulus(
            CurrentClampStimulusSeries(
                name=f"s{k}", data=i, conversion=1e-12, offset=2e-12, electrode=elec,
                gain=1.0, timestamps=t_s, sweep_number=np.uint32(k),
            )
        )  # fmt: skip
        nwb.add_acquisition(
            CurrentClampSeries(
                name=f"r{k}", data=v, conversion=1e-3, electrode=elec, gain=1.0,
                timestamps=t_s, sweep_number=np.uint32(k), bias_current=-10e-12,
            )
        )  # fmt: skip
    ss = read_sweeps(_write(nwb, tmp_path / "numbers.nwb"))
    assert ss.indices() == [0, 1] and ss.dt_ms == pytest.approx(0.1)
    assert "sweep_number" in ss.current_source
    for k in (0, 1):
        s = ss.sweep(k)
        _, i = _arrays(k)
        # data x conversion + offset (amperes) plus the bias current: (i + 2 - 10) pA
        assert np.allclose(s.i_nA, (i.astype(float) + 2.0 - 10.0) * 1e-3, atol=1e-9)
        assert ss.holding_of(k) == pytest.approx(-0.008)
        assert ss.step_of(k) == pytest.approx((AMPS_PA[k] * 1e-3, 5.0, 25.0))


def test_nwb_without_a_stimulus_needs_current_nA(tmp_path):
    from pynwb.icephys import CurrentClampSeries

    nwb, elec = _nwbfile()
    v, i = _arrays(2)
    nwb.add_acquisition(
        CurrentClampSeries(name="r", data=v, conversion=1e-3, electrode=elec, gain=1.0, rate=RATE)
    )
    path = _write(nwb, tmp_path / "nostim.nwb")
    one_line_error(read_sweeps, path, match="no command waveform.*current_nA")
    given = read_sweeps(path, current_nA=make_stimulus("step", amp=0.1, t_on=5.0, t_off=25.0))
    assert given.current_source == "given (current_nA)"
    assert np.allclose(given.sweeps[0].i_nA, i.astype(float) * 1e-3)
    assert given.step_of(0) == pytest.approx((0.1, 5.0, 25.0))
    samples = read_sweeps(path, current_nA=i.astype(float) * 1e-3)
    assert np.array_equal(samples.sweeps[0].i_nA, given.sweeps[0].i_nA)
    one_line_error(read_sweeps, path, current_nA=np.zeros(7), match="shape")


def test_a_file_with_its_own_current_refuses_current_nA():
    one_line_error(read_sweeps, TIV, current_nA=np.zeros(12000), match="records its injected")


def test_nwb_mismatched_sampling_and_nan(tmp_path):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb, elec = _nwbfile()
    for k, rate in ((0, RATE), (1, 2 * RATE)):
        v, i = _arrays(k)
        kw = {"electrode": elec, "rate": rate, "gain": 1.0, "sweep_number": np.uint32(k)}
        nwb.add_stimulus(CurrentClampStimulusSeries(name=f"s{k}", data=i, conversion=1e-12, **kw))
        nwb.add_acquisition(CurrentClampSeries(name=f"r{k}", data=v, conversion=1e-3, **kw))
    msg = one_line_error(read_sweeps, _write(nwb, tmp_path / "rates.nwb"), match="sampled every")
    assert "0.05 ms" in msg and "0.1 ms" in msg

    nwb, elec = _nwbfile()
    for k in (0, 1):
        v, i = _arrays(k)
        if k == 1:
            i[123] = np.nan
        kw = {"electrode": elec, "rate": RATE, "gain": 1.0, "sweep_number": np.uint32(k)}
        nwb.add_stimulus(CurrentClampStimulusSeries(name=f"s{k}", data=i, conversion=1e-12, **kw))
        nwb.add_acquisition(CurrentClampSeries(name=f"r{k}", data=v, conversion=1e-3, **kw))
    path = _write(nwb, tmp_path / "nan.nwb")
    one_line_error(read_sweeps, path, match="sweep 1: I is NaN.*sample 123")
    assert read_sweeps(path, sweeps=[0]).indices() == [0]  # the NaN sweep is not chosen


def test_nwb_reads_only_the_chosen_sweeps(tmp_path):
    """A cell's NWB file holds sweeps of other protocols; one whose stimulus and response
    differ in length (no part of a sweep is dropped to pair them) is refused when chosen, by
    its label, and does not stop the others from being read."""
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb, elec = _nwbfile()
    for k in (0, 1, 2):
        v, i = _arrays(k)
        if k == 1:
            i = i[:-20]
        kw = {"electrode": elec, "rate": RATE, "gain": 1.0, "sweep_number": np.uint32(k)}
        nwb.add_stimulus(CurrentClampStimulusSeries(name=f"s{k}", data=i, conversion=1e-12, **kw))
        nwb.add_acquisition(CurrentClampSeries(name=f"r{k}", data=v, conversion=1e-3, **kw))
    path = _write(nwb, tmp_path / "mixed.nwb")
    one_line_error(read_sweeps, path, match="sweep 1: V starts at 0 ms with 300 samples, I")
    one_line_error(read_sweeps, path, sweeps=[2, 1], match="sweep 1: V starts")
    ss = read_sweeps(path, sweeps=[2, 0])
    assert ss.indices() == [2, 0]
    for k in (2, 0):
        assert np.allclose(ss.sweep(k).i_nA, _arrays(k)[1].astype(float) * 1e-3, atol=1e-9)
    one_line_error(read_sweeps, path, sweeps=[3], match="sweep 3; allowed: 0-2")


def test_neuroscape_nwb_and_csv_traces_load_as_one_sweep(tmp_path):
    t = np.arange(2000) * 0.05
    v = -65.0 + np.sin(t)
    stim = make_stimulus("step", amp=0.2, t_on=20.0, t_off=70.0)
    path = write_nwb(tmp_path / "ns.nwb", t, v, stimulus=stim, current_unit="nA")
    ss = read_sweeps(path)
    assert len(ss) == 1 and ss.dt_ms == pytest.approx(0.05)
    assert np.allclose(ss.sweeps[0].v_mV, v, atol=1e-9)
    assert ss.step_of(0) == pytest.approx((0.2, 20.0, 70.0))
    bare = write_nwb(tmp_path / "bare.nwb", t, v)
    one_line_error(read_sweeps, bare, match="no command waveform")
    i_pA = np.where((t >= 20) & (t < 70), 200.0, 0.0)
    csv = write_trace_csv(tmp_path / "ns.csv", t, v, i_pA, "pA")
    c = read_sweeps(csv)
    assert np.allclose(c.sweeps[0].i_nA, i_pA / 1e3) and c.step_of(0) == pytest.approx(
        (0.2, 20.0, 70.0)
    )
    dens = write_trace_csv(tmp_path / "dens.csv", t, v, i_pA, "uA/cm2")
    one_line_error(read_sweeps, dens, match="uA/cm2")
    one_line_error(read_sweeps, write_trace_csv(tmp_path / "nocur.csv", t, v),
                   match="no command waveform")  # fmt: skip


# --------------------------------------------------------------------------- other bad input


def test_unreadable_files_nan_and_uneven_times(tmp_path):
    nwb = tmp_path / "not.nwb"
    nwb.write_text("this is not HDF5\n")
    one_line_error(read_sweeps, nwb, match="not a readable NWB file")
    one_line_error(read_sweeps, tmp_path / "missing.abf", match="does not exist")
    one_line_error(read_sweeps, tmp_path / "x.wav", match="allowed: .abf, .nwb")
    one_line_error(read_sweeps, TIV, v_offset_mV=float("nan"), match="v_offset_mV")
    text = tmp_path / "words.txt"
    text.write_text("t I V\n0 1 2\n")
    one_line_error(read_sweeps, text, match="t/I/V text format")
    t = np.arange(100) * 1e-3
    v = np.full(100, -65.0)
    v[42] = np.nan
    one_line_error(read_sweeps, write_tiv(tmp_path / "nan.txt", t, 0 * t, v),
                   match="V is NaN or inf at sample 42")  # fmt: skip
    gap = np.delete(t, 50)  # a missing sample: not one sampling interval
    one_line_error(read_sweeps, write_tiv(tmp_path / "gap.txt", gap, gap * 0, gap * 0 - 65),
                   match="not sampled uniformly")  # fmt: skip
    two = tmp_path / "two.txt"
    np.savetxt(two, np.column_stack([t, t]))
    one_line_error(read_sweeps, two, match="2 columns")


def test_window_and_unit_refusals(tmp_path, abf):
    one_line_error(abf.window, 500.0, 100.0, match="window 500-100 ms")
    one_line_error(abf.window, 0.0, 4000.0, match="<= 3000 ms")
    one_line_error(abf.window, 0.0, 0.2, match="4 samples")
    first = abf.window(0, 1146.85)
    one_line_error(first.as_step_stimulus, "uA/cm2", match="current unit 'uA/cm2'")
    copy = tmp_path / "copy.abf"
    shutil.copy(ABF, copy)
    assert read_sweeps(copy, sweeps=[16]).indices() == [16]
