"""The batched engine: validate, seed per row, chunk, dispatch to a device, collect.

A batch of B parameter sets is the unit of work. Row r draws its noise from the stream
key(seed, r), where r is the row's index in the whole batch, so results do not depend on chunk
size, worker count or batch size.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from neuroscape.core.rng import row_keys
from neuroscape.core.settings import (
    BatchModel,
    Recording,
    SettingsError,
    SimSettings,
    UnfinishedWarning,
)
from neuroscape.core.spec import ModelSpec
from neuroscape.models import Model, resolve
from neuroscape.models.neuron import NeuronModel

# CPU chunks without a chunk size given: the first chunk is the kind's unit (below), every later
# one about CHUNK_TARGET_S of wall time at the rate of the chunk before, in whole units, up to
# CHUNK_MAX_UNITS units. Each chunk ends with its slowest thread's last slice while the other
# threads wait, and that tail is a smaller share of a longer chunk: the circuit at B = 256 on
# 2 cores 5.24 -> 5.06 ms per run (64 + 192 rows against four chunks of 64; medians of 15
# interleaved rounds). Single neurons stay at their unit: 1,024-row LIF chunks 53.2 us per run,
# 2,048 51.8, 4,096 54.6, 16,384 56.9 (the per-row buffers leave the cache). The progress bar
# still moves every CHUNK_TARGET_S or sooner; rows never depend on their chunk.
CHUNK_TARGET_S = 2.0
CHUNK_MAX_UNITS = 16


def chunk_rows(seconds_per_row: float, unit: int, target_s: float, max_rows: int) -> int:
    """Rows of the next chunk at ``seconds_per_row`` (s, wall time per row of the last chunk):
    about ``target_s`` of work in whole ``unit``s, between one unit and ``max_rows`` (at least
    one unit)."""
    if not seconds_per_row > 0:  # too fast to time
        return max(unit, max_rows)
    units = int(target_s / (seconds_per_row * unit))
    return int(max(min(units * unit, max_rows), unit))


@dataclass
class SimulationResult:
    """Outputs of a batch. ``outputs[r]`` is NaN where ``ok[r]`` is False (see ``errors[r]``)."""

    model: str
    parameter_names: list[str]
    params: np.ndarray
    output_names: list[str]
    outputs: np.ndarray
    ok: np.ndarray
    errors: list[str | None]
    seed: int
    settings: SimSettings
    device: str
    wall_time_s: float
    provenance: dict = field(default_factory=dict)
    spikes: list[tuple[np.ndarray, np.ndarray]] | None = None
    voltages: np.ndarray | None = None
    v_neurons: tuple[int, ...] = ()
    labels: list[str | None] | None = None
    spec: ModelSpec | None = None  # the model's declaration (units of every column)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> np.ndarray:
        """A column by output or parameter name."""
        if name in self.output_names:
            return self.outputs[:, self.output_names.index(name)]
        if name in self.parameter_names:
            return self.params[:, self.parameter_names.index(name)]
        raise KeyError(f"{name!r}; columns: {self.parameter_names + self.output_names}")

    @property
    def t_ms(self) -> np.ndarray:
        """Times (ms) of the voltage samples: the end of each step."""
        return (np.arange(self.settings.n_steps) + 1) * self.settings.dt_ms

    def row(self, r: int) -> dict[str, float]:
        d = dict(zip(self.parameter_names, self.params[r].tolist(), strict=True))
        d.update(zip(self.output_names, self.outputs[r].tolist(), strict=True))
        return d

    def to_pandas(self):
        """A pandas DataFrame: one row per batch row, the parameter columns, the output
        columns (the declared names), then ok, error and label. The units of the parameter
        and output columns are in ``df.attrs["units"]``; ``df.attrs`` also holds the model,
        seed and settings."""
        spec = self.spec or resolve(self.model).spec
        units = {p.name: p.unit for p in spec.parameters}
        units.update({o.name: o.unit for o in spec.outputs})
        return _frame(
            self.parameter_names,
            self.params,
            self.output_names,
            self.outputs,
            self.ok,
            self.errors,
            self.labels,
            units,
            {"model": self.model, "seed": self.seed, "settings": self.settings.as_dict()},
        )


def _frame(p_names, params, o_names, outputs, ok, errors, labels, units, meta):
    """The DataFrame of ``SimulationResult.to_pandas`` (shared with the neuron engine)."""
    import pandas as pd

    n = len(params)
    cols: dict[str, object] = {}
    for j, name in enumerate(p_names):
        cols[name] = np.asarray(params)[:, j]
    for j, name in enumerate(o_names):
        cols[name] = np.asarray(outputs)[:, j]
    cols["ok"] = np.asarray(ok, dtype=bool)
    cols["error"] = pd.Series(list(errors) if errors else [None] * n, dtype=object)
    cols["label"] = pd.Series(list(labels) if labels is not None else [None] * n, dtype=object)
    df = pd.DataFrame(cols)
    df.attrs["units"] = {k: units[k] for k in [*p_names, *o_names] if k in units}
    df.attrs.update(meta)
    return df


def given_options(model: Model, **options) -> dict:
    """The options that are not None, after refusing any that ``model`` does not take."""
    given = {k: v for k, v in options.items() if v is not None}
    bad = [k for k in given if k not in model.run_options]
    if bad:
        allowed = ", ".join(model.run_options) or "none"
        raise SettingsError(
            f"{bad[0]}= is not an option of model {model.name!r}; its options: {allowed}"
        )
    return given


def batch_for(model: Model | str, **options) -> BatchModel:
    """The runnable batch of ``model`` (an object or a name) under its run options.

    Options left None are not given; an option the model does not take is refused. One engine
    per kind: single neurons run on the neuron engine; every other model provides its batch.
    """
    m = resolve(model)
    given = given_options(m, **options)
    if isinstance(m, NeuronModel):
        from neuroscape.sim.neuron_engine import NeuronBatch

        return NeuronBatch(m, given.get("stimulus"))
    from neuroscape.models.network import NetworkModel

    if isinstance(m, NetworkModel):
        from neuroscape.sim.network_engine import NetworkBatch

        return NetworkBatch(m, **given)
    from neuroscape.models.multicomp.model import CellModel

    if isinstance(m, CellModel):
        from neuroscape.sim.cell_batch import CellBatch

        return CellBatch(m, **given)
    from neuroscape.models.multicomp.network import CellNetworkModel

    if isinstance(m, CellNetworkModel):
        from neuroscape.sim.cell_network import CellNetworkBatch

        return CellNetworkBatch(m, **given)
    return m.batch(**given)


def _set_threads(workers: int | None) -> int:
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if workers is None:
        workers = limit
    if not 1 <= workers <= limit:
        raise SettingsError(f"workers={workers}; allowed: 1..{limit} (this machine's threads)")
    numba.set_num_threads(workers)
    return workers


def check_device(device: str) -> str:
    """``device`` when this machine can run it (one line otherwise): "cpu" (numba), "torch-cpu"
    (the torch back end on the CPU), "cuda"/"cuda:N" (the fused numba.cuda kernels where numba
    sees a GPU or its simulator, else the torch back end on a CUDA GPU)."""
    import re

    from neuroscape.sim import neuron_cuda
    from neuroscape.sim.neuron_torch import TORCH_CPU

    if device == "cpu":
        return device
    if device == TORCH_CPU:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise SettingsError(
                f"device={device!r} needs PyTorch; install torch (pip install torch)"
            ) from None
        return device
    if device == "cuda" or re.fullmatch(r"cuda:\d+", device):
        if neuron_cuda.available():
            return device
        try:
            import torch
        except ImportError:
            torch = None
        if torch is None or not torch.cuda.is_available():
            raise SettingsError(
                f"device={device!r} asked for, but neither numba.cuda nor PyTorch sees a CUDA "
                f"GPU here; allowed here: cpu, {TORCH_CPU}"
            )
        return device
    raise SettingsError(f"unknown device {device!r}; allowed: cpu, {TORCH_CPU}, cuda, cuda:N")


def run_batch(
    model: BatchModel | Model | str,
    params: np.ndarray | Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
    *,
    seed: int = 0,
    settings: SimSettings | None = None,
    device: str = "cpu",
    workers: int | None = None,
    chunk_size: int | None = None,
    allow_outside: bool = False,
    recording: Recording | None = None,
    progress: bool | Callable[[int], None] = False,
    rows: np.ndarray | None = None,
) -> SimulationResult:
    """Simulate B parameter sets of ``model``; see ``neuroscape.simulate`` for the arguments.

    rows: the global row index of each parameter set (default 0..B-1); row r draws its noise
    from the stream (seed, r), so a subset of a larger batch (a resumed sweep, a remote chunk)
    reproduces exactly what the whole batch would have given.
    model: a runnable batch (``batch_for``), or a model object or name run with its default
    options.
    """
    if not hasattr(model, "run_chunk"):
        model = batch_for(model)
    spec = model.spec
    settings = settings if settings is not None else SimSettings.for_model(spec)
    recording = recording or Recording()
    arr = spec.params_array(params, allow_outside=allow_outside)
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise SettingsError(f"seed={seed!r} must be a non-negative integer")
    model.check_settings(settings)
    device = check_device(device)
    if hasattr(model, "set_workers"):  # a model that runs its rows in worker processes
        model.set_workers(workers)
        workers = workers or 1
    elif device == "cpu":
        workers = _set_threads(workers)
    b = len(arr)
    adaptive = chunk_size is None and device == "cpu" and not (
        recording.spikes or recording.v_neurons)
    max_rows = chunk_size  # a given chunk size is kept
    if chunk_size is None:
        # CPU: enough rows per chunk to keep every thread busy, few enough for a live progress bar
        # and bounded memory (a network's per-synapse arrays are per row); single neurons are
        # small and a kernel launch on 64 of them costs 2.5x per row what one on 1,024 does;
        # GPU: wide chunks, the device is only efficient on many rows.
        if device != "cpu":
            chunk_size = 4096
        elif model.kind == "neuron":
            chunk_size = 1024
        else:
            chunk_size = max(8 * (workers or 1), 64)
        if recording.spikes or recording.v_neurons:
            chunk_size = min(chunk_size, 16)
        max_rows = (1 if model.kind == "neuron" else CHUNK_MAX_UNITS) * chunk_size
        if hasattr(model, "chunk_rows"):  # a model whose rows are large on a device
            max_rows = min(max_rows, model.chunk_rows(device))
            chunk_size = min(chunk_size, max_rows)
    if chunk_size < 1:
        raise SettingsError(f"chunk_size={chunk_size}; allowed: >= 1")
    unit = chunk_size

    rows = np.arange(b) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.shape != (b,) or (b and rows.min() < 0):
        raise SettingsError(f"rows must be {b} non-negative row indices, got shape {rows.shape}")
    keys = row_keys(int(seed), rows)
    outputs = np.full((b, len(spec.outputs)), np.nan)
    ok = np.zeros(b, dtype=bool)
    errors: list[str | None] = [None] * b
    labels: list[str | None] = [None] * b
    any_labels = False
    unfinished = np.zeros(b, dtype=bool)
    unfinished_label = None
    spikes: list | None = [] if recording.spikes else None
    voltages = []
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=b, unit="sim", desc=f"{spec.name}", leave=False)
    t0 = time.perf_counter()
    try:
        start = 0
        while start < b:
            sl = slice(start, min(start + chunk_size, b))
            start = sl.stop
            t_chunk = time.perf_counter()
            try:
                res = model.run_chunk(arr[sl], keys[sl], settings, device, recording)
            except (SettingsError, ValueError):
                raise
            except Exception as exc:  # a crash in a chunk is recorded per row, never dropped
                n = sl.stop - sl.start
                errors[sl] = [f"{type(exc).__name__}: {exc}"] * n
                continue
            if adaptive:
                per_row = (time.perf_counter() - t_chunk) / (sl.stop - sl.start)
                chunk_size = chunk_rows(per_row, unit, CHUNK_TARGET_S, max_rows)
            outputs[sl] = res.outputs
            ok[sl] = res.ok
            errors[sl] = res.errors or [None] * len(res.ok)
            if res.labels is None and spec.output_domain is not None:
                res.labels = spec.output_domain.labels(res.outputs, res.ok, spec.output_names)
            if res.labels is not None:
                labels[sl] = res.labels
                any_labels = True
            if res.unfinished is not None:
                unfinished[sl] = res.unfinished
                unfinished_label = res.unfinished_label
            if spikes is not None:
                spikes.extend(res.spikes or [])
            if res.voltages is not None:
                voltages.append(res.voltages)
            if bar is not None:
                bar.update(sl.stop - sl.start)
            elif callable(progress):
                progress(sl.stop - sl.start)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    if unfinished.any():
        k = int(unfinished.sum())
        what = f" (label {unfinished_label!r})" if unfinished_label else ""
        warnings.warn(
            f"{spec.name}: {k} of {b} rows ({k / b:.1%}) did not finish within the run"
            f"{what}: their outputs are NaN; increase duration_ms "
            f"(now {settings.duration_ms:g} ms)",
            UnfinishedWarning,
            stacklevel=2,
        )
    return SimulationResult(
        model=spec.name,
        parameter_names=spec.parameter_names,
        params=arr,
        output_names=spec.output_names,
        outputs=outputs,
        ok=ok,
        errors=errors,
        seed=int(seed),
        settings=settings,
        device=device,
        wall_time_s=wall,
        provenance=model.describe(),
        spikes=spikes,
        voltages=np.concatenate(voltages) if voltages else None,
        v_neurons=tuple(recording.v_neurons),
        labels=labels if any_labels else None,
        spec=spec,
    )
