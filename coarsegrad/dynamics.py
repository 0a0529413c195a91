r"""The companion paper's weight-evolution quantities, computed from a :func:`~coarsegrad.subspaces.subspace_descent` run.

Long, Yin, Xin (IPI 2021, arXiv 2002.12563) describe the training of a ReLU network on data in
orthogonal subspaces as "a slow phase of weight **direction spreading**" followed by "a fast phase
of weight **convergence**", the switch happening once "the convex hull of the weights projected on
the unit sphere contains the origin" (the step ``t*`` of :mod:`coarsegrad.subspaces`). This module
measures those quantities, per class, so that the statement can be tested (claim 12; docs/findings.md,
S5; docs/theory.md §8).

**Per class.** A class-``k`` input is ``x = U_k z``, so class ``k``'s samples see only the block
``B_k = W U_k`` (every neuron projected on ``V_k``, shape ``(K N, d_k)``), and the coarse gradient of
a class-``k`` sample, ``G^T x``, changes ``W`` only along ``V_k``: **the block ``B_k`` evolves from
class ``k``'s samples alone** (docs/theory.md §7.1). The ``K`` classes are ``K`` independent
descents run side by side; everything below is per class, on its block. With the hinge loss a
class's block stops moving for good at the first step where its own loss is 0 (``delta = 0`` on
its samples): that step ``T_k`` is the class's end, and ``B_k(T_k)`` its exact limit.

Per step ``t`` (from ``t`` to ``t + 1``) and class ``k``, with ``u_{j,t} = U_k^T w_{k,j,t}`` the own
projections (``j = 1..N``):

- ``angular_speed``: mean over ``j`` of the angle between ``u_{j,t}`` and ``u_{j,t+1}`` (radians; computed
  as ``2 atan2(|a - b|, |a + b|)`` of the unit vectors, accurate at small and large angles);
- ``angular_speed_whole``: the same for the whole vectors ``w_{k,j}`` in ``R^d``;
- ``log_norm_change``: mean over ``j`` of ``log |u_{j,t+1}| - log |u_{j,t}|``;
- ``rel_loss_decrease``: ``(l_t - l_{t+1}) / l_t`` with ``l_t`` the mean loss of class ``k``'s samples
  (scale-free; NaN where ``l_t = 0``);
- ``distance``: ``|u_t - u_ref|_F`` over the own projections (``(N, d_k)``), at every step ``t``;
  the reference is the class's limit ``B_k(T_k)`` when its hinge loss reached 0 (windows then end
  at ``T_k - 1`` at the latest), and otherwise the last iterate, in which case only steps up to half
  the run are used (``horizon``): a window must
  end well before the reference, or the distance's fall to 0 *at* the reference (the endpoint bias)
  passes for convergence.

**Windows.** The ratio after/before of a quantity at a split step ``s`` uses two windows of equal
length ``w`` -- ``[s - w, s)`` and ``[s, s + w)`` -- with ``w = floor(fraction * min(s, horizon - s))``
(``fraction = 1`` the longest equal windows that fit). Per-step quantities are averaged over each
window; the distance gives a *convergence rate* ``(log d_a - log d_b) / w`` over each window
``[a, b]``. :func:`window_ratios` returns them for any split, so the same code measures ``t*`` and
its controls (classes covered at initialization split at a matched fraction, random splits).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import check_real
from .quant import Staircase
from .subspaces import SubspaceData, SubspaceRun, covered, group_indicator

__all__ = ["ClassDynamics", "weight_history", "unit_angle", "class_dynamics", "equal_windows", "window_ratios",
           "RATIO_KEYS", "control_trend", "relative_ratio", "event_statistics"]

#: The quantities :func:`window_ratios` compares after / before a split.
RATIO_KEYS = ("angular_speed", "angular_speed_whole", "convergence_rate", "rel_loss_decrease", "loss_rate",
              "weight_speed")


@dataclass
class ClassDynamics:
    """The weight evolution of one class (see the module docstring for every quantity).

    Attributes
    ----------
    k : int
        The class.
    t_star : int or None
        First step at which class ``k``'s own projections cover ``V_k`` (step resolution); ``0`` when
        covered at initialization, ``None`` if never within the run.
    end : int
        ``T_k``: first step with class-``k`` hinge loss exactly 0, else the run's last step.
    converged : bool
        Whether ``end`` is a zero-loss step (then ``distance`` is to the exact limit).
    horizon : int
        Last step a window may reach: ``end - 1`` when converged (the distance to the limit is 0 at
        ``end``), else ``end // 2``.
    loss : ndarray, shape (end + 1,)
        Mean loss of class ``k``'s samples at each step.
    distance : ndarray, shape (end + 1,)
    angular_speed, angular_speed_whole, log_norm_change, rel_loss_decrease, weight_speed : ndarray, shape (end,)
        Per step ``t -> t + 1``; ``weight_speed`` is ``|B_k(t+1) - B_k(t)|_F`` (all neurons on ``V_k``).
    """

    k: int
    t_star: int | None
    end: int
    converged: bool
    horizon: int
    loss: np.ndarray
    distance: np.ndarray
    angular_speed: np.ndarray
    angular_speed_whole: np.ndarray
    log_norm_change: np.ndarray
    rel_loss_decrease: np.ndarray
    weight_speed: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def log_distance_decrease(self) -> np.ndarray:
        """Per step ``log d_t - log d_{t+1}`` (the convergence rate at step resolution), shape ``(end,)``;
        NaN on the last step of a converged class (``d_end = 0``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -np.diff(np.log(self.distance))
        return np.where(np.isfinite(out), out, np.nan)


def weight_history(run: SubspaceRun) -> np.ndarray:
    """``W`` at every step ``0..run.steps``, stacked: shape ``(run.steps + 1, K N, d)``.

    The run must have been made with ``keep_weights=range(steps + 1)`` (every step kept).
    """
    if not isinstance(run, SubspaceRun):
        raise TypeError(f"run must be a SubspaceRun from subspace_descent(...); got {type(run).__name__}")
    T = run.steps
    missing = [t for t in range(T + 1) if t not in run.weights]
    if missing:
        raise ValueError(f"run kept W at {len(run.weights)} of its {T + 1} steps (first missing: {missing[0]}); "
                         f"call subspace_descent(..., keep_weights=range(steps + 1))")
    return np.stack([run.weights[t] for t in range(T + 1)])


def unit_angle(a, b) -> np.ndarray:
    r"""Angle between the rows of ``a`` and ``b`` (last axis), in ``[0, pi]``; NaN for a zero row.

    ``2 atan2(|a^ - b^|, |a^ + b^|)`` of the unit vectors: exact to rounding at every angle, where
    ``arccos(a^ . b^)`` loses half the digits near 0 and ``pi``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ua = a / np.linalg.norm(a, axis=-1, keepdims=True)
        ub = b / np.linalg.norm(b, axis=-1, keepdims=True)
        return 2 * np.arctan2(np.linalg.norm(ua - ub, axis=-1), np.linalg.norm(ua + ub, axis=-1))


def _sample_losses(f, labels, loss, margin):
    """Per-sample loss of logits ``f`` (..., n, K): the summands of :func:`coarsegrad.nets.mlp_loss`'s batch
    mean, for every step at once (tests/test_dynamics.py checks them against ``mlp_loss``)."""
    n = labels.shape[0]
    own = np.take_along_axis(f, np.broadcast_to(labels[:, None], f.shape[:-1] + (1,)), axis=-1)   # (..., n, 1)
    onehot = np.zeros(f.shape[-2:])
    onehot[np.arange(n), labels] = 1
    if loss == "hinge":
        gap = np.where(onehot == 1, 0.0, margin - own + f)
        return np.sum(np.where(gap > 0, gap, 0.0), axis=-1)
    if loss == "squared":
        return 0.5 * np.sum((f - onehot) ** 2, axis=-1)
    top = np.max(f, axis=-1, keepdims=True)
    return (np.log(np.sum(np.exp(f - top), axis=-1)) + top[..., 0]) - own[..., 0]


def _class_losses(data, Ws, staircase, loss, margin, activation, V):
    """Mean loss of each class's samples at each step: shape (T + 1, K)."""
    h = np.stack([data.x @ W.T for W in Ws])          # (T + 1, n, K N); as the descent computes it, bit for bit
    s = staircase(h) if activation is None else np.asarray(activation(h))
    per = _sample_losses(s @ V.T, data.labels, loss, margin)            # (T + 1, n)
    return np.stack([per[:, data.labels == k].mean(axis=1) for k in range(data.K)], axis=1)


def class_dynamics(run: SubspaceRun, data: SubspaceData, *, activation=None, V=None) -> list:
    """Per-class weight-evolution quantities of a :func:`~coarsegrad.subspaces.subspace_descent` run.

    Parameters
    ----------
    run : SubspaceRun
        Made with ``keep_weights=range(steps + 1)``.
    data : SubspaceData
        The data it was trained on (the bases ``U_k`` and the samples).
    activation : callable, optional
        The forward activation the run used (``None``: the staircase in ``run.settings``).
    V : array_like, optional
        The fixed second layer (default :func:`~coarsegrad.subspaces.group_indicator`, what
        ``subspace_init`` makes).

    Returns
    -------
    list of K :class:`ClassDynamics`
    """
    if not isinstance(data, SubspaceData):
        raise TypeError(f"data must be a SubspaceData from orthogonal_subspaces(...); got {type(data).__name__}")
    Ws = weight_history(run)                                           # (T + 1, K N, d)
    s = run.settings
    K, N = s["K"], s["N"]
    if data.K != K or Ws.shape[2] != data.x.shape[1]:
        raise ValueError(f"data (K = {data.K}, d = {data.x.shape[1]}) is not the data of this run "
                         f"(K = {K}, d = {Ws.shape[2]}); pass the SubspaceData the run was trained on")
    st = s["staircase"]
    staircase = Staircase(st["bits"], st["alpha"], st["convention"])
    V = group_indicator(K, N) if V is None else np.asarray(V, dtype=np.float64)
    losses = _class_losses(data, Ws, staircase, s["loss"], s["margin"], activation, V)
    T = Ws.shape[0] - 1
    out = []
    for k, U in enumerate(data.bases):
        B = Ws @ U                                                     # (T + 1, K N, d_k): class k's block
        own = B[:, k * N:(k + 1) * N]                                  # (T + 1, N, d_k)
        whole = Ws[:, k * N:(k + 1) * N]
        lk = losses[:, k]
        zero = np.flatnonzero(lk == 0.0) if s["loss"] == "hinge" else np.array([], dtype=int)
        converged = zero.size > 0
        end = int(zero[0]) if converged else T
        horizon = end - 1 if converged else end // 2            # the distance is 0 at a converged end
        t_star = None
        for t in range(end + 1):                                       # coverage only until the first covered step
            if covered(own[t], method="auto").covered:
                t_star = t
                break
        ref = own[end]
        distance = np.linalg.norm((own[:end + 1] - ref).reshape(end + 1, -1), axis=1)
        norms = np.linalg.norm(own[:end + 1], axis=2)                 # (end + 1, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_norm = np.mean(np.diff(np.log(norms), axis=0), axis=1)
            rel = (lk[:end] - lk[1:end + 1]) / lk[:end]
        rel = np.where(lk[:end] > 0, rel, np.nan)
        out.append(ClassDynamics(
            k=k, t_star=t_star, end=end, converged=converged, horizon=horizon, loss=lk[:end + 1].copy(),
            distance=distance,
            angular_speed=np.mean(unit_angle(own[:end], own[1:end + 1]), axis=1),
            angular_speed_whole=np.mean(unit_angle(whole[:end], whole[1:end + 1]), axis=1),
            log_norm_change=log_norm, rel_loss_decrease=rel,
            weight_speed=np.linalg.norm(np.diff(B[:end + 1], axis=0).reshape(end, -1), axis=1)))
    return out


def equal_windows(split: int, horizon: int, fraction: float = 1.0) -> int:
    """Length ``w`` of the two equal windows ``[split - w, split)`` and ``[split, split + w)``.

    ``w = floor(fraction * min(split, horizon - split))``; 0 when no window fits (``split <= 0`` or
    ``split >= horizon``).
    """
    fraction = check_real(fraction, "fraction", low=0.0, high=1.0, low_open=True)
    room = min(int(split), int(horizon) - int(split))
    return max(int(np.floor(fraction * room)), 0)


def window_ratios(dyn: ClassDynamics, split: int, *, fraction: float = 1.0) -> dict:
    """After / before ratios at ``split`` over equal windows (see the module docstring).

    Returns
    -------
    dict
        ``window`` (its length ``w``, 0 when none fits: then every ratio is NaN), and for each key
        of :data:`RATIO_KEYS` the ratio ``after / before``:

        - ``angular_speed``, ``angular_speed_whole``, ``rel_loss_decrease``, ``weight_speed``: window means;
        - ``convergence_rate``: ``log d(s - w) - log d(s)`` against ``log d(s) - log d(s + w)``;
        - ``loss_rate``: ``l(s - w) - l(s)`` against ``l(s) - l(s + w)`` (absolute loss decrease).

        A ratio is NaN (or +-inf) when its "before" is 0 or undefined: callers must fold with NumPy.
    """
    w = equal_windows(split, dyn.horizon, fraction)
    out = {"window": w}
    if w < 1:
        return {**out, **{k: float("nan") for k in RATIO_KEYS}}
    b, a = slice(split - w, split), slice(split, split + w)
    with np.errstate(divide="ignore", invalid="ignore"):
        for key in ("angular_speed", "angular_speed_whole", "rel_loss_decrease", "weight_speed"):
            x = getattr(dyn, key)
            out[key] = float(np.mean(x[a]) / np.mean(x[b]))
        logd = np.log(dyn.distance)
        out["convergence_rate"] = float((logd[split] - logd[split + w]) / (logd[split - w] - logd[split]))
        L = dyn.loss
        out["loss_rate"] = float((L[split] - L[split + w]) / (L[split - w] - L[split]))
    return out


def control_trend(classes, key: str = "angular_speed") -> np.ndarray:
    """Per step, the median of ``key`` over the *control* class-runs (covered at initialization,
    ``t_star == 0``) still moving at that step; NaN where none is. Shape ``(max end,)``.

    The time trend of a quantity in a descent with no coverage event: dividing an uncovered class's
    quantity by it removes what every descent does (e.g. turn less and less), leaving what coverage does.
    """
    ctl = [c for c in classes if c.t_star == 0]
    T = max((c.end for c in classes), default=0)
    A = np.full((len(ctl), T), np.nan)
    for i, c in enumerate(ctl):
        A[i, :c.end] = getattr(c, key)
    if not ctl or T == 0:
        return np.full(T, np.nan)
    with np.errstate(invalid="ignore"):
        alive = np.any(np.isfinite(A), axis=0)
        out = np.full(T, np.nan)
        out[alive] = np.nanmedian(A[:, alive], axis=0)
    return out


def relative_ratio(dyn: ClassDynamics, trend: np.ndarray, split: int, *, key: str = "angular_speed",
                   fraction: float = 1.0) -> float:
    """After / before ratio at ``split`` of ``key`` divided step by step by the control ``trend``.

    Equal windows as :func:`window_ratios`; window means skip steps where the trend is undefined
    (NaN when a whole window is). > 1: relative to a class with no coverage event at the same steps,
    the quantity is larger after the split than before.
    """
    w = equal_windows(split, dyn.horizon, fraction)
    if w < 1:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        x = getattr(dyn, key) / trend[:dyn.end]
        after, before = x[split:split + w], x[split - w:split]
        if not (np.any(np.isfinite(after)) and np.any(np.isfinite(before))):
            return float("nan")
        return float(np.nanmean(after) / np.nanmean(before))


def event_statistics(classes, rng, *, splits=None, fraction: float = 1.0, n_random: int = 20,
                     key: str = "angular_speed", null: str = "position") -> dict:
    r"""Is ``t*`` special? The relative ratio at the event against random splits of the same class-run.

    For each *event* class-run (``0 < t_star < horizon``: uncovered at initialization, covered
    within the run) the relative ratio of ``key`` (:func:`relative_ratio`, against the trend of the
    control class-runs) at its ``t*`` is compared with the relative ratios at ``n_random`` split steps
    *at the same relative position*: ``round(f end)``, ``f`` drawn from the other events' ``t*/end``
    (a uniform step would be a weaker null: the relative ratio depends on where in the run it is
    taken, and ``t*`` comes early -- docs/findings.md, S5). A one-sided sign test over the
    event class-runs (``wins``: the ratio at ``t*`` is the larger) gives
    ``z = (wins - n/2) / sqrt(n/4)``: if ``t*`` were an arbitrary step at its relative position,
    ``wins`` would be about ``Binomial(n, 1/2)`` and ``z`` about ``N(0, 1)``.

    Parameters
    ----------
    classes : list of ClassDynamics
        Every class-run of one setting (event and control ones).
    rng : Generator
    splits : sequence of int, optional
        One split per event class-run in place of ``t*`` (the negative controls: shuffled ``t*``,
        a random event).
    fraction : float
        Window length, as in :func:`equal_windows`.
    n_random : int
    key : str
        A per-step attribute of :class:`ClassDynamics`.
    null : {"position", "uniform"}
        Random split steps at the events' relative positions (default), or uniform in ``[1, horizon)``
        (the weaker null, kept to show the difference).

    Returns
    -------
    dict
        ``n_events``, ``n_controls``, ``n`` (class-runs with finite ratios), ``wins``, ``z`` (sign test),
        ``z_rank`` (the mean percentile of the event's ratio among its class-run's random splits, against 1/2
        with variance ``1 / (12 n)``: uses more of the data than the sign test), ``ratio_at_event`` (list),
        ``ratio_random`` (list of medians), and the medians of both.
    """
    if null not in ("position", "uniform"):
        raise ValueError(f"null must be 'position' or 'uniform'; got {null!r}")
    events = [c for c in classes if c.t_star is not None and 0 < c.t_star < c.horizon]
    trend = control_trend(classes, key)
    if splits is None:
        splits = [c.t_star for c in events]
    if len(splits) != len(events):
        raise ValueError(f"splits must give one step per event class-run ({len(events)}); got {len(splits)}")
    at, rand, pct = [], [], []
    fractions = np.array([c.t_star / c.end for c in events], dtype=np.float64)
    for i, (c, s) in enumerate(zip(events, splits)):
        a = relative_ratio(c, trend, int(s), key=key, fraction=fraction)
        # the null: a step at the same relative position as the events' t* (another event's t*/end), so
        # that what depends on the position in the run alone is not read as an effect of coverage
        others = np.delete(fractions, i) if fractions.size > 1 else fractions
        if null == "position":
            steps = np.clip(np.rint(rng.choice(others, n_random) * c.end), 1, c.horizon - 1).astype(int)
        else:
            steps = rng.integers(1, c.horizon, n_random)
        r = np.array([relative_ratio(c, trend, int(t), key=key, fraction=fraction) for t in steps])
        r = r[np.isfinite(r)]
        at.append(a)
        rand.append(float(np.median(r)) if r.size else float("nan"))
        pct.append(float((np.sum(r < a) + 0.5 * np.sum(r == a)) / r.size) if r.size and np.isfinite(a) else float("nan"))
    at, rand, pct = (np.asarray(v, dtype=np.float64) for v in (at, rand, pct))
    ok = np.isfinite(at) & np.isfinite(rand)
    n = int(np.sum(ok))
    wins = int(np.sum(at[ok] > rand[ok]))
    z = (wins - n / 2) / np.sqrt(n / 4) if n else float("nan")
    # percentile of the event among the random splits: about uniform (mean 1/2, variance 1/12) under the null
    z_rank = float((np.mean(pct[ok]) - 0.5) / np.sqrt(1 / (12 * n))) if n else float("nan")
    return dict(n_events=len(events), n_controls=sum(c.t_star == 0 for c in classes), n=n, wins=wins, z=float(z),
                z_rank=z_rank,
                effect=float(np.median(at[ok] / rand[ok])) if n else float("nan"),
                ratio_at_event=at.tolist(), ratio_random=rand.tolist(),
                median_at_event=float(np.nanmedian(at)) if n else float("nan"),
                median_random=float(np.nanmedian(rand)) if n else float("nan"))
