"""The expected coarse gradient ``E g``: the vectors ``A, B, C`` in closed form for piecewise-constant
``mu'`` and by quadrature otherwise (docs/theory.md §4)."""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..quant import Staircase
from ..ste import get_ste, kinks_z
from .gaussian import _GL10_NODES, _GL10_WEIGHTS, _NARROW, _phi, _phi_diff, _Phi_diff, _Phi_over, _phi_over, _Phi_step
from .geometry import Geometry, pair_geometry, _rho_x_minus, _subset, CoarseVectors
from .gradient import assemble, _grad_v_terms
from .moments import loss_terms, mixed_moments
from .quadrature import _integrate_adaptive, _integrate_gauss
from .teacher import check_student, _flatten, _per_setting, _unflatten, Teacher

__all__ = ["expected_coarse_grad", "loss_and_expected_coarse_grad", "coarse_vectors", "METHODS"]

# Internal to the package (no leading underscore: population.alpha and train use them): coarse_coefficients,
# student_zero_C, coarse_grad_W, step_terms.


def _vectors_pieces(pieces, geom: Geometry, staircase: Staircase) -> CoarseVectors:
    r"""``A, B, C`` for ``mu' = value`` on ``(lo, hi]`` pieces, in closed form (docs/theory.md §4.3).

    On ``u in (x1, x2]`` (``x = z / |w|``; ``t_k``, ``c_l`` the thresholds over ``|w|``, ``|w*|``)::

        a      += phi(x1) - phi(x2)
        b      += sum_k step_k [phi(max(x1, t_k)) - phi(x2)]_{max(x1, t_k) < x2}
        C_w    += sum_l step_l int_{x1}^{x2} u phi(u) Phi((rho u - c_l)/s) du
                = sum_l step_l [(phi(x1) - phi(x2)) F_l(x1) - phi(x2) (F_l(x2) - F_l(x1))
                                + rho phi(c_l) (Phi((x2 - rho c_l)/s) - Phi((x1 - rho c_l)/s))]
        C_perp += sum_l step_l s phi(c_l) (Phi((x2 - rho c_l)/s) - Phi((x1 - rho c_l)/s))

    with ``F_l(u) = Phi((rho u - c_l)/s)``. Every difference of nearby values is computed directly
    (:func:`_phi_diff`, :func:`_Phi_diff`, from widths taken in ``z`` units), and on a window too
    narrow for the integration by parts (``|w| >> hi - lo``, where its terms cancel) ``C_w`` is the
    integral itself by a 10-point Gauss-Legendre rule, exact to rounding there (docs/theory.md §5).
    """
    K = geom.r.shape[0]
    a, b, C_w, C_perp = (np.zeros(K) for _ in range(4))
    r = geom.r[:, None]
    rho, s = geom.rho[:, None], geom.s[:, None]
    c = geom.c                                                        # (K, L)
    on = geom.teacher_on[:, None]
    ph_c = np.where(on, _phi(c), 0.0)
    thr, steps = staircase.thresholds, staircase.steps
    upper = rho > 0                                                    # rho = +-1 (s = 0): rho u > c_l is u > c_l or u < -c_l
    pos = s > 0

    def lin(x, y):                                                    # rho x - y, accurately
        return _rho_x_minus(x, y, rho, geom.one_minus_rho[:, None], geom.one_plus_rho[:, None])

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # tiny |w|: z/|w| -> +-inf, the right limit
        for lo, hi, value in pieces:
            x1, x2 = np.full((K, 1), lo / geom.r[:, None] if np.isfinite(lo) else lo), \
                np.full((K, 1), hi / geom.r[:, None] if np.isfinite(hi) else hi)
            h, sgn = (hi - lo) / r, (lo + hi) / r                     # exact in z units, then scaled
            dphi = _phi_diff(x1, x2, h, sgn)                          # phi(x1) - phi(x2), (K, 1)
            a += value * dphi[:, 0]
            lo_k = np.maximum(lo, thr)                                # (L,) in z units
            b += value * np.where(lo_k < hi, _phi_diff(np.maximum(x1, thr / r), x2, (hi - lo_k) / r,
                                                       (lo_k + hi) / r), 0.0) @ steps
            # theta = 0 or pi: F_l is the step 1{rho u > c_l}, so C_w is a phi difference over part of the window
            # (computed only when some class is there: the terms below are the same numbers without it)
            s0 = 0.0
            if not pos.all():
                s0_lo = np.where(upper, np.maximum(x1, c), x1)
                s0_hi = np.where(upper, x2, np.minimum(x2, -c))
                s0 = np.where(s0_lo < s0_hi, _phi_diff(s0_lo, s0_hi, s0_hi - s0_lo, s0_lo + s0_hi), 0.0)
            # 0 < theta < pi
            y1, y2 = lin(x1, c) / s, lin(x2, c) / s                   # F_l(x) = Phi(y)
            fin1, fin2 = np.isfinite(x1), np.isfinite(x2)
            F1 = np.where(fin1, ndtr(y1), ndtr(y2))                   # x1 = -inf: only F(x2) enters
            F1 = np.where(np.isnan(F1), 0.0, F1)                      # (-inf, inf): multiplied by phi_diff = 0
            bounded = fin1 & fin2                                     # x2 = +inf: phi(x2) = 0, and no window is narrow
            any_bounded = bounded.any()
            dF = np.where(bounded, _Phi_step(y1, y2, rho * h / s), 0.0) if any_bounded else 0.0
            w1, w2 = -lin(c, x1) / s, -lin(c, x2) / s                 # (x - rho c)/s
            window = _Phi_diff(w1, w2, h / s)
            ph2 = _phi(x2)
            parts = dphi * F1 - np.where(fin2, ph2, 0.0) * dF + rho * ph_c * window
            if any_bounded:
                narrow = (bounded & (h <= _NARROW) & (h * np.maximum(np.abs(x1), np.abs(x2)) <= _NARROW)
                          & (np.abs(rho) * h * (1 + np.abs(y1) + np.abs(y2)) <= _NARROW * s))
                if narrow.any():
                    parts = np.where(narrow, _window_integral(x1, h, geom), parts)
            Cw_l = np.where(pos, parts, s0)
            C_w += value * np.where(on, Cw_l, 0.0) @ steps
            C_perp += value * np.where(on & pos, s * ph_c * window, 0.0) @ steps
    return CoarseVectors(a, b, C_w, C_perp)


