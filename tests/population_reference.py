"""High-precision references for the population module, by mpmath quadrature of the defining integrals.

Independent of the library's closed forms and integration engines: each coefficient of the
expected coarse gradient is the one-dimensional integral that defines it (docs/theory.md §4.2),
evaluated with mpmath's tanh-sinh rule at 25 digits on intervals split at every point where the
integrand has a kink or varies on a short scale (the STE's kinks and the pole of the log tail at
distance ``1/|w|``, the student's and the teacher's thresholds), graded geometrically around them.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

DPS = 25
#: mpmath's rule on each panel. The panels are cut at every kink and jump, so each integrand is smooth on
#: its panel, and Gauss-Legendre converges there: at |w|/alpha = 1e12 it gave the 40-digit values (both rules
#: agree at 40 digits) at 25 digits, where tanh-sinh was off by 3.6e-14 relative, and 3x faster.
QUAD_METHOD = "gauss-legendre"


def mp_mu_prime(name: str, staircase, lo_hi=None):
    """``mu'(z)`` of a built-in STE (or of ``1`` on ``(lo, hi]``), in mpmath, straight from its definition."""
    top = mp.mpf(staircase.top)
    if name == "clipped_relu":
        return lambda z: mp.mpf(1) if 0 < z <= top else mp.mpf(0)
    if name == "relu":
        return lambda z: mp.mpf(1) if z > 0 else mp.mpf(0)
    if name == "identity":
        return lambda z: mp.mpf(1)
    if name == "log_tailed_relu":
        return lambda z: mp.mpf(0) if z <= 0 else (mp.mpf(1) if z <= top else 1 / (1 + z - top))
    if name == "window":
        lo, hi = (mp.mpf(x) for x in lo_hi)
        return lambda z: mp.mpf(1) if lo < z <= hi else mp.mpf(0)
    raise KeyError(name)


def coarse_coefficients_mp(w, w_star, staircase, mu_prime, z_kinks):
    """``(a, b, C_w, C_perp)`` of one class: ``A = a w^``, ``B = b w^``, ``C = C_w w^ + C_perp e_perp``.

    With ``u = z^T w^`` and ``Ebar(u) = sum_l step Phi((rho u - c_l)/s)``::

        a = int mu'(r u) u phi(u) du,          b = int mu'(r u) sigma(r u) u phi(u) du,
        C_w = int mu'(r u) u Ebar(u) phi(u) du, C_perp = int mu'(r u) phi(u) sum_l step phi((c_l - rho u)/s) du.

    ``w, w_star`` are float vectors (read exactly); ``z_kinks`` are the points in ``z`` where
    ``mu'`` has a kink or varies on a unit scale. Requires ``0 < theta < pi`` and ``w* != 0``.
    """
    with mp.workdps(DPS):
        w = [mp.mpf(float(x)) for x in w]
        ws = [mp.mpf(float(x)) for x in w_star]
        r = mp.sqrt(mp.fsum(x * x for x in w))
        rs = mp.sqrt(mp.fsum(x * x for x in ws))
        rho = mp.fsum(x * y for x, y in zip(w, ws)) / (r * rs)
        s = mp.sqrt(1 - rho * rho)
        alpha = mp.mpf(staircase.alpha)
        shift = mp.mpf(staircase.shift)
        thr = [(k + shift) * alpha for k in range(staircase.L)]
        c = [t / rs for t in thr]

        def sigma(z):
            return alpha * sum(1 for t in thr if z > t)

        def Ebar(u):
            return alpha * mp.fsum(mp.ncdf((rho * u - cl) / s) for cl in c)

        def Eperp(u):
            return alpha * mp.fsum(mp.npdf((cl - rho * u) / s) for cl in c)

        U = mp.mpf(40)
        pts = {-U, U, mp.mpf(0)}
        for z in list(z_kinks) + thr:
            zu = mp.mpf(z) / r
            pts.add(zu)
            for j in range(-1, 1100, 3):           # grade (x8) at the 1/r scale up to the Gaussian's own
                step = mp.ldexp(mp.mpf(1), j) / r
                if step > U:
                    break
                pts.update((zu + step, zu - step))
        for cl in c:
            pts.add(cl / rho)
            for j in range(-6, 8, 3):
                pts.update((cl / rho + mp.ldexp(s, j), cl / rho - mp.ldexp(s, j)))
        edges = sorted(p for p in pts if -U <= p <= U)

        def integral(fn):
            return mp.fsum(mp.quad(fn, [lo, hi], method=QUAD_METHOD) for lo, hi in zip(edges[:-1], edges[1:]))

        a = integral(lambda u: mu_prime(r * u) * u * mp.npdf(u))
        b = integral(lambda u: mu_prime(r * u) * sigma(r * u) * u * mp.npdf(u))
        C_w = integral(lambda u: mu_prime(r * u) * u * Ebar(u) * mp.npdf(u))
        C_perp = integral(lambda u: mu_prime(r * u) * Eperp(u) * mp.npdf(u))
        return tuple(float(x) for x in (a, b, C_w, C_perp))


# --------------------------------------------------------------------------- shared by the population tests

def fd_grad(fun, x, h):
    """4th-order central differences of ``fun`` in every entry of ``x`` (step ``h``)."""
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        vals = []
        for step in (-2, -1, 1, 2):
            e = np.zeros_like(x)
            e[idx] = step * h
            vals.append(fun(x + e))
        g[idx] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
    return g


def mc_coarse_grad(teacher, v, W, ste, seed, project=None, batches=100, size=1000):
    """Monte Carlo (batch means) of the sample coarse gradient (g_v, g_W) flattened, or of its
    projections ``g @ project`` when a matrix of directions is given."""
    import coarsegrad as cg
    from coarsegrad.estimators import monte_carlo
    stair = teacher.staircase

    def stat(Z):
        fwd = cg.ts_forward(Z, v, W, stair)
        y_star = cg.ts_forward(Z, teacher.v_star, teacher.W_star, stair).y
        _, e = cg.ts_loss(fwd.y, y_star)
        g_v, g_W = cg.ts_coarse_grad(Z, v, fwd, e, ste, stair)
        g = np.concatenate([g_v, g_W.ravel()])
        return g if project is None else g @ project
    return monte_carlo(stat, lambda g: g.standard_normal((size, teacher.p, teacher.n)), batches, seed)
