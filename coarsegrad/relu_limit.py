r"""The ReLU limit of the coarse gradient (issue 18 item 4; docs/theory.md §9).

As ``alpha -> 0`` with the top ``T = L alpha`` held fixed (``bits -> infinity``), the staircase tends
to the clipped ReLU ``c(z) = min(max(z, 0), T)``: ``0 <= sigma(z) - c(z) < alpha`` (``ceil``) and
``|sigma(z) - c(z)| <= alpha / 2`` (``round``, where ``sigma = alpha round(c / alpha)``). The clipped-relu
STE's ``mu' = 1{0 < z <= T}`` is ``c'`` almost everywhere, so the coarse gradient of the staircase
network *is* the chain rule of the clipped-ReLU network with only the forward values changed. Hence
(docs/theory.md §9):

- **sample** (a fixed batch): ``|g - grad l_c| = O(alpha)`` for both conventions -- the forward
  error at a fixed point is of the order of ``alpha`` and does not average out;
- **population** (``E g`` against ``grad f_c``): ``O(alpha)`` for ``ceil`` (its error has mean
  ``alpha / 2`` on every step) and ``O(alpha^2)`` for ``round`` (a sawtooth of mean 0 integrated
  against a smooth Gaussian density; the two half-steps at 0 and ``T`` contribute ``O(alpha^2)`` too).

With the relu STE in place of the clipped one the coarse gradient keeps the part ``z > T``, which
the clipped network's gradient does not have: it does not converge (the negative control of claim 14).

What is here: the clipped ReLU and its network's exact gradients -- sample (:func:`ts_limit_grad`,
:func:`mlp_limit_grad`) and population (:func:`limit_population_grad`, :func:`limit_population_loss`
for the teacher-student model, computed independently of :mod:`coarsegrad.population` by one-dimensional
Gauss-Legendre quadrature of closed forms) -- the gaps of the coarse gradient to them, and
:func:`fit_order`.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ._checks import as_float_array
from .nets import MLPParams, mlp_coarse_grad, mlp_forward, mlp_loss, ts_coarse_grad, ts_forward, ts_loss
from .population import Teacher, expected_coarse_grad
from .quant import Staircase
from .ste import check_staircase

__all__ = ["clipped_relu", "limit_activation", "ts_limit_grad", "mlp_limit_grad", "ts_sample_gap", "mlp_sample_gap",
           "limit_population_moments", "limit_population_loss", "limit_population_grad", "population_gap", "fit_order",
           "DERIVED_ORDER", "limit_staircases"]

#: The order ``p`` in ``|coarse - limit| = O(alpha^p)`` derived in docs/theory.md §9.
DERIVED_ORDER = {("sample", "ceil"): 1, ("sample", "round"): 1, ("population", "ceil"): 1, ("population", "round"): 2}

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(96)
_PHI0 = 1 / np.sqrt(2 * np.pi)


def _phi(x):
    return np.exp(-0.5 * np.square(x)) * _PHI0


def clipped_relu(z, top: float) -> np.ndarray:
    """``c(z) = min(max(z, 0), top)``."""
    return np.clip(z, 0.0, top)


def limit_activation(staircase: Staircase):
    """The clipped ReLU with the staircase's top ``L alpha``, as a forward ``activation=`` callable."""
    top = check_staircase(staircase).top
    return lambda h: np.clip(h, 0.0, top)


def limit_staircases(top: float, bits, convention: str = "ceil") -> list:
    """Staircases with the same top ``T``: ``alpha = T / (2^bits - 1)`` for each bit-width."""
    return [Staircase(int(b), top / (2**int(b) - 1), convention) for b in bits]


# =========================================================================================
# Sample gradients
# =========================================================================================

def ts_limit_grad(Z, v, W, v_star, W_star, top: float) -> np.ndarray:
    """Exact gradient in ``W`` of the teacher-student loss with ``c`` for ``sigma`` (teacher and student)."""
    st = Staircase(1, float(top))                       # only its top is used: mu' = c' = 1{0 < z <= T}
    act = limit_activation(st)
    y_star = ts_forward(Z, v_star, W_star, st, activation=act).y
    fwd = ts_forward(Z, v, W, st, activation=act)
    _, e = ts_loss(fwd.y, y_star)
    return ts_coarse_grad(Z, v, fwd, e, "clipped_relu", st).W


def ts_sample_gap(Z, v, W, v_star, W_star, staircase: Staircase, ste="clipped_relu") -> float:
    """``|g - grad l_c| / |grad l_c|``: the sample coarse gradient in ``W`` of the staircase network
    (teacher with the same staircase) against the exact gradient of the clipped-ReLU network."""
    staircase = check_staircase(staircase)
    y_star = ts_forward(Z, v_star, W_star, staircase).y
    fwd = ts_forward(Z, v, W, staircase)
    _, e = ts_loss(fwd.y, y_star)
    g = ts_coarse_grad(Z, v, fwd, e, ste, staircase).W
    ref = ts_limit_grad(Z, v, W, v_star, W_star, staircase.top)
    return float(np.linalg.norm(g - ref) / np.linalg.norm(ref))


