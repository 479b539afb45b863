"""Constrained tabular evasion: every adversarial row valid, successes counted honestly."""

from __future__ import annotations

import numpy as np
import pytest

from modelsec_edu import data, evasion, models, privacy


@pytest.fixture(scope="module")
def setup():
    d = data.load_german_credit()
    (xtr, ytr), (xte, yte) = data.stratified_split(d.x, d.y, seed=0)
    m = privacy.tabular_mlp(61, 2, width=16, depth=2, seed=0)
    privacy.fit_steps(m, xtr, ytr, steps=60, seed=0)
    rejected = xte[models.predict_labels(m, xte) == 1][:20]
    return d.spec, m, rejected


def test_every_adversarial_row_is_valid_and_success_is_real(setup):
    spec, m, x = setup
    before = x.copy()
    res = evasion.constrained_attack(m, x, spec, budget=2.0, steps=10, rounds=3, seed=0)
    np.testing.assert_array_equal(x, before)
    assert evasion.validity(spec, res.x_adv, x).valid.all()
    p = models.predict_proba(m, res.x_adv)[:, 1]
    np.testing.assert_array_equal(res.success, p < 0.5)
    assert res.success.mean() > 0.5
    np.testing.assert_array_equal(res.x_adv[~res.success], x[~res.success])
    np.testing.assert_allclose(
        res.cost, np.where(res.success, spec.change_cost(res.x_adv, x), 0), atol=1e-4
    )


def test_a_zero_budget_changes_nothing(setup):
    spec, m, x = setup
    res = evasion.constrained_attack(m, x, spec, budget=0.0)
    np.testing.assert_array_equal(res.x_adv, x)
    assert not res.success.any()


def test_a_stricter_threshold_is_harder(setup):
    spec, m, x = setup
    easy = evasion.constrained_attack(m, x, spec, threshold=0.5, steps=10, rounds=2)
    hard = evasion.constrained_attack(m, x, spec, threshold=0.05, steps=10, rounds=2)
    assert hard.success.sum() <= easy.success.sum()


def test_unconstrained_pgd_makes_impossible_applicants(setup):
    spec, m, x = setup
    good = np.zeros(len(x), dtype="int64")
    x_adv = evasion.pgd(m, x, good, targeted=True, eps=0.3, step_size=0.03, steps=20, clip=None)
    counts = evasion.validity(spec, x_adv, x).counts()
    assert counts["valid"] < counts["rows"]
    assert counts["fractional one-hot"] > 0 and counts["immutable changed"] > 0


def test_adversarial_training_returns_a_model_trained_on_more_rows(setup):
    spec, _, _ = setup
    d = data.load_german_credit()
    seen = []

    def train(x, y, seed):
        seen.append(len(x))
        return privacy.fit_steps(
            privacy.tabular_mlp(61, 2, width=16, seed=seed), x, y, steps=40, seed=seed
        )

    model = evasion.constrained_adversarial_training(
        train, d.x[:300], d.y[:300], spec, rounds=1, steps=5
    )
    assert len(seen) == 2 and seen[1] >= seen[0]
    assert models.predict_logits(model, d.x[:2]).shape == (2, 2)


@pytest.mark.parametrize("kwargs, err", [
    ({"budget": -1.0}, ValueError), ({"steps": 0}, ValueError), ({"threshold": 1.0}, ValueError),
    ({"rounds": 1.5}, TypeError), ({"spec": "credit"}, TypeError),
])  # fmt: skip
def test_bad_arguments_are_refused(setup, kwargs, err):
    spec, m, x = setup
    kw = {"spec": spec, **kwargs}
    with pytest.raises(err):
        evasion.constrained_attack(m, x, **kw)
