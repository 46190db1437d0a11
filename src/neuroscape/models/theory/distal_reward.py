"""The distal reward problem (Izhikevich 2007) solved by dopamine-modulated STDP (Gerstner,
Sprekeler & Deco 2012).

A network of 800 excitatory (regular spiking) and 200 inhibitory (fast spiking) Izhikevich
neurons, 100 random targets per neuron (inhibitory neurons target excitatory ones), 1-ms
delays, and random drive (each millisecond one random neuron receives a 20-unit current pulse).
Excitatory synapses are plastic through three factors: STDP pairings (pre-before-post +A_plus,
post-before-pre -A_minus, exponential windows tau_plus, tau_minus) feed an eligibility trace c
that decays with tau_c; dopamine d decays with tau_da and jumps by ``da_jump`` at each reward;
dw/dt = eta c (d + da_base), w clipped to [0, w_max]. One excitatory synapse is chosen; whenever
its postsynaptic neuron fires within 10 ms after its presynaptic one, a reward follows after a
delay drawn uniformly from 1-3 s. The network must find that synapse among 80,000.

Why hand-written: no simulator does this event-driven scheme. Between the events that touch a
synapse (its pre or post neuron spiking) c decays exponentially and d is a sum of decaying
rewards, so the weight change over the gap is a closed-form integral; synapses are updated
lazily, only at their events, which makes an hour of network time take about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from neuroscape.core.spec import ModelSpec, Output, Parameter

SPEC = ModelSpec(
    name="distal_reward",
    version="1",
    description="dopamine-modulated STDP network solving the distal reward problem",
    parameters=(
        Parameter("A_plus", 1.0, 0.0, 10.0, "1", "eligibility step of a pre-before-post pair"),
        Parameter("A_minus", 1.1, 0.0, 10.0, "1", "eligibility step of a post-before-pre pair"),
        Parameter("tau_plus", 20.0, 1.0, 100.0, "ms", "potentiation window", 1e-9),
        Parameter("tau_minus", 20.0, 1.0, 100.0, "ms", "depression window", 1e-9),
        Parameter("tau_c", 1000.0, 10.0, 10_000.0, "ms", "eligibility decay", 1e-9),
        Parameter("tau_da", 200.0, 10.0, 2000.0, "ms", "dopamine decay", 1e-9),
        Parameter("da_jump", 0.5, 0.0, 10.0, "1", "dopamine per reward"),
        Parameter("da_base", 0.0, 0.0, 0.1, "1", "tonic dopamine"),
        Parameter("eta", 0.02, 0.0, 1.0, "1/ms", "learning rate"),
        Parameter("w_max", 4.0, 0.1, 20.0, "mV", "largest excitatory weight"),
        Parameter("w_init", 1.0, 0.0, 20.0, "mV", "initial excitatory weight"),
        Parameter("w_inh", -1.0, -20.0, 0.0, "mV", "inhibitory weight (fixed)"),
        Parameter("input_amp", 20.0, 0.0, 100.0, "1", "random drive pulse"),
    ),
    outputs=(
        Output("w_rewarded", "mV", "final weight of the rewarded synapse"),
        Output("w_others", "mV", "final mean weight of the other excitatory synapses"),
        Output("rewards", "1", "rewards delivered"),
        Output("rate", "Hz", "mean firing rate"),
    ),
)
N_E, N_I, M = 800, 200, 100
MAX_REWARDS = 100_000


@njit(cache=True)
def _first_after(a, n, x):
    """Index of the first of a[:n] (sorted) greater than x."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _catch_up(j, m, t, w, c, tc, rew, n_rew, p, c_decay):
    """Advance synapse (j, m) from its last event tc to t: w gains eta * int c (d + base) and c
    decays; closed form per reward (tau = tau_c tau_da / (tau_c + tau_da))."""
    t0 = tc[j, m]
    if t0 == t:
        return
    c0 = c[j, m]
    dt = t - t0
    if c0 != 0.0:
        tau_c, tau_da, jump, base, eta, w_max = p[4], p[5], p[6], p[7], p[8], p[9]
        integral = 0.0
        if base != 0.0:
            integral += base * tau_c * (1.0 - np.exp(-dt / tau_c))
        k = _first_after(rew, n_rew, t0 - 20.0 * tau_da)
        tau = tau_c * tau_da / (tau_c + tau_da)
        while k < n_rew and rew[k] <= t:
            tr = rew[k]
            s0 = max(t0, tr)
            integral += (
                jump
                * tau
                * (
                    np.exp(-(s0 - t0) / tau_c - (s0 - tr) / tau_da)
                    - np.exp(-(t - t0) / tau_c - (t - tr) / tau_da)
                )
            )
            k += 1
        if integral != 0.0:
            x = w[j, m] + eta * c0 * integral
            w[j, m] = min(max(x, 0.0), w_max)
        c[j, m] = c0 * (c_decay[dt] if dt < c_decay.size else 0.0)
    tc[j, m] = t


