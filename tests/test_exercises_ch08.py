"""Chapter 08's checks: each returns True on the library's own answer and False on a wrong one."""

from __future__ import annotations

import numpy as np
import pytest

from modelsec_edu.exercises import ch08
from modelsec_edu.extraction import bank, equation_solving, log_odds


def right_solve(query, d):
    return equation_solving(query, d)


def one_query_too_many(query, d):
    query(np.zeros((1, d)))
    return equation_solving(query, d)


def forgets_the_bias(query, d):
    z = log_odds(query(np.vstack([np.zeros((1, d)), np.eye(d)])))
    return z[1:], 0.0


def probability_not_log_odds(query, d):
    p = query(np.vstack([np.zeros((1, d)), np.eye(d)]))[:, 1]
    return p[1:] - p[0], float(p[0])


def right_projection(x, groups):
    out = np.array(x, dtype="float64")
    for g in groups:
        pick = np.argmax(out[:, g], axis=1)
        out[:, g] = 0.0
        out[np.arange(len(out)), g[pick]] = 1.0
    return out


def rounds_each_column(x, groups):
    out = np.array(x, dtype="float64")
    for g in groups:
        out[:, g] = np.round(out[:, g])
    return out


def first_category(x, groups):
    out = np.array(x, dtype="float64")
    for g in groups:
        out[:, g] = 0.0
        out[:, g[0]] = 1.0
    return out


def in_place(x, groups):
    for g in groups:
        pick = np.argmax(x[:, g], axis=1)
        x[:, g] = 0.0
        x[np.arange(len(x)), g[pick]] = 1.0
    return x


def zeroes_the_rest(x, groups):
    return np.where(right_projection(x, groups) == 1, 1.0, 0.0)


def right_threshold(s, fpr):
    return bank.threshold_at_fpr(s, fpr)


def one_too_many(s, fpr):
    k = int(np.floor(fpr * len(s)))
    return float(np.sort(s)[len(s) - k - 1])  # flags k + 1 genuine scores: more than fpr allows


def too_high(s, fpr):
    return float(np.max(s)) + 1.0  # never alarms: no false alarms, no fraud caught


@pytest.mark.parametrize("check, right, wrongs", [
    (ch08.check_equation_solving, right_solve,
     [one_query_too_many, forgets_the_bias, probability_not_log_odds]),
    (ch08.check_onehot_projection, right_projection,
     [rounds_each_column, first_category, in_place, zeroes_the_rest]),
    (ch08.check_threshold, right_threshold, [too_high, one_too_many]),
])  # fmt: skip
def test_function_checks_pass_the_library_and_fail_wrong_answers(check, right, wrongs):
    assert check(right) is True
    for wrong in wrongs:
        assert check(wrong) is False, wrong.__name__


def test_unanswered_stubs_are_not_answers():
    def stub(query, d): ...

    assert ch08.check_equation_solving(stub) is False
    assert ch08.check_onehot_projection(None) is False


@pytest.mark.parametrize("check, right, wrong", [
    (ch08.check_rounding_vs_copycat, "b", ["a", "c", "d", "e", ...]),
    (ch08.check_invalid_success, "c", ["a", "b", "d", "z", ...]),
])  # fmt: skip
def test_choice_checks(check, right, wrong):
    assert check(right) is True and check(right.upper()) is True
    for answer in wrong:
        assert check(answer) is False
