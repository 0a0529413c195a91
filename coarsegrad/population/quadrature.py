"""The two integration engines of the expected coarse gradient for STEs without a
piecewise-constant ``mu'`` (docs/theory.md §4.4)."""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["QuadratureWarning"]


#: Adaptive quadrature stops at |u| = 40, where phi(u) < 1e-347 underflows; the fixed Gauss-Legendre
#: rule at |u| = 12, where phi(u) < 3e-32 is far below rounding of the O(1) results.
_U_MAX_ADAPTIVE = 40.0
_U_MAX_GAUSS = 12.0
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)


def _graded_points(kinks, scale, u_max, ratio=2.0):
    """``kink +- scale * ratio^j`` for ``j = -1, 0, 1, ...`` (and ``scale / 4``) up to (a little beyond) ``u_max``.

    ``mu'(r u)`` varies on the length ``scale`` next to a kink: ``1/r`` for the log tail
    ``1/(1 + r u - L alpha)`` (a pole at that distance), ``min(1, alpha)/r`` for any ``mu'`` whose
    shape scales with the staircase (a bump of width ``L alpha`` in ``z``). Geometric panels resolve
    such a feature at every ``|w|``, and ``log_ratio(u_max / scale)`` of them reach the panels of unit
    width (docs/theory.md §5).
    """
    kinks = np.asarray(kinks, dtype=np.float64).ravel()
    kinks = kinks[np.isfinite(kinks)]                 # a kink at +-inf (|w| -> 0) needs no panels
    if not (np.isfinite(scale) and scale > 0) or kinks.size == 0:
        return np.empty(0)
    with np.errstate(over="ignore"):                  # scale below ~1e-307 (|w| near the float limit)
        span = 2 * u_max / scale
        log_span = np.log(span) if np.isfinite(span) else np.log(2 * u_max) - np.log(scale)
        top = max(int(np.ceil(log_span / np.log(ratio))), -1)
        steps = scale * np.concatenate([[0.25], ratio ** np.arange(-1, top + 1, dtype=np.float64)])
    steps = steps[np.isfinite(steps)]                 # ratio^j beyond the float range: points far beyond u_max
    return (kinks[:, None] + np.concatenate([steps, -steps])[None, :]).ravel()


class QuadratureWarning(RuntimeWarning):
    """Adaptive quadrature stopped before reaching its tolerance (the result may be inaccurate)."""


#: Gauss-Legendre rule of the adaptive engine: each interval is integrated whole and as two halves
#: (3 x 15 nodes); the difference is the error estimate and the halves the value.
_AD_NODES, _AD_WEIGHTS = np.polynomial.legendre.leggauss(15)
_AD_MAX_ROUNDS = 60


def _gl_panels(fn, a, b):
    """``int_a^b fn`` on each interval, whole and as the sum of its two halves: two ``(m, N)`` arrays from
    one vectorized call of ``fn``."""
    mid = 0.5 * (a + b)
    lo = np.concatenate([a, a, mid])
    hi = np.concatenate([b, mid, b])
    half = 0.5 * (hi - lo)
    nodes = (0.5 * (lo + hi))[:, None] + half[:, None] * _AD_NODES
    vals = fn(nodes.ravel())
    vals = vals.reshape(vals.shape[0], lo.size, _AD_NODES.size) @ _AD_WEIGHTS * half   # (m, 3N)
    N = a.size
    return vals[:, :N], vals[:, N:2 * N] + vals[:, 2 * N:]


