"""The article's "adversarial training with GAN data", fixed so that it runs (chapter 06).

The article's section 5 trains the classifier on real batches and on GAN
samples carrying **random** labels.  :func:`article_gan_training` is that loop
with the article's bugs fixed and nothing else changed, so that chapter 06 can
measure what it really does (label noise, not robustness).  The robust methods
are in :mod:`.training`.
"""

from __future__ import annotations

import keras
import numpy as np

from modelsec_edu import models

from . import gan
from ._checks import num_classes
from .training import _Bar, _check_xy, _number

__all__ = ["article_gan_training"]


def article_gan_training(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    generator: keras.Model,
    *,
    epochs: int,
    batch_size: int = 64,
    labels: str = "random",
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> keras.callbacks.History:
    """The article's "adversarial training" (its section 5), made to run as it describes.

    For every batch of real data, one ``train_on_batch`` on it, then one on a
    batch of GAN images.  With ``labels="random"`` (the article) the GAN images
    carry random labels, as in its ``np.random.randint(0, 10, ...)``; with
    ``labels="conditional"`` a conditional generator's images carry the digit
    they were generated as (label-correct augmentation).  Threat model: none
    is stated by the article; no worst-case input is ever computed.

    Returns:
        A Keras ``History`` with ``loss`` (real batches), ``fake_loss`` and,
        with ``validation_data``, ``val_accuracy`` per epoch.
    """
    x, y = _check_xy(model, x, y)
    if labels not in ("random", "conditional"):
        raise ValueError(f"labels must be 'random' or 'conditional', got {labels!r}")
    if labels == "conditional" and len(generator.inputs) != 2:
        raise ValueError("labels='conditional' needs a conditional generator (inputs z and label)")
    epochs = _number("epochs", epochs, low=1, integer=True)
    batch_size = _number("batch_size", batch_size, low=1, integer=True)
    if getattr(model, "optimizer", None) is None:
        models.compile_classifier(model)  # the article: Adam() with its default learning rate
    k = num_classes(model)
    rng = np.random.default_rng(seed)
    history = keras.callbacks.History()
    history.set_model(model)
    history.on_train_begin()
    bar = _Bar(epochs * len(x), f"article ({labels} labels)") if progress else None
    for epoch in range(epochs):
        real, fake = [], []
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            real.append(model.train_on_batch(x[idx], y[idx], return_dict=True)["loss"])
            images, c = gan.sample(generator, len(idx), seed=int(rng.integers(2**31)))
            fake_y = rng.integers(0, k, len(idx)) if labels == "random" else c
            fake.append(
                model.train_on_batch(images, fake_y.astype("int32"), return_dict=True)["loss"]
            )
            if bar is not None:
                bar.update(len(idx))
        logs = {"loss": float(np.mean(real)), "fake_loss": float(np.mean(fake))}
        if validation_data is not None:
            logs["val_accuracy"] = models.accuracy(model, *validation_data)
        if bar is not None:
            bar.show(epoch, logs)
        history.on_epoch_end(epoch, logs)
    if bar is not None:
        bar.close()
    return history
