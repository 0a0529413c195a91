"""The companion paper's slow-to-fast statement on a grid of settings (issue 18 item 2; docs/findings.md, S5).

For every cell (activation, init scale, loss, d_k) and the first S seeds whose initialization leaves
some class uncovered (``--all-seeds``: seeds 0..S-1): K = 3 classes, n = 50 training
points per class uniform on the unit sphere of each subspace (data seed s), N = 2 d_k neurons per
class (so that about half the classes start uncovered), ``w ~ N(0, scale^2 I)`` (init seed 100 + s),
alpha = 1 (|x| = 1), hinge margin alpha, full batch, fixed step (hinge and squared lr = 1,
cross-entropy lr = 5), the relu STE, every step's W kept. Activation ``stair-<bits>-<convention>`` is
the quantized network; ``relu`` is the unquantized ReLU network (``activation=relu``, relu STE: plain
gradient descent). Hinge runs stop at loss 0 (at most ``--hinge-steps``); the other losses run
``--steps`` steps and only their first half is used (docs: coarsegrad/dynamics.py).

Per cell the per-class quantities of :mod:`coarsegrad.dynamics` give, over the *event* class-runs
(uncovered at initialization, covered within the run) at their ``t*``, the *control* class-runs
(covered at initialization) split at the event's median fraction ``t*/end``, and random splits:
the after/before ratios on equal windows (median and fraction above 1), and the sign test of
:func:`coarsegrad.dynamics.event_statistics` (relative angular speed at ``t*`` against random splits
of the same class-run) at window fractions 1, 0.5, 0.25 (the sensitivity check).

    python scripts/companion_grid.py --out docs/data/companion_grid.json [--part dk2|more|all] [--seeds 12]
    python scripts/companion_grid.py --out docs/data/companion_grid.json --table     # the findings table

Writes compact JSON atomically (one record per cell plus the settings).
"""
import argparse
import itertools
import json
import sys
import time

import numpy as np

from coarsegrad import Staircase
from coarsegrad._io import write_text
from coarsegrad.dynamics import RATIO_KEYS, class_dynamics, event_statistics, window_ratios
from coarsegrad.subspaces import class_coverage, orthogonal_subspaces, subspace_descent, subspace_init

K, N_TRAIN = 3, 50
LR = {"hinge": 1.0, "squared": 1.0, "cross_entropy": 5.0}
ACTIVATIONS = ("stair-1-ceil", "stair-1-round", "stair-2-ceil", "stair-2-round", "stair-4-ceil", "stair-4-round", "relu")
SCALES = (1.0, 0.1, 0.01)
LOSSES = ("hinge", "cross_entropy", "squared")


def relu(h):
    return np.maximum(h, 0)


def cells(part):
    if part in ("dk2", "all"):
        # init scale 0.01 for the unquantized ReLU network only (the staircase at |w| = 0.01 alpha is all
        # zeros (round) or all alpha (ceil): reduced for CPU, docs/paper-notes.md); losses in order of interest
        for loss in LOSSES:
            for act in ACTIVATIONS:
                for scale in (SCALES if act == "relu" else SCALES[:2]):
                    yield act, scale, loss, 2
    if part in ("more", "all"):
        yield from itertools.product(("stair-2-round", "stair-2-ceil", "relu"), (1.0, 0.1), ("hinge", "cross_entropy"),
                                     (3, 8))


def run_seeds(m, N, seeds, uncovered_only):
    """Seeds 0, 1, ... : all of the first ``seeds``, or the first ``seeds`` whose initialization leaves some
    class uncovered (coverage does not depend on the init scale, so every cell of a (d_k, N) shares them)."""
    if not uncovered_only:
        return list(range(seeds))
    out, s = [], 0
    while len(out) < seeds:
        data = orthogonal_subspaces(K, m, N_TRAIN, seed=s)
        p0 = subspace_init(K, N, data.x.shape[1], 100 + s)
        if not all(c.covered for c in class_coverage(p0, data.bases, N, method="auto")):
            out.append(s)
        s += 1
    return out


