"""Every option of the one-model commands (models, params, simulate, fi-curve, connectivity, demo,
theory) with bad values: one line on stderr, exit status 2, no traceback, nothing written."""

from __future__ import annotations

import json
import math
import os

import pytest

from neuroscape.testing import run_cli

BAD_POSITIVE_FLOAT = ["0", "-1", "nan", "inf", "abc"]
BAD_NONNEG_FLOAT = ["-1", "nan", "inf", "-inf", "abc"]
BAD_FINITE_FLOAT = ["nan", "inf", "abc"]
BAD_NONNEG_INT = ["-1", "1.5", "abc"]
BAD_POSITIVE_INT = ["0", "-1", "1.5", "abc"]

SETTINGS = {
    "--duration-ms": BAD_POSITIVE_FLOAT,
    "--dt-ms": BAD_POSITIVE_FLOAT,
    "--window-ms": BAD_POSITIVE_FLOAT,
}


def _cases():
    """(id, argv) pairs: one bad value of one option per case."""
    cases = []
    for model in ("lif", "hh", "cortical", "ddm"):
        base = ["simulate", model]
        if model in ("lif", "hh"):
            base += ["--duration-ms", "50"] if model == "lif" else ["--duration-ms", "20"]
        for opt, bads in SETTINGS.items():
            cases += [(f"{model}{opt}={b}", ["simulate", model, opt, b]) for b in bads]
        cases += [(f"{model}--seed={b}", [*base, "--seed", b]) for b in BAD_NONNEG_INT]
        cases += [(f"{model}--workers={b}", [*base, "--workers", b]) for b in BAD_POSITIVE_INT]
        cases += [
            (f"{model}-set-unknown", [*base, "--set", "nope=1"]),
            (f"{model}-set-nan", [*base, "--set", f"{_first_param(model)}=nan"]),
            (f"{model}-set-inf", [*base, "--set", f"{_first_param(model)}=inf"]),
            (f"{model}-set-text", [*base, "--set", f"{_first_param(model)}=abc"]),
            (f"{model}-set-noeq", [*base, "--set", "x"]),
            (f"{model}-set-out-of-range", [*base, "--set", f"{_first_param(model)}=1e9"]),
            (f"{model}-integrator", [*base, "--integrator", "nope"]),
            (f"{model}-device", [*base, "--device", "tpu"]),
            (f"{model}-params-missing", [*base, "--params", "missing.csv", "--out", "o.csv"]),
            (f"{model}-params-no-out", [*base, "--params", "in.csv"]),
            (f"{model}-plot-suffix", [*base, "--plot", "x.txt"]),
            (f"{model}-plot-nodir", [*base, "--plot", "/nonexistent/dir/x.png"]),
            (f"{model}-plot-unwritable", [*base, "--plot", "/proc/x.png"]),
            (f"{model}-out-suffix", [*base, "--params", "in.csv", "--out", "o.xlsx"]),
            (f"{model}-spikes-nodir", [*base, "--save-spikes", "/nonexistent/s.csv"]),
            (f"{model}-window-gt-duration", [*base, "--duration-ms", "10", "--window-ms", "20"]),
        ]
    for model in ("lif", "hh"):
        base = ["simulate", model, "--duration-ms", "20"]
        cases += [(f"{model}--current={b}", [*base, "--current", b]) for b in BAD_FINITE_FLOAT]
        cases += [
            (f"{model}--t-on={b}", [*base, "--current", "1", "--t-on", b]) for b in BAD_NONNEG_FLOAT
        ]
        cases += [
            (f"{model}--t-off={b}", [*base, "--current", "1", "--t-off", b])
            for b in BAD_POSITIVE_FLOAT
        ]
        cases += [
            (f"{model}--sample-ms={b}", [*base, "--sample-ms", b]) for b in BAD_POSITIVE_FLOAT
        ]
        cases += [
            (f"{model}-step-reversed", [*base, "--current", "5", "--t-on", "50", "--t-off", "10"]),
            (f"{model}-step-after-end", [*base, "--current", "5", "--t-on", "100"]),
            (f"{model}-t-on-without-current", [*base, "--t-on", "5"]),
            (f"{model}-stimulus-kind", [*base, "--stimulus", "nope"]),
            (f"{model}-stim-name", [*base, "--stimulus", "step", "--stim", "nope=1"]),
            (f"{model}-stim-value", [*base, "--stimulus", "step", "--stim", "amp=abc"]),
            (f"{model}-stim-without-kind", [*base, "--stim", "amp=1"]),
            (f"{model}-current-and-kind", [*base, "--current", "1", "--stimulus", "step"]),
            (f"{model}-preset", [*base, "--preset", "nope"]),
            (f"{model}-conn-seed", [*base, "--conn-seed", "3"]),
            (f"{model}-connectivity", [*base, "--connectivity", "g.npz"]),
            (f"{model}-dt-too-coarse", [*base, "--dt-ms", "5"]),
            (f"{model}-out-nodir", [*base, "--out", "/nonexistent/v.csv"]),
            (f"{model}-phase-suffix", [*base, "--phase-plane", "p.jpgx"]),
            (
                f"{model}-set-twice",
                [
                    *base,
                    "--set",
                    "V_th=-40" if model == "lif" else "C=1",
                    "--set",
                    "V_th=-45" if model == "lif" else "C=2",
                ],
            ),
            (
                f"{model}-stim-twice",
                [*base, "--stimulus", "step", "--stim", "amp=1", "--stim", "amp=2"],
            ),
            (f"{model}-sample-not-multiple", [*base, "--out", "v.csv", "--sample-ms", "0.015"]),
            (f"{model}-sample-without-trace", [*base, "--sample-ms", "1"]),
            (f"{model}-device-cuda", [*base, "--device", "cuda"]),
            (f"{model}-out-is-params", [*base, "--params", "in.csv", "--out", "in.csv"]),
            (f"{model}-plot-empty", [*base, "--plot", ""]),
        ]
    cases += [
        ("cortical-current", ["simulate", "cortical", "--current", "5"]),
        ("cortical-preset", ["simulate", "cortical", "--preset", "RS"]),
        ("cortical-conn-missing", ["simulate", "cortical", "--connectivity", "missing.npz"]),
        ("cortical-conn-seed-neg", ["simulate", "cortical", "--conn-seed", "-1"]),
        ("cortical-dt-too-coarse", ["simulate", "cortical", "--dt-ms", "1"]),
        ("ddm-plot", ["simulate", "ddm", "--plot", "x.png"]),
        ("wilson_cowan-plot", ["simulate", "wilson_cowan", "--plot", "x.png"]),
        ("model-unknown", ["simulate", "nope"]),
        ("params-unknown", ["params", "nope"]),
        ("connectivity-neuron", ["connectivity", "hh", "--out", "g.npz"]),
        ("connectivity-suffix", ["connectivity", "cortical", "--out", "g.txt"]),
        ("connectivity-seed", ["connectivity", "cortical", "--out", "g.npz", "--conn-seed", "x"]),
        ("fi-network", ["fi-curve", "cortical", "--currents", "0:1:1", "--out", "d"]),
        ("fi-range-reversed", ["fi-curve", "lif", "--currents", "5:1:1", "--out", "d"]),
        ("fi-range-step0", ["fi-curve", "lif", "--currents", "0:5:0", "--out", "d"]),
        ("fi-range-nan", ["fi-curve", "lif", "--currents", "nan,1", "--out", "d"]),
        ("fi-range-text", ["fi-curve", "lif", "--currents", "a:b:c", "--out", "d"]),
        ("fi-out-file", ["fi-curve", "lif", "--currents", "1,2", "--out", "in.csv"]),
        ("fi-duration", ["fi-curve", "lif", "--currents", "1,2", "--out", "d", "--dt-ms", "0"]),
        ("fi-set", ["fi-curve", "lif", "--currents", "1,2", "--out", "d", "--set", "x=1"]),
        ("demo-out-file", ["demo", "--out", "in.csv"]),
        ("theory-trials-neg", ["theory", "hopfield-capacity", "--trials", "-1", "--out", "d"]),
        ("theory-trials-zero", ["theory", "ddm", "--trials", "0", "--out", "d"]),
        ("theory-trials-text", ["theory", "ddm", "--trials", "x", "--out", "d"]),
        ("theory-trials-siegert", ["theory", "siegert", "--trials", "5", "--out", "d"]),
        ("theory-reps-ddm", ["theory", "ddm", "--reps", "3", "--out", "d"]),
        (
            "theory-duration-hopfield",
            ["theory", "hopfield-capacity", "--duration-s", "5", "--out", "d"],
        ),
        ("theory-out-empty", ["theory", "ddm", "--out", ""]),
        (
            "sweep-fix-and-bounds",
            ["sweep", "lif", "--n", "4", "--db", "s.db", "--fix", "tau=5", "--bounds", "tau=1:3"],
        ),
        (
            "sweep-fix-twice",
            ["sweep", "lif", "--n", "4", "--db", "s.db", "--fix", "tau=5", "--fix", "tau=6"],
        ),
        ("fi-negative-range-reversed", ["fi-curve", "lif", "--currents", "-1:-3:1", "--out", "d"]),
        ("theory-reps", ["theory", "siegert", "--reps", "0", "--out", "d"]),
        ("theory-duration", ["theory", "distal-reward", "--duration-s", "nan", "--out", "d"]),
        ("theory-study", ["theory", "nope", "--out", "d"]),
        ("theory-out-file", ["theory", "ddm", "--out", "in.csv"]),
        ("theory-out-unwritable", ["theory", "ddm", "--out", "/proc/d"]),
        ("command-unknown", ["nope"]),
    ]
    return cases


