"""AdvGAN: a generator trained to make adversarial perturbations (Xiao et al. 2018).

Where "GAN" and "adversarial" meet in the security sense.  A generator ``G``
maps an image ``x`` to an adversarial image inside the box
``[max(x - eps, 0), min(x + eps, 1)]`` (so ``||x_adv - x||_inf <= eps`` and the
pixels stay valid by construction), trained so that

* the target classifier ``f`` misclassifies ``x + delta`` (the C&W margin loss
  ``max(z_y - max_{i != y} z_i, -kappa)``, Carlini & Wagner 2017), and
* a discriminator ``D`` cannot tell ``x + delta`` from real images (the GAN
  loss keeps the perturbation image-like).

Threat model: white-box while ``G`` is trained (it needs ``f``'s gradients);
afterwards one forward pass of ``G`` attacks any input, with no gradient of
``f`` at all: an amortised attack.  :func:`adversarial_fit` trains a classifier
against a generator that keeps adapting to it, the AdvGAN counterpart of PGD
adversarial training.  The paper clips ``x + G(x)`` and bounds the
perturbation with a hinge loss; the box parameterisation (see ``_perturb``)
makes both unnecessary for the L-inf ball used here.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models, validation
from modelsec_edu.models import loop

__all__ = ["AdvGAN", "adversarial_fit", "attack", "perturbation_generator", "train"]

IMAGE_SHAPE = (28, 28, 1)


class AdvGAN:
    """A perturbation generator, its discriminator and the budget they work with."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, eps: float):
        self.generator, self.discriminator, self.eps = generator, discriminator, float(eps)


def perturbation_generator(*, eps: float, learning_rate: float = 1e-3) -> AdvGAN:
    """A small encoder-decoder ``G(x) in [-1, 1]`` and a real/perturbed discriminator."""
    eps = validation.check_float(eps, "eps", min=0, max=1, min_open=True)
    learning_rate = validation.check_float(learning_rate, "learning_rate", min=0, min_open=True)
    generator = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(16, 3, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(32, 3, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(32, 3, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2DTranspose(16, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(1, 3, padding="same", activation="tanh"),
        ],
        name="advgan_generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(16, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(32, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ],
        name="advgan_discriminator",
    )
    for m in (generator, discriminator):
        m.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    return AdvGAN(generator, discriminator, eps)


def _perturb(unit, x, eps):
    """Map ``unit`` in [-1, 1] onto the box ``[max(x - eps, 0), min(x + eps, 1)]`` (ball AND
    valid pixels).

    A change of variables instead of the paper's clip: a clip has zero gradient
    wherever it bites, and on MNIST's black background it bites on every
    darkening pixel, so a clipped generator gets stuck erasing strokes.
    """
    lo = keras.ops.maximum(x - eps, 0.0)
    hi = keras.ops.minimum(x + eps, 1.0)
    return lo + (hi - lo) * (unit + 1.0) * 0.5


def _margin(logits, y, kappa: float = 0.0):
    """C&W's untargeted margin: how far the true class leads the best other (floored at -kappa)."""
    onehot = keras.ops.one_hot(y, logits.shape[-1])
    true = keras.ops.sum(onehot * logits, axis=-1)
    other = keras.ops.max(logits - 1e9 * onehot, axis=-1)
    return keras.ops.mean(keras.ops.maximum(true - other, -kappa))


def _bce(target: float, logits):
    return keras.ops.mean(
        keras.ops.binary_crossentropy(
            keras.ops.ones_like(logits) * target, logits, from_logits=True
        )
    )


def _losses(adv: AdvGAN, model: keras.Model, alpha: float):
    g, d = adv.generator, adv.discriminator

    def d_loss(forward, inputs, y):
        x, x_adv = inputs
        return _bce(1.0, forward(x)) + _bce(0.0, forward(x_adv))

    def g_loss(forward, inputs, y):
        x, eps, f_w, d_w = inputs
        x_adv = _perturb(forward(x), x, eps)
        z, _ = model.stateless_call(*f_w, x_adv, training=False)
        judged, _ = d.stateless_call(*d_w, x_adv, training=True)
        return _margin(keras.ops.cast(z, "float32"), y) + alpha * _bce(1.0, judged)

    def f_loss(forward, inputs, y):
        x, eps, g_w = inputs
        unit, _ = g.stateless_call(*g_w, x, training=False)
        x_adv = keras.ops.stop_gradient(_perturb(unit, x, eps))
        z = keras.ops.cast(forward(keras.ops.concatenate([x, x_adv])), "float32")
        both = keras.ops.concatenate([y, y])
        return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(both, z, from_logits=True))

    return d_loss, g_loss, f_loss


def _weights(m: keras.Model):
    return [v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables]


def _check(adv, model, x, y):
    if not isinstance(adv, AdvGAN):
        raise TypeError(
            f"adv must be an AdvGAN (perturbation_generator()), got {type(adv).__name__}"
        )
    k = validation.check_classifier(model)
    x = validation.check_array(x, "x", ndim=4)
    if x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"x must be (n, 28, 28, 1) images, got shape {x.shape}")
    return x, validation.check_labels(y, "y", n=len(x), num_classes=k).astype("int32")


