"""Hodgkin-Huxley (1952) squid giant axon, in the modern convention of NEURON's ``hh``.

    C dV/dt = I - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) - g_L (V - E_L)
    dx/dt = phi (alpha_x(V) (1 - x) - beta_x(V) x),  x in {m, h, n},  phi = Q10^((T - 6.3)/10)

V in mV (rest near -65), t in ms, conductances in mS/cm^2, I in uA/cm^2, C in uF/cm^2. The model
is the equation file ``neuroscape/models/library/hh.yaml`` (NEURON's hh.mod rates, the removable
singularities through exprel); its kernels, the gate tables of its default scheme included, are
generated from those equations (``neuroscape.models.equations``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from neuroscape.models.equations import load_model_file

FILE = Path(__file__).resolve().parent.parent / "library" / "hh.yaml"

# a copy of the file's model without the file's identity: the built-in is found again by its
# registered name ("hh"), like every model that ships with the package, not by a path
MODEL = dataclasses.replace(load_model_file(FILE))
SPEC = MODEL.spec
