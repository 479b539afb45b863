"""Chapter 10's checks pass the library's answers and fail wrong ones."""

import numpy as np
import pytest
from packaging.specifiers import SpecifierSet

from modelsec_edu import outlook
from modelsec_edu.exercises import ch10


def right_front(clean, robust):
    return outlook.pareto_front(clean, robust)


def keeps_everything(clean, robust):
    return list(range(len(clean)))


def keeps_the_best_clean_only(clean, robust):
    return [int(np.argmax(clean))]


def strict_ties(clean, robust):  # treats an equal point as dominating: drops duplicates
    c, r = np.asarray(clean), np.asarray(robust)
    return [
        i for i in range(len(c)) if not np.any((c >= c[i]) & (r >= r[i]) & (np.arange(len(c)) != i))
    ]


def right_fits(requirement, version):
    return version in SpecifierSet(requirement)


def ignores_upper_bounds(requirement, version):
    return all(version in SpecifierSet(c) for c in requirement.split(",") if not c.startswith("<"))


def compares_strings(requirement, version):  # "10" < "9" as text: the classic mistake
    import operator

    ops = {
        "<=": operator.le,
        ">=": operator.ge,
        "==": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        ">": operator.gt,
    }
    for clause in requirement.split(","):
        op = next(o for o in ops if clause.startswith(o))
        if not ops[op](version, clause[len(op) :]):
            return False
    return True


@pytest.mark.parametrize(
    ("check", "answer", "passes"),
    [
        (ch10.check_pareto, right_front, True),
        (ch10.check_pareto, keeps_everything, False),
        (ch10.check_pareto, keeps_the_best_clean_only, False),
        (ch10.check_pareto, strict_ties, False),
        (ch10.check_pareto, ..., False),
        (ch10.check_pin_fits, right_fits, True),
        (ch10.check_pin_fits, ignores_upper_bounds, False),
        (ch10.check_pin_fits, compares_strings, False),
        (ch10.check_pin_fits, lambda r, v: "yes", False),
        (ch10.check_scenario, "a", True),
        (ch10.check_scenario, "b", False),
        (ch10.check_scenario, "d", False),
        (ch10.check_scenario, None, False),
        (ch10.check_why_labels_only, "b", True),
        (ch10.check_why_labels_only, "a", False),
        (ch10.check_why_labels_only, "d", False),
    ],
)
def test_each_check_fails_a_wrong_answer_and_passes_the_right_one(check, answer, passes, capsys):
    assert check(answer) is passes
    out = capsys.readouterr().out
    assert out.strip(), "a check always prints a verdict"
