"""The theory models on the one model contract: a declaration (``SPEC``: parameters, outputs,
default settings) plus a batched run, each defined once, in the model's own module::

    MODEL = TheoryModel(SPEC, run=_run, check=_check, unfinished_label="undecided")

``TheoryModel`` knows no model by name: what differs between models (the kernel, the labels,
which outputs must be finite, an extra settings rule, what a row that did not finish is called)
is handed to it by the module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from neuroscape.core.settings import ChunkResult, Recording, SettingsError, SimSettings
from neuroscape.core.spec import ModelSpec
from neuroscape.models.contract import Model


@dataclass
class TheoryRun:
    """What a theory model's run returns for a chunk of B rows.

    outputs: (B, n_outputs) in the units the spec declares. labels: one class per row (None:
    no label). unfinished: (B,) bool, rows whose outcome the run was too short to reach (their
    label becomes the model's ``unfinished_label``); None when the model has no such outcome.
    """

    outputs: np.ndarray
    labels: Sequence[str | None] | None = None
    unfinished: np.ndarray | None = None


# run(params (B, n_params) in spec order, keys (B,) uint64 stream keys, settings) -> TheoryRun
RunFn = Callable[[np.ndarray, np.ndarray, SimSettings], TheoryRun]
# check(settings): raise SettingsError (one line) for settings this model cannot run
CheckFn = Callable[[SimSettings], None]


class TheoryModel(Model):
    """A theory model: its module's ``SPEC`` and batched ``run``; its batch takes no options.

    spec: the declaration; its ``settings`` are the model's defaults (integrator: the name of
        the model's own kernel, the only one it accepts).
    run: the batched run (see ``RunFn``); row r draws its noise from the stream key ``keys[r]``.
    check: an extra rule on the settings beyond the shared ones (positive, finite times;
        dt_ms <= duration_ms; the model's own integrator), or None.
    required: output names that must be finite for a row to count as run (others may be NaN
        by design, e.g. a CV without enough intervals); a row with a non-finite one is failed.
    unfinished_label: the label of a row whose outcome the run was too short to reach (e.g. a
        trial without a decision); None for models whose runs always finish.
    """

    kind = "theory"

    def __init__(
        self,
        spec: ModelSpec,
        *,
        run: RunFn,
        check: CheckFn | None = None,
        required: Sequence[str] = (),
        unfinished_label: str | None = None,
    ) -> None:
        unknown = [n for n in required if n not in spec.output_names]
        if unknown:
            raise ValueError(
                f"required={unknown!r} are not outputs of {spec.name}; "
                f"allowed: {', '.join(spec.output_names)}"
            )
        self.spec = spec
        self.run = run
        self.check = check
        self.required = tuple(required)
        self.unfinished_label = unfinished_label

    def batch(self) -> TheoryBatch:
        return TheoryBatch(self)


class TheoryBatch:
    """A theory model as the engine's BatchModel: the shared settings rules, the model's own
    check, and the chunked run with labels, failed rows and unfinished rows."""

    kind = "theory"

    def __init__(self, model: TheoryModel) -> None:
        self.model = model
        self.spec = model.spec
        self.name = model.spec.name

    def check_settings(self, settings: SimSettings) -> None:
        """Refuse settings this model cannot run (SimSettings has checked the generic ones)."""
        s = settings
        for name in ("duration_ms", "dt_ms", "window_ms"):
            v = getattr(s, name)
            if not (np.isfinite(v) and v > 0):
                raise SettingsError(f"{name}={v} must be a positive number of ms")
        fixed = self.spec.settings.integrator
        if s.integrator != fixed:
            raise SettingsError(
                f"integrator={s.integrator!r}: {self.name} is integrated by its own kernel; "
                f"allowed: {fixed}"
            )
        if s.dt_ms > s.duration_ms:
            raise SettingsError(f"dt_ms={s.dt_ms:g} must be <= duration_ms={s.duration_ms:g}")
        if self.model.check is not None:
            self.model.check(s)

    def describe(self) -> dict:
        return {"model": self.spec.name, "model_version": self.spec.version}

    def run_chunk(
        self,
        params: np.ndarray,
        keys: np.ndarray,
        settings: SimSettings,
        device: str,
        recording: Recording,
    ) -> ChunkResult:
        if device != "cpu":
            raise SettingsError(f"device={device!r}: theory models run on the CPU; allowed: cpu")
        p = np.ascontiguousarray(params, dtype=float)
        res = self.model.run(p, np.asarray(keys, np.uint64), settings)
        out = np.asarray(res.outputs, dtype=float)
        b = len(p)
        labels = list(res.labels) if res.labels is not None else [None] * b
        unfinished = None
        if res.unfinished is not None:
            unfinished = np.asarray(res.unfinished, dtype=bool)
            for r in np.flatnonzero(unfinished):
                labels[r] = self.model.unfinished_label
        cols = [self.spec.output_names.index(n) for n in self.model.required]
        ok = np.isfinite(out[:, cols]).all(1) if cols else np.ones(b, bool)
        errors = [None if o else "non-finite output" for o in ok]
        return ChunkResult(
            out,
            ok,
            errors,
            labels=labels,
            unfinished=unfinished,
            unfinished_label=self.model.unfinished_label if unfinished is not None else None,
        )


def decision_labels(choice: np.ndarray) -> list[str | None]:
    """'choice 0' / 'choice 1' per decided trial; None where no decision (NaN) was reached (the
    batch gives those rows the model's unfinished label)."""
    return [None if np.isnan(c) else f"choice {int(c)}" for c in choice]
