r"""The two networks, their losses and their hand-derived coarse gradients.

Both networks put the staircase ``sigma`` (:mod:`coarsegrad.quant`) between two
linear layers. Their *coarse gradient* is the chain rule with ``sigma'`` (zero
almost everywhere) replaced by an STE's ``mu'`` (:mod:`coarsegrad.ste`). Each
forward pass returns its intermediates, and the coarse gradient that follows it
takes them; docs/theory.md §1 derives every line.

**Teacher-student model** (the theory; prefix ``ts_``). A sample is a matrix
``Z`` of shape ``(p, n)`` ("p patches of n features"); class ``k`` has weights
``w_k`` (column ``k`` of ``W``, shape ``(n, K)``) and all classes share the
second layer ``v`` (shape ``(p,)``)::

    y_k(Z) = v^T sigma(Z w_k),            prediction argmax_k y_k
    l      = 1/2 sum_k (y_k - y*_k)^2      (y* = the teacher's outputs)
    d~l/dw_k = (y_k - y*_k) Z^T (v * mu'(Z w_k))      (coarse)
    dl/dv    = sum_k (y_k - y*_k) sigma(Z w_k)        (exact: sigma is not differentiated)

**Two-layer perceptron** (the experiments; prefix ``mlp_``). For ``x`` in
``R^n``, ``W`` ``(m, n)``, ``b`` ``(m,)``, ``V`` ``(K, m)``, ``c`` ``(K,)``::

    h = W x + b,   f = V sigma(h) + c,   delta = dl/df
    dl/dV = delta sigma(h)^T,   dl/dc = delta
    d~l/dW = [(V^T delta) * mu'(h)] x^T,   d~l/db = (V^T delta) * mu'(h)

with softmax cross-entropy (default), the squared loss to one-hot targets, or the
multi-class hinge ``l = sum_{l != y} max(0, margin - f_y + f_l)`` (docs/theory.md §7).

Everything is vectorized over a batch (leading axis ``N``) and the batch loss is
the mean of the sample losses, so every gradient is a batch mean too.

Passing ``activation=callable`` to a forward pass replaces ``sigma`` (e.g. by an
STE's smooth ``mu``); with ``mu`` in the forward pass the coarse gradient *is* the
gradient, which is how the tests check the backward algebra by finite differences.
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import numpy as np

from ._checks import as_float_array, check_dim, check_labels, check_positive_int, check_real, make_rng
from .alpha import get_alpha_rule
from .quant import Staircase
from .ste import check_staircase, get_ste

__all__ = [
    "TSPass", "TSGrads", "ts_forward", "ts_loss", "ts_coarse_grad", "ts_predict",
    "MLPParams", "MLPPass", "mlp_init", "mlp_forward", "mlp_loss", "mlp_coarse_grad",
    "mlp_predict", "one_hot", "LOSSES", "ts_alpha_grad", "mlp_alpha_grad",
]

LOSSES = ("cross_entropy", "squared", "hinge")


def _staircase_last(n_positional: int):
    """Name the fix when a 0.1-style call passes ``bits, alpha`` where one :class:`Staircase` goes: such a
    call has one positional argument too many, which Python would report without a word of the cause."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if len(args) > n_positional:
                names = ", ".join(list(fn.__code__.co_varnames[:n_positional]))
                raise TypeError(f"{fn.__name__}({names}) takes {n_positional} positional arguments, got {len(args)}: "
                                "the (bits, alpha) pair of coarsegrad 0.1 is one object now -- pass "
                                "staircase=Staircase(bits, alpha), e.g. Staircase(2, 0.5)")
            return fn(*args, **kwargs)
        return wrapper
    return decorate


def _activate(h: np.ndarray, staircase: Staircase, activation: Callable | None) -> np.ndarray:
    """``sigma(h)``, or ``activation(h)`` when one is given."""
    if activation is None:
        return staircase._apply(h)
    out = np.asarray(activation(h))
    if out.shape != h.shape:
        raise ValueError(f"activation returned shape {out.shape} for pre-activations of shape {h.shape}; "
                         f"it must act elementwise")
    return out


# =========================================================================================
# Teacher-student model: y_k = v^T sigma(Z w_k)
# =========================================================================================

