"""The Hodgkin-Huxley (1952) point neuron in NEURON, as an independent reference (tests and
benchmarks): NEURON's built-in ``hh`` mechanism in a one-compartment soma under a step current,
integrated by CVODE; spike times are upward crossings of 0 mV."""

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
