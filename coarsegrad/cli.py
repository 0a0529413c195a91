"""The ``coarsegrad`` command: ``verify``, ``figures``, ``results``, ``train``, ``data``.

The CLI sits on top of the library: it parses arguments, calls library functions and
prints or writes their results. Nothing in the library imports it. Every file it writes
is written atomically (a temporary file renamed into place), so an interrupted run never
leaves a half-written file or destroys the previous one. Bad arguments give one line on
stderr naming the argument, and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from ._io import atomic_path, check_writable_dir, write_json, write_text

__all__ = ["main", "build_parser", "format_claims", "format_claims_markdown"]


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text}")
    return value


def _positive_int(text: str) -> int:
    value = _nonnegative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive integer; got 0")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``coarsegrad`` command."""
    from .figures import FIGURES, PRESETS
    from .ste import available_stes

    parser = argparse.ArgumentParser(
        prog="coarsegrad",
        description="The coarse gradient method for two-linear-layer networks with quantized ReLU "
                    "activations (Long, Yin, Xin 2021): verify the theory numerically, train, and "
                    "regenerate the figures.",
    )
    parser.add_argument("--version", action="version", version=f"coarsegrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    verify = sub.add_parser("verify", help="check the paper's claims numerically and print a table",
                            description="Run the numerical checks of SPEC section 5 (claims 1-8) and print, "
                                        "for each, the measured figure, its threshold and pass/fail. Exits 1 "
                                        "if a claim fails.")
    size = verify.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="preset", action="store_const", const="quick",
                      help="small sizes, under a minute on 2 cores (default)")
    size.add_argument("--full", dest="preset", action="store_const", const="full",
                      help="larger Monte Carlo and more random configurations (several minutes)")
    verify.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of every random draw (default 0)")
    verify.add_argument("--only", type=int, nargs="+", metavar="N", help="run only these claim numbers")
    verify.add_argument("--json", metavar="PATH", help="also write the evidence as JSON to PATH")
    verify.add_argument("--markdown", action="store_true", help="print the table as Markdown (as in the README)")
    verify.set_defaults(preset="quick", run=_verify)

    figures = sub.add_parser("figures", help="regenerate the figures (image, data, manifest)",
                             description="Compute and draw the figures of SPEC section 6. For each NAME, writes "
                                         "NAME.png, NAME.pdf and NAME.json (the plotted data) into --out, and "
                                         "updates manifest.json there (settings, seed, version, time taken).")
    figures.add_argument("--preset", choices=sorted(PRESETS), default="fast",
                         help="fast: all six in about two minutes on 2 cores (default); full: the paper's "
                              "scale; tiny: seconds, for smoke tests")
    figures.add_argument("--only", nargs="+", choices=list(FIGURES), metavar="NAME",
                         help=f"only these figures: {', '.join(FIGURES)}")
    figures.add_argument("--out", default="figures", help="output directory (default ./figures)")
    figures.add_argument("--seed", type=_nonnegative_int, default=0, help="seed (default 0)")
    figures.add_argument("--workers", type=_positive_int, default=None,
                         help="processes for the independent training runs (default: every core; 1 runs "
                              "everything in this process)")
    figures.add_argument("--quiet", action="store_true", help="no progress on stderr")
    figures.set_defaults(run=_figures)

    results = sub.add_parser("results", help="write the results tables (docs/results.md) from figure data",
                             description="Render the tables of docs/results.md from the JSON data that "
                                         "'coarsegrad figures' wrote.")
    results.add_argument("--figures", default="figures", help="directory with the figure data (default ./figures)")
    results.add_argument("--out", default=None, help="write here instead of printing (e.g. docs/results.md)")
    results.set_defaults(run=_results)

    train = sub.add_parser("train", help="train a quantized perceptron with coarse gradient descent",
                           description="Train f = V sigma(W x + b) + c by minibatch SGD on coarse gradients and "
                                       "report training and test accuracy. Progress goes to stderr.")
    train.add_argument("--data", default="blobs", choices=["blobs", "sectors", "mnist-subset", "mnist"],
                       help="data set (mnist needs --mnist-dir with the IDX files)")
    train.add_argument("--mnist-dir", help="directory with the standard MNIST IDX files (for --data mnist)")
    train.add_argument("--ste", default="clipped_relu", help=f"STE: {', '.join(available_stes())} (default clipped_relu)")
    train.add_argument("--bits", type=_positive_int, default=2, help="bit-width of the activation (default 2)")
    train.add_argument("--alpha", type=_positive_float, default=None,
                       help="resolution alpha (default 2 / (2**bits - 1): the staircase spans [0, 2])")
    train.add_argument("--float", dest="float_relu", action="store_true",
                       help="train the float ReLU network instead (no quantization; for comparison)")
    train.add_argument("--hidden", type=_positive_int, default=None, help="hidden units (default 64; 256 for MNIST)")
    train.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default 100; 8 for MNIST)")
    train.add_argument("--lr", type=_positive_float, default=None, help="step size (default 0.1; 0.05 for MNIST)")
    train.add_argument("--batch-size", type=_positive_int, default=None, help="batch size (default 32; 64 for MNIST)")
    train.add_argument("--momentum", type=float, default=0.9, help="heavy-ball momentum in [0, 1) (default 0.9)")
    train.add_argument("--schedule", choices=["constant", "cosine", "step"], default="cosine")
    train.add_argument("--loss", choices=["cross_entropy", "squared"], default="cross_entropy")
    train.add_argument("--dtype", choices=["float64", "float32"], default=None,
                       help="floating type (default float64; float32 for MNIST)")
    train.add_argument("--seed", type=_nonnegative_int, default=0)
    train.add_argument("--json", metavar="PATH", help="write the history and settings as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    train.set_defaults(run=_train)

    data = sub.add_parser("data", help="inspect, check or fetch data sets (MNIST)")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    info = data_sub.add_parser("info", help="describe the MNIST subset shipped with the package")
    info.set_defaults(run=_data_info)
    check = data_sub.add_parser("check", help="validate the MNIST IDX files in a directory")
    check.add_argument("--dir", required=True, help="directory with the IDX files")
    check.set_defaults(run=_data_check)
    fetch = data_sub.add_parser("fetch", help="download a data set (needs a network)")
    fetch.add_argument("dataset", choices=["mnist"])
    fetch.add_argument("--dir", required=True, help="directory to write the files into")
    fetch.add_argument("--mirror", action="append", help="base URL to try (repeatable; default: the known mirrors)")
    fetch.add_argument("--timeout", type=_positive_float, default=15.0, help="seconds per connection (default 15)")
    fetch.set_defaults(run=_data_fetch)
    data.set_defaults(run=lambda args: (data.print_help(), 0)[1])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"coarsegrad {args.command}: interrupted; files already written are complete, none is half-written",
              file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, ConnectionError) as exc:     # bad input: one clear line, no traceback
        print(f"coarsegrad {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _progress(enabled: bool):
    def report(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)
    return report


# --------------------------------------------------------------------------- verify

def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, (int, np.integer)) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return str(int(x))
    return f"{x:.4g}"


