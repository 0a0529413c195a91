"""The ReLU limit (coarsegrad/relu_limit.py; docs/theory.md section 9): the clipped-ReLU network's
population loss and gradient (checked against finite differences and Monte Carlo, independently of
coarsegrad.population), and the orders in alpha at which the coarse gradient tends to them."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from coarsegrad import Staircase
from coarsegrad import relu_limit as R
from coarsegrad.nets import MLPParams, ts_forward
from coarsegrad.population import Teacher, population_loss
from strategies import seeds

TOP = 3.0


def _config(seed, n=4, p=3, K=2):
    rng = np.random.default_rng(seed)
    vs = np.abs(rng.standard_normal(p)) + 0.2
    return vs, rng.standard_normal((n, K)) * TOP / 2, vs + 0.3 * rng.standard_normal(p), rng.standard_normal((n, K)) * TOP / 2


@settings(max_examples=8, deadline=None)
@given(seed=seeds, top=st.floats(0.3, 10.0))
def test_limit_grad_is_the_gradient_of_the_limit_loss(seed, top):
    vs, Ws, v, W = _config(seed)
    teacher = Teacher(vs, Ws, Staircase(1, top))
    g = R.limit_population_grad(teacher, v, W)
    h, fd = 1e-5, np.zeros_like(W)
    for i in range(W.shape[0]):
        for k in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, k] = h
            fd[i, k] = (R.limit_population_loss(teacher, v, W + E) - R.limit_population_loss(teacher, v, W - E)) / (2 * h)
    assert np.linalg.norm(fd - g) <= 1e-7 * np.linalg.norm(g) + 1e-9


def test_limit_loss_against_monte_carlo():
    vs, Ws, v, W = _config(1)
    teacher = Teacher(vs, Ws, Staircase(1, TOP))
    rng = np.random.default_rng(2)
    act = lambda z: np.clip(z, 0, TOP)
    vals = []
    for _ in range(10):
        Z = rng.standard_normal((20000, 3, 4))
        y = ts_forward(Z, v, W, Staircase(1, TOP), activation=act).y
        ys = ts_forward(Z, vs, Ws, Staircase(1, TOP), activation=act).y
        vals.append(0.5 * np.sum((y - ys)**2, axis=1))
    vals = np.concatenate(vals)
    z = (R.limit_population_loss(teacher, v, W) - vals.mean()) / (vals.std() / np.sqrt(vals.size))
    assert abs(z) < 4


def test_limit_is_the_large_bits_staircase_loss():
    """The exact staircase loss (coarsegrad.population) tends to the clipped-ReLU loss: an independent
    route to the same number (round: O(alpha^2))."""
    vs, Ws, v, W = _config(3)
    s = Staircase(8, TOP / 255, "round")
    assert population_loss(Teacher(vs, Ws, s), v, W) == pytest.approx(R.limit_population_loss(Teacher(vs, Ws, s), v, W),
                                                                      rel=1e-4)


@pytest.mark.parametrize("conv, order", [("ceil", 1), ("round", 2)])
def test_population_order(conv, order):
    vs, Ws, v, W = _config(4)
    stairs = R.limit_staircases(TOP, range(3, 8), conv)
    gaps = [R.population_gap(Teacher(vs, Ws, s), v, W) for s in stairs]
    assert abs(R.fit_order([s.alpha for s in stairs], gaps) - order) < 0.1
    relu = [R.population_gap(Teacher(vs, Ws, s), v, W, "relu") for s in stairs]
    assert abs(R.fit_order([s.alpha for s in stairs], relu)) < 0.1 and np.min(relu) > 0.1   # the control


@pytest.mark.parametrize("conv", ["ceil", "round"])
def test_sample_order_is_one(conv):
    rng = np.random.default_rng(5)
    vs, Ws, v, W = _config(5)
    Z = rng.standard_normal((64, 3, 4))
    x, y = rng.standard_normal((64, 5)), rng.integers(0, 3, 64)
    P = MLPParams(rng.standard_normal((8, 5)), 0.3 * rng.standard_normal(8), rng.standard_normal((3, 8)), np.zeros(3))
    stairs = R.limit_staircases(TOP, range(4, 13), conv)
    a = [s.alpha for s in stairs]
    assert abs(R.fit_order(a, [R.ts_sample_gap(Z, v, W, vs, Ws, s) for s in stairs]) - 1) < 0.25
    assert abs(R.fit_order(a, [R.mlp_sample_gap(x, y, P, s) for s in stairs]) - 1) < 0.25
    assert R.ts_sample_gap(Z, v, W, vs, Ws, stairs[-1], "relu") > 0.1          # relu STE: no convergence


def test_fit_order_recovers_a_power_and_propagates_failure():
    a = np.geomspace(1e-3, 1e-1, 7)
    assert R.fit_order(a, 3 * a**1.5) == pytest.approx(1.5, rel=1e-12)
    assert np.isnan(R.fit_order(a, np.where(a > 0.01, a, 0.0)))     # an exact 0 is no measurement of an order
    assert np.isnan(R.fit_order(a, np.full(7, np.nan)))


def test_limit_needs_nonzero_columns():
    vs, Ws, v, W = _config(6)
    W[:, 0] = 0
    with pytest.raises(ValueError, match="move w_k off 0"):
        R.limit_population_grad(Teacher(vs, Ws, Staircase(1, TOP)), v, W)


def test_limit_staircases_share_the_top():
    for s in R.limit_staircases(2.5, range(1, 13), "round"):
        assert s.top == pytest.approx(2.5, rel=1e-15)
