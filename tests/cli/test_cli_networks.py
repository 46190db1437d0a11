"""Networks through the command line (issue 18): `neuroscape connectivity` writes the graph of a
shipped network, `simulate --connectivity` runs on it exactly as on its conn seed, and a bad
network file or graph file is one line on stderr with exit status 2, naming the file (and, for a
description, its line) and the element."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from neuroscape.testing import assert_refused, run_cli

PATHWAYS = ("E_to_E", "E_to_I", "I_to_E", "I_to_I")
SHORT = ["--duration-ms", "200", "--window-ms", "100", "--quiet"]


def _brian2_cuba_graph(conn_seed: int) -> dict[str, np.ndarray]:
    """Brian2's CUBA graph drawn with numpy: connect(p=0.02) per pathway in order, one uniform
    per (pre, post) pair from SeedSequence([conn_seed, 0xC0FFEE]); i == j allowed."""
    rng = np.random.default_rng(np.random.SeedSequence([conn_seed, 0xC0FFEE]))
    n = {"E": 3200, "I": 800}
    out = {}
    for name in PATHWAYS:
        pre, post = name.split("_to_")
        out[name] = np.vstack(np.nonzero(rng.random((n[pre], n[post])) < 0.02))
    return out


@pytest.fixture(scope="module")
def cuba_graph(tmp_path_factory):
    return tmp_path_factory.mktemp("cuba") / "g.npz"


def test_connectivity_writes_every_projection_and_size(cuba_graph, capsys):
    rc, out, err = run_cli(["connectivity", "cuba", "--conn-seed", "3", "--out", str(cuba_graph)],
                           capsys)
    assert rc == 0, err
    want = _brian2_cuba_graph(3)
    with np.load(cuba_graph) as z:
        assert sorted(z.files) == sorted([*PATHWAYS, "N_E", "N_I"])
        assert int(z["N_E"]) == 3200 and int(z["N_I"]) == 800
        for name in PATHWAYS:
            a = z[name]
            assert a.ndim == 2 and a.shape[0] == 2 and np.issubdtype(a.dtype, np.integer)
            assert np.array_equal(a, want[name]), name
            assert str(a.shape[1]) in out + err  # the command says how many synapses


def _json(argv, capsys) -> dict:
    rc, out, err = run_cli([*argv, "--json"], capsys)
    assert rc == 0, err
    return json.loads(out)


def test_simulate_on_the_exported_graph_is_the_conn_seed_run(cuba_graph, capsys):
    if not cuba_graph.exists():
        assert run_cli(["connectivity", "cuba", "--conn-seed", "3", "--out", str(cuba_graph)],
                       capsys)[0] == 0
    from_file = _json(["simulate", "cuba", "--connectivity", str(cuba_graph), *SHORT], capsys)
    from_seed = _json(["simulate", "cuba", "--conn-seed", "3", *SHORT], capsys)
    assert from_file["outputs"] == from_seed["outputs"]
    assert from_file["connectivity_sha256"] == from_seed["connectivity_sha256"]
    assert from_seed["conn_seed"] == 3
    r = from_seed["outputs"]
    assert set(r) == {"r_E", "r_I"} and from_seed["output_units"] == {"r_E": "Hz", "r_I": "Hz"}
    assert all(np.isfinite(v) and v > 0 for v in r.values()), r


# --------------------------------------------------------------------------- bad graph files
def _bad_graph(tmp_path: Path, cuba_graph: Path, edit) -> Path:
    if not cuba_graph.exists():
        from neuroscape.models.network import network_graph

        network_graph("cuba", 3).save(cuba_graph)
    with np.load(cuba_graph) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    f = tmp_path / "bad_graph.npz"
    np.savez(f, **arrays)
    return f


def _wrong_n_e(a):
    a["N_E"] = np.int64(3000)


def _missing(a):
    del a["I_to_E"]


def _out_of_range(a):
    a["E_to_I"] = a["E_to_I"].copy()
    a["E_to_I"][1, 7] = 800


GRAPH_CASES = [
    ("wrong N_E", _wrong_n_e, ["N_E", "3000", "3200"]),
    ("missing projection", _missing, ["I_to_E"]),
    ("index out of range", _out_of_range, ["E_to_I", "800"]),
]


@pytest.mark.parametrize("case", GRAPH_CASES, ids=[c[0] for c in GRAPH_CASES])
def test_a_graph_file_that_does_not_fit_is_one_line(case, cuba_graph, tmp_path, capsys,
                                                     monkeypatch):
    _, edit, words = case
    f = _bad_graph(tmp_path, cuba_graph, edit)
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    rc, _, err = run_cli(["simulate", "cuba", "--connectivity", str(f), *SHORT], capsys)
    assert_refused(rc, err, str(f))
    for w in words:
        assert w in err, (w, err)
    assert set(os.listdir(tmp_path)) == before


# --------------------------------------------------------------------------- bad descriptions
GOOD = """\
name: clinet
parameters:
  w: {default: 0.5 nS, low: 0 nS, high: 5 nS}
  w_mv: {default: 1 mV, low: 0 mV, high: 5 mV}
  d: {default: 1 ms, low: -5 ms, high: 5 ms}
