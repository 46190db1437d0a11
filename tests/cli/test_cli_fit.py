"""neuroscape fit / target / bifurcation: outputs, and one-line errors with exit status 2."""

import json

import pytest

from neuroscape.cli.main import main

STIM = ["--current", "10", "--t-on", "20", "--t-off", "120"]


def run(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def target_csv(tmp_path, capsys):
    p = tmp_path / "t.csv"
    rc, _, _ = run(
        [
            "target",
            "hh",
            "--set",
            "g_Na=130",
            "--set",
            "g_K=30",
            "--duration-ms",
            "150",
            "--dt-ms",
            "0.025",
            "--noise-mv",
            "0.5",
            "--out",
            str(p),
            *STIM,
        ],
        capsys,
    )
    assert rc == 0
    return p


def test_fit_writes_result_and_figures(tmp_path, target_csv, capsys):
    out = tmp_path / "fit"
    rc, stdout, _ = run(
        [
            "fit",
            "hh",
            "--target",
            str(target_csv),
            "--free",
            "g_Na=60:180",
            "--free",
            "g_K=18:54",
            "--method",
            "cmaes",
            "--budget",
            "600",
            "--dt-ms",
            "0.025",
            "--out",
            str(out),
            "--db",
            str(tmp_path / "f.db"),
            *STIM,
        ],
        capsys,
    )
    assert rc == 0
    res = json.loads((out / "result.json").read_text())
    assert res["best"]["g_Na"] == pytest.approx(130, rel=0.02)
    assert res["best"]["g_K"] == pytest.approx(30, rel=0.02)
    assert res["simulations"] <= 600 and res["solution_set"]
    assert json.loads(stdout)["simulations"] == res["simulations"]
    for f in ("convergence.png", "traces.png"):
        assert (out / f).stat().st_size > 1000
    rc, stdout, _ = run(["db", "summary", str(tmp_path / "f.db")], capsys)
    assert f"{res['simulations']} runs, 0 failed" in stdout  # every evaluated point stored


def test_fit_nwb_target_with_nsga2(tmp_path, capsys):
    p = tmp_path / "t.nwb"
    assert (
        run(
            ["target", "hh", "--set", "g_Na=100", "--duration-ms", "150", "--out", str(p), *STIM],
            capsys,
        )[0]
        == 0
    )
    out = tmp_path / "nsga"
    rc, _, err = run(
        [
            "fit",
            "hh",
            "--target",
            str(p),
            "--free",
            "g_Na=60:180",
            "--free",
            "g_K=18:54",
            "--method",
            "nsga2",
            "--measure",
            "rms",
            "--measure",
            "phase-plane",
            "--budget",
            "200",
            "--out",
            str(out),
            *STIM,
        ],
        capsys,
    )
    assert rc == 0, err
    assert (out / "pareto.png").exists()
    assert json.loads((out / "result.json").read_text())["pareto"]


def test_bifurcation_cli(tmp_path, capsys):
    out = tmp_path / "bif"
    rc, stdout, _ = run(
        [
            "bifurcation",
            "fhn",
            "--param",
            "I",
            "--range",
            "0:1.6:33",
            "--duration-ms",
            "600",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert rc == 0
    kinds = [json.loads(line)["kind"] for line in stdout.splitlines()]
    assert kinds.count("hopf") == 2
    assert (out / "map.png").exists() and (out / "map.csv").exists()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--method", "annealing"], "invalid choice: 'annealing'"),
        (["--measure", "mse"], "invalid choice: 'mse'"),
        (["--free", "g_X=1:2"], "g_X"),
        (["--budget", "0"], "budget=0; allowed: a positive number"),
        (["--budget", "-5"], "budget=-5"),
        (["--start", "g_Na=500"], "start g_Na=500 lies outside its bounds"),
        (["--free", "g_K=abc:3"], "--free g_K low: 'abc' is not a number"),
    ],
)
def test_fit_bad_input(tmp_path, target_csv, capsys, extra, needle):
    args = [
        "fit",
        "hh",
        "--target",
        str(target_csv),
        "--free",
        "g_Na=60:180",
        "--budget",
        "20",
        "--out",
        str(tmp_path / "o"),
        *STIM,
    ]
    if extra[0] in ("--method", "--measure"):
        with pytest.raises(SystemExit) as e:  # argparse names the choices
            main(args + extra)
        assert e.value.code == 2
        assert needle in capsys.readouterr().err
        return
    rc, _, err = run(args + extra, capsys)
    assert rc == 2
    assert needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text, needle",
    [
        ("time,V_mV\n0,1\n", "missing column 't_ms'"),
        ("t_ms,V_mV\n0,1\n0.1,x\n", "line 3"),
        (
            "t_ms,V_mV\n" + "".join(f"{i * 0.1},{'nan' if i == 4 else 0}\n" for i in range(20)),
            "NaN or inf at sample 4",
        ),
    ],
)
def test_fit_bad_target_file(tmp_path, capsys, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    rc, _, err = run(
        ["fit", "hh", "--target", str(p), "--free", "g_Na", "--out", str(tmp_path / "o"), *STIM],
        capsys,
    )
    assert rc == 2 and needle in err