def format_claims(results) -> str:
    """The claims as a plain-text table: claim, setting, measured figure, threshold, result."""
    lines = []
    head = f"{'claim':<6}{'check':<62}{'measured':>12}  {'rel':<6}{'threshold':>10}  result"
    lines.append(head)
    lines.append("-" * len(head))
    for res in results:
        lines.append(f"{res.number:<6}{res.title}  [{res.seconds:.1f} s]")
        lines.append(f"{'':<6}  setting: {res.setting}")
        for check in res.checks:
            verdict = {True: "pass", False: "FAIL", None: "(report)"}[check.passed]
            rel = "" if check.relation == "report" else check.relation
            lines.append(f"{'':<6}  {check.quantity:<60}{_fmt(check.value):>12}  {rel:<6}"
                         f"{_fmt(check.threshold):>10}  {verdict}")
    failed = [r.number for r in results if not r.passed]
    lines.append("-" * len(head))
    lines.append(f"{len(results) - len(failed)} of {len(results)} claims pass"
                 + (f"; failed: {', '.join(map(str, failed))}" if failed else ""))
    return "\n".join(lines)


def format_claims_markdown(results) -> str:
    """The claims as a Markdown table (one row per check), without timings."""
    lines = ["| claim | check | measured | threshold | result |", "| --- | --- | --- | --- | --- |"]
    for res in results:
        for i, check in enumerate(res.checks):
            verdict = {True: "pass", False: "**FAIL**", None: "(report)"}[check.passed]
            bound = "" if check.relation == "report" else f"{check.relation} {_fmt(check.threshold)}"
            title = f"{res.number}. {res.title}" if i == 0 else ""
            cells = [title, check.quantity, _fmt(check.value), bound, verdict]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _verify(args) -> int:
    from .claims import run_claims
    if args.json:
        check_writable_dir(Path(args.json).parent, "--json")
    results = run_claims(args.preset, seed=args.seed, only=args.only)
    print(format_claims_markdown(results) if args.markdown else format_claims(results))
    if args.json:
        write_json(args.json, {"version": __version__, "preset": args.preset, "seed": args.seed,
                               "claims": [r.as_dict() for r in results]})
    return 0 if all(r.passed for r in results) else 1


