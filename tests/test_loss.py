import keras
import numpy as np
import pytest

from modelsec_edu import loss, models


def test_empirical_loss_by_hand_equals_keras(trained_mlp, digits):
    _, (xte, yte) = digits
    z = models.predict_logits(trained_mlp, xte[:100])
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(yte[:100], z)
    assert abs(loss.empirical_loss(z, yte[:100]) - float(keras.ops.convert_to_numpy(keras_loss))) < 1e-6


def test_log_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0]])
    lp = loss.log_softmax(z)
    assert np.isfinite(lp).all()
    np.testing.assert_allclose(np.exp(lp).sum(), 1.0)
    np.testing.assert_allclose(loss.cross_entropy(z, np.array([2])), [2000.0])


def test_loss_rises_faster_along_gradient_sign_than_random(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:32], yte[:32]
    g = loss.gradient_sign(trained_mlp, x, y)
    r = loss.random_sign(x.shape, seed=0)
    ts = [0.0, 0.1]
    lg = loss.loss_along(trained_mlp, x, y, g, ts)
    lr = loss.loss_along(trained_mlp, x, y, r, ts)
    np.testing.assert_allclose(lg[0], lr[0], rtol=1e-5)
    assert (lg[1] - lg[0]).mean() > 5 * abs((lr[1] - lr[0]).mean())


def test_random_sign_is_plus_minus_one():
    r = loss.random_sign((3, 4), seed=0)
    assert set(np.unique(r)) <= {-1.0, 1.0}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: loss.log_softmax(np.zeros(3)), "shape"),
        (lambda: loss.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), "labels"),
        (lambda: loss.cross_entropy(np.zeros((2, 3)), np.array([0])), "shape"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_loss_along_checks_shapes(trained_mlp, digits):
    _, (xte, yte) = digits
    with pytest.raises(ValueError, match="direction"):
        loss.loss_along(trained_mlp, xte[:2], yte[:2], np.zeros((3, 28, 28, 1)), [0.1])
    with pytest.raises(ValueError, match="ts"):
        loss.loss_along(trained_mlp, xte[:2], yte[:2], np.zeros((2, 28, 28, 1)), [])
