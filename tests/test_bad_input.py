"""Bad input, case by case: every case gets a clear error naming the argument and the fix.

``CASES`` is the single source of docs/bad-input.md: ``python tests/test_bad_input.py``
rewrites that table, and ``test_bad_input_table_is_current`` fails when it is stale.
"""
import gzip
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import coarsegrad as cg
from coarsegrad import claims, data, estimators, population as P, train
from coarsegrad._checks import make_rng
from coarsegrad.cli import main
from strategies import seeds

ROOT = Path(__file__).resolve().parents[1]
rng = np.random.default_rng(0)
X = rng.standard_normal((4, 3))
S = cg.Staircase(2, 1.0)
PARAMS = cg.mlp_init(3, 5, 2, 0, staircase=S)
LABELS = np.array([0, 1, 1, 0])
FWD = cg.mlp_forward(X, PARAMS, S)
TEACHER = P.random_teacher(3, 2, 2, S, 0)
SGD = train.SGD(lr=0.1, epochs=1, batch_size=2)
Z = rng.standard_normal((2, 2, 3))


def _tmp_file(content: bytes, name: str = "train-labels-idx1-ubyte") -> Path:
    directory = Path(tempfile.mkdtemp())
    path = directory / name
    path.write_bytes(content)
    return path


def _cli(*argv):
    status = main(list(argv))
    if status != 0:
        raise SystemExit(status)


def _zero_column():
    W = TEACHER.W_star.copy()
    W[:, 1] = 0
    return P.population_grad(TEACHER, TEACHER.v_star, W)


def _diverging_training():
    train.mlp_train(X * 1e300, LABELS, PARAMS, "identity", S, train.SGD(lr=1e300, epochs=2, batch_size=2), seed=0)


def _interrupted_figures():
    out = Path(tempfile.mkdtemp())
    from coarsegrad import figures as F
    saved = F.FIGURES["staircase"]

    def draw(_):
        raise KeyboardInterrupt
    F.FIGURES["staircase"] = (saved[0], draw, saved[2])
    try:
        status = main(["figures", "--preset", "tiny", "--only", "staircase", "--out", str(out), "--quiet"])
    finally:
        F.FIGURES["staircase"] = saved
    leftovers = [p.name for p in out.iterdir() if p.suffix in (".png", ".pdf", ".part")]
    assert not leftovers, leftovers
    raise SystemExit(status)


def _unwritable_out():
    import coarsegrad._io as io_module
    original = io_module.os.access
    io_module.os.access = lambda path, mode: False      # as for a read-only directory (root can write anywhere)
    try:
        _cli("figures", "--preset", "tiny", "--only", "staircase", "--out", tempfile.mkdtemp(), "--quiet")
    finally:
        io_module.os.access = original


def _mu(z, staircase):
    return np.clip(z, 0, staircase.top)


def _broadcasting_mu_prime(z, staircase):
    return np.ones(np.shape(z)[-1:])      # right shape for 1-D z only: broadcasts on the networks' 2-D input


def _nan_mu_prime(z, staircase):
    return np.where(z > 0.5, np.nan, 1.0)


def _corrupt_subset():
    from coarsegrad.data import mnist
    broken = Path(tempfile.mkdtemp()) / "mnist_subset.npz"
    broken.write_bytes(mnist._subset_path().read_bytes()[:100000])     # cut short: BadZipFile
    saved = mnist._subset_path
    mnist._subset_path = lambda: broken
    try:
        data.load_mnist_subset("train")
    finally:
        mnist._subset_path = saved


def _empty_idx_set():
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from test_data import _write_mnist
    directory = Path(tempfile.mkdtemp())
    _write_mnist(directory, n_train=0, n_test=0)
    _cli("data", "check", "--dir", str(directory))


def _wrong_mnist_dir_variable():
    import os
    saved = os.environ.get("COARSEGRAD_MNIST_DIR")
    os.environ["COARSEGRAD_MNIST_DIR"] = tempfile.mkdtemp()             # exists, but holds no IDX files
    try:
        _cli("figures", "--preset", "full", "--only", "mnist", "--out", tempfile.mkdtemp(), "--quiet")
    finally:
        if saved is None:
            del os.environ["COARSEGRAD_MNIST_DIR"]
        else:
            os.environ["COARSEGRAD_MNIST_DIR"] = saved


def _mixed_results():
    import json
    out = Path(tempfile.mkdtemp())
    for name, preset in (("training_curves", "fast"), ("mnist", "tiny")):
        (out / f"{name}.json").write_text(json.dumps({"settings": {"preset": preset, "seed": 0}}))
    _cli("results", "--figures", str(out))


