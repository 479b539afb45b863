"""Widget factories, headless: set a control's value and check the view changed."""

import numpy as np
import pytest

from modelsec_edu import models
from modelsec_edu.widgets import concepts


def _moves(panel, value):
    png, text = panel.fig.image.value, panel.status.value
    panel.controls[0].value = value
    return panel.fig.image.value != png and panel.status.value != text


def test_fgsm_explorer_reacts_to_eps(trained_mlp, digits):
    _, (xte, yte) = digits
    panel = concepts.fgsm_explorer(trained_mlp, xte[:16], yte[:16])
    assert bytes(panel.fig.image.value).startswith(b"\x89PNG")
    assert _moves(panel, 0.2)
    assert "0.20" in panel.status.value
    assert panel.controls[0].continuous_update is False


def test_weight_noise_explorer_never_touches_the_model(trained_mlp, digits):
    _, (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    panel = concepts.weight_noise_explorer(trained_mlp, xte[:100], yte[:100])
    assert _moves(panel, 1.0)
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gradient_walk(trained_mlp, digits):
    _, (xte, yte) = digits
    panel = concepts.gradient_walk(trained_mlp, xte[0], int(yte[0]))
    assert _moves(panel, 0.15)
    assert "+0.15" in panel.status.value


def test_label_flip_explorer_precomputes_and_moves(digits):
    (xtr, ytr), (xte, yte) = digits
    panel = concepts.label_flip_explorer(
        models.article_mlp, xtr[:300], ytr[:300], xte[:100], yte[:100], rates=(0.0, 0.9), epochs=1
    )
    assert _moves(panel, 0.9)
    assert "90%" in panel.status.value


def test_fgsm_explorer_needs_images(trained_mlp):
    with pytest.raises(ValueError, match="at least one"):
        concepts.fgsm_explorer(trained_mlp, np.zeros((0, 28, 28, 1)), np.zeros(0, int))
