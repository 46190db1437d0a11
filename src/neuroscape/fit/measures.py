"""Error measures: each is a function (simulated batch, target) -> (n,) errors, 0 = perfect.

rms          root-mean-square voltage difference (mV) on the target's samples
phase_plane  L1 distance between the (V, dV/dt) densities of model and target traces, in
             [0, 2]; it ignores time shifts (LeMasson and Maex 2001; Achard and De Schutter 2006)
features     sum over eFEL spike features of |model - target| / tolerance (dimensionless)
class        0 when the behaviour class matches, 1 otherwise, plus for each range quantity its
             distance outside the range divided by the range's width (1 if undefined)
outputs      sqrt of the sum over the targeted declared outputs of ((model - target) /
             scale)^2, the scale being the target's sd for that output, else |target| (a
             relative error); dimensionless (in SDs when sd's are given); any model
rates        the same comparison of declared outputs with a scale of 1 Hz for every output,
             summed as |model - target| (Hz; firing-rate targets)
gamma        1 - Gamma, Gamma the coincidence factor of the model's spike train with the trace's
             (Kistler, Gerstner and van Hemmen 1997; Jolivet et al. 2008) at a precision of
             4 ms; dimensionless, 0 for the same spike times, about 1 for chance coincidences
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroscape.fit.targets import Target
from neuroscape.models.neuron import classify_spikes


@dataclass
class SimOutput:
    """A simulated batch as the measures see it."""

    outputs: np.ndarray  # (n, n_outputs)
    output_names: list[str]
    ok: np.ndarray
    errors: list
    t_ms: np.ndarray | None = None  # (T,) the target's samples
    v: np.ndarray | None = None  # (n, T) membrane potential (mV) on t_ms
    spike_times: list | None = None
    window: tuple[float, float] = (0.0, np.inf)
    stimulus: object = None
    labels: list | None = None  # a model's own labels of the rows (its output domain)


# ---------------------------------------------------------------------------------------- RMS
def rms(out: SimOutput, target: Target) -> np.ndarray:
    """RMS of V_model - V_target over the target's samples (mV)."""
    return np.sqrt(np.mean((out.v - target.v_mV[None, :]) ** 2, axis=1))


# -------------------------------------------------------------------------------- phase plane
PP_BINS = 40
PP_SMOOTH_MS = 0.5  # moving average before dV/dt: recorded noise would otherwise fill the plane


def _smooth(t_ms: np.ndarray, v: np.ndarray, smooth_ms: float = PP_SMOOTH_MS) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d

    k = int(round(smooth_ms / (t_ms[1] - t_ms[0])))
    return uniform_filter1d(v, k, axis=-1, mode="nearest") if k > 1 else v


def phase_plane_edges(t_ms: np.ndarray, v: np.ndarray, bins: int = PP_BINS):
    """Bin edges in V (mV) and dV/dt (mV/ms) spanning the (smoothed) trace v, 5% margin."""
    v = _smooth(t_ms, v)
    dv = np.gradient(v, t_ms)
    edges = []
    for x in (v, dv):
        lo, hi = float(x.min()), float(x.max())
        pad = 0.05 * (hi - lo) + 1e-9
        edges.append(np.linspace(lo - pad, hi + pad, bins + 1))
    return edges[0], edges[1]


def phase_plane_density(t_ms: np.ndarray, v: np.ndarray, v_edges, dv_edges) -> np.ndarray:
    """(n, bins_v * bins_dv) normalized densities of (V, dV/dt) for each row of v (n, T);
    points outside the edges count in the border bins. Traces are smoothed over PP_SMOOTH_MS."""
    v = _smooth(t_ms, np.atleast_2d(v))
    dv = np.gradient(v, t_ms, axis=1)
    nv, nd = len(v_edges) - 1, len(dv_edges) - 1
    iv = np.clip(np.searchsorted(v_edges, v, side="right") - 1, 0, nv - 1)
    idv = np.clip(np.searchsorted(dv_edges, dv, side="right") - 1, 0, nd - 1)
    flat = iv * nd + idv + (np.arange(len(v)) * nv * nd)[:, None]
    h = np.bincount(flat.ravel(), minlength=len(v) * nv * nd).reshape(len(v), nv * nd)
    return h / v.shape[1]


