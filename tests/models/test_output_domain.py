import numpy as np

from neuroscape.models.cortical import in_output_domain


def test_output_domain_edges():
    r_e = np.array([5.0, 30.0, 4.99, 30.01, 10.0, 10.0, 10.0, 0.0])
    r_i = np.array([12.5, 165.0, 20.0, 100.0, 24.9, 55.1, 55.0, 0.0])
    assert in_output_domain(r_e, r_i).tolist() == [
        True,
        True,
        False,
        False,
        False,
        False,
        True,
        False,
    ]
