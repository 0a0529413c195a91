"""Exact Gaussian expectations: against Owen/quadrature, Monte Carlo, finite differences,
the SPEC's own algebraic form, and each other (closed form, Gauss-Legendre, adaptive)."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import coarsegrad as cg
from coarsegrad import population as P
from coarsegrad.estimators import monte_carlo
from reference import assert_mc_agrees, bvn_cdf_quad, population_loss_spec_form
from strategies import seeds, teacher_students

STES = ["identity", "relu", "clipped_relu", "log_tailed_relu"]
FD_RTOL = 1e-6        # grad f against 4th-order central differences of f


# ---------------------------------------------------------------------------- Phi2

@given(h=st.one_of(st.floats(-8, 8), st.sampled_from([0.0, -np.inf, np.inf])),
       g=st.one_of(st.floats(-8, 8), st.sampled_from([0.0, -np.inf, np.inf])),
       rho=st.one_of(st.floats(-1, 1), st.sampled_from([-1.0, 0.0, 1.0, 0.999999, -0.999999])))
@example(h=0.0, g=0.0, rho=0.5)
def test_bvn_cdf_matches_one_dimensional_quadrature(h, g, rho):
    got = float(P.bvn_cdf(h, g, rho))
    want = bvn_cdf_quad(h, g, rho)
    assert abs(got - want) < 1e-12, f"Phi2({h}, {g}; {rho}): Owen {got!r} vs quadrature {want!r}"


def test_bvn_cdf_known_values_and_errors():
    assert P.bvn_cdf(0.0, 0.0, 0.0) == pytest.approx(0.25, abs=1e-16)
    assert P.bvn_cdf(0.0, 0.0, 0.5) == pytest.approx(1 / 3, abs=1e-15)   # 1/4 + asin(1/2)/(2 pi)
    with pytest.raises(ValueError, match="rho must lie in"):
        P.bvn_cdf(0.0, 0.0, 1.5)
    with pytest.raises(ValueError, match="NaN"):
        P.bvn_cdf(np.nan, 0.0, 0.0)


# ---------------------------------------------------------------------------- moments and loss

def _mc_moments(teacher, W, seed, batches=100, size=2000):
    """Monte Carlo of m, q, c per class from single Gaussian rows z."""
    b, a = teacher.bits, teacher.alpha

    def stat(z):
        s = cg.sigma(z @ W, b, a)
        s_star = cg.sigma(z @ teacher.W_star, b, a)
        return np.concatenate([s.mean(0), (s * s).mean(0), (s * s_star).mean(0)])
    return monte_carlo(stat, lambda g: g.standard_normal((size, teacher.n)), batches, seed)


@given(case=teacher_students(), seed=seeds)
def test_moments_agree_with_monte_carlo(case, seed):
    teacher, v, W = case
    b, a = teacher.bits, teacher.alpha
    exact = np.concatenate([P.moment_m(W, b, a), P.moment_q(W, b, a), P.moment_c(W, teacher.W_star, b, a)])
    assert_mc_agrees(exact, lambda s, k: _mc_moments(teacher, W, seed + s, size=2000 * k),
                     what=f"m, q, c (bits={b}, alpha={a})", atol=1e-14 * (cg.n_levels(b) * a) ** 2)


@given(alpha=st.floats(0.01, 100), seed=seeds)
def test_binary_special_case(alpha, seed):
    rng = np.random.default_rng(seed)
    W, W_star = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    theta = np.arccos(np.clip(np.sum(W * W_star, 0) / np.linalg.norm(W, axis=0) / np.linalg.norm(W_star, axis=0), -1, 1))
    np.testing.assert_allclose(P.moment_m(W, 1, alpha), alpha / 2, rtol=1e-15)
    np.testing.assert_allclose(P.moment_q(W, 1, alpha), alpha**2 / 2, rtol=1e-15)
    np.testing.assert_allclose(P.moment_c(W, W_star, 1, alpha), alpha**2 * (np.pi - theta) / (2 * np.pi), rtol=1e-13)


@given(case=teacher_students(), seed=seeds)
def test_population_loss_agrees_with_monte_carlo_and_spec_form(case, seed):
    teacher, v, W = case
    f = P.population_loss(teacher, v, W)
    spec = population_loss_spec_form(teacher, v, W)
    assert abs(f - spec) <= 1e-12 * max(1.0, abs(spec)), f"variance form {f!r} vs SPEC form {spec!r}"
    assert f >= -1e-12 * max(1.0, abs(spec))
    b, a = teacher.bits, teacher.alpha

    def stat(Z):
        y = cg.ts_forward(Z, v, W, b, a).y
        y_star = cg.ts_forward(Z, teacher.v_star, teacher.W_star, b, a).y
        return [cg.ts_loss(y, y_star)[0]]
    assert_mc_agrees([f], lambda s, k: monte_carlo(stat, lambda g: g.standard_normal((1000 * k, teacher.p, teacher.n)),
                                                   100, seed + s), what=f"population loss (bits={b})")


def test_loss_is_zero_at_teacher_and_limits_of_m():
    teacher = P.random_teacher(4, 3, 2, 3, 0.5, 0)
    assert 0.0 <= P.population_loss(teacher, teacher.v_star, teacher.W_star) <= 1e-15 * (7 * 0.5) ** 2
    W = teacher.W_star
    L = cg.n_levels(3)
    np.testing.assert_allclose(P.moment_m(W * 1e12, 3, 0.5), 0.5 * L / 2, rtol=1e-10)   # every threshold at 0
    np.testing.assert_allclose(P.moment_m(W * 1e-12, 3, 0.5), 0.5 / 2, rtol=1e-15)     # only k = 0 left
    np.testing.assert_array_equal(P.moment_m(0 * W, 3, 0.5), 0.0)                        # sigma(0) = 0


# ---------------------------------------------------------------------------- gradient

def _fd_grad(fun, x, h):
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        vals = []
        for step in (-2, -1, 1, 2):
            e = np.zeros_like(x)
            e[idx] = step * h
            vals.append(fun(x + e))
        g[idx] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
    return g


def _angles(W, W_star):
    cos = np.sum(W * W_star, 0) / (np.linalg.norm(W, axis=0) * np.linalg.norm(W_star, axis=0))
    return np.arccos(np.clip(cos, -1, 1))


@given(case=teacher_students(geometry="generic"))
def test_gradient_matches_finite_differences(case):
    teacher, v, W = case
    # f has a kink where some w_k is (anti)parallel to w*_k; the difference step must stay well inside
    # the smooth region, so the cases are kept 0.05 rad away from it (docs/theory.md §5).
    theta = _angles(W, teacher.W_star)
    if np.any(np.minimum(theta, np.pi - theta) < 0.05):
        W = W + 0.3 * np.linalg.norm(W, axis=0) * np.eye(*W.shape)
    gv, gW = P.population_grad(teacher, v, W)
    h = 1e-4 * np.linalg.norm(W) / np.sqrt(W.size)
    fd_W = _fd_grad(lambda X: P.population_loss(teacher, v, X), W, h)
    fd_v = _fd_grad(lambda x: P.population_loss(teacher, x, W), v, 1e-4)
    for name, fd, g in (("W", fd_W, gW), ("v", fd_v, gv)):
        err = np.linalg.norm(fd - g) / max(np.linalg.norm(g), 1e-300)
        assert err < FD_RTOL, f"grad_{name} f vs finite differences (bits={teacher.bits}): rel err {err:.2e}"


def test_gradient_is_zero_at_global_minimum_and_radial_on_the_ray():
    teacher = P.random_teacher(5, 4, 3, 2, 1.0, 3)
    gv, gW = P.population_grad(teacher, teacher.v_star, teacher.W_star)
    assert np.abs(gW).max() < 1e-15 and np.abs(gv).max() < 1e-15
    t = 8.0
    # On the ray w = t w* (t != 1), f is smooth along the ray and has a kink across it: the returned
    # gradient is radial, and equals the derivative of f along the ray. t = 8 keeps w^ = w*^ bit for
    # bit (a rounding-level angle would be off the ray, where the cone's slope is part of the gradient)
    # and avoids t = k/l with 1 <= k, l <= L - 1 = 2, where c has a kink along the ray too.
    _, gW = P.population_grad(teacher, teacher.v_star, t * teacher.W_star)
    w_hat = teacher.W_star / np.linalg.norm(teacher.W_star, axis=0)
    perp = gW - np.sum(gW * w_hat, 0) * w_hat
    assert np.abs(perp).max() < 1e-14 * np.abs(gW).max()
    ray = lambda s: P.population_loss(teacher, teacher.v_star, s * teacher.W_star)
    h = 1e-5
    d_ray = (ray(t + h) - ray(t - h)) / (2 * h)      # t +- h: w^ may differ from w*^ by rounding,
    # but the cone's contribution along e_perp is orthogonal to the ray and does not enter d_ray
    assert d_ray == pytest.approx(np.sum(gW * teacher.W_star), rel=1e-7)


def test_gradient_at_zero_column_is_an_error():
    teacher = P.random_teacher(3, 2, 2, 2, 1.0, 0)
    W = teacher.W_star.copy()
    W[:, 1] = 0
    with pytest.raises(ValueError, match=r"W\[:, 1\] = 0: the population loss is discontinuous"):
        P.population_grad(teacher, teacher.v_star, W)


# ---------------------------------------------------------------------------- expected coarse gradient

def _mc_coarse_grad(teacher, v, W, ste, seed, project=None, batches=100, size=1000):
    """Monte Carlo (batch means) of the sample coarse gradient (g_v, g_W) flattened, or of its
    projections ``g @ project`` when a matrix of directions is given."""
    b, a = teacher.bits, teacher.alpha

    def stat(Z):
        fwd = cg.ts_forward(Z, v, W, b, a)
        y_star = cg.ts_forward(Z, teacher.v_star, teacher.W_star, b, a).y
        _, e = cg.ts_loss(fwd.y, y_star)
        g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, ste, b, a)
        g = np.concatenate([g_v, g_W.ravel()])
        return g if project is None else g @ project
    return monte_carlo(stat, lambda g: g.standard_normal((size, teacher.p, teacher.n)), batches, seed)


@pytest.mark.parametrize("ste", STES)
@settings(max_examples=25)
@given(case=teacher_students(), seed=seeds)
def test_expected_coarse_gradient_agrees_with_monte_carlo(ste, case, seed):
    """Projections of E g on three random directions lie within 4 standard errors of Monte Carlo
    (three scalars per example keep the family-wise false-alarm rate near 2e-4)."""
    teacher, v, W = case
    Eg_v, Eg_W = P.expected_coarse_grad(teacher, v, W, ste)
    exact = np.concatenate([Eg_v, Eg_W.ravel()])
    U = np.random.default_rng(seed + 1).standard_normal((exact.size, 3))
    assert_mc_agrees(exact @ U, lambda s, k: _mc_coarse_grad(teacher, v, W, ste, seed + s, project=U, size=1000 * k),
                     what=f"<E g, u>, {ste}, bits={teacher.bits}",
                     atol=1e-13 * (np.abs(exact).sum() + 1) * np.abs(U).max())


def test_expected_coarse_gradient_at_zero_student_column():
    """w_k = 0: sigma(z^T 0) = 0 and mu'(0) is constant, so E g is finite and matches Monte Carlo."""
    teacher = P.random_teacher(3, 4, 2, 2, 1.0, 5)
    W = teacher.W_star.copy()
    W[:, 0] = 0
    v = teacher.v_star + 0.2
    for ste in ("identity", "relu"):
        exact = np.concatenate([g.ravel() for g in P.expected_coarse_grad(teacher, v, W, ste)])
        assert_mc_agrees(exact, lambda s, k: _mc_coarse_grad(teacher, v, W, ste, 11 + s, size=1000 * k),
                         what=f"E g at w_0 = 0, {ste}", atol=1e-15)
    assert np.all(P.expected_coarse_grad(teacher, v, W, "relu")[1][:, 0] == 0)   # mu'(0) = 0 for relu


