import numpy as np
import pytest

from modelsec_edu import models, tampering
from modelsec_edu.tampering.dense_search import attack_score, cross_entropy


@pytest.mark.parametrize(
    ("value", "bits"),
    [
        (0, "00000000"),
        (1, "00000001"),
        (127, "01111111"),
        (-1, "11111111"),
        (-128, "10000000"),
        (-3, "11111101"),
    ],
)
def test_int8_bits_are_twos_complement(value, bits):
    assert tampering.int8_bits(value) == bits


@pytest.mark.parametrize("value", [-128, -77, -1, 0, 3, 64, 127])
@pytest.mark.parametrize("bit", range(8))
def test_flipping_a_bit_changes_exactly_that_bit(value, bit):
    q = np.array([5, value, -9], dtype=np.int8)
    out = tampering.flip_bit(q, 1, bit)
    assert out.dtype == np.int8 and out is not q
    np.testing.assert_array_equal(q, [5, value, -9])  # no aliasing
    np.testing.assert_array_equal(out[[0, 2]], [5, -9])
    assert (int(out[1]) & 0xFF) ^ (value & 0xFF) == 1 << bit
    expected = tampering.int8_bits(value)[: 7 - bit] + (
        "1" if tampering.int8_bits(value)[7 - bit] == "0" else "0"
    )
    assert tampering.int8_bits(int(out[1])) == expected + tampering.int8_bits(value)[8 - bit :]


def test_sign_bit_moves_a_weight_by_128_steps():
    q = np.array([3, -3], dtype=np.int8)
    assert tampering.flip_bit(q, 0, 7)[0] == 3 - 128
    assert tampering.flip_bit(q, 1, 7)[1] == -3 + 128


def test_all_flips_agrees_with_flip_bit():
    q = np.array([[0, 5], [-7, 127]], dtype=np.int8)
    table = tampering.bitflip._all_flips(q)
    for i in range(q.size):
        for b in range(8):
            assert table[i, b] == int(tampering.flip_bit(q, i, b).ravel()[i]) - int(q.ravel()[i])


@pytest.mark.parametrize("seed", range(4))
def test_quantize_array_round_trip_within_half_a_step(seed):
    w = np.random.default_rng(seed).normal(0, 0.1, (30, 7)).astype("float32")
    q, scale = tampering.quantize_array(w)
    assert q.dtype == np.int8 and np.abs(q).max() == 127
    assert np.abs(tampering.dequantize(q, scale) - w).max() <= scale / 2 + 1e-7


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda q: tampering.flip_bit(q, 0, 8), ValueError, "bit"),
        (lambda q: tampering.flip_bit(q, 3, 0), ValueError, "index"),
        (lambda q: tampering.flip_bit(q.astype("int16"), 0, 0), TypeError, "int8"),
        (lambda q: tampering.quantize_array([np.nan]), ValueError, "finite"),
        (lambda q: tampering.int8_bits(200), ValueError, r"value must be an int in \[-128, 127\]"),
    ],
)
def test_bad_bit_input(call, error, match):
    with pytest.raises(error, match=match):
        call(np.zeros(3, np.int8))


@pytest.mark.backend
def test_flip_bits_on_a_model_changes_exactly_that_bit(trained_mlp):
    base = tampering.quantize(trained_mlp)
    layer = tampering.weight_names(trained_mlp)[2]  # the second kernel
    flipped, log = tampering.flip_bits(trained_mlp, [(layer, 123, 6)])
    assert log[0].layer == layer and log[0].index == 123 and log[0].bit == 6
    assert (log[0].old & 0xFF) ^ (log[0].new & 0xFF) == 1 << 6
    for name, w0, w1 in zip(
        tampering.weight_names(base), base.get_weights(), flipped.get_weights()
    ):
        q0, scale = tampering.quantize_array(w0)
        q1, _ = tampering.quantize_array(w1, scale=scale)  # read back with the same scale
        diff = np.flatnonzero(q0.ravel() != q1.ravel())
        if name == layer:
            assert list(diff) == [123] and q1.ravel()[123] == log[0].new
        else:
            assert len(diff) == 0


