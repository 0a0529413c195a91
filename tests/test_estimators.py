"""Generic estimators: Monte Carlo with standard errors, finite differences (with common
random numbers), Gaussian smoothing -- each against a case whose answer is known."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import coarsegrad as cg
from coarsegrad.estimators import (cosine, crn_finite_difference, finite_difference, gaussian_smoothing_grad,
                                   monte_carlo, z_scores)
from reference import MC_Z
from strategies import seeds


@given(mu=st.floats(-5, 5), scale=st.floats(0.1, 10), seed=seeds)
def test_monte_carlo_mean_and_stderr_of_a_normal(mu, scale, seed):
    est = monte_carlo(lambda x: x.mean(axis=0), lambda g: g.normal(mu, scale, size=(200, 2)), 50, seed)
    assert est.n == 50 and est.mean.shape == (2,)
    # stderr estimates scale / sqrt(10000) within its own sampling error (~10% at 49 degrees of freedom)
    np.testing.assert_allclose(est.stderr, scale / 100, rtol=0.5)
    assert np.abs(z_scores(est, [mu, mu])).max() <= MC_Z


def test_monte_carlo_is_seeded():
    run = lambda s: monte_carlo(lambda x: x.mean(), lambda g: g.random(10), 5, s)
    assert run(3) == run(3) and run(3) != run(4)


def test_z_scores_degenerate_cases():
    from coarsegrad.estimators import Estimate
    est = Estimate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.5]), 10)
    z = z_scores(est, [1.0, 2.0 + 1e-17, 2.0], atol=1e-15)
    assert z[0] == 0 and z[1] == 0 and z[2] == 2.0
    assert np.isinf(z_scores(est, [1.5, 2.0, 3.0])[0])


@given(seed=seeds)
def test_finite_difference_of_a_quadratic_is_exact_to_rounding(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    x = rng.standard_normal(4)
    f = lambda y: 0.5 * y @ A @ y
    np.testing.assert_allclose(finite_difference(f, x, h=1e-3), A @ x, rtol=1e-9, atol=1e-9)
    u = rng.standard_normal(4)
    assert float(finite_difference(f, x, h=1e-3, direction=u)) == pytest.approx(u @ A @ x, rel=1e-9, abs=1e-9)


def test_crn_finite_difference_removes_the_noise():
    """f(x, xi) = sum((x - xi)^2) with xi ~ N(0, I): per realization the gradient is 2 (x - xi); with
    common random numbers the difference quotient equals it, without them it is swamped by noise."""
    x = np.array([0.3, -1.2])
    seed = 5
    fun = lambda y, rng: float(np.sum((y - rng.standard_normal(2)) ** 2))
    xi = np.random.default_rng(seed).standard_normal(2)
    np.testing.assert_allclose(crn_finite_difference(fun, x, seed, h=1e-5), 2 * (x - xi), rtol=1e-6)
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        crn_finite_difference(fun, x, np.random.default_rng(0))


def test_gaussian_smoothing_of_a_step_is_the_gaussian_density():
    """f(x) = 1{x > 0} smoothed with scale s has derivative phi(x/s)/s: the smoothing turns a
    piecewise-constant function (zero gradient a.e.) into one with an informative gradient."""
    s, x = 0.5, np.array([0.2])
    est = gaussian_smoothing_grad(lambda y: float(y[0] > 0), x, scale=s, n_samples=20000, seed=2)
    exact = np.exp(-0.5 * (0.2 / s) ** 2) / np.sqrt(2 * np.pi) / s
    assert abs(est.mean[0] - exact) <= MC_Z * est.stderr[0], (est, exact)
    plain = gaussian_smoothing_grad(lambda y: float(y[0] > 0), x, scale=s, n_samples=20000, seed=2, antithetic=False)
    assert abs(plain.mean[0] - exact) <= MC_Z * plain.stderr[0]


def test_gaussian_smoothing_of_quantized_loss_is_informative():
    """The quantized sample loss has zero gradient in W almost everywhere, but its Gaussian smoothing
    does not: the smoothed gradient correlates with the coarse gradient direction."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((400, 3, 4))
    W_star = rng.standard_normal((4, 1))
    v = np.ones(3)
    stair = cg.Staircase(2, 0.5)
    y_star = cg.ts_forward(Z, v, W_star, stair).y
    W = W_star + 0.8 * rng.standard_normal((4, 1))
    loss = lambda w: cg.ts_loss(cg.ts_forward(Z, v, w.reshape(4, 1), stair).y, y_star)[0]
    assert np.all(finite_difference(loss, W.ravel(), h=1e-9) == 0)
    est = gaussian_smoothing_grad(loss, W.ravel(), scale=0.05, n_samples=400, seed=1)
    fwd = cg.ts_forward(Z, v, W, stair)
    g = cg.ts_coarse_grad(Z, v, fwd, cg.ts_loss(fwd.y, y_star)[1], "clipped_relu", stair).W.ravel()
    cos = est.mean @ g / np.linalg.norm(est.mean) / np.linalg.norm(g)
    assert cos > 0.5, cos
    assert cosine(est.mean, g) == pytest.approx(cos, rel=1e-12)


@given(seed=seeds, scale=st.floats(1e-150, 1e150))
def test_cosine(seed, scale):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    want = float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert cosine(a, b) == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert cosine(scale * a, b) == pytest.approx(want, rel=1e-12, abs=1e-15)      # scale-free
    assert cosine(a, a) == pytest.approx(1.0, rel=1e-15) and cosine(a, -a) == pytest.approx(-1.0, rel=1e-15)
    assert -1.0 <= cosine(a, b) <= 1.0 or abs(cosine(a, b)) - 1 < 1e-15


def test_cosine_of_a_zero_vector_is_nan():
    a = np.array([1.0, 2.0])
    for x, y in ((a, 0 * a), (0 * a, a), (0 * a, 0 * a)):
        assert np.isnan(cosine(x, y))
    assert cosine([[3.0, 0.0]], [[0.0, 5.0]]) == 0.0                        # lists and any shape


@pytest.mark.parametrize("call, match", [
    (lambda: monte_carlo(np.mean, lambda g: g.random(3), 1, 0), "n_batches must be an integer >= 2"),
    (lambda: finite_difference(np.sum, np.ones(2), h=0.0), r"h must be a finite number in \(0"),
    (lambda: finite_difference(np.sum, np.ones(2), direction=np.ones(3)), "direction has shape"),
    (lambda: gaussian_smoothing_grad(np.sum, np.ones(2), scale=-1, n_samples=10, seed=0), "scale must be"),
    (lambda: gaussian_smoothing_grad(np.sum, np.ones(2), scale=1, n_samples=10, seed="x"), "seed must be an int"),
])
def test_estimator_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_fourth_order_differences_are_more_accurate():
    f = lambda y: float(np.sin(y[0]) * np.exp(y[1]))
    x = np.array([0.4, -0.3])
    exact = np.array([np.cos(0.4) * np.exp(-0.3), np.sin(0.4) * np.exp(-0.3)])
    err2 = np.abs(finite_difference(f, x, h=1e-2) - exact).max()
    err4 = np.abs(finite_difference(f, x, h=1e-2, order=4) - exact).max()
    assert err4 < 1e-8 < err2 < 1e-4
    with pytest.raises(ValueError, match="order must be 2 or 4"):
        finite_difference(f, x, order=3)
