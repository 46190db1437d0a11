"""Writes the small SONATA circuit of tests/sonata with the format's own builder, bmtk's
NetworkBuilder (Dai et al. 2020, PLoS Comput Biol 16:e1007696), not with neuroscape's reader.

Run once (bmtk 1.2.0 in a separate environment; neuroscape does not depend on bmtk):
    python -m venv /tmp/bmtk && /tmp/bmtk/bin/pip install bmtk
    /tmp/bmtk/bin/python tests/data/sonata/build_with_bmtk.py

One node population ``net``: 8 excitatory and 4 inhibitory leaky integrate-and-fire neurons
(node types 100 and 101, ``neuroscape:lif`` with dynamics_params JSON files); E->E, E->I with
one syn_weight per edge type, I->E with per-edge weights (an edge group dataset, two values),
I->I with a per-type weight; delays 1.5 ms (E) and 0.8 ms (I); seeded random graph.
"""

import json
from pathlib import Path

import numpy as np
from bmtk.builder import NetworkBuilder

HERE = Path(__file__).resolve().parent
OUT = HERE / "circuit"
COMP = OUT / "components"
rng = np.random.default_rng(7)

net = NetworkBuilder("net")
net.add_nodes(N=8, pop_name="E", model_type="point_neuron", model_template="neuroscape:lif",
              dynamics_params="lif_E.json")
net.add_nodes(N=4, pop_name="I", model_type="point_neuron", model_template="neuroscape:lif",
              dynamics_params="lif_I.json")


def p_conn(source, target, p):
    if source.node_id == target.node_id:
        return None
    return 1 if rng.random() < p else None


common = dict(connection_rule=p_conn, model_template="static_synapse",
              dynamics_params="static_synapse.json", on_pre="V += w*mV")
net.add_edges(source={"pop_name": "E"}, target={"pop_name": "E"}, connection_params={"p": 0.4},
              syn_weight=3.0, delay=1.5, **common)
net.add_edges(source={"pop_name": "E"}, target={"pop_name": "I"}, connection_params={"p": 0.5},
              syn_weight=4.0, delay=1.5, **common)
cm = net.add_edges(source={"pop_name": "I"}, target={"pop_name": "E"},
                   connection_params={"p": 0.6}, delay=0.8, **common)
cm.add_properties("syn_weight", rule=lambda s, t: float(rng.choice([-6.0, -9.0])), dtypes=float)
net.add_edges(source={"pop_name": "I"}, target={"pop_name": "I"}, connection_params={"p": 0.5},
              syn_weight=-5.0, delay=0.8, **common)
net.build()
(OUT / "network").mkdir(parents=True, exist_ok=True)
net.save_nodes(output_dir=str(OUT / "network"))
net.save_edges(output_dir=str(OUT / "network"))

COMP.mkdir(parents=True, exist_ok=True)
(COMP / "lif_E.json").write_text(json.dumps({"tau": 20.0, "t_ref": "2 ms"}) + "\n")
(COMP / "lif_I.json").write_text(json.dumps({"tau": 10.0, "R": 10.0}) + "\n")
(COMP / "static_synapse.json").write_text("{}\n")
config = {
    "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                 "$COMPONENTS_DIR": "$BASE_DIR/components"},
    "components": {"point_neuron_models_dir": "$COMPONENTS_DIR",
                   "synaptic_models_dir": "$COMPONENTS_DIR"},
    "networks": {
        "nodes": [{"nodes_file": "$NETWORK_DIR/net_nodes.h5",
                   "node_types_file": "$NETWORK_DIR/net_node_types.csv"}],
        "edges": [{"edges_file": "$NETWORK_DIR/net_net_edges.h5",
                   "edge_types_file": "$NETWORK_DIR/net_net_edge_types.csv"}],
    },
}
(OUT / "circuit_config.json").write_text(json.dumps(config, indent=2) + "\n")
print("written", OUT)
