"""The benchmark page (benchmarks/bench_page.py): what it computes from its measurements, the
floor network it times, and a quick run that renders the whole page."""

import copy
import json
import re
import sys

import numpy as np
import pytest

from neuroscape.testing import load_benchmark

bp = load_benchmark("bench_page")


def _rows(batches, wall_s, neurons, steps):
    return [
        {"B": b, "wall_s": w, "times_s": [w], "runs_per_s": b / w, "ms_per_run": 1e3 * w / b,
         "neuron_steps_per_s": b * neurons * steps / w}
        for b, w in zip(batches, wall_s, strict=True)
    ]  # fmt: skip


def _results(gpu=False):
    """Measurements of a made-up run, in the shape run_all returns."""
    table = {
        "cortical": {"neurons": 300, "steps": 30_000, "duration_ms": 3000.0, "dt_ms": 0.1,
                     "integrator": "midpoint",
                     "rows": _rows([1, 256], [0.05, 2.56], 300, 30_000)},
        "cuba": {"neurons": 4000, "steps": 10_000, "duration_ms": 1000.0, "dt_ms": 0.1,
                 "integrator": "exact", "rows": _rows([1, 256], [0.2, 20.0], 4000, 10_000)},
        "hh": {"neurons": 1, "steps": 100_000, "duration_ms": 1000.0, "dt_ms": 0.01,
               "integrator": "exponential_staggered_tables",
               "rows": _rows([1, 256], [0.01, 0.05], 1, 100_000)},
    }  # fmt: skip
    sweep = {"n": 2048, "duration_ms": 3000.0, "engine_runs_per_s": 50.0,
             "sweep_runs_per_s": 49.0, "overhead": 0.0204, "cpu_overhead": 0.01,
             "own_overhead": 0.013, "rounds": [{}] * 7,
             "identical_outputs": True,
             "projected_training_set_min": 20000 / 49.0 / 60}  # fmt: skip
    return {
        "config": {"quick": False}, "rounds": 3, "total_s": 600.0,
        "machine": {"date_utc": "2026-01-01 00:00 UTC", "cpu": "Test CPU", "logical_cores": 2,
                    "usable_cores": 2, "numba_threads": 2, "os": "Linux", "python": "3.11",
                    "versions": {"neuroscape": "0.1", "numpy": "2", "numba": "0.6",
                                 "brian2": "2.9.0", "torch": "2"},
                    "commit": "abc", "gpu": "Test GPU" if gpu else None,
                    "gpu_note": "" if gpu else "not measured: no GPU (none visible)",
                    "load_average_start": (1.0, 1.0, 1.0)},
        "load_average_end": (2.0, 2.0, 2.0),
        "cpu": table, "gpu": copy.deepcopy(table) if gpu else None,
        "processes": {"B": 256, "duration_ms": 3000.0, "neuroscape_s_per_run": 0.01,
                      "brian2_s_per_process": 3.0, "ratio": 300.0, "target": "cython"},
        "brian2_circuit": {"s_per_sim": 2.0, "target": "cython"},
        "brian2_networks": [{"network": "cuba", "brian2_s_per_s": 0.5,
                             "neuroscape_s_per_s": {1: 0.25, 16: 0.1}, "ratio": {1: 2.0, 16: 5.0}}],
        "hh": {"neurons": 10_000, "duration_ms": 1000.0, "brian2_dt_ms": 0.025,
               "integrator": "exponential_staggered_tables", "dt_ms": 0.01, "brian2_s": 15.0,
               "neuroscape_s": 0.5, "ratio": 30.0},
        "floor": {"B": 256, "duration_ms": 3000.0, "floor_ms_per_run": 2.2,
                  "circuit_ms_per_run": 10.0, "floor_rates_hz": (9.0, 58.0),
                  "circuit_rates_hz": (13.0, 62.0)},
        "sweeps": {"circuit": sweep, "lif": {**sweep, "n": 100_000, "rounds": [{}] * 15}},
    }  # fmt: skip


def test_the_page_states_the_machine_every_section_and_its_own_arithmetic():
    page = bp.render(_results())
    for heading in ("## Machine", "## Throughput against the batch size B (CPU)",
                    "## Throughput on a GPU", "## Against Brian2 (same run)",
                    "## Sweeps into the model database", "## The floor",
                    "## For context: BrainPy's COBA and COBAHH benchmarks"):  # fmt: skip
        assert heading in page
    assert "| CPU | Test CPU |" in page and "2026-01-01 00:00 UTC" in page
    assert "not measured: no GPU (none visible)" in page
    # the circuit at B = 256: 2.56 s for 256 runs = 10 ms per run = 100 runs/s, and
    # 256 x 300 neurons x 30,000 steps / 2.56 s = 9e8 neuron-steps/s
    assert "| 256 | 100 | 10 | 900 M |" in page
    # against Brian2's 2 s per simulation in this process: 2 s / 10 ms = 200x
    assert "| 256 | 10 | 200x |" in page
    assert "| cuba | 0.5 | 0.25 | 0.1 | 2.0x | 5.0x |" in page
    assert "**Ratio: 300x.**" in page and "**Ratio: 30.0x**" in page
    assert "**6.80 min**" in page  # 20,000 runs at 49 runs/s
    assert "| +2.0% | +1.0% | 1.3% |" in page and "**2.20 ms per run**" in page
    assert "Overheads: medians over 7 (circuit) and 15 (LIF) rounds" in page
    assert "eLife 12:e86365" in page and "Quick mode" not in page


