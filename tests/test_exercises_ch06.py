"""Chapter 06's checks: the library's own answer passes, each wrong answer fails."""

import keras
import numpy as np
import pytest

from modelsec_edu import backend
from modelsec_edu.exercises import ch06


def lib_example(model, x, y, delta0, eps, alpha):
    return ch06.fgsm_rs_example(model, x, y, delta0, eps=eps, alpha=alpha)


def example_no_start(model, x, y, delta0, eps, alpha):
    return ch06.fgsm_rs_example(model, x, y, np.zeros_like(delta0), eps=eps, alpha=alpha)


def example_not_projected(model, x, y, delta0, eps, alpha):
    x0 = np.clip(x + delta0, 0, 1)
    _, g = backend.input_gradient(model, x0, y)
    return x0 + alpha * np.sign(g)


def lib_step(model, x, y, delta0, eps, alpha, lr):
    x_adv = ch06.fgsm_rs_example(model, x, y, delta0, eps=eps, alpha=alpha)
    for var, g in zip(model.trainable_variables, backend.weight_gradients(model, x_adv, y)):
        var.assign(var - lr * g)


def step_on_clean(model, x, y, delta0, eps, alpha, lr):
    for var, g in zip(model.trainable_variables, backend.weight_gradients(model, x, y)):
        var.assign(var - lr * g)


def step_ascends(model, x, y, delta0, eps, alpha, lr):
    x_adv = ch06.fgsm_rs_example(model, x, y, delta0, eps=eps, alpha=alpha)
    for var, g in zip(model.trainable_variables, backend.weight_gradients(model, x_adv, y)):
        var.assign(var + lr * g)


def fixed_loop(model, x, y, sample_fake, epochs, batch_size, seed):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            model.train_on_batch(x[idx], y[idx])
            model.train_on_batch(sample_fake(len(idx)), rng.integers(0, 10, len(idx)))


def article_as_printed(
    model, x, y, sample_fake, epochs, batch_size, seed
):  # the whole set as one batch
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train_on_batch(x, y)
        model.train_on_batch(sample_fake(batch_size), rng.integers(0, 10, batch_size))


def loop_one_hot(model, x, y, sample_fake, epochs, batch_size, seed):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for i in range(0, len(x), batch_size):
            model.train_on_batch(x[i : i + batch_size], y[i : i + batch_size])
            k = len(x[i : i + batch_size])
            model.train_on_batch(sample_fake(k), np.eye(10)[rng.integers(0, 10, k)])


CASES = [
    (
        "fgsm_rs_example",
        ch06.check_fgsm_rs_example,
        lib_example,
        [example_no_start, example_not_projected],
    ),
    (
        "fgsm_rs_step",
        ch06.check_fgsm_rs_step,
        lib_step,
        [step_on_clean, step_ascends, lambda *a: None],
    ),
    ("article_loop", ch06.check_article_loop, fixed_loop, [article_as_printed, loop_one_hot]),
]


@pytest.mark.parametrize(("name", "check", "right", "wrongs"), CASES, ids=[c[0] for c in CASES])
def test_function_checks(name, check, right, wrongs):
    assert check(right) is True
    for wrong in wrongs:
        assert check(wrong) is False
    assert check(...) is False


def test_numbers():
    assert ch06.check_uniform_loss(float(np.log(10))) is True
    assert ch06.check_uniform_loss(float(np.log2(10))) is False
    assert ch06.check_trades_beta(0) is True
    assert ch06.check_trades_beta(6.0) is False
    assert ch06.check_trades_beta(...) is False


def test_masking_choice_explains(capsys):
    assert ch06.check_masking("masking") is True
    assert ch06.check_masking("yes") is False
    assert "strongest attack" in capsys.readouterr().out


class _Run:
    def __init__(self, eps, val):
        self.history = {"eps": eps, "val_robust_accuracy": val}


def test_runs_check_settings_not_outcome():
    no_warm, warm = _Run([0.3] * 3, [0.5, 0.1, 0.0]), _Run([0.15, 0.3, 0.3], [0.1, 0.1, 0.1])
    assert ch06.check_runs(no_warm, warm) is True  # whatever the outcome
    assert ch06.check_runs(warm, warm) is False
    assert ch06.check_runs(no_warm, no_warm) is False
    assert ch06.check_runs(_Run([0.3], [0.5]), warm) is False
    assert ch06.check_runs(..., warm) is False


def test_checks_leave_no_dtype_policy_behind():
    before = keras.config.dtype_policy().name
    ch06.check_fgsm_rs_example(lib_example)
    assert keras.config.dtype_policy().name == before
