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

from .._checks import check_alpha, check_iterates, check_positive_int, check_real
from ..alpha import get_alpha_rule
from ..history import History
from ..ste import get_ste
from .coarse import coarse_grad_W
from .gaussian import finite_phi, Qbar
from .gradient import check_differentiable, class_coef, grad_W, teacher_mean
from .moments import loss_terms, mixed_moments, step_moments, teacher_moments
from .teacher import check_student, Teacher

__all__ = ["population_loss_alpha", "population_grad_alpha", "expected_alpha_grad", "alpha_jump_terms",
           "joint_population_grad", "joint_expected_coarse_grad", "joint_descent", "ALPHA_FLOOR"]

#: Smallest resolution :func:`joint_descent` lets ``alpha`` reach (the authors' code clamps at 1e-3 too).
ALPHA_FLOOR = 1e-3

#: Largest top level ``L alpha`` of the student: ``q ~ (L alpha)^2`` and the loss must stay representable
#: (the square root of the float64 maximum, with room for ``|v|^2`` factors).
_TOP_MAX = 1e-4 * float(np.sqrt(np.finfo(np.float64).max))


def _setup(teacher: Teacher, v, W, alpha, star=None):
    """Checked ``v``, ``W`` (n, K), the student's staircase and the mixed moments (``star``: the teacher's
    ``(m*, q*)`` when known)."""
    v, W3, batched = check_student(teacher, v, W)
    if batched:
        raise ValueError("W must have shape (n, K) here: one weight setting at a time")
    alpha = check_alpha(alpha)
    student = teacher.staircase.with_alpha(alpha)
    if not student.top <= _TOP_MAX:
        raise ValueError(f"alpha = {alpha!r} is too large for the population formulas: the loss scales like (L alpha)^2 "
                         f"= ({student.L} * alpha)^2, which overflows float64; choose alpha <= {_TOP_MAX / student.L:.4g}")
    W = W3[0]
    return v, W, student, mixed_moments(teacher, W, alpha, star)


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
    return float(loss_terms(teacher, v, mo).sum())


def _alpha_parts(teacher, v, mo, alpha):
    """Per class: ``E g_ae`` and the jump terms (both shape (K,)); ``df/dalpha = E g_ae - jumps``."""
    a_star = teacher.staircase.alpha
    geom = mo.geom
    Q = Qbar(geom.t)                                       # (K, L); 0 where w = 0 (t = inf)
    _, tph = finite_phi(geom.t)                            # t phi(t); 0 at t = 0 and t = inf
    E_sigma, _ = teacher_mean(geom.t, geom, a_star)        # Ebar(t_k), (K, L)
    half_odd = np.arange(geom.t.shape[1]) + 0.5             # j + 1/2: sigma^2 jumps by (2j+1) alpha^2 at t_j
    coef, vv, vvs = class_coef(teacher, v, mo), v @ v, v @ teacher.v_star
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
    """``R = E r``, ``Q_r = E[sigma r]``, ``C_r = E[sigma* r]`` per class for an alpha rule (shape (K,) each;
    :func:`~coarsegrad.population.moments.step_moments` at the rule's jumps)."""
    p, h = rule.jumps_of(student)
    return step_moments(mo.geom, p, h, student.alpha, teacher.staircase.alpha)


def _alpha_grad(teacher, v, mo, rule, student) -> float:
    """``E g_alpha = sum_k coef_k R_k + |v|^2 Q_{r,k} - (v.v*) C_{r,k}`` (the one assembly of the rule's term)."""
    R, Q_r, C_r = _rule_moments(teacher, mo, rule, student)
    return float(np.sum(class_coef(teacher, v, mo) * R + (v @ v) * Q_r - (v @ teacher.v_star) * C_r))


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
    return _alpha_grad(teacher, v, mo, rule, student)


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
        If some ``w_k = 0`` and the first threshold is 0 (``ceil``: ``f`` is discontinuous there). For
        ``round`` the ``W`` gradient is 0 in that column, the limit, as in
        :func:`~coarsegrad.population.population_grad`.
    """
    v, W, student, mo = _setup(teacher, v, W, alpha)
    check_differentiable(student, mo.geom, teacher.K, False)
    ae, jumps = _alpha_parts(teacher, v, mo, alpha)
    return grad_W(teacher, v, mo, alpha), float(np.sum(ae - jumps))


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
    return coarse_grad_W(teacher, v, W, mo, ste, student=student), _alpha_grad(teacher, v, mo, rule, student)


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
        Step size in ``alpha``; default ``lr`` (docs/findings.md, A4: ``lr / L^2`` is the stable choice at
        more than 1 bit).
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

    Raises
    ------
    FloatingPointError
        When an iterate is non-finite or explodes (``|W|`` or ``alpha`` beyond
        :data:`coarsegrad._checks.DIVERGENCE_BOUND`, or the loss overflows): the message names the step
        size to lower (``lr`` for ``W``, ``lr_alpha`` for ``alpha``).
    """
    v = teacher.v_star if v is None else v
    W = np.array(W0, dtype=np.float64, copy=True)
    alpha = check_alpha(alpha0, name="alpha0")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    alpha_option = "lr (the alpha step too: pass lr_alpha, e.g. lr / L^2)" if lr_alpha is None else "lr_alpha"
    lr_alpha = lr if lr_alpha is None else check_real(lr_alpha, "lr_alpha", low=0.0, low_open=True)
    steps = check_positive_int(steps, "steps", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    tol = check_real(tol, "tol", low=0.0)
    ste, rule = get_ste(ste), get_alpha_rule(rule)
    history = History()
    f0 = None
    star = teacher_moments(teacher)                                  # the teacher's m*, q*: fixed along the run
    for t in range(steps + 1):
        check_iterates([W], driver="joint_descent", step=t, option="lr", value=lr)
        check_iterates([alpha], driver="joint_descent", step=t, option=alpha_option, value=lr_alpha)
        v, W, student, mo = _setup(teacher, v, W, alpha, star)    # one set of moments per step: f and E g
        f = float(loss_terms(teacher, v, mo).sum())
        if not np.isfinite(f):
            raise FloatingPointError(f"joint_descent diverged at step {t} (the loss overflowed to {f}); lower lr "
                                     f"(now {lr}) or {alpha_option} (now {lr_alpha})")
        f0 = f if f0 is None else f0
        converged = tol > 0 and f <= tol * f0
        done = converged or t == steps
        if done or t % record_every == 0:
            ae, jumps = _alpha_parts(teacher, v, mo, alpha)
            history.record(t, loss=f, alpha=alpha, dalpha=np.sum(ae - jumps))
        if done:
            history.stopped = "tolerance" if converged else "steps"
            break
        Eg_W, Eg_a = _joint_coarse(teacher, v, W, student, mo, ste, rule)
        with np.errstate(over="ignore", invalid="ignore"):       # divergence is reported at the next step's check
            W = W - lr * Eg_W
            alpha = float(np.maximum(alpha - lr_alpha * Eg_a, ALPHA_FLOOR))     # NaN propagates (np, not max)
    return W, alpha, history
