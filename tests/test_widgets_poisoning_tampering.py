"""Chapter 04/05 widget factories, headless: set a control, check the view and the numbers."""

import re

import numpy as np
import pytest

from modelsec_edu import models, poisoning
from modelsec_edu.widgets import poisoning as poisoning_widgets
from modelsec_edu.widgets import tampering as tampering_widgets


def _percent(status, after):
    return float(re.search(after + r".*?([\d.]+)%", status).group(1))


def _set(panel, i, value):
    """Set control ``i``; True when both the picture and the status line changed."""
    png, text = panel.fig.image.value, panel.status.value
    panel.controls[i].value = value
    return panel.fig.image.value != png and panel.status.value != text


@pytest.fixture(scope="module")
def backdoor_panel(digits):
    (xtr, ytr), (xte, yte) = digits
    sweep = poisoning.backdoor_sweep(
        models.article_mlp,
        xtr[:500],
        ytr[:500],
        xte[:150],
        yte[:150],
        rates=(0.2,),
        sizes=(6,),
        positions=("top-left", "center"),
        epochs=4,
        progress=False,
    )
    return poisoning_widgets.backdoor_explorer(sweep)


def test_backdoor_explorer_moves_through_its_grid(backdoor_panel):
    panel = backdoor_panel
    assert bytes(panel.fig.image.value).startswith(b"\x89PNG")
    assert all(
        c.continuous_update is False for c in panel.controls if hasattr(c, "continuous_update")
    )
    for position in ("center", "top-left"):
        if position != panel.controls[2].value:
            assert _set(panel, 2, position)
        asr, asr_unpoisoned = (
            _percent(panel.status.value, "ASR"),
            _percent(panel.status.value, "unpoisoned model"),
        )
        # 20% poisoned plants the backdoor; the same trigger alone does little
        assert asr > asr_unpoisoned + 30
    assert "recall" in panel.status.value and panel.last_latency > 0


def test_backdoor_explorer_disables_controls_with_one_choice(backdoor_panel):
    rate, size, position, target = backdoor_panel.controls
    assert rate.disabled and size.disabled and target.disabled  # one rate, one size, one target
    assert not position.disabled  # two positions: moving it changes the picture (tested above)


def test_backdoor_explorer_only_displays_a_sweep():
    with pytest.raises(TypeError, match="sweep"):
        poisoning_widgets.backdoor_explorer({"grid": {}})


def test_bit_flip_explorer_measures_accuracy_live(trained_mlp, digits):
    (xtr, ytr), (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    panel = tampering_widgets.bit_flip_explorer(
        trained_mlp, xtr, ytr, xte[:200], yte[:200], max_flips=5, candidates=2
    )
    start = _percent(panel.status.value, "&rarr;")
    assert panel.controls[1].disabled  # no bit flipped yet: random and targeted show the same model
    panel.controls[1].value = "targeted (BFA)"
    assert _set(panel, 0, 5)
    targeted = _percent(panel.status.value, "&rarr;")
    assert not panel.controls[1].disabled
    assert _set(panel, 1, "random")
    panel.controls[1].value = "random"
    random_ = _percent(panel.status.value, "&rarr;")
    assert targeted < random_ - 10 and targeted < start - 10
    assert "last flip" in panel.status.value
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_tamper_then_verify(trained_mlp, digits, tmp_path):
    _, (xte, yte) = digits
    panel = tampering_widgets.tamper_verify_panel(
        trained_mlp, xte[:100], yte[:100], directory=tmp_path, weights_to_try=2
    )
    mode, where, check = panel.controls
    assert "loaded" in panel.status.value
    assert where.disabled  # the untouched file has no bit to choose
    text = panel.status.value
    check.value = False  # the checkbox acts in every mode: the status says how the file was loaded
    assert panel.status.value != text and "without any check" in panel.status.value
    check.value = True
    mode.value = "random bit flipped"
    assert "refused" in panel.status.value
    assert not where.disabled
    png = panel.fig.image.value
    where.value = where.value // 2
    assert panel.fig.image.value != png  # another bit, another digest
    mode.value = "attacker re-saved"
    assert "refused" in panel.status.value
    check.value = False
    assert "loaded" in panel.status.value  # a re-saved zip is valid: only the manifest caught it
    mode.value = "random bit flipped"
    assert "refused" not in panel.status.value
