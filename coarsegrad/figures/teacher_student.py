"""Figures 4, 5 and 10: the teacher-student model -- cosine between E[g] and the population gradient
along coarse gradient descent, the population loss along it, and the descent-regime atlas."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..population import Teacher, expected_coarse_grad, population_grad, random_teacher
from ..train import default_population_lr, population_descent
from ._common import COLORS, LABELS, STE_NAMES, TOP, _preset, _seeds, _style, experiment_staircase, resolution

__all__ = ["cosine_data", "draw_cosine", "population_loss_data", "draw_population_loss", "descent_atlas_data",
           "draw_descent_atlas", "ATLAS_V_STAR", "ATLAS_RATIOS"]


def _population_run(task: dict) -> dict:
    """Coarse GD on the exact population loss from one initialization."""
    rng = np.random.default_rng(task["seed"])
    n, p, K, bits = task["n"], task["p"], task["K"], task["bits"]
    teacher = random_teacher(n, p, K, experiment_staircase(bits), rng, v_star=np.abs(rng.standard_normal(p)) + 0.1)
    W0 = rng.standard_normal((n, K)) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(n)
    lr = default_population_lr(teacher)
    _, W, hist = population_descent(teacher, W0, task["ste"], lr=lr, steps=task["steps"],
                                    record_every=task["record_every"], record_cosine=task["cosine"])
    out = dict(task=task, step=hist.step, loss=hist["loss"].tolist())
    if task["cosine"]:
        out["cosine"] = hist["cosine"].tolist()
    return out


def _population_tasks(cfg, seed, bits_list, stes, cosine):
    seeds = _seeds(seed, cfg["pop_inits"])
    every = max(1, cfg["pop_steps"] // 100)
    return [dict(seed=s, n=cfg["pop_n"], p=cfg["pop_p"], K=cfg["pop_K"], bits=b, ste=ste, steps=cfg["pop_steps"],
                 record_every=every, cosine=cosine) for b in bits_list for ste in stes for s in seeds]


def cosine_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """cos(E g, grad f) along coarse GD, v = v* > 0, bits 2, per STE and initialization."""
    cfg = _preset(preset)
    runs = list(map_fn(_population_run, _population_tasks(cfg, seed, (2,), STE_NAMES, True)))
    return dict(settings=dict(preset=preset, seed=seed, n=cfg["pop_n"], p=cfg["pop_p"], K=cfg["pop_K"], bits=2,
                              alpha=resolution(2), steps=cfg["pop_steps"], inits=cfg["pop_inits"],
                              lr="1 / (|v*|^2 + (sum v*)^2)"),
                runs=[dict(ste=r["task"]["ste"], seed=r["task"]["seed"], step=r["step"], cosine=r["cosine"],
                           loss=r["loss"]) for r in runs])


#: Line styles telling apart runs from different initializations (cycled; shade varies too past four).
INIT_STYLES = ("-", "--", ":", "-.")


def _init_style(i: int) -> dict:
    """Line style and opacity of the ``i``-th initialization: same colour per STE, different dash."""
    return dict(ls=INIT_STYLES[i % len(INIT_STYLES)], alpha=max(0.35, 1.0 - 0.3 * (i // len(INIT_STYLES))))


def _init_legend(ax, seeds, **kw):
    """A second legend: one dash per initialization."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color="0.3", **_init_style(i)) for i in range(len(seeds))]
    legend = ax.legend(handles, [f"init {i + 1}" for i in range(len(seeds))], fontsize=7, title="initialization",
                       title_fontsize=7, **kw)
    ax.add_artist(legend)


def draw_cosine(data: dict) -> Figure:
    """Cosine between E g and grad f per step: colour per STE, dash per initialization."""
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    seeds = list(dict.fromkeys(r["seed"] for r in data["runs"]))
    seen = set()
    for r in data["runs"]:
        label = None if r["ste"] in seen else LABELS[r["ste"]]
        seen.add(r["ste"])
        ax.plot(r["step"], r["cosine"], color=COLORS[r["ste"]], label=label, lw=1.2, **_init_style(seeds.index(r["seed"])))
    ax.axhline(0, color="0.3", lw=0.8)
    s = data["settings"]
    ax.set(xlabel="coarse gradient descent step", ylabel="cos(E[g], $\\nabla f$)", ylim=(-1.05, 1.05),
           title=f"teacher-student, bits {s['bits']}, n={s['n']}, p={s['p']}, K={s['K']}, {s['inits']} inits")
    if len(seeds) > 1:
        _init_legend(ax, seeds, loc="lower right")
    ax.legend(fontsize=8, loc="lower left")
    _style(ax)
    return fig


