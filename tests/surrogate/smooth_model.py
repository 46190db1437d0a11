"""A tiny function model for the surrogate tests: a closed form of two parameters plus noise that
depends only on the row's seed, so a test can recompute any stored or verified output exactly."""

import math

import neuroscape as ns

NOISE = 0.01  # half-width of the seed's noise, in the outputs' units


def noise(seed: int) -> float:
    """A deterministic function of the seed in [-NOISE, NOISE]."""
    return NOISE * ((int(seed) % 2001) / 1000.0 - 1.0)


def smooth(p: dict[str, float], seed: int) -> dict[str, float]:
    e = noise(seed)
    return {"y": math.sin(2.0 * p["a"]) + p["b"] ** 2 + e, "z": p["a"] * p["b"] - e}


MODEL = ns.FunctionModel(
    "smooth",
    parameters=[ns.Parameter("a", 0.5, 0.0, 1.0, "mV"), ns.Parameter("b", 0.0, -1.0, 1.0, "1")],
    outputs=[ns.Output("y", "Hz"), ns.Output("z", "1")],
    simulate=smooth,
    # a declared plausible region, so that the derivative statistics have one to keep samples in
    output_domain=ns.OutputDomain(
        bounds=(("y", 0.2, 1.5),), inside="plausible", outside="implausible"
    ),
)

# the same function under another declaration (a parameter c instead of b): a mismatch
OTHER = ns.FunctionModel(
    "smooth_other",
    parameters=[ns.Parameter("a", 0.5, 0.0, 1.0, "mV"), ns.Parameter("c", 0.0, -1.0, 1.0, "1")],
    outputs=[ns.Output("y", "Hz"), ns.Output("z", "1")],
    simulate=lambda p, seed: smooth({"a": p["a"], "b": p["c"]}, seed),
)
