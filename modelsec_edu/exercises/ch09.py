"""Checks for chapter 09 (autonomous driving): the sticker's projection, abstention, ECE, EOT.

Each function-writing check calls the learner's function on **fresh** random
inputs (a new draw every call) and compares it with the library
(:mod:`modelsec_edu.evasion.physical`, :mod:`modelsec_edu.models.reliability`)
and with invariants.  Choice questions explain every wrong option.  Used in
chapter 09; solutions in ``solutions/09_autonomous_driving.ipynb``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu.data import signs
from modelsec_edu.evasion import physical
from modelsec_edu.models import reliability

from ._core import Failed, call, check_option, verdict

__all__ = ["check_abstain", "check_ece", "check_eot_gradient", "check_no_eot", "check_projection"]


def _array(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as err:  # a learner's odd return value
        raise Failed(f"{name} is not an array ({err})") from err


def _probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    z = rng.normal(size=(n, k)) * rng.uniform(0.5, 4)
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


# --------------------------------------------------------------------------- write it yourself


def check_projection(fn: Any) -> bool:
    """``fn(x, x_adv, mask)`` keeps ``x`` outside the mask, ``x_adv`` clipped to [0, 1] inside."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            n, h = int(rng.integers(1, 5)), int(rng.integers(6, 20))
            x = rng.random((n, h, h, 3), dtype=np.float32)
            x_adv = (x + rng.normal(0, 0.8, size=x.shape)).astype(
                "float32"
            )  # some values outside [0, 1]
            mask = rng.random((h, h)) < 0.3
            mask[0, 0] = True
            before = (x.copy(), x_adv.copy())
            out = _array(call(fn, x, x_adv, mask), "the result")
            if not (np.array_equal(x, before[0]) and np.array_equal(x_adv, before[1])):
                return "your function changed an input; build a new array (np.where does)"
            if out.shape != x.shape:
                return f"expected shape {x.shape}, got {out.shape}"
            if not np.array_equal(out[:, ~mask], x[:, ~mask]):
                return (
                    "outside the mask, keep exactly the pixels of x: a sticker covers only its area"
                )
            if out.min() < 0 or out.max() > 1:
                return (
                    "inside the mask, clip to [0, 1]: a printer has no colour brighter than white"
                )
            want = physical.project_sticker(x, x_adv, mask)
            if not np.allclose(out, want, atol=1e-6):
                return "inside the mask the result should be x_adv, clipped to [0, 1]"
        return None

    return verdict(run, fn, success="Your projection matches the library's on fresh inputs.")


def check_abstain(fn: Any) -> bool:
    """``fn(probs, threshold)``: predicted labels, -1 where the top probability is below it."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            probs = _probs(rng, int(rng.integers(20, 60)), int(rng.integers(2, 8)))
            t = float(np.sort(probs.max(1))[len(probs) // 2])  # one row sits exactly on t
            before = probs.copy()
            out = _array(call(fn, probs, t), "the result")
            if not np.array_equal(probs, before):
                return "your function changed probs"
            want = reliability.abstain(probs, threshold=t)
            if out.shape != want.shape:
                return f"expected one answer per row, shape {want.shape}, got {out.shape}"
            if not np.issubdtype(out.dtype, np.integer):
                return f"return integer labels (and -1), got dtype {out.dtype}"
            if np.any((out == -1) != (want == -1)):
                return (
                    "abstain exactly where the top probability is below the threshold (ties answer)"
                )
            if not np.array_equal(out, want):
                return "where it answers, the answer is the most probable class"
        return None

    return verdict(run, fn, success="Your abstention matches the library's on fresh probabilities.")


def check_ece(fn: Any) -> bool:
    """``fn(probs, y, bins)`` is the expected calibration error with equal-width confidence bins."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            n, k, bins = (
                int(rng.integers(50, 300)),
                int(rng.integers(2, 6)),
                int(rng.integers(3, 15)),
            )
            probs = _probs(rng, n, k)
            y = rng.integers(0, k, size=n)
            got = call(fn, probs, y, bins)
            try:
                got = float(got)
            except (TypeError, ValueError):
                return f"return one number, got {type(got).__name__}"
            want = reliability.expected_calibration_error(probs, y, bins=bins)
            if not np.isclose(got, want, atol=1e-6):
                return (
                    f"on {n} fresh predictions with {bins} bins you got {got:.4f}; "
                    "weigh each bin's gap by its share"
                )
        return None

    return verdict(run, fn, success="Your ECE matches the library's on fresh predictions.")


def check_eot_gradient(fn: Any, model: keras.Model) -> bool:
    """``fn(model, x, sticker, mask, target, params, sign_mask)``: the EOT gradient."""

    def run():
        rng = np.random.default_rng()
        x, _, _ = signs.render_signs(
            1, seed=int(rng.integers(2**31)), classes="stop", transforms=signs.IDENTITY
        )
        _, alpha = signs.sticker_frame("stop")
        mask = physical.sticker_mask("bars")
        sticker = rng.random((32, 32, 3), dtype=np.float32)
        params = signs.sample_params(int(rng.integers(2, 5)), seed=int(rng.integers(2**31)))
        target = int(rng.integers(1, int(model.output_shape[-1])))
        got = _array(call(fn, model, x[0], sticker, mask, target, params, alpha), "the gradient")
        want = physical.eot_gradient(
            model, x[0], sticker, mask=mask, target=target, params=params, sign_mask=alpha
        )
        if got.shape != want.shape:
            return f"expected the sticker's shape {want.shape}, got {got.shape}"
        if np.any(got[~mask] != 0):
            return "the gradient outside the mask must be zero: those pixels are not the attacker's"
        scale = np.abs(want).max() + 1e-12
        if np.abs(got - want).max() > 1e-3 * scale:
            return "average the gradient over the cameras (a mean, not a sum)"
        return None

    return verdict(
        run,
        fn,
        success="Your EOT gradient matches the library's on a fresh photo and fresh cameras.",
    )


# --------------------------------------------------------------------------- choices


def check_no_eot(answer: Any) -> bool:
    """Why does the sticker optimised on one frontal photo fail on fresh frames?"""
    return check_option(
        answer,
        right="c",
        why={
            "a": "fewer steps is not it: the bench gives both stickers the same steps, and the one "
            "without EOT reaches its target on its own photo.",
            "b": "the fresh frames come from the very distribution the model was trained on; the "
            "model reads them at above 97%.",
            "d": "the sticker is opaque: printed pixels replace the sign's; nothing can wash out.",
        },
        explain="It fits the exact pixels of one view. A few degrees, a smaller sign, blur, light "
        "move those pixels and the fit is gone; EOT optimises the average over such views.",
    )
