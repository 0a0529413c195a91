"""The host's speed right now, in one number: read it before and after any timing on a shared machine.

300 evaluations of scipy's ``ndtr`` and NumPy's ``exp`` on 20,000 points, and 9,000 small ``np.where``
calls (the per-call overhead the population step lives on); best of 5, in milliseconds. On the 2-core
development machine it read 147-155 ms in the host's fast state and 267-282 ms in its slow one, within
one session (docs/performance.md): compare timings only between runs whose probes agree.

Run: python benchmarks/probe_host.py
"""
import time

import numpy as np
from scipy.special import ndtr


def work() -> float:
    x = np.linspace(-5, 5, 20000)
    total = 0.0
    for i in range(300):
        total += ndtr(x + i * 1e-3).sum() + np.exp(-x * x).sum()
        a = np.arange(10.0)
        for j in range(30):
            a = np.where(a > j, a, a + 1.0)
    return total


def main():
    times = []
    for _ in range(5):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    print(f"host probe: {1e3 * min(times):.1f} ms (best of 5; fast state of the 2-core machine 147-155 ms)")


if __name__ == "__main__":
    main()
