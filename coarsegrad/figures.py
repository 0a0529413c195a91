r"""The six figures of SPEC §6, each split into a pure seeded compute function and a draw function.

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
6. ``mnist`` -- test accuracy per epoch per STE and bit-width on MNIST, with a table.

Presets: ``tiny`` (seconds; for the tests), ``fast`` (all six in about two minutes on 2 cores),
``full`` (the paper's scale: wider networks, more epochs, seeds and steps; full MNIST when
``$COARSEGRAD_MNIST_DIR`` holds the IDX files).
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

__all__ = ["FIGURES", "PRESETS", "STE_NAMES", "resolution", "results_markdown",
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
    ax2.set(title="STE $\\mu$ (proxy of $\\sigma$)", xlabel="$z$", ylim=(-1.2, 5))
    ax3.set(title="$\\mu'$ replaces $\\sigma' = 0$ a.e. (offset for visibility)", xlabel="$z$")
    ax2.legend(fontsize=8)
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


def draw_cosine(data: dict) -> Figure:
    """Cosine between E g and grad f per step (one line per initialization)."""
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    seen = set()
    for r in data["runs"]:
        label = None if r["ste"] in seen else LABELS[r["ste"]]
        seen.add(r["ste"])
        ax.plot(r["step"], r["cosine"], color=COLORS[r["ste"]], label=label, lw=1.2)
    ax.axhline(0, color="0.3", lw=0.8)
    s = data["settings"]
    ax.set(xlabel="coarse gradient descent step", ylabel="cos(E[g], $\\nabla f$)", ylim=(-1.05, 1.05),
           title=f"teacher-student, bits {s['bits']}, n={s['n']}, p={s['p']}, K={s['K']}, {s['inits']} inits")
    ax.legend(fontsize=8)
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
    """Relative population loss on a log scale, one panel per bit-width."""
    bits = data["settings"]["bits"]
    fig = Figure(figsize=(4.2 * len(bits), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(bits)))
    for ax, b in zip(axes, bits):
        seen = set()
        for r in data["runs"]:
            if r["bits"] != b:
                continue
            loss = np.asarray(r["loss"])
            label = None if r["ste"] in seen else LABELS[r["ste"]]
            seen.add(r["ste"])
            ax.semilogy(r["step"], np.maximum(loss / loss[0], 1e-16), color=COLORS[r["ste"]], label=label, lw=1.2)
        ax.set(title=f"bits = {b}", xlabel="step", ylabel="f(W_t) / f(W_0)")
        _style(ax)
    axes[0].legend(fontsize=8)
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
    """Test accuracy per epoch (one panel per bit-width, float ReLU dashed) and a table of final accuracies."""
    s = data["settings"]
    bits = s["bits"]
    runs = [r for r in data["runs"] if r["source"] == "subset"]
    fig = Figure(figsize=(4.2 * len(bits) + 4.5, 4), layout="constrained")
    axes = fig.subplots(1, len(bits) + 1, gridspec_kw=dict(width_ratios=[1] * len(bits) + [1.1]))
    float_run = next(r for r in runs if r["ste"] == FLOAT)
    epochs = np.arange(1, len(float_run["test_accuracy"]))       # epoch 0 (untrained, ~10%) is left out
    for ax, b in zip(axes, bits):
        for r in runs:
            if r["bits"] == b and r["ste"] != FLOAT:
                ax.plot(epochs, r["test_accuracy"][1:], color=COLORS[r["ste"]], label=LABELS[r["ste"]], marker=".")
        ax.plot(epochs, float_run["test_accuracy"][1:], color="k", ls="--", label=LABELS[FLOAT])
        ax.set(title=f"bits = {b}", xlabel="epoch", ylabel="test accuracy", ylim=(0.8, 1.0))
        _style(ax)
    axes[0].legend(fontsize=7, loc="lower right")
    table = axes[-1]
    table.axis("off")
    rows = [[LABELS[ste]] + [f"{100 * next(r['test_accuracy'][-1] for r in runs if r['ste'] == ste and r['bits'] == b):.1f}"
                             for b in bits] for ste in STE_NAMES]
    rows.append(["float ReLU"] + [f"{100 * float_run['test_accuracy'][-1]:.1f}"] * len(bits))
    t = table.table(cellText=rows, colLabels=["STE"] + [f"{b}-bit" for b in bits], loc="center")
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    t.scale(1, 1.4)
    table.set_title("final test accuracy (%)")
    fig.suptitle(f"MNIST subset ({s['train']} train / {s['test']} test), 784-{s['hidden']}-10, {s['epochs']} epochs")
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
    return "\n".join(lines)
