"""NEURON's discretisation of a cell into nodes (Hines 1984; Carnevale & Hines, The NEURON Book,
2006, ch. 5), reproduced exactly so that a cell here and in NEURON solve the same equations.

A section of nseg segments has a node at each segment's centre, x = (j + 0.5)/nseg, with the
segment's membrane area, and a node of zero area at its 1-end; its 0-end is the node of its
parent that NEURON uses for parent_x (the parent's 0-end node at 0, its 1-end node at 1, else the
centre of the segment containing parent_x). The root section's 0-end is a zero-area root node.
The axial conductance between a segment's node and its parent node is that of the segment's left
half (plus the right half of the previous segment of the same section): a child's first half
segment connects straight to the parent's node. For a cylinder, area = pi diam L/nseg and a half
segment's resistance is Ra (L/2nseg) / (pi diam^2/4); for a section with 3-D points the area and
resistance are integrated over the frusta between the points as NEURON's ``diam_from_list``
(treeset.cpp) does, over each half segment of the points' path length, from the points held in
single precision as NEURON holds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuroscape.models.multicomp.description import (
    CellDescription,
    CellError,
    check_values,
)

PI = 3.14159265358979323846  # NEURON's PI (treeset.cpp)
# NEURON's tolerance for a 3-D section whose L no longer matches its points (nrn_diam_change)
LENGTH_TOL_UM = 1e-3


@dataclass(frozen=True)
class Discretization:
    """The nodes of a cell (B rows of geometry on one topology)."""

    parent: np.ndarray  # (N,) int64, -1 for the root node; Hines order: parent[i] < i
    area_um2: np.ndarray  # (B, N) membrane area per node (0 for NEURON's zero-area end nodes)
    g_axial_uS: np.ndarray  # (B, N) conductance between node i and parent[i] (0 for the root)
    cm: np.ndarray  # (B, N) uF/cm2
    node_section: np.ndarray  # (N,) index into section_names (-1 for none)
    node_x: np.ndarray  # (N,) position of the node in its section (0..1)
    section_names: tuple[str, ...]
    first_node: np.ndarray  # (n_sections,) index of each section's first segment node
    nseg: np.ndarray  # (n_sections,) segments per section
    attach: np.ndarray  # (n_sections,) the node each section's 0-end is (its parent node)

    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    @property
    def rows(self) -> int:
        return self.area_um2.shape[0]

    def node(self, section: str, x: float) -> int:
        """NEURON's node for SECTION(x) (node_exact): the section's parent node at x = 0, its
        zero-area end node at x = 1, else the centre node of the segment containing x."""
        try:
            k = self.section_names.index(section)
        except ValueError:
            names = ", ".join(self.section_names[:8])
            k = len(self.section_names)
            more = f" ... ({k} sections)" if k > 8 else ""
            raise CellError(f"location {section}({x}): no section {section!r}; allowed: "
                            f"{names}{more}") from None  # fmt: skip
        xf = float(x) if not isinstance(x, bool) else math.nan
        if not (0.0 <= xf <= 1.0):
            raise CellError(f"location {section}({x}): x={x!r} is outside [0, 1]; allowed: "
                            "0 <= x <= 1")
        n = int(self.nseg[k])
        if xf == 0.0:
            return int(self.attach[k])
        if xf == 1.0:
            return int(self.first_node[k]) + n
        i = int(n * xf)  # NEURON's node_index: truncation, the last segment for x*n == n
        if i == n:
            i = n - 1
        return int(self.first_node[k]) + i


def section_index(cell: CellDescription, name: str) -> int:
    return list(cell.sections).index(name)


def _pt3d_arc(pt3d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(arc lengths, |diameters|) as NEURON computes them from its single-precision points
    (nrn_pt3dmodified: float differences, a double sum)."""
    p = np.asarray(pt3d, dtype=np.float32)
    step = np.diff(p[:, :3], axis=0).astype(np.float64)  # float - float in C: float
    seg = np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1] + step[:, 2] * step[:, 2])
    arc = np.zeros(len(p))
    for i in range(1, len(p)):  # the running double sum, in NEURON's order
        arc[i] = arc[i - 1] + seg[i - 1]
    return arc, np.abs(p[:, 3].astype(np.float64))


