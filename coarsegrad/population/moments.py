"""The moments ``m, q, c`` of the staircase under a Gaussian input, and the population loss
(docs/theory.md §2)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ..quant import Staircase
from .gaussian import _bvn_cdf, Qbar
from .geometry import Geometry, pair_geometry
from .teacher import check_student, _flatten, _per_setting, _population_staircase, Teacher

__all__ = ["moment_m", "moment_q", "moment_c", "population_loss"]

# Internal to the package (no leading underscore: the sibling modules use them): Moments,
# mixed_moments, teacher_moments, loss_terms, step_moments.


def _m_q(geom: Geometry, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``m = alpha sum_k Qbar(t_k)``, ``q = alpha^2 sum_j (2j+1) Qbar(t_j)``; 0 where w = 0."""
    Q = Qbar(geom.t)                                   # (K, L); Qbar(inf) = 0 for w = 0 rows
    odd = 2 * np.arange(geom.t.shape[1]) + 1
    m = alpha * Q.sum(axis=1)
    q = alpha**2 * (Q * odd).sum(axis=1)
    return np.where(geom.student_on, m, 0.0), np.where(geom.student_on, q, 0.0)


def _c(geom: Geometry, alpha: float, alpha_star: float | None = None) -> np.ndarray:
    """``c = alpha alpha* sum_{k,l} Phi2(-t_k, -c_l; rho)`` (student's step ``alpha``, teacher's ``alpha*``,
    default ``alpha``: then the factor is ``alpha**2``); 0 where w = 0 or w* = 0."""
    on = geom.student_on & geom.teacher_on
    c = np.zeros(geom.r.shape)
    if on.any():
        P = _bvn_cdf(-geom.t[on][:, :, None], -geom.c[on][:, None, :],
                     geom.rho[on][:, None, None], geom.s[on][:, None, None])   # (K', L, L)
        c[on] = (alpha**2 if alpha_star is None else alpha * alpha_star) * P.sum(axis=(1, 2))
    return c


def _weights_matrix(W, name):
    return as_float_array(W, name, ndim=2, shape_doc="(n, K)", dtype=np.float64)


def moment_m(W, staircase: Staircase) -> np.ndarray:
    r"""``m(w_k) = E sigma(z^T w_k) = alpha sum_{k'=0}^{L-1} Qbar(k' alpha / |w_k|)``, ``z ~ N(0, I)``.

    ``m = alpha/2`` for ``bits = 1`` (any ``w != 0``); ``m(0) = 0``.

    Parameters
    ----------
    W : array_like, shape (n, K)
    staircase : Staircase

    Returns
    -------
    ndarray, shape (K,)
    """
    W = _weights_matrix(W, "W")
    staircase = _population_staircase(staircase)
    return _m_q(pair_geometry(W, W, staircase), staircase.alpha)[0]


def moment_q(W, staircase: Staircase) -> np.ndarray:
    r"""``q(w_k) = E sigma(z^T w_k)^2 = alpha^2 sum_{j=0}^{L-1} (2j+1) Qbar(j alpha / |w_k|)``.

    ``q = alpha^2/2`` for ``bits = 1``; ``q(0) = 0``.

    Returns
    -------
    ndarray, shape (K,)
    """
    W = _weights_matrix(W, "W")
    staircase = _population_staircase(staircase)
    return _m_q(pair_geometry(W, W, staircase), staircase.alpha)[1]


def moment_c(W, W_star, staircase: Staircase) -> np.ndarray:
    r"""``c(w_k, w*_k) = E sigma(z^T w_k) sigma(z^T w*_k) = alpha^2 sum_{k',l} Phi2(-t_{k'}, -c_l; rho_k)``.

    ``t_{k'} = k' alpha/|w_k|``, ``c_l = l alpha/|w*_k|``, ``rho_k = cos angle(w_k, w*_k)``;
    ``c = alpha^2 (pi - theta) / (2 pi)`` for ``bits = 1``; 0 if either vector is 0.

    Parameters
    ----------
    W, W_star : array_like, shape (n, K)
    staircase : Staircase

    Returns
    -------
    ndarray, shape (K,)
    """
    W, W_star = _weights_matrix(W, "W"), _weights_matrix(W_star, "W_star")
    if W.shape != W_star.shape:
        raise ValueError(f"W has shape {W.shape} but W_star has shape {W_star.shape}; they must match")
    staircase = _population_staircase(staircase)
    return _c(pair_geometry(W, W_star, staircase), staircase.alpha)


class Moments(NamedTuple):
    """The student's ``m, q``, the teacher's ``m*, q*`` and the mixed ``c`` per class (shape ``(K,)``), with
    the :class:`~coarsegrad.population.geometry.Geometry` they came from. Internal to the package."""

    geom: Geometry
    m: np.ndarray
    q: np.ndarray
    m_star: np.ndarray
    q_star: np.ndarray
    c: np.ndarray


