r"""Straight-through estimators: the proxy derivatives of the coarse gradient.

An STE is a function ``mu`` whose derivative ``mu'`` (``mu_prime``) stands in for
the almost-everywhere-zero derivative of the staircase ``sigma`` in the chain
rule. It is a frozen :class:`STE` holding the two vectorized callables
``mu(z, staircase)`` and ``mu_prime(z, staircase)`` (:class:`~coarsegrad.quant.Staircase`). Four are built in
(SPEC §2), each with its kink values stated:

=================== =========================================  ===============================================================
name                ``mu(z)``                                  ``mu'(z)``
=================== =========================================  ===============================================================
``identity``        ``z``                                      ``1``
``relu``            ``max(z, 0)``                              ``1{z > 0}``              (``mu'(0) = 0``)
``clipped_relu``    ``min(max(z, 0), L*alpha)``                ``1{0 < z <= L*alpha}``  (``mu'(0) = 0``, ``mu'(L*alpha) = 1``)
``log_tailed_relu`` ``z`` on ``(0, L*alpha]``,                 ``1`` on ``(0, L*alpha]``, ``1/(z - L*alpha + 1)`` beyond,
                    ``L*alpha + log(z - L*alpha + 1)`` beyond  ``0`` for ``z <= 0``
=================== =========================================  ===============================================================

Three ways to name an STE wherever one is expected: its registered name
(``"clipped_relu"``), an :class:`STE`, or a triple ``(name, mu, mu_prime)`` (a bare pair
``(mu, mu_prime)`` is named after ``mu_prime``). :func:`get_ste` resolves them.
:func:`register_ste` adds your own under a name.

**Admissible class** (docs/paper-notes.md, choice S1 — our formalization of the
abstract's "STEs with certain monotonicity"):

- (M1) ``mu' >= 0``: ``mu`` is non-decreasing;
- (M2) ``mu'(z) = 0`` for ``z < 0``;
- (M3) ``mu' > 0`` on ``(0, l_L)``, ``l_L = L*alpha`` the top level;
- (M4) ``mu'`` is non-increasing on ``(0, inf)``.

For a general staircase M3 asks for signal on ``(0, l_L)``: that interval holds every positive
threshold (``t_L = (L-1) alpha`` for ``ceil``, ``(L - 1/2) alpha`` for ``round``), so the coarse
gradient passes through every jump of ``sigma``; M2 needs no change because every threshold is
``>= 0``. :func:`check_admissible` tests them on a dense grid and reports which fail, with
a witness for each. ``relu``, ``clipped_relu`` and ``log_tailed_relu`` pass;
``identity`` violates M2 only.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._checks import as_float_array
from .quant import CONVENTIONS, MAX_BITS, Staircase

__all__ = [
    "STE", "get_ste", "register_ste", "unregister_ste", "available_stes", "evaluate",
    "Admissibility", "check_admissible", "CONDITIONS", "BUILTIN_STES", "ADMISSIBLE_STES",
    "IDENTITY", "RELU", "CLIPPED_RELU", "LOG_TAILED_RELU",
]


@dataclass(frozen=True)
class STE:
    """A straight-through estimator: the proxy ``mu`` and its derivative ``mu'``.

    Parameters
    ----------
    name : str
        Name used in tables, figures and the registry.
    mu : callable ``(z, staircase) -> ndarray``
        The proxy activation, vectorized, same shape as ``z``.
    mu_prime : callable ``(z, staircase) -> ndarray``
        Its derivative, used in place of ``sigma'`` in the chain rule.
    pieces : callable ``staircase -> tuple of (lo, hi, value)``, optional
        When ``mu'`` is piecewise constant: it equals ``value`` on ``(lo, hi]``
        and 0 elsewhere (``lo`` may be ``-inf``, ``hi`` may be ``inf``). The
        population module then uses closed forms instead of quadrature. Checked
        against ``mu_prime`` when the STE is built (:func:`_check_pieces`).
    smooth_between_kinks : bool
        ``mu'`` is smooth except at its kinks (``kink_points``, by default ``0`` and the top level
        ``L alpha``): the population module may then integrate it with a fixed Gauss-Legendre rule
        (fast) instead of adaptive quadrature.
    kink_points : callable ``staircase -> sequence of float``, optional
        The ``z`` where ``mu'`` jumps or has a kink, when they are not just ``0``, ``L alpha`` and the
        ends of ``pieces``: the population module's quadrature panels break and are graded there.
    kinks : str
        The values chosen at the kinks, in words (they are measure-zero choices
        but the code takes them, so they are stated).
    reference : str
        Where the STE comes from.

    Raises
    ------
    TypeError, ValueError
        When ``mu`` or ``mu_prime`` is not an elementwise map to finite real numbers on a probe
        grid, or ``pieces`` disagrees with ``mu_prime`` (checked once, here, where the STE enters).
    """

    name: str
    mu: Callable
    mu_prime: Callable
    pieces: Callable | None = field(default=None, compare=False)
    smooth_between_kinks: bool = False
    kinks: str = ""
    kink_points: Callable | None = field(default=None, compare=False, kw_only=True)
    reference: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"STE name must be a non-empty string; got {self.name!r}")
        for what in ("mu", "mu_prime"):
            if not callable(getattr(self, what)):
                raise TypeError(
                    f"STE {self.name!r}: {what} must be a callable (z, staircase) -> array; "
                    f"got {getattr(self, what)!r}"
                )
        if self.pieces is not None and not callable(self.pieces):
            raise TypeError(f"STE {self.name!r}: pieces must be a callable staircase -> pieces, or None")
        if self.kink_points is not None and not callable(self.kink_points):
            raise TypeError(f"STE {self.name!r}: kink_points must be a callable staircase -> z positions, or None")
        _probe(self)

    def __repr__(self) -> str:
        return f"STE({self.name!r})"


#: Staircases on which a new STE is probed: every bit-width up to MAX_BITS, both conventions up to 4 bits
#: and alternating beyond, at resolutions that are not powers of two (an STE wrong at one bit-width only
#: is caught).
_PROBE_STAIRCASES = tuple(Staircase(bits, (1.0, 0.3, 0.7)[bits % 3], convention)
                          for bits in range(1, MAX_BITS + 1) for convention in CONVENTIONS
                          if bits <= 4 or convention == ("ceil", "round")[bits % 2])

#: Every scale of ``|z|``: 8 points a decade from 1e-300 to 1e300 (ratio 1.33), both signs. A band
#: ``a < |z| < 1.34 a`` anywhere in that range holds a probe point, whatever the staircase. (Not up to the
#: float maximum: a legitimate ``mu' = 2z`` overflows there.)
_PROBE_SCALES = np.logspace(-300, 300, 8 * 600 + 1)

#: Up to this many levels every threshold and level is probed (with its float neighbours); beyond, the
#: first and last 64 and 256 spread between them (a 16-bit staircase has 65,535).
_PROBE_ALL_MARKS = 256


@functools.lru_cache(maxsize=len(_PROBE_STAIRCASES))
def _probe_grid(staircase: Staircase) -> np.ndarray:
    """Points where a new STE is probed: a spread over ``[-2 top, 4 top]``, the thresholds and levels
    with their float neighbours, and every scale of ``|z|`` (:data:`_PROBE_SCALES`, both signs, and 0)."""
    top, L = staircase.top, staircase.L
    k = np.arange(L + 1)
    if L > _PROBE_ALL_MARKS:
        k = np.unique(np.concatenate([k[:64], k[-64:], np.linspace(0, L, 256).astype(int)]))
    marks = np.concatenate([staircase.thresholds[k[k < L]], staircase.levels[k]])
    near = np.concatenate([marks, np.nextafter(marks, -np.inf), np.nextafter(marks, np.inf)])
    grid = np.unique(np.concatenate([np.linspace(-2 * top, 4 * top, 241), near, _PROBE_SCALES, -_PROBE_SCALES, [0.0]]))
    grid.flags.writeable = False          # cached (the same grid for every STE probed): read-only
    return grid


def _probe(ste: STE) -> None:
    """Check shape, dtype and finiteness of ``mu`` and ``mu'``, and ``pieces`` against ``mu'``, on every
    probe staircase (:data:`_PROBE_STAIRCASES`) and every scale of ``z`` (:func:`_probe_grid`)."""
    for staircase in _PROBE_STAIRCASES:
        z = _probe_grid(staircase)
        for what in ("mu", "mu_prime"):
            with np.errstate(all="ignore"):      # the user's overflow at |z| ~ 1e300 is judged by its result below
                out = _call(ste, what, z, staircase)
            # mu' enters every gradient: finite everywhere. mu itself is never differentiated: a proxy that
            # grows like z^2 may overflow to +-inf far out (|z| > 1e6 top), but never be NaN.
            far = np.abs(z) > 1e6 * staircase.top
            ok = np.isfinite(out) if what == "mu_prime" else ~np.isnan(out) & (np.isfinite(out) | far)
            if not np.all(ok):
                bad = np.flatnonzero(~ok)[0]
                raise ValueError(f"STE {ste.name!r}: {what}({float(z[bad])!r}) = {float(out[bad])!r} at {staircase}; "
                                 f"it must be finite for every finite z" + (" (mu may overflow only beyond 1e6 L alpha)"
                                                                            if what == "mu" else ""))
            # The networks pass 2-D and 3-D pre-activations: a map that is elementwise only on 1-D input
            # (e.g. it returns shape z.shape[-1:]) would broadcast into a wrong gradient there.
            middle = z[np.searchsorted(z, -2 * staircase.top):][:120]
            block = middle.reshape(2, 3, 20)
            with np.errstate(all="ignore"):
                out3 = _call(ste, what, block, staircase)
            want = out[np.searchsorted(z, middle)]
            if not np.allclose(out3.ravel(), want, rtol=1e-12, atol=0.0, equal_nan=True):
                i = int(np.flatnonzero(~np.isclose(out3.ravel(), want, rtol=1e-12, atol=0.0))[0])
                raise ValueError(f"STE {ste.name!r}: {what} gives {out3.ravel()[i]!r} at z = {block.ravel()[i]!r} in a "
                                 f"(2, 3, 20) array but {want[i]!r} in a 1-D one; it must act elementwise")
        if ste.pieces is not None:
            _check_pieces(ste, staircase, z)
        if ste.kink_points is not None:
            kinks_z(ste, staircase)


def _call(ste: STE, what: str, z: np.ndarray, staircase: Staircase) -> np.ndarray:
    """``ste.mu`` or ``ste.mu_prime`` at ``z``, checked to be elementwise and real."""
    try:
        out = np.asarray(getattr(ste, what)(z, staircase))
    except Exception as exc:
        raise TypeError(f"STE {ste.name!r}: {what}(z, staircase) raised {type(exc).__name__}: {exc}; it must "
                        f"take a floating array z and a coarsegrad.Staircase") from exc
    if out.shape != z.shape:
        raise ValueError(f"STE {ste.name!r}: {what} returned shape {out.shape} for input of shape {z.shape}; "
                         f"it must be vectorized (elementwise)")
    if out.dtype.kind not in "biuf":
        raise TypeError(f"STE {ste.name!r}: {what} returned dtype {out.dtype}; it must return real numbers")
    return out


def kinks_z(ste: STE, staircase: Staircase) -> np.ndarray:
    """The ``z`` where ``mu'`` may be non-smooth: ``ste.kink_points(staircase)``, or else ``0``, ``L alpha``
    and the finite ends of ``ste.pieces``."""
    if ste.kink_points is None:
        ends = [e for lo, hi, _ in ste.pieces(staircase) for e in (lo, hi)] if ste.pieces is not None else []
        return np.unique(np.array([0.0, staircase.top] + [float(e) for e in ends if np.isfinite(e)]))
    out = np.asarray(ste.kink_points(staircase), dtype=np.float64).ravel()
    if not np.all(np.isfinite(out)):
        raise ValueError(f"STE {ste.name!r}: kink_points({staircase}) = {out!r}; they must be finite numbers")
    return out


def pieces_value(pieces, z: np.ndarray) -> np.ndarray:
    """``mu'(z)`` as described by ``pieces``: ``value`` on each ``(lo, hi]``, 0 elsewhere."""
    out = np.zeros(np.shape(z))
    for lo, hi, value in pieces:
        out = np.where((z > lo) & (z <= hi), value, out)
    return out


