r"""Learnable resolution in the Gaussian teacher-student model: the exact ``df/dalpha``, the exact
expectation of each alpha-rule's coarse gradient, and their difference (docs/theory.md, "Learnable
resolution").

The teacher keeps its staircase ``sigma*`` (resolution ``alpha*``, :attr:`Teacher.staircase`); the
student uses the same bit-width and convention at its own ``alpha`` (an argument here). Per class
(``t_k`` the student's thresholds over ``|w|``, ``c_l`` the teacher's over ``|w*|``)::

    m  = alpha  sum_k Qbar(t_k)                 q = alpha^2 sum_j (2j+1) Qbar(t_j)
    m* = alpha* sum_l Qbar(c_l)                 c = alpha alpha* sum_{k,l} Phi2(-t_k, -c_l; rho)

and ``f`` is :func:`~coarsegrad.population.population_loss`'s formula with these moments. Its
``alpha``-derivative has the shape of the ``W``-gradient::

    df/dalpha  = sum_k coef_k dm + |v|^2 dq/2 - (v.v*) dc
    E g_alpha  = sum_k coef_k R  + |v|^2 Q_r  - (v.v*) C_r,     R = E r, Q_r = E[sigma r], C_r = E[sigma* r]

with ``dm = sum_k Qbar(t_k) - sum_k t_k phi(t_k)``,
``dq/2 = alpha sum_j (2j+1) Qbar(t_j) - alpha sum_j (j + 1/2) t_j phi(t_j)``,
``dc = c / alpha - sum_k t_k phi(t_k) Ebar(t_k)`` (``Ebar(u) = E[sigma*(z^T w*) | z^T w^ = u]``). For the
``ae`` rule ``R, Q_r, C_r`` are the first terms (``E n``, ``E sigma n``, ``E sigma* n``); the second terms
are the **jumps**: moving ``alpha`` moves every threshold ``t_k = (k - 1 + shift) alpha``. Their sum is
the bias ``E g_ae - df/dalpha`` (:func:`alpha_jump_terms`), which equals ``(1/alpha) sum_k w_k . grad_{w_k} f``
(Euler's identity for ``sigma(cz; c alpha) = c sigma(z; alpha)``; docs/theory.md).

Only the first-layer weights and ``alpha`` vary here; ``v`` is an argument (the claim uses ``v = v*``).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_alpha, check_positive_int, check_real
from ..alpha import get_alpha_rule
from ..ste import get_ste
from .coarse import _coarse_coefficients, _student_zero_C
from .gaussian import _bvn_cdf, _finite_phi, _Qbar
from .geometry import _column_norms, _geometry
from .gradient import _assemble, _gradient_vectors, _teacher_mean
from .moments import _c, _loss_terms, _m_q, _Moments
from .teacher import _check_student, _column_name, Teacher

__all__ = ["population_loss_alpha", "population_grad_alpha", "expected_alpha_grad", "alpha_jump_terms",
           "joint_population_grad", "joint_expected_coarse_grad", "joint_descent", "ALPHA_FLOOR"]

#: Smallest resolution :func:`joint_descent` lets ``alpha`` reach (the authors' code clamps at 1e-3 too).
ALPHA_FLOOR = 1e-3


def _setup(teacher: Teacher, v, W, alpha):
    """Checked ``v``, ``W`` (n, K), the student's staircase and the mixed moments."""
    v, W3, batched = _check_student(teacher, v, W)
    if batched:
        raise ValueError("W must have shape (n, K) here: one weight setting at a time")
    alpha = check_alpha(alpha)
    student = teacher.staircase.with_alpha(alpha)
    a_star = teacher.staircase.alpha
    W = W3[0]
    # t from the student's thresholds, c from the teacher's: the geometry takes one staircase, so build
    # it twice and take c from the teacher's.
    geom = _geometry(W, teacher.W_star, student)._replace(c=_geometry(W, teacher.W_star, teacher.staircase).c)
    m, q = _m_q(geom, alpha)
    m_star, q_star = _m_q(_geometry(teacher.W_star, teacher.W_star, teacher.staircase), a_star)
    c = _c(geom, 1.0) * (alpha * a_star)                     # alpha alpha* sum Phi2(-t_k, -c_l; rho)
    return v, W, student, _Moments(geom, m, q, m_star, q_star, c)


