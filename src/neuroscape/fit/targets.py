"""Fit targets: a voltage trace (CSV or NWB), spike features, a behaviour class or ranges,
firing rates, or the values of any model's declared outputs; and synthetic targets made from
known parameters so that recovery can be measured."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import numpy as np

from neuroscape.core.stimuli import Stimulus
from neuroscape.models import Model
from neuroscape.models.neuron import BEHAVIOURS

KINDS = ("trace", "features", "class", "rates", "outputs")


class TargetError(ValueError):
    """A target file or value that cannot be used."""


@dataclass
class Target:
    """What a fit aims at. ``kind`` says which fields are set:

    trace: ``t_ms`` (T,) and ``v_mV`` (T,), sampled uniformly; features: ``features``
    {eFEL name: value}; class: ``behaviour`` (one of BEHAVIOURS) and/or ``ranges``
    {quantity: (low, high)} with quantities ``rate`` (Hz), ``cv_isi``, ``burst_period_ms``;
    rates: ``rates`` {output name: Hz}; outputs: ``outputs`` {declared output name: value in
    its declared unit} and, optionally, ``output_sd`` {name: the scale of its error, same
    unit: a measurement SD or tolerance; an output without one is compared relatively}.
    ``truth`` holds the parameters of a synthetic target.
    """

    kind: str
    t_ms: np.ndarray | None = None
    v_mV: np.ndarray | None = None
    features: dict[str, float] = field(default_factory=dict)
    behaviour: str | None = None
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, float] = field(default_factory=dict)
    output_sd: dict[str, float] = field(default_factory=dict)
    truth: dict[str, float] | None = None
    source: str = ""
    # what a trace file records of its stimulus: the injected current on t_ms (in
    # ``current_unit``), and/or the exact stimulus description (NWB files written here)
    current: np.ndarray | None = None
    current_unit: str | None = None
    stimulus: Stimulus | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TargetError(f"target kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.kind == "trace":
            t, v = np.asarray(self.t_ms, float), np.asarray(self.v_mV, float)
            if t.ndim != 1 or t.shape != v.shape or len(t) < 10:
                raise TargetError(
                    f"a trace needs t_ms and V_mV of equal length >= 10, got {t.shape}"
                )
            if not (np.isfinite(t).all() and np.isfinite(v).all()):
                bad = int(np.flatnonzero(~(np.isfinite(t) & np.isfinite(v)))[0])
                raise TargetError(f"{self.source or 'trace'}: NaN or inf at sample {bad}")
            dt = np.diff(t)
            if np.any(dt <= 0) or np.ptp(dt) > 1e-6 * max(dt.mean(), 1e-12) + 1e-9:
                raise TargetError(
                    f"{self.source or 'trace'}: t_ms must increase in equal steps "
                    f"(steps from {dt.min():g} to {dt.max():g} ms)"
                )
            self.t_ms, self.v_mV = t, v
            if self.current is not None:
                c = np.asarray(self.current, float)
                if c.shape != t.shape or not np.isfinite(c).all():
                    raise TargetError(
                        f"{self.source or 'trace'}: the current needs {len(t)} finite samples, "
                        f"one per time point (got shape {c.shape})"
                    )
                if self.current_unit is None:
                    raise TargetError(f"{self.source or 'trace'}: a current needs its unit")
                self.current = c
        elif self.current is not None or self.stimulus is not None:
            raise TargetError(f"a {self.kind} target records no stimulus; only a trace does")
        if self.kind == "class":
            if self.behaviour is None and not self.ranges:
                raise TargetError("a class target needs a behaviour or ranges")
            if self.behaviour is not None and self.behaviour not in BEHAVIOURS:
                raise TargetError(f"behaviour {self.behaviour!r}; allowed: {', '.join(BEHAVIOURS)}")
            for k, (lo, hi) in self.ranges.items():
                if k not in RANGE_QUANTITIES:
                    raise TargetError(
                        f"range quantity {k!r}; allowed: {', '.join(RANGE_QUANTITIES)}"
                    )
                if not lo <= hi:
                    raise TargetError(f"range {k}: low={lo:g} must be <= high={hi:g}")
        if self.kind == "features" and not self.features:
            raise TargetError("a features target needs at least one feature")
        if self.kind == "rates" and not self.rates:
            raise TargetError("a rates target needs at least one output, e.g. r_E=25")
        if self.kind == "outputs":
            self._check_outputs()

    def _check_outputs(self) -> None:
        src = self.source or "outputs target"
        if not self.outputs:
            raise TargetError(f"{src}: an outputs target needs at least one output, e.g. rate=60")
        for name, v in self.outputs.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
                raise TargetError(f"{src}: outputs.{name}={v!r} is not a finite number")
        extra = [k for k in self.output_sd if k not in self.outputs]
        if extra:
            raise TargetError(
                f"{src}: sd of {extra[0]!r}, which is not a targeted output; targeted: "
                f"{', '.join(self.outputs)}"
            )
        for name, sd in self.output_sd.items():
            if isinstance(sd, bool) or not isinstance(sd, int | float) or not sd > 0:
                raise TargetError(
                    f"{src}: outputs.{name}.sd={sd!r}; allowed: a finite number > 0 (the "
                    "output's unit)"
                )
            if not np.isfinite(sd):
                raise TargetError(f"{src}: outputs.{name}.sd={sd!r}; allowed: finite, > 0")
        zero = [k for k, v in self.outputs.items() if v == 0 and k not in self.output_sd]
        if zero:
            raise TargetError(
                f"{src}: outputs.{zero[0]}=0 needs an sd (a relative error of 0 is undefined); "
                f'e.g. {{"{zero[0]}": {{"value": 0, "sd": 1}}}}'
            )
        self.outputs = {k: float(v) for k, v in self.outputs.items()}
        self.output_sd = {k: float(v) for k, v in self.output_sd.items()}

    @property
    def output_values(self) -> dict[str, float]:
        """The targeted output values of a rates or outputs target ({} for other kinds)."""
        if self.kind == "rates":
            return dict(self.rates)
        if self.kind == "outputs":
            return dict(self.outputs)
        return {}

    def output_scales(self) -> dict[str, float]:
        """The scale each targeted output's error is divided by under the outputs measure: its
        sd where given, else |value| (a relative error)."""
        return {k: self.output_sd.get(k, abs(v)) for k, v in self.output_values.items()}

    @property
    def dt_ms(self) -> float:
        return float(self.t_ms[1] - self.t_ms[0])

    @property
    def duration_ms(self) -> float:
        return float(self.t_ms[-1] + self.dt_ms)

    def recorded_stimulus(self) -> Stimulus | None:
        """The stimulus this target was recorded under, when its file says: the exact
        description (NWB written by neuroscape), or a current column that is one step (zero,
        then one amplitude from t_on to t_off, or to the end); None when the file records none.
        A current column of any other shape raises: only the caller can name that stimulus."""
        from neuroscape.core.stimuli import make_stimulus

        if self.stimulus is not None:
            return self.stimulus
        if self.current is None:
            return None
        c, t = self.current, self.t_ms
        tol = 1e-6 * max(1.0, float(np.abs(c).max()))
        on = np.flatnonzero(np.abs(c) > tol)
        if len(on) == 0:
            return make_stimulus("step", amp=0.0)
        a, b = int(on[0]), int(on[-1]) + 1
        amp = float(np.median(c[a:b]))
        if len(on) != b - a or np.abs(c[a:b] - amp).max() > tol:
            raise TargetError(
                f"{self.source or 'trace'}: its current column is not a single step (zero, then "
                "one amplitude from t_on to t_off); give the stimulus it was recorded under"
            )
        t_off = float(t[b]) if b < len(t) else float("inf")
        return make_stimulus("step", amp=amp, t_on=float(t[a]), t_off=t_off)


RANGE_QUANTITIES = ("rate", "cv_isi", "burst_period_ms")


CURRENT_COLUMN = "I"  # the current column: ``I`` (dimensionless) or ``I_<unit>``, e.g. I_nA
# currents in amperes convert between prefixes (factor to nA); other units must match exactly
_TO_NA = {"pA": 1e-3, "nA": 1.0, "uA": 1e3, "mA": 1e6, "A": 1e9}


def current_column(unit: str) -> str:
    return CURRENT_COLUMN if unit in ("1", "") else f"{CURRENT_COLUMN}_{unit}"


def convert_current(values: np.ndarray, unit: str, to: str, source: str = "") -> np.ndarray:
    """Currents from ``unit`` to ``to`` (ampere prefixes convert; other units must match)."""
    if unit == to:
        return values
    if unit in _TO_NA and to in _TO_NA:
        return values * (_TO_NA[unit] / _TO_NA[to])
    raise TargetError(
        f"{source or 'target'}: its current is in {unit!r}; the model's current is in {to!r}"
    )


def read_trace_csv(path: str | Path) -> Target:
    """A trace target from a CSV with the header ``t_ms,V_mV`` and, optionally, the injected
    current in a column ``I_<unit>`` (``I`` when dimensionless), e.g. ``t_ms,V_mV,I_nA``."""
    path = Path(path)
    if not path.is_file():
        raise TargetError(f"target file {str(path)!r} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise TargetError(f"{path}: not a text CSV file ({type(e).__name__})") from None
    if not rows:
        raise TargetError(f"{path}: empty file; expected the header t_ms,V_mV")
    header = [h.strip() for h in rows[0]]
    for col in ("t_ms", "V_mV"):
        if col not in header:
            raise TargetError(f"{path}: missing column {col!r}; the header must hold t_ms,V_mV")
    cur = [h for h in header if h == CURRENT_COLUMN or h.startswith(CURRENT_COLUMN + "_")]
    if len(cur) > 1:
        raise TargetError(f"{path}: several current columns ({', '.join(cur)}); allowed: one")
    cols = [header.index("t_ms"), header.index("V_mV")] + [header.index(c) for c in cur]
    data = []
    for k, row in enumerate(rows[1:], start=2):
        try:
            data.append([float(row[i]) for i in cols])
        except (ValueError, IndexError):
            cells = tuple(row[i] if i < len(row) else "" for i in cols)
            raise TargetError(f"{path}, line {k}: {cells!r} are not numbers") from None
    a = np.array(data, dtype=float).reshape(-1, len(cols))
    unit = None
    if cur:
        unit = cur[0][len(CURRENT_COLUMN) + 1 :] or "1"
    return Target(
        "trace",
        a[:, 0],
        a[:, 1],
        source=str(path),
        current=a[:, 2] if cur else None,
        current_unit=unit,
    )


_NWB_STIMULUS = "neuroscape stimulus: "  # prefix of the series comment holding the stimulus


def open_nwb(path: str | Path, error: type[Exception] = TargetError):
    """(open NWBHDF5IO, its NWBFile) of ``path``; ``error``, one line, for a file pynwb cannot
    read (h5py and hdmf raise many types for a file that is not NWB)."""
    from pynwb import NWBHDF5IO

    io = None
    try:
        io = NWBHDF5IO(str(path), "r")
        return io, io.read()
    except Exception as e:
        if io is not None:
            io.close()
        text = " ".join(str(e).split())[:120]
        detail = f"{type(e).__name__}: {text}" if text else type(e).__name__
        raise error(f"{path}: not a readable NWB file ({detail})") from None


def read_nwb(path: str | Path, series: str | None = None) -> Target:
    """A trace target from a current-clamp series of an NWB file (``pynwb``); ``series`` names
    the acquisition entry (default: the first CurrentClampSeries). Volts are converted to mV.
    A series written by ``write_nwb`` with its stimulus carries it in its comments."""
    from pynwb.icephys import CurrentClampSeries

    path = Path(path)
    if not path.is_file():
        raise TargetError(f"target file {str(path)!r} does not exist")
    io, nwb = open_nwb(path, TargetError)
    with io:
        acq = nwb.acquisition
        names = [k for k, s in acq.items() if isinstance(s, CurrentClampSeries)]
        if series is None:
            if not names:
                raise TargetError(f"{path}: no CurrentClampSeries in acquisition")
            series = names[0]
        if series not in names:
            raise TargetError(
                f"{path}: no current-clamp series {series!r}; allowed: {', '.join(names) or 'none'}"
            )
        s = acq[series]
        v = np.asarray(s.data[:], float) * float(s.conversion)  # in the unit below
        unit = (s.unit or "volts").lower()
        if unit in ("volts", "volt", "v"):
            v = v * 1e3
        elif unit not in ("millivolts", "mv"):
            raise TargetError(f"{path}: series unit {s.unit!r}; allowed: volts or millivolts")
        if s.rate is not None:
            t = (s.starting_time or 0.0) * 1e3 + np.arange(len(v)) * 1e3 / float(s.rate)
        else:
            t = np.asarray(s.timestamps[:], float) * 1e3
        stim, cunit = _stimulus_from_comment(s.comments, f"{path}:{series}")
    return Target("trace", t, v, source=f"{path}:{series}", stimulus=stim, current_unit=cunit)


def _stimulus_from_comment(comments: str | None, source: str):
    if not comments or not comments.startswith(_NWB_STIMULUS):
        return None, None
    try:
        d = json.loads(comments[len(_NWB_STIMULUS) :])
        rows = [[np.inf if x is None else float(x) for x in r] for r in d["stimulus"]["values"]]
        stim = Stimulus(d["stimulus"]["kind"], np.array(rows, dtype=float))
        stim.validate()
        return stim, str(d["current_unit"])
    except (ValueError, KeyError, TypeError) as e:
        raise TargetError(f"{source}: unreadable stimulus comment ({e})") from None


def write_nwb(
    path: str | Path,
    t_ms: np.ndarray,
    v_mV: np.ndarray,
    name: str = "target",
    *,
    stimulus: Stimulus | None = None,
    current_unit: str | None = None,
) -> Path:
    """Write a trace as an NWB CurrentClampSeries (volts), e.g. to hand a synthetic target on;
    with ``stimulus`` (and its ``current_unit``) the series' comments carry the stimulus, so
    that a fit reads it back."""
    from datetime import datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries

    comments = "no comments"  # pynwb's default
    if stimulus is not None:
        if current_unit is None:
            raise TargetError("write_nwb: a stimulus needs its current_unit")
        rows = [[x if np.isfinite(x) else None for x in r] for r in stimulus.describe()["values"]]
        d = {"stimulus": {"kind": stimulus.kind, "values": rows}, "current_unit": current_unit}
        comments = _NWB_STIMULUS + json.dumps(d, allow_nan=False)  # inf (t_off): null
    nwb = NWBFile("neuroscape trace", name, datetime.now(UTC))
    dev = nwb.create_device("neuroscape")
    elec = nwb.create_icephys_electrode(name="elec0", description="simulated", device=dev)
    rate = 1e3 / float(t_ms[1] - t_ms[0])
    nwb.add_acquisition(
        CurrentClampSeries(
            name=name,
            data=np.asarray(v_mV) * 1e-3,
            electrode=elec,
            rate=rate,
            starting_time=float(t_ms[0]) * 1e-3,
            gain=1.0,
            unit="volts",
            comments=comments,
        )
    )
    path = Path(path)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


OUTPUTS_FORMAT = (
    '{"outputs": {"NAME": VALUE, "NAME2": {"value": VALUE, "sd": SD}}}: declared outputs, '
    "each value in the output's declared unit; sd (same unit, optional) scales its error, "
    "without one the error is relative, (model - value) / |value|"
)


def read_target(path: str | Path, series: str | None = None) -> Target:
    """By extension: ``.csv`` trace, ``.nwb`` trace, ``.json`` features/class/rates/outputs,
    e.g. ``{"rates": {"r_E": 25, "r_I": 100}}``, ``{"outputs": {"rate": 60, "v_mean":
    {"value": -65, "sd": 2}}}`` (see ``OUTPUTS_FORMAT``), ``{"behaviour": "bursting"}``,
    ``{"ranges": {"burst_period_ms": [50, 80]}}``, ``{"features": {"Spikecount": 8}}``.
    ``series``: the NWB acquisition series (only for .nwb)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".csv", ".nwb", ".json"):
        raise TargetError(
            f"target file {str(path)!r}: extension {ext!r}; allowed: .csv, .nwb, .json"
        )
    if path.is_dir():
        raise TargetError(f"target {str(path)!r} is a folder; expected a file")
    if series is not None and ext != ".nwb":
        raise TargetError(f"series {series!r}: only an .nwb target has series")
    if ext == ".csv":
        return read_trace_csv(path)
    if ext == ".nwb":
        return read_nwb(path, series)
    return _read_json_target(path)