class TSPass(NamedTuple):
    """Intermediates of :func:`ts_forward` for a batch of ``N`` samples.

    Attributes
    ----------
    h : ndarray, shape (N, p, K)
        Pre-activations ``Z w_k``.
    sigma_h : ndarray, shape (N, p, K)
        ``sigma(Z w_k)``.
    y : ndarray, shape (N, K)
        Outputs ``y_k = v^T sigma(Z w_k)``.
    """

    h: np.ndarray
    sigma_h: np.ndarray
    y: np.ndarray


def _check_ts(Z, v, W):
    Z = as_float_array(Z, "Z", ndim=3, shape_doc="(N, p, n); for a single sample pass Z[None]")
    v = as_float_array(v, "v", ndim=1, shape_doc="(p,)")
    W = as_float_array(W, "W", ndim=2, shape_doc="(n, K), one column w_k per class")
    check_dim(Z, 1, v.shape[0], "Z", "p, the length of v")
    check_dim(Z, 2, W.shape[0], "Z", "n, the number of rows of W")
    return Z, v, W


@_staircase_last(4)
def ts_forward(Z, v, W, staircase: Staircase, *, activation: Callable | None = None,
               validate: bool = True) -> TSPass:
    """Forward pass ``y_k = v^T sigma(Z w_k)`` of the teacher-student model.

    Parameters
    ----------
    Z : array_like, shape (N, p, n)
        A batch of ``N`` input matrices.
    v : array_like, shape (p,)
        Second-layer weights, shared by all classes.
    W : array_like, shape (n, K)
        First-layer weights; column ``k`` is ``w_k``.
    staircase : Staircase
        The activation ``sigma``.
    activation : callable, optional
        Replaces ``sigma`` (e.g. ``lambda h: ste.mu(h, staircase)``).
    validate : bool
        Check shapes and finiteness (turn off only in tight loops on checked data).

    Returns
    -------
    TSPass
        ``h = Z W`` (N, p, K), ``sigma_h`` (N, p, K), ``y`` (N, K).
    """
    if validate:
        Z, v, W = _check_ts(Z, v, W)
        check_staircase(staircase)._alpha_in(Z.dtype)
    h = Z @ W                                              # (N, p, K): h[s, i, k] = z_i^T w_k
    sigma_h = _activate(h, staircase, activation)         # (N, p, K)
    y = np.einsum("spk,p->sk", sigma_h, v)                 # (N, K)
    return TSPass(h, sigma_h, y)


def ts_loss(y, y_star, *, validate: bool = True) -> tuple[float, np.ndarray]:
    """Squared loss to the teacher and its derivative in ``y``.

    ``loss = mean_s 1/2 sum_k (y_sk - y*_sk)^2``, ``e = d loss / d y = (y - y*) / N``.

    Parameters
    ----------
    y, y_star : array_like, shape (N, K)
        Student and teacher outputs.

    Returns
    -------
    loss : float
    e : ndarray, shape (N, K)
    """
    if validate:
        y = as_float_array(y, "y", ndim=2, shape_doc="(N, K)")
        y_star = as_float_array(y_star, "y_star", ndim=2, shape_doc="(N, K)")
        if y.shape != y_star.shape:
            raise ValueError(f"y_star has shape {y_star.shape} but y has shape {y.shape}; they must match")
    r = y - y_star                                          # (N, K)
    N = r.shape[0]
    return 0.5 * float(np.sum(r * r)) / N, r / N


class TSGrads(NamedTuple):
    """Coarse gradient of the teacher-student loss (the shapes of ``v`` and ``W``).

    Attributes
    ----------
    v : ndarray, shape (p,)
        ``dl/dv`` (exact).
    W : ndarray, shape (n, K)
        ``d~l/dW`` (coarse).
    """

    v: np.ndarray
    W: np.ndarray


