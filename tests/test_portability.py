"""The same answers on every machine (SPEC section 11, docs/testing.md "Tolerance policy"): outputs
record the arithmetic they were made with; a training run gives the same numbers in this process
and in a worker, whatever ``--workers``; the perturbation harness behind the figure tolerances
perturbs what it says and a tolerance still covers what rounding does; the lowest declared
dependency versions are the ones CI installs."""
import importlib.util
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from coarsegrad import provenance as prov
from coarsegrad.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _measure_spread():
    spec = importlib.util.spec_from_file_location("measure_spread", ROOT / "scripts" / "measure_spread.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- provenance

def _check_provenance(record):
    import scipy
    assert record["numpy"] == np.__version__ and record["scipy"] == scipy.__version__
    assert record["blas"], "no BLAS recorded"
    for lib in record["blas"]:
        assert {"library", "version", "kernel", "threads"} <= set(lib)


def test_provenance_records_versions_and_blas_kernel_and_threads():
    pytest.importorskip("threadpoolctl", reason="the kernel and thread count are read with threadpoolctl")
    record = prov.provenance()
    _check_provenance(record)
    assert json.loads(json.dumps(record)) == record                   # JSON as it is
    blas = record["blas"][0]
    assert blas["source"] == "threadpoolctl" and blas["kernel"] and blas["threads"] >= 1, blas
    assert record["run_blas_threads"] == prov.RUN_BLAS_THREADS


def test_provenance_without_threadpoolctl_says_so(monkeypatch):
    """threadpoolctl is optional: without it the library comes from NumPy's build configuration and
    the kernel and thread count are None, not guessed; blas_threads does nothing."""
    monkeypatch.setattr(prov, "_threadpoolctl", lambda: None)
    record = prov.provenance()
    _check_provenance(record)
    assert all(b["kernel"] is None and b["threads"] is None for b in record["blas"])
    assert record["blas"][0]["source"] == "numpy build configuration"
    assert record["run_blas_threads"] is None
    with prov.blas_threads(1):
        pass


def test_blas_threads_sets_and_restores_the_count():
    pytest.importorskip("threadpoolctl", reason="blas_threads needs threadpoolctl")
    before = [b["threads"] for b in prov.blas_info()]
    with prov.blas_threads(1):
        assert all(b["threads"] == 1 for b in prov.blas_info())
    assert [b["threads"] for b in prov.blas_info()] == before


def test_verify_json_and_figure_manifest_record_provenance(tmp_path, capsys):
    assert main(["verify", "--quick", "--only", "1", "--json", str(tmp_path / "v.json")]) == 0
    _check_provenance(json.loads((tmp_path / "v.json").read_text())["provenance"])
    assert main(["figures", "--preset", "tiny", "--only", "staircase", "--out", str(tmp_path / "f"), "--quiet"]) == 0
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    _check_provenance(manifest["figures"]["staircase"]["provenance"])
    capsys.readouterr()


# ---------------------------------------------------------------------------- worker-count independence

def float32_mlp_run(task):
    """A small MNIST-shaped float32 training run (784-256-10, batches of 32): the shapes whose
    OpenBLAS SGEMM rounds differently with 1 and 2 threads. Returns the final weights' bytes."""
    from coarsegrad.nets import mlp_init
    from coarsegrad.quant import Staircase
    from coarsegrad.train import SGD, mlp_train
    rng = np.random.default_rng(task)
    x = rng.random((256, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 256)
    stair = Staircase(2, 1.0)
    params0 = mlp_init(784, 256, 10, task, staircase=stair, dtype=np.float32)
    params, _ = mlp_train(x, labels, params0, "clipped_relu", stair, SGD(lr=0.1, epochs=2, batch_size=32, momentum=0.9),
                          seed=task)
    return [np.asarray(p).tobytes() for p in (params.W, params.V)]


@pytest.mark.slow
def test_a_run_gives_the_same_numbers_in_this_process_and_in_workers():
    """Issue 16 item 6: the same run in this process (which has 2 BLAS threads by default) and in a
    pool worker (1) gives the same bits, with any --workers: run_sweep fixes each run's BLAS threads.
    Control: with this process's own thread count the run differs where the BLAS rounds
    differently with 2 threads -- the cause the fix removes."""
    pytest.importorskip("threadpoolctl", reason="fixing the thread count of this process needs threadpoolctl")
    from coarsegrad.train import run_sweep
    tasks = [1, 2]
    here = run_sweep(float32_mlp_run, tasks, workers=1)
    assert run_sweep(float32_mlp_run, tasks, workers=2) == here
    with prov.blas_threads(2):
        assert run_sweep(float32_mlp_run, tasks, workers=1) == here      # run_sweep overrides the 2 threads
        unfixed = [float32_mlp_run(t) for t in tasks]
    if unfixed == here:
        pytest.skip("this BLAS rounds the same with 1 and 2 threads here: the control has nothing to show")
    assert unfixed != here


# ---------------------------------------------------------------------------- perturbation harness

def test_perturbed_inputs_moves_draws_by_a_few_ulps_only():
    """The harness of scripts/measure_spread.py: inside it every float draw is within ULPS ulps of
    the unperturbed one and some move; integers and permutations do not; outside, nothing moves."""
    ms = _measure_spread()
    want = np.random.default_rng(3).standard_normal(1000)
    wint = np.random.default_rng(3).permutation(50)
    with ms.perturbed_inputs(1):
        rng = np.random.default_rng(3)
        got = rng.standard_normal(1000)
        gint = np.random.default_rng(3).permutation(50)
        from coarsegrad.data import to_float
        pix = to_float(np.arange(256, dtype=np.uint8), np.float32)
    rel = np.abs(got - want) / np.abs(want)
    assert 0 < np.max(rel) <= (ms.ULPS + 1) * np.finfo(float).eps      # + the product's own rounding
    assert np.array_equal(gint, wint)
    assert 0 < np.max(np.abs(pix[1:] * 255 / np.arange(1, 256) - 1)) <= 2 * (ms.ULPS + 1) * np.finfo(np.float32).eps
    assert np.array_equal(np.random.default_rng(3).standard_normal(1000), want)


def test_spread_difference_and_tolerance():
    ms = _measure_spread()
    assert ms.difference({"a": [1.0, 2.0], "n": 3}, {"a": [1.0, 2.0], "n": 3}) == (0.0, [])
    err, miss = ms.difference({"a": [1.0, 2.0 + 1e-9], "n": 4}, {"a": [1.0, 2.0], "n": 3})
    assert err == pytest.approx(0.5e-9) and miss == [(".n", 4, 3)]
    assert ms.difference({"a": float("nan")}, {"a": 1.0})[0] == np.inf
    assert ms.tolerance(0.0) == 0.0
    assert ms.tolerance(1.8e-15) == pytest.approx(2e-14) and ms.tolerance(3.2e-4) == pytest.approx(4e-3)


@pytest.mark.slow
def test_cheapest_chaotic_figure_spread_is_within_its_tolerance():
    """Re-measure the rounding spread of the cheapest figure that rounding moves (fast preset, inputs
    +-4 ulps and one BLAS thread): it moves (the perturbation reaches it), only in fields that have
    a tolerance, and each field stays within the tolerance tests/test_figures.py compares it with,
    so a tolerance cannot silently become too tight when the code changes.

    In the suite on the runs the committed-figure test recomputes (its sample, FIGURE_SAMPLE_STRIDE); with
    ``COARSEGRAD_FULL_FIGURES=1`` (``.ci/run`` step 2, where that test compares every run) on every run."""
    from test_figures import FIGURE_SAMPLE_STRIDE, FIGURE_TOLERANCE, _sampled_runs
    ms = _measure_spread()
    name = CHEAPEST_CHAOTIC_FIGURE
    tols = FIGURE_TOLERANCE[name]
    assert tols, f"{name} is compared exactly: pick a figure that rounding moves"
    full = os.environ.get("COARSEGRAD_FULL_FIGURES", "") not in ("", "0")
    runs = None if full else (lambda run_one: _sampled_runs(FIGURE_SAMPLE_STRIDE.get(name, 1), run_one))
    base = ms.compute(name, "fast", "base", runs=runs)
    moved = {}
    for variant in ("ulps-1", "blas-1"):
        got = ms.compute(name, "fast", variant, runs=runs)
        assert ms.difference(got, base)[1] == [], variant           # exact values stay exact
        for field, err in ms.field_spread(got, base).items():
            moved[field] = float(np.maximum(moved.get(field, 0.0), err))     # NaN propagates: a failure below
    assert moved, f"the perturbations did not move {name}: the harness no longer reaches its inputs"
    for field, err in moved.items():
        assert err <= tols.get(field, 0.0), (field, err, tols)


#: The cheapest fast-preset figure whose data rounding moves (scripts/measure_spread.py: about 3 s
#: per compute; its SGD losses and alpha moved by 1.2e-15 and 1.0e-15 under inputs +-4 ulps).
CHEAPEST_CHAOTIC_FIGURE = "alpha_learning"


# ---------------------------------------------------------------------------- declared lower bounds

def _lower_bounds() -> dict:
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, flags=re.S | re.M).group(1)
    test = re.search(r"^test = \[(.*?)\]\s*$", text, flags=re.M | re.S).group(1)
    bounds = {}
    for name, version in re.findall(r'"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9.]+)"', deps + test):
        bounds[name.lower()] = version
    return bounds


def test_lowest_versions_file_pins_the_declared_lower_bounds():
    """ci/lowest.txt (the lowest-versions CI step) pins the run-time dependencies, pytest and
    hypothesis -- and whatever else it pins with a declared bound -- to a release of the series of
    the lower bound in pyproject.toml, so the bound is what CI runs."""
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([0-9.]+)\s*$", (ROOT / "ci" / "lowest.txt").read_text(), flags=re.M))
    pins = {k.lower(): v for k, v in pins.items()}
    bounds = _lower_bounds()
    required = {"numpy", "scipy", "matplotlib", "pytest", "hypothesis"}
    assert required <= set(bounds)
    for name in sorted(required | (set(pins) & set(bounds))):
        bound = bounds[name]
        assert name in pins, f"ci/lowest.txt does not pin {name} (pyproject.toml: >={bound})"
        b, p = [int(x) for x in bound.split(".")], [int(x) for x in pins[name].split(".")]
        assert p[:len(b)] == b, f"{name}: ci/lowest.txt pins {pins[name]}, pyproject.toml declares >={bound}"


def test_ci_runs_the_one_thread_and_lowest_versions_steps():
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    for var in ("OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1", "BLIS_NUM_THREADS=1"):
        assert var in script, var
    assert "ci/lowest.txt" in script
    commands = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not any("OPENBLAS_CORETYPE" in line for line in commands), "CI must never set OPENBLAS_CORETYPE"
