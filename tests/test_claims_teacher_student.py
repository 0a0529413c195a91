"""Claim 8's measure of stability at the binary model's spurious minimizer (docs/findings.md, F4).

At bits 1 the staircase ``alpha 1{z.w > 0}`` does not see ``|w|``: the spurious minimizers form the ray
``{(v_s, c W_s): c > 0}``, so a run that slides along the ray has not escaped. The ReLU row is judged by
the distance to that set; a drift along the ray must pass it and a turn away from the ray must fail it.
"""
from __future__ import annotations

import numpy as np
import pytest

from coarsegrad import claims
from coarsegrad.claims.teacher_student import _distance_to_spurious_set
from coarsegrad.train import population_descent


def _ray(rng, n=4, p=5):
    return rng.standard_normal(p), rng.standard_normal((n, 1))


@pytest.mark.parametrize("seed", range(5))
def test_distance_to_the_set_ignores_the_length_of_w(seed):
    rng = np.random.default_rng(seed)
    v_s, W_s = _ray(rng)
    for c in (1e-3, 0.5, 1.0, 7.0):
        assert _distance_to_spurious_set(v_s, c * W_s, v_s, W_s) <= 1e-14 * np.linalg.norm(W_s)
    d = rng.standard_normal(v_s.shape)
    assert _distance_to_spurious_set(v_s + d, 3 * W_s, v_s, W_s) == pytest.approx(np.linalg.norm(d), rel=1e-12)
    # a turn counts whatever the length: the angle theta away from the ray is 2 |W_s| sin(theta / 2)
    o = rng.standard_normal(W_s.shape)
    o -= (o.ravel() @ W_s.ravel()) / (W_s.ravel() @ W_s.ravel()) * W_s
    o *= np.linalg.norm(W_s) / np.linalg.norm(o)
    for c in (0.1, 1.0, 10.0):
        turned = c * (np.cos(0.3) * W_s + np.sin(0.3) * o)
        assert _distance_to_spurious_set(v_s, turned, v_s, W_s) == pytest.approx(
            2 * np.linalg.norm(W_s) * np.sin(0.15), rel=1e-12)
    assert _distance_to_spurious_set(v_s, -W_s, v_s, W_s) == pytest.approx(2 * np.linalg.norm(W_s), rel=1e-12)
    assert np.isnan(_distance_to_spurious_set(v_s, 0 * W_s, v_s, W_s))


def _claim_8_with(descent):
    return claims.claim_8("quick", 0, population_descent=descent)


def _relu_row(result):
    return next(c for c in result.checks if c.quantity.startswith("distance to the set") and c.quantity.endswith("relu"))


def test_claim_8_relu_row_passes_a_drift_along_the_ray_and_fails_a_turn(monkeypatch):
    """Negative control: the same claim with a descent whose ReLU run ends turned away from the ray (a
    planted escape) must fail its ReLU row; one that only rescales W (no escape) must pass it."""
    monkeypatch.setitem(claims.PRESETS, "quick", {**claims.PRESETS["quick"], "spurious_steps": 20})

    def rescaling(teacher, W0, ste, **kw):
        v, W, h = population_descent(teacher, W0, ste, **kw)
        return v, (3.0 * W if ste == "relu" else W), h

    def turning(teacher, W0, ste, **kw):
        v, W, h = population_descent(teacher, W0, ste, **kw)
        if ste == "relu":
            W = W + 0.5 * np.linalg.norm(W) * np.roll(W, 1, axis=0)
        return v, W, h

    assert _relu_row(_claim_8_with(rescaling)).passed is True
    assert _relu_row(_claim_8_with(turning)).passed is False
