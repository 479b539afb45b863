"""Common corruptions: ranges, seeds, no mutation, and damage that grows with severity."""

from __future__ import annotations

import numpy as np
import pytest

from modelsec_edu.data import corruptions, signs


@pytest.fixture(scope="module")
def images():
    x, _, _ = signs.render_signs(24, seed=0)
    return x


@pytest.mark.parametrize("name", sorted(corruptions.CORRUPTIONS))
def test_range_shape_seed_and_no_mutation(images, name):
    before = images.copy()
    a = corruptions.corrupt(images, name, 3, seed=1)
    b = corruptions.corrupt(images, name, 3, seed=1)
    np.testing.assert_array_equal(images, before)
    assert a.shape == images.shape and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - images).mean() > 1e-3, "severity 3 changes the images"


@pytest.mark.parametrize("name", sorted(corruptions.CORRUPTIONS))
def test_damage_grows_with_severity(images, name):
    dist = [np.abs(corruptions.corrupt(images, name, s, seed=2) - images).mean() for s in range(6)]
    assert dist[0] == 0.0
    assert dist[5] > dist[1], f"{name}: severity 5 is further from the clean image than severity 1"
    assert np.all(np.diff(dist) > -0.01), f"{name}: damage does not fall between severities: {dist}"


BAD = {
    "unknown name": (("snow", 1), ValueError),
    "severity 6": (("fog", 6), ValueError),
    "severity float": (("fog", 2.0), TypeError),
    "name int": ((3, 1), TypeError),
}


@pytest.mark.parametrize("args,error", BAD.values(), ids=BAD.keys())
def test_bad_arguments(images, args, error):
    with pytest.raises(error):
        corruptions.corrupt(images, *args)


def test_refuses_images_outside_unit_range(images):
    with pytest.raises(ValueError):
        corruptions.corrupt(images * 2.0, "fog", 1)
    with pytest.raises(ValueError):
        corruptions.corrupt(images[..., :1], "fog", 1)
