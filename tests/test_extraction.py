"""Extraction through a prediction API: equation-solving, the label-only copy, the monitor."""

from __future__ import annotations

import numpy as np
import pytest

from modelsec_edu import data, extraction, privacy


@pytest.fixture(scope="module")
def german():
    d = data.load_german_credit()
    return d, data.stratified_split(d.x, d.y, seed=0)


@pytest.fixture(scope="module")
def logistic(german):
    from sklearn.linear_model import LogisticRegression

    _, ((xtr, ytr), _) = german
    return LogisticRegression(max_iter=2000).fit(xtr, ytr)


@pytest.fixture(scope="module")
def scorer(german):
    _, ((xtr, ytr), _) = german
    m = privacy.tabular_mlp(xtr.shape[1], 2, width=16, depth=2, seed=0)
    return privacy.fit_steps(m, xtr, ytr, steps=60, seed=0)


@pytest.mark.parametrize("design", extraction.DESIGNS)
def test_equation_solving_is_exact_with_d_plus_one_queries(logistic, design):
    api = extraction.PredictionAPI(logistic.predict_proba)
    w, b = extraction.equation_solving(api, 61, design=design, seed=0)
    assert api.n_queries == 62
    np.testing.assert_allclose(w, logistic.coef_[0], atol=1e-9)
    assert b == pytest.approx(logistic.intercept_[0], abs=1e-9)


def test_rounding_breaks_the_exactness(logistic):
    exact = extraction.equation_solving(extraction.PredictionAPI(logistic.predict_proba), 61)[0]
    rounded = extraction.PredictionAPI(logistic.predict_proba, output="rounded", decimals=2)
    w = extraction.equation_solving(rounded, 61)[0]
    assert np.abs(w - logistic.coef_[0]).max() > 1e3 * max(
        np.abs(exact - logistic.coef_[0]).max(), 1e-15
    )


@pytest.mark.parametrize("output", extraction.OUTPUTS)
def test_the_api_releases_what_it_says(logistic, german, output):
    (d, _) = german
    api = extraction.PredictionAPI(logistic.predict_proba, output=output, decimals=2)
    p = api(d.x[:20], account="a")
    full = logistic.predict_proba(d.x[:20])
    assert p.shape == (20, 2) and api.n_queries == 20 and api.queries("a").shape == (20, 61)
    assert np.array_equal(p.argmax(1), full.argmax(1)) or output == "rounded"
    if output == "label":
        assert set(np.unique(p)) <= {0.0, 1.0}
    if output == "rounded":
        np.testing.assert_array_equal(p, np.round(p, 2))


def test_copycat_agrees_with_its_victim_and_respects_the_budget(german, scorer):
    d, (_, (xte, _)) = german
    api = extraction.PredictionAPI(scorer, output="label")
    pool = d.spec.sample(3000, seed=1)
    copy = extraction.copycat(
        api, pool, queries=300, seed=0,
        model_fn=lambda: privacy.tabular_mlp(61, 2, width=16, depth=2, seed=1),
    )  # fmt: skip
    assert api.n_queries == 300
    majority = max(np.mean(extraction.decide(scorer, xte) == c) for c in (0, 1))
    assert extraction.agreement(copy, scorer, xte) > majority  # better than always saying one thing


def test_agreement_of_a_model_with_itself_is_one(german, scorer):
    d, _ = german
    assert extraction.agreement(scorer, scorer, d.x) == 1.0


def test_min_distances_are_to_earlier_queries_only():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    d = extraction.min_distances(x)
    assert np.isnan(d[0]) and d[1] == 5.0 and d[2] == 1.0


def test_monitor_flags_made_up_queries_and_spares_customers(german):
    d, ((xtr, _), (xte, _)) = german
    rng = np.random.default_rng(0)
    half = len(xte) // 2
    calib = [xte[:half][rng.choice(half, 80, replace=False)] for _ in range(20)]
    held = [xte[half:][rng.choice(len(xte) - half, 80, replace=False)] for _ in range(20)]
    attack = [d.spec.sample(200, seed=s) for s in range(10)]
    mon = extraction.QueryMonitor(statistic="reference", reference=xtr, warmup=10)
    mon.calibrate(calib, false_alarms=0.05)
    assert mon.run(calib).rate() <= 0.05  # by construction of the threshold
    assert mon.run(attack).rate(200) > mon.run(held).rate()


@pytest.mark.parametrize("call, err", [
    (lambda: extraction.equation_solving("api", 3), TypeError),
    (lambda: extraction.equation_solving(lambda x: x, 0), ValueError),
    (lambda: extraction.equation_solving(lambda x: x, 3, design="grid"), ValueError),
    (lambda: extraction.PredictionAPI(3), TypeError),
    (lambda: extraction.PredictionAPI(lambda x: x, output="json"), ValueError),
    (lambda: extraction.copycat(abs, np.zeros((5, 2)), queries=10, model_fn=list), ValueError),
    (lambda: extraction.QueryMonitor(statistic="reference"), TypeError),
])  # fmt: skip
def test_bad_arguments_are_refused(call, err):
    with pytest.raises(err):
        call()
