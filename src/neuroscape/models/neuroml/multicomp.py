"""NeuroML2 multi-compartment ``<cell>``s -> neuroscape's cell description
(``neuroscape.models.multicomp``), their channels -> channels written as equations.

Sections are made as pyNeuroML's NEURON export (jNeuroML's NeuronWriter) makes them:

- one section per unbranched segment group (``neuroLexId="sao864921383"``), named by the group,
  its segments in member order; ``numberInternalDivisions`` (a property of the group) is its
  nseg (default 1). Without such groups, one section per segment, named by the segment (or
  ``section_ID``).
- the 3-D points: the first segment's proximal point (its parent's distal point when it has
  none), then each segment's distal point (a later segment's own proximal point is not used,
  as in the export); NEURON's single-precision points, L their path length. A section of one
  segment of length 0 (a spherical soma) becomes a cylinder of L = diam (NeuroML's surface,
  4 pi r^2).
- a section's 0-end attaches to its first segment's parent at ``fractionAlong`` of that
  segment, as a fraction of the parent section's length.

Biophysics (``biophysicalProperties``): ``specificCapacitance`` -> cm, ``resistivity`` -> Ra,
``initMembPotential`` -> v_init (one value), per segment group; ``channelDensity`` -> the
channel (its ``ionChannel`` id, as the mechanism's name) in each section of its segment group,
with parameters ``gmax`` (condDensity, S/cm2) and ``erev`` (mV): addresses
``GROUP.CHANNEL.gmax``. Channels: ``ionChannelHH``/``ionChannel`` with gates ``gateHHrates``,
``gateHHratesInf``, ``gateHHratesTau``, ``gateHHtauInf``, ``gateHHratesTauInf`` (each as
NeuroML2's Channels.xml defines it: inf = alpha/(alpha + beta), tau = 1/((alpha + beta) q10) or
the timeCourse over q10), rates ``HHExpRate``, ``HHSigmoidRate``, ``HHExpLinearRate``,
variables ``HHExpVariable``, ``HHSigmoidVariable``, ``HHExpLinearVariable``, time course
``fixedTimeCourse``, ``q10Settings`` ``q10Fixed`` and ``q10ExpTemp``; ``ionChannelPassive``.
Numbers are converted from the file's text exactly (rational arithmetic, one rounding).
Anything else is refused by name, with its file and line. ``spikeThresh`` is not used (spikes
are upward 0-mV crossings at the root section's middle). The temperature is the network's, if
the file has one network with a temperature, else NEURON's 6.3 degC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from neuroscape.models.neuroml.core_types import NeuroMLError, units
from neuroscape.models.neuroml.document import Document, error, tag, where

CABLE = "sao864921383"  # NeuroML's neuroLexId of an unbranched segment group (a section)
GATES = ("gateHHrates", "gateHHratesInf", "gateHHratesTau", "gateHHtauInf", "gateHHratesTauInf")
RATES = {
    "HHExpRate": "{rate} * exp((v - {mid}) / {scale})",
    "HHSigmoidRate": "{rate} / (1 + exp(-(v - {mid}) / {scale}))",
    "HHExpLinearRate": "{rate} / exprel(-(v - {mid}) / {scale})",
}
VARIABLES = {"HHExpVariable": RATES["HHExpRate"], "HHSigmoidVariable": RATES["HHSigmoidRate"],
             "HHExpLinearVariable": RATES["HHExpLinearRate"]}  # fmt: skip
MEMBRANE = ("channelDensity", "specificCapacitance", "initMembPotential", "spikeThresh")
BUILTIN_CLASH = ("hh", "pas")  # NEURON's names: a channel of this id gets _nml2, as the export
_NMLID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# powers of ten of the units numbers are stored in (the description's, NEURON's)
_TARGET = {"voltage": -3, "time": -3, "per_time": 3, "conductanceDensity": 4,
           "specificCapacitance": -2, "resistivity": -2, "length": -6, "none": 0}  # fmt: skip


def _kids(el, *names) -> list:
    return [c for c in el if tag(c) in names]


def exact(el, attr: str, dimension: str, default: str | None = None) -> float:
    """Attribute ``attr`` of ``el`` (a NeuroML quantity of ``dimension``) as a number in the
    description's unit of that dimension (mV, ms, 1/ms, S/cm2, uF/cm2, ohm cm, um; temperatures
    in degC), from the file's decimal text in exact arithmetic: one rounding."""
    raw = el.get(attr, default)
    if raw is None:
        raise error(el, f"missing attribute {attr!r} (a {dimension} quantity)")
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_]\w*)?\s*", raw)
    if m is None:
        raise error(el, f"{attr}={raw!r} is not a NeuroML quantity; allowed: a {dimension} "
                    "quantity such as '-65mV'")  # fmt: skip
    x = Fraction(m.group(1))
    if m.group(2) is None:
        u_dim, power, scale, offset = "none", 0, Fraction(1), Fraction(0)
    else:
        u = units().get(m.group(2))
        if u is None:
            raise error(el, f"{attr}={raw!r}: unknown unit {m.group(2)!r}; allowed: a {dimension}"
                        " unit of NeuroMLCoreDimensions.xml")  # fmt: skip
        u_dim, power, scale, offset = (u.dimension, u.power, Fraction(repr(u.scale)),
                                       Fraction(repr(u.offset)))  # fmt: skip
    if u_dim != dimension:
        raise error(el, f"{attr}={raw!r} is a {u_dim} quantity; allowed: a {dimension} quantity")
    if dimension == "temperature":  # in degC (an offset unit: K - 273.15)
        return float(x * scale * Fraction(10) ** power + offset - Fraction("273.15"))
    return float(x * scale * Fraction(10) ** (power - _TARGET[dimension]))


