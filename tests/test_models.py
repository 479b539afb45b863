import numpy as np
import pytest

from modelsec_edu import models


@pytest.mark.parametrize("make", [models.article_mlp, models.small_cnn])
def test_models_output_logits_for_28x28_images(make):
    model = make()
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert model.layers[-1].activation.__name__ == "linear"  # logits, not softmax


def test_article_mlp_is_784_64_64_10():
    model = models.article_mlp()
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [layer.units for layer in dense] == [64, 64, 10]
    assert model.count_params() == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10


def test_fit_predict_and_accuracy(digits):
    (xtr, ytr), (xte, yte) = digits
    model = models.article_mlp()
    hist = models.fit(model, xtr, ytr, epochs=2, batch_size=64, progress=False)
    assert len(hist.history["loss"]) == 2
    assert hist.history["loss"][1] < hist.history["loss"][0]
    probs = models.predict_proba(model, xte[:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    acc = models.accuracy(model, xte, yte)
    assert 0.3 < acc <= 1.0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: models.article_mlp(input_shape=(0, 28)), ValueError, "input_shape"),
        (lambda: models.compile_classifier("model"), TypeError, "keras.Model"),
        (
            lambda: models.compile_classifier(models.article_mlp(), learning_rate=-1),
            ValueError,
            "learning_rate",
        ),
        (
            lambda: models.fit(
                models.article_mlp(), np.zeros((0, 28, 28, 1)), np.zeros(0), epochs=1
            ),
            ValueError,
            "empty",
        ),
        (
            lambda: models.fit(
                models.article_mlp(), np.zeros((2, 28, 28, 1)), np.zeros(3), epochs=1
            ),
            ValueError,
            "same length",
        ),
        (
            lambda: models.fit(
                models.article_mlp(), np.zeros((2, 28, 28, 1)), np.zeros(2), epochs=0
            ),
            ValueError,
            "epochs",
        ),
        (
            lambda: models.predict_logits(models.article_mlp(), np.zeros((0, 28, 28, 1))),
            ValueError,
            "non-empty",
        ),
        (
            lambda: models.accuracy(models.article_mlp(), np.zeros((2, 28, 28, 1)), np.zeros(3)),
            ValueError,
            "shape",
        ),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.slow
def test_real_mnist_bars(real_mnist):
    """The foundation's bars: article MLP >= 95%, small CNN >= 98% on the real subset."""
    import keras

    (xtr, ytr), (xte, yte) = real_mnist
    keras.utils.set_random_seed(0)
    mlp = models.compile_classifier(models.article_mlp())
    models.fit(mlp, xtr, ytr, **models.RECIPES["article_mlp"], progress=False)
    assert models.accuracy(mlp, xte, yte) >= 0.95


def test_every_trainer_runs_in_the_one_epoch_loop(digits, monkeypatch):
    """Issue 8: plain-with-a-loop, adversarial, the article's method, GAN and AdvGAN training
    all hand their batches to models.loop.epoch_loop (one loop, one progress bar)."""
    import keras

    from modelsec_edu import evasion
    from modelsec_edu.evasion import advgan, gan
    from modelsec_edu.models import loop

    (x, y), _ = digits
    x, y = x[:64], y[:64]
    seen = []
    real = loop.epoch_loop

    def spy(train_batch, n, **kwargs):
        seen.append(kwargs["desc"])
        return real(train_batch, n, **kwargs)

    monkeypatch.setattr(loop, "epoch_loop", spy)
    keras.utils.set_random_seed(0)
    mlp = models.compile_classifier(models.article_mlp())
    evasion.adversarial_fit(mlp, x, y, method="fgsm_rs", eps=0.1, epochs=1, progress=False)
    g = gan.dcgan(latent_dim=8)
    gan.train(g, x, epochs=1, batch_size=32, on_samples=None, progress=False)
    evasion.article_gan_training(mlp, x, y, g.generator, epochs=1, batch_size=32, progress=False)
    adv = advgan.perturbation_generator(eps=0.1)
    advgan.train(adv, mlp, x, y, epochs=1, batch_size=32, progress=False)
    assert len(seen) == 4, seen


def test_epoch_loop_slices_every_sample_once_per_epoch():
    import keras

    from modelsec_edu.models import loop

    bar = loop.ProgressBar(10, "t", enabled=False)
    bar.update(3)  # a disabled bar is a no-op, not an error
    bar.show(0, {"loss": 1.0})
    bar.close()
    model = models.article_mlp()
    batches = []
    hist = loop.epoch_loop(
        lambda sl, idx: batches.append(len(idx)) or {"m": float(len(idx))},
        10,
        epochs=2,
        batch_size=4,
        rng=np.random.default_rng(0),
        model=model,
        progress=False,
    )
    assert batches == [4, 4, 2, 4, 4, 2] and len(hist.history["m"]) == 2
    assert isinstance(hist, keras.callbacks.History)
