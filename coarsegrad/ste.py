r"""Straight-through estimators: the proxy derivatives of the coarse gradient.

An STE is a function ``mu`` whose derivative ``mu'`` (``mu_prime``) stands in for
the almost-everywhere-zero derivative of the staircase ``sigma`` in the chain
rule. It is a frozen :class:`STE` holding the two vectorized callables
``mu(z, bits, alpha)`` and ``mu_prime(z, bits, alpha)``. Four are built in
(SPEC §2), each with its kink values stated:

==================  =========================================  ============================================
name                ``mu(z)``                                  ``mu'(z)``
==================  =========================================  ============================================
``identity``        ``z``                                      ``1``
``relu``            ``max(z, 0)``                              ``1{z > 0}``              (``mu'(0) = 0``)
``clipped_relu``    ``min(max(z, 0), L*alpha)``                ``1{0 < z <= L*alpha}``  (``mu'(0) = 0``, ``mu'(L*alpha) = 1``)
``log_tailed_relu`` ``z`` on ``(0, L*alpha]``,                  ``1`` on ``(0, L*alpha]``, ``1/(z - L*alpha + 1)`` beyond,
                    ``L*alpha + log(z - L*alpha + 1)`` beyond  ``0`` for ``z <= 0``
==================  =========================================  ============================================

Three ways to name an STE wherever one is expected: its registered name
(``"clipped_relu"``), an :class:`STE`, or a pair ``(mu, mu_prime)`` of callables.
:func:`get_ste` resolves all three. :func:`register_ste` adds your own under a name.

**Admissible class** (docs/paper-notes.md, choice S1 — our formalization of the
abstract's "STEs with certain monotonicity"):

- (M1) ``mu' >= 0``: ``mu`` is non-decreasing;
- (M2) ``mu'(z) = 0`` for ``z < 0``;
- (M3) ``mu' > 0`` on ``(0, L*alpha)``;
- (M4) ``mu'`` is non-increasing on ``(0, inf)``.

:func:`check_admissible` tests them on a dense grid and reports which fail, with
a witness for each. ``relu``, ``clipped_relu`` and ``log_tailed_relu`` pass;
``identity`` violates M2 only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from ._checks import as_float_array, check_alpha, check_bits
from .quant import n_levels

__all__ = [
    "STE", "get_ste", "register_ste", "unregister_ste", "available_stes", "evaluate",
    "Admissibility", "check_admissible",
    "IDENTITY", "RELU", "CLIPPED_RELU", "LOG_TAILED_RELU",
]


@dataclass(frozen=True)
class STE:
    """A straight-through estimator: the proxy ``mu`` and its derivative ``mu'``.

    Parameters
    ----------
    name : str
        Name used in tables, figures and the registry.
    mu : callable ``(z, bits, alpha) -> ndarray``
        The proxy activation, vectorized, same shape as ``z``.
    mu_prime : callable ``(z, bits, alpha) -> ndarray``
        Its derivative, used in place of ``sigma'`` in the chain rule.
    pieces : callable ``(bits, alpha) -> tuple of (lo, hi, value)``, optional
        When ``mu'`` is piecewise constant: it equals ``value`` on ``(lo, hi]``
        and 0 elsewhere (``lo`` may be ``-inf``, ``hi`` may be ``inf``). The
        population module then uses closed forms instead of quadrature.
    smooth_between_kinks : bool
        ``mu'`` is smooth except at ``0`` and ``L alpha``: the population module may then
        integrate it with a fixed Gauss-Legendre rule (fast) instead of adaptive quadrature.
    kinks : str
        The values chosen at the kinks, in words (they are measure-zero choices
        but the code takes them, so they are stated).
    reference : str
        Where the STE comes from.
    """

    name: str
    mu: Callable
    mu_prime: Callable
    pieces: Callable | None = field(default=None, compare=False)
    smooth_between_kinks: bool = False
    kinks: str = ""
    reference: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"STE name must be a non-empty string; got {self.name!r}")
        for what in ("mu", "mu_prime"):
            if not callable(getattr(self, what)):
                raise TypeError(
                    f"STE {self.name!r}: {what} must be a callable (z, bits, alpha) -> array; "
                    f"got {getattr(self, what)!r}"
                )
        if self.pieces is not None and not callable(self.pieces):
            raise TypeError(f"STE {self.name!r}: pieces must be a callable (bits, alpha) -> pieces or None")

    def __repr__(self) -> str:
        return f"STE({self.name!r})"


# --- the four built-in STEs -------------------------------------------------------------
# Each mu / mu_prime takes (z, bits, alpha); z is a floating array, results keep its dtype.

def _identity_mu(z, bits, alpha):
    return np.array(z, copy=True)


def _identity_mu_prime(z, bits, alpha):
    return np.ones_like(z)


def _relu_mu(z, bits, alpha):
    return np.maximum(z, 0)


def _relu_mu_prime(z, bits, alpha):
    return (z > 0).astype(z.dtype)                        # mu'(0) = 0


def _clipped_relu_mu(z, bits, alpha):
    top = n_levels(bits) * alpha
    return np.clip(z, 0, top).astype(z.dtype, copy=False)


def _clipped_relu_mu_prime(z, bits, alpha):
    top = z.dtype.type(n_levels(bits) * alpha)
    return ((z > 0) & (z <= top)).astype(z.dtype)        # closed at L*alpha, as the authors' code


def _log_tailed_mu(z, bits, alpha):
    top = n_levels(bits) * alpha
    tail = np.log1p(np.maximum(z - top, 0))               # log(z - L*alpha + 1) beyond the top
    return (np.clip(z, 0, top) + tail).astype(z.dtype, copy=False)


def _log_tailed_mu_prime(z, bits, alpha):
    top = z.dtype.type(n_levels(bits) * alpha)
    return np.where(z <= 0, 0, 1 / (1 + np.maximum(z - top, 0))).astype(z.dtype, copy=False)


IDENTITY = STE(
    "identity", _identity_mu, _identity_mu_prime,
    pieces=lambda bits, alpha: ((-np.inf, np.inf, 1.0),),
    kinks="none: mu'(z) = 1 everywhere",
    reference="Bengio, Leonard, Courville 2013 ('straight-through'); Hinton's lectures 2012",
)
RELU = STE(
    "relu", _relu_mu, _relu_mu_prime,
    pieces=lambda bits, alpha: ((0.0, np.inf, 1.0),),
    kinks="mu'(0) = 0",
    reference="Yin et al., ICLR 2019; Cai et al. 2017",
)
CLIPPED_RELU = STE(
    "clipped_relu", _clipped_relu_mu, _clipped_relu_mu_prime,
    pieces=lambda bits, alpha: ((0.0, n_levels(bits) * alpha, 1.0),),
    kinks="mu'(0) = 0, mu'(L*alpha) = 1 (interval (0, L*alpha] closed on the right, as the authors' code)",
    reference="Cai et al. 2017; Yin et al., ICLR 2019; Long, Yin, Xin 2021",
)
LOG_TAILED_RELU = STE(
    "log_tailed_relu", _log_tailed_mu, _log_tailed_mu_prime, smooth_between_kinks=True,
    kinks="mu'(0) = 0, mu'(L*alpha) = 1 (mu' is continuous at L*alpha)",
    reference="Cai et al. 2017, half-wave Gaussian quantization",
)

_BUILTIN = {s.name: s for s in (IDENTITY, RELU, CLIPPED_RELU, LOG_TAILED_RELU)}
# The registry is the one piece of module state: users add STEs to it by name.
_REGISTRY: dict[str, STE] = dict(_BUILTIN)


def available_stes() -> tuple[str, ...]:
    """Names of the registered STEs, built-ins first."""
    return tuple(_REGISTRY)


def register_ste(name: str, mu: Callable, mu_prime: Callable, *, pieces: Callable | None = None,
                 smooth_between_kinks: bool = False, kinks: str = "", reference: str = "",
                 overwrite: bool = False) -> STE:
    """Register an STE under ``name`` and return it.

    Parameters
    ----------
    name : str
        Registry key; must not clash with an existing name unless ``overwrite``.
    mu, mu_prime : callable ``(z, bits, alpha) -> ndarray``
        Vectorized proxy and its derivative (same shape as ``z``).
    pieces, smooth_between_kinks, kinks, reference
        As in :class:`STE`.
    overwrite : bool
        Replace a user STE of the same name. Built-ins cannot be replaced.

    Returns
    -------
    STE
    """
    ste = STE(name, mu, mu_prime, pieces=pieces, smooth_between_kinks=smooth_between_kinks, kinks=kinks,
              reference=reference)
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in STE and cannot be replaced; choose another name")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an STE named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = ste
    return ste


def unregister_ste(name: str) -> None:
    """Remove a user-registered STE (built-ins stay)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in STE and cannot be removed")
    if name not in _REGISTRY:
        raise KeyError(f"no STE named {name!r} is registered; registered: {', '.join(_REGISTRY)}")
    del _REGISTRY[name]