def _read_json_target(path: Path) -> Target:
    if not path.is_file():
        raise TargetError(f"target file {str(path)!r} does not exist")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TargetError(f"{path}: not valid JSON ({e})") from None
    allowed = ("rates", "outputs", "features", "behaviour", "ranges")
    if not isinstance(d, dict) or not d:
        raise TargetError(f"{path}: expected an object with one of {', '.join(allowed)}")
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise TargetError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    kinds = {
        "rates": "rates",
        "outputs": "outputs",
        "features": "features",
        "behaviour": "class",
        "ranges": "class",
    }
    if len({kinds[k] for k in d}) > 1:
        raise TargetError(
            f"{path}: keys {', '.join(d)} mix target kinds; allowed: rates, or outputs, or "
            "features, or behaviour and/or ranges"
        )
    if "outputs" in d:
        return _read_outputs(path, d["outputs"])
    for k in ("rates", "features", "ranges"):
        if k in d and not isinstance(d[k], dict):
            raise TargetError(f"{path}: {k} must be an object of NAME: value")
    for k in ("rates", "features"):
        for name, val in d.get(k, {}).items():
            if isinstance(val, bool) or not isinstance(val, int | float) or not np.isfinite(val):
                raise TargetError(f"{path}: {k}.{name}={val!r} is not a finite number")
    if "rates" in d:
        return Target("rates", rates={k: float(v) for k, v in d["rates"].items()}, source=str(path))
    if "features" in d:
        return Target("features", features=dict(d["features"]), source=str(path))
    ranges = {}
    for k, pair in d.get("ranges", {}).items():
        ok = isinstance(pair, list) and len(pair) == 2
        ok = ok and all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
        if not ok or not np.all(np.isfinite(pair)):
            raise TargetError(f"{path}: ranges.{k}={pair!r}; expected [low, high], finite")
        ranges[k] = (float(pair[0]), float(pair[1]))
    behaviour = d.get("behaviour")
    if behaviour is not None and not isinstance(behaviour, str):
        raise TargetError(f"{path}: behaviour={behaviour!r}; allowed: {', '.join(BEHAVIOURS)}")
    return Target("class", behaviour=behaviour, ranges=ranges, source=str(path))


