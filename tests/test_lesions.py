"""Synthetic ABCD lesions: seeded, in range, and the two classes differ the way the rule says."""

import numpy as np
import pytest

from modelsec_edu.data.lesions import CLASS_NAMES, make_lesions


def test_seeded_shapes_and_range():
    x, y = make_lesions(40, size=32, seed=3)
    x2, y2 = make_lesions(40, size=32, seed=3)
    assert x.shape == (40, 32, 32, 3) and x.dtype == np.float32 and y.shape == (40,)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.min() >= 0 and x.max() <= 1
    assert not np.array_equal(x, make_lesions(40, size=32, seed=4)[0])
    assert all("synthetic" in name for name in CLASS_NAMES)


def test_malignant_lesions_are_more_colourful_and_less_symmetric():
    x, y = make_lesions(200, seed=0)
    assert 0.3 < y.mean() < 0.7
    dark = x.mean(axis=-1) < 0.5  # the lesion: darker than skin
    spread = np.array([img[m].std(axis=0).sum() if m.any() else 0 for img, m in zip(x, dark)])
    asym = np.array([np.abs(m.astype(float) - m[:, ::-1]).mean() for m in dark])
    assert spread[y == 1].mean() > 1.5 * spread[y == 0].mean()  # C: colour variegation
    assert asym[y == 1].mean() > 1.5 * asym[y == 0].mean()  # A: asymmetry


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n": 0}, ValueError),
        ({"size": 8}, ValueError),
        ({"malignant_fraction": 1.5}, ValueError),
        ({"n": 2.5}, TypeError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        make_lesions(**kwargs)
