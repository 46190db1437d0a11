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


# Under xdist's --dist loadfile (./dev test) a worker takes whole files, in collection order,
# as it frees up: a long file collected last leaves the other worker idle at the end. The files
# below took the longest in the full suite's durations (worker seconds, slow tests included);
# they go first, longest first (the longest-processing-time-first rule of Graham 1969), the
# rest keep their order. Order within a file is unchanged.
LONG_FILES = (
    "tests/models/theory/test_distal_reward.py",
    "tests/reference/test_brian2_networks.py",
    "tests/examples/test_examples.py",
    "tests/reference/test_brian2_networks_extra.py",
    "tests/fit/test_sbi.py",
    "tests/models/library/test_gate_tables.py",
    "tests/examples/test_fit_real_cell.py",
    "tests/models/network/test_assembly_network.py",
    "tests/sim/test_network_cuda.py",
    "tests/models/library/test_library_vs_brian2.py",
    "tests/sim/test_network_torch.py",
    "tests/test_bench_page.py",
    "tests/models/equations/test_refractory_hold.py",
    "tests/sim/test_engine.py",
    "tests/neuroml/test_neuroml_export_cuba_jnml.py",
)


def pytest_collection_modifyitems(config, items):  # noqa: ARG001 - pytest's hook signature
    rank = {f: k for k, f in enumerate(LONG_FILES)}
    items.sort(key=lambda it: rank.get(it.nodeid.split("::", 1)[0], len(LONG_FILES)))