def _read_outputs(path: Path, d) -> Target:
    if not isinstance(d, dict) or not d:
        raise TargetError(f"{path}: outputs must be a non-empty object; {OUTPUTS_FORMAT}")
    values, sds = {}, {}
    for name, v in d.items():
        if isinstance(v, dict):
            bad = [k for k in v if k not in ("value", "sd")]
            if bad or "value" not in v:
                what = f"key {bad[0]!r}" if bad else "no value"
                raise TargetError(
                    f"{path}: outputs.{name} has {what}; allowed keys: value (required), sd"
                )
            values[name] = v["value"]
            if "sd" in v:
                sds[name] = v["sd"]
        else:
            values[name] = v
    return Target("outputs", outputs=values, output_sd=sds, source=str(path))


def write_trace_csv(
    path: str | Path,
    t_ms: np.ndarray,
    v_mV: np.ndarray,
    current: np.ndarray | None = None,
    current_unit: str | None = None,
) -> Path:
    """A ``t_ms,V_mV`` CSV; with ``current`` (in ``current_unit``) a third column ``I_<unit>``
    that a fit reads back as the stimulus."""
    path = Path(path)
    cols, header = [t_ms, v_mV], "t_ms,V_mV"
    if current is not None:
        if current_unit is None:
            raise TargetError("write_trace_csv: a current needs its current_unit")
        cols.append(current)
        header += "," + current_column(current_unit)
    np.savetxt(
        path,
        np.column_stack(cols),
        delimiter=",",
        header=header,
        comments="",
        fmt="%.9g",
    )
    return path


