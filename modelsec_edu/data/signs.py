"""Synthetic traffic signs, rendered offline with their masks (used in chapter 09).

No package on PyPI, npm or Debian ships traffic-sign images, so the course
**renders** GTSRB-like signs (Stallkamp et al. 2012, the German Traffic Sign
Recognition Benchmark, https://doi.org/10.1016/j.neunet.2012.02.016): each
class is drawn once with PIL shapes and the DejaVu Sans Bold font inside
matplotlib's ``mpl-data``, then every image is that template under a random
camera: rotation, scale, shear and shift (one affine map), a random background,
brightness, blur and sensor noise.  Every image keeps **its sign's mask**, which
sticker attacks and sticker triggers need.  The data are synthetic, and every
figure made from them says so.

The pipeline, vectorised over a batch in NumPy (about 0.1 ms an image)::

    template (canonical pose) --affine--> composited on a background
        --> x brightness --> blur (a mix with a Gaussian-blurred copy) --> + noise

:func:`sample_params` draws one camera per image and :func:`compose` applies
it; :mod:`modelsec_edu.evasion.physical` applies the *same* parameters in
``keras.ops`` (Expectation over Transformation, Athalye et al. 2018,
https://arxiv.org/abs/1707.07397), so an attack optimised there meets the
renderer's own transforms.  ``compose`` takes an optional sticker in the
template's frame, so a sticker moves, shrinks and blurs with its sign.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int, check_seed

from .sign_templates import (
    ALL_CLASSES,
    CLASSES,
    FOREIGN_CLASSES,
    _templates,
    class_index,
    templates,
)

__all__ = [
    "ALL_CLASSES",
    "CLASSES",
    "FOREIGN_CLASSES",
    "IDENTITY",
    "RenderParams",
    "SignTransforms",
    "class_index",
    "compose",
    "drive_by",
    "render_signs",
    "sample_params",
    "templates",
    "warp",
]

_BLUR = np.array([1, 4, 6, 4, 1], dtype="float32") / 16.0  # binomial ~ Gaussian, sigma 1


@dataclass(frozen=True)
class SignTransforms:
    """Ranges of the random camera (uniform draws).  ``IDENTITY`` is a frontal photo.

    Attributes:
        rotation: degrees, ``(low, high)``.
        scale: size of the sign relative to its template.
        shear: horizontal shear factor.
        shift: offset of the sign's centre, as a fraction of the image side.
        brightness: factor on the whole image.
        blur: weight of the blurred copy in the mix (0 = sharp).
        noise: standard deviation of the Gaussian sensor noise.
        background: ``True`` draws a random background, ``False`` a mid grey.
    """

    rotation: tuple[float, float] = (-12.0, 12.0)
    scale: tuple[float, float] = (0.8, 1.0)
    shear: tuple[float, float] = (-0.12, 0.12)
    shift: tuple[float, float] = (-0.07, 0.07)
    brightness: tuple[float, float] = (0.6, 1.3)
    blur: tuple[float, float] = (0.0, 0.8)
    noise: tuple[float, float] = (0.0, 0.03)
    background: bool = True


IDENTITY = SignTransforms(
    rotation=(0.0, 0.0),
    scale=(1.0, 1.0),
    shear=(0.0, 0.0),
    shift=(0.0, 0.0),
    brightness=(1.0, 1.0),
    blur=(0.0, 0.0),
    noise=(0.0, 0.0),
    background=False,
)


@dataclass(frozen=True)
class RenderParams:
    """One camera per image: everything :func:`compose` needs, as NumPy arrays.

    ``affine`` rows follow ``keras.ops.image.affine_transform``: output pixel
    ``(col, row)`` reads the template at ``(a0 col + a1 row + a2, b0 col + b1 row + b2)``.
    """

    affine: np.ndarray  # (n, 8) float32
    background: np.ndarray  # (n, size, size, 3)
    brightness: np.ndarray  # (n,)
    blur: np.ndarray  # (n,)
    noise: np.ndarray  # (n, size, size, 3): sigma times a standard normal field

    def __len__(self) -> int:
        return len(self.affine)

    def __getitem__(self, index: Any) -> RenderParams:
        """The cameras at ``index`` (a slice or an index array), as a new :class:`RenderParams`."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        return RenderParams(
            self.affine[index],
            self.background[index],
            self.brightness[index],
            self.blur[index],
            self.noise[index],
        )


