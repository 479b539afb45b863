"""Datasets, offline first (rank 2: below models and every threat).

* :mod:`.mnist` -- MNIST from a local folder, a hash-checked download, or
  scikit-learn's digits upsampled (chapters 00-06).
* :mod:`.tabular` -- a table's descriptor: feature types, bounds, costs, what
  an attacker may change (chapters 07-08).
* :mod:`.credit` -- the German credit data, shipped, hash-checked (chapter 08).
* :mod:`.fraud` -- synthetic card transactions with fraud, seeded (chapter 08).

Every loader works offline: it falls back to data the package makes or ships,
with an :class:`OfflineDataWarning`, and never hangs.
"""

from . import corruptions, signs
from .credit import CREDIT_SHA256, CreditData, credit_spec, load_german_credit
from .fraud import FraudData, fraud_spec, simulate_transactions
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
from .signs import render_signs
from .tabular import Feature, TabularSpec, Validity, stratified_split

__all__ = [
    "CREDIT_SHA256",
    "CreditData",
    "FraudData",
    "Feature",
    "TabularSpec",
    "Validity",
    "credit_spec",
    "fraud_spec",
    "load_german_credit",
    "simulate_transactions",
    "stratified_split",
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
    "corruptions",
    "render_signs",
    "signs",
]
