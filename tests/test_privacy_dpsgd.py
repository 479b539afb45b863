"""DP-SGD: the aggregation clips every example to C, the trainer reports the accountant's ε,
and noise hurts fit as it must (invariants; the bars are in bench/healthcare.py)."""

import math

import keras
import numpy as np
import pytest

from modelsec_edu.privacy import dp_epsilon
from modelsec_edu.privacy.dpsgd import capacity, clip_and_noise, dp_fit
from modelsec_edu.privacy.experiments import linear_head


def test_clip_and_noise_bounds_each_example_and_masks_padding():
    rng = np.random.default_rng(0)
    g = [
        rng.normal(size=(6, 3, 2)).astype("float32") * 5,
        rng.normal(size=(6, 2)).astype("float32"),
    ]
    zero = [np.zeros((3, 2), "float32"), np.zeros(2, "float32")]
    mask = np.array([1, 1, 1, 1, 0, 0], "float32")
    out = clip_and_noise(g, zero, l2_norm_clip=0.5, mask=mask, denominator=1.0)
    flat = np.concatenate([keras.ops.convert_to_numpy(o).ravel() for o in out])
    assert np.linalg.norm(flat) <= 4 * 0.5 + 1e-5  # four real examples, each at most C
    single = [a[:1] for a in g]  # one example alone: its clipped gradient has norm exactly C
    one = clip_and_noise(single, zero, l2_norm_clip=0.5, denominator=1.0)
    norm = np.sqrt(sum(float(np.sum(keras.ops.convert_to_numpy(o) ** 2)) for o in one))
    assert norm == pytest.approx(0.5, rel=1e-5)
    assert capacity(500, 8000) > 500 and capacity(8000, 8000) == 8000


def test_dp_fit_reports_the_accountants_epsilon_and_learns_without_noise():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    runs = {}
    for sigma in (0.0, 1.2, 30.0):
        model = linear_head(5, 2)
        runs[sigma] = dp_fit(
            model,
            x,
            y,
            noise_multiplier=sigma,
            batch_size=100,
            epochs=3,
            learning_rate=0.5,
            delta=1e-5,
            seed=0,
            progress=False,
        )
        acc = float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x)), 1) == y))
        runs[sigma] = (runs[sigma], acc)
    assert math.isinf(runs[0.0][0].epsilon) and runs[0.0][1] > 0.9
    want = dp_epsilon(n=400, batch_size=100, noise_multiplier=1.2, epochs=3, delta=1e-5)
    assert runs[1.2][0].epsilon == pytest.approx(want) and runs[1.2][0].steps == 12
    assert runs[30.0][0].epsilon < runs[1.2][0].epsilon
    assert runs[30.0][1] < runs[0.0][1]  # noise 30x the clip drowns 12 steps of signal


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"noise_multiplier": -1.0}, ValueError),
        ({"noise_multiplier": 1.0, "batch_size": 0}, ValueError),
        ({"noise_multiplier": 1.0, "sampling": "random"}, ValueError),
    ],
)
def test_dp_fit_refuses_bad_arguments(kwargs, error):
    x = np.zeros((10, 3), "float32")
    with pytest.raises(error):
        dp_fit(linear_head(3, 2), x, np.arange(10) % 2, progress=False, **kwargs)
