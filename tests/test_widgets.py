"""Widget factories, headless: set a control's value and check the view and the numbers changed."""

import re

import numpy as np
import pytest

from modelsec_edu import models
from modelsec_edu.models import loss
from modelsec_edu.widgets import concepts


def _moves(panel, value):
    """Set the first control; True when both the picture and the status line changed."""
    png, text = panel.fig.image.value, panel.status.value
    panel.controls[0].value = value
    return panel.fig.image.value != png and panel.status.value != text


def _percent(status, after):
    return float(re.search(after + r".*?([\d.]+)%", status).group(1))


@pytest.fixture(scope="module")
def flip_panel(digits):
    (xtr, ytr), (xte, yte) = digits
    return concepts.label_flip_explorer(
        models.article_mlp, xtr[:400], ytr[:400], xte[:150], yte[:150], rates=(0.9, 0.0), epochs=3
    )


@pytest.mark.backend
def test_fgsm_explorer_reacts_to_eps(trained_mlp, digits):
    _, (xte, yte) = digits
    panel = concepts.fgsm_explorer(trained_mlp, xte[:16], yte[:16], n_show=4)
    assert bytes(panel.fig.image.value).startswith(b"\x89PNG")
    assert panel.controls[0].continuous_update is False
    assert _moves(panel, 0.2)
    assert "0.20" in panel.status.value and "51/255" in panel.status.value
    clean = _percent(panel.status.value, "images")
    attacked = _percent(panel.status.value, "&rarr;")
    assert attacked < clean
    assert panel.last_latency > 0


def test_fgsm_explorer_at_eps_zero_keeps_the_predictions(trained_mlp, digits):
    _, (xte, yte) = digits
    panel = concepts.fgsm_explorer(trained_mlp, xte[:16], yte[:16])
    _moves(panel, 0.1)
    panel.controls[0].value = 0.0
    assert _percent(panel.status.value, "images") == _percent(panel.status.value, "&rarr;")


def test_weight_noise_explorer_never_touches_the_model(trained_mlp, digits):
    _, (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    panel = concepts.weight_noise_explorer(trained_mlp, xte[:100], yte[:100])
    assert _moves(panel, 1.5)
    assert "1.50" in panel.status.value
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weight_noise_explorer_at_zero_is_the_clean_accuracy(trained_mlp, digits):
    _, (xte, yte) = digits
    panel = concepts.weight_noise_explorer(trained_mlp, xte[:100], yte[:100], max_scale=1.0)
    clean = models.accuracy(trained_mlp, xte[:100], yte[:100])
    assert _percent(panel.status.value, "&rarr;") == pytest.approx(clean * 100, abs=0.05)
    panel.controls[0].value = 1.0
    assert _percent(panel.status.value, "&rarr;") < clean * 100


@pytest.mark.backend
def test_gradient_walk_shows_the_loss_at_t(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[0], int(yte[0])
    panel = concepts.gradient_walk(trained_mlp, x, y)
    clean = float(loss.cross_entropy(models.predict_logits(trained_mlp, x[None]), np.array([y]))[0])
    assert float(re.search(r"loss <b>([\d.]+)", panel.status.value).group(1)) == pytest.approx(
        clean, abs=1e-3
    )
    assert _moves(panel, 0.15)
    assert "+0.15" in panel.status.value
    assert float(re.search(r"loss <b>([\d.]+)", panel.status.value).group(1)) > clean


def test_label_flip_explorer_precomputes_and_moves(flip_panel):
    assert flip_panel.controls[0].options == (0.0, 0.9)  # sorted
    np.testing.assert_array_equal(flip_panel.results["rate"], [0.0, 0.9])
    accs = flip_panel.results["accuracy"]
    assert accs.shape == (2,) and ((accs >= 0) & (accs <= 1)).all()
    clean = _percent(flip_panel.status.value, "&rarr;")
    assert _moves(flip_panel, 0.9)
    assert "90%" in flip_panel.status.value
    assert _percent(flip_panel.status.value, "&rarr;") < clean


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda m: concepts.fgsm_explorer(m, np.zeros((0, 28, 28, 1)), np.zeros(0, int)),
            ValueError,
            "x must hold at least 1 sample",
        ),
        (
            lambda m: concepts.fgsm_explorer(m, np.zeros((2, 28, 28, 1)), np.zeros(3, int)),
            ValueError,
            "2 labels",
        ),
        (
            lambda m: concepts.fgsm_explorer(m, np.zeros((2, 28, 28)), np.zeros(2, int)),
            ValueError,
            "grey images",
        ),
        (
            lambda m: concepts.weight_noise_explorer(
                m, np.zeros((2, 28, 28, 1)), np.zeros(2, int), max_scale=0
            ),
            ValueError,
            "max_scale",
        ),
        (
            lambda m: concepts.gradient_walk(m, np.zeros((28, 28, 1)), 10),
            ValueError,
            r"y must be an int in \[0, 9\]",
        ),
        # a float label is the wrong kind: a TypeError (the rule of validation.py)
        (lambda m: concepts.gradient_walk(m, np.zeros((28, 28, 1)), 2.5), TypeError, "y must"),
        (
            lambda m: concepts.weight_noise_explorer(m, np.zeros((2, 28, 28, 1)), np.zeros(2)),
            TypeError,
            "y_test must hold integer class labels",
        ),
        (
            lambda m: concepts.label_flip_curve(
                models.article_mlp,
                *[np.zeros((2, 28, 28, 1)), np.zeros(2, int)] * 2,
                rates=[],
                epochs=1,
            ),
            ValueError,
            "rates",
        ),
    ],
)
def test_bad_inputs(trained_mlp, make, error, match):
    with pytest.raises(error, match=match):
        make(trained_mlp)
