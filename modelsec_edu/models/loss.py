"""The article's formula, L = 1/N sum_i l(f(x_i), y_i), computed and probed.

The functions here make the empirical loss concrete: by hand in NumPy, as a
function of the input along a direction (the view an attacker takes), and as
the first-order expansion that gives FGSM its formula.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import (
    check_array,
    check_classifier,
    check_clip,
    check_labels,
    check_seed,
)

from . import classifiers as models

__all__ = [
    "cross_entropy",
    "empirical_loss",
    "first_order_change",
    "gradient_sign",
    "log_softmax",
    "logit_gradient",
    "loss_along",
    "random_sign",
]


def log_softmax(logits: Any) -> np.ndarray:
    """``z - logsumexp(z)`` row by row: log-probabilities computed stably from logits."""
    z = check_array(logits, "logits", ndim=2, dtype="float64")
    if z.shape[1] == 0:
        raise ValueError(f"logits must have shape (n, classes) with classes >= 1, got {z.shape}")
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def cross_entropy(logits: Any, y: Any) -> np.ndarray:
    """Per-example loss l(f(x_i), y_i) = -log softmax(f(x_i))[y_i], in NumPy (float64)."""
    lp = log_softmax(logits)
    y = check_labels(y, "y", n=len(lp), num_classes=lp.shape[1])
    return -lp[np.arange(len(lp)), y]


def empirical_loss(logits: Any, y: Any) -> float:
    """The article's L = 1/N sum_i l(f(x_i), y_i) with l the cross-entropy."""
    return float(cross_entropy(logits, y).mean())  # an empty batch (N = 0) is refused there


def logit_gradient(logits: Any, y: Any) -> np.ndarray:
    """d l / d z = softmax(z) - onehot(y): the cross-entropy's gradient with respect to the logits.

    Backpropagation starts from this array.  Its entries stay between -1 and 1
    however confident the model is, so the signal never vanishes when the loss
    is computed from logits (from clipped probabilities it can be exactly 0).
    """
    lp = log_softmax(logits)
    y = check_labels(y, "y", n=len(lp), num_classes=lp.shape[1])
    grad = np.exp(lp)
    grad[np.arange(len(lp)), y] -= 1.0
    return grad


def gradient_sign(model: keras.Model, x: Any, y: Any) -> np.ndarray:
    """sign(d l / d x): the L-inf steepest-ascent direction FGSM steps along."""
    x = check_array(x, "x", min_ndim=2)
    y = check_labels(y, "y", n=len(x), num_classes=check_classifier(model))
    _, g = backend.input_gradient(model, x, y)
    return np.sign(g).astype("float32")


def first_order_change(grad: Any, delta: Any) -> np.ndarray:
    """Predicted loss change l(x + delta) - l(x) ~ delta . grad, one number per example.

    The first-order Taylor expansion FGSM maximises: over ``||delta||_inf <= eps``
    the largest value, ``eps * ||grad||_1``, is reached at ``delta = eps * sign(grad)``
    (Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples").
    """
    g = check_array(grad, "grad", dtype="float64")
    d = check_array(delta, "delta", dtype="float64")
    if g.shape != d.shape:
        raise ValueError(
            f"grad and delta must be batches of one shape, got {g.shape} and {d.shape}"
        )
    return (g * d).reshape(len(g), -1).sum(axis=1)


def random_sign(shape: tuple[int, ...], *, seed: int | None = None) -> np.ndarray:
    """A random direction of the same L-inf size as a gradient sign (entries +-1)."""
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in shape
    ):
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}")
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must hold sizes >= 0, got {shape!r}")
    rng = np.random.default_rng(check_seed(seed))
    return rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=tuple(shape))


def loss_along(
    model: keras.Model,
    x: Any,
    y: Any,
    direction: Any,
    ts: Any,
    *,
    clip: tuple[float, float] | None = (0.0, 1.0),
) -> np.ndarray:
    """Loss l(f(x + t d), y) for each t in ``ts``; returns shape ``(len(ts), n)``.

    Inputs are clipped to the valid range, as an attacker's inputs must be.
    """
    x = check_array(x, "x", min_ndim=2)
    y = check_labels(y, "y", n=len(x), num_classes=check_classifier(model))
    d = check_array(direction, "direction")
    if d.shape != x.shape:
        raise ValueError(f"direction must have x's shape {x.shape}, got {d.shape}")
    ts = check_array(
        np.ravel(ts) if isinstance(ts, (list, tuple, np.ndarray)) else ts, "ts", ndim=1
    )
    lo, hi = check_clip(clip) if clip is not None else (None, None)
    batch = np.concatenate([x + t * d for t in ts])
    if clip is not None:
        batch = np.clip(batch, lo, hi)
    z = models.predict_logits(model, batch)
    return cross_entropy(z, np.tile(y, len(ts))).reshape(len(ts), len(x))
