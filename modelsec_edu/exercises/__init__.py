"""End-of-chapter exercises: the checks, one module per chapter (``ch00`` ... ``ch10``).

The contract every chapter follows (issue 10 sets it):

* A check cell in a learner's notebook shows **only the learner's variable**:
  ``ch03.check_pgd_step(my_pgd_step)``.  The expected value, its formula or
  the right choice never appear in the notebook; the chapter's module here
  computes the expected answer from the learner's own inputs, or calls the
  learner's function on **fresh inputs** and compares it with the library's
  implementation and with invariants.
* A check prints a verdict and returns ``True``/``False``; it never raises on a
  wrong or missing answer (``...`` or ``None`` means "not answered yet"), so a
  notebook with open exercises still runs top to bottom.
* Choice questions explain why each wrong choice is wrong.
* The solutions live in ``solutions/NN_<chapter>.ipynb`` (never in the learner's
  notebook); there each check is wrapped in ``assert``, so CI fails if one
  does not pass.  ``tests/test_exercises_chNN.py`` feeds each check a wrong
  answer and sees it return ``False``.

The primitives below are shared by the chapter modules.
"""

from ._core import (
    NO,
    OK,
    WAIT,
    Failed,
    answer_digest,
    call,
    check_choice,
    check_close,
    check_option,
    check_true,
    verdict,
)

__all__ = [
    "NO",
    "OK",
    "WAIT",
    "Failed",
    "answer_digest",
    "call",
    "check_choice",
    "check_close",
    "check_option",
    "check_true",
    "verdict",
]
