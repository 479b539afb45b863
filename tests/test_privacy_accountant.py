"""The RDP accountant against TensorFlow Privacy's published MNIST table, and its invariants."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from modelsec_edu.privacy import accountant


class Published(NamedTuple):
    sigma: float
    epochs: int
    epsilon: float


# TF Privacy's MNIST tutorial table: n = 60,000, batch 256, delta = 1e-5.
TABLE = [Published(1.1, 60, 3.01), Published(1.3, 15, 1.19), Published(0.7, 45, 7.10)]


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"sigma{r.sigma}-epochs{r.epochs}")
def test_matches_published_table(row):
    eps = accountant.dp_epsilon(
        n=60000, batch_size=256, noise_multiplier=row.sigma, epochs=row.epochs, delta=1e-5
    )
    assert eps == pytest.approx(row.epsilon, abs=0.05)
    tighter = accountant.dp_epsilon(
        n=60000,
        batch_size=256,
        noise_multiplier=row.sigma,
        epochs=row.epochs,
        delta=1e-5,
        conversion="balle",
    )
    assert tighter < eps


def test_fractional_orders_agree_with_integer_orders_nearby():
    near = accountant.rdp_sampled_gaussian(0.02, 1.0, [2.0, 2.0 + 1e-7, 5.0, 5.0 - 1e-7])
    np.testing.assert_allclose(near[0], near[1], rtol=1e-4)
    np.testing.assert_allclose(near[2], near[3], rtol=1e-4)


def test_invariants():
    base = dict(n=8000, batch_size=256, delta=1e-5)
    eps = [accountant.dp_epsilon(noise_multiplier=s, epochs=10, **base) for s in (0.8, 1.2, 2.0)]
    assert eps[0] > eps[1] > eps[2] > 0  # more noise, less privacy spent
    longer = [accountant.dp_epsilon(noise_multiplier=1.2, epochs=e, **base) for e in (5, 10, 20)]
    assert longer[0] < longer[1] < longer[2]  # privacy spent grows with training
    # no sampling (q = 1): the plain Gaussian mechanism's alpha / (2 sigma^2)
    np.testing.assert_allclose(accountant.rdp_sampled_gaussian(1.0, 2.0, [2.0, 8.0]), [0.25, 1.0])
    # subsampling amplifies privacy
    assert np.all(
        accountant.rdp_sampled_gaussian(0.01, 1.0) < accountant.rdp_sampled_gaussian(1.0, 1.0)
    )
    sigma = accountant.noise_for_epsilon(target_epsilon=3.0, epochs=20, **base)
    assert accountant.dp_epsilon(noise_multiplier=sigma, epochs=20, **base) <= 3.0
    assert accountant.dp_epsilon(noise_multiplier=sigma - 0.02, epochs=20, **base) > 3.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"noise_multiplier": -1.0}, ValueError),
        ({"noise_multiplier": "1.1"}, TypeError),
        ({"delta": 0.0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 2.0}, TypeError),
        ({"conversion": "other"}, ValueError),
    ],
)
def test_bad_arguments(kwargs, error):
    args = dict(n=1000, batch_size=100, noise_multiplier=1.0, epochs=1, delta=1e-5) | kwargs
    with pytest.raises(error):
        accountant.dp_epsilon(**args)
