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
from coarsegrad import certificates as C
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
    # a solver failure reported with the status of an infeasibility (HiGHS "Model error") must not certify
    model_error = lambda x, labels: S.Separability(None, 2, "wrong oracle: Model error", decided=False)
    assert claims.claim_10("quick", 0, separability=model_error).checks[0].passed is False
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


# ---------------------------------------------------------------------------- certificates: three outcomes (issue 17)

def _blobs(seed, scale=1.0):
    x, labels = _separable_control(seed)
    return x * scale, labels


#: (name, x, labels, truth): sets whose answer is known by construction, at the edges of the float range.
_THREE = np.array([[1.0, 2.0], [-1.0, 1.5], [0.5, -1.0]])
SEPARABILITY_CASES = [
    ("three points near 1e300", _THREE * 1e300, [0, 1, 2], True),         # three points are always separable
    ("three points up to 1.6e308", _THREE * 8e307, [0, 1, 2], True),       # max|x| / 2^e must not form 2^1024
    ("three points at 1e-100", _THREE * 1e-100, [0, 1, 2], True),
    ("three points at 1e100", _THREE * 1e100, [0, 1, 2], True),
    ("two points at +-1e-300", np.array([[1e-300], [-1e-300]]), [0, 1], True),
    ("blobs at 1e150", *_blobs(0, 1e150), True),
    ("blobs at 1e-150", *_blobs(0, 1e-150), True),
    ("1-D, needs the bias", np.array([[1.0], [2.0]]), [0, 1], True),    # a_0 x + b_0 vs a_1 x + b_1
    ("1-D, needs the bias, 3 points", np.array([[1.0], [2.0], [3.0]]), [0, 0, 1], True),
    ("1-D interleaved", np.array([[1.0], [2.0], [3.0]]), [0, 1, 0], False),
    ("same point, two labels", np.array([[1.0, 1.0], [1.0, 1.0]]), [0, 1], False),
    ("XOR at 1e200", 1e200 * np.array([[1.0, 1], [-1, -1], [1, -1], [-1, 1]]), [0, 0, 1, 1], False),
    ("XOR at 1e-200", 1e-200 * np.array([[1.0, 1], [-1, -1], [1, -1], [-1, 1]]), [0, 0, 1, 1], False),
]


def _separability_errors(fn, cases):
    """Cases where ``fn`` gives a *decided* answer that is wrong (undecided counts as an error too:
    every case here is well inside the float range after normalization)."""
    bad = []
    for name, x, labels, truth in cases:
        cert = fn(x, labels)
        if not (cert.decided and cert.separable == truth):
            bad.append((name, cert.verdict if hasattr(cert, "verdict") else cert, cert.message))
    return bad


def test_separability_certificate_at_the_edges_of_the_float_range():
    bad = _separability_errors(S.separability_lp, SEPARABILITY_CASES)
    assert not bad, f"wrong or undecided verdicts: {bad}"


def _status_only(x, labels):
    """The pre-issue-17 certificate: no normalization, "decided" read from scipy's status alone
    (a HiGHS model error comes back with status 2, like an infeasibility)."""
    from scipy.optimize import linprog
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    n, d = x.shape
    K = labels.max() + 1
    xb = np.hstack([x, np.ones((n, 1))])
    rows = []
    for i in range(n):
        for rival in range(K):
            if rival != labels[i]:
                r = np.zeros(K * (d + 1))
                r[labels[i] * (d + 1):(labels[i] + 1) * (d + 1)] = -xb[i]
                r[rival * (d + 1):(rival + 1) * (d + 1)] = xb[i]
                rows.append(r)
    res = linprog(np.zeros(K * (d + 1)), A_ub=np.array(rows), b_ub=-np.ones(len(rows)), bounds=(None, None))
    return S.Separability(res.status == 0, int(res.status), str(res.message))


def _no_bias(x, labels):
    """The certificate with its bias column zeroed: every rule ``argmax_k a_k . x`` passes through the origin."""
    from scipy.optimize import linprog
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    n, d = x.shape
    K = labels.max() + 1
    rows = []
    for i in range(n):
        for rival in range(K):
            if rival != labels[i]:
                r = np.zeros(K * d)
                r[labels[i] * d:(labels[i] + 1) * d] = -x[i]
                r[rival * d:(rival + 1) * d] = x[i]
                rows.append(r)
    res = linprog(np.zeros(K * d), A_ub=np.array(rows), b_ub=-np.ones(len(rows)), bounds=(None, None))
    return S.Separability(res.status == 0, int(res.status), str(res.message))


