r"""Exact Gaussian expectations for the teacher-student model.

Rows ``z_i`` of ``Z`` are i.i.d. ``N(0, I_n)``. The teacher ``(v*, W*)`` and the
student ``(v, W)`` share the staircase ``sigma`` (bits, alpha). For class ``k``,
``y_k = v^T sigma(Z w_k)`` and ``y*_k = v*^T sigma(Z w*_k)``; the population loss is

.. math::

    f(v, W) = \mathbb E_Z\, \tfrac12 \sum_k (y_k - y^*_k)^2 .

Everything reduces to one- and two-dimensional Gaussian integrals that are
evaluated in closed form with ``Phi``, ``phi`` and Owen's T function -- no Monte
Carlo. docs/theory.md §2-§4 derives each line; the names below are its names.

Moments (``U ~ N(0, 1)``, ``t_k = k alpha / |w|``, ``c_l = l alpha / |w*|``,
``rho = cos angle(w, w*)``)::

    m(w)     = E sigma(z^T w)              = alpha   sum_k        Qbar(t_k)
    q(w)     = E sigma(z^T w)^2            = alpha^2 sum_j (2j+1) Qbar(t_j)
    c(w, w*) = E sigma(z^T w) sigma(z^T w*) = alpha^2 sum_{k,l} Phi2(-t_k, -c_l; rho)

Loss (per class, ``S = sum(v) m - sum(v*) m*``; rows independent)::

    2 f_k = S^2 + |v|^2 (q - m^2) - 2 (v.v*) (c - m m*) + |v*|^2 (q* - m*^2)

Gradient in ``w_k`` and expected coarse gradient -- the same formula::

    grad_{w_k} f = coef_k grad m  + |v|^2 grad q / 2 - (v.v*) grad c
    E g_k        = coef_k A       + |v|^2 B          - (v.v*) C
    coef_k = sum(v) S_k - (|v|^2 m_k - (v.v*) m*_k)

with ``A = E[mu'(z^T w) z]``, ``B = E[sigma mu' z]``, ``C = E[sigma(z^T w*) mu'(z^T w) z]``;
``grad m``, ``grad q / 2``, ``grad c`` are the same three vectors with ``mu'`` replaced by
the comb ``sigma' = alpha sum_k delta(z - k alpha)`` (docs/theory.md §3). Each vector lies in
``span(w^, e_perp)``, ``e_perp`` the unit vector of ``w*^`` orthogonal to ``w^``, so it is
stored by two coefficients (:class:`CoarseVectors`).

Edge cases (docs/theory.md §5):

- ``w_k = 0``: ``sigma(z^T 0) = 0``, so ``m = q = c = 0``. ``f`` jumps there (``m``
  tends to ``alpha/2`` as ``w -> 0``), so :func:`population_grad` raises; ``E g`` is
  defined (``mu'(0)`` times a fixed vector) and returned.
- ``w*_k = 0``: the teacher's class is silent; ``c = 0`` and ``C = 0``.
- ``rho = +-1``: ``f`` has a kink across ``span(w*)`` (``P(z^T w > 0, z^T w* > 0) = (pi -
  theta)/2 pi`` is a cone in ``theta``). The returned gradient has zero component
  along ``e_perp`` there and takes ``Phi(0/0) = 1/2`` on the diagonal: the minimal-norm
  element of the subdifferential, and 0 at the global minimum ``W = W*``.
- huge or tiny ``|w|``: every formula is written so that ``t = k alpha / |w|`` may be
  ``0`` or ``inf`` without producing NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import integrate
from scipy.special import ndtr, owens_t

from ._checks import as_float_array, check_dim, check_positive_int, make_rng
from .quant import Staircase
from .ste import check_staircase, get_ste

__all__ = [
    "Teacher", "random_teacher", "bvn_cdf",
    "moment_m", "moment_q", "moment_c",
    "population_loss", "population_grad", "expected_coarse_grad",
    "CoarseVectors", "coarse_vectors",
    "MAX_POPULATION_BITS",
]

#: c(w, w*) sums L^2 bivariate normal probabilities per class; beyond 8 bits that is >65,000.
MAX_POPULATION_BITS = 8
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _phi(x):
    """Standard normal density; 0 at +-inf (and for |x| > 1e154, where x^2 overflows to inf)."""
    with np.errstate(over="ignore"):
        return _INV_SQRT_2PI * np.exp(-0.5 * np.square(x))


def _Qbar(x):
    """Standard normal survival function ``P(U > x)``."""
    return ndtr(-x)


# =========================================================================================
# The teacher
# =========================================================================================

@dataclass(frozen=True)
class Teacher:
    """The teacher ``(v*, W*)`` of the teacher-student model and its staircase.

    Parameters
    ----------
    v_star : array_like, shape (p,)
        Second-layer weights (shared by the classes).
    W_star : array_like, shape (n, K)
        First-layer weights, one column ``w*_k`` per class.
    staircase : Staircase
        The activation ``sigma`` that teacher and student share (at most
        :data:`MAX_POPULATION_BITS` bits).

    The arrays are copied and made read-only. Two teachers are equal when their arrays are
    equal element for element and their staircases are equal; they hash accordingly.
    """

    v_star: np.ndarray
    W_star: np.ndarray
    staircase: Staircase

    def __post_init__(self):
        v_star = as_float_array(self.v_star, "v_star", ndim=1, shape_doc="(p,)", dtype=np.float64).copy()
        W_star = as_float_array(self.W_star, "W_star", ndim=2, shape_doc="(n, K)", dtype=np.float64).copy()
        v_star.flags.writeable = False
        W_star.flags.writeable = False
        object.__setattr__(self, "v_star", v_star)
        object.__setattr__(self, "W_star", W_star)
        check_staircase(self.staircase)
        if self.staircase.bits > MAX_POPULATION_BITS:
            raise ValueError(f"the exact population formulas sum L^2 bivariate normal probabilities per class: "
                             f"staircase.bits must be at most {MAX_POPULATION_BITS}; got {self.staircase.bits}")

    def __eq__(self, other) -> bool:
        if not isinstance(other, Teacher):
            return NotImplemented
        return (self.staircase == other.staircase and self.v_star.shape == other.v_star.shape
                and self.W_star.shape == other.W_star.shape and bool(np.array_equal(self.v_star, other.v_star))
                and bool(np.array_equal(self.W_star, other.W_star)))

    def __hash__(self) -> int:
        return hash((self.staircase, self.v_star.shape, self.v_star.tobytes(), self.W_star.shape,
                     self.W_star.tobytes()))

    def __repr__(self) -> str:
        return f"Teacher(p={self.p}, n={self.n}, K={self.K}, {self.staircase!r})"

    @property
    def p(self) -> int:
        """Number of rows of ``Z`` (length of ``v``)."""
        return self.v_star.shape[0]

    @property
    def n(self) -> int:
        """Input dimension (rows of ``W``)."""
        return self.W_star.shape[0]

    @property
    def K(self) -> int:
        """Number of classes (columns of ``W``)."""
        return self.W_star.shape[1]


def random_teacher(n: int, p: int, K: int, staircase: Staircase, seed, *,
                   v_star=None) -> Teacher:
    """A random teacher: ``w*_k ~ N(0, I_n) * L alpha / sqrt(n)`` and ``v* ~ N(0, I_p)``.

    The scale puts ``z^T w*_k ~ N(0, (L alpha)^2)`` so the teacher uses every step.

    Parameters
    ----------
    n, p, K : int
    staircase : Staircase
    seed : int, SeedSequence or Generator
    v_star : array_like, shape (p,), optional
        Use this second layer instead of a random one.

    Returns
    -------
    Teacher
    """
    n, p, K = (check_positive_int(x, name) for x, name in ((n, "n"), (p, "p"), (K, "K")))
    check_staircase(staircase)
    rng = make_rng(seed)
    W_star = rng.standard_normal((n, K)) * (staircase.top / np.sqrt(n))
    if v_star is None:
        v_star = rng.standard_normal(p)
    return Teacher(v_star, W_star, staircase)


def _check_student(teacher: Teacher, v, W):
    """Checked ``v`` and ``W`` as ``(S, n, K)`` (``S = 1`` for one setting), and whether W was batched."""
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher must be a coarsegrad.population.Teacher; got {type(teacher).__name__}")
    v = as_float_array(v, "v", ndim=1, shape_doc="(p,)", dtype=np.float64)
    W = as_float_array(W, "W", ndim=(2, 3), shape_doc="(n, K), or (S, n, K) for S weight settings",
                       dtype=np.float64)
    check_dim(v, 0, teacher.p, "v", "p, the length of the teacher's v_star")
    batched = W.ndim == 3
    W3 = W if batched else W[None]
    if W3.shape[1:] != teacher.W_star.shape:
        raise ValueError(f"W has shape {W.shape} but the teacher's W_star has shape {teacher.W_star.shape}; "
                         f"they must match (n, K), or (S, n, K) for S settings")
    norms = _column_norms(W3.transpose(1, 0, 2).reshape(teacher.n, -1))
    if not np.all(np.isfinite(norms)):
        raise ValueError(f"{_column_name(int(np.flatnonzero(~np.isfinite(norms))[0]), teacher.K, batched)} has a "
                         f"norm beyond the floating-point range; rescale W")
    return v, W3, batched


def _column_name(j: int, K: int, batched: bool) -> str:
    """The user's name of flattened column ``j``: ``W[:, k]`` or ``W[s, :, k]``."""
    s, k = divmod(j, K)
    return f"W[{s}, :, {k}]" if batched else f"W[:, {k}]"


