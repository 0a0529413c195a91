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
from coarsegrad.nets import ts_alpha_grad, ts_coarse_grad, ts_forward, ts_loss
from coarsegrad.population import alpha as PA
from reference import ROUNDING_OPS, assert_mc_agrees, rel_err
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
    # A column parallel to its teacher's (rho = +-1) puts a kink in f as a function of alpha at alpha = alpha*:
    # Phi2(-t, -c; 1) = Phi(-max(t, c)) switches branch where t = c (docs/theory.md section 5). A central
    # difference there averages the two one-sided slopes (found by hypothesis: w_1 = w*_1, bits 1 round, 2.3e-6
    # relative), so such a column is moved off the teacher's span first, as for grad_W below.
    cos = np.sum(W * teacher.W_star, axis=0) / (np.linalg.norm(W, axis=0) * np.linalg.norm(teacher.W_star, axis=0))
    if np.any(np.abs(cos) > 1 - 1e-6):
        W = W + 0.1 * np.linalg.norm(W) * np.random.default_rng(2).standard_normal(W.shape)
    h = 1e-5 * alpha
    fd = float(finite_difference(lambda a: PA.population_loss_alpha(teacher, v, W, float(a[0])), [alpha],
                                 h=h, order=4)[0])
    exact = PA.population_grad_alpha(teacher, v, W, alpha)
    # Truncation relative to the slope, plus the rounding the difference quotient carries: each value of f is
    # off by up to ROUNDING_OPS eps |f| and the stencil's weights add up to 1.5 / h (as in check_directional;
    # the former allowance, 1e-14 |f| / alpha, was 3000 times below one ulp of f through this stencil).
    f = PA.population_loss_alpha(teacher, v, W, alpha)
    allowed = FD_RTOL * abs(exact) + 1.5 * ROUNDING_OPS * np.finfo(float).eps * abs(f) / h
    assert abs(fd - exact) <= allowed, (f"df/dalpha: exact {exact!r} vs FD {fd!r} ({teacher}, alpha={alpha}, "
                                        f"v*={teacher.v_star.tolist()}, W*={teacher.W_star.tolist()})")
    gW, dalpha = PA.joint_population_grad(teacher, v, W, alpha)
    assert abs(fd - dalpha) <= allowed, f"joint df/dalpha {dalpha!r} vs FD {fd!r}"
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
    # round: every threshold > 0, f is flat to all orders at w_k = 0 -> grad 0 there, as population_grad
    gW, dalpha = PA.joint_population_grad(teacher, v, W, 0.9)
    assert np.all(gW[:, 1] == 0.0) and np.all(np.isfinite(gW)) and dalpha == PA.population_grad_alpha(teacher, v, W, 0.9)
    gW_shared, _ = PA.joint_population_grad(teacher, v, W, teacher.staircase.alpha)
    assert rel_err(gW_shared, P.population_grad(teacher, v, W)[1]) < 1e-12
    # ceil: m jumps at w_k = 0 -> both raise, naming the column
    ceil = P.Teacher(teacher.v_star, teacher.W_star, Staircase(2, 0.7))
    for call in (lambda: PA.joint_population_grad(ceil, v, W, 0.9), lambda: P.population_grad(ceil, v, W)):
        with pytest.raises(ValueError, match=r"W\[:, 1\] = 0: the population loss is discontinuous"):
            call()
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


# ---------------------------------------------------------------------------- Monte Carlo at alpha != alpha*

def _mc_loss_and_grad_W(teacher, v, W, alpha, ste, seed, scale):
    """Batch means of the sample loss and of the sample coarse gradient in W, the student at its own alpha
    (the networks' code path: ts_forward, ts_loss, ts_coarse_grad), teacher at alpha*."""
    stair = teacher.staircase.with_alpha(alpha)

    def stat(Z):
        fwd = ts_forward(Z, v, W, stair)
        loss, e = ts_loss(fwd.y, ts_forward(Z, teacher.v_star, teacher.W_star, teacher.staircase).y)
        return np.concatenate([[loss], ts_coarse_grad(Z, v, fwd, e, ste, stair)[1].ravel()])
    return monte_carlo(stat, lambda g: g.standard_normal((1000 * scale, teacher.p, teacher.n)), 60, seed)


@given(case=cases(max_bits=3), seed=seeds, ste=st.sampled_from(["clipped_relu", "relu", "log_tailed_relu"]))
@settings(max_examples=10)   # each example draws 60,000 samples (and retries with 4x on a miss)
def test_loss_and_coarse_grad_W_at_student_alpha_match_monte_carlo(case, seed, ste):
    """population_loss_alpha and the W part of joint_expected_coarse_grad at alpha != alpha*, against Monte Carlo
    of the sample loss and coarse gradient (within 4 standard errors): an inverted rescale alpha*/alpha of the
    teacher's C term, or the student's thresholds at alpha*, would be many standard errors off."""
    teacher, v, W, alpha = case
    EgW, _ = PA.joint_expected_coarse_grad(teacher, v, W, alpha, ste, "ae")
    exact = np.concatenate([[PA.population_loss_alpha(teacher, v, W, alpha)], EgW.ravel()])
    assert_mc_agrees(exact, lambda s, k: _mc_loss_and_grad_W(teacher, v, W, alpha, ste, seed + s, k),
                     what=f"f and E g_W at the student's alpha ({teacher}, alpha={alpha}, {ste})", atol=1e-12)