def test_separability_negative_controls_status_only_and_no_bias():
    bad = _separability_errors(_status_only, SEPARABILITY_CASES)
    assert any(name == "three points near 1e300" for name, *_ in bad), bad        # "Model error" read as infeasible
    bad = _separability_errors(_no_bias, SEPARABILITY_CASES)
    assert any(name.startswith("1-D, needs the bias") for name, *_ in bad), bad


def test_separability_undecided_when_scaling_loses_the_data():
    # 1e-300 and 2e-300 underflow to 0 next to 1e300: the scaled LP is infeasible, the set is separable
    # (threshold at 1.5e-300). The certificate must not call that "not separable".
    cert = S.separability_lp(np.array([[1e-300], [2e-300], [1e300]]), [0, 1, 1])
    assert not cert.decided and cert.separable is None and cert.verdict == "undecided"
    assert "underflowed" in cert.message and cert.status == 2


def test_separability_hand_made_oracle_defaults():
    assert S.Separability(True, 0, "x").decided and not S.Separability(None, 4, "x").decided
    assert S.Separability(False, 2, "x").verdict == "not separable"


# ---------------------------------------------------------------------------- coverage: scale, rank, methods

_TRI = np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])
_OCTA = np.vstack([np.eye(3), -np.eye(3)])


@pytest.mark.parametrize("method", ["lp", "auto"])
@pytest.mark.parametrize("u, truth", [
    (1e-200 * _TRI, True), (1e200 * _TRI, True), (_TRI * [[1e-170], [1.0], [1.0]], True),
    (1e308 * _TRI, True), (5e-324 * np.sign(_TRI), True), (1e-200 * _TRI[:2], False),
    (1e-200 * _OCTA, True), (1e200 * _OCTA, True), (_OCTA * np.array([1e-170, 1, 1, 1, 1, 1e200])[:, None], True),
    (1e-200 * _OCTA[:5], False),
])
def test_coverage_keeps_rows_whose_length_under_or_overflows(u, truth, method):
    cov = S.covered(u, method=method)
    assert cov.decided and cov.covered == truth, cov


def test_coverage_rank_test_decides_rank_deficient_sets():
    # [[1,0],[-1,0],[2,0]] has a strictly positive combination equal to 0 (1 + 2 * 1/2 = 1... after normalizing:
    # u_1 + u_3 = 2 e_1 = -2 u_2), yet spans only a line: not covered. The rank test decides it, without an LP.
    for method in ("lp", "angles", "auto"):
        cov = S.covered([[1.0, 0], [-1, 0], [2, 0]], method=method)
        assert not cov.covered and cov.decided and cov.rank == 1 and cov.status == -1, cov
    cov = S.covered(np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [1, 1, 0]]))
    assert not cov.covered and cov.rank == 2 and cov.status == -1


def test_coverage_near_antipodal_pair_both_methods_agree():
    # The case: the LP path used to answer "not covered" for a set the angles (rightly) call covered.
    for eps, truth in ((-1e-9, True), (1e-9, False), (-1e-12, True), (1e-12, False), (0.0, False)):
        u = np.array([[1.0, 0.0], [-1.0, eps], [0.0, 1.0]])
        a, b = S.covered(u, method="angles"), S.covered(u, method="lp")
        assert a.covered == b.covered == truth and b.decided, (eps, a, b)


@st.composite
def plane_sets(draw):
    """Sets of 2-D vectors with exact antipodal pairs, near-antipodal pairs (1e-9 .. 1e-13 rad) and
    random directions, lengths over 1e-150 .. 1e150."""
    rng = np.random.default_rng(draw(seeds))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["random", "antipodal", "near"]))
        t = rng.uniform(0, 2 * np.pi)
        v = np.array([np.cos(t), np.sin(t)])
        rows.append(v)
        if kind == "antipodal":
            rows.append(-v)
        elif kind == "near":
            e = draw(st.sampled_from([1e-9, -1e-9, 1e-13, -1e-13]))
            rows.append(-np.array([np.cos(t + e), np.sin(t + e)]))
    u = np.array(rows) * 10.0 ** rng.uniform(-150, 150, (len(rows), 1))
    return u[rng.permutation(len(u))]


