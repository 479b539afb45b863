"""Calibration, abstention, coverage against risk and the vote, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from modelsec_edu.models import reliability as rel


def _probs(rng, n=400, k=4):
    z = rng.normal(size=(n, k)) * 3
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def test_perfectly_calibrated_predictions_have_small_ece():
    rng = np.random.default_rng(0)
    p = _probs(rng, 20000)
    # draw labels from the model's own probabilities: calibrated by construction
    y = np.array([rng.choice(4, p=row) for row in p])
    assert rel.expected_calibration_error(p, y, bins=10) < 0.03


def test_overconfident_predictions_have_large_ece():
    p = np.tile([0.97, 0.01, 0.01, 0.01], (100, 1))
    y = np.array([0] * 60 + [1] * 40)
    assert rel.expected_calibration_error(p, y) == pytest.approx(0.97 - 0.6, abs=1e-9)


def test_reliability_bins_count_everything():
    rng = np.random.default_rng(1)
    p = _probs(rng)
    y = rng.integers(0, 4, len(p))
    d = rel.reliability_diagram(p, y, bins=7)
    assert d.counts.sum() == len(p) and len(d.edges) == 8
    seen = d.counts > 0
    assert np.all(
        (d.confidence[seen] >= d.edges[:-1][seen] - 1e-12)
        & (d.confidence[seen] <= d.edges[1:][seen] + 1e-12)
    )


def test_abstain_refuses_exactly_below_threshold():
    p = np.array([[0.9, 0.1], [0.55, 0.45], [0.3, 0.7]])
    np.testing.assert_array_equal(rel.abstain(p, threshold=0.6), [0, -1, 1])
    np.testing.assert_array_equal(rel.abstain(p, threshold=0.0), [0, 0, 1])


def test_risk_coverage_is_consistent_with_abstention():
    rng = np.random.default_rng(2)
    p = _probs(rng)
    y = rng.integers(0, 4, len(p))
    curve = rel.risk_coverage(p, y)
    assert curve.coverage[-1] == 1.0
    assert curve.risk[-1] == pytest.approx(np.mean(p.argmax(1) != y))
    assert np.all(np.diff(curve.threshold) <= 0), "most confident first"
    t = rel.threshold_for_coverage(p, 0.5)
    answered = rel.abstain(p, threshold=t) >= 0
    assert answered.mean() >= 0.5
    err = rel.error_at_coverage(p, y, 0.5)
    k = int(np.ceil(0.5 * len(p)))
    top = np.argsort(-p.max(1), kind="stable")[:k]
    assert err == pytest.approx(np.mean(p[top].argmax(1) != y[top]))


def test_confidence_that_tracks_errors_lowers_risk():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 1000)
    wrong = rng.random(1000) < 0.2
    pred = np.where(wrong, (y + 1) % 3, y)
    conf = np.where(wrong, 0.5, 0.9)
    p = np.full((1000, 3), 0.0)
    p[np.arange(1000), pred] = conf
    p[np.arange(1000), (pred + 1) % 3] = 1 - conf
    assert rel.error_at_coverage(p, y, 0.8) < rel.error_at_coverage(p, y, 1.0) / 2


def test_vote():
    # two frames lean weakly to 0, one is sure of 1: the majority and the mean disagree
    frames = np.array([[0.6, 0.4], [0.1, 0.9], [0.7, 0.3]])
    assert rel.vote(frames, method="majority") == (0, pytest.approx(2 / 3))
    label, conf = rel.vote(frames)
    assert label == 1 and conf == pytest.approx(1.6 / 3)


BAD = {
    "not probabilities": (lambda: rel.abstain(np.array([[0.5, 0.7]]), threshold=0.5), ValueError),
    "threshold > 1": (lambda: rel.abstain(np.array([[0.5, 0.5]]), threshold=1.5), ValueError),
    "threshold str": (lambda: rel.abstain(np.array([[0.5, 0.5]]), threshold="0.5"), TypeError),
    "labels out of range": (
        lambda: rel.risk_coverage(np.array([[0.5, 0.5]]), np.array([2])),
        ValueError,
    ),
    "float labels": (lambda: rel.risk_coverage(np.array([[0.5, 0.5]]), np.array([0.0])), TypeError),
    "coverage 0": (
        lambda: rel.error_at_coverage(np.array([[0.5, 0.5]]), np.array([0]), 0.0),
        ValueError,
    ),
    "vote method": (lambda: rel.vote(np.array([[0.5, 0.5]]), method="max"), ValueError),
    "bins 0": (
        lambda: rel.reliability_diagram(np.array([[0.5, 0.5]]), np.array([0]), bins=0),
        ValueError,
    ),
}


@pytest.mark.parametrize("call,error", BAD.values(), ids=BAD.keys())
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("error,coverage", [(0.0, 0.95), (0.03, 0.95), (0.3, 0.95), (0.5, 0.6)])
def test_best_error_at_coverage_is_what_refusing_only_wrong_answers_leaves(error, coverage):
    n = 2000
    wrong = np.zeros(n, dtype=bool)
    wrong[: int(round(error * n))] = True
    k = int(round(coverage * n))
    kept = np.sort(wrong)[:k]  # refuse the wrong answers first
    best = rel.best_error_at_coverage(error, coverage)
    assert best == pytest.approx(kept.mean(), abs=1e-3)
    assert 0.0 <= best <= error


def test_plot_calibration_draws_both_panels_and_the_bound():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(1)
    p = _probs(rng)
    y = p.argmax(1)
    y[:40] = (y[:40] + 1) % 4
    fig = rel.plot_calibration({"a": p, "b": p[::-1]}, y, bound="a")
    left, right = fig.axes
    assert len(left.lines) == 3 and len(right.lines) == 4  # 2 curves + diagonal; 2 + bound + 95%
    assert "synthetic" in left.get_title() and "synthetic" in right.get_title()
    with pytest.raises(ValueError):
        rel.plot_calibration({"a": p}, y, bound="c")
    with pytest.raises(TypeError):
        rel.plot_calibration([p], y)
