"""Generative adversarial networks for MNIST: a DCGAN and a conditional GAN.

The article's "adversarial training" starts from a GAN (Goodfellow et al.
2014): a generator ``G`` maps noise to images, a discriminator ``D`` tells real
images from generated ones, and the two are trained against each other::

    min_G max_D  E[log D(x)] + E[log(1 - D(G(z)))]

:func:`dcgan` builds the convolutional pair of Radford et al. 2016; :func:`cgan`
conditions the generator on a digit label and gives the discriminator a second
head that classifies real digits, the AC-GAN recipe of Odena et al. 2017, so
that each sample carries a *meaningful* label.  :func:`train` alternates one
update of ``D`` and one of ``G`` per batch, shows a progress bar and a sample
grid every few epochs, and checkpoints to a directory it can resume from.

Both networks are plain Keras layers (no custom classes), so they save as ``.keras`` and load
with ``safe_mode=True``; checkpoints are checked against a SHA-256 manifest before loading.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, validation
from modelsec_edu.models import loop
from modelsec_edu.supply_chain import integrity

__all__ = [
    "GAN",
    "cgan",
    "dcgan",
    "label_accuracy",
    "load_checkpoint",
    "sample",
    "save_checkpoint",
    "train",
]

IMAGE_SHAPE = (28, 28, 1)


@dataclass
class GAN:
    """A generator, its discriminator, and how far they have been trained."""

    generator: keras.Model
    discriminator: keras.Model
    latent_dim: int
    num_classes: int = 0  # 0: unconditional
    epochs_done: int = 0
    checkpoint: Path | None = field(default=None, repr=False, compare=False)  # the folder it owns

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0


# --------------------------------------------------------------------------- models


def _trunk(latent: Any) -> Any:
    # Sized for a CPU: about 10 M multiply-adds per image (the keras.io DCGAN's is 4x that).
    h = keras.layers.Dense(7 * 7 * 64)(latent)
    h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Reshape((7, 7, 64))(h)
    h = keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same")(h)
    h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same")(h)
    h = keras.layers.LeakyReLU(0.2)(h)
    return keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h)  # pixels in [0, 1]


def _discriminator(outputs: int, name: str) -> keras.Model:
    conv, act = keras.layers.Conv2D, keras.layers.LeakyReLU
    layers = [conv(32, 4, strides=2, padding="same"), act(0.2)]
    layers += [conv(64, 4, strides=2, padding="same"), act(0.2), keras.layers.Flatten()]
    layers.append(keras.layers.Dense(outputs))  # [real/fake, class..]
    return keras.Sequential([keras.Input(shape=IMAGE_SHAPE), *layers], name=name)


def _rate(learning_rate: Any) -> float:
    return validation.check_float(learning_rate, "learning_rate", min=0, min_open=True)


def _compile(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    return model


def dcgan(*, latent_dim: int = 64, learning_rate: float = 2e-4) -> GAN:
    """An unconditional DCGAN for 28x28 digits (Radford, Metz & Chintala 2016)."""
    latent_dim = validation.check_int(latent_dim, "latent_dim", min=1)
    learning_rate = _rate(learning_rate)
    z = keras.Input(shape=(latent_dim,), name="z")
    generator = keras.Model(z, _trunk(z), name="dcgan_generator")
    discriminator = _discriminator(1, "dcgan_discriminator")
    return GAN(
        _compile(generator, learning_rate), _compile(discriminator, learning_rate), latent_dim
    )


def cgan(*, latent_dim: int = 64, num_classes: int = 10, learning_rate: float = 2e-4) -> GAN:
    """A conditional GAN: ``G(z, label)``; ``D`` classifies real digits too (AC-GAN, Odena 2017)."""
    latent_dim = validation.check_int(latent_dim, "latent_dim", min=1)
    num_classes = validation.check_int(num_classes, "num_classes", min=2)
    learning_rate = _rate(learning_rate)
    z = keras.Input(shape=(latent_dim,), name="z")
    label = keras.Input(shape=(), dtype="int32", name="label")
    emb = keras.layers.Embedding(num_classes, 32)(label)
    latent = keras.layers.Concatenate()([z, emb])
    generator = keras.Model([z, label], _trunk(latent), name="cgan_generator")
    discriminator = _discriminator(1 + num_classes, "cgan_discriminator")
    networks = _compile(generator, learning_rate), _compile(discriminator, learning_rate)
    return GAN(*networks, latent_dim, num_classes)


# --------------------------------------------------------------------------- sampling


def _is_conditional(generator: keras.Model) -> bool:
    return len(generator.inputs) == 2


def _num_classes(generator: keras.Model) -> int:
    return next(
        int(la.input_dim) for la in generator.layers if isinstance(la, keras.layers.Embedding)
    )


def _sampler(generator: keras.Model):
    conditional = _is_conditional(generator)
    return backend.compiled(
        generator, ("gan_sample",), lambda: lambda run, z, c: run([z, c]) if conditional else run(z)
    )


def sample(
    generator: keras.Model,
    n: int,
    *,
    labels: Any = None,
    seed: int | None = None,
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw ``n`` images from a generator: ``(images, labels)``.

    For a conditional generator, ``labels`` (length ``n``) picks the digit of
    each sample; when omitted they are drawn uniformly.  An unconditional
    generator takes no labels and returns ``None`` for them.
    """
    generator = validation.check_model(generator, "generator")
    n = validation.check_int(n, "n", min=1)
    batch_size = validation.check_int(batch_size, "batch_size", min=1)
    rng = np.random.default_rng(validation.check_seed(seed))
    latent_dim = int(generator.inputs[0].shape[-1])
    z = rng.standard_normal((n, latent_dim)).astype("float32")
    if _is_conditional(generator):
        k = _num_classes(generator)
        labels = rng.integers(0, k, n) if labels is None else labels
        c = validation.check_labels(labels, "labels", n=n, num_classes=k).astype("int32")
    elif labels is not None:
        raise ValueError("an unconditional generator takes no labels")
    else:
        c = np.zeros(n, dtype="int32")
    call, t = _sampler(generator), keras.ops.convert_to_tensor
    out = [
        keras.ops.convert_to_numpy(call(t(z[i : i + batch_size]), t(c[i : i + batch_size])))
        for i in range(0, n, batch_size)
    ]
    images = np.concatenate(out).astype("float32")
    return images, (c.astype("int64") if _is_conditional(generator) else None)


