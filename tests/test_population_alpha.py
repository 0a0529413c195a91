"""Population model with a learnable student alpha: exact f(alpha), df/dalpha, E g_alpha per rule and the
jump terms, against finite differences of the exact f, Monte Carlo (4 standard errors), Euler's
identity, and the shared-alpha formulas of coarsegrad.population; both staircase conventions."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from coarsegrad import Staircase
from coarsegrad import population as P
from coarsegrad.alpha import ALPHA_RULES
from coarsegrad.estimators import finite_difference, monte_carlo
from coarsegrad.nets import ts_alpha_grad, ts_forward, ts_loss
from coarsegrad.population import alpha as PA
from reference import assert_mc_agrees, rel_err
from strategies import seeds

FD_RTOL = 1e-6     # df/dalpha and grad_W f against 4th-order central differences of the exact f


@st.composite
def cases(draw, max_bits=4):
    """``(teacher, v, W, alpha)``: teacher at alpha*, student at alpha = alpha* e^u, both conventions."""
    bits = draw(st.integers(1, max_bits))
    convention = draw(st.sampled_from(["ceil", "round"]))
    a_star = draw(st.floats(0.1, 3.0))
    rng = np.random.default_rng(draw(seeds))
    n, p, K = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    L = 2**bits - 1
    W_star = rng.standard_normal((n, K)) * L * a_star / np.sqrt(n)
    v_star = rng.standard_normal(p)
    W = rng.standard_normal((n, K)) * L * a_star / np.sqrt(n)
    if draw(st.booleans()):
        W[:, 0] = W_star[:, 0] * draw(st.floats(0.3, 3.0))          # a column parallel to the teacher's
    v = v_star + 0.3 * rng.standard_normal(p)
    alpha = a_star * float(np.exp(draw(st.floats(-1.2, 1.2))))
    return P.Teacher(v_star, W_star, Staircase(bits, a_star, convention)), v, W, alpha


@given(case=cases())
def test_shared_alpha_reduces_to_population_module(case):
    teacher, v, W, _ = case
    a = teacher.staircase.alpha
    assert rel_err(PA.population_loss_alpha(teacher, v, W, a), P.population_loss(teacher, v, W)) < 1e-13
    gW, _ = PA.joint_population_grad(teacher, v, W, a)
    assert rel_err(gW, P.population_grad(teacher, v, W)[1]) < 1e-12
    EgW, _ = PA.joint_expected_coarse_grad(teacher, v, W, a, "clipped_relu", "ae")
    assert rel_err(EgW, P.expected_coarse_grad(teacher, v, W, "clipped_relu")[1]) < 1e-12


@given(case=cases())
def test_dalpha_and_grad_W_match_finite_differences_of_exact_f(case):
    teacher, v, W, alpha = case
    fd = float(finite_difference(lambda a: PA.population_loss_alpha(teacher, v, W, float(a[0])), [alpha],
                                 h=1e-5 * alpha, order=4)[0])
    exact = PA.population_grad_alpha(teacher, v, W, alpha)
    scale = abs(exact) + 1e-8 * PA.population_loss_alpha(teacher, v, W, alpha) / alpha
    assert abs(fd - exact) <= FD_RTOL * scale, f"df/dalpha: exact {exact!r} vs FD {fd!r} ({teacher}, alpha={alpha})"
    gW, dalpha = PA.joint_population_grad(teacher, v, W, alpha)
    assert dalpha == exact
    # f has a kink in W across span(w*_k) (docs/theory.md §5): move a parallel column off it first.
    W = W + 0.1 * np.linalg.norm(W) * np.random.default_rng(1).standard_normal(W.shape)
    gW, _ = PA.joint_population_grad(teacher, v, W, alpha)
    u = np.random.default_rng(0).standard_normal(W.shape)
    h = 1e-5 * np.linalg.norm(W)
    fdW = float(finite_difference(lambda t: PA.population_loss_alpha(teacher, v, W + t[0] * u, alpha), [0.0],
                                  h=h, order=4)[0])
    want = float(np.sum(gW * u))
    assert abs(fdW - want) <= FD_RTOL * (np.linalg.norm(gW) * np.linalg.norm(u) + 1e-8), \
        f"grad_W f at student alpha: <g, u> = {want!r} vs FD {fdW!r}"


@given(case=cases())
def test_ae_bias_is_the_jump_terms_and_euler_identity(case):
    """E g_ae - df/dalpha = jump terms = (1/alpha) sum_k w_k . grad_{w_k} f (Euler: sigma(cz; c alpha) = c sigma)."""
    teacher, v, W, alpha = case
    bias = PA.expected_alpha_grad(teacher, v, W, alpha, "ae") - PA.population_grad_alpha(teacher, v, W, alpha)
    jumps = PA.alpha_jump_terms(teacher, v, W, alpha)
    gW, _ = PA.joint_population_grad(teacher, v, W, alpha)
    euler = float(np.sum(W * gW)) / alpha
    scale = np.abs(bias) + np.abs(PA.expected_alpha_grad(teacher, v, W, alpha, "ae")) + 1e-300
    assert abs(bias - jumps) <= 1e-10 * scale, f"bias {bias!r} vs jump terms {jumps!r}"
    terms = float(np.sum(np.abs(W * gW))) / alpha        # the size of the summands: rounding is relative to it
    assert abs(jumps - euler) <= 1e-10 * (abs(jumps) + terms), \
        f"jump terms {jumps!r} vs (1/alpha) W.grad_W f {euler!r} ({teacher}, alpha={alpha})"


def _mc_alpha_grads(teacher, v, W, alpha, seed, scale):
    stair = teacher.staircase.with_alpha(alpha)

    def stat(Z):
        fwd = ts_forward(Z, v, W, stair)
        _, e = ts_loss(fwd.y, ts_forward(Z, teacher.v_star, teacher.W_star, teacher.staircase).y)
        return np.array([ts_alpha_grad(fwd, v, e, r, stair) for r in ALPHA_RULES])
    return monte_carlo(stat, lambda g: g.standard_normal((1000 * scale, teacher.p, teacher.n)), 60, seed)


@given(case=cases(max_bits=3), seed=seeds)
@settings(max_examples=12)   # each example draws 60,000 samples per rule (and retries with 4x on a miss)
def test_expected_alpha_grad_matches_monte_carlo(case, seed):
    teacher, v, W, alpha = case
    exact = [PA.expected_alpha_grad(teacher, v, W, alpha, r) for r in ALPHA_RULES]
    assert_mc_agrees(exact, lambda s, k: _mc_alpha_grads(teacher, v, W, alpha, seed + s, k),
                     what=f"E g_alpha for {ALPHA_RULES} ({teacher}, alpha={alpha})", atol=1e-12)


def test_zero_student_column_and_errors():
    teacher = P.random_teacher(3, 2, 2, Staircase(2, 0.7, "round"), 0)
    W = np.array(teacher.W_star, copy=True)
    W[:, 1] = 0.0
    v = teacher.v_star
    for r in ALPHA_RULES:
        assert np.isfinite(PA.expected_alpha_grad(teacher, v, W, 0.9, r))
    assert np.isfinite(PA.population_grad_alpha(teacher, v, W, 0.9))
    with pytest.raises(ValueError, match="discontinuous"):
        PA.joint_population_grad(teacher, v, W, 0.9)
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        PA.population_loss_alpha(teacher, v, teacher.W_star, -1.0)
    with pytest.raises(ValueError, match=r"shape \(n, K\)"):
        PA.population_grad_alpha(teacher, v, teacher.W_star[None], 0.5)


# ---------------------------------------------------------------------------- claim 13

def test_claim_13_fails_with_wrong_oracles():
    """Negative controls (the library's oracles pass at the quick preset: tests/test_claims.py): the exact
    df/dalpha in place of E g_ae (no bias, so Euler's identity must fail), and a descent that never moves."""
    from coarsegrad.claims import claim_13
    unbiased = claim_13("quick", 0, expected_alpha_grad=lambda t, v, W, a, r: PA.population_grad_alpha(t, v, W, a))
    assert unbiased.checks[0].passed is False, "claim 13 did not notice E g_ae replaced by df/dalpha"

    def frozen(teacher, W0, alpha0, ste, rule, **kw):
        return PA.joint_descent(teacher, W0, alpha0, ste, rule, **{**kw, "steps": 0})
    result = claim_13("quick", 0, joint_descent=frozen)
    assert not result.passed and result.checks[0].passed, "claim 13 passed with a descent that never moves"


def test_mean_rule_stalls_where_f_still_descends():
    """Counterexample (docs/findings.md): joint descent with 'mean' (and, next to it, 'min') stops at a point
    where E g_W and E g_mean vanish but df/dalpha = 0.716 does not; 'ae' is not stopped there."""
    from coarsegrad.claims import ALPHA_RULE_STALL_COUNTEREXAMPLE as ex
    teacher = P.Teacher(ex["v_star"], ex["W_star"], Staircase(ex["bits"], ex["alpha_star"]))
    v, W, a = teacher.v_star, np.array(ex["W_stall"]), ex["alpha_stall"]
    EgW, Eg_mean = PA.joint_expected_coarse_grad(teacher, v, W, a, "clipped_relu", "mean")
    assert np.linalg.norm(EgW) < 1e-9 and abs(Eg_mean) < 1e-9, (np.linalg.norm(EgW), Eg_mean)
    dalpha = PA.population_grad_alpha(teacher, v, W, a)
    assert dalpha > 0.5, dalpha
    assert PA.expected_alpha_grad(teacher, v, W, a, "ae") > 0.5
    assert PA.population_loss_alpha(teacher, v, W, a) > 0.1 * PA.population_loss_alpha(teacher, v, ex["W0"], ex["alpha0"])
