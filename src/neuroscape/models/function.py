"""Function models: any simulator (NEURON, Brian2, NEST, a C program) as a neuroscape model.

The user declares parameters and outputs and gives a function; neuroscape sweeps, stores,
learns a surrogate of, tunes and fits it like its own models. Rows run in separate worker
processes (simulators such as NEURON are neither thread-safe nor re-entrant), each with a
timeout; a row that raises, hangs, dies or returns NaN or a missing output is a failed row with
its error text, never a stopped sweep.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from neuroscape.core.settings import ChunkResult, Recording, SettingsError, SimSettings
from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, OutputDomain, Parameter
from neuroscape.models.contract import Model, ModelError

# A function model runs its own protocol (duration, step, scheme): these placeholders keep the
# engine's settings object well-formed, and ``check_settings`` refuses any other value.
OWN_PROTOCOL = DefaultSettings(1.0, 1.0, 1.0, "own", "the function sets its own protocol")


# how core.workers reports a worker that failed before running any task
_LOAD_ERRORS = ("loader failed", "worker died while loading")


class FunctionModelError(ModelError):
    """A function model whose declaration or returned values break the contract."""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _reload(ref: str, sha256: str) -> FunctionModel:
    """Unpickle a model loaded from a file: load the file again, refusing a changed one."""
    from neuroscape.models.registry import load_file

    model = load_file(ref)
    if model.source is None or model.source.sha256 != sha256:
        raise FunctionModelError(f"{ref}: the model file has changed since it was loaded")
    return model


def _simulate_of(model: FunctionModel) -> Callable:
    """Runs once in each worker process: the model's function."""
    return model.simulate


