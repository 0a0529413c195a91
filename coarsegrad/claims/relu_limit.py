"""Claim 14: the ReLU limit of the coarse gradient (issue 18 item 4; docs/theory.md section 9).

As ``alpha -> 0`` with the top ``T = L alpha`` fixed, the coarse gradient with the clipped-relu STE tends
to the exact gradient of the clipped-ReLU network, at the order in ``alpha`` derived in theory.md
(:data:`coarsegrad.relu_limit.DERIVED_ORDER`): sample 1 (both conventions), population 1 (ceil) and 2
(round). The fitted order is judged against the derived one; the relu STE, where the clipped one is
due, must not converge (its gap stays of order 1)."""
from __future__ import annotations

import numpy as np

from .. import relu_limit as _lim
from ..nets import MLPParams, mlp_coarse_grad, mlp_forward, mlp_loss, ts_coarse_grad, ts_forward, ts_loss
from ..population import Teacher, expected_coarse_grad as _expected_coarse_grad
from ._core import Check, ClaimResult, claim

__all__ = ["claim_14", "ORDER_TOL", "LIMIT_TOP", "NO_CONVERGENCE"]

#: |fitted order - derived order| allowed (the fit runs over the asymptotic range: bits >= 3 or 4).
ORDER_TOL = 0.25
#: The top L alpha held fixed while bits grow.
LIMIT_TOP = 3.0
#: The relu STE's gap must stay above this (relative) at the largest bit-width: it does not converge.
NO_CONVERGENCE = 0.05


def _config(rng):
    n, p, K = 4, 3, 2
    v_star = np.abs(rng.standard_normal(p)) + 0.2
    W_star = rng.standard_normal((n, K)) * LIMIT_TOP / 2
    v = v_star + 0.3 * rng.standard_normal(p)
    W = rng.standard_normal((n, K)) * LIMIT_TOP / 2
    return v_star, W_star, v, W


