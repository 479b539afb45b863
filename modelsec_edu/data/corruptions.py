"""Common corruptions at five severities: accidents without an attacker (chapter 09).

Threat model: none; weather, optics and dirt.  A model that reads clean
images well can still fail on fog, blur, bad light, sensor noise or a leaf on
the sign.  After Hendrycks & Dietterich 2019, "Benchmarking Neural Network
Robustness to Common Corruptions and Perturbations"
(https://arxiv.org/abs/1903.12261): each corruption has severities 1 to 5, with
the constants of their CIFAR-10-C code where one exists (the images there are
32x32 too).  The code is written here, in NumPy, and differs in two places:
fog is a sum of random octaves of smooth noise rather than their diamond-square
plasma fractal, and ``occlusion`` (a grey square, in the spirit of cutout) is
not one of their fifteen corruptions.  Every function is seeded and returns a
new float32 array in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_choice, check_int, check_seed

__all__ = ["CORRUPTIONS", "corrupt"]

# (strength, smoothness) of the fog; CIFAR-10-C's fog constants
_FOG = [(0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75)]
_BLUR_SIGMA = [0.4, 0.6, 0.7, 0.8, 1.0]  # CIFAR-10-C gaussian_blur
_BRIGHTNESS = [0.05, 0.1, 0.15, 0.2, 0.3]  # added to V in HSV, CIFAR-10-C
_NOISE = [0.04, 0.06, 0.08, 0.09, 0.10]  # CIFAR-10-C gaussian_noise
_OCCLUSION = [0.04, 0.08, 0.12, 0.16, 0.20]  # share of the image under the square


def _smooth_noise(rng: np.random.Generator, n: int, size: int, cells: int) -> np.ndarray:
    coarse = rng.uniform(-1, 1, size=(n, cells + 1, cells + 1))
    t = np.linspace(0, cells, size)
    up = np.maximum(0.0, 1.0 - np.abs(t[:, None] - np.arange(cells + 1)[None, :]))
    return np.einsum("ia,nab,jb->nij", up, coarse, up)


def _fog(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    strength, decay = _FOG[severity - 1]
    n, size = len(x), x.shape[1]
    field = sum(_smooth_noise(rng, n, size, 2**o) / decay**o for o in range(1, 5))
    field = (field - field.min(axis=(1, 2), keepdims=True)) / (
        np.ptp(field, axis=(1, 2), keepdims=True) + 1e-8
    )
    peak = x.max(axis=(1, 2, 3), keepdims=True)
    out = x + strength * field[..., None]
    return out * peak / (peak + strength)


def _gaussian_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    sigma = _BLUR_SIGMA[severity - 1]
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
    h = sum(k[i] * p[:, :, i : i + x.shape[2]] for i in range(2 * r + 1))
    return sum(k[i] * h[:, i : i + x.shape[1]] for i in range(2 * r + 1))


def _brightness(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    hsv = rgb_to_hsv(np.clip(x, 0, 1))
    hsv[..., 2] = np.clip(hsv[..., 2] + _BRIGHTNESS[severity - 1], 0, 1)
    return hsv_to_rgb(hsv)


def _noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return x + rng.normal(0.0, _NOISE[severity - 1], size=x.shape)


def _occlusion(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    n, h, w = x.shape[:3]
    side = max(1, int(round(np.sqrt(_OCCLUSION[severity - 1] * h * w))))
    out = np.array(x, copy=True)
    # the square lands on the middle half of the image, where the sign is
    rows = rng.integers(h // 4 - side // 2, 3 * h // 4 - side // 2 + 1, size=n).clip(0, h - side)
    cols = rng.integers(w // 4 - side // 2, 3 * w // 4 - side // 2 + 1, size=n).clip(0, w - side)
    shade = rng.uniform(0.2, 0.6, size=n)
    for i in range(n):
        out[i, rows[i] : rows[i] + side, cols[i] : cols[i] + side] = shade[i]
    return out


CORRUPTIONS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "fog": _fog,
    "blur": _gaussian_blur,
    "brightness": _brightness,
    "noise": _noise,
    "occlusion": _occlusion,
}


def corrupt(x: Any, name: str, severity: int, *, seed: int | None = 0) -> np.ndarray:
    """Apply corruption ``name`` (of :data:`CORRUPTIONS`) at ``severity`` 1-5 to images in [0, 1].

    ``x`` has shape ``(n, h, w, 3)``.  Severity 0 returns a copy unchanged.
    Returns a new float32 array clipped to [0, 1]; ``x`` is not modified.
    """
    x = check_array(x, "x", ndim=4)
    if x.shape[-1] != 3:
        raise ValueError(f"x must be RGB images of shape (n, h, w, 3), got shape {x.shape}")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"x must be in [0, 1], got values from {x.min()} to {x.max()}")
    name = check_choice(name, "name", tuple(CORRUPTIONS))
    severity = check_int(severity, "severity", min=0, max=5)
    if severity == 0:
        return np.array(x, dtype="float32", copy=True)
    rng = np.random.default_rng(check_seed(seed))
    out = CORRUPTIONS[name](x.astype("float64"), severity, rng)
    return np.clip(out, 0.0, 1.0).astype("float32")
