"""Checks for chapter 10 (tools and outlook): a Pareto front, version pins, threat models.

Function-writing checks call the learner's function on **fresh** random inputs and compare it
with the library (:func:`modelsec_edu.outlook.pareto_front`) or with ``packaging`` (the library
pip itself uses to read version specifiers).  Choice questions explain every wrong option.
Used in chapter 10; solutions in ``solutions/10_tools_outlook.ipynb``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu import outlook

from ._core import Failed, call, check_option, verdict

__all__ = ["check_pareto", "check_pin_fits", "check_scenario", "check_why_labels_only"]


def check_pareto(fn: Any) -> bool:
    """``fn(clean, robust)`` returns the indices of the defences no other beats on both axes."""

    def run():
        rng = np.random.default_rng()
        for trial in range(20):
            n = int(rng.integers(2, 25))
            c = np.round(rng.random(n), 1)  # coarse: ties and duplicates happen
            r = np.round(rng.random(n), 1)
            if trial == 0:  # always one exact duplicate of the best point: ties beat nothing
                best = int(np.argmax(c + r))
                c[0], r[0] = c[best], r[best]
                c[-1], r[-1] = c[best], r[best]
            before = (c.copy(), r.copy())
            got = call(fn, c, r)
            try:
                got = sorted(int(i) for i in np.asarray(got).ravel())
            except (TypeError, ValueError) as err:
                raise Failed(
                    f"return indices (a list or an array of ints), got {type(got).__name__}"
                ) from err
            if not (np.array_equal(c, before[0]) and np.array_equal(r, before[1])):
                return "your function changed its inputs"
            want = sorted(outlook.pareto_front(c, r).tolist())
            if got != want:
                extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
                return (
                    f"on clean={c.tolist()}, robust={r.tolist()} you kept {extra} (dominated) "
                    f"and dropped {missing} (undominated); a tie on both axes dominates nothing"
                    if extra or missing
                    else "each index once, please"
                )
        return None

    return verdict(
        run, fn, success="Your front matches the library's on 20 fresh sets of defences."
    )


def check_pin_fits(fn: Any) -> bool:
    """``fn(requirement, version)`` tells whether a pinned version satisfies a requirement.

    ``requirement`` is a specifier such as ``"<2.16,>=2.4"``; ``version`` a release such as
    ``"2.21.0"``.  Compared with ``packaging.specifiers.SpecifierSet`` on fresh cases.
    """
    from packaging.specifiers import SpecifierSet

    def run():
        rng = np.random.default_rng()
        ops = ("<", "<=", ">", ">=", "==", "!=")
        # Random pairs alone can miss the two classic slips, so the first fresh pairs always
        # set a two-digit minor against a one-digit bound ("2.10" vs "2.9") and an exact pin
        # against its ".0" release ("2.4" vs "2.4.0"); the numbers themselves are drawn.
        major, small = int(rng.integers(1, 4)), int(rng.integers(2, 10))
        big = int(rng.integers(10, 20))
        cases = [
            (f"{op}{major}.{small}", f"{major}.{big}.{int(rng.integers(0, 3))}")
            for op in ("<", ">=", "<=", ">")
        ]
        cases += [(f"{op}{major}.{small}", f"{major}.{small}.0") for op in ("==", "!=")]
        for _ in range(60 - len(cases)):
            parts = []
            for _ in range(int(rng.integers(1, 3))):
                parts.append(f"{rng.choice(ops)}{rng.integers(1, 4)}.{rng.integers(0, 20)}")
            version = f"{rng.integers(1, 4)}.{rng.integers(0, 20)}.{rng.integers(0, 3)}"
            cases.append((",".join(parts), version))
        for spec, version in cases:
            got = call(fn, spec, version)
            want = version in SpecifierSet(spec)
            if not isinstance(got, (bool, np.bool_)):
                return f"return True or False, got {type(got).__name__}"
            if bool(got) != want:
                verb = "satisfies" if want else "does not satisfy"
                return f"{version!r} {verb} {spec!r}, you said {bool(got)}"
        return None

    return verdict(
        run, fn, success="Right on 60 fresh requirement/version pairs: this is how pip says 'no'."
    )


_SCENARIO_OPTIONS = {
    "a": "goal confidentiality, knowledge labels only, capability query API",
    "b": "goal integrity, knowledge white-box, capability test inputs",
    "c": "goal availability, knowledge none, capability training data",
    "d": "goal confidentiality, knowledge white-box, capability model file",
}


def check_scenario(answer: Any) -> bool:
    """A rival sends 2,000 applications through a bank's public scoring API, which answers
    "approved"/"declined", and trains a copy of the scorer.  Which threat model is it?"""
    return check_option(
        answer,
        right="a",
        why={
            "b": "the rival changes no input to get a wrong answer, and never sees the weights: "
            "they learn from answers, so the goal is the model itself (confidentiality)",
            "c": "the bank's training data is never touched and nothing stops working",
            "d": "with the model file there would be nothing left to steal through the API",
        },
        explain="Stealing the model breaks confidentiality; the API's labels are all the rival "
        "knows and all they can touch (chapter 08's copy-cat).",
    )


def check_why_labels_only(answer: Any) -> bool:
    """Answering labels only (no scores) is chapter 08's cheapest defence.  What does it stop?"""
    return check_option(
        answer,
        right="b",
        why={
            "a": "a label-only copy-cat still works: it needs more queries, not scores",
            "c": "white-box attacks never ask the API: they use the model's own gradients",
            "d": "membership inference can use labels alone (right or wrong on a record); "
            "it weakens, it does not stop",
        },
        explain="Equation-solving needs the probabilities: with labels only it has nothing to "
        "solve, while every label-only attack still runs, at a higher price in queries.",
    )
