import numpy as np
import pytest

from modelsec_edu import poisoning


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(200, 4)), rng.integers(0, 10, 200)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 1.0])
def test_random_flips_touch_exactly_idx(xy, rate):
    x, y = xy
    x_out, y_out, idx = poisoning.flip_labels(x, y, rate=rate, seed=0)
    assert len(idx) == round(rate * len(y))
    changed = np.flatnonzero(y_out != y)
    np.testing.assert_array_equal(
        changed, idx
    )  # every touched label really changed, and only those
    np.testing.assert_array_equal(x_out, x)
    assert x_out is not x and not np.shares_memory(x_out, x)


def test_targeted_flips_move_source_to_target_only(xy):
    x, y = xy
    _, y_out, idx = poisoning.flip_labels(x, y, rate=0.5, source=3, target=8, seed=1)
    assert np.all(y[idx] == 3) and np.all(y_out[idx] == 8)
    assert len(idx) == round(0.5 * np.sum(y == 3))
    untouched = np.setdiff1d(np.arange(len(y)), idx)
    np.testing.assert_array_equal(y_out[untouched], y[untouched])


def test_inputs_are_not_modified(xy):
    x, y = xy
    x0, y0 = x.copy(), y.copy()
    poisoning.flip_labels(x, y, rate=0.3, seed=0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_same_seed_same_flips(xy):
    x, y = xy
    a = poisoning.flip_labels(x, y, rate=0.3, seed=5)
    b = poisoning.flip_labels(x, y, rate=0.3, seed=5)
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(rate=1.5), ValueError, "rate"),
        (dict(rate=-0.1), ValueError, "rate"),
        (dict(rate="half"), TypeError, "rate"),
        (dict(rate=0.1, source=3), ValueError, "source and target"),
        (dict(rate=0.1, source=3, target=3), ValueError, "differ"),
        (dict(rate=0.1, source=3, target=12), ValueError, "target"),
    ],
)
def test_bad_parameters(xy, kwargs, error, match):
    x, y = xy
    with pytest.raises(error, match=match):
        poisoning.flip_labels(x, y, **kwargs)


def test_bad_labels(xy):
    x, y = xy
    with pytest.raises(ValueError, match=r"y must be in \[0, 9\]"):
        poisoning.flip_labels(x, y + 5, rate=0.1)
    with pytest.raises(TypeError, match="integer"):
        poisoning.flip_labels(x, y.astype(float), rate=0.1)
    with pytest.raises(ValueError, match="y must have 5 labels"):
        poisoning.flip_labels(x[:5], y, rate=0.1)


# -------------------------------------------------------------------------- the trigger and BadNets


@pytest.fixture
def images():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(120, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 120)
    return x, y


@pytest.mark.parametrize(
    ("options", "rows", "cols"),
    [
        ({}, slice(0, 4), slice(0, 4)),
        ({"position": "bottom-right", "margin": 1}, slice(23, 27), slice(23, 27)),
        ({"position": "top-right", "size": 3}, slice(0, 3), slice(25, 28)),
        ({"position": "bottom-left", "size": 5, "margin": 2}, slice(21, 26), slice(2, 7)),
        ({"position": "center", "size": 6}, slice(11, 17), slice(11, 17)),
        ({"position": (5, 9), "size": 2}, slice(5, 7), slice(9, 11)),
    ],
)
def test_trigger_is_placed_where_asked_and_nowhere_else(images, options, rows, cols):
    x, _ = images
    out = poisoning.add_trigger(x, **options)
    expected_mask = np.zeros((28, 28), bool)
    expected_mask[rows, cols] = True
    np.testing.assert_array_equal(poisoning.trigger_mask(x.shape[1:], **options), expected_mask)
    patch = poisoning.trigger_patch(size=options.get("size", 4))
    np.testing.assert_array_equal(
        out[:, rows, cols, 0], np.broadcast_to(patch, (len(x), *patch.shape))
    )
    np.testing.assert_array_equal(out[:, ~expected_mask], x[:, ~expected_mask])


@pytest.mark.parametrize(
    ("pattern", "value", "lit"),
    [("checkerboard", 1.0, 8), ("square", 0.5, 16), (np.eye(4), 1.0, 4)],
)
def test_trigger_patterns(pattern, value, lit):
    patch = poisoning.trigger_patch(size=4, pattern=pattern, value=value)
    assert patch.shape == (4, 4) and np.count_nonzero(patch) == lit
    assert patch.max() == pytest.approx(value)