@_staircase_last(6)
def ts_coarse_grad(Z, v, fwd: TSPass, e, ste, staircase: Staircase, *, validate: bool = True) -> TSGrads:
    """Coarse gradient of the batch loss in ``(v, W)``, from :func:`ts_forward`'s pass.

    With ``e = d loss / d y`` (from :func:`ts_loss`)::

        g_v = sum_s sum_k e_sk sigma(Z_s w_k)                  (exact)
        g_W[:, k] = sum_s e_sk Z_s^T (v * mu'(Z_s w_k))         (coarse: mu' for sigma')

    Parameters
    ----------
    Z : array_like, shape (N, p, n)
    v : array_like, shape (p,)
    fwd : TSPass
        The forward pass of the same batch and weights.
    e : array_like, shape (N, K)
        ``d loss / d y``.
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
    staircase : Staircase

    Returns
    -------
    TSGrads
        ``v`` (p,) and ``W`` (n, K).
    """
    mu_prime = get_ste(ste).mu_prime
    if validate:
        Z = as_float_array(Z, "Z", ndim=3, shape_doc="(N, p, n)")
        v = as_float_array(v, "v", ndim=1, shape_doc="(p,)")
        e = as_float_array(e, "e", ndim=2, shape_doc="(N, K)")
        check_staircase(staircase)
        if fwd.h.shape[:2] != Z.shape[:2] or fwd.h.shape[1] != v.shape[0] or e.shape != fwd.y.shape:
            raise ValueError(f"fwd (h {fwd.h.shape}), Z {Z.shape}, v {v.shape} and e {e.shape} do not belong "
                             f"to the same batch; pass the TSPass that ts_forward returned for this Z and v")
    g_v = np.einsum("spk,sk->p", fwd.sigma_h, e)                      # (p,)
    back = mu_prime(fwd.h, staircase) * v[:, None] * e[:, None, :]    # (N, p, K): e_sk v_i mu'(z_i^T w_k)
    g_W = np.einsum("spn,spk->nk", Z, back)                           # (n, K)
    return TSGrads(g_v, g_W)


@_staircase_last(4)
def ts_predict(Z, v, W, staircase: Staircase) -> np.ndarray:
    """Predicted class ``argmax_k y_k(Z)`` (ties go to the smallest ``k``).

    Returns
    -------
    ndarray of int, shape (N,)
    """
    return np.argmax(ts_forward(Z, v, W, staircase).y, axis=1)


# =========================================================================================
# Two-layer perceptron: f(x) = V sigma(W x + b) + c
# =========================================================================================

class MLPParams(NamedTuple):
    """Weights of the two-layer perceptron (also the shape of its gradients).

    Attributes
    ----------
    W : ndarray, shape (m, n)
    b : ndarray, shape (m,)
    V : ndarray, shape (K, m)
    c : ndarray, shape (K,)
    """

    W: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray


class MLPPass(NamedTuple):
    """Intermediates of :func:`mlp_forward` for a batch of ``N`` inputs.

    Attributes
    ----------
    h : ndarray, shape (N, m)
        Pre-activations ``W x + b``.
    sigma_h : ndarray, shape (N, m)
        Hidden activations ``sigma(h)``.
    f : ndarray, shape (N, K)
        Outputs (logits) ``V sigma(h) + c``.
    """

    h: np.ndarray
    sigma_h: np.ndarray
    f: np.ndarray


def mlp_init(n: int, m: int, K: int, seed, *, staircase: Staircase = Staircase(),
             dtype=np.float64) -> MLPParams:
    """Random initial weights for an ``n``-``m``-``K`` perceptron.

    ``W ~ N(0, 2/n)`` (He scaling), ``b = 0``, ``V ~ N(0, 1/(m (L alpha)^2))`` so that
    the logits start at unit order whatever the top level ``L alpha``, ``c = 0``.

    Parameters
    ----------
    n, m, K : int
        Input, hidden and output sizes.
    seed : int, SeedSequence or Generator
    staircase : Staircase
        The activation the network will use (its top level ``L alpha`` sets the scale of ``V``).
    dtype : numpy floating dtype

    Returns
    -------
    MLPParams
    """
    n, m, K = (check_positive_int(x, name) for x, name in ((n, "n"), (m, "m"), (K, "K")))
    top = check_staircase(staircase).top
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"dtype must be a floating dtype such as float64 or float32 (weights are real); got {dtype!r}")
    rng = make_rng(seed)
    W = rng.standard_normal((m, n)) * np.sqrt(2.0 / n)
    b = np.zeros(m)
    V = rng.standard_normal((K, m)) / (np.sqrt(m) * top)
    c = np.zeros(K)
    return MLPParams(*(a.astype(dtype) for a in (W, b, V, c)))


