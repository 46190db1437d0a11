"""Every fitting method on the same known truths, several seeds each, in one table.

Problems (the truth is known, so success is measured, not assumed):
  hh       g_Na, g_K, g_L free within +-50% of the defaults; a 150-ms trace with 1 mV noise at
           conductances drawn within +-30% of the defaults (seeded). Success: each within 2%.
  izh-XX   Izhikevich (2003) a, b, c, d of the named preset, free within +-25% of each declared
           range around it. One step does not pin them down (every method scored 0/10 on every
           preset with a 500-ms step of 10 units), so the target is a family of sweeps fitted
           the way BluePyOpt fits a cell (fit.protocols.SweepFitProblem): steps of -10, -4, 1,
           5, 8, 12 and 20 units and a ramp from 0 to 20 units, each from 100 to 600 ms of an
           800-ms sweep after 200 ms at rest, simulated by another path than the fit's (scipy's
           DOP853 with the threshold found by event location, against the fit's rk4 at 0.1 ms),
           sampled at 10 kHz with 0.5 mV noise (seeded). Objectives: spike counts and the
           subthreshold features (voltage base, steady state, sag), plus four that pin one
           parameter each where the features leave ridges (IzhSweepProblem): the trace before
           the first spike (b), the recovery after the command (a: along the ridge of equal
           rates, where d / a is what the spike counts see), the voltage after each reset (c)
           and the interspike intervals (d). Success: each parameter within 2% of its box width
           of the preset.
  circuit  the 7 circuit parameters free over the declared domain; the target (r_E, r_I) comes
           from a random parameter set (seeded). Success: the simulated L1 gap of the best
           point <= 1 Hz (many parameter sets qualify: the solution manifold).
Measures: rms for HH (nsga2: rms and eFEL features), the sweep objectives above for Izhikevich
(nsga2: each its own objective), rates for the circuit. Methods that take a start (gradient,
cmaes) start at a seeded random point of the box, never at the truth; CMA-ES runs 64
candidates a generation on Izhikevich (with 16 or 32 its single run ended on the a-d ridge of
chattering and thalamo-cortical cells in some seeds, and never restarted).
sbi is amortized, as NPE is meant to be used: one posterior per problem, trained once on the
budget, then applied to every seed's target; its "sims" column is that shared training budget.
It does not run on the Izhikevich sweep families (no single trace for its summary statistics).

Measured (2-core Zen 4, ``--seeds 10 --problems izh --methods cmaes,hybrid --workers 1``, with
the subthreshold objective's onset_rise): parameters within 2% of the box in 10/10 seeds for
every preset and both methods but FS by CMA-ES and RZ by the hybrid (9/10 each); worst errors
(median / max) 0.08-0.49% / 0.12-9.0%; 10-21 s per fit.

    python benchmarks/fitting.py [--seeds 10] [--problems hh,izh,circuit] [--methods ...]
        [--presets RS,IB,...] [--budget 3000] [--izh-budget 4000] [--circuit-budget 300]
        [--workers N] [--markdown TABLE.md]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Sequence

import numpy as np

from neuroscape.core.stimuli import make_stimulus
from neuroscape.fit import FitProblem, measure_unit, run_method, synthetic_trace
from neuroscape.fit.problem import FitError
from neuroscape.fit.protocols import MISSING_SD, OBJECTIVES, SweepFitProblem
from neuroscape.fit.recordings import Sweep, SweepSet
from neuroscape.fit.targets import Target
from neuroscape.models import get_neuron_model, get_spec

PRESETS = get_neuron_model("izhikevich").presets

HH = {"g_Na": 120.0, "g_K": 36.0, "g_L": 0.3}
HH_STEP = make_stimulus("step", amp=10.0, t_on=20.0, t_off=120.0)
METHODS = ("explore", "gradient", "cmaes", "ga", "nsga2", "hybrid", "sbi")


def truth_rng(seed: int) -> np.random.Generator:
    """The truth's own stream: a method seeded with ``seed`` (pymoo draws its first population
    from default_rng(seed)) must not start at the truth."""
    return np.random.default_rng([seed, 7919])


class Recovery:
    """Success on a known truth: every free parameter within ``tol`` of it, as a fraction of
    ``scale`` (per parameter: the truth itself for HH, the box width for Izhikevich)."""

    def __init__(self, truth: np.ndarray, scale: np.ndarray, tol: float = 0.02) -> None:
        self.truth, self.scale, self.tol = truth, scale, tol

    def error(self, x: np.ndarray) -> np.ndarray:
        """The largest |x - truth| / scale over the parameters (last axis)."""
        return np.max(np.abs(np.asarray(x) - self.truth) / self.scale, axis=-1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.error(x) <= self.tol


def hh_problem(seed: int, budget: int) -> tuple[FitProblem, Recovery]:
    rng = truth_rng(seed)
    truth = {k: v * rng.uniform(0.7, 1.3) for k, v in HH.items()}
    tg = synthetic_trace(
        "hh",
        truth,
        HH_STEP,
        duration_ms=150.0,
        dt_ms=0.025,
        record_every=4,
        noise_mV=1.0,
        seed=seed,
    )
    free = {k: (0.5 * v, 1.5 * v) for k, v in HH.items()}
    pr = FitProblem("hh", tg, ("rms",), free, stimulus=HH_STEP, dt_ms=0.025, budget=budget)
    t = np.array([truth[n] for n in pr.free_names])
    return pr, Recovery(t, np.abs(t))


# ------------------------------------------------------------------ Izhikevich: a sweep family
# Currents in the model's unit (one unit drives dv/dt by 1 mV/ms). Two hyperpolarising steps and
# one below rheobase for every preset but the resonator (they pin b and the rest), four that fire,
# and a ramp; the sweeps are held in the SweepSet's nA field with current_per_nA = 1.
IZ_STEPS = (-10.0, -4.0, 1.0, 5.0, 8.0, 12.0, 20.0)
IZ_RAMP = (0.0, 20.0)  # from t_on to t_off
IZ_T_ON_MS, IZ_T_OFF_MS, IZ_SWEEP_MS = 100.0, 600.0, 800.0
IZ_SAMPLE_MS = 0.1  # 10 kHz, the fit's own sampling
IZ_SETTLE_MS = 200.0  # at rest without input before t = 0, on both sides (SweepFitProblem's)
IZ_NOISE_MV = 0.5
IZ_CMAES_POPSIZE = 64  # 16 and 32 ended on the a-d ridge of CH and TC in some seeds
IZ_OBJECTIVES = (
    "spike_count",
    "subthreshold",
    "prespike_rms",
    "recovery_rms",
    "reset",
    "intervals",
)


def izh_reference(
    params: dict[str, float],
    amp0: float,
    amp1: float,
    t_on_ms: float,
    t_off_ms: float,
    *,
    duration_ms: float = IZ_SWEEP_MS,
    sample_ms: float = IZ_SAMPLE_MS,
    settle_ms: float = IZ_SETTLE_MS,
) -> tuple[np.ndarray, np.ndarray]:
    """The Izhikevich (2003) model under a ramp from ``amp0`` at t_on to ``amp1`` at t_off (a
    step: equal ends; model units), by another path than the fit's (rk4 at 0.1 ms): scipy's
    DOP853 (rtol = atol = 1e-9) from the declared initial state, the threshold at 30 mV found
    by event location and the reset applied there, after ``settle_ms`` without input. Returns
    v (mV) at t = k sample_ms, 0 <= t < duration_ms, and the spike times (ms, from t = 0)."""
    from scipy.integrate import solve_ivp

    a, b, c, d = (float(params[k]) for k in "abcd")
    spec = get_spec("izhikevich")
    y = get_neuron_model("izhikevich").initial_state(spec.params_array(dict(params)))[0]
    on, off, end = t_on_ms + settle_ms, t_off_ms + settle_ms, duration_ms + settle_ms

    def rhs(t, s):
        i = amp0 + (amp1 - amp0) * (t - on) / (off - on) if on <= t < off else 0.0
        return [0.04 * s[0] ** 2 + 5.0 * s[0] + 140.0 - s[1] + i, a * (b * s[0] - s[1])]

    def spike(t, s):
        return s[0] - 30.0

    spike.terminal, spike.direction = True, 1
    grid = settle_ms + np.arange(int(round(duration_ms / sample_ms))) * sample_ms
    v = np.full(len(grid), np.nan)
    spikes, t = [], 0.0
    while t < end:
        t1 = min(x for x in (on, off, end) if x > t)  # the current's kinks are segment ends
        sol = solve_ivp(
            rhs, (t, t1), y, method="DOP853", events=spike, dense_output=True,
            rtol=1e-9, atol=1e-9, max_step=1.0,
        )  # fmt: skip
        hit = sol.status == 1
        t_end = float(sol.t[-1])
        k = (grid >= t) & ((grid < t_end) if hit else (grid <= t_end))
        if k.any():
            v[k] = sol.sol(grid[k])[0]
        y = sol.y[:, -1].copy()
        if hit:
            spikes.append(t_end - settle_ms)
            y = np.array([c, y[1] + d])
        t = t_end
    spikes = np.array(spikes)
    return v, spikes[spikes >= 0.0]


@functools.cache
def _izh_clean(preset: str) -> tuple[np.ndarray, ...]:
    """The preset's noise-free sweeps (steps, then the ramp): v (S, T) in mV."""
    prm = PRESETS[preset]
    rows = [izh_reference(prm, a, a, IZ_T_ON_MS, IZ_T_OFF_MS)[0] for a in IZ_STEPS]
    rows.append(izh_reference(prm, *IZ_RAMP, IZ_T_ON_MS, IZ_T_OFF_MS)[0])
    return tuple(rows)


