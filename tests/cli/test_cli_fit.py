"""neuroscape fit / target / bifurcation: outputs with units, strict JSON, and one-line errors
with exit status 2 for bad values of every option."""

import math

import pytest

from neuroscape.cli.main import main
from neuroscape.testing import refused_cli, run_cli, strict_json

STIM = ["--current", "10", "--t-on", "20", "--t-off", "120"]


def run(args, capsys):
    """(exit status, stdout, stderr); argparse's refusals exit through SystemExit."""
    return run_cli([str(a) for a in args], capsys)


def refused(args, capsys, needle, *folders):
    return refused_cli(args, capsys, needle, *folders)


@pytest.fixture(scope="module")
def target_csv(tmp_path_factory):
    """HH at g_Na = 130, g_K = 30 mS/cm^2 under a 10 uA/cm^2 step from 20 to 120 ms."""
    p = tmp_path_factory.mktemp("target") / "t.csv"
    args = ["target", "hh", "--set", "g_Na=130", "--set", "g_K=30", "--duration-ms", "150"]
    args += ["--dt-ms", "0.025", "--noise-mv", "0.5", "--out", p, *STIM]
    assert main([str(a) for a in args]) == 0
    return p


# ------------------------------------------------------------------------------------ outputs
def test_target_records_the_stimulus(tmp_path, capsys):
    p = tmp_path / "t.csv"
    rc, out, err = run(["target", "hh", "--duration-ms", "50", "--out", p, *STIM, "--json"], capsys)
    assert rc == 0, err
    d = strict_json(out)
    assert d["samples"] == 500 and d["sample_ms"] == pytest.approx(0.1)
    assert d["parameter_units"]["g_Na"] == "mS/cm^2"
    assert d["stimulus"] == {
        "kind": "step",
        "amp": 10.0,
        "t_on": 20.0,
        "t_off": 120.0,
        "current_unit": "uA/cm^2",
    }
    assert p.read_text().splitlines()[0] == "t_ms,V_mV,I_uA/cm^2"
    rc, out, _ = run(["target", "hh", "--duration-ms", "50", "--out", p, *STIM], capsys)
    assert "500 samples every 0.1 ms over 50 ms" in out
    assert "g_Na = 120 mS/cm^2" in out and "amp=10 uA/cm^2, t_on=20 ms" in out


def test_fit_writes_result_and_figures(tmp_path, target_csv, capsys):
    out = tmp_path / "fit"
    rc, stdout, err = run(
        [
            "fit",
            "hh",
            "--target",
            target_csv,
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
            out,
            "--db",
            tmp_path / "f.db",
            "--json",
            *STIM,
        ],
        capsys,
    )
    assert rc == 0, err
    res = strict_json((out / "result.json").read_text())
    assert res["best"]["g_Na"] == pytest.approx(130, rel=0.02)
    assert res["best"]["g_K"] == pytest.approx(30, rel=0.02)
    assert res["parameter_units"] == {"g_Na": "mS/cm^2", "g_K": "mS/cm^2"}
    assert res["measure_units"] == {"rms": "mV"} and res["error_unit"] == "mV"
    assert res["simulations"] <= 600 and res["solution_set"]
    summary = strict_json(stdout)
    assert summary["simulations"] == res["simulations"]
    assert summary["errors"]["rms"] == pytest.approx(res["best_errors"]["rms"])
    assert summary["error_units"] == {"rms": "mV"}
    assert summary["stimulus"]["amp"] == 10.0
    for f in ("convergence.png", "traces.png"):
        assert (out / f).stat().st_size > 1000
    rc, stdout, _ = run(["db", "summary", tmp_path / "f.db"], capsys)
    assert f"{res['simulations']} runs, 0 failed" in stdout  # every evaluated point stored