def _coef(teacher, v, mo):
    """``coef_k = sum(v) S_k - (|v|^2 m_k - (v.v*) m*_k)``, shape (K,)."""
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    return v.sum() * S - (v @ v * mo.m - (v @ vs) * mo.m_star)


def population_loss_alpha(teacher: Teacher, v, W, alpha: float) -> float:
    r"""Population loss ``f(v, W; alpha) = E 1/2 sum_k (v^T sigma_alpha(Z w_k) - v*^T sigma*(Z w*_k))^2``.

    Parameters
    ----------
    teacher : Teacher
        Holds ``(v*, W*)`` and the teacher's staircase (resolution ``alpha*``).
    v : array_like, shape (p,)
    W : array_like, shape (n, K)
    alpha : float
        The student's resolution (same bits and convention as the teacher's staircase).

    Returns
    -------
    float
    """
    v, _, _, mo = _setup(teacher, v, W, alpha)
    return float(_loss_terms(teacher, v, mo).sum())


def _alpha_parts(teacher, v, mo, alpha):
    """Per class: ``E g_ae`` and the jump terms (both shape (K,)); ``df/dalpha = E g_ae - jumps``."""
    a_star = teacher.staircase.alpha
    geom = mo.geom
    Q = _Qbar(geom.t)                                       # (K, L); 0 where w = 0 (t = inf)
    _, tph = _finite_phi(geom.t)                            # t phi(t); 0 at t = 0 and t = inf
    E_sigma, _ = _teacher_mean(geom.t, geom, a_star)        # Ebar(t_k), (K, L)
    half_odd = np.arange(geom.t.shape[1]) + 0.5             # j + 1/2: sigma^2 jumps by (2j+1) alpha^2 at t_j
    coef, vv, vvs = _coef(teacher, v, mo), v @ v, v @ teacher.v_star
    on = geom.student_on
    c_over_alpha = mo.c / alpha
    ae = coef * Q.sum(axis=1) + vv * alpha * (2 * half_odd * Q).sum(axis=1) - vvs * c_over_alpha
    jumps = (coef * tph.sum(axis=1) + vv * alpha * (half_odd * tph).sum(axis=1)
             - vvs * np.where(on, (tph * E_sigma).sum(axis=1), 0.0))
    return ae, jumps


def population_grad_alpha(teacher: Teacher, v, W, alpha: float) -> float:
    r"""Exact ``df/dalpha`` of :func:`population_loss_alpha` (student's ``alpha``; ``W``, ``v`` fixed).

    .. math::

        \frac{df}{d\alpha} = \sum_k \mathrm{coef}_k\, m'_k + |v|^2 \tfrac12 q'_k - (v\cdot v^*)\, c'_k,

    ``m' = sum Qbar(t_k) - sum t_k phi(t_k)``, ``q'/2 = alpha sum (2j+1) Qbar(t_j) - alpha sum (j + 1/2)
    t_j phi(t_j)``, ``c' = c/alpha - sum t_k phi(t_k) Ebar(t_k)`` (docs/theory.md, "Learnable resolution").
    Defined for ``w_k = 0`` too (``sigma(0) = 0`` at every ``alpha``: that class contributes 0).

    Returns
    -------
    float
    """
    v, _, _, mo = _setup(teacher, v, W, alpha)
    ae, jumps = _alpha_parts(teacher, v, mo, alpha)
    return float(np.sum(ae - jumps))


def alpha_jump_terms(teacher: Teacher, v, W, alpha: float) -> float:
    r"""The bias of the ``ae`` rule: ``E g_ae - df/dalpha`` = the jump (boundary) terms.

    .. math::

        \sum_k \mathrm{coef}_k \sum_j t_j\phi(t_j) + |v|^2 \alpha \sum_j (j + \tfrac12) t_j \phi(t_j)
        - (v\cdot v^*) \sum_j t_j \phi(t_j)\, \bar E(t_j),

    ``t_j`` the student's thresholds over ``|w_k|``. Equal to ``(1/alpha) sum_k w_k . grad_{w_k} f``.

    Returns
    -------
    float
    """
    v, _, _, mo = _setup(teacher, v, W, alpha)
    return float(np.sum(_alpha_parts(teacher, v, mo, alpha)[1]))


