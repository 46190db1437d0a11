"""Bad uses of the description elements of the distal-reward network (out_degree, synapse
rules, delays drawn per spike, bounds, count and pooled outputs, weights of single synapses,
records) are refused with one line that names the element and what is allowed."""

import copy

import pytest

from neuroscape.models.network import NetworkError, network_model
from neuroscape.testing import HOLD_CELL

BASE = {
    "name": "feat",
    "populations": {"A": {"size": 5, "model": HOLD_CELL}, "B": {"size": 2, "model": HOLD_CELL},
                    "g": {"kind": "spikes", "size": 1, "spikes": [["1 ms", 0]]}},
    "projections": {
        "A_to_A": {"pre": "A", "post": "A", "connect": {"out_degree": 2},
                   "model": "w : mV", "on_pre": "v_post += w"},
        "watch": {"pre": "A", "post": "B", "connect": {"synapse": "A_to_A[0]", "end": "pre"},
                  "on_pre": "v_post += 1*mV"},
        "g_to_B": {"pre": "g", "post": "B", "connect": "all_to_all",
                   "delay": "1*ms + 2*ms*rand()", "delay_draw": "spike",
                   "on_pre": "v_post += 1*mV"}},
    "outputs": {"w0": {"weights": "A_to_A.w[0]"}, "n": {"count": ["A", "B"]}},
    "records": {"every": "1 ms", "outputs": ["w0"]},
}


def _with(path: tuple, value):
    d = copy.deepcopy(BASE)
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


def test_the_base_description_loads():
    net = network_model(BASE)
    assert [j.rule["kind"] for j in net.projections] == ["out_degree", "synapse", "all_to_all"]
    assert net.records == ("w0",) and net.record_every_ms == 1.0


@pytest.mark.parametrize(("path", "value", "match"), [
    (("projections", "A_to_A", "connect"), {"out_degree": -1},
     "out_degree -1; allowed: a non-negative integer"),
    (("projections", "A_to_A", "connect"), {"out_degree": 2, "k": 1},
     "unknown key 'k'; allowed: out_degree, autapses"),
    (("projections", "watch", "connect"), {"synapse": "A_to_A", "end": "pre"},
     r"synapse 'A_to_A'; allowed: PROJECTION\[k\] with PROJECTION declared before \(A_to_A\)"),
    (("projections", "watch", "connect"), {"synapse": "g_to_B[0]", "end": "pre"},
     r"synapse 'g_to_B\[0\]'; allowed: PROJECTION\[k\] with PROJECTION declared before"),
    (("projections", "watch", "connect"), {"synapse": "A_to_A[0]", "end": "middle"},
     "end 'middle'; allowed: pre, post"),
    (("projections", "g_to_B", "connect"), {"synapse": "A_to_A[0]", "end": "pre"},
     "the pre neuron of A_to_A is in A, but this projection's pre is g; allowed: pre: A"),
    (("projections", "g_to_B", "delay_draw"), "event",
     "delay_draw 'event'; allowed: synapse, spike"),
    (("projections", "g_to_B", "delay"), "2 ms",
     r"delay_draw: spike needs a delay that draws rand\(\)"),
    (("projections", "g_to_B", "delay"), "1*ms + 2*ms*randn()",
     r"a delay drawn per spike must be affine in each rand\(\) \(no randn\(\)\)"),
    (("projections", "g_to_B", "delay"), "1*ms + 2*ms*rand()**2",
     r"a delay drawn per spike must be affine in each rand\(\)"),
    (("projections", "A_to_A", "bounds"), {"x": ["0 mV", "1 mV"]},
     "'x' is not a synaptic variable; declared: w"),
    (("projections", "A_to_A", "bounds"), {"w": ["0 mV"]},
     r"bounds of w: \['0 mV'\]; allowed: \[low, high\]"),
    (("projections", "A_to_A", "bounds"), {"w": ["0 ms", "1 mV"]}, "bounds of w must be in mV"),
    (("outputs", "n"), {"count": ["A", "g"]},
     r"unknown population 'g'; allowed: A, B \(or a list of them\)"),
    (("outputs", "n"), {"count": ["A", "A"]}, "each at most once"),
    (("outputs", "n"), {"cv": ["A", "B"]}, r"unknown population \['A', 'B'\]; allowed: A, B"),
    (("outputs", "w0"), {"weights": "A_to_A.v[0]"},
     r"weights 'A_to_A.v\[0\]'; allowed: PROJECTION.VARIABLE of a declared synaptic variable"),
    (("outputs", "w0"), {"weights": "A_to_A.w[0]", "exclude": "A_to_A[1]"},
     r"exclude 'A_to_A\[1\]'; allowed: PROJECTION\[k\] of a projection pooled whole"),
    (("records",), {"every": "0 ms", "outputs": ["w0"]}, "every must be > 0 ms"),
    (("records",), {"every": "1 ms", "outputs": ["n"]},
     r"outputs \['n'\]; allowed: a list of weights outputs \(w0\)"),
    (("records",), {"every": "1 ms", "outputs": ["w0"], "at": 3},
     "unknown key 'at'; allowed: every, outputs"),
])
def test_bad_elements_are_one_line(path, value, match):
    with pytest.raises(NetworkError, match=match) as exc:
        network_model(_with(path, value))
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith("network_model('feat')")
