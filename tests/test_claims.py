"""The paper's claims (SPEC §5): every claim function passes at its quick preset; every claim
fails when handed a deliberately wrong implementation of what it checks (a negative control)
or NaN evidence; and the descent and convergence claims get their own property tests, with
the counterexamples that bound their regime kept as tests (docs/findings.md)."""
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import coarsegrad as cg
from coarsegrad import claims
from coarsegrad import population as P
from coarsegrad.estimators import monte_carlo
from coarsegrad.quant import Staircase
from coarsegrad.train import SGD, History, default_population_lr, mlp_train, population_descent, ts_sgd
from reference import MC_Z
from strategies import seeds

ADMISSIBLE = ["relu", "clipped_relu", "log_tailed_relu"]

_RESULTS = {}


def _claim(number):
    if number not in _RESULTS:
        _RESULTS[number] = claims.run_claims("quick", seed=0, only=[number])[0]
    return _RESULTS[number]


#: The quick-preset results are computed once per process (_RESULTS): under pytest-xdist the tests that read
#: them share one worker (tests/conftest.py), or each worker would run claim 7 again.
QUICK_CLAIMS = pytest.mark.xdist_group("quick_claims")


@QUICK_CLAIMS
@pytest.mark.parametrize("number", [pytest.param(k, marks=pytest.mark.slow) if k in (7, 8) else k
                                    for k in sorted(claims.CLAIMS)])
def test_claim_passes_at_quick_preset(number):
    result = _claim(number)
    failed = [(c.quantity, c.value, c.relation, c.threshold) for c in result.checks if c.passed is False]
    assert result.passed, f"claim {number} ({result.title}) failed: {failed}"
    assert result.as_dict()["passed"] is True
    if number == 9:            # too long for --quick: skipped there, with the reason shown
        assert result.skipped and "coarsegrad verify --full" in result.checks[0].quantity
    else:
        assert not result.skipped and any(c.passed is True for c in result.checks)


def test_run_claims_rejects_unknown_input():
    with pytest.raises(ValueError, match="unknown claim number"):
        claims.run_claims("quick", only=[99])
    with pytest.raises(ValueError, match="preset must be one of quick, full"):
        claims.run_claims("medium")


def test_check_relations():
    assert claims.Check("x", 1.0, "<", 2.0).passed is True
    assert claims.Check("x", 2.0, "<", 2.0).passed is False
    assert claims.Check("x", 0, "==", 0).passed is True
    assert claims.Check("x", -1.0, "report").passed is None
    assert claims.Check("x", None, "skipped").passed is None
    with pytest.raises(ValueError, match="relation must be one of"):
        claims.Check("x", 1.0, "!=", 2.0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, float("nan")])
@pytest.mark.parametrize("relation", ["<", "<=", ">", ">=", "=="])
def test_check_fails_on_non_finite_evidence(value, relation):
    """NaN compares false with everything and inf satisfies one-sided bounds: both must fail, and say so."""
    check = claims.Check("x", value, relation, 0.0)
    assert check.passed is False
    assert check.verdict == "FAIL (non-finite)"
    result = claims.ClaimResult(0, "t", "s", (claims.Check("ok", 0.0, "==", 0.0), check))
    assert result.passed is False
    from coarsegrad.cli import format_claims, format_claims_markdown
    assert "FAIL (non-finite)" in format_claims([result])
    assert "**FAIL (non-finite)**" in format_claims_markdown([result])


def test_report_rows_with_nan_are_shown_not_judged():
    result = claims.ClaimResult(0, "t", "s", (claims.Check("ok", 1.0, ">", 0.0), claims.Check("r", np.nan, "report")))
    assert result.passed is True and result.checks[1].verdict == "(report)"


def test_claims_fold_evidence_with_numpy():
    """Python's max/min drop NaN depending on argument order (max(0.0, nan) is 0.0): evidence must be
    folded with np.max/np.min, which propagate it. A source scan, so a new claim cannot slip back."""
    import ast
    import inspect
    source = inspect.getsource(claims)
    # Calls on sizes, not on evidence, each with its reason:
    allowed = {"max(CLAIMS)": "the number of claims (seeds to spawn)",
               "max(data.dims)": "a subspace dimension (neurons per class)"}
    calls = [(node.lineno, ast.get_source_segment(source, node)) for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "min")]
    calls = [c for c in calls if c[1] not in allowed]
    assert not calls, f"Python max/min in claims.py (use np.max/np.min, which propagate NaN): {calls}"
    assert "nanmax" not in inspect.getsource(claims) and "nanmin" not in inspect.getsource(claims)


# ---------------------------------------------------------------------------- negative controls
# Each claim is run with a deliberately wrong implementation of what it checks, and must fail: some
# check that PASSES with the library's implementation at the same preset and seed must FAIL with the
# wrong one (so the failure is the wrong implementation's doing, not the small preset's). A tiny
# preset keeps them fast.

