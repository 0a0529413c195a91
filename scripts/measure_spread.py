"""How far rounding can move each figure's numbers: the measurement behind the figure tolerances.

Monte Carlo arithmetic's idea (Verificarlo, CADNA), applied from outside: regenerate each figure's
data at a preset under variants of the arithmetic that another machine could have, and record the
largest difference from the unperturbed run, per figure. The variants:

- ``ulps-R``: the inputs perturbed at rounding level -- every float drawn from a seeded
  ``numpy.random.Generator`` (data, teachers, initial weights) and the MNIST pixels multiplied by
  ``1 + k eps`` with ``k`` uniform in ``[-ULPS, ULPS]`` (``eps`` of their dtype), one draw of ``k``
  per replicate ``R``;
- ``blas-1`` / ``blas-2``: every computation with 1 / 2 BLAS threads (threadpoolctl), training
  runs included (the CLI itself runs them with 1, :data:`coarsegrad.provenance.RUN_BLAS_THREADS`);
- ``no-simd``: NumPy's widest vector paths disabled, ``NPY_DISABLE_CPU_FEATURES`` (default
  ``X86_V3``: AVX2/FMA on this x86 machine; pass ``--disable`` for others, e.g. ``X86_V4``).

The baseline is what ``coarsegrad figures --preset P`` computes: this process's BLAS threads,
training runs with :data:`~coarsegrad.provenance.RUN_BLAS_THREADS`. Each variant runs in its own
process (the CPU-feature variable is read when NumPy is imported). Numbers are compared as the
test compares them (tests/test_figures.py): ``|got - want| / max(1, |want|)``, largest per figure
and per field (:func:`field_spread`: a chaotic field gets its own tolerance, the others stay
tight); integers, strings and booleans must be equal, and any that differ are listed.

Usage::

    python scripts/measure_spread.py                     # all figures, fast preset (~10 min on 2 cores)
    python scripts/measure_spread.py --only cosine --variants ulps-1 blas-1
    python scripts/measure_spread.py --out /tmp/spread --markdown   # the table for docs/testing.md

Never set ``OPENBLAS_CORETYPE`` here: some machines set it themselves (docs/testing.md).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("ulps-1", "ulps-2", "blas-1", "blas-2", "no-simd")
ULPS = 4
#: Safety factor of a tolerance over the measured spread (docs/testing.md).
SAFETY = 10


# ------------------------------------------------------------------------------ perturbation

@contextlib.contextmanager
def perturbed_inputs(replicate: int, ulps: int = ULPS):
    """Within the block, every float a seeded Generator draws, and the MNIST pixels, are multiplied
    by ``1 + k eps`` (``k`` uniform in ``[-ulps, ulps]``, drawn from a generator seeded by
    ``replicate``; ``eps`` of the array's dtype). Integers (indices, permutations) are untouched."""
    import numpy as np

    import coarsegrad.data as data_pkg
    import coarsegrad.data.mnist as mnist_mod
    noise = np.random.Generator(np.random.PCG64(10_000 + replicate))

    def jiggle(x):
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.floating):
            return x
        k = noise.uniform(-ulps, ulps, a.shape).astype(a.dtype)
        out = a * (1 + k * np.finfo(a.dtype).eps)
        return out if isinstance(x, np.ndarray) else out.dtype.type(out)

    class Perturbed(np.random.Generator):
        def standard_normal(self, *args, **kwargs):
            return jiggle(super().standard_normal(*args, **kwargs))

        def normal(self, *args, **kwargs):
            return jiggle(super().normal(*args, **kwargs))

        def uniform(self, *args, **kwargs):
            return jiggle(super().uniform(*args, **kwargs))

        def random(self, *args, **kwargs):
            return jiggle(super().random(*args, **kwargs))

    def default_rng(seed=None):
        if isinstance(seed, np.random.Generator):
            return seed
        return Perturbed(np.random.PCG64(seed))

    original_rng, original_float = np.random.default_rng, mnist_mod.to_float

    def to_float(images, dtype=np.float64):
        return jiggle(original_float(images, dtype))

    np.random.default_rng = default_rng
    mnist_mod.to_float = data_pkg.to_float = to_float
    try:
        yield
    finally:
        np.random.default_rng = original_rng
        mnist_mod.to_float = data_pkg.to_float = original_float


