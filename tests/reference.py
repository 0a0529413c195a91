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
#: central differences with step FD_STEP on O(1) float64 losses: truncation ~ h^2, rounding ~ eps/h.
FD_STEP = 1e-6
FD_RTOL = 1e-6
#: rounding in one evaluation of F is at most ~ROUNDING_OPS * eps * |F| (a generous count of the
#: roundings that accumulate in a loss of a few hundred terms); the central difference inherits
#: ROUNDING_OPS * eps * |F| / h of absolute error from it.
ROUNDING_OPS = 64


def sigma_loop(z: np.ndarray, bits: int, alpha: float) -> np.ndarray:
    """``alpha * #{k in 0..L-1 : z > k*alpha}`` element by element, thresholds rounded in z's dtype."""
    dtype = np.asarray(z).dtype if np.asarray(z).dtype.kind == "f" else np.dtype(np.float64)
    L = 2**bits - 1
    a = dtype.type(alpha)
    out = np.empty(np.shape(z), dtype=dtype)
    for idx, value in np.ndenumerate(np.asarray(z, dtype=dtype)):
        count = 0
        for k in range(L):
            if value > dtype.type(k) * a:
                count += 1
        out[idx] = dtype.type(count) * a
    return out


def _scalar(fn, value, bits, alpha):
    return float(np.asarray(fn(np.array([value]), bits, alpha))[0])


def ts_grads_loop(Z, v, W, y_star, ste, bits, alpha):
    """Loss and coarse gradient of the teacher-student model, one sample, class and row at a time."""
    N, p, n = Z.shape
    K = W.shape[1]
    g_v = np.zeros(p)
    g_W = np.zeros((n, K))
    loss = 0.0
    for s in range(N):
        for k in range(K):
            pre = [float(np.dot(Z[s, i], W[:, k])) for i in range(p)]
            act = [float(sigma_loop(np.array(h), bits, alpha)) for h in pre]
            y = sum(v[i] * act[i] for i in range(p))
            err = y - y_star[s, k]
            loss += 0.5 * err**2 / N
            for i in range(p):
                g_v[i] += err * act[i] / N
                g_W[:, k] += err * v[i] * _scalar(ste.mu_prime, pre[i], bits, alpha) * Z[s, i] / N
    return loss, g_v, g_W


def mlp_grads_loop(x, params, labels, ste, bits, alpha, kind="cross_entropy", activation=None):
    """Loss and coarse gradient of the perceptron, one sample and one hidden unit at a time."""
    W, b, V, c = params
    N = x.shape[0]
    m, K = W.shape[0], V.shape[0]
    gW, gb, gV, gc = (np.zeros_like(a) for a in (W, b, V, c))
    loss = 0.0
    for s in range(N):
        h = np.array([float(np.dot(W[j], x[s]) + b[j]) for j in range(m)])
        if activation is None:
            a = sigma_loop(h, bits, alpha)
        else:
            a = np.array([float(activation(np.array([hj]))[0]) for hj in h])
        f = np.array([float(np.dot(V[k], a) + c[k]) for k in range(K)])
        if kind == "cross_entropy":
            top = max(f)
            exps = [np.exp(fk - top) for fk in f]
            total = sum(exps)
            loss += (np.log(total) - (f[labels[s]] - top)) / N
            delta = np.array([e / total for e in exps])
            # p_y - 1 written as -sum_{j != y} p_j: the same number without cancellation.
            delta[labels[s]] = -sum(e for j, e in enumerate(exps) if j != labels[s]) / total
        else:
            target = np.zeros(K)
            target[labels[s]] = 1
            loss += 0.5 * sum((f - target) ** 2) / N
            delta = f - target
        for k in range(K):
            gc[k] += delta[k] / N
            for j in range(m):
                gV[k, j] += delta[k] * a[j] / N
        for j in range(m):
            back = sum(V[k, j] * delta[k] for k in range(K)) * _scalar(ste.mu_prime, h[j], bits, alpha)
            gb[j] += back / N
            gW[j] += back * x[s] / N
    return loss, (gW, gb, gV, gc)


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


def check_directional(fun, grads: list[np.ndarray], x: list[np.ndarray], rng, *, what: str,
                      n_dirs: int = 2, h: float = FD_STEP, rtol: float = FD_RTOL) -> None:
    """Assert ``<g, u> == dF/du`` by central differences along random directions ``u``
    (autograd's check_vjp idea: one scalar comparison per direction, whatever the shapes).

    Allowed error: ``rtol * ||g|| ||u||`` (truncation, relative to the scale of the
    directional derivative) plus the rounding that the difference quotient itself carries."""
    for _ in range(n_dirs):
        u = [rng.standard_normal(a.shape) for a in x]
        analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, u))
        plus = fun([a + h * d for a, d in zip(x, u)])
        minus = fun([a - h * d for a, d in zip(x, u)])
        numeric = (plus - minus) / (2 * h)
        scale = np.sqrt(sum(float(np.sum(g * g)) for g in grads)) * np.sqrt(sum(float(np.sum(d * d)) for d in u))
        rounding = ROUNDING_OPS * np.finfo(float).eps * max(abs(plus), abs(minus)) / h
        allowed = rtol * scale + rounding
        assert abs(analytic - numeric) <= allowed, (
            f"{what}: <g, u> = {analytic!r} but central difference = {numeric!r}; |difference| = "
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
    b, a = teacher.bits, teacher.alpha
    m, q = moment_m(W, b, a), moment_q(W, b, a)
    ms, qs = moment_m(teacher.W_star, b, a), moment_q(teacher.W_star, b, a)
    c = moment_c(W, teacher.W_star, b, a)
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
