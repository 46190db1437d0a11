"""The benchmark page, docs/benchmarks.md, regenerated in one run on this machine.

    python benchmarks/bench_page.py [--out docs/benchmarks.md] [--rounds 3] [--json FILE]
    python benchmarks/bench_page.py --quick [--out FILE]     # a smoke run: small sizes, 1 round

Measures, in this one process (and the whole processes it starts):
- runs/s and neuron-steps/s against the batch size B for the cortical circuit of Zhang, Young &
  Lai (2020), the CUBA network of Brette et al. (2007) and Hodgkin-Huxley neurons, on the CPU
  (and on a CUDA GPU when one is present);
- the same simulations in Brian2 (Stimberg, Brette & Goodman 2019), for the ratios: the circuit
  per simulation in this process and as whole processes (`neuroscape simulate` at B = 256
  against one Brian2 process per simulation), CUBA and COBA with short-term plasticity at
  B = 1 and 16, 10,000 HH neurons for 1 s;
- sweeps into the model database: the 20,000-run training set of Zhang, Young & Lai (2020)
  projected from a timed 2,048-run sweep, and the sweep's overhead over the bare engine
  (`benchmarks/sweep_throughput.py`);
- the floor: the circuit with no random number drawn during the run (see `floor_network`).
Every figure is the median over `--rounds` rounds; the page states the machine and the date.
BrainPy's published COBA and COBAHH benchmarks (Wang et al. 2023) are cited for context.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # the other benchmark scripts, for their functions

BATCHES = (1, 16, 64, 256, 1024)
CLI_BATCH = 256
HH_BAR_NEURONS = 10_000


# --- sizes of a full and of a quick (smoke) run --------------------------------------------------

FULL = {
    "batches": BATCHES,
    "duration_ms": {"cortical": None, "cuba": None, "hh": 1000.0},  # None: the declared one
    "brian2_runs": 3,
    "cli_batch": CLI_BATCH,
    "cli_brian2_processes": 3,
    "network_batches": (1, 16),
    "hh_neurons": HH_BAR_NEURONS,
    "sweep_circuit_n": 2048,
    "sweep_lif_n": 100_000,
    # the overhead is a few % under a host whose single runs vary by 10-15%: more rounds, and
    # most for the LIF case, whose 100,000-run sweep is the 5% bar (its median over 7 rounds
    # read -0.0% and +5.6% on two pages of the same code: the spread of a median of 7)
    "sweep_rounds": 7,
    "sweep_lif_rounds": 15,
    "floor_batch": CLI_BATCH,
    "brian2_target": None,  # Brian2's default: Cython where it compiles
    "quick": False,
}
QUICK = {
    "batches": (1, 16),
    "duration_ms": {"cortical": 300.0, "cuba": 100.0, "hh": 100.0},
    "brian2_runs": 1,
    "cli_batch": 16,
    "cli_brian2_processes": 1,
    "network_batches": (1, 16),
    "hh_neurons": 200,
    "sweep_circuit_n": 32,
    "sweep_lif_n": 512,
    "sweep_rounds": 1,
    "sweep_lif_rounds": 1,
    "floor_batch": 16,
    # no C compiles: Brian2's Cython builds of the circuit, cuba, coba_stp and HH were 150 s of
    # the smoke run's 195 s with empty caches (a test runs it on every CI run)
    "brian2_target": "numpy",
    "quick": True,
}


def median(xs) -> float:
    return float(np.median(np.asarray(xs, dtype=float)))


def brian2_target(prefs_target: str) -> str:
    """The code generation target Brian2 used: what its "auto" resolves to on this machine
    (cython, or numpy when Cython cannot compile)."""
    if prefs_target != "auto":
        return prefs_target
    from brian2.devices.device import auto_target

    return auto_target().class_name


# --- the machine ---------------------------------------------------------------------------------


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """The CPU's name, with its family, model and clock where /proc/cpuinfo gives them (a name
    such as "AMD EPYC" covers generations that differ several-fold in speed), and whether it
    has AVX-512."""
    try:
        info = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
        if "model name" in info:
            extra = [f"family {info[k]}" if k == "cpu family" else f"model {info[k]}"
                     for k in ("cpu family", "model") if k in info]
            if "cpu MHz" in info:
                extra.append(f"{float(info['cpu MHz']):.0f} MHz")
            extra.append("AVX-512" if "avx512f" in info.get("flags", "").split() else
                         "no AVX-512")
            return f"{info['model name']} ({', '.join(extra)})"
    except (OSError, ValueError):
        pass
    return platform.processor() or platform.machine()


def gpu() -> tuple[str | None, str]:
    """(torch device name or None, why none)."""
    try:
        import torch
    except ImportError:
        return None, "not measured: no GPU (PyTorch is not installed)"
    if not torch.cuda.is_available():
        return None, "not measured: no GPU (no CUDA device is visible to PyTorch)"
    return torch.cuda.get_device_name(0), ""


def machine() -> dict:
    import numba

    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    name, why = gpu()
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("neuroscape", "numpy", "numba", "brian2", "torch")},
        "commit": commit or "unknown",
        "gpu": name,
        "gpu_note": why,
        "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# --- runs/s and neuron-steps/s against B ---------------------------------------------------------


def circuit_points(n: int, seed: int) -> np.ndarray:
    """Parameter sets uniform over the circuit's declared box (seeded), as the Brian2
    comparison of `benchmarks/cortical_vs_brian2.py` draws them."""
    from cortical_vs_brian2 import sample

    return sample(n, seed)


def hh_rows(n: int, seed: int = 0):
    """(params (n, p), step amplitudes (uA/cm^2), g_Na, g_K): each neuron its own g_Na, g_K
    (uniform +-20%) and step current (uniform 0-20 uA/cm^2), the protocol of
    `benchmarks/hh_vs_brian2.py`."""
    from neuroscape.models.hh import SPEC

    rng = np.random.default_rng(seed)
    g_na = 120.0 * rng.uniform(0.8, 1.2, n)
    g_k = 36.0 * rng.uniform(0.8, 1.2, n)
    amps = rng.uniform(0.0, 20.0, n)
    p = np.tile(SPEC.params_from_mapping({}), (n, 1))
    p[:, SPEC.parameter_names.index("g_Na")] = g_na
    p[:, SPEC.parameter_names.index("g_K")] = g_k
    return p, amps, g_na, g_k


def _network_neurons(name: str) -> int:
    from neuroscape.models import resolve

    return sum(p.size for p in resolve(name).populations if p.kind == "neuron")


def network_runner(name: str, duration_ms: float | None, device: str = "cpu"):
    """(run(B, round) -> wall s, neurons per run, steps per run, settings) for a network: rows
    of the circuit uniform over its box, rows of CUBA at its defaults (each its own noise
    stream), on the graph of conn_seed 0."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.models import resolve
    from neuroscape.sim.engine import batch_for, run_batch

    spec = resolve(name).spec
    settings = SimSettings.for_model(spec, duration_ms=duration_ms)
    batch = batch_for(name, conn_seed=0)
    warm = SimSettings.for_model(spec, duration_ms=10.0, window_ms=5.0)
    run_batch(batch, [{}], settings=warm, device=device)  # compile or load, outside the timing
    run_batch(batch, [{}], settings=settings, device=device)

    def run(b: int, k: int) -> float:
        p = circuit_points(b, seed=100 + k) if name == "cortical" else [{}] * b
        t0 = time.perf_counter()
        run_batch(batch, p, settings=settings, seed=k, device=device)
        return time.perf_counter() - t0

    return run, _network_neurons(name), settings.n_steps, settings


