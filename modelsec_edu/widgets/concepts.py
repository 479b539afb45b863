"""Widgets for chapters 01 (the three threats) and 02 (the loss and its gradient)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import keras
import numpy as np

from .. import attacks, loss, models, poisoning, tampering
from .base import FigurePanel, Panel

__all__ = [
    "fgsm_explorer",
    "gradient_walk",
    "label_flip_explorer",
    "label_flip_curve",
    "weight_noise_explorer",
]


def _slider(description: str, value: float, lo: float, hi: float, step: float) -> w.FloatSlider:
    return w.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        readout_format=".2f",
    )


# --------------------------------------------------------------------------- poisoning


def label_flip_curve(
    make_model: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    rates: Sequence[float],
    epochs: int,
    seed: int = 0,
) -> np.ndarray:
    """Test accuracy of a model trained on labels flipped at each rate (one model per rate)."""
    from tqdm.auto import tqdm

    accs = []
    for rate in tqdm(rates, desc="training one model per flip rate"):
        keras.utils.set_random_seed(seed)
        _, y_bad, _ = poisoning.flip_labels(x_train, y_train, rate=rate, seed=seed)
        model = models.compile_classifier(make_model())
        models.fit(model, x_train, y_bad, epochs=epochs, progress=False)
        accs.append(models.accuracy(model, x_test, y_test))
    return np.asarray(accs)


def label_flip_explorer(
    make_model: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    rates: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
    epochs: int = 3,
    seed: int = 0,
) -> Panel:
    """Pick a fraction of flipped training labels; see the test accuracy it leads to.

    Training one model per setting takes seconds, too slow for a slider, so the
    factory trains one model per rate up front (with a progress bar) and the
    slider then moves along the measured curve instantly.
    """
    rates = [float(r) for r in rates]
    accs = label_flip_curve(
        make_model, x_train, y_train, x_test, y_test, rates=rates, epochs=epochs, seed=seed
    )
    rate = w.SelectionSlider(options=rates, value=rates[0], description="flipped", continuous_update=False)
    fig = FigurePanel((5.5, 3))

    def update(panel: Panel) -> str:
        ax = panel.fig.axes[0]
        ax.clear()
        ax.plot(np.array(rates) * 100, accs * 100, marker="o", color="tab:blue")
        i = rates.index(rate.value)
        ax.plot([rates[i] * 100], [accs[i] * 100], marker="o", markersize=12, color="tab:red")
        ax.axhline(10, ls=":", color="gray")
        ax.set_xlabel("training labels flipped (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        panel.fig.figure.tight_layout()
        return f"{rates[i]:.0%} of labels flipped &rarr; test accuracy <b>{accs[i]:.1%}</b>"

    return Panel([rate], update, fig=fig, title="Data poisoning: random label flips")


# --------------------------------------------------------------------------- tampering


def weight_noise_explorer(
    model: keras.Model,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    max_scale: float = 1.5,
    seed: int = 0,
) -> Panel:
    """Add Gaussian noise (relative to each layer's spread) to the weights; watch accuracy.

    The caller's model is not touched: the noisy weights go into a private clone.
    """
    scratch = tampering.clone(model)
    clean = model.get_weights()
    base_acc = models.accuracy(model, x_test, y_test)
    scale = _slider("noise \u03c3", 0.0, 0.0, max_scale, 0.05)
    fig = FigurePanel((7, 2.8), ncols=2)
    history: dict[float, float] = {}

    def update(panel: Panel) -> str:
        noisy = tampering.noisy_weights(clean, scale=scale.value, seed=seed)
        scratch.set_weights(noisy)
        acc = models.accuracy(scratch, x_test, y_test)
        history[round(scale.value, 4)] = acc
        ax0, ax1 = panel.fig.axes
        ax0.clear()
        ax0.hist(clean[0].ravel(), bins=60, alpha=0.6, label="original")
        ax0.hist(noisy[0].ravel(), bins=60, alpha=0.6, label="tampered")
        ax0.set_title("first layer's weights")
        ax0.legend(fontsize=8)
        ax1.clear()
        xs = sorted(history)
        ax1.plot(xs, [history[s] * 100 for s in xs], marker="o")
        ax1.set_ylim(0, 100)
        ax1.set_xlim(0, max_scale)
        ax1.set_xlabel("noise \u03c3 (x layer std)")
        ax1.set_ylabel("test accuracy (%)")
        ax1.grid(alpha=0.3)
        panel.fig.figure.tight_layout()
        return f"clean accuracy {base_acc:.1%} &rarr; with noise \u03c3={scale.value:.2f}: <b>{acc:.1%}</b>"

    return Panel([scale], update, fig=fig, title="Model tampering: noise on the weights")


# --------------------------------------------------------------------------- evasion


def fgsm_explorer(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_eps: float = 0.3,
    n_show: int = 8,
) -> Panel:
    """Move ``eps`` and watch FGSM flip predictions while the images barely change."""
    if len(x) < 1:
        raise ValueError("fgsm_explorer needs at least one image")
    n_show = min(n_show, len(x))
    eps = _slider("\u03b5", 0.0, 0.0, max_eps, 0.01)
    fig = FigurePanel((1.3 * n_show, 3.0), nrows=2, ncols=n_show)
    pred_clean = models.predict_labels(model, x)
    attacks.fgsm(model, x, y, eps=max_eps)  # compile once here, not on the first slider move
    images, titles = [], []
    for i, ax in enumerate(fig.axes):
        ax.axis("off")
        images.append(ax.imshow(np.squeeze(x[i % n_show]), cmap="gray", vmin=0, vmax=1))
        titles.append(ax.set_title("", fontsize=10))
    fig.figure.suptitle("top: clean    bottom: FGSM (title = prediction)", fontsize=9)

    def update(panel: Panel) -> str:
        x_adv = attacks.fgsm(model, x, y, eps=eps.value)
        pred_adv = models.predict_labels(model, x_adv)
        for i in range(2 * n_show):
            row, col = divmod(i, n_show)
            p = (pred_clean if row == 0 else pred_adv)[col]
            if row == 1:
                images[i].set_data(np.squeeze(x_adv[col]))
            titles[i].set_text(str(p))
            titles[i].set_color("green" if p == y[col] else "red")
        acc_c, acc_a = np.mean(pred_clean == y), np.mean(pred_adv == y)
        return (
            f"\u03b5 = {eps.value:.2f}: accuracy on these {len(x)} images "
            f"{acc_c:.0%} &rarr; <b>{acc_a:.0%}</b>; max pixel change {eps.value * 255:.0f}/255"
        )

    return Panel([eps], update, fig=fig, title="Backpropagation attack: FGSM")


# --------------------------------------------------------------------------- chapter 02


def gradient_walk(model: keras.Model, x: Any, y: int, *, max_t: float = 0.3, seed: int = 0) -> Panel:
    """Move one image along sign(d l / d x) by ``t``: see the loss, the image and the probabilities.

    The loss curve also shows a random direction of the same size, the
    comparison that makes "the gradient points uphill" visible.
    """
    x = np.asarray(x, dtype="float32")[None]
    y_arr = np.array([int(y)])
    g = loss.gradient_sign(model, x, y_arr)
    r = loss.random_sign(x.shape, seed=seed)
    ts = np.linspace(-max_t, max_t, 25)
    curve_g = loss.loss_along(model, x, y_arr, g, ts)[:, 0]
    curve_r = loss.loss_along(model, x, y_arr, r, ts)[:, 0]
    t = _slider("t", 0.0, -max_t, max_t, 0.01)
    fig = FigurePanel((10, 2.8), ncols=3)

    def update(panel: Panel) -> str:
        xt = np.clip(x + t.value * g, 0, 1)
        p = models.predict_proba(model, xt)[0]
        lt = float(loss.cross_entropy(np.log(p + 1e-30)[None], y_arr)[0])
        ax0, ax1, ax2 = panel.fig.axes
        ax0.clear()
        ax0.imshow(np.squeeze(xt), cmap="gray", vmin=0, vmax=1)
        ax0.set_title(f"x + {t.value:+.2f}\u00b7sign(\u2207x l)", fontsize=9)
        ax0.axis("off")
        ax1.clear()
        ax1.plot(ts, curve_g, label="gradient sign")
        ax1.plot(ts, curve_r, label="random sign")
        ax1.axvline(t.value, color="red", ls=":")
        ax1.set_xlabel("t")
        ax1.set_ylabel("loss l")
        ax1.set_yscale("symlog")
        ax1.legend(fontsize=8)
        ax2.clear()
        colors = ["tab:green" if i == y else "tab:blue" for i in range(len(p))]
        ax2.bar(range(len(p)), p, color=colors)
        ax2.set_ylim(0, 1)
        ax2.set_xticks(range(len(p)))
        ax2.set_title("probabilities (true class green)", fontsize=9)
        panel.fig.figure.tight_layout()
        return f"t = {t.value:+.2f}: loss <b>{lt:.3f}</b>, predicted {int(p.argmax())} (true {int(y)})"

    return Panel([t], update, fig=fig, title="Walking along the input gradient")
