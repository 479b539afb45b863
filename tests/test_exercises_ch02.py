"""Chapter 02's checks: each returns False on a wrong answer and True on the library's own."""

import numpy as np
import pytest

from modelsec_edu.exercises import ch02
from modelsec_edu.models import loss


def _naive_ce(z, y):  # overflows on large logits
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(z)), y])


def _linear_grad(x, W, b, y):
    return loss.logit_gradient(x @ W + b, y) @ W.T


def _fgsm(x, grad, eps):
    return np.clip(x + eps * np.sign(grad), 0.0, 1.0)


RIGHT = {
    "cross-entropy": (ch02.check_cross_entropy, loss.cross_entropy),
    "empirical loss": (ch02.check_empirical_loss, loss.empirical_loss),
    "linear input gradient": (ch02.check_linear_input_gradient, _linear_grad),
    "fgsm": (ch02.check_fgsm, _fgsm),
    "gradient of": (ch02.check_gradient_of, "input"),
}

WRONG = {
    "ce: naive softmax": (ch02.check_cross_entropy, _naive_ce),
    "ce: the mean, not per example": (ch02.check_cross_entropy, loss.empirical_loss),
    "ce: wrong sign": (ch02.check_cross_entropy, lambda z, y: -loss.cross_entropy(z, y)),
    "L: the sum": (ch02.check_empirical_loss, lambda z, y: loss.cross_entropy(z, y).sum()),
    "L: per example": (ch02.check_empirical_loss, loss.cross_entropy),
    "gradient: forgets the softmax": (
        ch02.check_linear_input_gradient,
        lambda x, W, b, y: -np.eye(W.shape[1])[y] @ W.T,
    ),
    "gradient: w.r.t. the logits": (
        ch02.check_linear_input_gradient,
        lambda x, W, b, y: loss.logit_gradient(x @ W + b, y),
    ),
    "gradient: wrong sign": (
        ch02.check_linear_input_gradient,
        lambda x, W, b, y: -_linear_grad(x, W, b, y),
    ),
    "fgsm: no clip": (ch02.check_fgsm, lambda x, g, e: x + e * np.sign(g)),
    "fgsm: the raw gradient": (ch02.check_fgsm, lambda x, g, e: np.clip(x + e * g, 0, 1)),
    "fgsm: downhill": (ch02.check_fgsm, lambda x, g, e: np.clip(x - e * np.sign(g), 0, 1)),
    "fgsm: in place": (
        ch02.check_fgsm,
        lambda x, g, e: np.clip(np.add(x, e * np.sign(g), out=x), 0, 1),
    ),
    "gradient of: weights": (ch02.check_gradient_of, "weights"),
    "gradient of: labels": (ch02.check_gradient_of, "labels"),
    "not answered": (ch02.check_fgsm, None),
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