def run_cell(act, scale, loss, m, seeds, steps, hinge_steps, uncovered_only=True):
    bits, conv = (int(act.split("-")[1]), act.split("-")[2]) if act != "relu" else (2, "round")
    stair = Staircase(bits, 1.0, conv)
    activation = relu if act == "relu" else None
    N = 2 * m
    T = hinge_steps if loss == "hinge" else steps
    classes, uncovered_runs, diverged, zero_loss = [], 0, 0, 0
    for s in run_seeds(m, N, seeds, uncovered_only):
        data = orthogonal_subspaces(K, m, N_TRAIN, seed=s)
        p0 = subspace_init(K, N, data.x.shape[1], 100 + s, scale=scale)
        try:
            run = subspace_descent(data, p0, "relu", stair, lr=LR[loss], steps=T, loss=loss, coverage_every=10**9,
                                   activation=activation, keep_weights=range(T + 1))
        except (ValueError, FloatingPointError, OverflowError):
            diverged += 1
            continue
        if not np.all(np.isfinite(run.params.W)):
            diverged += 1
            continue
        dyn = class_dynamics(run, data, activation=activation)
        uncovered_runs += any(d.t_star != 0 for d in dyn)
        zero_loss += run.zero_loss_step is not None
        classes += dyn
    events = [c for c in classes if c.t_star is not None and 0 < c.t_star < c.horizon]
    controls = [c for c in classes if c.t_star == 0]
    frac = float(np.median([c.t_star / c.end for c in events])) if events else float("nan")
    rng = np.random.default_rng(12345)

    def summary(rows):
        out = {}
        for k in RATIO_KEYS:
            a = np.array([r[k] for r in rows], dtype=np.float64)
            a = a[np.isfinite(a)]
            out[k] = [round(float(np.median(a)), 4), round(float(np.mean(a > 1)), 3), int(a.size)] if a.size else None
        return out

    at_event = summary([window_ratios(c, c.t_star) for c in events])
    at_control = summary([window_ratios(c, int(round(frac * c.end))) for c in controls]) if events else None
    at_random = summary([window_ratios(c, int(rng.integers(1, c.horizon))) for c in events if c.horizon > 1])
    sens = {}
    for null in ("position", "uniform"):
        for f in (1.0, 0.5, 0.25):
            st = event_statistics(classes, rng, fraction=f, null=null)
            sens[f"{null} {f}"] = dict(n=st["n"], wins=st["wins"], z=round(st["z"], 3), z_rank=round(st["z_rank"], 3),
                                       effect=round(st["effect"], 4), median_at_event=round(st["median_at_event"], 4),
                                       median_random=round(st["median_random"], 4))
    events_sh = [c for c in classes if c.t_star is not None and 0 < c.t_star < c.horizon]
    fr = np.roll([c.t_star / c.end for c in events_sh], 1)
    shuffled = [int(np.clip(round(f * c.end), 1, c.horizon - 1)) for f, c in zip(fr, events_sh)]
    st = event_statistics(classes, rng, splits=shuffled) if events_sh else None
    sens["shuffled t* (control)"] = None if st is None else dict(n=st["n"], z=round(st["z"], 3),
                                                                  z_rank=round(st["z_rank"], 3), effect=round(st["effect"], 4))
    never = sum(c.t_star is None for c in classes)
    return dict(activation=act, scale=scale, loss=loss, d_k=m, N=N, seeds=seeds, steps=T, lr=LR[loss],
                uncovered_only=uncovered_only, runs=seeds - diverged, diverged=diverged,
                runs_starting_uncovered=uncovered_runs, zero_loss_runs=zero_loss,
                class_runs=len(classes), events=len(events), controls=len(controls), never_covered=never,
                median_tstar_fraction=round(frac, 4),
                median_tstar=float(np.median([c.t_star for c in events])) if events else None,
                at_event=at_event, at_control=at_control, at_random=at_random, relative_angular_sign_test=sens)