def izh_sweeps(preset: str, seed: int, noise_mV: float = IZ_NOISE_MV) -> SweepSet:
    """The target of ``izh-PRESET``: the step family and the ramp from ``izh_reference``,
    sampled at 10 kHz, with ``noise_mV`` of white noise from the truth's stream of ``seed``."""
    rng = truth_rng(seed)
    t = np.arange(int(round(IZ_SWEEP_MS / IZ_SAMPLE_MS))) * IZ_SAMPLE_MS
    inside = (t >= IZ_T_ON_MS) & (t < IZ_T_OFF_MS)
    currents = [np.where(inside, a, 0.0) for a in IZ_STEPS]
    lo, hi = IZ_RAMP
    ramp = lo + (hi - lo) * (t - IZ_T_ON_MS) / (IZ_T_OFF_MS - IZ_T_ON_MS)
    currents.append(np.where(inside, ramp, 0.0))
    sweeps = tuple(
        Sweep(k, t.copy(), v + noise_mV * rng.standard_normal(len(t)), i)
        for k, (v, i) in enumerate(zip(_izh_clean(preset), currents, strict=True))
    )
    return SweepSet(sweeps, f"izhikevich {preset} (scipy DOP853)", IZ_SAMPLE_MS)


class IzhSweepProblem(SweepFitProblem):
    """A sweep fit (``fit.protocols.SweepFitProblem``) of a threshold-reset model with four
    objectives more, each pinning what the features leave loose, in dimensionless units:

    - ``prespike_rms``: the RMS difference (in units of 1 mV) of each sweep up to 2 ms before
      its first recorded spike (the whole sweep without one): the rest and the approach to
      threshold (b; a hardly: 5% of a's box moves it by 0.06 mV RMS);
    - ``recovery_rms``: the RMS difference (in units of 0.1 mV: small but it is what moves
      along the a-d ridge of the spike features) from 10 ms after the command ends to the
      sweep's end, on the sweeps that fire no spike there: the recovery variable's decay
      after a train, at rate a;
    - ``reset``: |model - recorded| (in units of 0.5 mV) of the mean V at the first sample after
      each spike, per sweep weighted by its share of the spikes: the reset c (the same
      estimator on both sides: the model's samples are the recording's);
    - ``intervals``: per sweep, the mean over k of |model - recorded| of the k-th interval
      (the first spike's latency from the command's onset, then the ISIs; in units of
      max(0.5 ms, 5%)) over the spikes both have: the adaptation d (MISSING_SD when the
      recording fires and the model does not);

    plus any of the protocol objectives (``OBJECTIVES``)."""

    EXTRA = ("prespike_rms", "recovery_rms", "reset", "intervals")
    PRESPIKE_MS, RECOVERY_MS = 2.0, 10.0
    PRESPIKE_SD_MV, RECOVERY_SD_MV, RESET_SD_MV = 1.0, 0.1, 0.5
    INTERVAL_SD = (0.5, 0.05)  # ms, fraction

    def __init__(self, model, sweeps, free, *, objectives: Sequence[str], **kw) -> None:
        unknown = [o for o in objectives if o not in OBJECTIVES and o not in self.EXTRA]
        if unknown:
            raise FitError(
                f"unknown objective {unknown[0]!r}; allowed: "
                f"{', '.join([*OBJECTIVES, *self.EXTRA])}"
            )
        base = [o for o in objectives if o in OBJECTIVES]
        super().__init__(model, sweeps, free, objectives=base, **kw)
        if not self.model.has_reset:
            raise FitError(f"{self.model.name} has no threshold and reset; allowed: one that has")
        if "reset" in objectives and self.decimate != 1:
            # the sample after a recorded peak is after the reset only at the recording's rate
            raise FitError(
                f"objective reset: the sweeps are sampled every {self.recording_dt_ms:g} ms, the "
                f"fit every {self.sample_ms:g} ms; allowed: one sampling (dt_ms dividing it)"
            )
        self.measures = (*self.measures, *(o for o in objectives if o in self.EXTRA))

    def errors_of(self, out) -> np.ndarray:
        n = len(out.ok)
        f = np.zeros((n, len(self.measures)))
        fe = self.feature_errors(out) if set(self.measures) & set(OBJECTIVES) else None
        for k, obj in enumerate(self.measures):
            if obj in OBJECTIVES:
                names = OBJECTIVES[obj]
                for i in range(n):
                    f[i, k] = sum(e for sw in fe[i] for nm, e in sw.items() if nm in names)
            else:
                f[:, k] = getattr(self, f"_objective_{obj}")(out)
        f[~np.asarray(out.ok, bool)] = np.inf
        return np.where(np.isnan(f), np.inf, f)

    def _rms(self, out, windows, sd_mV) -> np.ndarray:
        err = np.zeros(len(out.ok))
        for j, (d, w) in enumerate(zip(out.sweeps, windows, strict=True)):
            if w.any():
                diff = out.v[:, j, : len(d.t_ms)][:, w] - d.v_mV[w][None, :]
                err += np.sqrt(np.mean(diff**2, axis=1)) / sd_mV
        return err

    def _objective_prespike_rms(self, out) -> np.ndarray:
        w = [
            d.t_ms < (d.spikes[0] - self.PRESPIKE_MS if len(d.spikes) else np.inf)
            for d in out.sweeps
        ]
        return self._rms(out, w, self.PRESPIKE_SD_MV)

    def _objective_recovery_rms(self, out) -> np.ndarray:
        w = []
        for d in out.sweeps:
            t_off = d.protocol.t_off_ms
            quiet = not (d.spikes >= t_off).any()
            w.append((d.t_ms >= t_off + self.RECOVERY_MS) & quiet)
        return self._rms(out, w, self.RECOVERY_SD_MV)

    @staticmethod
    def _after_spikes(t_ms, v, spikes) -> np.ndarray:
        k = np.searchsorted(t_ms, spikes, side="right")
        return v[k[k < len(t_ms)]]

    def _objective_reset(self, out) -> np.ndarray:
        want = [self._after_spikes(d.t_ms, d.v_mV, d.spikes) for d in out.sweeps]
        counts = [len(w) for w in want]
        mean_count = np.mean([c for c in counts if c]) if any(counts) else 1.0
        err = np.zeros(len(out.ok))
        for j, d in enumerate(out.sweeps):
            if not counts[j]:
                continue
            share = counts[j] / mean_count
            for i in range(len(out.ok)):
                got = self._after_spikes(d.t_ms, out.v[i, j, : len(d.t_ms)], out.spikes[i][j])
                e = abs(got.mean() - want[j].mean()) / self.RESET_SD_MV if len(got) else MISSING_SD
                err[i] += share * e
        return err

    def _objective_intervals(self, out) -> np.ndarray:
        err = np.zeros(len(out.ok))
        for j, d in enumerate(out.sweeps):
            want = np.diff(np.r_[d.protocol.t_on_ms, d.spikes])
            if not len(want):
                continue
            sd = np.maximum(self.INTERVAL_SD[0], self.INTERVAL_SD[1] * np.abs(want))
            for i in range(len(out.ok)):
                got = np.diff(np.r_[d.protocol.t_on_ms, out.spikes[i][j]])
                k = min(len(got), len(want))
                err[i] += np.mean(np.abs(got[:k] - want[:k]) / sd[:k]) if k else MISSING_SD
        return err