def _window_integral(x1, h, geom: Geometry):
    """``int_{x1}^{x1 + h} u phi(u) Phi((rho u - c_l)/s) du`` by 10-point Gauss-Legendre, shape ``(K, L)``
    for ``x1, h`` of shape ``(K, 1)`` (used only where the window is narrow: every factor varies by at
    most ~e^(1/8) on it; other entries are finite garbage that the caller discards)."""
    with np.errstate(invalid="ignore", over="ignore"):
        half = np.where(np.isfinite(h), 0.5 * h, 0.0)[:, :, None]
        start = np.where(np.isfinite(x1), x1, 0.0)[:, :, None]
        u = start + half + half * _GL10_NODES                              # (K, 1, 10)
        rho, omr, opr, s = (x[:, None, None] for x in (geom.rho, geom.one_minus_rho, geom.one_plus_rho,
                                                          geom.s))
        y = _rho_x_minus(u, geom.c[:, :, None], rho, omr, opr) / np.where(s > 0, s, 1.0)   # (K, L, 10)
        return (u * _phi(u) * ndtr(y)) @ _GL10_WEIGHTS * half[:, :, 0]


def _vectors_numeric(ste, geom: Geometry, staircase: Staircase, integrate_fn) -> CoarseVectors:
    """``A, B, C`` by numerical integration, for any ``mu'`` (docs/theory.md §4.4).

    In ``u = z^T w^`` (breakpoints at the thresholds ``t_k``, at ``c_l / rho`` and at the STE's
    kinks, ``ste.kink_points`` or by default ``0`` and ``L alpha``; panels graded around the kinks)::

        a = int mu'(r u) u phi(u) du,   b = int mu'(r u) sigma(r u) u phi(u) du,
        C_w = int mu'(r u) u Ebar(u) phi(u) du.

    ``Ebar`` steps across ``u = c_l / rho`` over a width ``s / |rho|``, too narrow for a
    quadrature rule when ``theta`` is near 0 or pi. There (``s < |rho|``) ``Ebar`` is split into
    the exact step ``alpha sum_l 1{rho u > c_l}``, integrated in ``u``, and the smooth remainder,
    integrated in ``y = (rho u - c_l) / s``. ``C_perp`` uses
    ``phi(u) phi((c - rho u)/s) = phi(c) phi((u - rho c)/s)``::

        C_perp = alpha sum_l s phi(c_l) int mu'(r (rho c_l + s y)) phi(y) dy.
    """
    kink_z = kinks_z(ste, staircase)
    K = geom.r.shape[0]
    out = np.zeros((4, K))
    for k in range(K):
        # Tiny or huge |w| send kinks, breakpoints and panel scales to +-inf or 0; the integrators drop
        # non-finite breakpoints, so overflow here is the right limit, not an error.
        with np.errstate(over="ignore", divide="ignore"):
            out[:, k] = _numeric_class(ste.mu_prime, geom, k, staircase, kink_z, integrate_fn)
    return CoarseVectors(*out)


