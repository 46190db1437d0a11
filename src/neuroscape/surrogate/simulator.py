"""The real model behind a surrogate or a training database, found again to re-simulate points
(``tune --verify``, the noise floor).

A surrogate records its model's declaration and identity (``Model.describe()``: the reference,
a registered name or ``FILE.py:NAME``, and for a file its SHA-256). The model is found from that
reference, refusing a file whose content has changed since the training runs, or from a model
the user names; either way its declaration must match what the surrogate was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuroscape.core.spec import ModelSpec
from neuroscape.surrogate.core import SurrogateError

# run settings every model's engine takes; the batch options (graph seed, stimulus, ...) are the
# model's own ``run_options``
RUN_SETTINGS = ("duration_ms", "dt_ms", "window_ms", "integrator")


def check_declaration(
    model, spec: ModelSpec, parameter_names: Sequence[str], output_names: Sequence[str]
) -> None:
    """Refuse (SurrogateError, one line) a model whose declaration differs from the recorded one
    ``spec`` in the trained parameters or outputs (their names or units)."""
    mine = {p.name: p.unit for p in model.spec.parameters}
    theirs = {p.name: p.unit for p in spec.parameters}
    mine_o = {o.name: o.unit for o in model.spec.outputs}
    theirs_o = {o.name: o.unit for o in spec.outputs}
    if set(mine) != set(parameter_names) or any(n not in mine_o for n in output_names):
        raise SurrogateError(
            f"model {model.ref!r} declares parameters {', '.join(mine)} and outputs "
            f"{', '.join(mine_o)}; the surrogate was trained on parameters "
            f"{', '.join(parameter_names)} and outputs {', '.join(output_names)}"
        )
    for kind, a, b, names in (
        ("parameter", mine, theirs, parameter_names),
        ("output", mine_o, theirs_o, output_names),
    ):
        for n in names:
            if n in b and a[n] != b[n]:
                raise SurrogateError(
                    f"model {model.ref!r} declares the {kind} {n} in {a[n]!r}; the surrogate's "
                    f"training runs had it in {b[n]!r}"
                )


def recorded_model(
    info: dict,
    spec: ModelSpec,
    parameter_names: Sequence[str],
    output_names: Sequence[str],
    model=None,
):
    """The model to simulate: ``model`` (an object, a name or ``FILE.py:NAME``) when given, else
    the one ``info`` ({"ref", "source", ...}, as ``Model.describe()``) records. A recorded file
    whose SHA-256 has changed is refused, naming the file."""
    from neuroscape.models import resolve
    from neuroscape.models.contract import ModelSource

    if model is None:
        ref = (info or {}).get("ref") or spec.name
        src = (info or {}).get("source")
        if src:
            source = ModelSource(src["file"], src["sha256"], src.get("name"))
            if source.changed():
                raise SurrogateError(
                    f"model file {source.file} has changed (or is gone) since the training "
                    "runs; give the model to simulate with --model FILE.py:NAME (API: model=)"
                )
        try:
            found = resolve(ref)
        except ValueError as exc:
            raise SurrogateError(
                f"the recorded model {ref!r} cannot be found ({exc}); give it with "
                "--model FILE.py:NAME (API: model=)"
            ) from None
    else:
        try:
            found = resolve(model)
        except ValueError as exc:
            raise SurrogateError(str(exc)) from None
    check_declaration(found, spec, parameter_names, output_names)
    return found


def run_kwargs(model, settings: dict | None) -> dict:
    """``neuroscape.simulate`` keyword arguments that reproduce the recorded runs (the output of
    ``simulation_settings``) for ``model``: batch options it does not take are dropped (a
    function model takes none); the run settings are passed only when they differ from the
    model's declared defaults (a function model sets its own protocol)."""
    kw = dict(settings or {})
    d = model.spec.settings
    declared = {
        "duration_ms": d.duration_ms,
        "dt_ms": d.dt_ms,
        "window_ms": d.window_ms,
        "integrator": d.integrator,
    }
    recorded = {k: kw.pop(k) for k in RUN_SETTINGS if k in kw}
    out = {}
    # all four or none: a window belongs to its duration
    if any(v is not None and v != declared[k] for k, v in recorded.items()):
        out.update({k: v for k, v in recorded.items() if v is not None})
    out.update({k: v for k, v in kw.items() if k in model.run_options and v is not None})
    return out


def simulate_named(
    model,
    parameter_names: Sequence[str],
    output_names: Sequence[str],
    params: np.ndarray,
    seed: int = 0,
    **simulate_kwargs,
) -> np.ndarray:
    """Outputs (B, len(output_names)) of ``model`` at ``params`` (B, len(parameter_names)),
    columns matched by name (the model may order its parameters and outputs differently)."""
    from neuroscape.api import simulate

    p = np.asarray(params, dtype=float).reshape(-1, len(parameter_names))
    order = [list(parameter_names).index(n) for n in model.spec.parameter_names]
    res = simulate(model, p[:, order], seed=seed, allow_outside=True, **simulate_kwargs)
    cols = [model.spec.output_names.index(n) for n in output_names]
    return np.asarray(res.outputs)[:, cols]
