"""A shape-and-colour consistency check on the sign: an invariant against stickers (chapter 09).

Threat model: the physical attacks of :mod:`.physical` and :mod:`.patches`,
which change a small part of the sign.  A stop sign with a sticker still *is*
mostly red and octagonal; if the classifier says "speed limit 80", whose sign
is a white disc in a red ring, the colours in view do not match the answer.
After Chandrasekaran et al. 2019, "Rearchitecting Classification Frameworks
For Increased Robustness" (https://arxiv.org/abs/1905.10900), whose traffic-sign
classifier first checks invariants such as shape and colour: check a
prediction against features an attacker with a small budget cannot change.

The invariant here is cheap and hand-written (no second network): each image
is reduced to the share of red, white, blue, yellow and dark pixels in each
cell of a 4x4 grid (colour, and where it sits: a coarse shape).  Per class,
the mean and spread of that profile on clean images are learned; a prediction
whose image is too far from its class's profile is flagged.  The threshold is
set so that a chosen share of clean images (1% by default) is flagged.  It is
a check, not a proof: an attacker who knows it can add the colour constraint to
the attack, which the chapter leaves as an exercise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int, check_labels

__all__ = ["ConsistencyCheck", "colour_profile", "fit_consistency"]

GRID = 4


def colour_profile(x: Any) -> np.ndarray:
    """Shares of red, white, blue, yellow and dark pixels per cell of a 4x4 grid: ``(n, 80)``."""
    x = check_array(x, "x", ndim=4)
    if x.shape[-1] != 3:
        raise ValueError(f"x must be RGB images of shape (n, h, w, 3), got shape {x.shape}")
    # 512 images at a time: the HSV planes of a whole training set would cost hundreds of MB
    return np.concatenate([_profile(x[i : i + _CHUNK]) for i in range(0, len(x), _CHUNK)])


_CHUNK = 512


def _profile(x: np.ndarray) -> np.ndarray:
    from matplotlib.colors import rgb_to_hsv

    hsv = rgb_to_hsv(np.clip(x, 0, 1))
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # brightness-relative: divide by each image's bright level, so a dim photo keeps its colours
    v = v / (np.percentile(v.reshape(len(x), -1), 95, axis=1)[:, None, None] + 1e-6)
    coloured = (s > 0.45) & (v > 0.3)
    red = coloured & ((h < 0.05) | (h > 0.93))
    yellow = coloured & (h > 0.08) & (h < 0.2)
    blue = coloured & (h > 0.52) & (h < 0.72)
    white = (s < 0.25) & (v > 0.75)
    dark = v < 0.25
    planes = np.stack([red, white, blue, yellow, dark], axis=-1).astype("float32")
    n, hh, ww, c = planes.shape
    cells = planes[:, : hh - hh % GRID, : ww - ww % GRID].reshape(
        n, GRID, hh // GRID, GRID, ww // GRID, c
    )
    return cells.mean(axis=(2, 4)).reshape(n, -1)


@dataclass(frozen=True)
class ConsistencyCheck:
    """Per-class colour profiles and the distance beyond which a prediction is flagged."""

    mean: np.ndarray  # (classes, 80)
    scale: np.ndarray  # (classes, 80)
    threshold: float

    def scores(self, x: Any, pred: Any) -> np.ndarray:
        """How far each image's profile lies from its given class's profile (RMS z-score)."""
        pred = check_labels(pred, "pred", num_classes=len(self.mean))
        prof = colour_profile(x)
        if len(prof) != len(pred):
            raise ValueError(f"pred must have one label per image ({len(prof)}), got {len(pred)}")
        z = (prof - self.mean[pred]) / self.scale[pred]
        return np.sqrt(np.mean(z**2, axis=1))

    def flags(self, x: Any, pred: Any) -> np.ndarray:
        """True where the image does not look like the class it was given."""
        return self.scores(x, pred) > self.threshold


def fit_consistency(
    x: Any, y: Any, *, false_alarms: float = 0.01, num_classes: int | None = None
) -> ConsistencyCheck:
    """Learn each class's colour profile from clean images, and set the threshold on them.

    ``false_alarms`` is the share of these clean images (with their true labels)
    that the check flags; measure it again on fresh images.
    """
    if num_classes is not None:
        num_classes = check_int(num_classes, "num_classes", min=1)
    y = check_labels(y, "y", num_classes=num_classes)
    prof = colour_profile(x)
    if len(prof) != len(y):
        raise ValueError(f"y must have one label per image ({len(prof)}), got {len(y)}")
    false_alarms = check_float(
        false_alarms, "false_alarms", min=0.0, max=1.0, min_open=True, max_open=True
    )
    k = num_classes if num_classes is not None else int(y.max()) + 1
    mean = np.zeros((k, prof.shape[1]), dtype="float64")
    scale = np.ones((k, prof.shape[1]), dtype="float64")
    for c in range(k):
        rows = prof[y == c]
        if len(rows) < 2:
            raise ValueError(f"class {c} needs at least two clean images, got {len(rows)}")
        mean[c] = rows.mean(axis=0)
        scale[c] = rows.std(axis=0) + 0.02
    check = ConsistencyCheck(mean, scale, np.inf)
    threshold = float(np.quantile(check.scores(x, y), 1.0 - false_alarms))
    return ConsistencyCheck(mean, scale, threshold)
