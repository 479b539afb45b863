"""Chapter 04's checks: the library's own answer passes, each wrong answer fails."""

import numpy as np
import pytest

from modelsec_edu import models, poisoning
from modelsec_edu.exercises import ch04


def lib_badnets(x, y, target, rate, seed):
    return poisoning.badnets(x, y, target=target, rate=rate, seed=seed)


def lib_asr(model, x, y, target):
    return poisoning.backdoor_success_rate(model, x, y, target=target)


def lib_score(feats):
    centred = feats - feats.mean(axis=0)
    return (centred @ np.linalg.svd(centred, full_matrices=False)[2][0]) ** 2


def lib_pr(flagged, poison):
    r = poisoning.evaluate(flagged, poison, 500)
    return r["precision"], r["recall"]


def asr_with_target_class(model, x, y, target):
    return float(np.mean(models.predict_labels(model, poisoning.add_trigger(x)) == target))


def bad_trigger_in_place(x):
    x[:, :4, :4] = 1.0
    return x


def bad_badnets_keeps_label(x, y, target, rate, seed):
    xp, _, idx = poisoning.badnets(x, y, target=target, rate=rate, seed=seed)
    return xp, y.copy(), idx


def bad_badnets_any_class(x, y, target, rate, seed):
    idx = np.sort(np.random.default_rng(seed).choice(len(x), round(rate * len(x)), replace=False))
    xp, yp = x.copy(), y.copy()
    xp[idx], yp[idx] = poisoning.add_trigger(x[idx]), target
    return xp, yp, idx


CASES = [
    (
        "trigger",
        ch04.check_add_trigger,
        poisoning.add_trigger,
        [
            bad_trigger_in_place,
            lambda x: x.copy(),
            lambda x: poisoning.add_trigger(x, pattern="square"),
        ],
    ),
    ("badnets", ch04.check_badnets, lib_badnets, [bad_badnets_keeps_label, bad_badnets_any_class]),
    ("asr", ch04.check_asr, lib_asr, [asr_with_target_class, lambda m, x, y, t: 0.5]),
    (
        "spectral",
        ch04.check_spectral_score,
        lib_score,
        [
            lambda f: (f @ np.linalg.svd(f, full_matrices=False)[2][0]) ** 2,
            lambda f: np.linalg.norm(f - f.mean(0), axis=1),
        ],
    ),
    (
        "precision_recall",
        ch04.check_precision_recall,
        lib_pr,
        [lambda f, p: lib_pr(f, p)[::-1], lambda f, p: (1.0, 1.0)],
    ),
]


@pytest.mark.parametrize(("name", "check", "right", "wrongs"), CASES, ids=[c[0] for c in CASES])
def test_function_checks(name, check, right, wrongs):
    assert check(right) is True
    for wrong in wrongs:
        assert check(wrong) is False
    assert check(...) is False


def test_a_failing_function_is_reported_not_raised(capsys):
    assert ch04.check_add_trigger(lambda x: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "right", "wrong"),
    [(ch04.check_review, "b", ["a", "c", "z"]), (ch04.check_provenance, "c", ["a", "b"])],
)
def test_choices_explain_wrong_options(capsys, check, right, wrong):
    assert check(right) is True
    for w in wrong:
        capsys.readouterr()
        assert check(w) is False
        assert len(capsys.readouterr().out) > 40


def test_spectral_recall_is_recomputed():
    rng = np.random.default_rng(0)
    feats, labels = rng.normal(size=(200, 6)), rng.integers(0, 3, 200)
    idx = np.flatnonzero(labels == 0)[:8]
    feats[idx] += 4
    eps = len(idx) / np.sum(labels == 0) / 1.5
    want = poisoning.evaluate(
        poisoning.spectral_signatures(feats, labels, eps=eps).flagged, idx, 200
    )["recall"]
    assert ch04.check_spectral_recall(want, feats, labels, idx, 0) is True
    assert ch04.check_spectral_recall(want - 0.2, feats, labels, idx, 0) is False
