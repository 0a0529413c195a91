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
9. ``subspace_slow_fast`` -- per class around ``t*``: angular speed of the own directions and distance
   to the limit, for the quantized and the ReLU network;
10. ``descent_atlas`` -- the sign and size of ``cos(E g, grad f)`` over (angle, length ratio);
11. ``alpha_learning`` -- learned resolution ``alpha``: trajectories and accuracy per rule.

The figures live by model: :mod:`.staircase` (1), :mod:`.perceptron` (2, 3, 6),
:mod:`.teacher_student` (4, 5, 10), :mod:`.subspaces` (7-9), :mod:`.alpha` (11); :mod:`.results`
writes docs/results.md from their data, :mod:`._common` holds what they share.

Presets: ``tiny`` (seconds; for the tests), ``fast`` (the committed figures; a few minutes on 2
cores), ``full`` (the paper's scale: wider networks, more epochs, seeds and steps; full MNIST when
``$COARSEGRAD_MNIST_DIR`` names a directory with the IDX files -- a wrong value is an error).
"""
from __future__ import annotations

from ._common import (COLORS, FLOAT, LABELS, MNIST_SGD, PRESETS, STE_NAMES, SYNTHETIC_SGD, TOP, experiment_staircase,
                      resolution)
from .alpha import ALPHA_PRESETS, _alpha_run, alpha_learning_data, draw_alpha_learning  # noqa: F401  (_alpha_run: docs)
from .perceptron import (_synthetic_run, decision_regions_data, draw_decision_regions, draw_mnist,  # noqa: F401
                         draw_training_curves, mnist_data, training_curves_data)
from .results import results_markdown
from .staircase import draw_staircase, staircase_data
from .subspaces import (draw_subspace_hull, draw_subspace_slow_fast, draw_subspace_success, subspace_hull_data,
                        subspace_slow_fast_data, subspace_success_data)
from .teacher_student import (ATLAS_RATIOS, ATLAS_V_STAR, cosine_data, descent_atlas_data, draw_cosine,
                              draw_descent_atlas, draw_population_loss, population_loss_data)

__all__ = ["FIGURES", "PRESETS", "ALPHA_PRESETS", "STE_NAMES", "SYNTHETIC_SGD", "MNIST_SGD", "TOP", "resolution",
           "experiment_staircase", "preset_settings", "results_markdown", "COLORS", "LABELS", "FLOAT",
           "staircase_data", "draw_staircase", "decision_regions_data", "draw_decision_regions",
           "training_curves_data", "draw_training_curves", "cosine_data", "draw_cosine",
           "population_loss_data", "draw_population_loss", "mnist_data", "draw_mnist",
           "subspace_hull_data", "draw_subspace_hull", "subspace_success_data", "draw_subspace_success",
           "subspace_slow_fast_data", "draw_subspace_slow_fast", "descent_atlas_data", "draw_descent_atlas",
           "ATLAS_V_STAR", "ATLAS_RATIOS", "alpha_learning_data", "draw_alpha_learning"]

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
FIGURES.update({
    "subspace_hull": (subspace_hull_data, draw_subspace_hull,
                      "orthogonal subspaces, d_k = 2: own-neuron directions and their convex hull along training"),
    "subspace_success": (subspace_success_data, draw_subspace_success,
                         "success rate of perfect classification vs neurons per class, per STE, beside Wendel; "
                         "runs stopped at a critical point with loss > 0"),
    "subspace_slow_fast": (subspace_slow_fast_data, draw_subspace_slow_fast,
                           "per class around t*: angular speed of the own directions (raw and relative to covered "
                           "classes) and distance to the limit, quantized and ReLU network"),
    "descent_atlas": (descent_atlas_data, draw_descent_atlas,
                      "cos(E g, grad f) over angle and length ratio per STE and bit-width, with the descent regime"),
    "alpha_learning": (alpha_learning_data, draw_alpha_learning,
                       "learnable alpha: trajectories and accuracy, fixed 2/L vs the rules ae, pact, min, mean"),
})


def preset_settings(name: str, preset: str) -> dict:
    """The sizes figure ``name`` uses at ``preset`` (figure 11 has its own table): what a manifest records."""
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}; got {name!r}")
    table = ALPHA_PRESETS if name == "alpha_learning" else PRESETS
    if preset not in table:
        raise ValueError(f"preset must be one of {', '.join(table)}; got {preset!r}")
    return dict(table[preset])
