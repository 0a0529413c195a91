"""Hypothesis strategies shared by the tests.

Related values are drawn together (bit-width, then resolution, then inputs near
its thresholds), arrays come from a drawn integer seed through
``numpy.random.default_rng`` (never a global RNG), and every input array is mixed
with the staircase's exact thresholds and levels so the kinks are always exercised.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from coarsegrad.quant import Staircase

seeds = st.integers(0, 2**32 - 1)
bits_st = st.integers(1, 4)
# Resolutions: some "awkward" decimals whose multiples round (0.1, 0.3), powers of 2, and random ones.
alphas = st.one_of(
    st.sampled_from([1.0, 0.5, 0.1, 0.3, 1 / 3, 0.7, 2.0]),
    st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False),
)
float_dtypes = st.sampled_from([np.float64, np.float32])


@st.composite
def staircases(draw, max_bits: int = 4, conventions=("ceil",)):
    """A :class:`~coarsegrad.quant.Staircase`: bits in ``1..max_bits``, a resolution from
    :data:`alphas`, and a threshold convention from ``conventions`` (``ceil`` only by default)."""
    bits = draw(st.integers(1, max_bits))
    alpha = draw(alphas)
    convention = draw(st.sampled_from(tuple(conventions)))
    return Staircase(bits, alpha, convention)


@st.composite
def inputs_near_thresholds(draw, staircase: Staircase, dtype=np.float64, max_size: int = 200):
    """A 1-D array of pre-activations: random values spread over the staircase, its exact
    thresholds ``t_k`` and its levels ``k*alpha`` (as rounded in ``dtype``; for the ``round``
    convention they differ), their floating-point neighbours, and values beyond."""
    rng = np.random.default_rng(draw(seeds))
    dtype = np.dtype(dtype)
    L, alpha = staircase.L, staircase.alpha
    exact = np.concatenate([staircase.thresholds_in(dtype), staircase.levels_in(dtype)])
    near = np.concatenate([exact, np.nextafter(exact, dtype.type(-np.inf)), np.nextafter(exact, dtype.type(np.inf))])
    size = draw(st.integers(1, max_size))
    spread = (rng.standard_normal(size) * L * alpha + L * alpha / 2).astype(dtype)
    picked = near[rng.integers(0, near.size, size=draw(st.integers(0, near.size)))]
    z = np.concatenate([spread, picked]).astype(dtype)
    rng.shuffle(z)
    return z


@st.composite
def ts_problems(draw, max_N: int = 6, max_p: int = 5, max_n: int = 5, max_K: int = 4):
    """A teacher-student batch: dict with Z (N,p,n), v (p,), W (n,K), y_star (N,K), staircase."""
    staircase = draw(staircases())
    N, p, n, K = (draw(st.integers(1, m)) for m in (max_N, max_p, max_n, max_K))
    rng = np.random.default_rng(draw(seeds))
    top = staircase.top
    Z = rng.standard_normal((N, p, n))
    W = rng.standard_normal((n, K)) * (top / np.sqrt(n))       # pre-activations spread over the steps
    v = rng.standard_normal(p)
    y_star = rng.standard_normal((N, K)) * top
    return dict(Z=Z, v=v, W=W, y_star=y_star, staircase=staircase)


@st.composite
def mlp_problems(draw, max_N: int = 6, max_n: int = 5, max_m: int = 6, max_K: int = 4):
    """A perceptron batch: dict with x (N,n), params (W,b,V,c), labels (N,), K, staircase."""
    from coarsegrad.nets import MLPParams
    staircase = draw(staircases())
    N, n, m = (draw(st.integers(1, k)) for k in (max_N, max_n, max_m))
    K = draw(st.integers(2, max_K))
    rng = np.random.default_rng(draw(seeds))
    x = rng.standard_normal((N, n))
    W = rng.standard_normal((m, n)) * (staircase.top / np.sqrt(n))
    b = rng.standard_normal(m) * staircase.alpha
    V = rng.standard_normal((K, m))
    c = rng.standard_normal(K)
    labels = rng.integers(0, K, size=N)
    return dict(x=x, params=MLPParams(W, b, V, c), labels=labels, K=K, staircase=staircase)


@st.composite
def teacher_students(draw, max_n: int = 5, max_p: int = 5, max_K: int = 3, max_bits: int = 4,
                     geometry: str = "any", conventions=("ceil",)):
    """``(teacher, v, W)`` for the population module.

    ``conventions``: the threshold conventions the staircase is drawn from (``ceil`` only by
    default; the population tests pass both).

    ``geometry``: ``"generic"`` (angles away from 0 and pi, ``w != 0``), ``"any"`` (generic plus
    exactly parallel / antiparallel columns, a zero student or teacher column, tiny and huge
    norms), or ``"v_star"`` (generic, with ``v = v*``)."""
    from coarsegrad.population import Teacher
    bits = draw(st.integers(1, max_bits))
    alpha = draw(st.sampled_from([1.0, 0.5, 0.3, 2.0]) | st.floats(0.05, 5.0))
    n, p, K = draw(st.integers(2, max_n)), draw(st.integers(1, max_p)), draw(st.integers(1, max_K))
    rng = np.random.default_rng(draw(seeds))
    L = 2**bits - 1
    W_star = rng.standard_normal((n, K)) * L * alpha / np.sqrt(n)
    v_star = rng.standard_normal(p)
    W = rng.standard_normal((n, K)) * np.exp(draw(st.floats(-1.5, 1.5))) * L * alpha / np.sqrt(n)
    if geometry == "any":
        mode = draw(st.sampled_from(["generic", "parallel", "antiparallel", "zero_teacher", "scale"]))
        k = draw(st.integers(0, K - 1))
        if mode == "parallel":
            W[:, k] = W_star[:, k] * draw(st.floats(0.2, 5.0))
        elif mode == "antiparallel":
            W[:, k] = -W_star[:, k] * draw(st.floats(0.2, 5.0))
        elif mode == "zero_teacher":
            W_star[:, k] = 0.0
        elif mode == "scale":
            W[:, k] *= 10.0 ** draw(st.sampled_from([-6, -3, 3, 6]))
    v = v_star.copy() if geometry == "v_star" else v_star + 0.5 * rng.standard_normal(p)
    convention = draw(st.sampled_from(tuple(conventions)))
    return Teacher(v_star, W_star, Staircase(bits, alpha, convention)), v, W
