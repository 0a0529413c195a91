"""Each update rule of coarsegrad.train against a two-step computation written out here.

The reference steps below are spelled out from the docstrings' formulas (heavy-ball momentum
``u <- beta u + lr_t g``, ``theta <- theta - u``; the step-size schedules; ``v`` trained or not;
the 'running' training metrics), with the batch gradients taken from the nets module directly.
Each test would fail if the driver ignored momentum, a schedule, ``train_v`` or the metric mode:
the comparisons are to 1e-12 relative, and every rule changes the result by far more.
"""
import numpy as np
import pytest

from coarsegrad import Staircase
from coarsegrad import population as P
from coarsegrad._checks import make_rng
from coarsegrad.nets import (MLPParams, mlp_coarse_grad, mlp_forward, mlp_init, mlp_loss, ts_coarse_grad,
                             ts_forward, ts_loss)
from coarsegrad.train import SGD, mlp_train, population_descent, ts_sgd

RTOL = 1e-12       # the driver and the reference do the same float operations up to reassociation
STAIR = Staircase(2, 0.5)


def _ts_problem(seed=0, N=40, p=3, n=4, K=2):
    rng = np.random.default_rng(seed)
    teacher = P.random_teacher(n, p, K, STAIR, rng, v_star=np.abs(rng.standard_normal(p)) + 0.2)
    Z = rng.standard_normal((N, p, n))
    y = ts_forward(Z, teacher.v_star, teacher.W_star, STAIR).y
    W0 = rng.standard_normal((n, K))
    v0 = teacher.v_star + 0.3 * rng.standard_normal(p)
    return Z, y, W0, v0


def _ts_grad(Z, y, v, W, ste="clipped_relu"):
    fwd = ts_forward(Z, v, W, STAIR)
    _, e = ts_loss(fwd.y, y)
    return ts_coarse_grad(Z, v, fwd, e, ste, STAIR)


def _batches(seed, N, batch_size, epochs):
    """The driver's batch order: one permutation per epoch from the seed's generator."""
    rng = make_rng(seed)
    return [[order[i:i + batch_size] for i in range(0, N, batch_size)]
            for order in (rng.permutation(N) for _ in range(epochs))]


