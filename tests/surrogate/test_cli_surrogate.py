"""surrogate train|predict|accuracy|analyze, tune and reproduce through the CLI: units, warnings
on useless surrogates, progress, Ctrl-C, atomic folders, the training runs' settings, and every
bad input refused with one line, exit status 2, and nothing written."""

import argparse
import json
import re
import sqlite3
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroscape.cli.main import build_parser, main  # noqa: E402
from neuroscape.core.stimuli import make_stimulus  # noqa: E402
from neuroscape.explore import ModelStore  # noqa: E402
from neuroscape.models import get_spec  # noqa: E402
from neuroscape.surrogate import (  # noqa: E402
    SurrogateConfig,
    SurrogateError,
    load_surrogate,
    simulation_settings,
    train_from_db,
    train_surrogate,
    training_data,
)
from neuroscape.testing import (  # noqa: E402
    assert_refused,
    options_without_a_stated_default,
    snapshot,
)
from neuroscape.testing import run_cli as run  # noqa: E402

SHORT = ["--duration-ms", "300", "--window-ms", "200", "--quiet"]
TINY = ["--hidden", "16", "--epochs", "30", "--quiet"]
GPU = torch.cuda.is_available()


def _store_runs(db, spec, params, outputs, ok, sweep_n=None, extra=None):
    """A database written directly (no simulation): a sweep holding the given runs."""
    store = ModelStore(db, spec, writer=True)
    try:
        sid = store.open_sweep(
            {
                "model": spec.name,
                "model_version": spec.version,
                "space": '{"bounds": {}, "fixed": {}, "log": [], "scale": 1.0}',
                "sampler": "uniform",
                "n": sweep_n or len(params),
                "sample_seed": 0,
            },
            {
                "seed": 0,
                "duration_ms": 300.0,
                "dt_ms": 0.1,
                "window_ms": 200.0,
                "integrator": "midpoint",
                "extra": extra,
            },
        )
        store.write_chunk(
            sid,
            np.arange(len(params)),
            params,
            outputs,
            ok,
            [None if o else "boom" for o in ok],
            [None] * len(params),
            0.01,
        )
    finally:
        store.close()


