"""The results page (docs/results.md), generated from the figures' data.

The data are files a user points at (``coarsegrad results --figures DIR``): :func:`check_figure_data`
checks every field the page reads against :data:`SCHEMA` before anything is rendered, so a file
edited by hand or written by another version is named in one :class:`FigureDataError` (a
``ValueError``) with the field and the fix, and an error met while rendering checked data is a bug.
The prose never shows a Python value: lists read "1, 2 and 4", counts agree with their nouns, a
missing value reads as words.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._common import FLOAT, LABELS, STE_NAMES, TOP
from .alpha import FIXED
from .subspaces import _success_table

__all__ = ["results_markdown", "check_figure_data", "FigureDataError", "SCHEMA"]


class FigureDataError(ValueError):
    """Figure data the results page cannot read: the message names the figure, the field and the fix."""


# ---------------------------------------------------------------------------- what the page reads

INT, NUM, FLAG, STR, ANY = "an integer", "a number", "true/false or a number", "a string", "any value"
STR_OR_NUM = "a string or a number"


def _list(item, nonempty: bool = True) -> tuple:
    return ("list", item, nonempty)


def _maybe(spec) -> tuple:
    return ("maybe", spec)


def _table(value) -> tuple:
    """A JSON object with any keys whose values all match ``value``."""
    return ("table", value)


_SGD = {"lr": NUM, "momentum": NUM, "batch_size": INT, "schedule": STR}

#: Every field :func:`results_markdown` reads, per figure (a dict: these keys, each checked; extra
#: keys are allowed). tests/test_cli.py removes or retypes each field of real data in turn and
#: checks that ``coarsegrad results`` then says so in one line instead of failing inside.
SCHEMA = {
    "training_curves": {
        "settings": {"preset": STR, "seed": INT, "seeds": _list(ANY), "bits": _list(INT), "samples": INT,
                     "hidden": INT, "epochs": INT, "sgd": _SGD},
        "runs": _list({"ste": STR, "bits": INT, "accuracy": _list(NUM)})},
    "mnist": {
        "settings": {"preset": STR, "seed": INT, "sources": _list(STR), "train": INT, "test": INT, "hidden": INT,
                     "epochs": INT, "bits": _list(INT), "sgd": _SGD},
        "runs": _list({"source": STR, "ste": STR, "bits": INT, "test_accuracy": _list(NUM)})},
    "population_loss": {
        "settings": {"preset": STR, "seed": INT, "n": INT, "p": INT, "K": INT, "steps": INT, "lr": STR_OR_NUM,
                     "inits": INT, "bits": _list(INT)},
        "runs": _list({"ste": STR, "bits": INT, "loss": _list(NUM)})},
    "cosine": {
        "settings": {"preset": STR, "seed": INT, "bits": INT},
        "runs": _list({"ste": STR, "cosine": _list(NUM)})},
    "subspace_success": {
        "settings": {"preset": STR, "seed": INT, "K": INT, "n": INT, "bits": INT, "convention": STR, "lr": NUM,
                     "steps": INT, "seeds": _list(ANY), "dims": _list(INT), "N": _list(INT), "stes": _list(STR)},
        "wendel": _table(_table(NUM)),
        "runs": _list({"m": INT, "ste": STR, "N": INT, "success": FLAG, "init_covered": INT})},
    "subspace_slow_fast": {
        "settings": {"preset": STR, "seed": INT, "d_k": INT, "N": INT},
        "runs": _list({"t_star": _maybe(INT), "zero_loss_step": _maybe(INT), "loss": _list(NUM)}, nonempty=False)},
    "alpha_learning": {
        "settings": {"preset": STR, "seed": INT, "seeds": _list(ANY), "sets": _list(STR, nonempty=False),
                     "syn_samples": INT, "syn_hidden": INT, "syn_epochs": INT, "bits": _list(INT),
                     "mnist_train": INT, "mnist_test": INT, "mnist_hidden": INT, "mnist_epochs": INT,
                     "mnist_bits": _list(INT), "rules": _list(STR), "initial_alpha": _table(NUM),
                     "alpha_lr_ratio": NUM},
        "runs": _list({"set": STR, "bits": INT, "rule": STR, "alpha": _list(NUM), "accuracy": _list(NUM)})},
}
#: The figures without which there is no page.
REQUIRED_FIGURES = ("training_curves", "mnist")


#: The types ``json.loads`` gives a scalar that matches each spec (a shortcut; :func:`_kind_error` decides).
_JSON_TYPES = {STR: (str,), INT: (int,), NUM: (float, int), STR_OR_NUM: (str, float, int), FLAG: (bool, int, float)}


def _kind_error(value, spec) -> str | None:
    """Why ``value`` does not match the scalar ``spec`` (None if it does)."""
    if spec == ANY:
        return None
    if spec == STR:
        ok = isinstance(value, str)
    elif spec == INT:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif spec == NUM:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    elif spec == STR_OR_NUM:
        ok = isinstance(value, str) or (isinstance(value, numbers.Real) and not isinstance(value, bool))
    else:           # FLAG
        ok = isinstance(value, numbers.Real)
    return None if ok else f"expected {spec}, got {_show(value)}"


def _show(value) -> str:
    text = repr(value)
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, numbers.Number) else type(value).__name__)
    return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}"


def _check(value, spec, where: str, figure: str) -> None:
    def fail(why):
        raise FigureDataError(f"{figure}.json: {where or 'the top level'}: {why}; regenerate it with "
                              f"'coarsegrad figures --only {figure}' (figure data from another version or edited "
                              f"by hand cannot be tabulated)")
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            fail(f"expected an object, got {_show(value)}")
        for key, sub in spec.items():
            if key not in value:
                fail(f"the field {key!r} is missing")
            _check(value[key], sub, f"{where}.{key}" if where else key, figure)
    elif isinstance(spec, tuple) and spec[0] == "list":
        _, item, nonempty = spec
        if not isinstance(value, list):
            fail(f"expected a list, got {_show(value)}")
        if nonempty and not value:
            fail("the list is empty")
        exact = _JSON_TYPES.get(item) if isinstance(item, str) else None
        if exact is not None and all(type(element) in exact for element in value):
            return                  # a long list of JSON scalars: checked at once (the loop below names a bad one)
        for i, element in enumerate(value):
            _check(element, item, f"{where}[{i}]", figure)
    elif isinstance(spec, tuple) and spec[0] == "maybe":
        if value is not None:
            _check(value, spec[1], where, figure)
    elif isinstance(spec, tuple) and spec[0] == "table":
        if not isinstance(value, dict):
            fail(f"expected an object, got {_show(value)}")
        for key, element in value.items():
            _check(element, spec[1], f"{where}.{key}", figure)
    else:
        why = _kind_error(value, spec)
        if why:
            fail(why)


def check_figure_data(figure_data: dict) -> None:
    """Check that ``figure_data`` (``{name: data}``) holds every field :func:`results_markdown` reads,
    with the right types (:data:`SCHEMA`); raise :class:`FigureDataError` naming the first that does not."""
    if not isinstance(figure_data, dict):
        raise TypeError(f"figure_data must be a dict {{figure name: data}}; got {type(figure_data).__name__}")
    for need in REQUIRED_FIGURES:
        if need not in figure_data:
            raise FigureDataError(f"results need the data of figure {need!r}; run 'coarsegrad figures --only {need}'")
    for name, data in figure_data.items():
        if name in SCHEMA:
            _check(data, SCHEMA[name], "", name)
    mnist_alpha = [r for r in figure_data.get("alpha_learning", {}).get("runs", []) if r["set"] == "mnist"]
    for i, run in enumerate(mnist_alpha):          # the MNIST rows report test accuracy
        _check(run.get("test_accuracy"), _list(NUM), f"runs (set mnist, #{i}).test_accuracy", "alpha_learning")


# ---------------------------------------------------------------------------- words, not Python values

def _and(items) -> str:
    """``[1, 2, 4]`` -> ``"1, 2 and 4"``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _count(n: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _mean(values, fmt: str, scale: float = 1.0) -> str:
    """The mean of ``values`` formatted, or "-" for a cell without runs."""
    return format(scale * float(np.mean(values)), fmt) if len(values) else "-"


def results_markdown(figure_data: dict) -> str:
    """``docs/results.md``: tables computed from the figures' data dicts (``{name: data}``).

    Needs ``training_curves`` and ``mnist``; uses the other figures' data when present. The data
    are checked first (:func:`check_figure_data`); a table cell without runs reads "-".
    """
    check_figure_data(figure_data)
    tc, mn = figure_data["training_curves"], figure_data["mnist"]
    s = tc["settings"]
    lines = ["# Results", "",
             "Generated by `coarsegrad results` from the data of `coarsegrad figures` "
             f"(preset `{s['preset']}`, seed {s['seed']}); do not edit by hand. "
             "Settings that are our choices, not the paper's, are listed in [paper-notes.md](paper-notes.md).", ""]

    lines += ["## Synthetic non-linear classes: perfect training classification", "",
              f"Blobs (3 classes, each a union of 3 Gaussian blobs around the unit circle, {s['samples']} points), "
              f"perceptron 2-{s['hidden']}-3, {s['epochs']} epochs of SGD (lr {s['sgd']['lr']:g}, momentum "
              f"{s['sgd']['momentum']:g}, batch {s['sgd']['batch_size']}, {s['sgd']['schedule']} schedule), "
              f"alpha = {TOP:g} / L. "
              f"Each cell: runs with 100% training accuracy out of {_count(len(s['seeds']), 'seed')}, and the mean "
              "final training accuracy.", ""]
    bits = s["bits"]
    lines.append("| STE | " + " | ".join(f"{b}-bit" for b in bits) + " |")
    lines.append("| --- |" + " --- |" * len(bits))
    for ste in STE_NAMES + (FLOAT,):
        cells = []
        for b in bits:
            acc = [r["accuracy"][-1] for r in tc["runs"] if r["ste"] == ste and (r["bits"] == b or ste == FLOAT)]
            cells.append(f"{sum(a == 1.0 for a in acc)}/{len(acc)} ({_mean(acc, '.2f', 100)}%)" if acc else "-")
        lines.append(f"| {LABELS[ste]} | " + " | ".join(cells) + " |")
    lines.append("")

    ms = mn["settings"]
    for source in ms["sources"]:
        runs = [r for r in mn["runs"] if r["source"] == source]
        what = (f"shipped subset, {ms['train']} training / {ms['test']} test digits" if source == "subset"
                else "full MNIST, 60,000 training / 10,000 test digits")
        lines += [f"## MNIST ({what})", "",
                  f"Perceptron 784-{ms['hidden']}-10, float32, {ms['epochs']} epochs of SGD (lr "
                  f"{ms['sgd']['lr']:g}, momentum {ms['sgd']['momentum']:g}, batch {ms['sgd']['batch_size']}, "
                  f"{ms['sgd']['schedule']} schedule), alpha = {TOP:g} / L. "
                  "Final test accuracy (%); the float ReLU network is trained the same way without quantization.", ""]
        lines.append("| STE | " + " | ".join(f"{b}-bit" for b in ms["bits"]) + " |")
        lines.append("| --- |" + " --- |" * len(ms["bits"]))
        for ste in STE_NAMES:
            cells = [_mean([r["test_accuracy"][-1] for r in runs if r["ste"] == ste and r["bits"] == b], ".2f", 100)
                     for b in ms["bits"]]
            lines.append(f"| {LABELS[ste]} | " + " | ".join(cells) + " |")
        flt = _mean([r["test_accuracy"][-1] for r in runs if r["ste"] == FLOAT], ".2f", 100)
        lines.append(f"| {LABELS[FLOAT]} | " + " | ".join([flt] * len(ms["bits"])) + " |")
        lines.append("")

    if "population_loss" in figure_data:
        pl = figure_data["population_loss"]
        ps = pl["settings"]
        lr = ps["lr"] if isinstance(ps["lr"], str) else format(ps["lr"], "g")
        lines += ["## Teacher-student model: population loss after coarse gradient descent", "",
                  f"Exact expected coarse gradient, v = v* > 0, n = {ps['n']}, p = {ps['p']}, K = {ps['K']}, "
                  f"{ps['steps']} steps, lr = {lr}. Largest f(final) / f(initial) over "
                  f"{_count(ps['inits'], 'random initialization')}.", ""]
        lines.append("| STE | " + " | ".join(f"{b}-bit" for b in ps["bits"]) + " |")
        lines.append("| --- |" + " --- |" * len(ps["bits"]))
        for ste in STE_NAMES:
            cells = []
            for b in ps["bits"]:
                ratios = [r["loss"][-1] / r["loss"][0] for r in pl["runs"] if r["ste"] == ste and r["bits"] == b]
                cells.append(f"{np.max(ratios):.1e}" if ratios else "-")      # np.max: a NaN ratio shows as nan
            lines.append(f"| {LABELS[ste]} | " + " | ".join(cells) + " |")
        lines.append("")
    if "cosine" in figure_data:
        cs = figure_data["cosine"]
        lines += ["## Cosine between the expected coarse gradient and the population gradient", "",
                  f"Along the runs of the cosine figure ({cs['settings']['bits']}-bit staircase): smallest and last "
                  "value.", "",
                  "| STE | min cos | final cos |", "| --- | --- | --- |"]
        for ste in STE_NAMES:
            runs = [r for r in cs["runs"] if r["ste"] == ste and r["cosine"]]
            if runs:
                lines.append(f"| {LABELS[ste]} | {np.min([np.min(r['cosine']) for r in runs]):.3f} | "
                             f"{np.min([r['cosine'][-1] for r in runs]):.3f} |")
            else:
                lines.append(f"| {LABELS[ste]} | - | - |")
        lines.append("")
    if "subspace_success" in figure_data:
        sd = figure_data["subspace_success"]
        ss = sd["settings"]
        rate, init = _success_table(sd)
        wendel = sd["wendel"]

        def cell(value):
            return "-" if value is None else f"{value:.2f}"

        lines += ["## Orthogonal subspaces: coarse gradient descent to hinge loss 0 (perfect classification)", "",
                  f"K = {ss['K']} classes, n = {ss['n']} points per class on the unit sphere of a d_k-dimensional "
                  f"subspace, N neurons per class, {ss['bits']}-bit {ss['convention']} staircase (alpha = 1), hinge "
                  f"loss (margin alpha), full batch, lr {ss['lr']:g}, at most {ss['steps']} steps, "
                  f"{_count(len(ss['seeds']), 'seed')}. Each cell: fraction of runs reaching hinge loss exactly 0. "
                  "Wendel: probability that one class's N Gaussian neurons cover its subspace at initialization.", ""]
        for m in ss["dims"]:
            w = [wendel.get(str(m), {}).get(str(N)) for N in ss["N"]]
            lines.append(f"| d_k = {m} | " + " | ".join(f"N = {N}" for N in ss["N"]) + " |")
            lines.append("| --- |" + " --- |" * len(ss["N"]))
            for ste in ss["stes"]:
                lines.append(f"| {LABELS.get(ste, ste)} | "
                             + " | ".join(cell(rate.get((m, ste, N))) for N in ss["N"]) + " |")
            lines.append("| Wendel: P(class covered) | " + " | ".join(cell(p) for p in w) + " |")
            lines.append(f"| Wendel^{ss['K']}: P(all covered) | "
                         + " | ".join(cell(None if p is None else p ** ss["K"]) for p in w) + " |")
            lines.append("| observed: all covered at init | "
                         + " | ".join(cell(init.get((m, N))) for N in ss["N"]) + " |")
            lines.append("")
    if "subspace_slow_fast" in figure_data:
        sf = figure_data["subspace_slow_fast"]
        lines += ["## Orthogonal subspaces: the step t* at which every class is covered", "",
                  f"d_k = {sf['settings']['d_k']}, N = {sf['settings']['N']}, runs that start with a class uncovered. "
                  "Loss decrease per step before and after t* (to the step of hinge loss 0); \"never\": not within "
                  "the run's steps.", "",
                  "| run | t* | loss 0 at | rate before t* | rate after t* |", "| --- | --- | --- | --- | --- |"]
        for i, r in enumerate(sf["runs"]):
            ts, T, L = r["t_star"], r["zero_loss_step"], r["loss"]
            shown = ["never" if v is None else str(v) for v in (ts, T)]
            if ts is not None and T is not None and 0 < ts < T < len(L):
                lines.append(f"| {i + 1} | {shown[0]} | {shown[1]} | {(L[0] - L[ts]) / ts:.4f} | "
                             f"{(L[ts] - L[T]) / (T - ts):.4f} |")
            else:
                lines.append(f"| {i + 1} | {shown[0]} | {shown[1]} | - | - |")
        lines.append("")
    if "alpha_learning" in figure_data:
        lines += _alpha_section(figure_data["alpha_learning"])
    return "\n".join(lines)


def _alpha_section(data: dict) -> list:
    """Figure 11's table: final accuracy (and final alpha) per rule and bit-width, mean over seeds."""
    s = data["settings"]
    start = _and(f"{value:g} ({bits}-bit)" for bits, value in s["initial_alpha"].items())
    ratio = s["alpha_lr_ratio"]
    step = "the weights' step size / L^2" if ratio == 1 else f"{ratio:g} times the weights' step size / L^2"
    seeds = len(s["seeds"])
    over = "one seed" if seeds == 1 else f"mean over {seeds} seeds"
    lines = ["## Learnable resolution alpha: fixed 2/L vs learned with each rule", "",
             f"Clipped ReLU STE; learned alpha starts at the authors' values {start} and takes {step} "
             f"(docs/paper-notes.md, A1-A2). Synthetic sets: {s['syn_samples']} points, 2-{s['syn_hidden']}-K, "
             f"{s['syn_epochs']} epochs, final training accuracy ({over}); MNIST subset: {s['mnist_train']} "
             f"training / {s['mnist_test']} test digits, 784-{s['mnist_hidden']}-10, {s['mnist_epochs']} epochs, "
             "final test accuracy. Each cell: accuracy (%) and the final alpha.", ""]
    for name in list(s["sets"]) + ["mnist"]:
        bits = s["mnist_bits"] if name == "mnist" else s["bits"]
        runs = [r for r in data["runs"] if r["set"] == name]
        lines += [f"**{name}**", "", "| alpha | " + " | ".join(f"{b}-bit" for b in bits) + " |",
                  "| --- |" + " --- |" * len(bits)]
        for rule in s["rules"]:
            cells = []
            for b in bits:
                sel = [r for r in runs if r["bits"] == b and r["rule"] == rule]
                # MNIST: test accuracy; synthetic sets: training accuracy (their question is perfect training)
                acc = [r["test_accuracy"][-1] if name == "mnist" else r["accuracy"][-1] for r in sel]
                cells.append(f"{_mean(acc, '.2f', 100)} (alpha {_mean([r['alpha'][-1] for r in sel], '.3g')})"
                             if sel else "-")
            label = "fixed 2/L" if rule == FIXED else f"learned, {rule}"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
