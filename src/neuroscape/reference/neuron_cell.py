"""Multi-compartment cells in NEURON (Hines & Carnevale), as an independent reference for
neuroscape's cable engine (tests and benchmarks).

- ``NeuronCell(description)`` builds a ``CellDescription`` as NEURON sections: L/diam/nseg, or
  the 3-D points by ``pt3dadd`` for SWC sections; Ra and cm per section; ``hh`` and ``pas``;
  ena/ek. ``run`` injects a step by an IClamp at SECTION(x) and integrates with NEURON's fixed
  step (``secondorder`` 2: Crank-Nicolson, 0: backward Euler), exact ``hh`` rates
  (``usetable_hh = 0``), returning V at the recorded locations and the upward 0-mV crossings at
  the root section's middle. ``update`` puts another parameter set of the same topology on the
  same sections; ``neuron_run_rows`` runs rows of parameter values that way, one after
  another on one built cell (a benchmark's 1,000 cells).
- ``neuron_import_swc(path)`` loads an SWC file through NEURON's own Import3d
  (``Import3d_SWC_read`` + ``Import3d_GUI.instantiate``), so that ``swc.read_swc`` is checked
  against NEURON's reading, not against its own output fed back.
- ``section_geometry`` reports per section what NEURON computed: L, area (the sum of
  ``area(x)`` over the segments), nseg, parent, the 3-D points.
- ``load_mod_files(paths)`` compiles NMODL files with NEURON's ``nrnivmodl`` (once per content,
  in a cache folder) and loads them, so that a cell's channels written as equations can be
  checked against the same channels written by hand in NMODL (``NeuronCell(cell, suffixes=...)``
  inserts them under their NEURON names).

NEURON's globals changed here (celsius, usetable_hh, secondorder, dt, steps_per_ms, the CVODE
switch) are put back after each run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from neuroscape.models.multicomp.description import CellDescription

__all__ = [
    "NeuronCell",
    "load_mod_files",
    "NeuronRun",
    "NeuronSWC",
    "neuron_import_swc",
    "neuron_run_rows",
    "section_geometry",
    "upward_crossings",
]

_loaded = False


def _h():
    global _loaded
    from neuron import h

    if not _loaded:
        h.load_file("stdrun.hoc")
        h.load_file("import3d.hoc")
        _loaded = True
    return h


class _Globals:
    """Saves NEURON's globals on enter and puts them back on exit."""

    _names = ("celsius", "usetable_hh", "secondorder", "dt", "steps_per_ms")

    def __enter__(self):
        h = _h()
        self.saved = {k: getattr(h, k) for k in self._names}
        self.cvode = h.cvode_active()
        return h

    def __exit__(self, *exc) -> None:
        h = _h()
        for k, v in self.saved.items():
            setattr(h, k, v)
        h.cvode_active(self.cvode)


def upward_crossings(t_ms: np.ndarray, v_mV: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Times (ms) where ``v_mV`` crosses ``threshold`` upward (v[k-1] < thr <= v[k]), linearly
    interpolated between the samples."""
    v = np.asarray(v_mV, float)
    t = np.asarray(t_ms, float)
    k = np.flatnonzero((v[:-1] < threshold) & (v[1:] >= threshold)) + 1
    return t[k - 1] + (t[k] - t[k - 1]) * (threshold - v[k - 1]) / (v[k] - v[k - 1])


def _section_area(sec) -> float:
    return float(sum(seg.area() for seg in sec))


def section_geometry(sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What NEURON computed for each of ``sections`` (name -> NEURON section): ``L`` (um),
    ``area`` (um2, the sum of area(x) over the segments), ``nseg``, ``diam`` (NEURON's sec.diam,
    um), ``parent`` (name or None), ``parent_x``, ``pt3d`` (K, 4 array or None),
    ``ri`` (MOhm, each segment's axial resistance to its parent node, seg.ri())."""
    h = _h()
    names = {sec: name for name, sec in sections.items()}
    out: dict[str, dict[str, Any]] = {}
    for name, sec in sections.items():
        ps = sec.parentseg()
        n3d = int(h.n3d(sec=sec))
        pt3d = (
            np.array(
                [
                    [h.x3d(i, sec=sec), h.y3d(i, sec=sec), h.z3d(i, sec=sec), h.diam3d(i, sec=sec)]
                    for i in range(n3d)
                ]
            )
            if n3d
            else None
        )
        out[name] = {
            "L": float(sec.L),
            "area": _section_area(sec),
            "nseg": int(sec.nseg),
            "diam": float(sec.diam),
            "parent": None if ps is None else names.get(ps.sec, str(ps.sec)),
            "parent_x": None if ps is None else float(ps.x),
            "pt3d": pt3d,
            "ri": np.array([seg.ri() for seg in sec]),
        }
    return out


class NeuronSWC:
    """An SWC file as NEURON's Import3d instantiates it, inside this object (its sections
    live as long as it does). ``sections``: name -> NEURON section, named as
    ``swc.read_swc`` names them (``soma`` when the soma is one section, else ``soma[i]``;
    ``dend[i]``, ``axon[i]``, ``apic[i]``), in Import3d's order (types soma, axon, dend,
    apic; file order within a type)."""

    def __init__(self, path: str | Path) -> None:
        h = _h()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"SWC file {str(path)!r} not found")
        reader = h.Import3d_SWC_read()
        reader.quiet = 1
        reader.input(str(path))
        gui = h.Import3d_GUI(reader, False)
        gui.instantiate(self)  # a Python object: sections are created as attributes of self
        self.sections: dict[str, Any] = {}
        nsoma = len(getattr(self, "soma", []))
        for arr in ("soma", "axon", "dend", "apic"):
            for i, sec in enumerate(getattr(self, arr, [])):
                name = "soma" if arr == "soma" and nsoma == 1 else f"{arr}[{i}]"
                self.sections[name] = sec
        extra = [k for k in vars(self) if re.fullmatch(r"(dend_\d+|minus_\d+)", k)]
        for arr in extra:  # codes other than 1-4 (read_swc refuses them)
            for i, sec in enumerate(getattr(self, arr)):
                self.sections[f"{arr}[{i}]"] = sec

    def geometry(self) -> dict[str, dict[str, Any]]:
        """``section_geometry`` of the imported sections."""
        return section_geometry(self.sections)


