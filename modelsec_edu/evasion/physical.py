"""Physical-style evasion: a sticker on the sign, optimised to survive the camera (chapter 09).

Threat model: a white-box attacker who knows the classifier sticks a printed
pattern on a small area of a real sign (the ``mask``), and wants every camera
frame of that sign, from any nearby viewpoint, distance and light, read as
``target``.  It cannot touch the rest of the sign, the background or the car.

* The **RP2 sticker** (Eykholt et al. 2018, "Robust Physical-World Attacks on
  Deep Learning Visual Classification", https://arxiv.org/abs/1707.08945): the
  perturbation lives only inside a mask on the sign, and is optimised over many
  views at once.
* **Expectation over Transformation** (Athalye et al. 2018, "Synthesizing
  Robust Adversarial Examples", https://arxiv.org/abs/1707.07397): each step
  follows the gradient of the target's loss *averaged over random transforms*
  t ~ T, here the renderer's own cameras (:mod:`modelsec_edu.data.signs`)::

      grad E_t[ loss(f(t(x with sticker s)), target) ]  ~  1/k sum_i grad loss(f(t_i(...)), target)

Without EOT the same loop optimises for the one frontal photo it sees; the
chapter measures how that sticker fares on fresh frames.  The step itself is
:func:`.gradient.pgd_tensor` (one signed step, the mask as its ``mask``, pixel
values clipped to [0, 1]) on the sticker, with the transforms inside its
``logits_fn``; every transform is written in ``keras.ops``, so all three
backends run it.  :mod:`.patches` holds the universal patch.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.data import signs
from modelsec_edu.validation import (
    check_array,
    check_float,
    check_int,
    check_labels,
    check_model,
    check_seed,
)

from .gradient import pgd_tensor

__all__ = [
    "apply_transforms",
    "eot_gradient",
    "params_to_tensors",
    "project_sticker",
    "sticker_attack",
    "sticker_mask",
    "sticker_of",
]

_KERNEL = np.outer(signs._BLUR, signs._BLUR).astype("float32")


def sticker_mask(kind: str = "bars", *, size: int = 32, sign: Any = "stop") -> np.ndarray:
    """A sticker's area in the template's frame, inside the sign: bool ``(size, size)``.

    ``"bars"`` are RP2's two strips above and below the word, together 9.4% of
    a 32x32 image; ``"dots"`` 25 small 2x2 stickers spread over the face of
    the sign (9.8%, RP2's "camouflage" spirit); ``"word"`` one block over the
    word (9.4%); ``"square"`` one 5x5 Post-it below the centre (2.4%).
    """
    size = check_int(size, "size", min=16, max=256)
    kind = kind if kind in ("bars", "dots", "word", "square") else _bad_kind(kind)
    _, alpha = signs.sticker_frame(sign, size=size)
    m = np.zeros((size, size), dtype=bool)
    u = size / 32.0
    if kind == "bars":
        for top in (7, 21):
            m[int(top * u) : int((top + 4) * u), int(10 * u) : int(22 * u)] = True
    elif kind == "dots":
        for r in range(5):
            for c in range(5):
                top, left = int((7 + 4 * r) * u), int((7 + 4 * c) * u)
                m[top : top + int(2 * u), left : left + int(2 * u)] = True
    elif kind == "word":
        m[int(12 * u) : int(20 * u), int(10 * u) : int(22 * u)] = True
    else:
        m[int(20 * u) : int(25 * u), int(14 * u) : int(19 * u)] = True
    return m & (alpha > 0.5)


def _bad_kind(kind: Any) -> str:
    if not isinstance(kind, str):
        raise TypeError(
            f"kind must be 'bars', 'dots', 'word' or 'square', got {type(kind).__name__}"
        )
    raise ValueError(f"kind must be 'bars', 'dots', 'word' or 'square', got {kind!r}")


def params_to_tensors(params: signs.RenderParams) -> tuple[Any, ...]:
    """The cameras of :func:`modelsec_edu.data.signs.sample_params` as backend tensors."""
    t = keras.ops.convert_to_tensor
    return (
        t(params.affine),
        t(params.background),
        t(params.brightness[:, None, None, None]),
        t(params.blur[:, None, None, None]),
        t(params.noise),
    )


def apply_transforms(x: Any, alpha: Any, params: tuple[Any, ...]) -> Any:
    """The renderer's camera in ``keras.ops``: warp, background, brightness, blur, noise.

    ``x`` (k, h, w, 3) are signs in the template's frame, ``alpha`` (k, h, w, 1)
    their area, ``params`` from :func:`params_to_tensors`.  It mirrors
    :func:`modelsec_edu.data.signs.compose` and is differentiable in ``x``.
    """
    affine, bg, bright, blur, noise = params
    layer = keras.ops.concatenate([x, alpha], axis=-1)
    layer = keras.ops.image.affine_transform(
        layer, affine, interpolation="bilinear", fill_mode="constant"
    )
    a = layer[..., 3:]
    img = (a * layer[..., :3] + (1.0 - a) * bg) * bright
    padded = keras.ops.pad(img, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="symmetric")
    kernel = keras.ops.convert_to_tensor(np.tile(_KERNEL[:, :, None, None], (1, 1, 3, 1)))
    smooth = keras.ops.depthwise_conv(padded, kernel, strides=1, padding="valid")
    img = (1.0 - blur) * img + blur * smooth
    return keras.ops.clip(img + noise, 0.0, 1.0)


def _compose(x, s, m):
    return x * (1.0 - m) + s * m


def _grouped(z, group):
    """Two logits, "any class of the group" and "any other" (log-sum-exps), from a 0/1 ``group``."""
    big = 1e9
    inside = keras.ops.logsumexp(z - big * (1.0 - group), axis=-1)
    outside = keras.ops.logsumexp(z - big * group, axis=-1)
    return keras.ops.stack([inside, outside], axis=-1)


def _make_step(eot: bool, targeted: bool):
    def make():
        def fn(logits, s, x, m, alpha, affine, bg, bright, blur, noise, yt, group, step_size):
            def view(sv):
                xa = _compose(x, sv, m)
                z = logits(
                    apply_transforms(xa, alpha, (affine, bg, bright, blur, noise)) if eot else xa
                )
                return _grouped(z, group) if targeted else z

            return pgd_tensor(
                view,
                s,
                yt,
                eps=1.0,
                step_size=step_size,
                steps=1,
                clip=(0.0, 1.0),
                targeted=targeted,
                mask=m,
            )

        return fn

    return make


def _check_inputs(model, x, y, mask, sign_mask):
    check_model(model)
    x = check_array(x, "x", ndim=4)
    if x.shape[-1] != 3 or x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"x must be RGB images in [0, 1] of shape (n, h, w, 3), got shape {x.shape}"
        )
    y = check_labels(y, "y", n=len(x), num_classes=int(model.output_shape[-1]))
    m = check_array(np.asarray(mask, dtype="float32"), "mask", ndim=2, min_len=1)
    if m.shape != x.shape[1:3]:
        raise ValueError(
            f"mask must have shape {x.shape[1:3]} (one sticker for all of x), got {m.shape}"
        )
    if not np.any(m > 0):
        raise ValueError("mask must mark at least one pixel")
    if sign_mask is None:
        alpha = np.ones(x.shape[:3], dtype="float32")
    else:
        alpha = np.broadcast_to(
            check_array(np.asarray(sign_mask, dtype="float32"), "sign_mask"), x.shape[:3]
        )
    return x, y, (m > 0).astype("float32"), np.ascontiguousarray(alpha, dtype="float32")


def sticker_attack(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    mask: Any,
    target: int | None,
    steps: int,
    transforms: signs.SignTransforms | None,
    seed: int | None,
    sign_mask: Any = None,
    samples: int = 16,
    step_size: float = 0.03,
) -> np.ndarray:
    """One sticker for all of ``x`` (photos of the same sign), optimised with or without EOT.

    Args:
        model: a classifier that outputs logits.
        x: ``(n, h, w, 3)`` frontal photos of the sign in the template's frame
            (``render_signs(..., transforms=IDENTITY)``).
        y: their true labels.
        mask: ``(h, w)``: where the sticker goes (:func:`sticker_mask`).
        target: the class every frame should read as, or several (any of them
            will do: the step raises their total probability), or None to push away from ``y``.
        steps: signed gradient steps (the step size decays linearly to a tenth).
        transforms: the camera's ranges (:class:`~modelsec_edu.data.signs.SignTransforms`)
            for EOT; None optimises on ``x`` as it is (no EOT).
        seed: seeds the start and the sampled cameras.
        sign_mask: ``(h, w)`` or ``(n, h, w)``: the sign's area, so each view gets a
            new background; None warps the whole photo.
        samples: cameras per step (EOT's k).
        step_size: the first step, in pixel values.

    Returns:
        ``x_adv``, float32 of ``x``'s shape, equal to ``x`` outside ``mask``;
        inside it, the same sticker on every image (:func:`sticker_of` reads it back).
    """
    x, y, m, alpha = _check_inputs(model, x, y, mask, sign_mask)
    steps = check_int(steps, "steps", min=1)
    samples = check_int(samples, "samples", min=1)
    step_size = check_float(step_size, "step_size", min=0.0, min_open=True)
    targeted = target is not None
    classes = int(model.output_shape[-1])
    group = np.zeros(classes, dtype="float32")
    if targeted:
        for c in np.atleast_1d(target) if not isinstance(target, (int, np.integer)) else [target]:
            group[check_int(c, "target", min=0, max=classes - 1)] = 1.0
    if transforms is not None and not isinstance(transforms, signs.SignTransforms):
        raise TypeError(
            f"transforms must be a SignTransforms or None, got {type(transforms).__name__}"
        )
    rng = np.random.default_rng(check_seed(seed))
    size = x.shape[1]
    step = backend.compiled(
        model,
        ("sticker_step", transforms is not None, targeted),
        _make_step(transforms is not None, targeted),
    )
    t = keras.ops.convert_to_tensor
    s = t(rng.uniform(0, 1, size=(1, *x.shape[1:])).astype("float32"))
    m_t = t(m[None, :, :, None])
    k = samples if transforms is not None else len(x)
    none = signs.RenderParams(
        np.zeros((k, 8), "float32"),
        np.zeros((k, size, size, 3), "float32"),
        np.ones(k, "float32"),
        np.zeros(k, "float32"),
        np.zeros((k, size, size, 3), "float32"),
    )
    for i in range(steps):
        idx = rng.integers(0, len(x), size=k) if transforms is not None else np.arange(len(x))
        if transforms is not None:
            cams = signs.sample_params(
                k, seed=int(rng.integers(2**31)), size=size, transforms=transforms
            )
        else:
            cams = none
        yt = np.zeros(k, dtype="int64") if targeted else y[idx]
        lr = step_size * (1.0 - 0.9 * i / max(steps - 1, 1))
        s = step(
            s,
            t(x[idx]),
            m_t,
            t(alpha[idx][..., None]),
            *params_to_tensors(cams),
            t(yt),
            t(group),
            t(np.float32(lr)),
        )
    return project_sticker(x, np.broadcast_to(keras.ops.convert_to_numpy(s), x.shape), m)


def project_sticker(x: Any, x_adv: Any, mask: Any) -> np.ndarray:
    """The sticker's projection: ``x_adv`` clipped to [0, 1] inside ``mask``, ``x`` outside it.

    ``mask`` is ``(h, w)`` (or broadcasts to ``x``'s first three axes); returns a new float32 array.
    """
    x = check_array(x, "x", ndim=4)
    x_adv = check_array(x_adv, "x_adv", ndim=4)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have x's shape {x.shape}, got {x_adv.shape}")
    m = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape[:3])[..., None]
    return np.where(m, np.clip(x_adv, 0.0, 1.0), x).astype("float32")


def sticker_of(x_adv: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels, mask)`` of the sticker on ``x_adv[0]``, for ``render_signs(sticker=...)``."""
    x_adv = check_array(x_adv, "x_adv", ndim=4)
    m = np.asarray(mask, dtype=bool)
    return np.where(m[..., None], x_adv[0], 0.0).astype("float32"), m.astype("float32")


def eot_gradient(
    model: keras.Model,
    x: Any,
    sticker: Any,
    *,
    mask: Any,
    target: int,
    params: signs.RenderParams,
    sign_mask: Any,
) -> np.ndarray:
    """The EOT gradient: d/d sticker of the mean target loss over the cameras ``params``.

    ``x`` is one frontal photo ``(h, w, 3)``; ``sticker`` ``(h, w, 3)``; every
    camera of ``params`` views the same photo.  Returns ``(h, w, 3)``, zero
    outside ``mask``.  The chapter writes this from scratch and compares.
    """
    check_model(model)
    x = check_array(x, "x", ndim=3)
    k = len(params)
    m = keras.ops.convert_to_tensor(np.asarray(mask, dtype="float32")[None, :, :, None])
    xs = keras.ops.convert_to_tensor(np.repeat(x[None], k, axis=0))
    alpha = keras.ops.convert_to_tensor(
        np.repeat(np.asarray(sign_mask, dtype="float32")[None, :, :, None], k, axis=0)
    )
    yt = keras.ops.convert_to_tensor(np.full(k, check_int(target, "target", min=0), dtype="int64"))
    cams = params_to_tensors(params)

    def loss(s):
        z = model(apply_transforms(_compose(xs, s, m), alpha, cams), training=False)
        return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(yt, z, from_logits=True)), z

    _, _, g = backend.value_and_grad(loss)(
        keras.ops.convert_to_tensor(np.asarray(sticker, dtype="float32")[None])
    )
    return (keras.ops.convert_to_numpy(g)[0] * np.asarray(mask, dtype="float32")[..., None]).astype(
        "float32"
    )
