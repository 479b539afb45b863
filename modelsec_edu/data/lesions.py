"""Synthetic dermoscopy-like skin lesions drawn by the ABCD rule (seeded NumPy, no download).

No package ships real labelled medical images offline (MedMNIST downloads
its data and installs torch), so chapter 07 draws its image case.  The
dermatologist's **ABCD rule** (Stolz et al. 1994; Nachbar et al. 1994,
https://doi.org/10.1016/S0190-9622(94)70061-3) scores a lesion by its
**A**\\ symmetry, **B**\\ order irregularity, **C**\\ olour variegation and
**D**\\ iameter.  Here:

* *benign* (label 0): an ellipse close to a circle, a smooth border, one
  brown, a diameter around a third of the image;
* *malignant* (label 1): two or three overlapping blobs off centre
  (asymmetric), a border whose radius is modulated by random harmonics
  (irregular), two to four colours among dark brown, black, blue-grey and red
  (variegated), and a larger diameter.

Each image has skin-coloured background, soft shading, sensor noise and a few
hairs, so a classifier must look at the lesion.  **The data is synthetic**: it
teaches the mechanics of attacks on a diagnostic image model (Finlayson et al.
2019, https://arxiv.org/abs/1804.05296), never clinical facts; every plot of
it says so.  **Threat model:** none (a data source); used in chapter 07.
"""

from __future__ import annotations

import numpy as np

from modelsec_edu.validation import check_float, check_int, check_seed

__all__ = ["CLASS_NAMES", "make_lesions"]

CLASS_NAMES = ("benign (synthetic)", "malignant (synthetic)")

_SKIN = np.array([0.87, 0.70, 0.60])
_BROWN = np.array([0.45, 0.28, 0.16])
_COLOURS = np.array(
    [
        [0.30, 0.17, 0.09],  # dark brown
        [0.10, 0.07, 0.07],  # black
        [0.42, 0.47, 0.58],  # blue-grey
        [0.68, 0.25, 0.22],  # red
        [0.52, 0.33, 0.20],  # light brown
    ]
)


def _lesion_mask(rng, yy, xx, size, malignant):
    """A soft 0..1 mask of one lesion and, for a malignant one, a colour-region index map."""
    if not malignant:
        r0 = size * rng.uniform(0.14, 0.2)
        aspect = rng.uniform(0.85, 1.0)
        angle = rng.uniform(0, np.pi)
        cx, cy = size / 2 + rng.normal(0, 1, 2)
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        dist = np.sqrt(u**2 + (v / aspect) ** 2) / r0
        return np.clip((1.0 - dist) * 4 + 0.5, 0, 1), None
    inside = np.zeros_like(xx)
    for _ in range(rng.integers(2, 4)):
        r0 = size * rng.uniform(0.14, 0.24)
        cx, cy = size / 2 + rng.normal(0, size * 0.08, 2)
        theta = np.arctan2(yy - cy, xx - cx)
        wobble = sum(
            rng.uniform(0.08, 0.2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
            for k in rng.choice(np.arange(3, 9), 3, replace=False)
        )
        dist = np.hypot(xx - cx, yy - cy) / (r0 * (1 + wobble))
        inside = np.maximum(inside, np.clip((1.0 - dist) * 4 + 0.5, 0, 1))
    # colour regions: angular sectors around a random point, 2-4 colours
    px, py = size / 2 + rng.normal(0, size * 0.05, 2)
    k = rng.integers(2, 5)
    sector = ((np.arctan2(yy - py, xx - px) + np.pi) / (2 * np.pi) * k + rng.uniform(0, k)) % k
    return inside, sector.astype(int)


def make_lesions(
    n: int = 1000, *, size: int = 32, malignant_fraction: float = 0.5, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic lesion images ``(n, size, size, 3)`` float32 in [0, 1], and 0/1 labels.

    Seeded: the same ``seed`` gives the same images.  About 1 ms per 32 x 32
    image.
    """
    n = check_int(n, "n", min=1)
    size = check_int(size, "size", min=16, max=128)
    frac = check_float(malignant_fraction, "malignant_fraction", min=0.0, max=1.0)
    rng = np.random.default_rng(check_seed(seed))
    y = (rng.random(n) < frac).astype("int64")
    yy, xx = np.mgrid[0:size, 0:size].astype("float64")
    out = np.empty((n, size, size, 3), dtype="float32")
    for i in range(n):
        skin = _SKIN * rng.uniform(0.9, 1.05) + rng.normal(0, 0.02, 3)
        shade = 1 - 0.12 * np.hypot(xx - size * rng.uniform(0.3, 0.7), yy - size / 2) / size
        img = skin[None, None, :] * shade[..., None]
        mask, sector = _lesion_mask(rng, yy, xx, size, bool(y[i]))
        if sector is None:
            colour = (_BROWN * rng.uniform(0.85, 1.15))[None, None, :]
        else:
            palette = _COLOURS[rng.choice(len(_COLOURS), sector.max() + 1, replace=True)]
            colour = palette[sector] * rng.uniform(0.9, 1.1)
        img = img * (1 - mask[..., None]) + colour * mask[..., None]
        for _ in range(rng.integers(0, 3)):  # hairs: thin dark lines
            a, b = rng.uniform(0, size, 2)
            ang = rng.uniform(0, np.pi)
            d = np.abs((xx - a) * np.sin(ang) - (yy - b) * np.cos(ang))
            img = img * (1 - 0.5 * np.exp(-(d**2) / 0.3))[..., None]
        out[i] = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)
    return out, y
