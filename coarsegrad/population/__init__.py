r"""Exact Gaussian expectations for the teacher-student model (a package: one idea a module).

Rows ``z_i`` of ``Z`` are i.i.d. ``N(0, I_n)``. The teacher ``(v*, W*)`` and the
student ``(v, W)`` share the staircase ``sigma`` (bits, alpha). For class ``k``,
``y_k = v^T sigma(Z w_k)`` and ``y*_k = v*^T sigma(Z w*_k)``; the population loss is

.. math::

    f(v, W) = \mathbb E_Z\, \tfrac12 \sum_k (y_k - y^*_k)^2 .

Everything reduces to one- and two-dimensional Gaussian integrals that are
evaluated in closed form with ``Phi``, ``phi`` and Owen's T function -- no Monte
Carlo. docs/theory.md §2-§4 derives each line; the names below are its names.

Moments (``U ~ N(0, 1)``; ``t_k = T_k / |w|`` and ``c_l = T_l / |w*|`` with the staircase's thresholds
``T_k = (k + shift) alpha``, ``k = 0..L-1``, ``shift`` 0 for ``ceil`` and 1/2 for ``round``;
``rho = cos angle(w, w*)``)::

    m(w)     = E sigma(z^T w)              = alpha   sum_k        Qbar(t_k)
    q(w)     = E sigma(z^T w)^2            = alpha^2 sum_j (2j+1) Qbar(t_j)
    c(w, w*) = E sigma(z^T w) sigma(z^T w*) = alpha^2 sum_{k,l} Phi2(-t_k, -c_l; rho)

Loss (per class, ``S = sum(v) m - sum(v*) m*``; rows independent)::

    2 f_k = S^2 + |v|^2 (q - m^2) - 2 (v.v*) (c - m m*) + |v*|^2 (q* - m*^2)

Gradient in ``w_k`` and expected coarse gradient -- the same formula::

    grad_{w_k} f = coef_k grad m  + |v|^2 grad q / 2 - (v.v*) grad c
    E g_k        = coef_k A       + |v|^2 B          - (v.v*) C
    coef_k = sum(v) S_k - (|v|^2 m_k - (v.v*) m*_k)

with ``A = E[mu'(z^T w) z]``, ``B = E[sigma mu' z]``, ``C = E[sigma(z^T w*) mu'(z^T w) z]``;
``grad m``, ``grad q / 2``, ``grad c`` are the same three vectors with ``mu'`` replaced by
the comb ``sigma' = alpha sum_k delta(z - k alpha)`` (docs/theory.md §3). Each vector lies in
``span(w^, e_perp)``, ``e_perp`` the unit vector of ``w*^`` orthogonal to ``w^``, so it is
stored by two coefficients (:class:`CoarseVectors`).

Edge cases (docs/theory.md §5):

- ``w_k = 0``: ``sigma(z^T 0) = 0``, so ``m = q = c = 0``. For ``ceil`` (first threshold 0)
  ``f`` jumps there (``m`` tends to ``alpha/2`` as ``w -> 0``), so :func:`population_grad`
  raises. For ``round`` (every threshold ``>= alpha/2``) ``f`` is continuous and flat to all
  orders there (``m = O(exp(-alpha^2 / 8|w|^2))``): the gradient in ``w_k`` is the limit 0, a
  plateau. ``E g`` is defined in both (``mu'(0)`` times a fixed vector) and returned.
- ``w*_k = 0``: the teacher's class is silent; ``c = 0`` and ``C = 0``.
- ``rho = +-1``: ``f`` has a kink across ``span(w*)`` (``P(z^T w > 0, z^T w* > 0) = (pi -
  theta)/2 pi`` is a cone in ``theta``). The returned gradient has zero component
  along ``e_perp`` there and takes ``Phi(0/0) = 1/2`` on the diagonal: the minimal-norm
  element of the subdifferential, and 0 at the global minimum ``W = W*``.
- huge or tiny ``|w|``: every formula is written so that ``t = T_k / |w|`` may be
  ``0`` or ``inf`` without producing NaN, and ``E g`` keeps its relative accuracy (about 1e-14)
  for ``|w| / alpha`` from 1e-300 to 1e300: differences of nearby densities and normal
  probabilities are computed directly, narrow windows by Gauss-Legendre, and quadrature panels
  (both engines, so user STEs without ``pieces`` too) are graded from the ``min(1, alpha)/|w|`` scale up
  to the Gaussian's; the adaptive engine warns (``QuadratureWarning``) when it cannot reach its
  tolerance. One exception, documented in docs/theory.md §5: with a non-piecewise-constant ``mu'`` (``gauss``, ``quad``) and
  ``theta < ~7 deg`` or ``> ~173 deg`` the perpendicular part of ``C`` (and the step remainder of
  ``C_w``) loses relative accuracy like ``1e-16 |w| / alpha``.

Modules: :mod:`~coarsegrad.population.gaussian` (normal and bivariate normal functions),
:mod:`~coarsegrad.population.teacher` (the teacher and the student checks),
:mod:`~coarsegrad.population.geometry` (angles, norms, thresholds in units of ``|w|``),
:mod:`~coarsegrad.population.moments` (``m, q, c`` and the loss),
:mod:`~coarsegrad.population.gradient` (the exact gradient),
:mod:`~coarsegrad.population.coarse` (the expected coarse gradient) and
:mod:`~coarsegrad.population.quadrature` (its integration engines).
"""
from .coarse import METHODS, coarse_vectors, expected_coarse_grad, loss_and_expected_coarse_grad
from .gaussian import bvn_cdf
from .geometry import CoarseVectors
from .gradient import population_grad
from .moments import moment_c, moment_m, moment_q, population_loss
from .teacher import MAX_POPULATION_BITS, Teacher, random_teacher
from .alpha import (alpha_jump_terms, expected_alpha_grad, joint_descent, joint_expected_coarse_grad,
                    joint_population_grad, population_grad_alpha, population_loss_alpha)

__all__ = [
    "Teacher", "random_teacher", "bvn_cdf",
    "moment_m", "moment_q", "moment_c",
    "population_loss", "population_grad", "expected_coarse_grad", "loss_and_expected_coarse_grad",
    "CoarseVectors", "coarse_vectors", "METHODS",
    "MAX_POPULATION_BITS",
    "population_loss_alpha", "population_grad_alpha", "expected_alpha_grad", "alpha_jump_terms",
    "joint_population_grad", "joint_expected_coarse_grad", "joint_descent",
]
