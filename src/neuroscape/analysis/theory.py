"""The case studies of Gerstner, Sprekeler & Deco (2012, Science), each a function returning
tables (dicts of equal-length arrays) and a summary; ``neuroscape theory ...`` writes them as CSV
with a figure."""

from __future__ import annotations

import time

import numpy as np

from neuroscape.core.rng import row_keys


def _bar(items, show: bool, unit: str):
    from tqdm.auto import tqdm

    return tqdm(items, disable=not show, unit=unit[:-1], desc=unit, leave=False)


def siegert_study(
    mus=(15.0, 16, 17, 18, 19, 20, 21, 22, 23, 25),
    sigma: float = 3.0,
    reps: int = 16,
    duration_ms: float = 10_000.0,
    dt_ms: float = 0.01,
    network=((6.0, 2.0), (8.0, 2.0), (5.0, 2.0)),
    network_ms: float = 2000.0,
    seed: int = 0,
    conn_seed: int = 0,
) -> dict:
    """Siegert rate against single LIF neurons under Poisson drive over mean inputs mu (mV) at
    input SD sigma; and the self-consistent rate of the Brunel (2000) network against the
    network ``brunel`` run by the network engine for each (g, eta), over the last
    ``network_ms`` - 200 ms of a ``network_ms`` run on the graph of ``conn_seed``."""
    from neuroscape.api import simulate
    from neuroscape.models.network import network as shipped
    from neuroscape.models.theory import mean_field as mf

    mus = np.asarray(mus, float)
    t0 = time.perf_counter()
    rates = mf.lif_poisson_rates(
        np.repeat(mus, reps),
        sigma,
        row_keys(seed, np.arange(len(mus) * reps)),
        duration_ms=duration_ms,
        dt_ms=dt_ms,
    ).reshape(len(mus), reps)
    single = {
        "mu_mV": mus,
        "sigma_mV": np.full(len(mus), sigma),
        "rate_theory_hz": np.array([mf.siegert(m, sigma) for m in mus]),
        "rate_sim_hz": rates.mean(1),
        "sem_hz": rates.std(1, ddof=1) / np.sqrt(reps),
    }
    net = shipped("brunel")
    rows = [{"g": float(g), "eta": float(e)} for g, e in network]
    res = simulate(
        net,
        rows,
        seed=seed,
        conn_seed=conn_seed,
        duration_ms=network_ms,
        window_ms=network_ms - 200.0,
    )
    theory = [mf.brunel_rate(mf.network_parameters(net, r)) for r in rows]
    table = {
        "g": res["g"],
        "eta": res["eta"],
        "rate_theory_hz": np.array(theory),
        "rate_E_sim_hz": res["r_E"],
        "rate_I_sim_hz": res["r_I"],
        "cv_E": res["cv_E"],
        "sync_E": res["sync_E"],
    }
    return {"single": single, "network": table, "wall_time_s": time.perf_counter() - t0}


