"""Multi-protocol fits of a single neuron to a family of recorded sweeps, the way BluePyOpt does
them (Van Geit et al. 2016, Front Neuroinform 10:17; the feature-based scoring of Druckmann et al.
2007, Front Neurosci 1:7): every candidate is simulated on all the fit's sweeps in one batched
call, each sweep is reduced to eFEL features (Ranjan et al. 2019, eFEL), and each feature's
error is |f_model - f_data| / sd in units of a per-feature scale ``sd``.

>>> from neuroscape.fit import run_method
>>> from neuroscape.fit.protocols import SweepFitProblem
>>> sweeps = read_sweeps("cell.abf").select([1, 3, 5, 7])
>>> p = SweepFitProblem("adex", sweeps, free={"g_L": (5, 30), "V_T": (-55, -40)}, budget=2000)
>>> res = run_method(p, "cmaes")
>>> p.validate([res.best[n] for n in p.free_names], read_sweeps("cell.abf").select([0, 2]))

Each sweep's command is read as one step (``SweepSet.step_of``): its amplitude is the change
from the holding level, whose effect the recorded rest, and so the fitted resting potential,
includes. A protocol of several steps is refused there; ``SweepSet.window`` (``read_sweeps(...,
window_ms=...)``) cuts it down to one. The model runs ``settle_ms`` without input before each
sweep's t = 0, so that it starts at its rest as the cell did.

Features per sweep (``FEATURE_SD``: the scale of each, with its unit):

- ``spike_count``: spikes in the analysed sweep (always counted, also where it is 0);
- ``time_to_first_spike`` (first spike at or after the step onset, minus the onset),
  ``mean_frequency`` (spikes in the step over the time from the onset to the last of them),
  ``ISI_CV`` (SD (ddof 1) over mean of the interspike intervals, the first dropped), and
  ``adaptation_index2`` (mean of (ISI_k+1 - ISI_k) / (ISI_k+1 + ISI_k) over the intervals in
  the step, the first dropped): eFEL's definitions, computed from spike times so that
  integrate-and-fire models, whose traces carry no action potential, are scored alike;
- ``AP_amplitude`` and ``spike_half_width`` (eFEL on the traces; only for models with action
  potentials, i.e. without a threshold-reset, and only on sweeps where data and model fire);
- ``voltage_base`` (mean V over the last 10% of the time before the step, eFEL's window; on
  sweeps where the recording fires no spike before the step),
  ``steady_state_voltage_stimend`` (mean V over the last 10% of the step; on sweeps where the
  recording fires no spike in the step): a mean over action potentials is their shape, which
  integrate-and-fire models do not have; ``sag_amplitude`` (that steady state minus the
  minimum V in the step, on hyperpolarising steps); V smoothed over ``smooth_ms`` first, so
  that recording noise does not deepen the minimum; ``onset_rise`` (the charging in the
  first ms of a step, ahead of its first spike: mean V over the window less V at its start,
  see ``ONSET_SKIP_MS``), which reads C and g_L in sweeps that fire.

Spikes of the recording: eFEL's ``peak_time`` rule (the maximum between an upward and the next
downward crossing of ``spike_threshold_mV``, eFEL's default -20 mV); spikes of the model: the
same rule on its trace for models with action potentials, the engine's threshold crossings for
threshold-reset models (whose traces have no peak).

Objectives (``OBJECTIVES``; nsga2 sees them separately, the other methods their sum):
``spike_count``, ``fI`` (the f-I curve: per sweep, the rate in the step, spikes / step
duration, against the recording's), ``spike_timing``, ``ap_shape``, ``subthreshold``, and
``window_rms`` (the RMS voltage difference over chosen windows, in units of ``WINDOW_RMS_SD_MV``).
A feature defined in the recording and undefined in the model scores ``MISSING_SD`` (250, as
BluePyOpt); a feature undefined in the recording is skipped. A candidate whose simulation
fails on any sweep (non-finite state, runaway spikes) scores inf on every objective and is
counted as failed, never dropped.

The budget counts candidates: each is one simulation of all the fit's sweeps."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neuroscape.core.spec import ParameterError
from neuroscape.core.stimuli import make_stimulus
from neuroscape.fit.measures import efel_features
from neuroscape.fit.problem import FitError, FitProblem, simulate_traces
from neuroscape.fit.targets import TargetError, convert_current
from neuroscape.models import resolve
from neuroscape.models.neuron import NeuronModel

# (absolute sd, relative sd): a feature's scale is max(absolute, relative * |recorded value|).
# Of the order of the across-trial SDs of cortical recordings (Druckmann et al. 2007 score in
# units of the experimental SD); one recording has no repeats, so these stand in for them.
FEATURE_SD: dict[str, tuple[float, float]] = {
    "spike_count": (1.0, 0.0),  # spikes
    "time_to_first_spike": (2.0, 0.1),  # ms
    "mean_frequency": (1.0, 0.1),  # Hz
    "ISI_CV": (0.1, 0.0),  # 1
    "adaptation_index2": (0.05, 0.0),  # 1
    "AP_amplitude": (2.0, 0.05),  # mV
    "spike_half_width": (0.1, 0.1),  # ms
    "voltage_base": (1.0, 0.0),  # mV
    "steady_state_voltage_stimend": (1.0, 0.0),  # mV
    "sag_amplitude": (0.5, 0.2),  # mV
    "onset_rise": (0.5, 0.1),  # mV
    "fI_rate": (1.0, 0.1),  # Hz (the f-I objective)
}
FEATURE_UNITS = {
    "spike_count": "spikes",
    "time_to_first_spike": "ms",
    "mean_frequency": "Hz",
    "ISI_CV": "1",
    "adaptation_index2": "1",
    "AP_amplitude": "mV",
    "spike_half_width": "ms",
    "voltage_base": "mV",
    "steady_state_voltage_stimend": "mV",
    "sag_amplitude": "mV",
    "onset_rise": "mV",
    "fI_rate": "Hz",
}
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "spike_count": ("spike_count",),
    "fI": ("fI_rate",),
    "spike_timing": ("time_to_first_spike", "mean_frequency", "ISI_CV", "adaptation_index2"),
    "ap_shape": ("AP_amplitude", "spike_half_width"),
    "subthreshold": ("voltage_base", "steady_state_voltage_stimend", "sag_amplitude",
                     "onset_rise"),
    "window_rms": (),
}
MISSING_SD = 250.0  # defined in the recording, undefined in the model (BluePyOpt's penalty)
WINDOW_RMS_SD_MV = 1.0  # the scale of the window_rms objective (mV)
SPIKE_FEATURES = ("time_to_first_spike", "mean_frequency", "ISI_CV", "adaptation_index2")
SHAPE_FEATURES = ("AP_amplitude", "spike_half_width")
VOLTAGE_FEATURES = ("voltage_base", "steady_state_voltage_stimend", "sag_amplitude", "onset_rise")
# onset_rise: the membrane's charging at a step's onset, the mean of V over [t_on + ONSET_SKIP_MS,
# end] less V at t_on + ONSET_SKIP_MS, end = the earliest of t_on + ONSET_WINDOW_MS, the
# recording's first spike in the step less ONSET_SPIKE_LEAD_MS and the step's end (NaN when
# that leaves less than ONSET_MIN_MS, on ramps, and after a spike in the ONSET_WINDOW_MS before
# the step). Its slope is I / C and its bend tau = C / g_L, so it reads C and g_L in sweeps that
# fire, where the steady-state features are undefined: without it a family whose only
# hyperpolarising step is held out leaves R_in to the spikes alone (pyABF's 171116sh_0019: the
# fit put g_L at 33 nS against the 9.4 nS of its held-out -100 pA step). Measured from t_on +
# ONSET_SKIP_MS, so the bridge's jump at the onset (I times an uncompensated series resistance)
# cancels.
ONSET_SKIP_MS = 1.0
ONSET_WINDOW_MS = 20.0
ONSET_SPIKE_LEAD_MS = 2.0
ONSET_MIN_MS = 2.0
# a constant current added to every sweep's command, through the settle time, the baseline, the
# step and after it (the model's current unit): a holding or leak current that the recorded
# command does not show (SweepFitProblem: free or fixed like a parameter of the model)
BIAS = "I_bias"



class SweepTarget:
    """What a sweep fit aims at (``FitProblem.target``): the recorded sweeps, and ``truth``, the
    parameters of a synthetic family (None for a recording)."""

    kind = "sweeps"

    def __init__(self, sweeps, truth: dict[str, float] | None = None) -> None:
        self.sweeps = sweeps
        self.truth = dict(truth) if truth else None
        self.source = str(getattr(sweeps, "source", "") or "")


# ------------------------------------------------------------------------------ protocols
@dataclass(frozen=True)
class StepProtocol:
    """One sweep's command as one step: ``amp_nA`` (relative to the holding current
    ``holding_nA``) from ``t_on_ms`` to ``t_off_ms``, or a ramp from ``amp_nA`` at t_on to
    ``ramp_end_nA`` at t_off (None: a step); the sweep is analysed over [0, end_ms)."""

    index: int
    amp_nA: float
    t_on_ms: float
    t_off_ms: float
    end_ms: float
    holding_nA: float
    ramp_end_nA: float | None = None

    @property
    def end_amp_nA(self) -> float:
        """The current at the end of the step or ramp (nA above the holding level)."""
        return self.amp_nA if self.ramp_end_nA is None else self.ramp_end_nA

    def as_dict(self) -> dict:
        return {
            "sweep": self.index,
            "kind": "step" if self.ramp_end_nA is None else "ramp",
            "amp_nA": self.amp_nA,
            "ramp_end_nA": self.ramp_end_nA,
            "t_on_ms": self.t_on_ms,
            "t_off_ms": self.t_off_ms,
            "end_ms": self.end_ms,
            "holding_nA": self.holding_nA,
        }


def step_protocol(sweeps, k: int) -> StepProtocol:
    """Sweep ``k`` (its file index) of a SweepSet as a StepProtocol: its command as one step
    (``SweepSet.step_of``; ``SweepSet.window`` cuts a protocol of several steps down to one),
    else as one linear ramp on a constant holding level (``ramp_protocol``), analysed over the
    whole sweep; any other waveform is refused in one line (step_of's)."""
    sw = sweeps.sweep(k)
    dur = len(sw.t_ms) * float(sweeps.dt_ms)
    try:
        amp, t_on, t_off = sweeps.step_of(k)
    except ValueError:
        ramp = ramp_protocol(np.asarray(sw.t_ms, float), np.asarray(sw.i_nA, float), int(k))
        if ramp is None:
            raise
        return ramp
    return StepProtocol(
        int(k), float(amp), float(t_on), float(min(t_off, dur)), dur, float(sweeps.holding_of(k))
    )


def ramp_protocol(t_ms: np.ndarray, i_nA: np.ndarray, index: int = 0) -> StepProtocol | None:
    """A current that is its holding level (the median of the first 1/64 of the sweep), one
    linear ramp, then the holding level again (or the sweep's end) as a StepProtocol with
    ``ramp_end_nA``; None for any other waveform. The ramp: where the current leaves the
    holding level by more than 10 noise SDs and 2% of its largest excursion, from the line's
    crossing of the holding level (a jump first: from the jump); linear within 2% of its
    excursion plus the noise."""
    n = len(i_nA)
    dt = float(t_ms[1] - t_ms[0])
    head = i_nA[: max(8, n // 64)]
    hold = float(np.median(head))
    noise = 1.4826 * float(np.median(np.abs(np.diff(head)))) / np.sqrt(2.0)
    x = i_nA - hold
    big = float(np.abs(x).max())
    tol = max(10.0 * noise, 0.02 * big, 1e-9)
    on = np.flatnonzero(np.abs(x) > tol)
    if len(on) < 10 or big <= tol:
        return None
    a, b = int(on[0]), int(on[-1]) + 1
    slope, icpt = np.polyfit(t_ms[a:b], x[a:b], 1)
    if slope == 0 or np.abs(x[a:b] - (slope * t_ms[a:b] + icpt)).max() > 0.02 * big + 4 * noise:
        return None
    if np.abs(x[:a]).max(initial=0.0) > tol or np.abs(x[b:]).max(initial=0.0) > tol:
        return None
    # where the line leaves and meets the holding level: the ramp's ends, on the samples
    # a ramp that rises from the holding level (no jump where it leaves it) starts where its
    # line crosses that level; one that jumps first starts at the jump
    at_a = slope * t_ms[a] + icpt
    continuous = abs(at_a) <= tol + abs(slope) * dt
    t_on = max(0.0, float(-icpt / slope)) if continuous else float(t_ms[a])
    t_off = float(t_ms[b]) if b < n else n * dt
    amp0 = float(slope * t_on + icpt)
    amp1 = float(slope * t_off + icpt)
    if not t_on > 0.0:
        return None
    return StepProtocol(index, amp0, t_on, t_off, n * dt, hold, ramp_end_nA=amp1)


# ------------------------------------------------------------------------------ features
# a spike rises and falls at least this far on both sides, down to the lowest V between it and
# its neighbouring crossings: the recorded spikes of the pyABF sample cells rise 36-138 mV above
# those troughs, while noise on a plateau at the threshold (a cell in depolarisation block sitting
# at -20 mV: 171116sh_0019 at 1100-1200 pA) crosses it again and again with 2 mV or less
MIN_SPIKE_HEIGHT_MV = 10.0


def detect_peaks(
    t_ms: np.ndarray,
    v: np.ndarray,
    threshold_mV: float = -20.0,
    min_height_mV: float = MIN_SPIKE_HEIGHT_MV,
) -> np.ndarray:
    """Spike times (ms) of a recorded trace by eFEL's ``peak_time`` rule: the time of the
    maximum between each upward crossing of ``threshold_mV`` and the next downward one (a
    crossing still up at the trace's end counts); a crossing whose maximum stands less than
    ``min_height_mV`` above the lowest V between it and the previous crossing, or between it
    and the next, is noise riding on a plateau at the threshold, not a spike, and is left out
    (the Allen Institute's feature extractor likewise drops events under a minimum height;
    eFEL counts them). A side that the trace cuts off (above the threshold at its start or
    end) is not held against it."""
    v = np.asarray(v, float)
    above = v > threshold_mV
    d = np.diff(above.astype(np.int8))
    ups = np.flatnonzero(d == 1) + 1
    downs = np.flatnonzero(d == -1) + 1
    if above[0]:
        ups = np.r_[0, ups]
    peaks = []
    for u in ups:
        j = np.searchsorted(downs, u)
        e = int(downs[j]) if j < len(downs) else len(v)
        peaks.append(u + int(np.argmax(v[u:e])))
    if len(peaks) and min_height_mV > 0:
        pk = np.asarray(peaks, int)
        bounds = np.r_[0, pk, len(v)]
        keep = []
        for i, k in enumerate(pk):
            left = v[bounds[i] : k + 1].min()
            right = v[k : bounds[i + 2]].min()
            cut_left = i == 0 and above[0]
            cut_right = i == len(pk) - 1 and above[-1]
            h = [v[k] - x for x, cut in ((left, cut_left), (right, cut_right)) if not cut]
            keep.append(min(h, default=np.inf) >= min_height_mV)
        peaks = [k for k, ok in zip(peaks, keep, strict=True) if ok]
    return np.asarray([t_ms[k] for k in peaks], float)


def spike_features(spikes: np.ndarray, p: StepProtocol) -> dict[str, float]:
    """Spike-count, timing and f-I features of one sweep from its spike times (ms); NaN where
    undefined (eFEL's definitions, see the module docstring)."""
    s = np.asarray(spikes, float)
    s = s[(s >= 0.0) & (s < p.end_ms)]
    in_step = s[(s >= p.t_on_ms) & (s <= p.t_off_ms)]
    nan = float("nan")
    out = {
        "spike_count": float(len(s)),
        "fI_rate": 1000.0 * len(s[(s >= p.t_on_ms) & (s < p.t_off_ms)])
        / (p.t_off_ms - p.t_on_ms),
        "time_to_first_spike": float(in_step[0] - p.t_on_ms) if len(in_step) else nan,
        "mean_frequency": nan,
        "ISI_CV": nan,
        "adaptation_index2": nan,
    }
    if len(in_step) and in_step[-1] > p.t_on_ms:
        out["mean_frequency"] = float(1000.0 * len(in_step) / (in_step[-1] - p.t_on_ms))
    isi = np.diff(s)[1:]  # eFEL's ignore_first_ISI
    if len(isi) >= 2:
        out["ISI_CV"] = float(np.std(isi, ddof=1) / np.mean(isi))
    isi = np.diff(in_step)[1:]
    if len(isi) >= 2:
        out["adaptation_index2"] = float(
            np.mean((isi[1:] - isi[:-1]) / (isi[1:] + isi[:-1]))
        )
    return out


def _moving_average(v: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return v
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(v, k, axis=-1, mode="nearest")


def onset_end_ms(p: StepProtocol, spikes: np.ndarray) -> float:
    """The end (ms) of ``onset_rise``'s window for the step ``p`` given the recording's spike
    times; NaN where the feature is undefined (see ONSET_SKIP_MS's comment)."""
    s = np.asarray(spikes, float)
    if p.ramp_end_nA is not None or p.amp_nA == 0:
        return float("nan")
    if np.any((s >= p.t_on_ms - ONSET_WINDOW_MS) & (s < p.t_on_ms)):
        return float("nan")
    first = s[s >= p.t_on_ms]
    end = min(p.t_on_ms + ONSET_WINDOW_MS, p.t_off_ms)
    if len(first):
        end = min(end, float(first[0]) - ONSET_SPIKE_LEAD_MS)
    return end if end - (p.t_on_ms + ONSET_SKIP_MS) >= ONSET_MIN_MS else float("nan")


def voltage_features(
    t_ms: np.ndarray,
    v: np.ndarray,
    p: StepProtocol,
    smooth_ms: float = 1.0,
    onset_end: float = float("nan"),
) -> dict[str, np.ndarray]:
    """voltage_base, steady_state_voltage_stimend, sag_amplitude and onset_rise (mV) of the
    rows of v (R, T) on t_ms for the step ``p`` (eFEL's windows; V smoothed over
    ``smooth_ms``); sag is NaN unless the step is hyperpolarising, onset_rise unless
    ``onset_end`` (ms; ``onset_end_ms``) is finite."""
    v = np.atleast_2d(np.asarray(v, float))
    dt = float(t_ms[1] - t_ms[0])
    v = _moving_average(v, int(round(smooth_ms / dt)))
    base = (t_ms >= 0.9 * p.t_on_ms) & (t_ms <= p.t_on_ms)
    ss = (t_ms >= p.t_off_ms - 0.1 * (p.t_off_ms - p.t_on_ms)) & (t_ms <= p.t_off_ms)
    step = (t_ms >= p.t_on_ms) & (t_ms <= p.t_off_ms)
    r = len(v)
    vb = v[:, base].mean(1) if base.any() else np.full(r, np.nan)
    vss = v[:, ss].mean(1) if ss.any() else np.full(r, np.nan)
    sag = vss - v[:, step].min(1) if (p.amp_nA < 0 and step.any()) else np.full(r, np.nan)
    if p.ramp_end_nA is not None:  # a ramp has no steady state to sag to
        vss, sag = np.full(r, np.nan), np.full(r, np.nan)
    rise = np.full(r, np.nan)
    if np.isfinite(onset_end):
        a = p.t_on_ms + ONSET_SKIP_MS
        k = int(np.searchsorted(t_ms, a - 0.5 * dt))
        w = (t_ms >= a) & (t_ms <= onset_end)
        if k < len(t_ms) and w.any():
            rise = v[:, w].mean(1) - v[:, k]
    return {"voltage_base": vb, "steady_state_voltage_stimend": vss, "sag_amplitude": sag,
            "onset_rise": rise}  # fmt: skip


def shape_features(t_ms: np.ndarray, v: np.ndarray, p: StepProtocol) -> dict[str, np.ndarray]:
    """AP_amplitude and spike_half_width (eFEL, mean over the spikes; NaN without) of rows of
    v (R, T) for the step ``p``."""
    return efel_features(t_ms, v, SHAPE_FEATURES, window=(p.t_on_ms, p.t_off_ms))


def feature_sd(name: str, recorded: float, tolerances: dict | None = None) -> float:
    """The scale of ``name``'s error: max(absolute, relative * |recorded|), the pair from
    ``tolerances[name]`` where given (a number: absolute only, in the feature's unit), else
    from ``FEATURE_SD``."""
    tol = tolerances.get(name) if tolerances else None
    if tol is None:
        a, r = FEATURE_SD[name]
    elif isinstance(tol, int | float):
        a, r = float(tol), 0.0
    else:
        a, r = (float(v) for v in tol)
    return max(a, r * abs(recorded))


def _number(v) -> bool:
    return isinstance(v, int | float | np.number) and not isinstance(v, bool) and np.isfinite(v)


@dataclass
class _SweepData:
    """The recording's side of one sweep: its protocol, samples and features."""

    protocol: StepProtocol
    t_ms: np.ndarray
    v_mV: np.ndarray
    spikes: np.ndarray
    features: dict[str, float]
    amp: float  # the step (a ramp's start) in the model's current unit
    amp_end: float  # the ramp's end (a step's amp), in the model's current unit
    onset_end_ms: float = float("nan")  # onset_rise's window's end (ms), from the recording


def _prepare(
    sweeps,
    spike_threshold_mV: float,
    smooth_ms: float,
    shape: bool,
    current_unit: str,
    decimate: int = 1,
    current_per_nA: float | None = None,
) -> list:
    """Protocol, spikes and features of every sweep of a SweepSet; the steps in
    ``current_unit`` (the model's; ``current_per_nA`` model units per nA when given, else by
    the ampere prefixes). Spikes and AP shapes are read at the recording's sampling,
    the rest on every ``decimate``-th sample (the simulation's sampling)."""
    source = str(getattr(sweeps, "source", "") or "recording")
    if not getattr(sweeps, "sweeps", None):
        raise FitError(f"{source}: no sweep selected")
    dt = float(sweeps.dt_ms)
    if current_per_nA is not None:
        scale = float(current_per_nA)  # model current units per nA
    else:
        try:
            scale = float(convert_current(np.array([1.0]), "nA", current_unit, source)[0])
        except TargetError as e:
            raise FitError(
                f"{e}: give current_per_nA (model units per nA, e.g. 1e5 / membrane area in "
                "um^2 for uA/cm^2)"
            ) from None
    out = []
    for sw in sweeps.sweeps:
        t = np.asarray(sw.t_ms, float)
        v = np.asarray(sw.v_mV, float)
        i = np.asarray(sw.i_nA, float)
        for what, x in (("t_ms", t), ("v_mV", v), ("i_nA", i)):
            if not np.isfinite(x).all():
                k = int(np.flatnonzero(~np.isfinite(x))[0])
                raise FitError(f"{source} sweep {sw.index}: {what} is NaN or inf at sample {k}")
        if len(t) < 10 or np.abs(np.diff(t) - dt).max() > 1e-6 * dt:
            raise FitError(
                f"{source} sweep {sw.index}: not sampled every {dt:g} ms from 0 ms (the set's "
                "interval); allowed: one sampling interval for all sweeps"
            )
        p = step_protocol(sweeps, sw.index)
        spikes = detect_peaks(t, v, spike_threshold_mV)
        f = spike_features(spikes, p)
        if shape:
            f.update({k: float(x[0]) for k, x in shape_features(t, v, p).items()})
        t, v = t[::decimate], v[::decimate]
        onset = onset_end_ms(p, spikes)
        f.update({k: float(x[0]) for k, x in voltage_features(t, v, p, smooth_ms, onset).items()})
        # a mean over action potentials is their shape (see the module docstring)
        if np.any((spikes >= p.t_on_ms) & (spikes <= p.t_off_ms)):
            f["steady_state_voltage_stimend"] = float("nan")
        if np.any(spikes < p.t_on_ms):
            f["voltage_base"] = float("nan")
        out.append(
            _SweepData(p, t, v, spikes, f, p.amp_nA * scale, p.end_amp_nA * scale, onset)
        )
    return out


# ------------------------------------------------------------------------------ simulation
@dataclass
class SweepOutput:
    """Candidates simulated on sweeps: ``v`` (n, S, T) on the recording's samples ``t_ms``
    (NaN past each sweep's analysed end), ``spikes`` [n][S] spike times (ms), ``ok`` (n,) and
    ``errors`` (n,) (a candidate fails when any of its sweeps does)."""

    t_ms: np.ndarray
    v: np.ndarray
    spikes: list
    ok: np.ndarray
    errors: list
    sweeps: list  # the _SweepData simulated


class SweepFitProblem(FitProblem):
    """Fit the ``free`` parameters ({name: (low, high)}, declared units) of the single-neuron
    ``model`` to the sweeps of a ``SweepSet`` (``neuroscape.fit.recordings``), all sweeps of a
    candidate in one batched simulation.

    objectives: names from ``OBJECTIVES`` (default: spike_count, fI, spike_timing,
    subthreshold, plus ap_shape for models with action potentials, plus window_rms when
    ``rms_windows`` are given); objectives the recording gives nothing to compare are left
    out. rms_windows: [(t0_ms, t1_ms), ...] of every sweep for window_rms. tolerances:
    {feature: sd} replacing ``FEATURE_SD``: an absolute sd (the feature's unit), or a pair
    (absolute, relative) giving max(absolute, relative * |recorded|) (e.g. spike_count
    (1, 0.15): the scale of the max(1 spike, 15%) criterion). settle_ms: the model runs
    this long without input before each sweep's t = 0 (it starts at rest, as the cell did).
    smooth_ms: moving average before the voltage features. spike_threshold_mV: the
    recording's spike detection level. budget: candidates (each simulated on every sweep).
    dt_ms: the simulation step (default the model's, made to divide the sampling interval).
    truth: the parameters of a synthetic family (the result reports the recovery).
    current_per_nA: the model's current units per nA of recorded current, for a model whose
    current is not in amperes: a density (uA/cm^2: 1e5 / the membrane area in um^2) or a
    dimensionless input (default: pA, nA, ... convert by their prefixes; others refused).
    log_scale: free parameters searched in log space (``FitProblem``)."""

    def __init__(
        self,
        model,
        sweeps,
        free: dict[str, tuple[float, float]],
        *,
        objectives: Sequence[str] | None = None,
        fixed: dict[str, float] | None = None,
        rms_windows: Sequence[tuple[float, float]] = (),
        tolerances: dict[str, float] | None = None,
        settle_ms: float = 200.0,
        smooth_ms: float = 1.0,
        spike_threshold_mV: float = -20.0,
        dt_ms: float | None = None,
        integrator: str | None = None,
        seed: int = 0,
        budget: int = 1000,
        workers: int | None = None,
        truth: dict[str, float] | None = None,
        db: str | None = None,
        current_per_nA: float | None = None,
        log_scale: Sequence[str] = (),
    ) -> None:
        m = resolve(model)
        if not (isinstance(m, NeuronModel) or m.kind == "cell"):
            raise FitError(
                f"model {m.name!r} is a {m.kind} model: sweep fits are for single-neuron models "
                "and multi-compartment cells"
            )
        if db is not None:
            raise FitError("db: a sweep fit does not write a model database; leave it unset")
        self.model, self.spec, self.neuron = m, m.spec, True
        self.target = SweepTarget(sweeps, truth)
        self.free = dict(free)
        self.fixed = {k: float(v) for k, v in dict(fixed or {}).items()}
        self.bias = _bias_parameter(m, self.free, self.fixed)
        if self.bias is not None:  # the fit's view: the model's parameters, then the bias
            from dataclasses import replace

            self.spec = replace(m.spec, parameters=(*m.spec.parameters, self.bias))
        self.stimulus = None
        self.duration_ms = None
        self.dt_ms = dt_ms
        self.integrator = integrator
        self.window_ms = None
        self.seed = seed
        self.budget = budget
        self.db = None
        self.feature_tolerances = dict(tolerances or {})
        self.workers = workers
        self.X, self.F = [], []
        self.n_sims = self.n_failed = 0
        self.first_failure = None
        self.t_start = time.perf_counter()
        self._store = self._batch = None
        self.settle_ms = float(settle_ms)
        self.smooth_ms = float(smooth_ms)
        self.spike_threshold_mV = float(spike_threshold_mV)
        self.rms_windows = [tuple(map(float, w)) for w in rms_windows]
        self.current_per_nA = current_per_nA
        if current_per_nA is not None and (
            isinstance(current_per_nA, bool)
            or not isinstance(current_per_nA, int | float)
            or not (np.isfinite(current_per_nA) and current_per_nA > 0)
        ):
            raise FitError(
                f"current_per_nA={current_per_nA!r}; allowed: a finite number > 0 "
                f"({m.current_unit} per nA)"
            )
        self._check_args()
        self.shape = not m.has_reset  # I&F traces carry no action potential to compare
        self._grid(float(sweeps.dt_ms))
        self.sweep_data = _prepare(
            sweeps,
            self.spike_threshold_mV,
            self.smooth_ms,
            self.shape,
            m.current_unit,
            self.decimate,
            self.current_per_nA,
        )
        self.measures = self._choose_objectives(objectives)
        self.free_names = list(self.free)
        self.lo = np.array([self.free[n][0] for n in self.free_names])
        self.hi = np.array([self.free[n][1] for n in self.free_names])
        names = self.spec.parameter_names
        self._idx = [names.index(n) for n in self.free_names]
        self._base = self.spec.params_array(dict(self.fixed))[0]
        self.log_scale = log_scale
        self._set_log_scale()
        self.duration_ms = max(d.protocol.end_ms for d in self.sweep_data)

    # ------------------------------------------------------------------ checks
    def _check_args(self) -> None:
        m, names = self.model, self.spec.parameter_names
        for what, v in (("settle_ms", self.settle_ms), ("smooth_ms", self.smooth_ms)):
            if not (np.isfinite(v) and v >= 0):
                raise FitError(f"{what}={v!r}; allowed: a finite number >= 0 (ms)")
        if not np.isfinite(self.spike_threshold_mV):
            raise FitError(f"spike_threshold_mV={self.spike_threshold_mV!r}; allowed: finite (mV)")
        if self.dt_ms is not None and not (np.isfinite(self.dt_ms) and self.dt_ms > 0):
            raise FitError(f"dt_ms={self.dt_ms!r}; allowed: a finite number > 0 (ms)")
        if not self.free:
            raise FitError("no free parameter: give at least one --free NAME")
        for name in [*self.free, *self.fixed]:
            if name not in names:
                raise ParameterError(
                    f"unknown parameter {name!r} for model {m.name!r}; allowed: {', '.join(names)}"
                )
        both = set(self.free) & set(self.fixed)
        if both:
            raise FitError(f"parameter {sorted(both)[0]!r} is both free and fixed")
        for name, v in self.fixed.items():
            p = self.spec.parameter(name)
            if not (np.isfinite(v) and p.low <= v <= p.high):
                raise FitError(
                    f"fixed {name}={v:g} lies outside the declared domain "
                    f"[{p.low:g}, {p.high:g}] {p.unit}"
                )
        for name, bounds in self.free.items():
            p = self.spec.parameter(name)
            try:
                lo, hi = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise FitError(f"bounds for {name}: {bounds!r}; expected (low, high)") from None
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise FitError(f"bounds for {name}: low={lo:g} {p.unit} must be < high={hi:g}")
            if lo < p.low or hi > p.high:
                raise FitError(
                    f"bounds for {name}: [{lo:g}, {hi:g}] leave the declared domain "
                    f"[{p.low:g}, {p.high:g}] {p.unit}"
                )
            self.free[name] = (lo, hi)
        if isinstance(self.budget, bool) or not (
            isinstance(self.budget, int | np.integer) and self.budget > 0
        ):
            raise FitError(f"budget={self.budget!r}; allowed: a positive number of candidates")
        if isinstance(self.seed, bool) or not (
            isinstance(self.seed, int | np.integer) and self.seed >= 0
        ):
            raise FitError(f"seed={self.seed!r}; allowed: an integer >= 0")
        bad = [k for k in self.feature_tolerances if k not in FEATURE_SD]
        if bad:
            raise FitError(f"tolerance of {bad[0]!r}: unknown; allowed: {', '.join(FEATURE_SD)}")
        for k, v in list(self.feature_tolerances.items()):
            pair = [v, 0.0] if _number(v) else list(v) if isinstance(v, tuple | list) else []
            if not (len(pair) == 2 and all(map(_number, pair)) and pair[0] > 0 <= pair[1]):
                raise FitError(
                    f"tolerance {k}={v!r}; allowed: an absolute sd > 0 ({FEATURE_UNITS[k]}) or "
                    "a pair (absolute > 0, relative >= 0)"
                )
            self.feature_tolerances[k] = float(v) if _number(v) else tuple(map(float, pair))
        for w in self.rms_windows:
            if len(w) != 2 or not (0 <= w[0] < w[1]):
                raise FitError(f"rms window {w!r}; allowed: (t0_ms, t1_ms) with 0 <= t0 < t1")
        sweeps = self.target.sweeps
        if not getattr(sweeps, "sweeps", None):
            raise FitError("no sweep to fit: the sweep set is empty")

    def _choose_objectives(self, objectives) -> tuple[str, ...]:
        if objectives is not None:
            objectives = tuple(objectives)
            if not objectives:
                raise FitError(f"no objective given; allowed: {', '.join(OBJECTIVES)}")
            for o in objectives:
                if o not in OBJECTIVES:
                    raise FitError(f"unknown objective {o!r}; allowed: {', '.join(OBJECTIVES)}")
            if "ap_shape" in objectives and not self.shape:
                raise FitError(
                    f"objective ap_shape: {self.model.name} is an integrate-and-fire model "
                    "(threshold and reset), its traces carry no action potential"
                )
            if "window_rms" in objectives and not self.rms_windows:
                raise FitError("objective window_rms needs rms_windows [(t0_ms, t1_ms), ...]")
            return objectives
        chosen = ["spike_count", "fI"]
        defined = {
            k for d in self.sweep_data for k, v in d.features.items() if np.isfinite(v)
        }
        for o in ("spike_timing", "ap_shape", "subthreshold"):
            if o == "ap_shape" and not self.shape:
                continue
            if defined & set(OBJECTIVES[o]):
                chosen.append(o)
        if self.rms_windows:
            chosen.append("window_rms")
        return tuple(chosen)

    def _grid(self, rec_dt: float) -> None:
        """The sampling the fit compares (``sample_ms``) and the simulation step: with dt_ms
        given, the recording's interval, which dt_ms must divide; else every k-th recorded
        sample, k the most that keeps the sampling within the model's declared step (a 20-kHz
        recording of a model declared at 0.1 ms: every 2nd sample, simulated at 0.1 ms)."""
        if not (np.isfinite(rec_dt) and rec_dt > 0):
            raise FitError(f"sampling interval {rec_dt!r} ms; allowed: > 0 ms")
        if self.dt_ms is not None:
            rec = max(1, int(round(rec_dt / self.dt_ms)))
            if abs(rec * self.dt_ms - rec_dt) > 1e-6 * rec_dt:
                raise FitError(
                    f"dt_ms={self.dt_ms:g} ms does not divide the sampling interval {rec_dt:g} "
                    f"ms; allowed: {rec_dt:g}/k ms for a whole k"
                )
            self.decimate = 1
        else:
            dt = self.model.default_dt_ms
            self.decimate = max(1, int(np.floor(dt / rec_dt + 1e-9)))
            rec = max(1, int(np.ceil(self.decimate * rec_dt / dt - 1e-9)))
        self.recording_dt_ms = rec_dt
        self.sample_ms = self.decimate * rec_dt
        self.record_every = rec
        self.sim_dt_ms = self.sample_ms / rec
        self.n_settle = int(np.ceil(self.settle_ms / self.sample_ms - 1e-9))

    # ------------------------------------------------------------------ simulation
    def simulate(self, x: np.ndarray, sweep_data: list | None = None) -> SweepOutput:
        """Simulate the candidates x (n, n_free) on every sweep (default the fit's) in one
        batched call (rows: candidate-major, one per (candidate, sweep)), without counting."""
        data = self.sweep_data if sweep_data is None else sweep_data
        x = np.atleast_2d(np.asarray(x, float))
        n, s_n = len(x), len(data)
        p = np.repeat(self.full_params(x), s_n, axis=0)
        settle = self.n_settle * self.sample_ms
        t_n = max(len(d.t_ms) for d in data)
        if self.bias is not None:  # the last column: the bias, added to the commands
            v, res = self._simulate_biased(p[:, :-1], p[:, -1], data, n)
            return self._collect(v, res, data, n, t_n, settle)
        amp = np.tile([d.amp for d in data], n)
        t_on = np.tile([d.protocol.t_on_ms + settle for d in data], n)
        t_off = np.tile([d.protocol.t_off_ms + settle for d in data], n)
        if any(d.protocol.ramp_end_nA is not None for d in data):
            # one kind for the batch: a step is a ramp with equal ends
            amp1 = np.tile([d.amp_end for d in data], n)
            stim = make_stimulus("ramp", amp0=amp, amp1=amp1, t_on=t_on, t_off=t_off)
        else:
            stim = make_stimulus("step", amp=amp, t_on=t_on, t_off=t_off)
        t, v, res = simulate_traces(
            self.model,
            p,
            stim,
            # through the last compared sample (sample k of the sweep at settle + k sample_ms)
            duration_ms=(self.n_settle + t_n) * self.sample_ms,
            dt_ms=self.sim_dt_ms,
            record_every=self.record_every,
            integrator=self.integrator,
            workers=self.workers,
        )
        return self._collect(v, res, data, n, t_n, settle)

    def _collect(self, v, res, data, n, t_n, settle) -> SweepOutput:
        """The SweepOutput of a batched run: v (n * S, samples from t = 0, the settle first)
        on the sweeps' samples, spikes per candidate and sweep, failures."""
        s_n = len(data)
        v = v[:, self.n_settle : self.n_settle + t_n]
        if v.shape[1] != t_n:
            raise RuntimeError(f"the simulation returned {v.shape[1]} samples, {t_n} expected")
        v = v.reshape(n, s_n, t_n)
        row_ok = np.asarray(res.ok, bool)
        spikes, ok, errors = [], np.ones(n, bool), []
        for i in range(n):
            row_sp, err = [], None
            for j, d in enumerate(data):
                r, tn = i * s_n + j, len(d.t_ms)
                if self.shape:  # action potentials: the recording's peak rule on both sides
                    st = detect_peaks(d.t_ms, np.nan_to_num(v[i, j, :tn]), self.spike_threshold_mV)
                else:  # threshold-reset: the engine's crossings (its trace has no peak)
                    st = np.asarray(res.spike_times[r], float) - settle
                row_sp.append(st[(st >= 0) & (st < d.protocol.end_ms)])
                v[i, j, tn:] = np.nan
                if err is None and not (row_ok[r] and np.isfinite(v[i, j, :tn]).all()):
                    err = f"sweep {d.protocol.index}: {res.errors[r] or 'non-finite voltage'}"
            spikes.append(row_sp)
            ok[i] = err is None
            errors.append(err)
        t_ms = np.arange(t_n) * self.sample_ms
        return SweepOutput(t_ms, v, spikes, ok, errors, data)

    def _simulate_biased(self, p: np.ndarray, bias: np.ndarray, data: list, n: int):
        """V (rows, samples from t = 0) and the run's ok / errors / spike_times of the rows
        (candidate-major, one per (candidate, sweep)) with ``bias`` (model current units, one per
        row) added to each sweep's command at all times. The stimuli hold one window each, so
        the run is cut at every edge of the commands into pieces of constant (or, for a ramp,
        linear) current, each simulated from the state that ends the one before (``y0``); the
        edges are those the engine gives a step (the first step whose midpoint is at or after
        the edge), so with zero bias the pieces make the same current as one step stimulus.
        What the engine holds outside the state (the refractory count) does not carry over an
        edge: a spike within t_ref before an edge has its dead time cut there."""
        from types import SimpleNamespace

        from neuroscape.sim.neuron_engine import simulate_neurons

        dt = self.sim_dt_ms
        settle = self.n_settle * self.sample_ms
        t_n = max(len(d.t_ms) for d in data)
        n_steps = (self.n_settle + t_n) * self.record_every  # through the last compared sample

        def edge(t_ms: float) -> int:
            return min(max(int(np.ceil(t_ms / dt - 0.5 - 1e-9)), 0), n_steps)

        on = np.tile([edge(d.protocol.t_on_ms + settle) for d in data], n)
        off = np.tile([edge(d.protocol.t_off_ms + settle) for d in data], n)
        t_on = np.tile([d.protocol.t_on_ms + settle for d in data], n)
        t_off = np.tile([d.protocol.t_off_ms + settle for d in data], n)
        a0 = np.tile([d.amp for d in data], n)
        a1 = np.tile([d.amp_end for d in data], n)
        slope = (a1 - a0) / np.maximum(t_off - t_on, 1e-300)  # a step: 0

        def current(t: float, inside: np.ndarray) -> np.ndarray:
            return np.where(inside, a0 + slope * (t - t_on), 0.0) + bias

        integ = self.integrator or self.model.spec.settings.integrator
        y = self.model.initial_state(p)
        y_init = y.copy()
        vs = [y[:, 0][:, None]]
        spikes = [[] for _ in range(len(p))]
        ok, errors = np.ones(len(p), bool), [None] * len(p)
        cuts = sorted({0, n_steps, *on.tolist(), *off.tolist()})
        for k0, k1 in zip(cuts[:-1], cuts[1:], strict=True):
            length = (k1 - k0) * dt
            inside = (on <= k0) & (k0 < off)
            stim = make_stimulus("ramp", amp0=current(k0 * dt, inside),
                                 amp1=current(k1 * dt, inside), t_on=0.0, t_off=length)  # fmt: skip
            res = simulate_neurons(
                self.model, p, stim, duration_ms=length, dt_ms=dt, window_ms=length,
                integrator=integ, record_v=True, record_every=1, workers=self.workers, y0=y,
            )  # fmt: skip
            vs.append(res.states[:, 0, :])
            y = np.array(res.states[:, :, -1])
            bad = ~np.isfinite(y).all(axis=1)
            y[bad] = y_init[bad]  # a failed row goes on from rest (it is failed already)
            for r in range(len(p)):
                if not res.ok[r] and ok[r]:
                    ok[r], errors[r] = False, res.errors[r]
                if res.spike_times is not None and len(res.spike_times[r]):
                    spikes[r].append(np.asarray(res.spike_times[r], float) + k0 * dt)
        v = np.concatenate(vs, axis=1)[:, :: self.record_every]
        times = [np.concatenate(s) if s else np.zeros(0) for s in spikes]
        return v, SimpleNamespace(ok=ok, errors=errors, spike_times=times)

    # ------------------------------------------------------------------ errors
    def feature_errors(self, out: SweepOutput) -> list[list[dict[str, float]]]:
        """[candidate][sweep] {feature: |model - recorded| / sd} over the features the
        recording defines (MISSING_SD where the model lacks one); plus the model's values under
        ``"_model"``."""
        n = len(out.ok)
        res = [[None] * len(out.sweeps) for _ in range(n)]
        for j, d in enumerate(out.sweeps):
            p, tn = d.protocol, len(d.t_ms)
            vrows = out.v[:, j, :tn]
            vf = voltage_features(d.t_ms, np.nan_to_num(vrows), p, self.smooth_ms,
                                  d.onset_end_ms)  # fmt: skip
            sf = None
            want_shape = self.shape and "ap_shape" in self.measures
            if want_shape and np.isfinite(d.features.get("AP_amplitude", np.nan)):
                sf = shape_features(d.t_ms, np.nan_to_num(vrows), p)
            for i in range(n):
                model = spike_features(out.spikes[i][j], p)
                model.update({k: float(vf[k][i]) for k in vf})
                if sf is not None:
                    model.update({k: float(sf[k][i]) for k in sf})
                errs = {}
                for name, want in d.features.items():
                    if name not in FEATURE_SD or not np.isfinite(want):
                        continue  # undefined in the recording: skipped
                    got = model.get(name, np.nan)
                    sd = feature_sd(name, want, self.feature_tolerances)
                    errs[name] = abs(got - want) / sd if np.isfinite(got) else MISSING_SD
                errs["_model"] = model
                res[i][j] = errs
        return res

    def errors_of(self, out: SweepOutput) -> np.ndarray:
        """(n, n_objectives) errors, each the sum over sweeps of its features' scaled errors;
        failed candidates get inf."""
        n = len(out.ok)
        f = np.zeros((n, len(self.measures)))
        fe = self.feature_errors(out)
        for k, obj in enumerate(self.measures):
            if obj == "window_rms":
                f[:, k] = self._window_rms(out)
                continue
            names = OBJECTIVES[obj]
            for i in range(n):
                f[i, k] = sum(e for sw in fe[i] for nm, e in sw.items() if nm in names)
        f[~np.asarray(out.ok, bool)] = np.inf
        return np.where(np.isnan(f), np.inf, f)

    def _window_rms(self, out: SweepOutput) -> np.ndarray:
        err = np.zeros(len(out.ok))
        for j, d in enumerate(out.sweeps):
            for t0, t1 in self.rms_windows:
                w = (d.t_ms >= t0) & (d.t_ms < t1)
                if not w.any():
                    continue
                diff = out.v[:, j, : len(d.t_ms)][:, w] - d.v_mV[w][None, :]
                err += np.sqrt(np.mean(diff**2, axis=1)) / WINDOW_RMS_SD_MV
        return err

    # ------------------------------------------------------------------ validation
    def prepare(self, sweeps) -> list:
        """The recording's side (protocols, spikes, features) of another SweepSet, read with
        this fit's settings."""
        dt = float(sweeps.dt_ms)
        if abs(dt - self.recording_dt_ms) > 1e-6 * dt:
            raise FitError(
                f"{getattr(sweeps, 'source', '') or 'the sweeps'} are sampled every {dt:g} ms, "
                f"the fitted ones every {self.recording_dt_ms:g} ms; allowed: the same"
            )
        return _prepare(
            sweeps,
            self.spike_threshold_mV,
            self.smooth_ms,
            self.shape,
            self.model.current_unit,
            self.decimate,
            self.current_per_nA,
        )

    def validate(self, x, held_out) -> list[dict]:
        """Predict the sweeps of ``held_out`` (a SweepSet) with the parameters ``x`` (a vector
        of the free parameters, or {name: value}); not counted against the budget. One entry
        per sweep: ``sweep`` (its index in the file), ``amp_nA`` (a ramp's start; its end:
        ``ramp_end_nA``, None for a step), ``spikes_recorded``,
        ``spikes_model`` (spikes in the analysed sweep), ``feature_errors`` {feature: sd
        units}, ``features_recorded`` and ``features_model`` {feature: value} (units in
        ``FEATURE_UNITS``), ``error`` (the sum of the feature errors, sd units), ``ok`` and
        ``failure`` (the model's side is None where the simulation failed)."""
        return self.predict(x, held_out)[0]

    def predict(self, x, sweeps) -> tuple[list[dict], SweepOutput]:
        """``validate``'s entries and the simulation itself (its traces, for figures)."""
        if isinstance(x, dict):
            missing = [n for n in self.free_names if n not in x]
            if missing:
                raise FitError(f"parameters: {missing[0]!r} missing; free: {self.free_names}")
            x = [x[n] for n in self.free_names]
        x = np.asarray(x, float).ravel()
        if len(x) != self.n_free:
            raise FitError(f"{len(x)} values for {self.n_free} free parameters {self.free_names}")
        data = self.prepare(sweeps)
        out = self.simulate(x[None, :], data)
        fe = self.feature_errors(out)[0]
        ok = bool(out.ok[0])
        entries = []
        for j, d in enumerate(data):
            model = fe[j].pop("_model")
            errs = dict(fe[j])
            entries.append(
                {
                    "sweep": d.protocol.index,
                    "amp_nA": d.protocol.amp_nA,
                    "ramp_end_nA": d.protocol.ramp_end_nA,  # None: a step
                    "spikes_recorded": int(d.features["spike_count"]),
                    "spikes_model": int(len(out.spikes[0][j])) if ok else None,
                    "feature_errors": errs if ok else None,
                    "features_recorded": {k: v for k, v in d.features.items() if np.isfinite(v)},
                    "features_model": {k: v for k, v in model.items() if np.isfinite(v)}
                    if ok
                    else None,
                    "error": float(sum(errs.values())) if ok else float("inf"),
                    "ok": ok,
                    "failure": out.errors[0],
                }
            )
        return entries, out

    def insensitive(self) -> bool:
        """True when no free parameter moves any objective: the defaults and each free
        parameter at both ends of its box (2 n_free + 1 candidates, not counted) score alike."""
        x0 = self.check_start(None)
        xs = [x0]
        for k in range(self.n_free):
            for end in (self.lo[k], self.hi[k]):
                x = x0.copy()
                x[k] = end
                xs.append(x)
        f = self.errors_of(self.simulate(np.array(xs)))
        return bool(np.all(f == f[0]))

    # ------------------------------------------------------------------ reports
    @property
    def measure_units(self) -> dict[str, str]:
        """Every objective is in units of its scales (dimensionless)."""
        return {m: "1" for m in self.measures}

    def describe(self) -> dict:
        return {
            "model": self.model.ref,
            "free": {k: list(v) for k, v in self.free.items()},
            "fixed": self.fixed,
            "objectives": list(self.measures),
            "target": self.target.source,
            "sweeps": [d.protocol.as_dict() for d in self.sweep_data],
            "recording_dt_ms": self.recording_dt_ms,
            "sample_ms": self.sample_ms,
            "dt_ms": self.sim_dt_ms,
            "settle_ms": self.n_settle * self.sample_ms,
            "current_unit": self.model.current_unit,
            "current_per_nA": self.current_per_nA,
            "log_scale": list(self.log_scale),
            "bias": None if self.bias is None else {
                "name": BIAS, "unit": self.bias.unit,
                "note": "a constant current added to every sweep's command at all times"},
            "tolerances": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in self.feature_tolerances.items()},  # fmt: skip
            "seed": self.seed,
        }

    def stimulus_description(self, stimulus=None) -> str:
        cu = self.model.current_unit
        parts = [
            f"sweep {d.protocol.index}: "
            + (f"{d.amp:g} {cu}" if d.protocol.ramp_end_nA is None else
               f"a ramp {d.amp:g} to {d.amp_end:g} {cu}")  # fmt: skip
            + " from "
            f"{d.protocol.t_on_ms:g} to {d.protocol.t_off_ms:g} ms"
            for d in self.sweep_data
        ]
        return "; ".join(parts)

    def _write_db(self, x, out) -> None:  # refused in __init__
        raise FitError("a sweep fit does not write a model database")


def _bias_parameter(m, free: dict, fixed: dict):
    """The Parameter ``BIAS`` (the model's current unit, default 0) when ``free`` or ``fixed``
    name it and the model has no parameter of that name, else None; its domain is any constant
    current, stated as the bounds given (and 0). Refused for multi-compartment cells."""
    from neuroscape.core.spec import Parameter

    if BIAS in m.spec.parameter_names or (BIAS not in free and BIAS not in fixed):
        return None
    if not isinstance(m, NeuronModel):
        raise FitError(f"{BIAS}: a bias current is for single-neuron models; {m.name!r} is a cell")
    vals = [0.0]
    if BIAS in free:
        try:
            vals += [float(b) for b in free[BIAS]]
        except (TypeError, ValueError):
            raise FitError(f"bounds for {BIAS}: {free[BIAS]!r}; expected (low, high)") from None
    if BIAS in fixed:
        vals.append(float(fixed[BIAS]))
    if not np.isfinite(vals).all():
        raise FitError(f"{BIAS}: {vals[1:]!r}; allowed: finite currents ({m.current_unit})")
    lo, hi = min(vals), max(vals)
    if lo == hi:
        lo, hi = lo - 1.0, hi + 1.0
    return Parameter(BIAS, 0.0, lo, hi, m.current_unit,
                     "constant current added to every sweep's command (a holding or leak "
                     "current the recorded command does not show)")  # fmt: skip


def warn_if_insensitive(problem: SweepFitProblem) -> bool:
    """Warn (one line) and return True when no free parameter moves any objective."""
    if problem.insensitive():
        warnings.warn(
            f"no free parameter ({', '.join(problem.free_names)}) changes any objective of "
            f"{problem.model.name} on these sweeps: the fit cannot move",
            stacklevel=2,
        )
        return True
    return False


def spike_count_within(recorded: int, model: int | None, rel: float = 0.15) -> bool:
    """Whether a predicted spike count is within max(1 spike, ``rel`` of the recorded count)
    of the recorded one (False for a failed simulation, None)."""
    return model is not None and abs(model - recorded) <= max(1.0, rel * recorded)


def _command_runs(sweeps) -> tuple[list[list[tuple[float, float, float]]], float]:
    """Each sweep's command as its "on" runs [(t_start_ms, t_stop_ms, amp_nA)] and the sweeps'
    common end (ms): the current (median-filtered over 1 ms) is "on" where it leaves its
    holding level (the median of its first 1/64) by more than 10 noise SDs and 2% of its
    largest excursion; a run's amp is its median current minus the holding level."""
    from scipy.ndimage import median_filter

    dt = float(sweeps.dt_ms)
    k = max(1, int(round(1.0 / dt)))
    runs, ends = [], []
    for sw in sweeps.sweeps:
        i = np.asarray(sw.i_nA, float)
        s = median_filter(i, size=2 * (k // 2) + 1, mode="nearest") if k > 1 else i
        head = i[: max(8, len(i) // 64)]
        hold = float(np.median(s[: len(head)]))
        noise = 1.4826 * float(np.median(np.abs(np.diff(head)))) / np.sqrt(2.0)
        tol = max(10.0 * noise, 0.02 * float(np.abs(s - hold).max()), 1e-9)
        on = np.abs(s - hold) > tol
        d = np.diff(on.astype(np.int8))
        a = list(np.flatnonzero(d == 1) + 1) + ([0] if on[0] else [])
        b = list(np.flatnonzero(d == -1) + 1)
        a.sort()
        r = []
        for start in a:
            stop = next((e for e in b if e > start), len(i))
            r.append((start * dt, stop * dt, float(np.median(s[start:stop])) - hold))
        runs.append(r)
        ends.append(len(i) * dt)
    return runs, float(min(ends))


def single_step_window(sweeps) -> float:
    """The longest start of the sweeps, [0, t_stop) ms, in which every sweep's command is at
    most one step that also ends there (the "on" runs of ``_command_runs``); t_stop is the
    latest start of an "on" run (or the sweeps' end) before which every sweep has at most one
    run, ended. For a protocol whose later epochs (a test pulse, a second step) the engines
    cannot inject with the first: ``sweeps.window(0, t_stop)``. Returns the sweeps' end when
    no cut is needed."""
    runs, end = _command_runs(sweeps)
    candidates = sorted({end, *(a for r in runs for a, _, _ in r if a < end)}, reverse=True)
    for t_stop in candidates:
        if all(
            len([1 for a, _, _ in r if a < t_stop]) <= 1
            and all(b <= t_stop + 1e-9 for a, b, _ in r if a < t_stop)
            for r in runs
        ):
            return float(t_stop)
    raise FitError(
        f"{getattr(sweeps, 'source', '') or 'the sweeps'}: no start of the sweeps holds at most "
        "one step in every sweep (a step at 0 ms?); cut them with SweepSet.window"
    )


EPOCH_ALIGN_MS = 1.0  # runs of different sweeps starting this close are one protocol epoch


def family_step_window(sweeps) -> tuple[float, float]:
    """The window [t0, t1) ms that holds a step family's varying step alone. The sweeps'
    "on" runs (``_command_runs``) are grouped into epochs by their start (within
    ``EPOCH_ALIGN_MS``); the family's step is the epoch whose amplitude differs most between
    the sweeps (a sweep without a run there: 0). When that is the first epoch, the window is
    ``(0, single_step_window(sweeps))``; when it follows others (a test pulse first, as in
    protocols that measure the access or input resistance before the family), t0 is the latest
    end of the earlier epochs' runs and t1 the earliest start of a later one (or the sweeps'
    end): ``sweeps.window(t0, t1)`` then keeps the baseline before the step, the step and what
    follows it."""
    runs, end = _command_runs(sweeps)
    starts = sorted(a for r in runs for a, _, _ in r)
    epochs: list[float] = []  # the first start of each epoch (ms)
    for a in starts:
        if not epochs or a - epochs[-1] > EPOCH_ALIGN_MS:
            epochs.append(a)
    if len(epochs) <= 1:
        return 0.0, single_step_window(sweeps)

    def epoch_of(a: float) -> int:
        return max(j for j, e in enumerate(epochs) if a >= e - 1e-9)

    amps = np.zeros((len(runs), len(epochs)))
    for i, r in enumerate(runs):
        for a, _, amp in r:
            amps[i, epoch_of(a)] = amp
    k = int(np.argmax(np.ptp(amps, axis=0)))
    if k == 0:
        return 0.0, single_step_window(sweeps)
    t0 = max(b for r in runs for a, b, _ in r if epoch_of(a) < k)
    later = [a for r in runs for a, _, _ in r if epoch_of(a) > k]
    t1 = min(later) if later else end
    if any(b > t1 + 1e-9 for r in runs for a, b, _ in r if epoch_of(a) == k) or t0 >= epochs[k]:
        raise FitError(
            f"{getattr(sweeps, 'source', '') or 'the sweeps'}: the varying step (from "
            f"{epochs[k]:g} ms) overlaps another epoch of the protocol; cut the sweeps with "
            "SweepSet.window"
        )
    return float(t0), float(t1)


# ------------------------------------------------------------------------------ cell properties
@dataclass(frozen=True)
class PassiveEstimate:
    """A cell's passive properties read off its recording (``passive_properties``):
    ``rest_mV``, input resistance ``r_in_MOhm`` (the slope of the steady-state deflection over
    the current of the hyperpolarising steps), membrane time constant ``tau_ms`` (the median of
    one-exponential fits to their onsets), and what follows for a one-compartment cell:
    ``g_nS`` = 1 / R_in and ``c_pF`` = tau / R_in; ``sweeps``: the file indices used (None
    values: no hyperpolarising sweep without spikes to read them from); ``quiet_rest_mV``:
    the median baseline of the sweeps without a spike before their step (None when every
    sweep fires there): where a spontaneously firing cell sits when it is quiet."""

    rest_mV: float
    r_in_MOhm: float | None
    tau_ms: float | None
    sweeps: tuple[int, ...]
    quiet_rest_mV: float | None = None

    @property
    def g_nS(self) -> float | None:
        return None if not self.r_in_MOhm else 1e3 / self.r_in_MOhm

    @property
    def c_pF(self) -> float | None:
        if not self.r_in_MOhm or self.tau_ms is None:
            return None
        return 1e3 * self.tau_ms / self.r_in_MOhm

    def as_dict(self) -> dict:
        return {"rest_mV": self.rest_mV, "r_in_MOhm": self.r_in_MOhm, "tau_ms": self.tau_ms,
                "g_nS": self.g_nS, "c_pF": self.c_pF, "sweeps": list(self.sweeps),
                "quiet_rest_mV": self.quiet_rest_mV}  # fmt: skip


TAU_FIT_SKIP_MS = 1.0  # the onset's first ms is left out of the tau fit (the bridge's jump)


def _onset_tau(t: np.ndarray, v: np.ndarray, p: StepProtocol) -> float | None:
    """tau (ms) of V = A + B exp(-(t - t_on) / tau) fitted from ``TAU_FIT_SKIP_MS`` after the
    onset of a hyperpolarising step to the trace's minimum (before any sag recovers)."""
    from scipy.optimize import curve_fit

    dt = float(t[1] - t[0])
    vs = _moving_average(v[None, :], int(round(1.0 / dt)))[0]
    step = (t >= p.t_on_ms + TAU_FIT_SKIP_MS) & (t < p.t_off_ms)
    if step.sum() < 10:
        return None
    i_min = int(np.flatnonzero(step)[0] + np.argmin(vs[step]))
    w = step & (t <= t[i_min])
    if w.sum() < 10:
        return None
    tt, vv = t[w] - p.t_on_ms, v[w]
    a0, b0 = float(vv[-1]), float(vv[0] - vv[-1])
    tau0 = max(float(tt[-1] - tt[0]) / 4.0, 2 * dt)
    try:
        (_, _, tau), _ = curve_fit(
            lambda x, a, b, tau: a + b * np.exp(-x / tau), tt, vv, p0=(a0, b0, tau0),
            bounds=([-np.inf, -np.inf, dt], [np.inf, np.inf, 10.0 * (tt[-1] + dt)]), maxfev=2000,
        )  # fmt: skip
    except (RuntimeError, ValueError):
        return None
    return float(tau) if np.isfinite(tau) else None


# where a whole-cell recording's rest may lie and still be a living neuron's (mV): cortical and
# hippocampal cells rest near -60 to -75 mV, depolarised ones and spontaneously firing ones
# higher; a rest near 0 is a dead cell, a lost seal or a unit off by 10^3
REST_RANGE_MV = (-100.0, -30.0)


def passive_properties(sweeps, spike_threshold_mV: float = -20.0) -> PassiveEstimate:
    """Rest, input resistance and membrane time constant of a step family, the way they are
    read in the lab (e.g. the Allen Cell Types Database's electrophysiology white paper):
    the rest is the median over sweeps of each sweep's pre-step baseline (its median V before
    the step), every sweep counted, also one that fires there: a spontaneously firing cell's
    rest is where it sits between its spikes, and a family whose baseline drifts (e.g. down
    after the strong steps of its last sweeps) is read at its typical sweep, not at the drift
    (``quiet_rest_mV``: the median over the sweeps without a spike before the step alone);
    R_in the least-squares slope through the origin of the steady-state deflection (mean V over
    the last 10% of the step minus the sweep's baseline) against the current of the
    hyperpolarising steps in which the cell does not fire; tau the median over those sweeps of
    one-exponential fits from 1 ms after the onset to the trace's minimum. Refused (FitError)
    when no sweep has a baseline before its step."""
    base, quiet, di, dv, taus, used = [], [], [], [], [], []
    for sw in sweeps.sweeps:
        p = step_protocol(sweeps, sw.index)
        t, v = np.asarray(sw.t_ms, float), np.asarray(sw.v_mV, float)
        pre = t < p.t_on_ms
        if not pre.any():
            continue
        spikes = detect_peaks(t, v, spike_threshold_mV)
        b = float(np.median(v[pre]))
        base.append(b)
        if not np.any(spikes < p.t_on_ms):
            quiet.append(b)
        if p.ramp_end_nA is not None or p.amp_nA >= 0:
            continue
        if np.any((spikes >= p.t_on_ms) & (spikes <= p.t_off_ms)):
            continue
        ss = (t >= p.t_off_ms - 0.1 * (p.t_off_ms - p.t_on_ms)) & (t < p.t_off_ms)
        if not ss.any():
            continue
        di.append(p.amp_nA)
        dv.append(float(v[ss].mean()) - b)
        tau = _onset_tau(t, v, p)
        if tau is not None:
            taus.append(tau)
        used.append(int(sw.index))
    if not base:
        raise FitError(
            f"{getattr(sweeps, 'source', '') or 'the sweeps'}: no sweep has a baseline before "
            "its step (the recorded rest)"
        )
    rest = float(np.median(base))
    if not REST_RANGE_MV[0] <= rest <= REST_RANGE_MV[1]:
        warnings.warn(
            f"{getattr(sweeps, 'source', '') or 'the sweeps'}: the recorded rest is {rest:.1f} "
            f"mV, outside {REST_RANGE_MV[0]:g}..{REST_RANGE_MV[1]:g} mV where living neurons "
            "rest: a lost seal or a dying cell, a wrong unit or gain, or an offset to correct "
            "(v_offset_mV)",
            stacklevel=2,
        )
    di, dv = np.asarray(di), np.asarray(dv)
    r_in = float(np.dot(di, dv) / np.dot(di, di)) if len(di) else None  # mV / nA = MOhm
    if r_in is not None and not r_in > 0:
        r_in = None
    tau = float(np.median(taus)) if taus else None
    quiet_rest = float(np.median(quiet)) if quiet else None
    return PassiveEstimate(rest, r_in, tau, tuple(used), quiet_rest)


BLOCK_FRACTION = 0.5  # of the f-I curve's peak count
BLOCK_MIN_PEAK = 4  # spikes at the peak for a fall to be read as block


def depolarisation_block(amps_nA: Sequence[float], counts: Sequence[int]) -> np.ndarray:
    """Which sweeps of a step family are in depolarisation block: those at a current above the
    f-I curve's peak (the sweep with the most spikes in its step, at least ``BLOCK_MIN_PEAK``)
    that fire fewer than ``BLOCK_FRACTION`` of the peak's spikes. Past that point the spike
    (Na+) channels stay inactivated (e.g. Bianchi et al. 2012, J Comput Neurosci 33:207); an
    integrate-and-fire model's f-I curve only rises, so it cannot follow them. Returns (n,)
    bool in the order given."""
    a = np.asarray(amps_nA, float)
    c = np.asarray(counts, float)
    if a.shape != c.shape or a.ndim != 1:
        raise FitError(f"amps ({a.shape}) and counts ({c.shape}): allowed: two equal 1-D lists")
    out = np.zeros(len(a), bool)
    if not len(a) or c.max() < BLOCK_MIN_PEAK:
        return out
    peak = int(np.argmax(c))
    return (a > a[peak]) & (c < BLOCK_FRACTION * c[peak])
