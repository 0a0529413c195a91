r"""Generic estimators: what exact formulas are checked against, and what you fall back on
for models or input distributions without closed forms.

- :func:`monte_carlo` -- the mean of a statistic over random batches, with its standard
  error from the spread of the batch means;
- :func:`finite_difference` -- central differences of a deterministic function
  (gradient, or one directional derivative);
- :func:`crn_finite_difference` -- the same for a random function, with common random
  numbers: both evaluations see the same randomness, so the difference measures only the
  change of the argument;
- :func:`gaussian_smoothing_grad` -- the gradient of the Gaussian smoothing
  ``f_s(x) = E_u f(x + s u)``, ``u ~ N(0, I)``, which exists even where ``f`` is piecewise
  constant (as the sample loss of a quantized network is).

Every random estimator takes a seed or a ``numpy.random.Generator`` and returns an
:class:`Estimate` (mean, standard error, sample count).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ._checks import as_float_array, check_positive_int, check_real, make_rng

__all__ = ["Estimate", "monte_carlo", "z_scores", "finite_difference", "crn_finite_difference",
           "gaussian_smoothing_grad", "cosine"]


def cosine(a, b) -> float:
    r"""``cos(a, b) = <a, b> / (|a| |b|)`` over all entries; NaN when either is 0 (the angle is undefined).

    The one cosine helper of the package: claims compare an expected coarse gradient with the
    population gradient through it, and NaN evidence fails a claim's check.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    # Scale each by its largest entry first: norms and dot products of vectors near 1e+-160 would
    # over- or underflow, and the cosine does not depend on the scale.
    ma, mb = np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0)
    if not (ma > 0 and mb > 0):          # a zero vector (or NaN entries): the angle is undefined
        return float("nan")
    a, b = a / ma, b / mb
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class Estimate(NamedTuple):
    """A Monte Carlo estimate.

    Attributes
    ----------
    mean : ndarray
        The estimate.
    stderr : ndarray
        Its standard error (same shape).
    n : int
        Number of independent replicates (batches or samples) behind it.
    """

    mean: np.ndarray
    stderr: np.ndarray
    n: int


def monte_carlo(statistic: Callable, sampler: Callable, n_batches: int, seed) -> Estimate:
    r"""Mean of ``statistic(sampler(rng))`` over ``n_batches`` independent batches.

    .. math::

        \hat\mu = \frac1B \sum_{b=1}^B T_b, \qquad
        \widehat{\mathrm{se}} = \sqrt{\frac{1}{B(B-1)} \sum_b (T_b - \hat\mu)^2}

    where ``T_b = statistic(batch_b)`` is typically itself a mean over the batch (the
    batch-means method: no per-sample values are needed, and the standard error stays
    valid whatever the statistic's distribution, by the central limit theorem over batches).

    Parameters
    ----------
    statistic : callable ``batch -> array_like``
        Any fixed shape.
    sampler : callable ``Generator -> batch``
        Draws one batch.
    n_batches : int
        ``B >= 2``.
    seed : int, SeedSequence or Generator

    Returns
    -------
    Estimate
    """
    n_batches = check_positive_int(n_batches, "n_batches", minimum=2)
    rng = make_rng(seed)
    values = np.array([np.asarray(statistic(sampler(rng)), dtype=np.float64) for _ in range(n_batches)])
    return Estimate(values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(n_batches), n_batches)