def ddm_study(
    drifts=(-1.0, 0.0, 0.5, 1.0, 2.0),
    a: float = 1.0,
    sigma: float = 1.0,
    trials: int = 10_000,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Simulated choice probability and mean decision time against the closed forms;
    ``progress`` shows a bar over the drifts on stderr."""
    from neuroscape.models.theory import ddm

    rows = []
    for k, v in enumerate(_bar(drifts, progress, "drifts")):
        p = np.tile(ddm.SPEC.params_array({"v": v, "a": a, "sigma": sigma})[0], (trials, 1))
        keys = row_keys(seed, np.arange(k * trials, (k + 1) * trials))
        res = ddm.simulate_trials(p, keys, dt_ms=1.0, duration_ms=60_000.0)
        dec = ~np.isnan(res[:, 0])
        ch, rt = res[dec, 0], res[dec, 1] * 1e-3  # s, the closed forms' unit
        rows.append(
            (
                v,
                ch.mean(),
                np.sqrt(ch.mean() * (1 - ch.mean()) / len(ch)),
                ddm.choice_probability(v, a, sigma),
                rt.mean(),
                rt.std(ddof=1) / np.sqrt(len(rt)),
                ddm.mean_decision_time(v, a, sigma),
                (~dec).sum(),
            )
        )
    r = np.array(rows)
    names = (
        "drift",
        "p_upper_sim",
        "p_upper_se",
        "p_upper_theory",
        "rt_sim_s",
        "rt_se_s",
        "rt_theory_s",
        "undecided",
    )
    return {"table": dict(zip(names, r.T, strict=True))}


def wong_wang_study(
    coherences=(0.0, 3.2, 6.4, 12.8, 25.6, 51.2),
    trials: int = 1000,
    seed: int = 0,
    mu0_range=(0.0, 80.0),
    progress: bool = False,
) -> dict:
    """Psychometric and chronometric curves, the stimulus edges of the regimes by continuation
    and by simulation, a regime map over (mu0, J_S) and energy landscapes near the lower edge."""
    from neuroscape.models.theory import wong_wang as ww

    psy = []
    for k, c in enumerate(_bar(coherences, progress, "coherences")):
        p = np.tile(ww.SPEC.params_array({"coherence": c})[0], (trials, 1))
        res = ww.simulate_trials(p, row_keys(seed, np.arange(k * trials, (k + 1) * trials)))
        dec = ~np.isnan(res[:, 0])
        psy.append((c, res[dec, 0].mean(), res[dec, 1].mean(), dec.mean()))
    psy = np.array(psy)
    cont = ww.regime_edges("mu0", *mu0_range)
    sim = ww.simulated_edges("mu0", *mu0_range, n=17)
    mus = np.linspace(*mu0_range, 41)
    js = np.linspace(0.22, 0.30, 17)
    regimes = [[ww.regime({"mu0": m, "J_S": j}) for m in mus] for j in js]
    lower = next((e[0] for e in cont if e[2] == "bistable"), 15.0)
    land = {f"mu0={m:.1f}": ww.energy_landscape({"mu0": m}) for m in (0.0, lower, 30.0)}
    return {
        "psychometric": {
            "coherence_pct": psy[:, 0],
            "p_correct": psy[:, 1],
            "mean_rt_ms": psy[:, 2],
            "decided": psy[:, 3],
        },
        "edges_continuation": cont,
        "edges_simulation": sim,
        "regime_map": {"mu0": mus, "J_S": js, "regimes": regimes},
        "landscapes": land,
    }


def hopfield_study(
    sizes=(500, 1000, 2000),
    alphas=(0.02, 0.05, 0.08, 0.10, 0.12, 0.14, 0.16, 0.20, 0.25),
    trials: int = 10,
    cue_flip: float = 0.1,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Retrieval overlap against load for each network size (Amit, Gutfreund & Sompolinsky
    1985: critical load near 0.138), the spiking assembly's cue retrieval and example traces."""
    from neuroscape.models.theory import hopfield as hp

    alphas = np.asarray(alphas, float)
    # one size at a time for the progress bar; a trial's seed depends on (seed, N, load, trial)
    # only, so the overlaps are those of a single call over every size
    m = np.concatenate(
        [
            hp.capacity_curve([n], alphas, trials, cue_flip, seed)
            for n in _bar(sizes, progress, "sizes")
        ]
    )
    mean = m.mean(2)
    crit = np.array([hp.critical_load(alphas, mean[i]) for i in range(len(sizes))])
    traces = {a: hp.retrieve(1000, a, cue_flip, seed)[2] for a in (0.05, 0.12, 0.2)}
    return {
        "assembly": assembly_retrieval(seed=seed),
        "assembly_cue_ms": assembly_cue_ms(),
        "sizes": np.asarray(sizes),
        "alphas": alphas,
        "overlaps": m,
        "critical_load": crit,
        "capacity": crit * np.asarray(sizes),
        "traces": traces,
    }


ASSEMBLY_GROUPS = ("A0", "A1", "A2", "A3", "A4", "B", "I")  # assemblies, background E, I


def assembly_cue_ms() -> tuple[float, float]:
    """The cue window (ms) of the network ``assembly``: its cue population's first spike and
    the end of its last interval."""
    from neuroscape.models.network import network

    t = network("assembly").population("cue").spike_times
    steps = np.unique(t)
    return float(steps[0]), float(steps[-1] + (steps[-1] - steps[-2]))


def assembly_retrieval(
    w_plus: float = 2.5,
    eta: float = 1.0,
    g: float = 5.0,
    j: float = 0.1,
    cue_amp: float = 1.5,
    duration_ms: float = 1500.0,
    bin_ms: float = 50.0,
    dt_ms: float = 0.1,
    seed: int = 0,
    conn_seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The spiking E-I network with Hebbian assemblies (the network ``assembly``: five
    assemblies of 800 excitatory neurons, 4,000 background excitatory and 2,000 inhibitory
    neurons; Amit and Brunel 1997) run once: (bin centres (ms), population rates (Hz), shape
    (bins, groups)), groups = ``ASSEMBLY_GROUPS`` (assemblies A0-A4, background E, I). j is the
    PSP amplitude J (mV). A 100-ms cue to assembly 0 (``assembly_cue_ms()``, external drive x
    cue_amp) leaves it active, far above the background, while the other assemblies fall
    silent.

    Measured (defaults, seeds 0-1): the network holds one assembly active at random before the
    cue (as with the hand-written kernel this replaces); the cue switches it to assembly 0."""
    from neuroscape.api import simulate
    from neuroscape.models.network import network

    net = network("assembly")
    res = simulate(
        net,
        {"w_plus": w_plus, "eta": eta, "g": g, "J": j, "cue_amp": cue_amp},
        seed=seed,
        conn_seed=conn_seed,
        duration_ms=duration_ms,
        dt_ms=dt_ms,
        record_spikes=True,
    )
    if not res.ok[0]:
        raise ValueError(f"assembly network failed: {res.errors[0]}")
    t, idx = res.spikes[0]
    n_bins = int(np.floor(duration_ms / bin_ms + 1e-9))  # whole bins only
    edges = np.arange(n_bins + 1) * bin_ms
    sizes = net.sizes
    start = np.cumsum([0, *sizes.values()])[:-1]
    offset = dict(zip(sizes, start, strict=True))
    rates = np.empty((n_bins, len(ASSEMBLY_GROUPS)))
    for k, pop in enumerate(ASSEMBLY_GROUPS):
        mine = (idx >= offset[pop]) & (idx < offset[pop] + sizes[pop])
        counts = np.histogram(t[mine], edges)[0]
        rates[:, k] = counts / (sizes[pop] * bin_ms * 1e-3)
    return edges[:-1] + 0.5 * bin_ms, rates


def wilson_cowan_study(p_range=(-1.0, 4.0), n: int = 101) -> dict:
    from neuroscape.models.theory import wilson_cowan as wc

    ps = np.linspace(*p_range, n)
    rows = np.tile(wc.SPEC.params_array(None)[0], (n, 1))
    rows[:, wc.SPEC.parameter_names.index("P")] = ps
    out = wc.simulate(rows, duration_ms=3000.0, window_ms=1000.0)
    hopf = wc.hopf_points("P", *p_range)
    onset = [wc.oscillation_onset("P", h - 0.2, h + 0.2) for h in hopf]
    return {
        "table": {
            "P": ps,
            "E_mean": out[:, 0],
            "I_mean": out[:, 1],
            "amplitude": out[:, 2],
            "frequency_hz": out[:, 3],
        },
        "hopf": hopf,
        "onset_simulated": onset,
    }