TINY = dict(mc_batches=20, mc_batch=400, fd_configs=2, descent_configs=4, descent_quad_every=4, gd_inits=1,
            gd_steps=3000, gd_bits=(1,), sgd_samples=3000, sgd_epochs=6, spurious_steps=300,
            claim9=dict(bits=(2,), syn_samples=60, syn_hidden=32, syn_epochs=60, syn_seeds=1,
                        mnist_train=100, mnist_test=50, mnist_hidden=8, mnist_epochs=1))

_BASELINES = {}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(claims.PRESETS, "tiny", TINY)
    return "tiny"


def _fails(result, why, preset="tiny"):
    """Assert that a check passing with the library's oracles fails in ``result``."""
    key = (result.number, preset)
    if key not in _BASELINES:
        _BASELINES[key] = claims.CLAIMS[result.number](preset, 0)
    base = _BASELINES[key]
    judged = [(c.quantity, c.value, c.verdict) for c in result.checks]
    assert [c.quantity for c in base.checks] == [c.quantity for c in result.checks]
    caught = [w.quantity for b, w in zip(base.checks, result.checks) if b.passed is True and w.passed is False]
    assert caught, (f"claim {result.number} did not catch {why}: no check that passes with the library's "
                    f"implementation failed; checks {judged}; with the library's: "
                    f"{[(c.quantity, c.value, c.verdict) for c in base.checks]}")
    assert not result.passed
    return result


def _nan_like(fn, index=None):
    """``fn`` with its output (or output[index]) replaced by NaN of the same shape."""
    def wrong(*args, **kwargs):
        out = fn(*args, **kwargs)
        if index is None:
            return np.full_like(np.asarray(out, dtype=float), np.nan) if np.ndim(out) else float("nan")
        out = list(out)
        out[index] = np.full_like(np.asarray(out[index], dtype=float), np.nan)
        return tuple(out)
    return wrong


class _GreaterEqualStaircase:
    """sigma with the wrong value AT the thresholds: #{k : z >= t_k} instead of z > t_k."""

    def __init__(self, bits, alpha):
        self.s = Staircase(bits, alpha)

    def __call__(self, z):
        z = np.asarray(z)
        t = self.s.thresholds_in(z.dtype)
        return (z[:, None] >= t[None, :]).sum(axis=1).astype(z.dtype) * z.dtype.type(self.s.alpha)


@pytest.mark.parametrize("wrong, why", [
    (_GreaterEqualStaircase, "z >= t_k instead of z > t_k"),
    (lambda bits, alpha: Staircase(bits, alpha, convention="round"), "thresholds shifted by alpha/2"),
    (lambda bits, alpha: Staircase(bits, 1.01 * alpha), "alpha scaled by 1.01"),
    (lambda bits, alpha: (lambda z: np.full_like(np.asarray(z), np.nan)), "NaN values"),
])
def test_claim_1_fails_for_a_wrong_staircase(wrong, why):
    _fails(claims.claim_1("quick", 0, staircase=wrong), why, "quick")


def _relu_ts_forward(Z, v, W, staircase, **kw):
    """The teacher-student forward pass with a ReLU in place of sigma: differentiable."""
    return SimpleNamespace(y=np.einsum("npk,p->nk", np.maximum(Z @ np.asarray(W), 0), v))


@pytest.mark.parametrize("oracles, why", [
    (dict(ts_forward=_relu_ts_forward), "a ReLU for sigma in the teacher-student net"),
    (dict(mlp_forward=lambda x, params, s, **kw: cg.mlp_forward(x, params, s, activation=lambda h: np.maximum(h, 0))),
     "a ReLU for sigma in the perceptron"),
    (dict(ts_forward=lambda *a, **kw: SimpleNamespace(y=np.full_like(cg.ts_forward(*a, **kw).y, np.nan))), "NaN"),
])
def test_claim_2_fails_for_a_differentiable_forward(oracles, why):
    _fails(claims.claim_2("quick", 0, **oracles), why, "quick")


@pytest.mark.parametrize("oracles, why", [
    (dict(moment_m=lambda W, s: -P.moment_m(W, s)), "m with its sign flipped"),
    (dict(moment_c=lambda W, W_star, s: P.moment_q(W, s)), "c replaced by q (teacher term dropped)"),
    (dict(moment_q=lambda W, s: P.moment_m(W, s) ** 2), "q = m^2 (variance dropped)"),
    (dict(population_loss=lambda t, v, W: 1.1 * P.population_loss(t, v, W)), "f scaled by 1.1"),
    (dict(moment_m=_nan_like(P.moment_m)), "NaN m"),
    (dict(population_loss=_nan_like(P.population_loss)), "NaN f"),
])
def test_claim_3_fails_for_wrong_moments(tiny, oracles, why):
    _fails(claims.claim_3(tiny, 0, **oracles), why)


def _scaled_grad(factor):
    def grad(t, v, W):
        gv, gW = P.population_grad(t, v, W)
        return gv, factor * gW
    return grad