@dataclass
class _Seg:
    id: int
    name: str | None
    parent: int | None
    fraction: float
    proximal: tuple[float, float, float, float] | None
    distal: tuple[float, float, float, float]
    el: object


def _point(el, seg_el) -> tuple[float, float, float, float]:
    try:
        return tuple(float(el.get(k)) for k in ("x", "y", "z", "diameter"))  # type: ignore
    except (TypeError, ValueError):
        raise error(seg_el, "a point needs numeric x, y, z and diameter (um)") from None


def _segments(morph) -> dict[int, _Seg]:
    segs: dict[int, _Seg] = {}
    for s in _kids(morph, "segment"):
        try:
            sid = int(s.get("id"))
        except (TypeError, ValueError):
            raise error(s, f"id={s.get('id')!r}; allowed: a whole number") from None
        par = _kids(s, "parent")
        prox = _kids(s, "proximal")
        dist = _kids(s, "distal")
        if not dist:
            raise error(s, "has no <distal> point")
        parent, frac = None, 1.0
        if par:
            try:
                parent = int(par[0].get("segment"))
                frac = float(par[0].get("fractionAlong", "1"))
            except (TypeError, ValueError):
                raise error(par[0], "needs segment= (a segment id) and fractionAlong= in [0, 1]"
                            ) from None
            if not 0.0 <= frac <= 1.0:
                raise error(par[0], f"fractionAlong={frac!r}; allowed: 0 <= fractionAlong <= 1")
        segs[sid] = _Seg(sid, s.get("name"), parent, frac,
                         _point(prox[0], s) if prox else None, _point(dist[0], s), s)  # fmt: skip
    for s in segs.values():
        if s.parent is not None and s.parent not in segs:
            raise error(s.el, f"parent segment {s.parent} does not exist; allowed: "
                        f"{', '.join(map(str, list(segs)[:10]))}")  # fmt: skip
    return segs


