"""The one model contract: the registry, function models, and no generic stage naming a model."""

from __future__ import annotations

import ast
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.core.rng import row_keys
from neuroscape.models import (
    FunctionModel,
    ModelError,
    Output,
    Parameter,
    available,
    register,
    resolve,
    unregister,
)
from neuroscape.testing import run_cli

HERE = Path(__file__).parent
REF = f"{HERE / 'byo_model.py'}:MODEL"
SRC = Path(ns.__file__).parent


def _direct():
    """The user's function itself, imported without neuroscape's loader."""
    spec = importlib.util.spec_from_file_location("byo_direct", HERE / "byo_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run


def test_builtin_models_come_from_the_entry_point_group():
    group = {ep.name for ep in entry_points(group="neuroscape.models")}
    assert {"cortical", "hh", "lif", "ddm", "brunel"} <= group
    assert set(available()) >= group
    for name in group:
        m = resolve(name)
        assert m.name == name and m.spec.parameters and m.spec.outputs


def test_register_and_resolve_a_model_object():
    m = FunctionModel("reg_test", [Parameter("x", 1.0, 0.0, 2.0)], [Output("y")], abs)
    register(m)
    try:
        assert resolve("reg_test") is m and "reg_test" in available()
        with pytest.raises(ModelError, match="registered already"):
            register(m)
    finally:
        unregister("reg_test")
    with pytest.raises(ModelError, match="unknown model 'reg_test'"):
        resolve("reg_test")


def test_function_model_rows_equal_direct_calls_and_failures_are_marked():
    rows = [
        {"a": 0.1, "b": 0.5},
        {"a": 0.97},  # raises
        {"a": 0.3, "b": -1.0},
        {"a": 0.92},  # hangs past timeout_s
        {"a": 0.87},  # its process dies
        {"a": 0.82},  # NaN
        {"a": 0.78},  # an output missing
        {"a": 0.6, "b": 2.0},
    ]
    res = ns.simulate(REF, rows, seed=5, workers=2)
    run = _direct()
    keys = row_keys(5, np.arange(len(rows)))
    spec = resolve(REF).spec
    for r, row in enumerate(rows):
        p = dict(spec.defaults, **row)
        if res.ok[r]:
            want = run(p, int(keys[r]))
            assert res.outputs[r].tolist() == [want["y"], want["z"]]
    assert res.ok.tolist() == [True, False, True, False, False, False, False, True]
    errors = res.errors
    assert "RuntimeError: diverged at a=0.970" == errors[1]
    assert "timed out" in errors[3]
    assert "died" in errors[4]
    assert "non-finite output y=nan" == errors[5]
    assert "missing output 'z'" in errors[6]
    assert all(e is None for e in (errors[0], errors[2], errors[7]))


def test_function_model_results_do_not_depend_on_chunking_or_workers():
    rows = [{"a": a, "b": 0.1} for a in np.linspace(0.0, 0.7, 7)]
    a = ns.simulate(REF, rows, seed=3, workers=1, chunk_size=2)
    b = ns.simulate(REF, rows, seed=3, workers=3, chunk_size=7)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    c = ns.simulate(REF, rows[4:], seed=3)  # other rows: other seeds
    assert not np.array_equal(a.outputs[:3, 1], c.outputs[:3, 1])


@pytest.mark.parametrize(
    "ref, message",
    [
        ("nofile.py:MODEL", "model file 'nofile.py' does not exist"),
        (f"{HERE / 'byo_model.py'}:NOPE", "has no 'NOPE'; models in it: MODEL, WRONG"),
        (f"{HERE / 'byo_model.py'}:NOT_A_MODEL", "is a int, not a neuroscape model"),
        ("nonesuch", "unknown model 'nonesuch'; allowed: "),
    ],
)
def test_bad_model_references_get_one_line_and_exit_2(ref, message, capsys):
    rc, out, err = run_cli(["params", ref], capsys)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_wrong_keys_at_the_first_row_are_refused(tmp_path, capsys):
    out = tmp_path / "o.csv"
    table = tmp_path / "p.csv"
    table.write_text("a\n0.2\n0.4\n")
    rc, _, err = run_cli(
        ["simulate", f"{HERE / 'byo_model.py'}:WRONG", "--params", str(table), "--out", str(out)],
        capsys,
    )
    assert rc == 2 and "simulate returned the keys rate; declared outputs: y" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: FunctionModel("d", [Parameter("x", 1, 0, 2), Parameter("x", 1, 0, 2)],
                                  [Output("y")], abs),
            "duplicate parameter name 'x'",
        ),
        (lambda: Parameter("x", 3.0, 0.0, 2.0, "mV"), "default 3 is outside its bounds [0, 2] mV"),
        (lambda: Parameter("x", 1.0, 2.0, 0.0), "low=2 must be < high=0"),
        (lambda: FunctionModel("d", [Parameter("x", 1, 0, 2)], [Output("x")], abs),
         "'x' is both a parameter and an output"),
        (lambda: FunctionModel("d", [Parameter("x", 1, 0, 2)], [Output("y")], 3), "not callable"),
        (lambda: FunctionModel("d", [Parameter("x", 1, 0, 2)], [Output("y")], abs, timeout_s=0),
         "timeout_s=0"),
    ],
)
def test_bad_declarations_are_refused_naming_the_value(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_bad_declaration_in_a_model_file_exits_2(tmp_path, capsys):
    f = tmp_path / "bad.py"
    f.write_text(
        "from neuroscape import FunctionModel, Parameter, Output\n"
        "MODEL = FunctionModel('bad', [Parameter('g', 0.5, 0.0, 0.2, 'S/cm2')],"
        " [Output('r', 'Hz')], abs)\n"
    )
    rc, _, err = run_cli(["params", f"{f}:MODEL"], capsys)
    assert rc == 2 and "default 0.5 is outside its bounds [0, 0.2] S/cm2" in err


def test_function_models_refuse_engine_settings():
    with pytest.raises(ValueError, match="sets its own duration"):
        ns.simulate(REF, {"a": 0.1}, duration_ms=100.0)


def test_the_circuit_labels_come_from_its_declared_output_domain():
    spec = resolve("cortical").spec
    dom = spec.output_domain
    o = np.array([[5.0, 12.5], [30.0, 165.0], [10.0, 20.0], [31.0, 100.0], [0.0, 0.0]])
    # the paper's O: 5 <= r_E <= 30 Hz and 2.5 <= r_I / r_E <= 5.5
    assert dom.contains(o, ["r_E", "r_I"]).tolist() == [True, True, False, False, False]
    assert spec.to_dict()["output_domain"] == type(spec).from_dict(spec.to_dict()).to_dict()[
        "output_domain"
    ]


def test_a_declaration_round_trips_through_its_dict():
    for name in available():
        spec = resolve(name).spec
        back = type(spec).from_dict(spec.to_dict())
        assert back.to_dict() == spec.to_dict()
        assert back.parameter_names == spec.parameter_names
        for p, q in zip(spec.parameters, back.parameters, strict=True):
            assert (p.hard_low, p.hard_high) == (q.hard_low, q.hard_high)


# --- no generic stage tests for a model by name -------------------------------------------------

GENERIC = ["core", "sim", "explore", "fit", "surrogate", "plot", "cli", "api.py", "io.py"]


def _python_files():
    for part in GENERIC:
        path = SRC / part
        for f in [path] if path.suffix == ".py" else sorted(path.rglob("*.py")):
            # the theory command runs named studies, some of which share a model's name
            if f.name != "theory_cmds.py":
                yield f


def test_no_generic_stage_compares_with_a_model_name():
    names = set(available())
    hits = []
    for f in _python_files():
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                consts = [
                    c
                    for c in [node.left, *node.comparators]
                    for c in ([*c.elts] if isinstance(c, ast.Tuple | ast.List | ast.Set) else [c])
                    if isinstance(c, ast.Constant) and c.value in names
                ]
                if consts:
                    hits.append(f"{f.relative_to(SRC)}:{node.lineno} {consts[0].value!r}")
    assert not hits, hits


def test_no_stage_uses_the_old_per_kind_name_lists():
    old = {"NEURON_MODELS", "NETWORK_MODELS", "THEORY_MODELS", "MODELS", "DECISION_MODELS"}
    hits = [
        f"{f.relative_to(SRC)}:{node.lineno}"
        for f in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(f.read_text()))
        if (isinstance(node, ast.Name) and node.id in old)
        or (isinstance(node, ast.alias) and node.name in old)
    ]
    assert not hits, hits


