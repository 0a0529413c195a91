"""Benchmark: exact population gradient and expected coarse gradient against Monte Carlo.

Setting of the population issue: n = 100, p = 16, K = 10, bits = 2. Prints, measured in this
run, the median (and spread) time of ``population_grad`` and ``expected_coarse_grad`` (clipped
ReLU closed form, log-tailed ReLU Gauss-Legendre), the cost per sample of a Monte Carlo estimate
of E g, the number of samples Monte Carlo needs for a standard error of 1e-3 of |E g| (far looser
than the exact formulas' ~1e-13), and the ratio of the two times.

Run: python benchmarks/bench_population.py
"""
import os
import platform
import time

import numpy as np

import coarsegrad as cg
from coarsegrad import population as P


def timed(fn, repeat=15):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.median(times), np.min(times), np.max(times)


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return "; ".join(f"{i['internal_api']} {i.get('version')} threads={i['num_threads']}" for i in threadpool_info())
    except ImportError:
        return f"numpy {np.__version__} (install threadpoolctl for BLAS details); cores={os.cpu_count()}"


def main():
    n, p, K, bits, alpha = 100, 16, 10, 2, 1.0
    rng = np.random.default_rng(0)
    stair = cg.Staircase(bits, alpha)
    teacher = P.random_teacher(n, p, K, stair, rng)
    W = rng.standard_normal((n, K)) * np.linalg.norm(teacher.W_star, axis=0) / np.sqrt(n)
    v = teacher.v_star
    print(f"python {platform.python_version()}, {blas_info()}")
    print(f"setting: n={n}, p={p}, K={K}, bits={bits}, alpha={alpha}")
    rows = {}
    rows["population_grad"] = timed(lambda: P.population_grad(teacher, v, W))
    rows["expected_coarse_grad clipped_relu (closed)"] = timed(lambda: P.expected_coarse_grad(teacher, v, W, "clipped_relu"))
    rows["expected_coarse_grad log_tailed_relu (gauss)"] = timed(lambda: P.expected_coarse_grad(teacher, v, W, "log_tailed_relu"))
    rows["population_loss"] = timed(lambda: P.population_loss(teacher, v, W))
    for name, (med, lo, hi) in rows.items():
        print(f"{name:48s} median {med * 1e3:8.2f} ms  (min {lo * 1e3:.2f}, max {hi * 1e3:.2f})")

    # Monte Carlo of E g (clipped ReLU): per-sample cost and variance from 20 batches of 2000.
    Eg = P.expected_coarse_grad(teacher, v, W, "clipped_relu")[1]
    batch = 2000
    means, start = [], time.perf_counter()
    for _ in range(20):
        Z = rng.standard_normal((batch, p, n))
        fwd = cg.ts_forward(Z, v, W, stair, validate=False)
        y_star = cg.ts_forward(Z, v, teacher.W_star, stair, validate=False).y
        _, e = cg.ts_loss(fwd.y, y_star, validate=False)
        means.append(cg.ts_coarse_grad(Z, v, fwd, e, "clipped_relu", stair, validate=False).W)
    per_sample = (time.perf_counter() - start) / (20 * batch)
    means = np.array(means)
    sample_sd = np.linalg.norm(means.std(axis=0, ddof=1)) * np.sqrt(batch)   # sd of one sample's g, in norm
    target = 1e-3 * np.linalg.norm(Eg)
    needed = (sample_sd / target) ** 2
    mc_time = needed * per_sample
    exact_time = rows["expected_coarse_grad clipped_relu (closed)"][0]
    print(f"Monte Carlo: {per_sample * 1e6:.1f} us per sample; a standard error of 1e-3 |E g| needs "
          f"{needed:.3g} samples = {mc_time:.3g} s")
    print(f"ratio Monte Carlo / exact (clipped ReLU): {mc_time / exact_time:.3g}x  (goal >= 100x)")
    # Many weight settings at once: S settings are one call on S K classes.
    S = 100
    Ws = W[None] + 0.3 * rng.standard_normal((S, n, K))
    batched = timed(lambda: P.expected_coarse_grad(teacher, v, Ws, "clipped_relu"), repeat=5)
    looped = timed(lambda: [P.expected_coarse_grad(teacher, v, Ws[s], "clipped_relu") for s in range(S)], repeat=3)
    print(f"E g at {S} weight settings: batched {batched[0] * 1e3:.1f} ms, one call each {looped[0] * 1e3:.1f} ms "
          f"(x{looped[0] / batched[0]:.1f})")
    goal = 0.050
    for name in ("population_grad", "expected_coarse_grad clipped_relu (closed)"):
        print(f"goal < 50 ms, {name}: {'met' if rows[name][0] < goal else 'NOT met'} ({rows[name][0] * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