def _train_json_under_a_file():
    blocker = _tmp_file(b"x", "afile")
    _cli("train", "--epochs", "1", "--json", str(blocker / "run.json"))


# (id, input, what happens, call, exception, message pattern)
CASES = [
    ("bits-zero", "`Staircase(bits=0, alpha)`", "ValueError: bits must be an integer in [1, 16]",
     lambda: cg.Staircase(0, 1.0), ValueError, r"bits must be an integer in \[1, 16\]"),
    ("bits-negative", "`Staircase(bits=-2, alpha)`", "ValueError: bits must be an integer in [1, 16]",
     lambda: cg.Staircase(-2, 1.0), ValueError, r"bits must be an integer in \[1, 16\]"),
    ("bits-float", "`Staircase(bits=2.0, alpha)`", "TypeError: bits must be an integer bit-width",
     lambda: cg.Staircase(2.0, 1.0), TypeError, "bits must be an integer bit-width"),
    ("bits-bool", "`Staircase(bits=True, alpha)`", "TypeError: bits must be an integer bit-width",
     lambda: cg.Staircase(True, 1.0), TypeError, "bits must be an integer bit-width"),
    ("alpha-zero", "`Staircase(bits, alpha=0)`", "ValueError: alpha must be finite and > 0",
     lambda: cg.Staircase(2, 0.0), ValueError, "alpha must be finite and > 0"),
    ("alpha-nan", "`Staircase(bits, alpha=nan)`", "ValueError: alpha must be finite and > 0",
     lambda: cg.Staircase(2, float("nan")), ValueError, "alpha must be finite and > 0"),
    ("z-nan", "`Staircase(...)(z)` of an array with a NaN", "ValueError naming the count and the first index",
     lambda: S(np.array([0.0, np.nan])), ValueError, r"z contains 1 non-finite .* index \(1,\)"),
    ("z-string", "`Staircase(...)('abc')`", "TypeError: z must be a numeric array",
     lambda: S("abc"), TypeError, "z must be a numeric array"),
    ("z-complex", "`Staircase(...)(z)` of a complex array", "TypeError: z must be real; take .real",
     lambda: S(np.array([1j])), TypeError, "z must be real"),
    ("ste-unknown", "`get_ste('relux')`", "ValueError listing the registered STEs",
     lambda: cg.get_ste("relux"), ValueError, "unknown STE 'relux'; registered STEs are: identity, relu"),
    ("ste-type", "`get_ste(3)`", "TypeError saying what an STE may be",
     lambda: cg.get_ste(3), TypeError, "ste must be a registered name"),
    ("ste-builtin-replaced", "`register_ste('relu', ...)`", "ValueError: built-in, choose another name",
     lambda: cg.register_ste("relu", np.tanh, np.tanh), ValueError, "built-in STE and cannot be replaced"),
    ("ste-not-callable", "`STE('x', mu, 3)`", "TypeError: mu_prime must be a callable",
     lambda: cg.STE("x", np.tanh, 3), TypeError, "mu_prime must be a callable"),
    ("ste-not-elementwise", "an STE whose `mu'` sums its input", "ValueError: it must be vectorized",
     lambda: cg.check_admissible((lambda z, s: np.maximum(z, 0), lambda z, s: np.sum(z))), ValueError, "must be vectorized"),
    ("x-width", "`mlp_forward` with x of 2 columns for a 3-input net", "ValueError naming the axis and its length",
     lambda: cg.mlp_forward(X[:, :2], PARAMS, S), ValueError, "axis 1 must have length 3"),
    ("x-1d", "`mlp_forward` with one input as a 1-D array", "ValueError suggesting x[None]",
     lambda: cg.mlp_forward(X[0], PARAMS, S), ValueError, r"pass x\[None\]"),
    ("x-empty", "`mlp_forward` with an empty batch", "ValueError: x is empty",
     lambda: cg.mlp_forward(X[:0], PARAMS, S), ValueError, "x is empty"),
    ("weights-inf", "`mlp_forward` with inf in W", "ValueError: params.W contains non-finite values",
     lambda: cg.mlp_forward(X, PARAMS._replace(W=PARAMS.W * np.inf), S), ValueError, "params.W contains"),
    ("params-type", "`mlp_forward(x, [W, b])`", "TypeError: params must be an MLPParams",
     lambda: cg.mlp_forward(X, [1, 2], S), TypeError, "params must be an MLPParams"),
    ("labels-range", "`mlp_loss` with label 2 for 2 classes", "ValueError naming the range and the bad label",
     lambda: cg.mlp_loss(FWD.f, [0, 1, 2, 0]), ValueError, r"must lie in \[0, 1\] for 2 classes; found label 2"),
    ("labels-float", "`mlp_loss` with labels 0.5", "TypeError: integer class labels",
     lambda: cg.mlp_loss(FWD.f, [0.5, 1, 1, 0]), TypeError, "integer class labels"),
    ("labels-count", "`mlp_loss` with 3 labels for 4 samples", "ValueError: 3 labels but 4 samples",
     lambda: cg.mlp_loss(FWD.f, [0, 1, 1]), ValueError, "labels has 3 labels but the batch has 4 samples"),
    ("loss-kind", "`mlp_loss(..., loss='l1')`", "ValueError listing the losses",
     lambda: cg.mlp_loss(FWD.f, LABELS, loss="l1"), ValueError, "loss must be one of cross_entropy"),
    ("pass-mismatch", "`mlp_coarse_grad` with a forward pass of another batch", "ValueError: do not belong to the same batch",
     lambda: cg.mlp_coarse_grad(X[:2], PARAMS, FWD, np.zeros((2, 2)), "relu", S), ValueError, "same batch"),
    ("Z-2d", "`ts_forward` with one sample as a 2-D Z", "ValueError suggesting Z[None]",
     lambda: cg.ts_forward(Z[0], TEACHER.v_star, TEACHER.W_star, S), ValueError, r"pass Z\[None\]"),
    ("v-length", "`ts_forward` with v of the wrong length", "ValueError naming p",
     lambda: cg.ts_forward(Z, np.ones(5), TEACHER.W_star, S), ValueError, "p, the length of v"),
    ("teacher-bits", "`Teacher(..., Staircase(bits=9))`", "ValueError: staircase.bits must be at most 8",
     lambda: P.Teacher(np.ones(2), np.ones((3, 2)), cg.Staircase(9, 1.0)), ValueError, "staircase.bits must be at most 8"),
    ("student-shape", "`population_loss` with W of another shape", "ValueError giving both shapes",
     lambda: P.population_loss(TEACHER, TEACHER.v_star, np.ones((3, 1))), ValueError, "W has shape .3, 1. but"),
    ("w-zero", "`population_grad` with a zero column of W", "ValueError: f is discontinuous at w_k = 0, move it",
     _zero_column, ValueError, r"W\[:, 1\] = 0: the population loss is discontinuous"),
    ("method", "`expected_coarse_grad(..., method='mc')`", "ValueError listing the methods",
     lambda: P.expected_coarse_grad(TEACHER, TEACHER.v_star, TEACHER.W_star, "relu", method="mc"), ValueError,
     "method must be one of auto, closed, gauss, quad"),
    ("closed-form", "`method='closed'` for the log-tailed STE", "ValueError: no piecewise-constant description",
     lambda: P.expected_coarse_grad(TEACHER, TEACHER.v_star, TEACHER.W_star, "log_tailed_relu", method="closed"),
     ValueError, "no piecewise-constant description"),
    ("rho", "`bvn_cdf(0, 0, rho=1.5)`", "ValueError: rho must lie in [-1, 1]",
     lambda: P.bvn_cdf(0, 0, 1.5), ValueError, r"rho must lie in \[-1, 1\]"),
    ("lr", "`SGD(lr=0, ...)`", "ValueError: lr must be a finite number in (0, inf]",
     lambda: train.SGD(lr=0, epochs=1, batch_size=2),
     ValueError, r"lr must be a finite number in \(0"),
    ("momentum", "`SGD(..., momentum=1)`", "ValueError: momentum must be in [0, 1)",
     lambda: train.SGD(lr=0.1, epochs=1, batch_size=2, momentum=1.0),
     ValueError, r"momentum must be a finite number in \[0.0, 1.0\)"),
    ("diverging-sgd", "SGD with a huge step on huge inputs", "FloatingPointError: diverged in epoch 1; lower lr",
     _diverging_training, FloatingPointError, "diverged in epoch 1"),
    ("diverging-gd", "population descent with lr = 1e308", "FloatingPointError: the weights overflowed; lower lr",
     lambda: train.population_descent(TEACHER, TEACHER.W_star + 1, "identity", lr=1e308, steps=3),
     FloatingPointError, "weights overflowed"),
    ("seed", "`mlp_init(..., seed='abc')`", "TypeError: seed must be an int, SeedSequence or Generator",
     lambda: make_rng("abc"), TypeError, "seed must be an int"),
    ("mc-batches", "`monte_carlo(..., n_batches=1)`", "ValueError: n_batches must be >= 2",
     lambda: estimators.monte_carlo(np.mean, lambda g: g.random(3), 1, 0), ValueError, "n_batches must be an integer >= 2"),
    ("synthetic-classes", "`blobs(classes=1)`", "ValueError: classes must be >= 2",
     lambda: data.blobs(classes=1), ValueError, "classes must be an integer >= 2"),
    ("idx-truncated", "an IDX file cut one byte short", "MnistError naming the file: truncated",
     lambda: data.load_idx(_tmp_file(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]))), data.MnistError,
     r"train-labels-idx1-ubyte: truncated: header says \(3,\)"),
    ("idx-gzip", "a corrupt .gz IDX file", "MnistError naming the file: corrupt or truncated gzip",
     lambda: data.load_idx(_tmp_file(gzip.compress(b"\x00\x00\x08\x01")[:12])), data.MnistError,
     "corrupt or truncated gzip"),
    ("idx-magic", "a file that is not IDX", "MnistError: bad magic number",
     lambda: data.load_idx(_tmp_file(b"hello world")), data.MnistError, "not an IDX file"),
    ("mnist-missing", "`load_mnist` on a directory without the files", "MnistError suggesting the fetch command",
     lambda: data.load_mnist(tempfile.mkdtemp()), data.MnistError, "run 'coarsegrad data fetch mnist"),
    ("fetch-offline", "`fetch_mnist` with no network", "ConnectionError within seconds: no network?",
     lambda: data.fetch_mnist(tempfile.mkdtemp(), mirrors=["http://127.0.0.1:9/"], timeout=2), ConnectionError,
     "no network"),
    ("fetch-timeout", "`fetch_mnist(..., timeout=1e308)`", "ValueError: timeout must be in (0, 3600] (not OverflowError)",
     lambda: data.fetch_mnist(tempfile.mkdtemp(), timeout=1e308), ValueError,
     r"timeout must be a finite number in \(0.0, 3600.0\]"),
    ("cli-out-file", "`coarsegrad figures --out FILE`", "exit 2: exists and is not a directory",
     lambda: _cli("figures", "--preset", "tiny", "--only", "staircase", "--out", str(_tmp_file(b"x", "f")), "--quiet"),
     SystemExit, "2"),
    ("cli-out-readonly", "`coarsegrad figures --out` a read-only directory", "exit 2: is not writable",
     _unwritable_out, SystemExit, "2"),
    ("cli-interrupt", "Ctrl-C during `coarsegrad figures`", "exit 130; no half-written or .part file",
     _interrupted_figures, SystemExit, "130"),
    ("cli-claim", "`coarsegrad verify --only 98`", "exit 2: unknown claim number",
     lambda: _cli("verify", "--only", "98"), SystemExit, "2"),
    ("cli-mnist-dir", "`coarsegrad train --data mnist` without --mnist-dir", "exit 2: needs --mnist-dir",
     lambda: _cli("train", "--data", "mnist"), SystemExit, "2"),
    ("cli-ste", "`coarsegrad train --ste relux`", "exit 2: unknown STE, lists the names",
     lambda: _cli("train", "--ste", "relux", "--epochs", "1"), SystemExit, "2"),
    ("cli-epochs", "`coarsegrad train --epochs 0`", "exit 2: --epochs must be an integer in [1, 1000000]",
     lambda: main(["train", "--epochs", "0"]), SystemExit, "2"),
    # the helpers that answered silently wrong (issue 13, finding 8)
    ("one-hot-negative", "`one_hot([-1, 0], 2)`", "ValueError: labels must lie in [0, 1]; found label -1 (no wrap-around)",
     lambda: cg.nets.one_hot([-1, 0], 2), ValueError, r"must lie in \[0, 1\] for 2 classes; found label -1"),
    ("init-int-dtype", "`mlp_init(..., dtype=np.int32)`", "TypeError: dtype must be a floating dtype",
     lambda: cg.mlp_init(3, 5, 2, 0, dtype=np.int32), TypeError, "dtype must be a floating dtype"),
    ("thresholds-int-dtype", "`Staircase(2, 0.5).thresholds_in(int)`", "TypeError: dtype must be a floating dtype",
     lambda: cg.Staircase(2, 0.5).thresholds_in(int), TypeError, "dtype must be a floating dtype"),
    ("alpha-float32", "`Staircase(2, 1e39)` on float32 input", "ValueError: alpha not representable in float32; the range",
     lambda: cg.Staircase(2, 1e39)(np.ones(3, np.float32)), ValueError, "is not representable in float32"),
    ("z-scores-shape", "`z_scores` of a (3,) estimate against (2, 3) exact values", "ValueError giving both shapes",
     lambda: estimators.z_scores(estimators.Estimate(np.zeros(3), np.ones(3), 10), np.zeros((2, 3))), ValueError,
     r"exact has shape \(2, 3\) but estimate.mean has shape \(3,\)"),
    ("eval-data-array", "`mlp_train(..., eval_data=x)`", "TypeError: eval_data must be a pair (x_test, labels_test)",
     lambda: train.mlp_train(X, LABELS, PARAMS, "relu", S, SGD, seed=0, eval_data=X), TypeError,
     r"eval_data must be a pair \(x_test, labels_test\)"),
    ("claims-seed", "`run_claims(seed=-1)`", "ValueError: seed must be a non-negative integer",
     lambda: claims.run_claims("quick", seed=-1, only=[1]), ValueError, "seed must be a non-negative integer; got -1"),
    # a user STE is checked where it enters (finding 4)
    ("ste-broadcasting", "an STE whose `mu'` returns `z.shape[-1:]` (right on 1-D input only)",
     "ValueError when the STE is made: wrong shape on a (2, 3, 20) probe",
     lambda: cg.mlp_coarse_grad(X, PARAMS, FWD, np.zeros((4, 2)), (_mu, _broadcasting_mu_prime), S), ValueError,
     r"mu_prime returned shape \(20,\) for input of shape \(2, 3, 20\)"),
    ("ste-nan", "an STE whose `mu'` is NaN for z > 0.5, in `mlp_train`",
     "ValueError naming the STE and the z (not the step size)",
     lambda: train.mlp_train(X, LABELS, PARAMS, (_mu, _nan_mu_prime), S, SGD, seed=0), ValueError,
     r"mu_prime\(.*\) = .*nan.*it must be finite"),
    ("ste-pieces-flat", "an STE whose `pieces` is one flat (lo, hi, value)", "ValueError: pieces must be (lo, hi, value)",
     lambda: cg.STE("p", _mu, lambda z, s: ((z > 0) & (z <= s.top)).astype(float), pieces=lambda s: (0, s.top, 1.0)),
     ValueError, r"pieces must be \(lo, hi, value\)"),
    ("ecg-shape", "`expected_coarse_grad` with W of another shape", "ValueError giving both shapes (not IndexError)",
     lambda: P.expected_coarse_grad(TEACHER, TEACHER.v_star, np.ones((3, 1)), "relu"), ValueError,
     r"W has shape \(3, 1\) but the teacher's W_star has shape \(3, 2\)"),
    # data files (finding 5)
    ("subset-corrupt", "a corrupted shipped MNIST subset (zip cut short)", "MnistError: unreadable; reinstall coarsegrad",
     _corrupt_subset, data.MnistError, "unreadable .*BadZipFile.*reinstall coarsegrad"),
    ("idx-empty-set", "`coarsegrad data check` on IDX files with 0 images", "exit 2: holds 0 images",
     _empty_idx_set, SystemExit, "2"),
    ("mnist-dir-variable", "`COARSEGRAD_MNIST_DIR` naming a directory without the files",
     "exit 2 before any work, naming the variable",
     _wrong_mnist_dir_variable, SystemExit, "2"),
    # command-line ranges, checked up front (finding 1) and output paths before the work (finding 6)
    ("cli-lr-huge", "`coarsegrad train --lr 1e300`", "exit 2: --lr must be a number in (0, 100]",
     lambda: main(["train", "--lr", "1e300", "--epochs", "2"]), SystemExit, "2"),
    ("cli-alpha-huge", "`coarsegrad train --alpha 1e300`", "exit 2: --alpha must be a number in [1e-06, 1000]",
     lambda: main(["train", "--alpha", "1e300"]), SystemExit, "2"),
    ("cli-hidden-huge", "`coarsegrad train --hidden 10000000000`", "exit 2: --hidden must be in [1, 1000000]",
     lambda: main(["train", "--hidden", "10000000000"]), SystemExit, "2"),
    ("cli-hidden-memory", "`coarsegrad train --hidden 1000000 --batch-size 10000000`", "exit 2: needs about N GB; lower --hidden",
     lambda: _cli("train", "--hidden", "1000000", "--batch-size", "10000000", "--epochs", "1"), SystemExit, "2"),
    ("cli-workers-huge", "`coarsegrad figures --workers 99999999999`", "exit 2: --workers must be in [1, 256]",
     lambda: main(["figures", "--workers", "99999999999"]), SystemExit, "2"),
    ("cli-timeout-huge", "`coarsegrad data fetch mnist --timeout 1e308`", "exit 2: --timeout must be in (0, 3600]",
     lambda: main(["data", "fetch", "mnist", "--dir", "x", "--timeout", "1e308"]), SystemExit, "2"),
    ("cli-json-dir", "`coarsegrad verify --json DIR`", "exit 2 at once: is a directory; give a file name",
     lambda: _cli("verify", "--only", "1", "--json", tempfile.mkdtemp()), SystemExit, "2"),
    ("cli-json-under-file", "`coarsegrad train --json afile/run.json`", "exit 2 before training: not a directory",
     _train_json_under_a_file, SystemExit, "2"),
    ("cli-out-empty", "`coarsegrad figures --out \"\"`", "exit 2: --out must not be empty",
     lambda: main(["figures", "--out", ""]), SystemExit, "2"),
    ("cli-mixed-presets", "`coarsegrad results` on figure data of two presets", "exit 2: mixes runs; regenerate them together",
     _mixed_results, SystemExit, "2"),
]