# --------------------------------------------------------------------------- figures and results

def _save_figure(fig, out: Path, name: str) -> list:
    paths = []
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        target = out / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=110, metadata=meta)
        paths.append(target.name)
    return paths


def _figures(args) -> int:
    from .figures import FIGURES, PRESETS
    from .train import process_pool
    out = check_writable_dir(args.out, "--out")
    names = args.only or list(FIGURES)
    workers = args.workers or os.cpu_count() or 1
    report = _progress(not args.quiet)
    manifest_path = out / "manifest.json"
    manifest = {}
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError:
            manifest = {}
    manifest.setdefault("figures", {})
    executor = process_pool(workers) if workers > 1 else None
    try:
        map_fn = executor.map if executor is not None else map
        for name in names:
            compute, draw, description = FIGURES[name]
            report(f"[figures] {name}: computing ({args.preset} preset, {workers} worker(s)) ...")
            start = time.perf_counter()
            data = compute(args.preset, args.seed, map_fn=map_fn)
            seconds = time.perf_counter() - start
            write_json(out / f"{name}.json", data)
            fig = draw(data)
            files = _save_figure(fig, out, name)
            manifest["figures"][name] = {
                "description": description, "files": files + [f"{name}.json"],
                "compute": f"coarsegrad.figures.{compute.__name__}", "draw": f"coarsegrad.figures.{draw.__name__}",
                "preset": args.preset, "preset_settings": PRESETS[args.preset], "seed": args.seed,
                "workers": workers, "version": __version__, "seconds": round(seconds, 2)}
            manifest["version"] = __version__
            manifest["command"] = "coarsegrad figures " + " ".join(f"--{k} {v}" for k, v in
                                                                   (("preset", args.preset), ("seed", args.seed)))
            write_json(manifest_path, manifest)       # after every figure: an interruption keeps the finished ones
            report(f"[figures] {name}: {seconds:.1f} s -> {out / name}.png, .pdf, .json")
    finally:
        if executor is not None:
            executor.shutdown()
    return 0


def _results(args) -> int:
    from .figures import FIGURES, results_markdown
    directory = Path(args.figures)
    figure_data = {}
    for name in FIGURES:
        path = directory / f"{name}.json"
        if path.exists():
            try:
                figure_data[name] = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} is not valid JSON ({exc}); regenerate it with 'coarsegrad figures --only {name}'")
    text = results_markdown(figure_data) + "\n"
    if args.out:
        check_writable_dir(Path(args.out).parent, "--out")
        write_text(args.out, text)
    else:
        print(text, end="")
    return 0


# --------------------------------------------------------------------------- train

