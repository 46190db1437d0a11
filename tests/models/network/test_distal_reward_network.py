"""The distal-reward network (Izhikevich 2007) as a description file: its graph has the paper's
layout, and its critic and reward neurons implement the reward rule, checked against the rule
applied to the recorded spike trains (a reward 1-3 s after each first postsynaptic spike within
10 ms after a presynaptic spike of the watched synapse)."""

import numpy as np
import pytest

import neuroscape as ns
from neuroscape.models.network import network

DT = 0.5  # ms, the network's step


@pytest.fixture(scope="module")
def net():
    return network("distal_reward")


def test_the_graph_has_the_papers_layout(net):
    g = net.graph(0)
    n_e, n_i = 800, 200
    assert g.sizes == {"E": n_e, "I": n_i, "critic": 1, "reward": 1}
    for proj, k, n_post in (("E_to_E", 80, n_e), ("E_to_I", 20, n_i), ("I_to_E", 100, n_e)):
        pre, post = g.edges[proj]
        assert np.array_equal(np.bincount(pre), np.full(n_e if proj != "I_to_E" else n_i, k))
        pairs = set(zip(pre.tolist(), post.tolist(), strict=True))
        assert len(pairs) == pre.size  # distinct targets
        assert post.max() < n_post
    pre, post = g.edges["E_to_E"]
    assert not np.any(pre == post)  # no autapses
    # the watched synapse: E_to_E[0], excitatory neuron 0 onto its lowest-index E target
    assert g.edges["watch_pre"].tolist() == [[0], [0]]
    assert g.edges["watch_post"].tolist() == [[int(post[pre == 0].min())], [0]]
    assert net.spec.output_names == ["w_rewarded", "w_others", "rewards", "rate"]


@pytest.mark.slow  # minutes of network time
def test_the_critic_rewards_each_first_pairing_within_10_ms_after_1_to_3_s(net):
    dur = 300_000.0  # ms
    res = ns.simulate(net, [{}], seed=1, conn_seed=1, duration_ms=dur, window_ms=dur,
                      record_spikes=True)
    g = net.graph(1)
    t, idx = res.spikes[0]
    pre_n, post_n = int(g.edges["watch_pre"][0, 0]), int(g.edges["watch_post"][0, 0])
    critic, reward = 1000, 1001  # global indices: E 0-799, I 800-999, critic, reward
    s_pre = np.round(t[idx == pre_n] / DT).astype(int)
    s_post = np.round(t[idx == post_n] / DT).astype(int)
    # the rule on the spike steps: a post spike pairs with the last pre spike strictly before
    # it if no other post spike came in between and the lag is at most 10 ms
    expected = []
    for sp in s_post:
        before = s_pre[s_pre < sp]
        if before.size == 0:
            continue
        sq = before[-1]
        between = s_post[(s_post > sq) & (s_post < sp)]
        if between.size == 0 and (sp - sq) * DT <= 10.0:
            expected.append(sp)
    assert len(expected) >= 2  # this seed pairs the synapse several times in 5 min
    s_critic = np.round(t[idx == critic] / DT).astype(int)
    np.testing.assert_array_equal(s_critic, np.array(expected) + 1)  # fires at the next step
    # each reward 1-3 s after its critic spike: the kick lands d = 1..3 s later, the reward
    # neuron fires one step after; sorted matching is valid when any matching is
    t_rew = np.sort(t[idx == reward])
    t_crit = s_critic * DT
    due = t_crit[t_crit + 1000.0 + DT < dur]
    assert res["rewards"][0] == t_rew.size
    lag = t_rew - np.sort(due)[: t_rew.size]
    assert np.all(lag >= 1000.0 + DT - 1e-9) and np.all(lag <= 3000.0 + DT + 1e-9)
    assert t_rew.size >= len(due[due + 3000.0 + DT < dur])  # every reward due in the run came