def _group_members(morph, segs: dict[int, _Seg]) -> tuple[dict[str, list[int]], dict]:
    """Segment group id -> its segments (members, then included groups' segments, in order),
    and id -> element."""
    groups = {g.get("id"): g for g in _kids(morph, "segmentGroup")}
    done: dict[str, list[int]] = {}

    def resolve(gid: str, stack: tuple) -> list[int]:
        if gid in done:
            return done[gid]
        if gid in stack:
            raise error(groups[gid], f"segmentGroup {gid!r} includes itself")
        g = groups[gid]
        out: list[int] = []
        for c in g:
            t = tag(c)
            if t == "member":
                sid = int(c.get("segment"))
                if sid not in segs:
                    raise error(c, f"segment {sid} does not exist")
                out.append(sid)
            elif t == "include":
                ref = c.get("segmentGroup")
                if ref not in groups:
                    raise error(c, f"segmentGroup {ref!r} does not exist; allowed: "
                                f"{', '.join(groups)}")  # fmt: skip
                out += resolve(ref, (*stack, gid))
            elif t in ("path", "subTree"):
                raise error(c, f"<{t}> in a segmentGroup cannot be mapped yet; allowed: <member>, "
                            "<include>")  # fmt: skip
        seen: set[int] = set()
        done[gid] = [s for s in out if not (s in seen or seen.add(s))]
        return done[gid]

    return {gid: resolve(gid, ()) for gid in groups}, groups


def _number_property(group_el, name: str, default: int) -> int:
    for p in _kids(group_el, "property"):
        if p.get("tag") == name:
            try:
                n = int(p.get("value"))
            except (TypeError, ValueError):
                n = 0
            if n < 1:
                raise error(p, f"{name}={p.get('value')!r}; allowed: a whole number >= 1")
            return n
    return default


def _sections(cell_el, morph, segs):
    """(sections, segment -> (section name, index in it), group -> segments, group elements)."""
    import numpy as np

    from neuroscape.models.multicomp.description import Section
    from neuroscape.models.multicomp.swc import _mean_diam, pt3d_length

    members, group_els = _group_members(morph, segs)
    cables = [g for g, el in group_els.items() if el.get("neuroLexId") == CABLE]
    runs: dict[str, list[int]] = {}
    nseg: dict[str, int] = {}
    if cables:
        owner: dict[int, str] = {}
        for g in cables:
            if not _NMLID.fullmatch(g):
                raise error(group_els[g], f"segmentGroup id {g!r}; allowed: an NmlId")
            for k, sid in enumerate(members[g]):
                if sid in owner:
                    raise error(group_els[g], f"segment {sid} is in two unbranched segment groups "
                                f"({owner[sid]}, {g}); allowed: one each")  # fmt: skip
                owner[sid] = g
                if k and segs[sid].parent != members[g][k - 1]:
                    raise error(group_els[g], f"unbranched segmentGroup {g!r} (neuroLexId "
                                f"{CABLE}): segment {sid}'s parent is not the member before it "
                                f"({members[g][k - 1]}); allowed: a chain of segments in order")
            if not members[g]:
                raise error(group_els[g], f"unbranched segmentGroup {g!r} has no segments")
            runs[g] = members[g]
            nseg[g] = _number_property(group_els[g], "numberInternalDivisions", 1)
        lost = [s for s in segs if s not in owner]
        if lost:
            raise error(segs[lost[0]].el, f"segment {lost[0]} is in no unbranched segmentGroup "
                        f"(neuroLexId {CABLE}) while others are; allowed: every segment in one "
                        "such group, or none (a section per segment)")  # fmt: skip
    else:
        names = [s.name for s in segs.values()]
        for s in segs.values():
            ok = s.name and _NMLID.fullmatch(s.name) and names.count(s.name) == 1
            runs[s.name if ok else f"section_{s.id}"] = [s.id]
        nseg = dict.fromkeys(runs, 1)
    where_of = {sid: (name, k) for name, run in runs.items() for k, sid in enumerate(run)}
    pts: dict[str, np.ndarray] = {}
    for name, run in runs.items():
        first = segs[run[0]]
        start = first.proximal
        if start is None:
            if first.parent is None:
                raise error(first.el, "the root segment has no <proximal> point")
            start = segs[first.parent].distal
        rows = [start] + [segs[s].distal for s in run]
        pts[name] = np.array(rows, dtype=np.float32).astype(np.float64)  # NEURON's pt3d
    roots = [n for n, run in runs.items() if segs[run[0]].parent is None]
    if len(roots) != 1:
        raise error(morph, f"{len(roots)} segments without a parent; allowed: one root")
    sections = {}
    for name, run in runs.items():
        first = segs[run[0]]
        parent, px = None, 1.0
        if first.parent is not None:
            parent, k = where_of[first.parent]
            p = pts[parent]
            if len(runs[parent]) == 1:
                px = first.fraction
            else:  # the point fractionAlong of segment k, as a fraction of the path length
                step = np.sqrt((np.diff(p[:, :3].astype(np.float32), axis=0).astype(float) ** 2)
                               .sum(axis=1))  # fmt: skip
                arc = np.concatenate([[0.0], np.cumsum(step)])
                px = float((arc[k] + first.fraction * (arc[k + 1] - arc[k])) / arc[-1])
        p = pts[name]
        length = pt3d_length(p)
        if len(run) == 1 and length <= 1e-9:  # a sphere: a cylinder with its surface
            d = float(p[-1, 3])
            if d <= 0:
                raise error(first.el, "a segment of length 0 and diameter 0; allowed: a "
                            "diameter > 0")  # fmt: skip
            sections[name] = Section(name, d, d, nseg[name], parent, px)
        else:
            sections[name] = Section(name, length, _mean_diam(p), nseg[name], parent, px, pt3d=p)
    return sections, where_of, members, group_els