@pytest.mark.parametrize("oracles, why", [
    (dict(grad=_scaled_grad(1.01)), "grad f scaled by 1.01"),
    (dict(grad=_scaled_grad(-1.0)), "grad f with its sign flipped"),
    (dict(loss=lambda t, v, W: P.population_loss(t, v, W) + 1e-3 * np.sum(W ** 2)), "f with an extra term"),
    (dict(grad=lambda t, v, W: P.expected_coarse_grad(t, v, W, "clipped_relu")), "E g in place of grad f"),
    (dict(grad=_nan_like(P.population_grad, 1)), "NaN grad f"),
    (dict(loss=_nan_like(P.population_loss)), "NaN f"),
])
def test_claim_4_fails_for_a_wrong_gradient(tiny, oracles, why):
    _fails(claims.claim_4(tiny, 0, **oracles), why)


def _scaled_Eg(factor):
    def Eg(t, v, W, ste):
        gv, gW = P.expected_coarse_grad(t, v, W, ste)
        return gv, factor * gW
    return Eg


@pytest.mark.parametrize("oracles, why", [
    (dict(expected_coarse_grad=_scaled_Eg(-1.0)), "E g with its sign flipped"),
    (dict(expected_coarse_grad=_scaled_Eg(1.2)), "E g scaled by 1.2"),
    (dict(expected_coarse_grad=lambda t, v, W, ste: P.expected_coarse_grad(t, v, W, "identity")),
     "every STE's E g computed as the identity's (mu' clipping dropped)"),
    (dict(expected_coarse_grad=_nan_like(P.expected_coarse_grad, 1)), "NaN E g"),
])
def test_claim_5_fails_for_a_wrong_expected_coarse_gradient(tiny, oracles, why):
    _fails(claims.claim_5(tiny, 0, **oracles), why)


@pytest.mark.slow
def test_claim_5_resolution_at_the_quick_preset():
    """What ``coarsegrad verify --quick`` can see in E g: a 5 % error fails claim 5. A 1 % error does not
    (max z 3.65 against 2.40 for the library at seed 0, bound 4): the Monte Carlo of 1e5 samples per
    setting cannot resolve it, and claim 4's finite differences (which do resolve 1 %, see above) do
    not apply to E g. docs/testing.md lists this resolution."""
    _fails(claims.claim_5("quick", 0, expected_coarse_grad=_scaled_Eg(1.05)), "E g scaled by 1.05", "quick")
    assert claims.claim_5("quick", 0, expected_coarse_grad=_scaled_Eg(1.01)).checks[0].value > \
        _BASELINES[(5, "quick")].checks[0].value, "a 1 % error at least raises the z-score"


@pytest.mark.parametrize("oracles, why", [
    (dict(expected_coarse_grad=_scaled_Eg(-1.0)), "E g with its sign flipped"),
    (dict(grad=_scaled_grad(-1.0)), "grad f with its sign flipped"),
    (dict(expected_coarse_grad=_nan_like(P.expected_coarse_grad, 1)), "NaN E g"),
    (dict(grad=_nan_like(P.population_grad, 1)), "NaN grad f"),
])
def test_claim_6_fails_for_a_wrong_direction(tiny, oracles, why):
    _fails(claims.claim_6(tiny, 0, **oracles), why)


def _no_descent(teacher, W0, ste, *, lr, steps, loss=None, **kw):
    """A driver that does not move (lr ignored): f stays at f(W0)."""
    W0 = np.asarray(W0, dtype=float)
    f0 = P.population_loss(teacher, teacher.v_star, W0) if loss is None else loss
    history = History()
    history.record(0, loss=f0)
    history.record(steps, loss=f0)
    return teacher.v_star.copy(), W0.copy(), history


def _no_sgd(Z, y, W0, v0, ste, staircase, sgd, *, seed, eval_data=None, **kw):
    """SGD that never updates: agreement of the initial student."""
    history = History()
    Z_test, y_test = eval_data
    pred = np.argmax(cg.ts_forward(Z_test, v0, W0, staircase).y, axis=1)
    history.record(0, loss=1.0, agreement=np.mean(pred == np.argmax(y_test, axis=1)))
    return np.asarray(v0), np.asarray(W0), history


@pytest.mark.parametrize("oracles, why", [
    (dict(population_descent=_no_descent), "population descent that does not move"),
    (dict(population_descent=lambda *a, **kw: _no_descent(*a, loss=np.nan, **kw)), "NaN loss history"),
    (dict(ts_sgd=_no_sgd), "SGD that does not update"),
])
def test_claim_7_fails_for_a_driver_that_does_not_train(tiny, oracles, why):
    result = _fails(claims.claim_7(tiny, 0, **oracles), why)
    if "sgd" in why.lower():
        assert result.checks[2].passed is False


