"""The expected coarse gradient (coarsegrad/population/coarse.py and quadrature.py), both threshold
conventions: against Monte Carlo of the sample coarse gradient, finite differences of the exact loss
(its v part), the three engines against each other, and mpmath at |w|/alpha up to 1e12."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import coarsegrad as cg
from coarsegrad import population as P
from coarsegrad import Staircase
from population_reference import fd_grad, mc_coarse_grad as _mc_coarse_grad
from reference import assert_mc_agrees
from strategies import seeds, teacher_students

CONVENTIONS = ("ceil", "round")
STES = ["identity", "relu", "clipped_relu", "log_tailed_relu"]


# ---------------------------------------------------------------------------- expected coarse gradient

@pytest.mark.parametrize("ste", STES)
@settings(max_examples=25)
@given(case=teacher_students(conventions=CONVENTIONS), seed=seeds)
def test_expected_coarse_gradient_agrees_with_monte_carlo(ste, case, seed):
    """Projections of E g on three random directions lie within 4 standard errors of Monte Carlo
    (three scalars per example keep the family-wise false-alarm rate near 2e-4)."""
    teacher, v, W = case
    Eg_v, Eg_W = P.expected_coarse_grad(teacher, v, W, ste)
    exact = np.concatenate([Eg_v, Eg_W.ravel()])
    U = np.random.default_rng(seed + 1).standard_normal((exact.size, 3))
    assert_mc_agrees(exact @ U, lambda s, k: _mc_coarse_grad(teacher, v, W, ste, seed + s, project=U, size=1000 * k),
                     what=f"<E g, u>, {ste}, bits={teacher.staircase.bits}",
                     atol=1e-13 * (np.abs(exact).sum() + 1) * np.abs(U).max())


def test_expected_coarse_gradient_at_zero_student_column():
    """w_k = 0: sigma(z^T 0) = 0 and mu'(0) is constant, so E g is finite and matches Monte Carlo."""
    teacher = P.random_teacher(3, 4, 2, Staircase(2, 1.0), 5)
    W = teacher.W_star.copy()
    W[:, 0] = 0
    v = teacher.v_star + 0.2
    for ste in ("identity", "relu"):
        exact = np.concatenate([g.ravel() for g in P.expected_coarse_grad(teacher, v, W, ste)])
        assert_mc_agrees(exact, lambda s, k: _mc_coarse_grad(teacher, v, W, ste, 11 + s, size=1000 * k),
                         what=f"E g at w_0 = 0, {ste}", atol=1e-15)
    assert np.all(P.expected_coarse_grad(teacher, v, W, "relu")[1][:, 0] == 0)   # mu'(0) = 0 for relu


def _assert_engines_agree(got, want, v, teacher, rtol, what):
    """``|got - want| <= rtol * (|want|_max + |v|^2 alpha)`` (the scale of E g's terms), naming the worst entry."""
    scale = np.abs(want).max() + np.linalg.norm(v) ** 2 * teacher.staircase.alpha
    err = np.abs(got - want)
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert np.all(err <= rtol * scale), (f"{what} ({teacher.staircase}): |diff| {err[worst]:.3g} at {worst} "
                                         f"> {rtol} * {scale:.3g} (got {got[worst]!r}, want {want[worst]!r})")


@pytest.mark.parametrize("ste", ["identity", "relu", "clipped_relu"])
@given(case=teacher_students(conventions=CONVENTIONS))
def test_closed_form_and_gauss_agree(ste, case):
    teacher, v, W = case
    closed = P.expected_coarse_grad(teacher, v, W, ste, method="closed")[1]
    gauss = P.expected_coarse_grad(teacher, v, W, ste, method="gauss")[1]
    _assert_engines_agree(gauss, closed, v, teacher, 1e-12, "Gauss-Legendre vs closed form")


@pytest.mark.parametrize("ste", ["identity", "relu", "clipped_relu"])
@settings(max_examples=12)     # adaptive quadrature costs ~0.3 s per class; 12 examples x 3 STEs ~ 30 s
@given(case=teacher_students(conventions=CONVENTIONS))
def test_closed_form_and_adaptive_agree(ste, case):
    """docs/theory.md §4.4: all three engines are cross-checked (this one calls method='quad')."""
    teacher, v, W = case
    closed = P.expected_coarse_grad(teacher, v, W, ste, method="closed")[1]
    quad = P.expected_coarse_grad(teacher, v, W, ste, method="quad")[1]
    _assert_engines_agree(quad, closed, v, teacher, 1e-11, "adaptive quadrature vs closed form")


