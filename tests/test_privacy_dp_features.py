"""Chapter 07's additions: fixed features, attribute inference, DP sweeps, the universal
perturbation and the clinical tables as TabularSpecs (invariants, no figures)."""

import math

import keras
import numpy as np
import pytest

from modelsec_edu.data import clinical
from modelsec_edu.evasion.universal import apply_universal, fooling_rate, universal_perturbation
from modelsec_edu.privacy.attribute import attribute_inference, population_baseline
from modelsec_edu.privacy.experiments import DPPoint, DPSweep, dp_sweep, linear_head
from modelsec_edu.privacy.features import morlet_bank, scatter_features


def test_scatter_features_are_fixed_standardised_and_shaped():
    rng = np.random.default_rng(0)
    x = rng.random((5, 28, 28)).astype("float32")
    f = scatter_features(x, batch_size=2)
    assert f.shape == (5, 17 * 7 * 7)
    np.testing.assert_allclose(f.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(f.std(1), 1, atol=1e-3)
    np.testing.assert_allclose(scatter_features(x[:, :, :, None]), f, atol=1e-5)  # no state
    np.testing.assert_allclose(scatter_features(x[:2]), f[:2], atol=1e-5)  # per example
    bank = morlet_bank()
    np.testing.assert_allclose(bank.sum(axis=(0, 1)), 0, atol=1e-5)  # wavelets: zero mean
    with pytest.raises(ValueError, match="grayscale"):
        scatter_features(rng.random((2, 28, 28, 3)))


def _sex_model():
    # logits (0, 3 * x1): the model predicts label 1 exactly when column 1 is positive
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.set_weights([np.array([[0, 0], [0, 3.0], [0, 0]], "float32"), np.zeros(2, "float32")])
    return model


def test_attribute_inference_recovers_a_column_the_model_reads():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3)).astype("float32")
    x[:, 1] = np.where(rng.random(60) < 0.5, -1.0, 1.0)
    y = (x[:, 1] > 0).astype(int)
    r = attribute_inference(_sex_model(), x, y, column=1)
    assert r.accuracy == 1.0 and set(np.unique(r.guess)) <= {0, 1}
    wrong = attribute_inference(_sex_model(), x, 1 - y, column=1)  # wrong labels: wrong guesses
    assert wrong.accuracy == 0.0
    base = population_baseline(x[:30], x[30:], column=1)  # other columns are noise here
    assert base.guess.shape == (30,) and 0 <= base.accuracy <= 1
    with pytest.raises(ValueError, match="single value"):
        attribute_inference(_sex_model(), np.ones((4, 3), "float32"), np.zeros(4, int), column=1)


def test_dp_sweep_spends_less_privacy_with_more_noise():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(200, 6)).astype("float32")
    y = (f[:, 0] > 0).astype(int)
    sweep = dp_sweep(
        (f, y),
        (f[:50], y[:50]),
        noise_multipliers=[0.0, 1.0, 4.0],
        batch_size=50,
        epochs=2,
        mia_size=20,
    )
    eps = [p.epsilon for p in sweep.points]
    assert math.isinf(eps[0]) and eps[1] > eps[2] > 0
    assert all(0 <= p.accuracy <= 1 and 0 <= p.mia_auc <= 1 for p in sweep.points)
    assert sweep.at(0.9).noise_multiplier == 1.0 and sweep.sigmas.tolist() == [0.0, 1.0, 4.0]
    assert sweep.points[0].accuracy > 0.8  # no noise: the separable task is learnt


def test_universal_perturbation_stays_in_its_ball():
    rng = np.random.default_rng(3)
    x = rng.random((20, 6, 6, 3)).astype("float32")
    y = np.arange(20) % 2
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 6, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    delta = universal_perturbation(model, x, y, eps=0.05, target=1, steps=5, batch_size=8)
    assert delta.shape == (6, 6, 3) and np.abs(delta).max() <= 0.05 + 1e-7
    adv = apply_universal(x, delta)
    assert adv.min() >= 0 and adv.max() <= 1
    assert 0 <= fooling_rate(model, x, delta, target=1) <= 1
    assert not universal_perturbation(model, x, y, eps=0.0, target=1).any()
    with pytest.raises(ValueError, match="nothing to flip"):
        universal_perturbation(model, x, np.ones(20, int), eps=0.1, target=1)


@pytest.mark.parametrize("load", [clinical.load_diabetes, clinical.load_breast_cancer])
def test_clinical_tables_as_specs(load):
    ds = load()
    u = ds.unit(ds.x)
    assert u.min() >= 0 and u.max() <= 1 + 1e-6
    spec = ds.spec()
    assert spec.n_features == ds.n_features
    np.testing.assert_array_equal(spec.mutable_mask(), ds.mutable)
    assert spec.validity(u, u).valid.all()
    moved = u.copy()
    moved[:, np.flatnonzero(ds.mutable == 0)[0]] += 0.01
    assert not spec.validity(moved, u).valid.any()  # an immutable feature changed


def test_linear_head_is_a_dense_chain():
    from modelsec_edu.backend import common

    assert common.dense_chain(linear_head(5, 3)) is not None
    assert DPPoint(1.0, 2.0, 0.9, 0.9, 0.5).epsilon == 2.0
    assert isinstance(DPSweep((), 1, 1, 1, 1e-5, "x").points, tuple)
