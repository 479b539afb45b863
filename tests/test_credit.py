"""The shipped German credit data and the table descriptor every tabular attack reads."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import NamedTuple

import numpy as np
import pytest

from modelsec_edu import data
from modelsec_edu.data import credit, tabular


@pytest.fixture(scope="module")
def german():
    return data.load_german_credit()


def test_shipped_file_matches_its_recorded_hash():
    blob = resources.files("modelsec_edu.data").joinpath(credit.CREDIT_FILE).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == credit.CREDIT_SHA256


def test_a_changed_file_is_refused(monkeypatch):
    monkeypatch.setattr(credit, "CREDIT_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        credit.load_german_credit()


def test_shape_classes_and_encoding(german):
    assert german.x.shape == (1000, german.spec.n_features) == (1000, 61)
    assert german.x.dtype == np.float32 and german.y.dtype == np.int64
    assert np.bincount(german.y).tolist() == [700, 300]  # 700 good, 300 bad: UCI's counts
    assert german.x.min() >= 0 and german.x.max() <= 1
    assert german.spec.validity(german.x, german.x).valid.all()
    assert "CC BY 4.0" in german.citation


def test_decode_reads_back_the_raw_row(german):
    for i in (0, 1, 999):
        row, raw = german.spec.decode(german.x[i]), german.raw[i]
        for f in german.spec.features:
            want = raw[f.name] if f.kind == "onehot" else int(raw[f.name])
            assert row[f.name] == want, (i, f.name)


def test_what_an_applicant_may_change(german):
    spec = german.spec
    for name in ("age_in_years", "foreign_worker", "personal_status_and_sex", "credit_history"):
        assert not spec.feature(name).mutable, name
    for name in ("credit_amount", "duration_in_month", "purpose"):
        assert spec.feature(name).mutable, name
    assert spec.feature("credit_amount").cost < spec.feature("present_employment_since").cost


class Broken(NamedTuple):
    name: str
    edit: object
    rule: str


BROKEN = [
    Broken("fractional one-hot", lambda x, s: x.__setitem__((0, s.groups()[0][0]), 0.5), "onehot"),
    Broken("two categories", lambda x, s: x.__setitem__((0, s.groups()[0]), 1.0), "onehot"),
    Broken(
        "non-integer months",
        lambda x, s: x.__setitem__(
            (0, s.feature("duration_in_month").columns[0]),
            s.feature("duration_in_month").scale(10.5),
        ),
        "integer",
    ),
    Broken(
        "negative amount",
        lambda x, s: x.__setitem__((0, s.feature("credit_amount").columns[0]), -0.2),
        "bounds",
    ),
    Broken(
        "younger",
        lambda x, s: x.__setitem__(
            (0, s.feature("age_in_years").columns[0]), s.feature("age_in_years").scale(30)
        ),
        "immutable",
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_validity_names_the_broken_rule(german, case):
    x0 = german.x[:3].copy()
    x = x0.copy()
    case.edit(x, german.spec)
    v = german.spec.validity(x, x0)
    assert not getattr(v, case.rule)[0] and not v.valid[0]
    assert v.valid[1:].all()
    fixed = german.spec.project(x, x0)
    assert german.spec.validity(fixed, x0).valid.all()


def test_project_is_idempotent_and_leaves_inputs_alone(german):
    rng = np.random.default_rng(0)
    x0 = german.x[:50]
    relaxed = np.clip(x0 + rng.normal(0, 0.3, x0.shape), -1, 2).astype("float32")
    before = relaxed.copy()
    p = german.spec.project(relaxed, x0)
    np.testing.assert_array_equal(relaxed, before)
    np.testing.assert_array_equal(german.spec.project(p, x0), p)
    assert german.spec.validity(p, x0).valid.all()


def test_sample_is_valid_and_seeded(german):
    a, b = german.spec.sample(200, seed=3), german.spec.sample(200, seed=3)
    np.testing.assert_array_equal(a, b)
    assert german.spec.validity(a, a).valid.all()


def test_change_cost_counts_a_category_switch_at_its_cost(german):
    spec = german.spec
    x0 = german.x[:1]
    x = x0.copy()
    cols = spec.feature("housing").columns
    x[0, list(cols)] = 0
    x[0, cols[0] if x0[0, cols[0]] == 0 else cols[1]] = 1
    assert spec.change_cost(x, x0)[0] == pytest.approx(spec.feature("housing").cost)


def test_stratified_split_keeps_the_class_shares(german):
    (xtr, ytr), (xte, yte) = tabular.stratified_split(german.x, german.y, test_size=0.3, seed=0)
    assert len(xte) == 300 and yte.sum() == 90 and len(xtr) + len(xte) == 1000


@pytest.mark.parametrize("kwargs, err", [
    ({"test_size": 0.0}, ValueError), ({"test_size": "a"}, TypeError), ({"seed": -1}, ValueError),
])  # fmt: skip
def test_split_checks_its_arguments(german, kwargs, err):
    with pytest.raises(err):
        tabular.stratified_split(german.x, german.y, **kwargs)


def test_a_bad_feature_is_refused():
    with pytest.raises(ValueError, match="kind"):
        tabular.Feature("f", "text", (0,))
    with pytest.raises(ValueError, match="hi"):
        tabular.Feature("f", "integer", (0,), lo=3, hi=3)
    with pytest.raises(ValueError, match="columns"):
        tabular.TabularSpec("t", (tabular.Feature("f", "continuous", (1,)),), ("a", "b"))