def pt3d_segments(arc: np.ndarray, d: np.ndarray, nseg: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """NEURON's ``diam_from_list`` over a section's nseg segments (hand-ported: no library
    computes NEURON's exact quadrature): (area in um2, the left and right half-segment sums of
    delta/(d1 d2) in 1/um, which times 4 Ra/pi 1e-2 give Mohm), integrating over the frusta
    between points at arc lengths ``arc`` with diameters ``d``, the points' diameters
    interpolated linearly at the half-segment boundaries (extrapolated past the last point)."""
    npt = len(arc)
    j = 0
    x1, y1 = arc[0], d[0]
    ds = arc[npt - 1] / float(nseg)
    area = np.zeros(nseg)
    rl = np.zeros(nseg)
    rr = np.zeros(nseg)
    for inode in range(nseg):
        si = inode * ds
        a = 0.0
        for ihalf in range(2):
            ri = 0.0
            sip = si + ds / 2.0
            while True:
                jp = j + 1
                xj, xjp = arc[j], arc[jp]
                if xjp > sip or jp == npt - 1:
                    frac = 1.0 if abs(xjp - xj) < 1e-10 else (sip - xj) / (xjp - xj)
                    x2 = sip
                    y2 = (1.0 - frac) * d[j] + frac * d[jp]
                    jnext = j
                else:
                    x2, y2, jnext = xjp, d[jp], jp
                delta = x2 - x1
                if delta < 1e-15:
                    delta = 1e-15
                temp = y2 * y1 / delta
                if temp == 0:
                    temp = 1e-15
                ri += 1.0 / temp
                temp = 0.5 * (y2 - y1)
                temp = math.sqrt(delta * delta + temp * temp)
                a += (y2 + y1) * temp
                x1, y1 = x2, y2
                if j == jnext:
                    break
                j = jnext
            if ihalf == 0:
                rl[inode] = ri
            else:
                rr[inode] = ri
            si = sip
        area[inode] = a * 0.5 * PI
    return area, rl, rr


def _row_values(cell: CellDescription, values: dict[str, np.ndarray] | None
                ) -> tuple[int, dict[str, np.ndarray]]:  # fmt: skip
    """(B, {address: (B,) array}) with every address checked and B the common row count."""
    if not values:
        return 1, {}
    arrs = {a: check_values(cell, a, v) for a, v in values.items()}
    sizes = {len(v) for v in arrs.values()} - {1}
    if len(sizes) > 1:
        desc = ", ".join(f"{a}: {len(v)}" for a, v in arrs.items())
        raise CellError(f"values have different numbers of rows ({desc}); allowed: 1 or one "
                        "common count")
    b = sizes.pop() if sizes else 1
    return b, {a: np.broadcast_to(v, (b,)) for a, v in arrs.items()}


def section_values(cell: CellDescription, vals: dict[str, np.ndarray], b: int
                   ) -> dict[str, dict[str, np.ndarray]]:  # fmt: skip
    """Per section: L, diam, Ra, cm as (B,) arrays (the cell's values, then the overrides in the
    order given; a cell-level Ra or cm applies to sections without their own)."""
    cell_ra = np.full(b, cell.Ra)
    cell_cm = np.full(b, cell.cm)
    for a, v in vals.items():
        if a == "Ra":
            cell_ra = np.array(v, dtype=float)
        elif a == "cm":
            cell_cm = np.array(v, dtype=float)
    out = {}
    for name, s in cell.sections.items():
        out[name] = {
            "L": np.full(b, s.L), "diam": np.full(b, s.diam),
            "Ra": cell_ra.copy() if s.Ra is None else np.full(b, s.Ra),
            "cm": cell_cm.copy() if s.cm is None else np.full(b, s.cm),
        }  # fmt: skip
    for a, v in vals.items():
        for t in cell.targets(a):
            if t[0] == "section":
                out[t[1]][t[2]] = np.array(v, dtype=float)
    return out


def discretize(
    cell: CellDescription, values: dict[str, np.ndarray] | None = None
) -> Discretization:
    """The nodes of ``cell`` as NEURON makes them; ``values``: per-row overrides (B rows) of
    addresses (L, diam, Ra, cm of sections; Ra, cm of the cell; others are ignored here), so
    that B cells differ in geometry on one topology."""
    b, vals = _row_values(cell, values)
    per = section_values(cell, vals, b)
    names = tuple(cell.sections)
    n_nodes = 1 + sum(s.nseg + 1 for s in cell.sections.values())
    parent = np.full(n_nodes, -1, dtype=np.int64)
    area = np.zeros((b, n_nodes))
    gax = np.zeros((b, n_nodes))
    cmn = np.zeros((b, n_nodes))
    node_section = np.zeros(n_nodes, dtype=np.int64)
    node_x = np.zeros(n_nodes)
    first = np.zeros(len(names), dtype=np.int64)
    nseg = np.array([s.nseg for s in cell.sections.values()], dtype=np.int64)
    attach = np.zeros(len(names), dtype=np.int64)
    partial = Discretization(parent, area, gax, cmn, node_section, node_x, names, first, nseg,
                             attach)  # fmt: skip
    nxt = 1
    for k, (name, s) in enumerate(cell.sections.items()):
        n = s.nseg
        first[k] = nxt
        attach[k] = 0 if s.parent is None else partial.node(s.parent, s.parent_x)
        idx = np.arange(nxt, nxt + n + 1)
        parent[idx[0]] = attach[k]
        parent[idx[1:]] = idx[:-1]
        node_section[idx] = k
        node_x[idx[:-1]] = (np.arange(n) + 0.5) / n
        node_x[idx[-1]] = 1.0
        g = per[name]
        cmn[:, idx] = g["cm"][:, None]
        diam_set = any(t[:3] == ("section", name, "diam") for a in vals for t in cell.targets(a))
        seg_area, rleft, rright = _section_rows(s, g, b, diam_set)
        area[:, idx[:-1]] = seg_area
        # NODERINV: 1/(right half of the previous segment + left half of this one); the first
        # segment's left half alone; the 1-end node: the last segment's right half
        prev = np.concatenate([np.zeros((b, 1)), rright[:, :-1]], axis=1)
        gax[:, idx[:-1]] = 1.0 / (rleft + prev)
        gax[:, idx[-1]] = 1.0 / rright[:, -1]
        nxt += n + 1
    return partial


def _section_rows(s, g: dict[str, np.ndarray], b: int, diam_set: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(area, left and right half-segment resistances in Mohm), each (B, nseg). ``diam_set``:
    the rows give the diam of a 3-D section, which every point then takes."""
    n = s.nseg
    ra = g["Ra"]
    if s.pt3d is None:
        dx = g["L"] / float(n)
        diam = g["diam"]
        seg_area = PI * diam * dx  # NEURON's arithmetic, in its order
        rhalf = 1e-2 * ra * (dx / 2) / (PI * diam * diam / 4.0)
        rep = np.repeat(rhalf[:, None], n, axis=1)
        return np.repeat(seg_area[:, None], n, axis=1), rep, rep.copy()
    arc0, d0 = _pt3d_arc(s.pt3d)
    seg_area = np.zeros((b, n))
    rl = np.zeros((b, n))
    rr = np.zeros((b, n))
    key = np.stack([g["L"], g["diam"]], axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    for u, (L, diam) in enumerate(uniq):
        arc, d = arc0, d0
        if abs(L - arc0[-1]) > LENGTH_TOL_UM and arc0[-1] > 0:
            arc = arc0 * (L / arc0[-1])  # nrn_length_change
        if diam_set:  # nrn_diam_change: every point takes the segments' new diameter
            d = np.full_like(d0, abs(float(np.float32(diam))))
        a, l_sum, r_sum = pt3d_segments(arc, d, n)
        rows = inv.ravel() == u
        seg_area[rows] = a
        rl[rows] = l_sum
        rr[rows] = r_sum
    ra = ra[:, None]
    return seg_area, rl * ra / PI * (4.0 * 0.01), rr * ra / PI * (4.0 * 0.01)  # NEURON's order
