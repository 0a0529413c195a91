"""The exact gradient of the population loss: the comb ``sigma'`` integrated against the Gaussian
(docs/theory.md §3)."""
from __future__ import annotations

import numpy as np

from .gaussian import finite_phi, _Phi_over, _phi_over
from .geometry import Geometry, _rho_x_minus, _subset, CoarseVectors
from .moments import Moments, mixed_moments
from .teacher import check_student, column_name, _flatten, _per_setting, _unflatten, Teacher

__all__ = ["population_grad"]

# Internal to the package (no leading underscore: the sibling modules use them): teacher_mean,
# gradient_vectors(_on), class_coef, assemble, check_differentiable, grad_W.


def teacher_mean(u, geom, alpha):
    """``E_t sigma(|w*| (rho u + s t))`` and ``E_t[t sigma(...)]`` for ``t ~ N(0,1)``, at points ``u``.

    ``u`` has shape ``(K, P)``; returns two ``(K, P)`` arrays (docs/theory.md §4.2):
    ``alpha sum_l Phi((rho u - c_l)/s)`` and ``alpha sum_l phi((c_l - rho u)/s)``.
    """
    s = geom.s[:, None, None]
    c = geom.c[:, None, :]                                            # (K, 1, L)
    y = _rho_x_minus(u[:, :, None], c, *(x[:, None, None] for x in (geom.rho, geom.one_minus_rho,
                                                                     geom.one_plus_rho)))   # (K, P, L)
    on = geom.teacher_on[:, None]
    E_sigma = np.where(on, alpha * _Phi_over(y, s).sum(axis=2), 0.0)
    E_t_sigma = np.where(on, alpha * _phi_over(-y, s).sum(axis=2), 0.0)
    return E_sigma, E_t_sigma


def gradient_vectors(geom: Geometry, alpha: float) -> CoarseVectors:
    r"""``grad m``, ``grad q / 2``, ``grad c`` as coefficients on ``(w^, e_perp)``.

    ``sigma'(r u) = (alpha/r) sum_k delta(u - t_k)`` in ``u = z^T w^`` (docs/theory.md §3)::

        a      = (alpha/r) sum_k t_k phi(t_k)                         (grad m)
        b      = (alpha/r) sum_k (k + 1/2) alpha t_k phi(t_k)         (grad q / 2: sigma at mid-jump)
        C_w    = (alpha/r) sum_k t_k phi(t_k) Ebar(t_k)               (grad c)
        C_perp = (alpha/r) sum_k phi(t_k) Etilde(t_k)

    Internal: ``geom`` comes from ``pair_geometry``; classes with ``w = 0`` must be excluded by the caller.
    """
    t = geom.t                                                        # (K, L)
    ph, tph = finite_phi(t)
    E_sigma, E_t_sigma = teacher_mean(t, geom, alpha)
    scale = alpha / geom.r[:, None]
    mid = (np.arange(t.shape[1]) + 0.5) * alpha                       # sigma at the middle of jump k
    return CoarseVectors(
        a=(scale * tph).sum(axis=1),
        b=(scale * mid * tph).sum(axis=1),
        C_w=(scale * tph * E_sigma).sum(axis=1),
        C_perp=(scale * ph * E_t_sigma).sum(axis=1),
    )


def gradient_vectors_on(geom: Geometry, alpha: float) -> CoarseVectors:
    """:func:`gradient_vectors` for the classes with ``w_k != 0``; 0 for the others.

    At ``w_k = 0`` with every threshold ``t_k > 0`` (the ``round`` convention) ``f`` is flat to all
    orders: ``m, q, c`` differ from their value 0 by ``O(exp(-t_1^2 / 2|w|^2))``, so the gradient is
    the limit 0 (docs/theory.md §5)."""
    on = geom.student_on
    if on.all():
        return gradient_vectors(geom, alpha)
    out = CoarseVectors(*(np.zeros(on.shape) for _ in range(4)))
    if on.any():
        for full, part in zip(out, gradient_vectors(_subset(geom, on), alpha)):
            full[on] = part
    return out


# =========================================================================================
# Gradient and expected coarse gradient
# =========================================================================================

def class_coef(teacher, v, mo: Moments) -> np.ndarray:
    """``coef_k = sum(v) S_k - (|v|^2 m_k - (v.v*) m*_k)``, ``S_k = sum(v) m_k - sum(v*) m*_k``, shape ``(K,)``:
    the weight of ``grad m`` (or ``A``, or the alpha rule's ``R``) in every gradient (docs/theory.md §4.1)."""
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    return v.sum() * S - (v @ v * mo.m - (v @ vs) * mo.m_star)


