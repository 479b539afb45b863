"""Membership inference: metric invariants, and attacks on a model that memorised its members."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from modelsec_edu import privacy


class Scores(NamedTuple):
    name: str
    s_in: np.ndarray
    s_out: np.ndarray


RNG = np.random.default_rng(0)
CASES = [
    Scores("separated", RNG.normal(5, 1, 200), RNG.normal(-5, 1, 300)),
    Scores("identical", RNG.normal(0, 1, 400), RNG.normal(0, 1, 400)),
    Scores("overlapping", RNG.normal(1, 1, 150), RNG.normal(0, 1, 250)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_metric_invariants(case):
    auc = privacy.auc(case.s_in, case.s_out)
    assert 0 <= auc <= 1
    assert privacy.auc(case.s_out, case.s_in) == pytest.approx(1 - auc)
    adv = privacy.advantage(case.s_in, case.s_out)
    assert 0 <= adv <= 1
    fpr_curve, tpr_curve = privacy.roc_curve(case.s_in, case.s_out)
    assert fpr_curve[0] == 0 and tpr_curve[-1] == 1
    previous = -1.0
    for fpr in (0.0, 0.001, 0.01, 0.1, 0.5, 1.0):
        tpr = privacy.tpr_at_fpr(case.s_in, case.s_out, fpr)
        threshold_fpr = np.mean(
            case.s_out
            > np.sort(case.s_out)[::-1][min(int(fpr * len(case.s_out)), len(case.s_out) - 1)]
        )
        assert threshold_fpr <= fpr + 1e-12
        assert tpr >= previous  # monotone in the allowed false-positive rate
        assert adv >= tpr - fpr - 1e-9  # the best threshold beats every threshold
        previous = tpr


def test_metric_extremes():
    sep, same = CASES[0], CASES[1]
    assert privacy.auc(sep.s_in, sep.s_out) == 1.0
    assert privacy.advantage(sep.s_in, sep.s_out) == 1.0
    assert privacy.tpr_at_fpr(sep.s_in, sep.s_out, 0.0) == 1.0
    assert abs(privacy.auc(same.s_in, same.s_out) - 0.5) < 0.06
    assert privacy.tpr_at_fpr(same.s_in, same.s_out, 0.01) < 0.05


def test_bootstrap_interval_brackets_the_estimate():
    case = CASES[2]
    result = privacy.MembershipResult.from_scores("x", case.s_in, case.s_out)
    lo, hi = result.tpr_interval(0.1, n_boot=300, seed=1)
    assert 0 <= lo <= result.tpr_at_fpr(0.1) <= hi <= 1
    lo2, hi2 = result.tpr_interval(0.1, n_boot=300, seed=1)
    assert (lo, hi) == (lo2, hi2)  # seeded
    assert result.scores_in.flags.writeable is False
    assert "AUC" in result.summary()


@pytest.fixture(scope="module")
def memorised():
    """A small MLP that memorised 48 records with random labels, and 48 it never saw."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = rng.integers(0, 2, 96)
    train = privacy.trainer(width=64, steps=250, learning_rate=1e-2)
    model = train(x[:48], y[:48], 0)
    return model, (x[:48], y[:48]), (x[48:], y[48:]), train


def test_loss_attack_finds_memorised_records(memorised):
    model, members, non_members, _ = memorised
    before = [a.copy() for a in (*members, *non_members)]
    result = privacy.membership_inference(model, members, non_members)
    assert result.auc > 0.65 and result.advantage > 0.3
    for a, b in zip(before, (*members, *non_members), strict=True):
        np.testing.assert_array_equal(a, b)  # no input mutated
    losses = privacy.per_example_loss(model, *members)
    assert np.all(losses >= 0)
    np.testing.assert_allclose(privacy.loss_scores(model, *members), -losses)


def test_releasing_less(memorised):
    model, members, non_members, _ = memorised
    label = privacy.membership_inference(model, members, non_members, release="label")
    assert len(np.unique(np.r_[label.scores_in, label.scores_out])) <= 2  # right or wrong
    rounded = privacy.log_probs(model, members[0], release="rounded", decimals=1)
    assert np.all(
        np.isin(np.round(np.exp(rounded), 6), np.round(np.r_[np.arange(11) / 10, 1e-12], 6))
    )


@pytest.mark.parametrize("method", ["shadow", "lira"])
def test_shadow_attacks_beat_guessing(memorised, method):
    model, members, non_members, train = memorised
    result = privacy.membership_inference(
        model, members, non_members, method=method, train=train, n_shadow=4
    )
    assert result.auc > 0.65


def test_lira_logit_confidence_is_stable():
    logp = np.log(np.array([[0.9, 0.1], [1e-30, 1.0]]))
    phi = privacy.shadow.logit_confidence(logp, np.array([0, 0]))
    np.testing.assert_allclose(phi, [np.log(9), np.log(1e-30)], rtol=1e-9)


class Bad(NamedTuple):
    name: str
    kwargs: dict
    error: type


BAD = [
    Bad("method unknown", {"method": "oracle"}, ValueError),
    Bad("release unknown", {"release": "everything"}, ValueError),
    Bad("shadow without train", {"method": "shadow"}, TypeError),
    Bad(
        "n_shadow float",
        {"method": "lira", "train": lambda x, y, s: None, "n_shadow": 2.0},
        TypeError,
    ),
    Bad("decimals negative", {"decimals": -1}, ValueError),
]


@pytest.mark.parametrize("bad", BAD, ids=lambda b: b.name)
def test_bad_arguments(memorised, bad):
    model, members, non_members, _ = memorised
    with pytest.raises(bad.error):
        privacy.membership_inference(model, members, non_members, **bad.kwargs)


def test_bad_records(memorised):
    model, members, non_members, _ = memorised
    with pytest.raises(TypeError, match="members"):
        privacy.membership_inference(model, members[0], non_members)
    with pytest.raises(ValueError, match="y"):
        privacy.membership_inference(model, (members[0], members[1] + 5), non_members)
    with pytest.raises(TypeError, match="model"):
        privacy.membership_inference("model", members, non_members)
    with pytest.raises(ValueError, match="fpr"):
        privacy.tpr_at_fpr([1.0], [0.0], 1.5)


def test_fourier_encoding_is_fixed_and_bounded():
    """The Fourier layer trains nothing, maps into [-1, 1], and is seeded like the rest."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = privacy.trainer(width=8, depth=1, steps=5, fourier=16, fourier_scale=2.0)(x, y, 3)
    enc = model.get_layer("fourier_features")
    assert not enc.trainable_weights and enc.output.shape[-1] == 32
    before = [w.copy() for w in enc.get_weights()]
    privacy.fit_steps(model, x, y, steps=5)
    assert all(np.array_equal(a, b) for a, b in zip(before, enc.get_weights()))
    z = np.asarray(enc(x))
    assert np.all(np.abs(z) <= 1.0 + 1e-6)
    np.testing.assert_allclose(z[:, :16] ** 2 + z[:, 16:] ** 2, 1.0, atol=1e-5)
    again = privacy.tabular_mlp(6, fourier=16, fourier_scale=2.0, seed=3)
    np.testing.assert_array_equal(again.get_layer("fourier_features").get_weights()[0], before[0])
    with pytest.raises(ValueError, match="fourier"):
        privacy.tabular_mlp(6, fourier=-1)
