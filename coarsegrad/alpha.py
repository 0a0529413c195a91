r"""Learnable resolution: rules for ``d sigma / d alpha``, the alpha-gradient of the staircase.

``sigma(z; alpha) = alpha n(z / alpha)`` with ``n`` integer-valued, so the sample loss is piecewise
*smooth* in ``alpha``: off the thresholds ``d sigma / d alpha = n(z / alpha)`` exactly. Training
``alpha`` with the weights (PACT, LSQ, the authors' blended coarse gradient descent code) needs a
rule ``r(z) ~ d sigma / d alpha``; the coarse ``alpha``-gradient is the chain rule with ``r`` in that
place (:func:`coarsegrad.nets.ts_alpha_grad`, :func:`coarsegrad.nets.mlp_alpha_grad`).

Four rules are built in, from the authors' code (``penhunt/full-quantization-DNN``,
``nets/quant_uni_type.py``, SPEC §9). Each is a step function of ``z``; on ``(0, L alpha]``:

==========  ==============================================  =============================
name        ``r(z)`` on ``(0, L alpha]``                    value at ``z = L alpha``
==========  ==============================================  =============================
``ae``      ``n(z / alpha) = #{k : z > t_k}`` (exact a.e.)  ``L``
``pact``    ``0``                                           ``0``
``min``     ``1``                                           ``1``
``mean``    ``(L + 1) / 2`` (the authors' default)          ``(L + 1) / 2``
==========  ==============================================  =============================

and for every rule ``r(z) = L`` for ``z > L alpha`` and ``r(z) = 0`` for ``z <= 0`` (so ``r(0) = 0``:
the kink at 0 belongs to the zero side, the kink at ``L alpha`` to the inside, as in the authors'
code, whose intervals are ``input > 0`` and ``input <= a * level``). ``ae`` is
:meth:`Staircase.d_alpha` for either convention: with ``round`` it counts ``z > (k - 1/2) alpha``.

A rule is an :class:`AlphaRule`: a name and its *jumps* -- positions ``0 <= p_j <= L alpha`` and heights
``h_j`` with ``sum_j h_j = L`` -- so that

.. math::

    r(z) = \sum_j h_j\, \mathbf 1\{z > p_j\}.

That one description serves the networks (vectorized evaluation) and the exact Gaussian
expectations (:mod:`coarsegrad.population.alpha`, closed forms in ``Qbar`` and ``Phi2``). Add your own
with :func:`register_alpha_rule`; every rule is checked to be 0 at and below 0 and ``L`` above
``L alpha``. Rules that are not step functions are not supported (their population expectation
would need quadrature).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._checks import as_float_array
from .quant import CONVENTIONS, MAX_BITS, Staircase

__all__ = ["AlphaRule", "ALPHA_RULES", "AUTHORS_INITIAL_ALPHA", "get_alpha_rule", "register_alpha_rule", "unregister_alpha_rule",
           "available_alpha_rules", "AE", "PACT", "MIN", "MEAN"]


#: The authors' initial resolution per bit-width (``bit_alpha`` in ``nets/quant_uni_type.py`` of
#: penhunt/full-quantization-DNN); defined there for 1, 2 and 4 bits only (docs/paper-notes.md, A1).
AUTHORS_INITIAL_ALPHA = {1: 1.2221, 2: 0.6511, 4: 0.1946}


@dataclass(frozen=True)
class AlphaRule:
    r"""A rule for ``d sigma / d alpha``: ``r(z) = sum_j h_j 1{z > p_j}``.

    Parameters
    ----------
    name : str
        Name used in tables, figures, the CLI and the registry.
    jumps : callable ``(staircase, dtype) -> (positions, heights)``
        Positions ``p_j`` (shape ``(J,)``, in ``[0, L alpha]``, in ``dtype`` so that comparisons with
        ``z`` use exactly these numbers) and heights ``h_j`` (shape ``(J,)``, summing to ``L``).
    kinks : str
        The values at ``z = 0`` and ``z = L alpha``, in words.
    reference : str
        Where the rule comes from.

    Calling the rule, ``rule(z, staircase)``, returns ``r(z)`` with the shape and floating dtype of ``z``.
    """

    name: str
    jumps: Callable
    kinks: str = ""
    reference: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"an alpha rule needs a non-empty name (str); got {self.name!r}")
        if not callable(self.jumps):
            raise TypeError(f"alpha rule {self.name!r}: jumps must be a callable (staircase, dtype) -> "
                            f"(positions, heights); got {self.jumps!r}")
        for stair in _PROBE_STAIRCASES:
            self.jumps_of(stair)

    def jumps_of(self, staircase: Staircase, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
        """Checked ``(positions, heights)`` of this rule at ``staircase``, positions in ``dtype``."""
        dtype = np.dtype(dtype)
        contract = "jumps(staircase, dtype) must return (positions, heights), two sequences of real numbers"
        try:
            out = self.jumps(staircase, dtype)
        except Exception as exc:
            raise TypeError(f"alpha rule {self.name!r}: jumps({staircase}, {dtype}) raised {type(exc).__name__}: "
                            f"{exc}; {contract}") from exc
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"alpha rule {self.name!r}: jumps({staircase}, {dtype}) returned {out!r}; {contract}")
        try:
            p = np.asarray(out[0], dtype=dtype).ravel()
            h = np.asarray(out[1], dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise TypeError(f"alpha rule {self.name!r}: jumps({staircase}, {dtype}) returned {out!r} ({exc}); "
                            f"{contract}") from None
        top = dtype.type(staircase.L) * dtype.type(staircase.alpha)
        if p.shape != h.shape:
            raise ValueError(f"alpha rule {self.name!r}: {p.size} positions but {h.size} heights at {staircase}")
        if not np.all(np.isfinite(h)):
            raise ValueError(f"alpha rule {self.name!r}: heights must be finite numbers; got {h.tolist()} at {staircase}")
        if not (np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= top)):
            raise ValueError(f"alpha rule {self.name!r}: positions must be finite and lie in [0, L alpha] = "
                             f"[0, {top!r}] (so the rule is 0 for z <= 0); got {p.tolist()} at {staircase}")
        if not np.isclose(np.sum(h), staircase.L, rtol=1e-12, atol=0.0):
            raise ValueError(f"alpha rule {self.name!r}: heights sum to {float(np.sum(h))!r} but must sum to L = "
                             f"{staircase.L} (every rule gives L for z > L alpha) at {staircase}")
        return p, h

    def __call__(self, z, staircase: Staircase) -> np.ndarray:
        r"""``r(z) = sum_j h_j 1{z > p_j}``: the rule's ``d sigma / d alpha`` at ``z`` (any shape)."""
        z = as_float_array(z, "z", allow_empty=True)
        return self._apply(z, staircase)

    def _apply(self, z: np.ndarray, staircase: Staircase) -> np.ndarray:
        """Unchecked evaluation (hot path): ``z`` is a finite floating array."""
        p, h = self.jumps_of(staircase, z.dtype)
        out = np.zeros_like(z)
        for p_j, h_j in zip(p, h):
            out += z.dtype.type(h_j) * (z > p_j)
        return out

    def __repr__(self) -> str:
        return f"AlphaRule({self.name!r})"


