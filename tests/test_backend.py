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
        return keras.ops.mean(
            keras.ops.sparse_categorical_crossentropy(yb, forward(xb), from_logits=True)
        )

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
    with pytest.raises(ValueError, match=r"y must have \d+ labels"):
        backend.input_gradient(model, x, y[:3])
    with pytest.raises(ValueError, match=r"^x "):
        backend.input_gradient(model, x[:0], y[:0])


def test_devices_lists_at_least_one():
    found = backend.devices()
    assert found and all({"type", "name"} <= set(d) for d in found)


# --------------------------------------------------------------------------- per-example gradients


def _tiny_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(3, 3, activation="tanh"),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )


@pytest.fixture
def cnn_batch():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(7, 6, 6, 1)).astype("float32")
    y = rng.integers(0, 4, 7)
    return _tiny_cnn(), x, y


def test_per_example_gradients_match_a_loop_of_single_examples(cnn_batch):
    model, x, y = cnn_batch
    per = backend.per_example_gradients(model, x, y)
    shapes = [(len(x), *v.shape) for v in model.trainable_variables]
    assert [g.shape for g in per] == shapes
    for i in range(len(x)):
        single = backend.weight_gradients(model, x[i : i + 1], y[i : i + 1])
        for got, want in zip(per, single, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)
    # and their mean is the batch gradient
    for got, want in zip(per, backend.weight_gradients(model, x, y), strict=True):
        np.testing.assert_allclose(got.mean(0), want, rtol=1e-5, atol=1e-6)


def test_per_example_gradients_differ_between_examples(cnn_batch):
    model, x, y = cnn_batch
    kernel = backend.per_example_gradients(model, x, y)[0]
    assert np.abs(kernel[0] - kernel[1]).max() > 1e-4  # not one gradient broadcast to every row


def _ce_per_example(forward, xb, yb):
    return keras.ops.sparse_categorical_crossentropy(yb, forward(xb), from_logits=True)


def test_train_step_per_example_with_mean_equals_the_plain_step(cnn_batch):
    _, x, y = cnn_batch
    xt, yt = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y.astype("int32"))
    after = []
    for per_example in (None, lambda grads, aux: [keras.ops.mean(g, axis=0) for g in grads]):
        model = _tiny_cnn(seed=3)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        if per_example is None:
            step = backend.train_step(
                model, lambda f, xb, yb: keras.ops.mean(_ce_per_example(f, xb, yb))
            )
            step(xt, yt)
        else:
            step = backend.train_step(model, _ce_per_example, key="per", per_example=per_example)
            step(xt, yt, keras.ops.zeros(()))
        after.append(model.get_weights())
    for a, b in zip(*after, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_train_step_per_example_passes_aux_through(cnn_batch):
    model, x, y = cnn_batch
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    before = model.get_weights()

    def shift(grads, aux):  # ignore the data: the update is -aux for every weight
        return [keras.ops.zeros_like(g[0]) + aux for g in grads]

    step = backend.train_step(model, _ce_per_example, key="aux", per_example=shift)
    step(
        keras.ops.convert_to_tensor(x),
        keras.ops.convert_to_tensor(y.astype("int32")),
        keras.ops.ones(()),
    )
    for b, a in zip(before, model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b - 1.0, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------- train_step's state and cache


def _ce(forward, xb, yb):
    return keras.ops.mean(_ce_per_example(forward, xb, yb))


def test_train_step_updates_batchnorm_statistics_and_the_dropout_seed():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x = np.random.default_rng(0).normal(3.0, 1.0, size=(16, 4)).astype("float32")
    y = np.arange(16) % 3
    before = [keras.ops.convert_to_numpy(v.value).copy() for v in model.non_trainable_variables]
    step = backend.train_step(model, _ce)
    step(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y.astype("int32")))
    after = [keras.ops.convert_to_numpy(v.value) for v in model.non_trainable_variables]
    changed = {
        v.path: not np.array_equal(a, b)
        for v, a, b in zip(model.non_trainable_variables, before, after, strict=True)
    }
    if backend.backend() == "torch":  # Keras' eager torch dropout draws from torch's own generator
        changed = {k: v for k, v in changed.items() if "seed_generator" not in k}
    assert changed and all(changed.values()), changed  # moving mean, variance and the seed all move


def test_train_step_follows_a_new_optimizer(linear):
    model = linear[0]
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    first = backend.train_step(model, _ce, key="k")
    assert backend.train_step(model, _ce, key="k") is first
    model.compile(optimizer=keras.optimizers.SGD(0.1))  # a new optimizer: a new step
    second = backend.train_step(model, _ce, key="k")
    assert second is not first
    x, y = linear[3], linear[4]
    second(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y.astype("int32")))
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 1


def test_train_step_refuses_a_non_callable_per_example(linear):
    model = linear[0]
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with pytest.raises(TypeError, match="per_example"):
        backend.train_step(model, _ce, per_example="mean")


# -------------------------------------------------------------- per-example gradients: Dense chains


def _mlp(seed=0, frozen=False):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(7, activation="tanh"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(6, activation="relu", use_bias=False),
            keras.layers.Dense(3),
        ]
    )
    if frozen:
        model.layers[0].trainable = False
    return model


@pytest.mark.parametrize("frozen", [False, True], ids=["dense-chain", "frozen-first-layer"])
def test_per_example_gradients_of_an_mlp_match_a_loop(frozen):
    # the Dense chain's outer-product path, and the general path when a layer is frozen
    model = _mlp(frozen=frozen)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 5)).astype("float32")
    y = rng.integers(0, 3, size=9)
    per = backend.per_example_gradients(model, x, y)
    assert [g.shape for g in per] == [(9, *v.shape) for v in model.trainable_variables]
    for i in range(len(x)):
        single = backend.weight_gradients(model, x[i : i + 1], y[i : i + 1])
        for got, want in zip(per, single, strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)
    assert np.abs(per[0][0] - per[0][1]).max() > 1e-4


def test_train_step_per_example_on_an_mlp_equals_the_plain_step():
    rng = np.random.default_rng(3)
    xt = keras.ops.convert_to_tensor(rng.normal(size=(12, 5)).astype("float32"))
    yt = keras.ops.convert_to_tensor((np.arange(12) % 3).astype("int32"))
    after = []
    for per_example in (None, lambda grads, aux: [keras.ops.mean(g, axis=0) for g in grads]):
        model = _mlp(seed=4)
        model.layers[1].rate = 0.0  # no dropout: the two steps must see the same network
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        if per_example is None:
            backend.train_step(model, _ce)(xt, yt)
        else:
            step = backend.train_step(model, _ce_per_example, key="mlp", per_example=per_example)
            step(xt, yt, keras.ops.zeros(()))
        after.append(model.get_weights())
    for a, b in zip(*after, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
