"""Whole-cell recordings as fit targets: a family of current-clamp sweeps, each with the current
that the file says was injected.

Formats (by extension):

- ``.abf``: Axon binary files through ``neo.io.AxonIO``. V: the first channel in volts (mV, V);
  I: the command waveform that neo rebuilds from the ABF2 protocol's step epochs
  (``read_raw_protocol``: the DAC's holding level for the first 1/64 of the sweep, then each
  epoch in turn, at level ``init + sweep x increment`` for ``init + sweep x increment``
  samples, then the holding level), in the DAC's unit (pA, nA); protocols neo does not rebuild
  faithfully (ramps, trains, ABF1) are rebuilt by ``pyabf`` instead (Harden's ``sweepC``, which
  equals neo's waveform sample for sample where both rebuild one), a stimulus file counts as
  none. Without a command: a recorded current channel (pA, nA). A command in volts (voltage
  clamp) is refused.
- ``.nwb``: NWB icephys through ``pynwb``: each ``CurrentClampSeries`` (V) with its
  ``CurrentClampStimulusSeries`` (I), paired by the intracellular recordings table, else by
  ``sweep_number``, else when the file holds one of each; ``data x conversion + offset`` in
  volts and amperes, plus the series' ``bias_current``; times from ``rate`` (or uniform
  ``timestamps``) and ``starting_time``. A single-trace file written by neuroscape
  (``fit.targets.write_nwb``) is one sweep whose current comes from its recorded stimulus.
- ``.txt``/``.dat``: three whitespace-separated columns t (s), I (pA), V (mV), one sweep (the
  format of eFEL's test data); ``#`` starts a comment.
- ``.csv``: neuroscape's trace CSV (``t_ms,V_mV`` and optionally ``I_<unit>``), one sweep.

Every sweep is stated in t (ms, from 0 at the sweep's first sample), V (mV) and I (nA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from neuroscape.core.stimuli import Stimulus, StimulusError, make_stimulus
from neuroscape.fit.targets import TargetError, open_nwb

FORMATS = {".abf": "abf", ".nwb": "nwb", ".txt": "tiv", ".dat": "tiv", ".csv": "csv"}
TIV_FORMAT = "three columns: t (s), I (pA), V (mV)"
UNITS = {"t": "ms", "V": "mV", "I": "nA"}
# current units: how many of each make 1 nA (divisions keep 175 pA = 0.175 nA exact in print)
_PER_NA = {"fA": 1e6, "pA": 1e3, "nA": 1.0, "uA": 1e-3, "µA": 1e-3, "mA": 1e-6, "A": 1e-9}
_EPOCH_TYPES = {0: "off", 1: "step", 2: "ramp", 3: "pulse train", 4: "triangle train",
                5: "cosine train", 7: "biphasic train"}  # fmt: skip


class RecordingError(TargetError):
    """A recording that cannot be used as a fit target (one line naming the bad value and what
    is allowed)."""


class Step(NamedTuple):
    """A sweep's command as one step: ``amp_nA`` above the holding level from ``t_on_ms`` to
    ``t_off_ms`` (inf: until the sweep ends)."""

    amp_nA: float
    t_on_ms: float
    t_off_ms: float


@dataclass(frozen=True, eq=False)
class Sweep:
    """One sweep: ``index`` in the file (0-based; NWB: its ``sweep_number`` when every series
    has a distinct one), ``t_ms`` (T,) uniform from 0 ms, ``v_mV`` (T,) with the liquid-junction
    offset applied, ``i_nA`` (T,) the injected current."""

    index: int
    t_ms: np.ndarray
    v_mV: np.ndarray
    i_nA: np.ndarray


@dataclass(frozen=True, eq=False)
class SweepSet:
    """Sweeps of one recording, all sampled every ``dt_ms``. ``source``: the file;
    ``v_offset_mV``: the liquid-junction offset already subtracted from V; ``current_source``:
    where I came from; ``t_start_ms``: the file's time of each sweep's first sample (non-zero
    after ``window``); ``format``: abf, nwb, tiv or csv."""

    sweeps: tuple[Sweep, ...]
    source: str
    dt_ms: float
    v_offset_mV: float = 0.0
    current_source: str = ""
    t_start_ms: float = 0.0
    format: str = ""

    def __post_init__(self) -> None:
        if not self.sweeps:
            raise RecordingError(f"{self.source}: no sweeps")
        idx = [s.index for s in self.sweeps]
        if len(set(idx)) != len(idx):
            raise RecordingError(f"{self.source}: sweep indices repeat ({idx})")

    def __len__(self) -> int:
        return len(self.sweeps)

    def indices(self) -> list[int]:
        """The sweeps' indices in the file, in this set's order."""
        return [s.index for s in self.sweeps]

    @property
    def rate_hz(self) -> float:
        """The sampling rate (Hz)."""
        return 1e3 / self.dt_ms

    @property
    def duration_ms(self) -> float:
        """The sweeps' common duration (ms): samples x dt; refused if their lengths differ."""
        return self._common_length() * self.dt_ms

    @property
    def t_ms(self) -> np.ndarray:
        """(T,) the common sample times (ms)."""
        return np.arange(self._common_length()) * self.dt_ms

    @property
    def v_mV(self) -> np.ndarray:
        """(sweeps, T) the membrane potential (mV, offset applied)."""
        self._common_length()
        return np.stack([s.v_mV for s in self.sweeps])

    @property
    def i_nA(self) -> np.ndarray:
        """(sweeps, T) the injected current (nA)."""
        self._common_length()
        return np.stack([s.i_nA for s in self.sweeps])

    def _common_length(self) -> int:
        lengths = sorted({len(s.t_ms) for s in self.sweeps})
        if len(lengths) > 1:
            raise RecordingError(
                f"{self.source}: sweeps of {lengths[0]} to {lengths[-1]} samples; select sweeps "
                "of one length"
            )
        return lengths[0]

    def sweep(self, k: int) -> Sweep:
        """The sweep with file index ``k``."""
        return self.sweeps[self._position(k)]

    def _position(self, k) -> int:
        return _positions(self.source, self.indices(), [k])[0]

    def select(self, indices: Sequence[int]) -> SweepSet:
        """The sweeps with these file indices, in this order."""
        pos = _positions(self.source, self.indices(), indices)
        return replace(self, sweeps=tuple(self.sweeps[p] for p in pos))

    def window(self, t_start_ms: float, t_stop_ms: float) -> SweepSet:
        """The samples with ``t_start_ms <= t < t_stop_ms`` (ms, the sweeps' current times), as
        sweeps starting at 0 ms again (``t_start_ms`` of the result: their time in the file).
        Cuts a multi-step protocol down to one step."""
        t0, t1 = float(t_start_ms), float(t_stop_ms)
        longest = max(len(s.t_ms) for s in self.sweeps) * self.dt_ms
        if not (math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 < t1 <= longest + 1e-9):
            raise RecordingError(
                f"{self.source}: window {t0:g}-{t1:g} ms; allowed: 0 <= start < stop <= "
                f"{longest:g} ms"
            )
        a = int(math.ceil(t0 / self.dt_ms - 1e-6))
        b = int(math.ceil(t1 / self.dt_ms - 1e-6))
        if b - a < 10:
            raise RecordingError(
                f"{self.source}: window {t0:g}-{t1:g} ms holds {b - a} samples; allowed: >= 10"
            )
        out = []
        for s in self.sweeps:
            if len(s.t_ms) < b:
                raise RecordingError(
                    f"{self.source}: sweep {s.index} ends at {len(s.t_ms) * self.dt_ms:g} ms, "
                    f"before the window's end {t1:g} ms"
                )
            out.append(
                Sweep(
                    s.index, np.arange(b - a) * self.dt_ms, s.v_mV[a:b].copy(), s.i_nA[a:b].copy()
                )
            )
        return replace(self, sweeps=tuple(out), t_start_ms=self.t_start_ms + a * self.dt_ms)

    @cached_property
    def _steps(self) -> dict[int, _StepFit | str]:
        return {s.index: _fit_step(s.i_nA, self.dt_ms) for s in self.sweeps}

    def step_of(self, k: int) -> Step:
        """Sweep ``k``'s command as one step (amp_nA, t_on_ms, t_off_ms), found from its current:
        a constant holding level, one level from t_on (the first sample there) to t_off (the
        first sample back; inf when the step lasts to the end), and the holding level again.

        The amplitude is the change from the holding level. A non-zero holding current is not
        part of the step: it is in ``holding_of(k)``, and the cell is fitted as held (its
        recorded rest includes the holding current's effect), which assumes it sat at the
        holding level long before the sweep: a window that starts just after another level
        (e.g. the ABF's second step, 0.5 s after -100 pA) is not such a sweep. A sweep with a
        constant current has amplitude 0 and the step times that all the set's other steps
        share (0 and inf when they differ or there are none). Any other waveform is refused in
        one line; a protocol of several steps can be cut to one with ``window``. Levels are
        medians (robust to noise and artefacts of a recorded current); jumps count from ten
        noise SDs up."""
        fit = self._steps[self.sweep(k).index]
        if isinstance(fit, str):
            raise RecordingError(f"{self.source}: sweep {k}: {fit}")
        if fit.t_on_ms is not None:
            return Step(fit.amp_nA, fit.t_on_ms, fit.t_off_ms)
        times = {
            (f.t_on_ms, f.t_off_ms)
            for f in self._steps.values()
            if not isinstance(f, str) and f.t_on_ms is not None
        }
        if len(times) == 1:
            t_on, t_off = times.pop()
            return Step(0.0, t_on, t_off)
        return Step(0.0, 0.0, math.inf)

    def holding_of(self, k: int) -> float:
        """Sweep ``k``'s holding current (nA): the level before and after its step."""
        self.step_of(k)
        return self._steps[self.sweep(k).index].holding_nA

    def as_step_stimulus(self, current_unit: str = "nA") -> Stimulus:
        """The sweeps' steps as one ``step`` stimulus, one row per sweep in this set's order, with
        amplitudes in ``current_unit`` (pA, nA, uA, ...; the model's current unit)."""
        if current_unit not in _PER_NA:
            raise RecordingError(
                f"current unit {current_unit!r}; allowed: {', '.join(_PER_NA)} (a step read from a "
                "recording is a current, not a density)"
            )
        steps = [self.step_of(k) for k in self.indices()]
        amp = np.array([s.amp_nA for s in steps]) * _PER_NA[current_unit]
        try:
            return make_stimulus(
                "step",
                amp=amp,
                t_on=[s.t_on_ms for s in steps],
                t_off=[s.t_off_ms for s in steps],
            )
        except StimulusError as e:
            raise RecordingError(f"{self.source}: {e}") from None

    def describe(self) -> dict:
        """JSON-ready: source, format, sweeps, sampling, units, offset and current source."""
        return {
            "source": self.source,
            "format": self.format,
            "sweeps": self.indices(),
            "dt_ms": self.dt_ms,
            "rate_hz": self.rate_hz,
            "t_start_ms": self.t_start_ms,
            "v_offset_mV": self.v_offset_mV,
            "current_source": self.current_source,
            "units": dict(UNITS),
        }


