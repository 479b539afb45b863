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
    (lambda: extraction.QueryMonitor(statistic="nearest"), ValueError),
    (lambda: extraction.plausible_pool("spec", np.zeros((3, 61)), 5), TypeError),
    (lambda: extraction.plausible_pool(data.credit_spec(), np.zeros((3, 60)), 5), ValueError),
    (lambda: extraction.plausible_pool(data.credit_spec(), np.zeros((3, 61)), 0), ValueError),
    (lambda: extraction.bank.threshold_at_fpr([], 0.01), ValueError),
    (lambda: extraction.bank.threshold_at_fpr([0.1, 0.2], 1.5), ValueError),
])  # fmt: skip
def test_bad_arguments_are_refused(call, err):
    with pytest.raises(err):
        call()


# --------------------------------------------------------------- chapter 08's pool, sweeps, bank


@pytest.mark.parametrize("resample", [0, 1, 3, 20])
def test_plausible_pool_rows_are_valid_and_change_at_most_resample_features(german, resample):
    d, (_, (xte, _)) = german
    seeds = xte[:50].copy()
    pool = extraction.plausible_pool(d.spec, seeds, 300, resample=resample, seed=0)
    np.testing.assert_array_equal(seeds, xte[:50])  # the attacker's rows are not touched
    assert pool.shape == (300, d.spec.n_features)
    assert d.spec.validity(pool, pool).valid.all()
    # every row is some seed row with at most `resample` features changed
    changed = np.array([
        min(sum(not np.array_equal(r[list(f.columns)], s[list(f.columns)]) for f in d.spec.features)
            for s in seeds)
        for r in pool[:40]
    ])  # fmt: skip
    assert changed.max() <= resample
    if resample == 0:
        assert (changed == 0).all()


def test_threshold_at_fpr_flags_at_most_the_budget_and_is_tight():
    from modelsec_edu.extraction import bank

    rng = np.random.default_rng(0)
    for n, fpr in [(1000, 0.01), (999, 0.05), (50, 0.0), (10, 1.0)]:
        s = rng.random(n)
        t = bank.threshold_at_fpr(s, fpr)
        assert np.mean(s >= t) <= fpr
        lower = np.sort(s[s < t])
        if len(lower):  # the next lower candidate would flag too many
            assert np.mean(s >= lower[-1]) > fpr


def test_spread_monitor_flags_near_copies_and_combine_takes_the_earliest(german):
    d, (_, (xte, _)) = german
    rng = np.random.default_rng(0)
    calib = [xte[rng.choice(len(xte), 100, replace=False)] for _ in range(30)]
    mon = extraction.QueryMonitor(statistic="spread", warmup=10).calibrate(calib)
    near = extraction.plausible_pool(d.spec, xte[:10], 150, resample=1, seed=1)  # 10 seeds, reused
    assert mon.run([near]).rate(150) == 1.0
    a = extraction.MonitorResult(np.array([5, -1, 30]), [])
    b = extraction.MonitorResult(np.array([9, 7, -1]), [])
    np.testing.assert_array_equal(extraction.combine(a, b).alarm_at, [5, 7, 30])
    with pytest.raises(TypeError):
        extraction.combine(a, "b")


def test_rounding_sweep_is_exact_unrounded_and_worse_rounded(logistic, german):
    d, _ = german
    r = extraction.rounding_sweep(
        logistic.predict_proba, logistic.coef_[0], logistic.intercept_[0], d.x[:100],
        decimals=(None, 4, 1),
    )  # fmt: skip
    assert r.error[0] < 1e-9 and r.agreement[0] == 1.0
    assert r.error[1] > 1e3 * max(r.error[0], 1e-15) and r.error[2] > r.error[1]
    assert r.at(4) == (r.error[1], r.agreement[1])
    with pytest.raises(ValueError):
        r.at(7)


def test_budget_sweep_measures_each_budget_and_watches_the_largest(german, scorer):
    d, (_, (xte, _)) = german
    pool = extraction.plausible_pool(d.spec, xte[:50], 400, seed=0)
    mon = extraction.QueryMonitor(statistic="spread", warmup=5, threshold=-1.0)
    sweep = extraction.budget_sweep(
        scorer, pool, xte, budgets=[60, 20], seed=0, monitor=mon, strategy="random", steps=20,
        model_fn=lambda: privacy.tabular_mlp(61, 2, width=8, depth=1, seed=1),
    )  # fmt: skip
    np.testing.assert_array_equal(sweep.budgets, [20, 60])
    assert len(sweep.suspicion) == len(sweep.stream) == 60
    assert sweep.agreement.shape == (2,) and np.all((0 <= sweep.agreement) & (sweep.agreement <= 1))
    assert sweep.agreement[1] == extraction.agreement(sweep.copy, scorer, xte)
    assert sweep.at(59) == (sweep.agreement[0], sweep.suspicion[19])


def test_monitor_streams_calibrate_and_report_on_disjoint_applicants(german, scorer):
    d, ((xtr, ytr), (xte, yte)) = german
    cb = extraction.bank.CreditBank(d.spec, xtr, ytr, xte[:100], xte[100:], yte[100:], scorer)
    reference, calib, held = cb.monitor_streams(streams=5, length=50, seed=0)
    key = lambda x: {r.tobytes() for r in np.asarray(x)}  # noqa: E731
    ref, cal, new = key(reference), set().union(*map(key, calib)), set().union(*map(key, held))
    assert len(calib) == len(held) == 5 and all(len(s) == 50 for s in calib + held)
    assert not ref & cal and not ref & new and not cal & new
    assert new <= key(np.concatenate([cb.x_own, cb.x_eval]))
