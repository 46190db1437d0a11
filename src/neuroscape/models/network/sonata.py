"""SONATA point-neuron networks (Dai et al. 2020, PLoS Comput Biol 16:e1007696; the format's
specification: github.com/AllenInstitute/sonata, docs/SONATA_DEVELOPER_GUIDE.md) read into
neuroscape's network description.

- Nodes: ``/nodes/<population>/{node_id, node_type_id, node_group_id, node_group_index}`` (HDF5)
  with a node types CSV (space separated). A neuroscape population is one (node population,
  node type): named by the node population, or ``<population>_<node_type_id>`` when a node
  population holds several node types; its neurons are the nodes in increasing node_id.
- ``model_type`` ``point_neuron`` (``point_process``, bmtk's name) with ``model_template``
  ``neuroscape:NAME`` (a neuroscape neuron model, or an equation file NAME.yaml) or
  ``nml:FILE.nml[:CELL_ID]`` (a NeuroML2 cell, read by ``neuroscape.models.neuroml``); files are
  found in the circuit's ``point_neuron_models_dir``. ``dynamics_params``: a JSON file there of
  the model's parameters (numbers in the parameter's declared unit, or quantities like
  ``"20 ms"``).
- ``model_type`` ``virtual``: a spike source whose trains come from the simulation config's
  ``inputs`` (``input_type: spikes``; SONATA spike files, HDF5 or bmtk's CSV), by node population
  and node id.
- Edges: ``/edges/<population>/{source_node_id, target_node_id, edge_type_id, edge_group_id,
  edge_group_index}`` with an edge types CSV; ``syn_weight`` and ``delay`` (ms) from the edge
  type, overridden per edge by the edge group's datasets. The effect of an edge is a Brian2
  statement in which ``w`` stands for syn_weight (a number): the edge type's ``on_pre`` column
  (a neuroscape extension), or ``on_pre=`` of the reader.
- The edges become one projection per (source population, target population, edge type), with
  its explicit (pre, post) pairs and each edge's syn_weight and delay as per-edge values of
  those pairs (``connect: {pairs, values}``): ``w`` is then a synaptic variable initialised
  from syn_weight, and the delay is read per synapse (a constant where the group has one).

Refused, one line naming the element and the file: a node type missing from its CSV,
biophysical (multi-compartment) and single_compartment nodes, a model_template that maps
to no neuroscape model, per-node dynamics_params or model_template, edges to unknown nodes or
node populations, edge types missing from their CSV, an nsyns that is not a whole number >= 0
(nsyns multiplies syn_weight, as in bmtk's PointNet), a weight_function, a
synapse model other than a static synapse.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neuroscape.models.contract import ModelError, ModelSource
from neuroscape.models.network.description import NetworkError, NetworkModel, network_model
from neuroscape.models.neuron import NeuronModel

POINT_TYPES = ("point_neuron", "point_process")
STATIC_SYNAPSES = ("static_synapse", "static", "")
MAX_PROJECTIONS = 256
_ID = re.compile(r"\W")


class SonataError(NetworkError):
    """A SONATA circuit that neuroscape cannot read (one line: file, element, what is allowed)."""


# ------------------------------------------------------------------------------- small readers
def _value(text: str):
    """A CSV field: None for NULL/empty, else an int, a float or the text."""
    if text is None or text in ("", "NULL", "None", "nan", "NaN"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def read_types_csv(path: Path, key: str) -> dict[int, dict]:
    """The rows of a node or edge types CSV (space separated, " quoting; the specification's
    dialect) by their ``key`` column (node_type_id or edge_type_id)."""
    if not path.is_file():
        raise SonataError(f"{path}: no such types file")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter=" ", quotechar='"', skipinitialspace=True))
    rows = [r for r in rows if r]
    if not rows or key not in rows[0]:
        raise SonataError(f"{path}: no {key} column; a SONATA types file needs one")
    head = rows[0]
    out = {}
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(head):
            raise SonataError(f"{path}:{n}: {len(r)} fields, the header has {len(head)}")
        d = {h: _value(v) for h, v in zip(head, r, strict=True)}
        if not isinstance(d[key], int):
            raise SonataError(f"{path}:{n}: {key} {r[head.index(key)]!r}; allowed: an integer")
        out[d[key]] = d
    return out


def _h5():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency of the SONATA reader
        raise SonataError("reading SONATA needs h5py (pip install h5py)") from None
    return h5py


def _expand(text: str, manifest: dict[str, str], base: Path) -> Path:
    for _ in range(10):  # nested manifest entries ($NETWORK_DIR = $BASE_DIR/network)
        new = text.replace("${configdir}", str(base))
        for k in sorted(manifest, key=len, reverse=True):
            new = new.replace(k, manifest[k])
        if new == text:
            break
        text = new
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


def read_circuit_config(path: str | Path) -> dict:
    """The nodes and edges files and the components folders of a circuit config JSON (a
    simulation config that names its ``network`` file is followed); ``run`` (tstop, dt in ms)
    if it has one."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise SonataError(f"{path}: no such SONATA config file")
    try:
        cfg = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise SonataError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    base = p.parent.resolve()
    manifest = {k: str(v) for k, v in (cfg.get("manifest") or {}).items()}
    run = cfg.get("run") or {}
    inputs = _inputs(cfg, manifest, base, p)
    if "networks" not in cfg and isinstance(cfg.get("network"), str):
        inner = read_circuit_config(_expand(cfg["network"], manifest, base))
        return inner | ({"run": run} if run else {}) | ({"inputs": inputs} if inputs else {})
    nets = cfg.get("networks")
    if not isinstance(nets, dict) or not nets.get("nodes"):
        raise SonataError(f"{p}: no networks.nodes; a circuit config lists its nodes files")
    comps = {k: _expand(str(v), manifest, base) for k, v in (cfg.get("components") or {}).items()}

    def files(kind, h5_key, csv_key):
        out = []
        for k, e in enumerate(nets.get(kind) or []):
            if h5_key not in e or csv_key not in e:
                raise SonataError(f"{p}: networks.{kind}[{k}] needs {h5_key} and {csv_key}")
            out.append((_expand(e[h5_key], manifest, base), _expand(e[csv_key], manifest, base)))
        return out

    return {"nodes": files("nodes", "nodes_file", "node_types_file"),
            "edges": files("edges", "edges_file", "edge_types_file"),
            "components": comps, "run": run, "origin": str(p), "inputs": inputs}


