"""The only norm-specific code of the gradient attacks: a step direction, a projection, a start.

For the L-inf norm the steepest-ascent step of unit size is ``sign(g)`` and the
projection onto the ball is a clip; for L2 the step is ``g / ||g||`` and the
projection rescales a too-long perturbation onto the sphere.  Everything else
in PGD is shared (the Foolbox design: the loop once, the norm as a plug-in).
The tensor functions speak ``keras.ops`` and run inside compiled code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_choice, check_float, check_int

__all__ = ["direction", "per_sample_norm", "perturbation_norms", "project", "random_start"]

TINY = 1e-12
NORMS = ("linf", "l2")


def per_sample_norm(v: Any, norm: str) -> Any:
    """Norm of each example of a batch tensor, shaped ``(n, 1, ..., 1)`` for broadcasting."""
    norm = check_choice(norm, "norm", NORMS)
    axes = tuple(range(1, len(v.shape)))
    if norm == "l2":
        return keras.ops.sqrt(keras.ops.sum(keras.ops.square(v), axis=axes, keepdims=True))
    return keras.ops.max(keras.ops.abs(v), axis=axes, keepdims=True)


def direction(g: Any, norm: str) -> Any:
    """Steepest-ascent direction of unit norm: ``sign(g)`` for L-inf, ``g / ||g||_2`` for L2."""
    if check_choice(norm, "norm", NORMS) == "linf":
        return keras.ops.sign(g)
    return g / (per_sample_norm(g, "l2") + TINY)


def project(delta: Any, eps: Any, norm: str) -> Any:
    """Project each perturbation of a batch onto the eps-ball of the norm."""
    if check_choice(norm, "norm", NORMS) == "linf":
        return keras.ops.clip(delta, -eps, eps)
    n = per_sample_norm(delta, "l2")
    # Shrink only the too-long ones; the factor is exactly 1 inside the ball.
    return delta * keras.ops.minimum(1.0, eps / (n + TINY))


def random_start(
    rng: np.random.Generator, shape: Sequence[int], eps: float, norm: str
) -> np.ndarray:
    """A uniform sample from the eps-ball, one per example (L-inf: a box; L2: the ball's volume)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (np.random.default_rng(seed)), got "
            f"{type(rng).__name__}"
        )
    if not isinstance(shape, (tuple, list)) or len(shape) < 2:
        raise TypeError(f"shape must be a batch shape (n, ...) as a tuple, got {shape!r}")
    shape = tuple(check_int(s, "shape", min=1) for s in shape)
    eps = check_float(eps, "eps", min=0)
    norm = check_choice(norm, "norm", NORMS)
    if norm == "linf":
        return rng.uniform(-eps, eps, size=shape).astype("float32")
    d = int(np.prod(shape[1:]))
    expand = (-1,) + (1,) * (len(shape) - 1)
    g = rng.standard_normal(size=shape)
    g /= np.linalg.norm(g.reshape(len(g), -1), axis=1).reshape(expand) + TINY
    r = rng.uniform(0, 1, size=len(g)).reshape(expand) ** (1.0 / d)
    delta = g * eps * r
    # float32 rounding must not push a sample outside the ball
    n = np.linalg.norm(delta.reshape(len(g), -1), axis=1).reshape(expand)
    delta *= np.minimum(1.0, eps / (n + TINY))
    return delta.astype("float32")


def perturbation_norms(
    x: Any, x_adv: Any, norms: Sequence[str] = ("linf", "l2")
) -> dict[str, np.ndarray]:
    """Per-example norms of ``x_adv - x``: ``{"linf": ..., "l2": ..., "l0": ...}``."""
    x = check_array(x, "x", dtype="float64")
    x_adv = check_array(x_adv, "x_adv", dtype="float64")
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {x.shape} and {x_adv.shape}")
    if isinstance(norms, str) or not isinstance(norms, Sequence):
        raise TypeError(
            f"norms must be a sequence of norm names such as ('linf', 'l2'), got {norms!r}"
        )
    norms = [check_choice(name, "norms", ("linf", "l2", "l0")) for name in norms]
    d = (x_adv - x).reshape(len(x), -1)
    out = {}
    for name in norms:
        if name == "linf":
            out[name] = np.abs(d).max(axis=1) if d.shape[1] else np.zeros(len(d))
        elif name == "l2":
            out[name] = np.linalg.norm(d, axis=1)
        else:
            out[name] = (d != 0).sum(axis=1).astype("float64")
    return out
