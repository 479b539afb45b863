"""Every attack and norm against the same invariants, as one table of cases (every backend)."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion, models

pytestmark = pytest.mark.backend


def _pgd(norm, precision="float32"):
    def run(model, x, y, eps, **kw):
        return evasion.pgd(
            model,
            x,
            y,
            eps=eps,
            step_size=eps / 4,
            steps=kw.pop("steps", 10),
            norm=norm,
            seed=kw.pop("seed", 0),
            precision=precision,
            **kw,
        )

    return run


def _square(model, x, y, eps, **kw):
    return evasion.square_attack(
        model, x, y, eps=eps, queries=kw.pop("queries", 150), seed=kw.pop("seed", 0), **kw
    )


def _deepfool(norm):
    def run(model, x, y, eps=None, **kw):
        kw.pop("seed", None)
        return evasion.deepfool(model, x, y, norm=norm, **kw)

    return run


# name: (attack, norm, a budget that fools most inputs or None, targeted?, seeded?)
ATTACKS = {
    "fgsm": (
        lambda m, x, y, eps, **kw: evasion.fgsm(
            m, x, y, eps=eps, **{k: v for k, v in kw.items() if k != "seed"}
        ),
        "linf",
        0.2,
        True,
        False,
    ),
    "pgd-linf": (_pgd("linf"), "linf", 0.2, True, True),
    "pgd-l2": (_pgd("l2"), "l2", 3.0, True, True),
    "pgd-linf-bf16": (_pgd("linf", "bfloat16"), "linf", 0.2, True, True),
    "square-linf": (_square, "linf", 0.2, True, True),
    "deepfool-l2": (_deepfool("l2"), "l2", None, False, False),
    "deepfool-linf": (_deepfool("linf"), "linf", None, False, False),
}
BUDGETED = [k for k, v in ATTACKS.items() if v[2] is not None]
TARGETED = [k for k, v in ATTACKS.items() if v[3]]
SEEDED = [k for k, v in ATTACKS.items() if v[4]]


def _norm(d, norm):
    d = d.reshape(len(d), -1)
    return np.abs(d).max(1) if norm == "linf" else np.linalg.norm(d, axis=1)


@pytest.fixture(scope="module")
def batch(digits):
    _, (xte, yte) = digits
    return xte[:48], yte[:48]


@pytest.mark.parametrize("name", BUDGETED)
def test_eps_zero_is_the_identity(trained_mlp, batch, name):
    x, y = batch
    np.testing.assert_array_equal(ATTACKS[name][0](trained_mlp, x, y, 0.0), x)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_within_eps_and_clip_range_and_accuracy_drops(trained_mlp, batch, name):
    x, y = batch
    attack, norm, eps, _, _ = ATTACKS[name]
    x_keep, w_keep = x.copy(), [w.copy() for w in trained_mlp.get_weights()]
    x_adv = attack(trained_mlp, x, y, eps)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32 and isinstance(x_adv, np.ndarray)
    if eps is not None:
        assert _norm(x_adv - x, norm).max() <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    before = models.accuracy(trained_mlp, x, y)
    after = models.accuracy(trained_mlp, x_adv, y)
    assert before > 0.7 and after < before - 0.3, (before, after)
    # nothing of the caller's is touched
    np.testing.assert_array_equal(x, x_keep)
    for a, b in zip(trained_mlp.get_weights(), w_keep):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", TARGETED)
def test_targeted_success_rises(trained_mlp, batch, name):
    x, y = batch
    attack, _, eps, _, _ = ATTACKS[name]
    target = (y + 1) % 10
    before = np.mean(models.predict_labels(trained_mlp, x) == target)
    x_adv = attack(trained_mlp, x, target, eps * 1.5, targeted=True)
    after = np.mean(models.predict_labels(trained_mlp, x_adv) == target)
    assert after > before + (0.15 if name == "fgsm" else 0.5), (before, after)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_same_seed_same_result(trained_mlp, batch, name):
    x, y = batch
    attack, _, eps, _, seeded = ATTACKS[name]
    a = attack(trained_mlp, x, y, eps or 0.1, seed=7)
    b = attack(trained_mlp, x, y, eps or 0.1, seed=7)
    np.testing.assert_array_equal(a, b)
    if seeded:  # and the seed matters
        c = attack(trained_mlp, x, y, eps or 0.1, seed=8)
        assert not np.array_equal(a, c)


def test_restarts_keep_the_strongest(trained_mlp, batch):
    x, y = batch
    kw = dict(eps=0.1, step_size=0.02, steps=3, seed=7)
    one = evasion.pgd(trained_mlp, x, y, **kw)
    more = evasion.pgd(trained_mlp, x, y, restarts=3, **kw)
    fooled_one = models.predict_labels(trained_mlp, one) != y
    fooled_more = models.predict_labels(trained_mlp, more) != y
    assert np.all(fooled_more[fooled_one])  # the first restart's successes are never lost


@pytest.mark.parametrize("name", list(ATTACKS))
def test_batches_give_the_same_result_as_one_batch(trained_mlp, batch, name):
    x, y = batch
    attack, _, eps, _, seeded = ATTACKS[name]
    if seeded:
        pytest.skip("random attacks draw per batch: the batch size changes the draws")
    np.testing.assert_allclose(
        attack(trained_mlp, x, y, eps or 0.1, batch_size=20),
        attack(trained_mlp, x, y, eps or 0.1),
        atol=1e-6,
    )


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
    x_adv = evasion.fgsm(model, x, y, eps=0.1)
    np.testing.assert_allclose(x_adv, x + 0.1 * np.sign(grad), atol=1e-6)
    x_tgt = evasion.fgsm(model, x, y, eps=0.1, targeted=True)
    np.testing.assert_allclose(x_tgt, x - 0.1 * np.sign(grad), atol=1e-6)


def test_deepfool_lands_on_the_linear_boundary():
    """On a linear model DeepFool's first step is the exact projection onto the closest boundary."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 3)).astype("float32")
    b = rng.normal(size=3).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.set_weights([w, b])
    x = rng.uniform(-1, 1, size=(8, 4)).astype("float32")
    y = (x @ w + b).argmax(1)
    x_adv = evasion.deepfool(model, x, y, overshoot=0.0, clip=None)
    want = []
    for xi, yi in zip(x.astype("float64"), y):
        z = xi @ w + b
        dist = [
            abs(z[k] - z[yi]) / np.linalg.norm(w[:, k] - w[:, yi]) if k != yi else np.inf
            for k in range(3)
        ]
        want.append(min(dist))
    np.testing.assert_allclose(np.linalg.norm(x_adv - x, axis=1), want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_deepfool_needs_less_than_pgd_needs(trained_mlp, batch, norm):
    """DeepFool's change is no larger than the smallest budget (on a grid) at which PGD succeeds."""
    x, y = batch
    ok = models.predict_labels(trained_mlp, x) == y
    size = evasion.perturbation_norms(x, evasion.deepfool(trained_mlp, x, y, norm=norm))[norm]
    grid = np.geomspace(0.1, 5, 12) if norm == "l2" else np.geomspace(0.005, 0.3, 12)
    need = np.full(len(x), np.inf)
    for e in grid[::-1]:
        x_adv = evasion.pgd(
            trained_mlp, x, y, eps=float(e), step_size=float(e) / 8, steps=20, norm=norm, seed=0
        )
        need[models.predict_labels(trained_mlp, x_adv) != y] = e
    ratio = size[ok] / need[ok]
    assert np.median(ratio) < 1.0 and np.quantile(ratio, 0.9) <= 1.05, np.quantile(
        ratio, [0.5, 0.9]
    )


def test_square_attack_never_asks_for_a_gradient(trained_mlp, batch, monkeypatch):
    x, y = batch

    def refuse(*args, **kwargs):
        raise AssertionError("a score-based attack asked for a gradient")

    for name in ("value_and_grad", "input_gradient", "weight_gradients"):
        monkeypatch.setattr(backend, name, refuse)
    x_adv = evasion.square_attack(trained_mlp, x, y, eps=0.15, queries=200, seed=0)
    rng = np.random.default_rng(0)
    noise = np.clip(x + rng.choice([-0.15, 0.15], size=x.shape), 0, 1).astype("float32")
    acc_square = models.accuracy(trained_mlp, x_adv, y)
    acc_noise = models.accuracy(trained_mlp, noise, y)
    assert acc_square < acc_noise - 0.3, (acc_square, acc_noise)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_per_feature_clip_and_mask_for_tabular_inputs(name):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    lo = np.array([0, 0, 0, -1, 0], "float32")
    hi = np.array([1, 1, 1, 2, 0.9], "float32")
    x = rng.uniform(lo, hi, size=(16, 5)).astype("float32")
    y = models.predict_labels(model, x)
    mask = np.array([1, 1, 0, 1, 1], "float32")
    attack, norm, eps, _, _ = ATTACKS[name]
    x_adv = attack(model, x, y, 0.5 if eps is not None else None, clip=(lo, hi), mask=mask)
    np.testing.assert_array_equal(x_adv[:, 2], x[:, 2])  # the fixed feature never moves
    assert np.all(x_adv >= lo) and np.all(x_adv <= hi)
    if eps is not None:
        assert _norm(x_adv - x, norm).max() <= 0.5 + 1e-6
    assert np.any(x_adv != x)


BAD = [
    (dict(eps=-0.1), ValueError, "eps"),
    (dict(eps=float("nan")), ValueError, "eps"),
    (dict(eps="0.1"), TypeError, "eps"),
    (dict(clip=(1.0, 0.0)), ValueError, "clip"),
    (dict(clip=0.5), TypeError, "clip"),
    (dict(mask=np.full((28, 28, 1), 0.5)), ValueError, "mask"),
    (dict(seed=1.5), TypeError, "seed"),
]


def _call(name, model, x, y, **kw):
    eps = kw.pop("eps", 0.1)
    if name.startswith("pgd"):
        return evasion.pgd(
            model,
            x,
            y,
            eps=eps,
            step_size=kw.pop("step_size", 0.01),
            steps=kw.pop("steps", 2),
            **kw,
        )
    if name == "fgsm":
        return evasion.fgsm(model, x, y, eps=eps, **kw)
    if name == "square":
        return evasion.square_attack(model, x, y, eps=eps, queries=kw.pop("queries", 2), **kw)
    kw.pop("seed", None)
    return evasion.deepfool(model, x, y, steps=kw.pop("steps", 2), **kw)


def _applies(name, kwargs):
    if name == "deepfool" and ({"eps", "seed"} & set(kwargs)):
        return False
    return not (name == "fgsm" and "seed" in kwargs)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "square", "deepfool"])
