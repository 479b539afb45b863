"""Checks for chapter 04 (data poisoning): a trigger, a BadNets poisoner, ASR, spectral scores.

Each function-writing check calls the learner's function on **fresh** random
inputs (a new draw every call) and compares it with the library
(:mod:`modelsec_edu.poisoning`) and with invariants: inputs left unchanged,
only the poisoned samples differ, labels of the right kind.  Choice questions
explain every wrong option.  Used in chapter 04; solutions in
``solutions/04_data_poisoning.ipynb``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import poisoning

from ._core import Failed, call, check_close, check_option, verdict

__all__ = [
    "check_add_trigger",
    "check_asr",
    "check_badnets",
    "check_precision_recall",
    "check_provenance",
    "check_review",
    "check_spectral_recall",
    "check_spectral_score",
]


def _images(rng: np.random.Generator, n: int, shape=(28, 28, 1)) -> np.ndarray:
    return rng.random((n, *shape), dtype=np.float32)


def _array(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as err:  # a learner's odd return value
        raise Failed(f"{name} is not an array ({err})") from err


# --------------------------------------------------------------------------- write it yourself


def check_add_trigger(fn: Any) -> bool:
    """``fn(x)`` stamps the 4x4 checkerboard (pixel (0, 0) lit) on every image's top-left corner."""

    def run():
        rng = np.random.default_rng()
        for shape in ((28, 28, 1), (28, 28), (16, 20, 3)):
            x = _images(rng, int(rng.integers(2, 7)), shape)
            before = x.copy()
            out = _array(call(fn, x), "the result")
            if not np.array_equal(x, before):
                return "your function changed its input; work on a copy (np.array(x, copy=True))"
            want = poisoning.add_trigger(before)
            if out.shape != want.shape:
                return (
                    f"for images of shape {shape} the result has shape {out.shape}, "
                    f"expected {want.shape}"
                )
            mask = poisoning.trigger_mask(shape)
            if not np.allclose(out[:, ~mask], before[:, ~mask]):
                return (
                    "pixels outside the 4x4 corner changed; the trigger replaces only its own "
                    "pixels"
                )
            if not np.allclose(out, want, atol=1e-6):
                return (
                    "the 4x4 patch differs from the checkerboard: pixel (0, 0) lit (1.0), its "
                    "neighbours 0"
                )
        return None

    return verdict(
        run,
        fn,
        success="Your trigger matches poisoning.add_trigger on fresh images of three shapes.",
    )


def check_badnets(fn: Any) -> bool:
    """``fn(x, y, target, rate, seed)`` returns ``(x_poisoned, y_poisoned, idx)`` as BadNets."""

    def run():
        rng = np.random.default_rng()
        n = int(rng.integers(150, 300))
        x, y = _images(rng, n), rng.integers(0, 10, n)
        target, rate = int(rng.integers(0, 10)), float(rng.choice([0.05, 0.1]))
        y[rng.random(n) < 0.5] = target  # many target-class samples: poisoning one must show
        xb, yb = x.copy(), y.copy()
        out = call(fn, x, y, target, rate, int(rng.integers(1000)))
        if not isinstance(out, tuple) or len(out) != 3:
            return "return the triple (x_poisoned, y_poisoned, idx)"
        xp, yp, idx = (_array(v, name) for v, name in zip(out, ("x_poisoned", "y_poisoned", "idx")))
        if not (np.array_equal(x, xb) and np.array_equal(y, yb)):
            return "your function changed its inputs; poison copies"
        if xp.shape != x.shape or yp.shape != y.shape:
            return f"shapes {xp.shape} and {yp.shape}, expected {x.shape} and {y.shape}"
        idx = np.sort(idx.astype(int).ravel())
        if len(idx) != round(rate * n) or len(np.unique(idx)) != len(idx):
            return (
                f"poison round(rate * n) = {round(rate * n)} distinct samples, got "
                f"{len(np.unique(idx))}"
            )
        if np.any(y[idx] == target):
            return (
                "poison only samples whose label is not the target: a triggered target image "
                "teaches nothing"
            )
        if np.any(yp[idx] != target):
            return "every poison must be relabelled as the target"
        if not np.allclose(xp[idx], poisoning.add_trigger(x[idx])):
            return "every poison must carry the trigger (poisoning.add_trigger)"
        rest = np.setdiff1d(np.arange(n), idx)
        if not (np.array_equal(xp[rest], x[rest]) and np.array_equal(yp[rest], y[rest])):
            return "samples outside idx changed; only the poisons may differ"
        return None

    return verdict(
        run, fn, success="Your poisoner keeps every invariant of poisoning.badnets on a fresh set."
    )


_MARK = (
    slice(20, 26),
    slice(20, 26),
)  # where the probe's images of the target class carry their "shape"


def _probe_model(rng: np.random.Generator, target: int) -> keras.Model:
    """A linear classifier: the trigger pushes some inputs to ``target``, the class mark all."""
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    w = rng.normal(0, 0.05, (28, 28, 10)).astype("float32")
    w[poisoning.trigger_mask((28, 28)), target] += rng.uniform(0.08, 0.15)  # some inputs switch
    w[_MARK[0], _MARK[1], target] += 0.5
    model.set_weights([w.reshape(784, 10), np.zeros(10, dtype="float32")])
    return model


