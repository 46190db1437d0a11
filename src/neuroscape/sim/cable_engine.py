"""The cable equation of multi-compartment cells, batched over rows of values on one morphology,
solved as NEURON's fixed step solves it (Hines 1984; Carnevale & Hines, The NEURON Book, 2006,
ch. 4-5).

Each step from t to t + dt (NEURON's ``nrn_fixed_step``): the membrane currents and their
conductances are evaluated at V(t) with the channel states of the step before (the states live
half a step apart from V, Hines 1984), the stimulus at the step's midpoint t + dt/2; the
linearised system (C cj + G) dV = I is solved by the Hines elimination on the tree, with
cj = 1/dt and V(t + dt) = V + dV for backward Euler (NEURON's secondorder 0) or cj = 2/dt and
V(t + dt) = V + 2 dV for Crank-Nicolson (secondorder 2); then each gate takes NEURON's ``cnexp``
step with the new V: x += (1 - exp(-dt/tau(V))) (inf(V) - x). Zero-area nodes at section ends
carry no membrane: their rows are Kirchhoff's law.

The kernel is generated from the cell's mechanisms (``neuroscape.models.multicomp.mechanisms``:
NEURON's hh and pas, and the cell's own channels written as equations), written to the kernel
cache and compiled by numba (``neuroscape.core.codegen``); blocks of rows run on threads
(``core.rows.run_on_threads``), each with its own arrays, so a row's result does not depend on
the batch size or the number of threads. A noisy stimulus draws row r's noise from the stream
(seed, r). Units: V in mV, t in ms, currents in nA, conductances in uS, capacitances in nF.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroscape.core import rng as rng_mod
from neuroscape.core import stimuli as stimuli_mod
from neuroscape.core.rng import row_keys
from neuroscape.core.rows import run_on_threads
from neuroscape.core.settings import SettingsError
from neuroscape.core.stimuli import Stimulus
from neuroscape.models.multicomp.description import CellDescription, CellError
from neuroscape.models.multicomp.geometry import Discretization, _row_values, discretize
from neuroscape.models.multicomp.mechanisms import (
    BUILTINS,
    FUNCTIONS,
    MECHANISMS,
    Mechanism,
    names_in,
)

ROOT = "<root>"  # the root section (the soma of an SWC cell), whatever its name
INTEGRATORS = {"backward_euler": 0, "crank_nicolson": 2}  # NEURON's secondorder
SPIKE_LEVEL_MV = 0.0


@dataclass
class CableResult:
    """V at the recorded locations and the spike times at the root section's middle."""

    t_ms: np.ndarray  # (n_steps // record_every + 1,)
    v: np.ndarray  # (B, n_rec, n_steps // record_every + 1) mV at the recorded locations
    # per row: upward 0-mV crossings at soma(0.5) (the root section's middle), linearly
    # interpolated, ms
    spikes: list[np.ndarray]
    record: list[tuple[str, float]] = field(default_factory=list)  # the recorded locations


# ---------------------------------------------------------------------- kernel generation


