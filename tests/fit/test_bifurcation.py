import numpy as np
import pytest

from neuroscape.fit.bifurcation import BifurcationError, bifurcation_map

FHN = {"a": 0.7, "b": 0.8, "tau": 12.5}  # eps = 1/tau = 0.08


def fhn_hopf_currents(a, b, tau):
    """Derivation: dv/dt = v - v^3/3 - w + I, dw/dt = (v + a - b w)/tau. The Jacobian
    [[1 - v^2, -1], [1/tau, -b/tau]] has trace 1 - v^2 - b/tau and determinant
    (1 - b (1 - v^2))/tau > 0 there, so a complex pair crosses the imaginary axis where the
    trace vanishes: v* = -/+ sqrt(1 - b/tau). The equilibrium lies on both nullclines:
    w* = (v* + a)/b and I = w* - v* + v*^3/3."""
    out = []
    for v in (-np.sqrt(1 - b / tau), np.sqrt(1 - b / tau)):
        w = (v + a) / b
        assert (1 - b * (1 - v**2)) / tau > 0  # a focus: a Hopf, not a saddle-node
        out.append(w - v + v**3 / 3)
    return out


def test_fhn_hopf_onset_bar():
    """The bar: the map over the input current locates the Hopf onset within 1% of the
    analytic value (the eigenvalue boundary), and the simulations change class there."""
    lower, upper = fhn_hopf_currents(**FHN)
    bm = bifurcation_map("fhn", ["I"], [np.linspace(0.0, 1.6, 41)], fixed=FHN, duration_ms=1000.0)
    hopf = sorted(b.value for b in bm.boundaries if b.kind == "hopf")
    assert len(hopf) == 2
    assert hopf[0] == pytest.approx(lower, rel=0.01)
    assert hopf[1] == pytest.approx(upper, rel=0.01)
    onset = [b.value for b in bm.boundaries if b.kind == "class silent->tonic"]
    # FHN's Hopf is subcritical: oscillations start slightly before it (a bistable sliver),
    # so the simulated onset lies a little below the analytic value
    assert len(onset) == 1 and lower * 0.95 < onset[0] <= lower
    assert set(bm.labels[(bm.values[0] > lower + 0.02) & (bm.values[0] < upper - 0.02)]) == {
        "tonic"
    }
    assert np.all(bm.max_re[bm.values[0] < lower] < 0)


def test_two_parameter_map():
    bm = bifurcation_map(
        "fhn",
        ["I", "a"],
        [np.linspace(0.0, 1.0, 11), np.array([0.6, 0.7])],
        fixed={"b": 0.8, "tau": 12.5},
        duration_ms=500.0,
    )
    assert bm.labels.shape == (2, 11)
    hopf = [b for b in bm.boundaries if b.kind == "hopf"]
    assert {b.at["a"] for b in hopf} == {0.6, 0.7}


def test_unknown_parameter():
    with pytest.raises(BifurcationError, match="allowed: I, a, b, tau"):
        bifurcation_map("fhn", ["c"], [np.linspace(0, 1, 5)])


@pytest.mark.parametrize(
    "params, values, kw, needle",
    [
        (["I"], [np.array([0.5, 0.2, 0.8])], {}, "values must be finite and increase"),
        (["I"], [np.array([0.0, np.nan])], {}, "values must be finite and increase"),
        (["a"], [np.linspace(0.0, 3.0, 4)], {}, "a from 0 to 3 1 leaves the declared domain"),
        (["I", "I"], [np.linspace(0, 1, 3)] * 2, {}, "given twice"),
        (["a"], [np.linspace(0, 1, 3)], {"fixed": {"a": 0.5}}, "both swept and fixed"),
        (["I"], [np.linspace(0, 1, 3)], {"current": 0.5}, "the current is swept"),
        (["I"], [np.linspace(0, 1, 3)], {"duration_ms": -1.0}, "duration > 0 ms"),
        (["I"], [np.linspace(0, 1, 3)], {"fixed": {"b": 9.0}}, "b=9 lies outside"),
    ],
)
def test_bad_maps_are_refused_before_simulating(params, values, kw, needle):
    with pytest.raises(BifurcationError, match=needle):
        bifurcation_map("fhn", params, values, **kw)


def test_map_csv_columns_carry_units(tmp_path):
    bm = bifurcation_map("hh", ["I"], [np.array([0.0, 2.0])], duration_ms=100.0, refine=False)
    bm.to_csv(tmp_path / "m.csv")
    header = (tmp_path / "m.csv").read_text().splitlines()[0]
    assert header == "I_uA/cm^2,label,rate_Hz,amplitude_mV,max_re_eig_1/ms"