def _section_groups(members, group_els, where_of, sections) -> dict[str, tuple[str, ...] | str]:
    """Segment group -> the sections it covers whole, or a message why it does not."""
    out: dict[str, tuple[str, ...] | str] = {}
    count: dict[str, int] = {}
    for _sid, (name, _) in where_of.items():
        count[name] = count.get(name, 0) + 1
    for g, segs in members.items():
        have: dict[str, int] = {}
        for sid in segs:
            have[where_of[sid][0]] = have.get(where_of[sid][0], 0) + 1
        part = [s for s, n in have.items() if n != count[s]]
        if part:
            out[g] = f"it covers part of section {part[0]}"
        else:
            out[g] = tuple(s for s in sections if s in have)
    return out


def _sections_of(el, attr_group: str, groups: dict, sections: dict, where_of) -> tuple[str, list]:
    """(the target's name for addresses, its sections) of an element with segmentGroup= or
    segment=."""
    if el.get("segment") is not None:
        try:
            sid = int(el.get("segment"))
        except ValueError:
            raise error(el, f"segment={el.get('segment')!r}; allowed: a segment id") from None
        if sid not in where_of:
            raise error(el, f"segment {sid} does not exist")
        name, _ = where_of[sid]
        if sum(1 for s, _ in where_of.values() if s == name) != 1:
            raise error(el, f"segment={sid} is part of section {name}; allowed: a segmentGroup "
                        "or a segment that is a section of its own")  # fmt: skip
        return name, [name]
    g = el.get(attr_group, "all")
    if g == "all" and g not in groups:
        return "all", list(sections)
    if g not in groups:
        raise error(el, f"segmentGroup {g!r} does not exist; allowed: all, "
                    f"{', '.join(groups)}")  # fmt: skip
    if isinstance(groups[g], str):
        raise error(el, f"segmentGroup {g!r} cannot be mapped to sections: {groups[g]}; allowed: "
                    "groups of whole sections (unbranched segment groups)")  # fmt: skip
    return g, list(groups[g])


# ---------------------------------------------------------------------------------- channels


def _quantity(el, attr: str, dimension: str, unit: str) -> str:
    x = exact(el, attr, dimension)
    return f"({x!r}*{unit})" if unit != "1" else f"({x!r})"


def _rate(el, forms: dict, dimension: str, unit: str) -> str:
    kind = el.get("type")
    if kind not in forms:
        raise error(el, f"{tag(el)} type {kind!r} cannot be mapped; allowed: {', '.join(forms)}")
    return forms[kind].format(rate=_quantity(el, "rate", dimension, unit),
                              mid=_quantity(el, "midpoint", "voltage", "mV"),
                              scale=_quantity(el, "scale", "voltage", "mV"))  # fmt: skip


def _time_course(el) -> str:
    if el.get("type") != "fixedTimeCourse":
        raise error(el, f"timeCourse type {el.get('type')!r} cannot be mapped; allowed: "
                    "fixedTimeCourse")  # fmt: skip
    return _quantity(el, "tau", "time", "ms")


