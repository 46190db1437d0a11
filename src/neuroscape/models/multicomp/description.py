"""A multi-compartment cell as data, in NEURON's vocabulary: sections (L, diam, nseg, parent,
parent_x, Ra, cm), density mechanisms per section, reversal potentials, and the values that
sweeps and fits vary.

The same description comes from YAML or from a Python dict::

    name: ball_stick
    Ra: 150            # ohm cm
    cm: 1              # uF/cm2
    v_init: -65        # mV
    celsius: 6.3       # degC
    sections:          # or  morphology: cell.swc  (+ nseg_per_um)
      soma: {L: 20, diam: 20, nseg: 1}
      dend: {L: 400, diam: 2, nseg: 41, parent: soma, parent_x: 1}
    groups:            # optional: named sets of sections, used as SECTION keys
      tree: [dend]
    channels:          # optional: HH-type channels written as equations (NAME: FILE or inline;
      ka: ka.yaml      #   the format: neuroscape.models.multicomp.mechanisms)
    mechanisms:        # per section, group, SWC type (soma, axon, dend, apic) or 'all'
      soma: {hh: {gnabar: 0.12}, ka: {gbar: 0.01}}
      dend: {pas: {g: 0.0005, e: -65}}
    ions:              # optional: reversal potentials per section / type / 'all' (mV)
      soma: {ena: 50, ek: -77}
    parameters:        # ADDRESS: {low, high}
      soma.hh.gnabar: {low: 0.06, high: 0.18}

Addresses: ``Ra``, ``cm``, ``v_init``, ``celsius`` (the cell); ``SECTION.L|diam|Ra|cm|ena|ek``;
``SECTION.MECH.PARAM`` (MECH: hh, pas or one of the cell's channels). A group, an SWC type
(``dend``) or ``all`` in place of SECTION means every such section. ``nseg`` and ``parent_x``
are topology, not values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from neuroscape.models.multicomp.mechanisms import (
    MECHANISMS,
    CellError,
    Mechanism,
    load_channel,
)

# NEURON's names of the SWC types (Import3d_GUI.type2name): codes 1-4, and 5-7 the custom ones
SWC_TYPES = ("soma", "axon", "dend", "apic", "dend_5", "dend_6", "dend_7")
ALL = "all"
CELL_ATTRS = {"Ra": "ohm cm", "cm": "uF/cm2", "v_init": "mV", "celsius": "degC"}
SECTION_ATTRS = {"L": "um", "diam": "um", "Ra": "ohm cm", "cm": "uF/cm2"}
TOPOLOGY = ("nseg", "parent", "parent_x")
# NEURON's defaults for the reversal potentials its ions start with (na_ion, k_ion)
ION_DEFAULTS = {
    ion.reversal: ion.default for mech in MECHANISMS.values() for ion in mech.ions
}
_TOP_KEYS = ("name", "Ra", "cm", "v_init", "celsius", "sections", "morphology", "nseg_per_um",
             "groups", "channels", "mechanisms", "ions", "parameters")  # fmt: skip
_SECTION_KEYS = ("L", "diam", "nseg", "parent", "parent_x", "Ra", "cm", *ION_DEFAULTS)


_SCALARS = ("name", "L", "diam", "nseg", "parent", "parent_x", "Ra", "cm", "swc_type")


def _num(value, what: str, unit: str = "", low: float | None = None, strict: bool = False,
         allowed: str | None = None) -> float:
    """``value`` as a finite float (a number, or a string of one: YAML reads 1e-3 as text),
    at least ``low`` (above it if ``strict``)."""
    u = f" {unit}" if unit else ""
    ok = not isinstance(value, bool)
    x = math.nan
    if ok:
        try:
            x = float(value)
        except (TypeError, ValueError):
            ok = False
    if low is None:
        rule = allowed or f"a finite number{u and ' (' + unit + ')'}"
    else:
        rule = allowed or f"a number {'>' if strict else '>='} {low:g}{u}"
    if not ok or not math.isfinite(x) or (
        low is not None and (x <= low if strict else x < low)
    ):
        shown = f"{x:g}" if ok and not isinstance(value, str) else repr(value)
        raise CellError(f"{what}={shown}{u if ok else ''}; allowed: {rule}")
    return x


def _nseg(value, what: str) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        ok = True
    if not ok or int(value) < 1:
        raise CellError(f"{what}={value!r}; allowed: an integer >= 1")
    return int(value)


@dataclass(frozen=True)
class Section:
    """An unbranched cable: NEURON's section (lengths in um, Ra in ohm cm, cm in uF/cm2)."""

    name: str
    L: float  # um (for pt3d sections: the path length of the points)
    diam: float  # um (for pt3d sections: informative only; the points' diameters are used)
    nseg: int
    parent: str | None  # None only for the root
    parent_x: float = 1.0  # where on the parent the 0-end attaches
    Ra: float | None = None  # ohm cm; None -> the cell's
    cm: float | None = None  # uF/cm2; None -> the cell's
    pt3d: np.ndarray | None = None  # (K, 4): x, y, z, diam in um (SWC sections), as NEURON's pt3d
    swc_type: str | None = None  # 'soma' | 'axon' | 'dend' | 'apic' (SWC sections)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Section):
            return NotImplemented
        same = all(getattr(self, f) == getattr(other, f) for f in _SCALARS)
        if self.pt3d is None or other.pt3d is None:
            return same and self.pt3d is other.pt3d
        return same and np.array_equal(self.pt3d, other.pt3d)

    __hash__ = None  # type: ignore[assignment]  # holds an array

    def _payload(self) -> dict:
        d = {f: getattr(self, f) for f in _SCALARS}
        if self.pt3d is not None:
            d["pt3d"] = np.asarray(self.pt3d, dtype=float).tolist()
        return d