def test_engine_agreement_check_has_teeth():
    """Negative control: a closed form off by 1e-9 in one entry fails the engine comparison."""
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 1.0, "round"), 4)
    v, W = teacher.v_star, teacher.W_star * 1.2 + 0.1
    closed = P.expected_coarse_grad(teacher, v, W, "clipped_relu", method="closed")[1]
    wrong = closed.copy()
    wrong[0, 0] *= 1 + 1e-9
    with pytest.raises(AssertionError, match="vs closed form"):
        _assert_engines_agree(wrong, closed, v, teacher, 1e-12, "Gauss-Legendre vs closed form")


@settings(max_examples=10)     # adaptive quadrature: ~0.3 s per class
@given(case=teacher_students(conventions=CONVENTIONS))
def test_gauss_and_adaptive_agree_for_smooth_tailed_ste(case):
    teacher, v, W = case
    gauss = P.expected_coarse_grad(teacher, v, W, "log_tailed_relu", method="gauss")[1]
    quad = P.expected_coarse_grad(teacher, v, W, "log_tailed_relu", method="quad")[1]
    _assert_engines_agree(gauss, quad, v, teacher, 1e-11, "Gauss-Legendre vs adaptive quadrature, log-tailed")


def test_user_ste_uses_adaptive_quadrature_and_is_right():
    name = "test_pop_softwindow"
    cg.register_ste(name, lambda z, s: np.log1p(np.exp(np.minimum(z, 30))),
                    lambda z, s: np.where(z > 0, np.exp(-np.maximum(z, 0) / 3), 0.0))
    try:
        teacher = P.random_teacher(3, 3, 2, Staircase(2, 1.0), 8)
        W = teacher.W_star + 0.5
        exact = np.concatenate([g.ravel() for g in P.expected_coarse_grad(teacher, teacher.v_star, W, name)])
        assert_mc_agrees(exact, lambda s, k: _mc_coarse_grad(teacher, teacher.v_star, W, name, 21 + s, size=1000 * k),
                         what="E g of a user STE (adaptive quadrature)")
    finally:
        cg.unregister_ste(name)


def _assert_v_gradient_matches_fd(Eg_v, teacher, v, W, what):
    """``E g_v`` against 4th-order finite differences of the exact loss in ``v`` (an independent route:
    ``f`` is never differentiated symbolically here)."""
    fd = fd_grad(lambda x: P.population_loss(teacher, x, W), v, 1e-4)
    err = np.linalg.norm(Eg_v - fd) / np.linalg.norm(fd)
    assert err < 1e-7, f"{what}: E g_v vs finite differences of f in v: rel err {err:.2e} (E g_v {Eg_v}, fd {fd})"


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_expected_v_gradient_equals_finite_differences_of_the_loss(convention):
    teacher = P.random_teacher(4, 3, 2, Staircase(3, 0.7, convention), 2)
    v, W = teacher.v_star + 0.3, teacher.W_star * 1.3 + 0.1
    for ste in STES:
        _assert_v_gradient_matches_fd(P.expected_coarse_grad(teacher, v, W, ste)[0], teacher, v, W, ste)


def test_v_gradient_check_has_teeth():
    """Negative control: dropping the v* term of grad_v f fails the finite-difference check."""
    from coarsegrad.population.moments import mixed_moments
    teacher = P.random_teacher(4, 3, 2, Staircase(3, 0.7), 2)
    v, W = teacher.v_star + 0.3, teacher.W_star * 1.3 + 0.1
    mo = mixed_moments(teacher, W)
    S = v.sum() * mo.m - teacher.v_star.sum() * mo.m_star
    dropped = ((S * mo.m)[:, None] + (mo.q - mo.m**2)[:, None] * v).sum(axis=0)     # - v*(c - m m*) left out
    with pytest.raises(AssertionError, match="finite differences"):
        _assert_v_gradient_matches_fd(dropped, teacher, v, W, "dropped term")


