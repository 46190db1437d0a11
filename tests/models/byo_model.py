"""A function model for the contract tests: cheap, deterministic in (parameters, seed), and
misbehaving on purpose in parts of its box (raises, hangs, dies, returns NaN, misses an
output)."""

import math
import os
import time

from neuroscape import FunctionModel, Output, Parameter


def run(p: dict, seed: int) -> dict:
    a, b = p["a"], p["b"]
    if a > 0.95:
        raise RuntimeError(f"diverged at a={a:.3f}")
    if 0.9 < a <= 0.95:
        time.sleep(60)  # hangs: ended by timeout_s
    if 0.85 < a <= 0.9:
        os._exit(7)  # the simulator crashes its process
    if 0.8 < a <= 0.85:
        return {"y": math.nan, "z": 1.0}
    if 0.75 < a <= 0.8:
        return {"y": 1.0}  # an output missing
    return {"y": 3.0 * a + b, "z": float(seed % 1009) + a * b}


MODEL = FunctionModel(
    "byo",
    [Parameter("a", 0.5, 0.0, 1.0, "1"), Parameter("b", 1.0, -2.0, 2.0, "mV")],
    [Output("y", "mV"), Output("z", "1")],
    run,
    timeout_s=1.5,
)


def wrong_keys(p: dict, seed: int) -> dict:
    return {"rate": 1.0}


WRONG = FunctionModel(
    "wrong", [Parameter("a", 0.5, 0.0, 1.0)], [Output("y", "mV")], wrong_keys, timeout_s=5
)
NOT_A_MODEL = 42
