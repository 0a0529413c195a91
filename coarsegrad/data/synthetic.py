r"""Seeded synthetic data: the Gaussian teacher-student sampler and 2-D multi-class sets
whose classes are not linearly separable.

- :func:`teacher_student_sample` -- ``Z`` with i.i.d. N(0, 1) entries, the teacher's outputs
  ``y*_k = v*^T sigma(Z w*_k)`` and labels ``argmax_k y*_k``;
- :func:`blobs` -- each class a union of ``pieces`` Gaussian blobs; the ``classes * pieces``
  centres sit evenly on the unit circle and take the classes in turn, so neighbouring blobs
  always belong to different classes;
- :func:`sectors` -- the disc cut into ``classes * pieces`` equal angular sectors, coloured in
  turn; an optional angular ``margin`` empties a band around every boundary.

With ``pieces >= 2`` no class is linearly separable from the rest in either set.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_positive_int, check_real, make_rng
from ..nets import ts_forward

__all__ = ["teacher_student_sample", "blobs", "sectors", "SYNTHETIC_SETS"]


def teacher_student_sample(teacher, N: int, seed):
    """``N`` Gaussian samples labelled by the teacher.

    Parameters
    ----------
    teacher : coarsegrad.population.Teacher
    N : int
    seed : int, SeedSequence or Generator

    Returns
    -------
    Z : ndarray, shape (N, p, n)
    y_star : ndarray, shape (N, K)
        ``y*_k = v*^T sigma(Z w*_k)``.
    labels : ndarray of int, shape (N,)
        ``argmax_k y*_k`` (ties to the smallest ``k``).
    """
    N = check_positive_int(N, "N")
    rng = make_rng(seed)
    Z = rng.standard_normal((N, teacher.p, teacher.n))
    y_star = ts_forward(Z, teacher.v_star, teacher.W_star, teacher.staircase).y
    return Z, y_star, np.argmax(y_star, axis=1)


def _counts(n_samples: int, k: int) -> np.ndarray:
    """``n_samples`` split as evenly as possible into ``k`` groups."""
    base = np.full(k, n_samples // k)
    base[: n_samples % k] += 1
    return base


def blobs(classes: int = 3, pieces: int = 3, n_samples: int = 600, noise: float = 0.08, seed=0):
    r"""Classes made of several Gaussian blobs around the unit circle.

    Centre ``j`` (``j = 0 .. classes*pieces - 1``) is ``(cos 2 pi j / J, sin 2 pi j / J)`` and
    belongs to class ``j mod classes``; each point is a centre plus ``N(0, noise^2 I)``.

    Parameters
    ----------
    classes, pieces : int
    n_samples : int
        Total number of points (split evenly over the blobs).
    noise : float
        Standard deviation of each blob (``0 <= noise``). Below about
        ``0.25 sin(pi / J)`` the blobs practically do not overlap.
    seed : int, SeedSequence or Generator

    Returns
    -------
    x : ndarray, shape (n_samples, 2)
    labels : ndarray of int, shape (n_samples,)
    """
    classes = check_positive_int(classes, "classes", minimum=2)
    pieces = check_positive_int(pieces, "pieces")
    n_samples = check_positive_int(n_samples, "n_samples")
    noise = check_real(noise, "noise", low=0.0)
    rng = make_rng(seed)
    J = classes * pieces
    angles = 2 * np.pi * np.arange(J) / J
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    which = np.repeat(np.arange(J), _counts(n_samples, J))
    x = centres[which] + noise * rng.standard_normal((n_samples, 2))
    order = rng.permutation(n_samples)
    return x[order], (which % classes)[order]


def sectors(classes: int = 3, pieces: int = 2, n_samples: int = 600, margin: float = 0.05,
            inner_radius: float = 0.2, seed=0):
    r"""The disc ``inner_radius <= |x| <= 1`` cut into ``classes * pieces`` sectors coloured in turn.

    Angles are uniform in each sector except an empty band of half-width ``margin`` (radians)
    around every boundary; radii are uniform in area.

    Parameters
    ----------
    classes, pieces : int
    n_samples : int
    margin : float
        ``0 <= margin < pi / (classes * pieces)``.
    inner_radius : float
        ``0 <= inner_radius < 1``: points closer to the centre, where all sectors meet, are left out.
    seed : int, SeedSequence or Generator

    Returns
    -------
    x : ndarray, shape (n_samples, 2)
    labels : ndarray of int, shape (n_samples,)
    """
    classes = check_positive_int(classes, "classes", minimum=2)
    pieces = check_positive_int(pieces, "pieces")
    n_samples = check_positive_int(n_samples, "n_samples")
    J = classes * pieces
    width = 2 * np.pi / J
    margin = check_real(margin, "margin", low=0.0, high=width / 2, high_open=True)
    inner_radius = check_real(inner_radius, "inner_radius", low=0.0, high=1.0, high_open=True)
    rng = make_rng(seed)
    which = np.repeat(np.arange(J), _counts(n_samples, J))
    angle = which * width + margin + rng.uniform(0, 1, n_samples) * (width - 2 * margin)
    radius = np.sqrt(rng.uniform(inner_radius**2, 1.0, n_samples))
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    order = rng.permutation(n_samples)
    return x[order], (which % classes)[order]


#: The 2-D sets by name, for the CLI and the figures.
SYNTHETIC_SETS = {"blobs": blobs, "sectors": sectors}