def _lr(schedule, lr, epoch, epochs, decay_every=1, decay_factor=0.1):
    return {"constant": lr,
            "cosine": lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs)),
            "step": lr * decay_factor ** (epoch // decay_every)}[schedule]


@pytest.mark.parametrize("schedule", ["constant", "cosine", "step"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("train_v", [False, True])
def test_ts_sgd_two_steps(schedule, momentum, train_v):
    """Two epochs of one full batch each: two heavy-ball steps with the epoch's step size."""
    Z, y, W0, v0 = _ts_problem()
    lr = 0.3
    sgd = SGD(lr=lr, epochs=2, batch_size=len(Z), momentum=momentum, schedule=schedule, decay_every=1,
              decay_factor=0.1)
    v, W = v0.copy(), W0.copy()
    uW, uv = np.zeros_like(W), np.zeros_like(v)
    for epoch in range(2):
        g = _ts_grad(Z, y, v, W)
        step = _lr(schedule, lr, epoch, 2)
        uW = momentum * uW + step * g.W
        W = W - uW
        if train_v:
            uv = momentum * uv + step * g.v
            v = v - uv
    v_out, W_out, hist = ts_sgd(Z, y, W0, v0, "clipped_relu", STAIR, sgd, seed=0, train_v=train_v)
    np.testing.assert_allclose(W_out, W, rtol=RTOL, atol=1e-14, err_msg=f"W after 2 steps, {schedule}, beta={momentum}")
    np.testing.assert_allclose(v_out, v, rtol=RTOL, atol=1e-14, err_msg=f"v after 2 steps, train_v={train_v}")
    if not train_v:
        assert np.array_equal(v_out, v0), "v must not move when train_v=False"
    assert hist.step == [0, 1, 2]
    np.testing.assert_allclose(hist["loss"][-1], ts_loss(ts_forward(Z, v, W, STAIR).y, y)[0], rtol=RTOL)


def test_ts_sgd_minibatches_follow_the_seeded_order():
    """One epoch of 3 batches (the last one short) with momentum: three steps in the seed's order."""
    Z, y, W0, v0 = _ts_problem(N=25)
    sgd = SGD(lr=0.2, epochs=1, batch_size=10, momentum=0.5)
    W, u = W0.copy(), np.zeros_like(W0)
    for idx in _batches(7, 25, 10, 1)[0]:
        u = 0.5 * u + 0.2 * _ts_grad(Z[idx], y[idx], v0, W).W
        W = W - u
    _, W_out, _ = ts_sgd(Z, y, W0, v0, "clipped_relu", STAIR, sgd, seed=7)
    np.testing.assert_allclose(W_out, W, rtol=RTOL, atol=1e-14)


def test_schedules_by_hand():
    assert SGD(lr=0.4, epochs=10, batch_size=1).learning_rate(7) == 0.4
    cos = SGD(lr=0.4, epochs=10, batch_size=1, schedule="cosine")
    np.testing.assert_allclose([cos.learning_rate(e) for e in (0, 5, 10)], [0.4, 0.2, 0.0], atol=1e-16)
    step = SGD(lr=0.4, epochs=30, batch_size=1, schedule="step", decay_every=10, decay_factor=0.5)
    np.testing.assert_allclose([step.learning_rate(e) for e in (0, 9, 10, 19, 20, 29)],
                               [0.4, 0.4, 0.2, 0.2, 0.1, 0.1], rtol=1e-15)


def _mlp_problem(seed=1, N=30, n=3, m=6, K=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, n))
    labels = rng.integers(0, K, N)
    params = mlp_init(n, m, K, seed, staircase=STAIR)
    return x, labels, params


def _mlp_grad(x, labels, params, ste="relu"):
    fwd = mlp_forward(x, params, STAIR)
    loss, delta = mlp_loss(fwd.f, labels)
    return mlp_coarse_grad(x, params, fwd, delta, ste, STAIR), loss, fwd


@pytest.mark.parametrize("schedule", ["constant", "cosine", "step"])
@pytest.mark.parametrize("momentum", [0.0, 0.8])
def test_mlp_train_two_steps(schedule, momentum):
    """Two epochs of one full batch: two heavy-ball steps on all four parameter arrays."""
    x, labels, params0 = _mlp_problem()
    lr = 0.5
    sgd = SGD(lr=lr, epochs=2, batch_size=len(x), momentum=momentum, schedule=schedule, decay_every=1,
              decay_factor=0.1)
    params = [a.copy() for a in params0]
    u = [np.zeros_like(a) for a in params]
    for epoch in range(2):
        g, _, _ = _mlp_grad(x, labels, MLPParams(*params))
        step = _lr(schedule, lr, epoch, 2)
        u = [momentum * ui + step * gi for ui, gi in zip(u, g)]
        params = [a - ui for a, ui in zip(params, u)]
    out, _ = mlp_train(x, labels, params0, "relu", STAIR, sgd, seed=0)
    for name, got, want in zip(MLPParams._fields, out, params):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-14, err_msg=f"{name} after 2 steps, {schedule}")


def test_mlp_train_running_metrics_are_the_batch_means_as_trained():
    """train_metrics='running': per epoch, the loss and accuracy of each batch under the weights it
    was trained with (before its update), weighted by batch size, over the epoch; 'full' evaluates the
    end-of-epoch weights instead. Two batches (20 + 10) over two epochs, with momentum."""
    x, labels, params0 = _mlp_problem()
    sgd = SGD(lr=0.5, epochs=2, batch_size=20, momentum=0.5)
    params = [a.copy() for a in params0]
    u = [np.zeros_like(a) for a in params]
    running, full = [], []
    for batches in _batches(3, len(x), 20, 2):
        loss_sum = correct = 0.0
        for idx in batches:
            g, loss, fwd = _mlp_grad(x[idx], labels[idx], MLPParams(*params))
            loss_sum += loss * len(idx)
            correct += np.sum(np.argmax(fwd.f, axis=1) == labels[idx])
            u = [0.5 * ui + 0.5 * gi for ui, gi in zip(u, g)]
            params = [a - ui for a, ui in zip(params, u)]
        running.append((loss_sum / len(x), correct / len(x)))
        f = mlp_forward(x, MLPParams(*params), STAIR).f
        full.append((mlp_loss(f, labels)[0], np.mean(np.argmax(f, axis=1) == labels)))
    _, hist_run = mlp_train(x, labels, params0, "relu", STAIR, sgd, seed=3, train_metrics="running")
    _, hist_full = mlp_train(x, labels, params0, "relu", STAIR, sgd, seed=3, train_metrics="full")
    np.testing.assert_allclose(hist_run["loss"][1:], [r[0] for r in running], rtol=RTOL)
    np.testing.assert_allclose(hist_run["accuracy"][1:], [r[1] for r in running], rtol=RTOL)
    np.testing.assert_allclose(hist_full["loss"][1:], [r[0] for r in full], rtol=RTOL)
    np.testing.assert_allclose(hist_full["accuracy"][1:], [r[1] for r in full], rtol=RTOL)
    assert not np.allclose(hist_run["loss"][1:], hist_full["loss"][1:]), "the two modes must differ here"
    f0 = mlp_forward(x, params0, STAIR).f       # epoch 0 (before training) is the full evaluation in both
    assert hist_run["loss"][0] == hist_full["loss"][0] == pytest.approx(mlp_loss(f0, labels)[0], rel=RTOL)


@pytest.mark.parametrize("train_v", [False, True])
def test_population_descent_two_steps(train_v):
    """W <- W - lr E g_W(v, W) and, with train_v, v <- v - lr E g_v(v, W), both at the old (v, W);
    f recorded at every step."""
    rng = np.random.default_rng(4)
    teacher = P.random_teacher(4, 3, 2, STAIR, rng, v_star=np.abs(rng.standard_normal(3)) + 0.2)
    W0 = rng.standard_normal((4, 2))
    v0 = teacher.v_star + 0.5 * rng.standard_normal(3)
    lr = 0.05
    v, W, losses = v0.copy(), W0.copy(), []
    for _ in range(2):
        losses.append(P.population_loss(teacher, v, W))
        gv, gW = P.expected_coarse_grad(teacher, v, W, "clipped_relu")
        W = W - lr * gW
        if train_v:
            v = v - lr * gv
    losses.append(P.population_loss(teacher, v, W))
    v_out, W_out, hist = population_descent(teacher, W0, "clipped_relu", lr=lr, steps=2, v0=v0, train_v=train_v)
    np.testing.assert_allclose(W_out, W, rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(v_out, v, rtol=RTOL, atol=1e-15)
    if not train_v:
        assert np.array_equal(v_out, v0)
    else:
        assert not np.allclose(v_out, v0), "train_v=True must move v"
    np.testing.assert_allclose(hist["loss"], losses, rtol=RTOL)
    assert hist.step == [0, 1, 2]