def read_sweeps(
    path: str | Path,
    *,
    v_offset_mV: float = 0.0,
    current_nA: Stimulus | np.ndarray | Sequence[float] | None = None,
    sweeps: Sequence[int] | None = None,
    window_ms: tuple[float, float] | None = None,
) -> SweepSet:
    """The current-clamp sweeps of a recording (see the module docstring for the formats), in t
    (ms), V (mV) and I (nA).

    ``v_offset_mV``: the liquid-junction potential (mV), subtracted from every recorded V:
    V_cell = V_recorded - v_offset_mV (Neher 1992, Methods Enzymol. 207:123), e.g. +12 for a
    K-gluconate pipette whose recordings read 12 mV too positive. ``current_nA``: the injected
    current for a file that records none, in nA: a ``Stimulus`` (one row, or one per chosen
    sweep) or samples, (T,) for every sweep or (chosen sweeps, T); refused for a file that
    records its current.
    ``sweeps``: the file indices to keep (default all). ``window_ms``: (start, stop) to keep
    (``SweepSet.window``)."""
    path = Path(path)
    src = str(path)
    if isinstance(v_offset_mV, bool) or not isinstance(v_offset_mV, int | float | np.number):
        raise RecordingError(f"v_offset_mV={v_offset_mV!r}; allowed: a finite number (mV)")
    if not math.isfinite(v_offset_mV):
        raise RecordingError(f"v_offset_mV={v_offset_mV!r}; allowed: a finite number (mV)")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RecordingError(
            f"recording {src!r}: extension {path.suffix!r}; allowed: {', '.join(FORMATS)}"
        )
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise RecordingError(f"recording {src!r} {what}; expected a file")
    if fmt == "nwb":  # an NWB file's series are read only for the chosen sweeps
        raw, dts, how = _read_nwb(path, sweeps)
    else:
        reader = {"abf": _read_abf, "tiv": _read_tiv, "csv": _read_csv}[fmt]
        raw, dts, how = reader(path)
    if not raw:
        raise RecordingError(f"{src}: no current-clamp sweeps")
    if sweeps is not None:  # checks below concern the chosen sweeps only
        pos = _positions(src, [r[0] for r in raw], sweeps)
        raw, dts = [raw[p] for p in pos], [dts[p] for p in pos]
    dt = dts[0]
    bad = [k for k, d in enumerate(dts) if abs(d - dt) > 1e-6 * dt]
    if bad:
        raise RecordingError(
            f"{src}: sweep {raw[bad[0]][0]} is sampled every {dts[bad[0]]:g} ms, sweep "
            f"{raw[0][0]} every {dt:g} ms; allowed: one sampling interval for all sweeps"
        )
    missing = [r[0] for r in raw if r[2] is None]
    if current_nA is not None:
        if len(missing) < len(raw):
            raise RecordingError(
                f"{src} records its injected current ({how}); current_nA is only for recordings "
                "without one"
            )
        raw = _given_current(src, raw, current_nA, dt)
        how = "given (current_nA)"
    elif missing:
        raise RecordingError(
            f"{src}: sweep {missing[0]} has no command waveform or recorded current ({how}); "
            "give the injected current (current_nA, nA)"
        )
    out = []
    for k, v_mV, i_nA in raw:
        v_mV, i_nA = np.asarray(v_mV, float), np.asarray(i_nA, float)
        for name, x in (("V", v_mV), ("I", i_nA)):
            nan = np.flatnonzero(~np.isfinite(x))
            if len(nan):
                raise RecordingError(
                    f"{src}: sweep {k}: {name} is NaN or inf at sample {nan[0]} "
                    f"(t = {nan[0] * dt:g} ms, {len(nan)} such samples); allowed: finite samples"
                )
        if len(v_mV) != len(i_nA):
            raise RecordingError(
                f"{src}: sweep {k}: {len(v_mV)} V samples but {len(i_nA)} I samples; allowed: "
                "one current sample per voltage sample"
            )
        if len(v_mV) < 10:
            raise RecordingError(f"{src}: sweep {k} has {len(v_mV)} samples; allowed: >= 10")
        t = np.arange(len(v_mV)) * dt
        out.append(Sweep(int(k), t, v_mV - float(v_offset_mV), i_nA))
    result = SweepSet(tuple(out), src, dt, float(v_offset_mV), current_source=how, format=fmt)
    if window_ms is not None:
        result = result.window(*window_ms)
    return result


