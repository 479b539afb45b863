"""gan: DCGAN and conditional GAN models, sampling, training, checkpoints."""

import json

import keras
import numpy as np
import pytest

from modelsec_edu import backend, models
from modelsec_edu.evasion import gan
from modelsec_edu.supply_chain import integrity


@pytest.fixture(scope="module")
def images(digits):
    (x, y), _ = digits
    return x[:128], y[:128]


@pytest.mark.backend
@pytest.mark.parametrize(("make", "outputs"), [(gan.dcgan, 1), (gan.cgan, 11)])
def test_shapes_and_pixel_range(make, outputs):
    keras.utils.set_random_seed(0)
    g = make(latent_dim=8)
    labels = np.arange(6) % 10 if g.conditional else None
    images, got = gan.sample(g.generator, 6, labels=labels, seed=0)
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert (got is None) == (not g.conditional)
    if g.conditional:
        np.testing.assert_array_equal(got, labels)
    assert tuple(g.discriminator(images).shape) == (6, outputs)


def test_sampling_is_seeded():
    g = gan.cgan(latent_dim=8)
    a, la = gan.sample(g.generator, 5, seed=1)
    b, lb = gan.sample(g.generator, 5, seed=1)
    c, _ = gan.sample(g.generator, 5, seed=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda g: gan.sample(g.generator, 0), "n must"),
        (lambda g: gan.sample(g.generator, 3, labels=[1, 2]), "labels"),
        (
            lambda g: gan.sample(gan.dcgan(latent_dim=4).generator, 3, labels=[1, 2, 3]),
            "unconditional",
        ),
        (
            lambda g: gan.label_accuracy(gan.dcgan(latent_dim=4).generator, g.discriminator),
            "conditional",
        ),
        (lambda g: gan.cgan(latent_dim=0), "latent_dim"),
        (
            lambda g: gan.train(g, np.zeros((4, 28, 28, 1), "float32"), None, epochs=1),
            "labels|y must",
        ),
        (
            lambda g: gan.train(g, np.zeros((4, 8, 8, 1), "float32"), np.zeros(4, int), epochs=1),
            "shape",
        ),
    ],
)
def test_bad_arguments_are_refused(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call(gan.cgan(latent_dim=8))


@pytest.mark.backend
@pytest.mark.parametrize("conditional", [False, True])
def test_generator_step_sees_the_current_discriminator(conditional):
    """The G step reads D's weights as inputs: changing D changes the loss, on every backend.

    With D's last layer set to output the constant logit b, the non-saturating
    loss is softplus(-b): log 2 for b = 0, about 0.0067 for b = 5.
    """
    keras.utils.set_random_seed(0)
    g = gan.cgan(latent_dim=4) if conditional else gan.dcgan(latent_dim=4)
    D = g.discriminator
    step = backend.train_step(g.generator, gan._g_loss(D, conditional), key="test-g")
    z = keras.ops.convert_to_tensor(
        np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    )
    c = keras.ops.convert_to_tensor(np.zeros(8, "int32"))
    losses = []
    for bias in (0.0, 5.0):
        kernel, b = D.layers[-1].get_weights()
        b[:] = 0.0
        b[0] = bias
        if conditional:
            b[1] = 50.0  # class 0 certain: the class term is ~0
        D.layers[-1].set_weights([np.zeros_like(kernel), b])
        weights = (
            [v.value for v in D.trainable_variables],
            [v.value for v in D.non_trainable_variables],
        )
        losses.append(float(keras.ops.convert_to_numpy(step((z, *weights), c))))
    np.testing.assert_allclose(losses, [np.log(2.0), np.log1p(np.exp(-5.0))], rtol=1e-3)


def test_training_checkpoints_and_resumes(images, tmp_path):
    x, y = images
    keras.utils.set_random_seed(0)
    g = gan.cgan(latent_dim=8)
    seen = []
    hist = gan.train(
        g,
        x,
        y,
        epochs=2,
        batch_size=32,
        checkpoint_dir=tmp_path,
        sample_every=1,
        on_samples=lambda epoch, im, lab: seen.append((epoch, im.shape, lab[:3].tolist())),
        progress=False,
    )
    assert g.epochs_done == 2 and len(hist.history["d_loss"]) == 2
    assert all(np.isfinite(hist.history["g_loss"]))
    assert seen == [(1, (40, 28, 28, 1), [0, 1, 2]), (2, (40, 28, 28, 1), [0, 1, 2])]

    resumed = gan.load_checkpoint(tmp_path)
    assert (resumed.epochs_done, resumed.latent_dim, resumed.num_classes) == (2, 8, 10)
    for a, b in zip(resumed.generator.get_weights(), g.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.generator.optimizer.iterations) == int(g.generator.optimizer.iterations) > 0
    more = gan.train(resumed, x, y, epochs=3, batch_size=32, on_samples=None, progress=False)
    assert resumed.epochs_done == 3 and len(more.history["d_loss"]) == 1  # only the missing epoch
    assert gan.train(resumed, x, y, epochs=3, on_samples=None, progress=False).history == {}


def test_no_checkpoint_is_none(tmp_path):
    assert gan.load_checkpoint(tmp_path) is None


@pytest.mark.parametrize("victim", ["generator.keras", "gan.json"])
def test_a_tampered_checkpoint_is_refused(images, tmp_path, victim):
    x, y = images
    g = gan.dcgan(latent_dim=4)
    gan.train(
        g, x, y, epochs=1, batch_size=64, checkpoint_dir=tmp_path, on_samples=None, progress=False
    )
    if victim == "gan.json":
        (tmp_path / victim).write_text(
            json.dumps({"latent_dim": 4, "num_classes": 0, "epochs_done": 99})
        )
    else:
        with open(tmp_path / victim, "ab") as f:
            f.write(b"\0")
    with pytest.raises(integrity.IntegrityError):
        gan.load_checkpoint(tmp_path)


def test_label_accuracy_counts_recognised_labels(trained_mlp):
    """An untrained generator's samples are not recognised as their labels (about chance)."""
    keras.utils.set_random_seed(0)
    g = gan.cgan(latent_dim=8)
    acc = gan.label_accuracy(g.generator, trained_mlp, n=200)
    assert 0.0 <= acc <= 0.5
    pred = models.predict_labels(
        trained_mlp, gan.sample(g.generator, 200, labels=np.arange(200) % 10, seed=0)[0]
    )
    assert acc == pytest.approx(np.mean(pred == np.arange(200) % 10))


# --------------------------------------------------------------------------- AdvGAN


def test_advgan_trains_a_generator_without_touching_the_target(digits, trained_mlp):
    from modelsec_edu.evasion import advgan

    (x, y), _ = digits
    keras.utils.set_random_seed(0)
    adv = advgan.perturbation_generator(eps=0.2)
    before = [w.copy() for w in trained_mlp.get_weights()]
    hist = advgan.train(adv, trained_mlp, x[:512], y[:512], epochs=3, batch_size=64, progress=False)
    assert set(hist.history) == {"d_loss", "g_loss", "seconds", "samples_per_second"}
    assert hist.history["g_loss"][-1] < hist.history["g_loss"][0]
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    x_adv = advgan.attack(adv, x[:64])
    np.testing.assert_array_equal(x_adv, advgan.attack(adv.generator, x[:64], eps=0.2))
    assert np.abs(x_adv - x[:64]).max() <= 0.2 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_advgan_adversarial_fit_updates_the_model(digits):
    from modelsec_edu.evasion import advgan

    (x, y), _ = digits
    keras.utils.set_random_seed(0)
    model = models.compile_classifier(models.article_mlp())
    before = [w.copy() for w in model.get_weights()]
    hist = advgan.adversarial_fit(
        model,
        advgan.perturbation_generator(eps=0.2),
        x[:128],
        y[:128],
        epochs=1,
        batch_size=64,
        progress=False,
    )
    assert set(hist.history) == {"d_loss", "g_loss", "loss", "seconds", "samples_per_second"}
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a: a.perturbation_generator(eps=0.0), ValueError),
        (lambda a: a.perturbation_generator(eps=1.5), ValueError),
        (
            lambda a: a.attack(
                a.perturbation_generator(eps=0.1).generator, np.zeros((2, 28, 28, 1))
            ),
            ValueError,
        ),
        (
            lambda a: a.train(
                a.perturbation_generator(eps=0.1),
                "model",
                np.zeros((2, 28, 28, 1)),
                [0, 1],
                epochs=1,
            ),
            TypeError,
        ),
    ],
)
def test_advgan_refuses_bad_arguments(call, error):
    from modelsec_edu.evasion import advgan

    with pytest.raises(error):
        call(advgan)
