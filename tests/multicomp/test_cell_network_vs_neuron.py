"""A recurrent network of multi-compartment cells against NEURON 9 running the same network
(neuroscape.reference.neuron_network): ball-and-stick E cells and branched SWC I cells,
ExpSyn/Exp2Syn at dendritic and somatic locations, NetCon delays, Poisson drive played into
both from the same trains (synapses at segment centres and at zero-area nodes); every spike
time of every cell, at two parameter sets of one batch and both of NEURON's fixed-step
schemes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroscape.models.multicomp.network import build_cell_network
from neuroscape.sim.cell_network import input_trains, run_cell_network

pytest.importorskip("neuron")
pytestmark = pytest.mark.slow

CELLS = Path(__file__).resolve().parents[1] / "data" / "cells"

NET = {
    "name": "ei_cells",
    "populations": {"E": {"size": 12, "model": "ball_stick.yaml"},
                    "I": {"size": 4, "model": "branched_swc.yaml"}},
    "projections": {
        "EE": {"pre": "E", "post": "E", "connect": {"p": 0.25},
               "synapse": {"model": "exp2syn", "tau1": "0.5 ms", "tau2": "5 ms", "e": "0 mV",
                           "at": "dend(0.5)"},
               "weight": "w_EE", "delay": "1.5 ms"},
        "EI": {"pre": "E", "post": "I", "connect": {"in_degree": 4},
               "synapse": {"model": "expsyn", "tau": "1 ms", "e": "0 mV", "at": "soma(0.5)"},
               "weight": "0.01 uS", "delay": "1 ms"},
        # tau1 = tau2: Exp2Syn's INITIAL moves tau1 to 0.9999 tau2
        "IE": {"pre": "I", "post": "E", "connect": "all_to_all",
               "synapse": {"model": "exp2syn", "tau1": "3 ms", "tau2": "3 ms", "e": "-80 mV",
                           "at": "soma(0.5)"},
               "weight": "0.004 uS", "delay": "1.2 ms"},
    },
    "inputs": {
        "drive": {"target": "E", "rate": "rate", "n": 50, "weight": "0.003 uS",
                  "synapse": {"model": "expsyn", "tau": "2 ms", "e": "0 mV",
                              "at": "dend(0.8)"}},
        "drive_I": {"target": "I", "rate": "10 Hz", "n": 20, "weight": "0.002 uS",
                    "synapse": {"model": "exp2syn", "tau1": 0.2, "tau2": 2, "e": 0,
                                "at": "dend[0](0.5)"}},
        # synapses on zero-area nodes: a dendrite's tip (x = 1) and a 0-end (x = 0)
        "tip_E": {"target": "E", "rate": "5 Hz", "n": 10, "weight": "0.004 uS",
                  "synapse": {"model": "expsyn", "tau": 3, "e": 0, "at": "dend(1)"}},
        "base_I": {"target": "I", "rate": "5 Hz", "n": 10, "weight": "0.002 uS",
                   "synapse": {"model": "exp2syn", "tau1": 1, "tau2": 4, "e": 0,
                               "at": "dend[5](0)"}},
    },
    "parameters": {"w_EE": {"default": "0.004 uS", "low": 0, "high": 0.02},
                   "rate": {"default": "20 Hz", "low": 0, "high": 50},
                   "E.soma.hh.gnabar": {"low": 0.06, "high": 0.18},
                   "E.dend.L": {"low": 200, "high": 800}},
    "settings": {"duration": "200 ms", "dt": "0.025 ms"},
}  # fmt: skip

PARAMS = np.array([[0.004, 20.0, 0.12, 400.0], [0.010, 25.0, 0.10, 600.0]])


@pytest.fixture(scope="module")
def net():
    return build_cell_network(NET, folder=CELLS)


@pytest.mark.parametrize(("integrator", "secondorder"),
                         [("crank_nicolson", 2), ("backward_euler", 0)])
def test_every_spike_time_as_neurons(net, integrator, secondorder):
    from neuroscape.reference.neuron_network import neuron_cell_network

    ours = run_cell_network(net, PARAMS, seed=11, integrator=integrator)
    trains = input_trains(net, net.values(PARAMS), seed=11)
    graph = net.graph(0)
    worst, n_spikes, n_rec = 0.0, 0, 0
    for p in range(len(PARAMS)):
        ref = neuron_cell_network(net, dict(zip(net.parameter_names, PARAMS[p], strict=True)),
                                  graph, [tr[p] for tr in trains], secondorder=secondorder)
        for pop in ("E", "I"):
            for i, (a, b) in enumerate(zip(ours.spikes[pop][p], ref.spikes[pop], strict=True)):
                assert len(a) == len(b), (p, pop, i, a[:4], b[:4])
                if len(a):
                    worst = max(worst, float(np.abs(a - b).max()))
                n_spikes += len(a)
            n_rec += sum(len(s) for s in ref.spikes["I"]) if pop == "I" else 0
    # the network is active (recurrence and inhibition at work), and every spike agrees
    assert n_spikes > 100 and n_rec > 10, (n_spikes, n_rec)  # 121 and 83 seen (CN)
    assert worst < 1e-6, worst  # ms (2.6e-12 seen with CN, 2.3e-12 with BE)
    # and the recurrent synapses matter: without EE the E cells fire otherwise
    quiet = run_cell_network(net, PARAMS[:1] * [0.0, 1.0, 1.0, 1.0], seed=11,
                             integrator=integrator)
    assert any(not np.array_equal(a, b)
               for a, b in zip(quiet.spikes["E"][0], ours.spikes["E"][0], strict=True))
