"""Exploration: the solution space out of a sweep database (no new simulation; the rates or
outputs measure, from the stored outputs), or a Latin-hypercube sample of the box spending the
budget."""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from neuroscape.fit.problem import FitError, FitProblem
from neuroscape.fit.result import make_result


def min_budget(problem: FitProblem, sweep_db: str | None = None, **_) -> int:
    """A stored sweep costs no simulation; a sample, one."""
    return 0 if sweep_db is not None else 1


def run(
    problem: FitProblem,
    seed: int = 0,
    sweep_db: str | None = None,
    chunk: int = 256,
    threshold: float | None = None,
    **_,
):
    if sweep_db is not None:
        return _from_db(problem, sweep_db, threshold)
    n = problem.budget
    u = qmc.LatinHypercube(problem.n_free, seed=seed).random(n)
    for s in range(0, n, chunk):
        problem.evaluate(problem.from_unit(u[s : s + chunk]))
    return make_result(problem, "explore", threshold)


def _from_db(problem: FitProblem, path: str, threshold: float | None):
    """Score the stored runs of the model inside the free box (fixed parameters matching),
    simulated with this fit's settings: runs of another length, window or time step measure
    other rates, so they are refused rather than scored."""
    from neuroscape.explore.store import open_for_reading
    from neuroscape.fit.measures import SimOutput

    if set(problem.measures) - {"rates", "outputs"}:
        raise FitError(
            "exploring a database works with the rates and outputs measures (its stored outputs)"
        )
    spec = problem.spec
    names = [*spec.parameter_names, *spec.output_names]
    store = open_for_reading(path)
    try:
        # each run with the settings of its sweep (the results view lacks the stimulus, ``extra``)
        _, rows = store.query(
            "SELECT "
            + ", ".join(f'r."{spec.columns[c]}"' for c in names)
            + ", s.model, s.duration_ms, s.window_ms, s.dt_ms, s.extra "
            "FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.status = 'ok'"
        )
        # failed runs have no outputs to score: counted in the result, not silently dropped
        _, n_bad = store.query("SELECT COUNT(*) FROM runs WHERE status != 'ok'")
    finally:
        store.close()
    if not rows:
        raise FitError(f"{path}: no successful run of {problem.name!r} to explore")
    k = len(names)
    want = _settings(problem)

    # one verdict per distinct (model, duration, window, step, stimulus) of the stored sweeps
    match = {
        st: st[0] == want[0] and np.allclose(st[1:4], want[1:4], rtol=0.0, atol=1e-9)
        for st in {row[k:] for row in rows}
    }
    if not any(match.values()):
        raise FitError(
            f"{path}: its runs were simulated as (model, duration_ms, window_ms, dt_ms) = "
            f"{', '.join(sorted(str(st[:4]) for st in match))}; this fit simulates {want}: "
            "set the fit's duration and window to match, or sweep with this fit's settings"
        )
    for st, ok in match.items():
        if ok:
            _check_stimulus(problem, path, st[4])
    rows = [row[:k] for row in rows if match[row[k:]]]
    a = np.array(rows, dtype=float)
    p, y = a[:, : len(spec.parameter_names)], a[:, len(spec.parameter_names) :]
    x = p[:, problem._idx]
    inside = np.all((x >= problem.lo) & (x <= problem.hi), axis=1)
    fixed_cols = [j for j in range(p.shape[1]) if j not in problem._idx]
    inside &= np.all(np.isclose(p[:, fixed_cols], problem._base[fixed_cols]), axis=1) | (
        len(fixed_cols) == 0
    )
    if not inside.any():
        raise FitError(f"{path}: no stored run lies in the free box with the fixed values")
    out = SimOutput(
        outputs=y[inside],
        output_names=list(spec.output_names),
        ok=np.isfinite(y[inside]).all(1),
        errors=[None] * int(inside.sum()),
    )
    problem.X.append(x[inside])
    problem.F.append(problem.errors_of(out))  # stored runs: no simulation spent
    res = make_result(problem, "explore", threshold)
    res.extra["database"] = str(path)
    res.extra["database_failed_runs"] = int(n_bad[0][0])
    return res


def _settings(problem: FitProblem) -> tuple:
    """(model, duration_ms, window_ms, dt_ms) that this fit's own simulations would use."""
    if not problem.neuron:  # the settings of its batch runs
        st = problem.settings
        return (problem.name, st.duration_ms, st.window_ms, st.dt_ms)
    dur = float(problem.duration_ms)
    dt = problem.dt_ms or problem.model.default_dt_ms
    return (problem.name, dur, problem.window_ms or dur, dt)


def _check_stimulus(problem: FitProblem, path: str, extra: str | None) -> None:
    """A single neuron's stored rates answer to the stimulus it was swept under."""
    import json
    import warnings

    stored = ((json.loads(extra) if extra else None) or {}).get("stimulus")
    mine = None if problem.stimulus is None else problem.stimulus.describe()
    if stored is None and mine is not None:
        warnings.warn(
            f"{path}: the sweep did not record its stimulus; assuming it was this fit's",
            stacklevel=3,
        )
    elif stored != mine:
        raise FitError(
            f"{path}: its runs were driven by {stored}, this fit by {mine}; "
            "give the fit the sweep's stimulus, or sweep with the fit's"
        )
