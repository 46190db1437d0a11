"""DNN surrogates: fitting a known map, reproducibility, safe persistence, honest errors."""

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroscape.cli.main import main  # noqa: E402
from neuroscape.core.settings import SimSettings  # noqa: E402
from neuroscape.explore import ModelStore, run_sweep  # noqa: E402
from neuroscape.models import get_spec  # noqa: E402
from neuroscape.surrogate import (  # noqa: E402
    SurrogateConfig,
    SurrogateError,
    load_surrogate,
    train_from_db,
    train_surrogate,
)

# trains networks (a shared fixture of 24 s, then more training per test): all slow
pytestmark = pytest.mark.slow


DOMAIN = np.array([[0.0, 1.0], [-2.0, 2.0], [10.0, 20.0]])
SMALL = dict(hidden=(64, 64), max_epochs=400, patience=40, batch_size=64)


def _truth(x):
    u = (x - DOMAIN[:, 0]) / (DOMAIN[:, 1] - DOMAIN[:, 0])
    return np.column_stack([np.sin(3 * u[:, 0]) + u[:, 1] ** 2, 5 * u[:, 2] * u[:, 0] + 1])


def _fit(seed=0, n=1500, **kw):
    rng = np.random.default_rng(1)
    x = DOMAIN[:, 0] + (DOMAIN[:, 1] - DOMAIN[:, 0]) * rng.random((n, 3))
    cfg = SurrogateConfig(seed=seed, **{**SMALL, **kw})
    return train_surrogate(
        x,
        _truth(x),
        DOMAIN,
        model="toy",
        model_version="1",
        parameter_names=["a", "b", "c"],
        output_names=["y1", "y2"],
        config=cfg,
    )


@pytest.fixture(scope="module")
def toy():
    return _fit()


def test_fits_a_known_smooth_map(toy):
    rng = np.random.default_rng(2)
    x = DOMAIN[:, 0] + (DOMAIN[:, 1] - DOMAIN[:, 0]) * rng.random((2000, 3))
    y = _truth(x)
    err = np.abs(toy.predict(x) - y).mean(0)
    assert np.all(err < 0.05 * y.std(0)), err  # far better than predicting the mean


@pytest.mark.slow  # trains a network
def test_an_output_undefined_in_part_of_the_box_leaves_the_other_outputs_whole():
    """y2 is undefined (NaN) where a < 0.5 (as an ISI CV is where a cell fires once): y1 is
    still fitted over the whole box, and y2 where it is defined."""
    rng = np.random.default_rng(1)
    x = DOMAIN[:, 0] + (DOMAIN[:, 1] - DOMAIN[:, 0]) * rng.random((1500, 3))
    y = _truth(x)
    y[x[:, 0] < 0.5, 1] = np.nan
    sur = train_surrogate(x, y, DOMAIN, model="toy", model_version="1",
                          parameter_names=["a", "b", "c"], output_names=["y1", "y2"],
                          config=SurrogateConfig(seed=0, **SMALL))  # fmt: skip
    xt = DOMAIN[:, 0] + (DOMAIN[:, 1] - DOMAIN[:, 0]) * np.random.default_rng(2).random((2000, 3))
    truth, pred = _truth(xt), sur.predict(xt)
    low = xt[:, 0] < 0.5  # the part where y2 was undefined: y1 is as good there as elsewhere
    assert np.abs(pred[low, 0] - truth[low, 0]).mean() < 0.05 * truth[:, 0].std()
    high = ~low
    assert np.abs(pred[high, 1] - truth[high, 1]).mean() < 0.05 * truth[high, 1].std()
    assert sur.provenance["n_dropped_nonfinite"] == 0
    assert sur.provenance["n_undefined_outputs"] == {"y2": int((x[:, 0] < 0.5).sum())}


def test_same_seed_same_network_and_save_load_round_trip(tmp_path, toy):
    x = DOMAIN.mean(1)[None, :] + 0.1
    again = _fit()
    np.testing.assert_array_equal(again.predict(x), toy.predict(x))
    assert not np.array_equal(_fit(seed=1, max_epochs=20).predict(x), toy.predict(x))
    toy.save(tmp_path / "s")
    loaded = load_surrogate(tmp_path / "s")
    np.testing.assert_array_equal(loaded.predict(x), toy.predict(x))
    meta = json.loads((tmp_path / "s" / "surrogate.json").read_text())
    assert meta["domain"] == DOMAIN.tolist() and meta["config"]["hidden"] == [64, 64]
    with np.load(tmp_path / "s" / "weights.npz", allow_pickle=False) as z:
        assert all(z[k].dtype == np.float32 for k in z.files)


