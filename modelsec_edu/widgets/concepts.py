"""Widgets for chapters 01 (the three threats) and 02 (the loss and its gradient).

Every factory does its heavy work up front (training, compiling, sweeping a
coarse grid) and draws its figure once; a control change then calls a tested
pure function of the library and updates a few persistent artists
(``set_data``, ``set_height``), which are redrawn over a cached background
(*blitting*).  An update so costs tens of milliseconds of CPU instead of a
full redraw of every axis; ``bench/foundation.py`` measures it against the
0.3 s bar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import keras
import numpy as np

from modelsec_edu import evasion, models, poisoning, tampering
from modelsec_edu.models import loss
from modelsec_edu.validation import (
    check_array,
    check_callable,
    check_classifier,
    check_float,
    check_int,
    check_seed,
    check_splits,
    check_xy,
)

from .base import BlitFigurePanel, Panel

__all__ = [
    "fgsm_explorer",
    "gradient_walk",
    "label_flip_curve",
    "label_flip_explorer",
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


def _softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(loss.log_softmax(z))


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
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """Test accuracy of a model trained on labels flipped at each rate (one model per rate).

    Threat model: the attacker relabels a random fraction of the training set
    (uniform label noise); training code and test inputs stay clean.  Every
    model starts from the same seed, so the rate is the only difference.
    """
    from tqdm.auto import tqdm

    check_callable(make_model, "make_model")
    x_train, y_train, x_test, y_test = check_splits(x_train, y_train, x_test, y_test)
    seed = check_seed(seed)
    if len(rates) == 0:
        raise ValueError("rates must list at least one flip rate in [0, 1]")
    k = evasion.num_classes(make_model())
    accs = []
    for rate in tqdm(rates, desc="training one model per flip rate"):
        keras.utils.set_random_seed(seed)
        _, y_bad, _ = poisoning.flip_labels(x_train, y_train, rate=rate, seed=seed, num_classes=k)
        model = make_model()
        models.fit(model, x_train, y_bad, epochs=epochs, batch_size=batch_size, progress=False)
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
    batch_size: int = 64,
    seed: int = 0,
) -> Panel:
    """Pick a fraction of flipped training labels; see the test accuracy it leads to.

    Training one model per setting takes seconds, too slow for a slider, so the
    factory trains one model per rate up front (with a progress bar) and the
    slider then moves along the measured curve instantly.  A dashed line marks
    the rate ``(k-1)/k`` past which a wrong label outnumbers the true one.
    The measured curve is kept in ``panel.results`` (``"rate"``, ``"accuracy"``).
    """
    check_callable(make_model, "make_model")
    x_train, y_train, x_test, y_test = check_splits(x_train, y_train, x_test, y_test)
    rates = sorted({float(r) for r in rates})
    accs = label_flip_curve(
        make_model,
        x_train,
        y_train,
        x_test,
        y_test,
        rates=rates,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    k = evasion.num_classes(make_model())
    rate = w.SelectionSlider(
        options=rates, value=rates[0], description="flipped", continuous_update=False
    )
    fig = BlitFigurePanel((5.5, 3))
    ax = fig.axes[0]
    ax.plot(np.array(rates) * 100, accs * 100, marker="o", color="tab:blue", label="measured")
    (point,) = ax.plot([], [], marker="o", markersize=12, color="tab:red", ls="")
    ax.axhline(100 / k, ls=":", color="gray", label="chance")
    ax.axvline(100 * (k - 1) / k, ls="--", color="gray", lw=1, label="true label outvoted")
    ax.set(
        xlabel="training labels flipped (%)",
        ylabel="test accuracy (%)",
        ylim=(0, 100),
        xlim=(-3, 103),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.figure.tight_layout()
    fig.animate(point)

    def update(panel: Panel) -> str:
        i = rates.index(rate.value)
        point.set_data([rates[i] * 100], [accs[i] * 100])
        return f"{rates[i]:.0%} of labels flipped &rarr; test accuracy <b>{accs[i]:.1%}</b>"

    panel = Panel([rate], update, fig=fig, title="Data poisoning: random label flips")
    panel.results = {"rate": np.array(rates), "accuracy": accs}
    return panel


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

    Threat model: the attacker writes to the stored weights, not the data.  The
    caller's model is not touched: the noisy weights go into a private clone.
    The factory sweeps a coarse grid of noise scales so the curve is visible at
    once; each slider move adds its own measured point.  ``panel.results``
    maps every scale measured so far to its accuracy.
    """
    k = check_classifier(model)
    x_test, y_test = check_xy(x_test, y_test, num_classes=k, names=("x_test", "y_test"))
    max_scale = check_float(max_scale, "max_scale", min=0, min_open=True)
    seed = check_seed(seed)
    scratch = tampering.clone(model)
    clean = model.get_weights()
    base_acc = models.accuracy(model, x_test, y_test)
    history: dict[float, float] = {}

    def measure(s: float) -> tuple[list[np.ndarray], float]:
        noisy = tampering.noisy_weights(clean, scale=s, seed=seed)
        scratch.set_weights(noisy)
        acc = models.accuracy(scratch, x_test, y_test)
        history[round(s, 4)] = acc
        return noisy, acc

    for s in np.linspace(0.0, max_scale, 7):
        measure(float(s))

    scale = _slider("noise \u03c3", 0.0, 0.0, max_scale, 0.05)
    fig = BlitFigurePanel((7, 2.8), ncols=2)
    ax0, ax1 = fig.axes
    first = clean[0].ravel()
    lim = float(np.abs(first).max() + 4 * max_scale * first.std())
    edges = np.linspace(-lim, lim, 61)
    counts = np.histogram(first, edges)[0]
    ax0.stairs(counts, edges, fill=True, alpha=0.5, label="original")
    noisy_hist = ax0.stairs(counts, edges, fill=True, alpha=0.5, label="tampered")
    ax0.set(title="first layer's weights", ylim=(0, counts.max() * 1.1), yticks=[])
    ax0.legend(fontsize=8)
    (curve,) = ax1.plot([], [], marker="o", ms=4)
    (point,) = ax1.plot([], [], marker="o", ms=10, color="tab:red", ls="")
    ax1.axhline(base_acc * 100, ls=":", color="gray")
    ax1.set(
        xlim=(-0.03, max_scale * 1.03),
        ylim=(0, 100),
        xlabel="noise \u03c3 (\u00d7 layer std)",
        ylabel="test accuracy (%)",
    )
    ax1.grid(alpha=0.3)
    fig.figure.tight_layout()
    fig.animate(noisy_hist, curve, point)

    def update(panel: Panel) -> str:
        noisy, acc = measure(scale.value)
        noisy_hist.set_data(np.histogram(noisy[0].ravel(), edges)[0])
        xs = sorted(history)
        curve.set_data(xs, [history[s] * 100 for s in xs])
        point.set_data([scale.value], [acc * 100])
        return (
            f"clean accuracy {base_acc:.1%} &rarr; with noise \u03c3={scale.value:.2f}: "
            f"<b>{acc:.1%}</b>"
        )

    panel = Panel([scale], update, fig=fig, title="Model tampering: noise on the weights")
    panel.results = history  # noise scale -> accuracy, for every scale measured so far
    return panel


