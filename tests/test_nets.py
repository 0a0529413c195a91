"""Both networks: vectorized coarse gradients vs per-sample loops, backward algebra vs
finite differences on smooth networks, piecewise constancy, and bad input."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import coarsegrad as cg
from coarsegrad.nets import LOSSES
from reference import (LOOP_RTOL, check_directional, mlp_grads_loop, rel_err, sigma_loop, ts_grads_loop)
from strategies import mlp_problems, seeds, ts_problems

BUILTIN = ["identity", "relu", "clipped_relu", "log_tailed_relu"]
# A smooth STE (softplus / logistic) so the finite-difference checks have no kink at all.
SOFTPLUS = cg.STE("softplus", lambda z, s: np.logaddexp(0, z), lambda z, s: 0.5 * (1 + np.tanh(z / 2)))


# ---------------------------------------------------------------------------- teacher-student

@pytest.mark.parametrize("ste", BUILTIN)
@given(prob=ts_problems())
def test_ts_coarse_grad_matches_loop(ste, prob):
    Z, v, W, y_star, stair = (prob[k] for k in ("Z", "v", "W", "y_star", "staircase"))
    fwd = cg.ts_forward(Z, v, W, stair)
    loss, e = cg.ts_loss(fwd.y, y_star)
    g = cg.ts_coarse_grad(Z, v, fwd, e, ste, stair)
    assert isinstance(g, cg.TSGrads) and g.v.shape == v.shape and g.W.shape == W.shape
    g_v, g_W = g
    loss_ref, g_v_ref, g_W_ref = ts_grads_loop(Z, v, W, y_star, cg.get_ste(ste), stair)
    assert abs(loss - loss_ref) <= LOOP_RTOL * max(1.0, abs(loss_ref)), f"ts loss vs loop: {loss} vs {loss_ref}"
    err = rel_err([g_v, g_W], [g_v_ref, g_W_ref])
    assert err < LOOP_RTOL, f"ts coarse grad vs loop ({ste}, {stair}): rel err {err:.2e}"


@pytest.mark.parametrize("ste", BUILTIN + [SOFTPLUS])
@given(prob=ts_problems(), seed=seeds)
def test_ts_backward_is_gradient_of_smooth_network(ste, prob, seed):
    """With mu in the forward pass, ts_coarse_grad is the exact gradient: check by central differences."""
    ste = cg.get_ste(ste)
    Z, v, W, y_star, stair = (prob[k] for k in ("Z", "v", "W", "y_star", "staircase"))
    act = lambda h: ste.mu(h, stair)

    def loss_of(x):
        return cg.ts_loss(cg.ts_forward(Z, x[0], x[1], stair, activation=act).y, y_star)[0]

    fwd = cg.ts_forward(Z, v, W, stair, activation=act)
    _, e = cg.ts_loss(fwd.y, y_star)
    g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, ste, stair)
    check_directional(loss_of, [g_v, g_W], [v, W], np.random.default_rng(seed),
                      what=f"ts smooth net, {ste.name}, {stair}")


@given(prob=ts_problems(), seed=seeds)
def test_ts_sample_loss_is_piecewise_constant_in_W(prob, seed):
    """Finite differences of the quantized loss in W are exactly 0; in v they are the exact g_v."""
    Z, v, W, y_star, stair = (prob[k] for k in ("Z", "v", "W", "y_star", "staircase"))
    rng = np.random.default_rng(seed)
    loss = lambda v_, W_: cg.ts_loss(cg.ts_forward(Z, v_, W_, stair).y, y_star)[0]
    h = 1e-9 * np.abs(W).max()
    for _ in range(3):
        U = rng.standard_normal(W.shape)
        assert loss(v, W + h * U) - loss(v, W - h * U) == 0.0, "quantized loss changed under a tiny move of W"
    fwd = cg.ts_forward(Z, v, W, stair)
    g_v = cg.ts_coarse_grad(Z, v, fwd, cg.ts_loss(fwd.y, y_star)[1], "relu", stair).v
    check_directional(lambda x: loss(x[0], W), [g_v], [v], rng, what="ts loss in v (exact gradient)")


# ---------------------------------------------------------------------------- perceptron

@pytest.mark.parametrize("ste", BUILTIN)
@pytest.mark.parametrize("kind", LOSSES)
@given(prob=mlp_problems(), freeze=st.booleans())
def test_mlp_coarse_grad_matches_loop(ste, kind, prob, freeze):
    x, params, labels, stair = (prob[k] for k in ("x", "params", "labels", "staircase"))
    fwd = cg.mlp_forward(x, params, stair)
    loss, delta = cg.mlp_loss(fwd.f, labels, loss=kind)
    grads = cg.mlp_coarse_grad(x, params, fwd, delta, ste, stair, freeze_second_layer=freeze)
    loss_ref, grads_ref = mlp_grads_loop(x, params, labels, cg.get_ste(ste), stair, kind)
    if freeze:
        grads_ref = (grads_ref[0], grads_ref[1], 0 * grads_ref[2], 0 * grads_ref[3])
    assert abs(loss - loss_ref) <= LOOP_RTOL * max(1.0, abs(loss_ref)), f"mlp {kind} loss vs loop: {loss} vs {loss_ref}"
    for name, got, want in zip(("W", "b", "V", "c"), grads, grads_ref):
        assert got.shape == want.shape
        err = rel_err(got, want)
        assert err < LOOP_RTOL, f"mlp d{name} vs loop ({ste}, {kind}, {stair}): rel err {err:.2e}"


@pytest.mark.parametrize("ste", BUILTIN + [SOFTPLUS])
@pytest.mark.parametrize("kind", LOSSES)
@given(prob=mlp_problems(), seed=seeds)
def test_mlp_backward_is_gradient_of_smooth_network(ste, kind, prob, seed):
    ste = cg.get_ste(ste)
    x, params, labels, stair = (prob[k] for k in ("x", "params", "labels", "staircase"))
    act = lambda h: ste.mu(h, stair)
    # The network is smooth only away from mu's kinks (0 and L alpha for the ReLU family): a pre-activation
    # within the stencil's reach of one (4 steps of 1e-6 along u ~ N(0, 1): |dh| < 1e-4 here) makes the
    # finite difference cross it (found by hypothesis 6.70: h = 2e-7 at alpha = 1.5e-3, relu).
    if ste.name in ("relu", "clipped_relu", "log_tailed_relu"):
        pre = x @ params.W.T + params.b
        assume(np.min(np.abs(pre[..., None] - np.array([0.0, stair.top]))) > 1e-4 * (1 + np.max(np.abs(x))))

    def loss_of(p):
        return cg.mlp_loss(cg.mlp_forward(x, cg.MLPParams(*p), stair, activation=act).f, labels, loss=kind)[0]

    fwd = cg.mlp_forward(x, params, stair, activation=act)
    _, delta = cg.mlp_loss(fwd.f, labels, loss=kind)
    grads = cg.mlp_coarse_grad(x, params, fwd, delta, ste, stair)
    check_directional(loss_of, list(grads), list(params), np.random.default_rng(seed),
                      what=f"mlp smooth net, {ste.name}, {kind}, {stair}")


@given(prob=mlp_problems(), seed=seeds)
def test_mlp_sample_loss_is_piecewise_constant_in_first_layer(prob, seed):
    x, params, labels, stair = (prob[k] for k in ("x", "params", "labels", "staircase"))
    rng = np.random.default_rng(seed)
    W, b, V, c = params
    loss = lambda p: cg.mlp_loss(cg.mlp_forward(x, cg.MLPParams(*p), stair).f, labels)[0]
    h = 1e-9 * max(np.abs(W).max(), np.abs(b).max())
    for _ in range(3):
        dW, db = rng.standard_normal(W.shape), rng.standard_normal(b.shape)
        assert loss((W + h * dW, b + h * db, V, c)) == loss((W - h * dW, b - h * db, V, c)), \
            "quantized loss changed under a tiny move of (W, b)"
    fwd = cg.mlp_forward(x, params, stair)
    g = cg.mlp_coarse_grad(x, params, fwd, cg.mlp_loss(fwd.f, labels)[1], "relu", stair)
    check_directional(lambda p: loss((W, b, p[0], p[1])), [g.V, g.c], [V, c], rng,
                      what="mlp loss in (V, c) (exact gradient)")


def test_cross_entropy_is_stable_for_huge_logits():
    f = np.array([[1e6, 0.0, -1e6], [3.0, 3.0, 3.0]])
    loss, delta = cg.mlp_loss(f, [0, 2])
    assert np.isfinite(loss) and np.isfinite(delta).all()
    np.testing.assert_allclose(loss, (0.0 + np.log(3)) / 2)
    np.testing.assert_allclose(delta.sum(axis=1), 0, atol=1e-15)


def _first_max(scores, tol=0.0):
    """Index of the largest score, the smallest index among ties (within ``tol``), by a loop."""
    best = 0
    for k in range(1, len(scores)):
        if scores[k] > scores[best] + tol:
            best = k
    return best


def _check_predictions(pred, scores, what):
    """``pred`` must be the reference's first maximum wherever the top two scores are apart by more than
    rounding; where they are that close either class of the near-tie is accepted."""
    for s, row in enumerate(scores):
        scale = np.max(np.abs(row)) + 1.0
        top = sorted(row)[-2:] if len(row) > 1 else [row[0] - 1.0, row[0]]
        if top[1] - top[0] > 1e-9 * scale:
            assert pred[s] == _first_max(row), f"{what}: sample {s}, scores {row}, predicted {pred[s]}"
        else:
            assert row[pred[s]] >= np.max(row) - 1e-9 * scale, f"{what}: sample {s}, scores {row}, predicted {pred[s]}"


@given(prob=mlp_problems())
def test_predict_is_the_first_maximum_of_the_logits(prob):
    """mlp_predict against a per-sample loop: h = W x + b, sigma from its definition (sigma_loop),
    f = V sigma(h) + c, first maximal class."""
    x, params, stair = (prob[k] for k in ("x", "params", "staircase"))
    W, b, V, c = (np.asarray(a, dtype=np.float64) for a in params)
    scores = []
    for xs in np.asarray(x, dtype=np.float64):
        h = [sum(W[j, i] * xs[i] for i in range(W.shape[1])) + b[j] for j in range(W.shape[0])]
        a = sigma_loop(np.array(h), stair)
        scores.append([sum(V[k, j] * a[j] for j in range(V.shape[1])) + c[k] for k in range(V.shape[0])])
    _check_predictions(cg.mlp_predict(x, params, stair), scores, "mlp_predict")


def test_predict_ties_go_to_the_smallest_class():
    """Classes 1 and 2 with identical weights tie on every input: class 1 wins over 2; with class 0
    made equal too, class 0 wins."""
    rng = np.random.default_rng(5)
    stair = cg.Staircase(2, 0.5)
    p = cg.mlp_init(3, 8, 3, rng, staircase=stair)
    V, c = p.V.copy(), np.array([-100.0, 1.0, 1.0])
    V[2] = V[1]
    x = rng.standard_normal((50, 3))
    assert np.all(cg.mlp_predict(x, p._replace(V=V, c=c), stair) == 1)
    V[0], c[0] = V[1], 1.0
    assert np.all(cg.mlp_predict(x, p._replace(V=V, c=c), stair) == 0)
    Z = rng.standard_normal((40, 4, 3))
    w = rng.standard_normal((3, 1))
    W = np.hstack([-10 * w, w, w])                 # y_1 = y_2 on every sample
    pred = cg.ts_predict(Z, np.abs(rng.standard_normal(4)), W, stair)
    assert set(pred.tolist()) <= {0, 1}, "a tie between classes 1 and 2 goes to 1"


def test_float32_is_preserved_end_to_end():
    rng = np.random.default_rng(1)
    stair = cg.Staircase(2, 0.5)
    p = cg.mlp_init(5, 7, 3, rng, staircase=stair, dtype=np.float32)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    fwd = cg.mlp_forward(x, p, stair)
    _, delta = cg.mlp_loss(fwd.f, [0, 1, 2, 0])
    g = cg.mlp_coarse_grad(x, p, fwd, delta, "clipped_relu", stair)
    assert {a.dtype for a in (*fwd, delta, *g)} == {np.dtype(np.float32)}


def test_mlp_init_is_seeded_and_shaped():
    a, b = cg.mlp_init(4, 6, 3, 7), cg.mlp_init(4, 6, 3, np.random.default_rng(7))
    for u, w in zip(a, b):
        np.testing.assert_array_equal(u, w)
    assert [t.shape for t in a] == [(6, 4), (6,), (3, 6), (3,)]
    # V ~ N(0, 1/(m (L alpha)^2)): the same draw, scaled by the top level of the staircase
    c = cg.mlp_init(4, 6, 3, 7, staircase=cg.Staircase(3, 0.5))
    np.testing.assert_allclose(c.V * 3.5, a.V * 3.0, rtol=1e-15)
    np.testing.assert_array_equal(c.W, a.W)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        cg.mlp_init(4, 6, 3, 7, dtype=np.int64)
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        cg.mlp_init(4, 6, 3, 7, staircase=(2, 1.0))


@given(prob=ts_problems())
def test_ts_predict_is_the_first_maximum_of_the_outputs(prob):
    """ts_predict against a per-sample loop: y_k = sum_i v_i sigma(z_i . w_k) with sigma_loop."""
    Z, v, W, stair = (prob[k] for k in ("Z", "v", "W", "staircase"))
    Z, v, W = (np.asarray(a, dtype=np.float64) for a in (Z, v, W))
    scores = [[sum(v[i] * sigma_loop(np.array([Zs[i] @ W[:, k]]), stair)[0] for i in range(len(v)))
               for k in range(W.shape[1])] for Zs in Z]
    _check_predictions(cg.ts_predict(Z, v, W, stair), scores, "ts_predict")


# ---------------------------------------------------------------------------- bad input

def _mlp_setup():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 3)), cg.mlp_init(3, 5, 2, 0), np.array([0, 1, 1, 0])


@pytest.mark.parametrize("mutate, exc, match", [
    (lambda x, p, y: (x[:, :2], p, y), ValueError, r"x has shape \(4, 2\).*axis 1 must have length 3"),
    (lambda x, p, y: (x[0], p, y), ValueError, r"x must be a 2-D array.*for one input pass x\[None\]"),
    (lambda x, p, y: (np.where(x > 1, np.nan, x), p, y), ValueError, "x contains .* non-finite"),
    (lambda x, p, y: (x[:0], p, y[:0]), ValueError, "x is empty"),
    (lambda x, p, y: (x, p._replace(W=p.W * np.inf), y), ValueError, "params.W contains"),
    (lambda x, p, y: (x, p._replace(b=p.b[:2]), y), ValueError, "params.b has shape"),
    (lambda x, p, y: (x, p._replace(V=p.V[:, :2]), y), ValueError, "params.V has shape"),
    (lambda x, p, y: (x, p._replace(c=p.c[:1]), y), ValueError, "params.c has shape"),
    (lambda x, p, y: (x, [1, 2], y), TypeError, "params must be an MLPParams"),
    (lambda x, p, y: (x, p, np.array([0, 1, 2, 0])), ValueError, r"labels must lie in \[0, 1\] for 2 classes; found label 2"),
    (lambda x, p, y: (x, p, np.array([0, -1, 1, 0])), ValueError, "found label -1"),
    (lambda x, p, y: (x, p, y[:3]), ValueError, "labels has 3 labels but the batch has 4"),
    (lambda x, p, y: (x, p, np.array([0.5, 1, 1, 0])), TypeError, "integer class labels"),
    (lambda x, p, y: (x, p, np.array(["a", "b", "a", "b"])), TypeError, "integer class labels"),
])
def test_mlp_bad_input(mutate, exc, match):
    x, p, y = mutate(*_mlp_setup())
    with pytest.raises(exc, match=match):
        fwd = cg.mlp_forward(x, p, cg.Staircase(2, 1.0))
        cg.mlp_loss(fwd.f, y)


def test_mlp_bad_options():
    x, p, y = _mlp_setup()
    stair = cg.Staircase(2, 1.0)
    fwd = cg.mlp_forward(x, p, stair)
    with pytest.raises(ValueError, match="loss must be one of cross_entropy, squared"):
        cg.mlp_loss(fwd.f, y, "logistic")
    with pytest.raises(ValueError, match="loss must be one of cross_entropy, squared"):
        cg.mlp_loss(fwd.f, y, loss="logistic")
    _, delta = cg.mlp_loss(fwd.f, y)
    with pytest.raises(ValueError, match="unknown STE"):
        cg.mlp_coarse_grad(x, p, fwd, delta, "relux", stair)
    with pytest.raises(ValueError, match="do not belong to the same batch"):
        cg.mlp_coarse_grad(x[:2], p, fwd, delta[:2], "relu", stair)
    with pytest.raises(ValueError, match="bits must be an integer in"):
        cg.mlp_forward(x, p, cg.Staircase(0, 1.0))
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        cg.mlp_forward(x, p, cg.Staircase(2, -1.0))
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        cg.mlp_forward(x, p, 2)
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        cg.mlp_coarse_grad(x, p, fwd, delta, "relu", (2, 1.0))
    with pytest.raises(ValueError, match="alpha"):
        cg.mlp_forward(x.astype(np.float32), p, cg.Staircase(2, 1e-46))   # alpha rounds to 0 in float32
    with pytest.raises(ValueError, match="must act elementwise"):
        cg.mlp_forward(x, p, stair, activation=lambda h: h.sum(axis=1))
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        cg.mlp_init(3, 0, 2, 0)
    with pytest.raises(TypeError, match="seed must be an int"):
        cg.mlp_init(3, 4, 2, "seed")


@pytest.mark.parametrize("args, exc, match", [
    (lambda Z, v, W: (Z[0], v, W), ValueError, r"Z must be a 3-D array.*pass Z\[None\]"),
    (lambda Z, v, W: (Z, v[:2], W), ValueError, "axis 1 must have length 2 .p, the length of v"),
    (lambda Z, v, W: (Z, v, W[:2]), ValueError, "axis 2 must have length 2 .n, the number of rows of W"),
    (lambda Z, v, W: (Z, v, W[:, 0]), ValueError, r"W must be a 2-D array of shape \(n, K\)"),
    (lambda Z, v, W: (Z[:0], v, W), ValueError, "Z is empty"),
    (lambda Z, v, W: (Z, v * np.nan, W), ValueError, "v contains 3 non-finite"),
])
def test_ts_bad_input(args, exc, match):
    rng = np.random.default_rng(0)
    Z, v, W = args(rng.standard_normal((2, 3, 4)), rng.standard_normal(3), rng.standard_normal((4, 2)))
    with pytest.raises(exc, match=match):
        cg.ts_forward(Z, v, W, cg.Staircase(2, 1.0))


def test_ts_needs_a_staircase():
    rng = np.random.default_rng(0)
    Z, v, W = rng.standard_normal((2, 3, 4)), rng.standard_normal(3), rng.standard_normal((4, 2))
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        cg.ts_forward(Z, v, W, 2)
    fwd = cg.ts_forward(Z, v, W, cg.Staircase(2, 1.0))
    with pytest.raises(TypeError, match="staircase must be a coarsegrad.Staircase"):
        cg.ts_coarse_grad(Z, v, fwd, np.zeros((2, 2)), "relu", None)


def test_one_hot():
    np.testing.assert_array_equal(cg.one_hot([2, 0, 1], 3), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert cg.one_hot(np.array([1]), 2, dtype=np.float32).dtype == np.float32
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes"):
            cg.one_hot(bad, 3)
    with pytest.raises(TypeError, match="integer class labels"):
        cg.one_hot([0.5, 1], 3)


def test_ts_loss_shape_mismatch():
    with pytest.raises(ValueError, match="y_star has shape"):
        cg.ts_loss(np.zeros((3, 2)), np.zeros((3, 1)))


@pytest.mark.parametrize("call", [
    lambda x, p, Z, v, W: cg.mlp_forward(x, p, 2, 0.5),
    lambda x, p, Z, v, W: cg.mlp_predict(x, p, 2, 0.5),
    lambda x, p, Z, v, W: cg.ts_forward(Z, v, W, 2, 0.5),
    lambda x, p, Z, v, W: cg.ts_predict(Z, v, W, 2, 0.5),
])
def test_old_bits_alpha_calls_name_the_staircase(call):
    """Issue 17: a 0.1-style call with (bits, alpha) got Python's bare "takes 3 positional arguments"."""
    rng = np.random.default_rng(0)
    stair = cg.Staircase(2, 0.5)
    p = cg.mlp_init(3, 4, 2, 0, staircase=stair)
    x, Z, v, W = rng.standard_normal((5, 3)), rng.standard_normal((6, 2, 3)), np.ones(2), rng.standard_normal((3, 2))
    with pytest.raises(TypeError, match=r"Staircase\(bits, alpha\)"):
        call(x, p, Z, v, W)
    # the call in today's form goes through (the wrapper only speaks when there is one argument too many)
    assert cg.mlp_forward(x, p, stair).f.shape == (5, 2) and cg.ts_forward(Z, v, W, stair).y.shape == (6, 2)