SPIKE_MODULES = ("sonata", "h5", "hdf5", "csv")


def _inputs(cfg: dict, manifest: dict, base: Path, p: Path) -> list[dict]:
    """The spike inputs of a simulation config (``inputs: {NAME: {input_type: spikes, module,
    input_file}}``): the spike trains of virtual nodes."""
    out = []
    for name, e in (cfg.get("inputs") or {}).items():
        where = f"{p}: inputs.{name}"
        if not isinstance(e, dict):
            raise SonataError(f"{where}: not a mapping")
        if e.get("input_type") != "spikes":
            raise SonataError(f"{where}: input_type {e.get('input_type')!r} is not supported; "
                              "allowed: spikes (spike trains of virtual nodes)")
        mod = str(e.get("module", "sonata"))
        if mod not in SPIKE_MODULES:
            raise SonataError(f"{where}: module {mod!r}; allowed: {', '.join(SPIKE_MODULES)}")
        if "input_file" not in e:
            raise SonataError(f"{where}: no input_file")
        out.append({"name": name, "module": mod, "node_set": e.get("node_set"),
                    "file": _expand(str(e["input_file"]), manifest, base)})
    return out


def read_spike_file(path: Path, module: str = "sonata") -> dict[str | None, tuple]:
    """Spike trains of a SONATA spike file by node population: {population: (node ids, times
    ms)}: HDF5 ``/spikes/<population>/{node_ids, timestamps}`` (``timestamps`` in ``units``,
    ms by default; an older layout without populations, ``/spikes/{gids or node_ids,
    timestamps}``, under None), or bmtk's CSV (space separated: timestamps population
    node_ids)."""
    if not Path(path).is_file():
        raise SonataError(f"{path}: no such spike file")
    out: dict = {}
    if module == "csv":
        with open(path, newline="") as fh:
            rows = [r for r in csv.reader(fh, delimiter=" ", skipinitialspace=True) if r]
        head = rows[0] if rows else []
        if not {"timestamps", "node_ids"} <= set(head):
            raise SonataError(f"{path}: a spike CSV needs the columns timestamps and node_ids "
                              f"(found {' '.join(head) or 'nothing'})")
        ti, ni = head.index("timestamps"), head.index("node_ids")
        pi = head.index("population") if "population" in head else None
        acc: dict = {}
        for n, r in enumerate(rows[1:], start=2):
            try:
                acc.setdefault(r[pi] if pi is not None else None, []).append(
                    (int(r[ni]), float(r[ti])))
            except (ValueError, IndexError):
                raise SonataError(f"{path}:{n}: {' '.join(r)!r}; allowed: a number per "
                                  "column") from None
        return {k: (np.array([a for a, _ in v], dtype=np.int64), np.array([b for _, b in v]))
                for k, v in acc.items()}
    h5py = _h5()
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SonataError(f"{path}: not an HDF5 file ({exc})") from None
    with f:
        if "spikes" not in f:
            raise SonataError(f"{path}: no /spikes group; a SONATA spike file has one")
        g = f["spikes"]

        def read(grp, key):
            ids_key = "node_ids" if "node_ids" in grp else "gids"
            if ids_key not in grp or "timestamps" not in grp:
                raise SonataError(f"{path}: /spikes/{key or ''} needs node_ids and timestamps")
            ts = grp["timestamps"]
            units = ts.attrs.get("units", "ms")
            units = units.decode() if isinstance(units, bytes) else str(units)
            if units not in ("ms", "s"):
                raise SonataError(f"{path}: /spikes/{key or ''}/timestamps units {units!r}; "
                                  "allowed: ms, s")
            t = np.asarray(ts[()], dtype=float) * (1e3 if units == "s" else 1.0)
            return np.asarray(grp[ids_key][()], dtype=np.int64), t

        if isinstance(g.get("timestamps"), h5py.Dataset):
            out[None] = read(g, None)
        for k, grp in g.items():
            if isinstance(grp, h5py.Group):
                out[k] = read(grp, k)
    return out