def teacher_moments(teacher: Teacher) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's ``(m*, q*)`` per class, shape ``(K,)`` each (constant along a descent: compute once)."""
    star = teacher.staircase
    return _m_q(pair_geometry(teacher.W_star, teacher.W_star, star), star.alpha)


def mixed_moments(teacher: Teacher, W: np.ndarray, alpha: float | None = None,
                  star: tuple[np.ndarray, np.ndarray] | None = None) -> Moments:
    """:class:`Moments` of the student ``W`` (shape (n, K)) against ``teacher``.

    The student's staircase is the teacher's at resolution ``alpha`` (default: the teacher's own
    ``alpha*``; learnable resolution passes its own): ``m, q`` and the thresholds ``t`` use ``alpha``,
    ``m*, q*`` and ``c_l`` use ``alpha*``, and ``c = alpha alpha* sum_{k,l} Phi2(-t_k, -c_l; rho)``.
    ``star``: the teacher's ``(m*, q*)`` from :func:`teacher_moments`, when the caller has them.
    Internal to the package (callers check ``W`` and ``alpha``).
    """
    stair_star = teacher.staircase
    student = stair_star if alpha is None else stair_star.with_alpha(alpha)
    geom = pair_geometry(W, teacher.W_star, student, stair_star)
    m, q = _m_q(geom, student.alpha)
    m_star, q_star = teacher_moments(teacher) if star is None else star
    return Moments(geom, m, q, m_star, q_star, _c(geom, student.alpha, None if alpha is None else stair_star.alpha))


def population_loss(teacher: Teacher, v, W) -> float:
    r"""Population loss ``f(v, W) = E_Z 1/2 sum_k (y_k - y*_k)^2`` for ``Z`` with i.i.d. N(0,1) entries.

    .. math::

        f = \tfrac12 \sum_k \Big[ S_k^2 + |v|^2 (q_k - m_k^2) - 2 (v\cdot v^*)(c_k - m_k m^*_k)
            + |v^*|^2 (q^*_k - m_k^{*2}) \Big],\quad S_k = \textstyle\sum_i v_i\, m_k - \sum_i v^*_i\, m^*_k

    (docs/theory.md §2.2).

    Parameters
    ----------
    teacher : Teacher
    v : array_like, shape (p,)
    W : array_like, shape (n, K), or (S, n, K) for S weight settings at once

    Returns
    -------
    float, or ndarray of shape (S,) for batched ``W``
    """
    v, W3, batched = check_student(teacher, v, W)
    flat, Wf = _flatten(teacher, W3)
    f = _per_setting(loss_terms(flat, v, mixed_moments(flat, Wf)), W3.shape[0], batched)
    return f if batched else float(f)


def loss_terms(teacher, v, mo: Moments) -> np.ndarray:
    """Per class ``E (y_k - y*_k)^2 / 2`` from the moments, shape ``(K,)`` (:func:`population_loss`'s formula)."""
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    terms = 0.5 * (S**2 + v @ v * (mo.q - mo.m**2) - 2 * (v @ vs) * (mo.c - mo.m * mo.m_star)
                   + vs @ vs * (mo.q_star - mo.m_star**2))
    return np.maximum(terms, 0.0)    # each is E (y_k - y*_k)^2 / 2 >= 0; rounding can dip below 0 at W = W*


def step_moments(geom: Geometry, positions: np.ndarray, heights: np.ndarray, alpha: float,
                 alpha_star: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moments of a step function ``r(z) = sum_j h_j 1{z > p_j}`` (an alpha rule) against the staircases.

    Per class, shape ``(K,)`` each (``x_j = p_j / |w|``; ``t_k``, ``c_l`` as in :class:`Geometry`)::

        R   = E r(z^T w)                 = sum_j h_j Qbar(x_j)
        Q_r = E[sigma(z^T w) r(z^T w)]   = alpha sum_j h_j sum_k Qbar(max(x_j, t_k))
        C_r = E[sigma*(z^T w*) r(z^T w)] = alpha* sum_{j,l} h_j Phi2(-x_j, -c_l; rho)

    0 for classes with ``w = 0`` (``r(0) = 0``); ``C_r = 0`` where ``w* = 0`` too.
    """
    p, h = positions, heights
    on = geom.student_on
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):    # w = 0: x = inf (masked)
        x = np.where(on[:, None], p[None, :] / np.where(on, geom.r, 1.0)[:, None], np.inf)   # (K, J)
    R = (h * Qbar(x)).sum(axis=1)
    Q_r = alpha * (h[None, :, None] * Qbar(np.maximum(x[:, :, None], geom.t[:, None, :]))).sum(axis=(1, 2))
    C_r = np.zeros_like(R)
    both = on & geom.teacher_on
    if both.any():
        P = _bvn_cdf(-x[both][:, :, None], -geom.c[both][:, None, :], geom.rho[both][:, None, None],
                     geom.s[both][:, None, None])                                     # (K', J, L)
        C_r[both] = alpha_star * (h[None, :, None] * P).sum(axis=(1, 2))
    return R, Q_r, C_r