def mlp_limit_grad(x, labels, params: MLPParams, top: float, loss: str = "cross_entropy") -> MLPParams:
    """Exact gradient (every parameter) of the perceptron with ``c`` for ``sigma``."""
    st = Staircase(1, float(top))
    fwd = mlp_forward(x, params, st, activation=limit_activation(st))
    _, delta = mlp_loss(fwd.f, labels, loss)
    return mlp_coarse_grad(x, params, fwd, delta, "clipped_relu", st)


def mlp_sample_gap(x, labels, params: MLPParams, staircase: Staircase, ste="clipped_relu",
                   loss: str = "cross_entropy") -> float:
    """Relative gap of the perceptron's coarse gradient (all parameters) to the clipped-ReLU network's gradient."""
    staircase = check_staircase(staircase)
    fwd = mlp_forward(x, params, staircase)
    _, delta = mlp_loss(fwd.f, labels, loss)
    g = mlp_coarse_grad(x, params, fwd, delta, ste, staircase)
    ref = mlp_limit_grad(x, labels, params, staircase.top, loss)
    flat = lambda p: np.concatenate([np.ravel(a) for a in p])
    return float(np.linalg.norm(flat(g) - flat(ref)) / np.linalg.norm(flat(ref)))


# =========================================================================================
# Population: the clipped-ReLU teacher-student network, exactly
# =========================================================================================

