"""Adversarial training: the min-max objective of chapter 02, solved batch by batch.

Threat model: a white-box evasion attacker with an L-inf budget ``eps`` at test
time; the defender trains on worst-case inputs (Madry et al. 2018)::

    min_theta  E_(x,y) [ max_{||delta|| <= eps}  loss(f_theta(x + delta), y) ]

The inner ``max`` is an attack (:func:`modelsec_edu.evasion.pgd_tensor`) run
*inside* the compiled weight update (:func:`modelsec_edu.backend.train_step`):
on TensorFlow the attack and the update are one ``tf.function``, on JAX one
``jax.jit``.  :func:`adversarial_fit` offers four ways to solve the inner max:

* ``"fgsm_rs"`` -- one signed-gradient step of size ``step_size`` from a uniform
  random start, projected back to the ball ("fast" AT, Wong, Rice & Kolter 2020);
* ``"n_fgsm"`` -- a step of ``eps`` from a wider random start, not projected
  (de Jorge et al. 2022): the noise, not the projection, prevents catastrophic
  overfitting;
* ``"pgd"`` -- ``steps`` projected steps from a random start (Madry et al. 2018);
* ``"trades"`` -- PGD on the KL divergence to the clean prediction, trained with
  ``CE(clean) + beta * KL`` (Zhang et al. 2019).

Every perturbation is projected so that ``x + delta`` stays in [0, 1] *and* in
the ball at each step.  :func:`.robust_eval.robustness` measures clean, FGSM and PGD
accuracy.  The article's GAN-based method is in :mod:`.article`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models

from .gradient import pgd, pgd_tensor
from .robust_eval import FLOAT32

__all__ = ["METHODS", "accelerator", "adversarial_fit"]

METHODS = ("fgsm_rs", "n_fgsm", "pgd", "trades")
# Default step size as a multiple of eps, and default number of inner steps.
_DEFAULTS = {"fgsm_rs": (1.25, 1), "n_fgsm": (1.0, 1), "pgd": (0.25, 10), "trades": (0.25, 10)}


# --------------------------------------------------------------------------- checks


def _check_xy(model: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model that outputs logits, got {type(model).__name__}")
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (n, ...), got shape {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"y must be integer labels of shape ({len(x)},), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"x must lie in [0, 1], got values from {x.min():g} to {x.max():g}")
    return x, y.astype("int32")


def _number(name: str, value: Any, *, low: float = 0.0, integer: bool = False) -> Any:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {type(value).__name__}")
    if not np.isfinite(value) or value < low:
        raise ValueError(f"{name} must be finite and >= {low:g}, got {value}")
    return int(value) if integer else float(value)


# --------------------------------------------------------------------------- the losses


def _ce(y, logits):
    return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _kl_attack(logits_fn, x, p_clean, *, eps, step_size, steps, delta0):
    """TRADES' inner max: PGD on KL(p_clean || softmax(f(x + delta))), projected to the ball and [0, 1]."""
    log_p = keras.ops.log(p_clean + 1e-12)

    def kl(xa):
        per = keras.ops.sum(p_clean * (log_p - keras.ops.log_softmax(logits_fn(xa), axis=-1)), axis=-1)
        return keras.ops.sum(per), per

    grad_fn = backend.value_and_grad(kl)

    def project(xa):
        return keras.ops.clip(x + keras.ops.clip(xa - x, -eps, eps), 0.0, 1.0)

    def body(_, xa):
        _, _, g = grad_fn(xa)
        return project(xa + step_size * keras.ops.sign(g))

    return keras.ops.stop_gradient(keras.ops.fori_loop(0, steps, body, project(x + delta0)))


def _make_loss(method: str, steps: int, beta: float):
    """``loss_fn(forward, (x, noise, eps, step_size), y)`` for :func:`backend.train_step`."""

    def loss_fn(forward, inputs, y):
        x, noise, eps, step_size = inputs

        def logits(t):  # attack gradients stay float32 even under a mixed-precision policy
            return keras.ops.cast(forward(t, training=False), "float32")

        def train_logits(t):
            return keras.ops.cast(forward(t, training=True), "float32")

        if method == "trades":
            z_clean = train_logits(x)
            p_clean = keras.ops.stop_gradient(keras.ops.softmax(z_clean))
            x_adv = _kl_attack(logits, x, p_clean, eps=eps, step_size=step_size, steps=steps, delta0=noise)
            log_q = keras.ops.log_softmax(train_logits(x_adv), axis=-1)
            log_p = keras.ops.log_softmax(z_clean, axis=-1)
            kl = keras.ops.mean(keras.ops.sum(keras.ops.exp(log_p) * (log_p - log_q), axis=-1))
            return _ce(y, z_clean) + beta * kl
        if method == "n_fgsm":  # noise from [-2 eps, 2 eps] and no projection onto the eps-ball
            radius, start = 3.0 * eps, 2.0 * eps * noise
        else:  # a uniform start in the ball, every step projected back into it (and into [0, 1])
            radius, start = eps, eps * noise
        x_adv = pgd_tensor(logits, x, y, eps=radius, step_size=step_size, steps=steps, delta0=start)
        return _ce(y, train_logits(x_adv))

    return loss_fn


