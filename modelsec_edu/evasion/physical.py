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
chapter measures how that sticker fares on fresh frames.  The step is Adam on
the sticker's colours through a sigmoid, with a floored margin loss
(:mod:`.eot` says why each of the three beats chapter 03's signed PGD step
here); every transform is written in ``keras.ops``, so all three backends run
it.  Where the sticker goes matters as much as its colours:
:func:`saliency_mask` picks the area, RP2-style, from where a whole-sign
perturbation matters most.  :mod:`.patches` holds the universal patch.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models
from modelsec_edu.data import signs
from modelsec_edu.validation import (
    check_array,
    check_float,
    check_int,
    check_labels,
    check_model,
    check_seed,
)

from . import eot as eot_opt
from .eot import _compose, apply_transforms, params_to_tensors

__all__ = [
    "apply_transforms",
    "eot_gradient",
    "params_to_tensors",
    "project_sticker",
    "road_success",
    "saliency_mask",
    "sticker_attack",
    "sticker_mask",
    "sticker_of",
]


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


def _prepare(model, x, y, mask, target, steps, transforms, seed, sign_mask, samples, step_size):
    x, y, m, alpha = _check_inputs(model, x, y, mask, sign_mask)
    steps = check_int(steps, "steps", min=1)
    samples = check_int(samples, "samples", min=1)
    step_size = check_float(step_size, "step_size", min=0.0, min_open=True)
    if transforms is not None and not isinstance(transforms, signs.SignTransforms):
        raise TypeError(
            f"transforms must be a SignTransforms or None, got {type(transforms).__name__}"
        )
    return x, y, m, alpha, steps, samples, step_size, np.random.default_rng(check_seed(seed))


def sticker_attack(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    mask: Any,
    target: Any,
    steps: int,
    transforms: signs.SignTransforms | None,
    seed: int | None,
    sign_mask: Any = None,
    samples: int = 32,
    step_size: float = 0.1,
    kappa: float = 5.0,
    restarts: int = 1,
    holdout: int = 256,
    start: Any = None,
    block: int = 1,
) -> np.ndarray:
    """One sticker for all of ``x`` (photos of the same sign), optimised with or without EOT.

    Args:
        model: a classifier that outputs logits.
        x: ``(n, h, w, 3)`` frontal photos of the sign in the template's frame
            (``render_signs(..., transforms=IDENTITY)``).
        y: their true labels.
        mask: ``(h, w)``: where the sticker goes (:func:`sticker_mask`, :func:`saliency_mask`).
        target: the class every frame should read as, or several (any of them
            will do), or None to push away from ``y``.
        steps: Adam steps on the sticker's colours (:mod:`.eot`; the step decays by a cosine).
        transforms: the camera's ranges (:class:`~modelsec_edu.data.signs.SignTransforms`)
            for EOT; None optimises on ``x`` as it is (no EOT).
        seed: seeds the starts and the sampled cameras.
        sign_mask: ``(h, w)`` or ``(n, h, w)``: the sign's area, so each view gets a
            new background; None warps the whole photo.
        samples: cameras per step (EOT's k).
        step_size: Adam's first step, on the sigmoid's input.
        kappa: the margin's floor (logits): a frame fooled by that much adds no gradient.
        restarts: random starts; the sticker that fools most of ``holdout`` cameras the
            optimiser never drew is kept (without EOT: the one with the best margin on ``x``).
        holdout: cameras of that check.
        start: ``(h, w, 3)`` colours to start the first restart from (:func:`saliency_mask`).
        block: the sticker's colours are constant on ``block`` x ``block`` tiles
            (printable pieces; a tile of a 32-pixel sign is a few centimetres of a real one).

    Returns:
        ``x_adv``, float32 of ``x``'s shape, equal to ``x`` outside ``mask``;
        inside it, the same sticker on every image (:func:`sticker_of` reads it back).
    """
    x, y, m, alpha, steps, samples, step_size, rng = _prepare(
        model, x, y, mask, target, steps, transforms, seed, sign_mask, samples, step_size
    )
    restarts = check_int(restarts, "restarts", min=1)
    holdout = check_int(holdout, "holdout", min=1)
    kappa = check_float(kappa, "kappa", min=0.0)
    block = check_int(block, "block", min=1, max=x.shape[1])
    if x.shape[1] % block or x.shape[2] % block:
        raise ValueError(f"block must divide the image side {x.shape[1]}, got {block}")
    problem = eot_opt.Problem(model, x, y, alpha, target, transforms, samples, kappa, block)
    w0 = None
    if start is not None:
        p = np.clip(check_array(start, "start", ndim=3), 1e-3, 1 - 1e-3).astype("float64")
        if p.shape != x.shape[1:]:
            raise ValueError(f"start must have shape {x.shape[1:]}, got {p.shape}")
        w0 = np.log(p / (1 - p)).astype("float32")[None]
    check = problem.views(np.random.default_rng(rng.integers(2**31)), holdout)
    best, best_score = None, None
    for _ in range(restarts):
        w = rng.normal(0.0, 0.5, size=(1, *x.shape[1:])).astype("float32")
        if w0 is not None:
            w = w0 + (0.0 if best is None else w)  # the first restart starts at ``start``
        w = problem.run(w, m, steps, step_size, rng)
        hit, margin = problem.call("sticker_score", eot_opt.make_score, w, m, check)
        score = (float(keras.ops.convert_to_numpy(hit)), -float(keras.ops.convert_to_numpy(margin)))
        if best_score is None or score > best_score:
            best, best_score = w, score
    s = 1.0 / (1.0 + np.exp(-best.astype("float64")))
    return project_sticker(x, np.broadcast_to(s, x.shape), m)