def test_fit_reads_the_stimulus_from_the_target_and_prints_units(tmp_path, target_csv, capsys):
    """No stimulus option: the CSV's current column gives it. One free parameter under the
    default method (CMA-ES, which refuses 1-D problems without the dummy coordinate)."""
    args = ["fit", "hh", "--target", target_csv, "--free", "g_Na=60:180", "--budget", "64"]
    rc, out, err = run([*args, "--dt-ms", "0.025", "--out", tmp_path / "o"], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("hh fitted by cmaes: 64 of 64 simulations in ")
    assert lines[0].endswith(" s")
    assert lines[1] == "stimulus: step amp=10 uA/cm^2, t_on=20 ms, t_off=120 ms"
    best = float(lines[2].split("g_Na = ")[1].split(" mS/cm^2")[0])
    assert lines[2] == f"best: g_Na = {best:.4g} mS/cm^2" and 60 <= best <= 180
    assert lines[3].startswith("error: rms ") and lines[3].endswith(" mV")
    assert lines[4].startswith("solution set: ") and lines[4].endswith(" mV")


@pytest.mark.parametrize("method", ["hybrid", "ga", "explore", "gradient"])
def test_fit_one_free_parameter_with_each_method(tmp_path, target_csv, capsys, method):
    args = ["fit", "hh", "--target", target_csv, "--free", "g_Na=60:180", "--method", method]
    rc, out, err = run([*args, "--budget", "100", "--out", tmp_path / "o", "--json"], capsys)
    assert rc == 0, err
    d = strict_json(out)
    assert 60 <= d["best"]["g_Na"] <= 180 and d["simulations"] <= 100


def test_fit_nwb_target_with_nsga2(tmp_path, capsys):
    p = tmp_path / "t.nwb"
    rc, _, err = run(
        ["target", "hh", "--set", "g_Na=100", "--duration-ms", "150", "--out", p, *STIM], capsys
    )
    assert rc == 0, err
    out = tmp_path / "nsga"
    rc, stdout, err = run(
        [
            "fit",
            "hh",
            "--target",
            p,
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
            out,
        ],
        capsys,
    )
    assert rc == 0, err
    assert (out / "pareto.png").exists()
    front = strict_json((out / "result.json").read_text())["pareto"]
    assert front and set(front[0]["errors"]) == {"rms", "phase-plane"}
    # the measures' units differ (mV and dimensionless): each error is printed with its own
    assert "error: rms " in stdout and " mV, phase-plane " in stdout and "(mixed units)" in stdout


def test_fit_poisson_conductance_stimulus(tmp_path, capsys):
    """The stimulus kinds of `simulate` are those of `fit`, poisson_conductance included; the
    NWB target records it, and the fit reads it back."""
    kind = ["--stimulus", "poisson_conductance", "--stim", "rate_hz=800", "--stim", "weight=0.05"]
    kind += ["--stim", "tau_syn=5", "--stim", "E_rev=0"]
    p = tmp_path / "t.nwb"
    rc, _, err = run(["target", "lif", "--duration-ms", "100", "--out", p, *kind], capsys)
    assert rc == 0, err
    for extra in ([], kind):
        args = ["fit", "lif", "--target", p, "--free", "tau=5:20", "--budget", "16", *extra]
        rc, out, err = run([*args, "--out", tmp_path / "o"], capsys)
        assert rc == 0, err
        assert "stimulus: poisson_conductance rate_hz=800 Hz, weight=0.05" in out


def test_bifurcation_cli(tmp_path, capsys):
    """FitzHugh-Nagumo: two Hopf points over I in [0, 1.6] (see tests/fit/test_bifurcation)."""
    out = tmp_path / "bif"
    args = ["bifurcation", "fhn", "--param", "I", "--range", "0:1.6:0.05"]
    rc, stdout, err = run([*args, "--duration-ms", "600", "--out", out, "--json"], capsys)
    assert rc == 0, err
    d = strict_json(stdout)
    assert d["parameter_units"] == {"I": "1"}
    assert [b["kind"] for b in d["boundaries"]].count("hopf") == 2
    assert (out / "map.png").exists() and (out / "map.csv").exists()
    assert strict_json((out / "boundaries.json").read_text())["boundaries"] == d["boundaries"]
    rc, stdout, err = run([*args, "--duration-ms", "600", "--out", out], capsys)
    assert stdout.splitlines()[0] == "fhn map over I from 0 to 1.6 (33 values)"
    assert sum(line.startswith("hopf at I = ") for line in stdout.splitlines()) == 2


def test_bifurcation_comma_list_and_units(tmp_path, capsys):
    args = ["bifurcation", "hh", "--param", "I", "--range", "0,2,4,8", "--duration-ms", "100"]
    rc, stdout, err = run([*args, "--out", tmp_path / "b"], capsys)
    assert rc == 0, err
    assert stdout.splitlines()[0] == "hh map over I from 0 uA/cm^2 to 8 uA/cm^2 (4 values)"
    header = (tmp_path / "b" / "map.csv").read_text().splitlines()[0]
    assert header.startswith("I_uA/cm^2,label,rate_Hz,amplitude_mV")


# ------------------------------------------------------------------------------- bad values
FIT_BAD = [
    (["--budget", "0"], "--budget"),
    (["--budget", "-5"], "--budget"),
    (["--budget", "abc"], "--budget"),
    (["--budget", "5"], "budget=5 is below what cmaes needs"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "1.5"], "--seed"),
    (["--threshold", "0"], "--threshold"),
    (["--threshold", "-1"], "--threshold"),
    (["--threshold", "nan"], "--threshold"),
    (["--threshold", "inf"], "--threshold"),
    (["--duration-ms", "0"], "--duration-ms"),
    (["--duration-ms", "nan"], "--duration-ms"),
    (["--duration-ms", "-inf"], "--duration-ms"),
    (["--duration-ms", "50"], "shorter than the target trace"),
    (["--dt-ms", "0"], "--dt-ms"),
    (["--dt-ms", "inf"], "--dt-ms"),
    (["--dt-ms", "0.03"], "does not divide the target's sampling interval 0.1 ms"),
    (["--free", "g_X=1:2"], "unknown parameter 'g_X'"),
    (["--free", "g_K=abc:3"], "--free g_K low='abc': the value is not a number"),
    (["--free", "g_K=nan:30"], "--free g_K low='nan': allowed a finite number"),
    (["--free", "g_K=40:20"], "low=40 mS/cm^2 must be < high=20 mS/cm^2"),
    (["--free", "g_K=0:500"], "leave the declared domain"),
    (["--free", "g_K=20"], "expected NAME=LO:HI"),
    (["--free", "g_K=1:2:3"], "expected NAME=LO:HI"),
    (["--free", "g_Na"], "--free g_Na given twice"),
    (["--set", "g_K=abc"], "the value is not a number"),
    (["--set", "g_K=inf"], "allowed a finite number"),
    (["--set", "g_K=1000"], "fixed g_K=1000 lies outside the declared domain"),
    (["--set", "g_K=30", "--set", "g_K=31"], "--set g_K given twice"),
    (["--set", "g_Na=100"], "'g_Na' is both free and fixed"),
    (["--set", "g_X=1"], "unknown parameter 'g_X'"),
    (["--start", "g_Na=500"], "start g_Na=500 mS/cm^2 lies outside its bounds [60, 180] mS/cm^2"),
    (["--start", "g_K=30"], "start: 'g_K' is not free"),
    (["--start", "g_Na=100", "--method", "ga"], "--start is not used by ga"),
    (["--method", "annealing"], "invalid choice: 'annealing'"),
    (["--measure", "mse"], "invalid choice: 'mse'"),
    (["--measure", "rates"], "measure rates compares rates targets; the target is trace"),
    (["--measure", "class"], "measure class compares class targets"),
    (["--series", "sweep0"], "only an .nwb target has series"),
    (["--sweep-db", "x.db"], "--sweep-db is not used by cmaes"),
    (["--surrogate", "sur"], "--surrogate is not used by cmaes"),
    (["--noise-sd", "1"], "--noise-sd is not used by cmaes"),
    (["--noise-sd", "-1", "--method", "sbi"], "--noise-sd"),
    (["--surrogate", "{tmp}/nope", "--method", "gradient"], "does not exist"),
    (["--db", "{tmp}/missing/f.db"], "does not exist"),
    (["--db", "{tmp}/f.txt"], "allowed suffixes .db"),
    (["--out", "{tmp}/file.txt"], "is a file; expected a folder"),
    (["--current", "nan"], "--current"),
    (["--current", "inf"], "--current"),
    (["--t-on", "-1"], "--t-on"),
    (["--t-off", "0"], "--t-off"),
    (["--t-off", "10"], "t_on=20 ms, t_off=10 ms; allowed: t_on < t_off"),
    (["--current", "12"], "the stimulus given injects 12 uA/cm^2 at 20 ms where"),
    (["--stimulus", "sine"], "invalid choice: 'sine'"),
    (["--stim", "amp=1"], "--stim needs --stimulus KIND"),
    (["--stimulus", "poisson", "--stim", "rate_hz=abc"], "--stim rate_hz='abc'"),
    (["--stimulus", "poisson", "--stim", "rate_hz=10"], "poisson stimulus needs weight"),
    (["--stimulus", "step", "--stim", "amp=10", "--current", "10"], "--stim NAME=VALUE"),
]