# --------------------------------------------------------------------------- the camera


def _backgrounds(rng: np.random.Generator, n: int, size: int, random: bool) -> np.ndarray:
    if not random:
        return np.full((n, size, size, 3), 0.5, dtype="float32")
    coarse = rng.uniform(0.05, 0.95, size=(n, 4, 4, 3)).astype("float32")
    coarse = 0.6 * coarse + 0.4 * coarse.mean(axis=-1, keepdims=True)  # muted, like a street
    t = np.linspace(0, 3, size)
    up = np.maximum(0.0, 1.0 - np.abs(t[:, None] - np.arange(4)[None, :])).astype(
        "float32"
    )  # (size, 4)
    rows = np.tensordot(up, coarse, axes=([1], [1]))  # (size, n, 4, 3)
    return np.tensordot(rows, up, axes=([2], [1])).transpose(1, 0, 3, 2).astype("float32")


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = float(bounds[0]), float(bounds[1])
    return rng.uniform(lo, hi, size=n) if hi > lo else np.full(n, lo)


def affine_rows(angle_deg: Any, scale: Any, shear: Any, shift_xy: Any, size: int) -> np.ndarray:
    """The ``(n, 8)`` rows of :class:`RenderParams` for angles, scales, shears and shifts (px)."""
    th = np.deg2rad(np.asarray(angle_deg, dtype="float64"))
    s, k = np.asarray(scale, dtype="float64"), np.asarray(shear, dtype="float64")
    sh = np.asarray(shift_xy, dtype="float64").reshape(-1, 2)
    c = (size - 1) / 2.0
    # forward map template -> image: s * R(th) @ [[1, k], [0, 1]]; invert it per image
    cos, sin = np.cos(th), np.sin(th)
    f00, f01, f10, f11 = s * cos, s * (cos * k - sin), s * sin, s * (sin * k + cos)
    det = f00 * f11 - f01 * f10
    a0, a1, b0, b1 = f11 / det, -f01 / det, -f10 / det, f00 / det
    ox, oy = c + sh[:, 0], c + sh[:, 1]
    a2 = c - (a0 * ox + a1 * oy)
    b2 = c - (b0 * ox + b1 * oy)
    zeros = np.zeros_like(a0)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1).astype("float32")


def sample_params(
    n: int, *, seed: int | None, size: int = 32, transforms: SignTransforms | None = None
) -> RenderParams:
    """Draw ``n`` random cameras from ``transforms`` (default :class:`SignTransforms`)."""
    n = check_int(n, "n", min=1)
    size = check_int(size, "size", min=8, max=256)
    t = SignTransforms() if transforms is None else transforms
    if not isinstance(t, SignTransforms):
        raise TypeError(f"transforms must be a SignTransforms, got {type(t).__name__}")
    rng = np.random.default_rng(check_seed(seed))
    shift = np.stack([_uniform(rng, t.shift, n), _uniform(rng, t.shift, n)], axis=1) * size
    affine = affine_rows(
        _uniform(rng, t.rotation, n),
        _uniform(rng, t.scale, n),
        _uniform(rng, t.shear, n),
        shift,
        size,
    )
    bg = _backgrounds(rng, n, size, t.background)
    bright = _uniform(rng, t.brightness, n).astype("float32")
    blur = _uniform(rng, t.blur, n).astype("float32")
    sigma = _uniform(rng, t.noise, n).astype("float32")
    noise = rng.standard_normal((n, size, size, 3), dtype=np.float32) * sigma[:, None, None, None]
    return RenderParams(affine, bg, bright, blur, noise)


