"""Fit targets: a voltage trace (CSV or NWB), spike features, a behaviour class or ranges, or
firing rates; and synthetic targets made from known parameters so that recovery can be measured."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import numpy as np

from neuroscape.models.neuron import BEHAVIOURS
from neuroscape.sim.stimuli import Stimulus

KINDS = ("trace", "features", "class", "rates")


class TargetError(ValueError):
    """A target file or value that cannot be used."""


@dataclass
class Target:
    """What a fit aims at. ``kind`` says which fields are set:

    trace: ``t_ms`` (T,) and ``v_mV`` (T,), sampled uniformly; features: ``features``
    {eFEL name: value}; class: ``behaviour`` (one of BEHAVIOURS) and/or ``ranges``
    {quantity: (low, high)} with quantities ``rate`` (Hz), ``cv_isi``, ``burst_period_ms``;
    rates: ``rates`` {output name: Hz} (networks). ``truth`` holds the parameters of a
    synthetic target.
    """

    kind: str
    t_ms: np.ndarray | None = None
    v_mV: np.ndarray | None = None
    features: dict[str, float] = field(default_factory=dict)
    behaviour: str | None = None
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    truth: dict[str, float] | None = None
    source: str = ""

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

    @property
    def dt_ms(self) -> float:
        return float(self.t_ms[1] - self.t_ms[0])

    @property
    def duration_ms(self) -> float:
        return float(self.t_ms[-1] + self.dt_ms)


RANGE_QUANTITIES = ("rate", "cv_isi", "burst_period_ms")


def read_trace_csv(path: str | Path) -> Target:
    """A trace target from a CSV with the header ``t_ms,V_mV``."""
    path = Path(path)
    if not path.is_file():
        raise TargetError(f"target file {str(path)!r} does not exist")
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    if not rows:
        raise TargetError(f"{path}: empty file; expected the header t_ms,V_mV")
    header = [h.strip() for h in rows[0]]
    for col in ("t_ms", "V_mV"):
        if col not in header:
            raise TargetError(f"{path}: missing column {col!r}; the header must hold t_ms,V_mV")
    it, iv = header.index("t_ms"), header.index("V_mV")
    t, v = [], []
    for k, row in enumerate(rows[1:], start=2):
        try:
            t.append(float(row[it]))
            v.append(float(row[iv]))
        except (ValueError, IndexError):
            cells = row[it] if it < len(row) else "", row[iv] if iv < len(row) else ""
            raise TargetError(f"{path}, line {k}: {cells!r} is not a pair of numbers") from None
    return Target("trace", np.array(t), np.array(v), source=str(path))


def read_nwb(path: str | Path, series: str | None = None) -> Target:
    """A trace target from a current-clamp series of an NWB file (``pynwb``); ``series`` names
    the acquisition entry (default: the first CurrentClampSeries). Volts are converted to mV."""
    from pynwb import NWBHDF5IO
    from pynwb.icephys import CurrentClampSeries

    path = Path(path)
    if not path.is_file():
        raise TargetError(f"target file {str(path)!r} does not exist")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        acq = nwb.acquisition
        names = [k for k, s in acq.items() if isinstance(s, CurrentClampSeries)]
        if series is None:
            if not names:
                raise TargetError(f"{path}: no CurrentClampSeries in acquisition")
            series = names[0]
        if series not in acq:
            raise TargetError(f"{path}: no series {series!r}; allowed: {', '.join(names)}")
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
    return Target("trace", t, v, source=f"{path}:{series}")


def write_nwb(path: str | Path, t_ms: np.ndarray, v_mV: np.ndarray, name: str = "target") -> Path:
    """Write a trace as an NWB CurrentClampSeries (volts), e.g. to hand a synthetic target on."""
    from datetime import datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries

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
        )
    )
    path = Path(path)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def read_target(path: str | Path, series: str | None = None) -> Target:
    """By extension: ``.csv`` trace, ``.nwb`` trace, ``.json`` features/class/rates, e.g.
    ``{"rates": {"r_E": 25, "r_I": 100}}``, ``{"behaviour": "bursting"}``,
    ``{"ranges": {"burst_period_ms": [50, 80]}}``, ``{"features": {"Spikecount": 8}}``."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".csv":
        return read_trace_csv(path)
    if ext == ".nwb":
        return read_nwb(path, series)
    if ext == ".json":
        if not path.is_file():
            raise TargetError(f"target file {str(path)!r} does not exist")
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise TargetError(f"{path}: not valid JSON ({e})") from None
        allowed = ("rates", "features", "behaviour", "ranges")
        unknown = [k for k in d if k not in allowed]
        if unknown:
            raise TargetError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
        for k in ("rates", "features"):
            for name, val in d.get(k, {}).items():
                if not isinstance(val, int | float) or not np.isfinite(val):
                    raise TargetError(f"{path}: {k}.{name}={val!r} is not a finite number")
        if "rates" in d:
            rates = {k: float(v) for k, v in d["rates"].items()}
            return Target("rates", rates=rates, source=str(path))
        if "features" in d:
            return Target("features", features=dict(d["features"]), source=str(path))
        ranges = {k: (float(a), float(b)) for k, (a, b) in d.get("ranges", {}).items()}
        return Target("class", behaviour=d.get("behaviour"), ranges=ranges, source=str(path))
    raise TargetError(f"target file {str(path)!r}: extension {ext!r}; allowed: .csv, .nwb, .json")


def write_trace_csv(path: str | Path, t_ms: np.ndarray, v_mV: np.ndarray) -> Path:
    path = Path(path)
    np.savetxt(
        path,
        np.column_stack([t_ms, v_mV]),
        delimiter=",",
        header="t_ms,V_mV",
        comments="",
        fmt="%.9g",
    )
    return path


def synthetic_trace(
    model: str,
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
    SD ``noise_mV`` (seeded), with the parameters kept as the truth."""
    from neuroscape.fit.problem import simulate_traces

    t, v, _ = simulate_traces(
        model,
        params,
        stimulus,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        record_every=record_every,
        integrator=integrator,
    )
    v = v[0] + noise_mV * np.random.default_rng(seed).standard_normal(v.shape[1])
    return Target("trace", t, v, truth=dict(params), source=f"synthetic {model}")