@settings(max_examples=150, derandomize=True)
@given(u=plane_sets())
def test_coverage_methods_decide_the_same_question_2d(u):
    a, b = S.covered(u, method="angles"), S.covered(u, method="lp")
    assert b.decided, b.message
    assert a.covered == b.covered, (u.tolist(), a, b)


def _cone_reference(u, tol_in=1e-12, tol_out=1e-6):
    """Independent reference (no linprog): ``u`` positively spans ``R^m`` iff every ``+-e_k`` is in the
    cone of the ``u_j`` (a convex cone holding all ``+-e_k`` is ``R^m``), each membership by NNLS.
    Returns True / False, or None when some residual lies between the two tolerances (not decisive)."""
    from scipy.optimize import nnls
    u = np.asarray(u, dtype=np.float64)
    u = u[np.linalg.norm(u, axis=1) > 0]
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    m = u.shape[1]
    residuals = [nnls(u.T, s * np.eye(m)[k])[1] for k in range(m) for s in (1.0, -1.0)]
    worst = np.max(residuals)
    return True if worst < tol_in else (False if worst > tol_out else None)


def _coverage_vs_reference(covered_fn, m, n_sets, seed=0):
    rng = np.random.default_rng(seed)
    rows, undecided = [], 0
    for _ in range(n_sets):
        N = int(rng.integers(m + 1, 4 * m))
        u = rng.standard_normal((N, m)) * 10.0 ** rng.uniform(-100, 100, (N, 1))
        if rng.random() < 0.2:                          # an exactly antipodal pair
            u[1] = -u[0] * 3.0
        ref = _cone_reference(u)
        if ref is None:
            continue
        got = covered_fn(u)
        undecided += not getattr(got, "decided", True)
        rows.append((bool(got), ref))
    return rows, undecided


@pytest.mark.parametrize("m", [3, 4])
def test_coverage_lp_agrees_with_cone_reference(m):
    rows, undecided = _coverage_vs_reference(S.covered, m, 150)
    wrong = [r for r in rows if r[0] != r[1]]
    assert not wrong and not undecided, f"{len(wrong)} disagreements, {undecided} undecided of {len(rows)}"
    truths = [r[1] for r in rows]
    assert 20 <= sum(truths) <= len(truths) - 20, "the random sets should cover both answers"


def test_coverage_reference_negative_control():
    from scipy.optimize import linprog

    def lambda_nonneg(u):          # "sum lambda_j u_j = 0, lambda >= 0": always feasible (lambda = 0)
        u = np.asarray(u) / np.linalg.norm(u, axis=1, keepdims=True)
        return linprog(np.zeros(len(u)), A_eq=u.T, b_eq=np.zeros(u.shape[1]), bounds=(0, None)).status == 0
    rows, _ = _coverage_vs_reference(lambda_nonneg, 3, 40)
    assert any(r[0] != r[1] for r in rows)


# ---------------------------------------------------------------------------- Wendel: exact and stable

def _wendel_exact(N, m):
    from fractions import Fraction
    return Fraction(sum(math.comb(N - 1, k) for k in range(min(m, N))), 2 ** (N - 1))


def test_wendel_equals_exact_fractions_correctly_rounded():
    for N in range(1, 41):
        for m in range(1, 45):
            w = _wendel_exact(N, m)
            assert S.wendel(N, m) == float(w) and S.coverage_probability(N, m) == float(1 - w), (N, m)
    for N, m in ((1024, 3), (1024, 512), (1000, 999), (777, 100)):
        w = _wendel_exact(N, m)
        assert S.wendel(N, m) == float(w) and S.coverage_probability(N, m) == float(1 - w), (N, m)


@pytest.mark.parametrize("N, m", [(1025, 3), (1500, 700), (2000, 1000), (3001, 1600), (1200, 60)])
def test_wendel_binomial_tail_matches_exact_fractions_beyond_the_exact_range(N, m):
    # relative accuracy in the normal range (a subnormal result such as wendel(1200, 20) = 2.6e-320 has none)
    w = _wendel_exact(N, m)
    assert float(min(w, 1 - w)) > np.finfo(np.float64).tiny
    for got, want in ((S.wendel(N, m), w), (S.coverage_probability(N, m), 1 - w)):
        assert got == pytest.approx(float(want), rel=1e-12, abs=0), (N, m, got, float(want))


