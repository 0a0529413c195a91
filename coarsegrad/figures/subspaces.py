"""Figures 7-9: the orthogonal-subspace model (SPEC section 8; docs/theory.md section 7;
docs/findings.md S1-S6) -- the convex hull of the own neurons, the success rate against N beside
Wendel's coverage probability, and the dynamics around t*."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import dynamics as _dyn
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
    # a run that stopped moving at a positive loss sits at a coarse-stationary point that is no global minimum
    stationary = run.zero_loss_step is None and run.history["speed"][-1] == 0.0 and run.history["loss"][-1] > 0
    return dict(task=task, success=run.zero_loss_step is not None, zero_loss_step=run.zero_loss_step,
                final_accuracy=float(run.history["accuracy"][-1]), init_covered=int(init), stationary=bool(stationary))


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
                           final_accuracy=r["final_accuracy"], init_covered=r["init_covered"],
                           stationary=r["stationary"]) for r in runs])


def _success_table(data):
    """``{(m, ste, N): success rate}`` and ``{(m, N): fraction of runs with every class covered at init}``."""
    rate, init = {}, {}
    for r in data["runs"]:
        rate.setdefault((r["m"], r["ste"], r["N"]), []).append(r["success"])
        init.setdefault((r["m"], r["N"]), []).append(r["init_covered"] == data["settings"]["K"])
    return {k: float(np.mean(v)) for k, v in rate.items()}, {k: float(np.mean(v)) for k, v in init.items()}


def draw_subspace_success(data: dict) -> Figure:
    """One panel per d_k: success rate against N per STE; Wendel's coverage probability (per class and
    for all K classes) dashed, the observed fraction initially covered as crosses, and (bars) the fraction
    of relu-STE runs that stopped at a coarse-stationary point with positive hinge loss -- "all critical
    points are global minima" against N (200 seeds per N: docs/findings.md, S5b)."""
    s = data["settings"]
    rate, init = _success_table(data)
    fig = Figure(figsize=(4.8 * len(s["dims"]) + 2.6, 3.9), layout="constrained")
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
        if all("stationary" in r for r in data["runs"]):       # figure data made before this field: not drawn
            stuck = [np.mean([r["stationary"] for r in data["runs"] if r["m"] == m and r["N"] == N and r["ste"] == "relu"])
                     for N in Ns]
            ax.bar(Ns, stuck, width=0.5, color=COLORS["relu"], alpha=0.25,
                   label="ReLU STE: stopped at a critical point, loss > 0")
        ax.axvline(2 * m, color="0.6", lw=0.8)
        ax.set(title=f"d_k = {m}", xlabel="neurons per class N", ylabel="success rate (hinge loss 0)",
               ylim=(-0.05, 1.05), xticks=Ns)
        _style(ax)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"K = {s['K']}, n = {s['n']} per class, {s['bits']}-bit {s['convention']} staircase, hinge, "
                 f"lr {s['lr']}, <= {s['steps']} steps, {len(s['seeds'])} seeds (grey line: N = 2 d_k)")
    return fig


#: Figure 9's two networks: the quantized one (2-bit round, w ~ N(0, I)) and the unquantized ReLU one
#: (``activation=relu`` with the relu STE: plain gradient descent; w ~ N(0, 0.1^2 I)) -- docs/findings.md, S5.
SLOW_FAST_NETWORKS = (("quantized", None, 1.0), ("relu", "relu", 0.1))
_DYN_STEPS = 600


def _relu(h):
    return np.maximum(h, 0)


def _dynamics_run(task: dict) -> list:
    """Per-class dynamics of one run of figure 9 (``coarsegrad.dynamics``), as plain lists."""
    data, _ = _sub_problem(task["seed"], 2, 4, task["n"])
    p0 = _sub.subspace_init(SUB_K, 4, data.x.shape[1], np.random.SeedSequence(task["seed"]).spawn(2)[1],
                            scale=task["scale"])
    act = _relu if task["activation"] == "relu" else None
    run = _sub.subspace_descent(data, p0, "relu", Staircase(SUB_BITS, 1.0, SUB_CONV), lr=SUB_LR, steps=_DYN_STEPS,
                                coverage_every=10**9, activation=act, keep_weights=range(_DYN_STEPS + 1))
    out = []
    for c in _dyn.class_dynamics(run, data, activation=act):
        out.append(dict(network=task["network"], seed=task["seed"], k=c.k, t_star=c.t_star,
                        zero_loss_step=c.end if c.converged else None, horizon=c.horizon,
                        loss=np.round(c.loss, 10).tolist(), angular_speed=[float(f"{a:.6g}") for a in c.angular_speed],
                        distance=[float(f"{d:.6g}") for d in c.distance]))
    return out


def _as_dynamics(r: dict):
    """A :class:`coarsegrad.dynamics.ClassDynamics` rebuilt from a figure record (what the statistics need)."""
    a = np.asarray(r["angular_speed"], dtype=np.float64)
    z = np.zeros_like(a)
    end = len(a)
    return _dyn.ClassDynamics(k=r["k"], t_star=r["t_star"], end=end, converged=r["zero_loss_step"] is not None,
                              horizon=r["horizon"], loss=np.asarray(r["loss"]), distance=np.asarray(r["distance"]),
                              angular_speed=a, angular_speed_whole=a, log_norm_change=z, rel_loss_decrease=z,
                              weight_speed=z)


