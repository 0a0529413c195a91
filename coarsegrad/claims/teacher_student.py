"""Claims 3-8: the teacher-student model. Exact Gaussian expectations against Monte Carlo and finite
differences (3-5), descent (6), convergence of coarse gradient descent (7) and the ICLR 2019
contrast at a spurious minimizer (8)."""
from __future__ import annotations

import numpy as np

from ..estimators import Estimate, cosine, finite_difference, monte_carlo, z_scores
from ..nets import ts_coarse_grad, ts_forward, ts_loss
from ..population import (Teacher, expected_coarse_grad, moment_c, moment_m, moment_q,
                          population_grad, population_loss, random_teacher)
from ..quant import Staircase
from ..ste import check_admissible
from ..train import SGD, default_population_lr, population_descent, ts_sgd
from ._core import ADMISSIBLE, ALL_STES, Check, ClaimResult, claim

__all__ = ["claim_3", "claim_4", "claim_5", "claim_6", "claim_7", "claim_8", "descent_regime", "counterexample_cosines",
           "spurious_minimizer", "RELU_OVERSHOOT_COUNTEREXAMPLE", "ANTIPODAL_WEDGE_COUNTEREXAMPLE",
           "MC_Z", "FD_RTOL", "GD_TOL", "SGD_AGREEMENT", "THETA_MAX"]


#: Thresholds, each with its reason.
#: Thresholds, each with its reason.
MC_Z = 4.0          # |z| of a projection of an exact expectation against its Monte Carlo estimate
FD_RTOL = 1e-6      # relative error of grad f against central differences of f
GD_TOL = 1e-8       # coarse gradient descent must bring f below this fraction of f(initial)
SGD_AGREEMENT = 0.995  # held-out agreement with the teacher's labels after stochastic training
THETA_MAX = 0.75 * np.pi  # the descent regime's angle bound (docs/findings.md)


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


@claim
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

@claim
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

@claim
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


@claim
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


def _claim_7_run(task: dict) -> dict:
    """One of claim 7's independent trainings (top level: it goes to a worker process whole).

    ``task["kind"]`` is ``"population"`` (coarse GD on ``f`` with the exact ``E g``, from ``W0``) or ``"sgd"``
    (``ts_sgd`` on the sample, scored on the held-out set); the driver is the task's own oracle."""
    if task["kind"] == "population":
        teacher, cfg = task["teacher"], task["cfg"]
        _, W, hist = task["driver"](teacher, task["W0"], task["ste"], lr=default_population_lr(teacher),
                                    steps=cfg["gd_steps"], tol=GD_TOL / 10, record_every=cfg["gd_steps"])
        ratio = float(hist["loss"][-1] / hist["loss"][0])
        return dict(ste=task["ste"], bits=task["bits"], steps=hist.step[-1], f_ratio=ratio,
                    w_error=_direction_error(W, teacher.W_star, task["bits"]))
    teacher, (Z, y, Z_test, y_test) = task["teacher"], task["data"]
    sgd = SGD(lr=0.5 * default_population_lr(teacher), epochs=task["cfg"]["sgd_epochs"], batch_size=64, momentum=0.9,
              schedule="cosine")
    _, _, hist = task["driver"](Z, y, task["W0"], teacher.v_star, task["ste"], teacher.staircase, sgd,
                                seed=task["seed"], eval_data=(Z_test, y_test))
    return dict(ste=task["ste"], agreement=float(hist["agreement"][-1]))


