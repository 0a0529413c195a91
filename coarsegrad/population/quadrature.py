"""The two integration engines of the expected coarse gradient for STEs without a
piecewise-constant ``mu'`` (docs/theory.md §4.4)."""
from __future__ import annotations

import numpy as np
from scipy import integrate

__all__: list[str] = []


#: Adaptive quadrature stops at |u| = 40, where phi(u) < 1e-347 underflows; the fixed Gauss-Legendre
#: rule at |u| = 12, where phi(u) < 3e-32 is far below rounding of the O(1) results.
_U_MAX_ADAPTIVE = 40.0
_U_MAX_GAUSS = 12.0
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)


def _graded_points(kinks, scale, u_max):
    """``kink +- scale * 2^j`` for ``j = -2, -1, 0, ...`` up to (a little beyond) ``u_max``.

    ``mu'(r u)`` varies on the length ``scale = 1/r`` next to a kink (the log tail
    ``1/(1 + r u - L alpha)`` has a pole at that distance): geometric panels resolve it at every
    ``|w|``, and ``log2(u_max / scale)`` of them reach the panels of unit width (docs/theory.md §5).
    """
    kinks = np.asarray(kinks, dtype=np.float64).ravel()
    kinks = kinks[np.isfinite(kinks)]                 # a kink at +-inf (|w| -> 0) needs no panels
    if not (np.isfinite(scale) and scale > 0) or kinks.size == 0:
        return np.empty(0)
    steps = scale * 2.0 ** np.arange(-2, max(int(np.ceil(np.log2(2 * u_max / scale))), -1) + 1)
    return (kinks[:, None] + np.concatenate([steps, -steps])[None, :]).ravel()


def _integrate_adaptive(fn, breaks, kinks=(), scale=1.0, max_width=None, epsabs=1e-15, epsrel=1e-12, limit=2000):
    """``int fn`` over ``[-40, 40]`` by adaptive Gauss-Kronrod, split at ``breaks`` and ``kinks``
    (``scale`` and ``max_width`` are not needed: the rule adapts). It does need a tolerance relative to
    the result: the vectors of E g shrink like ``1/|w|`` or ``1/|w|^2``, so a result far below 1 is
    refined a second time to ``epsrel`` of its own size (an absolute ``1e-15`` lost ~20 % at
    ``|w|/alpha = 1e3``). ``fn`` maps points ``(P,)`` to values ``(m, P)``."""
    points = np.concatenate([np.asarray(breaks, dtype=np.float64).ravel(),
                             np.asarray(kinks, dtype=np.float64).ravel()])
    inner = np.unique(points[np.isfinite(points) & (np.abs(points) < _U_MAX_ADAPTIVE)])
    one = lambda x: fn(np.array([x]))[:, 0]      # quad_vec evaluates one point at a time

    def run(tol):
        return integrate.quad_vec(one, -_U_MAX_ADAPTIVE, _U_MAX_ADAPTIVE, epsabs=tol, epsrel=epsrel,
                                  norm="max", points=inner, limit=limit)[0]
    # First to an absolute 1e-15, then, if the result is small (|w| >> alpha makes it O(1/|w|)), again
    # relative to its own size: a purely relative tolerance would chase rounding noise in results
    # that are 0 or below 1e-300.
    first = run(epsabs)
    size = np.max(np.abs(first), initial=0.0)
    if 0 < size < 1e-2:
        return run(max(epsrel * size, 1e-300))
    return first


def _integrate_gauss(fn, breaks, kinks=(), scale=1.0, max_width=1.0):
    """``int fn`` over ``[-12, 12]`` by 20-point Gauss-Legendre on panels no wider than
    ``max_width``, split at ``breaks``: all nodes in one vectorized call.

    ``mu'`` may vary on a length ``scale`` next to its ``kinks`` (the log-tailed STE's
    ``1/(1 + z - L alpha)`` has a pole at distance ``scale = 1/r`` in ``u``), so panels are
    graded geometrically there, ``kink +- scale * 2^j`` up to unit width (:func:`_graded_points`),
    keeping the rule exact to rounding at every ``|w|``.
    """
    breaks = np.asarray(breaks, dtype=np.float64).ravel()
    kinks = np.asarray(kinks, dtype=np.float64).ravel()
    points = np.concatenate([breaks, kinks[np.isfinite(kinks)], _graded_points(kinks, scale, _U_MAX_GAUSS)])
    inner = points[np.isfinite(points) & (np.abs(points) < _U_MAX_GAUSS)]
    grid = np.arange(-_U_MAX_GAUSS, _U_MAX_GAUSS + max_width / 2, max_width)
    edges = np.unique(np.concatenate([grid, inner]))
    half = 0.5 * np.diff(edges)[:, None]
    nodes = (0.5 * (edges[:-1] + edges[1:]))[:, None] + half * _GL_NODES
    return fn(nodes.ravel()) @ (half * _GL_WEIGHTS).ravel()
