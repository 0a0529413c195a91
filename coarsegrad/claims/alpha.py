"""Claim 13: learnable resolution alpha (SPEC section 9) -- the bias of each alpha-gradient rule, and
joint coarse gradient descent in (W, alpha)."""
from __future__ import annotations

import numpy as np

from ..alpha import ALPHA_RULES as _ALPHA_RULES
from ..population import Teacher, random_teacher
from ..population.alpha import (alpha_jump_terms as _alpha_jump_terms, expected_alpha_grad as _expected_alpha_grad,
                                joint_descent as _joint_descent, joint_population_grad as _joint_population_grad)
from ..quant import Staircase
from ..train import default_population_lr
from ._core import Check, ClaimResult, claim

__all__ = ["claim_13", "alpha_rule_stall", "ALPHA_RULE_STALL_COUNTEREXAMPLE", "JOINT_F_TOL", "JOINT_ALPHA_TOL"]


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


#: The stability run: joint descent at this many bits (L = 15, where the ae rule's bias is far from 0 and a
#: step lr in alpha instead of lr / L^2 overshoots f by 15-30x within 100 steps, docs/findings.md A4).
STABILITY_BITS, STABILITY_STEPS = 4, 100


def _joint_runs(rng, bits_list, inits, steps, rules, joint_descent):
    """Joint descent from random starts; per run the f ratio and |alpha/alpha* - 1|. Start ``i`` has
    ``alpha0 = alpha* e^(+-u)``, ``u ~ U(0.2, 0.7)``, above ``alpha*`` for even ``i`` and below for odd ``i``
    (so one start per bit-width already tests the side where 'pact' stalls)."""
    runs = []
    for bits in bits_list:
        for i in range(inits):
            teacher = random_teacher(4, 3, 2, Staircase(bits, 1.0), rng, v_star=np.abs(rng.standard_normal(3)) + 0.2)
            W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
            a0 = float(np.exp(rng.uniform(0.2, 0.7) * (1 if i % 2 == 0 else -1)))
            lr = default_population_lr(teacher)
            for rule in rules:
                _, a, hist = joint_descent(teacher, W0, a0, "clipped_relu", rule, lr=lr, lr_alpha=lr / teacher.staircase.L**2,
                                           steps=steps, tol=JOINT_F_TOL / 10, record_every=steps)
                runs.append(dict(bits=bits, rule=rule, alpha0=a0, alpha=a, f_ratio=float(hist["loss"][-1] / hist["loss"][0]),
                                 alpha_error=abs(a - 1.0), steps=hist.step[-1]))
    return runs


def _stability_run(rng, joint_descent, jump_terms):
    """A short joint descent (ae) at :data:`STABILITY_BITS` bits from ``alpha0 = e^0.5 alpha*``: the ae
    bias at the start and ``max_t f_t / f_0``."""
    teacher = random_teacher(4, 3, 2, Staircase(STABILITY_BITS, 1.0), rng, v_star=np.abs(rng.standard_normal(3)) + 0.2)
    W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
    a0 = float(np.exp(0.5))
    lr = default_population_lr(teacher)
    _, _, hist = joint_descent(teacher, W0, a0, "clipped_relu", "ae", lr=lr, lr_alpha=lr / teacher.staircase.L**2,
                               steps=STABILITY_STEPS)
    loss = hist["loss"]
    return dict(bias=float(jump_terms(teacher, teacher.v_star, W0, a0)), max_f_ratio=float(np.max(loss) / loss[0]),
                f_ratio=float(loss[-1] / loss[0]))


def _fold(fn, values) -> float:
    """``fn`` over the values (NaN propagates), NaN when there are none (a judged row then fails)."""
    return float(fn(values)) if len(values) else float("nan")


