"""Claims 10-12: the orthogonal-subspace model (SPEC section 8; docs/theory.md section 7;
docs/findings.md S1-S6): not linearly separable yet perfectly classified (10), coarse gradient
descent to hinge loss 0 (11), and the step t* at which every class is covered (12)."""
from __future__ import annotations

import numpy as np

from .. import dynamics as _dyn
from .. import subspaces as _sub
from ..nets import mlp_forward, mlp_loss
from ..quant import Staircase
from ._core import ADMISSIBLE, Check, ClaimResult, claim

__all__ = ["claim_10", "claim_11", "claim_12", "SUBSPACE_REGIME", "subspace_regime", "SUB_K", "SUB_LR", "WENDEL_Z",
           "EFFECT_BAND"]


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


def _sub_run(task, descent=None, *, coverage=None):
    """One seeded training run of claims 11-12: returns the run, its test accuracy on fresh points, the
    data and the staircase. ``task["keep"]`` keeps ``W`` at every step (for :mod:`coarsegrad.dynamics`)."""
    descent = _sub.subspace_descent if descent is None else descent
    bits, conv, m, N, ste, seed = (task[k] for k in ("bits", "conv", "m", "N", "ste", "seed"))
    stair = Staircase(bits, 1.0, conv)
    ss = np.random.SeedSequence(seed).spawn(3)
    data = _sub.orthogonal_subspaces(SUB_K, m, task["n"], seed=ss[0])
    fresh = _sub.orthogonal_subspaces(SUB_K, m, task["n_test"], seed=ss[1])
    x_test = np.concatenate([z @ U.T for z, U in zip(fresh.z, data.bases)])     # fresh points, same subspaces
    p0 = _sub.subspace_init(SUB_K, N, data.x.shape[1], ss[2])
    keep = range(task["steps"] + 1) if task.get("keep") else ()
    run = descent(data, p0, ste, stair, lr=SUB_LR, steps=task["steps"], coverage_every=task.get("every", 25),
                  keep_weights=keep)
    test_acc = _sub.accuracy(mlp_forward(x_test, run.params, stair).f, fresh.labels)
    return run, test_acc, data, stair


@claim
def claim_10(cfg, rng, *, separability=_sub.separability_lp, minimizer=_sub.constructed_minimizer) -> ClaimResult:
    """Orthogonal-subspace data are not linearly separable (LP certificate), yet a constructed
    network of the class has hinge loss 0 and accuracy 1: a global minimizer with perfect classification.

    ``separability(x, labels) -> Separability`` and ``minimizer(data, N, staircase) -> MLPParams``
    are the oracles."""
    # A set counts as certified only on a proven "not separable" (cert.decided): scipy reports a solver's
    # model error with the status of an infeasibility, so the status alone proves nothing (issue 17).
    certified, rows = [], []
    for K, dims, n, dist in cfg["sub_sets"]:
        data = _sub.orthogonal_subspaces(K, dims, n, distribution=dist, seed=rng)
        cert = separability(data.x, data.labels)
        certified.append(bool(cert.decided) and cert.separable is False)
        rows.append(dict(K=K, dims=list(data.dims), n=n, distribution=dist, lp_status=int(cert.status),
                         verdict=cert.verdict if cert.decided else "undecided"))
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
    certified = np.asarray(certified)
    checks = (Check(f"generated sets proven not separable (decided LP certificate), of {len(certified)}",
                    int(np.sum(certified)), "==", len(certified)),
              Check("separable control (3 blobs) proven separable", int(bool(control.decided) and control.separable is True),
                    "==", 1),
              Check(f"max hinge loss of the constructed minimizer ({len(losses)} sets)", float(np.max(losses)), "==", 0.0),
              Check("min accuracy of the constructed minimizer", float(np.min(accs)), "==", 1.0),
              Check("min accuracy, ceil on rotated bases (rounding fires; S3)",
                    float(np.min(ceil_rotated)), "report"))
    return ClaimResult(10, "orthogonal subspaces: not linearly separable, yet perfectly classified by the network",
                       f"{len(cfg['sub_sets'])} sets (K, d_k, n, sphere/gaussian): LP (HiGHS) certificate; minimizer "
                       f"w_kj = s U_k c_j (simplex c_j, N = max d_k + 1), bits {cfg['sub_minimizer_bits']}, "
                       "alpha = 1, margin alpha; ceil on coordinate subspaces, round on rotated ones",
                       checks, dict(sets=rows, control_status=int(control.status), control_verdict=control.verdict))