def _q10(gate) -> str | None:
    """The gate's rate scale (product of its q10Settings) as an expression, None for 1."""
    factors = []
    for q in _kids(gate, "q10Settings"):
        kind = q.get("type")
        if kind == "q10Fixed":
            factors.append(_quantity(q, "fixedQ10", "none", "1"))
        elif kind == "q10ExpTemp":
            f = _quantity(q, "q10Factor", "none", "1")
            t = exact(q, "experimentalTemp", "temperature")
            factors.append(f"{f}**((celsius - ({t!r}))/10)")
        else:
            raise error(q, f"q10Settings type {kind!r} cannot be mapped; allowed: q10Fixed, "
                        "q10ExpTemp")  # fmt: skip
    return " * ".join(factors) if factors else None


def channel_declaration(chan) -> dict:
    """The declaration (``neuroscape.models.multicomp.mechanisms`` format) of a NeuroML ionChannel:
    parameters gmax (S/cm2) and erev (mV), one gate per NeuroML gate, i = gmax prod(q^instances)
    (v - erev)."""
    from neuroscape.models.multicomp.mechanisms import RESERVED

    ctype = tag(chan)
    if ctype in ("ionChannel", "ionChannelHH") and chan.get("type") == "ionChannelPassive":
        ctype = "ionChannelPassive"
    if ctype == "ionChannelKS" or _kids(chan, "gateKS"):
        raise error(chan, "a KineticScheme channel cannot be mapped; allowed: ionChannelHH with "
                    f"{', '.join(GATES)} gates, ionChannelPassive")  # fmt: skip
    if ctype not in ("ionChannel", "ionChannelHH", "ionChannelPassive"):
        raise error(chan, f"channel type {ctype!r} cannot be mapped; allowed: ionChannelHH, "
                    "ionChannel, ionChannelPassive")  # fmt: skip
    gates: dict[str, dict] = {}
    rates: dict[str, str] = {}
    factors = []
    for gate in chan:
        gt = tag(gate)
        if gt in ("notes", "annotation", "property"):
            continue
        if gt in ("conductanceScaling", "q10ConductanceScaling"):
            raise error(gate, f"<{gt}> cannot be mapped yet; allowed: gates {', '.join(GATES)}")
        if gt == "gate" and gate.get("type") in GATES:
            gt = gate.get("type")
        if gt not in GATES:
            raise error(gate, f"gate type {gt!r} cannot be mapped; allowed: {', '.join(GATES)}")
        if ctype == "ionChannelPassive":
            raise error(gate, "a passive channel has no gates")
        gid = gate.get("id") or f"gate{len(gates)}"
        ok = gid.isidentifier() and not gid.startswith("_")
        name = gid if ok and gid not in (*RESERVED, "gmax", "erev") else f"q{len(gates)}"
        kids = {tag(c): c for c in gate}
        need = {"gateHHrates": ("forwardRate", "reverseRate"),
                "gateHHratesInf": ("forwardRate", "reverseRate", "steadyState"),
                "gateHHratesTau": ("forwardRate", "reverseRate", "timeCourse"),
                "gateHHtauInf": ("timeCourse", "steadyState"),
                "gateHHratesTauInf": ("forwardRate", "reverseRate", "timeCourse",
                                      "steadyState")}[gt]  # fmt: skip
        for k in need:
            if k not in kids:
                raise error(gate, f"{gt} needs a <{k}>")
        for c in gate:
            if tag(c) not in (*need, "q10Settings", "notes", "annotation"):
                raise error(c, f"<{tag(c)}> in a {gt} cannot be mapped; allowed: "
                            f"{', '.join(need)}, q10Settings")  # fmt: skip
        q10 = _q10(gate)
        if q10 is not None:
            rates[f"{name}_q10"] = q10
        scale = f" * {name}_q10" if q10 is not None else ""
        g: dict[str, str] = {}
        if "forwardRate" in kids:
            g["alpha"] = _rate(kids["forwardRate"], RATES, "per_time", "1/ms")
            g["beta"] = _rate(kids["reverseRate"], RATES, "per_time", "1/ms")
        if "steadyState" in kids:
            g["inf"] = _rate(kids["steadyState"], VARIABLES, "none", "1")
        if "timeCourse" in kids:
            g["tau"] = _time_course(kids["timeCourse"]) + (f" / {name}_q10" if q10 else "")
        elif q10 is not None:  # Channels.xml: tau = 1/((alpha + beta) * rateScale)
            g["tau"] = f"1 / (({name}_alpha + {name}_beta){scale})"
        gates[name] = g
        try:
            n = int(gate.get("instances", "1"))
        except ValueError:
            n = 0
        if n < 1:
            raise error(gate, f"instances={gate.get('instances')!r}; allowed: a whole number >= 1")
        factors.append(f"{name}**{n}" if n != 1 else name)
    return {
        "description": f"NeuroML2 {ctype} {chan.get('id')!r} ({where(chan)})",
        "parameters": {"gmax": {"default": "0 S/cm2", "description": "condDensity"},
                       "erev": {"default": "0 mV", "description": "reversal potential"}},
        "rates": rates,
        "gates": gates,
        "current": f"gmax{''.join(' * ' + f for f in factors)} * (v - erev)",
    }  # fmt: skip


