"""The card-transaction simulator: seeded, under 1% fraud, features from the past only."""

from __future__ import annotations

import numpy as np
import pytest

from modelsec_edu import data


@pytest.fixture(scope="module")
def small():
    return data.simulate_transactions(customers=300, terminals=100, days=40, seed=0)


def test_seeded(small):
    again = data.simulate_transactions(customers=300, terminals=100, days=40, seed=0)
    np.testing.assert_array_equal(small.x, again.x)
    other = data.simulate_transactions(customers=300, terminals=100, days=40, seed=1)
    assert len(other.y) != len(small.y) or not np.array_equal(other.x, small.x)


def test_shapes_labels_and_validity(small):
    n = len(small.y)
    assert small.x.shape == (n, small.spec.n_features) and n > 10_000
    assert set(np.unique(small.y)) <= {0, 1}
    np.testing.assert_array_equal(small.y, (small.scenario > 0).astype(int))
    assert small.spec.validity(small.x, small.x).valid.all()
    assert small.spec.synthetic


def test_fraud_is_rare_with_the_default_sizes():
    d = data.simulate_transactions(seed=0)  # the defaults: 90 days, about 160,000 transactions
    assert 0 < d.y.mean() < 0.01
    assert set(np.unique(d.scenario)) == {0, 1, 2, 3}


def test_time_order_and_scenario_one(small):
    assert np.all(np.diff(small.day) >= 0)
    assert np.all(small.scenario[small.amount > 220] >= 1)


def test_history_features_ignore_the_transaction_itself(small):
    spec = small.spec
    col = spec.feature("customer_count_1d").columns[0]
    first = np.unique(small.customer, return_index=True)[1]  # each customer's first transaction
    assert np.all(small.x[first, col] == 0)


def test_only_amount_and_time_are_the_fraudsters():
    spec = data.fraud_spec()
    mutable = [f.name for f in spec.features if f.mutable]
    assert mutable == ["amount", "is_night"]


@pytest.mark.parametrize("kwargs, err", [
    ({"days": 0}, ValueError), ({"customers": 2.5}, TypeError), ({"seed": "x"}, TypeError),
])  # fmt: skip
def test_checks_its_arguments(kwargs, err):
    with pytest.raises(err):
        data.simulate_transactions(**kwargs)
