"""attacks.pgd_tensor: the PGD loop inside compiled code, on every backend."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion, models

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def batch(digits):
    _, (xte, yte) = digits
    return xte[:32], yte[:32].astype("int32")


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 1.5)])
def test_pgd_tensor_in_compiled_code_matches_pgd(trained_mlp, batch, norm, eps):
    """Run in a compiled function of our own: same result as the checked NumPy entry point."""
    x, y = batch

    def make():
        def fn(logits, xb, yb):
            return evasion.pgd_tensor(
                logits, xb, yb, eps=eps, step_size=eps / 4, steps=5, norm=norm
            )

        return fn

    call = backend.compiled(trained_mlp, ("test_pgd_tensor", norm), make)
    got = keras.ops.convert_to_numpy(
        call(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y))
    )
    want = evasion.pgd(
        trained_mlp,
        x,
        y,
        eps=eps,
        step_size=eps / 4,
        steps=5,
        norm=norm,
        random_start=False,
        precision="float32",
    )
    np.testing.assert_allclose(got, want, atol=1e-5)
    d = (got - x).reshape(len(x), -1)
    size = np.abs(d).max(1) if norm == "linf" else np.linalg.norm(d, axis=1)
    assert size.max() <= eps + 1e-5 and got.min() >= 0 and got.max() <= 1
    assert models.accuracy(trained_mlp, got, y) < models.accuracy(trained_mlp, x, y)


def test_pgd_tensor_inside_train_step(digits):
    """Adversarial training's shape: the attack runs inside the compiled weight update."""
    (xtr, ytr), _ = digits
    keras.utils.set_random_seed(0)
    model = models.article_mlp()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    def loss_fn(forward, xb, yb):
        x_adv = evasion.pgd_tensor(
            lambda t: forward(t, training=False), xb, yb, eps=0.1, step_size=0.05, steps=3
        )
        ce = keras.ops.sparse_categorical_crossentropy(yb, forward(x_adv), from_logits=True)
        return keras.ops.mean(ce)

    step = backend.train_step(model, loss_fn, key="adv-test")
    x = keras.ops.convert_to_tensor(xtr[:128])
    y = keras.ops.convert_to_tensor(ytr[:128].astype("int32"))
    first = float(keras.ops.convert_to_numpy(step(x, y)))
    for _ in range(15):
        last = float(keras.ops.convert_to_numpy(step(x, y)))
    assert np.isfinite(last) and last < first


def test_pgd_tensor_rejects_a_bad_norm_or_steps(trained_mlp, batch):
    x, y = batch
    with pytest.raises(ValueError, match="norm"):
        evasion.pgd_tensor(trained_mlp, x, y, eps=0.1, step_size=0.1, steps=1, norm="l1")
    with pytest.raises(ValueError, match="steps"):
        evasion.pgd_tensor(trained_mlp, x, y, eps=0.1, step_size=0.1, steps=0)
