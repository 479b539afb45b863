"""defenses: adversarial training, the article's GAN method, robustness measurement."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend, evasion, models
from modelsec_edu.evasion import gan


@pytest.fixture(scope="module")
def small(digits):
    (xtr, ytr), (xte, yte) = digits
    return (xtr[:128], ytr[:128]), (xte[:64], yte[:64])


def _mlp(seed=0):
    keras.utils.set_random_seed(seed)
    return models.compile_classifier(models.article_mlp(), learning_rate=1e-3)


@pytest.mark.backend
@pytest.mark.parametrize("method", evasion.METHODS)
def test_eps_zero_is_plain_training(small, method):
    """With eps = 0 every method's inner max is the identity: one epoch equals clean training."""
    (x, y), _ = small
    model, reference = _mlp(), _mlp()
    evasion.adversarial_fit(
        model, x, y, method=method, eps=0.0, epochs=1, batch_size=64, seed=3, progress=False,
        validation_data=None,
    )  # fmt: skip

    def clean(forward, xb, yb):
        return keras.ops.mean(
            keras.ops.sparse_categorical_crossentropy(yb, forward(xb), from_logits=True)
        )

    step = backend.train_step(reference, clean, key="test-clean")
    order = np.random.default_rng(3).permutation(len(x))  # the same shuffle as adversarial_fit's
    for i in range(0, len(x), 64):
        idx = order[i : i + 64]
        step(
            keras.ops.convert_to_tensor(x[idx]), keras.ops.convert_to_tensor(y[idx].astype("int32"))
        )
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.backend
@pytest.mark.parametrize("method", evasion.METHODS)
def test_history_and_caller_data_untouched(small, method):
    (x, y), val = small
    x_before = x.copy()
    model = _mlp()
    before = [w.copy() for w in model.get_weights()]
    hist = evasion.adversarial_fit(
        model,
        x,
        y,
        method=method,
        eps=0.1,
        epochs=2,
        batch_size=64,
        steps=1 if "fgsm" in method else 3,
        validation_data=val,
        val_steps=3,
        progress=False,
    )
    assert isinstance(hist, keras.callbacks.History)
    for key in ("loss", "eps", "samples_per_second", "val_accuracy", "val_robust_accuracy"):
        assert len(hist.history[key]) == 2, key
    assert all(np.isfinite(hist.history["loss"]))
    assert hist.history["val_robust_accuracy"][-1] <= hist.history["val_accuracy"][-1]
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_array_equal(x, x_before)


def test_warmup_ramps_eps(small):
    (x, y), _ = small
    hist = evasion.adversarial_fit(
        _mlp(),
        x,
        y,
        method="fgsm_rs",
        eps=0.2,
        epochs=3,
        batch_size=64,
        warmup_epochs=2,
        progress=False,
    )
    eps = hist.history["eps"]
    assert eps[0] < eps[1] <= eps[2] == pytest.approx(0.2)


def test_pgd_training_makes_the_model_more_robust(digits, trained_mlp):
    """The point of the chapter, in small: PGD training raises accuracy under PGD."""
    (xtr, ytr), (xte, yte) = digits
    robust = _mlp()
    evasion.adversarial_fit(
        robust,
        xtr,
        ytr,
        method="pgd",
        eps=0.1,
        steps=5,
        epochs=8,
        batch_size=64,
        warmup_epochs=3,
        progress=False,
    )
    plain = evasion.robustness(trained_mlp, xte, yte, eps=0.1, steps=10, step_size=0.025)
    adv = evasion.robustness(robust, xte, yte, eps=0.1, steps=10, step_size=0.025)
    assert adv["pgd"] > plain["pgd"] + 0.2


