"""Chapter 00's data explorer, headless: every control changes the picture or is disabled."""

import numpy as np
import pytest

from modelsec_edu.widgets import start


def _data():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.full(30, 1), np.full(5, 2), np.full(3, 7)])
    return rng.random((len(y), 28, 28, 1), dtype=np.float32), y


def test_class_summary_counts_and_means():
    x, y = _data()
    s = start.class_summary(x, y)
    assert s.counts.tolist() == np.bincount(y, minlength=10).tolist()
    np.testing.assert_allclose(s.means[2], x[y == 2, :, :, 0].mean(axis=0), rtol=1e-6)
    assert np.all(s.means[0] == 0)  # a class with no image


def test_controls_redraw_and_the_page_slider_follows_the_class():
    x, y = _data()
    panel = start.data_explorer(x, y)
    choice, page = panel.controls
    first = panel.fig.image.value
    assert "30" in panel.status.value and not page.disabled and page.max == 2
    page.value = 1
    assert panel.fig.image.value != first and "page 2" in panel.fig.figure.texts[0].get_text()
    choice.value = 7  # three images: one page, so the slider is disabled
    assert page.disabled and page.value == 0 and "3</b>" in panel.status.value


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (np.zeros((0, 28, 28)), np.zeros(0, int), ValueError, "x must hold at least 1"),
        (np.zeros((2, 28, 28)), np.zeros(3, int), ValueError, "y must have 2 labels"),
        (np.zeros((2, 28, 28)), np.zeros(2), TypeError, "y must hold integer class labels"),
        (np.zeros((2, 28, 28)), np.array([0, 10]), ValueError, r"y must be in \[0, 9\]"),
    ],
)
def test_bad_inputs(x, y, error, match):
    with pytest.raises(error, match=match):
        start.data_explorer(x, y)