def _flatten(teacher: Teacher, W3: np.ndarray):
    """``S`` weight settings as ``S K`` classes: the class terms are independent given ``v``, so a
    batch of settings is one call on the teacher tiled ``S`` times (column ``s K + k``)."""
    S, n, K = W3.shape
    if S == 1:
        return teacher, W3[0]
    tiled = Teacher(teacher.v_star, np.tile(teacher.W_star, (1, S)), teacher.staircase)
    return tiled, W3.transpose(1, 0, 2).reshape(n, S * K)


def _unflatten(G: np.ndarray, S: int, batched: bool) -> np.ndarray:
    """``(n, S K)`` back to ``(S, n, K)``, or ``(n, K)`` for one unbatched setting."""
    n = G.shape[0]
    G3 = G.reshape(n, S, -1).transpose(1, 0, 2)
    return G3 if batched else G3[0]


def _per_setting(values: np.ndarray, S: int, batched: bool):
    """Sum per-class values ``(S K, ...)`` over the classes of each setting."""
    summed = values.reshape((S, -1) + values.shape[1:]).sum(axis=1)
    return summed if batched else summed[0]


# =========================================================================================
# Geometry of each pair (w_k, w*_k)
# =========================================================================================

class _Geometry(NamedTuple):
    """Per class ``k`` (shape ``(K,)`` unless stated): norms, unit vectors, angle."""

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


