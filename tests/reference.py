"""Obviously-correct references the library is checked against.

They are written for clarity, not speed: Python loops over samples, rows and
thresholds, straight from the definitions in SPEC §1-3. They live here, never in
the library, so that the vectorized code always has something independent to
agree with.
"""
from __future__ import annotations

import numpy as np

# Tolerances, each with its reason.
#: vectorized vs loop: only summation order differs, so agreement is to rounding.
LOOP_RTOL = 1e-10
#: finite differences (4th order) with step FD_STEP on O(1) float64 losses: truncation ~ h^4, rounding ~ eps/h.
FD_STEP = 1e-6
FD_RTOL = 1e-6
#: rounding in one evaluation of F is at most ~ROUNDING_OPS * eps * |F| (a generous count of the
#: roundings that accumulate in a loss of a few hundred terms); the difference quotient inherits
#: 1.5 * ROUNDING_OPS * eps * |F| / h of absolute error from it (check_directional).
ROUNDING_OPS = 64


def sigma_loop(z: np.ndarray, staircase) -> np.ndarray:
    """``alpha * #{k in 1..L : z > (k - 1 + shift) * alpha}`` element by element, with ``L = 2**bits - 1``,
    ``shift`` 0 (``ceil``) or 1/2 (``round``), and each threshold rounded in z's dtype.

    Only the staircase's three numbers are read (``bits``, ``alpha``, ``convention``); the counting
    is done here, from the definition, never by the library's ``Staircase.__call__``."""
    dtype = np.asarray(z).dtype if np.asarray(z).dtype.kind == "f" else np.dtype(np.float64)
    L = 2**staircase.bits - 1
    shift = {"ceil": 0.0, "round": 0.5}[staircase.convention]
    a = dtype.type(staircase.alpha)
    out = np.empty(np.shape(z), dtype=dtype)
    for idx, value in np.ndenumerate(np.asarray(z, dtype=dtype)):
        count = 0
        for k in range(1, L + 1):
            if value > dtype.type(k - 1 + shift) * a:
                count += 1
        out[idx] = dtype.type(count) * a
    return out


def _scalar(fn, value, staircase):
    return float(np.asarray(fn(np.array([value]), staircase))[0])


def ts_grads_loop(Z, v, W, y_star, ste, staircase):
    """Loss and coarse gradient of the teacher-student model, one sample, class and row at a time."""
    N, p, n = Z.shape
    K = W.shape[1]
    g_v = np.zeros(p)
    g_W = np.zeros((n, K))
    loss = 0.0
    for s in range(N):
        for k in range(K):
            pre = [float(np.dot(Z[s, i], W[:, k])) for i in range(p)]
            act = [float(sigma_loop(np.array(h), staircase)) for h in pre]
            y = sum(v[i] * act[i] for i in range(p))
            err = y - y_star[s, k]
            loss += 0.5 * err**2 / N
            for i in range(p):
                g_v[i] += err * act[i] / N
                g_W[:, k] += err * v[i] * _scalar(ste.mu_prime, pre[i], staircase) * Z[s, i] / N
    return loss, g_v, g_W


