"""Data: seeded synthetic sets, the Gaussian teacher-student sampler, and MNIST (a real
10,000-digit subset shipped inside the package, plus a loader and fetcher for the full set).

Nothing here touches the network unless you call :func:`fetch_mnist`.
"""
from .mnist import (MNIST_FILES, MnistError, fetch_mnist, load_idx, load_mnist, load_mnist_subset,
                    subset_info, to_float)
from .synthetic import SYNTHETIC_SETS, blobs, sectors, teacher_student_sample

__all__ = ["blobs", "sectors", "teacher_student_sample", "SYNTHETIC_SETS",
           "load_mnist_subset", "subset_info", "load_idx", "load_mnist", "fetch_mnist", "to_float",
           "MNIST_FILES", "MnistError"]
