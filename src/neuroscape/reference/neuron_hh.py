"""The Hodgkin-Huxley (1952) point neuron in NEURON, as an independent reference (tests and
benchmarks): NEURON's built-in ``hh`` mechanism in a one-compartment soma under a step current.
``NeuronHH`` integrates it by CVODE for spike times (upward crossings of 0 mV);
``neuron_hh_trace`` makes a voltage-trace fit target with NEURON's fixed step (Crank-Nicolson by
default), the trace another simulator would hand to ``neuroscape fit``."""

from __future__ import annotations

import numpy as np

AREA_UM2 = 1000.0  # a cylinder with L = diam has area pi d^2


class NeuronHH:
    """One soma, reused across runs (building sections is the slow part). NEURON's globals
    (``celsius``, ``usetable_hh``, the CVODE switch) are put back on ``close``."""

    def __init__(self, usetable: int = 0, atol: float = 1e-10) -> None:
        from neuron import h

        h.load_file("stdrun.hoc")
        self.h = h
        self._saved = (h.celsius, h.usetable_hh, h.cvode_active())
        self.soma = h.Section(name=f"soma_ref_{id(self)}")
        self.soma.L = self.soma.diam = np.sqrt(AREA_UM2 / np.pi)
        self.soma.nseg = 1
        self.soma.cm = 1.0
        self.soma.insert("hh")
        h.usetable_hh = usetable  # 0: exact rates; 1: NEURON's 1-mV rate tables
        self.clamp = h.IClamp(self.soma(0.5))
        self.clamp.delay, self.clamp.dur = 0.0, 1e9
        self.nc = h.NetCon(self.soma(0.5)._ref_v, None, sec=self.soma)
        self.nc.threshold = 0.0
        self.tv = h.Vector()
        self.nc.record(self.tv)
        h.cvode_active(1)
        h.cvode.atol(atol)

    def spike_times(self, amp_ua_cm2: float, t_stop_ms: float, celsius: float = 6.3) -> np.ndarray:
        """Spike times (ms) under a step of ``amp_ua_cm2`` (uA/cm^2) from t = 0, from rest."""
        h = self.h
        h.celsius = celsius
        self.clamp.amp = amp_ua_cm2 * AREA_UM2 * 1e-8 * 1e3  # uA/cm^2 x cm^2 -> uA -> nA
        h.finitialize(-65.0)
        h.continuerun(t_stop_ms)
        return np.array(self.tv.to_python(), dtype=float)

    def close(self) -> None:
        h = self.h
        h.celsius, h.usetable_hh = self._saved[:2]
        h.cvode_active(self._saved[2])

    def __enter__(self) -> NeuronHH:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# neuroscape hh parameter -> how it is set on NEURON's soma (conductances mS/cm^2 -> S/cm^2)
