"""Chapter 03's widgets, headless: set a control, check the picture, the numbers and the status."""

import numpy as np
import pytest

from modelsec_edu import evasion, models
from modelsec_edu.models.recipes import default_step_size
from modelsec_edu.widgets import attacks as attack_widgets


@pytest.fixture(scope="module")
def explorer(trained_mlp, digits):
    _, (xte, yte) = digits
    return attack_widgets.attack_explorer(trained_mlp, xte[:8], yte[:8])


def _set(panel, control, value):
    png, text = panel.fig.image.value, panel.status.value
    control.value = value
    return panel.fig.image.value != png, panel.status.value != text


@pytest.mark.parametrize(
    ("attack", "norm"),
    [
        ("FGSM", "linf"),
        ("FGSM", "l2"),
        ("PGD", "l2"),
        ("DeepFool", "l2"),
        ("DeepFool", "linf"),
        ("Square", "linf"),
    ],
)
def test_every_attack_and_norm_redraws(explorer, attack, norm):
    attack_c, norm_c = explorer.controls[:2]
    norm_c.value = norm
    attack_c.value = attack
    assert attack in explorer.status.value
    assert "&rarr;" in explorer.status.value and "(" in explorer.status.value
    assert bytes(explorer.fig.image.value).startswith(b"\x89PNG")


def test_eps_moves_the_picture_and_the_norms(explorer):
    attack_c, norm_c, eps_inf = explorer.controls[:3]
    attack_c.value, norm_c.value = "PGD", "linf"
    eps_inf.value = 0.05
    changed_png, changed_text = _set(explorer, eps_inf, 0.2)
    assert changed_png and changed_text
    assert "0.200" in explorer.status.value  # the L-inf norm of a PGD perturbation is eps
    eps_inf.value = 0.0
    assert "no perturbation" not in explorer.status.value or "0.000" in explorer.status.value


def test_square_with_l2_runs_linf_and_says_so(explorer):
    attack_c, norm_c = explorer.controls[:2]
    norm_c.value = "l2"
    attack_c.value = "Square"
    assert "L&#8734;" in explorer.status.value or "L\u221e only" in explorer.status.value


def test_run_attack_table(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:16], yte[:16]
    for attack in attack_widgets.ATTACKS:
        x_adv = attack_widgets.run_attack(
            trained_mlp, x, y, attack=attack, eps=0.2, steps=10, norm="linf"
        )
        assert (
            x_adv.shape == x.shape and np.abs(x_adv - x).max() <= 0.2 + 1e-6 or attack == "DeepFool"
        )
        assert models.accuracy(trained_mlp, x_adv, y) < models.accuracy(trained_mlp, x, y)
    with pytest.raises(ValueError, match="attack"):
        attack_widgets.run_attack(trained_mlp, x, y, attack="CW", eps=0.1, steps=1, norm="linf")
    with pytest.raises(ValueError, match="L-inf only"):
        attack_widgets.run_attack(trained_mlp, x, y, attack="Square", eps=0.1, steps=1, norm="l2")


def test_security_curves_panel(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:24], yte[:24]
    fns = evasion.standard_attacks(steps=5, queries=40)
    panel = attack_widgets.security_curves(
        {"mlp": trained_mlp}, x, y, eps_values=(0.0, 0.1, 0.25), attack_fns=fns, n_show=3
    )
    curves = panel.results["curves"]["mlp"]
    assert set(curves) == set(fns) and all(len(c) == 3 for c in curves.values())
    eps_c = panel.controls[0]
    png = panel.fig.image.value
    assert eps_c.value == 0.25
    eps_c.value = 0.1
    assert panel.fig.image.value != png and "0.1" in panel.status.value
    with pytest.raises(ValueError, match="at least one model"):
        attack_widgets.security_curves({}, x, y)
    with pytest.raises(ValueError, match="grey images"):
        attack_widgets.attack_explorer(trained_mlp, x.reshape(24, -1), y)


@pytest.mark.parametrize(
    ("attack", "norm", "off"),
    [
        ("PGD", "linf", {"eps_l2"}),
        ("PGD", "l2", {"eps_linf"}),
        ("FGSM", "linf", {"eps_l2", "steps"}),
        ("DeepFool", "l2", {"eps_linf", "eps_l2"}),
        ("Square", "l2", {"norm", "eps_l2"}),
    ],
)
def test_a_control_that_cannot_change_the_picture_is_disabled(explorer, attack, norm, off):
    attack_c, norm_c, eps_inf, eps_2, steps, index = explorer.controls
    eps_inf.value, eps_2.value = 0.1, 1.5  # at eps = 0 nothing moves the picture but eps itself
    norm_c.value, attack_c.value = norm, attack
    named = {"norm": norm_c, "eps_linf": eps_inf, "eps_l2": eps_2, "steps": steps}
    assert {n for n, c in named.items() if c.disabled} == off
    assert not attack_c.disabled and not index.disabled
    live = [c for n, c in named.items() if n not in off and n != "norm"]
    for control in live:  # and every live one does change it
        options = getattr(control, "options", None)
        new = options[0] if options else control.max  # never eps = 0, where steps do nothing
        if control.value == new:
            new = options[-1] if options else control.max / 2
        changed_png, _ = _set(explorer, control, new)
        assert changed_png or attack == "Square", control.description


def test_the_picture_is_shown_at_its_natural_size(explorer):
    natural = explorer.fig.natural_width()
    assert natural == round(explorer.fig.figure.get_figwidth() * explorer.fig.figure.dpi)
    assert explorer.fig.image.layout.width == f"{natural}px"
    assert explorer.fig.image.layout.max_width == "100%"


def test_the_l2_budget_is_off_from_the_start_while_the_norm_is_linf(trained_mlp, digits):
    """Issue 9's browser finding: a fresh explorer (L-inf) showed a live "eps (L2)" slider."""
    _, (xte, yte) = digits
    panel = attack_widgets.attack_explorer(trained_mlp, xte[:2], yte[:2])
    attack_c, norm_c, eps_inf, eps_2 = panel.controls[:4]
    assert (attack_c.value, norm_c.value) == ("PGD", "linf")
    assert eps_2.disabled and not eps_inf.disabled
    png = panel.fig.image.value
    eps_2.value = eps_2.max  # a disabled slider moved by code changes nothing on the picture
    assert panel.fig.image.value == png
    norm_c.value = "l2"
    assert not eps_2.disabled and eps_inf.disabled
    norm_c.value = "linf"
    assert eps_2.disabled and not eps_inf.disabled


def test_pgd_in_the_explorer_uses_the_course_step_size(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:4], yte[:4]
    got = attack_widgets.run_attack(trained_mlp, x, y, attack="PGD", eps=0.1, steps=5, norm="linf")
    want = evasion.pgd(trained_mlp, x, y, eps=0.1, step_size=default_step_size(0.1, 5), steps=5,
                       seed=0)  # fmt: skip
    np.testing.assert_array_equal(got, want)
