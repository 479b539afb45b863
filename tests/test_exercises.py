import numpy as np
import pytest

from modelsec_edu import exercises as ex


@pytest.mark.parametrize(
    ("call", "result", "marker"),
    [
        (lambda: ex.check_close(..., 1.0), False, "Not answered"),
        (lambda: ex.check_close(1.0 + 1e-9, 1.0), True, "Correct"),
        (lambda: ex.check_close(1.1, 1.0, hint="h"), False, "off by up to 0.1"),
        (lambda: ex.check_close([1, 2], [1, 2, 3]), False, "shape"),
        (lambda: ex.check_close("a", 1.0), False, "number"),
        (lambda: ex.check_close(np.ones(3), np.ones(3)), True, "Correct"),
        (lambda: ex.check_choice(None, digest=ex.answer_digest("b")), False, "Not answered"),
        (lambda: ex.check_choice(" B ", digest=ex.answer_digest("b")), True, "Correct"),
        (lambda: ex.check_choice("a", digest=ex.answer_digest("b"), hint="think"), False, "think"),
        (lambda: ex.check_true(True, success="yes"), True, "yes"),
        (lambda: ex.check_true(False, hint="no"), False, "no"),
        (lambda: ex.check_true(None), False, "Not answered"),
    ],
)
def test_checks_print_a_verdict_and_return_it(capsys, call, result, marker):
    assert call() is result
    assert marker in capsys.readouterr().out


def _stub_with_args(a, b, c=1):
    """A docstring does not count as an answer."""
    ...


def _boom():
    raise RuntimeError("kaboom")


@pytest.mark.parametrize(
    ("call", "result", "marker"),
    [
        (
            lambda: ex.check_option(..., right="a", why={"b": "no"}, explain="e"),
            False,
            "Not answered",
        ),
        (lambda: ex.check_option(" A ", right="a", why={"b": "no"}, explain="yes!"), True, "yes!"),
        (
            lambda: ex.check_option("b", right="a", why={"b": "because"}, explain="e"),
            False,
            "because",
        ),
        (
            lambda: ex.check_option("z", right="a", why={"b": "no"}, explain="e"),
            False,
            "not one of",
        ),
        (lambda: ex.verdict(lambda: None, len, success="fine"), True, "fine"),
        (lambda: ex.verdict(lambda: "too long", len, success="fine"), False, "too long"),
        (
            lambda: ex.verdict(lambda: ex.call(_boom), _boom, success="fine"),
            False,
            "RuntimeError: kaboom",
        ),
        (lambda: ex.verdict(lambda: None, 3, success="fine"), False, "Expected a function"),
        (lambda: ex.verdict(lambda: None, ..., success="fine"), False, "Not answered"),
        (lambda: ex.verdict(lambda: None, _stub_with_args, success="fine"), False, "Not answered"),
    ],
)
def test_choice_and_function_checks_print_a_verdict_and_return_it(capsys, call, result, marker):
    assert call() is result
    assert marker in capsys.readouterr().out