# --------------------------------------------------------------------------- the CLI (issues 17 and 20)

def _figure_dir(change=None, figure="training_curves"):
    """A copy of the committed figure data, with ``change(data)`` applied to one figure's JSON."""
    import json
    out = Path(tempfile.mkdtemp())
    for path in (ROOT / "figures").glob("*.json"):
        (out / path.name).write_text(path.read_text())
    if change is not None:
        data = json.loads((out / f"{figure}.json").read_text())
        data = change(data) or data
        (out / f"{figure}.json").write_text(json.dumps(data))
    return out


def _results_on(change=None, figure="training_curves", raw=None):
    out = _figure_dir(change, figure)
    if raw is not None:
        (out / f"{figure}.json").write_bytes(raw)
    _cli("results", "--figures", str(out))


def _cli_status(*argv):
    """Raise SystemExit with the status, whatever it is (0 included), for the cases that succeed."""
    raise SystemExit(main(list(argv)))


def _mkstemp_fails(number):
    def call():
        import os
        from coarsegrad import _io

        def refuse(*args, **kwargs):
            raise OSError(number, os.strerror(number))
        saved = _io.tempfile.mkstemp
        _io.tempfile.mkstemp = refuse
        try:
            _cli("train", "--epochs", "1", "--quiet", "--json", str(Path(tempfile.mkdtemp()) / "run.json"))
        finally:
            _io.tempfile.mkstemp = saved
    return call