# --------------------------------------------------------------------------- readers
# Each returns ([(index, v_mV, i_nA or None)], [dt_ms per sweep], what the current is).


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:120]}" if text else type(e).__name__


def _per_nA(unit: str) -> float | None:
    u = unit.strip().replace("μ", "µ")
    return _PER_NA.get(u)


def _read_abf(path: Path):
    import quantities as pq
    from neo.io import AxonIO

    src = str(path)
    try:
        io = AxonIO(filename=src)
        block = io.read_block(lazy=False)
    except Exception as e:  # neo raises many types for a file that is not ABF
        raise RecordingError(f"{src}: not a readable ABF file ({_one_line(e)})") from None
    segs = block.segments
    if not segs:
        raise RecordingError(f"{src}: no sweeps")
    volt, amp = pq.V.dimensionality.simplified, pq.A.dimensionality.simplified
    v_chan = i_chan = None
    channels = []
    for j, sig in enumerate(segs[0].analogsignals):
        names = sig.array_annotations.get(
            "channel_names", [f"{j}.{c}" for c in range(sig.shape[1])]
        )
        dim = sig.units.dimensionality.simplified
        for c in range(sig.shape[1]):
            channels.append(f"{names[c]} ({sig.units.dimensionality})")
            if dim == volt and v_chan is None:
                v_chan = (j, c, str(names[c]))
            if dim == amp and i_chan is None:
                i_chan = (j, c, str(names[c]))
    if v_chan is None:
        raise RecordingError(
            f"{src}: no membrane-potential channel (in V or mV); channels: {', '.join(channels)}"
        )
    rate = float(segs[0].analogsignals[v_chan[0]].sampling_rate.rescale("Hz").magnitude)
    dt = 1e3 / rate
    vs = []
    for seg in segs:
        sig = seg.analogsignals[v_chan[0]]
        vs.append(np.asarray(sig[:, v_chan[1]].rescale("mV").magnitude, float).ravel())
    cmd, why = _abf_command(io, len(segs), len(vs[0]))
    if cmd is not None:
        how = why
        cur = list(cmd)
    elif i_chan is not None:
        how = f"recorded current channel {i_chan[2]} (no command waveform: {why})"
        cur = [
            np.asarray(
                seg.analogsignals[i_chan[0]][:, i_chan[1]].rescale("nA").magnitude, float
            ).ravel()
            for seg in segs
        ]
    else:
        how = f"no command waveform: {why}; no recorded current channel"
        cur = [None] * len(segs)
    raw = [(k, v, c) for k, (v, c) in enumerate(zip(vs, cur, strict=True))]
    return raw, [dt] * len(raw), how


