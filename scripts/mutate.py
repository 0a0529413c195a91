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
Not a CI step: about 11 minutes on 2 cores. The tests are run with ``-x -m "not slow"``.
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
    Mutation("Check: non-finite evidence not failed", "coarsegrad/claims.py",
             "        if not self.finite:\n            return False\n", "", T_CLAIMS),
    Mutation("claim 4: Python max fold", "coarsegrad/claims.py",
             'Check("max ||FD - grad f|| / ||grad f||", float(np.max(worst)), "<", FD_RTOL)',
             'Check("max ||FD - grad f|| / ||grad f||", max(worst), "<", FD_RTOL)', T_CLAIMS),
    Mutation("claim 6: Python min fold", "coarsegrad/claims.py",
             "mins = {ste: float(np.min(np.concatenate(c))) if counted[ste] else np.inf for ste, c in cosines.items()}",
             "mins = {ste: min(np.concatenate(c), default=np.inf) for ste, c in cosines.items()}", T_CLAIMS),
    Mutation("claim 5: compares E g with itself", "coarsegrad/claims.py",
             "            exact = expected_coarse_grad(teacher, v, W, ste)[1].ravel()\n",
             "            exact = mc.mean\n", T_CLAIMS),
    Mutation("ClaimResult: any instead of all", "coarsegrad/claims.py",
             "return all(c.passed for c in self.checks if c.passed is not None)",
             "return any(c.passed for c in self.checks if c.passed is not None)", T_CLAIMS),
    Mutation("claim 1: definition uses z >= t", "coarsegrad/claims.py",
             "(z[:, None] > t[None, :]).sum(axis=1)", "(z[:, None] >= t[None, :]).sum(axis=1)", T_CLAIMS),
    # --- estimators the claims rely on
    Mutation("z_scores: stderr doubled", "coarsegrad/estimators.py",
             "        z = diff / se", "        z = diff / (2 * se)", T_EST),
    Mutation("cosine: sign flipped", "coarsegrad/estimators.py",
             "return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))",
             "return float(-np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))", T_CLAIMS),
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
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis", "figures",
                                    "benchmarks", "*.pdf", "*.png")
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
