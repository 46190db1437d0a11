"""Helpers of the NeuroML tests: instrumented copies of LEMS files (an EventOutputFile and a
voltage OutputFile for every cell), jNeuroML and neuroscape runs of them, and their comparison
(spike times over each cell's first 10 spikes; subthreshold voltages)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "neuroml"
EVENTS = "results/ns_events.spikes"
VOLTS = "results/ns_v.dat"


def jnml_available() -> bool:
    try:
        import pyneuroml  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


def cells_of(text: str) -> list[tuple[str, int]]:
    """(population, index) of every cell in the file's network (populations with size=)."""
    out = []
    for m in re.finditer(r"<population\s[^>]*?id=\"(\w+)\"[^>]*?size=\"(\d+)\"", text):
        out += [(m.group(1), i) for i in range(int(m.group(2)))]
    return out


def instrument(src: Path, dst_dir: Path, edits: dict[str, str] | None = None,
               no_v: tuple[str, ...] = ()) -> Path:
    """A copy of LEMS file ``src`` in ``dst_dir`` with ``edits`` (old text -> new text, each
    must occur) applied and, in its Simulation, an EventOutputFile (TIME_ID) of every cell and
    an OutputFile of V for every cell not in populations ``no_v`` (spike sources)."""
    text = src.read_text()
    for old, new in (edits or {}).items():
        assert old in text, f"{old!r} not in {src.name}"
        text = text.replace(old, new)
    cells = cells_of(text)
    sel = "".join(f'<EventSelection id="{k}" select="{p}[{i}]" eventPort="spike"/>\n'
                  for k, (p, i) in enumerate(cells))  # fmt: skip
    cols = "".join(f'<OutputColumn id="c{k}" quantity="{p}[{i}]/v"/>\n'
                   for k, (p, i) in enumerate(cells) if p not in no_v)  # fmt: skip
    extra = (f'<EventOutputFile id="ns_ev" fileName="{EVENTS}" format="TIME_ID">\n{sel}'
             f'</EventOutputFile>\n<OutputFile id="ns_of" fileName="{VOLTS}">\n{cols}'
             "</OutputFile>\n</Simulation>")
    text = text.replace("</Simulation>", extra)
    dst_dir.mkdir(parents=True, exist_ok=True)
    (dst_dir / "results").mkdir(exist_ok=True)
    out = dst_dir / src.name
    out.write_text(text)
    return out


