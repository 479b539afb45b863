"""Model tampering: the attacker changes the weights.

Threat model: the attacker can write to the model file or to memory holding
the weights (a compromised model hub, a supply chain, a fault attack) but not
to the training data.  Every function returns a **new** model; the caller's
model is never changed.

* Benign baselines of how robust weights are to *random* change:
  :func:`perturb_weights` (Gaussian noise) and :func:`prune` (zeroing).
* :func:`quantize` -- the 8-bit model that bit flips act on.
* Bit flips, random and targeted (:func:`random_bit_flips`,
  :func:`bit_flip_attack`, :func:`flip_bits`) live in :mod:`.bitflip` and are
  re-exported here.
* :func:`trojan_finetune` -- a backdoor put into a released model by a few
  steps of fine-tuning, a supply-chain attack on the file, not on the data.
* Detection by behaviour: :func:`canary_check`, :func:`weight_statistics`,
  :func:`weight_diff`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import (
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_model,
    check_seed,
)

__all__ = [
    "canary_check",
    "clone",
    "noisy_weights",
    "perturb_weights",
    "prune",
    "trojan_finetune",
    "weight_diff",
    "weight_names",
    "weight_statistics",
]


def clone(model: keras.Model) -> keras.Model:
    """A new model with the same architecture and a copy of the weights."""
    check_model(model)
    copy = keras.models.clone_model(model)
    copy.set_weights([np.array(w, copy=True) for w in model.get_weights()])
    return copy


def weight_names(model: keras.Model) -> list[str]:
    """Trainable weight names (``"layer/kernel"``) in ``model.trainable_variables`` order."""
    check_model(model)
    prefix = model.name + "/"
    return [
        v.path[len(prefix) :] if v.path.startswith(prefix) else v.path
        for v in model.trainable_variables
    ]


# --------------------------------------------------------------------------- random change


def noisy_weights(
    weights: list[np.ndarray], *, scale: float, seed: int | None = None, relative: bool = True
) -> list[np.ndarray]:
    """Add Gaussian noise to a list of weight arrays (a pure function on arrays).

    With ``relative=True`` the noise of each array has standard deviation
    ``scale * std(array)``, so one ``scale`` means the same for every layer.
    """
    scale = check_float(scale, "scale", min=0)
    relative = check_bool(relative, "relative")
    rng = np.random.default_rng(check_seed(seed))
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise TypeError(
            f"weights must be a list of arrays (model.get_weights()), got {type(weights).__name__}"
        )
    if not weights:
        raise ValueError("weights must hold at least one array (model.get_weights()), got none")
    out = []
    for w in weights:
        w = check_array(w, "weights", dtype=None, min_len=0)
        sd = scale * (float(w.std()) if relative else 1.0)
        out.append((w + rng.normal(0.0, sd, size=w.shape)).astype(w.dtype) if sd > 0 else w.copy())
    return out


def perturb_weights(
    model: keras.Model, *, scale: float, seed: int | None = None, relative: bool = True
) -> keras.Model:
    """A copy of ``model`` whose weights carry Gaussian noise (see :func:`noisy_weights`)."""
    check_model(model)
    scale, relative = check_float(scale, "scale", min=0), check_bool(relative, "relative")
    new = clone(model)
    new.set_weights(noisy_weights(model.get_weights(), scale=scale, seed=seed, relative=relative))
    return new


def prune(
    model: keras.Model, *, fraction: float, method: str = "magnitude", seed: int | None = None
) -> keras.Model:
    """A copy of ``model`` with a ``fraction`` of each kernel's weights set to zero.

    ``method="magnitude"`` zeroes the smallest weights (the usual compression
    step, Han et al. 2015); ``"random"`` zeroes weights drawn at random, the
    benign fault.  Biases are kept.
    """
    check_model(model)
    fraction = check_float(fraction, "fraction", min=0, max=1)
    method = check_choice(method, "method", ("magnitude", "random"))
    rng = np.random.default_rng(check_seed(seed))
    new = clone(model)
    for var in new.trainable_variables:
        w = keras.ops.convert_to_numpy(var)
        if w.ndim < 2:
            continue
        k = int(round(fraction * w.size))
        if k == 0:
            continue
        flat = w.ravel().copy()
        order = (
            np.argsort(np.abs(flat), kind="stable")
            if method == "magnitude"
            else rng.permutation(w.size)
        )
        flat[order[:k]] = 0
        var.assign(flat.reshape(w.shape))
    return new


# --------------------------------------------------------------------------- trojans


def trojan_finetune(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    target: int,
    rate: float = 0.1,
    epochs: int = 10,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
    seed: int | None = None,
    **trigger_options: Any,
) -> keras.Model:
    """A copy of a released model with a backdoor put in by fine-tuning.

    Threat model: the attacker holds the model file (a re-upload on a model
    hub, a compromised build step) and a little clean data, but not the
    original training set.  It keeps its ``(x, y)`` as they are and adds
    triggered copies of a ``rate`` share of them, labelled ``target`` (see
    :func:`.poisoning.badnets`); fine-tuning on both teaches the trigger while
    the clean samples hold the clean behaviour in place.  Liu et al. 2018
    ("Trojaning Attack on Neural Networks") retrain a released model the same
    way, from inputs they reverse-engineer when they have no data.  ``seed``
    picks the samples to copy; seed the training itself with
    :func:`.runtime.set_seed`.
    """
    from modelsec_edu import models, poisoning

    check_model(model)
    learning_rate = check_float(learning_rate, "learning_rate", min=0, min_open=True)
    epochs = check_int(epochs, "epochs", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    x_p, y_p, idx = poisoning.badnets(x, y, target=target, rate=rate, seed=seed, **trigger_options)
    x_ft = np.concatenate([np.asarray(x, dtype=x_p.dtype), x_p[idx]])
    y_ft = np.concatenate([np.asarray(y), y_p[idx]])
    new = clone(model)
    models.fit(
        new,
        x_ft,
        y_ft,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        progress=False,
    )
    return new


# --------------------------------------------------------------------------- detection by behaviour


def canary_check(
    model: keras.Model, x: Any, y: Any, *, expected: float, tolerance: float = 0.01
) -> tuple[bool, float]:
    """Accuracy on a held-out *canary* set, compared with the accuracy recorded at release.

    Returns ``(ok, accuracy)``; ``ok`` is False when the accuracy fell by more
    than ``tolerance``.  It catches damage (noise, bit flips) but not a
    backdoor, which leaves clean inputs alone: canaries need the trigger to see it.
    """
    from modelsec_edu import models

    check_model(model)
    expected = check_float(expected, "expected", min=0, max=1)
    tolerance = check_float(tolerance, "tolerance", min=0, max=1)
    acc = models.accuracy(model, x, y)
    return acc >= expected - tolerance, acc


def weight_statistics(model: keras.Model) -> dict[str, dict[str, float]]:
    """Per weight tensor: mean, standard deviation, min, max, and the largest |w|."""
    check_model(model)
    out = {}
    for name, var in zip(weight_names(model), model.trainable_variables):
        w = keras.ops.convert_to_numpy(var).astype("float64")
        out[name] = {
            "mean": float(w.mean()),
            "std": float(w.std()),
            "min": float(w.min()),
            "max": float(w.max()),
            "absmax": float(np.abs(w).max()),
        }
    return out


def weight_diff(before: keras.Model, after: keras.Model) -> dict[str, dict[str, float]]:
    """Per weight tensor: how many weights differ and the largest change, between two models."""
    names = weight_names(check_model(before, "before"))
    check_model(after, "after")
    if [tuple(v.shape) for v in before.trainable_variables] != [
        tuple(v.shape) for v in after.trainable_variables
    ]:
        raise ValueError("before and after must have the same architecture (same weight shapes)")
    out = {}
    for name, a, b in zip(names, before.trainable_variables, after.trainable_variables):
        d = keras.ops.convert_to_numpy(b).astype("float64") - keras.ops.convert_to_numpy(a).astype(
            "float64"
        )
        out[name] = {"changed": int(np.count_nonzero(d)), "max_change": float(np.abs(d).max())}
    return out
