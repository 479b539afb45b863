"""Provenance of a training set: hash every sample, so a changed one is noticed.

Threat model: the attacker edits, adds or swaps training samples between the
moment the data was vetted and the moment a model is trained on it (a shared
bucket, a data pipeline, a mirror).  Record one SHA-256 per sample when the
data is vetted; before training, recompute and compare.  Poisons added
*before* vetting are not caught: provenance tells you the data is the data
you vetted, not that it is clean (that is the detectors' job, see
:mod:`.poison_detection`).

A sample's digest covers its label, dtype, shape and bytes, so changing one
pixel by one bit, or one label, changes it.  The dataset digest is a hash of
the sample digests in order: one short string to publish beside a model.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_labels

__all__ = ["changed_samples", "dataset_digest", "sample_digests"]


def _check(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_array(x, "x", dtype=None, finite=False)  # any numeric sample can be hashed, NaN too
    return x, check_labels(y, "y", n=len(x))


def sample_digests(x: Any, y: Any) -> np.ndarray:
    """One hex SHA-256 per sample (label, dtype, shape and bytes); an array of strings."""
    x, y = _check(x, y)
    header = f"{x.dtype.str}|{x.shape[1:]}|".encode()
    xs = np.ascontiguousarray(x)
    out = [
        hashlib.sha256(header + str(int(label)).encode() + b"|" + xs[i].tobytes()).hexdigest()
        for i, label in enumerate(y)
    ]
    return np.array(out, dtype="<U64")


def dataset_digest(x: Any, y: Any) -> str:
    """One hex SHA-256 for the whole set: a hash over the sample digests, in order."""
    digests = sample_digests(x, y)
    h = hashlib.sha256(f"{len(digests)} samples\n".encode())
    for d in digests:
        h.update(d.encode())
    return h.hexdigest()


def changed_samples(x: Any, y: Any, digests: Any) -> np.ndarray:
    """Indices of the samples whose digest differs from the recorded ``digests``.

    Raises ValueError when the number of samples changed: then samples were
    added or removed, and positions no longer line up.
    """
    digests = (
        np.asarray(digests)
        if not isinstance(digests, (str, bytes)) and digests is not None
        else None
    )
    if digests is None or digests.dtype.kind != "U":
        raise TypeError("digests must be the array of hex strings that sample_digests returned")
    now = sample_digests(x, y)
    if now.shape != digests.shape:
        raise ValueError(
            f"the set has {len(now)} samples but {len(digests)} digests were recorded: samples "
            "were added or removed"
        )
    return np.flatnonzero(now != digests)