def saliency_mask(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    target: Any,
    budget: float,
    transforms: signs.SignTransforms | None,
    seed: int | None,
    sign_mask: Any,
    steps: int = 100,
    samples: int = 32,
    stages: tuple[float, ...] = (0.32, 0.16, 0.12),
    step_size: float = 0.1,
    kappa: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Where to put a sticker of ``budget`` (share of the image): ``(mask, sticker)``.

    RP2 (Eykholt et al. 2018) chose its sticker's shape from where the
    perturbation mattered.  Here: optimise a sticker over the whole sign, keep
    the pixels whose reversal would raise the loss most (first order:
    ``|grad * (sticker - sign)|``, pooled over 2x2 blocks so the sticker stays
    in printable pieces that survive blur), optimise again on what is left, and
    shrink through ``stages`` to ``budget``.  The gradients are EOT means over
    ``transforms``' cameras (or the photos ``x`` themselves when it is None).
    """
    sign = np.asarray(check_array(sign_mask, "sign_mask", ndim=2), dtype="float32") > 0.5
    x, y, m, alpha, steps, samples, step_size, rng = _prepare(
        model, x, y, sign, target, steps, transforms, seed, sign_mask, samples, step_size
    )
    budget = check_float(budget, "budget", min=0.0, max=float(m.mean()), min_open=True)
    kappa = check_float(kappa, "kappa", min=0.0)
    problem = eot_opt.Problem(model, x, y, alpha, target, transforms, samples, kappa)
    size = x.shape[1]
    block = max(1, size // 16)
    mask = m > 0
    w = rng.normal(0.0, 0.5, size=(1, *x.shape[1:])).astype("float32")
    for share in (*[s for s in stages if s > budget], budget):
        w = problem.run(w, mask, steps, step_size, rng)
        views = problem.views(rng, 8 * samples)
        imp = keras.ops.convert_to_numpy(
            problem.call("sticker_importance", eot_opt.make_importance, w, mask, views)
        ).astype("float64")
        pooled = imp.reshape(size // block, block, size // block, block).sum(axis=(1, 3))
        score = np.kron(pooled, np.ones((block, block))) + 1e-6 * imp
        score = np.where(mask, score, -np.inf)
        keep = int(np.floor(share * size * size))
        order = np.argsort(-score, axis=None, kind="stable")[:keep]
        mask = np.zeros(size * size, dtype=bool)
        mask[order] = True
        mask = mask.reshape(size, size) & sign
    s = 1.0 / (1.0 + np.exp(-problem.run(w, mask, steps, step_size, rng)[0].astype("float64")))
    return mask, np.where(mask[..., None], s, 0.0).astype("float32")


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


def road_success(
    model: keras.Model,
    sticker: Any,
    *,
    target: Any,
    sign: Any = "stop",
    n: int = 1000,
    seed: int | None = 9001,
) -> float:
    """The sticker on the road: its success on ``n`` fresh renders of ``sign`` (default cameras).

    ``sticker`` is ``(pixels, mask)`` (:func:`sticker_of`); success is the share
    read as ``target`` (or any of several), or, with ``target=None``, as
    anything but ``sign``.  ``seed`` must differ from every seed the attack used,
    so the frames are ones the optimiser never saw: the stand-in for a drive-by.
    """
    check_model(model)
    n = check_int(n, "n", min=1)
    source = int(signs.class_index(sign)[0])
    xs, _, _ = signs.render_signs(n, seed=seed, classes=source, sticker=sticker)
    pred = models.predict_labels(model, xs)
    if target is None:
        return float(np.mean(pred != source))
    k = int(model.output_shape[-1])
    many = not isinstance(target, (int, np.integer))
    group = [check_int(c, "target", min=0, max=k - 1) for c in np.atleast_1d(target)]
    return float(np.mean(np.isin(pred, group if many else group[:1])))


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
