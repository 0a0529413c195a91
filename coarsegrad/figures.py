r"""The paper's figures, each split into a pure seeded compute function and a draw function.

``<name>_data(preset="fast", seed=0, map_fn=map) -> dict`` computes everything the figure shows
(JSON-ready: numbers and lists, plus the ``settings`` used); ``draw_<name>(data) -> Figure`` builds
a new :class:`matplotlib.figure.Figure` from that dict alone, without touching pyplot's global
state. :data:`FIGURES` lists them; ``coarsegrad figures`` saves image, data and manifest.
``map_fn`` runs the independent training runs: the builtin ``map`` by default, an executor's
``map`` for parallel sweeps (the runs are top-level functions of plain arguments).

1. ``staircase`` -- the quantized ReLU at several bit-widths, and each STE's ``mu`` and ``mu'``;
2. ``decision_regions`` -- synthetic non-linear classes and the regions learned with each STE;
3. ``training_curves`` -- training loss and accuracy per STE, mean and spread over seeds;
4. ``cosine`` -- cosine between the expected coarse gradient and the exact population gradient
   along coarse gradient descent (teacher-student model);
5. ``population_loss`` -- the population loss along coarse gradient descent, per STE and bit-width;
6. ``mnist`` -- test accuracy per epoch per STE and bit-width on MNIST, with a table;
7. ``subspace_hull`` -- orthogonal-subspace model: own-neuron directions, their convex hull, ``t*``;
8. ``subspace_success`` -- success rate of perfect classification against neurons per class, with
   Wendel's coverage probability at initialization;
9. ``subspace_slow_fast`` -- loss and accuracy against step with ``t*`` marked;
10. ``descent_atlas`` -- the sign and size of ``cos(E g, grad f)`` over (angle, length ratio);
11. ``alpha_learning`` -- learned resolution ``alpha``: trajectories and accuracy per rule.

Presets: ``tiny`` (seconds; for the tests), ``fast`` (the committed figures; a few minutes on 2
cores), ``full`` (the paper's scale: wider networks, more epochs, seeds and steps; full MNIST when
``$COARSEGRAD_MNIST_DIR`` names a directory with the IDX files -- a wrong value is an error).
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from . import data as _data
from .nets import mlp_init, mlp_predict
from .population import random_teacher
from .quant import Staircase
from .ste import BUILTIN_STES, get_ste
from .train import SGD, default_population_lr, mlp_train, population_descent

__all__ = ["FIGURES", "PRESETS", "STE_NAMES", "SYNTHETIC_SGD", "MNIST_SGD", "resolution", "experiment_staircase",
           "results_markdown",
           "staircase_data", "draw_staircase", "decision_regions_data", "draw_decision_regions",
           "training_curves_data", "draw_training_curves", "cosine_data", "draw_cosine",
           "population_loss_data", "draw_population_loss", "mnist_data", "draw_mnist"]

STE_NAMES = BUILTIN_STES
FLOAT = "float_relu"
COLORS = {"identity": "#d62728", "relu": "#1f77b4", "clipped_relu": "#ff7f0e", "log_tailed_relu": "#2ca02c",
          FLOAT: "#000000"}
LABELS = {"identity": "identity", "relu": "ReLU", "clipped_relu": "clipped ReLU",
          "log_tailed_relu": "log-tailed ReLU", FLOAT: "float ReLU (no quantization)"}

#: Top level of the staircase in the experiments: alpha = TOP / L, so every bit-width spans [0, TOP]
#: (our choice, docs/paper-notes.md E1).
TOP = 2.0

PRESETS = {
    "tiny": dict(grid=40, syn_samples=150, syn_hidden=16, syn_epochs=8, seeds=2, bits=(1, 2),
                 pop_steps=20, pop_inits=1, pop_n=4, pop_p=3, pop_K=2,
                 mnist_train=300, mnist_test=100, mnist_hidden=32, mnist_epochs=2, mnist_bits=(2,), full_mnist=False),
    "fast": dict(grid=150, syn_samples=600, syn_hidden=64, syn_epochs=100, seeds=3, bits=(1, 2, 4),
                 pop_steps=600, pop_inits=2, pop_n=10, pop_p=6, pop_K=3,
                 mnist_train=8000, mnist_test=2000, mnist_hidden=256, mnist_epochs=8, mnist_bits=(1, 2, 4),
                 full_mnist=False),
    "full": dict(grid=300, syn_samples=1200, syn_hidden=128, syn_epochs=200, seeds=10, bits=(1, 2, 3, 4),
                 pop_steps=3000, pop_inits=5, pop_n=20, pop_p=8, pop_K=4,
                 mnist_train=8000, mnist_test=2000, mnist_hidden=512, mnist_epochs=15, mnist_bits=(1, 2, 4),
                 full_mnist=True),
}


def resolution(bits: int) -> float:
    """``alpha = TOP / L``: the experiments' staircase spans ``[0, TOP]`` at every bit-width."""
    return TOP / Staircase(bits).L


def experiment_staircase(bits: int) -> Staircase:
    """The staircase of the experiments at ``bits``: ``Staircase(bits, TOP / L)``."""
    return Staircase(bits, resolution(bits))


#: The optimizer settings of the experiments (docs/paper-notes.md, E2); epochs come from the preset.
SYNTHETIC_SGD = dict(lr=0.1, batch_size=32, momentum=0.9, schedule="cosine")
MNIST_SGD = dict(lr=0.05, batch_size=64, momentum=0.9, schedule="cosine")


def _preset(preset: str) -> dict:
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    return dict(PRESETS[preset])