def phase_plane(out: SimOutput, target: Target) -> np.ndarray:
    """Sum over (V, dV/dt) bins of |density_model - density_target|, in [0, 2]."""
    ve, de = phase_plane_edges(target.t_ms, target.v_mV)
    h_t = phase_plane_density(target.t_ms, target.v_mV, ve, de)
    h_m = phase_plane_density(out.t_ms, out.v, ve, de)
    return np.abs(h_m - h_t).sum(axis=1)


# ----------------------------------------------------------------------------------- features
# eFEL features and their tolerances: an error of 1 is one tolerance off (absolute floor, relative
# share of the target's value; the larger applies)
FEATURE_TOLERANCES: dict[str, tuple[float, float]] = {
    "spike_count": (1.0, 0.05),
    "mean_frequency": (1.0, 0.05),  # Hz
    "ISI_CV": (0.05, 0.1),
    "AP_amplitude": (2.0, 0.05),  # mV
    "AP_duration_half_width": (0.1, 0.05),  # ms
    "AHP_depth": (1.0, 0.05),  # mV
    "adaptation_index2": (0.02, 0.1),
    "burst_number": (1.0, 0.1),
    "time_to_first_spike": (1.0, 0.05),  # ms
    "voltage_base": (1.0, 0.02),  # mV
}
DEFAULT_FEATURES = (
    "spike_count",
    "mean_frequency",
    "AP_amplitude",
    "AP_duration_half_width",
    "AHP_depth",
    "time_to_first_spike",
    "voltage_base",
)
MISSING_PENALTY = 20.0  # in tolerances: a feature the target has and the model lacks (or back)


def _stim_window(t_ms: np.ndarray, stimulus) -> tuple[float, float]:
    t0, t1 = float(t_ms[0]), float(t_ms[-1])
    if stimulus is not None and stimulus.kind == "step":
        vals = np.asarray(stimulus.values)[0]
        return max(t0, float(vals[1])), min(t1, float(vals[2]))
    return t0, t1


def efel_features(t_ms: np.ndarray, v: np.ndarray, names=DEFAULT_FEATURES, stimulus=None,
                  window: tuple[float, float] | None = None):
    """{feature: (n,) mean value per row, NaN where eFEL finds none} for traces v (n, T);
    eFEL's stimulus window is ``window`` (ms) when given, else that of ``stimulus``."""
    import efel

    v = np.atleast_2d(np.asarray(v, float))
    s0, s1 = window if window is not None else _stim_window(t_ms, stimulus)
    traces = [{"T": t_ms, "V": row, "stim_start": [s0], "stim_end": [s1]} for row in v]
    vals = efel.get_feature_values(traces, list(names), raise_warnings=False)
    out = {n: np.full(len(v), np.nan) for n in names}
    for i, d in enumerate(vals):
        for n in names:
            x = d.get(n)
            if x is not None and len(x) and np.all(np.isfinite(x)):
                out[n][i] = float(np.mean(x))
    return out


def features(out: SimOutput, target: Target, tolerances: dict[str, float] | None = None):
    """Sum of |f_model - f_target| / tol_f over the target's features (or the default set,
    computed from a trace target)."""
    if target.kind == "features":
        want = dict(target.features)
    else:
        tf = efel_features(target.t_ms, target.v_mV, stimulus=out.stimulus)
        want = {k: float(v[0]) for k, v in tf.items()}
    names = list(want)
    got = efel_features(out.t_ms, out.v, names, stimulus=out.stimulus)
    err = np.zeros(len(out.v))
    for n in names:
        w = want[n]
        if tolerances and n in tolerances:
            tol = tolerances[n]
        else:
            a, r = FEATURE_TOLERANCES.get(n, (1e-9, 0.05))
            tol = max(a, r * abs(w)) if np.isfinite(w) else a
        g = got[n]
        if np.isfinite(w):
            e = np.where(np.isfinite(g), np.abs(g - w) / tol, MISSING_PENALTY)
        else:
            e = np.where(np.isfinite(g), MISSING_PENALTY, 0.0)
        err += e
    return err