def _integrate_adaptive(fn, breaks, kinks=(), scale=1.0, max_width=None, epsrel=1e-12, limit=200_000):
    """``int fn`` over ``[-40, 40]`` by globally adaptive Gauss-Legendre, for any ``mu'``.

    The start intervals are split at ``breaks``, ``kinks`` and at points graded geometrically (ratio 4)
    away from the kinks from ``scale`` up (:func:`_graded_points`); then every interval whose error
    estimate (whole rule minus the sum over its halves, 15 points each) is above its share of the
    tolerance ``max(epsrel |result|, 64 eps int |fn|)`` is halved, all intervals of a round in one vectorized
    call of ``fn``. The grading matters: a feature of ``mu'`` of width ``scale`` (``L alpha / |w|`` in
    ``u``) next to a kink is invisible to a rule on a unit-width interval, which then never refines
    there (a smooth bump was 48 % wrong at ``|w|/alpha = 1e4`` with unit-scale start intervals). The
    tolerance is relative to the result (the vectors of E g shrink like ``1/|w|`` or ``1/|w|^2``, so
    no absolute tolerance fits every scale), and never below the rounding of the sums, ``64 eps int |fn|``
    (a result that cancels to 0 is not chased into noise). ``fn`` maps points ``(P,)`` to values
    ``(m, P)``; ``max_width`` is not needed.

    Raises
    ------
    FloatingPointError
        If the integrand is not finite at some point (``mu'`` returned NaN or inf there).

    Warns
    -----
    QuadratureWarning
        If the rule stops (``limit`` intervals or 60 rounds) before its tolerance; the estimated
        error and the remedy are stated.
    """
    points = np.concatenate([np.asarray(breaks, dtype=np.float64).ravel(),
                             np.asarray(kinks, dtype=np.float64).ravel(),
                             _graded_points(kinks, scale, _U_MAX_ADAPTIVE, ratio=4.0)])
    inner = points[np.isfinite(points) & (np.abs(points) < _U_MAX_ADAPTIVE)]
    edges = np.unique(np.concatenate([[-_U_MAX_ADAPTIVE, _U_MAX_ADAPTIVE], inner]))
    a, b = edges[:-1], edges[1:]
    done = 0.0
    done_err = 0.0
    done_abs = 0.0                                   # sum of |value| of the kept intervals: ~ int |fn| so far
    for _ in range(_AD_MAX_ROUNDS):
        whole, fine = _gl_panels(fn, a, b)
        if not (np.all(np.isfinite(whole)) and np.all(np.isfinite(fine))):
            raise FloatingPointError("adaptive quadrature met a non-finite value of the integrand: mu' must be "
                                     "finite for every finite z")
        err = np.max(np.abs(whole - fine), axis=0)                           # (N,)
        total = done + fine.sum(axis=1)
        size = np.max(np.abs(whole), axis=0).sum() + done_abs                               # ~ int |fn|
        tol = max(epsrel * np.max(np.abs(total), initial=0.0), 64 * np.finfo(float).eps * size,
                  np.finfo(float).tiny)
        if done_err + err.sum() <= tol:
            return total
        # An interval keeps its result once its error is below an equal share of half the tolerance left
        # (so the kept errors never add up beyond tol), or once it is too narrow to split in floating point,
        width_floor = 64 * np.finfo(float).eps * np.maximum(np.abs(a), np.abs(b))
        # ... or once the error is rounding of the interval's own value (many small intervals: their
        # shares of the tolerance fall below what their rules can resolve).
        noise = 32 * np.finfo(float).eps * np.max(np.abs(whole) + np.abs(fine), axis=0)
        keep = (err <= 0.5 * (tol - done_err) / err.size) | (err <= noise) | (b - a <= width_floor)
        done = done + fine[:, keep].sum(axis=1)
        done_err += err[keep].sum()
        done_abs += np.max(np.abs(fine[:, keep]), axis=0, initial=0.0).sum()
        if keep.all():
            return done
        a, b = a[~keep], b[~keep]
        if 2 * a.size > limit:
            break
        mid = 0.5 * (a + b)
        a, b = np.concatenate([a, mid]), np.concatenate([mid, b])
    err_left = done_err + np.max(np.abs(whole - fine)[:, ~keep], initial=0.0) * (~keep).sum()
    warnings.warn(f"adaptive quadrature stopped before its tolerance {tol:.3g} (estimated error {err_left:.3g}, "
                  f"interval width down to {np.min(b - a):.3g}); the result may be inaccurate. For a mu' smooth "
                  f"between its kinks use method='gauss' (smooth_between_kinks=True), and declare the kinks "
                  f"with kink_points", QuadratureWarning, stacklevel=5)
    return done + fine[:, ~keep].sum(axis=1)


#: With kinks per row, each row gets its own panels when the union of all rows' panels has this many times
#: the edges of one row's own (padded) rule: every row would pay for the others' grading (far from ``w*``,
#: with the log tail's perpendicular integrals one row per threshold). Otherwise (few rows, near ``w*``
#: where the kinks in ``y`` leave the rule's range, or graded points mostly out of range at huge ``|w|``)
#: the union costs less than the rows' bookkeeping and padding (benchmarks/bench_descent.py).
_OWN_PANELS_GAIN = 3.0


