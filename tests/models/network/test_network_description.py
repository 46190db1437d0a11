"""The network description (issue 18): connection rules against their definitions, graphs of the
shipped networks against an independent numpy draw, and bad descriptions refused with one line
that names the file, the line and the element.

Nothing here compiles a kernel: graphs are drawn by the description alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from neuroscape.core.connectivity import Graph
from neuroscape.models.network import (
    NetworkError,
    load_network_file,
    network,
    network_graph,
    network_model,
)
from neuroscape.testing import HOLD_CELL as HOLD

N_A, N_B = 200, 150


def _net(projections: dict, sizes: dict | None = None) -> object:
    sizes = sizes or {"A": N_A, "B": N_B}
    return network_model({
        "name": "rules",
        "populations": {p: {"size": n, "model": HOLD} for p, n in sizes.items()},
        "projections": {
            k: {"on_pre": "v += 1*mV", **v} for k, v in projections.items()
        },
    })


def _pairs(e: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(e[0].tolist(), e[1].tolist(), strict=True))


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


# --------------------------------------------------------------------------- connection rules
@pytest.mark.parametrize("conn_seed", [0, 7])
def test_fixed_probability_counts_and_autapses(conn_seed):
    p_aa, p_ab, p_aut = 0.1, 0.3, 0.25
    m = _net({
        "AA": {"pre": "A", "post": "A", "connect": {"p": p_aa}},
        "AB": {"pre": "A", "post": "B", "connect": {"p": p_ab}},
        "AA_aut": {"pre": "A", "post": "A", "connect": {"p": p_aut, "autapses": True}},
    })
    g = m.graph(conn_seed)
    cases = (("AA", p_aa, N_A * (N_A - 1)), ("AB", p_ab, N_A * N_B), ("AA_aut", p_aut, N_A**2))
    for name, p, pairs in cases:
        e = g.edges[name]
        assert e.shape[0] == 2
        sd = np.sqrt(pairs * p * (1 - p))
        assert abs(e.shape[1] - p * pairs) < 5 * sd, (name, e.shape[1], p * pairs, sd)
        assert len(_pairs(e)) == e.shape[1], f"{name}: duplicate synapses"
        assert e.min() >= 0 and e[0].max() < N_A
    # no autapses unless asked for; with autapses: i -> i as often as any other pair
    assert not np.any(g.edges["AA"][0] == g.edges["AA"][1])
    n_self = int(np.sum(g.edges["AA_aut"][0] == g.edges["AA_aut"][1]))
    assert abs(n_self - p_aut * N_A) < 5 * np.sqrt(N_A * p_aut * (1 - p_aut)), n_self
    assert g.edges["AB"][1].max() < N_B


def test_fixed_probability_extremes():
    m = _net({"none": {"pre": "A", "post": "B", "connect": {"p": 0}},
              "all": {"pre": "A", "post": "A", "connect": {"p": 1}}})
    g = m.graph(3)
    assert g.edges["none"].shape == (2, 0)
    assert _pairs(g.edges["all"]) == {(i, j) for i in range(N_A) for j in range(N_A) if i != j}


@pytest.mark.parametrize("conn_seed", [0, 5])
def test_in_degree_every_post_has_exactly_k_distinct_pre(conn_seed):
    k, k_aut, k_ab = 7, 50, 20
    m = _net({
        "AA": {"pre": "A", "post": "A", "connect": {"in_degree": k}},
        "AA_aut": {"pre": "A", "post": "A", "connect": {"in_degree": k_aut, "autapses": True}},
        "AB": {"pre": "A", "post": "B", "connect": {"in_degree": k_ab}},
    })
    g = m.graph(conn_seed)
    for name, kk, n_post in (("AA", k, N_A), ("AA_aut", k_aut, N_A), ("AB", k_ab, N_B)):
        pre, post = g.edges[name]
        assert np.array_equal(np.bincount(post, minlength=n_post), np.full(n_post, kk)), name
        assert len(_pairs(g.edges[name])) == pre.size, f"{name}: a pre chosen twice"
        assert pre.min() >= 0 and pre.max() < N_A
        # the pre are drawn uniformly: their mean index is (N_A - 1)/2 within 5 SE
        se = np.sqrt((N_A**2 - 1) / 12 / pre.size)
        assert abs(pre.mean() - (N_A - 1) / 2) < 5 * se, (name, pre.mean())
    pre, post = g.edges["AA"]
    assert not np.any(pre == post), "in_degree without autapses chose a neuron as its own pre"
    pre, post = g.edges["AA_aut"]
    # with autapses each post picks itself with probability k/N: N_A*k/N_A = k self-loops expected
    n_self = int(np.sum(pre == post))
    assert abs(n_self - k_aut) < 5 * np.sqrt(k_aut * (1 - k_aut / N_A)), n_self


def test_in_degree_larger_than_the_population_is_refused():
    m = _net({"AA": {"pre": "A", "post": "A", "connect": {"in_degree": N_A}}})
    with pytest.raises(ValueError) as info:
        m.graph(0)
    msg = _one_line(info.value)
    assert "AA" in msg and str(N_A) in msg and str(N_A - 1) in msg, msg


def test_one_to_one_and_all_to_all():
    m = _net(
        {
            "AC": {"pre": "A", "post": "C", "connect": "one_to_one"},
            "AB": {"pre": "A", "post": "B", "connect": "all_to_all"},
            "AA": {"pre": "A", "post": "A", "connect": "all_to_all"},
            "AA_aut": {"pre": "A", "post": "A", "connect": {"p": 1.0, "autapses": True}},
        },
        sizes={"A": 30, "B": 20, "C": 30},
    )
    g = m.graph(11)
    assert np.array_equal(g.edges["AC"], np.vstack([np.arange(30), np.arange(30)]))
    assert _pairs(g.edges["AB"]) == {(i, j) for i in range(30) for j in range(20)}
    assert g.edges["AB"].shape == (2, 600)
    assert _pairs(g.edges["AA"]) == {(i, j) for i in range(30) for j in range(30) if i != j}
    assert _pairs(g.edges["AA_aut"]) == {(i, j) for i in range(30) for j in range(30)}


def test_one_to_one_between_unequal_sizes_is_refused():
    m = _net({"AB": {"pre": "A", "post": "B", "connect": "one_to_one"}})
    with pytest.raises(ValueError) as info:
        m.graph(0)
    msg = _one_line(info.value)
    assert "AB" in msg and str(N_A) in msg and str(N_B) in msg, msg


def test_the_graph_is_a_function_of_the_conn_seed():
    rules = {
        "AA": {"pre": "A", "post": "A", "connect": {"p": 0.05}},
        "AB": {"pre": "A", "post": "B", "connect": {"in_degree": 5}},
    }
    m = _net(rules)
    g0, g0b, g1 = m.graph(0), m.graph(0), m.graph(1)
    assert g0.content_hash() == g0b.content_hash()
    for name in rules:
        assert np.array_equal(g0.edges[name], g0b.edges[name])
        assert not np.array_equal(g0.edges[name], g1.edges[name])
    assert g0.content_hash() != g1.content_hash()
    # a projection declared later never changes the graphs of those declared before it
    more = _net({**rules, "BA": {"pre": "B", "post": "A", "connect": {"p": 0.2}}})
    for name in rules:
        assert np.array_equal(more.graph(0).edges[name], g0.edges[name])


# --------------------------------------------------------------------------- graphs from files
def _file_net(path: Path, sizes=None):
    return _net({"AB": {"pre": "A", "post": "B", "connect": {"file": str(path)}}},
                sizes=sizes or {"A": 4, "B": 3})


def test_connection_from_a_file(tmp_path):
    e = np.array([[0, 0, 2, 3], [1, 2, 0, 2]])
    f = tmp_path / "g.npz"
    np.savez(f, N_A=np.int64(4), N_B=np.int64(3), AB=e)
    g = _file_net(f).graph(0)
    assert np.array_equal(g.edges["AB"], e)
    assert g.content_hash() == _file_net(f).graph(9).content_hash(), "a file ignores conn_seed"


def test_a_file_without_the_projection_names_file_and_array(tmp_path):
    f = tmp_path / "g.npz"
    np.savez(f, N_A=np.int64(4), N_B=np.int64(3), XB=np.array([[0], [1]]))
    with pytest.raises(ValueError) as info:
        _file_net(f).graph(0)
    msg = _one_line(info.value)
    assert str(f) in msg and "AB" in msg, msg


def test_a_file_in_any_order_gives_the_canonical_graph(tmp_path):
    e = np.array([[3, 0, 2, 1], [0, 2, 1, 0]])
    f = tmp_path / "g.npz"
    np.savez(f, N_A=np.int64(4), N_B=np.int64(3), AB=e)
    got = _file_net(f).graph(0).edges["AB"]
    order = np.lexsort((e[1], e[0]))
    assert np.array_equal(got, e[:, order])


def test_a_file_with_float_indices_is_refused(tmp_path):
    f = tmp_path / "g.npz"
    np.savez(f, N_A=np.int64(4), N_B=np.int64(3), AB=np.array([[0.7, 1.2], [0.0, 2.9]]))
    with pytest.raises(ValueError) as info:
        _file_net(f).graph(0)
    msg = _one_line(info.value)
    assert str(f) in msg and "AB" in msg, msg


def test_a_file_for_other_population_sizes_is_refused(tmp_path):
    f = tmp_path / "g.npz"
    np.savez(f, N_A=np.int64(2), N_B=np.int64(3), AB=np.array([[0, 1], [0, 2]]))
    with pytest.raises(ValueError) as info:
        _file_net(f).graph(0)
    msg = _one_line(info.value)
    assert str(f) in msg and "N_A" in msg, msg


def test_a_file_with_an_index_out_of_range_names_the_file(tmp_path):
    f = tmp_path / "g.npz"
    np.savez(f, N_A=np.int64(4), N_B=np.int64(3), AB=np.array([[0, 1], [0, 3]]))
    with pytest.raises(ValueError) as info:
        _file_net(f).graph(0)
    msg = _one_line(info.value)
    assert str(f) in msg and "AB" in msg and "3" in msg, msg


# --------------------------------------------------------------------------- shipped graphs
def _bernoulli(rng, n_pre, n_post, p, autapses):
    m = rng.random((n_pre, n_post)) < p
    if not autapses:
        np.fill_diagonal(m, False)
    pre, post = np.nonzero(m)  # row-major: sorted by pre, then post
    return np.vstack([pre, post])


def test_cortical_graph_of_conn_seed_0_is_the_hand_written_generators():
    # the old generator: SeedSequence([conn_seed, 0xC0FFEE]), one (n_pre, n_post) uniform draw per
    # pathway in the order E_to_E, E_to_I, I_to_E, I_to_I, no self-connections
    rng = np.random.default_rng(np.random.SeedSequence([0, 0xC0FFEE]))
    n = {"E": 225, "I": 75}
    p = {"E_to_E": 0.1, "E_to_I": 0.5, "I_to_E": 0.5, "I_to_I": 0.5}
    want = {}
    for name in ("E_to_E", "E_to_I", "I_to_E", "I_to_I"):
        pre, post = name.split("_to_")
        want[name] = _bernoulli(rng, n[pre], n[post], p[name], autapses=pre != post)
    g = network_graph("cortical", 0)
    assert dict(g.sizes) == n
    for name, e in want.items():
        assert np.array_equal(g.edges[name], e), name
    assert g.content_hash() == Graph(n, want).content_hash()


def test_cuba_graph_is_brians_connect_p_002_drawn_in_order():
    # Brian2's CUBA: connect(p=0.02) within one group allows i == j (E_to_E, I_to_I keep autapses)
    rng = np.random.default_rng(np.random.SeedSequence([3, 0xC0FFEE]))
    n = {"E": 3200, "I": 800}
    g = network_graph("cuba", 3)
    for name in ("E_to_E", "E_to_I", "I_to_E", "I_to_I"):
        pre, post = name.split("_to_")
        want = _bernoulli(rng, n[pre], n[post], 0.02, autapses=True)
        assert np.array_equal(g.edges[name], want), name


def test_graph_save_and_load_round_trip(tmp_path):
    m = network("cuba")
    g = network_graph("cuba", 4)
    path = g.save(tmp_path / "g.npz")
    with np.load(path) as z:
        assert sorted(z.files) == ["E_to_E", "E_to_I", "I_to_E", "I_to_I", "N_E", "N_I"]
        assert int(z["N_E"]) == 3200 and int(z["N_I"]) == 800
        for name in ("E_to_E", "E_to_I", "I_to_E", "I_to_I"):
            assert z[name].shape == (2, g.n_synapses[name])
            assert np.issubdtype(z[name].dtype, np.integer)
    assert m.load_graph(path).content_hash() == g.content_hash()


# --------------------------------------------------------------------------- bad descriptions
GOOD = """\
name: badnet
parameters:
  w: {default: 0.5 nS, low: 0 nS, high: 5 nS}
  w_mv: {default: 1 mV, low: 0 mV, high: 5 mV}
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
    delay: 1 ms