def _fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def table(doc) -> str:
    """The markdown table of docs/findings.md, S5, from the JSON."""
    lines = ["| activation | init scale | loss | d_k | runs starting uncovered | events / controls | "
             "angular speed after/before t* (% < 1) | at matched split of covered classes | "
             "convergence rate after/before t* (% > 1) | at matched split of covered classes | "
             "relative loss decrease after/before t* | coverage effect on direction speed (rank z) | "
             "rank z, uniform null | rank z, shuffled t* |",
             "| " + " | ".join(["---"] * 14) + " |"]
    for c in doc["cells"]:
        e, k = c["at_event"], c["at_control"] or {}
        st = c["relative_angular_sign_test"]
        pos, uni, sh = st.get("position 1.0"), st.get("uniform 1.0"), st.get("shuffled t* (control)")
        cell = lambda d, key, flip=False: "-" if not d or not d.get(key) else (
            f"{d[key][0]:.2f} ({100 * (1 - d[key][1]) if flip else 100 * d[key][1]:.0f} %)")
        lines.append("| " + " | ".join([
            c["activation"], f"{c['scale']:g}", c["loss"], str(c["d_k"]), f"{c['runs_starting_uncovered']}/{c['runs']}",
            f"{c['events']} / {c['controls']}", cell(e, "angular_speed", flip=True),
            "-" if not k.get("angular_speed") else f"{k['angular_speed'][0]:.2f}", cell(e, "convergence_rate"),
            "-" if not k.get("convergence_rate") else f"{k['convergence_rate'][0]:.2f}",
            "-" if not e.get("rel_loss_decrease") else f"{e['rel_loss_decrease'][0]:.2f}",
            "-" if not pos or not pos["n"] else f"x{pos['effect']:.2f} ({pos['z_rank']:.1f})",
            "-" if not uni or not uni["n"] else _fmt(uni["z_rank"], 1),
            "-" if not sh or not sh["n"] else _fmt(sh["z_rank"], 1)]) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and exit")
    ap.add_argument("--part", choices=("dk2", "more", "all"), default="all")
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--steps", type=int, default=600, help="steps of cross-entropy / squared runs")
    ap.add_argument("--hinge-steps", type=int, default=1500)
    ap.add_argument("--all-seeds", action="store_true",
                    help="seeds 0..S-1 (default: the first S seeds that start with some class uncovered)")
    ap.add_argument("--merge", action="store_true", help="keep the cells already in --out (other parts)")
    args = ap.parse_args(argv)
    if args.table:
        with open(args.out) as fh:
            print(table(json.load(fh)))
        return
    old = []
    if args.merge:
        try:
            with open(args.out) as fh:
                old = json.load(fh)["cells"]
        except FileNotFoundError:
            pass
    out, start = [], time.time()
    key = lambda c: (c["activation"], c["scale"], c["loss"], c["d_k"])
    for act, scale, loss, m in cells(args.part):
        out.append(run_cell(act, scale, loss, m, args.seeds, args.steps, args.hinge_steps, not args.all_seeds))
        print(f"{act} scale {scale} {loss} d_k {m}: events {out[-1]['events']}, {time.time() - start:.0f} s",
              file=sys.stderr, flush=True)
        merged = {key(c): c for c in old}
        merged.update({key(c): c for c in out})
        doc = dict(script="scripts/companion_grid.py", argv=sys.argv[1:] if argv is None else list(argv),
                   settings=dict(K=K, n=N_TRAIN, alpha=1.0, margin=1.0, ste="relu", N="2 d_k", lr=LR,
                                 data_seed="s", init_seed="100 + s", steps=args.steps, hinge_steps=args.hinge_steps,
                                 seeds="first S starting with a class uncovered" if not args.all_seeds else "0..S-1"),
                   cells=sorted(merged.values(), key=lambda c: tuple(map(str, key(c)))))
        write_text(args.out, json.dumps(doc, separators=(",", ":")) + "\n")     # after every cell: partial runs count


if __name__ == "__main__":
    main()