def _integrate_gauss(fn, breaks, kinks=(), scale=1.0, max_width=1.0):
    """``int fn`` over ``[-12, 12]`` by 20-point Gauss-Legendre on panels no wider than
    ``max_width``, split at ``breaks``: all nodes in one vectorized call.

    ``mu'`` may vary on a length ``scale`` next to its ``kinks`` (the log-tailed STE's
    ``1/(1 + z - L alpha)`` has a pole at distance ``scale = 1/r`` in ``u``), so panels are
    graded geometrically there, ``kink +- scale * 2^j`` up to unit width (:func:`_graded_points`),
    keeping the rule exact to rounding at every ``|w|``.

    ``kinks`` of shape ``(m, J)`` give each of the ``m`` rows of ``fn``'s values its own kinks. When
    the union of all rows' panels is larger than one row's own rule by :data:`_OWN_PANELS_GAIN`, row ``i``
    is integrated on its own panels (each row would pay for the others' grading) and ``fn`` maps nodes
    ``(m, P)`` to values ``(m, P)``; otherwise, and for 1-D ``kinks``, every row on the union of the
    panels and ``fn`` maps ``(P,)`` to ``(m, P)``: ``fn`` must accept both.
    """
    breaks = np.asarray(breaks, dtype=np.float64).ravel()
    rows = np.asarray(kinks, dtype=np.float64)
    kinks = rows.ravel()
    kinks = kinks[np.isfinite(kinks)]
    offsets = _graded_points(np.zeros(1), scale, _U_MAX_GAUSS)              # graded points of one kink at 0, (G,)
    points = np.concatenate([breaks, kinks, (kinks[:, None] + offsets).ravel()])
    inner = points[np.isfinite(points) & (np.abs(points) < _U_MAX_GAUSS)]
    grid = np.arange(-_U_MAX_GAUSS, _U_MAX_GAUSS + max_width / 2, max_width)
    edges = np.sort(np.concatenate([grid, inner]))
    edges = edges[np.concatenate([[True], edges[1:] != edges[:-1]])]       # np.unique's result, without its overhead
    if rows.ndim == 2 and rows.shape[0] > 1:
        # Each row's own rule has every point of its kinks, in range or not (padded): its edges per row.
        own = grid.size + breaks.size + rows.shape[1] * (1 + offsets.size)
        if _OWN_PANELS_GAIN * own < edges.size:
            return _integrate_gauss_rows(fn, grid, breaks, rows, offsets)
    half = 0.5 * np.diff(edges)[:, None]
    nodes = (0.5 * (edges[:-1] + edges[1:]))[:, None] + half * _GL_NODES
    return fn(nodes.ravel()) @ (half * _GL_WEIGHTS).ravel()


def _integrate_gauss_rows(fn, grid, breaks, kinks, offsets):
    """:func:`_integrate_gauss` with its own kinks per row (``kinks`` of shape ``(m, J)``), all rows in one call,
    on ``grid`` and ``breaks`` (shared) and each kink's graded ``offsets`` (:func:`_graded_points` of one kink).

    Every row has the same number of edges: a point that is not finite or lies outside ``(-12, 12)``
    becomes a copy of ``-12``, i.e. a panel of width 0, whose nodes carry weight 0 (and sit at a point
    where ``fn`` is finite). The sum over nodes is a plain pairwise sum (no BLAS kernel in it)."""
    m = kinks.shape[0]
    points = np.concatenate([np.repeat(np.concatenate([grid, breaks])[None, :], m, axis=0), kinks,
                             (kinks[:, :, None] + offsets).reshape(m, -1)], axis=1)
    # NaN and +-inf compare False: outside. The grid's own points (|u| <= 12, the last a little beyond) stay.
    inside = np.abs(points) < _U_MAX_GAUSS
    inside[:, :grid.size] = True
    edges = np.sort(np.where(inside, points, grid[0]), axis=1)
    half = 0.5 * np.diff(edges, axis=1)[:, :, None]
    nodes = ((0.5 * (edges[:, :-1] + edges[:, 1:]))[:, :, None] + half * _GL_NODES).reshape(m, -1)
    return np.sum(fn(nodes) * (half * _GL_WEIGHTS).reshape(m, -1), axis=1)
