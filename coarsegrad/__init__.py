"""coarsegrad: the coarse gradient method for networks with quantized ReLU activations.

A two-linear-layer network with a staircase activation ``sigma`` has a loss that
is piecewise constant in its weights: its gradient is zero almost everywhere. The
*coarse gradient* replaces ``sigma'`` in the chain rule by the derivative ``mu'``
of a straight-through estimator (STE). coarsegrad implements, in plain NumPy and
in the notation of Long, Yin & Xin (2021):

- :mod:`coarsegrad.quant` -- the staircase ``sigma`` as a :class:`Staircase` (bits, alpha,
  ceil or round convention);
- :mod:`coarsegrad.ste` -- STEs (identity, relu, clipped_relu, log_tailed_relu,
  your own) and the admissibility check M1-M4;
- :mod:`coarsegrad.alpha` -- rules for ``d sigma / d alpha`` (ae, pact, min, mean, your own),
  for learning the resolution;
- :mod:`coarsegrad.nets` -- the teacher-student model ``y_k = v^T sigma(Z w_k)`` and
  the two-layer perceptron ``f = V sigma(W x + b) + c``, with hand-derived coarse
  gradients;
- :mod:`coarsegrad.population` -- exact Gaussian expectations: the population loss, its
  gradient and the expected coarse gradient (a package, one idea a module);
- :mod:`coarsegrad.subspaces` -- the orthogonal-subspace classification model (classes in
  mutually orthogonal subspaces): data, the linear-separability and coverage linear programs,
  Wendel's probability, full-batch coarse gradient descent;
- :mod:`coarsegrad.estimators` -- Monte Carlo, finite differences, Gaussian smoothing;
- :mod:`coarsegrad.train` -- coarse gradient descent and SGD, sweeps on any executor;
- :mod:`coarsegrad.claims` -- the theory's claims as functions returning their evidence;
- :mod:`coarsegrad.data`, :mod:`coarsegrad.figures` -- data sets and the paper's figures.

A minimal session::

    >>> import numpy as np, coarsegrad as cg
    >>> sigma = cg.Staircase(bits=2, alpha=0.5)
    >>> sigma(np.array([-1.0, 0.0, 0.3, 1.0, 5.0]))
    array([0. , 0. , 0.5, 1. , 1.5])
    >>> cg.check_admissible("identity").violated
    ('M2',)

The derivations are in docs/theory.md; which choices are ours rather than the
paper's is in docs/paper-notes.md.
"""
from .quant import CONVENTIONS, Staircase
from .ste import (STE, Admissibility, available_stes, check_admissible, get_ste, register_ste,
                  unregister_ste)
from .nets import (MLPParams, MLPPass, TSGrads, TSPass, mlp_coarse_grad, mlp_forward, mlp_init, mlp_loss,
                   mlp_predict, one_hot, ts_coarse_grad, ts_forward, ts_loss, ts_predict)
from . import population  # noqa: E402  (cg.population works after `import coarsegrad`)

__version__ = "0.3.0"

__all__ = [
    "__version__",
    "Staircase", "CONVENTIONS",
    "STE", "get_ste", "register_ste", "unregister_ste", "available_stes", "check_admissible",
    "Admissibility",
    "TSPass", "TSGrads", "ts_forward", "ts_loss", "ts_coarse_grad", "ts_predict",
    "MLPParams", "MLPPass", "mlp_init", "mlp_forward", "mlp_loss", "mlp_coarse_grad", "mlp_predict",
    "one_hot", "population",
]
