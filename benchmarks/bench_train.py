"""Benchmark: one coarse-gradient training step and one epoch, against PyTorch and the GEMM bound.

Setting of the performance issue: the 784-1000-10 perceptron, batch 256, 2-bit activation
(alpha = 2/3), clipped-ReLU STE, float32, SGD with momentum 0.9.

- coarsegrad: ``mlp_train`` itself. A step is timed as (time of a 1-epoch run - time of a 0-epoch
  run) / steps per epoch, which cancels the set-up and the evaluation before training, so it is
  the library's own training loop (forward, loss, coarse gradient, in-place momentum update).
- GEMM bound: the five matrix products of a step (x W^T, sigma V^T, delta V, G^T x, delta^T sigma)
  with the same shapes and dtype, nothing else.
- PyTorch (optional, ``pip install torch``): the same network with a custom autograd Function
  for the staircase (forward: staircase; backward: the clipped-ReLU STE), cross-entropy,
  ``torch.optim.SGD(momentum=0.9)``, with as many threads as NumPy's BLAS uses.

Each figure is the median of repeated rounds (min and max in brackets), all measured in this run;
the three are timed in interleaved rounds and each ratio is the median of the per-round ratios.
Run: python benchmarks/bench_train.py [--repeat 5]
"""
import argparse
import os
import platform
import time

import numpy as np

import coarsegrad as cg
from coarsegrad.train import SGD, mlp_train

N_IN, HIDDEN, K, BATCH, BITS = 784, 1000, 10, 256, 2
ALPHA = 2.0 / 3.0
STAIRCASE = cg.Staircase(BITS, ALPHA)


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i["user_api"] == "blas"]
        desc = "; ".join(f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}), "
                         f"{i['num_threads']} threads" for i in info)
        return desc, (info[0]["num_threads"] if info else os.cpu_count())
    except ImportError:
        return f"numpy {np.__version__} BLAS (pip install threadpoolctl for details)", os.cpu_count()


def stats(times):
    t = np.asarray(times)
    return np.median(t), t.min(), t.max()


def fmt(s, scale=1e3, unit="ms"):
    return f"{s[0] * scale:8.2f} {unit} [{s[1] * scale:.2f}, {s[2] * scale:.2f}]"


def data(n_samples, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 256, (n_samples, N_IN)) * (rng.random((n_samples, N_IN)) < 0.2)).astype(dtype) / 255
    return x, rng.integers(0, K, n_samples)


def coarsegrad_epoch_time(n_samples, dtype, train_metrics="running"):
    """Seconds of one training epoch of ``mlp_train``: a 1-epoch run minus a 0-epoch run (set-up and
    the evaluation before training), so what remains is the library's own training loop."""
    x, y = data(n_samples, dtype)
    p0 = cg.mlp_init(N_IN, HIDDEN, K, 0, staircase=STAIRCASE, dtype=dtype)
    runs = {}
    for epochs in (0, 1):
        start = time.perf_counter()
        mlp_train(x, y, p0, "clipped_relu", STAIRCASE, SGD(lr=0.01, epochs=epochs, batch_size=BATCH, momentum=0.9),
                  seed=0, train_metrics=train_metrics)
        runs[epochs] = time.perf_counter() - start
    return runs[1] - runs[0]


def gemm_time(steps, dtype):
    """Seconds per step of the five matrix products of a step, nothing else."""
    rng = np.random.default_rng(1)
    x, _ = data(BATCH, dtype)
    W = rng.standard_normal((HIDDEN, N_IN)).astype(dtype)
    V = rng.standard_normal((K, HIDDEN)).astype(dtype)
    s = rng.random((BATCH, HIDDEN)).astype(dtype)
    d = rng.random((BATCH, K)).astype(dtype)
    G = rng.random((BATCH, HIDDEN)).astype(dtype)
    start = time.perf_counter()
    for _ in range(steps):
        x @ W.T
        s @ V.T
        d @ V
        G.T @ x
        d.T @ s
    return (time.perf_counter() - start) / steps