@pytest.mark.parametrize("ste", ["identity", "relu", "clipped_relu"])
@given(case=teacher_students())
def test_closed_form_gauss_and_adaptive_agree(ste, case):
    teacher, v, W = case
    closed = P.expected_coarse_grad(teacher, v, W, ste, method="closed")[1]
    gauss = P.expected_coarse_grad(teacher, v, W, ste, method="gauss")[1]
    scale = np.abs(closed).max() + np.linalg.norm(v) ** 2 * teacher.alpha
    assert np.abs(gauss - closed).max() <= 1e-12 * scale, "Gauss-Legendre vs closed form"


@settings(max_examples=10)
@given(case=teacher_students())
def test_gauss_and_adaptive_agree_for_smooth_tailed_ste(case):
    teacher, v, W = case
    gauss = P.expected_coarse_grad(teacher, v, W, "log_tailed_relu", method="gauss")[1]
    quad = P.expected_coarse_grad(teacher, v, W, "log_tailed_relu", method="quad")[1]
    scale = np.abs(quad).max() + np.linalg.norm(v) ** 2 * teacher.alpha
    assert np.abs(gauss - quad).max() <= 1e-11 * scale, "Gauss-Legendre vs adaptive quadrature, log-tailed"


def test_user_ste_uses_adaptive_quadrature_and_is_right():
    name = "test_pop_softwindow"
    cg.register_ste(name, lambda z, b, a: np.log1p(np.exp(np.minimum(z, 30))),
                    lambda z, b, a: np.where(z > 0, np.exp(-z / 3), 0.0))
    try:
        teacher = P.random_teacher(3, 3, 2, 2, 1.0, 8)
        W = teacher.W_star + 0.5
        exact = np.concatenate([g.ravel() for g in P.expected_coarse_grad(teacher, teacher.v_star, W, name)])
        assert_mc_agrees(exact, lambda s, k: _mc_coarse_grad(teacher, teacher.v_star, W, name, 21 + s, size=1000 * k),
                         what="E g of a user STE (adaptive quadrature)")
    finally:
        cg.unregister_ste(name)