@claim
def claim_14(cfg, rng, *, expected_coarse_grad=_expected_coarse_grad, limit_grad=_lim.limit_population_grad,
             ts_limit_grad=_lim.ts_limit_grad, mlp_limit_grad=_lim.mlp_limit_grad) -> ClaimResult:
    """The ReLU limit: the sample coarse gradient (teacher-student and perceptron) and the population
    ``E g`` tend to the clipped-ReLU network's exact gradients as ``alpha -> 0`` with ``L alpha`` fixed,
    at the derived order in ``alpha``; with the relu STE in place of the clipped one they do not.

    Oracles: the package's ``expected_coarse_grad`` and the limit network's gradients
    (:func:`coarsegrad.relu_limit.limit_population_grad`, ``ts_limit_grad``, ``mlp_limit_grad``)."""
    sample_bits = np.array(cfg["limit_sample_bits"])
    pop_bits = np.array(cfg["limit_population_bits"])
    fit_sample = sample_bits >= 4                     # the asymptotic range (alpha <= T / 15)
    fit_pop = pop_bits >= 3
    orders, control, gaps = {}, [], {}
    for c in range(cfg["limit_configs"]):
        v_star, W_star, v, W = _config(rng)
        Z = rng.standard_normal((64, 3, 4))
        x, labels = rng.standard_normal((64, 5)), rng.integers(0, 3, 64)
        P = MLPParams(rng.standard_normal((8, 5)), 0.3 * rng.standard_normal(8), rng.standard_normal((3, 8)), np.zeros(3))
        for conv in ("ceil", "round"):
            stairs = _lim.limit_staircases(LIMIT_TOP, sample_bits, conv)
            alphas = np.array([s.alpha for s in stairs])
            ts_ref = ts_limit_grad(Z, v, W, v_star, W_star, LIMIT_TOP)
            mlp_ref = mlp_limit_grad(x, labels, P, LIMIT_TOP)
            flat = lambda g: np.concatenate([np.ravel(a) for a in g])
            for ste in ("clipped_relu", "relu"):
                ts_gap = [_gap_ts(Z, v, W, v_star, W_star, s, ste, ts_ref) for s in stairs]
                mlp_gap = [_gap_mlp(x, labels, P, s, ste, flat(mlp_ref)) for s in stairs]
                for name, g in (("sample ts", ts_gap), ("sample mlp", mlp_gap)):
                    gaps[(c, conv, ste, name)] = g
                    p = _lim.fit_order(alphas[fit_sample], np.array(g)[fit_sample])
                    if ste == "clipped_relu":
                        orders.setdefault(("sample", conv, name), []).append(p)
                    else:
                        control.append((name, conv, p, g[-1]))
            pstairs = _lim.limit_staircases(LIMIT_TOP, pop_bits, conv)
            palphas = np.array([s.alpha for s in pstairs])
            for ste in ("clipped_relu", "relu"):
                g = []
                for s in pstairs:
                    teacher = Teacher(v_star, W_star, s)
                    ref = limit_grad(teacher, v, W)
                    g.append(float(np.linalg.norm(expected_coarse_grad(teacher, v, W, ste)[1] - ref) / np.linalg.norm(ref)))
                gaps[(c, conv, ste, "population ts")] = g
                p = _lim.fit_order(palphas[fit_pop], np.array(g)[fit_pop])
                if ste == "clipped_relu":
                    orders.setdefault(("population", conv, "population ts"), []).append(p)
                else:
                    control.append(("population ts", conv, p, g[-1]))
    checks = []
    for (kind, conv, name), ps in orders.items():
        derived = _lim.DERIVED_ORDER[(kind, conv)]
        checks.append(Check(f"max |fitted order - {derived}|, {name}, {conv} (derived O(alpha^{derived}))",
                            float(np.max(np.abs(np.array(ps) - derived))), "<", ORDER_TOL))
    checks.append(Check("max fitted order with the relu STE where clipped is due (control: must not converge)",
                        float(np.max([p for *_, p, _ in control])), "<", ORDER_TOL))
    checks.append(Check("min relative gap at the largest bit-width, relu STE (control)",
                        float(np.min([g for *_, g in control])), ">", NO_CONVERGENCE))
    checks.append(Check(f"relative gap at {int(sample_bits[-1])} bits, sample ts, clipped relu, ceil",
                        float(np.max([gaps[(c, "ceil", "clipped_relu", "sample ts")][-1] for c in range(cfg["limit_configs"])])),
                        "report"))
    checks.append(Check(f"relative gap at {int(pop_bits[-1])} bits, population, clipped relu, round",
                        float(np.max([gaps[(c, "round", "clipped_relu", "population ts")][-1]
                                      for c in range(cfg["limit_configs"])])), "report"))
    return ClaimResult(14, "the ReLU limit: the coarse gradient tends to the clipped-ReLU network's gradient at the "
                           "derived order in alpha",
                       f"top L alpha = {LIMIT_TOP} fixed, alpha = top / (2^bits - 1); sample: bits {sample_bits.tolist()} "
                       f"(order fitted on bits >= 4), teacher-student (n 4, p 3, K 2, 64 samples) and perceptron "
                       f"(5-8-3, 64 samples, cross-entropy); population (teacher-student, exact): bits {pop_bits.tolist()} "
                       f"(fitted on bits >= 3); {cfg['limit_configs']} random configuration(s); both conventions",
                       tuple(checks), dict(orders={f"{k}": v for k, v in orders.items()},
                                           control=[list(c) for c in control],
                                           gaps={f"{k}": v for k, v in gaps.items()}))


def _gap_ts(Z, v, W, v_star, W_star, staircase, ste, ref):
    y_star = ts_forward(Z, v_star, W_star, staircase).y
    fwd = ts_forward(Z, v, W, staircase)
    _, e = ts_loss(fwd.y, y_star)
    g = ts_coarse_grad(Z, v, fwd, e, ste, staircase).W
    return float(np.linalg.norm(g - ref) / np.linalg.norm(ref))


def _gap_mlp(x, labels, P, staircase, ste, ref_flat):
    fwd = mlp_forward(x, P, staircase)
    _, delta = mlp_loss(fwd.f, labels, "cross_entropy")
    g = mlp_coarse_grad(x, P, fwd, delta, ste, staircase)
    flat = np.concatenate([np.ravel(a) for a in g])
    return float(np.linalg.norm(flat - ref_flat) / np.linalg.norm(ref_flat))