def _subset(geom: _Geometry, keep: np.ndarray) -> _Geometry:
    """The classes ``keep`` (a boolean mask over K) of ``geom``."""
    return _Geometry(geom.r[keep], geom.r_star[keep], geom.w_hat[:, keep], geom.e_perp[:, keep],
                     geom.rho[keep], geom.s[keep], geom.one_minus_rho[keep], geom.one_plus_rho[keep],
                     geom.t[keep], geom.c[keep],
                     geom.student_on[keep], geom.teacher_on[keep])


def _column_norms(W: np.ndarray) -> np.ndarray:
    """Euclidean norms of the columns, scaled first so that |w| near 1e+-300 neither
    overflows nor underflows in the sum of squares."""
    big = np.abs(W).max(axis=0)
    safe = np.where(big > 0, big, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):   # inf or nan beyond the float range; callers check
        return big * np.linalg.norm(W / safe, axis=0)


def _geometry(W: np.ndarray, W_star: np.ndarray, staircase: Staircase) -> _Geometry:
    r = _column_norms(W)
    r_star = _column_norms(W_star)
    student_on, teacher_on = r > 0, r_star > 0
    w_hat = np.divide(W, r, out=np.zeros_like(W), where=student_on)
    ws_hat = np.divide(W_star, r_star, out=np.zeros_like(W_star), where=teacher_on)
    # With a = |w^ - w*^|, b = |w^ + w*^| (a^2 + b^2 = 4): rho = (b^2 - a^2)/(a^2 + b^2),
    # sin theta = 2ab/(a^2 + b^2), 1 -+ rho = 2 a^2 or 2 b^2 over (a^2 + b^2). Exact at theta = 0
    # and pi (a or b is exactly 0) and accurate near them, where w^.w*^ is not (docs/theory.md §5).
    a = np.linalg.norm(w_hat - ws_hat, axis=0)
    b = np.linalg.norm(w_hat + ws_hat, axis=0)
    norm2 = a * a + b * b
    both = student_on & teacher_on
    safe = np.where(both, norm2, 1.0)
    rho = np.where(both, (b * b - a * a) / safe, 0.0)    # no angle without both vectors: never used
    s = np.where(both, 2.0 * a * b / safe, 1.0)
    one_minus_rho = np.where(both, 2.0 * a * a / safe, 1.0)
    one_plus_rho = np.where(both, 2.0 * b * b / safe, 1.0)
    d = ws_hat - np.sum(w_hat * ws_hat, axis=0) * w_hat
    d -= np.sum(w_hat * d, axis=0) * w_hat         # Gram-Schmidt twice: e_perp orthogonal to w^ to rounding even when theta ~ 0
    d_norm = np.linalg.norm(d, axis=0)
    e_perp = np.divide(d, d_norm, out=np.zeros_like(d), where=both & (d_norm > 0) & (s > 0))
    ks = staircase.thresholds
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # |w| = 0 rows masked below; tiny |w|: t -> inf
        t = np.where(student_on[:, None], ks[None, :] / r[:, None], np.inf)
        c = np.where(teacher_on[:, None], ks[None, :] / r_star[:, None], np.inf)
    return _Geometry(r, r_star, w_hat, e_perp, rho, s, one_minus_rho, one_plus_rho, t, c, student_on, teacher_on)


