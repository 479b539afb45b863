"""The course's models, their training and evaluation.

Every model here outputs **logits** (raw scores), not softmax probabilities.
Attacks and losses need logits: cross-entropy computed from logits is
numerically stable (``log(softmax(z))`` is evaluated as ``z - logsumexp(z)``),
and its gradient does not vanish when the softmax saturates at 0 or 1, which
is exactly where a confident model sits and where an attacker starts.  Take
``keras.ops.softmax(logits)`` when you want probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_bool, check_int, check_labels

__all__ = [
    "accuracy",
    "article_mlp",
    "compile_classifier",
    "fit",
    "predict_labels",
    "predict_logits",
    "predict_proba",
    "small_cnn",
]

IMAGE_SHAPE = (28, 28, 1)


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(
            f"input_shape must be positive sizes such as (28, 28, 1), got {input_shape!r}"
        )
    return shape


def article_mlp(input_shape: Sequence[int] = IMAGE_SHAPE, num_classes: int = 10) -> keras.Model:
    """The article's network: 784-64-64-10 Dense layers with ReLU, logits out.

    The article feeds 784-long vectors; here a ``Flatten`` layer does that
    reshape inside the model, so every model in the course takes the same
    ``(28, 28, 1)`` images.  The article's final ``softmax`` is left out
    (see the module docstring): use ``from_logits=True`` losses.
    """
    shape = _check_shape(input_shape)
    num_classes = check_int(num_classes, "num_classes", min=2)
    return keras.Sequential(
        [
            keras.Input(shape=shape),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(num_classes),
        ],
        name="article_mlp",
    )


def small_cnn(input_shape: Sequence[int] = IMAGE_SHAPE, num_classes: int = 10) -> keras.Model:
    """A small convolutional network (two conv blocks, about 225k weights), logits out."""
    shape = _check_shape(input_shape)
    num_classes = check_int(num_classes, "num_classes", min=2)
    return keras.Sequential(
        [
            keras.Input(shape=shape),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(num_classes),
        ],
        name="small_cnn",
    )


def compile_classifier(
    model: keras.Model,
    *,
    learning_rate: float = 1e-3,
    decay_steps: int | None = None,
    warmup_steps: int = 0,
) -> keras.Model:
    """Compile with Adam and cross-entropy *from logits*; returns the same model.

    With ``decay_steps`` the learning rate follows a cosine decay to zero over
    that many optimizer steps.  With ``warmup_steps`` as well, it first rises
    linearly from 0 to ``learning_rate`` over the first ``warmup_steps`` of
    them (a one-cycle schedule, close to the cyclic schedule of Wong et al.
    2020, arXiv:2001.03994, which rises from 0 and falls back).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float))
        or not (learning_rate > 0 and np.isfinite(learning_rate))
    ):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    lr = learning_rate
    warmup_steps = check_int(warmup_steps, "warmup_steps", min=0)
    if decay_steps is not None:
        if isinstance(decay_steps, bool) or not isinstance(decay_steps, int) or decay_steps < 1:
            raise ValueError(f"decay_steps must be an int >= 1, got {decay_steps!r}")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int):
            raise TypeError(f"warmup_steps must be an int, got {type(warmup_steps).__name__}")
        if not 0 <= warmup_steps < decay_steps:
            raise ValueError(f"warmup_steps must be in [0, {decay_steps}), got {warmup_steps}")
        if warmup_steps:
            lr = keras.optimizers.schedules.CosineDecay(
                0.0,
                decay_steps - warmup_steps,
                warmup_target=learning_rate,
                warmup_steps=warmup_steps,
            )
        else:
            lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = True,
    learning_rate: float | None = None,
    **kwargs,
) -> keras.callbacks.History:
    """Train a model with a progress bar (one bar for the whole run).

    A thin wrapper around ``model.fit``.  A model that is not compiled yet is
    compiled with :func:`compile_classifier`, with a cosine decay over this
    run's steps when ``learning_rate`` is given; ``**models.RECIPES[name]``
    (:mod:`.recipes`, the one table)
    supplies tested settings.  Shows a ``tqdm`` bar instead of Keras' per-step
    log lines.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    x = check_array(x, "x", min_ndim=2, dtype=None, finite=False, min_len=0)
    y = check_array(y, "y", dtype=None, min_len=0)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError("cannot train on an empty dataset (x and y hold no samples)")
    _labels(y, "y", len(x), _classes(model))
    batch_size = check_int(batch_size, "batch_size", min=1)
    progress = check_bool(progress, "progress")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(
                f"validation_data must be a tuple (x_val, y_val) or None, got "
                f"{type(validation_data).__name__}"
            )
        vx = check_array(validation_data[0], "validation_data (its x)", min_ndim=2, dtype=None)
        _labels(validation_data[1], "validation_data (its y)", len(vx), _classes(model))
    if getattr(model, "optimizer", None) is None or learning_rate is not None:
        steps = epochs * int(np.ceil(len(x) / batch_size))
        compile_classifier(model, learning_rate=learning_rate or 1e-3, decay_steps=steps)
    callbacks = list(kwargs.pop("callbacks", []))
    if progress:
        callbacks.append(_EpochBar(epochs))
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )


class _EpochBar(keras.callbacks.Callback):
    """Keras ``fit``'s view of the course's one progress bar (:class:`.loop.ProgressBar`)."""

    def __init__(self, epochs: int):
        super().__init__()
        self._epochs = epochs
        self._bar = None

    def on_train_begin(self, logs=None):
        from .loop import ProgressBar

        self._bar = ProgressBar(self._epochs, "training", unit="epoch")

    def on_epoch_end(self, epoch, logs=None):
        shown = ("loss", "accuracy", "val_accuracy")
        self._bar.update(1)
        self._bar.show(epoch, {k: v for k, v in (logs or {}).items() if k in shown})

    def on_train_end(self, logs=None):
        self._bar.close()


def _classes(model) -> int | None:
    """The model's number of outputs (classes), or None when it does not say."""
    try:
        n = int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return n if n >= 2 else None  # one sigmoid output: labels 0 and 1


def _labels(y, name: str, n: int, num_classes: int | None) -> None:
    """``y`` holds ``n`` class labels: integers, or floats with integer values (3.0), in range."""
    y = check_array(y, name, ndim=1, dtype=None)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(y == np.round(y)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        y = y.astype("int64")
    check_labels(y, name, n=n, num_classes=num_classes)


def predict_logits(model: keras.Model, x: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Logits for ``x`` as a float32 NumPy array, computed in batches without a progress log."""
    if not callable(model):
        raise TypeError(f"model must be a keras.Model (or a callable), got {type(model).__name__}")
    batch_size = check_int(batch_size, "batch_size", min=1)
    x = check_array(x, "x", finite=False, min_len=0)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (n, ...), got shape {x.shape}")
    out = [
        keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out).astype("float32")


def predict_proba(model: keras.Model, x: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities for ``x``."""
    z = predict_logits(model, x, batch_size=batch_size)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_labels(model: keras.Model, x: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Predicted class indices for ``x``."""
    return predict_logits(model, x, batch_size=batch_size).argmax(axis=1)


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 512) -> float:
    """Share of ``x`` classified as ``y`` (a float in [0, 1])."""
    if not callable(model):
        raise TypeError(f"model must be a keras.Model (or a callable), got {type(model).__name__}")
    x = check_array(x, "x", finite=False, min_len=0)
    y = check_array(y, "y", dtype=None, min_len=0)
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) to match x, got {y.shape}")
    _labels(y, "y", len(x), _classes(model))
    return float(np.mean(predict_labels(model, x, batch_size=batch_size) == y))
