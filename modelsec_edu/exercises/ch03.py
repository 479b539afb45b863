"""Checks for chapter 03 (backpropagation attacks): PGD by hand, the L2 projection, evaluations.

Threat model of the exercises: the white-box attacker of chapter 03 (Madry et
al. 2018, https://arxiv.org/abs/1706.06083), and the evaluator who must not be
fooled by gradient masking (Athalye et al. 2018, https://arxiv.org/abs/1802.00420).

The function-writing checks call the learner's function on a **new** random
classifier and new images, and compare it with the library
(:func:`modelsec_edu.evasion.pgd`, :func:`modelsec_edu.evasion.fgsm`,
:func:`modelsec_edu.evasion.norms.project`) and with invariants (the budget,
the pixel box).  The checklist exercise depends on a measurement, so its check
only confirms that the learner ran it and comments on what came out: it never
fails a correct learner whose quick-mode model happens to fail a check.  Used
in chapter 03; solutions in ``solutions/03_backprop_attacks.ipynb``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import evasion
from modelsec_edu.evasion import norms
from modelsec_edu.models.recipes import default_step_size

from . import _fresh
from ._core import NO, OK, WAIT, _missing, call, check_option, verdict

__all__ = [
    "check_checklist_ran",
    "check_fgsm_via_pgd",
    "check_headline",
    "check_masking_item",
    "check_pgd",
    "check_pgd_l2",
    "check_project_l2",
]


def _images_out(out: Any, shape: tuple[int, ...]) -> np.ndarray:
    a = keras.ops.convert_to_numpy(out) if not isinstance(out, np.ndarray) else out
    a = np.asarray(a, dtype="float32")
    if a.shape != shape:
        raise ValueError(f"your function returned shape {a.shape}, expected {shape}")
    return a


def _setting(rng: np.random.Generator):
    model = _fresh.tiny_model(rng)
    x = _fresh.images(rng, 32)
    return model, x, rng.integers(0, 10, 32)


def _attack_run(fn: Any, budgets: tuple[float, ...]):
    """Call the learner's attack on a fresh model: ``(model, x, y, eps, step_size, steps, out)``.

    ``out`` is the learner's images, or a message (a string) saying what went wrong.
    """
    rng = np.random.default_rng()
    model, x, y = _setting(rng)
    eps, steps = float(rng.choice(budgets)), int(rng.integers(3, 8))
    step_size = default_step_size(eps, steps)
    before = x.copy()
    try:
        got = _images_out(call(fn, model, x, y, eps, step_size, steps), x.shape)
    except ValueError as err:
        return model, x, y, eps, step_size, steps, str(err)
    if not np.array_equal(x, before):
        return model, x, y, eps, step_size, steps, "your function changed x"
    return model, x, y, eps, step_size, steps, got


def check_pgd(fn: Any) -> bool:
    """``fn(model, x, y, eps, step_size, steps)``: L-inf PGD started at ``x`` (no random start)."""

    def run():
        model, x, y, eps, step_size, steps, got = _attack_run(fn, (0.05, 0.1, 0.2))
        if isinstance(got, str):
            return got
        if np.abs(got - x).max() > eps + 1e-5:
            return (
                f"a pixel moved by {np.abs(got - x).max():.4f} > eps = {eps}: project after "
                "each step"
            )
        if got.min() < -1e-6 or got.max() > 1 + 1e-6:
            return "pixels left [0, 1]: clip after each step"
        want = evasion.pgd(model, x, y, eps=eps, step_size=step_size, steps=steps,
                           random_start=False, precision="float32")  # fmt: skip
        agree = np.mean(np.abs(got - want) <= 1e-4)
        if agree < 0.98:  # a sign may differ where the gradient is ~0: allow a few pixels
            return (f"only {agree:.0%} of the pixels agree with evasion.pgd(random_start=False); "
                    "step x + step_size * sign(grad), then clip to the ball and to [0, "
                    "1]")  # fmt: skip
        return None

    return verdict(
        run, fn, success="Your PGD matches evasion.pgd on a new model: budget and box hold."
    )


def check_pgd_l2(fn: Any) -> bool:
    """``fn(model, x, y, eps, step_size, steps)``: L2 PGD started at ``x`` (no random start)."""

    def run():
        model, x, y, eps, step_size, steps, got = _attack_run(fn, (0.5, 1.0, 1.5))
        if isinstance(got, str):
            return got
        size = np.linalg.norm((got - x).reshape(len(x), -1), axis=1)
        if size.max() > eps * (1 + 1e-4) + 1e-5:
            return (f"an image moved by {size.max():.3f} in L2 > eps = {eps}: after each step "
                    "rescale each too-long perturbation onto the L2 ball")  # fmt: skip
        if got.min() < -1e-6 or got.max() > 1 + 1e-6:
            return "pixels left [0, 1]: clip after each step"
        want = evasion.pgd(model, x, y, eps=eps, step_size=step_size, steps=steps, norm="l2",
                           random_start=False, precision="float32")  # fmt: skip
        off = np.abs(got - want).reshape(len(x), -1).max(axis=1)
        if np.mean(off <= 1e-3) < 0.9:  # a ReLU kink can split one image's path: allow a few
            return (f"only {np.mean(off <= 1e-3):.0%} of the images agree with "
                    "evasion.pgd(norm='l2', random_start=False): step along g / ||g||_2 of each "
                    "image, then project onto the ball and clip to [0, 1]")  # fmt: skip
        return None

    return verdict(
        run, fn, success="Your L2 PGD matches evasion.pgd on a new model: budget and box hold."
    )


def check_project_l2(fn: Any) -> bool:
    """``fn(delta, eps)`` projects each perturbation of a batch onto the L2 ball of radius eps."""

    def run():
        rng = np.random.default_rng()
        eps = float(rng.choice([0.5, 1.0, 2.0]))
        delta = rng.normal(size=(12, 8, 8, 1)).astype("float32")
        delta[:6] *= 0.05  # half of them already inside the ball: they must not move
        before = delta.copy()
        try:
            got = _images_out(call(fn, delta, eps), delta.shape)
        except ValueError as err:
            return str(err)
        if not np.array_equal(delta, before):
            return "your function changed delta"
        want = keras.ops.convert_to_numpy(
            norms.project(keras.ops.convert_to_tensor(delta), eps, "l2")
        )
        size = np.linalg.norm(got.reshape(12, -1), axis=1)
        if np.any(size > eps * (1 + 1e-4)):
            return "some result is longer than eps"
        if not np.allclose(got[:6], delta[:6], atol=1e-6):
            return "a perturbation already inside the ball was changed: leave those alone"
        if not np.allclose(got, want, rtol=1e-4, atol=1e-6):
            return "too-long perturbations must keep their direction and get length eps exactly"
        return None

    return verdict(
        run, fn, success="Inside the ball: untouched; outside: rescaled onto the sphere."
    )


def check_fgsm_via_pgd(fn: Any) -> bool:
    """``fn(model, x, y, eps)`` calls ``evasion.pgd`` so that it returns ``evasion.fgsm``."""

    def run():
        rng = np.random.default_rng()
        model, x, y = _setting(rng)
        eps = float(rng.choice([0.03, 0.1, 0.25]))
        try:
            got = _images_out(call(fn, model, x, y, eps), x.shape)
        except ValueError as err:
            return str(err)
        want = evasion.fgsm(model, x, y, eps=eps)
        if not np.allclose(got, want, atol=1e-6):
            return (f"off by up to {np.abs(got - want).max():.3g} from evasion.fgsm "
                    f"at eps = {eps}: "
                    "how many steps, how large, and from where?")  # fmt: skip
        return None

    return verdict(run, fn, success="One step of size eps from x itself: PGD becomes FGSM.")


def check_masking_item(answer: Any) -> bool:
    """Which checklist item does "high accuracy under PGD, low under Square" violate?"""
    return check_option(
        answer,
        right="white-box",
        why={
            "iterative": "that item compares PGD with FGSM (iterating should help); here the "
            "comparison is between a gradient attack and a score-based one.",
            "unbounded": "that item asks whether an unlimited budget reaches 0%; Square and PGD "
            "here ran with the same eps.",
            "steps": "that item asks whether more PGD steps help; the surprise here is that an "
            "attack without any gradient did better.",
        },
        explain="A white-box attack knows everything a black-box one knows; when the black-box "
        "one wins, "
        "the gradient is lying (masking), not the model resisting.",
    )


def check_headline(answer: Any) -> bool:
    """Which number should an evaluation report as a model's robust accuracy?"""
    return check_option(
        answer,
        right="c",
        why={
            "a": "PGD-40 is one attack with one step size and one start: a model can resist it and "
            "fall to another. Its number is an upper bound, often a loose one.",
            "b": "a mean over attacks counts an input as robust when some attacks failed on it; "
            "the "
            "attacker only needs one that works.",
            "d": "the strongest single attack is better, but different inputs fall to different "
            "attacks: the per-input worst case can be lower still.",
        },
        explain="An input is robust only if every attack failed on it (AutoAttack's rule); the "
        "result "
        "is still an upper bound on the true robust accuracy.",
    )


def check_checklist_ran(result: Any) -> bool:
    """The learner ran ``evasion.masking_checklist`` on the undefended CNN; comment on it."""
    if _missing(result):
        print(f"{WAIT} Not answered yet: replace ... with the call.")
        return False
    if not isinstance(result, evasion.Checklist):
        print(f"{NO} Expected what evasion.masking_checklist returns, got {type(result).__name__}.")
        return False
    failed = [c.name for c in result if not c.passed]
    if not failed:
        print(f"{OK} Every check passed: the undefended CNN's low robust accuracy is real.")
    else:
        print(f"{OK} You ran it. Failed here: {', '.join(failed)}. On a small quick-mode model a "
              "check can fail by a point or two of noise (how large is the gap?); on the quantised "
              "model the gaps were tens of points. Compare the two in your answer.")  # fmt: skip
    return True
