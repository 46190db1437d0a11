"""The local cortical circuit of Zhang, Young & Lai (2020) (contract: docs/cortical_circuit.md).

225 E and 75 I conductance-based I&F neurons, random connectivity, Poisson external and ambient
drive. Seven parameters P (the paper's order and physiological domain) map to two outputs
O = (r_E, r_I), the population-mean rates over the last 2 s of a 3 s run.
"""

from __future__ import annotations

import numpy as np

from neuroscape.core.spec import DefaultSettings, ModelSpec, Output, OutputDomain, Parameter
from neuroscape.models.cond_if import CONSTANTS as NEURON_CONSTANTS

CONSTANTS: dict[str, float] = {
    **NEURON_CONSTANTS,
    "tau_E": 2.0,  # ms
    "tau_I": 3.0,  # ms
    "S_dr": 0.005,  # ambient kick strength
    "eta_0": 1200.0,  # Hz, normalizes eta_amb
    "beta_low": 0.8,  # E->E synaptic failure factor ~ U[beta_low, 1]
    "N_E": 225,
    "N_I": 75,
    "p_E_to_E": 0.10,
    "p_E_to_I": 0.50,
    "p_I_to_E": 0.50,
    "p_I_to_I": 0.50,
}

SPEC = ModelSpec(
    name="cortical",
    version="1",
    description=(
        "Local cortical E-I circuit of conductance-based I&F neurons "
        "(Zhang, Young & Lai 2020)"
    ),
    parameters=(
        Parameter("S_EE", 0.025, 0.02, 0.03, "1", "E->E coupling strength S^EE", 0.0),
        Parameter("S_EI_rel", 2.25, 1.5, 3.0, "1", "S^EI / S^EE (I->E strength)", 0.0),
        Parameter("S_IE_rel", 0.35, 0.2, 0.5, "1", "S^IE / S^EE (E->I strength)", 0.0),
        Parameter("S_II_rel", 0.75, 0.5, 1.0, "1", "S^II / S^EI (I->I strength)", 0.0),
        Parameter("eta_amb_rel", 0.5, 1 / 3, 2 / 3, "1", "ambient rate / eta_0 (1200 Hz)", 0.0),
        Parameter("eta_ext_E", 1500.0, 25.0, 3000.0, "Hz", "external Poisson rate to E cells", 0.0),
        Parameter("eta_ext_I_rel", 4.0, 2.0, 6.0, "1", "eta^ext,I / eta^ext,E", 0.0),
    ),
    outputs=(
        Output("r_E", "Hz", "mean E firing rate over the recording window"),
        Output("r_I", "Hz", "mean I firing rate over the recording window"),
    ),
    constants=CONSTANTS,
    settings=DefaultSettings(
        duration_ms=3000.0,
        dt_ms=0.1,
        window_ms=2000.0,
        integrator="midpoint",
        note="the paper's protocol: rates over the last 2 s of a 3 s run; midpoint (RK2) at "
        "0.1 ms between inputs, Brian2's refractory semantics",
    ),
    # the paper's physiological output domain O
    output_domain=OutputDomain(
        bounds=(("r_E", 5.0, 30.0),),
        ratios=(("r_I", "r_E", 2.5, 5.5),),
        inside="in_O",
        outside="outside_O",
        description="O of Zhang, Young & Lai (2020): 5 <= r_E <= 30 Hz, 2.5 <= r_I/r_E <= 5.5",
    ),
)


def derived_quantities(params: np.ndarray, c: dict | None = None) -> dict[str, np.ndarray]:
    """Absolute strengths and rates (Hz) from the relative parameterization P, row-wise."""
    c = {**CONSTANTS, **(c or {})}
    p = np.atleast_2d(params)
    s_ee = p[:, 0]
    s_ei = p[:, 1] * s_ee
    s_ie = p[:, 2] * s_ee
    s_ii = p[:, 3] * s_ei
    eta_amb = p[:, 4] * c["eta_0"]
    eta_e = p[:, 5]
    eta_i = p[:, 6] * eta_e
    return {
        "S_EE": s_ee,
        "S_EI": s_ei,
        "S_IE": s_ie,
        "S_II": s_ii,
        "eta_amb": eta_amb,
        "eta_ext_E": eta_e,
        "eta_ext_I": eta_i,
    }


def in_output_domain(r_e: np.ndarray, r_i: np.ndarray) -> np.ndarray:
    """The physiological output domain O (declared once, in ``SPEC.output_domain``)."""
    r_e = np.atleast_1d(np.asarray(r_e, dtype=float))
    r_i = np.atleast_1d(np.asarray(r_i, dtype=float))
    return SPEC.output_domain.contains(np.stack([r_e, r_i], axis=-1), ["r_E", "r_I"])