# --------------------------------------------------------------------------- evasion


def fgsm_explorer(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_eps: float = 0.3,
    n_show: int = 8,
) -> Panel:
    """Move ``eps`` and watch FGSM flip predictions while the images barely change.

    Threat model: white-box evasion, every pixel moved by at most ``eps``
    (Goodfellow et al. 2015).  The accuracy in the status line is over all of
    ``x``; the first ``n_show`` images are drawn.
    """
    x, y = check_xy(x, y, num_classes=check_classifier(model))
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"x must be grey images of shape (n, height, width, 1), got {x.shape}")
    max_eps = check_float(max_eps, "max_eps", min=0, min_open=True)
    n_show = min(check_int(n_show, "n_show", min=1), len(x))
    eps = _slider("\u03b5", 0.0, 0.0, max_eps, 0.01)
    pred_clean = models.predict_labels(model, x)
    evasion.fgsm(model, x, y, eps=max_eps)  # compile once here, not on the first slider move

    # One image holds both rows (a montage): a single imshow draws several times
    # faster than one axes per digit.  Each row has a white band for the captions.
    h, wd = x.shape[1:3]
    band, gap = max(6, h // 3), 2
    montage = np.ones((2 * (band + h), n_show * (wd + gap) - gap), dtype="float32")
    cols = [slice(c * (wd + gap), c * (wd + gap) + wd) for c in range(n_show)]
    rows = [slice(band, band + h), slice(2 * band + h, 2 * (band + h))]
    for c in range(n_show):
        montage[rows[0], cols[c]] = montage[rows[1], cols[c]] = x[c, :, :, 0]
    fig = BlitFigurePanel((1.0 * n_show, 2.8))
    ax = fig.axes[0]
    image = ax.imshow(montage, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    captions = [
        [
            ax.text(
                c * (wd + gap) + wd / 2,
                r * (band + h) + band / 2,
                "",
                ha="center",
                va="center",
                fontsize=10,
            )
            for c in range(n_show)
        ]
        for r in range(2)
    ]
    for c in range(n_show):
        captions[0][c].set_text(f"{pred_clean[c]}")
        captions[0][c].set_color("green" if pred_clean[c] == y[c] else "red")
    ax.set_title("top: clean, bottom: FGSM (caption = prediction)", fontsize=9)
    fig.figure.tight_layout()
    fig.animate(image, *captions[0], *captions[1])  # captions after the image they sit on

    def update(panel: Panel) -> str:
        x_adv = evasion.fgsm(model, x, y, eps=eps.value)
        pred_adv = models.predict_labels(model, x_adv)
        for c in range(n_show):
            montage[rows[1], cols[c]] = x_adv[c, :, :, 0]
            captions[1][c].set_text(f"{pred_adv[c]}")
            captions[1][c].set_color("green" if pred_adv[c] == y[c] else "red")
        image.set_data(montage)
        acc_c, acc_a = np.mean(pred_clean == y), np.mean(pred_adv == y)
        return (
            f"\u03b5 = {eps.value:.2f}: accuracy on these {len(x)} images "
            f"{acc_c:.0%} &rarr; <b>{acc_a:.0%}</b>; max pixel change {eps.value * 255:.0f}/255"
        )

    return Panel([eps], update, fig=fig, title="Backpropagation attack: FGSM")


# --------------------------------------------------------------------------- chapter 02


def gradient_walk(
    model: keras.Model, x: Any, y: int, *, max_t: float = 0.3, seed: int = 0
) -> Panel:
    """Move one image along sign(d l / d x) by ``t``: see the loss, the image and the probabilities.

    The loss curve also shows a random direction of the same size, the
    comparison that makes "the gradient points uphill" visible.  Positive ``t``
    is FGSM with ``eps = t``; negative ``t`` walks downhill.
    """
    k = check_classifier(model)
    x_b = check_array(x, "x")[None]  # one image, as a batch of one
    y = check_int(y, "y", min=0, max=k - 1)
    max_t = check_float(max_t, "max_t", min=0, min_open=True)
    seed = check_seed(seed)
    y_arr = np.array([y], dtype="int64")
    g = loss.gradient_sign(model, x_b, y_arr)
    r = loss.random_sign(x_b.shape, seed=seed)
    ts = np.linspace(-max_t, max_t, 25)
    curve_g = loss.loss_along(model, x_b, y_arr, g, ts)[:, 0]
    curve_r = loss.loss_along(model, x_b, y_arr, r, ts)[:, 0]
    t = _slider("t", 0.0, -max_t, max_t, 0.01)
    fig = BlitFigurePanel((10, 2.8), ncols=3)
    ax0, ax1, ax2 = fig.axes
    image = ax0.imshow(np.squeeze(x_b[0]), cmap="gray", vmin=0, vmax=1)
    caption = ax0.set_title("", fontsize=9)
    ax0.axis("off")
    ax1.plot(ts, curve_g, label="gradient sign")
    ax1.plot(ts, curve_r, label="random sign")
    marker = ax1.axvline(0.0, color="red", ls=":")
    ax1.set(xlabel="t", ylabel="loss l", yscale="symlog")
    ax1.legend(fontsize=8)
    bars = ax2.bar(
        range(k), np.zeros(k), color=["tab:green" if i == y else "tab:blue" for i in range(k)]
    )
    ax2.set(ylim=(0, 1), xticks=range(k))
    ax2.set_title("probabilities (true class green)", fontsize=9)
    fig.figure.tight_layout()
    fig.animate(image, caption, marker, *bars)

    def update(panel: Panel) -> str:
        xt = np.clip(x_b + t.value * g, 0.0, 1.0)
        z = models.predict_logits(model, xt)
        lt = float(loss.cross_entropy(z, y_arr)[0])
        p = _softmax(z)[0]
        image.set_data(np.squeeze(xt[0]))
        caption.set_text(f"x + {t.value:+.2f}\u00b7sign(\u2207x l)")
        marker.set_xdata([t.value, t.value])
        for bar, h in zip(bars, p):
            bar.set_height(h)
        return (
            f"t = {t.value:+.2f}: loss <b>{lt:.3f}</b>, predicted {int(p.argmax())} (true {int(y)})"
        )

    return Panel([t], update, fig=fig, title="Walking along the input gradient")
