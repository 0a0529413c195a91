"""The orthogonal-subspace model (SPEC §8): data, separability certificate, coverage geometry,
Wendel's formula, the hinge loss, the decoupling into K problems, zero-loss stopping, and the
counterexamples that bound the regime of claim 11 (docs/findings.md, S1-S6).

Each independent check is a function of the implementation it checks, so that a negative
control can hand it a deliberately wrong one and see it fail."""
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from coarsegrad import Staircase
from coarsegrad import subspaces as S
from coarsegrad.nets import MLPParams, mlp_coarse_grad, mlp_forward, mlp_loss
from coarsegrad.ste import get_ste
from reference import (LOOP_RTOL, check_directional, covered_scan_2d, mlp_grads_loop, rel_err,
                       zero_in_hull_nnls)
from strategies import seeds

MC_Z = 4.0          # Monte Carlo agreement, in standard errors


# ---------------------------------------------------------------------------- data

@settings(max_examples=30)   # each example builds a d x d QR; 30 cover K, dims, d and both distributions
@given(K=st.integers(2, 4), dims=st.lists(st.integers(1, 5), min_size=4, max_size=4), extra=st.integers(0, 3),
       n=st.integers(1, 30), dist=st.sampled_from(S.DISTRIBUTIONS), seed=seeds)
def test_generator_bases_labels_norms(K, dims, extra, n, dist, seed):
    dims = dims[:K]
    data = S.orthogonal_subspaces(K, dims, n, d=sum(dims) + extra, distribution=dist, seed=seed)
    B = np.hstack(data.bases)
    err = np.abs(B.T @ B - np.eye(sum(dims))).max()
    assert err <= 1e-12, f"bases not orthonormal and mutually orthogonal: max |B^T B - I| = {err:.2e}"
    assert data.x.shape == (K * n, sum(dims) + extra) and data.dims == tuple(dims)
    np.testing.assert_array_equal(np.bincount(data.labels, minlength=K), [n] * K)
    for k in range(K):
        xk = data.x[data.labels == k]
        np.testing.assert_allclose(xk, data.z[k] @ data.bases[k].T, rtol=0, atol=1e-15)
        if dist == "sphere":
            np.testing.assert_allclose(np.linalg.norm(xk, axis=1), 1.0, rtol=0, atol=1e-12)
        for j in range(K):
            if j != k:      # a class-k point has no component in V_j
                assert np.abs(xk @ data.bases[j]).max() <= 1e-12


