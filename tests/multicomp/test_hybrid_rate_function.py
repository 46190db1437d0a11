"""neuroscape.surrogate.hybrid with a small surrogate trained on made-up rates (fast): the map
read from the training network, refused in one line when that network has changed, and the
rate function's rows independent of the other rows in the call, clipped to the training box,
and equal to the surrogate's own prediction up to float32 rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroscape.models.multicomp.network import load_cell_network_model
from neuroscape.surrogate import SurrogateConfig, SurrogateError, train_surrogate
from neuroscape.surrogate.hybrid import RateFunction, load_hybrid_network

CELL = str(Path(__file__).resolve().parents[1] / "data" / "cells" / "ball_stick.yaml")
SYN = {"model": "expsyn", "tau": "2 ms", "e": "0 mV", "at": "dend(0.8)"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A training network (A alone, its input's rate a parameter), a surrogate of 'its' rate
    trained on the made-up map 0.5 rate (no simulation: only the bookkeeping is tested), and
    a hybrid network with A the surrogate and no map."""
    d = tmp_path_factory.mktemp("hyb")
    drive = {"target": "A", "rate": "rate", "n": 20, "weight": "0.005 uS", "synapse": SYN}
    train = {"name": "train_A", "populations": {"A": {"size": 4, "model": CELL}},
             "inputs": {"drive": drive},
             "parameters": {"rate": {"default": "20 Hz", "low": 5, "high": 40}},
             "settings": {"duration": "50 ms", "dt": "0.025 ms"}}  # fmt: skip
    (d / "train.yaml").write_text(yaml.safe_dump(train))
    model = load_cell_network_model(d / "train.yaml")
    x = np.linspace(5, 40, 60)[:, None]
    sur = train_surrogate(x, 0.5 * x, np.array([[5.0, 40.0]]), model=model,
                          parameter_names=["rate"], output_names=["rate_A"],
                          config=SurrogateConfig(hidden=(8,), activation="tanh", lr=1e-2,
                                                 max_epochs=200, patience=20))  # fmt: skip
    sur.save(d / "sur")
    hyb = {"name": "hyb", "populations": {"A": {"size": 3, "surrogate": "sur"},
                                          "B": {"size": 2, "model": CELL}},
           "projections": {"AB": {"pre": "A", "post": "B", "connect": "all_to_all",
                                  "weight": "0.004 uS", "delay": "1 ms", "synapse": SYN}},
           "inputs": {"in2": {**drive, "rate": "10 Hz", "n": 40, "weight": "0.0025 uS"}},
           "settings": {"duration": "50 ms", "dt": "0.025 ms"}}  # fmt: skip
    (d / "hybrid.yaml").write_text(yaml.safe_dump(hyb))
    return d


def test_the_map_comes_from_the_training_network(files):
    hyb = load_hybrid_network(files / "hybrid.yaml")
    (b,) = hyb.network.population("A").bindings
    assert (b.param, b.sources, b.n, b.weight) == ("rate", ("in2",), 20, 0.005)
    seen = []
    f = hyb.rate_fns["A"]
    hyb.rate_fns["A"] = lambda x: seen.append(x.copy()) or f(x)
    res = hyb.run(seed=1)
    # 40 sources at 10 Hz of 0.0025 uS = 20 sources at 10 Hz of 0.005 uS
    np.testing.assert_allclose(seen[0][:, 0], 10.0, rtol=1e-12)
    assert res.rates["A"].shape == (1,)


def test_a_changed_training_network_is_refused(files, tmp_path):
    import shutil

    for f in ("hybrid.yaml", "sur"):
        (shutil.copytree if f == "sur" else shutil.copy)(files / f, tmp_path / f)
    train = files / "train.yaml"
    text = train.read_text()
    try:
        train.write_text(text + "\n# changed\n")
        with pytest.raises(SurrogateError, match="has changed since") as e:
            load_hybrid_network(tmp_path / "hybrid.yaml")
        assert "\n" not in str(e.value) and "is not mapped" in str(e.value)
    finally:
        train.write_text(text)


def test_rate_function_rows_are_independent_and_clipped(files):
    from neuroscape.surrogate import load_surrogate

    f = RateFunction(load_surrogate(files / "sur"))
    x = np.array([[7.3], [12.0], [33.3], [50.0], [1.0], [12.0]])
    batch = f(x)
    alone = np.array([RateFunction(f.surrogate)(row[None, :])[0] for row in x])
    assert np.array_equal(batch, alone)  # bitwise
    assert f.clipped == 2  # 50 and 1 Hz
    assert batch[3] == f(np.array([[40.0]]))[0] and batch[4] == f(np.array([[5.0]]))[0]
    np.testing.assert_allclose(batch[:3], 0.5 * x[:3, 0], atol=1.0)  # it learned 0.5 rate
    # the float64 loops agree with torch's float32 prediction
    xin = np.clip(x, 5.0, 40.0)
    np.testing.assert_allclose(batch, f.surrogate.predict(xin)[:, 0], rtol=1e-5, atol=1e-5)