@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_parameters(trained_mlp, batch, name, kwargs, error, match):
    if not _applies(name, kwargs):
        pytest.skip("the attack has no such parameter")
    x, y = batch
    with pytest.raises(error, match=match):
        _call(name, trained_mlp, x, y, **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "match"),
    [
        ("pgd", dict(norm="l1"), ValueError, "norm"),
        ("deepfool", dict(norm="l0"), ValueError, "norm"),
        ("pgd", dict(steps=0), ValueError, "steps"),
        ("deepfool", dict(steps=0), ValueError, "steps"),
        ("pgd", dict(restarts=0), ValueError, "restarts"),
        ("pgd", dict(precision="float16"), ValueError, "precision"),
        ("square", dict(queries=0), ValueError, "queries"),
        ("square", dict(p_init=1.5), ValueError, "p_init"),
        ("deepfool", dict(overshoot=-1.0), ValueError, "overshoot"),
        ("fgsm", dict(batch_size=0), ValueError, "batch_size"),
    ],
)
def test_bad_attack_specific_parameters(trained_mlp, batch, name, kwargs, error, match):
    x, y = batch
    with pytest.raises(error, match=match):
        _call(name, trained_mlp, x, y, **kwargs)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "square", "deepfool"])
@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2]), ValueError, "y must have 4 labels"),
        (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2, 10]), ValueError, r"y must be in \[0, 9\]"),
        (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2, -1]), ValueError, r"y must be in \[0, 9\]"),
        (np.zeros((4, 28, 28, 1)), np.array([0.0, 1, 2, 3]), TypeError, "integer"),
        (np.zeros((0, 28, 28, 1)), np.zeros(0, int), ValueError, "x must hold at least 1 sample"),
        (np.zeros((4, 32, 32, 1)), np.zeros(4, int), ValueError, "expects"),
        (np.zeros((4, 28, 28)), np.zeros(4, int), ValueError, "expects"),
        (np.full((4, 28, 28, 1), 2.0), np.zeros(4, int), ValueError, "clip range"),
        (np.full((4, 28, 28, 1), np.nan), np.zeros(4, int), ValueError, "NaN"),
    ],
)
def test_bad_inputs(trained_mlp, name, x, y, error, match):
    with pytest.raises(error, match=match):
        _call(name, trained_mlp, x, y)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "square", "deepfool"])
