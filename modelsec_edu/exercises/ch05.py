"""Checks for chapter 05 (model tampering): int8 quantisation, bit flips, the most damaging bit.

Function-writing checks call the learner's function on fresh random tensors
and compare it with :mod:`modelsec_edu.tampering` and with invariants (the
input unchanged, exactly one bit changed, the rounding error at most half a
step).  Choice questions explain every wrong option.  Used in chapter 05;
solutions in ``solutions/05_model_tampering.ipynb``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu import models, tampering

from ._core import call, check_close, check_option, verdict

__all__ = [
    "check_canary",
    "check_first_flip",
    "check_flip_bit",
    "check_hmac",
    "check_most_damaging_bit",
    "check_quantize",
    "check_sign_flip",
    "most_damaging_bit",
]


def most_damaging_bit(q: np.ndarray, grad: np.ndarray) -> tuple[int, int]:
    """The library's answer: the ``(index, bit)`` whose flip raises the loss most, to first order.

    The change of the loss is ``grad * (new value - old value)`` (in steps of
    the scale, which is the same for the whole tensor).
    """
    q = np.asarray(q, dtype=np.int8).reshape(-1)
    u = q.view(np.uint8)[:, None] ^ (np.uint8(1) << np.arange(8, dtype=np.uint8))
    change = u.view(np.int8).astype(np.int16) - q[:, None].astype(np.int16)
    gain = np.asarray(grad, dtype="float64").reshape(-1, 1) * change
    index, bit = divmod(int(np.argmax(gain)), 8)
    return index, bit


def _int8(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def check_flip_bit(fn: Any) -> bool:
    """``fn(q, index, bit)``: copy of int8 ``q``, bit ``bit`` of flat element ``index`` flipped."""

    def run():
        rng = np.random.default_rng()
        q = _int8(rng, (int(rng.integers(3, 9)), int(rng.integers(2, 6))))
        q[0, 0] = -3  # a negative value: the sign bit must be handled in two's complement
        for index in {0, *rng.choice(q.size, size=5).tolist()}:
            for bit in range(8):
                before = q.copy()
                got = np.asarray(call(fn, q, int(index), bit))
                if not np.array_equal(q, before):
                    return "your function changed its input; return a copy"
                want = tampering.flip_bit(q, int(index), bit)
                if got.shape != q.shape or got.dtype != np.int8:
                    return f"return an int8 array of shape {q.shape}, got {got.dtype} {got.shape}"
                if not np.array_equal(got, want):
                    v, w = int(q.reshape(-1)[index]), int(want.reshape(-1)[index])
                    return (
                        f"flipping bit {bit} of {v} gives {w} in two's complement, "
                        f"you gave {int(got.reshape(-1)[index])}"
                    )
        return None

    return verdict(
        run, fn, success="Your flips match tampering.flip_bit for every bit of fresh int8 tensors."
    )


def check_quantize(fn: Any) -> bool:
    """``fn(w)`` returns ``(q, scale)``: symmetric int8, ``scale = max|w| / 127``."""

    def run():
        rng = np.random.default_rng()
        for shape in ((3, 3, 1, 8), (50,), (20, 10)):
            w = (rng.normal(size=shape) * rng.uniform(0.01, 1)).astype("float32")
            before = w.copy()
            out = call(fn, w)
            if not isinstance(out, tuple) or len(out) != 2:
                return "return the pair (q, scale)"
            q, scale = np.asarray(out[0]), float(out[1])
            if not np.array_equal(w, before):
                return "your function changed the weights"
            want_q, want_s = tampering.quantize_array(w)
            if q.dtype != np.int8 or q.shape != w.shape:
                return f"q must be int8 of shape {w.shape}, got {q.dtype} {q.shape}"
            if not np.isclose(scale, want_s, rtol=1e-6):
                return f"scale {scale:.6g}, expected max|w| / 127 = {want_s:.6g}"
            if np.abs(q.astype("float64") * scale - w).max() > scale / 2 + 1e-6:
                return "some weight moved by more than half a step: round to the nearest integer"
            if not np.array_equal(q, want_q):
                return (
                    "q differs from tampering.quantize_array's: round(w / scale), clipped to "
                    "[-128, 127]"
                )
        return None

    return verdict(
        run,
        fn,
        success="Your quantiser matches tampering.quantize_array, within half a step everywhere.",
    )


def check_most_damaging_bit(fn: Any) -> bool:
    """``fn(q, grad)`` returns ``(index, bit)``: the flip with the largest first-order loss gain."""

    def run():
        rng = np.random.default_rng()
        for case in range(5):
            shape = (int(rng.integers(4, 30)), int(rng.integers(1, 5)))
            q, grad = _int8(rng, shape), rng.normal(size=shape)
            if (
                case == 0
            ):  # small positive weights, positive gradients: no sign flip raises the loss
                q, grad = rng.integers(0, 64, size=shape).astype(np.int8), np.abs(grad)
            out = call(fn, q.copy(), grad.copy())
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                return "return the pair (index, bit)"
            index, bit = int(out[0]), int(out[1])
            want = most_damaging_bit(q, grad)
            if (index, bit) != want:
                flat, g = q.reshape(-1), grad.reshape(-1)

                def gain(i, b, q=q, g=g, flat=flat):
                    new = int(tampering.flip_bit(q, i, b).reshape(-1)[i])
                    return g[i] * (new - int(flat[i]))

                if not (0 <= index < q.size and 0 <= bit < 8):
                    return (
                        f"index must be in [0, {q.size - 1}] and bit in [0, 7], got ({index}, "
                        f"{bit})"
                    )
                return (
                    f"your flip raises the loss by {gain(index, bit):.3f} (first order), another "
                    "by "
                    f"{gain(*want):.3f}; the gain is grad * (new value - old value), over all 8 "
                    "bits"
                )
        return None

    return verdict(run, fn, success="You found the most damaging bit on five fresh tensors.")


def check_sign_flip(value: Any) -> bool:
    """The int8 value after flipping bit 7 of -3."""
    want = int(tampering.flip_bit(np.array([-3], dtype=np.int8), 0, 7)[0])
    return check_close(value, want, hint="Bit 7 is worth -128 in two's complement.")


def check_first_flip(accuracy: Any, model: Any, log: Any, x: Any, y: Any) -> bool:
    """The test accuracy after flipping only the attack's first bit, recomputed here."""
    first = log[0]
    flipped, _ = tampering.flip_bits(model, [(first.layer, first.index, first.bit)])
    want = models.accuracy(flipped, x, y)
    return check_close(
        accuracy,
        want,
        atol=1e-9,
        hint="tampering.flip_bits(model, [(e.layer, e.index, e.bit)]) returns (model, log).",
    )


def check_canary(answer: Any) -> bool:
    """Which attack shows that a passing canary set does not prove a model untampered?"""
    return check_option(
        answer,
        right="c",
        why={
            "a": "random flips are faults, not an attack with a goal: they usually change nothing "
            "measurable, "
            "and when they do, accuracy drops and the canary notices.",
            "b": "the bit-flip attack destroys accuracy; the canary set raises the alarm at once.",
        },
        explain="A trojan keeps clean accuracy by design: the canary passes while the backdoor "
        "waits for its trigger.",
    )


def check_hmac(answer: Any) -> bool:
    """Why is an HMAC key not enough to let the public verify your models?"""
    return check_option(
        answer,
        right="b",
        why={
            "a": "HMAC-SHA256 is not breakable by collisions of SHA-256 in practice; strength is "
            "not the problem.",
            "c": "an HMAC tag covers every byte of the file; size has nothing to do with it.",
        },
        explain="HMAC is symmetric: whoever can check a tag can compute one, so a public key is "
        "needed for public verification.",
    )
