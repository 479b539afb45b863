"""Small tabular networks and a fast trainer, for targets and shadow models.

Membership inference needs many models trained the same way (a target and
8-16 shadows), each on a few hundred records.  Keras' ``fit`` spends about
25 ms of bookkeeping per epoch, more than the arithmetic of such a model, so
training runs here as one compiled step (:func:`modelsec_edu.backend.train_step`)
called in a Python loop: about 1 ms per full-batch step on a laptop CPU.

``weight_decay`` (AdamW, Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101)
and fewer ``steps`` (early stopping) are the cheap mitigations chapter 07
measures against DP-SGD.  Initialisation is seeded per model (no global seed).

``fourier=m`` puts a fixed, seeded **random Fourier feature** layer first
(Rahimi & Recht 2007; Tancik et al. 2020, https://arxiv.org/abs/2006.10739):
each record ``x`` becomes ``[sin(xB), cos(xB)]`` with ``B`` drawn once from
``N(0, fourier_scale**2 / d)`` (``d`` features: the frequency is measured against
the typical distance between standardised records, which grows like ``sqrt(d)``)
and never trained.  It is a fixed function of each
record alone (it costs no privacy and sees no data); it makes the network's
fit *local*, like a lookup table, so an MLP memorises its training records the
way a random forest does.  Chapter 07's overfit target uses it.
Used in chapters 07 and 08.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import (
    check_classifier,
    check_float,
    check_int,
    check_seed,
    check_xy,
)

__all__ = ["fit_steps", "tabular_mlp", "trainer"]


def _fourier_layer(n_features: int, m: int, scale: float, seed: int | None) -> keras.layers.Layer:
    """``x -> [sin(xB), cos(xB)]`` with a frozen ``B ~ N(0, scale**2 / n_features)``."""
    std = scale / np.sqrt(n_features)
    b = np.random.default_rng(seed).normal(0.0, std, (n_features, m)).astype("float32")
    layer = keras.layers.Dense(
        2 * m,
        activation=keras.ops.sin,  # sin(z + pi/2) = cos(z): one layer gives both halves
        kernel_initializer=keras.initializers.Constant(np.concatenate([b, b], axis=1)),
        bias_initializer=keras.initializers.Constant(
            np.r_[np.zeros(m), np.full(m, np.pi / 2)].astype("float32")
        ),
        trainable=False,
        name="fourier_features",
    )
    return layer


def tabular_mlp(
    n_features: int,
    n_classes: int = 2,
    *,
    width: int = 128,
    depth: int = 2,
    seed: int | None = 0,
    fourier: int = 0,
    fourier_scale: float = 1.0,
) -> keras.Model:
    """A ``depth``-layer ReLU MLP with ``width`` units per layer, logits out, seeded init.

    ``fourier > 0`` first maps each record to ``2 * fourier`` fixed random Fourier features of
    frequency scale ``fourier_scale`` (not trained; see the module docstring).
    """
    n_features = check_int(n_features, "n_features", min=1)
    n_classes = check_int(n_classes, "n_classes", min=2)
    width = check_int(width, "width", min=1)
    depth = check_int(depth, "depth", min=1, max=8)
    seed = check_seed(seed)
    fourier = check_int(fourier, "fourier", min=0)
    fourier_scale = check_float(fourier_scale, "fourier_scale", min=0.0, min_open=True)
    layers = [keras.Input(shape=(n_features,))]
    if fourier:
        layers.append(_fourier_layer(n_features, fourier, fourier_scale, seed))
    for i in range(depth):
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        layers.append(keras.layers.Dense(width, activation="relu", kernel_initializer=init))
    init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + depth)
    layers.append(keras.layers.Dense(n_classes, kernel_initializer=init))
    return keras.Sequential(layers, name="tabular_mlp")


def _mean_ce(forward, x, y):
    return keras.ops.mean(
        keras.ops.sparse_categorical_crossentropy(y, forward(x), from_logits=True)
    )


def fit_steps(
    model: keras.Model,
    x,
    y,
    *,
    steps: int,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    seed: int | None = 0,
) -> keras.Model:
    """Train ``model`` in place for ``steps`` optimizer steps (Adam, or AdamW with weight decay).

    ``batch_size=None`` trains on the whole set at every step; otherwise the
    batches are drawn without replacement per pass (a short last batch is
    dropped, so one compiled step serves every batch).  Returns the model.
    """
    x, y = check_xy(x, y, num_classes=check_classifier(model, unbuilt_ok=True))
    steps = check_int(steps, "steps", min=1)
    learning_rate = check_float(learning_rate, "learning_rate", min=0.0, min_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", min=0.0)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", min=1, max=len(x))
    rng = np.random.default_rng(check_seed(seed))
    if weight_decay > 0:
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    else:
        opt = keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=opt)
    step = backend.train_step(model, _mean_ce, key=("privacy.fit_steps", id(opt)))
    yt = y.astype("int32")
    if batch_size is None:
        xb, yb = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(yt)
        for _ in range(steps):
            step(xb, yb)
        return model
    per_pass = len(x) // batch_size
    order = np.empty(0, dtype=int)
    for i in range(steps):
        if i % per_pass == 0:
            order = rng.permutation(len(x))
        j = order[(i % per_pass) * batch_size : (i % per_pass + 1) * batch_size]
        step(keras.ops.convert_to_tensor(x[j]), keras.ops.convert_to_tensor(yt[j]))
    return model


def trainer(
    *,
    n_classes: int = 2,
    width: int = 128,
    depth: int = 2,
    steps: int = 300,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    fourier: int = 0,
    fourier_scale: float = 1.0,
) -> Callable[[np.ndarray, np.ndarray, int], keras.Model]:
    """A recipe as a function ``train(x, y, seed) -> model``: what shadow-model attacks call.

    The attacker of :mod:`.shadow` is assumed to know this recipe; the
    notebook trains its target with the same function.
    """
    n_classes = check_int(n_classes, "n_classes", min=2)
    width = check_int(width, "width", min=1)
    depth = check_int(depth, "depth", min=1, max=8)
    steps = check_int(steps, "steps", min=1)
    learning_rate = check_float(learning_rate, "learning_rate", min=0.0, min_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", min=0.0)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", min=1)
    fourier = check_int(fourier, "fourier", min=0)
    fourier_scale = check_float(fourier_scale, "fourier_scale", min=0.0, min_open=True)
    encoding = {"fourier": fourier, "fourier_scale": fourier_scale}

    def train(x, y, seed):
        x, y = check_xy(x, y, num_classes=n_classes)
        model = tabular_mlp(x.shape[1], n_classes, width=width, depth=depth, seed=seed, **encoding)
        return fit_steps(
            model,
            x,
            y,
            steps=steps,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            seed=seed,
        )

    return train
