r"""The staircase: a quantized ReLU with ``bits`` bits and resolution ``alpha``.

With ``L = 2**bits - 1`` non-zero levels the activation is

.. math::

    \sigma(z) = \alpha \sum_{k=0}^{L-1} \mathbf 1\{z > k\alpha\}
              = \begin{cases}
                  0            & z \le 0, \\
                  k\alpha      & (k-1)\alpha < z \le k\alpha,\quad k = 1,\dots,L-1, \\
                  L\alpha      & z > (L-1)\alpha .
                \end{cases}

Thresholds ``k*alpha`` (``k = 0..L-1``) are where it jumps, each jump of height
``alpha``; levels ``k*alpha`` (``k = 0..L``) are the values it takes. This is the
*ceiling* convention of the authors' public code (docs/paper-notes.md, choice Q1):
``sigma(k*alpha) = k*alpha``, a threshold belongs to the step below it. ``bits = 1``
is the binary activation ``alpha * 1{z > 0}``.

**No gradient.** ``sigma`` is piecewise constant, so ``sigma'(z) = 0`` for every
``z`` that is not a threshold; its distributional derivative is the comb
``alpha * sum_k delta(z - k*alpha)``. Nothing in coarsegrad differentiates ``sigma``:
the only route to a backward pass is an STE's ``mu_prime`` (:mod:`coarsegrad.ste`).
The comb reappears, integrated against a Gaussian, in the exact population
gradient (:mod:`coarsegrad.population`, docs/theory.md §3).

**Floating point.** Thresholds and levels are ``k * alpha`` rounded once in the
working dtype (that of ``z``), and ``sigma`` compares ``z`` with exactly those
numbers, so ``sigma(thresholds(b, a)[k]) == levels(b, a)[k]`` holds bit for bit.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_alpha, check_bits

__all__ = ["n_levels", "thresholds", "levels", "sigma"]


def n_levels(bits: int) -> int:
    """Number of non-zero levels ``L = 2**bits - 1`` of the ``bits``-bit staircase.

    Parameters
    ----------
    bits : int
        Bit-width ``b >= 1``.

    Returns
    -------
    int
        ``L``; ``1`` for the binary activation.
    """
    return 2 ** check_bits(bits) - 1


def thresholds(bits: int, alpha: float, dtype=np.float64) -> np.ndarray:
    """Jump locations ``t_k = k * alpha``, ``k = 0, ..., L-1``.

    Parameters
    ----------
    bits : int
        Bit-width ``b >= 1``.
    alpha : float
        Resolution ``alpha > 0`` (the height and spacing of the steps).
    dtype : numpy dtype, optional
        Working dtype in which ``k * alpha`` is rounded.

    Returns
    -------
    ndarray, shape (L,)
    """
    dtype = np.dtype(dtype)
    return np.arange(n_levels(bits), dtype=dtype) * dtype.type(check_alpha(alpha))


def levels(bits: int, alpha: float, dtype=np.float64) -> np.ndarray:
    """Values ``k * alpha``, ``k = 0, ..., L``, that ``sigma`` takes.

    Returns
    -------
    ndarray, shape (L + 1,)
    """
    dtype = np.dtype(dtype)
    return np.arange(n_levels(bits) + 1, dtype=dtype) * dtype.type(check_alpha(alpha))


def sigma(z, bits: int, alpha: float) -> np.ndarray:
    r"""The quantized ReLU ``sigma(z) = alpha * sum_{k=0}^{L-1} 1{z > k*alpha}``.

    .. math::

        \sigma(z) = \begin{cases}
            0 & z \le 0 \\
            k\alpha & (k-1)\alpha < z \le k\alpha, \; 1 \le k \le L-1 \\
            L\alpha & z > (L-1)\alpha
        \end{cases}

    At a threshold the lower value is taken: ``sigma(0) = 0``,
    ``sigma(k*alpha) = k*alpha``.

    Parameters
    ----------
    z : array_like, any shape
        Pre-activations; must be finite.
    bits : int
        Bit-width ``b``, ``1 <= b <= 16``; ``L = 2**b - 1``.
    alpha : float
        Resolution ``alpha > 0``.

    Returns
    -------
    ndarray, same shape as ``z``
        Values in ``{0, alpha, ..., L*alpha}``, in the floating dtype of ``z``
        (float64 for integer input).
    """
    z = as_float_array(z, "z", allow_empty=True)
    return _sigma(z, n_levels(bits), check_alpha(alpha))


#: Up to this many thresholds sigma counts them one comparison at a time (fastest for few levels);
#: beyond, it rounds z / alpha up and corrects the rounding (benchmarks/bench_train.py).
_COUNT_MAX_LEVELS = 7


def _sigma(z: np.ndarray, L: int, alpha: float) -> np.ndarray:
    """Unchecked ``sigma`` for the hot paths; ``z`` is a finite floating array."""
    a = z.dtype.type(alpha)
    if L <= _COUNT_MAX_LEVELS:
        # The definition itself: count the thresholds k*a (rounded in z's dtype) that z exceeds.
        count = np.greater(z, 0).view(np.uint8)       # a fresh array: reused as the counter
        for k in range(1, L):
            count += np.greater(z, z.dtype.type(k) * a).view(np.uint8)
        return np.multiply(count, a, dtype=z.dtype)  # count * a, rounded once as k * a is
    k = np.empty_like(z)
    with np.errstate(over="ignore"):       # |z| near the float max: z/a -> +-inf, which the clip maps to L or 0
        np.divide(z, a, out=k)
    np.ceil(k, out=k)                      # level index, but z/a rounds: may be off by one at a threshold
    np.clip(k, 0, L, out=k)
    # Make it exact against the thresholds k*a as rounded in this dtype:
    # k is right iff (k == 0 or (k-1)*a < z) and (k == L or k*a >= z).
    k -= (k >= 1) & ((k - 1) * a >= z)
    k += (k <= L - 1) & (k * a < z)
    k *= a
    return k
