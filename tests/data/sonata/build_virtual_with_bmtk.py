"""Writes tests/data/sonata/circuit_virtual with bmtk (the format's own tools, not neuroscape's
code): virtual input nodes whose spike trains come from a SONATA spike file written by bmtk's
SpikeTrains, listed in a simulation config's ``inputs``.

Run once (bmtk 1.2.0 in a separate environment; neuroscape does not depend on bmtk):
    python -m venv /tmp/bmtk && /tmp/bmtk/bin/pip install bmtk
    /tmp/bmtk/bin/python tests/data/sonata/build_virtual_with_bmtk.py

Node population ``ext``: 5 virtual nodes. Node population ``cells``: 3 integrators that never
fire (``neuroscape:acc.yaml``: v sums the weights that arrive), so the run's v is a closed form of
the input spikes, weights and delays. Edges ext -> cells with per-edge weights and delays.
"""

import json
from pathlib import Path

import numpy as np
from bmtk.builder import NetworkBuilder
from bmtk.utils.reports.spike_trains import SpikeTrains

HERE = Path(__file__).resolve().parent
OUT = HERE / "circuit_virtual"
rng = np.random.default_rng(5)

ext = NetworkBuilder("ext")
ext.add_nodes(N=5, model_type="virtual", pop_name="ext")
cells = NetworkBuilder("cells")
cells.add_nodes(N=3, pop_name="acc", model_type="point_neuron",
                model_template="neuroscape:acc.yaml")
e = ext.add_edges(source=ext.nodes(), target=cells.nodes(),
                  connection_rule=lambda s, t: 1 if rng.random() < 0.7 else None,
                  model_template="static_synapse", dynamics_params="static_synapse.json",
                  on_pre="v += w*mV")
e.add_properties(["syn_weight", "delay"],
                 rule=lambda s, t: (float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.5, 4.0))),
                 dtypes=[float, float])
ext.build()
cells.build()
(OUT / "network").mkdir(parents=True, exist_ok=True)
for net in (ext, cells):
    net.save_nodes(output_dir=str(OUT / "network"))
ext.save_edges(output_dir=str(OUT / "network"))

# each virtual node fires a few times at its own times (ms), node 4 never
st = SpikeTrains(population="ext")
for node, times in {0: [5.0, 25.3], 1: [12.1], 2: [3.3, 17.7, 31.0], 3: [40.2]}.items():
    st.add_spikes(node_ids=node, timestamps=np.array(times))
(OUT / "inputs").mkdir(exist_ok=True)
st.to_sonata(str(OUT / "inputs" / "ext_spikes.h5"))

comp = OUT / "components"
comp.mkdir(parents=True, exist_ok=True)
(comp / "static_synapse.json").write_text("{}\n")
(comp / "acc.yaml").write_text(
    "name: acc\n"
    "description: a perfect integrator that never fires (v sums its inputs)\n"
    "equations: |\n  dv/dt = I/(1*ms) : mV\n"
    "current: {name: I, unit: mV}\n"
    "threshold: v > 1000*mV\nreset: v = 0*mV\nspike_timing: grid\n"
    "initial: {v: 0 mV}\n"
    "settings: {duration: 50 ms, dt: 0.1 ms, integrator: exact}\n")
circuit = {
    "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                 "$COMPONENTS_DIR": "$BASE_DIR/components"},
    "components": {"point_neuron_models_dir": "$COMPONENTS_DIR",
                   "synaptic_models_dir": "$COMPONENTS_DIR"},
    "networks": {
        "nodes": [{"nodes_file": f"$NETWORK_DIR/{n}_nodes.h5",
                   "node_types_file": f"$NETWORK_DIR/{n}_node_types.csv"}
                  for n in ("ext", "cells")],
        "edges": [{"edges_file": "$NETWORK_DIR/ext_cells_edges.h5",
                   "edge_types_file": "$NETWORK_DIR/ext_cells_edge_types.csv"}],
    },
}
(OUT / "circuit_config.json").write_text(json.dumps(circuit, indent=2) + "\n")
sim = {
    "manifest": {"$BASE_DIR": "${configdir}", "$INPUT_DIR": "$BASE_DIR/inputs"},
    "network": "$BASE_DIR/circuit_config.json",
    "run": {"tstop": 50.0, "dt": 0.1},
    "inputs": {"ext_spikes": {"input_type": "spikes", "module": "sonata",
                              "input_file": "$INPUT_DIR/ext_spikes.h5", "node_set": "ext"}},
}
(OUT / "simulation_config.json").write_text(json.dumps(sim, indent=2) + "\n")
print("written", OUT)