def _virtual_spikes(inputs: list[dict], sp: str, sel: np.ndarray, where: str) -> list:
    """The ``spikes`` entry of the virtual nodes ``sel`` (node ids) of node population ``sp``:
    their trains from every input's ``trains`` (``read_spike_file``; a file without populations
    counts for the input's node_set)."""
    times, idx = [], []
    for inp in inputs:
        for pop, (ids, t) in inp["trains"].items():
            if pop != sp and not (pop is None and inp.get("node_set") == sp):
                continue
            pos = np.clip(np.searchsorted(sel, ids), 0, max(sel.size - 1, 0))
            mine = (sel.size > 0) & (sel[pos] == ids) if ids.size else np.zeros(0, bool)
            if np.any(t[mine] < 0) or not np.all(np.isfinite(t[mine])):
                raise SonataError(f"{inp['file']}: spike times must be finite and >= 0 ms")
            times.append(t[mine])
            idx.append(pos[mine])
    t = np.concatenate(times) if times else np.zeros(0)
    i = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
    if t.size == 0:
        import warnings

        warnings.warn(f"{where}: virtual nodes without spikes in any input file (they never "
                      "fire)", stacklevel=3)
    return [{"times": t, "indices": i.astype(np.int64), "unit": "ms"}]


# ------------------------------------------------------------------------------- nodes
def _resolve_template(tmpl, where: str, folder: Path | None) -> NeuronModel:
    from neuroscape.models.registry import resolve

    schema, sep, res = str(tmpl).partition(":")
    if not sep or not res:
        raise SonataError(f"{where}: model_template {tmpl!r}; allowed: neuroscape:NAME or "
                          "nml:FILE.nml[:CELL_ID]")

    def path_of(name: str) -> str:
        q = Path(name).expanduser()
        if not q.is_absolute() and folder is not None:
            q = folder / q
        return str(q)

    if schema == "neuroscape":
        ref = path_of(res) if res.endswith((".yaml", ".yml")) else res
    elif schema == "nml":
        fname, _, cid = res.partition(":")
        fpath = path_of(fname)
        if not cid:  # the specification: one and only one cell element in the file
            cid = _only_cell(fpath, where)
        ref = f"{fpath}:{cid}"
    else:
        raise SonataError(f"{where}: model_template {tmpl!r}: schema {schema!r} has no neuroscape "
                          "model; allowed: neuroscape:NAME (e.g. neuroscape:lif) or "
                          "nml:FILE.nml[:CELL_ID]")
    try:
        model = resolve(ref)
    except ModelError as exc:
        raise SonataError(f"{where}: model_template {tmpl!r}: {exc}") from None
    if not isinstance(model, NeuronModel):
        raise SonataError(f"{where}: model_template {tmpl!r} is a {model.kind} model; allowed: "
                          "a neuron model")
    return model