def population_loss_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """f(W_t) / f(W_0) along coarse GD with the exact E g, per STE and bit-width."""
    cfg = _preset(preset)
    runs = list(map_fn(_population_run, _population_tasks(cfg, seed, cfg["bits"], STE_NAMES, False)))
    return dict(settings=dict(preset=preset, seed=seed, n=cfg["pop_n"], p=cfg["pop_p"], K=cfg["pop_K"],
                              bits=list(cfg["bits"]), alpha={str(b): resolution(b) for b in cfg["bits"]},
                              steps=cfg["pop_steps"], inits=cfg["pop_inits"], lr="1 / (|v*|^2 + (sum v*)^2)"),
                runs=[dict(ste=r["task"]["ste"], bits=r["task"]["bits"], seed=r["task"]["seed"], step=r["step"],
                           loss=r["loss"]) for r in runs])


def draw_population_loss(data: dict) -> Figure:
    """Relative population loss on a log scale, one panel per bit-width: colour per STE, dash per
    initialization."""
    bits = data["settings"]["bits"]
    fig = Figure(figsize=(4.2 * len(bits), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(bits)))
    seeds = list(dict.fromkeys(r["seed"] for r in data["runs"]))
    for ax, b in zip(axes, bits):
        seen = set()
        for r in data["runs"]:
            if r["bits"] != b:
                continue
            loss = np.asarray(r["loss"])
            label = None if r["ste"] in seen else LABELS[r["ste"]]
            seen.add(r["ste"])
            ax.semilogy(r["step"], np.maximum(loss / loss[0], 1e-16), color=COLORS[r["ste"]], label=label, lw=1.2,
                        **_init_style(seeds.index(r["seed"])))
        ax.set(title=f"bits = {b}", xlabel="step", ylabel="f(W_t) / f(W_0)")
        _style(ax)
    axes[0].legend(fontsize=8, loc="lower left")
    if len(seeds) > 1:
        _init_legend(axes[-1], seeds, loc="lower left")
    fig.suptitle("population loss under coarse gradient descent (exact E[g], v = v*)")
    return fig


# =========================================================================================
# 10. The descent-regime atlas (exact formulas)
# =========================================================================================

#: The atlas's teacher: v* > 0 (so the ReLU STE's extra condition (sum v*)^2 >= |v*|^2 holds and the
#: regime is the angle bound alone), w* of length TOP along the first axis. One class (K = 1) says it
#: all: with v = v* the class terms of f and E g are independent (docs/findings.md).
ATLAS_V_STAR = (1.0, 0.5, 0.25)
ATLAS_RATIOS = (0.1, 100.0)


