"""Parameter spaces read from a model's declaration, and samplers over them.

A space starts from the declared bounds of every parameter. Parameters can be fixed, given other
bounds (a sub-box), sampled on a log scale, or the whole box scaled about its centre (Zhang and
Young 2020 also train on a box about 5x larger per dimension). Samplers: uniform random, Sobol and
Latin hypercube (``scipy.stats.qmc``), and regular grids.

Fixed values and sub-boxes are checked against the model's declaration when the space is made,
so a sweep never starts on values that ``simulate`` would refuse: inside the declared range, or,
with ``allow_outside``, inside the parameter's hard limits (e.g. a rate stays >= 0). Scaling the
box is itself a request to leave the declared box; it is clipped at the hard limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import qmc

from neuroscape.core.spec import ModelSpec, ParameterError

SAMPLERS = ("uniform", "sobol", "lhs", "grid")


class SpaceError(ValueError):
    """A parameter space or sampler request that cannot be honoured."""


@dataclass
class ParameterSpace:
    """The box to sample, in the model's parameter order.

    bounds: {name: (low, high)} overriding the declared domain; fixed: {name: value} not sampled;
    log: names sampled uniformly in log; scale: factor about the box centre applied to every free
    dimension's width (clipped at the parameters' hard limits, e.g. rates stay >= 0);
    allow_outside: accept fixed values and bounds outside the declared ranges (still inside the
    hard limits).
    """

    spec: ModelSpec
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)
    log: tuple[str, ...] = ()
    scale: float = 1.0
    allow_outside: bool = False

    def __post_init__(self) -> None:
        names = set(self.spec.parameter_names)
        for group, items in (("bounds", self.bounds), ("fixed", self.fixed), ("log", self.log)):
            for name in items:
                if name not in names:
                    raise ParameterError(
                        f"{group}: unknown parameter {name!r} for model {self.spec.name!r}; "
                        f"allowed: {', '.join(self.spec.parameter_names)}"
                    )
        for name, (lo, hi) in self.bounds.items():
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise SpaceError(f"bounds for {name}: low={lo:g} must be < high={hi:g}")
            self._check_declared(name, "bounds", lo, hi)
        both = sorted(set(self.fixed) & set(self.bounds))
        if both:
            raise SpaceError(
                f"{both[0]} is both fixed and bounded; allowed: --fix or --bounds for a parameter"
            )
        for name, v in self.fixed.items():
            if not np.isfinite(v):
                raise SpaceError(f"fixed {name}={v}; allowed: a finite number")
            self._check_declared(name, "fixed", v, v)
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise SpaceError(f"scale={self.scale}; allowed: a positive number")
        for name in self.log:
            lo, _ = self.box()[self.spec.parameter_names.index(name)]
            if lo <= 0:
                raise SpaceError(f"log scale for {name} needs low > 0, got {lo:g}")
        if not self.free:
            raise SpaceError("every parameter is fixed: nothing to sample")

    def _check_declared(self, name: str, group: str, lo: float, hi: float) -> None:
        """[lo, hi] against the declaration of ``name``: the declared range, or the hard limits
        when outside values are allowed (the rule ``ModelSpec.validate`` applies to a run)."""
        p = self.spec.parameter(name)
        if self.allow_outside:
            a, b, what, hint = p.hard_low, p.hard_high, "hard limits", ""
        else:
            a, b, what = p.low, p.high, "declared range"
            hint = " (allow_outside / --allow-outside accepts values up to the hard limits)"
        if lo < a or hi > b:
            unit = "" if p.unit in ("1", "") else f" {p.unit}"
            value = f"{lo:g}{unit}" if lo == hi else f"[{lo:g}, {hi:g}]{unit}"
            raise ParameterError(
                f"{group} {name}={value} is outside the {what} of {self.spec.name!r}: "
                f"[{a:g}, {b:g}]{unit}{hint}"
            )

    @property
    def free(self) -> list[str]:
        return [n for n in self.spec.parameter_names if n not in self.fixed]

    def box(self) -> np.ndarray:
        """(n_params, 2) bounds of every parameter (fixed ones: [v, v])."""
        out = []
        for p in self.spec.parameters:
            if p.name in self.fixed:
                v = float(self.fixed[p.name])
                out.append((v, v))
                continue
            lo, hi = self.bounds.get(p.name, (p.low, p.high))
            if self.scale != 1.0:
                mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * self.scale
                lo, hi = max(mid - half, p.hard_low), min(mid + half, p.hard_high)
            out.append((lo, hi))
        return np.array(out, dtype=float)

    def outside_declared_domain(self) -> bool:
        box = self.box()
        return bool(
            np.any(box[:, 0] < self.spec.bounds[:, 0] - 1e-12)
            or np.any(box[:, 1] > self.spec.bounds[:, 1] + 1e-12)
        )

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points of the unit cube (n, n_free) to full parameter vectors (n, n_params)."""
        box = self.box()
        out = np.tile(box[:, 0], (len(u), 1))
        for k, name in enumerate(self.free):
            j = self.spec.parameter_names.index(name)
            lo, hi = box[j]
            if name in self.log:
                out[:, j] = np.exp(np.log(lo) + u[:, k] * (np.log(hi) - np.log(lo)))
            else:
                out[:, j] = lo + u[:, k] * (hi - lo)
        return out

    def sample(self, n: int, sampler: str = "uniform", seed: int = 0) -> np.ndarray:
        """(n, n_params) points. For "grid", n is the number of points per free dimension."""
        if not isinstance(n, int | np.integer) or n <= 0:
            raise SpaceError(f"n={n}; allowed: a positive integer")
        d = len(self.free)
        if sampler == "uniform":
            u = np.random.default_rng(seed).random((n, d))
        elif sampler == "sobol":
            u = qmc.Sobol(d, scramble=True, seed=seed).random(n)
        elif sampler == "lhs":
            u = qmc.LatinHypercube(d, seed=seed).random(n)
        elif sampler == "grid":
            if n**d > 10_000_000:
                raise SpaceError(f"grid of {n}^{d} = {n**d:.3g} points; allowed: <= 1e7")
            axes = [np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5])] * d
            u = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
        else:
            raise SpaceError(f"unknown sampler {sampler!r}; allowed: {', '.join(SAMPLERS)}")
        return self.from_unit(u)

    def to_json(self) -> str:
        """The space as stored with a sweep (part of the sweep's identity)."""
        d = {
            "bounds": {k: list(v) for k, v in sorted(self.bounds.items())},
            "fixed": dict(sorted(self.fixed.items())),
            "log": sorted(self.log),
            "scale": self.scale,
        }
        if self.allow_outside:  # absent when False: sweeps stored before it keep their identity
            d["allow_outside"] = True
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, spec: ModelSpec, text: str) -> ParameterSpace:
        """The space of a stored sweep. Outside values are accepted: what is read back was
        already run (a sweep may have been stored before fixed values were checked)."""
        d = json.loads(text)
        return cls(
            spec,
            bounds={k: (float(v[0]), float(v[1])) for k, v in d.get("bounds", {}).items()},
            fixed={k: float(v) for k, v in d.get("fixed", {}).items()},
            log=tuple(d.get("log", ())),
            scale=float(d.get("scale", 1.0)),
            allow_outside=True,
        )

    def describe(self) -> str:
        """One line with units: fixed values, sub-boxes, log axes and scale ('' if none)."""
        parts = []
        for name, v in sorted(self.fixed.items()):
            parts.append(f"{name} fixed at {_with_unit(v, self.spec.parameter(name).unit)}")
        for name, (lo, hi) in sorted(self.bounds.items()):
            unit = self.spec.parameter(name).unit
            parts.append(f"{name} in [{lo:g}, {_with_unit(hi, unit)}]")
        if self.log:
            parts.append("log axes: " + ", ".join(sorted(self.log)))
        if self.scale != 1.0:
            parts.append(f"box scaled x{self.scale:g} about its centre")
        return "; ".join(parts)


def _with_unit(v: float, unit: str) -> str:
    return f"{v:g}" if unit in ("1", "") else f"{v:g} {unit}"
