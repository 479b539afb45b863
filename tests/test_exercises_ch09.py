"""Chapter 09's checks: each returns True on the library's own answer and False on a wrong one."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from modelsec_edu.evasion import physical
from modelsec_edu.exercises import ch09
from modelsec_edu.models import reliability


def right_projection(x, x_adv, mask):
    return physical.project_sticker(x, x_adv, mask)


def no_clip(x, x_adv, mask):
    return np.where(mask[None, :, :, None], x_adv, x)


def leaks(x, x_adv, mask):
    return np.clip(x_adv, 0, 1)


def in_place(x, x_adv, mask):
    x[:, mask] = np.clip(x_adv[:, mask], 0, 1)
    return x


def right_abstain(probs, threshold):
    return reliability.abstain(probs, threshold=threshold)


def strict(probs, threshold):
    return np.where(probs.max(1) > threshold, probs.argmax(1), -1)


def never(probs, threshold):
    return probs.argmax(1)


def right_ece(probs, y, bins):
    return reliability.expected_calibration_error(probs, y, bins=bins)


def unweighted_ece(probs, y, bins):
    d = reliability.reliability_diagram(probs, y, bins=bins)
    seen = d.counts > 0
    return float(np.mean(np.abs(d.accuracy[seen] - d.confidence[seen])))


def right_eot(model, x, sticker, mask, target, params, sign_mask):
    return physical.eot_gradient(
        model, x, sticker, mask=mask, target=target, params=params, sign_mask=sign_mask
    )


def summed_eot(model, x, sticker, mask, target, params, sign_mask):
    return right_eot(model, x, sticker, mask, target, params, sign_mask) * len(params)


def first_camera_only(model, x, sticker, mask, target, params, sign_mask):
    return right_eot(model, x, sticker, mask, target, params[0], sign_mask)


@pytest.fixture(scope="module")
def tiny_net():
    from modelsec_edu.models.signs import sign_cnn

    keras.utils.set_random_seed(0)
    return sign_cnn(width=4)


CASES = {
    "projection": (
        ch09.check_projection,
        right_projection,
        [no_clip, leaks, in_place, "not a function"],
    ),
    "abstain": (ch09.check_abstain, right_abstain, [strict, never]),
    "ece": (ch09.check_ece, right_ece, [unweighted_ece, lambda p, y, b: "0.1"]),
}


@pytest.mark.parametrize("name", CASES)
def test_function_checks(name):
    check, right, wrongs = CASES[name]
    assert check(right) is True
    for wrong in wrongs:
        assert check(wrong) is False
    assert check(...) is False


def test_eot_check(tiny_net):
    assert ch09.check_eot_gradient(right_eot, tiny_net) is True
    assert ch09.check_eot_gradient(summed_eot, tiny_net) is False
    assert ch09.check_eot_gradient(first_camera_only, tiny_net) is False
    assert ch09.check_eot_gradient(..., tiny_net) is False


def test_choice():
    assert ch09.check_no_eot("c") is True
    for wrong in ("a", "b", "d", "e", ...):
        assert ch09.check_no_eot(wrong) is False
