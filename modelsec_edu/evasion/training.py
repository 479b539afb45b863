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
the ball at each step.  Settings left out come from one table,
:data:`modelsec_edu.models.recipes.ADVERSARIAL_DEFAULTS`: for FGSM-RS they are
the zoo's tuned recipe (a step of eps, an eps warm-up, a learning rate that
rises from 0, and the best epoch kept by PGD accuracy on held-out images).
The epochs run in :func:`modelsec_edu.models.loop.epoch_loop`.
:func:`.robust_eval.robustness` measures clean, FGSM and PGD accuracy,
:func:`.worst_case.worst_case` the worst case over APGD-CE, APGD-T and Square.
The article's GAN-based method is in :mod:`.article`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models, validation
from modelsec_edu.models import loop, recipes

from ._checks import num_classes
from .gradient import pgd, pgd_tensor
from .robust_eval import FLOAT32

__all__ = ["METHODS", "accelerator", "adversarial_fit", "epoch_seconds"]

METHODS = ("fgsm_rs", "n_fgsm", "pgd", "trades")


# --------------------------------------------------------------------------- checks


def _check_xy(model: Any, x: Any, y: Any, names=("x", "y")) -> tuple[np.ndarray, np.ndarray]:
    k = validation.check_classifier(model, unbuilt_ok=True)
    x, y = validation.check_xy(x, y, num_classes=k, min_ndim=2, names=names)
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{names[0]} must lie in [0, 1], got values {x.min():g} to {x.max():g}")
    return x, y.astype("int32")


def _check_pair(model: Any, validation_data: Any) -> tuple[np.ndarray, np.ndarray]:
    """``validation_data = (x_val, y_val)``, checked as :func:`_check_xy` checks ``(x, y)``."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError(
            f"validation_data must be a pair (x_val, y_val), got {type(validation_data).__name__}"
        )
    names = ("validation_data[0]", "validation_data[1]")
    return _check_xy(model, *validation_data, names=names)


def _number(name: str, value: Any, *, low: float = 0.0, integer: bool = False) -> Any:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(
            f"{name} must be {'an int' if integer else 'a number'}, got {type(value).__name__}"
        )
    if not np.isfinite(value) or value < low:
        raise ValueError(f"{name} must be finite and >= {low:g}, got {value}")
    return int(value) if integer else float(value)


# --------------------------------------------------------------------------- the losses


def _ce(y, logits):
    return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _kl_attack(logits_fn, x, p_clean, *, eps, step_size, steps, delta0):
    """TRADES' inner max: PGD on KL(p_clean || softmax(f(x + delta))), kept in ball and [0, 1]."""
    log_p = keras.ops.log(p_clean + 1e-12)

    def kl(xa):
        per = keras.ops.sum(
            p_clean * (log_p - keras.ops.log_softmax(logits_fn(xa), axis=-1)), axis=-1
        )
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

        def logits(t):  # the loss is taken on float32 logits whatever the model computes in
            return keras.ops.cast(forward(t, training=False), "float32")

        def train_logits(t):
            return keras.ops.cast(forward(t, training=True), "float32")

        if method == "trades":
            z_clean = train_logits(x)
            p_clean = keras.ops.stop_gradient(keras.ops.softmax(z_clean))
            x_adv = _kl_attack(
                logits, x, p_clean, eps=eps, step_size=step_size, steps=steps, delta0=noise
            )
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


def _holdout(validation_data, x, y, n_val, model):
    """Training and validation arrays: ``"auto"`` holds out the last ``n_val`` images."""
    if isinstance(validation_data, str):
        if validation_data != "auto":
            raise ValueError(
                f"validation_data must be (x_val, y_val), 'auto' or None, got {validation_data!r}"
            )
        if n_val == 0:
            return x, y, None
        return x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])
    return x, y, None if validation_data is None else _check_pair(model, validation_data)