def test_expected_v_gradient_equals_exact_v_gradient():
    teacher = P.random_teacher(4, 3, 2, 3, 0.7, 2)
    v, W = teacher.v_star + 0.3, teacher.W_star * 1.3 + 0.1
    np.testing.assert_allclose(P.expected_coarse_grad(teacher, v, W, "relu")[0],
                               P.population_grad(teacher, v, W)[0], rtol=1e-15)


def test_expected_coarse_gradient_vanishes_at_global_minimum():
    for bits in (1, 2, 4):
        teacher = P.random_teacher(4, 3, 2, bits, 0.7, bits)
        for ste in STES:
            _, Eg = P.expected_coarse_grad(teacher, teacher.v_star, teacher.W_star, ste)
            assert np.abs(Eg).max() < 1e-14, f"E g at W = W*, {ste}, bits={bits}"


@given(exponent=st.sampled_from([-300, -100, -8, 8, 100, 300]), seed=seeds)
def test_extreme_norms_stay_finite(exponent, seed):
    teacher = P.random_teacher(3, 2, 2, 3, 1.0, seed)
    W = teacher.W_star * 10.0**exponent
    f = P.population_loss(teacher, teacher.v_star, W)
    gv, gW = P.population_grad(teacher, teacher.v_star, W)
    for ste in STES:
        assert np.isfinite(P.expected_coarse_grad(teacher, teacher.v_star, W, ste)[1]).all()
    assert np.isfinite(f) and np.isfinite(gW).all() and np.isfinite(gv).all()


