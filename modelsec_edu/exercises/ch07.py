"""Checks for chapter 07 (healthcare): the loss attack's AUC, DP-SGD's clipping, what ε promises.

Function-writing checks call the learner's function on **fresh** random inputs and compare it
with the library (:func:`modelsec_edu.privacy.auc`,
:func:`modelsec_edu.privacy.dpsgd.clip_and_noise`) and with invariants (every clipped row has
norm at most ``C``; ties count half).  Choice questions explain every wrong option.  Used in
chapter 07; solutions in ``solutions/07_healthcare.ipynb``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import privacy
from modelsec_edu.privacy.dpsgd import clip_and_noise

from ._core import Failed, call, check_option, verdict

__all__ = ["check_clip_and_noise", "check_epsilon_noise", "check_loss_auc", "check_rounding"]


def _number(value: Any, what: str) -> float:
    try:
        out = float(np.asarray(value, dtype="float64"))
    except (TypeError, ValueError) as err:
        raise Failed(f"return {what} as a number, got {type(value).__name__}") from err
    return out


def check_loss_auc(fn: Any) -> bool:
    """``fn(loss_in, loss_out)``: the loss-threshold attack's AUC (a lower loss means "member").

    The AUC is the probability that a random member has a lower loss than a
    random non-member, ties counting one half.
    """

    def run():
        rng = np.random.default_rng()
        for trial in range(20):
            n_in, n_out = (int(v) for v in rng.integers(3, 40, 2))
            loss_in = np.round(rng.exponential(0.5, n_in), 1)  # coarse: ties happen
            loss_out = np.round(rng.exponential(1.0, n_out), 1)
            if trial == 0:
                loss_out[:3] = loss_in[0]  # always some exact ties
            got = _number(call(fn, loss_in.copy(), loss_out.copy()), "the AUC")
            want = privacy.auc(-loss_in, -loss_out)
            if abs(got - want) > 1e-9:
                hint = (
                    "a lower loss means member: did you flip the sign?"
                    if abs(got - (1 - want)) < 1e-9
                    else "count each (member, non-member) pair: 1 if the member's loss is lower, "
                    "1/2 if equal"
                )
                return (
                    f"on {n_in} members and {n_out} non-members you gave {got:.4f}, "
                    f"not {want:.4f}: {hint}"
                )
        return None

    return verdict(run, fn, success="Your AUC matches the library's on 20 fresh loss samples.")


def check_clip_and_noise(fn: Any) -> bool:
    """``fn(grads, noise, clip, denominator)``: DP-SGD's aggregation of one batch.

    ``grads`` is ``(b, d)``, one flattened gradient per example; ``noise`` is
    ``(d,)``, already scaled.  Return ``(sum_i clip(g_i) + noise) / denominator``,
    where ``clip`` scales a row to L2 norm at most ``clip`` and leaves shorter rows alone.
    """

    def run():
        rng = np.random.default_rng()
        for _ in range(20):
            b, d = (int(v) for v in rng.integers(2, 12, 2))
            grads = (rng.normal(size=(b, d)) * rng.uniform(0.1, 3.0, (b, 1))).astype("float32")
            noise = rng.normal(size=d).astype("float32")
            clip = float(rng.uniform(0.3, 2.0))
            denom = float(rng.integers(1, 20))
            before = grads.copy()
            got = call(fn, grads, noise, clip, denom)
            try:
                got = np.asarray(got, dtype="float64")
            except (TypeError, ValueError) as err:
                raise Failed(f"return an array, got {type(got).__name__}") from err
            if not np.array_equal(grads, before):
                return "your function changed the gradients it was given"
            want = keras.ops.convert_to_numpy(
                clip_and_noise([grads], [noise], l2_norm_clip=clip, denominator=denom)[0]
            )
            if got.shape != want.shape:
                return f"return one vector of shape {want.shape}, got {got.shape}"
            if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
                short = np.linalg.norm(grads, axis=1) <= clip
                return (
                    f"off by up to {np.abs(got - want).max():.3g} on {b} examples "
                    f"({int(short.sum())} already shorter than C = {clip:.2f}): "
                    "clip each example's whole gradient by its L2 norm (not each coordinate), "
                    "then sum, add the noise and divide"
                )
        return None

    return verdict(run, fn, success="Your aggregation matches the library's on 20 fresh batches.")


def check_epsilon_noise(answer: Any) -> bool:
    """Same data, batch size, epochs and δ: what does doubling the noise multiplier do to ε?"""
    return check_option(
        answer,
        right="b",
        why={
            "a": "ε measures how much one record can change what training outputs; more noise "
            "hides each record better, so ε falls",
            "c": "the accountant's ε depends on sigma: try dp_epsilon with two values",
            "d": "ε falls, but not by exactly half: for large sigma it falls roughly like 1/sigma, "
            "for small sigma faster, and the accountant is the only way to know",
        },
        explain="More noise per step, a smaller ε for the same number of steps; the price is "
        "paid in accuracy, as the widget shows.",
    )


def check_rounding(answer: Any) -> bool:
    """The hospital's API rounds its scores to one decimal and the loss attack weakens.  Why is that
    not a privacy guarantee?"""
    return check_option(
        answer,
        right="c",
        why={
            "a": "rounding does cost something (calibration), but that is not the problem",
            "b": "the attack does weaken; a guarantee is a statement about every attack",
            "d": "DP-SGD's guarantee holds whatever the release: it bounds the weights, and any "
            "function of them (rounded or not) is covered",
        },
        explain="It blunts the attacks that were tried; a label-only attack or a better threshold "
        "may still work, and nothing bounds how much: only DP gives a bound for every attacker.",
    )