# --------------------------------------------------------------------------- training


def adversarial_fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str,
    eps: float,
    epochs: int,
    batch_size: int = 128,
    step_size: float | None = None,
    steps: int | None = None,
    beta: float = 6.0,
    warmup_epochs: float = 0.0,
    learning_rate: float | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    val_steps: int = 10,
    restore_best: bool = False,
    seed: int = 0,
    progress: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.callbacks.History:
    """Train ``model`` on adversarial examples made on the fly (the min-max objective).

    Threat model: L-inf evasion with budget ``eps`` on inputs in [0, 1].

    Args:
        model: a Keras classifier that outputs logits; trained in place.  An
            uncompiled model (or any model when ``learning_rate`` is given) is
            compiled with Adam and a cosine decay over this run.
        x, y: training images in [0, 1] and integer labels.
        method: ``"fgsm_rs"`` (Wong et al. 2020), ``"n_fgsm"`` (de Jorge et
            al. 2022), ``"pgd"`` (Madry et al. 2018) or ``"trades"`` (Zhang et al. 2019).
        eps: the L-inf budget trained against.
        epochs: passes over ``x``.
        batch_size: examples per weight update.
        step_size: the inner step, by default ``1.25 eps`` (FGSM-RS), ``eps``
            (N-FGSM) or ``eps / 4`` (PGD, TRADES).  Warm-up scales it with eps.
        steps: inner steps: 1 for the FGSM methods, by default 10 for PGD/TRADES.
        beta: TRADES' weight of the robustness (KL) term.
        warmup_epochs: ramp eps linearly from 0 over this many epochs (it
            stabilises the first epochs of multi-step training).
        learning_rate: peak learning rate of a fresh cosine schedule.
        validation_data: ``(x_val, y_val)``; each epoch logs ``val_accuracy``
            and ``val_robust_accuracy`` (PGD with ``val_steps`` steps).
        val_steps: steps of the validation PGD.
        restore_best: keep the weights of the epoch with the best validation
            robust accuracy: early stopping against catastrophic overfitting
            (Wong et al. 2020; Rice et al. 2020).  Needs ``validation_data``.
        seed: seeds the shuffling and the random starts.
        progress: show a progress bar (samples/s and metrics in its caption).
        callbacks: Keras callbacks (``on_epoch_end`` and ``stop_training`` are honoured).

    Returns:
        The Keras ``History``: ``loss``, ``eps``, ``samples_per_second`` and the
        validation metrics per epoch.
    """
    x, y = _check_xy(model, x, y)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    eps = _number("eps", eps)
    epochs = _number("epochs", epochs, low=1, integer=True)
    batch_size = _number("batch_size", batch_size, low=1, integer=True)
    warmup_epochs = _number("warmup_epochs", warmup_epochs)
    beta = _number("beta", beta)
    ratio, default_steps = _DEFAULTS[method]
    ratio = ratio if step_size is None else _number("step_size", step_size) / max(eps, 1e-12)
    steps = default_steps if steps is None else _number("steps", steps, low=1, integer=True)
    if method in ("fgsm_rs", "n_fgsm") and steps != 1:
        raise ValueError(f"{method} takes one step; use method='pgd' for steps={steps}")
    if restore_best and validation_data is None:
        raise ValueError("restore_best=True needs validation_data to pick the best epoch")
    if validation_data is not None:
        x_val, y_val = _check_xy(model, *validation_data)

    steps_per_epoch = int(np.ceil(len(x) / batch_size))
    if getattr(model, "optimizer", None) is None or learning_rate is not None:
        models.compile_classifier(model, learning_rate=learning_rate or 1e-3, decay_steps=epochs * steps_per_epoch)
    # The optimizer is part of the key: a recompiled model gets a fresh compiled step.
    key = ("adversarial_fit", method, steps, beta, id(model.optimizer))
    step = backend.train_step(model, _make_loss(method, steps, beta), key=key)

    history = keras.callbacks.History()
    cbs = keras.callbacks.CallbackList([*callbacks, history], model=model)
    bar = _Bar(epochs * len(x), method) if progress else None
    rng = np.random.default_rng(seed)
    t = keras.ops.convert_to_tensor
    warm_steps = warmup_epochs * steps_per_epoch
    best, best_acc, done = None, -1.0, 0
    model.stop_training = False
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        start, losses = time.perf_counter(), []
        order = rng.permutation(len(x))
        # One draw per epoch: TRADES starts at x + N(0, 0.001^2); the others take unit noise, scaled by eps in the step.
        if method == "trades":
            noise = 0.001 * rng.standard_normal(size=x.shape, dtype=np.float32)
        else:
            noise = 2.0 * rng.random(size=x.shape, dtype=np.float32) - 1.0
        x_epoch, y_epoch = x[order], y[order]  # one gather per epoch, then contiguous slices
        for i in range(0, len(x), batch_size):
            sl = slice(i, i + batch_size)
            eps_now = eps * min(1.0, (done + 1) / warm_steps) if warm_steps > 0 else eps
            inputs = (t(x_epoch[sl]), t(noise[sl]), t(np.float32(eps_now)), t(np.float32(ratio * eps_now)))
            losses.append(step(inputs, t(y_epoch[sl])))
            done += 1
            if bar is not None:
                bar.update(len(x_epoch[sl]))
        logs = {"loss": float(np.mean([keras.ops.convert_to_numpy(v) for v in losses])), "eps": eps_now}
        logs["samples_per_second"] = len(x) / (time.perf_counter() - start)
        if validation_data is not None:
            logs["val_accuracy"] = models.accuracy(model, x_val, y_val)
            x_adv = pgd(model, x_val, y_val, eps=eps, step_size=eps / 4, steps=val_steps, seed=seed, **_FLOAT32)
            logs["val_robust_accuracy"] = models.accuracy(model, x_adv, y_val)
            if restore_best and logs["val_robust_accuracy"] > best_acc:
                best, best_acc = model.get_weights(), logs["val_robust_accuracy"]
        if bar is not None:
            bar.show(epoch, logs)
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if bar is not None:
        bar.close()
    if best is not None:
        model.set_weights(best)
    cbs.on_train_end()
    return history