@njit(cache=True, nogil=True)
def _run(p, seed, t_ms, pre_n, m_n, post, in_start, in_pre, in_m, w_hist, o_hist, out):
    np.random.seed(seed)  # noqa: NPY002 (numba's generator, one run per call)
    n = N_E + N_I
    a = np.empty(n)
    b = np.empty(n)
    cc = np.empty(n)
    d = np.empty(n)
    for i in range(n):
        if i < N_E:
            a[i], b[i], cc[i], d[i] = 0.02, 0.2, -65.0, 8.0
        else:
            a[i], b[i], cc[i], d[i] = 0.1, 0.2, -65.0, 2.0
    v = np.full(n, -65.0)
    u = 0.2 * v
    w = np.empty((n, M))
    for i in range(n):
        for k in range(M):
            w[i, k] = p[10] if i < N_E else p[11]
    c = np.zeros((n, M))
    tc = np.zeros((n, M), np.int64)
    tr_pre = np.zeros(n)
    t_pre = np.zeros(n, np.int64)
    tr_post = np.zeros(n)
    t_post = np.zeros(n, np.int64)
    c_decay = np.exp(-np.arange(int(30 * p[4])) / p[4])
    a_plus, a_minus, tau_p, tau_m = p[0], p[1], p[2], p[3]
    rew = np.empty(MAX_REWARDS)
    n_rew = 0
    pending = np.empty(MAX_REWARDS)
    n_pend = 0
    i_now = np.zeros(n)
    i_next = np.zeros(n)
    fired = np.empty(n, np.int64)
    last_pre_spike = -1000000
    paired = False
    spikes = 0
    post_n = post[pre_n, m_n]
    for t in range(t_ms):
        # deliver due rewards (pending is kept sorted by time)
        while n_pend > 0 and pending[0] <= t:
            rew[n_rew] = pending[0]
            n_rew += 1
            for q in range(n_pend - 1):
                pending[q] = pending[q + 1]
            n_pend -= 1
        i_now[:] = i_next
        i_next[:] = 0.0
        i_now[np.random.randint(0, n)] += p[12]  # noqa: NPY002 (numba, seeded per run)
        nf = 0
        for i in range(n):
            if v[i] >= 30.0:  # spiked at the end of the previous millisecond: reset
                v[i] = cc[i]
                u[i] += d[i]
            for _ in range(2):  # two 0.5-ms steps for v (Izhikevich's scheme)
                v[i] += 0.5 * ((0.04 * v[i] + 5.0) * v[i] + 140.0 - u[i] + i_now[i])
            u[i] += a[i] * (b[i] * v[i] - u[i])
            if v[i] >= 30.0:
                v[i] = 30.0
                fired[nf] = i
                nf += 1
        spikes += nf
        for q in range(nf):
            i = fired[q]
            # LTP: the incoming excitatory synapses, by the presynaptic traces
            for x in range(in_start[i], in_start[i + 1]):
                j, m = in_pre[x], in_m[x]
                _catch_up(j, m, t, w, c, tc, rew, n_rew, p, c_decay)
                c[j, m] += a_plus * tr_pre[j] * np.exp(-(t - t_pre[j]) / tau_p)
            tr_post[i] = tr_post[i] * np.exp(-(t - t_post[i]) / tau_m) + 1.0
            t_post[i] = t
            # outgoing: LTD by the postsynaptic traces, and transmission (1-ms delay)
            for m in range(M):
                k = post[i, m]
                if i < N_E:
                    _catch_up(i, m, t, w, c, tc, rew, n_rew, p, c_decay)
                    c[i, m] -= a_minus * tr_post[k] * np.exp(-(t - t_post[k]) / tau_m)
                i_next[k] += w[i, m]
            tr_pre[i] = tr_pre[i] * np.exp(-(t - t_pre[i]) / tau_p) + 1.0
            t_pre[i] = t
            # the rewarded pairing: post within 10 ms after pre
            if i == pre_n:
                last_pre_spike = t
                paired = False
            if i == post_n and 0 < t - last_pre_spike <= 10 and not paired:
                paired = True
                due = t + 1000.0 + 2000.0 * np.random.random()  # noqa: NPY002
                pos = n_pend
                while pos > 0 and pending[pos - 1] > due:
                    pending[pos] = pending[pos - 1]
                    pos -= 1
                pending[pos] = due
                n_pend += 1
        if t % 1000 == 999:
            s = t // 1000
            _catch_up(pre_n, m_n, t, w, c, tc, rew, n_rew, p, c_decay)
            w_hist[s] = w[pre_n, m_n]
            o_hist[s] = -1.0  # filled for a sample of synapses below (cheap)
            tot, cnt = 0.0, 0
            for j in range(0, N_E, 8):  # every 8th excitatory neuron's synapses, caught up
                for m in range(M):
                    if j == pre_n and m == m_n:
                        continue
                    _catch_up(j, m, t, w, c, tc, rew, n_rew, p, c_decay)
                    tot += w[j, m]
                    cnt += 1
            o_hist[s] = tot / cnt
    tot, cnt = 0.0, 0
    for j in range(N_E):
        for m in range(M):
            _catch_up(j, m, t_ms, w, c, tc, rew, n_rew, p, c_decay)
            if not (j == pre_n and m == m_n):
                tot += w[j, m]
                cnt += 1
    out[0] = w[pre_n, m_n]
    out[1] = tot / cnt
    out[2] = n_rew
    out[3] = spikes / n / (t_ms * 1e-3)