def _abf_command(io, n_sweeps: int, n_samples: int):
    """The ABF2 command waveform of each sweep in nA from neo's protocol reconstruction, and a
    description; (None, reason) when the file has none neo rebuilds faithfully."""
    info = io._axon_info  # neo's parsed header: the only place epoch types and DAC flags are
    if info.get("fFileVersionNumber", 0) < 2.0:
        return _pyabf_command(io.filename, 0, n_sweeps, n_samples,
                              "an ABF1 file (neo rebuilds protocols of ABF2 files only)")
    dacs = info.get("listDACInfo", [])
    epochs = info.get("dictEpochInfoPerDAC", {})
    active = [d for d in range(len(dacs)) if d in epochs and dacs[d].get("nWaveformEnable", 0)]
    if not active:
        return None, "no DAC has an epoch waveform enabled"
    if len(active) > 1:
        chosen = info.get("protocol", {}).get("nActiveDACChannel", active[0])
        active = [d for d in active if d == chosen] or active[:1]
    d = active[0]
    dac = dacs[d]
    name = dac.get("DACChNames", b"").decode("utf-8", "replace").strip() or f"DAC {d}"
    if dac.get("nWaveformSource", 1) != 1:
        return None, f"{name} plays a stimulus file, which neo does not rebuild"
    for e in epochs[d].values():
        used = e["lEpochInitDuration"] > 0 or e["lEpochDurationInc"] > 0
        if used and e["nEpochType"] != 1:
            kind = _EPOCH_TYPES.get(int(e["nEpochType"]), f"type {e['nEpochType']}")
            return _pyabf_command(io.filename, d, n_sweeps, n_samples, (
                f"{name}'s epoch {chr(65 + int(e['nEpochNum']))} is a {kind}; neo rebuilds step "
                "epochs only"
            ))
    if dac.get("nInterEpisodeLevel", 0):
        last = list(epochs[d].values())[-1]
        hold = dac.get("fDACHoldingLevel", 0.0)
        levels = [last["fEpochInitLevel"] + last["fEpochLevelInc"] * k for k in range(n_sweeps)]
        if any(abs(x - hold) > 1e-9 for x in levels):
            return None, (
                f"{name} holds its last epoch's level between sweeps, which neo does not rebuild"
            )
    try:
        waves, names, units = io.read_raw_protocol()
    except Exception as e:
        return None, f"neo could not rebuild the protocol ({_one_line(e)})"
    w = _command_nA(io.filename, name, units[d], [waves[k][d] for k in range(len(waves))])
    if w.shape != (n_sweeps, n_samples):
        return None, (
            f"{name}'s rebuilt waveform has shape {w.shape}, the recording "
            f"({n_sweeps}, {n_samples})"
        )
    return w, f"command waveform of {name} ({units[d]}) from the ABF protocol"


