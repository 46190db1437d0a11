"""Synapses and plasticity rules, batched over parameter sets, driven by given spike trains.

Everything between events is an exponential decay, so each rule is integrated *exactly*
event by event (no time step): the traces and resources are advanced to the next spike in closed
form. Each rule is declared once (names, units, defaults, bounds) like every other model.

- Tsodyks-Markram short-term plasticity (facilitation u, resources x; Markram et al. 1998):
      du/dt = -u/tau_f,  dx/dt = (1 - x)/tau_d;  at a spike u <- u + U (1 - u), then the
      released fraction is u x and x <- x - u x (tau_f = 0: no facilitation, u = U).
- Pair-based online STDP with presynaptic trace a_pre (tau_plus) and postsynaptic trace a_post
  (tau_minus), both +1 per spike. At a post spike w += A_plus a_pre (additive) or
  A_plus (w_max - w) a_pre (weight-dependent); at a pre spike w -= A_minus a_post (additive) or
  A_minus w a_post. w is clipped to [0, w_max].
- Reward-modulated STDP (three factors): the STDP update goes into an eligibility trace c
  (dc/dt = -c/tau_c); dopamine d jumps by the reward at reward times (dd/dt = -d/tau_da);
  dw/dt = c d.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroscape.core.rows import run_on_threads
from neuroscape.core.spec import ModelSpec, Output, Parameter

STP_SPEC = ModelSpec(
    name="tsodyks_markram",
    version="1",
    description="Tsodyks-Markram short-term depression and facilitation",
    parameters=(
        Parameter("U", 0.5, 0.001, 1.0, "1", "utilization increment"),
        Parameter("tau_d", 200.0, 1.0, 5000.0, "ms", "recovery from depression", 1e-9),
        Parameter("tau_f", 50.0, 0.0, 5000.0, "ms", "facilitation decay (0: none)", 0.0),
    ),
    outputs=(Output("efficacy", "1", "released fraction u x at each presynaptic spike"),),
)

STDP_SPEC = ModelSpec(
    name="stdp",
    version="1",
    description="Pair-based online STDP with pre/post traces",
    parameters=(
        Parameter("A_plus", 0.01, 0.0, 1.0, "1", "potentiation amplitude", 0.0),
        Parameter("A_minus", 0.012, 0.0, 1.0, "1", "depression amplitude", 0.0),
        Parameter("tau_plus", 20.0, 1.0, 200.0, "ms", "presynaptic trace time constant", 1e-9),
        Parameter("tau_minus", 20.0, 1.0, 200.0, "ms", "postsynaptic trace time constant", 1e-9),
        Parameter("w_max", 1.0, 0.01, 100.0, "1", "upper weight bound", 1e-9),
        Parameter("w0", 0.5, 0.0, 100.0, "1", "initial weight", 0.0),
    ),
    outputs=(Output("w", "1", "final weight"),),
)

RSTDP_SPEC = ModelSpec(
    name="reward_stdp",
    version="1",
    description="Reward-modulated STDP with an eligibility trace (three-factor rule)",
    parameters=(
        *STDP_SPEC.parameters,
        Parameter("tau_c", 1000.0, 1.0, 10000.0, "ms", "eligibility trace time constant", 1e-9),
        Parameter("tau_da", 200.0, 1.0, 5000.0, "ms", "dopamine time constant", 1e-9),
    ),
    outputs=(Output("w", "1", "final weight"),),
)


def stp_steady_state(rate_hz: float, p: dict) -> tuple[float, float, float]:
    """(u, x, u x) just before a spike of a regular train at ``rate_hz`` in the steady state.

    With T = 1/rate, a = exp(-T/tau_f), b = exp(-T/tau_d) and u+ = u + U (1 - u):
    u = U a / (1 - (1 - U) a) (no facilitation when tau_f = 0: u = U),
    x = (1 - b) / (1 - (1 - u+) b).
    """
    t = 1000.0 / rate_hz
    u_inc = p["U"]
    a = np.exp(-t / p["tau_f"]) if p["tau_f"] > 0 else 0.0
    u_before = u_inc * a / (1.0 - (1.0 - u_inc) * a) if p["tau_f"] > 0 else 0.0
    u = u_before + u_inc * (1.0 - u_before)  # value used at the spike
    b = np.exp(-t / p["tau_d"])
    x = (1.0 - b) / (1.0 - (1.0 - u) * b)
    return u, x, u * x


@njit(nogil=True, cache=True)
def _stp_kernel(params, spikes, out, r_lo, r_hi):
    for r in range(r_lo, r_hi):
        u_inc, tau_d, tau_f = params[r, 0], params[r, 1], params[r, 2]
        u = 0.0  # u relaxes to 0 between spikes, is incremented at each (Markram et al. 1998)
        x = 1.0
        t_last = 0.0
        for k in range(spikes.shape[0]):
            t = spikes[k]
            dt = t - t_last if k > 0 else np.inf
            if tau_f > 0.0:
                u = u * np.exp(-dt / tau_f)
            else:
                u = 0.0
            x = 1.0 - (1.0 - x) * np.exp(-dt / tau_d)
            u = u + u_inc * (1.0 - u)
            out[r, k] = u * x
            x = x - u * x
            t_last = t


def tsodyks_markram(params: np.ndarray, spike_times_ms: np.ndarray) -> np.ndarray:
    """(B, n_spikes) released fraction u x at each presynaptic spike, for B parameter rows."""
    p = STP_SPEC.validate(np.atleast_2d(params))
    spikes = np.asarray(spike_times_ms, dtype=float)
    if spikes.ndim != 1 or np.any(np.diff(spikes) < 0):
        raise ValueError("spike_times_ms must be a sorted 1-D array (ms)")
    out = np.empty((len(p), len(spikes)))
    run_on_threads(_stp_kernel, (p, spikes, out), len(p))
    return out


@njit(nogil=True, cache=True)
def _stdp_kernel(params, pre, post, reward_t, reward_v, multiplicative, modulated, w_out, r_lo,
                 r_hi):
    """Event-driven STDP (and R-STDP when ``modulated``): merge the three event streams."""
    for r in range(r_lo, r_hi):
        a_p, a_m, tau_p, tau_m, w_max, w = (
            params[r, 0],
            params[r, 1],
            params[r, 2],
            params[r, 3],
            params[r, 4],
            params[r, 5],
        )
        tau_c = params[r, 6] if modulated else 1.0
        tau_da = params[r, 7] if modulated else 1.0
        x_pre = 0.0
        y_post = 0.0
        c = 0.0
        d = 0.0
        t_last = 0.0
        i = j = k = 0
        n_pre, n_post, n_rew = pre.shape[0], post.shape[0], reward_t.shape[0]
        while i < n_pre or j < n_post or k < n_rew:
            # next event: post before pre at equal times (a synchronous pair potentiates
            # with the trace of the earlier pre spikes only), rewards last
            t_pre = pre[i] if i < n_pre else np.inf
            t_post = post[j] if j < n_post else np.inf
            t_rew = reward_t[k] if k < n_rew else np.inf
            t = min(t_pre, t_post, t_rew)
            h = t - t_last
            x_pre *= np.exp(-h / tau_p)
            y_post *= np.exp(-h / tau_m)
            if modulated:
                # dw/dt = c d with c, d both decaying: integrate the product exactly
                lam = 1.0 / tau_c + 1.0 / tau_da
                w += c * d * (1.0 - np.exp(-lam * h)) / lam
                w = min(max(w, 0.0), w_max)
                c *= np.exp(-h / tau_c)
                d *= np.exp(-h / tau_da)
            t_last = t
            if t_post == t:
                if multiplicative:
                    dw = a_p * (w_max - w) * x_pre
                else:
                    dw = a_p * x_pre
                if modulated:
                    c += dw
                else:
                    w = min(max(w + dw, 0.0), w_max)
                y_post += 1.0
                j += 1
            elif t_pre == t:
                if multiplicative:
                    dw = -a_m * w * y_post
                else:
                    dw = -a_m * y_post
                if modulated:
                    c += dw
                else:
                    w = min(max(w + dw, 0.0), w_max)
                x_pre += 1.0
                i += 1
            else:
                d += reward_v[k]
                k += 1
        if modulated:  # the tail of dw/dt = c d after the last event
            lam = 1.0 / tau_c + 1.0 / tau_da
            w = min(max(w + c * d / lam, 0.0), w_max)
        w_out[r] = w


def _sorted(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=float).ravel()
    if np.any(np.diff(a) < 0) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be sorted finite times in ms")
    return a


def stdp(params: np.ndarray, pre_ms, post_ms, rule: str = "additive") -> np.ndarray:
    """Final weight (B,) after the given pre and post spike trains, for B parameter rows.

    rule: "additive" or "multiplicative" (weight-dependent).
    """
    if rule not in ("additive", "multiplicative"):
        raise ValueError(f"unknown STDP rule {rule!r}; allowed: additive, multiplicative")
    p = STDP_SPEC.validate(np.atleast_2d(params))
    out = np.empty(len(p))
    empty = np.zeros(0)
    args = (p, _sorted("pre_ms", pre_ms), _sorted("post_ms", post_ms), empty, empty,
            rule == "multiplicative", False, out)
    run_on_threads(_stdp_kernel, args, len(p))
    return out


def reward_stdp(
    params: np.ndarray, pre_ms, post_ms, reward_ms, reward_amount, rule: str = "additive"
) -> np.ndarray:
    """Final weight (B,) under reward-modulated STDP: rewards of ``reward_amount`` (each) at
    ``reward_ms`` release dopamine that turns the eligibility trace into weight change."""
    if rule not in ("additive", "multiplicative"):
        raise ValueError(f"unknown STDP rule {rule!r}; allowed: additive, multiplicative")
    p = RSTDP_SPEC.validate(np.atleast_2d(params))
    rt = _sorted("reward_ms", reward_ms)
    rv = np.broadcast_to(np.asarray(reward_amount, dtype=float), rt.shape).copy()
    out = np.empty(len(p))
    args = (p, _sorted("pre_ms", pre_ms), _sorted("post_ms", post_ms), rt, rv,
            rule == "multiplicative", True, out)
    run_on_threads(_stdp_kernel, args, len(p))
    return out
