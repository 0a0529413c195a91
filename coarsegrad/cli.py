"""The ``coarsegrad`` command: ``verify``, ``figures``, ``results``, ``train``, ``data``.

The CLI sits on top of the library: it parses arguments, calls library functions and
prints or writes their results. Nothing in the library imports it, and ``coarsegrad --help``
imports neither the figures nor matplotlib. Every regular file it writes is written atomically
(a temporary file renamed into place), so an interrupted run never leaves a half-written file or
destroys the previous one, and with the permissions the umask gives; ``-``, ``/dev/stdout``,
devices and named pipes are written directly, never replaced (:mod:`coarsegrad._io`). Output
paths are checked before any work starts, and errors name the option they came from.

Exit status: 0 success; 1 ``verify`` found a failing claim; 2 bad input, given as one line on
stderr that names the argument to change; 3 an internal error (a bug: one line asking for a
report, ``COARSEGRAD_DEBUG=1`` adds the traceback); 130 interrupted.

Bad input and bugs are told apart by *where* the error comes from, not by its type. Bad input is
what the validation layer finds: the argument checks (argparse types, :class:`UsageError`), the
library's own argument checks when called inside :func:`_validating` on the user's values before
the work starts, the files the user points at (``--figures`` data, MNIST files, output paths:
:class:`OSError`, :class:`~coarsegrad.data.MnistError`), and the numbers the user's settings make
diverge or overflow (:class:`FloatingPointError`, :class:`OverflowError`, :class:`MemoryError`).
Any other exception met during the work -- a ``ValueError`` or ``KeyError`` raised deep in the
library on arguments the CLI validated -- is a bug: exit 3.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import __version__
from ._checks import UsageError, one_line as _one_line
from ._io import check_writable_dir, output, update_json
from ._figure_files import _Runs, _save_figure
from ._tables import ROUNDING_FLOOR, format_claims, format_claims_markdown  # noqa: F401  (ROUNDING_FLOOR: docs/testing.md)
from .provenance import provenance

__all__ = ["main", "build_parser", "format_claims", "format_claims_markdown", "UsageError"]


@contextmanager
def _validating(option: str):
    """Run the library's argument checks on the user's value of ``option`` before the work starts:
    a ``ValueError`` or ``TypeError`` raised here is bad input (exit 2), named by the option."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        text = _one_line(exc)
        raise UsageError(text if option in text else f"{option}: {text}") from exc


#: The figure names and presets, for the help without importing the figures (and matplotlib);
#: tests/test_cli.py checks them against coarsegrad.figures.FIGURES and PRESETS.
FIGURE_NAMES = ("staircase", "decision_regions", "training_curves", "cosine", "population_loss", "mnist",
                "subspace_hull", "subspace_success", "subspace_slow_fast", "descent_atlas", "alpha_learning")
PRESET_NAMES = ("fast", "full", "tiny")

#: Default output directory of ``coarsegrad figures`` (and input of ``coarsegrad results``). Not
#: ``figures``: inside a checkout that is the committed output, which a default run must not replace.
DEFAULT_FIGURES_DIR = "figures-out"

#: Ranges of the numeric options, checked before any work (one place, quoted in the help).
RANGES = {
    "seed": (0, 2 ** 63 - 1), "workers": (1, 256), "bits": (1, 16), "alpha": (1e-6, 1e3), "hidden": (1, 10 ** 6),
    "epochs": (1, 10 ** 6), "lr": (0.0, 100.0), "batch_size": (1, 10 ** 7), "momentum": (0.0, 1.0),
    "timeout": (0.0, 3600.0),
}


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (argparse prints the usage block first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_in(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}]; got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}]; got {text}")
        return value
    return parse


def _float_in(lo: float, hi: float, *, low_open: bool = True, high_open: bool = False):
    span = f"{'(' if low_open else '['}{lo:g}, {hi:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number in {span}; got {text!r}") from None
        bad = not np.isfinite(value) or (value <= lo if low_open else value < lo) or \
            (value >= hi if high_open else value > hi)
        if bad:
            raise argparse.ArgumentTypeError(f"must be a number in {span}; got {text}")
        return value
    return parse


