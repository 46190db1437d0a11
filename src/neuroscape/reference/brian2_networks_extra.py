"""The shipped networks ``brunel`` and ``pavlov`` written in Brian2, as independent references
(tests).

``brunel_brian2``: model A of Brunel (2000, J Comput Neurosci 8:183) on a caller's graph: leaky
integrate-and-fire neurons ``tau dV/dt = -V`` (rest 0 mV), threshold theta, reset V_r, absolute
refractory period t_ref during which V is held and input is lost (Brian2's ``(unless
refractory)``: synaptic writes to a refractory V are dropped), delta synapses (V jumps by J from
an excitatory, by -g J from an inhibitory neuron) after one delay D = 1.5 ms, and C_E external
excitatory Poisson trains per neuron at nu_ext = eta nu_thr, nu_thr = theta / (J C_E tau). Their
sum is one Poisson process at C_E nu_ext, drawn as ``poisson(C_E nu_ext dt)`` kicks per neuron and
step in a ``run_regularly`` operation placed where Brian2 puts ``PoissonInput`` (between the
presynaptic and postsynaptic pathways); ``PoissonInput`` would draw binomial(C_E, nu_ext dt), at
most one spike per train and step, which is Brian2's approximation, not the paper's process.
C_E is the graph's excitatory in-degree (edges of ``E_to_E`` over N_E) unless given.

``pavlov_brian2``: the conditioning protocol of ``library/pavlov.yaml``, written again here: 20
bell and 20 food spike generators, one salivation LIF neuron (rest and reset -70 mV, threshold
-55 mV, tau 10 ms, 2 ms refractory), additive STDP with all-to-all traces on the bell synapses
(Song, Miller and Abbott 2000; Brian2's ``examples/synapses/STDP.py``), clipped to [0, wmax].
No random numbers: the outputs are exact.

Graphs as in ``neuroscape.reference.brian2_networks`` (an NPZ path, a mapping or a Graph-like
object). Rates count the spikes on the steps whose time t = n*dt lies in the window. Needs the
``dev`` extra (brian2).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neuroscape.reference.brian2_circuit import first_copy
from neuroscape.reference.brian2_networks import (
    EI_PROJECTIONS,
    Brian2ReferenceError,
    _check_graph,
    _check_settings,
    _params,
    _per_copy,
    _rates_by_copy,
    _run,
    _setup,
    _standalone,
    _synapses,
    _tiled,
    load_graph,
)

# name -> default, in the units of the network descriptions (mV, ms, 1)
BRUNEL_DEFAULTS = {
    "g": 5.0,
    "eta": 2.0,
    "J": 0.1,
    "tau": 20.0,
    "theta": 20.0,
    "V_r": 10.0,
    "t_ref": 2.0,
}
BRUNEL_DELAY_MS = 1.5  # D, every recurrent synapse
PAVLOV_DEFAULTS = {"offset": 7.0, "w0": 0.4, "wmax": 1.5, "w_food": 1.0, "A_pre": 0.05, "B": 1.05}
# the protocol (ms): 16 trials of 200 ms, the bell 100 ms into each, food in trials 3-12
# FOOD_LEAD before the bell, reaching the neuron FOOD_LEAD + offset later
PAVLOV_TRIALS, PAVLOV_PERIOD, PAVLOV_BELL_AT, PAVLOV_PAIRED = 16, 200.0, 100.0, range(3, 13)
PAVLOV_N, PAVLOV_FOOD_LEAD, PAVLOV_TAU_STDP = 20, 25.0, 20.0


def _cv(steps: np.ndarray, idx: np.ndarray, n: int, first_step: int, dt_ms: float) -> float:
    """Mean over neurons of std/mean (ddof 0) of the intervals between spikes in the window
    (neurons with 2 or more intervals; NaN if none); spikes as step numbers and neuron indices
    0 ... n-1."""
    keep = steps >= first_step
    steps, idx = steps[keep], idx[keep]
    order = np.lexsort((steps, idx))
    steps, idx = steps[order], idx[order]
    cvs = []
    for k in range(n):
        s = steps[idx == k]
        if s.size >= 3:
            isi = np.diff(s) * dt_ms
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def _sync(steps: np.ndarray, first_step: int, n_steps: int, bin_steps: int) -> float:
    """Variance (ddof 1) over mean of the population's spike count in whole bins of the window."""
    n_bins = (n_steps - first_step) // bin_steps
    s = steps[(steps >= first_step) & (steps < first_step + n_bins * bin_steps)]
    x = np.bincount((s - first_step) // bin_steps, minlength=n_bins).astype(float)
    return float(x.var(ddof=1) / x.mean()) if x.mean() > 0 else float("nan")


def brunel_brian2(
    graph,
    params: Mapping | None = None,
    seed: int = 0,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.1,
    window_ms: float = 800.0,
    c_e: int | None = None,
    target: str | None = None,
) -> dict:
    """Brunel (2000) model A on ``graph`` (E, I; projections E_to_E, E_to_I, I_to_E, I_to_I).

    ``params``: g (1), eta (1), J (mV), tau (ms), theta (mV), V_r (mV), t_ref (ms).
    ``c_e``: external inputs per neuron (None: the graph's E_to_E edges over N_E).
    Returns r_E, r_I (Hz), cv_E (1), sync_E (1; 1 ms bins) over the last window_ms,
    wall_time_s (s), target.
    """
    out = brunel_brian2_copies(graph, [params], seed, duration_ms, dt_ms, window_ms, c_e, target)
    return first_copy(out)


def brunel_brian2_copies(
    graph,
    params: list[Mapping | None],
    seed: int = 0,
    duration_ms: float = 1000.0,
    dt_ms: float = 0.1,
    window_ms: float = 800.0,
    c_e: int | None = None,
    target: str | None = None,
) -> dict:
    """:func:`brunel_brian2` for each entry of ``params``, as independent copies of the network
    (disjoint copies of ``graph``, each its own noise) run together in ONE Brian2 network, so
    that Brian2's cost per step and per code object is paid once. ``target`` may also be
    ``"cpp_standalone"`` (one C++ program, built in a temporary directory; see
    ``brian2_networks._standalone``). Returns r_E, r_I, cv_E, sync_E (one per entry),
    wall_time_s (s; with cpp_standalone the build included), target."""
    rows = [_params(p, BRUNEL_DEFAULTS, "brunel") for p in params]
    _check_settings(duration_ms, dt_ms, window_ms, "brunel")
    edges, sizes = load_graph(graph)
    projs = {n: tuple(n.split("_to_")) for n in EI_PROJECTIONS}
    _check_graph(edges, sizes, ("E", "I"), projs, "brunel")
    if c_e is None:
        c_e = round(edges["E_to_E"].shape[1] / sizes["E"])
    if isinstance(c_e, bool) or int(c_e) != c_e or c_e < 1:
        raise Brian2ReferenceError(f"brunel: c_e {c_e!r}; allowed: a positive integer")
    for p in rows:
        for k in ("J", "tau", "theta"):
            if not p[k] > 0:
                raise Brian2ReferenceError(f"brunel: {k} = {p[k]}; allowed: > 0")
    n_copies = len(rows)
    all_edges, all_sizes = _tiled(edges, sizes, n_copies)
    with _standalone(target):
        return _brunel(rows, edges, sizes, all_edges, all_sizes, n_copies, seed, duration_ms,
                       dt_ms, window_ms, c_e, target)


def _brunel(rows, edges, sizes, all_edges, all_sizes, n_copies, seed, duration_ms, dt_ms,
            window_ms, c_e, target) -> dict:
    b2 = _setup(seed, dt_ms, target)
    mV, ms = b2.mV, b2.ms
    for p in rows:
        # mean external kicks per neuron and step: C_E trains at eta nu_thr, where
        # nu_thr = theta / (J C_E tau) (1/ms, per external input)
        p["lam_ext"] = c_e * p["eta"] * p["theta"] / (p["J"] * c_e * p["tau"]) * dt_ms
    eqs = """
    dv/dt = -v/tau : volt (unless refractory)
    tau : second (constant)
    theta : volt (constant)
    V_r : volt (constant)
    t_ref : second (constant)
    J : volt (constant)
    lam_ext : 1 (constant)
    """
    groups = {}
    for pop in ("E", "I"):
        grp = b2.NeuronGroup(
            all_sizes[pop],
            eqs,
            threshold="v >= theta",
            reset="v = V_r",
            refractory="t_ref",
            method="exact",
            namespace={},
            name=f"pop_{pop}",
        )
        n = sizes[pop]
        grp.tau = _per_copy(rows, "tau", n) * ms
        grp.theta = _per_copy(rows, "theta", n) * mV
        grp.V_r = _per_copy(rows, "V_r", n) * mV
        grp.t_ref = _per_copy(rows, "t_ref", n) * ms
        grp.J = _per_copy(rows, "J", n) * mV
        grp.lam_ext = _per_copy(rows, "lam_ext", n)
        grp.v = "rand()*theta"
        # Brian2 runs PoissonInput at when='synapses', order=0: after the presynaptic (-1),
        # before the postsynaptic (+1) pathways; the write obeys (unless refractory)
        grp.run_regularly("v += J*poisson(lam_ext)", when="synapses", order=0, name=f"ext_{pop}")
        groups[pop] = grp
    syn = []
    for name in EI_PROJECTIONS:
        # an excitatory spike moves V by J, an inhibitory one by -g J
        s = _synapses(b2, groups, all_edges, name, {}, model="w : volt (constant)",
                      on_pre="v_post += w")
        if s.active:
            m = edges[name].shape[1]
            j = _per_copy(rows, "J", m)
            s.w = (j if name[0] == "E" else -_per_copy(rows, "g", m) * j) * mV
            s.delay = BRUNEL_DELAY_MS * ms
        syn.append(s)
    mons = {pop: b2.SpikeMonitor(g) for pop, g in groups.items()}
    wall = _run(b2, [*groups.values(), *syn, *mons.values()], duration_ms)
    out = {
        f"r_{pop}": _rates_by_copy(b2, mons[pop], sizes[pop], n_copies, duration_ms, dt_ms,
                                   window_ms)
        for pop in groups
    }
    n_steps = round(duration_ms / dt_ms)
    first = round((duration_ms - window_ms) / dt_ms)
    steps = np.round(np.asarray(mons["E"].t / ms) / dt_ms).astype(np.int64)
    idx = np.asarray(mons["E"].i[:], dtype=np.int64)
    n_e = sizes["E"]
    which = idx // n_e
    out["cv_E"] = np.array([_cv(steps[which == c], idx[which == c] - c * n_e, n_e, first, dt_ms)
                            for c in range(n_copies)])
    out["sync_E"] = np.array([_sync(steps[which == c], first, n_steps, max(round(1.0 / dt_ms), 1))
                              for c in range(n_copies)])
    target = target if target == "cpp_standalone" else b2.prefs.codegen.target
    return {**out, "wall_time_s": wall, "target": target}


def pavlov_brian2(
    params: Mapping | None = None,
    duration_ms: float = PAVLOV_TRIALS * PAVLOV_PERIOD,
    dt_ms: float = 0.1,
    target: str | None = None,
) -> dict:
    """The Pavlov protocol of ``library/pavlov.yaml`` in Brian2.

    ``params``: offset, w0, wmax, w_food (mV except offset in ms), A_pre, B (1).
    Returns r_before (Hz, 0-600 ms), r_after (Hz, 2600-3200 ms), w_mean (mV, final bell weight),
    w (mV, the 20 final weights), spikes_ms (the salivation spike times, ms), wall_time_s (s),
    target.
    """
    return pavlov_brian2_copies([params], duration_ms, dt_ms, target)[0]


def pavlov_brian2_copies(
    params: list[Mapping | None],
    duration_ms: float = PAVLOV_TRIALS * PAVLOV_PERIOD,
    dt_ms: float = 0.1,
    target: str | None = None,
) -> list[dict]:
    """:func:`pavlov_brian2` for each entry of ``params``, as independent copies of the protocol
    (their own generators, synapses and salivation neuron) run together in ONE Brian2 network:
    nothing is random and nothing connects two copies, so each copy's numbers are those of its
    own run, while Brian2's cost per step is paid once. One result dict per entry."""
    rows = [_params(p, PAVLOV_DEFAULTS, "pavlov") for p in params]
    if not duration_ms >= PAVLOV_TRIALS * PAVLOV_PERIOD or not dt_ms > 0:
        raise Brian2ReferenceError(
            f"pavlov: duration_ms {duration_ms} and dt_ms {dt_ms}; allowed: dt_ms > 0 and "
            f"duration_ms >= {PAVLOV_TRIALS * PAVLOV_PERIOD:g} (the protocol)"
        )
    for p in rows:
        if PAVLOV_FOOD_LEAD + p["offset"] < 0:
            raise Brian2ReferenceError(
                f"pavlov: offset {p['offset']} ms; allowed: >= -{PAVLOV_FOOD_LEAD:g} ms"
            )
    b2 = _setup(0, dt_ms, target)
    mV, ms = b2.mV, b2.ms
    n, k = PAVLOV_N, len(rows)
    bell_t = [PAVLOV_BELL_AT + t * PAVLOV_PERIOD for t in range(PAVLOV_TRIALS)]
    food_t = [PAVLOV_BELL_AT - PAVLOV_FOOD_LEAD + t * PAVLOV_PERIOD for t in PAVLOV_PAIRED]

    def generators(times, name):  # n generators per copy, each firing at every time
        idx = np.tile(np.arange(n * k), len(times))
        t = np.repeat(np.asarray(times, dtype=float), n * k)
        return b2.SpikeGeneratorGroup(n * k, idx, t * ms, name=name)

    bell, food = generators(bell_t, "pop_bell"), generators(food_t, "pop_food")
    ns = {"taupre": PAVLOV_TAU_STDP * ms, "taupost": PAVLOV_TAU_STDP * ms}
    sal = b2.NeuronGroup(
        k,
        "dv/dt = (-70*mV - v)/(10*ms) : volt (unless refractory)",
        threshold="v > -55*mV",
        reset="v = -70*mV",
        refractory=2 * ms,
        method="exact",
        namespace=ns,
        name="pop_salivation",
    )
    sal.v = -70 * mV
    s_bell = b2.Synapses(
        bell,
        sal,
        model="""w : volt
                 wmax : volt (constant)
                 a_stdp : 1 (constant)
                 B : 1 (constant)
                 dApre/dt = -Apre/taupre : volt (event-driven)
                 dApost/dt = -Apost/taupost : volt (event-driven)""",
        on_pre="""v_post += w
                  Apre += a_stdp*wmax
                  w = clip(w + Apost, 0*mV, wmax)""",
        on_post="""Apost += -a_stdp*wmax*B*taupre/taupost
                   w = clip(w + Apre, 0*mV, wmax)""",
        namespace=ns,
        name="syn_bell_to_salivation",
    )
    pre = np.arange(n * k)
    s_bell.connect(i=pre, j=pre // n)  # all to all within each copy
    s_bell.w = _per_copy(rows, "w0", n) * mV
    s_bell.wmax = _per_copy(rows, "wmax", n) * mV
    s_bell.a_stdp = _per_copy(rows, "A_pre", n)  # (Brian2 reserves the suffix _pre)
    s_bell.B = _per_copy(rows, "B", n)
    s_food = b2.Synapses(
        food, sal, model="w_food : volt (constant)", on_pre="v_post += w_food", namespace=ns,
        name="syn_food_to_salivation"
    )
    s_food.connect(i=pre, j=pre // n)
    s_food.w_food = _per_copy(rows, "w_food", n) * mV
    s_food.delay = (PAVLOV_FOOD_LEAD + _per_copy(rows, "offset", n)) * ms
    mon = b2.SpikeMonitor(sal)
    wall = _run(b2, [bell, food, sal, s_bell, s_food, mon], duration_ms)
    steps_all = np.round(np.asarray(mon.t / ms) / dt_ms).astype(np.int64)
    who = np.asarray(mon.i[:], dtype=np.int64)
    w_all = np.asarray(s_bell.w[:] / mV, dtype=float)
    syn_copy = np.asarray(s_bell.j[:], dtype=np.int64)
    out = []
    for c in range(k):
        steps = steps_all[who == c]
        w = w_all[syn_copy == c]

        def rate(a_ms, z_ms, steps=steps):
            a, z = round(a_ms / dt_ms), round(z_ms / dt_ms)
            return float(np.count_nonzero((steps >= a) & (steps < z))) / ((z - a) * dt_ms * 1e-3)

        out.append({
            "r_before": rate(0.0, 3 * PAVLOV_PERIOD),
            "r_after": rate(13 * PAVLOV_PERIOD, 16 * PAVLOV_PERIOD),
            "w_mean": float(w.mean()),
            "w": w,
            "spikes_ms": steps * dt_ms,
            "wall_time_s": wall,
            "target": b2.prefs.codegen.target,
        })  # fmt: skip
    return out
