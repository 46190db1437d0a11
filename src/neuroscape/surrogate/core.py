"""DNN surrogates of a model's map from parameters to outputs (Zhang, Young & Lai 2020), with
PyTorch.

A surrogate is a fully connected network (default: the paper's sigmoid 800-200-200, MSE, Adam)
from the parameters, scaled to the unit box of the training domain, to the outputs, standardized.
It is trained with a validation split and early stopping, seeded, on the CPU by default. A deep
ensemble (several members from different seeds) gives an uncertainty estimate.

Saved as plain arrays (NPZ, loaded with ``allow_pickle=False``) next to a JSON file holding the
model's declaration (``ModelSpec.to_dict()``: parameters, outputs, units, output domain) and
identity (its reference, and for a model loaded from a file the file and its SHA-256), the
training domain, the architecture, the scalings and the training data's provenance: a reader
needs neither the registry nor the model's file, and nothing executable is ever unpickled.
The folder is written beside its final name and renamed into place, so an interrupted save
leaves no half-written surrogate.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from neuroscape.core.spec import ModelSpec
from neuroscape.io import dumps_strict

# 2: the model's declaration and identity ("model_info"); 1: names and units only
FORMAT_VERSION = 2
ACTIVATIONS = ("sigmoid", "relu", "tanh", "gelu")
SAVED_FILES = ("surrogate.json", "weights.npz")
# a validation MAE above this fraction of the output's SD in the training data is warned about:
# the surrogate then barely beats predicting the mean (the MAE of the mean is 0.8 SD for a
# normal output)
LARGE_MAE_FRACTION_OF_SD = 0.5


class SurrogateError(ValueError):
    """A surrogate request that cannot give a meaningful answer."""


@dataclass
class SurrogateConfig:
    hidden: tuple[int, ...] = (800, 200, 200)
    activation: str = "sigmoid"
    # measured on the circuit (test MAE of r_E): lr 1e-3, batches of 32, patience 100 give
    # 0.76 Hz at n=500 and 0.28 Hz at n=2000, against 1.72 and 0.49 Hz for 3e-3/64/60
    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 2000
    patience: int = 100  # epochs without validation improvement before stopping
    val_fraction: float = 0.1
    ensemble: int = 1
    seed: int = 0
    device: str = "cpu"
    # halve the learning rate after this many epochs without validation improvement (0: never).
    # Measured: at n = 20,000, 20 gives test MAE (0.102, 0.133) Hz = (1.14, 1.20) x the noise
    # floor, against (1.54, 1.94) x without; but at n = 500 it worsens the MAE of r_E from 0.76
    # to 1.60 Hz (the small validation set plateaus early), so it is off by default
    lr_decay_patience: int = 0

    def check(self) -> None:
        """Raise SurrogateError naming the first setting that cannot be used."""
        if self.activation not in ACTIVATIONS:
            raise SurrogateError(
                f"unknown activation {self.activation!r}; allowed: {', '.join(ACTIVATIONS)}"
            )
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise SurrogateError(f"hidden={self.hidden}; allowed: one or more positive widths")
        if not 0.0 < self.val_fraction < 0.5:
            raise SurrogateError(f"val_fraction={self.val_fraction}; allowed: (0, 0.5)")
        for name in ("ensemble", "max_epochs", "batch_size", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise SurrogateError(f"{name}={v!r}; allowed: an integer >= 1")
        for name in ("lr_decay_patience", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise SurrogateError(f"{name}={v!r}; allowed: an integer >= 0")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise SurrogateError(f"lr={self.lr!r}; allowed: a finite number > 0")
        check_device(self.device)


def check_device(device: str) -> str:
    """cpu, cuda or cuda:N (refused when no CUDA GPU is available)."""
    import torch

    if device == "cpu":
        return device
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise SurrogateError(f"device={device!r} asked for, but no CUDA GPU is available")
        try:
            index = torch.device(device).index
        except RuntimeError:
            raise SurrogateError(f"device={device!r}; allowed: cpu, cuda, cuda:N") from None
        if index is not None and not 0 <= index < torch.cuda.device_count():
            raise SurrogateError(
                f"device={device!r}; allowed: cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
        return device
    raise SurrogateError(f"unknown device {device!r}; allowed: cpu, cuda, cuda:N")


def _registered_spec(model: str, parameter_names, output_names):
    """The declaration of a model known to this process by ``model``, when it declares every
    given parameter and output; else None. Only for surrogates that record no declaration
    (saved in format 1, or trained from arrays with a model name)."""
    from neuroscape.models import resolve

    try:
        spec = resolve(model).spec
    except ValueError:  # unknown name, or a file that cannot be loaded
        return None
    if set(parameter_names) <= set(spec.parameter_names) and set(output_names) <= set(
        spec.output_names
    ):
        return spec
    return None


def _own_spec(sur: Surrogate):
    """A declaration built from the surrogate itself (names, units, training box) for a
    surrogate of no known model: defaults are the box's midpoints, unknown units are ""."""
    from neuroscape.core.spec import Output, Parameter

    name = sur.model if str(sur.model).isidentifier() else "surrogate"
    pu = sur.parameter_units or [""] * len(sur.parameter_names)
    ou = sur.output_units or [""] * len(sur.output_names)
    lo, hi = sur.domain[:, 0], sur.domain[:, 1]
    return ModelSpec(
        name,
        str(sur.model_version),
        f"declared by a surrogate of {sur.model}",
        tuple(
            Parameter(n, float((a + b) / 2), float(a), float(b), u)
            for n, a, b, u in zip(sur.parameter_names, lo, hi, pu, strict=True)
        ),
        tuple(Output(n, u) for n, u in zip(sur.output_names, ou, strict=True)),
    )