def synthetic_trace(
    model: Model | str,
    params: dict[str, float],
    stimulus: Stimulus,
    *,
    duration_ms: float,
    dt_ms: float,
    record_every: int = 1,
    noise_mV: float = 0.0,
    seed: int = 0,
    integrator: str | None = None,
) -> Target:
    """The trace of ``model`` at ``params`` under ``stimulus`` plus Gaussian measurement noise of
    SD ``noise_mV`` (seeded), with the parameters kept as the truth and the stimulus (and, for a
    step or ramp, its current on the samples) recorded on the target."""
    from neuroscape.fit.problem import simulate_traces
    from neuroscape.models import get_single_neuron

    if not (np.isfinite(noise_mV) and noise_mV >= 0):
        raise TargetError(f"noise_mV={noise_mV!r}; allowed: a finite number >= 0 (mV)")
    t, v, _ = simulate_traces(
        model,
        params,
        stimulus,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        record_every=record_every,
        integrator=integrator,
    )
    keep = t < duration_ms - 1e-9 * duration_ms  # samples on [0, duration), as a recording's
    t, v = t[keep], v[0, keep]
    v = v + noise_mV * np.random.default_rng(seed).standard_normal(v.shape[0])
    m = get_single_neuron(model)
    return Target(
        "trace",
        t,
        v,
        truth=dict(params),
        source=f"synthetic {m.name}",
        stimulus=stimulus,
        current=stimulus.current_at(t),
        current_unit=m.current_unit,
    )


