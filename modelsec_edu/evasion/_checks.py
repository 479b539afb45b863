"""Input checks shared by every attack: one place says what is expected and what arrived."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend

NORMS = ("linf", "l2")


def num_classes(model: keras.Model) -> int:
    """Number of output logits of a classifier."""
    try:
        shape = model.outputs[0].shape
    except (AttributeError, IndexError, ValueError):
        shape = None
    if shape is None or shape[-1] is None:
        raise ValueError("cannot tell the number of classes: build the model on an input first")
    return int(shape[-1])


def finite_nonneg(name: str, value: Any) -> float:
    """``value`` as a float, or a clear error when it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or a clear error when it is not an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def norm_name(norm: Any, allowed: tuple[str, ...] = NORMS) -> str:
    if norm not in allowed:
        raise ValueError(f"norm must be one of {allowed}, got {norm!r}")
    return norm


PRECISIONS = ("auto", "float32", "bfloat16")


def precision(value: Any) -> str:
    """Resolve ``"auto"`` to :func:`modelsec_edu.backend.fast_dtype`."""
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {value!r}")
    if value == "auto":
        return backend.fast_dtype()
    return value


def seed_value(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    return None if seed is None else int(seed)


def bounds(clip: Any, sample_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``clip`` as two float32 arrays of one sample's shape (``None``: unbounded)."""
    if clip is None:
        lo, hi = -np.inf, np.inf
    else:
        if not isinstance(clip, (tuple, list)) or len(clip) != 2:
            raise TypeError(f"clip must be a (low, high) pair or None, got {clip!r}")
        lo, hi = clip
    try:
        lo = np.broadcast_to(np.asarray(lo, dtype="float32"), sample_shape)
        hi = np.broadcast_to(np.asarray(hi, dtype="float32"), sample_shape)
    except ValueError as exc:
        raise ValueError(f"clip bounds must broadcast to one sample's shape {sample_shape}") from exc
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo > hi):
        raise ValueError("clip must satisfy low <= high everywhere, without NaN")
    return lo, hi


def prepare(model: Any, x: Any, y: Any, clip: Any, mask: Any):
    """Check an attack's model, inputs, labels, clip box and mask.

    Returns ``(x, y, lo, hi, mask)``: float32 copies of the inputs, int32
    labels, the clip box and the 0/1 mask of mutable features, all NumPy.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model that outputs logits, got {type(model).__name__}")
    x = keras.ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x
    x = np.array(x, dtype="float32")  # a copy: the caller's array is never touched
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (n, ...), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if expected is not None and (
        len(expected) != x.ndim - 1 or any(e is not None and e != s for e, s in zip(expected, x.shape[1:]))
    ):
        raise ValueError(f"x has sample shape {x.shape[1:]}, but the model expects {expected}")
    y = keras.ops.convert_to_numpy(y) if not isinstance(y, np.ndarray) else y
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise ValueError(f"y must be integer labels of shape ({len(x)},), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    k = num_classes(model)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must be in [0, {k - 1}], got values from {y.min()} to {y.max()}")
    lo, hi = bounds(clip, x.shape[1:])
    if np.any(x < lo - 1e-6) or np.any(x > hi + 1e-6):
        raise ValueError(
            f"x lies outside the clip range [{lo.min():g}, {hi.max():g}]: "
            "scale the inputs first or pass the right clip"
        )
    if mask is None:
        m = np.ones(x.shape[1:], dtype="float32")
    else:
        try:
            m = np.broadcast_to(np.asarray(mask, dtype="float32"), x.shape[1:])
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