def _seeds(seed: int, n: int) -> list:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def _style(ax):
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


# =========================================================================================
# 1. The staircase and the STEs
# =========================================================================================

def staircase_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """``sigma`` for bits 1-3 (alpha = 1) and ``mu``, ``mu'`` of each STE at bits 2 (no randomness)."""
    cfg = _preset(preset)
    z = np.linspace(-1.0, 8.0, 10 * cfg["grid"] + 1)
    stair = {str(b): Staircase(b, 1.0)(z).tolist() for b in (1, 2, 3)}
    zs = np.linspace(-1.0, 5.0, 6 * cfg["grid"] + 1)
    two = Staircase(2, 1.0)
    mus = {name: get_ste(name).mu(zs, two).tolist() for name in STE_NAMES}
    primes = {name: get_ste(name).mu_prime(zs, two).tolist() for name in STE_NAMES}
    return dict(settings=dict(preset=preset, alpha=1.0, ste_bits=2), z=z.tolist(), sigma=stair,
                z_ste=zs.tolist(), sigma_ste=two(zs).tolist(), mu=mus, mu_prime=primes)


def draw_staircase(data: dict) -> Figure:
    """Left: sigma at bits 1-3. Middle: each STE's mu over sigma (bits 2). Right: mu'."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for b, values in data["sigma"].items():
        ax1.step(data["z"], values, where="post", label=f"bits = {b} (L = {2 ** int(b) - 1})")
    ax1.set(title="quantized ReLU $\\sigma$ ($\\alpha = 1$)", xlabel="$z$", ylabel="$\\sigma(z)$")
    ax1.legend(fontsize=8)
    ax2.step(data["z_ste"], data["sigma_ste"], where="post", color="0.6", lw=3, label="$\\sigma$ (bits 2)")
    for name in STE_NAMES:
        ax2.plot(data["z_ste"], data["mu"][name], color=COLORS[name], label=LABELS[name])
        ax3.plot(data["z_ste"], np.asarray(data["mu_prime"][name]) + 0.02 * STE_NAMES.index(name),
                 color=COLORS[name], label=LABELS[name])
    ax2.set(title="STE $\\mu$ (proxy of $\\sigma$), bits 2", xlabel="$z$", ylabel="$\\mu(z)$", ylim=(-1.2, 5))
    ax3.set(title="$\\mu'$ replaces $\\sigma' = 0$ a.e. (offset for visibility)", xlabel="$z$",
            ylabel="$\\mu'(z)$ (+ 0.02 per STE)")
    ax2.legend(fontsize=8)
    ax3.legend(fontsize=8)
    for ax in (ax1, ax2, ax3):
        _style(ax)
    return fig


# =========================================================================================
# Training runs on synthetic data (figures 2 and 3)
# =========================================================================================

def _synthetic_run(task: dict) -> dict:
    """One training run on a synthetic set: history, and predictions on a grid if asked."""
    x, y = _data.SYNTHETIC_SETS[task["set"]](n_samples=task["samples"], seed=task["data_seed"])
    ste = task["ste"]
    stair = experiment_staircase(task["bits"])
    activation = (lambda h: np.maximum(h, 0)) if ste == FLOAT else None
    params0 = mlp_init(2, task["hidden"], int(y.max()) + 1, task["seed"], staircase=stair)
    sgd = SGD(**SYNTHETIC_SGD, epochs=task["epochs"])
    params, hist = mlp_train(x, y, params0, "relu" if ste == FLOAT else ste, stair, sgd, seed=task["seed"],
                             activation=activation)
    out = dict(task=task, sgd=sgd.as_dict(), loss=hist["loss"].tolist(), accuracy=hist["accuracy"].tolist())
    if task.get("grid"):
        g = np.linspace(-1.6, 1.6, task["grid"])
        gx, gy = np.meshgrid(g, g)
        pred = mlp_predict(np.stack([gx.ravel(), gy.ravel()], axis=1), params, stair, activation=activation)
        # Compact JSON: each grid row as a string of class digits, points to 1e-6 (far below a pixel).
        rows = ["".join(map(str, row)) for row in pred.reshape(gx.shape)]
        out.update(grid=np.round(g, 6).tolist(), regions=rows, x=np.round(x, 6).tolist(), labels=y.tolist())
    return out


def decision_regions_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Blobs (3 classes x 3 blobs); 2-bit perceptron trained with each STE, and the float ReLU net."""
    cfg = _preset(preset)
    data_seed, run_seed = _seeds(seed, 2)
    tasks = [dict(set="blobs", samples=cfg["syn_samples"], data_seed=data_seed, seed=run_seed, bits=2, ste=ste,
                  hidden=cfg["syn_hidden"], epochs=cfg["syn_epochs"], grid=cfg["grid"])
             for ste in STE_NAMES + (FLOAT,)]
    runs = list(map_fn(_synthetic_run, tasks))
    return dict(settings=dict(preset=preset, seed=seed, set="blobs", classes=3, pieces=3, noise=0.08,
                              samples=cfg["syn_samples"], hidden=cfg["syn_hidden"], epochs=cfg["syn_epochs"],
                              bits=2, alpha=resolution(2), sgd=runs[0]["sgd"]),
                x=runs[0]["x"], labels=runs[0]["labels"], grid=runs[0]["grid"],
                panels=[dict(ste=r["task"]["ste"], regions=r["regions"], train_accuracy=r["accuracy"][-1])
                        for r in runs])