@pytest.mark.parametrize("oracles, why", [
    (dict(expected_coarse_grad=lambda t, v, W, ste: P.expected_coarse_grad(t, v, W, "relu")),
     "the identity STE's E g computed as the ReLU STE's"),
    (dict(expected_coarse_grad=lambda t, v, W, ste: P.expected_coarse_grad(t, v, W, "identity")),
     "the ReLU STE's E g computed as the identity's"),
    (dict(grad=lambda t, v, W: P.expected_coarse_grad(t, v, W, "identity")), "E g (identity) in place of grad f"),
    (dict(expected_coarse_grad=_nan_like(P.expected_coarse_grad, 1)), "NaN E g"),
])
def test_claim_8_fails_for_a_wrong_expected_coarse_gradient(tiny, oracles, why):
    _fails(claims.claim_8(tiny, 0, **oracles), why)


def _no_training(x, labels, params0, ste, staircase, sgd, *, seed, eval_data=None, **kw):
    """A perceptron 'trainer' that returns its initial weights."""
    acc = lambda x_, y_: float(np.mean(cg.mlp_predict(x_, params0, staircase) == y_))
    history = History()
    record = dict(loss=1.0, accuracy=acc(x, labels))
    if eval_data is not None:
        record["test_accuracy"] = acc(*eval_data)
    history.record(0, **record)
    return params0, history


def _nan_training(*args, **kwargs):
    params, history = mlp_train(*args, **kwargs)
    history.values = {k: [np.nan] * len(v) for k, v in history.values.items()}
    return params, history


@pytest.mark.parametrize("wrong, why", [(_no_training, "no training"), (_nan_training, "NaN accuracies")])
def test_claim_9_fails_for_a_trainer_that_does_not_train(tiny, wrong, why):
    result = _fails(claims.claim_9(tiny, 0, mlp_train=wrong), why)
    assert not result.skipped


def test_every_claim_takes_its_oracles_as_keywords():
    """Every claim exposes what it checks as keyword-only parameters with library defaults."""
    import inspect
    for number in sorted(claims.CLAIMS):
        params = inspect.signature(claims.CLAIMS[number]).parameters
        assert list(params)[:2] == ["preset", "seed"], f"claim {number}: {list(params)}"
        oracles = [p for p in params.values() if p.kind is p.KEYWORD_ONLY]
        assert oracles and all(callable(p.default) for p in oracles), f"claim {number}: {list(params)}"


# ---------------------------------------------------------------------------- claim 6: descent