def mlp_grads_loop(x, params, labels, ste, staircase, loss="cross_entropy", activation=None, margin=1.0):
    """Loss and coarse gradient of the perceptron, one sample and one hidden unit at a time."""
    W, b, V, c = params
    N = x.shape[0]
    m, K = W.shape[0], V.shape[0]
    gW, gb, gV, gc = (np.zeros_like(a) for a in (W, b, V, c))
    value = 0.0
    for s in range(N):
        h = np.array([float(np.dot(W[j], x[s]) + b[j]) for j in range(m)])
        if activation is None:
            a = sigma_loop(h, staircase)
        else:
            a = np.array([float(activation(np.array([hj]))[0]) for hj in h])
        f = np.array([float(np.dot(V[k], a) + c[k]) for k in range(K)])
        if loss == "cross_entropy":
            top = max(f)
            exps = [np.exp(fk - top) for fk in f]
            total = sum(exps)
            value += (np.log(total) - (f[labels[s]] - top)) / N
            delta = np.array([e / total for e in exps])
            # p_y - 1 written as -sum_{j != y} p_j: the same number without cancellation.
            delta[labels[s]] = -sum(e for j, e in enumerate(exps) if j != labels[s]) / total
        elif loss == "hinge":
            # sum_{k != y} max(0, margin - f_y + f_k); a term exactly at its kink counts as inactive.
            y = labels[s]
            delta = np.zeros(K)
            for k in range(K):
                gap = margin - f[y] + f[k]
                if k != y and gap > 0:
                    value += gap / N
                    delta[k] += 1.0
                    delta[y] -= 1.0
        elif loss == "squared":
            target = np.zeros(K)
            target[labels[s]] = 1
            value += 0.5 * sum((f - target) ** 2) / N
            delta = f - target
        else:
            raise AssertionError(f"no reference for loss {loss!r}")
        for k in range(K):
            gc[k] += delta[k] / N
            for j in range(m):
                gV[k, j] += delta[k] * a[j] / N
        for j in range(m):
            back = sum(V[k, j] * delta[k] for k in range(K)) * _scalar(ste.mu_prime, h[j], staircase)
            gb[j] += back / N
            gW[j] += back * x[s] / N
    return value, (gW, gb, gV, gc)


def flat(arrays) -> np.ndarray:
    """One vector from an array or a list/tuple of arrays."""
    if isinstance(arrays, (list, tuple)):
        return np.concatenate([np.ravel(a) for a in arrays])
    return np.ravel(arrays)


def rel_err(got, want) -> float:
    """``||got - want|| / ||want||`` over all arrays (the absolute error when ``want`` is 0)."""
    got, want = flat(got), flat(want)
    scale = np.linalg.norm(want)
    diff = np.linalg.norm(got - want)
    if scale == 0:
        return float(diff)
    return float(diff / scale)


def directional_fd(fun, x: list[np.ndarray], u: list[np.ndarray], h: float = FD_STEP) -> float:
    """Central difference ``(F(x + h u) - F(x - h u)) / 2h`` of a function of several arrays."""
    plus = fun([a + h * d for a, d in zip(x, u)])
    minus = fun([a - h * d for a, d in zip(x, u)])
    return (plus - minus) / (2 * h)


def norm(arrays) -> float:
    """Euclidean norm over all arrays, without the underflow of sqrt(sum(g*g)) (a cross-entropy
    gradient of a confidently right network can be ~1e-163, whose square is 0 in float64)."""
    v = np.abs(flat(arrays))
    big = v.max(initial=0.0)
    if big == 0:
        return 0.0
    return float(big * np.sqrt(np.sum((v / big) ** 2)))


def check_directional(fun, grads: list[np.ndarray], x: list[np.ndarray], rng, *, what: str,
                      n_dirs: int = 2, h: float = FD_STEP, rtol: float = FD_RTOL) -> None:
    """Assert ``<g, u> == dF/du`` by finite differences along random directions ``u``
    (autograd's check_vjp idea: one scalar comparison per direction, whatever the shapes).

    The difference is the fourth-order central one, ``(8 (F(h) - F(-h)) - (F(2h) - F(-2h))) / 12h``:
    its truncation error ``~ h^4 F^(5)`` stays far below ``rtol`` even where ``F`` changes on a scale
    of ``1e-3`` (logits in the thousands, as large resolutions give), where the second-order
    difference's ``h^2 F^(3) / 6`` does not.

    Allowed error: ``rtol * ||g|| ||u||`` (truncation, relative to the scale of the
    directional derivative) plus the rounding that the difference quotient itself carries:
    each of the four values is off by at most ``ROUNDING_OPS * eps * |F|``, and the stencil's
    weights add up to ``(8 + 8 + 1 + 1) / 12h = 1.5 / h``."""
    for _ in range(n_dirs):
        u = [rng.standard_normal(a.shape) for a in x]
        analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, u))
        F = {t: fun([a + t * h * d for a, d in zip(x, u)]) for t in (-2, -1, 1, 2)}
        numeric = (8 * (F[1] - F[-1]) - (F[2] - F[-2])) / (12 * h)
        scale = norm(list(grads)) * norm(u)
        rounding = 1.5 * ROUNDING_OPS * np.finfo(float).eps * max(abs(f) for f in F.values()) / h
        allowed = rtol * scale + rounding
        assert abs(analytic - numeric) <= allowed, (
            f"{what}: <g, u> = {analytic!r} but finite difference = {numeric!r}; |difference| = "
            f"{abs(analytic - numeric):.3e} > allowed {allowed:.3e} (rtol*|g||u| = {rtol * scale:.3e}, "
            f"rounding = {rounding:.3e})")