def test_user_facing_text_cites_papers_not_document_numbers():
    texts = [Path(ns.__file__).parents[2] / "README.md", *SRC.rglob("*.py")]
    docs = Path(ns.__file__).parents[2] / "docs"
    texts += [p for p in docs.rglob("*.md")]
    bad = [str(p) for p in texts if "seed 00" in p.read_text().lower()]
    assert not bad, bad


def test_a_function_model_runs_from_a_script_read_on_stdin():
    # spawned workers re-run the parent's main script by its path; "<stdin>" has none
    import subprocess
    import sys

    script = (
        "import neuroscape as ns\n"
        f"r = ns.simulate({REF!r}, [{{'a': 0.1}}, {{'a': 0.2}}], workers=2)\n"
        "print(r.ok.tolist())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[True, True]", proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "params, outputs, message",
    [
        (["status"], ["y"], "'status' is a column of the model database's own"),
        (["x"], ["Seed"], "'Seed' is a column of the model database's own"),
        (["Y", "y", "Y__U"], ["z"], "cannot hold both 'Y' and 'Y__U' (their columns 'Y__U'"),
    ],
)
def test_names_the_database_uses_are_refused_by_a_sweep(params, outputs, message, tmp_path):
    from neuroscape.explore import run_sweep

    # a model may use them (Izhikevich 2007 has C and c): only the database cannot hold them
    m = FunctionModel(
        "m", [Parameter(p, 0.5, 0.0, 1.0) for p in params], [Output(o) for o in outputs], abs
    )
    with pytest.raises(ValueError) as e:
        run_sweep(m, 4, tmp_path / "m.db", progress=False)
    assert message in str(e.value) and list(tmp_path.iterdir()) == []