def _train(args) -> int:
    from . import data as D
    from .figures import resolution
    from .nets import mlp_init
    from .quant import Staircase
    from .ste import get_ste
    from .train import SGD, mlp_train
    get_ste(args.ste)
    if not 0 <= args.momentum < 1:
        raise ValueError(f"--momentum must lie in [0, 1); got {args.momentum}")
    if args.bits > 16:
        raise ValueError(f"--bits must be at most 16; got {args.bits}")
    mnist = args.data.startswith("mnist")
    if args.data == "mnist":
        if not args.mnist_dir:
            raise ValueError("--data mnist needs --mnist-dir DIR with the IDX files "
                             "(or use --data mnist-subset, shipped with the package)")
        x, y = D.load_mnist(args.mnist_dir, "train")
        xt, yt = D.load_mnist(args.mnist_dir, "test")
    elif args.data == "mnist-subset":
        x, y = D.load_mnist_subset("train")
        xt, yt = D.load_mnist_subset("test")
    else:
        make = D.SYNTHETIC_SETS[args.data]
        x, y = make(n_samples=600, seed=args.seed)
        xt, yt = make(n_samples=600, seed=args.seed + 10**6)
    dtype = np.dtype(args.dtype or ("float32" if mnist else "float64"))
    if mnist:
        x, xt = D.to_float(x, dtype), D.to_float(xt, dtype)
    else:
        x, xt = x.astype(dtype), xt.astype(dtype)
    y, yt = y.astype(np.intp), yt.astype(np.intp)
    hidden = args.hidden or (256 if mnist else 64)
    stair = Staircase(args.bits, args.alpha or resolution(args.bits))
    sgd = SGD(lr=args.lr or (0.05 if mnist else 0.1), epochs=args.epochs or (8 if mnist else 100),
              batch_size=args.batch_size or (64 if mnist else 32), momentum=args.momentum, schedule=args.schedule)
    K = int(max(y.max(), yt.max())) + 1
    params0 = mlp_init(x.shape[1], hidden, K, args.seed, staircase=stair, dtype=dtype)
    activation = (lambda h: np.maximum(h, 0)) if args.float_relu else None
    report = _progress(not args.quiet)
    start = time.perf_counter()

    def progress(epoch, record):
        report(f"[train] epoch {epoch}/{sgd.epochs}: loss {record['loss']:.4f}, train acc {record['accuracy']:.4f}, "
               f"test acc {record['test_accuracy']:.4f}  ({time.perf_counter() - start:.1f} s)")

    what = ("float ReLU" if args.float_relu else
            f"{args.bits}-bit (alpha {stair.alpha:.4g}, top {stair.top:.4g}), STE {args.ste}")
    report(f"[train] {args.data}: {x.shape[0]} train / {xt.shape[0]} test, {x.shape[1]}-{hidden}-{K}, {what}")
    params, hist = mlp_train(x, y, params0, "relu" if args.float_relu else args.ste, stair, sgd, seed=args.seed,
                             loss=args.loss, activation=activation, eval_data=(xt, yt), progress=progress)
    print(f"final: training accuracy {hist['accuracy'][-1]:.4f}, test accuracy {hist['test_accuracy'][-1]:.4f}, "
          f"loss {hist['loss'][-1]:.4g} ({time.perf_counter() - start:.1f} s)")
    if args.json:
        check_writable_dir(Path(args.json).parent, "--json")
        settings = {k: v for k, v in vars(args).items()
                    if k not in ("run", "command", "lr", "epochs", "batch_size", "momentum", "schedule", "alpha")}
        settings.update(hidden=hidden, staircase=dict(bits=stair.bits, alpha=stair.alpha,
                                                      convention=stair.convention),
                        sgd=sgd.as_dict(), dtype=str(dtype))
        write_json(args.json, {"version": __version__, "settings": settings, "history": hist.as_dict()})
    return 0


# --------------------------------------------------------------------------- data

def _data_info(args) -> int:
    from .data import subset_info
    info = subset_info()
    print(f"MNIST subset shipped with coarsegrad {__version__}")
    for key in ("file", "images", "train", "test", "label_counts", "sha256", "checksum", "provenance"):
        print(f"  {key}: {info[key]}")
    return 0


def _data_check(args) -> int:
    from .data import load_mnist
    for split in ("train", "test"):
        images, labels = load_mnist(args.dir, split)
        print(f"{split}: {images.shape[0]} images of 28x28, labels {np.bincount(labels, minlength=10).tolist()}: ok")
    return 0


def _data_fetch(args) -> int:
    from .data.mnist import MNIST_MIRRORS, fetch_mnist
    mirrors = args.mirror or list(MNIST_MIRRORS)
    paths = fetch_mnist(args.dir, mirrors=mirrors, timeout=args.timeout)
    for path in paths:
        print(f"{path}: ok (MD5 verified)")
    return 0
