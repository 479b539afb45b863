"""APGD (CE, DLR, targeted) and the worst-case evaluation: invariants, as tables of named cases."""

import importlib
from typing import NamedTuple

import keras
import numpy as np
import pytest

from modelsec_edu import evasion, models

apgd_mod = importlib.import_module("modelsec_edu.evasion.apgd")  # the name apgd is the function

pytestmark = pytest.mark.backend


class Case(NamedTuple):
    loss: str
    norm: str
    eps: float


CASES = {
    "ce-linf": Case("ce", "linf", 0.1),
    "dlr-linf": Case("dlr", "linf", 0.1),
    "ce-l2": Case("ce", "l2", 2.0),
    "dlr-l2": Case("dlr", "l2", 2.0),
}


@pytest.fixture(scope="module")
def batch(digits):
    _, (xte, yte) = digits
    return xte[:64], yte[:64]


def _norm(d, norm):
    d = d.reshape(len(d), -1)
    return np.abs(d).max(1) if norm == "linf" else np.linalg.norm(d, axis=1)


def _run(model, x, y, case, **kw):
    return evasion.apgd(
        model,
        x,
        y,
        eps=case.eps,
        loss=case.loss,
        norm=case.norm,
        steps=kw.pop("steps", 12),
        seed=kw.pop("seed", 0),
        **kw,
    )


def test_checkpoints_follow_the_paper():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (Croce & Hein 2020, Sec. 3.2)
    assert apgd_mod.checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    gaps = np.diff([0, *apgd_mod.checkpoints(1000)])
    assert gaps[0] == 220 and np.all(np.diff(gaps) <= 0) and gaps.min() >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_budget_and_box_hold(trained_mlp, batch, name):
    x, y = batch
    case = CASES[name]
    x_adv = _run(trained_mlp, x, y, case)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert _norm(x_adv - x, case.norm).max() <= case.eps * (1 + 1e-5) + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert evasion.robust_accuracy(trained_mlp, x, x_adv, y) < models.accuracy(trained_mlp, x, y)


@pytest.mark.parametrize("name", list(CASES))
def test_eps_zero_is_the_identity_and_inputs_stay_untouched(trained_mlp, batch, name):
    x, y = batch
    x0 = x.copy()
    out = _run(trained_mlp, x, y, CASES[name]._replace(eps=0.0))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(x, x0)


def test_per_feature_clip_and_mask_hold(trained_mlp, batch):
    x, y = batch
    lo, hi = np.zeros(x.shape[1:], "float32"), np.full(x.shape[1:], 0.9, "float32")
    xs = np.minimum(x, 0.9)
    mask = np.zeros(x.shape[1:], "float32")
    mask[:14] = 1
    x_adv = evasion.apgd(trained_mlp, xs, y, eps=0.2, steps=8, seed=0, clip=(lo, hi), mask=mask)
    assert np.all(x_adv <= hi + 1e-7) and np.all(x_adv >= lo)
    np.testing.assert_array_equal(x_adv[:, 14:], xs[:, 14:])


def test_seeded_runs_repeat(trained_mlp, batch):
    x, y = batch
    a = _run(trained_mlp, x, y, CASES["ce-linf"], seed=3)
    b = _run(trained_mlp, x, y, CASES["ce-linf"], seed=3)
    np.testing.assert_array_equal(a, b)


def test_apgd_is_at_least_as_strong_as_pgd_with_the_same_budget(trained_mlp, digits):
    _, (xte, yte) = digits
    x, y = xte[:200], yte[:200]
    eps, steps = 0.05, 20
    pgd = evasion.pgd(
        trained_mlp,
        x,
        y,
        eps=eps,
        step_size=models.default_step_size(eps, steps),
        steps=steps,
        seed=0,
        precision="float32",
    )
    ap = evasion.apgd(trained_mlp, x, y, eps=eps, steps=steps, seed=0)
    # one restart each; APGD may lose a sample or two to randomness, never a lot
    assert (
        evasion.robust_accuracy(trained_mlp, x, ap, y)
        <= evasion.robust_accuracy(trained_mlp, x, pgd, y) + 0.02
    )


@pytest.mark.parametrize("loss", ["dlr_targeted", "ce_targeted"])
def test_targeted_losses_reach_the_target(trained_mlp, batch, loss):
    x, y = batch
    target = (y + 1) % 10
    x_adv = evasion.apgd(trained_mlp, x, y, eps=0.25, loss=loss, target=target, steps=20, seed=0)
    assert np.mean(models.predict_labels(trained_mlp, x_adv) == target) >= 0.8


def test_apgd_t_fools_and_keeps_the_budget(trained_mlp, batch):
    x, y = batch
    x_adv = evasion.apgd_t(trained_mlp, x, y, eps=0.1, n_targets=3, steps=10, seed=0)
    assert np.abs(x_adv - x).max() <= 0.1 + 1e-6
    assert evasion.robust_accuracy(trained_mlp, x, x_adv, y) < models.accuracy(trained_mlp, x, y)