def torch_stepper(steps, threads):
    """A function timing ``steps`` PyTorch steps (seconds per step), or None without torch."""
    try:
        import torch
    except ImportError:
        return None, "not installed (pip install torch: a CPU build is used here)"
    torch.set_num_threads(threads)
    L = 2**BITS - 1

    class Staircase(torch.autograd.Function):
        @staticmethod
        def forward(ctx, h):
            ctx.save_for_backward(h)
            return torch.clamp(torch.ceil(h / ALPHA), 0, L) * ALPHA

        @staticmethod
        def backward(ctx, grad):
            (h,) = ctx.saved_tensors
            return grad * ((h > 0) & (h <= L * ALPHA))

    x_np, y_np = data(BATCH * steps, np.float32)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    p0 = cg.mlp_init(N_IN, HIDDEN, K, 0, staircase=STAIRCASE, dtype=np.float32)
    W, b, V, c = (torch.from_numpy(a.copy()).requires_grad_(True) for a in p0)
    opt = torch.optim.SGD([W, b, V, c], lr=0.01, momentum=0.9)

    def step(i):
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        opt.zero_grad(set_to_none=True)
        f = torch.nn.functional.linear(Staircase.apply(torch.nn.functional.linear(xb, W, b)), V, c)
        torch.nn.functional.cross_entropy(f, yb).backward()
        opt.step()

    for i in range(3):
        step(i)

    def run():
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        return (time.perf_counter() - start) / steps
    return run, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed epoch (batch 256)")
    args = parser.parse_args()
    blas, threads = blas_threads()
    print(f"python {platform.python_version()}, numpy {np.__version__}; BLAS: {blas}; cores: {os.cpu_count()}")
    print(f"step: {N_IN}-{HIDDEN}-{K} perceptron, batch {BATCH}, {BITS}-bit, clipped ReLU, SGD momentum 0.9")
    steps = args.steps
    torch_run, torch_desc = torch_stepper(steps, threads)
    gemm_time(3, np.float32)
    # Interleaved rounds (ours, GEMMs, PyTorch): on a shared machine the speed drifts, and a ratio
    # of times measured side by side in the same round is what the goals are about.
    rows = {"ours": [], "gemm": [], "torch": []}
    for _ in range(args.repeat):
        rows["ours"].append(coarsegrad_epoch_time(BATCH * steps, np.float32) / steps)
        time.sleep(0.2)        # let the previous library's worker threads stop spinning first
        rows["gemm"].append(gemm_time(steps, np.float32))
        time.sleep(0.2)
        if torch_run is not None:
            rows["torch"].append(torch_run())
            time.sleep(0.2)
    ours, gemm = stats(rows["ours"]), stats(rows["gemm"])
    ratio_gemm = stats(np.divide(rows["ours"], rows["gemm"]))
    ours64 = stats([coarsegrad_epoch_time(BATCH * steps, np.float64) / steps for _ in range(2)])
    print(f"  coarsegrad step, float32      {fmt(ours)}")
    print(f"  coarsegrad step, float64      {fmt(ours64)}")
    print(f"  GEMMs alone, float32          {fmt(gemm)}")
    if torch_run is not None:
        torch_stats = stats(rows["torch"])
        print(f"  PyTorch step ({torch_desc}) {fmt(torch_stats)}")
    print(f"ratio coarsegrad / GEMM bound (median of per-round ratios): {ratio_gemm[0]:.3f} "
          f"[{ratio_gemm[1]:.3f}, {ratio_gemm[2]:.3f}]   (goal <= 1.25)")
    if torch_run is not None:
        ratio_torch = stats(np.divide(rows["ours"], rows["torch"]))
        print(f"ratio coarsegrad / PyTorch (median of per-round ratios):    {ratio_torch[0]:.3f} "
              f"[{ratio_torch[1]:.3f}, {ratio_torch[2]:.3f}]   (goal <= 1.00)")
    else:
        print(f"PyTorch: {torch_desc}")
    # One epoch of MNIST-shaped data.
    n = 60000
    full_steps = int(np.ceil(n / BATCH))
    epoch = stats([coarsegrad_epoch_time(n, np.float32) for _ in range(2)])
    bound = gemm_time(full_steps, np.float32) * full_steps
    epoch_full = stats([coarsegrad_epoch_time(n, np.float32, train_metrics="full") for _ in range(2)])
    print(f"epoch of {n} samples ({full_steps} steps), float32: {fmt(epoch, 1, 's')}; GEMM bound {bound:.2f} s; "
          f"ratio {epoch[0] / bound:.3f}")
    print(f"  with exact training-set metrics each epoch (train_metrics='full'): {fmt(epoch_full, 1, 's')}")


if __name__ == "__main__":
    main()
