"""bfloat16 gradient steps: same guarantees, float32 verdict, current weights (every backend)."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion, models

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def batch(digits):
    _, (xte, yte) = digits
    return xte[:48], yte[:48]


def test_fast_dtype_is_a_known_dtype():
    assert backend.fast_dtype() in ("float32", "bfloat16")


def test_bfloat16_logits_follow_the_current_weights(digits):
    (x, _), _ = digits
    model = models.article_mlp()
    x = x[:8]

    def make():
        return lambda logits, xb: logits(xb)

    call = backend.compiled(model, ("logits",), make, compute_dtype="bfloat16")
    for scale in (1.0, 0.5):  # a change of weights after compiling must be seen
        model.set_weights([w * scale for w in model.get_weights()])
        got = keras.ops.convert_to_numpy(call(keras.ops.convert_to_tensor(x)))
        want = models.predict_logits(model, x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05 * np.abs(want).max())


def test_bfloat16_pgd_is_as_strong_as_float32(trained_mlp, batch):
    x, y = batch
    kw = dict(eps=0.1, step_size=0.01, steps=20, seed=0)
    low = evasion.pgd(trained_mlp, x, y, precision="bfloat16", **kw)
    f32 = evasion.pgd(trained_mlp, x, y, precision="float32", **kw)
    assert np.abs(low - x).max() <= 0.1 + 1e-6
    acc_low = models.accuracy(trained_mlp, low, y)
    acc_f32 = models.accuracy(trained_mlp, f32, y)
    assert acc_low <= acc_f32 + 2 / len(x), (acc_low, acc_f32)


def test_compute_dtype_is_checked(trained_mlp):
    with pytest.raises(ValueError, match="compute_dtype"):
        backend.compiled(trained_mlp, ("x",), lambda: None, compute_dtype="float16")
