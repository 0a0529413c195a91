"""Gaussian special functions (coarsegrad/population/gaussian.py): Phi2 through Owen's T against
one-dimensional quadrature, and the cancellation-free differences against mpmath."""
import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from coarsegrad import population as P
from reference import bvn_cdf_quad


# ---------------------------------------------------------------------------- Phi2

@given(h=st.one_of(st.floats(-8, 8), st.sampled_from([0.0, -np.inf, np.inf])),
       g=st.one_of(st.floats(-8, 8), st.sampled_from([0.0, -np.inf, np.inf])),
       rho=st.one_of(st.floats(-1, 1), st.sampled_from([-1.0, 0.0, 1.0, 0.999999, -0.999999])))
@pytest.mark.slow
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


# ---------------------------------------------------------------------------- differences without cancellation

def _mp_phi_diff(x1, x2):
    with mp.workdps(40):
        f = lambda x: mp.npdf(mp.mpf(x)) if np.isfinite(x) else mp.mpf(0)
        return float(f(x1) - f(x2))


def _mp_Phi_diff(a, b):
    """Phi(b) - Phi(a) at 60 digits, from the side where the tails are small."""
    with mp.workdps(60):
        a, b = mp.mpf(a), mp.mpf(b)
        return float(mp.ncdf(-a) - mp.ncdf(-b)) if a >= 0 else float(mp.ncdf(b) - mp.ncdf(a))


@given(x1=st.floats(-30, 30), log_h=st.floats(-14, 1.5))
@example(x1=0.0, log_h=-12.0)
def test_phi_diff_is_relatively_accurate(x1, log_h):
    from coarsegrad.population.gaussian import _phi_diff
    h = 10.0 ** log_h
    x2 = x1 + h
    h = x2 - x1                        # the width actually represented
    want = _mp_phi_diff(x1, x2)
    got = float(_phi_diff(np.array(x1), np.array(x2), np.array(h), np.array(x1 + x2)))
    assert abs(got - want) <= 1e-13 * abs(want) + 1e-300, f"phi({x1}) - phi({x2}): got {got!r}, mpmath {want!r}"


@given(a=st.floats(-30, 30), log_d=st.floats(-14, 1.5))
@example(a=0.0, log_d=-12.0)
@example(a=30.0, log_d=-0.3)
def test_Phi_diff_is_relatively_accurate(a, log_d):
    from coarsegrad.population.gaussian import _Phi_diff, _Phi_step
    d = 10.0 ** log_d
    b = a + d
    d = b - a
    want = _mp_Phi_diff(a, b)
    got = float(_Phi_diff(np.array(a), np.array(b), np.array(d)))
    # scipy's ndtr is accurate to ~1e-14 relative far in the tails (|x| ~ 30); a few ulp elsewhere
    assert abs(got - want) <= 2e-13 * abs(want), f"Phi({b}) - Phi({a}): got {got!r}, mpmath {want!r}"
    assert float(_Phi_step(np.array(b), np.array(a), np.array(-d))) == -got


def test_differences_at_infinite_ends():
    from coarsegrad.population.gaussian import _phi, _phi_diff, _Phi_diff
    inf = np.inf
    assert _phi_diff(np.array(0.3), np.array(inf), np.array(inf), np.array(inf)) == _phi(0.3)
    assert _phi_diff(np.array(-inf), np.array(0.3), np.array(inf), np.array(-inf)) == -_phi(0.3)
    assert _phi_diff(np.array(-inf), np.array(inf), np.array(inf), np.array(np.nan)) == 0.0
    assert _Phi_diff(np.array(-inf), np.array(inf), np.array(inf)) == 1.0
    assert _Phi_diff(np.array(0.0), np.array(inf), np.array(inf)) == 0.5


def test_difference_checks_have_teeth():
    """Negative control: the naive phi(x1) - phi(x2) at x1 = 0, x2 = 1e-10 is far outside the tolerance."""
    from coarsegrad.population.gaussian import _phi
    want = _mp_phi_diff(0.0, 1e-10)
    naive = float(_phi(0.0) - _phi(1e-10))
    assert abs(naive - want) > 1e-13 * abs(want)
