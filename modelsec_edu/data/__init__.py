"""Datasets, offline first (rank 2: below models and every threat).

* :mod:`.mnist` -- MNIST from a local folder, a hash-checked download, or
  scikit-learn's digits upsampled (chapters 00-06).

Every loader works offline: it falls back to data the package makes or ships,
with an :class:`OfflineDataWarning`, and never hangs.
"""

from .mnist import (
    DATA_ENV,
    MNIST_SHA256,
    MNIST_URL,
    OfflineDataWarning,
    cache_dir,
    load_mnist,
    load_mnist_dir,
    load_mnist_float,
    load_sklearn_digits,
    to_float,
)

__all__ = [
    "DATA_ENV",
    "MNIST_SHA256",
    "MNIST_URL",
    "OfflineDataWarning",
    "cache_dir",
    "load_mnist",
    "load_mnist_dir",
    "load_mnist_float",
    "load_sklearn_digits",
    "to_float",
]
