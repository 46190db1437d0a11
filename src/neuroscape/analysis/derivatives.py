"""Statistics of a surrogate's derivatives (Zhang, Young & Lai 2020, Figs. 3-6), by automatic
differentiation, for a surrogate of any model.

Partial derivatives are scaled by the domain lengths Delta_j, so that every entry reads as the
change of an output (in its unit) across the whole range of one parameter: d y / d P_j * Delta_j,
and for second derivatives 1/2 d^2 y / d P_j^2 * Delta_j^2. Samples are kept where the predicted
output lies in the output domain the model declares (the circuit's O), or all of them when it
declares none. The paper's sign correlations, logistic regressions and gain curves need the
circuit's parameter and output names and are refused for a surrogate without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the paper's statistics of r_I's partials (Zhang, Young & Lai 2020, Figs. 5-6) need these
PAPER_PARAMETERS = ("S_IE_rel", "S_II_rel", "eta_ext_I_rel")
PAPER_OUTPUTS = ("r_I",)


class DerivativeError(ValueError):
    """A derivative statistic that this surrogate cannot give."""


def _domain(sur):
    """The output domain the surrogate's model declares, or None."""
    spec = getattr(sur, "spec", None)
    return None if spec is None else spec.output_domain


def _require(sur, parameters, outputs, what: str) -> None:
    missing = [n for n in parameters if n not in sur.parameter_names] + [
        n for n in outputs if n not in sur.output_names
    ]
    if missing:
        raise DerivativeError(
            f"{what} needs {', '.join(missing)}; the surrogate of {sur.model} has parameters "
            f"{', '.join(sur.parameter_names)} and outputs {', '.join(sur.output_names)}"
        )


def sample_domain(sur, n: int, seed: int = 0) -> np.ndarray:
    """n uniform points of the surrogate's training box."""
    lo, hi = sur.domain[:, 0], sur.domain[:, 1]
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))