def _only_cell(fpath: str, where: str) -> str:
    from neuroscape.models.neuroml.document import read_document

    if not Path(fpath).is_file():
        raise SonataError(f"{where}: no such NeuroML file {fpath!r}")
    try:
        doc = read_document(Path(fpath))
    except ModelError as exc:
        raise SonataError(f"{where}: {exc}") from None
    cells = [k for k, el in doc.components.items()
             if el.tag.split("}")[-1].lower().endswith("cell")]
    if len(cells) != 1:
        raise SonataError(f"{where}: {fpath} holds {len(cells)} cells ({', '.join(cells)}); "
                          "allowed: nml:FILE.nml:CELL_ID naming one")
    return cells[0]


def _dynamics(params_file, model: NeuronModel, where: str, folder: Path | None) -> dict:
    """A node type's dynamics_params JSON as a population's ``params`` (quantities)."""
    if params_file is None:
        return {}
    q = Path(str(params_file)).expanduser()
    if not q.is_absolute() and folder is not None:
        q = folder / q
    if not q.is_file():
        raise SonataError(f"{where}: no such dynamics_params file {str(q)!r}")
    try:
        d = json.loads(q.read_text())
    except json.JSONDecodeError as exc:
        raise SonataError(f"{q}: not JSON ({exc.msg} at line {exc.lineno})") from None
    units = {p.name: p.unit for p in model.spec.parameters}
    out = {}
    for k, v in (d or {}).items():
        if k not in units:
            raise SonataError(f"{q}: {k!r} is not a parameter of {model.name} ({where}); "
                              f"allowed: {', '.join(units)}")
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise SonataError(f"{q}: {k} = {v!r}; allowed: a number (in {units[k]}) or a "
                              "quantity such as '20 ms'")
        out[k] = v if isinstance(v, str) else f"{v!r} {units[k]}"
    return out


def _ident(text: str) -> str:
    s = _ID.sub("_", str(text))
    return s if s.isidentifier() else f"p_{s}"


def _files(files, kind: str, type_key: str):
    """Each (HDF5 file, types CSV) pair of ``files`` opened: (file, CSV path, the CSV's types by
    ``type_key``, the file's /``kind`` group); one line for a missing file or group."""
    h5py = _h5()
    for h5, types_csv in files:
        if not Path(h5).is_file():
            raise SonataError(f"{h5}: no such {kind} file")
        types = read_types_csv(Path(types_csv), type_key)
        with h5py.File(h5, "r") as f:
            if kind not in f:
                raise SonataError(f"{h5}: no /{kind} group; a SONATA {kind} file has one")
            yield h5, types_csv, types, f[kind]


