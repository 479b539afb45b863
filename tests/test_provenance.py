import numpy as np
import pytest

from modelsec_edu import poisoning


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(50, 28, 28, 1)).astype("float32"), rng.integers(0, 10, 50)


@pytest.mark.parametrize("seed", range(8))
def test_one_flipped_bit_in_one_pixel_is_noticed(data, seed):
    x, y = data
    digests = poisoning.sample_digests(x, y)
    rng = np.random.default_rng(seed)
    i, flat, bit = rng.integers(len(x)), rng.integers(x[0].size), rng.integers(32)
    x2 = x.copy()
    x2.reshape(len(x), -1).view(np.uint32)[i, flat] ^= np.uint32(1 << int(bit))
    np.testing.assert_array_equal(poisoning.changed_samples(x2, y, digests), [i])
    assert poisoning.dataset_digest(x2, y) != poisoning.dataset_digest(x, y)


def test_a_changed_label_is_noticed_and_order_matters(data):
    x, y = data
    digests = poisoning.sample_digests(x, y)
    y2 = y.copy()
    y2[7] = (y2[7] + 1) % 10
    np.testing.assert_array_equal(poisoning.changed_samples(x, y2, digests), [7])
    swapped = np.arange(len(x))
    swapped[[0, 1]] = [1, 0]
    assert poisoning.dataset_digest(x[swapped], y[swapped]) != poisoning.dataset_digest(x, y)


def test_digests_are_stable_and_unchanged_data_passes(data):
    x, y = data
    assert poisoning.dataset_digest(x, y) == poisoning.dataset_digest(x.copy(), y.copy())
    assert len(poisoning.changed_samples(x, y, poisoning.sample_digests(x, y))) == 0
    assert poisoning.sample_digests(x, y).shape == (len(x),)


def test_added_samples_and_bad_input(data):
    x, y = data
    digests = poisoning.sample_digests(x, y)
    with pytest.raises(ValueError, match="added or removed"):
        poisoning.changed_samples(np.concatenate([x, x[:1]]), np.concatenate([y, y[:1]]), digests)
    with pytest.raises(ValueError, match="y must have"):
        poisoning.sample_digests(x, y[:-1])
