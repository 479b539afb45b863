import numpy as np
import pytest

from modelsec_edu import poisoning as det


@pytest.fixture(scope="module")
def planted():
    """Three Gaussian classes; class 0 also holds 40 planted poisons in a tight, distant cluster."""
    rng = np.random.default_rng(0)
    d, n = 16, 200
    feats, labels = [], []
    for c in range(3):
        centre = rng.normal(0, 5, d)
        feats.append(rng.normal(centre, 1.0, (n, d)))
        labels.append(np.full(n, c))
    poison = rng.normal(feats[0].mean(0) + 6.0, 0.3, (40, d))
    feats = np.concatenate([*feats, poison])
    labels = np.concatenate([*labels, np.zeros(40, int)])
    order = rng.permutation(len(feats))
    poison_idx = np.flatnonzero(order >= 3 * n)  # where the planted rows ended up
    return feats[order], labels[order], poison_idx


def test_activation_clustering_finds_the_planted_poisons(planted):
    feats, labels, poison_idx = planted
    found = det.activation_clustering(feats, labels)
    assert found.classes == [0]
    report = det.evaluate(found.flagged, poison_idx, len(labels))
    assert report["recall"] >= 0.95 and report["precision"] >= 0.95
    assert found.details[0]["relative_size"] <= 0.35
    assert all(found.details[c]["relative_size"] > 0.35 for c in (1, 2))


def test_exclusionary_reclassification_keeps_poisons_and_clears_a_clean_subpopulation():
    """Class 0 holds poisons whose *inputs* look like class 2; class 1 a small, genuine subgroup."""
    rng = np.random.default_rng(1)
    d = 12
    centres = rng.normal(0, 6, (3, d))
    x_parts, labels = [], []
    for c in range(3):
        x_parts.append(rng.normal(centres[c], 1.0, (200, d)))
        labels.append(np.full(200, c))
    sub = centres[1] + 3.0  # a second way of writing a 1: its own cluster, still near the 1s
    x_parts.append(rng.normal(sub, 0.5, (50, d)))
    labels.append(np.full(50, 1))
    x_parts.append(rng.normal(centres[2], 1.0, (40, d)))  # poisons: 2s relabelled 0
    labels.append(np.zeros(40, int))
    x, labels = np.concatenate(x_parts), np.concatenate(labels)
    feats = x.copy()
    feats[-40:] = rng.normal(
        centres[0] + 8.0, 0.3, (40, d)
    )  # in feature space the poisons sit apart, in class 0
    poison_idx = np.arange(len(x) - 40, len(x))
    candidates = det.activation_clustering(feats, labels)
    assert set(candidates.classes) == {0, 1}  # size alone also suspects the genuine subgroup
    confirmed = det.exclusionary_reclassification(candidates, x, labels)
    assert confirmed.classes == [0]
    assert confirmed.details[1]["label_share"] > confirmed.details[1]["top_other_share"]
    report = det.evaluate(confirmed.flagged, poison_idx, len(labels))
    assert report["recall"] == 1.0 and report["clean_flagged"] == 0.0


def test_spectral_signatures_rank_the_planted_poisons_first(planted):
    feats, labels, poison_idx = planted
    share = 40 / 240  # the poisoned share of class 0
    found = det.spectral_signatures(
        feats, labels, eps=share / 1.5
    )  # removes exactly that many per class
    in_class0 = found.flagged[labels[found.flagged] == 0]
    assert len(np.intersect1d(in_class0, poison_idx)) >= 0.9 * 40
    clean = np.setdiff1d(np.flatnonzero(labels == 0), poison_idx)
    assert found.scores[poison_idx].min() > np.median(found.scores[clean])


def test_spectral_removes_the_same_share_of_every_class(planted):
    feats, labels, _ = planted
    found = det.spectral_signatures(feats, labels, eps=0.1)
    counts = np.bincount(labels[found.flagged], minlength=3)
    np.testing.assert_array_equal(counts, [round(0.15 * np.sum(labels == c)) for c in range(3)])
    assert len(det.spectral_signatures(feats, labels, eps=0.0).flagged) == 0


@pytest.mark.parametrize(
    ("flagged", "poison", "expected"),
    [
        ([0, 1, 2], [0, 1, 2], {"precision": 1.0, "recall": 1.0, "clean_flagged": 0.0}),
        ([0, 1, 5, 6], [0, 1, 2, 3], {"precision": 0.5, "recall": 0.5, "clean_flagged": 2 / 6}),
        ([], [0, 1], {"precision": 1.0, "recall": 0.0, "clean_flagged": 0.0}),
        ([4, 5], [], {"precision": 0.0, "recall": 1.0, "clean_flagged": 0.2}),
    ],
)
def test_evaluate(flagged, poison, expected):
    report = det.evaluate(flagged, poison, 10)
    for key, value in expected.items():
        assert report[key] == pytest.approx(value)


def test_sanitize_drops_exactly_the_flagged_samples():
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    xk, yk, keep = det.sanitize(x, y, [1, 4, 4, 9])
    np.testing.assert_array_equal(keep, [0, 2, 3, 5, 6, 7, 8])
    np.testing.assert_array_equal(yk, keep)
    np.testing.assert_array_equal(xk, x[keep])
    assert not np.shares_memory(xk, x)
    with pytest.raises(ValueError, match="indices"):
        det.sanitize(x, y, [10])


def test_sanitize_reads_a_boolean_mask_as_a_mask_not_as_indices_0_and_1():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    mask = np.zeros(10, bool)
    mask[[2, 7]] = True
    _, _, keep = det.sanitize(x, y, mask)
    np.testing.assert_array_equal(keep, [0, 1, 3, 4, 5, 6, 8, 9])
    with pytest.raises(ValueError, match="flagged"):
        det.sanitize(x, y, mask[:5])  # a mask of the wrong length is refused
    with pytest.raises(TypeError, match="flagged"):
        det.sanitize(x, y, [1.0, 2.0])  # float "indices" are refused, not truncated


@pytest.mark.backend
def test_features_are_the_penultimate_activations(trained_mlp, digits):
    import keras

    (x, _), _ = digits
    feats = det.features(trained_mlp, x[:50])
    assert feats.shape == (50, 64)
    head = trained_mlp.layers[-1]
    logits = keras.ops.convert_to_numpy(head(feats))
    np.testing.assert_allclose(
        logits, keras.ops.convert_to_numpy(trained_mlp(x[:50])), rtol=1e-4, atol=1e-4
    )
    assert det.features(trained_mlp, x[:5], layer=trained_mlp.layers[1].name).shape == (5, 64)
    with pytest.raises(ValueError, match="unknown layer"):
        det.features(trained_mlp, x[:5], layer="no_such_layer")
    with pytest.raises(ValueError, match="layer must be an int"):
        det.features(trained_mlp, x[:5], layer=12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda f, y: det.spectral_signatures(f, y, eps=0.9), "eps"),
        (lambda f, y: det.activation_clustering(f, y, max_size=0.6), "max_size"),
        (lambda f, y: det.activation_clustering(f[:, 0], y), "features must have 2 dimensions"),
        (lambda f, y: det.spectral_signatures(f, y[:-1]), "labels"),
    ],
)
def test_bad_detector_input(planted, call, match):
    feats, labels, _ = planted
    with pytest.raises(ValueError, match=match):
        call(feats, labels)


def test_projection_2d(planted):
    feats, _, _ = planted
    z = det.projection_2d(feats)
    assert z.shape == (len(feats), 2)
    assert z[:, 0].var() >= z[:, 1].var()