def get_ste(ste) -> STE:
    """Resolve a name, an :class:`STE` or a ``(mu, mu_prime)`` pair to an :class:`STE`.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the registered names.
    TypeError
        For anything else.
    """
    if isinstance(ste, STE):
        return ste
    if isinstance(ste, str):
        try:
            return _REGISTRY[ste]
        except KeyError:
            raise ValueError(
                f"unknown STE {ste!r}; registered STEs are: {', '.join(_REGISTRY)} "
                f"(add your own with coarsegrad.register_ste)"
            ) from None
    if isinstance(ste, tuple) and len(ste) == 2 and all(callable(f) for f in ste):
        return STE("custom", ste[0], ste[1])
    raise TypeError(
        f"ste must be a registered name ({', '.join(_REGISTRY)}), an STE, or a pair "
        f"(mu, mu_prime) of callables (z, bits, alpha) -> array; got {ste!r}"
    )


def evaluate(ste, z, bits: int, alpha: float, *, derivative: bool = False) -> np.ndarray:
    """``mu(z)`` (or ``mu'(z)`` with ``derivative=True``) of ``ste``, with its inputs checked.

    Parameters
    ----------
    ste : str, STE or (mu, mu_prime)
    z : array_like, any shape
    bits, alpha : int, float

    Returns
    -------
    ndarray, same shape and floating dtype as ``z``
    """
    ste = get_ste(ste)
    z = as_float_array(z, "z", allow_empty=True)
    bits, alpha = check_bits(bits), check_alpha(alpha)
    fn = ste.mu_prime if derivative else ste.mu
    out = np.asarray(fn(z, bits, alpha))
    if out.shape != z.shape:
        raise ValueError(
            f"STE {ste.name!r}: {'mu_prime' if derivative else 'mu'} returned shape {out.shape} for "
            f"input of shape {z.shape}; it must be vectorized (elementwise)"
        )
    return out


