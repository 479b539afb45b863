"""Chapter 01's checks: each returns False on a wrong answer and True on the library's own."""

import numpy as np
import pytest

from modelsec_edu import evasion, models, poisoning, tampering
from modelsec_edu.exercises import ch01


def _flip(y, rate, seed):
    return poisoning.flip_labels(np.zeros((len(y), 1)), y, rate=rate, seed=seed)[1]


def _noise(weights, scale, seed):
    return tampering.noisy_weights(weights, scale=scale, seed=seed)


def _fgsm_acc(model, x, y, eps):
    return models.accuracy(model, evasion.fgsm(model, x, y, eps=eps), y)


def _flip_maybe_same(y, rate, seed):  # draws the new label among all 10 classes
    rng = np.random.default_rng(seed)
    y = y.copy()
    idx = rng.choice(len(y), int(round(rate * len(y))), replace=False)
    y[idx] = rng.integers(0, 10, len(idx))
    return y


def _flip_in_place(y, rate, seed):
    y[:] = _flip(y.copy(), rate, seed)
    return y


RIGHT = {
    "scenario a": (ch01.check_scenario_a, "poisoning"),
    "scenario b": (ch01.check_scenario_b, "tampering"),
    "scenario c": (ch01.check_scenario_c, "evasion"),
    "flip rate": (ch01.check_flip_rate, "b"),
    "noise is safe": (ch01.check_noise_is_safe, False),
    "flip labels": (ch01.check_flip_labels, _flip),
    "weight noise": (ch01.check_weight_noise, _noise),
    "fgsm accuracy": (ch01.check_fgsm_accuracy, _fgsm_acc),
}

WRONG = {
    "scenario a": (ch01.check_scenario_a, "evasion"),
    "scenario b": (ch01.check_scenario_b, "poisoning"),
    "scenario c": (ch01.check_scenario_c, "tampering"),
    "scenario: not an option": (ch01.check_scenario_c, "backdoor"),
    "flip rate 0.5": (ch01.check_flip_rate, "a"),
    "flip rate 1.0": (ch01.check_flip_rate, "c"),
    "noise is safe": (ch01.check_noise_is_safe, True),
    "flip: may keep the class": (ch01.check_flip_labels, _flip_maybe_same),
    "flip: in place": (ch01.check_flip_labels, _flip_in_place),
    "flip: always +1": (
        ch01.check_flip_labels,
        lambda y, r, s: np.where(np.random.default_rng(s).random(len(y)) < r, (y + 1) % 10, y),
    ),
    "noise: absolute scale": (
        ch01.check_weight_noise,
        lambda w, sc, s: tampering.noisy_weights(w, scale=sc, seed=s, relative=False),
    ),
    "noise: no noise": (ch01.check_weight_noise, lambda w, sc, s: [a.copy() for a in w]),
    "fgsm acc: clean accuracy": (
        ch01.check_fgsm_accuracy,
        lambda m, x, y, e: models.accuracy(m, x, y),
    ),
    "fgsm acc: wrong sign": (
        ch01.check_fgsm_accuracy,
        lambda m, x, y, e: models.accuracy(m, evasion.fgsm(m, x, y, eps=e, targeted=True), y),
    ),
    "not answered": (ch01.check_flip_labels, ...),
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
    assert capsys.readouterr().out.strip()