# -------------------------------------------------------------------------- class and ranges
def burst_period(times_ms: np.ndarray) -> float:
    """Mean interval between burst onsets (ms): a burst starts after an interval more than 3x
    the shortest one; NaN without two bursts."""
    isi = np.diff(times_ms)
    if len(isi) < 3:
        return float("nan")
    starts = np.flatnonzero(isi > 3.0 * isi.min()) + 1
    if len(starts) < 2:
        return float("nan")
    return float(np.diff(times_ms[starts]).mean())


def quantities(out: SimOutput, i: int) -> dict[str, float]:
    t = out.spike_times[i]
    t = t[(t >= out.window[0]) & (t < out.window[1])]
    return {
        "rate": float(out.outputs[i, 0]),
        "cv_isi": float(out.outputs[i, 1]),
        "burst_period_ms": burst_period(t),
    }


def class_(out: SimOutput, target: Target) -> np.ndarray:
    """Behaviour mismatch (0 or 1) plus normalized distances outside the target's ranges."""
    err = np.zeros(len(out.outputs))
    for i in range(len(err)):
        if target.behaviour is not None:
            label = classify_spikes(out.spike_times[i], *out.window)[0]
            err[i] += float(label != target.behaviour)
        if target.ranges:
            q = quantities(out, i)
            for k, (lo, hi) in target.ranges.items():
                x = q[k]
                if not np.isfinite(x):
                    err[i] += 1.0
                elif x < lo or x > hi:
                    err[i] += min(abs(x - lo), abs(x - hi)) / max(hi - lo, 1e-12)
    return err


# ------------------------------------------------------------------------- outputs and rates
def output_error(
    out: SimOutput, values: dict[str, float], scales: dict[str, float], norm: str = "l1"
) -> np.ndarray:
    """The scaled errors z = (model - value) / scale of the named outputs, summed: ``l1`` the
    sum of |z|, ``l2`` sqrt(sum z^2). An output the model does not declare raises (one line,
    with the allowed names)."""
    unknown = [k for k in values if k not in out.output_names]
    if unknown:
        raise ValueError(
            f"target names output {unknown[0]!r}; allowed: {', '.join(out.output_names)}"
        )
    idx = [out.output_names.index(k) for k in values]
    goal = np.array([values[k] for k in values], float)
    scale = np.array([scales[k] for k in values], float)
    z = (np.asarray(out.outputs, float)[:, idx] - goal) / scale
    return np.sqrt((z**2).sum(axis=1)) if norm == "l2" else np.abs(z).sum(axis=1)


def outputs(out: SimOutput, target: Target) -> np.ndarray:
    """sqrt(sum over the targeted outputs of ((model - target) / scale)^2), the scale being
    the output's sd, else |target| (relative). The root of the sum of squares, not the sum of
    |z|: it is smooth away from the optimum, where the sum of |z| has a sharp crease along
    each output's target curve that stalls CMA-ES (a 2-parameter test stalled in 4 of 12
    runs with the sum of |z|)."""
    return output_error(out, target.output_values, target.output_scales(), norm="l2")


def rates(out: SimOutput, target: Target) -> np.ndarray:
    """Sum over the target's outputs of |model - target| (Hz): the outputs measure with every
    scale 1 Hz."""
    values = target.output_values
    return output_error(out, values, dict.fromkeys(values, 1.0))


# ---------------------------------------------------------------- spike-time coincidence (Gamma)
GAMMA_DELTA_MS = 4.0  # Jolivet et al. (2008), the 2007 single-neuron modelling competition
DATA_SPIKE_LEVEL_MV = -20.0  # eFEL's default spike threshold, for recorded traces


class MeasureError(ValueError):
    """Spike trains or a target a measure cannot compare (one line naming the value)."""


def _train(times, duration_ms: float, what: str) -> np.ndarray:
    t = np.sort(np.asarray(times, dtype=float).ravel())
    if not np.isfinite(t).all():
        raise MeasureError(f"{what}: NaN or inf spike time; allowed: finite times (ms)")
    if len(t) and (t[0] < 0 or t[-1] > duration_ms):
        bad = t[0] if t[0] < 0 else t[-1]
        raise MeasureError(
            f"{what}: spike at {bad:g} ms lies outside the recording [0, {duration_ms:g}] ms"
        )
    return t


