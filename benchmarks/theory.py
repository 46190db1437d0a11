"""Timing of the theory studies (Gerstner, Sprekeler & Deco 2012) against a plain NumPy peer of
the same algorithm, in one run.

ddm        10,000 drift-diffusion trials (dt 1 ms): neuroscape's numba kernel (parallel over
           trials, Brownian-bridge crossings) against a NumPy Euler-Maruyama loop vectorized
           over trials (the usual way to write it), same dt.
wong-wang  10,000 Wong-Wang trials (dt 0.5 ms, 3 s): numba kernel against NumPy vectorized
           over trials.
hopfield   the capacity sweep (N = 500, 1000, 2000; 9 loads; 10 trials): numba asynchronous
           updates with incremental fields against the same dynamics in NumPy (one
           matrix-vector product per sweep is impossible for asynchronous updates, so the peer
           updates the fields per flip with NumPy row operations), timed on one (N, load)
           point and scaled by the number of trials there.

  python benchmarks/theory.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neuroscape.core.rng import row_keys
from neuroscape.models.theory import ddm, hopfield, wong_wang


def ddm_numpy(v, a, sigma, n, dt_s, t_max_s, rng):
    x = np.zeros(n)
    done = np.zeros(n, bool)
    rt = np.full(n, np.nan)
    choice = np.full(n, np.nan)
    for k in range(int(t_max_s / dt_s)):
        live = ~done
        if not live.any():
            break
        x[live] += v * dt_s + sigma * np.sqrt(dt_s) * rng.standard_normal(live.sum())
        up, lo = live & (x >= a), live & (x <= -a)
        choice[up], choice[lo] = 1, 0
        rt[up | lo] = (k + 1) * dt_s
        done |= up | lo
    return choice, rt


def ww_numpy(p, n, dt, steps, rng):
    c, mu0, js, jc, i0, jext, sig, thr = p
    i1, i2 = jext * mu0 * (1 + c / 100), jext * mu0 * (1 - c / 100)
    s1 = np.full(n, wong_wang.S_START)
    s2 = s1.copy()
    n1 = np.zeros(n)
    n2 = np.zeros(n)
    ou = np.exp(-dt / wong_wang.TAU_AMPA)
    sd = sig * np.sqrt(0.5 * (1 - ou * ou))
    rt = np.full(n, np.nan)
    for k in range(steps):
        h1 = wong_wang._hv(js * s1 - jc * s2 + i0 + i1 + n1)
        h2 = wong_wang._hv(js * s2 - jc * s1 + i0 + i2 + n2)
        hit = np.isnan(rt) & ((h1 >= thr) | (h2 >= thr))
        rt[hit] = k * dt
        s1 += dt * (-s1 / wong_wang.TAU_S + (1 - s1) * wong_wang.GAMMA * h1)
        s2 += dt * (-s2 / wong_wang.TAU_S + (1 - s2) * wong_wang.GAMMA * h2)
        n1 = n1 * ou + sd * rng.standard_normal(n)
        n2 = n2 * ou + sd * rng.standard_normal(n)
    return rt


def hopfield_numpy(n, alpha, seed):
    rng = np.random.default_rng(seed)
    p = max(1, round(alpha * n))
    xi = rng.choice(np.array([-1.0, 1.0]), size=(p, n))
    w = hopfield.store(xi)
    s = xi[0].copy()
    s[rng.random(n) < 0.1] *= -1
    h = w @ s
    for _ in range(50):
        flips = 0
        for i in rng.permutation(n):
            new = 1.0 if h[i] >= 0 else -1.0
            if new != s[i]:
                h += (new - s[i]) * w[:, i]
                s[i] = new
                flips += 1
        if flips == 0:
            break
    return float(xi[0] @ s / n)


def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    n = 10_000
    rng = np.random.default_rng(0)
    p = np.tile(ddm.SPEC.params_array({"v": 1.0})[0], (n, 1))
    keys = row_keys(0, np.arange(n))
    ddm.simulate_trials(p[:10], keys[:10])  # compile
    t_ns = timed(lambda: ddm.simulate_trials(p, keys, 1.0, 10_000.0), a.repeats)
    t_np = timed(lambda: ddm_numpy(1.0, 1.0, 1.0, n, 1e-3, 10.0, rng), a.repeats)
    print(
        f"ddm 10,000 trials:        neuroscape {t_ns:.3f} s, numpy {t_np:.3f} s, "
        f"ratio {t_np / t_ns:.1f}x"
    )
    pw = wong_wang.SPEC.params_array({"coherence": 6.4})[0]
    pp = np.tile(pw, (n, 1))
    wong_wang.simulate_trials(pp[:10], keys[:10])
    t_ns = timed(lambda: wong_wang.simulate_trials(pp, keys), a.repeats)
    t_np = timed(lambda: ww_numpy(pw, n, 5e-4, 6000, rng), a.repeats)
    print(
        f"wong-wang 10,000 trials:  neuroscape {t_ns:.3f} s, numpy {t_np:.3f} s, "
        f"ratio {t_np / t_ns:.1f}x"
    )
    alphas = (0.02, 0.05, 0.08, 0.10, 0.12, 0.14, 0.16, 0.20, 0.25)
    hopfield.retrieve(100, 0.05)  # compile
    t_sweep = timed(lambda: hopfield.capacity_curve((500, 1000, 2000), alphas, 10), 1)
    t_one_ns = timed(lambda: [hopfield.retrieve(1000, 0.14, 0.1, s) for s in range(3)], a.repeats)
    t_one_np = timed(lambda: [hopfield_numpy(1000, 0.14, s) for s in range(3)], 1)
    print(
        f"hopfield capacity sweep:  neuroscape {t_sweep:.2f} s (270 trials); one point "
        f"(N = 1000, alpha = 0.14, 3 trials): neuroscape {t_one_ns:.3f} s, numpy "
        f"{t_one_np:.2f} s, ratio {t_one_np / t_one_ns:.1f}x"
    )


if __name__ == "__main__":
    main()
