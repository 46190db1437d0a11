"""Derivative statistics: autograd partials against finite differences of the same network,
sign correlations and the logistic model on constructed data."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroscape.analysis.derivatives import (  # noqa: E402
    logistic_sign_model,
    scaled_partials,
    sign_correlation,
)
from neuroscape.surrogate import SurrogateConfig, train_surrogate  # noqa: E402

DOMAIN = np.array([[0.0, 2.0], [10.0, 30.0]])


@pytest.fixture(scope="module")
def sur():
    rng = np.random.default_rng(0)
    x = DOMAIN[:, 0] + np.ptp(DOMAIN, 1) * rng.random((400, 2))
    y = np.column_stack([np.sin(x[:, 0]) * x[:, 1], x[:, 0] ** 2 - 0.1 * x[:, 1]])
    cfg = SurrogateConfig(hidden=(32, 32), activation="tanh", max_epochs=30)
    return train_surrogate(
        x,
        y,
        DOMAIN,
        model="toy",
        model_version="1",
        parameter_names=["a", "b"],
        output_names=["u", "v"],
        config=cfg,
    )


def test_scaled_partials_equal_finite_differences_of_the_network(sur):
    p = np.array([[0.7, 17.0], [1.5, 25.0]])
    d1, d2 = scaled_partials(sur, p)
    delta = np.ptp(DOMAIN, 1)
    for j in range(2):
        h = 1e-2 * delta[j]
        up, dn = p.copy(), p.copy()
        up[:, j] += h
        dn[:, j] -= h
        f_up, f_0, f_dn = (
            sur.forward(torch.tensor(q, dtype=torch.float32)).detach().numpy() for q in (up, p, dn)
        )
        fd1 = (f_up - f_dn) / (2 * h) * delta[j]
        fd2 = (f_up - 2 * f_0 + f_dn) / h**2 * delta[j] ** 2 / 2
        np.testing.assert_allclose(d1[:, :, j], fd1, rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(d2[:, :, j], fd2, rtol=2e-2, atol=2e-2)


def test_sign_correlation_on_constructed_signs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=5000)
    m = sign_correlation(np.column_stack([a, 2 * a, -a, rng.normal(size=5000)]))
    np.testing.assert_allclose(m[0, :3], [1, 1, -1])
    assert abs(m[0, 3]) < 0.05


def test_logistic_model_finds_the_separating_input():
    rng = np.random.default_rng(2)
    x = rng.random((4000, 3))
    rep = logistic_sign_model(x, x[:, 1] - 0.5, ["a", "b", "c"])
    assert rep.accuracy > 0.97 and rep.importance[1] > 0.95
    with pytest.raises(ValueError, match="the sign is the same everywhere"):
        logistic_sign_model(x, np.ones(4000), ["a", "b", "c"])


def test_gain_curve_curvatures_have_the_right_signs():
    """A convex r_E(eta) gives m1, m2 > 0; a concave one m1, m2 < 0 (surrogate stand-ins)."""
    from types import SimpleNamespace

    from neuroscape.analysis.derivatives import gain_curve_study
    from neuroscape.models import get_spec

    spec = get_spec("cortical")
    j = spec.parameter_names.index("eta_ext_E")

    def make(shape):
        def predict(p):
            x = p[:, j] / 3000.0
            if shape == "sigmoid":
                r_e = 36.0 / (1.0 + np.exp(-10.0 * (x - 0.5)))
            else:
                r_e = 40 * x**2 if shape == "convex" else 40 * np.sqrt(x)
            return np.column_stack([r_e, 4 * r_e])

        return SimpleNamespace(
            model=spec.name,
            spec=spec,  # the circuit's declared output domain O
            parameter_names=spec.parameter_names,
            output_names=spec.output_names,
            domain=spec.bounds,
            predict=predict,
        )

    convex = gain_curve_study(make("convex"), n=20, grid=400)
    concave = gain_curve_study(make("concave"), n=20, grid=400)
    assert len(convex.m1) == 20 and np.all(convex.m1 > 0) and np.all(convex.m2 > 0)
    assert np.all(concave.m1 < 0) and np.all(concave.m2 < 0)
    assert not convex.sigmoidal.any() and not concave.sigmoidal.any()
    assert gain_curve_study(make("sigmoid"), n=20, grid=400).sigmoidal.all()
