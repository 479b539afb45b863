"""Checks for chapter 08 (finance): equation-solving, the one-hot projection, a fixed false-alarm
threshold, and two choice questions.

Each function-writing check calls the learner's function on **fresh** random
inputs (a new draw every call) and compares it with the library
(:func:`modelsec_edu.extraction.equation_solving`,
:meth:`modelsec_edu.data.TabularSpec.project`,
:func:`modelsec_edu.extraction.bank.threshold_at_fpr`) and with invariants.
Choice questions explain every wrong option.  Used in chapter 08; solutions in
``solutions/08_finance.ipynb``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu.data.tabular import Feature, TabularSpec
from modelsec_edu.extraction import bank, equation_solving

from ._core import Failed, call, check_option, verdict

__all__ = [
    "check_equation_solving",
    "check_invalid_success",
    "check_onehot_projection",
    "check_rounding_vs_copycat",
    "check_threshold",
]


def _array(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype="float64")
    except Exception as err:  # a learner's odd return value
        raise Failed(f"{name} is not an array of numbers ({err})") from err


# --------------------------------------------------------------------------- write it yourself


def check_equation_solving(fn: Any) -> bool:
    """``fn(query, d) -> (weights, bias)`` recovers a fresh logistic regression from <= d+1 rows."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            d = int(rng.integers(3, 25))
            w, b = rng.normal(0, 1.5, d), float(rng.normal())
            sent = []

            def query(x, w=w, b=b, sent=sent):
                x = np.asarray(x, dtype="float64")
                sent.append(len(x))
                p = 1 / (1 + np.exp(-(x @ w + b)))
                return np.column_stack([1 - p, p])

            out = call(fn, query, d)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                return "return a pair (weights, bias)"
            w_hat, b_hat = _array(out[0], "weights").ravel(), float(_array(out[1], "bias"))
            if sum(sent) > d + 1:
                return f"you sent {sum(sent)} rows for d = {d}: d + 1 = {d + 1} are enough"
            if w_hat.shape != (d,):
                return f"weights should have shape ({d},), got {w_hat.shape}"
            lib_w, lib_b = equation_solving(query, d)
            if not (np.allclose(w_hat, lib_w, atol=1e-6) and abs(b_hat - lib_b) < 1e-6):
                worst = max(np.abs(w_hat - w).max(), abs(b_hat - b))
                return (
                    f"off by up to {worst:.3g}: the log-odds log(p1/p0) of each answer is "
                    "x . w + b, one linear equation per row"
                )
        return None

    return verdict(run, fn, success="Your equation-solving recovers fresh scorers exactly.")


def _random_spec(rng: np.random.Generator) -> tuple[TabularSpec, list[np.ndarray]]:
    feats, groups, col = [], [], 0
    for i in range(int(rng.integers(3, 7))):
        if rng.random() < 0.6:
            k = int(rng.integers(2, 6))
            cols = tuple(range(col, col + k))
            cats = tuple(f"c{j}" for j in range(k))
            feats.append(Feature(f"f{i}", "onehot", cols, mutable=True, categories=cats))
            groups.append(np.array(cols))
        else:
            cols = (col,)
            feats.append(Feature(f"f{i}", "continuous", cols, mutable=True))
        col += len(cols)
    if not groups:
        return _random_spec(rng)
    return TabularSpec("fresh", tuple(feats), ("a", "b")), groups


def check_onehot_projection(fn: Any) -> bool:
    """``fn(x, groups)``: each group one-hot at its largest entry, the other columns unchanged."""

    def run():
        rng = np.random.default_rng()
        for _ in range(3):
            spec, groups = _random_spec(rng)
            x = rng.random((int(rng.integers(2, 9)), spec.n_features)).astype("float32")
            before = x.copy()
            out = _array(call(fn, x, [g.copy() for g in groups]), "the result")
            if not np.array_equal(x, before):
                return "your function changed its input; work on a copy"
            if out.shape != x.shape:
                return f"expected shape {x.shape}, got {out.shape}"
            for g in groups:
                if not np.all(np.isin(out[:, g], (0.0, 1.0))) or not np.all(out[:, g].sum(1) == 1):
                    return "every group must hold exactly one 1 and zeros elsewhere"
            want = spec.project(x, x)
            if not np.allclose(out, want, atol=1e-6):
                return (
                    "the 1 goes to each group's largest entry (np.argmax), and the columns "
                    "outside every group stay as they were"
                )
        return None

    return verdict(run, fn, success="Your projection matches TabularSpec.project on fresh rows.")


def check_threshold(fn: Any) -> bool:
    """``fn(scores_genuine, fpr)``: the lowest threshold flagging at most ``fpr`` of the genuine."""

    def run():
        rng = np.random.default_rng()
        for _ in range(4):
            s = rng.beta(0.5, 5, int(rng.integers(200, 2000)))
            fpr = float(rng.choice([0.001, 0.01, 0.05, 0.2]))
            t = float(_array(call(fn, s.copy(), fpr), "the threshold"))
            flagged = np.mean(s >= t)
            if flagged > fpr:
                return f"your threshold flags {flagged:.2%} of genuine scores, more than {fpr:.1%}"
            want = bank.threshold_at_fpr(s, fpr)
            if np.mean(s >= want) > flagged:
                return (
                    f"your threshold flags {flagged:.2%}; a lower one flags "
                    f"{np.mean(s >= want):.2%}"
                    f" and still stays within {fpr:.1%}: catch as much fraud as the budget allows"
                )
        return None

    return verdict(run, fn, success="Your threshold keeps false alarms within the budget, tightly.")


# --------------------------------------------------------------------------- choices


def check_rounding_vs_copycat(answer: Any) -> bool:
    """Why does rounding the scores to 2 decimals not slow the label-only copy-cat?"""
    return check_option(
        answer,
        right="b",
        why={
            "a": "two decimals is coarse: it turned equation-solving's error from 1e-16 into about "
            "0.1 in this chapter. Precision is not what the copy-cat needs.",
            "c": "the copy-cat never solves equations; it trains a network on answers.",
            "d": "the copy-cat is not told the victim's weights; it learns only from the answers.",
        },
        explain="The copy-cat uses only the decision, the argmax, and rounding almost never "
        "changes which class is larger. Only a defence that changes or withholds decisions "
        "(a budget, a monitor) slows it.",
    )


def check_invalid_success(answer: Any) -> bool:
    """Why is an unconstrained PGD 'success' on the credit scorer not a success?"""
    return check_option(
        answer,
        right="c",
        why={
            "a": "it is accepted: the scorer really gives the row a low risk. That is the trouble: "
            "the row is not an applicant.",
            "b": "the size of the steps is not the point: with any steps, a free PGD can move "
            "one-hot columns to fractions and ages below 18.",
            "d": "the norm decides what is cheap, not what is possible: no norm makes 0.4 of a "
            "'car' purpose and 0.6 of 'radio' an application.",
        },
        explain="The bank's form cannot hold a purpose that is 40% one category and 60% another, "
        "a duration of 11.3 months or a changed age: no such applicant can apply. Only valid rows "
        "count, which is why the chapter checks validity before it counts a success.",
    )