def test_restore_best_keeps_the_best_epoch(small):
    (x, y), (xv, yv) = small
    model = _mlp()
    hist = evasion.adversarial_fit(
        model,
        x,
        y,
        method="fgsm_rs",
        eps=0.1,
        epochs=3,
        batch_size=64,
        validation_data=(xv, yv),
        val_steps=3,
        restore_best=True,
        seed=1,
        progress=False,
    )
    # The validation attack is seeded, so the restored weights reproduce their epoch's figure.
    x_adv = evasion.pgd(
        model, xv, yv, eps=0.1, step_size=0.025, steps=3, seed=1, **evasion.training._FLOAT32
    )
    assert models.accuracy(model, x_adv, yv) == pytest.approx(
        max(hist.history["val_robust_accuracy"])
    )


def test_callbacks_can_stop_training(small):
    (x, y), _ = small

    class StopNow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    hist = evasion.adversarial_fit(
        _mlp(), x, y, method="fgsm_rs", eps=0.1, epochs=5, callbacks=[StopNow()], progress=False
    )
    assert len(hist.history["loss"]) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "fgsm"}, ValueError, "method"),
        ({"eps": -0.1}, ValueError, "eps"),
        ({"eps": "0.3"}, TypeError, "eps"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"method": "fgsm_rs", "steps": 3}, ValueError, "one step"),
        ({"restore_best": True, "validation_data": None}, ValueError, "validation_data"),
        ({"validation_data": "holdout"}, ValueError, "validation_data"),
        ({"restore_best": "yes"}, TypeError, "restore_best"),
        ({"lr_warmup": 1.0}, ValueError, "lr_warmup"),
    ],
)
def test_bad_arguments_are_refused(small, kwargs, error, match):
    (x, y), _ = small
    args = {"method": "pgd", "eps": 0.1, "epochs": 1, **kwargs}
    with pytest.raises(error, match=match):
        evasion.adversarial_fit(_mlp(), x, y, progress=False, **args)


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (np.full((4, 28, 28, 1), 2.0, "float32"), np.zeros(4, int), ValueError, r"\[0, 1\]"),
        (np.zeros((4, 28, 28, 1), "float32"), np.zeros(3, int), ValueError, "y must have 4 labels"),
        (np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, float), TypeError, "integer"),
    ],
)
def test_bad_data_is_refused(x, y, error, match):
    with pytest.raises(error, match=match):
        evasion.adversarial_fit(_mlp(), x, y, method="pgd", eps=0.1, epochs=1, progress=False)


def test_robustness_invariants(trained_mlp, digits):
    _, (xte, yte) = digits
    zero = evasion.robustness(trained_mlp, xte, yte, eps=0.0)
    assert zero["clean"] == zero["fgsm"] == zero["pgd"]
    r = evasion.robustness(trained_mlp, xte, yte, eps=0.3, steps=10, step_size=0.05)
    assert 0 <= r["pgd"] <= r["clean"] <= 1 and r["pgd"] < r["clean"]


@pytest.mark.parametrize("labels", ["random", "conditional"])
def test_article_gan_training_runs_with_its_labels(small, labels):
    (x, y), val = small
    keras.utils.set_random_seed(0)
    g = gan.cgan(latent_dim=8)
    hist = evasion.article_gan_training(
        _mlp(),
        x,
        y,
        g.generator,
        epochs=1,
        batch_size=64,
        labels=labels,
        validation_data=val,
        progress=False,
    )
    assert {"loss", "fake_loss", "val_accuracy", "seconds"} <= set(hist.history)
    assert len(hist.history["loss"]) == 1 and np.isfinite(hist.history["fake_loss"][0])


def test_article_gan_training_refuses_bad_labels(small):
    (x, y), _ = small
    g = gan.dcgan(latent_dim=8)
    with pytest.raises(ValueError, match="conditional generator"):
        evasion.article_gan_training(_mlp(), x, y, g.generator, epochs=1, labels="conditional")
    with pytest.raises(ValueError, match="labels"):
        evasion.article_gan_training(_mlp(), x, y, g.generator, epochs=1, labels="true")


