"""Evaluation helpers: exact figures on a model with known answers, and the masking checklist."""

import keras
import numpy as np
import pytest

from modelsec_edu import evasion


@pytest.fixture(scope="module")
def sign_model():
    """Two classes decided by the sign of the first feature: class 1 when x0 > 0.5."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.set_weights(
        [np.array([[-10.0, 10.0], [0, 0], [0, 0]], "float32"), np.array([5.0, -5.0], "float32")]
    )
    return model


def _rows(*x0):
    x = np.full((len(x0), 3), 0.5, "float32")
    x[:, 0] = x0
    return x


def test_robust_accuracy_and_success_rate_count_exactly(sign_model):
    x = _rows(0.1, 0.2, 0.9, 0.8)  # predicted 0, 0, 1, 1
    y = np.array([0, 1, 1, 1])  # the second input is wrong from the start
    x_adv = _rows(0.9, 0.1, 0.9, 0.2)  # flips the first and the last
    assert evasion.robust_accuracy(sign_model, x, x_adv, y) == pytest.approx(1 / 4)
    # three inputs were right; the attack flipped two of them
    assert evasion.attack_success_rate(sign_model, x, x_adv, y) == pytest.approx(2 / 3)
    target = np.array([1, 0, 0, 0])  # the second input already answers its target
    assert evasion.attack_success_rate(
        sign_model, x, x_adv, target, targeted=True
    ) == pytest.approx(2 / 3)
    assert np.isnan(
        evasion.attack_success_rate(sign_model, x, x, np.array([1, 1, 0, 0]))
    )  # nothing was right


def test_norm_stats_and_where():
    x = np.zeros((3, 2), "float32")
    x_adv = np.array([[0.3, 0.4], [0.1, 0.0], [0.0, 0.0]], "float32")
    s = evasion.norm_stats(x, x_adv)
    assert s["l2"]["max"] == pytest.approx(0.5) and s["linf"]["max"] == pytest.approx(0.4)
    assert s["l2"]["median"] == pytest.approx(0.1) and s["l2"]["min"] == 0.0
    only = evasion.norm_stats(x, x_adv, where=[True, False, False])
    assert only["l2"]["mean"] == pytest.approx(0.5)
    assert np.isnan(evasion.norm_stats(x, x_adv, where=[False] * 3)["l2"]["mean"])
    with pytest.raises(ValueError, match="where"):
        evasion.norm_stats(x, x_adv, where=[True])


def test_accuracy_from_norms(sign_model):
    x = _rows(0.8, 0.9, 0.95)
    y = np.array([1, 1, 1])
    x_adv = _rows(0.4, 0.45, 0.95)  # fooled with changes 0.4 and 0.45; the last not at all
    acc = evasion.accuracy_from_norms(sign_model, x, x_adv, y, [0.0, 0.4, 0.45, 1.0], norm="linf")
    np.testing.assert_allclose(acc, [1.0, 2 / 3, 1 / 3, 1 / 3])


def test_security_curve_starts_at_clean_accuracy_and_falls(trained_mlp, digits):
    _, (x, y) = digits
    x, y = x[:40], y[:40]
    eps = [0.0, 0.05, 0.25]
    curves = evasion.security_curve(
        trained_mlp, x, y, eps, evasion.standard_attacks(steps=5, queries=100), progress=False
    )
    assert set(curves) == {"FGSM", "PGD-5", "Square-100"}
    clean = evasion.robust_accuracy(trained_mlp, x, x, y)
    for name, acc in curves.items():
        assert acc.shape == (3,) and acc[0] == pytest.approx(clean)
        assert acc[2] < acc[0] - 0.3, name
    assert curves["PGD-5"][2] <= curves["FGSM"][2] + 0.05
    assert set(evasion.standard_attacks(norm="l2")) == {"FGM (L2)", "PGD-20"}


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, x, y: evasion.security_curve(m, x, y, [0.1], {}), ValueError, "attack"),
        (
            lambda m, x, y: evasion.security_curve(m, x, y, [-0.1], evasion.standard_attacks()),
            ValueError,
            "eps",
        ),
        (lambda m, x, y: evasion.robust_accuracy(m, x, x[:2], y), ValueError, "shape"),
        (lambda m, x, y: evasion.robust_accuracy(m, x, x, y[:2]), ValueError, "y must have"),
        (lambda m, x, y: evasion.masking_checklist(m, x, y, eps=0.0), ValueError, "eps"),
        (
            lambda m, x, y: evasion.masking_checklist(m, x, y, eps=0.1, norm="l1"),
            ValueError,
            "norm",
        ),
        (lambda m, x, y: evasion.standard_attacks(norm="l3"), ValueError, "norm"),
    ],
)
def test_bad_input(trained_mlp, digits, call, error, match):
    _, (x, y) = digits
    with pytest.raises(error, match=match):
        call(trained_mlp, x[:4], y[:4])


@pytest.fixture(scope="module")
def checklists(trained_mlp, digits):
    _, (x, y) = digits
    x, y = x[:60], y[:60]
    kw = dict(eps=0.2, steps=10, queries=150)
    plain = evasion.masking_checklist(trained_mlp, x, y, **kw)
    masked = evasion.masking_checklist(evasion.quantized(trained_mlp, levels=8), x, y, **kw)
    return plain, masked


def test_checklist_passes_the_undefended_model(checklists):
    plain, _ = checklists
    assert plain.passed, str(plain)
    assert "no sign of gradient masking" in str(plain)


def test_checklist_flags_gradient_masking(checklists):
    _, masked = checklists
    failed = {c.name for c in masked if not c.passed}
    assert not masked.passed
    assert {
        "white-box beats black-box",
        "unbounded eps reaches 0%",
        "the attack beats random noise",
    } <= failed
    assert "FAIL" in str(masked) and "<table>" in masked._repr_html_()