# --------------------------------------------------------------------------- population references

def bvn_cdf_quad(h: float, g: float, rho: float) -> float:
    """``Phi2(h, g; rho) = int_{-inf}^{h} phi(x) Phi((g - rho x)/sqrt(1 - rho^2)) dx`` by adaptive quadrature."""
    from scipy import integrate, stats
    if abs(rho) == 1.0:
        return float(stats.norm.cdf(min(h, g))) if rho > 0 else max(0.0, float(stats.norm.cdf(h) - stats.norm.cdf(-g)))
    s = np.sqrt(1 - rho * rho)
    f = lambda x: stats.norm.pdf(x) * stats.norm.cdf((g - rho * x) / s)
    if h == -np.inf:
        return 0.0
    val, _ = integrate.quad(f, -np.inf, h, epsabs=1e-15, epsrel=1e-13, limit=200)
    return float(val)


def population_loss_spec_form(teacher, v, W) -> float:
    """SPEC §4's form: per class, with d_i = v_i m(w) - v*_i m(w*) and S = sum_i d_i,
    E(y - y*)^2 = S^2 - sum_i d_i^2 + sum_i [v_i^2 q(w) - 2 v_i v*_i c + v*_i^2 q(w*)], a loop over i."""
    from coarsegrad.population import moment_c, moment_m, moment_q
    s = teacher.staircase
    m, q = moment_m(W, s), moment_q(W, s)
    ms, qs = moment_m(teacher.W_star, s), moment_q(teacher.W_star, s)
    c = moment_c(W, teacher.W_star, s)
    total = 0.0
    for k in range(W.shape[1]):
        d = [v[i] * m[k] - teacher.v_star[i] * ms[k] for i in range(len(v))]
        S = sum(d)
        second = sum(v[i] ** 2 * q[k] - 2 * v[i] * teacher.v_star[i] * c[k] + teacher.v_star[i] ** 2 * qs[k]
                     for i in range(len(v)))
        total += 0.5 * (S * S - sum(di * di for di in d) + second)
    return total


#: |z| bound for a comparison of an exact expectation with Monte Carlo.
MC_Z = 4.0


def assert_mc_agrees(exact, run, *, what: str, atol: float = 0.0) -> None:
    """Assert ``|exact - MC| <= 4 standard errors`` for every entry, where ``run(seed, scale)``
    returns an :class:`~coarsegrad.estimators.Estimate` from ``scale`` times the base sample size.

    As scipy's statistical tests do, a failing comparison is retried once on fresh samples
    (a new seed, four times as many): a true discrepancy fails both, a 1-in-10^4 fluctuation
    (hypothesis makes hundreds of comparisons per test) does not fail twice."""
    from coarsegrad.estimators import z_scores
    exact = np.asarray(exact, dtype=np.float64)
    for attempt, (seed, scale) in enumerate(((0, 1), (10**6 + 1, 4))):
        est = run(seed, scale)
        z = np.abs(z_scores(est, exact, atol=atol))
        if z.max() <= MC_Z:
            return
    worst = int(np.argmax(z))
    raise AssertionError(f"{what}: exact vs Monte Carlo differ by {z.max():.2f} standard errors twice "
                         f"(worst entry {worst}: exact {exact.ravel()[worst]!r}, MC {np.ravel(est.mean)[worst]!r} "
                         f"+- {np.ravel(est.stderr)[worst]!r}; all |z| = {np.round(z, 2)})")