def test_generator_is_seeded_and_takes_given_points():
    a = S.orthogonal_subspaces(3, (2, 3, 1), 7, seed=5)
    b = S.orthogonal_subspaces(3, (2, 3, 1), 7, seed=5)
    c = S.orthogonal_subspaces(3, (2, 3, 1), 7, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    pts = [np.array([[1.0, 0], [0, -2]]), np.array([[3.0]])]
    d = S.orthogonal_subspaces(2, (2, 1), points=pts, rotate=False, seed=0)
    np.testing.assert_array_equal(d.x, [[1, 0, 0], [0, -2, 0], [0, 0, 3]])
    np.testing.assert_array_equal(d.labels, [0, 0, 1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(K=1, dims=2), "K must be an integer >= 2"),
    (dict(K=2, dims=(2, 2, 2)), "dims must be one int or K = 2"),
    (dict(K=2, dims=2, d=3), "pass d >= 4"),
    (dict(K=2, dims=2, distribution="cube"), "distribution must be one of"),
    (dict(K=2, dims=2, points=[np.ones((3, 2))]), "points must hold K = 2"),
    (dict(K=2, dims=2, points=[np.ones((3, 2)), np.ones((3, 3))]), "d_k = 2 coordinates of class 1"),
])
def test_generator_rejects_bad_input(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        S.orthogonal_subspaces(**kwargs)


# ---------------------------------------------------------------------------- separability certificate

def _separable_control(seed):
    """K = 3 well-separated blobs: separable by construction (a_k = centre_k, b = 0)."""
    rng = np.random.default_rng(seed)
    centres = 5 * np.eye(3)
    x = np.concatenate([c + 0.3 * rng.standard_normal((20, 3)) for c in centres])
    return x, np.repeat(np.arange(3), 20)


@pytest.mark.parametrize("K, dims, n, dist", [(2, 2, 30, "sphere"), (3, 2, 50, "sphere"), (3, (2, 3, 8), 50, "gaussian"),
                                              (4, 3, 40, "sphere")])
def test_generated_sets_are_certified_not_separable(K, dims, n, dist):
    data = S.orthogonal_subspaces(K, dims, n, distribution=dist, seed=3)
    cert = S.separability_lp(data.x, data.labels)
    assert cert.status == 2 and not cert.separable, f"LP status {cert.status}: {cert.message}"


def test_separable_control_is_certified_separable():
    cert = S.separability_lp(*_separable_control(0))
    assert cert.status == 0 and cert.separable, cert.message


def test_separability_negative_control_class_hull_away_from_zero():
    # Few points per class in a big subspace: 0 is outside each class's hull (Wendel: 3 points in R^8
    # never surround 0), and then the orthogonal classes *are* separable -- the LP must say so, which
    # shows it does not answer "infeasible" for every orthogonal-subspace set.
    data = S.orthogonal_subspaces(3, 8, 3, seed=0)
    assert not any(zero_in_hull_nnls(z) for z in data.z)
    assert S.separability_lp(data.x, data.labels).status == 0


# ---------------------------------------------------------------------------- coverage

def _coverage_disagreements(covered_fn, cases):
    """Cases where ``covered_fn(u)`` disagrees with the angular scan (scan margin > 1e-3 only)."""
    bad = []
    for u in cases:
        scan = covered_scan_2d(u)
        if abs(scan) > 1e-3 and bool(covered_fn(u)) != (scan > 0):
            bad.append((u.tolist(), scan))
    return bad


@settings(max_examples=60)
@given(seed=seeds, N=st.integers(1, 7), zero_row=st.booleans())
@example(seed=0, N=3, zero_row=False)
def test_coverage_lp_agrees_with_angular_scan_2d(seed, N, zero_row):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((N, 2)) * np.exp(rng.uniform(-3, 3, (N, 1)))
    if zero_row:
        u = np.vstack([u, np.zeros(2)])     # a zero neuron covers nothing
    bad = _coverage_disagreements(S.covered, [u])
    assert not bad, f"covered() disagrees with the scan (u, min_z max_j u_j.z/|u_j|): {bad}"


def test_coverage_negative_control_lambda_nonnegative_is_wrong():
    # "sum lambda_j u_j = 0, lambda >= 0" is always feasible (lambda = 0): that test calls a half-plane covered.
    from scipy.optimize import linprog

    def wrong(u):
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        return linprog(np.zeros(len(u)), A_eq=u.T, b_eq=np.zeros(2), bounds=(0, None)).status == 0 \
            and np.linalg.matrix_rank(u) == 2

    half_plane = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert _coverage_disagreements(wrong, [half_plane])
    assert not _coverage_disagreements(S.covered, [half_plane])


def test_coverage_edge_cases():
    assert not S.covered(np.array([[1.0, 0.0], [-1.0, 0.0]]))                    # a line: rank 1
    assert not S.covered(np.array([[1.0, 0], [0, 1.0]]))                         # N <= m
    tri = np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])
    assert S.covered(tri) and S.covered(tri * [[1e-8], [1e6], [3.0]])            # scale-free
    assert not S.covered(np.vstack([tri[:2], [0.0, 0.0]]))                       # a zero row covers nothing
    cube = np.vstack([np.eye(3), -np.eye(3)])
    assert S.covered(cube) and not S.covered(cube[:5])


# ---------------------------------------------------------------------------- Wendel's formula

def _wendel_z_scores(formula, cases, n_mc=4000, seed=0):
    """|formula - MC| / SE for P(0 not in conv of N Gaussian points in R^m) (hull test: NNLS reference)."""
    rng = np.random.default_rng(seed)
    out = []
    for N, m in cases:
        outside = np.array([not zero_in_hull_nnls(rng.standard_normal((N, m))) for _ in range(n_mc)])
        p_hat = outside.mean()
        p = formula(N, m)
        se = math.sqrt(max(p * (1 - p), 1e-12) / n_mc)      # SE under the formula's p: no 0/0 when p_hat is 0 or 1
        out.append(((N, m), p, float(p_hat), abs(p - p_hat) / se))
    return out


WENDEL_CASES = [(3, 2), (4, 2), (6, 2), (4, 3), (6, 3), (8, 3), (10, 5)]