def _check_mlp(x, params, *, x_name: str = "x"):
    if not isinstance(params, MLPParams):
        if isinstance(params, tuple) and len(params) == 4:
            params = MLPParams(*params)
        else:
            raise TypeError(f"params must be an MLPParams(W, b, V, c); got {type(params).__name__}")
    W = as_float_array(params.W, "params.W", ndim=2, shape_doc="(m, n)")
    b = as_float_array(params.b, "params.b", ndim=1, shape_doc="(m,)")
    V = as_float_array(params.V, "params.V", ndim=2, shape_doc="(K, m)")
    c = as_float_array(params.c, "params.c", ndim=1, shape_doc="(K,)")
    check_dim(b, 0, W.shape[0], "params.b", "m, the number of rows of W")
    check_dim(V, 1, W.shape[0], "params.V", "m, the number of rows of W")
    check_dim(c, 0, V.shape[0], "params.c", "K, the number of rows of V")
    x = as_float_array(x, x_name, ndim=2, shape_doc="(N, n); for one input pass x[None]")
    check_dim(x, 1, W.shape[1], x_name, "n, the number of columns of W")
    return x, MLPParams(W, b, V, c)


@_staircase_last(3)
def mlp_forward(x, params: MLPParams, staircase: Staircase, *,
                activation: Callable | None = None, validate: bool = True) -> MLPPass:
    """Forward pass ``h = W x + b``, ``f = V sigma(h) + c`` for a batch.

    Parameters
    ----------
    x : array_like, shape (N, n)
    params : MLPParams
    staircase : Staircase
        The activation ``sigma``.
    activation : callable, optional
        Replaces ``sigma`` (e.g. a smooth ``mu``, or ``np.maximum(h, 0)`` for a float ReLU net).
    validate : bool
        Check shapes and finiteness.

    Returns
    -------
    MLPPass
        ``h`` (N, m), ``sigma_h`` (N, m), ``f`` (N, K).
    """
    if validate:
        x, params = _check_mlp(x, params)
        check_staircase(staircase)._alpha_in(x.dtype)
    W, b, V, c = params
    h = x @ W.T                                   # (N, m)
    h += b
    sigma_h = _activate(h, staircase, activation)
    f = sigma_h @ V.T                             # (N, K)
    f += c
    return MLPPass(h, sigma_h, f)


