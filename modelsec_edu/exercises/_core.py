"""The check primitives the chapter modules share (verdicts, not answers).

Each check prints a clear verdict and returns True or False; it never raises
on a wrong or missing answer, so a notebook with unanswered exercises still
runs top to bottom.  Leave ``...`` (Ellipsis) or ``None`` for "not answered".

Multiple-choice answers are compared by SHA-256 digest, so the notebook does
not print the answer next to the question.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

__all__ = ["answer_digest", "check_choice", "check_close", "check_true"]

OK = "\u2705"
NO = "\u274c"
WAIT = "\u270f\ufe0f"


def _missing(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


def answer_digest(answer: Any) -> str:
    """SHA-256 of a normalised answer (lower case, no surrounding spaces)."""
    return hashlib.sha256(str(answer).strip().lower().encode("utf-8")).hexdigest()


def check_choice(answer: Any, *, digest: str, hint: str = "") -> bool:
    """Check a multiple-choice answer against the digest of the right one."""
    if _missing(answer):
        print(f"{WAIT} Not answered yet: replace ... with your choice.")
        return False
    if answer_digest(answer) == digest:
        print(f"{OK} Correct.")
        return True
    print(f"{NO} Not quite ({answer!r}). {hint}".rstrip())
    return False


def check_close(answer: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6, hint: str = "") -> bool:
    """Check a number or array against the expected value, within tolerances."""
    if _missing(answer):
        print(f"{WAIT} Not answered yet: replace ... with your code.")
        return False
    try:
        a = np.asarray(answer, dtype="float64")
        e = np.asarray(expected, dtype="float64")
    except (TypeError, ValueError):
        print(f"{NO} Expected a number or an array, got {type(answer).__name__}. {hint}".rstrip())
        return False
    if a.shape != e.shape:
        print(f"{NO} Expected shape {e.shape}, got {a.shape}. {hint}".rstrip())
        return False
    if np.allclose(a, e, rtol=rtol, atol=atol):
        print(f"{OK} Correct.")
        return True
    worst = float(np.max(np.abs(a - e))) if a.size else 0.0
    print(f"{NO} Not yet: off by up to {worst:.3g}. {hint}".rstrip())
    return False


def check_true(condition: Any, *, success: str = "Correct.", hint: str = "") -> bool:
    """Report a condition computed from the learner's work (None means not answered)."""
    if _missing(condition):
        print(f"{WAIT} Not answered yet.")
        return False
    if bool(condition):
        print(f"{OK} {success}")
        return True
    print(f"{NO} Not yet. {hint}".rstrip())
    return False