def _check_pieces(ste: STE, staircase: Staircase, z: np.ndarray) -> None:
    """``pieces`` is a second description of ``mu'``: it must say the same, kinks included."""
    pieces = tuple(ste.pieces(staircase))
    for piece in pieces:
        if not isinstance(piece, (tuple, list)) or len(piece) != 3 or not piece[0] < piece[1]:
            raise ValueError(f"STE {ste.name!r}: pieces must be (lo, hi, value) with lo < hi; got {piece!r}")
    ends = np.array([e for lo, hi, _ in pieces for e in (lo, hi) if np.isfinite(e)])
    z = np.unique(np.concatenate([z, ends, np.nextafter(ends, -np.inf), np.nextafter(ends, np.inf)]))
    want = pieces_value(pieces, z)
    got = np.asarray(ste.mu_prime(z, staircase), dtype=np.float64)
    bad = got != want
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise ValueError(f"STE {ste.name!r}: pieces and mu_prime disagree at z = {float(z[i])!r} ({staircase}): "
                         f"mu_prime gives {float(got[i])!r}, pieces give {float(want[i])!r}. Fix one of them (pieces describe "
                         f"mu' as value on (lo, hi], 0 elsewhere)")


# --- the four built-in STEs -------------------------------------------------------------
# Each mu / mu_prime takes (z, staircase); z is a floating array, results keep its dtype.

