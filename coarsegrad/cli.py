"""The ``coarsegrad`` command: ``verify``, ``figures``, ``train``, ``data``.

The CLI sits on top of the library: it parses arguments, calls library functions
and prints or writes their results. Nothing in the library imports it.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__

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

    sub.add_parser("verify", help="check the paper's claims numerically and print a table")
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
    print(f"coarsegrad {args.command}: not implemented yet", file=sys.stderr)
    return 2
