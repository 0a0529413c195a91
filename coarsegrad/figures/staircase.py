"""Figure 1: the quantized ReLU at several bit-widths, and each STE's ``mu`` and ``mu'``."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..quant import Staircase
from ..ste import get_ste
from ._common import COLORS, LABELS, STE_NAMES, _preset, _style

__all__ = ["staircase_data", "draw_staircase"]


def staircase_data(preset: str = "fast", seed: int = 0, map_fn=map) -> dict:
    """``sigma`` for bits 1-3 (alpha = 1) and ``mu``, ``mu'`` of each STE at bits 2 (no randomness)."""
    cfg = _preset(preset)
    z = np.linspace(-1.0, 8.0, 10 * cfg["grid"] + 1)
    stair = {str(b): Staircase(b, 1.0)(z).tolist() for b in (1, 2, 3)}
    zs = np.linspace(-1.0, 5.0, 6 * cfg["grid"] + 1)
    two = Staircase(2, 1.0)
    mus = {name: get_ste(name).mu(zs, two).tolist() for name in STE_NAMES}
    primes = {name: get_ste(name).mu_prime(zs, two).tolist() for name in STE_NAMES}
    return dict(settings=dict(preset=preset, alpha=1.0, ste_bits=2), z=z.tolist(), sigma=stair,
                z_ste=zs.tolist(), sigma_ste=two(zs).tolist(), mu=mus, mu_prime=primes)


def draw_staircase(data: dict) -> Figure:
    """Left: sigma at bits 1-3. Middle: each STE's mu over sigma (bits 2). Right: mu'."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for b, values in data["sigma"].items():
        ax1.step(data["z"], values, where="post", label=f"bits = {b} (L = {2 ** int(b) - 1})")
    ax1.set(title="quantized ReLU $\\sigma$ ($\\alpha = 1$)", xlabel="$z$", ylabel="$\\sigma(z)$")
    ax1.legend(fontsize=8)
    ax2.step(data["z_ste"], data["sigma_ste"], where="post", color="0.6", lw=3, label="$\\sigma$ (bits 2)")
    for name in STE_NAMES:
        ax2.plot(data["z_ste"], data["mu"][name], color=COLORS[name], label=LABELS[name])
        ax3.plot(data["z_ste"], np.asarray(data["mu_prime"][name]) + 0.02 * STE_NAMES.index(name),
                 color=COLORS[name], label=LABELS[name])
    ax2.set(title="STE $\\mu$ (proxy of $\\sigma$), bits 2", xlabel="$z$", ylabel="$\\mu(z)$", ylim=(-1.2, 5))
    ax3.set(title="$\\mu'$ replaces $\\sigma' = 0$ a.e. (offset for visibility)", xlabel="$z$",
            ylabel="$\\mu'(z)$ (+ 0.02 per STE)")
    ax2.legend(fontsize=8)
    ax3.legend(fontsize=8)
    for ax in (ax1, ax2, ax3):
        _style(ax)
    return fig
