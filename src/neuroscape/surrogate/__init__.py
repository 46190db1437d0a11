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

__all__ = [
    "ACTIVATIONS",
    "Surrogate",
    "SurrogateConfig",
    "SurrogateError",
    "load_surrogate",
    "train_surrogate",
    "training_data",
    "train_from_db",
]


def training_data(db: str | Path, n: int | None = None, seed: int = 0):
    """(params, outputs, domain, provenance) of the successful runs in a sweep database.

    The domain is the box the sweeps sampled (the union over sweeps); ``n`` takes a random
    subset of that many runs (all when None).
    """
    from neuroscape.explore import ParameterSpace, open_for_reading

    store = open_for_reading(db)
    try:
        spec = store.spec
        cols = spec.parameter_names + spec.output_names
        _, rows = store.query(
            "SELECT "
            + ", ".join(f'"{c}"' for c in cols)
            + " FROM runs WHERE status = 'ok' ORDER BY sweep_id, row_index"
        )
        _, failed = store.query("SELECT COUNT(*) FROM runs WHERE status = 'failed'")
        _, sweeps = store.query("SELECT id, space, sampler, n, sample_seed FROM sweeps")
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
        s = json.loads(space_json)
        space = ParameterSpace(
            spec,
            bounds={k: tuple(v) for k, v in s["bounds"].items()},
            fixed=s["fixed"],
            log=tuple(s["log"]),
            scale=s["scale"],
        )
        boxes.append(space.box())
    box = np.stack(boxes)
    domain = np.column_stack([box[:, :, 0].min(0), box[:, :, 1].max(0)])
    # a parameter held fixed in every sweep carries no information: give it a nominal width
    flat = domain[:, 1] <= domain[:, 0]
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
        "n_runs_used": int(len(p)),
        "n_failed_in_db": int(failed[0][0]),
        "sweeps": [{"id": s[0], "sampler": s[2], "n": s[3], "sample_seed": s[4]} for s in sweeps],
    }
    return spec, p, o, domain, provenance


def train_from_db(
    db: str | Path,
    out: str | Path | None = None,
    n: int | None = None,
    config: SurrogateConfig | None = None,
    verbose: bool = False,
) -> Surrogate:
    """Train a surrogate on a sweep database (and save it to ``out`` if given)."""
    cfg = config or SurrogateConfig()
    spec, p, o, domain, prov = training_data(db, n, seed=cfg.seed)
    sur = train_surrogate(
        p,
        o,
        domain,
        model=spec.name,
        model_version=spec.version,
        parameter_names=spec.parameter_names,
        output_names=spec.output_names,
        config=cfg,
        provenance=prov,
        verbose=verbose,
    )
    if out is not None:
        sur.save(out)
    return sur