populations:
  E:
    size: 20
    model:
      name: cell
      equations: |
        dv/dt = (g_e*(0*mV - v) + (-70*mV - v)*10*nS + I)/(200*pF) : volt
        dg_e/dt = -g_e/(5*ms) : siemens
      current: {name: I, unit: pA}
      threshold: v > -50*mV
      reset: v = -70*mV
      spike_timing: grid
      initial: {v: -70 mV, g_e: 0 nS}
    current: 300*pA
projections:
  E_to_E:
    pre: E
    post: E
    connect: {p: 0.1}
    model: |
      w_s : 1
      dApre/dt = -Apre/(20*ms) : 1 (event-driven)
    on_pre: |
      g_e += w
      Apre += 0.01
    on_post: |
      w_s = clip(w_s + Apre, 0, 1)
    delay: d
settings: {duration: 50 ms, dt: 0.1 ms, window: 20 ms}
"""
MODEL_BLOCK = GOOD[GOOD.index("    model:\n      name: cell"):GOOD.index("    current: 300*pA")]
TRACE = "      dApre/dt = -Apre/(20*ms) : 1 (event-driven)\n"

# (id, edits, (section, key): the line the message gives, words it must say)
BAD = [
    ("unknown population", [("    post: E\n", "    post: X\n")], ("projections", "post"),
     ["'X'", "population"]),
    ("unknown model", [(MODEL_BLOCK, "    model: no_such_cell\n")], ("populations", "model"),
     ["no_such_cell"]),
    ("undefined variable", [("      g_e += w\n", "      g_x += w\n")], ("projections", "on_pre"),
     ["g_x"]),
    ("mismatched units", [("      g_e += w\n", "      g_e += w_mv\n")],
     ("projections", "on_pre"), ["g_e", "units"]),
    ("probability outside [0, 1]", [("{p: 0.1}", "{p: 1.01}")], ("projections", "connect"),
     ["1.01", "[0, 1]"]),
    ("negative delay", [("    delay: d\n", "    delay: -0.5 ms\n")], ("projections", "delay"),
     ["-0.5 ms"]),
    ("plasticity without its traces", [(TRACE, ""), ("      Apre += 0.01\n", "")],
     ("projections", "on_post"), ["Apre"]),
]


def _line(text: str, section: str, key: str) -> int:
    """1-based line of the first ``key:`` after the top-level ``section:`` (found here)."""
    lines = text.splitlines()
    start = lines.index(f"{section}:")
    return 1 + next(i for i in range(start, len(lines)) if re.match(rf"\s+{key}\s*:", lines[i]))


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_a_bad_network_file_is_one_line_naming_file_line_and_element(case, tmp_path, capsys,
                                                                      monkeypatch):
    _, edits, (section, key), words = case
    text = GOOD
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    f = tmp_path / "net.yaml"
    f.write_text(text)
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    rc, _, err = run_cli(["simulate", str(f), *SHORT], capsys)
    assert_refused(rc, err, f"{f}:{_line(text, section, key)}: ")
    assert key in err, err
    for w in words:
        assert w in err, (w, err)
    assert set(os.listdir(tmp_path)) == before


def test_the_good_network_file_is_accepted(tmp_path, capsys):
    f = tmp_path / "net.yaml"
    f.write_text(GOOD)
    rc, out, err = run_cli(["params", str(f)], capsys)
    assert rc == 0, err
    assert "w_mv" in out and "mV" in out


def test_a_negative_delay_parameter_is_one_line(tmp_path, capsys):
    f = tmp_path / "net.yaml"
    f.write_text(GOOD)
    rc, _, err = run_cli(["simulate", str(f), "--set", "d=-1", *SHORT], capsys)
    assert_refused(rc, err, "E_to_E")
    assert "-1" in err and "delay" in err, err