def test_a_measured_gpu_gets_its_own_tables():
    page = bp.render(_results(gpu=True))
    gpu_part = page.split("## Throughput on a GPU")[1].split("## Against Brian2")[0]
    assert "Device: Test GPU" in gpu_part and "| 256 | 100 | 10 | 900 M |" in gpu_part


def test_the_page_cites_authors_and_never_internal_document_numbers():
    page = bp.render(_results())
    assert not re.search(r"\bseed \d{3}\b|\bissue\b|#\d+", page, flags=re.I)
    for who in ("Zhang, Young & Lai", "Brette et al. 2007", "Wang, Zhang, Chen, He, Li and Wu"):
        assert who in page


def test_the_floor_network_draws_no_random_number_during_the_run():
    """The floor's kernel calls none of the counter-based generator's functions; the circuit's
    own kernel (same generator, same graph) does, so this check can fail."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.models.network import network_graph
    from neuroscape.sim.engine import batch_for

    graph = network_graph("cortical", 0)
    s = SimSettings(duration_ms=10.0, window_ms=5.0)
    draws = re.compile(r"\b(word|unit_float|poisson\w*|randn?\w*)\(")
    floor_src = batch_for(bp.floor_network(), connectivity=graph).kernel_source(s)
    circuit_src = batch_for("cortical", connectivity=graph).kernel_source(s)
    assert draws.search(circuit_src)
    assert not draws.search(floor_src)


def test_the_floor_network_drives_e_cells_with_the_mean_of_their_poisson_input():
    """On a graph with no synapse, an E cell of the floor network sees g_E relax to D tau_E,
    the mean of the Poisson-kicked g_E of the circuit (rate x kick, Campbell's theorem): at the
    defaults (eta_ext_E 1500 Hz, S_EE 0.025, ambient 600 Hz, S_dr 0.005) g = 1500 x 0.025 +
    600 x 0.005 = 40.5 /s. With V' = -(1/20 + g) V + (14/3) g (per ms) the cell rises from the
    reset 0 towards V* = 2.09 > 1 and fires with period t_ref + ln(V*/(V* - 1))/(1/20 + g)."""
    from neuroscape.core.settings import SimSettings
    from neuroscape.sim.engine import batch_for, run_batch

    m = bp.floor_network()
    graph = _lonely_graph()
    res = run_batch(batch_for(m, connectivity=graph), [{}], settings=SimSettings(
        duration_ms=1000.0, window_ms=500.0, dt_ms=0.01))  # fmt: skip
    g = 0.0405  # /ms
    a, b = 1 / 20 + g, 14 / 3 * g
    v_inf = b / a
    period = 2.5 + np.log(v_inf / (v_inf - 1)) / a  # ms: refractory, then from 0 to 1
    assert res["r_E"][0] == pytest.approx(1000 / period, rel=0.01)


def _lonely_graph():
    """The circuit's populations with no synapse at all."""
    from neuroscape.core.connectivity import Graph

    empty = np.zeros((2, 0), dtype=np.int64)
    return Graph({"E": 225, "I": 75},
                 {p: empty for p in ("E_to_E", "E_to_I", "I_to_E", "I_to_I")})  # fmt: skip


@pytest.mark.slow
def test_a_quick_run_renders_the_whole_page(tmp_path):
    pytest.importorskip("brian2")
    out, js = tmp_path / "page.md", tmp_path / "page.json"
    assert bp.main(["--quick", "--out", str(out), "--json", str(js)]) == 0
    page = out.read_text()
    assert page.startswith("# Benchmarks") and "Quick mode" in page
    assert "nan" not in page.lower().replace("nanoseconds", "")
    res = json.loads(js.read_text())
    assert {r["B"] for r in res["cpu"]["cortical"]["rows"]} == {1, 16}
    assert res["sweeps"]["circuit"]["identical_outputs"] is True
    assert res["sweeps"]["lif"]["identical_outputs"] is True
    assert res["processes"]["ratio"] > 0 and res["hh"]["ratio"] > 0
    # a smoke run compiles nothing for Brian2 (its Cython builds were most of this test's time)
    assert res["processes"]["target"] == res["brian2_circuit"]["target"] == "numpy"
    assert {n["target"] for n in res["brian2_networks"]} == {"numpy"}
    assert sys.modules.get("neuroscape") is not None