class _Bar:
    """One tqdm bar over all training samples, captioned with the latest epoch's metrics."""

    def __init__(self, total: int, method: str):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=f"{method} training", unit="sample", unit_scale=True, leave=True)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def show(self, epoch: int, logs: dict) -> None:
        names = {"loss": "loss", "val_accuracy": "val", "val_robust_accuracy": "val_rob", "eps": "eps"}
        shown = {short: f"{logs[k]:.3f}" for k, short in names.items() if k in logs}
        self._bar.set_postfix({"epoch": epoch + 1, **shown})

    def close(self) -> None:
        self._bar.close()


# --------------------------------------------------------------------------- evaluation

# Validation attacks run in float32 (the attack at its strongest): robust_eval's one setting.
_FLOAT32 = FLOAT32


def accelerator(*, mixed_precision: bool = True, verbose: bool = True) -> dict[str, Any]:
    """Detect the device; on a GPU switch on mixed precision (bfloat16). Returns what it found.

    On a GPU, Keras' ``mixed_bfloat16`` policy makes models built *afterwards*
    compute in bfloat16 with float32 weights (bfloat16 needs no loss scaling;
    the losses here cast logits to float32, so attack gradients stay float32).
    XLA: JAX always compiles with it; Keras' ``fit`` on TensorFlow turns it on
    by itself when a GPU is present.  On a CPU both stay off: XLA measured
    slower here.  With several GPUs, wrap model building and training in
    ``tf.distribute.MirroredStrategy().scope()`` (TensorFlow) or set
    ``keras.distribution.set_distribution(keras.distribution.DataParallel())``
    (JAX) before building the model.
    """
    found = backend.devices()
    gpus = [d for d in found if d["type"] == "GPU"]
    info = {
        "backend": backend.backend(),
        "device": f"{len(gpus)} x GPU ({gpus[0]['name']})" if gpus else "CPU",
        "mixed_precision": bool(gpus) and mixed_precision,
        "xla": bool(gpus) or backend.backend() == "jax",
    }
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if info["mixed_precision"] else "float32")
    if verbose:
        print(
            f"backend {info['backend']} on {info['device']}; mixed precision "
            f"{'on (bfloat16)' if info['mixed_precision'] else 'off'}; XLA {'on' if info['xla'] else 'off'}"
        )
    return info
