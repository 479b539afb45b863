"""adversarial_fit's defaults are the recipe table's tuned FGSM-RS recipe (issue 10).

The real-MNIST bar (worst case >= 70%, clean >= 98%) is measured by
``bench/robust_models.py train fgsm_rs``, which makes the issue's call with nothing else;
these tests check that the defaults are that recipe and that adversarial_fit applies them.
"""

import inspect

import keras
import pytest

from modelsec_edu import evasion, models
from modelsec_edu.models import recipes

EPS = 0.1


def test_the_defaults_are_the_zoo_recipe():
    """The bare call (eps 0.3, batch 100, 8,000 images) gets the zoo's settings at its epochs."""
    zoo_recipe = recipes.recipe("small_cnn_fgsm_rs", quick=False)
    got = recipes.adversarial_defaults("fgsm_rs", eps=0.3, epochs=zoo_recipe["epochs"], n=8000)
    got["batch_size"] = inspect.signature(evasion.adversarial_fit).parameters["batch_size"].default
    for key, value in zoo_recipe.items():
        if key != "epochs":
            assert got[key] == pytest.approx(value), key
    assert set(got) - set(zoo_recipe) == set(), "every default is in the recipe table"


@pytest.fixture(scope="module")
def small(digits):
    (x, y), _ = digits
    return x[:120], y[:120]


def fit(x, y, **kwargs):
    keras.utils.set_random_seed(0)
    model = models.article_mlp()
    settings = {"method": "fgsm_rs", "eps": EPS, "epochs": 8, "batch_size": 60}
    settings.update(progress=False, val_steps=2, **kwargs)
    return model, evasion.adversarial_fit(model, x, y, **settings).history


def test_fgsm_rs_defaults_warm_up_and_validate_on_held_out_images(small, monkeypatch):
    x, y = small
    seen = []
    real = evasion.training.backend.train_step

    def spy(model, loss_fn, **kwargs):
        step = real(model, loss_fn, **kwargs)

        def wrapped(inputs, labels):
            seen.append(keras.ops.convert_to_numpy(inputs[0]))
            return step(inputs, labels)

        return wrapped

    monkeypatch.setattr(evasion.training.backend, "train_step", spy)
    model, h = fit(x, y)
    assert len(h["val_robust_accuracy"]) == 8  # validated every epoch without being asked
    # eps warm-up over a quarter of the run: half the budget after the first of 8 epochs
    assert h["eps"][0] == pytest.approx(EPS / 2) and h["eps"][-1] == pytest.approx(EPS)
    per_epoch = sum(len(b) for b in seen) // 8
    n_val = recipes.adversarial_defaults("fgsm_rs", eps=EPS, epochs=8, n=len(x))["n_val"]
    assert n_val > 0 and per_epoch == len(x) - n_val  # the held-out images are never trained on
    held_out = x[-n_val:].reshape(n_val, -1)
    trained = {b.tobytes() for batch in seen for b in batch.reshape(len(batch), -1)}
    assert not any(img.tobytes() in trained for img in held_out)
    schedule = model.optimizer.learning_rate  # rises from 0, then decays
    assert schedule is not None


def test_the_best_epoch_is_kept(small):
    x, y = small
    val = (x[:40], y[:40])
    model, h = fit(x[40:], y[40:], validation_data=val)
    x_adv = evasion.pgd(
        model, *val, eps=EPS, step_size=EPS / 4, steps=2, seed=0, precision="float32"
    )
    assert models.accuracy(model, x_adv, val[1]) == pytest.approx(max(h["val_robust_accuracy"]))


@pytest.mark.parametrize(
    ("kwargs", "has_validation", "warm"),
    [
        ({"validation_data": None, "warmup_epochs": 0.0}, False, False),
        ({"method": "pgd", "steps": 2, "warmup_epochs": 0.0}, True, False),
        ({"method": "pgd", "steps": 2, "epochs": 16}, True, True),
    ],
    ids=["explicit-off", "pgd-no-warmup", "pgd-default-warmup"],
)
def test_other_settings(small, kwargs, has_validation, warm):
    x, y = small
    _, h = fit(x, y, **{"epochs": 2, **kwargs})
    assert ("val_robust_accuracy" in h) is has_validation
    assert (h["eps"][0] < h["eps"][-1]) is warm


def test_bad_validation_arguments(small):
    x, y = small
    with pytest.raises(ValueError, match="validation_data"):
        fit(x, y, validation_data="holdout")
    with pytest.raises(ValueError, match="restore_best"):
        fit(x, y, validation_data=None, restore_best=True)
    with pytest.raises(TypeError, match="validation_data"):
        fit(x, y, validation_data=x)