def _c_minus_twice_c(params: dict, seed: int) -> dict:
    return {"d": params["C"] - 2.0 * params["c"], "D": params["C"]}


def test_names_that_differ_only_in_case_get_their_own_columns(tmp_path):
    # Izhikevich 2007's capacitance C and reset c, and outputs d and D: each value must land in
    # its own column and be read back under its own name (SQL ignores the case of column names)
    from neuroscape.explore import open_for_reading, run_sweep
    from neuroscape.surrogate import training_data

    m = FunctionModel("cc", [Parameter("C", 0.5, 0.0, 1.0), Parameter("c", 2.5, 2.0, 3.0)],
                      [Output("d"), Output("D")], _c_minus_twice_c)  # fmt: skip
    assert m.spec.columns == {"C": "C__U", "c": "c", "d": "d", "D": "D__U"}
    db = tmp_path / "cc.db"
    run_sweep(m, 16, db, progress=False, workers=1)
    store = open_for_reading(db)
    try:
        _, rows = store.query('SELECT "C__U", "c", "d", "D__U" FROM runs')
    finally:
        store.close()
    big_c, small_c, d, big_d = np.array(rows, dtype=float).T
    assert len(rows) == 16 and np.all(big_c < 1.0) and np.all(small_c >= 2.0)
    np.testing.assert_allclose(d, big_c - 2.0 * small_c)
    np.testing.assert_allclose(big_d, big_c)
    _, p, o, _, _ = training_data(db)  # a reader that selects the columns by declared name
    np.testing.assert_allclose(o[:, 0], p[:, 0] - 2.0 * p[:, 1])
    np.testing.assert_allclose(o[:, 1], p[:, 0])


