"""Reward learning rules (Gerstner, Sprekeler & Deco 2012): Rescorla-Wagner and temporal-difference
TD(0), both driven
by a reward prediction error delta.

Rescorla-Wagner: on each trial the present cues' summed prediction V = sum_i x_i w_i meets the
reward r; delta = r - V and w_i <- w_i + alpha x_i delta (blocking, overshadowing follow).
TD(0) on a chain of states s_0 -> ... -> s_{n-1} -> end, reward r at the last transition:
delta_t = r_t + gamma V(s_{t+1}) - V(s_t), V(s_t) <- V(s_t) + alpha delta_t. With learning, the
prediction error at the reward vanishes and appears at the earliest predictive state, the
signature of dopamine neurons.
"""

from __future__ import annotations

import numpy as np

from neuroscape.core.spec import ModelSpec, Output, Parameter

RW_SPEC = ModelSpec(
    name="rescorla_wagner",
    version="1",
    description="Rescorla-Wagner learning of cue weights from a reward prediction error",
    parameters=(
        Parameter("alpha", 0.1, 0.0, 1.0, "1", "learning rate"),
        Parameter("reward", 1.0, -10.0, 10.0, "1", "reward per rewarded trial"),
    ),
    outputs=(Output("V", "1", "the summed prediction after training"),),
)
TD_SPEC = ModelSpec(
    name="td0",
    version="1",
    description="TD(0) value learning on a chain of states with a terminal reward",
    parameters=(
        Parameter("alpha", 0.1, 0.0, 1.0, "1", "learning rate"),
        Parameter("gamma", 0.9, 0.0, 1.0, "1", "discount factor"),
        Parameter("reward", 1.0, -10.0, 10.0, "1", "reward at the end of the chain"),
        Parameter("n_states", 5.0, 1.0, 100.0, "1", "states in the chain"),
    ),
    outputs=(Output("V0", "1", "value of the first state after training"),),
)


def rescorla_wagner(
    cues: np.ndarray, rewards: np.ndarray, alpha: float = 0.1, w0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """cues (T, K) of 0/1 presence, rewards (T,): weights after each trial (T, K) and the
    prediction errors (T,)."""
    cues = np.asarray(cues, float)
    w = np.zeros(cues.shape[1]) if w0 is None else np.asarray(w0, float).copy()
    ws, deltas = np.empty_like(cues), np.empty(len(cues))
    for t, (x, r) in enumerate(zip(cues, rewards, strict=True)):
        d = r - x @ w
        w = w + alpha * x * d
        ws[t], deltas[t] = w, d
    return ws, deltas


def td0(
    n_states: int, episodes: int, alpha: float = 0.1, gamma: float = 0.9, reward: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Values after each episode (E, n_states) and prediction errors (E, n_states + 1): column 0
    is the error at the (unpredictable) onset of the chain, column t + 1 the error on leaving
    state t (the last one carries the reward)."""
    v = np.zeros(n_states + 1)  # v[n_states] = terminal, 0
    vs = np.empty((episodes, n_states))
    ds = np.empty((episodes, n_states + 1))
    for e in range(episodes):
        ds[e, 0] = gamma * v[0]  # onset: from a baseline of no expectation to V(s_0)
        for t in range(n_states):
            r = reward if t == n_states - 1 else 0.0
            d = r + gamma * v[t + 1] - v[t]
            v[t] += alpha * d
            ds[e, t + 1] = d
        vs[e] = v[:n_states]
    return vs, ds