def test_expected_coarse_gradient_vanishes_at_global_minimum():
    for bits in (1, 2, 4):
        teacher = P.random_teacher(4, 3, 2, Staircase(bits, 0.7), bits)
        for ste in STES:
            _, Eg = P.expected_coarse_grad(teacher, teacher.v_star, teacher.W_star, ste)
            assert np.abs(Eg).max() < 1e-14, f"E g at W = W*, {ste}, bits={bits}"


@given(exponent=st.sampled_from([-300, -100, -8, 8, 100, 300]), seed=seeds)
def test_extreme_norms_stay_finite(exponent, seed):
    teacher = P.random_teacher(3, 2, 2, Staircase(3, 1.0), seed)
    W = teacher.W_star * 10.0**exponent
    f = P.population_loss(teacher, teacher.v_star, W)
    gv, gW = P.population_grad(teacher, teacher.v_star, W)
    for ste in STES:
        assert np.isfinite(P.expected_coarse_grad(teacher, teacher.v_star, W, ste)[1]).all()
    assert np.isfinite(f) and np.isfinite(gW).all() and np.isfinite(gv).all()


# ---------------------------------------------------------------------------- a user STE whose piece starts above 0

def _window_ste(name="test_pop_window"):
    """mu' = 1 on (alpha, 3 alpha], 0 elsewhere: its piece starts above 0 (the closed form's x1 > 0 branch)."""
    return cg.STE(name, lambda z, s: np.clip(z, s.alpha, 3 * s.alpha),
                  lambda z, s: ((z > s.alpha) & (z <= 3 * s.alpha)).astype(z.dtype),
                  pieces=lambda s: ((s.alpha, 3 * s.alpha, 1.0),))


@settings(max_examples=12)     # adaptive quadrature: ~0.3 s per class
@given(case=teacher_students(conventions=CONVENTIONS))
def test_piece_above_zero_closed_form_agrees_with_adaptive(case):
    teacher, v, W = case
    ste = _window_ste()
    closed = P.expected_coarse_grad(teacher, v, W, ste, method="closed")[1]
    quad = P.expected_coarse_grad(teacher, v, W, ste, method="quad")[1]
    _assert_engines_agree(quad, closed, v, teacher, 1e-11, "window STE (alpha, 3 alpha]: adaptive vs closed form")


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_piece_above_zero_closed_form_agrees_with_monte_carlo(convention):
    teacher = P.random_teacher(3, 3, 2, Staircase(2, 0.5, convention), 8)
    ste = _window_ste()
    W, v = teacher.W_star * 0.8 + 0.3, teacher.v_star + 0.2
    exact = np.concatenate([g.ravel() for g in P.expected_coarse_grad(teacher, v, W, ste, method="closed")])
    assert_mc_agrees(exact, lambda s, k: _mc_coarse_grad(teacher, v, W, ste, 31 + s, size=1000 * k),
                     what=f"E g of the window STE (closed form, {convention})", atol=1e-15)


def test_gauss_engine_uses_the_ste_kink_points():
    """An STE smooth except at 1.3 alpha (not 0, L alpha, a threshold or a graded panel edge 2^j alpha): with
    ``kink_points`` the fixed rule agrees with adaptive quadrature; without them (negative control) it does
    not, which is why they exist."""
    k = 1.3
    mu_p = lambda z, s: np.where(z <= 0, 0.0, np.where(z <= k * s.alpha, 1.0, 0.5 / (1 + np.maximum(z - k * s.alpha, 0))))
    mu = lambda z, s: np.where(z <= 0, 0.0, np.where(z <= k * s.alpha, z,
                                                     k * s.alpha + 0.5 * np.log1p(np.maximum(z - k * s.alpha, 0))))
    told = cg.STE("test_pop_kink_told", mu, mu_p, smooth_between_kinks=True, kink_points=lambda s: (0.0, k * s.alpha))
    blind = cg.STE("test_pop_kink_blind", mu, mu_p, smooth_between_kinks=True)
    teacher = P.random_teacher(3, 2, 2, Staircase(3, 0.3, "round"), 5)
    v, W = teacher.v_star + 0.1, teacher.W_star * 37.0 + 0.05      # |w| >> alpha: the kink is narrow in u
    quad = P.expected_coarse_grad(teacher, v, W, told, method="quad")[1]
    _assert_engines_agree(P.expected_coarse_grad(teacher, v, W, told, method="gauss")[1], quad, v, teacher,
                          1e-11, "Gauss-Legendre with kink_points vs adaptive")
    with pytest.raises(AssertionError):
        _assert_engines_agree(P.expected_coarse_grad(teacher, v, W, blind, method="gauss")[1], quad, v, teacher,
                              1e-11, "Gauss-Legendre blind to the kink at alpha")


