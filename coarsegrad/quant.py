r"""The staircase: a quantized ReLU, as one validated value object.

A staircase with ``L`` non-zero levels is given by thresholds ``t_1 < ... < t_L`` and levels
``0 = l_0 < l_1 < ... < l_L``:

.. math::

    \sigma(z) = \sum_{k=1}^{L} (l_k - l_{k-1})\, \mathbf 1\{z > t_k\} .

coarsegrad's staircases are uniform: ``L = 2**bits - 1``, levels ``l_k = k alpha`` (every step of
height ``alpha``), and thresholds ``t_k = (k - 1 + shift) alpha`` with

- ``convention="ceil"`` (default; ``shift = 0``): ``t_k = (k - 1) alpha``, so
  ``sigma(z) = alpha ceil(z / alpha)`` clipped to ``[0, L alpha]`` -- the convention of the authors'
  public code (docs/paper-notes.md, Q1)::

      sigma(z) = 0           z <= 0
               = k alpha     (k-1) alpha < z <= k alpha,   k = 1..L-1
               = L alpha     z > (L-1) alpha

- ``convention="round"`` (``shift = 1/2``): ``t_k = (k - 1/2) alpha``, so ``sigma(z)`` is ``z`` rounded
  to the nearest level and clipped to ``[0, L alpha]`` -- the convention of larq, Brevitas and PACT.

In both, a threshold belongs to the step below it (``z > t_k``, strict): ``sigma(t_k) = l_{k-1}``;
for ``round`` that is "round half down". ``bits = 1`` is the binary activation ``alpha 1{z > t_1}``.

**No gradient in z.** ``sigma`` is piecewise constant, so ``sigma'(z) = 0`` for every ``z`` that is
not a threshold; its distributional derivative is the comb ``alpha sum_k delta(z - t_k)``. Nothing
in coarsegrad differentiates ``sigma`` in ``z``: the only route to a backward pass is an STE's
``mu_prime`` (:mod:`coarsegrad.ste`). The comb reappears, integrated against a Gaussian, in the exact
population gradient (:mod:`coarsegrad.population`, docs/theory.md §3).

**A gradient in alpha.** ``sigma(z; alpha) = alpha n(z / alpha)`` with ``n`` integer-valued, so for
every ``z`` off the thresholds ``d sigma / d alpha = n(z / alpha)`` exactly (:meth:`Staircase.d_alpha`).

**Floating point.** Thresholds and levels are rounded once in the working dtype (that of ``z``), and
``sigma`` compares ``z`` with exactly those numbers, so ``s(s.thresholds_in(dt)) == s.levels_in(dt)[:-1]``
holds bit for bit (docs/paper-notes.md, Q2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import MAX_BITS, as_float_array, check_alpha, check_bits

__all__ = ["Staircase", "CONVENTIONS", "MAX_BITS"]

#: Threshold conventions: name -> shift, with thresholds ``t_k = (k - 1 + shift) alpha``.
CONVENTIONS = {"ceil": 0.0, "round": 0.5}


@dataclass(frozen=True)
class Staircase:
    r"""The uniform staircase ``sigma(z) = alpha sum_{k=1}^{L} 1{z > t_k}``, ``L = 2**bits - 1``.

    Parameters
    ----------
    bits : int
        Bit-width ``b``, ``1 <= b <= 16``.
    alpha : float
        Resolution ``alpha > 0``: the height of every step (levels ``k alpha``).
    convention : {"ceil", "round"}
        Thresholds ``t_k = (k - 1) alpha`` (``ceil``, the authors' code) or ``(k - 1/2) alpha``
        (``round``, larq / Brevitas / PACT).

    Validated once, here; every function that needs a staircase takes this object. Equal
    staircases compare and hash equal.

    Examples
    --------
    >>> import numpy as np
    >>> s = Staircase(bits=2, alpha=0.5)
    >>> s(np.array([-1.0, 0.0, 0.3, 0.5, 0.6, 5.0]))
    array([0. , 0. , 0.5, 0.5, 1. , 1.5])
    >>> Staircase(2, 0.5, "round")(np.array([0.25, 0.26, 0.74, 0.76]))
    array([0. , 0.5, 0.5, 1. ])
    """

    bits: int = 2
    alpha: float = 1.0
    convention: str = "ceil"

    def __post_init__(self):
        object.__setattr__(self, "bits", check_bits(self.bits))
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {', '.join(map(repr, CONVENTIONS))}; "
                             f"got {self.convention!r}")
        # alpha alone being finite is not enough: the top level L alpha may overflow (Staircase(2, 1e308)),
        # and a subnormal alpha rounds the round convention's first threshold alpha/2 to 0 or alpha.
        with np.errstate(over="ignore"):
            top = float(self.L) * self.alpha
        if not np.isfinite(top):
            raise ValueError(f"alpha = {self.alpha!r} with bits = {self.bits}: the top level L alpha = {self.L} * alpha "
                             f"overflows float64; choose alpha <= {np.finfo(np.float64).max / self.L:.6g} (or fewer bits)")
        if self.alpha < _SMALL_ALPHA and not self._distinct():
            raise ValueError(f"alpha = {self.alpha!r} is too small to represent the {self.convention!r} staircase's "
                             f"thresholds and levels distinctly in float64 (thresholds {self.thresholds[:3].tolist()}...); "
                             f"choose alpha >= {np.finfo(np.float64).tiny:.3g}")

    # --- the numbers that define it --------------------------------------------------------

    @property
    def L(self) -> int:
        """Number of non-zero levels, ``2**bits - 1``."""
        return 2 ** self.bits - 1

    @property
    def shift(self) -> float:
        """``t_k = (k - 1 + shift) alpha``: 0 for ``ceil``, 1/2 for ``round``."""
        return CONVENTIONS[self.convention]

    @property
    def top(self) -> float:
        """The top level ``l_L = L alpha`` (where the clipped STEs saturate)."""
        return self.L * self.alpha

    @property
    def thresholds(self) -> np.ndarray:
        """``t_k = (k - 1 + shift) alpha``, ``k = 1..L``, float64, shape ``(L,)``."""
        return self.thresholds_in(np.float64)

    @property
    def levels(self) -> np.ndarray:
        """``l_k = k alpha``, ``k = 0..L``, float64, shape ``(L + 1,)``."""
        return self.levels_in(np.float64)

    @property
    def steps(self) -> np.ndarray:
        """Jump heights ``l_k - l_{k-1}`` (all ``alpha``), float64, shape ``(L,)``: with
        :attr:`thresholds` they are all the exact population formulas need."""
        return np.full(self.L, self.alpha)

    def thresholds_in(self, dtype) -> np.ndarray:
        """:attr:`thresholds` rounded once in ``dtype`` (the numbers ``sigma`` compares with); a new array."""
        return self._computed("thresholds", dtype).copy()

    def levels_in(self, dtype) -> np.ndarray:
        """:attr:`levels` rounded once in ``dtype`` (the values ``sigma`` returns); a new array."""
        return self._computed("levels", dtype).copy()

    def with_alpha(self, alpha: float) -> "Staircase":
        """The same staircase at another resolution."""
        return Staircase(self.bits, alpha, self.convention)

    # --- evaluation ----------------------------------------------------------------------------

    def __call__(self, z) -> np.ndarray:
        r"""``sigma(z) = alpha #{k : z > t_k}``.

        Parameters
        ----------
        z : array_like, any shape
            Pre-activations; must be finite.

        Returns
        -------
        ndarray, same shape as ``z``
            Values in ``{0, alpha, ..., L alpha}``, in the floating dtype of ``z`` (float64 for
            integer input). At a threshold the lower value: ``sigma(t_k) = (k - 1) alpha``.
        """
        z = as_float_array(z, "z", allow_empty=True)
        self._alpha_in(z.dtype)
        return self._apply(z)

    def d_alpha(self, z) -> np.ndarray:
        r"""``d sigma / d alpha = n(z / alpha) = #{k : z > t_k}``, exact for ``z`` off the thresholds.

        ``sigma(z; alpha) = alpha n(z / alpha)`` with ``n`` integer-valued: moving ``alpha`` moves the
        thresholds with it, and between them ``n`` is constant (SPEC §9, the ``ae`` rule).

        Parameters
        ----------
        z : array_like, any shape

        Returns
        -------
        ndarray, same shape and floating dtype as ``z``; integers ``0..L``.
        """
        z = as_float_array(z, "z", allow_empty=True)
        return self._count(z).astype(z.dtype)

    def __repr__(self) -> str:
        return f"Staircase(bits={self.bits}, alpha={self.alpha!r}, convention={self.convention!r})"

    # --- internals -------------------------------------------------------------------------------

    def _distinct(self) -> bool:
        """Thresholds and levels strictly increasing in float64, and the ``round`` thresholds positive."""
        t, levels = self.thresholds, self.levels
        return bool(np.all(np.diff(t) > 0) and np.all(np.diff(levels) > 0) and (self.shift == 0 or t[0] > 0))

    def _computed(self, what: str, dtype) -> np.ndarray:
        """The thresholds or levels in ``dtype``, computed (and ``alpha`` checked there) once per staircase and
        dtype: population descents ask for them several times a step, and the check costs more than the copy."""
        dtype = np.dtype(dtype)
        memo = self.__dict__.setdefault("_memo", {})     # not a field: equality, hash, repr and pickle ignore it
        if (what, dtype) not in memo:
            a = self._alpha_in(dtype)
            values = ((np.arange(self.L, dtype=dtype) + dtype.type(self.shift)) * a if what == "thresholds"
                      else np.arange(self.L + 1, dtype=dtype) * a)
            values.flags.writeable = False
            memo[what, dtype] = values
        return memo[what, dtype]

    def __getstate__(self):
        """The fields only: a pickled or copied staircase computes its thresholds again where it is used."""
        return {k: v for k, v in self.__dict__.items() if k != "_memo"}

    def _alpha_in(self, dtype):
        """``alpha`` in ``dtype``, checked to stay positive and keep ``L alpha`` finite there."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":      # an integer dtype would round the thresholds to 0, 0, 0 silently
            raise TypeError(f"dtype must be a floating dtype such as float64 or float32 (thresholds and levels "
                            f"are multiples of alpha); got {dtype}")
        with np.errstate(over="ignore"):          # an overflow here is the error reported below
            a = dtype.type(self.alpha)
            top = dtype.type(self.L) * a
        if not (a > 0 and np.isfinite(top)):
            raise ValueError(f"alpha = {self.alpha!r} with bits = {self.bits} is not representable in {dtype} "
                             f"(alpha rounds to {float(a)!r}, L alpha to {float(top)!r}); use float64 inputs or a "
                             f"resolution that rounds to a positive number with L alpha below "
                             f"{float(np.finfo(dtype).max):.3g} in {dtype}")
        return a

    def _apply(self, z: np.ndarray) -> np.ndarray:
        """Unchecked ``sigma`` for the hot paths; ``z`` is a finite floating array."""
        if self.L <= _COUNT_MAX_LEVELS:
            return np.multiply(self._count(z), z.dtype.type(self.alpha), dtype=z.dtype)  # count * a, as l_k = k a
        k = self._count(z)
        k *= z.dtype.type(self.alpha)
        return k

    def _count(self, z: np.ndarray) -> np.ndarray:
        """``#{k : z > t_k}`` with the thresholds rounded in ``z``'s dtype (uint8 up to 7 levels)."""
        t = self._computed("thresholds", z.dtype)      # read only here: no copy
        if self.L <= _COUNT_MAX_LEVELS:
            # The definition itself: count the thresholds z exceeds.
            count = np.greater(z, t[0]).view(np.uint8)      # a fresh array: reused as the counter
            for t_k in t[1:]:
                count += np.greater(z, t_k).view(np.uint8)
            return count
        a, L, s = z.dtype.type(self.alpha), self.L, z.dtype.type(self.shift)
        k = np.empty_like(z)
        with np.errstate(over="ignore"):       # |z| near the float max: z/a -> +-inf, which the clip maps to L or 0
            np.divide(z, a, out=k)
        k -= s
        np.ceil(k, out=k)                      # #{k : z > (k - 1 + s) a}, but z/a rounds: may be off by one
        np.clip(k, 0, L, out=k)
        # Make it exact against the thresholds t_k = (k - 1 + s) a as rounded in this dtype:
        # k is right iff (k == 0 or t_k < z) and (k == L or t_{k+1} >= z).
        k -= (k >= 1) & ((k - 1 + s) * a >= z)
        k += (k <= L - 1) & ((k + s) * a < z)
        return k


#: Below this resolution the thresholds and levels are checked to stay distinct in float64 (subnormal
#: multiples of alpha round; above it ``(k + shift) alpha`` is exact to one rounding and strictly increasing).
_SMALL_ALPHA = 1e-290

#: Up to this many thresholds sigma counts them one comparison at a time (fastest for few levels);
#: beyond, it rounds z / alpha up and corrects the rounding (benchmarks/bench_train.py).
_COUNT_MAX_LEVELS = 7
