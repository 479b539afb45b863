"""One universal L-inf perturbation that flips many diagnoses at once (chapter 07).

**Threat model.** White-box, as in chapter 03, but the attacker computes the
noise **once**, offline, and adds the same image-sized pattern to every scan
it submits: no gradient per patient, no access to the model at submission
time.  Finlayson et al. 2019 ("Adversarial attacks on medical machine
learning", Science, https://doi.org/10.1126/science.aaw4399; the longer
arXiv version https://arxiv.org/abs/1804.05296) show universal perturbations
on dermoscopy, chest X-ray and fundoscopy classifiers, and name insurance
fraud as the motive: a benign scan read as malignant bills a procedure.

The method is the gradient version of Moosavi-Dezfooli et al. 2017
(https://arxiv.org/abs/1610.08401): signed steps on the mean cross-entropy of
the whole batch, projected onto the ``eps`` ball and the image box after each
step (their DeepFool inner loop would give the same kind of pattern, more
slowly).  Targeted by default: every image pushed towards ``target``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models
from modelsec_edu.validation import (
    check_array,
    check_classifier,
    check_float,
    check_int,
    check_seed,
    check_xy,
)

__all__ = ["apply_universal", "fooling_rate", "universal_perturbation"]


def _make_step():
    def fn(logits, delta, xb, yb):
        def loss(d):
            adv = keras.ops.clip(xb + d, 0.0, 1.0)
            ce = keras.ops.sparse_categorical_crossentropy(yb, logits(adv), from_logits=True)
            return keras.ops.mean(ce), 0.0

        _, _, grad = backend.value_and_grad(loss)(delta)
        return grad

    return fn


def universal_perturbation(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    target: int,
    steps: int = 40,
    batch_size: int = 128,
    seed: int | None = 0,
) -> np.ndarray:
    """One perturbation ``delta`` (``x.shape[1:]``, ``||delta||_inf <= eps``) sending
    ``x`` to ``target``.

    ``x`` are images in [0, 1]; images already of class ``y == target`` are
    left out of the optimisation.  Each step takes a random batch of
    ``batch_size`` of the others and a signed step of ``eps / 8`` that lowers
    their mean loss towards ``target``.  Apply it with :func:`apply_universal`.
    """
    k = check_classifier(model)
    x, y = check_xy(x, y, num_classes=k)
    eps = check_float(eps, "eps", min=0.0)
    target = check_int(target, "target", min=0, max=k - 1)
    steps = check_int(steps, "steps", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    pool = np.flatnonzero(y != target)
    if len(pool) == 0:
        raise ValueError(f"x holds only images of class {target}: nothing to flip")
    rng = np.random.default_rng(check_seed(seed))
    step = backend.compiled(model, ("universal_perturbation",), _make_step)
    delta = np.zeros(x.shape[1:], dtype="float32")
    if eps == 0:
        return delta
    t = keras.ops.convert_to_tensor
    size = min(batch_size, len(pool))
    yt = t(np.full(size, target, dtype="int32"))
    for _ in range(steps):
        idx = rng.choice(pool, size=size, replace=False)
        grad = keras.ops.convert_to_numpy(step(t(delta), t(x[idx]), yt))
        delta = np.clip(delta - eps / 8 * np.sign(grad), -eps, eps).astype("float32")
    return delta


def apply_universal(x: Any, delta: Any) -> np.ndarray:
    """``clip(x + delta, 0, 1)``: the same perturbation on every image."""
    x = check_array(x, "x", min_ndim=2)
    delta = check_array(delta, "delta", min_len=0)
    if x.shape[1:] != delta.shape:
        raise ValueError(f"delta must have the image shape {x.shape[1:]}, got {delta.shape}")
    return np.clip(x + delta, 0.0, 1.0).astype("float32")


def fooling_rate(model: keras.Model, x: Any, delta: Any, *, target: int) -> float:
    """Share of the images not read as ``target`` that ``delta`` makes read as ``target``."""
    k = check_classifier(model)
    target = check_int(target, "target", min=0, max=k - 1)
    x = check_array(x, "x", min_ndim=2)
    before = models.predict_labels(model, x)
    after = models.predict_labels(model, apply_universal(x, delta))
    pool = before != target
    return float((after[pool] == target).mean()) if pool.any() else 0.0
