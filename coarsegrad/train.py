r"""Coarse gradient descent and minibatch SGD for both networks, seeded and reproducible.

Three drivers, each returning the final weights and a :class:`History`; the two minibatch drivers
take their optimizer settings as one :class:`SGD` object (the object that ran is the one a
manifest records):

- :func:`population_descent` -- the teacher-student model trained on the *population*
  loss with the exact expected coarse gradient ``E g`` (:mod:`coarsegrad.population`):
  ``W <- W - lr E g(v, W)`` (and ``v <- v - lr grad_v f`` when ``v`` is trained);
- :func:`ts_sgd` -- the same model trained on a finite sample with stochastic coarse
  gradients (:func:`coarsegrad.nets.ts_coarse_grad`);
- :func:`mlp_train` -- the two-layer perceptron by minibatch SGD on coarse gradients.

SGD uses heavy-ball momentum in the form ``u <- beta u + lr_t g``, ``theta <- theta - u`` (the same
as ``m <- beta m + g``, ``theta <- theta - lr m`` for a constant step) and a step-size schedule
(``constant``, ``cosine``, ``step``). Given the same seed a run is reproducible bit
for bit. The library never prints: long runs report through an optional ``progress``
callback (the CLI passes one that writes to stderr).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ._checks import as_float_array, check_iterates, check_labels, check_positive_int, check_real, make_rng
from .alpha import get_alpha_rule
from .estimators import cosine
from .history import History
from .nets import (LOSSES, MLPParams, _check_mlp, mlp_alpha_grad, mlp_coarse_grad, mlp_forward, mlp_loss,
                   ts_coarse_grad, ts_forward, ts_loss)
from .population import Teacher, population_grad
from .population.coarse import step_terms
from .population.moments import teacher_moments
from .population.alpha import ALPHA_FLOOR
from .population.teacher import check_student as _check_student
from .provenance import BLAS_THREAD_VARS, RUN_BLAS_THREADS, blas_threads
from .quant import Staircase
from .ste import check_staircase, get_ste

__all__ = ["History", "SGD", "SCHEDULES", "population_descent", "default_population_lr", "ts_sgd",
           "mlp_train", "run_sweep", "process_pool"]

SCHEDULES = ("constant", "cosine", "step")


@dataclass(frozen=True)
class SGD:
    r"""Minibatch SGD with heavy-ball momentum and a step-size schedule.

    Per batch ``u <- beta u + lr_t g``, ``theta <- theta - u`` (with a constant step the same as
    ``m <- beta m + g``, ``theta <- theta - lr m``); ``lr_t`` is :meth:`learning_rate` of the epoch.

    Parameters
    ----------
    lr : float
        Initial step size ``> 0``.
    epochs : int
        Passes over the training set (``>= 0``).
    batch_size : int
    momentum : float
        Heavy-ball ``beta`` in ``[0, 1)``.
    schedule : {"constant", "cosine", "step"}
    decay_every, decay_factor
        For ``schedule="step"``: multiply the step by ``decay_factor`` every ``decay_every`` epochs.

    Validated once, here.
    """

    lr: float
    epochs: int
    batch_size: int
    momentum: float = 0.0
    schedule: str = "constant"
    decay_every: int = 10
    decay_factor: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "lr", check_real(self.lr, "lr", low=0.0, low_open=True))
        object.__setattr__(self, "epochs", check_positive_int(self.epochs, "epochs", minimum=0))
        object.__setattr__(self, "batch_size", check_positive_int(self.batch_size, "batch_size"))
        object.__setattr__(self, "momentum", check_real(self.momentum, "momentum", low=0.0, high=1.0,
                                                        high_open=True))
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        object.__setattr__(self, "decay_every", check_positive_int(self.decay_every, "decay_every"))
        object.__setattr__(self, "decay_factor", check_real(self.decay_factor, "decay_factor", low=0.0,
                                                            low_open=True, high=1.0))

    def learning_rate(self, epoch: int) -> float:
        r"""Step size of epoch ``epoch`` (0-based).

        ``constant``: ``lr``; ``cosine``: ``lr (1 + cos(pi epoch / epochs)) / 2``;
        ``step``: ``lr decay_factor ** (epoch // decay_every)``.
        """
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1.0 + np.cos(np.pi * epoch / self.epochs))
        return self.lr * self.decay_factor ** (epoch // self.decay_every)

    def as_dict(self) -> dict:
        """The settings as a plain dict (for JSON manifests)."""
        return asdict(self)


# =========================================================================================
# Teacher-student model
# =========================================================================================

def default_population_lr(teacher: Teacher) -> float:
    """The step size of population coarse gradient descent: ``1 / (|v*|^2 + (sum v*)^2)``
    (docs/paper-notes.md, G1; scale-free, since the gradient scales with ``v``)."""
    v = teacher.v_star
    return 1.0 / (v @ v + v.sum() ** 2)


def population_descent(teacher: Teacher, W0, ste, *, lr: float, steps: int, v0=None,
                       train_v: bool = False, tol: float = 0.0, record_every: int = 1,
                       record_cosine: bool = False, progress: Callable | None = None):
    r"""Coarse gradient descent on the population loss with the exact ``E g``.

    .. math::

        W_{t+1} = W_t - \eta\, \mathbb E_Z[g](v_t, W_t), \qquad
        v_{t+1} = v_t - \eta\, \nabla_v f(v_t, W_t) \ \text{(if train_v)}

    Parameters
    ----------
    teacher : Teacher
    W0 : array_like, shape (n, K)
        Initial first layer.
    ste : str, STE or (mu, mu_prime)
    lr : float
        Step size ``eta > 0``. Weights that become non-finite or explode (beyond
        :data:`coarsegrad._checks.DIVERGENCE_BOUND`, 1e150) raise ``FloatingPointError`` naming ``lr``.
    steps : int
        Maximum number of iterations.
    v0 : array_like, shape (p,), optional
        Initial second layer; default ``v*`` (the theory's setting ``v = v*``).
    train_v : bool
        Also train ``v`` (ICLR 2019 setting); otherwise ``v`` stays at ``v0``.
    tol : float
        Stop once ``f <= tol * f(initial)``.
    record_every : int
        Record ``loss`` (``f``) every this many steps (and always the first and last).
    record_cosine : bool
        Also record ``cosine`` between ``E g`` and ``grad f`` (in ``W``; costs a gradient).
    progress : callable ``(step, loss) -> None``, optional

    Returns
    -------
    v : ndarray, shape (p,)
    W : ndarray, shape (n, K)
    history : History
        ``loss`` is ``f(v_t, W_t)``; ``cosine`` if requested.
    """
    v = teacher.v_star.copy() if v0 is None else v0
    v, W3, batched = _check_student(teacher, v, W0)
    if batched:
        raise ValueError("W0 must have shape (n, K): population_descent follows one trajectory")
    v, W = v.copy(), W3[0].copy()
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    steps = check_positive_int(steps, "steps", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    tol = check_real(tol, "tol", low=0.0)
    ste = get_ste(ste)
    history = History()
    f0 = None
    star = teacher_moments(teacher)            # the teacher's m*, q*: constant along the descent
    for t in range(steps + 1):
        # f and E g at the current point from one computation of the moments (shared by the stopping test,
        # the record and the step); the last point's E g is computed too, unused unless recorded.
        f, Eg_v, Eg_W = step_terms(teacher, v, W[None], ste, star=star)   # v, W checked above and every step
        f0 = f if f0 is None else f0
        converged = tol > 0 and f <= tol * f0
        done = converged or t == steps
        recording = done or t % record_every == 0
        if recording:
            extra = {"cosine": cosine(Eg_W, population_grad(teacher, v, W)[1])} if record_cosine else {}
            history.record(t, loss=f, **extra)
            if progress is not None:
                progress(t, f)
        if done:
            history.stopped = "tolerance" if converged else "steps"
            break
        with np.errstate(over="ignore", invalid="ignore"):      # checked just below
            W -= lr * Eg_W
            if train_v:
                v -= lr * Eg_v
        check_iterates([W, v], driver="population_descent", step=t + 1, option="lr", value=lr)
    return v, W, history


def ts_sgd(Z, y_star, W0, v0, ste, staircase: Staircase, sgd: SGD, *, seed, train_v: bool = False,
           eval_data=None, progress: Callable | None = None):
    r"""Minibatch SGD on the teacher-student sample loss with stochastic coarse gradients.

    Each epoch visits the ``N`` training samples once in a random order, in batches of
    ``sgd.batch_size``; per batch ``u_W <- beta u_W + lr_t g_W``, ``W <- W - u_W`` with ``g_W`` from
    :func:`coarsegrad.nets.ts_coarse_grad` (``v`` likewise if ``train_v``).

    Parameters
    ----------
    Z : array_like, shape (N, p, n)
    y_star : array_like, shape (N, K)
        Teacher outputs on ``Z``.
    W0 : array_like, shape (n, K)
    v0 : array_like, shape (p,)
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
    staircase : Staircase
    sgd : SGD
        Step size, epochs, batch size, momentum, schedule.
    seed : int, SeedSequence or Generator
        Shuffling order.
    train_v : bool
    eval_data : tuple ``(Z_test, y_star_test)``, optional
        Held-out data: ``agreement`` with the teacher's labels ``argmax_k y*_k`` is recorded.
    progress : callable ``(epoch, record) -> None``, optional

    Returns
    -------
    v : ndarray, shape (p,)
    W : ndarray, shape (n, K)
    history : History
        Per epoch: ``loss`` (training loss), ``agreement`` (if ``eval_data``).
    """
    Z = as_float_array(Z, "Z", ndim=3, shape_doc="(N, p, n)")
    y_star = as_float_array(y_star, "y_star", ndim=2, shape_doc="(N, K)")
    W = as_float_array(W0, "W0", ndim=2, shape_doc="(n, K)").copy()
    v = as_float_array(v0, "v0", ndim=1, shape_doc="(p,)").copy()
    ste = get_ste(ste)
    sgd = _check_sgd(sgd)
    ts_forward(Z[:1], v, W, staircase)                   # validates the shapes and the staircase once
    if y_star.shape != (Z.shape[0], W.shape[1]):
        raise ValueError(f"y_star has shape {y_star.shape}; expected (N, K) = {(Z.shape[0], W.shape[1])}")
    if eval_data is not None:
        Z_test, y_test = _eval_pair(eval_data, "(Z_test, y_star_test)")
        Z_test = as_float_array(Z_test, "eval_data[0]", ndim=3, shape_doc="(N_test, p, n)")
        labels_test = np.argmax(as_float_array(y_test, "eval_data[1]", ndim=2, shape_doc="(N_test, K)"), axis=1)

    def grads(idx, out, scale):
        fwd = ts_forward(Z[idx], v, W, staircase, validate=False)
        _, e = ts_loss(fwd.y, y_star[idx], validate=False)
        e *= scale                 # the gradients are linear in e: scaling it scales them all
        g = ts_coarse_grad(Z[idx], v, fwd, e, ste, staircase, validate=False)
        for buf, part in zip(out, [g.W, g.v] if train_v else [g.W]):
            buf[...] = part

    def evaluate(epoch):
        fwd = ts_forward(Z, v, W, staircase, validate=False)
        record = {"loss": ts_loss(fwd.y, y_star, validate=False)[0]}
        if eval_data is not None:
            pred = np.argmax(ts_forward(Z_test, v, W, staircase, validate=False).y, axis=1)
            record["agreement"] = float(np.mean(pred == labels_test))
        return record

    params = [W, v] if train_v else [W]
    history = _sgd(params, grads, Z.shape[0], sgd, seed=seed, evaluate=evaluate, progress=progress)
    return v, W, history


def _check_sgd(sgd) -> SGD:
    if not isinstance(sgd, SGD):
        raise TypeError(f"sgd must be a coarsegrad.train.SGD(lr=..., epochs=..., batch_size=...); "
                        f"got {type(sgd).__name__}")
    return sgd


def _eval_pair(eval_data, what: str):
    if not (isinstance(eval_data, (tuple, list)) and len(eval_data) == 2):
        raise TypeError(f"eval_data must be a pair {what}; got {type(eval_data).__name__}"
                        + (f" of length {len(eval_data)}" if hasattr(eval_data, "__len__") else ""))
    return eval_data


# =========================================================================================
# Two-layer perceptron
# =========================================================================================

def mlp_train(x, labels, params0: MLPParams, ste, staircase: Staircase, sgd: SGD, *, seed,
              loss: str = "cross_entropy", freeze_second_layer: bool = False,
              activation: Callable | None = None, eval_data=None, train_metrics: str = "full",
              progress: Callable | None = None, learn_alpha=None, alpha_lr: float | None = None):
    r"""Train the quantized two-layer perceptron by minibatch SGD on coarse gradients.

    Per batch: forward (:func:`~coarsegrad.nets.mlp_forward`), loss and ``delta``
    (:func:`~coarsegrad.nets.mlp_loss`), coarse gradient
    (:func:`~coarsegrad.nets.mlp_coarse_grad`), then ``u <- beta u + lr_t g``, ``theta <- theta - u``.

    Parameters
    ----------
    x : array_like, shape (N, n)
    labels : array_like of int, shape (N,)
    params0 : MLPParams
        Initial weights (not modified).
    ste : str, STE, (name, mu, mu_prime) or (mu, mu_prime)
        The STE; with ``activation`` set, pass the matching derivative.
    staircase : Staircase
    sgd : SGD
        Step size, epochs, batch size, momentum and schedule. Weights (or a learned ``alpha``) that
        become non-finite or explode (beyond 1e150; float32: 1.8e15) raise ``FloatingPointError``
        naming the step size.
    seed : int, SeedSequence or Generator
        Shuffling order.
    loss : {"cross_entropy", "squared"}
    freeze_second_layer : bool
    activation : callable, optional
        Replaces ``sigma`` in the forward pass (e.g. ``lambda h: np.maximum(h, 0)`` for the
        float ReLU network; then pass ``ste="relu"`` for its exact gradient).
    eval_data : tuple ``(x_test, labels_test)``, optional
        Recorded as ``test_accuracy`` each epoch.
    train_metrics : {"full", "running"}
        ``full``: training loss and accuracy of the end-of-epoch weights on the whole training
        set (exact; one extra forward pass per epoch). ``running``: their means over the epoch's
        minibatches as they were trained on (free; what most training loops report).
    progress : callable ``(epoch, record) -> None``, optional
    learn_alpha : str or AlphaRule, optional
        Also learn the hidden layer's resolution ``alpha`` (starting at ``staircase.alpha``) with this
        rule for ``d sigma / d alpha`` (:mod:`coarsegrad.alpha`: ``ae``, ``pact``, ``min``, ``mean``):
        ``alpha`` is one more parameter of the same SGD (momentum and schedule), its coarse gradient
        :func:`~coarsegrad.nets.mlp_alpha_grad`, kept at least ``ALPHA_FLOOR`` (1e-3, as the authors' code).
    alpha_lr : float, optional
        Base step size of ``alpha`` (scheduled like ``sgd.lr``); default ``sgd.lr``.

    Returns
    -------
    params : MLPParams
    history : History
        Per epoch (0 = before training): ``loss``, ``accuracy`` (training set) and
        ``test_accuracy`` if ``eval_data``; ``alpha`` when it is learned (the final resolution is
        ``history["alpha"][-1]``).
    """
    x, params = _check_mlp(x, params0)
    labels = check_labels(labels, "labels", n_classes=params.V.shape[0], n_samples=x.shape[0])
    check_staircase(staircase)._alpha_in(x.dtype)
    ste = get_ste(ste)
    sgd = _check_sgd(sgd)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    if train_metrics not in ("full", "running"):
        raise ValueError(f"train_metrics must be 'full' or 'running'; got {train_metrics!r}")
    params = [np.array(a, copy=True) for a in params]
    rule = None
    if learn_alpha is not None:
        rule = get_alpha_rule(learn_alpha)
        if activation is not None:
            raise ValueError("learn_alpha needs the staircase in the forward pass; drop activation= (a custom "
                             "activation has no resolution to learn)")
        alpha_ratio = (sgd.lr if alpha_lr is None else check_real(alpha_lr, "alpha_lr", low=0.0)) / sgd.lr
        params.append(np.array([staircase.alpha]))              # trained by the same loop, as a 5th parameter

    epoch_now = [1]                                               # the epoch being trained (set by evaluate)

    def current_staircase():
        if rule is None:
            return staircase
        np.maximum(params[4], ALPHA_FLOOR, out=params[4])        # projected step: alpha stays positive
        # alpha diverges inside an epoch, before _sgd's end-of-epoch check: the same error, here
        check_iterates([params[4]], driver="training", step=epoch_now[0], option="the step size lr (and alpha_lr)",
                       value=sgd.lr, unit="epoch")
        return staircase.with_alpha(float(params[4][0]))
    if eval_data is not None:
        x_test, y_test = _eval_pair(eval_data, "(x_test, labels_test)")
        x_test, _ = _check_mlp(x_test, MLPParams(*params[:4]), x_name="eval_data[0]")
        y_test = check_labels(y_test, "eval_data[1]", n_classes=params[2].shape[0], n_samples=x_test.shape[0])

    x_batch = np.empty((min(sgd.batch_size, x.shape[0]),) + x.shape[1:], dtype=x.dtype)

    def grads(idx, out, scale):
        p = MLPParams(*params[:4])
        stair = current_staircase()
        xb, yb = np.take(x, idx, axis=0, out=x_batch[:len(idx)]), labels[idx]    # gathered into one buffer
        fwd = mlp_forward(xb, p, stair, activation=activation, validate=False)
        batch_loss, delta = mlp_loss(fwd.f, yb, loss, validate=False)
        running.append((batch_loss * len(idx), int(np.sum(np.argmax(fwd.f, axis=1) == yb))))
        delta *= scale             # the gradients are linear in delta: scaling it (N x K) scales them all
        mlp_coarse_grad(xb, p, fwd, delta, ste, stair, freeze_second_layer=freeze_second_layer,
                        validate=False, out=MLPParams(*out[:4]))
        if rule is not None:
            out[4][0] = alpha_ratio * mlp_alpha_grad(fwd, p, delta, rule, stair, validate=False)

    running = []

    def evaluate(epoch):
        epoch_now[0] = epoch + 1                                  # the batches after this record train epoch + 1
        p = MLPParams(*params[:4])
        stair = current_staircase()
        if train_metrics == "running" and running:
            totals = np.sum(running, axis=0)
            record = {"loss": float(totals[0] / x.shape[0]), "accuracy": float(totals[1] / x.shape[0])}
        else:
            f = _batched_logits(x, p, stair, activation)
            record = {"loss": mlp_loss(f, labels, loss, validate=False)[0],
                      "accuracy": float(np.mean(np.argmax(f, axis=1) == labels))}
        running.clear()
        if eval_data is not None:
            record["test_accuracy"] = float(np.mean(
                np.argmax(_batched_logits(x_test, p, stair, activation), axis=1) == y_test))
        if rule is not None:
            record["alpha"] = stair.alpha
        return record

    history = _sgd(params, grads, x.shape[0], sgd, seed=seed, evaluate=evaluate, progress=progress)
    return MLPParams(*params[:4]), history


def _batched_logits(x, params, staircase, activation, batch: int = 4096) -> np.ndarray:
    """Logits of a large data set in slices (bounded memory)."""
    return np.concatenate([mlp_forward(x[i:i + batch], params, staircase, activation=activation,
                                       validate=False).f for i in range(0, x.shape[0], batch)])


# =========================================================================================
# The shared SGD loop
# =========================================================================================

def _sgd(params: list, grads: Callable, n_samples: int, sgd: SGD, *, seed, evaluate: Callable,
         progress: Callable | None) -> History:
    """Minibatch SGD with heavy-ball momentum, updating the arrays in ``params`` in place."""
    rng = make_rng(seed)
    momentum = sgd.momentum
    # grads(idx, out, scale) writes scale * gradient into out: buffers reused every step, and the step
    # size applied to the small dl/df instead of the large gradients. The velocity is kept scaled by
    # the step size (Sutskever et al. 2013):
    # u <- beta u + lr_t g, theta <- theta - u; with a constant lr this is exactly m <- beta m + g,
    # theta <- theta - lr m.
    grad_buffers = [np.empty_like(p) for p in params]
    velocity = [np.zeros_like(p) for p in params] if momentum else None
    history = History()
    record = evaluate(0)
    history.record(0, **record)
    if progress is not None:
        progress(0, record)
    for epoch in range(sgd.epochs):
        step = sgd.learning_rate(epoch)
        order = rng.permutation(n_samples)
        with np.errstate(over="ignore", invalid="ignore"):    # divergence is caught below, with a clear message
            for start in range(0, n_samples, sgd.batch_size):
                idx = order[start:start + sgd.batch_size]
                grads(idx, grad_buffers, step)                # lr_t g
                for i, (p, g) in enumerate(zip(params, grad_buffers)):
                    if momentum:
                        u = velocity[i]
                        u *= momentum
                        u += g                                # u <- beta u + lr_t g
                        g = u
                    p -= g
        check_iterates(params, driver="training", step=epoch + 1, option="the step size lr", value=sgd.lr,
                       unit="epoch")
        record = evaluate(epoch + 1)
        if not np.isfinite(record["loss"]):
            raise FloatingPointError(f"training diverged in epoch {epoch + 1} (loss = {record['loss']}); "
                                     f"lower the step size (now lr = {sgd.lr})")
        history.record(epoch + 1, **record)
        if progress is not None:
            progress(epoch + 1, record)
    history.stopped = "epochs"
    return history


# =========================================================================================
# Sweeps on any executor
# =========================================================================================

#: BLAS thread variables set to :data:`~coarsegrad.provenance.RUN_BLAS_THREADS` (1) in worker
#: processes: a pool of N processes each running multithreaded BLAS on N cores oversubscribes them
#: (measured: 2.4x slower on 2 cores). Runs in this process get the same count through
#: :func:`_run_here`, so a run's numbers do not depend on where it ran (docs/testing.md).
_BLAS_THREAD_VARS = BLAS_THREAD_VARS

#: Seconds a fresh pool costs before it computes (interpreters, numpy, coarsegrad and matplotlib
#: imports in each worker): measured 2.6 s on an idle 2-core machine, 3.8-4.6 s on a loaded one.
#: With P workers the remaining R runs of t seconds take ``start + R t / P`` instead of ``R t``.
POOL_START_SECONDS = 3.0


def _pool_pays(seconds_per_run: float, remaining: int, workers: int) -> bool:
    """Whether a fresh pool of ``workers`` beats running ``remaining`` runs here: ``R t (1 - 1/P) > start``."""
    workers = min(workers, remaining)
    return workers > 1 and seconds_per_run * remaining * (1 - 1 / workers) > POOL_START_SECONDS


def _run_here(fn: Callable, task):
    """``fn(task)`` in this process with the BLAS threads of a worker (:data:`RUN_BLAS_THREADS`).

    Why: OpenBLAS rounds differently with 1 and 2 threads (measured with OpenBLAS 0.3.31, Haswell
    kernel: float32 GEMM of MNIST's shapes differs by a few ulps, float64 dot/GEMV of long vectors
    too), and a training run amplifies it (MNIST's accuracies moved by up to 0.45 points between a
    run here and one in a worker). Fixing the count per run makes ``--workers`` irrelevant to the
    numbers. Needs threadpoolctl; without it this process keeps its own count (see
    :func:`coarsegrad.provenance.blas_threads`).
    """
    with blas_threads(RUN_BLAS_THREADS):
        return fn(task)


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the process that made the pool is gone.

    A pool's workers otherwise outlive a parent killed outright (``SIGKILL``, OOM killer), finishing
    long runs nobody will read while holding the parent's pipes. A daemon thread polls the parent
    pid (portable; ``PR_SET_PDEATHSIG`` would fire when the *thread* that spawned the worker ends).
    """
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    if os.getppid() != parent:        # the parent died while this worker was starting
        os._exit(1)
    threading.Thread(target=watch, name="coarsegrad-parent-watch", daemon=True).start()


def process_pool(workers: int | None = None):
    """A ``ProcessPoolExecutor`` whose workers start fresh ("spawn") with single-threaded BLAS
    (:data:`~coarsegrad.provenance.RUN_BLAS_THREADS`, set in their environment before they import
    NumPy) and exit by themselves when this process dies (even by ``SIGKILL``).

    Parameters
    ----------
    workers : int, optional
        Number of processes; default every core (``os.cpu_count()``).

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        Use it as a context manager, or call ``shutdown()``.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    workers = (os.cpu_count() or 1) if workers is None else check_positive_int(workers, "workers")
    if workers > 4 * (os.cpu_count() or 1) + 60:
        raise ValueError(f"workers = {workers} processes on {os.cpu_count()} cores would only compete for them; "
                         f"use at most {4 * (os.cpu_count() or 1) + 60} (one per core is fastest)")
    saved = {k: os.environ.get(k) for k in _BLAS_THREAD_VARS}
    os.environ.update({k: str(RUN_BLAS_THREADS) for k in _BLAS_THREAD_VARS})
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_watch_parent, initargs=(os.getpid(),))
        pool.submit(int, 0).result()          # start the workers now, while the variables are set
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return pool


def run_sweep(fn: Callable, tasks, *, executor=None, workers: int | None = None) -> list:
    """``[fn(task) for task in tasks]``, run on an executor, results in the order of ``tasks``.

    Parameters
    ----------
    fn : callable
        A function defined at the top level of a module (process and cluster executors pickle it by
        name: a lambda or a function defined inside another cannot be sent). In a script, call
        ``run_sweep`` under ``if __name__ == "__main__":`` -- the workers start fresh and import
        the script, which would otherwise start the sweep again in every worker.
    tasks : iterable
        Its arguments, one per run (e.g. dicts of seed, STE and bit-width).
    executor : concurrent.futures.Executor, optional
        Any executor with ``map``: a ``ProcessPoolExecutor``, a ``ThreadPoolExecutor``, or
        ``dask.distributed.Client(...).get_executor()`` for sweeps that outgrow one machine.
    workers : int, optional
        Processes of the pool made here when no ``executor`` is given. ``workers=1`` runs in this
        process. By default the pool is sized from the work: the first task runs here and is
        timed; if a pool would not win back its start-up (:data:`POOL_START_SECONDS`) on the rest,
        they run here too, otherwise a :func:`process_pool` of ``min(cores, remaining tasks)``
        processes runs them.

    Returns
    -------
    list
        ``fn(task)`` for each task, in order; every run gets exactly its task and, here or in a
        :func:`process_pool` worker, :data:`~coarsegrad.provenance.RUN_BLAS_THREADS` BLAS threads
        (with threadpoolctl installed), so results do not depend on ``workers``: bit for bit.
        A given ``executor`` runs ``fn`` with whatever BLAS threads its processes have.
    """
    import time
    tasks = list(tasks)
    if executor is not None:
        return list(executor.map(fn, tasks))
    if workers is not None:
        workers = check_positive_int(workers, "workers")
    if workers == 1 or len(tasks) <= 1:
        return [_run_here(fn, task) for task in tasks]
    results = []
    if workers is None:
        start = time.perf_counter()
        results.append(_run_here(fn, tasks[0]))
        workers = os.cpu_count() or 1
        if not _pool_pays(time.perf_counter() - start, len(tasks) - 1, workers):
            return results + [_run_here(fn, task) for task in tasks[1:]]
    rest = tasks[len(results):]
    workers = min(workers, len(rest))
    if workers == 1:
        return results + [_run_here(fn, task) for task in rest]
    with process_pool(workers) as pool:
        return results + list(pool.map(fn, rest))