def hh_runner(duration_ms: float, device: str = "cpu"):
    """The same for HH neurons at the settings a user gets by default (one neuron per row)."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.models.hh import SPEC
    from neuroscape.sim.neuron_engine import simulate_neurons

    settings = SimSettings.for_model(SPEC, duration_ms=duration_ms)
    p, amps, _, _ = hh_rows(2)
    simulate_neurons("hh", p, make_stimulus("step", amp=amps), duration_ms=1.0,
                     record_spikes=False, device=device)  # fmt: skip

    def run(b: int, k: int) -> float:
        p, amps, _, _ = hh_rows(b, seed=k)
        t0 = time.perf_counter()
        simulate_neurons("hh", p, make_stimulus("step", amp=amps), duration_ms=duration_ms,
                         record_spikes=False, device=device)  # fmt: skip
        return time.perf_counter() - t0

    return run, 1, settings.n_steps, settings


def throughput(run, neurons: int, steps: int, batches, rounds: int, label: str, log) -> list:
    """Per B: median wall time (s) over the rounds, runs/s, neuron-steps/s. Rounds are the outer
    loop, so that a slow minute of a shared machine touches every B alike."""
    times = {b: [] for b in batches}
    for k in range(rounds):
        for b in batches:
            times[b].append(run(b, k))
            log(f"{label} B={b} round {k + 1}: {times[b][-1]:.3f} s")
    rows = []
    for b in batches:
        wall = median(times[b])
        rows.append({
            "B": b, "wall_s": wall, "times_s": times[b], "runs_per_s": b / wall,
            "ms_per_run": 1e3 * wall / b, "neuron_steps_per_s": b * neurons * steps / wall,
        })  # fmt: skip
    return rows


def throughput_tables(cfg: dict, rounds: int, device: str, log) -> dict:
    out = {}
    for name in ("cortical", "cuba"):
        run, neurons, steps, s = network_runner(name, cfg["duration_ms"][name], device)
        out[name] = {
            "neurons": neurons, "steps": steps, "duration_ms": s.duration_ms, "dt_ms": s.dt_ms,
            "integrator": s.integrator,
            "rows": throughput(run, neurons, steps, cfg["batches"], rounds, f"{device} {name}",
                               log),
        }  # fmt: skip
    run, neurons, steps, s = hh_runner(cfg["duration_ms"]["hh"], device)
    out["hh"] = {
        "neurons": neurons, "steps": steps, "duration_ms": s.duration_ms, "dt_ms": s.dt_ms,
        "integrator": s.integrator,
        "rows": throughput(run, neurons, steps, cfg["batches"], rounds, f"{device} hh", log),
    }  # fmt: skip
    return out


# --- Brian2, in this process ---------------------------------------------------------------------


def brian2_circuit(cfg: dict, rounds: int, log) -> dict:
    """Seconds per circuit simulation in Brian2 (the whole call: building the network from the
    warm code cache, then running it), at the circuit's settings."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.models.cortical import SPEC
    from neuroscape.models.network import network_graph
    from neuroscape.reference.brian2_circuit import simulate_brian2

    s = SimSettings.for_model(SPEC, duration_ms=cfg["duration_ms"]["cortical"])
    graph = network_graph("cortical", 0)
    kw = {"duration_ms": s.duration_ms, "dt_ms": s.dt_ms, "window_ms": s.window_ms,
          "target": cfg["brian2_target"]}
    p = circuit_points(1 + rounds * cfg["brian2_runs"], seed=1)
    r = simulate_brian2(p[0], graph, seed=0, **kw)  # code generation and compilation
    times = []
    for k in range(rounds * cfg["brian2_runs"]):
        t0 = time.perf_counter()
        simulate_brian2(p[k + 1], graph, seed=k + 1, **kw)
        times.append(time.perf_counter() - t0)
        log(f"brian2 circuit run {k + 1}: {times[-1]:.2f} s")
    return {"s_per_sim": median(times), "times_s": times, "target": brian2_target(r["target"])}


