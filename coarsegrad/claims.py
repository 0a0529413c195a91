r"""The claims of SPEC §5, each a function that runs its check and returns its evidence.

Each ``claim_N(preset, seed)`` returns a :class:`ClaimResult`: the setting, one or more
:class:`Check` rows (the measured figure, the relation and threshold it must meet, and
whether it did) and a ``details`` dict with the numbers behind them. ``coarsegrad verify``
prints them as a table and the tests assert on them, so the CLI and the test suite read
the same evidence.

1. the staircase: levels, thresholds, monotonicity;
2. the sample loss has zero gradient almost everywhere in the first layer;
3. exact ``m, q, c, f`` agree with Monte Carlo;
4. exact ``grad f`` agrees with finite differences of exact ``f``;
5. exact ``E g`` agrees with the Monte Carlo mean of sample coarse gradients;
6. descent: ``<E g, grad f> > 0`` for admissible STEs (``v = v*``), in the regime where
   it holds -- with the counterexamples outside it reported (docs/findings.md);
7. convergence of coarse gradient descent to the global minimum (population and samples);
8. the ICLR 2019 contrast: the identity STE is unstable at a spurious local minimum where
   the ReLU STE is stable;
9. admissible STEs train the quantized perceptron: perfect training classification of
   synthetic non-linear classes, MNIST-subset accuracy within a stated margin of float;
10. orthogonal-subspace data (SPEC §8) are not linearly separable (LP certificate), yet a
    constructed network classifies them perfectly with hinge loss 0;
11. full-batch coarse gradient descent reaches hinge loss 0 (a global minimum, perfect
    classification) from random initialization, in the regime :data:`SUBSPACE_REGIME`;
12. slow to fast: the step ``t*`` at which every class is covered, and the rates around it;
13. learnable ``alpha``: the bias of each alpha-gradient rule, and joint coarse gradient
    descent in ``(W, alpha)``.

Every claim takes the library functions it checks (its oracles) as keyword arguments with the
library's as defaults, so a test can pass a deliberately wrong one and see the claim fail.
Evidence is folded with NumPy (``np.max``, ``np.min``), so NaN propagates, and a non-finite
value fails its :class:`Check`.

Presets: ``quick`` (every claim but 9 in about a minute and a half on 2 cores; claim 9 is skipped,
with the reason shown) and ``full``.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field

import numpy as np

from . import subspaces as _sub
from ._checks import make_rng
from .alpha import ALPHA_RULES as _ALPHA_RULES
from .estimators import Estimate, cosine, finite_difference, monte_carlo, z_scores
from .nets import mlp_forward, mlp_init, mlp_loss, ts_coarse_grad, ts_forward, ts_loss
from .population.alpha import (expected_alpha_grad as _expected_alpha_grad, joint_descent as _joint_descent,
                               joint_population_grad as _joint_population_grad)
from .population import (Teacher, expected_coarse_grad, moment_c, moment_m, moment_q,
                         population_grad, population_loss, random_teacher)
from .quant import Staircase
from .ste import ADMISSIBLE_STES, BUILTIN_STES, check_admissible
from .train import SGD, default_population_lr, mlp_train, population_descent, ts_sgd

__all__ = ["Check", "ClaimResult", "PRESETS", "CLAIMS", "run_claims", "descent_regime",
           "claim_1", "claim_2", "claim_3", "claim_4", "claim_5", "claim_6", "claim_7", "claim_8", "claim_9",
           "ADMISSIBLE", "RELU_OVERSHOOT_COUNTEREXAMPLE", "ANTIPODAL_WEDGE_COUNTEREXAMPLE",
           "claim_10", "claim_11", "claim_12", "SUBSPACE_REGIME", "subspace_regime", "claim_13"]

ADMISSIBLE = ADMISSIBLE_STES
ALL_STES = ADMISSIBLE + tuple(s for s in BUILTIN_STES if s not in ADMISSIBLE)

#: Sizes per preset. ``quick`` keeps ``coarsegrad verify --quick`` under a minute on 2 cores.
PRESETS = {
    "quick": dict(mc_batches=100, mc_batch=1000, fd_configs=6, descent_configs=150,
                  descent_quad_every=10, gd_inits=2, gd_steps=4000, gd_bits=(1, 2, 4), sgd_samples=20000,
                  sgd_epochs=20, spurious_steps=4000, claim9=None),
    "full": dict(mc_batches=200, mc_batch=5000, fd_configs=30, descent_configs=2000,
                 descent_quad_every=5, gd_inits=6, gd_steps=8000, gd_bits=(1, 2, 4), sgd_samples=40000,
                 sgd_epochs=30, spurious_steps=4000,
                 claim9=dict(bits=(1, 2, 4), syn_samples=600, syn_hidden=128, syn_epochs=200, syn_seeds=2,
                             mnist_train=4000, mnist_test=2000, mnist_hidden=128, mnist_epochs=6)),
}

#: Thresholds, each with its reason.
MC_Z = 4.0          # |z| of a projection of an exact expectation against its Monte Carlo estimate
FD_RTOL = 1e-6      # relative error of grad f against central differences of f
GD_TOL = 1e-8       # coarse gradient descent must bring f below this fraction of f(initial)
SGD_AGREEMENT = 0.995  # held-out agreement with the teacher's labels after stochastic training
THETA_MAX = 0.75 * np.pi  # the descent regime's angle bound (docs/findings.md)
#: Claim 9: largest drop of MNIST-subset test accuracy from the float ReLU net to the quantized net
#: trained the same way, per bit-width. Measured at the full preset (docs/findings.md): gaps 1.9, 0.35
#: and 0.20 points at bits 1, 2, 4; one standard error of a difference is about 0.8 points there.
MNIST_MARGIN = {1: 0.04, 2: 0.015, 4: 0.015}


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
    return PRESETS[preset]


def _timed(fn):
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


def _sample_Z(rng, N, teacher):
    return rng.standard_normal((N, teacher.p, teacher.n))


def _random_config(rng, *, bits=None, K=None, v_positive=False):
    """A random teacher and a random student first layer of comparable scale."""
    bits = int(rng.integers(1, 5)) if bits is None else bits
    n, p = int(rng.integers(2, 7)), int(rng.integers(1, 6))
    K = int(rng.integers(1, 4)) if K is None else K
    alpha = float(np.exp(rng.uniform(-1.5, 1.0)))
    v_star = rng.standard_normal(p)
    if v_positive:
        v_star = np.abs(v_star) + 0.05
    teacher = random_teacher(n, p, K, Staircase(bits, alpha), rng, v_star=v_star)
    scale = np.exp(rng.uniform(-1.5, 1.5))
    W = rng.standard_normal((n, K)) * scale * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(n)
    return teacher, W


# =========================================================================================
# 1. The staircase
# =========================================================================================

@_timed
def claim_1(cfg, rng, *, staircase=Staircase) -> ClaimResult:
    """sigma takes only the levels, is non-decreasing, and jumps exactly at k alpha.

    ``staircase(bits, alpha)`` builds the ``sigma`` under test; the thresholds ``k alpha``
    (``k = 0 .. L-1``) and levels it is compared with are built here, independently of it.
    """
    mismatches = not_levels = decreases = jump_errors = 0
    cases = 0
    for bits in range(1, 9):
        for alpha in (1.0, 0.1, 0.3, 1 / 3, float(np.exp(rng.uniform(-3, 3)))):
            for dtype in (np.float64, np.float32):
                sigma = staircase(bits, alpha)
                L = 2 ** bits - 1
                t = np.arange(L, dtype=dtype) * dtype(alpha)          # alpha rounded once, as sigma must
                lv = np.arange(L + 1, dtype=dtype) * dtype(alpha)
                z = np.sort(np.concatenate([
                    (rng.standard_normal(4000) * L * alpha + L * alpha / 2).astype(dtype),
                    t, np.nextafter(t, dtype(np.inf)), np.nextafter(t, dtype(-np.inf))]))
                s = sigma(z)
                definition = dtype(alpha) * (z[:, None] > t[None, :]).sum(axis=1).astype(dtype)
                mismatches += int(np.sum(s != definition))
                not_levels += int(np.sum(~np.isin(s, lv)))
                decreases += int(np.sum(np.diff(s) < 0))
                jump_errors += int(np.sum(sigma(t) != lv[:-1]))
                jump_errors += int(np.sum(sigma(np.nextafter(t, dtype(np.inf))) != lv[1:]))
                cases += 1
    return ClaimResult(1, "staircase sigma: levels, thresholds, monotone",
                       f"bits 1..8 x 5 resolutions x float64/float32 ({cases} cases), inputs at and around every threshold",
                       (Check("values differing from alpha * #{k: z > k alpha}", mismatches, "==", 0),
                        Check("values outside {0, alpha, ..., L alpha}", not_levels, "==", 0),
                        Check("decreases along sorted inputs", decreases, "==", 0),
                        Check("wrong values at / just above thresholds", jump_errors, "==", 0)),
                       dict(cases=cases))


# =========================================================================================
# 2. Zero gradient almost everywhere
# =========================================================================================

@_timed
def claim_2(cfg, rng, *, ts_forward=ts_forward, mlp_forward=mlp_forward) -> ClaimResult:
    """Central differences of the quantized sample loss in the first layer are exactly 0.

    ``ts_forward`` and ``mlp_forward`` are the forward passes under test (their ``.y`` / ``.f``)."""
    diffs = []
    for bits in (1, 2, 4):
        teacher, W = _random_config(rng, bits=bits)
        Z = _sample_Z(rng, 200, teacher)
        stair = teacher.staircase
        y_star = ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
        # validate=False: a NaN output must become failing evidence, not an exception
        loss = lambda W_: ts_loss(ts_forward(Z, teacher.v_star, W_, stair).y, y_star, validate=False)[0]
        h = 1e-9 * np.abs(W).max()
        for idx in np.ndindex(W.shape):
            E = np.zeros_like(W)
            E[idx] = h
            diffs.append((loss(W + E) - loss(W - E)) / (2 * h))
        params = mlp_init(6, 20, 3, rng, staircase=stair)
        x = rng.standard_normal((200, 6))
        labels = rng.integers(0, 3, 200)
        mloss = lambda W_: mlp_loss(mlp_forward(x, params._replace(W=W_), stair).f, labels, validate=False)[0]
        for idx in list(np.ndindex(params.W.shape))[::4]:
            E = np.zeros_like(params.W)
            E[idx] = 1e-9
            diffs.append((mloss(params.W + E) - mloss(params.W - E)) / 2e-9)
    diffs = np.asarray(diffs, dtype=np.float64)
    total, nonzero, largest = diffs.size, np.count_nonzero(diffs), np.max(np.abs(diffs))   # NaN counts, and propagates
    return ClaimResult(2, "sample loss has zero gradient a.e. in the first layer",
                       f"teacher-student and perceptron, bits 1, 2, 4, random weights, {total} coordinates, step 1e-9",
                       (Check("coordinates with a non-zero central difference", int(nonzero), "==", 0),
                        Check("largest |central difference|", largest, "==", 0.0)),
                       dict(coordinates=total))


# =========================================================================================
# 3. Moments and loss against Monte Carlo
# =========================================================================================

def _ts_mc(teacher, W, ste, cfg, rng, v=None):
    """Monte Carlo of (m, q, c, f) and of the coarse gradient at (v, W), batch means."""
    v = teacher.v_star if v is None else v
    stair = teacher.staircase

    def statistic(Z):
        fwd = ts_forward(Z, v, W, stair, validate=False)
        fs = ts_forward(Z, teacher.v_star, teacher.W_star, stair, validate=False)
        s, s_star = fwd.sigma_h[:, 0, :], fs.sigma_h[:, 0, :]          # row 0: one z per sample
        loss, e = ts_loss(fwd.y, fs.y, validate=False)
        out = [s.mean(0), (s * s).mean(0), (s * s_star).mean(0), [loss]]
        if ste is not None:
            out.append(ts_coarse_grad(Z, v, fwd, e, ste, stair, validate=False).W.ravel())
        return np.concatenate([np.ravel(o) for o in out])

    return monte_carlo(statistic, lambda g: _sample_Z(g, cfg["mc_batch"], teacher), cfg["mc_batches"], rng)


@_timed
def claim_3(cfg, rng, *, moment_m=moment_m, moment_q=moment_q, moment_c=moment_c,
            population_loss=population_loss) -> ClaimResult:
    """Exact m, q, c and f lie within 4 standard errors of Monte Carlo (the four are the oracles)."""
    worst, rows = [], []
    for bits in (1, 2, 3, 4):
        teacher, W = _random_config(rng, bits=bits)
        K = teacher.K
        est = _ts_mc(teacher, W, None, cfg, rng)
        stair = teacher.staircase
        exact = np.concatenate([moment_m(W, stair), moment_q(W, stair), moment_c(W, teacher.W_star, stair),
                                [population_loss(teacher, teacher.v_star, W)]])
        z = np.abs(z_scores(est, exact))
        worst.append(np.max(z))
        rows.append(dict(bits=bits, K=K, max_z=float(np.max(z)), f_exact=exact[-1], f_mc=float(est.mean[-1]),
                         f_se=float(est.stderr[-1])))
    n = cfg["mc_batches"] * cfg["mc_batch"]
    return ClaimResult(3, "exact m, q, c, f agree with Monte Carlo",
                       f"bits 1-4, random teacher and student, {n} samples each",
                       (Check("max |exact - MC| / standard error", float(np.max(worst)), "<=", MC_Z),),
                       dict(configs=rows))


# =========================================================================================
# 4. Exact gradient against finite differences
# =========================================================================================

@_timed
def claim_4(cfg, rng, *, loss=population_loss, grad=population_grad) -> ClaimResult:
    """Exact grad f agrees with central differences of exact f (relative error < 1e-6).

    ``loss(teacher, v, W)`` and ``grad(teacher, v, W) -> (grad_v, grad_W)`` are the oracles."""
    worst, rows = [], []
    while len(rows) < cfg["fd_configs"]:
        teacher, W = _random_config(rng)
        v = teacher.v_star + 0.3 * rng.standard_normal(teacher.p)
        gv, gW = grad(teacher, v, W)
        h = 1e-4 * np.linalg.norm(W) / np.sqrt(W.size)
        fd = finite_difference(lambda X: loss(teacher, v, X), W, h=h, order=4)
        err = float(np.linalg.norm(fd - gW) / np.linalg.norm(gW))
        worst.append(err)
        rows.append(dict(bits=teacher.staircase.bits, n=teacher.n, K=teacher.K, rel_err=err))
    return ClaimResult(4, "exact grad f agrees with finite differences of exact f",
                       f"{len(rows)} random (v, W, teacher), bits 1-4, 4th-order central differences",
                       (Check("max ||FD - grad f|| / ||grad f||", float(np.max(worst)), "<", FD_RTOL),),
                       dict(configs=rows))


# =========================================================================================
# 5. Expected coarse gradient against Monte Carlo
# =========================================================================================

@_timed
def claim_5(cfg, rng, *, expected_coarse_grad=expected_coarse_grad) -> ClaimResult:
    """Exact E g agrees with the Monte Carlo mean of sample coarse gradients (4 standard errors).

    ``expected_coarse_grad(teacher, v, W, ste) -> (E g_v, E g_W)`` is the oracle."""
    worst, rows = [], {}
    for ste in ALL_STES:
        for bits in (1, 3):
            teacher, W = _random_config(rng, bits=bits)
            v = teacher.v_star + 0.3 * rng.standard_normal(teacher.p)
            est = _ts_mc(teacher, W, ste, cfg, rng, v=v)
            start = 3 * teacher.K + 1
            mc = Estimate(est.mean[start:], est.stderr[start:], est.n)
            exact = expected_coarse_grad(teacher, v, W, ste)[1].ravel()
            z = float(np.max(np.abs(z_scores(mc, exact))))
            worst.append(z)
            rows[f"{ste}, bits={bits}"] = z
    n = cfg["mc_batches"] * cfg["mc_batch"]
    return ClaimResult(5, "exact E[g] agrees with Monte Carlo of sample coarse gradients",
                       f"4 STEs x bits 1, 3, random (v, W), {n} samples each, every coordinate",
                       (Check("max |exact - MC| / standard error", float(np.max(worst)), "<=", MC_Z),),
                       dict(max_z=rows))


# =========================================================================================
# 6. Descent
# =========================================================================================

def descent_regime(teacher: Teacher, W, ste: str) -> bool:
    r"""Whether ``(teacher, W)`` lies in the regime where claim 6 was found to hold for ``ste``.

    With ``v = v*``: every ``w_k != 0`` and ``angle(w_k, w*_k) <= 3 pi / 4``; for ``bits = 1``
    any angle ``< pi`` will do; and for ``relu`` also ``(sum v*)^2 >= |v*|^2``. Outside it
    counterexamples exist (:data:`RELU_OVERSHOOT_COUNTEREXAMPLE`,
    :data:`ANTIPODAL_WEDGE_COUNTEREXAMPLE`; docs/findings.md).
    """
    W = np.asarray(W, dtype=np.float64)
    r, r_star = np.linalg.norm(W, axis=0), np.linalg.norm(teacher.W_star, axis=0)
    if np.any(r == 0) or np.any(r_star == 0) or not np.any(teacher.v_star):
        return False
    cos = np.sum(W * teacher.W_star, axis=0) / (r * r_star)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    bits = teacher.staircase.bits
    bound = np.pi if bits == 1 else THETA_MAX
    if np.any(theta > bound) or (bits == 1 and np.any(theta >= np.pi)):
        return False
    if ste == "relu" and teacher.v_star.sum() ** 2 < teacher.v_star @ teacher.v_star:
        return False
    return True


#: ReLU STE, v* with (sum v*)^2 < |v*|^2, student parallel to the teacher but 6 times too long:
#: <E g, grad f> < 0 (clipped ReLU and log-tailed ReLU stay positive here). Found by hypothesis
#: and adversarial search (docs/findings.md, F1).
RELU_OVERSHOOT_COUNTEREXAMPLE = dict(v_star=[-1.7, 1.3, 0.6], W_star=[[2.4], [0.0]], bits=3, alpha=0.34,
                                     W=[[14.4], [0.0]])
#: Every admissible STE, v* > 0, bits 3: student almost opposite to the teacher (theta = pi - 1e-3)
#: and short: <E g, grad f> < 0 (identity stays positive here). docs/findings.md, F2.
ANTIPODAL_WEDGE_COUNTEREXAMPLE = dict(v_star=[1.0, 0.5, 0.25], W_star=[[3.0], [0.0]], bits=3, alpha=1.0,
                                      W=[[0.52 * np.cos(np.pi - 1e-3)], [0.52 * np.sin(np.pi - 1e-3)]])


def counterexample_cosines(example: dict, *, expected_coarse_grad=expected_coarse_grad,
                           grad=population_grad) -> dict:
    """``cos(E g, grad f)`` for every built-in STE at a stored counterexample."""
    teacher = Teacher(example["v_star"], example["W_star"], Staircase(example["bits"], example["alpha"]))
    W = np.asarray(example["W"], dtype=np.float64)
    g = grad(teacher, teacher.v_star, W)[1]
    return {ste: cosine(expected_coarse_grad(teacher, teacher.v_star, W, ste)[1], g) for ste in ALL_STES}


def _regime_config(rng, ste: str):
    """A random teacher and a student first layer inside ``descent_regime`` for ``ste``: per class an
    angle uniform in [0, 3pi/4] (any angle below pi for bits 1; a tenth exactly 0 or at the bound) and
    a length 0.1 to 100 times the teacher's, off the plateau where alpha / |w_k| > 10 (docs/findings.md).
    Also returns which classes sit at a global minimizer (angle 0 with bits 1), where both vectors vanish."""
    teacher, _ = _random_config(rng, v_positive=(ste == "relu"))
    bits, alpha = teacher.staircase.bits, teacher.staircase.alpha
    top = np.pi - 1e-3 if bits == 1 else THETA_MAX * (1 - 1e-9)
    W = np.empty_like(teacher.W_star)
    at_min = np.zeros(teacher.K, dtype=bool)
    for k in range(teacher.K):
        w_star = teacher.W_star[:, k]
        r_star = np.linalg.norm(w_star)
        u = rng.uniform()
        theta = 0.0 if u < 0.05 else (top if u < 0.1 else rng.uniform(0, top))
        while True:
            ratio = 10 ** rng.uniform(-1, 2)
            if bits == 1 or alpha / (ratio * r_star) <= 10:
                break
        o = rng.standard_normal(teacher.n)
        o -= (o @ w_star) / r_star**2 * w_star
        o /= np.linalg.norm(o)
        W[:, k] = ratio * (np.cos(theta) * w_star + np.sin(theta) * r_star * o)
        at_min[k] = theta == 0.0 and bits == 1
    return teacher, W, at_min


def _class_cosines(teacher, W, ste, expected_coarse_grad=expected_coarse_grad,
                   grad=population_grad) -> np.ndarray:
    """``cos(E g_k, grad_k f)`` per class (v = v*): the class terms are independent."""
    g = grad(teacher, teacher.v_star, W)[1]
    Eg = expected_coarse_grad(teacher, teacher.v_star, W, ste)[1]
    den = np.linalg.norm(g, axis=0) * np.linalg.norm(Eg, axis=0)
    with np.errstate(invalid="ignore"):        # 0/0 at a class's minimizer: the caller drops those
        return np.sum(g * Eg, axis=0) / den


@_timed
def claim_6(cfg, rng, *, expected_coarse_grad=expected_coarse_grad, grad=population_grad) -> ClaimResult:
    """<E g, grad f> > 0 for admissible STEs with v = v*, in the regime of descent_regime.

    ``expected_coarse_grad`` and ``grad`` (the population gradient) are the oracles. An STE with
    no class measured gets the minimum ``inf``, which fails as non-finite evidence."""
    cosines = {ste: [] for ste in ALL_STES}
    counted = {ste: 0 for ste in ALL_STES}
    identity_negative = 0
    for i in range(cfg["descent_configs"]):
        for ste in ALL_STES:
            if ste == "log_tailed_relu" and i % cfg["descent_quad_every"]:
                continue                     # numerically integrated STE: a subsample keeps the preset's time
            teacher, W, at_min = _regime_config(rng, "clipped_relu" if ste == "identity" else ste)
            cos = _class_cosines(teacher, W, ste, expected_coarse_grad, grad)[~at_min]
            cosines[ste].append(cos)
            counted[ste] += cos.size
            identity_negative += int(np.sum(cos <= 0)) if ste == "identity" else 0
    # np.min, not min(): a NaN cosine must reach the check and fail it.
    mins = {ste: float(np.min(np.concatenate(c))) if counted[ste] else np.inf for ste, c in cosines.items()}
    oracles = dict(expected_coarse_grad=expected_coarse_grad, grad=grad)
    outside = {"relu overshoot (F1)": counterexample_cosines(RELU_OVERSHOOT_COUNTEREXAMPLE, **oracles),
               "antipodal wedge (F2)": counterexample_cosines(ANTIPODAL_WEDGE_COUNTEREXAMPLE, **oracles)}
    checks = [Check(f"min cos(E g_k, grad_k f), {ste} ({counted[ste]} classes)", mins[ste], ">", 0.0)
              for ste in ADMISSIBLE]
    checks.append(Check(f"min cos, identity (not admissible; {counted['identity']} classes)",
                        mins["identity"], "report"))
    checks.append(Check("cos at F1 (relu, outside the regime)", outside["relu overshoot (F1)"]["relu"], "report"))
    checks.append(Check("cos at F2 (clipped_relu, outside the regime)",
                        outside["antipodal wedge (F2)"]["clipped_relu"], "report"))
    return ClaimResult(6, "descent: <E g, grad f> > 0 for admissible STEs (v = v*)",
                       "regime: every w_k != 0 and angle(w_k, w*_k) <= 3pi/4 (< pi for bits = 1); relu also "
                       "needs (sum v*)^2 >= |v*|^2. Random teachers, bits 1-4, |w_k|/|w*_k| in [0.1, 100], "
                       "checked class by class",
                       tuple(checks),
                       dict(classes=counted, identity_nonpositive=identity_negative,
                            counterexamples_outside_regime=outside,
                            admissibility={ste: check_admissible(ste).violated for ste in ALL_STES}))


# =========================================================================================
# 7. Convergence
# =========================================================================================

def _direction_error(W, W_star, bits):
    """Largest relative error of the w_k (of their directions only when bits = 1)."""
    if bits == 1:
        W = W / np.linalg.norm(W, axis=0)
        W_star = W_star / np.linalg.norm(W_star, axis=0)
    return float(np.max(np.linalg.norm(W - W_star, axis=0) / np.linalg.norm(W_star, axis=0)))


@_timed
def claim_7(cfg, rng, *, population_descent=population_descent, ts_sgd=ts_sgd) -> ClaimResult:
    """Coarse gradient descent reaches the global minimum: f -> 0, w_k -> w*_k; SGD on samples
    agrees with the teacher on held-out data. The two training drivers are the oracles."""
    ratios, dir_errors, runs = [], [], []
    for i in range(cfg["gd_inits"]):
        for bits in cfg["gd_bits"]:
            teacher, _ = _random_config(rng, bits=bits, v_positive=True, K=3)
            W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
            for ste in ADMISSIBLE if i == 0 else ("clipped_relu",):
                _, W, hist = population_descent(teacher, W0, ste, lr=default_population_lr(teacher), steps=cfg["gd_steps"],
                                                tol=GD_TOL / 10, record_every=cfg["gd_steps"])
                ratio = float(hist["loss"][-1] / hist["loss"][0])
                err = _direction_error(W, teacher.W_star, bits)
                ratios.append(ratio)
                dir_errors.append(err)
                runs.append(dict(ste=ste, bits=bits, steps=hist.step[-1], f_ratio=ratio, w_error=err))
    # Stochastic coarse gradients on a finite sample, agreement on held-out data.
    stair = Staircase(2, 1.0)
    teacher = random_teacher(8, 6, 4, stair, rng, v_star=np.abs(rng.standard_normal(6)) + 0.2)
    N = cfg["sgd_samples"]
    Z, Z_test = _sample_Z(rng, N, teacher), _sample_Z(rng, 10000, teacher)
    y = ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
    y_test = ts_forward(Z_test, teacher.v_star, teacher.W_star, stair).y
    W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
    agreements = {}
    for ste in ("clipped_relu", "relu"):
        sgd = SGD(lr=0.5 * default_population_lr(teacher), epochs=cfg["sgd_epochs"], batch_size=64, momentum=0.9,
                  schedule="cosine")
        _, _, hist = ts_sgd(Z, y, W0, teacher.v_star, ste, stair, sgd, seed=int(rng.integers(2**31)),
                            eval_data=(Z_test, y_test))
        agreements[ste] = float(hist["agreement"][-1])
    return ClaimResult(7, "coarse gradient descent reaches the global minimum (perfect classification)",
                       f"population: exact E g, v = v* > 0, K = 3, bits 1, 2, 4, lr = 1/(|v*|^2 + (sum v*)^2), "
                       f"random inits; samples: {N} Gaussian Z, bits 2, SGD + momentum, 10000 held out",
                       (Check("max f(final) / f(initial)", float(np.max(ratios)), "<", GD_TOL),
                        Check("max |w_k - w*_k| / |w*_k| (direction if bits = 1)", float(np.max(dir_errors)),
                              "<", 1e-3),
                        Check("min held-out agreement with teacher labels (SGD)",
                              float(np.min(list(agreements.values()))), ">=", SGD_AGREEMENT)),
                       dict(runs=runs, sgd_agreement=agreements))


# =========================================================================================
# 8. ICLR 2019: identity unstable where ReLU is stable
# =========================================================================================

def spurious_minimizer(v_star) -> np.ndarray:
    r"""The second layer of the spurious critical points of the binary model (Yin et al. 2019):
    ``v = (I + 1 1^T)^{-1} (1 1^T - I) v* = 2 (sum v*) / (p + 1) 1 - v*``, with ``theta = pi``.
    A local minimizer of ``f`` when ``v . v* < 0``."""
    v_star = np.asarray(v_star, dtype=np.float64)
    return 2 * v_star.sum() / (v_star.size + 1) * np.ones_like(v_star) - v_star


@_timed
def claim_8(cfg, rng, *, expected_coarse_grad=expected_coarse_grad, grad=population_grad,
            population_descent=population_descent) -> ClaimResult:
    """b = 1, K = 1, v trained: at the spurious local minimizer (theta = pi, v = v_s) the ReLU
    STE's expected coarse gradient vanishes and coarse GD stays; the identity STE's does not
    vanish and coarse GD leaves."""
    while True:
        p, n = 5, 4
        v_star = rng.standard_normal(p)
        v_s = spurious_minimizer(v_star)
        if v_s @ v_star < -0.1 * (v_star @ v_star) and abs(v_star.sum()) > 0.2:
            break
    w_star = rng.standard_normal((n, 1))
    teacher = Teacher(v_star, w_star, Staircase(1, 1.0))
    W_s = -w_star
    norms = {ste: float(np.linalg.norm(expected_coarse_grad(teacher, v_s, W_s, ste)[1])) for ste in ("relu", "identity")}
    grad_norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in grad(teacher, v_s, W_s)])))
    eps = 1e-2
    v0 = v_s + eps * rng.standard_normal(p)
    W0 = W_s + eps * np.linalg.norm(w_star) * rng.standard_normal((n, 1))
    start = float(np.hypot(np.linalg.norm(v0 - v_s), np.linalg.norm(W0 - W_s)))
    dist = {}
    for ste in ("relu", "identity"):
        v, W, _ = population_descent(teacher, W0, ste, lr=0.1, steps=cfg["spurious_steps"], v0=v0, train_v=True,
                                     record_every=cfg["spurious_steps"])
        dist[ste] = float(np.hypot(np.linalg.norm(v - v_s), np.linalg.norm(W - W_s)))
    return ClaimResult(8, "ICLR 2019: identity STE unstable at a spurious minimum where ReLU STE is stable",
                       "bits 1, K 1, p 5, n 4, v trained; spurious local min theta = pi, v = 2(sum v*)/(p+1) 1 - v*; "
                       "coarse GD (exact E g), lr 0.1, 4000 steps from a 1% perturbation",
                       (Check("|grad f| at the spurious minimizer", grad_norm, "<", 1e-12),
                        Check("|E g_W|, relu STE, at the spurious minimizer", norms["relu"], "<", 1e-12),
                        Check("|E g_W|, identity STE, at the spurious minimizer", norms["identity"], ">", 1e-4),
                        Check("distance from it after training / at start, relu", dist["relu"] / start, "<=", 1.0),
                        Check("distance from it after training / at start, identity", dist["identity"] / start, ">=", 10.0)),
                       dict(v_star=v_star, v_spurious=v_s, start_distance=start, final_distance=dist,
                            v_dot_vstar=float(v_s @ v_star)))


# =========================================================================================
# 9. Synthetic non-linear classes and MNIST: the quantized perceptron trains
# =========================================================================================

#: The experiments' staircase spans [0, 2] at every bit-width (as in figures.py, docs/paper-notes.md E1).
_TOP = 2.0


def _perceptron_run(x, labels, bits, ste, hidden, sgd, seed, mlp_train, eval_data=None, dtype=np.float64):
    """Train ``n-hidden-K`` with ``ste`` (``"float"``: the float ReLU net); return its history."""
    stair = Staircase(bits, _TOP / (2 ** bits - 1))
    activation = (lambda h: np.maximum(h, 0)) if ste == "float" else None
    params0 = mlp_init(x.shape[1], hidden, int(labels.max()) + 1, seed, staircase=stair, dtype=dtype)
    _, hist = mlp_train(x, labels, params0, "relu" if ste == "float" else ste, stair, sgd, seed=seed,
                        activation=activation, eval_data=eval_data)
    return hist


@_timed
def claim_9(cfg, rng, *, mlp_train=mlp_train) -> ClaimResult:
    """Admissible STEs train the quantized two-layer perceptron to perfect training classification
    on synthetic non-linearly-separable classes, and to MNIST-subset test accuracy within
    :data:`MNIST_MARGIN` of the float ReLU net trained the same way, at 1, 2 and 4 bits.

    ``mlp_train`` (the training driver) is the oracle. Not run at the ``quick`` preset (it trains
    about 30 networks); ``coarsegrad verify --full`` runs it.
    """
    title = "admissible STEs train the quantized perceptron (synthetic, MNIST)"
    c9 = cfg["claim9"]
    if c9 is None:
        return ClaimResult(9, title, "not run at this preset",
                           (Check("not run at --quick (about 30 trainings, minutes): coarsegrad verify --full",
                                  None, "skipped"),), {})
    from .data import blobs, load_mnist_subset, to_float

    seeds = [int(s) for s in rng.integers(2**31, size=c9["syn_seeds"] + 1)]
    syn_sgd = SGD(lr=0.1, batch_size=32, momentum=0.9, schedule="cosine", epochs=c9["syn_epochs"])
    train_acc = {}
    for s in seeds[:-1]:
        x, y = blobs(n_samples=c9["syn_samples"], seed=s)
        for bits in c9["bits"]:
            for ste in ADMISSIBLE:
                hist = _perceptron_run(x, y, bits, ste, c9["syn_hidden"], syn_sgd, s, mlp_train)
                train_acc[f"{ste}, bits={bits}, seed={s}"] = float(hist["accuracy"][-1])

    x, y = load_mnist_subset("train")
    xt, yt = load_mnist_subset("test")
    x, y = to_float(x[:c9["mnist_train"]], np.float32), y[:c9["mnist_train"]].astype(np.intp)
    xt, yt = to_float(xt[:c9["mnist_test"]], np.float32), yt[:c9["mnist_test"]].astype(np.intp)
    mnist_sgd = SGD(lr=0.05, batch_size=64, momentum=0.9, schedule="cosine", epochs=c9["mnist_epochs"])

    def test_accuracy(bits, ste):
        hist = _perceptron_run(x, y, bits, ste, c9["mnist_hidden"], mnist_sgd, seeds[-1], mlp_train,
                               eval_data=(xt, yt), dtype=np.float32)
        return float(hist["test_accuracy"][-1])

    float_acc = test_accuracy(c9["bits"][0], "float")          # the activation replaces sigma: bits unused
    test_acc = {bits: {ste: test_accuracy(bits, ste) for ste in ADMISSIBLE} for bits in c9["bits"]}
    checks = [Check(f"min training accuracy, blobs, admissible STEs x bits {', '.join(map(str, c9['bits']))} "
                    f"({len(train_acc)} runs)", float(np.min(list(train_acc.values()))), "==", 1.0)]
    for bits in c9["bits"]:
        gap = float_acc - np.min(list(test_acc[bits].values()))
        checks.append(Check(f"MNIST: float ReLU minus worst admissible STE test accuracy, bits {bits}",
                            float(gap), "<=", MNIST_MARGIN[bits]))
    checks.append(Check("MNIST: float ReLU test accuracy", float_acc, "report"))
    return ClaimResult(9, title,
                       f"blobs ({c9['syn_samples']} points, 3 classes x 3 blobs), 2-{c9['syn_hidden']}-3, "
                       f"{c9['syn_epochs']} epochs, {c9['syn_seeds']} seeds; MNIST subset {c9['mnist_train']} train / "
                       f"{c9['mnist_test']} test, 784-{c9['mnist_hidden']}-10 float32, {c9['mnist_epochs']} epochs; "
                       "SGD momentum 0.9, cosine schedule, alpha = 2 / L",
                       tuple(checks),
                       dict(training_accuracy=train_acc, mnist_float=float_acc,
                            mnist_test_accuracy={str(b): a for b, a in test_acc.items()},
                            margins={str(b): m for b, m in MNIST_MARGIN.items()}))


# =========================================================================================
# 10-12. The orthogonal-subspace model (SPEC §8; docs/theory.md §7; docs/findings.md S1-S6)
# =========================================================================================
# Their sizes per preset are added to PRESETS here, beside the claims that use them.

PRESETS["quick"].update(
    sub_sets=((2, 2, 50, "sphere"), (3, (2, 3, 8), 60, "sphere"), (3, 3, 40, "gaussian"), (4, 2, 30, "sphere")),
    sub_minimizer_bits=(1, 2, 4),
    sub_regime=((2, "ceil", 2, 8), (2, "round", 3, 12), (4, "round", 2, 8)),
    sub_outside=((1, "ceil", 2, 8), (1, "round", 2, 4, "clipped_relu"), (2, "round", 3, 4)),
    sub_seeds=3, sub_n=50, sub_test=500, sub_steps=1000, sub_stuck_steps=200, sub_slow_fast_runs=4)
PRESETS["full"].update(
    sub_sets=((2, 2, 50, "sphere"), (3, (2, 3, 8), 60, "sphere"), (3, 3, 40, "gaussian"), (4, 2, 30, "sphere"),
              (5, (1, 2, 3, 4, 5), 80, "sphere"), (3, 8, 100, "gaussian")),
    sub_minimizer_bits=(1, 2, 3, 4),
    sub_regime=((2, "ceil", 2, 8), (2, "round", 2, 8), (4, "ceil", 2, 8), (4, "round", 2, 8), (2, "ceil", 3, 12),
                (2, "round", 3, 12), (4, "round", 3, 12)),
    sub_outside=((1, "ceil", 2, 8), (1, "ceil", 3, 16), (2, "round", 2, 4), (2, "round", 3, 6), (2, "round", 2, 2),
                 (1, "round", 2, 4, "clipped_relu"), (1, "round", 2, 8, "clipped_relu")),
    sub_seeds=10, sub_n=50, sub_test=1000, sub_steps=2000, sub_stuck_steps=1000, sub_slow_fast_runs=20)

SUB_K = 3            # classes in claims 11-12
SUB_LR = 1.0         # fixed step of full-batch coarse gradient descent (alpha = 1, |x| = 1)

#: The regime where claim 11 was found to hold (docs/findings.md, S1): hinge loss with margin alpha, an
#: admissible STE, K = 3 classes of n = 50 points uniform on the unit spheres of their subspaces,
#: w ~ N(0, I), alpha = 1, lr = 1; N >= 4 d_k neurons per class (d_k = 2, 3: 100 of 100 seeds each);
#: bits >= 2 with either staircase, or bits = 1 with the round staircase and relu / log-tailed relu.
#: Outside it: at N = 2 d_k some runs stop at a coarse-stationary point with loss > 0 (83 of 100 seeds
#: succeed at d_k = 2, N = 4; S1); bits 1 with ceil never succeeds (S2); clipped relu at bits 1
#: freezes on saturated neurons (S4).
SUBSPACE_REGIME = ("hinge (margin alpha), admissible STE, N >= 4 d_k, bits >= 2 (ceil or round) or bits 1 round "
                   "with relu / log-tailed relu")


def subspace_regime(ste: str, bits: int, convention: str, d_k: int, N: int) -> bool:
    """Whether ``(ste, bits, convention, d_k, N)`` lies in :data:`SUBSPACE_REGIME` (hinge loss, margin alpha)."""
    if ste not in ADMISSIBLE or N < 4 * d_k:
        return False
    if bits == 1:
        return convention == "round" and ste != "clipped_relu"
    return True


def _sub_run(task, descent=None, *, skip_covered=False):
    """One seeded training run of claims 11-12: returns the run, its test accuracy on fresh points and
    the number of classes covered at initialization (with ``skip_covered``, ``(None, nan, K)`` without
    training when every class starts covered)."""
    descent = _sub.subspace_descent if descent is None else descent
    bits, conv, m, N, ste, seed = (task[k] for k in ("bits", "conv", "m", "N", "ste", "seed"))
    stair = Staircase(bits, 1.0, conv)
    ss = np.random.SeedSequence(seed).spawn(3)
    data = _sub.orthogonal_subspaces(SUB_K, m, task["n"], seed=ss[0])
    fresh = _sub.orthogonal_subspaces(SUB_K, m, task["n_test"], seed=ss[1])
    x_test = np.concatenate([z @ U.T for z, U in zip(fresh.z, data.bases)])     # fresh points, same subspaces
    p0 = _sub.subspace_init(SUB_K, N, data.x.shape[1], ss[2])
    init_covered = sum(c.covered for c in _sub.class_coverage(p0, data.bases, N, method="auto"))
    if skip_covered and init_covered == SUB_K:
        return None, float("nan"), init_covered
    run = descent(data, p0, ste, stair, lr=SUB_LR, steps=task["steps"], coverage_every=task.get("every", 25))
    test_acc = _sub.accuracy(mlp_forward(x_test, run.params, stair).f, fresh.labels)
    return run, test_acc, init_covered


@_timed
def claim_10(cfg, rng, *, separability=_sub.separability_lp, minimizer=_sub.constructed_minimizer) -> ClaimResult:
    """Orthogonal-subspace data are not linearly separable (LP certificate), yet a constructed
    network of the class has hinge loss 0 and accuracy 1: a global minimizer with perfect classification.

    ``separability(x, labels) -> Separability`` and ``minimizer(data, N, staircase) -> MLPParams``
    are the oracles."""
    statuses, rows = [], []
    for K, dims, n, dist in cfg["sub_sets"]:
        data = _sub.orthogonal_subspaces(K, dims, n, distribution=dist, seed=rng)
        cert = separability(data.x, data.labels)
        statuses.append(int(cert.status))
        rows.append(dict(K=K, dims=list(data.dims), n=n, distribution=dist, lp_status=int(cert.status)))
    centres = 5 * np.eye(3)
    control_x = np.concatenate([c + 0.3 * rng.standard_normal((20, 3)) for c in centres])
    control = separability(control_x, np.repeat(np.arange(3), 20))
    losses, accs, ceil_rotated = [], [], []
    for K, dims, n, dist in cfg["sub_sets"]:
        for bits in cfg["sub_minimizer_bits"]:
            for conv in ("ceil", "round"):
                stair = Staircase(bits, 1.0, conv)
                # ceil: coordinate subspaces, where a foreign dot product is exactly 0 (S3); round: rotated.
                for rotate in ((False, True) if conv == "ceil" else (True,)):
                    data = _sub.orthogonal_subspaces(K, dims, n, distribution=dist, rotate=rotate, seed=rng)
                    N = max(data.dims) + 1
                    f = mlp_forward(data.x, minimizer(data, N, stair), stair).f
                    loss = mlp_loss(f, data.labels, "hinge", margin=stair.alpha)[0]
                    acc = _sub.accuracy(f, data.labels)
                    if conv == "ceil" and rotate:
                        ceil_rotated.append(acc)
                    else:
                        losses.append(loss)
                        accs.append(acc)
    statuses = np.asarray(statuses)
    checks = (Check(f"generated sets certified not separable (LP status 2), of {len(statuses)}",
                    int(np.sum(statuses == 2)), "==", len(statuses)),
              Check("LP status on a separable control (3 blobs)", int(control.status), "==", 0),
              Check(f"max hinge loss of the constructed minimizer ({len(losses)} sets)", float(np.max(losses)), "==", 0.0),
              Check("min accuracy of the constructed minimizer", float(np.min(accs)), "==", 1.0),
              Check("min accuracy, ceil on rotated bases (rounding fires; S3)",
                    float(np.min(ceil_rotated)), "report"))
    return ClaimResult(10, "orthogonal subspaces: not linearly separable, yet perfectly classified by the network",
                       f"{len(cfg['sub_sets'])} sets (K, d_k, n, sphere/gaussian): LP (HiGHS) certificate; minimizer "
                       f"w_kj = s U_k c_j (simplex c_j, N = max d_k + 1), bits {cfg['sub_minimizer_bits']}, "
                       "alpha = 1, margin alpha; ceil on coordinate subspaces, round on rotated ones",
                       checks, dict(sets=rows, control_status=int(control.status)))


def _rate(values, a, b):
    """``(values[a] - values[b]) / (b - a)``: mean decrease per step between steps a < b."""
    return float((values[a] - values[b]) / (b - a))


@_timed
def claim_11(cfg, rng, *, descent=_sub.subspace_descent) -> ClaimResult:
    """Full-batch coarse gradient descent with an admissible STE reaches hinge loss exactly 0 -- a
    global minimum, hence perfect training classification -- from random initialization, in the
    regime of :data:`SUBSPACE_REGIME`; Wendel's coverage probability at initialization beside it,
    generalization to fresh points, the identity STE and configurations outside the regime reported.

    ``descent(data, params0, ste, staircase, *, lr, steps, coverage_every) -> SubspaceRun`` is the oracle."""
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(rng.integers(2**31))).spawn(cfg["sub_seeds"])]
    base = dict(n=cfg["sub_n"], n_test=cfg["sub_test"], steps=cfg["sub_steps"])
    success, final_acc, test_acc, init_cov, wendel_all, per_config = [], [], [], [], [], {}
    for bits, conv, m, N in cfg["sub_regime"]:
        if not all(subspace_regime(ste, bits, conv, m, N) for ste in ADMISSIBLE):
            raise ValueError(f"preset config {(bits, conv, m, N)} lies outside SUBSPACE_REGIME; list it in sub_outside")
        key = f"bits {bits} {conv}, d_k {m}, N {N}"
        rates = []
        for ste in ADMISSIBLE:
            for s in seeds:
                run, acc, ic = _sub_run(dict(base, bits=bits, conv=conv, m=m, N=N, ste=ste, seed=s), descent)
                ok = run.zero_loss_step is not None and run.history["accuracy"][-1] == 1.0
                success.append(ok)
                rates.append(ok)
                final_acc.append(run.history["accuracy"][-1])
                test_acc.append(acc)
                init_cov.append(ic == SUB_K)
        wendel_all.append(_sub.coverage_probability(N, m) ** SUB_K)
        per_config[key] = dict(success_rate=float(np.mean(rates)), wendel_all_covered=wendel_all[-1])
    identity = []
    for bits, conv, m, N in cfg["sub_regime"][:1]:
        for s in seeds:
            run, _, _ = _sub_run(dict(base, bits=bits, conv=conv, m=m, N=N, ste="identity", seed=s,
                                      steps=cfg["sub_stuck_steps"]), descent)
            identity.append(run.zero_loss_step is not None)
    outside = {}
    for bits, conv, m, N, *ste in cfg["sub_outside"]:
        ste = ste[0] if ste else "relu"
        oks = [(_sub_run(dict(base, bits=bits, conv=conv, m=m, N=N, ste=ste, seed=s, steps=cfg["sub_stuck_steps"]),
                         descent)[0].zero_loss_step is not None) for s in seeds]
        outside[f"{ste} {bits}b {conv} d_k={m} N={N}"] = float(np.mean(oks))
    runs = len(success)
    checks = [Check(f"success rate (loss 0, accuracy 1), admissible STEs, {runs} runs",
                    float(np.mean(success)), ">=", 1.0),
              Check("min final training accuracy", float(np.min(final_acc)), "==", 1.0),
              Check("fraction of runs with every class covered at init",
                    float(np.mean(init_cov)), "report"),
              Check("Wendel^K: P(all classes covered at init), config mean",
                    float(np.mean(wendel_all)), "report"),
              Check("mean test accuracy on fresh points", float(np.mean(test_acc)), "report"),
              Check("min test accuracy on fresh points", float(np.min(test_acc)), "report"),
              Check(f"identity STE success rate, {cfg['sub_regime'][0]}",
                    float(np.mean(identity)), "report")]
    checks += [Check(f"success rate, {k}", v, "report")
               for k, v in outside.items()]
    return ClaimResult(11, "coarse gradient descent reaches a global minimum (hinge loss 0): perfect classification",
                       f"regime: {SUBSPACE_REGIME}. K = {SUB_K}, n = {cfg['sub_n']} points per class on unit spheres, "
                       f"w ~ N(0, I), alpha = 1, full batch, lr = {SUB_LR}, <= {cfg['sub_steps']} steps "
                       f"({cfg['sub_stuck_steps']} for identity and outside the regime), "
                       f"{cfg['sub_seeds']} seeds; configs (bits, convention, d_k, N) {list(cfg['sub_regime'])}",
                       tuple(checks), dict(per_config=per_config, identity_success=identity, outside=outside,
                                           seeds=seeds))


@_timed
def claim_12(cfg, rng, *, descent=_sub.subspace_descent) -> ClaimResult:
    """Slow to fast: the step t* at which every class becomes covered, and the loss-decrease rate and
    the weight speed before and after it (runs that start uncovered and reach hinge loss 0).

    ``descent`` is the oracle, as in claim 11."""
    rows, tried = [], 0
    gen = np.random.SeedSequence(int(rng.integers(2**31)))
    while len(rows) < cfg["sub_slow_fast_runs"] and tried < 5 * cfg["sub_slow_fast_runs"]:
        tried += 1
        s = int(gen.spawn(1)[0].generate_state(1)[0])
        run, _, ic = _sub_run(dict(n=cfg["sub_n"], n_test=1, steps=cfg["sub_steps"], bits=2, conv="round", m=2,
                                   N=4, ste="relu", seed=s, every=1), descent, skip_covered=True)
        if run is None:
            continue
        T, ts = run.zero_loss_step, run.t_star
        if T is None or ts is None or not 0 < ts < T:
            continue                      # only runs that start uncovered, get covered, then reach loss 0
        L, v = run.history["loss"], run.history["speed"]
        rows.append(dict(seed=s, t_star=ts, zero_loss_step=T, loss_rate_before=_rate(L, 0, ts),
                         loss_rate_after=_rate(L, ts, T), speed_before=float(np.mean(v[:ts])),
                         speed_after=float(np.mean(v[ts:T]))))
    get = lambda k: np.array([r[k] for r in rows], dtype=np.float64)
    # NaN when no run qualified: the judged rows then fail (Check treats a non-finite value as a failure)
    fold = lambda fn, a: float(fn(a)) if a.size else float("nan")
    ratio_loss = get("loss_rate_after") / get("loss_rate_before")
    ratio_speed = get("speed_after") / get("speed_before")
    checks = (Check("runs: start uncovered, covered at t*, then loss 0", len(rows), ">=",
                    cfg["sub_slow_fast_runs"]),
              Check("median t* / zero-loss step", fold(np.median, get("t_star") / get("zero_loss_step")), "report"),
              Check("max loss-decrease rate after t* / before t*", fold(np.max, ratio_loss), "<", 1.0),
              Check("median weight speed after t* / before t*", fold(np.median, ratio_speed), "report"))
    return ClaimResult(12, "slow to fast? the step t* at which every class is covered, and the rates around it",
                       f"bits 2 round, K = {SUB_K}, d_k = 2, N = 4, n = {cfg['sub_n']}, relu STE, hinge (margin alpha), "
                       f"lr = {SUB_LR}, coverage checked every step; measured: the hinge loss falls FASTER before t* "
                       "than after it (docs/findings.md, S5)",
                       checks, dict(runs=rows, tried=tried))


# =========================================================================================
# 13. Learnable resolution alpha: which alpha-rules descend, and joint descent in (W, alpha)
# =========================================================================================


#: Claim 13's sizes per preset (``quick`` adds a few seconds to ``coarsegrad verify --quick``).
CLAIM13_PRESETS = {"quick": dict(configs=24, joint_bits=(1,), joint_inits=1, joint_steps=800, counterexample=False),
                   "full": dict(configs=200, joint_bits=(1, 2, 4), joint_inits=3, joint_steps=3000,
                                counterexample=True)}
#: Joint descent must bring f below this fraction of f(initial) and alpha this close to alpha* (relative).
JOINT_F_TOL = 1e-8
JOINT_ALPHA_TOL = 1e-6
#: A joint coarse gradient descent in (W, alpha) where the 'min' and 'mean' rules stop at a spurious point
#: (alpha ~ 1.78 alpha*, f ~ 0.12 f(initial)) while 'ae' and 'pact' reach (W*, alpha*): bits 2, ceil, v = v*,
#: lr = default_population_lr, lr_alpha = lr / L^2 (docs/findings.md, "Learnable resolution").
ALPHA_RULE_STALL_COUNTEREXAMPLE = dict(
    v_star=[1.8322, 0.47, 0.3952], W_star=[[-0.4126, -2.4124], [1.1396, -2.6347], [0.979, -0.0215], [1.6902, -0.1017]],
    W0=[[-0.9462, 0.6395], [-0.6439, -0.3233], [0.0481, -0.2404], [-0.217, -1.4875]], alpha0=1.2512, bits=2,
    alpha_star=1.0, steps=1500,
    # Where 'mean' stops (after the 1500 steps): E g_W = 0 and E g_mean = 0 to rounding, df/dalpha = 0.716.
    W_stall=[[-0.23920899531110437, -1.0619708544696287], [0.660694549337214, -1.1598302977413075],
             [0.5675850858205798, -0.009464588530549252], [0.9799104311071949, -0.04476970481659809]],
    alpha_stall=1.7834316253149554)


def _alpha_config(rng):
    """A random teacher (either convention, bits 1-4), a random student W and alpha = alpha* e^u."""
    bits = int(rng.integers(1, 5))
    convention = ("ceil", "round")[int(rng.integers(0, 2))]
    a_star = float(np.exp(rng.uniform(-1, 1)))
    n, p, K = int(rng.integers(2, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
    top = (2**bits - 1) * a_star
    W_star = rng.standard_normal((n, K)) * top / np.sqrt(n)
    teacher = Teacher(np.abs(rng.standard_normal(p)) + 0.1, W_star, Staircase(bits, a_star, convention))
    W = rng.standard_normal((n, K)) * top / np.sqrt(n)
    return teacher, W, a_star * float(np.exp(rng.uniform(-1.2, 1.2)))


def _joint_runs(rng, bits_list, inits, steps, rules, joint_descent):
    """Joint descent from random starts; per run the f ratio and |alpha/alpha* - 1|."""
    runs = []
    for bits in bits_list:
        for _ in range(inits):
            teacher = random_teacher(4, 3, 2, Staircase(bits, 1.0), rng, v_star=np.abs(rng.standard_normal(3)) + 0.2)
            W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
            a0 = float(np.exp(rng.uniform(-0.7, 0.7)))
            lr = default_population_lr(teacher)
            for rule in rules:
                _, a, hist = joint_descent(teacher, W0, a0, "clipped_relu", rule, lr=lr, lr_alpha=lr / teacher.staircase.L**2,
                                           steps=steps, tol=JOINT_F_TOL / 10, record_every=steps)
                runs.append(dict(bits=bits, rule=rule, alpha0=a0, alpha=a, f_ratio=float(hist["loss"][-1] / hist["loss"][0]),
                                 alpha_error=abs(a - 1.0), steps=hist.step[-1]))
    return runs


def claim_13(preset: str = "quick", seed: int = 0, *, expected_alpha_grad=_expected_alpha_grad,
             joint_population_grad=_joint_population_grad, joint_descent=_joint_descent) -> ClaimResult:
    """Learnable alpha: the 'ae' rule's bias is exactly (1/alpha) W . grad_W f (so it is exact wherever
    grad_W f = 0); how often each rule's E g_alpha is a descent direction of f in alpha (reported: every rule
    has counterexamples); joint coarse gradient descent in (W, alpha) with lr_alpha = lr / L^2 reaches
    (W*, alpha*) with 'ae' (every run measured), while 'pact' stalls at bits 1 from alpha0 > alpha* and
    'min' and 'mean' stall on :data:`ALPHA_RULE_STALL_COUNTEREXAMPLE`. The three library functions are the oracles."""
    start = time.perf_counter()
    _preset(preset)
    cfg = CLAIM13_PRESETS.get(preset, CLAIM13_PRESETS["quick"])    # a test's own preset (e.g. "tiny") sizes like quick
    rng = make_rng(seed)
    identity_errors, descent = [], {r: [] for r in _ALPHA_RULES}
    for _ in range(cfg["configs"]):
        teacher, W, alpha = _alpha_config(rng)
        v = teacher.v_star
        gW, dalpha = joint_population_grad(teacher, v, W, alpha)
        g = {r: expected_alpha_grad(teacher, v, W, alpha, r) for r in _ALPHA_RULES}
        euler = float(np.sum(W * gW)) / alpha
        scale = abs(g["ae"]) + abs(dalpha) + float(np.sum(np.abs(W * gW))) / alpha
        identity_errors.append(abs(g["ae"] - dalpha - euler) / scale)
        for r in _ALPHA_RULES:
            descent[r].append(g[r] * dalpha > 0)
    runs = _joint_runs(rng, cfg["joint_bits"], cfg["joint_inits"], cfg["joint_steps"], ("ae", "pact"), joint_descent)
    checks = [Check("max |E g_ae - df/dalpha - (1/alpha) W.grad_W f| / scale", float(np.max(identity_errors)), "<", 1e-10)]
    checks += [Check(f"fraction of random (W, alpha) where E g_{r} descends f in alpha", float(np.mean(descent[r])),
                     "report") for r in _ALPHA_RULES]
    ae_runs = [r for r in runs if r["rule"] == "ae"]
    checks += [Check("max f(final)/f(initial), joint descent, rule ae", float(np.max([r["f_ratio"] for r in ae_runs])),
                     "<", JOINT_F_TOL),
               Check("max |alpha/alpha* - 1|, joint descent, rule ae",
                     float(np.max([r["alpha_error"] for r in ae_runs])), "<", JOINT_ALPHA_TOL),
               Check("max f(final)/f(initial), joint descent, rule pact (stalls at bits 1 from alpha0 > alpha*)",
                     float(np.max([r["f_ratio"] for r in runs if r["rule"] == "pact"])), "report")]
    stall = {}
    if cfg["counterexample"]:
        stall = alpha_rule_stall(joint_descent=joint_descent)
        checks.append(Check("min f(final)/f(initial) of 'min' and 'mean' on the stall counterexample",
                            float(np.min([stall[r]["f_ratio"] for r in ("min", "mean")])), "report"))
    else:
        checks.append(Check("stall counterexample of 'min' and 'mean' (6000 descent steps): full preset and "
                            "tests/test_population_alpha.py", float("nan"), "skipped"))
    return ClaimResult(13, "learnable alpha: the ae rule's bias is (1/alpha) W.grad_W f; joint descent reaches "
                           "(W*, alpha*) with ae",
                       f"{cfg['configs']} random teachers (ceil and round, bits 1-4, v = v* > 0), alpha/alpha* in "
                       f"[e^-1.2, e^1.2]; joint descent: clipped ReLU, bits {list(cfg['joint_bits'])}, "
                       f"lr = 1/(|v*|^2 + (sum v*)^2), lr_alpha = lr/L^2, {cfg['joint_steps']} steps",
                       tuple(checks), dict(runs=runs, descent_fraction={r: float(np.mean(d)) for r, d in descent.items()},
                                           stall=stall), time.perf_counter() - start)


def alpha_rule_stall(*, joint_descent=_joint_descent) -> dict:
    """Joint descent on :data:`ALPHA_RULE_STALL_COUNTEREXAMPLE` with each rule: final alpha and f ratio."""
    ex = ALPHA_RULE_STALL_COUNTEREXAMPLE
    teacher = Teacher(ex["v_star"], ex["W_star"], Staircase(ex["bits"], ex["alpha_star"]))
    lr = default_population_lr(teacher)
    out = {}
    for rule in _ALPHA_RULES:
        _, a, hist = joint_descent(teacher, ex["W0"], ex["alpha0"], "clipped_relu", rule, lr=lr,
                                   lr_alpha=lr / teacher.staircase.L**2, steps=ex["steps"], tol=JOINT_F_TOL / 10,
                                   record_every=ex["steps"])
        out[rule] = dict(alpha=a, f_ratio=float(hist["loss"][-1] / hist["loss"][0]))
    return out


# =========================================================================================
# Running them
# =========================================================================================

#: Every claim by number: ``coarsegrad verify`` runs them in this order.
CLAIMS = {1: claim_1, 2: claim_2, 3: claim_3, 4: claim_4, 5: claim_5, 6: claim_6, 7: claim_7, 8: claim_8,
          9: claim_9, 10: claim_10, 11: claim_11, 12: claim_12, 13: claim_13}


def run_claims(preset: str = "quick", seed: int = 0, only=None) -> list:
    """Run claims (all, or the numbers in ``only``) and return their :class:`ClaimResult` list.

    Each claim gets its own generator, spawned from ``seed``, so one claim's result does not
    depend on which others ran.
    """
    _preset(preset)
    make_rng(seed)          # our message for a bad seed (numpy's would not name the argument)
    numbers = sorted(CLAIMS) if only is None else sorted(set(only))
    unknown = [k for k in numbers if k not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim number(s) {unknown}; claims are {sorted(CLAIMS)}")
    seeds = np.random.SeedSequence(seed).spawn(max(CLAIMS))
    return [CLAIMS[k](preset, seeds[k - 1]) for k in numbers]
