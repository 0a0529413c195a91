r"""The claims of SPEC §5, each a function that runs its check and returns its evidence.

Each ``claim_N(preset, seed)`` returns a :class:`ClaimResult`: the setting, one or more
:class:`Check` rows (the measured figure, the relation and threshold it must meet, and
whether it did) and a ``details`` dict with the numbers behind them. ``coarsegrad verify``
prints them as a table and the tests assert on them, so the CLI and the test suite read
the same evidence.

1. the staircase: levels, thresholds, monotonicity;
2. the sample loss has zero gradient almost everywhere in the first layer;
3. exact ``m, q, c, f`` agree with Monte Carlo;
4. exact ``grad f`` agrees with finite differences of exact ``f``;
5. exact ``E g`` agrees with the Monte Carlo mean of sample coarse gradients;
6. descent: ``<E g, grad f> > 0`` for admissible STEs (``v = v*``), in the regime where
   it holds -- with the counterexamples outside it reported (docs/findings.md);
7. convergence of coarse gradient descent to the global minimum (population and samples);
8. the ICLR 2019 contrast: the identity STE is unstable at a spurious local minimum where
   the ReLU STE is stable;
9. admissible STEs train the quantized perceptron: perfect training classification of
   synthetic non-linear classes, MNIST-subset accuracy within a stated margin of float;
10. orthogonal-subspace data (SPEC §8) are not linearly separable (LP certificate), yet a
    constructed network classifies them perfectly with hinge loss 0;
11. full-batch coarse gradient descent reaches hinge loss 0 (a global minimum, perfect
    classification) from random initialization, in the regime :data:`SUBSPACE_REGIME`;
12. slow to fast: the step ``t*`` at which every class is covered, and the rates around it;
13. learnable ``alpha``: the bias of each alpha-gradient rule, and joint coarse gradient
    descent in ``(W, alpha)``;
14. the ReLU limit: as ``alpha -> 0`` with ``L alpha`` fixed the coarse gradient tends to the
    clipped-ReLU network's gradient, at the order in ``alpha`` derived in docs/theory.md §9.

Every claim takes the library functions it checks (its oracles) as keyword arguments with the
library's as defaults, so a test can pass a deliberately wrong one and see the claim fail.
Evidence is folded with NumPy (``np.max``, ``np.min``), so NaN propagates, and a non-finite
value fails its :class:`Check`.

Presets: ``quick`` (every claim but 9; claim 9 is skipped, with the reason shown) and ``full``;
their sizes are one table, :data:`PRESETS`.

The claims live by model: :mod:`.staircase` (1-2), :mod:`.teacher_student` (3-8),
:mod:`.perceptron` (9), :mod:`.subspaces` (10-12), :mod:`.alpha` (13), :mod:`.relu_limit` (14); :mod:`._core` holds what
they share.
"""
from __future__ import annotations

import threading

import numpy as np

from .._checks import check_positive_int, make_rng
from ..provenance import RUN_BLAS_THREADS, blas_threads
from ._core import ADMISSIBLE, ALL_STES, PRESETS, RELATIONS, Check, ClaimResult, _preset, claim
from .staircase import claim_1, claim_2
from .teacher_student import (ANTIPODAL_WEDGE_COUNTEREXAMPLE, FD_RTOL, GD_TOL, MC_Z, RELU_OVERSHOOT_COUNTEREXAMPLE,
                              SGD_AGREEMENT, THETA_MAX, claim_3, claim_4, claim_5,
                              claim_6, claim_7, claim_8, counterexample_cosines, descent_regime, spurious_minimizer)
from .teacher_student import _class_cosines, _direction_error  # noqa: F401  (used by tests/test_claims.py)
from .perceptron import MNIST_MARGIN, claim_9
from .subspaces import SUBSPACE_REGIME, claim_10, claim_11, claim_12, subspace_regime
from .relu_limit import claim_14
from .alpha import (ALPHA_RULE_STALL_COUNTEREXAMPLE, JOINT_ALPHA_TOL, JOINT_F_TOL, alpha_rule_stall, claim_13)

__all__ = ["Check", "ClaimResult", "PRESETS", "CLAIMS", "run_claims", "descent_regime",
           "claim_1", "claim_2", "claim_3", "claim_4", "claim_5", "claim_6", "claim_7", "claim_8", "claim_9",
           "ADMISSIBLE", "RELU_OVERSHOOT_COUNTEREXAMPLE", "ANTIPODAL_WEDGE_COUNTEREXAMPLE",
           "claim_10", "claim_11", "claim_12", "SUBSPACE_REGIME", "subspace_regime", "claim_13",
           "RELATIONS", "ALL_STES", "claim", "MC_Z", "FD_RTOL", "GD_TOL", "SGD_AGREEMENT", "THETA_MAX",
           "counterexample_cosines", "spurious_minimizer", "MNIST_MARGIN", "ALPHA_RULE_STALL_COUNTEREXAMPLE",
           "JOINT_F_TOL", "JOINT_ALPHA_TOL", "alpha_rule_stall", "claim_14"]


