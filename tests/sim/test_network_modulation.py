"""Reward-modulated plasticity in the network engine against the closed form of Izhikevich
(2007)'s rule: one pre-before-post pairing sets the eligibility trace c, a reward later makes
dopamine d jump, and dw/dt = eta c d integrates exactly between events."""

import math

import pytest

import neuroscape as ns
from neuroscape.models.network import NetworkError, network_model

CELL = {"name": "pas", "equations": "dv/dt = (-v + I)/(10*ms) : volt",
        "current": {"name": "I", "unit": "mV"}, "threshold": "v > 10*mV",
        "reset": "v = 0*mV", "initial": {"v": "0 mV"}, "spike_timing": "grid"}


def _net(t_pre="10 ms", t_post="15 ms", t_reward="500 ms", rule="eta*c*DA"):
    return network_model({
        "name": "da_pair",
        "parameters": {"eta": {"default": "0.01 1/ms", "low": "0 1/ms", "high": "1 1/ms"}},
        "constants": {"tau_c": "1000 ms", "tau_p": "20 ms"},
        "populations": {
            "pre": {"kind": "spikes", "size": 1, "spikes": [[t_pre, 0]]},
            "kick": {"kind": "spikes", "size": 1, "spikes": [[t_post, 0]]},
            "reward": {"kind": "spikes", "size": 1, "spikes": [[t_reward, 0]]},
            "post": {"size": 1, "model": CELL}},
        "modulators": {"DA": {"tau": "200 ms", "source": "reward", "on_spike": "DA += 0.5"}},
        "projections": {
            "kick_to_post": {"pre": "kick", "post": "post", "connect": "all_to_all",
                             "on_pre": "v += 20*mV"},
            "pre_to_post": {
                "pre": "pre", "post": "post", "connect": "all_to_all",
                "model": "w : 1\ndApre/dt = -Apre/tau_p : 1 (event-driven)\n"
                         "dApost/dt = -Apost/tau_p : 1 (event-driven)\n"
                         f"dc/dt = -c/tau_c : 1 (event-driven)\ndw/dt = {rule} : 1 (event-driven)",
                "on_pre": "Apre += 1.0\nc += Apost", "on_post": "Apost += -1.5\nc += Apre"}},
        "outputs": {"w": {"weights": "pre_to_post.w", "stat": "mean"}},
        "settings": {"duration": "1500 ms", "dt": "0.1 ms", "window": "1500 ms"}})


def _closed_form(t_pre, t_post, t_rew, sign, amp, eta=0.01, tau_c=1000.0, tau_d=200.0,
                 tau_p=20.0, T=1500.0):
    """w(T) = int_{t_rew}^{T} eta c(t) d(t) dt with c = c0 exp(-(t - t_pair)/tau_c) and
    d = 0.5 exp(-(t - t_rew)/tau_d)."""
    lag = abs(t_post - t_pre)
    c0 = sign * amp * math.exp(-lag / tau_p)
    t_pair = max(t_pre, t_post)
    tp = 1 / (1 / tau_c + 1 / tau_d)
    return eta * c0 * math.exp(-(t_rew - t_pair) / tau_c) * 0.5 * tp * (
        1 - math.exp(-(T - t_rew) / tp))


def test_pre_before_post_then_reward_potentiates_as_the_closed_form():
    # the post neuron fires one step after the kick arrives (the threshold is tested after
    # the synapses act): at 15.1 ms
    w = ns.simulate(_net(), [{}])["w"][0]
    assert w == pytest.approx(_closed_form(10.0, 15.1, 500.0, +1, 1.0), rel=1e-6)


def test_post_before_pre_then_reward_depresses_as_the_closed_form():
    w = ns.simulate(_net(t_pre="30 ms"), [{}])["w"][0]
    assert w == pytest.approx(_closed_form(30.0, 15.1, 500.0, -1, 1.5), rel=1e-6)


def test_a_later_reward_gives_less_and_no_reward_none():
    early = ns.simulate(_net(t_reward="300 ms"), [{}])["w"][0]
    late = ns.simulate(_net(t_reward="1200 ms"), [{}])["w"][0]
    assert early > late > 0
    assert late == pytest.approx(_closed_form(10.0, 15.1, 1200.0, +1, 1.0), rel=1e-6)


def test_a_rule_that_is_not_trace_times_modulator_is_refused():
    with pytest.raises(NetworkError, match="modulated equation") as exc:
        _net(rule="eta*DA*DA")
    assert "\n" not in str(exc.value)
