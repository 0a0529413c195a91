"""Bad input to the staircase, user STEs, alpha rules and the population model at its extremes: each case gives a
clear error naming the argument (docs/bad-input.md, "Staircase / STE / population / alpha")."""
import numpy as np
import pytest

import coarsegrad as cg
from coarsegrad import Staircase
from coarsegrad import population as P
from coarsegrad.population import alpha as PA


def _teacher():
    return P.random_teacher(3, 2, 2, Staircase(2, 0.7), 0)


def _W():
    return np.array(_teacher().W_star) * 0.8 + 0.1


CASES = {
    "loss-alpha-negative": (lambda: PA.population_loss_alpha(_teacher(), _teacher().v_star, _W(), -1.0),
                            ValueError, "alpha must be finite and > 0"),
    "loss-alpha-nan": (lambda: PA.population_loss_alpha(_teacher(), _teacher().v_star, _W(), float("nan")),
                       ValueError, "alpha must be finite and > 0"),
    "loss-alpha-string": (lambda: PA.population_loss_alpha(_teacher(), _teacher().v_star, _W(), "0.5"),
                          TypeError, "alpha must be a positive real number"),
    "descent-lr-zero": (lambda: PA.joint_descent(_teacher(), _W(), 0.7, "relu", "ae", lr=0.0, steps=1),
                        ValueError, "lr"),
    "descent-lr-alpha-negative": (lambda: PA.joint_descent(_teacher(), _W(), 0.7, "relu", "ae", lr=0.1, lr_alpha=-1.0,
                                                           steps=1), ValueError, "lr_alpha"),
    "descent-alpha0-zero": (lambda: PA.joint_descent(_teacher(), _W(), 0.0, "relu", "ae", lr=0.1, steps=1),
                            ValueError, "alpha0 must be finite and > 0"),
    "descent-steps-negative": (lambda: PA.joint_descent(_teacher(), _W(), 0.7, "relu", "ae", lr=0.1, steps=-1),
                               ValueError, "steps must be an integer >= 0"),
    "descent-record-every-zero": (lambda: PA.joint_descent(_teacher(), _W(), 0.7, "relu", "ae", lr=0.1, steps=1,
                                                           record_every=0), ValueError, "record_every"),
    "rule-unknown": (lambda: PA.expected_alpha_grad(_teacher(), _teacher().v_star, _W(), 0.7, "nope"),
                     ValueError, "unknown alpha rule 'nope'; registered rules are: ae, pact, min, mean"),
    "rule-type": (lambda: PA.expected_alpha_grad(_teacher(), _teacher().v_star, _W(), 0.7, 3),
                  TypeError, "an alpha rule must be a registered name"),
    "alpha-batched-W": (lambda: PA.population_grad_alpha(_teacher(), _teacher().v_star, _W()[None], 0.7),
                        ValueError, r"shape \(n, K\) here: one weight setting at a time"),
    "W-norm-overflows": (lambda: P.population_loss(_teacher(), _teacher().v_star, np.full((3, 2), 1.7e308)),
                         ValueError, r"W\[:, 0\] has a norm beyond the floating-point range; rescale W"),
    "ste-kink-points-nan": (lambda: cg.STE("kp_nan", cg.get_ste("relu").mu, cg.get_ste("relu").mu_prime,
                                           kink_points=lambda s: (0.0, float("nan"))),
                            ValueError, "kink_points.* must be finite numbers"),
    "ste-mu-prime-inf-far-out": (lambda: cg.STE("inf_far", cg.get_ste("relu").mu,
                                                lambda z, s: np.where(z > 1e200, np.inf, (z > 0).astype(np.float64))),
                                 ValueError, r"mu_prime\(.*e\+2\d\d\) = inf .* must be finite for every finite z"),
    "staircase-convention": (lambda: Staircase(2, 0.7, "floor"), ValueError, "convention must be one of 'ceil', 'round'"),
    "coarse-method-quad-for-closed-only": (lambda: P.coarse_vectors(_teacher(), _W(), "log_tailed_relu", method="closed"),
                                           ValueError, "no piecewise-constant description"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_population(name):
    call, exc, match = CASES[name]
    with pytest.raises(exc, match=match):
        with np.errstate(over="ignore"):
            call()
