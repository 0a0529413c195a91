"""The exact gradient (coarsegrad/population/gradient.py), both threshold conventions: against
4th-order finite differences of the exact loss, at the minimum and on the teacher's ray, and at w_k = 0."""
import numpy as np
import pytest
from hypothesis import given

from coarsegrad import population as P
from coarsegrad import Staircase
from population_reference import fd_grad as _fd_grad
from strategies import teacher_students

CONVENTIONS = ("ceil", "round")
FD_RTOL = 1e-6        # grad f against 4th-order central differences of f


# ---------------------------------------------------------------------------- gradient

def _angles(W, W_star):
    cos = np.sum(W * W_star, 0) / (np.linalg.norm(W, axis=0) * np.linalg.norm(W_star, axis=0))
    return np.arccos(np.clip(cos, -1, 1))


@given(case=teacher_students(geometry="generic", conventions=CONVENTIONS))
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
        assert err < FD_RTOL, f"grad_{name} f vs finite differences (bits={teacher.staircase.bits}): rel err {err:.2e}"


def test_gradient_is_zero_at_global_minimum_and_radial_on_the_ray():
    teacher = P.random_teacher(5, 4, 3, Staircase(2, 1.0), 3)
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
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 1.0), 0)
    W = teacher.W_star.copy()
    W[:, 1] = 0
    with pytest.raises(ValueError, match=r"W\[:, 1\] = 0: the population loss is discontinuous"):
        P.population_grad(teacher, teacher.v_star, W)


def test_gradient_at_zero_column_is_zero_for_round():
    """round: t_1 = alpha/2 > 0, so f is continuous at w_k = 0 and flat to all orders there
    (m = O(exp(-alpha^2/8|w|^2))): the gradient is the limit 0, and f(h u) - f(0) vanishes faster than h."""
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 1.0, "round"), 0)
    W = teacher.W_star.copy()
    W[:, 1] = 0
    v = teacher.v_star + 0.3
    gv, gW = P.population_grad(teacher, v, W)
    assert np.all(gW[:, 1] == 0), f"grad at w_1 = 0 must be the limit 0; got {gW[:, 1]}"
    f0 = P.population_loss(teacher, v, W)
    u = np.array([0.3, -0.5, 0.8])
    for h in (1e-2, 1e-3):
        Wh = W.copy()
        Wh[:, 1] = h * u
        slope = (P.population_loss(teacher, v, Wh) - f0) / h
        assert abs(slope) < 1e-300 + 1e-12, f"(f(h u) - f(0)) / h = {slope!r} at h = {h}: f must be flat at 0"
    # the limit from nearby points: the gradient there is tiny and tends to 0
    Wn = W.copy()
    Wn[:, 1] = 0.03 * u                  # t_1 = alpha / (2 |w|) ~ 16: phi(t_1) ~ 1e-56
    assert np.abs(P.population_grad(teacher, v, Wn)[1][:, 1]).max() < 1e-20
    # and the v-gradient at w_1 = 0 agrees with finite differences of f in v
    fd_v = _fd_grad(lambda x: P.population_loss(teacher, x, W), v, 1e-4)
    np.testing.assert_allclose(gv, fd_v, rtol=1e-8, atol=1e-12)


def test_zero_column_error_names_the_convention():
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 1.0, "ceil"), 0)
    W = teacher.W_star.copy()
    W[:, 0] = 0
    with pytest.raises(ValueError, match="'ceil' convention"):
        P.population_grad(teacher, teacher.v_star, W)