def _check_window(duration_ms: float, delta_ms: float) -> None:
    if not (np.isfinite(duration_ms) and duration_ms > 0):
        raise MeasureError(f"duration_ms={duration_ms!r}; allowed: a finite number > 0 (ms)")
    if not (np.isfinite(delta_ms) and delta_ms > 0):
        raise MeasureError(f"delta_ms={delta_ms!r}; allowed: a finite number > 0 (ms)")


def coincidences(a_ms: np.ndarray, b_ms: np.ndarray, delta_ms: float) -> int:
    """The number of coincidences of two sorted spike trains: pairs of spikes at most
    ``delta_ms`` apart, each spike in at most one pair (the largest such matching: in time
    order, the earlier of the two first unmatched spikes pairs with the other or is dropped)."""
    i = j = n = 0
    while i < len(a_ms) and j < len(b_ms):
        d = a_ms[i] - b_ms[j]
        if abs(d) <= delta_ms:
            n, i, j = n + 1, i + 1, j + 1
        elif d < 0:
            i += 1
        else:
            j += 1
    return n


def _gamma(model: np.ndarray, data: np.ndarray, duration_ms: float, delta_ms: float) -> float:
    n_m, n_d = len(model), len(data)
    if n_m + n_d == 0:
        return float("nan")
    nu = n_m / duration_ms  # the model's rate, 1/ms
    norm = 1.0 - 2.0 * nu * delta_ms
    if norm <= 0:
        return float("nan")
    expected = 2.0 * nu * delta_ms * n_d  # chance coincidences with a Poisson train at rate nu
    return (coincidences(model, data, delta_ms) - expected) / (0.5 * (n_d + n_m)) / norm


def coincidence_factor(
    model_spikes_ms, data_spikes_ms, duration_ms: float, delta_ms: float = GAMMA_DELTA_MS
) -> float:
    """The coincidence factor Gamma (Kistler, Gerstner and van Hemmen 1997; Jolivet et al.
    2008) of a model's spike train with a recorded one, both in ms on a recording of
    ``duration_ms``:

        Gamma = (N_coinc - <N_coinc>) / (0.5 (N_data + N_model)) / (1 - 2 nu delta)

    N_coinc: spike pairs at most ``delta_ms`` apart, each spike in one pair at most;
    <N_coinc> = 2 nu delta N_data, the coincidences expected by chance from a Poisson train at
    the model's rate nu = N_model / duration. 1 for the same spike times, about 0 for chance
    coincidences, negative for fewer. NaN where undefined: no spike in either train, or a model
    rate of 1 / (2 delta) or more (125 Hz at 4 ms)."""
    _check_window(duration_ms, delta_ms)
    m = _train(model_spikes_ms, duration_ms, "model spike train")
    d = _train(data_spikes_ms, duration_ms, "data spike train")
    return _gamma(m, d, duration_ms, delta_ms)


def intrinsic_reliability(
    repeats_ms, duration_ms: float, delta_ms: float = GAMMA_DELTA_MS
) -> float:
    """The mean Gamma between the spike trains of repeated recordings (every ordered pair of
    different repeats): the most a model can reach against them (Jolivet et al. 2008)."""
    _check_window(duration_ms, delta_ms)
    trains = [_train(r, duration_ms, f"repeat {i}") for i, r in enumerate(repeats_ms)]
    if len(trains) < 2:
        raise MeasureError(f"{len(trains)} repeat(s); the intrinsic reliability needs at least 2")
    g = [
        _gamma(a, b, duration_ms, delta_ms)
        for i, a in enumerate(trains)
        for j, b in enumerate(trains)
        if i != j
    ]
    return float(np.mean(g))


def normalized_coincidence_factor(
    model_spikes_ms, repeats_ms, duration_ms: float, delta_ms: float = GAMMA_DELTA_MS
) -> float:
    """Gamma of a model against repeated recordings, normalised by their intrinsic
    reliability (Jolivet et al. 2008): the mean over repeats of ``coincidence_factor(model,
    repeat)`` divided by ``intrinsic_reliability(repeats)``. 1: the model predicts the spikes as
    well as the neuron repeats itself."""
    reps = list(repeats_ms)
    r = intrinsic_reliability(reps, duration_ms, delta_ms)
    g = np.mean([coincidence_factor(model_spikes_ms, x, duration_ms, delta_ms) for x in reps])
    return float(g / r)