def _identity_mu(z, staircase):
    return np.array(z, copy=True)


def _identity_mu_prime(z, staircase):
    return np.ones_like(z)


def _relu_mu(z, staircase):
    return np.maximum(z, 0)


def _relu_mu_prime(z, staircase):
    return (z > 0).astype(z.dtype)                        # mu'(0) = 0


def _clipped_relu_mu(z, staircase):
    return np.clip(z, 0, staircase.top).astype(z.dtype, copy=False)


def _clipped_relu_mu_prime(z, staircase):
    top = z.dtype.type(staircase.top)
    return ((z > 0) & (z <= top)).astype(z.dtype)        # closed at L*alpha, as the authors' code


def _log_tailed_mu(z, staircase):
    top = staircase.top
    tail = np.log1p(np.maximum(z - top, 0))               # log(z - L*alpha + 1) beyond the top
    return (np.clip(z, 0, top) + tail).astype(z.dtype, copy=False)


def _log_tailed_mu_prime(z, staircase):
    top = z.dtype.type(staircase.top)
    return np.where(z <= 0, 0, 1 / (1 + np.maximum(z - top, 0))).astype(z.dtype, copy=False)


IDENTITY = STE(
    "identity", _identity_mu, _identity_mu_prime,
    pieces=lambda staircase: ((-np.inf, np.inf, 1.0),),
    kinks="none: mu'(z) = 1 everywhere",
    reference="Bengio, Leonard, Courville 2013 ('straight-through'); Hinton's lectures 2012",
)
RELU = STE(
    "relu", _relu_mu, _relu_mu_prime,
    pieces=lambda staircase: ((0.0, np.inf, 1.0),),
    kinks="mu'(0) = 0",
    reference="Yin et al., ICLR 2019; Cai et al. 2017",
)
CLIPPED_RELU = STE(
    "clipped_relu", _clipped_relu_mu, _clipped_relu_mu_prime,
    pieces=lambda staircase: ((0.0, staircase.top, 1.0),),
    kinks="mu'(0) = 0, mu'(L*alpha) = 1 (interval (0, L*alpha] closed on the right, as the authors' code)",
    reference="Cai et al. 2017; Yin et al., ICLR 2019; Long, Yin, Xin 2021",
)
LOG_TAILED_RELU = STE(
    "log_tailed_relu", _log_tailed_mu, _log_tailed_mu_prime, smooth_between_kinks=True,
    kinks="mu'(0) = 0, mu'(L*alpha) = 1 (mu' is continuous at L*alpha)",
    reference="Cai et al. 2017, half-wave Gaussian quantization",
)