def test_trigger_accepts_images_without_channel_axis_and_never_aliases(images):
    x, _ = images
    x3 = x[..., 0].copy()
    before = x3.copy()
    out = poisoning.add_trigger(x3, size=3)
    assert out.shape == x3.shape and out.dtype == x3.dtype
    assert not np.shares_memory(out, x3)
    np.testing.assert_array_equal(x3, before)
    np.testing.assert_array_equal(out, poisoning.add_trigger(x, size=3)[..., 0])


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"size": 29}, ValueError, "does not fit"),
        ({"position": (26, 26)}, ValueError, "does not fit"),
        ({"position": (-1, 0)}, ValueError, "does not fit"),
        ({"position": "middle"}, ValueError, "position"),
        ({"position": (1.5, 2)}, TypeError, "position"),
        ({"pattern": "stripes"}, ValueError, "pattern"),
        ({"value": 2.0}, ValueError, "value"),
        ({"size": 0}, ValueError, "size"),
        ({"colour": "red"}, TypeError, "unknown trigger option"),
    ],
)
def test_bad_trigger_options(images, options, error, match):
    x, _ = images
    with pytest.raises(error, match=match):
        poisoning.add_trigger(x, **options)


def test_trigger_needs_float_images():
    with pytest.raises(TypeError, match="float"):
        poisoning.add_trigger(np.zeros((2, 28, 28), "uint8"))
    with pytest.raises(ValueError, match="x must have 3 or 4 dimensions"):
        poisoning.add_trigger(np.zeros((28, 28), "float32"))


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.1, 0.5])
def test_badnets_touches_exactly_idx_at_the_rate(images, rate):
    x, y = images
    x0, y0 = x.copy(), y.copy()
    xp, yp, idx = poisoning.badnets(x, y, target=3, rate=rate, seed=0)
    assert len(idx) == round(rate * len(x))  # a share of the WHOLE set
    assert np.all(y[idx] != 3) and np.all(yp[idx] == 3)
    changed = np.flatnonzero(np.any(xp != x, axis=(1, 2, 3)) | (yp != y))
    np.testing.assert_array_equal(changed, idx)
    np.testing.assert_array_equal(xp[idx], poisoning.add_trigger(x[idx]))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert not np.shares_memory(xp, x) and not np.shares_memory(yp, y)


def test_badnets_is_seeded_and_passes_trigger_options(images):
    x, y = images
    a = poisoning.badnets(x, y, target=1, rate=0.2, seed=4, size=2, position="center")
    b = poisoning.badnets(x, y, target=1, rate=0.2, seed=4, size=2, position="center")
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(
        a[0][a[2]], poisoning.add_trigger(x[a[2]], size=2, position="center")
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(target=0, rate=1.2), ValueError, "rate"),
        (dict(target=0, rate=-0.01), ValueError, "rate"),
        (dict(target=0, rate=0.95), ValueError, "only"),
        (dict(target=10, rate=0.1), ValueError, "target"),
        (dict(target=0, rate=0.1, size=40), ValueError, "does not fit"),
    ],
)
def test_badnets_bad_input(images, kwargs, error, match):
    x, y = images
    with pytest.raises(error, match=match):
        poisoning.badnets(x, y, **kwargs)


def _constant_model(cls, num_classes=10):
    import keras

    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(num_classes)]
    )
    kernel, bias = model.layers[-1].get_weights()
    bias[cls] = 5.0
    model.layers[-1].set_weights([np.zeros_like(kernel), bias])
    return model


@pytest.mark.parametrize(("predicted", "target", "expected"), [(4, 4, 1.0), (4, 2, 0.0)])
def test_backdoor_success_rate_leaves_out_the_target_class(images, predicted, target, expected):
    x, y = images
    assert (
        poisoning.backdoor_success_rate(_constant_model(predicted), x, y, target=target) == expected
    )
    with pytest.raises(ValueError, match="no test inputs outside class"):
        poisoning.backdoor_success_rate(
            _constant_model(predicted), x[y == target], y[y == target], target=target
        )


def test_label_consistent_keeps_labels_and_poisons_only_the_target_class(trained_mlp, digits):
    (x, y), _ = digits
    x, y = x[:300], y[:300]
    x0 = x.copy()
    eps = 0.1
    xp, yp, idx = poisoning.label_consistent(
        trained_mlp, x, y, target=7, rate=0.05, eps=eps, steps=5, seed=0
    )
    assert len(idx) == round(0.05 * len(x)) and np.all(y[idx] == 7)
    np.testing.assert_array_equal(yp, y)
    np.testing.assert_array_equal(x, x0)
    untouched = np.setdiff1d(np.arange(len(x)), idx)
    np.testing.assert_array_equal(xp[untouched], x[untouched])
    mask = poisoning.trigger_mask(x.shape[1:])
    np.testing.assert_array_equal(xp[idx][:, mask], poisoning.add_trigger(x[idx])[:, mask])
    off = np.abs(xp[idx][:, ~mask] - x[idx][:, ~mask])
    assert off.max() <= eps + 1e-6 and off.max() > 0  # perturbed, within the budget
    with pytest.raises(ValueError, match="target class"):
        poisoning.label_consistent(trained_mlp, x, y, target=7, rate=0.5, eps=eps, steps=2)