def _read_nodes(nodes, comps: dict, populations: Mapping,
                inputs: list | None = None) -> tuple[dict, dict, dict]:
    """(populations of the description, node map {neuroscape pop: (sonata pop, node ids)},
    lookup {sonata pop: (node ids sorted, neuroscape pop per node, local index per node)})."""
    h5py = _h5()
    folder = comps.get("point_neuron_models_dir")
    pops: dict[str, dict] = {}
    node_map: dict[str, tuple[str, np.ndarray]] = {}
    lookup: dict[str, tuple] = {}
    for h5, types_csv, types, root in _files(nodes, "nodes", "node_type_id"):
        for sp, g in root.items():
            at = f"{h5}: /nodes/{sp}"
            if sp in lookup:
                raise SonataError(f"{at}: node population {sp!r} is declared twice")
            tid = np.asarray(g["node_type_id"][()], dtype=np.int64)
            nid = (np.asarray(g["node_id"][()], dtype=np.int64) if "node_id" in g
                   else np.arange(tid.size, dtype=np.int64))
            if len(np.unique(nid)) != nid.size:
                raise SonataError(f"{at}/node_id: repeated node ids; allowed: each once")
            for gk, grp in g.items():
                if not isinstance(grp, h5py.Group):
                    continue
                for bad in ("dynamics_params", "model_template", "model_type"):
                    if bad in grp and (bad != "dynamics_params" or len(grp[bad])):
                        raise SonataError(
                            f"{at}/{gk}/{bad}: per-node {bad} is not supported; allowed: "
                            f"{bad} of the node type (in {types_csv})")
            type_ids = sorted(set(tid.tolist()))
            order = np.argsort(nid, kind="stable")
            nid_s = nid[order]
            ns_of = np.empty(nid.size, dtype=object)
            local = np.empty(nid.size, dtype=np.int64)
            for t in type_ids:
                row = types.get(t)
                if row is None or row.get("population") not in (None, sp):
                    raise SonataError(
                        f"{at}: node {int(nid[tid == t][0])} has node_type_id {t}, which "
                        f"{types_csv} does not declare (for population {sp}); declared: "
                        f"{', '.join(map(str, types)) or 'none'}")
                where = f"{types_csv}: node type {t}"
                mt = row.get("model_type")
                if mt == "biophysical":
                    raise SonataError(f"{where}: model_type biophysical (a multi-compartment "
                                      "cell) is not supported; allowed: point_neuron")
                if mt not in (*POINT_TYPES, "virtual"):
                    raise SonataError(f"{where}: model_type {mt!r} is not supported; "
                                      f"allowed: {', '.join(POINT_TYPES)}, virtual")
                name = _ident(sp if len(type_ids) == 1 else f"{sp}_{t}")
                if name in pops:
                    raise SonataError(f"{at}: two node groups map to population {name}")
                sel = np.sort(nid[tid == t])
                if mt == "virtual":  # spike sources: their trains from the inputs' files
                    entry = {"kind": "spikes", "size": int(sel.size),
                             "spikes": _virtual_spikes(inputs or [], sp, sel, where)}
                else:
                    model = _resolve_template(row.get("model_template"), where, folder)
                    entry = {"size": int(sel.size), "model": model}
                    params = _dynamics(row.get("dynamics_params"), model, where, folder)
                    if params:
                        entry["params"] = params
                entry.update(populations.get(name, {}))
                pops[name] = entry
                node_map[name] = (sp, sel)
                pos = np.searchsorted(nid_s, sel)
                ns_of[pos] = name
                local[pos] = np.arange(sel.size)
            lookup[sp] = (nid_s, ns_of, local)
    unknown = [k for k in populations if k not in pops]
    if unknown:
        raise SonataError(f"populations {unknown[0]!r} is not a population of the circuit; "
                          f"allowed: {', '.join(pops)}")
    return pops, node_map, lookup