@pytest.mark.parametrize("extra, needle", FIT_BAD, ids=[" ".join(e) for e, _ in FIT_BAD])
def test_fit_bad_values(tmp_path, target_csv, capsys, extra, needle):
    (tmp_path / "file.txt").write_text("x")
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    needle = needle.replace("{tmp}", str(tmp_path))
    stim = [] if {"--stimulus", "--stim"} & set(extra) else STIM
    if "--current" in extra or "--t-on" in extra or "--t-off" in extra:
        stim = list(STIM)
        for flag in ("--current", "--t-on", "--t-off"):  # the case's own value replaces STIM's
            if flag in extra:
                i = stim.index(flag)
                del stim[i : i + 2]
    args = ["fit", "hh", "--target", target_csv, "--free", "g_Na=60:180", "--budget", "20"]
    args += ["--dt-ms", "0.025", "--out", tmp_path / "o", *stim]
    if "--dt-ms" in extra:
        args = args[: args.index("--dt-ms")] + args[args.index("--dt-ms") + 2 :]
    refused(args + extra, capsys, needle, tmp_path)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["fit", "foo", "--target", "{csv}", "--free", "a"], "unknown model 'foo'"),
        (["fit", "ddm", "--target", "{csv}", "--free", "v"], "cannot be fitted"),
        (["fit", "cortical", "--target", "{csv}", "--free", "eta_ext_E", *STIM], "single-neuron"),
        (["fit", "hh", "--target", "{tmp}/missing.csv", "--free", "g_Na"], "does not exist"),
        (["fit", "hh", "--target", "{tmp}/t.wav", "--free", "g_Na"], "allowed: .csv, .nwb"),
        (["fit", "hh", "--target", "{tmp}", "--free", "g_Na"], "allowed: .csv, .nwb, .json"),
        (["fit", "hh", "--target", "{tmp}/bad.json", "--free", "g_Na"], "not valid JSON"),
        (["fit", "hh", "--target", "{tmp}/bin.csv", "--free", "g_Na"], "not a text CSV"),
        (["fit", "hh", "--target", "{tmp}/bad.nwb", "--free", "g_Na"], "not a readable NWB"),
        (["fit", "hh", "--target", "{tmp}/bare.csv", "--free", "g_Na"], "records none"),
        (
            ["fit", "hh", "--target", "{tmp}/bare.csv", "--free", "g_Na=60:180", "--current", "0"],
            "is not explained",
        ),
        (
            [
                "fit",
                "lif",
                "--target",
                "{tmp}/rates.json",
                "--free",
                "tau",
                "--measure",
                "rates",
                "--current",
                "3",
            ],
            "rates target names 'r_E'; allowed for lif: rate, cv_isi",
        ),
    ],
)
def test_fit_bad_models_and_targets(tmp_path, target_csv, capsys, argv, needle):
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)))
    (tmp_path / "bad.nwb").write_text("not hdf5")
    (tmp_path / "rates.json").write_text('{"rates": {"r_E": 5}}')
    bare = [",".join(line.split(",")[:2]) for line in target_csv.read_text().splitlines()]
    (tmp_path / "bare.csv").write_text("\n".join(bare) + "\n")
    argv = [a.replace("{csv}", str(target_csv)).replace("{tmp}", str(tmp_path)) for a in argv]
    refused([*argv, "--budget", "20", "--out", tmp_path / "o"], capsys, needle, tmp_path)