def test_ensemble_gives_a_spread_and_gradients_flow():
    ens = _fit(ensemble=3, max_epochs=60)
    x = DOMAIN.mean(1)[None, :]
    mean, std = ens.predict(x, return_std=True)
    assert np.all(std > 0)
    p = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    ens.forward(p).sum().backward()
    assert torch.all(torch.isfinite(p.grad)) and p.grad.abs().sum() > 0


def test_inputs_outside_the_training_domain_are_refused_or_flagged(toy):
    bad = np.array([[0.5, 0.0, 25.0]])
    with pytest.raises(SurrogateError, match=r"c=25 is outside the training domain \[10, 20\]"):
        toy.predict(bad)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        toy.predict(bad, allow_outside=True)
    assert any("extrapolating" in str(m.message) for m in w)
    with pytest.raises(SurrogateError, match="takes 3 parameters"):
        toy.predict(np.zeros((1, 7)))


def test_bad_configurations():
    with pytest.raises(SurrogateError, match="unknown activation 'swish'"):
        _fit(activation="swish")
    with pytest.raises(SurrogateError, match="usable"):
        _fit(n=5)


@pytest.mark.slow  # a circuit sweep, then training
def test_trained_on_a_circuit_sweep_beats_the_mean(tmp_path):
    db = tmp_path / "runs.db"
    run_sweep(
        "cortical",
        256,
        db,
        sampler="uniform",
        progress=False,
        settings=SimSettings(duration_ms=600.0, window_ms=400.0),
    )
    cfg = SurrogateConfig(hidden=(64, 64), max_epochs=1500, patience=150, batch_size=32, lr=3e-3)
    sur = train_from_db(db, tmp_path / "sur", n=200, config=cfg)
    store = ModelStore(db, get_spec("cortical"))
    _, rows = store.query("SELECT * FROM runs ORDER BY row_index")
    cols, _ = store.query("SELECT * FROM runs LIMIT 0")
    store.close()
    data = np.array(
        [[r[cols.index(c)] for c in sur.parameter_names + sur.output_names] for r in rows],
        dtype=float,
    )
    p, y = data[:, :7], data[:, 7:]
    mae = np.abs(sur.predict(p) - y).mean(0)
    baseline = np.abs(y - y.mean(0)).mean(0)
    assert np.all(mae < 0.6 * baseline), (mae, baseline)
    assert sur.provenance["n_runs_used"] == 200 and sur.provenance["sweeps"][0]["n"] == 256


def test_failed_only_database_is_refused(tmp_path):
    spec = get_spec("cortical")
    db = tmp_path / "failed.db"
    store = ModelStore(db, spec, writer=True)
    sid = store.open_sweep(
        {
            "model": "cortical",
            "model_version": "1",
            "space": "{}",
            "sampler": "uniform",
            "n": 2,
            "sample_seed": 0,
        },
        {"seed": 0, "duration_ms": 1.0, "dt_ms": 0.1, "window_ms": 1.0, "integrator": "midpoint"},
    )
    p = np.tile(spec.params_from_mapping({}), (2, 1))
    store.write_chunk(
        sid,
        np.arange(2),
        p,
        np.full((2, 2), np.nan),
        np.zeros(2, bool),
        ["boom", "boom"],
        [None, None],
        0.1,
    )
    store.close()
    with pytest.raises(SurrogateError, match=r"no successful runs to train on \(2 failed\)"):
        train_from_db(db)


@pytest.fixture(scope="module")
def cli_surrogate(tmp_path_factory):
    """A small circuit sweep and a 2-member surrogate trained on it, both through the CLI."""
    d = tmp_path_factory.mktemp("cli")
    db = str(d / "runs.db")
    short = ["--duration-ms", "300", "--window-ms", "200", "--quiet"]
    assert main(["sweep", "cortical", "--n", "64", "--db", db, *short]) == 0
    assert (
        main(
            [
                "surrogate",
                "train",
                "--db",
                db,
                "--out",
                str(d / "sur"),
                "--hidden",
                "32,32",
                "--epochs",
                "30",
                "--ensemble",
                "2",
            ]
        )
        == 0
    )
    return d / "sur"


