"""The one place where arguments are checked (rank 0: every module may use it).

One rule for the whole package, after scikit-learn's ``check_scalar``:
``TypeError`` when a value is of the wrong **kind** (a string where a number
belongs, a float where an int belongs, a bool where anything but a bool
belongs, ``None``), ``ValueError`` when it is of the right kind but a wrong
**value** (NaN, out of range, wrong shape, empty).  Every message names the
parameter, what was expected and what arrived::

    >>> check_int(0, "steps", min=1)
    Traceback (most recent call last):
    ValueError: steps must be an int >= 1, got 0

Each function returns the value in its canonical form (a Python ``int``, a
NumPy array of a fixed dtype), so callers use what it returns.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "check_array",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_classifier",
    "check_clip",
    "check_float",
    "check_int",
    "check_labels",
    "check_model",
    "check_new_path",
    "check_path",
    "check_seed",
    "check_splits",
    "check_xy",
]


def _kind(value: Any) -> str:
    return type(value).__name__


def _to_numpy(x: Any) -> Any:
    """A backend tensor as NumPy (lists and scalars pass through)."""
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        import keras

        try:
            return keras.ops.convert_to_numpy(x)
        except Exception:  # noqa: BLE001 - not a tensor after all: let np.asarray judge it
            return x
    return x


def _range(lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi}"
    return ""


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a ``bool``; a string such as ``"no"`` is refused, not read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {_kind(value)} {value!r}")
    return bool(value)


def check_int(value: Any, name: str, *, min: int | None = None, max: int | None = None) -> int:
    """An integer (not a bool, not a float such as 3.0) within ``[min, max]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{_range(min, max)}, got {_kind(value)} {value!r}")
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be an int{_range(min, max)}, got {value}")
    return value


