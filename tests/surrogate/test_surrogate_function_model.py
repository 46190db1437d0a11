"""Surrogates of a model neuroscape does not ship: a FunctionModel in a file of the user's
(``smooth_model.py``: a closed form plus noise that depends on the row's seed), swept into a
database and taken through surrogate train|predict|accuracy|analyze and tune --verify from the
CLI. The verified outputs and the noise floor are compared with direct calls of the function,
not with neuroscape's own output; a changed model file and a model with another declaration are
refused with one line and exit status 2."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from neuroscape.cli.main import main  # noqa: E402
from neuroscape.core.rng import row_keys  # noqa: E402
from neuroscape.testing import assert_refused, snapshot  # noqa: E402
from neuroscape.testing import run_cli as run  # noqa: E402

HERE = Path(__file__).parent
TINY = ["--hidden", "16,16", "--activation", "tanh", "--lr", "0.01", "--epochs", "300", "--quiet"]


def _smooth():
    """The model file's own function and noise, imported as plain Python (not via neuroscape)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("smooth_model_truth", HERE / "smooth_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The model file copied to a folder of its own (a test changes it), a training sweep, a
    test sweep of other points, and a surrogate of the training sweep, all through the CLI."""
    d = tmp_path_factory.mktemp("fm")
    shutil.copy(HERE / "smooth_model.py", d / "model.py")
    ref = f"{d / 'model.py'}:MODEL"
    sweep = ["sweep", ref, "--sampler", "uniform", "--quiet", "--workers", "2"]
    assert main([*sweep, "--n", "120", "--db", str(d / "train.db")]) == 0
    assert main([*sweep, "--n", "24", "--db", str(d / "test.db"), "--sample-seed", "1"]) == 0
    argv = ["surrogate", "train", "--db", str(d / "train.db"), "--out", str(d / "sur")]
    assert main([*argv, *TINY]) == 0
    return d


def test_the_surrogate_records_the_declaration_and_the_file(made):
    meta = json.loads((made / "sur" / "surrogate.json").read_text())
    info = meta["model_info"]
    truth = _smooth()
    assert info["ref"] == f"{(made / 'model.py').resolve()}:MODEL"
    assert info["kind"] == "function"
    src = info["source"]
    assert src["file"] == str((made / "model.py").resolve()) and src["name"] == "MODEL"
    import hashlib

    assert src["sha256"] == hashlib.sha256((made / "model.py").read_bytes()).hexdigest()
    spec = info["spec"]
    assert [(p["name"], p["unit"]) for p in spec["parameters"]] == [("a", "mV"), ("b", "1")]
    assert [(o["name"], o["unit"]) for o in spec["outputs"]] == [("y", "Hz"), ("z", "1")]
    assert spec["output_domain"]["bounds"] == [["y", 0.2, 1.5]]
    assert spec["output_domain"]["inside"] == "plausible"
    assert truth.MODEL.spec.to_dict() == spec  # the file's own declaration, whole


def test_predict_needs_neither_the_registry_nor_the_model_file(made, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("b,a\n0.5,0.25\n-0.5,0.75\n")  # columns in any order
    moved = made / "model.py.away"
    (made / "model.py").rename(moved)  # reading the surrogate must not need the file
    try:
        rc, _, err = run(
            [
                "surrogate",
                "predict",
                str(made / "sur"),
                "--params",
                str(tmp_path / "in.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ],
            capsys,
        )
    finally:
        moved.rename(made / "model.py")
    assert rc == 0, err
    assert "units: a mV, y Hz" in err
    header, rows = _read_csv(tmp_path / "p.csv")
    assert header == ["a", "b", "y", "z"]
    assert rows[:, :2].tolist() == [[0.25, 0.5], [0.75, -0.5]]
    truth = np.array([[np.sin(2 * a) + b**2, a * b] for a, b in rows[:, :2]])
    # a small net on 120 runs: within a tenth of the outputs' range of the closed form
    assert np.all(np.abs(rows[:, 2:] - truth) < 0.15), (rows, truth)


def test_tune_verify_equals_direct_calls_of_the_function(made, tmp_path, capsys):
    truth = _smooth()
    out = tmp_path / "cand.csv"
    rc, stdout, err = run(
        [
            "tune",
            "--surrogate",
            str(made / "sur"),
            "--target",
            "y=0.9",
            "--starts",
            "6",
            "--steps",
            "150",
            "--tol",
            "0.5",
            "--seed",
            "3",
            "--verify",
            "--out",
            str(out),
            "--quiet",
        ],
        capsys,
    )
    assert rc == 0, err
    assert "simulated: median |error| y " in stdout and " Hz over " in stdout
    header, rows = _read_csv(out)
    assert header == ["a", "b", "y_pred", "z_pred", "gap_l1", "y_sim", "z_sim"]
    assert len(rows) >= 1
    # candidate r is row r of the verification run: the seed of the stream (3, r)
    keys = row_keys(3, np.arange(len(rows)))
    direct = np.array(
        [
            list(truth.smooth({"a": a, "b": b}, int(k)).values())
            for (a, b), k in zip(rows[:, :2], keys, strict=True)
        ]
    )
    np.testing.assert_allclose(rows[:, 5:], direct, rtol=0, atol=1e-12)
    # the noise really is the row's: another seed's would differ by more than that
    assert len({truth.noise(int(k)) for k in keys}) == len(keys)


def test_a_changed_model_file_is_refused_unless_given_again(made, tmp_path, capsys):
    path = made / "model.py"
    text = path.read_text()
    path.write_text(text + "\n# edited after the sweep\n")
    argv = [
        "tune",
        "--surrogate",
        str(made / "sur"),
        "--target",
        "y=0.9",
        "--starts",
        "2",
        "--steps",
        "5",
        "--tol",
        "5",
        "--verify",
    ]
    try:
        before = snapshot(made)
        rc, _, err = run(argv, capsys)
        assert_refused(rc, err, f"model file {path.resolve()} has changed")
        assert snapshot(made) == before
        # the user names the file as it is now: verified with it
        rc, stdout, err = run([*argv, "--model", f"{path}:MODEL", "--quiet"], capsys)
        assert rc == 0, err
        assert "simulated: median |error|" in stdout
    finally:
        path.write_text(text)


def test_a_model_with_another_declaration_is_refused(made, capsys):
    argv = [
        "tune",
        "--surrogate",
        str(made / "sur"),
        "--target",
        "y=0.9",
        "--steps",
        "5",
        "--verify",
        "--model",
        f"{made / 'model.py'}:OTHER",
    ]
    rc, _, err = run(argv, capsys)
    assert_refused(rc, err, "declares parameters a, c and outputs y, z; the surrogate was trained")
    acc = [
        "surrogate",
        "accuracy",
        "--db",
        str(made / "train.db"),
        "--test-db",
        str(made / "test.db"),
        "--noise-floor",
        "4",
        "--out",
        str(made / "never"),
        "--model",
        f"{made / 'model.py'}:OTHER",
    ]
    rc, _, err = run(acc, capsys)
    assert_refused(rc, err, "declares parameters a, c")
    assert not (made / "never").exists()


def test_accuracy_and_its_noise_floor_for_a_function_model(made, tmp_path, capsys):
    truth = _smooth()
    k = 6
    rc, stdout, err = run(
        [
            "surrogate",
            "accuracy",
            "--db",
            str(made / "train.db"),
            "--test-db",
            str(made / "test.db"),
            "--sizes",
            "30,100",
            "--hidden",
            "8",
            "--epochs",
            "5",
            "--noise-floor",
            str(k),
            "--out",
            str(tmp_path / "acc"),
            "--quiet",
        ],
        capsys,
    )
    assert rc == 0, err
    assert "n=30: test MAE y " in stdout and "n=100: test MAE y " in stdout
    # the floor from the function itself: the same rows under the seeds 1000 and 2000 differ
    # only in their noise, |e(k1) - e(k2)| in y and in z
    e1 = np.array([truth.noise(int(s)) for s in row_keys(1000, np.arange(k))])
    e2 = np.array([truth.noise(int(s)) for s in row_keys(2000, np.arange(k))])
    floor = np.abs(e1 - e2).mean()
    assert floor > 0
    line = next(x for x in stdout.splitlines() if x.startswith("noise floor"))
    assert line == f"noise floor (MAE between two noise seeds): y {floor:.3g} Hz, z {floor:.3g}"
    header, _ = _read_csv(tmp_path / "acc" / "learning_curve.csv")
    assert header[:2] == ["n", "mae_y_Hz"]


def test_analyze_keeps_the_samples_in_the_declared_output_domain(made, tmp_path, capsys):
    from neuroscape.analysis.derivatives import sample_domain
    from neuroscape.surrogate import load_surrogate

    rc, stdout, err = run(
        [
            "surrogate",
            "analyze",
            str(made / "sur"),
            "--n",
            "3000",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "an"),
        ],
        capsys,
    )
    assert rc == 0, err
    report = json.loads((tmp_path / "an" / "derivatives.json").read_text())
    sur = load_surrogate(made / "sur")
    y = sur.predict(sample_domain(sur, 3000, 2))[:, 0]
    kept = int(((y >= 0.2) & (y <= 1.5)).sum())  # the file's declared region, by hand
    assert 0 < kept < 3000
    assert report["n_kept"] == kept and report["output_domain"] == "plausible"
    assert f"{kept} of 3000 samples predicted in the declared output domain" in stdout
    assert set(report["first"]) == {"y", "z"} and set(report["first"]["y"]) == {"a", "b"}
    assert "logistic" not in report and "sign_correlation_r_I" not in report
    rc, _, err = run(
        [
            "surrogate",
            "analyze",
            str(made / "sur"),
            "--n",
            "100",
            "--paper",
            "--out",
            str(tmp_path / "an2"),
        ],
        capsys,
    )
    assert_refused(rc, err, "needs S_IE_rel, S_II_rel, eta_ext_I_rel, r_I; the surrogate of")
    assert not (tmp_path / "an2").exists()