#: Every claim by number: ``coarsegrad verify`` runs them in this order.
CLAIMS = {1: claim_1, 2: claim_2, 3: claim_3, 4: claim_4, 5: claim_5, 6: claim_6, 7: claim_7, 8: claim_8,
          9: claim_9, 10: claim_10, 11: claim_11, 12: claim_12, 13: claim_13, 14: claim_14}


#: Claims started first when they run on several processes: the longest ones (measured at the quick
#: preset, docs/performance.md), so that the short ones fill in beside them. ``coarsegrad verify`` without
#: ``--workers`` starts no pool for a ``--quick`` selection with none of these (a pool only adds its start-up).
LONGEST_FIRST = (7, 14, 12, 11, 8, 6, 13, 5, 3, 10)

#: Claims whose independent trainings go to the pool one by one (their ``map_fn``), while the claim itself
#: runs in this process: claim 7's fourteen trainings took 18 s of a 19 s ``verify --quick`` as one task.
SPLIT = (7,)


def _run_claim(task, map_fn=map) -> ClaimResult:
    """One claim with the BLAS threads of a worker, here or in a worker process (top level: pickled by name)."""
    number, preset, seed = task
    with blas_threads(RUN_BLAS_THREADS):
        return CLAIMS[number](preset, seed, **({} if map_fn is map else dict(map_fn=map_fn)))


def run_claims(preset: str = "quick", seed: int = 0, only=None, *, workers: int = 1, progress=None) -> list:
    """Run claims (all, or the numbers in ``only``) and return their :class:`ClaimResult` list, by number.

    Each claim gets its own generator, spawned from ``seed``, so one claim's result does not
    depend on which others ran, nor on where: every claim runs with
    :data:`~coarsegrad.provenance.RUN_BLAS_THREADS` BLAS threads (with threadpoolctl installed), in
    this process or in a worker, so ``workers`` changes the time, not the numbers.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS`.
    seed : int
    only : iterable of int, optional
        Claim numbers; default all.
    workers : int
        Processes: 1 runs every claim here, in order; more run them on a
        :func:`~coarsegrad.train.process_pool` of that many fresh processes, longest first
        (:data:`LONGEST_FIRST`); the claims of :data:`SPLIT` run here and send their trainings to the pool
        first. A preset added at run time (a test's ``tiny``) exists only here.
    progress : callable ``(result, done, total) -> None``, optional
        Called as each claim finishes (in the order they finish).
    """
    _preset(preset)
    make_rng(seed)          # our message for a bad seed (numpy's would not name the argument)
    workers = check_positive_int(workers, "workers")
    numbers = sorted(CLAIMS) if only is None else sorted(set(only))
    unknown = [k for k in numbers if k not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim number(s) {unknown}; claims are {sorted(CLAIMS)}")
    seeds = np.random.SeedSequence(seed).spawn(max(CLAIMS))
    tasks = {k: (k, preset, seeds[k - 1]) for k in numbers}
    results = {}

    def done(result):
        results[result.number] = result
        if progress is not None:
            progress(result, len(results), len(numbers))

    split = [k for k in numbers if k in SPLIT]
    if workers == 1 or (len(numbers) == 1 and not split):
        for k in numbers:
            done(_run_claim(tasks[k]))
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed
        from ..train import _run_here, process_pool
        order = [k for k in LONGEST_FIRST if k in tasks] + [k for k in numbers if k not in LONGEST_FIRST]
        size = workers if split else int(np.minimum(workers, len(numbers)))
        with process_pool(size) as pool, ThreadPoolExecutor(1) as here:
            futures = []
            for k in [k for k in order if k in split]:
                # The claim runs on a thread of this process; its trainings are queued on the pool before the
                # other claims, longest work first, and the claim's own arithmetic waits for them.
                queued = threading.Event()

                def pool_map(fn, items, queued=queued):
                    submitted = [pool.submit(_run_here, fn, item) for item in items]
                    queued.set()
                    return [f.result() for f in submitted]
                futures.append(here.submit(_run_claim, tasks[k], pool_map))
                while not queued.wait(0.01) and not futures[-1].done():
                    pass
            futures += [pool.submit(_run_claim, tasks[k]) for k in order if k not in SPLIT]
            for future in as_completed(futures):
                done(future.result())
    return [results[k] for k in numbers]
