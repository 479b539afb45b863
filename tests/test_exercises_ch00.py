"""Chapter 00's checks: each returns False on a wrong answer and True on the library's own."""

import numpy as np
import pytest

from modelsec_edu import runtime
from modelsec_edu.exercises import ch00


def _subset(n_total, k, seed):
    return np.random.default_rng(seed).choice(n_total, size=k, replace=False)


RIGHT = {
    "pick_epochs": (ch00.check_pick_epochs, lambda: runtime.pick(full=25, quick=3)),
    "class_counts": (ch00.check_class_counts, lambda y: np.bincount(y, minlength=10)),
    "subset": (ch00.check_subset, _subset),
    "quick_variable": (ch00.check_quick_variable, "b"),
    "lasting_switch": (ch00.check_lasting_switch, "b"),
}

WRONG = {
    "pick_epochs: fixed at import": (ch00.check_pick_epochs, lambda: 3),
    "pick_epochs: swapped": (ch00.check_pick_epochs, lambda: runtime.pick(full=3, quick=25)),
    "pick_epochs: raises": (ch00.check_pick_epochs, lambda: 1 / 0),
    "class_counts: drops empty classes": (
        ch00.check_class_counts,
        lambda y: np.unique(y, return_counts=True)[1],
    ),
    "class_counts: off by one": (
        ch00.check_class_counts,
        lambda y: np.bincount(y, minlength=10) + 1,
    ),
    "subset: unseeded": (
        ch00.check_subset,
        lambda n, k, s: np.random.default_rng().choice(n, k, replace=False),
    ),
    "subset: ignores the seed": (ch00.check_subset, lambda n, k, s: np.arange(k)),
    "subset: with replacement": (
        ch00.check_subset,
        lambda n, k, s: np.random.default_rng(s).integers(0, 3, k),
    ),
    "quick_variable: backend": (ch00.check_quick_variable, "a"),
    "quick_variable: data dir": (ch00.check_quick_variable, "c"),
    "quick_variable: offline": (ch00.check_quick_variable, "d"),
    "lasting_switch: %env": (ch00.check_lasting_switch, "a"),
    "lasting_switch: pick": (ch00.check_lasting_switch, "c"),
    "lasting_switch: a variable": (ch00.check_lasting_switch, "d"),
    "not answered": (ch00.check_subset, ...),
    "not a function": (ch00.check_class_counts, 3),
}


@pytest.mark.parametrize("name", list(RIGHT))
def test_the_library_answer_passes(name, capsys):
    check, answer = RIGHT[name]
    assert check(answer) is True
    assert "\u2705" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_fails(name, capsys):
    check, answer = WRONG[name]
    assert check(answer) is False
    assert capsys.readouterr().out.strip()  # a verdict is printed, never an exception


def test_the_mode_is_restored_after_checking(monkeypatch):
    monkeypatch.setenv(runtime.QUICK_ENV, "1")
    ch00.check_pick_epochs(lambda: runtime.pick(full=25, quick=3))
    assert runtime.is_quick()


def test_machine_facts_are_read_here(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "MODELSEC_EDU_DATA", str(tmp_path)
    )  # an empty directory: the fallback answers
    gpu = runtime.environment()["gpu"]
    assert ch00.check_gpu(gpu) is True and ch00.check_gpu(not gpu) is False
    assert ch00.check_source("embedded") is True
    assert ch00.check_source("download") is False