# ------------------------------------------------------------------------------- edges
def _edge_nodes(g, key: str, lookup: dict, at: str, h5py) -> tuple[str, np.ndarray]:
    ds = g[key]
    sp = ds.attrs.get("node_population")
    if isinstance(sp, bytes):
        sp = sp.decode()
    if sp is None and len(lookup) == 1:
        sp = next(iter(lookup))
    if sp not in lookup:
        raise SonataError(f"{at}/{key}: node population {sp!r} is not in the circuit; allowed: "
                          f"{', '.join(lookup)}")
    return str(sp), np.asarray(ds[()], dtype=np.int64)


def _per_edge(g, name: str, gid: np.ndarray, gidx: np.ndarray, h5py) -> np.ndarray | None:
    """(n,) values of attribute ``name`` from the edge groups that hold it (NaN elsewhere), or
    None if no group does."""
    out = None
    for gk, grp in g.items():
        if not isinstance(grp, h5py.Group) or name not in grp or not gk.isdigit():
            continue
        out = np.full(gid.size, np.nan) if out is None else out
        sel = gid == int(gk)
        out[sel] = np.asarray(grp[name][()], dtype=float)[gidx[sel]]
    return out


def _projection(pre, post, ws, ds, s_pop: str, t_pop: str, stmt: str) -> dict:
    """A projection of explicit pairs whose edges carry their own syn_weight (``w`` of the
    statement) and delay (ms): constants where every edge has the same value."""
    proj = {"pre": s_pop, "post": t_pop,
            "connect": {"pairs": np.vstack([pre, post]).astype(np.int64),
                        "autapses": s_pop == t_pop},
            "on_pre": stmt}
    values = {}
    if np.all(ws == ws[0]):
        proj["on_pre"] = re.sub(r"\bw\b", f"({float(ws[0])!r})", stmt)
    else:  # w is a synaptic variable holding each edge's syn_weight
        values["syn_weight"] = ws
        proj["model"] = "w : 1"
        proj["initial"] = {"w": "syn_weight"}
    if np.all(ds == ds[0]):
        proj["delay"] = f"{float(ds[0])!r} ms"
    else:
        values["delay_ms"] = {"values": ds, "unit": "ms"}
        proj["delay"] = "delay_ms"
    if values:
        proj["connect"]["values"] = values
    return proj