def test_monte_carlo_check_at_student_alpha_has_power():
    """Negative control: the exact values at alpha* (the student's own alpha ignored) are rejected."""
    teacher = P.Teacher([1.0, -0.5], [[1.2, -0.4], [0.3, 0.9], [-0.5, 0.2]], Staircase(2, 0.8))
    v, W, alpha = teacher.v_star + 0.2, np.array(teacher.W_star) * 0.7 + 0.1, 1.4
    EgW, _ = PA.joint_expected_coarse_grad(teacher, v, W, teacher.staircase.alpha, "clipped_relu", "ae")
    wrong = np.concatenate([[PA.population_loss_alpha(teacher, v, W, teacher.staircase.alpha)], EgW.ravel()])
    with pytest.raises(AssertionError, match="standard errors twice"):
        assert_mc_agrees(wrong, lambda s, k: _mc_loss_and_grad_W(teacher, v, W, alpha, "clipped_relu", 7 + s, k),
                         what="values at alpha* for a student at 1.4")


# ---------------------------------------------------------------------------- joint_descent

def _descent_case():
    teacher = P.random_teacher(4, 3, 2, Staircase(2, 1.0), 3, v_star=np.array([1.0, 0.6, 0.3]))
    W0 = np.array(teacher.W_star) * 0.6 + 0.2
    return teacher, W0


def test_joint_descent_step_is_minus_the_expected_coarse_gradient():
    """One step: W1 = W0 - lr E g_W and alpha1 = max(alpha0 - lr_alpha E g_alpha, ALPHA_FLOOR), bit for bit;
    a flipped sign of the alpha update (or of the W update) fails this."""
    teacher, W0 = _descent_case()
    lr, lr_a, a0 = 0.05, 0.01, 1.3
    for rule in ("ae", "pact", "min", "mean"):
        EgW, Ega = PA.joint_expected_coarse_grad(teacher, teacher.v_star, W0, a0, "clipped_relu", rule)
        assert Ega != 0.0
        W1, a1, hist = PA.joint_descent(teacher, W0, a0, "clipped_relu", rule, lr=lr, lr_alpha=lr_a, steps=1)
        assert np.array_equal(W1, W0 - lr * EgW)
        assert a1 == max(a0 - lr_a * Ega, PA.ALPHA_FLOOR)
        assert hist.step == [0, 1] and hist["alpha"].tolist() == [a0, a1]


def test_joint_descent_records_the_exact_dalpha():
    """The docstring's dalpha record exists and is df/dalpha: against 4th-order finite differences of
    population_loss_alpha (an independent route) at every recorded (W, alpha)."""
    teacher, W0 = _descent_case()
    _, _, hist = PA.joint_descent(teacher, W0, 1.3, "clipped_relu", "ae", lr=0.05, lr_alpha=0.01, steps=4,
                                  record_every=2)
    assert hist.step == [0, 2, 4] and set(hist.values) == {"loss", "alpha", "dalpha"}
    W = np.array(W0)
    a = 1.3
    for t in range(5):
        if t in hist.step:
            i = hist.step.index(t)
            fd = float(finite_difference(lambda x: PA.population_loss_alpha(teacher, teacher.v_star, W, float(x[0])),
                                         [a], h=1e-5, order=4)[0])
            assert abs(hist["dalpha"][i] - fd) <= 1e-7 * (abs(fd) + 1e-12), (t, hist["dalpha"][i], fd)
            assert hist["alpha"][i] == a
        EgW, Ega = PA.joint_expected_coarse_grad(teacher, teacher.v_star, W, a, "clipped_relu", "ae")
        W, a = W - 0.05 * EgW, max(a - 0.01 * Ega, PA.ALPHA_FLOOR)


def test_joint_descent_divergence_names_the_step_size():
    """Non-finite or exploding W or alpha: one FloatingPointError naming lr or lr_alpha (was: only W checked, a
    large alpha step died in an OverflowError deep in the moments)."""
    teacher, W0 = _descent_case()
    with pytest.raises(FloatingPointError, match=r"joint_descent diverged at step 1 .*; lower lr \(now 1e\+300\)"):
        PA.joint_descent(teacher, W0, 1.3, "clipped_relu", "ae", lr=1e300, lr_alpha=0.01, steps=5)
    with pytest.raises(FloatingPointError, match=r"joint_descent diverged at step \d+ .*; lower lr_alpha \(now 1e\+300\)"):
        PA.joint_descent(teacher, W0, 1.3, "clipped_relu", "ae", lr=0.05, lr_alpha=1e300, steps=5)


def test_student_alpha_too_large_for_the_formulas_is_named():
    """population_loss_alpha(alpha=1e300) gave "OverflowError (34, 'Numerical result out of range')"."""
    teacher, W0 = _descent_case()
    for fn in (PA.population_loss_alpha, PA.population_grad_alpha, PA.alpha_jump_terms):
        with pytest.raises(ValueError, match=r"alpha = 1e\+300 is too large .* choose alpha <= 4.469e\+149"):
            fn(teacher, teacher.v_star, W0, 1e300)
    with pytest.raises(ValueError, match=r"top level L alpha = 3 \* alpha overflows"):
        PA.population_loss_alpha(teacher, teacher.v_star, W0, 1e308)
    assert np.isfinite(PA.population_loss_alpha(teacher, teacher.v_star, W0, 4e149))


def test_claim_13_catches_an_alpha_step_not_divided_by_L_squared():
    """Negative control (issue 17's planted bug): a joint descent that takes lr for the alpha step at 4 bits
    overshoots f (15-30x) and claim 13's stability row fails; the quick preset's 1-bit runs could not see it."""
    from coarsegrad.claims import claim_13

    def undivided(teacher, W0, alpha0, ste, rule, **kw):
        return PA.joint_descent(teacher, W0, alpha0, ste, rule, **{**kw, "lr_alpha": kw["lr"]})
    result = claim_13("quick", 0, joint_descent=undivided)
    row = [c for c in result.checks if c.quantity.startswith("max_t f_t/f_0")][0]
    assert not row.passed and not result.passed, row