def _json_to_null():
    import os
    import stat
    from coarsegrad import _io
    # First the decision alone: were it "atomic" (a regression), running the command as root would
    # replace the machine's /dev/null by a regular file.
    assert _io.output("/dev/null", "--json").kind == "direct"
    _cli("train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", "/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)          # still the device, not a regular file
    raise SystemExit(0)


def _json_to_fifo():
    import os
    import threading
    fifo = Path(tempfile.mkdtemp()) / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    status = main(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", str(fifo)])
    reader.join(60)
    assert got and '"history"' in got[0] and fifo.is_fifo()
    raise SystemExit(status)


def _json_to_full():
    from coarsegrad import _io
    assert _io.output("/dev/full", "--json").kind == "direct"          # never replace the device (see above)
    _cli("train", "--epochs", "1", "--hidden", "4", "--quiet", "--json", "/dev/full")


def _library_bug():
    saved = train.mlp_train

    def bug(*args, **kwargs):
        raise ValueError("planted: a library bug on validated arguments")
    train.mlp_train = bug
    try:
        _cli("train", "--epochs", "1", "--quiet")
    finally:
        train.mlp_train = saved


def _results_overflow(data):
    data["wendel"]["2"]["2"] = 1e200


def _results_out_dir():
    _cli("results", "--figures", str(_figure_dir()), "--out", tempfile.mkdtemp())


def _bad_manifest():
    out = _figure_dir()
    (out / "manifest.json").write_text("[1, 2]")
    _cli("results", "--figures", str(out))


#: The CLI's cases: (id, input, what happens, call, exception, exit status). Each prints at most
#: one line on stderr, never a traceback (test_bad_input_case).
CLI_CASES = [
    ("cli-results-settings-int", "`coarsegrad results` on figure data `{\"settings\": 5}`",
     "exit 2: training_curves.json: settings: expected an object; regenerate it (was: internal error)",
     lambda: _results_on(lambda d: {"settings": 5}), SystemExit, "2"),
    ("cli-results-missing-field", "`coarsegrad results` on figure data without `settings.bits`",
     "exit 2: the field 'bits' is missing (was: internal error (KeyError: 'bits'))",
     lambda: _results_on(lambda d: d["settings"].pop("bits") and None), SystemExit, "2"),
    ("cli-results-runs-string", "`coarsegrad results` on figure data whose `runs` is a string",
     "exit 2: runs: expected a list (was: string indices must be integers)",
     lambda: _results_on(lambda d: d.update(runs="abc")), SystemExit, "2"),
    ("cli-results-bad-json", "`coarsegrad results` on a figure file that is not JSON",
     "exit 2: is not valid JSON; regenerate it", lambda: _results_on(raw=b"{oops"), SystemExit, "2"),
    ("cli-results-not-text", "`coarsegrad results` on a binary figure file", "exit 2: is not a text file",
     lambda: _results_on(raw=b"\xff\xfe\x00"), SystemExit, "2"),
    ("cli-results-nested", "`coarsegrad results` on JSON nested 100000 deep", "exit 2: nested too deeply",
     lambda: _results_on(raw=b"[" * 100000 + b"]" * 100000), SystemExit, "2"),
    ("cli-results-overflow", "`coarsegrad results` on data whose numbers overflow (Wendel 1e200)",
     "exit 2, one line (was: KeyError: 'results' inside the error handler)",
     lambda: _results_on(_results_overflow, "subspace_success"), SystemExit, "2"),
    ("cli-results-manifest", "`coarsegrad results` with a manifest that is a list", "exit 2: not a valid manifest",
     _bad_manifest, SystemExit, "2"),
    ("cli-results-out-dir", "`coarsegrad results --out DIR`", "exit 2: --out ... is a directory; give a file name",
     _results_out_dir, SystemExit, "2"),
    ("cli-json-proc", "`coarsegrad verify --json /proc/e.json`",
     "exit 2 before the run, naming --json (was: after the run, naming a hidden .part file)",
     lambda: _cli("verify", "--json", "/proc/e.json"), SystemExit, "2"),
    ("cli-out-proc", "`coarsegrad figures --out /proc/x`", "exit 2 before the run, naming --out",
     lambda: _cli("figures", "--preset", "tiny", "--out", "/proc/x", "--quiet"), SystemExit, "2"),
    ("cli-json-enospc", "`coarsegrad train --json /dev/full` (a full disk, errno 28)",
     "exit 2: --json '/dev/full': cannot write: the disk is full (was: bare [Errno 28])",
     _json_to_full, SystemExit, "2"),
    ("cli-json-eacces", "`coarsegrad train --json` where files cannot be created (errno 13)",
     "exit 2: --json ...: cannot write: permission denied (was: bare [Errno 13])", _mkstemp_fails(13),
     SystemExit, "2"),
    ("cli-json-erofs", "`coarsegrad train --json` on a read-only file system (errno 30)",
     "exit 2: --json ...: the file system is read-only", _mkstemp_fails(30), SystemExit, "2"),
    ("cli-json-dev-null", "`coarsegrad train --json /dev/null` (as root too)",
     "exit 0: written to the device; /dev/null is never replaced by a regular file", _json_to_null,
     SystemExit, "0"),
    ("cli-json-fifo", "`coarsegrad train --json PIPE` (a named pipe)", "exit 0: written into the pipe, which stays a pipe",
     _json_to_fifo, SystemExit, "0"),
    ("cli-json-dash", "`coarsegrad verify --only 1 --json -`",
     "exit 0: the JSON alone on standard output, the table on standard error",
     lambda: _cli_status("verify", "--only", "1", "--json", "-"), SystemExit, "0"),
    ("cli-library-bug", "a ValueError raised inside the library during `coarsegrad train`",
     "exit 3: internal error, please report it (was: exit 2 as if bad input)", _library_bug, SystemExit, "3"),
    ("cli-learn-alpha-float", "`coarsegrad train --float --learn-alpha ae`",
     "exit 2: --learn-alpha needs the quantized network: drop --float (was: the library's ValueError)",
     lambda: _cli("train", "--float", "--learn-alpha", "ae", "--epochs", "1"), SystemExit, "2"),
    ("cli-convention", "`coarsegrad train --convention floor`", "exit 2: --convention: invalid choice (ceil, round)",
     lambda: main(["train", "--convention", "floor"]), SystemExit, "2"),
    ("cli-mnist-dir-missing", "`coarsegrad train --data mnist --mnist-dir nowhere`",
     "exit 2: --mnist-dir 'nowhere' is not a directory; fetch it first",
     lambda: _cli("train", "--data", "mnist", "--mnist-dir", "/nonexistent-coarsegrad"), SystemExit, "2"),
]


@pytest.mark.parametrize("case", CASES + CLI_CASES, ids=[c[0] for c in CASES + CLI_CASES])
def test_bad_input_case(case, capsys):
    _, _, _, call, exc, match = case
    with pytest.raises(exc, match=match) as err:
        call()
    if exc is SystemExit:
        assert str(err.value.code) == match
        stderr = capsys.readouterr().err
        assert "Traceback" not in stderr, stderr
        if match != "0":
            assert len(stderr.strip().splitlines()) == 1, stderr       # one line, always


@pytest.mark.parametrize("target", ["sigma", "mlp_forward", "ts_forward", "population_loss", "expected_coarse_grad"])
@given(seed=seeds, bad=st.sampled_from([np.nan, np.inf, -np.inf]), data_=st.data())
def test_non_finite_anywhere_is_named(target, seed, bad, data_):
    """A NaN or inf at any position of a numeric argument gives a ValueError naming the argument
    and the index of the first bad entry."""
    r = np.random.default_rng(seed)
    if target == "sigma":
        arr, name = r.standard_normal((3, 4)), "z"
        call = S
    elif target == "mlp_forward":
        arr, name = r.standard_normal((5, 3)), "x"
        call = lambda a: cg.mlp_forward(a, PARAMS, S)
    elif target == "ts_forward":
        arr, name = r.standard_normal((2, 2, 3)), "Z"
        call = lambda a: cg.ts_forward(a, TEACHER.v_star, TEACHER.W_star, S)
    else:
        arr, name = TEACHER.W_star + r.standard_normal(TEACHER.W_star.shape), "W"
        call = ((lambda a: P.population_loss(TEACHER, TEACHER.v_star, a)) if target == "population_loss"
                else (lambda a: P.expected_coarse_grad(TEACHER, TEACHER.v_star, a, "relu")))
    index = tuple(data_.draw(st.integers(0, d - 1)) for d in arr.shape)
    arr[index] = bad
    with pytest.raises(ValueError, match=rf"{name} contains 1 non-finite value\(s\).*index {re_tuple(index)}"):
        call(arr)


def re_tuple(index):
    return r"\(" + r", ".join(str(i) for i in index) + (r",\)" if len(index) == 1 else r"\)")


def render_table() -> str:
    lines = ["# Bad input: what happens, and the test that checks it", "",
             "Generated from `CASES` in `tests/test_bad_input.py` (`python tests/test_bad_input.py` rewrites it); "
             "each row is one parametrized case of `test_bad_input_case`. Numeric arguments are also fuzzed by "
             "`test_non_finite_anywhere_is_named`: a NaN or inf at any position gives a `ValueError` naming the "
             "argument and the index of the first bad entry. Files are written atomically throughout (a "
             "temporary file renamed into place), so nothing already written is lost or half-written.", "",
             f"{len(CASES)} cases.", "",
             "| # | input | what happens | test |", "| --- | --- | --- | --- |"]
    for i, (cid, what, outcome, *_rest) in enumerate(CASES, 1):
        lines.append(f"| {i} | {what} | {outcome} | `test_bad_input_case[{cid}]` |")
    lines += ["", "## CLI", "",
              "The `coarsegrad` command: bad input is one line on stderr naming the option, exit 2; a bug in the "
              "library is `internal error`, exit 3 (`COARSEGRAD_DEBUG=1` adds the traceback) -- told apart by where "
              "the error comes from (the validation layer), not by its type. Outputs: `-` is standard output; "
              "devices and pipes are written, never replaced; paths are checked before the work. Rows 46-52 and "
              "65-76 above are CLI cases too. The results page's field check is also fuzzed: "
              "`tests/test_cli.py::test_every_field_the_results_page_reads_is_checked_first`.", "",
              f"{len(CLI_CASES)} cases.", "",
              "| # | input | what happens | test |", "| --- | --- | --- | --- |"]
    for i, (cid, what, outcome, *_rest) in enumerate(CLI_CASES, 1):
        lines.append(f"| C{i} | {what} | {outcome} | `test_bad_input_case[{cid}]` |")
    return "\n".join(lines) + "\n"


#: Below this line docs/bad-input.md holds hand-written sections (one per module family), each row naming
#: its test; the generated table above it is compared here, the sections are kept when it is rewritten.
SECTIONS = "\n<!-- hand-written sections below: each row names its test -->\n"


def test_bad_input_table_is_current():
    assert len(CASES) >= 30
    assert (ROOT / "docs" / "bad-input.md").read_text().split(SECTIONS)[0] == render_table(), \
        "docs/bad-input.md is stale: run python tests/test_bad_input.py"


if __name__ == "__main__":
    old = (ROOT / "docs" / "bad-input.md").read_text()
    (ROOT / "docs" / "bad-input.md").write_text(render_table() + (SECTIONS + old.split(SECTIONS, 1)[1]
                                                                  if SECTIONS in old else ""))
    print(f"wrote docs/bad-input.md ({len(CASES)} cases)")