def _rule_moments(teacher, mo, rule, student):
    """``R = E r``, ``Q_r = E[sigma r]``, ``C_r = E[sigma* r]`` per class for a step rule, shape (K,) each::

        R = sum_j h_j Qbar(x_j),  Q_r = alpha sum_j h_j sum_k Qbar(max(x_j, t_k)),
        C_r = alpha* sum_{j,l} h_j Phi2(-x_j, -c_l; rho),   x_j = p_j / |w|.
    """
    p, h = rule.jumps_of(student)
    geom = mo.geom
    on = geom.student_on
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):    # w = 0: x = inf (masked)
        x = np.where(on[:, None], p[None, :] / np.where(on, geom.r, 1.0)[:, None], np.inf)   # (K, J)
    R = (h * _Qbar(x)).sum(axis=1)
    Q_r = student.alpha * (h[None, :, None] * _Qbar(np.maximum(x[:, :, None], geom.t[:, None, :]))).sum(axis=(1, 2))
    C_r = np.zeros_like(R)
    both = on & geom.teacher_on
    if both.any():
        P = _bvn_cdf(-x[both][:, :, None], -geom.c[both][:, None, :], geom.rho[both][:, None, None],
                     geom.s[both][:, None, None])                                     # (K', J, L)
        C_r[both] = teacher.staircase.alpha * (h[None, :, None] * P).sum(axis=(1, 2))
    return R, Q_r, C_r


def expected_alpha_grad(teacher: Teacher, v, W, alpha: float, rule) -> float:
    r"""Exact expectation ``E_Z`` of the coarse alpha-gradient ``sum_k (y_k - y*_k) v^T r(Z w_k)``.

    .. math::

        \mathbb E\, g_\alpha = \sum_k \mathrm{coef}_k R_k + |v|^2 Q_{r,k} - (v\cdot v^*) C_{r,k}

    with ``R = E r(z^T w_k)``, ``Q_r = E[sigma(z^T w_k) r(z^T w_k)]``, ``C_r = E[sigma*(z^T w*_k) r(z^T w_k)]``
    in closed form from the rule's jumps (:class:`~coarsegrad.alpha.AlphaRule`).

    Parameters
    ----------
    teacher : Teacher
    v : array_like, shape (p,)
    W : array_like, shape (n, K)
    alpha : float
        The student's resolution.
    rule : str or AlphaRule
        ``"ae"``, ``"pact"``, ``"min"``, ``"mean"`` or a registered rule.

    Returns
    -------
    float
    """
    rule = get_alpha_rule(rule)
    v, _, student, mo = _setup(teacher, v, W, alpha)
    R, Q_r, C_r = _rule_moments(teacher, mo, rule, student)
    return float(np.sum(_coef(teacher, v, mo) * R + (v @ v) * Q_r - (v @ teacher.v_star) * C_r))


def joint_population_grad(teacher: Teacher, v, W, alpha: float) -> tuple[np.ndarray, float]:
    r"""Exact ``(grad_W f, df/dalpha)`` at the student's ``(W, alpha)`` (teacher at ``alpha*``).

    The ``W`` part is :func:`~coarsegrad.population.population_grad`'s formula with the student's
    jumps (height ``alpha``) and the teacher's ``Ebar`` (height ``alpha*``).

    Returns
    -------
    grad_W : ndarray, shape (n, K)
    dalpha : float

    Raises
    ------
    ValueError
        If some ``w_k = 0`` (``f`` is discontinuous in ``w`` there).
    """
    v, W, _, mo = _setup(teacher, v, W, alpha)
    if not mo.geom.student_on.all():
        name = _column_name(int(np.flatnonzero(~mo.geom.student_on)[0]), teacher.K, False)
        raise ValueError(f"{name} = 0: the population loss is discontinuous at w_k = 0; move w_k off 0")
    vec = _gradient_vectors(mo.geom, alpha)
    ratio = teacher.staircase.alpha / alpha        # the C terms carry the teacher's step alpha*, not alpha
    vec = vec._replace(C_w=vec.C_w * ratio, C_perp=vec.C_perp * ratio)
    ae, jumps = _alpha_parts(teacher, v, mo, alpha)
    return _assemble(teacher, v, mo, vec), float(np.sum(ae - jumps))