def _loop(adv, model, x, y, *, epochs, batch_size, alpha, train_model, seed, progress, desc):
    x, y = _check(adv, model, x, y)
    epochs = validation.check_int(epochs, "epochs", min=1)
    batch_size = validation.check_int(batch_size, "batch_size", min=1)
    alpha = validation.check_float(alpha, "alpha", min=0)
    seed = validation.check_seed(seed)
    if batch_size > len(x):
        raise ValueError(f"batch_size {batch_size} is larger than the {len(x)} training images")
    if getattr(model, "optimizer", None) is None and train_model:
        models.compile_classifier(model)
    d_loss, g_loss, f_loss = _losses(adv, model, alpha)
    tag = (id(model), id(adv.generator.optimizer))
    d_step = backend.train_step(adv.discriminator, d_loss, key=("advgan_d", *tag))
    g_step = backend.train_step(adv.generator, g_loss, key=("advgan_g", *tag))
    f_step = backend.train_step(model, f_loss, key=("advgan_f", *tag)) if train_model else None
    t = keras.ops.convert_to_tensor
    eps = t(np.float32(adv.eps))

    def train_batch(sl, idx):
        xb, yb = t(x[idx]), t(y[idx])
        logs = {"g_loss": g_step((xb, eps, _weights(model), _weights(adv.discriminator)), yb)}
        logs["d_loss"] = d_step((xb, t(attack(adv, x[idx]))), yb)
        if f_step is not None:
            logs["loss"] = f_step((xb, eps, _weights(adv.generator)), yb)
        return logs

    # Full batches only (drop_last): one trace of each compiled step.
    return loop.epoch_loop(
        train_batch, len(x), epochs=epochs, batch_size=batch_size, rng=np.random.default_rng(seed),
        drop_last=True, model=model, progress=progress, desc=desc, unit="img",
    )  # fmt: skip


def train(
    adv: AdvGAN,
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    alpha: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> keras.callbacks.History:
    """Train the generator to fool a fixed ``model`` (which is not changed)."""
    settings = dict(epochs=epochs, batch_size=batch_size, alpha=alpha, seed=seed, progress=progress)
    return _loop(adv, model, x, y, train_model=False, desc="AdvGAN training", **settings)


def adversarial_fit(
    model: keras.Model,
    adv: AdvGAN,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    alpha: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> keras.callbacks.History:
    """Adversarial training on AdvGAN's outputs: per batch, G adapts to the model, then the model
    trains on clean and generated images (half each).  Returns a ``History``."""
    settings = dict(epochs=epochs, batch_size=batch_size, alpha=alpha, seed=seed, progress=progress)
    return _loop(adv, model, x, y, train_model=True, desc="AdvGAN adversarial training", **settings)


def attack(
    generator: keras.Model | AdvGAN, x: Any, *, eps: float | None = None, batch_size: int = 500
) -> np.ndarray:
    """The generator's adversarial images: one forward pass, no gradient of the target needed.

    Pass an :class:`AdvGAN` (its ``eps`` is used) or a trained generator and ``eps``.
    """
    if isinstance(generator, AdvGAN):
        generator, eps = generator.generator, generator.eps if eps is None else eps
    generator = validation.check_model(generator, "generator")
    if eps is None:
        raise ValueError("eps is needed when attacking with a bare generator")
    eps = validation.check_float(eps, "eps", min=0)
    batch_size = validation.check_int(batch_size, "batch_size", min=1)
    x = validation.check_array(x, "x")
    unit = models.predict_logits(generator, x, batch_size=batch_size)
    lo, hi = np.maximum(x - eps, 0.0), np.minimum(x + eps, 1.0)
    return (lo + (hi - lo) * (unit + 1.0) * 0.5).astype("float32")
