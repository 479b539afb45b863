"""bench/adversarial_training.py's cost bookkeeping: the trade-off rows' training cost.

The zoo's recorded training seconds were timed at loads from 2 to 28, so the bench measures
each recipe's steady epoch itself; these tests drive that arithmetic with stand-in trainers on a
fake clock (set-up and tracing that must cancel, epochs that must scale), not real training.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from modelsec_edu import models, zoo


@pytest.fixture(scope="module")
def at(bench_module):
    return bench_module("adversarial_training")


def fake_zoo(at, monkeypatch, per_epoch: dict[str, float], setup: float = 7.0):
    """Stand-in trainers: ``setup`` seconds once per call, then ``per_epoch[name]`` an epoch."""
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(at.time, "perf_counter", lambda: clock.now)

    def trainer(name):
        def train(x, y, s, cache, progress, scratch):
            assert s.get("warmup_epochs", 0) == 0  # the ramp is off: it changes eps, not work
            clock.now += setup + per_epoch[name] * s["epochs"]
            return None, {}

        return train

    recipes = {name: (zoo.RECIPES[name][0], trainer(name)) for name in per_epoch}
    monkeypatch.setattr(zoo, "RECIPES", recipes)


def test_an_epoch_is_measured_without_its_set_up(at, monkeypatch):
    fake_zoo(at, monkeypatch, {"small_cnn_pgd": 3.0})
    x, y = np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, "int64")
    assert at.epoch_seconds("small_cnn_pgd", x, y, cache=None, repeats=3) == pytest.approx(3.0)


def test_costs_scale_each_recipe_by_its_epochs_and_add_the_generator(at, monkeypatch):
    per_epoch = {
        "small_cnn": 1.0,
        "small_cnn_pgd": 11.0,
        "small_cnn_cgan": 2.0,
        "cgan_generator": 5.0,
        "article_mlp": 0.5,
        "article_mlp_article": 1.5,
        "dcgan_generator": 4.0,
    }
    fake_zoo(at, monkeypatch, per_epoch)
    epochs = {k: models.recipes.recipe(zoo.RECIPES[k][0], quick=False)["epochs"] for k in per_epoch}
    x, y = np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, "int64")
    keys = ["small_cnn", "small_cnn_pgd", "small_cnn_cgan", "article_mlp", "article_mlp_article"]
    costs = at.training_costs(keys, x, y, cache=None)

    def full(k):
        return per_epoch[k] * epochs[k]

    assert set(costs) == {"small_cnn_pgd", "small_cnn_cgan", "article_mlp_article"}
    assert costs["small_cnn_pgd"] == pytest.approx(full("small_cnn_pgd") / full("small_cnn"))
    want = (full("small_cnn_cgan") + full("cgan_generator")) / full("small_cnn")
    assert costs["small_cnn_cgan"] == pytest.approx(want)
    want = (full("article_mlp_article") + full("dcgan_generator")) / full("article_mlp")
    assert costs["article_mlp_article"] == pytest.approx(want)


def test_every_generator_named_is_a_zoo_recipe(at):
    assert set(at.GENERATORS.values()) <= set(zoo.RECIPES)
    assert {at.family(k) for k in at.GENERATORS} <= set(at.PLAIN)


def test_rows_take_the_worst_case_and_the_measured_cost(at, monkeypatch):
    written = []
    fake = types.ModuleType("_record")
    fake.record = lambda bench, rows: written.extend(rows)
    monkeypatch.setitem(sys.modules, "_record", fake)

    def figures(label, worst):
        return {"label": label, "clean": 0.98, "pgd": 0.5, "worst_case": worst, "n_worst": 2000}

    results = {
        "small_cnn": figures("plain CNN", None),
        "small_cnn_pgd": figures("PGD-AT", 0.86),
        "small_cnn_trades": figures("TRADES", 0.9),  # no cost measured: no row
    }
    at.record_rows(results, {"small_cnn_pgd": 9.46}, n_test=2000)
    rows = {r["defence"]: r for r in written}
    assert set(rows) == {"none (plain CNN)", "PGD-AT"}
    assert rows["none (plain CNN)"]["cost"] == 1.0
    assert rows["none (plain CNN)"]["attacked"] == 0.5  # PGD-40 where no worst case was run
    assert rows["PGD-AT"]["attacked"] == 0.86 and rows["PGD-AT"]["cost"] == 9.46
    assert "2000 images" in rows["PGD-AT"]["attack"]