def _command_nA(src: str, name: str, unit: str, waves) -> np.ndarray:
    """A rebuilt command waveform (one row per sweep, in ``unit``) in nA; a command in volts is
    voltage clamp (its "V" channel would be the command monitor) and is refused."""
    scale = _per_nA(unit)
    if scale is None:
        raise RecordingError(
            f"{src}: its command {name} is in {unit!r}, not a current (a voltage-clamp "
            "recording); allowed: current clamp"
        )
    return np.asarray([np.asarray(x, float) for x in waves]) / scale


def _pyabf_command(src: str, dac: int, n_sweeps: int, n_samples: int, why_neo: str):
    """The command waveform of DAC ``dac`` per sweep in nA as pyabf rebuilds it from the
    protocol's epoch table (ABF1 and ABF2; steps, ramps, pulse trains), where neo does not
    (``why_neo``); (None, reason) when pyabf is missing, fails, or finds no waveform."""
    try:
        import pyabf
    except ImportError:
        return None, f"{why_neo}; pyabf, which rebuilds it, is not installed"
    try:
        abf = pyabf.ABF(src)
        if dac >= abf.channelCount:  # pyabf pairs DAC k's command with ADC channel k
            return None, (f"{why_neo}; pyabf rebuilds DAC {dac}'s command only beside input "
                          f"channel {dac}, and the file has {abf.channelCount}")
        waves = []
        for k in range(abf.sweepCount):
            abf.setSweep(k, channel=dac)
            waves.append(abf.sweepC)  # a new array per sweep
        unit = str(abf.sweepUnitsC)
    except Exception as e:  # pyabf raises many types on protocols it cannot rebuild
        return None, f"{why_neo}; pyabf could not rebuild it ({_one_line(e)})"
    w = _command_nA(src, f"DAC {dac}", unit, waves)
    if w.shape != (n_sweeps, n_samples):
        return None, (f"{why_neo}; pyabf's waveform has shape {w.shape}, the recording "
                      f"({n_sweeps}, {n_samples})")
    if not np.any(np.ptp(w, axis=1) > 0):  # a protocol without epochs: holding only
        return None, f"{why_neo}; pyabf finds no epoch waveform (the holding level only)"
    return w, f"command waveform of DAC {dac} ({unit}) from the ABF protocol, rebuilt by pyabf"


def _read_tiv(path: Path):
    src = str(path)
    try:
        a = np.loadtxt(path, comments="#", ndmin=2, dtype=float)
    except (ValueError, UnicodeDecodeError) as e:
        raise RecordingError(
            f"{src}: not the t/I/V text format, {TIV_FORMAT} ({_one_line(e)})"
        ) from None
    if a.shape[1] != 3:
        raise RecordingError(f"{src}: {a.shape[1]} columns; allowed: {TIV_FORMAT}")
    t = a[:, 0] * 1e3
    dt = _uniform_dt(src, t, "t")
    return [(0, a[:, 2], a[:, 1] / 1e3)], [dt], "column I of the t/I/V text file (pA)"


def _uniform_dt(src: str, t_ms: np.ndarray, what: str) -> float:
    """The sampling interval (ms) of times that must be uniform (within a quarter sample, so
    that times printed with few decimals pass and a missing sample does not)."""
    if len(t_ms) < 10 or not np.isfinite(t_ms).all():
        bad = "non-finite" if len(t_ms) >= 10 else f"{len(t_ms)} samples"
        raise RecordingError(f"{src}: {what} has {bad}; allowed: >= 10 finite, uniform times")
    dt = (t_ms[-1] - t_ms[0]) / (len(t_ms) - 1)
    off = np.abs(t_ms - (t_ms[0] + np.arange(len(t_ms)) * dt))
    if not dt > 0 or off.max() > 0.25 * dt:
        k = int(np.argmax(off))
        raise RecordingError(
            f"{src}: {what} is not sampled uniformly (sample {k} at {t_ms[k]:g} ms is "
            f"{off[k]:g} ms off a grid of {dt:g} ms); allowed: one sampling interval"
        )
    return float(dt)


def _read_csv(path: Path):
    from neuroscape.fit.targets import read_trace_csv

    try:
        tg = read_trace_csv(path)
    except RecordingError:
        raise
    except TargetError as e:
        raise RecordingError(str(e)) from None
    cur, how = None, "no current column"
    if tg.current is not None:
        scale = _per_nA(tg.current_unit or "")
        if scale is None:
            raise RecordingError(
                f"{path}: its current is in {tg.current_unit!r}; allowed: a current in "
                f"{', '.join(_PER_NA)}"
            )
        cur, how = tg.current / scale, f"column I_{tg.current_unit} of the trace CSV"
    return [(0, tg.v_mV, cur)], [tg.dt_ms], how


