"""Figures 7-9: the orthogonal-subspace model (SPEC section 8; docs/theory.md section 7;
docs/findings.md S1-S6) -- the convex hull of the own neurons, the success rate against N beside
Wendel's coverage probability, and the dynamics around t*."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import subspaces as _sub
from ..quant import Staircase
from ._common import COLORS, LABELS, _preset, _seeds, _style

__all__ = ["subspace_hull_data", "draw_subspace_hull", "subspace_success_data", "draw_subspace_success",
           "subspace_slow_fast_data", "draw_subspace_slow_fast"]


#: The subspace figures' model: K = 3 classes, n points per class on unit circles/spheres, alpha = 1,
#: the rounding staircase at 2 bits, hinge loss with margin alpha, lr 1 (docs/findings.md, S1).
SUB_K, SUB_BITS, SUB_CONV, SUB_LR = 3, 2, "round", 1.0


def _sub_problem(seed, m, N, n):
    """Data and initial weights of one seeded run (K = SUB_K)."""
    ss = np.random.SeedSequence(seed).spawn(2)
    data = _sub.orthogonal_subspaces(SUB_K, m, n, seed=ss[0])
    return data, _sub.subspace_init(SUB_K, N, data.x.shape[1], ss[1])


def _sub_success_run(task: dict) -> dict:
    """One training run of figure 8: did it reach hinge loss 0? Coverage at initialization."""
    data, p0 = _sub_problem(task["seed"], task["m"], task["N"], task["n"])
    init = sum(c.covered for c in _sub.class_coverage(p0, data.bases, task["N"], method="auto"))
    run = _sub.subspace_descent(data, p0, task["ste"], Staircase(SUB_BITS, 1.0, SUB_CONV), lr=SUB_LR,
                                steps=task["steps"], coverage_every=task["steps"])
    return dict(task=task, success=run.zero_loss_step is not None, zero_loss_step=run.zero_loss_step,
                final_accuracy=float(run.history["accuracy"][-1]), init_covered=int(init))


def _first_uncovered_seed(seed, m, N, n, *, need=1):
    """Seeds (from ``seed``) whose initialization leaves some class uncovered: the interesting runs."""
    out, i = [], 0
    while len(out) < need:
        s = _seeds(seed + 1000 * i, 1)[0]
        data, p0 = _sub_problem(s, m, N, n)
        if not all(c.covered for c in _sub.class_coverage(p0, data.bases, N, method="auto")):
            out.append(s)
        i += 1
    return out


def subspace_hull_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """d_k = 2, N = 4: class 0's own neurons projected on its plane and normalized, at several steps
    from initialization to hinge loss 0, with whether 0 lies inside their convex hull."""
    cfg = _preset(preset)
    m, N = 2, 4
    stair = Staircase(SUB_BITS, 1.0, SUB_CONV)
    steps = cfg["sub_steps"] * 5
    for s in _first_uncovered_seed(seed, m, N, cfg["sub_n"], need=20):   # the first that gets covered and reaches 0
        data, p0 = _sub_problem(s, m, N, cfg["sub_n"])
        run = _sub.subspace_descent(data, p0, "relu", stair, lr=SUB_LR, steps=steps, coverage_every=1,
                                    keep_weights=range(steps + 1))         # W is 12 x 6: keeping every step is cheap
        if run.t_star is not None and run.zero_loss_step is not None:
            break
    end, t_star = run.steps, run.t_star
    marks = sorted({0, *(int(t) for t in np.linspace(0, end, cfg["sub_snapshots"]).round()),
                    *((t_star,) if t_star is not None else ())})
    U = data.bases[0]
    panels = []
    for t in marks:
        own = run.weights[t][:N] @ U                                       # (N, 2): class 0's own neurons on V_0
        d = own / np.linalg.norm(own, axis=1, keepdims=True)
        i = run.geometry.step.index(t)
        panels.append(dict(step=t, directions=np.round(d, 6).tolist(), covered=bool(run.geometry["covered_0"][i]),
                           all_covered=int(run.geometry["covered"][i]), loss=float(run.history["loss"][t])))
    return dict(settings=dict(preset=preset, seed=seed, run_seed=s, K=SUB_K, d_k=m, N=N, n=cfg["sub_n"], bits=SUB_BITS,
                              convention=SUB_CONV, alpha=1.0, lr=SUB_LR, ste="relu", loss="hinge"),
                points=np.round(data.z[0], 6).tolist(), panels=panels, t_star=t_star, zero_loss_step=run.zero_loss_step)


def draw_subspace_hull(data: dict) -> Figure:
    """One panel per step: unit circle, class-0 points, own-neuron directions and their convex hull."""
    from scipy.spatial import ConvexHull
    panels = data["panels"]
    fig = Figure(figsize=(3.1 * len(panels), 3.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    t = np.linspace(0, 2 * np.pi, 200)
    pts = np.asarray(data["points"])
    for ax, p in zip(axes, panels):
        d = np.asarray(p["directions"])
        ax.plot(np.cos(t), np.sin(t), color="0.8", lw=1)
        ax.scatter(pts[:, 0], pts[:, 1], s=6, color="0.55", zorder=2)
        color = "#2ca02c" if p["covered"] else "#d62728"
        if len(d) >= 3:
            hull = d[ConvexHull(d).vertices]
            ax.fill(hull[:, 0], hull[:, 1], color=color, alpha=0.2, zorder=1)
            ax.plot(*np.vstack([hull, hull[:1]]).T, color=color, lw=1.5)
        for v in d:
            ax.annotate("", v, (0, 0), arrowprops=dict(arrowstyle="->", color="#1f77b4", lw=1.5))
        ax.plot(0, 0, "k+", ms=10, mew=2)
        star = " = t* (all classes covered)" if p["step"] == data["t_star"] else ""
        ax.set(title=f"step {p['step']}{star}\n{'0 inside hull: covered' if p['covered'] else 'not covered'}",
               xlim=(-1.25, 1.25), ylim=(-1.25, 1.25), aspect="equal", xticks=[], yticks=[])
        ax.title.set_color(color)
    s = data["settings"]
    fig.suptitle(f"own neurons of class 0 projected on its plane (d_k = 2, N = {s['N']}), {s['bits']}-bit "
                 f"{s['convention']} staircase, relu STE, hinge; hinge loss 0 at step {data['zero_loss_step']}")
    return fig


def subspace_success_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Success rate (hinge loss 0 within the step budget) against N per STE and d_k, and Wendel's
    coverage probability at initialization."""
    cfg = _preset(preset)
    seeds = _seeds(seed, cfg["sub_seeds"])
    tasks = [dict(m=m, N=N, ste=ste, seed=s, n=cfg["sub_n"], steps=cfg["sub_steps"])
             for m in cfg["sub_dims"] for N in cfg["sub_N"] for ste in cfg["sub_stes"] for s in seeds]
    runs = list(map_fn(_sub_success_run, tasks))
    wendel = {str(m): {str(N): _sub.coverage_probability(N, m) for N in cfg["sub_N"]} for m in cfg["sub_dims"]}
    return dict(settings=dict(preset=preset, seed=seed, seeds=seeds, K=SUB_K, n=cfg["sub_n"], steps=cfg["sub_steps"],
                              bits=SUB_BITS, convention=SUB_CONV, alpha=1.0, lr=SUB_LR, loss="hinge",
                              dims=list(cfg["sub_dims"]), N=list(cfg["sub_N"]), stes=list(cfg["sub_stes"])),
                wendel=wendel,
                runs=[dict(m=r["task"]["m"], N=r["task"]["N"], ste=r["task"]["ste"], seed=r["task"]["seed"],
                           success=r["success"], zero_loss_step=r["zero_loss_step"],
                           final_accuracy=r["final_accuracy"], init_covered=r["init_covered"]) for r in runs])