def label_accuracy(
    generator: keras.Model, classifier: keras.Model, *, n: int = 1000, seed: int = 0
) -> float:
    """Share of conditional samples that a separately trained classifier recognises as their label.

    An honest measure of a conditional generator's quality: a digit the
    classifier reads as another digit is not what it was asked for.
    """
    generator = validation.check_model(generator, "generator")
    classifier = validation.check_model(classifier, "classifier")
    n = validation.check_int(n, "n", min=1)
    if not _is_conditional(generator):
        raise ValueError("label_accuracy needs a conditional generator (inputs z and label)")
    images, labels = sample(generator, n, labels=np.arange(n) % _num_classes(generator), seed=seed)
    logits = [classifier(images[i : i + 500], training=False) for i in range(0, n, 500)]
    pred = np.concatenate([keras.ops.convert_to_numpy(t) for t in logits]).argmax(axis=1)
    return float(np.mean(pred == labels))


# --------------------------------------------------------------------------- training


def _bce(target: float, logits: Any) -> Any:
    ones = keras.ops.ones_like(logits) * target
    return keras.ops.mean(keras.ops.binary_crossentropy(ones, logits, from_logits=True))


def _ce(y: Any, logits: Any) -> Any:
    return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _d_loss(conditional: bool):
    """Discriminator: real images real, generated fake; (AC-GAN) real digits get their class."""

    def loss_fn(forward, inputs, y):
        real, fake = inputs
        out_real = keras.ops.cast(forward(real), "float32")
        out_fake = keras.ops.cast(forward(fake), "float32")
        loss = _bce(1.0, out_real[:, :1]) + _bce(0.0, out_fake[:, :1])
        return loss + _ce(y, out_real[:, 1:]) if conditional else loss

    return loss_fn