def run_jnml(lems: Path) -> None:
    pynml = Path(sys.executable).parent / "pynml"
    r = subprocess.run([str(pynml), lems.name, "-nogui"], cwd=lems.parent, capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0 and (lems.parent / EVENTS).exists(), r.stdout[-2000:] + r.stderr


def run_neuroscape(lems: Path) -> None:
    from neuroscape.cli.main import main

    assert main(["simulate", str(lems)]) == 0


def run_both(name: str, edits: dict[str, str] | None, base: Path,
             no_v: tuple[str, ...] = ()) -> dict:
    """The LEMS file ``name`` of DATA (with ``edits``) run by jNeuroML and by neuroscape in
    folders under ``base``; ``compare``'s result per cell (``no_v``: populations without V,
    spike sources)."""
    ref = instrument(DATA / name, base / "jnml", edits, no_v)
    ours = instrument(DATA / name, base / "neuroscape", edits, no_v)
    run_jnml(ref)
    run_neuroscape(ours)
    cells = cells_of(ref.read_text())
    return compare(ref.parent, ours.parent, len(cells),
                   no_v={k for k, (p, _) in enumerate(cells) if p in no_v})


def read_events(folder: Path) -> dict[int, np.ndarray]:
    """Cell number -> spike times (ms)."""
    path = folder / EVENTS
    if path.stat().st_size == 0:
        return {}
    ev = np.loadtxt(path, ndmin=2)
    return {int(k): np.sort(ev[ev[:, 1] == k, 0]) * 1e3 for k in np.unique(ev[:, 1])}


def compare(ref: Path, ours: Path, n_cells: int, window_ms: float = 2.0,
            no_v: set[int] | frozenset = frozenset()) -> dict:
    """Per cell: spike counts, the largest spike-time difference over the first 10 spikes
    (ms) and over all spikes (``all_ms``), and the largest V difference (mV) at samples more
    than ``window_ms`` from every spike of either run, up to the 10th spike (later, a
    first-order difference in a chaotic cell is allowed to grow); 0 for the cells ``no_v`` (no
    V column)."""
    e_ref, e_ours = read_events(ref), read_events(ours)
    v_ref = np.loadtxt(ref / VOLTS, ndmin=2)
    v_ours = np.loadtxt(ours / VOLTS, ndmin=2)
    assert v_ref.shape == v_ours.shape, (v_ref.shape, v_ours.shape)
    assert np.allclose(v_ref[:, 0], v_ours[:, 0], rtol=0, atol=1e-12)
    t = v_ref[:, 0] * 1e3
    out = {}
    for k in range(n_cells):
        a = e_ref.get(k, np.zeros(0))[:10]
        b = e_ours.get(k, np.zeros(0))[:10]
        dt_spk = float(np.max(np.abs(a - b))) if len(a) == len(b) and len(a) else (
            0.0 if len(a) == len(b) else np.inf)
        end = max(a[-1], b[-1]) if len(a) == 10 and len(b) == 10 else np.inf
        near = np.zeros(len(t), dtype=bool)
        for s in np.concatenate([e_ref.get(k, []), e_ours.get(k, [])]):
            near |= np.abs(t - s) <= window_ms
        keep = ~near & (t <= end)
        col = 1 + k - sum(1 for j in no_v if j < k)  # the V columns skip cells without V
        dv = 0.0 if k in no_v else float(
            np.max(np.abs(v_ref[keep, col] - v_ours[keep, col]))) * 1e3
        fa, fb = e_ref.get(k, np.zeros(0)), e_ours.get(k, np.zeros(0))
        all_ms = (float(np.max(np.abs(fa - fb), initial=0.0)) if len(fa) == len(fb)
                  else np.inf)  # fmt: skip
        out[k] = {"n_ref": len(e_ref.get(k, [])), "n_ours": len(e_ours.get(k, [])),
                  "spike_ms": dt_spk, "v_mV": dv, "all_ms": all_ms}  # fmt: skip
    return out


# LEMS_iaf_network.xml's modified copy (the post populations first, so events from later cells
# land in the next step; a connection back, other weights, delays, refractory periods, inputs
# and time constants): text replacements, shared by the LEMS runner's and the engine's tests
IAF_NETWORK_MODIFIED = {
    '<population id="izhpop" component="izh" size="2"/>\n'
    '        <population id="refpop" component="iafref" size="3"/>':
        '<population id="refpop" component="iafref" size="3"/>\n'
        '<population id="izhpop" component="izh" size="2"/>',
    '<population id="pynnpop" component="pynn" size="2"/>':
        '<population id="pynnpop" component="pynn" size="2"/>\n'
        '<synapticConnection from="pynnpop[1]" to="refpop[1]" synapse="icur" '
        'destination="synapses"/>',
    'weight="2"\n                          delay="1.5ms"':
        'weight="3.5"\n                          delay="0.73ms"',
    'refract="3ms"': 'refract="2.2ms"',
    'tauw="40ms" refract="0.5ms"': 'tauw="60ms" refract="0.3ms"',
    'amplitude="0.3nA"': 'amplitude="0.35nA"',
    'finishAmplitude="0.3nA" baselineAmplitude="0nA"':
        'finishAmplitude="0.4nA" baselineAmplitude="0.02nA"',
    'tau_refrac="2.0"': 'tau_refrac="3.0"',
    'tauDecay="3ms"': 'tauDecay="2.2ms"',
}
