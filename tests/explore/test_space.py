import numpy as np
import pytest

from neuroscape.core.spec import ParameterError
from neuroscape.explore import ParameterSpace, SpaceError
from neuroscape.models import get_spec

SPEC = get_spec("cortical")


@pytest.mark.parametrize("sampler", ["uniform", "sobol", "lhs"])
def test_samplers_fill_the_declared_box(sampler):
    p = ParameterSpace(SPEC).sample(1024, sampler, seed=1)
    lo, hi = SPEC.bounds.T
    assert p.shape == (1024, 7) and np.all(p >= lo) and np.all(p <= hi)
    u = (p - lo) / (hi - lo)
    # every dimension is covered evenly: each tenth of the range holds about a tenth
    counts = np.stack([np.histogram(u[:, j], bins=10, range=(0, 1))[0] for j in range(7)])
    assert counts.min() > 60 and counts.max() < 150
    np.testing.assert_array_equal(p, ParameterSpace(SPEC).sample(1024, sampler, seed=1))


def test_lhs_puts_one_point_in_each_stratum():
    u = ParameterSpace(SPEC).sample(50, "lhs", seed=0)
    lo, hi = SPEC.bounds.T
    strata = np.floor((u - lo) / (hi - lo) * 50).astype(int)
    for j in range(7):
        assert sorted(strata[:, j]) == list(range(50))


def test_fixed_log_subbox_and_scale():
    s = ParameterSpace(
        SPEC, bounds={"eta_ext_E": (100.0, 1000.0)}, fixed={"S_EE": 0.025}, log=("eta_ext_E",)
    )
    p = s.sample(2000, "uniform", seed=0)
    assert np.all(p[:, 0] == 0.025)
    e = p[:, 5]
    assert e.min() >= 100 and e.max() <= 1000
    assert abs(np.median(e) - np.sqrt(100 * 1000)) < 30  # log-uniform median: geometric mean
    big = ParameterSpace(SPEC, scale=5.0).box()
    assert big[5, 0] == 0.0  # clipped at the hard limit: rates stay >= 0
    assert big[1, 1] == pytest.approx(2.25 + 5 * 0.75)  # centre + 5 x the half-width
    assert ParameterSpace(SPEC, scale=5.0).outside_declared_domain()


def test_grid_is_the_product_of_axes():
    s = ParameterSpace(SPEC, fixed={n: SPEC.defaults[n] for n in SPEC.parameter_names[:5]})
    g = s.sample(3, "grid")
    assert g.shape == (9, 7) and len(np.unique(g[:, 5])) == 3 and len(np.unique(g[:, 6])) == 3


@pytest.mark.parametrize(
    "kw,n,sampler,err,match",
    [
        ({"bounds": {"S_EE": (0.03, 0.02)}}, 5, "sobol", SpaceError, "low=0.03 must be < high"),
        ({}, 0, "sobol", SpaceError, "n=0; allowed: a positive integer"),
        ({}, 5, "halton", SpaceError, "unknown sampler 'halton'; allowed: uniform, sobol"),
        ({"fixed": {"S_XX": 1.0}}, 5, "sobol", ParameterError, "unknown parameter 'S_XX'"),
        (
            {"log": ("S_EE",), "bounds": {"S_EE": (0.0, 1.0)}, "allow_outside": True},
            5,
            "sobol",
            SpaceError,
            "low > 0",
        ),
        # fixed values and sub-boxes are checked against the declaration (what simulate does)
        ({"fixed": {"S_EE": 5.0}}, 5, "sobol", ParameterError, r"S_EE=5 is outside the declared"),
        ({"fixed": {"S_EE": float("nan")}}, 5, "sobol", SpaceError, "allowed: a finite number"),
        ({"bounds": {"S_EE": (0.01, 0.03)}}, 5, "sobol", ParameterError, r"\[0.02, 0.03\]"),
        (
            {"bounds": {"eta_ext_E": (10.0, 200.0)}},
            5,
            "sobol",
            ParameterError,
            r"eta_ext_E=\[10, 200\] Hz is outside the declared range of 'cortical': "
            r"\[25, 3000\] Hz",
        ),
        # allow_outside reaches the hard limits, never past them (a rate stays >= 0)
        (
            {"fixed": {"eta_ext_E": -5.0}, "allow_outside": True},
            5,
            "sobol",
            ParameterError,
            r"eta_ext_E=-5 Hz is outside the hard limits",
        ),
    ],
)
def test_bad_spaces(kw, n, sampler, err, match):
    with pytest.raises(err, match=match):
        ParameterSpace(SPEC, **kw).sample(n, sampler)


def test_allow_outside_accepts_values_past_the_declared_range():
    s = ParameterSpace(SPEC, fixed={"S_EE": 5.0}, allow_outside=True)
    assert np.all(s.sample(4, "uniform")[:, 0] == 5.0) and s.outside_declared_domain()
    b = ParameterSpace(SPEC, bounds={"S_EE": (0.01, 0.05)}, allow_outside=True).box()
    assert tuple(b[0]) == (0.01, 0.05)


def test_stored_space_identity_and_round_trip():
    # the identity of spaces stored before allow_outside existed is unchanged
    assert ParameterSpace(SPEC).to_json() == (
        '{"bounds": {}, "fixed": {}, "log": [], "scale": 1.0}'
    )
    s = ParameterSpace(SPEC, fixed={"eta_ext_E": 10.0}, allow_outside=True, scale=2.0)
    assert '"allow_outside": true' in s.to_json()
    back = ParameterSpace.from_json(SPEC, s.to_json())
    np.testing.assert_array_equal(back.box(), s.box())
    # a stored space is read back even if it would be refused today (it was already run)
    old = '{"bounds": {}, "fixed": {"S_EE": 5.0}, "log": [], "scale": 1.0}'
    assert ParameterSpace.from_json(SPEC, old).box()[0, 0] == 5.0
    assert ParameterSpace(SPEC, fixed={"S_EE": 0.025}).describe() == "S_EE fixed at 0.025"
