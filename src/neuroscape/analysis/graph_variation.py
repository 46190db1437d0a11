"""How much do the circuit's rates depend on the graph realization, against the noise alone?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuroscape.core.settings import SimSettings
from neuroscape.models.cortical import SPEC
from neuroscape.sim.engine import batch_for, run_batch


def graph_vs_noise(
    param_sets: Sequence[dict[str, float]],
    n_graphs: int = 12,
    n_noise: int = 12,
    settings: SimSettings | None = None,
    seed: int = 0,
) -> dict:
    """Rates (n_sets, n_graphs, 2) over graph seeds 0..n_graphs-1 (one noise seed each) and
    (n_sets, n_noise, 2) over noise seeds on graph 0, with their standard deviations (Hz)."""
    settings = settings or SimSettings.for_model(SPEC)
    p = np.stack([SPEC.params_from_mapping(ps) for ps in param_sets])
    across_graphs = np.empty((len(p), n_graphs, 2))
    for g in range(n_graphs):
        # a different noise stream for every graph too, as a fresh experiment would have
        across_graphs[:, g] = run_batch(
            batch_for("cortical", conn_seed=g), p, seed=seed + 1 + g, settings=settings
        ).outputs
    reps = np.repeat(p, n_noise, axis=0)
    across_noise = run_batch(
        batch_for("cortical", conn_seed=0), reps, seed=seed, settings=settings
    ).outputs.reshape(len(p), n_noise, 2)
    return {
        "params": [dict(ps) for ps in param_sets],
        "across_graphs": across_graphs,
        "across_noise": across_noise,
        "sd_graphs": across_graphs.std(1, ddof=1),
        "sd_noise": across_noise.std(1, ddof=1),
    }