def _check_section(s: Section) -> Section:
    """The section with numbers as float/int, or one line naming the bad value."""
    w = f"section {s.name!r}"
    if not isinstance(s.name, str) or not s.name or any(c in s.name for c in ". \t"):
        raise CellError(
            f"section name {s.name!r}; allowed: a non-empty name without '.' or spaces"
        )
    L = _num(s.L, f"{w}: L", "um", 0.0, strict=True)
    diam = _num(s.diam, f"{w}: diam", "um", 0.0, strict=True)
    nseg = _nseg(s.nseg, f"{w}: nseg")
    px = _num(s.parent_x, f"{w}: parent_x", "", allowed="0 <= parent_x <= 1")
    if not 0.0 <= px <= 1.0:
        raise CellError(f"{w}: parent_x={s.parent_x!r}; allowed: 0 <= parent_x <= 1")
    Ra = None if s.Ra is None else _num(s.Ra, f"{w}: Ra", "ohm cm", 0.0, strict=True)
    cm = None if s.cm is None else _num(s.cm, f"{w}: cm", "uF/cm2", 0.0)
    pt3d = s.pt3d
    if pt3d is not None:
        pt3d = np.array(pt3d, dtype=float)
        if pt3d.ndim != 2 or pt3d.shape[1] != 4 or pt3d.shape[0] < 2:
            raise CellError(
                f"{w}: pt3d has shape {pt3d.shape}; allowed: (K >= 2, 4) x, y, z, diam"
            )
        if not np.all(np.isfinite(pt3d)) or np.any(pt3d[:, 3] < 0):
            raise CellError(f"{w}: pt3d has a non-finite value or a negative diameter; allowed: "
                            "finite x, y, z and diam >= 0 (um)")
        pt3d.setflags(write=False)
    if s.swc_type is not None and s.swc_type not in SWC_TYPES:
        raise CellError(f"{w}: swc_type={s.swc_type!r}; allowed: {', '.join(SWC_TYPES)}")
    if s.parent is not None and not isinstance(s.parent, str):
        raise CellError(f"{w}: parent={s.parent!r}; allowed: a section name")
    return replace(s, L=L, diam=diam, nseg=nseg, parent_x=px, Ra=Ra, cm=cm, pt3d=pt3d)


def _order(sections: Mapping[str, Section]) -> dict[str, Section]:
    """Parent before children (depth first, children in the given order); one root, no cycle,
    no missing parent, or one line."""
    names = list(sections)
    if not names:
        raise CellError("the cell has no sections; allowed: at least one (sections: or "
                        "morphology:)")
    for s in sections.values():
        if s.parent is not None and s.parent not in sections:
            allowed = ", ".join(n for n in names if n != s.name) or "(none)"
            raise CellError(
                f"section {s.name!r}: parent {s.parent!r} is not a section; allowed: {allowed}"
            )
        if s.parent == s.name:
            raise CellError(f"section {s.name!r} is its own parent; allowed: a tree with one root")
    roots = [n for n in names if sections[n].parent is None]
    if len(roots) > 1:
        raise CellError(
            f"{len(roots)} roots: {', '.join(roots)} have no parent; allowed: one section "
            "without a parent"
        )
    if not roots:  # every section has a parent: there is a cycle
        raise CellError(f"sections form a cycle: {_cycle(sections)}; allowed: a tree with one root")
    children: dict[str, list[str]] = {n: [] for n in names}
    for n in names:
        if sections[n].parent is not None:
            children[sections[n].parent].append(n)
    out: dict[str, Section] = {}
    stack = [roots[0]]
    while stack:
        n = stack.pop()
        out[n] = sections[n]
        stack.extend(reversed(children[n]))
    if len(out) < len(names):
        left = {n: sections[n] for n in names if n not in out}
        raise CellError(f"sections form a cycle: {_cycle(left)}; allowed: a tree with one root")
    return out


def _cycle(sections: Mapping[str, Section]) -> str:
    """'a -> b -> a' for a cycle among sections that all have parents."""
    n = next(iter(sections))
    seen: list[str] = []
    while n not in seen:
        seen.append(n)
        n = sections[n].parent
    loop = seen[seen.index(n):] + [n]
    return " -> ".join(loop)


