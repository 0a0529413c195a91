"""The teacher ``(v*, W*)`` of the teacher-student model, and the plumbing that checks a student
``(v, W)`` against it and runs ``S`` weight settings as one call."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import as_float_array, check_dim, check_positive_int, make_rng
from ..quant import Staircase
from ..ste import check_staircase
from .geometry import column_norms

__all__ = ["Teacher", "random_teacher", "MAX_POPULATION_BITS"]


#: c(w, w*) sums L^2 bivariate normal probabilities per class; beyond 8 bits that is >65,000.
MAX_POPULATION_BITS = 8


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
        # + 0.0 turns -0.0 into 0.0: equal arrays (array_equal) must hash equal.
        return hash((self.staircase, self.v_star.shape, (self.v_star + 0.0).tobytes(), self.W_star.shape,
                     (self.W_star + 0.0).tobytes()))

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


def check_student(teacher: Teacher, v, W):
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
    norms = column_norms(W3.transpose(1, 0, 2).reshape(teacher.n, -1))
    if not np.all(np.isfinite(norms)):
        raise ValueError(f"{column_name(int(np.flatnonzero(~np.isfinite(norms))[0]), teacher.K, batched)} has a "
                         f"norm beyond the floating-point range; rescale W")
    return v, W3, batched


def column_name(j: int, K: int, batched: bool) -> str:
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


def _population_staircase(staircase) -> Staircase:
    check_staircase(staircase)
    if staircase.bits > MAX_POPULATION_BITS:
        raise ValueError(f"staircase.bits must be at most {MAX_POPULATION_BITS} for the exact population formulas; "
                         f"got {staircase.bits}")
    return staircase