def _uniform(spec, n, seed):
    lo, hi = spec.bounds.T
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, len(lo)))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A circuit sweep, a 2-member surrogate of it, an Izhikevich database with two stimuli
    and a toy surrogate of no registered model, all made once."""
    d = tmp_path_factory.mktemp("sur")
    assert main(["sweep", "cortical", "--n", "64", "--db", str(d / "c.db"), *SHORT]) == 0
    argv = ["surrogate", "train", "--db", str(d / "c.db"), "--out", str(d / "sur")]
    assert main([*argv, *TINY, "--ensemble", "2"]) == 0
    iz = ["sweep", "izhikevich", "--db", str(d / "iz.db"), "--duration-ms", "300", "--quiet"]
    assert main([*iz, "--n", "32", "--current", "10"]) == 0
    assert main([*iz, "--n", "16", "--current", "5"]) == 0
    x = np.random.default_rng(0).random((200, 2))
    toy = train_surrogate(
        x,
        x.sum(1, keepdims=True),
        np.array([[0.0, 1.0], [0.0, 1.0]]),
        model="toy",
        model_version="1",
        parameter_names=["a", "b"],
        output_names=["y"],
        config=SurrogateConfig(hidden=(8,), max_epochs=5),
    )
    toy.save(d / "toy")
    names = get_spec("cortical").parameter_names
    (d / "in.csv").write_text(",".join(names) + "\n0.025,2,0.3,0.7,0.5,1500,4\n")
    (d / "outside.csv").write_text(",".join(names) + "\n0.5,2,0.3,0.7,0.5,1500,4\n")
    (d / "text.csv").write_text(",".join(names) + "\n0.025,two,0.3,0.7,0.5,1500,4\n")
    (d / "latin1.csv").write_bytes((",".join(names) + "\n").encode() + b"\xe9\n")
    (d / "empty.csv").write_text("")
    (d / "hh.csv").write_text("g_Na,g_K\n120,36\n")
    (d / "junk.db").write_text("not sqlite\n")
    (d / "afile").write_text("x")
    (d / "notsur").mkdir()
    (d / "notsur" / "readme.txt").write_text("mine")
    return d


# --- a surrogate that barely beats the mean is reported -----------------------------------------


def test_a_surrogate_of_pure_noise_warns_with_the_outputs_units():
    # y independent of x: no predictor beats an MAE of sqrt(2/pi) = 0.8 SD of a normal output
    rng = np.random.default_rng(3)
    x = rng.random((400, 2))
    y = np.column_stack([x[:, 0] * 10.0, rng.normal(50.0, 20.0, 400)])
    with pytest.warns(UserWarning) as rec:
        train_surrogate(
            x,
            y,
            np.array([[0.0, 1.0], [0.0, 1.0]]),
            model="toy",
            model_version="1",
            parameter_names=["a", "b"],
            output_names=["smooth", "noise"],
            output_units=["mV", "Hz"],
            config=SurrogateConfig(
                hidden=(16,), max_epochs=60, patience=60, lr=1e-2, activation="tanh"
            ),
        )
    msgs = [str(w.message) for w in rec if "validation MAE" in str(w.message)]
    assert len(msgs) == 1 and "MAE of noise" in msgs[0] and msgs[0].count(" Hz") == 2, msgs
    assert "\n" not in msgs[0]


def test_training_on_runaway_runs_warns_and_uses_only_ok_runs(tmp_path):
    spec = get_spec("cortical")
    n = 300
    p = _uniform(spec, n, 1)
    rng = np.random.default_rng(2)
    # a smooth r_I; r_E at ~10 Hz except 30% runaway runs at ~900 Hz, at random points
    runaway = rng.random(n) < 0.3
    r_e = np.where(runaway, 900.0 + rng.normal(0, 5, n), 10.0 + rng.normal(0, 1, n))
    r_i = 20.0 + 40.0 * (p[:, 5] - 25.0) / 2975.0
    ok = np.ones(n, bool)
    ok[:20] = False  # failed runs with finite garbage outputs must never be trained on
    outputs = np.column_stack([np.where(ok, r_e, 1e6), r_i])
    _store_runs(tmp_path / "r.db", spec, p, outputs, ok)
    cfg = SurrogateConfig(hidden=(16,), max_epochs=60, patience=60, lr=1e-2, activation="tanh")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sur = train_from_db(tmp_path / "r.db", config=cfg)
    msgs = [str(w.message) for w in rec if "validation MAE" in str(w.message)]
    assert len(msgs) == 1 and "MAE of r_E" in msgs[0] and msgs[0].count(" Hz") == 2, msgs
    assert sur.provenance["n_runs_used"] == n - 20 and sur.provenance["n_failed_in_db"] == 20
    assert max(sur.y_mean) < 1e5  # the 1e6 outputs of failed runs were left out


def test_the_cli_reports_the_validation_error_with_units_and_shows_progress(made, tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["surrogate", "train", "--db", str(made / "c.db"), "--out", str(out)]
    rc, _, err = run([*argv, "--hidden", "8", "--epochs", "3"], capsys)
    assert rc == 0 and "epoch" in err  # the progress bar
    assert "validation MAE: r_E " in err and err.count(" Hz") >= 4
    rc, _, err = run([*argv, "--hidden", "8", "--epochs", "3", "--quiet"], capsys)
    assert rc == 0 and "epoch" not in err  # --quiet; the same folder is replaced
    meta = json.loads((out / "surrogate.json").read_text())
    assert meta["output_units"] == ["Hz", "Hz"] and meta["parameter_units"][5] == "Hz"


# --- Ctrl-C and interrupted saves ---------------------------------------------------------------


def test_ctrl_c_during_training_leaves_no_folder(made, tmp_path, capsys, monkeypatch):
    calls = []
    real = torch.optim.Adam.step

    def step(self, *a, **k):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    argv = ["surrogate", "train", "--db", str(made / "c.db"), "--out", str(tmp_path / "s")]
    rc, _, err = run([*argv, *TINY], capsys)
    assert rc == 130 and err.count("\n") == 1 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_saving_keeps_the_earlier_surrogate_whole(made, tmp_path, capsys, monkeypatch):
    out = tmp_path / "s"
    argv = ["surrogate", "train", "--db", str(made / "c.db"), "--out", str(out), *TINY]
    assert run(argv, capsys)[0] == 0
    before = snapshot(out)
    real = np.savez

    def half_written(path, **arrays):
        real(path, **dict(list(arrays.items())[:1]))
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", half_written)
    rc, _, _ = run([*argv[: -len(TINY)], "--hidden", "8", "--epochs", "3", "--quiet"], capsys)
    assert rc == 130
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    load_surrogate(out)  # still whole


def test_a_folder_of_other_files_is_refused_before_training(made, capsys, monkeypatch):
    import neuroscape.surrogate as api

    monkeypatch.setattr(api, "train_surrogate", lambda *a, **k: pytest.fail("trained"))
    argv = ["surrogate", "train", "--db", str(made / "c.db"), "--out", str(made / "notsur")]
    rc, _, err = run([*argv, *TINY], capsys)
    assert_refused(rc, err, "holds other files (readme.txt)")


# --- sweeps of different settings, and the settings of the training runs ------------------------


def test_a_database_of_two_stimuli_is_not_pooled(made):
    with pytest.raises(SurrogateError, match="holds 2 groups of sweeps with different settings"):
        training_data(made / "iz.db")
    spec, p, o, domain, prov = training_data(made / "iz.db", group=2)
    con = sqlite3.connect(made / "iz.db")
    n_ok = con.execute("SELECT COUNT(*) FROM runs WHERE sweep_id = 2 AND status = 'ok'")
    assert len(p) == n_ok.fetchone()[0] <= 16
    con.close()
    kw = simulation_settings(prov)
    assert kw["duration_ms"] == 300.0 and kw["stimulus"].kind == "step"
    assert np.asarray(kw["stimulus"].values)[0, 0] == 5.0  # the current of sweep 2
    with pytest.raises(SurrogateError, match="group=3; allowed: 1, 2"):
        training_data(made / "iz.db", group=3)


def test_verification_simulates_with_the_training_runs_settings(made):
    from neuroscape.api import simulate
    from neuroscape.surrogate.tune import tune, verify

    sur = load_surrogate(made / "sur")
    kw = simulation_settings(sur.provenance)
    assert (kw["duration_ms"], kw["window_ms"]) == (300.0, 200.0)  # the sweep's, not 3000/2000
    reachable = sur.predict(_uniform(get_spec("cortical"), 1, 4))[0]
    target = dict(zip(sur.output_names, reachable, strict=True))
    res = tune(sur, target, starts=4, steps=200, tol=50.0)
    verify(res, sur, seed=0, **kw)
    direct = simulate("cortical", res.params[res.candidate], seed=0, allow_outside=True, **kw)
    np.testing.assert_array_equal(res.simulated, direct.outputs)
    assert make_stimulus  # imported for the neuron case above


def test_tune_prints_every_number_with_its_unit(made, tmp_path, capsys):
    sur = load_surrogate(made / "sur")
    r_e, r_i = sur.predict(get_spec("cortical").params_from_mapping({}))[0]
    rc, out, err = run(
        [
            "tune",
            "--surrogate",
            str(made / "sur"),
            "--target",
            f"r_E={r_e}",
            f"r_I={r_i}",
            "--starts",
            "8",
            "--steps",
            "300",
            "--tol",
            "1",
            "--out",
            str(tmp_path / "c.csv"),
        ],
        capsys,
    )
    assert rc == 0, err
    assert "reached an L1 gap < 1 Hz" in out
    assert re.search(r"eta_ext_E \[[0-9.e+]+, [0-9.e+]+ Hz\]", out)  # a parameter's unit
    assert re.search(r"S_EE \[[0-9.e+-]+, [0-9.e+-]+\]", out)  # dimensionless: bare
    assert "tune" in err  # the progress bar


# --- help, and the lists the CLI writes out ------------------------------------------------------


def test_help_states_every_default():
    commands = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    sur_cmds = next(
        a for a in commands["surrogate"]._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    parsers = [*sur_cmds.values(), commands["tune"], commands["reproduce"]]
    assert options_without_a_stated_default(parsers) == []


def test_the_cli_lists_agree_with_the_api():
    from neuroscape.cli import surrogate_cmds
    from neuroscape.surrogate import core

    assert surrogate_cmds.ACTIVATIONS == core.ACTIVATIONS
    assert surrogate_cmds.PRECISIONS == core.PRECISIONS


# --- every bad input: one line, exit 2, nothing written ------------------------------------------

TRAIN = ["surrogate", "train", "--db", "{d}/c.db", "--out", "new"]
PREDICT = ["surrogate", "predict", "{d}/sur", "--params", "{d}/in.csv", "--out", "p.csv"]
ACCURACY = ["surrogate", "accuracy", "--db", "{d}/c.db", "--test-db", "{d}/c.db", "--out", "acc"]
ANALYZE = ["surrogate", "analyze", "{d}/sur", "--out", "an", "--n", "100"]
TUNE = ["tune", "--surrogate", "{d}/sur", "--target", "r_E=10", "--steps", "5"]

BAD = [
    (TRAIN[:3] + ["{d}/none.db"] + TRAIN[4:], "does not exist"),
    (TRAIN[:3] + ["{d}/junk.db"] + TRAIN[4:], "not a neuroscape database"),
    (TRAIN[:3] + ["{d}/iz.db"] + TRAIN[4:], "holds 2 groups of sweeps"),
    (TRAIN[:5] + ["{d}/afile"], "is a file; expected a folder"),
    (TRAIN[:5] + ["{d}/notsur"], "holds other files (readme.txt)"),
    (TRAIN[:5] + ["/proc/sur"], "/proc/"),
    (TRAIN + ["--n", "0"], "'0': allowed an integer > 0"),
    (TRAIN + ["--n", "-5"], "'-5': allowed an integer > 0"),
    (TRAIN + ["--n", "nan"], "'nan' is not an integer > 0"),
    (TRAIN + ["--n", "100000"], "n=100000 but"),
    (TRAIN + ["--n", "5"], "at least 10 are needed"),
    (TRAIN + ["--group", "2"], "group=2; allowed: 1"),
    (TRAIN + ["--group", "0"], "'0': allowed an integer > 0"),
    (TRAIN + ["--hidden", "abc"], "--hidden 'abc': expected positive integers"),
    (TRAIN + ["--hidden", "0"], "--hidden '0': expected positive integers"),
    (TRAIN + ["--hidden", "8,-5"], "--hidden '8,-5': expected positive integers"),
    (TRAIN + ["--hidden", "8,,8"], "expected positive integers"),
    (TRAIN + ["--hidden", ""], "expected positive integers"),
    (TRAIN + ["--activation", "swish"], "invalid choice: 'swish'"),
    (TRAIN + ["--epochs", "0"], "'0': allowed an integer > 0"),
    (TRAIN + ["--epochs", "inf"], "'inf' is not an integer > 0"),
    (TRAIN + ["--patience", "0"], "'0': allowed an integer > 0"),
    (TRAIN + ["--ensemble", "0"], "'0': allowed an integer > 0"),
    (TRAIN + ["--lr", "0"], "'0': allowed a finite number > 0"),
    (TRAIN + ["--lr", "-0.001"], "'-0.001': allowed a finite number > 0"),
    (TRAIN + ["--lr", "nan"], "'nan': allowed a finite number > 0"),
    (TRAIN + ["--lr", "inf"], "'inf': allowed a finite number > 0"),
    (TRAIN + ["--batch-size", "0"], "'0': allowed an integer > 0"),
    (TRAIN + ["--lr-decay-patience", "-1"], "'-1': allowed an integer >= 0"),
    (TRAIN + ["--seed", "-1"], "'-1': allowed an integer >= 0"),
    (TRAIN + ["--device", "gpu"], "unknown device 'gpu'; allowed: cpu, cuda, cuda:N"),
    (TRAIN + ["--device", "cuda:99"], "device='cuda:99'"),
    (PREDICT[:2] + ["{d}/none"] + PREDICT[3:], "surrogate folder '"),
    (PREDICT[:2] + ["{d}/notsur"] + PREDICT[3:], "not a saved surrogate"),
    (PREDICT[:4] + ["{d}/none.csv"] + PREDICT[5:], "does not exist"),
    (PREDICT[:4] + ["{d}/notsur"] + PREDICT[5:], "is a folder; expected a CSV file"),
    (PREDICT[:4] + ["{d}/hh.csv"] + PREDICT[5:], "unknown column 'g_Na'"),
    (PREDICT[:4] + ["{d}/text.csv"] + PREDICT[5:], "S_EI_rel='two' is not a number"),
    (PREDICT[:4] + ["{d}/latin1.csv"] + PREDICT[5:], "not a UTF-8 text file"),
    (PREDICT[:4] + ["{d}/empty.csv"] + PREDICT[5:], "empty file"),
    (PREDICT[:4] + ["{d}/outside.csv"] + PREDICT[5:], "S_EE=0.5 is outside the training"),
    (PREDICT[:6] + ["p.txt"], "allowed suffixes .csv"),
    (PREDICT[:6] + ["missing/p.csv"], "does not exist"),
    (PREDICT[:6] + ["/proc/p.csv"], "/proc/"),
    (PREDICT + ["--device", "gpu"], "unknown device 'gpu'"),
    (PREDICT + ["--precision", "float16"], "invalid choice: 'float16'"),
    (ACCURACY[:3] + ["{d}/none.db"] + ACCURACY[4:], "does not exist"),
    (ACCURACY[:5] + ["{d}/junk.db"] + ACCURACY[6:], "not a neuroscape database"),
    (ACCURACY[:5] + ["{d}/iz.db", "--test-group", "1"] + ACCURACY[6:], "test database holds"),
    (ACCURACY + ["--sizes", "abc"], "--sizes 'abc': expected positive integers"),
    (ACCURACY + ["--sizes", "0"], "expected positive integers"),
    (ACCURACY + ["--sizes", "-20"], "expected positive integers"),
    (ACCURACY + ["--sizes", "5"], "training sizes must lie in [10, "),
    (ACCURACY + ["--sizes", "100000"], "training sizes must lie in [10, "),
    (ACCURACY + ["--hidden", "x"], "--hidden 'x'"),
    (ACCURACY + ["--activation", "swish"], "invalid choice: 'swish'"),
    (ACCURACY + ["--epochs", "0"], "'0': allowed an integer > 0"),
    (ACCURACY + ["--seed", "-1"], "'-1': allowed an integer >= 0"),
    (ACCURACY + ["--lr-decay-from-n", "0"], "'0': allowed an integer > 0"),
    (ACCURACY + ["--noise-floor", "-1"], "'-1': allowed an integer >= 0"),
    (ACCURACY + ["--group", "2"], "group=2; allowed: 1"),
    (ACCURACY[:7] + ["{d}/afile"], "is a file; expected a folder"),
    (ACCURACY[:7] + ["/proc/acc"], "/proc/"),
    (ANALYZE[:2] + ["{d}/none"] + ANALYZE[3:], "surrogate folder '"),
    (ANALYZE[:2] + ["{d}/toy"] + ANALYZE[3:] + ["--paper"], "needs S_IE_rel, S_II_rel"),
    (ANALYZE[:4] + ["{d}/afile"] + ANALYZE[5:], "is a file; expected a folder"),
    (ANALYZE[:4] + ["/proc/an"] + ANALYZE[5:], "/proc/"),
    (ANALYZE[:-1] + ["0"], "'0': allowed an integer > 0"),
    (ANALYZE[:-1] + ["-3"], "'-3': allowed an integer > 0"),
    (ANALYZE + ["--seed", "-1"], "'-1': allowed an integer >= 0"),
    (TUNE + ["--model", "cortical"], "--model: only used with --verify"),
    (TUNE + ["--verify", "--model", "izhikevich"], "model 'izhikevich' declares parameters"),
    (TUNE + ["--verify", "--model", "{d}/none.py:M"], "does not exist"),
    (TUNE[:2] + ["{d}/toy", "--target", "y=1", "--verify"], "recorded model 'toy' cannot be"),
    (ACCURACY + ["--model", "cortical"], "--model: only used with --noise-floor"),
    (ACCURACY + ["--noise-floor", "2", "--model", "hh"], "model 'hh' declares parameters"),
    (TUNE[:2] + ["{d}/none"] + TUNE[3:], "surrogate folder '"),
    (TUNE[:2] + ["{d}/notsur"] + TUNE[3:], "not a saved surrogate"),
    (TUNE[:4] + ["bogus=1"] + TUNE[5:], "allowed: r_E, r_I"),
    (TUNE[:4] + ["r_E"] + TUNE[5:], "expected NAME=NUMBER"),
    (TUNE[:4] + ["r_E=nan"] + TUNE[5:], "allowed a finite number"),
    (TUNE[:4] + ["r_E=inf"] + TUNE[5:], "allowed a finite number"),
    (TUNE[:4] + ["r_E=abc"] + TUNE[5:], "the value is not a number"),
    (TUNE + ["--starts", "0"], "'0': allowed an integer > 0"),
    (TUNE[:-1] + ["0"], "'0': allowed an integer > 0"),
    (TUNE + ["--lr", "0"], "'0': allowed a finite number > 0"),
    (TUNE + ["--lr", "nan"], "'nan': allowed a finite number > 0"),
    (TUNE + ["--tol", "0"], "'0': allowed a finite number > 0"),
    (TUNE + ["--tol", "-1"], "'-1': allowed a finite number > 0"),
    (TUNE + ["--tol", "inf"], "'inf': allowed a finite number > 0"),
    (TUNE + ["--seed", "-1"], "'-1': allowed an integer >= 0"),
    (TUNE + ["--out", "c.txt"], "allowed suffixes .csv"),
    (TUNE + ["--out", "missing/c.csv"], "does not exist"),
    (["reproduce", "nope", "--out", "rep"], "invalid choice: 'nope'"),
    (["reproduce", "zhang-young-2020", "--out", "rep", "--workers", "0"], "'0': allowed"),
    (["reproduce", "zhang-young-2020", "--out", "{d}/afile"], "is a file; expected a folder"),
    (["reproduce", "zhang-young-2020", "--out", "/proc/rep"], "/proc/"),
]
if not GPU:  # without a GPU, asking for one is refused; with one, it is a valid request
    BAD.append((TRAIN + ["--device", "cuda"], "no CUDA GPU is available"))


@pytest.mark.parametrize("argv,match", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_surrogate_commands_exit_2_with_one_line_and_write_nothing(
    made, tmp_path, capsys, monkeypatch, argv, match
):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path, made)
    rc, out, err = run([a.format(d=made) for a in argv], capsys)
    assert_refused(rc, err, match)
    assert out == ""
    assert snapshot(tmp_path, made) == before


def test_a_surrogate_saved_before_declarations_were_recorded_still_loads(made, tmp_path):
    """Format 1 held names and units only: the declaration of a model this neuroscape ships is
    taken from it (the circuit's O); a surrogate of no known model declares itself."""
    import shutil

    shutil.copytree(made / "sur", tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "surrogate.json").read_text())
    assert meta["format_version"] == 2 and meta["model_info"]["ref"] == "cortical"
    assert meta["model_info"]["spec"] == get_spec("cortical").to_dict()
    del meta["model_info"]
    meta["format_version"] = 1
    (tmp_path / "old" / "surrogate.json").write_text(json.dumps(meta))
    old = load_surrogate(tmp_path / "old")
    assert old.spec.output_domain == get_spec("cortical").output_domain
    assert old.model_info["ref"] == "cortical"
    toy = load_surrogate(made / "toy")  # trained from arrays under a name nothing declares
    assert toy.spec.parameter_names == ["a", "b"] and toy.spec.output_domain is None
    assert toy.spec.bounds.tolist() == [[0.0, 1.0], [0.0, 1.0]]


