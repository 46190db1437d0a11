"""The local cortical circuit of Zhang, Young & Lai (2020) as a batched model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroscape.core.connectivity import (
    PATHWAYS,
    Connectivity,
    ConnectivityError,
    load_connectivity,
    random_connectivity,
)
from neuroscape.core.integrators import get_tableau
from neuroscape.core.rng import poisson_thresholds
from neuroscape.core.settings import ChunkResult, Recording, SettingsError, SimSettings
from neuroscape.models.cond_if import n_refractory_steps
from neuroscape.models.contract import Model
from neuroscape.models.cortical.model import (
    CONSTANTS,
    SPEC,
    derived_quantities,
    in_output_domain,
)

__all__ = [
    "MODEL",
    "SPEC",
    "CONSTANTS",
    "CorticalCircuit",
    "in_output_domain",
    "derived_quantities",
]

# dt must resolve the fastest time constant (tau_E = 2 ms) with at least this many steps; at
# coarser steps the per-step Poisson counts and the RK update of the kicked conductance stop
# approximating the continuous model (rates drift by several Hz at dt = 0.5 ms).
MIN_STEPS_PER_TAU = 10


def circuit_connectivity(conn_seed: int, c: dict = CONSTANTS) -> Connectivity:
    """The seeded random graph of the circuit (probabilities and sizes from CONSTANTS)."""
    p = {name: c[f"p_{name}"] for name in PATHWAYS}
    return random_connectivity(conn_seed, int(c["N_E"]), int(c["N_I"]), p)


class CorticalCircuit:
    """Batched simulator of the circuit on one fixed graph.

    ``connectivity`` is a Connectivity, a path to an NPZ graph file, or None for the graph of
    ``conn_seed``.
    """

    spec = SPEC

    def __init__(
        self,
        conn_seed: int = 0,
        connectivity: Connectivity | str | Path | None = None,
    ) -> None:
        c = CONSTANTS
        if connectivity is None:
            self.connectivity = circuit_connectivity(conn_seed)
            self.conn_seed: int | None = int(conn_seed)
        else:
            if not isinstance(connectivity, Connectivity):
                connectivity = load_connectivity(connectivity)
            if (connectivity.n_e, connectivity.n_i) != (c["N_E"], c["N_I"]):
                raise ConnectivityError(
                    f"graph has N_E={connectivity.n_e}, N_I={connectivity.n_i}; the circuit "
                    f"needs N_E={c['N_E']}, N_I={c['N_I']}"
                )
            self.connectivity = connectivity
            self.conn_seed = None
        self.n_e = self.connectivity.n_e
        self.n_i = self.connectivity.n_i
        self._csr = [a for name in PATHWAYS for a in self.connectivity.csr(name)]
        self._torch_cache: dict = {}

    @property
    def connectivity_hash(self) -> str:
        return self.connectivity.content_hash()

    def describe(self) -> dict:
        return {
            "model": SPEC.name,
            "model_version": SPEC.version,
            "conn_seed": self.conn_seed,
            "connectivity_sha256": self.connectivity_hash,
        }

    def check_settings(self, settings: SimSettings) -> None:
        get_tableau(settings.integrator)
        tau_min = min(CONSTANTS["tau_E"], CONSTANTS["tau_I"], CONSTANTS["tau_leak"])
        dt_max = tau_min / MIN_STEPS_PER_TAU
        if settings.dt_ms > dt_max + 1e-12:
            raise SettingsError(
                f"dt_ms={settings.dt_ms:g} is too coarse for the {settings.integrator} scheme: "
                f"allowed dt_ms <= {dt_max:g} (tau_E/{MIN_STEPS_PER_TAU})"
            )

    # ------------------------------------------------------------------ per-chunk preparation
    def _jumps(self, params: np.ndarray) -> np.ndarray:
        c = CONSTANTS
        d = derived_quantities(params)
        te, ti = c["tau_E"], c["tau_I"]
        return np.column_stack(
            [
                d["S_EE"] / te,  # J_EE (times the failure factor beta)
                d["S_IE"] / te,  # J_IE: E spike onto an I cell
                d["S_EI"] / ti,  # J_EI: I spike onto an E cell
                d["S_II"] / ti,  # J_II
                d["S_EE"] / te,  # external kick onto an E cell
                d["S_IE"] / te,  # external kick onto an I cell
                np.full(len(params), c["S_dr"] / te),  # ambient kick
            ]
        )

    def _tables(self, params: np.ndarray, dt_ms: float) -> np.ndarray:
        d = derived_quantities(params)
        lam = np.stack([d["eta_ext_E"], d["eta_ext_I"], d["eta_amb"]], axis=1) * dt_ms * 1e-3
        t = poisson_thresholds(lam.ravel())
        return t.reshape(len(params), 3, -1)

    def _consts(self) -> np.ndarray:
        c = CONSTANTS
        return np.array(
            [
                1 / c["tau_leak"],
                1 / c["tau_E"],
                1 / c["tau_I"],
                c["V_E"],
                c["V_I"],
                c["V_T"],
                c["V_R"],
                c["beta_low"],
            ]
        )

    def run_chunk(
        self,
        params: np.ndarray,
        keys: np.ndarray,
        settings: SimSettings,
        device: str,
        recording: Recording,
    ) -> ChunkResult:
        if device.startswith("cuda"):
            from neuroscape.models.cortical.kernel_torch import run_chunk_torch

            return run_chunk_torch(self, params, keys, settings, device, recording)
        from neuroscape.models.cortical.kernel_cpu import kernel

        b = len(params)
        n = self.n_e + self.n_i
        n_steps = settings.n_steps
        counts = np.zeros((b, 2), dtype=np.int64)
        ok = np.zeros(b, dtype=np.bool_)
        # spike buffer bound: a neuron fires at most once per refractory period
        n_ref = n_refractory_steps(CONSTANTS["t_ref"], settings.dt_ms)
        max_spk = n * (n_steps // n_ref + 1) if recording.spikes else 0
        spk_step = np.zeros((b, max_spk), dtype=np.int32)
        spk_idx = np.zeros((b, max_spk), dtype=np.int32)
        spk_n = np.zeros(b, dtype=np.int64)
        vidx = np.asarray(recording.v_neurons, dtype=np.int64)
        if vidx.size and (vidx.min() < 0 or vidx.max() >= n):
            raise ValueError(f"recorded neuron indices must be in 0..{n - 1}, got {vidx.tolist()}")
        vtrace = np.zeros((b, vidx.size, n_steps if vidx.size else 0), dtype=np.float32)
        kernel(settings.integrator)(
            self._jumps(params),
            self._tables(params, settings.dt_ms),
            keys,
            *self._csr,
            self.n_e,
            self.n_i,
            n_steps,
            settings.rec_start,
            n_ref,
            settings.dt_ms,
            self._consts(),
            counts,
            ok,
            spk_step,
            spk_idx,
            spk_n,
            vidx,
            vtrace,
        )
        window_s = (n_steps - settings.rec_start) * settings.dt_ms * 1e-3
        rates = counts / np.array([self.n_e, self.n_i]) / window_s
        rates[~ok] = np.nan
        spikes = None
        if recording.spikes:
            spikes = [
                (spk_step[r, : spk_n[r]] * settings.dt_ms, spk_idx[r, : spk_n[r]].copy())
                for r in range(b)
            ]
        errors = [None if o else "non-finite state (NaN/inf) during the run" for o in ok]
        return ChunkResult(rates, ok, errors, spikes, vtrace if vidx.size else None)


class CircuitModel(Model):
    """The circuit as a model object: its batch is the circuit on one graph (``conn_seed``, or a
    ``connectivity`` graph or file)."""

    kind = "network"
    run_options = ("conn_seed", "connectivity")
    spec = SPEC

    def batch(self, conn_seed: int = 0, connectivity=None) -> CorticalCircuit:
        return CorticalCircuit(conn_seed=conn_seed, connectivity=connectivity)


MODEL = CircuitModel()