def _read_nwb(path: Path, wanted: Sequence[int] | None = None):
    """The NWB reader; ``wanted``: the sweep labels to read (default all). A lab's file holds
    every protocol of a cell (the Allen Institute's: ramps, short and long squares, noise, each
    at 50-200 kHz), so only the chosen sweeps' series are loaded and checked."""
    src = str(path)
    io, nwb = open_nwb(src, RecordingError)
    with io:
        pairs, how = _nwb_pairs(nwb, src)
        if wanted is not None:
            pairs = [pairs[k] for k in _positions(src, [p[0] for p in pairs], wanted)]
        raw, dts = [], []
        for label, resp, stim in pairs:
            v, t0, dt = _nwb_values(src, resp, "volts", 1e3)
            cur = None
            if stim is not None:
                i, ti, dti = _nwb_values(src, stim, "amperes", 1e9)
                if abs(dti - dt) > 1e-6 * dt:
                    raise RecordingError(
                        f"{src}: sweep {label}: V sampled every {dt:g} ms, I every {dti:g} ms; "
                        "allowed: one sampling interval"
                    )
                v, i = _align(src, label, v, t0, i, ti, dt)
                bias = getattr(resp[0], "bias_current", None)
                cur = i + (float(bias) * 1e9 if bias is not None and np.isfinite(bias) else 0.0)
            else:
                cur = _neuroscape_current(path, resp[0].name, len(v), dt)
            raw.append((label, v, cur))
            dts.append(dt)
    if any(c is not None for _, _, c in raw) and how.startswith("no"):
        how = "the stimulus neuroscape recorded in the series' comments"
    return raw, dts, how


def _nwb_pairs(nwb, src: str):
    """[(sweep label, (response, start, count), (stimulus, start, count) or None)] and how they
    were paired."""
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    def whole(s):
        return (s, 0, None)

    pairs = []
    tbl = getattr(nwb, "intracellular_recordings", None)
    if tbl is not None and len(tbl) > 0:
        resp = tbl.category_tables["responses"]["response"]
        stims = tbl.category_tables.get("stimuli")
        for row in range(len(tbl)):
            r = resp[row]
            if not isinstance(r.timeseries, CurrentClampSeries) or not r.isvalid():
                continue
            s = stims["stimulus"][row] if stims is not None else None
            ok = (
                s is not None
                and s.isvalid()
                and isinstance(s.timeseries, CurrentClampStimulusSeries)
            )
            pairs.append(
                [r.timeseries, (r.timeseries, int(r.idx_start), int(r.count)),
                 (s.timeseries, int(s.idx_start), int(s.count)) if ok else None]
            )  # fmt: skip
        how = "CurrentClampStimulusSeries paired by the intracellular recordings table"
    else:
        responses = [s for s in nwb.acquisition.values() if isinstance(s, CurrentClampSeries)]
        stimuli = [
            s
            for s in list(nwb.stimulus.values()) + list(nwb.acquisition.values())
            if isinstance(s, CurrentClampStimulusSeries)
        ]
        numbered = [s for s in stimuli if s.sweep_number is not None]
        by_number = {int(s.sweep_number): s for s in numbered}
        if stimuli and len(by_number) == len(stimuli):
            for r in responses:
                s = by_number.get(int(r.sweep_number)) if r.sweep_number is not None else None
                pairs.append([r, whole(r), whole(s) if s is not None else None])
            how = "CurrentClampStimulusSeries paired by sweep_number"
        elif len(responses) == 1 and len(stimuli) == 1:
            pairs.append([responses[0], whole(responses[0]), whole(stimuli[0])])
            how = "the file's one CurrentClampStimulusSeries"
        elif stimuli:
            raise RecordingError(
                f"{src}: {len(stimuli)} CurrentClampStimulusSeries and {len(responses)} "
                "CurrentClampSeries with neither an intracellular recordings table nor distinct "
                "sweep numbers to pair them"
            )
        else:
            pairs = [[r, whole(r), None] for r in responses]
            how = "no CurrentClampStimulusSeries"
    if not pairs:
        raise RecordingError(f"{src}: no CurrentClampSeries (current-clamp sweeps)")
    numbers = [p[0].sweep_number for p in pairs]
    distinct = all(n is not None for n in numbers) and len({int(n) for n in numbers}) == len(
        numbers
    )
    labels = [int(n) for n in numbers] if distinct else list(range(len(pairs)))
    out = sorted(zip(labels, (p[1] for p in pairs), (p[2] for p in pairs), strict=True),
                 key=lambda x: x[0])  # fmt: skip
    return out, how


def _nwb_values(src: str, ref, unit: str, factor: float):
    """(values in mV or nA, start time in ms, dt in ms) of a series reference."""
    s, start, count = ref
    name = s.name
    u = (s.unit or "").strip().lower()
    if u not in (unit, unit.rstrip("s")):
        raise RecordingError(f"{src}: series {name!r} is in {s.unit!r}; allowed: {unit}")
    stop = None if count is None else start + count
    x = np.asarray(s.data[start:stop], float).ravel()
    x = x * float(s.conversion) + float(getattr(s, "offset", 0.0) or 0.0)
    if s.rate is not None:
        dt = 1e3 / float(s.rate)
        t0 = (float(s.starting_time or 0.0)) * 1e3 + start * dt
    else:
        ts = np.asarray(s.timestamps[start:stop], float) * 1e3
        dt = _uniform_dt(f"{src}:{name}", ts, "timestamps")
        t0 = float(ts[0])
    return x * factor, t0, dt