_HH_PARAMS = ("g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "C", "celsius")


class NeuronTraceError(ValueError):
    """A NEURON trace request that cannot be honoured (unknown parameter, stimulus kind...)."""


def neuron_hh_trace(
    params: dict[str, float] | None,
    stimulus,
    *,
    duration_ms: float,
    dt_ms: float = 0.025,
    noise_mV: float = 0.0,
    seed: int = 0,
    v_init_mV: float = -65.0,
    secondorder: int = 2,
):
    """A voltage-trace target (``neuroscape.fit.targets.Target``, kind "trace") made by NEURON's
    built-in ``hh`` in one compartment: exact rates (``usetable_hh = 0``), NEURON's fixed step
    ``dt_ms`` with ``secondorder`` (2: Crank-Nicolson, Hines 1984), V recorded at every step
    from t = 0 (``finitialize(v_init_mV)``: gates at their steady state there), plus Gaussian
    measurement noise of SD ``noise_mV`` (seeded by ``seed``).

    ``params``: neuroscape ``hh`` parameters (g_Na, g_K, g_L in mS/cm^2, E_Na, E_K, E_L in mV,
    C in uF/cm^2, celsius in degC); those not given take neuroscape's ``hh`` defaults (which
    are NEURON's). ``stimulus``: a one-row neuroscape step (amp in uA/cm^2, the model's current
    unit), injected by an IClamp of amp x the section's area. The truth, the stimulus and its
    current on the samples are kept on the target, as ``synthetic_trace`` does."""
    from neuron import h

    from neuroscape.fit.targets import Target
    from neuroscape.models import get_neuron_model

    m = get_neuron_model("hh")
    p = {q.name: q.default for q in m.spec.parameters}
    unknown = [k for k in (params or {}) if k not in _HH_PARAMS]
    if unknown:
        raise NeuronTraceError(
            f"unknown hh parameter {unknown[0]!r}; allowed: {', '.join(_HH_PARAMS)}"
        )
    p.update({k: float(v) for k, v in (params or {}).items()})
    if stimulus.kind != "step" or np.asarray(stimulus.values).shape[0] != 1:
        raise NeuronTraceError(
            f"stimulus {stimulus.kind!r} with {np.asarray(stimulus.values).shape[0]} rows; "
            "allowed: a one-row step"
        )
    amp, t_on, t_off = (float(x) for x in np.asarray(stimulus.values, float)[0, :3])
    if not (np.isfinite(duration_ms) and duration_ms > 0):
        raise NeuronTraceError(f"duration_ms={duration_ms!r}; allowed: a finite number > 0 (ms)")
    n_steps = round(duration_ms / dt_ms)
    if not (dt_ms > 0 and abs(n_steps * dt_ms - duration_ms) <= 1e-9 * duration_ms):
        raise NeuronTraceError(
            f"dt_ms={dt_ms!r} ms does not divide duration_ms={duration_ms:g} ms; allowed: "
            f"{duration_ms:g}/k ms for a whole k"
        )
    if secondorder not in (0, 1, 2):
        raise NeuronTraceError(f"secondorder={secondorder!r}; allowed: 0, 1, 2")
    if not (np.isfinite(noise_mV) and noise_mV >= 0):
        raise NeuronTraceError(f"noise_mV={noise_mV!r}; allowed: a finite number >= 0 (mV)")

    h.load_file("stdrun.hoc")
    saved = (
        h.celsius,
        h.usetable_hh,
        h.cvode_active(),
        h.secondorder,
        h.dt,
        h.steps_per_ms,
    )
    soma = h.Section(name=f"soma_trace_{id(p)}")
    try:
        soma.L = soma.diam = np.sqrt(AREA_UM2 / np.pi)
        soma.nseg = 1
        soma.insert("hh")
        seg = soma(0.5)
        soma.cm = p["C"]
        seg.hh.gnabar = p["g_Na"] * 1e-3  # mS/cm^2 -> S/cm^2
        seg.hh.gkbar = p["g_K"] * 1e-3
        seg.hh.gl = p["g_L"] * 1e-3
        seg.hh.el = p["E_L"]
        soma.ena, soma.ek = p["E_Na"], p["E_K"]
        area_cm2 = seg.area() * 1e-8  # um^2 -> cm^2
        clamp = h.IClamp(seg)
        # IClamp injects amp while del <= t < del + dur, t taken mid-step: the steps that start
        # in [t_on, t_off), as neuroscape's kernels apply a step
        clamp.delay = t_on
        clamp.dur = min(t_off, 1e9) - t_on
        clamp.amp = amp * area_cm2 * 1e3  # uA/cm^2 x cm^2 = uA -> nA
        v_rec, t_rec = h.Vector(), h.Vector()
        v_rec.record(seg._ref_v)
        t_rec.record(h._ref_t)
        h.cvode_active(0)
        h.usetable_hh = 0
        h.secondorder = secondorder
        h.celsius = p["celsius"]
        h.dt = dt_ms
        h.steps_per_ms = 1.0 / dt_ms
        h.finitialize(v_init_mV)
        for _ in range(n_steps):
            h.fadvance()
        t = np.arange(n_steps + 1) * dt_ms
        v = np.array(v_rec.to_python(), dtype=float)
        if len(v) != n_steps + 1 or np.abs(np.array(t_rec.to_python()) - t).max() > 1e-6:
            raise RuntimeError(f"NEURON recorded {len(v)} samples; expected {n_steps + 1}")
    finally:
        h.celsius, h.usetable_hh = saved[0], saved[1]
        h.cvode_active(saved[2])
        h.secondorder, h.dt, h.steps_per_ms = saved[3], saved[4], saved[5]
        del soma
    v = v + noise_mV * np.random.default_rng(seed).standard_normal(len(v))
    return Target(
        "trace",
        t,
        v,
        truth={k: p[k] for k in (params or {})},
        source=f"NEURON hh (exact rates, secondorder={secondorder}, dt {dt_ms:g} ms)",
        stimulus=stimulus,
        current=stimulus.current_at(t),
        current_unit=m.current_unit,
    )