@dataclass(frozen=True)
class CellDescription:
    """A cell: sections (parent first), mechanisms and reversal potentials per section, and the
    sweepable values with bounds. Built by ``load_cell`` or directly (checked either way)."""

    name: str
    Ra: float = 35.4  # ohm cm (NEURON's default)
    cm: float = 1.0  # uF/cm2
    v_init: float = -65.0  # mV
    celsius: float = 6.3  # degC
    sections: dict[str, Section] = field(default_factory=dict)
    # SECTION -> mech -> param -> value; NEURON defaults filled in for params not given
    mechanisms: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    ions: dict[str, dict[str, float]] = field(default_factory=dict)  # SECTION -> {'ena': 50.0}
    parameters: dict[str, tuple[float, float]] = field(default_factory=dict)  # ADDRESS -> bounds
    # the cell's own channels written as equations: NAME -> Mechanism (or its declaration)
    channels: dict[str, Mechanism] = field(default_factory=dict)
    # named sets of sections (NEURON's SectionLists, NeuroML's segment groups): GROUP -> names;
    # a group stands for its sections wherever a SECTION key does (mechanisms:, addresses)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        chans = {}
        for cname, decl in dict(self.channels).items():
            if cname in MECHANISMS:
                raise CellError(f"channel {cname!r} has the name of NEURON's built-in {cname}; "
                                f"allowed: another name than {', '.join(MECHANISMS)}")
            chans[cname] = load_channel(cname, decl)
        set_(self, "channels", chans)
        _remember_units(chans)
        if not isinstance(self.name, str) or not self.name:
            raise CellError(f"name={self.name!r}; allowed: a non-empty string")
        set_(self, "Ra", _num(self.Ra, "Ra", "ohm cm", 0.0, strict=True))
        set_(self, "cm", _num(self.cm, "cm", "uF/cm2", 0.0))
        set_(self, "v_init", _num(self.v_init, "v_init", "mV"))
        set_(self, "celsius", _num(self.celsius, "celsius", "degC"))
        secs = {}
        for key, s in dict(self.sections).items():
            if not isinstance(s, Section):
                raise CellError(f"section {key!r} is a {type(s).__name__}; allowed: a Section")
            if s.name != key:
                raise CellError(f"section {key!r} is named {s.name!r}; allowed: the same name")
            secs[key] = _check_section(s)
        set_(self, "sections", _order(secs))
        set_(self, "groups", _check_groups(self.groups, self.sections))
        mechs: dict[str, dict[str, dict[str, float]]] = {}
        for sec, ms in dict(self.mechanisms).items():
            if sec not in self.sections:
                raise CellError(
                    f"mechanisms: {sec!r} is not a section; allowed: {', '.join(self.sections)}"
                )
            mechs[sec] = {m: _mech_params(sec, m, p, self.mechanism_table)
                          for m, p in dict(ms).items()}  # fmt: skip
        set_(self, "mechanisms", {s: mechs[s] for s in self.sections if s in mechs})
        ions: dict[str, dict[str, float]] = {}
        for sec in self.sections:
            reads = {r for m in self.mechanisms.get(sec, {})
                     for r in self.mechanism_table[m].reversals}  # fmt: skip
            given = dict(self.ions.get(sec, {}))
            for r, v in given.items():
                if r not in ION_DEFAULTS:
                    raise CellError(
                        f"section {sec!r}: unknown reversal potential {r!r}; allowed: "
                        f"{', '.join(ION_DEFAULTS)}"
                    )
                if r not in reads:
                    raise CellError(
                        f"section {sec!r}: {r}={v!r} but no mechanism there reads {r}; allowed: "
                        f"{', '.join(sorted(reads)) or 'none (insert a mechanism that uses it)'}"
                    )
            if reads:
                ions[sec] = {
                    r: _num(given.get(r, ION_DEFAULTS[r]), f"section {sec!r}: {r}", "mV")
                    for r in sorted(reads)
                }
        for sec in self.ions:
            if sec not in self.sections:
                raise CellError(
                    f"ions: {sec!r} is not a section; allowed: {', '.join(self.sections)}"
                )
        set_(self, "ions", ions)
        params = {}
        for addr, bounds in dict(self.parameters).items():
            params[addr] = _bounds(self, addr, bounds)
        set_(self, "parameters", params)

    # ------------------------------------------------------------------ addresses

    @property
    def mechanism_table(self) -> dict[str, Mechanism]:
        """Every mechanism the cell may use: NEURON's built-ins, then its own channels."""
        return {**MECHANISMS, **self.channels}

    def mechanism(self, name: str) -> Mechanism:
        """The mechanism called ``name`` (a built-in or one of the cell's channels)."""
        table = self.mechanism_table
        if name not in table:
            raise CellError(f"unknown mechanism {name!r}; allowed: {', '.join(table)}")
        return table[name]

    def used_mechanisms(self) -> list[Mechanism]:
        """The mechanisms inserted in at least one section, built-ins first, then channels in
        their declared order."""
        return [m for n, m in self.mechanism_table.items()
                if any(n in ms for ms in self.mechanisms.values())]  # fmt: skip

    def unit_of(self, address: str) -> str:
        """The unit of an address's value on this cell (its channels' parameters included)."""
        parts = address.split(".") if isinstance(address, str) else []
        if len(parts) == 3 and parts[1] in self.channels:
            mech = self.channels[parts[1]]
            if parts[2] in mech.parameter_names:
                return mech.unit(parts[2])
        return unit_of(address, self.mechanism_table)

    @property
    def root(self) -> str:
        """The root section's name (the first)."""
        return next(iter(self.sections))

    def sections_of(self, key: str) -> list[str]:
        """The sections a SECTION key means: the section itself, every section for 'all', the
        sections of a group, or every section of an SWC type (an empty list when none
        matches)."""
        if key in self.sections:
            return [key]
        if key == ALL:
            return list(self.sections)
        if key in self.groups:
            return list(self.groups[key])
        if key in SWC_TYPES:
            return [n for n, s in self.sections.items() if s.swc_type == key]
        return []

    def _targets(self, address: str) -> list[tuple]:
        """What an address sets: ("cell", attr) | ("section", sec, attr) | ("ion", sec, name) |
        ("mech", sec, mech, param), or one line."""
        if not isinstance(address, str):
            raise CellError(f"address {address!r}; allowed: a string such as soma.hh.gnabar")
        parts = address.split(".")
        if len(parts) == 1:
            if address in CELL_ATTRS:
                return [("cell", address)]
            if address in TOPOLOGY:
                raise _topology(address)
            raise self._unknown(address)
        key = parts[0]
        secs = self.sections_of(key)
        if not secs:
            why = f"no section is of SWC type {key}" if key in SWC_TYPES else (
                f"{key!r} is not a section")
            raise self._unknown(address, why)
        if len(parts) == 2:
            attr = parts[1]
            if attr in TOPOLOGY:
                raise _topology(address)
            if attr in SECTION_ATTRS:
                if attr in ("L", "diam") and key not in self.sections:
                    raise CellError(
                        f"address {address!r}: {attr} is set per section, not for a type; "
                        f"allowed: SECTION.{attr} with SECTION one of {self._names()}"
                    )
                return [("section", s, attr) for s in secs]
            if attr in ION_DEFAULTS:
                have = [s for s in secs if attr in self.ions.get(s, {})]
                if not have:
                    raise CellError(
                        f"address {address!r}: no mechanism in {key} reads {attr}; allowed: "
                        f"{attr} of sections with one ({', '.join(self._with_ion(attr)) or 'none'})"
                    )
                return [("ion", s, attr) for s in have]
            raise self._unknown(address, f"{attr!r} is not a section value")
        if len(parts) == 3:
            mech, param = parts[1], parts[2]
            table = self.mechanism_table
            if mech not in table:
                raise CellError(
                    f"address {address!r}: unknown mechanism {mech!r}; allowed: "
                    f"{', '.join(table)}"
                )
            names = table[mech].parameter_names
            if param not in names:
                raise CellError(
                    f"address {address!r}: unknown parameter {param!r} of {mech}; allowed: "
                    f"{', '.join(names)}"
                )
            have = [s for s in secs if mech in self.mechanisms.get(s, {})]
            if not have:
                where = ", ".join(s for s in self.sections if mech in self.mechanisms.get(s, {}))
                raise CellError(
                    f"address {address!r}: {key} has no {mech}; allowed: sections with {mech} "
                    f"({where or 'none'})"
                )
            return [("mech", s, mech, param) for s in have]
        raise self._unknown(address)

    def _names(self) -> str:
        names = list(self.sections)
        return ", ".join(names[:8]) + (f" ... ({len(names)} sections)" if len(names) > 8 else "")

    def _with_ion(self, r: str) -> list[str]:
        return [s for s in self.sections if r in self.ions.get(s, {})]

    def _unknown(self, address: str, why: str = "") -> CellError:
        why = f" ({why})" if why else ""
        return CellError(
            f"unknown address {address!r}{why}; allowed: Ra, cm, v_init, celsius, "
            f"SECTION.L|diam|Ra|cm|ena|ek, SECTION.MECH.PARAM with SECTION one of "
            f"{self._names()}"
        )

    def _get(self, t: tuple) -> float:
        if t[0] == "cell":
            return getattr(self, t[1])
        if t[0] == "section":
            v = getattr(self.sections[t[1]], t[2])
            return getattr(self, t[2]) if v is None else v
        if t[0] == "ion":
            return self.ions[t[1]][t[2]]
        return self.mechanisms[t[1]][t[2]][t[3]]

    def value(self, address: str) -> float:
        """The value at ``address`` (for a type or 'all': their common value, or one line when
        they differ)."""
        vals = [self._get(t) for t in self._targets(address)]
        if any(v != vals[0] for v in vals):
            raise CellError(
                f"address {address!r} has {len(set(vals))} different values across its sections "
                f"({min(vals):g} to {max(vals):g}); allowed: one section's address"
            )
        return float(vals[0])

    def addresses(self) -> list[str]:
        """Every settable value, one address per section (no type aliases)."""
        out = list(CELL_ATTRS)
        for sec in self.sections:
            out += [f"{sec}.{a}" for a in SECTION_ATTRS]
            out += [f"{sec}.{r}" for r in self.ions.get(sec, {})]
            for mech, ps in self.mechanisms.get(sec, {}).items():
                out += [f"{sec}.{mech}.{p}" for p in ps]
        return out

    def targets(self, address: str) -> list[tuple]:
        """What ``address`` sets, resolved (see ``_targets``); for the engine and geometry."""
        return self._targets(address)

    def with_values(self, values: Mapping[str, float]) -> CellDescription:
        """A copy with ``values`` set (addresses -> numbers). A section with 3-D points keeps
        them: a new L scales their arc lengths when the cell is discretised, and a new diam
        becomes every point's diameter, as NEURON does (nrn_length_change, nrn_diam_change)."""
        cell = {a: getattr(self, a) for a in CELL_ATTRS}
        secs = dict(self.sections)
        mechs = {s: {m: dict(p) for m, p in ms.items()} for s, ms in self.mechanisms.items()}
        ions = {s: dict(r) for s, r in self.ions.items()}
        for address, raw in values.items():
            for t in self._targets(address):
                what = f"{address}" if len(self._targets(address)) == 1 else f"{address} ({t[1]})"
                x = _check_value(t, raw, what, self.mechanism_table)
                if t[0] == "cell":
                    cell[t[1]] = x
                elif t[0] == "section":
                    secs[t[1]] = _set_section(secs[t[1]], t[2], x)
                elif t[0] == "ion":
                    ions[t[1]][t[2]] = x
                else:
                    mechs[t[1]][t[2]][t[3]] = x
        return CellDescription(self.name, **cell, sections=secs, mechanisms=mechs, ions=ions,
                               parameters=dict(self.parameters),
                               channels=dict(self.channels), groups=dict(self.groups))  # fmt: skip

    def digest(self) -> str:
        """A content hash (sha256 hex) of the whole description."""
        payload = {
            "name": self.name, **{a: getattr(self, a) for a in CELL_ATTRS},
            "sections": [s._payload() for s in self.sections.values()],
            "mechanisms": self.mechanisms, "ions": self.ions,
            "parameters": {k: list(v) for k, v in self.parameters.items()},
        }  # fmt: skip
        if self.channels:  # (absent otherwise: digests of cells without channels unchanged)
            payload["channels"] = {n: dataclasses.asdict(m) for n, m in self.channels.items()}
        if self.groups:
            payload["groups"] = {n: list(g) for n, g in self.groups.items()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _check_groups(raw, sections: Mapping[str, Section]) -> dict[str, tuple[str, ...]]:
    """Groups as name -> section names (in the cell's order), or one line."""
    if not isinstance(raw, Mapping):
        raise CellError(f"groups: {raw!r}; allowed: a mapping GROUP: [SECTION, ...]")
    out = {}
    for name, members in raw.items():
        if not isinstance(name, str) or not name or any(c in name for c in ". \t"):
            raise CellError(f"group name {name!r}; allowed: a non-empty name without '.' or "
                            "spaces")  # fmt: skip
        if name in sections or name == ALL:
            raise CellError(f"group {name!r} has the name of a section or of 'all'; allowed: "
                            "another name")  # fmt: skip
        if isinstance(members, str) or not isinstance(members, list | tuple) or not members:
            raise CellError(f"group {name!r}: {members!r}; allowed: a non-empty list of "
                            "sections")  # fmt: skip
        bad = [m for m in members if m not in sections]
        if bad:
            raise CellError(f"group {name!r}: {bad[0]!r} is not a section; allowed: "
                            f"{', '.join(list(sections)[:8])}"
                            f"{' ...' if len(sections) > 8 else ''}")  # fmt: skip
        keep = set(members)
        out[name] = tuple(n for n in sections if n in keep)
    return out


def _topology(address: str) -> CellError:
    attr = address.split(".")[-1]
    return CellError(
        f"address {address!r}: {attr} is topology, not a value (one morphology per batch); "
        "allowed: L, diam, Ra, cm, ena, ek, MECH.PARAM of a section, or Ra, cm, v_init, celsius"
    )


# the units of the parameters of every channel a CellDescription has held in this process: the
# module-level unit_of (which sees no cell) answers for them where all channels of that name agree
_SEEN_UNITS: dict[str, dict[str, set[str]]] = {}


def _remember_units(channels: Mapping[str, Mechanism]) -> None:
    for name, mech in channels.items():
        seen = _SEEN_UNITS.setdefault(name, {})
        for p in mech.parameters:
            seen.setdefault(p.name, set()).add(p.unit)


def unit_of(address: str, mechanisms: Mapping[str, Mechanism] | None = None) -> str:
    """The unit of an address's value: 'um', 'ohm cm', 'uF/cm2', 'S/cm2', 'mV', 'degC' or '1'
    (a channel's parameter: its unit). ``mechanisms``: the cell's (``CellDescription.unit_of``);
    without it, NEURON's built-ins and the channels of the cells loaded so far."""
    if not isinstance(address, str):
        raise CellError(f"address {address!r}; allowed: a string such as soma.hh.gnabar")
    parts = address.split(".")
    if len(parts) == 1 and address in CELL_ATTRS:
        return CELL_ATTRS[address]
    if len(parts) == 2:
        if parts[1] in SECTION_ATTRS:
            return SECTION_ATTRS[parts[1]]
        if parts[1] in ION_DEFAULTS:
            return "mV"
        if parts[1] in TOPOLOGY:
            raise _topology(address)
    table = MECHANISMS if mechanisms is None else mechanisms
    if len(parts) == 3 and parts[1] in table:
        mech = table[parts[1]]
        if parts[2] in mech.parameter_names:
            return mech.unit(parts[2])
        raise CellError(
            f"address {address!r}: unknown parameter {parts[2]!r} of {parts[1]}; allowed: "
            f"{', '.join(mech.parameter_names)}"
        )
    if len(parts) == 3 and mechanisms is None and parts[1] in _SEEN_UNITS:
        units = _SEEN_UNITS[parts[1]].get(parts[2], set())
        if len(units) == 1:
            return next(iter(units))
        if units:
            raise CellError(f"address {address!r}: channels named {parts[1]} have {parts[2]} in "
                            f"{', '.join(sorted(units))}; allowed: the cell's own unit_of")
        raise CellError(
            f"address {address!r}: unknown parameter {parts[2]!r} of {parts[1]}; allowed: "
            f"{', '.join(_SEEN_UNITS[parts[1]])}"
        )
    if len(parts) == 3:
        known = [*table, *(() if mechanisms is not None else _SEEN_UNITS)]
        raise CellError(
            f"address {address!r}: unknown mechanism {parts[1]!r}; allowed: {', '.join(known)}"
        )
    raise CellError(
        f"unknown address {address!r}; allowed: Ra, cm, v_init, celsius, "
        "SECTION.L|diam|Ra|cm|ena|ek, SECTION.MECH.PARAM"
    )


def _low(t: tuple, table: Mapping[str, Mechanism]) -> tuple[float | None, bool, str]:
    """(lowest value, strict, unit) allowed at a target."""
    if t[0] == "cell":
        a = t[1]
        return {"Ra": (0.0, True), "cm": (0.0, False)}.get(a, (None, False)) + (CELL_ATTRS[a],)
    if t[0] == "section":
        a = t[2]
        return {"L": (0.0, True), "diam": (0.0, True), "Ra": (0.0, True),
                "cm": (0.0, False)}[a] + (SECTION_ATTRS[a],)  # fmt: skip
    if t[0] == "ion":
        return None, False, "mV"
    p = next(p for p in table[t[2]].parameters if p.name == t[3])
    return p.low, False, p.unit


def _check_value(t: tuple, raw, what: str, table: Mapping[str, Mechanism]) -> float:
    low, strict, unit = _low(t, table)
    return _num(raw, what, unit, low, strict)


def check_values(cell: CellDescription, address: str, values: np.ndarray) -> np.ndarray:
    """``values`` for ``address`` as a float array, every entry allowed there, or one line
    naming the first bad one (its row)."""
    arr = np.atleast_1d(np.asarray(values, dtype=float)) if _numeric(values) else None
    if arr is None or arr.ndim != 1:
        raise CellError(f"{address}: values {values!r}; allowed: a number or a 1-D array of them")
    for t in cell.targets(address):
        low, strict, unit = _low(t, cell.mechanism_table)
        bad = ~np.isfinite(arr)
        if low is not None:
            bad |= (arr <= low) if strict else (arr < low)
        if bad.any():
            r = int(np.argmax(bad))
            try:
                _num(arr[r], address, unit, low, strict)
            except CellError as exc:
                if arr.size == 1:
                    raise
                raise CellError(str(exc).replace("; allowed", f" (row {r}); allowed", 1)) from None
    return arr


def _numeric(values) -> bool:
    try:
        np.asarray(values, dtype=float)
        return True
    except (TypeError, ValueError):
        return False


def _set_section(s: Section, attr: str, x: float) -> Section:
    # a 3-D section's new L scales its points' arc lengths in geometry.discretize (NEURON's
    # nrn_length_change); the points are kept as read
    if s.pt3d is not None and attr == "diam":
        pts = np.array(s.pt3d, dtype=float)
        pts[:, 3] = x
        return replace(s, diam=x, pt3d=pts)
    return replace(s, **{attr: x})


def _mech_params(sec: str, mech: str, given, table: Mapping[str, Mechanism]) -> dict[str, float]:
    if mech not in table:
        raise CellError(
            f"section {sec!r}: unknown mechanism {mech!r}; allowed: {', '.join(table)}"
        )
    m = table[mech]
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise CellError(
            f"section {sec!r}: {mech}: {given!r}; allowed: a mapping of parameters "
            f"({', '.join(m.parameter_names)})"
        )
    out = dict(m.defaults)
    for k, v in given.items():
        if k not in out:
            hint = f" (set {k} with ions: or SECTION.{k})" if k in ION_DEFAULTS else ""
            raise CellError(
                f"section {sec!r}: unknown parameter {k!r} of {mech}{hint}; allowed: "
                f"{', '.join(m.parameter_names)}"
            )
        p = next(p for p in m.parameters if p.name == k)
        out[k] = _num(v, f"section {sec!r}: {mech}.{k}", p.unit, p.low)
    return out


def _bounds(cell: CellDescription, addr: str, bounds) -> tuple[float, float]:
    cell.targets(addr)  # the address exists (or one line)
    if isinstance(bounds, Mapping):
        unknown = set(bounds) - {"low", "high"}
        if unknown or not {"low", "high"} <= set(bounds):
            raise CellError(
                f"parameters: {addr}: {dict(bounds)!r}; allowed: {{low: NUMBER, high: NUMBER}}"
            )
        lo, hi = bounds["low"], bounds["high"]
    elif isinstance(bounds, (list, tuple)) and len(bounds) == 2:
        lo, hi = bounds
    else:
        raise CellError(f"parameters: {addr}: {bounds!r}; allowed: {{low: NUMBER, high: NUMBER}}")
    lo = _num(lo, f"parameters: {addr}: low")
    hi = _num(hi, f"parameters: {addr}: high")
    if not lo < hi:
        raise CellError(f"parameters: {addr}: low={lo:g}, high={hi:g}; allowed: low < high")
    return (lo, hi)


# ---------------------------------------------------------------------------- loading


def load_cell(source: str | Path | Mapping, base_dir: Path | None = None) -> CellDescription:
    """A cell description from a YAML file (path), YAML text (a string with a newline) or a
    dict of the same keys. ``morphology:`` is resolved relative to the YAML file, or to
    ``base_dir`` (default: the working directory) for a dict or text."""
    import yaml

    if isinstance(source, Mapping):
        data, origin = dict(source), None
    elif isinstance(source, (str, Path)):
        text_given = isinstance(source, str) and "\n" in source
        if text_given:
            text, origin = source, None
        else:
            path = Path(source).expanduser()
            if not path.is_file():
                raise CellError(f"{source}: no such cell file; allowed: a YAML file")
            text, origin = path.read_text(), path
            base_dir = base_dir or path.resolve().parent
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = f"{origin}: " if origin else ""
            raise CellError(f"{where}YAML error: {' '.join(str(exc).split())}") from None
        if not isinstance(data, Mapping):
            raise CellError(f"{origin or 'cell'}: {type(data).__name__} at the top; allowed: a "
                            "mapping of name, sections, mechanisms, ...")
    else:
        raise CellError(f"cell source {source!r}; allowed: a YAML path, YAML text or a dict")
    try:
        return _from_dict(dict(data), Path(base_dir) if base_dir else Path.cwd())
    except CellError as exc:
        if origin is None:
            raise
        raise CellError(f"{origin}: {exc}") from None


def _from_dict(data: dict, base_dir: Path) -> CellDescription:
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise CellError(f"unknown key {unknown[0]!r}; allowed: {', '.join(_TOP_KEYS)}")
    name = data.get("name", "cell")
    if "sections" in data and "morphology" in data:
        raise CellError("both sections: and morphology: given; allowed: one of them")
    if "sections" in data:
        if "nseg_per_um" in data:
            raise CellError("nseg_per_um with sections:; allowed: nseg per section "
                            "(nseg_per_um applies to morphology:)")
        sections = _sections_from(data["sections"])
    elif "morphology" in data:
        sections = _sections_from_swc(data["morphology"], data.get("nseg_per_um"), base_dir)
    else:
        raise CellError("no sections: and no morphology:; allowed: one of them")
    cell = {k: data[k] for k in CELL_ATTRS if k in data}
    sections = _order({n: _check_section(s) for n, s in sections.items()})
    groups = data.get("groups") or {}
    probe = CellDescription(str(name), **cell, sections=sections, groups=groups)  # the tree
    mechs = _by_section(probe, data.get("mechanisms") or {}, "mechanisms", _merge_mechs)
    ions_raw = _by_section(probe, data.get("ions") or {}, "ions", _merge_flat)
    for n, s in data["sections"].items() if "sections" in data else ():
        extra = {k: v for k, v in (s or {}).items() if k in ION_DEFAULTS}
        if extra:
            ions_raw.setdefault(n, {}).update(extra)
    channels = _channels_from(data.get("channels"), base_dir)
    table = {**MECHANISMS, **channels}
    mechanisms = {s: {m: _mech_params(s, m, p, table) for m, p in ms.items()}
                  for s, ms in mechs.items()}  # fmt: skip
    return CellDescription(
        str(name), **cell, sections=sections, mechanisms=mechanisms, ions=ions_raw,
        parameters=data.get("parameters") or {}, channels=channels, groups=groups,
    )  # fmt: skip


def _channels_from(raw, base_dir: Path) -> dict[str, Mechanism]:
    """``channels:``: NAME -> an inline declaration or the path of a YAML channel file
    (relative to the cell's file)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CellError(f"channels: {raw!r}; allowed: a mapping NAME: DECLARATION or NAME: "
                        "FILE.yaml")  # fmt: skip
    out = {}
    for name, decl in raw.items():
        name = str(name)
        if name in MECHANISMS:
            raise CellError(f"channel {name!r} has the name of NEURON's built-in {name}; "
                            f"allowed: another name than {', '.join(MECHANISMS)}")
        out[name] = load_channel(name, decl, base_dir)
    return out


def _sections_from(raw) -> dict[str, Section]:
    if not isinstance(raw, Mapping) or not raw:
        raise CellError(f"sections: {raw!r}; allowed: a mapping NAME: {{L, diam, nseg, parent, "
                        "parent_x}}")
    out = {}
    for name, spec in raw.items():
        name = str(name)
        if not isinstance(spec, Mapping):
            raise CellError(f"section {name!r}: {spec!r}; allowed: a mapping of "
                            f"{', '.join(_SECTION_KEYS)}")
        bad = [k for k in spec if k not in _SECTION_KEYS]
        if bad:
            raise CellError(f"section {name!r}: unknown key {bad[0]!r}; allowed: "
                            f"{', '.join(_SECTION_KEYS)}")
        for k in ("L", "diam"):
            if k not in spec:
                raise CellError(f"section {name!r} has no {k}; allowed: a number > 0 (um)")
        parent = spec.get("parent")
        out[name] = Section(
            name=name, L=spec["L"], diam=spec["diam"], nseg=spec.get("nseg", 1),
            parent=None if parent is None else str(parent), parent_x=spec.get("parent_x", 1.0),
            Ra=spec.get("Ra"), cm=spec.get("cm"),
        )  # fmt: skip
    return out


def nseg_from_density(L: float, per_um: float) -> int:
    """NEURON's d_lambda-style rule of the description: int(L * per_um), plus 1 if even (odd
    counts keep a node at x = 0.5), at least 1."""
    n = int(L * per_um)
    return n + 1 if n % 2 == 0 else n


def _sections_from_swc(morph, per_um, base_dir: Path) -> dict[str, Section]:
    if not isinstance(morph, (str, Path)):
        raise CellError(f"morphology: {morph!r}; allowed: a path to an SWC file")
    path = Path(morph).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise CellError(f"morphology: {morph}: no such file ({path}); allowed: an SWC file")
    from neuroscape.models.multicomp.swc import read_swc  # H2's reader: imported when needed

    secs = read_swc(path)
    if per_um is not None:
        d = _num(per_um, "nseg_per_um", "1/um", 0.0, strict=True)
        secs = {n: replace(s, nseg=nseg_from_density(s.L, d)) for n, s in secs.items()}
    return dict(secs)


def _merge_mechs(old: dict, new, where: str) -> dict:
    if new is None:
        return old
    if not isinstance(new, Mapping):
        raise CellError(f"{where}: {new!r}; allowed: a mapping MECH: {{PARAM: VALUE}}")
    out = {m: dict(p) for m, p in old.items()}
    for m, p in new.items():
        if p is not None and not isinstance(p, Mapping):
            raise CellError(f"{where}: {m}: {p!r}; allowed: a mapping PARAM: VALUE")
        out.setdefault(str(m), {}).update(dict(p or {}))
    return out


def _merge_flat(old: dict, new, where: str) -> dict:
    if not isinstance(new, Mapping):
        raise CellError(f"{where}: {new!r}; allowed: a mapping such as {{ena: 50, ek: -77}}")
    return {**old, **dict(new)}


def _by_section(cell: CellDescription, raw, what: str, merge) -> dict:
    """A per-key mapping (section, group, SWC type or 'all') resolved to sections: 'all' first,
    then groups and types, then single sections, each later one overriding the earlier."""
    if not isinstance(raw, Mapping):
        raise CellError(f"{what}: {raw!r}; allowed: a mapping SECTION|TYPE|all: ...")
    rank = {ALL: 0, **{t: 1 for t in SWC_TYPES}, **{g: 1 for g in cell.groups}}
    keys = sorted(raw, key=lambda k: 2 if str(k) in cell.sections else rank.get(str(k), 2))
    out: dict = {}
    for key in keys:
        k = str(key)
        if k not in cell.sections and k not in SWC_TYPES and k != ALL and k not in cell.groups:
            groups = "".join(f", {g}" for g in cell.groups)
            raise CellError(
                f"{what}: {k!r} is not a section, a group or an SWC type; allowed: "
                f"{cell._names()}{groups}, {', '.join(SWC_TYPES)}, {ALL}"
            )
        for s in cell.sections_of(k):
            out[s] = merge(out.get(s, {}), raw[key], f"{what}: {k}")
    return out