def izh_problem(preset: str, workers: int | None = None):
    def make(seed: int, budget: int):
        spec = get_spec("izhikevich")
        truth = PRESETS[preset]
        free = {}
        for p in spec.parameters:
            half = 0.25 * (p.high - p.low)
            free[p.name] = (max(p.low, truth[p.name] - half), min(p.high, truth[p.name] + half))
        pr = IzhSweepProblem(
            "izhikevich",
            izh_sweeps(preset, seed),
            free,
            objectives=IZ_OBJECTIVES,
            budget=budget,
            seed=seed,
            truth=truth,
            current_per_nA=1.0,  # the sweeps hold the model's own units
            settle_ms=IZ_SETTLE_MS,
            workers=workers,
        )
        t = np.array([truth[n] for n in pr.free_names])
        return pr, Recovery(t, pr.hi - pr.lo)

    return make


def circuit_problem(seed: int, budget: int):
    from neuroscape.api import simulate

    spec = get_spec("cortical")
    rng = truth_rng(seed)
    truth = np.array([rng.uniform(p.low, p.high) for p in spec.parameters])
    r = simulate("cortical", truth[None], seed=10_000 + seed).outputs[0]
    tg = Target("rates", rates={"r_E": float(r[0]), "r_I": float(r[1])})
    free = {p.name: (p.low, p.high) for p in spec.parameters}
    pr = FitProblem("cortical", tg, ("rates",), free, budget=budget, seed=seed)
    return pr, None  # success from the simulated gap, below