def _read_edges(edges, lookup: dict, on_pre, max_projections: int) -> dict:
    h5py = _h5()
    projs: dict[str, dict] = {}
    for h5, types_csv, types, root in _files(edges, "edges", "edge_type_id"):
        n_pops = len(root)
        for ep, g in root.items():
            at = f"{h5}: /edges/{ep}"
            src_sp, src = _edge_nodes(g, "source_node_id", lookup, at, h5py)
            tgt_sp, tgt = _edge_nodes(g, "target_node_id", lookup, at, h5py)
            et = np.asarray(g["edge_type_id"][()], dtype=np.int64)
            gid = (np.asarray(g["edge_group_id"][()], dtype=np.int64) if "edge_group_id" in g
                   else np.zeros(et.size, dtype=np.int64))
            gidx = (np.asarray(g["edge_group_index"][()], dtype=np.int64)
                    if "edge_group_index" in g else np.arange(et.size, dtype=np.int64))
            ends = []
            for sp, ids, what in ((src_sp, src, "source"), (tgt_sp, tgt, "target")):
                nid_s, ns_of, local = lookup[sp]
                pos = np.clip(np.searchsorted(nid_s, ids), 0, max(nid_s.size - 1, 0))
                bad = (nid_s.size == 0) | (nid_s[pos] != ids) if ids.size else np.zeros(0, bool)
                if np.any(bad):
                    raise SonataError(f"{at}: {what} node {int(ids[bad][0])} is not a node "
                                      f"of population {sp}")
                ends.append((ns_of[pos], local[pos]))
            weight = _per_edge(g, "syn_weight", gid, gidx, h5py)
            delay = _per_edge(g, "delay", gid, gidx, h5py)
            nsyns = _per_edge(g, "nsyns", gid, gidx, h5py)
            w = np.empty(et.size)
            d = np.empty(et.size)
            for t in sorted(set(et.tolist())):
                row = types.get(t)
                where = f"{types_csv}: edge type {t}"
                if row is None:
                    raise SonataError(f"{at}: edge {int(np.argmax(et == t))} has edge_type_id "
                                      f"{t}, which {types_csv} does not declare; declared: "
                                      f"{', '.join(map(str, types)) or 'none'}")
                if row.get("weight_function") is not None:
                    raise SonataError(f"{where}: weight_function {row['weight_function']!r} "
                                      "(a simulator's Python function) is not supported; "
                                      "allowed: syn_weight values")
                tmpl = str(row.get("model_template") or "")
                if tmpl.split(":")[-1] not in STATIC_SYNAPSES:
                    raise SonataError(f"{where}: synapse model {tmpl!r} is not supported; "
                                      "allowed: a static synapse (static_synapse: a weight "
                                      "and a delay) with an on_pre statement")
                sel = et == t
                for arr, per, col in ((w, weight, "syn_weight"), (d, delay, "delay")):
                    vals = np.full(int(sel.sum()), np.nan) if per is None else per[sel].copy()
                    miss = np.isnan(vals)
                    if np.any(miss):
                        if not isinstance(row.get(col), int | float):
                            raise SonataError(f"{where}: no {col} (neither a column of "
                                              f"{types_csv} nor a dataset of {at})")
                        vals[miss] = float(row[col])
                    arr[sel] = vals
                ns = np.full(int(sel.sum()), np.nan) if nsyns is None else nsyns[sel].copy()
                ns[np.isnan(ns)] = float(row.get("nsyns") if row.get("nsyns") is not None
                                         else 1)
                if np.any((ns < 0) | (ns != np.round(ns))):
                    raise SonataError(f"{where}: nsyns {ns[(ns < 0) | (ns != np.round(ns))][0]:g}"
                                      "; allowed: a whole number >= 0")
                # a point neuron feels an edge's nsyns synapses as one of nsyns x syn_weight
                # (bmtk's PointNet: pointnet/property_map.py, syn_weight * nsyns)
                w[sel] *= ns
                stmt = row.get("on_pre")
                if stmt is None and on_pre is not None:
                    stmt = (on_pre.get(t, on_pre.get("*")) if isinstance(on_pre, Mapping)
                            else on_pre)
                if not isinstance(stmt, str):
                    raise SonataError(f"{where}: no on_pre statement (an 'on_pre' column, or "
                                      "on_pre= of the reader), e.g. 'v += w*mV' with w the "
                                      "syn_weight")
                types[t]["_stmt"] = stmt
            if np.any(d < 0):
                raise SonataError(f"{at}: negative delay {d[d < 0][0]:g} ms; allowed: >= 0")
            (src_ns, src_loc), (tgt_ns, tgt_loc) = ends
            # one projection per (source population, target population, edge type); its
            # edges' own syn_weight and delay go with their pairs as per-edge values (a
            # constant when every edge of the group has the same)
            keys = np.rec.fromarrays([src_ns.astype(str), tgt_ns.astype(str), et])
            uniq, inv = np.unique(keys, return_inverse=True)
            for k, u in enumerate(uniq):
                s_pop, t_pop, t = str(u[0]), str(u[1]), int(u[2])
                base = f"{s_pop}_to_{t_pop}_t{t}"
                if n_pops > 1 or len(edges) > 1:
                    base = f"{ep}_{base}"
                sel = np.flatnonzero(inv.reshape(-1) == k)
                # a pair connected more than once (several synapses of one type): its m-th
                # edge goes to the group's m-th projection, so each projection has each pair
                # once
                pk = src_loc[sel].astype(np.int64) * (int(tgt_loc[sel].max(initial=0)) + 1) \
                    + tgt_loc[sel]
                o = np.argsort(pk, kind="stable")
                first = np.r_[True, pk[o][1:] != pk[o][:-1]]
                start = np.maximum.accumulate(np.where(first, np.arange(o.size), 0))
                rank = np.empty(o.size, dtype=np.int64)
                rank[o] = np.arange(o.size) - start
                for m in range(int(rank.max(initial=-1)) + 1):
                    e = sel[rank == m]
                    name = _ident(base if m == 0 else f"{base}_m{m}")
                    projs[name] = _projection(src_loc[e], tgt_loc[e], w[e], d[e], s_pop, t_pop,
                                              types[t]["_stmt"])
                if len(projs) > max_projections:
                    raise SonataError(
                        f"{at}: more than {max_projections} (populations, edge type) groups, "
                        "each a projection; allowed: a larger max_projections")
    return projs