def _success_table(data):
    """``{(m, ste, N): success rate}`` and ``{(m, N): fraction of runs with every class covered at init}``."""
    rate, init = {}, {}
    for r in data["runs"]:
        rate.setdefault((r["m"], r["ste"], r["N"]), []).append(r["success"])
        init.setdefault((r["m"], r["N"]), []).append(r["init_covered"] == data["settings"]["K"])
    return {k: float(np.mean(v)) for k, v in rate.items()}, {k: float(np.mean(v)) for k, v in init.items()}


def draw_subspace_success(data: dict) -> Figure:
    """One panel per d_k: success rate against N per STE; Wendel's coverage probability (per class and
    for all K classes) dashed, and the observed fraction initially covered as dots."""
    s = data["settings"]
    rate, init = _success_table(data)
    fig = Figure(figsize=(4.8 * len(s["dims"]), 3.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(s["dims"])))
    Ns = s["N"]
    for ax, m in zip(axes, s["dims"]):
        for i, ste in enumerate(s["stes"]):
            ax.plot(Ns, [rate[(m, ste, N)] + 0.012 * (i - 1.5) for N in Ns], marker="o", color=COLORS[ste],
                    label=LABELS[ste])
        w = np.array([data["wendel"][str(m)][str(N)] for N in Ns])
        ax.plot(Ns, w, "k--", label="Wendel: P(class covered) at init")
        ax.plot(Ns, w ** s["K"], "k:", label=f"Wendel$^{s['K']}$: all classes covered")
        ax.plot(Ns, [init[(m, N)] for N in Ns], "kx", label="observed: all covered at init")
        ax.axvline(2 * m, color="0.6", lw=0.8)
        ax.set(title=f"d_k = {m}", xlabel="neurons per class N", ylabel="success rate (hinge loss 0)",
               ylim=(-0.05, 1.05), xticks=Ns)
        _style(ax)
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"K = {s['K']}, n = {s['n']} per class, {s['bits']}-bit {s['convention']} staircase, hinge, "
                 f"lr {s['lr']}, <= {s['steps']} steps, {len(s['seeds'])} seeds (grey line: N = 2 d_k)")
    return fig


