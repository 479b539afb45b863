"""FGSM and PGD: invariants as a table of cases, on every backend."""

import keras
import numpy as np
import pytest

from modelsec_edu import attacks, models

pytestmark = pytest.mark.backend

CASES = [
    pytest.param(dict(attack="fgsm"), id="fgsm"),
    pytest.param(dict(attack="pgd", norm="linf", steps=5), id="pgd-linf"),
    pytest.param(dict(attack="pgd", norm="l2", steps=5), id="pgd-l2"),
]


def run(model, x, y, eps, attack, norm="linf", steps=1, **kw):
    if attack == "fgsm":
        return attacks.fgsm(model, x, y, eps=eps, **kw)
    return attacks.pgd(model, x, y, eps=eps, step_size=eps / 4 if eps else 0.0, steps=steps, norm=norm, seed=0, **kw)


def _norm(d, norm):
    d = d.reshape(len(d), -1)
    return np.abs(d).max(1) if norm != "l2" else np.linalg.norm(d, axis=1)


@pytest.fixture(scope="module")
def batch(digits):
    _, (xte, yte) = digits
    return xte[:64], yte[:64]


@pytest.mark.parametrize("case", CASES)
def test_eps_zero_is_the_identity(trained_mlp, batch, case):
    x, y = batch
    np.testing.assert_array_equal(run(trained_mlp, x, y, 0.0, **case), x)


@pytest.mark.parametrize("case", CASES)
def test_perturbation_within_eps_and_clip_range(trained_mlp, batch, case):
    x, y = batch
    eps = 2.0 if case.get("norm") == "l2" else 0.1
    x_adv = run(trained_mlp, x, y, eps, **case)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert _norm(x_adv - x, case.get("norm", "linf")).max() <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


@pytest.mark.parametrize("case", CASES)
def test_untargeted_accuracy_drops(trained_mlp, batch, case):
    x, y = batch
    eps = 3.0 if case.get("norm") == "l2" else 0.2
    before = models.accuracy(trained_mlp, x, y)
    after = models.accuracy(trained_mlp, run(trained_mlp, x, y, eps, **case), y)
    assert before > 0.7 and after < before - 0.3


def test_targeted_success_rises(trained_mlp, batch):
    x, y = batch
    target = (y + 1) % 10
    before = np.mean(models.predict_labels(trained_mlp, x) == target)
    x_adv = attacks.pgd(trained_mlp, x, target, eps=0.3, step_size=0.05, steps=20, targeted=True, seed=0)
    after = np.mean(models.predict_labels(trained_mlp, x_adv) == target)
    assert after > before + 0.5


def test_same_seed_same_result_and_restarts_never_weaken(trained_mlp, batch):
    x, y = batch
    kw = dict(eps=0.1, step_size=0.02, steps=3)
    a = attacks.pgd(trained_mlp, x, y, seed=7, **kw)
    b = attacks.pgd(trained_mlp, x, y, seed=7, **kw)
    np.testing.assert_array_equal(a, b)
    more = attacks.pgd(trained_mlp, x, y, seed=7, restarts=3, **kw)
    assert models.accuracy(trained_mlp, more, y) <= models.accuracy(trained_mlp, a, y)


def test_fgsm_direction_on_softmax_regression():
    """For a linear model the input gradient is (p - onehot) W^T: FGSM must step along its sign."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3)).astype("float32")
    b = np.zeros(3, "float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.set_weights([w, b])
    x = rng.uniform(0.3, 0.7, size=(10, 6)).astype("float32")
    y = rng.integers(0, 3, 10)
    z = x @ w
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(3)[y]) @ w.T
    x_adv = attacks.fgsm(model, x, y, eps=0.1)
    np.testing.assert_allclose(x_adv, x + 0.1 * np.sign(grad), atol=1e-6)
    x_tgt = attacks.fgsm(model, x, y, eps=0.1, targeted=True)
    np.testing.assert_allclose(x_tgt, x - 0.1 * np.sign(grad), atol=1e-6)


def test_per_feature_clip_and_mask_for_tabular_inputs():
    rng = np.random.default_rng(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    x = rng.uniform(0, 1, size=(8, 5)).astype("float32")
    y = rng.integers(0, 2, 8)
    lo = np.array([0, 0, 0, -1, 0], "float32")
    hi = np.array([1, 1, 1, 2, 0.9], "float32")
    x = np.clip(x, lo, hi)
    mask = np.array([1, 1, 0, 1, 1], "float32")
    x_adv = attacks.pgd(model, x, y, eps=0.5, step_size=0.2, steps=5, clip=(lo, hi), mask=mask, seed=0)
    np.testing.assert_array_equal(x_adv[:, 2], x[:, 2])  # the fixed feature never moves
    assert np.all(x_adv >= lo) and np.all(x_adv <= hi)
    assert np.abs(x_adv - x).max() <= 0.5 + 1e-6


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(eps=-0.1), ValueError, "eps"),
        (dict(eps=float("nan")), ValueError, "eps"),
        (dict(eps="0.1"), TypeError, "eps"),
        (dict(eps=0.1, norm="l1"), ValueError, "norm"),
        (dict(eps=0.1, steps=0), ValueError, "steps"),
        (dict(eps=0.1, restarts=0), ValueError, "restarts"),
        (dict(eps=0.1, clip=(1.0, 0.0)), ValueError, "clip"),
        (dict(eps=0.1, clip=0.5), TypeError, "clip"),
    ],
)
def test_bad_parameters(trained_mlp, batch, kwargs, error, match):
    x, y = batch
    kw = dict(step_size=0.01, steps=2) | kwargs
    with pytest.raises(error, match=match):
        attacks.pgd(trained_mlp, x, y, **kw)


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2]), ValueError, "shape"),
        (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2, 10]), ValueError, "labels"),
        (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2, -1]), ValueError, "labels"),
        (np.zeros((4, 28, 28, 1)), np.array([0.0, 1, 2, 3]), TypeError, "integer"),
        (np.zeros((0, 28, 28, 1)), np.zeros(0, int), ValueError, "non-empty"),
        (np.zeros((4, 32, 32, 1)), np.zeros(4, int), ValueError, "expects"),
        (np.full((4, 28, 28, 1), 2.0), np.zeros(4, int), ValueError, "clip range"),
        (np.full((4, 28, 28, 1), np.nan), np.zeros(4, int), ValueError, "NaN"),
    ],
)
def test_bad_inputs(trained_mlp, x, y, error, match):
    with pytest.raises(error, match=match):
        attacks.fgsm(trained_mlp, x, y, eps=0.1)


def test_model_must_be_keras(batch):
    x, y = batch
    with pytest.raises(TypeError, match="keras.Model"):
        attacks.fgsm(lambda t: t, x, y, eps=0.1)


def test_perturbation_norms():
    x = np.zeros((2, 3))
    x_adv = np.array([[0.1, -0.2, 0.0], [0.0, 0.0, 0.0]])
    n = attacks.perturbation_norms(x, x_adv, norms=("linf", "l2", "l0"))
    np.testing.assert_allclose(n["linf"], [0.2, 0])
    np.testing.assert_allclose(n["l2"], [np.sqrt(0.05), 0])
    np.testing.assert_allclose(n["l0"], [2, 0])
    with pytest.raises(ValueError, match="norm"):
        attacks.perturbation_norms(x, x_adv, norms=("l3",))