def test_model_must_be_keras(batch, name):
    x, y = batch
    with pytest.raises(TypeError, match="keras.Model"):
        _call(name, lambda t: t, x, y)


def test_backend_tensors_are_accepted(trained_mlp, batch):
    x, y = batch
    got = evasion.fgsm(
        trained_mlp, keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y), eps=0.1
    )
    np.testing.assert_array_equal(got, evasion.fgsm(trained_mlp, x, y, eps=0.1))


def test_perturbation_norms():
    x = np.zeros((2, 3))
    x_adv = np.array([[0.1, -0.2, 0.0], [0.0, 0.0, 0.0]])
    n = evasion.perturbation_norms(x, x_adv, norms=("linf", "l2", "l0"))
    np.testing.assert_allclose(n["linf"], [0.2, 0])
    np.testing.assert_allclose(n["l2"], [np.sqrt(0.05), 0])
    np.testing.assert_allclose(n["l0"], [2, 0])
    with pytest.raises(ValueError, match="norm"):
        evasion.perturbation_norms(x, x_adv, norms=("l3",))
    with pytest.raises(ValueError, match="shape"):
        evasion.perturbation_norms(x, x_adv[:1])


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_random_start_is_inside_the_ball_and_seeded(norm):
    a = evasion.random_start(np.random.default_rng(0), (50, 7, 3), 0.5, norm)
    b = evasion.random_start(np.random.default_rng(0), (50, 7, 3), 0.5, norm)
    np.testing.assert_array_equal(a, b)
    assert _norm(a, norm).max() <= 0.5 + 1e-6 and _norm(a, norm).min() > 0
