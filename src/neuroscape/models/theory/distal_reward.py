"""The distal reward problem (Izhikevich 2007) solved by dopamine-modulated STDP (Gerstner,
Sprekeler & Deco 2012): the theory study's result.

The network is a description file, ``neuroscape/models/network/library/distal_reward.yaml``
(``neuroscape.models.network.distal_reward()``), run by the network engine like every other
network: 800 excitatory (regular spiking) and 200 inhibitory (fast spiking) Izhikevich neurons,
100 random targets per neuron, random drive, STDP that feeds an eligibility trace c, dopamine
that decays and jumps at each reward, dw/dt = eta c (DA + da_base) with w in [0, w_max]; a
critic neuron watches one excitatory synapse and rewards each pairing (its postsynaptic neuron
firing within 10 ms after its presynaptic one) 1-3 s later. Its parameters and outputs
(``w_rewarded``, ``w_others``, ``rewards``, ``rate``) are the file's. The study
(``neuroscape theory distal-reward``) runs it once and records the rewarded weight and the mean
of the other excitatory weights every second (the file's ``records``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

NETWORK = "distal_reward"  # the shipped network file
DEFAULT_DURATION_S = 3600.0  # the study's run: the network's declared duration (one hour)


@dataclass
class DistalRewardResult:
    """One run of the study (weights in mV, times in s)."""

    w_rewarded: float  # mV: final weight of the rewarded synapse
    w_others: float  # mV: final mean weight of all other excitatory synapses
    rewards: int  # rewards delivered
    rate_hz: float  # mean firing rate of the 1000 neurons over the run
    w_history: np.ndarray  # (seconds,) mV: the rewarded synapse at 1, 2, ... s
    others_history: np.ndarray  # (seconds,) mV: the mean of all the others at 1, 2, ... s
    wall_time_s: float


def result_from_run(outputs: Mapping[str, float], records: Mapping[str, np.ndarray],
                    wall_time_s: float) -> DistalRewardResult:
    """The study's result from one row of the network's outputs (name -> value) and records
    (name -> values at 1, 2, ... s)."""
    return DistalRewardResult(
        float(outputs["w_rewarded"]),
        float(outputs["w_others"]),
        int(round(float(outputs["rewards"]))),
        float(outputs["rate"]),
        np.asarray(records["w_rewarded"], dtype=float),
        np.asarray(records["w_others"], dtype=float),
        float(wall_time_s),
    )
