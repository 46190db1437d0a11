"""A function model of our own for the sweep tests (``tests/explore/flaky_model.py:MODEL``).

Cheap and deterministic in (parameters, seed), and misbehaving on known parts of its box, the
ways a real simulator does: for a > 0.9 it raises, for 0.8 < a <= 0.9 it hangs (past timeout_s),
for 0.7 < a <= 0.8 it returns NaN, for 0.6 < a <= 0.7 it leaves out the output ``z``.
``SLEEP_S`` slows every row down, so that a sweep lasts long enough to be killed midway.
"""

import math
import os
import time

from neuroscape import FunctionModel, Output, Parameter

SLEEP_S = float(os.environ.get("FLAKY_SLEEP_S", "0"))


def simulate(p: dict[str, float], seed: int) -> dict[str, float]:
    a, b = p["a"], p["b"]
    if SLEEP_S:
        time.sleep(SLEEP_S)
    if a > 0.9:
        raise RuntimeError(f"blow-up at a={a:.4f}")
    if a > 0.8:
        time.sleep(120)  # a hang: ended by the timeout
    if a > 0.7:
        return {"y": float("nan"), "z": 1.0}
    if a > 0.6:
        return {"y": 1.0}
    return {"y": math.sin(3.0 * a) + b * b, "z": (seed % 1_000_003) / 1000.0 + a * b}


MODEL = FunctionModel(
    "flaky",
    parameters=[Parameter("a", 0.5, 0.0, 1.0), Parameter("b", 1.0, 0.0, 2.0, "mV")],
    outputs=[Output("y", "mV"), Output("z", "Hz")],
    simulate=simulate,
    timeout_s=1.0,
)