def _covered_at_init(classes) -> int:
    return int(np.sum([bool(c.covered) for c in classes]))


def _wendel_z(trials) -> tuple[float, int, float, float]:
    """Binomial z-score of covered classes over distinct initializations: ``trials`` holds
    ``(covered 0/1, p)`` per class of each distinct initialization (independent Bernoulli(p): the
    projections of an isotropic Gaussian on orthogonal subspaces are independent)."""
    obs = np.array([t[0] for t in trials], dtype=np.float64)
    p = np.array([t[1] for t in trials], dtype=np.float64)
    var = float(np.sum(p * (1 - p)))
    z = float((np.sum(obs) - np.sum(p)) / np.sqrt(var)) if var > 0 else float("nan")
    return z, int(obs.size), float(np.sum(obs)), float(np.sum(p))


#: |z| of the observed number of covered classes at initialization against Wendel's formula.
WENDEL_Z = 4.0


@claim
def claim_11(cfg, rng, *, descent=_sub.subspace_descent, coverage_probability=_sub.coverage_probability,
             class_coverage=_sub.class_coverage) -> ClaimResult:
    """Full-batch coarse gradient descent with an admissible STE reaches hinge loss exactly 0 -- a
    global minimum, hence perfect training classification -- from random initialization, in the
    regime of :data:`SUBSPACE_REGIME`; Wendel's coverage probability at initialization judged by a
    binomial z-score over distinct initializations; one-bit ceil never reaching loss 0 (S2) judged;
    generalization to fresh points, the identity STE and the other configurations outside the regime reported.

    Oracles: ``descent(data, params0, ste, staircase, *, lr, steps, coverage_every) -> SubspaceRun``,
    ``coverage_probability(N, m)`` (Wendel) and ``class_coverage(params, bases, N, method=)``. Success is
    read from the final weights (hinge loss recomputed, exactly 0), not from the run's own records."""
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(rng.integers(2**31))).spawn(cfg["sub_seeds"])]
    base = dict(n=cfg["sub_n"], n_test=cfg["sub_test"], steps=cfg["sub_steps"], every=10**9)

    def succeeded(run, data, stair):
        f = mlp_forward(data.x, run.params, stair).f
        return mlp_loss(f, data.labels, "hinge", margin=stair.alpha)[0] == 0.0, _sub.accuracy(f, data.labels)

    success, final_acc, test_acc, per_config, trials = [], [], [], {}, []
    for bits, conv, m, N in cfg["sub_regime"]:
        if not all(subspace_regime(ste, bits, conv, m, N) for ste in ADMISSIBLE):
            raise ValueError(f"preset config {(bits, conv, m, N)} lies outside SUBSPACE_REGIME; list it in sub_outside")
        key = f"bits {bits} {conv}, d_k {m}, N {N}"
        rates = []
        for ste in ADMISSIBLE:
            for s in seeds:
                run, acc, data, stair = _sub_run(dict(base, bits=bits, conv=conv, m=m, N=N, ste=ste, seed=s), descent,
                                                 coverage=class_coverage)
                ok, train_acc = succeeded(run, data, stair)
                success.append(ok)
                rates.append(ok)
                final_acc.append(train_acc)
                test_acc.append(acc)
        per_config[key] = dict(success_rate=float(np.mean(rates)))
    # Wendel: every class of every DISTINCT initialization once (the STEs share their initializations)
    init_rng = np.random.default_rng(int(rng.integers(2**31)))
    for N, m in cfg["sub_wendel"]:
        bases = _sub.orthogonal_subspaces(SUB_K, m, 1, seed=init_rng).bases
        p = coverage_probability(N, m)
        for _ in range(cfg["sub_wendel_inits"]):
            p0 = _sub.subspace_init(SUB_K, N, SUB_K * m, init_rng)
            trials += [(float(bool(c.covered)), p) for c in class_coverage(p0, bases, N, method="auto")]
    z, n_trials, observed, expected = _wendel_z(trials)
    identity = []
    for bits, conv, m, N in cfg["sub_regime"][:1]:
        for s in seeds:
            run, _, data, stair = _sub_run(dict(base, bits=bits, conv=conv, m=m, N=N, ste="identity", seed=s,
                                                steps=cfg["sub_stuck_steps"]), descent)
            identity.append(succeeded(run, data, stair)[0])
    outside = {}
    for bits, conv, m, N, *ste in cfg["sub_outside"]:
        ste = ste[0] if ste else "relu"
        oks = []
        for s in seeds:
            run, _, data, stair = _sub_run(dict(base, bits=bits, conv=conv, m=m, N=N, ste=ste, seed=s,
                                                steps=cfg["sub_stuck_steps"]), descent)
            oks.append(succeeded(run, data, stair)[0])
        outside[(bits, conv, m, N, ste)] = float(np.mean(oks))
    runs = len(success)
    checks = [Check(f"success rate (hinge loss exactly 0, from the final weights), admissible STEs, {runs} runs",
                    float(np.mean(success)), ">=", 1.0),
              Check("min final training accuracy", float(np.min(final_acc)), "==", 1.0),
              Check(f"|z| covered classes at init vs Wendel, {n_trials} classes of distinct inits "
                    f"(observed {observed:.0f}, expected {expected:.1f})", abs(z), "<", WENDEL_Z),
              Check("mean test accuracy on fresh points", float(np.mean(test_acc)), "report"),
              Check("min test accuracy on fresh points", float(np.min(test_acc)), "report"),
              Check(f"identity STE success rate, {cfg['sub_regime'][0]}",
                    float(np.mean(identity)), "report")]
    for (bits, conv, m, N, ste), rate in outside.items():
        label = f"success rate, {ste} {bits}b {conv} d_k={m} N={N}"
        if bits == 1 and conv == "ceil":           # S2: sigma(h) = alpha 1{h > 0} cannot silence a foreign neuron
            checks.append(Check(label + " (S2: never)", rate, "==", 0.0))
        else:
            checks.append(Check(label, rate, "report"))
    return ClaimResult(11, "coarse gradient descent reaches a global minimum (hinge loss 0): perfect classification",
                       f"regime: {SUBSPACE_REGIME}. K = {SUB_K}, n = {cfg['sub_n']} points per class on unit spheres, "
                       f"w ~ N(0, I), alpha = 1, full batch, lr = {SUB_LR}, <= {cfg['sub_steps']} steps "
                       f"({cfg['sub_stuck_steps']} for identity and outside the regime), "
                       f"{cfg['sub_seeds']} seeds; configs (bits, convention, d_k, N) {list(cfg['sub_regime'])}; "
                       f"Wendel: {cfg['sub_wendel_inits']} fresh inits per (N, d_k) {list(cfg['sub_wendel'])}",
                       tuple(checks), dict(per_config=per_config, identity_success=identity,
                                           outside={f"{k}": v for k, v in outside.items()}, seeds=seeds,
                                           wendel=dict(z=z, classes=n_trials, observed=observed, expected=expected)))