def neuron_import_swc(path: str | Path) -> NeuronSWC:
    """Load ``path`` through NEURON's own Import3d (``Import3d_SWC_read`` then
    ``Import3d_GUI(reader, 0).instantiate``); see ``NeuronSWC``."""
    return NeuronSWC(path)


@dataclass
class NeuronRun:
    """A NEURON run: ``t_ms`` (n+1,), ``v`` (n_rec, n+1) mV at the recorded locations,
    ``spikes`` upward 0-mV crossings (ms) at the root section's middle, linearly
    interpolated."""

    t_ms: np.ndarray
    v: np.ndarray
    spikes: np.ndarray


_MECHS = {"hh": ("gnabar", "gkbar", "gl", "el"), "pas": ("g", "e")}
_LOADED_MODS: dict[str, Path] = {}  # content hash -> the folder whose library is loaded


def load_mod_files(paths: Sequence[str | Path], build_root: str | Path | None = None) -> Path:
    """Compile the NMODL files ``paths`` together with ``nrnivmodl`` (needs a C compiler) into
    a folder named by their content hash under ``build_root`` (default: a ``nrnmech`` folder
    in neuroscape's kernel cache) and load the library into NEURON (once per content and
    process). Returns the folder. A mechanism NEURON already has cannot be loaded again."""
    import hashlib
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    files = [Path(p) for p in paths]
    for f in files:
        if f.suffix != ".mod" or not f.is_file():
            raise FileNotFoundError(f"NMODL file {str(f)!r} not found; allowed: .mod files")
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    key = digest.hexdigest()[:16]
    if key in _LOADED_MODS:
        return _LOADED_MODS[key]
    if build_root is None:
        from neuroscape.core.codegen import cache_dir

        build_root = cache_dir() / "nrnmech"
    folder = Path(build_root) / key

    def built(d: Path) -> list[Path]:
        return sorted(d.glob("*/libnrnmech.so")) + sorted(d.glob("*/.libs/libnrnmech.so"))

    if not built(folder):
        # built in a folder of its own, then renamed: another process may build the same
        Path(build_root).mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=build_root))
        for f in files:
            shutil.copy(f, tmp / f.name)
        exe = Path(sys.executable).with_name("nrnivmodl")
        cmd = [str(exe) if exe.exists() else "nrnivmodl"]
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0 or not built(tmp):
            tail = " ".join((done.stdout + done.stderr).split()[-40:])
            raise RuntimeError(f"nrnivmodl failed in {tmp}: {tail}")
        try:
            os.rename(tmp, folder)
        except OSError:  # another process was first: use its build
            shutil.rmtree(tmp, ignore_errors=True)
    lib = built(folder)[0]
    h = _h()
    if not h.nrn_load_dll(str(lib)):
        raise RuntimeError(f"NEURON could not load {lib}")
    _LOADED_MODS[key] = folder
    return folder


