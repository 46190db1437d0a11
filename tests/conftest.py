import numpy as np
import pytest

from neuroscape.models.cortical import SPEC


@pytest.fixture(scope="session")
def domain_sample():
    """A fixed uniform sample of the circuit's physiological domain (8 parameter sets)."""
    rng = np.random.default_rng(12345)
    lo, hi = SPEC.bounds.T
    return lo + (hi - lo) * rng.random((8, len(lo)))