def first_success(pr: FitProblem, ok_fn) -> int | None:
    """Simulations used when a point meeting the success criterion was first evaluated."""
    x, f = pr.all_x, pr.scalar(pr.all_f)
    hit = ok_fn(x) if ok_fn is not None else f <= 1.0
    idx = np.flatnonzero(hit)
    return int(idx[0]) + 1 if len(idx) else None


def run_one(make, method, seed, budget):
    pr, ok_fn = make(seed, budget)
    if method == "nsga2":
        if pr.name == "cortical":
            return None  # one measure: nothing to trade off
        if pr.name == "hh":
            pr.measures = ("rms", "features")
        # a sweep family: its objectives, each on its own
    opts = {}
    if method in ("gradient", "cmaes"):
        u = np.random.default_rng(1000 + seed).random(pr.n_free)
        opts["start"] = pr.as_dict(pr.from_unit(u))
    if method == "cmaes" and isinstance(pr, IzhSweepProblem):
        opts["popsize"] = IZ_CMAES_POPSIZE
    t0 = time.perf_counter()
    res = run_method(pr, method, seed=seed, **opts)
    wall = time.perf_counter() - t0
    x = np.array([res.best[n] for n in pr.free_names])
    if ok_fn is None:
        success = res.best_error <= 1.0
    else:
        success = bool(ok_fn(x))
    # one measure: its error; several (a sweep family, nsga2): the first of hh's, else the sum
    several = len(res.measures) > 1 and pr.name != "hh"
    err = res.best_error if several else res.best_errors[0]
    unit = (res.error_unit if several else res.measure_units.get(res.measures[0])) or "mixed"
    return {
        "success": success,
        "sims_to_success": first_success(pr, ok_fn) if success else None,
        "error": err,
        "unit": unit,
        "wall": wall,
        "sims": res.n_sims,
        "param_error": None if ok_fn is None else float(ok_fn.error(x)),
    }