def _align(src, label, v, tv, i, ti, dt):
    """V and I of one sweep, which must start together (``starting_time``, within 1% of a
    sample) and hold as many samples: no part of a sweep is dropped to make them fit."""
    if abs(ti - tv) > 0.01 * dt or len(v) != len(i):
        raise RecordingError(
            f"{src}: sweep {label}: V starts at {tv:g} ms with {len(v)} samples, I at {ti:g} ms "
            f"with {len(i)}; allowed: the same start and number of samples"
        )
    return v, i


def _neuroscape_current(path: Path, series: str, n: int, dt: float):
    """The current of a series written by neuroscape's ``write_nwb`` with its stimulus (nA), or
    None."""
    from neuroscape.fit.targets import read_nwb

    try:
        tg = read_nwb(path, series)
    except TargetError as e:
        raise RecordingError(str(e)) from None
    if tg.stimulus is None:
        return None
    scale = _per_nA(tg.current_unit or "")
    if scale is None:
        raise RecordingError(
            f"{path}: series {series!r} records its stimulus in {tg.current_unit!r}; allowed: a "
            f"current in {', '.join(_PER_NA)}"
        )
    cur = tg.stimulus.current_at(np.arange(n) * dt)
    return None if cur is None else np.asarray(cur, float) / scale


def _given_current(src, raw, current, dt):
    n = len(raw)
    if isinstance(current, Stimulus):
        rows = len(current.values)
        if rows not in (1, n):
            raise RecordingError(
                f"current_nA has {rows} rows; allowed: 1 or {n} (one per sweep of {src})"
            )
        out = []
        for j, (k, v, _) in enumerate(raw):
            c = current.current_at(np.arange(len(v)) * dt, row=j if rows > 1 else 0)
            if c is None:
                raise RecordingError(
                    f"current_nA: a {current.kind} stimulus; allowed: step or ramp (a current "
                    "known at every sample)"
                )
            out.append((k, v, np.asarray(c, float)))
        return out
    c = np.asarray(current, float)
    lengths = {len(v) for _, v, _ in raw}
    if c.ndim == 1 and len(lengths) == 1 and len(c) == next(iter(lengths)):
        return [(k, v, c.copy()) for k, v, _ in raw]
    if c.ndim == 2 and c.shape[0] == n and all(len(v) == c.shape[1] for _, v, _ in raw):
        return [(k, v, c[j].copy()) for j, (k, v, _) in enumerate(raw)]
    raise RecordingError(
        f"current_nA has shape {c.shape}; allowed: a Stimulus, ({sorted(lengths)[0]},) or "
        f"({n}, {sorted(lengths)[0]}) samples in nA for the {n} sweeps of {src}"
    )


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class _StepFit:
    amp_nA: float
    t_on_ms: float | None  # None: a constant current
    t_off_ms: float | None
    holding_nA: float


_W = 32  # samples each side of the jump statistic (median of w samples after minus before)


