"""What the figures share: names and colours of the STEs, the preset table of figures 1-10 (figure 11
keeps its own, :data:`coarsegrad.figures.alpha.ALPHA_PRESETS`), seeds and axis style."""
from __future__ import annotations

import numpy as np

from ..experiments import MNIST_SGD, SYNTHETIC_SGD, TOP, experiment_staircase, resolution  # noqa: F401  (re-exported)
from ..ste import BUILTIN_STES

__all__ = ["STE_NAMES", "FLOAT", "COLORS", "LABELS", "PRESETS"]


STE_NAMES = BUILTIN_STES
FLOAT = "float_relu"
COLORS = {"identity": "#d62728", "relu": "#1f77b4", "clipped_relu": "#ff7f0e", "log_tailed_relu": "#2ca02c",
          FLOAT: "#000000"}
LABELS = {"identity": "identity", "relu": "ReLU", "clipped_relu": "clipped ReLU",
          "log_tailed_relu": "log-tailed ReLU", FLOAT: "float ReLU (no quantization)"}

#: Sizes per preset of figures 1-10 (``sub_``: figures 7-9; ``atlas_``: figure 10). The atlas grid sizes
#: are chosen so that the regime's bound 3 pi / 4 and the ratio 1 are grid points.
PRESETS = {
    "tiny": dict(grid=40, syn_samples=150, syn_hidden=16, syn_epochs=8, seeds=2, bits=(1, 2),
                 pop_steps=20, pop_inits=1, pop_n=4, pop_p=3, pop_K=2,
                 mnist_train=300, mnist_test=100, mnist_hidden=32, mnist_epochs=2, mnist_bits=(2,), full_mnist=False,
                 sub_n=50, sub_steps=120, sub_N=(2, 4), sub_dims=(2,), sub_seeds=2, sub_stes=("relu", "identity"),
                 sub_curves=1, sub_snapshots=3, sub_dyn_seeds=4,
                 atlas_angles=9, atlas_ratios=7, atlas_bits=(1, 2)),
    "fast": dict(grid=150, syn_samples=600, syn_hidden=64, syn_epochs=100, seeds=3, bits=(1, 2, 4),
                 pop_steps=600, pop_inits=2, pop_n=10, pop_p=6, pop_K=3,
                 mnist_train=8000, mnist_test=2000, mnist_hidden=256, mnist_epochs=8, mnist_bits=(1, 2, 4),
                 full_mnist=False,
                 sub_n=50, sub_steps=300, sub_N=(2, 3, 4, 6, 8), sub_dims=(2, 3), sub_seeds=4,
                 sub_stes=BUILTIN_STES, sub_curves=3, sub_snapshots=4, sub_dyn_seeds=20,
                 atlas_angles=33, atlas_ratios=19, atlas_bits=(1, 2, 4)),
    "full": dict(grid=300, syn_samples=1200, syn_hidden=128, syn_epochs=200, seeds=10, bits=(1, 2, 3, 4),
                 pop_steps=3000, pop_inits=5, pop_n=20, pop_p=8, pop_K=4,
                 mnist_train=8000, mnist_test=2000, mnist_hidden=512, mnist_epochs=15, mnist_bits=(1, 2, 4),
                 full_mnist=True,
                 sub_n=50, sub_steps=1000, sub_N=(2, 3, 4, 6, 8, 12, 16), sub_dims=(2, 3, 8), sub_seeds=10,
                 sub_stes=BUILTIN_STES, sub_curves=6, sub_snapshots=5, sub_dyn_seeds=60,
                 atlas_angles=121, atlas_ratios=73, atlas_bits=(1, 2, 3, 4)),
}


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
