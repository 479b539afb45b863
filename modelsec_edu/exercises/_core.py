"""The check primitives the chapter modules share (verdicts, not answers).

Each check prints a clear verdict and returns True or False; it never raises
on a wrong or missing answer, so a notebook with unanswered exercises still
runs top to bottom.  Leave ``...`` (Ellipsis) or ``None`` for "not answered".

Choice questions use :func:`check_option`, which lives beside the answer in
the chapter's module and explains every wrong option.  (The older
digest-based :func:`check_choice` remains only until no notebook uses it: a
digest over a handful of options can be brute-forced.)  Function-writing
checks run the learner's function through :func:`call` inside :func:`verdict`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "Failed",
    "answer_digest",
    "call",
    "check_choice",
    "check_close",
    "check_option",
    "check_true",
    "verdict",
]

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


def check_close(
    answer: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6, hint: str = ""
) -> bool:
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


# ----------------------------------------------------------------- function-writing checks


class Failed(Exception):
    """Raised inside a check when the learner's function failed or returned the wrong kind."""


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the learner's ``fn``; a failure becomes :class:`Failed` with a readable message."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:  # the learner's code may fail in any way: report it, do not crash
        raise Failed(f"your function raised {type(err).__name__}: {err}") from err


def _stub(): ...


def _stub_with_docstring():
    """A docstring."""
    ...


_STUBS = {_stub.__code__.co_code, _stub_with_docstring.__code__.co_code}


def _is_stub(fn: Any) -> bool:
    """True for a function whose body is still only ``...`` (or ``pass``): not answered yet."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_code not in _STUBS:
        return False
    consts = [c for c in code.co_consts if c is not getattr(fn, "__doc__", None)]
    return all(c is None or c is Ellipsis for c in consts)


def verdict(run: Callable[[], str | None], fn: Any, *, success: str) -> bool:
    """Run a check body: it returns None when all is well, or a message saying what is wrong."""
    if _missing(fn) or _is_stub(fn):
        print(f"{WAIT} Not answered yet: replace ... with your code.")
        return False
    if not callable(fn):
        print(f"{NO} Expected a function, got {type(fn).__name__}.")
        return False
    try:
        problem = run()
    except Failed as err:
        problem = str(err)
    if problem:
        print(f"{NO} Not yet: {problem}")
        return False
    print(f"{OK} {success}")
    return True


def check_option(answer: Any, *, right: str, why: Mapping[str, str], explain: str) -> bool:
    """A choice question: ``why`` says, for each wrong option, why it is wrong.

    ``explain`` is printed with the right answer (why it is right).  Answers
    are compared in lower case without surrounding spaces.
    """
    options = sorted([right, *why])
    if _missing(answer):
        print(f"{WAIT} Not answered yet: replace ... with your choice, one of {options}.")
        return False
    key = str(answer).strip().lower()
    if key == right:
        print(f"{OK} Correct. {explain}")
        return True
    if key in why:
        print(f"{NO} Not {answer!r}: {why[key]}")
        return False
    print(f"{NO} {answer!r} is not one of the options {options}.")
    return False