# =========================================================================================
# Bivariate normal CDF through Owen's T
# =========================================================================================

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


def _bvn_cdf(h, g, rho, s):
    """``Phi2(h, g; rho)`` with ``s = sqrt(1 - rho^2)`` given (accurately) by the caller."""
    h, g, rho, s = np.broadcast_arrays(h, g, rho, s)
    out = np.empty(h.shape)
    deg = s == 0
    # rho = +-1: perfectly (anti-)correlated.
    up, down = deg & (rho > 0), deg & (rho < 0)
    out[up] = ndtr(np.minimum(h[up], g[up]))
    out[down] = np.maximum(0.0, ndtr(h[down]) - ndtr(-g[down]))
    reg = ~deg
    hz, gz = reg & (h == 0), reg & (g == 0)
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
    val[inf_any] = np.where(
        (hh[inf_any] == -np.inf) | (gg[inf_any] == -np.inf), 0.0,
        ndtr(np.minimum(hh[inf_any], gg[inf_any])))
    out[gen] = val
    return np.clip(out, 0.0, 1.0)


# =========================================================================================
# Moments m, q, c and the population loss
# =========================================================================================

def _m_q(geom: _Geometry, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``m = alpha sum_k Qbar(t_k)``, ``q = alpha^2 sum_j (2j+1) Qbar(t_j)``; 0 where w = 0."""
    Q = _Qbar(geom.t)                                   # (K, L); Qbar(inf) = 0 for w = 0 rows
    odd = 2 * np.arange(geom.t.shape[1]) + 1
    m = alpha * Q.sum(axis=1)
    q = alpha**2 * (Q * odd).sum(axis=1)
    return np.where(geom.student_on, m, 0.0), np.where(geom.student_on, q, 0.0)


def _c(geom: _Geometry, alpha: float) -> np.ndarray:
    """``c = alpha^2 sum_{k,l} Phi2(-t_k, -c_l; rho)``; 0 where w = 0 or w* = 0."""
    on = geom.student_on & geom.teacher_on
    c = np.zeros(geom.r.shape)
    if on.any():
        P = _bvn_cdf(-geom.t[on][:, :, None], -geom.c[on][:, None, :],
                     geom.rho[on][:, None, None], geom.s[on][:, None, None])   # (K', L, L)
        c[on] = alpha**2 * P.sum(axis=(1, 2))
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
    return _m_q(_geometry(W, W, staircase), staircase.alpha)[0]


def moment_q(W, staircase: Staircase) -> np.ndarray:
    r"""``q(w_k) = E sigma(z^T w_k)^2 = alpha^2 sum_{j=0}^{L-1} (2j+1) Qbar(j alpha / |w_k|)``.

    ``q = alpha^2/2`` for ``bits = 1``; ``q(0) = 0``.

    Returns
    -------
    ndarray, shape (K,)
    """
    W = _weights_matrix(W, "W")
    staircase = _population_staircase(staircase)
    return _m_q(_geometry(W, W, staircase), staircase.alpha)[1]


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
    return _c(_geometry(W, W_star, staircase), staircase.alpha)


def _population_staircase(staircase) -> Staircase:
    check_staircase(staircase)
    if staircase.bits > MAX_POPULATION_BITS:
        raise ValueError(f"staircase.bits must be at most {MAX_POPULATION_BITS} for the exact population formulas; "
                         f"got {staircase.bits}")
    return staircase


class _Moments(NamedTuple):
    geom: _Geometry
    m: np.ndarray
    q: np.ndarray
    m_star: np.ndarray
    q_star: np.ndarray
    c: np.ndarray


def _moments(teacher: Teacher, W: np.ndarray) -> _Moments:
    staircase = teacher.staircase
    geom = _geometry(W, teacher.W_star, staircase)
    m, q = _m_q(geom, staircase.alpha)
    geom_star = _geometry(teacher.W_star, teacher.W_star, staircase)
    m_star, q_star = _m_q(geom_star, staircase.alpha)
    return _Moments(geom, m, q, m_star, q_star, _c(geom, staircase.alpha))


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
    v, W3, batched = _check_student(teacher, v, W)
    flat, Wf = _flatten(teacher, W3)
    f = _per_setting(_loss_terms(flat, v, _moments(flat, Wf)), W3.shape[0], batched)
    return f if batched else float(f)


def _loss_terms(teacher, v, mo: _Moments) -> np.ndarray:
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    terms = 0.5 * (S**2 + v @ v * (mo.q - mo.m**2) - 2 * (v @ vs) * (mo.c - mo.m * mo.m_star)
                   + vs @ vs * (mo.q_star - mo.m_star**2))
    return np.maximum(terms, 0.0)    # each is E (y_k - y*_k)^2 / 2 >= 0; rounding can dip below 0 at W = W*


# =========================================================================================
# The vectors A, B, C (and grad m, grad q / 2, grad c): coefficients on (w^, e_perp)
# =========================================================================================

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


def _rho_x_minus(x, c, rho, omr, opr):
    """``rho x - c`` without cancellation when ``rho ~ +-1`` and ``x ~ +-c``:
    ``(x - c) - (1 - rho) x`` for ``rho >= 0``, ``-(x + c) + (1 + rho) x`` otherwise."""
    with np.errstate(invalid="ignore", over="ignore"):   # x = +-inf gives +-inf or nan (rho = 0); callers mask it
        return np.where(rho >= 0, (x - c) - omr * x, (opr * x) - (x + c))


def _Phi_over(y, s):
    """``Phi(y / s)``, and its limit ``1{y > 0} + 1{y = 0}/2`` at ``s = 0`` (y / s may overflow to +-inf:
    the right limit)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(s > 0, ndtr(y / np.where(s > 0, s, 1.0)), 0.5 * (1.0 + np.sign(y)))


def _phi_over(y, s):
    """``phi(y / s)`` for ``s > 0`` (0 at ``s = 0``, where it only ever multiplies ``s``)."""
    with np.errstate(over="ignore"):
        return np.where(s > 0, _phi(y / np.where(s > 0, s, 1.0)), 0.0)


def _teacher_mean(u, geom, alpha):
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


def _finite_phi(x):
    """``phi(x)`` and ``x phi(x)`` with both 0 at ``x = +-inf``."""
    ph = _phi(x)
    with np.errstate(invalid="ignore"):
        return ph, np.where(np.isfinite(x), x * ph, 0.0)


def _gradient_vectors(geom: _Geometry, alpha: float) -> CoarseVectors:
    r"""``grad m``, ``grad q / 2``, ``grad c`` as coefficients on ``(w^, e_perp)``.

    ``sigma'(r u) = (alpha/r) sum_k delta(u - t_k)`` in ``u = z^T w^`` (docs/theory.md §3)::

        a      = (alpha/r) sum_k t_k phi(t_k)                         (grad m)
        b      = (alpha/r) sum_k (k + 1/2) alpha t_k phi(t_k)         (grad q / 2: sigma at mid-jump)
        C_w    = (alpha/r) sum_k t_k phi(t_k) Ebar(t_k)               (grad c)
        C_perp = (alpha/r) sum_k phi(t_k) Etilde(t_k)

    Internal: ``geom`` comes from ``_geometry``; classes with ``w = 0`` must be excluded by the caller.
    """
    t = geom.t                                                        # (K, L)
    ph, tph = _finite_phi(t)
    E_sigma, E_t_sigma = _teacher_mean(t, geom, alpha)
    scale = alpha / geom.r[:, None]
    mid = (np.arange(t.shape[1]) + 0.5) * alpha                       # sigma at the middle of jump k
    return CoarseVectors(
        a=(scale * tph).sum(axis=1),
        b=(scale * mid * tph).sum(axis=1),
        C_w=(scale * tph * E_sigma).sum(axis=1),
        C_perp=(scale * ph * E_t_sigma).sum(axis=1),
    )


def _vectors_pieces(pieces, geom: _Geometry, alpha: float) -> CoarseVectors:
    r"""``A, B, C`` for ``mu' = value`` on ``(lo, hi]`` pieces, in closed form (docs/theory.md §4.3).

    On ``u in (x1, x2]`` (``x = z / |w|``)::

        a      += phi(x1) - phi(x2)
        b      += alpha sum_k [phi(max(x1, t_k)) - phi(x2)]_{max(x1, t_k) < x2}
        C_w    += alpha sum_l [phi(x1) Phi((rho x1 - c_l)/s) - phi(x2) Phi((rho x2 - c_l)/s)
                               + rho phi(c_l) (Phi((x2 - rho c_l)/s) - Phi((x1 - rho c_l)/s))]
        C_perp += alpha sum_l s phi(c_l) (Phi((x2 - rho c_l)/s) - Phi((x1 - rho c_l)/s))
    """
    K = geom.r.shape[0]
    a, b, C_w, C_perp = (np.zeros(K) for _ in range(4))
    rho, s = geom.rho[:, None], geom.s[:, None]
    c = geom.c                                                        # (K, L)
    ph_c = np.where(geom.teacher_on[:, None], _phi(c), 0.0)

    def lin(x, y):                                                    # rho x - y, accurately
        return _rho_x_minus(x, y, rho, geom.one_minus_rho[:, None], geom.one_plus_rho[:, None])

    for lo, hi, value in pieces:
        x1 = np.full((K, 1), -np.inf) if lo == -np.inf else lo / geom.r[:, None]
        x2 = np.full((K, 1), np.inf) if hi == np.inf else hi / geom.r[:, None]
        ph1, ph2 = _phi(x1), _phi(x2)
        a += value * (ph1 - ph2)[:, 0]
        lo_k = np.maximum(x1, geom.t)                                 # (K, L)
        b += value * alpha * np.where(lo_k < x2, _phi(lo_k) - ph2, 0.0).sum(axis=1)
        end1 = np.where(np.isfinite(x1), ph1 * _Phi_over(lin(x1, c), s), 0.0)
        end2 = np.where(np.isfinite(x2), ph2 * _Phi_over(lin(x2, c), s), 0.0)
        window = _Phi_over(-lin(c, x2), s) - _Phi_over(-lin(c, x1), s)     # Phi((x - rho c)/s)
        on = geom.teacher_on[:, None]
        C_w += value * alpha * np.where(on, end1 - end2 + rho * ph_c * window, 0.0).sum(axis=1)
        C_perp += value * alpha * np.where(on, s * ph_c * window, 0.0).sum(axis=1)
    return CoarseVectors(a, b, C_w, C_perp)


#: Adaptive quadrature stops at |u| = 40, where phi(u) < 1e-347 underflows; the fixed Gauss-Legendre
#: rule at |u| = 12, where phi(u) < 3e-32 is far below rounding of the O(1) results.
_U_MAX_ADAPTIVE = 40.0
_U_MAX_GAUSS = 12.0
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)


