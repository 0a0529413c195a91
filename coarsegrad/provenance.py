"""What a result was computed with: versions, BLAS library, kernel and thread count.

Two machines can print different last digits for the same seed (SPEC section 11; the tolerance
policy is in docs/testing.md): the BLAS library picks a kernel by CPU (OpenBLAS: Haswell,
SkylakeX, Prescott, ...) and splits work by thread count, and NumPy picks its own vector paths
by CPU. Every output that records numbers (``verify --json``, each figure's manifest entry)
records :func:`provenance` beside them, so a difference between two machines can be explained
from the files alone::

    >>> from coarsegrad.provenance import provenance
    >>> provenance()["blas"]                                     # doctest: +SKIP
    [{'library': 'openblas', 'version': '0.3.31.188.0', 'kernel': 'Haswell', 'threads': 2, ...}]

The BLAS kernel and thread count are read with ``threadpoolctl`` when it is importable (it is in
the ``test`` extra); without it the library name and version come from NumPy's build
configuration and the kernel and thread count are recorded as ``None`` -- never guessed.

:func:`blas_threads` fixes the BLAS thread count of one computation (used by
:func:`coarsegrad.train.run_sweep` so that a run gives the same numbers in this process as in a
worker): OpenBLAS's float32 GEMM and float64 dot/GEMV round differently with 1 and 2 threads.
"""
from __future__ import annotations

import contextlib
import os
import platform
import sys

__all__ = ["provenance", "blas_info", "blas_threads", "RUN_BLAS_THREADS", "BLAS_THREAD_VARS"]

#: Environment variables that set the thread count of the common BLAS libraries (OpenBLAS,
#: OpenMP builds, MKL, BLIS). Read only before the library loads, hence set for worker processes
#: before they import NumPy.
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

#: BLAS threads of every training run of a sweep, wherever it runs (this process or a worker):
#: one, because N workers with multithreaded BLAS on N cores oversubscribe them (measured: 2.4x
#: slower on 2 cores), and because the thread count changes the rounding (docs/testing.md).
RUN_BLAS_THREADS = 1


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:          # optional: provenance then records None where only it can tell
        return None
    return threadpoolctl


def blas_info() -> list:
    """The BLAS libraries loaded in this process.

    Returns
    -------
    list of dict
        One dict per library: ``library`` (e.g. ``"openblas"``), ``version``, ``kernel`` (the
        architecture the library picked for this CPU, e.g. ``"Haswell"``), ``threads`` (its current
        thread count), ``threading_layer``, ``file`` (the shared object's file name) and
        ``source`` (``"threadpoolctl"`` or ``"numpy build configuration"``; in the second case
        ``kernel`` and ``threads`` are ``None``).
    """
    import numpy as np           # the BLAS is loaded with NumPy: inspect after importing it
    tpc = _threadpoolctl()
    if tpc is not None:
        found = [dict(library=i.get("internal_api"), version=i.get("version"), kernel=i.get("architecture"),
                      threads=i.get("num_threads"), threading_layer=i.get("threading_layer"),
                      file=os.path.basename(i.get("filepath") or ""), source="threadpoolctl")
                 for i in tpc.threadpool_info() if i.get("user_api") == "blas"]
        if found:
            return found
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name, version = blas.get("name"), blas.get("version")
    except Exception:            # NumPy < 1.25 has no mode="dicts"; the record then says so
        name, version = None, None
    return [dict(library=name, version=version, kernel=None, threads=None, threading_layer=None, file=None,
                 source="numpy build configuration")]


def provenance() -> dict:
    """Versions and arithmetic of this process, for output files.

    Returns
    -------
    dict
        ``python``, ``numpy``, ``scipy``, ``coarsegrad`` versions, ``platform`` (OS and machine),
        ``numpy_cpu`` (the vector extensions NumPy found and any disabled through
        ``NPY_DISABLE_CPU_FEATURES``), ``blas`` (:func:`blas_info`), ``run_blas_threads`` (the
        thread count of sweep runs, :data:`RUN_BLAS_THREADS`, or ``None`` when it cannot be fixed
        because threadpoolctl is missing) and the BLAS thread variables set in the environment.
    """
    import numpy as np
    import scipy

    from . import __version__
    cpu = {}
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            features = {}
    cpu["found"] = sorted(k for k, v in features.items() if v)
    cpu["disabled"] = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "coarsegrad": __version__, "platform": f"{sys.platform} {platform.machine()}", "numpy_cpu": cpu,
            "blas": blas_info(),
            "run_blas_threads": RUN_BLAS_THREADS if _threadpoolctl() is not None else None,
            "environment": {k: os.environ[k] for k in BLAS_THREAD_VARS + ("OPENBLAS_CORETYPE",) if k in os.environ}}


@contextlib.contextmanager
def blas_threads(n: int = RUN_BLAS_THREADS):
    """Run the block with ``n`` BLAS threads (threadpoolctl), then restore the previous count.

    Without threadpoolctl this does nothing: a loaded BLAS reads its thread variables only at
    start-up, so there is no portable way to change it (set ``OPENBLAS_NUM_THREADS=1`` before
    starting Python instead). Worker processes of :func:`coarsegrad.train.process_pool` get
    :data:`RUN_BLAS_THREADS` from their environment either way.
    """
    tpc = _threadpoolctl()
    if tpc is None:
        yield
        return
    import numpy  # noqa: F401  -- load the BLAS first, or there is nothing to limit
    with tpc.threadpool_limits(limits=n, user_api="blas"):
        yield
