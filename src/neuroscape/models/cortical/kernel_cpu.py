"""numba kernel of the cortical circuit: one thread per batch row (parameter set).

Per step and neuron: integrate (V, g_E, g_I) with the chosen Runge-Kutta scheme, detect threshold
crossings, then deliver the step's recurrent spikes and Poisson kicks as conductance jumps, which
act from the next step on (no delay, inputs at step boundaries). Random numbers come from the
counter-based generator in ``neuroscape.core.rng`` at positions fixed by (row, step, neuron), so
the torch back end draws the very same numbers.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
from numba import prange

from neuroscape.core import rng as rng_mod
from neuroscape.core.integrators import get_tableau, step_source
from neuroscape.core.rng import SUB_BITS, hi32, lo32, poisson_from_table, unit_float, word

_SUB = np.uint64(SUB_BITS)
_INIT_BIT = np.uint64(1 << 63)

# jump indices in the per-row ``jumps`` array
J_EE, J_IE, J_EI, J_II, J_EXT_E, J_EXT_I, J_AMB = range(7)
# constant indices in ``consts``
C_INV_TAU_LEAK, C_INV_TAU_E, C_INV_TAU_I, C_VE, C_VI, C_VT, C_VR, C_BETA_LOW = range(8)

K_FAST = 6  # branch-free Poisson comparisons per draw

_KERNELS: dict[str, object] = {}


def _run_batch(
    jumps,
    tables,
    keys,
    ee_ptr,
    ee_idx,
    ei_ptr,
    ei_idx,
    ie_ptr,
    ie_idx,
    ii_ptr,
    ii_idx,
    n_e,
    n_i,
    n_steps,
    rec_start,
    n_ref,
    dt,
    consts,
    counts,
    ok,
    spk_step,
    spk_idx,
    spk_n,
    vidx,
    vtrace,
):
    for b in prange(jumps.shape[0]):
        ok[b] = _run_row(
            b,
            jumps[b],
            tables[b],
            keys[b],
            ee_ptr,
            ee_idx,
            ei_ptr,
            ei_idx,
            ie_ptr,
            ie_idx,
            ii_ptr,
            ii_idx,
            n_e,
            n_i,
            n_steps,
            rec_start,
            n_ref,
            dt,
            consts,
            counts,
            spk_step,
            spk_idx,
            spk_n,
            vidx,
            vtrace,
        )


def _run_row(
    b,
    jmp,
    tab,
    key,
    ee_ptr,
    ee_idx,
    ei_ptr,
    ei_idx,
    ie_ptr,
    ie_idx,
    ii_ptr,
    ii_idx,
    n_e,
    n_i,
    n_steps,
    rec_start,
    n_ref,
    dt,
    consts,
    counts,
    spk_step,
    spk_idx,
    spk_n,
    vidx,
    vtrace,
):
    n = n_e + n_i
    inv_tl, inv_te, inv_ti = consts[C_INV_TAU_LEAK], consts[C_INV_TAU_E], consts[C_INV_TAU_I]
    v_e, v_i, v_t, v_r = consts[C_VE], consts[C_VI], consts[C_VT], consts[C_VR]
    beta_low = consts[C_BETA_LOW]
    beta_span = 1.0 - beta_low
    j_ee, j_ie, j_ei, j_ii = jmp[J_EE], jmp[J_IE], jmp[J_EI], jmp[J_II]
    j_ext_e, j_ext_i, j_amb = jmp[J_EXT_E], jmp[J_EXT_I], jmp[J_AMB]
    tab_e, tab_i, tab_amb = tab[0], tab[1], tab[2]
    # the first K_FAST thresholds of each table as scalars, for the branch-free pass
    e0, e1, e2, e3, e4, e5 = tab_e[0], tab_e[1], tab_e[2], tab_e[3], tab_e[4], tab_e[5]
    i0, i1, i2, i3, i4, i5 = tab_i[0], tab_i[1], tab_i[2], tab_i[3], tab_i[4], tab_i[5]
    a0, a1, a2, a3, a4, a5 = (
        tab_amb[0],
        tab_amb[1],
        tab_amb[2],
        tab_amb[3],
        tab_amb[4],
        tab_amb[5],
    )

    v = np.empty(n)
    ge = np.zeros(n)
    gi = np.zeros(n)
    spiked = np.empty(n, dtype=np.int64)
    held_idx = np.empty(n, dtype=np.int64)
    held_cnt = np.empty(n, dtype=np.int64)
    u_ext = np.empty(n, dtype=np.int64)
    u_amb = np.empty(n, dtype=np.int64)
    k_ee = np.zeros(n_e, dtype=np.int64)
    for i in range(n):
        v[i] = unit_float(word(key, _INIT_BIT | np.uint64(i)))

    rec_spikes = spk_step.shape[1] > 0
    max_spk = spk_step.shape[1]
    n_rec = vidx.shape[0] if vtrace.shape[1] > 0 else 0
    n_sp = 0
    cnt_e = 0
    cnt_i = 0
    n_held = 0  # neurons in their refractory period: held_idx[:n_held], held_cnt[:n_held]
    for s in range(n_steps):
        # 1. integrate every neuron (a branch-free loop that LLVM vectorizes), then put the
        # refractory ones back to V_R, which equals integrating them with dV/dt = 0.
        for i in range(n):
            v[i], ge[i], gi[i] = step(v[i], ge[i], gi[i], dt, 1.0, inv_tl, inv_te, inv_ti, v_e, v_i)
        q = 0
        for p in range(n_held):
            i = held_idx[p]
            v[i] = v_r
            c = held_cnt[p] - 1
            if c > 0:
                held_idx[q] = i
                held_cnt[q] = c
                q += 1
        n_held = q
        # 2. threshold (held neurons sit at V_R < V_T and cannot fire), reset
        n_fire = 0
        for i in range(n):
            n_fire += v[i] >= v_t
        n_spk = 0
        if n_fire > 0:
            for i in range(n):
                if v[i] >= v_t:
                    v[i] = v_r
                    spiked[n_spk] = i
                    n_spk += 1
                    if n_ref > 1:
                        held_idx[n_held] = i
                        held_cnt[n_held] = n_ref - 1
                        n_held += 1
        for r in range(n_rec):
            vtrace[b, r, s] = v[vidx[r]]
        # 3. recurrent spikes, delivered for the next step
        n_spk_e = 0
        for q in range(n_spk):
            i = spiked[q]
            if i < n_e:
                n_spk_e += 1
                for p in range(ee_ptr[i], ee_ptr[i + 1]):
                    k_ee[ee_idx[p]] += 1
                for p in range(ei_ptr[i], ei_ptr[i + 1]):
                    ge[n_e + ei_idx[p]] += j_ie
            else:
                ii = i - n_e
                for p in range(ie_ptr[ii], ie_ptr[ii + 1]):
                    gi[ie_idx[p]] += j_ei
                for p in range(ii_ptr[ii], ii_ptr[ii + 1]):
                    gi[n_e + ii_idx[p]] += j_ii
            if s >= rec_start:
                if i < n_e:
                    cnt_e += 1
                else:
                    cnt_i += 1
            if rec_spikes and n_sp < max_spk:
                spk_step[b, n_sp] = s
                spk_idx[b, n_sp] = i
                n_sp += 1
        base_s = np.uint64(s) * np.uint64(n)
        if n_spk_e > 0:
            # E->E synaptic failure: each delivery scaled by beta ~ U[beta_low, 1]
            for j in range(n_e):
                k = k_ee[j]
                if k > 0:
                    c = (base_s + np.uint64(j)) << _SUB
                    acc = 0.0
                    for m in range(k):
                        u = unit_float(word(key, c + np.uint64(m + 1)))
                        acc += beta_low + beta_span * u
                    ge[j] += acc * j_ee
                    k_ee[j] = 0
        # 4. Poisson external and ambient kicks: counts per step by inverse-CDF tables.
        # The first K_FAST comparisons are branch-free (vectorized); the rare larger counts
        # are finished in a second, well-predicted pass.
        c0 = base_s << _SUB
        ovf = 0
        for i in range(n):
            x = word(key, c0 + (np.uint64(i) << _SUB))
            u_ext[i] = np.int64(lo32(x))
            u_amb[i] = np.int64(hi32(x))
        for i in range(n_e):
            u1 = u_ext[i]
            u2 = u_amb[i]
            k_ext = (u1 >= e0) + (u1 >= e1) + (u1 >= e2) + (u1 >= e3) + (u1 >= e4) + (u1 >= e5)
            k_amb = (u2 >= a0) + (u2 >= a1) + (u2 >= a2) + (u2 >= a3) + (u2 >= a4) + (u2 >= a5)
            ge[i] += k_ext * j_ext_e + k_amb * j_amb
            ovf += (u1 >= e5) + (u2 >= a5)
        for i in range(n_e, n):
            u1 = u_ext[i]
            u2 = u_amb[i]
            k_ext = (u1 >= i0) + (u1 >= i1) + (u1 >= i2) + (u1 >= i3) + (u1 >= i4) + (u1 >= i5)
            k_amb = (u2 >= a0) + (u2 >= a1) + (u2 >= a2) + (u2 >= a3) + (u2 >= a4) + (u2 >= a5)
            ge[i] += k_ext * j_ext_i + k_amb * j_amb
            ovf += (u1 >= i5) + (u2 >= a5)
        if ovf > 0:  # rare: some count reached K_FAST; finish it from the full table
            for i in range(n_e):
                if u_ext[i] >= e5:
                    ge[i] += (poisson_from_table(u_ext[i], tab_e) - K_FAST) * j_ext_e
            for i in range(n_e, n):
                if u_ext[i] >= i5:
                    ge[i] += (poisson_from_table(u_ext[i], tab_i) - K_FAST) * j_ext_i
            for i in range(n):
                if u_amb[i] >= a5:
                    ge[i] += (poisson_from_table(u_amb[i], tab_amb) - K_FAST) * j_amb
    counts[b, 0] = cnt_e
    counts[b, 1] = cnt_i
    if rec_spikes:
        spk_n[b] = n_sp
    for i in range(n):
        if not np.isfinite(v[i]) or not np.isfinite(ge[i]) or not np.isfinite(gi[i]):
            return False
    return True


# The two functions above are templates: ``step`` is the integrator's stage code, generated per
# scheme. ``kernel`` writes them with that code into one module that numba compiles and caches.
step = None


def kernel(integrator: str):
    """The batched kernel for ``integrator``: compiled once, then loaded from numba's cache."""
    tableau = get_tableau(integrator)
    if tableau.name in _KERNELS:
        return _KERNELS[tableau.name]
    from neuroscape.core.codegen import load_generated

    here = Path(__file__)
    source = "\n".join(
        [
            f"# generated by neuroscape for the {tableau.name} scheme; do not edit",
            "import numpy as np",
            "from numba import njit, prange",
            "from neuroscape.models.cond_if import rhs",
            "from neuroscape.models.cortical.kernel_cpu import (",
            "    _SUB, _INIT_BIT, K_FAST, J_EE, J_IE, J_EI, J_II, J_EXT_E, J_EXT_I, J_AMB,",
            "    C_INV_TAU_LEAK, C_INV_TAU_E, C_INV_TAU_I, C_VE, C_VI, C_VT, C_VR, C_BETA_LOW,",
            ")",
            "from neuroscape.core.rng import hi32, lo32, poisson_from_table, unit_float, word",
            "",
            "",
            '@njit(inline="always", cache=True)',
            step_source(tableau, 3, 6),
            "",
            "@njit(cache=True)",
            inspect.getsource(_run_row),
            "",
            "@njit(parallel=True, cache=True)",
            inspect.getsource(_run_batch),
        ]
    )
    models = here.parent.parent
    deps = [here, models / "cond_if" / "__init__.py", rng_mod.__file__]
    module = load_generated(f"cortical_{tableau.name}", source, deps)
    _KERNELS[tableau.name] = module._run_batch
    return module._run_batch
