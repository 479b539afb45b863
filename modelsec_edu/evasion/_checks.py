"""What only attacks need on top of :mod:`modelsec_edu.validation`: the clip box, the mask, padding.

Every generic check (numbers, labels, models) is in :mod:`modelsec_edu.validation`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import (
    check_array,
    check_choice,
    check_classifier,
    check_clip,
    check_labels,
    check_model,
)

NORMS = ("linf", "l2")


def num_classes(model: keras.Model) -> int:
    """Number of output logits of a classifier (``validation.check_classifier``)."""
    return check_classifier(model)


PRECISIONS = ("auto", "float32", "bfloat16")


def precision(value: Any) -> str:
    """Resolve ``"auto"`` to :func:`modelsec_edu.backend.fast_dtype`."""
    value = check_choice(value, "precision", PRECISIONS)
    return backend.fast_dtype() if value == "auto" else value


def bounds(clip: Any, sample_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``clip`` as two float32 arrays of one sample's shape (``None``: unbounded)."""
    lo, hi = (-np.inf, np.inf) if clip is None else check_clip(clip)
    try:
        lo = np.broadcast_to(np.asarray(lo, dtype="float32"), sample_shape)
        hi = np.broadcast_to(np.asarray(hi, dtype="float32"), sample_shape)
    except ValueError as exc:
        raise ValueError(
            f"clip bounds must broadcast to one sample's shape {sample_shape}"
        ) from exc
    return lo, hi


def prepare(model: Any, x: Any, y: Any, clip: Any, mask: Any):
    """Check an attack's model, inputs, labels, clip box and mask.

    Returns ``(x, y, lo, hi, mask)``: float32 copies of the inputs, int32
    labels, the clip box and the 0/1 mask of mutable features, all NumPy.
    """
    check_model(model)
    x = np.array(
        check_array(x, "x", min_ndim=2), dtype="float32"
    )  # a copy: the caller's array is never touched
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if expected is not None and (
        len(expected) != x.ndim - 1
        or any(e is not None and e != s for e, s in zip(expected, x.shape[1:]))
    ):
        raise ValueError(f"x has sample shape {x.shape[1:]}, but the model expects {expected}")
    y = check_labels(y, "y", n=len(x), num_classes=num_classes(model))
    lo, hi = bounds(clip, x.shape[1:])
    if np.any(x < lo - 1e-6) or np.any(x > hi + 1e-6):
        raise ValueError(
            f"x lies outside the clip range [{lo.min():g}, {hi.max():g}]: "
            "scale the inputs first or pass the right clip"
        )
    if mask is None:
        m = np.ones(x.shape[1:], dtype="float32")
    else:
        m = check_array(mask, "mask", min_len=0)
        try:
            m = np.broadcast_to(m, x.shape[1:])
        except ValueError as exc:
            raise ValueError(f"mask must broadcast to one sample's shape {x.shape[1:]}") from exc
        if not np.all((m == 0) | (m == 1)):
            raise ValueError("mask must hold only 0 (fixed feature) and 1 (mutable feature)")
    return x, y.astype("int32"), lo, hi, np.ascontiguousarray(m)


def pad_batches(n: int, batch_size: int):
    """Yield ``(start, k)`` slices; callers pad short batches to one shape (one trace)."""
    for start in range(0, n, batch_size):
        yield start, min(batch_size, n - start)


def padded(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` padded to ``size`` rows by repeating its last row."""
    if len(a) >= size:
        return a
    return np.concatenate([a, np.repeat(a[-1:], size - len(a), axis=0)])


# ------------------------------------------------------------------ tensors inside compiled code
# What can be checked without converting a (possibly symbolic) tensor: its kind, rank, static
# batch size and dtype.  Values are the caller's business (pgd checks them before it compiles).


def tensor_batch(x: Any, name: str) -> Any:
    """``x`` if it is a tensor or array batch of rank >= 2 and not statically empty."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"{name} must be a tensor or array batch, got {type(x).__name__}")
    shape = tuple(x.shape)
    if len(shape) < 2:
        raise ValueError(f"{name} must be a batch of shape (n, ...), got shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch, got shape {shape}")
    return x


def tensor_labels(y: Any, name: str, n: Any) -> Any:
    """``y`` if it is an integer tensor or array of shape ``(n,)`` (``n`` None: unknown)."""
    if not (hasattr(y, "shape") and hasattr(y, "dtype")):
        raise TypeError(
            f"{name} must be an integer tensor or array of labels, got {type(y).__name__}"
        )
    dtype = keras.backend.standardize_dtype(y.dtype)
    if not dtype.startswith(("int", "uint")):
        raise TypeError(f"{name} must hold integer class labels, got dtype {dtype}")
    shape = tuple(y.shape)
    if len(shape) != 1 or (n is not None and shape[0] is not None and shape[0] != n):
        raise ValueError(f"{name} must have shape ({n},), got {shape}")
    return y
