"""The backend-specific module, checked on every backend (run with KERAS_BACKEND=jax too)."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend

pytestmark = pytest.mark.backend


def _softmax_regression(w, b):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.set_weights([w, b])
    return model


@pytest.fixture
def linear():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3)).astype("float32")
    b = rng.normal(size=3).astype("float32")
    x = rng.uniform(size=(5, 4)).astype("float32")
    y = np.array([0, 1, 2, 1, 0])
    return _softmax_regression(w, b), w, b, x, y


def _closed_form(w, b, x, y):
    z = x @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[y]
    loss = -np.log(p[np.arange(len(y)), y])
    return loss, (p - onehot) @ w.T, x, p - onehot


def test_input_gradient_matches_the_closed_form(linear):
    model, w, b, x, y = linear
    loss, grad = backend.input_gradient(model, x, y)
    want_loss, want_grad, _, _ = _closed_form(w, b, x, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-6)


def test_weight_gradients_match_the_closed_form(linear):
    model, w, b, x, y = linear
    gw, gb = backend.weight_gradients(model, x, y)
    _, _, xx, d = _closed_form(w, b, x, y)
    np.testing.assert_allclose(gw, xx.T @ d / len(y), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gb, d.mean(0), rtol=1e-4, atol=1e-6)


def test_compiled_functions_are_cached_and_see_new_weights(linear):
    model, w, b, x, y = linear
    made = []

    def make():
        made.append(1)
        return lambda logits, xb: logits(xb)

    call = backend.compiled(model, ("identity",), make)
    z1 = keras.ops.convert_to_numpy(call(keras.ops.convert_to_tensor(x)))
    assert backend.compiled(model, ("identity",), make) is call and len(made) == 1
    model.set_weights([w * 2, b])  # a later change of weights must be seen
    z2 = keras.ops.convert_to_numpy(call(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(z1, x @ w + b, rtol=1e-5)
    np.testing.assert_allclose(z2, x @ (2 * w) + b, rtol=1e-5)


def test_train_step_lowers_the_loss(linear):
    model, _, _, x, y = linear
    model.compile(optimizer=keras.optimizers.SGD(0.5))

    def loss_fn(forward, xb, yb):
        return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(yb, forward(xb), from_logits=True))

    step = backend.train_step(model, loss_fn)
    xt, yt = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y.astype("int32"))
    first = float(keras.ops.convert_to_numpy(step(xt, yt)))
    for _ in range(20):
        last = float(keras.ops.convert_to_numpy(step(xt, yt)))
    assert last < first - 0.3


def test_train_step_needs_an_optimizer(linear):
    model = linear[0]
    with pytest.raises(ValueError, match="compile"):
        backend.train_step(model, lambda f, x, y: 0.0)


def test_bad_inputs(linear):
    model, _, _, x, y = linear
    with pytest.raises(TypeError, match="keras.Model"):
        backend.input_gradient(lambda t: t, x, y)
    with pytest.raises(ValueError, match="shape"):
        backend.input_gradient(model, x, y[:3])
    with pytest.raises(ValueError, match="non-empty"):
        backend.input_gradient(model, x[:0], y[:0])


def test_devices_lists_at_least_one():
    found = backend.devices()
    assert found and all({"type", "name"} <= set(d) for d in found)