def _integrate_adaptive(fn, breaks, kinks=(), scale=1.0, epsabs=1e-15, epsrel=1e-12):
    """``int fn`` over ``[-40, 40]`` by adaptive Gauss-Kronrod, split at ``breaks`` and ``kinks``
    (``scale`` is not needed: the rule adapts). ``fn`` maps points ``(P,)`` to values ``(m, P)``."""
    breaks = np.concatenate([np.asarray(breaks, dtype=np.float64).ravel(),
                             np.asarray(kinks, dtype=np.float64).ravel()])
    inner = np.unique(breaks[np.isfinite(breaks) & (np.abs(breaks) < _U_MAX_ADAPTIVE)])
    edges = np.concatenate([[-_U_MAX_ADAPTIVE], inner, [_U_MAX_ADAPTIVE]])
    one = lambda x: fn(np.array([x]))[:, 0]      # quad_vec evaluates one point at a time
    return sum(integrate.quad_vec(one, lo, hi, epsabs=epsabs, epsrel=epsrel, norm="max")[0]
               for lo, hi in zip(edges[:-1], edges[1:]))


def _integrate_gauss(fn, breaks, kinks=(), scale=1.0, max_width=1.0):
    """``int fn`` over ``[-12, 12]`` by 20-point Gauss-Legendre on panels no wider than
    ``max_width``, split at ``breaks``: all nodes in one vectorized call.

    ``mu'`` may vary on a length ``scale`` next to its ``kinks`` (the log-tailed STE's
    ``1/(1 + z - L alpha)`` has a pole at distance ``scale = 1/r`` in ``u``), so panels are
    graded geometrically there, ``kink +- scale * 2^j``, keeping the rule exact to rounding.
    """
    breaks = np.asarray(breaks, dtype=np.float64).ravel()
    kinks = np.asarray(kinks, dtype=np.float64).ravel()
    kinks = kinks[np.isfinite(kinks)]                 # a kink at +-inf (|w| -> 0) needs no panels
    steps = scale * 2.0 ** np.arange(-2, 16) if np.isfinite(scale) else np.empty(0)
    graded = (kinks[:, None] + np.concatenate([steps, -steps])[None, :]).ravel()
    points = np.concatenate([breaks, kinks, graded])
    inner = points[np.isfinite(points) & (np.abs(points) < _U_MAX_GAUSS)]
    grid = np.arange(-_U_MAX_GAUSS, _U_MAX_GAUSS + max_width / 2, max_width)
    edges = np.unique(np.concatenate([grid, inner]))
    half = 0.5 * np.diff(edges)[:, None]
    nodes = (0.5 * (edges[:-1] + edges[1:]))[:, None] + half * _GL_NODES
    return fn(nodes.ravel()) @ (half * _GL_WEIGHTS).ravel()


