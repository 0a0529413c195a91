"""Figure 11: learnable resolution -- alpha trajectories and accuracy, fixed ``alpha = 2/L`` vs each rule."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import data as _data
from ..alpha import ALPHA_RULES, AUTHORS_INITIAL_ALPHA
from ..nets import mlp_init
from ..train import SGD, mlp_train
from ._common import MNIST_SGD, SYNTHETIC_SGD, _seeds, _style, experiment_staircase

__all__ = ["alpha_learning_data", "draw_alpha_learning", "ALPHA_PRESETS"]


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
#: Learned alpha takes the step ``ALPHA_LR_RATIO * lr / L^2`` (docs/paper-notes.md, A2): the curvature of the
#: loss in alpha grows like ``L^2``, and with the weights' own step the 4-bit runs collapsed (docs/findings.md, A4).
ALPHA_LR_RATIO = 1.0
FIXED = "fixed"
RULE_COLORS = {FIXED: "#000000", "ae": "#1f77b4", "pact": "#d62728", "min": "#2ca02c", "mean": "#ff7f0e"}


def _alpha_run(task: dict) -> dict:
    """One perceptron run (clipped ReLU STE): fixed alpha = 2/L, or learned from the authors' initial alpha."""
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
                        alpha_lr=task.get("alpha_lr_ratio", ALPHA_LR_RATIO) * sgd.lr / stair.L**2)
    alpha = hist["alpha"].tolist() if rule != FIXED else [stair.alpha] * len(hist.step)
    out = dict(set=task["set"], bits=bits, rule=rule, seed=task["seed"], alpha=alpha,
               accuracy=hist["accuracy"].tolist(), loss=hist["loss"].tolist())
    if eval_data is not None:
        out["test_accuracy"] = hist["test_accuracy"].tolist()
    return out


def alpha_learning_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """Fixed ``alpha = 2/L`` vs ``alpha`` learned with each rule (ae, pact, min, mean) from the authors'
    initial values, on synthetic sets and the MNIST subset, per bit-width."""
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
                              alpha_lr_ratio=ALPHA_LR_RATIO, alpha_step="alpha_lr_ratio * lr / L^2",
                              synthetic_sgd=SYNTHETIC_SGD, mnist_sgd=MNIST_SGD),
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
                 f"{s['initial_alpha']}, step = {s['alpha_lr_ratio']:g} x lr / L$^2$)")
    return fig
