"""torch back end of the cortical circuit (device="cuda"; also runs on the CPU for testing).

The same algorithm as ``kernel_cpu``, vectorized over (rows, neurons) instead of looped, and the
same counter-based random numbers at the same positions. Results agree with the CPU kernel up to
floating-point rounding, which chaotic spiking dynamics then amplify: the two are compared
statistically, not bitwise.
"""

from __future__ import annotations

import numpy as np

from neuroscape.core.rng import SUB_BITS, as_signed64, torch_word
from neuroscape.core.settings import ChunkResult, Recording, SimSettings
from neuroscape.models.cond_if import n_refractory_steps, step_function
from neuroscape.models.cortical.model import CONSTANTS


def _srl(x, s: int):
    return (x >> s) & ((1 << (64 - s)) - 1)


def _unit_float(x):
    import torch

    return _srl(x, 11).to(torch.float64) * (1.0 / 9007199254740992.0)


def run_chunk_torch(
    model,
    params: np.ndarray,
    keys: np.ndarray,
    settings: SimSettings,
    device: str,
    recording: Recording,
) -> ChunkResult:
    import torch

    from neuroscape.models.cortical.kernel_cpu import (
        C_BETA_LOW,
        C_INV_TAU_E,
        C_INV_TAU_I,
        C_INV_TAU_LEAK,
        C_VE,
        C_VI,
        C_VR,
        C_VT,
        J_AMB,
        J_EE,
        J_EI,
        J_EXT_E,
        J_EXT_I,
        J_IE,
        J_II,
    )

    dev = torch.device(device)
    f64 = torch.float64
    step = step_function(settings.integrator, jit=False)
    b = len(params)
    n_e, n_i = model.n_e, model.n_i
    n = n_e + n_i
    dt = settings.dt_ms
    n_steps = settings.n_steps
    n_ref = n_refractory_steps(CONSTANTS["t_ref"], dt)
    cst = model._consts()
    inv_tl, inv_te, inv_ti = cst[C_INV_TAU_LEAK], cst[C_INV_TAU_E], cst[C_INV_TAU_I]
    v_e, v_i, v_t, v_r, beta_low = cst[C_VE], cst[C_VI], cst[C_VT], cst[C_VR], cst[C_BETA_LOW]

    cache = model._torch_cache.setdefault(str(dev), {})
    if not cache:
        for name in ("E_to_E", "E_to_I", "I_to_E", "I_to_I"):
            cache[name] = torch.tensor(model.connectivity.dense(name), dtype=f64, device=dev)
    jm = torch.tensor(model._jumps(params), dtype=f64, device=dev)
    col = lambda k: jm[:, k : k + 1]  # noqa: E731
    j_ee, j_ie, j_ei, j_ii = col(J_EE), col(J_IE), col(J_EI), col(J_II)
    j_ext = torch.cat([col(J_EXT_E).expand(b, n_e), col(J_EXT_I).expand(b, n_i)], dim=1)
    j_amb = col(J_AMB)
    tabs = torch.tensor(model._tables(params, dt), dtype=torch.int64, device=dev)
    tab_e, tab_i, tab_amb = (tabs[:, k].contiguous() for k in range(3))
    key = torch.tensor(as_signed64(keys), dtype=torch.int64, device=dev)[:, None]

    idx = torch.arange(n, dtype=torch.int64, device=dev)[None, :]
    init_counter = idx | torch.tensor(-(1 << 63), dtype=torch.int64, device=dev)
    v = _unit_float(torch_word(key, init_counter))
    ge = torch.zeros(b, n, dtype=f64, device=dev)
    gi = torch.zeros(b, n, dtype=f64, device=dev)
    held = torch.zeros(b, n, dtype=torch.int64, device=dev)
    counts = torch.zeros(b, 2, dtype=torch.int64, device=dev)
    sub_shift = SUB_BITS
    spk_t, spk_i, spk_b = [], [], []
    vidx = torch.as_tensor(np.asarray(recording.v_neurons, dtype=np.int64), device=dev)
    vtrace = torch.zeros(b, len(vidx), n_steps if len(vidx) else 0, dtype=torch.float32, device=dev)
    for s in range(n_steps):
        v, ge, gi = step(v, ge, gi, dt, 1.0, inv_tl, inv_te, inv_ti, v_e, v_i)
        is_held = held > 0
        v = torch.where(is_held, v_r, v)
        held = torch.clamp(held - 1, min=0)
        fire = v >= v_t
        v = torch.where(fire, v_r, v)
        held = torch.where(fire, n_ref - 1, held)
        if len(vidx):
            vtrace[:, :, s] = v[:, vidx]
        ff = fire.to(f64)
        f_e, f_i = ff[:, :n_e], ff[:, n_e:]
        if s >= settings.rec_start:
            counts[:, 0] += fire[:, :n_e].sum(1)
            counts[:, 1] += fire[:, n_e:].sum(1)
        if recording.spikes:
            rb, ri = fire.nonzero(as_tuple=True)
            spk_b.append(rb)
            spk_i.append(ri)
            spk_t.append(torch.full_like(rb, s))
        base = torch.tensor(s * n, dtype=torch.int64, device=dev)
        ge[:, n_e:] += (f_e @ cache["E_to_I"]) * j_ie
        gi[:, :n_e] += (f_i @ cache["I_to_E"]) * j_ei
        gi[:, n_e:] += (f_i @ cache["I_to_I"]) * j_ii
        k_ee = (f_e @ cache["E_to_E"]).round().to(torch.int64)
        k_max = int(k_ee.max())
        if k_max > 0:
            c = (base + idx[:, :n_e]) << sub_shift
            acc = torch.zeros(b, n_e, dtype=f64, device=dev)
            for m in range(k_max):
                u = _unit_float(torch_word(key, c + (m + 1)))
                acc += torch.where(k_ee > m, beta_low + (1.0 - beta_low) * u, 0.0)
            ge[:, :n_e] += acc * j_ee
        x = torch_word(key, (base + idx) << sub_shift)
        u1 = x & 0xFFFFFFFF
        u2 = _srl(x, 32)
        k_ext = torch.cat(
            [
                torch.searchsorted(tab_e, u1[:, :n_e].contiguous(), right=True),
                torch.searchsorted(tab_i, u1[:, n_e:].contiguous(), right=True),
            ],
            dim=1,
        )
        k_amb = torch.searchsorted(tab_amb, u2.contiguous(), right=True)
        ge += k_ext.to(f64) * j_ext + k_amb.to(f64) * j_amb
    ok = torch.isfinite(v).all(1) & torch.isfinite(ge).all(1) & torch.isfinite(gi).all(1)
    window_s = (n_steps - settings.rec_start) * dt * 1e-3
    rates = counts.cpu().numpy() / np.array([n_e, n_i]) / window_s
    ok_np = ok.cpu().numpy()
    rates[~ok_np] = np.nan
    spikes = None
    if recording.spikes:
        tb, ti, tt = (torch.cat(a).cpu().numpy() for a in (spk_b, spk_i, spk_t))
        spikes = [(tt[tb == r] * dt, ti[tb == r]) for r in range(b)]
    errors = [None if o else "non-finite state (NaN/inf) during the run" for o in ok_np]
    return ChunkResult(rates, ok_np, errors, spikes, vtrace.cpu().numpy() if len(vidx) else None)