def adversarial_fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str,
    eps: float,
    epochs: int,
    batch_size: int = 100,
    step_size: float | None = None,
    steps: int | None = None,
    beta: float = 6.0,
    warmup_epochs: float | None = None,
    learning_rate: float | None = None,
    lr_warmup: float | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | str | None = "auto",
    val_steps: int = 10,
    restore_best: bool | None = None,
    seed: int = 0,
    progress: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.callbacks.History:
    """Train ``model`` on adversarial examples made on the fly (the min-max objective).

    Threat model: L-inf evasion with budget ``eps`` on inputs in [0, 1].  Every
    setting left as ``None`` comes from
    :func:`modelsec_edu.models.recipes.adversarial_defaults` (one table for
    the library, the zoo and the bench); for ``"fgsm_rs"`` that is the tuned
    recipe that ``bench/robust_models.py`` measures against the course's bar.

    Args:
        model: a Keras classifier that outputs logits; trained in place.  An
            uncompiled model (or any model when ``learning_rate`` is given) is
            compiled with Adam and a cosine decay over this run, after a
            linear warm-up from 0 over ``lr_warmup`` of it.
        x, y: training images in [0, 1] and integer labels.
        method: ``"fgsm_rs"`` (Wong et al. 2020), ``"n_fgsm"`` (de Jorge et
            al. 2022), ``"pgd"`` (Madry et al. 2018) or ``"trades"`` (Zhang et al. 2019).
        eps: the L-inf budget trained against.
        epochs: passes over the training images.
        batch_size: examples per weight update.
        step_size: the inner step (default: ``eps`` for the FGSM methods,
            ``eps / 4`` for PGD and TRADES).  Warm-up scales it with eps.
        steps: inner steps: 1 for the FGSM methods, by default 10 for PGD/TRADES.
        beta: TRADES' weight of the robustness (KL) term.
        warmup_epochs: ramp eps linearly from 0 over this many epochs
            (default: a quarter of the run for FGSM-RS, an eighth for PGD/TRADES).
        learning_rate: peak learning rate of a fresh schedule.
        lr_warmup: the share of the run over which the learning rate rises from 0.
        validation_data: ``(x_val, y_val)``; ``"auto"`` (default) holds out
            the last sixteenth of ``x`` (500 of 8,000), which is then never
            trained on; ``None``: no validation.  Each epoch logs ``val_accuracy``
            and ``val_robust_accuracy`` (PGD with ``val_steps`` steps, float32).
        val_steps: steps of the validation PGD.
        restore_best: keep the weights of the epoch with the best validation
            robust accuracy: early stopping, which Wong et al. 2020 use against
            catastrophic overfitting (and Rice et al. 2020 against robust
            overfitting).  Default: True whenever there is validation data.
        seed: seeds the shuffling and the random starts.
        progress: show the course's progress bar (:class:`.loop.ProgressBar`).
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
    beta = _number("beta", beta)
    val_steps = validation.check_int(val_steps, "val_steps", min=1)
    seed = validation.check_seed(seed)
    d = recipes.adversarial_defaults(method, eps=eps, epochs=epochs, n=len(x))
    warmup_epochs = (
        d["warmup_epochs"] if warmup_epochs is None else _number("warmup_epochs", warmup_epochs)
    )
    ratio = recipes.ADVERSARIAL_DEFAULTS[method]["step"]  # the step as a multiple of eps
    if step_size is not None:
        ratio = _number("step_size", step_size) / max(eps, 1e-12)
    steps = d["steps"] if steps is None else _number("steps", steps, low=1, integer=True)
    if method in ("fgsm_rs", "n_fgsm") and steps != 1:
        raise ValueError(f"{method} takes one step; use method='pgd' for steps={steps}")
    lr_warmup = d["lr_warmup"] if lr_warmup is None else _number("lr_warmup", lr_warmup)
    if lr_warmup >= 1:
        raise ValueError(f"lr_warmup must be a fraction in [0, 1), got {lr_warmup}")
    if restore_best is not None and not isinstance(restore_best, bool):
        raise TypeError(f"restore_best must be a bool or None, got {type(restore_best).__name__}")
    x, y, val = _holdout(validation_data, x, y, d["n_val"], model)
    if restore_best and val is None:
        raise ValueError("restore_best=True needs validation_data to pick the best epoch")
    restore_best = (val is not None and d["restore_best"]) if restore_best is None else restore_best

    steps_per_epoch = int(np.ceil(len(x) / batch_size))
    if getattr(model, "optimizer", None) is None or learning_rate is not None:
        total = epochs * steps_per_epoch
        lr = d["learning_rate"] if learning_rate is None else learning_rate
        models.compile_classifier(model, learning_rate=lr, decay_steps=total,
                                  warmup_steps=int(lr_warmup * total))  # fmt: skip
    # The optimizer is part of the key: a recompiled model gets a fresh compiled step.
    key = ("adversarial_fit", method, steps, beta, id(model.optimizer))
    step = backend.train_step(model, _make_loss(method, steps, beta), key=key)

    rng = np.random.default_rng(seed)
    t = keras.ops.convert_to_tensor
    warm_steps = warmup_epochs * steps_per_epoch
    state = {"done": 0, "eps": eps, "best": None, "best_acc": -1.0}

    def begin_epoch(epoch, order):
        # One draw per epoch: TRADES starts at x + N(0, 0.001^2); the others take unit noise,
        # scaled by eps in the step.
        if method == "trades":
            noise = 0.001 * rng.standard_normal(size=x.shape, dtype=np.float32)
        else:
            noise = 2.0 * rng.random(size=x.shape, dtype=np.float32) - 1.0
        state["x"], state["y"], state["noise"] = x[order], y[order], noise

    def train_batch(sl, idx):
        done = state["done"]
        eps_now = eps * min(1.0, (done + 1) / warm_steps) if warm_steps > 0 else eps
        xb, nb = t(state["x"][sl]), t(state["noise"][sl])
        loss = step(
            (xb, nb, t(np.float32(eps_now)), t(np.float32(ratio * eps_now))), t(state["y"][sl])
        )
        state["done"], state["eps"] = done + 1, eps_now
        return {"loss": loss}

    def end_epoch(epoch, logs):
        out = {"eps": state["eps"]}
        if val is not None:
            out["val_accuracy"] = models.accuracy(model, *val)
            x_adv = pgd(
                model, *val, eps=eps, step_size=eps / 4, steps=val_steps, seed=seed, **_FLOAT32
            )
            out["val_robust_accuracy"] = models.accuracy(model, x_adv, val[1])
            if restore_best and out["val_robust_accuracy"] > state["best_acc"]:
                state["best"], state["best_acc"] = model.get_weights(), out["val_robust_accuracy"]
        return out

    history = loop.epoch_loop(
        train_batch, len(x), epochs=epochs, batch_size=batch_size, rng=rng,
        begin_epoch=begin_epoch, end_epoch=end_epoch, model=model, callbacks=callbacks,
        progress=progress, desc=f"{method} training",
    )  # fmt: skip
    if state["best"] is not None:
        model.set_weights(state["best"])
    return history


# --------------------------------------------------------------------------- evaluation

# Validation attacks run in float32 (the attack at its strongest): robust_eval's one setting.
_FLOAT32 = FLOAT32


def accelerator(*, verbose: bool = True) -> dict[str, Any]:
    """Detect the device and say how training will run there.  Changes no global state.

    Training and its attacks run in float32 whatever the device: this function
    never sets Keras' global dtype policy (a policy set there would silently
    apply to every model built afterwards, in every later chapter).  The
    attacks of chapter 03 pick their own precision per call
    (``precision="auto"`` uses ``attack_precision``, bfloat16 where the
    hardware has fast bfloat16 units); reported accuracies are float32.  XLA:
    JAX always compiles with it; Keras' ``fit`` on TensorFlow turns it on by
    itself when a GPU is present.  On a CPU both stay off: XLA measured slower
    here.  With several GPUs, wrap model building and training in
    ``tf.distribute.MirroredStrategy().scope()`` (TensorFlow) or set
    ``keras.distribution.set_distribution(keras.distribution.DataParallel())``
    (JAX) before building the model.
    """
    verbose = validation.check_bool(verbose, "verbose")
    found = backend.devices()
    gpus = [d for d in found if d["type"] == "GPU"]
    info = {
        "backend": backend.backend(),
        "device": f"{len(gpus)} x GPU ({gpus[0]['name']})" if gpus else "CPU",
        "precision": "float32",
        "attack_precision": backend.fast_dtype(),
        "xla": bool(gpus) or backend.backend() == "jax",
    }
    if verbose:
        print(
            f"backend {info['backend']} on {info['device']}; training in float32; "
            f"attacks with precision='auto' in {info['attack_precision']}; "
            f"XLA {'on' if info['xla'] else 'off'}"
        )
    return info


def epoch_seconds(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "plain",
    eps: float = 0.3,
    batch_size: int = 100,
    repeats: int = 1,
    warmup: int | None = None,
    **settings: Any,
) -> list[float]:
    """Wall seconds of each of ``repeats`` training epochs of ``model`` on ``(x, y)``.

    ``"plain"`` trains with :func:`modelsec_edu.models.fit`, a method of :data:`METHODS` with
    :func:`adversarial_fit` (given ``settings``); an untimed first epoch on ``x[:warmup]`` (default
    all, 0 for none) traces the steps.  Used by chapter 06 and ``bench/adversarial_training.py``.
    """
    validation.check_model(model)
    x = validation.check_array(x, "x", min_ndim=2)
    y = validation.check_labels(y, "y", n=len(x), num_classes=num_classes(model))
    method = validation.check_choice(method, "method", ("plain", *METHODS))
    eps = validation.check_float(eps, "eps", min=0)
    batch_size = validation.check_int(batch_size, "batch_size", min=1)
    repeats = validation.check_int(repeats, "repeats", min=1)
    n = len(x) if warmup is None else validation.check_int(warmup, "warmup", min=0)
    if settings and method == "plain":
        raise ValueError(f"settings {sorted(settings)} are adversarial_fit's, not for 'plain'")

    def one(xs, ys):
        if method == "plain":
            return models.fit(model, xs, ys, epochs=1, batch_size=batch_size, progress=False)
        return adversarial_fit(
            model, xs, ys, method=method, eps=eps, epochs=1, batch_size=batch_size,
            validation_data=None, progress=False, **settings,
        )  # fmt: skip

    if n:
        one(x[:n], y[:n])
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        one(x, y)
        out.append(time.perf_counter() - start)
    return out