#: Below this ``s / |rho|`` (the width in ``u`` over which ``Ebar`` steps) the step is split off and the
#: perpendicular integral is taken in ``y``; above it every integrand is smooth on panels of width
#: ``min(1, s / |rho|)`` in ``u``, where the kinks ``0, L alpha / r`` are exact (docs/theory.md §4.4, §5).
_SPLIT = 0.125


def _numeric_class(mu_prime, geom, k, staircase, kinks_z, integrate_fn):
    """``(a, b, C_w, C_perp)`` of class ``k`` by numerical integration (see :func:`_vectors_numeric`)."""
    r, rho, s = geom.r[k], geom.rho[k], geom.s[k]
    alpha = staircase.alpha
    c = geom.c[k] if geom.teacher_on[k] else np.empty(0)            # (L,) or none
    kinks = kinks_z / r
    split = c.size > 0 and s < _SPLIT * abs(rho)
    width = 1.0 if (split or rho == 0) else min(1.0, s / abs(rho))    # Ebar's scale in u

    def mu_p(z):
        return np.asarray(mu_prime(z, staircase), dtype=np.float64)

    def along_w(u):                                                 # (P,) -> (3, P)
        z = r * u
        w = mu_p(z) * _phi(u)
        if not c.size:
            teacher = np.zeros_like(u)
        elif split:
            teacher = alpha * (rho * u[:, None] > c[None, :]).sum(axis=1)
        else:
            teacher = alpha * _Phi_over(rho * u[:, None] - c[None, :], s).sum(axis=1)
        return np.stack([w * u, w * staircase._apply(z) * u, w * u * teacher])

    with np.errstate(divide="ignore", invalid="ignore"):
        breaks = np.concatenate([geom.t[k], c / rho if rho != 0 else []])
    # mu' varies on ~1/r next to a kink (the log tail's pole) or on ~alpha/r (a shape that scales with the
    # staircase): the quadrature panels are graded from the smaller of the two (docs/theory.md §5).
    unit = min(1.0, alpha)
    a, b, C_w = integrate_fn(along_w, breaks, kinks, unit / r, max_width=width)
    C_perp = 0.0
    if c.size and s > 0:
        if split:
            # Remainder of Ebar: u = (c_l + s y) / rho, du = s/|rho| dy, Ebar - step = Phi(y) - 1{y > 0}.
            def remainder(y):                                        # (P,) or (L, P) -> (L, P)
                u = (c[:, None] + s * np.atleast_2d(y)) / rho
                return (alpha * s / abs(rho)) * mu_p(r * u) * u * _phi(u) * (ndtr(y) - (y > 0))
            y_kinks = (rho * kinks[None, :] - c[:, None]) / s        # (L, J): each l its own kinks
            C_w += integrate_fn(remainder, [0.0], y_kinks, unit * abs(rho) / (r * s)).sum()
        if s < _SPLIT or r * np.max(np.abs(rho * c)) <= 100 * staircase.top:
            # In y = (u - rho c_l)/s, one unit-width variable per l (the only choice when the Gaussian is
            # narrow in u, s < 1/8). The kinks sit at (z/r - rho c_l)/s there, each rounded by
            # ~eps |rho c_l| / s against a window of width ~alpha / (r s): harmless (< 1e-14 relative)
            # while r |rho c_l| <= 100 L alpha.
            def perp(y):                                             # (P,) or (L, P) -> (L, P)
                return mu_p(r * (rho * c[:, None] + s * np.atleast_2d(y))) * _phi(y)
            y_kinks = (kinks[None, :] - rho * c[:, None]) / s        # (L, J)
            C_perp = alpha * s * np.sum(_phi(c) * integrate_fn(perp, [], y_kinks, unit / (r * s)))
        else:
            # In u, where the kinks 0 and L alpha / r are exact at every |w| (in y they would be
            # differences of O(1) numbers at large |w|): phi(u) phi((c_l - rho u)/s) = phi(c_l) phi((u - rho c_l)/s).
            def perp_u(u):                                           # (P,) -> (1, P)
                return (mu_p(r * u) * _phi(u) * _phi_over(_rho_x_minus(u[:, None], c[None, :], rho,
                        geom.one_minus_rho[k], geom.one_plus_rho[k]), s).sum(axis=1))[None]
            C_perp = alpha * integrate_fn(perp_u, rho * c, kinks, unit / r, max_width=min(1.0, s))[0]
    return a, b, C_w, C_perp


