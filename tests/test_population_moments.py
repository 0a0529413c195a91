"""Moments and loss (coarsegrad/population/moments.py), both threshold conventions: against Monte
Carlo, the SPEC's own algebraic form, the binary special case and the limits in |w|."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import coarsegrad as cg
from coarsegrad import population as P
from coarsegrad import Staircase
from coarsegrad.estimators import monte_carlo
from reference import assert_mc_agrees, population_loss_spec_form
from strategies import seeds, teacher_students

CONVENTIONS = ("ceil", "round")


# ---------------------------------------------------------------------------- moments and loss

def _mc_moments(teacher, W, seed, batches=100, size=2000):
    """Monte Carlo of m, q, c per class from single Gaussian rows z."""
    sigma = teacher.staircase

    def stat(z):
        s = sigma(z @ W)
        s_star = sigma(z @ teacher.W_star)
        return np.concatenate([s.mean(0), (s * s).mean(0), (s * s_star).mean(0)])
    return monte_carlo(stat, lambda g: g.standard_normal((size, teacher.n)), batches, seed)


@given(case=teacher_students(conventions=CONVENTIONS), seed=seeds)
def test_moments_agree_with_monte_carlo(case, seed):
    teacher, v, W = case
    stair = teacher.staircase
    exact = np.concatenate([P.moment_m(W, stair), P.moment_q(W, stair), P.moment_c(W, teacher.W_star, stair)])
    assert_mc_agrees(exact, lambda s, k: _mc_moments(teacher, W, seed + s, size=2000 * k),
                     what=f"m, q, c ({stair})", atol=1e-14 * stair.top ** 2)


@given(alpha=st.floats(0.01, 100), seed=seeds)
def test_binary_special_case(alpha, seed):
    rng = np.random.default_rng(seed)
    W, W_star = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    theta = np.arccos(np.clip(np.sum(W * W_star, 0) / np.linalg.norm(W, axis=0) / np.linalg.norm(W_star, axis=0), -1, 1))
    stair = Staircase(1, alpha)
    np.testing.assert_allclose(P.moment_m(W, stair), alpha / 2, rtol=1e-15)
    np.testing.assert_allclose(P.moment_q(W, stair), alpha**2 / 2, rtol=1e-15)
    np.testing.assert_allclose(P.moment_c(W, W_star, stair), alpha**2 * (np.pi - theta) / (2 * np.pi), rtol=1e-13)


@pytest.mark.slow
@given(case=teacher_students(conventions=CONVENTIONS), seed=seeds)
def test_population_loss_agrees_with_monte_carlo_and_spec_form(case, seed):
    teacher, v, W = case
    f = P.population_loss(teacher, v, W)
    spec = population_loss_spec_form(teacher, v, W)
    assert abs(f - spec) <= 1e-12 * max(1.0, abs(spec)), f"variance form {f!r} vs SPEC form {spec!r}"
    assert f >= -1e-12 * max(1.0, abs(spec))
    stair = teacher.staircase

    def stat(Z):
        y = cg.ts_forward(Z, v, W, stair).y
        y_star = cg.ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
        return [cg.ts_loss(y, y_star)[0]]
    assert_mc_agrees([f], lambda s, k: monte_carlo(stat, lambda g: g.standard_normal((1000 * k, teacher.p, teacher.n)),
                                                   100, seed + s), what=f"population loss (bits={stair.bits})")


def test_loss_is_zero_at_teacher_and_limits_of_m():
    stair = Staircase(3, 0.5)
    teacher = P.random_teacher(4, 3, 2, stair, 0)
    assert 0.0 <= P.population_loss(teacher, teacher.v_star, teacher.W_star) <= 1e-15 * (7 * 0.5) ** 2
    W = teacher.W_star
    L = stair.L
    np.testing.assert_allclose(P.moment_m(W * 1e12, stair), 0.5 * L / 2, rtol=1e-10)   # every threshold at 0
    np.testing.assert_allclose(P.moment_m(W * 1e-12, stair), 0.5 / 2, rtol=1e-15)     # only k = 0 left
    np.testing.assert_array_equal(P.moment_m(0 * W, stair), 0.0)                        # sigma(0) = 0