@claim
def claim_13(cfg, rng, *, expected_alpha_grad=_expected_alpha_grad,
             joint_population_grad=_joint_population_grad, joint_descent=_joint_descent,
             alpha_jump_terms=_alpha_jump_terms) -> ClaimResult:
    """Learnable alpha: the 'ae' rule's bias is exactly (1/alpha) W . grad_W f (so it is exact wherever
    grad_W f = 0); how often each rule's E g_alpha is a descent direction of f in alpha (reported: every rule
    has counterexamples); joint coarse gradient descent in (W, alpha) with lr_alpha = lr / L^2 reaches
    (W*, alpha*) with 'ae' (every run measured) and never raises f at 4 bits (where the ae bias is not 0 and
    lr_alpha = lr overshoots), while 'pact' stalls at bits 1 from alpha0 > alpha* (judged) and
    'min' and 'mean' stall on :data:`ALPHA_RULE_STALL_COUNTEREXAMPLE`. The three library functions are the oracles."""
    identity_errors, descent = [], {r: [] for r in _ALPHA_RULES}
    for _ in range(cfg["alpha_configs"]):
        teacher, W, alpha = _alpha_config(rng)
        v = teacher.v_star
        gW, dalpha = joint_population_grad(teacher, v, W, alpha)
        g = {r: expected_alpha_grad(teacher, v, W, alpha, r) for r in _ALPHA_RULES}
        euler = float(np.sum(W * gW)) / alpha
        scale = abs(g["ae"]) + abs(dalpha) + float(np.sum(np.abs(W * gW))) / alpha
        identity_errors.append(abs(g["ae"] - dalpha - euler) / scale)
        for r in _ALPHA_RULES:
            descent[r].append(g[r] * dalpha > 0)
    runs = _joint_runs(rng, cfg["alpha_joint_bits"], cfg["alpha_joint_inits"], cfg["alpha_joint_steps"], ("ae", "pact"),
                       joint_descent)
    checks = [Check("max |E g_ae - df/dalpha - (1/alpha) W.grad_W f| / scale", float(np.max(identity_errors)), "<", 1e-10)]
    checks += [Check(f"fraction of random (W, alpha) where E g_{r} descends f in alpha", float(np.mean(descent[r])),
                     "report") for r in _ALPHA_RULES]
    ae_runs = [r for r in runs if r["rule"] == "ae"]
    pact_stall = [r for r in runs if r["rule"] == "pact" and r["bits"] == 1 and r["alpha0"] > 1.0]
    pact_other = [r["f_ratio"] for r in runs if r["rule"] == "pact" and r not in pact_stall]
    checks += [Check("max f(final)/f(initial), joint descent, rule ae", float(np.max([r["f_ratio"] for r in ae_runs])),
                     "<", JOINT_F_TOL),
               Check("max |alpha/alpha* - 1|, joint descent, rule ae",
                     float(np.max([r["alpha_error"] for r in ae_runs])), "<", JOINT_ALPHA_TOL),
               # 'pact' (r = 0 inside (0, L alpha]) at 1 bit from above alpha*: alpha hardly moves (measured
               # |alpha/alpha* - 1| = 0.26-0.65 after 800 steps, 4 seeds) while W still lowers f; from below it
               # reaches (W*, alpha*) like 'ae'.
               Check("min |alpha/alpha* - 1|, joint descent, rule pact, bits 1, alpha0 > alpha* (alpha stalls)",
                     _fold(np.min, [r["alpha_error"] for r in pact_stall]), ">", 0.1),
               Check("max f(final)/f(initial), joint descent, rule pact, bits 1, alpha0 > alpha*",
                     _fold(np.max, [r["f_ratio"] for r in pact_stall]), "report"),
               Check("max f(final)/f(initial), joint descent, rule pact, alpha0 < alpha* or bits > 1",
                     _fold(np.max, pact_other), "report" if pact_other else "skipped")]
    stability = _stability_run(rng, joint_descent, alpha_jump_terms)
    checks += [Check(f"|E g_ae - df/dalpha| at the start of the {STABILITY_BITS}-bit run (the ae bias is not 0 there)",
                     abs(stability["bias"]), ">", 1e-3),
               Check(f"max_t f_t/f_0, joint descent, ae, {STABILITY_BITS} bits, lr_alpha = lr/L^2, {STABILITY_STEPS} steps",
                     stability["max_f_ratio"], "<=", 1.0)]
    stall = {}
    if cfg["alpha_counterexample"]:
        stall = alpha_rule_stall(joint_descent=joint_descent)
        checks.append(Check("min f(final)/f(initial) of 'min' and 'mean' on the stall counterexample",
                            float(np.min([stall[r]["f_ratio"] for r in ("min", "mean")])), "report"))
    else:
        checks.append(Check("stall counterexample of 'min' and 'mean' (6000 descent steps): full preset and "
                            "tests/test_population_alpha.py", float("nan"), "skipped"))
    return ClaimResult(13, "learnable alpha: the ae rule's bias is (1/alpha) W.grad_W f; joint descent reaches "
                           "(W*, alpha*) with ae",
                       f"{cfg['alpha_configs']} random teachers (ceil and round, bits 1-4, v = v* > 0), alpha/alpha* in "
                       f"[e^-1.2, e^1.2]; joint descent: clipped ReLU, bits {list(cfg['alpha_joint_bits'])}, "
                       f"lr = 1/(|v*|^2 + (sum v*)^2), lr_alpha = lr/L^2, {cfg['alpha_joint_steps']} steps",
                       tuple(checks), dict(runs=runs, descent_fraction={r: float(np.mean(d)) for r, d in descent.items()},
                                           stall=stall, stability=stability))


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