def _clip_mean(a, b, T):
    """``E c(a + b V)`` and ``P(0 < a + b V < T)`` for ``V ~ N(0, 1)``, ``b >= 0`` (broadcast)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = -a / b, (T - a) / b
        inside = ndtr(hi) - ndtr(lo)
        mean = a * inside + b * (_phi(lo) - _phi(hi)) + T * ndtr(-hi)
    point = b == 0                                      # a point mass at a
    mean = np.where(point, np.clip(a, 0, T), mean)
    inside = np.where(point, ((a > 0) & (a < T)).astype(np.float64), inside)
    return mean, inside


def _geometry(W, W_star):
    r = np.linalg.norm(W, axis=0)
    r_star = np.linalg.norm(W_star, axis=0)
    if np.any(r == 0) or np.any(r_star == 0):
        raise ValueError("every column of W and of the teacher's W* must be non-zero for the clipped-ReLU "
                         "population formulas; move w_k off 0")
    w_hat = W / r
    rho = np.clip(np.sum(w_hat * W_star, axis=0) / r_star, -1.0, 1.0)
    perp = W_star / r_star - rho * w_hat
    s = np.linalg.norm(perp, axis=0)
    e_perp = np.where(s > 0, perp / np.where(s > 0, s, 1), 0.0)
    return r, r_star, w_hat, rho, np.sqrt(np.maximum(1 - rho**2, 0.0)), e_perp


def _nodes(lo, hi):
    """Gauss-Legendre nodes and weights on ``[lo, hi]``."""
    half = 0.5 * (hi - lo)
    return lo + half * (_GL_NODES + 1), half * _GL_WEIGHTS


def _panels(t, kink):
    """``[0, t]`` split at ``kink`` when it lies inside (the inner expectation bends there when b is small)."""
    edges = [0.0] + ([kink] if 0 < kink < t else []) + [t]
    xs, ws = zip(*(_nodes(a, b) for a, b in zip(edges[:-1], edges[1:])))
    return np.concatenate(xs), np.concatenate(ws)


def limit_population_moments(teacher: Teacher, W) -> dict:
    r"""Per class: ``m = E c(u)``, ``m* = E c(u*)``, ``A``, ``B``, ``C`` (vectors, ``(n, K)``) of the
    clipped-ReLU network, ``c`` with the teacher staircase's top ``T``; ``u = z.w_k``, ``u* = z.w*_k``.

    ``A = E[c'(u) z] = (phi(0) - phi(t)) w^``, ``B = E[c(u) c'(u) z] = r (Phi(t) - 1/2 - t phi(t)) w^``
    (``t = T / r``), and ``C = E[c(u*) c'(u) z]`` by Gauss-Legendre over ``U = u / r`` in ``[0, t]`` of
    ``E_V c(r*(rho U + s V))`` (closed form) and, by Stein's lemma, ``E_V[c(.) V] = r* s P(0 < . < T)``
    (docs/theory.md §9.3).
    """
    W = as_float_array(W, "W", ndim=2, shape_doc="(n, K)", dtype=np.float64)
    T = teacher.staircase.top
    r, r_star, w_hat, rho, s, e_perp = _geometry(W, teacher.W_star)
    t = T / r
    m = r * (_PHI0 - _phi(t)) + T * ndtr(-t)
    ts_ = T / r_star
    m_star = r_star * (_PHI0 - _phi(ts_)) + T * ndtr(-ts_)
    q = r**2 * (ndtr(t) - 0.5 - t * _phi(t)) + T**2 * ndtr(-t)
    A = (_PHI0 - _phi(t)) * w_hat
    B = r * (ndtr(t) - 0.5 - t * _phi(t)) * w_hat
    C = np.empty_like(W)
    for k in range(W.shape[1]):
        kink = T / (r_star[k] * rho[k]) if rho[k] > 0 else -1.0
        u, wt = _panels(t[k], kink)
        mean, inside = _clip_mean(r_star[k] * rho[k] * u, r_star[k] * s[k], T)
        C[:, k] = (np.sum(wt * _phi(u) * u * mean) * w_hat[:, k]
                   + np.sum(wt * _phi(u) * r_star[k] * s[k] * inside) * e_perp[:, k])
    return dict(m=m, m_star=m_star, q=q, A=A, B=B, C=C, rho=rho, r=r, r_star=r_star, s=s)


def limit_population_grad(teacher: Teacher, v, W) -> np.ndarray:
    r"""``grad_W f_c`` of the clipped-ReLU teacher-student network (teacher ``v*, W*`` with ``c`` too):
    ``coef_k A_k + |v|^2 B_k - (v.v*) C_k``, ``coef_k = sum(v) S_k - (|v|^2 m_k - (v.v*) m*_k)``,
    ``S_k = sum(v) m_k - sum(v*) m*_k`` (the formula of :mod:`coarsegrad.population` with ``c``). Shape ``(n, K)``."""
    v = as_float_array(v, "v", ndim=1, shape_doc="(p,)", dtype=np.float64)
    mo = limit_population_moments(teacher, W)
    vs = teacher.v_star
    S = v.sum() * mo["m"] - vs.sum() * mo["m_star"]
    coef = v.sum() * S - (v @ v * mo["m"] - (v @ vs) * mo["m_star"])
    return coef * mo["A"] + (v @ v) * mo["B"] - (v @ vs) * mo["C"]


def _cross(T, r, r_star, rho, s):
    """``E c(u) c(u*)`` by Gauss-Legendre over ``U`` in ``[0, t]`` and ``[t, t + 40]`` (tail below 1e-300)."""
    t = T / r
    out = 0.0
    for lo, hi, f in ((0.0, t, lambda u: r * u), (t, t + 40.0, lambda u: T + 0 * u)):
        kink = T / (r_star * rho) if rho > 0 else -1.0
        edges = [lo] + ([kink] if lo < kink < hi else []) + [hi]
        for a, b in zip(edges[:-1], edges[1:]):
            for a2, b2 in zip(np.linspace(a, b, 9)[:-1], np.linspace(a, b, 9)[1:]):
                u, wt = _nodes(a2, b2)
                mean, _ = _clip_mean(r_star * rho * u, r_star * s, T)
                out += np.sum(wt * _phi(u) * f(u) * mean)
    return out


def limit_population_loss(teacher: Teacher, v, W) -> float:
    r"""``f_c(v, W) = E 1/2 sum_k (v^T c(Z w_k) - v*^T c(Z w*_k))^2``; for tests (finite differences of it
    give :func:`limit_population_grad`). ``2 f_k = S^2 + |v|^2 (q - m^2) - 2 (v.v*)(cc - m m*) + |v*|^2 (q* - m*^2)``."""
    v = as_float_array(v, "v", ndim=1, shape_doc="(p,)", dtype=np.float64)
    mo = limit_population_moments(teacher, W)
    T, vs = teacher.staircase.top, teacher.v_star
    ts_ = T / mo["r_star"]
    q_star = mo["r_star"]**2 * (ndtr(ts_) - 0.5 - ts_ * _phi(ts_)) + T**2 * ndtr(-ts_)
    total = 0.0
    for k in range(len(mo["m"])):
        cc = _cross(T, mo["r"][k], mo["r_star"][k], mo["rho"][k], mo["s"][k])
        m, ms = mo["m"][k], mo["m_star"][k]
        S = v.sum() * m - vs.sum() * ms
        total += 0.5 * (S**2 + (v @ v) * (mo["q"][k] - m**2) - 2 * (v @ vs) * (cc - m * ms) + (vs @ vs) * (q_star[k] - ms**2))
    return float(total)


def population_gap(teacher: Teacher, v, W, ste="clipped_relu", *, expected_coarse_grad=expected_coarse_grad) -> float:
    """``|E g_W - grad_W f_c| / |grad_W f_c|``: the package's exact expected coarse gradient of the
    staircase network against the clipped-ReLU network's population gradient (same top)."""
    Eg = expected_coarse_grad(teacher, v, W, ste)[1]
    ref = limit_population_grad(teacher, v, W)
    return float(np.linalg.norm(Eg - ref) / np.linalg.norm(ref))


def fit_order(alphas, errors) -> float:
    """Least-squares slope of ``log error`` against ``log alpha``: the fitted order ``p`` in ``error ~ alpha^p``.
    NaN propagates (a non-positive error gives -inf or NaN, which the claims read as a failure)."""
    a = np.log(np.asarray(alphas, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.log(np.asarray(errors, dtype=np.float64))
    if a.size < 2 or not np.all(np.isfinite(e)):
        return float("nan")
    return float(np.polyfit(a, e, 1)[0])
