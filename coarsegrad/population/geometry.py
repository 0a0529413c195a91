"""Geometry of each pair ``(w_k, w*_k)``: norms, unit vectors, the angle computed without
cancellation, thresholds in units of the norms, and vectors stored by their coefficients on
``(w^, e_perp)`` (docs/theory.md §4.2, §5)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..quant import Staircase

__all__ = ["CoarseVectors"]


class Geometry(NamedTuple):
    """Per class ``k`` (shape ``(K,)`` unless stated): norms, unit vectors, angle.

    Internal to :mod:`coarsegrad.population` (built by :func:`pair_geometry`; its modules share it).
    """

    r: np.ndarray          # |w_k|
    r_star: np.ndarray     # |w*_k|
    w_hat: np.ndarray      # (n, K) w_k / |w_k|   (0 where w_k = 0)
    e_perp: np.ndarray     # (n, K) unit vector of w*^ orthogonal to w^ (0 where undefined)
    rho: np.ndarray        # cos theta
    s: np.ndarray          # sin theta >= 0
    one_minus_rho: np.ndarray   # 1 - rho, accurate near theta = 0
    one_plus_rho: np.ndarray    # 1 + rho, accurate near theta = pi
    t: np.ndarray          # (K, L) t_k / |w_k|   (thresholds of sigma(z^T w) in units of |w|)
    c: np.ndarray          # (K, L) t_l / |w*_k|
    student_on: np.ndarray  # w_k != 0
    teacher_on: np.ndarray  # w*_k != 0


def _subset(geom: Geometry, keep: np.ndarray) -> Geometry:
    """The classes ``keep`` (a boolean mask over K) of ``geom``."""
    return Geometry(geom.r[keep], geom.r_star[keep], geom.w_hat[:, keep], geom.e_perp[:, keep],
                     geom.rho[keep], geom.s[keep], geom.one_minus_rho[keep], geom.one_plus_rho[keep],
                     geom.t[keep], geom.c[keep],
                     geom.student_on[keep], geom.teacher_on[keep])


def column_norms(W: np.ndarray) -> np.ndarray:
    """Euclidean norms of the columns, scaled first so that |w| near 1e+-300 neither
    overflows nor underflows in the sum of squares."""
    big = np.abs(W).max(axis=0)
    safe = np.where(big > 0, big, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):   # inf or nan beyond the float range; callers check
        return big * _norms(W / safe)


def _norms(X: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(X, axis=0)``, the same sum of squares without its dispatch (called every step)."""
    return np.sqrt(np.add.reduce(X * X, axis=0))


def pair_geometry(W: np.ndarray, W_star: np.ndarray, staircase: Staircase,
                  teacher_staircase: Staircase | None = None) -> Geometry:
    """The :class:`Geometry` of each pair ``(w_k, w*_k)`` (columns of ``W``, ``W_star``, shape (n, K)).

    ``t`` holds ``staircase``'s thresholds over ``|w_k|``, ``c`` those of ``teacher_staircase``
    (default: the same staircase; a student at its own resolution passes the teacher's) over ``|w*_k|``.
    """
    r = column_norms(W)
    r_star = column_norms(W_star)
    student_on, teacher_on = r > 0, r_star > 0
    w_hat = np.divide(W, r, out=np.zeros_like(W), where=student_on)
    ws_hat = np.divide(W_star, r_star, out=np.zeros_like(W_star), where=teacher_on)
    # With a = |w^ - w*^|, b = |w^ + w*^| (a^2 + b^2 = 4): rho = (b^2 - a^2)/(a^2 + b^2),
    # sin theta = 2ab/(a^2 + b^2), 1 -+ rho = 2 a^2 or 2 b^2 over (a^2 + b^2). Exact at theta = 0
    # and pi (a or b is exactly 0) and accurate near them, where w^.w*^ is not (docs/theory.md §5).
    a = _norms(w_hat - ws_hat)
    b = _norms(w_hat + ws_hat)
    norm2 = a * a + b * b
    both = student_on & teacher_on
    safe = np.where(both, norm2, 1.0)
    rho = np.where(both, (b * b - a * a) / safe, 0.0)    # no angle without both vectors: never used
    s = np.where(both, 2.0 * a * b / safe, 1.0)
    one_minus_rho = np.where(both, 2.0 * a * a / safe, 1.0)
    one_plus_rho = np.where(both, 2.0 * b * b / safe, 1.0)
    d = ws_hat - np.sum(w_hat * ws_hat, axis=0) * w_hat
    d -= np.sum(w_hat * d, axis=0) * w_hat         # Gram-Schmidt twice: e_perp orthogonal to w^ to rounding even when theta ~ 0
    d_norm = _norms(d)
    e_perp = np.divide(d, d_norm, out=np.zeros_like(d), where=both & (d_norm > 0) & (s > 0))
    ks = staircase.thresholds
    ks_star = ks if teacher_staircase is None or teacher_staircase == staircase else teacher_staircase.thresholds
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # |w| = 0 rows masked below; tiny |w|: t -> inf
        t = np.where(student_on[:, None], ks[None, :] / r[:, None], np.inf)
        c = np.where(teacher_on[:, None], ks_star[None, :] / r_star[:, None], np.inf)
    return Geometry(r, r_star, w_hat, e_perp, rho, s, one_minus_rho, one_plus_rho, t, c, student_on, teacher_on)


class CoarseVectors(NamedTuple):
    """``A = a w^``, ``B = b w^``, ``C = C_w w^ + C_perp e_perp`` for each class (shape ``(K,)``).

    For an STE, ``A = E[mu'(z^T w) z]``, ``B = E[sigma(z^T w) mu'(z^T w) z]``,
    ``C = E[sigma(z^T w*) mu'(z^T w) z]``. With ``mu'`` replaced by ``sigma'`` they are
    ``grad m``, ``grad q / 2`` and ``grad c``.
    """

    a: np.ndarray
    b: np.ndarray
    C_w: np.ndarray
    C_perp: np.ndarray

    def as_vectors(self, geom_w_hat: np.ndarray, geom_e_perp: np.ndarray):
        """``(A, B, C)`` as ``(n, K)`` arrays."""
        return (self.a * geom_w_hat, self.b * geom_w_hat, self.C_w * geom_w_hat + self.C_perp * geom_e_perp)

    def with_teacher_step(self, ratio: float) -> "CoarseVectors":
        """``C`` rescaled by ``ratio = alpha* / alpha``: ``C`` is linear in the teacher's step height, and
        vectors computed with the student's staircase carry the student's ``alpha`` there (learnable
        resolution, :mod:`coarsegrad.population.alpha`); ``A``, ``B`` are unchanged."""
        return self._replace(C_w=self.C_w * ratio, C_perp=self.C_perp * ratio)


def _rho_x_minus(x, c, rho, omr, opr):
    """``rho x - c`` without cancellation when ``rho ~ +-1`` and ``x ~ +-c``:
    ``(x - c) - (1 - rho) x`` for ``rho >= 0``, ``-(x + c) + (1 + rho) x`` otherwise."""
    with np.errstate(invalid="ignore", over="ignore"):   # x = +-inf gives +-inf or nan (rho = 0); callers mask it
        return np.where(rho >= 0, (x - c) - omr * x, (opr * x) - (x + c))
