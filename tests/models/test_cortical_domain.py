import numpy as np
import pytest

import neuroscape as ns
from neuroscape.models.cortical import SPEC, in_output_domain


@pytest.mark.slow  # a sweep of the circuit over its box
def test_fraction_of_the_domain_that_lands_in_O():
    """Uniform P over the physiological box: the paper saw about 10% in the output domain O."""
    rng = np.random.default_rng(2024)
    lo, hi = SPEC.bounds.T
    p = lo + (hi - lo) * rng.random((200, 7))
    r = ns.simulate("cortical", p, seed=0)
    frac = in_output_domain(r["r_E"], r["r_I"]).mean()
    print(f"\nfraction of 200 uniform P in O: {frac:.3f}")
    assert r.ok.all()
    assert 0.03 <= frac <= 0.3
