import numpy as np
import pytest

from neuroscape.models.cortical import SPEC


@pytest.fixture(scope="session", autouse=True)
def _torch_on_one_thread():
    """Torch's CPU operations on one thread in the test process. The networks and batches of
    the tests are small: a second OpenMP thread gains nothing, and on two cores shared with
    other work the two threads wait for each other at every operation (an sbi fit of 6 s took
    2 min on a busy machine). numba keeps its own threads (checked: torch's setting does not
    change numba's OpenMP pool)."""
    try:
        import torch
    except ImportError:  # the tests that need torch skip themselves
        return
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def domain_sample():
    """A fixed uniform sample of the circuit's physiological domain (8 parameter sets)."""
    rng = np.random.default_rng(12345)
    lo, hi = SPEC.bounds.T
    return lo + (hi - lo) * rng.random((8, len(lo)))