# ---------------------------------------------------------------------------- accuracy at large |w| / alpha

def _coefficients(teacher, W, ste, method):
    from coarsegrad.population.coarse import coarse_coefficients
    from coarsegrad.population.geometry import pair_geometry
    return np.array(coarse_coefficients(cg.get_ste(ste), pair_geometry(W, teacher.W_star, teacher.staircase),
                                         teacher.staircase, method))[:, 0]


def _assert_coefficients_match(got, want, rtol, what):
    err = np.abs(got - want) / np.abs(want)
    assert np.all(err <= rtol), (f"{what}: (a, b, C_w, C_perp) relative errors {err} > {rtol} "
                                 f"(got {got}, mpmath {want})")


#: Relative accuracy of each coefficient of E g against 25-digit mpmath quadrature of its definition.
LARGE_W_RTOL = 1e-12
#: (|w| / alpha, convention): the four scales of issue 10 item 4 and the reproducer's 1e10, both conventions.
LARGE_W_CASES = [(1e3, "ceil"), (1e6, "round"), (1e9, "ceil"), (1e10, "ceil"), (1e12, "round")]


@pytest.mark.slow
@pytest.mark.parametrize("ratio, convention", LARGE_W_CASES)
def test_coarse_coefficients_accurate_at_large_norms(ratio, convention):
    """Issue 10 item 4: every engine keeps ~1e-14 relative accuracy at |w|/alpha up to 1e12 (the graded
    panels reach the Gaussian's scale, nearby differences are computed directly)."""
    from population_reference import coarse_coefficients_mp, mp_mu_prime
    stair = Staircase(2, 1.0, convention)
    teacher = P.Teacher(np.ones(2), [[1.3], [0.0], [0.0]], stair)
    W = ratio * np.array([[np.cos(0.7)], [np.sin(0.7)], [0.0]])
    for ste, methods in (("clipped_relu", ("closed", "gauss", "quad")), ("log_tailed_relu", ("gauss", "quad"))):
        want = np.array(coarse_coefficients_mp(W[:, 0], teacher.W_star[:, 0], stair, mp_mu_prime(ste, stair),
                                               [0.0, stair.top]))
        for method in methods:
            _assert_coefficients_match(_coefficients(teacher, W, ste, method), want, LARGE_W_RTOL,
                                       f"{ste} {method} at |w|/alpha = {ratio:g} ({convention})")


@pytest.mark.slow
def test_window_piece_accurate_at_large_norm():
    """The x1 > 0 closed-form branch at |w|/alpha = 1e9, against mpmath."""
    from population_reference import coarse_coefficients_mp, mp_mu_prime
    stair = Staircase(2, 1.0, "round")
    teacher = P.Teacher(np.ones(2), [[1.3], [0.0], [0.0]], stair)
    W = 1e9 * np.array([[np.cos(2.0)], [np.sin(2.0)], [0.0]])
    want = np.array(coarse_coefficients_mp(W[:, 0], teacher.W_star[:, 0], stair,
                                           mp_mu_prime("window", stair, (1.0, 3.0)), [1.0, 3.0]))
    _assert_coefficients_match(_coefficients(teacher, W, _window_ste(), "closed"), want, LARGE_W_RTOL,
                               "window STE, closed form, |w|/alpha = 1e9")


def test_large_norm_check_has_teeth():
    """Negative control: the pre-fix closed form phi(x1) - phi(x2) (cancelling) fails the accuracy check."""
    x2 = 3.0 / 1e9
    naive_a = (1 - np.exp(-0.5 * x2 * x2)) / np.sqrt(2 * np.pi) * (1 + 1e-8)     # what cancellation leaves
    want_a = -np.expm1(-0.5 * x2 * x2) / np.sqrt(2 * np.pi)
    with pytest.raises(AssertionError, match="relative errors"):
        _assert_coefficients_match(np.array([naive_a, 1.0, 1.0, 1.0]), np.array([want_a, 1.0, 1.0, 1.0]),
                                   LARGE_W_RTOL, "naive a")
    from coarsegrad.population.gaussian import _phi
    naive = _phi(0.0) - _phi(x2)
    assert abs(naive - want_a) > 1e3 * LARGE_W_RTOL * want_a     # the cancellation the fix removed is real


