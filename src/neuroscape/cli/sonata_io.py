"""Spikes of a network run written in SONATA's spike file layout (the specification,
github.com/AllenInstitute/sonata docs/SONATA_DEVELOPER_GUIDE.md, "Spike file"):
``/spikes/<population>/timestamps`` (double, attribute ``units`` = "ms"),
``/spikes/<population>/node_ids`` (uint64), the population group's ``sorting`` attribute an enum
(none 0, by_id 1, by_time 2); the file's ``magic`` (0x0A7A) and ``version`` attributes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

SORTINGS = {"none": 0, "by_id": 1, "by_time": 2}


def spikes_by_population(times_ms: np.ndarray, neurons: np.ndarray, sizes: Mapping[str, int],
                         node_map: Mapping | None = None) -> dict[str, tuple[np.ndarray,
                                                                             np.ndarray]]:
    """{SONATA population: (times in ms, node ids)} of a run's spikes (global neuron indices,
    populations in ``sizes`` order). ``node_map`` {population: (SONATA population, node ids)}
    (a SONATA network's ``.sonata_nodes``); without it each population is its own SONATA
    population with node ids 0..size-1."""
    t = np.asarray(times_ms, dtype=np.float64)
    idx = np.asarray(neurons, dtype=np.int64)
    out: dict[str, list] = {}
    off = 0
    for pop, n in sizes.items():
        sel = (idx >= off) & (idx < off + n)
        sp, ids = (node_map[pop] if node_map and pop in node_map
                   else (pop, np.arange(n, dtype=np.int64)))
        out.setdefault(sp, []).append((t[sel], np.asarray(ids, dtype=np.int64)[idx[sel] - off]))
        off += n
    if idx.size and (idx.min() < 0 or idx.max() >= off):
        raise ValueError(f"neuron index {int(idx.max())} outside the network's {off} neurons")
    return {sp: (np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]))
            for sp, parts in out.items()}


def write_sonata_spikes(path: str | Path, times_ms, neurons, sizes: Mapping[str, int],
                        node_map: Mapping | None = None, sorting: str = "by_time") -> Path:
    """Write a run's spikes (times in ms, global neuron indices) as a SONATA spike file, sorted
    ``by_time`` (then by node id) or ``by_id`` (then by time)."""
    import h5py

    if sorting not in ("by_time", "by_id"):
        raise ValueError(f"sorting {sorting!r}; allowed: by_time, by_id")
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    enum = h5py.enum_dtype(SORTINGS, basetype="u1")
    with h5py.File(tmp, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        root = f.create_group("spikes")
        for sp, (t, ids) in spikes_by_population(times_ms, neurons, sizes, node_map).items():
            order = (np.lexsort((ids, t)) if sorting == "by_time" else np.lexsort((t, ids)))
            g = root.create_group(sp)
            g.attrs.create("sorting", SORTINGS[sorting], dtype=enum)
            ts = g.create_dataset("timestamps", data=t[order].astype(np.float64))
            ts.attrs["units"] = "ms"
            g.create_dataset("node_ids", data=ids[order].astype(np.uint64))
    tmp.replace(path)
    return path