def check_float(
    value: Any,
    name: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """A finite real number (ints accepted, bools refused) within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number{_range(min, max, min_open, max_open)}, got {_kind(value)} "
            f"{value!r}"
        )
    value = float(value)
    bad = not np.isfinite(value)
    bad = bad or (min is not None and (value <= min if min_open else value < min))
    bad = bad or (max is not None and (value >= max if max_open else value > max))
    if bad:
        raise ValueError(
            f"{name} must be a finite number{_range(min, max, min_open, max_open)}, got {value}"
        )
    return value


def check_choice(value: Any, name: str, options: Sequence[str]) -> str:
    """One of ``options`` (strings)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(options)}, got {_kind(value)} {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``None`` or a non-negative int (what ``np.random.default_rng`` takes)."""
    return None if seed is None else check_int(seed, name, min=0)


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    dtype: str | None = "float32",
    finite: bool = True,
    min_len: int = 1,
) -> np.ndarray:
    """A numeric array of ``dtype``: no strings, objects or NaN, at least ``min_len`` rows.

    ``dtype=None`` keeps the array's own numeric dtype (NumPy or backend tensor).

    The result is a new array when a conversion was needed; callers must not
    write into it in place (it may be the caller's own array).
    """
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {_kind(x)}")
    try:
        arr = x if isinstance(x, np.ndarray) else np.asarray(_to_numpy(x))
    except (TypeError, ValueError) as exc:  # ragged lists
        raise ValueError(f"{name} must be a rectangular numeric array: {exc}") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must be a batch with at least {min_ndim} dimensions, got shape {arr.shape}"
        )
    if (arr.ndim == 0 and min_len > 0) or (arr.ndim > 0 and len(arr) < min_len):
        raise ValueError(f"{name} must hold at least {min_len} sample(s), got shape {arr.shape}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if finite and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite: it holds NaN or infinite values")
    return arr


def check_labels(
    y: Any, name: str = "y", *, n: int | None = None, num_classes: int | None = None
) -> np.ndarray:
    """Integer class labels, shape ``(n,)``, each in ``[0, num_classes)``; returned as int64.

    Float labels are refused (``TypeError``) rather than truncated, even 3.0:
    a float here usually means one-hot or probabilities were passed.
    """
    if y is None or isinstance(y, (str, bytes)):
        raise TypeError(f"{name} must be an array of integer labels, got {_kind(y)}")
    try:
        arr = np.asarray(_to_numpy(y))
    except (TypeError, ValueError) as exc:  # ragged lists
        raise ValueError(f"{name} must be a 1-D array of integer labels: {exc}") from None
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (n,), got {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} must have {n} labels (one per input), got {len(arr)}")
    if len(arr) == 0:
        raise ValueError(f"{name} must hold at least one label, got none")
    if num_classes is not None and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must be in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got values from {arr.min()} to {arr.max()}"
        )
    return arr.astype("int64", copy=False)


def check_model(model: Any, name: str = "model") -> Any:
    """A Keras model (anything else is a ``TypeError``)."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"{name} must be a keras.Model, got {_kind(model)}")
    return model


def check_classifier(model: Any, name: str = "model", *, unbuilt_ok: bool = False) -> int | None:
    """A built Keras classifier (logits out); returns its number of classes.

    With ``unbuilt_ok=True`` a model not built yet (no output shape) gives None.
    """
    check_model(model, name)
    try:
        shape = model.outputs[0].shape
    except (AttributeError, IndexError, ValueError):
        shape = None
    if shape is None or shape[-1] is None:
        if unbuilt_ok:
            return None
        raise ValueError(
            f"{name}: cannot tell the number of classes; build the model on an input first"
        )
    return int(shape[-1])


def check_xy(
    x: Any,
    y: Any,
    *,
    num_classes: int | None = None,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    names: tuple[str, str] = ("x", "y"),
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (float32, finite, non-empty) and one integer label per input.

    ``names`` are the parameters' names in messages (``("x_test", "y_test")``).
    """
    x = check_array(x, names[0], ndim=ndim, min_ndim=min_ndim)
    return x, check_labels(y, names[1], n=len(x), num_classes=num_classes)


def check_splits(
    x_train: Any, y_train: Any, x_test: Any, y_test: Any, *, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A training and a test split, each checked by :func:`check_xy` under its own names."""
    x_train, y_train = check_xy(
        x_train, y_train, num_classes=num_classes, names=("x_train", "y_train")
    )
    x_test, y_test = check_xy(x_test, y_test, num_classes=num_classes, names=("x_test", "y_test"))
    return x_train, y_train, x_test, y_test


def check_callable(fn: Any, name: str) -> Any:
    """A callable (a function, a factory, a class); anything else is a ``TypeError``."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {_kind(fn)} {fn!r}")
    return fn


def check_clip(clip: Any, name: str = "clip") -> tuple[Any, Any]:
    """``(lo, hi)``: two numbers or two arrays, finite, with ``lo <= hi`` everywhere."""
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi), got {_kind(clip)} {clip!r}")
    lo, hi = (check_array(np.atleast_1d(v), f"{name} bound") for v in clip)
    if lo.shape != hi.shape and lo.size != 1 and hi.size != 1:
        raise ValueError(f"{name} bounds must have the same shape, got {lo.shape} and {hi.shape}")
    if np.any(lo > hi):
        raise ValueError(f"{name} must have lo <= hi, got lo={clip[0]!r} > hi={clip[1]!r}")
    return clip[0], clip[1]


def check_path(path: Any, name: str, *, exists: bool = False) -> Path:
    """A ``str`` or ``os.PathLike`` as a :class:`~pathlib.Path`; with ``exists=True``, an
    existing file.

    A missing file is a ``FileNotFoundError`` (an ``OSError``, as ``open`` raises).
    """
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and not path):
        raise TypeError(
            f"{name} must be a path (a non-empty str or os.PathLike), got {_kind(path)} {path!r}"
        )
    path = Path(path)
    if exists and not path.is_file():
        raise FileNotFoundError(f"{name}: no such file {str(path)!r}")
    return path


def check_new_path(
    path: Any, name: str, *, overwrite: Any = False, sources: Sequence[Any] = ()
) -> Path:
    """A path to write to: never one of ``sources``, and not an existing file
    unless ``overwrite=True``.

    ``overwrite`` must be a real ``bool``.  A path that names the same file as
    a source (even through a link) is refused whatever ``overwrite`` says: an
    operation never writes onto its own input.
    """
    path = check_path(path, name)
    overwrite = check_bool(overwrite, "overwrite")
    for src in sources:
        src = Path(src)
        if path.resolve() == src.resolve() or (
            path.exists() and src.exists() and os.path.samefile(path, src)
        ):
            raise ValueError(
                f"{name} must differ from the input {str(src)!r}: it would overwrite it"
            )
    if path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a directory, expected a file path")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"{name} {str(path)!r} exists: pass overwrite=True to replace it")
    return path
