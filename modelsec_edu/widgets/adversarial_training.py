"""Widgets for chapter 06 (GAN and adversarial training)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as w
import keras
import numpy as np

from modelsec_edu import evasion, models
from modelsec_edu.validation import check_classifier, check_int, check_seed, check_xy

from .base import FigurePanel, Panel

__all__ = ["attack_transfer_table", "robust_models_explorer"]


def _check(models_: Any, x: Any, y: Any, steps: Any, seed: Any) -> tuple:
    """A non-empty mapping of named classifiers of one class count, and a batch they classify."""
    if not isinstance(models_, Mapping):
        raise TypeError(f"models_ must map names to keras models, got {type(models_).__name__}")
    if not models_:
        raise ValueError("models_ must hold at least one model, got none")
    ks = {check_classifier(m, f"models_[{name!r}]") for name, m in models_.items()}
    if len(ks) != 1:
        raise ValueError(f"models_ must all have the same number of classes, got {sorted(ks)}")
    x, y = check_xy(x, y, num_classes=ks.pop())
    return x, y, check_int(steps, "steps", min=1), check_seed(seed)


def attack_transfer_table(
    models_: Mapping[str, keras.Model],
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps_values: Sequence[float],
    steps: int = 20,
    seed: int = 0,
) -> tuple[dict, np.ndarray]:
    """PGD images made on each model at each eps, and every model's probabilities on them.

    Returns ``(adv, probs)``: ``adv[source][i]`` holds the images attacked on
    ``source`` at ``eps_values[i]``; ``probs[s, i, t]`` are model ``t``'s
    probabilities on them, shape ``(sources, len(eps_values), models, n, classes)``.
    """
    x, y, steps, seed = _check(models_, x, y, steps, seed)
    names = list(models_)
    adv = {}
    for s in names:
        adv[s] = [
            evasion.pgd(
                models_[s],
                x,
                y,
                eps=e,
                step_size=models.default_step_size(e, steps),
                steps=steps,
                seed=seed,
            )
            if e > 0
            else x
            for e in eps_values
        ]
    probs = np.stack(
        [
            np.stack(
                [np.stack([models.predict_proba(models_[t], a) for t in names]) for a in adv[s]]
            )
            for s in names
        ]
    )
    return adv, probs


def robust_models_explorer(
    models_: Mapping[str, keras.Model],
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps_values: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4),
    steps: int = 20,
    seed: int = 0,
) -> Panel:
    """One attacked image, every model's answer: move eps, pick the image and the model attacked.

    The attack (PGD, L-inf) is made on the chosen model, white-box; the other
    models see the *same* image, so their rows show how the attack transfers.
    All attacks are computed up front (a progress-free second or two per
    model), so the controls only redraw.
    """
    x, y, steps, seed = _check(models_, x, y, steps, seed)
    eps_values = [float(e) for e in eps_values]
    names = list(models_)
    adv, probs = attack_transfer_table(models_, x, y, eps_values=eps_values, steps=steps, seed=seed)

    eps = w.SelectionSlider(
        options=eps_values, value=eps_values[0], description="\u03b5", continuous_update=False
    )
    index = w.IntSlider(
        value=0, min=0, max=len(x) - 1, description="image", continuous_update=False
    )
    source = w.Dropdown(options=names, value=names[0], description="attack on")
    fig = FigurePanel((9.0, 3.0), ncols=2)
    ax_img, ax_bar = fig.axes
    ax_img.set_position([0.01, 0.08, 0.25, 0.8])
    ax_bar.set_position(
        [0.45, 0.2, 0.4, 0.72]
    )  # room for the model names (left) and the answers (right)
    image = ax_img.imshow(np.squeeze(x[0]), cmap="gray", vmin=0, vmax=1)
    ax_img.axis("off")
    title = ax_img.set_title("", fontsize=9)
    rows = np.arange(len(names))
    bars = ax_bar.barh(rows, np.zeros(len(names)), color="tab:green")
    notes = [ax_bar.text(1.02, r, "", va="center", fontsize=8) for r in rows]
    ax_bar.set_yticks(rows)
    ax_bar.set_yticklabels(names, fontsize=8)
    ax_bar.invert_yaxis()
    ax_bar.set_xlim(0, 1)
    ax_bar.set_xlabel("probability of the true digit")

    def update(panel: Panel) -> str:
        s, e, i = names.index(source.value), eps_values.index(eps.value), index.value
        image.set_data(np.squeeze(adv[source.value][e][i]))
        title.set_text(f"true {int(y[i])}, \u03b5 = {eps.value:.2f}")
        right = 0
        for t, (bar, note) in enumerate(zip(bars, notes)):
            p = probs[s, e, t, i]
            ok = int(p.argmax()) == int(y[i])
            right += ok
            bar.set_width(float(p[int(y[i])]))
            bar.set_color("tab:green" if ok else "tab:red")
            note.set_text(f"says {int(p.argmax())}")
        return (
            f"attack made on <b>{source.value}</b> at \u03b5 = {eps.value:.2f}: "
            f"<b>{right} of {len(names)}</b> models still read the {int(y[i])}"
        )

    return Panel([eps, index, source], update, fig=fig, title="Same attacked image, every model")