def coarse_vectors(teacher: Teacher, W, ste, *, method: str = "auto"):
    r"""The vectors ``A = E[mu'(z^T w_k) z]``, ``B = E[sigma mu' z]``, ``C = E[sigma(z^T w*_k) mu'(z^T w_k) z]``.

    Parameters
    ----------
    teacher : Teacher
    W : array_like, shape (n, K), or (S, n, K) for S weight settings at once
    ste : str, STE or (mu, mu_prime)
    method : {"auto", "closed", "gauss", "quad"}
        ``closed``: closed form, for an STE with ``pieces`` (piecewise-constant ``mu'``).
        ``gauss``: fixed 20-point Gauss-Legendre panels, fast and accurate to rounding when
        ``mu'`` is smooth away from its kinks (``smooth_between_kinks``; the kinks are
        ``ste.kink_points``, by default 0 and ``L alpha``).
        ``quad``: adaptive quadrature, for any ``mu'`` (slow: use it for STEs of unknown shape).
        ``auto``: the first that applies.

    Returns
    -------
    A, B, C : ndarray, each of the shape of ``W`` (``(n, K)``, or ``(S, n, K)`` when batched)
    """
    _, W3, batched = check_student(teacher, teacher.v_star, W)
    flat, Wf = _flatten(teacher, W3)
    geom = pair_geometry(Wf, flat.W_star, flat.staircase)
    vec = coarse_coefficients(get_ste(ste), geom, flat.staircase, method)
    A, B, C = vec.as_vectors(geom.w_hat, geom.e_perp)
    C = C + student_zero_C(get_ste(ste), geom, flat, Wf)
    return tuple(_unflatten(X, W3.shape[0], batched) for X in (A, B, C))


METHODS = ("auto", "closed", "gauss", "quad")


def coarse_coefficients(ste, geom, staircase, method) -> CoarseVectors:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "closed" and ste.pieces is None:
        raise ValueError(f"STE {ste.name!r} has no piecewise-constant description (pieces); "
                         f"use method='gauss' or 'quad'")
    if method == "auto":
        method = "closed" if ste.pieces is not None else ("gauss" if ste.smooth_between_kinks else "quad")
    on = geom.student_on
    K = geom.r.shape[0]
    out = CoarseVectors(*(np.zeros(K) for _ in range(4)))
    if not on.any():
        return out
    sub = _subset(geom, on)
    if method == "closed":
        vec = _vectors_pieces(ste.pieces(staircase), sub, staircase)
    else:
        integrate_fn = _integrate_gauss if method == "gauss" else _integrate_adaptive
        vec = _vectors_numeric(ste, sub, staircase, integrate_fn)
    for full, part in zip(out, vec):
        full[on] = part
    return out


def student_zero_C(ste, geom, teacher, W, student: Staircase | None = None):
    """``C`` for classes with ``w_k = 0``: ``mu'(0) E[sigma*(z^T w*) z] = mu'(0) alpha* sum_l phi(c_l) w*^``
    (``mu'`` at the student's staircase, default the teacher's), shape ``(n, K)``."""
    off = ~geom.student_on & geom.teacher_on
    C0 = np.zeros_like(W)
    if off.any():
        mu0 = float(np.asarray(ste.mu_prime(np.zeros(1), student or teacher.staircase))[0])
        ws_hat = teacher.W_star[:, off] / geom.r_star[off]
        C0[:, off] = mu0 * teacher.staircase.alpha * _phi(geom.c[off]).sum(axis=1) * ws_hat
    return C0


