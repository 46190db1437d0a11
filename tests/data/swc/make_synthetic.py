"""Writes synthetic_branched.swc (run once; the file is committed): a made-up pyramidal-like cell
with NeuroMorpho.org's three-point soma, three basal dendrites that branch, an axon with a
collateral and an apical trunk with obliques and a branching tuft. Diameters taper along each
branch; the points wander a little off straight lines so that the path lengths are not round.
"""

from pathlib import Path

import numpy as np

rows: list[tuple[int, int, float, float, float, float, int]] = []


def add(t: int, xyz, r: float, parent: int) -> int:
    rows.append((len(rows) + 1, t, *(round(float(v), 3) for v in xyz), round(r, 4), parent))
    return len(rows)


def branch(t, parent, start, direction, n, step, r0, r1, wobble, phase):
    """n points from start along direction (unit), radius r0 -> r1; returns the point ids."""
    direction = np.asarray(direction, float) / np.linalg.norm(direction)
    side = np.cross(direction, [0.0, 0.0, 1.0])
    if np.linalg.norm(side) < 1e-9:
        side = np.array([1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    ids, p = [], parent
    for k in range(n):
        s = (k + 1) * step
        pos = (
            np.asarray(start, float)
            + s * direction
            + wobble * np.sin(0.7 * k + phase) * side
            + 0.5 * wobble * np.cos(0.45 * k + 2 * phase) * np.array([0.0, 0.0, 1.0])
        )
        p = add(t, pos, r0 + (r1 - r0) * k / max(n - 1, 1), p)
        ids.append(p)
    return ids


def pos(i):
    return np.array(rows[i - 1][2:5])


R = 8.5
soma = add(1, (0, 0, 0), R, -1)
add(1, (0, -R, 0), R, soma)
add(1, (0, R, 0), R, soma)

# apical trunk (+y) with two obliques and a tuft
trunk = branch(4, soma, (0, R, 0), (0.05, 1, 0), 24, 10.0, 1.9, 1.1, 1.2, 0.3)
branch(4, trunk[5], pos(trunk[5]), (1, 0.6, 0.2), 9, 9.0, 0.7, 0.35, 0.8, 1.1)
branch(4, trunk[13], pos(trunk[13]), (-1, 0.7, -0.3), 8, 10.0, 0.6, 0.3, 0.8, 2.0)
t1 = branch(4, trunk[-1], pos(trunk[-1]), (0.8, 1, 0.1), 10, 9.5, 0.9, 0.5, 1.0, 0.5)
branch(4, trunk[-1], pos(trunk[-1]), (-0.7, 1, -0.2), 11, 9.0, 0.85, 0.45, 1.0, 1.7)
branch(4, t1[-1], pos(t1[-1]), (0.3, 1, 0.4), 7, 8.0, 0.45, 0.3, 0.6, 0.9)
branch(4, t1[-1], pos(t1[-1]), (1, 0.4, -0.3), 6, 8.0, 0.45, 0.3, 0.6, 2.4)

# basal dendrites from the soma centre, each forking once or twice
for j, (ang, zdir) in enumerate(((-150, 0.2), (-35, -0.3), (200, 0.5))):
    a = np.deg2rad(ang)
    u = np.array([np.cos(a), np.sin(a), zdir])
    start = R * u / np.linalg.norm(u)
    stem = branch(3, soma, start, u, 6, 8.0, 1.3 - 0.1 * j, 1.0, 0.7, j)
    rot = np.array([[0.8, -0.6, 0], [0.6, 0.8, 0], [0, 0, 1.0]])
    c1 = branch(3, stem[-1], pos(stem[-1]), rot @ u, 8, 9.0, 0.7, 0.4, 0.9, j + 0.5)
    branch(3, stem[-1], pos(stem[-1]), rot.T @ u, 7, 9.0, 0.65, 0.35, 0.9, j + 1.5)
    if j != 1:
        v = rot @ (rot @ u)
        branch(3, c1[-1], pos(c1[-1]), v, 5, 8.0, 0.4, 0.25, 0.5, j + 2.5)
        branch(3, c1[-1], pos(c1[-1]), rot.T @ (rot @ u) + [0, 0, 0.3], 6, 8.0, 0.38, 0.25, 0.5, j)

# axon (-y): a thick initial part, then thin, with one collateral
ax = branch(2, soma, (0, -R, 0), (0.02, -1, 0.05), 32, 10.0, 0.75, 0.45, 0.6, 0.2)
branch(2, ax[11], pos(ax[11]), (1, -0.5, 0), 9, 10.0, 0.35, 0.25, 0.8, 0.7)

out = Path(__file__).with_name("synthetic_branched.swc")
with out.open("w") as f:
    f.write("# synthetic branched cell for neuroscape's tests (written by make_synthetic.py)\n")
    f.write("# id type x y z radius parent; three-point soma (NeuroMorpho.org convention)\n")
    for r in rows:
        f.write(f"{r[0]} {r[1]} {r[2]:.3f} {r[3]:.3f} {r[4]:.3f} {r[5]:.4f} {r[6]}\n")
print(out, len(rows), "points")
