"""DP-SGD: training whose privacy leak is bounded by a proof (Abadi et al. 2016).

**Threat model.** The strongest attacker of membership inference: it may know
every training record but one and the whole training procedure, and sees the
final weights.  Differential privacy bounds how much that one record can
change the distribution of what training outputs: by a factor ``e^ε``, except
with probability ``δ``.  Any membership attack then has TPR <= e^ε FPR + δ at
every threshold, whatever it does.

**One step** (Abadi et al. 2016, https://arxiv.org/abs/1607.00133, Algorithm 1):

1. sample a batch: each record joins independently with probability
   ``q = batch_size / n`` (**Poisson sampling**, what the accountant assumes);
2. compute each record's own gradient (:func:`modelsec_edu.backend.train_step`
   with ``per_example=``, inside the compiled step);
3. **clip** each gradient to L2 norm at most ``C`` (``l2_norm_clip``): no single
   patient can pull the weights further than ``C``;
4. **sum**, add Gaussian **noise** ``N(0, sigma^2 C^2)`` per coordinate
   (``sigma``: the noise multiplier), divide by the *expected* batch size
   ``q n``, and let the optimizer step.

:mod:`.accountant` turns ``(q, sigma, steps, δ)`` into ε.  The batch size
varies from step to step under Poisson sampling; to keep one compiled step,
batches are padded to a fixed capacity and the padding's gradients are
masked out (a batch above the capacity, less likely than 1e-9 per step, is
cut to it, with a warning).  ``sampling="shuffle"`` takes fixed-size batches
from a shuffled order instead, as many implementations do; the ε reported is
then the Poisson figure, which **does not** formally cover it.

Works on TensorFlow, JAX and PyTorch; the model must have no BatchNorm.  Used
in chapter 07.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import (
    check_bool,
    check_choice,
    check_classifier,
    check_float,
    check_int,
    check_seed,
    check_xy,
)

from .accountant import dp_epsilon

__all__ = ["DPTraining", "capacity", "clip_and_noise", "dp_fit"]

SAMPLINGS = ("poisson", "shuffle")


def clip_and_noise(grads, noise, *, l2_norm_clip, mask=None, denominator):
    """DP-SGD's aggregation of one batch, in ``keras.ops``: clip each row, sum, add noise, divide.

    Args:
        grads: per-example gradients, one tensor per weight, each ``(b, *weight.shape)``.
        noise: one tensor per weight, of the weight's shape: already ``sigma * C * z``.
        l2_norm_clip: ``C``; each example's gradient (all weights together) is
            scaled to L2 norm at most ``C``.
        mask: ``(b,)`` 1 for real examples, 0 for padding, or None.
        denominator: what the noisy sum is divided by (the expected batch size).

    Returns:
        one tensor per weight: ``(sum_i clip(g_i) + noise) / denominator``.
    """
    b = keras.ops.shape(grads[0])[0]
    flat = [keras.ops.reshape(g, (b, -1)) for g in grads]
    norms = keras.ops.sqrt(sum(keras.ops.sum(f * f, axis=1) for f in flat))
    scale = keras.ops.minimum(1.0, l2_norm_clip / keras.ops.maximum(norms, 1e-12))
    if mask is not None:
        scale = scale * mask
    return [
        (keras.ops.tensordot(scale, g, axes=1) + z) / denominator
        for g, z in zip(grads, noise, strict=True)
    ]


def capacity(expected: float, n: int) -> int:
    """The padded batch size: the expected size + 6 standard deviations + 8, at most ``n``."""
    n = check_int(n, "n", min=1)
    expected = check_float(expected, "expected", min=0.0, max=n)
    q = expected / n
    return int(min(n, math.ceil(expected + 6 * math.sqrt(expected * (1 - q)) + 8)))


@dataclass
class DPTraining:
    """What :func:`dp_fit` did: the model, the privacy spent, and the recipe."""

    model: keras.Model = field(repr=False)
    epsilon: float
    delta: float
    steps: int
    noise_multiplier: float
    l2_norm_clip: float
    batch_size: int
    epochs: int
    sampling: str
    losses: np.ndarray = field(repr=False)


def _per_example_losses(forward, x, y):
    return keras.ops.sparse_categorical_crossentropy(y, forward(x, training=True), from_logits=True)


def _aggregate(grads, aux):
    mask, noise, clip, denominator = aux
    return clip_and_noise(grads, noise, l2_norm_clip=clip, mask=mask, denominator=denominator)


def dp_fit(
    model: keras.Model,
    x,
    y,
    *,
    noise_multiplier: float,
    l2_norm_clip: float = 1.0,
    batch_size: int = 256,
    epochs: int = 1,
    learning_rate: float = 0.1,
    momentum: float = 0.9,
    delta: float | None = None,
    sampling: str = "poisson",
    seed: int | None = 0,
    progress: bool = True,
) -> DPTraining:
    """Train ``model`` in place with DP-SGD and return it with the ε it spent.

    Args:
        model: a Keras classifier that outputs logits (no BatchNorm).
        x, y: the training records and integer labels.
        noise_multiplier: ``sigma``; 0 gives clipped but noiseless SGD (ε infinite).
        l2_norm_clip: ``C``, the bound on each record's gradient norm.
        batch_size: the *expected* batch size ``q n``.
        epochs: passes over the data (``ceil(epochs n / batch_size)`` steps).
        learning_rate, momentum: SGD with momentum (post-processing: costs no privacy).
        delta: δ of the reported (ε, δ); default ``1 / n**1.1``, below ``1 / n``
            as it must be (a δ near 1/n allows publishing a whole record).
        sampling: ``"poisson"`` (what the accountant assumes) or ``"shuffle"``.
        seed: seeds the sampling and the noise.
        progress: show a tqdm bar over steps.
    """
    x, y = check_xy(x, y, num_classes=check_classifier(model, unbuilt_ok=True))
    n = len(x)
    sigma = check_float(noise_multiplier, "noise_multiplier", min=0.0)
    clip = check_float(l2_norm_clip, "l2_norm_clip", min=0.0, min_open=True)
    batch_size = check_int(batch_size, "batch_size", min=1, max=n)
    epochs = check_int(epochs, "epochs", min=1)
    learning_rate = check_float(learning_rate, "learning_rate", min=0.0, min_open=True)
    momentum = check_float(momentum, "momentum", min=0.0, max=1.0, max_open=True)
    delta = (
        1.0 / n**1.1
        if delta is None
        else check_float(delta, "delta", min=0.0, max=1.0, min_open=True, max_open=True)
    )
    sampling = check_choice(sampling, "sampling", SAMPLINGS)
    progress = check_bool(progress, "progress")
    rng = np.random.default_rng(check_seed(seed))

    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum))
    step = backend.train_step(
        model, _per_example_losses, key="privacy.dp_fit", per_example=_aggregate
    )
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    cap = capacity(batch_size, n) if sampling == "poisson" else batch_size
    steps = math.ceil(epochs * n / batch_size - 1e-9)
    yt = y.astype("int32")
    consts = (
        keras.ops.convert_to_tensor(clip, "float32"),
        keras.ops.convert_to_tensor(float(batch_size), "float32"),
    )
    order, losses = np.empty(0, dtype=int), []
    bar = range(steps)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="DP-SGD", unit="step")
    for s in bar:
        if sampling == "poisson":
            idx = np.flatnonzero(rng.random(n) < batch_size / n)
            if len(idx) > cap:
                warnings.warn(
                    f"Poisson batch of {len(idx)} cut to the capacity {cap}", stacklevel=2
                )
                idx = idx[:cap]
        else:
            per_pass = n // batch_size
            if s % per_pass == 0:
                order = rng.permutation(n)
            idx = order[(s % per_pass) * batch_size : (s % per_pass + 1) * batch_size]
        take = np.resize(idx, cap) if len(idx) else np.zeros(cap, dtype=int)  # pad by repeating
        mask = (np.arange(cap) < len(idx)).astype("float32")
        noise = [(sigma * clip * rng.standard_normal(shape)).astype("float32") for shape in shapes]
        aux = (
            keras.ops.convert_to_tensor(mask),
            [keras.ops.convert_to_tensor(z) for z in noise],
            *consts,
        )
        loss = step(
            keras.ops.convert_to_tensor(x[take]), keras.ops.convert_to_tensor(yt[take]), aux
        )
        losses.append(float(keras.ops.convert_to_numpy(loss)))
    if progress:
        bar.close()
    eps = (
        math.inf
        if sigma == 0
        else dp_epsilon(
            n=n, batch_size=batch_size, noise_multiplier=sigma, epochs=epochs, delta=delta
        )
    )
    return DPTraining(
        model=model,
        epsilon=eps,
        delta=delta,
        steps=steps,
        noise_multiplier=sigma,
        l2_norm_clip=clip,
        batch_size=batch_size,
        epochs=epochs,
        sampling=sampling,
        losses=np.asarray(losses),
    )