def test_accelerator_reports_and_changes_nothing():
    before = keras.config.dtype_policy().name
    info = evasion.accelerator(verbose=False)
    assert set(info) == {"backend", "device", "precision", "attack_precision", "xla"}
    assert info["precision"] == "float32" and info["attack_precision"] in ("float32", "bfloat16")
    assert keras.config.dtype_policy().name == before


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_no_library_call_leaves_a_dtype_policy_behind(small, policy):
    """accelerator(), adversarial training and attacks leave the global policy as they found it."""
    (x, y), _ = small
    model = _mlp()  # built under float32
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        evasion.accelerator(verbose=False)
        assert keras.config.dtype_policy().name == policy
        evasion.adversarial_fit(
            model, x[:64], y[:64], method="pgd", eps=0.1, steps=2, epochs=1, progress=False
        )
        assert keras.config.dtype_policy().name == policy
        for precision in ("auto", "bfloat16", "float32"):
            evasion.pgd(model, x[:8], y[:8], eps=0.1, step_size=0.05, steps=2, precision=precision)
            assert keras.config.dtype_policy().name == policy
        evasion.robustness(model, x[:8], y[:8], eps=0.1, steps=2)
        evasion.worst_case(model, x[:8], y[:8], eps=0.1, steps=2, n_targets=1, square_queries=5)
        assert keras.config.dtype_policy().name == policy
    finally:
        keras.config.set_dtype_policy(old)


def test_robust_models_explorer_redraws_from_precomputed_attacks(trained_mlp, small):
    from modelsec_edu.widgets import adversarial_training

    _, (xv, yv) = small
    keras.utils.set_random_seed(1)
    zoo_ = {"plain": trained_mlp, "untrained": models.article_mlp()}
    adv, probs = adversarial_training.attack_transfer_table(
        zoo_, xv[:4], yv[:4], eps_values=[0.0, 0.3], steps=3
    )
    np.testing.assert_array_equal(adv["plain"][0], xv[:4])  # eps = 0 changes nothing
    assert np.abs(adv["plain"][1] - xv[:4]).max() <= 0.3 + 1e-6
    assert probs.shape == (2, 2, 2, 4, 10)
    np.testing.assert_allclose(
        probs[0, 1, 1], models.predict_proba(zoo_["untrained"], adv["plain"][1]), atol=1e-6
    )

    panel = adversarial_training.robust_models_explorer(
        zoo_, xv[:4], yv[:4], eps_values=[0.0, 0.3], steps=3
    )
    eps, index, source = panel.controls
    right = int(models.predict_labels(trained_mlp, xv[:1])[0] == yv[0]) + int(
        models.predict_labels(zoo_["untrained"], xv[:1])[0] == yv[0]
    )
    assert f"{right} of 2" in panel.status.value
    eps.value, index.value, source.value = 0.3, 2, "untrained"
    assert "untrained" in panel.status.value and "0.30" in panel.status.value
    assert panel.fig.image.value  # a PNG was rendered


@pytest.mark.parametrize("method", ["plain", "fgsm_rs"])
def test_epoch_seconds_times_each_epoch_and_trains_in_place(small, method):
    """One time per repeat, each positive; the model trains; the caller's arrays stay as given."""
    (x, y), _ = small
    x0, y0 = x.copy(), y.copy()
    model = _mlp()
    before = [w.copy() for w in model.get_weights()]
    times = evasion.epoch_seconds(model, x, y, method=method, batch_size=64, repeats=2, warmup=64)
    assert len(times) == 2 and all(t > 0 for t in times)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "fgsm"}, "method"),
        ({"repeats": 0}, "repeats"),
        ({"warmup": -1}, "warmup"),
        ({"steps": 3}, "settings"),
    ],
)
def test_epoch_seconds_refuses_bad_settings(small, kwargs, match):
    (x, y), _ = small
    with pytest.raises(ValueError, match=match):
        evasion.epoch_seconds(_mlp(), x, y, **kwargs)
