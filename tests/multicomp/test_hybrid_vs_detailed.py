"""A hybrid network against the network of detailed cells (slow: ~1 min on 2 cores).

The surrogate of a population A of 16 ball-and-stick cells (A's rate against the rate of its
20 Poisson drive sources, 5-40 Hz) is trained on 200 runs of A alone; then the feed-forward
network drive -> A -> B (B: 16 detailed cells, all-to-all from A, with a background of their
own) runs with A detailed and with A the surrogate, at input rates not in the training set.
The rates of A and B (last 200 ms of 300) agree within 4 x the counting SD of the difference
of the means over 8 runs per rate: Poisson, sqrt(n_d + n_h) / (N T runs) for counts n, times
the square root of the Fano factor of the runs' population counts where it exceeds 1 (B's
cells share A's spikes, so their counts move together). The examples' script is the one run
here (examples/hybrid_network.py), with fewer runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hybrid_network.py"
TEST_RATES = [10.0, 20.0, 30.0]  # Hz per drive source
REPS = 8


def _example():
    spec = importlib.util.spec_from_file_location("hybrid_network_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    ex = _example()
    paths = ex.write_networks(tmp_path_factory.mktemp("hybrid"))
    sur, _, _ = ex.train(paths, runs=200, seed=0)
    res = ex.compare(paths, TEST_RATES, REPS, seed=1)
    return ex, paths, sur, res


def test_hybrid_rates_match_the_detailed_network(trained):
    ex, paths, sur, res = trained
    train_rates = 5.0 + 35.0 * (np.arange(200) + np.random.default_rng(0).random(200)) / 200
    assert not np.isin(TEST_RATES, train_rates).any()
    rows = ex.table(TEST_RATES, REPS, res)
    for r, d, h, tol in rows:
        assert d[0] > 3.0 and d[1] > 3.0  # both populations fire (Hz)
        for j, pop in enumerate("AB"):
            assert abs(d[j] - h[j]) <= tol[j], (r, pop, d[j], h[j], tol[j])
    # A's rate in the hybrid is the surrogate's prediction, up to Poisson counting
    for k, (_, _, h, tol) in enumerate(rows):
        assert abs(h[0] - res["predicted"][k]) <= tol[0]
    # the comparison can fail: A at 0.7 x the surrogate's rate is told apart
    hyb = _hybrid(paths)
    f = hyb.rate_fns["A"]
    hyb.rate_fns["A"] = lambda x: 0.7 * f(x)
    from neuroscape.sim.engine import run_batch

    params = np.repeat(TEST_RATES, REPS)[:, None]
    low = {"detailed": res["detailed"], "hybrid": run_batch(hyb.batch(), params, seed=1).outputs}
    wrong = [abs(d[0] - h[0]) > tol[0] for _, d, h, tol in ex.table(TEST_RATES, REPS, low)]
    assert sum(wrong) >= 2, wrong


def _hybrid(paths):
    from neuroscape.surrogate.hybrid import load_hybrid_network

    return load_hybrid_network(paths["hybrid"])


def test_the_map_is_read_from_the_training_network(trained):
    """The hybrid file names no map: the surrogate's one parameter, the rate of the training
    network's input, takes the input onto A, with the training input's n and weight."""
    _, paths, _, _ = trained
    (b,) = _hybrid(paths).network.population("A").bindings
    assert (b.param, b.sources, b.n, b.weight) == ("rate", ("drive",), 20, 0.005)


def test_hybrid_rows_do_not_depend_on_the_batch(trained):
    _, paths, _, _ = trained
    hyb = _hybrid(paths)
    params = np.array([[12.0], [27.0], [36.0]])
    full = hyb.run(params, seed=2, duration_ms=100.0)
    alone = _hybrid(paths).run(params[2:], seed=2, rows=np.array([2]), duration_ms=100.0)
    for pop in "AB":
        for a, b in zip(full.spikes[pop][2], alone.spikes[pop][0], strict=True):
            assert np.array_equal(a, b), pop
    assert sum(len(t) for t in full.spikes["A"][2]) > 10
