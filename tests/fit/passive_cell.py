"""A tiny function model with closed-form outputs, for the fit tests (loaded as FILE.py:MODEL).

A passive membrane (capacitance C = 100 pF, leak g_L = 5 nS to E_L = -70 mV) with one extra
conductance ``g`` (nS) of reversal potential ``E`` (mV). Its steady state and time constant are

    v_ss = (g E + g_L E_L) / (g + g_L)      (mV)
    tau  = C / (g + g_L)                    (pF / nS = ms)

so tau fixes g and then v_ss fixes E: two outputs identify the two parameters. Rows with
g > G_FAIL raise (a simulator that breaks in part of its domain): a fit must score them as
failed, never drop them.
"""

from neuroscape.models import FunctionModel, Output, Parameter

C_PF, G_L_NS, E_L_MV = 100.0, 5.0, -70.0
G_FAIL = 9.0  # nS


def run(p: dict[str, float], seed: int) -> dict[str, float]:
    g, e = p["g"], p["E"]
    if g > G_FAIL:
        raise RuntimeError(f"g={g:g} nS > {G_FAIL:g} nS: no steady state in this simulator")
    return {
        "v_ss": (g * e + G_L_NS * E_L_MV) / (g + G_L_NS),
        "tau": C_PF / (g + G_L_NS),
    }


MODEL = FunctionModel(
    "passive_cell",
    parameters=[Parameter("g", 3.0, 1.0, 10.0, "nS"), Parameter("E", -60.0, -80.0, -40.0, "mV")],
    outputs=[Output("v_ss", "mV"), Output("tau", "ms")],
    simulate=run,
    timeout_s=30,
)