def _fit_step(c: np.ndarray, dt: float) -> _StepFit | str:
    """One step on a constant holding level fitted to a current (nA), or why it is not one.

    Jumps: the median of the w samples after a boundary minus that of the w before, above ten
    SDs of that statistic under the current's noise (its per-sample SD from the MAD of the
    first differences: 0 for a command) and above 1e-6 of the current's range; each jump is
    placed at the boundary of least squared error between the levels either side. Levels:
    medians of each segment's interior; each segment must be constant (its blocks' trimmed
    means within the noise and 5% of the step)."""
    from numpy.lib.stride_tricks import sliding_window_view

    c = np.asarray(c, float)
    n = len(c)
    d = np.diff(c)
    sigma = float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))
    floor = 1e-6 * max(float(np.abs(c).max()), 1e-3)
    w = max(1, min(_W, n // 8))
    med = np.median(sliding_window_view(c, w), axis=1)  # med[j] = median of c[j:j+w]
    b = np.arange(w, n - w + 1)  # boundary b lies between samples b-1 and b
    jump = med[b] - med[b - w]
    thr = floor + 10.0 * 1.2533 * sigma * math.sqrt(2.0 / w)
    edges = _place_edges(c, b, jump, thr, w)
    bounds = [0, *edges, n]
    segs = [(bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1)]
    levels = [float(np.median(_interior(c, a, z, w))) for a, z in segs]
    t = lambda k: k * dt  # noqa: E731  (sample index -> ms)
    step = max((abs(x - levels[0]) for x in levels), default=0.0)
    # brief departures (shorter than the jump statistic sees): runs of samples off the level
    # by more than the noise allows; one sample suffices for a noise-free command
    min_run = 1 if sigma <= floor else max(3, w // 4)
    for (a, z), level in zip(segs, levels, strict=True):
        m = min(w, (z - a) // 4)
        off = np.abs(c[a + m : z - m] - level) > floor + 8.0 * sigma + 0.05 * step
        run, at = _longest_run(off)
        if run >= min_run:
            k = a + m + at
            far = c[k : k + run][np.argmax(np.abs(c[k : k + run] - level))]
            return (
                f"its current departs from its {level:.4g}-nA level between {t(k):g} and "
                f"{t(k + run):g} ms (to {far:.4g} nA); allowed: one step on a constant holding "
                "level (no pulse, ramp or other waveform)"
            )
    for a, z in segs:
        x = _interior(c, a, z, w)
        nb = min(8, len(x) // max(w, 1))
        if nb < 2:
            continue
        blocks = np.array([_trimmed_mean(y) for y in np.array_split(x, nb)])
        dev = float(np.abs(blocks - _trimmed_mean(x)).max())
        tol = floor + sigma + 8.0 * sigma / math.sqrt(len(x) / nb) + 0.05 * step
        if dev > tol:
            return (
                f"its current is not constant from {t(a):g} to {t(z):g} ms (it varies by "
                f"{dev:.3g} nA; a ramp or another waveform); allowed: one step on a constant "
                "holding level"
            )
    if not edges:
        return _StepFit(0.0, None, None, levels[0])
    if len(edges) == 1:
        return _StepFit(levels[1] - levels[0], t(edges[0]), math.inf, levels[0])
    tol = floor + 3.0 * sigma + 0.05 * step
    if len(edges) == 2 and abs(levels[2] - levels[0]) <= tol:
        a0, z0 = segs[0]
        a2, z2 = segs[2]
        hold = float(np.median(np.r_[_interior(c, a0, z0, w), _interior(c, a2, z2, w)]))
        return _StepFit(levels[1] - hold, t(edges[0]), t(edges[1]), hold)
    changes = ", ".join(
        f"{levels[j + 1]:.4g} nA at {t(e):g} ms" for j, e in enumerate(edges[:4])
    ) + (", ..." if len(edges) > 4 else "")
    hint = f", e.g. window(0, {t(edges[2]):g})" if len(edges) > 2 else ""
    return (
        f"its current changes level {len(edges)} times (from {levels[0]:.4g} nA: {changes}); "
        f"allowed: one step on a constant holding level; cut the sweeps to one step with "
        f"window(t_start_ms, t_stop_ms){hint}"
    )


def _place_edges(c, b, jump, thr, w) -> list[int]:
    big = np.abs(jump) > thr
    if not big.any():
        return []
    sign = np.sign(jump) * big
    # runs of one sign; runs of the same sign less than w boundaries apart are one jump
    runs = []
    for j in np.flatnonzero(big):
        if runs and sign[j] == runs[-1][2] and j - runs[-1][1] <= w:
            runs[-1][1] = j
        else:
            runs.append([j, j, sign[j]])
    n = len(c)
    edges = []
    for r0, r1, _ in runs:
        e0, e1 = int(b[r0]), int(b[r1])  # first and last boundary of the run
        left = float(np.median(c[max(0, e0 - w) : e0]))
        right = float(np.median(c[e1 : min(n, e1 + w)]))
        lo, hi = max(0, e0 - w), min(n, e1 + w)
        x = c[lo:hi]
        # cost of a jump at boundary lo + m: squared errors to `left` before, `right` after
        el = np.r_[0.0, np.cumsum((x - left) ** 2)]
        er = np.r_[np.cumsum(((x - right) ** 2)[::-1])[::-1], 0.0]
        m = int(np.argmin(el + er))
        e = lo + m
        if 0 < e < n and (not edges or e > edges[-1]):
            edges.append(e)
    return edges


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(length, start) of the longest run of True in ``mask`` ((0, 0) if none)."""
    if not mask.any():
        return 0, 0
    x = np.r_[0, mask.astype(np.int8), 0]
    starts, stops = np.flatnonzero(np.diff(x) == 1), np.flatnonzero(np.diff(x) == -1)
    j = int(np.argmax(stops - starts))
    return int(stops[j] - starts[j]), int(starts[j])


def _interior(c, a, z, w):
    """The samples of [a, z) away from its ends (w at most, a quarter of it at most)."""
    m = min(w, (z - a) // 4)
    return c[a + m : z - m] if z - a - 2 * m > 0 else c[a:z]


def _trimmed_mean(x: np.ndarray) -> float:
    lo, hi = np.quantile(x, [0.1, 0.9])
    y = x[(x >= lo) & (x <= hi)]
    return float(y.mean()) if len(y) else float(np.median(x))


def _positions(src: str, idx: list[int], wanted) -> list[int]:
    """The positions in ``idx`` of the file indices ``wanted`` (an index or a sequence of them),
    refusing unknown, repeated or no indices."""
    if isinstance(wanted, int | np.integer):
        wanted = [wanted]
    wanted = list(wanted)
    for k in wanted:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or int(k) not in idx:
            shown = int(k) if isinstance(k, np.integer) else repr(k)
            raise RecordingError(f"{src}: sweep {shown}; allowed: {_ranges(idx)}")
    if not wanted:
        raise RecordingError(f"{src}: no sweeps selected; allowed: {_ranges(idx)}")
    if len(set(wanted)) != len(wanted):
        raise RecordingError(f"{src}: sweeps {wanted} repeat an index")
    return [idx.index(int(k)) for k in wanted]


def _ranges(idx: Sequence[int]) -> str:
    """E.g. 0-16, or 1, 4, 7 (the allowed sweep indices)."""
    s = sorted(idx)
    if s == list(range(s[0], s[-1] + 1)) and len(s) > 2:
        return f"{s[0]}-{s[-1]}"
    return ", ".join(str(k) for k in s)