class NeuronCell:
    """A ``CellDescription`` built in NEURON. Sections are named ``<name>`` inside this
    object (``h.Section(name=..., cell=self)``) and live as long as it does. ``suffixes``:
    the NEURON name of each of the cell's mechanisms that is not its own name (a channel
    written as equations checked against an NMODL file: ``{"ka": "ka_cs"}``); every mechanism
    other than hh and pas must be loaded (``load_mod_files``)."""

    def __init__(self, cell: CellDescription, suffixes: dict[str, str] | None = None) -> None:
        h = _h()
        self.suffixes = dict(suffixes or {})
        self.cell = cell
        self.sections: dict[str, Any] = {}
        self.root = next(iter(cell.sections))
        for name in cell.sections:
            self.sections[name] = h.Section(name=name, cell=self)
        for name, s in cell.sections.items():
            if s.parent is not None:
                self.sections[name].connect(self.sections[s.parent](s.parent_x), 0)
        self._inserted: dict[str, set[str]] = {name: set() for name in cell.sections}
        self._pt3d_base: dict[str, tuple[float, float]] = {}  # (L, diam) as built
        self._pt3d_state: dict[str, tuple[float, float]] = {}  # (L, diam) now on the points
        self.update(cell)

    def __repr__(self) -> str:
        return f"NeuronCell({self.cell.name!r})"

    def update(self, cell: CellDescription) -> None:
        """Put ``cell``'s values (same sections and parents as the built one) on the
        sections: geometry, nseg, Ra, cm, mechanisms and their parameters, ena/ek."""
        h = _h()
        if list(cell.sections) != list(self.sections):
            raise ValueError(
                f"cell {cell.name!r} has sections {list(cell.sections)[:4]}...; allowed: the "
                f"built cell's {list(self.sections)[:4]}..."
            )
        self.cell = cell
        for name, s in cell.sections.items():
            sec = self.sections[name]
            if s.pt3d is not None:
                self._set_pt3d(name, s)
            else:
                sec.L = s.L
                sec.diam = s.diam
            sec.nseg = int(s.nseg)
            sec.Ra = cell.Ra if s.Ra is None else s.Ra
            sec.cm = cell.cm if s.cm is None else s.cm
            for mech, params in cell.mechanisms.get(name, {}).items():
                suffix = self.suffixes.get(mech, mech)
                if suffix not in self._inserted[name]:
                    try:
                        sec.insert(suffix)
                    except ValueError:
                        raise ValueError(
                            f"mechanism {suffix!r} in {name} is not in NEURON; allowed: hh, pas "
                            "and mechanisms loaded by load_mod_files"
                        ) from None
                    self._inserted[name].add(suffix)
                for param, value in params.items():
                    setattr(sec, f"{param}_{suffix}", float(value))
            ions = cell.ions.get(name, {}) if getattr(cell, "ions", None) else {}
            for ion, value in ions.items():
                if h.ismembrane(f"{ion[1:]}_ion", sec=sec):
                    setattr(sec, ion, float(value))

    def _set_pt3d(self, name: str, s) -> None:
        """A 3-D section's points, then an L or diam that differs from the built cell's as
        NEURON applies it to 3-D sections (L: the arcs rescaled; diam: every point's diameter
        set to it)."""
        h = _h()
        sec = self.sections[name]
        want = (s.L, s.diam)
        if self._pt3d_state.get(name) == want:
            return
        base = self._pt3d_base.setdefault(name, want)
        if name in self._pt3d_state and self._pt3d_state[name] == base:
            pass  # the points are as built; only the overrides below change them
        else:
            h.pt3dclear(sec=sec)
            for x, y, z, d in np.asarray(s.pt3d, float):
                h.pt3dadd(x, y, z, d, sec=sec)
        if s.L != base[0]:
            sec.L = s.L
        if s.diam != base[1]:
            sec.diam = s.diam
        self._pt3d_state[name] = want

    def geometry(self) -> dict[str, dict[str, Any]]:
        """``section_geometry`` of the built sections."""
        return section_geometry(self.sections)

    def input_resistance(self, at: tuple[str, float] | None = None) -> float:
        """Input resistance (MOhm) at SECTION(x) (default: the root's middle) at 0 Hz after
        ``finitialize(v_init)``, by NEURON's Impedance class with the channels linearised
        about that state (``compute(0, 1)``)."""
        sec_name, x = at or (self.root, 0.5)
        with _Globals() as h:
            h.cvode_active(0)
            h.celsius = self.cell.celsius
            h.usetable_hh = 0
            h.finitialize(self.cell.v_init)
            imp = h.Impedance()
            imp.loc(x, sec=self.sections[sec_name])
            imp.compute(0, 1)
            return float(imp.input(x, sec=self.sections[sec_name]))

    def run(
        self,
        *,
        amp_nA: float,
        delay_ms: float,
        dur_ms: float,
        tstop_ms: float,
        at: tuple[str, float] | None = None,
        dt_ms: float = 0.0125,
        secondorder: int = 2,
        record: Sequence[tuple[str, float]] | None = None,
    ) -> NeuronRun:
        """Step of ``amp_nA`` (nA) from ``delay_ms`` for ``dur_ms`` by an IClamp at SECTION(x)
        (default the root's middle), from ``finitialize(v_init)`` to ``tstop_ms`` with NEURON's
        fixed step ``dt_ms`` (ms), ``secondorder`` 2 (Crank-Nicolson) or 0 (backward Euler),
        exact hh rates, at the cell's celsius. V is recorded at every step at ``record``
        (default: the root's middle); spikes are the root middle's upward 0-mV crossings."""
        if secondorder not in (0, 1, 2):
            raise ValueError(f"secondorder={secondorder!r}; allowed: 0, 1, 2")
        n_steps = round(tstop_ms / dt_ms)
        if not (dt_ms > 0 and abs(n_steps * dt_ms - tstop_ms) <= 1e-9 * tstop_ms):
            raise ValueError(f"dt_ms={dt_ms!r} does not divide tstop_ms={tstop_ms!r}")
        sec_name, x = at or (self.root, 0.5)
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"stimulus location {sec_name}({x}); allowed: x in [0, 1]")
        locs = list(record or [(self.root, 0.5)])
        with _Globals() as h:
            clamp = h.IClamp(self.sections[sec_name](x))
            clamp.delay, clamp.dur, clamp.amp = delay_ms, dur_ms, amp_nA
            vecs = []
            for name, xr in locs:
                vec = h.Vector(n_steps + 1)
                vec.record(self.sections[name](xr)._ref_v)
                vecs.append(vec)
            soma = h.Vector(n_steps + 1)
            soma.record(self.sections[self.root](0.5)._ref_v)
            h.cvode_active(0)
            h.usetable_hh = 0
            h.secondorder = secondorder
            h.celsius = self.cell.celsius
            h.dt = dt_ms
            h.steps_per_ms = 1.0 / dt_ms
            h.finitialize(self.cell.v_init)
            # NEURON's own fixed-step loop in C (ParallelContext.psolve): bit for bit the
            # fadvance() steps, twice as fast as calling fadvance from Python (a benchmark
            # should time NEURON at its best); set_maxstep only bounds spike exchange
            pc = h.ParallelContext()
            pc.set_maxstep(10)
            pc.psolve(n_steps * dt_ms)
            v = np.array([vec.as_numpy().copy() for vec in vecs])
            vs = soma.as_numpy().copy()
            for vec in (*vecs, soma):
                vec.play_remove()
            del clamp
        if v.shape[1] != n_steps + 1:
            raise RuntimeError(f"NEURON recorded {v.shape[1]} samples; expected {n_steps + 1}")
        t = np.arange(n_steps + 1) * dt_ms
        return NeuronRun(t, v, upward_crossings(t, vs))


