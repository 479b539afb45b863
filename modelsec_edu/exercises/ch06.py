"""Checks for chapter 06 (GAN and adversarial training): FGSM-RS by hand, the article's loop fixed.

Function-writing checks call the learner's function on a fresh small model and
fresh inputs and compare the result with the library (:func:`modelsec_edu.
evasion.pgd_tensor`, :func:`modelsec_edu.backend.weight_gradients`) and with
invariants (the perturbation inside the ball and [0, 1]; every real sample
seen once per epoch).  Choice questions explain every wrong option.  Used in
chapter 06; solutions in ``solutions/06_gan_adversarial_training.ipynb``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, evasion

from ._core import NO, OK, WAIT, _missing, call, check_close, check_option, verdict

__all__ = [
    "check_article_loop",
    "check_fgsm_rs_example",
    "check_fgsm_rs_step",
    "check_masking",
    "check_runs",
    "check_trades_beta",
    "check_uniform_loss",
    "fgsm_rs_example",
]


def fgsm_rs_example(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    delta0: np.ndarray,
    *,
    eps: float,
    alpha: float,
) -> np.ndarray:
    """The library's FGSM-RS example: one signed step of ``alpha`` from ``x + delta0``."""
    x_adv = evasion.pgd_tensor(
        lambda t: model(t, training=False),
        keras.ops.convert_to_tensor(x),
        keras.ops.convert_to_tensor(y),
        eps=eps,
        step_size=alpha,
        steps=1,
        delta0=keras.ops.convert_to_tensor(delta0),
    )
    return keras.ops.convert_to_numpy(x_adv)