# ---------------------------------------------------------------------------- validation

def test_teacher_and_argument_errors():
    with pytest.raises(ValueError, match="bits must be an integer in \\[1, 8\\]"):
        P.Teacher(np.ones(2), np.ones((3, 2)), 9, 1.0)
    with pytest.raises(ValueError, match="W_star must be a 2-D array"):
        P.Teacher(np.ones(2), np.ones(3), 2, 1.0)
    teacher = P.random_teacher(3, 2, 2, 2, 1.0, 0)
    with pytest.raises(ValueError, match="W has shape \\(3, 1\\) but the teacher's W_star has shape \\(3, 2\\)"):
        P.population_loss(teacher, teacher.v_star, np.ones((3, 1)))
    with pytest.raises(ValueError, match="v has shape"):
        P.population_loss(teacher, np.ones(5), teacher.W_star)
    with pytest.raises(TypeError, match="teacher must be a coarsegrad.population.Teacher"):
        P.population_loss("teacher", teacher.v_star, teacher.W_star)
    with pytest.raises(ValueError, match="method must be one of"):
        P.expected_coarse_grad(teacher, teacher.v_star, teacher.W_star, "relu", method="mc")
    with pytest.raises(ValueError, match="has no piecewise-constant description"):
        P.expected_coarse_grad(teacher, teacher.v_star, teacher.W_star, "log_tailed_relu", method="closed")
    with pytest.raises(ValueError, match="W contains 2 non-finite"):
        P.population_loss(teacher, teacher.v_star, np.where(np.eye(3, 2) > 0, np.nan, 1.0))
    assert teacher.v_star.flags.writeable is False