def subspace_slow_fast_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Per class-run: loss, angular speed of the own directions and distance to the limit per step, for
    the quantized and the ReLU network (K = 3, d_k = 2, N = 4, hinge), with the sign test of
    :func:`coarsegrad.dynamics.event_statistics` per network."""
    cfg = _preset(preset)
    seeds = _seeds(seed, cfg["sub_dyn_seeds"])
    tasks = [dict(network=name, activation=act, scale=scale, seed=s, n=cfg["sub_n"])
             for name, act, scale in SLOW_FAST_NETWORKS for s in seeds]
    runs = [r for rows in map_fn(_dynamics_run, tasks) for r in rows]
    summary = {}
    for name, *_ in SLOW_FAST_NETWORKS:
        classes = [_as_dynamics(r) for r in runs if r["network"] == name]
        st = _dyn.event_statistics(classes, np.random.default_rng(seed))
        g = lambda x: float(f"{x:.6g}")              # 6 digits: rounding-level differences do not reach the JSON
        summary[name] = dict(n=st["n"], wins=st["wins"], z=g(st["z"]), z_rank=g(st["z_rank"]), effect=g(st["effect"]),
                             median_at_event=g(st["median_at_event"]), median_random=g(st["median_random"]),
                             trend=[None if not np.isfinite(t) else float(f"{t:.6g}")
                                    for t in _dyn.control_trend(classes)])
    return dict(settings=dict(preset=preset, seed=seed, K=SUB_K, d_k=2, N=4, n=cfg["sub_n"], bits=SUB_BITS,
                              convention=SUB_CONV, alpha=1.0, lr=SUB_LR, ste="relu", loss="hinge", steps=_DYN_STEPS,
                              seeds=len(seeds), networks=[dict(name=n, activation=a or "staircase", init_scale=s)
                                                          for n, a, s in SLOW_FAST_NETWORKS]),
                runs=runs, summary=summary)


def _aligned_median(curves, offsets, lo, hi):
    """Median over curves of value at step t* + j, j in [lo, hi) (NaN where fewer than half the curves, or
    than 3, reach: a median over a changing few would show their comings and goings, not a trend)."""
    grid = np.arange(lo, hi)
    M = np.full((len(curves), grid.size), np.nan)
    for i, (c, ts) in enumerate(zip(curves, offsets)):
        idx = grid + ts
        ok = (idx >= 0) & (idx < len(c))
        M[i, ok] = np.asarray(c, dtype=np.float64)[idx[ok]]
    enough = np.sum(np.isfinite(M), axis=0) >= np.maximum(3, len(curves) / 2)
    med = np.full(grid.size, np.nan)
    if np.any(enough):
        med[enough] = np.nanmedian(M[:, enough], axis=0)
    return grid, med


def draw_subspace_slow_fast(data: dict) -> Figure:
    """Per network (rows): angular speed of the own directions, the same relative to classes covered at
    initialization, and the distance to the class's limit, against steps from t* (log scale; median black)."""
    nets = [n["name"] for n in data["settings"]["networks"]]
    fig = Figure(figsize=(14, 3.4 * len(nets)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(nets), 3))
    for row, name in zip(axes, nets):
        events = [r for r in data["runs"] if r["network"] == name and r["t_star"] is not None
                  and 0 < r["t_star"] < r["horizon"]]
        trend = np.array([np.nan if t is None else t for t in data["summary"][name]["trend"]], dtype=np.float64)
        ang, rel, dist, ts = [], [], [], []
        for r in events:
            a = np.asarray(r["angular_speed"], dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel.append(a / trend[:a.size])
                d = np.asarray(r["distance"], dtype=np.float64)
                dist.append(d / d[r["t_star"]])
            ang.append(a)
            ts.append(r["t_star"])
        span = 60
        for ax, curves, title in ((row[0], ang, "angular speed of own directions (rad/step)"),
                                  (row[1], rel, "relative to classes covered at init"),
                                  (row[2], dist, "|u_t - u_limit| / |u_t* - u_limit|")):
            for c, t in zip(curves, ts):
                x = np.arange(len(c)) - t
                keep = (x >= -span) & (x <= span)
                ax.plot(x[keep], np.where(np.asarray(c)[keep] > 0, np.asarray(c)[keep], np.nan), color="0.7", lw=0.6)
            if curves:
                g, med = _aligned_median(curves, ts, -span, span + 1)
                ax.plot(g, med, color="k", lw=2, label="median")
            ax.axvline(0, color="C3", ls=":", lw=1.2)
            ax.set(yscale="log", xlabel="steps from t* (class covered)", title=f"{name}: {title}")
            _style(ax)
        st = data["summary"][name]
        row[1].text(0.02, 0.04, f"after/before at t* / at steps at t*'s relative position:\nx{st['effect']:.2f} "
                                f"(median of {st['n']} class-runs; rank z = {st['z_rank']:.1f})",
                    transform=row[1].transAxes, fontsize=7)
        row[0].legend(fontsize=7)
    s = data["settings"]
    fig.suptitle(f"around t*, per class: K = {s['K']}, d_k = {s['d_k']}, N = {s['N']}, hinge, relu STE; quantized = "
                 f"{s['bits']}-bit {s['convention']}, w ~ N(0, I); relu = unquantized, w ~ N(0, 0.01 I); "
                 f"{s['seeds']} seeds per network")
    return fig