@pytest.mark.slow
def test_wendel_agrees_with_monte_carlo():
    rows = _wendel_z_scores(S.wendel, WENDEL_CASES)
    worst = np.max([r[3] for r in rows])
    assert worst <= MC_Z, f"Wendel vs Monte Carlo ((N, m), formula, MC, |z|): {rows}"


def test_wendel_negative_control_off_by_one():
    wrong = lambda N, m: math.fsum(math.comb(N - 1, k) for k in range(m + 1)) / 2.0 ** (N - 1)
    rows = _wendel_z_scores(wrong, [(4, 2), (6, 3)], n_mc=2000)
    assert np.max([r[3] for r in rows]) > MC_Z


def test_wendel_exact_values():
    assert S.wendel(3, 2) == 0.75 and S.wendel(2, 2) == 1.0 and S.wendel(1, 5) == 1.0
    assert S.coverage_probability(4, 2) == 0.5          # 4 points in the plane surround 0 half the time
    # N -> infinity: coverage is certain; for N = 2m it is exactly 1/2 (symmetry of the binomial sum)
    assert 0 < S.wendel(200, 3) < 1e-50
    for m in (1, 2, 5):
        assert S.coverage_probability(2 * m, m) == 0.5


# ---------------------------------------------------------------------------- hinge loss

