"""Claims 10-12: the orthogonal-subspace model (SPEC section 8; docs/theory.md section 7;
docs/findings.md S1-S6): not linearly separable yet perfectly classified (10), coarse gradient
descent to hinge loss 0 (11), and the step t* at which every class is covered (12)."""
from __future__ import annotations

import numpy as np

from .. import subspaces as _sub
from ..nets import mlp_forward, mlp_loss
from ..quant import Staircase
from ._core import ADMISSIBLE, Check, ClaimResult, claim

__all__ = ["claim_10", "claim_11", "claim_12", "SUBSPACE_REGIME", "subspace_regime", "SUB_K", "SUB_LR"]


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


@claim
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


@claim
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


@claim
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