# =========================================================================================
# 12. The companion's slow-to-fast statement, measured with its own quantities
# =========================================================================================

#: A coverage effect on the direction speed smaller than this factor (either way) is "no transition at t*".
EFFECT_BAND = 1.5


@claim
def claim_12(cfg, rng, *, descent=_sub.subspace_descent, dynamics=_dyn.class_dynamics,
             statistics=_dyn.event_statistics) -> ClaimResult:
    """No slow-to-fast transition of the weight directions at t*: around the step ``t*`` at which a class
    becomes covered, the angular speed of its own weight directions -- relative to classes covered from
    initialization, at the same steps -- changes (after/before, equal windows) within a factor
    :data:`EFFECT_BAND` of how it changes around steps at the same relative position of other class-runs'
    ``t*`` (median over class-runs). What a weaker null (uniform random steps) would suggest, the
    rank tests, and the raw rates around ``t*`` are reported (docs/findings.md, S5).

    Oracles: ``descent`` (as in claim 11), ``dynamics(run, data) -> list of ClassDynamics`` and
    ``statistics(classes, rng, *, splits=None, null=) -> dict`` (:mod:`coarsegrad.dynamics`)."""
    gen = np.random.SeedSequence(int(rng.integers(2**31)))
    classes, zero = [], 0
    steps = cfg["sub_slow_fast_steps"]
    for ss in gen.spawn(cfg["sub_slow_fast_seeds"]):
        s = int(ss.generate_state(1)[0])
        run, _, data, _ = _sub_run(dict(n=cfg["sub_n"], n_test=1, steps=steps, bits=2, conv="round", m=2, N=4,
                                        ste="relu", seed=s, every=10**9, keep=True), descent)
        zero += run.zero_loss_step is not None
        classes += dynamics(run, data)
    stat_rng = np.random.default_rng(int(rng.integers(2**31)))
    st = statistics(classes, stat_rng)
    uniform = statistics(classes, stat_rng, null="uniform")
    events = [c for c in classes if c.t_star is not None and 0 < c.t_star < c.horizon]
    controls = [c for c in classes if c.t_star == 0]
    fractions = np.array([c.t_star / c.end for c in events], dtype=np.float64)
    shuffled = [int(np.clip(np.rint(f * c.end), 1, c.horizon - 1)) for f, c in zip(np.roll(fractions, 1), events)]
    st_shuffled = statistics(classes, stat_rng, splits=shuffled)
    frac = float(np.median(fractions)) if events else float("nan")

    def med(rows, key):
        a = np.array([r[key] for r in rows], dtype=np.float64)
        a = a[np.isfinite(a)]
        return float(np.median(a)) if a.size else float("nan")

    at = [_dyn.window_ratios(c, c.t_star) for c in events]
    ctl = [_dyn.window_ratios(c, int(round(frac * c.end))) for c in controls] if events else []
    checks = (Check("event class-runs: uncovered at init, covered within the run", len(events), ">=",
                    cfg["sub_slow_fast_runs"]),
              Check(f"|log| coverage effect on the own-direction angular speed: (ratio at t*) / (ratio at steps at "
                    f"t*'s relative position), median of {st['n']} class-runs (effect {st['effect']:.3f})",
                    float(np.abs(np.log(st["effect"]))), "<", float(np.log(EFFECT_BAND))),
              Check("rank z of t* among position-matched steps (angular speed, relative)", st["z_rank"], "report"),
              Check("  the same against uniform random steps (a weaker null: position in the run, not coverage)",
                    uniform["z_rank"], "report"),
              Check("  the same with t* shuffled among class-runs (control)", st_shuffled["z_rank"], "report"),
              Check("median angular-speed ratio after/before t* (raw: it falls, as after any step of the descent)",
                    med(at, "angular_speed"), "report"),
              Check("  the same at a matched split of classes covered at init", med(ctl, "angular_speed"), "report"),
              Check("median convergence-rate ratio (log |u_t - u_limit|) after/before t*", med(at, "convergence_rate"),
                    "report"),
              Check("  the same at a matched split of classes covered at init", med(ctl, "convergence_rate"), "report"),
              Check("median loss-decrease ratio after/before t*", med(at, "loss_rate"), "report"))
    return ClaimResult(12, "no slow-to-fast transition of the weight directions (angular speed) at t*",
                       f"bits 2 round, K = {SUB_K}, d_k = 2, N = 4 (= 2 d_k, so that classes start uncovered), "
                       f"n = {cfg['sub_n']}, w ~ N(0, I), relu STE, hinge (margin alpha), lr = {SUB_LR}, <= {steps} "
                       f"steps, {cfg['sub_slow_fast_seeds']} seeds ({zero} reached loss 0); per class: t* at step "
                       "resolution, equal windows min(t*, end - 1 - t*), angular speed relative to the classes covered "
                       f"at init ({len(controls)}); {len(events)} events (docs/findings.md, S5)",
                       checks, dict(events=len(events), controls=len(controls), median_tstar_fraction=frac,
                                    effect=st["effect"], statistics=st, uniform=uniform, shuffled=st_shuffled,
                                    zero_loss_runs=zero))
