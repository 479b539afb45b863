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
    np.testing.assert_array_equal(changed, idx)  # every touched label really changed, and only those
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
    with pytest.raises(ValueError, match="labels"):
        poisoning.flip_labels(x, y + 5, rate=0.1)
    with pytest.raises(TypeError, match="integer"):
        poisoning.flip_labels(x, y.astype(float), rate=0.1)
    with pytest.raises(ValueError, match="same length"):
        poisoning.flip_labels(x[:5], y, rate=0.1)
