import numpy as np
import pytest

from neuroscape.models.theory import distal_reward as dr


def test_graph_has_no_self_connections_and_inhibition_targets_excitation():
    post, in_start, in_pre, in_m = dr.build_graph(0)
    n = dr.N_E + dr.N_I
    assert not np.any(post == np.arange(n)[:, None])
    assert post[dr.N_E :].max() < dr.N_E
    assert all(len(set(row)) == dr.M for row in post)
    assert in_start[-1] == dr.N_E * dr.M  # every excitatory synapse indexed once
    np.testing.assert_array_equal(np.sort(post[in_pre, in_m]), np.sort(post[: dr.N_E].ravel()))


def test_no_reward_no_change():
    res = dr.simulate({"da_jump": 0.0}, seed=3, duration_s=30.0)
    assert res.w_rewarded == 1.0 and res.w_others == pytest.approx(1.0, abs=1e-12)


@pytest.mark.slow
def test_distal_reward_problem_solved_in_one_hour():
    """The truth: after one hour of network time the rewarded synapse is at its maximum and the
    mean of all other excitatory synapses is within 10% of its start, in at least 4 of 5 seeds."""
    seen = []

    def solved(seeds) -> int:
        n = 0
        for r in dr.simulate_seeds(seeds, duration_s=3600.0):
            seen.append((r.w_rewarded, round(r.w_others, 4), r.rewards))
            n += r.w_rewarded >= 0.99 * 4.0 and abs(r.w_others - 1.0) < 0.10
        return n

    # seeds 0-3 first (two rounds on two threads); the fifth decides only if one of them
    # failed: with all four solved the bar holds whatever the fifth gives, so it is not run
    good = solved(range(4))
    if good < 4:
        good += solved([4])
    assert good >= 4, seen
