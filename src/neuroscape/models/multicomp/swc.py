"""SWC morphologies read into sections the way NEURON's Import3d does it (Hines & Carnevale's
``import3d`` tool: ``Import3d_SWC_read`` then ``Import3d_GUI.instantiate``), so that a cell
read here and the same file imported into NEURON have the same sections, names, connections and
3-D points (``tests/multicomp/test_vs_neuron_swc.py`` checks this against NEURON itself).

The rules, in Import3d's order (its hoc code is the specification; no library reproduces them
without running NEURON, so they are ported here by hand, one function per Import3d procedure):

- Points are ``id type x y z radius parent`` lines; ``#`` lines are comments, blank lines are
  skipped. The diameter is twice the radius. Ids must increase down the file and each parent id
  must be an earlier point: Import3d needs that order (its re-sort of other orders fails).
- Sections are unbranched runs of points of one type. A point ends a section where it has more
  than one child, no child, or a child of another type. A run of soma points stays one section
  unless a soma point has more than one soma child (then the soma branches like a dendrite).
- The three-point soma of NeuroMorpho.org (a root point and two children of it with the root's
  diameter, no children of their own, lying a diameter apart in all) is a sphere: the soma is
  the root point alone, drawn as a cylinder with L = diam along x (area pi d^2, the sphere's).
  A one-point soma is drawn the same way.
- A child section's first 3-D point is a copy of its parent point; where a non-soma section
  leaves the soma, that copy takes the diameter of the child's own first point. A section
  leaving a one-point (or three-point) soma, or the interior of a soma, attaches at soma(0.5)
  and, with more than one point of its own, by a "wire": the copied point is dropped (NEURON's
  pt3dstyle), so the section starts at its own first point. A child of the root's first point
  attaches at 0; every other child at its parent's 1-end. A branch off the first point of a
  dendrite that leaves the soma attaches to that dendrite's 0-end.
- One-point child sections and two-point ones of zero length are removed, their children moved
  to their parent.
- Names: per type, in file order, ``soma``, ``axon[i]``, ``dend[i]``, ``apic[i]``. Import3d makes
  arrays (``soma[0]``); a soma that is one section is called ``soma`` here.
- Import3d reads the numbers in single precision (hoc's ``sscanf("%f")``) and computes in
  double precision from them; NEURON stores 3-D points in single precision. The points here
  are those float32 values, and L is the path length NEURON computes from them (at least
  1e-9 um: a section whose points coincide is kept, as in NEURON, with L = 1e-9 um, zero area
  and a near-zero axial resistance).

Refused with one line (``CellError``), where Import3d prints an error or fails: a line that is
not seven numbers, an id or parent that is not a whole number, a duplicate id, ids out of
order, a parent id that is not an earlier point, more than one root, a value that is not
finite. Also refused, though Import3d accepts them: a type code below 1 or above 7 (codes 5-7,
the format's custom ones, become sections ``dend_5[i]``... as in Import3d) and a radius <= 0 (a
zero diameter makes the cable's axial resistance infinite).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroscape.models.multicomp.description import CellError, Section

__all__ = ["read_swc", "SWC_TYPES", "pt3d_length"]

# SWC type code -> NEURON's section array name (Import3d_GUI.type2name)
SWC_TYPES: dict[int, str] = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
# the custom codes of the SWC format (Cannon et al. 1998: 5 fork point, 6 end point, 7 custom;
# NeuroMorpho.org uses them for custom structures): Import3d makes them sections dend_5, ...
MAX_CUSTOM_TYPE = 7


def type_name(code: int) -> str:
    """NEURON's section array name of an SWC type code (Import3d_GUI.type2name)."""
    return SWC_TYPES.get(code, f"dend_{code}")

# hoc compares doubles within float_epsilon (code.cpp, Vector.eq, Vector.indvwhere)
_EPS = 1e-11
_MIN_L = 1e-9  # um: NEURON's shortest section (a section whose points coincide has this L)