_BUILTIN = {s.name: s for s in (IDENTITY, RELU, CLIPPED_RELU, LOG_TAILED_RELU)}
#: Names of the built-in STEs, and of those among them that meet M1-M4: the one list every table,
#: figure and claim iterates over.
BUILTIN_STES = tuple(_BUILTIN)
ADMISSIBLE_STES = ("relu", "clipped_relu", "log_tailed_relu")
# The registry is the one piece of module state: users add STEs to it by name.
_REGISTRY: dict[str, STE] = dict(_BUILTIN)


def available_stes() -> tuple[str, ...]:
    """Names of the registered STEs, built-ins first."""
    return tuple(_REGISTRY)


def register_ste(name: str, mu: Callable, mu_prime: Callable, *, pieces: Callable | None = None,
                 smooth_between_kinks: bool = False, kinks: str = "", reference: str = "",
                 kink_points: Callable | None = None, overwrite: bool = False) -> STE:
    """Register an STE under ``name`` and return it.

    Parameters
    ----------
    name : str
        Registry key; must not clash with an existing name unless ``overwrite``.
    mu, mu_prime : callable ``(z, staircase) -> ndarray``
        Vectorized proxy and its derivative (same shape as ``z``).
    pieces, smooth_between_kinks, kinks, reference, kink_points
        As in :class:`STE`.
    overwrite : bool
        Replace a user STE of the same name. Built-ins cannot be replaced.

    Returns
    -------
    STE
    """
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in STE and cannot be replaced; choose another name")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an STE named {name!r} is already registered; pass overwrite=True to replace it")
    ste = STE(name, mu, mu_prime, pieces=pieces, smooth_between_kinks=smooth_between_kinks, kinks=kinks,
              reference=reference, kink_points=kink_points)
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
    """Resolve a name, an :class:`STE`, a ``(name, mu, mu_prime)`` triple or a ``(mu, mu_prime)`` pair.

    A pair is named after its ``mu_prime`` (``"custom:<function name>"``); give a triple, or
    register the STE, to choose the name that tables and figures show.

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
    if isinstance(ste, tuple) and len(ste) == 3 and isinstance(ste[0], str) and all(map(callable, ste[1:])):
        return STE(ste[0], ste[1], ste[2])
    if isinstance(ste, tuple) and len(ste) == 2 and all(callable(f) for f in ste):
        return STE(f"custom:{getattr(ste[1], '__name__', 'mu_prime')}", ste[0], ste[1])
    raise TypeError(
        f"ste must be a registered name ({', '.join(_REGISTRY)}), an STE, a triple (name, mu, mu_prime) or a "
        f"pair (mu, mu_prime) of callables (z, staircase) -> array; got {ste!r}"
    )


def evaluate(ste, z, staircase: Staircase, *, derivative: bool = False) -> np.ndarray:
    """``mu(z)`` (or ``mu'(z)`` with ``derivative=True``) of ``ste``, with its inputs checked.

    Parameters
    ----------
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
    z : array_like, any shape
    staircase : Staircase

    Returns
    -------
    ndarray, same shape and floating dtype as ``z``
    """
    ste = get_ste(ste)
    z = as_float_array(z, "z", allow_empty=True)
    return _call(ste, "mu_prime" if derivative else "mu", z, check_staircase(staircase))


def check_staircase(staircase, name: str = "staircase") -> Staircase:
    """Return ``staircase`` after checking it is a :class:`~coarsegrad.quant.Staircase`."""
    if not isinstance(staircase, Staircase):
        raise TypeError(f"{name} must be a coarsegrad.Staircase, e.g. Staircase(bits=2, alpha=0.5); "
                        f"got {staircase!r} of type {type(staircase).__name__}")
    return staircase


# --- admissibility -------------------------------------------------------------------------

CONDITIONS = {
    "M1": "mu' >= 0 (mu non-decreasing)",
    "M2": "mu'(z) = 0 for z < 0",
    "M3": "mu' > 0 on (0, L*alpha), the span of the positive thresholds up to the top level",
    "M4": "mu' non-increasing on (0, inf)",
}


@dataclass(frozen=True)
class Admissibility:
    """Which of the monotonicity conditions M1-M4 an STE meets on a test grid (frozen, hashable).

    Attributes
    ----------
    ste : str
    staircase : Staircase
    violated : tuple of str
        Names of the failed conditions, e.g. ``("M2",)``.
    witnesses : tuple of (str, float)
        For each failed condition, a ``z`` (or the left end of a pair) where it fails.
    """

    ste: str
    staircase: Staircase
    violated: tuple
    witnesses: tuple

    @property
    def admissible(self) -> bool:
        """True when all four conditions hold on the grid."""
        return not self.violated

    @property
    def passed(self) -> dict:
        """``{"M1": bool, ..., "M4": bool}``."""
        return {k: k not in self.violated for k in CONDITIONS}

    def witness(self, condition: str) -> float:
        """The ``z`` at which ``condition`` fails (``KeyError`` if it holds)."""
        return dict(self.witnesses)[condition]


def admissibility_grid(staircase: Staircase, n: int = 4001) -> np.ndarray:
    """The points at which :func:`check_admissible` tests ``mu'``.

    A uniform grid on ``[-4 L alpha, 4 L alpha]`` plus every threshold and level and their two
    floating-point neighbours, and a log-spaced tail up to ``1e6 L alpha`` on both sides. Sorted, float64.
    """
    top = staircase.top
    marks = np.concatenate([staircase.thresholds, staircase.levels])
    near = np.concatenate([marks, np.nextafter(marks, -np.inf), np.nextafter(marks, np.inf)])
    tail = top * np.logspace(0, 6, 200)
    grid = np.concatenate([np.linspace(-4 * top, 4 * top, n), near, tail, -tail])
    return np.unique(grid)


def check_admissible(ste, staircase: Staircase = Staircase()) -> Admissibility:
    """Test the monotonicity conditions M1-M4 for ``mu'`` on :func:`admissibility_grid`.

    (M1) ``mu'(z) >= 0``; (M2) ``mu'(z) = 0`` for ``z < 0``; (M3) ``mu'(z) > 0`` for
    ``0 < z < L alpha``; (M4) ``mu'(z1) >= mu'(z2)`` for ``0 < z1 < z2``.

    A grid check can only refute: a violation reported here is real (the witness
    shows it); a pass means none was found on the grid.

    Parameters
    ----------
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
    staircase : Staircase
        Default ``Staircase(bits=2, alpha=1.0)``.

    Returns
    -------
    Admissibility
    """
    ste = get_ste(ste)
    staircase = check_staircase(staircase)
    z = admissibility_grid(staircase)
    d = evaluate(ste, z, staircase, derivative=True)
    if not np.all(np.isfinite(d)):
        raise ValueError(f"STE {ste.name!r}: mu_prime returned non-finite values, e.g. at z = {z[~np.isfinite(d)][0]}")
    top = staircase.top
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
    violated = tuple(k for k, v in fails.items() if v.any())
    # The witness nearest to 0 is the most telling one (e.g. mu'(-tiny) != 0 for M2).
    witnesses = tuple((k, float(z[fails[k]][np.argmin(np.abs(z[fails[k]]))])) for k in violated)
    return Admissibility(ste.name, staircase, violated, witnesses)
