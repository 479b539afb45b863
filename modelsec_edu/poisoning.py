"""Data poisoning: the attacker changes the training data.

Threat model: the attacker controls a fraction of the training set (its
labels, or its inputs too) but not the training code or the test inputs.
Every function is a pure array transform: it copies its inputs, never changes
them, and returns the poisoned data together with the indices it touched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["flip_labels"]


def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)):
        raise TypeError(f"rate must be a number in [0, 1], got {type(rate).__name__}")
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    return rate


def _check_labels(y: Any, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of integer labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes - 1}], got {y.min()}..{y.max()}")
    return y


def flip_labels(
    x: Any,
    y: Any,
    *,
    rate: float,
    seed: int | None = None,
    source: int | None = None,
    target: int | None = None,
    num_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flip the labels of a fraction ``rate`` of the samples.

    * Random flips (``source`` and ``target`` None): each chosen label becomes
      a different class drawn uniformly, the "uniform noise" attacker.
    * Targeted flips (``source=a, target=b``): a fraction ``rate`` of the
      samples of class ``a`` are relabelled ``b``; concentrated noise that
      teaches the model a wrong rule for one class.

    Returns:
        ``(x_copy, y_poisoned, idx)``; ``idx`` (sorted) lists the samples whose
        label changed.  ``x`` is returned as an unaliased copy.
    """
    rate = _check_rate(rate)
    y = _check_labels(y, num_classes)
    x = np.array(x, copy=True)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if (source is None) != (target is None):
        raise ValueError("give both source and target for targeted flips, or neither")
    rng = np.random.default_rng(seed)
    y_new = y.copy()
    if source is None:
        pool = np.arange(len(y))
    else:
        for name, c in (("source", source), ("target", target)):
            if not 0 <= int(c) < num_classes:
                raise ValueError(f"{name} must be a class in [0, {num_classes - 1}], got {c}")
        if source == target:
            raise ValueError(f"source and target must differ, both are {source}")
        pool = np.flatnonzero(y == source)
    idx = np.sort(rng.choice(pool, size=int(round(rate * len(pool))), replace=False))
    if source is None:
        shift = rng.integers(1, num_classes, size=len(idx))  # never the same class
        y_new[idx] = (y[idx] + shift) % num_classes
    else:
        y_new[idx] = target
    return x, y_new, idx
