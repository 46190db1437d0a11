"""The shipped networks ``cuba``, ``coba_stp`` and ``song2000`` written in Brian2, as independent
references on a given graph (tests and benchmarks).

Each follows Brian2's own example (``examples/CUBA.py``; Stimberg et al. 2018,
``examples/frompapers/Stimberg_et_al_2018/example_1_COBA.py``; Song, Miller & Abbott 2000,
``examples/synapses/STDP.py``), with two changes: connectivity comes from the caller's graph (one
``NeuronGroup`` per population, ``Synapses.connect(i=pre, j=post)`` per projection) and parameters
may be changed. Needs the ``dev`` extra (brian2).

A graph is a path to an NPZ file (one ``(2, n)`` int array per projection, row 0 presynaptic and
row 1 postsynaptic index within their populations, plus int scalars ``N_<POP>``), a mapping
``{"edges": {proj: (2, n) array}, "sizes": {pop: int}}``, or an object with ``.edges`` and
``.sizes``.
Rates count the spikes on the steps whose time t = n*dt lies in [duration - window, duration).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import numpy as np


class Brian2ReferenceError(ValueError):
    """A bad graph or parameter given to a Brian2 reference (one line)."""


# name -> default, in the units of the network description (mV, nS, pA, 1/s, Hz, 1)
CUBA_DEFAULTS = {"w_e": 1.62, "w_i": -9.0, "E_l": -49.0}
COBA_STP_DEFAULTS = {
    "w_e": 0.05,
    "w_i": 1.0,
    "U_0": 0.6,
    "Omega_d": 2.0,
    "Omega_f": 3.33,
    "I_ex": 150.0,
}
SONG2000_DEFAULTS = {"F": 15.0, "gmax": 0.01, "A_pre": 0.01, "B": 1.05}
EI_PROJECTIONS = ("E_to_E", "E_to_I", "I_to_E", "I_to_I")


def _params(given: Mapping | None, defaults: dict, net: str) -> dict:
    given = dict(given or {})
    bad = sorted(set(given) - set(defaults))
    if bad:
        raise Brian2ReferenceError(
            f"{net}: unknown parameter {bad[0]!r}; allowed: {', '.join(defaults)}"
        )
    return {k: float(given.get(k, v)) for k, v in defaults.items()}


def load_graph(graph) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """(edges, sizes) of a graph given as an NPZ path, a mapping or a Graph-like object."""
    if isinstance(graph, (str, os.PathLike)):
        with np.load(graph) as z:
            sizes = {k[2:]: int(z[k]) for k in z.files if z[k].ndim == 0 and k.startswith("N_")}
            edges = {k: np.asarray(z[k]) for k in z.files if z[k].ndim != 0}
    elif isinstance(graph, Mapping):
        edges, sizes = dict(graph["edges"]), dict(graph["sizes"])
    else:
        edges, sizes = dict(graph.edges), dict(graph.sizes)
    edges = {k: np.asarray(v) for k, v in edges.items()}
    return edges, {k: int(v) for k, v in sizes.items()}


def _check_graph(edges, sizes, pops: tuple, projs: dict, net: str) -> None:
    """``projs``: projection -> (pre population, post population)."""
    for p in pops:
        if p not in sizes or sizes[p] < 1:
            raise Brian2ReferenceError(f"{net}: graph lacks a positive size N_{p}")
    if set(edges) != set(projs):
        raise Brian2ReferenceError(
            f"{net}: graph projections {sorted(edges)}; expected {sorted(projs)}"
        )
    for name, (pre, post) in projs.items():
        e = edges[name]
        if e.ndim != 2 or e.shape[0] != 2 or not np.issubdtype(e.dtype, np.integer):
            raise Brian2ReferenceError(f"{net}: {name} must be an int array of shape (2, n)")
        if e.size and (e.min() < 0 or e[0].max() >= sizes[pre] or e[1].max() >= sizes[post]):
            raise Brian2ReferenceError(
                f"{net}: {name} has an index outside N_{pre}={sizes[pre]} / N_{post}={sizes[post]}"
            )


def _setup(seed: int, dt_ms: float, target: str | None):
    import brian2 as b2

    b2.start_scope()
    if target is None:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        target = "cython" if CythonCodeObject.is_available() else "numpy"
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = dt_ms * b2.ms
    b2.seed(seed)
    return b2


def _synapses(b2, groups, edges, name, namespace, **kw):
    """One ``Synapses`` for projection ``name`` (``PRE_to_POST``) wired as in the graph."""
    pre, post = name.split("_to_")
    s = b2.Synapses(groups[pre], groups[post], namespace=namespace, name=f"syn_{name}", **kw)
    i, j = edges[name]
    if i.size:
        s.connect(i=i.astype(np.int64), j=j.astype(np.int64))
    else:  # Brian2 refuses empty index arrays and unconnected active Synapses
        s.active = False
    return s


def _run(b2, objects, duration_ms: float) -> float:
    net = b2.Network(*objects)
    t0 = time.perf_counter()
    net.run(duration_ms * b2.ms)
    return time.perf_counter() - t0


def _rate(b2, mon, n: int, duration_ms: float, dt_ms: float, window_ms: float) -> float:
    """Spikes per neuron per second (Hz) on the steps of the last window_ms."""
    steps = np.round(np.asarray(mon.t / b2.ms) / dt_ms)
    first = round((duration_ms - window_ms) / dt_ms)
    return float(np.count_nonzero(steps >= first)) / n / (window_ms * 1e-3)


def _run_rates(b2, groups: dict, syn: list, sizes: dict, duration_ms: float, dt_ms: float,
               window_ms: float) -> tuple[dict, dict]:
    """Runs the groups and synapses with a spike monitor per population: r_POP (Hz) over the
    last window, wall_time_s, target; and the monitors by population."""
    mons = {pop: b2.SpikeMonitor(g) for pop, g in groups.items()}
    wall = _run(b2, [*groups.values(), *syn, *mons.values()], duration_ms)
    out = {
        f"r_{pop}": _rate(b2, mons[pop], sizes[pop], duration_ms, dt_ms, window_ms)
        for pop in groups
    }
    return {**out, "wall_time_s": wall, "target": b2.prefs.codegen.target}, mons


def _check_settings(duration_ms, dt_ms, window_ms, net):
    if not (dt_ms > 0 and duration_ms > 0 and 0 < window_ms <= duration_ms):
        raise Brian2ReferenceError(
            f"{net}: need dt_ms > 0 and 0 < window_ms <= duration_ms, "
            f"got dt_ms={dt_ms}, duration_ms={duration_ms}, window_ms={window_ms}"
        )


def cuba_brian2(
    graph,
    params: Mapping | None = None,
    seed: int = 0,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.1,
    window_ms: float = 500.0,
    target: str | None = None,
) -> dict:
    """CUBA benchmark (Brette et al. 2007, benchmark 2) on ``graph`` (E, I; four projections).

    ``params``: w_e (mV), w_i (mV), E_l (mV). Returns r_E, r_I (Hz), wall_time_s (s), target.
    """
    p = _params(params, CUBA_DEFAULTS, "cuba")
    _check_settings(duration_ms, dt_ms, window_ms, "cuba")
    edges, sizes = load_graph(graph)
    projs = {n: tuple(n.split("_to_")) for n in EI_PROJECTIONS}
    _check_graph(edges, sizes, ("E", "I"), projs, "cuba")
    b2 = _setup(seed, dt_ms, target)
    mV, ms = b2.mV, b2.ms
    ns = {
        "taum": 20 * ms,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "Vt": -50 * mV,
        "Vr": -60 * mV,
        "El": p["E_l"] * mV,
        "we": p["w_e"] * mV,
        "wi": p["w_i"] * mV,
    }
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    groups = {}
    for pop in ("E", "I"):
        g = b2.NeuronGroup(
            sizes[pop],
            eqs,
            threshold="v>Vt",
            reset="v = Vr",
            refractory=5 * ms,
            method="exact",
            namespace=ns,
            name=f"pop_{pop}",
        )
        g.v = "Vr + rand() * (Vt - Vr)"
        g.ge = 0 * mV
        g.gi = 0 * mV
        groups[pop] = g
    syn = [
        _synapses(b2, groups, edges, n, ns, on_pre="ge += we" if n[0] == "E" else "gi += wi")
        for n in EI_PROJECTIONS
    ]
    out, _ = _run_rates(b2, groups, syn, sizes, duration_ms, dt_ms, window_ms)
    return out


def coba_stp_brian2(
    graph,
    params: Mapping | None = None,
    seed: int = 0,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.1,
    window_ms: float = 500.0,
    target: str | None = None,
) -> dict:
    """COBA network with Tsodyks-Markram synapses (Stimberg et al. 2018, Fig. 1) on ``graph``.

    ``params``: w_e, w_i (nS), U_0 (1), Omega_d, Omega_f (1/s), I_ex (pA).
    Returns r_E, r_I (Hz), wall_time_s (s), target.
    """
    p = _params(params, COBA_STP_DEFAULTS, "coba_stp")
    _check_settings(duration_ms, dt_ms, window_ms, "coba_stp")
    edges, sizes = load_graph(graph)
    projs = {n: tuple(n.split("_to_")) for n in EI_PROJECTIONS}
    _check_graph(edges, sizes, ("E", "I"), projs, "coba_stp")
    b2 = _setup(seed, dt_ms, target)
    mV, ms, nS = b2.mV, b2.ms, b2.nS
    ns = {
        "E_l": -60 * mV,
        "g_l": 9.99 * nS,
        "E_e": 0 * mV,
        "E_i": -80 * mV,
        "C_m": 198 * b2.pF,
        "tau_e": 5 * ms,
        "tau_i": 10 * ms,
        "tau_r": 5 * ms,
        "I_ex": p["I_ex"] * b2.pA,
        "V_th": -50 * mV,
        "V_r": -60 * mV,
        "w_e": p["w_e"] * nS,
        "w_i": p["w_i"] * nS,
        "U_0": p["U_0"],
        "Omega_d": p["Omega_d"] / b2.second,
        "Omega_f": p["Omega_f"] / b2.second,
    }
    eqs = """
    dv/dt = (g_l*(E_l-v) + g_e*(E_e-v) + g_i*(E_i-v) + I_ex)/C_m : volt (unless refractory)
    dg_e/dt = -g_e/tau_e : siemens
    dg_i/dt = -g_i/tau_i : siemens
    """
    groups = {}
    for pop in ("E", "I"):
        g = b2.NeuronGroup(
            sizes[pop],
            eqs,
            threshold="v>V_th",
            reset="v=V_r",
            refractory="tau_r",
            method="euler",
            namespace=ns,
            name=f"pop_{pop}",
        )
        g.v = "E_l + rand()*(V_th-E_l)"
        g.g_e = "rand()*w_e"
        g.g_i = "rand()*w_i"
        groups[pop] = g
    syn_eqs = """
    du_S/dt = -Omega_f * u_S     : 1 (event-driven)
    dx_S/dt = Omega_d *(1 - x_S) : 1 (event-driven)
    """
    action = "u_S += U_0 * (1 - u_S)\nr_S = u_S * x_S\nx_S -= r_S\n"
    syn = []
    for n in EI_PROJECTIONS:
        effect = "g_e_post += w_e*r_S" if n[0] == "E" else "g_i_post += w_i*r_S"
        s = _synapses(b2, groups, edges, n, ns, model=syn_eqs, on_pre=action + effect)
        if s.active:  # fully replenished resources at rest (u_S starts at 0)
            s.x_S = 1
        syn.append(s)
    out, _ = _run_rates(b2, groups, syn, sizes, duration_ms, dt_ms, window_ms)
    return out


def song2000_brian2(
    graph,
    params: Mapping | None = None,
    seed: int = 0,
    duration_ms: float = 100_000.0,
    dt_ms: float = 0.1,
    window_ms: float = 10_000.0,
    target: str | None = None,
) -> dict:
    """STDP of Song, Miller & Abbott (2000): Poisson ``input`` onto ``post`` (``input_to_post``).

    ``params``: F (Hz), gmax (1), A_pre (1), B (1; depression/potentiation ratio).
    Returns r_post (Hz), w_mean (1), w_high_frac (w > 0.8 gmax), w_low_frac (w < 0.2 gmax),
    wall_time_s (s), target.
    """
    p = _params(params, SONG2000_DEFAULTS, "song2000")
    _check_settings(duration_ms, dt_ms, window_ms, "song2000")
    edges, sizes = load_graph(graph)
    _check_graph(edges, sizes, ("input", "post"), {"input_to_post": ("input", "post")}, "song2000")
    b2 = _setup(seed, dt_ms, target)
    mV, ms = b2.mV, b2.ms
    gmax = p["gmax"]
    ns = {
        "taum": 10 * ms,
        "taupre": 20 * ms,
        "taupost": 20 * ms,
        "Ee": 0 * mV,
        "vt": -54 * mV,
        "vr": -60 * mV,
        "El": -74 * mV,
        "taue": 5 * ms,
        "gmax": gmax,
        "dApre": p["A_pre"] * gmax,
        "dApost": -p["A_pre"] * gmax * p["B"],  # taupre/taupost = 1
    }
    inp = b2.PoissonGroup(sizes["input"], rates=p["F"] * b2.Hz, name="pop_input")
    post = b2.NeuronGroup(
        sizes["post"],
        """
        dv/dt = (ge * (Ee-vr) + El - v) / taum : volt
        dge/dt = -ge / taue : 1
        """,
        threshold="v>vt",
        reset="v = vr",
        method="exact",
        namespace=ns,
        name="pop_post",
    )
    post.v = "vr"  # the example leaves v at 0 mV (one spike at t = 0); the description starts at vr
    s = _synapses(
        b2,
        {"input": inp, "post": post},
        edges,
        "input_to_post",
        ns,
        model="""w : 1
                 dApre/dt = -Apre / taupre : 1 (event-driven)
                 dApost/dt = -Apost / taupost : 1 (event-driven)""",
        on_pre="""ge += w
                  Apre += dApre
                  w = clip(w + Apost, 0, gmax)""",
        on_post="""Apost += dApost
                   w = clip(w + Apre, 0, gmax)""",
    )
    s.w = "rand() * gmax"
    mon = b2.SpikeMonitor(post)
    wall = _run(b2, [inp, post, s, mon], duration_ms)
    w = np.asarray(s.w[:], dtype=float)
    return {
        "r_post": _rate(b2, mon, sizes["post"], duration_ms, dt_ms, window_ms),
        "w_mean": float(w.mean()),
        "w_high_frac": float(np.mean(w > 0.8 * gmax)),
        "w_low_frac": float(np.mean(w < 0.2 * gmax)),
        "wall_time_s": wall,
        "target": b2.prefs.codegen.target,
    }
