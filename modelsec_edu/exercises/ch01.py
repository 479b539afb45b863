"""Checks for chapter 01 (concepts): threat models, label flips, weight noise, FGSM accuracy.

The function-writing checks call the learner's function on **fresh** inputs
(new random labels, weights, a new random classifier) and compare it with the
library (:func:`modelsec_edu.poisoning.flip_labels`,
:func:`modelsec_edu.tampering.noisy_weights`, :func:`modelsec_edu.evasion.fgsm`)
through invariants, since random draws need not match draw for draw.  Choice
questions explain every wrong option.  Used in chapter 01; solutions in
``solutions/01_concepts.ipynb``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu import evasion, models

from . import _fresh
from ._core import call, check_option, verdict

__all__ = [
    "check_fgsm_accuracy",
    "check_flip_labels",
    "check_flip_rate",
    "check_noise_is_safe",
    "check_scenario_a",
    "check_scenario_b",
    "check_scenario_c",
    "check_weight_noise",
]

_THREATS = {
    "poisoning": "poisoning changes the training data before training",
    "tampering": "tampering changes the trained weights or the model file",
    "evasion": "evasion changes a test input at inference, with the model untouched",
}


def _scenario(answer: Any, right: str, touched: str) -> bool:
    why = {
        k: f"{v}; here the attacker changed {touched}." for k, v in _THREATS.items() if k != right
    }
    return check_option(answer, right=right, why=why, explain=f"The attacker changed {touched}.")


def check_scenario_a(answer: Any) -> bool:
    """Scenario (a): a malicious annotator labels stop signs as speed-limit signs."""
    return _scenario(answer, "poisoning", "training labels, before training")


def check_scenario_b(answer: Any) -> bool:
    """Scenario (b): an intruder swaps the model file for one with edited weights."""
    return _scenario(answer, "tampering", "the stored weights; data and inputs are untouched")


def check_scenario_c(answer: Any) -> bool:
    """Scenario (c): faint computed marks on a cheque make the reader see 1000."""
    return _scenario(answer, "evasion", "one test input at inference; the model is untouched")


def check_flip_rate(answer: Any) -> bool:
    """At which uniform flip rate is one wrong class exactly as common as the true one?"""
    return check_option(
        answer,
        right="b",
        why={
            "a": "at r = 0.5 the true label keeps 50% and each wrong class gets 0.5 / 9 = 5.6%: "
            "the "
            "truth is still nine times as common as any single wrong class.",
            "c": "at r = 1.0 the true label never appears (0%), while each wrong class gets 1/9: "
            "past the tie, not at it.",
        },
        explain="1 - r = r / 9 gives r = 0.9: every class, true or not, then holds 10%, and the "
        "labels "
        "carry no information. Above 0.9 they carry some again (the truth is the rarest label).",
    )


def check_noise_is_safe(answer: Any) -> bool:
    """Does weight noise that leaves accuracy unchanged show the model is safe from tampering?"""
    key = str(answer).lower() if isinstance(answer, bool) else answer
    return check_option(
        key,
        right="false",
        why={
            "true": "random noise is the weakest tamperer: it is one attacker among many. A few "
            "chosen "
            "bit flips (chapter 05) or a fine-tuned trojan change the answers while random noise "
            "of the same size changes nothing."
        },
        explain="Robustness to random noise says nothing about a tamperer who chooses the change; "
        "the "
        "defence is to detect any change to the file (hashes, signatures).",
    )


def check_flip_labels(fn: Any) -> bool:
    """``fn(y, rate, seed)``: new labels, ``round(rate * n)`` of them moved to another class."""

    def run():
        rng = np.random.default_rng()
        n = int(rng.integers(3000, 6000))
        y = rng.integers(0, 10, n)
        rate, seed = float(rng.choice([0.1, 0.3, 0.5])), int(rng.integers(1000))
        before = y.copy()
        out = np.asarray(call(fn, y, rate, seed))
        if not np.array_equal(y, before):
            return "your function changed its input labels; work on a copy"
        if out.shape != y.shape or not np.issubdtype(out.dtype, np.integer):
            return f"expected integer labels of shape {y.shape}, got {out.dtype} {out.shape}"
        if out.min() < 0 or out.max() > 9:
            return "labels must stay classes 0-9"
        changed = out != y
        want = int(round(rate * n))  # what poisoning.flip_labels changes
        if changed.sum() != want:
            return (f"{changed.sum()} of {n} labels changed at rate {rate}; expected {want}. "
                    "A flip "
                    "to the same class is no flip: draw the new class among the 9 "
                    "others")  # fmt: skip
        shift = (out[changed] - y[changed]) % 10
        share = np.bincount(shift, minlength=10)[1:] / changed.sum()
        if share.min() < 0.5 / 9 or share.max() > 2 / 9:
            return (
                "the wrong classes are far from uniform: each of the 9 others should be "
                "equally likely"
            )
        if not np.array_equal(out, np.asarray(call(fn, y, rate, seed))):
            return "the same seed gave different labels: use np.random.default_rng(seed)"
        return None

    return verdict(
        run, fn, success="The right number of flips, never to the same class, uniform, seeded."
    )


def check_weight_noise(fn: Any) -> bool:
    """``fn(weights, scale, seed)`` adds noise of std ``scale * std(w)`` to each array ``w``.

    Every array has at least 256 entries, so the measured ratio of the two standard deviations
    is within a few per cent of 1 for a right answer (the 0.75-1.3 band is about 5 sigma).
    """

    def run():
        rng = np.random.default_rng()
        weights = [rng.normal(0, s, size=shape).astype("float32")
                   for s, shape in ((0.1, (64, 32)), (2.0, (256,)), (0.5, (32, 10)))]  # fmt: skip
        before = [w.copy() for w in weights]
        scale = float(rng.choice([0.5, 1.0, 2.0]))
        out = call(fn, weights, scale, int(rng.integers(1000)))
        if not all(np.array_equal(a, b) for a, b in zip(weights, before, strict=True)):
            return "your function changed the weights it was given; return new arrays"
        if not isinstance(out, (list, tuple)) or len(out) != len(weights):
            return f"expected a list of {len(weights)} arrays, one per weight array"
        for i, (w, o) in enumerate(zip(weights, out, strict=True)):
            o = np.asarray(o)
            if o.shape != w.shape:
                return f"array {i} has shape {o.shape}, expected {w.shape}"
            ratio = float(np.std(o - w) / (scale * np.std(w)))
            if not 0.75 < ratio < 1.3:
                return (f"the noise on array {i} has {ratio:.2f} times the std it should have: "
                        "scale it by that array's own std")  # fmt: skip
        zero = call(fn, weights, 0.0, 0)
        if not all(np.allclose(np.asarray(z), w) for z, w in zip(zero, weights, strict=True)):
            return "scale 0 must leave every weight as it is"
        return None

    return verdict(
        run, fn, success="Noise scaled to each layer's spread, inputs untouched, 0 is no-op."
    )


def check_fgsm_accuracy(fn: Any) -> bool:
    """``fn(model, x, y, eps)``: the model's accuracy on FGSM images (checked on a new model)."""

    def run():
        rng = np.random.default_rng()
        model = _fresh.tiny_model(rng)
        x = _fresh.images(rng, 64)
        y = models.predict_labels(model, x)  # labels the model gets right, so FGSM has work to do
        y[:8] = (y[:8] + 1) % 10
        for eps in (0.0, float(rng.choice([0.05, 0.1, 0.2]))):
            got = call(fn, model, x, y, eps)
            want = models.accuracy(model, evasion.fgsm(model, x, y, eps=eps), y)
            if not isinstance(got, (float, np.floating, int)) or isinstance(got, bool):
                return f"expected a number (an accuracy), got {type(got).__name__}"
            if abs(float(got) - want) > 1e-6:
                return f"at eps = {eps} your accuracy is {float(got):.4f}, expected {want:.4f}"
        return None

    return verdict(
        run, fn, success="Your function gives the library's FGSM accuracy on a new model."
    )
