"""Checks for chapter 02 (the loss formula): cross-entropy by hand, the input gradient, FGSM.

The function-writing checks call the learner's function on **fresh** inputs
(new logits, a new linear model, a new random classifier) and compare it with
the library: :func:`modelsec_edu.models.loss.cross_entropy`,
:func:`modelsec_edu.backend.input_gradient` and :func:`modelsec_edu.evasion.fgsm`.
Used in chapter 02; solutions in ``solutions/02_loss_formula.ipynb``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, evasion
from modelsec_edu.models import loss

from . import _fresh
from ._core import call, check_option, verdict

__all__ = [
    "check_cross_entropy",
    "check_empirical_loss",
    "check_fgsm",
    "check_gradient_of",
    "check_linear_input_gradient",
]


def _logits(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, k = int(rng.integers(5, 12)), int(rng.integers(3, 11))
    z = rng.normal(0, 3, size=(n, k))
    z[0] *= 400  # one huge row: exp() overflows unless the max is subtracted first
    z[0, rng.integers(k)] = 1000.0  # at least one logit past float64's exp() range, always
    return z, rng.integers(0, k, n)


def _number_array(out: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    a = np.asarray(out, dtype="float64")
    if a.shape != shape:
        raise ValueError(f"{what} has shape {a.shape}, expected {shape}")
    return a


def check_cross_entropy(fn: Any) -> bool:
    """``fn(z, y)`` returns the per-example cross-entropy ``l_i`` of logits ``z`` (NumPy only)."""

    def run():
        rng = np.random.default_rng()
        z, y = _logits(rng)
        before = z.copy()
        try:
            got = _number_array(call(fn, z, y), (len(z),), "your result")
        except ValueError as err:
            return f"{err}: one loss per example"
        if not np.array_equal(z, before):
            return "your function changed the logits it was given"
        if not np.all(np.isfinite(got)):
            return (
                "got inf or nan for a row with large logits: subtract each row's max before exp()"
            )
        want = loss.cross_entropy(z, y)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
            return (
                f"off by up to {np.abs(got - want).max():.3g}; l_i = -z[i, y_i] + log sum_j "
                "e^z[i, j]"
            )
        return None

    return verdict(run, fn, success="Matches the library on fresh logits, huge ones included.")


def check_empirical_loss(fn: Any) -> bool:
    """``fn(z, y)`` returns the article's ``L``: the mean of the per-example losses (one number)."""

    def run():
        rng = np.random.default_rng()
        z, y = _logits(rng)
        got = call(fn, z, y)
        try:
            got = float(np.asarray(got, dtype="float64"))
        except (TypeError, ValueError):
            return f"expected one number, got {type(got).__name__} of shape {np.shape(got)}"
        want = loss.empirical_loss(z, y)
        if not np.isclose(got, want, rtol=1e-6, atol=1e-6):
            return f"got {got:.6g}, expected {want:.6g}: L is the mean over the batch, not the sum"
        return None

    return verdict(run, fn, success="Your L matches loss.empirical_loss on fresh logits.")


def _linear(rng: np.random.Generator):
    d, k, n = int(rng.integers(3, 7)), int(rng.integers(3, 6)), int(rng.integers(2, 6))
    W = rng.normal(size=(d, k)).astype("float32")
    b = rng.normal(size=(k,)).astype("float32")
    x = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, k, n)
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(k)])
    model.set_weights([W, b])
    return model, x, W, b, y


def check_linear_input_gradient(fn: Any) -> bool:
    """``fn(x, W, b, y)`` returns ``d l_i / d x_i`` for the linear model ``z = x W + b``."""

    def run():
        rng = np.random.default_rng()
        model, x, W, b, y = _linear(rng)
        try:
            got = _number_array(call(fn, x, W, b, y), x.shape, "your gradient")
        except ValueError as err:
            return f"{err}: one gradient per example, shaped like x"
        _, want = backend.input_gradient(model, x, y)  # the backend's automatic differentiation
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            return (f"off by up to {np.abs(got - want).max():.3g} from automatic differentiation; "
                    "(softmax(z) - onehot(y)) @ W.T")  # fmt: skip
        return None

    return verdict(
        run, fn, success="Your gradient matches backend.input_gradient on a new linear model."
    )


def check_fgsm(fn: Any) -> bool:
    """``fn(x, grad, eps)``: FGSM images, one step of ``eps`` along the gradient's sign, clipped."""

    def run():
        rng = np.random.default_rng()
        model = _fresh.tiny_model(rng)
        x = _fresh.images(rng, 16)
        y = rng.integers(0, 10, 16)
        _, grad = backend.input_gradient(model, x, y)
        eps = float(rng.choice([0.05, 0.1, 0.3]))
        before = x.copy()
        try:
            got = _number_array(call(fn, x, grad, eps), x.shape, "your images")
        except ValueError as err:
            return str(err)
        if not np.array_equal(x, before):
            return "your function changed x; return new images"
        if got.min() < 0 or got.max() > 1:
            return "some pixels left [0, 1]: clip the result"
        want = evasion.fgsm(model, x, y, eps=eps)
        if not np.allclose(got, want, atol=1e-6):
            return (
                f"off by up to {np.abs(got - want).max():.3g} from evasion.fgsm (sign, eps, clip?)"
            )
        return None

    return verdict(run, fn, success="Your FGSM equals evasion.fgsm on a new model and new images.")


def check_gradient_of(answer: Any) -> bool:
    """FGSM differentiates the loss with respect to what?"""
    return check_option(
        answer,
        right="input",
        why={
            "weights": "that is the gradient training follows; the attacker at test time cannot "
            "change "
            "the weights, only what the model sees.",
            "labels": "labels are integers: the loss has no gradient with respect to them, and the "
            "attacker does not choose the true label.",
        },
        explain="The weights are frozen and the input moves uphill on the loss: a backpropagation "
        "attack.",
    )
