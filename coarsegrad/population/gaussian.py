"""Gaussian special functions: the normal density, survival function and the bivariate normal
CDF through Owen's T (docs/theory.md §2.3), with the limits the population formulas need."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr, owens_t

__all__ = ["bvn_cdf"]


_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _phi(x):
    """Standard normal density; 0 at +-inf (and for |x| > 1e154, where x^2 overflows to inf)."""
    with np.errstate(over="ignore"):
        return _INV_SQRT_2PI * np.exp(-0.5 * np.square(x))


def Qbar(x):
    """Standard normal survival function ``P(U > x)``."""
    return ndtr(-x)


def bvn_cdf(h, g, rho) -> np.ndarray:
    r"""Bivariate standard normal CDF ``Phi2(h, g; rho) = P(X <= h, Y <= g)``, corr(X, Y) = rho.

    Owen (1956): with ``s = sqrt(1 - rho^2)``, ``a_h = (g - rho h) / (h s)``, ``a_g = (h - rho g) / (g s)``,

    .. math::

        \Phi_2 = \tfrac12\Phi(h) + \tfrac12\Phi(g) - T(h, a_h) - T(g, a_g) - \beta,
        \quad \beta = \tfrac12 \mathbf 1\{hg < 0\},

    with the limits ``Phi2(0, g) = Phi(g)/2 + T(g, rho/s)``, ``Phi2(0, 0) = 1/4 + asin(rho)/(2 pi)``,
    ``Phi2(h, g; 1) = Phi(min(h, g))`` and ``Phi2(h, g; -1) = max(0, Phi(h) + Phi(g) - 1)``.
    Accurate to a few ulp in absolute terms (scipy's ``owens_t``).

    Parameters
    ----------
    h, g : array_like
        Upper limits (``+-inf`` allowed).
    rho : array_like
        Correlation in ``[-1, 1]``. All three broadcast together.

    Returns
    -------
    ndarray
    """
    h, g, rho = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (h, g, rho)))
    if np.isnan(h).any() or np.isnan(g).any():
        raise ValueError("h and g must not contain NaN")
    if not np.all((rho >= -1) & (rho <= 1)):
        raise ValueError(f"rho must lie in [-1, 1]; got values in [{np.nanmin(rho)}, {np.nanmax(rho)}]")
    return _bvn_cdf(h, g, rho, np.sqrt(np.maximum(0.0, (1.0 - rho) * (1.0 + rho))))


def _broadcast(*arrays):
    """The arrays broadcast to their common shape, as new float64 arrays: ``np.broadcast_arrays`` without its
    cost (5x the copies' on the small arrays of a descent step, where these helpers run every step)."""
    shape = np.broadcast(*arrays).shape
    out = []
    for x in arrays:
        full = np.empty(shape)
        full[...] = x
        out.append(full)
    return out


def _bvn_cdf(h, g, rho, s):
    """``Phi2(h, g; rho)`` with ``s = sqrt(1 - rho^2)`` given (accurately) by the caller."""
    h, g, rho, s = _broadcast(h, g, rho, s)
    out = np.empty(h.shape)
    deg = s == 0
    reg = ~deg
    if deg.any():
        # rho = +-1: perfectly (anti-)correlated.
        up, down = deg & (rho > 0), deg & (rho < 0)
        out[up] = ndtr(np.minimum(h[up], g[up]))
        out[down] = np.maximum(0.0, ndtr(h[down]) - ndtr(-g[down]))
    hz, gz = reg & (h == 0), reg & (g == 0)
    if hz.any() or gz.any():             # a threshold at 0 (the ceil convention's first): Owen's T limits
        both = hz & gz
        out[both] = 0.25 + np.arctan2(rho[both], s[both]) / (2 * np.pi)
        only_h = hz & ~gz                                  # Phi2(0, g) = Phi(g)/2 + T(g, rho/s)
        out[only_h] = 0.5 * ndtr(g[only_h]) + owens_t(g[only_h], rho[only_h] / s[only_h])
        only_g = gz & ~hz
        out[only_g] = 0.5 * ndtr(h[only_g]) + owens_t(h[only_g], rho[only_g] / s[only_g])
    gen = reg & ~hz & ~gz
    hh, gg, rr, ss = h[gen], g[gen], rho[gen], s[gen]
    finite = np.isfinite(hh) & np.isfinite(gg)
    # inf limits: T(+-inf, a) = 0, handled by `finite`; a_h, a_g may overflow to +-inf when h or g is
    # tiny, and owens_t(h, +-inf) is the right limit
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        a_h = (gg - rr * hh) / (hh * ss)
        a_g = (hh - rr * gg) / (gg * ss)
        val = (0.5 * ndtr(hh) + 0.5 * ndtr(gg)
               - np.where(np.isfinite(hh), owens_t(hh, np.where(finite, a_h, 0.0)), 0.0)
               - np.where(np.isfinite(gg), owens_t(gg, np.where(finite, a_g, 0.0)), 0.0)
               - 0.5 * (hh * gg < 0))
    # One limit infinite: Phi2(h, +inf) = Phi(h), Phi2(h, -inf) = 0.
    inf_any = ~finite
    if inf_any.any():
        val[inf_any] = np.where(
            (hh[inf_any] == -np.inf) | (gg[inf_any] == -np.inf), 0.0,
            ndtr(np.minimum(hh[inf_any], gg[inf_any])))
    out[gen] = val
    return np.clip(out, 0.0, 1.0)


def _Phi_over(y, s):
    """``Phi(y / s)``, and its limit ``1{y > 0} + 1{y = 0}/2`` at ``s = 0`` (y / s may overflow to +-inf:
    the right limit)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(s > 0, ndtr(y / np.where(s > 0, s, 1.0)), 0.5 * (1.0 + np.sign(y)))


def _phi_over(y, s):
    """``phi(y / s)`` for ``s > 0`` (0 at ``s = 0``, where it only ever multiplies ``s``)."""
    with np.errstate(over="ignore"):
        return np.where(s > 0, _phi(y / np.where(s > 0, s, 1.0)), 0.0)


def finite_phi(x):
    """``phi(x)`` and ``x phi(x)`` with both 0 at ``x = +-inf``."""
    ph = _phi(x)
    with np.errstate(invalid="ignore"):
        return ph, np.where(np.isfinite(x), x * ph, 0.0)


def _phi_diff(x1, x2, h, sgn):
    """``phi(x1) - phi(x2)`` for ``x1 <= x2`` without cancellation when ``x1 ~ x2``.

    ``h = x2 - x1`` and ``sgn = x1 + x2`` are passed in, computed by the caller where they are exact
    (in ``z`` units, before dividing by ``|w|``): ``phi(x1) - phi(x2) = phi(x1) (1 - exp(-h sgn / 2))``,
    written on the side of the larger density so that ``expm1`` never overflows (docs/theory.md §5).
    Infinite ends give ``phi(x1)``, ``-phi(x2)`` or 0.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        e = 0.5 * h * sgn
        out = np.where(sgn > 0, -_phi(x1) * np.expm1(-e), _phi(x2) * np.expm1(e))
    return np.where(np.isnan(sgn) | (h == 0), 0.0, out)    # sgn nan: (-inf, inf), both densities 0


#: 10-point Gauss-Legendre rule on [-1, 1], for the narrow windows of ``_Phi_diff`` and ``_vectors_pieces``.
_GL10_NODES, _GL10_WEIGHTS = np.polynomial.legendre.leggauss(10)
#: A window is "narrow" when every integrand on it varies by at most a factor ~e^(1/8): a 10-point
#: Gauss-Legendre rule is then exact to rounding (Taylor remainder (1/8)^20 / 20!).
_NARROW = 0.125


def _Phi_diff(a, b, d):
    """``Phi(b) - Phi(a)`` for ``a <= b`` without cancellation; ``d = b - a`` is given directly (exact
    where the caller has it exactly; ``inf`` when an end is infinite).

    Narrow windows (``d (1 + |a| + |b|) <= 1/8``): ``int_a^b phi`` by a 10-point Gauss-Legendre rule
    on ``[a, a + d]``. Otherwise the difference of the two tails on the side of ``a``: it keeps at least
    a fixed fraction of its leading term, so no digits are lost.
    """
    if not np.shape(a) == np.shape(b) == np.shape(d):
        a, b, d = _broadcast(a, b, d)
    with np.errstate(invalid="ignore", over="ignore"):
        narrow = np.isfinite(a) & np.isfinite(b) & (d * (1.0 + np.abs(a) + np.abs(b)) <= _NARROW)
        out = np.where(a >= 0, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    if narrow.any():
        an, dn = a[narrow], d[narrow]
        nodes = (an + 0.5 * dn)[:, None] + (0.5 * dn)[:, None] * _GL10_NODES
        out[narrow] = 0.5 * dn * (_phi(nodes) @ _GL10_WEIGHTS)
    return out


def _Phi_step(a, b, d):
    """``Phi(b) - Phi(a)`` in either order, ``d = b - a`` given directly."""
    a, b, d = _broadcast(a, b, d)
    up = d >= 0
    D = _Phi_diff(np.where(up, a, b), np.where(up, b, a), np.abs(d))
    return np.where(up, D, -D)