def test_wendel_never_overflows():
    for N, m in ((10**6, 3), (2000, 1000), (10**4, 5000), (10**9, 10**9 + 5), (10**7, 1)):
        w, c = S.wendel(N, m), S.coverage_probability(N, m)
        assert 0.0 <= w <= 1.0 and 0.0 <= c <= 1.0 and abs(w + c - 1.0) <= 1e-12, (N, m, w, c)
    assert S.coverage_probability(10**4, 5000) == pytest.approx(0.5, abs=0.01)


def test_wendel_negative_control_float_formula_overflows():
    old = lambda N, m: math.fsum(math.comb(N - 1, k) for k in range(m)) / 2.0 ** (N - 1)
    with pytest.raises(OverflowError):
        old(2000, 1000)


# ---------------------------------------------------------------------------- data: scales and argument checks

def _gaussian_scale_z(generate, m=8, n=4000):
    """|mean |z|^2 - 1| in standard errors for the gaussian distribution (E|z|^2 = 1 by its definition)."""
    data = generate(m, n)
    r2 = np.sum(data.z[0] ** 2, axis=1)
    return abs(r2.mean() - 1.0) / (r2.std(ddof=1) / np.sqrt(n))


def test_gaussian_subspace_data_have_unit_mean_square_and_negative_control():
    good = lambda m, n: S.orthogonal_subspaces(2, m, n, distribution="gaussian", seed=11)
    assert _gaussian_scale_z(good) <= MC_Z

    def unscaled(m, n):          # the generator without its 1/sqrt(d_k)
        d = good(m, n)
        return d._replace(z=tuple(z * np.sqrt(m) for z in d.z))
    assert _gaussian_scale_z(unscaled) > MC_Z


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(dims=2.0), TypeError, "dims must be one int or a sequence of K = 2 ints"),
    (dict(dims="22"), TypeError, "dims must be one int or a sequence"),
    (dict(dims=(2, 2.5)), TypeError, "dims\\[1\\] must be an integer"),
    (dict(dims=2, rotate="no"), TypeError, "rotate must be True"),
    (dict(dims=2, rotate=0), TypeError, "rotate must be True"),
], ids=["dims-float", "dims-str", "dims-entry-float", "rotate-str", "rotate-int"])
def test_generator_rejects_non_integer_dims_and_non_boolean_rotate(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        S.orthogonal_subspaces(2, **kwargs)


def test_subspace_init_scale_multiplies_the_weights():
    a, b = S.subspace_init(3, 4, 6, seed=9), S.subspace_init(3, 4, 6, seed=9, scale=2.0)
    np.testing.assert_array_equal(b.W, 2.0 * a.W)                    # exact: a power of 2
    with pytest.raises(ValueError, match="scale must be a finite number"):
        S.subspace_init(3, 4, 6, seed=9, scale=0.0)


# ---------------------------------------------------------------------------- subspace_descent: bad input, records

def _small_run(**kw):
    data = S.orthogonal_subspaces(3, 2, 20, seed=0)
    p0 = kw.pop("params0", S.subspace_init(3, 4, 6, seed=100))
    return S.subspace_descent(data, p0, "relu", Staircase(2, 1.0, "round"), **{"lr": 1.0, "steps": 30, **kw})


@pytest.mark.parametrize("kw, exc, match", [
    (dict(lr=1e300), FloatingPointError, "subspace_descent diverged at step 1 .*lower lr \\(now 1e\\+300\\)"),
    (dict(lr=1e160), FloatingPointError, "weights overflowed the safe range.*lower lr"),
    (dict(keep_weights=["a"]), TypeError, "keep_weights\\[0\\] must be an integer"),
    (dict(keep_weights=[-1]), ValueError, "keep_weights\\[0\\] must be an integer >= 0"),
    (dict(keep_weights=3), TypeError, "keep_weights must be a sequence"),
    (dict(steps=10**9), ValueError, "GiB of records.*pass a larger record_every"),
    (dict(record_every=0), ValueError, "record_every must be an integer >= 1"),
    (dict(params0=S.subspace_init(3, 4, 6, seed=100)._replace(b=np.full(12, 0.5))), ValueError,
     "params0.b has 12 non-zero entries"),
], ids=["lr-1e300", "lr-1e160", "keep-str", "keep-negative", "keep-int", "steps-1e9", "record-every-0", "b-nonzero"])
def test_descent_rejects_bad_input_with_the_argument_named(kw, exc, match):
    with pytest.raises(exc, match=match):
        with np.errstate(all="raise"):                 # and no overflow warning on the way: the error is the message
            _small_run(**kw)


def test_descent_record_every_subsamples_the_same_run():
    full, strided = _small_run(steps=60), _small_run(steps=60, record_every=7)
    np.testing.assert_array_equal(full.params.W, strided.params.W)
    steps = strided.history.step
    assert steps[0] == 0 and steps[-1] == full.steps and all(s % 7 == 0 for s in steps[:-1])
    for key in ("loss", "accuracy", "speed"):
        assert strided.history[key].tolist() == full.history[key][steps].tolist()
    assert strided.geometry.as_dict() == full.geometry.as_dict() and strided.t_star == full.t_star
    assert strided.settings["record_every"] == 7


def _t_star_check(run):
    """t* must be the first geometry record with *every* class covered (None if none)."""
    cov = run.geometry["covered"]
    first = next((s for s, c in zip(run.geometry.step, cov) if c == run.settings["K"]), None)
    return run.t_star == first


def test_t_star_is_the_first_step_with_every_class_covered_and_negative_controls():
    # data seed 0, init seed 100, d_k = 2, N = 4: classes covered 1, 1, 2, 2, 2, 3, ... ; t* = 5 < loss-0 step 47
    run = _explore_like(seed=0)
    assert run.t_star == 5 and run.zero_loss_step == 47 and _t_star_check(run)
    cov = run.geometry["covered"]
    assert cov[2] == 2 and np.all(cov[5:] == 3)          # "2 of 3 covered" would give t* = 2
    import dataclasses
    assert not _t_star_check(dataclasses.replace(run, t_star=2))
    assert not _t_star_check(dataclasses.replace(run, t_star=run.geometry.step[-1]))   # the last covered step


def _explore_like(seed):
    data = S.orthogonal_subspaces(3, 2, 50, seed=seed)
    p0 = S.subspace_init(3, 4, 6, seed=100 + seed)
    return S.subspace_descent(data, p0, "relu", Staircase(2, 1.0, "round"), lr=1.0, steps=300, coverage_every=1)


def test_geometry_record_matches_its_parts():
    data = S.orthogonal_subspaces(3, (2, 3, 2), 20, seed=2)
    p = S.subspace_init(3, 5, 7, seed=3)
    record, all_cov = S.subspace_geometry(p, data, 5)
    cov = S.class_coverage(p, data.bases, 5, method="auto")
    assert record["covered"] == sum(c.covered for c in cov) and all_cov == all(cov)
    assert [record[f"covered_{k}"] for k in range(3)] == [float(c.covered) for c in cov]
    np.testing.assert_array_equal([record[f"data_coverage_{k}"] for k in range(3)],
                                  S.data_coverage(data.x, data.labels, p, 5))
    P = S.projections(p, data.bases, 5)
    own = np.mean([np.mean([np.linalg.norm(P[y][y][j]) for j in range(5)]) for y in range(3)])
    assert record["own_norm"] == pytest.approx(own, rel=1e-14)


def test_claim_11_fails_at_accuracy_1_with_hinge_loss_above_0():
    # A descent whose final network classifies every point (accuracy 1) but not with the margin: c shifts
    # class 0's output down by alpha / 2, so points with margin exactly alpha keep hinge loss alpha / 2 > 0.
    # Success is hinge loss exactly 0 (a global minimum), so the claim must fail.
    from coarsegrad import claims

    def short_of_the_margin(data, params0, ste, staircase, **kw):
        run = S.subspace_descent(data, params0, ste, staircase, **kw)
        c = np.zeros(data.K)
        c[0] = -0.5 * staircase.alpha
        run.params = run.params._replace(c=c)
        return run

    result = claims.claim_11("quick", 0, descent=short_of_the_margin)
    assert not result.passed and result.checks[0].value == 0.0
    assert result.checks[1].value == 1.0                      # every final training accuracy is still 1


@pytest.mark.parametrize("call, exc, match", [
    (lambda: S.covered(np.ones((4, 3)), method="angles"), ValueError, "decides coverage in the plane only.*use method='lp'"),
    (lambda: S.covered([[1.0, np.nan], [0, 1], [-1, 0]]), ValueError, "u contains 1 non-finite value"),
    (lambda: S.covered(np.ones(3)), ValueError, "u must be a 2-D array"),
    (lambda: S.wendel(0, 2), ValueError, "N must be an integer >= 1"),
    (lambda: S.wendel(3, 2.0), TypeError, "m must be an integer >= 1"),
    (lambda: S.coverage_probability(10, True), TypeError, "m must be an integer >= 1"),
    (lambda: S.separability_lp(np.ones((3, 2)), [0, 1]), ValueError, "labels has 2 labels but the batch has 3"),
    (lambda: S.separability_lp([[1.0, np.inf]], [0]), ValueError, "x contains 1 non-finite value"),
], ids=["angles-3d", "u-nan", "u-1d", "wendel-N-0", "wendel-m-float", "coverage-m-bool", "labels-count", "x-inf"])
def test_certificates_reject_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_input_section_names_existing_tests():
    """Every row of the subspaces / training section of docs/bad-input.md names a test that exists."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "bad-input.md").read_text()
    section = doc.split("## Subspaces and training drivers")[1].split("\n## ")[0]
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith(("| #", "| ---"))]
    assert len(rows) >= 15, len(rows)
    for row in rows:
        path, name = re.search(r"`(tests/[\w/]+\.py)::(\w+)", row).groups()
        assert re.search(rf"^def {name}\(", (root / path).read_text(), re.M), f"{path}::{name} does not exist"


class _FakeResult:
    def __init__(self, status, message, x=None):
        self.status, self.message, self.x = status, message, x


@pytest.mark.parametrize("status, message, x", [
    (2, "(HiGHS Status 2: Model error)", None),                # scipy maps a HiGHS model error to status 2
    (1, "Iteration limit reached. (HiGHS Status 14: ...)", None),
    (4, "The problem is unbounded or infeasible. (HiGHS Status 12: ...)", None),
    (0, "Optimization terminated successfully. (HiGHS Status 7: Optimal)", "zeros"),   # a "solution" that fails the check
], ids=["model-error", "iteration-limit", "unbounded-or-infeasible", "bad-solution"])
def test_solver_failures_are_undecided_never_not_separable(monkeypatch, status, message, x):
    x_data, labels = _separable_control(0)
    n_var = 3 * (x_data.shape[1] + 1)
    fake = _FakeResult(status, message, np.zeros(n_var) if x == "zeros" else None)
    monkeypatch.setattr(C, "linprog", lambda *a, **k: fake)
    cert = S.separability_lp(x_data, labels)
    assert not cert.decided and cert.separable is None and cert.verdict == "undecided", cert
    assert message.split(" (")[0] in cert.message and "undecided" in cert.message


def test_covered_solver_failure_is_undecided(monkeypatch):
    monkeypatch.setattr(C, "linprog", lambda *a, **k: _FakeResult(1, "Iteration limit reached."))
    cov = S.covered(np.vstack([np.eye(3), -np.eye(3)]))
    assert not cov.decided and not cov.covered and cov.status == 4 and "Iteration limit" in cov.message


@pytest.mark.parametrize("eps", [1e-6, 1e-9, 1e-12])
def test_coverage_lp_decides_near_boundary_3d_sets_by_construction(eps):
    # e1, e2, (-1, -1, s eps), e3: a strictly positive combination vanishes iff s eps < 0 (lambda_4 = -s eps
    # lambda_3), so s = -1 covers with a margin ~eps and s = +1 leaves -e3 + tiny uncovered. Randomly rotated:
    # the certificates must resolve margins far above rounding (these go through the face LPs).
    rng = np.random.default_rng(int(-np.log10(eps)))
    wrong = []
    for i in range(12):
        s = (-1.0, 1.0)[i % 2]
        Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
        u = np.array([[1.0, 0, 0], [0, 1, 0], [-1, -1, s * eps], [0, 0, 1]]) @ Q
        cov = S.covered(u)
        if not (cov.decided and cov.covered == (s < 0)):
            wrong.append((s, cov))
    assert not wrong, wrong


def test_cover_faces_alone_decides_like_covered():
    # the fallback of covered() on its own: same answers on random sets of both kinds, and near the boundary
    rng = np.random.default_rng(4)
    for _ in range(15):
        u = C._unit_rows(rng.standard_normal((int(rng.integers(4, 8)), 3)))
        ok, decided, _ = C._cover_faces(u)
        assert decided and ok == S.covered(u).covered
    for s in (-1.0, 1.0):
        u = C._unit_rows(np.array([[1.0, 0, 0], [0, 1, 0], [-1, -1, s * 1e-9], [0, 0, 1]]))
        assert C._cover_faces(u)[:2] == (s < 0, True)