def coarse_grad_W(teacher: Teacher, v, W, mo, ste, method: str = "auto", student: Staircase | None = None):
    """``E g_W = coef A + |v|^2 B - (v.v*) C`` as an ``(n, K)`` array, from the moments ``mo`` of ``W``.

    ``student`` is the student's staircase when its resolution differs from the teacher's (learnable
    resolution): ``A, B`` use its ``alpha``, ``C = E[sigma*_{alpha*} mu' z]`` the teacher's. Internal to
    the package (``v``, ``W``, ``ste`` already checked)."""
    staircase = teacher.staircase if student is None else student
    vec = coarse_coefficients(ste, mo.geom, staircase, method)
    if student is not None:
        vec = vec.with_teacher_step(teacher.staircase.alpha / student.alpha)
    return assemble(teacher, v, mo, vec) - (v @ teacher.v_star) * student_zero_C(ste, mo.geom, teacher, W, student)


def expected_coarse_grad(teacher: Teacher, v, W, ste, *, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    r"""Expected coarse gradient ``E_Z[g]`` of the sample loss, exactly.

    .. math::

        \mathbb E\, g_{w_k} = \mathrm{coef}_k A_k + |v|^2 B_k - (v\cdot v^*) C_k

    with ``A = E[mu'(z^T w) z]``, ``B = E[sigma(z^T w) mu'(z^T w) z]``,
    ``C = E[sigma(z^T w*) mu'(z^T w) z]`` (:class:`CoarseVectors`) and ``coef_k`` as in
    :func:`population_grad`: the gradient with ``sigma'`` replaced by ``mu'``. The
    ``v`` part equals ``grad_v f`` exactly.

    Parameters
    ----------
    teacher : Teacher
    v : array_like, shape (p,)
    W : array_like, shape (n, K), or (S, n, K) for S weight settings at once
    ste : str, STE or (mu, mu_prime)
    method : {"auto", "closed", "gauss", "quad"}
        See :func:`coarse_vectors`.

    Returns
    -------
    Eg_v : ndarray, shape (p,) (``(S, p)`` for batched ``W``)
    Eg_W : ndarray, shape of ``W``
    """
    v, W3, batched = check_student(teacher, v, W)
    _, Eg_v, Eg_W = step_terms(teacher, v, W3, get_ste(ste), method=method, batched=batched)
    return Eg_v, Eg_W


def loss_and_expected_coarse_grad(teacher: Teacher, v, W, ste, *, method: str = "auto", star=None):
    r"""``f(v, W)`` and ``E_Z[g]`` together, from one computation of the moments: what a descent step needs.

    The same numbers, bit for bit, as ``population_loss(teacher, v, W)`` and
    ``expected_coarse_grad(teacher, v, W, ste, method=method)`` (the same functions applied to the same
    moments), at about half the cost of the two calls.

    Parameters
    ----------
    teacher : Teacher
    v : array_like, shape (p,)
    W : array_like, shape (n, K), or (S, n, K) for S weight settings at once
    ste : str, STE or (mu, mu_prime)
    method : {"auto", "closed", "gauss", "quad"}
        See :func:`coarse_vectors`.
    star : tuple of two ndarrays, shape (K,), optional
        The teacher's ``(m*, q*)`` (:func:`~coarsegrad.population.moments.teacher_moments`), for a caller
        that takes many steps with one teacher (:func:`coarsegrad.train.population_descent`); unbatched
        ``W`` only. Default: computed here.

    Returns
    -------
    f : float, or ndarray of shape (S,) for batched ``W``
    Eg_v : ndarray, shape (p,) (``(S, p)`` for batched ``W``)
    Eg_W : ndarray, shape of ``W``
    """
    v, W3, batched = check_student(teacher, v, W)
    ste = get_ste(ste)
    if star is not None and batched:
        raise ValueError("star (the teacher's moments) goes with an unbatched W of shape (n, K)")
    return step_terms(teacher, v, W3, ste, method=method, star=star, batched=batched)


def step_terms(teacher: Teacher, v, W3, ste, *, method="auto", star=None, batched=False):
    """:func:`loss_and_expected_coarse_grad` after its checks: ``v`` of shape ``(p,)``, ``W3`` of shape
    ``(S, n, K)``, ``ste`` an STE (a descent checks them once, then calls this every step). Internal to
    the package."""
    flat, Wf = _flatten(teacher, W3)
    mo = mixed_moments(flat, Wf, star=star)
    S = W3.shape[0]
    f = _per_setting(loss_terms(flat, v, mo), S, batched)
    Eg_W = coarse_grad_W(flat, v, Wf, mo, ste, method)
    return (f if batched else float(f)), _per_setting(_grad_v_terms(flat, v, mo), S, batched), _unflatten(Eg_W, S, batched)