@claim
def claim_7(cfg, rng, *, population_descent=population_descent, ts_sgd=ts_sgd, map_fn=map) -> ClaimResult:
    """Coarse gradient descent reaches the global minimum: f -> 0, w_k -> w*_k; SGD on samples
    agrees with the teacher on held-out data. The two training drivers are the oracles; ``map_fn`` runs
    the independent trainings (the builtin ``map``, or a pool's: :func:`run_claims` with workers)."""
    tasks = []
    for i in range(cfg["gd_inits"]):
        for bits in cfg["gd_bits"]:
            teacher, _ = _random_config(rng, bits=bits, v_positive=True, K=3)
            W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
            tasks += [dict(kind="population", driver=population_descent, cfg=cfg, teacher=teacher, W0=W0, ste=ste,
                           bits=bits) for ste in (ADMISSIBLE if i == 0 else ("clipped_relu",))]
    # Stochastic coarse gradients on a finite sample, agreement on held-out data.
    stair = Staircase(2, 1.0)
    teacher = random_teacher(8, 6, 4, stair, rng, v_star=np.abs(rng.standard_normal(6)) + 0.2)
    N = cfg["sgd_samples"]
    Z, Z_test = _sample_Z(rng, N, teacher), _sample_Z(rng, 10000, teacher)
    y = ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
    y_test = ts_forward(Z_test, teacher.v_star, teacher.W_star, stair).y
    W0 = rng.standard_normal(teacher.W_star.shape) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(teacher.n)
    # One seed per SGD run, drawn in the order the runs were once made one after the other.
    tasks += [dict(kind="sgd", driver=ts_sgd, cfg=cfg, teacher=teacher, data=(Z, y, Z_test, y_test), W0=W0, ste=ste,
                   seed=int(rng.integers(2**31))) for ste in ("clipped_relu", "relu")]
    done = list(map_fn(_claim_7_run, tasks))
    runs = [r for r in done if "f_ratio" in r]
    ratios, dir_errors = [r["f_ratio"] for r in runs], [r["w_error"] for r in runs]
    agreements = {r["ste"]: r["agreement"] for r in done if "agreement" in r}
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


def _distance_to_spurious_set(v, W, v_s, W_s) -> float:
    """Distance from ``(v, W)`` to the spurious minimizers ``{(v_s, c W_s): c > 0}`` in the coordinates ``f``
    sees at bits 1: ``v`` and the direction of ``W`` (``f`` and ``E g`` do not depend on ``|w|``, so sliding
    along the ray is no escape; docs/findings.md, F4),
    ``hypot(|v - v_s|, |W_s| |W / |W| - W_s / |W_s||)``. NaN at ``W = 0``, where the direction is undefined."""
    r_s = np.linalg.norm(W_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        turn = r_s * np.linalg.norm(W / np.linalg.norm(W) - W_s / r_s)
    return float(np.hypot(np.linalg.norm(v - v_s), turn))


@claim
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
    start_set = _distance_to_spurious_set(v0, W0, v_s, W_s)
    dist, dist_set = {}, {}
    for ste in ("relu", "identity"):
        v, W, _ = population_descent(teacher, W0, ste, lr=0.1, steps=cfg["spurious_steps"], v0=v0, train_v=True,
                                     record_every=cfg["spurious_steps"])
        dist[ste] = float(np.hypot(np.linalg.norm(v - v_s), np.linalg.norm(W - W_s)))
        dist_set[ste] = _distance_to_spurious_set(v, W, v_s, W_s)
    return ClaimResult(8, "ICLR 2019: identity STE unstable at a spurious minimum where ReLU STE is stable",
                       "bits 1, K 1, p 5, n 4, v trained; spurious local min theta = pi, v = 2(sum v*)/(p+1) 1 - v*; "
                       f"coarse GD (exact E g), lr 0.1, {cfg['spurious_steps']} steps from a 1% perturbation. At bits 1 "
                       "f does not depend on |w|: the minimizers form the set {(v_s, c W_s), c > 0} (docs/findings.md, F4)",
                       (Check("|grad f| at the spurious minimizer", grad_norm, "<", 1e-12),
                        Check("|E g_W|, relu STE, at the spurious minimizer", norms["relu"], "<", 1e-12),
                        Check("|E g_W|, identity STE, at the spurious minimizer", norms["identity"], ">", 1e-4),
                        Check("distance to the set of spurious minimizers after / at start, relu",
                              dist_set["relu"] / start_set, "<=", 1.0),
                        Check("distance from the spurious minimizer after / at start, identity",
                              dist["identity"] / start, ">=", 10.0),
                        Check("distance to the set of spurious minimizers after / at start, identity",
                              dist_set["identity"] / start_set, "report"),
                        Check("distance from the spurious minimizer after / at start, relu", dist["relu"] / start,
                              "report")),
                       dict(v_star=v_star, v_spurious=v_s, start_distance=start, final_distance=dist,
                            start_distance_to_set=start_set, final_distance_to_set=dist_set,
                            v_dot_vstar=float(v_s @ v_star)))
