"""Widgets for chapter 09 (autonomous driving): one camera, several stickers, what the model reads.

:func:`view_stickers` is the experiment (pure, tested without ipywidgets): it
renders the same sign under one camera (viewpoint, distance, light, blur),
once per sticker, and classifies each frame.  :func:`sticker_explorer` only
shows its result, with sliders for the camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as w
import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.data import signs
from modelsec_edu.validation import (
    check_choice,
    check_classifier,
    check_float,
    check_int,
    check_seed,
)

from .base import BlitFigurePanel, Panel

__all__ = ["StickerView", "sticker_explorer", "view_stickers"]


@dataclass(frozen=True)
class StickerView:
    """One camera's frames of a sign, one per sticker, and the model's probabilities for each."""

    names: tuple[str, ...]
    images: np.ndarray  # (k, h, w, 3)
    probs: np.ndarray  # (k, classes)
    sign: int  # the true class
    target: int | None  # None: any class but the sign's counts as fooled
    camera: dict[str, float]

    def fooled(self) -> np.ndarray:
        """Per frame: read as the target (or, with no target, as anything but the sign)."""
        top = self.probs.argmax(axis=1)
        return top == self.target if self.target is not None else top != self.sign


def _check_goal(model: Any, target: Any, sign: Any) -> tuple[int | None, str]:
    """``target`` (None or a class of ``model``) and ``sign`` (a sign's name)."""
    k = check_classifier(model)
    target = None if target is None else check_int(target, "target", min=0, max=k - 1)
    return target, check_choice(sign, "sign", signs.ALL_CLASSES)


def view_stickers(
    model: keras.Model,
    stickers: Mapping[str, Any],
    *,
    target: int | None,
    sign: str = "stop",
    rotation: float = 0.0,
    scale: float = 0.9,
    brightness: float = 1.0,
    blur: float = 0.0,
    seed: int = 0,
) -> StickerView:
    """Render ``sign`` under one camera with each of ``stickers`` (None: none) and classify.

    The background and the sensor noise come from ``seed`` and are the same for every sticker.
    """
    target, sign = _check_goal(model, target, sign)
    if not stickers:
        raise ValueError("stickers must name at least one sticker (None for the clean sign)")
    camera = dict(
        rotation=check_float(rotation, "rotation"),
        scale=check_float(scale, "scale", min=0, min_open=True),
        brightness=check_float(brightness, "brightness", min=0),
        blur=check_float(blur, "blur", min=0, max=1),
    )
    seed = check_seed(seed)
    fixed = replace(
        signs.SignTransforms(),
        **{k: (v, v) for k, v in camera.items()},
        shift=(0.0, 0.0),
        shear=(0.0, 0.0),
    )
    frames = []
    for sticker in stickers.values():
        x, _, _ = signs.render_signs(1, seed=seed, classes=sign, transforms=fixed, sticker=sticker)
        frames.append(x[0])
    images = np.stack(frames)
    c = int(signs.class_index(sign)[0])
    t = None if target is None else int(target)
    return StickerView(tuple(stickers), images, models.predict_proba(model, images), c, t, camera)


def _draw(fig: BlitFigurePanel, view: StickerView) -> str:
    """Draw the frames: axes, images and titles are made on the first call, then only updated."""
    names = signs.ALL_CLASSES
    goal = names[view.target] if view.target is not None else f"anything but {names[view.sign]}"
    first = not fig.axes[0].images
    for ax, name, img, p, hit in zip(
        fig.axes, view.names, view.images, view.probs, view.fooled(), strict=False
    ):
        if first:
            ax.imshow(img, interpolation="nearest")
            ax.set_title(" \n ", fontsize=8)
            ax.axis("off")
            fig.animate(ax.images[0], ax.title)
        ax.images[0].set_data(img)
        top = int(p.argmax())
        ax.title.set_text(f"{name}\nreads {names[top]} ({p[top]:.0%})")
        ax.title.set_color("crimson" if hit else "black")
    if first:  # the goal is fixed for one explorer
        fig.figure.suptitle(f"synthetic signs, one camera: red title = read as {goal}", fontsize=9)
    hits = [n for n, hit in zip(view.names, view.fooled(), strict=True) if hit]
    return f"goal {goal}: fooled by {', '.join(hits) if hits else 'none'}"


def sticker_explorer(
    model: keras.Model,
    stickers: Mapping[str, Any],
    *,
    target: int | None,
    sign: str = "stop",
    seed: int = 0,
) -> Panel:
    """Sliders for the camera; each frame: the sign with one sticker, and what the model reads."""
    target, sign = _check_goal(model, target, sign)
    controls = [
        w.FloatSlider(value=0.0, min=-15.0, max=15.0, step=1.0, description="viewpoint"),
        w.FloatSlider(value=0.9, min=0.5, max=1.0, step=0.05, description="nearness"),
        w.FloatSlider(value=1.0, min=0.5, max=1.4, step=0.05, description="light"),
        w.FloatSlider(value=0.0, min=0.0, max=0.8, step=0.1, description="blur"),
    ]
    fig = BlitFigurePanel((2.2 * len(stickers), 2.6), ncols=len(stickers))

    def update(panel: Panel) -> str:
        rot, near, light, blur = (c.value for c in panel.controls)
        view = view_stickers(
            model,
            stickers,
            target=target,
            sign=sign,
            rotation=rot,
            scale=near,
            brightness=light,
            blur=blur,
            seed=seed,
        )
        panel.results = {"view": view}
        return _draw(panel.fig, view)

    return Panel(controls, update, fig=fig, title="A sticker seen by the car's camera (synthetic)")
