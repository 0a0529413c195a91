"""Claims 1-2: the staircase (levels, thresholds, monotone) and the zero gradient almost everywhere
of the quantized sample loss, in both networks."""
from __future__ import annotations

import numpy as np

from ..nets import mlp_forward, mlp_init, mlp_loss, ts_forward, ts_loss
from ..quant import Staircase
from ._core import Check, ClaimResult, claim
from .teacher_student import _random_config, _sample_Z

__all__ = ["claim_1", "claim_2"]


# =========================================================================================
# 1. The staircase
# =========================================================================================

@claim
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

@claim
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