def test_cli_train_and_predict(tmp_path, capsys, cli_surrogate):
    names = get_spec("cortical").parameter_names
    (tmp_path / "in.csv").write_text(",".join(names) + "\n0.025,2,0.3,0.7,0.5,1500,4\n")
    assert (
        main(
            [
                "surrogate",
                "predict",
                str(cli_surrogate),
                "--params",
                str(tmp_path / "in.csv"),
                "--out",
                str(tmp_path / "out.csv"),
            ]
        )
        == 0
    )
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].endswith("r_E,r_I,r_E_std,r_I_std") and len(lines) == 2
    args = ["surrogate", "predict", str(cli_surrogate), "--params", str(tmp_path / "in.csv")]
    assert main([*args, "--out", str(tmp_path / "bf.csv"), "--precision", "bfloat16"]) == 0
    f32 = np.array(lines[1].split(","), float)
    bf = np.array((tmp_path / "bf.csv").read_text().splitlines()[1].split(","), float)
    assert np.allclose(bf, f32, rtol=0.02, atol=0.05) and not np.array_equal(bf, f32)
    # a table of another model's parameters is refused with one line
    (tmp_path / "hh.csv").write_text("g_Na,g_K\n120,36\n")
    capsys.readouterr()
    assert (
        main(
            [
                "surrogate",
                "predict",
                str(cli_surrogate),
                "--params",
                str(tmp_path / "hh.csv"),
                "--out",
                str(tmp_path / "o2.csv"),
            ]
        )
        == 2
    )
    assert "unknown column 'g_Na'" in capsys.readouterr().err


def test_tuning_reaches_reachable_targets_and_reports_unreachable_ones(toy):
    from neuroscape.surrogate.tune import tune

    # a reachable target: the surrogate's own output at a point of the domain
    target = dict(zip(["y1", "y2"], toy.predict(np.array([[0.3, 0.5, 15.0]]))[0], strict=True))
    res = tune(toy, target, starts=50, steps=1500, lr=0.02, tol=0.05)
    assert res.success_fraction >= 0.9
    assert np.all(res.params >= DOMAIN[:, 0]) and np.all(res.params <= DOMAIN[:, 1])
    # the solution set is a manifold, not a point: candidates spread in parameter space
    assert np.ptp(res.params[res.candidate][:, 2]) > 1.0
    far = tune(toy, {"y2": 1000.0}, starts=10, steps=300)
    assert far.success_fraction == 0.0 and far.gap_l1.min() > 100
    with pytest.raises(SurrogateError, match="allowed: y1, y2"):
        tune(toy, {"r_E": 3.0})


def test_cli_tune_with_verification(tmp_path, capsys, cli_surrogate):
    # a target the surrogate reaches by construction: its own prediction at the defaults
    sur = load_surrogate(cli_surrogate)
    r_e, r_i = sur.predict(get_spec("cortical").params_from_mapping({}))[0]
    capsys.readouterr()
    rc = main(
        [
            "tune",
            "--surrogate",
            str(cli_surrogate),
            "--target",
            f"r_E={r_e}",
            f"r_I={r_i}",
            "--starts",
            "8",
            "--steps",
            "400",
            "--lr",
            "0.03",
            "--tol",
            "0.5",
            "--verify",
            "--out",
            str(tmp_path / "cand.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "starts reached" in out and "simulated: median |error|" in out
    rows = (tmp_path / "cand.csv").read_text().splitlines()
    assert rows[0].endswith("r_E_sim,r_I_sim") and len(rows) >= 2


def test_learning_rate_decays_on_plateaus_only_when_asked():
    plain = _fit(n=300, max_epochs=60, patience=60, lr_decay_patience=0)
    decayed = _fit(n=300, max_epochs=60, patience=60, lr_decay_patience=2)
    lr = SurrogateConfig().lr
    assert plain.metrics["members"][0]["final_lr"] == lr
    assert decayed.metrics["members"][0]["final_lr"] < lr


def test_bfloat16_hidden_layers_stay_close_to_float32(toy):
    rng = np.random.default_rng(5)
    x = DOMAIN[:, 0] + (DOMAIN[:, 1] - DOMAIN[:, 0]) * rng.random((4000, 3))
    f32 = toy.predict(x)
    d = np.abs(toy.predict(x, precision="bfloat16") - f32)
    assert d.max() > 0  # the hidden layer really ran in bfloat16
    # bfloat16 keeps about 3 significant digits; the first and last layers stay float32
    assert np.all(d.mean(0) < 0.01 * f32.std(0)), d.mean(0) / f32.std(0)
    with pytest.raises(SurrogateError, match="'float16'.*allowed: float32, bfloat16"):
        toy.predict(x, precision="float16")
    gelu = _fit(n=100, activation="gelu", max_epochs=2)
    with pytest.raises(SurrogateError, match="allows only float32"):
        gelu.predict(x, precision="bfloat16")
    assert np.isfinite(gelu.predict(x)).all()  # float32 falls back to the module's forward


def test_bfloat16_without_hardware_support_warns(toy, monkeypatch):
    import neuroscape.surrogate.core as core

    x = DOMAIN[:, 0] + (DOMAIN[:, 1] - DOMAIN[:, 0]) * np.random.default_rng(6).random((10, 3))
    monkeypatch.setattr(core, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no bfloat16 hardware"):
        toy.predict(x, precision="bfloat16")
    monkeypatch.setattr(core, "cpu_has_native_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        toy.predict(x, precision="bfloat16")