class _Rename(ast.NodeTransformer):
    """Renames variables and calls of a mechanism's expressions to the kernel's names
    (``strict``: a call must be one of FUNCTIONS, which become math.*, or the mechanism's own)."""

    def __init__(self, names: dict[str, str], funcs: dict[str, str], strict: bool = True) -> None:
        self.names, self.funcs, self.strict = names, funcs, strict

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names:
            return ast.copy_location(ast.Name(self.names[node.id], node.ctx), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.args = [self.visit(a) for a in node.args]
        if isinstance(node.func, ast.Name):
            f = node.func.id
            if f in self.funcs:
                node.func = ast.Name(self.funcs[f], ast.Load())
            elif f in FUNCTIONS and self.strict:
                node.func = ast.Attribute(ast.Name("math", ast.Load()),
                                          "fabs" if f == "fabs" else f, ast.Load())  # fmt: skip
            elif self.strict and f not in BUILTINS:
                raise CellError(f"function {f}() in a mechanism; allowed: "
                                f"{', '.join(FUNCTIONS + BUILTINS)} and the mechanism's "
                                "own")  # fmt: skip
        return node


class _MechCode:
    """The kernel lines of one mechanism. Its rates that do not depend on v (e.g. q10) are
    computed once per row; its currents whose conductance and reversal depend on neither v nor
    the gates (pas, hh's leak) are folded into per-row constants before the time loop; the
    others are evaluated every step. ``prefix`` names its variables in the kernel (``m{j}_NAME``
    for the j-th mechanism: no name a cell's channel takes can collide with another's)."""

    def __init__(self, mech: Mechanism, prefix: str | None = None) -> None:
        self.m = mech
        p = self.prefix = prefix or mech.name
        self.fnames: dict[str, str] = {}
        self.helpers = ""
        if mech.functions.strip():
            tree = ast.parse(mech.functions)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    self.fnames[node.name] = f"{p}__{node.name}"
                    node.name = self.fnames[node.name]
            tree = _Rename({}, self.fnames, strict=False).visit(tree)
            self.helpers = ast.unparse(ast.fix_missing_locations(tree))
        names = {"v": "vv", "celsius": "cel_l", "dt": "dt"}
        names |= {n: f"{p}_{n}" for n in mech.inputs}
        names |= {g.name: f"{p}_{g.name}" for g in mech.gates}
        names |= {n: f"{p}_{n}" for n, _ in mech.rates}
        self.names = names
        self.dep, self.const = mech.v_dependent_rates()
        self.const_order = [n for n, _ in mech.rates if n in self.const]
        fixed = set(mech.inputs) | self.const
        self.static = [c for c in mech.currents if (names_in(c.g) | {c.e}) <= fixed]
        self.dynamic = [c for c in mech.currents if c not in self.static]

    def expr(self, text: str) -> str:
        tree = _Rename(self.names, self.fnames).visit(ast.parse(text, mode="eval"))
        return ast.unparse(ast.fix_missing_locations(tree))

    # every per-instance loop is ``for k`` (instances) then ``for l`` (the block's lanes); the
    # block's arrays are [node or instance, ..., lane]. A layout with one row per thread
    # (cable_cuda) changes only these three: the row's index, the depth of a row's statements
    # and the lines that open them.
    LANE = "l"
    DEPTH = 8

    def _lane_head(self, ind: str) -> list[str]:
        """After ``i = idx[k]``: the loop over the lanes, V and the temperature of the lane."""
        return [f"{ind}    for l in range(LANES):", f"{ind}        vv = v[i, l]",
                f"{ind}        cel_l = cel[l]"]  # fmt: skip

    def _head(self, ind: str) -> list[str]:
        p, r, body = self.prefix, self.LANE, ind + " " * self.DEPTH
        return [f"{ind}for k in range(idx_{p}.shape[0]):", f"{ind}    i = idx_{p}[k]",
                *self._lane_head(ind),
                *[f"{body}{self.names[n]} = par_b_{p}[k, {j}, {r}]"
                  for j, n in enumerate(self.m.inputs)]]  # fmt: skip

    def _rates(self, ind: str, which: set[str]) -> list[str]:
        return [f"{ind}{self.names[n]} = {self.expr(e)}" for n, e in self.m.rates if n in which]

    def _reading(self, ind: str, exprs: list[str], gates: bool) -> list[str]:
        """The head of a per-instance, per-lane loop that evaluates ``exprs``: v, the inputs,
        the gates, and the rates they need (the constant ones from the row's table)."""
        p, r, body = self.prefix, self.LANE, ind + " " * self.DEPTH
        need = _closure(self.m, set().union(set(), *[names_in(e) for e in exprs]))
        lines = self._head(ind)
        if gates:
            lines += [f"{body}{self.names[g.name]} = st_{p}[k, {j}, {r}]"
                      for j, g in enumerate(self.m.gates)]  # fmt: skip
        lines += [f"{body}{self.names[n]} = cst_{p}[k, {j}, {r}]"
                  for j, n in enumerate(self.const_order) if n in need]  # fmt: skip
        return lines + self._rates(body, need & self.dep)

    def init_lines(self, ind: str) -> list[str]:
        """The row's constants, its static currents folded into gc (uS) and ie (nA), and the
        gates at their steady state at v_init (NEURON's INITIAL)."""
        p, r, body = self.prefix, self.LANE, ind + " " * self.DEPTH
        m = self.m
        lines = self._head(ind) + self._rates(body, self.const | self.dep)
        lines += [f"{body}cst_{p}[k, {j}, {r}] = {self.names[n]}"
                  for j, n in enumerate(self.const_order)]  # fmt: skip
        lines += [f"{body}st_{p}[k, {j}, {r}] = {self.expr(g.inf)}"
                  for j, g in enumerate(m.gates)]  # fmt: skip
        for c in self.static:
            lines += [
                f"{body}gs = ({self.expr(c.g)}) * af[i, {r}]",
                f"{body}gc[i, {r}] += gs",
                f"{body}ie[i, {r}] += gs * {self.names[c.e]}",
            ]
        return lines

    def current_lines(self, ind: str) -> list[str]:
        if not self.dynamic:
            return []
        r, body = self.LANE, ind + " " * self.DEPTH
        cur = " + ".join(f"({self.expr(c.g)}) * (vv - {self.names[c.e]})" for c in self.dynamic)
        cond = " + ".join(f"({self.expr(c.g)})" for c in self.dynamic)
        return [
            *self._reading(ind, [c.g for c in self.dynamic], gates=True),
            f"{body}a = af[i, {r}]",
            f"{body}rhs[i, {r}] -= ({cur}) * a",
            f"{body}d[i, {r}] += ({cond}) * a",
        ]

    def state_lines(self, ind: str) -> list[str]:
        """NEURON's cnexp with the new v: x += (1 - exp(-dt/tau)) (inf - x)."""
        p, r, body = self.prefix, self.LANE, ind + " " * self.DEPTH
        if not self.m.gates:
            return []
        exprs = [e for g in self.m.gates for e in (g.inf, g.tau)]
        lines = self._reading(ind, exprs, gates=False)
        for j, g in enumerate(self.m.gates):
            x = f"st_{p}[k, {j}, {r}]"
            lines.append(f"{body}{x} = {x} + (1.0 - math.exp(dt * (-1.0 / "
                         f"{self.expr(g.tau)}))) * ({self.expr(g.inf)} - {x})")  # fmt: skip
        return lines


def _closure(m: Mechanism, used: set[str]) -> set[str]:
    """The rates assignments that ``used`` reads, directly or through other rates."""
    assigned = dict(m.rates)
    out: set[str] = set()
    todo = [n for n in used if n in assigned]
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo += [u for u in names_in(assigned[n]) if u in assigned and u not in out]
    return out


LANES = 8  # rows solved together by one thread: the loops over them are SIMD, and the
# Hines solve's chain of dependent divisions of one row hides behind the other rows'


def _as_mechanisms(mechs: list[str | Mechanism]) -> list[Mechanism]:
    out = []
    for m in mechs:
        if isinstance(m, Mechanism):
            out.append(m)
        elif m in MECHANISMS:
            out.append(MECHANISMS[m])
        else:
            raise CellError(f"unknown mechanism {m!r}; allowed: {', '.join(MECHANISMS)} or a "
                            "Mechanism (a cell's channel)")  # fmt: skip
    return out


def _block_setup_lines(codes: list[_MechCode]) -> list[str]:
    """The lines that start a block of LANES rows (both kernels): its rows (the last block
    padded with copies of its first row), the geometry, V = v_init, each mechanism's inputs,
    constants and steady-state gates, and the constant part of the diagonal."""
    lines = [
        "        rows = np.empty(LANES, np.int64)",
        "        for l in range(LANES):",
        "            r = blk * LANES + l",
        "            rows[l] = r if r < n_rows else blk * LANES",
        # row_of[j, r]: the row of the j-th per-row input that row r reads (0 where an input
        # has one row for all): geometry, celsius, v_init, then each mechanism's inputs
        "        af = np.empty((N, LANES))",
        "        G = np.empty((N, LANES))",
        "        v = np.empty((N, LANES))",
        "        d = np.empty((N, LANES))",
        "        rhs = np.empty((N, LANES))",
        # per row, constant in time: the diagonal without the gated conductances (capacitance,
        # static currents, axial conductances) and the static currents' parts gc v - ie
        "        gc = np.zeros((N, LANES))",
        "        ie = np.zeros((N, LANES))",
        "        dbase = np.empty((N, LANES))",
        "        cel = np.empty(LANES)",
        "        for l in range(LANES):",
        "            r = rows[l]",
        "            bg = row_of[0, r]",
        "            cel[l] = celsius[row_of[1, r]]",
        "            v0 = v_init[row_of[2, r]]",
        "            for i in range(N):",
        "                af[i, l] = area_f[bg, i]",
        "                G[i, l] = gax[bg, i]",
        "                v[i, l] = v0",
    ]
    for j, c in enumerate(codes):
        p = c.prefix
        n_in, n_g, n_c = len(c.m.inputs), max(len(c.m.gates), 1), max(len(c.const_order), 1)
        lines += [
            f"        n_{p} = idx_{p}.shape[0]",
            f"        par_b_{p} = np.empty((n_{p}, {n_in}, LANES))",
            "        for l in range(LANES):",
            f"            bp = row_of[{3 + j}, rows[l]]",
            f"            for k in range(n_{p}):",
            f"                for q in range({n_in}):",
            f"                    par_b_{p}[k, q, l] = par_{p}[bp, k, q]",
            f"        st_{p} = np.empty((n_{p}, {n_g}, LANES))",
            f"        cst_{p} = np.empty((n_{p}, {n_c}, LANES))",
        ]
        lines += c.init_lines("        ")
    return lines + [
        "        for l in range(LANES):",
        "            bg = row_of[0, rows[l]]",
        "            for i in range(N):",
        "                dbase[i, l] = cj * cap[bg, i] + gc[i, l] + G[i, l]",
        "            for i in range(1, N):",
        "                dbase[parent[i], l] += G[i, l]",
    ]


# Hines (1984): from the leaves (parent[i] < i) each node's axial current is added and the node
# eliminated into its parent (d[i] then holds 1/d[i]); back substitution from the root, V(t +
# dt) = V + dV (BE) or V + 2 dV (CN); v_old keeps the spike node's V before the step
_HINES_LINES = [
    "            for i in range(N - 1, 0, -1):",
    "                p = parent[i]",
    "                for l in range(LANES):",
    "                    g = G[i, l]",
    "                    ia = g * (v[p, l] - v[i, l])",
    "                    ri = rhs[i, l] + ia",
    "                    inv = 1.0 / d[i, l]",
    "                    f = g * inv",
    "                    d[i, l] = inv",
    "                    rhs[i, l] = ri",
    "                    d[p, l] -= f * g",
    "                    rhs[p, l] += f * ri - ia",
    "            for l in range(LANES):",
    "                v_old[l] = v[spike_node, l]",
    "                x = rhs[0, l] / d[0, l]",
    "                rhs[0, l] = x",
    "                v[0, l] += fac * x",
    "            for i in range(1, N):",
    "                p = parent[i]",
    "                for l in range(LANES):",
    "                    x = (rhs[i, l] + G[i, l] * rhs[p, l]) * d[i, l]",
    "                    rhs[i, l] = x",
    "                    v[i, l] += fac * x",
]


def module_head(title: str, imports: list[str], codes: list[_MechCode]) -> list[str]:
    """The first lines of a generated cable kernel module (CPU, network window and CUDA): the
    title, its imports, then each mechanism's helper functions."""
    body = [f"# generated by neuroscape: {title}; do not edit", "import math", "", *imports, ""]
    for c in codes:
        if c.helpers:
            body += ["", c.helpers, ""]
    return body


def generate_source(mechs: list[str | Mechanism]) -> str:
    """The kernel module's source for a cell with the mechanisms ``mechs`` (in this order; a
    built-in's name or a Mechanism, e.g. a cell's channel written as equations):
    ``run(..., blk_lo, blk_hi)``, the blocks of LANES rows ``blk_lo..blk_hi-1`` (``run_on_threads``
    spreads them over threads; the last block padded with
    copies of its first row, whose results are dropped), each block with its own arrays. A row's
    arithmetic is the same in every lane and block (no reductions across lanes, no fast-math),
    so its result does not depend on the batch."""
    mlist = _as_mechanisms(mechs)
    codes = [_MechCode(m, f"m{j}_{m.name}") for j, m in enumerate(mlist)]
    margs = "".join(f"idx_{c.prefix}, par_{c.prefix}, " for c in codes)
    names = ", ".join(m.name for m in mlist) or "(none)"
    body = module_head(f"cable kernel, mechanisms {names}",
                       ["import numpy as np", "from numba import njit", "",
                        "from neuroscape.core.stimuli import stimulus_current", "",
                        f"LANES = {LANES}"], codes)  # fmt: skip
    body += [
        "",
        "@njit(nogil=True, cache=True, error_model=\"numpy\")",
        f"def run(parent, area_f, cap, gax, celsius, v_init, {margs}row_of,",
        "        stim_node, kind, stim, keys, n_steps, dt, second, rec_nodes, rec_every, vrec,",
        "        spike_node, spk_t, spk_n, blk_lo, blk_hi):",
        "    n_rows = keys.shape[0]",
        "    N = parent.shape[0]",
        "    cj = (2.0 if second else 1.0) / dt",
        "    fac = 2.0 if second else 1.0",
        "    max_spk = spk_t.shape[1]",
        "    n_rec = rec_nodes.shape[0]",
        "    for blk in range(blk_lo, blk_hi):",
    ]
    body += _block_setup_lines(codes)
    body += [
        "        s0 = np.empty(LANES)",
        "        s1 = np.empty(LANES)",
        "        s2 = np.empty(LANES)",
        "        s3 = np.empty(LANES)",
        "        key = np.empty(LANES, np.uint64)",
        "        isyn = np.zeros(LANES)",
        "        nsp = np.zeros(LANES, np.int64)",
        "        v_old = np.empty(LANES)",
        "        for l in range(LANES):",
        "            r = rows[l]",
        "            s0[l], s1[l], s2[l], s3[l] = stim[r, 0], stim[r, 1], stim[r, 2], stim[r, 3]",
        "            key[l] = keys[r]",
        "            if blk * LANES + l < n_rows:",
        "                for q in range(n_rec):",
        "                    vrec[r, q, 0] = v[rec_nodes[q], l]",
        "        for s in range(n_steps):",
        "            t = s * dt",
        "            for i in range(N):",
        "                for l in range(LANES):",
        "                    d[i, l] = dbase[i, l]",
        "                    rhs[i, l] = ie[i, l] - gc[i, l] * v[i, l]",
    ]
    for c in codes:
        body += c.current_lines("            ")
    body += [
        # the stimulus held over the step: its value at the step's midpoint (NEURON's IClamp
        # reads t + dt/2 too), the noise of row r's stream at the step's counter
        "            if stim_node >= 0:",
        "                for l in range(LANES):",
        "                    cur, isyn[l] = stimulus_current(kind, s0[l], s1[l], s2[l], s3[l],",
        "                                                    t + 0.5 * dt, dt, s, key[l], isyn[l],",
        "                                                    v[stim_node, l])",
        "                    rhs[stim_node, l] += cur",
    ]
    body += _HINES_LINES
    for c in codes:
        body += c.state_lines("            ")
    lvl = repr(SPIKE_LEVEL_MV)
    body += [
        "            for l in range(LANES):",
        "                v_new = v[spike_node, l]",
        f"                if v_old[l] < {lvl} and v_new >= {lvl}:",
        "                    r = blk * LANES + l",
        "                    if r < n_rows and nsp[l] < max_spk:",
        f"                        spk_t[r, nsp[l]] = t + dt * ({lvl} - v_old[l]) / ("
        "v_new - v_old[l])",
        "                    nsp[l] += 1",
        "            if (s + 1) % rec_every == 0:",
        "                for l in range(LANES):",
        "                    r = blk * LANES + l",
        "                    if r < n_rows:",
        "                        for q in range(n_rec):",
        "                            vrec[r, q, (s + 1) // rec_every] = v[rec_nodes[q], l]",
        "        for l in range(LANES):",
        "            if blk * LANES + l < n_rows:",
        "                spk_n[blk * LANES + l] = nsp[l]",
        "",
    ]
    return "\n".join(body)


_MODULES: dict[str, object] = {}


def load_kernel_module(prefix: str, src: str, mechs: list[str | Mechanism], deps: list):
    """The generated module of source ``src`` (named ``prefix`` + the mechanisms' names),
    compiled once per process and cached on disk by its content and the files ``deps``."""
    from neuroscape.core.codegen import load_generated

    if src not in _MODULES:
        stem = "_".join(m.name for m in _as_mechanisms(mechs))[:48]
        _MODULES[src] = load_generated(prefix + stem, src, deps)
    return _MODULES[src]


def get_kernel(mechs: list[str | Mechanism]):
    """The compiled kernel for the mechanism set ``mechs`` (names of built-ins or Mechanisms;
    cached by the source's content, so two cells whose channels are written alike share it)."""
    deps = [Path(__file__), stimuli_mod.__file__, rng_mod.__file__]
    return load_kernel_module("cable_", generate_source(mechs), mechs, deps).run


# ---------------------------------------------------------------------- the run


def _location(cell: CellDescription, disc: Discretization, loc, what: str) -> int:
    try:
        sec, x = loc
    except (TypeError, ValueError):
        raise CellError(f"{what} {loc!r}; allowed: (SECTION, x) with 0 <= x <= 1") from None
    sec = cell.root if sec == ROOT else sec
    return disc.node(sec, x)


def _mechanism_arrays(cell: CellDescription, disc: Discretization, vals: dict, b: int):
    """Per mechanism in the cell (built-ins, then its channels): (Mechanism, node indices,
    inputs (B or 1, n, n_inputs))."""
    out = []
    for mech in cell.used_mechanisms():
        m = mech.name
        idx, cols, where = [], [], {}
        for k, sec in enumerate(disc.section_names):
            if m not in cell.mechanisms.get(sec, {}):
                continue
            nodes = disc.first_node[k] + np.arange(disc.nseg[k])
            where[sec] = slice(len(idx), len(idx) + len(nodes))
            idx.extend(nodes.tolist())
            row = [cell.mechanisms[sec][m][p] for p in mech.parameter_names]
            row += [cell.ions[sec][r] for r in mech.reversals]
            cols.extend([row] * len(nodes))
        base = np.array(cols, dtype=float).reshape(len(idx), len(mech.inputs))
        touched = [
            (a, t) for a, arr in vals.items() for t in cell.targets(a)
            if (t[0] == "mech" and t[2] == m) or (t[0] == "ion" and t[1] in where
                                                  and t[2] in mech.reversals)
        ]  # fmt: skip
        par = np.repeat(base[None], b if touched else 1, axis=0)
        for a, t in touched:
            col = mech.inputs.index(t[3] if t[0] == "mech" else t[2])
            par[:, where[t[1]], col] = np.asarray(vals[a], dtype=float)[:, None]
        out.append((mech, np.array(idx, dtype=np.int64), np.ascontiguousarray(par)))
    return out


def _spike_capacity(duration_ms: float) -> int:
    """Spike times stored per row in the first pass (a spike every 4 ms, plus 64); rows with
    more are run again with room for all of them."""
    return 64 + int(duration_ms / 4.0)


def run_cell(
    cell: CellDescription,
    values: dict[str, np.ndarray] | None = None,
    *,
    stimulus: Stimulus | None,
    stim_at: tuple[str, float] = (ROOT, 0.5),
    dt_ms: float = 0.025,
    duration_ms: float,
    integrator: str = "crank_nicolson",
    record: list[tuple[str, float]] | None = None,
    seed: int = 0,
    workers: int | None = None,
    record_every: int = 1,
    rows: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    device: str = "cpu",
) -> CableResult:
    """Simulate B rows of ``cell`` (``values``: per-row arrays, or numbers, of addresses)
    for ``duration_ms`` from V = v_init everywhere and the gates at their steady state there
    (NEURON's finitialize). ``stimulus``: currents in nA (one row, or one per batch row)
    injected at ``stim_at`` = (SECTION, x), ROOT meaning the root section; V recorded every
    ``record_every`` steps at ``record`` (default: the root section's middle); spike times at
    the root section's middle. ``integrator``: crank_nicolson or backward_euler (NEURON's
    secondorder 2 or 0). ``workers``: numba threads (default: all). ``rows``: the global row
    numbers of the batch's rows (default 0..B-1): row r's noise is the stream (seed, r), so a
    chunk of a larger batch draws what the whole batch would. ``device``: cpu (numba threads)
    or cuda / cuda:N (``cable_cuda``: one GPU thread per row, the same generated arithmetic)."""
    from neuroscape.sim.engine import _set_threads

    if integrator not in INTEGRATORS:
        raise SettingsError(f"integrator={integrator!r}; allowed: {', '.join(INTEGRATORS)}")
    if not (isinstance(dt_ms, (int, float)) and math.isfinite(dt_ms) and dt_ms > 0):
        raise SettingsError(f"dt_ms={dt_ms!r}; allowed: a number > 0 (ms)")
    if not (isinstance(duration_ms, (int, float)) and math.isfinite(duration_ms)
            and duration_ms > 0):  # fmt: skip
        raise SettingsError(f"duration_ms={duration_ms!r}; allowed: a number > 0 (ms)")
    n_steps = round(duration_ms / dt_ms)
    if n_steps < 1 or abs(n_steps * dt_ms - duration_ms) > 1e-9 * duration_ms:
        raise SettingsError(f"dt_ms={dt_ms:g} does not divide duration_ms={duration_ms:g}; "
                            f"allowed: {duration_ms:g}/k ms for a whole k")  # fmt: skip
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) or (
            record_every < 1 or n_steps % record_every):  # fmt: skip
        raise SettingsError(f"record_every={record_every!r}; allowed: a whole number >= 1 that "
                            f"divides the {n_steps} steps")  # fmt: skip
    b_vals, vals = _row_values(cell, values)
    b = b_vals
    if stimulus is not None:
        stimulus.check(duration_ms)
        n_stim = np.asarray(stimulus.values).shape[0]
        if b_vals > 1 and n_stim not in (1, b_vals):
            raise SettingsError(f"stimulus has {n_stim} rows; allowed: 1 or the batch size "
                                f"{b_vals}")  # fmt: skip
        b = max(b_vals, n_stim)
        stim = stimulus.rows(b)
        kind = stimulus.code
    else:
        stim, kind = np.zeros((b, 4)), 0
    if b_vals == 1 and b > 1:
        vals = {a: np.broadcast_to(v, (b,)) for a, v in vals.items()}
    disc = discretize(cell, vals or None)
    record = [(ROOT, 0.5)] if record is None else list(record)
    rec_nodes = np.array([_location(cell, disc, loc, "record location") for loc in record],
                         dtype=np.int64)  # fmt: skip
    stim_node = _location(cell, disc, stim_at, "stimulus location") if stimulus is not None else -1
    spike_node = disc.node(cell.root, 0.5)
    cell_v = {
        a: np.array(vals[a], dtype=float) if a in vals else np.array([getattr(cell, a)])
        for a in ("celsius", "v_init")
    }  # fmt: skip
    mechs = _mechanism_arrays(cell, disc, vals, b)
    if device == "cpu":
        kernel = get_kernel([m for m, _, _ in mechs])
    else:  # imported here: cable_cuda builds on this module's mechanism code
        from neuroscape.sim.cable_cuda import get_cuda_kernel

        kernel = get_cuda_kernel([m for m, _, _ in mechs], device)
    n_workers = _set_threads(workers)
    area_f = np.ascontiguousarray(disc.area_um2 * 1e-2)  # S/cm2 -> uS, mA/cm2 -> nA
    cap = np.ascontiguousarray(disc.cm * disc.area_um2 * 1e-5)  # uF/cm2 x um2 -> nF
    gax = np.ascontiguousarray(disc.g_axial_uS)
    if rows is None:
        rows = np.arange(b)
    rows = np.asarray(rows)
    if rows.shape != (b,) or not np.issubdtype(rows.dtype, np.integer) or np.any(rows < 0):
        raise SettingsError(f"rows has shape {rows.shape} ({rows.dtype}); allowed: {b} "
                            "non-negative integers (one per batch row)")  # fmt: skip
    if keys is None:
        keys = row_keys(seed, rows)
    else:  # the engine's (run_batch) keys of these rows: row_keys(seed, rows) already
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.shape != (b,):
            raise SettingsError(f"keys has shape {keys.shape}; allowed: ({b},)")
    n_rec = n_steps // record_every
    vrec = np.zeros((b, len(rec_nodes), n_rec + 1))
    margs = [a for _, idx, par in mechs for a in (idx, par)]

    def go(sel: np.ndarray, cap_spk: int, out_v: np.ndarray):
        spk_t = np.zeros((len(sel), cap_spk))
        spk_n = np.zeros(len(sel), dtype=np.int64)

        per_row = [area_f, cell_v["celsius"], cell_v["v_init"], *[p for _, _, p in mechs]]
        row_of = np.array([sel if a.shape[0] > 1 else np.zeros_like(sel) for a in per_row],
                          dtype=np.int64).reshape(len(per_row), len(sel))  # fmt: skip
        args = (disc.parent, area_f, cap, gax, cell_v["celsius"], cell_v["v_init"], *margs,
                row_of, stim_node, kind, np.ascontiguousarray(stim[sel]), keys[sel], n_steps,
                float(dt_ms), INTEGRATORS[integrator] == 2, rec_nodes, record_every, out_v,
                spike_node, spk_t, spk_n)  # fmt: skip
        if device == "cpu":  # blocks of LANES rows on threads
            run_on_threads(kernel, args, -(-len(sel) // LANES), n_workers)
        else:  # one GPU thread per row: cable_cuda's launch
            kernel(*args)
        return spk_t, spk_n

    all_rows = np.arange(b)
    spk_t, spk_n = go(all_rows, _spike_capacity(duration_ms), vrec)
    spikes = [spk_t[r, : spk_n[r]].copy() for r in range(b)]
    over = np.flatnonzero(spk_n > spk_t.shape[1])
    if len(over):  # rows with more spikes than the buffer: again, with room for all (same bits)
        scratch = np.zeros((len(over), len(rec_nodes), n_rec + 1))
        t2, n2 = go(over, int(spk_n[over].max()), scratch)
        for j, r in enumerate(over):
            spikes[r] = t2[j, : n2[j]].copy()
    t_ms = np.arange(n_rec + 1) * (dt_ms * record_every)
    return CableResult(t_ms=t_ms, v=vrec, spikes=spikes, record=record)


# ---------------------------------------------------------------------- cells in a network

# Synapses are NEURON's point processes ExpSyn and Exp2Syn (src/nrnoc/expsyn.mod, exp2syn.mod),
# both held as two states A, B with g = B - A (ExpSyn: A stays 0, an event adds its weight to
# B; Exp2Syn: an event adds weight * factor to both). Per synapse and row: tau1 (A's time
# constant; ExpSyn: unused), tau2 (B's; ExpSyn: its tau), e, fA, fB (what an event of weight 1
# adds to A and B): the columns of ``syn_par``.
SYN_COLS = ("tau1", "tau2", "e", "fA", "fB")


def generate_network_source(mechs: list[str | Mechanism]) -> str:
    """The kernel module's source for a population of cells with the mechanisms ``mechs`` and
    synapses, advanced one window of steps per call (``run_window``) with every state kept in
    the caller's arrays between calls, so that spikes can be exchanged between windows
    (NEURON's ParallelContext runs in intervals of the minimum delay the same way).

    Each step is ``generate_source``'s (the same lines for the mechanisms and the Hines solve)
    with the synapses added as NEURON's fixed step has them (``nrn_fixed_step``): the events
    due at the step are delivered first (``pend[row, syn, step % RING]``: the sum of the
    weights of the events whose delivery step this is, filled by the caller), then the
    synaptic currents g (v - e) join the membrane currents (g into the diagonal), and after
    the solve the states take cnexp's step A += (1 - exp(-dt/tau1)) (-A), as nocmodl writes
    it. Spike events follow NEURON's threshold detection (``ConditionEvent::check``): at each
    time point a row whose V at the root's middle is above 0 mV, and was not at the one
    before, emits an event at that time point (``ev_step``); the output spike times are the
    interpolated upward crossings, as ``run_cell`` reports them. It shares ``generate_source``'s
    block set-up and Hines lines; the rest stays beside it rather than merged into it, so that
    a single cell's kernel stays as it is (its bits and its cache)."""
    mlist = _as_mechanisms(mechs)
    codes = [_MechCode(m, f"m{j}_{m.name}") for j, m in enumerate(mlist)]
    margs = "".join(f"idx_{c.prefix}, par_{c.prefix}, " for c in codes)
    sargs = "".join(f"ST_{c.prefix}, " for c in codes)
    names = ", ".join(m.name for m in mlist) or "(none)"
    body = module_head(f"cable network kernel, mechanisms {names}",
                       ["import numpy as np", "from numba import njit", "", f"LANES = {LANES}"],
                       codes)  # fmt: skip
    body += [
        "",
        "@njit(nogil=True, cache=True, error_model=\"numpy\")",
        f"def run_window(parent, area_f, cap, gax, celsius, v_init, {margs}row_of,",
        f"               syn_node, syn_par, V, {sargs}SA, pend, flag, first, s0, n_steps, dt,",
        "               second, rec_nodes, rec_every, vrec, spike_node, ev_step, ev_n, spk_t,",
        "               spk_n, blk_lo, blk_hi):",
        "    n_rows = V.shape[0]",
        "    N = parent.shape[0]",
        "    n_syn = syn_node.shape[0]",
        "    ring = pend.shape[2]",
        "    cj = (2.0 if second else 1.0) / dt",
        "    fac = 2.0 if second else 1.0",
        "    n_rec = rec_nodes.shape[0]",
        f"    i_syn = {3 + len(codes)}",
        "    for blk in range(blk_lo, blk_hi):",
    ]
    body += _block_setup_lines(codes)
    body += [
        # the synapses: parameters, decay factors (nocmodl's cnexp: 1 - exp(dt * (-1/tau)),
        # the same number every step) and states
        "        sA = np.empty((n_syn, LANES))",
        "        sB = np.empty((n_syn, LANES))",
        "        se = np.empty((n_syn, LANES))",
        "        sfA = np.empty((n_syn, LANES))",
        "        sfB = np.empty((n_syn, LANES))",
        "        scA = np.empty((n_syn, LANES))",
        "        scB = np.empty((n_syn, LANES))",
        "        for l in range(LANES):",
        "            bs = row_of[i_syn, rows[l]]",
        "            for k in range(n_syn):",
        "                scA[k, l] = 1.0 - math.exp(dt * (-1.0 / syn_par[bs, k, 0]))",
        "                scB[k, l] = 1.0 - math.exp(dt * (-1.0 / syn_par[bs, k, 1]))",
        "                se[k, l] = syn_par[bs, k, 2]",
        "                sfA[k, l] = syn_par[bs, k, 3]",
        "                sfB[k, l] = syn_par[bs, k, 4]",
        "        fl = np.zeros(LANES, np.int64)",
        "        if first:",
        "            for l in range(LANES):",
        "                for k in range(n_syn):",
        "                    sA[k, l] = 0.0",
        "                    sB[k, l] = 0.0",
        "        else:",
        "            for l in range(LANES):",
        "                r = rows[l]",
        "                fl[l] = flag[r]",
        "                for i in range(N):",
        "                    v[i, l] = V[r, i]",
        "                for k in range(n_syn):",
        "                    sA[k, l] = SA[r, k, 0]",
        "                    sB[k, l] = SA[r, k, 1]",
    ]
    for c in codes:
        p = c.prefix
        if c.m.gates:
            body += [
                "            for l in range(LANES):",
                f"                for k in range(n_{p}):",
                f"                    for q in range({len(c.m.gates)}):",
                f"                        st_{p}[k, q, l] = ST_{p}[rows[l], k, q]",
            ]
    lvl = repr(SPIKE_LEVEL_MV)
    body += [
        "        nsp = np.zeros(LANES, np.int64)",
        "        nev = np.zeros(LANES, np.int64)",
        "        v_old = np.empty(LANES)",
        "        if first:",
        "            for l in range(LANES):",
        "                r = rows[l]",
        "                if blk * LANES + l < n_rows:",
        "                    for q in range(n_rec):",
        "                        vrec[r, q, 0] = v[rec_nodes[q], l]",
        # NEURON checks the threshold at t = 0 too (the first step's deliver_net_events)
        f"                if v[spike_node, l] > {lvl}:",
        "                    fl[l] = 1",
        "                    ev_step[r, 0] = s0",
        "                    nev[l] = 1",
        "        for s in range(s0, s0 + n_steps):",
        "            t = s * dt",
        "            slot = s % ring",
        # the events due at this step (NEURON's deliver_net_events before the step)
        "            for k in range(n_syn):",
        "                for l in range(LANES):",
        "                    w = pend[rows[l], k, slot]",
        "                    sA[k, l] += w * sfA[k, l]",
        "                    sB[k, l] += w * sfB[k, l]",
        "            for i in range(N):",
        "                for l in range(LANES):",
        "                    d[i, l] = dbase[i, l]",
        "                    rhs[i, l] = ie[i, l] - gc[i, l] * v[i, l]",
    ]
    for c in codes:
        body += c.current_lines("            ")
    body += [
        "            for k in range(n_syn):",
        "                i = syn_node[k]",
        "                for l in range(LANES):",
        "                    g = sB[k, l] - sA[k, l]",
        "                    rhs[i, l] -= g * (v[i, l] - se[k, l])",
        "                    d[i, l] += g",
    ]
    body += _HINES_LINES
    for c in codes:
        body += c.state_lines("            ")
    body += [
        "            for k in range(n_syn):",
        "                for l in range(LANES):",
        "                    sA[k, l] = sA[k, l] + scA[k, l] * (-sA[k, l])",
        "                    sB[k, l] = sB[k, l] + scB[k, l] * (-sB[k, l])",
        "            for l in range(LANES):",
        "                r = blk * LANES + l",
        "                live = r < n_rows",
        "                v_new = v[spike_node, l]",
        f"                if v_old[l] < {lvl} and v_new >= {lvl}:",
        "                    if live:",
        f"                        spk_t[r, nsp[l]] = t + dt * ({lvl} - v_old[l]) / ("
        "v_new - v_old[l])",
        "                    nsp[l] += 1",
        f"                if v_new > {lvl}:",
        "                    if fl[l] == 0:",
        "                        fl[l] = 1",
        "                        if live:",
        "                            ev_step[r, nev[l]] = s + 1",
        "                        nev[l] += 1",
        "                else:",
        "                    fl[l] = 0",
        "            if (s + 1) % rec_every == 0:",
        "                for l in range(LANES):",
        "                    r = blk * LANES + l",
        "                    if r < n_rows:",
        "                        for q in range(n_rec):",
        "                            vrec[r, q, (s + 1) // rec_every] = v[rec_nodes[q], l]",
        # what the next window starts from; the events delivered are cleared from the ring
        "        for l in range(LANES):",
        "            r = blk * LANES + l",
        "            if r < n_rows:",
        "                spk_n[r] = nsp[l]",
        "                ev_n[r] = nev[l]",
        "                flag[r] = fl[l]",
        "                for i in range(N):",
        "                    V[r, i] = v[i, l]",
        "                for k in range(n_syn):",
        "                    SA[r, k, 0] = sA[k, l]",
        "                    SA[r, k, 1] = sB[k, l]",
        "                    for s in range(s0, s0 + n_steps):",
        "                        pend[r, k, s % ring] = 0.0",
    ]
    for c in codes:
        p = c.prefix
        if c.m.gates:
            body += [
                f"                for k in range(n_{p}):",
                f"                    for q in range({len(c.m.gates)}):",
                f"                        ST_{p}[r, k, q] = st_{p}[k, q, l]",
            ]
    body.append("")
    return "\n".join(body)


def get_network_kernel(mechs: list[str | Mechanism]):
    """The compiled window kernel (``generate_network_source``) for the mechanism set
    ``mechs``, cached by its source's content."""
    src = generate_network_source(mechs)
    return load_kernel_module("cablenet_", src, mechs, [Path(__file__)]).run_window
