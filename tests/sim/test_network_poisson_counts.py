"""Poisson input counts of the compiled network kernels against the stream's definition.

Each input's count in step s for neuron i is the inverse-CDF sample of its 32-bit uniform,
mix32(seed + LANE[off + i]), the seed being the low or high half of the step's word
word(key, ((s * N + off) << SUB_BITS) | pair) (``core.rng.input_uniforms_np``). The kernels
count it by branch-free comparisons with the first few table entries and an exact second pass
for the rest (float32 on the CPU: int32 comparisons, a per-row number of entries, populations
padded to whole vectors); whatever the shortcut, the counts must be those of the definition,
computed here with NumPy from the words and the table.

A takes four inputs (both words, both halves; each row picks another number of fast comparisons
per input), B one (its offset in the counter, no padding): the float32 kernel generates a loop
per input and variant, so each input kept only for symmetry cost seconds of compile (8 inputs:
about 70 s cold under load; 5: measured below that in proportion to the loops, 20 against 32).
"""

from __future__ import annotations

import numpy as np
import pytest

from neuroscape.core.rng import input_uniforms_np, poisson_thresholds, row_keys
from neuroscape.core.settings import Recording, SimSettings
from neuroscape.models.network import network_model
from neuroscape.sim.network_engine import NetworkBatch

DT = 0.1  # ms
N_STEPS = 300
BASE = 32  # the kicks of input m are BASE**m mV: one step's increment encodes every count
RATES = ("ra", "rb", "rc", "rd")
# rows: rates in Hz, so that inputs change the number of fast comparisons between rows (mean
# counts per step 0.004 .. 2, the largest with frequent draws past the fast entries)
ROWS = np.array([[40.0, 2000.0, 20000.0, 600.0],
                 [20000.0, 600.0, 40.0, 2000.0],
                 [600.0, 20000.0, 2000.0, 40.0]])
SIZES = {"A": 75, "B": 21}  # 75 pads to 80 lanes in float32, 21 is left as it is
N_INPUTS = {"A": 4, "B": 1}  # inputs m < N_INPUTS[pop] onto each population, at rate RATES[m]

CELL = {
    "name": "acc",
    "equations": "dv/dt = I/(1*ms) : mV\n",
    "current": {"name": "I", "unit": "mV"},
    "threshold": "v > 1e9*mV",
    "reset": "v = 0*mV",
    "spike_timing": "grid",
    "initial": {"v": "0 mV"},
}


def _net(precision: str):
    inputs = {}
    for pop in SIZES:
        for m, r in enumerate(RATES[:N_INPUTS[pop]]):
            inputs[f"{pop}{m}"] = {"target": pop, "rate": r, "on_spike": f"v += {BASE**m}*mV"}
    return network_model({
        "name": f"poisson_counts_{precision}",
        "parameters": {r: {"default": "100 Hz", "low": "1 Hz", "high": "30000 Hz"}
                       for r in RATES},
        "populations": {p: {"size": n, "model": CELL} for p, n in SIZES.items()},
        "inputs": inputs,
        "outputs": {"rA": {"rate": "A"}},
        "settings": {"duration": f"{N_STEPS * DT} ms", "dt": f"{DT} ms",
                     "window": f"{N_STEPS * DT / 2} ms", "precision": precision},
    })


def _reference(keys: np.ndarray) -> np.ndarray:
    """(rows, N, steps) increments of v (mV) from the stream's definition and the tables."""
    n_total = sum(SIZES.values())
    out = np.zeros((len(keys), n_total, N_STEPS))
    off = 0
    for pop, n in SIZES.items():
        for m in range(N_INPUTS[pop]):
            tabs = poisson_thresholds(ROWS[:, m] * DT * 1e-3)
            for s in range(N_STEPS):
                u = input_uniforms_np(keys, s, n_total, off, m // 2, m % 2, n)
                for r in range(len(keys)):
                    counts = np.searchsorted(tabs[r], u[r].astype(np.int64), side="right")
                    out[r, off:off + n, s] += BASE**m * counts
        off += n
    return out


@pytest.mark.slow  # re-draws every count of the stream in Python
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_poisson_counts_are_the_inverse_cdf_samples_of_the_stream(precision):
    net = _net(precision)
    keys = row_keys(3, np.arange(len(ROWS)))
    n_total = sum(SIZES.values())
    st = SimSettings(N_STEPS * DT, DT, N_STEPS * DT / 2, "midpoint")
    res = NetworkBatch(net, conn_seed=0).run_chunk(
        ROWS, keys, st, "cpu", Recording(v_neurons=tuple(range(n_total))))
    assert res.ok.all()
    inc = np.diff(np.concatenate([np.zeros((len(ROWS), n_total, 1)),
                                  res.voltages.astype(np.float64)], axis=2), axis=2)
    ref = _reference(keys)
    # the largest input really passed its fast entries (the second pass ran)
    assert (ref // BASE**2 % BASE >= 6).sum() > 10
    assert (ref[:, SIZES["A"]:] >= 6).sum() > 10  # and B's (its one input, digit 0)
    np.testing.assert_array_equal(inc, ref)
