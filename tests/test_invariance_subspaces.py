"""Invariances of the orthogonal-subspace model (issue 17, item 1), as property tests.

Each relation is checked by a function of the transformation it is given, so that a negative control
can hand it a transformation that breaks the relation (a shear for a rotation, neurons moved across
classes for a permutation within a class) and see the check fail.

- rotation: with data ``x -> x R^T`` and weights ``W -> W R^T`` (``R`` orthogonal) the pre-activations
  are unchanged, so the hinge loss is equal and the coarse gradient is ``G R^T``; the separability
  verdict of ``x R^T`` is that of ``x``, and the coverage of ``u Q^T`` (``Q`` in ``O(m)``) that of ``u``;
- permutation: of neurons within a class, of classes (relabelled with their neurons), of samples in a
  full batch -- loss equal, gradient permuted alike;
- global scaling of the data by ``10^e``, ``|e| <= 300`` where representable: separability and
  coverage verdicts unchanged and decided.

Numbers are compared at rounding level (``RTOL``): the staircase is evaluated on pre-activations that
differ by rounding only, and random data keep them away from its thresholds (checked: a flip would
show as a loss difference of a whole step).
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from coarsegrad import Staircase
from coarsegrad import subspaces as S
from coarsegrad.nets import mlp_coarse_grad, mlp_forward, mlp_loss
from strategies import seeds

RTOL = 1e-11         # rounding level for sums of a few dozen terms
EXAMPLES = dict(max_examples=25, derandomize=True, deadline=None)


def _orthogonal(rng, d):
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


@st.composite
def subspace_problems(draw):
    """A subspace model at random weights: data, params, staircase, STE, margin, N."""
    rng = np.random.default_rng(draw(seeds))
    K, m, N = draw(st.integers(2, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    data = S.orthogonal_subspaces(K, m, draw(st.integers(2, 8)), d=K * m + draw(st.integers(0, 2)),
                                  distribution=draw(st.sampled_from(S.DISTRIBUTIONS)), seed=rng)
    stair = Staircase(draw(st.integers(1, 3)), draw(st.sampled_from([1.0, 0.3, 0.5])),
                      draw(st.sampled_from(["ceil", "round"])))
    p = S.subspace_init(K, N, data.x.shape[1], rng, scale=draw(st.sampled_from([0.5, 1.0, 3.0])))
    ste = draw(st.sampled_from(["relu", "clipped_relu", "log_tailed_relu", "identity"]))
    return dict(data=data, params=p, stair=stair, ste=ste, N=N, rng=rng)


def _loss_grad(x, labels, p, stair, ste):
    fwd = mlp_forward(x, p, stair)
    value, delta = mlp_loss(fwd.f, labels, "hinge", margin=stair.alpha)
    return value, mlp_coarse_grad(x, p, fwd, delta, ste, stair, freeze_second_layer=True).W


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) if b.size else 0.0


def _rotation_discrepancy(prob, R):
    """Loss and gradient of the model at (x R^T, W R^T) vs (x, W) with G -> G R^T."""
    data, p, stair, ste = prob["data"], prob["params"], prob["stair"], prob["ste"]
    l0, g0 = _loss_grad(data.x, data.labels, p, stair, ste)
    l1, g1 = _loss_grad(data.x @ R.T, data.labels, p._replace(W=p.W @ R.T), stair, ste)
    return max(abs(l1 - l0) / max(abs(l0), 1.0), _rel(g1, g0 @ R.T) if np.any(g0) else float(np.max(np.abs(g1))))


@settings(**EXAMPLES)
@given(prob=subspace_problems())
def test_hinge_loss_and_coarse_gradient_are_rotation_equivariant(prob):
    R = _orthogonal(prob["rng"], prob["data"].x.shape[1])
    assert _rotation_discrepancy(prob, R) <= RTOL


def test_rotation_negative_control_shear():
    # A shear is not orthogonal: the pre-activations change, and so do the loss or the gradient.
    rng = np.random.default_rng(3)
    data = S.orthogonal_subspaces(3, 2, 20, seed=rng)
    prob = dict(data=data, params=S.subspace_init(3, 4, 6, rng), stair=Staircase(2, 1.0), ste="relu", rng=rng)
    shear = np.eye(6) + np.triu(rng.standard_normal((6, 6)), 1)
    assert _rotation_discrepancy(prob, shear) > 1e-3


def _verdict(cert):
    return (cert.decided, cert.separable if hasattr(cert, "separable") else cert.covered)


@settings(max_examples=15, derandomize=True, deadline=None)
@given(seed=seeds, kind=st.sampled_from(["subspaces", "few points", "blobs"]))
def test_separability_is_rotation_invariant(seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "blobs":
        x = np.concatenate([5 * c + 0.3 * rng.standard_normal((10, 3)) for c in np.eye(3)])
        labels = np.repeat(np.arange(3), 10)
    else:
        data = S.orthogonal_subspaces(3, 3 if kind == "subspaces" else 6, 30 if kind == "subspaces" else 3, seed=rng)
        x, labels = data.x, data.labels
    R = _orthogonal(rng, x.shape[1])
    a, b = S.separability_lp(x, labels), S.separability_lp(x @ R.T, labels)
    assert a.decided and _verdict(a) == _verdict(b), (a, b)


@settings(max_examples=30, derandomize=True, deadline=None)
@given(seed=seeds, m=st.integers(2, 4), extra=st.integers(1, 8))
def test_coverage_is_rotation_invariant(seed, m, extra):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((m + extra, m))
    Q = _orthogonal(rng, m)
    a, b = S.covered(u), S.covered(u @ Q.T)
    assert a.decided and b.decided and a.covered == b.covered, (u.tolist(), a, b)
    if m == 2:
        assert S.covered(u @ Q.T, method="angles").covered == a.covered


def test_coverage_invariance_negative_control_projection():
    # A singular linear map is not a rotation: a covering set of the plane is flattened onto a line.
    u = np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])
    flat = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert S.covered(u).covered and not S.covered(u @ flat.T).covered


# ---------------------------------------------------------------------------- permutations

def _permutation_discrepancy(prob, neuron_perm, label_map, sample_perm):
    """Loss and gradient after relabelling class k as label_map[k] (its neurons moved with it),
    permuting neurons by neuron_perm (new row i = old row neuron_perm[i]) and samples by sample_perm."""
    data, p, stair, ste = prob["data"], prob["params"], prob["stair"], prob["ste"]
    l0, g0 = _loss_grad(data.x, data.labels, p, stair, ste)
    W1 = p.W[neuron_perm]
    x1, labels1 = data.x[sample_perm], label_map[data.labels[sample_perm]]
    l1, g1 = _loss_grad(x1, labels1, p._replace(W=W1), stair, ste)
    return max(abs(l1 - l0) / max(abs(l0), 1.0), _rel(g1, g0[neuron_perm]) if np.any(g0) else float(np.max(np.abs(g1))))


def _class_moves(K, N, rng, *, within=True, classes=True):
    """A neuron permutation and label map: classes relabelled (their neuron blocks moved with them) and
    neurons shuffled within each class."""
    label_map = rng.permutation(K) if classes else np.arange(K)
    inverse = np.argsort(label_map)               # new class c holds old class inverse[c]'s neurons
    perm = np.concatenate([inverse[c] * N + (rng.permutation(N) if within else np.arange(N)) for c in range(K)])
    return perm, label_map


@settings(**EXAMPLES)
@given(prob=subspace_problems(), within=st.booleans(), classes=st.booleans(), samples=st.booleans())
def test_loss_and_gradient_are_permutation_equivariant(prob, within, classes, samples):
    K, N, n = prob["data"].K, prob["N"], prob["data"].x.shape[0]
    perm, label_map = _class_moves(K, N, prob["rng"], within=within, classes=classes)
    sample_perm = prob["rng"].permutation(n) if samples else np.arange(n)
    assert _permutation_discrepancy(prob, perm, label_map, sample_perm) <= RTOL


def test_permutation_negative_control_neurons_moved_across_classes():
    rng = np.random.default_rng(5)
    data = S.orthogonal_subspaces(3, 2, 20, seed=rng)
    prob = dict(data=data, params=S.subspace_init(3, 4, 6, rng), stair=Staircase(2, 1.0), ste="relu", rng=rng, N=4)
    across = np.roll(np.arange(12), 1)           # the last neuron of each class becomes the next class's first
    assert _permutation_discrepancy(prob, across, np.arange(3), np.arange(60)) > 1e-3
    relabel_only = np.array([1, 2, 0])          # labels moved but not their neurons
    assert _permutation_discrepancy(prob, np.arange(12), relabel_only, np.arange(60)) > 1e-3


@settings(max_examples=15, derandomize=True, deadline=None)
@given(seed=seeds)
def test_separability_and_coverage_ignore_the_order_of_samples_and_class_names(seed):
    rng = np.random.default_rng(seed)
    data = S.orthogonal_subspaces(3, 2, 4, d=7, seed=rng)
    perm, names = rng.permutation(data.x.shape[0]), rng.permutation(3)
    a = S.separability_lp(data.x, data.labels)
    b = S.separability_lp(data.x[perm], names[data.labels[perm]])
    assert a.decided and _verdict(a) == _verdict(b)
    u = rng.standard_normal((6, 3))
    assert _verdict(S.covered(u)) == _verdict(S.covered(u[rng.permutation(6)]))


# ---------------------------------------------------------------------------- global scaling of the data

def _scale_exponents(x):
    """Exponents e in [-300, 300] for which x * 10^e stays finite and keeps every non-zero entry normal."""
    nz = np.abs(x[x != 0])
    lo, hi = np.log10(nz.min()), np.log10(nz.max())
    return [e for e in range(-300, 301, 25) if hi + e < 307.5 and lo + e > -307.0]


@settings(max_examples=12, derandomize=True, deadline=None)
@given(seed=seeds, kind=st.sampled_from(["subspaces", "blobs", "three points"]))
def test_separability_is_invariant_under_global_scaling(seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "subspaces":
        data = S.orthogonal_subspaces(2, 2, 8, seed=rng)
        x, labels = data.x, data.labels
    elif kind == "blobs":
        x = np.concatenate([5 * c + 0.3 * rng.standard_normal((6, 3)) for c in np.eye(3)])
        labels = np.repeat(np.arange(3), 6)
    else:
        x, labels = rng.standard_normal((3, 2)), np.arange(3)
    base = _verdict(S.separability_lp(x, labels))
    assert base[0]
    for e in _scale_exponents(x):
        got = S.separability_lp(x * 10.0 ** e, labels)
        assert _verdict(got) == base, (e, got)


@settings(max_examples=12, derandomize=True, deadline=None)
@given(seed=seeds, m=st.integers(2, 3), extra=st.integers(1, 6))
def test_coverage_is_invariant_under_global_scaling(seed, m, extra):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((m + extra, m))
    base = _verdict(S.covered(u))
    assert base[0]
    for e in _scale_exponents(u):
        for method in (("lp", "angles") if m == 2 else ("lp",)):
            assert _verdict(S.covered(u * 10.0 ** e, method=method)) == base, (e, method)


def test_scaling_negative_control_unnormalized_certificate():
    # The certificate without normalization (status read alone) changes its verdict with the scale.
    from test_subspaces import _status_only
    x, labels = np.array([[1.0, 2.0], [-1.0, 1.5], [0.5, -1.0]]), [0, 1, 2]
    verdicts = {_verdict(_status_only(x * 10.0 ** e, labels)) for e in (0, 100, 300)}
    assert len(verdicts) > 1, verdicts