def warp(img: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Bilinear sampling of ``img`` (n, h, w, c) at the affine map's points; zero outside."""
    img = check_array(img, "img", ndim=4)
    affine = check_array(affine, "affine", ndim=2)
    if affine.shape[0] != len(img) or affine.shape[1] < 6:
        raise ValueError(f"affine must be ({len(img)}, 6+) rows, one per image, got {affine.shape}")
    n, h, w, c = img.shape
    rows, cols = np.meshgrid(
        np.arange(h, dtype="float32"), np.arange(w, dtype="float32"), indexing="ij"
    )
    a = affine[:, :, None, None].astype("float32")
    sx = a[:, 0] * cols + a[:, 1] * rows + a[:, 2]
    sy = a[:, 3] * cols + a[:, 4] * rows + a[:, 5]
    x0, y0 = np.floor(sx), np.floor(sy)
    flat = img.reshape(n * h * w, c)
    base = (np.arange(n) * (h * w))[:, None, None]
    out = np.zeros((n, h, w, c), dtype="float32")
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (1 - np.abs(sx - xi)) * (1 - np.abs(sy - yi))
            wgt *= (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
            idx = (
                base
                + np.clip(yi, 0, h - 1).astype(np.int64) * w
                + np.clip(xi, 0, w - 1).astype(np.int64)
            )
            out += wgt[..., None] * np.take(flat, idx, axis=0)
    return out


def blur(x: np.ndarray) -> np.ndarray:
    """A separable 5-tap binomial blur (about a Gaussian of sigma 1), edges mirrored."""
    p = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="symmetric")
    h = sum(_BLUR[i] * p[:, :, i : i + x.shape[2]] for i in range(5))
    return sum(_BLUR[i] * h[:, i : i + x.shape[1]] for i in range(5)).astype("float32")


def compose(
    rgb: np.ndarray, alpha: np.ndarray, params: RenderParams, *, sticker: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Put canonical signs ``(rgb, alpha)`` through ``params``' cameras: ``(x, masks)``.

    ``sticker`` is ``(pixels, mask)`` in the template's frame (``(size, size,
    3)`` and ``(size, size)``, or batched): its pixels replace the sign's where
    ``mask`` is 1, before the camera, so the sticker moves with the sign.
    """
    rgb = check_array(rgb, "rgb", ndim=(3, 4))
    alpha = check_array(alpha, "alpha", ndim=(2, 3))
    if sticker is not None:
        pix, m = np.asarray(sticker[0], dtype="float32"), np.asarray(sticker[1], dtype="float32")
        rgb = rgb * (1 - m[..., None]) + pix * m[..., None]
    layer = warp(np.concatenate([rgb, alpha[..., None]], axis=-1), params.affine)
    a = layer[..., 3:]
    x = a * layer[..., :3] + (1 - a) * params.background
    x = x * params.brightness[:, None, None, None]
    b = params.blur[:, None, None, None]
    x = (1 - b) * x + b * blur(x)
    x = np.clip(x + params.noise, 0.0, 1.0).astype("float32")
    return x, (a[..., 0] > 0.5)


def render_signs(
    n: int,
    *,
    seed: int | None,
    size: int = 32,
    classes: Any = None,
    transforms: SignTransforms | None = None,
    sticker: Any = None,
    chunk: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render ``n`` synthetic signs: ``(x, y, masks)``.

    Args:
        n: number of images.
        seed: the same seed gives the same arrays.
        size: side in pixels (GTSRB-like 32 by default).
        classes: names or indices of :data:`ALL_CLASSES` to draw from
            (uniformly); None means the ten :data:`CLASSES`.
        transforms: the camera's ranges, :class:`SignTransforms` by default;
            :data:`IDENTITY` gives frontal photos on grey.
        sticker: ``(pixels, mask)`` in the template's frame, applied to every sign.
        chunk: images made at once (memory stays at about ``chunk`` x 60 KB).

    Returns:
        ``x`` float32 in [0, 1] of shape ``(n, size, size, 3)``; ``y`` int64
        indices into :data:`ALL_CLASSES`; ``masks`` bool ``(n, size, size)``,
        the sign's area in each image.
    """
    n = check_int(n, "n", min=1)
    size = check_int(size, "size", min=8, max=256)
    chunk = check_int(chunk, "chunk", min=1)
    pool = class_index(classes)
    rng = np.random.default_rng(check_seed(seed))
    y = pool[rng.integers(0, len(pool), size=n)]
    if sticker is not None:
        if not isinstance(sticker, (tuple, list)) or len(sticker) != 2:
            raise TypeError("sticker must be a pair (pixels, mask)")
        check_array(sticker[0], "sticker pixels", ndim=3, min_len=size)
        check_array(sticker[1], "sticker mask", ndim=2, min_len=size)
    rgb, alpha = _templates(size)
    # filled in place, chunk by chunk: no list of chunks and no second copy to concatenate
    x = np.empty((n, size, size, 3), dtype="float32")
    masks = np.empty((n, size, size), dtype=bool)
    for start in range(0, n, chunk):
        yb = y[start : start + chunk]
        params = sample_params(
            len(yb), seed=int(rng.integers(2**31)), size=size, transforms=transforms
        )
        x[start : start + len(yb)], masks[start : start + len(yb)] = compose(
            rgb[yb], alpha[yb], params, sticker=sticker
        )
    return x, y, masks


