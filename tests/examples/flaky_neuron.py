"""The NEURON example (examples/neuron_cell.py) made to misbehave in bands of its step amplitude:
it hangs, raises, returns NaN or drops an output there, as real simulator scripts do. Everywhere
else it is the example itself."""

import importlib.util
import math
import time
from pathlib import Path

from neuroscape import FunctionModel

_path = Path(__file__).resolve().parents[2] / "examples" / "neuron_cell.py"
_spec = importlib.util.spec_from_file_location("neuron_cell_example", _path)
cell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cell)

HANG = (0.10, 0.12)  # nA
RAISE = (0.15, 0.17)
NAN = (0.20, 0.22)
MISSING = (0.25, 0.26)


def simulate(p: dict, seed: int) -> dict:
    amp = p["amp"]
    if HANG[0] <= amp < HANG[1]:
        time.sleep(600)  # a hung simulation: ended by timeout_s
    if RAISE[0] <= amp < RAISE[1]:
        raise RuntimeError(f"NEURON: cvode failed at amp={amp:.4f} nA")
    out = cell.simulate(p, seed)
    if NAN[0] <= amp < NAN[1]:
        out["rate"] = math.nan
    if MISSING[0] <= amp < MISSING[1]:
        del out["v_mean"]
    return out


MODEL = FunctionModel(
    "flaky_neuron",
    cell.MODEL.spec.parameters,
    cell.MODEL.spec.outputs,
    simulate,
    timeout_s=3,
    description="the NEURON example, hanging, raising or returning NaN in bands of amp",
)
