"""The gradient-masking demo: a quantisation 'defence' that stalls gradient attacks, and BPDA."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion, models

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def batch(digits):
    _, (xte, yte) = digits
    return xte[:48], yte[:48]


@pytest.fixture(scope="module")
def defended(trained_mlp):
    return evasion.quantized(trained_mlp, levels=8)


def test_quantize_rounds_to_levels_and_hides_the_gradient(defended, trained_mlp, batch):
    x, y = batch
    q = keras.ops.convert_to_numpy(
        evasion.Quantize(5)(
            keras.ops.convert_to_tensor(np.array([[0.0, 0.1, 0.13, 0.9, 1.0]], "float32"))
        )
    )
    np.testing.assert_allclose(q, [[0.0, 0.0, 0.25, 1.0, 1.0]])
    np.testing.assert_allclose(
        models.predict_logits(defended, x),
        models.predict_logits(trained_mlp, np.round(x * 7) / 7),
        rtol=1e-5,
        atol=1e-5,
    )
    _, g = backend.input_gradient(defended, x, y)
    assert np.all(g == 0)


def test_bpda_keeps_the_forward_pass_and_restores_a_gradient(defended, trained_mlp, batch):
    x, y = batch
    twin = evasion.bpda(defended)
    np.testing.assert_array_equal(
        models.predict_logits(twin, x), models.predict_logits(defended, x)
    )
    _, g = backend.input_gradient(twin, x, y)
    _, g_plain = backend.input_gradient(trained_mlp, np.round(x * 7) / 7, y)
    np.testing.assert_allclose(
        g, g_plain, rtol=1e-4, atol=1e-6
    )  # the gradient at the rounded input
    # weights are shared, never copied: training the original changes both
    assert all(a is b for a, b in zip(twin.trainable_variables, trained_mlp.trainable_variables))


def test_masking_stalls_pgd_but_not_square_or_bpda(defended, batch):
    x, y = batch
    kw = dict(eps=0.2, step_size=0.02, steps=20, seed=0)
    clean = models.accuracy(defended, x, y)
    pgd = models.accuracy(defended, evasion.pgd(defended, x, y, **kw), y)
    fgsm = models.accuracy(defended, evasion.fgsm(defended, x, y, eps=0.2), y)
    square = models.accuracy(
        defended, evasion.square_attack(defended, x, y, eps=0.2, queries=200, seed=0), y
    )
    through = models.accuracy(defended, evasion.pgd(evasion.bpda(defended), x, y, **kw), y)
    assert fgsm == clean  # a zero gradient has sign 0: FGSM does nothing
    assert pgd > clean - 0.2  # only the random start does anything
    assert square < pgd - 0.4 and through < pgd - 0.5, (clean, pgd, square, through)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda m: evasion.Quantize(1), ValueError, "levels"),
        (lambda m: evasion.Quantize(4, low=1.0, high=0.0), ValueError, "low must be < high"),
        (lambda m: evasion.Quantize(4, gradient="random"), ValueError, "gradient"),
        (lambda m: evasion.quantized("model"), TypeError, "keras.Model"),
        (lambda m: evasion.bpda(m), ValueError, "no Quantize"),
    ],
)
def test_bad_input(trained_mlp, make, error, match):
    with pytest.raises(error, match=match):
        make(trained_mlp)
