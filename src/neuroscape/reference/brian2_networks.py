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
Each ``*_copies`` function runs several parameter sets (or seeds' worth of noise) as disjoint
copies of the network in one Brian2 network, so that Brian2's costs per code object and per
step are paid once; one copy is the single-network run of the same seed, number for number
(checked with the numpy target: rates equal, mean weights to rounding).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np

from neuroscape.reference.brian2_circuit import first_copy


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
    if target == "cpp_standalone":  # a device, not a runtime target: see _standalone
        b2.defaultclock.dt = dt_ms * b2.ms
        b2.seed(seed)
        return b2
    if target is None:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        target = "cython" if CythonCodeObject.is_available() else "numpy"
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = dt_ms * b2.ms
    b2.seed(seed)
    return b2


@contextmanager
def standalone_device():
    """Brian2's C++ standalone device around one run: the network of the ``with`` block is
    compiled into one program in a temporary directory (about 30 s), which runs without
    Python's cost per step (long runs: 10^6 steps take seconds, Cython's runtime about 2 min).
    Brian2 returns to its previous device afterwards; the device is reinitialised before and
    after, so that one process (a test worker) may build several such programs."""
    import brian2 as b2
    from brian2.devices import reset_device
    from brian2.devices.device import all_devices

    device = all_devices["cpp_standalone"]
    with tempfile.TemporaryDirectory(prefix="brian2_standalone_") as d:
        device.reinit()  # Brian2 runs a standalone device once unless reinitialised
        b2.set_device("cpp_standalone", directory=d, build_on_run=True)
        try:
            yield
        finally:
            reset_device()
            device.reinit()


@contextmanager
def _standalone(target: str | None):
    """:func:`standalone_device` for ``target="cpp_standalone"``; nothing for other targets."""
    if target != "cpp_standalone":
        yield
        return
    with standalone_device():
        yield


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


def _tiled(edges: dict, sizes: dict, k: int) -> tuple[dict, dict]:
    """The graph repeated k times as disjoint copies: copy c holds neurons c*N_POP ... of each
    population (so ``index // N_POP`` is a neuron's copy)."""
    out = {}
    for name, e in edges.items():
        pre, post = name.split("_to_")
        e = np.asarray(e, dtype=np.int64)
        c = np.repeat(np.arange(k, dtype=np.int64), e.shape[1])
        out[name] = np.stack([np.tile(e[0], k) + c * sizes[pre],
                              np.tile(e[1], k) + c * sizes[post]])
    return out, {pop: n * k for pop, n in sizes.items()}


def _per_copy(rows: list[dict], key: str, n: int) -> np.ndarray:
    """Parameter ``key`` of each copy, repeated for its n neurons or synapses."""
    return np.repeat(np.array([r[key] for r in rows], dtype=float), n)


def _rates_by_copy(b2, mon, n: int, k: int, duration_ms: float, dt_ms: float,
                   window_ms: float) -> np.ndarray:
    """Spikes per neuron per second (Hz) of each copy on the steps of the last window_ms."""
    steps = np.round(np.asarray(mon.t / b2.ms) / dt_ms)
    first = round((duration_ms - window_ms) / dt_ms)
    idx = np.asarray(mon.i[:], dtype=np.int64)[steps >= first]
    return np.bincount(idx // n, minlength=k) / n / (window_ms * 1e-3)


def _run(b2, objects, duration_ms: float) -> float:
    net = b2.Network(*objects)
    t0 = time.perf_counter()
    net.run(duration_ms * b2.ms)
    return time.perf_counter() - t0


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
    out = cuba_brian2_copies(graph, [params], seed, duration_ms, dt_ms, window_ms, target)
    return first_copy(out)


def cuba_brian2_copies(
    graph,
    params: list[Mapping | None],
    seed: int = 0,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.1,
    window_ms: float = 500.0,
    target: str | None = None,
) -> dict:
    """:func:`cuba_brian2` for each entry of ``params``, as independent copies of the network
    (disjoint copies of ``graph``, each with its own noise) run together in ONE Brian2 network:
    Brian2's cost per step and per code object is paid once. Returns r_E, r_I (Hz, one per
    entry), wall_time_s (s), target."""
    rows = [_params(p, CUBA_DEFAULTS, "cuba") for p in params]
    _check_settings(duration_ms, dt_ms, window_ms, "cuba")
    edges, sizes = load_graph(graph)
    projs = {n: tuple(n.split("_to_")) for n in EI_PROJECTIONS}
    _check_graph(edges, sizes, ("E", "I"), projs, "cuba")
    k = len(rows)
    all_edges, all_sizes = _tiled(edges, sizes, k)
    b2 = _setup(seed, dt_ms, target)
    mV, ms = b2.mV, b2.ms
    ns = {
        "taum": 20 * ms,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "Vt": -50 * mV,
        "Vr": -60 * mV,
    }
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    El : volt (constant)
    """
    groups = {}
    for pop in ("E", "I"):
        g = b2.NeuronGroup(
            all_sizes[pop],
            eqs,
            threshold="v>Vt",
            reset="v = Vr",
            refractory=5 * ms,
            method="exact",
            namespace=ns,
            name=f"pop_{pop}",
        )
        g.El = _per_copy(rows, "E_l", sizes[pop]) * mV
        g.v = "Vr + rand() * (Vt - Vr)"
        g.ge = 0 * mV
        g.gi = 0 * mV
        groups[pop] = g
    syn = []
    for n in EI_PROJECTIONS:
        s = _synapses(b2, groups, all_edges, n, ns, model="w : volt (constant)",
                      on_pre="ge += w" if n[0] == "E" else "gi += w")
        if s.active:
            s.w = _per_copy(rows, "w_e" if n[0] == "E" else "w_i", edges[n].shape[1]) * mV
        syn.append(s)
    return _run_copies(b2, groups, syn, sizes, k, duration_ms, dt_ms, window_ms)


def _run_copies(b2, groups, syn, sizes, k, duration_ms, dt_ms, window_ms) -> dict:
    """Runs k copies with a spike monitor per population: r_POP (Hz, one per copy) over the last
    window, wall_time_s, target."""
    mons = {pop: b2.SpikeMonitor(g) for pop, g in groups.items()}
    wall = _run(b2, [*groups.values(), *syn, *mons.values()], duration_ms)
    out = {
        f"r_{pop}": _rates_by_copy(b2, mons[pop], sizes[pop], k, duration_ms, dt_ms, window_ms)
        for pop in groups
    }
    return {**out, "wall_time_s": wall, "target": b2.prefs.codegen.target}


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
    out = coba_stp_brian2_copies(graph, [params], seed, duration_ms, dt_ms, window_ms, target)
    return first_copy(out)


def coba_stp_brian2_copies(
    graph,
    params: list[Mapping | None],
    seed: int = 0,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.1,
    window_ms: float = 500.0,
    target: str | None = None,
) -> dict:
    """:func:`coba_stp_brian2` for each entry of ``params``, as independent copies of the network
    run together in ONE Brian2 network (as :func:`cuba_brian2_copies`). Returns r_E, r_I (Hz,
    one per entry), wall_time_s (s), target."""
    rows = [_params(p, COBA_STP_DEFAULTS, "coba_stp") for p in params]
    _check_settings(duration_ms, dt_ms, window_ms, "coba_stp")
    edges, sizes = load_graph(graph)
    projs = {n: tuple(n.split("_to_")) for n in EI_PROJECTIONS}
    _check_graph(edges, sizes, ("E", "I"), projs, "coba_stp")
    k = len(rows)
    all_edges, all_sizes = _tiled(edges, sizes, k)
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
        "V_th": -50 * mV,
        "V_r": -60 * mV,
    }
    eqs = """
    dv/dt = (g_l*(E_l-v) + g_e*(E_e-v) + g_i*(E_i-v) + I_ex)/C_m : volt (unless refractory)
    dg_e/dt = -g_e/tau_e : siemens
    dg_i/dt = -g_i/tau_i : siemens
    I_ex : amp (constant)
    w_e0 : siemens (constant)
    w_i0 : siemens (constant)
    """
    groups = {}
    for pop in ("E", "I"):
        g = b2.NeuronGroup(
            all_sizes[pop],
            eqs,
            threshold="v>V_th",
            reset="v=V_r",
            refractory="tau_r",
            method="euler",
            namespace=ns,
            name=f"pop_{pop}",
        )
        g.I_ex = _per_copy(rows, "I_ex", sizes[pop]) * b2.pA
        g.w_e0 = _per_copy(rows, "w_e", sizes[pop]) * nS
        g.w_i0 = _per_copy(rows, "w_i", sizes[pop]) * nS
        g.v = "E_l + rand()*(V_th-E_l)"
        g.g_e = "rand()*w_e0"
        g.g_i = "rand()*w_i0"
        groups[pop] = g
    syn_eqs = """
    du_S/dt = -Omega_f * u_S     : 1 (event-driven)
    dx_S/dt = Omega_d *(1 - x_S) : 1 (event-driven)
    w : siemens (constant)
    U_0 : 1 (constant)
    Omega_d : hertz (constant)
    Omega_f : hertz (constant)
    """
    action = "u_S += U_0 * (1 - u_S)\nr_S = u_S * x_S\nx_S -= r_S\n"
    syn = []
    for n in EI_PROJECTIONS:
        effect = "g_e_post += w*r_S" if n[0] == "E" else "g_i_post += w*r_S"
        s = _synapses(b2, groups, all_edges, n, ns, model=syn_eqs, on_pre=action + effect)
        if s.active:  # fully replenished resources at rest (u_S starts at 0)
            m = edges[n].shape[1]
            s.w = _per_copy(rows, "w_e" if n[0] == "E" else "w_i", m) * nS
            s.U_0 = _per_copy(rows, "U_0", m)
            s.Omega_d = _per_copy(rows, "Omega_d", m) / b2.second
            s.Omega_f = _per_copy(rows, "Omega_f", m) / b2.second
            s.x_S = 1
        syn.append(s)
    return _run_copies(b2, groups, syn, sizes, k, duration_ms, dt_ms, window_ms)


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
    out = song2000_brian2_copies(graph, [params], seed, duration_ms, dt_ms, window_ms, target)
    return first_copy(out)


def song2000_brian2_copies(
    graph,
    params: list[Mapping | None],
    seed: int = 0,
    duration_ms: float = 100_000.0,
    dt_ms: float = 0.1,
    window_ms: float = 10_000.0,
    target: str | None = None,
) -> dict:
    """:func:`song2000_brian2` for each entry of ``params``, as independent copies run together
    in ONE Brian2 network (as :func:`cuba_brian2_copies`). ``target`` may also be
    ``"cpp_standalone"`` (see :func:`_standalone`). Returns r_post, w_mean, w_high_frac,
    w_low_frac (one per entry), wall_time_s (s; with cpp_standalone the build included),
    target."""
    rows = [_params(p, SONG2000_DEFAULTS, "song2000") for p in params]
    _check_settings(duration_ms, dt_ms, window_ms, "song2000")
    edges, sizes = load_graph(graph)
    _check_graph(edges, sizes, ("input", "post"), {"input_to_post": ("input", "post")}, "song2000")
    k = len(rows)
    all_edges, all_sizes = _tiled(edges, sizes, k)
    with _standalone(target):
        return _song2000(rows, edges, sizes, all_edges, all_sizes, k, seed, duration_ms, dt_ms,
                         window_ms, target)


def _song2000(rows, edges, sizes, all_edges, all_sizes, k, seed, duration_ms, dt_ms, window_ms,
              target) -> dict:
    b2 = _setup(seed, dt_ms, target)
    mV, ms = b2.mV, b2.ms
    ns = {
        "taum": 10 * ms,
        "taupre": 20 * ms,
        "taupost": 20 * ms,
        "Ee": 0 * mV,
        "vt": -54 * mV,
        "vr": -60 * mV,
        "El": -74 * mV,
        "taue": 5 * ms,
    }
    inp = b2.PoissonGroup(all_sizes["input"], rates=_per_copy(rows, "F", sizes["input"]) * b2.Hz,
                          name="pop_input")
    post = b2.NeuronGroup(
        all_sizes["post"],
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
    m = edges["input_to_post"].shape[1]
    s = _synapses(
        b2,
        {"input": inp, "post": post},
        all_edges,
        "input_to_post",
        ns,
        model="""w : 1
                 gmax : 1 (constant)
                 d_Apre : 1 (constant)
                 d_Apost : 1 (constant)
                 dApre/dt = -Apre / taupre : 1 (event-driven)
                 dApost/dt = -Apost / taupost : 1 (event-driven)""",
        on_pre="""ge += w
                  Apre += d_Apre
                  w = clip(w + Apost, 0, gmax)""",
        on_post="""Apost += d_Apost
                   w = clip(w + Apre, 0, gmax)""",
    )
    gmax = _per_copy(rows, "gmax", m)
    s.gmax = gmax
    s.d_Apre = _per_copy(rows, "A_pre", m) * gmax
    s.d_Apost = -_per_copy(rows, "A_pre", m) * gmax * _per_copy(rows, "B", m)  # taupre = taupost
    s.w = "rand() * gmax"
    mon = b2.SpikeMonitor(post)
    wall = _run(b2, [inp, post, s, mon], duration_ms)
    w = np.asarray(s.w[:], dtype=float)
    copy = np.asarray(s.i[:], dtype=np.int64) // sizes["input"]
    top = np.asarray(s.gmax[:], dtype=float)

    def frac(x):  # the mean of x over each copy's synapses
        return np.bincount(copy, weights=x.astype(float), minlength=k) / np.bincount(
            copy, minlength=k)

    return {
        "r_post": _rates_by_copy(b2, mon, sizes["post"], k, duration_ms, dt_ms, window_ms),
        "w_mean": frac(w),
        "w_high_frac": frac(w > 0.8 * top),
        "w_low_frac": frac(w < 0.2 * top),
        "wall_time_s": wall,
        "target": target if target == "cpp_standalone" else b2.prefs.codegen.target,
    }