TARGET_BAD = [
    (["cortical", *STIM], "traces are for single-neuron models"),
    (["foo", *STIM], "traces are for single-neuron models"),
    (["hh"], "give the stimulus the trace is recorded under"),
    (["hh", *STIM, "--duration-ms", "0"], "--duration-ms"),
    (["hh", *STIM, "--duration-ms", "nan"], "--duration-ms"),
    (["hh", "--current", "10", "--t-on", "0", "--duration-ms", "0.5"], "length >= 10"),
    (["hh", *STIM, "--duration-ms", "10"], "t_on=20 ms is not before the end of the run"),
    (["hh", *STIM, "--dt-ms", "-0.01"], "--dt-ms"),
    (["hh", *STIM, "--dt-ms", "0.5"], "--sample-ms 0.1 is not a whole multiple"),
    (["hh", *STIM, "--dt-ms", "0.5", "--sample-ms", "0.5"], "dt_ms=0.5 is too coarse"),
    (["hh", *STIM, "--sample-ms", "0"], "--sample-ms"),
    (["hh", *STIM, "--sample-ms", "0.015"], "not a whole multiple of the time step 0.01 ms"),
    (["hh", *STIM, "--noise-mv", "-1"], "--noise-mv"),
    (["hh", *STIM, "--noise-mv", "inf"], "--noise-mv"),
    (["hh", *STIM, "--seed", "-2"], "--seed"),
    (
        ["hh", *STIM, "--set", "g_Na=1000"],
        "g_Na=1000 mS/cm^2 lies outside the declared domain [0, 400]",
    ),
    (["hh", *STIM, "--set", "g_X=1"], "unknown parameter 'g_X'"),
    (["hh", *STIM, "--set", "g_Na=nan"], "allowed a finite number"),
    (["hh", *STIM, "--preset", "RS"], "unknown preset 'RS' for hh"),
    (["hh", "--current", "10", "--t-on", "30", "--t-off", "20"], "allowed: t_on < t_off"),
    (["hh", "--t-on", "30"], "--t-on/--t-off need --current"),
    (["hh", "--stimulus", "ramp", "--stim", "amp0=0"], "ramp stimulus needs amp1"),
]


