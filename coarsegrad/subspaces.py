r"""The orthogonal-subspace classification model (SPEC §8; docs/theory.md §7).

``K`` classes live in mutually orthogonal subspaces ``V_1..V_K`` of ``R^d`` with orthonormal
bases ``U_k`` (``d x d_k``): a class-``k`` input is ``x = U_k z``, ``z`` in ``R^{d_k}`` drawn from a
distribution that surrounds the origin (uniform on the unit sphere by default). Such data are not
linearly separable, yet the quantized perceptron with ``N`` neurons per class and a fixed
group-indicator second layer classifies them perfectly::

    f_k(x) = sum_{j=1}^{N} sigma(w_{k,j} . x)            (b = 0, c = 0)

i.e. :func:`coarsegrad.nets.mlp_forward` with ``V[k, k N:(k+1) N] = 1``. This model is *our
formalization* of the companion paper's (Long, Yin, Xin 2021, arXiv 2002.12563; docs/paper-notes.md):
"training data of different classes lie in orthogonal subspaces".

What is here:

- :func:`orthogonal_subspaces` -- the data (seeded), with the bases;
- :func:`separability_lp` -- a linear-programming certificate that a labelled set is (not)
  linearly separable, with three outcomes (decided either way, or undecided with the solver's message);
- :func:`covered`, :func:`class_coverage`, :func:`data_coverage` -- the geometric condition:
  0 in the interior of the convex hull of a class's own neurons projected on its subspace and
  normalized (Gordan's alternative, decided by certified linear programs or, in the plane, by angles);
- :func:`wendel`, :func:`coverage_probability` -- the probability of that condition at random
  Gaussian initialization (Wendel 1962);
  (these three live in :mod:`coarsegrad.certificates`, re-exported here)
- :func:`subspace_init`, :func:`group_indicator`, :func:`constructed_minimizer` -- the network,
  and a global minimizer built by hand (hinge loss 0, accuracy 1);
- :func:`subspace_descent` -- full-batch coarse gradient descent with a fixed step, recording
  loss, accuracy, coverage and projection norms, stopping at hinge loss exactly 0.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from ._checks import as_float_array, check_iterates, check_positive_int, check_real, make_rng
from .certificates import (WENDEL_EXACT_MAX_N, Coverage, Separability, coverage_probability, covered,
                           separability_lp, wendel)
from .history import History
from .nets import MLPParams, _check_mlp, mlp_coarse_grad, mlp_forward, mlp_loss, LOSSES
from .quant import Staircase
from .ste import check_staircase, get_ste

__all__ = ["DISTRIBUTIONS", "WENDEL_EXACT_MAX_N", "SubspaceData", "orthogonal_subspaces", "Separability", "separability_lp",
           "Coverage", "covered", "class_coverage", "data_coverage", "wendel", "coverage_probability",
           "group_indicator", "subspace_init", "constructed_minimizer", "projections", "accuracy",
           "SubspaceRun", "subspace_descent", "subspace_geometry"]

DISTRIBUTIONS = ("sphere", "gaussian")


# =========================================================================================
# Data
# =========================================================================================

class SubspaceData(NamedTuple):
    """A labelled set on ``K`` mutually orthogonal subspaces.

    Attributes
    ----------
    x : ndarray, shape (sum_k n_k, d)
        Inputs, class by class (class 0's points first).
    labels : ndarray of int, shape (sum_k n_k,)
    bases : tuple of K ndarrays, shapes (d, d_k)
        Orthonormal bases ``U_k``; ``U_k^T U_l = 0`` for ``k != l``.
    z : tuple of K ndarrays, shapes (n_k, d_k)
        Coordinates: the class-``k`` rows of ``x`` are ``z_k U_k^T``.
    """

    x: np.ndarray
    labels: np.ndarray
    bases: tuple
    z: tuple

    @property
    def K(self) -> int:
        """Number of classes."""
        return len(self.bases)

    @property
    def dims(self) -> tuple:
        """Subspace dimensions ``(d_1, ..., d_K)``."""
        return tuple(U.shape[1] for U in self.bases)


def _dims(K: int, dims) -> tuple:
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        return (check_positive_int(dims, "dims"),) * K
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise TypeError(f"dims must be one int or a sequence of K = {K} ints (one subspace dimension per "
                        f"class); got {dims!r} of type {type(dims).__name__}")
    dims = tuple(dims)
    if len(dims) != K:
        raise ValueError(f"dims must be one int or K = {K} ints (one subspace dimension per class); got {dims}")
    return tuple(check_positive_int(m, f"dims[{k}]") for k, m in enumerate(dims))


def orthogonal_subspaces(K: int, dims, n: int = 100, *, d: int | None = None, distribution: str = "sphere",
                         points=None, rotate: bool = True, seed=0) -> SubspaceData:
    r"""``K`` classes in mutually orthogonal subspaces of ``R^d``.

    The bases are consecutive column blocks of a random orthogonal matrix ``Q`` (QR of a
    ``d x d`` Gaussian matrix, column signs fixed by ``diag(R) > 0``), so ``U_k^T U_l = delta_kl I``.
    With ``rotate=False`` they are blocks of the identity (coordinate subspaces): then a vector of
    one subspace and a point of another have a dot product of *exactly* 0 in floating point, which
    matters for the ``ceil`` staircase, where ``sigma(0) = 0`` but ``sigma(1e-17) = alpha``
    (docs/findings.md, S3).
    Class ``k``'s inputs are ``x = U_k z`` with ``z`` in ``R^{d_k}``:

    - ``sphere`` (default): ``z`` uniform on the unit sphere ``S^{d_k - 1}`` (a normalized Gaussian);
    - ``gaussian``: ``z ~ N(0, I_{d_k} / d_k)`` (so ``E|z|^2 = 1``);
    - ``points``: the coordinates given, one array ``(n_k, d_k)`` per class (``n`` is then ignored).

    Parameters
    ----------
    K : int
        Number of classes, ``>= 2``.
    dims : int or sequence of K ints
        Subspace dimensions ``d_k``.
    n : int
        Points per class.
    d : int, optional
        Ambient dimension, ``>= sum_k d_k`` (default ``sum_k d_k``).
    distribution : {"sphere", "gaussian"}
    points : sequence of K array_like, optional
        User-given coordinates ``z`` per class; overrides ``n`` and ``distribution``.
    rotate : bool
        Random orthonormal bases (default) or coordinate blocks of the identity.
    seed : int, SeedSequence or Generator

    Returns
    -------
    SubspaceData
    """
    K = check_positive_int(K, "K", minimum=2)
    dims = _dims(K, dims)
    total = sum(dims)
    d = total if d is None else check_positive_int(d, "d")
    if d < total:
        raise ValueError(f"d = {d} is smaller than sum of dims = {total}; the subspaces must fit: pass d >= {total}")
    if not isinstance(rotate, (bool, np.bool_)):
        raise TypeError(f"rotate must be True (random orthonormal bases) or False (coordinate blocks of the "
                        f"identity); got {rotate!r} of type {type(rotate).__name__}")
    rng = make_rng(seed)
    if rotate:
        Q, R = np.linalg.qr(rng.standard_normal((d, d)))
        Q *= np.sign(np.diag(R))                      # unique Q: a Haar-random rotation
    else:
        Q = np.eye(d)
    edges = np.cumsum((0,) + dims)
    bases = tuple(Q[:, edges[k]:edges[k + 1]].copy() for k in range(K))
    if points is not None:
        if len(points) != K:
            raise ValueError(f"points must hold K = {K} arrays of coordinates, one per class; got {len(points)}")
        z = tuple(as_float_array(p, f"points[{k}]", ndim=2, shape_doc=f"(n_k, {dims[k]})", dtype=np.float64)
                  for k, p in enumerate(points))
        for k, zk in enumerate(z):
            if zk.shape[1] != dims[k]:
                raise ValueError(f"points[{k}] has shape {zk.shape}; its columns must be the d_k = {dims[k]} "
                                 f"coordinates of class {k}")
    else:
        n = check_positive_int(n, "n")
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(map(repr, DISTRIBUTIONS))}, or pass "
                             f"points=; got {distribution!r}")
        z = []
        for m in dims:
            g = rng.standard_normal((n, m))
            if distribution == "sphere":
                g /= np.linalg.norm(g, axis=1, keepdims=True)
            else:
                g /= np.sqrt(m)
            z.append(g)
        z = tuple(z)
    x = np.concatenate([zk @ U.T for zk, U in zip(z, bases)])
    labels = np.concatenate([np.full(zk.shape[0], k, dtype=np.intp) for k, zk in enumerate(z)])
    return SubspaceData(x, labels, bases, z)


def projections(params: MLPParams, bases, N: int) -> np.ndarray:
    r"""All neurons projected on every subspace: ``P[y][k, j] = U_y^T w_{k,j}``.

    Parameters
    ----------
    params : MLPParams
        ``W`` of shape ``(K N, d)``, rows ``k N .. (k+1) N - 1`` the neurons of class ``k``.
    bases : sequence of K arrays, shapes (d, d_y)
    N : int
        Neurons per class.

    Returns
    -------
    list of K ndarrays, shapes (K, N, d_y)
        ``[y][k]`` are class ``k``'s neurons seen from subspace ``y`` (own when ``k == y``).
    """
    W = np.asarray(params.W)
    K = len(bases)
    return [(W @ U).reshape(K, N, U.shape[1]) for U in bases]


def class_coverage(params: MLPParams, bases, N: int, *, method: str = "lp") -> list:
    """:func:`covered` for each class's own neurons on its own subspace: a list of K :class:`Coverage`."""
    P = projections(params, bases, N)
    return [covered(P[y][y], method=method) for y in range(len(bases))]


def data_coverage(x, labels, params: MLPParams, N: int) -> np.ndarray:
    r"""For each class ``y``: ``min_{x in class y} max_j w_{y,j} . x`` (shape ``(K,)``).

    Positive iff every training point of class ``y`` is on the positive side of one of its own
    neurons -- the data-level version of :func:`covered` (which asks it of every direction).
    Under an admissible STE a point with a non-positive value sends no signal to its own class.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    K = params.V.shape[0]
    h = x @ np.asarray(params.W).T                                     # (n, K N)
    own = h.reshape(x.shape[0], K, N)[np.arange(x.shape[0]), labels]  # (n, N): own pre-activations
    best = own.max(axis=1)
    return np.array([best[labels == y].min() if np.any(labels == y) else np.nan for y in range(K)])


# =========================================================================================
# The network: the perceptron with a fixed group-indicator second layer
# =========================================================================================

def group_indicator(K: int, N: int, dtype=np.float64) -> np.ndarray:
    """``V`` of shape ``(K, K N)`` with ``V[k, k N:(k+1) N] = 1``, 0 elsewhere: ``f_k = sum_j sigma(h_{k,j})``."""
    K, N = check_positive_int(K, "K"), check_positive_int(N, "N")
    V = np.zeros((K, K * N), dtype=dtype)
    for k in range(K):
        V[k, k * N:(k + 1) * N] = 1
    return V


def subspace_init(K: int, N: int, d: int, seed, *, scale: float = 1.0) -> MLPParams:
    """Random initial weights: ``w_{k,j} ~ N(0, scale^2 I_d)`` i.i.d., ``V`` the group indicator, ``b = c = 0``.

    Every neuron's projection on a subspace is then a Gaussian vector: symmetric, so the
    coverage probability at initialization is :func:`coverage_probability` ``(N, d_k)``.

    Returns
    -------
    MLPParams
        ``W`` (K N, d), ``b`` (K N,) zeros, ``V`` (K, K N), ``c`` (K,) zeros.
    """
    K, N, d = check_positive_int(K, "K"), check_positive_int(N, "N"), check_positive_int(d, "d")
    scale = check_real(scale, "scale", low=0.0, low_open=True)
    rng = make_rng(seed)
    W = scale * rng.standard_normal((K * N, d))
    return MLPParams(W, np.zeros(K * N), group_indicator(K, N), np.zeros(K))


def _simplex(m: int) -> np.ndarray:
    """The ``m + 1`` unit vertices of a regular simplex centred at 0 in ``R^m`` (rows)."""
    E = np.eye(m + 1) - 1.0 / (m + 1)                      # vertices e_i - centroid, in the plane sum = 0
    basis = np.linalg.svd(E)[2][:m]                        # orthonormal basis of that plane (m, m + 1)
    S = E @ basis.T                                        # (m + 1, m)
    return S / np.linalg.norm(S, axis=1, keepdims=True)


def constructed_minimizer(data: SubspaceData, N: int, staircase: Staircase) -> MLPParams:
    r"""A global minimizer built by hand: hinge loss 0 (margin up to ``L alpha``), accuracy 1.

    Class ``k``'s neurons are ``w_{k,j} = s U_k c_j`` with ``c_j`` the ``d_k + 1`` unit vertices of
    a regular simplex (repeated cyclically when ``N > d_k + 1``). For a unit ``z``,
    ``max_j c_j . z >= 1 / d_k`` (docs/theory.md §7.5), so with
    ``s = 2 d_k max(t_L, alpha) / min |z|`` every class-``k`` point drives an own neuron above the
    top threshold ``t_L``: ``f_k >= L alpha``. Foreign neurons lie in other subspaces, so
    ``w_{l,j} . x = 0`` and ``f_l = 0``. Needs ``N >= d_k + 1``: fewer half-spaces than that never
    cover a sphere.

    Returns
    -------
    MLPParams
    """
    N = check_positive_int(N, "N")
    staircase = check_staircase(staircase)
    K = data.K
    d = data.x.shape[1]
    W = np.zeros((K * N, d))
    for k, (U, zk) in enumerate(zip(data.bases, data.z)):
        m = U.shape[1]
        if N < m + 1:
            raise ValueError(f"N = {N} neurons per class cannot cover the {m}-dimensional subspace of class {k}; "
                             f"pass N >= d_k + 1 = {m + 1}")
        r = float(np.min(np.linalg.norm(zk, axis=1)))
        if r == 0:
            raise ValueError(f"class {k} has a point at the origin, which no neuron can classify (sigma(0) = 0); "
                             f"remove it")
        s = 2 * m * max(float(staircase.thresholds[-1]), staircase.alpha) / r
        C = _simplex(m)
        for j in range(N):
            W[k * N + j] = s * (U @ C[j % (m + 1)])
    return MLPParams(W, np.zeros(K * N), group_indicator(K, N), np.zeros(K))


def accuracy(f, labels) -> float:
    """Fraction of rows with ``f_y > f_k`` for every ``k != y`` (a tie counts as an error)."""
    f = np.asarray(f)
    labels = np.asarray(labels)
    rows = np.arange(f.shape[0])
    own = f[rows, labels]
    others = f.copy()
    others[rows, labels] = -np.inf
    return float(np.mean(own > others.max(axis=1)))


# =========================================================================================
# Full-batch coarse gradient descent
# =========================================================================================

@dataclass
class SubspaceRun:
    """What :func:`subspace_descent` returns.

    Attributes
    ----------
    params : MLPParams
        The final weights.
    history : History
        Every ``record_every`` steps (default every step; 0 = initial weights) and at the last:
        ``loss``, ``accuracy``, and ``speed = lr |d~l/dW|`` (the length of the step taken from there;
        0 at a zero hinge loss, where ``delta = 0``).
    geometry : History
        Every ``coverage_every`` steps and at the last (:func:`subspace_geometry`): ``covered`` (number
        of covered classes), ``covered_<k>`` (0/1), ``data_coverage_<k>``, ``own_norm`` and
        ``foreign_norm`` (mean length of the projections ``U_y^T w_{k,j}``, own ``k = y`` and foreign ``k != y``).
    stopped : str
        ``"zero_loss"`` (hinge loss exactly 0) or ``"steps"``.
    zero_loss_step : int or None
        The first step with hinge loss exactly 0.
    t_star : int or None
        The first recorded step at which every class was covered (resolution ``coverage_every``).
    settings : dict
    weights : dict of int -> ndarray
        ``W`` at the steps asked for by ``keep_weights`` (those reached).
    """

    params: MLPParams
    history: History
    geometry: History
    stopped: str
    zero_loss_step: int | None
    t_star: int | None
    settings: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Number of steps taken."""
        return self.history.step[-1]


def subspace_geometry(params: MLPParams, data: SubspaceData, N: int) -> tuple[dict, bool]:
    r"""One geometry record of :func:`subspace_descent`: coverage and projection norms of ``params``.

    The projections ``U_y^T w_{k,j}`` are computed once and shared by the coverage tests and the norms.

    Returns
    -------
    record : dict
        ``covered`` (number of covered classes), ``covered_<k>`` (0/1), ``data_coverage_<k>``
        (:func:`data_coverage`), ``own_norm`` and ``foreign_norm`` (mean length of the projections,
        own ``k = y`` and foreign ``k != y``).
    all_covered : bool
        Every class covered (:func:`covered`, ``method="auto"``).
    """
    K = data.K
    P = projections(params, data.bases, N)
    cov = [covered(P[y][y], method="auto") for y in range(K)]
    own = [np.linalg.norm(P[y][y], axis=1).mean() for y in range(K)]
    foreign = [np.linalg.norm(np.delete(P[y], y, axis=0), axis=2).mean() for y in range(K)]
    dc = data_coverage(data.x, data.labels, params, N)
    record = dict(covered=sum(c.covered for c in cov), own_norm=float(np.mean(own)),
                  foreign_norm=float(np.mean(foreign)),
                  **{f"covered_{k}": float(cov[k].covered) for k in range(K)},
                  **{f"data_coverage_{k}": dc[k] for k in range(K)})
    return record, all(c.covered for c in cov)


#: Bytes one recorded value costs in a :class:`History` (a float object and its list slot), and one
#: record's step; :func:`subspace_descent` refuses runs whose records would exceed
#: :data:`MAX_RECORD_BYTES` instead of running until memory ends them.
_VALUE_BYTES, _STEP_BYTES = 32, 36
MAX_RECORD_BYTES = 2**30


def _check_keep(keep_weights) -> set:
    if isinstance(keep_weights, (str, bytes)) or not hasattr(keep_weights, "__iter__"):
        raise TypeError(f"keep_weights must be a sequence of step numbers (ints >= 0); got {keep_weights!r}")
    return {check_positive_int(k, f"keep_weights[{i}]", minimum=0) for i, k in enumerate(keep_weights)}


def subspace_descent(data: SubspaceData, params0: MLPParams, ste, staircase: Staircase, *, lr: float,
                     steps: int, loss: str = "hinge", margin: float | None = None, coverage_every: int = 10,
                     record_every: int = 1, activation: Callable | None = None, keep_weights=()) -> SubspaceRun:
    r"""Full-batch coarse gradient descent with a fixed step on the orthogonal-subspace model.

    ``W <- W - lr d~l/dW`` with the coarse gradient of :func:`coarsegrad.nets.mlp_coarse_grad`
    (second layer frozen; ``b = 0`` throughout: its gradient is discarded). The loss is the batch mean
    of :func:`coarsegrad.nets.mlp_loss`; with ``loss="hinge"`` the run stops at the first step
    where it is exactly 0 (a global minimum: every point classified with the margin).

    Parameters
    ----------
    data : SubspaceData
    params0 : MLPParams
        Initial weights (not modified); ``V`` should be :func:`group_indicator`, ``c`` is kept as
        given, and ``b`` must be 0 (the model has no first-layer bias: a non-zero ``b`` is an error,
        not silently dropped).
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
    staircase : Staircase
    lr : float
        Fixed step ``> 0``. A run whose weights become non-finite or exceed
        :data:`coarsegrad._checks.DIVERGENCE_BOUND` raises ``FloatingPointError`` naming ``lr``.
    steps : int
        Largest number of steps.
    loss : {"hinge", "cross_entropy", "squared"}
    margin : float, optional
        The hinge's margin (default ``staircase.alpha``).
    coverage_every : int
        Stride of the geometry records (coverage needs one LP per class when ``d_k >= 3``).
    record_every : int
        Stride of the per-step records (``history``); the first and last steps are always recorded.
        Records are kept in memory (about 36 + 32 bytes per value): a run whose records would exceed
        :data:`MAX_RECORD_BYTES` is refused up front, naming these strides.
    activation : callable, optional
        Replaces ``sigma`` in the forward pass (then the coarse gradient with the matching STE is
        the gradient of the smooth network).
    keep_weights : sequence of int
        Steps at which to keep a copy of ``W`` (in :attr:`SubspaceRun.weights`; the final ``W`` is
        always in ``params``).

    Returns
    -------
    SubspaceRun
    """
    if not isinstance(data, SubspaceData):
        raise TypeError(f"data must be a SubspaceData from orthogonal_subspaces(...); got {type(data).__name__}")
    x, params = _check_mlp(data.x, params0, x_name="data.x")
    staircase = check_staircase(staircase)
    ste = get_ste(ste)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    steps = check_positive_int(steps, "steps", minimum=0)
    coverage_every = check_positive_int(coverage_every, "coverage_every")
    record_every = check_positive_int(record_every, "record_every")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    margin = staircase.alpha if margin is None else check_real(margin, "margin", low=0.0, low_open=True)
    keep = _check_keep(keep_weights)
    K = data.K
    if params.V.shape[0] != K or params.W.shape[0] % K:
        raise ValueError(f"params has {params.V.shape[0]} outputs and {params.W.shape[0]} neurons; the model needs "
                         f"K = {K} outputs and N neurons per class (W of shape (K N, d)): use subspace_init")
    if np.any(params.b != 0):
        raise ValueError(f"params0.b has {int(np.count_nonzero(params.b))} non-zero entries; the subspace model has no "
                         f"first-layer bias (b = 0 throughout, SPEC §8): pass params0._replace(b=0 * params0.b)")
    records = steps // record_every + 2
    geometry_records = steps // coverage_every + 2
    need = (records * (_STEP_BYTES + 3 * _VALUE_BYTES) + geometry_records * (_STEP_BYTES + (3 + 2 * K) * _VALUE_BYTES)
            + sum(k <= steps for k in keep) * params.W.nbytes)
    if need > MAX_RECORD_BYTES:
        raise ValueError(f"steps = {steps} would keep ~{need / 2**30:.1f} GiB of records (record_every = "
                         f"{record_every}, coverage_every = {coverage_every}, {len(keep)} kept weights); the limit is "
                         f"{MAX_RECORD_BYTES / 2**30:.0f} GiB: pass a larger record_every and coverage_every")
    N = params.W.shape[0] // K
    labels = data.labels
    W = np.array(params.W, copy=True)
    zeros_b = np.zeros_like(params.b)
    grads = MLPParams(*(np.empty_like(a) for a in params))
    history, geometry = History(), History()
    zero_step = t_star = None
    kept = {}

    stopped = "steps"
    for t in range(steps + 1):
        p = MLPParams(W, zeros_b, params.V, params.c)
        if t in keep:
            kept[t] = W.copy()
        fwd = mlp_forward(x, p, staircase, activation=activation, validate=False)
        value, delta = mlp_loss(fwd.f, labels, loss, margin=margin, validate=False)
        mlp_coarse_grad(x, p, fwd, delta, ste, staircase, freeze_second_layer=True, validate=False, out=grads)
        done = loss == "hinge" and value == 0.0
        last = done or t == steps
        if t % record_every == 0 or last:
            history.record(t, loss=value, accuracy=accuracy(fwd.f, labels), speed=lr * float(np.linalg.norm(grads.W)))
        if t % coverage_every == 0 or last:
            record, all_covered = subspace_geometry(p, data, N)
            geometry.record(t, **record)
            if all_covered and t_star is None:
                t_star = t
        if done:
            zero_step, stopped = t, "zero_loss"
            break
        if t == steps:
            break
        with np.errstate(over="ignore", invalid="ignore"):     # checked just below, with one clear error
            W -= lr * grads.W                                   # b's gradient is discarded: b stays 0 (SPEC §8)
        check_iterates([W], driver="subspace_descent", step=t + 1, option="lr", value=lr)
    final = MLPParams(W, zeros_b.copy(), params.V.copy(), params.c.copy())
    settings = dict(ste=ste.name, staircase=dict(bits=staircase.bits, alpha=staircase.alpha,
                                                 convention=staircase.convention),
                    lr=lr, steps=steps, loss=loss, margin=margin, coverage_every=coverage_every,
                    record_every=record_every, K=K, N=N, dims=list(data.dims), n=int(x.shape[0]))
    return SubspaceRun(final, history, geometry, stopped, zero_step, t_star, settings, kept)