# ---------------------------------------------------------------------------- many settings at once

@given(case=teacher_students(), S=st.integers(1, 4), seed=seeds)
def test_batched_weight_settings_equal_one_call_each(case, S, seed):
    teacher, v, W = case
    rng = np.random.default_rng(seed)
    Ws = np.stack([W] + [W + rng.standard_normal(W.shape) for _ in range(S - 1)])
    f = P.population_loss(teacher, v, Ws)
    assert f.shape == (S,)
    for s in range(S):
        assert f[s] == pytest.approx(P.population_loss(teacher, v, Ws[s]), rel=1e-13, abs=1e-15)
    for ste in ("clipped_relu", "log_tailed_relu"):
        Eg_v, Eg_W = P.expected_coarse_grad(teacher, v, Ws, ste)
        assert Eg_W.shape == Ws.shape and Eg_v.shape == (S, teacher.p)
        for s in range(S):
            one_v, one_W = P.expected_coarse_grad(teacher, v, Ws[s], ste)
            np.testing.assert_allclose(Eg_W[s], one_W, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(Eg_v[s], one_v, rtol=1e-12, atol=1e-14)
    A, B, C = P.coarse_vectors(teacher, Ws, "relu")
    np.testing.assert_allclose(C[-1], P.coarse_vectors(teacher, Ws[-1], "relu")[2], rtol=1e-12, atol=1e-14)
    if np.all(np.linalg.norm(Ws, axis=1) > 0):
        g_v, g_W = P.population_grad(teacher, v, Ws)
        np.testing.assert_allclose(g_W[-1], P.population_grad(teacher, v, Ws[-1])[1], rtol=1e-12, atol=1e-14)


def test_batched_zero_column_is_named_with_its_setting():
    teacher = P.random_teacher(3, 2, 2, 2, 1.0, 0)
    Ws = np.stack([teacher.W_star, teacher.W_star])
    Ws[1, :, 0] = 0
    with pytest.raises(ValueError, match=r"W\[1, :, 0\] = 0"):
        P.population_grad(teacher, teacher.v_star, Ws)
    with pytest.raises(ValueError, match=r"must match \(n, K\), or \(S, n, K\)"):
        P.population_loss(teacher, teacher.v_star, np.ones((2, 3, 5)))
