"""Chapter 05's checks: the library's own answer passes, each wrong answer fails."""

import numpy as np
import pytest

from modelsec_edu import models, tampering
from modelsec_edu.exercises import ch05


def flip_in_place(q, index, bit):
    q.reshape(-1).view(np.uint8)[index] ^= np.uint8(1 << bit)
    return q


def flip_unsigned(q, index, bit):  # adds 2**bit, ignoring two's complement
    out = q.astype(np.int16).copy()
    out.reshape(-1)[index] += 1 << bit
    return out.astype(np.int8)


def quantize_floor(w):
    s = np.abs(w).max() / 127
    return np.floor(w / s).astype(np.int8), s


def quantize_wrong_scale(w):
    s = np.abs(w).max() / 128
    return np.clip(np.rint(w / s), -128, 127).astype(np.int8), s


def damaging_by_gradient_only(q, grad):  # the largest gradient, its sign bit
    return int(np.argmax(np.abs(grad))), 7


def damaging_sign_bits_only(q, grad):
    flat, g = q.reshape(-1).astype(int), grad.reshape(-1)
    change = np.where(flat < 0, 128, -128)
    return int(np.argmax(g * change)), 7


CASES = [
    ("flip_bit", ch05.check_flip_bit, tampering.flip_bit, [flip_in_place, flip_unsigned]),
    (
        "quantize",
        ch05.check_quantize,
        tampering.quantize_array,
        [quantize_floor, quantize_wrong_scale],
    ),
    (
        "most_damaging",
        ch05.check_most_damaging_bit,
        ch05.most_damaging_bit,
        [damaging_by_gradient_only],
    ),
]


@pytest.mark.parametrize(("name", "check", "right", "wrongs"), CASES, ids=[c[0] for c in CASES])
def test_function_checks(name, check, right, wrongs):
    assert check(right) is True
    for wrong in wrongs:
        assert check(wrong) is False
    assert check(None) is False


def test_sign_bits_only_is_wrong():
    # The check always includes a tensor where bit 6 of a small weight beats every sign flip.
    assert ch05.check_most_damaging_bit(damaging_sign_bits_only) is False


def test_sign_flip():
    assert ch05.check_sign_flip(int(tampering.flip_bit(np.array([-3], np.int8), 0, 7)[0])) is True
    assert ch05.check_sign_flip(-131) is False
    assert ch05.check_sign_flip(...) is False


def test_first_flip_is_recomputed(trained_mlp, digits):
    _, (x, y) = digits
    _, log = tampering.bit_flip_attack(trained_mlp, x, y, flips=1, seed=0)
    acc = models.accuracy(
        tampering.flip_bits(trained_mlp, [(log[0].layer, log[0].index, log[0].bit)])[0], x, y
    )
    assert ch05.check_first_flip(acc, trained_mlp, log, x, y) is True
    assert ch05.check_first_flip(acc + 0.01, trained_mlp, log, x, y) is False


@pytest.mark.parametrize(
    ("check", "right", "wrong"),
    [(ch05.check_canary, "c", ["a", "b"]), (ch05.check_hmac, "b", ["a", "c"])],
)
def test_choices_explain_wrong_options(capsys, check, right, wrong):
    assert check(right) is True
    for w in wrong:
        capsys.readouterr()
        assert check(w) is False
        assert len(capsys.readouterr().out) > 40
