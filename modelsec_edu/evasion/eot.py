"""The sticker's optimiser (chapter 09): Adam on a sigmoid colour, a floored margin, EOT views.

Threat model: a white-box attacker who prints a pattern (a sticker on a sign,
a patch anywhere in view) and wants it to work on every camera frame, so the
pattern is optimised by Expectation over Transformation (Athalye et al. 2018,
https://arxiv.org/abs/1707.07397) over the renderer's random cameras.

Three choices differ from chapter 03's PGD step (:func:`.gradient.pgd_tensor`).
On one chapter model, a 10% sticker, stop -> speed limit 30, the floored
margin reached 68% of fresh renders where cross-entropy reached 46% (same
steps, same mask search; a development run, not a bench figure):

* **the colour is a sigmoid** ``s = sigmoid(w)`` (Carlini & Wagner 2017,
  https://arxiv.org/abs/1608.04644, used tanh): every ``w`` is a printable
  colour, so no projection is needed and the optimiser can keep momentum;
* **Adam** (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980) with a cosine
  decay of the step instead of signed steps: the EOT gradient is a noisy
  estimate (k cameras a step), and Adam's running means average that noise;
* **a margin loss with a floor** ``max(max_{j not in G} z_j - logsumexp_{i in G} z_i, -kappa)``
  (C&W's f6 for a group ``G`` of target classes): a camera already fooled by
  ``kappa`` logits adds no gradient, so the steps go to the frames still read
  correctly, which is what "success on fresh frames" counts.  Cross-entropy
  keeps pushing the frames it has already won.

The step is written once in ``keras.ops`` and compiled by
:func:`modelsec_edu.backend.compiled`, so all three backends run it.
:class:`Problem` holds one attack's photos, targets and cameras;
:func:`apply_transforms` is the renderer's camera in ``keras.ops``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.data import signs
from modelsec_edu.validation import check_array, check_int

__all__ = ["apply_transforms", "params_to_tensors"]

_KERNEL = np.outer(signs._BLUR, signs._BLUR).astype("float32")

_BIG = 1e9


def _group_margin(z: Any, group: Any, kappa: Any) -> Any:
    """Per row: best logit outside ``group`` minus log-sum-exp inside it, floored at ``-kappa``.

    ``z`` is ``(k, classes)`` logits, ``group`` a 0/1 tensor of ``(classes,)``
    or ``(k, classes)`` (the targets; "anything but y" is every class but y).
    Negative means the row already reads as a class of the group.
    """
    inside = keras.ops.logsumexp(z - _BIG * (1.0 - group), axis=-1)
    outside = keras.ops.max(z - _BIG * group, axis=-1)
    return keras.ops.maximum(outside - inside, -kappa)


def _adam_step(w: Any, g: Any, mom: Any, vel: Any, i: Any, lr: Any) -> tuple[Any, Any, Any]:
    """One Adam update (beta 0.9, 0.999) of ``w`` along ``-g`` at step ``i`` >= 1: ``(w, m, v)``."""
    mom = 0.9 * mom + 0.1 * g
    vel = 0.999 * vel + 0.001 * g * g
    m_hat = mom / (1.0 - keras.ops.power(0.9, i))
    v_hat = vel / (1.0 - keras.ops.power(0.999, i))
    return w - lr * m_hat / (keras.ops.sqrt(v_hat) + 1e-8), mom, vel


def _lr_at(step_size: float, i: int, steps: int) -> float:
    """The cosine decay: ``step_size`` at step 0, falling to a hundredth at the last step."""
    return step_size * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * i / max(steps, 1))))


def params_to_tensors(params: signs.RenderParams) -> tuple[Any, ...]:
    """The cameras of :func:`modelsec_edu.data.signs.sample_params` as backend tensors."""
    if not isinstance(params, signs.RenderParams):
        raise TypeError(f"params must be a signs.RenderParams, got {type(params).__name__}")
    t = keras.ops.convert_to_tensor
    return (
        t(params.affine),
        t(params.background),
        t(params.brightness[:, None, None, None]),
        t(params.blur[:, None, None, None]),
        t(params.noise),
    )


def _batch(x: Any, name: str, channels: int) -> Any:
    """``x`` as a ``(k, h, w, channels)`` tensor: a backend tensor (maybe traced) keeps its type."""
    if keras.ops.is_tensor(x) and not isinstance(x, np.ndarray):
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[0] == 0 or shape[-1] != channels:
            raise ValueError(f"{name} must have shape (k, h, w, {channels}), k >= 1, got {shape}")
        return x
    arr = check_array(x, name, ndim=4)
    if arr.shape[-1] != channels:
        raise ValueError(f"{name} must have shape (k, h, w, {channels}), got {arr.shape}")
    return keras.ops.convert_to_tensor(arr)


def apply_transforms(x: Any, alpha: Any, params: tuple[Any, ...]) -> Any:
    """The renderer's camera in ``keras.ops``: warp, background, brightness, blur, noise.

    ``x`` (k, h, w, 3) are signs in the template's frame, ``alpha`` (k, h, w, 1)
    their area, ``params`` from :func:`params_to_tensors`.  It mirrors
    :func:`modelsec_edu.data.signs.compose` and is differentiable in ``x``.
    """
    x, alpha = _batch(x, "x", 3), _batch(alpha, "alpha", 1)
    if not isinstance(params, tuple) or len(params) != 5:
        raise TypeError("params must be the 5-tuple of params_to_tensors(RenderParams)")
    return _camera(x, alpha, params)


def _camera(x, alpha, params):
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


def _views(logits, eot, w, x, m, alpha, cams):
    xa = _compose(x, keras.ops.sigmoid(w), m)
    return logits(_camera(xa, alpha, cams) if eot else xa)


def _blocks(g, block):
    """``g`` averaged over ``block`` x ``block`` tiles (1: as it is): steps of printable pieces."""
    if block == 1:
        return g
    p = keras.ops.average_pool(g, pool_size=block, strides=block, padding="valid")
    return keras.ops.repeat(keras.ops.repeat(p, block, axis=1), block, axis=2)


def block_start(w: np.ndarray, block: int) -> np.ndarray:
    """``w`` (1, h, w, c) made constant on ``block`` x ``block`` tiles (their mean)."""
    if block == 1:
        return w
    n, h, wd, c = w.shape
    tiles = w.reshape(n, h // block, block, wd // block, block, c).mean(axis=(2, 4))
    return np.repeat(np.repeat(tiles, block, axis=1), block, axis=2).astype("float32")


def make_step(eot: bool, block: int = 1):
    def make():
        def fn(
            logits, w, mom, vel, i, lr, x, m, alpha, affine, bg, bright, blur, noise, grp, kappa
        ):
            cams = (affine, bg, bright, blur, noise)

            def loss(wv):
                z = _views(logits, eot, wv, x, m, alpha, cams)
                return keras.ops.mean(_group_margin(z, grp, kappa)), z

            _, _, g = backend.value_and_grad(loss)(w)
            return _adam_step(w, _blocks(g * m, block), mom, vel, i, lr)

        return fn

    return make


def make_score(eot: bool):
    def make():
        def fn(logits, w, x, m, alpha, affine, bg, bright, blur, noise, grp, kappa):
            z = _views(logits, eot, w, x, m, alpha, (affine, bg, bright, blur, noise))
            margin = _group_margin(z, grp, kappa)
            # success first, the mean margin breaks ties (lower is better)
            return keras.ops.mean(keras.ops.cast(margin < 0, "float32")), keras.ops.mean(margin)

        return fn

    return make


def make_importance(eot: bool):
    def make():
        def fn(logits, w, x, m, alpha, affine, bg, bright, blur, noise, grp, kappa):
            cams = (affine, bg, bright, blur, noise)
            s0 = keras.ops.sigmoid(w)

            def loss(s):
                xa = _compose(x, s, m)
                z = logits(_camera(xa, alpha, cams) if eot else xa)
                # the margin without its floor: unlike cross-entropy it does not vanish on
                # views fooled by a wide margin, so every camera votes for its pixels
                return keras.ops.mean(_group_margin(z, grp, _BIG)), z

            _, _, g = backend.value_and_grad(loss)(s0)
            # first order: how much the loss would rise if the pixel went back to the sign's
            return keras.ops.sum(keras.ops.abs(g * (s0 - x[:1])), axis=-1)[0] * m[0, :, :, 0]

        return fn

    return make


class Problem:
    """Everything the steps need, as arrays; draws the views of one step."""

    def __init__(self, model, x, y, alpha, target, transforms, samples, kappa, block=1):
        classes = int(model.output_shape[-1])
        self.model, self.x, self.alpha, self.eot = model, x, alpha, transforms is not None
        self.transforms, self.kappa, self.block = transforms, np.float32(kappa), block
        if target is None:  # anything but the true label
            self.groups = 1.0 - np.eye(classes, dtype="float32")[y]
        else:
            group = np.zeros(classes, dtype="float32")
            many = not isinstance(target, (int, np.integer))
            for c in np.atleast_1d(target) if many else [target]:
                group[check_int(c, "target", min=0, max=classes - 1)] = 1.0
            self.groups = np.broadcast_to(group, (len(x), classes))
        self.k = samples if self.eot else len(x)
        size = x.shape[1]
        self.none = signs.RenderParams(
            np.zeros((len(x), 8), "float32"),
            np.zeros((len(x), size, size, 3), "float32"),
            np.ones(len(x), "float32"),
            np.zeros(len(x), "float32"),
            np.zeros((len(x), size, size, 3), "float32"),
        )

    def views(self, rng, k=None):
        """``(x, alpha, cameras, groups)`` of ``k`` random views (without EOT: all the photos)."""
        t = keras.ops.convert_to_tensor
        if not self.eot:
            idx, cams = np.arange(len(self.x)), self.none
        else:
            k = self.k if k is None else k
            idx = rng.integers(0, len(self.x), size=k)
            seed = int(rng.integers(2**31))
            cams = signs.sample_params(
                k, seed=seed, size=self.x.shape[1], transforms=self.transforms
            )
        return (
            t(self.x[idx]),
            t(self.alpha[idx][..., None]),
            *params_to_tensors(cams),
            t(np.ascontiguousarray(self.groups[idx])),
        )

    def run(self, w, mask, steps, step_size, rng):
        """``steps`` Adam steps on the sticker's colours ``w`` inside ``mask``; returns ``w``."""
        t = keras.ops.convert_to_tensor
        key = ("sticker_adam", self.eot, self.block)
        step = backend.compiled(self.model, key, make_step(self.eot, self.block))
        m = t(mask[None, :, :, None].astype("float32"))
        w = block_start(np.asarray(w, dtype="float32"), self.block)
        w, mom, vel = t(w), t(np.zeros_like(w)), t(np.zeros_like(w))
        for i in range(steps):
            lr = np.float32(_lr_at(step_size, i, steps))
            x, a, *rest, grp = self.views(rng)
            w, mom, vel = step(
                w, mom, vel, t(np.float32(i + 1)), t(lr), x, m, a, *rest, grp, t(self.kappa)
            )
        return keras.ops.convert_to_numpy(w)

    def call(self, name, make, w, mask, views):
        fn = backend.compiled(self.model, (name, self.eot), make(self.eot))
        t = keras.ops.convert_to_tensor
        x, a, *rest, grp = views
        return fn(
            t(w), x, t(mask[None, :, :, None].astype("float32")), a, *rest, grp, t(self.kappa)
        )