def first_spike_ms(model: Model | str, target: Target) -> float | None:
    """The time (ms) of the first spike visible in a trace target of ``model``, None if none.

    Models without reset: the first upward crossing of the model's spike level. Integrate-and-
    fire models: the first reset, a drop within one sample larger than half the trace's range
    and than 8 robust SDs of its sample-to-sample noise (coarse sampling can hide resets: then
    none is reported, never a false one)."""
    from neuroscape.models import get_single_neuron

    m = get_single_neuron(model)
    v, t = target.v_mV, target.t_ms
    if not m.has_reset:
        up = np.flatnonzero((v[:-1] < m.spike_level) & (v[1:] >= m.spike_level))
        return float(t[up[0] + 1]) if len(up) else None
    d = np.diff(v)
    noise = 1.4826 * np.median(np.abs(d - np.median(d)))
    drop = np.flatnonzero(-d > max(0.5 * np.ptp(v), 8.0 * noise))
    return float(t[drop[0]]) if len(drop) else None


def target_fires(target: Target) -> bool:
    """Whether a non-trace target asks for spikes: a positive rate, a class other than silent
    (or a rate range above 0), or a positive spike count or frequency among its features."""
    if target.kind in ("rates", "outputs"):
        return any(v > 0 for v in target.output_values.values())
    if target.kind == "class":
        lo = target.ranges.get("rate", (0.0, 0.0))[0]
        return (target.behaviour not in (None, "silent")) or lo > 0
    if target.kind == "features":
        return any(
            target.features.get(k, 0) > 0 for k in ("spike_count", "Spikecount", "mean_frequency")
        )
    return False
