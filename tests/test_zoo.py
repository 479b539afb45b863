"""zoo: trained on first use, then verified and loaded; a tampered file is refused, not replaced."""

import json

import keras
import numpy as np
import pytest

from modelsec_edu import models, zoo
from modelsec_edu.supply_chain import integrity


@pytest.fixture
def tiny(monkeypatch, digits):
    """A recipe that "trains" an MLP (one update: the cache logic is tested), counting its calls."""
    (x, y), _ = digits
    calls = []

    def train(xs, ys, settings, cache, progress, scratch):
        calls.append(settings)
        keras.utils.set_random_seed(0)
        model = models.compile_classifier(models.article_mlp())
        loss = model.train_on_batch(xs, ys, return_dict=True)["loss"]
        return model, {"loss": [loss]}

    monkeypatch.setitem(models.recipes.RECIPES, "tiny", {"epochs": 2})
    monkeypatch.setitem(models.recipes.QUICK_RECIPES, "tiny", {"epochs": 1})
    monkeypatch.setitem(zoo.RECIPES, "tiny", ("tiny", train))
    return x[:64], y[:64], calls


@pytest.mark.backend
def test_trains_once_then_loads_verified(tiny, tmp_path):
    x, y, calls = tiny
    first = zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    file = zoo.path("tiny", x, y, cache=tmp_path)
    assert file.suffix == ".keras" and file.is_file() and len(calls) == 1
    listed = integrity.read_manifest(tmp_path / "manifest.json")
    assert file.name in listed and file.with_suffix(".json").name in listed
    second = zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    assert len(calls) == 1, "the second call must load, not train"
    np.testing.assert_allclose(
        models.predict_logits(first, x), models.predict_logits(second, x), atol=1e-6
    )
    meta = zoo.info("tiny", x, y, cache=tmp_path)
    assert meta["name"] == "tiny" and meta["train_seconds"] > 0 and meta["n_train"] == 64
    assert len(meta["history"]["loss"]) == 1


@pytest.mark.parametrize("victim", [".keras", ".json"])
def test_a_tampered_file_is_refused_and_left_alone(tiny, tmp_path, victim):
    x, y, calls = tiny
    zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    file = zoo.path("tiny", x, y, cache=tmp_path).with_suffix(victim)
    with open(file, "ab") as f:
        f.write(b"tampered")
    evidence = file.read_bytes()
    call = zoo.get if victim == ".keras" else zoo.info
    with pytest.raises(integrity.IntegrityError, match="not loaded, retrained or replaced"):
        call("tiny", x, y, cache=tmp_path)
    assert file.read_bytes() == evidence and len(calls) == 1


def test_an_unlisted_file_is_refused(tiny, tmp_path):
    x, y, calls = tiny
    zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    manifest = tmp_path / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"].pop(zoo.path("tiny", x, y, cache=tmp_path).name)
    manifest.write_text(json.dumps(doc))
    with pytest.raises(integrity.IntegrityError, match="not listed"):
        zoo.get("tiny", x, y, cache=tmp_path)
    assert len(calls) == 1


def test_a_deleted_file_is_trained_again(tiny, tmp_path):
    x, y, calls = tiny
    zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    zoo.path("tiny", x, y, cache=tmp_path).unlink()
    zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    assert len(calls) == 2
    zoo.get("tiny", x, y, cache=tmp_path, progress=False)  # and the new file verifies
    assert len(calls) == 2


def test_the_file_name_follows_data_and_mode(tiny, tmp_path, monkeypatch):
    x, y, calls = tiny
    monkeypatch.setenv("MODELSEC_EDU_QUICK", "1")
    quick = zoo.path("tiny", x, y, cache=tmp_path)
    assert zoo.path("tiny", x, y, cache=tmp_path) == quick
    assert zoo.path("tiny", x[::-1], y[::-1], cache=tmp_path) != quick
    monkeypatch.setenv("MODELSEC_EDU_QUICK", "0")
    assert zoo.path("tiny", x, y, cache=tmp_path) != quick
    zoo.get("tiny", x, y, cache=tmp_path, progress=False)
    assert calls == [{"epochs": 2}]


def test_cache_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(zoo.CACHE_ENV, str(tmp_path / "models"))
    assert zoo.cache_dir() == tmp_path / "models"
    monkeypatch.delenv(zoo.CACHE_ENV)
    assert zoo.cache_dir().name == "models"


def test_unknown_or_uncached_names(tiny, tmp_path):
    x, y, _ = tiny
    with pytest.raises(ValueError, match="unknown model"):
        zoo.get("no_such_model", x, y, cache=tmp_path)
    with pytest.raises(FileNotFoundError, match="not cached"):
        zoo.info("tiny", x, y, cache=tmp_path)


def test_every_recipe_has_full_and_quick_settings():
    for name, (entry, train) in zoo.RECIPES.items():
        full = models.recipes.recipe(entry, quick=False)
        quick = models.recipes.recipe(entry, quick=True)
        assert full.keys() >= {"epochs"} and quick.keys() >= {"epochs"}, name
        assert quick["epochs"] <= full["epochs"] and callable(train), name