@dataclass
class DistalRewardResult:
    w_rewarded: float
    w_others: float
    rewards: int
    rate_hz: float
    w_history: np.ndarray  # (seconds,) the rewarded synapse, each second
    others_history: np.ndarray  # (seconds,) mean of every 8th excitatory neuron's synapses
    wall_time_s: float


def build_graph(seed: int):
    """Random targets: 100 per neuron, distinct, no self-connections; inhibitory neurons target
    excitatory ones only. Returns post (N, M) and the incoming-excitatory index (CSR)."""
    rng = np.random.default_rng(seed)
    n = N_E + N_I
    post = np.empty((n, M), np.int64)
    for i in range(n):
        pool = n if i < N_E else N_E
        cand = rng.choice(pool - 1, M, replace=False)
        post[i] = cand + (cand >= i)  # skip i itself
    pre, slot = np.nonzero(np.ones((N_E, M), bool))
    tgt = post[:N_E].ravel()
    order = np.argsort(tgt, kind="stable")
    in_pre, in_m = pre[order], slot[order]
    in_start = np.searchsorted(tgt[order], np.arange(n + 1))
    return post, in_start.astype(np.int64), in_pre.astype(np.int64), in_m.astype(np.int64)


def simulate(
    params: dict | None = None,
    seed: int = 0,
    duration_s: float = 3600.0,
) -> DistalRewardResult:
    """One run: the rewarded synapse is the first synapse of excitatory neuron 0 (the graph is
    random, so that is a random excitatory pair)."""
    import time

    p = SPEC.params_array(dict(params or {}))[0]
    post, in_start, in_pre, in_m = build_graph(seed)
    t_ms = int(round(duration_s * 1e3))
    secs = t_ms // 1000
    w_hist, o_hist = np.zeros(secs), np.zeros(secs)
    out = np.zeros(4)
    t0 = time.perf_counter()
    _run(p, seed, t_ms, 0, 0, post, in_start, in_pre, in_m, w_hist, o_hist, out)
    return DistalRewardResult(
        float(out[0]),
        float(out[1]),
        int(out[2]),
        float(out[3]),
        w_hist,
        o_hist,
        time.perf_counter() - t0,
    )


def simulate_seeds(
    seeds, params: dict | None = None, duration_s: float = 3600.0, workers: int | None = None
) -> list[DistalRewardResult]:
    """Independent runs (one per seed) on ``workers`` threads (default: all cores); the kernel
    releases the GIL, so runs proceed in parallel."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    n = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda s: simulate(params, int(s), duration_s), seeds))