@pytest.mark.parametrize("argv, needle", TARGET_BAD, ids=[" ".join(a) for a, _ in TARGET_BAD])
@pytest.mark.parametrize("out", ["t.csv"])
def test_target_bad_values(tmp_path, capsys, argv, needle, out):
    refused(["target", *argv, "--out", tmp_path / out], capsys, needle, tmp_path)


@pytest.mark.parametrize(
    "out, needle",
    [
        ("t.txt", "allowed suffixes .csv, .nwb"),
        ("missing/t.csv", "does not exist"),
        ("folder.csv", "is a folder"),
    ],
)
def test_target_bad_out(tmp_path, capsys, out, needle):
    (tmp_path / "folder.csv").mkdir()
    refused(["target", "hh", *STIM, "--out", tmp_path / out], capsys, needle, tmp_path)


BIF_BAD = [
    (["cortical", "--param", "I", "--range", "0:1:0.5"], "single-neuron models"),
    (["fhn", "--param", "X", "--range", "0:1:0.5"], "'X': unknown; allowed: I, a, b, tau"),
    (["fhn", "--param", "I"], "1 --param and 0 --range given"),
    (["fhn", "--param", "I", "--range", "1:0:0.1"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "0:1:0"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "0:1:-0.1"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "a:b:c"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "0:1"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "0:nan:0.1"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "0,inf"], "expected START:STOP:STEP"),
    (["fhn", "--param", "I", "--range", "0.5"], "at least 2 values"),
    (["fhn", "--param", "I", "--range", "0.5,0.2,0.8"], "must be finite and increase"),
    (["fhn", "--param", "a", "--range", "0:3:1"], "leaves the declared domain [-2, 2]"),
    (["fhn", "--param", "I", "--range", "0:1:0.5", "--current", "0.2"], "the current is swept"),
    (["fhn", "--param", "a", "--range", "0:1:0.5", "--current", "nan"], "--current"),
    (["fhn", "--param", "a", "--range", "0:1:0.5", "--set", "a=0.5"], "both swept and fixed"),
    (["fhn", "--param", "I", "--range", "0:1:0.5", "--set", "b=nan"], "allowed a finite number"),
    (["fhn", "--param", "I", "--range", "0:1:0.5", "--set", "b=9"], "b=9 lies outside"),
    (["fhn", "--param", "I", "--range", "0:1:0.5", "--duration-ms", "0"], "--duration-ms"),
    (["fhn", "--param", "I", "--range", "0:1:0.5", "--duration-ms", "inf"], "--duration-ms"),
    (
        [
            "fhn",
            "--param",
            "I",
            "--range",
            "0:1:0.5",
            "--param",
            "a",
            "--range",
            "0:1:0.5",
            "--param",
            "b",
            "--range",
            "0:1:0.5",
        ],
        "allowed: one or two",
    ),
    (
        ["fhn", "--param", "I", "--range", "0:1:0.5", "--param", "I", "--range", "0:1:0.5"],
        "given twice",
    ),
]