def _fresh(rng: np.random.Generator):
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    model.set_weights(
        [rng.normal(0, 0.5, (36, 10)).astype("float32"), rng.normal(0, 0.1, 10).astype("float32")]
    )
    n = int(rng.integers(8, 20))
    x = rng.random((n, 6, 6, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int32")
    eps = float(rng.uniform(0.1, 0.3))
    delta0 = (eps * (2 * rng.random(x.shape, dtype=np.float32) - 1)).astype("float32")
    return model, x, y, eps, delta0


def check_fgsm_rs_example(fn: Any) -> bool:
    """``fn(model, x, y, delta0, eps, alpha)`` returns FGSM-RS's adversarial batch (NumPy)."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            model, x, y, eps, delta0 = _fresh(rng)
            alpha = float(rng.choice([0.5, 1.0, 1.25])) * eps
            got = np.asarray(
                call(fn, model, x.copy(), y.copy(), delta0.copy(), eps, alpha), dtype="float64"
            )
            if got.shape != x.shape:
                return f"return a batch of shape {x.shape}, got {got.shape}"
            if np.abs(got - x).max() > eps + 1e-5 or got.min() < -1e-6 or got.max() > 1 + 1e-6:
                return "project: x_adv must stay within eps of x (L-inf) and inside [0, 1]"
            want = fgsm_rs_example(model, x, y, delta0, eps=eps, alpha=alpha)
            if not np.allclose(got, want, atol=1e-5):
                return (
                    "inside the ball and [0, 1], but not FGSM-RS's point: start at clip(x + "
                    "delta0, 0, 1), "
                    "step alpha * sign(gradient of the loss there), then project"
                )
        return None

    return verdict(
        run, fn, success="Your FGSM-RS step matches evasion.pgd_tensor(steps=1) on fresh models."
    )


def check_fgsm_rs_step(fn: Any) -> bool:
    """``fn(model, x, y, delta0, eps, alpha, lr)``: one FGSM-RS step with plain SGD, in place."""

    def run():
        rng = np.random.default_rng()
        model, x, y, eps, delta0 = _fresh(rng)
        alpha, lr = 1.0 * eps, float(rng.uniform(0.05, 0.5))
        start = [w.copy() for w in model.get_weights()]
        want_adv = fgsm_rs_example(model, x, y, delta0, eps=eps, alpha=alpha)
        grads = backend.weight_gradients(model, want_adv, y)
        want = [w - lr * g for w, g in zip(start, grads)]
        clean = [w - lr * g for w, g in zip(start, backend.weight_gradients(model, x, y))]
        call(fn, model, x.copy(), y.copy(), delta0.copy(), eps, alpha, lr)
        got = model.get_weights()
        if all(np.array_equal(a, b) for a, b in zip(got, start)):
            return (
                "the model's weights did not change: assign w - lr * grad to each trainable "
                "variable"
            )
        if all(np.allclose(a, b, atol=1e-5) for a, b in zip(got, clean)):
            return "you trained on the clean batch: the outer min differentiates the loss at x_adv"
        if not all(np.allclose(a, b, atol=1e-5) for a, b in zip(got, want)):
            return (
                "the update differs from w - lr * d mean CE(f(x_adv), y) / dw, with FGSM-RS's x_adv"
            )
        return None

    return verdict(
        run, fn, success="Your training step matches the library's pieces on a fresh model."
    )


class _Spy:
    """Stands in for a model: records every ``train_on_batch`` call."""

    def __init__(self):
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def train_on_batch(self, x, y, **kwargs):
        self.calls.append((np.array(x), np.array(y)))
        return 0.0


def _loop_problem(
    spy: _Spy, x: np.ndarray, fake_marker: float, epochs: int, batch_size: int
) -> str | None:
    if len(spy.calls) == 0 or len(spy.calls) % 2:
        return (
            f"expected pairs of train_on_batch calls (real, then fake), got {len(spy.calls)} calls"
        )
    real, fake = spy.calls[0::2], spy.calls[1::2]
    for (xr, _), (xf, yf) in zip(real, fake):
        if xr.shape[1:] != x.shape[1:] or np.any(np.isclose(xr, fake_marker)):
            return (
                "every other call must be a real batch (images as loaded: the model flattens them)"
            )
        if not np.allclose(xf, fake_marker) or len(xf) != len(xr):
            return "after each real batch, one batch of generated images of the same size"
        if len(xr) > batch_size:
            return f"a batch holds at most batch_size = {batch_size} images, got {len(xr)}"
        if not np.issubdtype(yf.dtype, np.integer) or yf.min() < 0 or yf.max() > 9 or yf.ndim != 1:
            return "fake labels must be integer class labels in [0, 9] (sparse, not one-hot)"
    ids = np.concatenate([xr[:, 0, 0, 0] for xr, _ in real])
    want = np.tile(x[:, 0, 0, 0], epochs)
    if len(ids) != len(want) or not np.allclose(np.sort(ids), np.sort(want)):
        return f"in {epochs} epochs every real image should be seen exactly {epochs} times"
    labels = np.concatenate([yf for _, yf in fake])
    if len(np.unique(labels)) < 3:
        return "the article draws the fake labels at random (np.random.randint(0, 10, ...))"
    return None


def check_article_loop(fn: Any) -> bool:
    """``fn(model, x, y, sample_fake, epochs, batch_size, seed)``: the article's loop, fixed."""

    def run():
        rng = np.random.default_rng()
        n, epochs, batch_size = (
            int(rng.integers(50, 90)),
            int(rng.integers(1, 3)),
            int(rng.integers(8, 20)),
        )
        x = np.zeros((n, 28, 28, 1), dtype="float32")
        x[:, 0, 0, 0] = (np.arange(n) + 1) / (
            n + 2
        )  # an id per image, never equal to the fake marker
        y = rng.integers(0, 10, n)
        fake_marker = 0.999

        def sample_fake(k):
            return np.full((int(k), 28, 28, 1), fake_marker, dtype="float32")

        spy = _Spy()
        call(fn, spy, x, y, sample_fake, epochs, batch_size, int(rng.integers(1000)))
        return _loop_problem(spy, x, fake_marker, epochs, batch_size)

    return verdict(
        run,
        fn,
        success="Your loop alternates real mini-batches with GAN batches carrying random labels.",
    )


def check_uniform_loss(value: Any) -> bool:
    """Cross-entropy of a uniform prediction over the 10 digits (natural log)."""
    y = keras.ops.convert_to_tensor(np.array([3]))
    want = float(
        keras.ops.convert_to_numpy(
            keras.ops.sparse_categorical_crossentropy(y, keras.ops.zeros((1, 10)), from_logits=True)
        )[0]
    )
    return check_close(
        value, want, rtol=1e-3, hint="Whatever the label, the model gives it probability 1/10."
    )


def check_trades_beta(value: Any) -> bool:
    """The beta for which TRADES' outer loss CE(f(x), y) + beta * KL is plain clean training."""
    if not _missing(value):
        try:
            value = float(value)
        except (TypeError, ValueError):
            print(f"{NO} Expected one number.")
            return False
        if value > 0:
            print(
                f"{NO} Not yet: with beta = {value:g} the KL term still pulls f(x_adv) towards "
                "f(x)."
            )
            return False
    return check_close(value, 0.0, hint="Which beta removes the KL term?")


def check_masking(answer: Any) -> bool:
    """92% under FGSM and 3% under PGD at the same eps: robust, or masking?"""
    return check_option(
        answer,
        right="masking",
        why={
            "yes": "robust accuracy is the accuracy under the strongest attack you can run: 3% "
            "here. A weak attack doing "
            "much better than a strong one means the weak one is being fooled, not the model made "
            "safe.",
        },
        explain="A one-step attack far weaker than PGD is the tell of gradient masking "
        "(catastrophic overfitting after FGSM training).",
    )


def check_runs(first_run: Any, second_run: Any) -> bool:
    """The open exercise's two FGSM-RS runs: the settings asked for (any outcome)."""
    if _missing(first_run) or _missing(second_run):
        print(f"{WAIT} Not answered yet: train the two runs.")
        return False
    try:
        h1, h2 = first_run.history, second_run.history
        eps1, eps2 = h1["eps"], h2["eps"]
        v1, v2 = h1["val_robust_accuracy"], h2["val_robust_accuracy"]
    except (AttributeError, KeyError, TypeError):
        print(
            f"{NO} Pass the History returned by evasion.adversarial_fit, trained with "
            "validation_data=..."
        )
        return False
    if len(v1) < 3 or len(v2) < 3:
        print(f"{NO} Train each run for 3 epochs.")
        return False
    if eps1[0] < eps1[-1] - 1e-9:
        print(
            f"{NO} The first run must not warm up: its eps should be the full budget from epoch 1."
        )
        return False
    if not eps2[0] < eps2[-1]:
        print(
            f"{NO} The second run needs warmup_epochs=2: its eps should grow over the first epochs."
        )
        return False
    print(
        f"{OK} Both runs recorded. PGD accuracy per epoch: first {[round(v, 2) for v in v1]}, "
        f"second {[round(v, 2) for v in v2]}. Now compare them with your prediction."
    )
    return True