def _range(name: str, kind=int, **kw):
    lo, hi = RANGES[name]
    return _int_in(lo, hi) if kind is int else _float_in(lo, hi, **kw)


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty; give a path")
    return text


# Kept for callers of the old names.
_nonnegative_int = _range("seed")
_positive_int = _int_in(1, 2 ** 31 - 1)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``coarsegrad`` command."""
    from .experiments import MNIST_SGD, SYNTHETIC_SGD      # plain constants: no matplotlib for --help
    from .ste import available_stes

    parser = _Parser(
        prog="coarsegrad",
        description="The coarse gradient method for two-linear-layer networks with quantized ReLU "
                    "activations (Long, Yin, Xin 2021): verify the theory numerically, train, and "
                    "regenerate the figures.",
    )
    parser.add_argument("--version", action="version", version=f"coarsegrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    seed_help = "seed of every random draw, an integer in [0, 2**63 - 1] (default 0)"

    verify = sub.add_parser("verify", help="check the paper's claims numerically and print a table",
                            description="Run the numerical checks of the theory (the claims listed in the "
                                        "README and docs/findings.md) and print, for each, the measured figure, "
                                        "its threshold and pass/fail. Exits 1 if a claim fails.")
    size = verify.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="preset", action="store_const", const="quick",
                      help="small sizes, under a minute on 2 cores (default)")
    size.add_argument("--full", dest="preset", action="store_const", const="full",
                      help="larger Monte Carlo and more random configurations (several minutes)")
    verify.add_argument("--seed", type=_range("seed"), default=0, help=seed_help)
    verify.add_argument("--only", type=_int_in(1, 99), nargs="+", metavar="N", help="run only these claim numbers")
    verify.add_argument("--json", metavar="PATH", type=_nonempty,
                        help="also write the evidence as JSON to PATH; '-' writes it to standard output and "
                             "the table to standard error")
    verify.add_argument("--markdown", action="store_true", help="print the table as Markdown (as in the README)")
    verify.add_argument("--progress", action="store_true",
                        help="report each claim on stderr as it finishes (the default when stderr is a terminal)")
    verify.add_argument("--workers", type=_range("workers"), default=None,
                        help="processes that run the claims, longest first, in [1, 256] (default: one per core, "
                             "or this process when every claim chosen is short at --quick: 1, 2, 4, 9; "
                             "1 runs them one after another in this process). The evidence is the same for "
                             "every value: each claim has its own seed and one BLAS thread wherever it runs")
    verify.set_defaults(preset="quick", run=_verify)

    figures = sub.add_parser("figures", help="regenerate the figures (image, data, manifest)",
                             description="Compute and draw the figures listed in the README. For each NAME, "
                                         "writes NAME.png, NAME.pdf and NAME.json (the plotted data) into --out, "
                                         "and updates manifest.json there (preset, seed, settings, version and "
                                         "time of each figure). Progress goes to stderr.")
    figures.add_argument("--preset", choices=PRESET_NAMES, default="fast",
                         help="fast: every figure in a few minutes on 2 cores (default); full: the paper's "
                              "scale; tiny: seconds, for smoke tests")
    figures.add_argument("--only", nargs="+", choices=FIGURE_NAMES, metavar="NAME",
                         help=f"only these figures: {', '.join(FIGURE_NAMES)}")
    figures.add_argument("--out", type=_nonempty, default=DEFAULT_FIGURES_DIR,
                         help=f"output directory (default ./{DEFAULT_FIGURES_DIR}; the committed figures of a "
                              "checkout are regenerated with --out figures)")
    figures.add_argument("--seed", type=_range("seed"), default=0, help=seed_help)
    figures.add_argument("--workers", type=_range("workers"), default=None,
                         help="processes for the independent training runs, in [1, 256] (default: chosen from "
                              "the work -- in this process when a step is short, else one per core; 1 runs "
                              "everything in this process)")
    figures.add_argument("--scheduler", metavar="ADDRESS", type=_nonempty,
                         help="run the training runs on a dask.distributed cluster whose scheduler listens at "
                              "ADDRESS (e.g. tcp://10.0.0.5:8786); needs pip install 'coarsegrad[dask]'")
    figures.add_argument("--quiet", action="store_true", help="no progress on stderr")
    figures.set_defaults(run=_figures)

    results = sub.add_parser("results", help="write the results tables (docs/results.md) from figure data",
                             description="Render the tables of docs/results.md from the JSON data that "
                                         "'coarsegrad figures' wrote. Refuses data of different presets or seeds.")
    results.add_argument("--figures", type=_nonempty, default=DEFAULT_FIGURES_DIR,
                         help=f"directory with the figure data (default ./{DEFAULT_FIGURES_DIR})")
    results.add_argument("--out", type=_nonempty, default=None,
                         help="write here instead of printing (e.g. docs/results.md; '-': standard output)")
    results.set_defaults(run=_results)

    d = "default: %(default)s"
    train = sub.add_parser("train", help="train a quantized perceptron with coarse gradient descent",
                           description="Train f = V sigma(W x + b) + c by minibatch SGD on coarse gradients and "
                                       "report training and test accuracy. Progress goes to stderr.")
    train.add_argument("--data", default="blobs", choices=["blobs", "sectors", "mnist-subset", "mnist"],
                       help=f"data set; mnist needs --mnist-dir with the IDX files ({d})")
    train.add_argument("--mnist-dir", type=_nonempty,
                       help="directory with the standard MNIST IDX files (for --data mnist)")
    train.add_argument("--ste", default="clipped_relu", help=f"STE: {', '.join(available_stes())} ({d})")
    train.add_argument("--bits", type=_range("bits"), default=2,
                       help=f"bit-width of the activation, in [1, 16] ({d})")
    train.add_argument("--alpha", type=_range("alpha", float, low_open=False), default=None,
                       help="resolution alpha, in [1e-6, 1000] (default 2 / (2**bits - 1): the staircase "
                            "spans [0, 2])")
    train.add_argument("--convention", choices=["ceil", "round"], default="ceil",
                       help="where the staircase steps: ceil (thresholds 0, alpha, 2 alpha, ...: the paper's) or "
                            f"round (thresholds alpha/2, 3 alpha/2, ...: round to the nearest level) ({d})")
    train.add_argument("--learn-alpha", metavar="RULE", choices=["ae", "pact", "min", "mean"], default=None,
                       help="also learn alpha (starting at --alpha) with this rule for d sigma/d alpha: ae, pact, "
                            "min or mean (coarsegrad.alpha; same step size as the weights)")
    train.add_argument("--float", dest="float_relu", action="store_true",
                       help="train the float ReLU network instead (no quantization; for comparison)")
    train.add_argument("--hidden", type=_range("hidden"), default=None,
                       help="hidden units, in [1, 1000000] (default 64; 256 for MNIST)")
    train.add_argument("--epochs", type=_range("epochs"), default=None,
                       help="epochs, in [1, 1000000] (default 100; 8 for MNIST)")
    train.add_argument("--lr", type=_range("lr", float), default=None,
                       help=f"step size, in (0, 100] (default {SYNTHETIC_SGD['lr']}; {MNIST_SGD['lr']} for MNIST)")
    train.add_argument("--batch-size", type=_range("batch_size"), default=None,
                       help=f"batch size, in [1, 10000000] (default {SYNTHETIC_SGD['batch_size']}; "
                            f"{MNIST_SGD['batch_size']} for MNIST)")
    train.add_argument("--momentum", type=_range("momentum", float, low_open=False, high_open=True), default=0.9,
                       help=f"heavy-ball momentum, in [0, 1) ({d})")
    train.add_argument("--schedule", choices=["constant", "cosine", "step"], default="cosine",
                       help=f"step-size schedule over the epochs: constant, cosine decay to 0, or step "
                            f"(x0.1 every 10 epochs) ({d})")
    train.add_argument("--loss", choices=["cross_entropy", "squared"], default="cross_entropy",
                       help=f"training loss: softmax cross-entropy, or squared error on one-hot targets ({d})")
    train.add_argument("--dtype", choices=["float64", "float32"], default=None,
                       help="floating type (default float64; float32 for MNIST)")
    train.add_argument("--seed", type=_range("seed"), default=0,
                       help="seed of the data, the initialization and the batch order, an integer in "
                            f"[0, 2**63 - 1] ({d})")
    train.add_argument("--json", metavar="PATH", type=_nonempty,
                       help="write the history and settings as JSON to PATH ('-': to standard output, and the "
                            "final line to standard error)")
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    train.set_defaults(run=_train)

    data = sub.add_parser("data", help="inspect, check or fetch data sets (MNIST)")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    info = data_sub.add_parser("info", help="describe the MNIST subset shipped with the package")
    info.set_defaults(run=_data_info)
    check = data_sub.add_parser("check", help="validate the MNIST IDX files in a directory")
    check.add_argument("--dir", required=True, type=_nonempty, help="directory with the IDX files")
    check.set_defaults(run=_data_check)
    fetch = data_sub.add_parser("fetch", help="download a data set (needs a network)")
    fetch.add_argument("dataset", choices=["mnist"])
    fetch.add_argument("--dir", required=True, type=_nonempty, help="directory to write the files into")
    fetch.add_argument("--mirror", action="append", type=_nonempty,
                       help="base URL to try (repeatable; default: the known mirrors)")
    fetch.add_argument("--timeout", type=_range("timeout", float), default=15.0,
                       help="seconds per connection, in (0, 3600] (default 15)")
    fetch.set_defaults(run=_data_fetch)
    data.set_defaults(run=lambda args: (data.print_help(), 0)[1])
    return parser


#: Per command: the option to change when the numbers overflow or the run runs out of memory
#: (tests/test_cli.py checks that every subcommand has an entry).
_OVERFLOW_HINT = {"train": "lower --lr (or --alpha)", "figures": "use a smaller --preset",
                  "verify": "use --quick", "data": "check the files",
                  "results": "the figure data holds numbers too large to tabulate; regenerate it with "
                             "'coarsegrad figures'"}
_MEMORY_HINT = {"train": "lower --hidden or --batch-size, or use --dtype float32",
                "figures": "use a smaller --preset or fewer --workers", "verify": "use --quick",
                "data": "free some memory", "results": "free some memory"}
_GENERIC_HINT = "free some memory or use smaller settings"


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    name = f"coarsegrad {args.command}"
    from .data.mnist import MnistError
    debug = bool(os.environ.get("COARSEGRAD_DEBUG"))

    def fail(message: str, status: int) -> int:
        if debug:                      # the traceback too, the exit status unchanged
            traceback.print_exc()
        print(f"{name}: {message}", file=sys.stderr)
        return status

    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; files already written are complete, none is half-written", file=sys.stderr)
        return 130
    except UsageError as exc:                                      # the validation layer: bad input
        return fail(f"error: {_one_line(exc)}", 2)
    except (FloatingPointError, OverflowError) as exc:             # numbers the settings made too large
        return fail(f"error: {_one_line(exc)}; {_OVERFLOW_HINT.get(args.command, 'use smaller settings')}", 2)
    except MemoryError:
        return fail(f"error: out of memory; {_MEMORY_HINT.get(args.command, _GENERIC_HINT)}", 2)
    except (OSError, MnistError) as exc:      # the files, directories and network the user pointed at
        return fail(f"error: {_one_line(exc)}", 2)
    except Exception as exc:                   # anything else, ValueError and TypeError included: a bug
        return fail(f"internal error ({type(exc).__name__}: {_one_line(exc)}); this is a bug in coarsegrad: "
                    f"please report it with the command line (COARSEGRAD_DEBUG=1 shows the traceback)", 3)


def _progress(enabled: bool):
    def report(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)
    return report


# --------------------------------------------------------------------------- verify

def _verify(args) -> int:
    from .claims import CLAIMS, LONGEST_FIRST, run_claims
    with _validating("--json"):
        json_out = output(args.json, "--json") if args.json is not None else None
    unknown = sorted(set(args.only or ()) - set(CLAIMS))
    if unknown:
        raise UsageError(f"--only: unknown claim number(s) {unknown}; claims are {sorted(CLAIMS)}")
    numbers = sorted(set(args.only)) if args.only else sorted(CLAIMS)
    report = _progress(args.progress or _isatty(sys.stderr))
    report(f"[verify] {len(numbers)} claim(s) at the {args.preset} preset, seed {args.seed}")
    start = time.perf_counter()

    def finished(res, done, total):
        state = "skipped" if getattr(res, "skipped", False) else ("pass" if res.passed else "FAIL")
        report(f"[verify] claim {res.number} ({done}/{total}): {state} in {res.seconds:.1f} s "
               f"({time.perf_counter() - start:.0f} s so far)")

    # A pool costs its start-up (a second of imports per worker): only worth it when some claim takes a while.
    short = args.preset == "quick" and not set(numbers) & set(LONGEST_FIRST)
    workers = args.workers if args.workers is not None else 1 if short else min(os.cpu_count() or 1, len(numbers))
    results = run_claims(args.preset, seed=args.seed, only=numbers, workers=workers, progress=finished)
    table = format_claims_markdown(results) if args.markdown else format_claims(results)
    # With --json -, standard output carries the JSON alone (for a pipe into jq); the table goes to stderr.
    print(table, file=sys.stderr if json_out is not None and json_out.kind == "stdout" else sys.stdout)
    if json_out is not None:
        json_out.write_json({"version": __version__, "preset": args.preset, "seed": args.seed,
                             "provenance": provenance(),       # versions, BLAS kernel and threads
                             "claims": [r.as_dict() for r in results]})
    return 0 if all(r.passed for r in results) else 1


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- figures and results

def _figure_presets(manifest: dict) -> dict:
    return {name: (entry.get("preset"), entry.get("seed")) for name, entry in manifest.get("figures", {}).items()
            if isinstance(entry, dict)}


def _figures(args) -> int:
    from ._io import _dumps
    from .data.mnist import default_mnist_dir
    from .figures import FIGURES, PRESETS, preset_settings
    with _validating("--out"):
        out = check_writable_dir(args.out, "--out")
    names = list(dict.fromkeys(args.only or FIGURES))
    report = _progress(not args.quiet)
    if "mnist" in names and PRESETS[args.preset].get("full_mnist"):
        default_mnist_dir()          # a wrong COARSEGRAD_MNIST_DIR is an error now, not after the other figures
    manifest_path = out / "manifest.json"
    manifest = {}
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError, RecursionError):   # rewritten below (or named)
            manifest = {}
        if not isinstance(manifest, dict) or not isinstance(manifest.get("figures", {}), dict):
            manifest = {}
    manifest.setdefault("figures", {})
    others = {name: ps for name, ps in _figure_presets(manifest).items()
              if name not in names and ps != (args.preset, args.seed)}
    if others:          # not silent: the directory will hold two runs, and 'results' refuses to mix them
        listing = ", ".join(f"{name} (preset {p}, seed {s})" for name, (p, s) in sorted(others.items()))
        print(f"coarsegrad figures: note: {out} also holds {listing}; the manifest records each figure's preset, "
              f"and 'coarsegrad results' will refuse the mixture until you regenerate them with "
              f"--preset {args.preset} --seed {args.seed}", file=sys.stderr)
    runs = _Runs(args.workers, args.scheduler, report)
    try:
        for name in names:
            compute, draw, description = FIGURES[name]
            runs.label = name
            report(f"[figures] {name}: computing ({args.preset} preset, "
                   f"{runs.where or 'workers chosen from the work'}) ...")
            start = time.perf_counter()
            data = compute(args.preset, args.seed, map_fn=runs)
            seconds = time.perf_counter() - start
            files, changed = _save_figure(draw(data), out, name, _dumps(data, compact=True))
            entry = {
                "description": description, "files": files + [f"{name}.json"],
                "compute": f"coarsegrad.figures.{compute.__name__}", "draw": f"coarsegrad.figures.{draw.__name__}",
                "preset": args.preset, "preset_settings": preset_settings(name, args.preset), "seed": args.seed,
                "command": f"coarsegrad figures --preset {args.preset} --seed {args.seed} --only {name}",
                "workers": args.workers or ("dask" if args.scheduler else "auto"), "version": __version__,
                "seconds": round(seconds, 2), "provenance": provenance()}    # versions, BLAS kernel and threads
            # After every figure (an interruption keeps the finished ones), under a lock on the directory
            # and re-read there: concurrent runs into one --out each add their entries and lose none.
            update_json(manifest_path, lambda m: _record(m, name, entry, changed), name="--out")
            report(f"[figures] {name}: {seconds:.1f} s -> {out / name}.png, .pdf, .json"
                   + ("" if changed else " (unchanged: the files there were kept)"))
    except BaseException:
        runs.close(abort=True)
        raise
    runs.close()
    return 0


def _record(manifest: dict, name: str, entry: dict, changed: bool) -> None:
    """Put figure ``name``'s ``entry`` into ``manifest`` (in place). When its files did not change
    and the manifest already describes the same run (preset, seed, settings), the old entry stays:
    its time and machine describe the files as well, and the manifest is left byte-identical."""
    if not isinstance(manifest.get("figures"), dict):
        manifest["figures"] = {}
    figures = manifest["figures"]
    old = figures.get(name)
    same_run = isinstance(old, dict) and all(
        old.get(key) == json.loads(json.dumps(entry[key])) for key in ("preset", "seed", "preset_settings", "files"))
    if changed or not same_run:
        figures[name] = entry
        manifest["version"] = __version__
    manifest.pop("command", None)         # older manifests: one command for all, wrong once mixed
    manifest.setdefault("version", __version__)
    manifest["presets"] = sorted({f"{e.get('preset')} (seed {e.get('seed')})"
                                  for e in figures.values() if isinstance(e, dict)})


def _read_json(path: Path, what: str, fix: str):
    """The JSON in ``path`` (a file the user pointed at), or one line saying what is wrong with it."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"--figures: cannot read {str(path)!r}: {exc.strerror or exc}; {fix}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--figures: {str(path)!r} is not a text file ({what}); {fix}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--figures: {str(path)!r} is not valid JSON ({exc}); {fix}") from None
    except RecursionError:
        raise UsageError(f"--figures: {str(path)!r} is nested too deeply to be {what}; {fix}") from None