def test_reproducer_default_method_matches_adaptive_at_1e10():
    """Issue 10 item 4's reproducer: the default (Gauss-Legendre) method was 18 % from method='quad'."""
    teacher = P.Teacher(np.ones(2), [[1.3], [0.0], [0.0]], Staircase(2, 1.0))
    W = 1e10 * np.array([[np.cos(0.7)], [np.sin(0.7)], [0.0]])
    v = np.array([1.1, 0.9])
    default = P.expected_coarse_grad(teacher, v, W, "log_tailed_relu")[1]
    quad = P.expected_coarse_grad(teacher, v, W, "log_tailed_relu", method="quad")[1]
    err = np.abs(default - quad).max() / np.abs(quad).max()
    assert err < 1e-12, f"log_tailed_relu at |w|/alpha = 1e10: default vs quad rel diff {err:.3g}"


def test_expected_coarse_gradient_at_zero_student_column_round():
    """round: w_k = 0 gives E g = mu'(0) E[sigma(z^T w*) z] terms as for ceil; Monte Carlo agrees."""
    teacher = P.random_teacher(3, 4, 2, Staircase(2, 1.0, "round"), 5)
    W = teacher.W_star.copy()
    W[:, 0] = 0
    v = teacher.v_star + 0.2
    exact = np.concatenate([g.ravel() for g in P.expected_coarse_grad(teacher, v, W, "identity")])
    assert_mc_agrees(exact, lambda s, k: _mc_coarse_grad(teacher, v, W, "identity", 13 + s, size=1000 * k),
                     what="E g at w_0 = 0, identity, round", atol=1e-15)


@pytest.mark.parametrize("ratio", [1e-300, 1e100, 1e300])
def test_engines_agree_coefficientwise_at_extreme_norms(ratio):
    """Beyond the mpmath-checked range: the three engines agree coefficient by coefficient, relative
    (the vectors are ~1e-200 at |w|/alpha = 1e100; values below the float range are exactly 0 in all)."""
    teacher = P.Teacher(np.ones(2), [[1.3], [0.0], [0.0]], Staircase(2, 1.0))
    W = ratio * np.array([[np.cos(0.7)], [np.sin(0.7)], [0.0]])
    closed = _coefficients(teacher, W, "clipped_relu", "closed")
    for method in ("gauss", "quad"):
        got = _coefficients(teacher, W, "clipped_relu", method)
        err = np.abs(got - closed) / np.where(closed != 0, np.abs(closed), 1.0)
        assert np.all(err <= 1e-14), f"clipped_relu {method} vs closed at |w|/alpha = {ratio:g}: rel err {err}"


# ---------------------------------------------------------------------------- user STEs at large |w| / alpha

def _bump(z, s):
    """The issue-17 STE: a smooth bump of width L alpha centred at L alpha / 2 (no pieces)."""
    top = s.top
    return np.exp(-((z - top / 2) / top) ** 2)


def _bump_a_reference(r, staircase):
    """``a`` (A = a w^) of the bump, independently: ``a = int mu'(z) (z/r) phi(z/r) dz / r`` in ``z`` by scipy's
    QUADPACK on the bump's own scale (|z - top/2| <= 40 top; beyond, mu' < 1e-690)."""
    from scipy import integrate
    top = staircase.top
    f = lambda z: _bump(np.array([z]), staircase)[0] * (z / r) * np.exp(-0.5 * (z / r) ** 2) / np.sqrt(2 * np.pi) / r
    return sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0]
               for lo, hi in ((-40 * top, 0.0), (0.0, top), (top, 41 * top)))