def brian2_networks(cfg: dict, rounds: int, log) -> list:
    """cuba and coba_stp: Brian2 against neuroscape at B = 1 and 16, in wall seconds per
    simulated second of one network, on one exported graph (`networks_vs_brian2.py`)."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.models import resolve
    from neuroscape.models.network import network_graph
    from neuroscape.reference.brian2_networks import coba_stp_brian2, cuba_brian2
    from neuroscape.sim.engine import batch_for, run_batch

    out = []
    for name, ref in (("cuba", cuba_brian2), ("coba_stp", coba_stp_brian2)):
        s = SimSettings.for_model(resolve(name).spec, duration_ms=cfg["duration_ms"]["cuba"])
        sim_s = s.duration_ms * 1e-3
        graph = network_graph(name, conn_seed=0)
        kw = {"duration_ms": s.duration_ms, "dt_ms": s.dt_ms, "window_ms": s.window_ms,
              "target": cfg["brian2_target"]}
        r = ref(graph, None, seed=0, **kw)  # code generation and compilation
        batch = batch_for(name, connectivity=graph)
        run_batch(batch, [{}], settings=s)  # compile or load
        b2, ours = [], {b: [] for b in cfg["network_batches"]}
        for k in range(rounds):
            for _ in range(cfg["brian2_runs"]):
                t0 = time.perf_counter()
                ref(graph, None, seed=k + 1, **kw)
                b2.append((time.perf_counter() - t0) / sim_s)
            for b in cfg["network_batches"]:
                t0 = time.perf_counter()
                run_batch(batch, [{}] * b, settings=s, seed=k)
                ours[b].append((time.perf_counter() - t0) / (b * sim_s))
            log(f"{name} round {k + 1}: brian2 {b2[-1]:.3f} s/s, neuroscape "
                + ", ".join(f"B={b} {v[-1]:.3f} s/s" for b, v in ours.items()))  # fmt: skip
        med = median(b2)
        out.append({
            "network": name, "duration_ms": s.duration_ms, "integrator": s.integrator,
            "brian2_s_per_s": med, "brian2_times": b2, "target": brian2_target(r["target"]),
            "neuroscape_s_per_s": {b: median(v) for b, v in ours.items()},
            "ratio": {b: med / median(v) for b, v in ours.items()},
        })  # fmt: skip
    return out


def brian2_hh(cfg: dict, rounds: int, log) -> dict:
    """N HH neurons for 1 s: Brian2 (exponential Euler at 0.025 ms, its default target; the
    protocol and code of `benchmarks/hh_vs_brian2.py`) against neuroscape's default settings,
    alternating, the ratio per round."""
    from hh_vs_brian2 import brian2_run

    from neuroscape.core.settings import SimSettings
    from neuroscape.core.stimuli import make_stimulus
    from neuroscape.models.hh import SPEC
    from neuroscape.sim.neuron_engine import simulate_neurons

    n, dur, b2_dt = cfg["hh_neurons"], cfg["duration_ms"]["hh"], 0.025
    p, amps, g_na, g_k = hh_rows(n)
    stim = make_stimulus("step", amp=amps)
    default = SimSettings.for_model(SPEC, duration_ms=dur)
    simulate_neurons("hh", p[:2], make_stimulus("step", amp=amps[:2]), duration_ms=1.0)
    rounds_out = []
    for k in range(rounds):
        t_b2, n_b2 = brian2_run(g_na, g_k, amps, dur, b2_dt, target=cfg["brian2_target"])
        t0 = time.perf_counter()
        r = simulate_neurons("hh", p, stim, duration_ms=dur, record_spikes=False)
        t_ns = time.perf_counter() - t0
        rounds_out.append({"brian2_s": t_b2, "neuroscape_s": t_ns, "ratio": t_b2 / t_ns,
                           "spikes_brian2": int(n_b2),
                           "spikes_neuroscape": int(np.sum(r.total_counts))})  # fmt: skip
        log(f"hh {n} neurons round {k + 1}: brian2 {t_b2:.2f} s, neuroscape {t_ns:.2f} s")
    return {
        "neurons": n, "duration_ms": dur, "brian2_dt_ms": b2_dt,
        "integrator": default.integrator, "dt_ms": default.dt_ms, "rounds": rounds_out,
        "brian2_s": median([r["brian2_s"] for r in rounds_out]),
        "neuroscape_s": median([r["neuroscape_s"] for r in rounds_out]),
        "ratio": median([r["ratio"] for r in rounds_out]),
    }  # fmt: skip


# --- the circuit as whole processes --------------------------------------------------------------

# One Brian2 simulation as a whole process: Brian2, NumPy and the reference implementation
# (loaded from its file, without the neuroscape package, whose imports a Brian2 user would not
# pay), the graph from an NPZ file, one run.
_BRIAN2_PROCESS = textwrap.dedent(
    """
    import importlib.util, json, sys, types
    import numpy as np
    for name in ("neuroscape", "neuroscape.core", "neuroscape.core.connectivity"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["neuroscape.core.connectivity"].Connectivity = object
    spec = importlib.util.spec_from_file_location("brian2_circuit", sys.argv[1])
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    with np.load(sys.argv[2]) as z:
        conn = types.SimpleNamespace(n_e=int(z["N_E"]), n_i=int(z["N_I"]),
                                     edges={k: z[k] for k in z.files if "_to_" in k})
    a = json.loads(sys.argv[3])
    r = ref.simulate_brian2(np.array(a["params"]), conn, seed=a["seed"],
                            duration_ms=a["duration_ms"], dt_ms=a["dt_ms"],
                            window_ms=a["window_ms"], target=a["target"])
    target = r["target"]
    if target == "auto":  # what "auto" chose (cached by now: no cost in the timing)
        from brian2.devices.device import auto_target
        target = auto_target().class_name
    print(json.dumps({"r_E": r["r_E"], "r_I": r["r_I"], "target": target}))
    """
)


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("neuroscape")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "neuroscape.cli.main"]


def _timed_process(cmd: list[str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {p.returncode}: {' | '.join(tail)}")
    return wall, p.stdout


def circuit_processes(cfg: dict, rounds: int, log) -> dict:
    """`neuroscape simulate cortical --params P.csv --out O.csv` at B rows (wall time of the
    whole process / B) against one whole Brian2 process per simulation (code cache warm: one
    untimed process first)."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.models.cortical import SPEC
    from neuroscape.models.network import network_graph
    from neuroscape.reference import brian2_circuit

    b = cfg["cli_batch"]
    s = SimSettings.for_model(SPEC, duration_ms=cfg["duration_ms"]["cortical"])
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        graph = network_graph("cortical", 0).save(d / "graph.npz")
        pts = circuit_points(b, seed=3)
        lines = [",".join(SPEC.parameter_names)] + [",".join(map(repr, r)) for r in pts.tolist()]
        (d / "P.csv").write_text("\n".join(lines) + "\n")
        cli = [*_cli(), "simulate", "cortical", "--params", "P.csv", "--out", "O.csv",
               "--duration-ms", str(s.duration_ms), "--window-ms", str(s.window_ms), "--quiet"]
        b2 = [sys.executable, "-c", _BRIAN2_PROCESS, str(Path(brian2_circuit.__file__)),
              str(graph)]  # fmt: skip

        def b2_args(k):
            return json.dumps({"params": pts[k % b].tolist(), "seed": k, "duration_ms":
                               s.duration_ms, "dt_ms": s.dt_ms, "window_ms": s.window_ms,
                               "target": cfg["brian2_target"]})

        _timed_process(cli, d)  # the numba cache of this kernel, outside the timing
        _timed_process([*b2, b2_args(0)], d)  # Brian2's Cython cache
        ours, theirs, target = [], [], None
        for k in range(rounds):
            ours.append(_timed_process(cli, d)[0] / b)
            for j in range(cfg["cli_brian2_processes"]):
                wall, text = _timed_process([*b2, b2_args(1 + k * 10 + j)], d)
                theirs.append(wall)
                target = json.loads(text.strip().splitlines()[-1])["target"]
            log(f"processes round {k + 1}: neuroscape {1e3 * ours[-1]:.1f} ms per run (B={b}), "
                f"brian2 {theirs[-1]:.2f} s per process")  # fmt: skip
        rows = sum(1 for _ in open(d / "O.csv")) - 1
    if rows != b:
        raise RuntimeError(f"neuroscape simulate wrote {rows} rows for {b} parameter sets")
    return {
        "B": b, "duration_ms": s.duration_ms, "neuroscape_s_per_run": median(ours),
        "neuroscape_times": ours, "brian2_s_per_process": median(theirs),
        "brian2_times": theirs, "ratio": median(theirs) / median(ours), "target": target,
    }  # fmt: skip


# --- the floor -----------------------------------------------------------------------------------


def floor_network():
    """The circuit with no random number drawn during the run: its network file with each
    Poisson drive (external and ambient) replaced by its mean, a constant rate of rise of g_E
    (rate x kick, e.g. (eta_ext_E S_EE + eta_amb S_dr)/tau_E for E cells), and the E->E
    failure factor beta ~ U[0.8, 1] by its mean 0.9. Same neurons, step, integrator, graph
    and spike delivery; the initial V are still drawn (once per neuron at t = 0)."""
    from importlib.resources import files

    import yaml

    from neuroscape.models.network.description import network_model

    text = files("neuroscape.models.network.library").joinpath("cortical.yaml").read_text()
    d = copy.deepcopy(yaml.safe_load(text))
    d["name"] = "cortical_floor"
    cell = copy.deepcopy(d["populations"]["E"]["model"])
    cell["name"] = "cortical_cell_mean_drive"
    old = "dg_E/dt = -g_E/(2*ms) : 1/ms"
    if old not in cell["equations"]:
        raise RuntimeError(f"the circuit's file no longer has {old!r}: update floor_network")
    cell["equations"] = cell["equations"].replace(old, "dg_E/dt = -g_E/(2*ms) + D : 1/ms")
    cell["parameters"] = {"D": {"default": "0 1/ms**2", "low": "0 1/ms**2", "high": "1 1/ms**2"}}
    d["derived"]["D_E"] = "(eta_ext_E*S_EE + eta_amb*S_dr)/tau_E"
    d["derived"]["D_I"] = "(eta_ext_I*S_IE + eta_amb*S_dr)/tau_E"
    d["populations"] = {
        pop: {"size": d["populations"][pop]["size"], "model": cell, "params": {"D": f"D_{pop}"},
              "initial": d["populations"][pop]["initial"]}
        for pop in ("E", "I")
    }  # fmt: skip
    d["projections"]["E_to_E"]["on_pre"] = "g_E += S_EE/tau_E*(1 + beta_low)/2"
    del d["inputs"]
    return network_model(d)


def floor(cfg: dict, rounds: int, log) -> dict:
    """ms per run of `floor_network` and of the circuit, alternating, at the same B, points
    and graph; their mean rates (the spike traffic each delivered)."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.models.cortical import SPEC
    from neuroscape.models.network import network_graph
    from neuroscape.sim.engine import batch_for, run_batch

    b = cfg["floor_batch"]
    s = SimSettings.for_model(SPEC, duration_ms=cfg["duration_ms"]["cortical"])
    graph = network_graph("cortical", 0)
    batches = {"floor": batch_for(floor_network(), connectivity=graph),
               "circuit": batch_for("cortical", connectivity=graph)}  # fmt: skip
    warm = SimSettings.for_model(SPEC, duration_ms=10.0, window_ms=5.0)
    times = {k: [] for k in batches}
    rates = {}
    for m in batches.values():
        run_batch(m, [{}], settings=warm)
        run_batch(m, [{}], settings=s)
    p = circuit_points(b, seed=4)
    for k in range(rounds):
        for name, m in batches.items():
            t0 = time.perf_counter()
            res = run_batch(m, p, settings=s, seed=k)
            times[name].append((time.perf_counter() - t0) / b)
            rates[name] = (float(np.nanmean(res["r_E"])), float(np.nanmean(res["r_I"])))
        log(f"floor round {k + 1}: {1e3 * times['floor'][-1]:.2f} ms per run, circuit "
            f"{1e3 * times['circuit'][-1]:.2f} ms per run")  # fmt: skip
    return {
        "B": b, "duration_ms": s.duration_ms,
        "floor_ms_per_run": 1e3 * median(times["floor"]),
        "circuit_ms_per_run": 1e3 * median(times["circuit"]),
        "floor_rates_hz": rates["floor"], "circuit_rates_hz": rates["circuit"],
    }  # fmt: skip


# --- sweeps --------------------------------------------------------------------------------------


def sweeps(cfg: dict, rounds: int, log) -> dict:
    from sweep_throughput import circuit_case, lif_case

    from neuroscape.core.settings import SimSettings
    from neuroscape.models.cortical import SPEC

    settings = SimSettings.for_model(SPEC, duration_ms=cfg["duration_ms"]["cortical"])
    return {
        "circuit": circuit_case(cfg["sweep_circuit_n"], max(rounds, cfg["sweep_rounds"]),
                                settings=settings, log=log),
        "lif": lif_case(cfg["sweep_lif_n"], max(rounds, cfg["sweep_lif_rounds"]), log=log),
    }


# --- the page ------------------------------------------------------------------------------------

BRAINPY = (
    "Wang, Zhang, Chen, He, Li and Wu (2023), *BrainPy, a flexible, integrative, efficient, and "
    "extensible framework for general-purpose brain dynamics programming*, eLife 12:e86365 "
    "(https://doi.org/10.7554/eLife.86365), benchmark two networks in their Figure 8: COBA "
    "(Vogels and Abbott 2005; 4,000 leaky integrate-and-fire neurons with conductance synapses, "
    "scaled up) and COBAHH (Brette et al. 2007, benchmark 3: the same network of "
    "Hodgkin-Huxley neurons), one network of growing size per run, on CPU, GPU and TPU, against "
    "Brian2, NEST, NEURON and others (their scripts: "
    "https://github.com/brainpy/brainpy-elife-reproducibility, folders figure8A and figure8B). "
    "Their timings could not be read here as numbers (they are given in the figure), so none is "
    "quoted; their protocol also differs from the one above: one large network per run, where "
    "neuroscape runs many small networks that differ in their parameters."
)


def _si(x: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.3g} "


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _model_title(name: str, t: dict) -> str:
    what = {
        "cortical": "The cortical circuit (Zhang, Young & Lai 2020)",
        "cuba": "CUBA (Brette et al. 2007, benchmark 2)",
        "hh": "Hodgkin-Huxley neurons (Hodgkin and Huxley 1952), one per row",
    }[name]
    per = "neuron" if t["neurons"] == 1 else "neurons"
    scheme = t["integrator"] + (" (chosen per population)" if t["integrator"] == "auto" else "")
    return (f"{what}: {t['neurons']:,} {per} per run, {t['duration_ms']:g} ms at "
            f"{t['dt_ms']:g} ms ({t['steps']:,} steps), {scheme}")  # fmt: skip


def _throughput_section(tables: dict) -> list[str]:
    lines = []
    for name, t in tables.items():
        lines += ["", f"**{_model_title(name, t)}**", ""]
        lines += _table(
            ["B", "runs/s", "ms per run", "neuron-steps/s"],
            [[str(r["B"]), f"{r['runs_per_s']:.4g}", f"{r['ms_per_run']:.4g}",
              _si(r["neuron_steps_per_s"])] for r in t["rows"]],  # fmt: skip
        )
    return lines


def render(res: dict) -> str:
    """The page (Markdown) from the results of one run."""
    m, cfg = res["machine"], res["config"]
    v = m["versions"]
    lines = ["# Benchmarks", ""]
    if cfg["quick"]:
        lines += ["> **Quick mode**: a smoke run with small sizes and short runs, Brian2 on its "
                  "`numpy` target; these are not benchmark figures.", ""]  # fmt: skip
    lines += [
        f"Regenerated by `benchmarks/bench_page.py` (`./dev bench`) on {m['date_utc']} in "
        f"{res['total_s'] / 60:.1f} min, neuroscape {v['neuroscape']} (commit {m['commit']}). "
        f"Every figure is the median over {res['rounds']} round(s), all measured in this one run.",
        "",
        "## Machine",
        "",
        *_table(["", ""], [
            ["CPU", m["cpu"]],
            ["cores", f"{m['logical_cores']} logical, {m['usable_cores']} usable by this "
                      f"process, {m['numba_threads']} numba threads"],
            ["system", f"{m['os']}, Python {m['python']}"],
            ["versions", f"numpy {v['numpy']}, numba {v['numba']}, brian2 {v['brian2']}, "
                         f"torch {v['torch']}"],
            ["GPU", m["gpu"] or m["gpu_note"]],
            ["load average (1, 5, 15 min)",
             f"{_load(m['load_average_start'])} at the start, {_load(res['load_average_end'])} "
             "at the end"],
        ]),  # fmt: skip
        "",
        "## Throughput against the batch size B (CPU)",
        "",
        "B parameter sets run as one batch (`run_batch`; every row its own noise stream). runs/s "
        "= B / wall time of the batch; neuron-steps/s = B x neurons x steps / wall time, with "
        "steps = duration / dt (for an adaptive integrator, dt is its declared step). Circuit "
        "rows are uniform over its declared parameter box, CUBA rows at its defaults, HH rows "
        "each with its own g_Na, g_K (uniform +-20%) and step current (uniform 0-20 uA/cm^2), at "
        "the settings a user gets by default.",
        *_throughput_section(res["cpu"]),
        "",
        "## Throughput on a GPU",
        "",
    ]
    if res.get("gpu"):
        lines += [f"Device: {m['gpu']} (`device='cuda'`)."]
        lines += _throughput_section(res["gpu"])
    else:
        lines += [m["gpu_note"] or res.get("gpu_error", "not measured")]
    c, cp, nets, hh = res["brian2_circuit"], res["processes"], res["brian2_networks"], res["hh"]
    circ = {r["B"]: r for r in res["cpu"]["cortical"]["rows"]}
    lines += [
        "",
        "## Against Brian2 (same run)",
        "",
        f"Brian2 {v['brian2']}, code generation target `{c['target']}`, its code cache warm. "
        "A ratio is Brian2's time over neuroscape's (above 1: neuroscape is faster).",
        "",
        f"**The circuit as whole processes.** `neuroscape simulate cortical --params P.csv --out "
        f"O.csv` with {cp['B']} parameter sets ({cp['duration_ms']:g} ms each): "
        f"{1e3 * cp['neuroscape_s_per_run']:.1f} ms per run (the process's wall time / "
        f"{cp['B']}). Brian2: one whole `python -c` process per simulation (importing Brian2 "
        "and the reference implementation `neuroscape/reference/brian2_circuit.py` without the "
        "neuroscape package, reading the same graph from an NPZ file, one run): "
        f"{cp['brian2_s_per_process']:.2f} s. **Ratio: {cp['ratio']:.0f}x.**",
        "",
        f"**The circuit per simulation in this process.** Brian2: {c['s_per_sim']:.2f} s per "
        "call (building the network from the cached code, then running it); neuroscape per run "
        "at each B of the table above:",
        "",
        *_table(["B", "neuroscape ms per run", "ratio"],
                [[str(b), f"{r['ms_per_run']:.3g}", f"{c['s_per_sim'] / (r['wall_s'] / b):.0f}x"]
                 for b, r in circ.items()]),  # fmt: skip
        "",
        "**CUBA and COBA with short-term plasticity** (Brette et al. 2007; Stimberg et al. 2019, "
        "Fig. 1), on one exported graph, at their defaults; wall seconds per simulated second of "
        "one network:",
        "",
    ]
    bs = sorted(nets[0]["ratio"]) if nets else []
    lines += _table(
        ["network", "Brian2 s/s", *[f"neuroscape B={b} s/s" for b in bs],
         *[f"ratio B={b}" for b in bs]],
        [[n["network"], f"{n['brian2_s_per_s']:.3g}",
          *[f"{n['neuroscape_s_per_s'][b]:.3g}" for b in bs],
          *[f"{n['ratio'][b]:.1f}x" for b in bs]] for n in nets],
    )  # fmt: skip
    lines += [
        "",
        f"**{hh['neurons']:,} HH neurons for {hh['duration_ms']:g} ms**, each with its own "
        "g_Na, g_K and step current: Brian2 (exponential Euler at "
        f"{hh['brian2_dt_ms']:g} ms) {hh['brian2_s']:.2f} s; neuroscape with the settings a user "
        f"gets by default ({hh['integrator']} at {hh['dt_ms']:g} ms) {hh['neuroscape_s']:.2f} s. "
        f"**Ratio: {hh['ratio']:.1f}x** (median of the per-round ratios).",
        "",
        "## Sweeps into the model database",
        "",
    ]
    sw_c, sw_l = res["sweeps"]["circuit"], res["sweeps"]["lif"]
    lines += [
        f"A sweep (`run_sweep`: crash-safe, every chunk one SQLite transaction, progress bar "
        f"on) against the bare engine (`run_batch`) on the same points and seed; the "
        f"database holds exactly the engine's outputs (checked row by row: "
        f"{'yes' if sw_c['identical_outputs'] and sw_l['identical_outputs'] else 'NO'}).",
        "",
        *_table(
            ["model", "runs", "engine runs/s", "sweep runs/s", "overhead (wall)",
             "overhead (CPU time)", "the sweep's own work"],
            [[what, f"{r['n']:,}", f"{r['engine_runs_per_s']:.4g}",
              f"{r['sweep_runs_per_s']:.4g}", f"{100 * r['overhead']:+.1f}%",
              f"{100 * r['cpu_overhead']:+.1f}%", f"{100 * r['own_overhead']:.1f}%"]
             for what, r in (("circuit (Zhang, Young & Lai 2020)", sw_c),
                             ("LIF, 1 s under a 2-nA step", sw_l))],
        ),  # fmt: skip
        "",
        f"Overheads: medians over {len(sw_c['rounds'])} (circuit) and {len(sw_l['rounds'])} "
        "(LIF) rounds of the sweep's time over the "
        "engine's, minus 1, timed one after the other (which goes first alternates); the "
        "sweep's own work: its wall time less the time inside its engine calls, over that engine "
        "time (both in the same seconds, so a busy machine cannot skew it).",
        "",
        f"**20,000 circuit runs into the database** (the training set of Zhang, Young & Lai "
        f"2020), projected from the timed {sw_c['n']:,}-run sweep of "
        f"{sw_c['duration_ms']:g}-ms runs: "
        f"**{sw_c['projected_training_set_min']:.2f} min**.",
        "",
        "## The floor",
        "",
    ]
    fl = res["floor"]
    lines += [
        "The circuit's arithmetic with no random number drawn during the run: the same network "
        "file with each Poisson drive replaced by its mean (a constant rise of g_E: rate x kick "
        "/ tau_E) and the E->E failure factor by its mean (0.9); same neurons, integrator, step, "
        "graph and spike delivery (`floor_network` in the script). At B = "
        f"{fl['B']}, {fl['duration_ms']:g} ms per run: **{fl['floor_ms_per_run']:.2f} ms per "
        f"run**, against {fl['circuit_ms_per_run']:.2f} ms per run for the circuit itself "
        "(same points, graph and B, alternating). The spike traffic differs a little: mean rates "
        f"r_E {fl['floor_rates_hz'][0]:.1f} Hz, r_I {fl['floor_rates_hz'][1]:.1f} Hz with the "
        f"mean drive, {fl['circuit_rates_hz'][0]:.1f} Hz and {fl['circuit_rates_hz'][1]:.1f} Hz "
        "with the Poisson drive.",
        "",
        "## For context: BrainPy's COBA and COBAHH benchmarks",
        "",
        BRAINPY,
        "",
        "## How it was measured",
        "",
        "- Rounds are the outer loop (every B, then the next round), so that a slow minute of a "
        "shared machine touches every size alike; each figure is the median over the rounds.",
        "- Compilation is outside every timing: each kernel is compiled (or loaded from numba's "
        "cache) once before the rounds; Brian2 runs once before its timed runs.",
        "- Brian2 and neuroscape simulate the same protocol on the same graph (conn_seed 0) with "
        "their own random numbers; their agreement is tested elsewhere (tests/reference).",
        "- The sweep rows: `benchmarks/sweep_throughput.py` (wall and CPU time of every thread "
        "of the process).",
        f"- Command: `python benchmarks/bench_page.py{' --quick' if cfg['quick'] else ''}"
        f" --rounds {res['rounds']}`.",
        "",
    ]
    return "\n".join(lines)


def _load(la) -> str:
    return "n/a" if la is None else ", ".join(f"{x:.2f}" for x in la)


# --- the run -------------------------------------------------------------------------------------


def run_all(cfg: dict, rounds: int, log=print) -> dict:
    """Every measurement of the page, in this order; returns the results `render` takes."""
    t0 = time.perf_counter()
    res = {"config": {k: v for k, v in cfg.items() if k != "duration_ms"}, "rounds": rounds,
           "machine": machine()}  # fmt: skip
    res["cpu"] = throughput_tables(cfg, rounds, "cpu", log)
    if res["machine"]["gpu"]:
        try:
            res["gpu"] = throughput_tables(cfg, rounds, "cuda", log)
        except Exception as exc:  # stated on the page, not hidden
            res["gpu"] = None
            res["machine"]["gpu_note"] = f"GPU present but its measurement failed: {exc}"
    res["processes"] = circuit_processes(cfg, rounds, log)
    res["brian2_circuit"] = brian2_circuit(cfg, rounds, log)
    res["brian2_networks"] = brian2_networks(cfg, rounds, log)
    res["hh"] = brian2_hh(cfg, rounds, log)
    res["floor"] = floor(cfg, rounds, log)
    res["sweeps"] = sweeps(cfg, rounds, log)
    res["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    res["total_s"] = time.perf_counter() - t0
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: small sizes, short runs")
    ap.add_argument("--out", type=Path, default=None,
                    help="the page (default: docs/benchmarks.md; with --quick "
                         "out/benchmarks_quick.md)")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds per figure (default: 3; with --quick 1)")  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write every measurement as JSON")
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        ap.error(f"--rounds {rounds}; allowed: >= 1")
    out = args.out or (ROOT / ("out/benchmarks_quick.md" if args.quick else "docs/benchmarks.md"))
    try:
        import brian2  # noqa: F401
    except ImportError:
        print("bench_page: Brian2 is needed for the ratios: pip install -e '.[dev]'",
              file=sys.stderr)  # fmt: skip
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    res = run_all(cfg, rounds, log)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    print(f"wrote {out}; total {res['total_s']:.0f} s ({res['total_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
