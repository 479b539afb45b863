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
    z = np.asarray(logits, dtype="float64")
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits must have shape (n, classes) with classes >= 1, got {z.shape}")
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def _labels(y: Any, lp: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (len(lp),):
        raise ValueError(f"y must have shape ({len(lp)},) to match the logits, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= lp.shape[1]):
        raise ValueError(f"y must hold integer labels in [0, {lp.shape[1] - 1}], got {y.min()}..{y.max()}")
    return y


def cross_entropy(logits: Any, y: Any) -> np.ndarray:
    """Per-example loss l(f(x_i), y_i) = -log softmax(f(x_i))[y_i], in NumPy (float64)."""
    lp = log_softmax(logits)
    y = _labels(y, lp)
    return -lp[np.arange(len(lp)), y]


def empirical_loss(logits: Any, y: Any) -> float:
    """The article's L = 1/N sum_i l(f(x_i), y_i) with l the cross-entropy."""
    per = cross_entropy(logits, y)
    if per.size == 0:
        raise ValueError("the empirical loss of an empty batch is undefined (N = 0)")
    return float(per.mean())


def logit_gradient(logits: Any, y: Any) -> np.ndarray:
    """d l / d z = softmax(z) - onehot(y): the cross-entropy's gradient with respect to the logits.

    Backpropagation starts from this array.  Its entries stay between -1 and 1
    however confident the model is, so the signal never vanishes when the loss
    is computed from logits (from clipped probabilities it can be exactly 0).
    """
    lp = log_softmax(logits)
    y = _labels(y, lp)
    grad = np.exp(lp)
    grad[np.arange(len(lp)), y] -= 1.0
    return grad


def gradient_sign(model: keras.Model, x: Any, y: Any) -> np.ndarray:
    """sign(d l / d x): the L-inf steepest-ascent direction FGSM steps along."""
    _, g = backend.input_gradient(model, x, y)
    return np.sign(g).astype("float32")


def first_order_change(grad: Any, delta: Any) -> np.ndarray:
    """Predicted loss change l(x + delta) - l(x) ~ delta . grad, one number per example.

    The first-order Taylor expansion FGSM maximises: over ``||delta||_inf <= eps``
    the largest value, ``eps * ||grad||_1``, is reached at ``delta = eps * sign(grad)``
    (Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples").
    """
    g = np.asarray(grad, dtype="float64")
    d = np.asarray(delta, dtype="float64")
    if g.shape != d.shape or g.ndim < 1:
        raise ValueError(f"grad and delta must be batches of one shape, got {g.shape} and {d.shape}")
    return (g * d).reshape(len(g), -1).sum(axis=1)


def random_sign(shape: tuple[int, ...], *, seed: int | None = None) -> np.ndarray:
    """A random direction of the same L-inf size as a gradient sign (entries +-1)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=shape)


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
    x = np.asarray(x, dtype="float32")
    d = np.asarray(direction, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (n, ...), got shape {x.shape}")
    if np.shape(y) != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) to match x, got {np.shape(y)}")
    if d.shape != x.shape:
        raise ValueError(f"direction must have x's shape {x.shape}, got {d.shape}")
    ts = np.asarray(ts, dtype="float32").ravel()
    if ts.size == 0 or not np.all(np.isfinite(ts)):
        raise ValueError("ts must be a non-empty array of finite step sizes")
    batch = np.concatenate([x + t * d for t in ts])
    if clip is not None:
        batch = np.clip(batch, *clip)
    z = models.predict_logits(model, batch)
    return cross_entropy(z, np.tile(np.asarray(y), len(ts))).reshape(len(ts), len(x))