def subspace_slow_fast_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Loss, accuracy, covered classes and weight speed per step for runs that start uncovered (d_k = 2, N = 4)."""
    cfg = _preset(preset)
    m, N = 2, 4
    runs = []
    stair = Staircase(SUB_BITS, 1.0, SUB_CONV)
    for s in _first_uncovered_seed(seed, m, N, cfg["sub_n"], need=cfg["sub_curves"]):
        data, p0 = _sub_problem(s, m, N, cfg["sub_n"])
        run = _sub.subspace_descent(data, p0, "relu", stair, lr=SUB_LR, steps=cfg["sub_steps"] * 5, coverage_every=1)
        runs.append(dict(seed=s, t_star=run.t_star, zero_loss_step=run.zero_loss_step,
                         loss=run.history["loss"].tolist(), accuracy=run.history["accuracy"].tolist(),
                         speed=np.round(run.history["speed"], 8).tolist(), covered=run.geometry["covered"].tolist(),
                         own_norm=np.round(run.geometry["own_norm"], 8).tolist(),
                         foreign_norm=np.round(run.geometry["foreign_norm"], 8).tolist()))
    return dict(settings=dict(preset=preset, seed=seed, K=SUB_K, d_k=m, N=N, n=cfg["sub_n"], bits=SUB_BITS,
                              convention=SUB_CONV, alpha=1.0, lr=SUB_LR, ste="relu", loss="hinge"), runs=runs)


def draw_subspace_slow_fast(data: dict) -> Figure:
    """Hinge loss, training accuracy, covered classes, and projection norms per step; t* dotted."""
    fig = Figure(figsize=(15, 3.6), layout="constrained")
    axes = fig.subplots(1, 4)
    for i, r in enumerate(data["runs"]):
        color = f"C{i}"
        steps = np.arange(len(r["loss"]))
        end = "never (stuck)" if r["zero_loss_step"] is None else r["zero_loss_step"]
        axes[0].plot(steps, r["loss"], color=color, label=f"run {i + 1}: t* = {r['t_star']}, loss 0 at {end}")
        axes[1].plot(steps, r["accuracy"], color=color)
        axes[2].step(np.arange(len(r["covered"])), r["covered"], where="post", color=color)
        axes[3].plot(r["own_norm"], color=color)
        axes[3].plot(r["foreign_norm"], color=color, ls="--")
        for ax in axes:
            if r["t_star"] is not None:
                ax.axvline(r["t_star"], color=color, ls=":", lw=1.2)
    axes[0].set(title="hinge loss (t* dotted)", xlabel="step")
    axes[0].legend(fontsize=7)
    axes[1].set(title="training accuracy", xlabel="step", ylim=(0, 1.02))
    axes[2].set(title="classes covered (0 in own hull)", xlabel="step", ylim=(-0.1, data["settings"]["K"] + 0.1))
    axes[3].set(title="|projection|: own (solid), foreign (dashed)", xlabel="step")
    ends = [r["zero_loss_step"] for r in data["runs"] if r["zero_loss_step"] is not None]
    for ax in axes:
        _style(ax)
        if ends:                     # a stuck run would squash the others: show up to 1.5 x the slowest success
            ax.set_xlim(0, 1.5 * max(ends))
    s = data["settings"]
    fig.suptitle(f"around t*: K = {s['K']}, d_k = {s['d_k']}, N = {s['N']}, {s['bits']}-bit {s['convention']}, relu STE, "
                 "hinge; runs that start with some class uncovered")
    return fig
