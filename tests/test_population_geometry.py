"""Geometry (coarsegrad/population/geometry.py): the precision safeguards, each pinned against an
independent 40-digit mpmath value so that removing it fails a test (issue 10 item 5).

- ``rho``, ``sin theta`` and ``1 -+ rho`` from ``|w^ -+ w*^|`` instead of ``w^ . w*^``;
- the second Gram-Schmidt pass that keeps ``e_perp`` orthogonal to ``w^`` when ``theta ~ 0``;
- ``_rho_x_minus``: ``rho x - c`` without cancellation when ``rho ~ +-1`` and ``x ~ +-c``.
"""
import mpmath as mp
import numpy as np
import pytest

from coarsegrad import population as P
from coarsegrad import Staircase
from coarsegrad.population.geometry import pair_geometry, _rho_x_minus


def _mp_geometry(geom, w_star):
    """rho, 1 - rho, 1 + rho, sin theta and e_perp at 40 digits, from the unit vectors as the library
    rounds them (``geom.w_hat`` and ``w* / |w*|``): the angle is then a well-conditioned function of
    its inputs, and the safeguards must deliver it to a few ulp, relative."""
    with mp.workdps(40):
        wh = [mp.mpf(float(x)) for x in geom.w_hat[:, 0]]
        wsh = [mp.mpf(float(x)) for x in np.asarray(w_star) / geom.r_star[0]]
        norm = lambda u: mp.sqrt(mp.fsum(x * x for x in u))
        wh, wsh = [x / norm(wh) for x in wh], [x / norm(wsh) for x in wsh]
        rho = mp.fsum(x * y for x, y in zip(wh, wsh))
        d = [y - rho * x for x, y in zip(wh, wsh)]
        dn = mp.sqrt(mp.fsum(x * x for x in d))
        # 1 - rho = |w^ - w*^|^2 / 2 exactly, without cancellation at 40 digits either
        omr = mp.fsum((x - y) ** 2 for x, y in zip(wh, wsh)) / 2
        opr = mp.fsum((x + y) ** 2 for x, y in zip(wh, wsh)) / 2
        return (float(rho), float(omr), float(opr), float(mp.sqrt(omr * opr)), np.array([float(x / dn) for x in d]))


def _pair(theta, phase=0.3, r=2.0, r_star=1.3):
    """Two vectors in the (e1, e2) plane of R^3 at angle theta (third coordinate exactly 0)."""
    w = r * np.array([np.cos(phase), np.sin(phase), 0.0])
    w_star = r_star * np.array([np.cos(phase + theta), np.sin(phase + theta), 0.0])
    return w, w_star


ANGLES = [1e-12, 1e-9, 1e-6, 0.3, np.pi - 1e-6, np.pi - 1e-9]


def _check_angle(geom, want, what):
    """Relative error of rho, 1 -+ rho and sin theta at most 1e-12 + (1e-15 / theta)^2: the rounded unit
    vectors are off unit length by ~eps, which moves |w^ -+ w*^|^2 by ~eps^2, i.e. (eps / theta)^2 relative
    (5e-9 at theta = 1e-12). The naive w^.w*^ is off by eps / theta^2 relative (1e8 there)."""
    rho, omr, opr, s, _ = want
    got = dict(rho=geom.rho[0], one_minus_rho=geom.one_minus_rho[0], one_plus_rho=geom.one_plus_rho[0], s=geom.s[0])
    ref = dict(rho=rho, one_minus_rho=omr, one_plus_rho=opr, s=s)
    tol = 1e-12 + (1e-15 / s) ** 2
    for name in got:
        err = abs(got[name] - ref[name]) / abs(ref[name])
        assert err < tol, f"{what}: {name} = {got[name]!r}, mpmath {ref[name]!r} (rel err {err:.2e} > {tol:.2e})"


@pytest.mark.parametrize("theta", ANGLES)
def test_angle_functions_are_accurate_near_0_and_pi(theta):
    w, w_star = _pair(theta)
    geom = pair_geometry(w[:, None], w_star[:, None], Staircase(2, 1.0))
    _check_angle(geom, _mp_geometry(geom, w_star), f"theta = {theta:g}")


