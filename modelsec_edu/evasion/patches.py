"""The universal adversarial patch, and training against patches (chapter 09).

Threat model: the attacker prints one square patch, puts it anywhere in view
(on a sign, beside it), at any small angle, and wants **every** image that
shows it read as ``target``, whatever the sign.  After Brown et al. 2017,
"Adversarial Patch" (https://arxiv.org/abs/1712.09665): the patch is
optimised by Expectation over Transformation (random place, rotation and
scale) over many images, then tested on images it never saw.  Its success
grows with its size; the chapter plots 4, 8 and 12% of the image.

Where the patch may go is part of the threat.  On one chapter model a 12% patch
placed *anywhere* in the 32-px crop (Brown et al.'s placement) read as its target
on about 45% of fresh renders, and more steps (300 -> 1,000), more images a step
(32 -> 128) or a larger step did not move it; at the crop's centre it reached
93%, and stuck anywhere on the sign's face (``spread=ON_SIGN``) about 80%
(``bench/driving.py``).  The model reads a sign from everywhere in the crop,
and a patch on the background beside the sign leaves most of it in view.

The defence measured here is adversarial training against patches (in the
spirit of Rao et al. 2020, "Adversarial Training against Location-Optimized
Adversarial Patches", https://arxiv.org/abs/2005.02313): each training image
gets a patch at a random place, optimised against the model for a few steps
by :func:`.gradient.pgd_tensor` with that place as its ``mask``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models
from modelsec_edu.data import signs
from modelsec_edu.validation import (
    check_array,
    check_classifier,
    check_float,
    check_int,
    check_seed,
    check_xy,
)

from .gradient import pgd_tensor

__all__ = [
    "ON_SIGN",
    "apply_patch",
    "patch_adversarial_fit",
    "patch_placements",
    "patch_side",
    "patch_success",
    "universal_patch",
]


# ``spread`` for a patch stuck on the sign's face: its centre within 4 px of a 32-px render's
# centre, where every sign sits (0.8-1.0 of the template, shifted by at most 7% of the side).
ON_SIGN = 0.125


def patch_side(fraction: float, size: int = 32) -> int:
    """Side in pixels of a square patch covering ``fraction`` of a ``size`` x ``size`` image."""
    fraction = check_float(fraction, "fraction", min=0.0, max=1.0, min_open=True)
    return max(1, int(round(np.sqrt(fraction) * check_int(size, "size", min=1))))


def patch_placements(
    n: int,
    side: int,
    *,
    size: int = 32,
    seed: int | None,
    rotation: float = 20.0,
    spread: float | None = None,
) -> np.ndarray:
    """``(n, 8)`` affine rows that move a patch drawn at the top-left corner to a random place.

    Each patch is rotated by up to ``rotation`` degrees and scaled by 0.9-1.1
    about its centre.  With ``spread=None`` it lands anywhere wholly inside the
    image (Brown et al.'s "anywhere in view"); with ``spread=s`` its centre lies
    within ``s * size`` pixels of the image's centre along each axis: on the
    face of the sign, which fills the middle of every render ("a sticker on the sign").
    """
    size, rotation = check_int(size, "size", min=1), check_float(rotation, "rotation", min=0)
    n, side = check_int(n, "n", min=1), check_int(side, "side", min=1, max=size)
    if spread is not None:
        spread = check_float(spread, "spread", min=0.0, max=0.5)
    rng = np.random.default_rng(check_seed(seed))
    angle = rng.uniform(-rotation, rotation, size=n)
    scale = rng.uniform(0.9, 1.1, size=n)
    c = (size - 1) / 2.0
    reach = side * 1.1 * np.sqrt(2) / 2
    lo, hi = reach, size - 1 - reach
    if spread is not None:
        lo, hi = max(lo, c - spread * size), min(hi, c + spread * size)
    centre = rng.uniform(lo, hi, size=(n, 2)) if hi > lo else np.full((n, 2), c)
    # signs.affine_rows turns about the image centre: shift the patch's centre there first
    rows = signs.affine_rows(angle, scale, np.zeros(n), centre - c, size).astype("float64")
    pc = (side - 1) / 2.0
    rows[:, 2] += pc - c
    rows[:, 5] += pc - c
    return rows.astype("float32")


def _paste(x, canvas, cmask, affine):
    k = keras.ops.shape(x)[0]
    layer = keras.ops.concatenate(
        [keras.ops.repeat(canvas, k, axis=0), keras.ops.repeat(cmask, k, axis=0)], axis=-1
    )
    moved = keras.ops.image.affine_transform(
        layer, affine, interpolation="bilinear", fill_mode="constant"
    )
    m = moved[..., 3:]
    return x * (1.0 - m) + moved[..., :3] * m


def _canvas(patch: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    side = patch.shape[0]
    canvas = np.zeros((1, size, size, 3), dtype="float32")
    cmask = np.zeros((1, size, size, 1), dtype="float32")
    canvas[0, :side, :side] = patch
    cmask[0, :side, :side] = 1.0
    return canvas, cmask


def apply_patch(
    x: Any,
    patch: Any,
    *,
    seed: int | None,
    rotation: float = 20.0,
    spread: float | None = None,
) -> np.ndarray:
    """Paste ``patch`` (``(side, side, 3)``) on each image of ``x`` at a random place and angle.

    ``rotation`` and ``spread`` as in :func:`patch_placements`.
    """
    x = check_array(x, "x", ndim=4)
    patch = check_array(patch, "patch", ndim=3)
    canvas, cmask = _canvas(np.clip(patch, 0, 1), x.shape[1])
    size = x.shape[1]
    aff = patch_placements(
        len(x), patch.shape[0], size=size, seed=seed, rotation=rotation, spread=spread
    )
    t = keras.ops.convert_to_tensor
    return keras.ops.convert_to_numpy(_paste(t(x), t(canvas), t(cmask), t(aff))).astype("float32")


def patch_success(
    model: keras.Model,
    x: Any,
    y: Any,
    patch: Any,
    *,
    target: int,
    seed: int | None,
    spread: float | None = None,
) -> float:
    """Share of the images *not of class* ``target`` that read as ``target`` with the patch on.

    The patch goes where :func:`patch_placements` puts it (``spread``: None is anywhere).
    """
    k = check_classifier(model)
    x, y = check_xy(x, y, ndim=4, num_classes=k)
    others = y != check_int(target, "target", min=0, max=k - 1)
    if not np.any(others):
        raise ValueError(f"no images outside class {target}: the success rate is undefined")
    pred = models.predict_labels(model, apply_patch(x[others], patch, seed=seed, spread=spread))
    return float(np.mean(pred == target))


def _make_patch_step():
    def make():
        def fn(logits, canvas, cmask, x, affine, yt, step_size):
            return pgd_tensor(
                lambda c: logits(_paste(x, c, cmask, affine)),
                canvas,
                yt,
                eps=1.0,
                step_size=step_size,
                steps=1,
                clip=(0.0, 1.0),
                targeted=True,
                mask=cmask,
            )

        return fn

    return make


def universal_patch(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    target: int,
    fraction: float,
    steps: int,
    seed: int | None,
    samples: int = 32,
    step_size: float = 0.05,
    spread: float | None = None,
) -> np.ndarray:
    """Optimise one patch covering ``fraction`` of the image that makes ``x`` read as ``target``.

    Each step draws ``samples`` images of ``x`` not of class ``target`` and a
    random placement for each (EOT over :func:`patch_placements` with
    ``spread``), and takes one signed step on the patch
    (:func:`.gradient.pgd_tensor`, the patch's square as its mask).  Returns
    the patch, float32 ``(side, side, 3)`` in [0, 1].
    """
    k = check_classifier(model)
    x, y = check_xy(x, y, ndim=4, num_classes=k)
    target = check_int(target, "target", min=0, max=k - 1)
    steps, samples = check_int(steps, "steps", min=1), check_int(samples, "samples", min=1)
    step_size = check_float(step_size, "step_size", min=0.0, min_open=True)
    pool = np.flatnonzero(y != target)
    if len(pool) == 0:
        raise ValueError(f"x holds only images of class {target}: nothing to fool")
    size, side = x.shape[1], patch_side(fraction, x.shape[1])
    rng = np.random.default_rng(check_seed(seed))
    canvas, cmask = _canvas(rng.uniform(0, 1, size=(side, side, 3)).astype("float32"), size)
    t = keras.ops.convert_to_tensor
    step = backend.compiled(model, ("universal_patch",), _make_patch_step())
    canvas_t, cmask_t, yt = t(canvas), t(cmask), t(np.full(samples, target, dtype="int64"))
    for i in range(steps):
        idx = rng.choice(pool, size=samples)
        aff = patch_placements(
            samples, side, size=size, seed=int(rng.integers(2**31)), spread=spread
        )
        lr = step_size * (1.0 - 0.9 * i / max(steps - 1, 1))
        canvas_t = step(canvas_t, cmask_t, t(x[idx]), t(aff), yt, t(np.float32(lr)))
    return keras.ops.convert_to_numpy(canvas_t)[0, :side, :side].astype("float32")


def patch_adversarial_fit(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    fraction: float,
    epochs: int,
    steps: int = 5,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` (in place) on images carrying a patch optimised against it at a random place.

    Half of each batch's loss is on the clean images, half on the patched ones
    (a patch of ``fraction`` of the image, ``steps`` signed steps of 0.25
    from random pixels).  The patch's place and its random start travel as extra
    input channels, so one compiled step serves every batch.  Returns the mean loss per epoch.
    """
    x, y = check_xy(x, y, ndim=4, num_classes=check_classifier(model))
    epochs, steps = check_int(epochs, "epochs", min=1), check_int(steps, "steps", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    rng = np.random.default_rng(check_seed(seed))
    size, side = x.shape[1], patch_side(fraction, x.shape[1])
    models.compile_classifier(model, learning_rate=learning_rate)

    def loss_fn(forward, xm, yb):
        xb, m, fill = xm[..., :3], xm[..., 3:4], xm[..., 4:]
        adv = pgd_tensor(
            lambda v: forward(v, training=False),
            xb,
            yb,
            eps=1.0,
            step_size=0.25,
            steps=steps,
            delta0=(fill - xb) * m,
            clip=(0.0, 1.0),
            mask=m,
        )
        ce = keras.ops.sparse_categorical_crossentropy
        return 0.5 * keras.ops.mean(ce(yb, forward(xb), from_logits=True)) + 0.5 * keras.ops.mean(
            ce(yb, forward(adv), from_logits=True)
        )

    step = backend.train_step(model, loss_fn, key=("patch_at", steps, side))
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for b in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[b : b + batch_size]
            m = np.zeros((len(idx), size, size, 1), dtype="float32")
            r, c = rng.integers(0, size - side + 1, size=(2, len(idx)))
            for i in range(len(idx)):
                m[i, r[i] : r[i] + side, c[i] : c[i] + side] = 1.0
            fill = rng.uniform(0, 1, size=(len(idx), size, size, 3)).astype("float32")
            xm = np.concatenate([x[idx], m, fill], axis=-1)
            total += float(
                keras.ops.convert_to_numpy(
                    step(keras.ops.convert_to_tensor(xm), keras.ops.convert_to_tensor(y[idx]))
                )
            )
        losses.append(total / max(1, len(x) // batch_size))
    return losses
