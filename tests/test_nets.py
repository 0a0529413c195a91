"""Both networks: vectorized coarse gradients vs per-sample loops, backward algebra vs
finite differences on smooth networks, piecewise constancy, and bad input."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import coarsegrad as cg
from coarsegrad.nets import LOSSES
from reference import (LOOP_RTOL, check_directional, mlp_grads_loop, rel_err, ts_grads_loop)
from strategies import mlp_problems, seeds, ts_problems

BUILTIN = ["identity", "relu", "clipped_relu", "log_tailed_relu"]
# A smooth STE (softplus / logistic) so the finite-difference checks have no kink at all.
SOFTPLUS = cg.STE("softplus", lambda z, b, a: np.logaddexp(0, z), lambda z, b, a: 0.5 * (1 + np.tanh(z / 2)))


# ---------------------------------------------------------------------------- teacher-student

@pytest.mark.parametrize("ste", BUILTIN)
@given(prob=ts_problems())
def test_ts_coarse_grad_matches_loop(ste, prob):
    Z, v, W, y_star, bits, alpha = (prob[k] for k in ("Z", "v", "W", "y_star", "bits", "alpha"))
    fwd = cg.ts_forward(Z, v, W, bits, alpha)
    loss, e = cg.ts_loss(fwd.y, y_star)
    g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, ste, bits, alpha)
    loss_ref, g_v_ref, g_W_ref = ts_grads_loop(Z, v, W, y_star, cg.get_ste(ste), bits, alpha)
    assert abs(loss - loss_ref) <= LOOP_RTOL * max(1.0, abs(loss_ref)), f"ts loss vs loop: {loss} vs {loss_ref}"
    err = rel_err([g_v, g_W], [g_v_ref, g_W_ref])
    assert err < LOOP_RTOL, f"ts coarse grad vs loop ({ste}, bits={bits}, alpha={alpha}): rel err {err:.2e}"


@pytest.mark.parametrize("ste", BUILTIN + [SOFTPLUS])
@given(prob=ts_problems(), seed=seeds)
def test_ts_backward_is_gradient_of_smooth_network(ste, prob, seed):
    """With mu in the forward pass, ts_coarse_grad is the exact gradient: check by central differences."""
    ste = cg.get_ste(ste)
    Z, v, W, y_star, bits, alpha = (prob[k] for k in ("Z", "v", "W", "y_star", "bits", "alpha"))
    act = lambda h: ste.mu(h, bits, alpha)

    def loss_of(x):
        return cg.ts_loss(cg.ts_forward(Z, x[0], x[1], bits, alpha, activation=act).y, y_star)[0]

    fwd = cg.ts_forward(Z, v, W, bits, alpha, activation=act)
    _, e = cg.ts_loss(fwd.y, y_star)
    g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, ste, bits, alpha)
    check_directional(loss_of, [g_v, g_W], [v, W], np.random.default_rng(seed),
                      what=f"ts smooth net, {ste.name}, bits={bits}, alpha={alpha}")


@given(prob=ts_problems(), seed=seeds)
def test_ts_sample_loss_is_piecewise_constant_in_W(prob, seed):
    """Finite differences of the quantized loss in W are exactly 0; in v they are the exact g_v."""
    Z, v, W, y_star, bits, alpha = (prob[k] for k in ("Z", "v", "W", "y_star", "bits", "alpha"))
    rng = np.random.default_rng(seed)
    loss = lambda v_, W_: cg.ts_loss(cg.ts_forward(Z, v_, W_, bits, alpha).y, y_star)[0]
    h = 1e-9 * np.abs(W).max()
    for _ in range(3):
        U = rng.standard_normal(W.shape)
        assert loss(v, W + h * U) - loss(v, W - h * U) == 0.0, "quantized loss changed under a tiny move of W"
    fwd = cg.ts_forward(Z, v, W, bits, alpha)
    g_v, _ = cg.ts_coarse_grad(Z, v, fwd, cg.ts_loss(fwd.y, y_star)[1], "relu", bits, alpha)
    check_directional(lambda x: loss(x[0], W), [g_v], [v], rng, what="ts loss in v (exact gradient)")


# ---------------------------------------------------------------------------- perceptron

@pytest.mark.parametrize("ste", BUILTIN)
@pytest.mark.parametrize("kind", LOSSES)
@given(prob=mlp_problems(), freeze=st.booleans())
def test_mlp_coarse_grad_matches_loop(ste, kind, prob, freeze):
    x, params, labels, bits, alpha = (prob[k] for k in ("x", "params", "labels", "bits", "alpha"))
    fwd = cg.mlp_forward(x, params, bits, alpha)
    loss, delta = cg.mlp_loss(fwd.f, labels, kind)
    grads = cg.mlp_coarse_grad(x, params, fwd, delta, ste, bits, alpha, freeze_second_layer=freeze)
    loss_ref, grads_ref = mlp_grads_loop(x, params, labels, cg.get_ste(ste), bits, alpha, kind)
    if freeze:
        grads_ref = (grads_ref[0], grads_ref[1], 0 * grads_ref[2], 0 * grads_ref[3])
    assert abs(loss - loss_ref) <= LOOP_RTOL * max(1.0, abs(loss_ref)), f"mlp {kind} loss vs loop: {loss} vs {loss_ref}"
    for name, got, want in zip(("W", "b", "V", "c"), grads, grads_ref):
        assert got.shape == want.shape
        err = rel_err(got, want)
        assert err < LOOP_RTOL, f"mlp d{name} vs loop ({ste}, {kind}, bits={bits}, alpha={alpha}): rel err {err:.2e}"


@pytest.mark.parametrize("ste", BUILTIN + [SOFTPLUS])
@pytest.mark.parametrize("kind", LOSSES)
@given(prob=mlp_problems(), seed=seeds)
def test_mlp_backward_is_gradient_of_smooth_network(ste, kind, prob, seed):
    ste = cg.get_ste(ste)
    x, params, labels, bits, alpha = (prob[k] for k in ("x", "params", "labels", "bits", "alpha"))
    act = lambda h: ste.mu(h, bits, alpha)

    def loss_of(p):
        return cg.mlp_loss(cg.mlp_forward(x, cg.MLPParams(*p), bits, alpha, activation=act).f, labels, kind)[0]

    fwd = cg.mlp_forward(x, params, bits, alpha, activation=act)
    _, delta = cg.mlp_loss(fwd.f, labels, kind)
    grads = cg.mlp_coarse_grad(x, params, fwd, delta, ste, bits, alpha)
    check_directional(loss_of, list(grads), list(params), np.random.default_rng(seed),
                      what=f"mlp smooth net, {ste.name}, {kind}, bits={bits}, alpha={alpha}")


@given(prob=mlp_problems(), seed=seeds)
def test_mlp_sample_loss_is_piecewise_constant_in_first_layer(prob, seed):
    x, params, labels, bits, alpha = (prob[k] for k in ("x", "params", "labels", "bits", "alpha"))
    rng = np.random.default_rng(seed)
    W, b, V, c = params
    loss = lambda p: cg.mlp_loss(cg.mlp_forward(x, cg.MLPParams(*p), bits, alpha).f, labels)[0]
    h = 1e-9 * max(np.abs(W).max(), np.abs(b).max())
    for _ in range(3):
        dW, db = rng.standard_normal(W.shape), rng.standard_normal(b.shape)
        assert loss((W + h * dW, b + h * db, V, c)) == loss((W - h * dW, b - h * db, V, c)), \
            "quantized loss changed under a tiny move of (W, b)"
    fwd = cg.mlp_forward(x, params, bits, alpha)
    g = cg.mlp_coarse_grad(x, params, fwd, cg.mlp_loss(fwd.f, labels)[1], "relu", bits, alpha)
    check_directional(lambda p: loss((W, b, p[0], p[1])), [g.V, g.c], [V, c], rng,
                      what="mlp loss in (V, c) (exact gradient)")


def test_cross_entropy_is_stable_for_huge_logits():
    f = np.array([[1e6, 0.0, -1e6], [3.0, 3.0, 3.0]])
    loss, delta = cg.mlp_loss(f, [0, 2])
    assert np.isfinite(loss) and np.isfinite(delta).all()
    np.testing.assert_allclose(loss, (0.0 + np.log(3)) / 2)
    np.testing.assert_allclose(delta.sum(axis=1), 0, atol=1e-15)


@given(prob=mlp_problems())
def test_predict_is_argmax(prob):
    x, params, bits, alpha = (prob[k] for k in ("x", "params", "bits", "alpha"))
    np.testing.assert_array_equal(cg.mlp_predict(x, params, bits, alpha),
                                  np.argmax(cg.mlp_forward(x, params, bits, alpha).f, axis=1))


def test_float32_is_preserved_end_to_end():
    rng = np.random.default_rng(1)
    p = cg.mlp_init(5, 7, 3, rng, dtype=np.float32)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    fwd = cg.mlp_forward(x, p, 2, 0.5)
    _, delta = cg.mlp_loss(fwd.f, [0, 1, 2, 0])
    g = cg.mlp_coarse_grad(x, p, fwd, delta, "clipped_relu", 2, 0.5)
    assert {a.dtype for a in (*fwd, delta, *g)} == {np.dtype(np.float32)}


def test_mlp_init_is_seeded_and_shaped():
    a, b = cg.mlp_init(4, 6, 3, 7), cg.mlp_init(4, 6, 3, np.random.default_rng(7))
    for u, w in zip(a, b):
        np.testing.assert_array_equal(u, w)
    assert [t.shape for t in a] == [(6, 4), (6,), (3, 6), (3,)]


def test_ts_predict():
    rng = np.random.default_rng(3)
    Z, v, W = rng.standard_normal((8, 4, 3)), rng.standard_normal(4), rng.standard_normal((3, 5))
    np.testing.assert_array_equal(cg.ts_predict(Z, v, W, 2, 1.0), np.argmax(cg.ts_forward(Z, v, W, 2, 1.0).y, axis=1))


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
        fwd = cg.mlp_forward(x, p, 2, 1.0)
        cg.mlp_loss(fwd.f, y)


def test_mlp_bad_options():
    x, p, y = _mlp_setup()
    fwd = cg.mlp_forward(x, p, 2, 1.0)
    with pytest.raises(ValueError, match="kind must be one of cross_entropy, squared"):
        cg.mlp_loss(fwd.f, y, "hinge")
    _, delta = cg.mlp_loss(fwd.f, y)
    with pytest.raises(ValueError, match="unknown STE"):
        cg.mlp_coarse_grad(x, p, fwd, delta, "relux", 2, 1.0)
    with pytest.raises(ValueError, match="do not belong to the same batch"):
        cg.mlp_coarse_grad(x[:2], p, fwd, delta[:2], "relu", 2, 1.0)
    with pytest.raises(ValueError, match="bits must be an integer in"):
        cg.mlp_forward(x, p, 0, 1.0)
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        cg.mlp_forward(x, p, 2, -1.0)
    with pytest.raises(ValueError, match="must act elementwise"):
        cg.mlp_forward(x, p, 2, 1.0, activation=lambda h: h.sum(axis=1))
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
        cg.ts_forward(Z, v, W, 2, 1.0)


def test_ts_loss_shape_mismatch():
    with pytest.raises(ValueError, match="y_star has shape"):
        cg.ts_loss(np.zeros((3, 2)), np.zeros((3, 1)))