def _vectors_numeric(mu_prime, geom: _Geometry, staircase: Staircase, integrate_fn) -> CoarseVectors:
    """``A, B, C`` by numerical integration, for any ``mu'`` (docs/theory.md §4.4).

    In ``u = z^T w^`` (breakpoints at the thresholds ``t_k``, at ``c_l / rho`` and at the
    kinks ``0`` and ``L alpha`` of the built-in STEs)::

        a = int mu'(r u) u phi(u) du,   b = int mu'(r u) sigma(r u) u phi(u) du,
        C_w = int mu'(r u) u Ebar(u) phi(u) du.

    ``Ebar`` steps across ``u = c_l / rho`` over a width ``s / |rho|``, too narrow for a
    quadrature rule when ``theta`` is near 0 or pi. There (``s < |rho|``) ``Ebar`` is split into
    the exact step ``alpha sum_l 1{rho u > c_l}``, integrated in ``u``, and the smooth remainder,
    integrated in ``y = (rho u - c_l) / s``. ``C_perp`` uses
    ``phi(u) phi((c - rho u)/s) = phi(c) phi((u - rho c)/s)``::

        C_perp = alpha sum_l s phi(c_l) int mu'(r (rho c_l + s y)) phi(y) dy.
    """
    kinks_z = np.array([0.0, staircase.top])
    K = geom.r.shape[0]
    out = np.zeros((4, K))
    for k in range(K):
        # Tiny or huge |w| send kinks, breakpoints and panel scales to +-inf or 0; the integrators drop
        # non-finite breakpoints, so overflow here is the right limit, not an error.
        with np.errstate(over="ignore", divide="ignore"):
            out[:, k] = _numeric_class(mu_prime, geom, k, staircase, kinks_z, integrate_fn)
    return CoarseVectors(*out)