def joint_expected_coarse_grad(teacher: Teacher, v, W, alpha: float, ste, rule) -> tuple[np.ndarray, float]:
    r"""Exact ``(E g_W, E g_alpha)``: the STE's expected coarse gradient in ``W`` and the rule's in ``alpha``.

    ``E g_W = coef A + |v|^2 B - (v.v*) C`` as in :func:`~coarsegrad.population.expected_coarse_grad`, with
    ``B = E[sigma_alpha mu' z]`` and ``C = E[sigma*_{alpha*} mu' z]``; ``E g_alpha`` as in
    :func:`expected_alpha_grad`.

    Returns
    -------
    Eg_W : ndarray, shape (n, K)
    Eg_alpha : float
    """
    ste, rule = get_ste(ste), get_alpha_rule(rule)
    v, W, student, mo = _setup(teacher, v, W, alpha)
    return _joint_coarse(teacher, v, W, student, mo, ste, rule)


def _joint_coarse(teacher, v, W, student, mo, ste, rule):
    alpha = student.alpha
    vec = _coarse_coefficients(ste, mo.geom, student, "auto")
    ratio = teacher.staircase.alpha / alpha        # C = E[sigma* mu' z] is linear in the teacher's step
    vec = vec._replace(C_w=vec.C_w * ratio, C_perp=vec.C_perp * ratio)
    vs = teacher.v_star
    Eg_W = _assemble(teacher, v, mo, vec) - (v @ vs) * _student_zero_C(ste, mo.geom, teacher, W)
    R, Q_r, C_r = _rule_moments(teacher, mo, rule, student)
    Eg_a = float(np.sum(_coef(teacher, v, mo) * R + (v @ v) * Q_r - (v @ vs) * C_r))
    return Eg_W, Eg_a


def joint_descent(teacher: Teacher, W0, alpha0: float, ste, rule, *, lr: float, steps: int,
                  lr_alpha: float | None = None, tol: float = 0.0, record_every: int = 1, v=None):
    r"""Coarse gradient descent in ``(W, alpha)`` on the population loss with the exact expectations.

    .. math::

        W_{t+1} = W_t - \eta\, \mathbb E g_W, \qquad
        \alpha_{t+1} = \max(\alpha_t - \eta_\alpha\, \mathbb E g_\alpha,\ \text{ALPHA\_FLOOR})

    Parameters
    ----------
    teacher : Teacher
    W0 : array_like, shape (n, K)
    alpha0 : float
        Initial student resolution.
    ste : str or STE
    rule : str or AlphaRule
    lr : float
        Step size in ``W``.
    steps : int
    lr_alpha : float, optional
        Step size in ``alpha``; default ``lr``.
    tol : float
        Stop once ``f <= tol * f(initial)``.
    record_every : int
    v : array_like, shape (p,), optional
        Fixed second layer; default ``v*``.

    Returns
    -------
    W : ndarray, shape (n, K)
    alpha : float
    history : History
        ``loss`` (``f``), ``alpha`` and ``dalpha`` (exact ``df/dalpha``) at the recorded steps.
    """
    from ..train import History
    v = teacher.v_star if v is None else v
    W = np.array(W0, dtype=np.float64, copy=True)
    alpha = check_alpha(alpha0, name="alpha0")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    lr_alpha = lr if lr_alpha is None else check_real(lr_alpha, "lr_alpha", low=0.0, low_open=True)
    steps = check_positive_int(steps, "steps", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    tol = check_real(tol, "tol", low=0.0)
    ste, rule = get_ste(ste), get_alpha_rule(rule)
    history = History()
    f0 = None
    for t in range(steps + 1):
        if not np.all(np.isfinite(_column_norms(W))):
            raise FloatingPointError(f"joint_descent diverged at step {t}; lower lr (now {lr})")
        v, W, student, mo = _setup(teacher, v, W, alpha)          # one set of moments per step: f and E g
        f = float(_loss_terms(teacher, v, mo).sum())
        f0 = f if f0 is None else f0
        converged = tol > 0 and f <= tol * f0
        done = converged or t == steps
        if done or t % record_every == 0:
            history.record(t, loss=f, alpha=alpha)
        if done:
            history.stopped = "tolerance" if converged else "steps"
            break
        Eg_W, Eg_a = _joint_coarse(teacher, v, W, student, mo, ste, rule)
        W = W - lr * Eg_W
        alpha = float(np.maximum(alpha - lr_alpha * Eg_a, ALPHA_FLOOR))     # NaN propagates (np, not max)
    return W, alpha, history