def run_sbi(make, seeds, budget):
    """One posterior per problem; each seed's target scored at its posterior median."""
    from neuroscape.fit.methods import sbi as npe

    pr0, _ = make(seeds[0], budget)
    if isinstance(pr0, SweepFitProblem):
        return None  # a sweep family: no single trace for sbi's summary statistics
    t0 = time.perf_counter()
    post = npe.train(pr0, seed=0, noise_sd=0.0 if pr0.name == "cortical" else 1.0)
    t_train = time.perf_counter() - t0
    rows = []
    for s in seeds:
        pr, ok_fn = make(s, 10)
        t1 = time.perf_counter()
        smp = npe.posterior_samples(post, pr, npe.target_stats(pr), 1000, s)
        med = np.median(smp, axis=0)
        f = pr.evaluate(med[None])[0]
        success = (f.sum() <= 1.0) if ok_fn is None else bool(ok_fn(med))
        rows.append(
            {
                "success": success,
                "sims_to_success": budget if success else None,
                "error": float(f[0]),
                "unit": measure_unit(pr.measures[0], pr.model),
                "wall": t_train / len(seeds) + time.perf_counter() - t1,
                "sims": budget,
                "param_error": None if ok_fn is None else float(ok_fn.error(med)),
            }
        )
    return rows