def trace_spike_times(t_ms: np.ndarray, v: np.ndarray, level: float = DATA_SPIKE_LEVEL_MV):
    """Spike times (ms) in a recorded trace: upward crossings of ``level`` (mV; eFEL's default
    threshold), linearly interpolated between samples; in a trace that never reaches it (an
    integrate-and-fire model's), resets: drops within one sample of more than half the trace's
    range and more than 8 robust SDs of its sample-to-sample noise (at the sample before)."""
    t, v = np.asarray(t_ms, float), np.asarray(v, float)
    up = np.flatnonzero((v[:-1] < level) & (v[1:] >= level))
    if len(up) or v.max() >= level:
        w = (level - v[up]) / (v[up + 1] - v[up])
        return t[up] + w * (t[up + 1] - t[up])
    d = np.diff(v)
    noise = 1.4826 * np.median(np.abs(d - np.median(d)))
    return t[np.flatnonzero(-d > max(0.5 * np.ptp(v), 8.0 * noise))]


def gamma(out: SimOutput, target: Target, delta_ms: float = GAMMA_DELTA_MS) -> np.ndarray:
    """1 - Gamma of each model's spike train (its own spike times on the target's span) with
    the trace target's (``trace_spike_times``); NaN (scored as the worst error) where Gamma is
    undefined: the model fires at 1 / (2 delta) or more."""
    t0, t1 = float(target.t_ms[0]), float(target.t_ms[-1])
    data = trace_spike_times(target.t_ms, target.v_mV) - t0
    if not len(data):
        raise MeasureError(
            f"measure gamma compares spike times; {target.source or 'the target'} has no spike "
            f"(no upward crossing of {DATA_SPIKE_LEVEL_MV:g} mV, no reset)"
        )
    err = np.full(len(out.v) if out.v is not None else len(out.outputs), np.nan)
    for i, s in enumerate(out.spike_times):
        if s is None:
            continue
        s = np.asarray(s, float)
        s = s[(s >= t0) & (s <= t1)] - t0
        err[i] = 1.0 - _gamma(s, data, t1 - t0, delta_ms)
    return err


MEASURES = {
    "rms": rms,
    "phase-plane": phase_plane,
    "features": features,
    "class": class_,
    "rates": rates,
    "outputs": outputs,
    "gamma": gamma,
}
TRACE_MEASURES = ("rms", "phase-plane", "gamma")
# the unit of each measure's error ("1": dimensionless); rms is in the membrane potential's unit
MEASURE_UNITS = {
    "rms": "mV",
    "phase-plane": "1",
    "features": "1",
    "class": "1",
    "rates": "Hz",
    "outputs": "1",
    "gamma": "1",
}
# the measure of each target kind when none is named
DEFAULT_MEASURE = {
    "trace": "rms",
    "features": "features",
    "class": "class",
    "rates": "rates",
    "outputs": "outputs",
}
# the measures that read a single neuron's voltage trace or spike train
NEURON_MEASURES = ("rms", "phase-plane", "features", "class", "gamma")


def voltage_unit(model) -> str:
    """The unit of a single-neuron model's membrane potential (its first state): the model's
    ``v_unit`` where it declares one, else mV."""
    from neuroscape.models import get_single_neuron

    return getattr(get_single_neuron(model), "v_unit", None) or "mV"


def measure_unit(measure: str, model) -> str:
    """The unit of ``measure``'s error for ``model`` (an object or a name; "1":
    dimensionless). rms is in the single neuron's membrane-potential unit."""
    if measure == "rms":
        from neuroscape.models import UnknownModelError, resolve
        from neuroscape.models.neuron import NeuronModel

        try:
            m = resolve(model)
        except UnknownModelError:  # e.g. a result read back without its model
            return MEASURE_UNITS[measure]
        if isinstance(m, NeuronModel) or m.kind == "cell":
            return voltage_unit(m)
    return MEASURE_UNITS[measure]


def needs_trace(measures) -> bool:
    return any(m in TRACE_MEASURES for m in measures)
