import re

import numpy as np
import pytest

pytest.importorskip("torch")

from neuroscape.models import get_spec  # noqa: E402
from neuroscape.surrogate import SurrogateConfig, SurrogateError  # noqa: E402
from neuroscape.surrogate.accuracy import learning_curve, noise_floor  # noqa: E402

DOMAIN = np.array([[0.0, 1.0], [0.0, 1.0]])


def _data(n, seed):
    x = np.random.default_rng(seed).random((n, 2))
    return x, np.column_stack([np.sin(4 * x[:, 0]) * x[:, 1], np.exp(x[:, 0] - x[:, 1])])


@pytest.mark.slow  # trains a network per training-set size
def test_test_error_falls_with_the_training_set_as_a_power_law():
    tp, to = _data(2000, 0)
    sp, so = _data(1000, 1)
    cfg = SurrogateConfig(hidden=(32, 32), activation="tanh", max_epochs=300, patience=30)
    lc = learning_curve(
        tp,
        to,
        sp,
        so,
        DOMAIN,
        [50, 200, 1600],
        parameter_names=["a", "b"],
        output_names=["u", "v"],
        config=cfg,
    )
    assert np.all(lc.mae[-1] < lc.mae[0] / 3)
    assert np.all(lc.power_law() < -0.3)
    with pytest.raises(SurrogateError, match=r"training sizes must lie in \[10, 2000\]"):
        learning_curve(
            tp,
            to,
            sp,
            so,
            DOMAIN,
            [5000],
            parameter_names=["a", "b"],
            output_names=["u", "v"],
            config=cfg,
        )


def test_noise_floor_of_the_circuit_is_small_but_positive():
    lo, hi = get_spec("cortical").bounds.T
    p = lo + (hi - lo) * np.random.default_rng(0).random((16, 7))
    floor = noise_floor("cortical", p, duration_ms=600.0, window_ms=400.0)
    assert np.all(floor > 0) and np.all(floor < 5.0)


def test_cli_accuracy(tmp_path, capsys):
    from neuroscape.cli.main import main

    short = ["--duration-ms", "300", "--window-ms", "200", "--quiet"]
    train, test = str(tmp_path / "train.db"), str(tmp_path / "test.db")
    assert main(["sweep", "cortical", "--n", "96", "--db", train, *short]) == 0
    assert main(["sweep", "cortical", "--n", "32", "--db", test, "--sample-seed", "5", *short]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "surrogate",
                "accuracy",
                "--db",
                train,
                "--test-db",
                test,
                "--sizes",
                "24,96",
                "--hidden",
                "16",
                "--epochs",
                "20",
                "--lr-decay-from-n",
                "96",
                "--out",
                str(tmp_path / "acc"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"n=24: test MAE r_E [0-9.]+ Hz, r_I [0-9.]+ Hz", out)
    assert "power-law exponents" in out
    rows = (tmp_path / "acc" / "learning_curve.csv").read_text().splitlines()
    assert rows[0] == "n,mae_r_E_Hz,mae_r_I_Hz,rmse_r_E_Hz,rmse_r_I_Hz" and len(rows) == 3


def test_learning_rate_halving_applies_only_from_its_training_set_size():
    tp, to = _data(200, 0)
    sp, so = _data(100, 1)
    cfg = SurrogateConfig(hidden=(8,), max_epochs=3, patience=3)
    kw = dict(parameter_names=["a", "b"], output_names=["u", "v"], config=cfg)
    on = learning_curve(tp, to, sp, so, DOMAIN, [50, 200], lr_decay_from_n=100, **kw)
    off = learning_curve(tp, to, sp, so, DOMAIN, [50, 200], lr_decay_from_n=201, **kw)
    assert on.surrogate.config.lr_decay_patience == 20  # n = 200 >= 100
    assert off.surrogate.config.lr_decay_patience == 0