@pytest.mark.parametrize("ratio", [1e3, 1e4, 1e6, 1e9, 1e12])
def test_default_engine_is_accurate_for_a_user_ste_at_large_norms(ratio):
    """Issue 17: mu'(z) = exp(-((z - top/2)/top)^2), v* = (1, 1), W* = [[1.3], [0], [0]], 2-bit ceil, alpha 1.
    The default (adaptive) engine was 20 % wrong at |w|/alpha = 1e3 and 48 % from 1e4 on: its start intervals
    were unit-wide in u and stepped over the feature of width L alpha / |w| next to the kinks. Now it agrees
    with the fixed Gauss-Legendre rule and with an independent integral in z."""
    bump = cg.STE("test_pop_bump", lambda z, s: np.asarray(z, dtype=np.float64), _bump)
    bump_g = cg.STE("test_pop_bump_g", lambda z, s: np.asarray(z, dtype=np.float64), _bump, smooth_between_kinks=True)
    teacher = P.Teacher(np.array([1.0, 1.0]), np.array([[1.3], [0.0], [0.0]]), Staircase(2, 1.0))
    d = np.array([0.6, -0.48, 0.64])
    W = (d / np.linalg.norm(d) * ratio)[:, None]
    auto = P.coarse_vectors(teacher, W, bump)
    gauss = P.coarse_vectors(teacher, W, bump_g, method="gauss")
    for X, Y, name in zip(auto, gauss, "ABC"):
        assert np.linalg.norm(X - Y) <= 1e-12 * np.linalg.norm(Y), f"{name} at |w|/alpha = {ratio:g}"
    a_ref = _bump_a_reference(ratio, teacher.staircase)
    a = float(auto[0][:, 0] @ (W[:, 0] / ratio))
    assert abs(a - a_ref) <= 1e-10 * abs(a_ref), (a, a_ref)


def test_adaptive_engine_without_graded_start_intervals_misses_the_feature(monkeypatch):
    """Negative control: with the graded start points removed (the old engine), the same check fails by > 10 %."""
    from coarsegrad.population import quadrature
    monkeypatch.setattr(quadrature, "_graded_points", lambda *a, **k: np.empty(0))
    bump = cg.STE("test_pop_bump_nograde", lambda z, s: np.asarray(z, dtype=np.float64), _bump)
    teacher = P.Teacher(np.array([1.0, 1.0]), np.array([[1.3], [0.0], [0.0]]), Staircase(2, 1.0))
    W = np.array([[0.6], [-0.48], [0.64]]) / np.sqrt(0.6**2 + 0.48**2 + 0.64**2) * 1e4
    a = float(P.coarse_vectors(teacher, W, bump)[0][:, 0] @ (W[:, 0] / 1e4))
    assert abs(a - _bump_a_reference(1e4, teacher.staircase)) > 0.1 * abs(_bump_a_reference(1e4, teacher.staircase))


def test_adaptive_engine_says_when_it_cannot_reach_its_tolerance():
    """An integrand oscillating on a scale the rule is not told about cannot converge within a small interval
    budget: a QuadratureWarning states the estimated error and the remedy (with the default budget it
    converges); a jump it is not told about is resolved by bisection; a NaN integrand is an error, not a number."""
    from coarsegrad.population.quadrature import QuadratureWarning, _integrate_adaptive
    wave = lambda u: np.cos(300.0 * u)[None, :]
    with pytest.warns(QuadratureWarning, match=r"stopped before its tolerance .* method='gauss'"):
        _integrate_adaptive(wave, [], limit=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuadratureWarning)          # the default budget suffices: no warning
        np.testing.assert_allclose(_integrate_adaptive(wave, []), 2 * np.sin(300.0 * 40) / 300, rtol=1e-10)
    step = lambda u: (u > 0.123456789)[None, :].astype(float)
    np.testing.assert_allclose(_integrate_adaptive(step, []), 40 - 0.123456789, rtol=1e-10)
    with pytest.raises(FloatingPointError, match="non-finite value of the integrand"):
        _integrate_adaptive(lambda u: np.where(u > 1, np.nan, 1.0)[None, :], [])


# ---------------------------------------------------------------------------- rows with their own kinks

def _pole_rows(kinks, scale):
    """``phi(y) / (1 + max(y - k_i, 0) / scale)`` for row ``i`` (a log tail's pole at distance ``scale``
    from each row's own kink ``k_i = kinks[i, 1]``): nodes ``(P,)`` or ``(m, P)`` to values ``(m, P)``."""
    def f(y):
        Y = np.atleast_2d(y)
        return np.exp(-0.5 * Y**2) / (1 + np.maximum(Y - kinks[:, 1:2], 0) / scale)
    return f


