"""Mutation check: does the test suite catch deliberate bugs? (docs/testing.md)

Each mutation is a named ``(path, old, new)`` replacement of exact text in one file, with the fast
tests that should catch it. For each, the repository is copied to a temporary directory, the one
file is patched there, and the tests run against the copy (``PYTHONPATH`` points at it, so the
installed package is not used). A mutation is *caught* when the tests fail, *survived* when they
pass. A mutation whose ``old`` text is no longer in its file is reported as *stale* (the code
moved: update the triple).

    python scripts/mutate.py                 # every mutation
    python scripts/mutate.py --list          # names only
    python scripts/mutate.py -k rho gram     # mutations whose name contains any of these words
    python scripts/mutate.py --timeout 600

Exit status 0 when every mutation is caught (or listed in EQUIVALENT with a reason), 1 otherwise.
Not a CI step: about 20 minutes on 2 cores. The tests are run with ``-x -m "not slow"``. The mutations
of issue 17 (certificates, subspaces, divergence, alpha, claims 11/13, CLI errors), about 10 minutes::

    python scripts/mutate.py -k separability_lp covered "gaussian subspace" wendel coverage_probability "t*:" \
        subspace_descent subspace_init "own norm" check_iterates end-of-epoch "joint alpha" "claim 13" \
        "rule min" "claim 11" cli:
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str          # relative to the repository root
    old: str           # exact text, must occur exactly once
    new: str
    tests: tuple       # pytest arguments (files, globs, node ids, -k expressions)


POP = "coarsegrad/population"
CLAIMS = "coarsegrad/claims"
SUB = "coarsegrad/subspaces.py"
CERT = "coarsegrad/certificates.py"
T_QUANT = ("tests/test_quant.py",)
T_STE = ("tests/test_ste.py",)
T_NETS = ("tests/test_nets.py",)
T_MOM = ("tests/test_population_moments.py",)
T_GRAD = ("tests/test_population_geometry.py", "tests/test_population_gradient.py::test_gradient_matches_finite_differences",
          "tests/test_population_coarse.py::test_expected_v_gradient_equals_finite_differences_of_the_loss",
          "tests/test_population_coarse.py::test_expected_coarse_gradient_agrees_with_monte_carlo")
T_NORMS = ("tests/test_population_coarse.py::test_extreme_norms_stay_finite",)
T_RULES = ("tests/test_train_rules.py",)
T_CLAIMS = ("tests/test_claims.py", "-k",
            "fails or check or fold or resolution or oracles or passes_at_quick or atlas or finding_F1")
T_EST = ("tests/test_estimators.py",)
T_SUB = "tests/test_subspaces.py"
T_SEP = (T_SUB, "-k", "separab")
T_COV = (T_SUB, "-k", "coverage")
T_WENDEL = (T_SUB, "-k", "wendel")
T_DESCENT = (T_SUB, "-k", "descent or t_star or geometry or subspace_init or gaussian")
T_DIVERGE = ("tests/test_train.py", "-k", "iterates or exploding or sane or diverg")
T_ALPHA = ("tests/test_alpha.py",)
T_POP_ALPHA = ("tests/test_population_alpha.py",)
T_CLAIM13 = ("tests/test_claims.py", "-k", "13 or alpha")
T_CLI_ERRORS = ("tests/test_cli.py", "-k", "internal or debug or validation_layer or divergence")

MUTATIONS = [
    # --- the staircase: kink values and intervals
    Mutation("sigma: value at a threshold (z >= t_k)", "coarsegrad/quant.py",
             "count = np.greater(z, t[0]).view(np.uint8)", "count = np.greater_equal(z, t[0]).view(np.uint8)",
             T_QUANT),
    Mutation("sigma: one threshold dropped", "coarsegrad/quant.py",
             "            for t_k in t[1:]:\n", "            for t_k in t[2:]:\n", T_QUANT),
    Mutation("staircase: ceil thresholds shifted", "coarsegrad/quant.py",
             "return (np.arange(self.L, dtype=dtype) + dtype.type(self.shift)) * self._alpha_in(dtype)",
             "return (np.arange(self.L, dtype=dtype) + dtype.type(self.shift + 1e-3)) * self._alpha_in(dtype)",
             T_QUANT),
    # --- STEs: kink values, intervals, tails
    Mutation("relu STE: mu'(0) = 1", "coarsegrad/ste.py",
             "return (z > 0).astype(z.dtype)                        # mu'(0) = 0",
             "return (z >= 0).astype(z.dtype)", T_STE),
    Mutation("clipped relu STE: open at L alpha", "coarsegrad/ste.py",
             "return ((z > 0) & (z <= top)).astype(z.dtype)", "return ((z > 0) & (z < top)).astype(z.dtype)", T_STE),
    Mutation("clipped relu STE: interval to 2 L alpha", "coarsegrad/ste.py",
             "return ((z > 0) & (z <= top)).astype(z.dtype)", "return ((z > 0) & (z <= 2 * top)).astype(z.dtype)",
             T_STE),
    Mutation("clipped relu pieces: interval to 2 L alpha", "coarsegrad/ste.py",
             "pieces=lambda staircase: ((0.0, staircase.top, 1.0),),",
             "pieces=lambda staircase: ((0.0, 2 * staircase.top, 1.0),),", T_STE),
    Mutation("log-tailed STE: tail 1/(2 + z - top)", "coarsegrad/ste.py",
             "1 / (1 + np.maximum(z - top, 0))", "1 / (1 + 2 * np.maximum(z - top, 0))", T_STE),
    Mutation("identity STE: slope 0.5", "coarsegrad/ste.py",
             "def _identity_mu_prime(z, staircase):\n    return np.ones_like(z)",
             "def _identity_mu_prime(z, staircase):\n    return 0.5 * np.ones_like(z)", T_STE),
    # --- hand-written backward passes
    Mutation("ts_coarse_grad: sign of g_W", "coarsegrad/nets.py",
             'g_W = np.einsum("spn,spk->nk", Z, back)', 'g_W = -np.einsum("spn,spk->nk", Z, back)', T_NETS),
    Mutation("ts_coarse_grad: v dropped from the backward pass", "coarsegrad/nets.py",
             "back = mu_prime(fwd.h, staircase) * v[:, None] * e[:, None, :]",
             "back = mu_prime(fwd.h, staircase) * e[:, None, :]", T_NETS),
    Mutation("mlp_coarse_grad: mu' dropped", "coarsegrad/nets.py",
             "    G *= mu_prime(fwd.h, staircase)", "    G *= 1.0", T_NETS),
    Mutation("ts_loss: e without 1/N", "coarsegrad/nets.py",
             "    N = r.shape[0]\n    return 0.5 * float(np.sum(r * r)) / N, r / N",
             "    N = r.shape[0]\n    return 0.5 * float(np.sum(r * r)) / N, r", T_NETS),
    # --- population formulas
    Mutation("moments: q without the odd weights", f"{POP}/moments.py",
             "q = alpha**2 * (Q * odd).sum(axis=1)", "q = alpha**2 * Q.sum(axis=1)", T_MOM),
    Mutation("moments: c with the teacher thresholds' sign flipped", f"{POP}/moments.py",
             "P = _bvn_cdf(-geom.t[on][:, :, None], -geom.c[on][:, None, :],",
             "P = _bvn_cdf(-geom.t[on][:, :, None], geom.c[on][:, None, :],", T_MOM),
    Mutation("grad f / E g: sign of the C term", f"{POP}/gradient.py",
             "along = coef * vec.a + (v @ v) * vec.b - (v @ vs) * vec.C_w",
             "along = coef * vec.a + (v @ v) * vec.b + (v @ vs) * vec.C_w", T_GRAD),
    Mutation("grad f / E g: perpendicular part dropped", f"{POP}/gradient.py",
             "return along * mo.geom.w_hat - (v @ vs) * vec.C_perp * mo.geom.e_perp",
             "return along * mo.geom.w_hat", T_GRAD),
    Mutation("grad_v f: variance term dropped", f"{POP}/gradient.py",
             "+ (mo.q - mo.m**2)[:, None] * v", "+ (mo.q)[:, None] * v", T_GRAD),
    # --- precision safeguards
    Mutation("geometry: second Gram-Schmidt pass removed", f"{POP}/geometry.py",
             "    d -= np.sum(w_hat * d, axis=0) * w_hat", "    pass", T_GRAD),
    Mutation("geometry: naive rho = w^ . w*^", f"{POP}/geometry.py",
             "rho = np.where(both, (b * b - a * a) / safe, 0.0)",
             "rho = np.where(both, np.clip(np.sum(w_hat * ws_hat, axis=0), -1, 1), 0.0)", T_GRAD),
    Mutation("geometry: naive sin theta = sqrt(1 - rho^2)", f"{POP}/geometry.py",
             "s = np.where(both, 2.0 * a * b / safe, 1.0)",
             "s = np.where(both, np.sqrt(np.maximum(1.0 - ((b * b - a * a) / safe) ** 2, 0.0)), 1.0)", T_GRAD),
    Mutation("geometry: naive 1 - rho", f"{POP}/geometry.py",
             "one_minus_rho = np.where(both, 2.0 * a * a / safe, 1.0)",
             "one_minus_rho = np.where(both, 1.0 - (b * b - a * a) / safe, 1.0)", T_GRAD),
    Mutation("geometry: naive rho x - c", f"{POP}/geometry.py",
             "return np.where(rho >= 0, (x - c) - omr * x, (opr * x) - (x + c))",
             "return rho * x - c", T_GRAD),
    Mutation("geometry: column norms without rescaling", f"{POP}/geometry.py",
             "return big * np.linalg.norm(W / safe, axis=0)", "return np.linalg.norm(W, axis=0)", T_NORMS),
    # --- training update rules
    Mutation("SGD: momentum ignored", "coarsegrad/train.py",
             "                        u *= momentum\n", "                        u *= 0.0\n", T_RULES),
    Mutation("SGD: velocity not scaled by the step (u += g / lr)", "coarsegrad/train.py",
             "grads(idx, grad_buffers, step)                # lr_t g",
             "grads(idx, grad_buffers, sgd.lr)                # lr_t g", T_RULES),
    Mutation("SGD: cosine schedule over 2 x epochs", "coarsegrad/train.py",
             "return self.lr * 0.5 * (1.0 + np.cos(np.pi * epoch / self.epochs))",
             "return self.lr * 0.5 * (1.0 + np.cos(np.pi * epoch / (2 * self.epochs)))", T_RULES),
    Mutation("SGD: step schedule off by one", "coarsegrad/train.py",
             "return self.lr * self.decay_factor ** (epoch // self.decay_every)",
             "return self.lr * self.decay_factor ** ((epoch + 1) // self.decay_every)", T_RULES),
    Mutation("SGD: last sample of each batch dropped", "coarsegrad/train.py",
             "idx = order[start:start + sgd.batch_size]", "idx = order[start:start + sgd.batch_size - 1]",
             T_RULES),
    Mutation("ts_sgd: train_v ignored", "coarsegrad/train.py",
             "params = [W, v] if train_v else [W]", "params = [W]", T_RULES),
    Mutation("mlp_train: running metrics never used", "coarsegrad/train.py",
             'if train_metrics == "running" and running:', "if False:", T_RULES),
    Mutation("population_descent: train_v ignored", "coarsegrad/train.py",
             "                v -= lr * Eg_v", "                v -= 0.0 * Eg_v", T_RULES),
    # --- claims: NaN evidence, folds, thresholds
    Mutation("Check: non-finite evidence not failed", f"{CLAIMS}/_core.py",
             "        if not self.finite:\n            return False\n", "", T_CLAIMS),
    Mutation("claim 4: Python max fold", f"{CLAIMS}/teacher_student.py",
             'Check("max ||FD - grad f|| / ||grad f||", float(np.max(worst)), "<", FD_RTOL)',
             'Check("max ||FD - grad f|| / ||grad f||", max(worst), "<", FD_RTOL)', T_CLAIMS),
    Mutation("claim 6: Python min fold", f"{CLAIMS}/teacher_student.py",
             "mins = {ste: float(np.min(np.concatenate(c))) if counted[ste] else np.inf for ste, c in cosines.items()}",
             "mins = {ste: min(np.concatenate(c), default=np.inf) for ste, c in cosines.items()}", T_CLAIMS),
    Mutation("claim 5: compares E g with itself", f"{CLAIMS}/teacher_student.py",
             "            exact = expected_coarse_grad(teacher, v, W, ste)[1].ravel()\n",
             "            exact = mc.mean\n", T_CLAIMS),
    Mutation("ClaimResult: any instead of all", f"{CLAIMS}/_core.py",
             "return all(c.passed for c in self.checks if c.passed is not None)",
             "return any(c.passed for c in self.checks if c.passed is not None)", T_CLAIMS),
    Mutation("claim 1: definition uses z >= t", f"{CLAIMS}/staircase.py",
             "(z[:, None] > t[None, :]).sum(axis=1)", "(z[:, None] >= t[None, :]).sum(axis=1)", T_CLAIMS),
    # --- estimators the claims rely on
    Mutation("z_scores: stderr doubled", "coarsegrad/estimators.py",
             "        z = diff / se", "        z = diff / (2 * se)", T_EST),
    Mutation("cosine: sign flipped", "coarsegrad/estimators.py",
             "return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))",
             "return float(-np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))", T_CLAIMS),
    # --- issue 17: the newest code (subspaces, train drivers, alpha, population/alpha, claims 11 and 13)
    Mutation("separability_lp: bias column zeroed", CERT,
             "xb = np.hstack([xs, np.ones((n, 1))])", "xb = np.hstack([xs, np.zeros((n, 1))])", T_SEP),
    Mutation("separability_lp: data not normalized", CERT,
             "    xs, lossy = _normalized(x)\n", "    xs, lossy = x, False\n", T_SEP),
    Mutation("separability_lp: infeasible trusted after a lossy scaling", CERT,
             "        if not lossy:\n            return Separability(False, 2, message, True)",
             "        if True:\n            return Separability(False, 2, message, True)", T_SEP),
    Mutation("separability_lp: any status 2 read as infeasible (HiGHS model error)", CERT,
             "if res.status == 2 and message.startswith(_INFEASIBLE):", "if res.status == 2:",
             (T_SUB, "-k", "separab", "tests/test_invariance_subspaces.py", "-k", "separab or scaling")),
    Mutation("covered 2-D: < pi made <= pi", CERT,
             "return bool(np.max(gaps) < np.pi)", "return bool(np.max(gaps) <= np.pi)", T_COV),
    Mutation("covered: rank test removed", CERT,
             "    if rank < m:\n        return Coverage(False, rank, -1, True,",
             "    if False:\n        return Coverage(False, rank, -1, True,", T_COV),
    Mutation("covered: rows normalized by their norm alone (under/overflow)", CERT,
             "    v = u[big > 0] / big[big > 0, None]", "    v = u[big > 0]", T_COV),
    Mutation("covered LP: lambda >= 1 formulation without certificates", CERT,
             "    ok, decided, message = _cover_one_lp(u)\n",
             "    res = linprog(np.zeros(u.shape[0]), A_eq=u.T, b_eq=np.zeros(m), bounds=(1, None), method='highs')\n"
             "    return Coverage(res.status == 0, rank, int(res.status))\n    ok, decided, message = _cover_one_lp(u)\n",
             T_COV),
    Mutation("covered: certificate slack 1e5 times rounding", CERT,
             "return 2.0 * (m + 2) * _EPS * math.sqrt(m)", "return 2e5 * (m + 2) * _EPS * math.sqrt(m)", T_COV),
    Mutation("covered 2-D: gaps near pi from rounded angles (no cross product)", CERT,
             "near = np.flatnonzero(np.abs(gaps - np.pi) <= 1e-9)", "near = np.flatnonzero(np.abs(gaps - np.pi) < 0)", T_COV),
    Mutation("gaussian subspace data without 1/sqrt(d_k)", SUB,
             "                g /= np.sqrt(m)", "                g /= 1.0", T_DESCENT),
    Mutation("wendel: exact sum off by one", CERT,
             "return sum(math.comb(N - 1, k) for k in range(m)) / 2 ** (N - 1)",
             "return sum(math.comb(N - 1, k) for k in range(m + 1)) / 2 ** (N - 1)", T_WENDEL),
    Mutation("wendel: binomial tail off by one (large N)", CERT,
             "return float(binom.cdf(m - 1, N - 1, 0.5))", "return float(binom.cdf(m, N - 1, 0.5))", T_WENDEL),
    Mutation("coverage_probability: upper tail off by one (large N)", CERT,
             "return float(binom.sf(m - 1, N - 1, 0.5))", "return float(binom.sf(m, N - 1, 0.5))", T_WENDEL),
    Mutation("t*: 2 of 3 classes covered", SUB,
             "return record, all(c.covered for c in cov)", "return record, sum(c.covered for c in cov) >= K - 1",
             T_DESCENT),
    Mutation("t*: the last covered step", SUB,
             "if all_covered and t_star is None:", "if all_covered:", T_DESCENT),
    Mutation("subspace_descent: divergence not checked", SUB,
             "        check_iterates([W], driver=\"subspace_descent\", step=t + 1, option=\"lr\", value=lr)\n", "",
             T_DESCENT),
    Mutation("subspace_descent: non-zero b silently replaced by 0", SUB,
             "    if np.any(params.b != 0):", "    if False:", T_DESCENT),
    Mutation("subspace_descent: record_every ignored", SUB,
             "        if t % record_every == 0 or last:", "        if True:", T_DESCENT),
    Mutation("subspace_init: scale ignored", SUB,
             "W = scale * rng.standard_normal((K * N, d))", "W = rng.standard_normal((K * N, d))", T_DESCENT),
    Mutation("geometry: own norm of another class", SUB,
             "own = [np.linalg.norm(P[y][y], axis=1).mean() for y in range(K)]",
             "own = [np.linalg.norm(P[y][0], axis=1).mean() for y in range(K)]", T_DESCENT),
    Mutation("check_iterates: only non-finite counts as divergence", "coarsegrad/_checks.py",
             "        if not big <= bound:", "        if not np.isfinite(big):", T_DIVERGE),
    Mutation("SGD: end-of-epoch divergence check removed", "coarsegrad/train.py",
             "        check_iterates(params, driver=\"training\", step=epoch + 1,",
             "        (dict(driver=\"training\", step=epoch + 1,", T_DIVERGE),
    Mutation("joint alpha update: sign flipped", f"{POP}/alpha.py",
             "alpha - lr_alpha * Eg_a", "alpha + lr_alpha * Eg_a", T_POP_ALPHA + T_CLAIM13),
    # (the stability run at 4 bits: in the joint runs of the quick preset, bits 1, L^2 = 1 and the step is the same)
    Mutation("claim 13: alpha step not divided by L^2", f"{CLAIMS}/alpha.py",
             '"ae", lr=lr, lr_alpha=lr / teacher.staircase.L**2,', '"ae", lr=lr, lr_alpha=lr,', T_CLAIM13),
    Mutation("alpha rule min: jumps at alpha instead of L alpha", "coarsegrad/alpha.py",
             "return np.array([0.0, _top(staircase, dtype)]), np.array([1.0, staircase.L - 1.0])",
             "return np.array([0.0, np.dtype(dtype).type(staircase.alpha)]), np.array([1.0, staircase.L - 1.0])",
             T_ALPHA),
    Mutation("cli: a library ValueError/TypeError shown as bad input (exit 2)", "coarsegrad/cli.py",
             "    except UsageError as exc:", "    except (UsageError, ValueError, TypeError) as exc:", T_CLI_ERRORS),
    Mutation("cli: COARSEGRAD_DEBUG ignored", "coarsegrad/cli.py",
             "        if debug:                      # the traceback too", "        if False:", T_CLI_ERRORS),
    Mutation("cli: divergence reported as an internal error", "coarsegrad/cli.py",
             "    except (FloatingPointError, OverflowError) as exc:", "    except (OverflowError,) as exc:",
             T_CLI_ERRORS),
    Mutation("claim 11: success at accuracy 1 without hinge loss 0", f"{CLAIMS}/subspaces.py",
             "                ok, train_acc = succeeded(run, data, stair)\n",
             "                _, train_acc = succeeded(run, data, stair)\n                ok = train_acc == 1.0\n",
             (T_SUB, "-k", "claim_11")),
]

#: Mutations shown to be equivalent (no test can catch them), name -> reason (docs/testing.md).
EQUIVALENT: dict[str, str] = {
    "geometry: naive rho = w^ . w*^":
        "rho itself is accurate to a few ulp, relative, near theta = 0 and pi either way (it is close to +-1); "
        "near pi/2 both forms carry an absolute error of a few ulp, and every formula that needs rho where "
        "cancellation could amplify that uses 1 - rho, 1 + rho or sin theta instead, which the other "
        "geometry mutations break and the tests catch (docs/testing.md).",
}


def _copy_tree(dst: Path) -> None:
    anywhere = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis", "*.pdf", "*.png")
    # the benchmarks, at the top level only; the committed figure data (figures/*.json) are kept: the
    # `results` tests read them (and a name pattern "figures" would also drop the package coarsegrad/figures/)

    def ignore(directory, names):
        top = {"benchmarks"} & set(names) if Path(directory) == ROOT else set()
        return set(anywhere(directory, names)) | top
    shutil.copytree(ROOT, dst, ignore=ignore)


def _run_tests(copy: Path, tests: tuple, timeout: float) -> tuple[str, float, str]:
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    args = []
    for t in tests:
        args += sorted(str(p.relative_to(copy)) for p in copy.glob(t)) if "*" in t else [t]
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    return ("pass" if proc.returncode == 0 else "fail"), time.perf_counter() - start, tail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", nargs="+", help="run only mutations whose name contains one of these words")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per test run (default 900)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of each test set")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.k or any(w.lower() in m.name.lower() for w in args.k)]
    if args.list:
        for m in chosen:
            print(f"{m.name:<60} {m.path}")
        return 0
    with tempfile.TemporaryDirectory(prefix="coarsegrad-mutate-") as tmp:
        copy = Path(tmp) / "repo"
        _copy_tree(copy)
        probe = subprocess.run([sys.executable, "-c", "import coarsegrad; print(coarsegrad.__file__)"], cwd=copy,
                               env=dict(os.environ, PYTHONPATH=str(copy)), capture_output=True, text=True)
        if not probe.stdout.strip().startswith(str(copy)):
            print(f"the copy is not the package imported ({probe.stdout.strip()}); aborting")
            return 2
        broken = set()
        if not args.no_baseline:
            for tests in dict.fromkeys(m.tests for m in chosen):
                status, secs, tail = _run_tests(copy, tests, args.timeout)
                print(f"baseline {' '.join(tests)}: {status} ({secs:.0f} s)", flush=True)
                if status != "pass":       # a mutation against failing tests would be 'caught' for nothing
                    print(f"  the unmutated tests do not pass; their mutations are not run:\n  {tail}", flush=True)
                    broken.add(tests)
        results = []
        for m in chosen:
            if m.tests in broken:
                results.append((m, "NO-BASELINE", 0.0))
                print(f"NO-BASELINE {m.name}", flush=True)
                continue
            target = copy / m.path
            original = target.read_text()
            if original.count(m.old) != 1:
                results.append((m, "stale", 0.0))
                print(f"STALE    {m.name}  ({m.path}: the text to replace occurs {original.count(m.old)} times)",
                      flush=True)
                continue
            target.write_text(original.replace(m.old, m.new))
            try:
                status, secs, tail = _run_tests(copy, m.tests, args.timeout)
            finally:
                target.write_text(original)
            verdict = {"fail": "caught", "pass": "SURVIVED", "timeout": "TIMEOUT"}[status]
            if verdict == "SURVIVED" and m.name in EQUIVALENT:
                verdict = "equivalent"
            results.append((m, verdict, secs))
            print(f"{verdict:<11}{m.name}  [{secs:.0f} s]", flush=True)
    bad = [m.name for m, v, _ in results if v not in ("caught", "equivalent")]
    print(f"\n{len(results)} mutations: {sum(v == 'caught' for _, v, _ in results)} caught, "
          f"{sum(v == 'equivalent' for _, v, _ in results)} equivalent, {len(bad)} not caught"
          + (f": {'; '.join(bad)}" if bad else ""))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
