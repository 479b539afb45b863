"""The article's loss computed by hand, its gradients, and the loss along a direction."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion, models
from modelsec_edu.models import loss

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("n", [1, 7, 100])
def test_empirical_loss_by_hand_equals_keras(trained_mlp, digits, n):
    _, (xte, yte) = digits
    z = models.predict_logits(trained_mlp, xte[:n])
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(yte[:n], z)
    assert (
        abs(loss.empirical_loss(z, yte[:n]) - float(keras.ops.convert_to_numpy(keras_loss))) < 1e-6
    )


@pytest.mark.parametrize(
    ("logits", "y", "expected"),
    [
        ([[0.0, 0.0, 0.0, 0.0]], [2], np.log(4.0)),  # uniform over k classes: log k
        ([[1000.0, 0.0, -1000.0]], [2], 2000.0),  # huge logits: no overflow
        ([[5.0, 5.0]], [0], np.log(2.0)),
        ([[30.0, 0.0]], [0], np.log1p(np.exp(-30.0))),  # confident and right: ~0, not exactly 0
    ],
)
def test_cross_entropy_table(logits, y, expected):
    np.testing.assert_allclose(
        loss.cross_entropy(np.array(logits), np.array(y)), [expected], rtol=1e-9, atol=1e-12
    )


def test_log_softmax_is_stable_and_shift_invariant():
    z = RNG.normal(size=(5, 10)) * 50
    lp = loss.log_softmax(z)
    assert np.isfinite(lp).all() and (lp <= 0).all()
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0)
    np.testing.assert_allclose(loss.log_softmax(z + 123.0), lp, atol=1e-9)


@pytest.mark.parametrize("scale", [1.0, 10.0, 100.0])
def test_logit_gradient_matches_finite_differences(scale):
    z = RNG.normal(size=(3, 5)) * scale
    y = np.array([0, 4, 2])
    grad = loss.logit_gradient(z, y)
    h = 1e-6
    numeric = np.zeros_like(z)
    for j in range(z.shape[1]):
        dz = np.zeros_like(z)
        dz[:, j] = h
        numeric[:, j] = (loss.cross_entropy(z + dz, y) - loss.cross_entropy(z - dz, y)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, atol=1e-6)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)  # softmax sums to 1, onehot too
    assert (np.abs(grad) <= 1.0).all()


def test_logit_gradient_does_not_vanish_when_confidently_wrong():
    grad = loss.logit_gradient(np.array([[200.0, 0.0]]), np.array([1]))
    np.testing.assert_allclose(grad, [[1.0, -1.0]])


@pytest.mark.backend
def test_first_order_change_predicts_small_steps(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:16], yte[:16]
    l0, g = backend.input_gradient(trained_mlp, x, y)
    # small enough that the second-order term stays under 5% on every backend's trained model
    # (at 1e-3 one of 16 images was 6% off on PyTorch), large enough for float32 differences
    delta = 5e-4 * np.sign(g)
    actual = loss.cross_entropy(models.predict_logits(trained_mlp, x + delta), y) - l0
    predicted = loss.first_order_change(g, delta)
    np.testing.assert_allclose(predicted, 5e-4 * np.abs(g).reshape(16, -1).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(actual, predicted, rtol=0.05, atol=1e-4)


def test_sign_step_maximises_the_linear_term():
    g = RNG.normal(size=(4, 6))
    best = loss.first_order_change(g, 0.1 * np.sign(g))
    for _ in range(20):
        other = RNG.uniform(-0.1, 0.1, size=g.shape)
        assert (loss.first_order_change(g, other) <= best + 1e-12).all()


@pytest.mark.backend
def test_gradient_sign_is_the_fgsm_step(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:8], yte[:8]
    x_adv = evasion.fgsm(trained_mlp, x, y, eps=0.1)
    expected = np.clip(x + 0.1 * loss.gradient_sign(trained_mlp, x, y), 0.0, 1.0)
    np.testing.assert_allclose(x_adv, expected, atol=1e-6)


@pytest.mark.backend
def test_loss_rises_faster_along_gradient_sign_than_random(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:32], yte[:32]
    g = loss.gradient_sign(trained_mlp, x, y)
    r = loss.random_sign(x.shape, seed=0)
    ts = [0.0, 0.1]
    lg = loss.loss_along(trained_mlp, x, y, g, ts)
    lr = loss.loss_along(trained_mlp, x, y, r, ts)
    assert lg.shape == (2, 32)
    np.testing.assert_allclose(lg[0], lr[0], rtol=1e-5)
    np.testing.assert_allclose(
        lg[0], loss.cross_entropy(models.predict_logits(trained_mlp, x), y), rtol=1e-5
    )
    assert (lg[1] - lg[0]).mean() > 5 * abs((lr[1] - lr[0]).mean())


def test_loss_along_leaves_inputs_alone(trained_mlp, digits):
    _, (xte, yte) = digits
    x = xte[:4].copy()
    d = np.ones_like(x)
    loss.loss_along(trained_mlp, x, yte[:4], d, [0.5])
    np.testing.assert_array_equal(x, xte[:4])


@pytest.mark.parametrize("seed", [0, 1])
def test_random_sign_is_plus_minus_one_and_seeded(seed):
    r = loss.random_sign((3, 4), seed=seed)
    assert r.shape == (3, 4) and set(np.unique(r)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(r, loss.random_sign((3, 4), seed=seed))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: loss.log_softmax(np.zeros(3)), ValueError, "logits must have 2 dimensions"),
        (lambda: loss.log_softmax(np.zeros((2, 0))), ValueError, "classes"),
        (
            lambda: loss.cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
            ValueError,
            r"y must be in \[0, 2\]",
        ),
        (
            lambda: loss.cross_entropy(np.zeros((2, 3)), np.array([0, -1])),
            ValueError,
            r"y must be in \[0, 2\]",
        ),
        (
            lambda: loss.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
            TypeError,
            "y must hold integer",
        ),
        (
            lambda: loss.cross_entropy(np.zeros((2, 3)), np.array([0])),
            ValueError,
            "y must have 2 labels",
        ),
        (
            lambda: loss.empirical_loss(np.zeros((0, 3)), np.zeros(0, int)),
            ValueError,
            "at least 1 sample",
        ),
        (
            lambda: loss.logit_gradient(np.zeros((2, 3)), np.array([0, 5])),
            ValueError,
            r"y must be in \[0, 2\]",
        ),
        (lambda: loss.first_order_change(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "shape"),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("x", "y", "d", "ts", "match"),
    [
        (np.zeros((2, 28, 28, 1)), [0, 1], np.zeros((3, 28, 28, 1)), [0.1], "direction"),
        (np.zeros((2, 28, 28, 1)), [0, 1], np.zeros((2, 28, 28, 1)), [], "ts"),
        (np.zeros((2, 28, 28, 1)), [0, 1], np.zeros((2, 28, 28, 1)), [np.nan], "ts"),
        (np.zeros((2, 28, 28, 1)), [0], np.zeros((2, 28, 28, 1)), [0.1], "y must"),
        (
            np.zeros((0, 28, 28, 1)),
            [],
            np.zeros((0, 28, 28, 1)),
            [0.1],
            "x must hold at least 1 sample",
        ),
    ],
)
def test_loss_along_checks_its_input(trained_mlp, x, y, d, ts, match):
    with pytest.raises(ValueError, match=match):
        loss.loss_along(trained_mlp, x, np.array(y, dtype=int), d, ts)