def _first_param(model: str) -> str:
    from neuroscape.models import get_spec

    return get_spec(model).parameter_names[0]


CASES = _cases()


@pytest.mark.parametrize("argv", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("x\n1\n")
    (tmp_path / "g.npz").write_bytes(b"")
    before = set(os.listdir(tmp_path))
    rc, _, err = run_cli(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("neuroscape") and "error" in lines[0], err
    assert "Traceback" not in err
    assert set(os.listdir(tmp_path)) == before


def test_bad_input_cases_cover_many_paths():
    # the closing note states this count; it must not shrink silently
    assert len(CASES) >= 150


# --- output units and strict JSON -----------------------------------------------------------


def _strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_neuron_json_is_strict_and_lists_every_spike(capsys):
    rc, out, _ = run_cli(
        ["simulate", "lif", "--current", "10", "--duration-ms", "1000", "--json"], capsys
    )
    assert rc == 0
    d = _strict_loads(out)
    assert d["stimulus"]["kind"] == "step" and d["stimulus"]["amp"] == 10.0
    # t_off is "never" (infinite): null in strict JSON, not Infinity
    assert d["stimulus"]["t_off"] is None
    # every spike time of the run is listed, none cut
    assert len(d["spike_times_ms"]) > 100
    times = d["spike_times_ms"]
    assert times == sorted(times) and times[0] >= d["stimulus"]["t_on"]


@pytest.mark.parametrize("model", ["ddm", "wong_wang", "wilson_cowan", "hopfield"])
def test_printed_units_are_the_declared_ones(model, capsys):
    from neuroscape.models import get_spec

    spec = get_spec(model)
    rc, out, _ = run_cli(["simulate", model, "--quiet"], capsys)
    assert rc in (0, 1)
    printed = dict(tok.split("=", 1) for tok in out.split("  ") if "=" in tok)
    for o in spec.outputs:
        text = printed[o.name].strip()
        parts = text.split()
        if o.unit in ("1", ""):
            assert len(parts) == 1, f"{o.name}: dimensionless printed with a unit: {text!r}"
        else:
            assert parts[1] == o.unit, f"{o.name}: printed {text!r}, declared {o.unit}"
        assert parts[0] == "nan" or math.isfinite(float(parts[0]))


def test_json_of_every_model_parses_strictly(capsys):
    from neuroscape.models import available

    rc, out, _ = run_cli(["models", "--json"], capsys)
    assert rc == 0
    rows = _strict_loads(out)
    assert [r["name"] for r in rows] == available()
    for name in available():
        rc, out, _ = run_cli(["params", name, "--json"], capsys)
        assert rc == 0
        d = _strict_loads(out)
        assert {o["name"] for o in d["outputs"]} and all("unit" in o for o in d["outputs"])
        assert d["settings"]["dt_ms"] > 0


def test_params_shows_outputs_units_and_default_settings(capsys):
    rc, out, _ = run_cli(["params", "hh"], capsys)
    assert rc == 0
    assert "outputs:" in out and "rate" in out and "Hz" in out
    assert "default settings:" in out and "integrator" in out


def test_help_of_every_command_states_every_default():
    from neuroscape.testing import all_parsers, options_without_a_stated_default

    parsers = all_parsers()
    assert len(parsers) > 20  # every command and sub-command is walked
    assert options_without_a_stated_default(parsers) == []


def test_broken_pipe_is_quiet():
    import subprocess
    import sys

    p = subprocess.run(
        # about 200 kB of spike times: more than a pipe holds, so the write meets a closed pipe
        f"{sys.executable} -m neuroscape.cli.main simulate lif --current 10 --duration-ms 100000 "
        "--json | head -1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert p.stdout.strip() == "{"
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


# --- answers that used to be silently wrong ----------------------------------------------------


def test_negative_values_are_numbers_not_options(tmp_path, capsys):
    rc, out, err = run_cli(
        ["fi-curve", "lif", "--currents", "-1,0,3", "--duration-ms", "300", "--out", str(tmp_path)],
        capsys,
    )
    assert rc == 0, err
    rows = (tmp_path / "fi_curve.csv").read_text().splitlines()
    assert [float(r.split(",")[0]) for r in rows[1:]] == [-1.0, 0.0, 3.0]


def test_a_window_without_spikes_is_flagged_not_reported_as_silence(capsys):
    rc, out, err = run_cli(
        ["simulate", "lif", "--current", "3", "--duration-ms", "300", "--window-ms", "0.1"],
        capsys,
    )
    assert rc == 0 and "rate=0 Hz" in out
    assert "holds none of the run's" in err


def test_ddm_study_summary_is_finite_when_every_trial_picks_one_bound(tmp_path, capsys):
    # at drift 2 and 50 trials every trial ends at the upper bound: the simulated SE is 0
    rc, out, _ = run_cli(["theory", "ddm", "--trials", "50", "--out", str(tmp_path)], capsys)
    assert rc == 0
    d = _strict_loads(out)
    assert d["max_p_error_in_se"] < 10 and d["max_rt_error_in_se"] < 10


def test_bifurcation_too_short_run_warns(tmp_path, capsys):
    with pytest.warns(UserWarning, match="fixed point is unstable"):
        rc, _, _ = run_cli(
            [
                "bifurcation",
                "fhn",
                "--param",
                "I",
                "--range",
                "0:1:0.25",
                "--duration-ms",
                "0.1",
                "--out",
                str(tmp_path),
            ],
            capsys,
        )
    assert rc == 0