@pytest.mark.parametrize("argv, needle", BIF_BAD, ids=[" ".join(a) for a, _ in BIF_BAD])
def test_bifurcation_bad_values(tmp_path, capsys, argv, needle):
    refused(["bifurcation", *argv, "--out", tmp_path / "b"], capsys, needle, tmp_path)


def test_bifurcation_out_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    argv = ["bifurcation", "fhn", "--param", "I", "--range", "0:1:0.5", "--out", tmp_path / "f"]
    refused(argv, capsys, "is a file; expected a folder", tmp_path)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("time,V_mV\n0,1\n", "missing column 't_ms'"),
        ("t_ms,V_mV\n0,1\n0.1,x\n", "line 3"),
        (
            "t_ms,V_mV\n" + "".join(f"{i * 0.1},{'nan' if i == 4 else 0}\n" for i in range(20)),
            "NaN or inf at sample 4",
        ),
        ("t_ms,V_mV,I_nA,I_pA\n0,1,0,0\n", "several current columns"),
    ],
)
def test_fit_bad_target_file(tmp_path, capsys, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    argv = ["fit", "hh", "--target", p, "--free", "g_Na", "--out", tmp_path / "o", *STIM]
    refused(argv, capsys, needle, tmp_path)


def test_strict_json_helper_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        strict_json('{"x": NaN}')
    assert math.isfinite(strict_json('{"x": 1.5}')["x"])