def one_hot(labels, K: int, dtype=np.float64) -> np.ndarray:
    """One-hot rows: ``Y[s, labels[s]] = 1``. Shape ``(N, K)``; labels must lie in ``[0, K)``."""
    K = check_positive_int(K, "K")
    labels = check_labels(labels, "labels", n_classes=K, n_samples=len(np.atleast_1d(labels)))
    Y = np.zeros((labels.shape[0], K), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def mlp_loss(f, labels, loss: str = "cross_entropy", *, margin: float = 1.0,
             validate: bool = True) -> tuple[float, np.ndarray]:
    r"""Batch-mean loss of the logits ``f`` and its derivative ``delta = d loss / d f``.

    ``cross_entropy``: ``l = logsumexp(f) - f_y``, ``delta = (softmax(f) - onehot(y)) / N``,
    computed after subtracting ``max_k f_k`` (no overflow) and without cancellation
    when ``softmax(f)_y`` is close to 1 (docs/theory.md §1.3).

    ``squared``: ``l = 1/2 ||f - onehot(y)||^2``, ``delta = (f - onehot(y)) / N``.

    ``hinge`` (multi-class, with margin): ``l = sum_{k != y} max(0, margin - f_y + f_k)``;
    with ``A_k = 1{margin - f_y + f_k > 0}`` (``k != y``; strict, so a term exactly at its kink
    contributes 0 -- the subgradient that lets a run stop at loss exactly 0)
    ``delta_k = A_k / N`` and ``delta_y = -sum_{k != y} A_k / N`` (docs/theory.md §7).
    Its value 0 means every sample is classified with ``f_y >= f_k + margin``.

    Parameters
    ----------
    f : array_like, shape (N, K)
    labels : array_like of int, shape (N,)
        Classes in ``[0, K)``.
    loss : {"cross_entropy", "squared", "hinge"}
    margin : float
        The hinge's margin ``> 0`` (ignored by the other losses). The orthogonal-subspace
        experiments pass the staircase's ``alpha`` (:mod:`coarsegrad.subspaces`).

    Returns
    -------
    loss : float
        Mean over the batch.
    delta : ndarray, shape (N, K)
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    if validate:
        f = as_float_array(f, "f", ndim=2, shape_doc="(N, K)")
        labels = check_labels(labels, "labels", n_classes=f.shape[1], n_samples=f.shape[0])
    N, K = f.shape
    rows = np.arange(N)
    if loss == "hinge":
        margin = check_real(margin, "margin", low=0.0, low_open=True)
        gap = margin - f[rows, labels][:, None] + f          # (N, K): margin - f_y + f_k
        gap[rows, labels] = 0                                # the k = y term is not in the sum
        active = gap > 0                                     # strict: a term at its kink is inactive
        value = float(np.sum(np.where(active, gap, 0))) / N
        delta = active.astype(f.dtype)
        delta[rows, labels] = -active.sum(axis=1)
        delta /= N
        return value, delta
    if loss == "squared":
        r = f - one_hot(labels, K, f.dtype)
        return 0.5 * float(np.sum(r * r)) / N, r / N
    # Softmax cross-entropy, accurate to rounding even when a prediction is confidently right:
    # with s = f - max_k f_k, e = exp(s) and "others" = sum_{j != y} e_j (summed without e_y, so
    # nothing cancels), l = log1p(others / e_y) and delta_y = -others / sum(e).  docs/theory.md §1.3
    shifted = f - f.max(axis=1, keepdims=True)     # exponents <= 0: exp never overflows
    expf = np.exp(shifted)
    s_y = shifted[rows, labels]
    e_y = expf[rows, labels]
    expf[rows, labels] = 0
    others = expf.sum(axis=1)
    total = others + e_y
    near_top = np.log1p(others / np.where(e_y > 0.5, e_y, 1.0))    # used only where e_y > 0.5
    value = float(np.mean(np.where(e_y > 0.5, near_top, np.log(total) - s_y)))
    delta = expf / total[:, None]
    delta[rows, labels] = -others / total
    delta /= N
    return value, delta


@_staircase_last(6)
def mlp_coarse_grad(x, params: MLPParams, fwd: MLPPass, delta, ste, staircase: Staircase, *,
                    freeze_second_layer: bool = False, validate: bool = True,
                    out: MLPParams | None = None) -> MLPParams:
    """Coarse gradient of the batch loss, from :func:`mlp_forward`'s pass and ``delta``.

    ::

        dl/dV = delta^T sigma(h)        (K, m)     dl/dc = sum_s delta_s     (K,)
        G     = (delta V) * mu'(h)      (N, m)     the backward signal, mu' for sigma'
        d~l/dW = G^T x                  (m, n)     d~l/db = sum_s G_s        (m,)

    Parameters
    ----------
    x : array_like, shape (N, n)
    params : MLPParams
    fwd : MLPPass
        The forward pass of the same batch and weights.
    delta : array_like, shape (N, K)
        ``d loss / d f`` from :func:`mlp_loss`.
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
    staircase : Staircase
    freeze_second_layer : bool
        Return zero gradients for ``V`` and ``c`` (the second layer stays fixed).
    out : MLPParams, optional
        Arrays (shapes and dtype of ``params``) to write the gradients into, as NumPy's ``out=``;
        SGD reuses them every step instead of allocating (and page-faulting) new ones.

    Returns
    -------
    MLPParams
        Gradients with the shapes of ``params`` (``out`` itself if given).
    """
    mu_prime = get_ste(ste).mu_prime
    if validate:
        x, params = _check_mlp(x, params)
        delta = as_float_array(delta, "delta", ndim=2, shape_doc="(N, K)")
        check_staircase(staircase)
        if fwd.h.shape != (x.shape[0], params.W.shape[0]) or delta.shape != fwd.f.shape:
            raise ValueError(f"fwd (h {fwd.h.shape}, f {fwd.f.shape}), x {x.shape} and delta {delta.shape} do "
                             f"not belong to the same batch; pass the MLPPass that mlp_forward returned for x")
    W, b, V, c = params
    G = delta @ V                                  # (N, m): V^T delta for each sample
    G *= mu_prime(fwd.h, staircase)                # ... times mu'(h): the straight-through step
    if out is None:
        out = MLPParams(*(np.empty_like(a) for a in params))
    gW, gb, gV, gc = out
    np.matmul(G.T, x, out=gW)                      # (m, n)
    G.sum(axis=0, out=gb)                          # (m,)
    if freeze_second_layer:
        gV[...] = 0
        gc[...] = 0
    else:
        np.matmul(delta.T, fwd.sigma_h, out=gV)    # (K, m)
        delta.sum(axis=0, out=gc)                  # (K,)
    return out


@_staircase_last(3)
def mlp_predict(x, params: MLPParams, staircase: Staircase, *,
                activation: Callable | None = None) -> np.ndarray:
    """Predicted class ``argmax_k f_k(x)`` (ties go to the smallest ``k``).

    Returns
    -------
    ndarray of int, shape (N,)
    """
    return np.argmax(mlp_forward(x, params, staircase, activation=activation).f, axis=1)


# =========================================================================================
# The coarse gradient in the resolution alpha (one alpha per activation layer)
# =========================================================================================

def ts_alpha_grad(fwd: TSPass, v, e, rule, staircase: Staircase, *, validate: bool = True) -> float:
    r"""Coarse gradient of the teacher-student batch loss in the student's ``alpha``.

    ``y_k = v^T sigma(Z w_k; alpha)``, so with ``r ~ d sigma / d alpha`` (an alpha rule,
    :mod:`coarsegrad.alpha`) and ``e = d loss / d y`` (from :func:`ts_loss`)::

        d~l/d alpha = sum_s sum_k e_sk v^T r(Z_s w_k)

    For ``rule="ae"`` this is the exact derivative of the sample loss in ``alpha`` wherever no
    ``z_i^T w_k`` sits on a threshold (docs/theory.md, "Learnable resolution").

    Parameters
    ----------
    fwd : TSPass
        The forward pass (:func:`ts_forward`) of the batch at this ``staircase``.
    v : array_like, shape (p,)
    e : array_like, shape (N, K)
    rule : str or AlphaRule
    staircase : Staircase

    Returns
    -------
    float
    """
    rule = get_alpha_rule(rule)
    if validate:
        v = as_float_array(v, "v", ndim=1, shape_doc="(p,)")
        e = as_float_array(e, "e", ndim=2, shape_doc="(N, K)")
        check_staircase(staircase)
        if fwd.h.shape[1] != v.shape[0] or e.shape != fwd.y.shape:
            raise ValueError(f"fwd (h {fwd.h.shape}), v {v.shape} and e {e.shape} do not belong to the same batch; "
                             f"pass the TSPass that ts_forward returned")
    r = rule._apply(fwd.h, staircase)                                  # (N, p, K)
    return float(np.einsum("spk,p,sk->", r, v, e))


def mlp_alpha_grad(fwd: MLPPass, params: MLPParams, delta, rule, staircase: Staircase, *,
                   validate: bool = True) -> float:
    r"""Coarse gradient of the perceptron's batch loss in the hidden layer's ``alpha``.

    ``f = V sigma(h; alpha) + c``, so with ``r ~ d sigma / d alpha`` and ``delta = d loss / d f``::

        d~l/d alpha = sum_s sum_j (V^T delta_s)_j r(h_sj)

    Exact (``rule="ae"``) away from the thresholds, like :func:`ts_alpha_grad`. One ``alpha`` for
    the layer (a per-neuron ``alpha`` is the same sum without the ``j``; not offered: the
    :class:`~coarsegrad.quant.Staircase` holds one resolution).

    Parameters
    ----------
    fwd : MLPPass
        The forward pass (:func:`mlp_forward`) of the batch at this ``staircase``.
    params : MLPParams
    delta : array_like, shape (N, K)
    rule : str or AlphaRule
    staircase : Staircase

    Returns
    -------
    float
    """
    rule = get_alpha_rule(rule)
    if validate:
        delta = as_float_array(delta, "delta", ndim=2, shape_doc="(N, K)")
        check_staircase(staircase)
        if delta.shape != fwd.f.shape or params.V.shape != (fwd.f.shape[1], fwd.h.shape[1]):
            raise ValueError(f"fwd (h {fwd.h.shape}, f {fwd.f.shape}), params.V {params.V.shape} and delta "
                             f"{delta.shape} do not belong together; pass the MLPPass of this batch and weights")
    G = delta @ params.V                                               # (N, m): V^T delta per sample
    return float(np.sum(G * rule._apply(fwd.h, staircase)))
