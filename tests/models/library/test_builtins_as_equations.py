"""The built-in single-neuron models written as equation files (issue 17, item 3).

Each file in neuroscape/models/library/builtins/ must declare the same parameters as its built-in
(names, units, defaults, bounds; presets for izhikevich) and give the same spike trains under
constant current steps with the same integrator and dt. The reference is the hand-written
kernel of the built-in model, which the equation compiler does not produce.

Measured (this file's runs, 2 current steps each):
- lif, exponential Euler: bitwise. RK4: within 6e-4 ms over 300 ms (the loader holds V at V_th
  inside the RK4 stages of the crossing step; the built-in does not).
- fhn (midpoint, rk4), hh (rk4, exponential Euler; celsius 6.3 and 20): within 2e-13 ms (the
  generated arithmetic is reordered by sympy).
- cond_if (exponential Euler, rk4): bitwise (grid-step threshold, as the built-in).
- izhikevich, rk4 at 0.1 ms, all seven presets: equal spike counts, times within 0.75 ms over
  300 ms (0.07 ms for RS). Not the arithmetic: the loader clamps v at the threshold (30 mV) in
  the RK4 stages of the crossing step, which the built-in does not, so each interpolated
  crossing and the u it resets from differ slightly and the differences accumulate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import neuroscape
from neuroscape.core.stimuli import make_stimulus
from neuroscape.models import resolve
from neuroscape.models.equations import load_model_file

DIR = Path(neuroscape.__file__).resolve().parent / "models" / "library" / "builtins"

# built-in -> [(integrator, dt ms, duration ms, two step amplitudes in the current's unit,
#               parameter sets, max |spike time difference| in ms; 0.0 = bitwise)]
CASES = {
    "lif": [
        ("exponential_euler", 0.1, 300.0, [1.0, 3.0], [{}], 0.0),
        ("rk4", 0.1, 300.0, [1.0, 3.0], [{}], 1e-3),
    ],
    "fhn": [
        ("midpoint", 0.05, 300.0, [0.5, 1.0], [{}], 1e-9),
        ("rk4", 0.05, 300.0, [0.5, 1.0], [{}], 1e-9),
    ],
    "izhikevich": [("rk4", 0.1, 300.0, [10.0, 15.0], "presets", 1.0)],
    "cond_if": [
        ("exponential_euler", 0.1, 300.0, [0.06, 0.1], [{}], 0.0),
        ("rk4", 0.1, 300.0, [0.06, 0.1], [{}], 0.0),
    ],
    "hh": [
        ("rk4", 0.01, 100.0, [10.0, 20.0], [{}, {"celsius": 20.0}], 1e-9),
        ("exponential_euler", 0.01, 100.0, [10.0, 20.0], [{}, {"celsius": 20.0}], 1e-9),
    ],
}

# declared units the loader cannot spell as the built-in does (see the comments in hh.yaml)
UNIT_EXCEPTIONS = {("hh", "celsius"): ("degC", "1")}


def _pair(name: str):
    return resolve(name), load_model_file(DIR / f"{name}.yaml")


@pytest.mark.parametrize("name", list(CASES))
def test_same_declaration(name: str) -> None:
    builtin, eq = _pair(name)
    assert eq.name == f"{name}_eq"
    bp, ep = builtin.spec.parameters, eq.spec.parameters
    assert [p.name for p in ep] == [p.name for p in bp]
    for b, e in zip(bp, ep, strict=True):
        assert (e.default, e.low, e.high) == (b.default, b.low, b.high), b.name
        want = UNIT_EXCEPTIONS.get((name, b.name))
        if want is not None:
            assert (b.unit, e.unit) == want
        else:  # '^' is spelled '**' in equation files
            assert e.unit == b.unit.replace("^", "**"), b.name
    assert eq.states == builtin.states
    assert eq.current_unit == builtin.current_unit.replace("^", "**")
    assert dict(eq.presets or {}) == dict(builtin.presets or {})


@pytest.mark.parametrize("name", list(CASES))
def test_same_spike_times(name: str) -> None:
    builtin, eq = _pair(name)
    for integrator, dt, duration, amps, psets, tol in CASES[name]:
        if psets == "presets":
            psets = list(builtin.presets.values())
            assert len(psets) == 7  # RS, IB, CH, FS, LTS, TC, RZ
        stim = make_stimulus("step", amp=amps)
        for p in psets:
            kw = dict(duration_ms=duration, dt_ms=dt, integrator=integrator)
            rb = neuroscape.simulate_neurons(builtin, [p], stim, **kw)
            re = neuroscape.simulate_neurons(eq, [p], stim, **kw)
            for k, amp in enumerate(amps):
                tb, te = rb.spike_times[k], re.spike_times[k]
                what = f"{name} {integrator} {p} I={amp} {builtin.current_unit}"
                assert len(tb) > 0 or amp == amps[0], f"{what}: no spikes, nothing compared"
                assert len(te) == len(tb), f"{what}: {len(te)} spikes, built-in {len(tb)}"
                if tol == 0.0:
                    assert np.array_equal(te, tb), what
                else:
                    np.testing.assert_allclose(te, tb, rtol=0, atol=tol, err_msg=what)