@st.composite
def hinge_case(draw):
    rng = np.random.default_rng(draw(seeds))
    K, n, m, N = draw(st.integers(2, 4)), draw(st.integers(2, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    stair = Staircase(draw(st.integers(1, 3)), draw(st.sampled_from([1.0, 0.5, 0.3])),
                      draw(st.sampled_from(["ceil", "round"])))
    params = MLPParams(rng.standard_normal((m, n)), np.zeros(m), rng.standard_normal((K, m)), np.zeros(K))
    if draw(st.booleans()):          # integer-valued logits put hinge terms exactly at their kinks
        params = params._replace(V=np.round(params.V))
    x = rng.standard_normal((N, n))
    labels = rng.integers(0, K, N)
    margin = draw(st.sampled_from([stair.alpha, 1.0, 0.25]))
    return x, labels, params, stair, margin


@given(case=hinge_case(), ste=st.sampled_from(["relu", "clipped_relu", "log_tailed_relu", "identity"]))
def test_hinge_delta_and_coarse_grad_match_per_sample_loop(case, ste):
    x, labels, params, stair, margin = case
    fwd = mlp_forward(x, params, stair)
    value, delta = mlp_loss(fwd.f, labels, "hinge", margin=margin)
    g = mlp_coarse_grad(x, params, fwd, delta, ste, stair)
    want_value, want = mlp_grads_loop(x, params, labels, get_ste(ste), stair, loss="hinge", margin=margin)
    assert abs(value - want_value) <= LOOP_RTOL * max(1.0, abs(want_value)), (value, want_value)
    assert rel_err(list(g), list(want)) <= LOOP_RTOL, f"hinge coarse gradient vs loop ({ste}, {stair})"


def test_hinge_at_kink_is_inactive_and_negative_control():
    f = np.array([[2.0, 1.0, 0.0]])                         # margin 1: the k = 1 term sits exactly at 0
    value, delta = mlp_loss(f, [0], "hinge", margin=1.0)
    assert value == 0.0 and not delta.any()
    # a wrong delta that counts the kink as active is told apart by the per-sample loop
    wrong = np.array([[-1.0, 1.0, 0.0]])
    params = MLPParams(np.eye(3), np.zeros(3), np.diag([2.0, 1.0, 0.0]), np.zeros(3))
    _, want = mlp_grads_loop(np.array([[1.0, 1.0, 1.0]]), params, [0], get_ste("relu"), Staircase(1, 1.0),
                             loss="hinge", margin=1.0)
    fwd = mlp_forward(np.array([[1.0, 1.0, 1.0]]), params, Staircase(1, 1.0))
    g_wrong = mlp_coarse_grad(np.array([[1.0, 1.0, 1.0]]), params, fwd, wrong, "relu", Staircase(1, 1.0))
    assert rel_err(g_wrong.W, want[0]) > 0.5


@given(seed=seeds, ste=st.sampled_from(["relu", "clipped_relu", "log_tailed_relu", "identity"]),
       margin=st.sampled_from([1.0, 0.5, 2.0]))
def test_hinge_coarse_grad_is_the_gradient_of_the_smooth_network(seed, ste, margin):
    # With mu in the forward pass too, the coarse gradient is the true gradient of a piecewise-smooth
    # loss; finite differences agree away from the hinge kinks (the random logits avoid them a.s.).
    rng = np.random.default_rng(seed)
    stair = Staircase(2, 1.0)
    K, N, n = 3, 3, 4
    params = MLPParams(rng.standard_normal((K * N, n)), np.zeros(K * N), S.group_indicator(K, N), np.zeros(K))
    x = rng.standard_normal((8, n))
    labels = rng.integers(0, K, 8)
    mu = lambda h: get_ste(ste).mu(h, stair)
    fwd = mlp_forward(x, params, stair, activation=mu)
    _, delta = mlp_loss(fwd.f, labels, "hinge", margin=margin)
    g = mlp_coarse_grad(x, params, fwd, delta, ste, stair, freeze_second_layer=True)
    loss = lambda a: mlp_loss(mlp_forward(x, params._replace(W=a[0]), stair, activation=mu).f, labels, "hinge",
                              margin=margin)[0]
    check_directional(loss, [g.W], [params.W], rng, what=f"hinge, smooth {ste}")


def test_mlp_loss_rejects_bad_margin():
    with pytest.raises(ValueError, match="margin must be a finite number"):
        mlp_loss(np.zeros((1, 2)), [0], "hinge", margin=0.0)


# ---------------------------------------------------------------------------- the network and its minimizer

def test_constructed_minimizer_is_a_global_minimum():
    for conv in ("ceil", "round"):
        for bits in (1, 2, 4):
            stair = Staircase(bits, 0.5, conv)
            for dims, N in (((2, 3, 8), 9), (2, 3)):
                data = S.orthogonal_subspaces(3, dims, 60, rotate=False, seed=bits)
                P = S.constructed_minimizer(data, N, stair)
                f = mlp_forward(data.x, P, stair).f
                assert mlp_loss(f, data.labels, "hinge", margin=stair.alpha)[0] == 0.0
                assert S.accuracy(f, data.labels) == 1.0


def test_counterexample_ceil_rounding_fires_orthogonal_neurons():
    # S3 (docs/findings.md): with rotated bases a foreign neuron of the constructed minimizer is orthogonal
    # to the class only up to rounding, w.x ~ 1e-16, and the ceil staircase has sigma(1e-16) = alpha.
    # The round staircase (t_1 = alpha / 2) is immune. Data seed 1, K = 3, d_k = 2, N = 3, bits 2.
    data = S.orthogonal_subspaces(3, 2, 50, seed=1)
    ceil, rnd = Staircase(2, 1.0), Staircase(2, 1.0, "round")
    f = mlp_forward(data.x, S.constructed_minimizer(data, 3, ceil), ceil).f
    assert mlp_loss(f, data.labels, "hinge")[0] > 0 and S.accuracy(f, data.labels) < 1
    f = mlp_forward(data.x, S.constructed_minimizer(data, 3, rnd), rnd).f
    assert mlp_loss(f, data.labels, "hinge")[0] == 0 and S.accuracy(f, data.labels) == 1


def test_constructed_minimizer_needs_enough_neurons():
    data = S.orthogonal_subspaces(2, 3, 10, seed=0)
    with pytest.raises(ValueError, match="pass N >= d_k \\+ 1 = 4"):
        S.constructed_minimizer(data, 3, Staircase())


def test_accuracy_counts_ties_as_errors():
    assert S.accuracy(np.array([[1.0, 1.0], [2.0, 1.0]]), [0, 0]) == 0.5


def test_group_indicator_and_init():
    V = S.group_indicator(3, 2)
    np.testing.assert_array_equal(V, [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]])
    p = S.subspace_init(3, 2, 5, seed=0)
    assert p.W.shape == (6, 5) and not p.b.any() and not p.c.any()


# ---------------------------------------------------------------------------- training: decoupling and stopping

def _projected_descent(data, W0, y, ste, stair, lr, steps, N):
    """Class y's own problem, by hand: inputs z_y, every neuron projected on V_y, step lr n_y / n."""
    z = data.z[y]
    K = data.K
    P = MLPParams(W0 @ data.bases[y], np.zeros(K * N), S.group_indicator(K, N), np.zeros(K))
    labels = np.full(z.shape[0], y)
    step = lr * z.shape[0] / data.x.shape[0]
    for _ in range(steps):
        fwd = mlp_forward(z, P, stair)
        _, delta = mlp_loss(fwd.f, labels, "hinge", margin=stair.alpha)
        g = mlp_coarse_grad(z, P, fwd, delta, ste, stair, freeze_second_layer=True)
        P = P._replace(W=P.W - step * g.W)
    return P.W


def _decoupling_error(run_full, data, W0, ste, stair, lr, N):
    """max |W_full U_y - W_y| over y, and the change of W_full off the subspaces."""
    W, steps = run_full(data, W0)
    errs = [np.abs(W @ data.bases[y] - _projected_descent(data, W0, y, ste, stair, lr, steps, N)).max()
            for y in range(data.K)]
    B = np.hstack(data.bases)
    off = np.abs((W - W0) - (W - W0) @ B @ B.T).max()
    return float(np.max(errs)), float(off)


@pytest.mark.parametrize("ste, conv", [("relu", "ceil"), ("clipped_relu", "round"), ("identity", "ceil")])
def test_training_decouples_into_k_projected_problems(ste, conv):
    data = S.orthogonal_subspaces(3, (2, 3, 2), 20, d=9, seed=4)
    stair = Staircase(2, 1.0, conv)
    N, lr = 4, 0.7
    p0 = S.subspace_init(3, N, 9, seed=7)

    def full(data, W0):
        run = S.subspace_descent(data, p0, ste, stair, lr=lr, steps=60, coverage_every=1000)
        return run.params.W, run.steps

    err, off = _decoupling_error(full, data, p0.W, ste, stair, lr, N)
    assert err <= 1e-12, f"full vs projected problems: max |W U_y - W_y| = {err:.2e} ({ste}, {conv})"
    assert off <= 1e-12, f"W moved off the span of the subspaces by {off:.2e}"


def test_decoupling_negative_control_wrong_step():
    data = S.orthogonal_subspaces(3, 2, 20, seed=4)
    stair = Staircase(2, 1.0)
    p0 = S.subspace_init(3, 4, 6, seed=7)

    def full_with_unscaled_step(data, W0):     # K times too large a step: the per-class problems no longer match
        run = S.subspace_descent(data, p0, "relu", stair, lr=3 * 0.7, steps=20, coverage_every=1000)
        return run.params.W, run.steps

    assert _decoupling_error(full_with_unscaled_step, data, p0.W, "relu", stair, 0.7, 4)[0] > 1e-3


def test_descent_stops_at_exactly_zero_hinge_loss():
    data = S.orthogonal_subspaces(3, 2, 50, seed=1)
    stair = Staircase(2, 1.0, "round")
    run = S.subspace_descent(data, S.subspace_init(3, 6, 6, seed=100), "relu", stair, lr=1.0, steps=2000)
    loss = run.history["loss"]
    assert run.stopped == "zero_loss" and run.zero_loss_step == run.steps == run.history.step[-1]
    assert loss[-1] == 0.0 and np.all(loss[:-1] > 0) and run.history["accuracy"][-1] == 1.0
    f = mlp_forward(data.x, run.params, stair).f
    rows = np.arange(len(data.labels))
    own = f[rows, data.labels]
    f[rows, data.labels] = -np.inf
    assert np.min(own - f.max(axis=1)) >= stair.alpha      # loss 0 is classification with the margin
    assert not run.params.b.any()
    assert run.geometry.step[-1] == run.steps               # the geometry is recorded at the stopping step


def test_descent_without_zero_loss_runs_all_steps():
    data = S.orthogonal_subspaces(3, 2, 30, seed=1)
    run = S.subspace_descent(data, S.subspace_init(3, 2, 6, seed=0), "relu", Staircase(1, 1.0), lr=1.0, steps=40)
    assert run.stopped == "steps" and run.zero_loss_step is None and run.steps == 40
    assert len(run.history["loss"]) == 41


def test_descent_rejects_bad_input():
    data = S.orthogonal_subspaces(3, 2, 5, seed=0)
    with pytest.raises(TypeError, match="data must be a SubspaceData"):
        S.subspace_descent((data.x, data.labels), S.subspace_init(3, 2, 6, 0), "relu", Staircase(), lr=1, steps=1)
    with pytest.raises(ValueError, match="use subspace_init"):
        S.subspace_descent(data, S.subspace_init(2, 2, 6, 0), "relu", Staircase(), lr=1, steps=1)


@given(seed=seeds, N=st.integers(1, 7))
def test_coverage_by_angles_agrees_with_lp(seed, N):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((N, 2))
    assert S.covered(u, method="angles").covered == S.covered(u, method="lp").covered


# ---------------------------------------------------------------------------- counterexamples (docs/findings.md)

def _explore_run(ste, bits, conv, m, N, seed, steps):
    """The runs of scripts/explore_subspaces.py: K = 3, n = 50, data seed ``seed``, init seed 100 + seed."""
    data = S.orthogonal_subspaces(3, m, 50, seed=seed)
    stair = Staircase(bits, 1.0, conv)
    run = S.subspace_descent(data, S.subspace_init(3, N, data.x.shape[1], 100 + seed), ste, stair, lr=1.0,
                             steps=steps, coverage_every=10 * steps)
    return data, stair, run


def test_counterexample_too_few_neurons_is_a_coarse_stationary_point():
    # S1: relu, 2-bit round, d_k = 3, N = 4 < 2 d_k, seed 2 (scripts/explore_subspaces.py: 6/10 seeds succeed).
    # Training stops moving at hinge loss 4/150 > 0: the misclassified points have no own neuron on their
    # positive side, so under M2 they send no signal, and no foreign neuron fires on them.
    data, stair, run = _explore_run("relu", 2, "round", 3, 4, seed=2, steps=300)
    assert run.zero_loss_step is None and run.history["loss"][-1] > 0
    assert run.history["speed"][-1] == 0.0                       # coarse gradient exactly 0: a stationary point
    fwd = mlp_forward(data.x, run.params, stair)
    rows = np.arange(len(data.labels))
    wrong = fwd.f[rows, data.labels] < stair.alpha                # the points that still cost loss
    own = fwd.h.reshape(len(rows), 3, 4)[rows, data.labels]     # (n, N) own pre-activations
    assert wrong.any() and np.all(own[wrong] <= 0), "stuck points should be uncovered by their own neurons"


def test_counterexample_n_equals_2dk_can_stop_short():
    # S1: at N = 2 d_k success is likely, not certain: relu, 2-bit round, d_k = 2, N = 4, seed 15 stops at
    # hinge loss 32/150 with a coarse gradient exactly 0 (83 of seeds 0-99 reach 0; all 100 at N = 8).
    _, _, run = _explore_run("relu", 2, "round", 2, 4, seed=15, steps=400)
    assert run.zero_loss_step is None and run.history["speed"][-1] == 0.0
    assert run.history["loss"][-1] * 150 == pytest.approx(32, abs=1e-9)


def test_counterexample_clipped_relu_one_bit_freezes_on_saturated_neurons():
    # S4: clipped relu, 1-bit round (mu' = 0 above L alpha = 1), d_k = 2, N = 4, seed 0: stuck at loss 6/150.
    data, stair, run = _explore_run("clipped_relu", 1, "round", 2, 4, seed=0, steps=1000)
    assert run.zero_loss_step is None and run.history["speed"][-1] == 0.0 and run.history["loss"][-1] > 0
    fwd = mlp_forward(data.x, run.params, stair)
    rows = np.arange(len(data.labels))
    h = fwd.h.reshape(len(rows), 3, 4)
    gap = stair.alpha - fwd.f[rows, data.labels][:, None] + fwd.f          # hinge terms (k != y)
    gap[rows, data.labels] = 0
    stuck = np.flatnonzero(np.any(gap > 0, axis=1))
    assert stuck.size
    for i in stuck:                 # every neuron that could carry this point's signal sits where mu' = 0
        for k in [data.labels[i], *np.flatnonzero(gap[i] > 0)]:
            live = h[i, k][h[i, k] > 0]
            assert np.all(live > stair.top), f"point {i}, class {k}: pre-activations {h[i, k]} not saturated"
    _, _, run_log = _explore_run("log_tailed_relu", 1, "round", 2, 4, seed=0, steps=400)
    assert run_log.zero_loss_step is not None                     # mu' > 0 beyond the top: it gets through


def test_counterexample_one_bit_ceil_cannot_silence_a_foreign_neuron():
    # S2: with the 1-bit ceil staircase sigma(h) = alpha 1{h > 0} is scale-free, so a foreign neuron fires on
    # the half of a class on its positive side however small its projection: pushing it away only flips the half.
    data, stair, run = _explore_run("relu", 1, "ceil", 2, 8, seed=0, steps=150)
    assert run.zero_loss_step is None and run.history["loss"][-1] > 1.0
    h = mlp_forward(data.x, run.params, stair).h.reshape(len(data.labels), 3, 8)
    for y in range(3):
        foreign = np.delete(h[data.labels == y], y, axis=1)       # (n, 2, N)
        frac = np.mean(foreign > 0)
        assert 0.3 < frac < 0.7, f"class {y}: foreign neurons fire on a fraction {frac:.2f} of (point, neuron) pairs"


def test_identity_ste_moves_a_class_neurons_in_parallel():
    # Identity STE: mu' = 1, so every neuron of class k gets the same coarse gradient -(sum of its active
    # points) and the differences w_kj - w_k0 never change -- the directions cannot spread (S6).
    data = S.orthogonal_subspaces(3, 2, 40, seed=1)
    p0 = S.subspace_init(3, 5, 6, seed=2)
    run = S.subspace_descent(data, p0, "identity", Staircase(2, 1.0), lr=1.0, steps=50, coverage_every=100)
    diff = lambda W: W.reshape(3, 5, 6) - W.reshape(3, 5, 6)[:, :1]
    err = np.abs(diff(run.params.W) - diff(p0.W)).max()
    assert err <= 1e-12 and np.abs(run.params.W - p0.W).max() > 0.1, err


# ---------------------------------------------------------------------------- claims 10-12: negative controls

def _anti_descent(data, params0, ste, staircase, *, lr, steps, coverage_every=25, **kw):
    """A wrong training oracle: coarse gradient *ascent* (mu' negated), at most 30 steps."""
    anti = (lambda z, s: -np.maximum(z, 0), lambda z, s: -(z > 0).astype(z.dtype))
    return S.subspace_descent(data, params0, anti, staircase, lr=lr, steps=min(steps, 30),
                              coverage_every=coverage_every, **kw)


def test_claim_10_fails_with_wrong_oracles():
    from coarsegrad import claims
    always = lambda x, labels: S.Separability(True, 0, "wrong oracle: always separable")
    assert not claims.claim_10("quick", 0, separability=always).passed
    random_net = lambda data, N, stair: S.subspace_init(data.K, N, data.x.shape[1], seed=0)
    assert not claims.claim_10("quick", 0, minimizer=random_net).passed


def test_claim_11_fails_with_a_wrong_descent():
    from coarsegrad import claims
    result = claims.claim_11("quick", 0, descent=_anti_descent)
    assert not result.passed and result.checks[0].value < 1.0


def test_claim_12_fails_with_a_wrong_descent():
    from coarsegrad import claims
    result = claims.claim_12("quick", 0, descent=_anti_descent)
    assert not result.passed and result.checks[0].value < claims.PRESETS["quick"]["sub_slow_fast_runs"]


def test_subspace_regime():
    from coarsegrad.claims import subspace_regime
    assert subspace_regime("relu", 2, "ceil", 2, 8) and subspace_regime("relu", 1, "round", 3, 12)
    assert not subspace_regime("relu", 2, "round", 2, 4)          # N = 2 d_k: 83 of 100 seeds (S1)
    assert not subspace_regime("relu", 1, "ceil", 2, 8)
    assert not subspace_regime("clipped_relu", 1, "round", 2, 4)
    assert not subspace_regime("identity", 2, "round", 2, 8)
    assert not subspace_regime("relu", 2, "round", 3, 4)


@settings(max_examples=30)   # each example is a Python loop over points and neurons
@given(seed=seeds, K=st.integers(2, 3), N=st.integers(1, 4), m=st.integers(1, 3))
def test_data_coverage_and_projections_match_loops(seed, K, N, m):
    rng = np.random.default_rng(seed)
    data = S.orthogonal_subspaces(K, m, 6, d=K * m + 1, seed=seed)
    p = S.subspace_init(K, N, K * m + 1, seed=rng)
    got = S.data_coverage(data.x, data.labels, p, N)
    P = S.projections(p, data.bases, N)
    for y in range(K):
        best = min(max(float(np.dot(p.W[y * N + j], x)) for j in range(N)) for x in data.x[data.labels == y])
        assert abs(got[y] - best) <= 1e-12
        for k in range(K):
            for j in range(N):
                np.testing.assert_allclose(P[y][k, j], data.bases[y].T @ p.W[k * N + j], rtol=0, atol=1e-12)