# --- a parameter fixed in every training sweep need not be repeated -----------------------------


def test_predict_fills_a_parameter_fixed_in_training_and_refuses_another_value(tmp_path, capsys):
    """A surrogate of a sweep with --fix c=-60 predicts from a table without c (c at its
    training value, said on stderr with its unit), equal to the table with c=-60 given; c at a
    value it never saw is refused in one line unless --allow-outside; a free column is still
    required."""
    db, sur = tmp_path / "iz.db", tmp_path / "sur"
    assert main(["sweep", "izhikevich", "--n", "64", "--db", str(db), "--duration-ms", "200",
                 "--current", "10", "--fix", "c=-60", "--quiet"]) == 0
    assert main(["surrogate", "train", "--db", str(db), "--out", str(sur), *TINY]) == 0
    assert load_surrogate(sur).provenance["fixed"] == {"c": -60.0}
    rows = "0.02,0.2,8\n0.1,0.25,2\n"
    (tmp_path / "free.csv").write_text("a,b,d\n" + rows)
    (tmp_path / "all.csv").write_text("a,b,c,d\n" + "".join(
        f"{r.split(',')[0]},{r.split(',')[1]},-60,{r.split(',')[2]}\n" for r in rows.split()))
    (tmp_path / "other.csv").write_text("a,b,c,d\n0.02,0.2,-50,8\n")
    (tmp_path / "nob.csv").write_text("a,d\n0.02,8\n")
    pred = ["surrogate", "predict", str(sur), "--out"]
    capsys.readouterr()
    rc, _, err = run([*pred, str(tmp_path / "p1.csv"), "--params", str(tmp_path / "free.csv")],
                     capsys)
    assert rc == 0 and "held at their training value: c=-60 mV" in err, err
    rc, _, _ = run([*pred, str(tmp_path / "p2.csv"), "--params", str(tmp_path / "all.csv")],
                   capsys)
    assert rc == 0
    p1 = np.genfromtxt(tmp_path / "p1.csv", delimiter=",", names=True)
    p2 = np.genfromtxt(tmp_path / "p2.csv", delimiter=",", names=True)
    assert p1.dtype.names == p2.dtype.names and np.all(p1["c"] == -60.0)
    for name in p1.dtype.names:
        np.testing.assert_array_equal(p1[name], p2[name])
    rc, _, err = run([*pred, str(tmp_path / "p3.csv"), "--params", str(tmp_path / "other.csv")],
                     capsys)
    assert_refused(rc, err, "c=-50 mV, but the surrogate was trained with c held at -60 mV")
    assert not (tmp_path / "p3.csv").exists()
    rc, _, _ = run([*pred, str(tmp_path / "p3.csv"), "--params", str(tmp_path / "other.csv"),
                    "--allow-outside"], capsys)
    assert rc == 0
    rc, _, err = run([*pred, str(tmp_path / "p4.csv"), "--params", str(tmp_path / "nob.csv")],
                     capsys)
    assert_refused(rc, err, "missing column(s) b")
