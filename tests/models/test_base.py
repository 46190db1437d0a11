import numpy as np
import pytest

from neuroscape.core.spec import Parameter, ParameterError
from neuroscape.models import get_spec


def test_cortical_declaration_matches_the_spec():
    spec = get_spec("cortical")
    assert spec.parameter_names == [
        "S_EE",
        "S_EI_rel",
        "S_IE_rel",
        "S_II_rel",
        "eta_amb_rel",
        "eta_ext_E",
        "eta_ext_I_rel",
    ]
    np.testing.assert_allclose(
        spec.bounds,
        [[0.02, 0.03], [1.5, 3], [0.2, 0.5], [0.5, 1], [1 / 3, 2 / 3], [25, 3000], [2, 6]],
    )
    assert spec.output_names == ["r_E", "r_I"]


def test_errors_name_the_value_and_the_allowed_range():
    spec = get_spec("cortical")
    p = spec.params_from_mapping({"S_EE": 0.05})
    with pytest.raises(ParameterError, match=r"S_EE=0.05 is outside .*\[0.02, 0.03\]"):
        spec.validate(p)
    spec.validate(p, allow_outside=True)
    with pytest.raises(ParameterError, match="eta_ext_E=-1"):
        spec.validate(spec.params_from_mapping({"eta_ext_E": -1}), allow_outside=True)
    with pytest.raises(ParameterError, match="unknown parameter 'S_XX'.*allowed: S_EE"):
        spec.params_from_mapping({"S_XX": 1})
    with pytest.raises(ParameterError, match="takes 7 parameters"):
        spec.validate(np.zeros((2, 3)))
    with pytest.raises(ParameterError, match="not a finite number"):
        spec.validate(spec.params_from_mapping({"S_EE": np.nan}))


def test_parameter_declaration_checks_itself():
    with pytest.raises(ValueError, match="low=2"):
        Parameter("x", 1.0, 2.0, 1.0)