# ------------------------------------------------------------------------------- the network
def sonata_description(config: str | Path | None = None, *, nodes=None, edges=None,
                       components: Mapping | None = None, on_pre=None, name: str | None = None,
                       populations: Mapping | None = None, extra: Mapping | None = None,
                       max_projections: int = MAX_PROJECTIONS,
                       spike_files=None) -> tuple[dict, dict]:
    """(network description mapping, node map {population: (SONATA node population, node ids)})
    of a SONATA circuit: a circuit (or simulation) config JSON, or ``nodes``/``edges`` lists of
    (HDF5 file, types CSV) pairs with ``components`` ({"point_neuron_models_dir": folder}).

    on_pre: the effect of an edge whose type has no ``on_pre`` column: one Brian2 statement
    with ``w`` = syn_weight, or {edge_type_id or "*": statement}. populations: keys added to the
    populations ({name: {current, initial, integrator}}); extra: top-level keys of the
    description (inputs, outputs, parameters, constants, settings). spike_files: SONATA spike
    files (HDF5, or bmtk's CSV by a .csv suffix) of the virtual nodes, beside a simulation
    config's ``inputs``."""
    if config is not None:
        c = read_circuit_config(config)
        origin = c["origin"]
    else:
        c = {"nodes": [(Path(a), Path(b)) for a, b in nodes or []],
             "edges": [(Path(a), Path(b)) for a, b in edges or []],
             "components": {k: Path(v) for k, v in (components or {}).items()}, "run": {}}
        origin = str(c["nodes"][0][0]) if c["nodes"] else "sonata"
        if not c["nodes"]:
            raise SonataError("no nodes files; allowed: a circuit config or nodes=[(H5, CSV)]")
    inputs = list(c.get("inputs") or []) + [
        {"name": str(f), "file": Path(f), "node_set": None,
         "module": "csv" if str(f).endswith(".csv") else "sonata"} for f in spike_files or []]
    for inp in inputs:  # each file read once, whatever the number of virtual node types
        inp["trains"] = read_spike_file(inp["file"], inp["module"])
    pops, node_map, lookup = _read_nodes(c["nodes"], c["components"], populations or {}, inputs)
    projs = _read_edges(c["edges"], lookup, on_pre, max_projections)
    desc = {"name": _ident(name or Path(origin).stem.replace("circuit_config", "sonata")),
            "description": f"SONATA circuit {origin}", "populations": pops,
            "projections": projs}
    run = c.get("run") or {}
    if run.get("tstop") is not None or run.get("dt") is not None:
        desc["settings"] = {k: f"{float(run[s])!r} ms" for k, s in (("duration", "tstop"),
                                                                     ("dt", "dt")) if s in run}
    for k, v in (extra or {}).items():
        desc[k] = (desc.get(k) or {}) | v if k == "settings" else v
    return desc, node_map


def load_sonata(config: str | Path | None = None, **kwargs) -> NetworkModel:
    """The network of a SONATA circuit (arguments of ``sonata_description``), with
    ``.sonata_nodes`` = {population: (SONATA node population, node ids)} for writing spikes
    back by node id."""
    desc, node_map = sonata_description(config, **kwargs)
    folder = Path(config).expanduser().parent if config is not None else Path(".")
    model = network_model(desc, folder=folder)
    object.__setattr__(model, "sonata_nodes", node_map)
    if config is not None:
        source = ModelSource.of(Path(config).expanduser())
        source.stamp(model)
    return model
