"""Writes tests/data/sonata/circuit_weights with bmtk's NetworkBuilder (the format's own tool, not
neuroscape's code): a circuit whose edges carry continuous per-edge syn_weight and delay.

Run once (bmtk 1.2.0 in a separate environment; neuroscape does not depend on bmtk):
    python -m venv /tmp/bmtk && /tmp/bmtk/bin/pip install bmtk
    /tmp/bmtk/bin/python tests/data/sonata/build_weights_with_bmtk.py

One node population ``cw``: 6 excitatory and 3 inhibitory leaky integrate-and-fire neurons
(``neuroscape:lif``); E->E with a normal weight and a uniform delay per edge, E->I with one weight
and a per-edge delay, I->E with a per-edge weight and one delay; seeded random graph.
"""

import json
import shutil
from pathlib import Path

import numpy as np
from bmtk.builder import NetworkBuilder

HERE = Path(__file__).resolve().parent
OUT = HERE / "circuit_weights"
rng = np.random.default_rng(11)

net = NetworkBuilder("cw")
net.add_nodes(N=6, pop_name="E", model_type="point_neuron", model_template="neuroscape:lif",
              dynamics_params="lif_E.json")
net.add_nodes(N=3, pop_name="I", model_type="point_neuron", model_template="neuroscape:lif",
              dynamics_params="lif_I.json")


def p_conn(source, target, p):
    if source.node_id == target.node_id:
        return None
    return 1 if rng.random() < p else None


common = dict(connection_rule=p_conn, model_template="static_synapse",
              dynamics_params="static_synapse.json", on_pre="V += w*mV")
ee = net.add_edges(source={"pop_name": "E"}, target={"pop_name": "E"},
                   connection_params={"p": 0.6}, **common)
ee.add_properties(["syn_weight", "delay"],
                  rule=lambda s, t: (float(rng.normal(2.5, 0.8)), float(rng.uniform(0.5, 3.0))),
                  dtypes=[float, float])
ei = net.add_edges(source={"pop_name": "E"}, target={"pop_name": "I"},
                   connection_params={"p": 0.7}, syn_weight=3.5, **common)
ei.add_properties("delay", rule=lambda s, t: float(rng.uniform(0.8, 2.0)), dtypes=float)
ie = net.add_edges(source={"pop_name": "I"}, target={"pop_name": "E"},
                   connection_params={"p": 0.8}, delay=0.7, **common)
ie.add_properties("syn_weight", rule=lambda s, t: float(-rng.uniform(4.0, 9.0)), dtypes=float)
net.build()
(OUT / "network").mkdir(parents=True, exist_ok=True)
net.save_nodes(output_dir=str(OUT / "network"))
net.save_edges(output_dir=str(OUT / "network"))

comp = OUT / "components"
comp.mkdir(parents=True, exist_ok=True)
for f in ("lif_E.json", "lif_I.json", "static_synapse.json"):
    shutil.copy(HERE / "circuit" / "components" / f, comp / f)
config = json.loads((HERE / "circuit" / "circuit_config.json").read_text())
config["networks"] = {
    "nodes": [{"nodes_file": "$NETWORK_DIR/cw_nodes.h5",
               "node_types_file": "$NETWORK_DIR/cw_node_types.csv"}],
    "edges": [{"edges_file": "$NETWORK_DIR/cw_cw_edges.h5",
               "edge_types_file": "$NETWORK_DIR/cw_cw_edge_types.csv"}],
}
(OUT / "circuit_config.json").write_text(json.dumps(config, indent=2) + "\n")
print("written", OUT)