def test_dlr_loss_is_scale_invariant_and_signed():
    z = np.array([[3.0, 1.0, 0.5, -1.0], [0.0, 2.0, 1.0, -1.0]], "float32")
    y = np.array([0, 0])
    a = keras.ops.convert_to_numpy(evasion.dlr_loss(keras.ops.convert_to_tensor(z), y))
    b = keras.ops.convert_to_numpy(evasion.dlr_loss(keras.ops.convert_to_tensor(10 * z), y))
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert a[0] < 0 < a[1]  # negative while right, positive once fooled
    np.testing.assert_allclose(a[0], -(3 - 1) / (3 - 0.5), rtol=1e-6)


BAD = {
    "unknown loss": (dict(loss="hinge"), ValueError),
    "loss not a string": (dict(loss=1), TypeError),
    "targeted without target": (dict(loss="dlr_targeted"), ValueError),
    "target without targeted loss": (dict(target=np.zeros(64, int)), ValueError),
    "negative eps": (dict(eps=-0.1), ValueError),
    "float steps": (dict(steps=2.5), TypeError),
    "zero restarts": (dict(restarts=0), ValueError),
    "bad norm": (dict(norm="l1"), ValueError),
    "bad precision": (dict(precision="half"), ValueError),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_raise(trained_mlp, batch, name):
    x, y = batch
    kw, exc = BAD[name]
    args = {"eps": 0.1, "steps": 2, **kw}
    with pytest.raises(exc):
        evasion.apgd(trained_mlp, x, y, **args)


@pytest.fixture(scope="module")
def report(trained_mlp, digits):
    _, (xte, yte) = digits
    return evasion.worst_case(
        trained_mlp,
        xte[:96],
        yte[:96],
        eps=0.05,
        steps=10,
        n_targets=2,
        square_queries=100,
        cascade=False,
        seed=0,
    )


def test_worst_case_is_at_most_every_attack_and_uses_the_one_definition(
    trained_mlp, digits, report
):
    _, (xte, yte) = digits
    x, y = xte[:96], yte[:96]
    assert report.attacks == ("APGD-CE", "APGD-T", "Square")
    assert all(report.worst_case <= v + 1e-12 for v in report.robust_after.values())
    assert report.worst_case == evasion.robust_accuracy(trained_mlp, x, report.x_adv, y)
    assert report.worst_case == pytest.approx(report.robust.mean())
    assert report.clean_accuracy == pytest.approx(models.accuracy(trained_mlp, x, y))
    assert np.abs(report.x_adv - x).max() <= 0.05 + 1e-6
    # every input not robust names what broke it, every robust one names nothing
    assert np.all((report.broken_by == "") == report.robust)
    assert set(report.seconds) == set(report.attacks) and "worst case" in report.table()


def test_cascade_gives_the_same_kind_of_answer_cheaper(trained_mlp, digits, report):
    _, (xte, yte) = digits
    casc = evasion.worst_case(
        trained_mlp,
        xte[:96],
        yte[:96],
        eps=0.05,
        steps=10,
        n_targets=2,
        square_queries=100,
        cascade=True,
        seed=0,
    )
    after = list(casc.robust_after.values())
    assert all(
        a >= b for a, b in zip(after, after[1:], strict=False)
    )  # robust accuracy only falls along the cascade
    assert casc.worst_case == after[-1]
    assert abs(casc.worst_case - report.worst_case) <= 0.05


@pytest.mark.parametrize(
    ("kw", "exc"),
    [
        (dict(attacks=("FAB",)), ValueError),
        (dict(attacks=()), TypeError),
        (dict(cascade=1), TypeError),
        (dict(extra={"x": 1}), TypeError),
    ],
)
def test_worst_case_rejects_bad_arguments(trained_mlp, batch, kw, exc):
    x, y = batch
    with pytest.raises(exc):
        evasion.worst_case(trained_mlp, x, y, eps=0.1, steps=2, **kw)


def test_worst_case_when_every_input_is_already_fooled():
    """No input left after the clean check: the attacks are skipped, not called on nothing."""
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    model.set_weights([np.zeros((16, 3), "float32"), np.array([5.0, 0.0, 0.0], "float32")])
    x = np.full((6, 4, 4, 1), 0.5, "float32")
    y = np.ones(6, "int64")  # the model always says 0: every input is wrong before any attack
    report = evasion.worst_case(model, x, y, eps=0.1, steps=2, n_targets=1, square_queries=5)
    assert report.clean_accuracy == 0.0 and report.worst_case == 0.0
    assert set(report.broken_by) == {"clean"}
    np.testing.assert_array_equal(report.x_adv, x)


def test_worst_case_checks_its_attack_settings_even_when_nothing_is_left_to_attack(
    trained_mlp, batch
):
    x, _ = batch
    wrong = (models.predict_labels(trained_mlp, x) + 1) % 10  # every input already misclassified
    for bad in ({"batch_size": 0}, {"batch_size": 2.5}, {"precision": "float64"}):
        with pytest.raises((TypeError, ValueError), match=next(iter(bad))):
            evasion.worst_case(trained_mlp, x, wrong, eps=0.1, **bad)