class FunctionModel(Model):
    """A model whose batched run calls ``simulate``.

    batched=False: ``simulate(params: dict[str, float], seed: int) -> dict[str, float]``, one
    call per row. batched=True: ``simulate(params: dict[str, (B,) array], seeds: (B,) uint64
    array) -> dict[str, (B,) array]``, one call per chunk of rows. The seed of row r is derived
    from (sweep seed, r): a 64-bit integer (``seed % 2**32`` for generators that take 32 bits).
    timeout_s: a row (batched: a chunk, timeout_s x rows) past it is ended
    and failed; None: no limit.
    """

    kind = "function"

    def __init__(
        self,
        name: str,
        parameters: Sequence[Parameter],
        outputs: Sequence[Output],
        simulate: Callable,
        *,
        batched: bool = False,
        timeout_s: float | None = None,
        version: str = "1",
        description: str = "",
        output_domain: OutputDomain | None = None,
    ) -> None:
        if not callable(simulate):
            raise FunctionModelError(f"model {name!r}: simulate={simulate!r} is not callable")
        if not isinstance(batched, bool):
            raise FunctionModelError(f"model {name!r}: batched={batched!r}; allowed: True, False")
        if timeout_s is not None and (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not math.isfinite(timeout_s)
            or timeout_s <= 0
        ):
            raise FunctionModelError(
                f"model {name!r}: timeout_s={timeout_s!r}; allowed: a number of seconds > 0, "
                "or None"
            )
        self.spec = ModelSpec(
            name,
            str(version),
            description or f"function model {name}",
            tuple(parameters),
            tuple(outputs),
            settings=OWN_PROTOCOL,
            output_domain=output_domain,
        )
        if not self.spec.outputs:
            raise FunctionModelError(f"model {name!r} declares no outputs")
        self.simulate = simulate
        self.batched = batched
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self._workers = 1
        self._pool = None
        self._checked = False  # the first returned row has been checked against the declaration

    # --- pickling: the pool's loader ships the model to each worker process -------------------
    def __reduce__(self):
        src = self.source
        if src is not None and src.name:
            return (_reload, (src.ref, src.sha256))
        state = {k: v for k, v in self.__dict__.items() if k != "_pool"}
        state["_pool"] = None
        return (_new_function_model, (state,))

    # --- the BatchModel protocol ---------------------------------------------------------------
    def batch(self, **options) -> FunctionModel:
        if options:
            raise SettingsError(
                f"{', '.join(options)}: not an option of the function model {self.name!r}"
            )
        return self

    def set_workers(self, workers: int | None) -> None:
        """How many worker processes run rows (default 1)."""
        n = 1 if workers is None else workers
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SettingsError(f"workers={workers!r}; allowed: an integer >= 1 (processes)")
        if int(n) != self._workers:
            self.close()
            self._workers = int(n)

    def check_settings(self, settings: SimSettings) -> None:
        s = settings
        own = (OWN_PROTOCOL.duration_ms, OWN_PROTOCOL.dt_ms, OWN_PROTOCOL.window_ms, "own")
        if (s.duration_ms, s.dt_ms, s.window_ms, s.integrator) != own:
            raise SettingsError(
                f"{self.name} is a function model: its function sets its own duration, step and "
                "scheme; do not pass duration_ms, dt_ms, window_ms or integrator"
            )

    def describe(self) -> dict:
        return {"model": self.name, "model_version": self.spec.version, **super().describe()}

    def close(self) -> None:
        """End the worker processes (they are also ended when the model is collected)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def trust_structure(self) -> None:
        """The function's returned structure has been checked already (by an earlier part of the
        same sweep): from here on a wrong structure is a failed row, not an error."""
        self._checked = True

    def _check_importable(self) -> None:
        """Worker processes find the function again by its module: one defined in a notebook,
        a ``python -c`` command or a script read on stdin has none they can import."""
        import sys
        from pathlib import Path

        if self.source is not None or getattr(self.simulate, "__module__", None) != "__main__":
            return
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file is None or not Path(main_file).exists():
            raise FunctionModelError(
                f"{self.name}: simulate is defined in an interactive session, which worker "
                "processes cannot import; put the model in a file and use FILE.py:NAME "
                "(neuroscape.models.load_file)"
            )

    def _get_pool(self):
        from neuroscape.core.workers import WorkerPool

        if self._pool is None or self._pool.closed:  # a Ctrl-C inside map closes the pool
            self._check_importable()
            self._pool = WorkerPool(
                functools.partial(_simulate_of, self), workers=self._workers, timeout_s=None
            )
        return self._pool

    def run_chunk(
        self,
        params: np.ndarray,
        keys: np.ndarray,
        settings: SimSettings,
        device: str,
        recording: Recording,
    ) -> ChunkResult:
        if device != "cpu":
            raise SettingsError(f"device={device!r}: a function model runs on the CPU")
        if recording.spikes or recording.v_neurons:
            raise SettingsError(f"{self.name}: a function model records no spikes or voltages")
        names = self.spec.parameter_names
        seeds = np.asarray(keys, dtype=np.uint64)
        b = len(params)
        out = np.full((b, len(self.spec.outputs)), np.nan)
        ok = np.zeros(b, dtype=bool)
        errors: list[str | None] = [None] * b
        pool = self._get_pool()
        if self.batched:
            cols = {n: np.array(params[:, j], dtype=float) for j, n in enumerate(names)}
            t = None if self.timeout_s is None else self.timeout_s * b
            (res,) = pool.map([(cols, seeds.copy())], timeouts=[t])
            self._check_loaded([res])
            if not res.ok:
                return ChunkResult(out, ok, [res.error] * b)
            self._take_batched(res.value, out, ok, errors)
        else:
            tasks = [
                ({n: float(v) for n, v in zip(names, row, strict=True)}, int(s))
                for row, s in zip(params, seeds, strict=True)
            ]
            results = pool.map(tasks, timeouts=[self.timeout_s] * b)
            self._check_loaded(results)
            for i, res in enumerate(results):
                if not res.ok:
                    errors[i] = res.error
                    continue
                errors[i] = self._take_row(res.value, out[i])
                ok[i] = errors[i] is None
        return ChunkResult(out, ok, errors)

    def _check_loaded(self, results) -> None:
        """A worker that cannot load the model (its function not importable there, its file
        changed or gone) fails the run, not the rows: rows stored as failed for that reason
        would never be redone."""
        for res in results:
            if not res.ok and res.error and res.error.startswith(_LOAD_ERRORS):
                self.close()
                raise FunctionModelError(
                    f"{self.name}: the worker processes cannot load the model: {res.error}"
                )

    # --- checking what the function returned ---------------------------------------------------
    def _wrong(self, what: str) -> str:
        """A contract error (not a dict, an undeclared key, not a number, a wrong shape): fatal at
    the first returned row, a failed row afterwards. A row missing a declared output is always
    a failed row: simulators legitimately produce less in parts of their box."""
        msg = f"{self.name}: simulate returned {what}; declared outputs: " + ", ".join(
            self.spec.output_names
        )
        if not self._checked:
            raise FunctionModelError(msg)
        return msg

    def _take_row(self, value, out_row: np.ndarray) -> str | None:
        """Copy one returned row into ``out_row``; the error text, or None when it is good."""
        declared = self.spec.output_names
        if not isinstance(value, Mapping):
            return self._wrong(f"a {type(value).__name__} ({_short(value)}), not a dict")
        keys = [str(k) for k in value]
        unknown = [k for k in keys if k not in declared]
        if unknown:  # a misnamed output: the function and its declaration disagree
            return self._wrong(f"the keys {', '.join(keys)}")
        missing = [k for k in declared if k not in value]
        if missing:  # a row that produced less than usual: a failed row, not a broken function
            return f"missing output {missing[0]!r} (returned keys: {', '.join(keys) or 'none'})"
        vals = []
        for k in declared:
            v = value[k]
            if isinstance(v, str | bytes):
                return self._wrong(f"{k}={_short(v)}, which is not a number")
            try:
                arr = np.asarray(v, dtype=float)
            except (TypeError, ValueError):
                return self._wrong(f"{k}={_short(v)}, which is not a number")
            if arr.ndim != 0:
                return self._wrong(f"{k} of shape {arr.shape}, not a single number")
            vals.append(float(arr))
        self._checked = True
        out_row[:] = vals
        bad = [f"{k}={v}" for k, v in zip(declared, vals, strict=True) if not math.isfinite(v)]
        return f"non-finite output {bad[0]}" if bad else None

    def _take_batched(self, value, out, ok, errors) -> None:
        declared = self.spec.output_names
        b = len(out)
        if not isinstance(value, Mapping):
            msg = self._wrong(f"a {type(value).__name__} ({_short(value)}), not a dict")
            errors[:] = [msg] * b
            return
        keys = [str(k) for k in value]
        if any(k not in declared for k in keys):
            errors[:] = [self._wrong(f"the keys {', '.join(keys)}")] * b
            return
        missing = [k for k in declared if k not in value]
        if missing:
            errors[:] = [f"missing output {missing[0]!r} (returned keys: {', '.join(keys)})"] * b
            return
        for j, k in enumerate(declared):
            try:
                arr = np.asarray(value[k], dtype=float)
            except (TypeError, ValueError):
                errors[:] = [self._wrong(f"{k}={_short(value[k])}, not numbers")] * b
                return
            if arr.shape != (b,):
                errors[:] = [self._wrong(f"{k} of shape {arr.shape}; expected ({b},)")] * b
                return
            out[:, j] = arr
        self._checked = True
        finite = np.isfinite(out)
        ok[:] = finite.all(1)
        for i in np.flatnonzero(~ok):
            j = int(np.argmin(finite[i]))
            errors[i] = f"non-finite output {declared[j]}={out[i, j]}"


def _short(value, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _new_function_model(state: dict) -> FunctionModel:
    m = FunctionModel.__new__(FunctionModel)
    m.__dict__.update(state)
    return m