@settings(max_examples=40)
@given(m=st.integers(1, 12), seed=seeds, log_scale=st.floats(-8, 0))
def test_each_row_on_its_own_panels_gets_the_integral_it_gets_alone(m, seed, log_scale):
    """The Gauss engine with kinks per row (the log tail's perpendicular integrals, one row per threshold):
    every row equals that row integrated alone on the panels of its own kinks, to rounding, whether the
    rows share the union of their panels (when it is small: _OWN_PANELS_GAIN) or each has its own."""
    from coarsegrad.population import quadrature as Q
    rng = np.random.default_rng(seed)
    kinks = np.sort(rng.uniform(-3, 3, (m, 2)), axis=1)
    kinks[0, 0] = rng.choice([np.inf, -20.0, 12.0, kinks[0, 0]])        # kinks outside the rule's range are dropped
    scale = 10.0 ** log_scale
    rows = Q._integrate_gauss(_pole_rows(kinks, scale), [], kinks, scale)
    alone = np.array([Q._integrate_gauss(lambda y, i=i: _pole_rows(kinks[i:i + 1], scale)(y), [], kinks[i], scale)[0]
                      for i in range(m)])
    worst = int(np.argmax(np.abs(rows - alone) / np.abs(alone)))
    assert np.all(np.abs(rows - alone) <= 1e-13 * np.abs(alone)), \
        f"row {worst} of {m}: {rows[worst]!r} with the others, {alone[worst]!r} alone (kinks {kinks[worst]}, scale {scale:g})"


def test_rows_on_the_wrong_kinks_are_caught():
    """Negative control: rows integrated on their own panels but with their neighbours' kinks (not graded at
    their own pole) differ from each row alone by far more than rounding."""
    from coarsegrad.population import quadrature as Q
    kinks = np.array([[-1.0, 0.1 * i] for i in range(6)])
    scale = 1e-6
    grid, offsets = np.arange(-12.0, 12.5, 1.0), Q._graded_points(np.zeros(1), scale, 12.0)
    rolled = Q._integrate_gauss_rows(_pole_rows(kinks, scale), grid, np.empty(0), np.roll(kinks, 1, axis=0), offsets)
    alone = np.array([Q._integrate_gauss(_pole_rows(kinks[i:i + 1], scale), [], kinks[i], scale)[0] for i in range(6)])
    assert np.max(np.abs(rolled - alone) / np.abs(alone)) > 1e-6


@pytest.mark.parametrize("ste", ["log_tailed_relu", "smooth_without_kinks"])
def test_quadrature_engines_reach_the_top_of_the_documented_range(ste):
    """|w| / alpha = 1e300 with alpha = 1e7 puts |w| at 1e307, where the graded panels' ``2 u_max / scale``
    overflows: both engines once raised OverflowError there (the log tail's kinks; and the Gauss engine for an
    STE with no kinks at all, after its graded offsets became one kink's). Now both answer, and agree."""
    stair = Staircase(2, 1e7)
    teacher = P.random_teacher(3, 2, 2, stair, 5)
    if ste != "log_tailed_relu":
        ste = cg.STE("smooth_without_kinks", lambda z, s: np.arctan(z), lambda z, s: 1.0 / (1.0 + np.square(z)),
                     smooth_between_kinks=True, kink_points=lambda s: ())
    unit = teacher.W_star / np.linalg.norm(teacher.W_star, axis=0)
    W = 1e307 * (unit + 0.3 * np.roll(unit, 1, axis=0))
    got = {m: P.expected_coarse_grad(teacher, teacher.v_star, W, ste, method=m)[1] for m in ("gauss", "quad")}
    assert np.all(np.isfinite(got["gauss"])) and np.all(np.isfinite(got["quad"]))
    if ste == "log_tailed_relu":           # the tail 1/(1 + z - L alpha) keeps E g away from 0 there
        assert np.all(got["quad"] != 0)    # (mu' = 1/(1 + z^2) underflows to 0: E g is 0 to the last bit)
    assert np.all(np.abs(got["gauss"] - got["quad"]) <= 1e-13 * np.max(np.abs(got["quad"]))), got
