import numpy as np
import pytest

from neuroscape.core.connectivity import ConnectivityError, load_connectivity
from neuroscape.models.cortical import circuit_connectivity


def test_graph_statistics_match_the_connection_probabilities():
    g = circuit_connectivity(3)
    n = {"E": 225, "I": 75}
    p = {"E_to_E": 0.1, "E_to_I": 0.5, "I_to_E": 0.5, "I_to_I": 0.5}
    for name, prob in p.items():
        pre, post = name.split("_to_")
        pairs = n[pre] * n[post] - (n[pre] if pre == post else 0)
        count = g.n_synapses[name]
        assert abs(count - prob * pairs) < 5 * np.sqrt(pairs * prob * (1 - prob)), name
        if pre == post:
            assert not np.any(g.edges[name][0] == g.edges[name][1])


def test_graph_is_a_function_of_the_seed():
    assert circuit_connectivity(1).content_hash() == circuit_connectivity(1).content_hash()
    assert circuit_connectivity(1).content_hash() != circuit_connectivity(2).content_hash()


def test_npz_round_trip(tmp_path):
    g = circuit_connectivity(4)
    path = g.save(tmp_path / "g.npz")
    h = load_connectivity(path)
    assert h.content_hash() == g.content_hash()
    with np.load(path) as z:
        assert z["E_to_I"].shape[0] == 2 and int(z["N_E"]) == 225 and int(z["N_I"]) == 75


def _write(tmp_path, **override):
    g = circuit_connectivity(0)
    arrays = {"N_E": np.int64(225), "N_I": np.int64(75), **g.edges}
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "override,match",
    [
        ({"E_to_E": np.array([[0, 1], [0, 2]])}, "self-connection of neuron 0"),
        ({"I_to_I": np.array([[0], [75]])}, "postsynaptic index 75 out of range; allowed 0..74"),
        ({"E_to_I": np.array([[-1], [3]])}, "presynaptic index -1 out of range"),
        (
            {"I_to_E": np.zeros((3, 4), dtype=np.int64)},
            r"shape \(3, 4\); allowed: \(2, n_synapses\)",
        ),
        ({"E_to_I": np.zeros((2, 4))}, "dtype float64; allowed: an integer dtype"),
        ({"I_to_E": None}, "missing array 'I_to_E'"),
        ({"N_I": None}, "missing population size 'N_I'"),
        ({"E_to_E": np.array([[0, 0], [1, 1]])}, "duplicate synapses"),
    ],
)
def test_bad_graph_files_get_one_line_errors(tmp_path, override, match):
    with pytest.raises(ConnectivityError, match=match) as exc:
        load_connectivity(_write(tmp_path, **override))
    assert "\n" not in str(exc.value)


def test_not_an_npz(tmp_path):
    p = tmp_path / "x.npz"
    p.write_text("hello")
    with pytest.raises(ConnectivityError, match="not a readable NPZ"):
        load_connectivity(p)
