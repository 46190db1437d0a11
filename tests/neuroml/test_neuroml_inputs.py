"""The Poisson process of a poissonFiringSynapse as neuroscape draws it for `simulate LEMS.xml`
(NeuroML2 Inputs.xml: exponential intervals of mean 1/averageRate, a spike in the first step
after each ideal time, at most one per step): counts with the mean and variance of a Poisson
process, and the backlog at a rate above one per step."""

from __future__ import annotations

import numpy as np

from neuroscape.models.neuroml.lems_iaf import poisson_steps


def test_counts_are_poisson():
    t_s = np.add.accumulate(np.full(10_000, 1e-4))  # 1 s at 0.1 ms
    rng = np.random.default_rng(7)
    counts = np.array([len(poisson_steps(50.0, t_s, rng)) for _ in range(400)])
    # mean 50 (SE 50/400 ** 0.5 = 0.35), Fano factor 1 (SE about (2/399) ** 0.5 = 0.07)
    assert abs(counts.mean() - 50.0) < 4 * np.sqrt(50.0 / 400)
    assert abs(counts.var(ddof=1) / counts.mean() - 1.0) < 4 * np.sqrt(2 / 399)


def test_one_spike_per_step_with_a_backlog():
    t_s = np.add.accumulate(np.full(1000, 1e-4))
    steps = poisson_steps(20_000.0, t_s, np.random.default_rng(1))  # 2 spikes per step due
    assert np.all(np.diff(steps) >= 1)
    assert len(steps) > 990  # nearly every step spikes once the backlog builds
