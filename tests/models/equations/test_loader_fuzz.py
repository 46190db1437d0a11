"""Fuzzing the equation-file loader (hypothesis): random edits of valid files give either a
model or one line naming the file, never a traceback or a hang."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuroscape as ns
from neuroscape.models.equations import EquationError, load_model_file

LIB = Path(ns.__file__).parent / "models" / "library"
ADEX = Path(ns.__file__).parent / "models" / "equations" / "models" / "adex.yaml"
SOURCES = [LIB / "lif.yaml", LIB / "izhikevich.yaml", LIB / "morris_lecar.yaml",
           LIB / "qif.yaml", ADEX]  # fmt: skip
TEXTS = [p.read_text() for p in SOURCES]
# pieces an edit inserts: the grammar's tokens, units, numbers that strain the parser/sympy
TOKENS = ["*", "/", "**", ":", "(", ")", "=", "+=", "-", " ", "\n", "  ", "mV", "ms", "pA", "nS",
          "1/ms", "cm**2", "exp(", "log(", "sqrt(", "clip(", "exprel(", "abs(", "dv/dt", "v",
          "w", "I", "0", "1e308", "-1e-300", "10**10**10", "9" * 40, "{", "}", "[", "]", ",",
          "#", "'", '"', "|", ">", "<", ">=", "unless refractory", "degC", "^", "nan", "inf",
          "lambda", "__import__", "t", "dt", "xi", "exp(exp(100))"]  # fmt: skip


def _evaluate(m) -> None:
    """The generated Python runs: the derivatives at the declared defaults and initial state
    (pure Python, numba's compile is left to the other tests)."""
    import importlib

    import numpy as np

    mod = importlib.import_module(m.module)
    p = np.array([[q.default for q in m.spec.parameters]])
    y = m.initial_state(p)[0]
    with np.errstate(all="ignore"):
        mod.rhs.py_func(*y, 0.0, *p[0])


class Hang(Exception):
    pass


@st.composite
def edited(draw):
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 3))):
        n = len(text)
        i = draw(st.integers(0, n))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "line"]))
        if kind == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif kind == "delete":
            j = draw(st.integers(i, min(n, i + 12)))
            text = text[:i] + text[j:]
        elif kind == "replace":
            j = draw(st.integers(i, min(n, i + 6)))
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[j:]
        else:  # drop or duplicate a whole line
            lines = text.split("\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines[k:k + 1] = [] if draw(st.booleans()) else [lines[k], lines[k]]
            text = "\n".join(lines)
    return text


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSCAPE_CACHE_DIR", str(tmp_path / "kernels"))


def _on_alarm(signum, frame):
    raise Hang()


@pytest.mark.slow  # hundreds of mutated model files loaded: 14 s
def test_random_edits_give_a_model_or_one_line(tmp_path):
    outcomes: list[str] = []

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(edited())
    def one(text):
        path = tmp_path / "fuzz.yaml"
        path.write_text(text)
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(10)  # a hang (sympy evaluating 10**10**10, say) fails the test
        try:
            m = load_model_file(path)
            outcomes.append("model")
            _evaluate(m)
        except EquationError as exc:
            outcomes.append("error")
            msg = str(exc)
            assert "\n" not in msg, msg
            assert msg.startswith(str(path)), msg
        except Hang:
            pytest.fail(f"the loader hung on:\n{text}")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)

    one()
    # the edits must produce both outcomes, or the strategy is not exercising the loader
    n_model, n_error = outcomes.count("model"), outcomes.count("error")
    print(n_model, n_error)
    assert n_model >= 20 and n_error >= 50, (n_model, n_error)


LIF_RHS = "(-(V - V_rest) + R*I)/tau"


@pytest.mark.parametrize("rhs,words", [
    ("10**10**10*" + LIF_RHS, "exponent"),  # sympy would compute 10**(10**10) exactly
    (LIF_RHS + "*exp(exp(exp(100)))", "beyond the range of a float"),
    (LIF_RHS + "*(2**0.5)**(10**6)", "exponent"),
    ("(" * 500 + LIF_RHS + ")" * 500, "syntax error"),
    ("__import__('os').getcwd()", "unknown function"),
    ("(lambda x: x)(V)/ms", "unknown function"),
    ("V.real/ms", "is not allowed"),
])  # fmt: skip
def test_hostile_expressions_are_refused_quickly(tmp_path, rhs, words):
    text = (LIB / "lif.yaml").read_text().replace(LIF_RHS, rhs)
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(10)
    try:
        with pytest.raises(EquationError) as err:
            load_model_file(path)
    except Hang:
        pytest.fail(f"the loader hung on {rhs[:60]!r}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}:9: ") and words in msg, msg