@pytest.mark.parametrize(
    ("flips", "match"),
    [
        ([("conv9/kernel", 0, 0)], "unknown layer"),
        ([(0, 10**7, 0)], "index"),
        ([(0, 0, 9)], "bit"),
        ([(0, 0)], "triple"),
    ],
)
def test_flip_bits_bad_input(trained_mlp, flips, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tampering.flip_bits(trained_mlp, flips)


def test_random_flips_are_distinct_seeded_and_leave_the_model_alone(trained_mlp, digits):
    _, (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    model, log = tampering.random_bit_flips(trained_mlp, flips=12, seed=3, eval_data=(xte, yte))
    _, again = tampering.random_bit_flips(trained_mlp, flips=12, seed=3)
    assert model is not trained_mlp and len(log) == 12
    assert len({(e.layer, e.index, e.bit) for e in log}) == 12
    assert [(e.layer, e.index, e.bit) for e in log] == [(e.layer, e.index, e.bit) for e in again]
    assert all(e.accuracy is not None for e in log) and all(e.accuracy is None for e in again)
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="flips"):
        tampering.random_bit_flips(trained_mlp, flips=-1)


@pytest.mark.backend
def test_bit_flip_attack_beats_random_flips(trained_mlp, digits):
    (xtr, ytr), (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    base = models.accuracy(tampering.quantize(trained_mlp), xte, yte)
    attacked, log = tampering.bit_flip_attack(
        trained_mlp, xtr, ytr, flips=8, seed=0, candidates=2, batch_size=128, eval_data=(xte, yte)
    )
    acc_bfa = models.accuracy(attacked, xte, yte)
    acc_random = np.mean(
        [
            models.accuracy(tampering.random_bit_flips(trained_mlp, flips=8, seed=s)[0], xte, yte)
            for s in range(3)
        ]
    )
    assert len(log) == 8 and log[-1].accuracy == pytest.approx(acc_bfa)
    assert acc_bfa < acc_random - 0.1 and acc_bfa < base - 0.1
    assert {e.layer for e in log} <= set(tampering.weight_names(trained_mlp))
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.backend
@pytest.mark.parametrize(("objective", "cap"), [("ce", 2.0), ("ce", None), ("margin", 2.0)])
def test_bit_flip_attack_invariants(trained_mlp, digits, objective, cap):
    """k logged flips change exactly k bits, stay int8, and never lower the objective."""
    (xtr, ytr), _ = digits
    x, y = xtr[:96], ytr[:96]
    base = tampering.quantize(trained_mlp)
    attacked, log = tampering.bit_flip_attack(
        trained_mlp, x, y, flips=4, seed=0, candidates=2, batch_size=96, objective=objective,
        cap=cap,
    )  # fmt: skip
    assert 1 <= len(log) <= 4
    changed = 0
    for w0, w1 in zip(base.get_weights(), attacked.get_weights()):
        q0, scale = tampering.quantize_array(w0)
        steps = w1.astype("float64") / scale
        np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)  # still on the int8 grid
        assert steps.min() >= -128 - 1e-3 and steps.max() <= 127 + 1e-3  # int8 range
        q1 = np.rint(steps).astype(np.int64)
        changed += int(np.unpackbits((q0.astype(np.int64) ^ q1).astype(np.uint8)).sum())
    assert changed == len(log)  # one bit per flip, none flipped twice
    scores = []  # the objective the search maximises, on the attack batch, after each prefix
    for k in range(len(log) + 1):
        m, _ = tampering.flip_bits(trained_mlp, [(e.layer, e.index, e.bit) for e in log[:k]])
        z = models.predict_logits(m, x)
        if cap is None:  # the paper's loss: the plain mean cross-entropy
            scores.append(float(cross_entropy(z, y).mean()))
        else:
            scores.append(float(attack_score(z, y, objective=objective, cap=cap)))
    assert all(b >= a - 1e-6 for a, b in zip(scores, scores[1:]))  # greedy: never less damage
    assert scores[-1] > scores[0]
    assert log[-1].accuracy == pytest.approx(models.accuracy(attacked, x, y))  # logged on the batch
    assert log[-1].accuracy < models.accuracy(base, x, y)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"objective": "loss"}, ValueError), ({"exact": 1}, TypeError), ({"cap": 0.0}, ValueError)],
)
def test_bit_flip_attack_bad_options(trained_mlp, digits, kwargs, error):
    (xtr, ytr), _ = digits
    with pytest.raises(error, match=next(iter(kwargs))):
        tampering.bit_flip_attack(trained_mlp, xtr[:8], ytr[:8], flips=1, **kwargs)
