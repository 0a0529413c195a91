"""Explore coarse gradient descent on the orthogonal-subspace model (issue 9; docs/findings.md, S1-S6).

For every (loss, STE, bits, convention, N, d_k) of the grid below and 10 seeds: K = 3 classes,
n = 50 training points per class uniform on the unit sphere of each subspace, a fresh test set of
500 points per class from the same distribution, ``w ~ N(0, I)``, full-batch coarse gradient
descent with a fixed step, alpha = 1, hinge margin = alpha. Writes one JSON line per run (with
``wendel_cover``, Wendel's coverage probability); docs/findings.md tabulates them.

    python scripts/explore_subspaces.py --out /tmp/subspaces.jsonl [--workers 2] [--part hinge|stes|identity|ce|seeds100]

Numbers quoted in docs/findings.md come from this script (seeds 0-9; 0-99 for ``seeds100``).
"""
import argparse
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from coarsegrad import Staircase
from coarsegrad.nets import mlp_forward
from coarsegrad.subspaces import (accuracy, class_coverage, coverage_probability, orthogonal_subspaces,
                                  subspace_descent, subspace_init)

K, N_TRAIN, N_TEST = 3, 50, 500
ADMISSIBLE = ("relu", "clipped_relu", "log_tailed_relu")


def run(task):
    loss, ste, bits, conv, N, m, seed, steps = (task[k] for k in ("loss", "ste", "bits", "conv", "N", "m", "seed", "steps"))
    stair = Staircase(bits, 1.0, conv)
    data = orthogonal_subspaces(K, m, N_TRAIN, seed=seed)
    test = orthogonal_subspaces(K, m, N_TEST, seed=seed)          # same seed: same bases (drawn first) ...
    test = test._replace(x=np.concatenate([zk @ U.T for zk, U in zip(
        orthogonal_subspaces(K, m, N_TEST, seed=10_000 + seed).z, data.bases)]))   # ... fresh points
    p0 = subspace_init(K, N, data.x.shape[1], 100 + seed)
    init_cov = sum(c.covered for c in class_coverage(p0, data.bases, N))
    r = subspace_descent(data, p0, ste, stair, lr=task["lr"], steps=steps, loss=loss, coverage_every=task["every"])
    acc = r.history["accuracy"]
    f_test = mlp_forward(test.x, r.params, stair).f
    return dict(task, zero_loss_step=r.zero_loss_step, t_star=r.t_star, final_acc=float(acc[-1]),
                ever_perfect=bool(acc.max() == 1.0), first_perfect=int(np.argmax(acc == 1.0)) if acc.max() == 1 else None,
                final_loss=float(r.history["loss"][-1]), test_acc=accuracy(f_test, test.labels),
                init_covered=int(init_cov), final_covered=int(r.geometry["covered"][-1]),
                wendel_cover=coverage_probability(N, m))


def tasks(part):
    """The grid (kept small: the machine is shared). ``hinge``: relu STE, every bits x convention x N x d_k;
    ``stes``: the other admissible STEs on a sub-grid; ``identity``; ``ce``: cross-entropy."""
    seeds = range(10)
    base = dict(steps=1000, lr=1.0, every=100)
    if part == "hinge":
        grid = itertools.product(["hinge"], ["relu"], (1, 2, 4), ("ceil", "round"), (2, 3, 4, 6, 8, 12, 16), (2, 3, 8))
    elif part == "stes":
        grid = [("hinge", ste, b, c, N, m) for ste in ("clipped_relu", "log_tailed_relu") for b in (1, 2, 4)
                for c in ("ceil", "round") for (m, N) in ((2, 4), (3, 6), (8, 16))]
    elif part == "identity":
        grid = itertools.product(["hinge"], ["identity"], (2,), ("ceil", "round"), (4, 8, 16), (2, 3, 8))
        base = dict(steps=500, lr=1.0, every=100)
    elif part == "ce":
        grid = itertools.product(["cross_entropy"], ["relu"], (2,), ("ceil", "round"), (4, 8, 16), (2, 3))
        base = dict(steps=1000, lr=5.0, every=100)
    elif part == "seeds100":     # the 100-seed check of the regime boundary (docs/findings.md, S1)
        grid = [("hinge", "relu", 2, "round", N, m) for (m, N) in ((2, 4), (2, 6), (2, 8), (3, 6), (3, 8), (3, 12))]
        grid += [("hinge", "relu", b, c, N, m) for (m, N, b, c) in ((2, 8, 2, "ceil"), (3, 12, 2, "ceil"),
                 (2, 8, 4, "round"), (2, 8, 1, "round"), (3, 12, 1, "round"), (8, 16, 2, "round"), (8, 32, 2, "round"))]
        seeds = range(100)
        base = dict(steps=1000, lr=1.0, every=1000)
    else:
        raise SystemExit(f"unknown part {part!r}")
    return [dict(loss=l, ste=s, bits=b, conv=c, N=N, m=m, seed=sd, **base)
            for (l, s, b, c, N, m) in grid for sd in seeds]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--part", default="hinge")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with ProcessPoolExecutor(args.workers) as ex, open(args.out, "w") as fh:
        for res in ex.map(run, tasks(args.part), chunksize=4):
            fh.write(json.dumps(res) + "\n")
            fh.flush()
    print("done", file=sys.stderr)


if __name__ == "__main__":
    main()
