r"""Certificates of the orthogonal-subspace model (SPEC §8; docs/theory.md §7.3, §7.4, §7.6), with
three outcomes where a solver is involved: decided either way, or undecided with the solver's message.

- :func:`separability_lp` -- is a labelled set linearly separable? A linear program on the data centred
  and scaled by a power of 2 (separability is invariant under translation, rotation and scaling);
- :func:`covered` -- do vectors positively span ``R^m`` (0 in the interior of the convex hull of their
  directions)? Certified linear programs, or the angles in the plane;
- :func:`wendel`, :func:`coverage_probability` -- the probability of coverage at random Gaussian
  initialization (Wendel 1962), exact or a binomial tail, for every ``(N, m)``.

Re-exported by :mod:`coarsegrad.subspaces`, where they were defined before (import them from either).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from ._checks import as_float_array, check_labels, check_positive_int

__all__ = ["Separability", "separability_lp", "Coverage", "covered", "wendel", "coverage_probability",
           "WENDEL_EXACT_MAX_N"]


# =========================================================================================
# Linear separability, certified by a linear program
# =========================================================================================

@dataclass(frozen=True)
class Separability:
    """The answer of :func:`separability_lp`: separable, not separable, or undecided.

    Attributes
    ----------
    separable : bool or None
        ``True``: a linear rule classifies every point (the LP's solution, checked on the data);
        ``False``: no linear rule does (the LP proved infeasible on a well-scaled problem);
        ``None``: undecided -- the solver did not prove either (read :attr:`message`).
    status : int
        ``scipy.optimize.linprog``'s status as the solver gave it (0 feasible, 2 infeasible *or a
        model error*, 1/3/4 other): never read it alone, read :attr:`decided`.
    message : str
        The solver's message, and why an answer was not trusted.
    decided : bool
        Whether :attr:`separable` is a proven answer. Default (for hand-made oracles):
        ``status in (0, 2)``.
    """

    separable: bool | None
    status: int
    message: str
    decided: bool | None = None

    def __post_init__(self):
        if self.decided is None:
            object.__setattr__(self, "decided", self.status in (0, 2))

    @property
    def verdict(self) -> str:
        """``"separable"``, ``"not separable"`` or ``"undecided"``."""
        if not self.decided:
            return "undecided"
        return "separable" if self.separable else "not separable"


#: The start of scipy's message when HiGHS proved a problem infeasible; scipy also reports a HiGHS
#: *model error* with status 2, so the status alone does not prove infeasibility.
_INFEASIBLE = "The problem is infeasible"


def _pow2_normalize(x: np.ndarray) -> np.ndarray:
    """``x / 2^e`` with ``max|x| / 2^e`` in ``[0.5, 1)`` (``x`` itself when all zero): exact barring
    underflow of the smallest entries, and no overflow even for ``max|x|`` near the largest float
    (``np.ldexp`` never forms ``2^1024``)."""
    big = float(np.max(np.abs(x))) if x.size else 0.0
    return np.ldexp(x, -math.frexp(big)[1]) if big > 0 else x


def _normalized(x: np.ndarray):
    """``x`` centred and scaled to ``max |entry|`` in ``[0.5, 1)``, and whether that lost information.

    Separability is invariant under any translation, rotation and scaling of the data, and so is the
    centred, normalized set (the centre and scale move with the data). Scaling by a power of 2 is
    exact; it is *lossy* only when a non-zero entry falls below the normal range (the data span more
    than ~600 orders of magnitude), and then an "infeasible" answer proves nothing about ``x``.
    """
    x1 = _pow2_normalize(x)
    lossy = bool(np.any((x != 0) & (np.abs(x1) < np.finfo(np.float64).tiny)))
    return _pow2_normalize(x1 - x1.mean(axis=0)), lossy      # |x1| < 1: the mean cannot overflow


def separability_lp(x, labels) -> Separability:
    r"""Is there a linear rule ``argmax_k a_k . x + b_k`` that classifies every point?

    Strict separation is homogeneous, so it exists iff the LP feasibility problem

    .. math:: (a_y - a_l) \cdot \tilde x + b_y - b_l \ge 1 \quad \text{for every sample } (x, y),\ l \ne y

    in the ``K (d + 1)`` unknowns ``(a_k, b_k)`` is feasible, where ``x~ = (x - mean) / s`` is the
    data centred and scaled to ``max |x~| ~ 1`` (``s`` a power of 2; separability is invariant under
    translation, rotation and scaling, and so is this problem). Solved by ``linprog`` (HiGHS) with a
    zero objective. Three outcomes:

    - *separable*: the solver found a solution and every point is classified by it with margin
      ``>= 1/2`` when checked here in floating point;
    - *not separable*: HiGHS proved the problem infeasible, and centring and scaling lost nothing
      (no non-zero entry underflowed);
    - *undecided* (``decided = False``, ``separable = None``): anything else -- a model error, a
      time or iteration limit, a solution that fails the check, or an infeasibility found on data
      that spans more than the floating-point range. The message says which.

    A set separable only with a margin below the solver's tolerance (about ``1e-7`` of the data's
    extent) is at the resolution of any floating-point LP.

    Parameters
    ----------
    x : array_like, shape (n, d)
    labels : array_like of int, shape (n,)

    Returns
    -------
    Separability
    """
    x = as_float_array(x, "x", ndim=2, shape_doc="(n, d)", dtype=np.float64)
    labels = np.asarray(labels)
    K = int(labels.max()) + 1 if labels.size else 0
    labels = check_labels(labels, "labels", n_classes=max(K, 1), n_samples=x.shape[0])
    xs, lossy = _normalized(x)
    n, d = x.shape
    width = d + 1
    xb = np.hstack([xs, np.ones((n, 1))])              # (n, d+1): [x~, 1] pairs with [a_k, b_k]
    rows = []
    for rival in range(K):
        idx = np.flatnonzero(labels != rival)
        block = np.zeros((idx.size, K * width))
        for s, i in enumerate(idx):
            y = labels[i]
            block[s, y * width:(y + 1) * width] = -xb[i]       # -(a_y . x + b_y) + (a_l . x + b_l) <= -1, l = rival
            block[s, rival * width:(rival + 1) * width] = xb[i]
        rows.append(block)
    A = np.vstack(rows)
    if not A.shape[0]:                                  # one class only: the rule "always y" is exact
        return Separability(True, 0, "one class: trivially separable", True)
    res = linprog(np.zeros(K * width), A_ub=A, b_ub=-np.ones(A.shape[0]), bounds=(None, None), method="highs")
    message = str(res.message)
    if res.status == 0:
        margin = float(np.min(-(A @ res.x)))            # every constraint row, recomputed here
        if margin >= 0.5:
            return Separability(True, 0, message, True)
        return Separability(None, 0, f"{message} [solution fails the check: margin {margin:.3g} < 1/2; undecided]",
                            False)
    if res.status == 2 and message.startswith(_INFEASIBLE):
        if not lossy:
            return Separability(False, 2, message, True)
        return Separability(None, 2, f"{message} [the data span more than the floating-point range: entries "
                                     f"underflowed when scaled, so infeasibility proves nothing; undecided]", False)
    return Separability(None, int(res.status), f"{message} [no proof either way; undecided]", False)


# =========================================================================================
# Coverage: 0 in the interior of the convex hull of the normalized own projections
# =========================================================================================

@dataclass(frozen=True)
class Coverage:
    """The answer of :func:`covered` (truthy when covered; undecided is falsy -- read :attr:`decided`).

    Attributes
    ----------
    covered : bool
        0 lies in the interior of the convex hull of the normalized non-zero vectors (``False``
        when undecided).
    rank : int
        Rank of the non-zero vectors (must equal their dimension ``m``).
    status : int
        How it was decided: ``-1`` the rank test (no LP), ``-2`` the angles (``m = 2``), ``0`` a
        certificate from linear programs (:func:`covered`), ``4`` undecided.
    decided : bool
        Whether :attr:`covered` is a proven answer.
    message : str
        Which certificate decided, or why none did.
    """

    covered: bool
    rank: int
    status: int
    decided: bool = True
    message: str = ""

    def __bool__(self) -> bool:
        return self.covered


def _unit_rows(u: np.ndarray) -> np.ndarray:
    """The non-zero rows of ``u`` normalized to length 1, without under- or overflow: each row is
    first divided by its largest entry (a ``1e-200`` or ``1e200`` row keeps its direction)."""
    big = np.max(np.abs(u), axis=1)
    v = u[big > 0] / big[big > 0, None]                 # max |entry| = 1 per row: the norm is in [1, sqrt(m)]
    return v / np.linalg.norm(v, axis=1, keepdims=True)


#: Machine epsilon: the certificates below allow for rounding in their own arithmetic, and only that.
_EPS = np.finfo(np.float64).eps


def _dot_slack(m: int) -> float:
    """Rounding bound of ``u_j . z`` for unit ``u_j`` and ``|z|_inf <= 1`` in ``R^m`` (with the rounding
    of the normalization of ``u_j``): ``2 (m + 2) eps sqrt(m)``. A set whose coverage margin is below it
    is within rounding of the boundary and, covering being strict, counts as not covered."""
    return 2.0 * (m + 2) * _EPS * math.sqrt(m)


def _cover_one_lp(u: np.ndarray):
    r"""The fast path of :func:`covered`: one LP, ``min (U^T 1) . z`` over ``U z <= 0``, ``|z|_inf <= 1``.

    Its optimum is 0 (``z = 0``) iff the vectors cover ``R^m`` (rank ``m`` given). Both answers are
    certified here, not read from the solver's tolerance: a solution with ``max_j u_j . z <= slack
    |z|_inf`` is a direction no ``u_j`` sees (*not covered*); otherwise the dual ``lambda >= 0``
    gives ``w = 1 + lambda`` with ``U^T w ~ 0``, and if ``min w > |U^T w| / sigma_min(U)`` (plus
    rounding) some exact ``w' > 0`` has ``U^T w' = 0`` (*covered*). Near the boundary neither
    holds: ``(False, False, message)``, and :func:`_cover_faces` decides.
    """
    N, m = u.shape
    slack = _dot_slack(m)
    res = linprog(u.sum(axis=0), A_ub=u, b_ub=np.zeros(N), bounds=(-1.0, 1.0), method="highs")
    if res.status != 0:
        return False, False, str(res.message)
    z = res.x
    size = float(np.max(np.abs(z)))
    if size > 0 and np.max(u @ z) <= slack * size:
        return False, True, f"not covered: no u_j has u_j . z > 0 for z = {np.round(z / size, 6).tolist()}"
    w = 1.0 + np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
    r = float(np.linalg.norm(u.T @ w)) + 2.0 * (N + 2) * _EPS * float(np.sum(w))     # with its rounding
    sigma = float(np.linalg.svd(u, compute_uv=False)[-1])
    if sigma > 0 and np.min(w) * sigma > r:
        return True, True, (f"covered: sum_j w_j u_j = 0 with w_j >= {np.min(w) - r / sigma:.3g} > 0 "
                            f"(dual certificate, corrected for its residual)")
    return False, False, "one LP: neither certificate holds to rounding"


def _cover_faces(u: np.ndarray):
    r"""Decide coverage by ``2 m`` small LPs, one per face of the cube ``|z|_inf = 1``.

    Gordan: the unit vectors ``u_j`` cover ``R^m`` iff ``mu = min_{z != 0} max_j u_j . z / |z|_inf > 0``.
    On the face ``z_i = +-1``, ``|z|_inf <= 1`` the LP ``min s : u_j . z <= s`` bounds ``mu`` from both
    sides with numbers recomputed here, never taken from the solver's tolerance:

    - its solution ``z``: ``max_j u_j . z`` is an upper bound (``<= slack``: *not covered*, the
      certificate a direction no ``u_j`` sees);
    - its dual ``lambda >= 0``, ``sum lambda = 1``: ``max_j u_j . z >= (U^T lambda) . z >= +-g_i -
      sum_{k != i} |g_k|`` with ``g = U^T lambda`` for *every* ``z`` of the face, a lower bound.

    Covered iff every face's lower bound is positive. Returns ``(covered, decided, message)``.
    """
    N, m = u.shape
    slack = _dot_slack(m)
    c = np.zeros(m + 1)
    c[-1] = 1.0
    A = np.hstack([u, -np.ones((N, 1))])
    lowest = np.inf
    for i in range(m):
        for sign in (1.0, -1.0):
            bounds = [(-1.0, 1.0)] * m + [(None, None)]
            bounds[i] = (sign, sign)
            res = linprog(c, A_ub=A, b_ub=np.zeros(N), bounds=bounds, method="highs")
            if res.status != 0:
                return False, False, f"face z_{i} = {sign:+.0f}: {res.message} [undecided]"
            z = res.x[:m]
            if np.max(u @ z) <= slack:
                return False, True, f"not covered: no u_j has u_j . z > 0 for z = {np.round(z, 6).tolist()}"
            lam = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
            if not lam.sum() > 0:
                return False, False, f"face z_{i} = {sign:+.0f}: the solver gave no dual certificate [undecided]"
            g = u.T @ (lam / lam.sum())
            # np.minimum, not min: a NaN margin must propagate (and fail the test below), not be skipped
            lowest = float(np.minimum(lowest, sign * g[i] - np.sum(np.abs(np.delete(g, i)))))
            if not lowest > slack:
                return False, False, (f"face z_{i} = {sign:+.0f}: coverage margin between {lowest:.3g} and "
                                      f"{float(np.max(u @ z)):.3g}, within the solver's resolution [undecided]")
    return True, True, f"covered: margin min_z max_j u_j . z / |z|_inf >= {lowest:.3g} (dual certificates)"


def _cover_angles(u: np.ndarray) -> bool:
    """Coverage in the plane (unit rows ``u``): the largest gap between consecutive directions is ``< pi``.

    A gap within ``1e-9`` of ``pi`` is recomputed from the cross product of its two unit vectors,
    ``gap = pi - arcsin(u_i x u_j)``: exact for an exactly antipodal pair (``u x (-u) = 0``, gap
    exactly ``pi``: not covered), where the difference of two rounded angles could land either side.
    """
    t = np.arctan2(u[:, 1], u[:, 0])
    order = np.argsort(t)
    t = t[order]
    gaps = np.diff(np.concatenate([t, [t[0] + 2 * np.pi]]))
    near = np.flatnonzero(np.abs(gaps - np.pi) <= 1e-9)
    if near.size:                                        # rare: only these gaps need the cross product
        i, j = order[near], np.roll(order, -1)[near]
        cross = u[i, 0] * u[j, 1] - u[i, 1] * u[j, 0]
        gaps[near] = np.pi - np.arcsin(np.clip(cross, -1.0, 1.0))
    return bool(np.max(gaps) < np.pi)


def covered(u, *, method: str = "lp") -> Coverage:
    r"""Whether every direction of ``R^m`` has a vector ``u_j`` with ``u_j . z > 0``.

    Equivalently (Gordan's alternative; docs/theory.md §7.3) 0 lies in the *interior* of the convex
    hull of the ``u_j / |u_j|``: the vectors positively span ``R^m``, which needs rank ``m``. The
    question is scale-free per row: each row is normalized without under- or overflow (a row of
    ``1e-200`` or ``1e200`` keeps its direction); zero rows cover nothing and are dropped.

    ``method="lp"`` decides it by ``2 m`` small linear programs whose answers are *certified* here
    (a direction that no ``u_j`` sees, or a positive lower bound on the coverage margin from the
    dual on every face of the cube; see :func:`_cover_faces`); when neither certificate holds to
    rounding the answer is undecided (``decided = False``, falsy). ``method="angles"`` (``m = 2``
    only; ``"auto"`` uses it when ``m = 2`` and the LP otherwise) decides the same question without
    an LP, a hundred times faster: in the plane the vectors cover iff the largest gap between
    consecutive directions is ``< pi`` (strictly: an exactly antipodal pair with nothing in between
    on one side does not cover).

    Parameters
    ----------
    u : array_like, shape (N, m)
        One vector per row (e.g. a class's own neurons projected on its subspace).
    method : {"lp", "angles", "auto"}

    Returns
    -------
    Coverage
    """
    if method not in ("lp", "angles", "auto"):
        raise ValueError(f"method must be 'lp', 'angles' or 'auto'; got {method!r}")
    u = as_float_array(u, "u", ndim=2, shape_doc="(N, m), one vector per row", dtype=np.float64)
    if method == "angles" and u.shape[1] != 2:
        raise ValueError(f"method='angles' decides coverage in the plane only; u has m = {u.shape[1]} columns: "
                         f"use method='lp'")
    m = u.shape[1]
    u = _unit_rows(u)
    rank = int(np.linalg.matrix_rank(u)) if u.size else 0
    if u.shape[0] <= m:                                 # fewer than m + 1 vectors never positively span R^m
        return Coverage(False, rank, -1, True, f"{u.shape[0]} non-zero vectors cannot cover R^{m}")
    if rank < m:
        return Coverage(False, rank, -1, True, f"rank {rank} < {m}: the vectors lie in a hyperplane")
    if m == 2 and method in ("angles", "auto"):
        return Coverage(_cover_angles(u), rank, -2, True, "largest angular gap vs pi")
    ok, decided, message = _cover_one_lp(u)
    if not decided:                                    # near the boundary: the face LPs resolve it
        ok, decided, message = _cover_faces(u)
    return Coverage(ok, rank, 0 if decided else 4, decided, message)


# =========================================================================================
# Wendel's probability of coverage at random initialization
# =========================================================================================

#: Largest ``N`` for which Wendel's sum is computed exactly in integers (correctly rounded; a few ms);
#: beyond it the binomial tail of ``scipy.stats.binom`` (a few ulp).
WENDEL_EXACT_MAX_N = 1024


def _wendel_parts(N: int, m: int):
    N = check_positive_int(N, "N")
    m = check_positive_int(m, "m")
    return N, m


def wendel(N: int, m: int) -> float:
    r"""Wendel's probability that 0 is *not* in the convex hull of ``N`` random points in ``R^m``.

    For points drawn independently from a distribution symmetric about 0 and in general position
    (e.g. Gaussian)::

        P(0 not in conv) = 2^{1-N} sum_{k=0}^{m-1} C(N-1, k) = P(Binomial(N - 1, 1/2) <= m - 1)

    (Wendel 1962; derived in docs/theory.md §7.4). It is 1 for ``N <= m``. Computed exactly in
    integers (correctly rounded) for ``N <=`` :data:`WENDEL_EXACT_MAX_N`, else as the binomial tail
    ``scipy.stats.binom.cdf`` (no overflow for any ``N``; e.g. ``wendel(10**6, 3)`` underflows to 0).
    """
    N, m = _wendel_parts(N, m)
    if m >= N:
        return 1.0
    if N <= WENDEL_EXACT_MAX_N:
        return sum(math.comb(N - 1, k) for k in range(m)) / 2 ** (N - 1)   # int / int: correctly rounded
    from scipy.stats import binom          # here: scipy.stats takes ~0.2 s to import, and only large N need it
    return float(binom.cdf(m - 1, N - 1, 0.5))


def coverage_probability(N: int, m: int) -> float:
    """``1 - wendel(N, m)``: probability that ``N`` Gaussian neurons cover ``R^m`` (0 in the interior of
    their hull), computed as the upper binomial tail ``P(Binomial(N - 1, 1/2) >= m)`` (exactly for
    small ``N``), so that it keeps its relative accuracy where it is tiny."""
    N, m = _wendel_parts(N, m)
    if m >= N:
        return 0.0
    if N <= WENDEL_EXACT_MAX_N:
        return sum(math.comb(N - 1, k) for k in range(m, N)) / 2 ** (N - 1)
    from scipy.stats import binom          # here: scipy.stats takes ~0.2 s to import, and only large N need it
    return float(binom.sf(m - 1, N - 1, 0.5))
