import numpy as np
import pytest

from modelsec_edu import models, tampering


def test_perturb_returns_a_new_model_and_leaves_the_original(trained_mlp, digits):
    _, (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    acc = models.accuracy(trained_mlp, xte, yte)
    noisy = tampering.perturb_weights(trained_mlp, scale=3.0, seed=0)
    assert noisy is not trained_mlp
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert models.accuracy(trained_mlp, xte, yte) == acc
    assert models.accuracy(noisy, xte, yte) < acc - 0.3


def test_scale_zero_is_an_exact_copy(trained_mlp):
    copy = tampering.perturb_weights(trained_mlp, scale=0.0)
    for a, b in zip(trained_mlp.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_noise_is_relative_to_each_layer_and_seeded():
    ws = [
        np.ones((1000,), "float32") * np.linspace(0, 1, 1000),
        np.linspace(0, 100, 1000).astype("float32"),
    ]
    a = tampering.noisy_weights(ws, scale=0.5, seed=1)
    b = tampering.noisy_weights(ws, scale=0.5, seed=1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for w, n in zip(ws, a):
        assert n.dtype == w.dtype
        assert abs((n - w).std() / w.std() - 0.5) < 0.05


@pytest.mark.parametrize(
    ("scale", "error"), [(-1.0, ValueError), (float("inf"), ValueError), ("big", TypeError)]
)
def test_bad_scale(scale, error):
    with pytest.raises(error, match="scale"):
        tampering.noisy_weights([np.ones(3)], scale=scale)


def test_clone_needs_a_model():
    with pytest.raises(TypeError, match="keras.Model"):
        tampering.clone("weights.h5")


# ------------------------------------------------------------------- pruning, quantisation, trojans


@pytest.mark.parametrize(
    ("fraction", "method"),
    [(0.0, "magnitude"), (0.3, "magnitude"), (0.5, "random"), (1.0, "random")],
)
def test_prune_zeroes_the_fraction_of_each_kernel_and_keeps_biases(trained_mlp, fraction, method):
    before = [w.copy() for w in trained_mlp.get_weights()]
    pruned = tampering.prune(trained_mlp, fraction=fraction, method=method, seed=0)
    for w0, w in zip(before, pruned.get_weights()):
        if w.ndim >= 2:
            zeroed = np.count_nonzero((w == 0) & (w0 != 0))
            assert zeroed == round(fraction * w.size)
            if method == "magnitude" and 0 < fraction < 1:
                assert np.abs(w0[w == 0]).max() <= np.abs(w0[w != 0]).min()
        else:
            np.testing.assert_array_equal(w, w0)
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_quantize_round_trip_is_within_half_a_step_and_idempotent(trained_mlp, digits):
    _, (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    q = tampering.quantize(trained_mlp)
    assert q is not trained_mlp
    for w0, w in zip(before, q.get_weights()):
        step = np.abs(w0).max() / 127
        assert np.abs(w - w0).max() <= step / 2 + 1e-7
        assert len(np.unique(np.rint(w / step))) <= 255
    for a, b in zip(tampering.quantize(q).get_weights(), q.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert abs(models.accuracy(q, xte, yte) - models.accuracy(trained_mlp, xte, yte)) <= 0.02


def test_trojan_finetune_plants_a_backdoor_and_leaves_the_release_alone(trained_mlp, digits):
    from modelsec_edu import poisoning

    (xtr, ytr), (xte, yte) = digits
    before = [w.copy() for w in trained_mlp.get_weights()]
    asr_before = poisoning.backdoor_success_rate(trained_mlp, xte, yte, target=0, size=5)
    trojan = tampering.trojan_finetune(
        trained_mlp, xtr[:400], ytr[:400], target=0, rate=0.2, epochs=5, size=5, seed=0
    )
    asr_after = poisoning.backdoor_success_rate(trojan, xte, yte, target=0, size=5)
    assert asr_after > asr_before + 0.5
    assert models.accuracy(trojan, xte, yte) > models.accuracy(trained_mlp, xte, yte) - 0.1
    for a, b in zip(before, trained_mlp.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_canary_and_weight_statistics_see_the_damage(trained_mlp, digits):
    _, (xte, yte) = digits
    acc = models.accuracy(trained_mlp, xte, yte)
    assert tampering.canary_check(trained_mlp, xte, yte, expected=acc) == (True, acc)
    broken = tampering.perturb_weights(trained_mlp, scale=3.0, seed=0)
    ok, acc_broken = tampering.canary_check(broken, xte, yte, expected=acc)
    assert not ok and acc_broken < acc
    stats = tampering.weight_statistics(trained_mlp)
    names = tampering.weight_names(trained_mlp)
    assert list(stats) == names
    assert [n.split("/") for n in names] == [
        [layer.name, w] for layer in trained_mlp.layers[1:] for w in ("kernel", "bias")
    ]
    assert stats[names[0]]["absmax"] == pytest.approx(np.abs(trained_mlp.get_weights()[0]).max())
    diff = tampering.weight_diff(trained_mlp, tampering.prune(trained_mlp, fraction=0.1))
    assert diff[names[0]]["changed"] == round(0.1 * 784 * 64) and diff[names[1]]["changed"] == 0
    with pytest.raises(ValueError, match="same architecture"):
        tampering.weight_diff(trained_mlp, models.small_cnn())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"fraction": 1.5}, ValueError), ({"fraction": 0.1, "method": "lsb"}, ValueError)],
)
def test_bad_prune(trained_mlp, kwargs, error):
    with pytest.raises(error):
        tampering.prune(trained_mlp, **kwargs)