def _numeric_class(mu_prime, geom, k, staircase, kinks_z, integrate_fn):
    """``(a, b, C_w, C_perp)`` of class ``k`` by numerical integration (see :func:`_vectors_numeric`)."""
    r, rho, s = geom.r[k], geom.rho[k], geom.s[k]
    alpha = staircase.alpha
    c = geom.c[k] if geom.teacher_on[k] else np.empty(0)            # (L,) or none
    kinks = kinks_z / r
    split = c.size > 0 and s < abs(rho)

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
    a, b, C_w = integrate_fn(along_w, breaks, kinks, 1.0 / r)
    C_perp = 0.0
    if c.size and s > 0:
        if split:
            # Remainder of Ebar: u = (c_l + s y) / rho, du = s/|rho| dy, Ebar - step = Phi(y) - 1{y > 0}.
            def remainder(y):                                        # (P,) -> (L, P)
                u = (c[:, None] + s * y[None, :]) / rho
                return (alpha * s / abs(rho)) * mu_p(r * u) * u * _phi(u) * (ndtr(y) - (y > 0))
            y_kinks = (rho * kinks[:, None] - c[None, :]) / s
            C_w += integrate_fn(remainder, [0.0], y_kinks, abs(rho) / (r * s)).sum()

        def perp(y):                                                 # (P,) -> (L, P)
            return mu_p(r * (rho * c[:, None] + s * y[None, :])) * _phi(y)
        y_kinks = (kinks[:, None] - rho * c[None, :]) / s
        C_perp = alpha * s * np.sum(_phi(c) * integrate_fn(perp, [], y_kinks, 1.0 / (r * s)))
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
        ``mu'`` is smooth away from 0 and ``L alpha`` (``smooth_between_kinks``).
        ``quad``: adaptive quadrature, for any ``mu'`` (slow: use it for STEs of unknown shape).
        ``auto``: the first that applies.

    Returns
    -------
    A, B, C : ndarray, each of the shape of ``W`` (``(n, K)``, or ``(S, n, K)`` when batched)
    """
    _, W3, batched = _check_student(teacher, teacher.v_star, W)
    flat, Wf = _flatten(teacher, W3)
    geom = _geometry(Wf, flat.W_star, flat.staircase)
    vec = _coarse_coefficients(get_ste(ste), geom, flat.staircase, method)
    A, B, C = vec.as_vectors(geom.w_hat, geom.e_perp)
    C = C + _student_zero_C(get_ste(ste), geom, flat, Wf)
    return tuple(_unflatten(X, W3.shape[0], batched) for X in (A, B, C))


METHODS = ("auto", "closed", "gauss", "quad")


def _coarse_coefficients(ste, geom, staircase, method) -> CoarseVectors:
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
        vec = _vectors_pieces(ste.pieces(staircase), sub, staircase.alpha)
    else:
        integrate_fn = _integrate_gauss if method == "gauss" else _integrate_adaptive
        vec = _vectors_numeric(ste.mu_prime, sub, staircase, integrate_fn)
    for full, part in zip(out, vec):
        full[on] = part
    return out


def _student_zero_C(ste, geom, teacher, W):
    """``C`` for classes with ``w_k = 0``: ``mu'(0) E[sigma(z^T w*) z] = mu'(0) alpha sum_l phi(c_l) w*^``."""
    off = ~geom.student_on & geom.teacher_on
    C0 = np.zeros_like(W)
    if off.any():
        mu0 = float(np.asarray(ste.mu_prime(np.zeros(1), teacher.staircase))[0])
        ws_hat = teacher.W_star[:, off] / geom.r_star[off]
        C0[:, off] = mu0 * teacher.staircase.alpha * _phi(geom.c[off]).sum(axis=1) * ws_hat
    return C0


# =========================================================================================
# Gradient and expected coarse gradient
# =========================================================================================

def _assemble(teacher, v, mo: _Moments, vec: CoarseVectors) -> np.ndarray:
    """``coef A + |v|^2 B - (v.v*) C`` as an ``(n, K)`` array (docs/theory.md §4.1)."""
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    coef = v.sum() * S - (v @ v * mo.m - (v @ vs) * mo.m_star)
    along = coef * vec.a + (v @ v) * vec.b - (v @ vs) * vec.C_w
    return along * mo.geom.w_hat - (v @ vs) * vec.C_perp * mo.geom.e_perp


def _grad_v_terms(teacher, v, mo: _Moments) -> np.ndarray:
    """Class terms ``S_k m_k 1 + v (q_k - m_k^2) - v* (c_k - m_k m*_k)`` of ``grad_v f``, shape ``(K, p)``
    (exact for the coarse gradient too: ``sigma`` is not differentiated on the way to ``v``)."""
    vs = teacher.v_star
    S = v.sum() * mo.m - vs.sum() * mo.m_star
    return ((S * mo.m)[:, None] * np.ones_like(v) + (mo.q - mo.m**2)[:, None] * v
            - (mo.c - mo.m * mo.m_star)[:, None] * vs)


def population_grad(teacher: Teacher, v, W) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact gradient of the population loss ``f(v, W)``.

    .. math::

        \nabla_{w_k} f = \mathrm{coef}_k \nabla m(w_k) + |v|^2 \tfrac12 \nabla q(w_k)
                         - (v\cdot v^*) \nabla_{w} c(w_k, w^*_k),
        \quad \mathrm{coef}_k = \textstyle\sum_i v_i\, S_k - (|v|^2 m_k - (v\cdot v^*) m^*_k)

    with ``grad m = (alpha/|w|) sum_k t_k phi(t_k) w^`` and so on (``_gradient_vectors``,
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

    Raises
    ------
    ValueError
        If some ``w_k = 0``: ``f`` is discontinuous there (``m`` jumps from ``alpha/2`` to 0).
    """
    v, W3, batched = _check_student(teacher, v, W)
    flat, Wf = _flatten(teacher, W3)
    mo = _moments(flat, Wf)
    if not mo.geom.student_on.all():
        name = _column_name(int(np.flatnonzero(~mo.geom.student_on)[0]), teacher.K, batched)
        raise ValueError(f"{name} = 0: the population loss is discontinuous at w_k = 0 (sigma(z^T 0) = 0 "
                         f"but E sigma(z^T w) -> alpha/2 as w -> 0), so it has no gradient there; move w_k off 0")
    S = W3.shape[0]
    grad_W = _assemble(flat, v, mo, _gradient_vectors(mo.geom, teacher.staircase.alpha))
    return _per_setting(_grad_v_terms(flat, v, mo), S, batched), _unflatten(grad_W, S, batched)


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
    v, W3, batched = _check_student(teacher, v, W)
    ste = get_ste(ste)
    flat, Wf = _flatten(teacher, W3)
    mo = _moments(flat, Wf)
    vec = _coarse_coefficients(ste, mo.geom, flat.staircase, method)
    Eg_W = _assemble(flat, v, mo, vec) - (v @ flat.v_star) * _student_zero_C(ste, mo.geom, flat, Wf)
    S = W3.shape[0]
    return _per_setting(_grad_v_terms(flat, v, mo), S, batched), _unflatten(Eg_W, S, batched)
