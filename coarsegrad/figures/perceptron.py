"""Figures 2, 3 and 6: the quantized perceptron on synthetic non-linear classes (decision regions,
training curves) and on MNIST."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import data as _data
from ..nets import mlp_init, mlp_predict
from ..train import SGD, mlp_train
from ._common import (COLORS, FLOAT, LABELS, MNIST_SGD, STE_NAMES, SYNTHETIC_SGD, experiment_staircase, resolution,
                      _preset, _seeds, _style)

__all__ = ["decision_regions_data", "draw_decision_regions", "training_curves_data", "draw_training_curves",
           "mnist_data", "draw_mnist"]


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
