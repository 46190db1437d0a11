"""A NEURON cell as a neuroscape model: a Hodgkin-Huxley soma driven by a noisy current step.

Copy this file, replace ``simulate`` by your own NEURON script, and declare your parameters and
outputs. Every neuroscape command then takes the model as ``path/to/neuron_cell.py:MODEL``:

    neuroscape params examples/neuron_cell.py:MODEL
    neuroscape sweep examples/neuron_cell.py:MODEL --n 64 --db cell.db --workers 2
    neuroscape surrogate train --db cell.db --out cell_surrogate
    neuroscape tune --surrogate cell_surrogate --target rate=80 v_mean=-54 --verify
    neuroscape fit examples/neuron_cell.py:MODEL --target target.json --measure outputs

(``examples/run_pipeline.sh`` runs all of them.)

The cell: one cylindrical compartment (length = diameter = 20 um) with NEURON's built-in ``hh``
mechanism (Hodgkin & Huxley 1952, at 6.3 degC), as in NEURON's own tutorials (Carnevale & Hines
2006, The NEURON Book). An IClamp delivers a current step of amplitude ``amp`` from 50 ms to
550 ms; a second IClamp adds zero-mean Gaussian current noise (0.02 nA, redrawn every 0.1 ms)
from the row's seed, so the seed matters: two rows with the same parameters and different seeds
fire slightly differently, and the same (parameters, seed) gives the same outputs every time.

How neuroscape runs it: each row calls ``simulate(params, seed)`` in a separate worker process
(NEURON is neither thread-safe nor re-entrant). The cell is built once per process, on the first
call, and every call resets the state it uses (finitialize), so rows never leak into each other.
A row that raises, returns NaN, or runs past ``timeout_s`` is stored as a failed row with its
error text; the sweep goes on.
"""

from __future__ import annotations

import os

import numpy as np

from neuroscape import FunctionModel, Output, Parameter

# --- the protocol (fixed; not swept) -------------------------------------------------------------
DT_MS = 0.025  # NEURON's default fixed step
STEP_ON_MS = 50.0  # onset of the current step (a baseline before it)
STEP_MS = 500.0  # duration of the current step
TSTOP_MS = STEP_ON_MS + STEP_MS
NOISE_NA = 0.02  # s.d. of the current noise, nA
NOISE_DT_MS = 0.1  # the noise is redrawn at this interval (held in between)
THRESHOLD_MV = 0.0  # a spike is an upward crossing of 0 mV at the soma
V_INIT_MV = -65.0
CELSIUS = 6.3  # hh's rate constants are given at 6.3 degC (Hodgkin & Huxley 1952)

_cell = None  # built lazily, once per worker process (see _build)


def _build() -> dict:
    """Build the soma, its stimuli and its recordings (once per process)."""
    # imported here: the parent process only needs the declaration. -nogui: a worker has no
    # display, and NEURON would warn about it on stderr once per process
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    from neuron import h

    h.load_file("stdrun.hoc")
    soma = h.Section(name="soma")
    soma.L = soma.diam = 20.0  # um: area 1257 um2, so 0.1 nA is 8.0 uA/cm2
    soma.nseg = 1
    soma.cm = 1.0  # uF/cm2
    soma.Ra = 100.0  # ohm cm (irrelevant for one compartment)
    soma.insert("hh")

    step = h.IClamp(soma(0.5))
    step.delay = STEP_ON_MS
    step.dur = STEP_MS

    noise = h.IClamp(soma(0.5))  # its amplitude is driven by the noise vector
    noise.delay = 0.0
    noise.dur = 1e9
    n_noise = int(round(TSTOP_MS / NOISE_DT_MS)) + 1
    noise_vec = h.Vector(n_noise)
    # held between samples (continuous=False): each value lasts NOISE_DT_MS
    noise_vec.play(noise._ref_amp, NOISE_DT_MS)

    spikes = h.Vector()
    detector = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    detector.threshold = THRESHOLD_MV
    detector.record(spikes)

    v = h.Vector().record(soma(0.5)._ref_v)
    return {
        "h": h,
        "soma": soma,
        "step": step,
        "noise": noise,
        "noise_vec": noise_vec,
        "n_noise": n_noise,
        "detector": detector,
        "spikes": spikes,
        "v": v,
    }


def simulate(p: dict[str, float], seed: int) -> dict[str, float]:
    """One row: the firing rate (Hz) and mean membrane potential (mV) during the current step.

    p: gnabar_hh and gkbar_hh (S/cm2), el_hh (mV), amp (nA); seed: the row's noise seed
    (a uint64 that neuroscape derives from the sweep seed and the row index).
    """
    global _cell
    if _cell is None:
        _cell = _build()
    c = _cell
    h = c["h"]

    # parameters of this row
    seg = c["soma"](0.5)
    seg.hh.gnabar = p["gnabar_hh"]
    seg.hh.gkbar = p["gkbar_hh"]
    seg.hh.el = p["el_hh"]
    c["step"].amp = p["amp"]

    # this row's noise, from its own seed (numpy's generator; any seeded source would do)
    rng = np.random.default_rng(int(seed))
    c["noise_vec"].from_python(rng.normal(0.0, NOISE_NA, c["n_noise"]))

    # global settings are set on every call: nothing else in the process may have changed them
    h.cvode.active(0)
    h.dt = DT_MS
    h.steps_per_ms = 1.0 / DT_MS
    h.celsius = CELSIUS
    h.tstop = TSTOP_MS
    h.finitialize(V_INIT_MV)  # resets every state, the recordings and the played vector
    h.continuerun(TSTOP_MS)

    t_spikes = np.asarray(c["spikes"].as_numpy())
    n = np.count_nonzero((t_spikes >= STEP_ON_MS) & (t_spikes < TSTOP_MS))
    v = np.asarray(c["v"].as_numpy())  # sampled every DT_MS from t = 0
    during = v[int(round(STEP_ON_MS / DT_MS)) : int(round(TSTOP_MS / DT_MS))]
    return {"rate": float(n) / (STEP_MS / 1000.0), "v_mean": float(during.mean())}


MODEL = FunctionModel(
    name="neuron_hh_soma",
    parameters=[
        # name, default, low, high, unit (defaults: Hodgkin & Huxley 1952 as in NEURON's hh)
        Parameter("gnabar_hh", 0.12, 0.08, 0.16, "S/cm2", "peak sodium conductance"),
        Parameter("gkbar_hh", 0.036, 0.024, 0.048, "S/cm2", "peak potassium conductance"),
        Parameter("el_hh", -54.3, -60.0, -50.0, "mV", "leak reversal potential"),
        Parameter("amp", 0.15, 0.05, 0.3, "nA", "amplitude of the current step"),
    ],
    outputs=[
        Output("rate", "Hz", "spikes per second during the 500 ms step"),
        Output("v_mean", "mV", "mean somatic membrane potential during the step"),
    ],
    simulate=simulate,
    batched=False,
    timeout_s=20,  # a row takes about 0.06 s; one past 20 s is ended and stored as failed
    description="NEURON hh soma (Hodgkin & Huxley 1952) under a noisy 500 ms current step",
)
