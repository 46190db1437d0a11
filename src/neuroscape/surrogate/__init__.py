"""DNN surrogates trained on the model database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neuroscape.surrogate.core import (
    ACTIVATIONS,
    Surrogate,
    SurrogateConfig,
    SurrogateError,
    load_surrogate,
    train_surrogate,
)
from neuroscape.surrogate.simulator import recorded_model

__all__ = [
    "ACTIVATIONS",
    "Surrogate",
    "SurrogateConfig",
    "SurrogateError",
    "load_surrogate",
    "train_surrogate",
    "training_data",
    "train_from_db",
    "simulation_settings",
    "recorded_model",
]

# the settings of the training runs kept in a surrogate's provenance
SIM_SETTINGS = ("duration_ms", "dt_ms", "window_ms", "integrator", "connectivity_sha256")


def simulation_settings(provenance: dict) -> dict:
    """``neuroscape.simulate`` keyword arguments that reproduce the runs of a training set (the
    provenance of ``training_data`` or of a surrogate): duration, step, window, integrator,
    graph seed, stimulus. Empty when the provenance does not record them (a surrogate trained
    from arrays, or saved before they were kept)."""
    st = (provenance or {}).get("settings")
    if not st:
        return {}
    kw = {
        k: st[k] for k in ("duration_ms", "dt_ms", "window_ms", "integrator") if k in st
    }
    if st.get("conn_seed") is not None:
        kw["conn_seed"] = int(st["conn_seed"])
    stim = st.get("stimulus")
    if stim:
        from neuroscape.core.stimuli import make_stimulus
        from neuroscape.explore.store import stimulus_values

        kw["stimulus"] = make_stimulus(stim["kind"], **stimulus_values(stim))
    return kw


def training_data(db: str | Path, n: int | None = None, seed: int = 0, group: int | None = None):
    """(spec, params, outputs, domain, provenance) of the successful runs in a sweep database
    (failed runs are never trained on).

    Runs of sweeps with different settings (duration, step, window, integrator, graph,
    stimulus) measure different maps: a database holding more than one such group needs
    ``group`` (numbered as in ``neuroscape db summary``). The domain is the box the chosen sweeps
    sampled (their union); ``n`` takes a random subset of that many runs (all when None).
    """
    from neuroscape.explore import ParameterSpace, open_for_reading

    if n is not None and (not isinstance(n, int | np.integer) or n < 1):
        raise SurrogateError(f"n={n!r}; allowed: an integer >= 1 (or None: every ok run)")
    store = open_for_reading(db)
    try:
        spec = store.spec
        info = _model_info(store, spec)
        groups = store.groups()
        if group is None and len(groups) > 1:
            raise SurrogateError(
                f"{db} holds {len(groups)} groups of sweeps with different settings, which "
                "measure different maps: "
                + "; ".join(store.describe_group(g) for g in groups)
                + ". Train on one: group="
                + "|".join(str(g["group"]) for g in groups)
                + " (--group)"
            )
        if group is not None and group not in {g["group"] for g in groups}:
            raise SurrogateError(
                f"group={group!r}; allowed: "
                + (", ".join(str(g["group"]) for g in groups) or "none (no sweeps)")
            )
        chosen = [g for g in groups if group in (None, g["group"])]
        ids = [i for g in chosen for i in g["sweeps"]]
        _, first = store.query(
            f"SELECT conn_seed, extra FROM sweeps WHERE id = {int(ids[0]) if ids else 0}"
        )
        where = f"sweep_id IN ({', '.join(str(int(i)) for i in ids) or 'NULL'})"
        cols = spec.parameter_names + spec.output_names
        _, rows = store.query(
            "SELECT "
            + ", ".join(f'"{spec.columns[c]}"' for c in cols)
            + f" FROM runs WHERE status = 'ok' AND {where} ORDER BY sweep_id, row_index"
        )
        _, failed = store.query(f"SELECT COUNT(*) FROM runs WHERE status = 'failed' AND {where}")
        _, sweeps = store.query(
            f"SELECT id, space, sampler, n, sample_seed FROM sweeps WHERE id IN "
            f"({', '.join(str(int(i)) for i in ids) or 'NULL'}) ORDER BY id"
        )
    finally:
        store.close()
    if not rows:
        raise SurrogateError(
            f"{db} has no successful runs to train on ({failed[0][0]} failed); run a sweep first"
        )
    data = np.array(rows, dtype=float)
    p, o = data[:, : len(spec.parameter_names)], data[:, len(spec.parameter_names) :]
    boxes = []
    for _, space_json, *_ in sweeps:
        boxes.append(ParameterSpace.from_json(spec, space_json).box())
    box = np.stack(boxes)
    domain = np.column_stack([box[:, :, 0].min(0), box[:, :, 1].max(0)])
    # a parameter held fixed in every sweep carries no information: give it a nominal width
    flat = domain[:, 1] <= domain[:, 0]
    # ... and remember its value, so that a prediction need not repeat it
    fixed = {n: float(domain[i, 0]) for i, n in enumerate(spec.parameter_names) if flat[i]}
    domain[flat] = spec.bounds[flat]
    if n is not None:
        if n > len(p):
            raise SurrogateError(f"n={n} but {db} has only {len(p)} successful runs")
        pick = np.sort(np.random.default_rng(seed).choice(len(p), n, replace=False))
        p, o = p[pick], o[pick]
    provenance = {
        "database": str(Path(db).resolve()),
        "model": spec.name,
        "model_version": spec.version,
        # how to find the model again: {"ref", "kind", "source"} (the declaration is ``spec``)
        "model_info": {k: v for k, v in info.items() if k != "spec"},
        "n_runs_used": int(len(p)),
        # parameters held at one value in every sweep (name -> value in its declared unit)
        "fixed": fixed,
        "n_failed_in_db": int(failed[0][0]),
        "group": group,
        # what the runs were simulated with, so that a verification simulates the same map
        "settings": None
        if not chosen
        else {
            **{k: chosen[0]["settings"][k] for k in SIM_SETTINGS},
            "conn_seed": first[0][0] if first else None,
            "stimulus": (json.loads(first[0][1]) or {}).get("stimulus")
            if first and first[0][1]
            else None,
        },
        "sweeps": [{"id": s[0], "sampler": s[2], "n": s[3], "sample_seed": s[4]} for s in sweeps],
    }
    return spec, p, o, domain, provenance


def _model_info(store, spec) -> dict:
    """The model's identity as the database records it (``Model.describe()``); for a database
    that records none, the registered model of that name, if any."""
    info = getattr(store, "model_info", None)
    if callable(info):
        info = info()
    if info:
        return dict(info)
    from neuroscape.models import resolve

    try:
        model = resolve(spec.name)
    except ValueError:
        return {"ref": spec.name, "kind": None, "source": None}
    return {k: v for k, v in model.describe().items() if k in ("ref", "kind", "source")}


def train_from_db(
    db: str | Path,
    out: str | Path | None = None,
    n: int | None = None,
    config: SurrogateConfig | None = None,
    verbose: bool = False,
    progress: bool = False,
    group: int | None = None,
) -> Surrogate:
    """Train a surrogate on the ok runs of a sweep database (and save it to ``out`` if given,
    atomically: an interrupted training or save leaves no folder behind)."""
    from neuroscape.surrogate.core import check_output_folder

    cfg = config or SurrogateConfig()
    cfg.check()
    if out is not None:
        check_output_folder(out)  # before training: a refused folder wastes no time
    spec, p, o, domain, prov = training_data(db, n, seed=cfg.seed, group=group)
    info = prov.pop("model_info")  # kept by the surrogate itself, beside the declaration
    sur = train_surrogate(
        p,
        o,
        domain,
        model=spec,
        model_info=info,
        parameter_names=spec.parameter_names,
        output_names=spec.output_names,
        config=cfg,
        provenance=prov,
        verbose=verbose,
        progress=progress,
        parameter_units=[x.unit for x in spec.parameters],
        output_units=[x.unit for x in spec.outputs],
    )
    if out is not None:
        sur.save(out)
    return sur