def _top(staircase, dtype):
    return np.dtype(dtype).type(staircase.L) * np.dtype(dtype).type(staircase.alpha)


def _ae_jumps(staircase, dtype):
    return staircase.thresholds_in(dtype), np.ones(staircase.L)


def _pact_jumps(staircase, dtype):
    return np.array([_top(staircase, dtype)]), np.array([float(staircase.L)])


def _min_jumps(staircase, dtype):
    return np.array([0.0, _top(staircase, dtype)]), np.array([1.0, staircase.L - 1.0])


def _mean_jumps(staircase, dtype):
    inside = (staircase.L + 1) / 2
    return np.array([0.0, _top(staircase, dtype)]), np.array([inside, staircase.L - inside])


#: Staircases every new rule is checked on: every bit-width up to MAX_BITS, both conventions (a rule wrong
#: at one bit-width only is caught where it enters).
_PROBE_STAIRCASES = tuple(Staircase(bits, (1.0, 0.3, 0.7)[bits % 3], convention)
                          for bits in range(1, MAX_BITS + 1) for convention in CONVENTIONS)

AE = AlphaRule("ae", _ae_jumps,
               kinks="r(0) = 0 (ceil: 0 is the first threshold, not exceeded); r(L alpha) = L",
               reference="exact a.e. derivative n(z/alpha) = Staircase.d_alpha; authors' code gd_type='ae'")