# ---------------------------------------------------------------------------------- the cell


def _part(cell, doc: Document, name: str):
    kids = _kids(cell, name)
    if kids:
        return kids[0]
    ref = cell.get(name)
    if ref is None:
        raise error(cell, f"a multi-compartment cell without <{name}>; allowed: a cell with "
                    "<morphology> and <biophysicalProperties> (inline or referenced by id)")
    return doc.component(ref, cell)


def is_multicompartment(el, doc: Document) -> bool:
    """Whether ``el`` is a ``<cell>`` whose morphology has more than one segment."""
    if tag(el) != "cell":
        return False
    try:
        morph = _part(el, doc, "morphology")
    except NeuroMLError:
        return False
    return len(_kids(morph, "segment")) > 1


def _temperature(doc: Document) -> float:
    temps = [n for n in doc.components.values()
             if tag(n) == "network" and n.get("temperature") is not None]  # fmt: skip
    if len(temps) == 1:
        return exact(temps[0], "temperature", "temperature")
    return 6.3


def _box(value: float, kind: str) -> tuple[float, float]:
    """The default bounds of a declared parameter: a voltage +-20 mV, a conductance density 0
    to 2x (to 1e-3 S/cm2 for 0: a channel can be taken out), cm and Ra x/2 to 2x."""
    if kind == "voltage":
        return value - 20.0, value + 20.0
    if kind == "density":
        return 0.0, (2.0 * value if value > 0 else 1e-3)
    return value / 2.0, value * 2.0