def _g_loss(discriminator: keras.Model, conditional: bool):
    """Generator: make D call its images real (non-saturating loss); (AC-GAN) of the asked class.

    ``D``'s weights arrive as inputs and run through ``stateless_call``, so
    the compiled step always sees the discriminator's current weights (on JAX
    a weight read inside ``jit`` would be frozen at trace time).
    """

    def loss_fn(forward, inputs, y):
        z, d_trainable, d_other = inputs
        fake = forward([z, y]) if conditional else forward(z)
        out, _ = discriminator.stateless_call(d_trainable, d_other, fake, training=True)
        out = keras.ops.cast(out, "float32")
        loss = _bce(1.0, out[:, :1])
        return loss + _ce(y, out[:, 1:]) if conditional else loss

    return loss_fn


def _show_grid(epoch: int, images: np.ndarray, labels: np.ndarray | None) -> None:
    """Display a sample grid under IPython (a notebook); do nothing in a plain script."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    import matplotlib.pyplot as plt

    from modelsec_edu import plots

    fig = plots.image_grid(
        images, labels=labels, ncols=10, size=0.8, title=f"samples after epoch {epoch}"
    )
    display(fig)
    plt.close(fig)


def train(
    gan: GAN,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    epochs: int,
    batch_size: int = 64,
    checkpoint_dir: str | Path | None = None,
    sample_every: int = 5,
    on_samples: Callable[[int, np.ndarray, np.ndarray | None], None] | None = _show_grid,
    seed: int = 0,
    progress: bool = True,
) -> keras.callbacks.History:
    """Train a GAN until ``gan.epochs_done == epochs``: one D update, then one G update, per batch.

    Args:
        gan: from :func:`dcgan`, :func:`cgan` or :func:`load_checkpoint`.
        x: real images in [0, 1], shape ``(n, 28, 28, 1)``.
        y: their labels (needed by a conditional GAN, ignored otherwise).
        epochs: the *total* number of epochs; a resumed GAN trains only the rest.
        batch_size: real images per update.
        checkpoint_dir: after every epoch, save the GAN there
            (:func:`save_checkpoint`); resume with :func:`load_checkpoint`.
        sample_every: call ``on_samples(epoch, images, labels)`` every this many
            epochs with a fixed set of latent points (by default: show a grid
            in a notebook), so the grids show the same points improving.
        seed: seeds the noise and the shuffling.
        progress: show a progress bar.

    Returns:
        A Keras ``History`` with ``d_loss``, ``g_loss``, ``seconds`` and
        ``samples_per_second`` per epoch (the epochs run in :func:`.loop.epoch_loop`).
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"gan must be a gan.GAN (from dcgan() or cgan()), got {type(gan).__name__}")
    x = validation.check_array(x, "x", ndim=4)
    if x.shape[1:] != IMAGE_SHAPE or x.min() < 0 or x.max() > 1:  # the generator ends in a sigmoid
        raise ValueError(f"x must be images of shape (n, 28, 28, 1) in [0, 1], got {x.shape}")
    if gan.conditional or y is not None:  # an unconditional GAN ignores y, but not a wrong one
        y = validation.check_labels(y, "y", n=len(x), num_classes=gan.num_classes or None)
    y = (y if gan.conditional else np.zeros(len(x))).astype("int32")
    epochs = validation.check_int(epochs, "epochs", min=1)
    batch_size = validation.check_int(batch_size, "batch_size", min=1)
    sample_every = validation.check_int(sample_every, "sample_every", min=1)
    seed = validation.check_seed(seed)
    if on_samples is not None:
        validation.check_callable(on_samples, "on_samples")
    checkpoint_dir = (
        None
        if checkpoint_dir is None
        else _checkpoint_target(gan, checkpoint_dir, False, "checkpoint_dir")
    )

    G, D = gan.generator, gan.discriminator
    d_step = backend.train_step(D, _d_loss(gan.conditional), key=("gan_d", id(D.optimizer)))
    g_step = backend.train_step(G, _g_loss(D, gan.conditional), key=("gan_g", id(G.optimizer)))
    sampler, t = _sampler(G), keras.ops.convert_to_tensor
    rng = np.random.default_rng(seed + gan.epochs_done)  # a resumed run does not replay the noise
    grid_z = np.random.default_rng(seed).standard_normal((40, gan.latent_dim)).astype("float32")
    grid_c = (np.arange(40) % max(gan.num_classes, 1)).astype("int32")

    def train_batch(sl, idx):
        z = t(rng.standard_normal((len(idx), gan.latent_dim)).astype("float32"))
        c = t(rng.integers(0, max(gan.num_classes, 1), len(idx)).astype("int32"))
        d_loss = d_step((t(x[idx]), sampler(z, c)), t(y[idx]))
        weights = (
            [v.value for v in D.trainable_variables],
            [v.value for v in D.non_trainable_variables],
        )
        return {"d_loss": d_loss, "g_loss": g_step((z, *weights), c)}

    def end_epoch(epoch, logs):
        gan.epochs_done = epoch + 1
        if checkpoint_dir is not None:
            save_checkpoint(gan, checkpoint_dir)
        if on_samples is not None and (
            gan.epochs_done % sample_every == 0 or gan.epochs_done == epochs
        ):
            images = keras.ops.convert_to_numpy(sampler(t(grid_z), t(grid_c)))
            on_samples(gan.epochs_done, images, grid_c if gan.conditional else None)

    # Full batches only (drop_last): one trace of each compiled step.
    return loop.epoch_loop(
        train_batch, len(x), epochs=max(epochs, gan.epochs_done), batch_size=batch_size, rng=rng,
        first_epoch=gan.epochs_done, drop_last=True, end_epoch=end_epoch, model=G,
        progress=progress, desc="GAN training", unit="img",
    )  # fmt: skip