def test_angle_check_has_teeth():
    """Negative control: the naive rho = w^.w*^, 1 - rho, sqrt(1 - rho^2) fails at theta = 1e-9."""
    w, w_star = _pair(1e-9)
    geom = pair_geometry(w[:, None], w_star[:, None], Staircase(2, 1.0))
    rho = float(geom.w_hat[:, 0] @ (w_star / np.linalg.norm(w_star)))
    naive = geom._replace(rho=np.array([rho]), one_minus_rho=np.array([1 - rho]), one_plus_rho=np.array([1 + rho]),
                          s=np.array([np.sqrt(max(0.0, 1 - rho * rho))]))
    with pytest.raises(AssertionError, match="rel err"):
        _check_angle(naive, _mp_geometry(geom, w_star), "naive")


@pytest.mark.parametrize("theta", [1e-12, 1e-8, 0.3, np.pi - 1e-12])
def test_e_perp_is_accurate_near_0_and_pi(theta):
    """e_perp against mpmath; in a plane it is unique up to sign, so it must agree to rounding. One
    Gram-Schmidt pass leaves a w^ component of ~1e-16 / theta in it (1e-4 at theta = 1e-12)."""
    w, w_star = _pair(theta)
    geom = pair_geometry(w[:, None], w_star[:, None], Staircase(2, 1.0))
    want = _mp_geometry(geom, w_star)[4]
    err = np.abs(geom.e_perp[:, 0] - want).max()
    assert err < 1e-12, f"theta = {theta:g}: e_perp {geom.e_perp[:, 0]} vs mpmath {want} (max err {err:.2e})"
    assert abs(geom.e_perp[:, 0] @ geom.w_hat[:, 0]) < 1e-15, "e_perp must be orthogonal to w^"


def test_gradient_at_tiny_angle_matches_derivative_along_the_ray():
    """grad f . w = d/dt f(t w) at t = 1 (f is smooth along the ray): at theta = 1e-12 the returned
    gradient must not carry the 1e-4 w^ component a single Gram-Schmidt pass would leave in e_perp."""
    w, w_star = _pair(1e-12, r=2.0, r_star=1.3)
    teacher = P.Teacher(np.array([1.0, -0.4]), w_star[:, None], Staircase(2, 1.0))
    v, W = np.array([0.7, 0.2]), w[:, None]
    gW = P.population_grad(teacher, v, W)[1]
    ray = lambda t: P.population_loss(teacher, v, t * W)
    h = 1e-3
    d_ray = (-ray(1 + 2 * h) + 8 * ray(1 + h) - 8 * ray(1 - h) + ray(1 - 2 * h)) / (12 * h)
    assert float(np.sum(gW * W)) == pytest.approx(d_ray, rel=1e-9), "grad f . w vs d/dt f(t w)"


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_rho_x_minus_is_accurate_without_cancellation(sign):
    """rho x - c for rho = +-(1 - 1e-13) and x = +-c (1 + 1e-9), against mpmath with the same 1 -+ rho."""
    omr = 1e-13 if sign > 0 else 2 - 1e-13
    opr = 2 - 1e-13 if sign > 0 else 1e-13
    rho = sign * (1 - 1e-13)
    c = 0.7
    x = sign * c * (1 + 1e-9)
    got = float(_rho_x_minus(np.array(x), np.array(c), np.array(rho), np.array(omr), np.array(opr)))
    with mp.workdps(40):
        small = mp.mpf(omr) if sign > 0 else mp.mpf(opr)
        exact_rho = (1 - small) if sign > 0 else -(1 - small)
        want = float(exact_rho * mp.mpf(x) - mp.mpf(c))
    assert abs(got - want) <= 1e-12 * abs(want), f"rho x - c: got {got!r}, mpmath {want!r}"
    naive = rho * x - c
    assert abs(naive - want) > 1e-9 * abs(want), "negative control: the naive product cancels here"