settings: {duration: 50 ms, dt: 0.1 ms, window: 20 ms}
"""

# (id, [(text, replacement), ...], the element the message names, words it must say)
MODEL_BLOCK = GOOD[GOOD.index("    model:\n      name: cell"):GOOD.index("    current: 300*pA")]
TRACE = "      dApre/dt = -Apre/(20*ms) : 1 (event-driven)\n"
BAD = [
    ("unknown population", [("    post: E\n", "    post: X\n")],
     "projections.E_to_E.post", ["unknown population", "'X'"]),
    ("unknown model", [(MODEL_BLOCK, "    model: no_such_cell\n")],
     "populations.E.model", ["unknown model", "no_such_cell"]),
    ("on_pre to an undefined variable", [("      g_e += w\n", "      g_x += w\n")],
     "projections.E_to_E.on_pre", ["undefined variable", "g_x"]),
    ("on_pre with mismatched units", [("      g_e += w\n", "      g_e += w_mv\n")],
     "projections.E_to_E.on_pre", ["units", "g_e"]),
    ("probability above 1", [("connect: {p: 0.1}", "connect: {p: 1.5}")],
     "projections.E_to_E.connect", ["probability", "1.5", "[0, 1]"]),
    ("probability below 0", [("connect: {p: 0.1}", "connect: {p: -0.2}")],
     "projections.E_to_E.connect", ["probability", "-0.2", "[0, 1]"]),
    ("negative delay", [("    delay: 1 ms\n", "    delay: -1 ms\n")],
     "projections.E_to_E.delay", ["negative delay", "-1 ms"]),
    ("plasticity rule without its trace", [(TRACE, "")],
     "projections.E_to_E.on_pre", ["Apre"]),
    ("on_post reads a trace never declared", [(TRACE, ""), ("      Apre += 0.01\n", "")],
     "projections.E_to_E.on_post", ["Apre"]),
    ("input onto an unknown population",
     [("settings:", "inputs:\n  drive:\n    target: X\n    rate: 10 Hz\n"
                    "    on_spike: g_e += w\nsettings:")],
     "inputs.drive.target", ["unknown population", "'X'"]),
    ("output of an unknown population",
     [("settings:", "outputs:\n  r_X:\n    rate: X\nsettings:")],
     "outputs.r_X.rate", ["unknown population", "'X'"]),
]


def _bad_file(tmp_path: Path, edits) -> tuple[Path, str]:
    text = GOOD
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    return f, text


def test_the_good_description_loads(tmp_path):
    f = tmp_path / "good.yaml"
    f.write_text(GOOD)
    m = load_network_file(f)
    assert [j.name for j in m.projections] == ["E_to_E"]


def _expected_line(text: str, element: str) -> int:
    """The line of the element's key in the file (found here, not by the loader)."""
    path = element.split(".")
    lines = text.splitlines()
    at, indent = 0, -1
    for key in path:
        pat = re.compile(rf"^(\s*){re.escape(key)}\w*\s*:")
        for i in range(at, len(lines)):
            mm = pat.match(lines[i])
            if mm and len(mm.group(1)) > indent:
                at, indent = i, len(mm.group(1))
                break
        else:  # a key inside a flow mapping: the line of its parent
            break
    return at + 1


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_description_is_one_line_naming_file_line_and_element(case, tmp_path):
    _, edits, element, words = case
    f, text = _bad_file(tmp_path, edits)
    with pytest.raises(NetworkError) as info:
        load_network_file(f)
    assert isinstance(info.value, ValueError)
    msg = _one_line(info.value)
    line = _expected_line(text, element)
    assert msg.startswith(f"{f}:{line}: "), (msg, line)
    assert element in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_the_same_mistakes_in_python_name_the_element():
    import yaml

    good = yaml.safe_load(GOOD)
    good["projections"]["E_to_E"]["connect"] = {"p": 2.0}
    with pytest.raises(NetworkError) as info:
        network_model(good)
    msg = _one_line(info.value)
    assert "badnet" in msg and "E_to_E" in msg and "probability" in msg, msg


def test_an_inline_model_error_names_file_line_and_element_once(tmp_path):
    f, text = _bad_file(tmp_path, [("      current: {name: I, unit: pA}\n", "")])
    with pytest.raises(NetworkError) as info:
        load_network_file(f)
    msg = _one_line(info.value)
    line = _expected_line(text, "populations.E.model")
    assert msg.startswith(f"{f}:{line}: populations.E.model: "), msg
    assert msg.count(str(f)) == 1, msg