def _probe_data(rng: np.random.Generator, target: int) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(60, 120))
    x, y = _images(rng, n) * 0.6, rng.integers(0, 10, n)
    y[: n // 5] = target  # enough of the target class for its exclusion to matter
    x[:, _MARK[0], _MARK[1]] = 0.0
    x[y == target, _MARK[0], _MARK[1]] = 1.0
    return x, y


def check_asr(fn: Any) -> bool:
    """``fn(model, x, y, target)`` is the ASR, as ``poisoning.backdoor_success_rate``."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            target = int(rng.integers(0, 10))
            x, y = _probe_data(rng, target)
            model = _probe_model(rng, target)
            got = call(fn, model, x, y, target)
            want = poisoning.backdoor_success_rate(model, x, y, target=target)
            try:
                got = float(got)
            except (TypeError, ValueError):
                return f"return one number (a share in [0, 1]), got {type(got).__name__}"
            if abs(got - want) > 1e-9:
                return (
                    f"on a fresh model and {len(x)} images you gave {got:.4f}, the library "
                    f"{want:.4f}; "
                    "did you leave out the target class and add the trigger?"
                )
        return None

    return verdict(
        run, fn, success="Your ASR matches poisoning.backdoor_success_rate on three fresh models."
    )


def check_spectral_score(fn: Any) -> bool:
    """``fn(features)`` returns the spectral-signature score of every sample of one class."""

    def run():
        rng = np.random.default_rng()
        n, d = int(rng.integers(80, 160)), int(rng.integers(5, 20))
        feats = rng.normal(size=(n, d)) + rng.normal(size=d) * 3  # an offset: centring matters
        bad = rng.choice(n, size=n // 10, replace=False)
        feats[bad] += rng.normal(size=d) * 2  # a poisoned minority along one direction
        before = feats.copy()
        got = _array(call(fn, feats), "the scores").astype("float64")
        if not np.array_equal(feats, before):
            return "your function changed the features"
        if got.shape != (n,):
            return f"return one score per sample, shape ({n},), got {got.shape}"
        lib = poisoning.spectral_signatures(feats, np.zeros(n, dtype=int), eps=0.0).scores
        median = np.median(got)
        if not median > 0 or not np.allclose(got / median, lib, rtol=1e-4, atol=1e-6):
            return (
                "the scores differ from the library's: centre the features, then square the "
                "projection on the top right-singular vector"
            )
        return None

    return verdict(
        run, fn, success="Your scores match spectral_signatures' (up to its per-class scaling)."
    )


def check_precision_recall(fn: Any) -> bool:
    """``fn(flagged, poison_idx)`` returns ``(precision, recall)`` as ``poisoning.evaluate``."""

    def run():
        rng = np.random.default_rng()
        for _ in range(4):
            n = 500
            poison = rng.choice(n, size=int(rng.integers(10, 60)), replace=False)
            flagged = np.union1d(
                rng.choice(poison, size=len(poison) // 2, replace=False),
                rng.choice(n, size=int(rng.integers(5, 40)), replace=False),
            )
            out = call(fn, flagged.copy(), poison.copy())
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                return "return the pair (precision, recall)"
            want = poisoning.evaluate(flagged, poison, n)
            if not np.allclose(
                [float(v) for v in out], [want["precision"], want["recall"]], atol=1e-9
            ):
                return (
                    f"{len(flagged)} flagged, {len(poison)} poisons: you gave "
                    f"{tuple(round(float(v), 3) for v in out)}, "
                    f"expected ({want['precision']:.3f}, {want['recall']:.3f})"
                )
        return None

    return verdict(
        run,
        fn,
        success="Precision is the share of the flagged that are poisons; recall the share of "
        "poisons flagged.",
    )


# ------------------------------------------------------------------- computed in the chapter


def check_spectral_recall(
    recall: Any, features: Any, labels: Any, poison_idx: Any, target: int
) -> bool:
    """Spectral signatures' recall, ``eps`` matched to the target class's poisoned share."""
    labels = np.asarray(labels)
    eps = len(poison_idx) / np.sum(labels == target) / 1.5
    sp = poisoning.spectral_signatures(features, labels, eps=float(eps))
    want = poisoning.evaluate(sp.flagged, poison_idx, len(labels))["recall"]
    return check_close(
        recall,
        want,
        atol=1e-9,
        hint="spectral_signatures(feats, y_bad, eps=...), then poisoning.evaluate(...)['recall'].",
    )


# --------------------------------------------------------------------------- choices


def check_review(answer: Any) -> bool:
    """Why does a clean-label poison survive a human review of the labels?"""
    return check_option(
        answer,
        right="b",
        why={
            "a": "the trigger is the same visible 4x4 patch as BadNets'; and at eps = 0.3 the PGD "
            "noise is plainly visible too. "
            "A label reviewer does not look for either: they check whether the label fits the "
            "digit.",
            "c": "nothing removes them: they are in the training set, which is why the model "
            "learns the trigger.",
        },
        explain="Every poison is a real image of the target class with its true label; label "
        "review has nothing to find.",
    )


def check_provenance(answer: Any) -> bool:
    """What does a per-sample SHA-256 manifest catch?"""
    return check_option(
        answer,
        right="c",
        why={
            "a": "a poison added before the data was vetted is part of what was hashed: it passes "
            "every later check.",
            "b": "a hash says nothing about what an image shows; a mislabelled but unchanged "
            "sample keeps its digest.",
        },
        explain="It proves the data is what was vetted, not that it is clean: any change after "
        "vetting, even one bit, changes a digest.",
    )
