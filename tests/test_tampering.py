import numpy as np
import pytest

from modelsec_edu import models, tampering


def test_perturb_returns_a_new_model_and_leaves_the_original(trained_mlp, digits):
    _, (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    acc = models.accuracy(trained_mlp, xte, yte)
    noisy = tampering.perturb_weights(trained_mlp, scale=3.0, seed=0)
    assert noisy is not trained_mlp
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert models.accuracy(trained_mlp, xte, yte) == acc
    assert models.accuracy(noisy, xte, yte) < acc - 0.3


def test_scale_zero_is_an_exact_copy(trained_mlp):
    copy = tampering.perturb_weights(trained_mlp, scale=0.0)
    for a, b in zip(trained_mlp.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_noise_is_relative_to_each_layer_and_seeded():
    ws = [np.ones((1000,), "float32") * np.linspace(0, 1, 1000), np.linspace(0, 100, 1000).astype("float32")]
    a = tampering.noisy_weights(ws, scale=0.5, seed=1)
    b = tampering.noisy_weights(ws, scale=0.5, seed=1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for w, n in zip(ws, a):
        assert n.dtype == w.dtype
        assert abs((n - w).std() / w.std() - 0.5) < 0.05


@pytest.mark.parametrize(("scale", "error"), [(-1.0, ValueError), (float("inf"), ValueError), ("big", TypeError)])
def test_bad_scale(scale, error):
    with pytest.raises(error, match="scale"):
        tampering.noisy_weights([np.ones(3)], scale=scale)


def test_clone_needs_a_model():
    with pytest.raises(TypeError, match="keras.Model"):
        tampering.clone("weights.h5")
