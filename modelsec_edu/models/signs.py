"""The traffic-sign classifier of chapter 09: a small CNN for 32x32 colour images, logits out.

Three "same" convolutions with pooling, then one hidden dense layer: about
0.1 M weights and 2 M multiply-adds an image, small enough to train on one CPU
core in seconds, large enough to read the synthetic signs of
:mod:`modelsec_edu.data.signs` at above 97% (``bench/driving.py`` measures it).
The layer called ``"features"`` is the penultimate representation that
chapter 04's poisoning detectors read (:func:`modelsec_edu.poisoning.features`).
Used in chapter 09.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from modelsec_edu.validation import check_int

__all__ = ["SIGN_RECIPE", "sign_cnn"]

# Settings that reach the chapter's >= 97% bar on fresh renders (bench/driving.py).
SIGN_RECIPE = {"epochs": 8, "batch_size": 64, "learning_rate": 3e-3}


def sign_cnn(
    input_shape: Sequence[int] = (32, 32, 3), num_classes: int = 10, *, width: int = 16
) -> keras.Model:
    """A small CNN for traffic signs: conv(w)-pool-conv(2w)-pool-conv(2w)-pool-dense(96)-logits."""
    num_classes = check_int(num_classes, "num_classes", min=2)
    width = check_int(width, "width", min=1)
    shape = tuple(check_int(s, "input_shape", min=1) for s in input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"input_shape must be (height, width, channels), got {tuple(input_shape)!r}"
        )
    conv = dict(kernel_size=3, padding="same", activation="relu")
    return keras.Sequential(
        [
            keras.Input(shape=shape),
            keras.layers.Conv2D(width, **conv),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(2 * width, **conv),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(2 * width, **conv),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(96, activation="relu", name="features"),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name="sign_cnn",
    )