def _results(args) -> int:
    from .figures import FIGURES, results_markdown
    from .figures.results import check_figure_data
    directory = Path(args.figures)
    if not directory.is_dir():
        raise UsageError(f"--figures {str(directory)!r} is not a directory with figure data; run "
                         f"'coarsegrad figures --out {directory}' first")
    with _validating("--out"):
        out = output(args.out, "--out") if args.out is not None else None
    manifest = {}
    if (directory / "manifest.json").exists():
        manifest = _read_json(directory / "manifest.json", "a manifest",
                              f"regenerate the figures with 'coarsegrad figures --out {directory}'")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("figures", {}), dict):
            raise UsageError(f"--figures: {directory / 'manifest.json'} is not a valid manifest (an object with "
                             f"\"figures\"); regenerate the figures with 'coarsegrad figures --out {directory}'")
        manifest = manifest.get("figures", {})
    figure_data = {}
    for name in FIGURES:
        path = directory / f"{name}.json"
        if path.exists():
            figure_data[name] = _read_json(path, "figure data", f"regenerate it with 'coarsegrad figures --only "
                                                                f"{name} --out {directory}'")
    presets = {name: (data["settings"].get("preset"), data["settings"].get("seed", 0)) for name, data in figure_data.items()
               if isinstance(data, dict) and isinstance(data.get("settings"), dict)}
    for name, run in presets.items():
        entry = manifest.get(name)
        if isinstance(entry, dict) and (entry.get("preset"), entry.get("seed")) != run:
            raise UsageError(f"{directory / name}.json says preset {run[0]}, seed {run[1]} but the manifest "
                             f"says preset {entry.get('preset')}, seed {entry.get('seed')}; regenerate it with "
                             f"'coarsegrad figures --only {name} --out {directory}'")
    if len(set(presets.values())) > 1:
        listing = ", ".join(f"{name}: preset {p}, seed {s}" for name, (p, s) in presets.items())
        raise UsageError(f"the figure data in {directory} mixes runs ({listing}); one results page must come from "
                         f"one run: regenerate them with one 'coarsegrad figures --preset P --seed S --out {directory}'")
    with _validating("--figures"):          # every field the page reads, before any is read
        check_figure_data(figure_data)
    text = results_markdown(figure_data) + "\n"
    if out is not None:
        out.write_text(text)
    else:
        print(text, end="")
    return 0