def z_scores(estimate: Estimate, exact, *, atol: float = 0.0) -> np.ndarray:
    r"""``(mean - exact) / stderr``, elementwise.

    Parameters
    ----------
    estimate : Estimate
    exact : array_like, shape of ``estimate.mean``
    atol : float
        Differences up to ``atol`` count as 0 (rounding of the exact value), which matters
        where the Monte Carlo estimate is degenerate (``stderr = 0``, e.g. a quantity that is
        exactly 0 in every sample).

    Returns
    -------
    ndarray, shape of ``estimate.mean``
        ``inf`` where ``stderr = 0`` but the values differ by more than ``atol``.
    """
    mean, exact = np.asarray(estimate.mean, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if exact.shape != mean.shape:      # broadcasting would compare the wrong entries, silently
        raise ValueError(f"exact has shape {exact.shape} but estimate.mean has shape {mean.shape}; "
                         f"pass the exact values of the same quantity, entry for entry")
    diff = mean - exact
    diff = np.where(np.abs(diff) <= atol, 0.0, diff)
    se = np.asarray(estimate.stderr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    return np.where(se > 0, z, np.where(diff == 0, 0.0, np.inf))


def finite_difference(fun: Callable, x, *, h: float = 1e-6, direction=None, order: int = 2) -> np.ndarray:
    r"""Central differences of a deterministic ``fun``.

    Without ``direction``: the gradient, one coordinate ``e_i`` at a time; with ``direction = u``:
    the directional derivative along ``u``. ``order=2``: ``(f(x + h e) - f(x - h e)) / (2h)``,
    truncation error ``O(h^2)``; ``order=4``:
    ``(f(x - 2h e) - 8 f(x - h e) + 8 f(x + h e) - f(x + 2h e)) / (12 h)``, error ``O(h^4)``.
    Rounding adds ``O(eps |f| / h)`` to both.

    Parameters
    ----------
    fun : callable ``ndarray -> float``
    x : array_like, any shape
    h : float
    direction : array_like, shape of ``x``, optional
    order : {2, 4}

    Returns
    -------
    ndarray, shape of ``x`` (gradient) or ``()`` (directional derivative)
    """
    x = as_float_array(x, "x", dtype=np.float64)
    h = check_real(h, "h", low=0.0, low_open=True)
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4; got {order!r}")

    def along(e):
        if order == 2:
            return (fun(x + h * e) - fun(x - h * e)) / (2 * h)
        return (fun(x - 2 * h * e) - 8 * fun(x - h * e) + 8 * fun(x + h * e) - fun(x + 2 * h * e)) / (12 * h)

    if direction is not None:
        u = as_float_array(direction, "direction", dtype=np.float64)
        if u.shape != x.shape:
            raise ValueError(f"direction has shape {u.shape} but x has shape {x.shape}; they must match")
        return np.asarray(along(u))
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1.0
        grad[i] = along(e)
    return grad


def crn_finite_difference(fun: Callable, x, seed: int, *, h: float = 1e-6, direction=None,
                          order: int = 2) -> np.ndarray:
    r"""Central differences of a random ``fun(x, rng)`` with common random numbers.

    Every evaluation receives a fresh ``numpy.random.default_rng(seed)``, so ``f(x + h e_i)``
    and ``f(x - h e_i)`` see the same draws: the difference quotient is then the derivative
    of one realization ``f(., xi)``, with no ``Var(f) / h^2`` noise.

    Parameters
    ----------
    fun : callable ``(ndarray, Generator) -> float``
    x : array_like
    seed : int
        The common seed (a Generator would be consumed, so an int is required).
    h, direction, order
        As in :func:`finite_difference`.

    Returns
    -------
    ndarray
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int (each evaluation re-creates its Generator); got {seed!r}")
    return finite_difference(lambda y: fun(y, np.random.default_rng(seed)), x, h=h, direction=direction, order=order)


def gaussian_smoothing_grad(fun: Callable, x, *, scale: float, n_samples: int, seed,
                            antithetic: bool = True) -> Estimate:
    r"""Gradient of the Gaussian smoothing ``f_s(x) = E_u f(x + s u)``, ``u ~ N(0, I)``.

    .. math::

        \nabla f_s(x) = \frac1s \mathbb E[f(x + s u)\, u]
                      = \frac{1}{2s} \mathbb E[(f(x + s u) - f(x - s u))\, u]

    (Stein's identity; the antithetic form has the same mean and smaller variance).
    Defined for any integrable ``f``, piecewise-constant ones included.

    Parameters
    ----------
    fun : callable ``ndarray -> float``
    x : array_like
    scale : float
        Smoothing radius ``s > 0``.
    n_samples : int
        Number of directions ``u`` (>= 2).
    seed : int, SeedSequence or Generator
    antithetic : bool

    Returns
    -------
    Estimate
        Mean and standard error of the gradient estimate, shape of ``x``.
    """
    x = as_float_array(x, "x", dtype=np.float64)
    scale = check_real(scale, "scale", low=0.0, low_open=True)
    n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
    rng = make_rng(seed)
    samples = np.empty((n_samples,) + x.shape)
    f0 = None if antithetic else fun(x)
    for i in range(n_samples):
        u = rng.standard_normal(x.shape)
        if antithetic:
            samples[i] = (fun(x + scale * u) - fun(x - scale * u)) / (2 * scale) * u
        else:
            samples[i] = (fun(x + scale * u) - f0) / scale * u    # f0 is a control variate: E[u] = 0
    return Estimate(samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(n_samples), n_samples)