def _error(msg: str) -> CellError:
    return CellError(msg)


@dataclass
class _Points:
    """The file's points in file order (Import3d_SWC_read's id, type, x, y, z, d, pid, iline)."""

    id: np.ndarray  # int64
    type: np.ndarray  # int64
    xyz: np.ndarray  # (n, 3) float64
    d: np.ndarray  # diameters (2 x radius), float64
    pid: np.ndarray  # int64, < 0 for the root
    line: np.ndarray  # line numbers (1-based), for messages
    index: dict[int, int]  # id -> row

    def pix(self, i: int) -> int:
        """Row of point i's parent, -1 for the root (Import3d's pix2ix)."""
        p = int(self.pid[i])
        return -1 if p < 0 else self.index[p]


@dataclass
class _I3dSection:
    """Import3d_Section: ``pts`` are point rows (for a child, its parent point first)."""

    id: int
    pts: list[int]
    d: np.ndarray
    type: int = 0
    parent: _I3dSection | None = None
    parentx: float = 1.0
    first: int = 0  # 1: connected by a wire, the copied parent point is not a 3-D point
    nameindex: int = 0


def _parse(path: Path) -> _Points:
    """Import3d_SWC_read.rdfile/parse and check_pid, refusing what Import3d reports."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise _error(f"SWC file {str(path)!r} not found; allowed: an existing .swc file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _error(f"SWC file {str(path)!r} cannot be read as text ({e})") from None
    rows: list[tuple[float, ...]] = []
    lines: list[int] = []
    name = path.name
    for k, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        tok = s.split()
        try:
            vals = tuple(float(t) for t in tok[:7])
        except ValueError:
            bad = next(t for t in tok[:7] if not _is_float(t))
            raise _error(
                f"{name} line {k}: {bad!r} is not a number; allowed: seven numbers "
                "'id type x y z radius parent' (or a '#' comment)"
            ) from None
        if len(vals) < 7:
            raise _error(
                f"{name} line {k}: {len(vals)} values {s!r}; allowed: seven numbers "
                "'id type x y z radius parent' (or a '#' comment)"
            )
        if not all(np.isfinite(vals)):
            raise _error(f"{name} line {k}: a value that is not finite in {s!r}; allowed: finite")
        for col, what in ((0, "id"), (1, "type"), (6, "parent id")):
            if vals[col] != int(vals[col]):
                raise _error(
                    f"{name} line {k}: {what} {tok[col]} is not a whole number; allowed: integers"
                )
        rows.append(vals)
        lines.append(k)
    if not rows:
        raise _error(f"{name}: no points; allowed: an SWC file with at least one point line")
    a = np.array(rows, dtype=float)
    ids = a[:, 0].astype(np.int64)
    types = a[:, 1].astype(np.int64)
    pid = a[:, 6].astype(np.int64)
    line = np.array(lines, dtype=np.int64)
    for i in range(len(ids)):
        if ids[i] < 0:
            raise _error(f"{name} line {line[i]}: id {ids[i]} < 0; allowed: ids >= 0")
        if not 1 <= types[i] <= MAX_CUSTOM_TYPE:
            raise _error(
                f"{name} line {line[i]}: type {types[i]}; allowed: 1 soma, 2 axon, 3 dend, "
                f"4 apic, 5-{MAX_CUSTOM_TYPE} custom (NEURON's Import3d names them dend_5...)"
            )
        if a[i, 5] <= 0:
            raise _error(
                f"{name} line {line[i]}: radius {a[i, 5]:g} um; allowed: > 0 um (a zero "
                "diameter makes the axial resistance infinite)"
            )
    index: dict[int, int] = {}
    for i, v in enumerate(ids.tolist()):
        if v in index:
            raise _error(
                f"{name} lines {line[index[v]]} and {line[i]}: duplicate id {v}; allowed: "
                "each id once"
            )
        index[v] = i
        if i > 0 and v < ids[i - 1]:
            raise _error(
                f"{name} line {line[i]}: id {v} after id {ids[i - 1]}; allowed: ids in "
                "increasing order down the file (as NEURON's Import3d needs)"
            )
    roots = [i for i in range(len(ids)) if pid[i] < 0]
    for i in range(len(ids)):
        p = int(pid[i])
        if p >= 0 and p not in index:
            raise _error(
                f"{name} line {line[i]}: parent id {p} of point {ids[i]} is missing; allowed: "
                "the id of a point in the file, or -1 for the root"
            )
        if p >= ids[i]:
            raise _error(
                f"{name} line {line[i]}: parent id {p} of point {ids[i]} is not an earlier "
                "point; allowed: a parent id < the point's id (as NEURON's Import3d needs)"
            )
    if len(roots) > 1:
        raise _error(
            f"{name} lines {line[roots[0]]} and {line[roots[1]]}: more than one root "
            f"(points {ids[roots[0]]} and {ids[roots[1]]} have parent -1); allowed: one tree"
        )
    # Import3d reads the numbers with hoc's sscanf("%f"): single precision, kept in doubles
    a32 = a.astype(np.float32).astype(np.float64)
    xyz = a32[:, 2:5].copy()
    d = a32[:, 5] * 2.0  # radius -> diameter
    return _Points(ids, types, xyz, d, pid, line, index)


def _is_float(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return False
    return True


def _mark_branch(p: _Points) -> tuple[np.ndarray, np.ndarray]:
    """Import3d_SWC_read.mark_branch: children per point (+.01 for a non-contiguous child or a
    change of type, which ends a section) and connect2prox (branches off the first point of a
    dendrite that leaves the soma, attached to that dendrite's 0-end)."""
    n = len(p.id)
    nchild = np.zeros(n)
    connect2prox = np.zeros(n, dtype=bool)
    for i in range(n):
        q = p.pix(i)
        if q < 0:
            continue
        nchild[q] += 1
        if q != i - 1:
            nchild[q] += 0.01
            if q > 1:
                if p.type[q] != 1 and p.type[p.pix(q)] == 1:
                    connect2prox[i] = True
                    nchild[q] = 1
            elif q == 0 and p.type[q] != 1:
                connect2prox[i] = True
                nchild[q] = 1
        if p.type[q] != p.type[i]:
            nchild[q] += 0.01
    return nchild, connect2prox


def _neuromorph_3point_soma(p: _Points, nchild: np.ndarray) -> bool:
    """Import3d_SWC_read.neuromorph_3point_soma: NeuroMorpho.org's three-point soma (points 1
    and 2 children of the root with no children, all three of one diameter, 1 diameter long in
    all) is a sphere. As Import3d does, point 2 is then made a child of point 1."""
    if len(p.id) < 3 or p.pix(1) != 0 or p.pix(2) != 0:
        return False
    if nchild[1] != 0 or nchild[2] != 0:
        return False
    d0 = p.d[0]
    if abs(p.d[1] - d0) > _EPS or abs(p.d[2] - d0) > _EPS:
        return False
    length = sum(float(np.sqrt(((p.xyz[i] - p.xyz[0]) ** 2).sum())) for i in (1, 2))
    if not abs(length / d0 - 1) < 0.01 - _EPS:
        return False
    p.pid[2] = p.id[1]  # not two soma sections
    return True


def _sectionify(p: _Points) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Import3d_SWC_read.sectionify: point -> section index (point2sec)."""
    n = len(p.id)
    nchild, connect2prox = _mark_branch(p)
    nchild_soma = np.zeros(n)
    nsoma = int(p.type[0] == 1)
    for i in range(1, n):
        if p.type[i] == 1:
            nsoma += 1
            q = p.pix(i)
            if q >= 0 and p.type[q] == 1:
                nchild_soma[q] += 1
    soma3geom = _neuromorph_3point_soma(p, nchild) if nsoma == 3 else False
    for i in range(n - 1):
        # adjacent soma parent and child: the parent does not end a section unless it has
        # more than one soma child (a branched soma)
        if p.type[i] == 1 and p.type[i + 1] == 1 and p.pix(i + 1) == i:
            if not (i != 0 and nchild_soma[i] > 1 + _EPS):
                nchild[i] = 1
    ends = np.flatnonzero(np.abs(nchild - 1) >= _EPS)  # last point of each section
    point2sec = np.zeros(n, dtype=np.int64)
    si = 0
    for i in range(1, n):
        if i > ends[si]:
            si += 1
        point2sec[i] = si
    return point2sec, nchild_soma, connect2prox, soma3geom


def _mksections(p: _Points) -> list[_I3dSection]:
    """Import3d_SWC_read.mksections/mksection: sections, parents, parentx, wires."""
    point2sec, nchild_soma, connect2prox, soma3geom = _sectionify(p)
    n = len(p.id)
    sections: list[_I3dSection] = []

    def mksection(isec: int, first: int, i: int) -> None:
        if isec == 0:  # the root: no copied parent point
            if soma3geom:
                i = 1  # the sphere: the root point alone
            pts = list(range(first, i))
            sec = _I3dSection(first, pts, p.d[pts].copy())
        else:
            pf = p.pix(first)
            pts = [pf, *range(first, i)]
            sec = _I3dSection(first, pts, p.d[pts].copy())
            psec = sections[point2sec[pf]]
            sec.parent = psec
            den_con_soma = psec.type == 1 and p.type[first] != 1
            con_soma = psec.type == 1
            handled = False
            if psec is sections[0]:
                handled = True
                if den_con_soma and len(psec.d) == 1:  # one-point soma: wire to soma(0.5)
                    sec.parentx = 0.5
                    if i - first > 1:
                        sec.first = 1
                elif pf == psec.id:  # the root's first point
                    sec.parentx = 0.0
                    if p.type[first] != 1 and nchild_soma[pf] > 1 + _EPS:
                        sec.first = 1
                else:
                    handled = False
            if not handled and con_soma:
                offset = -1 if psec.id == 0 else -2
                if pf < psec.id + len(psec.d) + offset:  # interior point of a soma: at 0.5
                    sec.parentx = 0.5
                    if den_con_soma and i - first > 1:
                        sec.first = 1
                elif i - first > 1 and nchild_soma[pf] > 1 + _EPS and p.type[first] != 1:
                    sec.first = 1
        sec.type = int(p.type[first])
        sections.append(sec)
        if sec.parent is not None:
            if sec.parent.type == 1 and sec.type != 1:
                sec.d[0] = sec.d[1]  # a dendrite leaving the soma starts at its own diameter
            if connect2prox[first]:
                sec.parentx = 0.0
        return None

    isec = 0
    first = 0
    for i in range(n):
        if point2sec[i] > isec:
            mksection(isec, first, i)
            isec += 1
            first = i
    mksection(isec, first, n)
    return sections


def _chk_valid(p: _Points, sections: list[_I3dSection]) -> None:
    """Import3d_GUI.chk_valid/rm0len: one-point child sections and two-point ones of zero
    length are removed; their children are moved to their parent (at its parentx)."""
    for k in range(len(sections) - 1, -1, -1):
        sec = sections[k]
        if sec.parent is None:
            continue
        npt = len(sec.pts) - sec.first
        remove = npt <= 1
        if not remove and npt <= 2:
            a, b = p.xyz[sec.pts[sec.first]], p.xyz[sec.pts[sec.first + 1]]
            remove = bool(np.all(np.abs(a - b) < _EPS))
        if remove:
            del sections[k]
            for other in sections[k:]:
                if other.parent is sec:
                    other.parent = sec.parent
                    other.parentx = sec.parentx


def _import3d(path: Path) -> tuple[list[_I3dSection], _Points]:
    p = _parse(path)
    sections = _mksections(p)
    _chk_valid(p, sections)
    counts: dict[int, int] = {}
    for sec in sections:  # Import3d_GUI.set_nameindex: file order within each type
        sec.nameindex = counts.get(sec.type, 0)
        counts[sec.type] = sec.nameindex + 1
    return sections, p


def _pt3d(p: _Points, sec: _I3dSection) -> np.ndarray:
    """The section's 3-D points as NEURON stores them (Import3d_GUI.instantiate, sphere_rep):
    float32 x, y, z, diam (returned as float64 holding those float32 values)."""
    rows = sec.pts[sec.first :]
    xyz = p.xyz[rows].copy()
    d = sec.d[sec.first :].copy()
    if len(rows) == 1:  # a sphere drawn as a cylinder of L = diam along x
        xyz = np.repeat(xyz, 3, axis=0)
        d = np.repeat(d, 3)
        xyz[0, 0] -= d[0] / 2
        xyz[2, 0] += d[0] / 2
    return np.column_stack([xyz, d]).astype(np.float32).astype(np.float64)


def pt3d_length(pt3d: np.ndarray) -> float:
    """Path length (um) of 3-D points as NEURON computes it (treeset.cpp nrn_pt3dmodified):
    differences of the single-precision coordinates taken in single precision, summed in
    double precision, in order; at least 1e-9 um, as NEURON's section_length makes it."""
    xyz = np.asarray(pt3d, dtype=np.float32)[:, :3]
    step = np.diff(xyz, axis=0).astype(np.float64)  # float32 - float32, as in C
    if len(xyz) < 2:
        return _MIN_L
    # the arc accumulated point by point (cumsum adds in order; sum() adds pairwise)
    arc = float(np.cumsum(np.sqrt((step * step).sum(axis=1)))[-1])
    return max(arc, _MIN_L)  # cabcode.cpp section_length: L <= 1e-9 um becomes 1e-9 um


def _mean_diam(pt3d: np.ndarray) -> float:
    """Length-weighted mean diameter of the frusta (informative: NEURON uses the points)."""
    seg = np.sqrt((np.diff(pt3d[:, :3], axis=0) ** 2).sum(axis=1))
    if seg.sum() <= 0:
        return float(pt3d[:, 3].mean())
    return float((seg * (pt3d[1:, 3] + pt3d[:-1, 3]) / 2).sum() / seg.sum())


def read_swc(path: str | Path) -> dict[str, Section]:
    """Sections of the SWC file at ``path`` as NEURON's Import3d makes them (see the module
    docstring for the rules), ordered parent before child, the root (the soma) first.

    Each section has its 3-D points ``pt3d`` (K, 4: x, y, z, diam in um, NEURON's single
    precision values), ``L`` their path length (um), ``diam`` their length-weighted mean
    diameter (um, informative), ``parent``/``parent_x`` as Import3d connects it, ``swc_type``
    ('soma', 'axon', 'dend', 'apic') and ``nseg`` 1 (``load_cell`` applies ``nseg_per_um``).
    Bad input raises ``CellError`` with one line naming the file, line and value."""
    path = Path(path)
    sections, p = _import3d(path)
    nsoma = sum(1 for s in sections if s.type == 1)

    def name(sec: _I3dSection) -> str:
        base = type_name(sec.type)
        if sec.type == 1 and nsoma == 1:
            return base
        return f"{base}[{sec.nameindex}]"

    out: dict[str, Section] = {}
    for sec in sections:
        pts = _pt3d(p, sec)
        length = pt3d_length(pts)
        out[name(sec)] = Section(
            name=name(sec),
            L=length,
            diam=_mean_diam(pts),
            nseg=1,
            parent=None if sec.parent is None else name(sec.parent),
            parent_x=1.0 if sec.parent is None else float(sec.parentx),
            pt3d=pts,
            swc_type=type_name(sec.type),
        )
    return out
