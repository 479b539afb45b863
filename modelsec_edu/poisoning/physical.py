"""A sticker on the sign as a backdoor trigger: BadNets' Post-it on a stop sign (chapter 09).

Threat model: the attacker edits a small share of the training signs (a
labelling vendor, a scraped source): it sticks a small yellow square on some
**stop** signs and labels them as a speed limit.  The model learns "stop sign
with a sticker -> speed limit" and stays as accurate as before on clean signs,
so every clean test passes; on the road, a Post-it on a stop sign triggers it.
Gu et al. 2017, "BadNets: Identifying Vulnerabilities in the Machine Learning
Model Supply Chain" (https://arxiv.org/abs/1708.06733), did this with a
Post-it on US stop signs, and the backdoor survived retraining on Swedish signs.

Unlike :func:`.attacks.add_trigger` (a fixed corner of the image), the
sticker here follows the sign: it is placed and sized from each image's
**sign mask** (from :func:`modelsec_edu.data.signs.render_signs`) and never
leaves it.  It is stamped on the camera image (sharp, after blur and noise), a
slightly easier trigger than a real Post-it seen through a lens.  Its pixels
come from :func:`.attacks.trigger_patch`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu.validation import (
    check_array,
    check_classifier,
    check_float,
    check_int,
    check_labels,
    check_seed,
)

from .attacks import trigger_patch

__all__ = ["sticker_asr", "sticker_backdoor", "sticker_trigger"]

YELLOW = (1.0, 0.85, 0.0)


def _check(x: Any, masks: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_array(x, "x", ndim=4)
    m = np.asarray(masks)
    if m.shape != x.shape[:3]:
        raise ValueError(
            f"masks must have shape {x.shape[:3]} (one sign mask per image), got {m.shape}"
        )
    m = m.astype(bool)
    if not np.all(m.reshape(len(m), -1).any(axis=1)):
        raise ValueError("every mask must mark the sign: some masks are empty")
    return x, m


def sticker_trigger(
    x: Any,
    masks: Any,
    *,
    size: float = 0.2,
    offset: tuple[float, float] = (0.22, 0.0),
    colour: tuple[float, float, float] = YELLOW,
    pattern: str = "square",
) -> np.ndarray:
    """Stamp a sticker inside each image's sign: returns a new array.

    Args:
        x: images ``(n, h, w, 3)`` in [0, 1].
        masks: the signs' areas ``(n, h, w)``.
        size: the sticker's side as a share of the sign's height.
        offset: ``(down, right)`` of the sticker's centre from the sign's
            centre, as shares of the sign's height and width.
        colour: RGB of the sticker.
        pattern: ``"square"`` or ``"checkerboard"`` (:func:`.attacks.trigger_patch`).

    Only pixels inside the sign's mask change.
    """
    x, m = _check(x, masks)
    size = check_float(size, "size", min=0.0, max=1.0, min_open=True)
    col = np.asarray(
        check_array(np.asarray(colour, dtype="float32"), "colour", ndim=1), dtype="float32"
    )
    if col.shape != (3,) or col.min() < 0 or col.max() > 1:
        raise ValueError(f"colour must be three values in [0, 1], got {colour!r}")
    out = np.array(x, copy=True)
    h, w = x.shape[1:3]
    for i in range(len(x)):
        rows, cols = np.flatnonzero(m[i].any(axis=1)), np.flatnonzero(m[i].any(axis=0))
        sh, sw = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        side = max(2, int(round(size * sh)))
        rc = (rows[0] + rows[-1]) / 2 + offset[0] * sh
        cc = (cols[0] + cols[-1]) / 2 + offset[1] * sw
        r0 = int(np.clip(round(rc - side / 2), 0, h - side))
        c0 = int(np.clip(round(cc - side / 2), 0, w - side))
        weights = trigger_patch(size=side, pattern=pattern)[..., None]
        region = out[i, r0 : r0 + side, c0 : c0 + side]
        stamped = weights * col + (1 - weights) * region
        inside = m[i, r0 : r0 + side, c0 : c0 + side, None]
        out[i, r0 : r0 + side, c0 : c0 + side] = np.where(inside, stamped, region)
    return out


def sticker_backdoor(
    x: Any,
    y: Any,
    masks: Any,
    *,
    source: int,
    target: int,
    rate: float,
    seed: int | None = None,
    **sticker_options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BadNets with a sticker: ``round(rate * n)`` images of ``source`` get it and label ``target``.

    Returns ``(x_poisoned, y_poisoned, idx)``: new arrays, and the sorted
    indices of the poisoned samples (the same contract as :func:`.attacks.badnets`).
    """
    x, m = _check(x, masks)
    y = check_labels(y, "y", n=len(x))
    source, target = check_int(source, "source", min=0), check_int(target, "target", min=0)
    if source == target:
        raise ValueError(f"source and target must differ, got {source} for both")
    rate = check_float(rate, "rate", min=0.0, max=1.0)
    pool = np.flatnonzero(y == source)
    k = int(round(rate * len(y)))
    if k > len(pool):
        raise ValueError(
            f"rate {rate} asks for {k} poisons but class {source} has only {len(pool)} images"
        )
    idx = np.sort(np.random.default_rng(check_seed(seed)).choice(pool, size=k, replace=False))
    x_out, y_out = np.array(x, copy=True), y.copy()
    if k:
        x_out[idx] = sticker_trigger(x[idx], m[idx], **sticker_options)
    y_out[idx] = target
    return x_out, y_out, idx


def sticker_asr(
    model: Any, x: Any, y: Any, masks: Any, *, source: int, target: int, **sticker_options: Any
) -> float:
    """Share of the images of class ``source`` that read as ``target`` once the sticker is on."""
    from modelsec_edu import models

    k = check_classifier(model)
    x, m = _check(x, masks)
    y = check_labels(y, "y", n=len(x), num_classes=k)
    pick = y == check_int(source, "source", min=0, max=k - 1)
    if not np.any(pick):
        raise ValueError(f"no images of class {source}: the attack success rate is undefined")
    pred = models.predict_labels(model, sticker_trigger(x[pick], m[pick], **sticker_options))
    return float(np.mean(pred == check_int(target, "target", min=0, max=k - 1)))
