"""Benchmark: one step of population coarse gradient descent at a claim-7-like size, this tree against another.

A step of ``coarsegrad.train.population_descent`` (``f`` and the exact ``E g`` from one computation of the
moments) at n = 5, p = 4, K = 3 (claim 7 fixes K = 3 and draws n in 2-6, p in 1-5), for the three admissible STEs at bits 1, 2 and
4: the closed forms (ReLU, clipped ReLU) and the log-tailed ReLU's Gauss-Legendre quadrature. These steps
are what ``coarsegrad verify --quick`` (claims 7 and 8), the convergence tests and the population
figures spend their time on; each costs about a millisecond, most of it NumPy's per-call overhead on
arrays of a few elements, so the time of a step is the number of NumPy calls in it more than arithmetic.

With ``--against DIR`` (a checkout of another version, e.g. a ``git worktree``), the same steps run in
that tree too, alternating between the two trees ``--rounds`` times (this host's speed drifts by up to
1.4x within minutes: only runs close in time compare), and the ratio other / this of the best time per
step is printed. The weights after the steps are compared too: a change that should not move a number
must give the same bits.

Run: python benchmarks/bench_descent.py [--against DIR] [--rounds 3] [--steps 150]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CASES = [(ste, bits) for ste in ("relu", "clipped_relu", "log_tailed_relu") for bits in (1, 2, 4)]


def measure(steps: int) -> dict:
    """Best time per step over 3 repeats and a hash of the final weights, per case (in this process)."""
    import numpy as np
    from coarsegrad import Staircase
    from coarsegrad.population import random_teacher
    from coarsegrad.train import default_population_lr, population_descent
    out = {}
    for ste, bits in CASES:
        rng = np.random.default_rng(bits)
        teacher = random_teacher(5, 4, 3, Staircase(bits, 0.7), rng, v_star=np.abs(rng.standard_normal(4)) + 0.2)
        W0 = rng.standard_normal((5, 3)) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(5)
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            _, W, _ = population_descent(teacher, W0, ste, lr=default_population_lr(teacher), steps=steps)
            best = min(best, (time.perf_counter() - start) / (steps + 1))
        out[f"{ste} {bits}"] = dict(ms=1e3 * best, weights=hashlib.sha256(W.tobytes()).hexdigest()[:12])
    return out


def in_tree(tree: Path, steps: int) -> dict:
    """:func:`measure` in a fresh interpreter importing coarsegrad from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_descent as b; " \
           f"print(json.dumps(b.measure({steps})))"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another checkout of coarsegrad to time the same steps in")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    trees = [here] + ([args.against.resolve()] if args.against else [])
    runs = {tree: [] for tree in trees}
    for _ in range(args.rounds):
        for tree in trees:
            runs[tree].append(in_tree(tree, args.steps))
    print(f"population descent, n = 5, p = 4, K = 3, best of {args.rounds} rounds x 3 repeats of {args.steps} "
          f"steps, ms per step; python {sys.version.split()[0]}")
    header = f"{'STE':16s} {'bits':>4s} {'this':>8s}"
    if args.against:
        header += f" {'other':>8s} {'other/this':>10s}  same weights"
    print(header)
    for ste, bits in CASES:
        key = f"{ste} {bits}"
        best = {tree: min(r[key]["ms"] for r in runs[tree]) for tree in trees}
        line = f"{ste:16s} {bits:4d} {best[here]:8.3f}"
        if args.against:
            other = trees[1]
            same = runs[here][0][key]["weights"] == runs[other][0][key]["weights"]
            line += f" {best[other]:8.3f} {best[other] / best[here]:10.2f}  {'yes' if same else 'no'}"
        print(line)


if __name__ == "__main__":
    main()