# --------------------------------------------------------------------------- train

def _check_memory(n_inputs: int, hidden: int, classes: int, n_samples: int, batch: int, itemsize: int) -> None:
    """Refuse a network that cannot fit in memory before allocating it (Linux overcommits: a too-large
    allocation may succeed and then get the process killed instead of raising MemoryError)."""
    weights = (n_inputs + 1) * hidden + (hidden + 1) * classes
    # params, gradients, velocity and a copy; forward pass of a batch and of a 4096-sample evaluation slice
    need = itemsize * (4 * weights + 4 * hidden * (min(batch, n_samples) + min(4096, n_samples)))
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > total / 2:
        raise UsageError(f"--hidden {hidden} with --batch-size {batch} needs about {need / 1e9:.1f} GB; this machine "
                         f"has {total / 1e9:.1f} GB: lower --hidden or --batch-size")


def _train(args) -> int:
    from . import data as D
    from .experiments import MNIST_SGD, SYNTHETIC_SGD, resolution
    from .nets import mlp_init
    from .quant import Staircase
    from .ste import get_ste
    from .train import SGD, mlp_train
    with _validating("--ste"):
        get_ste(args.ste)
    with _validating("--json"):
        json_out = output(args.json, "--json") if args.json is not None else None
    mnist = args.data.startswith("mnist")
    if args.data == "mnist":
        if not args.mnist_dir:
            raise UsageError("--data mnist needs --mnist-dir DIR with the IDX files "
                             "(or use --data mnist-subset, shipped with the package)")
        if not Path(args.mnist_dir).is_dir():
            raise UsageError(f"--mnist-dir {args.mnist_dir!r} is not a directory; run 'coarsegrad data "
                             f"fetch mnist --dir {args.mnist_dir}' first")
    elif args.mnist_dir:
        raise UsageError(f"--mnist-dir is only used with --data mnist (got --data {args.data})")
    if args.learn_alpha and args.float_relu:
        raise UsageError("--learn-alpha needs the quantized network: drop --float (the float ReLU network has no "
                         "resolution alpha to learn)")
    dtype = np.dtype(args.dtype or ("float32" if mnist else "float64"))
    hidden = args.hidden or (256 if mnist else 64)
    with _validating("--alpha"):
        stair = Staircase(args.bits, args.alpha or resolution(args.bits), args.convention)
        stair._alpha_in(dtype)      # e.g. a tiny alpha that float32 cannot hold: say so before loading data
    defaults = MNIST_SGD if mnist else SYNTHETIC_SGD      # the experiments' settings: one source (experiments.py)
    with _validating("--lr, --epochs, --batch-size, --momentum or --schedule"):
        sgd = SGD(lr=args.lr or defaults["lr"], epochs=args.epochs or (8 if mnist else 100),
                  batch_size=args.batch_size or defaults["batch_size"], momentum=args.momentum,
                  schedule=args.schedule)
    n_train = {"mnist": 60000, "mnist-subset": 8000}.get(args.data, 600)
    _check_memory(784 if mnist else 2, hidden, 10 if mnist else 4, n_train, sgd.batch_size, dtype.itemsize)
    if args.data == "mnist":
        x, y = D.load_mnist(args.mnist_dir, "train")
        xt, yt = D.load_mnist(args.mnist_dir, "test")
    elif args.data == "mnist-subset":
        x, y = D.load_mnist_subset("train")
        xt, yt = D.load_mnist_subset("test")
    else:
        make = D.SYNTHETIC_SETS[args.data]
        x, y = make(n_samples=600, seed=args.seed)
        xt, yt = make(n_samples=600, seed=args.seed + 10**6)
    if mnist:
        x, xt = D.to_float(x, dtype), D.to_float(xt, dtype)
    else:
        x, xt = x.astype(dtype), xt.astype(dtype)
    y, yt = y.astype(np.intp), yt.astype(np.intp)
    K = int(max(y.max(), yt.max())) + 1
    params0 = mlp_init(x.shape[1], hidden, K, args.seed, staircase=stair, dtype=dtype)
    activation = (lambda h: np.maximum(h, 0)) if args.float_relu else None
    report = _progress(not args.quiet)
    start = time.perf_counter()

    def progress(epoch, record):
        report(f"[train] epoch {epoch}/{sgd.epochs}: loss {record['loss']:.4f}, train acc {record['accuracy']:.4f}, "
               f"test acc {record['test_accuracy']:.4f}  ({time.perf_counter() - start:.1f} s)")

    what = ("float ReLU" if args.float_relu else
            f"{args.bits}-bit {stair.convention} (alpha {stair.alpha:.4g}, top {stair.top:.4g}), STE {args.ste}")
    report(f"[train] {args.data}: {x.shape[0]} train / {xt.shape[0]} test, {x.shape[1]}-{hidden}-{K}, {what}")
    with np.errstate(over="ignore", invalid="ignore"):     # overflow is detected and reported as divergence
        params, hist = mlp_train(x, y, params0, "relu" if args.float_relu else args.ste, stair, sgd, seed=args.seed,
                                 loss=args.loss, activation=activation, eval_data=(xt, yt), progress=progress,
                                 learn_alpha=args.learn_alpha)
    learned = f", learned alpha {hist['alpha'][-1]:.4g}" if "alpha" in hist.values else ""
    print(f"final: training accuracy {hist['accuracy'][-1]:.4f}, test accuracy {hist['test_accuracy'][-1]:.4f}, "
          f"loss {hist['loss'][-1]:.4g}{learned} ({time.perf_counter() - start:.1f} s)",
          file=sys.stderr if json_out is not None and json_out.kind == "stdout" else sys.stdout)
    if json_out is not None:
        settings = {k: v for k, v in vars(args).items()
                    if k not in ("run", "command", "lr", "epochs", "batch_size", "momentum", "schedule", "alpha")}
        settings.update(hidden=hidden, staircase=dict(bits=stair.bits, alpha=stair.alpha,
                                                      convention=stair.convention),
                        sgd=sgd.as_dict(), dtype=str(dtype))
        json_out.write_json({"version": __version__, "settings": settings, "history": hist.as_dict()})
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
    if not Path(args.dir).is_dir():
        raise UsageError(f"--dir {args.dir!r} is not a directory; give the directory that holds the "
                                 f"MNIST IDX files")
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
