"""The shipped models: verified before each load, used in the default mode, retrained on request."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from modelsec_edu import models, zoo
from modelsec_edu.supply_chain import integrity, signing
from modelsec_edu.zoo import shipped

NAMES = shipped.names()
CARD_KEYS = {
    "name",
    "settings",
    "data",
    "seed",
    "n_train",
    "train_seconds",
    "machine",
    "figures",
    "saved_keras",
    "history",
    "trained_by",
}
needs_models = pytest.mark.skipif(not NAMES, reason="no shipped models in this checkout")


@pytest.fixture()
def full_mode(monkeypatch):
    monkeypatch.setenv("MODELSEC_EDU_QUICK", "0")


@pytest.fixture()
def copy(monkeypatch, tmp_path):
    """A private copy of the shipped folder, so a test can tamper with it."""
    if not NAMES:
        pytest.skip("no shipped models in this checkout")
    folder = tmp_path / "weights"
    shutil.copytree(shipped.FOLDER, folder)
    monkeypatch.setattr(shipped, "FOLDER", folder)
    monkeypatch.setattr(shipped, "_checked", {})
    return folder


def _no_training(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("trained although a shipped model exists")

    for name in NAMES:
        entry, _ = zoo.RECIPES[name]
        monkeypatch.setitem(zoo.RECIPES, name, (entry, refuse))


@needs_models
def test_every_shipped_file_is_listed_small_and_described():
    listed = integrity.read_manifest(shipped.FOLDER / shipped.MANIFEST)
    on_disk = {f.name for f in shipped.FOLDER.iterdir()} - {
        shipped.MANIFEST,
        shipped.SIGNATURE,
        shipped.PUBLIC_KEY,
    }
    assert on_disk == set(listed), "every shipped file has a digest, every digest a file"
    size = sum(f.stat().st_size for f in shipped.FOLDER.iterdir())
    assert size <= 15e6, f"shipped weights are {size / 1e6:.1f} MB, over the 15 MB budget"
    for name in NAMES:
        assert name in zoo.RECIPES
        rec = shipped.record(name)
        assert CARD_KEYS <= rec.keys(), (name, CARD_KEYS - rec.keys())
        assert rec["saved_keras"] == "3.13.2", f"{name} must be saved by the oldest supported Keras"
        assert zoo.saved_by(shipped.FOLDER / f"{name}.keras") == "3.13.2"
        assert rec["data"] in shipped.card(name).read_text(encoding="utf-8")


@needs_models
def test_the_default_mode_hands_out_the_shipped_model_without_training(
    full_mode, monkeypatch, capsys
):
    _no_training(monkeypatch)
    name = NAMES[0]
    x = np.zeros((4, 28, 28, 1), "float32")
    model = zoo.get(name, x, np.zeros(4, "int64"))
    out = capsys.readouterr().out
    assert f"zoo: {name} is the course's shipped model" in out and "retrain=True" in out
    assert "Your own data may differ" in out
    assert zoo.info(name, x, np.zeros(4, "int64")) == shipped.record(name)
    reference = keras.saving.load_model(shipped.FOLDER / f"{name}.keras", safe_mode=True)
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@needs_models
def test_quick_mode_and_retrain_train_instead_and_say_how_long_first(
    full_mode, monkeypatch, tmp_path, capsys
):
    name = NAMES[0]
    calls = []

    def tiny(x, y, s, cache, progress, scratch):
        calls.append(s)
        model = models.compile_classifier(models.article_mlp())
        return model, {"loss": [1.0]}

    entry, _ = zoo.RECIPES[name]
    full = models.recipes.recipe(entry, quick=False)
    monkeypatch.setitem(zoo.RECIPES, name, (entry, tiny))
    x, y = np.zeros((8, 28, 28, 1), "float32"), np.arange(8) % 10
    zoo.get(name, x, y, cache=tmp_path, retrain=True, progress=False)
    out = capsys.readouterr().out
    assert calls == [full]
    assert f"zoo: training {name} on your 8 images" in out and "expect about" in out
    monkeypatch.setenv("MODELSEC_EDU_QUICK", "1")
    assert not zoo.uses_shipped(name)
    monkeypatch.setenv("MODELSEC_EDU_QUICK", "0")
    monkeypatch.setenv(zoo.RETRAIN_ENV, "1")
    assert not zoo.uses_shipped(name)
    with pytest.raises(TypeError, match="retrain"):
        zoo.get(name, x, y, retrain="yes")


def test_the_estimate_scales_with_epochs_when_the_recipe_changed_since_the_card():
    name = next(
        n for n in NAMES if isinstance(shipped.record(n).get("settings", {}).get("epochs"), int)
    )
    doc = shipped.record(name)
    shipped_epochs, n = doc["settings"]["epochs"], int(doc["n_train"])
    same = shipped.estimate(name, {"epochs": shipped_epochs}, n)
    double = shipped.estimate(name, {"epochs": 2 * shipped_epochs}, n)
    assert " now)" not in same
    assert f"in {shipped_epochs} epochs ({2 * shipped_epochs} now)" in double

    def minutes_of(text):
        return text.split("expect about ")[1].split(" (")[0]

    assert minutes_of(double) == shipped.minutes(2 * doc["train_seconds"])
    assert minutes_of(same) == shipped.minutes(doc["train_seconds"])


@pytest.mark.parametrize("victim", ["keras", "json"])
def test_a_tampered_shipped_file_is_refused_and_never_loaded(full_mode, copy, monkeypatch, victim):
    _no_training(monkeypatch)
    name = NAMES[0]
    file = copy / f"{name}.{victim}"
    integrity.flip_file_bit(file, file.with_suffix(".tmp"), bit=8 * (file.stat().st_size // 2))
    file.with_suffix(".tmp").replace(file)
    with pytest.raises(integrity.IntegrityError, match="Reinstall" if victim == "keras" else None):
        (zoo.get if victim == "keras" else zoo.info)(name)


def test_a_shipped_folder_without_its_signature_is_refused(full_mode, copy, monkeypatch):
    _no_training(monkeypatch)
    (copy / shipped.SIGNATURE).unlink()
    with pytest.raises(integrity.IntegrityError, match="no signature"):
        zoo.get(NAMES[0])


def test_a_rewritten_manifest_fails_its_signature_or_says_it_was_not_checked(copy, capsys):
    """Someone re-records a changed file in the manifest: only the signature can catch that."""
    name = NAMES[0]
    rec = copy / f"{name}.json"
    rec.write_text(rec.read_text(encoding="utf-8") + " ", encoding="utf-8")
    integrity.record(rec, copy / shipped.MANIFEST, replace=True)
    if signing.available():
        with pytest.raises(integrity.IntegrityError):
            shipped.verify()
    else:
        assert "signature was not" in shipped.verify()
        assert "pip install modelsec-edu[signing]" in capsys.readouterr().out


@needs_models
def test_shipped_classifiers_reach_the_accuracy_their_cards_give(real_mnist):
    _, (x, y) = real_mnist
    checked = 0
    for name in NAMES:
        figures = shipped.record(name)["figures"]
        key = "clean test accuracy (2,000 images)"
        if key not in figures:
            continue
        model = zoo.load(*shipped.files(name))
        assert models.accuracy(model, x, y) == pytest.approx(figures[key], abs=1e-3), name
        checked += 1
    if not checked:
        pytest.skip("no shipped classifier carries a clean-accuracy figure")


def test_shipped_records_are_json_objects():
    for name in NAMES:
        assert isinstance(json.loads((shipped.FOLDER / f"{name}.json").read_text()), dict)
