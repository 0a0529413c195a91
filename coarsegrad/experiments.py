"""The settings of the perceptron experiments, shared by claim 9 and the figures.

Each is our choice, not the paper's words (docs/paper-notes.md, E1-E2): the staircase spans
``[0, TOP]`` at every bit-width (``alpha = TOP / L``), and SGD with momentum and a cosine schedule.
"""
from __future__ import annotations

from .quant import Staircase

__all__ = ["TOP", "resolution", "experiment_staircase", "SYNTHETIC_SGD", "MNIST_SGD"]

#: Top level of the staircase in the experiments: alpha = TOP / L, so every bit-width spans [0, TOP]
#: (our choice, docs/paper-notes.md E1).
TOP = 2.0


def resolution(bits: int) -> float:
    """``alpha = TOP / L``: the experiments' staircase spans ``[0, TOP]`` at every bit-width."""
    return TOP / Staircase(bits).L


def experiment_staircase(bits: int) -> Staircase:
    """The staircase of the experiments at ``bits``: ``Staircase(bits, TOP / L)``."""
    return Staircase(bits, resolution(bits))


#: The optimizer settings of the experiments (docs/paper-notes.md, E2); epochs come from the preset.
SYNTHETIC_SGD = dict(lr=0.1, batch_size=32, momentum=0.9, schedule="cosine")
MNIST_SGD = dict(lr=0.05, batch_size=64, momentum=0.9, schedule="cosine")
