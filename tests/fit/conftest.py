import numpy as np
import pytest

from neuroscape.core.stimuli import make_stimulus
from neuroscape.fit import synthetic_trace

HH_DEFAULTS = {"g_Na": 120.0, "g_K": 36.0, "g_L": 0.3}
HH_BOX = {k: (0.5 * v, 1.5 * v) for k, v in HH_DEFAULTS.items()}  # +-50% of the defaults
STEP = make_stimulus("step", amp=10.0, t_on=20.0, t_off=120.0)


def hh_target(seed: int, noise_mV: float = 1.0, spread: float = 0.3):
    """A noisy 150-ms HH trace (sampled every 0.1 ms) at conductances drawn within +-spread of
    the defaults; the truth is kept on the target."""
    rng = np.random.default_rng(seed)
    truth = {k: v * rng.uniform(1 - spread, 1 + spread) for k, v in HH_DEFAULTS.items()}
    return synthetic_trace(
        "hh",
        truth,
        STEP,
        duration_ms=150.0,
        dt_ms=0.025,
        record_every=4,
        noise_mV=noise_mV,
        seed=seed,
    )


@pytest.fixture
def hh_noisy():
    return hh_target(1)
