"""The ``coarsegrad`` command: ``verify``, ``figures``, ``train``, ``data``.

The CLI sits on top of the library: it parses arguments, calls library functions
and prints or writes their results. Nothing in the library imports it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import __version__
from ._io import check_writable_dir, write_json

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``coarsegrad`` command."""
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
    verify.set_defaults(preset="quick", run=_verify)
    sub.add_parser("figures", help="regenerate the figures (image, data, manifest)")
    sub.add_parser("train", help="train a quantized network with coarse gradient descent")
    sub.add_parser("data", help="inspect or fetch data sets (MNIST)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if not hasattr(args, "run"):
        print(f"coarsegrad {args.command}: not implemented yet", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:      # bad input: one clear line, no traceback
        print(f"coarsegrad {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text}")
    return value


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


def _verify(args) -> int:
    from .claims import run_claims
    if args.json:
        out = Path(args.json)
        check_writable_dir(out.parent if str(out.parent) else ".", "--json")
    results = run_claims(args.preset, seed=args.seed, only=args.only)
    print(format_claims(results))
    if args.json:
        write_json(args.json, {"version": __version__, "preset": args.preset, "seed": args.seed,
                               "claims": [r.as_dict() for r in results]})
    return 0 if all(r.passed for r in results) else 1
