"""The machinery every claim shares: :class:`Check`, :class:`ClaimResult`, the preset table and
the ``@claim`` wrapper that gives every claim the signature ``claim_N(preset="quick", seed=0, **oracles)``.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field

import numpy as np

from .._checks import make_rng
from ..ste import ADMISSIBLE_STES, BUILTIN_STES

__all__ = ["Check", "ClaimResult", "PRESETS", "RELATIONS", "ADMISSIBLE", "ALL_STES", "claim"]

ADMISSIBLE = ADMISSIBLE_STES
ALL_STES = ADMISSIBLE + tuple(s for s in BUILTIN_STES if s not in ADMISSIBLE)

#: Sizes per preset, for every claim in one table (claim-specific keys carry the model's prefix:
#: ``sub_`` for claims 10-12, ``alpha_`` for claim 13). ``quick`` keeps ``coarsegrad verify --quick`` fast;
#: a preset a test adds (e.g. ``tiny``) takes every key it does not set from ``quick``.
PRESETS = {
    "quick": dict(mc_batches=100, mc_batch=1000, fd_configs=6, descent_configs=150,
                  descent_quad_every=10, gd_inits=2, gd_steps=4000, gd_bits=(1, 2, 4), sgd_samples=20000,
                  sgd_epochs=20, spurious_steps=2000, claim9=None,
                  sub_sets=((2, 2, 50, "sphere"), (3, (2, 3, 8), 60, "sphere"), (3, 3, 40, "gaussian"),
                            (4, 2, 30, "sphere")),
                  sub_minimizer_bits=(1, 2, 4),
                  sub_regime=((2, "ceil", 2, 8), (2, "round", 3, 12), (4, "round", 2, 8)),
                  sub_outside=((1, "ceil", 2, 8), (1, "round", 2, 4, "clipped_relu"), (2, "round", 3, 4)),
                  sub_seeds=3, sub_n=50, sub_test=500, sub_steps=1000, sub_stuck_steps=200, sub_slow_fast_runs=30,
                  sub_slow_fast_seeds=40, sub_slow_fast_steps=600, sub_wendel=((4, 2), (8, 2), (6, 3)), sub_wendel_inits=60,
                  limit_configs=1, limit_sample_bits=tuple(range(1, 13)), limit_population_bits=tuple(range(1, 8)),
                  alpha_configs=24, alpha_joint_bits=(1,), alpha_joint_inits=1, alpha_joint_steps=800,
                  alpha_counterexample=False),
    "full": dict(mc_batches=200, mc_batch=5000, fd_configs=30, descent_configs=2000,
                 descent_quad_every=5, gd_inits=6, gd_steps=8000, gd_bits=(1, 2, 4), sgd_samples=40000,
                 sgd_epochs=30, spurious_steps=4000,
                 claim9=dict(bits=(1, 2, 4), syn_samples=600, syn_hidden=128, syn_epochs=200, syn_seeds=2,
                             mnist_train=4000, mnist_test=2000, mnist_hidden=128, mnist_epochs=6),
                 sub_sets=((2, 2, 50, "sphere"), (3, (2, 3, 8), 60, "sphere"), (3, 3, 40, "gaussian"),
                           (4, 2, 30, "sphere"), (5, (1, 2, 3, 4, 5), 80, "sphere"), (3, 8, 100, "gaussian")),
                 sub_minimizer_bits=(1, 2, 3, 4),
                 sub_regime=((2, "ceil", 2, 8), (2, "round", 2, 8), (4, "ceil", 2, 8), (4, "round", 2, 8),
                             (2, "ceil", 3, 12), (2, "round", 3, 12), (4, "round", 3, 12)),
                 sub_outside=((1, "ceil", 2, 8), (1, "ceil", 3, 16), (2, "round", 2, 4), (2, "round", 3, 6),
                              (2, "round", 2, 2), (1, "round", 2, 4, "clipped_relu"), (1, "round", 2, 8, "clipped_relu")),
                 sub_seeds=10, sub_n=50, sub_test=1000, sub_steps=2000, sub_stuck_steps=1000, sub_slow_fast_runs=100,
                 sub_slow_fast_seeds=150, sub_slow_fast_steps=1000,
                 sub_wendel=((4, 2), (8, 2), (6, 3), (12, 3), (16, 8)), sub_wendel_inits=400,
                 limit_configs=4, limit_sample_bits=tuple(range(1, 13)), limit_population_bits=tuple(range(1, 9)),
                 alpha_configs=200, alpha_joint_bits=(1, 2, 4), alpha_joint_inits=3, alpha_joint_steps=3000,
                 alpha_counterexample=True),
}


#: The relations a :class:`Check` can state: judged ones, ``report`` (shown, not judged) and
#: ``skipped`` (not measured at this preset; the quantity says why).
RELATIONS = ("<", "<=", ">", ">=", "==", "report", "skipped")


@dataclass(frozen=True)
class Check:
    """One measured figure and the relation it must satisfy.

    ``relation`` is one of ``<``, ``<=``, ``>``, ``>=``, ``==``, ``report`` (shown, not judged) or
    ``skipped`` (not measured at this preset; ``quantity`` says why). A judged check whose value is
    not finite (NaN, +-inf) fails whatever the relation: NaN compares false with everything, so a
    ``!=``-style test would pass it, and an infinite value is no measurement (e.g. the minimum
    over an empty set of cases).
    """

    quantity: str
    value: float
    relation: str
    threshold: float | None = None

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {', '.join(RELATIONS)}; got {self.relation!r}")

    @property
    def finite(self) -> bool:
        """Whether the value is a finite number."""
        try:
            return bool(np.all(np.isfinite(np.asarray(self.value, dtype=np.float64))))
        except (TypeError, ValueError):
            return False

    @property
    def passed(self) -> bool | None:
        """Whether ``value relation threshold`` holds with a finite value; ``None`` for ``report``
        and ``skipped`` rows."""
        if self.relation in ("report", "skipped"):
            return None
        if not self.finite:
            return False
        v, t = self.value, self.threshold
        return bool({"<": lambda: v < t, "<=": lambda: v <= t, ">": lambda: v > t, ">=": lambda: v >= t,
                     "==": lambda: v == t}[self.relation]())

    @property
    def verdict(self) -> str:
        """``pass``, ``FAIL``, ``FAIL (non-finite)``, ``(report)`` or ``(skipped)``: what the tables print."""
        if self.relation in ("report", "skipped"):
            return f"({self.relation})"
        if not self.finite:
            return "FAIL (non-finite)"
        return "pass" if self.passed else "FAIL"


@dataclass(frozen=True)
class ClaimResult:
    """The evidence for one claim."""

    number: int
    title: str
    setting: str
    checks: tuple
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """All judged checks hold (``report`` and ``skipped`` rows are not judged)."""
        return all(c.passed for c in self.checks if c.passed is not None)

    @property
    def skipped(self) -> bool:
        """The claim was not run at this preset (every row is ``skipped``)."""
        return bool(self.checks) and all(c.relation == "skipped" for c in self.checks)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"number": self.number, "title": self.title, "setting": self.setting, "passed": self.passed,
                "skipped": self.skipped, "seconds": self.seconds,
                "checks": [dict(quantity=c.quantity, value=c.value, relation=c.relation, threshold=c.threshold,
                                passed=c.passed, verdict=c.verdict) for c in self.checks],
                "details": _jsonable(self.details)}


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


def _preset(preset: str) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    return {**PRESETS["quick"], **PRESETS[preset]}


def claim(fn):
    """``claim_N(preset="quick", seed=0, **oracles)`` from ``fn(cfg, rng, **oracles)``.

    The oracles are the library functions a claim checks, passed by keyword so that a test can
    substitute a deliberately wrong implementation and see the claim fail (a negative control).
    """
    def wrapper(preset: str = "quick", seed: int = 0, **oracles) -> ClaimResult:
        start = time.perf_counter()
        result = fn(_preset(preset), make_rng(seed), **oracles)
        return ClaimResult(**{**result.__dict__, "seconds": time.perf_counter() - start})
    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
    # The signature users call: (preset, seed, *, <the oracles with their library defaults>).
    P = inspect.Parameter
    wrapper.__signature__ = inspect.Signature(
        [P("preset", P.POSITIONAL_OR_KEYWORD, default="quick", annotation="str"),
         P("seed", P.POSITIONAL_OR_KEYWORD, default=0, annotation="int")]
        + [p for p in inspect.signature(fn).parameters.values() if p.kind is P.KEYWORD_ONLY],
        return_annotation="ClaimResult")
    return wrapper