def _with_unit(v: float, unit: str) -> str:
    return f"{v:.3g}" if unit in ("1", "") else f"{v:.3g} {unit}"


def _build(n_in: int, n_out: int, hidden, activation: str):
    import torch.nn as nn

    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[activation]
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, int(h)), act()]
        width = int(h)
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


PRECISIONS = ("float32", "bfloat16")


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise SurrogateError(f"precision={precision!r}; allowed: {', '.join(PRECISIONS)}")


@functools.cache  # read once: predict calls it, and speed measurements time predict
def cpu_has_native_bf16() -> bool | None:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16); None where that
    cannot be read (torch 2.13 does not expose it, so Linux's /proc/cpuinfo is read)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _fused(net, precision: str = "float32"):
    """An inference-only forward of a Linear/activation stack: ``addmm`` with the bias and
    in-place activations, measured 1.8x faster than the module's forward on 2 CPU cores (no
    temporaries per layer); other architectures fall back to the module itself.

    With ``precision="bfloat16"`` the hidden-to-hidden layers (for 800-200-200, 200,000 of the
    206,000 multiply-adds per sample) run in bfloat16 with float32 accumulation (oneDNN; AMX or
    AVX512-BF16 where the CPU has them). The first layer stays float32 because bfloat16 would
    round the unit-box inputs to 1/256 of the domain, and so does the output layer."""
    import torch
    import torch.nn as nn

    inplace = {nn.Sigmoid: torch.sigmoid_, nn.ReLU: torch.relu_, nn.Tanh: torch.tanh_}
    linears = [k for k, layer in enumerate(net) if isinstance(layer, nn.Linear)]
    low = set(linears[1:-1]) if precision == "bfloat16" else set()
    ops = []
    for k, layer in enumerate(net):
        if isinstance(layer, nn.Linear):
            dt = torch.bfloat16 if k in low else layer.weight.dtype
            w = layer.weight.detach().t().contiguous().to(dt)
            ops.append((w, layer.bias.detach().to(dt)))
        elif type(layer) in inplace and ops:
            ops.append(inplace[type(layer)])
        elif precision == "float32":
            return net
        else:
            raise SurrogateError(
                f"precision={precision!r} needs a Linear/sigmoid|relu|tanh stack; this "
                "surrogate's architecture allows only float32"
            )

    def forward(x):
        for op in ops:
            if isinstance(op, tuple):
                x = torch.addmm(op[1], x.to(op[0].dtype), op[0])
            else:
                x = op(x)
        return x  # float32: the output layer is never lowered

    return forward


@dataclass
class Surrogate:
    """A trained surrogate (or deep ensemble). Build it with ``train_surrogate``."""

    model: str
    model_version: str
    parameter_names: list[str]
    output_names: list[str]
    domain: np.ndarray  # (n_params, 2): the box the inputs are scaled from
    y_mean: np.ndarray
    y_std: np.ndarray
    config: SurrogateConfig
    provenance: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    members: list = field(default_factory=list)  # torch modules
    # declared units ("1": dimensionless, "": unknown); empty lists: read from ``spec``
    parameter_units: list[str] = field(default_factory=list)
    output_units: list[str] = field(default_factory=list)
    # the model's declaration (parameters, outputs, units, output domain); None: the registered
    # model of this name where it declares these names, else one built from the surrogate
    spec: ModelSpec | None = None
    # how the model is found again: {"ref": name or FILE.py:NAME, "kind": ..., "source":
    # {"file", "sha256", "name"} for a model loaded from a file, else None}
    model_info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.spec is None and self.model_info.get("spec"):
            self.spec = ModelSpec.from_dict(self.model_info["spec"])
        self.model_info = {k: v for k, v in self.model_info.items() if k != "spec"}
        if self.spec is None:
            self.spec = _registered_spec(self.model, self.parameter_names, self.output_names)
            if self.spec is not None and not self.model_info:
                self.model_info = {"ref": self.model, "kind": None, "source": None}
        if self.spec is not None:
            missing = [
                n for n in self.parameter_names if n not in self.spec.parameter_names
            ] + [n for n in self.output_names if n not in self.spec.output_names]
            if missing:
                raise SurrogateError(
                    f"the declaration of {self.spec.name!r} has no {missing[0]!r}; it declares "
                    f"parameters {', '.join(self.spec.parameter_names)} and outputs "
                    f"{', '.join(self.spec.output_names)}"
                )
            pu = {x.name: x.unit for x in self.spec.parameters}
            ou = {x.name: x.unit for x in self.spec.outputs}
            if not self.parameter_units:
                self.parameter_units = [pu[n] for n in self.parameter_names]
            if not self.output_units:
                self.output_units = [ou[n] for n in self.output_names]
        else:
            self.parameter_units = self.parameter_units or [""] * len(self.parameter_names)
            self.output_units = self.output_units or [""] * len(self.output_names)
            self.spec = _own_spec(self)

    @property
    def output_domain(self):
        """The output domain the model declares (an ``OutputDomain``), or None."""
        return self.spec.output_domain

    def describe_model(self) -> dict:
        """The model's declaration and identity, as a database or ``Model.describe()`` holds
        them: {"ref", "kind", "spec", "source"}."""
        return {
            "ref": self.model_info.get("ref") or self.model,
            "kind": self.model_info.get("kind"),
            "spec": self.spec.to_dict(),
            "source": self.model_info.get("source"),
        }

    def unit(self, name: str) -> str:
        """The declared unit of a parameter or output of this surrogate."""
        if name in self.output_names:
            return self.output_units[self.output_names.index(name)]
        return self.parameter_units[self.parameter_names.index(name)]

    # ------------------------------------------------------------------ evaluation
    def _scale_x(self, p, torch):
        lo = torch.as_tensor(self.domain[:, 0], dtype=p.dtype, device=p.device)
        hi = torch.as_tensor(self.domain[:, 1], dtype=p.dtype, device=p.device)
        return (p - lo) / (hi - lo)

    def forward(self, p):
        """Differentiable prediction on a torch tensor of parameters (B, n_params):
        the ensemble mean of the outputs, in their units."""
        import torch

        net_dtype = next(self.members[0].parameters()).dtype
        x = self._scale_x(p, torch).to(net_dtype)  # float64 inputs welcome; the net is float32
        ym = torch.as_tensor(self.y_mean, dtype=p.dtype, device=p.device)
        ys = torch.as_tensor(self.y_std, dtype=p.dtype, device=p.device)
        outs = torch.stack([m(x) for m in self.members]).to(p.dtype)
        return outs.mean(0) * ys + ym

    def check_inputs(self, params: np.ndarray, allow_outside: bool = False) -> np.ndarray:
        p = np.asarray(params, dtype=float)
        if p.ndim == 1:
            p = p[None, :]
        if p.ndim != 2 or p.shape[1] != len(self.parameter_names):
            raise SurrogateError(
                f"surrogate of {self.model!r} takes {len(self.parameter_names)} parameters "
                f"({', '.join(self.parameter_names)}); got shape {p.shape}"
            )
        lo, hi = self.domain[:, 0], self.domain[:, 1]
        out = (p < lo - 1e-12) | (p > hi + 1e-12)
        if out.any():
            i, j = np.argwhere(out)[0]
            msg = (
                f"row {i}: {self.parameter_names[j]}={p[i, j]:g} is outside the training "
                f"domain [{lo[j]:g}, {hi[j]:g}] ({int(out.any(1).sum())} rows outside)"
            )
            if not allow_outside:
                raise SurrogateError(msg + "; a surrogate does not extrapolate reliably")
            warnings.warn(msg + ": extrapolating", stacklevel=2)
        return p

    def predict(
        self,
        params: np.ndarray,
        return_std: bool = False,
        batch: int = 4096,  # measured: 4096-row chunks stay in cache, 2x faster than 65536
        allow_outside: bool = False,
        precision: str = "float32",
    ):
        """Outputs (B, n_outputs) for parameters (B, n_params); with ``return_std`` also the
        ensemble's standard deviation (zeros for a single network). ``precision="bfloat16"``
        runs the hidden layers in bfloat16 (see ``_fused``): faster on CPUs with AMX or
        AVX512-BF16, at a small cost in accuracy that ``benchmarks/surrogate_speed.py`` measures."""
        import torch

        _check_precision(precision)
        if (
            precision == "bfloat16"
            and self.config.device == "cpu"
            and cpu_has_native_bf16() is False
        ):
            warnings.warn(
                "this CPU has no bfloat16 hardware (AMX, AVX512-BF16): precision='bfloat16' is "
                "emulated and may be slower than float32",
                stacklevel=2,
            )
        p = self.check_inputs(params, allow_outside)
        dev = torch.device(self.config.device)
        lo = torch.as_tensor(self.domain[:, 0], dtype=torch.float32, device=dev)
        inv_w = 1.0 / torch.as_tensor(
            self.domain[:, 1] - self.domain[:, 0], dtype=torch.float32, device=dev
        )
        y_std = self.y_std.astype(np.float32)
        y_mean = self.y_mean.astype(np.float32)
        mean = np.empty((len(p), len(self.output_names)))
        std = np.zeros_like(mean)
        x_all = torch.as_tensor(p.astype(np.float32), device=dev)
        fns = [_fused(m, precision) for m in self.members]
        with torch.inference_mode():
            for s in range(0, len(p), batch):
                x = (x_all[s : s + batch] - lo) * inv_w
                if len(self.members) == 1:
                    mean[s : s + batch] = fns[0](x).cpu().numpy() * y_std + y_mean
                    continue
                outs = torch.stack([f(x) for f in fns]).cpu().numpy()
                outs = outs * y_std + y_mean
                mean[s : s + batch] = outs.mean(0)
                std[s : s + batch] = outs.std(0)
        return (mean, std) if return_std else mean

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write the surrogate to ``folder`` (new, empty, or an earlier saved surrogate, which
        is replaced): into a temporary folder beside it, renamed into place when complete."""
        from neuroscape.io import atomic_folder

        folder = Path(folder)
        arrays = {}
        for k, m in enumerate(self.members):
            for name, t in m.state_dict().items():
                arrays[f"member{k}.{name}"] = t.detach().cpu().numpy()
        meta = {
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "model_version": self.model_version,
            "model_info": self.describe_model(),
            "parameter_names": self.parameter_names,
            "output_names": self.output_names,
            "parameter_units": self.parameter_units,
            "output_units": self.output_units,
            "domain": self.domain.tolist(),
            "y_mean": self.y_mean.tolist(),
            "y_std": self.y_std.tolist(),
            "config": {**asdict(self.config), "hidden": list(self.config.hidden)},
            "provenance": self.provenance,
            "metrics": self.metrics,
        }
        text = dumps_strict(meta)
        with atomic_folder(folder, replaceable=SAVED_FILES) as tmp:
            np.savez(tmp / "weights.npz", **arrays)
            (tmp / "surrogate.json").write_text(text)
        return folder


def check_output_folder(folder: str | Path) -> None:
    """Refuse, before training, a folder that ``Surrogate.save`` would refuse: a file, or a
    folder holding anything but a saved surrogate."""
    from neuroscape.io import check_replaceable_folder

    check_replaceable_folder(folder, SAVED_FILES)


def load_surrogate(folder: str | Path, device: str = "cpu") -> Surrogate:
    """Load a saved surrogate; only arrays and JSON are read (no pickle)."""
    import torch

    folder = Path(folder)
    meta_path = folder / "surrogate.json"
    if not folder.is_dir():
        raise SurrogateError(f"surrogate folder {str(folder)!r} does not exist")
    if not meta_path.is_file() or not (folder / "weights.npz").is_file():
        raise SurrogateError(f"{folder}: no surrogate.json and weights.npz; not a saved surrogate")
    check_device(device)
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SurrogateError(f"{meta_path}: not a surrogate description ({exc})") from None
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise SurrogateError(
            f"{folder}: format {meta['format_version']} is newer than this "
            f"neuroscape's {FORMAT_VERSION}"
        )
    cfg = SurrogateConfig(
        **{**meta["config"], "hidden": tuple(meta["config"]["hidden"]), "device": device}
    )
    with np.load(folder / "weights.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    members = []
    for k in range(cfg.ensemble):
        net = _build(
            len(meta["parameter_names"]), len(meta["output_names"]), cfg.hidden, cfg.activation
        )
        state = {
            name[len(f"member{k}.") :]: torch.as_tensor(a)
            for name, a in arrays.items()
            if name.startswith(f"member{k}.")
        }
        net.load_state_dict(state)
        members.append(net.to(device).eval())
    return Surrogate(
        model=meta["model"],
        model_version=meta["model_version"],
        parameter_names=meta["parameter_names"],
        output_names=meta["output_names"],
        domain=np.array(meta["domain"]),
        y_mean=np.array(meta["y_mean"]),
        y_std=np.array(meta["y_std"]),
        config=cfg,
        provenance=meta["provenance"],
        metrics=meta["metrics"],
        members=members,
        parameter_units=meta.get("parameter_units", []),
        output_units=meta.get("output_units", []),
        model_info=meta.get("model_info") or {},
    )


@contextlib.contextmanager
def one_cpu_thread(device: str = "cpu"):
    """Torch on one CPU thread for the small matrices of training and tuning (batches of
    tens to hundreds of rows through 800-200-200 layers): a second thread adds synchronisation
    and, on a busy machine, spin-waiting. Measured while other work ran: 20 epochs took 2.1 s
    on one thread against 23 s on two. Inference (``predict``) keeps every thread."""
    import torch

    if device != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_surrogate(
    params: np.ndarray,
    outputs: np.ndarray,
    domain: np.ndarray,
    *,
    model,
    model_version: str | None = None,
    parameter_names: list[str],
    output_names: list[str],
    config: SurrogateConfig | None = None,
    provenance: dict | None = None,
    verbose: bool = False,
    progress: bool = False,
    parameter_units: list[str] | None = None,
    output_units: list[str] | None = None,
    warn_large_error: bool = True,
    model_info: dict | None = None,
) -> Surrogate:
    """Fit a surrogate (or ensemble) to (params -> outputs) pairs on the box ``domain``.

    ``model``: the model object (``neuroscape.models.Model``), its declaration (``ModelSpec``)
    or a name; the surrogate records the declaration (units, output domain) and, for a model
    object or ``model_info`` (``Model.describe()``), how to find the model again. With a bare
    name, the declaration is the registered model's where it declares these names, else one
    built from the names and the box. Rows with a non-finite value are dropped (and counted in
    the provenance). ``progress``: a bar of epochs per member on stderr; ``verbose``: a line
    every 50 epochs on stderr. With ``warn_large_error``, warns (UserWarning) for every output
    whose validation MAE exceeds ``LARGE_MAE_FRACTION_OF_SD`` x its SD in the training data."""
    from neuroscape.models import Model

    cfg = config or SurrogateConfig()
    cfg.check()
    info = dict(model_info or {})
    if isinstance(model, Model):
        info = {**model.describe(), **info}
        model = model.spec
    if isinstance(model, ModelSpec):
        info.setdefault("spec", model.to_dict())
        info.setdefault("ref", model.name)
        model_version = model.version if model_version is None else model_version
        model = model.name
    if not isinstance(model, str):
        raise SurrogateError(f"model={model!r}; allowed: a model object, a ModelSpec or a name")
    if info.get("spec") and model_version is None:
        model_version = str(info["spec"].get("version", ""))
    with one_cpu_thread(cfg.device):
        return _train(
            params,
            outputs,
            domain,
            cfg,
            model=model,
            model_version="" if model_version is None else str(model_version),
            parameter_names=parameter_names,
            output_names=output_names,
            provenance=provenance,
            verbose=verbose,
            progress=progress,
            parameter_units=parameter_units,
            output_units=output_units,
            warn_large_error=warn_large_error,
            model_info=info,
        )


def _masked_mse(pred, target, mask):
    """Mean squared error over the defined outputs (``mask`` 1) only, in SD units."""
    return ((pred - target) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)


def _train(
    params,
    outputs,
    domain,
    cfg,
    *,
    model,
    model_version,
    parameter_names,
    output_names,
    provenance,
    verbose,
    progress,
    parameter_units,
    output_units,
    warn_large_error,
    model_info,
) -> Surrogate:
    import torch

    x = np.asarray(params, dtype=float)
    y = np.asarray(outputs, dtype=float)
    # a run keeps the outputs it has: an output that is undefined in a run (NaN: e.g. the ISI
    # CV of a cell that fires once) is left out of that run's loss, not the run itself, else
    # the other outputs would be fitted on a biased part of the box (only the regular firers)
    keep = np.any(np.isfinite(y), axis=1) & np.all(np.isfinite(x), axis=1)
    x, y = x[keep], y[keep]
    fin = np.isfinite(y)
    if len(x) < 10:
        raise SurrogateError(f"{len(x)} usable (finite) training pairs; at least 10 are needed")
    domain = np.asarray(domain, dtype=float)
    if np.any(domain[:, 1] <= domain[:, 0]):
        j = int(np.argmax(domain[:, 1] <= domain[:, 0]))
        raise SurrogateError(f"domain of {parameter_names[j]} has zero width: {domain[j]}")
    n_fin = fin.sum(0)
    for j in np.flatnonzero(n_fin < 10):
        warnings.warn(
            f"surrogate of {model}: output {output_names[j]} is defined in only "
            f"{int(n_fin[j])} of {len(y)} runs; its predictions rest on those",
            stacklevel=2,
        )
    y0 = np.where(fin, y, 0.0)
    y_mean = y0.sum(0) / np.maximum(n_fin, 1)
    y_spread = np.sqrt(np.where(fin, (y0 - y_mean) ** 2, 0.0).sum(0) / np.maximum(n_fin, 1))
    y_std = np.where(y_spread > 0, y_spread, 1.0)
    dev = torch.device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(x))
    n_val = max(1, int(round(cfg.val_fraction * len(x))))
    val, tr = perm[:n_val], perm[n_val:]
    xs = torch.as_tensor(
        (x - domain[:, 0]) / (domain[:, 1] - domain[:, 0]), dtype=torch.float32, device=dev
    )
    ys = torch.as_tensor(np.where(fin, (y0 - y_mean) / y_std, 0.0), dtype=torch.float32,
                         device=dev)
    ms = torch.as_tensor(fin, dtype=torch.float32, device=dev)  # 1 where an output is defined
    # the declaration is checked before training: a refused one wastes no time
    sur = Surrogate(
        model=model,
        model_version=model_version,
        parameter_names=list(parameter_names),
        output_names=list(output_names),
        domain=domain,
        y_mean=y_mean,
        y_std=y_std,
        config=cfg,
        provenance={
            **(provenance or {}),
            "n_train": int(len(tr)),
            "n_val": int(n_val),
            "n_dropped_nonfinite": int((~keep).sum()),
            "n_undefined_outputs": {
                n: int(len(y) - c) for n, c in zip(output_names, n_fin, strict=True) if c < len(y)
            },
        },
        parameter_units=list(parameter_units or []),
        output_units=list(output_units or []),
        model_info=model_info,
    )
    members, histories = [], []
    t0 = time.perf_counter()
    for k in range(cfg.ensemble):
        torch.manual_seed(cfg.seed * 1000 + k)
        gen = torch.Generator(device="cpu").manual_seed(cfg.seed * 1000 + k)
        net = _build(x.shape[1], y.shape[1], cfg.hidden, cfg.activation).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        sched = None
        if cfg.lr_decay_patience > 0:
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=0.5, patience=cfg.lr_decay_patience
            )
        best, best_state, since = np.inf, None, 0
        xt, yt, xv, yv = xs[tr], ys[tr], xs[val], ys[val]
        mt, mv = ms[tr], ms[val]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            member = f" {k + 1}/{cfg.ensemble}" if cfg.ensemble > 1 else ""
            bar = tqdm(
                total=cfg.max_epochs,
                unit="epoch",
                desc=f"{model} surrogate{member}",
                file=sys.stderr,
                leave=False,
            )
        try:
            for epoch in range(cfg.max_epochs):
                net.train()
                order = torch.randperm(len(tr), generator=gen).to(dev)
                for s in range(0, len(tr), cfg.batch_size):
                    idx = order[s : s + cfg.batch_size]
                    opt.zero_grad()
                    loss = _masked_mse(net(xt[idx]), yt[idx], mt[idx])
                    loss.backward()
                    opt.step()
                net.eval()
                with torch.no_grad():
                    v = float(_masked_mse(net(xv), yv, mv))
                if sched is not None:
                    sched.step(v)
                if v < best - 1e-7:
                    best, since = v, 0
                    best_state = {n: t.detach().clone() for n, t in net.state_dict().items()}
                else:
                    since += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(best_val_mse=f"{best:.3g}", refresh=False)
                if verbose and epoch % 50 == 0:
                    print(
                        f"member {k} epoch {epoch}: validation MSE {v:.4g} (best {best:.4g}; "
                        "outputs in SD units)",
                        file=sys.stderr,
                    )
                if since >= cfg.patience:
                    break
        finally:
            if bar is not None:
                bar.close()
        net.load_state_dict(best_state)
        members.append(net.eval())
        histories.append(
            {
                "epochs": epoch + 1,
                "best_val_mse_scaled": best,
                "final_lr": opt.param_groups[0]["lr"],
            }
        )
    sur.members = members
    pred = sur.predict(x[val], allow_outside=True)
    err = np.where(fin[val], pred - y0[val], np.nan)  # per output over the runs that define it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an output undefined in every val run
        val_mae = np.nanmean(np.abs(err), axis=0)
        val_rmse = np.sqrt(np.nanmean(err**2, axis=0))
    sur.metrics = {
        "val_mae": val_mae.tolist(),
        "val_rmse": val_rmse.tolist(),
        "train_sd": y_spread.tolist(),
        "members": histories,
        "train_time_s": time.perf_counter() - t0,
    }
    for j, name in enumerate(sur.output_names if warn_large_error else []):
        if y_spread[j] > 0 and val_mae[j] > LARGE_MAE_FRACTION_OF_SD * y_spread[j]:
            u = sur.output_units[j]
            warnings.warn(
                f"surrogate of {model}: the validation MAE of {name}, {_with_unit(val_mae[j], u)}"
                f", is more than {LARGE_MAE_FRACTION_OF_SD:g} x the SD of {name} in the training "
                f"data ({_with_unit(y_spread[j], u)}): it barely beats predicting the mean; look "
                "for runaway runs (db summary) or train on more runs or epochs",
                UserWarning,
                stacklevel=2,
            )
    return sur