def compute(name: str, preset: str, variant: str, seed: int = 0, runs=None) -> dict:
    """One figure's data under ``variant`` (``base``, ``ulps-R``, ``blas-N``; ``no-simd`` is
    ``base`` in a process started with ``NPY_DISABLE_CPU_FEATURES``), as a JSON round trip.

    ``runs``, optional: makes the figure's ``map_fn`` from the variant's way of running one task,
    ``run_one(fn, task)`` (the suite passes a sampler of the runs, tests/test_figures.py); default: every run."""
    from coarsegrad.figures import FIGURES
    from coarsegrad.provenance import blas_threads
    from coarsegrad.train import _run_here
    compute_fn = FIGURES[name][0]
    runs = runs or (lambda run_one: lambda fn, tasks: [run_one(fn, t) for t in tasks])
    if variant.startswith("blas-"):
        threads = int(variant.split("-")[1])
        with blas_threads(threads):
            data = compute_fn(preset, seed, map_fn=runs(lambda fn, t: fn(t)))   # training runs with `threads` too
    elif variant.startswith("ulps-"):
        with perturbed_inputs(int(variant.split("-")[1])):
            data = compute_fn(preset, seed, map_fn=runs(_run_here))
    else:
        data = compute_fn(preset, seed, map_fn=runs(_run_here))
    return json.loads(json.dumps(data))


# ------------------------------------------------------------------------------ comparison

def difference(got, want, path: str = "") -> tuple:
    """``(largest |got - want| / max(1, |want|) over floats, [exact mismatches])`` of two JSON trees.

    A float compared with NaN on one side only counts as ``inf``; keys, lengths, integers, strings
    and booleans that differ are returned as ``(path, got, want)``."""
    import numpy as np
    if isinstance(want, dict) and isinstance(got, dict):
        if set(got) != set(want):
            return 0.0, [(path, sorted(got), sorted(want))]
        parts = [difference(got[k], want[k], f"{path}.{k}") for k in want]
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return 0.0, [(path, len(got), len(want))]
        parts = [difference(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(got, want))]
    elif isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(want) and math.isnan(got):
            return 0.0, []
        err = abs(got - want) / max(1.0, abs(want))
        return (float("inf") if math.isnan(err) else err), []
    else:
        return 0.0, ([] if got == want else [(path, got, want)])
    if not parts:
        return 0.0, []
    return float(np.max([p[0] for p in parts])), [m for p in parts for m in p[1]]


def field_spread(got, want, field: str = "", out=None) -> dict:
    """The largest ``|got - want| / max(1, |want|)`` per *field*: the last dict key on a number's
    path (``runs[7].cosine[93]`` is field ``cosine``). Chaotic and stable numbers of one figure
    live in different fields (cosine's late cosines jump, its losses do not), so the tolerances
    are per field. Fields that never moved are absent; NaN on one side counts as ``inf``."""
    out = {} if out is None else out
    if isinstance(want, dict) and isinstance(got, dict):
        for k in set(want) & set(got):
            field_spread(got[k], want[k], k, out)
    elif isinstance(want, list) and isinstance(got, list):
        for a, b in zip(got, want):
            field_spread(a, b, field, out)
    elif isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        err = 0.0 if (math.isnan(want) and math.isnan(got)) else abs(got - want) / max(1.0, abs(want))
        err = float("inf") if math.isnan(err) else err
        if err > 0:
            out[field] = max(out.get(field, 0.0), err)
    return out


def tolerance(spread: float, safety: float = SAFETY) -> float:
    """``safety x spread`` rounded up to one significant digit; 0 (exact) for a spread of 0."""
    if spread == 0:
        return 0.0
    t = safety * spread
    decade = 10.0 ** math.floor(math.log10(t))
    return math.ceil(t / decade - 1e-9) * decade


# ------------------------------------------------------------------------------ driver

def claims_values(variant: str, seed: int = 0) -> dict:
    """``verify --quick`` under ``variant``: ``{"claim N | check": value}`` and the Markdown table."""
    from coarsegrad.claims import run_claims
    from coarsegrad.cli import format_claims_markdown
    from coarsegrad.provenance import blas_threads
    context = (blas_threads(int(variant.split("-")[1])) if variant.startswith("blas-")
               else perturbed_inputs(int(variant.split("-")[1])) if variant.startswith("ulps-")
               else contextlib.nullcontext())
    with context:
        results = run_claims("quick", seed=seed)
    values = {f"{r.number} | {c.quantity}": (None if c.value is None else float(c.value))
              for r in results for c in r.checks}
    return {"values": values, "markdown": format_claims_markdown(results)}


def claims_spread(got: dict, want: dict) -> dict:
    """Relative change ``|got - want| / |want|`` of each claims row whose value moved (``inf`` where
    one side is not finite or a row is missing)."""
    out = {}
    for key, b in want["values"].items():
        a = got["values"].get(key, float("nan"))
        if a == b or (b is not None and a is not None and math.isnan(a) and math.isnan(b)):
            continue
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            out[key] = float("inf")
        else:
            out[key] = abs(a - b) / abs(b) if b else float("inf")
    return out


