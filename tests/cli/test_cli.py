"""The console script: outputs, CSV tables and one-line errors with exit status 2."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from neuroscape.models.cortical import SPEC
from neuroscape.testing import run_cli as run

SHORT = ["--duration-ms", "300", "--window-ms", "200"]


def test_params_json_lists_the_parameters_in_order(capsys):
    rc, out, _ = run(["params", "cortical", "--json"], capsys)
    d = json.loads(out)
    assert rc == 0
    assert [p["name"] for p in d["parameters"]] == SPEC.parameter_names
    assert d["parameters"][5] == {**d["parameters"][5], "low": 25.0, "high": 3000.0, "unit": "Hz"}


def test_simulate_json_and_plot(tmp_path, capsys):
    png = tmp_path / "r.png"
    rc, out, _ = run(
        [
            "simulate",
            "cortical",
            "--set",
            "eta_ext_E=2000",
            "--seed",
            "3",
            "--json",
            "--plot",
            str(png),
            *SHORT,
        ],
        capsys,
    )
    d = json.loads(out)
    assert rc == 0 and d["parameters"]["eta_ext_E"] == 2000.0 and d["seed"] == 3
    assert d["outputs"]["r_I"] > d["outputs"]["r_E"] > 0
    assert png.stat().st_size > 10_000
    # the CLI wraps the API: same numbers
    import neuroscape as ns

    r = ns.simulate("cortical", {"eta_ext_E": 2000}, seed=3, duration_ms=300, window_ms=200)
    assert d["outputs"]["r_E"] == r["r_E"][0]


def _write_params(path, rows, header=None):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header or SPEC.parameter_names)
        w.writerows(rows)


def test_csv_table_in_and_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lo, hi = SPEC.bounds.T
    p = lo + (hi - lo) * rng.random((5, 7))
    cols = SPEC.parameter_names[::-1]  # column order in the file is free
    _write_params(tmp_path / "in.csv", p[:, ::-1].tolist(), cols)
    rc, _, err = run(
        [
            "simulate",
            "cortical",
            "--params",
            str(tmp_path / "in.csv"),
            "--out",
            str(tmp_path / "out.csv"),
            "--workers",
            "2",
            *SHORT,
        ],
        capsys,
    )
    assert rc == 0 and "5 simulations" in err
    with open(tmp_path / "out.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and list(rows[0])[:9] == SPEC.parameter_names + ["r_E", "r_I"]
    got = np.array([[float(r[k]) for k in SPEC.parameter_names] for r in rows])
    np.testing.assert_array_equal(got, p)  # same rows, same order, exact values


@pytest.mark.parametrize(
    "rows,header,match",
    [
        (
            [["0.025", "2", "0.3", "0.7", "0.5", "abc", "3"]],
            None,
            "line 2: eta_ext_E='abc' is not a number",
        ),
        (
            [["0.025", "2", "0.3", "0.7", "0.5", "", "3"]],
            None,
            "line 2: missing value for eta_ext_E",
        ),
        ([["0.025", "2", "0.3", "0.7", "0.5", "9000", "3"]], None, "eta_ext_E=9000 is outside"),
        ([["1"] * 7], SPEC.parameter_names[:6] + ["bogus"], "unknown column 'bogus'"),
        ([["0.025", "2"]], None, "line 2: 2 cells, expected 7"),
    ],
)
def test_bad_csv_gives_one_line_error_and_no_output(tmp_path, capsys, rows, header, match):
    _write_params(tmp_path / "in.csv", rows, header)
    out = tmp_path / "out.csv"
    rc, _, err = run(
        ["simulate", "cortical", "--params", str(tmp_path / "in.csv"), "--out", str(out), *SHORT],
        capsys,
    )
    assert rc == 2
    assert match in err and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "in.csv"]


@pytest.mark.parametrize(
    "args,match",
    [
        (["--set", "S_XX=1"], "unknown parameter 'S_XX'"),
        (["--set", "S_EE=0.5"], "S_EE=0.5 is outside the allowed range [0.02, 0.03]"),
        (["--set", "S_EE=x"], "S_EE='x': the value is not a number"),
        (["--dt-ms", "1"], "dt_ms=1 is too coarse"),
        (["--integrator", "leapfrog"], "unknown integrator 'leapfrog'"),
        (["--connectivity", "nope.npz"], "'nope.npz' does not exist"),
        (["--device", "cuda"], "neither numba.cuda nor PyTorch sees a CUDA GPU"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, match):
    if "cuda" in args:
        from neuroscape.sim import neuron_cuda

        try:
            import torch

            gpu = torch.cuda.is_available()
        except ImportError:
            gpu = False
        if gpu or neuron_cuda.available():
            pytest.skip("a GPU (or numba's CUDA simulator) is present")
    rc, _, err = run(["simulate", "cortical", *args, *SHORT], capsys)
    assert rc == 2 and match in err and err.count("\n") == 1


def test_outside_values_are_allowed_on_request(capsys):
    rc, out, _ = run(
        ["simulate", "cortical", "--set", "eta_ext_E=4000", "--allow-outside", "--json", *SHORT],
        capsys,
    )
    assert rc == 0 and json.loads(out)["outputs"]["r_I"] > 0


def test_connectivity_export_and_reuse(tmp_path, capsys):
    g = tmp_path / "graph.npz"
    assert run(["connectivity", "cortical", "--conn-seed", "5", "--out", str(g)], capsys)[0] == 0
    a = json.loads(run(["simulate", "cortical", "--conn-seed", "5", "--json", *SHORT], capsys)[1])
    b = json.loads(
        run(["simulate", "cortical", "--connectivity", str(g), "--json", *SHORT], capsys)[1]
    )
    assert a["outputs"] == b["outputs"]
    assert a["connectivity_sha256"] == b["connectivity_sha256"]


def test_console_script_is_installed():
    r = subprocess.run(
        [sys.executable, "-m", "neuroscape.cli.main", "params", "cortical"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "eta_ext_I_rel" in r.stdout


@pytest.mark.parametrize("cmd", [["params", "hh2"], ["simulate", "hh2"]])
def test_unknown_model_exits_2(capsys, cmd):
    rc, _, err = run(cmd, capsys)
    assert rc == 2 and "unknown model 'hh2'; allowed: " in err and "lif" in err.split("allowed:")[1]


def test_simulate_single_neuron_with_plots(tmp_path, capsys):
    png, pp = tmp_path / "trace.png", tmp_path / "pp.png"
    rc, out, _ = run(
        [
            "simulate",
            "hh",
            "--current",
            "10",
            "--t-on",
            "0",
            "--duration-ms",
            "100",
            "--plot",
            str(png),
            "--phase-plane",
            str(pp),
            "--json",
        ],
        capsys,
    )
    d = json.loads(out)
    assert rc == 0 and d["spike_count"] == 7 and abs(d["spike_times_ms"][0] - 1.9) < 0.05
    assert png.stat().st_size > 5000 and pp.stat().st_size > 5000


def test_izhikevich_preset_and_set(capsys):
    rc, out, _ = run(
        [
            "simulate",
            "izhikevich",
            "--preset",
            "FS",
            "--set",
            "d=2",
            "--current",
            "10",
            "--duration-ms",
            "200",
            "--json",
        ],
        capsys,
    )
    d = json.loads(out)
    assert rc == 0 and d["parameters"]["a"] == 0.1 and d["spike_count"] > 10


def test_fi_curve_writes_csv_and_figure(tmp_path, capsys):
    rc, out, _ = run(
        [
            "fi-curve",
            "lif",
            "--currents",
            "2:4:0.5",
            "--duration-ms",
            "500",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    # the closed form (V_th - V_rest) / R = 25 mV / 10 MOhm = 2.5 nA lies in the reported bracket
    assert rc == 0 and "rheobase (onset of repetitive firing) in (2.5, 3] nA" in out
    rows = list(csv.reader(open(tmp_path / "fi_curve.csv")))
    assert rows[0] == ["current_nA", "rate_Hz", "spike_count"] and len(rows) == 6
    assert float(rows[1][1]) == 0.0 and float(rows[-1][1]) > 50
    assert (tmp_path / "fi_curve.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "args,match",
    [
        (["simulate", "izhikevich", "--preset", "XX"], "unknown preset 'XX' for izhikevich"),
        (["simulate", "fhn", "--integrator", "exponential_euler"], "conditionally linear"),
        (["simulate", "hh", "--dt-ms", "0.5"], "dt_ms=0.5 is too coarse"),
        (["simulate", "lif", "--set", "tau=-1", "--allow-outside"], "tau=-1"),
        (["simulate", "cortical", "--current", "3"], "--current is for single-neuron models"),
        (["fi-curve", "hh", "--currents", "5:1:1", "--out", "x"], "expected START:STOP:STEP"),
        (["simulate", "lif", "--stimulus", "ramp", "--stim", "amp0=1"], "ramp stimulus needs"),
    ],
)
def test_neuron_cli_errors(capsys, args, match):
    rc, _, err = run(args, capsys)
    assert rc == 2 and match in err and err.count("\n") == 1