def drive_by(
    sign: Any = "stop", *, frames: int = 8, seed: int | None, size: int = 32, sticker: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A car approaching one sign: ``frames`` renders, far (small, blurred) to near.

    The background, viewpoint and light drift slowly between frames; the
    sensor noise is new in each.  Returns ``(x, y, masks)`` as :func:`render_signs`.
    """
    frames = check_int(frames, "frames", min=2)
    size = check_int(size, "size", min=8, max=256)
    c = int(class_index(sign)[0])
    rng = np.random.default_rng(check_seed(seed))
    t = np.linspace(0.0, 1.0, frames)
    angle = rng.uniform(-10, 10) + 4 * t
    scale = 0.5 + 0.5 * t
    drift = rng.uniform(-0.05, 0.05, size=2)
    shift = (drift[None, :] + np.outer(t, [0.08, -0.04])) * size
    affine = affine_rows(angle, scale, np.full(frames, rng.uniform(-0.1, 0.1)), shift, size)
    base = sample_params(1, seed=int(rng.integers(2**31)), size=size)
    bright = np.full(frames, base.brightness[0], dtype="float32")
    blurs = (0.8 * (1 - t)).astype("float32")
    sigma = rng.uniform(0.005, 0.03)
    noise = rng.standard_normal((frames, size, size, 3)).astype("float32") * np.float32(sigma)
    params = RenderParams(affine, np.repeat(base.background, frames, axis=0), bright, blurs, noise)
    rgb, alpha = _templates(size)
    x, masks = compose(
        np.repeat(rgb[c : c + 1], frames, 0),
        np.repeat(alpha[c : c + 1], frames, 0),
        params,
        sticker=sticker,
    )
    return x, np.full(frames, c, dtype="int64"), masks


def with_ranges(transforms: SignTransforms, **ranges: Any) -> SignTransforms:
    """A copy of ``transforms`` with some ranges replaced (each a ``(low, high)`` pair)."""
    for name, value in ranges.items():
        if name == "background":
            continue
        lo, hi = (check_float(v, name) for v in value)
        if lo > hi:
            raise ValueError(f"{name} must have low <= high, got {value!r}")
    return replace(transforms, **ranges)


def sticker_frame(sign: Any = "stop", *, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """One sign's template: ``(rgb, alpha)``, shapes ``(size, size, 3)`` and ``(size, size)``."""
    c = int(class_index(sign)[0])
    rgb, alpha = _templates(check_int(size, "size", min=8, max=256))
    return rgb[c].copy(), alpha[c].copy()