def _child(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.claims:
        start = time.perf_counter()
        (out / "claims.json").write_text(json.dumps(claims_values(args.variant)))
        print(f"  {args.variant:8s} claims {time.perf_counter() - start:6.1f} s", file=sys.stderr, flush=True)
        return 0
    for name in args.only:
        start = time.perf_counter()
        data = compute(name, args.preset, args.variant)
        (out / f"{name}.json").write_text(json.dumps(data))
        print(f"  {args.variant:8s} {name:20s} {time.perf_counter() - start:6.1f} s", file=sys.stderr, flush=True)
    return 0


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    from coarsegrad.figures import FIGURES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=list(FIGURES), choices=list(FIGURES))
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--disable", default="X86_V3", help="NPY_DISABLE_CPU_FEATURES of the no-simd variant")
    parser.add_argument("--out", default=None, help="directory for each variant's JSON (default: a temporary one)")
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/testing.md")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per variant")
    parser.add_argument("--claims", action="store_true",
                        help="measure verify --quick's values instead of the figures (README table tolerances)")
    parser.add_argument("--reuse", action="store_true", help="keep a variant's data already in --out")
    parser.add_argument("--variant", help=argparse.SUPPRESS)          # internal: run one variant here
    args = parser.parse_args(argv)
    if args.variant:
        return _child(args)
    out = Path(args.out or tempfile.mkdtemp(prefix="coarsegrad-spread-"))
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for variant in ("base",) + tuple(args.variants):
        run_env = dict(env, NPY_DISABLE_CPU_FEATURES=args.disable) if variant == "no-simd" else env
        child = "base" if variant == "no-simd" else variant
        wanted = ["claims"] if args.claims else args.only
        if args.reuse and all((out / variant / f"{n}.json").exists() for n in wanted):
            continue
        subprocess.run([sys.executable, __file__, "--variant", child, "--preset", args.preset, "--out",
                        str(out / variant), "--only", *args.only] + (["--claims"] if args.claims else []),
                       env=run_env, check=True, timeout=args.timeout)
    if args.claims:
        base = json.loads((out / "base" / "claims.json").read_text())
        print("| claim \\| check | " + " | ".join(args.variants) + " | largest relative change | rtol |")
        print("| --- " * (len(args.variants) + 3) + "|")
        spreads = {v: claims_spread(json.loads((out / v / "claims.json").read_text()), base) for v in args.variants}
        for key in base["values"]:
            moved = [spreads[v].get(key, 0.0) for v in args.variants]
            if max(moved) > 0:
                print(f"| {key} | " + " | ".join(f"{m:.1e}" if m else "0" for m in moved)
                      + f" | {max(moved):.1e} | {tolerance(max(moved)):.0e} |")
        return 0
    rows = []
    for name in args.only:
        base = json.loads((out / "base" / f"{name}.json").read_text())
        spreads, mismatches = {}, []
        for variant in args.variants:
            err, miss = difference(json.loads((out / variant / f"{name}.json").read_text()), base)
            spreads[variant] = err
            mismatches += [(variant,) + m for m in miss]
        committed = ROOT / "figures" / f"{name}.json"
        vs_committed = difference(base, json.loads(committed.read_text()))[0] if committed.exists() else None
        worst = max(spreads.values())
        fields = {}
        for variant in args.variants:
            for f, e in field_spread(json.loads((out / variant / f"{name}.json").read_text()), base).items():
                fields[f] = max(fields.get(f, 0.0), e)
        rows.append((name, spreads, worst, {f: tolerance(e) for f, e in sorted(fields.items())}, vs_committed,
                     mismatches))
    head = "| figure | " + " | ".join(args.variants) + " | spread | tolerance per field | committed vs this run |"
    print(head)
    print("| --- " * (len(args.variants) + 4) + "|")
    for name, spreads, worst, tol, vs_committed, mismatches in rows:
        cells = [f"{spreads[v]:.1e}" if spreads[v] else "0" for v in args.variants]
        tols = ", ".join(f"{f} {t:.0e}" for f, t in tol.items()) or "exact"
        print(f"| {name} | " + " | ".join(cells) + f" | {worst:.1e} | {tols} | "
              + ("-" if vs_committed is None else f"{vs_committed:.1e}") + " |")
    for name, _, _, _, _, mismatches in rows:
        for m in mismatches[:10]:
            print(f"exact value moved: {name} {m[0]} {m[1]}: {m[2]!r} != {m[3]!r}", file=sys.stderr)
    print(f"(data in {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