@st.composite
def in_regime(draw, ste):
    """(teacher, W, at_minimum) with v = v*, every angle in [0, 3pi/4] (or [0, pi) for bits = 1),
    and norms 0.1 to 100 times the teacher's; ``at_minimum[k]`` says w_k = w*_k (w_k ~ w*_k for bits = 1)."""
    bits = draw(st.integers(1, 4))
    alpha = draw(st.sampled_from([1.0, 0.5, 0.25]) | st.floats(0.1, 3.0))
    n, p, K = draw(st.integers(2, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    v_star = rng.standard_normal(p)
    if ste == "relu" and v_star.sum() ** 2 < v_star @ v_star:
        v_star = np.abs(v_star)
    W_star = rng.standard_normal((n, K)) * Staircase(bits).L * alpha / np.sqrt(n)
    # The top angle stays a hair inside the bound, which descent_regime re-derives through arccos.
    top = np.pi - 1e-3 if bits == 1 else claims.THETA_MAX * (1 - 1e-9)
    W = np.empty_like(W_star)
    at_minimum = []
    for k in range(K):
        r_star = np.linalg.norm(W_star[:, k])
        # Left out, because double precision cannot decide the sign there:
        # - points within 1e-6 of a minimizer, where <E g, grad f> is O(distance^2) and drowns in rounding
        #   (exact minimizers are kept and checked apart);
        # - the plateau where w_k is so short that the first threshold alpha / |w_k| lies beyond 10
        #   standard deviations: |grad f| < 1e-21 relative there, and underflows to 0 further out.
        theta = draw(st.sampled_from([0.0, top]) | st.floats(1e-6, top))
        ratio = draw(st.sampled_from([1.0]) | st.floats(-1, 2).map(lambda e: 10.0**e)
                     .filter(lambda r: abs(r - 1) > 1e-6 and (bits == 1 or alpha / (r * r_star) <= 10)))
        if theta == 0.0 and ratio == 1.0:
            W[:, k] = W_star[:, k]                     # exactly, not up to rounding
        else:
            w_hat = W_star[:, k] / r_star
            o = rng.standard_normal(n)
            o -= (o @ w_hat) * w_hat
            o /= np.linalg.norm(o)
            W[:, k] = ratio * r_star * (np.cos(theta) * w_hat + np.sin(theta) * o)
        at_minimum.append(theta == 0.0 and (ratio == 1.0 or bits == 1))
    return P.Teacher(v_star, W_star, Staircase(bits, alpha)), W, np.array(at_minimum)


def _angles(W, W_star):
    cos = np.sum(W * W_star, 0) / (np.linalg.norm(W, axis=0) * np.linalg.norm(W_star, axis=0))
    return np.arccos(np.clip(cos, -1, 1))


@pytest.mark.parametrize("ste", ADMISSIBLE)
@settings(max_examples=80)
@given(data=st.data())
def test_descent_in_regime(ste, data):
    """<E g, grad f> > 0 for admissible STEs, v = v*, whenever W is not a global minimizer and lies
    in the regime of claims.descent_regime. With v fixed, f and E g split into independent class
    terms, so the claim is checked class by class (a sum would let one class hide another)."""
    teacher, W, at_minimum = data.draw(in_regime(ste))
    assert claims.descent_regime(teacher, W, ste)
    g = P.population_grad(teacher, teacher.v_star, W)[1]
    Eg = P.expected_coarse_grad(teacher, teacher.v_star, W, ste)[1]
    stair = teacher.staircase
    scale = np.linalg.norm(teacher.v_star) ** 2 * stair.top
    for k in range(W.shape[1]):
        inner = float(Eg[:, k] @ g[:, k])
        if at_minimum[k] and stair.bits > 1:
            assert np.abs(Eg[:, k]).max() < 1e-12 * scale and np.abs(g[:, k]).max() < 1e-12 * scale
        elif at_minimum[k]:
            assert np.abs(Eg[:, k]).max() < 1e-12 * scale, "bits = 1: E g vanishes along the teacher's ray"
        else:
            assert inner > 0, (f"descent fails in the regime: {ste}, bits={stair.bits}, alpha={stair.alpha}, "
                               f"class {k}, angle={_angles(W, teacher.W_star)[k]:.6g}, "
                               f"|w|/|w*| = {np.linalg.norm(W[:, k]) / np.linalg.norm(teacher.W_star[:, k]):.4g}, "
                               f"<E g_k, grad_k f> = {inner!r}")


def _cosines(example):
    return claims.counterexample_cosines(example)


def _mc_inner(example, ste, seed=3, batches=200, size=2000):
    """Monte Carlo of <g, grad f> from sample coarse gradients (an independent check of the sign)."""
    stair = Staircase(example["bits"], example["alpha"])
    teacher = P.Teacher(example["v_star"], example["W_star"], stair)
    W = np.asarray(example["W"], dtype=float)
    g = P.population_grad(teacher, teacher.v_star, W)[1]

    def stat(Z):
        fwd = cg.ts_forward(Z, teacher.v_star, W, stair)
        y_star = cg.ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
        _, e = cg.ts_loss(fwd.y, y_star)
        return [np.sum(cg.ts_coarse_grad(Z, teacher.v_star, fwd, e, ste, stair).W * g)]
    return monte_carlo(stat, lambda r: r.standard_normal((size, teacher.p, teacher.n)), batches, seed)


def test_finding_F1_relu_overshoot_is_not_descent():
    """F1: relu STE, (sum v*)^2 < |v*|^2, w parallel to w* but 6x too long. The exact inner product
    is negative, and Monte Carlo of sample coarse gradients confirms the sign; the clipped and
    log-tailed STEs stay positive there."""
    cos = _cosines(claims.RELU_OVERSHOOT_COUNTEREXAMPLE)
    assert cos["relu"] < -0.5, cos
    assert cos["clipped_relu"] > 0 and cos["log_tailed_relu"] > 0, cos
    est = _mc_inner(claims.RELU_OVERSHOOT_COUNTEREXAMPLE, "relu")
    assert est.mean[0] + MC_Z * est.stderr[0] < 0, f"MC <g, grad f> = {est.mean[0]} +- {est.stderr[0]}"


def test_finding_F2_antipodal_wedge_defeats_every_admissible_ste():
    """F2: v* > 0, bits 3, theta = pi - 1e-3, |w| = 0.17 |w*|: every admissible STE has
    <E g, grad f> < 0 while the identity STE does not. Monte Carlo confirms the clipped sign."""
    cos = _cosines(claims.ANTIPODAL_WEDGE_COUNTEREXAMPLE)
    for ste in ADMISSIBLE:
        assert cos[ste] < -0.1, cos
    assert cos["identity"] > 0.1, cos
    est = _mc_inner(claims.ANTIPODAL_WEDGE_COUNTEREXAMPLE, "clipped_relu", batches=400, size=5000)
    assert est.mean[0] + MC_Z * est.stderr[0] < 0, f"MC <g, grad f> = {est.mean[0]} +- {est.stderr[0]}"


def test_finding_F3_binary_antipodal_point_is_critical():
    """F3: bits 1, theta = pi exactly: grad f = 0 (a spurious critical point), so the inner
    product is 0 although W is not a global minimizer; strictly positive for theta < pi."""
    teacher = P.Teacher([1.0, 0.5], [[1.0], [0.0]], Staircase(1, 1.0))
    W = np.array([[-2.0], [0.0]])
    g = P.population_grad(teacher, teacher.v_star, W)[1]
    assert np.all(g == 0)
    W_near = np.array([[-2.0], [1e-3]])
    g = P.population_grad(teacher, teacher.v_star, W_near)[1]
    for ste in ADMISSIBLE:
        assert np.sum(P.expected_coarse_grad(teacher, teacher.v_star, W_near, ste)[1] * g) > 0


def test_identity_is_not_a_descent_direction_where_admissible_stes_are():
    """In the regime, at this point (found by random search): cos(E g, grad f) ~ -0.06 for the
    identity STE, ~ +0.998 for the three admissible ones."""
    teacher = P.Teacher([0.99, 0.78, 1.6, 0.34, 0.9], [[2.31], [1.64], [-4.28], [-3.24], [2.39], [-2.1]],
                        Staircase(4, 0.51))
    W = np.array([[-1.48], [0.13], [1.35], [-0.72], [-0.6], [0.38]])
    cos = claims.counterexample_cosines(dict(v_star=teacher.v_star, W_star=teacher.W_star, bits=4, alpha=0.51, W=W))
    assert all(claims.descent_regime(teacher, W, ste) for ste in ADMISSIBLE)
    assert cos["identity"] < -0.03 and min(cos[s] for s in ADMISSIBLE) > 0.99, cos


def test_descent_regime_predicate():
    teacher = P.Teacher([1.0, 1.0], [[1.0, 1.0], [0.0, 1.0]], Staircase(2, 1.0))
    assert claims.descent_regime(teacher, [[1.0, 0.0], [1.0, 1.0]], "relu")
    assert not claims.descent_regime(teacher, [[-1.0, 1.0], [0.1, 1.0]], "relu")        # angle > 3pi/4
    assert not claims.descent_regime(teacher, [[0.0, 1.0], [0.0, 1.0]], "relu")         # w_0 = 0
    negative = P.Teacher([1.0, -1.0], [[1.0], [0.0]], Staircase(2, 1.0))
    assert not claims.descent_regime(negative, [[2.0], [0.0]], "relu")                  # (sum v*)^2 < |v*|^2
    assert claims.descent_regime(negative, [[2.0], [0.0]], "clipped_relu")


# ---------------------------------------------------------------------------- claim 7: convergence

@pytest.mark.slow
@pytest.mark.parametrize("ste", ADMISSIBLE)
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_population_coarse_gradient_descent_reaches_global_minimum(ste, bits):
    rng = np.random.default_rng(100 * bits + len(ste))
    stair = Staircase(bits, 0.7)
    teacher = P.random_teacher(6, 4, 3, stair, rng, v_star=np.abs(rng.standard_normal(4)) + 0.1)
    W0 = rng.standard_normal((6, 3)) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(6)
    _, W, hist = population_descent(teacher, W0, ste, lr=default_population_lr(teacher), steps=6000, tol=1e-9,
                                    record_every=500)
    assert hist["loss"][-1] < 1e-8 * hist["loss"][0], f"{ste}, bits={bits}: f ratio {hist['loss'][-1] / hist['loss'][0]:.2e}"
    assert claims._direction_error(W, teacher.W_star, bits) < 1e-3
    assert np.all(np.diff(hist["loss"]) <= 1e-12 * hist["loss"][0]), "f must decrease along coarse GD here"
    labels = lambda W_: cg.ts_predict(Z, teacher.v_star, W_, stair)
    Z = rng.standard_normal((5000, 4, 6))
    assert np.mean(labels(W) == labels(teacher.W_star)) == 1.0, "perfect classification at the end"


@pytest.mark.slow
@pytest.mark.parametrize("ste", ["clipped_relu", "log_tailed_relu"])
def test_sgd_on_samples_agrees_with_teacher_on_held_out_data(ste):
    rng = np.random.default_rng(7)
    stair = Staircase(2, 1.0)
    teacher = P.random_teacher(8, 6, 4, stair, rng, v_star=np.abs(rng.standard_normal(6)) + 0.2)
    Z, Z_test = rng.standard_normal((20000, 6, 8)), rng.standard_normal((10000, 6, 8))
    y = cg.ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
    y_test = cg.ts_forward(Z_test, teacher.v_star, teacher.W_star, stair).y
    W0 = rng.standard_normal((8, 4)) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(8)
    sgd = SGD(lr=0.5 * default_population_lr(teacher), epochs=20, batch_size=64, momentum=0.9, schedule="cosine")
    _, _, hist = ts_sgd(Z, y, W0, teacher.v_star, ste, stair, sgd, seed=1, eval_data=(Z_test, y_test))
    assert hist["agreement"][-1] >= 0.995, f"{ste}: held-out agreement {hist['agreement'][-1]}"


# ---------------------------------------------------------------------------- the README's claims table
# Tolerance policy (docs/testing.md): the rows, checks, thresholds and verdicts are exact; a measured
# value is exact when it is an integer, a bound (rounding-level values print as "< 1e-13", see
# coarsegrad.cli.ROUNDING_FLOOR) or non-finite, and otherwise agrees to one unit in its last printed
# digit (the table prints 4 significant digits, so two prints of the same number can differ by one
# unit) plus the relative tolerance its row was measured to need below.

#: Extra relative tolerance of a measured value, per (claim number, check) row, beyond one unit in
#: the last printed digit; rows not listed get none. Each entry is SAFETY (10) times the largest
#: relative change measured by ``scripts/measure_spread.py --claims`` (inputs +-4 ulps, one BLAS
#: thread; one-off: OpenBLAS's Prescott kernel), rounded up, for the rows where that exceeds the
#: print resolution (1e-4 relative); docs/testing.md has the measurement.
CLAIMS_TABLE_RTOL = {
    # a finite-difference error is rounding noise amplified by 1/h: 4 ulps on the inputs moved it 5.2 %
    ("4", "max ||FD - grad f|| / ||grad f||"): 0.6,
    # decided by rounding: ceil of values that sit exactly on thresholds in exact arithmetic (0.05
    # became 0.025-0.0833 under 4-ulp inputs and the Prescott kernel): reported, never judged
    ("10", "min accuracy, ceil on rotated bases (rounding fires; S3)"): 7.0,
}

#: Printed values that mean the same bound: an exact 0 is also below the rounding floor (a residual
#: that cancels exactly on one machine prints 0, on another a few ulps, "< 1e-13").
_BELOW_FLOOR = {"0", "< 1e-13"}


def _table_rows(table: str) -> list:
    """A Markdown table's body as lists of cells (``\\|`` inside a cell is not a separator)."""
    import re
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return rows


def _number(cell: str):
    """The float a measured cell prints, or None when the cell is compared as text (blank, a bound,
    an integer, nan)."""
    try:
        x = float(cell)
    except ValueError:
        return None
    return x if np.isfinite(x) and not cell.lstrip("-").isdigit() else None


def _printed_close(got: str, want: str, rtol: float) -> bool:
    """Whether two printed measured values agree: as text, or, both floats, to one unit in the last
    (4th significant) digit of ``want`` plus ``rtol`` relative."""
    a, b = _number(got), _number(want)
    if a is None or b is None:
        return got == want or {got, want} <= _BELOW_FLOOR
    unit = 10.0 ** (np.floor(np.log10(abs(b))) - 3) if b != 0 else 0.0
    return bool(abs(a - b) <= unit * (1 + 1e-9) + rtol * abs(b))


def claims_table_differences(got: str, want: str, rtol=None) -> list:
    """What differs between two ``verify --markdown`` tables under the tolerance policy: a list of
    messages, empty when they agree (``rtol``: per-row tolerances, default :data:`CLAIMS_TABLE_RTOL`)."""
    rtol = CLAIMS_TABLE_RTOL if rtol is None else rtol
    rows_got, rows_want = _table_rows(got), _table_rows(want)
    if len(rows_got) != len(rows_want):
        return [f"{len(rows_got)} rows != {len(rows_want)} rows"]
    problems, claim = [], None
    for i, (g, w) in enumerate(zip(rows_got, rows_want)):
        if len(g) != 5 or len(w) != 5:
            problems.append(f"row {i}: {len(g)} cells != {len(w)} cells")
            continue
        if w[0]:
            claim = w[0].split(".", 1)[0]
        for col, name in ((0, "claim"), (1, "check"), (3, "threshold"), (4, "result")):
            if g[col] != w[col]:
                problems.append(f"row {i} ({w[1]!r}): {name} {g[col]!r} != {w[col]!r}")
        tol = rtol.get((claim, w[1]), 0.0)
        if not _printed_close(g[2], w[2], tol):
            problems.append(f"row {i} (claim {claim}, {w[1]!r}): measured {g[2]!r} != {w[2]!r} (rtol {tol:g} "
                            f"beyond the last printed digit)")
    return problems


def _readme_claims_table() -> str:
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return re.search(r"<!-- claims:start -->\n(.*?)\n<!-- claims:end -->", readme, flags=re.S).group(1)


@pytest.mark.slow
@QUICK_CLAIMS
def test_readme_claims_table_is_what_verify_prints():
    """The README's claims table is `coarsegrad verify --quick --markdown` (seed 0): the same rows,
    checks, thresholds and verdicts, exact; measured values under the tolerance policy."""
    from coarsegrad.cli import format_claims_markdown
    results = [_claim(k) for k in sorted(claims.CLAIMS)]
    problems = claims_table_differences(format_claims_markdown(results), _readme_claims_table())
    assert not problems, ("README claims table is stale: paste the output of coarsegrad verify --quick "
                          "--markdown\n" + "\n".join(problems))


def _edited(table: str, row: int, col: int, new: str) -> str:
    lines = table.strip().splitlines()
    cells = lines[2 + row].split(" | ")
    cells[col] = ("| " if col == 0 else "") + new.replace("|", "\\|") + (" |" if col == 4 else "")
    lines[2 + row] = " | ".join(cells)
    return "\n".join(lines)


def test_claims_table_comparison_catches_changes():
    """Negative controls for the README-table comparison: a row, a check, a threshold, a verdict or
    a real value that changes beyond its tolerance fails it; a value moved by one unit in its last
    printed digit (what the measured perturbations do at most) passes, and so does a row's
    measured tolerance."""
    table = _readme_claims_table()
    rows = _table_rows(table)
    assert claims_table_differences(table, table) == []
    # the first row printing a non-integer float, e.g. claim 3's z-score
    r = next(i for i, c in enumerate(rows) if _number(c[2]) is not None and c[3])
    x = float(rows[r][2])
    unit = 10.0 ** (np.floor(np.log10(abs(x))) - 3)
    assert claims_table_differences(_edited(table, r, 2, f"{x + unit:.4g}"), table) == []
    assert claims_table_differences(_edited(table, r, 2, f"{x + 3 * unit:.4g}"), table) != []
    assert claims_table_differences(_edited(table, r, 2, f"{x * 1.01:.4g}"), table) != []
    claim = next(c[0] for c in rows[r::-1] if c[0]).split(".", 1)[0]
    loose = {(claim, rows[r][1]): 0.02}
    assert claims_table_differences(_edited(table, r, 2, f"{x * 1.01:.4g}"), table, rtol=loose) == []
    assert claims_table_differences(_edited(table, r, 2, f"{x * 1.03:.4g}"), table, rtol=loose) != []
    changed = {
        "rows": "\n".join(table.strip().splitlines()[:-1]),               # a row dropped
        "check": _edited(table, r, 1, rows[r][1] + " (changed)"),          # a check renamed
        "threshold": _edited(table, r, 3, rows[r][3] + "0"),               # a threshold
        "result": _edited(table, r, 4, "**FAIL**"),                        # a verdict
        "measured '1'": _edited(table, 0, 2, "1"),                         # an exact count
        "measured '< 1e-13'": _edited(table, r, 2, "< 1e-13"),             # a value printed as a bound
    }
    for what, bad in changed.items():
        problems = claims_table_differences(bad, table)
        assert len(problems) == 1 and what in problems[0], (what, problems)
    # an exact 0 and the rounding bound agree (both say |x| < 1e-13); "1" and the bound do not
    z = next(i for i, c in enumerate(rows) if c[2] == "0")
    assert claims_table_differences(_edited(table, z, 2, "< 1e-13"), table) == []
    o = next(i for i, c in enumerate(rows) if c[2] == "1")
    assert claims_table_differences(_edited(table, o, 2, "< 1e-13"), table) != []
    # every tolerated row is in the table, so no entry is stale
    keys, claim = set(), None
    for c in rows:
        claim = c[0].split(".", 1)[0] if c[0] else claim
        keys.add((claim, c[1]))
    assert set(CLAIMS_TABLE_RTOL) <= keys, set(CLAIMS_TABLE_RTOL) - keys


# ---------------------------------------------------------------------------- figure 10: the atlas

def test_descent_atlas_agrees_with_the_claim_and_the_regime():
    """Figure 10's cosines are claim 6's class cosines at the same points, and positive inside
    claims.descent_regime for every admissible STE (tiny grid: bits 1 and 2)."""
    from coarsegrad import figures as F
    data = F.descent_atlas_data("tiny")
    theta, ratio = np.asarray(data["theta"]), np.asarray(data["ratio"])
    for panel in data["panels"]:
        cos = np.array([[np.nan if c is None else c for c in row] for row in panel["cos"]], dtype=float)
        stair = F.experiment_staircase(panel["bits"])
        teacher = P.Teacher(F.ATLAS_V_STAR, [[F.TOP], [0.0]], stair)
        for i, j in [(1, 0), (len(theta) // 2, len(ratio) - 1), (len(theta) - 2, 1)]:
            W = F.TOP * ratio[j] * np.array([[np.cos(theta[i])], [np.sin(theta[i])]])
            want = claims._class_cosines(teacher, W, panel["ste"])[0]
            assert cos[i, j] == pytest.approx(want, rel=1e-12, abs=1e-15), (panel["ste"], panel["bits"], i, j)
            inside = claims.descent_regime(teacher, W, panel["ste"])
            if panel["ste"] in ADMISSIBLE and inside:
                assert cos[i, j] > 0, (panel["ste"], panel["bits"], theta[i], ratio[j])
        if panel["ste"] in ADMISSIBLE:
            bound = np.pi if panel["bits"] == 1 else claims.THETA_MAX
            in_regime = cos[(theta < bound) | ((theta <= bound) & (panel["bits"] > 1))]
            assert np.all(in_regime[np.isfinite(in_regime)] > 0), (panel["ste"], panel["bits"])
