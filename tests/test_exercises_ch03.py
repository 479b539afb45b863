"""Chapter 03's checks: each returns False on a wrong answer and True on the library's own."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion
from modelsec_edu.evasion import norms
from modelsec_edu.exercises import ch03


def _pgd(model, x, y, eps, step_size, steps):
    return evasion.pgd(
        model,
        x,
        y,
        eps=eps,
        step_size=step_size,
        steps=steps,
        random_start=False,
        precision="float32",
    )


def _pgd_keras_ops(model, x, y, eps, step_size, steps):  # what the chapter's from-scratch cell does
    def loss(xa):
        per = keras.ops.sparse_categorical_crossentropy(y, model(xa), from_logits=True)
        return keras.ops.sum(per), per

    grad = backend.value_and_grad(loss)
    xa = keras.ops.convert_to_tensor(x)
    for _ in range(steps):
        _, _, g = grad(xa)
        xa = keras.ops.clip(xa + step_size * keras.ops.sign(g), x - eps, x + eps)
        xa = keras.ops.clip(xa, 0.0, 1.0)
    return keras.ops.convert_to_numpy(xa)


def _pgd_l2(model, x, y, eps, step_size, steps):
    return evasion.pgd(model, x, y, eps=eps, step_size=step_size, steps=steps, norm="l2",
                       random_start=False, precision="float32")  # fmt: skip


def _pgd_l2_by_hand(model, x, y, eps, step_size, steps, *, direction="l2", project="l2"):
    """L2 PGD in NumPy, the chapter's solution; the keywords make it wrong on purpose."""

    def unit(g):
        if direction == "linf":
            return np.sign(g)
        n = np.linalg.norm(g.reshape(len(g), -1), axis=1).reshape(-1, 1, 1, 1)
        return g / (n + 1e-12)

    def onto_ball(d):
        if project == "pixel":
            return np.clip(d, -eps, eps)
        if project == "batch":
            return d * min(1.0, eps / np.linalg.norm(d))
        if project == "none":
            return d
        n = np.linalg.norm(d.reshape(len(d), -1), axis=1).reshape(-1, 1, 1, 1)
        return d * np.minimum(1.0, eps / (n + 1e-12))

    xa = x.copy()
    for _ in range(steps):
        g = backend.input_gradient(model, xa, y)[1]
        xa = np.clip(x + onto_ball(xa + step_size * unit(g) - x), 0.0, 1.0)
    return xa


def _project(delta, eps):
    return keras.ops.convert_to_numpy(norms.project(keras.ops.convert_to_tensor(delta), eps, "l2"))


def _fgsm_via_pgd(model, x, y, eps):
    return evasion.pgd(
        model, x, y, eps=eps, step_size=eps, steps=1, random_start=False, precision="float32"
    )


def _no_projection(model, x, y, eps, step_size, steps):
    return np.clip(x + steps * step_size * np.sign(backend.input_gradient(model, x, y)[1]), 0, 1)


RIGHT = {
    "pgd (library)": (ch03.check_pgd, _pgd),
    "pgd (keras.ops)": (ch03.check_pgd, _pgd_keras_ops),
    "project l2": (ch03.check_project_l2, _project),
    "pgd l2 (library)": (ch03.check_pgd_l2, _pgd_l2),
    "pgd l2 (by hand)": (ch03.check_pgd_l2, _pgd_l2_by_hand),
    "fgsm via pgd": (ch03.check_fgsm_via_pgd, _fgsm_via_pgd),
    "masking item": (ch03.check_masking_item, "white-box"),
    "headline": (ch03.check_headline, "c"),
}

WRONG = {
    "pgd: no projection": (ch03.check_pgd, _no_projection),
    "pgd: random start": (
        ch03.check_pgd,
        lambda m, x, y, e, a, s: evasion.pgd(m, x, y, eps=e, step_size=a, steps=s, seed=0),
    ),
    "pgd: one step": (ch03.check_pgd, lambda m, x, y, e, a, s: _pgd(m, x, y, e, a, 1)),
    "pgd: returns x": (ch03.check_pgd, lambda m, x, y, e, a, s: x),
    "pgd l2: sign steps": (
        ch03.check_pgd_l2,
        lambda m, x, y, e, a, s: _pgd_l2_by_hand(m, x, y, e, a, s, direction="linf"),
    ),
    "pgd l2: clips each pixel": (
        ch03.check_pgd_l2,
        lambda m, x, y, e, a, s: _pgd_l2_by_hand(m, x, y, e, a, s, project="pixel"),
    ),
    "pgd l2: one norm for the batch": (
        ch03.check_pgd_l2,
        lambda m, x, y, e, a, s: _pgd_l2_by_hand(m, x, y, e, a, s, project="batch"),
    ),
    "pgd l2: no projection": (
        ch03.check_pgd_l2,
        lambda m, x, y, e, a, s: _pgd_l2_by_hand(m, x, y, e, a, s, project="none"),
    ),
    "pgd l2: random start": (
        ch03.check_pgd_l2,
        lambda m, x, y, e, a, s: evasion.pgd(
            m, x, y, eps=e, step_size=a, steps=s, norm="l2", seed=0
        ),
    ),
    "pgd l2: the L-inf attack": (ch03.check_pgd_l2, _pgd),
    "pgd l2: returns x": (ch03.check_pgd_l2, lambda m, x, y, e, a, s: x),
    "project: always rescales": (
        ch03.check_project_l2,
        lambda d, e: e * d / np.linalg.norm(d.reshape(len(d), -1), axis=1).reshape(-1, 1, 1, 1),
    ),
    "project: clips each pixel": (ch03.check_project_l2, lambda d, e: np.clip(d, -e, e)),
    "project: one norm for the batch": (
        ch03.check_project_l2,
        lambda d, e: d * min(1, e / np.linalg.norm(d)),
    ),
    "fgsm via pgd: random start": (
        ch03.check_fgsm_via_pgd,
        lambda m, x, y, e: evasion.pgd(
            m, x, y, eps=e, step_size=e, steps=1, seed=0, precision="float32"
        ),
    ),
    "fgsm via pgd: many small steps": (
        ch03.check_fgsm_via_pgd,
        lambda m, x, y, e: evasion.pgd(
            m, x, y, eps=e, step_size=e / 4, steps=10, random_start=False, precision="float32"
        ),
    ),
    "masking: iterative": (ch03.check_masking_item, "iterative"),
    "masking: unbounded": (ch03.check_masking_item, "unbounded"),
    "masking: steps": (ch03.check_masking_item, "steps"),
    "headline: PGD-40": (ch03.check_headline, "a"),
    "headline: mean": (ch03.check_headline, "b"),
    "headline: best single attack": (ch03.check_headline, "d"),
    "checklist: not a checklist": (ch03.check_checklist_ran, 0.5),
    "checklist: not answered": (ch03.check_checklist_ran, ...),
}


@pytest.mark.parametrize("name", list(RIGHT))
def test_the_library_answer_passes(name, capsys):
    check, answer = RIGHT[name]
    assert check(answer) is True
    assert "\u2705" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_fails(name, capsys):
    check, answer = WRONG[name]
    assert check(answer) is False
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("passed", [True, False])
def test_the_checklist_check_passes_whatever_the_measurement(passed, capsys):
    check = evasion.Check("white-box beats black-box", passed, "measured")
    assert ch03.check_checklist_ran(evasion.Checklist([check])) is True
    out = capsys.readouterr().out
    assert ("Failed here" in out) is (not passed)
