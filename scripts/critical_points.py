""""All critical points are global minima" against N (issue 18 item 5; docs/findings.md, S5b).

For each d_k and each N of a list (ascending), 200 seeds (``--seeds``): K = 3 classes, n = 50 points per
class uniform on the unit spheres of their subspaces, ``w ~ N(0, I)``, 2-bit round staircase, alpha = 1,
relu STE, hinge loss (margin alpha), full batch, lr = 1, run in chunks of 100 steps until the hinge loss
is exactly 0 (a global minimum), the coarse gradient is exactly 0 with loss > 0 (a *coarse-stationary
point that is not a global minimum*), or ``--steps`` steps (unfinished). Each stationary point is
verified afresh -- the coarse gradient recomputed at its weights is exactly the zero array, the loss
is > 0 -- and kept (seed and W) in the JSON. Per d_k the list of N stops after the first N with no
stationary point (that N is reported as the smallest N at which none was found among those tried).

    python scripts/critical_points.py --out docs/data/critical_points.json [--seeds 200] [--dims 2 3 8]
"""
import argparse
import json
import sys
import time

import numpy as np

from coarsegrad import Staircase
from coarsegrad._io import write_text
from coarsegrad.nets import mlp_coarse_grad, mlp_forward, mlp_loss
from coarsegrad.subspaces import orthogonal_subspaces, subspace_descent, subspace_init

K, N_TRAIN, STAIR = 3, 50, Staircase(2, 1.0, "round")
N_LISTS = {2: (2, 3, 4, 5, 6, 8, 10, 12), 3: (2, 3, 4, 5, 6, 8, 10, 12, 16), 8: (2, 4, 6, 8, 10, 12, 16, 24, 32)}


def coarse_gradient(data, params):
    fwd = mlp_forward(data.x, params, STAIR)
    loss, delta = mlp_loss(fwd.f, data.labels, "hinge", margin=STAIR.alpha)
    return loss, mlp_coarse_grad(data.x, params, fwd, delta, "relu", STAIR, freeze_second_layer=True).W


def one_run(m, N, seed, max_steps):
    data = orthogonal_subspaces(K, m, N_TRAIN, seed=seed)
    params = subspace_init(K, N, data.x.shape[1], 10_000 + seed)
    done = 0
    while done < max_steps:
        run = subspace_descent(data, params, "relu", STAIR, lr=1.0, steps=100, coverage_every=10**9)
        params, done = run.params, done + run.steps
        if run.zero_loss_step is not None:
            return dict(outcome="global", steps=done)
        if run.history["speed"][-1] == 0.0:
            loss, g = coarse_gradient(data, params)
            assert loss > 0 and not np.any(g), "a run that stopped moving must be coarse-stationary with loss > 0"
            return dict(outcome="stationary", steps=done, loss=loss, seed=seed, W=params.W.tolist())
    return dict(outcome="unfinished", steps=done, loss=float(run.history["loss"][-1]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 3, 8])
    ap.add_argument("--min-N", type=int, default=2, help="skip the N below this (a cut for CPU)")
    args = ap.parse_args(argv)
    cells, start = [], time.time()
    for m in args.dims:
        for N in (n for n in N_LISTS[m] if n >= args.min_N):
            rows = [one_run(m, N, s, args.steps) for s in range(args.seeds)]
            count = {o: sum(r["outcome"] == o for r in rows) for o in ("global", "stationary", "unfinished")}
            cells.append(dict(d_k=m, N=N, seeds=args.seeds, **count,
                              stationary_points=[{k: r[k] for k in ("seed", "loss", "steps", "W")}
                                                 for r in rows if r["outcome"] == "stationary"]))
            print(f"d_k {m} N {N}: {count} ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)
            write(args, argv, cells)                      # after every cell: a run cut short keeps what it measured
            if count["stationary"] == 0:
                break


def write(args, argv, cells):
    smallest = {m: next((c["N"] for c in cells if c["d_k"] == m and c["stationary"] == 0), None) for m in args.dims}
    doc = dict(script="scripts/critical_points.py", argv=sys.argv[1:] if argv is None else list(argv),
               settings=dict(K=K, n=N_TRAIN, staircase="2-bit round, alpha 1", ste="relu", loss="hinge, margin alpha",
                             lr=1.0, init="w ~ N(0, I), seed 10000 + s", data_seed="s", max_steps=args.steps),
               smallest_N_without_stationary_point=smallest, cells=cells)
    write_text(args.out, json.dumps(doc, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