PACT = AlphaRule("pact", _pact_jumps, kinks="r(0) = 0, r(L alpha) = 0 (only z > L alpha counts)",
                 reference="Choi et al. 2018 (PACT); authors' code gd_type='pact'")
MIN = AlphaRule("min", _min_jumps, kinks="r(0) = 0, r(L alpha) = 1",
                reference="authors' code gd_type='min'")
MEAN = AlphaRule("mean", _mean_jumps, kinks="r(0) = 0, r(L alpha) = (L + 1)/2",
                 reference="authors' code gd_type='mean' (its default)")

_BUILTIN = {r.name: r for r in (AE, PACT, MIN, MEAN)}
#: Names of the built-in rules, in the order tables and figures show them.
ALPHA_RULES = tuple(_BUILTIN)
_REGISTRY: dict[str, AlphaRule] = dict(_BUILTIN)


def available_alpha_rules() -> tuple[str, ...]:
    """Names of the registered rules, built-ins first."""
    return tuple(_REGISTRY)


def register_alpha_rule(name: str, jumps: Callable, *, kinks: str = "", reference: str = "",
                        overwrite: bool = False) -> AlphaRule:
    """Register a rule ``r(z) = sum_j h_j 1{z > p_j}`` under ``name`` and return it.

    Parameters
    ----------
    name : str
    jumps : callable ``(staircase, dtype) -> (positions, heights)``
        As in :class:`AlphaRule`; positions in ``[0, L alpha]``, heights summing to ``L``.
    kinks, reference : str
    overwrite : bool
        Replace a user rule of the same name (built-ins cannot be replaced).

    Examples
    --------
    >>> import numpy as np
    >>> from coarsegrad import Staircase
    >>> half = register_alpha_rule("half_top", lambda s, dt: ([s.top / 2], [float(s.L)]))
    >>> half(np.array([0.5, 1.6]), Staircase(2, 1.0))
    array([0., 3.])
    >>> unregister_alpha_rule("half_top")
    """
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in alpha rule and cannot be replaced; choose another name")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an alpha rule named {name!r} is already registered; pass overwrite=True to replace it")
    rule = AlphaRule(name, jumps, kinks=kinks, reference=reference)
    _REGISTRY[name] = rule
    return rule


def unregister_alpha_rule(name: str) -> None:
    """Remove a user-registered rule (built-ins stay)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in alpha rule and cannot be removed")
    if name not in _REGISTRY:
        raise KeyError(f"no alpha rule named {name!r} is registered; registered: {', '.join(_REGISTRY)}")
    del _REGISTRY[name]


def get_alpha_rule(rule) -> AlphaRule:
    """Resolve a registered name or an :class:`AlphaRule`.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the registered ones).
    TypeError
        For anything else.
    """
    if isinstance(rule, AlphaRule):
        return rule
    if isinstance(rule, str):
        try:
            return _REGISTRY[rule]
        except KeyError:
            raise ValueError(f"unknown alpha rule {rule!r}; registered rules are: {', '.join(_REGISTRY)} "
                             f"(add your own with coarsegrad.alpha.register_alpha_rule)") from None
    raise TypeError(f"an alpha rule must be a registered name ({', '.join(_REGISTRY)}) or an AlphaRule; got {rule!r}")
