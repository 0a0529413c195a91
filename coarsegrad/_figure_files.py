"""What ``coarsegrad figures`` does with a computed figure: render it without run-dependent metadata, keep
files whose data and pixels did not change, and run a figure's independent training runs here, on a
process pool or on a dask cluster (:class:`_Runs`, the ``map_fn`` of the compute functions)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ._checks import UsageError, one_line as _one_line

__all__ = []

#: How long ``--scheduler`` waits for a dask scheduler to answer (one on the network answers in milliseconds).
SCHEDULER_TIMEOUT = "5s"


def _render(fig) -> dict:
    """The figure as PNG and PDF bytes, without the metadata that changes from run to run."""
    import io
    images = {}
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=110, metadata=meta)
        images[ext] = buffer.getvalue()
    return images


def _same_pixels(png: bytes, path: Path) -> bool:
    """Whether the PNG at ``path`` shows exactly the pixels of ``png`` (its bytes may differ: another
    matplotlib or zlib encodes the same picture differently)."""
    import io

    from matplotlib.image import imread
    try:
        old = imread(path, format="png")
    except Exception:          # noqa: BLE001  (missing, unreadable or not a PNG: not the same picture)
        return False
    new = imread(io.BytesIO(png), format="png")
    return old.shape == new.shape and bool(np.array_equal(old, new))


def _save_figure(fig, out: Path, name: str, data_text: str) -> tuple:
    """Write ``name``.json, .png and .pdf into ``out``; return (file names, whether any changed).

    Regeneration is idempotent: a data file with the same text is left as it is, and images that
    show the same pixels as the ones there are not rewritten (a PDF goes with its PNG), so
    regenerating unchanged figures leaves a checkout unmodified.
    """
    from ._io import write_bytes, write_text
    json_path = out / f"{name}.json"
    try:
        data_same = json_path.read_text() == data_text
    except (OSError, UnicodeDecodeError):
        data_same = False
    if not data_same:
        write_text(json_path, data_text, name="--out")
    images = _render(fig)
    images_same = (out / f"{name}.pdf").is_file() and _same_pixels(images["png"], out / f"{name}.png")
    if not images_same:
        for ext, blob in images.items():
            write_bytes(out / f"{name}.{ext}", blob, name="--out")
    return [f"{name}.png", f"{name}.pdf"], not (data_same and images_same)


class _Runs:
    """The ``map_fn`` of the figure computations: runs the independent training runs of one figure,
    reports each finished run on stderr, and picks where they run.

    - ``scheduler``: a dask.distributed cluster;
    - ``workers == 1``: this process;
    - ``workers`` given: a process pool of that size (started once, reused across figures);
    - default: the first run of a step goes here and is timed; if the remaining runs would take
      less than a pool costs to start, they stay here, else a pool of ``min(cores, runs)`` runs them.
    """

    def __init__(self, workers, scheduler, report):
        self.workers, self.report = workers, report
        self.pool = self.client = None
        self.executor = None
        self.label = ""
        if scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise UsageError("--scheduler needs dask.distributed: pip install 'coarsegrad[dask]'") from None
            try:
                self.client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConnectionError(f"--scheduler {scheduler!r}: cannot reach a dask scheduler there "
                                      f"({_one_line(exc)}); check the address (e.g. tcp://HOST:8786)") from None
            self.executor = self.client.get_executor()
            self.where = f"dask scheduler {scheduler}"
        else:
            self.where = "this process" if workers == 1 else None

    def __call__(self, fn, tasks):
        from .train import _pool_pays, _run_here, process_pool     # _run_here: a worker's BLAS threads
        tasks = list(tasks)
        n = len(tasks)
        start = time.perf_counter()
        results = []
        last = [start]

        def done(result):
            # One line per finished run once a step has run for a while, at most one a second: long
            # steps (MNIST: minutes) show progress, short ones stay quiet.
            results.append(result)
            now = time.perf_counter()
            if now - start >= 2.0 and (now - last[0] >= 1.0 or len(results) == n):
                last[0] = now
                self.report(f"[figures] {self.label}: run {len(results)}/{n} done ({now - start:.1f} s)")

        if self.executor is None and (self.workers == 1 or n <= 1):
            for task in tasks:
                done(_run_here(fn, task))
            return results
        executor = self.executor
        if executor is None:
            if self.workers is None and self.pool is None:
                done(_run_here(fn, tasks[0]))
                if not _pool_pays(time.perf_counter() - start, n - 1, os.cpu_count() or 1):
                    for task in tasks[1:]:
                        done(_run_here(fn, task))
                    return results
            size = min(self.workers or os.cpu_count() or 1, n - len(results))
            if size <= 1 and self.pool is None:          # one run left, or one core: a pool only adds its start-up
                for task in tasks[len(results):]:
                    done(_run_here(fn, task))
                return results
            if self.pool is None or self.pool_size < size:
                if self.pool is not None:
                    self.pool.shutdown()
                self.pool, self.pool_size = process_pool(size), size
                self.report(f"[figures] {self.label}: started {size} worker process(es)")
            executor = self.pool
        for result in executor.map(fn, tasks[len(results):]):
            done(result)
        return results

    def close(self, abort: bool = False):
        """Shut the pool down; on ``abort`` (Ctrl-C, an error) without waiting for runs in flight,
        which may take minutes and whose results nobody would read."""
        if self.pool is not None:
            if abort:
                processes = list(getattr(self.pool, "_processes", {}).values())   # private, but no public way
                self.pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
            else:
                self.pool.shutdown()
        if self.client is not None:
            self.client.close()