def scaled_partials(sur, params: np.ndarray, batch: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """(first, second): (N, n_out, n_params) arrays of Delta-scaled first partials and
    Delta^2/2-scaled diagonal second partials at ``params``."""
    import torch
    from torch.func import hessian, jacrev, vmap

    delta = torch.as_tensor(sur.domain[:, 1] - sur.domain[:, 0], dtype=torch.float32)

    def f(p):
        return sur.forward(p[None, :])[0]

    jac = vmap(jacrev(f))
    hes = vmap(hessian(f))
    firsts, seconds = [], []
    for s in range(0, len(params), batch):
        p = torch.as_tensor(params[s : s + batch], dtype=torch.float32)
        j = jac(p) * delta  # (b, n_out, n_params)
        h = hes(p)  # (b, n_out, n_params, n_params)
        d2 = torch.diagonal(h, dim1=-2, dim2=-1) * delta**2 / 2
        firsts.append(j.detach().numpy())
        seconds.append(d2.detach().numpy())
    return np.concatenate(firsts), np.concatenate(seconds)


def sign_correlation(partials: np.ndarray) -> np.ndarray:
    """Correlation matrix of the signs (+1/-1) of the columns of ``partials`` (N, k)."""
    return np.corrcoef(np.sign(partials), rowvar=False)


@dataclass
class LogisticReport:
    accuracy: float
    importance: np.ndarray  # a_j^2 Var(x_j) / sum_k a_k^2 Var(x_k)
    names: list[str]


def logistic_sign_model(
    x: np.ndarray, sign: np.ndarray, names: list[str], seed: int = 0
) -> LogisticReport:
    """Logistic regression of (sign > 0) on the columns of ``x``: held-out accuracy and each
    input's relative importance as in the paper."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    y = (sign > 0).astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError("the sign is the same everywhere: nothing to classify")
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=seed)
    clf = LogisticRegression(max_iter=2000).fit(xtr, ytr)
    a = clf.coef_[0]
    w = a**2 * x.var(0)
    return LogisticReport(float(clf.score(xte, yte)), w / w.sum(), list(names))


def _partial_stats(d: np.ndarray, sur) -> dict:
    """{output: {parameter: {"median", "positive"}}} of (N, n_out, n_params) partials."""
    return {
        o: {
            p_: {
                "median": float(np.median(d[:, k, i])),
                "positive": float((d[:, k, i] > 0).mean()),
            }
            for i, p_ in enumerate(sur.parameter_names)
        }
        for k, o in enumerate(sur.output_names)
    }


def derivative_report(
    sur, n: int = 500_000, seed: int = 0, batch: int = 20000, paper: bool | None = None
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Derivative statistics over n uniform samples of the surrogate's training box, kept where
    the predicted output lies in the model's declared output domain (all samples when it
    declares none): medians and fractions positive of the scaled first and second partials of
    every output by every parameter. Returns (report, first, second) with the kept samples'
    partials (N, n_out, n_params).

    ``paper``: also the statistics of Zhang, Young & Lai 2020 that need the circuit's names
    (sign correlations of r_I's partials by S_IE_rel, S_II_rel, eta_ext_I_rel and logistic
    regressions of sign(d r_I / d eta_ext_I_rel)): True requires them (DerivativeError
    without those names), None includes them when the surrogate has the names, False never."""
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise DerivativeError(f"n={n!r}; allowed: an integer >= 1 (samples)")
    if paper:
        _require(sur, PAPER_PARAMETERS, PAPER_OUTPUTS, "the paper's sign statistics")
    with_paper = paper is not False and all(
        k in sur.parameter_names for k in PAPER_PARAMETERS
    ) and all(k in sur.output_names for k in PAPER_OUTPUTS)
    dom = _domain(sur)
    p = sample_domain(sur, n, seed)
    o = sur.predict(p)
    keep = np.ones(len(p), dtype=bool) if dom is None else dom.contains(o, sur.output_names)
    if not keep.any():
        raise DerivativeError(
            f"none of the {n} samples has a predicted output in the output domain "
            f"{dom.inside} ({dom.description or dom.as_dict()}); sample more (n)"
        )
    p, o = p[keep], o[keep]
    d1, d2 = scaled_partials(sur, p, batch)
    out = {
        "n_sampled": int(n),
        "output_domain": None if dom is None else dom.inside,
        "n_kept": int(keep.sum()),
        "fraction_kept": float(keep.mean()),
        "first": _partial_stats(d1, sur),
        "second": _partial_stats(d2, sur),
    }
    if dom is not None:  # the names the circuit's report has always used
        out[f"n_{dom.inside}"] = out["n_kept"]
        out[f"fraction_{dom.inside}"] = out["fraction_kept"]
    if with_paper:
        names = sur.parameter_names
        j = [names.index(k) for k in PAPER_PARAMETERS]
        r_i = sur.output_names.index("r_I")
        out["sign_correlation_r_I"] = {
            "names": list(PAPER_PARAMETERS),
            "matrix": sign_correlation(d1[:, r_i][:, j]).tolist(),
        }
        target = d1[:, r_i, names.index("eta_ext_I_rel")]
        if len(np.unique(target > 0)) == 2:
            a = logistic_sign_model(p, target, names, seed)
            b = logistic_sign_model(
                np.column_stack([p, o]), target, names + sur.output_names, seed
            )
            out["logistic"] = {
                "on_P": {
                    "accuracy": a.accuracy,
                    "importance": dict(zip(a.names, a.importance.tolist(), strict=True)),
                },
                "on_P_and_O": {
                    "accuracy": b.accuracy,
                    "importance": dict(zip(b.names, b.importance.tolist(), strict=True)),
                },
            }
    return out, d1, d2


@dataclass
class GainCurves:
    """Zhang, Young & Lai 2020, Fig. 7: curvature of r_E(eta_ext_E) on its low and high
    firing ranges."""

    p_minus: np.ndarray  # (K, n_params) plausible parameter sets (eta_ext_E column unused)
    m1: np.ndarray  # mean of 1/2 r'' eta30^2 where r_E in [5, 15] Hz
    m2: np.ndarray  # the same where r_E in [20, 30] Hz
    n_sampled: int

    @property
    def sigmoidal(self) -> np.ndarray:
        """Accelerating at low rates and decelerating at high ones."""
        return (self.m1 > 0) & (self.m2 < 0)


def gain_curve_study(sur, n: int = 2000, grid: int = 300, seed: int = 0) -> GainCurves:
    """Sample n parameter sets P^- (everything but eta_ext_E), trace r_E over eta_ext_E's range
    with the surrogate, keep the plausible ones (the curve reaches 30 Hz, and the output is in O
    wherever 5 <= r_E <= 30 Hz) and compute m1, m2 by finite differences on the (smooth)
    surrogate curve, normalized by eta_30, the drive at which r_E = 30 Hz. Needs a surrogate
    with the parameter eta_ext_E and the output r_E (DerivativeError otherwise); the output
    domain is the one the model declares (none: every curve passes that test)."""
    _require(sur, ("eta_ext_E",), ("r_E",), "the gain-curve study")
    dom = _domain(sur)
    j = sur.parameter_names.index("eta_ext_E")
    e = sur.output_names.index("r_E")
    lo, hi = sur.domain[j]
    eta = np.linspace(lo, hi, grid)
    h = eta[1] - eta[0]
    base = sample_domain(sur, n, seed)
    pts = np.repeat(base, grid, axis=0)
    pts[:, j] = np.tile(eta, n)
    o = sur.predict(pts).reshape(n, grid, -1)
    r_e = o[..., e]
    keep, m1, m2 = [], [], []
    for k in range(n):
        r = r_e[k]
        above = np.flatnonzero(r >= 30.0)
        if len(above) == 0 or above[0] == 0:
            continue
        a = above[0]
        eta30 = eta[a - 1] + (30.0 - r[a - 1]) / (r[a] - r[a - 1]) * h
        band = (r >= 5.0) & (r <= 30.0)
        if dom is not None and not np.all(dom.contains(o[k][band], sur.output_names)):
            continue
        d2 = np.gradient(np.gradient(r, h), h)
        low, high = (r >= 5.0) & (r <= 15.0), (r >= 20.0) & (r <= 30.0)
        if not low.any() or not high.any():
            continue
        keep.append(k)
        m1.append(0.5 * np.mean(d2[low]) * eta30**2)
        m2.append(0.5 * np.mean(d2[high]) * eta30**2)
    return GainCurves(base[keep], np.array(m1), np.array(m2), n)
