"""Decision models at their declared settings: long enough for the trials to finish, and a
warning (plus the 'undecided' label) when a run is too short."""

import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from neuroscape.core.settings import SimSettings, UnfinishedWarning
from neuroscape.models import get_model
from neuroscape.sim.engine import run_batch


@contextmanager
def no_unfinished_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnfinishedWarning)
        yield


def ddm_closed_forms(v, a, sigma, z):
    """P(upper) and mean decision time (s) of dx = v dt + sigma dW from x0 = z a between -a
    and +a. s(x) = exp(-2 v x / sigma^2) makes s(X_t) a martingale, so
    P(+a) = (s(x0) - s(-a)) / (s(a) - s(-a)); X_t - v t is a martingale, so
    x0 + v E[T] = E[X_T] = a P - a (1 - P)."""
    x0 = z * a
    k = 2 * v / sigma**2

    def s(x):
        return np.exp(-k * x)

    p = (s(x0) - s(-a)) / (s(a) - s(-a))
    t = (a * (2 * p - 1) - x0) / v
    return p, t


def test_ddm_default_settings_agree_with_the_closed_forms():
    v, a, sigma, z, n = 0.7, 1.2, 1.1, 0.3, 10_000
    p = np.tile([v, a, sigma, z, 0.0], (n, 1))
    with no_unfinished_warning():  # at the declared 10 s every trial decides: no warning
        res = run_batch(get_model("ddm"), p, seed=11)
    assert res.settings.duration_ms == 10_000.0
    choice, rt = res["choice"], res["rt"] * 1e-3  # ms -> s
    assert not np.isnan(choice).any() and set(res.labels) == {"choice 0", "choice 1"}
    p_th, t_th = ddm_closed_forms(v, a, sigma, z)
    assert 0.85 < p_th < 0.95 and 0.7 < t_th < 1.0  # the case is not degenerate
    se_p = np.sqrt(p_th * (1 - p_th) / n)
    se_t = rt.std(ddof=1) / np.sqrt(n)
    assert abs(choice.mean() - p_th) < 3 * se_p, (choice.mean(), p_th, se_p)
    assert abs(rt.mean() - t_th) < 3 * se_t, (rt.mean(), t_th, se_t)


def test_ddm_run_too_short_warns_once_with_the_fraction():
    # v = 0, a = 1, sigma = 1: E[T] = a^2 / sigma^2 = 1 s; after 0.2 s most trials are open
    p = np.tile([0.0, 1.0, 1.0, 0.0, 0.0], (400, 1))
    s = SimSettings(200.0, 1.0, 200.0, "euler")
    with pytest.warns(UnfinishedWarning) as rec:
        res = run_batch(get_model("ddm"), p, settings=s, chunk_size=64)
    assert len(rec) == 1  # once per batch, not per chunk
    undecided = np.isnan(res["choice"])
    frac = undecided.mean()
    assert frac > 0.5 and res.ok.all()
    assert [lab == "undecided" for lab in res.labels] == undecided.tolist()
    msg = str(rec[0].message)
    k = int(undecided.sum())
    assert f"ddm: {k} of 400 rows ({frac:.1%}) did not finish within the run" in msg
    assert "label 'undecided'" in msg and "increase duration_ms (now 200 ms)" in msg


def test_wong_wang_run_too_short_warns():
    p = np.tile(get_model("wong_wang").spec.params_array({})[0], (50, 1))
    with pytest.warns(UnfinishedWarning, match=r"wong_wang: \d+ of 50 rows .* increase duration"):
        res = run_batch(get_model("wong_wang"), p, settings=SimSettings(100.0, 0.5, 100.0, "euler"))
    assert "undecided" in res.labels
    # at the declared 3 s the default trials decide
    with no_unfinished_warning():
        res = run_batch(get_model("wong_wang"), p)
    assert not np.isnan(res["choice"]).any()
