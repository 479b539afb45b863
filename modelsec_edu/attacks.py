"""Evasion attacks: adversarial examples from the gradient of the loss.

The article's third threat, "backpropagation attacks", in working form.  The
threat model: a white-box attacker who knows the weights changes a test input
by at most ``eps`` (in the L-inf or L2 norm) to change the model's answer.

One loop does all the gradient attacks (Madry et al. 2018)::

    x_adv <- project(x_adv + step_size * direction(grad))        `steps` times

and only ``direction`` and ``project`` depend on the norm.  FGSM (Goodfellow
et al. 2015) is that loop with one step of size ``eps`` from ``x``; BIM is it
without a random start.  The loop runs compiled (see :mod:`.gradients`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from . import gradients

__all__ = ["fgsm", "num_classes", "perturbation_norms", "pgd"]

NORMS = ("linf", "l2")
_TINY = 1e-12


# --------------------------------------------------------------------------- validation


def num_classes(model: keras.Model) -> int:
    """Number of output logits of a classifier."""
    try:
        shape = model.outputs[0].shape
    except (AttributeError, IndexError, ValueError):
        shape = None
    if shape is None or shape[-1] is None:
        raise ValueError("cannot tell the number of classes: build the model on an input first")
    return int(shape[-1])


def _finite_nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _bounds(clip: Any, sample_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
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


def _prepare(model, x, y, clip, mask):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model that outputs logits, got {type(model).__name__}")
    x = keras.ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (n, ...), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if expected is not None and any(e is not None and e != s for e, s in zip(expected, x.shape[1:])):
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
    lo, hi = _bounds(clip, x.shape[1:])
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
    return x, y.astype("int32"), lo, hi, m


# --------------------------------------------------------------------------- norms


def _per_sample_norm(v, ord_: str):
    axes = tuple(range(1, len(v.shape)))
    if ord_ == "l2":
        return keras.ops.sqrt(keras.ops.sum(keras.ops.square(v), axis=axes, keepdims=True))
    return keras.ops.max(keras.ops.abs(v), axis=axes, keepdims=True)


def _direction(g, norm: str):
    """Steepest-ascent direction of unit norm: sign(g) for L-inf, g/||g||2 for L2."""
    if norm == "linf":
        return keras.ops.sign(g)
    return g / (_per_sample_norm(g, "l2") + _TINY)


def _project(delta, eps, norm: str):
    """Project a perturbation onto the eps-ball of the norm."""
    if norm == "linf":
        return keras.ops.clip(delta, -eps, eps)
    n = _per_sample_norm(delta, "l2")
    return delta * keras.ops.minimum(1.0, eps / (n + _TINY))


def _random_start(rng: np.random.Generator, shape, eps: float, norm: str) -> np.ndarray:
    """A uniform sample from the eps-ball (L-inf: a box; L2: the ball's volume)."""
    if norm == "linf":
        return rng.uniform(-eps, eps, size=shape).astype("float32")
    d = int(np.prod(shape[1:]))
    g = rng.standard_normal(size=shape).astype("float32")
    g /= np.linalg.norm(g.reshape(len(g), -1), axis=1).reshape((-1,) + (1,) * (len(shape) - 1)) + _TINY
    r = rng.uniform(0, 1, size=(len(g),) + (1,) * (len(shape) - 1)) ** (1.0 / d)
    return (g * eps * r).astype("float32")


# --------------------------------------------------------------------------- the loop


def _make_pgd(norm: str, steps: int, targeted: bool):
    def make():
        def fn(logits, x, y, delta0, eps, step_size, lo, hi, mask):
            def loss(xa):
                per = keras.ops.sparse_categorical_crossentropy(y, logits(xa), from_logits=True)
                total = keras.ops.sum(per)
                return (-total if targeted else total), per

            grad_fn = gradients.value_and_grad(loss)

            def project(xa):
                delta = _project((xa - x) * mask, eps, norm)
                return keras.ops.clip(x + delta, lo, hi)

            def body(_, xa):
                _, _, g = grad_fn(xa)
                return project(xa + step_size * _direction(g, norm))

            x_adv = keras.ops.fori_loop(0, steps, body, project(x + delta0))
            z = logits(x_adv)
            per = keras.ops.sparse_categorical_crossentropy(y, z, from_logits=True)
            return x_adv, per, keras.ops.argmax(z, axis=-1)

        return fn

    return make


def pgd(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    step_size: float,
    steps: int,
    norm: str = "linf",
    random_start: bool = True,
    restarts: int = 1,
    seed: int | None = None,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    targeted: bool = False,
    mask: Any = None,
    batch_size: int = 500,
) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018, "Towards Deep Learning Models
    Resistant to Adversarial Attacks").

    Threat model: white-box; ``||x_adv - x|| <= eps`` in the chosen norm.

    Args:
        model: Keras classifier that outputs logits.
        x: inputs, shape ``(n, ...)``, inside ``clip``.
        y: true labels, or target labels when ``targeted=True``.
        eps: radius of the perturbation ball (>= 0).
        step_size: size of each step in the norm (``eps / 4`` is a sane default).
        steps: number of gradient steps (>= 1).
        norm: ``"linf"`` or ``"l2"``.
        random_start: start from a uniform point of the ball instead of ``x``.
        restarts: independent runs; per input the strongest result is kept
            (misclassified first, then the highest loss).
        seed: seed of the random start, for repeatable runs.
        clip: ``(low, high)``, scalars or per-feature arrays, or None.  After
            every step ``x + delta`` is projected into this box *and* the ball.
        targeted: move towards ``y`` instead of away from it.
        mask: 1 for features the attacker may change, 0 for fixed ones.
        batch_size: inputs attacked at once.

    Returns:
        Adversarial inputs, float32 NumPy array of ``x``'s shape.
    """
    x, y, lo, hi, m = _prepare(model, x, y, clip, mask)
    eps = _finite_nonneg("eps", eps)
    step_size = _finite_nonneg("step_size", step_size)
    steps = _positive_int("steps", steps)
    restarts = _positive_int("restarts", restarts)
    batch_size = _positive_int("batch_size", batch_size)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if eps == 0:
        return x.copy()

    call = gradients.compiled(model, ("pgd", norm, steps, bool(targeted)), _make_pgd(norm, steps, targeted))
    rng = np.random.default_rng(seed)
    t = keras.ops.convert_to_tensor
    consts = [t(np.float32(eps)), t(np.float32(step_size)), t(lo), t(hi), t(m)]

    n = len(x)
    best = x.copy()
    best_score = np.full(n, -np.inf)
    for _ in range(restarts):
        for start in range(0, n, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            k = len(xb)
            if k < batch_size and n > batch_size:  # pad to one shape: one trace serves all batches
                xb = np.concatenate([xb, np.repeat(xb[-1:], batch_size - k, axis=0)])
                yb = np.concatenate([yb, np.repeat(yb[-1:], batch_size - k)])
            if random_start:
                delta0 = _random_start(rng, xb.shape, eps, norm)
            else:
                delta0 = np.zeros_like(xb)
            x_adv, per, pred = call(t(xb), t(yb), t(delta0), *consts)
            x_adv = keras.ops.convert_to_numpy(x_adv)[:k]
            per = keras.ops.convert_to_numpy(per)[:k].astype("float64")
            pred = keras.ops.convert_to_numpy(pred)[:k]
            success = (pred == yb[:k]) if targeted else (pred != yb[:k])
            score = success * 1e6 + (-per if targeted else per)
            better = score > best_score[start : start + k]
            best[start : start + k][better] = x_adv[better]
            best_score[start : start + k][better] = score[better]
    return best


def fgsm(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    targeted: bool = False,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    mask: Any = None,
    batch_size: int = 500,
) -> np.ndarray:
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy 2015, "Explaining and
    Harnessing Adversarial Examples"): ``x + eps * sign(grad_x loss)``, clipped.

    Threat model: white-box, L-inf budget ``eps``, one gradient evaluation.
    With ``targeted=True``, ``y`` holds the targets and the step goes down
    their loss.  Equal to :func:`pgd` with one step of size ``eps`` and no
    random start.
    """
    return pgd(
        model,
        x,
        y,
        eps=eps,
        step_size=eps,
        steps=1,
        norm="linf",
        random_start=False,
        clip=clip,
        targeted=targeted,
        mask=mask,
        batch_size=batch_size,
    )


def perturbation_norms(x: np.ndarray, x_adv: np.ndarray, norms: Sequence[str] = ("linf", "l2")) -> dict[str, np.ndarray]:
    """Per-example norms of ``x_adv - x``: ``{"linf": ..., "l2": ...}``."""
    x = np.asarray(x, dtype="float64")
    x_adv = np.asarray(x_adv, dtype="float64")
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {x.shape} and {x_adv.shape}")
    d = (x_adv - x).reshape(len(x), -1)
    out = {}
    for name in norms:
        if name == "linf":
            out[name] = np.abs(d).max(axis=1)
        elif name == "l2":
            out[name] = np.linalg.norm(d, axis=1)
        elif name == "l0":
            out[name] = (d != 0).sum(axis=1).astype("float64")
        else:
            raise ValueError(f"unknown norm {name!r}; expected 'linf', 'l2' or 'l0'")
    return out
