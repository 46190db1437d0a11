import numpy as np
import pytest

from neuroscape.core.rng import row_keys
from neuroscape.models.theory import wong_wang as ww


def test_psychometric_curve_rises_monotonically_from_chance():
    """The truth: P(choice 1) is 50% at zero coherence and rises monotonically with it."""
    n = 2000
    ps = []
    for k, c in enumerate((0.0, 3.2, 6.4, 12.8, 25.6)):
        p = np.tile(ww.SPEC.params_array({"coherence": c})[0], (n, 1))
        out = ww.simulate_trials(p, row_keys(5, np.arange(k * n, (k + 1) * n)))
        assert np.isnan(out[:, 0]).mean() < 0.01
        ps.append(np.nanmean(out[:, 0]))
    assert abs(ps[0] - 0.5) < 3 * np.sqrt(0.25 / n)
    assert np.all(np.diff(ps) > 0), ps
    assert ps[-1] > 0.95


@pytest.mark.slow  # a simulated scan of the input
def test_bistable_range_edges_by_simulation_match_continuation():
    """The truth: the diagram from simulations shows a bistable range in the stimulus mu0 whose
    edges fall within 2% of those from the fixed points (continuation)."""
    cont = ww.regime_edges("mu0", 0.0, 80.0)
    sim = ww.simulated_edges("mu0", 0.0, 80.0, n=17)
    lo_c = [e[0] for e in cont if e[2] == "bistable"]
    hi_c = [e[0] for e in cont if e[1] == "bistable"]
    lo_s = [e[0] for e in sim if e[2] == "bistable"]
    hi_s = [e[0] for e in sim if e[1] == "bistable"]
    assert len(lo_c) == len(hi_c) == len(lo_s) == len(hi_s) == 1
    assert lo_s[0] == pytest.approx(lo_c[0], rel=0.02)
    assert hi_s[0] == pytest.approx(hi_c[0], rel=0.02)
    assert 0 < lo_c[0] < hi_c[0]
    assert ww.regime({"mu0": 0.5 * (lo_c[0] + hi_c[0])}) == "bistable"


def test_energy_landscape_has_two_wells_in_the_bistable_range():
    x, u = ww.energy_landscape({"mu0": 30.0})
    ok = np.isfinite(u)
    mins = [
        k
        for k in range(1, len(x) - 1)
        if ok[k - 1] and ok[k + 1] and u[k] < u[k - 1] and u[k] < u[k + 1]
    ]
    assert len(mins) == 2 and x[mins[0]] < 0 < x[mins[1]]
