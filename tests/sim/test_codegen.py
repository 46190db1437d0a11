from neuroscape.core import codegen
from neuroscape.core.integrators import get_tableau, step_source


def test_generated_modules_are_keyed_on_source_and_dependencies(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSCAPE_CACHE_DIR", str(tmp_path))
    dep = tmp_path / "dep.txt"
    dep.write_text("v1")
    a = codegen.load_generated("t", "X = 1\n", [dep])
    assert a.X == 1 and a.__file__.startswith(str(tmp_path))
    assert codegen.load_generated("t", "X = 1\n", [dep]) is a
    dep.write_text("v2")  # a changed dependency must never reuse the old module (or its cache)
    b = codegen.load_generated("t", "X = 1\n", [dep])
    assert b.__name__ != a.__name__
    assert codegen.load_generated("t", "X = 2\n", [dep]).X == 2


def test_step_source_is_the_tableau():
    src = step_source(get_tableau("midpoint"), 1, 0)
    assert src.splitlines() == [
        "def step(y0, dt, ):",
        "    k0_0, = rhs(y0, )",
        "    k1_0, = rhs(y0 + dt * (0.5 * k0_0), )",
        "    return y0 + dt * (1.0 * k1_0),",
    ]