# --------------------------------------------------------------------------- checkpoints


def _checkpoint_target(gan: GAN, directory: Any, overwrite: Any, what: str) -> Path:
    """The folder, unless it holds a checkpoint not this GAN's own; the GAN then owns it."""
    directory = validation.check_path(directory, what)
    own = validation.check_bool(overwrite, "overwrite") or gan.checkpoint == directory.resolve()
    for name in ("generator.keras", "discriminator.keras", "gan.json"):
        validation.check_new_path(directory / name, what, overwrite=own)
    gan.checkpoint = directory.resolve()
    return directory


def save_checkpoint(gan: GAN, directory: str | Path, *, overwrite: bool = False) -> Path:
    """Save both networks and the epoch count in a manifest; keeps others' unless overwrite=True."""
    directory = _checkpoint_target(gan, directory, overwrite, "directory")
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "manifest.json"
    integrity.save_model(gan.generator, directory / "generator.keras", manifest, overwrite=True)
    integrity.save_model(
        gan.discriminator, directory / "discriminator.keras", manifest, overwrite=True
    )
    meta = directory / "gan.json"
    info = {k: getattr(gan, k) for k in ("latent_dim", "num_classes", "epochs_done")}
    meta.write_text(json.dumps(info), encoding="utf-8")
    integrity.record(meta, manifest, replace=True)
    return directory


def load_checkpoint(directory: str | Path) -> GAN | None:
    """Load a GAN saved by :func:`save_checkpoint`, or return None when there is none.

    Every file is checked against the manifest first: a changed file raises
    :class:`modelsec_edu.integrity.IntegrityError` and nothing is loaded.
    """
    directory = validation.check_path(directory, "directory")
    meta = directory / "gan.json"
    if not meta.is_file():
        return None
    manifest = directory / "manifest.json"
    integrity.verify(meta, manifest)
    info = json.loads(meta.read_text(encoding="utf-8"))
    generator = integrity.load_model(directory / "generator.keras", manifest)
    discriminator = integrity.load_model(directory / "discriminator.keras", manifest)
    dims = int(info["latent_dim"]), int(info["num_classes"]), int(info["epochs_done"])
    return GAN(generator, discriminator, *dims, directory.resolve())  # its own: train() updates it