COLUMNS = (
    ("problem", 10),
    ("method", 8),
    ("success", 8),
    ("sims to success (median)", 24),
    ("sims used (median)", 18),
    ("worst param error (median / max)", 32),
    ("final error (median)", 22),
    ("wall s (median)", 15),
)


def table_row(pname: str, method: str, rows: list[dict]) -> list[str]:
    """The table's cells for one problem and method over its seeds."""
    succ = [r for r in rows if r["success"]]
    sims = f"{np.median([r['sims_to_success'] for r in succ]):.0f}" if succ else "-"
    pe = [r["param_error"] for r in rows if r["param_error"] is not None]
    worst = f"{100 * np.median(pe):.2f}% / {100 * max(pe):.2f}%" if pe else "-"
    units = {r["unit"] for r in rows}
    err = np.median([r["error"] for r in rows])
    unit = units.pop() if len(units) == 1 else "mixed units"
    return [
        pname,
        method,
        f"{len(succ)}/{len(rows)}",
        sims,
        f"{np.median([r['sims'] for r in rows]):.0f}",
        worst,
        f"{err:.4g} {'(dimensionless)' if unit == '1' else unit}",
        f"{np.median([r['wall'] for r in rows]):.2f}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--problems", default="hh,izh,circuit")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--presets", default=",".join(PRESETS), help="Izhikevich presets")
    ap.add_argument("--budget", type=int, default=3000, help="HH")
    ap.add_argument("--izh-budget", type=int, default=4000, help="each Izhikevich preset")
    ap.add_argument("--circuit-budget", type=int, default=300)
    ap.add_argument("--workers", type=int, default=None, help="threads per simulation batch")
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    a = ap.parse_args()
    methods = a.methods.split(",")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise SystemExit(f"unknown method {bad[0]!r}; allowed: {', '.join(METHODS)}")
    probs = {}
    for p in a.problems.split(","):
        if p == "hh":
            probs["hh"] = (hh_problem, a.budget)
        elif p == "izh":
            for name in a.presets.split(","):
                if name not in PRESETS:
                    raise SystemExit(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
                probs[f"izh-{name}"] = (izh_problem(name, a.workers), a.izh_budget)
        elif p == "circuit":
            probs["circuit"] = (circuit_problem, a.circuit_budget)
        else:
            raise SystemExit(f"unknown problem {p!r}; allowed: hh, izh, circuit")
    seeds = list(range(a.seeds))
    print(
        "worst param error: the largest |fit - truth| over the free parameters, of the truth "
        "(hh) or of the box width (izh); success: all within 2%"
    )
    header = [name for name, _ in COLUMNS]
    print("  ".join(f"{h:>{w}s}" for h, (_, w) in zip(header, COLUMNS, strict=True)))
    lines = []
    for pname, (make, budget) in probs.items():
        for method in methods:
            if method == "sbi":
                rows = run_sbi(make, seeds, budget)
            else:
                rows = [run_one(make, method, s, budget) for s in seeds]
                if rows[0] is None:
                    continue
            if rows is None:
                print(f"{pname:10s}  {method:8s}  not run: a sweep family has no single trace "
                      "for sbi's summary statistics", flush=True)  # fmt: skip
                continue
            cells = table_row(pname, method, rows)
            lines.append(cells)
            print("  ".join(f"{c:>{w}s}" for c, (_, w) in zip(cells, COLUMNS, strict=True)),
                  flush=True)  # fmt: skip
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write("| " + " | ".join(header) + " |\n")
            fh.write("|" + "---|" * len(header) + "\n")
            for cells in lines:
                fh.write("| " + " | ".join(cells) + " |\n")


if __name__ == "__main__":
    main()