def test_hard_limits_must_contain_the_bounds():
    with pytest.raises(ValueError, match=r"hard limits \[0.6, inf\] must contain the bounds"):
        Parameter("x", 0.5, 0.0, 1.0, hard_low=0.6)
    with pytest.raises(ValueError, match="hard_low=nan must be finite"):
        Parameter("x", 0.5, 0.0, 1.0, hard_low=float("nan"))


def test_a_model_file_imports_the_modules_beside_it_and_a_free_text_version_is_stored(tmp_path):
    from neuroscape.explore import open_for_reading, run_sweep

    folder = tmp_path / "my dir-1"
    folder.mkdir()
    (folder / "helper_mod.py").write_text("def calc(x):\n    return 2.0 * x\n")
    (folder / "my-cell.py").write_text(
        "from helper_mod import calc\n"
        "from neuroscape import FunctionModel, Output, Parameter\n"
        "def run(p, seed):\n"
        "    return {'y': calc(p['x'])}\n"
        "MODEL = FunctionModel('cell', [Parameter('x', 0.5, 0.0, 1.0)], [Output('y', 'mV')],"
        " run, version=\"it's 2\")\n"
    )
    db = tmp_path / "c.db"
    rep = run_sweep(f"{folder / 'my-cell.py'}:MODEL", 4, db, sampler="grid", progress=False)
    assert rep.n_failed == 0
    store = open_for_reading(db)
    try:
        _, rows = store.query("SELECT x, y FROM runs ORDER BY row_index")
        assert all(y == 2.0 * x for x, y in rows)
        _, ver = store.query("SELECT value FROM meta WHERE key = 'model_version'")
        assert ver == [("it's 2",)]
    finally:
        store.close()


def test_a_string_is_not_a_number():
    m = FunctionModel("s", [Parameter("x", 0.5, 0.0, 1.0)], [Output("y")], str_output)
    with pytest.raises(ValueError, match=r"simulate returned y='1.5', which is not a number"):
        ns.simulate(m, {"x": 0.1})
    m.close()


def str_output(p, seed):
    return {"y": "1.5"}


def test_a_function_defined_in_an_interactive_session_is_refused_in_one_line():
    import subprocess
    import sys

    script = (
        "import neuroscape as ns\n"
        "def f(p, s):\n"
        "    return {'y': p['x']}\n"
        "m = ns.FunctionModel('inmain', [ns.Parameter('x', .5, 0, 1)], [ns.Output('y')], f)\n"
        "try:\n"
        "    ns.simulate(m, {'x': 0.2})\n"
        "except ValueError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120
    )
    assert "simulate is defined in an interactive session" in proc.stdout, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_simulate_returns_the_spike_trains_and_voltages_of_single_neurons():
    st = ns.make_stimulus("step", amp=10.0)
    rows = [{}, {"g_Na": 100.0}]
    r = ns.simulate("hh", rows, stimulus=st, record_spikes=True, record_v=[0], duration_ms=100)
    direct = ns.simulate_neurons("hh", rows, st, duration_ms=100.0, record_v=True)
    assert len(r.spikes) == 2 and r.voltages.shape == (2, 1, len(r.t_ms))
    for k in range(2):
        np.testing.assert_array_equal(r.spikes[k][0], direct.spike_times[k])
        np.testing.assert_array_equal(r.voltages[k, 0], direct.v[k])
    assert len(r.spikes[0][0]) >= 5  # a 10 uA/cm2 step makes the squid axon fire repetitively
    with pytest.raises(ValueError, match="a single-neuron model has neuron 0 only"):
        ns.simulate("hh", stimulus=st, record_v=[1], duration_ms=10)


def test_every_database_writer_refuses_names_it_cannot_hold(tmp_path):
    # a fit's --db opens the store as a sweep does: the check is the store's, not the sweep's
    from neuroscape.explore import ModelStore

    m = FunctionModel("st", [Parameter("status", 0.5, 0.0, 1.0)], [Output("y")], abs)
    with pytest.raises(ValueError, match="'status' is a column of the model database's own"):
        ModelStore(tmp_path / "f.db", m.spec, writer=True)
    assert list(tmp_path.iterdir()) == []