def assemble(teacher, v, mo: Moments, vec: CoarseVectors) -> np.ndarray:
    """``coef A + |v|^2 B - (v.v*) C`` as an ``(n, K)`` array (docs/theory.md §4.1)."""
    vs = teacher.v_star
    coef = class_coef(teacher, v, mo)
    along = coef * vec.a + (v @ v) * vec.b - (v @ vs) * vec.C_w
    return along * mo.geom.w_hat - (v @ vs) * vec.C_perp * mo.geom.e_perp


def _grad_v_terms(teacher, v, mo: Moments) -> np.ndarray:
    """Class terms ``S_k m_k 1 + v (q_k - m_k^2) - v* (c_k - m_k m*_k)`` of ``grad_v f``, shape ``(K, p)``
    (exact for the coarse gradient too: ``sigma`` is not differentiated on the way to ``v``)."""
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    return ((S * mo.m)[:, None] * np.ones_like(v) + (mo.q - mo.m**2)[:, None] * v
            - (mo.c - mo.m * mo.m_star)[:, None] * vs)


def check_differentiable(staircase, geom: Geometry, K: int, batched: bool) -> None:
    """Raise unless the loss is differentiable in every ``w_k``: at ``w_k = 0`` it is only when every
    threshold of the student's ``staircase`` is positive (``round``); for ``ceil`` ``m`` jumps there."""
    if not geom.student_on.all() and not staircase.thresholds[0] > 0:
        name = column_name(int(np.flatnonzero(~geom.student_on)[0]), K, batched)
        raise ValueError(f"{name} = 0: the population loss is discontinuous at w_k = 0 (sigma(z^T 0) = 0 "
                         f"but E sigma(z^T w) -> alpha/2 as w -> 0, the first threshold being 0 in the "
                         f"{staircase.convention!r} convention), so it has no gradient there; move w_k off 0")


def grad_W(teacher, v, mo: Moments, alpha: float | None = None) -> np.ndarray:
    """``grad_W f`` as an ``(n, K)`` array for a student at resolution ``alpha`` (default the teacher's):
    the student's jumps (height ``alpha``) against the teacher's ``Ebar`` (height ``alpha*``), 0 in the
    columns ``w_k = 0`` (call :func:`check_differentiable` first)."""
    if alpha is None:
        return assemble(teacher, v, mo, gradient_vectors_on(mo.geom, teacher.staircase.alpha))
    vec = gradient_vectors_on(mo.geom, alpha).with_teacher_step(teacher.staircase.alpha / alpha)
    return assemble(teacher, v, mo, vec)


def population_grad(teacher: Teacher, v, W) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact gradient of the population loss ``f(v, W)``.

    .. math::

        \nabla_{w_k} f = \mathrm{coef}_k \nabla m(w_k) + |v|^2 \tfrac12 \nabla q(w_k)
                         - (v\cdot v^*) \nabla_{w} c(w_k, w^*_k),
        \quad \mathrm{coef}_k = \textstyle\sum_i v_i\, S_k - (|v|^2 m_k - (v\cdot v^*) m^*_k)

    with ``grad m = (alpha/|w|) sum_k t_k phi(t_k) w^`` and so on (``gradient_vectors``,
    docs/theory.md §3); ``grad_v f = sum_k [S_k m_k 1 + v (q_k - m_k^2) - v* (c_k - m_k m*_k)]``.

    Parameters
    ----------
    teacher : Teacher
    v : array_like, shape (p,)
    W : array_like, shape (n, K), or (S, n, K) for S weight settings at once

    Returns
    -------
    grad_v : ndarray, shape (p,) (``(S, p)`` for batched ``W``)
    grad_W : ndarray, shape of ``W``

    At ``w_k = 0`` the loss is continuous only when every threshold is positive (``round``:
    ``t_1 = alpha/2``); there ``grad_{w_k} f = 0``, the limit (``f`` is flat to all orders at 0).

    Raises
    ------
    ValueError
        If some ``w_k = 0`` and the first threshold is 0 (``ceil``): ``f`` is discontinuous there
        (``m`` jumps from ``alpha/2`` to 0).
    """
    v, W3, batched = check_student(teacher, v, W)
    flat, Wf = _flatten(teacher, W3)
    mo = mixed_moments(flat, Wf)
    check_differentiable(teacher.staircase, mo.geom, teacher.K, batched)
    S = W3.shape[0]
    gW = grad_W(flat, v, mo)
    return _per_setting(_grad_v_terms(flat, v, mo), S, batched), _unflatten(gW, S, batched)
