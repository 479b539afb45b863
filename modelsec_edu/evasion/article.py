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

from modelsec_edu import models, validation
from modelsec_edu.models import loop

from . import gan
from ._checks import num_classes
from .training import _check_pair, _check_xy, _number

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
        A Keras ``History`` with ``loss`` (real batches), ``fake_loss``,
        ``seconds``, ``samples_per_second`` and, with ``validation_data``,
        ``val_accuracy`` per epoch (the epochs run in :func:`.loop.epoch_loop`).
    """
    x, y = _check_xy(model, x, y)
    generator = validation.check_model(generator, "generator")
    labels = validation.check_choice(labels, "labels", ("random", "conditional"))
    if validation_data is not None:
        validation_data = _check_pair(model, validation_data)
    seed = validation.check_seed(seed)
    if labels == "conditional" and len(generator.inputs) != 2:
        raise ValueError("labels='conditional' needs a conditional generator (inputs z and label)")
    epochs = _number("epochs", epochs, low=1, integer=True)
    batch_size = _number("batch_size", batch_size, low=1, integer=True)
    if getattr(model, "optimizer", None) is None:
        models.compile_classifier(model)  # the article: Adam() with its default learning rate
    k = num_classes(model)
    rng = np.random.default_rng(seed)

    def train_batch(sl, idx):
        real = model.train_on_batch(x[idx], y[idx], return_dict=True)["loss"]
        images, c = gan.sample(generator, len(idx), seed=int(rng.integers(2**31)))
        fake_y = rng.integers(0, k, len(idx)) if labels == "random" else c
        fake = model.train_on_batch(images, fake_y.astype("int32"), return_dict=True)["loss"]
        return {"loss": real, "fake_loss": fake}

    def end_epoch(epoch, logs):
        if validation_data is not None:
            return {"val_accuracy": models.accuracy(model, *validation_data)}
        return None

    return loop.epoch_loop(
        train_batch,
        len(x),
        epochs=epochs,
        batch_size=batch_size,
        rng=rng,
        end_epoch=end_epoch,
        model=model,
        progress=progress,
        desc=f"article ({labels} labels)",
    )
