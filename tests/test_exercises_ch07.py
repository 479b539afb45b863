"""Chapter 07's checks pass the library's answers and fail wrong ones."""

import numpy as np
import pytest

from modelsec_edu.exercises import ch07


def right_auc(loss_in, loss_out):
    li, lo = np.asarray(loss_in)[:, None], np.asarray(loss_out)[None, :]
    return float(np.mean((li < lo) + 0.5 * (li == lo)))


def auc_flipped(loss_in, loss_out):  # higher loss = member: the sign mistake
    return 1.0 - right_auc(loss_in, loss_out)


def auc_ignores_ties(loss_in, loss_out):
    li, lo = np.asarray(loss_in)[:, None], np.asarray(loss_out)[None, :]
    return float(np.mean(li < lo))


def right_clip(grads, noise, clip, denominator):
    norms = np.linalg.norm(grads, axis=1, keepdims=True)
    scaled = grads * np.minimum(1.0, clip / np.maximum(norms, 1e-12))
    return (scaled.sum(0) + noise) / denominator


def clips_coordinates(grads, noise, clip, denominator):
    return (np.clip(grads, -clip, clip).sum(0) + noise) / denominator


def always_rescales(grads, noise, clip, denominator):  # scales short rows up to C as well
    norms = np.linalg.norm(grads, axis=1, keepdims=True)
    return ((grads * clip / norms).sum(0) + noise) / denominator


def forgets_noise(grads, noise, clip, denominator):
    return right_clip(grads, np.zeros_like(noise), clip, denominator)


def mutates(grads, noise, clip, denominator):
    out = right_clip(grads, noise, clip, denominator)
    grads *= 0
    return out


@pytest.mark.parametrize(
    ("check", "answer", "passes"),
    [
        (ch07.check_loss_auc, right_auc, True),
        (ch07.check_loss_auc, auc_flipped, False),
        (ch07.check_loss_auc, auc_ignores_ties, False),
        (ch07.check_loss_auc, lambda a, b: "0.5", False),
        (ch07.check_loss_auc, ..., False),
        (ch07.check_clip_and_noise, right_clip, True),
        (ch07.check_clip_and_noise, clips_coordinates, False),
        (ch07.check_clip_and_noise, always_rescales, False),
        (ch07.check_clip_and_noise, forgets_noise, False),
        (ch07.check_clip_and_noise, mutates, False),
        (ch07.check_clip_and_noise, lambda *a: None, False),
        (ch07.check_epsilon_noise, "b", True),
        (ch07.check_epsilon_noise, "a", False),
        (ch07.check_epsilon_noise, "d", False),
        (ch07.check_epsilon_noise, None, False),
        (ch07.check_rounding, "c", True),
        (ch07.check_rounding, "b", False),
        (ch07.check_rounding, "d", False),
    ],
)
def test_each_check_fails_a_wrong_answer_and_passes_the_right_one(check, answer, passes, capsys):
    assert check(answer) is passes
    out = capsys.readouterr().out
    assert out.strip(), "a check always prints a verdict"