def _atlas_cosines(v_star, r_star, bits, ste, theta, ratio) -> np.ndarray:
    """``cos(E g, grad f)`` at ``w = ratio r* (cos theta, sin theta)``, ``w* = (r*, 0)``, ``v = v*``;
    shape ``(len(theta), len(ratio))``; NaN where either vector is 0 (at the minimizer)."""
    teacher = Teacher(v_star, [[r_star], [0.0]], experiment_staircase(bits))
    T, R = np.meshgrid(theta, ratio, indexing="ij")
    W = np.stack([r_star * R * np.cos(T), r_star * R * np.sin(T)], axis=-1)[..., None].reshape(-1, 2, 1)
    g = population_grad(teacher, teacher.v_star, W)[1][..., 0]                   # (S, 2)
    Eg = expected_coarse_grad(teacher, teacher.v_star, W, ste)[1][..., 0]
    den = np.linalg.norm(g, axis=1) * np.linalg.norm(Eg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(den > 0, np.sum(g * Eg, axis=1) / den, np.nan)
    # At the global minimizer both vectors are rounding noise (1e-16): their cosine means nothing.
    cos[((T == 0) & (R == 1)).ravel()] = np.nan
    return cos.reshape(T.shape)


def descent_atlas_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    r"""``cos(E g, grad f)`` over (angle to the teacher, length ratio ``|w| / |w*|``), per STE and bit-width.

    Exact formulas (:func:`~coarsegrad.population.expected_coarse_grad`,
    :func:`~coarsegrad.population.population_grad`), ``v = v* =`` :data:`ATLAS_V_STAR`, one class,
    ``|w*| = TOP``, ``alpha = TOP / L``; angles uniform in ``[0, pi]``, ratios log-uniform in
    :data:`ATLAS_RATIOS`. No randomness (``seed`` is recorded only). ``cos`` is ``None`` (JSON) where
    it is undefined: at the global minimizer ``theta = 0, ratio = 1`` (and along ``theta = 0`` for
    bits 1, where ``E g`` vanishes). The regime of :func:`coarsegrad.claims.descent_regime` is
    ``theta <= 3 pi / 4`` (``theta < pi`` for bits 1) here.
    """
    cfg = _preset(preset)
    theta = np.linspace(0.0, np.pi, cfg["atlas_angles"])
    ratio = np.geomspace(*ATLAS_RATIOS, cfg["atlas_ratios"])
    tasks = [(b, ste) for b in cfg["atlas_bits"] for ste in STE_NAMES]
    cosines = list(map_fn(_atlas_task, [dict(bits=b, ste=ste, theta=theta.tolist(), ratio=ratio.tolist())
                                        for b, ste in tasks]))
    from ..claims.teacher_student import THETA_MAX     # the regime is the claims' finding; claims never import figures
    return dict(settings=dict(preset=preset, seed=seed, v_star=list(ATLAS_V_STAR), r_star=TOP,
                              bits=list(cfg["atlas_bits"]), alpha={str(b): resolution(b) for b in cfg["atlas_bits"]},
                              theta_max=float(THETA_MAX), ratios=list(ATLAS_RATIOS)),
                theta=theta.tolist(), ratio=ratio.tolist(),
                panels=[dict(bits=b, ste=ste, cos=c) for (b, ste), c in zip(tasks, cosines)])


def _atlas_task(task: dict) -> list:
    cos = _atlas_cosines(ATLAS_V_STAR, TOP, task["bits"], task["ste"], np.asarray(task["theta"]),
                         np.asarray(task["ratio"]))
    return [[None if not np.isfinite(c) else float(c) for c in row] for row in cos]


def draw_descent_atlas(data: dict) -> Figure:
    """One panel per bit-width (rows) and STE (columns): ``cos(E g, grad f)`` in colour (blue > 0 is
    descent, red < 0 ascent), its zero contour in black, and the region outside the descent regime
    hatched (the identity STE is not admissible: no regime)."""
    from matplotlib.patches import Rectangle
    s = data["settings"]
    bits = s["bits"]
    stes = list(dict.fromkeys(p["ste"] for p in data["panels"]))
    theta = np.asarray(data["theta"]) / np.pi
    ratio = np.log10(np.asarray(data["ratio"]))
    fig = Figure(figsize=(3.2 * len(stes) + 1, 2.7 * len(bits) + 0.6), layout="constrained")
    axes = fig.subplots(len(bits), len(stes), squeeze=False, sharex=True, sharey=True)
    mesh = None
    for panel in data["panels"]:
        ax = axes[bits.index(panel["bits"]), stes.index(panel["ste"])]
        cos = np.array([[np.nan if c is None else c for c in row] for row in panel["cos"]], dtype=float)
        mesh = ax.pcolormesh(theta, ratio, cos.T, cmap="RdBu", vmin=-1, vmax=1, shading="nearest", rasterized=True)
        if np.nanmin(cos) < 0 < np.nanmax(cos):
            ax.contour(theta, ratio, np.nan_to_num(cos.T, nan=1.0), levels=[0.0], colors="k", linewidths=1.0)
        if panel["ste"] != "identity":
            bound = 1.0 if panel["bits"] == 1 else s["theta_max"] / np.pi
            ax.add_patch(Rectangle((bound, ratio[0]), 1.0 - bound, ratio[-1] - ratio[0], fill=False, hatch="//",
                                   edgecolor="0.35", lw=0.0))
            ax.axvline(bound, color="k", ls="--", lw=1.0)
        ax.axhline(0.0, color="0.5", lw=0.5)
        ax.set_title(f"{LABELS[panel['ste']]}{' (not admissible)' if panel['ste'] == 'identity' else ''}, "
                     f"bits {panel['bits']}", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("angle to the teacher / $\\pi$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$\\log_{10} |w| / |w^*|$")
    fig.colorbar(mesh, ax=axes, shrink=0.8, label="cos(E[g], $\\nabla f$)")
    fig.suptitle(f"descent-regime atlas: v = v* = {tuple(s['v_star'])}, |w*| = {s['r_star']:g}, alpha = {TOP:g} / L; "
                 "hatched: outside the regime (docs/findings.md); black: cos = 0")
    return fig