# --------------------------------------------------------------------------- orthogonal-subspace references

def zero_in_hull_nnls(u) -> bool:
    """Whether 0 lies in the (closed) convex hull of the rows of ``u``, by non-negative least squares:
    ``min_{lambda >= 0} |U^T lambda|^2 + rho^2 (sum lambda - 1)^2`` is 0 exactly when it does.
    Independent of linprog (SciPy's NNLS is an active-set method); residual below 1e-10 counts as 0."""
    from scipy.optimize import nnls
    u = np.asarray(u, dtype=np.float64)
    rho = 10.0
    A = np.vstack([u.T, rho * np.ones(u.shape[0])])
    b = np.concatenate([np.zeros(u.shape[1]), [rho]])
    _, residual = nnls(A, b)
    return bool(residual < 1e-10)


def covered_scan_2d(u, n_angles: int = 20_000) -> float:
    """``min over directions z = (cos t, sin t) of max_j u_j . z / |u_j|`` on a grid of angles, written as a
    loop over neurons: positive iff every direction of the plane has a neuron on its positive side
    (up to the grid's resolution 2 pi / n_angles)."""
    u = np.asarray(u, dtype=np.float64)
    t = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    best = np.full(n_angles, -np.inf)
    for uj in u:
        r = np.hypot(uj[0], uj[1])
        if r == 0:
            continue
        best = np.maximum(best, (uj[0] * np.cos(t) + uj[1] * np.sin(t)) / r)
    return float(best.min())


# --------------------------------------------------------------------------- learnable resolution alpha

def alpha_rule_loop(z: float, name: str, staircase) -> float:
    """``d sigma / d alpha`` by rule, for one number, straight from SPEC §9 (not the library's jumps):
    0 for ``z <= 0``, ``L`` for ``z > L alpha``; inside: ``ae`` counts thresholds, ``pact`` 0, ``min`` 1,
    ``mean`` ``(L + 1)/2``."""
    L = 2**staircase.bits - 1
    a = staircase.alpha
    if z <= 0:
        return 0.0
    if z > L * a:
        return float(L)
    shift = {"ceil": 0.0, "round": 0.5}[staircase.convention]
    return {"ae": float(sum(z > (k - 1 + shift) * a for k in range(1, L + 1))), "pact": 0.0, "min": 1.0,
            "mean": (L + 1) / 2}[name]


def ts_alpha_grad_loop(Z, v, W, y_star, rule_name, staircase) -> float:
    """``mean_s sum_k (y_k - y*_k) sum_i v_i r(z_i^T w_k)``, one sample, class and row at a time."""
    N, p, _ = Z.shape
    total = 0.0
    for s in range(N):
        for k in range(W.shape[1]):
            pre = [float(np.dot(Z[s, i], W[:, k])) for i in range(p)]
            y = sum(v[i] * float(sigma_loop(np.array(h), staircase)) for i, h in enumerate(pre))
            total += (y - y_star[s, k]) * sum(v[i] * alpha_rule_loop(h, rule_name, staircase)
                                              for i, h in enumerate(pre)) / N
    return total


def mlp_alpha_grad_loop(x, params, delta, rule_name, staircase) -> float:
    """``sum_s sum_j (sum_k V_kj delta_sk) r(h_sj)``, one sample and unit at a time (``delta`` already
    carries the batch mean's ``1/N``)."""
    W, b, V, _ = params
    total = 0.0
    for s in range(x.shape[0]):
        for j in range(W.shape[0]):
            h = float(np.dot(W[j], x[s]) + b[j])
            total += sum(V[k, j] * delta[s, k] for k in range(V.shape[0])) * alpha_rule_loop(h, rule_name, staircase)
    return total