def neuron_run_rows(
    cell: CellDescription,
    values: dict[str, np.ndarray] | None,
    *,
    amp_nA: float | Sequence[float],
    delay_ms: float,
    dur_ms: float,
    tstop_ms: float,
    dt_ms: float = 0.0125,
    secondorder: int = 2,
    at: tuple[str, float] | None = None,
    record: Sequence[tuple[str, float]] | None = None,
    suffixes: dict[str, str] | None = None,
) -> list[NeuronRun]:
    """Rows of parameter values (``values``: address -> (B,) array, as ``run_cell`` takes
    them) simulated by NEURON one after another on one built cell, each from
    ``finitialize(v_init)``; ``amp_nA`` one amplitude (nA) or one per row. See
    ``NeuronCell.run`` for the other arguments; ``suffixes`` as ``NeuronCell``'s."""
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in (values or {}).items()}
    amps = np.atleast_1d(np.asarray(amp_nA, dtype=float))
    b = max([len(a) for a in arrays.values()] + [len(amps)])
    for what, n in [*((k, len(a)) for k, a in arrays.items()), ("amp_nA", len(amps))]:
        if n not in (1, b):
            raise ValueError(f"{what} has {n} rows; allowed: 1 or {b}")
    nc = NeuronCell(cell, suffixes)
    out = []
    for row in range(b):
        if arrays:
            nc.update(
                cell.with_values({k: float(a[min(row, len(a) - 1)]) for k, a in arrays.items()})
            )
        out.append(
            nc.run(
                amp_nA=float(amps[min(row, len(amps) - 1)]),
                delay_ms=delay_ms,
                dur_ms=dur_ms,
                tstop_ms=tstop_ms,
                at=at,
                dt_ms=dt_ms,
                secondorder=secondorder,
                record=record,
            )
        )
    return out