# --- admissibility -------------------------------------------------------------------------

class Admissibility(NamedTuple):
    """Which of the monotonicity conditions M1-M4 an STE meets on a test grid.

    Attributes
    ----------
    ste : str
    bits, alpha : int, float
    passed : dict[str, bool]
        ``{"M1": ..., "M2": ..., "M3": ..., "M4": ...}``.
    witnesses : dict[str, float]
        For each failed condition, a ``z`` (or the left end of a pair) where it fails.
    """

    ste: str
    bits: int
    alpha: float
    passed: dict
    witnesses: dict

    @property
    def admissible(self) -> bool:
        """True when all four conditions hold on the grid."""
        return all(self.passed.values())

    @property
    def violated(self) -> tuple[str, ...]:
        """Names of the failed conditions, e.g. ``("M2",)``."""
        return tuple(k for k, ok in self.passed.items() if not ok)


CONDITIONS = {
    "M1": "mu' >= 0 (mu non-decreasing)",
    "M2": "mu'(z) = 0 for z < 0",
    "M3": "mu' > 0 on (0, L*alpha)",
    "M4": "mu' non-increasing on (0, inf)",
}


def admissibility_grid(bits: int, alpha: float, n: int = 4001) -> np.ndarray:
    """The points at which :func:`check_admissible` tests ``mu'``.

    A uniform grid on ``[-4 L alpha, 4 L alpha]`` plus every threshold ``k alpha``
    and its two floating-point neighbours, and a log-spaced tail up to
    ``1e6 L alpha`` on both sides. Sorted, float64.
    """
    top = n_levels(bits) * alpha
    ks = np.arange(n_levels(bits) + 1) * alpha
    near = np.concatenate([ks, np.nextafter(ks, -np.inf), np.nextafter(ks, np.inf)])
    tail = top * np.logspace(0, 6, 200)
    grid = np.concatenate([np.linspace(-4 * top, 4 * top, n), near, tail, -tail])
    return np.unique(grid)


def check_admissible(ste, bits: int = 2, alpha: float = 1.0) -> Admissibility:
    """Test the monotonicity conditions M1-M4 for ``mu'`` on :func:`admissibility_grid`.

    (M1) ``mu'(z) >= 0``; (M2) ``mu'(z) = 0`` for ``z < 0``; (M3) ``mu'(z) > 0`` for
    ``0 < z < L alpha``; (M4) ``mu'(z1) >= mu'(z2)`` for ``0 < z1 < z2``.

    A grid check can only refute: a violation reported here is real (the witness
    shows it); a pass means none was found on the grid.

    Parameters
    ----------
    ste : str, STE or (mu, mu_prime)
    bits : int
    alpha : float

    Returns
    -------
    Admissibility
    """
    ste = get_ste(ste)
    bits, alpha = check_bits(bits), check_alpha(alpha)
    z = admissibility_grid(bits, alpha)
    d = evaluate(ste, z, bits, alpha, derivative=True)
    if not np.all(np.isfinite(d)):
        raise ValueError(f"STE {ste.name!r}: mu_prime returned non-finite values, e.g. at z = {z[~np.isfinite(d)][0]}")
    top = n_levels(bits) * alpha
    pos = z > 0
    fails = {
        "M1": d < 0,
        "M2": (z < 0) & (d != 0),
        "M3": pos & (z < top) & (d <= 0),
    }
    # M4 on consecutive grid points of (0, inf); a tiny tolerance only forgives rounding in mu'.
    dp = d[pos]
    rises = np.zeros_like(z, dtype=bool)
    rises[np.flatnonzero(pos)[:-1]] = dp[1:] > dp[:-1] + 8 * np.finfo(float).eps * np.abs(dp[:-1])
    fails["M4"] = rises
    passed = {k: not bool(v.any()) for k, v in fails.items()}
    # The witness nearest to 0 is the most telling one (e.g. mu'(-tiny) != 0 for M2).
    witnesses = {k: float(z[v][np.argmin(np.abs(z[v]))]) for k, v in fails.items() if v.any()}
    return Admissibility(ste.name, bits, alpha, passed, witnesses)