def cell_description(el, doc: Document):
    """The CellDescription of a NeuroML2 multi-compartment ``<cell>`` (see the module
    docstring); its declared parameters: each channelDensity's gmax and erev on its segment
    group (``GROUP.CHANNEL.gmax``), and cm and Ra where one value covers the cell."""
    from neuroscape.models.multicomp.description import CellDescription, CellError

    cid = el.get("id")
    morph = _part(el, doc, "morphology")
    segs = _segments(morph)
    sections, where_of, members, group_els = _sections(el, morph, segs)
    covers = _section_groups(members, group_els, where_of, sections)
    groups = {g: v for g, v in covers.items()
              if not isinstance(v, str) and g not in sections and g != "all"}  # fmt: skip
    bio = _part(el, doc, "biophysicalProperties")
    for c in bio:
        if tag(c) not in ("membraneProperties", "intracellularProperties", "notes",
                          "annotation", "property"):  # fmt: skip
            raise error(c, f"<{tag(c)}> cannot be mapped; allowed: membraneProperties, "
                        "intracellularProperties")  # fmt: skip
    mem = _kids(bio, "membraneProperties")
    if len(mem) != 1:
        raise error(bio, "needs one <membraneProperties>")
    cm: dict[str, float] = {}
    ra: dict[str, float] = {}
    v_init: list[tuple[float, object]] = []
    mechs: dict[str, dict[str, dict[str, float]]] = {s: {} for s in sections}
    channels: dict[str, dict] = {}
    decls: dict[str, str] = {}  # NeuroML channel id -> mechanism name
    params: dict[str, tuple[float, float]] = {}
    cm_targets, ra_targets = [], []
    for c in mem[0]:
        t = tag(c)
        if t in ("notes", "annotation", "property", "spikeThresh"):
            continue
        if t not in MEMBRANE:
            raise error(c, f"<{t}> cannot be mapped; allowed: {', '.join(MEMBRANE)}")
        target, secs = _sections_of(c, "segmentGroup", covers, sections, where_of)
        if t == "specificCapacitance":
            x = exact(c, "value", "specificCapacitance")
            cm.update(dict.fromkeys(secs, x))
            cm_targets.append((target, x))
        elif t == "initMembPotential":
            v_init.append((exact(c, "value", "voltage"), c))
        elif t == "channelDensity":
            chan_id = c.get("ionChannel")
            chan = doc.component(chan_id, c)
            if chan_id not in decls:
                mname = f"{chan_id}_nml2" if chan_id in BUILTIN_CLASH else chan_id
                decls[chan_id] = mname
                channels[mname] = channel_declaration(chan)
            mname = decls[chan_id]
            g = exact(c, "condDensity", "conductanceDensity")
            e = exact(c, "erev", "voltage")
            for s in secs:
                if mname in mechs[s]:
                    raise error(c, f"channel {chan_id} is already in section {s} (another "
                                "channelDensity); allowed: one density of a channel per section")
                mechs[s][mname] = {"gmax": g, "erev": e}
            params[f"{target}.{mname}.gmax"] = _box(g, "density")
            params[f"{target}.{mname}.erev"] = _box(e, "voltage")
    for ip in _kids(bio, "intracellularProperties"):
        for c in ip:
            t = tag(c)
            if t in ("notes", "annotation", "property"):
                continue
            if t != "resistivity":
                raise error(c, f"<{t}> (ion concentrations) cannot be mapped yet; allowed: "
                            "resistivity")  # fmt: skip
            target, secs = _sections_of(c, "segmentGroup", covers, sections, where_of)
            x = exact(c, "value", "resistivity")
            ra.update(dict.fromkeys(secs, x))
            ra_targets.append((target, x))
    if not v_init:
        raise error(mem[0], "needs <initMembPotential>")
    if len({v for v, _ in v_init}) > 1:
        raise error(v_init[1][1], "a second initMembPotential value; allowed: one value for the "
                    "cell (NEURON's finitialize)")  # fmt: skip
    missing = [s for s in sections if s not in cm]
    if missing:
        raise error(mem[0], f"no specificCapacitance for section {missing[0]}; allowed: one for "
                    "every segment")  # fmt: skip
    cell_cm = cm_targets[0][1] if len(cm_targets) == 1 and len(set(cm.values())) == 1 else 1.0
    cell_ra = 35.4  # NEURON's default where the file sets none (as the export leaves it)
    if len(ra_targets) == 1 and len(ra) == len(sections):
        cell_ra = ra_targets[0][1]
    secs_out = {}
    from dataclasses import replace

    for n, s in sections.items():
        secs_out[n] = replace(s, cm=None if cm[n] == cell_cm else cm[n],
                              Ra=None if ra.get(n, cell_ra) == cell_ra else ra[n])  # fmt: skip
    if len(cm_targets) == 1 and len(set(cm.values())) == 1:
        params["cm"] = _box(cell_cm, "cm")
    if len(ra_targets) == 1 and len(ra) == len(sections):
        params["Ra"] = _box(cell_ra, "Ra")
    name = re.sub(r"\W", "_", cid)
    try:
        return CellDescription(
            name, Ra=cell_ra, cm=cell_cm, v_init=v_init[0][0], celsius=_temperature(doc),
            sections=secs_out, mechanisms={s: m for s, m in mechs.items() if m},
            parameters=params, channels=channels, groups=groups,
        )  # fmt: skip
    except CellError as exc:
        raise error(el, str(exc)) from None