def draw_decision_regions(data: dict) -> Figure:
    """One panel per STE: learned regions (shaded) and the training points."""
    from matplotlib.colors import ListedColormap
    panels = data["panels"]
    fig = Figure(figsize=(3.2 * len(panels), 3.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    x, labels, g = np.asarray(data["x"]), np.asarray(data["labels"]), np.asarray(data["grid"])
    light = ListedColormap(["#c6dbef", "#fdd0a2", "#c7e9c0"])
    dark = ListedColormap(["#08519c", "#a63603", "#006d2c"])
    for ax, panel in zip(axes, panels):
        regions = np.array([[int(c) for c in row] for row in panel["regions"]])
        ax.pcolormesh(g, g, regions, cmap=light, shading="auto", vmin=0, vmax=2, rasterized=True)
        ax.scatter(x[:, 0], x[:, 1], c=labels, cmap=dark, s=4, vmin=0, vmax=2, rasterized=True)
        ax.set(title=f"{LABELS[panel['ste']]}\ntrain acc {panel['train_accuracy']:.3f}", xticks=[], yticks=[],
               aspect="equal")
    s = data["settings"]
    fig.suptitle(f"decision regions, {s['bits']}-bit activations ($\\alpha$ = {s['alpha']:.3g}), "
                 f"{s['hidden']} hidden units, {s['epochs']} epochs")
    return fig


def training_curves_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Every STE x bit-width x seed on the blobs (and the float ReLU net per seed)."""
    cfg = _preset(preset)
    seeds = _seeds(seed, cfg["seeds"])
    tasks = [dict(set="blobs", samples=cfg["syn_samples"], data_seed=s, seed=s, bits=b, ste=ste,
                  hidden=cfg["syn_hidden"], epochs=cfg["syn_epochs"])
             for s in seeds for b in cfg["bits"] for ste in STE_NAMES]
    tasks += [dict(set="blobs", samples=cfg["syn_samples"], data_seed=s, seed=s, bits=cfg["bits"][0], ste=FLOAT,
                   hidden=cfg["syn_hidden"], epochs=cfg["syn_epochs"]) for s in seeds]
    runs = list(map_fn(_synthetic_run, tasks))
    return dict(settings=dict(preset=preset, seed=seed, seeds=seeds, set="blobs", bits=list(cfg["bits"]),
                              samples=cfg["syn_samples"], hidden=cfg["syn_hidden"], epochs=cfg["syn_epochs"],
                              alpha={str(b): resolution(b) for b in cfg["bits"]}, sgd=runs[0]["sgd"]),
                runs=[dict(ste=r["task"]["ste"], bits=r["task"]["bits"], seed=r["task"]["seed"], loss=r["loss"],
                           accuracy=r["accuracy"]) for r in runs])


def draw_training_curves(data: dict) -> Figure:
    """Loss and training accuracy per epoch: one column per bit-width, mean line and min-max band."""
    bits = data["settings"]["bits"]
    fig = Figure(figsize=(4 * len(bits), 6), layout="constrained")
    axes = fig.subplots(2, len(bits), squeeze=False)
    for j, b in enumerate(bits):
        for ste in STE_NAMES + (FLOAT,):
            runs = [r for r in data["runs"] if r["ste"] == ste and (r["bits"] == b or ste == FLOAT)]
            if not runs:
                continue
            for i, key in enumerate(("loss", "accuracy")):
                values = np.asarray([r[key] for r in runs])
                epochs = np.arange(values.shape[1])
                ax = axes[i, j]
                style = dict(color=COLORS[ste], ls="--" if ste == FLOAT else "-")
                ax.plot(epochs, values.mean(axis=0), label=LABELS[ste], **style)
                ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=COLORS[ste], alpha=0.15)
        axes[0, j].set(title=f"bits = {b}", yscale="log", ylabel="training loss")
        axes[1, j].set(xlabel="epoch", ylabel="training accuracy", ylim=(0.3, 1.01))
        for ax in axes[:, j]:
            _style(ax)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"blobs, {len(data['settings']['seeds'])} seeds: mean and min-max over seeds")
    return fig


# =========================================================================================
# Teacher-student population dynamics (figures 4 and 5)
# =========================================================================================

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
# 6. MNIST
# =========================================================================================

def _mnist_run(task: dict) -> dict:
    if task["source"] == "full":
        directory = _data.mnist.default_mnist_dir()
        x, y = _data.load_mnist(directory, "train")
        xt, yt = _data.load_mnist(directory, "test")
    else:
        x, y = _data.load_mnist_subset("train")
        xt, yt = _data.load_mnist_subset("test")
        x, y, xt, yt = x[: task["train"]], y[: task["train"]], xt[: task["test"]], yt[: task["test"]]
    dtype = np.float32
    x, xt = _data.to_float(x, dtype), _data.to_float(xt, dtype)
    ste = task["ste"]
    stair = experiment_staircase(task["bits"])
    activation = (lambda h: np.maximum(h, 0)) if ste == FLOAT else None
    params0 = mlp_init(784, task["hidden"], 10, task["seed"], staircase=stair, dtype=dtype)
    sgd = SGD(**MNIST_SGD, epochs=task["epochs"])
    _, hist = mlp_train(x, y.astype(np.intp), params0, "relu" if ste == FLOAT else ste, stair, sgd, seed=task["seed"],
                        activation=activation, eval_data=(xt, yt.astype(np.intp)))
    return dict(task=task, sgd=sgd.as_dict(), test_accuracy=hist["test_accuracy"].tolist(),
                train_accuracy=hist["accuracy"].tolist(), loss=hist["loss"].tolist())


def mnist_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Test accuracy per epoch for every STE x bit-width and the float ReLU net, on the shipped
    subset (and on full MNIST in the ``full`` preset when the IDX files are available)."""
    cfg = _preset(preset)
    (run_seed,) = _seeds(seed, 1)
    sources = ["subset"]
    if cfg["full_mnist"] and _data.mnist.default_mnist_dir() is not None:
        sources.append("full")
    tasks = []
    for source in sources:
        base = dict(source=source, train=cfg["mnist_train"], test=cfg["mnist_test"], hidden=cfg["mnist_hidden"],
                    epochs=cfg["mnist_epochs"], seed=run_seed)
        tasks += [dict(base, bits=b, ste=ste) for b in cfg["mnist_bits"] for ste in STE_NAMES]
        tasks.append(dict(base, bits=cfg["mnist_bits"][0], ste=FLOAT))
    runs = list(map_fn(_mnist_run, tasks))
    return dict(settings=dict(preset=preset, seed=seed, sources=sources, train=cfg["mnist_train"],
                              test=cfg["mnist_test"], hidden=cfg["mnist_hidden"], epochs=cfg["mnist_epochs"],
                              bits=list(cfg["mnist_bits"]), alpha={str(b): resolution(b) for b in cfg["mnist_bits"]},
                              sgd=runs[0]["sgd"], dtype="float32"),
                runs=[dict(source=r["task"]["source"], ste=r["task"]["ste"], bits=r["task"]["bits"],
                           test_accuracy=r["test_accuracy"], train_accuracy=r["train_accuracy"]) for r in runs])


def draw_mnist(data: dict) -> Figure:
    """Test accuracy per epoch (one panel per bit-width, float ReLU dashed) and a table of final
    accuracies; one row of panels per data source (the shipped subset, and full MNIST when run)."""
    s = data["settings"]
    bits = s["bits"]
    sources = [src for src in s.get("sources", ["subset"]) if any(r["source"] == src for r in data["runs"])]
    fig = Figure(figsize=(4.2 * len(bits) + 4.5, 4 * len(sources)), layout="constrained")
    grid = fig.subplots(len(sources), len(bits) + 1, squeeze=False,
                        gridspec_kw=dict(width_ratios=[1] * len(bits) + [1.1]))
    for row, source in zip(grid, sources):
        runs = [r for r in data["runs"] if r["source"] == source]
        float_run = next(r for r in runs if r["ste"] == FLOAT)
        epochs = np.arange(1, len(float_run["test_accuracy"]))       # epoch 0 (untrained, ~10%) is left out
        shown = np.asarray([r["test_accuracy"][1:] for r in runs], dtype=float)
        # The y-range from the data, with a margin (a fixed 0.8-1.0 left the tiny preset's curves,
        # far below 80%, off the panel).
        low, high = (np.min(shown), np.max(shown)) if shown.size else (0.0, 1.0)
        pad = 0.08 * (high - low) + 0.005
        ylim = (max(0.0, low - pad), min(1.0, high + pad) + 0.002)
        what = (f"subset ({s['train']} train / {s['test']} test)" if source == "subset"
                else "full MNIST (60,000 train / 10,000 test)")
        for ax, b in zip(row, bits):
            for r in runs:
                if r["bits"] == b and r["ste"] != FLOAT:
                    ax.plot(epochs, r["test_accuracy"][1:], color=COLORS[r["ste"]], label=LABELS[r["ste"]],
                            marker=".")
            ax.plot(epochs, float_run["test_accuracy"][1:], color="k", ls="--", label=LABELS[FLOAT])
            ax.set(title=f"{what}, bits = {b}", xlabel="epoch", ylabel="test accuracy", ylim=ylim)
            ax.xaxis.get_major_locator().set_params(integer=True)
            _style(ax)
        row[0].legend(fontsize=7, loc="best")
        table = row[-1]
        table.axis("off")
        cells = [[LABELS[ste]] + [f"{100 * next(r['test_accuracy'][-1] for r in runs if r['ste'] == ste and r['bits'] == b):.1f}"
                                  for b in bits] for ste in STE_NAMES]
        cells.append(["float ReLU"] + [f"{100 * float_run['test_accuracy'][-1]:.1f}"] * len(bits))
        t = table.table(cellText=cells, colLabels=["STE"] + [f"{b}-bit" for b in bits], loc="center")
        t.auto_set_font_size(False)
        t.set_fontsize(8)
        t.scale(1, 1.4)
        table.set_title(f"final test accuracy (%), {'subset' if source == 'subset' else 'full MNIST'}")
    fig.suptitle(f"MNIST, 784-{s['hidden']}-10, {s['epochs']} epochs")
    return fig


#: name -> (compute, draw, one-line description)
FIGURES = {
    "staircase": (staircase_data, draw_staircase, "quantized ReLU at several bit-widths; each STE's mu and mu'"),
    "decision_regions": (decision_regions_data, draw_decision_regions,
                         "synthetic non-linear classes and the decision regions learned with each STE"),
    "training_curves": (training_curves_data, draw_training_curves,
                        "training loss and accuracy per epoch per STE (mean and spread over seeds)"),
    "cosine": (cosine_data, draw_cosine, "cosine between E[g] and the exact population gradient along training"),
    "population_loss": (population_loss_data, draw_population_loss,
                        "population loss along coarse gradient descent per STE and bit-width"),
    "mnist": (mnist_data, draw_mnist, "MNIST test accuracy per epoch per STE and bit-width, with a table"),
}


# =========================================================================================
# The results page, generated from the figure data
# =========================================================================================

def results_markdown(figure_data: dict) -> str:
    """``docs/results.md``: tables computed from the figures' data dicts (``{name: data}``).

    Needs ``training_curves`` and ``mnist``; uses ``population_loss`` and ``cosine`` when present.
    """
    for need in ("training_curves", "mnist"):
        if need not in figure_data:
            raise ValueError(f"results need the data of figure {need!r}; run 'coarsegrad figures --only {need}'")
    tc, mn = figure_data["training_curves"], figure_data["mnist"]
    s = tc["settings"]
    lines = ["# Results", "",
             "Generated by `coarsegrad results` from the data of `coarsegrad figures` "
             f"(preset `{s['preset']}`, seed {s['seed']}); do not edit by hand. "
             "Settings that are our choices, not the paper's, are listed in [paper-notes.md](paper-notes.md).", ""]

    lines += ["## Synthetic non-linear classes: perfect training classification", "",
              f"Blobs (3 classes, each a union of 3 Gaussian blobs around the unit circle, {s['samples']} points), "
              f"perceptron 2-{s['hidden']}-3, {s['epochs']} epochs of SGD (lr {s['sgd']['lr']}, momentum "
              f"{s['sgd']['momentum']}, batch {s['sgd']['batch_size']}, {s['sgd']['schedule']} schedule), "
              f"alpha = {TOP:g} / L. "
              f"Each cell: runs with 100% training accuracy out of {len(s['seeds'])} seeds, and the mean final "
              "training accuracy.", ""]
    bits = s["bits"]
    lines.append("| STE | " + " | ".join(f"{b}-bit" for b in bits) + " |")
    lines.append("| --- |" + " --- |" * len(bits))
    for ste in STE_NAMES + (FLOAT,):
        cells = []
        for b in bits:
            acc = [r["accuracy"][-1] for r in tc["runs"] if r["ste"] == ste and (r["bits"] == b or ste == FLOAT)]
            cells.append(f"{sum(a == 1.0 for a in acc)}/{len(acc)} ({100 * np.mean(acc):.2f}%)")
        lines.append(f"| {LABELS[ste]} | " + " | ".join(cells) + " |")
    lines.append("")

    ms = mn["settings"]
    for source in ms["sources"]:
        runs = [r for r in mn["runs"] if r["source"] == source]
        what = (f"shipped subset, {ms['train']} training / {ms['test']} test digits" if source == "subset"
                else "full MNIST, 60,000 training / 10,000 test digits")
        lines += [f"## MNIST ({what})", "",
                  f"Perceptron 784-{ms['hidden']}-10, float32, {ms['epochs']} epochs of SGD (lr {ms['sgd']['lr']}, "
                  f"momentum {ms['sgd']['momentum']}, batch {ms['sgd']['batch_size']}, {ms['sgd']['schedule']} "
                  f"schedule), alpha = {TOP:g} / L. "
                  "Final test accuracy (%); the float ReLU network is trained the same way without quantization.", ""]
        lines.append("| STE | " + " | ".join(f"{b}-bit" for b in ms["bits"]) + " |")
        lines.append("| --- |" + " --- |" * len(ms["bits"]))
        for ste in STE_NAMES:
            cells = [f"{100 * next(r['test_accuracy'][-1] for r in runs if r['ste'] == ste and r['bits'] == b):.2f}"
                     for b in ms["bits"]]
            lines.append(f"| {LABELS[ste]} | " + " | ".join(cells) + " |")
        flt = next(r for r in runs if r["ste"] == FLOAT)
        lines.append(f"| {LABELS[FLOAT]} | " + " | ".join([f"{100 * flt['test_accuracy'][-1]:.2f}"] * len(ms["bits"])) + " |")
        lines.append("")

    if "population_loss" in figure_data:
        pl = figure_data["population_loss"]
        ps = pl["settings"]
        lines += ["## Teacher-student model: population loss after coarse gradient descent", "",
                  f"Exact expected coarse gradient, v = v* > 0, n = {ps['n']}, p = {ps['p']}, K = {ps['K']}, "
                  f"{ps['steps']} steps, lr = {ps['lr']}. Largest f(final) / f(initial) over {ps['inits']} "
                  "random initializations.", ""]
        lines.append("| STE | " + " | ".join(f"{b}-bit" for b in ps["bits"]) + " |")
        lines.append("| --- |" + " --- |" * len(ps["bits"]))
        for ste in STE_NAMES:
            cells = []
            for b in ps["bits"]:
                ratios = [r["loss"][-1] / r["loss"][0] for r in pl["runs"] if r["ste"] == ste and r["bits"] == b]
                cells.append(f"{max(ratios):.1e}")
            lines.append(f"| {LABELS[ste]} | " + " | ".join(cells) + " |")
        lines.append("")
    if "cosine" in figure_data:
        cs = figure_data["cosine"]
        lines += ["## Cosine between the expected coarse gradient and the population gradient", "",
                  f"Along the runs of the cosine figure (bits {cs['settings']['bits']}): smallest and last value.", "",
                  "| STE | min cos | final cos |", "| --- | --- | --- |"]
        for ste in STE_NAMES:
            runs = [r for r in cs["runs"] if r["ste"] == ste]
            lines.append(f"| {LABELS[ste]} | {min(min(r['cosine']) for r in runs):.3f} | "
                         f"{min(r['cosine'][-1] for r in runs):.3f} |")
        lines.append("")
    if "subspace_success" in figure_data:
        sd = figure_data["subspace_success"]
        ss = sd["settings"]
        rate, init = _success_table(sd)
        lines += ["## Orthogonal subspaces: coarse gradient descent to hinge loss 0 (perfect classification)", "",
                  f"K = {ss['K']} classes, n = {ss['n']} points per class on the unit sphere of a d_k-dimensional "
                  f"subspace, N neurons per class, {ss['bits']}-bit {ss['convention']} staircase (alpha = 1), hinge "
                  f"loss (margin alpha), full batch, lr {ss['lr']}, at most {ss['steps']} steps, "
                  f"{len(ss['seeds'])} seeds. Each cell: fraction of runs reaching hinge loss exactly 0. "
                  "Wendel: probability that one class's N Gaussian neurons cover its subspace at initialization.", ""]
        for m in ss["dims"]:
            lines.append(f"| d_k = {m} | " + " | ".join(f"N = {N}" for N in ss["N"]) + " |")
            lines.append("| --- |" + " --- |" * len(ss["N"]))
            for ste in ss["stes"]:
                lines.append(f"| {LABELS[ste]} | " + " | ".join(f"{rate[(m, ste, N)]:.2f}" for N in ss["N"]) + " |")
            lines.append("| Wendel: P(class covered) | "
                         + " | ".join(f"{sd['wendel'][str(m)][str(N)]:.2f}" for N in ss["N"]) + " |")
            lines.append(f"| Wendel^{ss['K']}: P(all covered) | "
                         + " | ".join(f"{sd['wendel'][str(m)][str(N)] ** ss['K']:.2f}" for N in ss["N"]) + " |")
            lines.append("| observed: all covered at init | " + " | ".join(f"{init[(m, N)]:.2f}" for N in ss["N"]) + " |")
            lines.append("")
    if "subspace_slow_fast" in figure_data:
        sf = figure_data["subspace_slow_fast"]
        lines += ["## Orthogonal subspaces: the step t* at which every class is covered", "",
                  f"d_k = {sf['settings']['d_k']}, N = {sf['settings']['N']}, runs that start with a class uncovered. "
                  "Loss decrease per step before and after t* (to the step of hinge loss 0).", "",
                  "| run | t* | loss 0 at | rate before t* | rate after t* |", "| --- | --- | --- | --- | --- |"]
        for i, r in enumerate(sf["runs"]):
            ts, T, L = r["t_star"], r["zero_loss_step"], r["loss"]
            if ts is not None and T is not None and 0 < ts < T:
                lines.append(f"| {i + 1} | {ts} | {T} | {(L[0] - L[ts]) / ts:.4f} | {(L[ts] - L[T]) / (T - ts):.4f} |")
            else:
                lines.append(f"| {i + 1} | {ts} | {T} | - | - |")
        lines.append("")
    if "alpha_learning" in figure_data:          # figure 11 (issue 12); its helpers are defined below
        lines += _alpha_results(figure_data["alpha_learning"])
    return "\n".join(lines)


# =========================================================================================
# 7-9. The orthogonal-subspace model (SPEC §8; docs/theory.md §7; docs/findings.md S1-S6)
# =========================================================================================
# Appended: figures 7-9 register themselves in FIGURES and their sizes in PRESETS here.

from . import subspaces as _sub                                     # noqa: E402

__all__ += ["subspace_hull_data", "draw_subspace_hull", "subspace_success_data", "draw_subspace_success",
            "subspace_slow_fast_data", "draw_subspace_slow_fast"]

PRESETS["tiny"].update(sub_n=50, sub_steps=120, sub_N=(2, 4), sub_dims=(2,), sub_seeds=2, sub_stes=("relu", "identity"),
                       sub_curves=1, sub_snapshots=3)
PRESETS["fast"].update(sub_n=50, sub_steps=300, sub_N=(2, 3, 4, 6, 8), sub_dims=(2, 3), sub_seeds=4,
                       sub_stes=STE_NAMES, sub_curves=3, sub_snapshots=4)
PRESETS["full"].update(sub_n=50, sub_steps=1000, sub_N=(2, 3, 4, 6, 8, 12, 16), sub_dims=(2, 3, 8), sub_seeds=10,
                       sub_stes=STE_NAMES, sub_curves=6, sub_snapshots=5)

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


FIGURES.update({
    "subspace_hull": (subspace_hull_data, draw_subspace_hull,
                      "orthogonal subspaces, d_k = 2: own-neuron directions and their convex hull along training"),
    "subspace_success": (subspace_success_data, draw_subspace_success,
                         "success rate of perfect classification vs neurons per class, per STE, beside Wendel"),
    "subspace_slow_fast": (subspace_slow_fast_data, draw_subspace_slow_fast,
                           "loss, accuracy and coverage against step with t* (all classes covered) marked"),
})


# =========================================================================================
# 10. The descent-regime atlas (teacher-student model, exact formulas)
# =========================================================================================

__all__ += ["descent_atlas_data", "draw_descent_atlas"]

# Grid sizes chosen so that the regime's bound 3 pi / 4 and the ratio 1 are grid points.
PRESETS["tiny"].update(atlas_angles=9, atlas_ratios=7, atlas_bits=(1, 2))
PRESETS["fast"].update(atlas_angles=33, atlas_ratios=19, atlas_bits=(1, 2, 4))
PRESETS["full"].update(atlas_angles=121, atlas_ratios=73, atlas_bits=(1, 2, 3, 4))

#: The atlas's teacher: v* > 0 (so the ReLU STE's extra condition (sum v*)^2 >= |v*|^2 holds and the
#: regime is the angle bound alone), w* of length TOP along the first axis. One class (K = 1) says it
#: all: with v = v* the class terms of f and E g are independent (docs/findings.md).
ATLAS_V_STAR = (1.0, 0.5, 0.25)
ATLAS_RATIOS = (0.1, 100.0)


def _atlas_cosines(v_star, r_star, bits, ste, theta, ratio) -> np.ndarray:
    """``cos(E g, grad f)`` at ``w = ratio r* (cos theta, sin theta)``, ``w* = (r*, 0)``, ``v = v*``;
    shape ``(len(theta), len(ratio))``; NaN where either vector is 0 (at the minimizer)."""
    from .population import Teacher, expected_coarse_grad, population_grad
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
    from .claims import THETA_MAX
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


FIGURES.update({
    "descent_atlas": (descent_atlas_data, draw_descent_atlas,
                      "cos(E g, grad f) over angle and length ratio per STE and bit-width, with the descent regime"),
})


# =========================================================================================
# 11. Learnable resolution: alpha trajectories and accuracy, fixed alpha = 2/L vs each rule
# =========================================================================================

#: Figure 11's sizes (its own, so the other figures' presets stay as they are). ``fast`` runs in about
#: 30 s on one worker: small networks and few epochs; ``full`` matches figures 3 and 6's fast scale.
ALPHA_PRESETS = {
    "tiny": dict(sets=("blobs",), syn_samples=120, syn_hidden=12, syn_epochs=4, seeds=1, bits=(1, 2),
                 mnist_train=200, mnist_test=100, mnist_hidden=16, mnist_epochs=1, mnist_bits=(2,)),
    "fast": dict(sets=("blobs",), syn_samples=300, syn_hidden=32, syn_epochs=20, seeds=1, bits=(1, 2, 4),
                 mnist_train=1000, mnist_test=500, mnist_hidden=32, mnist_epochs=2, mnist_bits=(1, 2, 4)),
    "full": dict(sets=("blobs", "sectors"), syn_samples=600, syn_hidden=64, syn_epochs=100, seeds=3, bits=(1, 2, 4),
                 mnist_train=8000, mnist_test=2000, mnist_hidden=256, mnist_epochs=8, mnist_bits=(1, 2, 4)),
}
#: Learned alpha gets the step size of the weights (alpha is one more parameter of the same SGD, as in a
#: PyTorch optimizer over all parameters): docs/paper-notes.md, A2.
ALPHA_LR_RATIO = 1.0
FIXED = "fixed"
RULE_COLORS = {FIXED: "#000000", "ae": "#1f77b4", "pact": "#d62728", "min": "#2ca02c", "mean": "#ff7f0e"}


def _alpha_run(task: dict) -> dict:
    """One perceptron run (clipped ReLU STE): fixed alpha = 2/L, or learned from the authors' initial alpha."""
    from .alpha import AUTHORS_INITIAL_ALPHA
    bits, rule = task["bits"], task["rule"]
    stair = experiment_staircase(bits)
    if rule != FIXED:
        stair = stair.with_alpha(AUTHORS_INITIAL_ALPHA[bits])
    if task["set"] == "mnist":
        x, y = _data.load_mnist_subset("train")
        xt, yt = _data.load_mnist_subset("test")
        x, y, xt, yt = x[: task["train"]], y[: task["train"]], xt[: task["test"]], yt[: task["test"]]
        # float64, unlike figure 6: the committed data are compared to rounding, and float32 sums that
        # differ with the BLAS thread count would move pre-activations across thresholds.
        dtype = np.float64
        x, xt = _data.to_float(x, dtype), _data.to_float(xt, dtype)
        y, yt = y.astype(np.intp), yt.astype(np.intp)
        params0 = mlp_init(784, task["hidden"], 10, task["seed"], staircase=experiment_staircase(bits), dtype=dtype)
        sgd = SGD(**MNIST_SGD, epochs=task["epochs"])
        eval_data = (xt, yt)
    else:
        x, y = _data.SYNTHETIC_SETS[task["set"]](n_samples=task["samples"], seed=task["seed"])
        params0 = mlp_init(2, task["hidden"], int(y.max()) + 1, task["seed"], staircase=experiment_staircase(bits))
        sgd = SGD(**SYNTHETIC_SGD, epochs=task["epochs"])
        eval_data = None
    _, hist = mlp_train(x, y, params0, "clipped_relu", stair, sgd, seed=task["seed"], eval_data=eval_data,
                        learn_alpha=None if rule == FIXED else rule,
                        alpha_lr=task.get("alpha_lr_ratio", ALPHA_LR_RATIO) * sgd.lr)
    alpha = hist["alpha"].tolist() if rule != FIXED else [stair.alpha] * len(hist.step)
    out = dict(set=task["set"], bits=bits, rule=rule, seed=task["seed"], alpha=alpha,
               accuracy=hist["accuracy"].tolist(), loss=hist["loss"].tolist())
    if eval_data is not None:
        out["test_accuracy"] = hist["test_accuracy"].tolist()
    return out


def alpha_learning_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Fixed ``alpha = 2/L`` vs ``alpha`` learned with each rule (ae, pact, min, mean) from the authors'
    initial values, on synthetic sets and the MNIST subset, per bit-width."""
    from .alpha import ALPHA_RULES, AUTHORS_INITIAL_ALPHA
    if preset not in ALPHA_PRESETS:
        raise ValueError(f"preset must be one of {', '.join(ALPHA_PRESETS)}; got {preset!r}")
    cfg = ALPHA_PRESETS[preset]
    seeds = _seeds(seed, cfg["seeds"])
    rules = (FIXED,) + ALPHA_RULES
    tasks = [dict(set=name, samples=cfg["syn_samples"], hidden=cfg["syn_hidden"], epochs=cfg["syn_epochs"], seed=s,
                  bits=b, rule=r) for name in cfg["sets"] for s in seeds for b in cfg["bits"] for r in rules]
    tasks += [dict(set="mnist", train=cfg["mnist_train"], test=cfg["mnist_test"], hidden=cfg["mnist_hidden"],
                   epochs=cfg["mnist_epochs"], seed=seeds[0], bits=b, rule=r) for b in cfg["mnist_bits"] for r in rules]
    runs = list(map_fn(_alpha_run, tasks))
    sizes = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items() if k != "seeds"}
    return dict(settings=dict(preset=preset, seed=seed, seeds=seeds, ste="clipped_relu", **sizes,
                              rules=list(rules), fixed_alpha="2 / L",
                              initial_alpha={str(b): a for b, a in AUTHORS_INITIAL_ALPHA.items()},
                              alpha_lr_ratio=ALPHA_LR_RATIO, synthetic_sgd=SYNTHETIC_SGD, mnist_sgd=MNIST_SGD),
                runs=runs)


def _final_accuracy(run: dict) -> float:
    """Test accuracy on MNIST, training accuracy on the synthetic sets (their question is perfect training
    classification)."""
    return run["test_accuracy"][-1] if run["set"] == "mnist" else run["accuracy"][-1]


def draw_alpha_learning(data: dict) -> Figure:
    """One row per data set: alpha per epoch for each bit-width (log scale; fixed 2/L in black), and the
    final accuracy per rule and bit-width (mean over seeds)."""
    s = data["settings"]
    sets = list(s["sets"]) + ["mnist"]
    ncol = max(len(s["bits"]), len(s["mnist_bits"])) + 1
    fig = Figure(figsize=(3.6 * ncol, 3.2 * len(sets)), layout="constrained")
    axes = fig.subplots(len(sets), ncol, squeeze=False)
    for row, name in zip(axes, sets):
        bits = s["mnist_bits"] if name == "mnist" else s["bits"]
        runs = [r for r in data["runs"] if r["set"] == name]
        for ax, b in zip(row, bits):
            for rule in s["rules"]:
                for i, r in enumerate(x for x in runs if x["bits"] == b and x["rule"] == rule):
                    ax.plot(np.arange(len(r["alpha"])), r["alpha"], color=RULE_COLORS.get(rule, "0.5"),
                            ls="--" if rule == FIXED else "-", lw=1.2, label=rule if i == 0 else None)
            ax.set(title=f"{name}, bits {b}", xlabel="epoch", ylabel="$\\alpha$", yscale="log")
            _style(ax)
        for ax in row[len(bits):-1]:
            ax.axis("off")
        row[0].legend(fontsize=7)
        bar = row[-1]
        width = 0.8 / len(s["rules"])
        for j, rule in enumerate(s["rules"]):
            acc = [np.mean([_final_accuracy(r) for r in runs if r["bits"] == b and r["rule"] == rule]) for b in bits]
            bar.bar(np.arange(len(bits)) + (j - (len(s["rules"]) - 1) / 2) * width, acc, width,
                    color=RULE_COLORS.get(rule, "0.5"), label=rule)
        low = np.min([_final_accuracy(r) for r in runs])
        bar.set(xticks=np.arange(len(bits)), xticklabels=[f"{b}-bit" for b in bits],
                ylim=(max(0.0, low - 0.05), 1.0), ylabel="test accuracy" if name == "mnist" else "training accuracy",
                title="final accuracy")
        _style(bar)
    fig.suptitle(f"learned vs fixed resolution (clipped ReLU STE; learned alpha starts at the authors' values "
                 f"{s['initial_alpha']}, step = {s['alpha_lr_ratio']:g} x lr)")
    return fig


FIGURES["alpha_learning"] = (alpha_learning_data, draw_alpha_learning,
                             "learnable alpha: trajectories and accuracy, fixed 2/L vs the rules ae, pact, min, mean")


def _alpha_results(data: dict) -> list:
    """Figure 11's table for docs/results.md: final accuracy (and final alpha) per rule and bit-width."""
    s = data["settings"]
    lines = ["## Learnable resolution alpha: fixed 2/L vs learned with each rule", "",
             f"Clipped ReLU STE; learned alpha starts at the authors' values {s['initial_alpha']} and takes the "
             f"weights' step size times {s['alpha_lr_ratio']:g} (docs/paper-notes.md, A1-A2). Synthetic sets: "
             f"{s['syn_samples']} points, 2-{s['syn_hidden']}-K, {s['syn_epochs']} epochs, final training accuracy "
             f"(mean over {len(s['seeds'])} seeds); MNIST subset: {s['mnist_train']} training / {s['mnist_test']} "
             f"test digits, 784-{s['mnist_hidden']}-10, {s['mnist_epochs']} epochs, final test accuracy. "
             "Each cell: accuracy (%) and the final alpha.", ""]
    for name in list(s["sets"]) + ["mnist"]:
        bits = s["mnist_bits"] if name == "mnist" else s["bits"]
        runs = [r for r in data["runs"] if r["set"] == name]
        lines += [f"**{name}**", "", "| alpha | " + " | ".join(f"{b}-bit" for b in bits) + " |",
                  "| --- |" + " --- |" * len(bits)]
        for rule in s["rules"]:
            cells = []
            for b in bits:
                sel = [r for r in runs if r["bits"] == b and r["rule"] == rule]
                cells.append(f"{100 * np.mean([_final_accuracy(r) for r in sel]):.2f} "
                             f"(alpha {np.mean([r['alpha'][-1] for r in sel]):.3g})")
            label = "fixed 2/L" if rule == FIXED else f"learned, {rule}"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
