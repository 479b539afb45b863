"""Fresh inputs for the checks of chapters 01-03: a small random classifier and random images.

A check that calls the learner's function on a model and data it has never
seen cannot be passed by copying a number from the notebook.  The model is
small (8x8 images, one hidden layer) so a check costs a second or so.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["images", "tiny_model"]

SHAPE = (8, 8, 1)


def tiny_model(rng: np.random.Generator, *, classes: int = 10, hidden: int = 24) -> keras.Model:
    """A random 8x8-image classifier (logits out), new weights at every call."""
    model = keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(classes),
        ]
    )
    model.set_weights(
        [rng.normal(0.0, 0.6, size=w.shape).astype("float32") for w in model.get_weights()]
    )
    return model


def images(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 8x8 images in [0, 1], some pixels exactly 0 or 1 (so clipping matters)."""
    x = rng.random((n, *SHAPE), dtype=np.float32)
    x[x < 0.15] = 0.0
    x[x > 0.9] = 1.0
    return x
