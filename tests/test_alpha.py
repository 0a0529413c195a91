"""Alpha-gradient rules (coarsegrad.alpha) and the coarse alpha-gradient of both networks: against
SPEC §9 written as a scalar loop, per-sample loops, and finite differences of the sample loss in alpha."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from coarsegrad import Staircase
from coarsegrad.alpha import ALPHA_RULES, AlphaRule, get_alpha_rule, register_alpha_rule, unregister_alpha_rule
from coarsegrad.nets import (mlp_alpha_grad, mlp_forward, mlp_init, mlp_loss, ts_alpha_grad, ts_forward,
                             ts_loss)
from coarsegrad.train import SGD, mlp_train
from reference import (LOOP_RTOL, ROUNDING_OPS, alpha_rule_loop, mlp_alpha_grad_loop, rel_err,
                       ts_alpha_grad_loop)
from strategies import seeds

staircases = st.builds(Staircase, st.integers(1, 4), st.floats(0.05, 5.0), st.sampled_from(["ceil", "round"]))


def _marks(s: Staircase) -> np.ndarray:
    """Every kink of every rule (0, thresholds, L alpha) with its float neighbours, and far points."""
    m = np.concatenate([[0.0, s.top], s.thresholds])
    return np.concatenate([m, np.nextafter(m, -np.inf), np.nextafter(m, np.inf), [-1e9, 1e9]])


@given(s=staircases, seed=seeds)
def test_rules_match_spec_loop_including_kinks(s, seed):
    z = np.concatenate([_marks(s), np.random.default_rng(seed).uniform(-s.top, 2 * s.top, 40)])
    for name in ALPHA_RULES:
        got = get_alpha_rule(name)(z, s)
        want = np.array([alpha_rule_loop(float(x), name, s) for x in z])
        bad = got != want
        assert not bad.any(), f"rule {name} at {s}: z = {z[bad][:5]}, got {got[bad][:5]}, SPEC loop {want[bad][:5]}"
    np.testing.assert_array_equal(get_alpha_rule("ae")(z, s), s.d_alpha(z), err_msg="ae must be Staircase.d_alpha")


@pytest.mark.parametrize("convention", ["ceil", "round"])
def test_stated_kink_values(convention):
    s = Staircase(2, 0.5, convention)           # L = 3, L alpha = 1.5
    at = np.array([0.0, 1.5, np.nextafter(1.5, 2.0)])
    for name, want in {"ae": [0, 3, 3], "pact": [0, 0, 3], "min": [0, 1, 3], "mean": [0, 2, 3]}.items():
        np.testing.assert_array_equal(get_alpha_rule(name)(at, s), want, err_msg=f"{name}: r(0), r(L alpha), r(L alpha+)")


@pytest.mark.parametrize("convention", ["ceil", "round"])
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_min_rule_jumps_at_the_top_level_not_at_alpha(bits, convention):
    """'min': r = 1 on (0, L alpha], L beyond -- the second jump sits at L alpha, not at alpha (a plausible bug
    that claim 13 alone did not catch). Checked on a grid between alpha and L alpha and in the jumps themselves."""
    s = Staircase(bits, 0.37, convention)
    z = np.linspace(s.alpha, s.top, 101)[1:]                      # (alpha, L alpha]
    np.testing.assert_array_equal(get_alpha_rule("min")(z, s), np.ones_like(z))
    np.testing.assert_array_equal(get_alpha_rule("min")(np.array([np.nextafter(s.top, np.inf)]), s), [s.L])
    p, h = get_alpha_rule("min").jumps_of(s)
    assert p.tolist() == [0.0, s.top] and h.tolist() == [1.0, s.L - 1.0]


def test_rules_that_return_nothing_raise_or_give_nan_heights_are_named():
    """Issue 17: alpha rules returning None / raising / NaN heights gave vague errors; each names the rule and the
    contract. A rule wrong at one bit-width only (here 4) is caught where it enters (every bit-width is probed)."""
    with pytest.raises(TypeError, match=r"alpha rule 'none': jumps\(.*\) returned None; jumps\(staircase, dtype\) "
                                        r"must return \(positions, heights\)"):
        AlphaRule("none", lambda s, dt: None)
    with pytest.raises(TypeError, match=r"alpha rule 'boom': .* raised ZeroDivisionError"):
        AlphaRule("boom", lambda s, dt: 1 / 0)
    with pytest.raises(ValueError, match=r"alpha rule 'nan': heights must be finite numbers"):
        AlphaRule("nan", lambda s, dt: ([0.0], [np.nan]))
    with pytest.raises(TypeError, match=r"alpha rule 'text': .*could not convert"):
        AlphaRule("text", lambda s, dt: (["a"], [1.0]))
    with pytest.raises(ValueError, match=r"must sum to L = 15 .*bits=4"):
        AlphaRule("four", lambda s, dt: ([0.0], [float(s.L)]) if s.bits != 4 else ([0.0], [1.0]))


def test_custom_rule_and_bad_rules():
    half = register_alpha_rule("test_half", lambda s, dt: ([s.top / 2], [float(s.L)]))
    try:
        assert get_alpha_rule("test_half") is half
        np.testing.assert_array_equal(half(np.array([0.7, 0.8]), Staircase(2, 0.5)), [0.0, 3.0])
        with pytest.raises(ValueError, match="already registered"):
            register_alpha_rule("test_half", lambda s, dt: ([0.0], [float(s.L)]))
    finally:
        unregister_alpha_rule("test_half")
    with pytest.raises(ValueError, match="must sum to L"):
        AlphaRule("bad_sum", lambda s, dt: ([0.0], [1.0]))
    with pytest.raises(ValueError, match=r"lie in \[0, L alpha\]"):
        AlphaRule("bad_position", lambda s, dt: ([-0.1], [float(s.L)]))
    with pytest.raises(ValueError, match="built-in"):
        register_alpha_rule("ae", lambda s, dt: ([0.0], [float(s.L)]))
    with pytest.raises(ValueError, match="registered rules are"):
        get_alpha_rule("nope")


# ---------------------------------------------------------------------------- the networks

def _ts_case(seed, bits, convention):
    rng = np.random.default_rng(seed)
    N, p, n, K = 3, 3, 4, 2
    s = Staircase(bits, float(rng.uniform(0.2, 1.5)), convention)
    Z = rng.standard_normal((N, p, n))
    W = rng.standard_normal((n, K)) * s.top / 2
    v = rng.standard_normal(p)
    y_star = rng.standard_normal((N, K)) * s.top
    return s, Z, v, W, y_star


@given(seed=seeds, bits=st.integers(1, 3), convention=st.sampled_from(["ceil", "round"]),
       rule=st.sampled_from(ALPHA_RULES))
@settings(max_examples=30)   # each example runs a Python triple loop over samples, classes and rows
def test_ts_alpha_grad_matches_loop(seed, bits, convention, rule):
    s, Z, v, W, y_star = _ts_case(seed, bits, convention)
    fwd = ts_forward(Z, v, W, s)
    _, e = ts_loss(fwd.y, y_star)
    got = ts_alpha_grad(fwd, v, e, rule, s)
    want = ts_alpha_grad_loop(Z, v, W, y_star, rule, s)
    assert rel_err(got, want) < LOOP_RTOL, f"ts alpha-grad ({rule}, {s}): vectorized {got!r} vs loop {want!r}"


@given(seed=seeds, bits=st.integers(1, 3), convention=st.sampled_from(["ceil", "round"]),
       rule=st.sampled_from(ALPHA_RULES))
@settings(max_examples=30)   # a Python loop over samples and hidden units per example
def test_mlp_alpha_grad_matches_loop(seed, bits, convention, rule):
    rng = np.random.default_rng(seed)
    s = Staircase(bits, float(rng.uniform(0.2, 1.5)), convention)
    x = rng.standard_normal((4, 3))
    params = mlp_init(3, 5, 3, rng, staircase=s)
    params = params._replace(b=rng.standard_normal(5) * 0.3)
    fwd = mlp_forward(x, params, s)
    _, delta = mlp_loss(fwd.f, rng.integers(0, 3, 4))
    got = mlp_alpha_grad(fwd, params, delta, rule, s)
    want = mlp_alpha_grad_loop(x, params, delta, rule, s)
    assert rel_err(got, want) < LOOP_RTOL, f"mlp alpha-grad ({rule}, {s}): vectorized {got!r} vs loop {want!r}"


def _fd_away_from_jumps(loss_at, pre, s, h):
    """Central difference of ``loss_at(alpha)`` when no pre-activation crosses a threshold on
    ``[alpha - h, alpha + h]`` (there the loss is a polynomial of degree 2 in alpha, so the central
    difference is exact up to rounding); None otherwise."""
    lo, hi = s.with_alpha(s.alpha - h), s.with_alpha(s.alpha + h)
    if not (np.array_equal(lo.d_alpha(pre), s.d_alpha(pre)) and np.array_equal(hi.d_alpha(pre), s.d_alpha(pre))):
        return None
    return (loss_at(s.alpha + h) - loss_at(s.alpha - h)) / (2 * h)


@given(seed=seeds, bits=st.integers(1, 4), convention=st.sampled_from(["ceil", "round"]))
def test_ae_is_the_sample_derivative_in_alpha(seed, bits, convention):
    """Both networks: the 'ae' coarse alpha-gradient equals the derivative of the sample loss in alpha
    to rounding, wherever no pre-activation sits within h of a (moving) threshold."""
    h = 1e-4
    eps = np.finfo(np.float64).eps
    s, Z, v, W, y_star = _ts_case(seed, bits, convention)

    def ts_l(a):
        return ts_loss(ts_forward(Z, v, W, s.with_alpha(a)).y, y_star)[0]
    fwd = ts_forward(Z, v, W, s)
    fd = _fd_away_from_jumps(ts_l, fwd.h, s, h)
    if fd is not None:
        g = ts_alpha_grad(fwd, v, ts_loss(fwd.y, y_star)[1], "ae", s)
        bound = 1.5 * ROUNDING_OPS * eps * abs(ts_l(s.alpha)) / h + 1e-12 * abs(g)
        assert abs(fd - g) <= bound, f"ts: d loss/d alpha by FD {fd!r} vs ae {g!r} (bound {bound:.2e}, {s})"
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 3))
    params, labels = mlp_init(3, 5, 3, rng, staircase=s), rng.integers(0, 3, 6)

    def mlp_l(a):
        return mlp_loss(mlp_forward(x, params, s.with_alpha(a)).f, labels, "squared")[0]
    fwd = mlp_forward(x, params, s)
    fd = _fd_away_from_jumps(mlp_l, fwd.h, s, h)
    if fd is not None:
        g = mlp_alpha_grad(fwd, params, mlp_loss(fwd.f, labels, "squared")[1], "ae", s)
        bound = 1.5 * ROUNDING_OPS * eps * abs(mlp_l(s.alpha)) / h + 1e-12 * abs(g)
        assert abs(fd - g) <= bound, f"mlp: d loss/d alpha by FD {fd!r} vs ae {g!r} (bound {bound:.2e}, {s})"


def test_fd_check_has_power_negative_control():
    """The finite-difference check above catches a wrong rule: 'mean' is not the sample derivative."""
    s, Z, v, W, y_star = _ts_case(7, 2, "ceil")
    fwd = ts_forward(Z, v, W, s)
    fd = _fd_away_from_jumps(lambda a: ts_loss(ts_forward(Z, v, W, s.with_alpha(a)).y, y_star)[0], fwd.h, s, 1e-4)
    assert fd is not None
    wrong = ts_alpha_grad(fwd, v, ts_loss(fwd.y, y_star)[1], "mean", s)
    assert abs(fd - wrong) > 1e-3 * abs(fd), "the FD check would not tell 'mean' from the exact derivative"


# ---------------------------------------------------------------------------- training

def test_mlp_train_learns_alpha_and_zero_alpha_lr_is_fixed_training():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    s = Staircase(2, 0.6)
    p0 = mlp_init(2, 8, 2, 1, staircase=s)
    sgd = SGD(lr=0.1, epochs=3, batch_size=16, momentum=0.9)
    fixed, h_fixed = mlp_train(x, y, p0, "clipped_relu", s, sgd, seed=1)
    same, h_same = mlp_train(x, y, p0, "clipped_relu", s, sgd, seed=1, learn_alpha="ae", alpha_lr=0.0)
    for a, b in zip(fixed, same):
        np.testing.assert_array_equal(a, b, err_msg="alpha_lr = 0 must reproduce fixed-alpha training bit for bit")
    np.testing.assert_array_equal(h_same["alpha"], 0.6)
    _, h = mlp_train(x, y, p0, "clipped_relu", s, sgd, seed=1, learn_alpha="mean")
    assert h["alpha"][0] == 0.6 and h["alpha"][-1] != 0.6 and np.all(h["alpha"] >= 1e-3)
    with pytest.raises(ValueError, match="learn_alpha needs the staircase"):
        mlp_train(x, y, p0, "relu", s, sgd, seed=1, learn_alpha="ae", activation=lambda z: np.maximum(z, 0))


def test_cli_train_learn_alpha(capsys):
    from coarsegrad.cli import main
    assert main(["train", "--data", "blobs", "--epochs", "2", "--learn-alpha", "pact", "--quiet"]) == 0
    assert "learned alpha" in capsys.readouterr().out
    assert main(["train", "--data", "blobs", "--epochs", "1", "--float", "--learn-alpha", "ae", "--quiet"]) != 0
